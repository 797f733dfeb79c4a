"""The modules of ``programs`` import each other in one direction only.

An import hidden inside a function still makes a cycle: it only moves the failure from import
time to the first call, and makes the order in which modules may be loaded a puzzle. This test
reads every import statement of the package (at any depth of the syntax tree) and requires the
module graph to be acyclic.
"""

import ast
from pathlib import Path

import networkx as nx

import programs

ROOT = Path(programs.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.AST, here: str, modules: set[str]) -> set[str]:
    """The modules of the package that an import statement loads."""
    names: set[str] = set()
    if isinstance(node, ast.Import):
        names = {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
        names = {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {n for n in names if n in modules and n != here}


def import_graph() -> nx.DiGraph:
    files = sorted(ROOT.rglob("*.py"))
    modules = {_module_name(f) for f in files}
    graph = nx.DiGraph()
    for f in files:
        here = _module_name(f)
        graph.add_node(here)
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            for target in _imported(node, here, modules):
                graph.add_edge(here, target)
    return graph


def test_the_package_has_modules_to_check():
    graph = import_graph()
    assert {"programs.program", "programs.text", "programs.analysis"} <= set(graph)
    assert graph.has_edge("programs.text", "programs.program")


def test_modules_import_each_other_in_one_direction():
    graph = import_graph()
    # The package's __init__ re-exports everything: it imports, nothing imports it.
    inner = graph.subgraph(n for n in graph if n not in ("programs", "programs.export"))
    cycles = list(nx.simple_cycles(inner))
    assert cycles == [], f"import cycles: {cycles}"


def test_nothing_inside_the_package_imports_its_top_level():
    graph = import_graph()
    assert list(graph.predecessors("programs")) == []
