"""All-reduce called from inside the workers: one rank per worker, every rank running the
same function (SPMD), as MPI, gloo and ``torch.distributed`` are used.

    from distlab.engines.spmd import run_ranks

    def train(group, steps):
        w = np.zeros(10)
        for _ in range(steps):
            w -= 0.1 * group.allreduce(local_gradient(w))   # every rank, in step
        return w

    weights = run_ranks(client, train, 100)                  # one result per rank

``allreduce(values, client=c)`` is driven by the client: each call is a client → workers
→ client round trip, plus registering the results with the scheduler; at 8 KiB that costs
more than the all-reduce itself. Inside :func:`run_ranks` a rank calls
:meth:`Group.allreduce` on its own array: the same plans and the same worker-to-worker
messages as the fast direct engine (:mod:`~distlab.engines.direct_fast`), with no client,
no scheduler and no futures in the way. Like MPI, every rank must call the same
collectives in the same order, with arrays of one shape.
"""
from __future__ import annotations

import time
import uuid

import numpy as np

from distlab import checks
from distlab.concepts.gossip import DEFAULT_TOLERANCE
from distlab.engines import dask_private
from distlab.engines.algorithms import check_algorithm, check_options
from distlab.engines.direct_call import install
from distlab.engines.direct_fast import FastDirectPlugin, runner_of
from distlab.engines.direct_fast_plan import plan_from, plan_spec
from distlab.engines.inputs import as_node_array, working_dtype
from distlab.engines.workers import submit_on, worker_addresses


class Group:
    """The ranks of one :func:`run_ranks` call, as seen by rank ``rank``. ``bytes_sent``
    counts what this rank has sent so far."""

    def __init__(self, rank: int, peers: list[str], group_id: str, timeout: float):
        self.rank = rank
        self.peers = list(peers)
        self.id = group_id
        self.timeout = timeout
        self.bytes_sent = 0
        self._calls = 0

    @property
    def size(self) -> int:
        return len(self.peers)

    def allreduce(self, value, algorithm: str = "ring", *,
                  tolerance: float = DEFAULT_TOLERANCE, seed: int = 0,
                  self_weight: float = 0.5) -> np.ndarray:
        """The mean of every rank's ``value`` (a number or an array of one shape on every
        rank), as a new array; ``value`` is not modified. Blocks until this rank's part of
        the plan is done; a rank that waits longer than the group's timeout for a message
        raises instead of hanging, and a failure on one rank fails the call on all."""
        from distributed import get_worker

        call = f"{self.id}-{self._calls}"             # the same on every rank: SPMD order
        self._calls += 1
        worker = get_worker()
        runner = runner_of(worker)
        try:
            check_algorithm(algorithm)
            check_options(tolerance, seed, self_weight)
            array = as_node_array(value, "value")
        except (TypeError, ValueError) as exc:         # the other ranks must not wait
            dask_private.run_on_worker_loop(worker, runner.abort_everywhere, call,
                                            self.peers, f"rank {self.rank}: {exc}")
            raise
        plan = plan_from(plan_spec(algorithm, self.size, tolerance, seed, self_weight))
        result, sent, _ = dask_private.run_on_worker_loop(
            worker, runner.run_rank, call, plan, self.rank, array, self.peers,
            working_dtype([array.dtype]), array.shape, self.timeout)
        self.bytes_sent += sent
        return result

    def barrier(self) -> None:
        """Returns on every rank only once every rank has called it."""
        self.allreduce(np.zeros(1), "recursive_doubling")

    def __repr__(self) -> str:
        return f"<distlab Group: rank {self.rank} of {self.size}>"


def _rank_main(fn, group, args, kwargs):
    return fn(group, *args, **kwargs)


def run_ranks(client, fn, *args, workers=None, timeout: float = 60.0, **kwargs) -> list:
    """Run ``fn(group, *args, **kwargs)`` on each of ``workers`` at once (default: every
    worker, sorted by address), one rank per worker, rank i on ``workers[i]``; return
    each rank's result, in rank order (a rank's exception is raised here). ``fn`` is
    pickled as Dask pickles any task: by value when defined in a notebook or script, by
    name when imported from a module the workers can import. ``timeout``: seconds a rank
    waits for one message before failing."""
    if not callable(fn):
        raise TypeError(f"fn must be a function taking the group first, got "
                        f"{type(fn).__name__}")
    timeout = checks.positive("timeout", timeout)
    available = worker_addresses(client)
    if workers is None:
        workers = available
    if isinstance(workers, str) or not hasattr(workers, "__iter__"):
        raise TypeError("workers must be a list of worker addresses, one per rank")
    workers = list(workers)
    if not workers:
        raise ValueError("workers must name at least one worker (the cluster has none?)")
    if len(set(workers)) != len(workers) or not set(workers) <= set(available):
        raise ValueError("workers must be distinct workers of this cluster, one per rank")
    install(client, FastDirectPlugin())
    group_id = uuid.uuid4().hex
    futures = [submit_on(client, _rank_main, fn, Group(rank, workers, group_id, timeout),
                         args, kwargs, worker=w, strict=True, key=f"rank-{rank}-{group_id}")
               for rank, w in enumerate(workers)]
    return client.gather(futures)


def time_allreduce(group: Group, n_bytes: int, algorithm: str, repeats: int) -> list[float]:
    """This rank's seconds of each of ``repeats`` calls on a float64 vector of ``n_bytes``
    (after one warm-up), every call started together (a barrier), as
    :func:`distlab.engines.torch_gloo.time_allreduce` times gloo. Take the slowest rank's time per
    call, then the median."""
    x = np.full(max(1, n_bytes // 8), float(group.rank))
    group.allreduce(x, algorithm)
    times = []
    for _ in range(repeats):
        group.barrier()
        start = time.perf_counter()
        group.allreduce(x, algorithm)
        times.append(time.perf_counter() - start)
    return times
