"""Why one machine is not enough: memory and compute arithmetic for large models.

Pure functions, no cluster. Each rule of thumb names where it comes from:

- **Bytes per parameter in training.** Weights and gradients in the training precision,
  plus the optimizer's state. Mixed-precision Adam keeps fp16/bf16 weights and gradients
  (2 + 2 bytes) and, in fp32, a master copy of the weights, Adam's first and second
  moments (4 + 4 + 4 = 12 bytes): 16 bytes per parameter. Rajbhandari et al., "ZeRO:
  Memory Optimizations Toward Training Trillion Parameter Models", SC 2020, §3.1
  ("2Ψ + 2Ψ + KΨ" with K = 12). Plain fp32 Adam: 4 + 4 + 8 = 16 bytes too; SGD with
  momentum keeps one extra value per parameter, plain SGD none (Loshchilov & Hutter's
  AdamW keeps the same two moments as Adam).
- **Activations are left out.** They depend on batch size, sequence length and
  recomputation; Korthikanti et al., "Reducing Activation Recomputation in Large
  Transformer Models", 2022, give per-layer formulas. So the memory here is a lower bound.
- **Training compute ≈ 6 × parameters × tokens** floating-point operations: 2 per
  parameter per token forward, 4 backward. Kaplan et al., "Scaling Laws for Neural
  Language Models", 2020, §2.1 (C ≈ 6N per token). With full activation recomputation
  the forward pass runs twice: ≈ 8 × N × D (Narayanan et al., "Efficient Large-Scale
  Language Model Training on GPU Clusters Using Megatron-LM", SC 2021, §5.1).
- **Inference ≈ 2 × parameters** FLOPs per token (Kaplan et al. 2020, §2.1).
- **Utilisation.** Real training reaches only part of an accelerator's peak: model FLOPs
  utilisation (MFU) of 46 % for PaLM 540B, 21 % for GPT-3, 30 % for Megatron-Turing NLG
  (Chowdhery et al., "PaLM", 2022, Table 3); Narayanan et al. 2021 report 140 of 312
  TFLOP/s (45 %) per A100 for GPT-3 175B. The default here is 40 %.

Check against the papers: 6 × 175e9 × 300e9 = 3.15e23 FLOPs, and Brown et al. ("Language
Models are Few-Shot Learners", 2020, Table D.1) list 3.14e23 for GPT-3 175B; 8 × 175e9 ×
300e9 on 1,024 A100s at 140 TFLOP/s gives 33.9 days, and Narayanan et al. write "about
34 days".

Units: bytes are counted exactly; displayed memory is in GB = 10⁹ bytes, as accelerator
datasheets state it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from distlab.checks import choice, count, flag, fraction, number, positive

__all__ = ["Model", "Accelerator", "MODELS", "ACCELERATORS", "PRECISIONS", "OPTIMIZERS",
           "bytes_per_parameter", "memory_bytes", "training_flops", "inference_flops",
           "devices_for_memory", "training_days", "device_hours", "plan", "TrainingEstimate",
           "table", "check_models", "GB", "human", "matmul_tflops"]

GB = 1e9
SECONDS_PER_DAY = 86_400

#: Bytes per stored number.
PRECISIONS = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "int4": 0.5}
#: Extra fp32 numbers the optimizer keeps per parameter (besides a master copy).
OPTIMIZERS = {"sgd": 0, "momentum": 1, "adam": 2}


def _check_record(record, *amounts: str) -> None:
    """A named record's fields: ``name`` a non-empty string, each of ``amounts`` a finite
    number > 0, ``source`` a string."""
    for name, value in (("name", record.name), ("source", record.source)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not record.name:
        raise ValueError("name must not be empty")
    for name in amounts:
        positive(name, getattr(record, name))


@dataclass(frozen=True)
class Model:
    """A model to size: its ``name``, ``parameters`` and training ``tokens`` (finite
    numbers > 0), and the ``source`` of the numbers. ``TypeError``/``ValueError`` naming
    the field otherwise."""
    name: str
    parameters: float
    tokens: float          # training tokens
    source: str

    def __post_init__(self):
        _check_record(self, "parameters", "tokens")


@dataclass(frozen=True)
class Accelerator:
    """A device: its ``name``, ``memory_gb`` and dense 16-bit ``peak_tflops`` (finite
    numbers > 0), and the ``source`` (a datasheet). ``TypeError``/``ValueError`` naming
    the field otherwise."""
    name: str
    memory_gb: float
    peak_tflops: float     # dense 16-bit tensor throughput, TFLOP/s
    source: str

    def __post_init__(self):
        _check_record(self, "memory_gb", "peak_tflops")


#: Named models, from BERT-base to a 175B model, with their published training tokens.
MODELS = (
    Model("BERT-base", 110e6, 42.6e9,
          "Devlin et al. 2019, §A.2: 1M steps × 256 sequences, 90 % of steps at 128 tokens "
          "and 10 % at 512 ≈ 42.6B tokens"),
    Model("BERT-large", 340e6, 42.6e9, "Devlin et al. 2019, §A.2 (same schedule as BERT-base)"),
    Model("GPT-3 XL 1.3B", 1.3e9, 300e9, "Brown et al. 2020, Table 2.1: every GPT-3 size saw 300B tokens"),
    Model("Llama 2 7B", 7e9, 2e12, "Touvron et al. 2023, Table 1: 2.0T tokens"),
    Model("Llama 2 70B", 70e9, 2e12, "Touvron et al. 2023, Table 1: 2.0T tokens"),
    Model("Chinchilla 70B", 70e9, 1.4e12, "Hoffmann et al. 2022: 1.4T tokens"),
    Model("GPT-3 175B", 175e9, 300e9, "Brown et al. 2020, Table 2.1: 300B tokens"),
)

#: Accelerators from their datasheets (dense fp16/bf16 tensor-core peak, no sparsity).
ACCELERATORS = (
    Accelerator("V100 32GB", 32, 125, "NVIDIA V100 datasheet: 125 TFLOP/s tensor"),
    Accelerator("A100 80GB", 80, 312, "NVIDIA A100 datasheet: 312 TFLOP/s bf16"),
    Accelerator("H100 SXM 80GB", 80, 989, "NVIDIA H100 datasheet: 989 TFLOP/s bf16 dense"),
)


def human(x: float) -> str:
    """110e6 → '110M', 1.3e9 → '1.3B', 2e12 → '2T' (no space, so it never reads as bytes).
    ``x`` a finite number, else ``TypeError``/``ValueError``."""
    x = number("x", x)
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= size:
            return f"{x / size:.3g}{suffix}"
    return f"{x:.3g}"


def bytes_per_parameter(precision: str = "bf16", optimizer: str = "adam",
                        training: bool = True) -> dict[str, float]:
    """Bytes each parameter costs, by part: weights, gradients, master copy, optimizer.

    In training with fp16/bf16 (mixed precision) a fp32 master copy of the weights is
    kept and the optimizer state is fp32 (ZeRO §3.1); in fp32 training the weights are
    the master copy. Inference keeps the weights only. int8/int4 are inference formats.

    Raises ``ValueError`` for a precision or optimizer not in :data:`PRECISIONS` /
    :data:`OPTIMIZERS` (or an inference format in training) and ``TypeError`` when
    ``training`` is not a bool.
    """
    choice("precision", precision, PRECISIONS)
    choice("optimizer", optimizer, OPTIMIZERS)
    flag("training", training)
    size = PRECISIONS[precision]
    if not training:
        return {"weights": size, "gradients": 0, "master weights": 0, "optimizer state": 0}
    if precision not in ("fp32", "fp16", "bf16"):
        raise ValueError(f"precision {precision!r} is for inference; training uses fp32, "
                         "fp16 or bf16")
    mixed = precision != "fp32"
    return {"weights": size, "gradients": size, "master weights": 4 if mixed else 0,
            "optimizer state": 4 * OPTIMIZERS[optimizer]}


def memory_bytes(parameters: float, precision: str = "bf16", optimizer: str = "adam",
                 training: bool = True) -> float:
    """Bytes to hold a model's weights (and, in training, gradients and optimizer state).
    Activations not included: a lower bound. ``parameters`` a finite number > 0; other
    arguments and errors as :func:`bytes_per_parameter`."""
    parameters = positive("parameters", parameters)
    return parameters * sum(bytes_per_parameter(precision, optimizer, training).values())


def training_flops(parameters: float, tokens: float, recompute: bool = False) -> float:
    """≈ 6 N D (Kaplan et al. 2020); 8 N D with full activation recomputation
    (Narayanan et al. 2021). ``parameters`` and ``tokens`` finite numbers > 0 and
    ``recompute`` a bool, else ``TypeError`` / ``ValueError``."""
    parameters = positive("parameters", parameters)
    tokens = positive("tokens", tokens)
    flag("recompute", recompute)
    return (8 if recompute else 6) * parameters * tokens


def inference_flops(parameters: float, tokens: float = 1) -> float:
    """≈ 2 N FLOPs per generated token (Kaplan et al. 2020); errors as
    :func:`training_flops`."""
    return 2 * positive("parameters", parameters) * positive("tokens", tokens)


def devices_for_memory(memory: float, device_memory_gb: float) -> int:
    """The fewest devices whose memory adds up to ``memory`` bytes (the state split evenly,
    as ZeRO-3 / FSDP do; activations and fragmentation need more). Both finite numbers
    > 0, else ``TypeError`` / ``ValueError``."""
    memory = positive("memory", memory)
    device = positive("device_memory_gb", device_memory_gb) * GB
    ratio = memory / device
    nearest = round(ratio)
    if nearest and abs(ratio - nearest) <= 1e-12 * ratio:   # an exact fit, up to rounding
        return max(1, nearest)
    return max(1, math.ceil(ratio))


def training_days(flops: float, devices: int, peak_tflops: float,
                  utilization: float = 0.4) -> float:
    """Days of training: FLOPs ÷ (devices × peak × utilisation).

    ``flops`` and ``peak_tflops`` finite numbers > 0, ``devices`` an int ≥ 1,
    ``utilization`` in (0, 1]; else ``TypeError`` / ``ValueError``."""
    flops = positive("flops", flops)
    devices = count("devices", devices, minimum=1)
    peak = positive("peak_tflops", peak_tflops) * 1e12
    utilization = fraction("utilization", utilization, open_low=True)
    return flops / (devices * peak * utilization) / SECONDS_PER_DAY


def device_hours(flops: float, peak_tflops: float, utilization: float = 0.4) -> float:
    """Accelerator-hours of training (what papers report as "GPU hours"); errors as
    :func:`training_days`."""
    return training_days(flops, 1, peak_tflops, utilization) * 24


@dataclass(frozen=True)
class TrainingEstimate:
    """What one training run needs: memory, devices to hold it, compute and days."""
    parameters: float
    tokens: float
    memory_gb: float
    devices: int
    flops: float
    days: float
    days_on_1024: float

    def rows(self) -> list[tuple[str, str]]:
        return [("memory (weights, gradients, optimizer)", f"{self.memory_gb:,.0f} GB"),
                ("devices just to hold it", f"{self.devices:,}"),
                ("training compute", f"{self.flops:.2e} FLOPs"),
                (f"days on {self.devices:,} device{'s' * (self.devices > 1)}", f"{self.days:,.1f}"),
                ("days on 1,024 devices", f"{self.days_on_1024:,.1f}")]


def plan(parameters: float, tokens: float, *, precision: str = "bf16", optimizer: str = "adam",
         device_memory_gb: float = 80, peak_tflops: float = 312, utilization: float = 0.4,
         recompute: bool = False) -> TrainingEstimate:
    """The calculator: model size and tokens, precision and optimizer, accelerator memory
    and speed → memory, devices needed to hold the training state, FLOPs, and days on
    those devices and on 1,024 of them (defaults: an A100 80GB at 40 % utilisation).
    Each argument is checked by the function that uses it (``TypeError`` /
    ``ValueError`` naming it)."""
    memory = memory_bytes(parameters, precision, optimizer, training=True)
    flops = training_flops(parameters, tokens, recompute)
    devices = devices_for_memory(memory, device_memory_gb)
    return TrainingEstimate(parameters=float(parameters), tokens=float(tokens), memory_gb=memory / GB,
                devices=devices, flops=flops,
                days=training_days(flops, devices, peak_tflops, utilization),
                days_on_1024=training_days(flops, 1024, peak_tflops, utilization))


def table(models=MODELS, accelerator: Accelerator = ACCELERATORS[1], *,
          precision: str = "bf16", optimizer: str = "adam", utilization: float = 0.4):
    """One row per named model: memory, devices, FLOPs and days on ``accelerator``.

    Raises ``TypeError`` (models not a list of Model, accelerator not an Accelerator)
    or ``ValueError`` (no models; other arguments as :func:`plan`)."""
    import pandas as pd

    models = check_models(models)
    if not isinstance(accelerator, Accelerator):
        raise TypeError(f"accelerator must be an Accelerator, got {type(accelerator).__name__}")
    rows = []
    for m in models:
        p = plan(m.parameters, m.tokens, precision=precision, optimizer=optimizer,
                 device_memory_gb=accelerator.memory_gb, peak_tflops=accelerator.peak_tflops,
                 utilization=utilization)
        rows.append({"model": m.name, "parameters": human(m.parameters),
                     "tokens": human(m.tokens),
                     "inference weights (GB)": round(memory_bytes(m.parameters, precision,
                                                                  training=False) / GB, 1),
                     "training state (GB)": round(p.memory_gb, 1),
                     f"{accelerator.name} to hold it": p.devices,
                     "training FLOPs (6ND)": f"{p.flops:.2e}",
                     f"days on that many": round(p.days, 1),
                     "days on 1,024": round(p.days_on_1024, 2)})
    return pd.DataFrame(rows).set_index("model")


def check_models(models) -> list[Model]:
    """``models`` as a list of :class:`Model`; ``TypeError`` for anything else and
    ``ValueError`` when empty."""
    if isinstance(models, (str, bytes, Model)) or not hasattr(models, "__iter__"):
        raise TypeError(f"models must be a list of Model, got {type(models).__name__}")
    models = list(models)
    if not models:
        raise ValueError("models must hold at least one Model")
    for i, m in enumerate(models):
        if not isinstance(m, Model):
            raise TypeError(f"models[{i}] must be a Model, got {type(m).__name__}")
    return models


#: The largest matrix ``matmul_tflops`` multiplies: 4096² float32 is 64 MiB and 137 GFLOP,
#: a few seconds; larger would take minutes and much of a small machine's memory.
MAX_MATMUL = 4096


# -- this machine ------------------------------------------------------------------------------
def matmul_tflops(n: int = 1024, repeats: int = 3) -> float:
    """Measured dense float32 matrix-multiply speed of the calling process, TFLOP/s (best of
    ``repeats``; an n × n product is 2n³ FLOPs). A timing: show it, never assert it.

    ``n`` an int in [16, :data:`MAX_MATMUL`], ``repeats`` an int in [1, 100]; else
    ``TypeError`` / ``ValueError``."""
    import time

    import numpy as np

    n = count("n", n, minimum=16, maximum=MAX_MATMUL)
    repeats = count("repeats", repeats, minimum=1, maximum=100)
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e12
