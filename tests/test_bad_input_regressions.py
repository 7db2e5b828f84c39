"""Issue 16: one regression test per kind of bad case the public-API walk
(tests/test_public_api.py) found in concepts, apps and present before they were fixed —
silent nonsense, a closed or missing client, a hang or a run-away size, a leaked internal.
Each case below returned nonsense, hung, or raised something else before; now it raises
the ValueError or TypeError named here, at once, naming the argument."""
import math

import numpy as np
import pandas as pd
import pytest
from conftest import within
from distributed import Client

from distlab.apps import faults, recsys, training, tuning
from distlab.apps.raft import RaftCluster, RaftWorkload
from distlab.concepts import (gossip, linearizability, memory, partitioning, pipeline,
                              scaling, sizing, task_overhead, tensor_parallel, zero)
from distlab.present import collective_views


JOB = tuning.Job(rows=8, inputs=4, features=16)
NAN_MATRIX = np.full((2, 4), np.nan)

SILENT_NONSENSE = [
    (lambda: pipeline.Step(0, 0, "X"), ValueError, "kind must be one of 'F', 'B'"),
    (lambda: pipeline.Step(0.5, 0, "F"), TypeError, "stage must be an int"),
    (lambda: sizing.Model("m", math.nan, 1e9, "paper"), ValueError, "parameters must be finite"),
    (lambda: sizing.Accelerator("chip", -1, 300, "datasheet"), ValueError,
     "memory_gb must be > 0"),
    (lambda: scaling.amdahl(0.9, True), TypeError, "p must be"),
    (lambda: linearizability.Op("A", "write", 1, -1.0, 1.0), ValueError, "invoke must be ≥ 0"),
    (lambda: gossip.disagreement(np.full((3, 2), np.nan), np.ones(2)), ValueError,
     "buffers must be finite"),
    (lambda: tensor_parallel.forward(NAN_MATRIX, np.ones((4, 8)), np.ones((8, 4))),
     ValueError, "x must be finite"),
    (lambda: tuning.check_config(tuning.Config(1, 4, "none"), JOB, None), TypeError,
     "n_workers must be an int"),
    (lambda: recsys.route([0, 1, 5], 2, hot=None), TypeError, "hot must be a list"),
    (lambda: memory.per_device(7.5e9, dp=None), TypeError, "dp must be an int"),
]

RUN_AWAY = [
    (lambda: pipeline.gpipe(2, 10**12), ValueError, "micro_batches must be ≤"),
    (lambda: pipeline.one_f_one_b(10**12, 2), ValueError, "stages must be ≤"),
    (lambda: memory.per_device(7.5e9, pp=10**12), ValueError, "pp must be ≤"),
    (lambda: memory.configurations(memory.shape("GPT-3 175B"), 10**12), ValueError,
     "devices must be ≤"),
    (lambda: partitioning.alternating_durations(10**12), ValueError, "tasks must be ≤"),
    (lambda: tuning.candidates(JOB, 10**12), ValueError, "n_workers must be ≤"),
    (lambda: tuning.make_rows(JOB, 0, 10**12), ValueError, "stop must be ≤"),
    (lambda: collective_views.gossip_table([4], seeds=10**12), ValueError, "seeds must be ≤"),
]

LEAKED_INTERNALS = [
    (lambda: training.batch_rows(100, 0, 0, 0, 0), ValueError, "batch must be ≥ 1"),
    (lambda: tuning.partition_sizes(8, 0), ValueError, "workers must be ≥ 1"),
    (lambda: tuning.predict_table(JOB, -1), ValueError, "n_workers must be ≥ 1"),
    (lambda: tuning.predict_seconds(None, JOB, tuning.REFERENCE), TypeError,
     "config must be a tuning.Config"),
    (lambda: RaftCluster(None, RaftWorkload(), 0), TypeError, "config must be a RaftConfig"),
    (lambda: partitioning.skewed_durations(10**12), ValueError, "n must be ≤"),
    (lambda: task_overhead.fit_overhead(pd.DataFrame(), 2), ValueError,
     "measurements must have the columns"),
    (lambda: collective_views.projection(n_params=math.inf), ValueError,
     "n_params must be finite"),
    (lambda: collective_views.cost_table(4, 1e6, algorithms=[]), ValueError,
     "algorithms must hold at least one"),
    (lambda: collective_views.rounds_to(pd.DataFrame(), 0.1), TypeError,
     "curve must be a DataFrame from convergence"),
    (lambda: zero.shard(np.arange(8.0), 10**12, 1), ValueError, "ranks must be ≤"),
]


