"""``python -m distlab bench``: measure the book and the engine on this machine.

Everything is reported beside a reference — a documented figure, a lower bound, a model's
prediction, or another tool measured in the same run — so the numbers mean something on any
machine. Results go to a folder as ``results.md`` (the targets, then every measurement),
``results.csv`` and ``results.png``. ``--quick`` is a smoke run of seconds (small sizes,
p = 2, no book and no training). Timings are reported here and nowhere else: the tests
check only the shape of the output and the correctness ratios (bytes ÷ bound, results
equal).

Sections, in the order they run (reference/performance-models.md §7: numpy first, then
Dask, so that nothing else competes for the cores):

- ``floor``: copy bandwidth and the numpy mean in one process.
- ``dask``: Dask's per-task overhead and round trip, beside the documented figures.
- ``allreduce p=… …``: at 8 KiB, 1 MiB and 64 MiB per node with p = 2 and 4 worker
  processes, every distlab algorithm on both engines (``direct``: the workers exchange the
  chunks themselves; ``tasks``: a Dask task per node and round), PyTorch's gloo all-reduce
  on as many processes, the naive Dask code (gather → numpy.mean → scatter), numpy in one
  process; each time set against gloo's, the engine's against the other's, and the direct
  engine's against its α-β prediction from a ping-pong calibrated in the same run.
  Inputs are already on the workers, as gradients would be. Two times for the direct
  engine: "call from the client" is the median wall time of ``allreduce(...)`` as a
  user calls it (checks, the client's messages to the workers, the collective, the
  results registered as futures); "on the workers" is the slowest node's time from
  reading its input to holding its result, which is how gloo's time is taken
  (:func:`distlab.engines.torch_gloo.time_allreduce`: barrier, then the slowest rank's
  ``all_reduce``; median).
- ``correctness``: bytes each node sent (counted by the engine) ÷ the lower bound
  2(p−1)/p·n, and the results against the numpy mean.
- ``scaling``: a CPU-bound map on 1 and 2 workers.
- ``training``: chapter 06's accuracy against scikit-learn's, and the communication rounds
  local SGD needs against synchronous SGD.
- ``book``: each notebook's time and the peak memory of its whole process tree.
"""
from __future__ import annotations

import os
import platform
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["section", "measure", "value", "unit", "reference", "ratio", "target", "meets"]


@dataclass
class Report:
    rows: list = field(default_factory=list)

    def add(self, section, measure, value, unit, reference=None, ratio=None, target=None,
            meets=None):
        self.rows.append(dict(section=section, measure=measure, value=value, unit=unit,
                              reference=reference, ratio=ratio, target=target, meets=meets))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)


