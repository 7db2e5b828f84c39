"""Session guarantees (read your writes, monotonic reads): the pure checker, and the
eventual store broken and kept by sticky or versioned sessions over 1,000 seeds."""
import math

import pytest
from hypothesis import given, settings, strategies as st

from distlab.apps import stores
from distlab.concepts.linearizability import Op, check_linearizable
from distlab.concepts.sessions import (GUARANTEES, SESSION_EXAMPLES, SessionVerdict,
                                       check_sessions)

RYW, MR = GUARANTEES


# -- the checker --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(SESSION_EXAMPLES))
def test_examples(name):
    history, versions, broken = SESSION_EXAMPLES[name]
    verdict = check_sessions(history, versions)
    assert tuple(v.guarantee for v in verdict.violations) == broken
    assert verdict.ok is (not broken) and bool(verdict) is verdict.ok


def test_a_violation_names_both_operations():
    history, versions, _ = SESSION_EXAMPLES["own write lost (DDIA fig. 5-3)"]
    verdict = check_sessions(history, versions)
    (v,) = verdict.violations
    assert (v.session, str(v.earlier), str(v.read)) == ("A", "A:write(1) [0, 1]",
                                                        "A:read(initial) [2, 3]")
    assert "read your writes: session 'A' read A:read(initial) [2, 3], older than its own " \
           "write A:write(1) [0, 1]" == str(v)
    assert str(verdict).startswith("1 × read your writes; the first:")
    assert verdict.count(RYW) == 1 and verdict.count(MR) == 0


def test_sessions_group_processes_and_pending_operations_promise_nothing():
    history = [("c0", "write", 1, 0, 1), ("c0'", "read", None, 2, 3)]
    assert check_sessions(history, {1: 1})                          # two processes
    assert not check_sessions(history, {1: 1}, session=lambda p: p.rstrip("'"))
    pending = [("A", "write", 1, 0, None), ("B", "read", None, 5, 6)]
    assert check_sessions(pending, {1: 1}, session=lambda p: "one")
    unanswered = [("A", "write", 2, 0, 1), ("A", "read", 1, 2, None)]
    assert check_sessions(unanswered, {1: 1, 2: 2})


def test_a_newer_write_by_another_session_but_not_an_older_one():
    history = [("A", "write", 1, 0, 1), ("B", "write", 2, 0, 1), ("A", "read", 2, 2, 3)]
    assert check_sessions(history, {1: 1, 2: 2})
    assert not check_sessions(history, {1: 2, 2: 1})                # 2 is older than A's 1


def brute_force(history, versions, initial=None):
    """Every (guarantee, read) pair broken, by the definitions: compare each completed
    read with every earlier completed operation of its session."""
    def rank(value):
        return (1, versions[value]) if value in versions else (0,)
    broken = set()
    for r in history:
        if r.kind != "read" or r.complete is None:
            continue
        for e in history:
            if e.process != r.process or e.complete is None or e.invoke >= r.invoke:
                continue
            if rank(r.value) < rank(e.value):
                broken.add((RYW if e.kind == "write" else MR, r))
    return broken


@st.composite
def session_histories(draw):
    """Up to 3 sequential processes; every value written once with a random version."""
    ops, written = [], []
    for process in range(draw(st.integers(1, 3))):
        t = draw(st.integers(0, 3))
        for _ in range(draw(st.integers(0, 5))):
            length = draw(st.integers(0, 3))
            pending = draw(st.integers(0, 6)) == 0
            if draw(st.booleans()) or not written:
                value = len(written) + 1
                written.append(value)
                ops.append(Op(process, "write", value, t, None if pending else t + length))
                if pending:
                    break
            else:
                value = draw(st.sampled_from([None] + written))
                ops.append(Op(process, "read", value, t, t + length))
            t += length + draw(st.integers(1, 3))
    order = draw(st.permutations(written))
    return ops, {v: order.index(v) for v in written}


@settings(max_examples=300, deadline=None)
@given(session_histories())
def test_checker_agrees_with_the_definitions(case):
    history, versions = case
    verdict = check_sessions(history, versions)
    assert {(v.guarantee, v.read) for v in verdict.violations} == \
        brute_force(history, versions)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_linearizable_histories_keep_both_guarantees(data):
    """An atomic register run at random instants inside each operation: the history is
    linearizable and, with versions in that order, keeps both guarantees."""
    rows = []
    for process in range(data.draw(st.integers(1, 4))):
        t = data.draw(st.floats(0, 5))
        for k in range(data.draw(st.integers(1, 6))):
            length = data.draw(st.floats(0, 5))
            point = t + data.draw(st.floats(0, 1)) * length
            rows.append([process, data.draw(st.sampled_from(["read", "write"])), (process, k),
                         t, t + length, point])
            t += length + data.draw(st.floats(0.001, 3))
    value, versions = None, {}
    for row in sorted(rows, key=lambda r: r[5]):
        if row[1] == "write":
            value = row[2]
            versions[value] = len(versions)
        else:
            row[2] = value
    history = [tuple(r[:5]) for r in rows]
    assert check_linearizable(history).ok and check_sessions(history, versions).ok


