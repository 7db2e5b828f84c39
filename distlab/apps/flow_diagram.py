"""The document's Mermaid flow (2.4) as data: its stages, its edges, and Mermaid text.

``mermaid()`` writes the diagram back exactly as the document prints it (so
``mermaid() == DOCUMENT_MERMAID``), optionally with a path highlighted; ``parse_mermaid``
reads such text back into nodes and edges, so a test can compare the two; ``Diagram``
makes JupyterLab draw it. The walk that runs each stage on the cluster is
:mod:`distlab.apps.flow`. Pure: no cluster, no Dask.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from distlab.checks import choice, flag

#: The diagram exactly as printed in the document (section 2.4).
DOCUMENT_MERMAID = """\
graph TD
    A[初始化分布式系统] --> B[数据同步策略选择]
    B -->|强一致性| C[实现强一致性同步]
    B -->|最终一致性| D[实现最终一致性同步]
    D --> E[算法并行化]
    E --> F[任务划分和负载均衡]
    F --> G[执行并行计算]
    G --> H[结果收集和汇总]"""

#: Stage id → (the document's label, English).
STAGES = {
    "A": ("初始化分布式系统", "initialise the distributed system"),
    "B": ("数据同步策略选择", "choose a data-sync strategy"),
    "C": ("实现强一致性同步", "strong-consistency sync"),
    "D": ("实现最终一致性同步", "eventual-consistency sync"),
    "E": ("算法并行化", "parallelise the algorithm"),
    "F": ("任务划分和负载均衡", "partition tasks and balance the load"),
    "G": ("执行并行计算", "run the parallel computation"),
    "H": ("结果收集和汇总", "collect and combine the results"),
}

#: (source, target, edge label or None), in the document's order.
DOCUMENT_EDGES = (("A", "B", None), ("B", "C", "强一致性"), ("B", "D", "最终一致性"),
                  ("D", "E", None), ("E", "F", None), ("F", "G", None), ("G", "H", None))
#: The document's edges plus the one its strong branch is missing.
COMPLETED_EDGES = DOCUMENT_EDGES + (("C", "E", None),)
#: Strategy name → the label of the edge out of B it takes.
STRATEGIES = {"strong": "强一致性", "eventual": "最终一致性"}

_HIGHLIGHT = "stroke:#d62728,stroke-width:3px"
# Compact layout: the eight stages on one label line each, ~430 × 440 px drawn instead of
# ~290 × 720 (Mermaid's flowchart options: https://mermaid.js.org/config/schema-docs/config.html)
_COMPACT = ('%%{init: {"flowchart": {"padding": 8, "wrappingWidth": 400, "nodeSpacing": 20, '
            '"rankSpacing": 20}}}%%')


def _check_edges(edges) -> tuple:
    """``edges`` as a tuple of (source, target, label) triples naming stages of
    :data:`STAGES`; ``TypeError`` / ``ValueError`` naming the bad edge otherwise."""
    if isinstance(edges, (str, bytes)) or not hasattr(edges, "__iter__"):
        raise TypeError(f"edges must be a list of (source, target, label) tuples, "
                        f"got {type(edges).__name__}")
    edges = tuple(edges)
    if not edges:
        raise ValueError("edges must hold at least one edge")
    for i, edge in enumerate(edges):
        if not (isinstance(edge, tuple) and len(edge) == 3):
            raise TypeError(f"edges[{i}] must be a (source, target, label) tuple, got {edge!r}")
        choice(f"edges[{i}][0] (a stage)", edge[0], STAGES)
        choice(f"edges[{i}][1] (a stage)", edge[1], STAGES)
    return edges


def mermaid(edges=DOCUMENT_EDGES, highlight=(), *, bilingual: bool = False) -> str:
    """The flow as Mermaid text. Each node's label is written where it first appears, as
    in the document, so ``mermaid() == DOCUMENT_MERMAID``. ``highlight`` — a path of stage
    ids — colours those nodes and the edges between consecutive ones. ``bilingual`` writes
    each label as "中文 · English" (the English of :data:`STAGES`) in a compact layout, for
    readers of either language; the nodes and edges stay the document's. Raises
    ``TypeError`` (edges or highlight not a list, an edge not a triple, bilingual not a
    bool) or ``ValueError`` (no edges, a stage id not in :data:`STAGES`)."""
    edges = _check_edges(edges)
    if isinstance(highlight, (str, bytes)) or not hasattr(highlight, "__iter__"):
        raise TypeError(f"highlight must be a list of stage ids, got {type(highlight).__name__}")
    path = [choice(f"highlight[{i}]", node, STAGES) for i, node in enumerate(highlight)]
    bilingual = flag("bilingual", bilingual)
    english = {label: name for name, label in STRATEGIES.items()}      # edge labels
    declared: set = set()

    def node(name: str) -> str:
        if name in declared:
            return name
        declared.add(name)
        chinese, translation = STAGES[name]
        return f'{name}["{chinese} · {translation}"]' if bilingual else f"{name}[{chinese}]"

    lines = [_COMPACT, "graph TD"] if bilingual else ["graph TD"]
    for src, dst, label in edges:
        if label and bilingual:
            label = f'"{label} · {english.get(label, label)}"'
        arrow = f"-->|{label}|" if label else "-->"
        lines.append(f"    {node(src)} {arrow} {node(dst)}")
    if path:
        steps = set(zip(path, path[1:]))
        taken = [i for i, (s, d, _) in enumerate(edges) if (s, d) in steps]
        lines.append(f"    classDef taken fill:#fde2e2,{_HIGHLIGHT}")
        lines.append(f"    class {','.join(path)} taken")
        if taken:
            lines.append(f"    linkStyle {','.join(map(str, taken))} {_HIGHLIGHT}")
    return "\n".join(lines)


_EDGE = re.compile(r"^\s*(\w+)(?:\[([^\]]*)\])?\s*-->(?:\|([^|]*)\|)?\s*(\w+)(?:\[([^\]]*)\])?\s*$")


def parse_mermaid(text: str) -> tuple[dict, set]:
    """The nodes ({id: label}) and edges ({(source, target, label or None)}) of a Mermaid
    ``graph`` made of ``A[label] -->|edge label| B[label]`` lines; style lines are skipped.
    Raises ``TypeError`` when ``text`` is not a string."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    nodes: dict = {}
    edges: set = set()
    for line in text.splitlines():                      # "graph TD", %% and styles skipped
        match = _EDGE.match(line)
        if not match:
            continue
        src, src_label, label, dst, dst_label = match.groups()
        for name, node_label in ((src, src_label), (dst, dst_label)):
            if node_label is not None:
                nodes[name] = node_label
            nodes.setdefault(name, None)
        edges.add((src, dst, label or None))
    return nodes, edges


@dataclass(frozen=True)
class Diagram:
    """Mermaid text that JupyterLab (≥ 4.1) draws when it is a cell's result. ``TypeError``
    when ``text`` is not a string."""
    text: str

    def __post_init__(self):
        if not isinstance(self.text, str):
            raise TypeError(f"text must be a string of Mermaid, got {type(self.text).__name__}")

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/vnd.mermaid": self.text, "text/plain": self.text}