def best_of(func, repeats: int = 5) -> float:
    """The fastest of ``repeats`` runs of ``func()``, in seconds (the least disturbed one)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def machine() -> dict:
    import psutil
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {name: metadata.version(name) for name in ("dask", "distributed", "numpy")}
    try:
        versions["torch"] = metadata.version("torch")
    except metadata.PackageNotFoundError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "system": f"{platform.system()} {platform.release()}",
            **versions}


# ---------------------------------------------------------------- the floor: numpy here

def numpy_floor(report: Report, n_bytes: int) -> None:
    n = n_bytes // 8
    a, out = np.ones(n), np.empty(n)
    copy = best_of(lambda: np.copyto(out, a))
    report.add("floor", f"np.copyto {n_bytes / 2**20:g} MiB", 2 * n_bytes / copy / 1e9, "GB/s")
    parts = np.ones((2, n))
    mean = best_of(lambda: parts.mean(axis=0))
    report.add("floor", f"numpy mean of 2 × {n_bytes / 2**20:g} MiB", mean * 1e3, "ms",
               reference="copy bandwidth", ratio=(3 * n_bytes / mean / 1e9) / (2 * n_bytes / copy / 1e9))


# ---------------------------------------------------------------- Dask's own overheads

def _noop(i):
    return i


def dask_overheads(report: Report, client, tasks: int) -> None:
    client.submit(_noop, -1, pure=False).result()          # warm up
    start = time.perf_counter()
    client.gather(client.map(_noop, range(tasks), pure=False))
    per_task = (time.perf_counter() - start) / tasks
    report.add("dask", f"per-task overhead ({tasks} no-op tasks)", per_task * 1e6, "µs",
               reference="Dask docs: 200 µs – 1 ms per task", ratio=per_task / 1e-3)
    trips = []
    for i in range(30):
        start = time.perf_counter()
        client.submit(_noop, i, pure=False).result()
        trips.append(time.perf_counter() - start)
    trip = statistics.median(trips)
    report.add("dask", "round trip submit().result(), median", trip * 1e3, "ms",
               reference="distributed#836: 10–20 ms", ratio=trip / 10e-3)


# ---------------------------------------------------------------- CPU-bound scaling

def cpu_speedup(report: Report, tasks: int, darts: int) -> None:
    """The same CPU-bound map on 1 and on 2 worker processes; and, as the machine's own
    ceiling at that moment, on 1 and 2 bare processes (a process pool, no Dask)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    from distlab.engines.cluster import connect
    from distlab.concepts.darts import darts_in_circle
    seconds, bare = {}, {}
    for workers in (1, 2):
        with connect(n_workers=workers) as client:
            client.gather(client.map(darts_in_circle, range(workers), darts=1000, pure=False))

            def run():
                client.gather(client.map(darts_in_circle, range(tasks), darts=darts,
                                         pure=False))
            seconds[workers] = best_of(run, repeats=3)     # the least disturbed of three
        report.add("scaling", f"{tasks} CPU-bound tasks on {workers} worker(s)",
                   seconds[workers], "s")
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) \
                as pool:
            list(pool.map(partial(darts_in_circle, darts=1000), range(workers)))
            bare[workers] = best_of(lambda: list(pool.map(
                partial(darts_in_circle, darts=darts), range(tasks))), repeats=3)
        report.add("scaling", f"{tasks} CPU-bound tasks on {workers} bare process(es)",
                   bare[workers], "s", reference="a process pool, no Dask")
    speedup, ceiling = seconds[1] / seconds[2], bare[1] / bare[2]
    report.add("scaling", "bare processes: speed-up of 2 over 1", ceiling, "×",
               reference="the machine's ceiling now (ideal 2)", ratio=ceiling / 2)
    report.add("scaling", "speed-up on 2 workers over 1", speedup, "×",
               reference="bare processes; ratio: ÷ bare", ratio=speedup / ceiling,
               target="≥ 1.8", meets=speedup >= 1.8)


# ---------------------------------------------------------------- the naive all-reduce

def _mean_of(*parts):
    return np.mean(parts, axis=0)


def naive_allreduce(client, futures) -> list:
    """What a Dask user writes first: gather to the client, numpy.mean, scatter back."""
    parts = client.gather(futures)
    mean = np.mean(parts, axis=0)
    return client.scatter([mean], broadcast=True, hash=False)


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


def _median_time(run, repeats: int) -> float:
    run()                                        # warm-up: connections, caches, plans
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gloo_times(sizes: dict, p: int, repeats: int) -> tuple[dict | None, str]:
    """Median seconds of gloo's all-reduce on ``p`` processes at each size, or None and
    why not (PyTorch missing, or its processes failed)."""
    from distlab.engines import torch_gloo
    if not torch_gloo.available():
        return None, "PyTorch not installed"
    try:
        # largest first, then every size again: a size timed twice keeps its second
        # timing, so each one is measured warmed up (the first calls of a gloo group are
        # slower), and gloo is not shown slower than it is
        order = sorted(sizes.values(), reverse=True)
        ranks = torch_gloo.run_ranks(
            [("time_allreduce", {"sizes": tuple(order + order), "repeats": repeats})],
            world_size=p, timeout=600)
    except Exception as exc:                     # report it in the table, do not stop
        return None, f"gloo failed: {type(exc).__name__}: {str(exc)[:80]}"
    times = ranks[0]["time_allreduce"]
    return {label: float(times[n]) for label, n in sizes.items()}, "torch.distributed, gloo"


async def _echo_all(client, workers):
    import asyncio
    await asyncio.gather(*[client.rpc(w).echo(data=b"") for w in workers])