@pytest.mark.parametrize("call, error, match", [
    (lambda: check_sessions([], [1]), TypeError, "versions must be a mapping"),
    (lambda: check_sessions([], {}, session=3), TypeError, "session must be callable"),
    (lambda: check_sessions([("A", "read", 5, 0, 1)], {}), ValueError, "has no version"),
    (lambda: check_sessions("ops", {}), TypeError, "list of operations"),
    (lambda: SessionVerdict().count("causal"), ValueError, "guarantee must be one of"),
])
def test_bad_input_is_rejected(call, error, match):
    with pytest.raises(error, match=match):
        call()


# -- the eventual store -------------------------------------------------------------------------
SEEDS = range(1000)


def test_without_sessions_the_eventual_store_breaks_both_guarantees_on_some_seeds():
    verdicts = [stores.session_check(stores.run(stores.EVENTUAL, seed=s)) for s in range(100)]
    assert sum(v.count(RYW) > 0 for v in verdicts) >= 10
    assert sum(v.count(MR) > 0 for v in verdicts) >= 5
    first = next(v for v in verdicts if not v).violations[0]
    assert first.session == stores.client_of(first.read.process)


@pytest.mark.parametrize("mode", ["sticky", "versioned"])
def test_sessions_keep_both_guarantees_on_1000_seeds(mode):
    config = stores.with_changes(stores.EVENTUAL, sessions=mode)
    broken = [s for s in SEEDS if not stores.session_check(stores.run(config, seed=s))]
    assert broken == []


def test_versioned_sessions_hold_under_harsh_networks_and_wider_quorums():
    configs = [stores.StoreConfig(n=5, r=1, w=1, replication="async", drop=0.1,
                                  sessions="versioned"),
               stores.StoreConfig(n=3, r=2, w=1, replication="async", anti_entropy=None,
                                  drop=0.2, sessions="versioned"),
               stores.StoreConfig(n=4, r=1, w=2, replication="async", sessions="sticky")]
    workload = stores.Workload(clients=4, duration=0.6, think=0.005)
    for k, config in enumerate(configs):
        for seed in range(50):
            outcome = stores.run(config, seed=100 * k + seed, workload=workload)
            assert stores.session_check(outcome), (config, seed)


def test_sessions_change_nothing_else_and_cost_what_they_say():
    table = stores.session_guarantees(seeds=range(20))
    assert list(table.index) == ["none", "sticky", "versioned"]
    assert table.loc["none", "broke read your writes"] != "0/20"
    for mode in ("sticky", "versioned"):
        assert table.loc[mode, "broke read your writes"] == "0/20"
        assert table.loc[mode, "broke monotonic reads"] == "0/20"
    # Sticky clients wait while their replica is down; versioned ones fail over.
    assert table.loc["sticky", "timed out (%)"] > table.loc["versioned", "timed out (%)"]
    assert table.loc["none", "timed out (%)"] == 0
    # Neither fix makes the store linearizable: other clients still read stale data.
    assert (table["linearizable"] == "0/20").all()
    assert table.equals(stores.session_guarantees(seeds=range(20)))      # deterministic


def test_runs_record_the_version_of_every_write():
    for config in (stores.STRONG, stores.EVENTUAL):
        outcome = stores.run(config, seed=2)
        # A write that timed out before its version was chosen never took effect.
        written = {o.value for o in outcome.history
                   if o.kind == "write" and o.complete is not None}
        read = {o.value for o in outcome.history if o.kind == "read" and o.complete is not None}
        assert written | (read - {None}) <= set(outcome.versions)
        assert len(set(outcome.versions.values())) == len(outcome.versions)
        assert all(math.isfinite(v.counter) for v in outcome.versions.values())


@pytest.mark.parametrize("kwargs, match", [
    (dict(sessions="causal"), "sessions must be one of 'none', 'sticky', 'versioned'"),
    (dict(replication="sync", sessions="sticky"), "needs replication='async'"),
])
def test_impossible_session_settings_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        stores.StoreConfig(**kwargs)


def test_bad_session_arguments_are_rejected():
    with pytest.raises(TypeError, match="stores Run"):
        stores.session_check([])
    with pytest.raises(ValueError, match="async"):
        stores.session_guarantees(config=stores.STRONG)
    with pytest.raises(ValueError, match="seeds"):
        stores.session_guarantees(seeds=[])
    assert stores.with_changes(stores.EVENTUAL, sessions="versioned").label == \
        "eventual (N=3, R=1, W=1, async, versioned sessions)"
