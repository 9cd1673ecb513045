"""The stationwatch command line, called in-process."""

import json
import os
import re
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


# --- evaluate: cameras, footage, ground-truth shapes ----------------------------------------------------------

GT_INSTANCE = {"id": "intruder", "type": "intrusion", "camera": "platform", "t_start": 30.0, "t_end": 36.0,
               "bbox_at_onset": None}


def _alerts(tmp_path, *alerts) -> str:
    path = tmp_path / "alerts.jsonl"
    path.write_text("".join(json.dumps({"camera": "platform", "type": "intrusion", "score": 0.9, **a}) + "\n"
                            for a in alerts))
    return str(path)


def _gt(tmp_path, data, name="gt.json") -> str:
    (tmp_path / name).write_text(json.dumps(data))
    return str(tmp_path / name)


def _rows(path) -> dict:
    return {r["type"]: r for r in json.loads(Path(path).read_text())["rows"]}


def test_evaluate_reads_a_bare_list_of_instances_with_duration(tmp_path, capsys):
    alerts = _alerts(tmp_path, {"t": 31.0}, {"t": 50.0})
    full = _gt(tmp_path, {"duration_s": 70.0, "instances": [GT_INSTANCE]})
    bare = _gt(tmp_path, [GT_INSTANCE], "bare.json")
    assert main(["evaluate", alerts, full, "--json", str(tmp_path / "a.json")]) == 0
    assert main(["evaluate", alerts, bare, "--duration", "70", "--json", str(tmp_path / "b.json")]) == 0
    a, b = _rows(tmp_path / "a.json"), _rows(tmp_path / "b.json")
    assert a == b and (a["intrusion"]["tp"], a["intrusion"]["fp"]) == (1, 1)
    assert a["all"]["camera_hours"] == 70 / 3600


def test_evaluate_unknown_cameras_only_when_allowed(tmp_path, capsys):
    alerts = _alerts(tmp_path, {"t": 31.0}, {"t": 40.0, "camera": "platfrom"})
    gt = _gt(tmp_path, {"duration_s": 70.0, "cameras": [{"name": "platform"}], "instances": [GT_INSTANCE]})
    assert main(["evaluate", alerts, gt]) == 2
    assert "camera(s) 'platfrom' not in the ground truth (its cameras: platform)" in capsys.readouterr().err
    assert main(["evaluate", alerts, gt, "--allow-unknown-cameras", "--json", str(tmp_path / "m.json")]) == 0
    rows = _rows(tmp_path / "m.json")
    # the invented camera adds its camera-hours and its false alarm, as asked
    assert rows["all"]["camera_hours"] == 2 * 70 / 3600 and rows["intrusion"]["fp"] == 1
    assert json.loads((tmp_path / "m.json").read_text())["unknown_cameras"] == ["platfrom"]


def test_evaluate_warns_of_alerts_after_the_footage(tmp_path, capsys):
    alerts = _alerts(tmp_path, {"t": 31.0}, {"t": 5000.0})
    gt = _gt(tmp_path, {"duration_s": 70.0, "instances": [GT_INSTANCE]})
    assert main(["evaluate", alerts, gt, "--json", str(tmp_path / "m.json")]) == 0
    err = capsys.readouterr().err
    assert err == ("stationwatch evaluate: warning: 1 alert(s) after the end of the footage, counted as false "
                   "alarms: t=5000 s on 'platform' (intrusion)\n")
    assert json.loads((tmp_path / "m.json").read_text())["alerts_past_end"] == 1
    assert _rows(tmp_path / "m.json")["intrusion"]["fp"] == 1


# --- run folders ------------------------------------------------------------------------------------------


def test_types_no_detector_scored_are_listed_as_not_scored(tmp_path, capsys, monkeypatch):
    from detectors.registry import BUILTIN_DETECTORS

    # a core without a fire detector, on a fire scenario; the table is restored in its order after (monkeypatch
    # would put fire back last, and the registry's order is the order of every core's detectors and score columns)
    saved = dict(BUILTIN_DETECTORS)
    del BUILTIN_DETECTORS["fire"]
    out = tmp_path / "fire"
    try:
        assert main(["run", "platform_fire", "--set", "events.0.at_s=1", "--duration", "3", "--no-video",
                     "--out", str(out)]) == 0
    finally:
        BUILTIN_DETECTORS.clear()
        BUILTIN_DETECTORS.update(saved)
    table = capsys.readouterr().out
    assert re.search(r"^platform_fire +71 +fire +1  not scored \(no detector ran for this type\)$", table, re.M), table
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert metrics["not_scored"] == [{"type": "fire", "n_instances": 1, "n_alerts": 0}]
    types = [r["type"] for r in metrics["rows"]]
    assert "fire" not in types and "intrusion" in types and types[-1] == "all"
    assert metrics["rows"][-1]["n_instances"] == 0  # the fire is not a miss of the intrusion detector


