"""Chapter 06's training, measured: accuracy against scikit-learn's, and how many
communication rounds local SGD saves against synchronous SGD."""
from __future__ import annotations

import time

from distlab.cli.bench.report import Report

#: Internal to ``python -m distlab bench`` (:func:`distlab.cli.bench.run`).
__all__: list[str] = []


def training_section(report: Report) -> None:
    """Chapter 06 on the default cluster: the synchronous strategy's accuracy against
    scikit-learn's, and how many communication rounds local SGD needs to reach the
    chapter's target (scikit-learn's accuracy less one point) against synchronous SGD."""
    from distlab.apps import training
    from distlab.engines.cluster import connect

    sk = training.sklearn_accuracy()
    target = sk - 0.01
    with connect() as client:
        runs = {}
        for strategy in ("sync", "local"):
            start = time.perf_counter()
            runs[strategy] = training.train(strategy, client)
            seconds = time.perf_counter() - start
            accuracy = float(runs[strategy]["accuracy"].iloc[-1])
            rounds = int(runs[strategy]["round"].iloc[-1])
            report.add("training", f"{strategy}: {rounds} rounds on the cluster", seconds,
                       "s")
            report.add("training", f"{strategy}: test accuracy after {rounds} rounds",
                       accuracy, "", reference=f"scikit-learn {sk:.4f}", ratio=accuracy / sk,
                       target="≥ scikit-learn − 0.01", meets=accuracy >= target)
    rounds = {s: training.rounds_to(h, target) for s, h in runs.items()}
    for strategy, r in rounds.items():
        report.add("training", f"{strategy}: communication rounds to {target:.4f}",
                   r, "rounds")
    if rounds["sync"] and rounds["local"]:
        report.add("training", "rounds: synchronous SGD ÷ local SGD",
                   rounds["sync"] / rounds["local"], "×",
                   reference="FedAvg: 10–100× fewer rounds (McMahan et al. 2017)")
