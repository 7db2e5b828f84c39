"""Checkers of the coding exercises of chapters 02.1, 02.2 and 10: replicas, sessions, pipelines.

Like :mod:`distlab.present.exercise_checks` (whose helpers they share), each runs the
learner's function on bounded, seeded cases and judges the results with the chapter's own
machinery, returning ``(True, note)`` or ``(False, message)``:

- 02.1 · ``replicas_for``: the fewest replicas for a target number of nines, against
  :mod:`distlab.concepts.availability` (any one replica up, or a majority);
- 02.2 · ``session_violations``: the reads that broke read-your-writes or monotonic reads in
  textbook histories and runs of the replicated store (:mod:`distlab.apps.stores`),
  against :func:`distlab.concepts.sessions.check_sessions`;
- 10 · ``capped_one_f_one_b``: a pipeline schedule whose stages never hold more than a cap of
  micro-batches' activations, played in virtual time by :mod:`distlab.concepts.pipeline`.

Every check takes well under two seconds. The reference solutions are in
:mod:`distlab.present.exercise_solutions`.
"""
from __future__ import annotations

from distlab.apps import stores
from distlab.concepts import availability, pipeline
from distlab.concepts.linearizability import Op
from distlab.concepts.sessions import GUARANTEES, SESSION_EXAMPLES, check_sessions
from distlab.present.exercise_checks import WrongAnswer, _call, _learner_function, _verdict, _whole
# The yardstick for the makespan: 1F1B with the warm-up cut to the cap (min(cap, p − i, m) − 1).
from distlab.present.exercise_solutions import capped_one_f_one_b

# --- 02.1 · replicas for a number of nines ---------------------------------------------------

#: (MTBF hours, MTTR hours, target nines, "any" or "majority"): every answer is at least
#: 0.005 nines away from its target, so float rounding cannot decide a case.
REPLICA_CASES = ((1000, 10, 5, "any"), (1000, 10, 5, "majority"), (1000, 10, 9, "majority"),
                 (500, 50, 3, "any"), (500, 50, 3, "majority"), (10_000, 1, 7, "any"),
                 (10_000, 1, 7, "majority"), (720, 24, 4, "majority"), (50, 5, 4, "majority"),
                 (50, 5, 4, "any"), (1000, 10, 1.5, "majority"))
MAX_REPLICAS = 99


