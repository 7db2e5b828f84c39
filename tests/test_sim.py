"""The shared discrete-event simulator: virtual time, seeded network, crashes, partitions."""
import math

import pytest
from hypothesis import given, settings, strategies as st

from distlab.concepts.events import Latency, MessageNetwork, Simulator


def test_events_run_in_time_order_and_ties_in_schedule_order():
    sim = Simulator(0)
    seen = []
    for delay, name in [(0.3, "c"), (0.1, "a"), (0.2, "b1"), (0.2, "b2"), (0.0, "now")]:
        sim.schedule(delay, seen.append, name)
    assert sim.run() == 5
    assert seen == ["now", "a", "b1", "b2", "c"]
    assert sim.now == pytest.approx(0.3)


def test_run_until_stops_and_sets_the_clock():
    sim = Simulator(0)
    seen = []
    sim.schedule(1.0, seen.append, 1)
    sim.schedule(3.0, seen.append, 3)
    sim.run(until=2.0)
    assert seen == [1] and sim.now == 2.0 and sim.pending == 1
    sim.run()
    assert seen == [1, 3] and sim.now == 3.0


def test_cancel_stop_and_max_events():
    sim = Simulator(0)
    seen = []
    event = sim.schedule(1.0, seen.append, "cancelled")
    event.cancel()
    sim.schedule(2.0, sim.stop)
    sim.schedule(3.0, seen.append, "after stop")
    sim.run()
    assert seen == [] and sim.now == 2.0
    assert sim.run(max_events=0) == 0
    sim.run()
    assert seen == ["after stop"]


def test_events_scheduled_by_events_run_in_the_same_run():
    sim = Simulator(0)
    seen = []

    def tick(k):
        seen.append((k, sim.now))
        if k < 3:
            sim.schedule(0.5, tick, k + 1)
    sim.schedule(0, tick, 0)
    sim.run()
    assert seen == [(0, 0.0), (1, 0.5), (2, 1.0), (3, 1.5)]


def _ping_pong(seed, drop=0.0, latency=Latency(0.01, 0.02)):
    sim = Simulator(seed)
    net = MessageNetwork(sim, latency=latency, drop=drop)
    log = []

    def a(m):
        log.append(("a", m.payload, round(sim.now, 12)))

    def b(m):
        log.append(("b", m.payload, round(sim.now, 12)))
        net.send("b", "a", m.payload + 1)
    net.add_node("a", a)
    net.add_node("b", b)
    for k in range(20):
        sim.schedule(k * 0.001, net.send, "a", "b", k * 10)
    sim.run()
    return log, dict(net.stats)


def test_same_seed_same_run_and_different_seed_different_delays():
    assert _ping_pong(1) == _ping_pong(1)
    assert _ping_pong(1, drop=0.3) == _ping_pong(1, drop=0.3)
    assert _ping_pong(1)[0] != _ping_pong(2)[0]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), base=st.floats(0, 0.05), jitter=st.floats(0, 0.05),
       dist=st.sampled_from(Latency.DISTRIBUTIONS))
def test_delays_are_at_least_the_base_latency_and_messages_are_conserved(seed, base, jitter, dist):
    sim = Simulator(seed)
    net = MessageNetwork(sim, latency=Latency(base, jitter, dist), drop=0.2)
    arrivals = []
    net.add_node("x", lambda m: None)
    net.add_node("y", lambda m: arrivals.append(sim.now - m.sent_at))
    for _ in range(50):
        net.send("x", "y", None)
    sim.run()
    assert all(d >= base - 1e-12 for d in arrivals)
    if dist == "uniform":
        assert all(d <= base + jitter + 1e-12 for d in arrivals)
    s = net.stats
    assert s["sent"] == 50 == s["delivered"] + s["dropped: random"]
    assert len(arrivals) == s["delivered"]


def test_bandwidth_adds_size_over_bandwidth():
    sim = Simulator(0)
    net = MessageNetwork(sim, latency=Latency(0.001), bandwidth=1e6)
    got = []
    net.add_node("x", lambda m: None)
    net.add_node("y", lambda m: got.append(sim.now))
    net.send("x", "y", "blob", size=500_000)
    sim.run()
    assert got == [pytest.approx(0.501)]


def test_self_send_is_local_and_never_lost():
    sim = Simulator(0)
    net = MessageNetwork(sim, latency=Latency(1.0), drop=0.99)
    got = []
    net.add_node("x", lambda m: got.append(sim.now))
    for _ in range(10):
        assert net.send("x", "x", 1)
    sim.run()
    assert got == [0.0] * 10


