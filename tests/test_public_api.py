"""Issue 16: the public API walked the way the issue's sweep did.

Every public callable of ``distlab.concepts``, ``distlab.apps``, ``distlab.present``,
``distlab.engines`` and ``distlab.cli`` (module-level functions and classes, each
package's own module included: ``__all__`` where a module defines it, else the names
without a leading underscore; re-exports and constants skipped; the top-level
``distlab.connect``, ``allreduce``, ``run_ranks``… are the engines' own objects, which
:func:`test_the_top_level_names_are_walked` holds) is called once with the
valid arguments of :data:`EXAMPLES`, then again with one argument at a time replaced by a
bad value of its kind (None, a wrong type, empty, NaN, ±inf, negative, zero, 2.5 or True
for an int, 10¹² for a count, an unknown name, a closed client, an address string for a
client). Each bad call must raise ``ValueError`` or ``TypeError`` — naming the argument,
for all but a few — within :data:`TIMEOUT` seconds, and leave the caller's arrays and
lists as they were. A bad value that is accepted counts as silent nonsense unless
:data:`ACCEPTED` says why that value is valid there. Records the package builds
(:data:`RESULTS`) and the few public functions that are not entry points
(:data:`NOT_CHECKED`) are only called once, validly; :data:`SKIP` says why a callable
cannot be called here at all.

The callables that need no cluster are walked in forked processes, with their address
space bounded: one that runs away, exhausts its memory or crashes is killed and recorded
as bad, and the walk goes on. Those that need the cluster use the module's ``client``.
A hypothesis test then throws random numbers at every numeric argument of the concepts.

The table the closing note quotes is in the failure message of
:func:`test_the_walk_finds_no_bad_case` (and printed with ``-s``; ``DISTLAB_WALK_DUMP=
file.json`` also writes every case): "clear error naming the argument / clear error not
naming it / bad".
"""
from __future__ import annotations

import copy
import ctypes
import dataclasses
import importlib
import inspect
import math
import os
import pkgutil
import re
import threading
from collections import Counter
from typing import Callable

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from distlab.apps import raft, stores, training, tuning
from distlab.concepts import (cost, events, linearizability, memory, partitioning, pipeline,
                              scaling, sizing, zero)
from distlab.engines import allreduce as allreduce_engine
from distlab.present import exercise_solutions as solutions
from distlab.present import exercises, model_split_plots

matplotlib.use("Agg")


#: Seconds a bad call may take before it counts as a hang.
TIMEOUT = 10.0
#: Seconds the one valid call of these may take: they spawn PyTorch processes.
VALID_TIMEOUT = {"engines.torch_gloo.run_ranks": 180.0,
                 "engines.torch_gloo.allreduce_example": 180.0,
                 "apps.torch_compare.run_torch": 180.0}
#: The layers walked, each package's own module included (``distlab.cli.main``), and the
#: modules of these layers that others are writing now: they join when they land.
LAYERS = ("distlab.concepts", "distlab.apps", "distlab.present", "distlab.engines",
          "distlab.cli")
#: Modules of these layers that others are writing now: they join when they land.
NOT_YET: tuple[str, ...] = ()


def _html_widget():
    import ipywidgets
    return ipywidgets.HTML("x")


class Make:
    """An example argument built fresh for every call (so a call cannot spoil the next);
    ``once``: built once and deep-copied for every call (for slow builds)."""
    def __init__(self, build: Callable, once: bool = False):
        self._build, self.once, self._made = build, once, None

    def build(self):
        if not self.once:
            return self._build()
        if self._made is None:
            self._made = self._build()
        return copy.deepcopy(self._made)


CLIENT = object()          # stands for the module's cluster client


class FromClient:
    """An example argument built from the module's client at each call (a worker's
    address, futures, the scheduler's address)."""
    def __init__(self, build: Callable):
        self._build = build

    def build(self, client):
        return self._build(client)


def _calibration():
    from distlab.engines.calibrate import Calibration
    return Make(lambda: Calibration(alpha=1e-4, beta=1e-9, overhead=1e-3,
                                    samples=pd.DataFrame({"bytes": [8], "seconds_per_hop": [1e-4]}),
                                    gamma=1e-10, fixed=1e-4, fresh=1e-10, alpha_both=1e-4,
                                    beta_both=1e-9))


def _group():
    from distlab.engines.spmd import Group
    return Make(lambda: Group(0, ["tcp://127.0.0.1:1"], "walk", 1.0))


def _transfers():
    from distlab.concepts.plans import Round, Transfer
    return Make(lambda: (Round((Transfer(0, 1, (0, 1)),), "to 1"),
                         Round((Transfer(1, 0, (0, 2), "copy"),), "back")))


def _plan(name="ring", p=4):
    return Make(lambda: getattr(importlib.import_module("distlab.concepts.plans"), name)(p))


def _result():
    from distlab.engines.allreduce import allreduce
    return Make(lambda: allreduce([10.0, 20.0, 30.0], "ring"))


def _history():
    from distlab.concepts.linearizability import Op
    return Make(lambda: [Op("A", "write", 1, 0.0, 1.0), Op("B", "read", 1, 2.0, 3.0)])


def _job():
    from distlab.apps.tuning import Job
    return Make(lambda: Job(rows=8, inputs=4, features=16))


def _tiny_training():
    from distlab.apps.training import train
    return Make(lambda: train("single", rounds=2), once=True)


def _net():
    from distlab.concepts.events import MessageNetwork, Simulator
    return Make(lambda: MessageNetwork(Simulator(0)))


def _timeline():
    from distlab.concepts import pipeline
    return Make(lambda: pipeline.run(pipeline.gpipe(2, 2)))


def _store_run():
    from distlab.apps import stores
    return Make(lambda: stores.run(stores.STRONG, workload=stores.Workload(duration=0.2)),
                once=True)


def _params():
    return Make(lambda: np.zeros((65, 10)))


def _tuning_result():
    from distlab.apps.tuning import ClusterModel, Config, Tuning
    job = _job().build()
    model = ClusterModel(call=0.01, task=0.002, scheduler=0.0023, row=0.0006, alpha=5e-4,
                         beta=2e-9)
    table = pd.DataFrame({"workers": [1], "partition_rows": [8], "algorithm": ["none"],
                          "predicted_s": [0.1], "measured_s": [0.1], "correct": [True]})
    config = Config(1, 8, "none")
    return Tuning(job, model, table, config, config, 0.1)


