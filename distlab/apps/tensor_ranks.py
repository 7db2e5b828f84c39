"""Tensor parallelism live: Megatron's MLP block split over SPMD ranks on the workers.

:mod:`distlab.concepts.tensor_parallel` splits the block Z = GeLU(X A) B in one process and
adds the ranks' partial results in rank order. Here each rank is a worker process that
holds only its slices, A_i (h, f/t) by columns and B_i (f/t, h) by rows, and the two sums
are real all-reduces between the workers (Shoeybi et al., "Megatron-LM", 2019, §3,
Figure 3a):

- forward: Z_i = GeLU(X A_i) B_i on each rank, then Z = Σ Z_i, **one all-reduce** (g);
- backward: from the whole dZ each rank computes dA_i, dB_i for its slices and a partial
  dX_i; dX = Σ dX_i, **one all-reduce** (f).

The all-reduces are sums (``op="sum"``), on the ring: each sends 2(t − 1)/t·n·h·e bytes per
rank (n tokens, e = 8 bytes per float64 number), so the block costs
:func:`~distlab.concepts.tensor_parallel.bytes_per_layer` per rank, measured here on every
rank. Larger degrees than the cluster has workers run in one process with
:func:`~distlab.concepts.tensor_parallel.parallel_forward` (the same slices, the same
arithmetic).

    table = run(client, *inputs(), degree=2)     # a row per rank: bytes, gaps to unsplit
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from distlab import checks
from distlab.concepts import tensor_parallel as tp
from distlab.engines.spmd import check_group, run_ranks
from distlab.engines.workers import check_client, worker_addresses

__all__ = ["inputs", "run", "ELEMENT_BYTES"]

#: Bytes per number sent (float64).
ELEMENT_BYTES = 8
#: The largest ``tokens`` and ``hidden`` of :func:`inputs`: its arrays stay ≤ 128 MiB.
MAX_SIZE = 4096
_LIMIT = "arrays of at most 128 MiB on a laptop"


def _block_rank(group, x, a_shards, b_shards, dz) -> dict:
    """Runs on every rank: this rank's slices of the block, forward and backward, with
    the two all-reduces. Returns Z and dX (whole, as every rank ends with them), this
    rank's dA_i and dB_i, and the bytes it sent in each all-reduce. ``a_shards`` and
    ``b_shards``: one slice per rank (:func:`~distlab.concepts.tensor_parallel.
    split_columns`, :func:`~distlab.concepts.tensor_parallel.split_rows`)."""
    group = check_group(group)
    for name, shards in (("a_shards", a_shards), ("b_shards", b_shards)):
        if len(checks.sequence(name, shards)) != group.size:
            raise ValueError(f"{name} must hold one slice per rank ({group.size}), "
                             f"got {len(shards)}")
    a, b = a_shards[group.rank], b_shards[group.rank]
    start = group.bytes_sent
    z = group.allreduce(tp.forward(x, a, b), op="sum")               # Megatron's g
    middle = group.bytes_sent
    dx_partial, da, db = tp.backward(x, a, b, dz)
    dx = group.allreduce(dx_partial, op="sum")                       # Megatron's f
    return {"z": z, "dx": dx, "da": da, "db": db, "forward bytes": middle - start,
            "backward bytes": group.bytes_sent - middle}


def inputs(tokens: int = 8, hidden: int = 16, ffn: int | None = None, seed: int = 0):
    """Seeded X (tokens, hidden), A (hidden, ffn), B (ffn, hidden) and dZ (tokens, hidden),
    float64; ``ffn`` defaults to 4·hidden as in GPT. ``TypeError``/``ValueError`` naming
    a size that is not an int, zero, negative or above :data:`MAX_SIZE` (4·``MAX_SIZE``
    for ``ffn``), or a ``seed`` that is not an int ≥ 0."""
    tokens = checks.count("tokens", tokens, minimum=1, maximum=MAX_SIZE, limit=_LIMIT)
    hidden = checks.count("hidden", hidden, minimum=1, maximum=MAX_SIZE, limit=_LIMIT)
    ffn = 4 * hidden if ffn is None else checks.count("ffn", ffn, minimum=1,
                                                      maximum=4 * MAX_SIZE, limit=_LIMIT)
    rng = np.random.default_rng(checks.count("seed", seed))
    x, dz = rng.normal(size=(tokens, hidden)), rng.normal(size=(tokens, hidden))
    a = rng.normal(size=(hidden, ffn)) / np.sqrt(hidden)
    b = rng.normal(size=(ffn, hidden)) / np.sqrt(ffn)
    return x, a, b, dz


def run(client, x, a, b, dz, degree: int = 2) -> pd.DataFrame:
    """The block Z = GeLU(X A) B, with dZ for the backward pass (x (n, h), a (h, f),
    b (f, h), dz (n, h); :func:`inputs` makes seeded ones), split ``degree`` ways over the
    first ``degree`` workers (sorted by address), against the unsplit block. One row per
    rank: the shapes of its slices, the bytes it sent in the forward and the backward
    all-reduce, the formula's bytes for each
    (:func:`~distlab.concepts.tensor_parallel.bytes_per_layer` ÷ 2), and the largest gap
    of its Z, dX, dA_i, dB_i to the unsplit block's. ``attrs["gaps"]``: the largest gap of
    each over all ranks.

    ``ValueError`` naming the argument, before anything runs: a ``degree`` that does not
    divide the hidden sizes (f, which is split, and h, which the formula takes) or exceeds
    the workers, shapes that disagree; ``TypeError`` for a client that is not an open
    ``distributed.Client``."""
    check_client(client)
    degree = checks.count("degree", degree, minimum=1)
    z_whole = tp.forward(x, a, b)                                    # checks the shapes
    dx_whole, da_whole, db_whole = tp.backward(x, a, b, dz)
    a_shards, b_shards = tp.split_columns(a, degree), tp.split_rows(b, degree)
    tokens, hidden = np.shape(x)
    formula = tp.bytes_per_layer(1, tokens, hidden, degree, element_bytes=ELEMENT_BYTES) / 2
    workers = worker_addresses(client)
    if degree > len(workers):
        raise ValueError(f"degree must be ≤ {len(workers)}, the cluster's workers (one "
                         f"rank each), got {degree}; larger degrees run in one process "
                         "with tensor_parallel.parallel_forward")
    per_rank = run_ranks(client, _block_rank, np.asarray(x), a_shards, b_shards,
                         np.asarray(dz), workers=workers[:degree])
    da_parts = np.split(da_whole, degree, axis=1)
    db_parts = np.split(db_whole, degree, axis=0)
    rows = []
    for rank, r in enumerate(per_rank):
        gaps = {"Z": r["z"] - z_whole, "dX": r["dx"] - dx_whole,
                "dA_i": r["da"] - da_parts[rank], "dB_i": r["db"] - db_parts[rank]}
        rows.append({"rank": rank, "A_i": a_shards[rank].shape, "B_i": b_shards[rank].shape,
                     "forward bytes": r["forward bytes"], "backward bytes": r["backward bytes"],
                     "formula (each)": int(formula) if formula.is_integer() else formula,
                     **{f"gap {k}": float(np.abs(v).max()) for k, v in gaps.items()}})
    table = pd.DataFrame(rows).set_index("rank")
    table.attrs["gaps"] = {k: float(table[f"gap {k}"].max()) for k in ("Z", "dX", "dA_i", "dB_i")}
    table.attrs["results"] = per_rank
    return table
