"""distlab.present.glossary: both languages for every term (checked when the data file loads),
lookups either way, and coverage of the document's own terms and of the words the chapters
use."""
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from distlab.present import glossary
from distlab.present.data import DataFileError
from distlab.present.glossary import CHAPTERS, TERMS, find_in, lookup, table, terms

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

#: The terms the source document introduces (its bold words and section titles, 2–9).
DOCUMENT_TERMS = [
    "分布式架构", "高可用性", "可扩展性", "容错性", "数据同步", "强一致性", "最终一致性",
    "算法并行化", "任务划分", "负载均衡", "通信开销", "任务分配", "并行计算", "结果汇总",
    "数据同步模型", "大模型", "数据并行", "预测服务", "推荐系统",
    "Dask", "PyTorch Distributed", "自动调优",
]

#: Words the chapters use that a learner may not know (checked in the glossary by name).
CHAPTER_WORDS = [
    "all-reduce", "ring", "star", "tree", "recursive doubling", "Rabenseifner", "gossip",
    "reduce-scatter", "all-gather", "broadcast", "parameter server", "α-β model",
    "latency", "bandwidth", "lower bound", "round", "spectral gap", "consensus",
    "mixing matrix",
    "scheduler", "worker", "client", "task", "future", "dashboard", "partition",
    "quorum", "linearizability", "anti-entropy", "stale read", "replica", "checkpoint",
    "speed-up", "efficiency", "Amdahl", "Gustafson", "Karp–Flatt", "work stealing",
    "makespan", "SGD", "local SGD", "async", "staleness", "gradient", "DDP", "gloo",
    "rank", "world size", "process group", "torchrun", "SPMD", "NCCL", "bucketing",
    "hedged requests", "tail latency", "hot items", "sharding", "matrix factorisation",
    "FLOPs", "mixed precision", "optimizer state", "model parallelism", "data parallel",
    "simulator", "virtual time", "dask-kubernetes", "dask-jobqueue", "tuning",
    "price of consistency", "MTBF", "network partition", "token", "MFU", "ZeRO",
    "activations", "embedding", "RMSE", "nanny", "Mermaid", "softmax", "epoch", "CAP",
    "longest first", "lineage",
]


def test_every_term_has_both_languages_a_definition_in_each_and_chapters():
    assert len(TERMS) >= 60
    for t in TERMS:
        assert t.english.strip() and t.chinese.strip(), t
        assert re.search(r"[\u4e00-\u9fff]", t.zh), f"{t.english}: Chinese definition"
        assert re.search(r"[A-Za-z]", t.en) and t.en.endswith((".", ")")), t.english
        assert t.chapters and set(t.chapters) <= set(CHAPTERS), t.english
        assert list(t.chapters) == sorted(set(t.chapters)), t.english


def test_no_name_points_to_two_terms():
    seen = {}
    for t in TERMS:
        for name in t.names:
            key = glossary._key(name)
            assert seen.setdefault(key, t) is t, f"{name!r} names two terms"


@pytest.mark.parametrize("name", DOCUMENT_TERMS)
def test_the_documents_terms_are_covered(name):
    assert lookup(name)


@pytest.mark.parametrize("name", CHAPTER_WORDS)
def test_the_chapters_words_are_covered(name):
    assert lookup(name)


def test_lookup_both_ways_and_forgiving_about_case_and_hyphens():
    t = lookup("eventual consistency")
    assert t.chinese == "最终一致性" and lookup("最终一致性") is t
    assert lookup("ALL REDUCE") is lookup("all-reduce") is lookup("allreduce")
    assert lookup("  DDP ").english == "DistributedDataParallel"


def test_unknown_and_bad_names_are_rejected_with_suggestions():
    with pytest.raises(ValueError, match="did you mean 'eventual consistency'"):
        lookup("eventual consistancy")
    with pytest.raises(ValueError, match="blank"):
        lookup("  ")
    with pytest.raises(TypeError, match="name must be a string"):
        lookup(3)
    with pytest.raises(ValueError, match="chapter must be one of"):
        terms("12")
    with pytest.raises(TypeError, match="text must be a string"):
        find_in(None)


@given(st.sampled_from(TERMS))
def test_every_name_finds_its_term(term):
    for name in term.names:
        assert lookup(name) is term
        assert term in find_in(f"… {name} …")


def test_find_in_matches_whole_words_only():
    assert lookup("ring all-reduce") in find_in("the ring all-reduce")
    assert lookup("rank") not in find_in("frank drank")
    assert find_in("") == []


def test_table_and_chapter_filter():
    full = table()
    assert list(full.columns) == ["English", "中文", "definition", "定义", "chapters"]
    assert len(full) == len(TERMS)
    seven = table("07")
    assert "DistributedDataParallel" in set(seven["English"])
    assert all("07" in c.split() for c in seven["chapters"])


