"""``python -m distlab memory``: bytes per device for a model split data × tensor × pipeline
ways with ZeRO, without a notebook. The arithmetic is :mod:`distlab.concepts.memory`'s.

    python -m distlab memory --params 7.5e9 --dp 64 --zero 3
    python -m distlab memory --model "GPT-3 175B" --devices 1024 --tp 8 --pp 16 --zero 1

From Python: ``distlab.cli.main(["memory", "--params", "7.5e9", ...])``. The functions
here are the command line's plumbing (private); bad options end the command with
argparse's usage error (exit status 2) naming the option.
"""
from __future__ import annotations

import argparse

from distlab import checks
from distlab.concepts import memory
from distlab.concepts.pipeline import SCHEDULES
from distlab.concepts.sizing import GB, OPTIMIZERS, PRECISIONS, bytes_per_parameter, human

__all__ = ["DESCRIPTION"]

SHAPE_OPTIONS = ("layers", "hidden", "heads", "sequence")
DESCRIPTION = ("Bytes per device of parameters, gradients, optimizer state and activations "
               "for a model split data × tensor × pipeline ways with ZeRO (GB = 10^9 bytes).")
#: The concept functions' argument names, as the options that set them.
OPTION_OF = {"parameters": "--params", "stage": "--zero", "micro_batch": "--micro-batch",
             "micro_batches": "--micro-batches", "device_memory": "--device-memory",
             "tensor": "--tp", "stages": "--pp",
             **{name: f"--{name}" for name in ("devices", "dp", "tp", "pp", *SHAPE_OPTIONS)}}


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the ``memory`` subcommand."""
    model = parser.add_argument_group("the model (--params, or --model, or a shape)")
    model.add_argument("--params", type=float, metavar="N",
                       help="parameters, e.g. 7.5e9 (default: the --model's count)")
    model.add_argument("--model", choices=[s.name for s in memory.SHAPES],
                       help="a published transformer shape (gives parameters and activations)")
    for name, letter, what in zip(SHAPE_OPTIONS, "LHAS", ("transformer layers",
                                  "hidden size", "attention heads", "tokens per sequence")):
        model.add_argument(f"--{name}", type=int, metavar=letter,
                           help=f"{what}; give all four for activations (with --params)")
    split = parser.add_argument_group("the split")
    split.add_argument("--devices", type=int, metavar="N",
                       help="devices in all (default: dp × tp × pp); dp defaults to "
                            "devices ÷ (tp × pp)")
    split.add_argument("--dp", type=int, metavar="D", help="data-parallel degree (default 1)")
    split.add_argument("--tp", type=int, default=1, metavar="T",
                       help="tensor-parallel degree (default 1)")
    split.add_argument("--pp", type=int, default=1, metavar="P",
                       help="pipeline-parallel degree (default 1)")
    split.add_argument("--zero", type=int, default=0, metavar="STAGE",
                       help="ZeRO stage 0–3 over the dp ranks (default 0: no sharding)")
    run = parser.add_argument_group("training")
    run.add_argument("--micro-batch", type=int, default=1, metavar="B",
                     help="sequences per micro-batch (default 1)")
    run.add_argument("--micro-batches", type=int, metavar="M",
                     help="micro-batches per step (default: pp)")
    run.add_argument("--schedule", choices=SCHEDULES, default="1f1b",
                     help="pipeline schedule (default 1f1b)")
    run.add_argument("--recompute", action="store_true",
                     help="full activation recomputation (keep only each layer's input)")
    run.add_argument("--precision", choices=[p for p in PRECISIONS if p not in ("int8", "int4")],
                     default="bf16", help="weights and gradients (default bf16: mixed precision)")
    run.add_argument("--optimizer", choices=list(OPTIMIZERS), default="adam",
                     help="optimizer (default adam: 12 fp32 bytes per parameter with bf16)")
    run.add_argument("--device-memory", type=float, default=80, metavar="GB",
                     help="memory of one device in GB = 10^9 bytes (default 80)")


def _model(args, parser) -> memory.Transformer | None:
    given = [name for name in SHAPE_OPTIONS if getattr(args, name) is not None]
    if args.model and given:
        parser.error(f"give --model or --{', --'.join(given)}, not both")
    if args.model:
        return memory.shape(args.model)
    if not given:
        return None
    if len(given) < len(SHAPE_OPTIONS) or args.params is None:
        parser.error("a shape needs --params and all of --layers, --hidden, --heads, --sequence")
    return memory.Transformer("custom", args.layers, args.hidden, args.heads, args.sequence,
                              args.params)


def _report(args, parser) -> list[str]:
    """The lines ``_run`` prints; errors go to ``parser.error`` (one line, exit status 2)."""
    if args.params is None and args.model is None:
        parser.error("give --params (e.g. 7.5e9) or --model")
    try:
        model = _model(args, parser)
        devices, dp, tp, pp = memory.degrees(args.devices, args.dp, args.tp, args.pp)
        used = memory.per_device(args.params, model=model, dp=dp, tp=tp, pp=pp,
                                 zero_stage=args.zero, micro_batch=args.micro_batch,
                                 micro_batches=args.micro_batches, schedule=args.schedule,
                                 recompute=args.recompute, precision=args.precision,
                                 optimizer=args.optimizer)
        limit = checks.positive("device_memory", args.device_memory)
    except (TypeError, ValueError) as exc:
        name = str(exc).split(" ", 1)[0]
        option = OPTION_OF.get(name)
        parser.error(f"argument {option}: {exc}" if option else str(exc))
    per_parameter = sum(bytes_per_parameter(args.precision, args.optimizer).values())
    parameters = model.parameters if args.params is None else args.params
    lines = [f"{human(parameters)} parameters{f' ({model.name})' if model else ''}, "
             f"{args.precision} + {args.optimizer}: {per_parameter:g} bytes per parameter "
             f"unsharded",
             f"{devices:,} devices = data {dp} × tensor {tp} × pipeline {pp}, "
             f"ZeRO stage {args.zero}",
             "", f"{'per device':<16} {'GB':>10} {'bytes':>20}"]
    for part, value in used.parts().items():
        if value is None:
            lines.append(f"{part:<16} {'—':>10}   (give --model or a shape to count them)")
        else:
            lines.append(f"{part:<16} {value / GB:>10.3g} {value:>20,.0f}")
    if model is not None:
        lines.append(f"activations: {args.schedule}, micro-batch {args.micro_batch}, "
                     f"{'full recomputation' if args.recompute else 'no recomputation'} "
                     "(Korthikanti et al. 2022)")
    verdict = "fits" if used.total <= limit * GB else "does not fit"
    lines.append(f"{verdict} in {limit:g} GB (GB = 10^9 bytes)")
    return lines


def _run(args, parser) -> int:
    """Print the per-device breakdown; return the exit status 0."""
    print("\n".join(_report(args, parser)))
    return 0
