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
    from pathlib import Path

    from eval.experiment import load_experiment
    from eval.grid import run_experiment

    root = tmp_path_factory.mktemp("decision")
    example = Path(__file__).resolve().parents[1] / "examples" / "blackbox_detector.py"
    grid = root / "grid.yaml"
    grid.write_text(DECISION_GRID.replace("EXAMPLE", str(example)))
    res = run_experiment(load_experiment(grid), root / "res", jobs=1, progress=False)
    assert res.failed == 0, res.failures
    return root / "res"
