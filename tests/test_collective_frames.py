"""The drawn all-reduce: every frame is what the plan says, and the last one is complete."""
import pytest
from hypothesis import given, settings, strategies as st
from matplotlib.figure import Figure

from distlab.concepts.kernel import block_bounds
from distlab.concepts.plans import EXACT_BUILDERS
from distlab.present import collective_frames as frames


def replay_on_sets(plan, length):
    """The plan run on sets of input indices instead of numbers: "reduce" is a union,
    "copy" a replacement, every message read at the start of its round. Per round (the
    start first), per node, per element: the set of inputs it sums."""
    bounds = block_bounds(length, plan.blocks)
    held = [[frozenset({node}) for _ in range(length)] for node in range(plan.n_nodes)]
    history = [held]
    for rnd in plan.rounds:
        after = [list(row) for row in held]
        for t in sorted(rnd.transfers, key=lambda t: (t.dst, t.src)):
            for e in range(bounds[t.chunk[0]], bounds[t.chunk[1]]):
                after[t.dst][e] = (after[t.dst][e] | held[t.src][e] if t.op == "reduce"
                                   else held[t.src][e])
        held = after
        history.append(held)
    return history


@settings(max_examples=30, deadline=None)
@given(algorithm=st.sampled_from(frames.ALGORITHMS), nodes=st.integers(1, frames.MAX_NODES))
def test_every_frame_is_the_plan_replayed_on_sets(algorithm, nodes):
    table = frames.chunk_sources(algorithm, nodes)
    plan = EXACT_BUILDERS[algorithm](nodes)
    history = replay_on_sets(plan, nodes)
    assert sorted(table["round"].unique()) == list(range(plan.n_rounds + 1))
    assert len(table) == (plan.n_rounds + 1) * nodes * nodes
    for row in table.itertuples():
        assert set(row.sources) == history[row.round][row.node][row.chunk]
        assert list(row.sources) == sorted(row.sources)


@settings(max_examples=30, deadline=None)
@given(algorithm=st.sampled_from(frames.ALGORITHMS), nodes=st.integers(1, frames.MAX_NODES))
def test_start_is_own_input_and_last_frame_sums_all_inputs(algorithm, nodes):
    table = frames.chunk_sources(algorithm, nodes)
    start = table[table["round"] == 0]
    assert all(row.sources == (row.node,) for row in start.itertuples())
    assert not start["received"].any()
    last = table[table["round"] == table["round"].max()]
    assert all(s == tuple(range(nodes)) for s in last["sources"])


@pytest.mark.parametrize("nodes", [2, 3, 4, 5, 8])
def test_ring_reduce_scatter_leaves_node_i_with_chunk_i_plus_1_complete(nodes):
    table = frames.chunk_sources("ring", nodes)
    half = table[table["round"] == nodes - 1]
    complete = {(r.node, r.chunk) for r in half.itertuples() if len(r.sources) == nodes}
    assert complete == {(i, (i + 1) % nodes) for i in range(nodes)}
    assert half["step"].iloc[0] == f"reduce-scatter {nodes - 1}/{nodes - 1}"
    # one chunk lands on each node per round, in both halves
    for k in range(1, 2 * nodes - 1):
        landed = table[(table["round"] == k) & table["received"]]
        assert sorted(landed["node"]) == list(range(nodes))


def test_received_marks_exactly_the_transfers_destinations():
    table = frames.chunk_sources("recursive_doubling", 4)
    plan = EXACT_BUILDERS["recursive_doubling"](4)
    for k, rnd in enumerate(plan.rounds, start=1):
        landed = table[(table["round"] == k) & table["received"]]
        assert set(landed["node"]) == {t.dst for t in rnd.transfers}
        assert len(landed) == 4 * len({t.dst for t in rnd.transfers})   # whole vector
    tree = frames.chunk_sources("tree", 4)
    after_reduce = tree[tree["round"] == 2]
    assert all(s == (0, 1, 2, 3) for s in after_reduce[after_reduce["node"] == 0]["sources"])


@pytest.mark.parametrize("algorithm", ["ring", "tree", "recursive_doubling"])
def test_draw_frames_returns_a_figure_with_a_panel_per_round(algorithm):
    fig = frames.draw_frames(algorithm, 4)
    assert isinstance(fig, Figure)
    rounds = EXACT_BUILDERS[algorithm](4).n_rounds
    assert len(fig.axes) == rounds + 1
    # each panel: p × p chunks of p stripes, plus an outline per landed chunk
    table = frames.chunk_sources(algorithm, 4)
    for ax, (_, panel) in zip(fig.axes, table.groupby("round")):
        assert len(ax.patches) == 4 * 4 * 4 + panel["received"].sum()


@pytest.mark.parametrize("bad, error", [(dict(algorithm="gossip_ring"), ValueError),
                                        (dict(nodes=0), ValueError),
                                        (dict(nodes=frames.MAX_NODES + 1), ValueError),
                                        (dict(nodes=2.0), TypeError)])
def test_bad_arguments_are_named(bad, error):
    name = next(iter(bad))
    with pytest.raises(error, match=name):
        frames.chunk_sources(**bad)
    with pytest.raises(error, match=name):
        frames.draw_frames(**bad)
