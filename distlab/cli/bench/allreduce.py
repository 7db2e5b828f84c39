"""The all-reduce, measured beside gloo: every distlab algorithm on both engines, PyTorch's
gloo on as many processes, the naive Dask code and numpy in one process.

At each size, with p worker processes and the inputs already on the workers (as
gradients would be): the direct engine (the workers exchange the chunks themselves) as a
user calls it and on the workers, the same plan called by the ranks themselves (SPMD, timed
as gloo's ranks are), the task engine (a Dask task per node and round), the naive
gather → numpy.mean → scatter, and numpy in one process; each time set against gloo's, the
engines against each other, and the direct engine against its α-β prediction from a
ping-pong calibrated in the same run. Then the correctness rows (bytes each node sent ÷
the lower bound 2(p−1)/p·n, results against the numpy mean) and, for p = 2, the targets.
At the largest size, the steady rows (:mod:`.steady`): median and p90 of ≥ 20 calls per
algorithm, inputs on the workers and fresh from the client, beside gloo's.
"""
from __future__ import annotations

import statistics

import numpy as np

from distlab.cli.bench import steady
from distlab.cli.bench.report import Report
from distlab.cli.bench.timing import best_of, call_times, gloo_call_times, median_time
from distlab.engines import dask_private
from distlab.engines.workers import submit_on, wait_for_workers, worker_addresses

#: Internal to ``python -m distlab bench`` (:func:`distlab.cli.bench.run`).
__all__: list[str] = []

#: Message sizes per node for the all-reduce section.
SIZES = {"8 KiB": 8 * 1024, "1 MiB": 2**20, "64 MiB": 64 * 2**20}
QUICK_SIZES = {"8 KiB": 8 * 1024, "256 KiB": 256 * 1024}
#: Worker memory for the all-reduce section: 64 MiB vectors, an input and a result per
#: node, must not be spilled to disk (the default 512 MiB would start spilling at 60 %).
BENCH_MEMORY = "1536MiB"