# name (module after "distlab.", then the callable) -> keyword arguments of a valid call.
# Parameters left out are walked from their defaults.
EXAMPLES: dict[str, dict] = {
    # -- concepts ---------------------------------------------------------------------------
    "concepts.availability.availability": dict(mtbf=1000.0, mttr=10.0),
    "concepts.availability.any_of": dict(a=0.99, n=3),
    "concepts.availability.quorum": dict(a=0.99, n=3, q=2),
    "concepts.availability.nines": dict(a=0.999),
    "concepts.availability.downtime_hours_per_year": dict(a=0.999),
    "concepts.availability.table": dict(replicas=[1, 3]),
    "concepts.cost.Network": dict(),
    "concepts.cost.chunk_elements": dict(plan=_plan(), n=8),
    "concepts.cost.round_bytes": dict(plan=_plan(), n=8),
    "concepts.cost.bytes_per_node": dict(plan=_plan(), n=8),
    "concepts.cost.round_times": dict(plan=_plan(), n=8),
    "concepts.cost.plan_time": dict(plan=_plan(), n=8),
    "concepts.cost.cost_summary": dict(plan=_plan(), n=8),
    "concepts.cost.lower_bound_bytes": dict(p=4, n_bytes=1e6),
    "concepts.cost.closed_form": dict(algorithm="ring", p=4, n_bytes=1e6),
    "concepts.darts.darts_in_circle": dict(seed=0, darts=1000),
    "concepts.darts.estimate_pi": dict(counts=[785, 790], darts=1000),
    "concepts.events.Simulator": dict(seed=0),
    "concepts.events.Event": dict(time=0.0, seq=0, callback=print),
    "concepts.events.Latency": dict(),
    "concepts.events.MessageNetwork": dict(sim=Make(lambda: events.Simulator(0))),
    "concepts.events.Message": dict(src="a", dst="b", payload=1, sent_at=0.0),
    "concepts.gossip.ring_matrix": dict(n=4),
    "concepts.gossip.complete_matrix": dict(n=4),
    "concepts.gossip.pairwise_matrix": dict(n=4),
    "concepts.gossip.second_eigenvalue": dict(w=Make(lambda: np.full((3, 3), 1 / 3))),
    "concepts.gossip.rounds_to_tolerance": dict(r=0.5, tolerance=1e-3),
    "concepts.gossip.predicted_rounds": dict(algorithm="gossip_ring", n=4),
    "concepts.gossip.rate": dict(algorithm="gossip_ring", n=4),
    "concepts.gossip.gossip_ring": dict(p=4, tolerance=1e-3),
    "concepts.gossip.gossip_complete": dict(p=4, tolerance=1e-3),
    "concepts.gossip.gossip_random": dict(p=4, tolerance=1e-3),
    "concepts.gossip.disagreement": dict(buffers=Make(lambda: np.ones((3, 2))),
                                         mean=Make(lambda: np.ones(2))),
    "concepts.linearizability.Op": dict(process="A", kind="write", value=1, invoke=0.0,
                                        complete=1.0),
    "concepts.linearizability.Verdict": dict(ok=True),
    "concepts.linearizability.check_linearizable": dict(history=_history()),
    "concepts.linearizability.as_history": dict(history=_history()),
    "concepts.memory.Transformer": dict(name="tiny", layers=2, hidden=64, heads=4,
                                        sequence=128, parameters=1e5),
    "concepts.memory.shape": dict(name="GPT-3 175B"),
    "concepts.memory.activation_bytes_per_layer": dict(sequence=128, micro_batch=1,
                                                       hidden=64, heads=4),
    "concepts.memory.degrees": dict(devices=8, tp=2),
    "concepts.memory.DeviceMemory": dict(parameters=1.0, gradients=1.0, optimizer_state=1.0,
                                         activations=1.0),
    "concepts.memory.per_device": dict(parameters=7.5e9, dp=64),
    "concepts.memory.configurations": dict(model=Make(lambda: memory.shape("GPT-3 175B")),
                                           devices=64),
    "concepts.network_faults.NetworkFault": dict(time=0.1, action="crash", target=0),
    "concepts.parameter_server.sharded_parameter_server": dict(p=4),
    "concepts.parameter_server.shard_owner": dict(block=1, p=4),
    "concepts.partitioning.partition_even": dict(costs=[3.0, 1.0, 2.0], parts=2),
    "concepts.partitioning.partition_cost_aware": dict(costs=[3.0, 1.0, 2.0], parts=2),
    "concepts.partitioning.part_costs": dict(costs=[3.0, 1.0, 2.0], partition=[[0], [1, 2]]),
    "concepts.partitioning.Schedule": dict(strategy="dynamic", workers=1, worker=(0,),
                                           start=(0.0,), end=(1.0,)),
    "concepts.partitioning.simulate_schedule": dict(durations=[0.1, 0.2, 0.3], workers=2),
    "concepts.partitioning.lower_bound": dict(durations=[0.1, 0.2, 0.3], workers=2),
    "concepts.partitioning.skewed_durations": dict(n=8),
    "concepts.partitioning.alternating_durations": dict(),
    "concepts.pipeline.Step": dict(stage=0, micro_batch=0, kind="F"),
    "concepts.pipeline.split_layers": dict(layers=8, stages=2),
    "concepts.pipeline.gpipe": dict(stages=2, micro_batches=4),
    "concepts.pipeline.one_f_one_b": dict(stages=2, micro_batches=4),
    "concepts.pipeline.schedule": dict(name="gpipe", stages=2, micro_batches=4),
    "concepts.pipeline.run": dict(order=Make(lambda: pipeline.gpipe(2, 4))),
    "concepts.pipeline.bubble_fraction": dict(timeline=_timeline()),
    "concepts.pipeline.bubble_formula": dict(stages=2, micro_batches=4),
    "concepts.pipeline.peak_in_flight": dict(order=Make(lambda: pipeline.gpipe(2, 4))),
    "concepts.pipeline.in_flight_formula": dict(name="1f1b", stages=2, micro_batches=4),
    "concepts.scaling.amdahl": dict(f=0.9, p=4),
    "concepts.scaling.gustafson": dict(s=0.1, p=4),
    "concepts.scaling.karp_flatt": dict(speedup=3.0, p=4.0),
    "concepts.scaling.fit_amdahl": dict(p=[1, 2, 4], speedups=[1.0, 1.8, 3.1]),
    "concepts.scaling.serial_fraction_on_parallel": dict(f=0.9, p=4.0),
    "concepts.scaling.karp_flatt_table": dict(timings=Make(lambda: [
        {"engine": "Dask", "tasks": 2, "workers": 1, "seconds": 2.0},
        {"engine": "Dask", "tasks": 2, "workers": 2, "seconds": 1.1}])),
    "concepts.scaling.predictions": dict(f=0.9),
    "concepts.scaling.efficiency": dict(nodes=[2, 4], algorithms=["ring"]),
    "concepts.sessions.SessionViolation": dict(
        guarantee="read your writes", session="A",
        earlier=Make(lambda: _history().build()[0]), read=Make(lambda: _history().build()[1])),
    "concepts.sessions.SessionVerdict": dict(),
    "concepts.sessions.check_sessions": dict(history=_history(), versions={1: 1}),
    "concepts.sizing.Model": dict(name="tiny", parameters=1e6, tokens=1e9, source="test"),
    "concepts.sizing.Accelerator": dict(name="chip", memory_gb=80.0, peak_tflops=300.0,
                                        source="test"),
    "concepts.sizing.bytes_per_parameter": dict(),
    "concepts.sizing.memory_bytes": dict(parameters=7e9),
    "concepts.sizing.training_flops": dict(parameters=7e9, tokens=2e12),
    "concepts.sizing.inference_flops": dict(parameters=7e9),
    "concepts.sizing.devices_for_memory": dict(memory=1e12, device_memory_gb=80.0),
    "concepts.sizing.training_days": dict(flops=1e21, devices=8, peak_tflops=312.0),
    "concepts.sizing.device_hours": dict(flops=1e21, peak_tflops=312.0),
    "concepts.sizing.plan": dict(parameters=7e9, tokens=2e12),
    "concepts.sizing.TrainingEstimate": dict(parameters=7e9, tokens=2e12, memory_gb=112.0,
                                             devices=2, flops=8.4e22, days=10.0,
                                             days_on_1024=1.0),
    "concepts.sizing.table": dict(),
    "concepts.sizing.check_models": dict(models=Make(lambda: list(sizing.MODELS[:2]))),
    "concepts.sizing.human": dict(x=1.5e9),
    "concepts.sizing.matmul_tflops": dict(n=64, repeats=1),
    "concepts.task_overhead.tasks_seconds": dict(tasks=8, workers=2, task_seconds=0.01),
    "concepts.task_overhead.overhead_model": dict(total_seconds=1.0, tasks=8, workers=2,
                                                  scheduler_per_task=0.001),
    "concepts.task_overhead.break_even_task_seconds": dict(scheduler_per_task=0.001),
    "concepts.task_overhead.fit_overhead": dict(measurements=Make(lambda: pd.DataFrame(
        {"tasks": [2, 8, 32], "measured (s)": [0.51, 0.52, 0.56], "ideal (s)": [0.5] * 3})),
        workers=2),
    "concepts.tensor_parallel.forward": dict(x=Make(lambda: np.ones((2, 4))),
                                             a=Make(lambda: np.ones((4, 8))),
                                             b=Make(lambda: np.ones((8, 4)))),
    "concepts.tensor_parallel.backward": dict(x=Make(lambda: np.ones((2, 4))),
                                              a=Make(lambda: np.ones((4, 8))),
                                              b=Make(lambda: np.ones((8, 4))),
                                              dz=Make(lambda: np.ones((2, 4)))),
    "concepts.tensor_parallel.split_columns": dict(a=Make(lambda: np.ones((4, 8))), degree=2),
    "concepts.tensor_parallel.split_rows": dict(b=Make(lambda: np.ones((8, 4))), degree=2),
    "concepts.tensor_parallel.parallel_forward": dict(
        x=Make(lambda: np.ones((2, 4))), a_shards=Make(lambda: [np.ones((4, 4))] * 2),
        b_shards=Make(lambda: [np.ones((4, 4))] * 2)),
    "concepts.tensor_parallel.parallel_backward": dict(
        x=Make(lambda: np.ones((2, 4))), a_shards=Make(lambda: [np.ones((4, 4))] * 2),
        b_shards=Make(lambda: [np.ones((4, 4))] * 2), dz=Make(lambda: np.ones((2, 4)))),
    "concepts.tensor_parallel.bytes_per_layer": dict(batch=1, sequence=128, hidden=64, degree=2),
    "concepts.tensor_parallel.ring_bytes_per_layer": dict(batch=1, sequence=128, hidden=64,
                                                          degree=2),
    "concepts.zero.check_stage": dict(stage=1),
    "concepts.zero.sharded_parts": dict(stage=1),
    "concepts.zero.state_bytes": dict(parameters=1200.0, ranks=4, stage=1),
    "concepts.zero.collectives": dict(stage=1),
    "concepts.zero.step_bytes": dict(parameters=1200.0, ranks=4, stage=1),
    "concepts.zero.RankState": dict(rank=0, stage=0, lo=0, hi=2,
                                    weights=Make(lambda: np.zeros(2, np.float16)),
                                    gradients=Make(lambda: np.zeros(2, np.float16)),
                                    master=Make(lambda: np.zeros(2, np.float32)),
                                    exp_avg=Make(lambda: np.zeros(2, np.float32)),
                                    exp_avg_sq=Make(lambda: np.zeros(2, np.float32))),
    "concepts.zero.shard": dict(weights=Make(lambda: np.arange(8.0)), ranks=2, stage=1),
    "concepts.zero.adam_step": dict(states=Make(lambda: zero.shard(np.arange(8.0), 2, 1)),
        gradients=Make(lambda: np.ones((2, 8))), step=1),
    "concepts.zero.ring_step_bytes": dict(parameters=1200, ranks=4, stage=1),
    # -- apps: no cluster -----------------------------------------------------------------
    "apps.data_sync.local_writes": dict(n_nodes=3, n_writes=4),
    "apps.data_sync.replay": dict(writes=Make(lambda: np.ones((4, 3, 2))), sync_every=2),
    "apps.faults.fault_schedule": dict(seed=0, steps=4, workers=2),
    "apps.faults.FaultSchedule": dict(after_step=1, victim=0),
    "apps.faults.PipelineReport": dict(schedule=None, shards=2, steps=2, result=1.0,
                                       expected=1.0, lost=0, running=0, recomputed=0,
                                       computed_once=4, workers_after=2),
    "apps.fields.fields": dict(),
    "apps.flow.FlowRun": dict(strategy="strong", edges=()),
    "apps.flow_diagram.mermaid": dict(highlight=["A", "B"]),
    "apps.flow_diagram.parse_mermaid": dict(text="graph TD\n    A[a] --> B[b]"),
    "apps.flow_diagram.Diagram": dict(text="graph TD\n    A --> B"),
    "apps.hedging.simulate_service": dict(requests=200),
    "apps.hedging.tail_latency": dict(requests=200),
    "apps.hedging.hedging_table": dict(requests=200),
    "apps.raft.cluster.OpRecord": dict(client=0, process="c0", key=0, kind="read", value=None,
                                       invoke=0.0, complete=1.0, tries=1),
    "apps.raft.cluster.RaftRun": dict(config=Make(lambda: raft.RaftConfig()), seed=0, ops=(),
                                      logs=(),
        commit=(), leaders=(), messages={}),
    "apps.raft.cluster.RaftCluster": dict(
        config=Make(lambda: raft.RaftConfig()),
        workload=Make(lambda: raft.RaftWorkload()),
        seed=0),
    "apps.raft.cluster.run": dict(workload=Make(lambda: raft.RaftWorkload(duration=0.3))),
    "apps.raft.config.RaftConfig": dict(),
    "apps.raft.config.RaftWorkload": dict(),
    "apps.raft.experiments.random_faults": dict(seed=0, servers=3, clients=2, duration=1.0),
    "apps.raft.experiments.partition_counts": dict(length=0.5, settle=0.2),
    "apps.raft.experiments.failover": dict(seeds=[0]),
    "apps.raft.experiments.consistency_costs": dict(seeds=[0], heal=1.5),
    "apps.raft.server.LogEntry": dict(term=1, kind="write"),
    "apps.raft.server.RaftServer": dict(name=0, servers=[0, 1, 2], net=_net(),
                                        timing=Make(lambda: raft.RaftConfig())),
    "apps.recsys.data.make_ratings": dict(n_users=50, n_items=20, samples=200),
    "apps.recsys.data.data_key": dict(seed=0, data={}),
    "apps.recsys.data.split": dict(key=(0, 50, 20, 200, 2, 1.3, 0.3)),
    "apps.recsys.sharding.route": dict(items=[0, 1, 5], shards=2, hot=[5]),
    "apps.recsys.sharding.water_fill": dict(load=[3, 1], extra=2),
    "apps.recsys.sharding.shard_load": dict(n_users=50, n_items=20, samples=200),
    "apps.recsys.train.train_mf": dict(trainers=1, shards=1, epochs=1, clocks_per_epoch=1,
                                       n_users=50, n_items=20, samples=200),
    "apps.serving.request_rows": dict(first=0, count=4),
    "apps.serving.expected_answers": dict(params=_params(), first=0, count=4),
    "apps.sgd.one_step_two_ways": dict(n_nodes=2),
    "apps.stores.config.StoreConfig": dict(),
    "apps.stores.config.with_changes": dict(config=Make(lambda: stores.STRONG)),
    "apps.stores.config.Workload": dict(),
    "apps.stores.config.standard_faults": dict(n=3),
    "apps.stores.replicas.Version": dict(counter=1, client=0, seq=0),
    "apps.stores.replicas.SimulatedStore": dict(
        config=Make(lambda: stores.STRONG),
        workload=Make(lambda: stores.Workload()),
        faults=(), seed=0),
    "apps.stores.runs.Run": dict(config=Make(lambda: stores.STRONG), seed=0, history=(),
        result=Make(lambda: linearizability.Verdict(True)),
        metrics={}, messages={}, faults=()),
    "apps.stores.runs.stale_reads": dict(history=_history()),
    "apps.stores.runs.run": dict(workload=Make(lambda: stores.Workload(duration=0.2))),
    "apps.stores.sessions.client_of": dict(process="c0/1"),
    "apps.stores.sessions.session_check": dict(outcome=_store_run()),
    "apps.stores.sessions.session_guarantees": dict(seeds=[0]),
    "apps.stores.tables.tradeoff": dict(seeds=[0]),
    "apps.stores.tables.price_of_consistency": dict(delays_ms=[5], seeds=[0]),
    "apps.stores.tables.replicated_store_availability": dict(),
    "apps.sync_strategies.averaging_sync": dict(n_nodes=4, tolerance=1e-3),
    "apps.torch_compare.table": dict(
        dask=Make(lambda: {"startup_s": 1.0, "allreduce_s": {8: 0.001}, "step_s": 0.01}),
        torch_ranks=Make(lambda: [{"startup_s": 2.0, "time_allreduce": {8: 0.0005},
                                   "time_ddp_step": 0.002}] * 2)),
    "apps.torch_ddp.shards_for": dict(world_size=2),
    "apps.training.config.TrainingConfig": dict(),
    "apps.training.config.linear_scaled_lr": dict(lr=0.5, batch=256, base_batch=64),
    "apps.training.config.Strategy": dict(config=Make(lambda: training.TrainingConfig())),
    "apps.training.data.load_digits": dict(),
    "apps.training.data.stratified_split": dict(y=Make(lambda: np.arange(40) % 4),
                                                test_size=0.25, seed=0),
    "apps.training.data.load_split": dict(),
    "apps.training.data.shard_rows": dict(node=0, nodes=2),
    "apps.training.data.load_shard": dict(node=0, nodes=2),
    "apps.training.data.batch_rows": dict(n_rows=100, batch=8, seed=0, node=0, step=0),
    "apps.training.data.sklearn_accuracy": dict(),
    "apps.training.driver.train": dict(strategy="single", rounds=2),
    "apps.training.history.rounds_to": dict(history=_tiny_training(), target=0.5),
    "apps.training.history.summary": dict(histories=Make(lambda: [_tiny_training().build()])),
    "apps.training.model.init_params": dict(),
    "apps.training.model.probabilities": dict(params=_params(), X=Make(lambda: np.ones((3, 65)))),
    "apps.training.model.predict": dict(params=_params(), X=Make(lambda: np.ones((3, 65)))),
    "apps.training.model.loss": dict(params=_params(), X=Make(lambda: np.ones((3, 65))),
                                     y=Make(lambda: np.array([0, 1, 2]))),
    "apps.training.model.accuracy": dict(params=_params(), X=Make(lambda: np.ones((3, 65))),
                                         y=Make(lambda: np.array([0, 1, 2]))),
    "apps.training.model.gradient": dict(params=_params(), X=Make(lambda: np.ones((3, 65))),
                                         y=Make(lambda: np.array([0, 1, 2]))),
    "apps.training.model.apply_gradient": dict(params=_params(), grad=_params(), lr=0.5),
    "apps.training.model.node_gradient": dict(
        params=_params(), shard=Make(lambda: training.load_shard(0, 4)),
        node=0, step=0, batch=8, seed=0),
    "apps.training.nodes.RoundResult": dict(futures=[], bytes_sent=0),
    "apps.training.virtual_time.Timing": dict(),
    "apps.training.virtual_time.simulate": dict(strategy="sync", until=3.0),
    "apps.training.virtual_time.straggler_comparison": dict(until=5.0),
    "apps.tuning.configs.Config": dict(workers=1, partition_rows=4, algorithm="none"),
    "apps.tuning.configs.check_config": dict(config=Make(lambda: tuning.Config(1, 4, "none")),
                                             job=_job(), n_workers=2),
    "apps.tuning.configs.default_config": dict(job=_job(), n_workers=2),
    "apps.tuning.configs.partition_sizes": dict(rows=8, workers=2),
    "apps.tuning.configs.candidates": dict(job=_job(), n_workers=2),
    "apps.tuning.cost_model.ClusterModel": dict(call=0.01, task=0.002, scheduler=0.002,
                                                row=0.0006, alpha=5e-4, beta=2e-9),
    "apps.tuning.cost_model.allreduce_seconds": dict(
        workers=2, algorithm="ring", vector_bytes=128,
        model=Make(lambda: tuning.REFERENCE)),
    "apps.tuning.cost_model.predict_seconds": dict(
        config=Make(lambda: tuning.Config(
            1, 4, "none")), job=_job(),
        model=Make(lambda: tuning.REFERENCE)),
    "apps.tuning.cost_model.predict_table": dict(job=_job(), n_workers=2),
    "apps.tuning.job.Job": dict(rows=8, inputs=4, features=16),
    "apps.tuning.job.make_rows": dict(job=_job(), start=0, stop=4),
    "apps.tuning.job.partial_gradient": dict(job=_job(), start=0, stop=4),
    "apps.tuning.job.reference_gradient": dict(job=_job()),
    "apps.tuning.search.Tuning": dict(job=_job(), model=Make(lambda: tuning.REFERENCE),
                                      table=Make(lambda: pd.DataFrame()),
        chosen=Make(lambda: tuning.Config(
            1, 4, "none")),
        default=Make(lambda: tuning.Config(
            1, 4, "none"))),
    # -- apps: on the cluster (small sizes) -------------------------------------------------
    "apps.allreduce_timing.live_star_vs_ring": dict(client=CLIENT, nodes=[2], n_bytes=64),
    "apps.faults.run_pipeline": dict(client=CLIENT, steps=2, seed=None, size=100),
    "apps.faults.replication_demo": dict(client=CLIENT),
    "apps.faults.survive_worker_loss": dict(client=CLIENT, tasks=2, darts=1000),
    "apps.flow.run": dict(client=CLIENT, strategy="strong"),
    "apps.listing.data_sync": dict(client=CLIENT, node_values=[1.0, 2.0]),
    "apps.listing.parallel_computation": dict(client=CLIENT, data=Make(lambda: np.ones((4, 2)))),
    "apps.schedules.run_schedule_on_cluster": dict(client=CLIENT, durations=[0.0, 0.01],
                                                   strategy="round_robin"),
    "apps.schedules.measure_overhead": dict(client=CLIENT, total_seconds=0.01,
                                            task_counts=[2]),
    "apps.schedules.balance": dict(client=CLIENT, durations=[0.0, 0.01]),
    "apps.schedules.partitioned_sum": dict(client=CLIENT, rows=10, columns=2, partitions=[1, 2]),
    "apps.serving.batch_throughput": dict(client=CLIENT, params=_params(), batch_sizes=[2],
                                          requests=4),
    "apps.serving.serve_stream": dict(client=CLIENT, params=_params(), requests=4, batch=1,
                                      wave=2, kill_after=None),
    "apps.speedup.measure_speedup": dict(client=CLIENT, tasks=2, darts=1000),
    "apps.speedup.measure_scaling": dict(client=CLIENT, darts=1000, task_counts=[2], repeats=1),
    "apps.torch_compare.run_torch": dict(values=[1.0, 2.0], sizes=[8], repeats=1),
    "apps.torch_compare.dask_allreduce_seconds": dict(client=CLIENT, sizes=[8], repeats=1),
    "apps.torch_compare.dask_step_seconds": dict(client=CLIENT, rounds=1),
    "apps.torch_compare.measure_dask": dict(client=CLIENT, startup_s=1.0, sizes=[8], repeats=1,
                                            rounds=1),
    "apps.training.nodes.Placement": dict(client=CLIENT, homes=(), shards=()),
    "apps.training.nodes.describe_shards": dict(client=CLIENT, nodes=2),
    "apps.tuning.measure.run": dict(client=CLIENT, job=_job(),
                                    config=Make(lambda: tuning.Config(1, 4, "none"))),
    "apps.tuning.measure.probe": dict(client=CLIENT, job=_job(), tasks=2),
    "apps.tuning.search.tune": dict(client=CLIENT, job=_job(), top=1, repeats=1),
    # -- present ------------------------------------------------------------------------------
    "present.calculator.render": dict(parameters=7e9, tokens=2e12, precision="bf16",
                                      optimizer="adam", device_memory_gb=80.0,
                                      peak_tflops=312.0, utilization=0.4),
    "present.calculator.calculator": dict(),
    "present.static_fallback.with_fallback": dict(widget=Make(lambda: _html_widget())),
    "present.static_fallback.si": dict(value=5.9e6, unit="B", digits=3),
    "present.calculator.plot_models": dict(models=Make(lambda: list(sizing.MODELS[:2]))),
    "present.collective_frames.chunk_sources": dict(nodes=3),
    "present.collective_frames.draw_frames": dict(nodes=3),
    "present.collective_views.steps_table": dict(result=_result()),
    "present.collective_views.step_view": dict(result=_result(), k=1),
    "present.collective_views.stepper": dict(),
    "present.collective_views.cost_table": dict(n_nodes=4, n_bytes=1e6,
                                                algorithms=["ring", "star"]),
    "present.collective_views.cost_explorer": dict(),
    "present.collective_views.projection": dict(n_nodes=8),
    "present.collective_views.plot_costs": dict(n_nodes=4, sizes=[1e3, 1e6],
                                                network=Make(lambda: cost.Network())),
    "present.collective_views.convergence": dict(
        result=Make(lambda: allreduce_engine.allreduce([1.0, 2.0, 3.0], "gossip_ring",
                                                       tolerance=1e-3))),
    "present.collective_views.rounds_to": dict(curve=Make(lambda: pd.DataFrame(
        {"round": [0, 1, 2], "error": [1.0, 0.1, 0.01]})), tolerance=0.05),
    "present.collective_views.gossip_table": dict(node_counts=[4], tolerance=1e-3, seeds=1),
    "present.collective_views.plot_convergence": dict(curves=Make(lambda: {
        "ring": pd.DataFrame({"round": [0, 1, 2], "error": [1.0, 0.1, 0.01]})})),
    "present.data.DataFileError": dict(),
    "present.data.Entry": dict(where="quiz.toml, question 'x'", fields={"id": "x"}),
    "present.exercise_checks.WrongAnswer": dict(),
    "present.exercise_checks.check_seeded_task": dict(answer=Make(lambda: solutions.throw)),
    "present.exercise_checks.check_devices_needed": dict(
        answer=Make(lambda: solutions.devices_needed)),
    "present.exercise_checks.partition_cases": dict(),
    "present.exercise_model_checks.check_replicas":
        dict(answer=Make(lambda: solutions.replicas_for)),
    "present.exercise_model_checks.check_session_violations":
        dict(answer=Make(lambda: solutions.session_violations)),
    "present.exercise_model_checks.check_capped_one_f_one_b":
        dict(answer=Make(lambda: solutions.capped_one_f_one_b)),
    "present.exercise_checks.check_partition": dict(answer=Make(lambda: solutions.partition)),
    "present.exercise_checks.check_read_gaps": dict(answer=Make(lambda: solutions.read_gaps)),
    "present.exercise_checks.check_ring_plan": dict(answer=Make(lambda: solutions.ring_rounds)),
    "present.exercise_checks.allreduce_bytes": dict(),
    "present.exercise_checks.check_pick_h": dict(answer=Make(lambda: solutions.pick_h)),
    "present.exercise_checks.check_autotune": dict(answer=Make(lambda: solutions.fastest)),
    "present.exercise_checks.linearizability_cases": dict(),
    "present.exercise_checks.check_linearizable": dict(
        answer=Make(lambda: solutions.linearizable)),
    "present.exercise_cluster_checks.check_average": dict(answer=Make(lambda: solutions.average)),
    "present.exercise_cluster_checks.check_ddp_step": dict(
        answer=Make(lambda: solutions.ddp_step)),
    "present.exercise_solutions.throw": dict(seed=0, darts=100),
    "present.exercise_solutions.devices_needed": dict(parameters=7e9, tokens=2e12, days=30),
    "present.exercise_solutions.partition": dict(costs=[3.0, 1.0, 2.0], parts=2),
    "present.exercise_solutions.replicas_for":
        dict(mtbf_hours=1000, mttr_hours=10, nines=4, need="any"),
    "present.exercise_solutions.capped_one_f_one_b": dict(p=4, m=8, cap=2),
    "present.exercise_solutions.session_violations": dict(
        history=Make(lambda: _store_run().build().history),
        versions=Make(lambda: _store_run().build().versions)),
    "present.exercise_solutions.read_gaps": dict(writes=Make(lambda: np.ones((4, 3, 2))),
                                                 sync_every=2),
    "present.exercise_solutions.ring_rounds": dict(p=4),
    "present.exercise_solutions.pick_h": dict(budget_bytes=100_000),
    "present.exercise_solutions.fastest": dict(p=4, n_bytes=1e6,
                                               network=Make(lambda: cost.Network())),
    "present.exercise_solutions.linearizable": dict(history=_history()),
    "present.exercise_solutions.average": dict(client=CLIENT, futures=Make(lambda: None)),
    "present.exercises.number": dict(text="1/3"),
    "present.exercises.Checker": dict(kind="integer", settings={"value": 3}),
    "present.exercises.Exercise": dict(
        id="04.x", question="?", checker=Make(lambda: exercises.Checker("integer", {"value": 3})),
        hint="h", solution="s", answer=3, wrong=4),
    "present.exercises.Feedback": dict(correct=True, message="ok"),
    "present.exercises.load": dict(),
    "present.exercises.get": dict(exercise_id="04.mean"),
    "present.exercises.all_ids": dict(chapter="04"),
    "present.exercises.check": dict(exercise_id="04.mean", answer="20"),
    "present.exercises.solution": dict(exercise_id="04.mean"),
    "present.exercises.ask": dict(exercise_id="04.mean"),
    "present.figures.closed_figure": dict(),
    "present.glossary.Term": dict(english="gossip", chinese="八卦", en="d", zh="d",
                                  chapters=("04",)),
    "present.glossary.load": dict(),
    "present.glossary.lookup": dict(name="gossip"),
    "present.glossary.terms": dict(chapter="04"),
    "present.glossary.table": dict(chapter="04"),
    "present.glossary.find_in": dict(text="ring all-reduce and gossip"),
    "present.glossary.widget": dict(),
    "present.model_split_plots.stage_peaks": dict(timeline=_timeline()),
    "present.model_split_plots.pipeline_gantt": dict(timelines=Make(lambda: {
        "GPipe": _timeline().build()})),
    "present.model_split_plots.memory_by_stage": dict(parameters=7.5e9, dp=64),
    "present.model_split_plots.memory_bars": dict(
        table=Make(lambda: model_split_plots.memory_by_stage(7.5e9, dp=64))),
    "present.quiz.Question": dict(id="q", prompt="?", choices=("a", "b"), answer=0, why="w",
                                  chapter="04"),
    "present.quiz.QuestionResult": dict(id="q", chosen=0, correct=True, feedback="ok"),
    "present.quiz.Grade": dict(score=0, total=0, results=()),
    "present.quiz.load": dict(),
    "present.quiz.grade": dict(answers={"mean": 1}),
    "present.quiz.widget": dict(),
    "present.recsys_plots.load_plot": dict(loads={"hash": [3, 1, 2]}),
    "present.schedule_plots.gantt": dict(
        schedules=Make(lambda: [partitioning.simulate_schedule([0.1, 0.2], 2)])),
    "present.schedule_plots.overhead_curve": dict(total_seconds=1.0, workers=2,
                                                  scheduler_per_task=0.001,
                                                  task_counts=[2, 8]),
    "present.schedule_plots.speedup_plot": dict(measured={"workers": 2, "speed-up": 1.8},
                                                f=0.9, workers=[1, 2]),
    "present.schedule_plots.efficiency_plot": dict(
        frame=Make(lambda: scaling.efficiency([2, 4], ["ring"]))),
    "present.store_plots.tradeoff_plot": dict(
        table=Make(lambda: stores.tradeoff(seeds=[0]), once=True)),
    "present.store_plots.timeline_plot": dict(run=_store_run()),
    "present.store_plots.render": dict(n=3, r=2, w=2, delay_ms=10.0, replication="sync",
                                       seeds=1),
    "present.store_plots.explorer": dict(),
    "present.training_plots.plot": dict(histories=_tiny_training()),
    "present.training_plots.time_plot": dict(
        histories=Make(lambda: {"sync": training.simulate("sync", until=3.0)})),
    "present.tuning_plots.plot": dict(tuning=Make(_tuning_result)),
}

