"""`python -m distlab bench --quick`: the output's shape and its correctness ratios (no timing)."""
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from distlab.cli import bench

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run([sys.executable, "-m", "distlab", "bench", "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def test_quick_run_writes_table_csv_and_plot(quick_run):
    out, stdout = quick_run
    frame = pd.read_csv(out / "results.csv")
    assert list(frame.columns) == bench.COLUMNS
    assert {"floor", "dask", "scaling", "correctness", "targets"} <= set(frame.section)
    assert {f"allreduce p=2 {label}" for label in bench.QUICK_SIZES} <= set(frame.section)
    assert (frame.value.dropna() >= 0).all()
    markdown = (out / "results.md").read_text()
    assert markdown.startswith("Measured ") and "cores" in markdown and "| section |" in markdown
    assert "## Targets" in markdown and "## All measurements" in markdown
    assert markdown in stdout + "\n" or markdown.strip() in stdout
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"


def test_quick_run_measures_every_algorithm_on_both_engines(quick_run):
    from distlab.engines.allreduce import EXACT_ALGORITHMS
    frame = pd.read_csv(quick_run[0] / "results.csv")
    for label in bench.QUICK_SIZES:
        measures = set(frame.loc[frame.section == f"allreduce p=2 {label}", "measure"])
        for algorithm in EXACT_ALGORITHMS:
            assert f"direct · {algorithm} · call from the client" in measures
            assert f"direct · {algorithm} · on the workers" in measures
            assert f"direct · {algorithm} · ranks (SPMD)" in measures
            assert f"tasks · {algorithm}" in measures
        assert "naive Dask: gather → numpy.mean → scatter" in measures
        assert "numpy mean in one process (floor)" in measures


def test_quick_run_correctness_ratios_hold(quick_run):
    """Bytes each node sent ÷ 2(p−1)/p·n is exactly 1 for ring and Rabenseifner, and every
    algorithm's result equals the numpy mean of the inputs, bit for bit at p = 2."""
    frame = pd.read_csv(quick_run[0] / "results.csv")
    checks = frame[frame.section == "correctness"]
    for label in bench.QUICK_SIZES:
        for algorithm in ("ring", "rabenseifner"):
            row = checks[checks.measure == f"p=2 {label} {algorithm}: bytes sent per node ÷ "
                                           "2(p−1)/p·n"]
            assert len(row) == 1 and row.value.iloc[0] == 1.0 and row.meets.iloc[0]
    equal = checks[checks.measure.str.contains("max |result − numpy mean|", regex=False)]
    assert len(equal) == 5 * len(bench.QUICK_SIZES)
    assert (equal.value == 0).all() and equal.meets.all()


def test_markdown_table_has_a_row_per_measure():
    report = bench.Report()
    report.add("x", "a", 1.0, "s")
    report.add("x", "b", 2.0, "s", target="≤ 3 s", meets=True)
    table = bench.markdown_table(report.frame().fillna(""))
    assert table.count("\n") == 3 and table.splitlines()[3].startswith("| x | b | 2.0 | s |")


def test_quick_run_has_the_steady_table(quick_run):
    """Median and p90 per algorithm for both patterns, and the best algorithm with and
    without torch in the workers; p90 never below the median."""
    from distlab.cli.bench import steady
    from distlab.cli.bench.report import STEADY_COLUMNS, steady_table
    from distlab.engines.allreduce import EXACT_ALGORITHMS
    table = steady_table(pd.read_csv(quick_run[0] / "results.csv"))
    assert list(table.columns) == STEADY_COLUMNS
    assert set(table["size"]) == {max(bench.QUICK_SIZES, key=bench.QUICK_SIZES.get)}
    main = table[table.workers == steady.BENCH_CLUSTER]
    for pattern in (steady.ON_WORKERS, steady.FRESH):
        assert set(main.algorithm[main.pattern == pattern]) == set(EXACT_ALGORITHMS)
        for workers in (steady.NO_TORCH, steady.TORCH):
            assert ((table.workers == workers) & (table.pattern == pattern)).sum() == 1
    assert (table.p90 >= table["median"]).all() and (table["median"] > 0).all()
    assert (table["median ÷ floor"] > 0).all()
    assert "## Steady speed" in (quick_run[0] / "results.md").read_text()


def test_steady_targets_name_the_reason_for_a_miss(monkeypatch):
    """The issue's targets from synthetic rows: met and not met, and a miss at p = 4 on
    2 cores says so."""
    from distlab.cli.bench import steady
    monkeypatch.setattr(steady.os, "cpu_count", lambda: 2)
    report = bench.Report()
    for p, ms in ((2, 50.0), (4, 200.0)):
        section = steady.section_name(p, "64 MiB")
        report.add(section, "numpy mean in one process (floor)", 20.0, "ms")
        report.add(section, "gloo · median", 50.0, "ms")
        report.add(section, "gloo · p90", 60.0, "ms")
        report.add(section, "load average (1 min)", 0.5, "")
        for pattern in (steady.ON_WORKERS, steady.FRESH):
            for stat, value in (("median", ms), ("p90", ms * 1.2)):
                report.add(section, f"{steady.BENCH_CLUSTER} · {pattern} · ring · {stat}",
                           value, "ms")
        steady.steady_targets(report, p, "64 MiB")
    targets = report.frame().query("section == 'targets'")
    assert len(targets) == 2 * 3 + 2 * 1          # p = 2: three targets a pattern; p = 4: one
    assert targets.meets.isin([True, False]).all()
    p4 = targets[targets.measure.str.contains("p=4")]
    assert not p4.meets.any() and p4.reference.str.contains("4 workers on 2 cores").all()
    floor = targets[targets.measure.str.contains("floor")]
    assert not floor.meets.any()                   # 50 ms is 2.5× the 20 ms floor
    assert floor.reference.str.contains("gloo itself is 2.5× the floor").all()
