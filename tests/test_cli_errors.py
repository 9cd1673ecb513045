"""The command line's hard edges: bad input is one line on stderr and exit status 2 with nothing written;
Ctrl-C is one line and 130 with no partial file; read-only destinations name the path."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from eval.cli import main
from tests.helpers import interrupt_when, tiny_scenario

SITE = {"camera": "platform", "image_size": [64, 48], "fps": 10,
        "calibration": {"homography": [[10, 0, 0], [0, 10, 0], [0, 0, 1]]},
        "zones": [{"name": "tracks", "kind": "forbidden", "polygon": [[0, 0], [3, 0], [3, 2], [0, 2]]}]}
INSTANCE = {"id": "intruder", "type": "intrusion", "camera": "platform", "t_start": 30.0, "t_end": 36.0,
            "bbox_at_onset": None}
GT = {"format": "stationwatch.ground_truth/1", "scenario": "platform_intrusion", "seed": 21, "duration_s": 70.0,
      "cameras": [{"name": "platform", "fps": 10.0, "resolution": [640, 360], "duration_s": 70.0}],
      "instances": [INSTANCE], "world_events": []}


def alert_line(**change) -> str:
    return json.dumps({"camera": "platform", "type": "intrusion", "t": 31.0, "score": 0.9, **change}) + "\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    """Input files of every kind, good and bad, in a folder of their own."""
    from sim.render.video import write_video

    d = tmp_path_factory.mktemp("inputs")
    files = {
        "site.yaml": yaml.safe_dump(SITE),
        "bowtie.yaml": yaml.safe_dump({**SITE, "zones": [{**SITE["zones"][0],
                                                          "polygon": [[0, 0], [3, 2], [3, 0], [0, 2]]}]}),
        "gt.json": json.dumps(GT),
        "bare.json": json.dumps([INSTANCE]),
        "alerts.jsonl": alert_line(),
        "typo_camera.jsonl": alert_line() + alert_line(camera="platfrom"),
        "typo_type.jsonl": alert_line(type="intrusoin"),
        "exp.yaml": yaml.safe_dump({"name": "x", "scenarios": ["concourse_quiet"], "duration_s": 2,
                                    "detectors": [{"name": "builtin"}]}),
    }
    out = {}
    for name, text in files.items():  # {site}, {gt}, ... in the command lines below
        (d / name).write_text(text)
        out[name.split(".")[0]] = str(d / name)
    rng = np.random.default_rng(0)
    write_video(d / "clip.mp4", (rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(20)), fps=10)
    data = (d / "clip.mp4").read_bytes()
    (d / "cut.mp4").write_bytes(data[:len(data) // 2])
    (d / "empty").mkdir()
    out.update(clip=str(d / "clip.mp4"), cut=str(d / "cut.mp4"), empty=str(d / "empty"), dir=str(d),
               tiny=tiny_scenario(d))
    return out


@pytest.fixture(autouse=True)
def no_long_work(monkeypatch):
    """Arguments and destinations are checked before any long work: fitting the density gain or training the CNN
    here (minutes) would fail the test, as it would lose a user's minutes."""
    import train.calibrate
    import train.density
    import train.weapon

    def refused(*args, **kwargs):
        raise AssertionError("the work started before its arguments and destination were checked")

    monkeypatch.setattr(train.calibrate, "calibrate", refused)
    monkeypatch.setattr(train.density, "render_samples", refused)
    monkeypatch.setattr(train.density, "fit", refused)
    monkeypatch.setattr(train.weapon, "render_crops", refused)
    monkeypatch.setattr(train.weapon, "fit", refused)


def snapshot(folder: Path) -> list[str]:
    return sorted(os.fspath(p.relative_to(folder)) for p in folder.rglob("*"))


