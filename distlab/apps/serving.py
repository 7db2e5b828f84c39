"""Chapter 6 · prediction serving: the trained model answering requests on the cluster.

Three studies, each on the softmax model of :mod:`distlab.apps.training`:

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
3. **Tail latency and hedged requests** (:func:`tail_latency`). Dean & Barroso, "The Tail
   at Scale", CACM 56(2), 2013: when a few replicas are slow at any moment, the slowest
   1 % of requests dominate; sending a second copy of a request that has not been answered
   after the 95th-percentile latency, and taking the first answer, cuts the 99th
   percentile at the price of a few percent more requests. Run on :mod:`distlab.concepts.events`
   (replicas with queues and slow spells, a seeded network, virtual time), so the numbers
   are exact and reproducible.
"""
from __future__ import annotations

import math
import time
from numbers import Integral, Real

import numpy as np
import pandas as pd

from distlab.apps import training

N_IMAGES = 1797                                   # the digits data set


# --------------------------------------------------------------------------------------
# the requests: digits images, standardised as in training, loaded where they are used
# --------------------------------------------------------------------------------------

def request_rows(first: int, count: int) -> np.ndarray:
    """Image indices of requests ``first`` … ``first + count - 1`` (the stream cycles
    through the 1,797 digits)."""
    return (first + np.arange(count)) % N_IMAGES


def _images(seed: int) -> np.ndarray:
    X, _, X_test, _ = training.load_split(seed)
    # Every image once, in a fixed order: the training and test rows together.
    return np.concatenate([X, X_test])


def predict_requests(params, first: int, count: int, seed: int = 0) -> np.ndarray:
    """Runs on a worker: the predicted digit for requests ``first`` … ``first+count-1``."""
    X = _images(seed)[request_rows(first, count)]
    return training.predict(params, X).astype(np.int8)


def predict_requests_where(params, first: int, count: int, seed: int = 0):
    """Like :func:`predict_requests`, also saying which worker answered (for counting)."""
    from distributed import get_worker
    return predict_requests(params, first, count, seed), get_worker().address


def expected_answers(params, first: int, count: int, seed: int = 0) -> np.ndarray:
    """The right answers, computed here in the client: what every served answer must equal."""
    return predict_requests(np.asarray(params), first, count, seed)


def _replicas(client, params, workers):
    """One copy of the model per worker, each made by a task on that worker (so a lost copy
    can be rebuilt)."""
    return [client.submit(np.array, params, workers=[w], allow_other_workers=True,
                          pure=False) for w in workers]


# --------------------------------------------------------------------------------------
# 1. batch prediction: throughput against batch size
# --------------------------------------------------------------------------------------

