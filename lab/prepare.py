"""Write this launch's JupyterLab settings and workspace from the ones shipped in lab/.

    python lab/prepare.py [--settings-dir DIR] [--workspaces-dir DIR]
                          [--dashboard-port 8787 | --no-dashboard] [--notebooks notebooks]

- ``overrides.json`` (JupyterLab's default settings, read from its application settings
  directory: ``--LabApp.app_settings_dir``) shuts a notebook's kernel down when its tab
  closes and points dask-labextension's sidebar at the walkthrough cluster's dashboard,
  through jupyter-server-proxy (``proxy/PORT/``), so the same URL works on a laptop and on
  Binder. ``--no-dashboard`` leaves the URL empty (an external cluster: the sidebar's
  search button finds its dashboard from the notebook's client). It also hides the
  sidebar's cluster manager (its "+ NEW" would start another cluster inside the server)
  and JupyterLab's news prompt. An ``overrides.json`` already there keeps its other
  settings.
- ``workspace.json`` becomes the *default* workspace (``--LabApp.workspaces_dir``): chapter
  00 on the left, the Task Stream, Progress and Workers Memory panes on the right, as the
  Dask tutorial lays them out. ``--notebooks`` is the notebooks' folder relative to the
  server's root ("" when the server serves notebooks/ itself, "notebooks" on Binder).

JupyterLab user guide: "Advanced Usage" for overrides.json and the settings directories,
https://jupyterlab.readthedocs.io/en/stable/user/directories.html, and "URLs" for
workspaces, https://jupyterlab.readthedocs.io/en/stable/user/urls.html
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DASK_PLUGIN = "dask-labextension:plugin"
WORKSPACE_ID = "default"


def settings(dashboard_port: int | None) -> dict:
    """The shipped overrides with the dashboard's port (``None``: no URL)."""
    overrides = json.loads((HERE / "overrides.json").read_text())
    overrides[DASK_PLUGIN]["defaultURL"] = f"proxy/{dashboard_port}/" if dashboard_port else ""
    return overrides


def workspace(notebooks: str) -> dict:
    """The shipped workspace with notebook paths under ``notebooks`` (a folder, or "")."""
    prefix = notebooks.strip("/") + "/" if notebooks.strip("/") else ""
    text = (HERE / "workspace.json").read_text()
    # the chapter's path appears as a widget id ("notebook:PATH") and as its "path"
    text = text.replace('notebook:00_', f'notebook:{prefix}00_').replace(
        '"path": "00_', f'"path": "{prefix}00_')
    space = json.loads(text)
    space["data"]["file-browser-filebrowser:cwd"]["path"] = prefix.rstrip("/")
    return space


def workspace_file(folder: Path) -> Path:
    """Where JupyterLab looks for the default workspace: ``<slug>-<4 hex of sha256(id)>``
    (jupyterlab_server's ``slugify``)."""
    signature = hashlib.sha256(WORKSPACE_ID.encode()).hexdigest()[:4]
    return folder / f"{WORKSPACE_ID}-{signature}.jupyterlab-workspace"


def write(settings_dir: Path, workspaces_dir: Path, dashboard_port: int | None,
          notebooks: str) -> list[Path]:
    """Write overrides.json (merged into one already there) and the default workspace;
    return the two paths."""
    settings_dir.mkdir(parents=True, exist_ok=True)
    workspaces_dir.mkdir(parents=True, exist_ok=True)
    target = settings_dir / "overrides.json"
    merged = json.loads(target.read_text()) if target.exists() else {}
    for plugin, values in settings(dashboard_port).items():
        merged.setdefault(plugin, {}).update(values)
    target.write_text(json.dumps(merged, indent=2) + "\n")
    space = workspace_file(workspaces_dir)
    space.write_text(json.dumps(workspace(notebooks), indent=2) + "\n")
    return [target, space]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settings-dir", type=Path,
                        help="JupyterLab's application settings directory (default: the "
                             "installed JupyterLab's, <app dir>/settings)")
    parser.add_argument("--workspaces-dir", type=Path,
                        help="JupyterLab's workspaces directory (default: the user's)")
    parser.add_argument("--dashboard-port", type=int, default=8787)
    parser.add_argument("--no-dashboard", action="store_true",
                        help="leave the Dask sidebar's URL empty (an external cluster)")
    parser.add_argument("--notebooks", default="",
                        help="the notebooks' folder relative to the server's root")
    args = parser.parse_args(argv)
    if args.settings_dir is None or args.workspaces_dir is None:
        from jupyterlab.commands import get_app_dir, get_workspaces_dir
        args.settings_dir = args.settings_dir or Path(get_app_dir(), "settings")
        args.workspaces_dir = args.workspaces_dir or Path(get_workspaces_dir())
    write(args.settings_dir, args.workspaces_dir,
          None if args.no_dashboard else args.dashboard_port, args.notebooks)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
