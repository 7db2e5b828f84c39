"""`python -m distlab bench --quick`: the output's shape and its correctness ratios (no timing)."""
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from distlab import bench

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
    assert {"floor", "dask", "scaling"} <= set(frame.section)
    assert (frame.value.dropna() > 0).all()
    markdown = (out / "results.md").read_text()
    assert markdown.startswith("Measured ") and "cores" in markdown and "| section |" in markdown
    assert markdown in stdout + "\n" or markdown.strip() in stdout
    assert (out / "results.png").read_bytes()[:4] == b"\x89PNG"


def test_markdown_table_has_a_row_per_measure():
    report = bench.Report()
    report.add("x", "a", 1.0, "s")
    report.add("x", "b", 2.0, "s", target="≤ 3 s", meets=True)
    table = bench.markdown_table(report.frame().fillna(""))
    assert table.count("\n") == 3 and table.splitlines()[3].startswith("| x | b | 2.0 | s |")
