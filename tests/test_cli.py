"""The stationwatch command line, called in-process."""

import json
from pathlib import Path

import pytest
import yaml

from eval.cli import main
from tests.helpers import real_data_dir

REAL = real_data_dir()


def test_scenarios_lists_the_library(capsys):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert "platform_intrusion" in out and "concourse_quiet" in out


def test_run_then_evaluate_gives_the_same_counts(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "platform_intrusion", "--duration", "45", "--no-video", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "platform_intrusion" in printed and "intrusion" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    row = next(r for r in metrics["metrics"]["rows"] if r["type"] == "intrusion")
    assert main(["evaluate", str(out / "alerts.jsonl"), str(out / "ground_truth.json"),
                 "--json", str(tmp_path / "m.json")]) == 0
    again = json.loads((tmp_path / "m.json").read_text())
    row2 = next(r for r in again["rows"] if r["type"] == "intrusion")
    assert (row2["tp"], row2["fp"], row2["fn"]) == (row["tp"], row["fp"], row["fn"])


def test_bad_override_is_one_clear_line(capsys):
    assert main(["run", "platform_intrusion", "--set", "events.0.at_s=500"]) == 2
    err = capsys.readouterr().err
    assert "events[0].at_s must be within [0, duration_s=70]; got 500" in err


def test_render_writes_video_ground_truth_and_site(tmp_path):
    out = tmp_path / "r"
    assert main(["render", "platform_intrusion", "--duration", "3", "--out", str(out)]) == 0
    assert (out / "platform.mp4").stat().st_size > 1000
    assert json.loads((out / "ground_truth.json").read_text())["scenario"] == "platform_intrusion"
    assert yaml.safe_load((out / "site_platform.yaml").read_text())["camera"] == "platform"
    coco = json.loads((out / "coco.json").read_text())
    assert len(coco["images"]) == 30  # 3 s at 10 frames/s
    assert (out / "mot" / "platform" / "gt" / "gt.txt").stat().st_size > 0
    (out / "coco.json").unlink()
    assert main(["export", str(out)]) == 0
    assert len(json.loads((out / "coco.json").read_text())["images"]) == 30


@pytest.mark.skipif(not (REAL / "furg_house6.mp4").exists(), reason="shared/data/real is not beside the repository")
def test_detect_streams_alerts_from_a_real_video(tmp_path, capsys):
    site = {
        "camera": "house6", "image_size": [426, 240], "fps": 29.97,
        "calibration": {"points": [{"ground": [0, 0], "image": [0, 239]}, {"ground": [10, 0], "image": [425, 239]},
                                   {"ground": [10, 10], "image": [425, 0]}, {"ground": [0, 10], "image": [0, 0]}]},
        "zones": [{"name": "yard", "kind": "forbidden", "polygon": [[0, 0], [10, 0], [10, 10], [0, 10]]}],
    }
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site))
    alerts = tmp_path / "alerts.jsonl"
    assert main(["detect", str(REAL / "furg_house6.mp4"), "--site", str(tmp_path / "site.yaml"),
                 "--max-frames", "120", "--out", str(alerts)]) == 0
    assert "120 frames" in capsys.readouterr().err
    for line in alerts.read_text().splitlines():  # whatever fired is well-formed
        rec = json.loads(line)
        assert rec["camera"] == "house6" and 0 <= rec["t"] < 120 / 29.97


def test_detect_on_a_missing_file_says_so(tmp_path, capsys):
    (tmp_path / "site.yaml").write_text(yaml.safe_dump({
        "camera": "c", "image_size": [64, 48], "fps": 10,
        "calibration": {"homography": [[10, 0, 0], [0, 10, 0], [0, 0, 1]]}}))
    assert main(["detect", str(tmp_path / "nope.mp4"), "--site", str(tmp_path / "site.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_detect_reports_latency_and_drops_on_stderr(tmp_path, capsys):
    import cv2
    import numpy as np

    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(30):
        img = np.full((48, 64, 3), 90, np.uint8)
        cv2.rectangle(img, (2 * i, 10), (2 * i + 6, 40), (30, 30, 200), -1)
        writer.write(img)
    writer.release()
    (tmp_path / "site.yaml").write_text(yaml.safe_dump({
        "camera": "c", "image_size": [64, 48], "fps": 10,
        "calibration": {"homography": [[10, 0, 0], [0, 10, 0], [0, 0, 1]]}}))
    assert main(["detect", str(path), "--site", str(tmp_path / "site.yaml"), "--stats-every", "0.000001",
                 "--queue", "2"]) == 0
    err = capsys.readouterr().err.splitlines()
    stats = [line for line in err if line.startswith("stationwatch detect:")]
    assert stats and all("frames/s" in line and "latency p50" in line and "dropped" in line for line in stats)
    assert err[-1] == "30 frames, 0 alert(s), 0 frame(s) dropped, 0 reconnection(s)"  # a file drops nothing


def test_detect_refuses_a_site_of_another_size(tmp_path, capsys):
    import cv2
    import numpy as np

    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    (tmp_path / "site.yaml").write_text(yaml.safe_dump({
        "camera": "c", "image_size": [640, 360], "fps": 10,
        "calibration": {"homography": [[10, 0, 0], [0, 10, 0], [0, 0, 1]]}}))
    assert main(["detect", str(path), "--site", str(tmp_path / "site.yaml")]) == 2
    assert "gives 64x48 frames but the site configuration" in capsys.readouterr().err


@pytest.mark.parametrize("seed, match", [
    ("901", "seed 901 is a held-out seed, reserved for evaluation"),
    ("201", "seed 201 is a tuning seed, reserved for evaluation"),
    ("10000", None),
])
def test_train_density_refuses_evaluation_seeds_in_one_line(seed, match, capsys, monkeypatch):
    import train.density

    monkeypatch.setattr(train.density, "render_samples", lambda clips, **kw: (_ for _ in ()).throw(
        RuntimeError(f"would render {len(clips)} clip(s) from seed {clips[0].seed}")))
    assert main(["train", "density", "--data-seed", seed, "--clips", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("stationwatch train:")
    assert (match or f"would render 2 clip(s) from seed {seed}") in err  # a training seed gets as far as rendering
