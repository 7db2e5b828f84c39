"""Build the book's static site from the committed notebooks: ``make site``.

    .venv/bin/python site/build_site.py        # → site/_build/html/index.html

Three steps, each redone only where its inputs changed:

1. **Scripts, from the npm registry.** Mermaid, MathJax and the Jupyter widget embedder are
   fetched once with ``npm pack`` (pinned versions below) into ``site/_build/vendor``, which
   Sphinx serves as ``_static/``: the built site loads nothing from a CDN and works offline.
2. **Sources.** ``site/_build/src`` gets the front page (``site/index.md`` with the README's
   chapter table), the committed notebooks with their outputs, and a glossary page written
   from ``distlab/present/data/glossary.toml``. Notebooks are staged, never executed; three
   things are translated for a static reader: a ``text/vnd.mermaid`` output becomes a
   Mermaid fence, a widget whose state was not saved shows a note instead of its
   ``VBox(...)`` text, and JupyterLab's collapsed cells become MyST-NB's hide tags.
3. **Sphinx** (``site/conf.py``) writes ``site/_build/html``.

Needs the ``site`` extra (``pip install -e '.[site]'``) and ``npm`` (Node.js). Raises
``SystemExit`` with the reason when either is missing or a step fails.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

SITE = Path(__file__).resolve().parent
ROOT = SITE.parent
BUILD = SITE / "_build"
VENDOR, SOURCE, HTML = BUILD / "vendor", BUILD / "src", BUILD / "html"

# name in _static/: (npm package@version, the package's folder served, the files kept from it)
SCRIPTS = {
    "mermaid": ("mermaid@11.12.1", "dist/",
                re.compile(r"^(mermaid\.esm\.min\.mjs|chunks/mermaid\.esm\.min/.*\.mjs)$")),
    "mathjax": ("mathjax@3.2.2", "es5/", re.compile(r".*\.(js|json|woff)$")),
    "widgets": ("@jupyter-widgets/html-manager@1.0.15", "dist/",
                re.compile(r"^(embed\.js|[0-9a-f]+\.(woff2?|ttf|eot|svg))$")),
}
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
MERMAID = "text/vnd.mermaid"
UNSAVED_WIDGET = ('<p class="widget-static-note">An interactive widget: its state was not '
                  'saved with this chapter, so it is drawn only when the chapter runs '
                  '(launch it on Binder above). 交互控件：运行本章后显示。</p>')


def vendor_scripts() -> None:
    """Fetch each package of ``SCRIPTS`` with ``npm pack`` unless its version is in place."""
    for name, (spec, folder, keep) in SCRIPTS.items():
        target = VENDOR / name
        stamp = target / ".npm-package"
        if stamp.is_file() and stamp.read_text() == spec:
            continue
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("make site needs npm (Node.js) to fetch Mermaid, MathJax and the "
                             "widget embedder from the npm registry: apt-get install npm")
        shutil.rmtree(target, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run([npm, "pack", "--silent", "--pack-destination", tmp, spec],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"npm pack {spec} failed:\n{done.stderr}")
            tarball = Path(tmp) / done.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as archive:
                for member in archive.getmembers():
                    inside = member.name.removeprefix("package/")
                    relative = inside.removeprefix(folder)
                    licence = inside.upper().startswith("LICENSE")
                    if ".." in Path(inside).parts:
                        continue                   # never write outside the target
                    if member.isfile() and (licence or (inside.startswith(folder)
                                                        and keep.match(relative))):
                        path = target / (inside if licence else relative)
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_bytes(archive.extractfile(member).read())
        stamp.write_text(spec)


def write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` unless ``path`` holds it already (Sphinx rebuilds only changed pages)."""
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def front_page() -> str:
    """``site/index.md`` with the README's chapter table where its marker comment stands."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## The chapters", 1)
    rows = [line for line in section[-1].split("\n## ", 1)[0].splitlines()
            if line.startswith("|")] if len(section) == 2 else []
    if not rows:
        raise SystemExit("README.md has no table under '## The chapters' for the front page")
    page = (SITE / "index.md").read_text(encoding="utf-8")
    return re.sub(r"<!-- chapter-table:.*?-->", lambda _: "\n".join(rows), page, count=1)


FRONT_MATTER = re.compile(r"```mermaid\n---\n(.*?)\n---\n", re.S)


def mermaid_options(markdown: str) -> str:
    """Mermaid's YAML front matter (``---\nconfig: ...\n---``, which JupyterLab reads) as
    the ``:config:`` option that sphinxcontrib-mermaid reads (MyST would otherwise take the
    front matter for directive options and hand the extension YAML where it wants JSON)."""
    import yaml

    def option(match):
        config = (yaml.safe_load(match.group(1)) or {}).get("config", {})
        return f"```mermaid\n:config: {json.dumps(config)}\n\n"
    return FRONT_MATTER.sub(option, markdown)


def stage_notebook(text: str) -> str:
    """A committed notebook as a static reader should see it (see the module docstring)."""
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = mermaid_options("".join(cell["source"]))
    saved = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb["cells"]:
        hidden = cell.get("metadata", {}).get("jupyter", {})
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        for flag, tag in (("source_hidden", "hide-input"), ("outputs_hidden", "hide-output")):
            if hidden.get(flag) and tag not in tags:
                tags.append(tag)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MERMAID in data:
                diagram = "".join(data.pop(MERMAID)).strip()
                data["text/markdown"] = mermaid_options(f"```mermaid\n{diagram}\n```\n")
            view = data.get(WIDGET_VIEW)
            if view is not None and view.get("model_id") not in saved:
                data.pop(WIDGET_VIEW)                    # not drawable: its static fallback
                if "text/html" not in data:              # shows, or else a note saying why
                    data.pop("text/plain", None)
                    data["text/html"] = UNSAVED_WIDGET
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def glossary_page(notebooks: list[Path]) -> str:
    """Every term of the glossary, both languages, linked to the chapters that run it."""
    from distlab.present import glossary
    parts: dict[str, list[Path]] = {}          # chapter number → its notebook, or its parts
    for path in notebooks:
        parts.setdefault(path.stem.split("_")[0], []).append(path)

    def terms_named(path: Path) -> set[str]:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return {t.english for t in glossary.find_in("\n".join("".join(c["source"]) for c in cells))}

    named = {path: terms_named(path) for paths in parts.values() if len(paths) > 1
             for path in paths}

    def chapter(number: str, term) -> str:
        found = parts.get(number, [])
        if len(found) > 1:                     # chapter 02 in parts: those that name the term
            found = [path for path in found if term.english in named[path]] or found[:1]
        return ", ".join(f"[{'.'.join(p for p in path.stem.split('_') if p.isdigit())}]"
                         f"(notebooks/{path.name})" for path in found) or number

    lines = ["# Glossary — 术语表", "",
             "Every term the chapters use, in English and in Chinese, with a definition in each "
             "language and the chapters whose cells run the idea. 本书用到的每个术语：中英文名称、"
             "中英文定义，以及运行它的章节。", "",
             "Generated from `distlab/present/data/glossary.toml`; in a running chapter 09, "
             "`glossary.widget()` searches the same terms.", ""]
    for term in glossary.load():
        also = f" · also {', '.join(term.aliases)}" if term.aliases else ""
        where = ", ".join(chapter(c, term) for c in term.chapters)
        lines += [f"**{term.english}** — {term.chinese}{also} · chapters {where}",
                  f": {term.en}", "", f"  {term.zh}", ""]
    # a $ in a name is not math on this page
    return "\n".join(lines).replace("$", r"\$")


def stage_sources() -> None:
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    write_if_changed(SOURCE / "index.md", front_page())
    write_if_changed(SOURCE / "glossary.md", glossary_page(notebooks))
    staged = SOURCE / "notebooks"
    for path in notebooks:
        write_if_changed(staged / path.name, stage_notebook(path.read_text(encoding="utf-8")))
    for old in set(staged.glob("*.ipynb")) - {staged / p.name for p in notebooks}:
        old.unlink()                                   # a chapter renamed or split
    images = ROOT / "notebooks" / "images"             # pictures the chapters' text links
    if images.is_dir():
        shutil.copytree(images, staged / "images", dirs_exist_ok=True)


def build() -> float:
    """Run the three steps; the seconds taken. Raises ``SystemExit`` when a step fails."""
    start = time.perf_counter()
    try:
        from sphinx.cmd.build import build_main
    except ImportError:
        raise SystemExit("make site needs the site extra: pip install -e '.[site]'") from None
    vendor_scripts()
    stage_sources()
    status = build_main(["-b", "html", "-q", "-c", str(SITE), "-d", str(BUILD / "doctrees"),
                         str(SOURCE), str(HTML)])
    if status != 0:
        raise SystemExit(f"sphinx-build failed with status {status}")
    return time.perf_counter() - start


if __name__ == "__main__":
    seconds = build()
    print(f"site built in {seconds:.0f} s: {HTML / 'index.html'}")