@pytest.mark.parametrize("call, error, match", SILENT_NONSENSE + RUN_AWAY + LEAKED_INTERNALS)
def test_bad_input_is_refused_at_once_naming_the_argument(call, error, match):
    with within(10), pytest.raises(error, match=match):
        call()


def test_a_failed_adam_step_leaves_the_states_as_they_were():
    states = zero.shard(np.arange(8.0), 2, 1)
    before = [s.master.copy() for s in states]
    with pytest.raises(ValueError, match="gradients must be finite"):
        zero.adam_step(states, np.full((2, 8), np.nan), step=1)
    assert all(np.array_equal(s.master, b) for s, b in zip(states, before))


# -- a closed, missing or wrong client ------------------------------------------------------

@pytest.fixture(scope="module")
def closed(client):
    """A second client of the same cluster, closed: a cell re-run after the last one."""
    other = Client(client.scheduler.address, set_as_default=False)
    other.close()
    return other


CLIENT_CALLS = {
    "train single": lambda c: training.train("single", c, rounds=1),
    "Placement": lambda c: training.Placement(c, (), ()),
}


@pytest.mark.parametrize("name", list(CLIENT_CALLS))
def test_a_closed_client_says_so(closed, name):
    with within(10), pytest.raises(ValueError, match=r"the client is closed: run "
                                                    r"`distlab.connect\(\)` again"):
        CLIENT_CALLS[name](closed)


@pytest.mark.parametrize("wrong", [None, "tcp://127.0.0.1:8786"])
def test_a_missing_or_wrong_client_is_a_type_error(wrong):
    with within(10), pytest.raises(TypeError, match="client must be a distributed.Client"):
        training.Placement(wrong, (), ())
    with within(10), pytest.raises(TypeError, match="client must be a distributed.Client"):
        training.train("single", "tcp://127.0.0.1:8786", rounds=1)


def test_work_that_would_run_away_on_the_cluster_is_refused_before_any_task(client):
    with within(10), pytest.raises(ValueError, match="tasks must be ≤"):
        faults.survive_worker_loss(client, tasks=10**12)
    with within(10), pytest.raises(ValueError, match="darts must be ≤"):
        faults.survive_worker_loss(client, tasks=2, darts=10**12)
    with within(10), pytest.raises(TypeError, match="tasks must be an int"):
        tuning.probe(client, JOB, tasks=True)


# -- the engines, the collectives' plans and kernel, the command line -------------------------
# (the second pass of the walk: tests/test_public_api.py now walks these too)

def _plan_with_a_stray_node():
    from distlab.concepts.plans import Plan, Round, Transfer
    return Plan("mine", 2, 1, (Round((Transfer(0, 5, (0, 1)),)),))


def _engines_silent_nonsense():
    from distlab.concepts import plans
    from distlab.concepts.kernel import run_plan
    from distlab.engines.cluster import connect
    from distlab.engines.inputs import working_dtype
    return [
        (lambda: plans.Transfer(0, 1, (1, 0)), ValueError, r"chunk must be \(lo, hi\)"),
        (lambda: plans.Transfer(0, 1, (0, 1), "add"), ValueError, "op must be one of"),
        (lambda: plans.Transfer(0.5, 1, (0, 1)), TypeError, "src must be an int"),
        (lambda: plans.Round([plans.Transfer(0, 1, (0, 1))]), TypeError,
         "transfers must be a tuple of Transfer"),
        (_plan_with_a_stray_node, ValueError, "rounds: round 1 has 0→5"),
        (lambda: plans.Plan("mine", 2, 1, (), exact=1), TypeError, "exact must be True or False"),
        (lambda: working_dtype([]), ValueError, "dtypes must hold at least one"),
        (lambda: run_plan(plans.ring(2), [np.ones(2), np.ones(2)], None), TypeError,
         "dtype must be a numpy float dtype"),
        (lambda: run_plan(plans.ring(2), [np.ones(2), np.full(2, np.nan)], np.float64),
         ValueError, r"buffers\[1\] must be finite"),
        # an empty address used to start an embedded cluster instead
        (lambda: connect(""), ValueError, "address must name a scheduler"),
        (lambda: connect("tcp://127.0.0.1:8786", memory_limit="5"), ValueError,
         "memory_limit must be a size of at least 64 MiB"),
    ]


