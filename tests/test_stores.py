"""The linearizability checker, the replicated store on the simulator, and its tables:
the trade-off (chapter 02), the price of consistency (08), availability (09)."""
import copy
from collections import Counter
import itertools
import math

import pytest
from hypothesis import given, settings, strategies as st

from distlab.apps import stores as C
from distlab.concepts.linearizability import TEXTBOOK, Op, as_history, check_linearizable
from distlab.concepts.events import Latency


# -- the checker ------------------------------------------------------------------------------
def brute_force(history, initial=None) -> bool:
    """Linearizable iff some permutation respects real time and register semantics; a
    pending write may be left out (it never took effect)."""
    ops = [o for o in history if not (o.kind == "read" and o.complete is None)]
    pending = [o for o in ops if o.complete is None]
    for k in range(len(pending) + 1):
        for left_out in itertools.combinations(pending, k):
            chosen = [o for o in ops if o not in left_out]
            for order in itertools.permutations(chosen):
                if any(b.precedes(a) for i, a in enumerate(order) for b in order[i + 1:]):
                    continue
                value, legal = initial, True
                for o in order:
                    if o.kind == "write":
                        value = o.value
                    elif o.value != value:
                        legal = False
                        break
                if legal:
                    return True
    return False


def valid_order(order, history, initial=None) -> bool:
    """``order`` uses operations of ``history`` only, each once, respects real time and is
    a legal run of a register."""
    if Counter(order) - Counter(history):
        return False
    value = initial
    for i, o in enumerate(order):
        if any(later.precedes(o) for later in order[i + 1:]):
            return False
        if o.kind == "write":
            value = o.value
        elif o.value != value:
            return False
    return True


@pytest.mark.parametrize("name", list(TEXTBOOK))
def test_textbook_histories(name):
    history, expected = TEXTBOOK[name]
    result = check_linearizable(history)
    assert result.ok is expected is brute_force(history)
    if expected:
        assert valid_order(result.order, history)
        assert len(result.order) == len(history)
    else:
        assert set(result.witness) <= set(history)
        assert not check_linearizable(result.witness).ok
        assert result.reason and all(str(op) in result.reason for op in result.witness
                                     if op.kind == "read")


def test_stale_read_is_named_precisely():
    history = [("A", "write", 1, 0, 1), ("A", "write", 2, 2, 3), ("B", "read", 1, 4, 5),
               ("C", "read", 2, 0.5, 9)]
    result = check_linearizable(history)
    assert not result
    assert [str(o) for o in result.witness] == ["A:write(1) [0, 1]", "A:write(2) [2, 3]",
                                                "B:read(1) [4, 5]"]
    assert result.reason.startswith("stale read: B:read(1) [4, 5] returned the value of "
                                    "A:write(1) [0, 1], but A:write(2) [2, 3] had completed")


def test_witness_is_minimal():
    history, _ = TEXTBOOK["reads disagree on the write order"]
    witness = check_linearizable(history).witness
    for op in witness:
        rest = [o for o in witness if o is not op]
        keeps_reads_from = op.kind == "read" or not any(o.kind == "read" and o.value == op.value
                                                         for o in rest)
        if keeps_reads_from:
            assert check_linearizable(rest).ok


def test_pending_write_may_or_may_not_take_effect():
    took_effect = [("A", "write", 1, 0, None), ("B", "read", 1, 5, 6), ("B", "read", 1, 7, 8)]
    never = [("A", "write", 1, 0, None), ("B", "read", None, 5, 6)]
    flip_flop = [("A", "write", 1, 0, None), ("B", "read", 1, 5, 6), ("B", "read", None, 7, 8)]
    assert check_linearizable(took_effect) and check_linearizable(never)
    assert not check_linearizable(flip_flop)
    # A pending read constrains nothing.
    assert check_linearizable([("A", "write", 1, 0, 1), ("B", "read", 42, 2, None)])


def test_touching_operations_are_concurrent():
    assert check_linearizable([("A", "write", 1, 0, 1), ("B", "read", None, 1, 2)])
    assert not check_linearizable([("A", "write", 1, 0, 1), ("B", "read", None, 1.001, 2)])


