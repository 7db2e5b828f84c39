"""Connect to the Dask cluster the chapters run on.

By default an embedded ``LocalCluster`` sized for a laptop or a 2 GB Binder pod; when
``DISTLAB_SCHEDULER`` (or Dask's own ``DASK_SCHEDULER_ADDRESS``) is set, the scheduler it
names instead, so the same notebooks run unchanged on a multi-machine Dask cluster.
"""
from __future__ import annotations

import logging
import os
import socket
import struct
import time

import dask
from distributed import Client
from distributed.diagnostics.plugin import WorkerPlugin

from distlab import checks
from distlab.engines import dask_private
from distlab.engines.workers import check_client

__all__ = ["DEFAULT_WORKERS", "DEFAULT_MEMORY_LIMIT", "DEFAULT_TIMEOUT", "scheduler_address",
           "connect", "is_embedded", "describe"]

#: Two worker processes with one thread each: real inter-process traffic on 2 cores.
DEFAULT_WORKERS = 2
#: Per worker. Two workers plus the kernel and scheduler stay well inside a 2 GB pod.
DEFAULT_MEMORY_LIMIT = "512MiB"
#: The least memory a worker process needs to start and run a task.
MIN_MEMORY_LIMIT = 64 * 2**20
#: Seconds to wait for an external scheduler before giving up.
DEFAULT_TIMEOUT = 10.0


def scheduler_address() -> str | None:
    """The external scheduler to use, if one is configured, else ``None``. Raises
    nothing."""
    return (os.environ.get("DISTLAB_SCHEDULER")
            or dask.config.get("scheduler-address", None)
            or None)


def connect(address: str | None = None, *, n_workers: int = DEFAULT_WORKERS,
            memory_limit: str = DEFAULT_MEMORY_LIMIT,
            timeout: float = DEFAULT_TIMEOUT) -> Client:
    """Return a ``distributed.Client`` for the chapters.

    ``address`` (or ``DISTLAB_SCHEDULER`` / ``DASK_SCHEDULER_ADDRESS``) names an external
    scheduler such as ``"tcp://10.0.0.5:8786"``; without one, an embedded ``LocalCluster``
    of ``n_workers`` worker processes with one thread each is started, owned by the client:
    ``client.close()`` (or leaving a ``with`` block) shuts it down.

    ``n_workers``: an int in [1, 64]; ``memory_limit``: per worker, a size of at least
    64 MiB such as ``"512MiB"`` (``dask.utils.parse_bytes``), a number of bytes, or
    ``"auto"``;
    ``timeout``: seconds > 0 to reach an external scheduler, handshake included. Raises
    ``TypeError`` / ``ValueError`` naming a bad argument (checked before anything
    starts), ``ConnectionError`` naming the address when no Dask scheduler answers there
    within ``timeout`` (a silent port, a closed one, or another kind of service).
    """
    if address is not None and not isinstance(address, str):
        raise TypeError(f"address must be a string such as 'tcp://127.0.0.1:8786', "
                        f"not {type(address).__name__}")
    if address is not None and not address.strip():
        raise ValueError(f"address must name a scheduler such as 'tcp://127.0.0.1:8786' "
                         f"(or be None for the default), got {address!r}")
    n_workers = checks.count("n_workers", n_workers, minimum=1, maximum=64)
    _check_memory_limit(memory_limit)
    timeout = checks.positive("timeout", timeout)

    address = address or scheduler_address()
    if address:
        if not address.strip():
            raise ValueError("address must not be blank")
        where = ("(set by the address argument, DISTLAB_SCHEDULER or DASK_SCHEDULER_ADDRESS); "
                 "start one with `dask scheduler`, or unset the variable to use the "
                 "embedded cluster")
        try:
            _probe(address, timeout)
            return Client(address, timeout=timeout, set_as_default=True)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(f"no Dask scheduler answered at {address!r} within "
                                  f"{timeout:g} s: {exc} {where}") from exc

    _require_main_guard()
    # Passing the cluster's arguments to Client (rather than a LocalCluster object) makes
    # the client own the cluster, so closing the client closes it. Without the workers'
    # statistical profiler, which samples the running task's stack every 10 ms: on two
    # cores it made a CPU-bound task 15-25 % slower (the dashboard's Profile page is empty).
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        return _embedded(n_workers, memory_limit)


