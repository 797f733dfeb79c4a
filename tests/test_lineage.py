"""Lineage: ancestry, the story, the graph, pruning."""

from __future__ import annotations

import networkx as nx

from evosearch.engine.lineage import Lineage, Record


def _lineage() -> Lineage:
    lin = Lineage()
    lin.add(Record(0, None, "def train(...)\n", "f0", (1.0, 0.9), False))
    lin.add(Record(1, 0, "p1\n", "f1", (0.8,), False, ("constant",),
                   ("constant 1.2: 0.9 -> 0.95",)))
    lin.add(Record(2, 1, "p2\n", "f2", (0.7, 0.6), False, ("insert",), ("insert 0: t0 = sign(g)",)))
    lin.add(Record(3, 0, "p3\n", "f3", (2.0,), True, ("delete",), ("delete 4: x = y",)))
    return lin


def test_ancestry_story_and_graph():
    lin = _lineage()
    assert [r.id for r in lin.ancestry(2)] == [0, 1, 2]
    story = lin.story(2, ("s", "m"))
    assert "#0 (warm start; stage m, fitness 0.9)" in story
    assert "#1 from #0 (stage s, fitness 0.8):\n    constant 1.2: 0.9 -> 0.95" in story
    assert story.rstrip().endswith("p2")
    g = lin.graph(2)
    assert list(nx.topological_sort(g)) == [0, 1, 2]
    assert g.edges[1, 2]["edits"] == "insert 0: t0 = sign(g)"
    assert g.nodes[2]["stage"] == 1


def test_prune_keeps_ancestors_of_what_is_kept():
    lin = _lineage()
    assert lin.prune([2]) == 1
    assert sorted(lin.records) == [0, 1, 2]
    again = Lineage.from_json(lin.to_json())
    assert again.records == lin.records
