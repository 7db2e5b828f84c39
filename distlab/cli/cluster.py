"""``python -m distlab cluster up|down|status|run``: one cluster for the whole walkthrough.

Without it every chapter starts its own embedded ``LocalCluster``, whose dashboard lands on
a new port each time. This starts a ``dask scheduler`` on ``127.0.0.1:8786`` (dashboard on
``127.0.0.1:8787``) and two ``dask worker`` processes, each run by a Nanny with one thread
and the embedded cluster's memory limit, as separate processes that outlive the command;
kernels reach them through ``DISTLAB_SCHEDULER``, so ``client.close()`` only disconnects
and the dashboard keeps its address from chapter to chapter. ``make lab`` wraps JupyterLab
in ``run`` (up, JupyterLab, down); Binder's ``start`` calls ``up``.

Each cluster's process ids and logs live in a folder named after its scheduler port (see
:func:`state_folder`); ``down`` stops the processes recorded there, and only those.
The commands and their options are Dask's own: Dask documentation, "Command Line"
deployment, https://docs.dask.org/en/stable/deploying-cli.html
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from distlab import checks
from distlab.engines import cluster

__all__ = ["ClusterError", "DEFAULT_PORT", "DEFAULT_DASHBOARD_PORT", "DESCRIPTION",
           "state_folder", "status", "up", "down", "run"]

HOST = "127.0.0.1"          # loopback only: nothing outside this machine can reach it
DEFAULT_PORT = 8786         # Dask's usual scheduler port
DEFAULT_DASHBOARD_PORT = 8787
DESCRIPTION = (f"One Dask cluster for the whole walkthrough: a `dask scheduler` on "
               f"{HOST}:{DEFAULT_PORT} (dashboard on {DEFAULT_DASHBOARD_PORT}) and "
               f"{cluster.DEFAULT_WORKERS} `dask worker` processes with one thread and "
               f"{cluster.DEFAULT_MEMORY_LIMIT} each. `run -- COMMAND` starts it, runs "
               f"COMMAND with DISTLAB_SCHEDULER set, and stops it when COMMAND exits.")


class ClusterError(RuntimeError):
    """The cluster could not be started (a port is taken, a process died, a timeout)."""


def _port(name: str, port) -> int:
    return checks.count(name, port, minimum=1, maximum=65535, limit="the largest TCP port")


def state_folder(port: int) -> Path:
    """Where the cluster on scheduler ``port`` keeps ``state.json``, logs and scratch space:
    one folder per user and port in the system's temporary directory. Raises
    ``TypeError`` / ``ValueError`` unless ``port`` is an int in [1, 65535]."""
    port = _port("port", port)
    return Path(tempfile.gettempdir()) / f"distlab-cluster-{os.getuid()}-{port}"


def status(port: int = DEFAULT_PORT) -> dict | None:
    """The running cluster's state (``address``, ``dashboard``, ``processes``) or ``None``
    when nothing recorded for ``port`` is alive. Errors as :func:`state_folder`."""
    path = state_folder(port) / "state.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state if any(_alive(p) for p in state["processes"]) else None


def up(port: int = DEFAULT_PORT, dashboard_port: int = DEFAULT_DASHBOARD_PORT, *,
       workers: int = cluster.DEFAULT_WORKERS, memory_limit: str = cluster.DEFAULT_MEMORY_LIMIT,
       timeout: float = 90.0) -> tuple[dict, bool]:
    """Start the scheduler and ``workers`` workers unless they run already; return the state
    and whether this call started them. Waits until every worker has joined.

    Raises ``TypeError`` / ``ValueError`` naming a bad argument before anything starts
    (ports in [1, 65535], ``workers`` in [1, 64], ``memory_limit`` as ``connect`` takes it,
    ``timeout`` > 0), ``ClusterError`` when a port is taken by another program or the
    cluster is not complete within ``timeout`` seconds (whatever it started is stopped
    again).
    """
    port, dashboard_port = _port("port", port), _port("dashboard_port", dashboard_port)
    workers = checks.count("workers", workers, minimum=1, maximum=64)
    cluster._check_memory_limit(memory_limit)
    timeout = checks.positive("timeout", timeout)
    running = status(port)
    if running:
        return running, False
    down(port)                               # what a killed `run` may have left behind
    for what, number in (("scheduler", port), ("dashboard", dashboard_port)):
        if _taken(number):
            raise ClusterError(f"port {number} ({what}) is in use by another program: "
                               f"stop it, or choose other ports (make lab "
                               f"LAB_SCHEDULER_PORT=… LAB_DASHBOARD_PORT=…)")
    folder = state_folder(port)
    folder.mkdir(mode=0o700, parents=True)
    address = f"tcp://{HOST}:{port}"
    dask = [sys.executable, "-m", "dask"]
    commands = {"scheduler": [*dask, "scheduler", "--host", HOST, "--port", str(port),
                              "--dashboard-address", f"{HOST}:{dashboard_port}"]}
    for i in range(workers):
        # --dashboard-address: the worker's HTTP server (health, metrics) serves even with
        # --no-dashboard, on every interface unless told otherwise. --death-timeout: a
        # worker whose scheduler has gone stops instead of waiting for it forever.
        commands[f"worker-{i}"] = [*dask, "worker", address, "--host", HOST, "--nthreads", "1",
                                   "--nanny", "--memory-limit", memory_limit, "--no-dashboard",
                                   "--dashboard-address", f"{HOST}:0",
                                   "--name", f"lab-{i}", "--death-timeout", "60",
                                   "--local-directory", str(folder / "scratch")]
    # as distlab.connect() does for the embedded cluster: no sampling profiler (slower tasks)
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED="False")
    env.pop("DISTLAB_SCHEDULER", None)
    state = {"address": address, "dashboard": f"http://{HOST}:{dashboard_port}/status",
             "logs": str(folder), "processes": []}
    try:
        for role, command in commands.items():
            state["processes"].append(_spawn(role, command, folder, env))
            (folder / "state.json").write_text(json.dumps(state, indent=1))
            if role == "scheduler":
                _wait_for_port(port, state, timeout)
        from distributed import Client
        with Client(address, timeout=timeout) as client:
            client.wait_for_workers(workers, timeout=timeout)
    except BaseException as exc:             # a Ctrl-C too: leave nothing behind
        down(port)
        if isinstance(exc, Exception):
            raise ClusterError(f"the cluster did not start: {exc}") from exc
        raise
    return state, True


def down(port: int = DEFAULT_PORT, timeout: float = 20.0) -> bool:
    """Stop every process recorded for ``port``, workers first: SIGTERM to each recorded
    process (a Nanny then stops its worker; signalled directly, the worker would look
    crashed and be restarted), then SIGKILL to it and its children still alive after
    ``timeout`` seconds. Remove the state folder. Return whether anything was running.
    Raises ``TypeError`` / ``ValueError`` for a bad ``port`` or ``timeout`` (> 0)."""
    folder = state_folder(port)
    timeout = checks.positive("timeout", timeout)
    try:
        recorded = json.loads((folder / "state.json").read_text())["processes"]
    except (OSError, ValueError):
        recorded = []
    stopped = False
    for scheduler in (False, True):          # the workers together, then the scheduler
        processes = [p for e in recorded if (e["role"] == "scheduler") == scheduler
                     for p in [_alive(e)] if p is not None]
        family = [q for p in processes for q in (p, *p.children(recursive=True))]
        for process in processes:
            _signal(process, signal.SIGTERM)
        _, left = psutil.wait_procs(family, timeout=timeout)
        for member in left:
            _signal(member, signal.SIGKILL)
        psutil.wait_procs(left, timeout=5)
        stopped = stopped or bool(processes)
    shutil.rmtree(folder, ignore_errors=True)
    return stopped


def run(command: list[str], port: int = DEFAULT_PORT,
        dashboard_port: int = DEFAULT_DASHBOARD_PORT) -> int:
    """Run ``command`` beside the cluster, with ``DISTLAB_SCHEDULER`` naming it, and stop
    the cluster when ``command`` exits; returns its exit code. A cluster already running on
    ``port`` (``up`` by hand, or left by a ``run`` killed with SIGKILL) is used and stopped.

    An explicit ``DISTLAB_SCHEDULER`` (or ``DASK_SCHEDULER_ADDRESS``) wins: no cluster is
    started. If the cluster cannot start, ``command`` runs anyway and every chapter starts
    its own embedded cluster, as without this command. Raises ``TypeError`` /
    ``ValueError`` naming a bad argument (``command`` a non-empty list of strings, ports
    in [1, 65535]) before anything starts.
    """
    command = checks.sequence("command", command)
    if not command or not all(isinstance(part, str) for part in command):
        raise TypeError("command must be a non-empty list of strings, such as "
                        "['jupyter', 'lab']")
    port, dashboard_port = _port("port", port), _port("dashboard_port", dashboard_port)
    env, started, child = dict(os.environ), False, None

    def on_signal(signum, frame):
        if child is None:                    # still starting: up() stops what it started
            raise SystemExit(128 + signum)
        child.send_signal(signum)            # sent to this process alone: pass it on

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        if cluster.scheduler_address():
            print(f"distlab: using the scheduler at {cluster.scheduler_address()}", flush=True)
        else:
            try:
                state, _ = up(port, dashboard_port)
                started = True
            except ClusterError as exc:
                print(f"distlab: {exc}; each chapter will start its own cluster", flush=True)
            else:
                env["DISTLAB_SCHEDULER"] = state["address"]
                print(f"distlab: Dask scheduler at {state['address']}, dashboard at "
                      f"{state['dashboard']}", flush=True)
        child = subprocess.Popen(command, env=env)
        # Ctrl-C reaches the command too (same process group): it decides whether to stop
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
        return child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if started:
            down(port)
            print("distlab: the cluster has stopped", flush=True)


def _spawn(role: str, command: list[str], folder: Path, env: dict) -> dict:
    """Start one process in a session of its own (a Ctrl-C meant for JupyterLab does not
    reach it; ``down`` stops it) and record what identifies it."""
    with open(folder / f"{role}.log", "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, env=env, cwd=folder,
                                   start_new_session=True)
    return {"role": role, "pid": process.pid,
            "create_time": psutil.Process(process.pid).create_time()}


def _alive(entry: dict) -> psutil.Process | None:
    """The recorded process if it still runs, and is the same process (not a reused pid)."""
    try:
        process = psutil.Process(entry["pid"])
        same = abs(process.create_time() - entry["create_time"]) < 0.5
        return process if same and process.status() != psutil.STATUS_ZOMBIE else None
    except psutil.Error:
        return None


def _signal(process: psutil.Process, signum: int) -> None:
    try:
        process.send_signal(signum)
    except psutil.Error:
        pass


def _taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((HOST, port)) == 0


def _wait_for_port(port: int, state: dict, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _taken(port):
        if _alive(state["processes"][0]) is None:
            log = Path(state["logs"], "scheduler.log").read_text(errors="replace")
            raise ClusterError(f"the scheduler exited:\n{log[-2000:]}")
        if time.monotonic() > deadline:
            raise ClusterError(f"the scheduler did not listen on port {port} in {timeout:g} s")
        time.sleep(0.1)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    """The actions and options of the ``cluster`` subcommand."""
    actions = parser.add_subparsers(dest="action", required=True)
    for name, what in (("up", "start the cluster (if it is not running) and wait for it"),
                       ("down", "stop the cluster"), ("status", "say whether it runs"),
                       ("run", "run COMMAND beside the cluster, then stop the cluster")):
        action = actions.add_parser(name, help=what)
        action.add_argument("--port", type=int, default=DEFAULT_PORT,
                            help=f"the scheduler's port (default {DEFAULT_PORT})")
        if name in ("up", "run"):
            action.add_argument("--dashboard-port", type=int, default=DEFAULT_DASHBOARD_PORT,
                                help=f"the dashboard's port (default {DEFAULT_DASHBOARD_PORT})")
        if name == "run":
            # not "command": the top-level parser's subcommand lives under that name
            action.add_argument("program", nargs=argparse.REMAINDER, metavar="COMMAND",
                                help="the command to run, after `--`")


def _main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Carry out ``args.action``; the exit status (``status``: 0 running, 1 not)."""
    if args.action == "run":
        command = args.program[1:] if args.program[:1] == ["--"] else args.program
        if not command:
            parser.error("run needs a command after `--`")
        return run(command, args.port, args.dashboard_port)
    if args.action == "up":
        try:
            state, started = up(args.port, args.dashboard_port)
        except ClusterError as exc:
            print(f"distlab: {exc}", file=sys.stderr)
            return 1
        print(f"{'started' if started else 'already running'}: scheduler {state['address']}, "
              f"dashboard {state['dashboard']}, logs in {state['logs']}")
        return 0
    if args.action == "down":
        print("stopped" if down(args.port) else "nothing was running")
        return 0
    state = status(args.port)
    print(f"running: scheduler {state['address']}, dashboard {state['dashboard']}"
          if state else f"no cluster on port {args.port}")
    return 0 if state else 1
