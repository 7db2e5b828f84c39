"""The chapters as files: find them and re-execute them, the one way outputs are produced."""
from __future__ import annotations

import json
import os
import re
import sys
import sysconfig
import time
from pathlib import Path

from distlab.checks import count

__all__ = ["notebooks_dir", "chapters", "execute", "KERNEL"]

KERNEL = "python3"


def notebooks_dir() -> Path:
    """The repository's ``notebooks/``: next to the package, else found from the cwd up.
    Raises ``FileNotFoundError`` when there is none."""
    candidates = [Path(__file__).resolve().parents[2] / "notebooks"]
    candidates += [p / "notebooks" for p in (Path.cwd(), *Path.cwd().parents)]
    for candidate in candidates:
        if any(candidate.glob("[0-9][0-9]_*.ipynb")):
            return candidate
    raise FileNotFoundError("no notebooks/ folder with chapters found next to distlab "
                            "or above the current directory; run from the repository")


def chapters(names=(), folder: Path | None = None) -> list[Path]:
    """Chapter paths in order; ``names`` selects by file name, stem or number prefix.

    Raises ``TypeError`` when ``names`` is not a list of strings or ``folder`` not a path,
    ``ValueError`` naming the known chapters when one matches none or when ``folder`` is
    not a directory, ``FileNotFoundError`` when there is no ``notebooks/`` folder."""
    if isinstance(names, (str, bytes)) or not hasattr(names, "__iter__"):
        raise TypeError(f"names must be a list of chapter names or numbers, "
                        f"got {type(names).__name__} {names!r}")
    names = list(names)
    for i, name in enumerate(names):
        if not isinstance(name, (str, os.PathLike)):
            raise TypeError(f"names[{i}] must be a chapter name or number as a string, "
                            f"got {type(name).__name__} {name!r}")
    if folder is None:
        folder = notebooks_dir()
    elif not isinstance(folder, (str, os.PathLike)) or not str(folder).strip():
        raise TypeError(f"folder must be a path to a folder of chapters, "
                        f"got {type(folder).__name__} {folder!r}")
    elif not Path(folder).is_dir():
        raise ValueError(f"folder must be a directory, got {str(folder)!r}")
    folder = Path(folder)
    every = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return every
    chosen = []
    for name in names:
        stem = Path(name).stem
        match = [p for p in every if p.stem == stem or p.stem.startswith(stem + "_")
                 or p.stem.split("_")[0] == stem]
        if not match:
            known = ", ".join(p.stem for p in every)
            raise ValueError(f"no chapter matches {name!r}; known chapters: {known}")
        chosen += [p for p in match if p not in chosen]
    return chosen


def execute(path: Path, timeout: int = 600) -> float:
    """Run ``path`` top to bottom in a fresh kernel and write its outputs back, with the
    state of the widgets they show in the notebook's metadata; the seconds taken.

    ``timeout`` is the seconds one cell may take (an int ≥ 1). Raises ``TypeError`` /
    ``ValueError`` for a bad timeout, ``TypeError`` for a ``path`` that is not a path,
    ``FileNotFoundError`` when ``path`` is not a file,
    and nbclient's ``CellExecutionError`` or ``CellTimeoutError`` when a cell fails."""
    timeout = count("timeout", timeout, minimum=1)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a notebook's path, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path must be a notebook file, got {str(path)!r}")
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    for cell in nb.cells:
        _tag_markers(cell)
    start = time.perf_counter()
    # store_widget_state: GitHub, nbviewer and the static site draw a widget's last state
    # from the notebook's metadata (https://ipywidgets.readthedocs.io/en/stable/embedding.html)
    NotebookClient(nb, timeout=timeout, kernel_name=KERNEL, record_timing=False,
                   store_widget_state=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - start
    _strip_machine_paths(nb, path.parent.parent)
    _keep_shown_widgets(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


# A marker comment may carry its reason ("# NBVAL_IGNORE_OUTPUT: the port is random"), but
# nbval only reads a bare marker; the equivalent cell tags are read by nbval and nbclient.
MARKER_TAGS = {"NBVAL_IGNORE_OUTPUT": "nbval-ignore-output",
               "NBVAL_RAISES_EXCEPTION": "raises-exception", "NBVAL_SKIP": "nbval-skip"}


def _tag_markers(cell) -> None:
    if cell.cell_type != "code":
        return
    for line in cell.source.splitlines():
        words = line.strip().lstrip("#").replace(":", " ").split()
        if line.strip().startswith("#") and words and words[0] in MARKER_TAGS:
            tags = cell.metadata.setdefault("tags", [])
            if MARKER_TAGS[words[0]] not in tags:
                tags.append(MARKER_TAGS[words[0]])


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MODEL_REFERENCE = re.compile(r'IPY_MODEL_([0-9a-f]+)|"model_id": "([0-9a-f]+)"')


def _keep_shown_widgets(nb) -> None:
    """Keep the state of the widgets an output shows and of the models they refer to.

    nbclient records every model the kernel ever opened (closed ones, helpers never
    displayed); only those reachable from a widget-view output can be drawn, so the rest
    would only grow the file. Model ids are random on every run, as the outputs' are."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    todo = [output["data"][WIDGET_VIEW]["model_id"]
            for cell in nb.cells for output in cell.get("outputs", [])
            if WIDGET_VIEW in output.get("data", {})]
    reached = set()
    while todo:
        model_id = todo.pop()
        if model_id in reached or model_id not in state:
            continue
        reached.add(model_id)
        # children, layout and style are "IPY_MODEL_<id>" strings; an Output widget's
        # outputs may show further widgets by "model_id"
        todo += [a or b for a, b in MODEL_REFERENCE.findall(json.dumps(state[model_id]["state"]))]
    if reached:
        nb.metadata["widgets"][WIDGET_STATE]["state"] = {
            model_id: value for model_id, value in state.items() if model_id in reached}
    else:
        nb.metadata.pop("widgets", None)


def _strip_machine_paths(nb, repository: Path) -> None:
    """Tracebacks name files by absolute path; keep this machine's layout out of the book."""
    prefixes = {sysconfig.get_paths()["purelib"]: "<site-packages>",
                sysconfig.get_paths()["stdlib"]: "<python>",
                str(repository): "<distlab>", sys.prefix: "<env>"}
    pattern = re.compile("|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True)))
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [pattern.sub(lambda m: prefixes[m.group(0)], line)
                                       for line in output["traceback"]]
