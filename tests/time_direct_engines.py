"""Naive against fast direct engine, and what each idea of the fast one saves: one run.

    .venv/bin/python tests/time_direct_engines.py [repeats]

Not a test (pytest does not collect it): the measurements behind the numbers in
distlab/engines/direct_fast.py's docstring. p = 2 workers, inputs already on the workers
as futures, called from the client; every engine and algorithm timed in turn, round
robin, so that a busy machine slows them alike; medians of ``repeats`` (default 11) calls.
"""
import pickle
import statistics
import sys
import time

import numpy as np

SIZES = {"8 KiB": 8 * 2**10, "1 MiB": 2**20, "64 MiB": 64 * 2**20}
ENGINES = ("direct_naive", "direct")


def median_ms(run, repeats):
    run()                                            # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def best_of(run, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def engines_table(client, workers, repeats):
    """Median ms of the best algorithm per engine and size."""
    from distributed import wait

    from distlab.engines.algorithms import EXACT_ALGORITHMS
    from distlab.engines.allreduce import allreduce
    from distlab.engines.calibrate import make_array
    from distlab.engines.workers import submit_on

    rows = []
    for label, n_bytes in SIZES.items():
        placed = [submit_on(client, make_array, n_bytes, worker=w, strict=True)
                  for w in workers]
        wait(placed)
        best = {}
        for algorithm in EXACT_ALGORITHMS:
            for engine in ENGINES:
                ms = median_ms(lambda: allreduce(placed, algorithm, client, workers=workers,
                                                 dask_engine=engine), repeats)
                if engine not in best or ms < best[engine][1]:
                    best[engine] = (algorithm, ms)
        rows.append((label, best))
        print(f"{label:>7}  naive {best['direct_naive'][1]:8.2f} ms ({best['direct_naive'][0]})"
              f"  fast {best['direct'][1]:8.2f} ms ({best['direct'][0]})"
              f"  naive ÷ fast {best['direct_naive'][1] / best['direct'][1]:5.2f}", flush=True)
        del placed
    return rows


def one_message(client, workers, repeats):
    """Seconds of one message on the workers, each engine, by chains of hops (the
    difference of 10 and 2 hops over 8), at 8 bytes and 32 MiB."""
    from distributed import wait

    from distlab.concepts.cost import Network
    from distlab.engines.calibrate import _bounce_plan, make_array
    from distlab.engines.direct import DirectNaive
    from distlab.engines.direct_fast_call import DirectFast
    from distlab.engines.inputs import Inputs
    from distlab.engines.workers import submit_on

    for n_bytes in (8, 32 * 2**20):
        placed = [submit_on(client, make_array, n_bytes, worker=w, strict=True)
                  for w in workers]
        wait(placed)
        inputs = Inputs(tuple(placed), (n_bytes // 8,), np.dtype(float), tuple(workers),
                        futures=True)
        for engine in (DirectNaive(client), DirectFast(client)):
            def chain(hops):
                return engine.run(_bounce_plan(hops), inputs, Network()).worker_time
            chain(10)
            per_hop = statistics.median((chain(10) - chain(2)) / 8 for _ in range(repeats))
            print(f"one message of {n_bytes:>8} B, {engine.name:>12}: {per_hop * 1e3:7.3f} ms",
                  flush=True)
        del placed


def describe_cost(client, workers, repeats):
    """What describing future inputs before the call costs (naive engine, task engine)."""
    from distributed import wait

    from distlab.engines.calibrate import make_array
    from distlab.engines.inputs import Inputs
    from distlab.engines.placement import describe
    from distlab.engines.workers import submit_on

    placed = [submit_on(client, make_array, 8192, worker=w, strict=True) for w in workers]
    wait(placed)
    inputs = Inputs(tuple(placed), None, None, tuple(workers), futures=True)
    ms = median_ms(lambda: describe(client, inputs), repeats)
    print(f"describing the inputs first: {ms:.3f} ms", flush=True)


def in_process():
    """Costs the fast engine removes, timed in this process (no cluster)."""
    from distlab.concepts.kernel import (apply_incoming, block_bounds, extract, finish, flat,
        specs_for)
    from distlab.engines.algorithms import make_plan
    from distlab.engines.calibrate import _local_seconds_per_byte
    from distlab.engines.direct_fast_buffer import NodeBuffer
    from distlab.engines.direct_fast_plan import node_steps, plan_spec

    for algorithm, p in (("rabenseifner", 2), ("ring", 64), ("gossip_ring", 64)):
        plan = make_plan(algorithm, p)
        spec = plan_spec(algorithm, p, 1e-6, 0, 0.5)
        send = best_of(lambda: pickle.loads(pickle.dumps(plan)), 20) * 1e3
        steps = best_of(lambda: node_steps(plan), 5) * 1e3
        print(f"plan {algorithm} p={p}: pickled {len(pickle.dumps(plan))} B, pickle + "
              f"unpickle {send:.0f} µs, node steps {steps:.0f} µs; as a spec "
              f"{len(pickle.dumps(spec))} B", flush=True)

    n = 64 * 2**20 // 8                       # node 0 of rabenseifner, p = 2, 64 MiB
    plan = make_plan("rabenseifner", 2)
    own = np.random.default_rng(0).normal(size=n)
    incoming = [(k, [t for t in rnd.transfers if t.dst == 0])
                for k, rnd in enumerate(plan.rounds)]
    outgoing = [[t for t in rnd.transfers if t.src == 0] for rnd in plan.rounds]
    bounds = block_bounds(n, plan.blocks)
    rng = np.random.default_rng(1)
    chunks = {k: [rng.normal(size=bounds[t.chunk[1]] - bounds[t.chunk[0]]) for t in ts]
              for k, ts in incoming}

    def naive():
        buffer = flat(own, float)
        for (k, ts), sends in zip(incoming, outgoing):
            for t in sends:
                extract(buffer, *t.chunk, plan.blocks, float)
            buffer = apply_incoming(buffer, specs_for(ts), chunks[k], plan.blocks, float)
        finish(buffer, plan.divide_by, (n,), float)

    steps = node_steps(plan)[0]

    def fast():
        buffer = NodeBuffer(own, float, plan.blocks, plan.divide_by)
        for step in steps:
            for t, _ in step.outgoing:
                buffer.read(*t.chunk)
            buffer.apply(step, chunks[step.round], [False] * len(step.incoming))
        buffer.finish((n,))

    print(f"a node's arithmetic, rabenseifner p=2, 64 MiB: plain kernel {best_of(naive):.1f} "
          f"ms, in place with early division {best_of(fast):.1f} ms", flush=True)
    divide = best_of(lambda: np.true_divide(own, 2.0, out=np.empty_like(own)))
    print(f"one division pass over 64 MiB: {divide:.1f} ms", flush=True)
    _, fresh = _local_seconds_per_byte(32 * 2**20)
    print(f"a fresh 32 MiB receive buffer (page faults): {fresh * 32 * 2**20 * 1e3:.1f} ms",
          flush=True)


def main():
    import distlab

    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    in_process()
    with distlab.connect(n_workers=2, memory_limit="1536MiB") as client:
        client.wait_for_workers(2)
        workers = sorted(client.nthreads())
        engines_table(client, workers, repeats)
        one_message(client, workers, repeats)
        describe_cost(client, workers, 2 * repeats + 1)


if __name__ == "__main__":
    main()
