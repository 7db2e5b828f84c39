"""distlab.apps.sync_strategies: strong (an exact all-reduce) against eventual (gossip) on
the averaging formula, exact on the simulator."""
import pytest

from distlab.apps import sync_strategies


EXACT = "exact all-reduce (BSP; the document's \"strong\")"
COMPLETE = "gossip, complete graph (the document's \"eventual\")"
RING = "gossip, ring neighbours (the document's \"eventual\")"


def test_averaging_sync_strong_is_exact_eventual_is_close():
    t = sync_strategies.averaging_sync(n_nodes=8, tolerance=1e-6)
    exact = t.loc[EXACT]
    assert exact["rounds"] == 3 and exact["final disagreement"] == "0"  # lg 8 rounds
    for kind in (COMPLETE, RING):
        assert float(t.loc[kind, "final disagreement"]) <= 1e-6
        assert t.loc[kind, "rounds"] > exact["rounds"]
    assert t.loc[RING, "rounds"] > \
        t.loc[COMPLETE, "rounds"]


def test_bad_input():
    with pytest.raises(TypeError, match="n_nodes must be an int"):
        sync_strategies.averaging_sync(n_nodes=2.0)