EXAMPLES.update({
    # -- concepts: the collectives' plans and the kernel ------------------------------------
    "concepts.plans.Transfer": dict(src=0, dst=1, chunk=(0, 1), op="reduce", weight=1.0),
    "concepts.plans.Round": dict(transfers=Make(lambda: _transfers().build()[0].transfers),
                                 label="a round"),
    "concepts.plans.Plan": dict(algorithm="mine", n_nodes=2, blocks=2, rounds=_transfers(),
                                divide_by=2, exact=True, notes={"why": "a test"}),
    "concepts.plans.star": dict(p=4, root=0),
    "concepts.plans.tree": dict(p=4),
    "concepts.plans.recursive_doubling": dict(p=4),
    "concepts.plans.ring_shard": dict(node=0, p=4),
    "concepts.plans.reduce_scatter": dict(p=4, divide=True),
    "concepts.plans.all_gather": dict(p=4),
    "concepts.plans.ring": dict(p=4),
    "concepts.plans.broadcast_star": dict(p=4, root=0),
    "concepts.plans.broadcast": dict(p=4, root=0),
    "concepts.plans.point_to_point": dict(p=4, src=0, dst=1),
    "concepts.plans.rabenseifner": dict(p=4),
    "concepts.kernel.SumOverflow": dict(),
    "concepts.kernel.run_plan": dict(plan=_plan("ring", 2),
                                     buffers=Make(lambda: [np.ones(3), np.zeros(3)]),
                                     dtype=np.float64, record=False),
    # -- engines: no cluster ------------------------------------------------------------------
    "engines.algorithms.check_algorithm": dict(algorithm="ring"),
    "engines.algorithms.make_plan": dict(algorithm="ring", n_nodes=4, tolerance=1e-3, seed=0,
                                         self_weight=0.5),
    "engines.allreduce.allreduce": dict(values=[10.0, 20.0, 30.0], algorithm="ring",
                                        tolerance=1e-3, seed=0, self_weight=0.5,
                                        network=Make(lambda: cost.Network()),
                                        dask_engine="direct"),
    "engines.calibrate.predict_direct": dict(plan=_plan(), n=1000, calibration=_calibration(),
                                             itemsize=8),
    "engines.calibrate.round_seconds": dict(plan=_plan(), n=1000, itemsize=8,
                                            calibration=_calibration()),
    "engines.calibrate_tasks.predict": dict(plan=_plan(), n=1000, calibration=_calibration(),
                                            itemsize=8),
    "engines.cluster.scheduler_address": dict(),
    "engines.inputs.local_inputs": dict(values=[1.0, 2.0]),
    "engines.inputs.working_dtype": dict(dtypes=Make(lambda: [np.dtype("float32")])),
    "engines.progress.StepsBar": dict(label="steps", total=2),
    "engines.simulator.Simulator": dict(),
    "engines.spmd.check_group": dict(group=_group()),
    "engines.tasks.critical_path": dict(plan=_plan()),
    "engines.torch_gloo.available": dict(),
    "engines.torch_gloo.check_values": dict(values=[1.0, 2.0]),
    "engines.torch_gloo.run_ranks": dict(jobs=Make(lambda: [("allreduce_mean",
                                                             {"values": [1.0, 3.0]})]),
                                         world_size=2, timeout=120.0, progress=False),
    "engines.torch_gloo.allreduce_example": dict(values=[1.0, 3.0], timeout=120.0),
    "engines.torch_ranks.free_port": dict(host="127.0.0.1"),
    # -- engines: on the cluster (small sizes) ------------------------------------------------
    "engines.calibrate.ping_pong_direct": dict(client=CLIENT, sizes=[8, 1024], hops=3,
                                               repeats=1),
    "engines.calibrate.measure_direct": dict(client=CLIENT, calibration=_calibration(),
                                             algorithms=["ring"], sizes=[1024], repeats=1),
    "engines.calibrate_tasks.ping_pong": dict(client=CLIENT, sizes=[8, 1024], hops=2,
                                              repeats=1),
    "engines.calibrate_tasks.measure": dict(client=CLIENT, calibration=_calibration(),
                                            algorithms=["ring"], sizes=[1024], repeats=1,
                                            n_nodes=2, dask_engine="tasks"),
    "engines.cluster.connect": dict(address=FromClient(lambda c: c.scheduler.address),
                                    n_workers=2, memory_limit="512MiB", timeout=5.0),
    "engines.cluster.describe": dict(client=CLIENT),
    "engines.cluster.is_embedded": dict(client=CLIENT),
    "engines.progress.progress": dict(
        futures=FromClient(lambda c: [c.submit(float, 1, pure=False)]), label="walk"),
    "engines.spmd.run_ranks": dict(client=CLIENT, fn=Make(lambda: _spmd_time_allreduce()),
                                   timeout=30.0, n_bytes=8, algorithm="ring", repeats=1),
    "engines.tasks.Tasks": dict(client=CLIENT),
    "engines.workers.check_client": dict(client=CLIENT, name="client"),
    "engines.workers.worker_addresses": dict(client=CLIENT, at_least=1),
    "engines.workers.submit_on": dict(client=CLIENT, func=Make(lambda: float),
                                      worker=FromClient(lambda c: sorted(c.nthreads())[0]),
                                      strict=False),
    "engines.workers.kill_worker": dict(client=CLIENT,
                                        address=FromClient(lambda c: sorted(c.nthreads())[-1]),
                                        timeout=60.0, wait_for_replacement=True),
    "engines.workers.wait_for_workers": dict(client=CLIENT, n=1, timeout=30.0),
    # -- the command line, as a learner calls it from Python ----------------------------------
    "cli.main": dict(argv=["memory", "--params", "7.5e9", "--dp", "64"]),
    "cli.doctor.versions": dict(),
    "cli.doctor.mermaid_in_jupyterlab": dict(),
    "cli.doctor.worker_mismatches": dict(client=CLIENT),
    "cli.notebooks.notebooks_dir": dict(),
    "cli.notebooks.chapters": dict(names=["04"]),
    "cli.cluster.state_folder": dict(port=8786),
    "cli.cluster.status": dict(port=1),
    "cli.cluster.down": dict(port=1, timeout=20.0),
    # -- records the engines build (made once, validly) ---------------------------------------
    "cli.cluster.ClusterError": dict(),
    "engines.calibrate.Calibration": dict(alpha=1e-4, beta=1e-9, overhead=1e-3,
                                          samples=Make(pd.DataFrame)),
    "engines.inputs.Inputs": dict(values=Make(lambda: (np.ones(2),)), shape=(2,),
                                  dtype=np.dtype(float)),
    "engines.result.AllreduceResult": dict(
        plan=_plan("ring", 2), network=Make(lambda: cost.Network()), engine="simulator",
        inputs=Make(lambda: importlib.import_module("distlab.engines.inputs").local_inputs(
            [1.0, 3.0])),
        values=Make(lambda: [np.array(2.0), np.array(2.0)])),
    "engines.result.WorkerLost": dict(workers=["tcp://127.0.0.1:1"]),
    "engines.spmd.Group": dict(rank=0, peers=["tcp://127.0.0.1:1"], group_id="walk",
                               timeout=1.0),
})


