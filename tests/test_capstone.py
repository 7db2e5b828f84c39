"""The capstone: the task as data, its reference plan passing on a real cluster with a worker
killed, the plans that must fail (over the byte budget, no checkpoint, over before the
kill) failing for their reason, the exercise's checker, and bad input. Training is seeded,
so accuracies and engine-counted bytes are asserted exactly."""
from dataclasses import replace

import pytest

from distlab.apps import training
from distlab.apps.capstone import TASK, CapstonePlan, CapstoneTask, run_capstone
from distlab.apps.capstone_exercise import check_capstone, reference_plan

#: Test images (the accuracy is a count of them, out of 450).
TEST_ROWS = 450
#: Bytes node i sends in one ring all-reduce of the 65 × 10 float64 model on 4 nodes: its
#: chunks are 163, 163, 162, 162 values, 2(p − 1)/p = 3/2 of a chunk row each way.
RING = (7_800, 7_808, 7_800, 7_792)
#: The same for recursive doubling: 2 rounds of the whole model (5,200 bytes).
DOUBLING = 10_400


def times(rounds, per_node=RING):
    return tuple(rounds * b for b in per_node)


def correct(report):
    """The report's accuracy as the number of test images classified right."""
    count = report.accuracy * TEST_ROWS
    assert count == pytest.approx(round(count), abs=1e-9)
    return round(count)


# ---- the task and the plans, no cluster --------------------------------------------------

def test_the_task_is_data():
    assert (TASK.target_accuracy, TASK.byte_budget, TASK.kill_step, TASK.nodes,
            TASK.seed) == (0.96, 32_000, 40, 4, 0)
    with pytest.raises(AttributeError):
        TASK.byte_budget = 10**9                              # frozen


def test_the_reference_chooses_h_for_the_budget():
    plan = reference_plan(TASK)
    assert plan == CapstonePlan("local", rounds=3, local_steps=32, algorithm="ring",
                                checkpoint_every=1)
    # 4 all-reduces paid for: 3 rounds and the one the kill makes run again
    assert 4 * max(RING) <= TASK.byte_budget < 5 * max(RING)
    roomier = reference_plan(replace(TASK, byte_budget=60_000))     # 7 paid for
    assert (roomier.rounds, roomier.local_steps) == (6, 16)
    assert str(plan) == "local, 3 rounds × H = 32, lr 2.0, batch 64, ring, a checkpoint every round"


def test_a_plan_defaults_to_trainings_settings():
    assert CapstonePlan().rounds == training.DEFAULT_ROUNDS["sync"] == 40
    assert CapstonePlan("local").rounds == training.DEFAULT_ROUNDS["local"]
    assert CapstonePlan("sync").steps_per_round == 1
    assert CapstonePlan("local", local_steps=12).steps_per_round == 12


@pytest.mark.parametrize("make, error, message", [
    (lambda: CapstoneTask(target_accuracy=0), ValueError, "target_accuracy"),
    (lambda: CapstoneTask(target_accuracy=1.5), ValueError, "target_accuracy"),
    (lambda: CapstoneTask(byte_budget=0), ValueError, "byte_budget"),
    (lambda: CapstoneTask(byte_budget=1e5), TypeError, "byte_budget"),
    (lambda: CapstoneTask(kill_step=0), ValueError, "kill_step"),
    (lambda: CapstoneTask(nodes=1), ValueError, "nodes"),
    (lambda: CapstoneTask(seed=-1), ValueError, "seed"),
    (lambda: CapstonePlan("gossip"), ValueError, "strategy must be 'sync' or 'local'"),
    (lambda: CapstonePlan("single"), ValueError, "strategy"),
    (lambda: CapstonePlan(None), ValueError, "strategy"),
    (lambda: CapstonePlan(rounds=0), ValueError, "rounds"),
    (lambda: CapstonePlan(rounds=201), ValueError, "rounds"),
    (lambda: CapstonePlan(rounds=2.0), TypeError, "rounds"),
    (lambda: CapstonePlan(local_steps=0), ValueError, "local_steps"),
    (lambda: CapstonePlan(lr=0), ValueError, "lr"),
    (lambda: CapstonePlan(lr=float("nan")), ValueError, "lr"),
    (lambda: CapstonePlan(batch=0), ValueError, "batch"),
    (lambda: CapstonePlan(batch=True), TypeError, "batch"),
    (lambda: CapstonePlan(algorithm="gossip_ring"), ValueError, "algorithm"),
    (lambda: CapstonePlan(checkpoint_every=0), ValueError, "checkpoint_every"),
    (lambda: CapstonePlan("local", rounds=100, local_steps=21), ValueError,
     "rounds × local_steps"),
    (lambda: reference_plan("TASK"), TypeError, "task"),
    (lambda: reference_plan(CapstoneTask(byte_budget=15_000)), ValueError, "byte_budget"),
])
def test_bad_input_names_the_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_run_capstone_refuses_what_it_cannot_run():
    with pytest.raises(TypeError, match="client"):
        run_capstone(None, reference_plan())
    with pytest.raises(TypeError, match="client"):
        run_capstone("tcp://127.0.0.1:8786", reference_plan())


