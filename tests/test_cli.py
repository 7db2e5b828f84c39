"""The command line: doctor, and the notebook runner that produces every committed output."""
import re
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from distlab.cli import notebooks
from distlab.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "distlab", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300, env=env)


def test_doctor_reports_versions_cluster_dashboard_and_mermaid():
    import os
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISTLAB_SCHEDULER", "DASK_SCHEDULER_ADDRESS")}
    done = run_cli("doctor", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for name in ("numpy", "dask", "distributed", "jupyterlab", "dask-labextension"):
        assert f"  {name} " in out
    assert re.search(r"mermaid: JupyterLab 4\.\d+\S* draws it natively", out)
    assert "workers: same versions as this client" in out
    assert "cluster: embedded LocalCluster: 2 worker processes × 1 thread" in out
    assert "dashboard: http://127.0.0.1:" in out
    assert out.rstrip().endswith("all good")


def test_doctor_names_a_worker_whose_versions_differ(monkeypatch):
    """A worker without distlab (or at another version) is a problem the doctor names."""
    from distlab.cli import doctor

    class Client:                                  # what get_versions returns, trimmed
        def get_versions(self, packages):
            mine = {name: "1.0" for name in packages}
            theirs = dict(mine, distlab=None, numpy="0.9")
            return {"client": {"packages": mine},
                    "workers": {"tcp://w:1": {"packages": theirs}}}

    monkeypatch.setattr("distlab.engines.workers.check_client", lambda client: client)  # a stand-in
    assert doctor.worker_mismatches(Client()) == [
        "tcp://w:1: distlab missing (client 1.0)", "tcp://w:1: numpy 0.9 (client 1.0)"]


def test_doctor_reports_an_unreachable_scheduler():
    import os
    env = dict(os.environ, DISTLAB_SCHEDULER="tcp://127.0.0.1:1")
    done = run_cli("doctor", env=env)
    assert done.returncode == 1
    assert "cluster: FAILED to start or reach tcp://127.0.0.1:1" in done.stdout


def test_chapters_are_found_by_number_or_name():
    every = notebooks.chapters()
    assert [p.name for p in every][:1] == ["00_start_here.ipynb"]
    assert [p.name for p in notebooks.chapters(["05"])] == ["05_dask_practice.ipynb"]
    assert notebooks.chapters(["05_dask_practice"]) == notebooks.chapters(["notebooks/05_dask_practice.ipynb"])
    # chapter 02 comes in parts: its number selects all of them, a part's number one
    parts = ["02_1_architecture.ipynb", "02_2_data_sync.ipynb", "02_3_parallelism.ipynb"]
    assert [p.name for p in notebooks.chapters(["02"])] == parts
    assert [p.name for p in notebooks.chapters(["02_2"])] == parts[1:2]
    assert [p.name for p in notebooks.chapters(["02_3", "02"])] == [parts[2], *parts[:2]]
    with pytest.raises(ValueError, match="no chapter matches 'nope'; known chapters: 00_start_here"):
        notebooks.chapters(["nope"])


def test_unknown_chapter_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["notebooks", "99"])
    assert exit_info.value.code == 2
    assert "no chapter matches '99'" in capsys.readouterr().err


def test_execute_runs_top_to_bottom_and_writes_outputs_back(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 41"), new_code_cell("print(x + 1)"),
                             new_code_cell("# NBVAL_RAISES_EXCEPTION: shown on purpose\n"
                                           "import json; json.loads('{')"),
                             new_code_cell("print('after the error')"),
                             new_code_cell("# NBVAL_IGNORE_OUTPUT: a reason after the marker\n"
                                           "import random; print(random.random())")])
    path = tmp_path / "01_tiny.ipynb"
    nbformat.write(nb, path)
    notebooks.execute(path)
    done = json.loads(path.read_text())
    cells = done["cells"]
    assert [c["execution_count"] for c in cells] == [1, 2, 3, 4, 5]
    assert "".join(cells[1]["outputs"][0]["text"]) == "42\n"
    assert cells[2]["outputs"][0]["ename"] == "JSONDecodeError"
    assert "raises-exception" in cells[2]["metadata"]["tags"]
    assert "".join(cells[3]["outputs"][0]["text"]) == "after the error\n"
    # nbval reads only a bare marker comment; the runner adds the equivalent tag
    assert cells[4]["metadata"]["tags"] == ["nbval-ignore-output"]
    assert done["metadata"]["kernelspec"]["name"] == "python3"
    tracebacks = json.dumps(cells[2]["outputs"][0]["traceback"])
    assert sys.prefix not in tracebacks and str(ROOT) not in tracebacks


def test_committed_notebooks_were_produced_by_the_runner():
    for path in notebooks.chapters():
        nb = json.loads(path.read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), path.name
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name
        nbformat.validate(nbformat.reads(path.read_text(), as_version=4))


def test_make_lab_serves_chapter_zero():
    import os
    import signal
    import socket
    import time
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "make-lab-test"
    lab = subprocess.Popen(
        ["make", "--no-print-directory", "lab",
         f"LAB_ARGS=--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} "
         f"--ServerApp.port_retries=0 --IdentityProvider.token={token}"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                page = urllib.request.urlopen(
                    f"{base}/lab?token={token}", timeout=2)
                break
            except OSError:
                assert lab.poll() is None, "make lab exited"
                time.sleep(0.5)
        else:
            pytest.fail("make lab did not serve JupyterLab")
        assert page.status == 200 and b"JupyterLab" in page.read()
        # the server's front page is chapter 00
        opened = urllib.request.urlopen(f"{base}/?token={token}", timeout=10)
        assert opened.url.split("?")[0] == f"{base}/lab/tree/00_start_here.ipynb"
        contents = json.load(urllib.request.urlopen(
            f"{base}/api/contents/00_start_here.ipynb?token={token}&content=0"))
        assert contents["type"] == "notebook"
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)


def test_readme_and_chapter_zero_link_every_chapter():
    import re
    chapters = {p.name for p in notebooks.chapters()}
    readme = set(re.findall(r"\(notebooks/(\d\d_\w+\.ipynb)\)", (ROOT / "README.md").read_text()))
    start = json.loads((ROOT / "notebooks" / "00_start_here.ipynb").read_text())
    markdown = "".join("".join(c["source"]) for c in start["cells"] if c["cell_type"] == "markdown")
    mapped = set(re.findall(r"\((\d\d_\w+\.ipynb)\)", markdown)) | {"00_start_here.ipynb"}
    assert readme == chapters
    assert mapped == chapters
