"""The checkers of the coding exercises: the learner's function in, (right or wrong, a note) out.

A coding exercise in ``data/exercises.toml`` names one of these as its ``function``
checker; ``exercises.check("04.ring-plan", ring_rounds)`` calls it with the learner's
function. Each checker runs that function on a few bounded, seeded cases (a handful of
nodes, tens of tasks, thousands of darts: never more than a second or two) and judges the
results with the package's own functions (the averaging kernel, the cost model, the
linearizability checker, ...), so a right answer is one the chapter's machinery accepts.

It returns ``(True, note)`` with what the answer achieved, or ``(False, message)`` saying
what went wrong (:class:`WrongAnswer`); an untouched stub, which returns
``NotImplemented``, is a wrong answer too. An exception raised by the learner's code is
left to :mod:`distlab.present.exercises`, which reports it as a wrong answer naming it.
The checkers of chapters 05 and 07, which run the learner's code on the connected cluster,
are in :mod:`distlab.present.exercise_cluster_checks`. The reference solutions are in
:mod:`distlab.present.exercise_solutions`.
"""
from __future__ import annotations

import functools
import math
from numbers import Integral

import numpy as np

from distlab.apps.data_sync import local_writes, replay
from distlab.concepts import linearizability, partitioning, plans, sizing
from distlab.concepts.cost import Network, bytes_per_node, lower_bound_bytes, plan_time
from distlab.concepts.kernel import run_plan


class WrongAnswer(Exception):
    """A wrong answer found while checking; its message is the learner's feedback."""


def _verdict(check):
    """Make ``check(answer) -> note`` a checker: ``(True, note)``, or ``(False, message)``
    when it raises :class:`WrongAnswer`. Other exceptions pass through."""
    @functools.wraps(check)
    def decide(answer):
        try:
            return True, check(answer)
        except WrongAnswer as wrong:
            return False, str(wrong)
    decide.__doc__ = (f"{check.__doc__}\n\n    Returns (True, note) or (False, message): "
                      f"any answer is judged, none raises; an exception raised by the "
                      f"learner's own code passes through.")
    return decide


def _learner_function(answer, signature: str):
    """``answer`` if it can be called, else :class:`WrongAnswer` naming ``signature``."""
    if not callable(answer):
        raise WrongAnswer(f"expected your function {signature}, got {type(answer).__name__}: "
                          f"pass the function itself, without calling it")
    return answer


def _call(function, *args, **kwargs):
    """``function(*args, **kwargs)``; :class:`WrongAnswer` if it returned
    ``NotImplemented`` (the stub)."""
    result = function(*args, **kwargs)
    if result is NotImplemented:
        raise WrongAnswer(f"{getattr(function, '__name__', 'your function')} returned "
                          f"NotImplemented: replace the stub's body with your code")
    return result


