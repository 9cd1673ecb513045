"""``detectors/`` sees pixels and a site configuration, never the simulator, the evaluation, the
training code or the scenario library: no module of it (subfolders included) imports ``sim``,
``eval``, ``train`` or ``scenarios``. ``sim/`` takes from ``detectors/`` the event vocabulary,
the ``Frame`` type and the file writer only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FORBIDDEN = ("sim", "eval", "train", "scenarios")
ROOT = Path(__file__).resolve().parents[1]
DETECTORS = ROOT / "detectors"
#: the modules of detectors/ that sim/ may import
SIM_MAY_IMPORT = ("detectors.events", "detectors.source", "detectors.files")


def forbidden_imports(source: str, filename: str = "<snippet>", forbidden=FORBIDDEN) -> list[str]:
    """``'line N: module'`` for every import of a ``forbidden`` top-level package in ``source``,
    including ``importlib.import_module('sim...')`` and ``__import__('sim...')`` with a literal name."""
    return [f"line {line}: {name}" for line, name in imported_names(source, filename)
            if name.split(".")[0] in forbidden]


def imported_names(source: str, filename: str = "<snippet>", *, submodules: bool = False) -> list[tuple[int, str]]:
    """``(line, module)`` of every absolute import in ``source``: ``from m import x`` gives ``m``,
    or ``m.x`` with ``submodules`` when ``m`` is a top-level package (``from detectors import files``)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names] if submodules and "." not in node.module \
                else [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__"):
                names = [node.args[0].value]
        found += [(node.lineno, n) for n in names]
    return found


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_detectors_package_exists():
    assert len(_python_files(DETECTORS)) >= 8


@pytest.mark.parametrize("path", _python_files(DETECTORS), ids=lambda p: str(p.relative_to(DETECTORS)))
def test_no_detectors_module_imports_sim_eval_train_or_scenarios(path):
    assert forbidden_imports(path.read_text(encoding="utf-8"), str(path)) == []


def test_the_rule_sees_the_modules_of_subfolders(tmp_path):
    nested = tmp_path / "detectors" / "learned"
    nested.mkdir(parents=True)
    (nested / "model.py").write_text("from sim.world.model import StationModel\n")
    found = {p.name: forbidden_imports(p.read_text(), str(p)) for p in _python_files(tmp_path / "detectors")}
    assert found == {"model.py": ["line 1: sim.world.model"]}


@pytest.mark.parametrize("path", _python_files(ROOT / "sim"), ids=lambda p: str(p.relative_to(ROOT / "sim")))
def test_sim_takes_only_the_vocabulary_the_frame_type_and_the_writer_from_detectors(path):
    source = path.read_text(encoding="utf-8")
    taken = [f"line {line}: {name}" for line, name in imported_names(source, str(path), submodules=True)
             if name.split(".")[0] == "detectors" and name not in SIM_MAY_IMPORT]
    assert taken == []


@pytest.mark.parametrize("snippet, expected", [
    ("import sim", ["line 1: sim"]),
    ("import numpy\nimport sim.render as r", ["line 2: sim.render"]),
    ("from sim.state import CrowdState", ["line 1: sim.state"]),
    ("from eval import metrics", ["line 1: eval"]),
    ("def f():\n    import scenarios", ["line 2: scenarios"]),
    ("import importlib\nm = importlib.import_module('sim.model')", ["line 2: sim.model"]),
    ("__import__('eval.run')", ["line 1: eval.run"]),
    # not forbidden: other packages whose names merely start alike, relative imports, detectors itself
    ("from train.density import fit", ["line 1: train.density"]),
    ("import simplejson, evaluate\nfrom scenario_tools import x, trainer", []),
    ("from detectors.events import EventType\nfrom . import site", []),
])
def test_the_rule_catches_a_bad_snippet(snippet, expected):
    assert forbidden_imports(snippet) == expected


def test_a_submodule_taken_from_a_package_is_named():
    snippet = "from detectors import files, site\nfrom detectors.events import EventType"
    assert imported_names(snippet, submodules=True) == [(1, "detectors.files"), (1, "detectors.site"),
                                                        (2, "detectors.events")]
