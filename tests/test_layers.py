"""The folders are the architecture: imports point down only, and there are no cycles.

    cli → present → apps → engines → concepts      (checks: used by all, imports nothing)

Every import counts, including those inside functions: a pure module that imports
``distributed`` lazily is still not pure.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "distlab"
LAYERS = ["concepts", "engines", "apps", "present", "cli"]      # bottom to top
# third-party modules a layer may not import at all
FORBIDDEN_THIRD_PARTY = {
    "concepts": {"distributed", "dask", "ipywidgets", "matplotlib", "IPython", "torch",
                 "bokeh", "sklearn"},
    "engines": {"matplotlib"},
    "apps": {"matplotlib"},
    "checks": {"distributed", "dask", "ipywidgets", "matplotlib", "numpy", "pandas"},
}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imports_of(name, path):
    """Every module that ``path`` imports, absolute and dotted (relative ones resolved)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            # `from distlab.engines import spmd` imports the submodule distlab.engines.spmd
            for alias in node.names:
                if (PACKAGE.parent / Path(*f"{module}.{alias.name}".split("."))).with_suffix(
                        ".py").exists() or (PACKAGE.parent / Path(
                        *f"{module}.{alias.name}".split("."))).is_dir():
                    found.add(f"{module}.{alias.name}")
    return found


def layer_of(name):
    parts = name.split(".")
    if len(parts) == 1:
        return "top"
    return parts[1] if parts[1] in LAYERS or parts[1] == "checks" else "top"


GRAPH = {name: imports_of(name, path) for name, path in modules()}


def test_every_module_sits_in_a_layer():
    loose = [n for n in GRAPH if layer_of(n) == "top"
             and n not in ("distlab", "distlab.__main__")]
    assert not loose, f"modules outside the layer folders: {loose}"


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_point_down(name):
    layer = layer_of(name)
    if layer == "top":
        return
    bad = []
    for imported in GRAPH[name]:
        root = imported.split(".")[0]
        if root in FORBIDDEN_THIRD_PARTY.get(layer, ()):
            bad.append(imported)
        if root == "distlab":
            other = layer_of(imported)
            if layer == "checks" and imported != "distlab.checks":
                bad.append(imported)
            elif other in LAYERS and layer in LAYERS \
                    and LAYERS.index(other) > LAYERS.index(layer):
                bad.append(imported)
    assert not bad, f"{name} ({layer}) imports what it may not: {sorted(bad)}"


def test_no_import_cycles():
    graph = {n: {i for i in deps if i in GRAPH and i != n and not n.startswith(i + ".")
                 and i != "distlab"}
             for n, deps in GRAPH.items()}
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node)
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_the_checker_sees_a_lazy_import(tmp_path):
    """The rule would be empty if imports inside functions went unseen."""
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from distributed import wait\n")
    assert "distributed" in imports_of("distlab.concepts.m", module)


def readme_tree():
    """The files named in the README's package map (the block under "## Layout" that
    starts with ``distlab/``): lines drawn as ``├── name`` / ``└── name``, nested by four
    columns per level."""
    text = (PACKAGE.parent / "README.md").read_text().split("## Layout", 1)[1]
    blocks = text.split("```")[1::2]
    block = next(b for b in blocks if b.strip().startswith("distlab/"))
    stack, found = [], set()
    for line in block.splitlines():
        marker = max(line.find("├── "), line.find("└── "))
        if marker < 0:
            if line.startswith("distlab/"):
                stack = ["distlab"]
            continue
        depth = marker // 4 + 1
        name = line[marker + 4:].split()[0].rstrip("/")
        stack = stack[:depth] + [name]
        found.add("/".join(stack))
    return found


def test_the_readme_map_matches_the_folders():
    on_disk = {str(p.relative_to(PACKAGE.parent).with_suffix("")) if p.suffix == ".py"
               else str(p.relative_to(PACKAGE.parent))
               for p in PACKAGE.rglob("*") if "__pycache__" not in p.parts
               and (p.suffix in (".py", ".toml") or p.is_dir())
               and p.name != "__init__.py"}
    on_disk = {p.removesuffix(".toml") for p in on_disk}
    drawn = {p.removesuffix(".py").removesuffix(".toml") for p in readme_tree()}
    assert drawn == on_disk, (f"in the README but not in distlab/: {sorted(drawn - on_disk)}; "
                              f"in distlab/ but not in the README: {sorted(on_disk - drawn)}")