def test_initial_value_and_input_forms():
    dicts = [{"process": 0, "kind": "read", "value": 0, "invoke": 0, "complete": 1}]
    assert check_linearizable(dicts, initial=0)
    assert not check_linearizable(dicts)
    assert check_linearizable([Op(0, "read", None, 0, 1)])
    assert check_linearizable([])


def test_caller_history_is_not_modified():
    history = [["A", "write", 1, 0, 1], ["B", "read", 2, 2, 3]]
    before = copy.deepcopy(history)
    check_linearizable(history)
    assert history == before


@pytest.mark.parametrize("history, error, match", [
    ("ops", TypeError, "list of operations"),
    ([("A", "append", 1, 0, 1)], ValueError, r"history\[0\]: kind must be one of 'read', 'write'"),
    ([("A", "write", 1, 2, 1)], ValueError, "completes"),
    ([("A", "write", 1, math.nan, 1)], ValueError, r"history\[0\]: invoke must be finite"),
    ([("A", "write", [1], 0, 1)], TypeError, "hashable"),
    ([{"process": 1, "kind": "read"}], ValueError, "missing value, invoke, complete"),
    ([("A", "write", 1, 0, 2), ("A", "read", 1, 1, 3)], ValueError, "one operation at a time"),
    ([("A", "write", 1, 0, None), ("A", "read", 1, 1, 3)], ValueError, "one operation at a time"),
    ([42], TypeError, "history\\[0\\]"),
])
def test_bad_histories_are_rejected(history, error, match):
    with pytest.raises(error, match=match):
        check_linearizable(history)


@st.composite
def small_histories(draw):
    """Up to 6 operations by up to 3 sequential processes, values from a small set."""
    ops = []
    for process in range(draw(st.integers(1, 3))):
        t = draw(st.integers(0, 4))
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["read", "write"]))
            value = draw(st.sampled_from([None, 1, 2, 3])) if kind == "read" else \
                draw(st.integers(1, 3))
            length = draw(st.integers(0, 6))
            pending = kind == "write" and draw(st.integers(0, 5)) == 0
            ops.append((process, kind, value, t, None if pending else t + length))
            if pending:
                break
            t += length + draw(st.integers(0, 3))
    return ops[:6]


@settings(max_examples=400, deadline=None)
@given(small_histories())
def test_checker_agrees_with_brute_force(history):
    ops = as_history(history)
    result = check_linearizable(ops)
    assert result.ok == brute_force(ops)
    if result.ok:
        assert valid_order(list(result.order), ops)
    else:
        assert not brute_force(list(result.witness))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_histories_of_an_atomic_register_are_linearizable(data):
    """Give every operation a random instant inside its interval and run a real register
    in that order: the history it produces must be accepted."""
    rows = []
    for process in range(data.draw(st.integers(1, 4))):
        t = data.draw(st.floats(0, 5))
        for k in range(data.draw(st.integers(1, 6))):
            length = data.draw(st.floats(0, 5))
            point = t + data.draw(st.floats(0, 1)) * length
            kind = data.draw(st.sampled_from(["read", "write"]))
            rows.append([process, kind, (process, k), t, t + length, point])
            t += length + data.draw(st.floats(0.001, 3))
    value = None
    for row in sorted(rows, key=lambda r: r[5]):
        if row[1] == "write":
            value = row[2]
        else:
            row[2] = value
    history = [tuple(r[:5]) for r in rows]
    assert check_linearizable(history).ok


# -- the store ---------------------------------------------------------------------------------
def test_strong_mode_is_linearizable_on_1000_seeds():
    bad = [s for s in range(1000) if not C.run(C.STRONG, seed=s).linearizable]
    assert bad == []


def test_strong_mode_is_linearizable_with_harsh_networks_and_other_quorums():
    configs = [C.StoreConfig(n=5, r=3, w=3, drop=0.1, latency=Latency(0.002, 0.03, "exponential")),
               C.StoreConfig(n=3, r=1, w=3), C.StoreConfig(n=3, r=3, w=1, anti_entropy=None),
               C.StoreConfig(n=4, r=2, w=3, drop=0.2, timeout=0.05)]
    workload = C.Workload(clients=4, duration=0.6, think=0.005)
    for k, config in enumerate(configs):
        for seed in range(25):
            run = C.run(config, seed=100 * k + seed, workload=workload)
            assert run.linearizable, (config, seed, run.result)


