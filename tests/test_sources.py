"""Frame sources on real and written video, their errors, and the detection core on real pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.core import DetectionCore
from detectors.events import EventType
from detectors.site import SiteConfig
from detectors.source import SourceError, VideoFileSource, open_source
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
                                                      EventType.FIRE]
    timing = core.timing_table().to_pandas()
    assert len(timing) == 899 and (timing["total_s"] > 0).all()
    scores = core.score_table().to_pandas()
    assert len(scores) == 899 and np.isfinite(scores["score"]).all()
    assert n_alerts == len(core.alerts)
