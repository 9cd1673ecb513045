"""Experiment grids end to end: built-in, plug-in and black-box detectors in one results folder.

One grid over the first 37 s of ``platform_intrusion`` (at seed 21 the intruder is on the
track bed from 29.2 s to 35.6 s; the scenario's train, its headlights from 39 s, comes after
the grid's footage ends) runs every kind of detector side by side: the built-in ones, a plug-in found
through the registry's entry points (a test-local class), the example black box of
``examples/``, and black boxes that crash, hang past their timeout, write malformed lines
or alerts of another camera. Each failure must be one clear line in its own run's record
and leave the other runs whole.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from detectors.events import EventType
from detectors.intrusion import IntrusionDetector
from eval.cli import main
from eval.experiment import load_experiment
from eval.grid import run_experiment

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "blackbox_detector.py"
#: [ms] the one alert of the CSV black box: 0.45 s after the intruder's first observation on the
#: track bed (29.2 s at seed 21, ``ground_truth.parquet``), inside the instance (it ends at 35.6 s)
CSV_ALERT_MS = 29650


class StrictIntrusion(IntrusionDetector):
    """A vendor's plug-in: the built-in intrusion detector with a stricter threshold."""

    default_threshold = 0.9


class BrokenAtFrame5(IntrusionDetector):
    """A plug-in that raises on the sixth frame it sees."""

    def __init__(self, site, **params) -> None:
        super().__init__(site, **params)
        self.seen = 0

    def score(self, percept):
        self.seen += 1
        if self.seen == 6:
            raise RuntimeError("vendor model crashed")
        return super().score(percept)


def _plugin_entry_points():
    import detectors.registry as registry

    group = registry.ENTRY_POINT_GROUP
    return [metadata.EntryPoint("acme_intrusion", f"{__name__}:StrictIntrusion", group),
            metadata.EntryPoint("acme_broken", f"{__name__}:BrokenAtFrame5", group)]


def py(code: str) -> list[str]:
    """A black box written inline: python -c CODE ALERTS."""
    return ["{python}", "-c", code, "{alerts}"]


BLACK_BOXES = [
    {"name": "example", "command": ["{python}", str(EXAMPLE), "{video}", "--site", "{site}", "--out", "{alerts}"],
     "types": ["intrusion"], "timeout_s": 120},
    {"name": "crashes", "command": py("import sys; print('model file missing', file=sys.stderr); sys.exit(3)")},
    {"name": "hangs", "command": py("import time; time.sleep(60)"), "timeout_s": 1},
    {"name": "garbage", "command": py("import sys, json; f = open(sys.argv[1], 'w'); "
                                      "f.write(json.dumps({'camera': 'platform', 'type': 'intrusion', 't': 34.0, "
                                      "'score': 0.9}) + chr(10) + '{oops' + chr(10))")},
    {"name": "elsewhere", "command": py("import sys, json; open(sys.argv[1], 'w').write(json.dumps({'camera': "
                                        "'platfrom', 'type': 'intrusion', 't': 34.0, 'score': 0.9}) + chr(10))")},
    {"name": "silent", "command": py("import sys; open(sys.argv[1], 'w').close()")},
    {"name": "no_file", "command": py("pass")},
    {"name": "csv_box", "types": ["intrusion"], "video": "avi_lossless",
     "command": ["{python}", "-c", "import sys, cv2; v = cv2.VideoCapture(sys.argv[2]); assert v.read()[0], sys.argv[2]; "
                 f"open(sys.argv[1], 'w').write('cam,label,time_ms' + chr(10) + 'platform,Intr,{CSV_ALERT_MS}' + chr(10))",
                 "{alerts}", "{video}"],
     "alerts": {"format": "csv", "columns": {"camera": "cam", "type": "label", "t": "time_ms"},
                "type_map": {"Intr": "intrusion"}, "time_unit": "ms"}},
]


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    import detectors.registry as registry

    mp = pytest.MonkeyPatch()
    mp.setattr(registry, "_entry_points", _plugin_entry_points)
    exp = load_experiment(data={
        "name": "kinds", "scenarios": ["platform_intrusion"], "duration_s": 37,
        "detectors": [{"name": "builtin", "detectors": ["intrusion", "excessive_density"]},
                      {"name": "acme", "detectors": ["acme_intrusion"]},
                      {"name": "broken", "detectors": ["acme_broken"]},
                      *BLACK_BOXES],
        "outputs": {"thumbnails": "errors"}})
    out = tmp_path_factory.mktemp("grid") / "results"
    try:
        res = run_experiment(exp, out, jobs=1, progress=False)
    finally:
        mp.undo()
    return exp, out, res