def _whole(value, what: str) -> int:
    """``value`` as an int (numpy integers too, bools not), else :class:`WrongAnswer`."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise WrongAnswer(f"{what} must be an int, got {type(value).__name__} {value!r}")
    return int(value)


# --- 00 · a seeded task ------------------------------------------------------------------

DART_SEEDS, DARTS = range(8), 20_000


@_verdict
def check_seeded_task(answer):
    """``throw(seed, darts)``: how many of ``darts`` seeded points fall in the quarter
    circle. Same seed, same count, whatever ran before; π within 0.05 over 8 seeds."""
    throw = _learner_function(answer, "throw(seed, darts)")
    first = {s: _whole(_call(throw, s, DARTS), f"throw({s}, {DARTS})") for s in DART_SEEDS}
    again = {s: _whole(_call(throw, s, DARTS), f"throw({s}, {DARTS})") for s in
             reversed(DART_SEEDS)}
    if any(not 0 <= c <= DARTS for c in first.values()):
        raise WrongAnswer(f"a count must be between 0 and darts ({DARTS:,}); got "
                          f"{list(first.values())}")
    if first != again:
        raise WrongAnswer("the same seed gave another count when called again (in another "
                          "order): draw from np.random.default_rng(seed), not a shared generator")
    if len(set(first.values())) == 1:
        raise WrongAnswer("every seed gave the same count: the seed must choose the darts")
    pi = 4 * sum(first.values()) / (DARTS * len(first))
    if abs(pi - math.pi) > 0.05:
        raise WrongAnswer(f"the counts estimate π as {pi:.4f}: count the points (x, y) of the "
                          f"unit square with x² + y² ≤ 1")
    return f"same seed, same count, in any order; 8 × {DARTS:,} darts give π ≈ {pi:.4f}"


# --- 01 · devices for memory and for time ----------------------------------------------------

#: (parameters, tokens, days, device_gb, peak_tflops, utilization): pre-training runs,
#: where compute decides, and fine-tuning runs, where memory does.
DEVICE_CASES = ((110e6, 42.6e9, 2, 80, 312, 0.4), (7e9, 2e12, 30, 80, 312, 0.4),
                (70e9, 2e9, 7, 80, 312, 0.4), (70e9, 2e12, 30, 80, 312, 0.4),
                (175e9, 300e9, 34, 80, 312, 0.4), (70e9, 1.4e12, 90, 40, 312, 0.4),
                (13e9, 1e9, 3, 24, 165, 0.4))


def _devices_for(parameters, tokens, days, device_gb, peak_tflops, utilization) -> tuple:
    """(devices to hold the mixed-precision Adam state, devices to do 6·N·D FLOPs in
    ``days``) for one case, from :mod:`distlab.concepts.sizing`."""
    memory = sizing.devices_for_memory(sizing.memory_bytes(parameters), device_gb)
    one_device_days = sizing.training_days(sizing.training_flops(parameters, tokens), 1,
                                           peak_tflops, utilization)
    return memory, math.ceil(one_device_days / days)


@_verdict
def check_devices_needed(answer):
    """``devices_needed(parameters, tokens, days, device_gb, peak_tflops, utilization)``:
    the fewest devices that hold the training state and finish in time."""
    plan = _learner_function(answer, "devices_needed(parameters, tokens, days, device_gb, "
                                    "peak_tflops, utilization)")
    for case in DEVICE_CASES:
        names = ("parameters", "tokens", "days", "device_gb", "peak_tflops", "utilization")
        got = _whole(_call(plan, **dict(zip(names, case))), "the number of devices")
        memory, compute = _devices_for(*case)
        if got != max(memory, compute):
            n, d, days, gb = case[:4]
            short = ("the training state (16 bytes per parameter) does not fit"
                     if got < memory else f"they cannot do 6·N·D FLOPs in {days} days"
                     if got < compute else "fewer devices would hold the state and finish")
            raise WrongAnswer(f"{n:.3g} parameters, {d:.3g} tokens, {days} days on {gb} GB "
                              f"devices: you say {got:,}; {short}")
    return ("a 70B model fine-tuned on 2B tokens in a week needs 14 devices (memory decides); "
            "pre-trained on 2T tokens in a month, 2,597 (compute decides)")


# --- 02 · the cost-aware partition ---------------------------------------------------------

def partition_cases() -> list[tuple[list[float], int]]:
    """40 seeded (costs, parts) cases: 4 to 20 skewed task costs, 1 to 5 parts."""
    rng = np.random.default_rng(2)
    cases = []
    for seed in range(40):
        n = int(rng.integers(4, 21))
        cases.append((partitioning.skewed_durations(n, seed=seed, mean=1.0),
                      int(rng.integers(1, min(5, n) + 1))))
    return cases


@_verdict
def check_partition(answer):
    """``partition(costs, parts)``: ``parts`` runs of consecutive task indices whose
    largest total cost is the smallest possible."""
    cut = _learner_function(answer, "partition(costs, parts)")
    for costs, parts in partition_cases():
        got = _call(cut, list(costs), parts)
        try:
            got = [[int(i) for i in part] for part in got]
        except (TypeError, ValueError):
            raise WrongAnswer(f"return a list of parts, each a list of task indices; got "
                              f"{got!r}") from None
        if len(got) != parts or not all(got) or sum(got, []) != list(range(len(costs))):
            raise WrongAnswer(f"{len(costs)} tasks into {parts} parts: every task once, in "
                              f"order, in {parts} non-empty runs of consecutive tasks; got {got}")
        best = max(partitioning.part_costs(costs, partitioning.partition_cost_aware(costs,
                                                                                    parts)))
        largest = max(partitioning.part_costs(costs, got))
        if largest > best * (1 + 1e-9):
            raise WrongAnswer(f"costs {[round(c, 2) for c in costs]} into {parts} parts: your "
                              f"largest part costs {largest:.3f}; {best:.3f} is possible")
    return "the largest part is as small as it can be on 40 seeded task lists"


# --- 03 · the data-sync algorithm's reads ----------------------------------------------------

@_verdict
def check_read_gaps(answer):
    """``read_gaps(writes, sync_every)``: after each write (and its sync), how far a read
    can be from the mean of the replicas; compared with :func:`replay`."""
    gaps = _learner_function(answer, "read_gaps(writes, sync_every)")
    for seed, nodes, every in [(s, n, e) for s in (0, 1) for n in (2, 3) for e in (1, 4, 5, 12)]:
        writes = local_writes(nodes, 12, seed=seed)
        expected = replay(writes, every)["history"]["read disagreement"].to_numpy()
        got = _call(gaps, writes.copy(), every)
        try:
            got = np.asarray(got, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise WrongAnswer(f"return one number per write, got {got!r}") from None
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=0, atol=1e-9):
            raise WrongAnswer(f"{nodes} nodes, seed {seed}, sync every {every}: expected "
                              f"{np.round(expected, 3).tolist()}, got {np.round(got, 3).tolist()}")
    return "every read gap equals replay's, for 2 and 3 nodes, syncing every 1, 4, 5 and 12 writes"


# --- 04 · the ring plan ----------------------------------------------------------------------

RING_NODES = (2, 3, 4, 5, 8)
OPS = ("reduce", "copy")


def _as_plan(rounds, p: int) -> plans.Plan:
    """The learner's rounds of (src, dst, chunk, op) as a :class:`~distlab.concepts.plans.Plan`
    over ``p`` chunks, ending with the divide by p; :class:`WrongAnswer` if malformed."""
    if not isinstance(rounds, (list, tuple)) or len(rounds) > 4 * p:
        raise WrongAnswer(f"ring_rounds({p}) must return a list of at most {4 * p} rounds, "
                          f"got {type(rounds).__name__}")
    built = []
    for k, transfers in enumerate(rounds, 1):
        if not isinstance(transfers, (list, tuple)) or len(transfers) > p * p:
            raise WrongAnswer(f"round {k} must be a list of transfers (src, dst, chunk, op)")
        moves = []
        for t in transfers:
            if not (isinstance(t, (list, tuple)) and len(t) == 4 and t[3] in OPS
                    and all(isinstance(x, Integral) and not isinstance(x, bool) and 0 <= x < p
                            for x in t[:3]) and t[0] != t[1]):
                raise WrongAnswer(f"round {k}: {t!r} is not a transfer (src, dst, chunk, op) "
                                  f"with nodes and chunk in 0 … {p - 1}, src ≠ dst and op "
                                  f"'reduce' or 'copy'")
            moves.append(plans.Transfer(int(t[0]), int(t[1]), (int(t[2]), int(t[2]) + 1), t[3]))
        built.append(plans.Round(tuple(moves), f"round {k}"))
    return plans.Plan("ring (yours)", p, p, tuple(built), divide_by=p)


@_verdict
def check_ring_plan(answer):
    """``ring_rounds(p)``: every node ends with the mean, and no node sends more than the
    bandwidth lower bound 2(p − 1)/p · n (Patarasuk & Yuan 2009)."""
    ring = _learner_function(answer, "ring_rounds(p)")
    for p in RING_NODES:
        plan = _as_plan(_call(ring, p), p)
        n = 3 * p                                            # p divides n: exact chunk bytes
        values = np.random.default_rng(p).normal(size=(p, n))
        final, _ = run_plan(plan, list(values), np.float64)
        mean = np.split(values.mean(axis=0), p)
        for node, value in enumerate(final):
            wrong = [c for c, (a, b) in enumerate(zip(np.split(value, p), mean))
                     if not np.allclose(a, b, rtol=1e-12, atol=1e-12)]
            if wrong:
                raise WrongAnswer(f"p = {p}: node {node} does not end with the mean in chunks "
                                  f"{wrong}")
        sent, bound = bytes_per_node(plan, n, 8)[0], lower_bound_bytes(p, n * 8)
        if sent.max() > bound + 0.5:
            node = int(sent.argmax())
            raise WrongAnswer(f"p = {p}: node {node} sends {sent[node] / (n * 8):.3g} · n bytes; "
                              f"the bound 2(p − 1)/p · n is {bound / (n * 8):.3g} · n")
    rounds4 = len(_call(ring, 4))
    return (f"every node ends at the mean and sends 2(p − 1)/p · n bytes, for p = "
            f"{', '.join(map(str, RING_NODES))}; 4 nodes: {rounds4} rounds, 1.5 · n bytes each")


# --- 06 · local SGD under a byte budget ----------------------------------------------------

STEPS, NODES, MODEL_ELEMENTS = 96, 4, 65 * 10
BUDGETS = (41_600, 100_000, 300_000, 1_000_000, 4_000_000)


def allreduce_bytes() -> int:
    """Bytes all 4 nodes send in one all-reduce of the (65, 10) float64 model by recursive
    doubling, chapter 06's algorithm: 41,600."""
    return int(bytes_per_node(plans.recursive_doubling(NODES), MODEL_ELEMENTS, 8)[0].sum())


