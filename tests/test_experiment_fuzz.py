"""Mutated experiment files either load or raise ExperimentError naming a key; nothing else escapes."""

from __future__ import annotations

import copy
import functools
import json

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eval.experiment import ExperimentError, load_experiment

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


ODD = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                st.text(max_size=12), st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=4),
                                                                                            st.integers(), max_size=2))


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(VALID) if p]


def _mutate(data, path, how, value):
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    key = path[-1]
    if how == "drop":
        del parent[key]
    elif how == "retype":
        parent[key] = value
    elif how == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    elif how == "rename" and isinstance(parent, dict):
        parent[f"{key}_x"] = parent.pop(key)
    elif how == "nest":
        parent[key] = {"value": parent[key]}
    elif how == "empty":
        parent[key] = [] if isinstance(parent[key], list) else {}
    return data


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), st.sampled_from(["drop", "retype", "duplicate", "rename", "nest", "empty"]), ODD)
@example(("variants", 1, "set"), "retype", {"": 0, "0": 0})  # a scenario error listing two keys: still one line
@example(("detectors", 1, "alerts"), "retype", {"\n": 0})  # a key with a line break: still one line
def test_mutations_load_or_raise_the_formats_error(path, how, value):
    data = _mutate(copy.deepcopy(VALID), path, how, value)
    try:
        load_experiment(data=data)
    except ExperimentError as exc:
        assert str(exc).startswith("experiment ") and "\n" not in str(exc)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 400), st.binary(max_size=8))
def test_truncated_or_corrupted_text(tmp_path_factory, cut, junk):
    text = yaml.safe_dump(VALID).encode()
    path = tmp_path_factory.mktemp("fz") / "exp.yaml"
    path.write_bytes(text[:cut] + junk)
    try:
        load_experiment(path)
    except ExperimentError as exc:
        assert "\n" not in str(exc)
