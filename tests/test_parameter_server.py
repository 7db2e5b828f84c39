"""The sharded parameter server: the ring's bytes and time from the cost functions, and the
mean on the simulator — bit for bit against a sum in the servers' order, and within the
summation error bound of numpy's mean."""
import numpy as np
import pytest

from distlab.concepts.cost import (Network, bytes_per_node, closed_form, cost_summary,
                                   lower_bound_bytes)
from distlab.concepts.parameter_server import shard_owner, sharded_parameter_server
from distlab.concepts.plans import ring, star
from distlab.engines.inputs import local_inputs
from distlab.engines.simulator import Simulator

NODES = (2, 3, 4, 5, 8, 16, 64)


@pytest.mark.parametrize("p", NODES)
@pytest.mark.parametrize("n", [64 * 7, 1 << 12, 3 * 5 * 7 * 64])
def test_every_node_sends_and_receives_the_rings_bytes(p, n):
    n -= n % p                                  # one equal block per node
    ps_sent, ps_received = bytes_per_node(sharded_parameter_server(p), n, 8)
    ring_sent, ring_received = bytes_per_node(ring(p), n, 8)
    assert (ps_sent == ring_sent).all() and (ps_received == ring_received).all()
    assert (ps_sent == lower_bound_bytes(p, 8 * n)).all()        # 2(p−1)/p·n, every node
    star_sent, _ = bytes_per_node(star(p), n, 8)
    assert star_sent.max() == (p - 1) * 8 * n                     # the single server's load


@pytest.mark.parametrize("p", NODES)
@pytest.mark.parametrize("n", [1, 7, 1000, 12345])
def test_uneven_blocks_still_move_the_rings_total(p, n):
    ps_sent, _ = bytes_per_node(sharded_parameter_server(p), n, 4)
    ring_sent, _ = bytes_per_node(ring(p), n, 4)
    assert ps_sent.sum() == ring_sent.sum() == 2 * (p - 1) * n * 4


@pytest.mark.parametrize("p", NODES)
def test_two_rounds_at_the_rings_alpha_beta_time(p):
    network = Network(alpha=5e-6, bandwidth=12.5e9)
    n = 1 << 17
    ps = cost_summary(sharded_parameter_server(p), n - n % p, 8, network)
    ringed = cost_summary(ring(p), n - n % p, 8, network)
    assert ps["rounds"] == 2 and ringed["rounds"] == 2 * (p - 1)
    assert ps["max_bytes_sent"] == ringed["max_bytes_sent"]
    # p − 1 messages per round through one port: 2(p − 1)(α + n/p·β), the ring's time.
    assert ps["time_s"] == pytest.approx(ringed["time_s"], rel=1e-12)
    assert ps["time_s"] == pytest.approx(
        closed_form("ring", p, 8 * (n - n % p), network)["time_s"], rel=1e-12)


def server_order_mean(values):
    """Each block j summed the way its server adds it — its own block first, then the
    others in node order — then divided by p."""
    x = np.stack(values)
    p, n = x.shape
    out = np.empty(n)
    for j, block in enumerate(np.array_split(np.arange(n), p)):
        acc = x[j, block].copy()
        for i in range(p):
            if i != j:
                acc = acc + x[i, block]
        out[block] = acc / p
    return out


@pytest.mark.parametrize("p", NODES)
def test_on_the_simulator_every_node_holds_the_mean(p):
    rng = np.random.default_rng(p)
    for values in ([rng.normal(size=1000) for _ in range(p)],
                   [rng.random(999) for _ in range(p)]):
        result = Simulator().run(sharded_parameter_server(p), local_inputs(values), Network())
        first = result.values[0]
        assert all(np.array_equal(v, first) for v in result.values)      # one value
        assert np.array_equal(first, server_order_mean(values))           # bit for bit
        x = np.stack(values)
        # Not bit for bit with numpy's mean (it adds in node order; addition is not
        # associative), but each of the two sums is within (p − 1)·u·Σ|x| of the exact one
        # (recursive summation, Higham 2002, §4.2; u = eps/2), and each division adds ½ ulp.
        mean = x.mean(axis=0)
        bound = 2 * (p - 1) * (np.finfo(float).eps / 2) * np.abs(x).sum(axis=0) / p
        assert (np.abs(first - mean) <= bound + np.abs(np.spacing(mean))).all()
        if p == 2:                                   # a + b == b + a: exactly numpy's
            assert np.array_equal(first, x.mean(axis=0))


def test_the_documents_example_is_exact():
    result = Simulator().run(sharded_parameter_server(3), local_inputs([10, 20, 30]),
                             Network())
    assert [float(v) for v in result.values] == [20.0, 20.0, 20.0]


def test_plan_shape_and_arguments():
    plan = sharded_parameter_server(4)
    assert plan.algorithm == "sharded_ps" and plan.blocks == 4 and plan.divide_by == 4
    push, pull = plan.rounds
    assert {t.op for t in push.transfers} == {"reduce"} and len(push.transfers) == 12
    assert all(t.dst == shard_owner(t.chunk[0], 4) for t in push.transfers)
    assert all(t.src == shard_owner(t.chunk[0], 4) for t in pull.transfers)
    assert plan.describe()[0].startswith("round 1: push: ")
    assert sharded_parameter_server(1).n_rounds == 0
    with pytest.raises(ValueError):
        sharded_parameter_server(0)
    with pytest.raises(TypeError):
        sharded_parameter_server(2.0)
    with pytest.raises(ValueError, match="block must be in 0 … 3"):
        shard_owner(4, 4)
    with pytest.raises(TypeError, match="block must be an int"):
        shard_owner(True, 4)
