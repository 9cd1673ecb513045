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
    now = pinned.demo_metrics(name, tmp_path)
    assert now["rows"] == OLD["demo"][name]["rows"]
    assert now["alerts"] == OLD["demo"][name]["alerts"]
    assert pinned.same_demo(now, OLD["demo"][name]), (now["scores"], OLD["demo"][name]["scores"])


def test_same_demo_tolerates_float_noise_only():
    base = {"rows": [{"tp": 1}], "alerts": "ab", "scores": {"hall/fire": [300, 12.5, 0.8]}}
    noisy = {**base, "scores": {"hall/fire": [300, 12.5 + 0.2, 0.8 + 5e-4]}}  # 0.2 <= 1e-3 * 300
    assert pinned.same_demo(noisy, base)
    moved = {**base, "scores": {"hall/fire": [300, 12.5 + 0.4, 0.8]}}  # 0.4 > 0.3
    assert not pinned.same_demo(moved, base)
    assert not pinned.same_demo({**base, "scores": {"hall/fire": [299, 12.5, 0.8]}}, base)
    assert not pinned.same_demo({**base, "alerts": "cd"}, base)
    assert not pinned.same_demo({**base, "scores": {}}, base)
