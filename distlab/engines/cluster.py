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

from distlab import checks
from distlab.engines import dask_private

#: Two worker processes with one thread each: real inter-process traffic on 2 cores.
DEFAULT_WORKERS = 2
#: Per worker. Two workers plus the kernel and scheduler stay well inside a 2 GB pod.
DEFAULT_MEMORY_LIMIT = "512MiB"
#: Seconds to wait for an external scheduler before giving up.
DEFAULT_TIMEOUT = 10.0


def scheduler_address() -> str | None:
    """The external scheduler to use, if one is configured, else ``None``."""
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
    """
    if address is not None and not isinstance(address, str):
        raise TypeError(f"address must be a string such as 'tcp://127.0.0.1:8786', "
                        f"not {type(address).__name__}")
    n_workers = checks.count("n_workers", n_workers, minimum=1, maximum=64)
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
    return Client(address=None, n_workers=n_workers, threads_per_worker=1, processes=True,
                  host="127.0.0.1", dashboard_address="127.0.0.1:0", memory_limit=memory_limit,
                  # CRITICAL: a worker's routine complaint while the cluster shuts down (a
                  # missed heartbeat) would otherwise land in the notebook's output;
                  # task errors still reach the client as exceptions.
                  silence_logs=logging.CRITICAL)


def is_embedded(client: Client) -> bool:
    """True when ``client`` owns an embedded ``LocalCluster``."""
    return client.cluster is not None


def describe(client: Client) -> str:
    """One deterministic line saying what ``client`` is connected to."""
    workers = client.nthreads()   # asks the scheduler, unlike a cached scheduler_info()
    threads = sorted(set(workers.values()))
    threads_text = "/".join(map(str, threads)) or "0"
    where = "embedded LocalCluster" if is_embedded(client) else \
        f"Dask scheduler at {dask_private.scheduler_address(client)}"
    return (f"{where}: {len(workers)} worker processes × {threads_text} "
            f"thread{'s' if threads != [1] else ''}")