def runs_by_detector(out: Path) -> dict[str, dict]:
    return {r["detector"]: r for r in pq.read_table(out / "runs.parquet").to_pylist()}


def test_every_kind_of_detector_and_every_failure_lands_in_its_own_record(grid):
    exp, out, res = grid
    runs = runs_by_detector(out)
    assert res.n_runs == 11 and res.ok == 5 and res.failed == 6
    assert {d for d, r in runs.items() if r["status"] == "ok"} == {"builtin", "acme", "example", "silent", "csv_box"}
    errors = {d: r["error"] for d, r in runs.items() if r["status"] != "ok"}
    assert "crashes" in errors and "exited with status 3: model file missing" in errors["crashes"]
    assert "ran past its timeout of 1 s and was killed" in errors["hangs"]
    assert "wrote malformed alerts: alerts.jsonl:2: not JSON" in errors["garbage"]
    assert "names camera 'platfrom'; the cameras are platform" in errors["elsewhere"]
    assert "exited with status 0 but wrote no alerts file (expected alerts.jsonl" in errors["no_file"]
    assert errors["broken"].startswith("at platform frame 5 (t=0.5 s): RuntimeError: vendor model crashed")
    assert all("\n" not in e for e in errors.values())


def test_failures_do_not_touch_the_other_runs(grid):
    _, out, _ = grid
    metrics = pq.read_table(out / "metrics.parquet").to_pylist()
    by = {(m["run_id"].rsplit("__", 1)[1], m["type"]): m for m in metrics}
    # the built-in detector finds the intruder of platform_intrusion within its 3 s grace
    builtin = by[("builtin", "intrusion")]
    assert (builtin["n_instances"], builtin["tp"], builtin["fn"]) == (1, 1, 0)
    assert 0 <= builtin["latency_median_s"] <= 3.0
    # failed runs have no tables in the gathered results
    failed = {r["run_id"] for r in pq.read_table(out / "runs.parquet").to_pylist() if r["status"] != "ok"}
    for name in ("metrics", "counts", "alerts", "matches", "scores"):
        assert not failed & set(pq.read_table(out / f"{name}.parquet").column("run_id").to_pylist()), name


def test_the_example_black_box_is_scored_like_any_detector(grid):
    _, out, _ = grid
    rows = {(m["run_id"].rsplit("__", 1)[1], m["type"]): m for m in pq.read_table(out / "metrics.parquet").to_pylist()}
    example = rows[("example", "intrusion")]
    assert (example["n_instances"], example["tp"], example["fn"]) == (1, 1, 0)
    assert 0 <= example["latency_median_s"] <= 3.0
    # it declared intrusion only: no row of another type, and misses are counted for intrusion alone
    assert {t for d, t in rows if d == "example"} == {"intrusion", "all"}
    # a black box that writes an empty file is a detector that saw nothing: one miss, no alert
    silent = rows[("silent", "intrusion")]
    assert (silent["tp"], silent["fn"], silent["n_alerts"]) == (0, 1, 0)
    assert silent["p_miss"] == 1 / 1
    assert silent["recall"] == 0 / 1