BAD = [
    # (command line, what the one line must say)
    ("scenarios extra", "unrecognized arguments: extra"),
    ("nope", "invalid choice: 'nope'"),
    ("render nope", "no scenario named 'nope'"),
    ("render platform_intrusion --duration 1000", "duration_s must be within (0, 70] s; got 1000"),
    ("render platform_intrusion --camera hall", "has no camera 'hall'"),
    ("run concourse_quiet --set cameras.5.fps=5",
     "override cameras.5.fps: index 5 is out of range; cameras has 1 item (indices 0 to 0)"),
    ("run concourse_quiet --set cameras.x.fps=5", "cameras is a list; expected an index in [0, 0] instead of 'x'"),
    ("run concourse_quiet --set seed.x=5", "seed is 11, not a mapping or a list"),
    ("run concourse_quiet --set render.noise=5", "render.noise: unknown key"),
    ("run concourse_quiet --set render.noise_std=[", "--set render.noise_std: the value '[' is not a YAML value"),
    ("run concourse_quiet --set =5", "--set expects KEY=VALUE"),
    ("run concourse_quiet --seed -1", "argument --seed: expected an integer >= 0; got '-1'"),
    ("run concourse_quiet --seed x", "argument --seed: expected an integer >= 0; got 'x'"),
    ("run platform_intrusion --duration 1000", "duration_s must be within (0, 70] s; got 1000"),
    ("run platform_intrusion --duration nan", "argument --duration: expected a number of seconds > 0; got 'nan'"),
    ("demo --jobs 0", "argument --jobs: expected an integer >= 1; got '0'"),
    ("demo --scenarios nope", "no scenario named 'nope'"),
    ("detect {dir}/missing.mp4 --site {site}", "video file '{dir}/missing.mp4' does not exist"),
    ("detect {clip} --site {dir}/missing.yaml", "site configuration '{dir}/missing.yaml' does not exist"),
    ("detect {clip} --site {bowtie}", "zone 'tracks': polygon must be a simple polygon"),
    ("detect {cut} --site {site}", "has no index (its 'moov' box is missing): the file is truncated"),
    ("detect {clip} --site {site} --max-frames 0", "argument --max-frames: expected an integer >= 1"),
    ("detect {empty} --site {site}", "is a folder"),
    ("evaluate {dir}/missing.jsonl {gt}", "alerts file '{dir}/missing.jsonl' does not exist"),
    ("evaluate {alerts} {dir}/missing.json", "ground-truth file '{dir}/missing.json' does not exist"),
    ("evaluate {alerts} {site}", "not JSON"),
    ("evaluate {typo_type} {gt}", "typo_type.jsonl:1: type must be one of abandoned_object"),
    ("evaluate {typo_camera} {gt}",
     "camera(s) 'platfrom' not in the ground truth (its cameras: platform); check the spelling, or pass "
     "--allow-unknown-cameras"),
    ("evaluate {alerts} {bare}", "--duration is needed: {bare} is a bare list of instance records"),
    ("evaluate {alerts} {gt} --duration -5", "argument --duration: expected a number of seconds > 0"),
    ("evaluate {alerts} {gt} --spatial near", "argument --spatial: invalid choice: 'near'"),
    ("experiment {dir}/missing.yaml", "experiment file '{dir}/missing.yaml' does not exist"),
    ("experiment {exp} --jobs 0", "argument --jobs: expected an integer >= 1"),
    ("export {empty}", "holds no annotations.parquet"),
    ("export {empty} --actev", "is not an experiment results folder"),
    ("export {empty} --actev --interval-s 0", "argument --interval-s: expected a number of seconds > 0"),
    ("train density-gain --min-density -1", "argument --min-density: expected a number >= 0"),
    ("train density-gain --scenario nope", "no scenario named 'nope'"),
    ("train density --epochs 0", "argument --epochs: expected an integer >= 1"),
    ("train density --crop 150 96", "--crop: expected multiples of 4 working px; got 150 96"),
    ("train density --validate-only --validate-seeds 10001", "density validation: seed 10001 is a training seed"),
    ("train density --validate-only --validate-seeds", "--validate-only needs held-out seeds"),
    ("train density --validate-only --validate-seeds 901 --out {dir}/none.pt", "--validate-only: {dir}/none.pt does "
                                                                              "not exist; train the weights first"),
    ("train weapon --every-s 0", "argument --every-s: expected a number of seconds > 0"),
    ("run {clip}", "'{clip}' is not a scenario: scenario files end in .yaml or .yml"),
    ("render {empty}", "'{empty}' is not a scenario: scenario files end in .yaml or .yml"),
    ("run {tiny} --duration 1 --out {clip}", "cannot make the folder {clip}: a file has that name"),
    ("render {tiny} --duration 1 --out {clip}", "cannot make the folder {clip}: a file has that name"),
    ("demo --no-video --scenarios concourse_quiet --out {clip}", "cannot make the folder {clip}/concourse_quiet"),
    ("experiment {empty}", "experiment file '{empty}' cannot be read: Is a directory"),
    ("train density-gain --out {empty}", "cannot write {empty}: it is a folder; expected a file name"),
    ("train density --out {dir}/no/such/folder/w.pt", "cannot write '{dir}/no/such/folder/w.pt': folder "
                                                      "'{dir}/no/such/folder' does not exist"),
    ("site nope", "no scenario named 'nope'"),
    ("site platform_intrusion --camera hall", "has no camera 'hall'"),
    ("site platform_intrusion --out {dir}/no/such/folder/site.yaml", "folder '{dir}/no/such/folder' does not exist"),
]