_CAPSTONE_REPORT = dict(
    task=Make(lambda: importlib.import_module("distlab.apps.capstone").TASK),
    plan=Make(lambda: importlib.import_module("distlab.apps.capstone").CapstonePlan()),
    accuracy=0.97, bytes_sent=(100, 100, 100, 100), rounds=3, rounds_run=4, kill_round=1,
    killed_worker=0, restarts=1, finished=True, survived=True, seconds=1.0, reasons=())


EXAMPLES.update({
    # -- the direct engines: what a learner or another layer uses -------------------------
    "engines.direct.DirectNaive": dict(client=CLIENT, timeout=30.0),
    "engines.direct_fast_call.DirectFast": dict(client=CLIENT, timeout=30.0),
    "engines.direct_fast_call.message_counts": dict(client=CLIENT),
    # -- the benchmark's tables -----------------------------------------------------------
    "cli.bench.report.Report": dict(),
    "cli.bench.report.headline": dict(frame=Make(lambda: _bench_frame())),
    "cli.bench.report.markdown_table": dict(frame=Make(lambda: pd.DataFrame({"a": [1]}))),
    # -- model splitting: the MLP, ZeRO, tensor and pipeline ranks, PyTorch's ZeRO ----------
    "apps.mlp.MLPTraining": dict(steps=2, batch=8, hidden=(8,), lr=0.01, seed=0),
    "apps.mlp.layer_shapes": dict(hidden=(8,)),
    "apps.mlp.init_layers": dict(hidden=(8,), seed=0),
    "apps.mlp.forward_layer": dict(w=Make(lambda: np.full((65, 8), 0.1)),
                                   a=Make(lambda: np.ones((3, 65))), last=False),
    "apps.mlp.output_gradient": dict(probs=Make(lambda: np.full((3, 10), 0.1)),
                                     y=Make(lambda: np.array([0, 1, 2])), count=3),
    "apps.mlp.backward_layer": dict(w=Make(lambda: np.ones((9, 10))),
                                    a=Make(lambda: np.ones((3, 9))),
                                    out=Make(lambda: np.full((3, 10), 0.1)),
                                    d_out=Make(lambda: np.ones((3, 10))), last=True),
    "apps.mlp.gradients": dict(layers=Make(lambda: _mlp().init_layers((8,))),
                               X=Make(lambda: np.ones((3, 65))),
                               y=Make(lambda: np.array([0, 1, 2])), count=3),
    "apps.mlp.adam": dict(w=Make(lambda: np.zeros(4)), m=Make(lambda: np.zeros(4)),
                          v=Make(lambda: np.zeros(4)), g=Make(lambda: np.ones(4)), step=1,
                          lr=0.01, betas=(0.9, 0.999, 1e-8)),
    "apps.zero_ranks.reference": dict(ranks=2, settings=Make(lambda: _small_mlp())),
    "apps.zero_ranks.run": dict(client=CLIENT, stages=[0, 1],
                                settings=Make(lambda: _small_mlp())),
    "apps.tensor_ranks.inputs": dict(tokens=4, hidden=8, ffn=32, seed=0),
    "apps.tensor_ranks.run": dict(client=CLIENT, degree=2, **{
        name: Make(lambda i=i: _tensor_inputs()[i]) for i, name in enumerate(("x", "a", "b",
                                                                             "dz"))}),
    "apps.pipeline_ranks.PipelineSettings": dict(layers=2, width=16, batch=32,
                                                 micro_batches=4, seed=0),
    "apps.pipeline_ranks.boundary_bytes": dict(s=Make(lambda: _pipeline_settings())),
    "apps.pipeline_ranks.run": dict(client=CLIENT, schedules=["gpipe", "1f1b"],
                                    settings=Make(lambda: _pipeline_settings()), stages=2),
    "apps.torch_zero.side_by_side": dict(
        torch_ranks=Make(lambda: [{"zero state": 8, "plain state": 16,
                                   "owned elements": 2}] * 2),
        zero_table=Make(lambda: _zero_table())),
    # -- the capstone -----------------------------------------------------------------------
    "apps.capstone.CapstoneTask": dict(target_accuracy=0.96, byte_budget=32_000, kill_step=40,
                                       nodes=4, seed=0),
    "apps.capstone.CapstonePlan": dict(strategy="local", rounds=3, local_steps=32, lr=2.0,
                                       batch=64, algorithm="ring", checkpoint_every=1),
    "apps.capstone.CapstoneReport": dict(**_CAPSTONE_REPORT),
    "apps.capstone_exercise.reference_plan": dict(
        task=Make(lambda: importlib.import_module("distlab.apps.capstone").TASK)),
    "apps.capstone_exercise.table": dict(reports=Make(lambda: {"a": _capstone_report()})),
    # -- the projection of a training step --------------------------------------------------
    "concepts.projection.Assumptions": dict(precision="bf16", optimizer="adam",
                                            intra_node_bandwidth=300e9,
                                            inter_node_bandwidth=25e9, alpha=5e-6,
                                            device_memory_gb=80.0, micro_batch=1,
                                            schedule="1f1b", recompute=False),
    "concepts.projection.Step": dict(
        model="tiny", devices=8, dp=8, tp=1, pp=1, zero_stage=0, micro_batches=1,
        sequence=128, memory=Make(lambda: memory.DeviceMemory(1.0, 1.0, 1.0, 1.0)),
        sent={}, seconds={},
        assumptions=Make(lambda: importlib.import_module(
            "distlab.concepts.projection").Assumptions())),
    "concepts.projection.project": dict(model=Make(lambda: memory.shape("GPT-3 175B")),
                                        dp=8, tp=8, pp=8, zero_stage=1, micro_batches=8),
    "concepts.projection.naive_allreduce": dict(parameters=7e9, devices=64),
})



