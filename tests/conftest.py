"""Fixtures shared by the tests (plain builders are in ``tests/helpers.py``)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def platform_intrusion():
    """The library's ``platform_intrusion`` scenario (frozen: tests may share it)."""
    from sim.scenario import load_scenario

    return load_scenario("platform_intrusion")


DECISION_GRID = """
name: decision_grid
scenarios: [platform_intrusion]
seeds: [201, 901]
duration_s: 14
variants:
  - {name: day, set: {events.0.at_s: 2}}
  - {name: noisy, set: {events.0.at_s: 2, render.noise_std: 7, render.lighting: evening}}
detectors:
  - name: builtin
    detectors: [intrusion]
  - name: example_blackbox
    command: ["{python}", "EXAMPLE", "{video}", "--site", "{site}", "--out", "{alerts}"]
    types: [intrusion]
    timeout_s: 120
outputs: {thumbnails: errors}
"""


@pytest.fixture(scope="session")
def decision_grid(tmp_path_factory):
    """A small results folder for the decision commands (sweep, tune, compare, report): the first
    14 s of platform_intrusion with its intruder starting at 2 s (on the tracks from 8.85 s) at a
    tuning seed (201) and a held-out seed (901), by day and with noise in evening light, the built-in detectors
    beside the example black box."""
    return run_decision_grid(tmp_path_factory.mktemp("decision"), DECISION_GRID)


#: a black box that writes an empty alerts file: it misses every instance, so a report of a grid
#: holding it has at least one error to show, whatever the other detectors do on the footage
SILENT_BLACKBOX = """  - name: silent
    command: ["{python}", "-c", "import sys; open(sys.argv[1], 'w').close()", "{alerts}"]
    types: [intrusion]
    timeout_s: 60
"""


def run_decision_grid(root, text: str):
    """Run the experiment ``text`` (EXAMPLE: the example black box's path) into ``root/res``."""
    from pathlib import Path

    from eval.experiment import load_experiment
    from eval.grid import run_experiment

    example = Path(__file__).resolve().parents[1] / "examples" / "blackbox_detector.py"
    grid = root / "grid.yaml"
    grid.write_text(text.replace("EXAMPLE", str(example)))
    res = run_experiment(load_experiment(grid), root / "res", jobs=1, progress=False)
    assert res.failed == 0, res.failures
    return root / "res"
