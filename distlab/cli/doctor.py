"""``python -m distlab doctor``: is this machine ready for the chapters?"""
from __future__ import annotations

import json
import platform
import time
from importlib import metadata
from pathlib import Path

PACKAGES = ["distlab", "numpy", "pandas", "dask", "distributed", "jupyterlab", "ipywidgets",
            "matplotlib", "scikit-learn", "bokeh", "dask-labextension",
            "jupyter-server-proxy", "torch"]
OPTIONAL = {"torch"}


def versions() -> dict[str, str | None]:
    """Each package of :data:`PACKAGES` → its installed version, or None if missing."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def mermaid_in_jupyterlab() -> str | None:
    """The version of JupyterLab's built-in Mermaid renderer, or None if it has none."""
    try:
        from jupyterlab.commands import get_app_dir
    except ImportError:
        return None
    package = Path(get_app_dir()) / "static" / "package.json"
    if not package.exists():
        return None
    deps = json.loads(package.read_text()).get("dependencies", {})
    return deps.get("@jupyterlab/mermaid-extension")


def run() -> int:
    """Print versions, Mermaid support, and whether a cluster starts (or the configured
    scheduler answers) and its dashboard; return 0 when all is well, 1 otherwise. Never
    raises for a failed cluster: the failure is one of the lines it prints."""
    problems = 0
    print(f"python {platform.python_version()} on {platform.system()} {platform.machine()}")
    for name, version in versions().items():
        if version is None and name not in OPTIONAL:
            problems += 1
        note = "" if version or name not in OPTIONAL else " (optional: chapter 07)"
        print(f"  {name:22} {version or 'not installed'}{note}")

    mermaid = mermaid_in_jupyterlab()
    print(f"mermaid: {'JupyterLab draws it natively (' + mermaid + ')' if mermaid else 'NOT drawn: install jupyterlab>=4.1'}")
    problems += mermaid is None

    from distlab.engines.cluster import connect, describe, scheduler_address
    start = time.perf_counter()
    try:
        with connect() as client:
            client.submit(sum, [1, 2, 3]).result()
            print(f"cluster: {describe(client)}; first result in "
                  f"{time.perf_counter() - start:.1f} s")
            print(f"dashboard: {client.dashboard_link or 'none reported by the scheduler'}")
    except Exception as exc:  # the doctor reports every failure rather than stopping
        problems += 1
        where = scheduler_address() or "embedded LocalCluster"
        print(f"cluster: FAILED to start or reach {where}: {type(exc).__name__}: {exc}")
    print("all good" if not problems else f"{problems} problem(s) found")
    return 1 if problems else 0