def batch_throughput(client, params, batch_sizes=(1, 4, 16, 64, 256), requests: int = 512,
                     seed: int = 0) -> pd.DataFrame:
    """Predict ``requests`` images with each batch size (one task per batch, spread over
    the workers) and time it. Columns ``batch``, ``tasks``, ``seconds``,
    ``requests_per_s``, ``correct`` (every answer equals the model's own prediction)."""
    training._check_client(client)
    params = _check_params(params)
    requests = _check_int(requests, "requests", 1)
    sizes = _check_sizes(batch_sizes)
    seed = _check_int(seed, "seed", 0)
    from distributed import wait

    workers = training.live_workers(client)
    models = _replicas(client, params, workers)
    # Warm up: each worker loads the images once before the clock starts.
    wait([client.submit(predict_requests, m, 0, 1, seed, workers=[w], pure=False)
          for m, w in zip(models, workers)])
    truth = expected_answers(params, 0, requests, seed)
    rows = []
    for b in sizes:
        starts = list(range(0, requests, b))
        start = time.perf_counter()
        futures = [client.submit(predict_requests, models[k % len(workers)], s,
                                 min(b, requests - s), seed, workers=[workers[k % len(workers)]],
                                 allow_other_workers=True, pure=False)
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
    dead replica elsewhere; a request that fails anyway is sent again. Returns a summary dict: ``sent``, ``answered``, ``lost``, ``correct`` (answers
    equal to the model's own predictions), ``killed_replica`` (index, or ``None``),
    ``killed_after`` and ``answered_by`` (answers per replica; ``"new"`` counts a
    replacement worker; depends on timing).
    """
    training._check_client(client)
    params = _check_params(params)
    requests = _check_int(requests, "requests", 1)
    batch = _check_int(batch, "batch", 1)
    wave = _check_int(wave, "wave", 1)
    seed = _check_int(seed, "seed", 0)
    if kill_after is not None:
        kill_after = _check_int(kill_after, "kill_after", 1)
        if kill_after >= requests:
            raise ValueError(f"kill_after must be below requests ({requests}), "
                             f"got {kill_after}")
    from distributed import as_completed

    workers = training.live_workers(client)
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
            f = client.submit(predict_requests_where, models[w], r * batch, batch, seed,
                              workers=[w], allow_other_workers=True, pure=False)
            futures[f] = r
        pending = as_completed(list(futures))
        for f in pending:
            try:
                answers[futures[f]], where = f.result()
            except Exception:                                  # lost for good: ask again
                r = futures[f]
                w = training.live_workers(client)[0]
                retry = client.submit(predict_requests_where, params, r * batch, batch, seed,
                                      workers=[w], allow_other_workers=True, pure=False)
                futures[retry] = r
                pending.add(retry)
                continue
            label = str(workers.index(where)) if where in workers else "new"
            answered_by[label] = answered_by.get(label, 0) + 1
            if kill_after is not None and killed is None and len(answers) >= kill_after:
                killed = int(np.random.default_rng([seed, 5]).integers(len(workers)))
                training.kill_worker(client, workers[killed])
        live = set(client.nthreads())                          # the health check
        alive = [w for w in alive if w in live] or training.live_workers(client)
        for w in alive:
            models.setdefault(w, _replicas(client, params, [w])[0])
    if killed is not None:
        training.wait_for_workers(client, len(workers))       # leave the cluster as found
    truth = expected_answers(params, 0, requests * batch, seed).reshape(requests, batch)
    correct = sum(int(np.array_equal(answers.get(r), truth[r])) for r in range(requests))
    return dict(sent=requests, answered=len(answers), lost=requests - len(answers),
                correct=correct, killed_replica=killed,
                killed_after=kill_after if killed is not None else None,
                answered_by=dict(sorted(answered_by.items())))


# --------------------------------------------------------------------------------------
# 3. tail latency, with and without hedged requests, on the simulator (virtual time)
# --------------------------------------------------------------------------------------

#: The simulated service: 4 replicas, 300 requests per second in total (about 40 % busy).
SERVICE = dict(replicas=4, rate=300.0, service=0.005, slow_factor=10.0, normal_spell=1.0,
               slow_spell=0.02, network=0.0005)


class _Replica:
    """A replica on the simulator: a FIFO queue and one server. Now and then it has a slow
    spell (a garbage-collection pause, a noisy neighbour, a background compaction: Dean &
    Barroso's list) during which every request it starts takes ``slow_factor`` times longer."""

    def __init__(self, name, sim, net, p):
        self.name, self.sim, self.net, self.p = name, sim, net, p
        self.queue, self.busy, self.slow = [], False, False
        self.served = 0
        sim.schedule(sim.rng.expovariate(1 / p["normal_spell"]), self._toggle)

    def _toggle(self):
        self.slow = not self.slow
        mean = self.p["slow_spell"] if self.slow else self.p["normal_spell"]
        self.sim.schedule(self.sim.rng.expovariate(1 / mean), self._toggle)

    def receive(self, message):
        self.queue.append(message.payload)
        if not self.busy:
            self._start()

    def _start(self):
        request = self.queue.pop(0)
        self.busy = True
        work = self.p["service"] * math.exp(0.25 * self.sim.rng.gauss(0.0, 1.0))
        if self.slow:
            work *= self.p["slow_factor"]
        self.sim.schedule(work, self._finish, request)

    def _finish(self, request):
        self.served += 1
        self.net.send(self.name, "client", request)
        self.busy = False
        if self.queue:
            self._start()


def simulate_service(requests: int = 6000, hedge_after: float | None = None, seed: int = 0,
                     **service) -> dict:
    """Run a replicated service on :mod:`distlab.concepts.events` in virtual time.

    Requests arrive at random (Poisson, ``rate`` per second) and go to the replicas
    round-robin over a seeded network. With ``hedge_after`` (seconds), a request not
    answered by then is sent to the next replica too, and the first answer wins (the
    other copy is still served: that is the price). Returns the per-request
    ``latencies`` (numpy array, seconds), ``hedged`` (copies sent) and ``served`` (work
    the replicas did, copies included). Options and defaults in :data:`SERVICE`."""
    from distlab.concepts.events import Latency, MessageNetwork, Simulator

    requests = _check_int(requests, "requests", 100)
    seed = _check_int(seed, "seed", 0)
    unknown = set(service) - set(SERVICE)
    if unknown:
        raise TypeError(f"unknown service options {sorted(unknown)}; known: {sorted(SERVICE)}")
    p = {**SERVICE, **service}
    p["replicas"] = _check_int(p["replicas"], "replicas", 2)
    for name in ("rate", "service", "slow_factor", "normal_spell", "slow_spell", "network"):
        p[name] = _check_positive(p[name], name)
    if hedge_after is not None:
        hedge_after = _check_positive(hedge_after, "hedge_after")

    sim = Simulator(seed)
    net = MessageNetwork(sim, latency=Latency(base=p["network"], jitter=p["network"]))
    replicas = [_Replica(f"replica-{k}", sim, net, p) for k in range(p["replicas"])]
    for r in replicas:
        net.add_node(r.name, r.receive)
    sent_at, answered = {}, {}
    hedged = [0]

    def on_answer(message):
        answered.setdefault(message.payload, sim.now)        # the first answer wins

    def hedge(request, first):
        if request not in answered:
            hedged[0] += 1
            net.send("client", replicas[(first + 1) % len(replicas)].name, request)

    def arrive(request):
        sent_at[request] = sim.now
        first = request % len(replicas)
        net.send("client", replicas[first].name, request)
        if hedge_after is not None:
            net.schedule_on("client", hedge_after, hedge, request, first)
        if request + 1 < requests:
            sim.schedule(sim.rng.expovariate(p["rate"]), arrive, request + 1)

    net.add_node("client", on_answer)
    sim.schedule(0.0, arrive, 0)
    while len(answered) < requests and sim.step():
        pass
    latencies = np.array([answered[r] - sent_at[r] for r in range(requests)])
    return dict(latencies=latencies, hedged=hedged[0],
                served=sum(r.served for r in replicas))


def tail_latency(requests: int = 6000, hedge_after: float | str | None = "p95",
                 seed: int = 0, **service) -> dict:
    """p50, p99, p99.9 and mean latency (seconds) of the simulated service, and
    ``extra_load`` (copies sent / requests). ``hedge_after`` in seconds, or ``"pNN"``: that
    percentile of the latency *without* hedging (Dean & Barroso hedge after the 95th);
    ``None`` for no hedging. The same seed gives the same arrivals and spells."""
    if isinstance(hedge_after, str):
        if not (hedge_after.startswith("p")
                and hedge_after[1:].replace(".", "", 1).isdigit()):
            raise ValueError(f"hedge_after must be seconds or a percentile like 'p95', "
                             f"got {hedge_after!r}")
        q = float(hedge_after[1:])
        if not 0 < q < 100:
            raise ValueError(f"hedge_after percentile must be between 0 and 100, got {q}")
        plain = simulate_service(requests, None, seed, **service)["latencies"]
        hedge_after = float(np.percentile(plain, q))
    return _stats(simulate_service(requests, hedge_after, seed, **service), hedge_after)


def _stats(run: dict, hedge_after) -> dict:
    lat = run["latencies"]
    return dict(p50=float(np.percentile(lat, 50)), p99=float(np.percentile(lat, 99)),
                p999=float(np.percentile(lat, 99.9)), mean=float(lat.mean()),
                extra_load=run["hedged"] / len(lat), hedge_after=hedge_after)


def hedging_table(requests: int = 6000, seed: int = 0) -> pd.DataFrame:
    """p50 / p99 / p99.9 in milliseconds and the extra requests, without hedging and with
    hedging after the 50th, 95th and 99th percentile of the un-hedged latency."""
    plain = simulate_service(requests, None, seed)
    rows = []
    for label, q in [("no hedging", None), ("hedge after p50", 50), ("hedge after p95", 95),
                     ("hedge after p99", 99)]:
        if q is None:
            after, r = None, _stats(plain, None)
        else:
            after = float(np.percentile(plain["latencies"], q))
            r = _stats(simulate_service(requests, after, seed), after)
        rows.append(dict(policy=label,
                         hedge_after_ms=None if after is None else round(after * 1e3, 1),
                         p50_ms=round(r["p50"] * 1e3, 1), p99_ms=round(r["p99"] * 1e3, 1),
                         p999_ms=round(r["p999"] * 1e3, 1),
                         extra_requests=f"{r['extra_load']:.1%}"))
    return pd.DataFrame(rows).set_index("policy")


# --------------------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------------------

def _check_int(value, name, minimum) -> int:
    return training._check_int(value, name, minimum=minimum)


def _check_positive(value, name) -> float:
    return training._check_positive(value, name)


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
    sizes = [_check_int(b, "each batch size", 1) for b in sizes]
    if not sizes:
        raise ValueError("batch_sizes must not be empty")
    return sizes
