"""The memory calculator: bytes per device when a model is split D × T × P ways with ZeRO.

Chapter 01 (:mod:`distlab.concepts.sizing`) counts the training state of a whole model.
Here it is split over devices = D (data) × T (tensor) × P (pipeline) ranks:

- **Model state.** Tensor and pipeline parallelism each hold 1/T and 1/P of the weights
  (the embeddings and uneven stages are ignored), so a device owns Ψ/(T·P) parameters;
  ZeRO then shards their state over the D data-parallel ranks
  (:func:`distlab.concepts.zero.state_bytes`). Mixed-precision Adam by default: 2 + 2 + 12
  bytes per parameter (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training
  Trillion Parameter Models", SC 2020, §3.1). Their Figure 1, Ψ = 7.5B on 64 devices:
  120 GB unsharded, 31.4, 16.6 and 1.9 GB at stages 1, 2, 3.
- **Activations.** Korthikanti et al. ("Reducing Activation Recomputation in Large
  Transformer Models", 2022, arXiv:2205.05198; MLSys 2023, §4) count the bytes one transformer layer keeps for
  its backward pass, with 16-bit activations, s tokens per sequence, b sequences per
  micro-batch, hidden size h, a attention heads: sbh(34 + 5as/h); with tensor parallelism
  of degree t (no sequence parallelism) sbh(10 + 24/t + 5as/(ht)); with full
  recomputation only each layer's input, 2sbh. Pipeline stage 0 holds the most layers and
  the most micro-batches in flight (1F1B: min(P, m), GPipe: m;
  :mod:`distlab.concepts.pipeline`), so its device is the one counted here.
- **What is left out**: the embedding and output layers' activations, temporary buffers,
  fragmentation, and the communication buffers: a real device needs some headroom.

Units: bytes, exactly; shown in GB = 10⁹ bytes, as accelerator datasheets count.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from distlab import checks
from distlab.concepts import pipeline, zero
from distlab.concepts.sizing import GB, MODELS, OPTIMIZERS, PRECISIONS, bytes_per_parameter

__all__ = ["Transformer", "SHAPES", "MAX_DEVICES", "shape", "activation_bytes_per_layer",
           "degrees", "DeviceMemory", "per_device", "configurations", "GB"]

#: The most devices :func:`configurations` splits a model over (it tries every divisor):
#: about a million, past the largest training clusters built so far.
MAX_DEVICES = 1 << 20


@dataclass(frozen=True)
class Transformer:
    """A GPT-style transformer's shape: ``layers`` L, ``hidden`` h, ``heads`` a,
    ``sequence`` s (tokens), and its ``parameters`` Ψ (≈ 12Lh² plus embeddings). Raises
    ``TypeError`` (a name or source not a string, a size not an int) or ``ValueError``
    (an empty name, a size < 1, heads not dividing hidden)."""
    name: str
    layers: int
    hidden: int
    heads: int
    sequence: int
    parameters: float
    source: str = ""

    def __post_init__(self):
        for name in ("name", "source"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"{name} must be a string, got "
                                f"{type(getattr(self, name)).__name__}")
        if not self.name:
            raise ValueError("name must not be empty")
        for name in ("layers", "hidden", "heads", "sequence"):
            checks.count(name, getattr(self, name), minimum=1)
        checks.positive("parameters", self.parameters)
        if self.hidden % self.heads:
            raise ValueError(f"heads must divide hidden = {self.hidden}, got {self.heads}")


def _parameters_of(name: str) -> float:
    """Chapter 01's parameter count for a named model (one source of truth)."""
    return next(m.parameters for m in MODELS if m.name == name)


#: Shapes from the papers: GPT-3's largest and the three of Korthikanti et al.'s Table 3.
SHAPES = (
    Transformer("GPT-3 175B", 96, 12288, 96, 2048, _parameters_of("GPT-3 175B"),
                "Brown et al. 2020, Table 2.1"),
    Transformer("Megatron 22B", 48, 6144, 64, 2048, 22e9, "Korthikanti et al. 2022, Table 3"),
    Transformer("MT-NLG 530B", 105, 20480, 128, 2048, 530e9,
                "Korthikanti et al. 2022, Table 3; Smith et al. 2022"),
    Transformer("Megatron 1T", 128, 25600, 160, 2048, 1e12, "Korthikanti et al. 2022, Table 3"),
)