def _service_nines(node_availability: float, replicas: int, need: str) -> float:
    """Nines of a service of ``replicas`` independent replicas that needs any one of them
    ("any") or a majority ("majority") up; from :mod:`distlab.concepts.availability`."""
    up = availability.any_of(node_availability, replicas) if need == "any" else \
        availability.quorum(node_availability, replicas, replicas // 2 + 1)
    return availability.nines(up)


def _fewest_replicas(mtbf_hours, mttr_hours, nines, need) -> int:
    """The fewest replicas (1 … :data:`MAX_REPLICAS`) reaching ``nines``, the checker's
    expectation."""
    a = availability.availability(mtbf_hours, mttr_hours)
    return next(n for n in range(1, MAX_REPLICAS + 1) if _service_nines(a, n, need) >= nines)


@_verdict
def check_replicas(answer):
    """``replicas_for(mtbf_hours, mttr_hours, nines, need)``: the fewest independent
    replicas whose service reaches ``nines`` when it needs any one ("any") or a majority
    ("majority") of them up."""
    replicas_for = _learner_function(answer, "replicas_for(mtbf_hours, mttr_hours, nines, need)")
    for mtbf, mttr, target, need in REPLICA_CASES:
        got = _whole(_call(replicas_for, mtbf, mttr, target, need), "the number of replicas")
        expected = _fewest_replicas(mtbf, mttr, target, need)
        if got != expected:
            a = availability.availability(mtbf, mttr)
            reached = f"{_service_nines(a, got, need):.2f} nines" if 1 <= got <= MAX_REPLICAS \
                else "no service"
            why = "too few" if got < expected else "fewer would do"
            raise WrongAnswer(f"MTBF {mtbf} h, MTTR {mttr} h, {target} nines, {need}: you say "
                              f"{got} replicas ({reached}): {why}")
    return ("any one of 3 replicas gives 6.0 nines where a majority of 3 gives 3.5: a node up "
            "91 % of the time needs 9 replicas for three nines by majority, 3 if any one will do")


# --- 02.2 · finding broken session guarantees -------------------------------------------------

#: A client whose session runs on after a timeout: c0 wrote 2, timed out reading, and as
#: c0' read the older 1 (the store runs above never show it).
AFTER_A_TIMEOUT = (Op("c0", "write", 1, 0, 1), Op("c0", "write", 2, 2, 3),
                   Op("c0", "read", None, 4, None), Op("c0'", "read", 1, 310, 311),
                   Op("c1", "read", 2, 312, 313), Op("c1", "write", 3, 314, None),
                   Op("c1'", "read", 2, 620, 621))


def _session_cases() -> list[tuple[str, tuple, dict]]:
    """(label, history, versions): the textbook examples, a session across a timeout, the
    eventual store without session guarantees on seeds 0–19 (some break them) and with
    versioned sessions on seeds 0–4 (none do)."""
    cases = [(name, ops, versions) for name, (ops, versions, _) in SESSION_EXAMPLES.items()]
    cases.append(("a session across a timeout", AFTER_A_TIMEOUT, {1: 1, 2: 2, 3: 3}))
    kept = stores.with_changes(stores.EVENTUAL, sessions="versioned")
    for config, seeds in ((stores.EVENTUAL, range(20)), (kept, range(5))):
        for seed in seeds:
            run = stores.run(config, seed=seed)
            cases.append((f"{config.label}, seed {seed}", run.history, run.versions))
    return cases


def _pairs(found, history) -> set:
    """The learner's (guarantee, read) pairs as a set; :class:`WrongAnswer` if malformed."""
    if isinstance(found, (str, bytes)) or not hasattr(found, "__iter__"):
        raise WrongAnswer(f"return a list of (guarantee, read) pairs, got {type(found).__name__}")
    pairs = set()
    for item in found:
        if not (isinstance(item, tuple) and len(item) == 2 and item[0] in GUARANTEES
                and isinstance(item[1], Op) and item[1] in history):
            raise WrongAnswer(f"each item must be a pair (guarantee, read): guarantee one of "
                              f"{GUARANTEES}, read an operation of the history; got {item!r}")
        pairs.add(item)
    return pairs


@_verdict
def check_session_violations(answer):
    """``session_violations(history, versions)``: every (guarantee, read) where a read
    broke read-your-writes or monotonic reads in its client's session, as the package's
    session checker finds them (each client one session across its timeouts)."""
    violations = _learner_function(answer, "session_violations(history, versions)")
    cases, broken = _session_cases(), 0
    for label, history, versions in cases:
        got = _pairs(_call(violations, list(history), dict(versions)), history)
        verdict = check_sessions(history, versions, session=stores.client_of)
        expected = {(v.guarantee, v.read) for v in verdict.violations}
        broken += bool(expected)
        for missed in sorted(expected - got, key=lambda pair: pair[1].invoke)[:1]:
            raise WrongAnswer(f"{label}: {missed[1]} broke {missed[0]}; you did not report it")
        for extra in sorted(got - expected, key=lambda pair: pair[1].invoke)[:1]:
            raise WrongAnswer(f"{label}: {extra[1]} did not break {extra[0]}, yet you "
                              f"report it")
    return (f"the same violations as the package's session checker on {len(cases)} histories "
            f"({broken} of them with a broken guarantee): {len(SESSION_EXAMPLES)} textbook "
            f"examples, one across a timeout, 25 runs of the eventual store")


# --- 10 · 1F1B under an activation cap ------------------------------------------------------

#: (stages, micro-batches) and caps: single stages, short and long pipes, caps below and above p.
PIPE_SIZES = ((1, 3), (2, 4), (3, 4), (4, 8), (8, 3), (8, 12))


def _makespan(order, where: str) -> float:
    """Virtual time of ``order`` (forward 1, backward 2); :class:`WrongAnswer` if it cannot run."""
    try:
        return float(pipeline.run(order)["end"].max())
    except (TypeError, ValueError) as error:
        raise WrongAnswer(f"{where}: {error}") from None


@_verdict
def check_capped_one_f_one_b(answer):
    """``capped_one_f_one_b(p, m, cap)``: every stage runs F and B of every micro-batch,
    without deadlock, holding at most ``cap`` micro-batches' activations, and finishes no
    later than 1F1B with its warm-up cut to the cap."""
    schedule = _learner_function(answer, "capped_one_f_one_b(p, m, cap)")
    for p, m in PIPE_SIZES:
        for cap in sorted({1, 2, 3, p, p + 1}):
            where = f"p = {p}, m = {m}, cap = {cap}"
            order = _call(schedule, p, m, cap)
            span = _makespan(order, where)
            peaks = pipeline.peak_in_flight(order)
            if max(peaks) > cap:
                stage = peaks.index(max(peaks))
                raise WrongAnswer(f"{where}: stage {stage} holds {peaks[stage]} micro-batches' "
                                  f"activations at once")
            best = _makespan(capped_one_f_one_b(p, m, cap), where)
            if span > best + 1e-9:
                raise WrongAnswer(f"{where}: your schedule takes {span:g} (forward 1, backward "
                                  f"2); 1F1B within the cap takes {best:g}")
    bubbles = [pipeline.bubble_fraction(pipeline.run(capped_one_f_one_b(4, 8, cap)))
               for cap in (1, 2, 3, 4)]
    return ("p = 4, m = 8: a cap of 1, 2, 3, 4 micro-batches gives a bubble of "
            + ", ".join(f"{b:.0%}" for b in bubbles))