def allreduce_section(report: Report, sizes: dict, nodes=(2, 4), repeats: int = 5,
                      with_gloo: bool = True, quick: bool = False) -> None:
    """The all-reduce comparison, one cluster of p worker processes per p."""
    from distlab.engines.cluster import connect
    from distlab.engines.calibrate import ping_pong_direct

    for p in nodes:
        gloo, gloo_note = (gloo_times(sizes, p, 5 * repeats) if with_gloo
                           else (None, "skipped in --quick" if quick else "skipped"))
        with connect(n_workers=p, memory_limit=BENCH_MEMORY) as client:
            client.wait_for_workers(p)
            workers = sorted(client.nthreads())[:p]      # not the cached scheduler_info()
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
            echo = _median_time(lambda: client.sync(_echo_all, client, workers), 21)
            report.add(f"allreduce p={p}", "client → every worker → client, a bare Dask "
                       "rpc (echo)", echo * 1e3, "ms",
                       reference="the floor of any call the client makes")
            for label, n_bytes in sizes.items():
                _one_size(report, client, workers, p, label, n_bytes, repeats,
                          gloo[label] if gloo else None, gloo_note, calibration)


def _one_size(report, client, workers, p, label, n_bytes, repeats, gloo, gloo_note,
              calibration):
    from distributed import wait

    from distlab.engines.allreduce import EXACT_ALGORITHMS, allreduce, make_plan
    from distlab.concepts.cost import lower_bound_bytes
    from distlab.engines.calibrate import predict_direct
    from distlab.engines.spmd import run_ranks, time_allreduce

    section = f"allreduce p={p} {label}"
    n = max(1, n_bytes // 8)
    stacked = np.stack([node_vector(n_bytes, i) for i in range(p)])
    expected = stacked.mean(axis=0)
    floor = best_of(lambda: stacked.mean(axis=0))
    del stacked
    placed = [client.submit(node_vector, n_bytes, i, workers=[w], allow_other_workers=False,
                            pure=False) for i, w in enumerate(workers)]
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
        call = _median_time(direct_run, repeats)
        worst, counted = first["worst"], first["counted"]
        on_workers = statistics.median(on_workers)
        direct[algorithm] = (call, on_workers)
        model = predict_direct(make_plan(algorithm, p), n, calibration)
        gloo_text = f"gloo {gloo * 1e3:.3g} ms" if gloo is not None else "gloo: n/a"
        report.add(section, f"direct · {algorithm} · call from the client", call * 1e3, "ms",
                   reference=f"{gloo_text}; ratio: ÷ gloo",
                   ratio=None if gloo is None else call / gloo)
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
        tasks[algorithm] = _median_time(
            lambda: allreduce(placed, algorithm, client, workers=workers,
                              dask_engine="tasks"), repeats_tasks)
        report.add(section, f"tasks · {algorithm}", tasks[algorithm] * 1e3, "ms",
                   reference=f"direct · {algorithm}; ratio: tasks ÷ direct",
                   ratio=tasks[algorithm] / call)
    best = min(direct, key=lambda a: direct[a][0])
    call, on_workers = direct[best]
    naive = _median_time(lambda: naive_allreduce(client, placed), repeats)
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
    del placed


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


# ---------------------------------------------------------------- training (chapter 06)

def training_section(report: Report) -> None:
    """Chapter 06 on the default cluster: the synchronous strategy's accuracy against
    scikit-learn's, and how many communication rounds local SGD needs to reach the
    chapter's target (scikit-learn's accuracy less one point) against synchronous SGD."""
    from distlab.apps import training
    from distlab.engines.cluster import connect

    sk = training.sklearn_accuracy()
    target = sk - 0.01
    with connect() as client:
        runs = {}
        for strategy in ("sync", "local"):
            start = time.perf_counter()
            runs[strategy] = training.train(strategy, client)
            seconds = time.perf_counter() - start
            accuracy = float(runs[strategy]["accuracy"].iloc[-1])
            rounds = int(runs[strategy]["round"].iloc[-1])
            report.add("training", f"{strategy}: {rounds} rounds on the cluster", seconds,
                       "s")
            report.add("training", f"{strategy}: test accuracy after {rounds} rounds",
                       accuracy, "", reference=f"scikit-learn {sk:.4f}", ratio=accuracy / sk,
                       target="≥ scikit-learn − 0.01", meets=accuracy >= target)
    rounds = {s: training.rounds_to(h, target) for s, h in runs.items()}
    for strategy, r in rounds.items():
        report.add("training", f"{strategy}: communication rounds to {target:.4f}",
                   r, "rounds")
    if rounds["sync"] and rounds["local"]:
        report.add("training", "rounds: synchronous SGD ÷ local SGD",
                   rounds["sync"] / rounds["local"], "×",
                   reference="FedAvg: 10–100× fewer rounds (McMahan et al. 2017)")


# ---------------------------------------------------------------- the book

class PeakMemory:
    """Peak memory of this process and all its descendants (kernel, workers, spawned
    ranks), sampled every ``interval`` seconds: the sum of their PSS (proportional set
    size: a page shared by n processes counts 1/n in each, so shared libraries count once,
    as the memory limit of a container counts them) and, for reference, of their RSS."""

    def __init__(self, interval: float = 0.1):
        import psutil
        self._root = psutil.Process()
        self.interval, self.peak, self.peak_rss = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        import psutil
        while not self._stop.is_set():
            total = total_rss = 0
            for proc in [self._root, *self._root.children(recursive=True)]:
                try:
                    info = proc.memory_full_info()
                    total += getattr(info, "pss", info.rss)     # PSS where the OS has it
                    total_rss += info.rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self.peak_rss = max(self.peak_rss, total_rss)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def book_times(report: Report) -> None:
    from distlab.cli import notebooks
    budget_total, budget_each, budget_memory = 180, 40, 1.5 * 2**30
    total = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for path in notebooks.chapters():
            copy = Path(scratch) / path.name          # never touch the committed outputs
            shutil.copy(path, copy)
            with PeakMemory() as memory:
                seconds = notebooks.execute(copy)
            total += seconds
            report.add("book", path.stem, seconds, "s", target=f"≤ {budget_each} s",
                       meets=seconds <= budget_each)
            report.add("book memory", path.stem, memory.peak / 2**30, "GiB",
                       reference=f"PSS of the process tree (RSS sum "
                                 f"{memory.peak_rss / 2**30:.2f} GiB)",
                       target="≤ 1.5 GiB", meets=memory.peak <= budget_memory)
    report.add("book", "whole book", total, "s", target=f"≤ {budget_total} s",
               meets=total <= budget_total)


# ---------------------------------------------------------------- output

def write(report: Report, out: Path, about: dict) -> pd.DataFrame:
    out.mkdir(parents=True, exist_ok=True)
    frame = report.frame()
    frame.to_csv(out / "results.csv", index=False)
    shown = frame.copy()
    for column in ("value", "ratio"):
        shown[column] = shown[column].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.3g}")
    shown["meets"] = shown["meets"].map({True: "yes", False: "**no**"}).fillna("")
    shown = shown.fillna("")
    machine_line = ", ".join(f"{k} {v}" for k, v in about.items())
    targets = shown[frame.target.notna()]
    summary = headline(frame)
    (out / "results.md").write_text(
        f"Measured {time.strftime('%Y-%m-%d')} on: {machine_line}\n\n"
        + ("## All-reduce, milliseconds (median)\n\n" + markdown_table(summary) + "\n\n"
           + HEADLINE_NOTE + "\n\n" if len(summary) else "")
        + "## Targets\n\n" + markdown_table(targets) + "\n\n"
        + "## All measurements\n\n" + markdown_table(shown) + "\n")
    _plot(frame, out / "results.png")
    return frame


