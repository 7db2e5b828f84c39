"""ZeRO: shard the training state over the data-parallel ranks, one part per stage.

Plain data parallelism keeps a full copy of everything on each of the N_d ranks. With
mixed-precision Adam a model of Ψ parameters holds 2Ψ bytes of 16-bit weights, 2Ψ of
16-bit gradients and KΨ = 12Ψ of fp32 optimizer state (master weights, first and second
moments). ZeRO (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion
Parameter Models", SC 2020, §5 and Figure 1) cuts more of it into N_d shards at each stage:

=====  ===========================  ================================  ====================
stage  sharded                      bytes held per rank               sent per rank / step
=====  ===========================  ================================  ====================
0      nothing (plain data par.)    (2 + 2 + K)Ψ                      2(N−1)/N·Ψ·e
1      optimizer state (P_os)       (2 + 2)Ψ + KΨ/N                   2(N−1)/N·Ψ·e
2      + gradients (P_os+g)         2Ψ + (2 + K)Ψ/N                   2(N−1)/N·Ψ·e
3      + parameters (P_os+g+p)      (2 + 2 + K)Ψ/N                    3(N−1)/N·Ψ·e
=====  ===========================  ================================  ====================

with e bytes per communicated element (16-bit: 2). Stages 0–2 move what an all-reduce
moves (a reduce-scatter of the gradients and an all-gather of the updated parameters:
(N−1)/N·Ψ·e each, the ring's bound); stage 3 gathers the parameters twice, once for the
forward pass and once for the backward pass, and reduce-scatters the gradients: 1.5× (ZeRO
§7.2). FSDP (Zhao et al., "PyTorch FSDP", VLDB 2023) is stage 3.

The formulas come first; then a small numpy model of the sharding itself: a flat
parameter vector cut into N shards the way ``numpy.array_split`` cuts it, what each rank
keeps at each stage (real arrays, so ``nbytes`` is measured, not computed), one Adam step
on the shards, and the bytes the step's collectives send, counted on the ring plan of
:mod:`distlab.concepts.plans`. The SPMD version runs the same steps on real workers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distlab import checks
from distlab.concepts.cost import MAX_ELEMENTS, MAX_ITEMSIZE, round_bytes
from distlab.concepts.kernel import block_bounds
from distlab.concepts.plans import MAX_NODES, ring

__all__ = ["STAGES", "PARTS", "check_stage", "sharded_parts", "state_bytes", "collectives",
           "step_bytes", "RankState", "shard", "adam_step", "ring_step_bytes"]

STAGES = (0, 1, 2, 3)
#: The three parts of the training state, in the order ZeRO shards them (last first).
PARTS = ("parameters", "gradients", "optimizer state")


def check_stage(stage, name: str = "stage") -> int:
    """``stage`` as an int in 0–3; ``TypeError``/``ValueError`` naming the argument
    (``name``, a non-empty string)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    stage = checks.count(name, stage)
    if stage not in STAGES:
        raise ValueError(f"{name} must be a ZeRO stage 0, 1, 2 or 3, got {stage}")
    return stage


def sharded_parts(stage: int) -> tuple[str, ...]:
    """The parts of the state that stage ``stage`` cuts into shards: () for 0, then the
    optimizer state (1), plus the gradients (2), plus the parameters (3). Errors as
    :func:`check_stage`."""
    return PARTS[3 - check_stage(stage):]


def state_bytes(parameters: float, ranks: int, stage: int, *, weight_bytes: float = 2,
                gradient_bytes: float = 2, optimizer_bytes: float = 12) -> dict[str, float]:
    """Bytes of each part of the training state held per rank, and their ``"total"``.

    ``parameters`` Ψ (> 0, may be a float such as 7.5e9), ``ranks`` N_d ≥ 1, ``stage``
    0–3; bytes per parameter: 16-bit weights and gradients, K = 12 fp32 optimizer bytes
    (master copy + Adam's two moments) by default (ZeRO §3.1). A sharded part costs 1/N_d
    of its bytes (ZeRO Figure 1). Raises ``TypeError``/``ValueError`` naming the argument.
    """
    parameters = checks.positive("parameters", parameters)
    ranks = checks.count("ranks", ranks, minimum=1)
    sharded = sharded_parts(stage)
    per_parameter = {"parameters": checks.number("weight_bytes", weight_bytes, minimum=0),
                     "gradients": checks.number("gradient_bytes", gradient_bytes, minimum=0),
                     "optimizer state": checks.number("optimizer_bytes", optimizer_bytes,
                                                      minimum=0)}
    held = {part: parameters * size / (ranks if part in sharded else 1)
            for part, size in per_parameter.items()}
    held["total"] = sum(held.values())
    return held


