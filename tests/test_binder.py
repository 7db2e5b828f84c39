"""Binder and conda: environment.yml agrees with pyproject.toml, and repo2docker accepts the repo."""
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]


def pyproject_requirements():
    """The core dependencies and the `lab` extra: what Binder's environment must hold."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["lab"]
    return {Requirement(r).name.lower(): Requirement(r).specifier for r in wanted}


def conda_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for entry in env["dependencies"]:
        assert isinstance(entry, str), "environment.yml installs distlab in postBuild, not via pip:"
        name, spec = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", entry).groups()
        found[name.lower()] = spec.replace(" ", "")
    return env, found


def test_environment_yml_lists_the_same_packages_with_the_same_ranges():
    env, conda = conda_requirements()
    assert env["channels"] == ["conda-forge"]
    python = conda.pop("python")
    assert re.fullmatch(r"=3\.(1[1-9]|[2-9]\d)", python), f"python must be pinned to one minor version, got {python!r}"
    conda.pop("pip")
    pip = pyproject_requirements()
    assert sorted(conda) == sorted(pip)
    for name, spec in pip.items():
        assert SpecifierSet(conda[name]) == spec, f"{name}: environment.yml {conda[name]!r} vs pyproject {str(spec)!r}"


def test_no_dependency_is_an_exact_pin():
    for name, spec in pyproject_requirements().items():
        assert not any(s.operator in ("==", "===") for s in spec), name
        assert str(spec), f"{name} has no range at all"


def test_repo2docker_builds_from_environment_yml_with_postbuild_and_start():
    exe = shutil.which("repo2docker", path=str(Path(sys.executable).parent))
    assert exe, "jupyter-repo2docker is a test extra"
    done = subprocess.run([exe, "--no-build", str(ROOT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    dockerfile = done.stdout
    assert re.search(r'env update -p \$\{NB_PYTHON_PREFIX\} --file "environment.yml"', dockerfile)
    assert "RUN ./postBuild" in dockerfile
    assert 'ENV R2D_ENTRYPOINT="${REPO_DIR}/start"' in dockerfile
    assert "requirements.txt" not in dockerfile


def test_start_sets_a_proxied_dashboard_link_and_execs_its_arguments():
    env = dict(os.environ, JUPYTERHUB_SERVICE_PREFIX="/user/learner/")
    env.pop("DASK_DISTRIBUTED__DASHBOARD__LINK", None)
    probe = ("from distributed.utils import format_dashboard_link;"
             "print(format_dashboard_link('127.0.0.1', 8787))")
    done = subprocess.run([str(ROOT / "start"), sys.executable, "-c", probe], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "/user/learner/proxy/8787/status"
    assert (ROOT / "start").read_text().rstrip().endswith('exec "$@"')


def test_postbuild_installs_distlab_and_stops_on_errors(tmp_path):
    script = (ROOT / "postBuild").read_text()
    assert re.search(r"^set -e", script, re.M)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = dict(os.environ, PATH=f"{venv / 'bin'}:{os.environ['PATH']}")
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(["bash", str(ROOT / "postBuild")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    shown = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "show", "distlab"],
                           capture_output=True, text=True, timeout=60)
    assert "Name: distlab" in shown.stdout


def test_readme_badge_opens_chapter_zero():
    readme = (ROOT / "README.md").read_text()
    badge = re.search(r"\(https://mybinder\.org/v2/gh/[^)\s]+\)", readme)
    assert badge, "README has no Binder badge"
    assert "urlpath=lab/tree/notebooks/00_start_here.ipynb" in badge.group(0)
    assert (ROOT / "notebooks" / "00_start_here.ipynb").exists()
