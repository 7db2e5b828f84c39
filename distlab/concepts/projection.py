"""Projections: what one training step costs a device when a model is split D × T × P ways.

The naive projection is one all-reduce of the whole gradient over every device (plain data
parallelism). Large models are not trained that way: their state does not fit on one
device. Practice splits the devices = D (data) × T (tensor) × P (pipeline) ways and shards
the data-parallel state with ZeRO (Narayanan et al., "Efficient Large-Scale Language Model
Training on GPU Clusters Using Megatron-LM", SC 2021, §2–3; Rajbhandari et al., "ZeRO",
SC 2020, §5). Per device and training step of m micro-batches of b sequences of s tokens,
hidden size h, e bytes per number, layers ℓ on the device's stage (the first, the fullest):

- **memory**: :func:`distlab.concepts.memory.per_device`.
- **tensor** (within a node): Megatron's four all-reduces per layer and micro-batch (two in
  the attention and MLP blocks' forward passes, two backward; Shoeybi et al. 2019, §3),
  each of b·s·h numbers over T ranks: 4ℓm · 2(T−1)/T · bsh·e bytes
  (:func:`distlab.concepts.tensor_parallel.bytes_per_layer` per block).
- **pipeline** (between nodes): a stage sends each micro-batch's activations b·s·h forward
  and their gradients backward; an inner stage sends both, 2m · bsh·e bytes (without
  Megatron's scatter/gather optimisation, which divides this by T, §4.1).
- **data** (between nodes): a reduce-scatter of the gradients of the device's Ψ/(T·P)
  parameters and an all-gather of the updated ones over D ranks, (D−1)/D · Ψ/(T·P) · e
  each. With gradient accumulation, ZeRO-2 keeps only its gradient shard, so it
  reduce-scatters after every micro-batch (m times); ZeRO-3 also gathers the parameters
  for each micro-batch's forward and backward pass: 2m gathers, 2m − 1 more than the
  all-gather of stages 0–2 (ZeRO §7.2; m = 1 gives :func:`distlab.concepts.zero.step_bytes`).

Time: α-β on a ring (:func:`distlab.concepts.cost.closed_form`): a reduce-scatter or
all-gather over p ranks costs (p−1)(α + n/p·β), an all-reduce twice that; a pipeline
message α + n·β. Each kind on its own link, none overlapped with compute or with each
other: an upper bound on the time communication adds to a step. Bytes exactly; GB = 10⁹.
"""
from __future__ import annotations

from dataclasses import dataclass

from distlab import checks
from distlab.concepts import memory, zero
from distlab.concepts.cost import Network, closed_form
from distlab.concepts.memory import GB, Transformer
from distlab.concepts.sizing import MODELS, PRECISIONS, bytes_per_parameter
from distlab.concepts.tensor_parallel import bytes_per_layer

__all__ = ["Assumptions", "BOOK", "LLAMA_2_7B", "Step", "project", "naive_allreduce", "table"]


@dataclass(frozen=True)
class Assumptions:
    """The book's one set of assumptions for every projection (A100 80GB servers).

    - ``precision`` "bf16": 2 bytes per weight, gradient and activation; ``optimizer``
      "adam" in mixed precision: 12 bytes per parameter of fp32 master weights and two
      moments (ZeRO §3.1).
    - ``intra_node_bandwidth`` 300e9 B/s: third-generation NVLink, 600 GB/s per A100 in
      both directions together (NVIDIA A100 Tensor Core GPU datasheet), for tensor
      parallelism inside an 8-GPU server.
    - ``inter_node_bandwidth`` 25e9 B/s: one 200 Gb/s HDR InfiniBand adapter per GPU
      (NVIDIA DGX A100 datasheet: 8 × ConnectX-6 200 Gb/s), for data and pipeline.
    - ``alpha`` 5 µs per message on either link (the book's network,
      :data:`distlab.concepts.cost.DEFAULT_NETWORK`).
    - ``device_memory_gb`` 80 (A100 80GB datasheet); ``micro_batch`` b = 1 sequence;
      ``schedule`` 1F1B; ``recompute`` False (no activation recomputation).

    ``ValueError``/``TypeError`` naming the field for a value out of range.
    """
    precision: str = "bf16"
    optimizer: str = "adam"
    intra_node_bandwidth: float = 300e9
    inter_node_bandwidth: float = 25e9
    alpha: float = 5e-6
    device_memory_gb: float = 80
    micro_batch: int = 1
    schedule: str = "1f1b"
    recompute: bool = False

    def __post_init__(self):
        bytes_per_parameter(self.precision, self.optimizer)     # checks both names
        for name in ("intra_node_bandwidth", "inter_node_bandwidth", "device_memory_gb"):
            checks.positive(name, getattr(self, name))
        checks.number("alpha", self.alpha, minimum=0)
        checks.count("micro_batch", self.micro_batch, minimum=1)
        checks.choice("schedule", self.schedule, ("1f1b", "gpipe"))
        checks.flag("recompute", self.recompute)

    @property
    def element_bytes(self) -> float:
        """Bytes per communicated number (weights, gradients, activations): 2 for bf16."""
        return PRECISIONS[self.precision]

    def link(self, where: str) -> Network:
        """The α-β :class:`~distlab.concepts.cost.Network` "intra" or "inter" node."""
        checks.choice("where", where, ("intra", "inter"))
        bandwidth = self.intra_node_bandwidth if where == "intra" else self.inter_node_bandwidth
        return Network(alpha=self.alpha, bandwidth=bandwidth)

    def rows(self) -> dict[str, object]:
        """Every assumption with its unit, for printing next to a number."""
        size = bytes_per_parameter(self.precision, self.optimizer)
        return {"dtype (bytes per weight/gradient/activation)":
                f"{self.precision} ({self.element_bytes:g})",
                "optimizer (bytes per parameter)":
                f"mixed-precision {self.optimizer} "
                f"({size['master weights'] + size['optimizer state']:g})",
                "tensor link (GB/s per direction)": self.intra_node_bandwidth / GB,
                "data/pipeline link (GB/s per direction)": self.inter_node_bandwidth / GB,
                "α per message (µs)": self.alpha * 1e6,
                "device memory (GB)": self.device_memory_gb,
                "schedule, recomputation": f"{self.schedule}, {self.recompute}"}


