"""Scenario files: the library loads, ``extend`` merges, and bad files give clear errors."""

from pathlib import Path

import pytest
import yaml

from sim.scenario import ScenarioError, list_scenarios, load_scenario


def test_library_lists_the_foundation_scenarios_with_descriptions():
    names = dict(list_scenarios())
    assert {"concourse_quiet", "platform_intrusion", "concourse_overcrowding"} <= set(names)
    assert all(desc for desc in names.values())


def test_extend_merges_mappings_and_replaces_lists():
    base = load_scenario("concourse_quiet")
    child = load_scenario("concourse_overcrowding")
    assert child.name == "concourse_overcrowding"
    assert child.seed == 12 and base.seed == 11
    # the floor and the cameras come from the parent; lists the child gives replace the parent's
    assert child.station.walkable == base.station.walkable
    assert child.cameras == base.cameras
    assert len(child.station.entrances) == len(base.station.entrances) + 1
    assert len(child.station.obstacles) == len(base.station.obstacles) + 2
    assert len(base.station.trains) == 0 and len(child.station.trains) == 2
    assert child.description != base.description


def test_overrides_use_dotted_keys_and_change_the_hash():
    a = load_scenario("platform_intrusion")
    b = load_scenario("platform_intrusion", {"render.noise_std": 6})
    assert b.render.noise_std == 6
    assert a.content_hash() != b.content_hash()
    assert a.content_hash() == load_scenario("platform_intrusion").content_hash()


def _write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _base() -> dict:
    return {
        "extend": "platform_intrusion",
        "name": "bad",
    }


@pytest.mark.parametrize(
    "override, match",
    [
        ({"crowd": {"speeed_mps": 1.2}}, r"crowd\.speeed_mps: unknown key"),
        ({"events": [{"type": "intrusion", "at_s": 150, "start": [1, 1], "path": [[1, -1]]}]},
         r"events\[0\]\.at_s must be within \[0, duration_s=70\]; got 150"),
        ({"station": {"walkable": [[0, 0], [10, 10], [10, 0], [0, 10]]}},
         r"station\.walkable: polygon is self-intersecting: edge 0 .* crosses edge 2"),
        ({"cameras": [{"name": "c", "position": [0, 0, 3], "look_at": [10, 0, 6]}]},
         r"cameras\[0\]: the camera looks at the sky or the horizon"),
        ({"station": {"entrances": [{"name": "e", "segment": [[0, 0], [1, 0]], "rate_per_min": -2}]}},
         r"station\.entrances\[0\]\.rate_per_min: Input should be greater than or equal to 0; got -2"),
        ({"events": [{"type": "juggling", "at_s": 1}]}, r"events\[0\]"),
        ({"station": {"trains": [{"at_s": 5, "entrance": "nowhere", "count": 10}]}},
         r"station\.trains\[0\]\.entrance must name an entrance .*; got 'nowhere'"),
        ({"duration_s": -5}, r"duration_s: Input should be greater than 0; got -5"),
    ],
    ids=["unknown-key", "event-after-end", "self-intersecting", "camera-at-sky", "negative-rate",
         "unknown-event-type", "unknown-entrance", "negative-duration"],
)
def test_bad_scenario_files_name_the_key_the_expectation_and_the_value(tmp_path, override, match):
    path = _write(tmp_path, {**_base(), **override})
    with pytest.raises(ScenarioError, match=match) as info:
        load_scenario(path)
    assert str(info.value).startswith("scenario 'bad': ")


def test_a_good_file_next_to_the_bad_ones_loads(tmp_path):
    sc = load_scenario(_write(tmp_path, {**_base(), "duration_s": 55}))
    assert sc.duration_s == 55 and sc.name == "bad"


def test_unknown_scenario_name_lists_the_library():
    with pytest.raises(ScenarioError, match=r"no scenario named 'nope' in the library \(.*platform_intrusion"):
        load_scenario("nope")


def test_extend_cycle_is_reported(tmp_path):
    (tmp_path / "a.yaml").write_text("extend: b\nname: a\n")
    (tmp_path / "b.yaml").write_text("extend: a\nname: b\n")
    with pytest.raises(ScenarioError, match="cycle: a -> b -> a"):
        load_scenario(tmp_path / "a.yaml")


@pytest.mark.parametrize(
    "override, match",
    [
        ({"station": {"walkable": [[0, 0], [32, 0], [32, 7], [0, 7]],
                      "zones": [{"name": "tracks", "kind": "forbidden", "polygon": [[0, -4], [10, -4], [10, 1], [0, 1]]},
                                {"name": "hall", "kind": "density", "capacity_per_m2": 2,
                                 "polygon": [[5, 0.5], [12, 0.5], [12, 5], [5, 5]]}],
                      "entrances": [], "exits": [{"name": "x", "segment": [[0, 3], [0, 5]]}]},
          "events": []},
         r"station\.zones\[1\] zone 'hall' \(density\) overlaps zone 'tracks' \(forbidden\) at zones\[0\]"),
        ({"cameras": [{"name": "away", "position": [100, 100, 5], "look_at": [140, 140, 0]}]},
         r"cameras\[0\] camera 'away' sees none of the station"),
        ({"station": {"trains": [{"at_s": 500, "entrance": "stairs_west", "count": 10}]}},
         r"station\.trains\[0\]\.at_s must be within \[0, duration_s=70\]; got 500"),
    ],
    ids=["incompatible-zones", "camera-sees-nothing", "train-after-end"],
)
def test_station_checks_fail_before_any_simulation(tmp_path, override, match):
    with pytest.raises(ScenarioError, match=match):
        load_scenario(_write(tmp_path, {**_base(), **override}))


def test_touching_zones_of_incompatible_kinds_are_allowed():
    from sim.geometry import polygons_overlap

    square = [[0, 0], [1, 0], [1, 1], [0, 1]]
    assert not polygons_overlap(square, [[1, 0], [2, 0], [2, 1], [1, 1]])  # shares an edge
    assert polygons_overlap(square, [[0.5, 0.5], [2, 0.5], [2, 2], [0.5, 2]])  # crosses
    assert polygons_overlap(square, [[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]])  # contains


def test_a_timetable_expands_into_train_arrivals(tmp_path):
    tt = {"entrance": "stairs_west", "first_at_s": 10, "headway_s": 25, "count": 30, "exit": "stairs_east_out"}
    sc = load_scenario(_write(tmp_path, {**_base(), "station": {"timetable": [tt], "trains": []}}))
    # duration 70 s: arrivals at 10, 35 and 60 s
    assert [tr.at_s for tr in sc.station.trains] == [10, 10 + 25, 10 + 2 * 25]
    assert all(tr.count == 30 and tr.exit == "stairs_east_out" for tr in sc.station.trains)


def test_a_timetable_longer_than_the_scenario_is_refused(tmp_path):
    tt = {"entrance": "stairs_west", "first_at_s": 10, "headway_s": 25, "until_s": 300, "count": 30}
    with pytest.raises(ScenarioError, match=r"station\.timetable\[0\]\.until_s: the timetable runs to 300 s, "
                                            r"longer than the scenario \(duration_s=70\)"):
        load_scenario(_write(tmp_path, {**_base(), "station": {"timetable": [tt]}}))