def node_vector(n_bytes: int, node: int) -> np.ndarray:
    """Runs on a worker (and in the client, for the expected mean): node ``node``'s input,
    ``n_bytes`` of seeded float64 values."""
    return np.random.default_rng(node).random(max(1, n_bytes // 8))


def naive_allreduce(client, futures) -> list:
    """What a Dask user writes first: gather to the client, numpy.mean, scatter back."""
    parts = client.gather(futures)
    mean = np.mean(parts, axis=0)
    return client.scatter([mean], broadcast=True, hash=False)


def gloo_times(sizes: dict, p: int, repeats: int) -> tuple[dict | None, str]:
    """The seconds of each of ``repeats`` calls of gloo's all-reduce on ``p`` processes
    at each size (``{label: [seconds, ...]}``), or None and why not (PyTorch missing, or
    its processes failed)."""
    from distlab.engines import torch_gloo
    if not torch_gloo.available():
        return None, "PyTorch not installed"
    try:
        # largest first, then every size again: a size timed twice keeps its second
        # timing, so each one is measured warmed up (the first calls of a gloo group are
        # slower), and gloo is not shown slower than it is
        order = sorted(sizes.values(), reverse=True)
        ranks = torch_gloo.run_ranks(
            [(gloo_call_times, {"sizes": tuple(order + order), "repeats": repeats})],
            world_size=p, timeout=600)
    except Exception as exc:                     # report it in the table, do not stop
        return None, f"gloo failed: {type(exc).__name__}: {str(exc)[:80]}"
    times = ranks[0][gloo_call_times.__name__]
    return {label: times[n] for label, n in sizes.items()}, "torch.distributed, gloo"


async def _echo_all(client, workers):
    import asyncio
    await asyncio.gather(*[dask_private.call(client, w, "echo", data=b"") for w in workers])


def allreduce_section(report: Report, sizes: dict, nodes=(2, 4), repeats: int = 5,
                      with_gloo: bool = True, quick: bool = False) -> None:
    """The all-reduce comparison, one cluster of p worker processes per p."""
    from distlab.engines.cluster import connect
    from distlab.engines.calibrate import ping_pong_direct

    largest = max(sizes, key=sizes.get)
    for p in nodes:
        gloo, gloo_note = (gloo_times(sizes, p, max(steady.CALLS, 5 * repeats)) if with_gloo
                           else (None, "skipped in --quick" if quick else "skipped"))
        with connect(n_workers=p, memory_limit=BENCH_MEMORY) as client:
            try:
                wait_for_workers(client, p)
            except TimeoutError:                         # reported below, not fatal
                pass
            workers = worker_addresses(client)[:p]
            if len(workers) < p:
                report.add(f"allreduce p={p}", "skipped: the cluster has fewer workers",
                           len(workers), "workers")
                continue
            calibration = ping_pong_direct(client, repeats=3 if quick else 7,
                                           sizes=[8, *sorted(set(sizes.values()))])
            report.add(f"allreduce p={p}", "direct engine: α per message (ping-pong)",
                       calibration.alpha * 1e6, "µs")
            report.add(f"allreduce p={p}", "direct engine: 1/β between workers, one way",
                       1e-9 / calibration.beta, "GB/s",
                       reference="Dask comm on loopback: ~2.3 GiB/s (distributed#5258)",
                       ratio=(1 / calibration.beta) / (2.3 * 2**30))
            report.add(f"allreduce p={p}", "direct engine: 1/β each way, two messages "
                       "crossing", 1e-9 / calibration.beta_both, "GB/s",
                       reference="one way", ratio=calibration.beta / calibration.beta_both)
            report.add(f"allreduce p={p}", "direct engine: fixed cost of a call on the "
                       "workers", calibration.fixed * 1e3, "ms")
            report.add(f"allreduce p={p}", "direct engine: γ, arithmetic on a worker",
                       1e-9 / calibration.gamma, "GB/s")
            report.add(f"allreduce p={p}", "direct engine: a fresh result (page faults)",
                       calibration.fresh * 2**20 * 1e3, "ms/MiB")
            report.add(f"allreduce p={p}", "direct engine: client overhead per call",
                       calibration.overhead * 1e3, "ms")
            echo = median_time(
                lambda: dask_private.run_from_client(client, _echo_all, client, workers), 21)
            report.add(f"allreduce p={p}", "client → every worker → client, a bare Dask "
                       "rpc (echo)", echo * 1e3, "ms",
                       reference="the floor of any call the client makes")
            for label, n_bytes in sizes.items():
                calls = (steady.QUICK_CALLS if quick else steady.CALLS) \
                    if label == largest else 0
                _one_size(report, client, workers, p, label, n_bytes, repeats,
                          gloo[label] if gloo else None, gloo_note, calibration, calls)
        if p == 2:                                       # torch in the workers or not
            steady.torch_section(report, p, largest, sizes[largest], node_vector,
                                 steady.QUICK_CALLS if quick else steady.CALLS)
        if not quick:                                    # the targets are for 64 MiB
            steady.steady_targets(report, p, largest)


def _one_size(report, client, workers, p, label, n_bytes, repeats, gloo_calls, gloo_note,
              calibration, steady_calls=0):
    """One size: every algorithm on both engines, gloo, naive Dask, numpy. With
    ``steady_calls``, also the steady rows (:mod:`.steady`) from that many calls."""
    from distributed import wait

    from distlab.engines.allreduce import EXACT_ALGORITHMS, allreduce, make_plan
    from distlab.concepts.cost import lower_bound_bytes
    from distlab.engines.calibrate import predict_direct
    from distlab.engines.spmd import run_ranks, time_allreduce

    section = f"allreduce p={p} {label}"
    n = max(1, n_bytes // 8)
    arrays = [node_vector(n_bytes, i) for i in range(p)]
    stacked = np.stack(arrays)
    expected = stacked.mean(axis=0)
    floor = best_of(lambda: stacked.mean(axis=0))
    del stacked
    gloo = statistics.median(gloo_calls) if gloo_calls else None
    section_steady = steady.section_name(p, label)
    if steady_calls:
        report.gloo_calls[section_steady] = gloo_calls
        steady.add_references(report, section_steady, gloo_calls, floor)
    placed = [submit_on(client, node_vector, n_bytes, i, worker=w, strict=True)
              for i, w in enumerate(workers)]
    wait(placed)
    report.add(section, "numpy mean in one process (floor)", floor * 1e3, "ms")
    if gloo is not None:
        report.add(section, "gloo all-reduce (torch.distributed)", gloo * 1e3, "ms",
                   reference=gloo_note + "; ratio: ÷ numpy floor", ratio=gloo / floor)
    else:
        report.add(section, f"gloo all-reduce: {gloo_note}", None, "ms")
    bound = lower_bound_bytes(p, n * 8)
    big = n_bytes > 2**24
    repeats_tasks = max(2, repeats // 2) if big else repeats
    repeats = repeats if big else 4 * repeats + 1          # small calls are cheap: more
    direct, tasks, ranks = {}, {}, {}
    for algorithm in EXACT_ALGORITHMS:
        first, on_workers = {}, []

        def direct_run():
            result = allreduce(placed, algorithm, client, workers=workers)
            if first:
                on_workers.append(result.worker_time)
            else:                                   # the warm-up run: check its values
                first["counted"] = result.bytes_counted
                first["worst"] = max(float(np.abs(np.asarray(v) - expected).max())
                                     for v in client.gather(result.futures))
        times = call_times(direct_run, max(repeats, steady_calls))
        call = statistics.median(times)
        worst, counted = first["worst"], first["counted"]
        on_workers = statistics.median(on_workers)
        direct[algorithm] = (call, on_workers)
        model = predict_direct(make_plan(algorithm, p), n, calibration)
        gloo_text = f"gloo {gloo * 1e3:.3g} ms" if gloo is not None else "gloo: n/a"
        report.add(section, f"direct · {algorithm} · call from the client", call * 1e3, "ms",
                   reference=f"{gloo_text}; ratio: ÷ gloo",
                   ratio=None if gloo is None else call / gloo)
        if steady_calls:
            steady.add_times(report, section_steady, steady.BENCH_CLUSTER, steady.ON_WORKERS,
                             algorithm, times, gloo_calls)
            steady.add_times(report, section_steady, steady.BENCH_CLUSTER, steady.FRESH,
                             algorithm, steady.fresh_input_times(
                                 client, workers, arrays, algorithm, steady_calls),
                             gloo_calls)
        report.add(section, f"direct · {algorithm} · on the workers", on_workers * 1e3, "ms",
                   reference=f"α-β predicted {model['predicted_s'] * 1e3:.3g} ms; "
                             "ratio: ÷ predicted",
                   ratio=on_workers / model["predicted_s"])
        exact = algorithm in ("ring", "rabenseifner")
        report.add("correctness", f"p={p} {label} {algorithm}: bytes sent per node ÷ "
                   "2(p−1)/p·n", float(counted.max()) / bound, "×",
                   reference="counted by the direct engine",
                   target="= 1.000" if exact else None,
                   meets=bool(np.all(counted == bound)) if exact else None)
        report.add("correctness", f"p={p} {label} {algorithm}: max |result − numpy mean|",
                   worst, "", target="= 0" if p == 2 else "≤ 1e-12",
                   meets=worst == 0 if p == 2 else worst <= 1e-12)
        per_rank = run_ranks(client, time_allreduce, n_bytes, algorithm,
                             repeats if big else 2 * repeats + 1, workers=workers)
        ranks[algorithm] = float(np.median(np.max(per_rank, axis=0)))   # slowest rank
        report.add(section, f"direct · {algorithm} · ranks (SPMD)", ranks[algorithm] * 1e3,
                   "ms", reference=f"called on the workers, timed as gloo is; {gloo_text}; "
                   "ratio: ÷ gloo", ratio=None if gloo is None else ranks[algorithm] / gloo)
        tasks[algorithm] = median_time(
            lambda: allreduce(placed, algorithm, client, workers=workers,
                              dask_engine="tasks"), repeats_tasks)
        report.add(section, f"tasks · {algorithm}", tasks[algorithm] * 1e3, "ms",
                   reference=f"direct · {algorithm}; ratio: tasks ÷ direct",
                   ratio=tasks[algorithm] / call)
    best = min(direct, key=lambda a: direct[a][0])
    call, on_workers = direct[best]
    naive = median_time(lambda: naive_allreduce(client, placed), repeats)
    report.add(section, "naive Dask: gather → numpy.mean → scatter", naive * 1e3, "ms",
               reference=f"distlab best ({best}); ratio: naive ÷ best", ratio=naive / call)
    fastest_tasks = min(tasks, key=tasks.get)
    report.add(section, "gain of the direct engine: tasks best ÷ direct best",
               tasks[fastest_tasks] / call, "×",
               reference=f"tasks {fastest_tasks} {tasks[fastest_tasks] * 1e3:.3g} ms, "
                         f"direct {best} {call * 1e3:.3g} ms")
    if p == 2:
        fastest_ranks = min(ranks, key=ranks.get)
        _targets(report, label, best, call, on_workers, gloo, naive,
                 predict_direct(make_plan(best, p), n, calibration),
                 (fastest_ranks, ranks[fastest_ranks]))
    del placed, arrays


def _targets(report, label, best, call, on_workers, gloo, naive, model, fastest_ranks):
    """The issue's targets for p = 2 (issue 7)."""
    if gloo is not None and label in ("8 KiB", "64 MiB"):
        limit = 5 if label == "8 KiB" else 1.5
        ranks_best, ranks = fastest_ranks
        for name, what, seconds in ((best, "call from the client", call),
                                    (best, "on the workers", on_workers),
                                    (ranks_best, "ranks, SPMD as gloo", ranks)):
            report.add("targets", f"{label} p=2: distlab best ({name}, {what}) ÷ gloo",
                       seconds / gloo, "×", reference=f"gloo {gloo * 1e3:.3g} ms, "
                       f"distlab {seconds * 1e3:.3g} ms", target=f"≤ {limit}",
                       meets=seconds / gloo <= limit)
    if label == "64 MiB":
        report.add("targets", f"{label} p=2: naive ÷ distlab best ({best}, call)",
                   naive / call, "×", reference=f"naive {naive * 1e3:.3g} ms, "
                   f"distlab {call * 1e3:.3g} ms", target="≥ 3", meets=naive / call >= 3)
    for what, seconds, predicted in (
            ("on the workers", on_workers, model["predicted_s"]),
            ("call from the client", call, model["predicted_call_s"])):
        ratio = seconds / predicted
        report.add("targets", f"{label} p=2: measured ÷ α-β predicted ({best}, {what})",
                   ratio, "×", reference=f"predicted {predicted * 1e3:.3g} ms, "
                   f"measured {seconds * 1e3:.3g} ms", target="0.67 – 1.5",
                   meets=0.67 <= ratio <= 1.5)
