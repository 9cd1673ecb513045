"""Deciding from a results folder: sweep, tune, compare, slices, operator load, policies files.

Most tests read one small grid (``decision_grid`` in conftest.py: platform_intrusion at a
tuning and a held-out seed, by day and with noise in evening light, built-in detectors and the example black
box); the arithmetic ones use hand-made counts.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from detectors.events import EventType
from detectors.intrusion import IntrusionDetector
from eval.cli import main
from eval.compare import Side, compare, verdict
from eval.intervals import bootstrap_rate, wilson
from eval.operator_load import erlang_c, operator_load, operators_needed
from eval.policies import PoliciesError, load_policies, parse_thresholds
from eval.results_folder import ResultsFolder, sweep_folder
from eval.slices import appearance_slices, robustness, slices
from eval.tune import Target, TuneError

INTRUSION = EventType.INTRUSION


# --- arithmetic -------------------------------------------------------------------------------------


def test_wilson_by_hand():
    # k = 3 of n = 10, z = 1.959964: centre (0.3 + z²/20) / (1 + z²/10), half z sqrt(0.021 + z²/400) / (1 + z²/10)
    z = 1.959963984540054
    den = 1 + z * z / 10
    centre = (0.3 + z * z / 20) / den
    half = z * math.sqrt(0.3 * 0.7 / 10 + z * z / 400) / den
    lo, hi = wilson(3, 10)
    assert (float(lo), float(hi)) == pytest.approx((centre - half, centre + half), abs=1e-12)
    assert [float(x) for x in wilson(10, 10)] == pytest.approx([10 / (10 + z * z), 1.0])
    assert all(math.isnan(float(x)) for x in wilson(0, 0))
    with pytest.raises(ValueError, match="need 0 <= k <= n"):
        wilson(3, 2)


def test_bootstrap_rate_is_seeded_and_brackets_the_pooled_rate():
    counts = np.array([[0, 2, 5, 1, 0, 3]], float)
    hours = np.array([1.0, 0.5, 2.0, 1.0, 0.5, 1.0])
    a = bootstrap_rate(counts, hours, n_boot=500, seed=3)
    b = bootstrap_rate(counts, hours, n_boot=500, seed=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    pooled = 11 / 6.0
    assert a[0][0] < pooled < a[1][0]
    assert all(math.isnan(float(x[0])) for x in bootstrap_rate(np.zeros((1, 0)), np.zeros(0)))
    # no event at all: every resample says 0, the Poisson bound says 3.69 / 6 h (-ln(0.025) = 3.689)
    lo, hi = bootstrap_rate(np.zeros((1, 6)), hours, n_boot=200)
    assert lo[0] == 0.0 and hi[0] == pytest.approx(-math.log(0.025) / 6.0, rel=1e-9)
    # one run: the bootstrap collapses on its rate, the interval is the Poisson one of 4 events in 2 h
    from scipy.stats import chi2

    lo, hi = bootstrap_rate(np.array([[4.0]]), np.array([2.0]), n_boot=200)
    assert (lo[0], hi[0]) == pytest.approx((chi2.ppf(0.025, 8) / 4, chi2.ppf(0.975, 10) / 4), rel=1e-12)


@pytest.mark.parametrize("a, k, expected", [
    (1.0, 2, 1 / 3),          # B(1) = 1/2, B(2) = 1 * 0.5 / (2 + 0.5) = 0.2, C = 2 * 0.2 / (2 - 0.8) = 1/3
    (0.5, 1, 0.5),            # one server: C = A
    (0.0, 3, 0.0),
    (3.0, 3, 1.0),            # A >= K: every alert waits
])
def test_erlang_c_by_hand(a, k, expected):
    assert erlang_c(a, k) == pytest.approx(expected, abs=1e-12)


def test_operator_load_by_hand():
    # 46 cameras x 2 alerts/h = 92 alerts/h; 60 s each: A = 92 * 60 / 3600 = 1.5333 Erlang on 2 operators
    load = operator_load(2.0, 46, n_operators=2, review_s=60.0)
    a = 92 * 60 / 3600
    b1 = a / (1 + a)
    b2 = a * b1 / (2 + a * b1)
    c = 2 * b2 / (2 - a * (1 - b2))
    assert load.alerts_per_hour == 92.0 and load.alerts_per_operator_hour == 46.0
    assert load.utilisation == pytest.approx(a / 2)
    assert load.p_wait == pytest.approx(c)
    assert load.mean_wait_s == pytest.approx(c * 60 / (2 - a))
    assert load.share_over_limit == pytest.approx(c * math.exp(-(2 - a) * 30 / 60))
    over = operator_load(10.0, 46, n_operators=1, review_s=30.0)  # 460 alerts/h x 30 s = 3.8 Erlang on 1
    assert over.mean_wait_s == math.inf and over.share_over_limit == 1.0
    with pytest.raises(ValueError, match="n_operators must be an integer >= 1; got 0"):
        operator_load(1.0, 46, n_operators=0)


def test_operators_needed_by_hand():
    # 120 alerts/h x 30 s = 1 Erlang. K = 2: C = 1/3 (above), share over 30 s = C exp(-(2 - 1)) = 0.123;
    # K = 3: B(3) = 0.2 / 3.2 = 0.0625, C = 3 * 0.0625 / (3 - (1 - 0.0625)) = 1/11, share = exp(-2) / 11 = 0.0123
    assert operator_load(120.0, 1, 2, 30.0).share_over_limit == pytest.approx(math.exp(-1) / 3)
    assert operator_load(120.0, 1, 3, 30.0).share_over_limit == pytest.approx(math.exp(-2) / 11)
    assert operators_needed(120.0, 1, 30.0) == 3  # at most 5 %
    assert operators_needed(120.0, 1, 30.0, max_share=0.15) == 2
    assert operators_needed(0.0, 46) == 1  # no alert: still a person on duty
    with pytest.raises(ValueError, match=r"max_share must be within \(0, 1\); got 0"):
        operators_needed(1.0, 46, max_share=0)


@pytest.mark.parametrize("lo, hi, direction, expected", [
    (-0.3, -0.1, -1, "better"), (0.1, 0.3, -1, "worse"), (-0.1, 0.2, -1, "not distinguishable"),
    (0.1, 0.3, +1, "better"), (-0.3, -0.1, +1, "worse"), (math.nan, 0.1, +1, "undefined"),
])
def test_verdict_reads_the_interval_in_the_good_direction(lo, hi, direction, expected):
    assert verdict(lo, hi, direction) == expected


@pytest.mark.parametrize("text, message", [
    ("policies: {fire: {threshold: 0.5, typo: 1}}", "policies.fire: unknown key\\(s\\) typo"),
    ("policies: {firee: {threshold: 0.5}}", "policies key must be one of .*got 'firee'"),
    ("policies: {fire: {threshold: .nan}}", "policies.fire.threshold: expected a finite number"),
    ("policies: {fire: {min_duration_s: -1}}", "policies.fire.min_duration_s: must be >= 0; got -1"),
    ("policies: [1, 2]", "expected a mapping of event type -> policy; got list"),
    ("threshold: 0.5", "expected a mapping with key 'policies'"),
    ("format: other/1\npolicies: {}", "format must be 'stationwatch.policies/1'; got 'other/1'"),
    ("policies: {fire: [", "not YAML"),
])
def test_policies_file_errors_name_the_key(tmp_path, text, message):
    p = tmp_path / "p.yaml"
    p.write_text(text)
    with pytest.raises(PoliciesError, match=message):
        load_policies(p)


def test_threshold_options():
    o = parse_thresholds(["intrusion=0.7", "fire=0.25"])
    assert o[INTRUSION].threshold == 0.7 and o[EventType.FIRE].threshold == 0.25
    with pytest.raises(PoliciesError, match="expected TYPE=VALUE"):
        parse_thresholds(["intrusion"])
    with pytest.raises(PoliciesError, match="--threshold intrusion: expected a number; got 'high'"):
        parse_thresholds(["intrusion=high"])


# --- on a results folder --------------------------------------------------------------------------


def test_sweep_at_the_threshold_as_run_gives_the_grid_counts(decision_grid):
    f = ResultsFolder(decision_grid)
    for det in f.detectors:
        s = sweep_folder(f, det, INTRUSION)
        th = s.meta["threshold_as_run"]
        i = s.at(th) if th is not None else int(np.argmin(s.thresholds))
        counts = {(c["run_id"], c["camera"]): c for c in f.counts if c["type"] == "intrusion"}
        for g, grp in enumerate(s.groups):
            c = counts[(grp.run_id, grp.camera)]
            assert (s.n_alerts[i, g], s.tp[i, g], s.fp[i, g], s.duplicates[i, g]) == \
                (c["n_alerts"], c["tp"], c["fp"], c["duplicates"]), grp.run_id


def test_sweep_command_writes_curves_with_intervals(decision_grid, tmp_path, capsys):
    assert main(["sweep", str(decision_grid), "--out", str(tmp_path), "--boot", "200", "--quiet",
                 "--min-duration", "0,1"]) == 0
    out = capsys.readouterr().out
    assert "Pm@1/h" in out and "builtin" in out and "example_blackbox" in out
    curves = pq.read_table(tmp_path / "curves.parquet").to_pandas()
    summary = pq.read_table(tmp_path / "summary.parquet").to_pandas()
    # the built-in detector at its own minimum duration and at 0 and 1 s; the black box once
    own = IntrusionDetector.default_min_duration_s
    assert sorted(map(tuple, summary[["detector", "min_duration_s"]].values.tolist())) == \
        sorted({("builtin", own), ("builtin", 0.0), ("builtin", 1.0), ("example_blackbox", 0.0)})
    assert (curves["tp"] + curves["fn"] == curves["n_instances"]).all()
    assert (curves["tp"] + curves["fp"] + curves["duplicates"] == curves["n_alerts"]).all()
    ok = curves["recall"].notna()
    assert (curves.loc[ok, "recall_lo"] <= curves.loc[ok, "recall"] + 1e-12).all()
    assert (curves.loc[ok, "recall"] <= curves.loc[ok, "recall_hi"] + 1e-12).all()
    assert (curves["rfa_per_hour"] == curves["fp"] / curves["camera_hours"]).all()
    lat = curves["latency_median_s"].notna()
    assert lat.any() and (curves.loc[lat, "latency_median_s_lo"] <= curves.loc[lat, "latency_median_s"]).all()
    assert (curves.loc[lat, "latency_median_s"] <= curves.loc[lat, "latency_median_s_hi"]).all()
    # every headline figure has its bootstrap interval over runs
    for k in ("p_miss_at_rfa_1", "p_miss_at_rfa_0.1", "p_miss_at_rfa_0.01", "naudc", "min_ndcr", "ap", "laap"):
        assert (summary[f"{k}_lo"] <= summary[f"{k}_hi"]).all(), k
    assert "[" in out.splitlines()[2]  # the printed figures carry their intervals
    for name in ("det_intrusion.png", "pr_intrusion.png", "latency_intrusion.png"):
        assert (tmp_path / name).stat().st_size > 5000


def test_tune_on_tuning_seeds_and_read_on_held_out(decision_grid, tmp_path, capsys):
    pol = tmp_path / "pol.yaml"
    assert main(["tune", str(decision_grid), "--budget", "2", "--cameras", "46", "--out", str(pol)]) == 0
    out = capsys.readouterr().out
    assert "chosen on 2 run(s), seeds [201]" in out and "on held-out seeds [901]" in out
    assert "operator load, 46 camera(s), 2 operator(s)" in out
    chosen = load_policies(pol)
    th = chosen[INTRUSION].threshold
    # the budget holds on the tuning runs: alerts at that threshold x 46 cameras <= 2 per hour
    f = ResultsFolder(decision_grid)
    tuning = {rid for rid, r in f.ok_runs.items() if r["seed"] == 201 and r["detector"] == "builtin"}
    s = sweep_folder(f, "builtin", INTRUSION, thresholds=[th], runs=tuning)
    assert s.rates()["alerts_per_hour"][0] * 46 <= 2.0 + 1e-9
    # the experiment accepts the file: the built-in runs get new keys, the black box keeps its runs
    grid = decision_grid.parent / "grid.yaml"
    assert main(["experiment", str(grid), "--out", str(decision_grid), "--policies", str(pol), "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "4 finished" in dry and "4 to run" in dry and "example_blackbox" not in dry.split("to run")[1]
    # stationwatch run takes it too, and --threshold over it
    run_dir = tmp_path / "run"
    assert main(["run", "platform_intrusion", "--duration", "1", "--no-video", "--policies", str(pol),
                 "--out", str(run_dir)]) == 0
    assert json.loads((run_dir / "metrics.json").read_text())["thresholds"]["intrusion"] == th
    assert main(["run", "platform_intrusion", "--duration", "1", "--no-video", "--policies", str(pol),
                 "--threshold", "intrusion=0.91", "--out", str(tmp_path / "run2")]) == 0
    assert json.loads((tmp_path / "run2" / "metrics.json").read_text())["thresholds"]["intrusion"] == 0.91


def test_tune_refuses_in_sample_figures_without_tuning_seeds(decision_grid, tmp_path, capsys):
    f = ResultsFolder(decision_grid)
    from eval.tune import tune_folder

    with pytest.raises(TuneError, match="black box"):
        tune_folder(f, Target(rfa_per_hour=1.0), detector="example_blackbox")
    with pytest.raises(TuneError, match="give exactly one target"):
        Target(rfa_per_hour=1.0, alerts_per_hour=2.0)
    assert main(["tune", str(tmp_path), "--max-fa-per-hour", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not an experiment results folder" in err


def test_compare_pairs_cells_and_matches_the_counts(decision_grid, capsys):
    f = ResultsFolder(decision_grid)
    rows = compare(Side(f, "builtin"), Side(f, "example_blackbox"), n_boot=300)
    recall = next(r for r in rows if r["metric"] == "recall")
    tally = {}
    for c in f.counts:
        det = f.ok_runs[c["run_id"]]["detector"]
        t = tally.setdefault(det, [0, 0])
        t[0] += c["tp"]
        t[1] += c["n_instances"]
    assert recall["a"] == tally["builtin"][0] / tally["builtin"][1]
    assert recall["b"] == tally["example_blackbox"][0] / tally["example_blackbox"][1]
    assert recall["diff"] == recall["a"] - recall["b"] and recall["cells"] == 4
    assert all(r["lo"] <= r["diff"] + 1e-12 and r["diff"] <= r["hi"] + 1e-12 for r in rows if not math.isnan(r["diff"]))
    assert main(["compare", str(decision_grid), "--boot", "200"]) == 0
    assert "4 paired cell(s)" in capsys.readouterr().out


def test_compare_two_folders_pairs_only_the_same_footage(decision_grid, tmp_path, capsys):
    import shutil

    other = tmp_path / "vendor"
    shutil.copytree(decision_grid, other)
    one = compare(Side(ResultsFolder(decision_grid), "builtin"), Side(ResultsFolder(decision_grid), "example_blackbox"),
                  n_boot=200)
    two = compare(Side(ResultsFolder(decision_grid), "builtin"), Side(ResultsFolder(other), "example_blackbox"),
                  n_boot=200)
    keep = ("type", "metric", "a", "b", "diff", "lo", "hi", "verdict", "cells")
    assert [{k: r[k] for k in keep} for r in two] == [{k: r[k] for k in keep} for r in one]
    # a cell of B rendered from another scenario file is not the same footage: it is left out
    exp = json.loads((other / "experiment.json").read_text())
    exp["cells"][0]["scenario_hash"] = "another scenario"
    (other / "experiment.json").write_text(json.dumps(exp))
    assert main(["compare", str(decision_grid), str(other), "--a", "builtin", "--b", "example_blackbox",
                 "--boot", "100"]) == 0
    assert "3 paired cell(s), 1 left out (different footage)" in capsys.readouterr().out


def test_slices_sum_to_the_whole_and_robustness_follows_the_effects(decision_grid):
    f = ResultsFolder(decision_grid)
    rows = slices(f, n_boot=100)
    for det in f.detectors:
        whole = [r for r in rows if r["detector"] == det and r["variable"] == "camera"]
        by_variant = [r for r in rows if r["detector"] == det and r["variable"] == "variant"]
        assert sorted(r["value"] for r in by_variant) == ["day", "noisy"]
        assert sum(r["tp"] for r in by_variant) == sum(r["tp"] for r in whole)
        assert sum(r["fp"] for r in by_variant) == sum(r["fp"] for r in whole)
    lighting = [r for r in rows if r["variable"] == "render_lighting"]
    assert sorted({r["value"] for r in lighting}) == ["day", "evening"]
    rob = robustness(f, n_boot=100)
    assert {r["variable"] for r in rob} == {"render_lighting", "render_noise_std"}
    assert sorted({r["value"] for r in rob if r["variable"] == "render_noise_std"}) == [2.0, 7.0]
    # lighting levels by severity: day (rank 0) before evening (rank 1), as the plot draws them
    for det in f.detectors:
        mine = [(r["value"], r["severity"]) for r in rob if r["variable"] == "render_lighting" and r["detector"] == det]
        assert mine == [("day", 0.0), ("evening", 1.0)]
        by_level = {r["value"]: r["tp"] for r in rob if r["variable"] == "render_lighting" and r["detector"] == det}
        by_variant = {r["value"]: r["tp"] for r in rows if r["variable"] == "variant" and r["detector"] == det}
        assert by_level == {"day": by_variant["day"], "evening": by_variant["noisy"]}
    from eval.plots import robustness_plot

    ax = robustness_plot(rob, "recall").axes[0]  # panels in name order: lighting first
    assert [t.get_text() for t in ax.get_xticklabels()] == ["day", "evening"]
    groups = appearance_slices(f)
    assert all(r["recall_lo"] <= r["recall"] <= r["recall_hi"] for r in groups if r["n_instances"])


def test_policies_apply_to_the_types_a_camera_runs(platform_intrusion, tmp_path, capsys):
    from detectors.site import SiteConfig
    from eval.policies import core_with_policies, overrides_from_args
    from sim.site_export import site_config_dict

    site = SiteConfig.from_dict(site_config_dict(platform_intrusion, "platform"))
    pol = tmp_path / "p.yaml"
    pol.write_text("policies: {intrusion: {threshold: 0.7, cooldown_s: 5}, wrong_way: {threshold: 0.3}}\n")
    core = core_with_policies(site, None, overrides_from_args(str(pol), ["intrusion=0.8"]))
    p = core.policies[INTRUSION]
    # the command line's threshold over the file's, the file's cooldown, the detector's minimum duration
    assert (p.threshold, p.cooldown_s, p.min_duration_s) == (0.8, 5.0, IntrusionDetector.default_min_duration_s)
    # no wrong-way detector runs on a platform without a one-way zone: its policy is ignored, not an error
    assert EventType.WRONG_WAY not in core.policies and INTRUSION in core.policies
    assert main(["run", "platform_intrusion", "--policies", str(tmp_path / "missing.yaml"), "--out",
                 str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.yaml: no such policies file" in err
    assert not (tmp_path / "run").exists()