def _mlp():
    return importlib.import_module("distlab.apps.mlp")


def _small_mlp():
    return _mlp().MLPTraining(steps=2, batch=8, hidden=(8,))


def _tensor_inputs():
    return importlib.import_module("distlab.apps.tensor_ranks").inputs(4, 8)


def _pipeline_settings():
    return importlib.import_module("distlab.apps.pipeline_ranks").PipelineSettings(
        layers=2, width=16, batch=32, micro_batches=4)


def _zero_table():
    index = pd.MultiIndex.from_product([[0, 1], [0, 1]], names=["stage", "rank"])
    return pd.DataFrame({"optimizer state": [48, 48, 24, 24]}, index=index)


def _bench_frame():
    from distlab.cli.bench.report import COLUMNS
    return pd.DataFrame([dict(zip(COLUMNS, ("allreduce p=2 8 KiB", "numpy · mean", 0.01,
                                            "ms", None, None, None, None)))],
                        columns=COLUMNS)


def _capstone_report():
    from distlab.apps.capstone import CapstoneReport
    return CapstoneReport(**{k: v.build() if isinstance(v, Make) else v
                             for k, v in _CAPSTONE_REPORT.items()})


def _spmd_time_allreduce():
    from distlab.engines.spmd import time_allreduce
    return time_allreduce


