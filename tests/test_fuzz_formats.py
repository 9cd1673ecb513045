"""Every file format the testbed reads, fuzzed by one engine (tests/fuzz.py): 1,000 mutated documents and 200
corrupted texts per format. Each input loads or raises the format's own error naming a key; nothing else escapes
and nothing is written. (The experiment file has its own test on the same engine: test_experiment_fuzz.py.)"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from hypothesis import given, settings

from detectors.site import SiteConfig, SiteError
from eval.alert_readers import AlertFileError, read_alerts_file
from eval.ground_truth import GroundTruthError, ground_truth_from_data, read_ground_truth_file
from sim.scenario import ScenarioError, build_scenario, load_scenario
from tests.fuzz import FUZZ, corrupted, keys_of, loads_or_raises, mutation, workdir, write_bytes  # noqa: F401
from tests.helpers import TINY_SCENARIO

SCENARIO = {
    **yaml.safe_load(TINY_SCENARIO),
    "events": [{"type": "intrusion", "id": "x", "at_s": 3, "start": [1, 3], "path": [[5, 3]], "dwell_index": 0,
                "dwell_s": 2, "exit": "east"},
               {"type": "person_on_ground", "id": "f", "at_s": 2, "at": [7, 3]}],
    "distractors": [{"type": "sitting", "at_s": 1, "at": [2, 2]}],
    "render": {"noise_std": 2, "lighting": "day", "occluders": [{"center": [5, 1, 1], "size": [1, 1]}]},
    "truth": {"abandoned_after_s": 20},
}
SCENARIO["station"]["entrances"] = [{"name": "west", "segment": [[0, 2], [0, 4]], "rate_per_min": 10}]
SCENARIO["crowd"]["group_sizes"] = {1: 0.7, 2: 0.3}

SITE = {"camera": "cam", "image_size": [64, 48], "fps": 10,
        "calibration": {"homography": [[10, 0, 0], [0, 10, 0], [0, 0, 1]],
                        "projection": [[10, 0, 0, 0], [0, 10, -5, 0], [0, 0, 0, 1]]},
        "zones": [{"name": "tracks", "kind": "forbidden", "polygon": [[1, 1], [3, 1], [3, 3], [1, 3]]},
                  {"name": "corridor", "kind": "one_way", "polygon": [[3, 0], [6, 0], [6, 2], [3, 2]],
                   "direction_deg": 90},
                  {"name": "hall", "kind": "density", "polygon": [[0, 3], [6, 3], [6, 4.5], [0, 4.5]],
                   "capacity_per_m2": 2.0}]}
SITE_POINTS = {**SITE, "calibration": {"points": [
    {"ground": [0, 0], "image": [0, 0]}, {"ground": [6, 0], "image": [60, 0]}, {"ground": [6, 4], "image": [60, 40]},
    {"ground": [0, 4], "image": [0, 40]}]}}

GROUND_TRUTH = {
    "format": "stationwatch.ground_truth/1", "scenario": "platform_intrusion", "seed": 21, "duration_s": 70.0,
    "cameras": [{"name": "platform", "fps": 10.0, "resolution": [640, 360], "duration_s": 70.0},
                {"name": "hall", "fps": 12.5, "resolution": [320, 180], "duration_s": 60.0}],
    "instances": [{"id": "intruder", "type": "intrusion", "camera": "platform", "t_start": 29.85, "t_end": 36.4,
                   "bbox_at_onset": [310.0, 150.2, 21.5, 60.3], "visible_fraction_at_onset": 1.0,
                   "track": [[29.9, 310.0, 150.2, 21.5, 60.3], [30.0, 311.0, 150.0, 21.0, 60.0]],
                   "appearance_groups": ["dark_formal"]},
                  {"id": "crowd", "type": "excessive_density", "camera": "hall", "t_start": 10.0, "t_end": None,
                   "bbox_at_onset": None}],
    "world_events": [{"id": "intruder", "type": "intrusion", "t_start": 29.85, "t_end": 36.4, "agent_ids": [57]}],
    "variant": "base", "overrides": {"render.noise_std": 2},
}

ALERTS = [{"camera": "platform", "type": "intrusion", "t": 30.2, "score": 0.93, "bbox": [310, 150, 21, 60]},
          {"camera": "hall", "type": "excessive_density", "t": 12.0, "score": 1.0},
          {"camera": "platform", "type": "fire", "t": 0.0, "score": -2.5, "bbox": None}]


def test_the_valid_documents_load(workdir):
    build_scenario(SCENARIO, where="fuzz")
    SiteConfig.from_dict(SITE)
    SiteConfig.from_dict(SITE_POINTS)
    assert len(ground_truth_from_data(GROUND_TRUTH).instances) == 2
    path = write_bytes(workdir, "alerts.jsonl", "".join(json.dumps(a) + "\n" for a in ALERTS).encode())
    assert len(read_alerts_file(path)) == 3


# --- scenario -----------------------------------------------------------------------------------------------


@settings(max_examples=1000, **FUZZ)
@given(mutation(SCENARIO))
def test_scenario_mutations(mutated):
    loads_or_raises(lambda: build_scenario(mutated, where="fuzz"), ScenarioError, keys=keys_of(SCENARIO),
                    prefix="scenario 'fuzz': ", one_line=False, watch=".")


@settings(max_examples=200, **FUZZ)
@given(corrupted(yaml.safe_dump(SCENARIO).encode()))
def test_scenario_texts(text):
    path = write_bytes(".", "scenario.yaml", text)
    loads_or_raises(lambda: load_scenario(path), ScenarioError, keys=keys_of(SCENARIO), one_line=False, watch=".")


# --- site configuration -----------------------------------------------------------------------------------


@settings(max_examples=1000, **FUZZ)
@given(mutation(SITE))
def test_site_mutations(mutated):
    loads_or_raises(lambda: SiteConfig.from_dict(mutated, where="site.yaml"), SiteError, keys=keys_of(SITE),
                    prefix="site.yaml", watch=".")


@settings(max_examples=300, **FUZZ)
@given(mutation(SITE_POINTS))
def test_site_mutations_of_point_calibrations(mutated):
    loads_or_raises(lambda: SiteConfig.from_dict(mutated, where="site.yaml"), SiteError, keys=keys_of(SITE_POINTS),
                    prefix="site.yaml", watch=".")


@settings(max_examples=200, **FUZZ)
@given(corrupted(yaml.safe_dump(SITE).encode()))
def test_site_texts(text):
    path = write_bytes(".", "site.yaml", text)
    loads_or_raises(lambda: SiteConfig.load(path), SiteError, keys=keys_of(SITE), prefix=str(path), watch=".")


# --- ground truth ---------------------------------------------------------------------------------------------


@settings(max_examples=1000, **FUZZ)
@given(mutation(GROUND_TRUTH))
def test_ground_truth_mutations(mutated):
    loads_or_raises(lambda: ground_truth_from_data(mutated, where="gt.json"), GroundTruthError,
                    keys=keys_of(GROUND_TRUTH), prefix="gt.json", watch=".")


@settings(max_examples=200, **FUZZ)
@given(corrupted(json.dumps(GROUND_TRUTH, indent=1).encode()))
def test_ground_truth_texts(text):
    path = write_bytes(".", "gt.json", text)
    loads_or_raises(lambda: read_ground_truth_file(path), GroundTruthError, keys=keys_of(GROUND_TRUTH),
                    prefix=str(path), watch=".")


# --- alerts (JSON Lines) -----------------------------------------------------------------------------------


@settings(max_examples=1000, **FUZZ)
@given(mutation(ALERTS))
def test_alerts_mutations(mutated):
    path = write_bytes(".", "alerts.jsonl", "".join(json.dumps(a) + "\n" for a in mutated).encode())
    loads_or_raises(lambda: read_alerts_file(path), AlertFileError, keys=keys_of(ALERTS) | {"object"},
                    prefix=str(path), watch=".")


@settings(max_examples=200, **FUZZ)
@given(corrupted("".join(json.dumps(a) + "\n" for a in ALERTS).encode()))
def test_alerts_texts(text):
    path = write_bytes(".", "alerts.jsonl", text)
    loads_or_raises(lambda: read_alerts_file(path), AlertFileError, keys=keys_of(ALERTS), prefix=str(path),
                    watch=".")


@pytest.mark.parametrize("key", ["duration_s", "cameras.0.fps", "cameras.1.duration_s"])
def test_ground_truth_numbers_too_large_for_a_float_are_refused(key):
    """JSON integers have no size limit: 10**400 is a number no float holds (found by the fuzz test above)."""
    data = json.loads(json.dumps(GROUND_TRUTH))
    *path, last = [int(k) if k.isdigit() else k for k in key.split(".")]
    parent = data
    for k in path:
        parent = parent[k]
    parent[last] = 10**400
    where = "gt.json." + key.replace(".0.", "[0].").replace(".1.", "[1].")
    with pytest.raises(GroundTruthError, match=rf"^{re.escape(where)}: expected .*; got 1000000"):
        ground_truth_from_data(data, where="gt.json")
