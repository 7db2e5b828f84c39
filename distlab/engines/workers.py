"""The cluster's workers: check a client, list its workers, pin work to one, kill one.

One home for what every module that runs on the cluster needs, so that each of these is
written once, with the robust version everywhere (a kill that checks its address and
waits for the scheduler, a worker list that asks the scheduler rather than a cache).
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from contextlib import contextmanager

from distributed import Client

from distlab import checks

__all__ = ["check_client", "worker_addresses", "submit_on", "kill_worker", "wait_for_workers"]

#: The most workers :func:`wait_for_workers` waits for: more than any cluster this book
#: runs on; a larger count is a mistake that would only wait out the timeout.
MAX_WORKERS = 4096


def check_client(client, name: str = "client") -> Client:
    """``client`` if it is an open ``distributed.Client``.

    Raises ``TypeError`` for anything else (``None``, an address string) and
    ``ValueError`` for a closed client (a cell re-run after the chapter's last one).
    """
    if not isinstance(client, Client):
        raise TypeError(f"{name} must be a distributed.Client (from distlab.connect()), "
                        f"got {type(client).__name__}")
    if client.status in ("closing", "closed"):
        raise ValueError(f"the {name} is closed: run `distlab.connect()` again")
    return client


def worker_addresses(client, *, at_least: int = 1) -> list[str]:
    """The workers' addresses, sorted. Raises ``RuntimeError`` with fewer than ``at_least``.

    ``client.nthreads()`` asks the scheduler; ``client.scheduler_info()`` may return the
    client's cache, which Dask's periodic refresh can leave without workers.

    Raises ``TypeError`` / ``ValueError`` for a bad ``client`` (:func:`check_client`) or
    ``at_least`` (an int in [0, :data:`MAX_WORKERS`]).
    """
    at_least = checks.count("at_least", at_least, maximum=MAX_WORKERS,
                            limit="more workers than any cluster this book runs on")
    workers = sorted(check_client(client).nthreads())
    if len(workers) < at_least:
        raise RuntimeError(f"the cluster has {len(workers)} worker(s); this needs at least "
                           f"{at_least}")
    return workers


def submit_on(client, func, *args, worker: str, strict: bool = False, **kwargs):
    """``client.submit(func, *args)`` pinned to ``worker``, never cached (``pure=False``).

    A loose pin (the default) lets the task run elsewhere if its worker has died, instead
    of waiting forever; ``strict=True`` keeps it on that worker (bytes must move there).

    Raises ``TypeError`` / ``ValueError`` for a bad ``client`` (:func:`check_client`), a
    ``func`` that is not callable, a ``worker`` that is not an address string or a
    ``strict`` that is not a bool (cheap checks: this runs once per task).
    """
    check_client(client)
    if not callable(func):
        raise TypeError(f"func must be callable, got {type(func).__name__}")
    checks.text("worker", worker)
    checks.flag("strict", strict)
    return client.submit(func, *args, workers=[worker], allow_other_workers=not strict,
                         pure=False, **kwargs)


def _kill_self_soon() -> None:
    """Runs on a worker: SIGKILL its own process a moment later (after ``client.run`` has
    had its answer), as an out-of-memory kill or a crash would."""
    threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGKILL)).start()


@contextmanager
def _quiet_scheduler():
    """On the embedded cluster the scheduler runs in this process and logs a loss as a
    warning; the chapters print the scheduler's structured records instead."""
    logger = logging.getLogger("distributed.scheduler")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def kill_worker(client, address: str, *, timeout: float = 60.0,
                wait_for_replacement: bool = True) -> None:
    """SIGKILL the worker process at ``address``; return once the scheduler has removed it
    and (``wait_for_replacement``) its Nanny has brought the cluster back to its size.

    Raises ``TypeError`` / ``ValueError`` for a bad ``client`` (:func:`check_client`),
    ``timeout`` (a finite number of seconds > 0) or ``wait_for_replacement`` (a bool),
    ``ValueError`` if ``address`` is not one of the cluster's workers (at once, not
    after a timeout) and ``TimeoutError`` if the scheduler does not notice the loss, or
    the cluster does not get its worker back, within ``timeout`` seconds.

    An embedded ``LocalCluster`` gives up on a worker whose replacement has not joined
    when a grace period (``distributed.deploy.lost-worker-timeout``, 15 s) runs out; kills
    in quick succession could land in that window, so it is lengthened during the kill.
    """
    import dask

    checks.text("address", address)
    timeout = checks.positive("timeout", timeout)
    checks.flag("wait_for_replacement", wait_for_replacement)
    before = worker_addresses(client)
    if address not in before:
        raise ValueError(f"address must be one of the cluster's workers {before}; "
                         f"got {address!r}")
    deadline = time.monotonic() + timeout
    with _quiet_scheduler(), dask.config.set({"distributed.deploy.lost-worker-timeout": "1h"}):
        client.run(_kill_self_soon, workers=[address])
        while address in client.nthreads():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the scheduler still lists the killed worker {address} "
                                   f"after {timeout:g} s")
            time.sleep(0.02)
        if wait_for_replacement:
            wait_for_workers(client, len(before), timeout=max(0.1, deadline - time.monotonic()))


def wait_for_workers(client, n: int, *, timeout: float = 60.0) -> None:
    """Wait until the cluster has ``n`` workers (a Nanny restarting a killed one).

    Raises ``TypeError`` / ``ValueError`` for a bad ``client`` (:func:`check_client`),
    ``n`` (an int in [1, :data:`MAX_WORKERS`]) or ``timeout`` (a finite number of seconds
    > 0), and ``TimeoutError`` naming ``n`` and what is there when ``timeout`` runs out.
    """
    check_client(client)
    n = checks.count("n", n, minimum=1, maximum=MAX_WORKERS, limit="more workers than any "
                     "cluster this book runs on")
    timeout = checks.positive("timeout", timeout)
    try:
        client.wait_for_workers(n, timeout=timeout)
    except TimeoutError:
        raise TimeoutError(f"the cluster did not get back to {n} workers within "
                           f"{timeout:g} s (it has {len(client.nthreads())}; is every "
                           f"worker run by a Nanny?)") from None
