"""Reduce-scatter, all-gather, broadcast and point-to-point as plans (the ring is the first
two in a row), exact on the kernel, bytes at the bound; and the same collectives called
by SPMD ranks on the workers (Group.reduce_scatter, all_gather, broadcast, send, recv):
the kernel's bits, the same bytes, bad input that ends the call on every rank, and a
failed rank that frees the others at once."""
import sys
from dataclasses import replace

import cloudpickle
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.concepts import plans
from distlab.concepts.cost import bytes_per_node
from distlab.concepts.kernel import block_bounds, run_plan
from distlab.engines.direct_fast_plan import node_steps
from distlab.engines.spmd import run_ranks

cloudpickle.register_pickle_by_value(sys.modules[__name__])

F64 = np.float64
nodes = st.integers(1, 12)


def vectors(p, n, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=n) * 10.0 ** rng.integers(-3, 4) for _ in range(p)]


def chunk(x, c, p):
    bounds = block_bounds(len(x), p)
    return x[bounds[c]:bounds[c + 1]]


def chunk_size(n, c, p):
    bounds = block_bounds(n, p)
    return int(bounds[c + 1] - bounds[c])


# ---------------------------------------------------------------- the plans, pure

@given(p=nodes)
def test_ring_is_reduce_scatter_then_all_gather(p):
    assert plans.ring(p).rounds == plans.reduce_scatter(p).rounds + plans.all_gather(p).rounds
    assert plans.ring(p).divide_by == plans.reduce_scatter(p).divide_by == p
    assert plans.reduce_scatter(p, divide=False).divide_by is None
    assert plans.all_gather(p).divide_by is None
    assert plans.reduce_scatter(p).n_rounds == plans.all_gather(p).n_rounds == p - 1


@settings(max_examples=60, deadline=None)
@given(p=nodes, k=st.integers(0, 40), extra=st.integers(0, 11), seed=st.integers(0, 99))
def test_reduce_scatter_and_all_gather_bytes_per_node(p, k, extra, seed):
    n = p * k
    for plan in (plans.reduce_scatter(p), plans.all_gather(p)):
        sent, received = bytes_per_node(plan, n, 8)
        assert (sent == (p - 1) * k * 8).all() and (received == sent).all()   # (p−1)/p·n
    n = p * k + extra % p                          # any length: each chunk sent p−1 times
    rs, _ = bytes_per_node(plans.reduce_scatter(p), n, 8)
    ag, _ = bytes_per_node(plans.all_gather(p), n, 8)
    assert rs.sum() == ag.sum() == (p - 1) * n * 8
    for i in range(p):
        assert rs[i] == (n - chunk_size(n, plans.ring_shard(i, p), p)) * 8
        assert ag[i] == (n - chunk_size(n, (i + 2) % p, p)) * 8


@settings(max_examples=60, deadline=None)
@given(p=nodes, n=st.integers(0, 60), seed=st.integers(0, 2**16))
def test_reduce_scatter_gives_each_node_its_shard_of_the_rings_result(p, n, seed):
    xs = vectors(p, n, seed)
    ring_mean, _ = run_plan(plans.ring(p), xs, F64)
    ring_sum, _ = run_plan(replace(plans.ring(p), divide_by=None), xs, F64)
    mean, _ = run_plan(plans.reduce_scatter(p), xs, F64)
    total, _ = run_plan(plans.reduce_scatter(p, divide=False), xs, F64)
    for i in range(p):
        c = plans.ring_shard(i, p)
        assert np.array_equal(chunk(mean[i], c, p), chunk(ring_mean[i], c, p))   # bit for bit
        assert np.array_equal(chunk(total[i], c, p), chunk(ring_sum[i], c, p))
        assert np.allclose(chunk(mean[i], c, p), chunk(np.mean(xs, axis=0), c, p))


@settings(max_examples=60, deadline=None)
@given(p=nodes, n=st.integers(0, 60), seed=st.integers(0, 2**16))
def test_all_gather_and_broadcast_copy_exactly(p, n, seed):
    full = vectors(1, n, seed)[0]
    noise = vectors(p, n, seed + 1)                 # what the nodes hold outside their part
    shards = []
    for i in range(p):
        mine = noise[i].copy()
        b = block_bounds(n, p)
        c = plans.ring_shard(i, p)
        mine[b[c]:b[c + 1]] = full[b[c]:b[c + 1]]
        shards.append(mine)
    gathered, _ = run_plan(plans.all_gather(p), shards, F64)
    assert all(np.array_equal(g, full) for g in gathered)
    root = seed % p
    for plan in (plans.broadcast(p, root), plans.broadcast_star(p, root)):
        inputs = [full if i == root else noise[i] for i in range(p)]
        out, _ = run_plan(plan, inputs, F64)
        assert all(np.array_equal(o, full) for o in out)


