"""A real JupyterLab in a real browser: open every chapter, run all cells, look at the page.

Starts `jupyter lab` on a free loopback port with a token, serving a temporary copy of the
notebooks (so autosave can never touch the committed outputs), and drives Debian's Chromium
with Playwright for Python. Without Chromium the test skips with the reason, unless
DISTLAB_REQUIRE_BROWSER=1 (set by .ci/run) makes that a failure.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from distlab.cli import notebooks

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = notebooks.chapters(folder=ROOT / "notebooks")

MODEL = "window.jupyterapp.shell.currentWidget.content.model"
# Finished when every code cell has run, or when a cell that may not fail has failed.
PROGRESS = f"""() => {{
  const cells = [...{MODEL}.cells].filter(c => c.type === 'code');
  const failed = cells.filter(c => [...Array(c.outputs.length).keys()]
      .some(i => c.outputs.get(i).toJSON().output_type === 'error'));
  const unexpected = failed.filter(c => !(c.getMetadata('tags') || []).includes('raises-exception'));
  const done = cells.filter(c => c.executionCount !== null).length;
  return {{total: cells.length, done, unexpected: unexpected.map(c => c.sharedModel.source.slice(0, 80))}};
}}"""
BUSY = "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"



def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-root")
    shutil.copytree(ROOT / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = tmp_path_factory.mktemp("lab-settings")
    for plugin, values in {"apputils-extension/notification": {"fetchNews": "false"},
                           "docmanager-extension/plugin": {"autosave": False},
                           "notebook-extension/tracker": {"windowingMode": "none"}}.items():
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = free_port(), "distlab-browser-test"
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path_factory.mktemp("lab-workspaces")))
    log = open(root / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not start: " + (root / "lab.log").read_text()[-2000:])
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def markdown_has_mermaid(path):
    nb = json.loads(path.read_text())
    return any(c["cell_type"] == "markdown" and "```mermaid" in "".join(c["source"])
               for c in nb["cells"])


def uses_widgets(path):
    nb = json.loads(path.read_text())
    return any(c["cell_type"] == "code" and ("progress(" in "".join(c["source"])
                                             or "exercises.ask(" in "".join(c["source"]))
               for c in nb["cells"])


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_in_jupyterlab(lab, browser, chapter):
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{base}/lab/tree/notebooks/{chapter.name}?token={token}&reset")
        page.wait_for_function("() => !!window.jupyterapp?.shell?.currentWidget"
                               "?.sessionContext?.session?.kernel", timeout=90_000)
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.ready")
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        deadline = time.monotonic() + 240
        while True:
            state = page.evaluate(PROGRESS)
            assert state["unexpected"] == [], f"cells failed in {chapter.name}: {state['unexpected']}"
            if state["done"] == state["total"] and page.evaluate(BUSY) == "idle":
                break
            assert time.monotonic() < deadline, f"{chapter.name} did not finish: {state}"
            time.sleep(0.5)

        if markdown_has_mermaid(chapter):
            diagram = page.locator(".jp-RenderedMermaid:not(.jp-mod-warning) "
                                   "img[src^='data:image/svg+xml']").first
            diagram.scroll_into_view_if_needed()
            assert diagram.is_visible(), "the Mermaid diagram was not drawn"
            assert page.locator(".jp-RenderedMermaid.jp-mod-warning").count() == 0
        if uses_widgets(chapter):
            widget = page.locator(".jp-OutputArea-output .jupyter-widgets").first
            widget.scroll_into_view_if_needed()
            assert widget.is_visible(), "no widget was drawn"
            if "progress(" in chapter.read_text():
                finished = page.locator(".jp-OutputArea-output .widget-hprogress "
                                        ".progress-bar-success")
                assert finished.count() > 0, "no finished progress bar was drawn"
    finally:
        page.evaluate("() => window.jupyterapp.shell.currentWidget?.sessionContext?.shutdown()")
        page.close()
