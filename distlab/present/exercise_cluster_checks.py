"""The checkers of the coding exercises that run the learner's code on the cluster.

Chapters 05 and 07 teach Dask's futures and SPMD ranks on the live cluster, so their
checkers use it too: the connected ``distributed`` client (``distributed.default_client``,
which ``distlab.connect()`` sets), and, on the workers and the scheduler, the two functions
of :mod:`distlab.apps.exercise_tasks`. They behave like the others
(:mod:`distlab.present.exercise_checks`): ``(True, note)`` or ``(False, message)``, with a
bounded run — a rank that waits for a message gives up after :data:`RANK_TIMEOUT` seconds,
so mismatched collectives are a wrong answer, not a hang.
"""
from __future__ import annotations

import numpy as np
from distributed import Future, default_client

from distlab.apps.exercise_tasks import _ddp_rank, _unreached_inputs_query
from distlab.apps.training import batch_rows, gradient, init_params, load_shard
from distlab.engines.spmd import run_ranks
from distlab.engines.workers import worker_addresses
from distlab.present.exercise_checks import WrongAnswer, _call, _learner_function, _verdict


# --- 05 · an average that stays on the cluster ---------------------------------------------

def _cluster():
    """The connected ``distributed`` client (the default one), else :class:`WrongAnswer`."""
    try:
        return default_client()
    except ValueError:
        raise WrongAnswer("no cluster to run it on: connect first, client = "
                          "distlab.connect()") from None


@_verdict
def check_average(answer):
    """``average(client, futures)``: a Future of the mean of the futures' values, computed
    by a task that depends on every one of them."""
    average = _learner_function(answer, "average(client, futures)")
    client = _cluster()
    workers = worker_addresses(client)
    for values in ([10.0, 20.0, 30.0], [np.array([1.0, 2.0]), np.array([3.0, 6.0]),
                                        np.array([5.0, 10.0]), np.array([7.0, 2.0])]):
        # Fresh keys (hash=False): the same values scattered by an earlier check may still
        # be being forgotten by the scheduler, which would cancel a reused key.
        futures = [client.scatter(v, workers=[workers[i % len(workers)]], hash=False)
                   for i, v in enumerate(values)]
        result = _call(average, client, futures)
        if not isinstance(result, Future):
            raise WrongAnswer(f"return a Future (the mean stays on the cluster), got "
                              f"{type(result).__name__}")
        value, mean = result.result(timeout=60), np.mean(values, axis=0)
        if np.shape(value) != mean.shape or not np.allclose(value, mean):
            raise WrongAnswer(f"the mean of {[np.asarray(v).tolist() for v in values]} is "
                              f"{mean.tolist()}, your Future holds {value!r}")
        missing = client.run_on_scheduler(_unreached_inputs_query(), key=result.key,
                                          inputs=[f.key for f in futures])
        if missing:
            raise WrongAnswer("the result does not depend on the input futures: the mean was "
                              "computed here and sent back; submit the averaging function "
                              "with the futures as its arguments")
    return "a Future of the mean, computed by a task on the cluster from the nodes' futures"


# --- 07 · one data-parallel step, SPMD -----------------------------------------------------

DDP_STEPS, DDP_LR, DDP_BATCH, RANK_TIMEOUT = 3, 2.0, 64, 20.0


def _reference_ddp(ranks: int) -> np.ndarray:
    """The parameters after :data:`DDP_STEPS` synchronous steps on ``ranks`` shards, in
    this process: θ − η · mean of the ranks' gradients, each step."""
    shards = [load_shard(r, ranks, 0) for r in range(ranks)]
    params = init_params()
    for k in range(DDP_STEPS):
        grads = []
        for r, (X, y) in enumerate(shards):
            rows = batch_rows(len(y), DDP_BATCH, 0, r, k)
            grads.append(gradient(params, X[rows], y[rows]))
        params = params - DDP_LR * np.mean(grads, axis=0)
    return params


@_verdict
def check_ddp_step(answer):
    """``ddp_step(group, params, X, y, lr)`` on every worker at once: after 3 steps every
    rank holds the model that averaging the gradients gives (to 1e-12)."""
    step = _learner_function(answer, "ddp_step(group, params, X, y, lr)")
    try:
        results = run_ranks(_cluster(), _ddp_rank, step, DDP_STEPS, DDP_LR, DDP_BATCH, 0,
                            timeout=RANK_TIMEOUT)
    except TimeoutError:
        raise WrongAnswer(f"a rank waited {RANK_TIMEOUT:g} s for a message that never came: "
                          f"every rank must call group.allreduce the same number of times, "
                          f"in the same order") from None
    if any(r is NotImplemented for r in results):
        raise WrongAnswer("ddp_step returned NotImplemented: replace the stub's body with your code")
    expected = _reference_ddp(len(results))
    for rank, params in enumerate(results):
        if params.shape != expected.shape:
            raise WrongAnswer(f"rank {rank} returned parameters of shape {params.shape}, "
                              f"not {expected.shape}")
        if not np.allclose(params, expected, rtol=0, atol=1e-12):
            agree = all(np.array_equal(params, other) for other in results)
            raise WrongAnswer(f"after {DDP_STEPS} steps rank {rank}'s model is off by "
                              f"{np.abs(params - expected).max():.3g}"
                              + ("" if agree else "; the ranks disagree: is every rank's "
                                 "gradient averaged with group.allreduce?"))
    return (f"{len(results)} ranks, {DDP_STEPS} steps: every rank holds θ − η · mean(g), the "
            f"model synchronous data parallelism and DDP compute")