#: Callables the walk cannot call on its own, and why.
SKIP = {
    "engines.spmd.time_allreduce": "a rank's job: runs only inside run_ranks (test_spmd.py)",
    "engines.torch_gloo.allreduce_mean": "a rank's job: runs only inside a torch process group",
    "engines.torch_gloo.time_allreduce": "a rank's job: runs only inside a torch process group",
    "engines.torch_gloo.median_seconds": "a rank's job: runs only inside a torch process group",
    "engines.result.Engine": "a Protocol: the interface every engine implements",
    "cli.doctor.run": "no arguments; starts its own cluster and prints (tests/test_cli.py)",
    "cli.notebooks.execute": "runs a chapter in a fresh kernel (minutes); its checks: "
                             "tests/test_bad_input_regressions.py",
    "cli.cluster.up": "starts processes that outlive the call (tests/test_lab_cluster.py); "
                      "its checks: tests/test_bad_input_regressions.py",
    "cli.cluster.run": "starts a cluster and a command (tests/test_lab_cluster.py); its "
                       "checks: tests/test_bad_input_regressions.py",
    "apps.torch_ddp.ddp_step": "a rank's job: runs only inside a torch process group",
    "apps.torch_ddp.time_ddp_step": "a rank's job: runs only inside a torch process group",
    "apps.training.nodes.ClusterStrategy": "a base class, built by train()",
    "apps.training.synchronous.synchronous_step": "needs a Placement built by train()",
    "apps.training.synchronous.SynchronousSGD": "built by train()",
    "apps.training.local.LocalSGD": "built by train()",
    "apps.training.gossip.GossipSGD": "built by train()",
    "apps.training.parameter_server.StaleParameterServer": "built by train()",
    "apps.training.single.SingleProcess": "built by train()",
}

#: Public functions that are not entry points to check, and why.
NOT_CHECKED = {
    # the chapters print these sources as what a learner would write (inspect.getsource)
    "present.exercise_solutions.throw": "a reference solution, printed as a learner's code",
    "present.exercise_solutions.devices_needed": "a reference solution, printed",
    "present.exercise_solutions.partition": "a reference solution, printed",
    "present.exercise_solutions.read_gaps": "a reference solution, printed",
    "present.exercise_solutions.ring_rounds": "a reference solution, printed",
    "present.exercise_solutions.replicas_for": "a reference solution, printed",
    "present.exercise_solutions.capped_one_f_one_b": "a reference solution, printed",
    "present.exercise_solutions.session_violations": "a reference solution, printed",
    "present.exercise_solutions.average": "a reference solution, printed",
    "present.exercise_solutions.pick_h": "a reference solution, printed",
    "present.exercise_solutions.fastest": "a reference solution, printed",
    "present.exercise_solutions.linearizable": "a reference solution, printed",
    "present.exercise_solutions.ddp_step": "a reference solution (a rank's job), printed",
    # "A Config is data": check_config refuses one a job or a cluster cannot run, and every
    # function that runs or prices a Config calls it (tests/test_tuning.py holds that)
    "apps.tuning.configs.Config": "data, checked by check_config where it is used",
}

#: Records the package builds and returns (results, entries of its data files): the walk
#: makes one, as a learner might to compare, but does not feed them bad values; their
#: fields are checked where the package builds them.
RESULTS = {
    "concepts.events.Event", "concepts.events.Message", "concepts.linearizability.Verdict",
    "concepts.memory.DeviceMemory", "concepts.partitioning.Schedule",
    "concepts.sessions.SessionViolation", "concepts.sessions.SessionVerdict",
    "concepts.sizing.TrainingEstimate", "concepts.zero.RankState",
    "apps.faults.FaultSchedule", "apps.faults.PipelineReport", "apps.flow.FlowRun",
    "apps.raft.cluster.OpRecord", "apps.raft.cluster.RaftRun", "apps.raft.server.LogEntry",
    "apps.stores.replicas.Version", "apps.stores.runs.Run", "apps.training.nodes.RoundResult",
    "apps.tuning.search.Tuning", "present.exercises.Exercise", "present.exercises.Feedback",
    "present.exercises.Checker", "present.quiz.Question", "present.quiz.QuestionResult",
    "present.quiz.Grade", "present.glossary.Term", "present.data.Entry",
    "present.data.DataFileError", "present.exercise_checks.WrongAnswer",
    "concepts.kernel.SumOverflow", "engines.calibrate.Calibration", "engines.inputs.Inputs",
    "engines.result.AllreduceResult", "engines.result.WorkerLost", "engines.spmd.Group",
    "cli.cluster.ClusterError",
}

#: Bad values a parameter may accept, by parameter name (for every callable) or by
#: "callable:parameter"; the reason is in the comment.
ACCEPTED: dict[str, set] = {
    "seed": {"zero"}, "first": {"zero"}, "staleness": {"zero"}, "hot_items": {"zero"},
    "gamma": {"zero"}, "alpha": {"zero"}, "drop": {"zero"}, "jitter": {"zero"},
    "base": {"zero"}, "label_skew": {"zero"}, "time": {"zero"}, "invoke": {"zero"},
    "complete": {"zero"}, "sent_at": {"zero"}, "size": {"zero"}, "reg": {"zero"},
    "overhead": {"zero"}, "scheduler": {"zero"}, "worker_per_task": {"zero"},
    "scheduler_per_task": {"zero"}, "transfer_time": {"zero"},
    "zipf": {"zero"}, "noise": {"zero"}, "step": {"zero"}, "node": {"zero"}, "rank": {"zero"},
    "shard": {"zero"}, "stage": {"zero"}, "micro_batch": {"zero"}, "victim": {"zero"},
    "after_step": {"zero"}, "start": {"zero"}, "first_step": {"zero"}, "index": {"zero"},
    "seconds": {"zero"}, "lo": {"zero"}, "seq": {"zero"}, "term": {"zero"}, "key": {"zero"},
    "client": set(), "count": {"zero"}, "block": {"zero"}, "trainer": {"zero"},
    "counter": {"zero"}, "lost": {"zero"}, "running": {"zero"}, "recomputed": {"zero"},
    "computed_once": {"zero"}, "score": {"zero"}, "total": {"zero"}, "chosen": {"zero"},
    "tries": {"zero"}, "k": {"zero"}, "decimals": {"zero"}, "answer": {"any"},
    "value": {"any"}, "payload": {"any"}, "process": {"any"}, "src": {"any"}, "dst": {"any"},
    "initial": {"any"}, "name": {"unknown"}, "source": {"unknown", "empty"},
    "english": {"unknown"}, "chinese": {"unknown"}, "en": {"unknown"}, "zh": {"unknown"},
    "why": {"unknown"}, "hint": {"unknown"}, "solution": {"unknown"}, "question": {"unknown"},
    "prompt": {"unknown"}, "message": {"unknown", "empty"}, "feedback": {"unknown", "empty"},
    "reason": {"unknown", "empty"}, "text": {"unknown", "empty"}, "what": {"unknown"},
    "signature": {"unknown"}, "where": {"unknown"}, "time_unit": {"unknown", "empty"},
    "session": {"any"}, "guarantee": set(), "x": {"negative", "zero", "huge"},
    "bytes_sent": {"zero"}, "result": {"zero", "negative"}, "expected": {"zero", "negative"},
    "state": {"zero", "negative"}, "args": {"empty"}, "futures": {"empty"},
    "edges": set(), "highlight": {"empty"}, "history": {"empty"}, "faults": {"empty"},
    "mark": {"empty"}, "aliases": {"empty"}, "results": {"empty"}, "ops": {"empty"},
    "logs": {"empty"}, "commit": {"empty"}, "leaders": {"empty"}, "messages": {"empty"},
    "metrics": {"empty"}, "versions": {"empty"}, "violations": {"empty"}, "order": set(),
    "witness": {"empty"}, "data": set(), "settings": set(), "fields": set(),
    "homes": {"empty"}, "shards": {"empty"}, "entries": {"empty"}, "names": {"empty"},
}

# Where the walk's general rules do not fit, by callable.
ACCEPTED.update({
    # a window may open before time 0 (chapter 02.2 starts one 20 ms before a write)
    "present.store_plots.timeline_plot:start_ms": {"negative", "zero"},
    # a unit is free text
    "present.static_fallback.si:unit": {"empty", "unknown"},
    # a node of the simulated network may have any hashable name
    "concepts.network_faults.NetworkFault:target": {"type", "fraction", "bool", "nan",
                                                    "negative"},
    # the scaling laws are formulas: any real p ≥ 1 works
    "concepts.scaling.amdahl:p": {"fraction"}, "concepts.scaling.gustafson:p": {"fraction"},
    "concepts.scaling.predictions:measured_at": {"fraction"},
    "concepts.zero.shard:weights": {"ndim"},                  # any array, flattened
    # the widgets' renderers answer bad input with the error as HTML, by design
    **{f"present.calculator.render:{p}": {"any"}
       for p in ("parameters", "tokens", "precision", "optimizer", "device_memory_gb",
                 "peak_tflops", "utilization")},
    **{f"present.store_plots.render:{p}": {"any"}
       for p in ("n", "r", "w", "delay_ms", "replication", "seeds")},
    "apps.listing.parallel_computation:data": {"ndim"},      # any numeric array, summed
    "apps.torch_compare.table:torch_ranks": {"None"},      # documented: no PyTorch column
    "apps.recsys.sharding.route:items": {"empty"},          # routing nothing is nothing
    "apps.recsys.data.data_key:data": {"empty"},            # no options: the defaults
    "present.quiz.grade:answers": {"empty"},                # nothing answered: all wrong
    "apps.recsys.sharding.route:hot": {"empty"},            # no hot items
    "apps.hedging.tail_latency:hedge_after": {"type"},      # seconds, or "pNN"
    "label": {"unknown", "empty"},                          # free text for the learner
    "concepts.plans.Plan:algorithm": {"unknown"},           # a plan may have any name
    "concepts.plans.Plan:rounds": {"empty"},                # one node: nothing to send
    "concepts.plans.Round:transfers": {"empty"},            # a round in which nobody sends
    "concepts.plans.Plan:notes": {"empty"},                 # the default
    "cli.notebooks.chapters:names": {"empty"},              # documented: every chapter
    # the name only words the error message, which is never raised for a good client
    "engines.workers.check_client:name": {"any"},
    # a loose pin to a worker that is not there runs elsewhere, by design (Dask's
    # allow_other_workers); checking it would cost a scheduler round trip per task
    "engines.workers.submit_on:worker": {"unknown"},
    "engines.progress.StepsBar:total": {"zero"},
})

