"""``python -m distlab memory``: the per-device breakdown, --help, and one-line errors."""
import pytest

from distlab.cli import main


def run(capsys, *args):
    status = main(["memory", *args])
    return status, capsys.readouterr().out


def breakdown(out):
    """{part: (GB, bytes)} from the printed table."""
    rows = {}
    for line in out.splitlines():
        for part in ("parameters", "gradients", "optimizer state", "activations", "total"):
            if line.startswith(part) and line[len(part):len(part) + 2] == "  ":
                cells = line[len(part):].split()
                rows[part] = (cells[0], cells[1] if len(cells) > 1 else None)
    return rows


@pytest.mark.parametrize("stage, gb, total", [(0, "120", "120,000,000,000"),
                                              (1, "31.4", "31,406,250,000"),
                                              (2, "16.6", "16,640,625,000"),
                                              (3, "1.88", "1,875,000,000")])
def test_zero_paper_figures_from_the_command_line(capsys, stage, gb, total):
    status, out = run(capsys, "--params", "7.5e9", "--dp", "64", "--zero", str(stage))
    assert status == 0
    rows = breakdown(out)
    assert rows["total"] == (gb, total)
    assert "64 devices = data 64 × tensor 1 × pipeline 1" in out
    assert f"ZeRO stage {stage}" in out
    assert "GB = 10^9 bytes" in out


def test_stage_3_breakdown(capsys):
    _, out = run(capsys, "--params", "7.5e9", "--dp", "64", "--zero", "3")
    rows = breakdown(out)
    assert rows["parameters"] == ("0.234", "234,375,000")
    assert rows["gradients"] == ("0.234", "234,375,000")
    assert rows["optimizer state"] == ("1.41", "1,406,250,000")
    assert rows["activations"][0] == "—"
    assert "fits in 80 GB" in out


def test_a_named_model_counts_activations(capsys):
    status, out = run(capsys, "--model", "GPT-3 175B", "--devices", "1024", "--tp", "8",
                      "--pp", "16", "--zero", "1")
    assert status == 0
    assert "1,024 devices = data 8 × tensor 8 × pipeline 16" in out
    assert breakdown(out)["activations"][0] == "55.6"
    _, out = run(capsys, "--model", "GPT-3 175B", "--devices", "64")
    assert "does not fit in 80 GB" in out


def test_a_custom_shape(capsys):
    status, out = run(capsys, "--params", "1e6", "--layers", "4", "--hidden", "64",
                      "--heads", "4", "--sequence", "16", "--recompute")
    assert status == 0
    # 4 layers × 2sbh = 4 × 2 × 16 × 1 × 64 bytes
    assert breakdown(out)["activations"][1] == "8,192"


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["memory", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for option in ("--params", "--model", "--layers", "--hidden", "--heads", "--sequence",
                   "--devices", "--dp", "--tp", "--pp", "--zero", "--micro-batch",
                   "--micro-batches", "--schedule", "--recompute", "--precision",
                   "--optimizer", "--device-memory"):
        assert f"  {option}" in out


@pytest.mark.parametrize("args, message", [
    (["--params", "0"], "argument --params: parameters must be > 0"),
    (["--params=-7.5e9"], "argument --params: parameters must be > 0"),
    (["--params", "7.5e9", "--dp", "0"], "argument --dp"),
    (["--params", "7.5e9", "--zero", "4"], "argument --zero"),
    (["--params", "7.5e9", "--zero", "-1"], "argument --zero"),
    (["--params", "7.5e9", "--devices", "64", "--tp", "3"], "argument --tp: tp must divide"),
    (["--params", "7.5e9", "--devices", "64", "--dp", "48"], "argument --dp: dp must divide"),
    (["--params", "7.5e9", "--devices", "64", "--pp", "5"], "argument --pp"),
    (["--params", "7.5e9", "--devices", "0"], "argument --devices"),
    (["--model", "GPT-3 175B", "--pp", "97"], "argument --pp"),
    (["--model", "GPT-3 175B", "--micro-batches", "0"], "argument --micro-batches"),
    (["--params", "1e9", "--layers", "4"], "--layers, --hidden, --heads, --sequence"),
    (["--params", "1e9", "--device-memory", "0"], "argument --device-memory"),
    ([], "give --params"),
    (["--params", "x"], "argument --params"),
])
def test_bad_values_give_one_line_and_status_2(capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main(["memory", *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("python -m distlab memory: error: ")
    assert message in last
    assert "Traceback" not in err
