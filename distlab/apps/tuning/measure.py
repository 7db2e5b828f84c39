"""Running on the live cluster: one configuration, timed, and the probes that fill in the
cost model (:class:`~distlab.apps.tuning.cost_model.ClusterModel`)."""
from __future__ import annotations

import time

import numpy as np

from distlab import checks
from distlab.apps.tuning.configs import Config, check_config
from distlab.apps.tuning.cost_model import ClusterModel
from distlab.apps.tuning.job import Job, _add_up, _timed_partial_gradient, partial_gradient
from distlab.engines.allreduce import allreduce
from distlab.engines.workers import check_client, submit_on, worker_addresses


def run(client, job: Job, config: Config) -> tuple[np.ndarray, float]:
    """Run ``job`` with ``config`` on the cluster: partition i on worker ⌊i·w/P⌋ (contiguous
    blocks), one sum per worker, then the all-reduce. Returns the gradient (worker 0's
    copy, float64 of shape (features,)) and the wall time in seconds from the first submit
    until every worker holds the result. Raises ``ValueError`` for a configuration the
    cluster cannot run (:func:`check_config`), ``TypeError``/``ValueError`` for a missing
    or closed client or a job that is not a :class:`Job`."""
    from distributed import wait

    check_client(client)
    if not isinstance(job, Job):
        raise TypeError(f"job must be a tuning.Job, got {type(job).__name__}")
    homes = worker_addresses(client)
    check_config(config, job, len(homes))
    homes = homes[:config.workers]
    parts = config.partitions(job)
    start = time.perf_counter()
    # partition i goes to worker ⌊i·w/P⌋; the pins are strict: the bytes must be there
    owner = [i * config.workers // len(parts) for i in range(len(parts))]
    partials = [submit_on(client, partial_gradient, job, a, b, worker=homes[owner[i]],
                          strict=True)
                for i, (a, b) in enumerate(parts)]
    sums = [submit_on(client, _add_up, job.features,
                      *[p for i, p in enumerate(partials) if owner[i] == k],
                      worker=h, strict=True)
            for k, h in enumerate(homes)]
    if config.workers == 1:
        finals = sums
    else:
        finals = list(allreduce(sums, config.algorithm, client, workers=homes,
                                dask_engine="direct").futures)    # what the model models
    wait(finals)
    elapsed = time.perf_counter() - start
    mean_of_sums = np.asarray(finals[0].result())
    del partials, sums, finals
    return mean_of_sums * config.workers / job.rows, elapsed


def _noop(x=None):
    return x


#: Bytes of the ping-pong's larger message at least: big enough that the bytes, not the
#: noise, make the difference from an 8-byte message (β).
PROBE_BYTES = 1 << 20
#: The most no-op tasks one probe queues (each costs the scheduler about a millisecond).
MAX_PROBE_TASKS = 1000


def probe(client, job: Job, *, tasks: int = 16) -> ClusterModel:
    """Measure the model's numbers on the live cluster (about a second): a lone task's
    round trip (call); ``tasks`` no-op tasks queued on one worker (task) and spread over
    all workers (scheduler); a partition timed inside its task on one worker (row) and on
    every worker at once (row_parallel); a ping-pong on the direct engine (α, β, and the
    fixed cost of a call: the client's overhead and the workers' set-up). ``tasks`` an
    int in [2, :data:`MAX_PROBE_TASKS`]; ``TypeError``/``ValueError`` naming the argument
    otherwise (a missing or closed client, a job that is not a :class:`Job`, included)."""
    from distributed import wait

    from distlab.engines.calibrate import ping_pong_direct

    check_client(client)
    if not isinstance(job, Job):
        raise TypeError(f"job must be a tuning.Job, got {type(job).__name__}")
    tasks = checks.count("tasks", tasks, minimum=2, maximum=MAX_PROBE_TASKS)
    homes = worker_addresses(client)
    # warm up: every worker builds the feature map once; every all-reduce width is primed
    warm = [submit_on(client, partial_gradient, job, 0, 1, worker=h, strict=True)
            for h in homes]
    wait(warm)
    for w in range(2, len(homes) + 1):
        allreduce(warm[:w], "star", client, workers=homes[:w], dask_engine="direct").values
    del warm

    def wall(n, spread=False):
        begin = time.perf_counter()
        wait([submit_on(client, _noop, i, worker=homes[i % len(homes) if spread else 0],
                        strict=True)
              for i in range(n)])
        return time.perf_counter() - begin

    call = min(wall(1) for _ in range(3))
    task = max((min(wall(tasks) for _ in range(2)) - call) / (tasks - 1), 1e-6)
    spread = max((min(wall(tasks, spread=True) for _ in range(2)) - call) / (tasks - 1),
                 1e-6)
    probe_rows = min(job.rows, 16)
    alone = [client.gather(submit_on(client, _timed_partial_gradient, job, 0, probe_rows,
                                     worker=homes[0], strict=True)) for _ in range(3)]
    row = float(np.median(alone)) / probe_rows
    together = []
    for _ in range(3):                     # every worker computing at the same moment
        runs = [submit_on(client, _timed_partial_gradient, job, 0, probe_rows, worker=h,
                          strict=True)
                for h in homes]
        together.append(max(client.gather(runs)))
    row_parallel = float(np.median(together)) / probe_rows
    if len(homes) >= 2:          # the engine run() uses: worker-to-worker messages
        cal = ping_pong_direct(client, sizes=(8, max(PROBE_BYTES, job.vector_bytes)),
                               hops=10, repeats=5)
        alpha, beta, fixed = cal.alpha, cal.beta, cal.overhead + cal.fixed
    else:                        # one worker never all-reduces
        alpha = beta = fixed = 0.0
    return ClusterModel(call=call, task=task, scheduler=spread, row=row, alpha=alpha,
                        beta=beta, row_parallel=row_parallel, allreduce_call=fixed)


