"""The walkthrough's cluster (`python -m distlab cluster`) and the JupyterLab files in lab/.

No `make`, no JupyterLab server: the cluster runs on free loopback ports, and the settings
and workspace are checked against the schemas and the workspace manager of the installed
JupyterLab.
"""
import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest
from jsonschema import Draft7Validator
from jupyter_core.paths import jupyter_path

import distlab
from distlab.cli import cluster as lab_cluster
from distlab.engines.cluster import DEFAULT_MEMORY_LIMIT, DEFAULT_WORKERS, is_embedded

ROOT = Path(__file__).resolve().parents[1]
PANES = ["/individual-task-stream", "/individual-progress", "/individual-workers-memory"]


def free_ports(n=2):
    """``n`` distinct free loopback ports (all held open until each is known)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def cli(*args, env=None, timeout=180):
    return subprocess.run([sys.executable, "-m", "distlab", "cluster", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout)


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def family(state):
    """Every process of the cluster: the recorded ones and their children."""
    found = []
    for entry in state["processes"]:
        process = psutil.Process(entry["pid"])
        found += [process, *process.children(recursive=True)]
    return found


def assert_all_gone(processes, ports, port):
    gone, alive = psutil.wait_procs(processes, timeout=10)
    assert not alive, f"left running: {[p.cmdline()[-4:] for p in alive]}"
    assert not [p for p in ports if listening(p)], "a port is still listening"
    assert not lab_cluster.state_folder(port).exists()


@pytest.fixture
def no_scheduler_configured(monkeypatch):
    monkeypatch.delenv("DISTLAB_SCHEDULER", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    return {k: v for k, v in os.environ.items()
            if k not in ("DISTLAB_SCHEDULER", "DASK_SCHEDULER_ADDRESS")}


def test_up_serves_every_chapter_at_one_dashboard_and_down_leaves_nothing(
        no_scheduler_configured, monkeypatch):
    port, dashboard = free_ports()
    done = cli("up", "--port", port, "--dashboard-port", dashboard)
    assert done.returncode == 0, done.stderr[-3000:]
    try:
        state = lab_cluster.status(port)
        assert state["address"] == f"tcp://127.0.0.1:{port}"
        processes = family(state)
        # loopback only: the scheduler, the dashboard, every nanny and worker
        ports = {c.laddr for p in processes for c in p.net_connections("inet")
                 if c.status == psutil.CONN_LISTEN}
        assert {a.port for a in ports} >= {port, dashboard}
        assert {a.ip for a in ports} == {"127.0.0.1"}
        assert cli("status", "--port", port).returncode == 0
        again = cli("up", "--port", port, "--dashboard-port", dashboard)
        assert again.returncode == 0 and again.stdout.startswith("already running")

        monkeypatch.setenv("DISTLAB_SCHEDULER", state["address"])
        links = []
        for _ in range(2):                   # two chapters in a row
            client = distlab.connect()
            assert not is_embedded(client)
            assert distlab.describe(client) == (f"Dask scheduler at {state['address']}: "
                                                f"{DEFAULT_WORKERS} worker processes × 1 thread")
            workers = client.scheduler_info(n_workers=-1)["workers"].values()
            assert [w["memory_limit"] for w in workers] == [512 * 2**20] * DEFAULT_WORKERS
            assert DEFAULT_MEMORY_LIMIT == "512MiB"
            assert all(w["nanny"] for w in workers)         # a killed worker comes back
            assert client.submit(sum, [1, 2, 3], pure=False).result() == 6
            links.append(client.dashboard_link)
            client.close()                   # disconnects only
        assert links == [f"http://127.0.0.1:{dashboard}/status"] * 2
        assert len(lab_cluster.status(port)["processes"]) == 1 + DEFAULT_WORKERS
        assert all(p.is_running() for p in processes)
        # the panes the workspace opens are charts this dashboard serves
        plots = json.load(urllib.request.urlopen(
            f"http://127.0.0.1:{dashboard}/individual-plots.json", timeout=30))
        assert set(PANES) <= set(plots.values())
    finally:
        done = cli("down", "--port", port)
    assert done.returncode == 0 and done.stdout.strip() == "stopped"
    assert_all_gone(processes, [port, dashboard, *(a.port for a in ports)], port)
    assert cli("status", "--port", port).returncode == 1
    assert cli("down", "--port", port).stdout.strip() == "nothing was running"


def test_run_gives_its_command_the_scheduler_and_stops_the_cluster_after(
        no_scheduler_configured):
    port, dashboard = free_ports()
    probe = ("import os, distlab; c = distlab.connect(); "
             "print(os.environ['DISTLAB_SCHEDULER']); print(c.dashboard_link); c.close()")
    done = cli("run", "--port", port, "--dashboard-port", dashboard, "--",
               sys.executable, "-c", probe, env=no_scheduler_configured)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert f"tcp://127.0.0.1:{port}" in lines
    assert f"http://127.0.0.1:{dashboard}/status" in lines
    assert lines[-1] == "distlab: the cluster has stopped"
    assert not listening(port) and not listening(dashboard)
    assert not lab_cluster.state_folder(port).exists()


def test_an_explicit_scheduler_wins_and_a_taken_port_falls_back(no_scheduler_configured):
    port, dashboard = free_ports()
    probe = [sys.executable, "-c", "import os; print(os.environ.get('DISTLAB_SCHEDULER'))"]
    env = dict(no_scheduler_configured, DISTLAB_SCHEDULER="tcp://10.0.0.5:8786")
    done = cli("run", "--port", port, "--dashboard-port", dashboard, "--", *probe, env=env)
    assert done.stdout.splitlines()[-1] == "tcp://10.0.0.5:8786"
    assert lab_cluster.status(port) is None and not listening(port)

    with socket.socket() as taken:           # another program on the dashboard's port
        taken.bind(("127.0.0.1", dashboard))
        taken.listen()
        done = cli("run", "--port", port, "--dashboard-port", dashboard, "--", *probe,
                   env=no_scheduler_configured)
    assert done.returncode == 0
    assert f"port {dashboard} (dashboard) is in use" in done.stdout
    assert done.stdout.splitlines()[-1] == "None"          # the embedded fallback
    assert not listening(port) and not lab_cluster.state_folder(port).exists()


# ---- the JupyterLab files --------------------------------------------------------------

def schema_of(plugin_id):
    """The installed JSON schema of a JupyterLab plugin such as "pkg:plugin"."""
    package, plugin = plugin_id.split(":")
    places = [Path(p, package) for p in jupyter_path("lab", "schemas")]
    places += [Path(p, package, "schemas", package) for p in jupyter_path("labextensions")]
    for place in places:
        if (place / f"{plugin}.json").exists():
            return json.loads((place / f"{plugin}.json").read_text())
    raise AssertionError(f"no installed schema for {plugin_id}")


def test_settings_name_settings_of_the_installed_jupyterlab_with_valid_values():
    overrides = json.loads((ROOT / "lab" / "overrides.json").read_text())
    assert overrides["@jupyterlab/notebook-extension:tracker"]["kernelShutdown"] is True
    assert overrides["dask-labextension:plugin"]["defaultURL"] == "proxy/8787/"
    for plugin_id, values in overrides.items():
        properties = schema_of(plugin_id)["properties"]
        for name, value in values.items():
            assert name in properties, f"{plugin_id} has no setting {name!r}"
            errors = list(Draft7Validator(properties[name]).iter_errors(value))
            assert not errors, f"{plugin_id}:{name} = {value!r}: {errors[0].message}"


def test_prepare_writes_settings_and_the_default_workspace_jupyterlab_loads(tmp_path):
    from jupyterlab_server.workspaces_handler import WorkspacesManager
    run = [sys.executable, str(ROOT / "lab" / "prepare.py"),
           "--settings-dir", tmp_path / "settings", "--workspaces-dir", tmp_path / "spaces"]
    subprocess.run([*map(str, run), "--dashboard-port", "9787"], check=True, timeout=60)
    settings = json.loads((tmp_path / "settings" / "overrides.json").read_text())
    assert settings["dask-labextension:plugin"]["defaultURL"] == "proxy/9787/"
    assert settings["@jupyterlab/notebook-extension:tracker"] == {"kernelShutdown": True}

    space = WorkspacesManager(str(tmp_path / "spaces")).load("default")
    data = space["data"]
    dock = json.dumps(data["layout-restorer:data"]["main"]["dock"])
    for route in PANES:
        assert f'"dask-dashboard-launcher:{route}"' in dock
        assert data[f"dask-dashboard-launcher:{route}"]["data"]["item"]["route"] == route
    notebook = data["notebook:00_start_here.ipynb"]["data"]["path"]
    assert (ROOT / "notebooks" / notebook).exists()          # make lab serves notebooks/

    # Binder serves the repository: the same layout one folder down; no URL without a cluster
    subprocess.run([*map(str, run), "--notebooks", "notebooks", "--no-dashboard"],
                   check=True, timeout=60)
    data = WorkspacesManager(str(tmp_path / "spaces")).load("default")["data"]
    assert (ROOT / data["notebook:notebooks/00_start_here.ipynb"]["data"]["path"]).exists()
    assert data["file-browser-filebrowser:cwd"]["path"] == "notebooks"
    settings = json.loads((tmp_path / "settings" / "overrides.json").read_text())
    assert settings["dask-labextension:plugin"]["defaultURL"] == ""


def test_make_lab_and_binder_start_use_the_cluster_and_the_lab_files():
    makefile = (ROOT / "Makefile").read_text()
    lab = makefile[makefile.index("\nlab:"):].split("\n\n")[0]
    for needed in ("lab/prepare.py", "-m distlab cluster run", "--LabApp.app_settings_dir=",
                   "--LabApp.workspaces_dir=", "$(LAB_ARGS)"):
        assert needed in lab, needed
    start = (ROOT / "start").read_text()
    assert "distlab cluster up" in start and "lab/prepare.py" in start
    assert start.rstrip().endswith('exec "$@"')


def test_binder_start_brings_the_cluster_up_for_a_jupyter_server(tmp_path,
                                                                no_scheduler_configured):
    port, dashboard = free_ports()
    server = tmp_path / "fake-jupyter"       # stands for the notebook server Binder starts
    server.write_text(f"#!{sys.executable}\nimport os\nprint(os.environ['DISTLAB_SCHEDULER'])\n")
    server.chmod(0o755)
    env = dict(no_scheduler_configured, LAB_SCHEDULER_PORT=str(port),
               LAB_DASHBOARD_PORT=str(dashboard), JUPYTERLAB_DIR=str(tmp_path / "app"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "spaces"),
               PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    try:
        done = subprocess.run([str(ROOT / "start"), str(server)], env=env, capture_output=True,
                              text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.splitlines()[-1] == f"tcp://127.0.0.1:{port}"
        settings = json.loads((tmp_path / "app" / "settings" / "overrides.json").read_text())
        assert settings["dask-labextension:plugin"]["defaultURL"] == f"proxy/{dashboard}/"
        assert list((tmp_path / "spaces").glob("default-*.jupyterlab-workspace"))
        # the cluster outlives `start` (Binder keeps it as long as the pod)
        assert lab_cluster.status(port) is not None
    finally:
        cli("down", "--port", port)
    assert not listening(port) and not listening(dashboard)