def _check_memory_limit(memory_limit) -> None:
    """A worker's memory limit as LocalCluster takes it: "auto", a size string, or bytes."""
    from dask.utils import parse_bytes

    if isinstance(memory_limit, bool) or not isinstance(memory_limit, (str, int)):
        raise TypeError(f"memory_limit must be a size such as '512MiB' or a number of bytes, "
                        f"got {type(memory_limit).__name__} {memory_limit!r}")
    if memory_limit == "auto":
        return
    try:
        size = parse_bytes(memory_limit) if isinstance(memory_limit, str) else memory_limit
    except (ValueError, TypeError):
        size = None
    if isinstance(memory_limit, str) and not memory_limit.strip():
        size = None
    if size is None or size < MIN_MEMORY_LIMIT:
        raise ValueError(f"memory_limit must be a size of at least 64 MiB such as '512MiB', "
                         f"'auto' or a number of bytes, got {memory_limit!r}")


def _require_main_guard() -> None:
    """Stop a script that starts the embedded cluster outside ``if __name__ == "__main__":``.

    Dask starts worker processes with multiprocessing's "spawn" method, which re-imports
    the main script in every new process (Python docs, multiprocessing, "Safe importing of
    main module"). Unguarded, each worker would run ``connect()`` again and fail, printing
    hundreds of lines of tracebacks with the one useful sentence buried in the middle. The
    call site is found in the script's own syntax tree, before any process starts, and the
    script stops with that sentence alone (``SystemExit`` prints just its message).
    """
    import ast
    import inspect
    import sys

    for frame_info in inspect.stack()[2:]:
        frame = frame_info.frame
        name = frame.f_globals.get("__name__")
        if name == "__mp_main__":           # a spawned process re-importing the script
            break
        if name != "__main__" or frame.f_code.co_name != "<module>":
            continue
        spec = frame.f_globals.get("__spec__")
        if spec is not None and spec.name.endswith("__main__"):
            return                           # `python -m pkg`: spawn does not re-run it
        path = frame.f_globals.get("__file__")
        if not path or not os.path.isfile(path):
            return                           # an interactive session or a notebook
        tree = ast.parse(open(path, encoding="utf-8").read())
        line = frame.f_lineno
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) \
                    and node.lineno <= line <= (node.end_lineno or node.lineno):
                return
        break
    else:
        return
    raise SystemExit('distlab.connect() starts Dask worker processes, which re-import this '
                     'script: put the script\'s code under `if __name__ == "__main__":`')


def _probe(address: str, timeout: float) -> None:
    """Fail fast, naming what is wrong, unless a Dask scheduler speaks at ``address``.

    ``Client(address, timeout=...)`` bounds the TCP connect but not Dask's handshake: a
    port that accepts and never answers blocks it indefinitely, and a non-Dask service's
    reply is read as a frame length (an HTTP server gave ``MemoryError: Unable to allocate
    3.07 EiB``). A Dask server writes its handshake first, as 8-byte little-endian lengths
    (message, frame count, frame) and a msgpack frame (distributed's TCP comm), so reading
    16 bytes tells the two apart without sending anything. ``tls://`` and other transports
    are left to Dask.
    """
    scheme, _, rest = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return
    host, _, port = rest.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"address must look like 'tcp://HOST:PORT', got {address!r}")
    deadline = time.monotonic() + timeout
    with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)),
                                  timeout=timeout) as sock:
        header = b""
        while len(header) < 16:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(16 - len(header))
            except socket.timeout:
                raise TimeoutError(f"{address} accepted a connection but sent no Dask "
                                   f"handshake within {timeout:g} s") from None
            if not chunk:
                raise ConnectionError(f"{address} closed the connection without a Dask "
                                      "handshake")
            header += chunk
    length, frames = struct.unpack("<QQ", header)
    if not (0 < frames < 64 and length < 2**20):
        raise ConnectionError(f"the service at {address} is not a Dask scheduler (it "
                              f"answered {header[:8]!r}…)")