def test_eventual_mode_shows_a_stale_read_and_converges_on_every_seed():
    for seed in range(200):
        run = C.run(C.EVENTUAL, seed=seed)
        stale = C.stale_reads(run.history)
        assert stale and run.metrics["stale reads (%)"] > 0
        assert math.isfinite(run.metrics["convergence (ms)"])
        assert not run.linearizable
        read, newer = stale[0]
        assert newer.complete < read.invoke


def test_runs_are_reproducible_and_seeds_differ():
    a, b = C.run(C.EVENTUAL, seed=3), C.run(C.EVENTUAL, seed=3)
    assert a.history == b.history and a.metrics == b.metrics and a.messages == b.messages
    assert C.run(C.EVENTUAL, seed=4).history != a.history


def test_strong_costs_latency_and_availability_eventual_costs_freshness():
    table = C.tradeoff(seeds=range(10))
    strong, eventual = table.loc["strong"], table.loc["eventual"]
    assert strong["linearizable"] == "10/10" and strong["stale reads (%)"] == 0
    assert strong["had a stale read"] == "0/10"
    assert eventual["had a stale read"] == "10/10" and eventual["converged"] == "10/10"
    assert strong["write latency (ms)"] > eventual["write latency (ms)"] == 0
    # The partition cuts replica 0's client off from a quorum: strong times out, eventual never.
    assert strong["timed out (%)"] > 0 and eventual["timed out (%)"] == 0


def test_without_faults_and_with_w_equal_n_replicas_agree_when_the_write_returns():
    config = C.StoreConfig(n=3, r=1, w=3)
    run = C.run(config, seed=1, faults=())
    assert run.linearizable and run.metrics["convergence (ms)"] == 0
    assert run.metrics["timed out (%)"] == 0


def test_without_anti_entropy_a_crashed_replica_can_stay_behind():
    config = C.with_changes(C.EVENTUAL, anti_entropy=None, drop=0.3)
    never = [s for s in range(20)
             if math.isinf(C.run(config, seed=s).metrics["convergence (ms)"])]
    assert never                       # some seed loses a write for good
    config = C.with_changes(config, anti_entropy=0.05)
    assert all(math.isfinite(C.run(config, seed=s).metrics["convergence (ms)"]) for s in never)


def test_history_times_are_ms_and_processes_are_sequential():
    run = C.run(C.STRONG, seed=5)
    assert run.history and all(o.invoke <= 1000 + 1e-6 for o in run.history)
    as_history(run.history)      # raises if some process overlaps itself
    values = [o.value for o in run.history if o.kind == "write"]
    assert len(values) == len(set(values))


@pytest.mark.parametrize("kwargs, match", [
    (dict(n=0), "n \\(replicas\\) must be ≥ 1"),
    (dict(n=3, r=4), "r \\(read quorum\\) must be at most n=3"),
    (dict(n=3, w=5), "w \\(write quorum\\) must be at most n=3"),
    (dict(n=3, r=0), "r \\(read quorum\\) must be ≥ 1"),
    (dict(n=3, r=1, w=2, replication="sync"), "R \\+ W > N"),
    (dict(replication="quorum"), "replication must be one of 'sync', 'async'"),
    (dict(drop=1.5), "drop"),
    (dict(timeout=0), "timeout"),
    (dict(anti_entropy=-1), "anti_entropy"),
])
def test_impossible_settings_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        C.StoreConfig(**kwargs)


