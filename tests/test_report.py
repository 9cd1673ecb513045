"""The HTML report: written from a results folder, opened in headless Chromium, checked against Parquet.

The browser test needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them)
and selenium; on a developer machine without them it is skipped with the reason, in CI
(``CI`` set) their absence fails it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

import pytest

from detectors.events import EventType
from eval.cli import main
from eval.report import leaderboard
from eval.results_folder import ResultsFolder

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")


def _browser_or_skip():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        chromium = None
    if not (chromium and driver):
        reason = ("headless Chromium is not installed (apt-get install chromium chromium-driver; pip install "
                  "selenium): the report is not opened in a browser")
        if os.environ.get("CI"):
            pytest.fail(reason + " -- but CI must run this test (.ci/run installs them)")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='stationwatch-chromium-')}")
    opts.add_argument("--window-size=1300,2000")
    opts.binary_location = chromium
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=opts, service=Service(driver))


@pytest.fixture(scope="module")
def report_grid(tmp_path_factory):
    """The decision grid with a third, silent black box beside the two detectors: the silent one misses the
    intruder of every cell, so the report always has errors to show strips of."""
    from tests.conftest import DECISION_GRID, SILENT_BLACKBOX, run_decision_grid

    text = DECISION_GRID.replace("outputs:", SILENT_BLACKBOX + "outputs:")
    assert SILENT_BLACKBOX in text
    return run_decision_grid(tmp_path_factory.mktemp("report_grid"), text)


@pytest.fixture(scope="module")
def report(report_grid, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(report_grid), "--out", str(out), "--boot", "200", "--quiet"]) == 0
    return out


def test_report_is_self_contained(report):
    text = report.read_text(encoding="utf-8")
    # no file, network or script resource outside the page: images are data: URIs
    assert not re.search(r'src="(?!data:)', text) and "http://" not in text and "https://" not in text
    assert text.count('src="data:image/png;base64,') >= 3  # DET, PR, latency
    assert 'src="data:image/jpeg;base64,' in text  # thumbnails of the errors
    for section in ("Leaderboard", "Threshold sweep", "Comparisons", "Slices", "Processing cost per camera",
                    "Operator load", "What went wrong"):
        assert f"<h2>{section}" in text


def test_report_has_a_strip_for_each_miss_and_false_alarm(report, report_grid):
    text = report.read_text(encoding="utf-8")
    f = ResultsFolder(report_grid)
    det_of = {rid: r["detector"] for rid, r in f.ok_runs.items()}
    errors = {d: 0 for d in f.detectors}
    for a in f.table("alerts").to_pylist():
        errors[det_of[a["run_id"]]] += a["outcome"] == "fa"
    for m in f.table("matches").to_pylist():
        errors[det_of[m["run_id"]]] += m["outcome"] == "missed"
    assert sum(errors.values()) > 0
    for det, n in errors.items():
        assert f"<h3>{det}: {n} error(s)</h3>" in text
    assert text.count('<div class="strip"') == sum(min(n, 40) for n in errors.values())
    assert text.count('class="at"') >= 1  # the frame nearest each moment is outlined


def test_report_in_chromium_renders_without_errors_and_agrees_with_parquet(report, report_grid, tmp_path):
    driver = _browser_or_skip()
    try:
        driver.get(report.as_uri())
        logs = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert logs == []
        broken = driver.execute_script(
            "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length")
        assert broken == 0
        data = json.loads(driver.execute_script("return document.getElementById('report-data').textContent"))
        cells = driver.execute_script(
            "return Array.from(document.querySelectorAll('td[data-metric]')).map(td => "
            "[td.dataset.type, td.dataset.detector, td.dataset.metric, td.textContent])")
        sweep_cells = driver.execute_script(
            "return Array.from(document.querySelectorAll('td[data-sweep-metric]')).map(td => "
            "[td.dataset.type, td.dataset.detector, td.dataset.sweepMetric, td.textContent])")
    finally:
        driver.quit()
    # the sweep's figures are those of stationwatch sweep's summary.parquet (same bootstrap seed)
    assert main(["sweep", str(report_grid), "--out", str(tmp_path), "--boot", "200", "--quiet"]) == 0
    import pyarrow.parquet as pq

    from eval.intervals import fmt_interval

    shown_sweep = {(t, d, m): text for t, d, m, text in sweep_cells}
    f = ResultsFolder(report_grid)
    def own_min_duration_s(r):  # the report sweeps at the runs' own minimum duration
        return float((f.policy_as_run(r["detector"], EventType(r["type"])) or {}).get("min_duration_s", 0.0))

    as_run = [r for r in pq.read_table(tmp_path / "summary.parquet").to_pylist()
              if r["min_duration_s"] == own_min_duration_s(r)]
    assert {(r["type"], r["detector"]) for r in as_run} == {(t, d) for t, d, _, _ in sweep_cells}
    for r in as_run:
        for m in ("p_miss_at_rfa_1", "naudc", "min_ndcr", "ap", "laap"):
            assert shown_sweep[(r["type"], r["detector"], m)] == fmt_interval(r[m], r[f"{m}_lo"], r[f"{m}_hi"]), m
    shown = {(t, d, m): text for t, d, m, text in cells}
    for det in f.detectors:
        rows = [c for c in f.counts if f.ok_runs[c["run_id"]]["detector"] == det and c["type"] == "intrusion"]
        tp, fp, n = (sum(c[k] for c in rows) for k in ("tp", "fp", "n_instances"))
        hours = sum(c["camera_s"] for c in rows) / 3600.0
        assert shown[("intrusion", det, "tp")] == str(tp)
        assert shown[("intrusion", det, "fp")] == str(fp)
        assert shown[("intrusion", det, "recall")].startswith(f"{tp / n:.2f} [")
        assert shown[("intrusion", det, "rfa_per_hour")].startswith(f"{fp / hours:.1f} [")
        row = next(r for r in data["leaderboard"] if r["detector"] == det)
        assert (row["tp"], row["fp"], row["n_instances"]) == (tp, fp, n)
    assert data["seeds"] == {"tuning": [201], "held_out": [901], "other": []}
    assert set(data["operator_load"]) == set(f.detectors)
    from eval.operator_load import operator_load, operators_needed

    for det, load in data["operator_load"].items():  # from the leaderboard's alert rates, 46 cameras, 2 operators
        rate = sum(r["alerts_per_hour"] for r in data["leaderboard"] if r["detector"] == det)
        assert load["alerts_per_hour"] == pytest.approx(operator_load(rate, 46, 2, 30.0).alerts_per_hour, rel=1e-12)
        assert load["operators_needed"] == operators_needed(rate, 46, 30.0)


def test_leaderboard_at_a_policies_file(decision_grid, tmp_path):
    pol = tmp_path / "p.yaml"
    pol.write_text("policies: {intrusion: {threshold: 0.999}}\n")
    f = ResultsFolder(decision_grid)
    from eval.policies import load_policies

    strict = {r["detector"]: r for r in leaderboard(f, load_policies(pol), n_boot=50)}
    as_run = {r["detector"]: r for r in leaderboard(f, None, n_boot=50)}
    from detectors.intrusion import IntrusionDetector

    assert strict["builtin"]["threshold"] == 0.999
    assert as_run["builtin"]["threshold"] == IntrusionDetector.default_threshold
    assert strict["builtin"]["n_alerts"] <= as_run["builtin"]["n_alerts"]
    assert strict["example_blackbox"] == as_run["example_blackbox"]  # a black box keeps its own policy
