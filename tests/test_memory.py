"""The memory calculator against the papers: ZeRO's Figure 1 and Korthikanti et al.'s formulas."""
import pytest
from hypothesis import given, settings, strategies as st

from distlab.concepts import memory, sizing
from distlab.concepts.memory import GB

#: Rajbhandari et al. 2020, Figure 1: Ψ = 7.5B, N_d = 64, mixed-precision Adam (K = 12).
ZERO_FIGURE_1 = {0: 120.0, 1: 31.4, 2: 16.6, 3: 1.9}


@pytest.mark.parametrize("stage, gb", ZERO_FIGURE_1.items())
def test_zero_paper_7_5b_on_64_devices(stage, gb):
    used = memory.per_device(7.5e9, dp=64, zero_stage=stage)
    assert used.activations is None
    assert round(used.total / GB, 1) == gb
    assert used.total == pytest.approx({0: 120e9, 1: 31.40625e9, 2: 16.640625e9,
                                        3: 1.875e9}[stage])


def test_unsharded_state_is_chapter_01s_sixteen_bytes_per_parameter():
    used = memory.per_device(7e9)
    assert used.total == sizing.memory_bytes(7e9) == 112e9
    assert used.parts() == {"parameters": 14e9, "gradients": 14e9, "optimizer state": 84e9,
                            "activations": None, "total": 112e9}
    assert memory.per_device(7e9, precision="fp32", optimizer="sgd").total == 56e9


def test_korthikanti_activation_formulas():
    s, b, h, a = 2048, 1, 12288, 96                  # GPT-3 175B, one sequence
    sbh = s * b * h
    assert memory.activation_bytes_per_layer(s, b, h, a) == sbh * (34 + 5 * a * s / h)
    assert memory.activation_bytes_per_layer(s, b, h, a, tensor=8) == \
        pytest.approx(sbh * (10 + 24 / 8 + 5 * a * s / (h * 8)))
    assert memory.activation_bytes_per_layer(s, b, h, a, tensor=8, recompute=True) == 2 * sbh


@settings(max_examples=40, deadline=None)
@given(s=st.integers(1, 4096), b=st.integers(1, 8), heads=st.integers(1, 16),
       head_size=st.integers(1, 64))
def test_tensor_degree_one_is_the_unsplit_formula(s, b, heads, head_size):
    h = heads * head_size
    assert memory.activation_bytes_per_layer(s, b, h, heads, tensor=1) == \
        pytest.approx(s * b * h * (34 + 5 * heads * s / h))


def test_pipeline_stage_0_holds_its_layers_for_p_micro_batches_in_1f1b():
    gpt3 = memory.shape("GPT-3 175B")
    per_layer = memory.activation_bytes_per_layer(2048, 1, 12288, 96, tensor=8)
    one_f_one_b = memory.per_device(model=gpt3, dp=8, tp=8, pp=16, micro_batches=64)
    assert one_f_one_b.activations == pytest.approx(16 * 6 * per_layer)   # L/p × p = L
    gpipe = memory.per_device(model=gpt3, dp=8, tp=8, pp=16, micro_batches=64,
                              schedule="gpipe")
    assert gpipe.activations == pytest.approx(64 * 6 * per_layer)
    assert one_f_one_b.parameters == pytest.approx(175e9 / 128 * 2)


def test_shapes_agree_with_twelve_l_h_squared():
    for model in memory.SHAPES:
        assert 12 * model.layers * model.hidden ** 2 == pytest.approx(model.parameters,
                                                                      rel=0.02)
    assert memory.shape("GPT-3 175B").parameters == 175e9


def test_which_configurations_fit_in_80_gb():
    gpt3 = memory.shape("GPT-3 175B")
    table = memory.configurations(gpt3, 64)
    assert set(table.columns) >= {"dp", "tp", "pp", "zero", "recompute", "total (GB)", "fits"}
    assert (table["dp"] * table["tp"] * table["pp"] == 64).all()
    assert set(table["tp"]) <= {1, 2, 4, 8, 16, 32}         # divisors of 64 dividing 96 heads
    assert (table["fits"] == (table["total (GB)"] <= 80)).all()
    assert table["fits"].any() and not table["fits"].all()
    # no split of 64 devices holds GPT-3 without ZeRO: 2.8 TB / 64 = 43.75 GB of state alone
    unsharded = table[table["zero"] == 0]
    assert (unsharded["parameters (GB)"] + unsharded["gradients (GB)"]
            + unsharded["optimizer state (GB)"] >= 43.75 - 1e-9).all()


def test_degrees_fill_in_the_data_parallel_degree():
    assert memory.degrees(64, tp=8, pp=2) == (64, 4, 8, 2)
    assert memory.degrees(dp=4, tp=2) == (8, 4, 2, 1)
    assert memory.degrees(8, 2, 2, 2) == (8, 2, 2, 2)


@pytest.mark.parametrize("call, name", [
    (lambda: memory.per_device(0), "parameters"),
    (lambda: memory.per_device(-7.5e9), "parameters"),
    (lambda: memory.per_device(), "parameters"),
    (lambda: memory.per_device(1e9, dp=0), "dp"),
    (lambda: memory.per_device(1e9, zero_stage=4), "stage"),
    (lambda: memory.per_device(1e9, micro_batches=0), "micro_batches"),
    (lambda: memory.per_device(1e9, micro_batch=0), "micro_batch"),
    (lambda: memory.per_device(model=memory.shape("GPT-3 175B"), pp=97), "stages"),
    (lambda: memory.per_device(model=memory.shape("GPT-3 175B"), tp=5), "tensor"),
    (lambda: memory.per_device(1e9, precision="fp8"), "precision"),
    (lambda: memory.degrees(64, tp=3), "tp"),
    (lambda: memory.degrees(64, dp=3), "dp"),
    (lambda: memory.degrees(64, dp=4, tp=4), "devices"),
    (lambda: memory.degrees(64, tp=16, pp=8), "devices"),
    (lambda: memory.activation_bytes_per_layer(0, 1, 8, 2), "sequence"),
    (lambda: memory.Transformer("x", 2, 10, 3, 8, 1e6), "heads"),
    (lambda: memory.shape("GPT-5"), "name"),
    (lambda: memory.configurations(memory.shape("GPT-3 175B"), 0), "devices"),
])
def test_bad_values_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match="model"):
        memory.per_device(model="GPT-3 175B")
    with pytest.raises(TypeError, match="recompute"):
        memory.per_device(1e9, recompute="yes")
    with pytest.raises(TypeError, match="tp"):
        memory.per_device(1e9, tp=2.0)