def collectives(stage: int) -> list[tuple[str, str]]:
    """The collectives of one training step at ``stage``, in order, as (collective, what).

    Stage 0 all-reduces the gradients; 1 and 2 reduce-scatter them (each rank updates
    its shard) and all-gather the updated parameters; 3 all-gathers each layer's
    parameters in the forward and again in the backward pass, and reduce-scatters the
    gradients (ZeRO §5, §7.2). Errors as :func:`check_stage`."""
    return {0: [("all-reduce", "gradients")],
            1: [("reduce-scatter", "gradients"), ("all-gather", "parameters")],
            2: [("reduce-scatter", "gradients"), ("all-gather", "parameters")],
            3: [("all-gather", "parameters (forward)"),
                ("all-gather", "parameters (backward)"),
                ("reduce-scatter", "gradients")]}[check_stage(stage)]


def step_bytes(parameters: float, ranks: int, stage: int, *,
               element_bytes: float = 2) -> float:
    """Bytes each rank sends per step: (N−1)/N·Ψ·e per reduce-scatter or all-gather, two
    of them (an all-reduce) at stages 0–2, three at stage 3 (ZeRO §7.2). ``parameters``
    and ``element_bytes`` finite numbers > 0, ``ranks`` an int ≥ 1, ``stage`` 0–3;
    ``TypeError``/``ValueError`` naming the argument otherwise."""
    parameters = checks.positive("parameters", parameters)
    ranks = checks.count("ranks", ranks, minimum=1)
    element_bytes = checks.positive("element_bytes", element_bytes)
    one = (ranks - 1) / ranks * parameters * element_bytes
    return (3 if check_stage(stage) == 3 else 2) * one


# -- the sharding, as arrays ------------------------------------------------------------------

def _finite(name: str, value) -> np.ndarray:
    """``value`` as a non-empty array of finite numbers (any shape, its own dtype kept)."""
    try:
        array = np.asarray(value) if isinstance(value, (np.ndarray, list, tuple)) else None
    except ValueError:                                    # a ragged list
        array = None
    if array is None or array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    if array.size == 0:
        raise ValueError(f"{name} must hold at least one number, got an empty array")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, but contains NaN or infinity")
    return array


def _float_dtype(name: str, dtype) -> np.dtype:
    try:
        dtype = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind != "f":
        raise TypeError(f"{name} must be a numpy floating type (np.float16, np.float32, "
                        f"np.float64), got {dtype!r}")
    return dtype

@dataclass
class RankState:
    """What one rank keeps between steps: 16-bit ``weights`` and ``gradients`` (the whole
    vector, or only its shard once the stage shards them) and the fp32 optimizer state
    (``master``, ``exp_avg``, ``exp_avg_sq``: whole at stage 0, its shard from stage 1).
    ``lo:hi`` is the rank's shard of the flat vector."""
    rank: int
    stage: int
    lo: int
    hi: int
    weights: np.ndarray
    gradients: np.ndarray
    master: np.ndarray
    exp_avg: np.ndarray
    exp_avg_sq: np.ndarray

    def held_bytes(self) -> dict[str, int]:
        """Measured ``nbytes`` per part of the state, and the ``"total"``."""
        held = {"parameters": self.weights.nbytes, "gradients": self.gradients.nbytes,
                "optimizer state": self.master.nbytes + self.exp_avg.nbytes
                + self.exp_avg_sq.nbytes}
        held["total"] = sum(held.values())
        return held


def shard(weights, ranks: int, stage: int, *, weight_dtype=np.float16,
          optimizer_dtype=np.float32) -> list[RankState]:
    """Cut a flat parameter vector over ``ranks`` ranks at ``stage``: one ``RankState``
    each, rank r owning elements ``block_bounds(Ψ, N)[r:r+2]`` (``numpy.array_split``'s
    cut). Gradients start at zero. ``weight_dtype`` for weights and gradients (default
    float16), ``optimizer_dtype`` for the optimizer state (default float32); use float64
    for both to compare with unsharded training bit for bit.

    ``weights`` a non-empty vector (or array, flattened) of finite numbers, ``ranks`` an
    int in [1, :data:`~distlab.concepts.plans.MAX_NODES`], ``stage`` 0–3, the dtypes
    numpy floating types; ``TypeError``/``ValueError`` naming the argument otherwise."""
    weights = _finite("weights", weights).reshape(-1)
    ranks = checks.count("ranks", ranks, minimum=1, maximum=MAX_NODES)
    sharded = sharded_parts(stage)
    weight_dtype = _float_dtype("weight_dtype", weight_dtype)
    optimizer_dtype = _float_dtype("optimizer_dtype", optimizer_dtype)
    bounds = block_bounds(weights.size, ranks)
    master = weights.astype(optimizer_dtype)
    low_precision = master.astype(weight_dtype)
    states = []
    for r in range(ranks):
        lo, hi = int(bounds[r]), int(bounds[r + 1])

        def keep(part, full):     # a part is the whole vector until the stage shards it
            return (full[lo:hi] if part in sharded else full).copy()

        own = keep("optimizer state", master)
        states.append(RankState(
            r, stage, lo, hi, weights=keep("parameters", low_precision),
            gradients=keep("gradients", np.zeros(weights.size, weight_dtype)),
            master=own, exp_avg=np.zeros_like(own), exp_avg_sq=np.zeros_like(own)))
    return states


