"""``detectors/`` sees pixels and a site configuration, never the simulator, the evaluation or
the scenario library: no module of it imports ``sim``, ``eval`` or ``scenarios``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FORBIDDEN = ("sim", "eval", "scenarios")
DETECTORS = Path(__file__).resolve().parents[1] / "detectors"


def forbidden_imports(source: str, filename: str = "<snippet>") -> list[str]:
    """``'line N: module'`` for every import of a forbidden top-level package in ``source``,
    including ``importlib.import_module('sim...')`` and ``__import__('sim...')`` with a literal name."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__"):
                names = [node.args[0].value]
        found += [f"line {node.lineno}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    return found


def test_the_detectors_package_exists():
    assert len(list(DETECTORS.glob("*.py"))) >= 8


@pytest.mark.parametrize("path", sorted(DETECTORS.glob("*.py")), ids=lambda p: p.name)
def test_no_detectors_module_imports_sim_eval_or_scenarios(path):
    assert forbidden_imports(path.read_text(encoding="utf-8"), str(path)) == []


@pytest.mark.parametrize("snippet, expected", [
    ("import sim", ["line 1: sim"]),
    ("import numpy\nimport sim.render as r", ["line 2: sim.render"]),
    ("from sim.state import CrowdState", ["line 1: sim.state"]),
    ("from eval import metrics", ["line 1: eval"]),
    ("def f():\n    import scenarios", ["line 2: scenarios"]),
    ("import importlib\nm = importlib.import_module('sim.model')", ["line 2: sim.model"]),
    ("__import__('eval.run')", ["line 1: eval.run"]),
    # not forbidden: other packages whose names merely start alike, relative imports, detectors itself
    ("import simplejson, evaluate\nfrom scenario_tools import x", []),
    ("from detectors.events import EventType\nfrom . import site", []),
])
def test_the_rule_catches_a_bad_snippet(snippet, expected):
    assert forbidden_imports(snippet) == expected
