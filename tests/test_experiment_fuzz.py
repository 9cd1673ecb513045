"""Mutated experiment files either load or raise ExperimentError naming a key; nothing else escapes and nothing
is written (the mutation engine of every format: tests/fuzz.py)."""

from __future__ import annotations

import functools
import json

import pytest
import yaml
from hypothesis import given, settings

from eval.experiment import ExperimentError, load_experiment
from tests.fuzz import FUZZ, corrupted, keys_of, loads_or_raises, mutation, workdir, write_bytes  # noqa: F401

VALID = {
    "name": "fuzz", "scenarios": ["concourse_quiet"], "seeds": [1, 2], "duration_s": 5,
    "variants": [{"name": "base"}, {"name": "night", "set": {"render.lighting": "night"}}],
    "vary": {"render.noise_std": [2, 4]},
    "detectors": [{"name": "builtin", "policies": {"excessive_density": {"threshold": 0.5}}},
                  {"name": "bb", "command": ["{python}", "x.py", "{video}", "{alerts}"], "timeout_s": 5,
                   "types": ["intrusion"], "alerts": {"format": "csv", "columns": {"t": "time", "type": "label"}}}],
    "matching": {"spatial": "alert_time", "early_s": 1.0, "grace_s": {"intrusion": 2}},
    "outputs": {"video": False, "thumbnails": "errors"},
}


@pytest.fixture(scope="module", autouse=True)
def cached_scenarios():
    """Scenario loading dominates each example; mutations that leave scenarios and variants alone reuse it."""
    import sim.scenario

    real = sim.scenario.load_scenario

    @functools.lru_cache(maxsize=256)
    def cached(ref, overrides_json):
        return real(ref, json.loads(overrides_json))

    def load(ref, overrides=None):
        try:
            key = json.dumps(overrides or {}, sort_keys=True)
        except (TypeError, ValueError):
            return real(ref, overrides)
        return cached(ref, key)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sim.scenario, "load_scenario", load)
        yield


@settings(max_examples=1000, **FUZZ)
@given(mutation(VALID))
def test_mutations_load_or_raise_the_formats_error(mutated):
    loads_or_raises(lambda: load_experiment(data=mutated), ExperimentError, keys=keys_of(VALID),
                    prefix="experiment ", watch=".")


@settings(max_examples=200, **FUZZ)
@given(corrupted(yaml.safe_dump(VALID).encode()))
def test_truncated_or_corrupted_text(text):
    path = write_bytes(".", "exp.yaml", text)
    # a file that is not text or not YAML is named by its path, as every format's file is
    loads_or_raises(lambda: load_experiment(path), ExperimentError, keys=keys_of(VALID),
                    prefix=("experiment ", f"{path}: "), watch=".")