@_verdict
def check_pick_h(answer):
    """``pick_h(budget_bytes)``: the smallest H dividing 96 whose 96 / H all-reduces fit
    the budget."""
    pick = _learner_function(answer, "pick_h(budget_bytes)")
    per_round = allreduce_bytes()
    for budget in BUDGETS:
        h = _whole(_call(pick, budget), f"pick_h({budget:,})")
        if h < 1 or STEPS % h:
            raise WrongAnswer(f"pick_h({budget:,}) = {h}: H must divide {STEPS}, so that "
                              f"every round has H steps")
        best = min(d for d in range(1, STEPS + 1)
                   if STEPS % d == 0 and STEPS // d * per_round <= budget)
        if STEPS // h * per_round > budget:
            raise WrongAnswer(f"H = {h} means {STEPS // h} all-reduces, "
                              f"{STEPS // h * per_round:,} bytes: over the budget of {budget:,}")
        if h != best:
            raise WrongAnswer(f"H = {h} fits {budget:,} bytes, but a smaller H does too and "
                              f"averages more often")
    return (f"each all-reduce of the model costs {per_round:,} bytes; a 300,000-byte budget "
            f"buys H = 16: 6 rounds, {6 * per_round:,} bytes, the chapter's run")


# --- 08 · an automatic tuner ----------------------------------------------------------------

TUNE_NODES, TUNE_BYTES = (2, 6, 16, 64), (8, 1024, 131_072, 8 * 2**20, 2**30)
TUNE_NETWORKS = (Network(alpha=5e-6, bandwidth=12.5e9), Network(alpha=5e-4, bandwidth=1.25e9))


@_verdict
def check_autotune(answer):
    """``fastest(p, n_bytes, network)``: the name of an exact all-reduce whose plan's α-β
    time is the smallest (ties: any of them)."""
    fastest = _learner_function(answer, "fastest(p, n_bytes, network)")
    for p in TUNE_NODES:
        built = {name: build(p) for name, build in plans.EXACT_BUILDERS.items()}
        for network in TUNE_NETWORKS:
            for n_bytes in TUNE_BYTES:
                times = {name: plan_time(plan, n_bytes // 8, 8, network)
                         for name, plan in built.items()}
                name = _call(fastest, p, n_bytes, network)
                if name not in times:
                    raise WrongAnswer(f"fastest returned {name!r}; return one of "
                                      f"{', '.join(times)}")
                if times[name] > min(times.values()) * (1 + 1e-9):
                    raise WrongAnswer(f"p = {p}, {n_bytes:,} bytes, α = {network.alpha:g} s, "
                                      f"{network.bandwidth:g} B/s: {name} takes "
                                      f"{times[name] * 1e3:.4g} ms; "
                                      f"{min(times, key=times.get)} takes "
                                      f"{min(times.values()) * 1e3:.4g} ms")
    return "the fastest plan on 40 cases: latency-bound sizes pick few rounds, large ones few bytes"


# --- 09 · linearizability by brute force ----------------------------------------------------

def _random_history(seed: int) -> list:
    """3 to 5 completed operations of 2 or 3 processes on one register (each process one
    operation at a time; reads return the initial value or some written one)."""
    rng = np.random.default_rng(seed)
    processes = ["A", "B", "C"][:int(rng.integers(2, 4))]
    clock = {p: float(rng.integers(0, 4)) for p in processes}
    ops, written = [], []
    for k in range(int(rng.integers(3, 6))):
        p = processes[int(rng.integers(len(processes)))]
        start = clock[p] + float(rng.integers(0, 3)) + 0.1 * k
        clock[p] = end = start + float(rng.integers(1, 5))
        if rng.random() < 0.5:
            written.append(len(written) + 1)
            ops.append(linearizability.Op(p, "write", written[-1], start, end))
        else:
            value = ([None] + written)[int(rng.integers(len(written) + 1))]
            ops.append(linearizability.Op(p, "read", value, start, end))
    return ops


def linearizability_cases() -> list:
    """The textbook histories whose operations all completed, then 100 seeded ones."""
    textbook = [list(h) for h, _ in linearizability.TEXTBOOK.values()
                if all(op.complete is not None for op in h)]
    return textbook + [_random_history(seed) for seed in range(100)]


@_verdict
def check_linearizable(answer):
    """``linearizable(history)``: True or False, as the package's checker
    (Wing & Gong search, Lowe's cache) decides, on every case."""
    decide = _learner_function(answer, "linearizable(history)")
    cases = linearizability_cases()
    for history in cases:
        got = _call(decide, list(history))
        if not isinstance(got, (bool, np.bool_)):
            raise WrongAnswer(f"return True or False, got {type(got).__name__} {got!r}")
        expected = linearizability.check_linearizable(history).ok
        if bool(got) != expected:
            shown = ", ".join(str(op) for op in history)
            raise WrongAnswer(f"[{shown}] is {'' if expected else 'not '}linearizable; you "
                              f"said {bool(got)}")
    return f"your verdict equals the package checker's on {len(cases)} histories"

