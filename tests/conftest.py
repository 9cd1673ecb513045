"""Fixtures shared by the tests (plain builders are in ``tests/helpers.py``)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def platform_intrusion():
    """The library's ``platform_intrusion`` scenario (frozen: tests may share it)."""
    from sim.scenario import load_scenario

    return load_scenario("platform_intrusion")