def shape(name: str) -> Transformer:
    """The entry of ``SHAPES`` called ``name``; ``ValueError`` (listing them) otherwise."""
    checks.choice("name", name, [s.name for s in SHAPES])
    return next(s for s in SHAPES if s.name == name)


def activation_bytes_per_layer(sequence: int, micro_batch: int, hidden: int, heads: int, *,
                               tensor: int = 1, recompute: bool = False) -> float:
    """Bytes of activations one layer keeps per micro-batch (Korthikanti et al. 2022, §4):
    sbh(10 + 24/t + 5as/(ht)) — sbh(34 + 5as/h) at t = 1 — or 2sbh with full
    recomputation (the layer's input only). ``ValueError`` naming ``tensor`` when t does
    not divide the heads or the hidden size."""
    s = checks.count("sequence", sequence, minimum=1)
    b = checks.count("micro_batch", micro_batch, minimum=1)
    h = checks.count("hidden", hidden, minimum=1)
    a = checks.count("heads", heads, minimum=1)
    t = checks.count("tensor", tensor, minimum=1)
    if a % t or h % t:
        raise ValueError(f"tensor must divide heads = {a} and hidden = {h}, got {t}")
    if checks.flag("recompute", recompute):
        return 2.0 * s * b * h
    return s * b * h * (10 + 24 / t + 5 * a * s / (h * t))


def degrees(devices: int | None = None, dp: int | None = None, tp: int = 1,
            pp: int = 1) -> tuple[int, int, int, int]:
    """(devices, dp, tp, pp) with devices = dp·tp·pp. Give ``devices`` and leave ``dp``
    out to get dp = devices/(tp·pp); leave ``devices`` out to get the product.
    ``ValueError`` naming the degree that does not divide ``devices``."""
    tp = checks.count("tp", tp, minimum=1)
    pp = checks.count("pp", pp, minimum=1)
    if dp is not None:
        dp = checks.count("dp", dp, minimum=1)
    if devices is None:
        dp = 1 if dp is None else dp
        return dp * tp * pp, dp, tp, pp
    devices = checks.count("devices", devices, minimum=1)
    for name, degree in (("tp", tp), ("pp", pp), ("dp", dp)):
        if degree is not None and devices % degree:
            raise ValueError(f"{name} must divide devices = {devices}, got {degree}")
    if devices % (tp * pp):
        raise ValueError(f"tp × pp must divide devices = {devices}, got {tp} × {pp}")
    if dp is None:
        dp = devices // (tp * pp)
    if dp * tp * pp != devices:
        raise ValueError(f"dp × tp × pp must equal devices = {devices}, "
                         f"got {dp} × {tp} × {pp} = {dp * tp * pp}")
    return devices, dp, tp, pp


@dataclass(frozen=True)
class DeviceMemory:
    """Bytes on the fullest device, by part; ``activations`` is None without a shape."""
    parameters: float
    gradients: float
    optimizer_state: float
    activations: float | None

    @property
    def total(self) -> float:
        return sum(v for v in (self.parameters, self.gradients, self.optimizer_state,
                               self.activations) if v is not None)

    def parts(self) -> dict[str, float | None]:
        """{"parameters": …, "gradients": …, "optimizer state": …, "activations": …,
        "total": …} in bytes."""
        named = {f.name.replace("_", " "): getattr(self, f.name) for f in fields(self)}
        return {**named, "total": self.total}