def test_runs_of_other_settings_never_share_a_folder(tmp_path, monkeypatch, capsys):
    from tests.helpers import tiny_scenario

    monkeypatch.chdir(tmp_path)
    base = ["run", tiny_scenario(tmp_path), "--duration", "2", "--no-video"]
    assert main(base + ["--set", "render.noise_std=6"]) == 0
    assert main(base) == 0
    folders = sorted((tmp_path / "runs" / "tiny").iterdir())
    assert len(folders) == 2 and all(re.fullmatch(r"seed_5_[0-9a-f]{8}", f.name) for f in folders)
    # an explicit folder that holds a run of other settings is refused, not overwritten, unless --force
    capsys.readouterr()
    before = (folders[0] / "manifest.json").read_bytes()
    other = base + ["--set", "render.noise_std=9", "--out", str(folders[0])]
    assert main(other) == 2
    err = capsys.readouterr().err
    assert "holds a finished run of other settings (scenario 'tiny' with other contents or overrides" in err
    assert "--force" in err and err.count("\n") == 1
    assert (folders[0] / "manifest.json").read_bytes() == before
    assert main(other + ["--force"]) == 0 and (folders[0] / "manifest.json").read_bytes() != before


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """``stationwatch run`` of a small scenario with its video, then ``export --frames``."""
    from tests.helpers import tiny_scenario

    folder = tmp_path_factory.mktemp("short")
    out = folder / "run"
    assert main(["run", tiny_scenario(folder), "--duration", "3", "--out", str(out)]) == 0
    assert main(["export", str(out), "--frames"]) == 0
    return out


def test_every_file_of_a_run_and_its_export_is_0644(short_run):
    files = [p for p in short_run.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"c.mp4", "manifest.json", "coco.json", "seqinfo.ini", "000015.jpg",
                                       "timeline_intrusion.png"}
    assert {os.fspath(p.relative_to(short_run)): oct(p.stat().st_mode & 0o777) for p in files
            if p.stat().st_mode & 0o777 != 0o644} == {}


def test_export_frames_are_where_coco_and_mot_point(short_run):
    import configparser

    from pycocotools.coco import COCO

    from tests.test_export import load_mot

    coco = COCO(str(short_run / "coco.json"))
    images = coco.loadImgs(coco.getImgIds())
    assert len(images) == 15  # 3 s at 5 frames/s
    for img in images:  # every file_name exists, of the size the file says
        import cv2

        frame = cv2.imread(str(short_run / img["file_name"]))
        assert frame is not None and frame.shape[:2] == (img["height"], img["width"])
    seq = short_run / "mot" / "c"
    info = configparser.ConfigParser()
    info.read(seq / "seqinfo.ini")
    s = info["Sequence"]
    frames = sorted((seq / s["imDir"]).glob(f"*{s['imExt']}"))
    assert [p.name for p in frames] == [f"{k:06d}.jpg" for k in range(1, int(s["seqLength"]) + 1)]
    gt = load_mot(seq / "gt" / "gt.txt")
    assert len(gt) and set(gt.index.get_level_values(0)) <= set(range(1, int(s["seqLength"]) + 1))


def test_render_writes_what_the_readme_says_in_the_ground_truth_shape_of_run(short_run, tmp_path):
    out = tmp_path / "r"
    assert main(["render", str(short_run.parent / "tiny.yaml"), "--duration", "3", "--out", str(out)]) == 0
    written = sorted(os.fspath(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["annotations.parquet", "c.mp4", "coco.json", "ground_truth.json", "mot/c/gt/gt.txt",
                       "mot/c/seqinfo.ini", "site_c.yaml"]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith("stationwatch render "))
    for name in ("MP4", "ground_truth.json", "site_CAMERA.yaml", "annotations.parquet", "coco.json", "mot/"):
        assert name in line, (name, line)
    rendered = json.loads((out / "ground_truth.json").read_text())
    ran = json.loads((short_run / "ground_truth.json").read_text())
    assert sorted(rendered) == sorted(ran) and rendered["cameras"] == ran["cameras"]
    assert rendered["instances"] == ran["instances"]  # same footage, same truth, same shape
    assert (out / "coco.json").read_bytes() == (short_run / "coco.json").read_bytes()


def test_detect_on_lossless_footage_gives_the_alerts_run_gives(tmp_path, capsys):
    """Both paths time a frame at index / fps: ``detect`` on a lossless file of a run's frames raises the alerts
    the run raised, at the same times."""
    import cv2

    from sim.scenario import load_scenario
    from sim.source import SyntheticSource
    from tests.helpers import tiny_scenario

    scenario = tiny_scenario(tmp_path, intrusion=True)
    run = tmp_path / "run"
    assert main(["run", scenario, "--no-video", "--out", str(run)]) == 0
    src = SyntheticSource(load_scenario(scenario), "c")  # the run's frames again: same seed, same pixels
    video = cv2.VideoWriter(str(tmp_path / "c.avi"), cv2.VideoWriter_fourcc(*"HFYU"), src.fps, src.size)
    for frame in src:
        video.write(frame.image)
    video.release()
    assert main(["detect", str(tmp_path / "c.avi"), "--site", str(run / "site_c.yaml"),
                 "--out", str(tmp_path / "alerts.jsonl")]) == 0
    ran = (run / "alerts.jsonl").read_text().splitlines()
    assert (tmp_path / "alerts.jsonl").read_text().splitlines() == ran and len(ran) == 1
    assert json.loads(ran[0])["t"] == 6.5  # frame 65 at 10 frames/s (index / fps, not a clock)
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


@pytest.mark.parametrize("seed, match", [
    ("950", "seed 950 is a held-out seed, reserved for evaluation"),
    ("81", "seed 81 is a scenario library default seed"),  # concourse_weapon's own seed
    ("10000", None),
])
def test_train_weapon_refuses_evaluation_seeds_in_one_line(seed, match, capsys, monkeypatch):
    import train.weapon

    monkeypatch.setattr(train.weapon, "render_crops", lambda clips, **kw: (_ for _ in ()).throw(
        RuntimeError(f"would render {len(clips)} clip(s) from seed {clips[0].seed}")))
    assert main(["train", "weapon", "--data-seed", seed, "--clips", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("stationwatch train:")
    assert (match or f"would render 2 clip(s) from seed {seed}") in err
