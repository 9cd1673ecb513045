"""The perception's fast paths give what their references give, bit for bit: the compiled
foreground test against the OpenCV one, BBDT components against OpenCV's default labelling,
clothes colours from int32 integral images against float64 ones. On rendered footage with
a lighting change, through the whole detection core: same masks, tracks and scores."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detectors.background import BackgroundModel
from detectors.core import DetectionCore
from detectors.people import appearance, components_with_stats
from detectors.perception import Perception
from detectors.registry import BUILTIN_DETECTORS
from detectors.site import SiteConfig
from detectors.source import Frame


#: [m] a density zone and a one-way zone on the platform of ``platform_intrusion``
PLATFORM_ZONES = [
    {"name": "platform", "kind": "density", "capacity_per_m2": 2.0,
     "polygon": [[0.0, 0.5], [32.0, 0.5], [32.0, 7.0], [0.0, 7.0]]},
    {"name": "walkway", "kind": "one_way", "direction_deg": 0.0,
     "polygon": [[0.0, 3.0], [32.0, 3.0], [32.0, 5.5], [0.0, 5.5]]},
]


@pytest.fixture(scope="module")
def clip(platform_intrusion):
    """6 s of ``platform_intrusion``'s first camera (people walking, waiting), the last 2.5 s under a
    light dimmed to 70 % over the left half (the gains and shadow tests at work)."""
    from sim.site_export import site_config_dict
    from sim.source import SyntheticSource

    camera = platform_intrusion.cameras[0].name
    site_dict = site_config_dict(platform_intrusion, camera)
    site_dict["zones"] = site_dict["zones"] + PLATFORM_ZONES  # so that every built-in detector runs
    site = SiteConfig.from_dict(site_dict, where="test site")
    frames = list(SyntheticSource(platform_intrusion, camera, duration_s=6.0))
    dim_from = len(frames) - int(2.5 * site.fps)
    w = site.image_size[0]
    for k in range(dim_from, len(frames)):
        img = frames[k].image.astype(np.float32)
        img[:, : w // 2] *= 0.7
        frames[k] = Frame(frames[k].index, frames[k].t, img.astype(np.uint8))
    return site, frames


def test_compiled_foreground_test_gives_the_opencv_masks(clip):
    pytest.importorskip("numba")
    site, frames = clip
    size = (320, 180)
    fast = BackgroundModel(size, site.fps, warmup_frames=10)
    ref = BackgroundModel(size, site.fps, warmup_frames=10, compiled=False)
    busy = 0
    for f in frames:
        small = cv2.resize(f.image, size, interpolation=cv2.INTER_AREA)
        a, b = fast.apply(small), ref.apply(small)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), f"frame {f.index}: masks differ"
        busy += int(np.count_nonzero(b[0]) > 100)
    assert busy > len(frames) // 2  # the masks compared hold people, not only empty floor
    for plane in ("_y", "_cr", "_cb", "_ys", "_crs", "_cbs"):
        assert np.array_equal(getattr(fast, plane), getattr(ref, plane)), plane


def test_the_core_gives_the_same_tracks_and_scores_on_either_path(clip):
    pytest.importorskip("numba")
    site, frames = clip
    names = list(BUILTIN_DETECTORS)
    fast = DetectionCore(site, names)
    ref = DetectionCore(site, names, perception=Perception(site, background={"compiled": False}))
    for f in frames:
        fast.process(f)
        ref.process(f)
    a, b = fast.score_table().to_pandas(), ref.score_table().to_pandas()
    assert a.equals(b) and (a["score"] > 0).any()  # scores that say something, equal
    assert fast.instance_table().to_pandas().equals(ref.instance_table().to_pandas())
    ta, tb = fast.perception.tracker, ref.perception.tracker
    assert len(ta) > 0 and np.array_equal(ta._id, tb._id) and np.array_equal(ta._x, tb._x)


@pytest.mark.parametrize("seed, share", [(0, 0.05), (1, 0.3), (2, 0.5), (3, 0.8)])
def test_bbdt_components_are_opencvs_default_labelling(seed, share):
    rng = np.random.default_rng(seed)
    mask = (rng.random((180, 320)) < share).astype(np.uint8) * 255
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) if seed % 2 else mask
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_32S)
    m, labels2, stats2 = components_with_stats(mask)
    assert n == m > 1
    assert np.array_equal(labels, labels2) and np.array_equal(stats, stats2)


def test_clothes_colours_from_int32_sums_equal_float64_sums(clip):
    site, frames = clip
    per = Perception(site)
    for f in frames[:40]:
        p = per.update(f)
    det = p.detections
    assert len(det) > 0
    got = appearance(det, p.small, p.fg_mask, p.grid, 0.9).colour
    # the reference: float64 integral images of the masked frame and of the 0/1 mask
    ycc = cv2.cvtColor(p.small, cv2.COLOR_BGR2YCrCb)
    m = (p.fg_mask > 0).astype(np.uint8)
    s_col = cv2.integral(cv2.bitwise_and(ycc, ycc, mask=m), sdepth=cv2.CV_64F)
    s_cnt = cv2.integral(m, sdepth=cv2.CV_64F)
    g = p.grid
    wh, ww = p.fg_mask.shape
    for k, (x, y, w, h) in enumerate(det.box):
        x0, x1 = int(np.clip(np.floor(x / g.sx), 0, ww)), int(np.clip(np.ceil((x + w) / g.sx), 0, ww))
        y0, y1 = int(np.clip(np.floor(y / g.sy), 0, wh)), int(np.clip(np.ceil((y + h) / g.sy), 0, wh))
        ym = (y0 + y1) // 2
        for half, (ya, yb) in enumerate(((y0, ym), (ym, y1))):
            cnt = s_cnt[yb, x1] - s_cnt[ya, x1] - s_cnt[yb, x0] + s_cnt[ya, x0]
            col = s_col[yb, x1] - s_col[ya, x1] - s_col[yb, x0] + s_col[ya, x0]
            want = np.full(3, np.nan, np.float32)
            if cnt >= 3:
                mean = col / cnt
                want[:] = (mean[0] / 0.9, mean[1] - 128.0, mean[2] - 128.0)
            np.testing.assert_array_equal(got[k, 3 * half:3 * half + 3], want)