def per_device(parameters: float | None = None, *, model: Transformer | None = None,
               dp: int = 1, tp: int = 1, pp: int = 1, zero_stage: int = 0,
               micro_batch: int = 1, micro_batches: int | None = None,
               schedule: str = "1f1b", recompute: bool = False, precision: str = "bf16",
               optimizer: str = "adam") -> DeviceMemory:
    """Bytes per device of parameters, gradients, optimizer state and activations.

    ``parameters`` Ψ (or a ``model`` shape, which also gives the activations); degrees
    ``dp``, ``tp``, ``pp`` ≥ 1; ``zero_stage`` 0–3 over the dp ranks; ``micro_batch`` b
    sequences; ``micro_batches`` m per step (default pp, enough for 1F1B's steady state);
    ``schedule`` "1f1b" or "gpipe"; ``recompute`` full activation recomputation;
    ``precision`` and ``optimizer`` as in :func:`distlab.concepts.sizing.bytes_per_parameter`.
    Raises ``TypeError``/``ValueError`` naming the argument (``dp`` or ``tp`` above
    :data:`MAX_DEVICES`, ``pp`` above :data:`~distlab.concepts.pipeline.MAX_STAGES`, and
    as "stages" above the model's layers, included).
    """
    if model is not None and not isinstance(model, Transformer):
        raise TypeError(f"model must be a Transformer, got {type(model).__name__}")
    for name, degree in (("dp", dp), ("tp", tp)):
        checks.count(name, degree, minimum=1, maximum=MAX_DEVICES)
    checks.count("pp", pp, minimum=1, maximum=pipeline.MAX_STAGES)
    zero.check_stage(zero_stage, "stage (zero_stage)")     # "stage" first: the CLI's --zero
    checks.choice("schedule", schedule, pipeline.SCHEDULES)
    if micro_batches is not None:
        checks.count("micro_batches", micro_batches, minimum=1,
                     maximum=pipeline.MAX_MICRO_BATCHES)
    if parameters is None:
        if model is None:
            raise ValueError("parameters must be given (a count > 0) when model is not")
        parameters = model.parameters
    parameters = checks.positive("parameters", parameters)
    _, dp, tp, pp = degrees(dp=dp, tp=tp, pp=pp)
    size = bytes_per_parameter(checks.choice("precision", precision, PRECISIONS),
                               checks.choice("optimizer", optimizer, OPTIMIZERS))
    state = zero.state_bytes(parameters / (tp * pp), dp, zero_stage,
                             weight_bytes=size["weights"], gradient_bytes=size["gradients"],
                             optimizer_bytes=size["master weights"] + size["optimizer state"])
    activations = None
    m = pp if micro_batches is None else micro_batches
    in_flight = pipeline.in_flight_formula(schedule, pp, m)[0]
    if model is not None:
        layers = len(pipeline.split_layers(model.layers, pp)[0])    # stage 0: the most
        activations = in_flight * layers * activation_bytes_per_layer(
            model.sequence, micro_batch, model.hidden, model.heads, tensor=tp,
            recompute=recompute)
    else:
        checks.count("micro_batch", micro_batch, minimum=1)
        checks.flag("recompute", recompute)
    return DeviceMemory(state["parameters"], state["gradients"], state["optimizer state"],
                        activations)


def configurations(model: Transformer, devices: int, *, device_memory_gb: float = 80,
                   micro_batch: int = 1, precision: str = "bf16", optimizer: str = "adam"):
    """Which splits fit: a DataFrame with one row per (dp, tp, pp, ZeRO stage,
    recomputation) whose degrees multiply to ``devices`` (tp dividing the heads and the
    hidden size, pp ≤ layers), its GB per part, the total, and ``fits`` (total ≤
    ``device_memory_gb``). 1F1B with m = pp micro-batches. The arithmetic allows ZeRO 2–3
    with pipeline parallelism, which some frameworks do not (DeepSpeed pairs its pipeline
    engine with stage 1 at most). ``devices`` an int in [1, :data:`MAX_DEVICES`], other
    arguments as :func:`per_device`; ``TypeError``/``ValueError`` naming the argument."""
    import pandas as pd

    if not isinstance(model, Transformer):
        raise TypeError(f"model must be a Transformer, got {type(model).__name__}")
    devices = checks.count("devices", devices, minimum=1, maximum=MAX_DEVICES)
    checks.count("micro_batch", micro_batch, minimum=1)
    checks.choice("precision", precision, PRECISIONS)
    checks.choice("optimizer", optimizer, OPTIMIZERS)
    limit = checks.positive("device_memory_gb", device_memory_gb) * GB
    rows = []
    for tp in (t for t in range(1, devices + 1) if devices % t == 0):
        if model.heads % tp or model.hidden % tp:
            continue
        for pp in (p for p in range(1, devices // tp + 1) if (devices // tp) % p == 0):
            if pp > model.layers:
                continue
            for stage in zero.STAGES:
                for recompute in (False, True):
                    memory = per_device(model=model, dp=devices // (tp * pp), tp=tp, pp=pp,
                                        zero_stage=stage, micro_batch=micro_batch,
                                        recompute=recompute, precision=precision,
                                        optimizer=optimizer)
                    parts = {f"{k} (GB)": v / GB for k, v in memory.parts().items()}
                    rows.append({"dp": devices // (tp * pp), "tp": tp, "pp": pp,
                                 "zero": stage, "recompute": recompute, **parts,
                                 "fits": memory.total <= limit})
    return pd.DataFrame(rows)
