"""The document's Mermaid flow (2.4): the same nodes and edges, and an executable walk."""
import pytest

from distlab.apps import flow

# Section 2.4 of the source document, copied verbatim.
DOCUMENT_DIAGRAM = """graph TD
    A[初始化分布式系统] --> B[数据同步策略选择]
    B -->|强一致性| C[实现强一致性同步]
    B -->|最终一致性| D[实现最终一致性同步]
    D --> E[算法并行化]
    E --> F[任务划分和负载均衡]
    F --> G[执行并行计算]
    G --> H[结果收集和汇总]
"""


def test_mermaid_has_exactly_the_documents_nodes_and_edges():
    nodes, edges = flow.parse_mermaid(flow.mermaid())
    doc_nodes, doc_edges = flow.parse_mermaid(DOCUMENT_DIAGRAM)
    assert nodes == doc_nodes and edges == doc_edges
    assert len(nodes) == 8 and len(edges) == 7
    assert ("B", "C", "强一致性") in edges and ("D", "E", None) in edges
    assert not any(src == "C" for src, _, _ in edges)          # the document's dead end
    assert flow.mermaid() == DOCUMENT_DIAGRAM.strip() == flow.DOCUMENT_MERMAID


def test_highlight_only_adds_styles_and_completed_adds_one_edge():
    text = flow.mermaid(highlight=["A", "B", "D", "E"])
    assert flow.parse_mermaid(text) == flow.parse_mermaid(DOCUMENT_DIAGRAM)
    assert "class A,B,D,E taken" in text and "linkStyle 0,2,3 " in text
    _, edges = flow.parse_mermaid(flow.mermaid(flow.COMPLETED_EDGES))
    assert edges - flow.parse_mermaid(DOCUMENT_DIAGRAM)[1] == {("C", "E", None)}
    bundle = flow.Diagram(text)._repr_mimebundle_()
    assert bundle["text/vnd.mermaid"] == text


@pytest.mark.parametrize("call, error, match", [
    (lambda: flow.mermaid(highlight=["Z"]), ValueError,
     r"highlight\[0\] must be one of 'A', 'B', .*; got 'Z'"),
    (lambda: flow.mermaid([("A", "Q", None)]), ValueError,
     r"edges\[0\]\[1\] \(a stage\) must be one of 'A', .*; got 'Q'"),
    (lambda: flow.mermaid([("A", "B")]), TypeError, "\\(source, target, label\\)"),
    (lambda: flow.mermaid([]), ValueError, "at least one edge"),
    (lambda: flow.parse_mermaid(None), TypeError, "string"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_walks_on_the_cluster(client):
    strong = flow.run(client, "strong")
    assert strong.path == ["A", "B", "C"] and strong.result is None
    assert "no edge leaves this stage" in strong.lines()[-1]
    eventual = flow.run(client, "eventual")
    assert eventual.path == ["A", "B", "D", "E", "F", "G", "H"]
    assert eventual.lines()[-1].endswith("computed in one process: True")
    fixed = flow.run(client, "strong", flow.COMPLETED_EDGES)
    assert fixed.path == ["A", "B", "C", "E", "F", "G", "H"]
    assert fixed.result == pytest.approx(eventual.result, rel=1e-9)
    assert "class A,B,D,E,F,G,H taken" in eventual.diagram().text
    # Deterministic: the same walk prints the same report.
    assert flow.run(client, "eventual").lines() == eventual.lines()
    with pytest.raises(ValueError, match="strategy must be one of 'strong', 'eventual'"):
        flow.run(client, "causal")
    with pytest.raises(TypeError, match="distributed.Client"):
        flow.run("client", "strong")


def test_the_bilingual_diagram_labels_every_stage_in_both_languages():
    from distlab.apps import flow_diagram
    text = flow_diagram.mermaid(bilingual=True)
    for name, (chinese, english) in flow_diagram.STAGES.items():
        assert f'{name}["{chinese} · {english}"]' in text
    assert flow_diagram.mermaid() == flow_diagram.DOCUMENT_MERMAID      # the document's, unchanged
    with pytest.raises(TypeError, match="bilingual"):
        flow_diagram.mermaid(bilingual="yes")