def _chapter_text(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"])


def test_each_term_is_used_in_one_of_its_chapters():
    """Each term's chapter list points where the idea really is: among the chapters that
    exist, at least one of the term's chapters names it (by any of its names)."""
    texts = {}                                        # a chapter's parts (02_1, …) together
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        texts[path.name[:2]] = texts.get(path.name[:2], "") + "\n" + _chapter_text(path)
    missing = []
    for t in TERMS:
        present = [c for c in t.chapters if c in texts]
        if present and not any(t in find_in(texts[c]) for c in present):
            missing.append((t.english, present))
    assert not missing, f"terms not found in their chapters: {missing}"


def test_widget_filters_by_either_language():
    w = glossary.widget()
    box, out = w.children
    box.value = "一致性"
    assert "eventual consistency" in out.value and "recursive doubling" not in out.value
    box.value = "ring"
    assert "ring all-reduce" in out.value


def test_widget_fallback_shows_every_definition_in_both_languages():
    """Read without a kernel (GitHub, the static site), the glossary is still all there."""
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(glossary.widget())
    page, text = data["text/html"], data["text/plain"]
    assert "<th>definition · 定义</th>" in page
    for t in TERMS:
        row = next(line for line in text.splitlines() if line.startswith(f"{t.english} | "))
        assert f"{t.chinese} | {' '.join(t.en.split())} · {' '.join(t.zh.split())} | " in row


# --- the data file and its validator --------------------------------------------------------

GOOD = {"english": '"ring"', "chinese": '"环"', "en": '"A cycle of nodes."',
        "zh": '"节点连成的环。"', "chapters": '["04"]'}


def write(tmp_path, *entries):
    path = tmp_path / "glossary.toml"
    path.write_text("\n".join("[[term]]\n" + "\n".join(f"{k} = {v}" for k, v in e.items())
                              for e in entries), encoding="utf-8")
    return path


def test_the_packaged_file_is_what_the_module_holds(tmp_path):
    assert glossary.load() == TERMS
    (term,) = glossary.load(write(tmp_path, GOOD | {"aliases": '["cycle"]'}))
    assert term.names == ("ring", "环", "cycle") and term.chapters == ("04",)


@pytest.mark.parametrize("field", ["english", "chinese", "en", "zh", "chapters"])
def test_the_validator_rejects_a_missing_field(tmp_path, field):
    entry = {k: v for k, v in GOOD.items() if k != field}
    name = "term 2" + ("" if field == "english" else " ('ring')")
    expected = re.escape(f"glossary.toml, {name}: field '{field}' is missing")
    with pytest.raises(DataFileError, match=expected):
        glossary.load(write(tmp_path, GOOD | {"english": '"star"', "chinese": '"星"'}, entry))


@pytest.mark.parametrize("change, message", [
    ({"zh": '"A cycle of nodes."'}, "field 'zh' must be written in Chinese"),
    ({"en": '""'}, "field 'en' must be a non-blank string"),
    ({"chapters": '["12"]'}, "field 'chapters' names chapter '12'"),
    ({"chapters": '["06", "04"]'}, "field 'chapters' must be sorted"),
    ({"chapters": '[]'}, "field 'chapters' must be a list of at least 1"),
    ({"aliases": '["cycle", "cycle"]'}, "field 'aliases' repeats an item"),
    ({"definition": '"typo"'}, "field 'definition' is not one of"),
])
def test_the_validator_names_the_term_and_the_field(tmp_path, change, message):
    with pytest.raises(DataFileError, match=f"term 1 \\('ring'\\): {message}"):
        glossary.load(write(tmp_path, GOOD | change))


def test_no_name_may_name_two_terms(tmp_path):
    other = GOOD | {"english": '"Ring all-reduce"', "chinese": '"环形"', "aliases": '["RING"]'}
    with pytest.raises(DataFileError,
                       match="term 2 \\('Ring all-reduce'\\): field 'aliases' 'RING' already "
                             "names .*term 1 \\('ring'\\)"):
        glossary.load(write(tmp_path, GOOD, other))


def test_a_file_that_is_not_toml_or_has_no_terms(tmp_path):
    bad = tmp_path / "glossary.toml"
    bad.write_text("[[term]\nenglish = ", encoding="utf-8")
    with pytest.raises(DataFileError, match="glossary.toml: not valid TOML"):
        glossary.load(bad)
    bad.write_text("title = 'glossary'\n", encoding="utf-8")
    with pytest.raises(DataFileError, match="glossary.toml: has no \\[\\[term\\]\\]"):
        glossary.load(bad)
    with pytest.raises(DataFileError, match="cannot be read"):
        glossary.load(tmp_path / "missing.toml")
