"""Every chapter on a real external cluster: `dask scheduler` and two `dask worker` processes.

The notebooks run under strict nbval with DISTLAB_SCHEDULER pointing at the scheduler; their
outputs must match the committed ones (made on the embedded cluster) except for the one line
that says what the notebook is connected to.
"""
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from distributed import Client

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# distlab.describe() names the cluster; everything else must be identical on both.
KIND_RULE = r"""
[cluster kind]
regex: (embedded LocalCluster|Dask scheduler at ADDRESS): (\d+) worker processes
replace: CLUSTER: \2 worker processes
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def external_cluster(tmp_path_factory):
    logs = tmp_path_factory.mktemp("dask-logs")
    address = f"tcp://127.0.0.1:{free_port()}"
    common = dict(cwd=logs, start_new_session=True, stderr=subprocess.STDOUT)
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", address.rsplit(":", 1)[1],
                               "--dashboard-address", "127.0.0.1:0"],
                              stdout=open(logs / "scheduler.log", "w"), **common)]
    for i in range(2):
        procs.append(subprocess.Popen(
            [str(BIN / "dask"), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
             "--memory-limit", "512MiB", "--no-dashboard", "--name", f"external-{i}"],
            stdout=open(logs / f"worker-{i}.log", "w"), **common))
    try:
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_every_chapter_matches_its_outputs_on_an_external_cluster(external_cluster, tmp_path):
    sanitize = tmp_path / "sanitize.cfg"
    sanitize.write_text((ROOT / "tests" / "nbval_sanitize.cfg").read_text() + KIND_RULE)
    env = dict(os.environ, DISTLAB_SCHEDULER=external_cluster)
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "notebooks", "-q", "--no-header",
         f"--nbval-sanitize-with={sanitize}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-6000:]

    # the notebooks that use a cluster (02_2 runs on a simulator only and never connects)
    notebooks = [path for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
                 if "distlab.connect(" in path.read_text(encoding="utf-8")]
    with Client(external_cluster, timeout=30) as client:
        # counted on the scheduler: the whole event log need not survive the trip here
        # (a lambda, because cloudpickle sends it by value to a scheduler that cannot
        # import this test module)
        joined = client.run_on_scheduler(lambda dask_scheduler: sum(
            1 for _, event in dask_scheduler.get_events("all")
            if isinstance(event, dict) and event.get("action") == "add-client"))
        workers = client.nthreads()
    # each of them connected to this scheduler, and the cluster is still whole
    assert joined >= len(notebooks)
    assert len(workers) == 2

