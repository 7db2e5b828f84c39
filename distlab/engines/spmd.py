"""Collectives called from inside the workers: one rank per worker, every rank running the
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
more than the all-reduce itself. Inside :func:`run_ranks` a rank calls the :class:`Group`'s
collectives on its own arrays: the plans of :mod:`distlab.concepts.plans` run on the same
worker-to-worker messages as the fast direct engine (:mod:`~distlab.engines.direct_fast`),
with no client, no scheduler and no futures in the way. Like MPI, every rank must call the
same collectives in the same order, with arrays of one shape.

The collectives (bytes sent per rank for n bytes, p ranks dividing n):

=======================  ============================================  ================
call                     what every rank gets                          bytes sent
=======================  ============================================  ================
``allreduce(x)``         the mean (``op="sum"``: the sum) of all x     2(p−1)/p·n ring
``reduce_scatter(x)``    its shard of the mean (or sum) of all x       (p−1)/p·n
``all_gather(shard)``    every rank's shard, in one vector             (p−1)/p·n
``broadcast(x, root)``   the root's x                                  (p−1)/p·n, root 2×
``send(x, dst)``         (``dst``'s ``recv(like, src)`` returns x)     n, by the sender
=======================  ============================================  ================

A rank's shard of an n-element vector is chunk ``ring_shard(rank, p)`` = (rank + 1) mod p
of ``numpy.array_split``'s cut, where the ring leaves it (:meth:`Group.shard_bounds`).
``reduce_scatter`` returns the **mean** by default, like ``allreduce``, so data-parallel
code can swap one for the other; ``op="sum"`` gives the sum (tensor parallelism adds
partial products).

Failure: bad input on one rank fails that collective on every rank (the others raise
``Aborted`` naming the rank and the reason); a rank that waits longer than ``timeout`` for
a message raises ``TimeoutError``; a rank whose function raises ends the collectives the
others may be waiting in, so the whole :func:`run_ranks` call fails within moments and
the workers are free for the next one.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import replace
from functools import lru_cache

import numpy as np
from distributed import wait

from distlab import checks
from distlab.concepts import plans
from distlab.concepts.gossip import DEFAULT_TOLERANCE
from distlab.concepts.kernel import block_bounds
from distlab.engines import dask_private
from distlab.engines.algorithms import (EXACT_ALGORITHMS, _check_options, check_algorithm,
    make_plan)
from distlab.engines.direct_call import Aborted, install
from distlab.engines.direct_fast import FastDirectPlugin, runner_of
from distlab.engines.direct_fast_plan import PlanOnWorker, plan_from, plan_spec
from distlab.engines.inputs import as_node_array, working_dtype
from distlab.engines.workers import submit_on, worker_addresses

__all__ = ["OPS", "Group", "check_group", "run_ranks", "time_allreduce"]

OPS = ("mean", "sum")
#: The most bytes :func:`time_allreduce` sends per call, and the most calls it times:
#: beyond them a timing would exhaust a worker's memory or run for hours.
MAX_TIMED_BYTES = 256 * 2**20
MAX_TIMED_REPEATS = 1000


@lru_cache(maxsize=128)
def _plan(kind: str, p: int, *args) -> PlanOnWorker:
    """A collective's plan with each node's steps worked out once per worker."""
    if kind == "sum":                          # an all-reduce without the final division
        return PlanOnWorker(replace(make_plan(args[0], p), divide_by=None))
    return PlanOnWorker(getattr(plans, kind)(p, *args))


class Group:
    """The ranks of one :func:`run_ranks` call, as seen by rank ``rank``. ``bytes_sent``
    counts what this rank has sent so far. Built by :func:`run_ranks` (its arguments are
    not checked here); each collective checks its own arguments and raises
    ``TypeError`` / ``ValueError`` naming them, on every rank."""

    def __init__(self, rank: int, peers: list[str], group_id: str, timeout: float):
        self.rank = rank
        self.peers = list(peers)
        self.id = group_id
        self.timeout = timeout
        self.bytes_sent = 0
        self._calls = 0
        self._messages: dict[tuple[int, int], int] = {}     # (src, dst) → messages so far

    @property
    def size(self) -> int:
        return len(self.peers)

    # ---- running a plan
    def _start(self, call: str, check):
        """``check()``'s value; when it raises, this rank's bad input first ends ``call``
        on every rank (the others must not wait for it)."""
        try:
            return check()
        except (TypeError, ValueError) as exc:
            self._abort([call], f"rank {self.rank}: {exc}")
            raise

    def _run(self, call: str, plan: PlanOnWorker, array: np.ndarray):
        """This rank's part of ``plan`` on ``array``, on the fast direct engine: its
        result (``array``'s shape, the working dtype), and the bytes it sent counted."""
        from distributed import get_worker

        worker = get_worker()
        result, sent, _ = dask_private.run_on_worker_loop(
            worker, runner_of(worker).run_rank, call, plan, self.rank, array, self.peers,
            working_dtype([array.dtype]), array.shape, self.timeout)
        self.bytes_sent += sent
        return result

    def _collective(self) -> str:
        call = f"{self.id}-{self._calls}"             # the same on every rank: SPMD order
        self._calls += 1
        return call

    def _message(self, src: int, dst: int) -> str:
        k = self._messages.get((src, dst), 0)         # the same on both ends of the pair
        self._messages[(src, dst)] = k + 1
        return f"{self.id}-p2p-{src}-{dst}-{k}"

    def _abort(self, calls, reason: str) -> None:
        from distributed import get_worker

        worker = get_worker()
        runner = runner_of(worker)
        for call in calls:
            dask_private.run_on_worker_loop(worker, runner.abort_everywhere, call,
                                            self.peers, reason)

    # ---- the collectives
    def allreduce(self, value, algorithm: str = "ring", *, op: str = "mean",
                  tolerance: float = DEFAULT_TOLERANCE, seed: int = 0,
                  self_weight: float = 0.5) -> np.ndarray:
        """The mean (``op="sum"``: the sum, exact algorithms only) of every rank's
        ``value`` (a number or an array of one shape on every rank), as a new array;
        ``value`` is not modified. Blocks until this rank's part of the plan is done."""
        call = self._collective()

        def check():
            check_algorithm(algorithm)
            _check_options(tolerance, seed, self_weight)
            checks.choice("op", op, OPS)
            if op == "sum" and algorithm not in EXACT_ALGORITHMS:
                raise ValueError(f"op='sum' needs an exact algorithm "
                                 f"({', '.join(EXACT_ALGORITHMS)}), got {algorithm!r}")
            return as_node_array(value, "value")
        array = self._start(call, check)
        plan = (plan_from(plan_spec(algorithm, self.size, tolerance, seed, self_weight))
                if op == "mean" else _plan("sum", self.size, algorithm))
        return self._run(call, plan, array)

    def shard_bounds(self, n: int) -> tuple[int, int]:
        """``(lo, hi)``: this rank's shard of an ``n``-element vector, chunk
        ``ring_shard(rank, p)`` of ``numpy.array_split``'s cut (where the ring leaves it)."""
        bounds = block_bounds(checks.count("n", n), self.size)
        chunk = plans.ring_shard(self.rank, self.size)
        return int(bounds[chunk]), int(bounds[chunk + 1])

    def reduce_scatter(self, value, *, op: str = "mean") -> np.ndarray:
        """This rank's shard (1-D, :meth:`shard_bounds` of the flattened ``value``) of the
        mean, or with ``op="sum"`` the sum, of every rank's ``value``: the ring's first
        p − 1 rounds, (p−1)/p·n bytes sent. A fresh array, the shard only."""
        call = self._collective()

        def check():
            checks.choice("op", op, OPS)
            return as_node_array(value, "value").reshape(-1)
        array = self._start(call, check)
        full = self._run(call, _plan("reduce_scatter", self.size, op == "mean"), array)
        lo, hi = self.shard_bounds(full.size)
        return full[lo:hi].copy()                     # keep the shard, not the buffer

    def all_gather(self, shard, n: int | None = None) -> np.ndarray:
        """The ``n``-element vector (default: p × the shard's size) made of every rank's
        ``shard``, each at its :meth:`shard_bounds`: the ring's last p − 1 rounds,
        (p−1)/p·n bytes sent. ``ValueError`` when ``shard`` is not this rank's size."""
        call = self._collective()

        def check():
            array = as_node_array(shard, "shard").reshape(-1)
            total = array.size * self.size if n is None else checks.count("n", n)
            lo, hi = self.shard_bounds(total)
            if array.size != hi - lo:
                raise ValueError(f"shard must hold rank {self.rank}'s {hi - lo} elements "
                                 f"of n = {total}, got {array.size}")
            full = np.zeros(total, working_dtype([array.dtype]))
            full[lo:hi] = array
            return full
        return self._run(call, _plan("all_gather", self.size), self._start(call, check))

    def broadcast(self, value, root: int = 0) -> np.ndarray:
        """Rank ``root``'s ``value`` on every rank (every rank passes an array of that
        shape; only the root's values matter): scatter, then all-gather."""
        call = self._collective()

        def check():
            return (plans.check_node("root", root, self.size), as_node_array(value, "value"))
        root, array = self._start(call, check)
        return self._run(call, _plan("broadcast", self.size, root), array)

    def _peer(self, name: str, rank) -> int:
        """Another rank of the group (nothing to abort when it is not: no rank can be
        waiting for a message to or from a rank that is not there)."""
        rank = plans.check_node(name, rank, self.size)
        if rank == self.rank:
            raise ValueError(f"{name} must be another rank than this one ({self.rank})")
        return rank

    def send(self, value, dst: int) -> None:
        """Send ``value`` to rank ``dst``, which must :meth:`recv` it (messages between
        two ranks arrive in the order sent). Returns once the message has left."""
        dst = self._peer("dst", dst)
        call = self._message(self.rank, dst)
        array = self._start(call, lambda: as_node_array(value, "value"))
        self._run(call, _plan("point_to_point", self.size, self.rank, dst), array)

    def recv(self, like, src: int) -> np.ndarray:
        """The next array rank ``src`` sends this rank, of ``like``'s shape and dtype
        (``like``: an array, or ``(shape, dtype)``)."""
        src = self._peer("src", src)
        call = self._message(src, self.rank)

        def check():
            shape, dtype = like if isinstance(like, tuple) else (np.shape(like),
                                                                 np.asarray(like).dtype)
            return np.zeros(shape, working_dtype([np.dtype(dtype)]))
        template = self._start(call, check)
        return self._run(call, _plan("point_to_point", self.size, src, self.rank), template)

    def barrier(self) -> None:
        """Returns on every rank only once every rank has called it."""
        self.allreduce(np.zeros(1), "recursive_doubling")

    def _abandon(self, reason: str) -> None:
        """This rank's function failed: end every call another rank may wait in for it
        (the next collective, the next message each way with every rank), and drop the
        messages already delivered to this worker for this group."""
        from distributed import get_worker

        others = [r for r in range(self.size) if r != self.rank]
        pending = [f"{self.id}-{self._calls}"] + [
            f"{self.id}-p2p-{a}-{b}-{self._messages.get((a, b), 0)}"
            for r in others for a, b in ((self.rank, r), (r, self.rank))]
        self._abort(pending, reason)
        wire = runner_of(get_worker()).wire

        async def drop():
            for key in [k for k in wire.slots if str(k[0]).startswith(self.id)]:
                wire.slots.pop(key)
        dask_private.run_on_worker_loop(get_worker(), drop)

    def __repr__(self) -> str:
        return f"<distlab Group: rank {self.rank} of {self.size}>"


def check_group(group) -> Group:
    """``group`` if it is a :class:`Group` (what :func:`run_ranks` passes a rank's
    function first); ``TypeError`` otherwise: a rank function called outside
    :func:`run_ranks`."""
    if not isinstance(group, Group):
        raise TypeError("group must be the Group that run_ranks passes to each rank, got "
                        f"{type(group).__name__}; run the function with run_ranks")
    return group


def _rank_main(fn, group, args, kwargs):
    try:
        return fn(group, *args, **kwargs)
    except BaseException as exc:                 # the other ranks must not wait for us
        try:
            group._abandon(f"rank {group.rank} failed: {type(exc).__name__}: {exc}")
        except Exception:                        # e.g. no worker: the first error matters
            pass
        raise


def run_ranks(client, fn, *args, workers=None, timeout: float = 60.0, **kwargs) -> list:
    """Run ``fn(group, *args, **kwargs)`` on each of ``workers`` at once (default: every
    worker, sorted by address), one rank per worker, rank i on ``workers[i]``; return
    each rank's result, in rank order (a failed rank's exception is raised here: the
    first that is not an :class:`Aborted` echo of another rank's failure). ``fn`` is
    pickled as Dask pickles any task: by value when defined in a notebook or script, by
    name when imported from a module the workers can import. ``timeout``: seconds a rank
    waits for one message before failing.

    Raises ``TypeError`` / ``ValueError`` naming a bad argument (``client`` an open
    ``distributed.Client``: "the client is closed" after ``client.close()``; ``fn``
    callable; ``workers`` distinct addresses of this cluster; ``timeout`` a finite number
    of seconds > 0), ``RuntimeError`` when the cluster has no worker, and the first
    failed rank's exception."""
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
    if not all(isinstance(w, str) for w in workers):
        raise TypeError("workers must be a list of worker addresses (strings), one per rank")
    if not workers:
        raise ValueError("workers must name at least one worker (the cluster has none?)")
    if len(set(workers)) != len(workers) or not set(workers) <= set(available):
        raise ValueError("workers must be distinct workers of this cluster, one per rank")
    install(client, FastDirectPlugin())
    group_id = uuid.uuid4().hex
    futures = [submit_on(client, _rank_main, fn, Group(rank, workers, group_id, timeout),
                         args, kwargs, worker=w, strict=True, key=f"rank-{rank}-{group_id}")
               for rank, w in enumerate(workers)]
    try:
        pending = list(futures)          # until every rank is done, or one has failed:
        while pending and not any(f.status == "error" for f in futures):
            wait(pending, return_when="FIRST_COMPLETED")     # a rank on a killed worker
            pending = [f for f in pending if f.status == "pending"]   # never ends
        if any(f.status == "error" for f in futures):
            try:         # a moment for the cause: the first error may be an Aborted echo
                wait(futures, timeout=1.0)
            except TimeoutError:
                pass
            failed = [f for f in futures if f.status == "error"]
            causes = [f for f in failed if not isinstance(f.exception(), Aborted)]
            (causes or failed)[0].result()
        return client.gather(futures)
    finally:                             # nothing of a failed run stays on the cluster
        if any(f.status != "finished" for f in futures):
            client.cancel(futures)


def time_allreduce(group: Group, n_bytes: int, algorithm: str, repeats: int) -> list[float]:
    """This rank's seconds of each of ``repeats`` calls on a float64 vector of ``n_bytes``
    (after one warm-up), every call started together (a barrier), as
    :func:`distlab.engines.torch_gloo.time_allreduce` times gloo. Take the slowest rank's time per
    call, then the median. A rank's job, for :func:`run_ranks`: ``n_bytes`` an int in
    [1, :data:`MAX_TIMED_BYTES`], ``algorithm`` one of ``ALGORITHMS``, ``repeats`` in [1,
    :data:`MAX_TIMED_REPEATS`]; raises ``TypeError`` / ``ValueError`` naming a bad one
    (on every rank alike, before any collective)."""
    check_group(group)
    n_bytes = checks.count("n_bytes", n_bytes, minimum=1, maximum=MAX_TIMED_BYTES,
                           limit="half a worker's default memory")
    check_algorithm(algorithm)
    repeats = checks.count("repeats", repeats, minimum=1, maximum=MAX_TIMED_REPEATS)
    x = np.full(max(1, n_bytes // 8), float(group.rank))
    group.allreduce(x, algorithm)
    times = []
    for _ in range(repeats):
        group.barrier()
        start = time.perf_counter()
        group.allreduce(x, algorithm)
        times.append(time.perf_counter() - start)
    return times
