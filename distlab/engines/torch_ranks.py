"""Spawning torch.distributed ranks: one gloo process group over loopback, and its end.

:func:`_launch` starts ``world_size`` fresh interpreters (``spawn``, as
``torch.multiprocessing.spawn`` and ``torchrun`` do), each of which joins the group
through a TCP store on 127.0.0.1 (:func:`_rank_main`), runs the jobs it was given and
reports every step to the parent through a queue. The parent draws the progress, and on
any failure reports the first cause (not the peers' echoes of it), kills the ranks that
are left (they would wait forever in a collective) and joins every process before it
returns. :func:`distlab.engines.torch_gloo.run_ranks` checks the jobs and calls it.

Source: PyTorch docs, "Distributed communication package — torch.distributed"
(initialisation, ``new_group``, ``destroy_process_group``).
"""
from __future__ import annotations

import os
import queue as _queue
import socket
import time
import traceback

from distlab import checks

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nobody listens on right now on ``host`` (an IPv4 address or name
    of this machine; the OS picks the port). Raises ``TypeError`` / ``ValueError`` naming
    ``host`` when it is not a string or not an address this machine can listen on."""
    checks.text("host", host)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, 0))
        except OSError as exc:
            raise ValueError(f"host must be an address of this machine, got {host!r}: "
                             f"{exc}") from None
        return s.getsockname()[1]


def _loopback_interface() -> str | None:
    """The loopback interface's name ("lo" on Linux, "lo0" on macOS), for gloo."""
    try:
        names = [name for _, name in socket.if_nameindex()]
    except (OSError, AttributeError):
        return None
    for name in ("lo", "lo0"):
        if name in names:
            return name
    return None



def _rank_main(rank: int, world_size: int, port: int, jobs, results, spawned_at) -> None:
    """The body of every spawned process: join the group, run the jobs, leave the group.
    ``jobs``: ``(name, function, kwargs, ranks)`` tuples, checked by the caller.
    A job meant for the first n < world_size ranks runs in a subgroup of those ranks; the
    others skip it (creating a subgroup is collective, so every rank takes part in that).
    Each finished step is reported to the parent (its progress bar)."""
    try:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        interface = _loopback_interface()
        if interface and "GLOO_SOCKET_IFNAME" not in os.environ:
            os.environ["GLOO_SOCKET_IFNAME"] = interface   # talk over loopback only
        import torch
        import torch.distributed as dist

        torch.set_num_threads(1)              # one core per rank, like a Dask worker
        start = time.perf_counter()
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}",
                                rank=rank, world_size=world_size)
        try:
            out = {"init_s": time.perf_counter() - start,
                   "startup_s": time.time() - spawned_at}
            results.put((rank, "step", "group formed"))
            subgroups = {}
            for name, function, kwargs, n in jobs:
                if n < world_size and n not in subgroups:
                    subgroups[n] = dist.new_group(list(range(n)))
                if rank < n:
                    begin = time.perf_counter()
                    out[name] = function(rank, n, group=subgroups.get(n), **kwargs)
                    out.setdefault("job_s", {})[name] = time.perf_counter() - begin
                    results.put((rank, "step", name))
            dist.barrier()
        finally:
            dist.destroy_process_group()
        results.put((rank, "ok", out))
    except BaseException:                     # report it to the parent, whatever it was
        results.put((rank, "error", traceback.format_exc()))


class _PortTaken(RuntimeError):
    """Rank 0 could not listen on the port chosen: try once more with a new one."""


def _launch(jobs, world_size: int, timeout: float, bar=None) -> list[dict]:
    """Run ``jobs`` on ``world_size`` spawned ranks; each rank's results, in rank order.
    Raises ``_PortTaken`` if rank 0 could not listen on the port (try again),
    ``RuntimeError`` with the failing rank's traceback, ``TimeoutError`` after
    ``timeout`` seconds. ``bar``: a progress bar with ``update(steps done)``."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    port = free_port()
    spawned_at = time.time()
    processes = [context.Process(target=_rank_main,
                                 args=(r, world_size, port, jobs, results, spawned_at),
                                 name=f"torch-rank-{r}", daemon=True)
                 for r in range(world_size)]
    for p in processes:
        p.start()
    answers, done, failed = {}, 0, True
    deadline = time.monotonic() + timeout
    try:
        while len(answers) < world_size:
            try:
                rank, status, payload = results.get(timeout=0.2)
            except _queue.Empty:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the {world_size} PyTorch ranks did not finish "
                                       f"within {timeout:g} s") from None
                dead = [p for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"PyTorch rank process {dead[0].name} died with exit "
                                       f"code {dead[0].exitcode}") from None
                continue
            if status == "error":
                rank, payload = _first_cause(rank, payload, results)
                if "EADDRINUSE" in payload or "Address already in use" in payload:
                    raise _PortTaken(payload)
                raise RuntimeError(f"PyTorch rank {rank} failed:\n{payload}")
            if status == "step":
                done += 1
                if bar is not None:
                    bar.update(done)
                continue
            answers[rank] = payload
        failed = False
    finally:
        if failed:                           # the others may wait forever in a collective
            for p in processes:
                if p.is_alive():
                    p.kill()
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()
        results.close()
        results.join_thread()
    return [answers[r] for r in range(world_size)]


_ECHOES = ("Connection closed by peer", "Connection reset by peer")


def _first_cause(rank, payload, results, wait: float = 1.0):
    """When one rank fails, its peers' collectives fail next ("connection closed by
    peer"); their reports may even arrive first. Collect the errors for a moment and
    report the one that is not such an echo."""
    errors = [(rank, payload)]
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            r, status, text = results.get(timeout=0.05)
        except _queue.Empty:
            continue
        if status == "error":
            errors.append((r, text))
    causes = [e for e in errors if not any(echo in e[1] for echo in _ECHOES)]
    return (causes or errors)[0]