def test_the_checker_refuses_a_non_function_or_the_stub_before_it_needs_a_cluster():
    def my_plan(task):
        return NotImplemented
    assert check_capstone(my_plan) == (
        False, "my_plan returned NotImplemented: replace the stub's body with your code")
    for answer in (None, 42, "def plan(task): pass", reference_plan(TASK)):
        ok, message = check_capstone(answer)
        assert not ok and message.startswith("expected your function plan(task)")
    ok, message = check_capstone(lambda task: {"strategy": "local"})
    assert not ok and message == "plan(task) must return a CapstonePlan, got dict"
    with pytest.raises(ZeroDivisionError):                   # the learner's own error
        check_capstone(lambda task: 1 / 0)


def test_without_a_cluster_the_checker_says_so(monkeypatch):
    import distributed

    def no_client():
        raise ValueError("No clients found")
    monkeypatch.setattr(distributed, "default_client", no_client)
    assert check_capstone(reference_plan) == (
        False, "no cluster to run it on: connect first, client = distlab.connect()")


# ---- on the cluster ------------------------------------------------------------------------

def test_the_reference_passes_through_the_kill(client):
    report = run_capstone(client, reference_plan(TASK))
    assert report.passed and report.reasons == ()
    assert correct(report) == 433                                   # 96.22 %
    assert report.bytes_sent == times(4)                            # 31,232 at most
    assert (report.rounds, report.rounds_run, report.kill_round, report.restarts) == (3, 4, 2, 1)
    assert report.killed_worker in (0, 1) and report.finished and report.survived
    assert report.verdict == ("PASS: 96.22% ≥ 96.00%, 31,232 ≤ 32,000 bytes per node, "
                              "survived the kill after round 2")
    assert report.seconds < 20
    assert len(client.nthreads()) == 2                              # the cluster is whole again
    # the very model of the same plan run without a failure
    calm = training.train("local", client, rounds=3, local_steps=32, algorithm="ring")
    assert calm["accuracy"].iloc[-1] == report.accuracy
    assert calm["bytes"].iloc[-1] == 3 * sum(RING)                  # the plan's count agrees
    # the same kill, the same worker, the same report, run after run
    again = run_capstone(client, reference_plan(TASK))
    assert again == report


def test_synchronous_sgd_every_step_fails_on_bytes(client):
    plan = CapstonePlan("sync", rounds=42, lr=8.0)       # recursive doubling, checkpoint every 5
    report = run_capstone(client, plan)
    assert correct(report) == 433 and report.survived
    assert (report.kill_round, report.rounds_run) == (40, 47)       # rounds 36-40 run again
    assert report.bytes_sent == (47 * DOUBLING,) * 4                # 488,800: 15x the budget
    assert report.reasons == ("node 0 sent 488,800 bytes, over the budget of 32,000",)


def test_a_plan_without_checkpoints_does_not_survive(client):
    report = run_capstone(client, replace(reference_plan(TASK), checkpoint_every=None))
    assert not report.survived and not report.finished
    assert (report.rounds, report.rounds_run, report.restarts, report.kill_round) == (0, 2, 0, 2)
    assert report.bytes_sent == times(2)
    assert correct(report) == 44                     # the client holds only the zero model
    assert report.reasons == (
        "a worker died and the plan keeps no checkpoint: the run was lost (set checkpoint_every)",
        "test accuracy 9.78% is below the target 96.00%")
    assert len(client.nthreads()) == 2


def test_rare_checkpoints_pay_for_the_rounds_lost(client):
    report = run_capstone(client, replace(reference_plan(TASK), checkpoint_every=3))
    assert correct(report) == 433 and report.survived               # the same model ...
    assert report.rounds_run == 5 and report.bytes_sent == times(5)  # ... 2 rounds run again
    assert report.reasons == ("node 1 sent 39,040 bytes, over the budget of 32,000",)


def test_a_plan_over_before_the_kill_has_not_survived_it(client):
    report = run_capstone(client, CapstonePlan("local", rounds=1, local_steps=32,
                                               algorithm="ring"))
    assert report.kill_round is None and report.killed_worker is None
    assert report.finished and not report.survived and report.bytes_sent == RING
    assert report.reasons[0] == ("the run ended at step 32, before the kill at step 40: it "
                                 "must outlast a lost worker")


def test_a_batch_larger_than_a_shard_is_refused(client):
    with pytest.raises(ValueError, match="batch"):
        run_capstone(client, CapstonePlan("local", rounds=3, batch=400))
    with pytest.raises(TypeError, match="plan"):
        run_capstone(client, {"strategy": "local"})
    with pytest.raises(TypeError, match="task"):
        run_capstone(client, reference_plan(), task=0.96)


def test_the_checker_runs_the_learners_plan_on_the_cluster(client):
    assert check_capstone(reference_plan) == (
        True, "PASS: 96.22% ≥ 96.00%, 31,232 ≤ 32,000 bytes per node, survived the kill "
              "after round 2")
    ok, message = check_capstone(lambda task: replace(reference_plan(task), algorithm=
                                                      "recursive_doubling"))
    assert not ok and message == "FAIL: node 0 sent 41,600 bytes, over the budget of 32,000"
