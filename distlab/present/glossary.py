"""The book's glossary, 中文 / English: every term the chapters use, with where it runs.

    from distlab.present import glossary
    glossary.lookup("最终一致性")          # Term(english='eventual consistency', ...)
    glossary.lookup("all-reduce").chapters  # ('04', '06', '07', '08')
    glossary.table(chapter="04")           # a DataFrame, one row per term
    glossary.find_in("the ring all-reduce is bandwidth-optimal")  # terms named in a text

Each :class:`Term` has its English and Chinese names, other names it goes by (aliases:
abbreviations, spellings), a one-line definition in each language, and the chapters whose
cells run the idea, so a learner can jump from a word to the code that shows it. The terms
are data, in ``data/glossary.toml`` (its header lists the fields); :func:`load` reads and
checks them when this module is imported, so a term without a Chinese name, an English or
a Chinese definition, or with an unknown chapter, fails with ``DataFileError`` naming the
file, the term and the field.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from distlab.present.data import CHAPTERS, _read
from distlab.present.static_fallback import with_fallback


@dataclass(frozen=True)
class Term:
    english: str
    chinese: str
    en: str                      # definition in English
    zh: str                      # definition in Chinese
    chapters: tuple[str, ...]    # where the idea is run ("04", "06", ...)
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.english, self.chinese, *self.aliases)

    def __str__(self) -> str:
        where = ", ".join(self.chapters)
        return f"{self.english} — {self.chinese} (chapters {where})\n  {self.en}\n  {self.zh}"


def _key(name: str) -> str:
    return re.sub(r"[\s\-_–]+", " ", name.strip().lower())


def load(path=None) -> tuple[Term, ...]:
    """The terms of ``data/glossary.toml`` (or of the file at ``path``), in file order.

    Raises ``DataFileError`` (a ``ValueError``) naming the file, the term and the field when
    a term lacks its English or Chinese name, a definition in either language (``zh`` must
    be written in Chinese), or its chapters (known, sorted); when a field is unknown; or
    when one name (any language or alias; case, spaces and hyphens ignored) names two terms.
    """
    entries = _read("glossary.toml", "term", name_field="english", path=path)
    found = []
    for entry in entries:
        entry.allow("english", "chinese", "en", "zh", "chapters", "aliases")
        found.append(Term(entry.text("english"), entry.text("chinese"), entry.text("en"),
                          entry.text("zh", chinese=True), entry.chapters("chapters"),
                          entry.texts("aliases", (), minimum=0)))
    owner = {}
    for term, entry in zip(found, entries):
        named = [("english", term.english), ("chinese", term.chinese)]
        for field, name in named + [("aliases", alias) for alias in term.aliases]:
            first = owner.setdefault(_key(name), entry)
            if first is not entry:               # a term may repeat its own name ("Dask")
                raise entry.error(field, f"{name!r} already names {first.where}")
    return tuple(found)


TERMS: tuple[Term, ...] = load()
_INDEX: dict[str, Term] = {_key(name): term for term in TERMS for name in term.names}


def lookup(name: str) -> Term:
    """The term called ``name`` in English or Chinese (or one of its aliases); case,
    spaces and hyphens do not matter. Unknown names raise ``ValueError`` with suggestions."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    if not name.strip():
        raise ValueError("name must not be blank")
    term = _INDEX.get(_key(name))
    if term is None:
        close = difflib.get_close_matches(_key(name), list(_INDEX), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"{name!r} is not in the glossary{hint}")
    return term


def terms(chapter: str | None = None) -> list[Term]:
    """Every term, or those run in ``chapter`` ("04"), in glossary order. ``TypeError``
    for a chapter that is not a string, ``ValueError`` for one the book does not have."""
    if chapter is None:
        return list(TERMS)
    if not isinstance(chapter, str):
        raise TypeError(f"chapter must be a string such as '04', got {type(chapter).__name__}")
    if chapter not in CHAPTERS:
        raise ValueError(f"chapter must be one of {', '.join(CHAPTERS)}, got {chapter!r}")
    return [t for t in TERMS if chapter in t.chapters]


def table(chapter: str | None = None):
    """A DataFrame: English, 中文, definition, 定义, chapters — one row per term. Errors as
    :func:`terms`."""
    import pandas as pd

    rows = [{"English": t.english, "中文": t.chinese, "definition": t.en, "定义": t.zh,
             "chapters": " ".join(t.chapters)} for t in terms(chapter)]
    return pd.DataFrame(rows, columns=["English", "中文", "definition", "定义", "chapters"])


def find_in(text: str) -> list[Term]:
    """The terms named in ``text`` (by any of their names, whole words for Latin names),
    each once, in glossary order. ``TypeError`` when ``text`` is not a string."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    flat = _key(text)
    found = []
    for term in TERMS:
        for name in term.names:
            key = _key(name)
            if re.search(r"[a-z0-9]", key):
                hit = re.search(r"(?<![a-z0-9])" + re.escape(key) + r"(?![a-z0-9])", flat)
            else:
                hit = key in flat
            if hit:
                found.append(term)
                break
    return found


def _terms_html(found) -> str:
    """Terms as an HTML table: both names, the definition in English and in Chinese, the
    chapters that run the idea."""
    import html

    head = ("<tr><th>English</th><th>中文</th><th>definition · 定义</th>"
            "<th>chapters</th></tr>")
    rows = "".join(
        f"<tr><td><b>{html.escape(t.english)}</b></td><td>{html.escape(t.chinese)}</td>"
        f"<td>{html.escape(t.en)}<br>{html.escape(t.zh)}</td>"
        f"<td>{' '.join(t.chapters)}</td></tr>" for t in found)
    return f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def widget():
    """A search box over the glossary: type English or Chinese, see the matching terms
    with their definitions in both languages. An ipywidgets ``VBox``; its output also
    holds the whole glossary (names and definitions, English and Chinese) as static HTML
    and text, for readers who do not run it. Raises nothing."""
    import ipywidgets as widgets

    box = widgets.Text(placeholder="type a term, English or 中文", description="Search:")
    out = widgets.HTML()

    def show(change=None):
        query = _key(box.value)
        out.value = _terms_html([t for t in TERMS if not query
                                 or any(query in _key(n) for n in t.names)
                                 or query in t.en.lower() or query in t.zh])

    box.observe(show, names="value")
    show()
    return with_fallback(widgets.VBox([box, out]))
