"""Chapter 6 · prediction serving: the trained model answering requests on the cluster.

Two studies on the softmax model of :mod:`distlab.apps.training` (the third, tail
latency and hedged requests, runs on the event simulator: :mod:`distlab.apps.hedging`):

1. **Batch prediction and batch size** (:func:`batch_throughput`). The requests are the
   digits images, stored on the workers (each worker loads them itself); a task predicts a
   batch of them. Every task costs the scheduler about a millisecond whatever it does, so
   one request per task is slow and batching amortises that overhead (the Dask docs: "if
   your functions run faster than 100 ms or so then you might not see any speedup";
   Crankshaw et al., "Clipper: A Low-Latency Online Prediction Serving System", NSDI 2017,
   batch for the same reason on GPUs).
2. **Replicated serving with failover** (:func:`serve_stream`). One replica of the model
   per worker, a router sending requests round-robin. A replica is killed in the middle of
   the stream: requests it had not answered are re-run on a live replica (the router pins
   requests to their replica *loosely*, so the scheduler may move them; the model copy
   is itself a task, so it is rebuilt where needed) and the router stops sending new ones to
   the dead replica. Nothing is lost and every answer is checked against the model.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from distlab import checks
from distlab.apps import training
# distlab.apps.fields still reaches the simulated study through this module; its home is
# distlab.apps.hedging (drop these once fields imports from there).
from distlab.apps.hedging import (SERVICE, hedging_table, simulate_service,  # noqa: F401
                                  tail_latency)
from distlab.engines.workers import (check_client, kill_worker, submit_on, wait_for_workers,
                                     worker_addresses)

#: The most requests a study on the cluster takes: each request is a Dask task, about a
#: millisecond of scheduling, so 10⁴ are already ten seconds.
MAX_REQUESTS = 10_000
#: The most images one call predicts in all (requests × batch): 10⁵ images are 51 MB of
#: features in the client, where the right answers are computed.
MAX_IMAGES = 100_000
N_IMAGES = 1797                                   # the digits data set


# --------------------------------------------------------------------------------------
# the requests: digits images, standardised as in training, loaded where they are used
# --------------------------------------------------------------------------------------

def request_rows(first: int, count: int) -> np.ndarray:
    """Image indices of requests ``first`` … ``first + count - 1`` (the stream cycles
    through the 1,797 digits): an int64 array of length ``count``. ``first`` an int ≥ 0,
    ``count`` an int in [0, :data:`MAX_IMAGES`], else ``TypeError`` / ``ValueError``."""
    first = checks.count("first", first)
    count = checks.count("count", count, maximum=MAX_IMAGES)
    return (first + np.arange(count)) % N_IMAGES


def _images(seed: int) -> np.ndarray:
    X, _, X_test, _ = training.load_split(seed)
    # Every image once, in a fixed order: the training and test rows together.
    return np.concatenate([X, X_test])


def _predict_requests(params, first: int, count: int, seed: int = 0) -> np.ndarray:
    """Runs on a worker: the predicted digit for requests ``first`` … ``first+count-1``."""
    X = _images(seed)[request_rows(first, count)]
    return training.predict(params, X).astype(np.int8)


def _predict_requests_where(params, first: int, count: int, seed: int = 0):
    """Like :func:`_predict_requests`, also saying which worker answered (for counting)."""
    from distributed import get_worker
    return _predict_requests(params, first, count, seed), get_worker().address


def expected_answers(params, first: int, count: int, seed: int = 0) -> np.ndarray:
    """The right answers, computed here in the client: what every served answer must equal
    (int8, one per request). ``params`` the (65, 10) weights, ``first`` and ``count`` as
    :func:`request_rows` (``count`` ≥ 1), ``seed`` an int ≥ 0; ``TypeError``/
    ``ValueError`` otherwise."""
    checks.count("seed", seed)
    checks.count("count", count, minimum=1)
    return _predict_requests(_check_params(params), first, count, seed)


def _replicas(client, params, workers):
    """One copy of the model per worker, each made by a task on that worker (so a lost copy
    can be rebuilt)."""
    return [submit_on(client, np.array, params, worker=w) for w in workers]


# --------------------------------------------------------------------------------------
# 1. batch prediction: throughput against batch size
# --------------------------------------------------------------------------------------

def batch_throughput(client, params, batch_sizes=(1, 4, 16, 64, 256), requests: int = 512,
                     seed: int = 0) -> pd.DataFrame:
    """Predict ``requests`` images with each batch size (one task per batch, spread over
    the workers) and time it. Columns ``batch``, ``tasks``, ``seconds``,
    ``requests_per_s``, ``correct`` (every answer equals the model's own prediction).

    ``params`` the (65, 10) weights; ``requests`` and each batch size ints in [1,
    :data:`MAX_REQUESTS`]; ``seed`` an int ≥ 0. Raises ``TypeError`` / ``ValueError``
    naming the argument (a closed or missing client included)."""
    check_client(client)
    params = _check_params(params)
    requests = checks.count("requests", requests, minimum=1, maximum=MAX_REQUESTS)
    sizes = _check_sizes(batch_sizes)
    seed = checks.count("seed", seed)
    from distributed import wait

    workers = worker_addresses(client)
    models = _replicas(client, params, workers)
    # Warm up: each worker loads the images once before the clock starts.
    wait([submit_on(client, _predict_requests, m, 0, 1, seed, worker=w, strict=True)
          for m, w in zip(models, workers)])
    truth = expected_answers(params, 0, requests, seed)
    rows = []
    for b in sizes:
        starts = list(range(0, requests, b))
        start = time.perf_counter()
        futures = [submit_on(client, _predict_requests, models[k % len(workers)], s,
                             min(b, requests - s), seed, worker=workers[k % len(workers)])
                   for k, s in enumerate(starts)]
        answers = np.concatenate(client.gather(futures))
        seconds = time.perf_counter() - start
        rows.append(dict(batch=b, tasks=len(starts), seconds=seconds,
                         requests_per_s=requests / seconds,
                         correct=bool(np.array_equal(answers, truth))))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# 2. replicated serving with failover
# --------------------------------------------------------------------------------------

def serve_stream(client, params, requests: int = 256, batch: int = 4, wave: int = 32,
                 kill_after: int | None = 96, seed: int = 0) -> dict:
    """Serve a stream of ``requests`` requests (each ``batch`` images) through a router
    with one model replica per worker, killing one replica (chosen by ``seed``) once
    ``kill_after`` requests have been answered.

    The router sends the stream in waves of ``wave`` requests, round-robin over the
    replicas it believes alive; it re-checks the replicas with the scheduler after each
    wave. Requests are pinned to their replica loosely, so the scheduler re-runs those of a
    dead replica elsewhere; a request that fails anyway is sent again. Returns a summary
    dict: ``sent``, ``answered``, ``lost``, ``correct`` (answers equal to the model's own
    predictions), ``killed_replica`` (index, or ``None``),
    ``killed_after`` and ``answered_by`` (answers per replica; ``"new"`` counts a
    replacement worker; depends on timing).

    ``requests`` an int in [1, :data:`MAX_REQUESTS`], ``batch`` an int ≥ 1 with
    ``requests × batch`` at most :data:`MAX_IMAGES`, ``wave`` an int ≥ 1,
    ``kill_after`` None or an int in [1, requests), ``seed`` an int ≥ 0. Raises
    ``TypeError`` / ``ValueError`` naming the argument (a closed or missing client, or
    fewer than 2 workers for a failover, included).
    """
    check_client(client)
    params = _check_params(params)
    requests = checks.count("requests", requests, minimum=1, maximum=MAX_REQUESTS)
    batch = checks.count("batch", batch, minimum=1)
    if requests * batch > MAX_IMAGES:
        raise ValueError(f"requests × batch must be ≤ {MAX_IMAGES:,} images (the limit of "
                         f"this function), got {requests:,} × {batch:,}")
    wave = checks.count("wave", wave, minimum=1)
    seed = checks.count("seed", seed)
    if kill_after is not None:
        kill_after = checks.count("kill_after", kill_after, minimum=1)
        if kill_after >= requests:
            raise ValueError(f"kill_after must be below requests ({requests}), "
                             f"got {kill_after}")
    from distributed import as_completed

    workers = worker_addresses(client)
    if kill_after is not None and len(workers) < 2:
        raise ValueError("failover needs at least 2 workers (one to kill, one to survive)")
    models = dict(zip(workers, _replicas(client, params, workers)))
    alive = list(workers)
    answers: dict[int, np.ndarray] = {}
    answered_by: dict[str, int] = {}
    killed = None
    for first in range(0, requests, wave):
        futures = {}
        for r in range(first, min(first + wave, requests)):
            w = alive[r % len(alive)]                          # round-robin
            f = submit_on(client, _predict_requests_where, models[w], r * batch, batch, seed,
                          worker=w)
            futures[f] = r
        pending = as_completed(list(futures))
        for f in pending:
            try:
                answers[futures[f]], where = f.result()
            except Exception:                                  # lost for good: ask again
                r = futures[f]
                retry = submit_on(client, _predict_requests_where, params, r * batch, batch,
                                  seed, worker=worker_addresses(client)[0])
                futures[retry] = r
                pending.add(retry)
                continue
            label = str(workers.index(where)) if where in workers else "new"
            answered_by[label] = answered_by.get(label, 0) + 1
            if kill_after is not None and killed is None and len(answers) >= kill_after:
                killed = int(np.random.default_rng([seed, 5]).integers(len(workers)))
                kill_worker(client, workers[killed], wait_for_replacement=False)
        live = set(client.nthreads())                          # the health check
        alive = [w for w in alive if w in live] or worker_addresses(client)
        for w in alive:
            models.setdefault(w, _replicas(client, params, [w])[0])
    if killed is not None:
        wait_for_workers(client, len(workers))                # leave the cluster as found
    truth = expected_answers(params, 0, requests * batch, seed).reshape(requests, batch)
    correct = sum(int(np.array_equal(answers.get(r), truth[r])) for r in range(requests))
    return dict(sent=requests, answered=len(answers), lost=requests - len(answers),
                correct=correct, killed_replica=killed,
                killed_after=kill_after if killed is not None else None,
                answered_by=dict(sorted(answered_by.items())))


# --------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------

def _check_params(params) -> np.ndarray:
    if isinstance(params, (str, bytes)) or params is None:
        raise TypeError(f"params must be the model's (65, 10) weight array, "
                        f"got {type(params).__name__}")
    try:
        array = np.array(params, dtype=float)          # a copy: never the caller's
    except (TypeError, ValueError) as exc:
        raise TypeError("params must be the model's (65, 10) weight array") from exc
    if array.shape != (training.N_FEATURES, training.N_CLASSES):
        raise ValueError(f"params must have shape ({training.N_FEATURES}, "
                         f"{training.N_CLASSES}), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("params must be finite, but contains NaN or infinity")
    return array


def _check_sizes(sizes) -> list[int]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise TypeError(f"batch_sizes must be a list of ints, got {type(sizes).__name__}")
    sizes = [checks.count(f"batch_sizes[{i}]", b, minimum=1, maximum=MAX_REQUESTS)
             for i, b in enumerate(sizes)]
    if not sizes:
        raise ValueError("batch_sizes must not be empty")
    return sizes