#: The one set the whole book uses.
BOOK = Assumptions()

#: Llama 2 7B's shape (Touvron et al., "Llama 2", 2023, Table 1 and §2.2: 32 layers,
#: width 4096, 32 heads, 4,096-token context), counted with the GPT formulas.
LLAMA_2_7B = Transformer("Llama 2 7B", 32, 4096, 32, 4096,
                         next(m.parameters for m in MODELS if m.name == "Llama 2 7B"),
                         "Touvron et al. 2023, Table 1")

KINDS = ("tensor", "pipeline", "data", "zero-3 gathers")


@dataclass(frozen=True)
class Step:
    """One device's training step: ``memory`` (a :class:`~distlab.concepts.memory.
    DeviceMemory`, bytes), and per kind of parallelism in :data:`KINDS` the ``sent``
    bytes and the α-β ``seconds``."""
    model: str
    devices: int
    dp: int
    tp: int
    pp: int
    zero_stage: int
    micro_batches: int
    sequence: int
    memory: memory.DeviceMemory
    sent: dict
    seconds: dict
    assumptions: Assumptions


def _ring_half(p: int, n_bytes: float, network: Network) -> float:
    """α-β time of one reduce-scatter or all-gather: half a ring all-reduce."""
    return closed_form("ring", p, n_bytes, network)["time_s"] / 2