def _embedded(n_workers: int, memory_limit) -> Client:
    client = Client(address=None, n_workers=n_workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address="127.0.0.1:0",
                    memory_limit=memory_limit,
                    # CRITICAL: a worker's routine complaint while the cluster shuts down (a
                    # missed heartbeat) would otherwise land in the notebook's output;
                    # task errors still reach the client as exceptions.
                    silence_logs=logging.CRITICAL)
    try:
        _count_memory_above_footprint(client)
    except BaseException:
        client.close()
        raise
    return client


#: Dask's thresholds on a worker's process memory, as fractions of its memory limit
#: (distributed's "Worker memory management" documentation), by memory manager attribute.
_WORKER_THRESHOLDS = {"memory_target_fraction": "target", "memory_spill_fraction": "spill",
                      "memory_pause_fraction": "pause"}


def _footprint() -> int:
    """Runs on a worker: its resident memory in bytes (RSS, what Dask's thresholds read)."""
    import psutil
    return psutil.Process().memory_info().rss


def _shifted(key: str, footprint: int, limit) -> float | bool:
    """Dask's fraction for ``key``, moved up by ``footprint`` bytes of a ``limit``."""
    base = dask.config.get(f"distributed.worker.memory.{key}")
    return base if base is False or not limit else base + footprint / limit


class MemoryAboveFootprint(WorkerPlugin):
    """Counts a worker's memory thresholds from what the worker holds when it starts.

    Dask spills a worker's data to disk, pauses it, and has its nanny restart it when
    its whole resident memory passes 70 %, 80 % and 95 % of its memory limit. A worker
    started by ``connect()`` in a script re-imports that script (multiprocessing's
    "spawn": Python docs, "Safe importing of main module"), so ``import torch`` at the top
    of the script puts torch into every worker: 62 → 242 MiB resident at start here.
    With the default 512 MiB that left one 64 MiB input and its result no room: the
    workers spilled the inputs, paused, and once were restarted, and a 64 MiB all-reduce
    took 2–3× as long (tests/time_torch_workers.py). With this plugin, installed on every
    worker (a restarted one too), each threshold lies Dask's fraction of the limit
    *above* the worker's footprint at start, so the room for data is the same whatever
    the script imports. The limit itself is unchanged.
    """
    name = "distlab-memory-above-footprint"

    def setup(self, worker):
        manager = dask_private.memory_manager(worker)
        footprint = _footprint()
        for attribute, key in _WORKER_THRESHOLDS.items():
            setattr(manager, attribute, _shifted(key, footprint, manager.memory_limit))


def _count_memory_above_footprint(client: Client) -> None:
    """Install :class:`MemoryAboveFootprint` on the embedded cluster's workers and move
    their nannies' restart threshold alike (the nannies live in this process; a nanny
    keeps its threshold when it restarts its worker)."""
    client.register_plugin(MemoryAboveFootprint())
    footprints = client.run(_footprint)
    for address, manager in dask_private.nanny_memory_managers(client).items():
        footprint = footprints.get(address)
        if footprint is not None:
            manager.memory_terminate_fraction = _shifted(
                "terminate", footprint, manager.memory_limit)


def is_embedded(client: Client) -> bool:
    """True when ``client`` owns an embedded ``LocalCluster``. Raises ``TypeError`` /
    ``ValueError`` for a bad or closed ``client`` (:func:`~distlab.engines.workers.check_client`)."""
    return check_client(client).cluster is not None


def describe(client: Client) -> str:
    """One deterministic line saying what ``client`` is connected to. Raises
    ``TypeError`` / ``ValueError`` for a bad or closed ``client``
    (:func:`~distlab.engines.workers.check_client`)."""
    workers = check_client(client).nthreads()   # asks the scheduler, unlike a cached scheduler_info()
    threads = sorted(set(workers.values()))
    threads_text = "/".join(map(str, threads)) or "0"
    where = "embedded LocalCluster" if is_embedded(client) else \
        f"Dask scheduler at {dask_private.scheduler_address(client)}"
    return (f"{where}: {len(workers)} worker processes × {threads_text} "
            f"thread{'s' if threads != [1] else ''}")
