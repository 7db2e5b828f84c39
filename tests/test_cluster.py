"""distlab.connect(): the embedded cluster, an external scheduler, and one that does not answer."""
import os
import subprocess
import sys
import socket
import threading

import psutil
import pytest
from distributed import Client, LocalCluster

import distlab
from distlab.engines.cluster import scheduler_address


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def no_configured_scheduler(monkeypatch):
    monkeypatch.delenv("DISTLAB_SCHEDULER", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    import dask
    with dask.config.set({"scheduler-address": None}):
        yield


def test_embedded_cluster_is_two_single_threaded_worker_processes():
    with distlab.connect() as client:
        # asked of the scheduler and the workers: scheduler_info() may return the client's
        # cache, which Dask's periodic refresh (totals only) empties at any moment
        assert list(client.nthreads().values()) == [1, 1]
        limits = client.run(lambda dask_worker: dask_worker.memory_manager.memory_limit)
        assert list(limits.values()) == [512 * 2**20] * 2
        profiling = client.run(lambda: __import__("dask").config.get(
            "distributed.worker.profile.enabled"))
        assert list(profiling.values()) == [False, False]     # see connect()
        assert __import__("dask").config.get("distributed.worker.profile.enabled")
        pids = client.run(lambda: __import__("os").getpid())
        assert len(set(pids.values())) == 2 and psutil.Process().pid not in pids.values()
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert client.dashboard_link.startswith("http://127.0.0.1:")
        assert distlab.describe(client) == "embedded LocalCluster: 2 worker processes × 1 thread"
    # leaving the block closed the client, and with it the cluster it owned
    assert client.status == "closed"
    assert client.cluster.status.name == "closed"
    assert all(not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
               for pid in pids.values())


def test_close_closes_the_embedded_cluster():
    client = distlab.connect(n_workers=1)
    cluster = client.cluster
    assert distlab.describe(client) == "embedded LocalCluster: 1 worker processes × 1 thread"
    client.close()
    assert cluster.status.name == "closed"


def test_external_scheduler_from_the_environment(monkeypatch):
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                      dashboard_address="127.0.0.1:0", host="127.0.0.1") as cluster:
        monkeypatch.setenv("DISTLAB_SCHEDULER", cluster.scheduler_address)
        assert scheduler_address() == cluster.scheduler_address
        client = distlab.connect()
        assert client.cluster is None
        assert client.submit(sum, [1, 2, 3]).result() == 6
        line = distlab.describe(client)
        assert line == f"Dask scheduler at {cluster.scheduler_address}: 1 worker processes × 2 threads"
        client.close()
        # an external cluster outlives the client that connected to it
        assert cluster.status.name == "running"
        with Client(cluster) as other:
            assert other.submit(sum, [1, 1]).result() == 2


def test_dask_own_variable_is_honoured(monkeypatch):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
    import dask
    dask.config.refresh()
    try:
        assert scheduler_address() == "tcp://127.0.0.1:1"
    finally:
        monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
        dask.config.refresh()


def _connect_error(address: str, within: float) -> BaseException:
    """What ``connect(address, timeout=1)`` raises, run in a thread so that a hang fails
    the test after ``within`` seconds instead of blocking it."""
    outcome = {}

    def attempt():
        try:
            distlab.connect(address, timeout=1)
        except Exception as exc:  # recorded for the assertions of the caller
            outcome["error"] = exc

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(within)
    assert not thread.is_alive(), f"connect() hung on {address}"
    return outcome["error"]


def test_unreachable_scheduler_fails_clearly_within_the_timeout():
    address = f"tcp://127.0.0.1:{free_port()}"   # nothing listens there
    error = _connect_error(address, within=30)
    assert isinstance(error, ConnectionError)
    assert address in str(error) and "within 1 s" in str(error)


def _serve(reply: bytes | None):
    """A loopback server that accepts connections and sends ``reply`` (None: nothing)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held = []

    def accept():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            if reply:
                conn.sendall(reply)

    threading.Thread(target=accept, daemon=True).start()
    return listener, f"tcp://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("reply, words", [
    (None, "sent no Dask handshake within 1 s"),                  # silent: was a hang
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "is not a Dask scheduler"),  # was MemoryError
])
def test_a_port_that_is_not_a_scheduler_fails_within_the_timeout(reply, words):
    listener, address = _serve(reply)
    try:
        error = _connect_error(address, within=15)
    finally:
        listener.close()
    assert isinstance(error, ConnectionError), repr(error)
    assert address in str(error) and words in str(error)


@pytest.mark.parametrize("kwargs, exc, words", [
    ({"address": 8786}, TypeError, "address must be a string"),
    ({"address": "   "}, ValueError, "address must name a scheduler"),
    ({"n_workers": 0}, ValueError, "n_workers must be ≥ 1"),
    ({"n_workers": 1.5}, TypeError, "n_workers must be an int"),
    ({"n_workers": True}, TypeError, "n_workers must be an int"),
    ({"timeout": 0}, ValueError, "timeout must be > 0"),
    ({"timeout": float("nan")}, ValueError, "timeout must be finite"),
])
def test_bad_arguments_are_named(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        distlab.connect(**kwargs)


@pytest.mark.parametrize("guarded", [False, True])
def test_a_script_without_the_main_guard_gets_one_line(tmp_path, guarded):
    """Unguarded, Dask's spawned workers re-import the script: 287 lines of tracebacks
    before this check, one line now. Guarded, the same script runs."""
    body = "client = distlab.connect()\nprint(distlab.describe(client))\nclient.close()\n"
    if guarded:
        body = 'if __name__ == "__main__":\n' + "".join(f"    {line}\n"
                                                     for line in body.splitlines())
    script = tmp_path / "script.py"
    script.write_text("import distlab\n" + body)
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "DISTLAB_SCHEDULER": ""})
    if guarded:
        assert run.returncode == 0, run.stderr
        assert "embedded LocalCluster" in run.stdout
    else:
        assert run.returncode == 1
        assert run.stderr.strip().splitlines() == [
            'distlab.connect() starts Dask worker processes, which re-import this script: '
            'put the script\'s code under `if __name__ == "__main__":`']
