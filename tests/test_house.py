"""The shape of ``sim/``: imports that point one way (no cycle), modules and functions a reader can hold.

The import graph is read with ``ast`` from every ``sim/**.py``: each absolute import of a
``sim`` module, at module level or inside a function, is an edge; imports under
``if TYPE_CHECKING:`` (annotations only) are not. ``from sim.a import b`` points at the
module ``sim.a.b`` when that is a module, else at ``sim.a``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIM = ROOT / "sim"
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 120
#: folders whose long functions are their own half's to explain (sim/render: raster._fill_kernel)
LONG_FUNCTIONS_CHECKED_ELSEWHERE = ("render",)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes under an ``if TYPE_CHECKING:`` block."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            for child in node.body:
                skip.update(id(n) for n in ast.walk(child))
    return skip


def import_graph(root: Path = ROOT, package: str = "sim") -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (see the module docstring)."""
    files = {module_name(p, root): p for p in (root / package).rglob("*.py") if "__pycache__" not in p.parts}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                           for a in node.names]
            graph[mod].update(t for t in targets if t in files and t != mod)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_sim_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) >= 20  # the whole package was read
    assert cycles(graph) == []


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import(tmp_path):
    pkg = tmp_path / "sim"
    (pkg / "world").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "world" / "__init__.py").write_text("")
    (pkg / "world" / "model.py").write_text("from sim.scripts import build\nfrom sim import errors\n")
    (pkg / "scripts.py").write_text("def f():\n    from sim.world.model import Model\n")
    (pkg / "errors.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                   "    from sim.world.model import Model\n")
    graph = import_graph(tmp_path)
    assert graph["sim.world.model"] == {"sim.scripts", "sim.errors"}
    assert graph["sim.errors"] == set()  # annotations only
    assert cycles(graph) == [["sim.scripts", "sim.world.model"]]


def _modules() -> list[Path]:
    return sorted(p for p in SIM.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SIM)))
def test_modules_stay_short(path):
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_MODULE_LINES, f"{path.name}: {n} lines"


@pytest.mark.parametrize("path", [p for p in _modules() if p.relative_to(SIM).parts[0] not in LONG_FUNCTIONS_CHECKED_ELSEWHERE],
                         ids=lambda p: str(p.relative_to(SIM)))
def test_long_functions_say_why(path):
    """A function over MAX_FUNCTION_LINES carries a ``# long:`` comment in its first lines."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    unexplained = []
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            if n > MAX_FUNCTION_LINES and not any("# long:" in line for line in lines[node.lineno - 1:node.lineno + 9]):
                unexplained.append(f"{node.name} ({n} lines)")
    assert unexplained == []
