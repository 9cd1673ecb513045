"""Frame sources on real and written video, their errors, and the detection core on real pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.core import DetectionCore
from detectors.events import EventType
from detectors.site import SiteConfig
from detectors.source import SourceError, SourceWarning, VideoFileSource, open_source
from tests.helpers import real_data_dir

#: CI clones the repository into some folder with shared/ beside it
REAL = real_data_dir()
CLIP = REAL / "furg_house6.mp4"
needs_clip = pytest.mark.skipif(not CLIP.exists(), reason=f"real clip not found at {CLIP} (shared/ is not beside the repository)")


@needs_clip
def test_real_clip_frame_by_frame():
    src = VideoFileSource(CLIP)
    try:
        assert src.size == (426, 240)
        assert src.fps == pytest.approx(29.97)
        reported = int(cv2.VideoCapture(str(CLIP)).get(cv2.CAP_PROP_FRAME_COUNT))
        times, n = [], 0
        for frame in src:
            assert frame.index == n
            assert frame.image.shape == (240, 426, 3) and frame.image.dtype == np.uint8
            times.append(frame.t)
            n += 1
    finally:
        src.close()
    # the clip's README says 899 frames; OpenCV's container count agrees
    assert n == reported == 899
    assert len(src) == 899
    t = np.asarray(times)
    assert np.all(np.diff(t) > 0)
    assert np.allclose(t, np.arange(899) / 29.97)


def test_missing_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(SourceError, match=r"video file '.*nope\.mp4' does not exist"):
        open_source(str(missing))


def test_absent_camera_is_a_clear_error():
    # a device index no test machine has
    with pytest.raises(SourceError, match=r"live source 97 cannot be opened \(no such camera or stream unreachable\)"):
        open_source("97")


def test_written_mp4_round_trips(tmp_path):
    path = tmp_path / "clip.mp4"
    w, h, fps, n = 160, 96, 12.5, 12
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    for i in range(n):
        img = np.full((h, w, 3), 40, np.uint8)
        cv2.rectangle(img, (10 + 8 * i, 20), (30 + 8 * i, 70), (200, 180, 60), -1)
        writer.write(img)
    writer.release()
    src = open_source(str(path), camera="test")
    frames = list(src)
    src.close()
    assert isinstance(src, VideoFileSource) and src.camera == "test"
    assert len(frames) == n and src.fps == pytest.approx(fps) and src.size == (w, h)
    assert [f.t for f in frames] == pytest.approx([i / fps for i in range(n)])
    # the moving box survives compression: its centre column moves 8 px per frame
    cols = [np.flatnonzero(f.image[45, :, 0] > 120) for f in frames]
    assert [int(c.mean()) for c in cols[:3]] == pytest.approx([20, 28, 36], abs=2)


@needs_clip
def test_core_runs_on_the_real_clip():
    # a hand-written site: the picture taken as a floor plan at 40 px per metre, one density zone
    site = SiteConfig.from_dict({
        "camera": "house6", "image_size": [426, 240], "fps": 29.97,
        "calibration": {"homography": [[40, 0, 0], [0, 40, 0], [0, 0, 1]]},
        "zones": [{"name": "middle", "kind": "density", "polygon": [[2, 1], [8, 1], [8, 5], [2, 5]],
                   "capacity_per_m2": 2.0}],
    })
    core = DetectionCore(site)
    src = VideoFileSource(CLIP)
    try:
        n_alerts = sum(len(a) for a in core.run(src))
    finally:
        src.close()
    assert [d.event_type for d in core.detectors] == [EventType.EXCESSIVE_DENSITY, EventType.CROWD_MOVEMENT,
                                                      EventType.ABANDONED_OBJECT, EventType.PERSON_ON_GROUND,
                                                      EventType.FIRE, EventType.WEAPON]
    timing = core.timing_table().to_pandas()
    assert len(timing) == 899 and (timing["total_s"] > 0).all()
    scores = core.score_table().to_pandas()
    assert len(scores) == 899 * len(core.detectors) and np.isfinite(scores["score"]).all()  # a row per frame and type
    assert n_alerts == len(core.alerts)


# --- files cut short -----------------------------------------------------------------------------------------


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, offset, size) of the ISO media boxes in ``data[start:end]``."""
    import struct

    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, pos, size
        pos += size


