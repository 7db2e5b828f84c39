"""A small multi-layer perceptron on the digits, in numpy: the model the model-splitting
applications split (ZeRO in :mod:`.zero_ranks`, pipeline stages in :mod:`.pipeline_ranks`,
PyTorch's ZeroRedundancyOptimizer in :mod:`.torch_zero`).

Layer k is one float64 matrix W_k of shape (inputs + 1, outputs): its last row is the bias,
since every layer's input ends with a constant 1 (the digits' 65th column, and a 1 appended
to each hidden layer's tanh output). The last layer gives class probabilities (softmax,
:func:`distlab.apps.training.probabilities`). One matrix per layer keeps a layer's
parameters one flat vector, which is what ZeRO shards and a pipeline stage holds.

Every function is pure and layer by layer, so the splitting code can run a layer where
its weights are: :func:`forward_layer`, :func:`output_gradient`, :func:`backward_layer`,
and :func:`adam` for the update (Kingma & Ba, "Adam: A Method for Stochastic
Optimization", ICLR 2015, Algorithm 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distlab import checks
from distlab.apps.training.data import N_CLASSES, N_FEATURES
from distlab.apps.training.model import probabilities

__all__ = ["MLPTraining", "layer_shapes", "init_layers", "forward_layer", "output_gradient",
           "backward_layer", "gradients", "adam", "ADAM"]

#: Adam's defaults (Kingma & Ba 2015): β₁, β₂, ε.
ADAM = (0.9, 0.999, 1e-8)
#: The widest hidden layer and the most steps accepted: far beyond this book's runs (32
#: to 1024 units, tens of steps); a larger value is a slip that would run for hours.
MAX_WIDTH, MAX_STEPS = 4096, 100_000
#: The largest batch: the digits' 1,797 rows.
MAX_BATCH = 1797


def layer_shapes(hidden) -> list[tuple[int, int]]:
    """The weight shapes for hidden layers of widths ``hidden`` (a list of ints ≥ 1):
    (65, h₁), (h₁ + 1, h₂), …, (h_last + 1, 10); no hidden layer: one (65, 10).
    ``TypeError``/``ValueError`` naming ``hidden`` (a width that is not an int in
    [1, :data:`MAX_WIDTH`])."""
    hidden = checks.sequence("hidden", hidden)
    widths = [checks.count(f"hidden[{i}]", h, minimum=1, maximum=MAX_WIDTH,
                           limit="wider than any layer this book trains")
              for i, h in enumerate(hidden)]
    ins = [N_FEATURES] + [w + 1 for w in widths]
    return list(zip(ins, widths + [N_CLASSES]))


def init_layers(hidden, seed: int = 0) -> list[np.ndarray]:
    """Seeded weights, float64: normal, scaled by 1/√inputs (LeCun initialisation), the
    same in every process for the same ``seed``. ``TypeError``/``ValueError`` naming
    ``hidden`` (as :func:`layer_shapes`) or ``seed`` (an int ≥ 0)."""
    rng = np.random.default_rng([checks.count("seed", seed), 3])
    return [rng.normal(size=shape) / np.sqrt(shape[0]) for shape in layer_shapes(hidden)]


def _matrix(name: str, value, rows: int | None = None, columns: int | None = None):
    """``value`` as a finite 2-D float array (not copied when it is one) with at least one
    row and one column, of ``rows`` rows and ``columns`` columns when given;
    ``TypeError``/``ValueError`` naming ``name``."""
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a 2-D numeric array, got {type(value).__name__}")
    array = np.asarray(value)
    if array.dtype.kind not in "biuf" or array.ndim != 2:
        raise TypeError(f"{name} must be a 2-D numeric array, got dtype {array.dtype} "
                        f"and shape {array.shape}")
    if not array.size:
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    for axis, size, what in ((0, rows, "rows"), (1, columns, "columns")):
        if size is not None and array.shape[axis] != size:
            raise ValueError(f"{name} must have {size} {what}, got shape {array.shape}")
    with np.errstate(over="ignore", invalid="ignore"):     # one summing pass, no temporary
        finite = np.isfinite(array.sum()) or np.isfinite(array).all()
    if not finite:
        raise ValueError(f"{name} must be finite, but contains NaN or infinity")
    return array


def forward_layer(w, a, last: bool) -> np.ndarray:
    """Layer output for input ``a`` (rows, inputs + 1) and weights ``w`` (inputs + 1,
    outputs): softmax probabilities (rows, 10) for the ``last`` layer, else tanh(a W) with
    a column of ones appended (rows, outputs + 1). Errors name the argument."""
    w = _matrix("w", w)
    a = _matrix("a", a, columns=w.shape[0])
    if checks.flag("last", last):
        return probabilities(w, a)
    h = np.tanh(a @ w)
    return np.hstack([h, np.ones((len(h), 1))])


def output_gradient(probs, y, count: int) -> np.ndarray:
    """d loss / d logits of the mean cross-entropy over ``count`` ≥ 1 rows, for the rows
    ``probs`` (rows, classes) with int labels ``y`` (rows,): (softmax − one-hot) / count.
    ``TypeError``/``ValueError`` naming ``probs``, ``y`` or ``count``."""
    probs = _matrix("probs", probs)
    y = np.asarray(y)
    if y.shape != (len(probs),) or y.dtype.kind not in "iu" or (
            len(y) and not 0 <= y.min() <= y.max() < probs.shape[1]):
        raise ValueError(f"y must hold {len(probs)} int labels in 0 … {probs.shape[1] - 1}, "
                         f"got shape {y.shape}, dtype {y.dtype}")
    d = probs.copy()
    d[np.arange(len(y)), y] -= 1.0
    return d / checks.count("count", count, minimum=1)


def backward_layer(w, a, out, d_out, last: bool) -> tuple[np.ndarray, np.ndarray]:
    """(dW, d_a) of one layer: ``a`` its input (rows, inputs + 1), ``out`` its output,
    ``d_out`` the gradient at its output (for the ``last`` layer: at the logits, from
    :func:`output_gradient`). Errors name the argument."""
    w = _matrix("w", w)
    a = _matrix("a", a, columns=w.shape[0])
    width = w.shape[1] + (not checks.flag("last", last))
    out = _matrix("out", out, len(a), width)
    d_out = _matrix("d_out", d_out, len(a), width)
    dz = d_out if last else d_out[:, :-1] * (1.0 - out[:, :-1] ** 2)
    return a.T @ dz, dz @ w.T


def gradients(layers, X, y, count: int | None = None) -> list[np.ndarray]:
    """Every layer's gradient of the mean cross-entropy of rows ``X``, ``y`` over
    ``count`` rows (default ``len(y)``): the whole model in one process, the reference the
    split versions are checked against. ``layers`` as :func:`init_layers` makes them.
    ``TypeError``/``ValueError`` naming the argument, as the layer functions raise them."""
    layers = checks.sequence("layers", layers)
    if not layers:
        raise ValueError("layers must hold at least one weight matrix")
    layers = [_matrix(f"layers[{k}]", w) for k, w in enumerate(layers)]
    acts = [_matrix("X", X)]
    for k, w in enumerate(layers):
        acts.append(forward_layer(w, acts[-1], k == len(layers) - 1))
    d = output_gradient(acts[-1], y, len(acts[-1]) if count is None else count)
    grads = [None] * len(layers)
    for k in reversed(range(len(layers))):
        grads[k], d = backward_layer(layers[k], acts[k], acts[k + 1], d, k == len(layers) - 1)
    return grads


def adam(w, m, v, g, step: int, lr: float, betas=ADAM) -> None:
    """One Adam step on ``w`` with gradient ``g``, in place on ``w`` and the moments
    ``m``, ``v`` (float arrays of one shape; any slice of a model: the update is element
    by element, so a shard updated alone gives the bits of the whole). ``step`` t ≥ 1,
    ``lr`` > 0, ``betas`` (β₁, β₂, ε). Everything is checked before anything changes:
    ``TypeError``/``ValueError`` naming the argument."""
    arrays = {"w": w, "m": m, "v": v}
    for name, array in arrays.items():
        if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
            raise TypeError(f"{name} must be a float numpy array (updated in place), "
                            f"got {type(array).__name__}")
    g = np.asarray(g)
    if g.dtype.kind not in "biuf" or not all(x.shape == w.shape for x in (m, v, g)):
        raise ValueError(f"w, m, v and g must have one shape, got {w.shape}, {m.shape}, "
                         f"{v.shape}, {g.shape}")
    for name, array in (("g", g), *arrays.items()):
        with np.errstate(over="ignore", invalid="ignore"):   # one summing pass each
            if not np.isfinite(array.sum()) and not np.isfinite(array).all():
                raise ValueError(f"{name} must be finite, but contains NaN or infinity")
    step, lr = checks.count("step", step, minimum=1), checks.positive("lr", lr)
    betas = checks.sequence("betas", betas)
    if len(betas) != 3:
        raise ValueError(f"betas must be (beta1, beta2, eps), got {betas}")
    beta1 = checks.fraction("beta1", betas[0], open_high=True)
    beta2 = checks.fraction("beta2", betas[1], open_high=True)
    eps = checks.positive("eps", betas[2])
    m *= beta1
    m += (1 - beta1) * g
    v *= beta2
    v += (1 - beta2) * (g * g)
    w -= lr * (m / (1 - beta1 ** step)) / (np.sqrt(v / (1 - beta2 ** step)) + eps)


@dataclass(frozen=True)
class MLPTraining:
    """How the model is trained: ``steps`` ≥ 1 Adam steps with learning rate ``lr`` > 0,
    ``batch`` ≥ 1 rows per rank per step, hidden layers of widths ``hidden``, weights and
    mini-batches from ``seed`` ≥ 0. Checked when made (``TypeError``/``ValueError``
    naming the argument; ``steps`` ≤ :data:`MAX_STEPS`, widths ≤ :data:`MAX_WIDTH`,
    ``batch`` ≤ :data:`MAX_BATCH`)."""
    steps: int = 10
    batch: int = 32
    hidden: tuple = (32,)
    lr: float = 1e-2
    seed: int = 0

    def __post_init__(self):
        layer_shapes(self.hidden)
        object.__setattr__(self, "hidden", tuple(self.hidden))
        checks.count("steps", self.steps, minimum=1, maximum=MAX_STEPS,
                     limit="more steps than any run of this book")
        checks.count("batch", self.batch, minimum=1, maximum=MAX_BATCH,
                     limit="the digits' rows")
        checks.positive("lr", self.lr)
        checks.count("seed", self.seed)
