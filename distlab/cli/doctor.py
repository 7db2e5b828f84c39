"""``python -m distlab doctor``: is this machine ready for the chapters?"""
from __future__ import annotations

import platform
import re
import time
from importlib import metadata

PACKAGES = ["distlab", "numpy", "pandas", "dask", "distributed", "jupyterlab", "ipywidgets",
            "matplotlib", "scikit-learn", "bokeh", "dask-labextension",
            "jupyter-server-proxy", "torch"]
OPTIONAL = {"torch"}


def versions() -> dict[str, str | None]:
    """Each package of :data:`PACKAGES` → its installed version, or None if missing.
    Raises nothing."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def mermaid_in_jupyterlab() -> str | None:
    """JupyterLab's version when it draws Mermaid natively (4.1 and later: its changelog,
    "Mermaid diagrams in Markdown"), else None. Raises nothing."""
    try:
        version = metadata.version("jupyterlab")
    except metadata.PackageNotFoundError:
        return None
    major, minor = (int(part) for part in re.findall(r"\d+", version)[:2])
    return version if (major, minor) >= (4, 1) else None


#: What a worker must have at the client's version for the chapters' tasks and ranks.
WORKER_PACKAGES = ["distlab", "dask", "distributed", "numpy", "pandas", "scikit-learn"]


def worker_mismatches(client) -> list[str]:
    """Each package of :data:`WORKER_PACKAGES` whose version differs between the client
    and a worker (or is missing there), as one line each — Dask's own
    ``client.get_versions(check=True)`` checks only Dask's required packages. Raises
    ``TypeError`` / ``ValueError`` for a bad or closed ``client``."""
    from distlab.engines.workers import check_client

    found = check_client(client).get_versions(packages=WORKER_PACKAGES)
    mine = found["client"]["packages"]
    lines = []
    for address, worker in sorted(found["workers"].items()):
        for name in WORKER_PACKAGES:
            theirs = worker["packages"].get(name)
            if theirs != mine.get(name):
                lines.append(f"{address}: {name} {theirs or 'missing'} "
                             f"(client {mine.get(name) or 'missing'})")
    return lines


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
    print(f"mermaid: {'JupyterLab ' + mermaid + ' draws it natively' if mermaid else 'NOT drawn: install jupyterlab>=4.1'}")
    problems += mermaid is None

    from distlab.engines.cluster import connect, describe, scheduler_address
    start = time.perf_counter()
    try:
        with connect() as client:
            client.submit(sum, [1, 2, 3]).result()
            print(f"cluster: {describe(client)}; first result in "
                  f"{time.perf_counter() - start:.1f} s")
            print(f"dashboard: {client.dashboard_link or 'none reported by the scheduler'}")
            mismatches = worker_mismatches(client)
            problems += len(mismatches)
            print("workers: same versions as this client" if not mismatches else
                  "workers: DIFFERENT versions — install distlab's core on every worker:")
            for line in mismatches:
                print(f"  {line}")
    except Exception as exc:  # the doctor reports every failure rather than stopping
        problems += 1
        where = scheduler_address() or "embedded LocalCluster"
        print(f"cluster: FAILED to start or reach {where}: {type(exc).__name__}: {exc}")
    print("all good" if not problems else f"{problems} problem(s) found")
    return 1 if problems else 0
