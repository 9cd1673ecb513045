"""Metrics from counts, processing-cost summary and run-folder I/O: hand-computed oracles."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detectors.events import Alert, EventType
from eval.matching import Instance
from eval.metrics import (DEFAULT_CONSTANTS, Counts, NDCRConstants, Tally, compute_metrics, count, evaluate,
                          metrics_table, operator_load_per_hour)
from eval.results import (package_versions, read_jsonl, read_scores, write_json, write_jsonl, write_manifest,
                          write_parquet)
from eval.timing import summarize_timings, timing_summary
from tests.helpers import alert as A  # noqa: N812
from tests.helpers import instance as I  # noqa: E741, N812

FIRE = EventType.FIRE
FALL = EventType.PERSON_ON_GROUND



def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


# Three fire instances on one camera over 120 s, grace 10 s for fire:
#   e1 [10, 20]: alerts at 11 (TP, latency 1) and 12 (duplicate)
#   e2 [40, 50]: alert at 42 (TP, latency 2)
#   e3 [80, 85]: nothing (miss)
#   alert at 100: false alarm (100 > 85 + 10)
GT = [I("e1", 10.0, 20.0), I("e2", 40.0, 50.0), I("e3", 80.0, 85.0)]
ALERTS = [A(11.0), A(12.0), A(42.0), A(100.0)]


def test_micro_case_by_hand():
    m = evaluate(ALERTS, GT, duration_s=120.0, cameras=["cam1"])[FIRE]
    assert (m.n_instances, m.tp, m.fn, m.fp, m.duplicates, m.n_alerts) == (3, 2, 1, 1, 1, 4)
    assert m.precision == 2 / (2 + 1)
    assert m.recall == 2 / 3
    assert m.f1 == 2 * 2 / (2 * 2 + 1 + 1)
    assert m.p_miss == 1 / 3
    assert m.camera_hours == 120 / 3600
    assert m.rfa_per_hour == 1 / (120 / 3600)
    assert m.rfa_per_minute == 1 / (120 / 3600 * 60)
    assert m.alerts_per_hour == 4 / (120 / 3600)
    assert m.duplicates_per_hour == 1 / (120 / 3600)
    assert m.latency_median_s == (1.0 + 2.0) / 2
    assert m.latency_p90_s == 1.0 + 0.9 * (2.0 - 1.0)
    assert m.latency_max_s == 2.0
    assert m.ndcr == 1 / 3 + 1 / (10 * 1.8) * (1 / (120 / 3600))
    assert m.undefined == {}


def test_ndcr_constants_are_stated_and_overridable():
    assert DEFAULT_CONSTANTS.beta == 1.0 / (10.0 * 1.8)
    assert (DEFAULT_CONSTANTS.cost_miss, DEFAULT_CONSTANTS.cost_fa, DEFAULT_CONSTANTS.r_target_per_hour) == (10, 1, 1.8)
    c = NDCRConstants(cost_miss=2.0, cost_fa=1.0, r_target_per_hour=0.5)
    assert c.beta == 1.0 / (2.0 * 0.5)
    table = evaluate(ALERTS, GT, duration_s=3600.0, cameras=["cam1"], constants=c)
    assert table[FIRE].ndcr == 1 / 3 + 1.0 * 1.0  # one false alarm in one camera-hour
    assert table.to_dict()["constants"]["beta"] == 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"cost_miss": 0.0}, r"NDCRConstants.cost_miss must be a finite number > 0; got 0.0"),
    ({"r_target_per_hour": float("nan")}, r"NDCRConstants.r_target_per_hour must be"),
])
def test_bad_constants(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NDCRConstants(**kwargs)


def test_undefined_ratios_are_nan_with_a_reason():
    # no instances at all, one false alarm
    m = evaluate([A(5.0)], [], duration_s=60.0, cameras=["cam1"])[FIRE]
    assert math.isnan(m.recall) and m.undefined["recall"] == "no instances"
    assert math.isnan(m.p_miss) and m.undefined["p_miss"] == "no instances"
    assert math.isnan(m.ndcr) and "p_miss undefined (no instances)" in m.undefined["ndcr"]
    assert m.precision == 0 / 1
    assert m.f1 == 0 / (0 + 1 + 0)
    assert math.isnan(m.latency_median_s) and m.undefined["latency_median_s"] == "no detections"
    # no alerts: precision undefined, recall 0
    m = evaluate([], GT, duration_s=60.0, cameras=["cam1"])[FIRE]
    assert math.isnan(m.precision) and m.undefined["precision"] == "no alerts other than duplicates"
    assert m.recall == 0 / 3
    assert m.rfa_per_hour == 0.0
    # nothing: even F1 is undefined
    m = evaluate([], [], duration_s=60.0, cameras=["cam1"])[FALL]
    assert math.isnan(m.f1) and m.undefined["f1"] == "no instances and no alerts"
    # no scored time
    m = evaluate([], GT, duration_s=0.0, cameras=["cam1"])[FIRE]
    assert math.isnan(m.rfa_per_hour) and m.undefined["rfa_per_hour"] == "no scored duration"
    assert math.isnan(m.ndcr) and "rfa_per_hour undefined (no scored duration)" in m.undefined["ndcr"]


def test_all_row_sums_types_and_counts_each_camera_hour_once():
    gt = [I("f1", 10.0, 20.0, etype=FIRE), I("p1", 10.0, 20.0, etype=FALL), I("p2", 100.0, 110.0, etype=FALL)]
    alerts = [A(12.0, etype=FIRE), A(15.0, etype=FALL), A(500.0, etype=FALL), A(900.0, etype=FIRE),
              A(950.0, cam="cam2", etype=FIRE)]
    table = evaluate(alerts, gt, duration_s=1800.0, cameras=["cam1", "cam2"])
    assert [r.type for r in table] == [e.value for e in EventType] + ["all"]
    fire, fall, total = table[FIRE], table[FALL], table["all"]
    assert (fire.tp, fire.fn, fire.fp) == (1, 0, 2)
    assert (fall.tp, fall.fn, fall.fp) == (1, 1, 1)
    assert fire.camera_hours == fall.camera_hours == total.camera_hours == 2 * 1800 / 3600
    assert total.recall == (1 + 1) / (1 + 2)
    assert total.precision == (1 + 1) / (1 + 1 + 2 + 1)
    assert total.rfa_per_hour == (2 + 1) / (2 * 1800 / 3600)
    assert table[EventType.WEAPON].rfa_per_hour == 0 / 1.0
    assert math.isnan(table[EventType.WEAPON].recall)
    only = evaluate(alerts, gt, duration_s=1800.0, cameras=["cam1", "cam2"], types=[FALL])
    assert [r.type for r in only] == ["person_on_ground", "all"]
    assert only["all"] == total  # the all row counts every type, listed or not


def test_counts_add_across_sequences_like_one_concatenated_sequence():
    # sequence 1: 100 s on cam1 and cam2; sequence 2: 50 s on cam1 only
    gt1 = [I("a", 10.0, 20.0), I("b", 30.0, 35.0, cam="cam2", etype=FALL)]
    al1 = [A(11.0), A(12.0), A(60.0), A(31.0, cam="cam2", etype=FALL)]
    gt2 = [I("c", 5.0, 8.0), I("d", 30.0, 31.0, etype=FALL)]
    al2 = [A(7.0), A(45.0, etype=FALL), A(20.0, etype=FALL)]
    c1 = count(al1, gt1, duration_s=100.0, cameras=["cam1", "cam2"])
    c2 = count(al2, gt2, duration_s=50.0, cameras=["cam1"])
    summed = metrics_table(c1 + c2)
    assert metrics_table(sum([c1, c2])).to_dict() == summed.to_dict()
    assert metrics_table(Counts() + c1 + c2).to_dict() == summed.to_dict()
    shift = 100.0  # sequence 2 appended after sequence 1 on cam1
    gt = gt1 + [Instance(x.id, x.type, x.camera, x.t_start + shift, x.t_end + shift, x.bbox) for x in gt2]
    al = al1 + [Alert(a.camera, a.type, a.t + shift, a.score, a.bbox) for a in al2]
    whole = evaluate(al, gt, duration_s={"cam1": 100.0 + 50.0, "cam2": 100.0})
    drop_streams = lambda t: [{k: v for k, v in r.items() if k != "n_streams"} for r in t.to_dict()["rows"]]  # noqa: E731
    assert drop_streams(summed) == drop_streams(whole)  # n_streams: 3 streams summed, 2 in the concatenation
    assert summed[FIRE].latency_median_s == (1.0 + 2.0) / 2  # latencies 11 - 10 and 7 - 5
    assert summed["all"].camera_hours == (100 + 50 + 100) / 3600
    assert summed["all"].rfa_per_hour == (1 + 2) / ((100 + 50 + 100) / 3600)
    assert (c1 + c2).n_streams == 3


def test_tally_invariants_and_sums():
    t = Tally(n_instances=3, tp=2, fn=1, fp=1, duplicates=1, n_alerts=4, latencies_s=(1.0, 2.0))
    s = t + t
    assert (s.n_instances, s.tp, s.fn, s.fp, s.duplicates, s.n_alerts) == (6, 4, 2, 2, 2, 8)
    assert s.latencies_s == (1.0, 2.0, 1.0, 2.0)
    with pytest.raises(ValueError, match=r"tp \+ fn must equal n_instances; got 2 \+ 0 != 3"):
        Tally(n_instances=3, tp=2, fn=0, n_alerts=2, latencies_s=(1.0, 2.0))
    with pytest.raises(ValueError, match=r"tp \+ fp \+ duplicates must equal n_alerts"):
        Tally(n_instances=1, tp=1, n_alerts=3, latencies_s=(1.0,))
    m = compute_metrics(t, 3600.0, event_type=FIRE)
    assert m.rfa_per_hour == 1 / 1.0 and m.type == "fire"


def test_scored_cameras_and_durations_are_checked():
    with pytest.raises(ValueError, match=r"alerts\[0\].camera 'cam9' is not among the scored cameras \['cam1'\]"):
        evaluate([A(1.0, cam="cam9")], [], duration_s=10.0, cameras=["cam1"])
    with pytest.raises(ValueError, match=r"instances\[0\].camera 'cam2' is not among"):
        evaluate([], [I("x", 1.0, 2.0, cam="cam2")], duration_s={"cam1": 10.0})
    with pytest.raises(ValueError, match=r"duration_s for camera 'cam1' must be a finite number of seconds >= 0"):
        evaluate([], [], duration_s=-1.0, cameras=["cam1"])
    with pytest.raises(ValueError, match=r"duration_s has no entry for camera\(s\) \['cam2'\]"):
        evaluate([], [], duration_s={"cam1": 10.0}, cameras=["cam1", "cam2"])
    # a camera without any alert or instance still adds scored time
    m = evaluate([A(500.0)], [], duration_s=3600.0, cameras=["cam1", "cam2", "cam3"])["all"]
    assert m.rfa_per_hour == 1 / 3


def test_operator_load():
    m = evaluate(ALERTS, GT, duration_s=120.0, cameras=["cam1"])["all"]
    assert operator_load_per_hour(m, 10) == 4 / (120 / 3600) * 10
    assert operator_load_per_hour(2.5, 4) == 2.5 * 4
    with pytest.raises(ValueError, match="n_cameras must be an integer >= 0; got -1"):
        operator_load_per_hour(m, -1)


def test_table_exports(tmp_path):
    table = evaluate(ALERTS, GT, duration_s=120.0, cameras=["cam1"])
    arrow = table.to_arrow()
    assert arrow.num_rows == 8 + 1
    assert arrow.column("type").to_pylist()[-1] == "all"
    assert arrow.schema.field("tp").type == pa.int64()
    assert arrow.schema.field("recall").type == pa.float64()
    assert arrow.column("recall").to_pylist()[list(EventType).index(FIRE)] == 2 / 3
    assert dict(arrow.column("undefined").to_pylist()[0])["recall"] == "no instances"
    write_parquet(tmp_path / "metrics.parquet", arrow)
    assert pq.read_table(tmp_path / "metrics.parquet").to_pandas().equals(arrow.to_pandas())
    d = table.to_dict()
    json.dumps(d, allow_nan=False)  # nan became None
    assert d["rows"][0]["recall"] is None and d["rows"][0]["undefined"]["recall"] == "no instances"
    text = table.format_table()
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["type", "inst", "TP"]
    fire_line = next(line for line in lines if line.startswith("fire "))
    assert fire_line.split()[1:6] == ["3", "2", "1", "1", "1"]
    assert "0.667" in fire_line and "0.0556" in lines[-1]
    assert lines[2].startswith("abandoned_object") and lines[2].split()[6] == "-"  # undefined precision


# ---- processing cost ------------------------------------------------------------------------

def test_timing_summary_by_hand():
    s = summarize_timings([0.01, 0.01, 0.02, 0.04], stream_fps=25.0)
    mean = (0.01 + 0.01 + 0.02 + 0.04) / 4
    assert s.n_frames == 4
    assert s.mean_s == pytest.approx(mean, rel=1e-12)
    assert s.p50_s == pytest.approx((0.01 + 0.02) / 2, rel=1e-12)
    assert s.p99_s == pytest.approx(0.02 + 0.97 * (0.04 - 0.02), rel=1e-12)  # rank 0.99 * 3 = 2.97
    assert s.max_s == 0.04
    assert s.fps_per_core == pytest.approx(1 / mean, rel=1e-12)
    assert s.stream_duration_s == 4 / 25.0
    assert s.rtf == pytest.approx((0.01 + 0.01 + 0.02 + 0.04) / (4 / 25.0), rel=1e-12)
    assert s.x_real_time == pytest.approx((4 / 25.0) / 0.08, rel=1e-12)
    assert s.rtf < 1  # 0.08 s of work for 0.16 s of video: faster than real time


def test_timing_from_a_table_infers_the_stream_rate():
    n = 50
    table = pa.table({"frame": np.arange(n), "t": np.arange(n) / 10.0, "total_s": np.full(n, 0.2)})
    s = timing_summary(table)
    assert s.stream_fps == pytest.approx(10.0, rel=1e-9)
    assert s.rtf == pytest.approx(0.2 / 0.1, rel=1e-9)  # 0.2 s per 0.1 s frame: twice slower than real time
    assert s.x_real_time == pytest.approx(0.5, rel=1e-9)
    assert timing_summary(table.to_pandas(), stream_fps=20.0).rtf == pytest.approx(0.2 * 20.0, rel=1e-9)
    with pytest.raises(ValueError, match=r"timing table must have column 'total_s'"):
        timing_summary(table.drop_columns(["total_s"]))
    with pytest.raises(ValueError, match="stream_fps cannot be inferred"):
        timing_summary(table.slice(0, 1))


def test_timing_edge_cases():
    s = summarize_timings([], stream_fps=25.0)
    assert s.n_frames == 0 and math.isnan(s.p50_s) and s.undefined["p50_s"] == "no frames"
    assert math.isnan(s.rtf) and s.to_dict()["rtf"] is None
    with pytest.raises(ValueError, match=r"total_s must be finite seconds >= 0; got -0.1 at frame position 1"):
        summarize_timings([0.1, -0.1], stream_fps=25.0)
    with pytest.raises(ValueError, match="stream_fps must be a finite number"):
        summarize_timings([0.1], stream_fps=0.0)


# ---- run-folder I/O -------------------------------------------------------------------------

def test_atomic_writers_and_readers(tmp_path):
    write_json(tmp_path / "a.json", {"b": np.float32(1.5), "a": [np.int64(2), float("nan")], "t": FIRE})
    text = (tmp_path / "a.json").read_text()
    assert json.loads(text) == {"a": [2, None], "b": 1.5, "t": "fire"}
    assert text.index('"a"') < text.index('"b"')  # sorted keys: same content, same bytes
    n = write_jsonl(tmp_path / "alerts.jsonl", ALERTS)
    assert n == 4
    assert read_jsonl(tmp_path / "alerts.jsonl")[0] == {"camera": "cam1", "score": 0.9, "t": 11.0, "type": "fire"}
    write_parquet(tmp_path / "scores.parquet", {"t": [0.0, 0.1], "type": ["fire", "fire"], "score": [0.1, 0.2]})
    assert read_scores(tmp_path / "scores.parquet").column("score").to_pylist() == [0.1, 0.2]
    write_parquet(tmp_path / "bad.parquet", {"t": [0.0]})
    with pytest.raises(ValueError, match=r"missing column\(s\) \['type', 'score'\]"):
        read_scores(tmp_path / "bad.parquet")
    with pytest.raises(TypeError, match="cannot write a object as JSON"):
        write_json(tmp_path / "c.json", {"x": object()})
    assert not (tmp_path / "c.json").exists()
    assert sorted(os.listdir(tmp_path)) == ["a.json", "alerts.jsonl", "bad.parquet", "scores.parquet"]


def test_manifest(tmp_path):
    rec = write_manifest(tmp_path / "manifest.json", "platform_fall", "ab" * 32, 7, {"detector": "baseline"},
                         argv=["stationwatch", "run", "platform_fall"])
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == rec
    assert on_disk["scenario"] == {"name": "platform_fall", "hash": "ab" * 32}
    assert on_disk["seed"] == 7 and on_disk["detector"] == "baseline"
    assert on_disk["command"] == ["stationwatch", "run", "platform_fall"]
    versions = package_versions()
    assert set(versions) == {"python", "numpy", "scipy", "opencv", "mesa", "torch", "pyarrow", "stationwatch"}
    assert versions["numpy"] == np.__version__
    with pytest.raises(ValueError, match=r"extra must not redefine manifest key\(s\) \['seed'\]"):
        write_manifest(tmp_path / "m2.json", "x", "y", 1, {"seed": 2})
    with pytest.raises(ValueError, match="seed must be an integer; got 1.5"):
        write_manifest(tmp_path / "m3.json", "x", "y", 1.5)
