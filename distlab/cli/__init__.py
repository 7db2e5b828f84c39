"""The command line: ``python -m distlab {doctor,notebooks,bench,memory,cluster}``.

May import every layer; nothing imports it but ``distlab.__main__``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from distlab import checks
from distlab.cli import notebooks, doctor
from distlab.cli import memory as memory_cli
from distlab.cli import cluster as cluster_cli


def main(argv=None) -> int:
    """Run the command line with ``argv`` (a list of strings, as the shell splits it:
    ``main(["memory", "--params", "7.5e9"])``; ``None``: ``sys.argv[1:]``) and return
    its exit status. Raises ``TypeError`` naming ``argv`` when it is not a list of
    strings; a bad command or option ends it as on the shell: argparse prints the usage
    and raises ``SystemExit(2)``."""
    if argv is not None:
        argv = checks.sequence("argv", argv)
        for i, part in enumerate(argv):
            if not isinstance(part, str):
                raise TypeError(f"argv[{i}] must be a string, got {type(part).__name__} "
                                f"{part!r}")
    parser = argparse.ArgumentParser(prog="python -m distlab",
                                     description="distlab: executable chapters on Dask")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check versions, the cluster, the dashboard and Mermaid")
    run = sub.add_parser("notebooks", help="re-execute chapters in a fresh kernel, top to "
                                           "bottom, and write their outputs back")
    run.add_argument("names", nargs="*", help="chapters by number or name (default: all)")
    bench = sub.add_parser("bench", help="measure the book and the engine on this machine")
    bench.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    bench.add_argument("--out", default="bench-results", help="results folder")
    memory = sub.add_parser("memory", help="bytes per device for a model split data × "
                                           "tensor × pipeline ways with ZeRO",
                            description=memory_cli.DESCRIPTION)
    memory_cli._add_arguments(memory)
    lab_cluster = sub.add_parser("cluster", help="one Dask cluster for the whole walkthrough "
                                                 "(make lab, Binder): up, down, status, run",
                                 description=cluster_cli.DESCRIPTION)
    cluster_cli._add_arguments(lab_cluster)
    args = parser.parse_args(argv)

    if args.command == "cluster":
        return cluster_cli._main(args, lab_cluster)

    if args.command == "memory":
        return memory_cli._run(args, memory)

    if args.command == "doctor":
        return doctor.run()
    if args.command == "bench":
        from distlab.cli import bench as benchmark
        frame = benchmark.run(quick=args.quick, out=args.out)
        print((Path(args.out) / "results.md").read_text())
        return 0
    try:
        paths = notebooks.chapters(args.names)
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    total = 0.0
    for path in paths:
        print(f"{path.name} ...", end=" ", flush=True)
        seconds = notebooks.execute(path)
        total += seconds
        print(f"{seconds:.1f} s")
    print(f"{len(paths)} notebooks in {total:.1f} s")
    return 0

