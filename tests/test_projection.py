"""The projection of a training step: formulas against hand-computed small cases."""
import pytest

from distlab.concepts import memory, projection, zero
from distlab.concepts.memory import GB, Transformer
from distlab.concepts.projection import BOOK, Assumptions, naive_allreduce, project, table

TINY = Transformer("tiny", layers=4, hidden=8, heads=2, sequence=4, parameters=1000)
#: α = 1 s, β = 1 s per byte inside a node and 2 s per byte between nodes: easy sums.
SLOW = Assumptions(alpha=1.0, intra_node_bandwidth=1.0, inter_node_bandwidth=0.5)


def test_book_assumptions():
    assert BOOK.element_bytes == 2
    assert BOOK.link("intra").bandwidth == 300e9 and BOOK.link("inter").bandwidth == 25e9
    rows = BOOK.rows()
    assert rows["optimizer (bytes per parameter)"] == "mixed-precision adam (12)"
    assert rows["device memory (GB)"] == 80


def test_three_dimensional_step_by_hand():
    step = project(TINY, dp=2, tp=2, pp=2, zero_stage=3, micro_batches=3, assumptions=SLOW)
    # one micro-batch's activation: b·s·h·e = 1·4·8·2 = 64 bytes; stage 0 holds 2 layers
    # tensor: 4 all-reduces per layer and micro-batch = 24, each 2·(1/2)·64 = 64 bytes
    assert step.sent["tensor"] == 24 * 64
    assert step.seconds["tensor"] == 24 * 2 * (1 + 32 * 1)
    # pipeline, 2 stages: one message per micro-batch, α + 64·2
    assert step.sent["pipeline"] == 3 * 64
    assert step.seconds["pipeline"] == 3 * (1 + 64 * 2)
    # data: shard 1000/4 = 250 parameters = 500 bytes; one collective (1/2)·500 = 250 bytes
    # ZeRO-3: 3 reduce-scatters (one per micro-batch) + 1 gather, then 5 more gathers
    assert step.sent["data"] == 4 * 250 and step.sent["zero-3 gathers"] == 5 * 250
    assert step.seconds["data"] == 4 * (1 + 250 * 2)
    assert step.seconds["zero-3 gathers"] == 5 * (1 + 250 * 2)
    assert step.memory == memory.per_device(model=TINY, dp=2, tp=2, pp=2, zero_stage=3,
                                            micro_batches=3)


@pytest.mark.parametrize("stage", zero.STAGES)
def test_data_parallel_bytes_equal_zero_with_one_micro_batch(stage):
    step = project(TINY, dp=4, zero_stage=stage, micro_batches=1)
    assert step.sent["tensor"] == step.sent["pipeline"] == 0
    sent = step.sent["data"] + step.sent["zero-3 gathers"]
    assert sent == pytest.approx(zero.step_bytes(1000, 4, stage, element_bytes=2))


def test_gradient_accumulation_multiplies_what_stage_2_and_3_send():
    one = 3 / 4 * 1000 * 2
    assert project(TINY, dp=4, zero_stage=1, micro_batches=8).sent["data"] == 2 * one
    assert project(TINY, dp=4, zero_stage=2, micro_batches=8).sent["data"] == 9 * one
    s3 = project(TINY, dp=4, zero_stage=3, micro_batches=8)
    assert (s3.sent["data"], s3.sent["zero-3 gathers"]) == (9 * one, 15 * one)


def test_recomputation_adds_a_forward_pass_of_tensor_all_reduces():
    plain = project(TINY, dp=1, tp=2)
    again = project(TINY, dp=1, tp=2, assumptions=Assumptions(recompute=True))
    assert again.sent["tensor"] == 1.5 * plain.sent["tensor"]


def test_naive_allreduce_of_7b():
    naive = naive_allreduce(7e9, 64)
    assert naive["GB sent"] == pytest.approx(2 * 63 / 64 * 14)
    assert naive["seconds"] == pytest.approx(126 * (5e-6 + 14e9 / 64 / 25e9))
    assert naive["memory (GB)"] == 112


def test_table_prints_assumptions_next_to_numbers():
    gpt3 = project(memory.shape("GPT-3 175B"), dp=16, tp=8, pp=8, zero_stage=1,
                   micro_batches=96)
    frame = table(project(TINY, dp=2), gpt3)
    column = frame["GPT-3 175B, 16×8×8, ZeRO-1"]
    assert column["devices = dp × tp × pp"] == "1024 = 16 × 8 × 8"
    assert column["dtype (bytes per weight/gradient/activation)"] == "bf16 (2)"
    assert column["data/pipeline link (GB/s per direction)"] == 25
    assert column["total (GB)"] == pytest.approx(gpt3.memory.total / GB, abs=0.005)
    assert bool(column["fits in 80 GB"]) is True


@pytest.mark.parametrize("kwargs, name", [
    (dict(dp=0), "dp"), (dict(dp=1, tp=3), "tp"), (dict(dp=1, pp=5), "pp"),
    (dict(dp=1, zero_stage=4), "zero_stage"), (dict(dp=1, micro_batches=0), "micro_batches"),
])
def test_bad_input_names_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        project(TINY, **kwargs)


def test_bad_assumptions_and_tables():
    with pytest.raises(ValueError, match="inter_node_bandwidth"):
        Assumptions(inter_node_bandwidth=0)
    with pytest.raises(ValueError, match="micro_batch"):
        Assumptions(micro_batch=0)
    with pytest.raises(ValueError, match="parameters"):
        naive_allreduce(0, 64)
    with pytest.raises(ValueError, match="steps"):
        table()
    with pytest.raises(ValueError, match="steps"):
        table(project(TINY, dp=1), project(TINY, dp=1, assumptions=SLOW))
    with pytest.raises(TypeError, match="model"):
        project("GPT-3", dp=1)