def test_bad_run_arguments_are_rejected():
    with pytest.raises(TypeError, match="StoreConfig"):
        C.run({"n": 3})
    with pytest.raises(TypeError, match="n \\(replicas\\) must be an int"):
        C.StoreConfig(n=2.5)
    with pytest.raises(ValueError, match="replicas are 0 … 2"):
        C.run(C.STRONG, faults=[C.Fault(0.1, "crash", 7)])
    with pytest.raises(ValueError, match="action must be one of"):
        C.Fault(0.1, "explode", 0)
    with pytest.raises(ValueError, match="think"):
        C.Workload(think=0)
    with pytest.raises(ValueError, match="configs must name"):
        C.tradeoff({})
    with pytest.raises(ValueError, match="seeds"):
        C.tradeoff(seeds=[])


def test_standard_faults_scale_with_n():
    assert C.standard_faults(1) == ()
    faults = C.standard_faults(5)
    assert [f.action for f in faults] == ["crash", "recover", "partition", "heal"]
    assert faults[0].target == 4 and faults[2].target == ((0,), (1, 2, 3, 4))
    assert str(faults[2]) == "550 ms: partition {0} | {1, 2, 3, 4}"


# -- the widget and plots -----------------------------------------------------------------------
def test_explorer_reruns_on_every_change_and_explains_impossible_settings():
    from distlab.present import store_plots as W

    html = W.render(3, 2, 2, 10, "sync", seeds=2)
    assert "strong (N=3, R=2, W=2, sync)" in html and "<b>2/2</b>" in html
    assert "R + W &gt; N" in W.render(3, 1, 1, 10, "sync", seeds=2)
    assert "at most n=3" in W.render(3, 5, 1, 10, "async", seeds=2)
    widget = W.explorer()
    out = widget.children[-1]
    n, r, w, delay, mode = widget.children[1:6]
    mode.value = "async"
    assert "eventual (N=3, R=2, W=2, async)" in out.value
    r.value = 1
    w.value = 1
    assert "eventual (N=3, R=1, W=1, async)" in out.value


def test_plots_draw_from_runs_and_tables():
    from distlab.present import store_plots as W

    run = C.run(C.STRONG, seed=0)
    assert W.timeline_plot(run, 500, 900).axes
    # chapter 02.2 opens its window 20 ms before a write at 0 ≤ t < 20 (refused once)
    assert W.timeline_plot(run, -20, 900).axes
    assert len(W.tradeoff_plot(C.tradeoff(seeds=range(2))).axes) == 5


# -- the tables of chapters 08 and 09 -----------------------------------------------------------
def test_price_of_consistency_strong_pays_latency_eventual_pays_staleness():
    t = C.price_of_consistency(delays_ms=(1, 10), replicas=(3,), seeds=range(2))
    assert list(t["one-way delay (ms)"]) == [1, 10] and list(t["N"]) == [3, 3]
    assert (t["linearizable: strong"] == "2/2").all()
    assert (t["eventual write (ms)"] == 0).all() and (t["eventual read (ms)"] == 0).all()
    assert (t["strong write (ms)"] > t["strong read (ms)"]).all()     # two phases vs one
    # two round trips, each at least the base delay and at most base + jitter = 3 × base
    ratio = t["strong write ÷ mean delay"]
    assert ((ratio >= 2) & (ratio <= 6)).all()
    assert t["strong write (ms)"].iloc[1] > 5 * t["strong write (ms)"].iloc[0]
    again = C.price_of_consistency(delays_ms=(1, 10), replicas=(3,), seeds=range(2))
    assert t.equals(again)                                           # deterministic


@pytest.mark.parametrize("kwargs, error, match", [
    ({"delays_ms": ()}, ValueError, "delays_ms must not be empty"),
    ({"delays_ms": (0,)}, ValueError, "delays_ms must be > 0"),
    ({"replicas": (2.5,)}, TypeError, "replicas must be an int"),
    ({"replicas": "3"}, TypeError, "replicas must be a list"),
    ({"seeds": []}, ValueError, "seeds must hold at least one seed"),
])
def test_price_of_consistency_rejects_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        C.price_of_consistency(**kwargs)


def test_replication_keeps_the_store_available():
    t = C.replicated_store_availability()
    assert list(t.index) == [1, 3]
    assert t.loc[3, "timed out (%)"] == 0 < t.loc[1, "timed out (%)"]
    assert t["linearizable"].all()
    assert t.equals(C.replicated_store_availability())              # deterministic
