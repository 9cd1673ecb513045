"""The library's fingerprints stay put unless a change means to move them (see tests/pinned.py)."""

import json

import pytest

from tests import pinned

OLD = json.loads(pinned.PINNED.read_text())


@pytest.mark.parametrize("name", sorted(OLD["scenarios"]))
def test_scenario_fingerprint_is_pinned(name):
    assert pinned.scenario_fingerprint(name) == OLD["scenarios"][name]


@pytest.mark.parametrize("name", pinned.DEMO)
def test_demo_metrics_are_pinned(name, tmp_path):
    assert pinned.demo_metrics(name, tmp_path) == OLD["demo"][name]