@given(p=nodes, k=st.integers(0, 30), root=st.integers(0, 11))
def test_broadcast_bytes(p, k, root):
    root %= p
    n = p * k
    sent, received = bytes_per_node(plans.broadcast(p, root), n, 8)
    others = [i for i in range(p) if i != root]
    assert sent[root] == (2 * (p - 1) * k * 8 if p > 1 else 0)
    assert all(sent[i] == (p - 1) * k * 8 for i in others)
    assert all(received[i] == n * 8 for i in others) or p == 1
    star, _ = bytes_per_node(plans.broadcast_star(p, root), n, 8)
    assert star[root] == (p - 1) * n * 8 and star.sum() == star[root]


def test_point_to_point_and_its_steps():
    plan = plans.point_to_point(3, 2, 0)
    out, _ = run_plan(plan, [np.zeros(4), np.ones(4), np.arange(4.0)], F64)
    assert np.array_equal(out[0], np.arange(4.0)) and np.array_equal(out[1], np.ones(4))
    sent, _ = bytes_per_node(plan, 4, 8)
    assert sent.tolist() == [0, 0, 32]
    steps = node_steps(plan)                        # the fast engine's view: only 2 and 0 act
    assert [len(steps[i]) for i in range(3)] == [1, 0, 1]


@pytest.mark.parametrize("build, error, match", [
    (lambda: plans.reduce_scatter(0), ValueError, "p must be ≥ 1"),
    (lambda: plans.all_gather(2.0), TypeError, "p must be an int"),
    (lambda: plans.broadcast(3, 3), ValueError, "root must be a node, 0 … 2"),
    (lambda: plans.broadcast_star(3, -1), ValueError, "root must be ≥ 0"),
    (lambda: plans.point_to_point(3, 1, 1), ValueError, "src and dst must be different"),
    (lambda: plans.point_to_point(2, 0, 2), ValueError, "dst must be a node"),
    (lambda: plans.star(2, 5), ValueError, "root must be a node"),
    (lambda: plans.reduce_scatter(2, divide=1), TypeError, "divide must be True or False"),
    (lambda: plans.ring_shard(2, 2), ValueError, "node must be a node, 0 … 1"),
    (lambda: plans.ring_shard(0, 0), ValueError, "p must be ≥ 1"),
])
def test_bad_arguments_name_themselves(build, error, match):
    with pytest.raises(error, match=match):
        build()


# ---------------------------------------------------------------- the same, on the workers

def collectives(group, xs, root):
    p, r = group.size, group.rank
    out, sent = {}, []
    for name, call in [("rs", lambda: group.reduce_scatter(xs[r])),
                       ("rs_sum", lambda: group.reduce_scatter(xs[r], op="sum")),
                       ("ag", lambda: group.all_gather(out["rs"], len(xs[r]))),
                       ("bc", lambda: group.broadcast(xs[r], root)),
                       ("sum", lambda: group.allreduce(xs[r], op="sum"))]:
        before = group.bytes_sent
        out[name] = call()
        sent.append(group.bytes_sent - before)
    out["bounds"] = group.shard_bounds(len(xs[r]))
    out["sent"] = sent
    return out


@settings(max_examples=12, deadline=None)
@given(n=st.integers(1, 3000), seed=st.integers(0, 2**16))
def test_group_collectives_give_the_kernels_bits(client, n, seed):
    xs = vectors(2, n, seed)
    root = seed % 2
    results = run_ranks(client, collectives, xs, root)
    ring_mean, _ = run_plan(plans.ring(2), xs, F64)
    ring_sum, _ = run_plan(replace(plans.ring(2), divide_by=None), xs, F64)
    for r, out in enumerate(results):
        c = plans.ring_shard(r, 2)
        lo, hi = block_bounds(n, 2)[c], block_bounds(n, 2)[c + 1]
        assert out["bounds"] == (lo, hi)
        assert np.array_equal(out["rs"], ring_mean[r][lo:hi])
        assert np.array_equal(out["rs_sum"], ring_sum[r][lo:hi])
        assert np.array_equal(out["ag"], ring_mean[0]) and np.array_equal(out["sum"], ring_sum[r])
        assert np.array_equal(out["bc"], xs[root])
    rs, rs_sum, ag, bc, _ = np.array([out["sent"] for out in results]).T
    shard = [hi - lo for lo, hi in (out["bounds"] for out in results)]
    assert rs.tolist() == rs_sum.tolist() == [(n - shard[r]) * 8 for r in range(2)]
    assert ag.tolist() == [shard[r] * 8 for r in range(2)]      # each sends its shard
    assert bc[root] == n * 8 and bc[1 - root] == shard[1 - root] * 8