@pytest.mark.parametrize("command, message", BAD, ids=[c for c, _ in BAD])
def test_bad_input_is_one_line_status_2_and_writes_nothing(inputs, tmp_path, monkeypatch, capsys, command, message):
    monkeypatch.chdir(tmp_path)  # default outputs (runs/...) would land here
    before = snapshot(Path(inputs["dir"]))
    assert main(command.format(**inputs).split()) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert message.format(**inputs) in err, err
    assert err.count("\n") == 1 and err.startswith("stationwatch") and "Traceback" not in err, err
    assert captured.out == ""
    assert snapshot(tmp_path) == [] and snapshot(Path(inputs["dir"])) == before  # nothing written anywhere


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("stationwatch 0.")


# --- read-only destinations --------------------------------------------------------------------------------


@pytest.fixture
def read_only(tmp_path, monkeypatch) -> Path:
    """A folder nothing can be written in. The tests may run as root, who writes anywhere: the system calls that
    create files and folders (``os.open`` with O_CREAT, ``os.mkdir``) refuse by hand, as a read-only mount does."""
    ro = tmp_path / "ro"
    ro.mkdir()
    real_open, real_mkdir = os.open, os.mkdir

    def refused(path) -> bool:
        return Path(os.path.abspath(os.fspath(path))).is_relative_to(ro)

    def guarded_open(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and refused(path):
            raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if refused(path):
            raise OSError(errno.EROFS, "Read-only file system", os.fspath(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)
    return ro


@pytest.mark.parametrize("command, target", [
    ("run {tiny} --duration 1 --no-video --out {ro}/run", "{ro}/run"),
    ("render {tiny} --duration 1 --out {ro}/render", "{ro}/render"),
    ("site platform_intrusion --out {ro}/site.yaml", "{ro}/site.yaml"),
    ("detect {clip} --site {site} --out {ro}/alerts.jsonl", "{ro}/alerts.jsonl"),
    ("evaluate {alerts} {gt} --json {ro}/metrics.json", "{ro}/metrics.json"),
    ("train density-gain --out {ro}/gain.json", "{ro}/gain.json"),
    ("train density --out {ro}/density.pt", "{ro}/density.pt"),
    ("train weapon --out {ro}/weapon.pt", "{ro}/weapon.pt"),
])
def test_a_read_only_destination_is_one_line_naming_it(inputs, read_only, capsys, command, target):
    args = {**inputs, "ro": str(read_only)}
    assert main(command.format(**args).split()) == 2
    err = capsys.readouterr().err
    assert err == f"stationwatch {command.split()[0]}: cannot write {target.format(**args)}: Read-only file system\n"
    assert snapshot(read_only) == []


# --- Ctrl-C ------------------------------------------------------------------------------------------------


def test_ctrl_c_during_run_leaves_no_partial_video_and_the_rerun_resumes(tmp_path, capsys, monkeypatch):
    from detectors.core import DetectionCore

    real = DetectionCore.process

    def interrupted(self, frame):
        if frame.index == 12:
            raise KeyboardInterrupt
        return real(self, frame)

    out = tmp_path / "run"
    command = ["run", tiny_scenario(tmp_path), "--duration", "4", "--out", str(out)]
    monkeypatch.setattr(DetectionCore, "process", interrupted)
    assert main(command) == 130
    err = capsys.readouterr().err
    assert err == ("stationwatch run: interrupted; files already complete are kept, run the same command again "
                   "to resume\n")
    assert not (out / "c.mp4").exists() and not (out / "manifest.json").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    monkeypatch.setattr(DetectionCore, "process", real)
    assert main(command) == 0
    import cv2

    cap = cv2.VideoCapture(str(out / "c.mp4"))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 20  # 4 s at 5 frames/s, all of them
    cap.release()
    capsys.readouterr()
    assert main(command) == 0 and "reused a finished run" in capsys.readouterr().out


def test_ctrl_c_during_demo_is_one_line_and_130(tmp_path, capsys, monkeypatch):
    import eval.run

    def interrupted(task):
        raise KeyboardInterrupt

    monkeypatch.setattr(eval.run, "_run_one", interrupted)
    assert main(["demo", "--jobs", "1", "--out", str(tmp_path / "demo")]) == 130
    err = capsys.readouterr().err
    assert err.startswith("stationwatch demo: interrupted;") and err.count("\n") == 1


def test_ctrl_c_during_render_leaves_no_partial_video(tmp_path, capsys, monkeypatch):
    from sim.render.video import VideoWriter

    real = VideoWriter.write
    written = []

    def interrupted(self, image):
        if len(written) == 7:
            raise KeyboardInterrupt
        written.append(1)
        return real(self, image)

    monkeypatch.setattr(VideoWriter, "write", interrupted)
    out = tmp_path / "render"
    assert main(["render", tiny_scenario(tmp_path), "--duration", "3", "--out", str(out)]) == 130
    assert capsys.readouterr().err.startswith("stationwatch render: interrupted;")
    assert snapshot(out) == []  # neither c.mp4 nor its temporary file, nor a ground truth without its video


def test_ctrl_c_during_detect_keeps_the_alerts_so_far(inputs, tmp_path, capsys, monkeypatch):
    """A live camera is stopped by Ctrl-C: status 130, one line, and the alerts raised so far in a whole file."""
    from detectors.core import DetectionCore
    from detectors.events import Alert, EventType

    real = DetectionCore.process

    def interrupted(self, frame):
        if frame.index == 12:
            raise KeyboardInterrupt
        real(self, frame)
        return [Alert(camera="platform", type=EventType.INTRUSION, t=frame.t, score=1.0)] if frame.index == 5 else []

    monkeypatch.setattr(DetectionCore, "process", interrupted)
    out = tmp_path / "alerts.jsonl"
    assert main(["detect", inputs["clip"], "--site", inputs["site"], "--out", str(out)]) == 130
    assert capsys.readouterr().err == (f"stationwatch detect: interrupted after 12 frames; 1 alert(s) written to {out}, "
                                       "0 frame(s) dropped, 0 reconnection(s)\n")
    assert [json.loads(line)["t"] for line in out.read_text().splitlines()] == [0.5]
    assert snapshot(tmp_path) == ["alerts.jsonl"]


def test_opencv_log_lines_do_not_break_the_one_line_rule(inputs):
    """OpenCV logs its own warnings on stderr when a camera index cannot be opened; the command's line is the only
    one (a process of its own: OpenCV reads its log level when first imported)."""
    cmd = [sys.executable, "-m", "eval.cli", "detect", "97", "--site", inputs["site"]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 2
    assert proc.stderr == "stationwatch detect: live source 97 cannot be opened (no such camera or stream " \
                          "unreachable)\n", proc.stderr


@pytest.mark.slow
def test_sigint_while_the_video_is_written(tmp_path):
    """A real Ctrl-C: status 130, one line, the video's temporary file deleted, nothing under the final name."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "eval.cli", "run", "platform_intrusion", "--duration", "12", "--out", str(out)]

    def writing() -> bool:  # frames are being written
        return any(p.stat().st_size > 0 for p in out.glob(".platform.mp4.*"))

    status, _, stderr = interrupt_when(cmd, writing)
    assert status == 130, stderr
    assert stderr.startswith("stationwatch run: interrupted;") and stderr.count("\n") == 1, stderr
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".mp4" or p.name.startswith(".")) == []