def test_a_black_box_writing_csv_on_lossless_footage(grid):
    _, out, _ = grid
    rows = {(m["run_id"].rsplit("__", 1)[1], m["type"]): m for m in pq.read_table(out / "metrics.parquet").to_pylist()}
    csv_box = rows[("csv_box", "intrusion")]
    assert (csv_box["tp"], csv_box["fp"], csv_box["fn"]) == (1, 0, 0)
    # its time column is in ms: the latency is its alert's time less the intruder's onset
    (gt,) = pq.read_table(out / "ground_truth.parquet").to_pylist()
    assert gt["t_start"] <= CSV_ALERT_MS / 1000 <= gt["t_end"]
    assert csv_box["latency_median_s"] == pytest.approx(CSV_ALERT_MS / 1000 - gt["t_start"])


def test_a_plug_in_runs_through_the_registry(grid):
    _, out, _ = grid
    scores = pq.read_table(out / "scores.parquet").to_pylist()
    acme = [s for s in scores if s["run_id"].endswith("__acme")]
    builtin = [s for s in scores if s["run_id"].endswith("__builtin") and s["type"] == "intrusion"]
    assert len(acme) == len(builtin) == 370  # 37 s at 10 frames/s, on the same frames
    # the plug-in is the built-in detector with another threshold: the same scores
    assert [s["score"] for s in acme] == [s["score"] for s in builtin]
    runs = {r["run_id"].rsplit("__", 1)[1]: r for r in (json.loads(p.read_text()) for p in
                                                         (out / "runs").glob("*/run.json"))}
    assert runs["acme"]["policies"]["intrusion"]["threshold"] == 0.9


def test_the_tables_part_2_reads(grid):
    _, out, _ = grid
    for name in ("runs", "cameras", "ground_truth", "instance_tracks", "alerts", "matches", "counts", "metrics",
                 "scores", "timing", "thumbnails"):
        assert (out / f"{name}.parquet").exists(), name
    cams = pq.read_table(out / "cameras.parquet").to_pylist()
    assert len(cams) == 1 and cams[0]["camera"] == "platform" and cams[0]["render_lighting"] == "day"
    assert cams[0]["render_noise_std"] == 2.0 and cams[0]["persons_in_view_mean"] > 0
    gt = pq.read_table(out / "ground_truth.parquet").to_pylist()
    assert [(g["instance_id"], g["type"], g["source"]) for g in gt] == [("intruder", "intrusion", "injected")]
    assert gt[0]["appearance_groups"] and all(isinstance(g, str) for g in gt[0]["appearance_groups"])
    tracks = pq.read_table(out / "instance_tracks.parquet").to_pylist()
    assert tracks and all(t["instance_id"] == "intruder" for t in tracks)
    assert np.all(np.diff([t["t"] for t in tracks]) > 0)
    matches = {m["run_id"].rsplit("__", 1)[1]: m for m in pq.read_table(out / "matches.parquet").to_pylist()}
    assert matches["builtin"]["outcome"] == "detected" and matches["silent"]["outcome"] == "missed"
    # counts add up to the metrics rows: count first, divide last
    counts = [c for c in pq.read_table(out / "counts.parquet").to_pylist() if c["run_id"].endswith("__builtin")]
    intr = next(c for c in counts if c["type"] == "intrusion")
    assert intr["camera_s"] == 37.0 and intr["tp"] + intr["fn"] == intr["n_instances"]
    # thumbnails around the silent detector's miss (at the intruder's onset, +-2 s) and any false alarm
    onset = gt[0]["t_start"]
    thumbs = pq.read_table(out / "thumbnails.parquet").to_pylist()
    assert thumbs and all(abs(t["t"] - onset) <= 2.0 + 1e-9 or any(
        abs(t["t"] - a["t"]) <= 2.0 + 1e-9 for a in pq.read_table(out / "alerts.parquet").to_pylist()
        if a["outcome"] == "fa") for t in thumbs)
    assert thumbs[0]["jpeg"][:2] == b"\xff\xd8"  # JPEG
    cell = json.loads(next((out / "cells").glob("*/cell.json")).read_text())
    assert cell["status"] == "ok" and cell["frames"] == 370
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_runs"] == 11 and manifest["ok"] == 5 and manifest["failed"] == 6


