"""Alerts recorded by another system: our JSON Lines, or CSV with a column mapping; errors name line and column."""

from __future__ import annotations

import json

import pytest

from detectors.events import Alert, EventType
from eval.alert_readers import AlertFileError, AlertFormat, parse_mapping, past_end, read_alerts_file
from eval.cli import main

VENDOR = AlertFormat(format="csv", columns={"camera": "cam_id", "type": "label", "t": "time_ms", "score": "conf",
                                            "x": "left", "y": "top", "w": "width", "h": "height"},
                     type_map={"Intrusion": "intrusion", "Fall": "person_on_ground"}, time_unit="ms")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_a_column_mapping_a_type_map_and_milliseconds(tmp_path):
    path = write(tmp_path, "vendor.csv", "cam_id,label,time_ms,conf,left,top,width,height\n"
                                         "platform,Intrusion,33900,0.8,400,130,20,50\n"
                                         "platform,Fall,41250,0.55,,,,\n")
    a, b = read_alerts_file(path, VENDOR)
    assert a == Alert("platform", EventType.INTRUSION, 33900 / 1000, 0.8, (400.0, 130.0, 20.0, 50.0))
    assert b == Alert("platform", EventType.PERSON_ON_GROUND, 41250 / 1000, 0.55, None)


def test_csv_with_frame_indices_a_default_camera_and_no_score(tmp_path):
    path = write(tmp_path, "v.csv", "frame;event\n339;intrusion\n\n420;fire\n")
    fmt = AlertFormat(format="csv", columns={"frame": "frame", "type": "event"})
    alerts = read_alerts_file(path, fmt, camera="platform", fps=10)
    assert [(a.camera, a.type.value, a.t, a.score) for a in alerts] == [("platform", "intrusion", 339 / 10, 1.0),
                                                                         ("platform", "fire", 420 / 10, 1.0)]


def test_csv_without_a_mapping_reads_columns_named_like_the_fields(tmp_path):
    path = write(tmp_path, "a.csv", "camera,type,t,score\ncam1,fire,1.5,0.25\n")
    assert read_alerts_file(path) == [Alert("cam1", EventType.FIRE, 1.5, 0.25)]


def test_jsonl_is_the_default(tmp_path):
    path = write(tmp_path, "a.jsonl", json.dumps({"camera": "c", "type": "fire", "t": 2.0, "score": 0.5}) + "\n\n")
    assert read_alerts_file(path) == [Alert("c", EventType.FIRE, 2.0, 0.5)]


@pytest.mark.parametrize("name, text, fmt, message", [
    ("a.jsonl", '{"camera": "c", "type": "fire", "t": 1, "score": 1}\nnot json\n', None,
     r"a.jsonl:2: not JSON \(Expecting value\): 'not json'"),
    ("a.jsonl", '[1, 2]\n', None, r"a.jsonl:1: expected an object \{camera, type, t, score, bbox\}; got list"),
    ("a.jsonl", '{"camera": "c", "type": "fier", "t": 1, "score": 1}\n', None,
     r"a.jsonl:1.*type must be one of abandoned_object, .*; got 'fier'"),
    ("a.jsonl", '{"camera": "c", "type": "fire", "t": -1, "score": 1}\n', None, r"a.jsonl:1: alert.t must be a finite"),
    ("v.csv", "cam_id,label,time_ms,conf,left,top,width,height\nc,Intrusion,abc,1,,,,\n", VENDOR,
     r"v.csv:2: column 'time_ms': expected a number; got 'abc'"),
    ("v.csv", "cam_id,label,time_ms,conf,left,top,width,height\nc,Jump,1,1,,,,\n", VENDOR,
     r"v.csv:2: column 'label' must be one of .*; got 'Jump'"),
    ("v.csv", "cam_id,label,time_ms,conf,left,top,width,height\nc,Intrusion,1,1,4,5,,\n", VENDOR,
     r"v.csv:2: the box needs all of left, top, width, height or none; got \['4', '5', '', ''\]"),
    ("v.csv", "cam_id,label,time,conf\nc,Intrusion,1,1\n", VENDOR,
     r"v.csv: missing column\(s\) t \(column 'time_ms'\), x \(column 'left'\)"),
    ("v.csv", "cam_id,label,time_ms,conf,left,top,width,height\n,Intrusion,1,1,,,,\n", VENDOR,
     r"v.csv:2: column 'cam_id' is empty; expected a camera name"),
    ("v.csv", "type,t\nfire,1\n", AlertFormat(format="csv"), r"v.csv: no camera column; map camera=NAME"),
    ("v.csv", "frame,type,camera\n3,fire,c\n", AlertFormat(format="csv", columns={"frame": "frame", "type": "type",
                                                                                  "camera": "camera"}),
     r"v.csv:2: column 'frame': frame indices need the stream's frame rate \(fps\)"),
])
def test_malformed_files_name_the_line_and_column(tmp_path, name, text, fmt, message):
    path = write(tmp_path, name, text)
    with pytest.raises(AlertFileError, match=message):
        read_alerts_file(path, fmt)