def _engines_run_away():
    from distlab.engines.algorithms import make_plan
    from distlab.engines.allreduce import allreduce
    return [
        (lambda: make_plan("ring", 10**12), ValueError, r"n_nodes must be ≤ 512 \(plans.MAX_NODES"),
        (lambda: make_plan("gossip_ring", 10**12), ValueError, "n_nodes must be ≤ 512"),
        (lambda: allreduce([1.0] * 513), ValueError, "values must hold at most 512"),
    ]


def _engines_leaked_internals():
    from distlab.cli import cluster as lab_cluster
    from distlab.cli import main
    from distlab.cli.notebooks import chapters, execute
    from distlab.engines import torch_gloo
    from distlab.engines.tasks import critical_path
    from distlab.engines.torch_ranks import free_port
    return [
        (lambda: free_port("no-such-name"), ValueError, "host must be an address"),
        (lambda: torch_gloo.run_ranks([None]), TypeError, "jobs: a job must be"),
        (lambda: torch_gloo.run_ranks("no-such-job"), ValueError, "jobs names an unknown job"),
        (lambda: torch_gloo.run_ranks("allreduce_mean", progress=1), TypeError,
         "progress must be True or False"),
        (lambda: main(5), TypeError, "argv must be a list"),
        (lambda: main(["memory", 7]), TypeError, r"argv\[1\] must be a string"),
        (lambda: chapters(folder=5), TypeError, "folder must be a path"),
        (lambda: chapters(folder="no-such-folder"), ValueError, "folder must be a directory"),
        (lambda: execute(5), TypeError, "path must be a notebook's path"),
        (lambda: lab_cluster.up(port=0), ValueError, "port must be ≥ 1"),
        (lambda: lab_cluster.up(workers=10**12), ValueError, "workers must be ≤ 64"),
        (lambda: lab_cluster.run("jupyter lab"), TypeError, "command must be a list"),
        (lambda: lab_cluster.state_folder("8786"), TypeError, "port must be an int"),
        (lambda: critical_path(None), TypeError, "plan must be a distlab.concepts.plans.Plan"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_engine_and_plan_nonsense_is_refused(case):
    call, error, match = _engines_silent_nonsense()[case]
    with within(10), pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("case", range(3))
def test_engine_sizes_that_would_run_away_are_refused_with_the_limit(case):
    call, error, match = _engines_run_away()[case]
    with within(10), pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("case", range(14))
def test_engine_and_command_line_internals_do_not_leak(case):
    call, error, match = _engines_leaked_internals()[case]
    with within(10), pytest.raises(error, match=match):
        call()


def test_the_case_lists_are_all_run():
    assert (len(_engines_silent_nonsense()), len(_engines_run_away()),
            len(_engines_leaked_internals())) == (11, 3, 14)


ENGINE_CLIENT_CALLS = {
    "describe": lambda c: __import__("distlab").describe(c),
    "is_embedded": lambda c: __import__("distlab.engines.cluster").engines.cluster.is_embedded(c),
    "wait_for_workers": lambda c: __import__("distlab.engines.workers").engines.workers
    .wait_for_workers(c, 2),
    "worker_addresses": lambda c: __import__("distlab.engines.workers").engines.workers
    .worker_addresses(c),
    "Tasks": lambda c: __import__("distlab.engines.tasks").engines.tasks.Tasks(c),
    "ping_pong": lambda c: __import__("distlab.engines.calibrate_tasks").engines
    .calibrate_tasks.ping_pong(c),
    "ping_pong_direct": lambda c: __import__("distlab.engines.calibrate").engines.calibrate
    .ping_pong_direct(c),
    "allreduce": lambda c: __import__("distlab").allreduce([1.0, 2.0], "ring", c),
    "run_ranks": lambda c: __import__("distlab").run_ranks(c, print),
    "worker_mismatches": lambda c: __import__("distlab.cli.doctor").cli.doctor
    .worker_mismatches(c),
}


@pytest.mark.parametrize("name", list(ENGINE_CLIENT_CALLS))
def test_engines_say_the_client_is_closed(closed, name):
    with within(10), pytest.raises(ValueError, match=r"the client is closed: run "
                                                    r"`distlab.connect\(\)` again"):
        ENGINE_CLIENT_CALLS[name](closed)


@pytest.mark.parametrize("wrong, name", [
    (wrong, name) for wrong in (None, "tcp://127.0.0.1:8786") for name in ENGINE_CLIENT_CALLS
    if not (wrong is None and name == "allreduce")])      # no client: the simulator
def test_engines_refuse_a_missing_or_wrong_client(wrong, name):
    with within(10), pytest.raises(TypeError, match="client must be a distributed.Client"):
        ENGINE_CLIENT_CALLS[name](wrong)


def test_engine_work_that_would_run_away_is_refused_before_any_task(client):
    from distlab.engines.calibrate import ping_pong_direct
    from distlab.engines.calibrate_tasks import ping_pong
    from distlab.engines.workers import wait_for_workers, worker_addresses
    with within(10), pytest.raises(ValueError, match="hops must be ≤ 1,000"):
        ping_pong(client, hops=10**12)
    with within(10), pytest.raises(ValueError, match="hops must be ≤ 1,000"):
        ping_pong_direct(client, hops=10**12)
    with within(10), pytest.raises(ValueError, match=r"sizes\[1\] must be ≤"):
        ping_pong_direct(client, sizes=[8, 10**12])
    with within(10), pytest.raises(ValueError, match="n must be ≤ 4,096"):
        wait_for_workers(client, 10**12)
    with within(10), pytest.raises(ValueError, match="at_least must be ≤ 4,096"):
        worker_addresses(client, at_least=10**12)


# -- model splitting, the capstone, the projection and the bench (the walk's last modules) --

def _split_cases():
    from distlab.apps import mlp, pipeline_ranks, tensor_ranks, torch_zero, zero_ranks
    from distlab.cli import bench
    from distlab.concepts import projection
    step = projection.project(memory.shape("GPT-3 175B"), dp=8, tp=8, pp=8)
    return [
        # silent nonsense
        (lambda: projection.project(memory.shape("GPT-3 175B"), dp=None), TypeError, "dp"),
        (lambda: mlp.forward_layer(np.ones((65, 8)), np.ones((0, 65)), False), ValueError,
         "a must not be empty"),
        (lambda: mlp.adam(np.full(4, np.nan), np.zeros(4), np.zeros(4), np.ones(4), 1, 0.01),
         ValueError, "w must be finite"),
        (lambda: projection.table(), ValueError, "steps must be one or more"),
        (lambda: projection.table(step, decimals=2.5), TypeError, "decimals"),
        (lambda: tensor_ranks.inputs(tokens=True), TypeError, "tokens"),
        # sizes that would run away, refused with the limit named
        (lambda: mlp.MLPTraining(steps=10**12), ValueError, "steps must be ≤ 100,000"),
        (lambda: mlp.MLPTraining(hidden=(10**12,)), ValueError, r"hidden\[0\] must be ≤ 4,096"),
        (lambda: mlp.MLPTraining(batch=10**12), ValueError, "batch must be ≤ 1,797"),
        (lambda: tensor_ranks.inputs(tokens=10**12), ValueError, "tokens must be ≤ 4,096"),
        (lambda: pipeline_ranks.PipelineSettings(layers=10**12), ValueError,
         "layers must be ≤ 64"),
        (lambda: pipeline_ranks.PipelineSettings(layers=64, width=4096), ValueError,
         r"layers × width² must be ≤ 134,217,728"),
        (lambda: zero_ranks.reference(10**12), ValueError, "ranks must be ≤ 64"),
        (lambda: projection.table(step, decimals=10**12), ValueError, "decimals must be ≤ 17"),
        # the skipped entries' checks (they start processes or clusters when called validly)
        (lambda: torch_zero.run({}), TypeError, "settings must be an MLPTraining"),
        (lambda: torch_zero.run(world_size=10**12), ValueError, "world_size must be ≤ 16"),
        (lambda: torch_zero.run(timeout=0), ValueError, "timeout"),
        (lambda: bench.run(quick="yes"), TypeError, "quick must be True or False"),
        (lambda: bench.run(out=5), TypeError, "out must be a folder path"),
        (lambda: bench.run(with_book=1), TypeError, "with_book must be True or False"),
    ]


@pytest.mark.parametrize("case", range(20))
def test_model_splitting_bench_and_projection_refuse_bad_input(case):
    call, error, match = _split_cases()[case]
    with within(10), pytest.raises(error, match=match):
        call()


def test_the_split_case_list_is_all_run():
    assert len(_split_cases()) == 20


SPLIT_CLIENT_CALLS = {
    "DirectNaive": lambda c: __import__("distlab.engines.direct").engines.direct.DirectNaive(c),
    "DirectFast": lambda c: __import__("distlab.engines.direct_fast_call").engines
    .direct_fast_call.DirectFast(c),
    "message_counts": lambda c: __import__("distlab.engines.direct_fast_call").engines
    .direct_fast_call.message_counts(c),
    "zero_ranks.run": lambda c: __import__("distlab.apps.zero_ranks").apps.zero_ranks.run(
        c, workers=["tcp://127.0.0.1:1"]),
    "tensor_ranks.run": lambda c: __import__("distlab.apps.tensor_ranks").apps.tensor_ranks
    .run(c, *__import__("distlab.apps.tensor_ranks").apps.tensor_ranks.inputs(4, 8)),
    "pipeline_ranks.run": lambda c: __import__("distlab.apps.pipeline_ranks").apps
    .pipeline_ranks.run(c),
    "run_capstone": lambda c: __import__("distlab.apps.capstone").apps.capstone.run_capstone(
        c, __import__("distlab.apps.capstone").apps.capstone.CapstonePlan()),
}


@pytest.mark.parametrize("name", list(SPLIT_CLIENT_CALLS))
def test_split_apps_and_direct_engines_say_the_client_is_closed(closed, name):
    with within(10), pytest.raises(ValueError, match=r"the client is closed: run "
                                                    r"`distlab.connect\(\)` again"):
        SPLIT_CLIENT_CALLS[name](closed)


@pytest.mark.parametrize("wrong, name", [(wrong, name) for wrong in (None, "tcp://127.0.0.1:8786")
                                         for name in SPLIT_CLIENT_CALLS])
def test_split_apps_and_direct_engines_refuse_a_missing_or_wrong_client(wrong, name):
    with within(10), pytest.raises(TypeError, match="client must be a distributed.Client"):
        SPLIT_CLIENT_CALLS[name](wrong)


def test_the_capstone_refuses_a_bad_plan_before_any_kill(client):
    from distlab.apps.capstone import CapstonePlan, run_capstone
    workers = sorted(client.nthreads())
    with within(10), pytest.raises(TypeError, match="plan must be a CapstonePlan"):
        run_capstone(client, {"strategy": "local"})
    with within(10), pytest.raises(TypeError, match="task must be a CapstoneTask"):
        run_capstone(client, CapstonePlan(), task=0.96)
    with within(10), pytest.raises(ValueError, match="batch must be ≤"):
        run_capstone(client, CapstonePlan("local", rounds=3, batch=400))
    assert sorted(client.nthreads()) == workers          # nobody was killed
