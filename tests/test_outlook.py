"""distlab.apps.outlook: chapter 08's measurements of the two challenges (simulator and cost
model exact; the live table checked for shape and plan facts only)."""
import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from distlab.apps import outlook
from distlab.concepts.cost import Network

matplotlib.use("Agg")


def test_price_of_consistency_strong_pays_latency_eventual_pays_staleness():
    t = outlook.price_of_consistency(delays_ms=(1, 10), replicas=(3,), seeds=range(2))
    assert list(t["one-way delay (ms)"]) == [1, 10] and list(t["N"]) == [3, 3]
    assert (t["linearizable: strong"] == "2/2").all()
    assert (t["eventual write (ms)"] == 0).all() and (t["eventual read (ms)"] == 0).all()
    assert (t["strong write (ms)"] > t["strong read (ms)"]).all()     # two phases vs one
    # two round trips, each at least the base delay and at most base + jitter = 3 × base
    ratio = t["strong write ÷ mean delay"]
    assert ((ratio >= 2) & (ratio <= 6)).all()
    assert t["strong write (ms)"].iloc[1] > 5 * t["strong write (ms)"].iloc[0]
    again = outlook.price_of_consistency(delays_ms=(1, 10), replicas=(3,), seeds=range(2))
    assert t.equals(again)                                           # deterministic


@pytest.mark.parametrize("kwargs, error, match", [
    ({"delays_ms": ()}, ValueError, "delays_ms must not be empty"),
    ({"delays_ms": (0,)}, ValueError, "delays_ms must hold positive numbers"),
    ({"replicas": (2.5,)}, ValueError, "replicas must hold positive ints"),
    ({"replicas": "3"}, TypeError, "replicas must be a list"),
    ({"seeds": []}, ValueError, "seeds must hold at least one seed"),
])
def test_price_of_consistency_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        outlook.price_of_consistency(**kwargs)


@settings(max_examples=30, deadline=None)
@given(gradient_bytes=st.floats(1e3, 1e10), compute_s=st.floats(1e-3, 100),
       alpha=st.floats(0, 1e-2), bandwidth=st.floats(1e6, 1e11))
def test_efficiency_invariants(gradient_bytes, compute_s, alpha, bandwidth):
    t = outlook.efficiency(nodes=(1, 2, 4, 8, 16), gradient_bytes=gradient_bytes,
                           compute_s=compute_s, network=Network(alpha=alpha,
                                                                bandwidth=bandwidth))
    assert ((t["efficiency"] > 0) & (t["efficiency"] <= 1 + 1e-12)).all()
    np.testing.assert_allclose(t["speed-up"], t["nodes"] * t["efficiency"])
    assert (t.loc[t["nodes"] == 1, "efficiency"] == 1).all()
    star = t[t.algorithm == "star"].set_index("nodes")["efficiency"]
    assert star.is_monotonic_decreasing                   # the root's load grows with p


def test_efficiency_with_bandwidth_bound_gradients():
    t = outlook.efficiency()
    e = t.pivot(index="nodes", columns="algorithm", values="efficiency")
    assert (e["ring"] >= e["star"] - 1e-12).all()
    assert e.loc[64, "star"] < 0.05 and e.loc[64, "ring"] > 0.7
    np.testing.assert_allclose(e["ring"], e["rabenseifner"], atol=2e-3)


def test_efficiency_rejects_bad_input():
    with pytest.raises(ValueError, match="compute_s must be a positive number"):
        outlook.efficiency(compute_s=0)
    with pytest.raises(TypeError, match="algorithms must be a non-empty list"):
        outlook.efficiency(algorithms="ring")
    with pytest.raises(TypeError, match="network must be"):
        outlook.efficiency(network=None)
    with pytest.raises(ValueError, match="unknown algorithm"):
        outlook.efficiency(algorithms=("bus",))


def test_plot_efficiency():
    import matplotlib.pyplot as plt
    fig = outlook.plot_efficiency(outlook.efficiency(nodes=(1, 2, 4)))
    assert len(fig.axes[0].lines) == 4
    plt.close(fig)
    with pytest.raises(TypeError, match="efficiency"):
        outlook.plot_efficiency({"nodes": [1]})


def test_live_star_vs_ring_reports_the_plans(client):
    t = outlook.live_star_vs_ring(client, nodes=(2, 3), n_bytes=8 << 10)
    assert list(zip(t["nodes"], t["algorithm"])) == [(2, "star"), (2, "ring"),
                                                     (3, "star"), (3, "ring")]
    assert list(t["rounds"]) == [2, 2, 2, 4]
    assert (t["measured (ms)"] > 0).all()
