"""The experiment file: validated like scenarios, errors with key paths, the grid it expands to."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.experiment import ExperimentError, load_experiment


def base(**changes) -> dict:
    data = {"name": "grid", "scenarios": ["platform_intrusion"], "detectors": [{"name": "builtin"}]}
    data.update(changes)
    return data


def test_the_grid_is_scenarios_by_variants_by_vary_by_seeds():
    exp = load_experiment(data=base(
        scenarios=["platform_intrusion", "concourse_quiet"], seeds=[1, 2, 3], duration_s=10,
        variants=[{"name": "base"}, {"name": "night", "set": {"render.lighting": "night"}}],
        vary={"render.noise_std": [2, 8]},
        detectors=[{"name": "builtin"}, {"name": "vendor", "command": ["run", "{video}", "{alerts}"]}]))
    assert len(exp.cells) == 2 * 2 * 2 * 3  # scenarios x variants x vary x seeds
    assert exp.n_runs == len(exp.cells) * 2
    ids = [c.cell_id for c in exp.cells]
    assert len(set(ids)) == len(ids)
    night = next(c for c in exp.cells if c.cell_id == "concourse_quiet__night_noise_std_8__s2")
    assert night.overrides == {"render.lighting": "night", "render.noise_std": 8}
    assert night.variant == "night,noise_std=8" and night.seed == 2 and night.duration_s == 10
    assert [d.kind for d in exp.spec.detectors] == ["core", "command"]


def test_defaults_each_scenarios_own_seed_and_one_base_variant():
    exp = load_experiment(data=base(scenarios=["platform_intrusion", "concourse_quiet"]))
    assert [(c.scenario, c.seed, c.variant) for c in exp.cells] == [("platform_intrusion", 21, "base"),
                                                                     ("concourse_quiet", 11, "base")]


def test_seed_range():
    exp = load_experiment(data=base(seeds={"first": 5, "count": 3}))
    assert [c.seed for c in exp.cells] == [5, 6, 7]


def test_run_keys_change_with_what_the_numbers_depend_on():
    a = load_experiment(data=base())
    b = load_experiment(data=base(matching={"spatial": "none"}))
    c = load_experiment(data=base(variants=[{"name": "base", "set": {"render.noise_std": 3}}]))
    cell, det = a.cells[0], a.spec.detectors[0]
    assert a.run_key(cell, det) == load_experiment(data=base()).run_key(cell, det)
    assert a.run_key(cell, det) != b.run_key(b.cells[0], b.spec.detectors[0])
    assert a.cells[0].scenario_hash != c.cells[0].scenario_hash


def test_a_scenario_file_relative_to_the_experiment(tmp_path):
    (tmp_path / "mine.yaml").write_text("extend: platform_intrusion\nname: mine\nseed: 4\n")
    (tmp_path / "exp.yaml").write_text("name: g\nscenarios: [mine.yaml]\ndetectors: [{name: builtin}]\n")
    exp = load_experiment(tmp_path / "exp.yaml")
    assert [(c.scenario, c.seed) for c in exp.cells] == [("mine", 4)]
    assert exp.base_dir == tmp_path.resolve()


@pytest.mark.parametrize("changes, message", [
    ({"scenaros": ["x"]}, r"'grid': scenaros: unknown key"),
    ({"scenarios": []}, r"scenarios: must have at least 1 item"),
    ({"scenarios": ["nope"]}, r"scenarios\[0\]: no scenario named 'nope' in the library \(concourse_abandoned_bag, "),
    ({"seeds": [-1]}, r"seeds\[0\] must be an integer >= 0; got -1"),
    ({"seeds": [1, 1]}, r"seeds: must be distinct; got \[1, 1\]"),
    ({"seeds": {"first": 0}}, r"seeds.count: missing required key"),
    ({"seeds": "all"}, r"seeds: must be a list of seeds or \{first, count\}; got 'all'"),
    ({"duration_s": 500}, r"duration_s must be <= the duration of scenario 'platform_intrusion' \(70 s\); got 500"),
    ({"duration_s": -1}, r"duration_s: must be > 0; got -1"),
    ({"variants": [{"name": "a b"}]}, r"variants\[0\].name: must match"),
    ({"variants": [{"name": "v", "set": {"cameras.5.fps": 5}}]},
     r"variant 'v': cameras.5.fps: index 5 is out of range for cameras \(1 item\)"),
    ({"variants": [{"name": "v", "set": {"render.noise_std": 500}}]},
     r"with variant 'v': scenario 'platform_intrusion': render.noise_std: .*equal to 50; got 500"),
    ({"variants": [{"name": "v"}, {"name": "v"}]}, r"variants: names must be unique; got 'v' more than once"),
    ({"vary": {"render.noise_std": []}}, r"vary: render.noise_std: expected a non-empty list of values"),
    ({"detectors": []}, r"detectors: must have at least 1 item"),
    ({"detectors": [{"name": "b", "detectors": ["nope"]}]},
     r"detectors\[0\].detectors\[0\]: unknown detector 'nope'; known detectors: intrusion, wrong_way, excessive_density"),
    ({"detectors": [{"name": "b", "detectors": ["intrusion"], "policies": {"fire": {"threshold": 1}}}]},
     r"detectors\[0\].policies: fire is not detected by intrusion"),
    ({"detectors": [{"name": "b", "policies": {"fier": {"threshold": 1}}}]},
     r"detectors\[0\].policies: keys must be event types .*; got 'fier'"),
    ({"detectors": [{"name": "b", "params": {"intrusion": {}}, "detectors": ["excessive_density"]}]},
     r"detectors\[0\].params.intrusion: not among this entry's detectors \(excessive_density\)"),
    ({"detectors": [{"name": "b"}, {"name": "b"}]}, r"detectors: names must be unique; got 'b' more than once"),
    ({"detectors": [{"name": "b", "kind": "plugin"}]}, r"detectors\[0\].kind: must be core or command; got 'plugin'"),
    ({"detectors": [{"name": "b", "comand": ["x"]}]}, r"detectors\[0\].comand: unknown key"),
    ({"detectors": [{"name": "b", "command": ["x", "{vid}", "{alerts}"]}]},
     r"detectors\[0\].command\[1\] names an unknown placeholder \{vid\}"),
    ({"detectors": [{"name": "b", "command": "x {video}"}]},
     r"detectors\[0\].command: must pass \{alerts\}"),
    ({"detectors": [{"name": "b", "command": ["x", "{alerts}"], "timeout_s": 0}]},
     r"detectors\[0\].timeout_s: must be > 0; got 0"),
    ({"detectors": [{"name": "b", "command": ["x", "{alerts}"], "types": ["fall"]}]},
     r"detectors\[0\].types: must be event types .*; got 'fall'"),
    ({"detectors": [{"name": "b", "command": ["x", "{alerts}"], "alerts": {"format": "csv", "columns": {"cam": "c"}}}]},
     r"detectors\[0\].alerts: columns: unknown field\(s\) 'cam'"),
    ({"matching": {"spatial": "box"}}, r"matching.spatial: must be 'alert_time', 'onset' or 'none'; got 'box'"),
    ({"matching": {"grace_s": -1}}, r"matching.grace_s: must be within \[0, 3600\] s; got -1"),
    ({"outputs": {"thumbnails": "some"}}, r"outputs.thumbnails: must be 'errors', 'all' or 'none'; got 'some'"),
])
def test_bad_experiment_files_name_the_key(changes, message):
    with pytest.raises(ExperimentError, match=message) as info:
        load_experiment(data=base(**changes))
    assert "\n" not in str(info.value)  # one line, as the command line prints it


@pytest.mark.parametrize("text, message", [
    ("name: [unclosed", r"not YAML at line 1"),
    ("- a\n- b\n", r"expected a mapping of keys \(name, scenarios, detectors, ...\); got list"),
    ("", r"expected a mapping of keys .*; got NoneType"),
])
def test_files_that_are_not_experiments(tmp_path, text, message):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    with pytest.raises(ExperimentError, match=message):
        load_experiment(path)


def test_a_missing_file(tmp_path):
    with pytest.raises(ExperimentError, match=r"experiment file '.*nope.yaml' does not exist"):
        load_experiment(tmp_path / "nope.yaml")


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_the_example_experiments_are_valid(path):
    exp = load_experiment(path)
    assert exp.n_runs >= 2 and exp.base_dir == path.parent.resolve()
