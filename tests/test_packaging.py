"""Every third-party module distlab imports is declared, in the install that needs it.

The core install is what a Dask worker needs (it must not pull JupyterLab); the `lab` extra
is the walkthrough; `test` and `site` serve tests/ and site/. torch is optional and
documented (its CPU build must be asked for explicitly).
"""
import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
OPTIONAL = {"torch"}          # chapter 07 and 10 compare with it when it is installed
# engines/progress.py draws a widget only inside a Jupyter kernel, which the lab extra brings
KERNEL_ONLY = {"ipywidgets", "IPython"}
# modules that the presentation layer and the command line import: the lab extra
LAB_ONLY = ("distlab/present", "distlab/cli")


def normalized(name):
    """A distribution's name as PEP 503 compares them: jupyter_core == jupyter-core."""
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*groups):
    names = set()
    for group in groups:
        specs = PROJECT["dependencies"] if group == "core" else \
            PROJECT["optional-dependencies"][group]
        names |= {normalized(Requirement(s).name) for s in specs}
    return names


def third_party_imports(paths):
    found = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("distlab", "tests") \
                        and not (ROOT / "tests" / f"{top}.py").exists():
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def distribution_of(module):
    dists = metadata.packages_distributions().get(module)
    assert dists, f"no installed distribution provides {module!r}"
    return normalized(dists[0])


def test_the_core_install_holds_what_the_lower_layers_import():
    core = declared("core")
    files = [p for p in (ROOT / "distlab").rglob("*.py")
             if not str(p.relative_to(ROOT)).startswith(LAB_ONLY)]
    missing = {m: sorted(where) for m, where in third_party_imports(files).items()
               if m not in OPTIONAL | KERNEL_ONLY and distribution_of(m) not in core}
    assert not missing, f"imported by concepts/engines/apps but not a core dependency: {missing}"


def test_the_lab_extra_holds_what_presentation_and_the_cli_import():
    allowed = declared("core", "lab")
    files = [p for p in (ROOT / "distlab").rglob("*.py")
             if str(p.relative_to(ROOT)).startswith(LAB_ONLY)]
    missing = {m: sorted(where) for m, where in third_party_imports(files).items()
               if m not in OPTIONAL and distribution_of(m) not in allowed}
    assert not missing, f"imported by present/ or cli/ but not declared: {missing}"


def test_tests_and_site_imports_are_declared():
    allowed = declared("core", "lab", "test", "site")
    files = list((ROOT / "tests").rglob("*.py")) + list((ROOT / "site").rglob("*.py"))
    missing = {m: sorted(where) for m, where in third_party_imports(files).items()
               if m not in OPTIONAL and distribution_of(m) not in allowed
               # pulled in by a declared package and imported for its own sake here
               and distribution_of(m) not in ("cloudpickle",)}
    assert not missing, f"imported by tests/ or site/ but not declared: {missing}"


def test_the_core_install_does_not_pull_jupyterlab():
    core = declared("core")
    assert not core & {"jupyterlab", "ipywidgets", "matplotlib", "bokeh",
                       "dask-labextension", "jupyter-server-proxy"}


def test_a_license_file_ships_and_the_metadata_names_it():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