def test_bytes_at_the_bound_for_even_lengths(client):
    n = 2**15                                        # large enough for the raw stream
    results = run_ranks(client, collectives, vectors(2, n, 3), 0)
    rs, rs_sum, ag, bc, total = np.array([out["sent"] for out in results]).T
    half = n // 2 * 8                                # (p − 1)/p · n bytes
    assert rs.tolist() == rs_sum.tolist() == ag.tolist() == [half, half]
    assert bc.tolist() == [2 * half, half] and total.tolist() == [2 * half, 2 * half]


def ping_pong(group, rounds):
    x = np.arange(3.0) + group.rank
    seen = []
    for k in range(rounds):
        if group.rank == 0:
            group.send(x * (k + 1), 1)
            group.send(x + 100 * k, 1)              # two in a row: they arrive in order
            seen.append(group.recv(x, 1))
        else:
            seen.append((group.recv(x, 0), group.recv(((3,), np.float64), 0)))
            group.send(seen[-1][0] - seen[-1][1], 0)
    return seen, group.bytes_sent


def test_send_and_recv_keep_order_and_count_bytes(client):
    (zero, sent0), (one, sent1) = run_ranks(client, ping_pong, 5)
    x = np.arange(3.0)
    for k in range(5):
        assert np.array_equal(one[k][0], x * (k + 1)) and np.array_equal(one[k][1], x + 100 * k)
        assert np.array_equal(zero[k], x * (k + 1) - (x + 100 * k))
    assert (sent0, sent1) == (5 * 2 * 24, 5 * 24)


def one_rank_passes(group, call, bad):
    try:
        call(group, bad if group.rank == 0 else np.ones(4))
    except Exception as exc:                         # report, not raise: see both ranks
        return type(exc).__name__, str(exc)
    return "no error", ""


CALLS = {
    "reduce_scatter": lambda g, v: g.reduce_scatter(v),
    "all_gather": lambda g, v: g.all_gather(v, 8),
    "broadcast": lambda g, v: g.broadcast(v, 0),
    "op": lambda g, v: g.reduce_scatter(np.ones(4), op=v if g.rank == 0 else "mean"),
    "root": lambda g, v: g.broadcast(np.ones(4), v if g.rank == 0 else 0),
}


@pytest.mark.parametrize("call, bad, kind, words", [
    ("reduce_scatter", np.array([1.0, np.nan, 2.0, 3.0]), "ValueError", "finite"),
    ("all_gather", np.ones(3), "ValueError", "shard must hold rank 0's 4 elements"),
    ("broadcast", "text", "TypeError", "numeric"),
    ("op", "max", "ValueError", "op must be one of"),
    ("root", 2, "ValueError", "root must be a node"),
])
def test_bad_input_on_one_rank_ends_the_call_on_every_rank(client, call, bad, kind, words):
    (kind0, message0), (kind1, message1) = run_ranks(client, one_rank_passes, CALLS[call],
                                                     bad, timeout=30)
    assert kind0 == kind and words in message0
    assert kind1 == "Aborted" and "rank 0" in message1 and words in message1


def bad_peers(group):
    errors = []
    for call in (lambda: group.send(1.0, group.rank), lambda: group.recv(np.ones(1), 7),
                 lambda: group.allreduce(1.0, "gossip_ring", op="sum")):
        try:
            call()
        except ValueError as exc:
            errors.append(str(exc))
    return errors, group.allreduce(float(group.rank))    # and the group still works


def test_bad_peers_and_sum_of_gossip_are_refused_and_the_group_goes_on(client):
    for errors, mean in run_ranks(client, bad_peers):
        assert "dst must be another rank" in errors[0] and "src must be a node" in errors[1]
        assert "op='sum' needs an exact algorithm" in errors[2]
        assert float(mean) == 0.5


def fails_early(group, what):
    from distributed import get_worker

    if group.rank == 0:
        raise RuntimeError("rank 0 gives up")
    try:
        return what(group)
    except Exception as exc:                         # how the other rank's call ended
        get_worker().distlab_test_outcome = type(exc).__name__
        raise


def outcome(dask_worker):
    return getattr(dask_worker, "distlab_test_outcome", None)


def forget_outcome(dask_worker):
    dask_worker.distlab_test_outcome = None


@pytest.mark.parametrize("what", [lambda g: g.reduce_scatter(np.ones(4)),
                                  lambda g: g.recv(np.ones(2), 0),
                                  lambda g: g.barrier()])
def test_a_failing_rank_frees_the_others_and_the_next_call_works(client, what):
    """Rank 1 waits in a collective for rank 0, which fails before it: rank 1's call ends
    with Aborted (not the 60 s timeout), and the next run_ranks call finds free workers."""
    client.run(forget_outcome)
    with pytest.raises(RuntimeError, match="rank 0 gives up"):
        run_ranks(client, fails_early, what, timeout=60)
    results = run_ranks(client, collectives, vectors(2, 10, 1), 1)
    assert np.array_equal(results[0]["bc"], results[1]["bc"])
    assert sorted(map(str, client.run(outcome).values())) == ["Aborted", "None"]
    assert not any(client.processing().values())