#: Arguments a function changes in place on success, as its docstring says.
IN_PLACE = {"concepts.zero.adam_step": {"states"}}

# The model-splitting applications, the capstone, the projection and the bench.
SKIP.update({
    "cli.bench.run": "a full benchmark run (minutes, starts clusters and torch): its checks: "
                     "tests/test_bad_input_regressions.py",
    "apps.torch_zero.zero_adam_job": "a rank's job: runs only inside a torch process group",
    "apps.torch_zero.run": "spawns PyTorch processes (tests/test_torch_zero.py); its checks: "
                           "tests/test_bad_input_regressions.py",
    "apps.capstone.run_capstone": "kills a worker of the shared cluster and trains (a minute; "
                                  "tests/test_capstone.py); its checks: "
                                  "tests/test_bad_input_regressions.py",
    "apps.capstone_exercise.check_capstone": "runs the capstone, a worker killed (a minute); "
                                             "its answers: tests/test_capstone.py",
    "concepts.projection.table": "takes its Steps as *steps, which a walk by keyword cannot "
                                 "pass; its checks: tests/test_bad_input_regressions.py",
})

RESULTS |= {"cli.bench.report.Report", "apps.capstone.CapstoneReport",
            "concepts.projection.Step"}

ACCEPTED.update({
    # no hidden layer is a valid MLP: softmax regression on the pixels
    "apps.mlp.MLPTraining:hidden": {"empty"}, "apps.mlp.layer_shapes:hidden": {"empty"},
    "apps.mlp.init_layers:hidden": {"empty"},
    "cli.bench.report.markdown_table:frame": {"empty"},     # an empty table is a table
    "apps.capstone_exercise.table:reports": {"empty"},      # no reports: an empty table
})

IN_PLACE.update({"apps.mlp.adam": {"w", "m", "v"}})

#: Bad-value kinds that are wrong wherever they are accepted unless ACCEPTED says so;
#: "zero" and "huge" (10**12, within the timeout) are fine by default.
NONSENSE = {"None", "type", "nan", "inf", "-inf", "negative", "fraction", "bool", "empty",
            "unknown", "element", "closed", "address", "ndim", "nan-array"}


# -- the walk ----------------------------------------------------------------------------------

#: Bytes of address space the walk's process may add to what it holds: a bad size that
#: slips through then raises MemoryError (a leaked internal the walk reports) instead of
#: exhausting the machine. The forked processes that walk the pure callables get less.
ADDRESS_SPACE = 6 * 2**30
CHILD_ADDRESS_SPACE = 3 * 2**30


