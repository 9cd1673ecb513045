"""The library's fingerprints stay put unless a change means to move them (see tests/pinned.py)."""

import json

import pytest

from tests import pinned

OLD = json.loads(pinned.PINNED.read_text())


@pytest.fixture(scope="module")
def now() -> dict:
    """Every fingerprint, computed once on the code path of the pinned file (:func:`pinned.fingerprint_portably`)."""
    return pinned.fingerprint_portably()


@pytest.mark.parametrize("name", sorted(OLD["scenarios"]))
def test_scenario_fingerprint_is_pinned(name, now):
    assert now["scenarios"][name] == OLD["scenarios"][name]


@pytest.mark.parametrize("name", pinned.DEMO)
def test_demo_metrics_are_pinned(name, now):
    now = now["demo"][name]
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


def test_portable_environment_is_what_numpy_reads(monkeypatch):
    """The child process's settings name numpy's dispatch targets above x86-64-v3 (a misspelt name
    would leave AVX-512 kernels on and the pinned file unreproducible on such processors)."""
    import numpy as np

    targets = set(getattr(np._core._multiarray_umath, "__cpu_dispatch__", ()))
    if not targets:
        pytest.skip("this numpy exposes no dispatch targets (not an x86-64 build)")
    wanted = set(pinned.PORTABLE_ENV["NPY_DISABLE_CPU_FEATURES"].split())
    assert wanted <= targets, (wanted - targets, targets)
    assert "X86_V3" in targets and "X86_V3" not in wanted
    monkeypatch.setattr(pinned, "_has_avx512", lambda: True)
    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)
    assert not pinned.portable_here()
    for k, v in pinned.PORTABLE_ENV.items():
        monkeypatch.setenv(k, v)
    assert pinned.portable_here()