def adam_step(states: list[RankState], gradients, step: int, *, lr: float = 1e-3,
              beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> np.ndarray:
    """One data-parallel Adam step (Kingma & Ba 2015) on sharded state, in place.

    ``gradients``: one full local gradient per rank (shape (N, Ψ)); ``step`` t ≥ 1. The
    mean gradient is summed in rank order, so every rank's shard equals the same slice of
    unsharded training to the last bit. Each rank keeps the gradient its collective leaves
    (stage 0: the mean; 1: its local gradient with its shard replaced by the mean; 2–3:
    the mean of its shard only), updates its part of the optimizer state, and ends
    with the new weights it keeps (all, or its shard at stage 3). Returns the full new
    weight vector (in ``optimizer_dtype``: what the all-gather would assemble).

    ``step`` an int ≥ 1, ``lr`` and ``eps`` finite numbers > 0, ``beta1`` and ``beta2``
    in [0, 1), ``gradients`` finite; ``TypeError``/``ValueError`` naming the argument
    otherwise, raised before any state changes."""
    states = checks.sequence("states", states)
    if not states or not all(isinstance(s, RankState) for s in states):
        raise TypeError("states must be a non-empty list of RankState (from shard)")
    step = checks.count("step", step, minimum=1)
    lr = checks.positive("lr", lr)
    beta1 = checks.fraction("beta1", beta1, open_high=True)
    beta2 = checks.fraction("beta2", beta2, open_high=True)
    eps = checks.positive("eps", eps)
    gradients = _finite("gradients", gradients)
    size = states[-1].hi
    if gradients.shape != (len(states), size):
        raise ValueError(f"gradients must have shape (ranks, parameters) = "
                         f"{(len(states), size)}, got {gradients.shape}")
    dtype = states[0].master.dtype
    mean = gradients[0].astype(dtype)
    for g in gradients[1:]:
        mean = mean + g.astype(dtype)
    mean = mean / len(states)
    new = np.empty(size, dtype)
    for s in states:
        whole = s.master.size == size                 # stage 0: every rank updates it all
        lo, hi = (0, size) if whole else (s.lo, s.hi)
        g = mean[lo:hi]
        s.exp_avg[:] = beta1 * s.exp_avg + (1 - beta1) * g
        s.exp_avg_sq[:] = beta2 * s.exp_avg_sq + (1 - beta2) * g * g
        m_hat = s.exp_avg / (1 - beta1 ** step)
        v_hat = s.exp_avg_sq / (1 - beta2 ** step)
        s.master[:] = s.master - lr * m_hat / (np.sqrt(v_hat) + eps)
        new[s.lo:s.hi] = s.master[s.lo:s.hi] if whole else s.master
    for s in states:
        if s.stage == 0:                              # all-reduced: the mean everywhere
            s.gradients[:] = mean
        elif s.stage == 1:                            # reduce-scattered into a full buffer
            s.gradients[:] = gradients[s.rank]
            s.gradients[s.lo:s.hi] = mean[s.lo:s.hi]
        else:                                         # only the rank's shard is kept
            s.gradients[:] = mean[s.lo:s.hi]
        full_weights = s.weights.size == size
        s.weights[:] = new if full_weights else new[s.lo:s.hi]
    return new


def ring_step_bytes(parameters: int, ranks: int, stage: int, *,
                    element_bytes: int = 2) -> np.ndarray:
    """Bytes each rank sends in one step, counted transfer by transfer on the ring plan
    (:func:`distlab.concepts.plans.ring`): its reduce-scatter rounds and its all-gather
    rounds for a vector of ``parameters`` elements, combined as :func:`collectives` says.
    Shape (ranks,), int64. Equals :func:`step_bytes` when ``ranks`` divides
    ``parameters``. ``parameters`` and ``element_bytes`` ints ≥ 1, ``ranks`` an int in
    [1, :data:`~distlab.concepts.plans.MAX_NODES`], ``stage`` 0–3;
    ``TypeError``/``ValueError`` naming the argument otherwise."""
    parameters = checks.count("parameters", parameters, minimum=1, maximum=MAX_ELEMENTS)
    ranks = checks.count("ranks", ranks, minimum=1, maximum=MAX_NODES)
    element_bytes = checks.count("element_bytes", element_bytes, minimum=1,
                                 maximum=MAX_ITEMSIZE)
    stage = check_stage(stage)
    sent = round_bytes(ring(ranks), parameters, element_bytes)[2]    # (rounds, ranks)
    reduce_scatter, all_gather = sent[:ranks - 1].sum(axis=0), sent[ranks - 1:].sum(axis=0)
    return reduce_scatter + (2 if stage == 3 else 1) * all_gather