def _limit_address_space(extra: int) -> tuple[int, int]:
    """Allow this process ``extra`` more bytes of address space; the old limits."""
    import resource
    old = resource.getrlimit(resource.RLIMIT_AS)
    held = int(open(f"/proc/{os.getpid()}/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    limit = held + extra
    if old[1] != resource.RLIM_INFINITY:
        limit = min(limit, old[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, old[1]))
    return old


@pytest.fixture(scope="module", autouse=True)
def bounded_memory():
    import resource
    old = _limit_address_space(ADDRESS_SPACE)
    yield
    resource.setrlimit(resource.RLIMIT_AS, old)


def public_callables() -> dict[str, Callable]:
    """name -> callable, for every public function and class defined in the layers."""
    found = {}
    for layer in LAYERS:
        package = importlib.import_module(layer)
        modules = [layer] + [info.name for info in
                             pkgutil.walk_packages(package.__path__, layer + ".")]
        for name in modules:
            if any(name == n or name.startswith(n + ".") for n in NOT_YET) \
                    or name.rsplit(".", 1)[1].startswith("_"):
                continue
            module = importlib.import_module(name)
            names = getattr(module, "__all__", None)
            if names is None:
                names = [n for n in vars(module) if not n.startswith("_")]
            for n in names:
                obj = getattr(module, n)
                defined_here = getattr(obj, "__module__", None) == name
                if defined_here and (inspect.isfunction(obj) or inspect.isclass(obj)
                                     or (callable(obj) and hasattr(obj, "__wrapped__"))):
                    found[f"{name[len('distlab.'):]}.{n}"] = obj
    return found


CALLABLES = public_callables()


def bad_values(valid, default_is_none: bool, client=None, closed=None) -> list[tuple[str, object]]:
    """(kind, value) pairs to try in place of ``valid``, by its type."""
    from distributed import Client

    none = [] if default_is_none else [("None", None)]
    if isinstance(valid, Client):
        return none + [("address", "tcp://127.0.0.1:1"), ("closed", closed)]
    if isinstance(valid, bool):
        return none + [("type", 1), ("type", "yes")]
    if isinstance(valid, (int, np.integer)):
        return none + [("type", "3"), ("fraction", 2.5), ("bool", True), ("nan", math.nan),
                       ("negative", -1), ("zero", 0), ("huge", 10**12)]
    if isinstance(valid, (float, np.floating)):
        return none + [("type", "3"), ("bool", True), ("nan", math.nan), ("inf", math.inf),
                       ("-inf", -math.inf), ("negative", -1.0), ("zero", 0.0)]
    if isinstance(valid, str):
        return none + [("type", 5), ("empty", ""), ("unknown", "no-such-name")]
    if isinstance(valid, np.ndarray):
        empty = np.zeros((0,) + valid.shape[1:], valid.dtype)
        out = none + [("type", "abc"), ("empty", empty),
                       ("ndim", np.zeros((2,) * (valid.ndim + 1)))]
        if valid.dtype.kind == "f":
            out.append(("nan-array", np.full(valid.shape, np.nan)))
        return out
    if isinstance(valid, pd.DataFrame):
        return none + [("type", 5), ("empty", pd.DataFrame())]
    if isinstance(valid, dict):
        return none + [("type", 5), ("empty", {})]
    if isinstance(valid, (list, tuple, range)):
        return none + [("type", 5), ("type", "abc"), ("empty", type(valid)() if not
                                                       isinstance(valid, range) else []),
                       ("element", [None])]
    if callable(valid) and not dataclasses.is_dataclass(valid):
        return none + [("type", 5)]
    return none + [("type", 5), ("type", "x")]


def _raise_in(thread: threading.Thread) -> None:
    """Stop a runaway call: raise SystemExit inside its thread (at its next bytecode)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                               ctypes.py_object(SystemExit))


def call_within(func, kwargs, timeout=TIMEOUT):
    """("ok", value) | ("raised", exception) | ("hang", None)."""
    box = {}

    def target():
        try:
            box["out"] = ("ok", func(**kwargs))
        except BaseException as exc:          # noqa: BLE001 - everything is reported
            box["out"] = ("raised", exc)
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        _raise_in(thread)
        thread.join(5)
        return "hang", None
    return box["out"]


def same(a, b) -> bool:
    """Deep equality for what the examples pass: arrays, frames, containers, NaN == NaN."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and \
            a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=
                                                                       a.dtype.kind in "fc")
    if isinstance(a, (pd.DataFrame, pd.Series)):
        return type(a) is type(b) and a.equals(b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return type(a) is type(b) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if hasattr(a, "key") and type(a).__name__ == "Future":
        return getattr(b, "key", None) == a.key
    if type(a).__eq__ is object.__eq__:       # no value to compare: a copy is never equal
        return type(a) is type(b)
    try:
        return bool(a == b)
    except Exception:                         # noqa: BLE001 - incomparable: trust identity
        return a is b


def names_argument(message: str, parameter: str) -> bool:
    if parameter == "client" and "client" in message:
        return True
    return re.search(rf"(?<![\w]){re.escape(parameter)}(?![\w])", message) is not None


class Walk:
    """The outcome of every call, by callable: lists of (parameter, kind, verdict, detail)."""

    def __init__(self):
        self.cases: dict[str, list] = {}
        self.valid_failed: dict[str, str] = {}

    def table(self) -> str:
        tally = Counter(v for cases in self.cases.values() for _, _, v, _ in cases)
        errors = tally["named"] + tally["not named"]
        share = tally["not named"] / errors if errors else 0.0
        return (f"| callables | calls | named | unnamed | bad | accepted as valid |\n"
                f"|---|---|---|---|---|---|\n| {len(self.cases):,} | "
                f"{sum(tally.values()):,} | {tally['named']:,} | {tally['not named']:,} | "
                f"{tally['bad']:,} | {tally['accepted']:,} |\n"
                f"unnamed: {share:.1%} of the errors (must stay under 5 %)")

    def listing(self, verdict: str) -> str:
        return "\n".join(f"  {name}({p}={kind}): {detail}"
                         for name, cases in sorted(self.cases.items())
                         for p, kind, v, detail in cases if v == verdict)


WALK = Walk()


def _resolve(value, client):
    if value is CLIENT:
        return client
    if isinstance(value, FromClient):
        return value.build(client)
    if isinstance(value, Make):
        return value.build()
    return value


def _example(name, client):
    """The valid keyword arguments of ``name``, built; a few depend on the cluster."""
    kwargs = {k: _resolve(v, client) for k, v in EXAMPLES[name].items()}
    if name == "present.exercise_solutions.average":
        kwargs["futures"] = [client.submit(float, v, pure=False) for v in (1, 2, 3)]
    return kwargs


def _accepted(name: str, parameter: str, kind: str) -> bool:
    allowed = ACCEPTED.get(f"{name}:{parameter}", ACCEPTED.get(parameter, set()))
    return kind in allowed or "any" in allowed or kind not in NONSENSE


def _cases(name: str, client=None, closed=None) -> list[tuple[str, str, object]]:
    """Every (parameter, kind, bad value) the walk tries for ``name``, in order."""
    if name in RESULTS or name in NOT_CHECKED:
        return []
    try:
        parameters = inspect.signature(CALLABLES[name]).parameters.values()
    except ValueError:                        # an exception class: nothing to walk
        return []
    example = _example(name, client)
    out = []
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        valid = example.get(parameter.name, parameter.default)
        if valid is inspect.Parameter.empty:
            continue
        annotation = str(parameter.annotation)
        default_is_none = parameter.default is None or "None" in annotation
        if valid is None:                     # optional: its kind from its annotation
            valid = next((v for kind, v in (("float", 1.0), ("int", 1), ("str", "x"))
                          if annotation.startswith(kind)), None)
        if isinstance(valid, int) and not isinstance(valid, bool) and \
                annotation.startswith("float"):
            valid = float(valid)              # a float parameter whose example is whole
        out += [(parameter.name, kind, bad)
                for kind, bad in bad_values(valid, default_is_none, client, closed)]
    return out


def _judge(name, parameter, kind, bad, client=None) -> tuple[str, str, str, str]:
    """Call ``name`` with ``parameter=bad`` (the rest valid): (parameter, kind, verdict,
    detail), the verdict one of "named", "not named", "accepted", "bad"."""
    kwargs = _example(name, client)
    kwargs[parameter] = bad
    keep = {k: v for k, v in kwargs.items() if isinstance(v, (np.ndarray, list, dict))}
    before = copy.deepcopy(keep)
    status, out = _closed(name, *call_within(CALLABLES[name], kwargs))
    touched = [k for k in keep if not same(before[k], keep[k])
               and (status != "ok" or k not in IN_PLACE.get(name, ()))]
    if touched:
        return parameter, kind, "bad", f"modified {touched}"
    if status == "hang":
        return parameter, kind, "bad", f"no answer in {TIMEOUT:g} s"
    if status == "ok":
        verdict = "accepted" if _accepted(name, parameter, kind) else "bad"
        return parameter, kind, verdict, "accepted: silent nonsense"
    if isinstance(out, (ValueError, TypeError)):
        verdict = "named" if names_argument(str(out), parameter) else "not named"
        return parameter, kind, verdict, f"{type(out).__name__}: {str(out)[:120]}"
    if name in COMMAND_LINE and isinstance(out, SystemExit) and out.code == 2:
        # argparse printed the usage and the option it refused, as on the shell
        return parameter, kind, "not named", "SystemExit(2): argparse's usage error"
    return parameter, kind, "bad", f"{type(out).__name__}: {str(out)[:120]}"


#: Callables that return a new client: the walk closes it at once and keeps none.
NEW_CLIENT = {"engines.cluster.connect"}


def _closed(name, status, out):
    if status == "ok" and name in NEW_CLIENT:
        out.close()
    return status, out


def _valid_call(name, client=None) -> str | None:
    status, out = _closed(name, *call_within(CALLABLES[name], _example(name, client),
                                       VALID_TIMEOUT.get(name, TIMEOUT)))
    return None if status == "ok" else f"{status}: {type(out).__name__}: {out}"[:300]


#: Entry points of the command line: a bad command or option ends them with argparse's
#: usage error (SystemExit(2)), as on the shell.
COMMAND_LINE = {"cli.main"}


def _child(name: str, first: int, pipe) -> None:
    """In a forked process: the valid call, then the cases from ``first`` on, one message
    each; a hang ends the process (its runaway thread with it)."""
    _limit_address_space(CHILD_ADDRESS_SPACE)
    if first == 0:
        pipe.send(("valid", _valid_call(name)))
    for i, (parameter, kind, bad) in enumerate(_cases(name)):
        if i >= first:
            verdict = _judge(name, parameter, kind, bad)
            pipe.send(("case", i, verdict))
            if verdict[3].startswith("no answer"):
                os._exit(0)
    pipe.send(("done",))
    pipe.close()
    os._exit(0)


def _walk_forked(name: str) -> tuple[str | None, list]:
    """Walk a callable that needs no cluster in forked processes: one that runs away,
    exhausts its memory or crashes is killed, recorded as bad, and the walk goes on."""
    import multiprocessing
    context = multiprocessing.get_context("fork")
    total = len(_cases(name))
    valid, cases, first = ..., [None] * total, 0     # ...: no answer yet
    while True:
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_child, args=(name, first, send))
        child.start()
        send.close()
        current, finished = first, False
        while True:
            if not receive.poll(max(TIMEOUT, VALID_TIMEOUT.get(name, 0)) + 20):
                break
            try:
                message = receive.recv()
            except EOFError:
                break
            if message[0] == "valid":
                valid = message[1]
                if valid is not None:
                    child.kill()
                    return valid, []
            elif message[0] == "case":
                cases[message[1]] = message[2]
                current = message[1] + 1
            else:
                finished = True
                break
        child.kill()
        child.join(5)
        if valid is ...:
            return f"the process died during the valid call (exit code {child.exitcode})", []
        if finished or current >= total:
            break
        hung = current > first and cases[current - 1][3].startswith("no answer")
        if not hung:
            parameter, kind, _ = _cases(name)[current]     # the process died on this case
            cases[current] = (parameter, kind, "bad",
                              f"the process died or ran for more than {TIMEOUT + 20:g} s "
                              f"(exit code {child.exitcode})")
            current += 1
        first = current
    return valid, [c for c in cases if c is not None]


def walk_one(name: str, client=None, closed=None) -> list:
    if name in WALK.cases:
        return WALK.cases[name]
    if name in NEEDS_CLIENT:
        valid = _valid_call(name, client)
        cases = [] if valid else [_judge(name, p, k, bad, client)
                                  for p, k, bad in _cases(name, client, closed)]
    else:
        valid, cases = _walk_forked(name)
    if valid is not None:
        WALK.valid_failed[name] = valid
    WALK.cases[name] = cases
    return cases


NEEDS_CLIENT = {n for n, kwargs in EXAMPLES.items() if CLIENT in kwargs.values()
                or any(isinstance(v, FromClient) for v in kwargs.values())} | {
    "present.exercise_cluster_checks.check_average",     # the default client
    "present.exercise_cluster_checks.check_ddp_step",
    # walked in this process, not a forked one: a tqdm bar in a child forked while another
    # thread held tqdm's lock waits for ever
    "engines.progress.StepsBar"}


@pytest.fixture(scope="module")
def closed(client):
    """A second client of the same cluster, closed: a cell re-run after the last one."""
    from distributed import Client
    other = Client(client.scheduler.address, set_as_default=False)
    other.close()
    return other


@pytest.fixture
def cluster(request):
    """(client, closed client) for the callables that need them, else (None, None)."""
    name = request.node.callspec.params["name"]
    if name not in NEEDS_CLIENT:
        return None, None
    return request.getfixturevalue("client"), request.getfixturevalue("closed")


def test_every_public_callable_has_an_example_or_a_reason():
    missing = sorted(set(CALLABLES) - set(EXAMPLES) - set(SKIP) - set(NOT_CHECKED))
    stale = sorted((set(EXAMPLES) | set(SKIP) | set(NOT_CHECKED)) - set(CALLABLES))
    assert not missing, f"add a valid call to EXAMPLES (or a reason to SKIP): {missing}"
    assert not stale, f"no longer public: drop from EXAMPLES / SKIP: {stale}"


WALKED = sorted(n for n in CALLABLES if n in EXAMPLES)


def test_the_top_level_names_are_walked():
    """``distlab.connect`` and the other top-level names are the very objects walked."""
    import distlab
    walked = [obj for name, obj in CALLABLES.items() if name in WALKED]
    for name in distlab.__all__:
        obj = getattr(distlab, name)
        if callable(obj):
            assert any(obj is w for w in walked), f"distlab.{name} is not walked"

#: How a docstring says what its function raises.
SAYS_WHAT_IT_RAISES = re.compile(r"Error|[Rr]aise|errors\s+as|error, which|raises nothing")


def test_every_public_function_says_what_it_raises():
    """Public means documented and checked: a docstring that lists the errors (or points
    to the function whose errors these are)."""
    silent = []
    for name, obj in CALLABLES.items():
        if name in RESULTS or name in NOT_CHECKED:
            continue
        try:
            if not inspect.signature(obj).parameters:
                continue                          # no argument, nothing to refuse
        except ValueError:
            continue
        if not SAYS_WHAT_IT_RAISES.search(inspect.getdoc(obj) or ""):
            silent.append(name)
    assert not silent, f"say in the docstring what these raise: {sorted(silent)}"


@pytest.mark.parametrize("name", WALKED)
def test_bad_arguments_are_refused_cleanly(name, cluster):
    cases = walk_one(name, *cluster)
    assert name not in WALK.valid_failed, f"the valid example failed: {WALK.valid_failed[name]}"
    bad = [c for c in cases if c[2] == "bad"]
    assert not bad, "\n".join(f"{name}({p}={k}): {d}" for p, k, _, d in bad)


def test_the_walk_finds_no_bad_case(request):
    for name in WALKED:
        cluster = (None, None)
        if name in NEEDS_CLIENT:
            cluster = (request.getfixturevalue("client"), request.getfixturevalue("closed"))
        walk_one(name, *cluster)
    report = (f"{WALK.table()}\n\nbad:\n{WALK.listing('bad')}\n\nnot naming the argument:\n"
              f"{WALK.listing('not named')}\n\nvalid examples that failed:\n" +
              "\n".join(f"  {k}: {v}" for k, v in WALK.valid_failed.items()))
    print(report)
    if os.environ.get("DISTLAB_WALK_DUMP"):
        import json
        with open(os.environ["DISTLAB_WALK_DUMP"], "w") as out:
            json.dump({"cases": WALK.cases, "valid_failed": WALK.valid_failed}, out, indent=0)
    tally = Counter(v for cases in WALK.cases.values() for _, _, v, _ in cases)
    errors = tally["named"] + tally["not named"]
    assert not WALK.valid_failed and tally["bad"] == 0, report
    assert tally["not named"] < 0.05 * errors, report


# -- hypothesis: random numbers into the pure concepts ----------------------------------------

NUMERIC = sorted((name, p) for name in WALKED if name.startswith("concepts.")
                 for p, v in EXAMPLES[name].items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool))
NUMBERS = st.one_of(st.integers(-10**4, 10**4), st.sampled_from([10**12, -10**12, 2**63]),
                    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
                    st.text(max_size=2))


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=st.sampled_from(NUMERIC), value=NUMBERS)
def test_random_numbers_are_accepted_or_refused_naming_the_argument(case, value):
    name, parameter = case
    kwargs = _example(name, None)
    kwargs[parameter] = value
    status, out = call_within(CALLABLES[name], kwargs)
    assert status != "hang", f"{name}({parameter}={value!r}) ran for more than {TIMEOUT} s"
    if status == "raised":
        assert isinstance(out, (ValueError, TypeError)), \
            f"{name}({parameter}={value!r}) leaked {type(out).__name__}: {out}"
        assert names_argument(str(out), parameter), f"{name}({parameter}={value!r}): {out}"
