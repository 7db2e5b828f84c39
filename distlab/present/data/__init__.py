"""The book's content as data, and the reader that loads and checks it.

Lives here: ``glossary.toml`` (the terms, 中文 / English), ``exercises.toml`` (the
self-checks that end each chapter) and ``quiz.toml`` (chapter 09's closing quiz), each a
TOML array of tables (``[[term]]``, ``[[exercise]]``, ``[[question]]``) whose header comment
lists its fields. ``glossary``, ``exercises`` and ``quiz`` turn the entries into their own
frozen dataclasses; this module reads a file (TOML v1.0, https://toml.io/en/v1.0.0, with
Python's ``tomllib``) and hands out each entry's fields checked, so that every error names
the file, the entry and the field:

    entries = _read("quiz.toml", "question", name_field="id")
    entries[0].text("prompt")      # a non-blank str, or DataFileError:
    # quiz.toml, question 1 ('mean'): field 'prompt' is missing

May import: the standard library only (the files ship as package data, see pyproject.toml).
"""
from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path

#: The book's chapters, as entries name them.
CHAPTERS = tuple(f"{i:02d}" for i in range(12))

_MISSING = object()
_CJK = re.compile(r"[\u3400-\u9fff]")


class DataFileError(ValueError):
    """A data file that cannot be used; the message names the file, the entry and the field."""


def _read(name: str, table: str, *, name_field: str, path=None) -> list[Entry]:
    """The entries of ``[[table]]`` in the packaged file ``name``, or in ``path`` if given
    (a ``str`` or ``pathlib.Path``; tests and authors check a draft this way).

    ``name_field`` is the field that names an entry in error messages. Raises
    ``DataFileError`` if the file cannot be read, is not TOML, or has no ``[[table]]``
    entries or other top-level keys; ``TypeError`` for a path that is neither.
    """
    import os

    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or pathlib.Path (or None), got "
                        f"{type(path).__name__}")
    label = str(path) if path is not None else name
    source = Path(path) if path is not None else resources.files(__name__) / name
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as error:
        where = f"path {label}" if path is not None else label
        raise DataFileError(f"{where}: cannot be read ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise DataFileError(f"{label}: not valid TOML ({error})") from None
    entries = data.get(table)
    if not isinstance(entries, list) or not entries:
        raise DataFileError(f"{label}: has no [[{table}]] entries")
    if set(data) != {table}:
        raise DataFileError(f"{label}: unexpected top-level keys "
                            f"{sorted(set(data) - {table})}; only [[{table}]] entries belong")
    found = []
    for number, fields in enumerate(entries, 1):
        if not isinstance(fields, dict):
            raise DataFileError(f"{label}: {table} {number} is not a table")
        name = fields.get(name_field)
        named = f" ({name!r})" if isinstance(name, str) else ""
        found.append(Entry(f"{label}, {table} {number}{named}", fields))
    return found


class Entry:
    """One entry of a data file: its fields, each handed out checked.

    Every getter raises ``DataFileError`` naming the entry and the field when the field is
    missing (and has no default) or has the wrong type or value.
    """

    def __init__(self, where: str, fields: dict):
        self.where = where          # "quiz.toml, question 1 ('mean')", said by every error
        self.fields = fields

    def __contains__(self, field: str) -> bool:
        return field in self.fields

    def error(self, field: str, problem: str) -> DataFileError:
        return DataFileError(f"{self.where}: field {field!r} {problem}")

    def allow(self, *fields: str) -> None:
        """Refuse fields other than ``fields`` (a misspelt field would be silently ignored)."""
        unknown = sorted(set(self.fields) - set(fields))
        if unknown:
            raise self.error(unknown[0], f"is not one of {', '.join(fields)}")

    def value(self, field: str, default=_MISSING):
        if field in self.fields:
            return self.fields[field]
        if default is _MISSING:
            raise self.error(field, "is missing")
        return default

    def text(self, field: str, default=_MISSING, *, chinese: bool = False) -> str:
        """A non-blank string (with a Chinese character in it if ``chinese``)."""
        value = self.value(field, default)
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, f"must be a non-blank string, got {value!r}")
        if chinese and not _CJK.search(value):
            raise self.error(field, f"must be written in Chinese, got {value!r}")
        return value

    def texts(self, field: str, default=_MISSING, *, minimum: int = 1) -> tuple[str, ...]:
        """A list of at least ``minimum`` distinct non-blank strings."""
        value = self.value(field, default)
        if (not isinstance(value, (list, tuple)) or len(value) < minimum
                or not all(isinstance(v, str) and v.strip() for v in value)):
            raise self.error(field, f"must be a list of at least {minimum} non-blank "
                                    f"strings, got {value!r}")
        if len(set(value)) != len(value):
            raise self.error(field, f"repeats an item: {list(value)!r}")
        return tuple(value)

    def number(self, field: str, default=_MISSING):
        """A finite int or float (not a bool)."""
        value = self.value(field, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or value != value or value in (float("inf"), float("-inf")):
            raise self.error(field, f"must be a finite number, got {value!r}")
        return value

    def chapter(self, field: str, value=_MISSING) -> str:
        """One of ``CHAPTERS`` (``value`` instead of the field's own, e.g. an id's prefix)."""
        value = self.value(field) if value is _MISSING else value
        if value not in CHAPTERS:
            raise self.error(field, f"names chapter {value!r}; known: {', '.join(CHAPTERS)}")
        return value

    def chapters(self, field: str) -> tuple[str, ...]:
        """A non-empty, sorted list of distinct known chapters."""
        value = self.texts(field)
        for chapter in value:
            self.chapter(field, chapter)
        if list(value) != sorted(value):
            raise self.error(field, f"must be sorted, got {list(value)!r}")
        return value

    def table(self, field: str) -> Entry:
        """A nested table (an inline ``{ … }``), as an entry of its own."""
        value = self.value(field)
        if not isinstance(value, dict):
            raise self.error(field, f"must be a table {{ … }}, got {value!r}")
        return Entry(f"{self.where}, {field}", value)


def _unique(entries: list[Entry], names: list, field: str) -> None:
    """Refuse two entries with the same name (``names[i]`` belongs to ``entries[i]``)."""
    first = {}
    for entry, name in zip(entries, names, strict=True):
        if name in first:
            raise entry.error(field, f"repeats {name!r}, already used by {first[name].where}")
        first[name] = entry