def faststart(data: bytes) -> bytes:
    """The MP4 with its index (``moov``) moved before the frames, as streaming writers lay it out: every chunk
    offset (``stco``) grows by the index's size."""
    import struct

    boxes = {kind: (pos, size) for kind, pos, size in _boxes(data)}
    mpos, msize = boxes[b"moov"]
    moov = bytearray(data[mpos:mpos + msize])

    def patch(start, end):
        for kind, pos, size in _boxes(moov, start, end):
            if kind in (b"trak", b"mdia", b"minf", b"stbl"):
                patch(pos + 8, pos + size)
            elif kind == b"stco":
                count = struct.unpack(">I", moov[pos + 12:pos + 16])[0]
                for k in range(count):
                    at = pos + 16 + 4 * k
                    moov[at:at + 4] = struct.pack(">I", struct.unpack(">I", moov[at:at + 4])[0] + msize)

    patch(8, msize)
    rest = data[:mpos] + data[mpos + msize:]
    ftyp_end = boxes[b"ftyp"][1] + boxes[b"ftyp"][0]
    return rest[:ftyp_end] + bytes(moov) + rest[ftyp_end:]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A written MP4 of 40 frames (noise, so that every frame takes room) and its bytes."""
    from sim.render.video import write_video

    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    rng = np.random.default_rng(1)
    write_video(path, (rng.integers(0, 255, (48, 64, 3), dtype=np.uint8) for _ in range(40)), fps=10)
    return path.read_bytes()


def _frames(path, **kwargs):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        src = VideoFileSource(path, **kwargs)
        n = sum(1 for _ in src)
        src.close()
    return n, [str(w.message) for w in caught if issubclass(w.category, SourceWarning)]


@pytest.mark.parametrize("cut, message", [
    ("first half", r"has no index \(its 'moov' box is missing\): the file is truncated before its index was "
                   r"written, or its writer was stopped before closing it"),
    ("inside the index", r"has no index \(its 'moov' box is cut short\): the file is truncated inside its index"),
])
def test_an_mp4_without_its_index_is_refused_saying_so(tmp_path, clip, cut, message):
    data = clip[:len(clip) // 2] if cut == "first half" else clip[:-100]
    (tmp_path / "cut.mp4").write_bytes(data)
    with pytest.raises(SourceError, match=rf"video file '.*cut\.mp4' {message}"):
        VideoFileSource(tmp_path / "cut.mp4")


def test_files_that_end_before_their_declared_frames_warn(tmp_path, clip):
    (tmp_path / "whole.mp4").write_bytes(faststart(clip))
    assert _frames(tmp_path / "whole.mp4") == (40, [])  # the index first: a whole file, no warning
    (tmp_path / "cut.mp4").write_bytes(faststart(clip)[:len(clip) // 2])
    n, warned = _frames(tmp_path / "cut.mp4")
    assert 0 < n < 40
    assert warned == [f"video file '{tmp_path / 'cut.mp4'}' ended after {n} of its 40 declared frames: it is "
                      f"truncated: its 'mdat' box is cut short at {len(clip) // 2} bytes"]
    assert _frames(tmp_path / "cut.mp4", max_frames=3) == (3, [])  # asked for fewer: nothing missing
    # another container, its header declaring 40 frames, cut in half
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    rng = np.random.default_rng(2)
    for _ in range(40):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = (tmp_path / "clip.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[:len(data) // 2])
    n, warned = _frames(tmp_path / "cut.avi")
    assert warned == [f"video file '{tmp_path / 'cut.avi'}' ended after {n} of its 40 declared frames (truncated?)"]


def test_detect_on_a_truncated_file_warns_in_one_line(tmp_path, clip, capsys):
    import yaml

    from eval.cli import main

    (tmp_path / "cut.mp4").write_bytes(faststart(clip)[:len(clip) // 2])
    (tmp_path / "site.yaml").write_text(yaml.safe_dump({
        "camera": "c", "image_size": [64, 48], "fps": 10,
        "calibration": {"homography": [[10, 0, 0], [0, 10, 0], [0, 0, 1]]}}))
    assert main(["detect", str(tmp_path / "cut.mp4"), "--site", str(tmp_path / "site.yaml")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("stationwatch detect: warning: video file ") and "of its 40 declared " \
        "frames: it is truncated" in err[0] and err[1].endswith("frames, 0 alert(s), 0 frame(s) dropped, 0 reconnection(s)")
