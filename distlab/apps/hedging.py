"""Tail latency and hedged requests: a replicated service on the event simulator.

Dean & Barroso, "The Tail at Scale", CACM 56(2), 2013: when a few replicas are slow at
any moment, the slowest 1 % of requests dominate; sending a second copy of a request that
has not been answered after the 95th-percentile latency, and taking the first answer,
cuts the 99th percentile at the price of a few percent more requests. The service runs on
:mod:`distlab.concepts.events` (replicas with queues and slow spells, a seeded network,
virtual time), so the numbers are exact and reproducible and a run takes milliseconds.
Chapter 06 shows it beside the real serving of :mod:`distlab.apps.serving`.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from distlab.checks import count, positive
from distlab.concepts.events import Latency, MessageNetwork, Simulator

#: The most requests one simulated run serves: 10⁵ take a few seconds; more would run
#: for minutes (the event queue grows with the backlog).
MAX_REQUESTS = 100_000
#: The most replicas of the simulated service.
MAX_REPLICAS = 1000

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
    """Run a replicated service on the event simulator, in virtual time.

    Requests arrive at random (Poisson, ``rate`` per second) and go to the replicas
    round-robin over a seeded network. With ``hedge_after`` (seconds), a request not
    answered by then is sent to the next replica too, and the first answer wins (the
    other copy is still served: that is the price). Returns the per-request
    ``latencies`` (numpy array, seconds), ``hedged`` (copies sent) and ``served`` (work
    the replicas did, copies included). Options and defaults in :data:`SERVICE`.

    ``requests`` an int in [100, :data:`MAX_REQUESTS`], ``seed`` an int ≥ 0,
    ``replicas`` an int in [2, :data:`MAX_REPLICAS`], ``hedge_after`` and the other
    options finite numbers > 0. Raises ``TypeError`` (wrong kind, or an unknown option)
    or ``ValueError`` (out of range), naming the argument."""
    requests = count("requests", requests, minimum=100, maximum=MAX_REQUESTS)
    seed = count("seed", seed)
    unknown = set(service) - set(SERVICE)
    if unknown:
        raise TypeError(f"unknown service options {sorted(unknown)}; known: {sorted(SERVICE)}")
    p = {**SERVICE, **service}
    p["replicas"] = count("replicas", p["replicas"], minimum=2, maximum=MAX_REPLICAS)
    for name in ("rate", "service", "slow_factor", "normal_spell", "slow_spell", "network"):
        p[name] = positive(name, p[name])
    if hedge_after is not None:
        hedge_after = positive("hedge_after", hedge_after)

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
    ``None`` for no hedging. The same seed gives the same arrivals and spells. Errors
    as :func:`simulate_service`, and ``ValueError`` for a malformed percentile."""
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
    hedging after the 50th, 95th and 99th percentile of the un-hedged latency. Errors
    as :func:`simulate_service`."""
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
