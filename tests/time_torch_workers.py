"""Torch loaded in the workers against no torch: the 64 MiB all-reduce on 2 workers.

    .venv/bin/python tests/time_torch_workers.py [repeats] [--dask-thresholds]

Not a test (pytest collects only ``test_*.py``): the measurement behind issue 15, item 3,
and behind :class:`distlab.engines.cluster.MemoryAboveFootprint`. Two embedded clusters
made by ``distlab.connect()`` with its defaults (2 workers, 512 MiB each), alive together;
the workers of one re-import this script with torch imported at its top, as a training
script's workers do (multiprocessing's "spawn" re-imports the main module), the other's
without. Every call alternates between them (A/B, then B/A), so a busy machine slows both
alike. Two patterns: inputs already on the workers, and fresh inputs scattered from the
client before every call (the user-level pattern). Prints, per cluster and pattern, the
median, 90th percentile and fastest of ``repeats`` calls (default 21) after two warm-up
calls, the calls that failed, and what the workers' memory managers did (start
footprint, thresholds, paused, bytes spilled to disk). ``--dask-thresholds`` puts Dask's
own thresholds back (the behaviour before the fix) for a before/after comparison.
"""
import os
import statistics
import sys
import time

if os.environ.get("DISTLAB_TIME_TORCH") == "1":
    import torch  # noqa: F401  -- what the workers of a training script re-import

import numpy as np

N_BYTES = 64 * 2**20
ALGORITHM = "ring"


def node_vector(n_bytes, node):
    return np.random.default_rng(node).random(n_bytes // 8)


def memory_facts(dask_worker):
    """Runs on a worker: what its memory manager saw and did."""
    import psutil
    manager = dask_worker.memory_manager
    spilled = getattr(dask_worker.data, "spilled_total", None)
    return {"torch": "torch" in sys.modules,
            "rss_mib": psutil.Process().memory_info().rss / 2**20,
            "spill_at_mib": (manager.memory_spill_fraction or 0) * manager.memory_limit / 2**20,
            "pause_at_mib": (manager.memory_pause_fraction or 0) * manager.memory_limit / 2**20,
            "paused": dask_worker.status.name == "paused",
            "spilled_mib": spilled.disk / 2**20 if spilled else 0.0}


def dask_thresholds(dask_worker=None):
    """Dask's own thresholds, as before distlab counted them from the footprint."""
    import dask
    config = dask.config.get("distributed.worker.memory")
    manager = dask_worker.memory_manager
    manager.memory_target_fraction = config["target"]
    manager.memory_spill_fraction = config["spill"]
    manager.memory_pause_fraction = config["pause"]


def start(torch_in_workers, dask_defaults):
    import distlab
    from distributed import wait

    from distlab.engines.cluster import MemoryAboveFootprint
    from distlab.engines.workers import submit_on, worker_addresses
    os.environ["DISTLAB_TIME_TORCH"] = "1" if torch_in_workers else "0"
    try:
        client = distlab.connect()
    finally:
        del os.environ["DISTLAB_TIME_TORCH"]
    client.wait_for_workers(2)
    if dask_defaults:
        client.unregister_worker_plugin(MemoryAboveFootprint.name)
        client.run(dask_thresholds)
        for nanny in client.cluster.workers.values():
            nanny.memory_manager.memory_terminate_fraction = \
                __import__("dask").config.get("distributed.worker.memory.terminate")
    workers = worker_addresses(client)[:2]
    footprints = client.run(lambda: __import__("psutil").Process().memory_info().rss)
    print(f"{'torch in workers' if torch_in_workers else 'no torch':17s} resident at start: "
          + ", ".join(f"{v / 2**20:.0f} MiB" for v in footprints.values()), flush=True)
    placed = [submit_on(client, node_vector, N_BYTES, i, worker=w, strict=True)
              for i, w in enumerate(workers)]
    wait(placed)
    return client, workers, placed


def one_call(cluster, pattern, arrays):
    """Seconds of one all-reduce, or None when it failed (then waits for the workers)."""
    from distributed import wait

    from distlab.engines.allreduce import allreduce
    from distlab.engines.workers import wait_for_workers, worker_addresses
    client, workers, placed = cluster
    began = time.perf_counter()
    try:
        if pattern == "fresh inputs from the client":
            inputs = [client.scatter(a, workers=[w], direct=True, hash=False)
                      for a, w in zip(arrays, workers)]
        else:
            inputs = placed
        result = allreduce(inputs, ALGORITHM, client, workers=workers)
        wait(result.futures)
        seconds = time.perf_counter() - began
        del result, inputs
        return seconds
    except Exception as exc:                           # reported in the table, not fatal
        print(f"    failed: {type(exc).__name__}: {str(exc)[:120]}", flush=True)
        wait_for_workers(client, 2)
        workers[:] = worker_addresses(client)[:2]
        return None


def summary(times):
    done = sorted(t for t in times if t is not None)
    if not done:
        return "every call failed"
    return (f"median {statistics.median(done) * 1e3:6.1f} ms   "
            f"p90 {np.percentile(done, 90) * 1e3:6.1f} ms   "
            f"fastest {done[0] * 1e3:6.1f} ms   failed {len(times) - len(done)}")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeats = int(args[0]) if args else 21
    dask_defaults = "--dask-thresholds" in sys.argv
    clusters = {name: start(name == "torch in workers", dask_defaults)
                for name in ("no torch", "torch in workers")}
    arrays = [node_vector(N_BYTES, i) for i in range(2)]
    patterns = ("inputs on the workers", "fresh inputs from the client")
    times = {(name, pattern): [] for name in clusters for pattern in patterns}
    for pattern in patterns:
        for name, cluster in clusters.items():         # warm-up: connections, plans
            one_call(cluster, pattern, arrays)
            one_call(cluster, pattern, arrays)
    for i in range(repeats):
        for pattern in patterns:
            order = list(clusters) if i % 2 == 0 else list(clusters)[::-1]
            for name in order:
                times[name, pattern].append(one_call(clusters[name], pattern, arrays))
    load = os.getloadavg()
    print(f"64 MiB per node, p = 2, {ALGORITHM}, {repeats} calls each, interleaved; "
          f"thresholds: {'Dask defaults' if dask_defaults else 'distlab (above footprint)'}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for (name, pattern), seconds in times.items():
        print(f"  {name:17s} {pattern:29s} {summary(seconds)}")
    for name, (client, _, _) in clusters.items():
        for address, facts in sorted(client.run(memory_facts).items()):
            print(f"  {name:17s} {address}: " + ", ".join(
                f"{k} {v:.0f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in facts.items()))
        client.close()


if __name__ == "__main__":
    main()