def test_crash_drops_messages_and_timers_and_recover_calls_hook():
    sim = Simulator(0)
    net = MessageNetwork(sim, latency=Latency(0.1))
    got, timers, recovered = [], [], []
    net.add_node("x", lambda m: None)
    net.add_node("y", lambda m: got.append(m.payload), on_recover=lambda: recovered.append(sim.now))
    net.send("x", "y", "in flight when y crashes")
    sim.schedule(0.05, net.crash, "y")
    net.schedule_on("y", 0.2, timers.append, "lost timer")
    sim.schedule(0.3, net.recover, "y")
    sim.schedule(0.4, net.send, "x", "y", "after recovery")
    net.schedule_on("y", 0.5, timers.append, "kept timer")
    sim.run()
    assert got == ["after recovery"]
    assert timers == ["kept timer"] and recovered == [0.3]
    assert net.stats["dropped: receiver crashed"] == 1
    sim2 = Simulator(0)
    net2 = MessageNetwork(sim2)
    net2.add_node("a", lambda m: None)
    net2.add_node("b", lambda m: None)
    net2.crash("a")
    assert net2.send("a", "b", 1) is False and net2.stats["dropped: sender crashed"] == 1


def test_partition_cuts_both_new_and_in_flight_messages_and_heal_restores():
    sim = Simulator(0)
    net = MessageNetwork(sim, latency=Latency(0.1))
    got = []
    for name in "abc":
        net.add_node(name, lambda m, name=name: got.append((m.src, name, m.payload)))
    net.send("a", "b", "in flight")               # arrives at 0.1, after the cut at 0.05
    sim.schedule(0.05, net.partition, {"a"})     # a alone; b and c together
    sim.schedule(0.06, net.send, "a", "c", "blocked")
    sim.schedule(0.06, net.send, "b", "c", "same side")
    sim.schedule(0.2, net.heal)
    sim.schedule(0.3, net.send, "a", "b", "healed")
    sim.run()
    assert got == [("b", "c", "same side"), ("a", "b", "healed")]
    assert net.stats["dropped: partition"] == 2
    assert net.can_reach("a", "b")


def test_latency_callable_per_link():
    sim = Simulator(0)
    net = MessageNetwork(sim, latency=lambda s, d, rng: 0.5 if d == "far" else 0.01)
    got = {}
    net.add_node("here", lambda m: None)
    net.add_node("near", lambda m: got.setdefault("near", sim.now))
    net.add_node("far", lambda m: got.setdefault("far", sim.now))
    net.send("here", "far", 1)
    net.send("here", "near", 1)
    sim.run()
    assert got == {"near": 0.01, "far": 0.5}


def test_exponential_latency_has_the_requested_mean():
    rng = Simulator(3).rng
    lat = Latency(0.001, 0.01, "exponential")
    mean = sum(lat.sample(rng) for _ in range(20_000)) / 20_000
    assert mean == pytest.approx(lat.mean, rel=0.05)


@pytest.mark.parametrize("call, error", [
    (lambda: Simulator("1"), TypeError),
    (lambda: Simulator(0).schedule(-1, print), ValueError),
    (lambda: Simulator(0).schedule(math.nan, print), ValueError),
    (lambda: Simulator(0).schedule(1, "not callable"), TypeError),
    (lambda: Simulator(0).run(max_events=-1), ValueError),
    (lambda: Latency(base=-1), ValueError),
    (lambda: Latency(distribution="normal"), ValueError),
    (lambda: MessageNetwork("sim"), TypeError),
    (lambda: MessageNetwork(Simulator(0), drop=1.0), ValueError),
    (lambda: MessageNetwork(Simulator(0), bandwidth=0), ValueError),
    (lambda: MessageNetwork(Simulator(0), latency=3), TypeError),
])
def test_bad_input_is_rejected(call, error):
    with pytest.raises(error):
        call()


def test_bad_network_use_names_the_problem():
    sim = Simulator(0)
    net = MessageNetwork(sim)
    net.add_node("a", lambda m: None)
    with pytest.raises(ValueError, match="already a node"):
        net.add_node("a", lambda m: None)
    with pytest.raises(ValueError, match="dst 'zz' is not a node"):
        net.send("a", "zz", 1)
    with pytest.raises(ValueError, match="size"):
        net.send("a", "a", 1, size=-5)
    with pytest.raises(ValueError, match="two groups"):
        net.add_node("b", lambda m: None)
        net.partition({"a"}, {"a", "b"})
    with pytest.raises(TypeError, match="collection of node names"):
        net.partition("ab")
    with pytest.raises(ValueError, match="at least one group"):
        net.partition()
    with pytest.raises(ValueError, match="in the past"):
        sim.now = 5.0
        sim.at(1.0, print)