def test_rerunning_recomputes_nothing_finished(grid):
    exp, out, _ = grid
    before = (out / "scores.parquet").read_bytes()
    import detectors.registry as registry

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "_entry_points", _plugin_entry_points)
        again = run_experiment(exp, out, jobs=1, progress=False)
    assert (again.reused, again.computed) == (11, 0)  # failed runs are finished too (their error is the result)
    assert (out / "scores.parquet").read_bytes() == before


def test_the_grid_agrees_with_evaluate_on_the_same_files(grid, capsys):
    _, out, _ = grid
    run = next((out / "runs").glob("*__builtin"))
    cell = next((out / "cells").iterdir())
    assert main(["evaluate", str(run / "alerts.jsonl"), str(cell / "ground_truth.json"), "--json",
                 str(out.parent / "eval.json")]) == 0
    rows = {r["type"]: r for r in json.loads((out.parent / "eval.json").read_text())["rows"]}
    grid_rows = {m["type"]: m for m in pq.read_table(run / "metrics.parquet").to_pylist()}
    for key in ("n_instances", "tp", "fn", "fp", "duplicates", "latency_median_s"):
        assert rows["intrusion"][key] == grid_rows["intrusion"][key], key


def test_actev_export_of_the_grid(grid, capsys):
    from eval.actev import load, validate

    _, out, _ = grid
    (gt,) = pq.read_table(out / "ground_truth.parquet").to_pylist()

    def frame(t: float) -> int:  # ActEV numbers frames from 1; 10 frames/s
        return int(np.floor(t * 10 + 1e-6)) + 1

    assert main(["export", str(out), "--actev", "--out", str(out.parent / "actev")]) == 0
    for det in ("builtin", "acme", "example", "silent"):
        folder = out.parent / "actev" / det
        docs = {k: load(folder / f"{k}.json") for k in ("system_output", "reference", "activity_index", "file_index")}
        for kind, doc in docs.items():
            validate(doc, kind)
        # what the detector scored: intrusion on this camera; a black box that declares no types claims all eight
        assert sorted(docs["activity_index"]) == (["intrusion"] if det != "silent" else sorted(e.value for e in EventType))
        (name, index), = docs["file_index"].items()
        assert name == "platform_intrusion__base__s21__platform.mp4"
        assert index == {"framerate": 10.0, "selected": {"1": 1, "371": 0}}
        ref, = docs["reference"]["activities"]
        # frames of the intruder's first and last observation on the track bed, floor(t * 10) + 1 (29.2 s and
        # 35.6 s at seed 21: frames 293 to 357, end marker 358); one still there at 37 s would run to frame 370
        last = frame(gt["t_end"]) if np.isfinite(gt["t_end"]) else 370
        assert ref["localization"] == {name: {str(frame(gt["t_start"])): 1, str(last + 1): 0}}
    builtin = load(out.parent / "actev" / "builtin" / "system_output.json")["activities"]
    alerts = [a for a in pq.read_table(out / "alerts.parquet").to_pylist() if a["run_id"].endswith("__builtin")]
    assert len(builtin) == len(alerts) and builtin[0]["presenceConf"] == alerts[0]["score"]
    assert builtin[0]["alertFrame"] == int(np.floor(alerts[0]["t"] * 10 + 1e-6)) + 1
    (start, end), = [tuple(int(k) for k in loc) for loc in builtin[0]["localization"].values()]
    assert start <= builtin[0]["alertFrame"] < end  # the above-threshold run holds the alert
    example = load(out.parent / "actev" / "example" / "system_output.json")["activities"]
    first, end = (int(k) for k in example[0]["localization"][name])
    assert end - first == round(3.0 * 10)  # no scores: the type's max latency (3 s for intrusion)
    silent = load(out.parent / "actev" / "silent" / "system_output.json")
    assert silent["activities"] == [] and silent["filesProcessed"] == [name]