@pytest.mark.parametrize("kwargs, message", [
    ({"format": "xml"}, r"format must be jsonl or csv; got 'xml'"),
    ({"format": "csv", "columns": {"cam": "c"}}, r"columns: unknown field\(s\) 'cam'"),
    ({"format": "csv", "columns": {"x": "a", "y": "b"}}, r"columns: the box needs all of x, y, w, h or none; got x, y"),
    ({"format": "csv", "columns": {"t": "a", "frame": "b"}}, r"columns: give t or frame, not both"),
    ({"format": "jsonl", "columns": {"t": "a"}}, r"columns: a column mapping is for format csv"),
    ({"type_map": {"Fall": "fall"}}, r"type_map\['Fall'\] must be one of"),
])
def test_bad_formats(kwargs, message):
    with pytest.raises(AlertFileError, match=message):
        AlertFormat(**kwargs)


def test_mappings_from_the_command_line():
    assert parse_mapping("camera=cam_id, t=time", what="--columns") == {"camera": "cam_id", "t": "time"}
    with pytest.raises(AlertFileError, match=r"--columns expects NAME=VALUE pairs .*; got 'camera'"):
        parse_mapping("camera", what="--columns")


def test_alerts_past_the_end_of_the_footage():
    alerts = [Alert("c", EventType.FIRE, 69.9, 1), Alert("c", EventType.FIRE, 70.0, 1),
              Alert("c", EventType.FIRE, 5000.0, 1)]
    assert past_end(alerts, {"c": 70.0}) == [1, 2]


def test_evaluate_scores_a_vendor_csv_like_the_same_alerts_in_jsonl(tmp_path, capsys):
    gt = {"format": "stationwatch.ground_truth/1", "duration_s": 60.0,
          "cameras": [{"name": "platform", "fps": 10, "resolution": [640, 360]}],
          "instances": [{"id": "p1", "type": "intrusion", "camera": "platform", "t_start": 33.85, "t_end": 41.4,
                         "bbox_at_onset": [400, 130, 20, 50]}]}
    write(tmp_path, "gt.json", json.dumps(gt))
    write(tmp_path, "v.csv", "cam_id,label,time_ms,conf,left,top,width,height\n"
                             "platform,Intrusion,34300,0.9,402,131,20,50\nplatform,Intrusion,55000,0.6,10,10,5,5\n")
    write(tmp_path, "a.jsonl", json.dumps({"camera": "platform", "type": "intrusion", "t": 34.3, "score": 0.9,
                                           "bbox": [402, 131, 20, 50]}) + "\n" +
          json.dumps({"camera": "platform", "type": "intrusion", "t": 55.0, "score": 0.6, "bbox": [10, 10, 5, 5]}) + "\n")
    assert main(["evaluate", str(tmp_path / "v.csv"), str(tmp_path / "gt.json"), "--json", str(tmp_path / "c.json"),
                 "--columns", "camera=cam_id,type=label,t=time_ms,score=conf,x=left,y=top,w=width,h=height",
                 "--type-map", "Intrusion=intrusion", "--time-unit", "ms"]) == 0
    assert main(["evaluate", str(tmp_path / "a.jsonl"), str(tmp_path / "gt.json"), "--json",
                 str(tmp_path / "j.json")]) == 0
    from_csv = json.loads((tmp_path / "c.json").read_text())["rows"]
    from_jsonl = json.loads((tmp_path / "j.json").read_text())["rows"]
    assert from_csv == from_jsonl
    row = next(r for r in from_csv if r["type"] == "intrusion")
    assert (row["tp"], row["fp"], row["fn"]) == (1, 1, 0)
    assert row["latency_median_s"] == pytest.approx(34.3 - 33.85)
    assert row["rfa_per_hour"] == pytest.approx(1 / (60 / 3600))


def test_evaluate_with_a_bad_csv_is_one_line_and_status_2(tmp_path, capsys):
    write(tmp_path, "gt.json", json.dumps({"duration_s": 10, "instances": []}))
    write(tmp_path, "v.csv", "cam,label,time\nc,Intrusion,x\n")
    assert main(["evaluate", str(tmp_path / "v.csv"), str(tmp_path / "gt.json"), "--columns",
                 "camera=cam,type=label,t=time", "--type-map", "Intrusion=intrusion"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "v.csv:2: column 'time': expected a number; got 'x'" in err
    assert "Traceback" not in err