HEADLINE_NOTE = (
    "Inputs already on the workers, one worker process per node. *call*: `allreduce(...)` "
    "as a user calls it, from the client until the results are futures; *on workers*: the "
    "slowest node, from reading its input to holding its result; *ranks (SPMD)*: "
    "`Group.allreduce` called by a function running on every worker "
    "(`distlab.engines.spmd.run_ranks`), the slowest rank, timed as gloo's ranks "
    "are (any algorithm). *gain*: the task engine's best ÷ the direct engine's best call.")


def headline(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per p and size: numpy in one process, gloo, distlab's best on the direct
    engine (call, on the workers), the task engine's best, the naive Dask code."""
    rows = []
    for section in dict.fromkeys(frame.section):
        if not str(section).startswith("allreduce p=") or section.count(" ") < 2:
            continue
        part = frame[frame.section == section].set_index("measure")
        _, p, size = section.split(" ", 2)

        def ms(measure):
            return float(part.value[measure]) if measure in part.index else np.nan
        calls = {m.split(" · ")[1]: part.value[m] for m in part.index
                 if m.startswith("direct · ") and m.endswith("call from the client")}
        tasks = [part.value[m] for m in part.index if m.startswith("tasks · ")]
        ranks = [part.value[m] for m in part.index if m.endswith(" · ranks (SPMD)")]
        if not calls:
            continue
        best = min(calls, key=calls.get)
        gloo = [m for m in part.index if m.startswith("gloo all-reduce")]
        rows.append({"p": p.split("=")[1], "size": size,
                     "numpy, 1 process": ms("numpy mean in one process (floor)"),
                     "gloo": ms(gloo[0]) if gloo else np.nan,
                     "distlab best": best,
                     "call": calls[best],
                     "on workers": ms(f"direct · {best} · on the workers"),
                     "ranks (SPMD) best": min(ranks) if ranks else np.nan,
                     "tasks engine best": min(tasks) if tasks else np.nan,
                     "gain": (min(tasks) / calls[best]) if tasks else np.nan,
                     "naive Dask": ms("naive Dask: gather → numpy.mean → scatter")})
    table = pd.DataFrame(rows)
    for column in table.columns:
        if table[column].dtype.kind == "f":
            table[column] = table[column].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    return table


def markdown_table(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _plot(frame: pd.DataFrame, path: Path) -> None:
    """Seconds per all-reduce at each size for p = 2 (log scale), one bar per contender;
    and the book's times, when measured."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    p2 = frame[frame.section.str.startswith("allreduce p=2 ") & (frame.unit == "ms")
               & frame.value.notna()]
    p2 = p2[~p2.measure.str.contains("on the workers")]
    book = frame[(frame.section == "book") & (frame.measure != "whole book")]
    panels = [x for x in (("all-reduce, p = 2", p2), ("book", book)) if len(x[1])]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(7 * max(1, len(panels)), 6),
                             dpi=80, squeeze=False)
    for ax, (title, rows) in zip(axes[0], panels):
        labels = (rows.section.str.replace("allreduce p=2 ", "") + " · " + rows.measure
                  if title.startswith("all") else rows.measure)
        ax.barh(labels, rows.value)
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=6)
        ax.set_xscale("log" if title.startswith("all") else "linear")
        ax.set_xlabel(rows.unit.iloc[0])
        ax.set_title(title)
    if not panels:
        axes[0][0].text(0.5, 0.5, "no timed sections in this run", ha="center")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(quick: bool = False, out: Path = Path("bench-results"), with_book: bool | None = None,
        progress: bool = False):
    """Every section, then the results written into ``out``; returns the measurements (a
    DataFrame, :data:`COLUMNS`). ``quick``: small sizes, p = 2, no gloo, no training.
    ``with_book`` (default: not quick) times every chapter. ``progress`` draws a bar of
    the sections in a notebook."""
    from distlab.engines.cluster import connect
    from distlab.engines.progress import StepsBar

    report = Report()
    with_book = (not quick) if with_book is None else with_book
    sections = [lambda: numpy_floor(report, 2**20 if quick else 64 * 2**20)]

    def overheads():
        with connect() as client:
            dask_overheads(report, client, tasks=200 if quick else 2000)
    sections.append(overheads)
    sections += [lambda p=p: allreduce_section(
        report, QUICK_SIZES if quick else SIZES, nodes=(p,), repeats=2 if quick else 5,
        with_gloo=not quick, quick=quick) for p in ((2,) if quick else (2, 4))]
    sections.append(lambda: cpu_speedup(report, tasks=4 if quick else 16,
                                        darts=1_000_000 if quick else 30_000_000))
    if not quick:
        sections.append(lambda: training_section(report))
    if with_book:
        sections.append(lambda: book_times(report))
    bar = StepsBar("benchmark", len(sections)) if progress else None
    for done, section in enumerate(sections, 1):
        section()
        if bar:
            bar.update(done)
    return write(report, Path(out), machine())