def project(model: Transformer, *, dp: int, tp: int = 1, pp: int = 1, zero_stage: int = 0,
            micro_batches: int = 1, assumptions: Assumptions = BOOK) -> Step:
    """Memory, bytes sent and α-β communication time per device for one training step.

    ``model`` a :class:`~distlab.concepts.memory.Transformer`; degrees ``dp``, ``tp``
    (dividing the heads and the hidden size), ``pp`` (≤ layers) ≥ 1; ``zero_stage`` 0–3;
    ``micro_batches`` m ≥ 1 per step and pipeline (gradient accumulation). Raises
    ``TypeError``/``ValueError`` naming the argument.
    """
    if not isinstance(model, Transformer):
        raise TypeError(f"model must be a Transformer, got {type(model).__name__}")
    if not isinstance(assumptions, Assumptions):
        raise TypeError(f"assumptions must be Assumptions, got {type(assumptions).__name__}")
    checks.count("dp", dp, minimum=1)           # required here (degrees() may derive it)
    devices, dp, tp, pp = memory.degrees(dp=dp, tp=tp, pp=pp)
    if model.heads % tp or model.hidden % tp:
        raise ValueError(f"tp must divide heads = {model.heads} and hidden = {model.hidden}, "
                         f"got {tp}")
    if pp > model.layers:
        raise ValueError(f"pp must be ≤ layers = {model.layers}, got {pp}")
    stage = checks.count("zero_stage", zero_stage)
    if stage not in zero.STAGES:
        raise ValueError(f"zero_stage must be 0, 1, 2 or 3, got {stage}")
    m = checks.count("micro_batches", micro_batches, minimum=1)
    a, e, b = assumptions, assumptions.element_bytes, assumptions.micro_batch
    held = memory.per_device(model=model, dp=dp, tp=tp, pp=pp, zero_stage=stage,
                             micro_batch=b, micro_batches=m, schedule=a.schedule,
                             recompute=a.recompute, precision=a.precision,
                             optimizer=a.optimizer)
    intra, inter = a.link("intra"), a.link("inter")
    activation = b * model.sequence * model.hidden * e                # bytes, one micro-batch
    layers = -(-model.layers // pp)                                   # the first stage's
    passes = 3 if a.recompute else 2                       # forward, backward (+ recomputed)
    tp_count = passes * 2 * layers * m                     # attention + MLP per pass
    sent, seconds = {}, {}
    sent["tensor"] = tp_count / 2 * bytes_per_layer(b, model.sequence, model.hidden, tp,
                                                    element_bytes=e)
    seconds["tensor"] = tp_count * closed_form("ring", tp, activation, intra)["time_s"]
    messages = m * min(pp - 1, 2)                          # an inner stage: both ways
    sent["pipeline"] = messages * activation
    seconds["pipeline"] = messages * (inter.alpha + activation * inter.beta)
    shard = model.parameters / (tp * pp) * e                          # bytes to reduce
    one = zero.step_bytes(model.parameters / (tp * pp), dp, 0, element_bytes=e) / 2
    scatters = m if stage >= 2 else 1
    gathers = 2 * m if stage == 3 else 1
    sent["data"] = (scatters + 1) * one
    sent["zero-3 gathers"] = (gathers - 1) * one
    seconds["data"] = (scatters + 1) * _ring_half(dp, shard, inter)
    seconds["zero-3 gathers"] = (gathers - 1) * _ring_half(dp, shard, inter)
    return Step(model.name, devices, dp, tp, pp, stage, m, model.sequence, held, sent,
                seconds, a)


def naive_allreduce(parameters: float, devices: int, assumptions: Assumptions = BOOK) -> dict:
    """Plain data parallelism's step: one ring all-reduce of all Ψ gradients (e bytes each)
    over ``devices`` on the inter-node link: {"GB sent": …, "seconds": …, "memory (GB)": …
    (the unsharded training state, activations left out)}. ``TypeError``/``ValueError``
    naming the argument: ``parameters`` not a finite number > 0, ``devices`` not an int
    ≥ 1, ``assumptions`` not :class:`Assumptions`."""
    parameters = checks.positive("parameters", parameters)
    devices = checks.count("devices", devices, minimum=1)
    if not isinstance(assumptions, Assumptions):
        raise TypeError(f"assumptions must be Assumptions, got {type(assumptions).__name__}")
    ring = closed_form("ring", devices, parameters * assumptions.element_bytes,
                       assumptions.link("inter"))
    state = sum(bytes_per_parameter(assumptions.precision, assumptions.optimizer).values())
    return {"GB sent": ring["max_bytes_sent"] / GB, "seconds": ring["time_s"],
            "memory (GB)": parameters * state / GB}


def table(*steps: Step, decimals: int = 2):
    """A DataFrame, one column per step, rows: the split, every assumption, memory per
    part (GB) and whether it fits, then GB sent and α-β seconds per kind and in total,
    numbers rounded to ``decimals``.
    ``ValueError`` naming ``steps`` when none is given or they differ in assumptions;
    ``TypeError``/``ValueError`` naming ``decimals`` (an int in [0, 17])."""
    import pandas as pd

    if not steps or not all(isinstance(s, Step) for s in steps):
        raise ValueError("steps must be one or more Step (from project)")
    if len({s.assumptions for s in steps}) != 1:
        raise ValueError("steps must share one Assumptions (the book has one set)")
    decimals = checks.count("decimals", decimals, maximum=17,
                            limit="a float64 has 17 significant digits")
    columns = {}
    for s in steps:
        a = s.assumptions
        column = {"devices = dp × tp × pp": f"{s.devices} = {s.dp} × {s.tp} × {s.pp}",
                  "ZeRO stage": s.zero_stage,
                  "micro-batches m × sequences b × tokens s":
                  f"{s.micro_batches} × {a.micro_batch} × {s.sequence}",
                  **a.rows()}
        column.update({f"{k} (GB)": v / GB for k, v in s.memory.parts().items()
                       if v is not None})
        column[f"fits in {a.device_memory_gb:g} GB"] = s.memory.total <= a.device_memory_gb * GB
        for kind in KINDS:
            column[f"{kind}: GB sent"] = s.sent[kind] / GB
            column[f"{kind}: α-β s"] = s.seconds[kind]
        column["communication, not overlapped (s)"] = sum(s.seconds.values())
        columns[f"{s.model}, {s.dp}×{s.tp}×{s.pp}, ZeRO-{s.zero_stage}"] = column
    frame = pd.DataFrame(columns)
    return frame.map(lambda v: round(v, decimals) if isinstance(v, float) else v)

