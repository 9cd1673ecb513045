"""The background pair under lighting changes, shadows and still objects (drawn scenes)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detectors.background import BackgroundModel
from detectors.perception import Perception
from detectors.source import Frame
from tests.helpers import FPS, Scene, platform_site, project


def _lit(frame: Frame, gain, region=None) -> Frame:
    """``frame`` with its brightness scaled by ``gain`` (in ``region`` x0, y0, x1, y1 px only if given)."""
    img = frame.image.astype(np.float32)
    if region is None:
        img *= gain
    else:
        x0, y0, x1, y1 = region
        img[y0:y1, x0:x1] *= gain
    return Frame(frame.index, frame.t, np.clip(img, 0, 255).astype(np.uint8))


def _fg_share(percept) -> float:
    return float(np.count_nonzero(percept.fg_mask)) / percept.fg_mask.size


@pytest.mark.parametrize("name, gains, region", [
    ("flicker at 3 Hz, 40 % deep", [1.0 - 0.4 * (0.5 - 0.5 * np.cos(2 * np.pi * 3 * k / FPS)) for k in range(40)], None),
    ("the light goes out over the left half", [1.0] * 5 + [0.35] * 35, (0, 0, 320, 360)),
    ("headlights brighten a band", [1.0] * 5 + [1.6] * 35, (0, 120, 640, 220)),
])
def test_lighting_changes_do_not_turn_the_frame_into_foreground(name, gains, region):
    site = platform_site()
    scene, per = Scene(site), Perception(site)
    for _ in range(20):
        per.update(scene.frame())
    shares = [_fg_share(per.update(_lit(scene.frame(), g, region))) for g in gains]
    assert max(shares) < 0.02, (name, max(shares))


def test_a_person_is_still_found_under_a_flickering_light():
    site = platform_site()
    scene, per = Scene(site), Perception(site)
    for _ in range(20):
        per.update(scene.frame())
    found = []
    for k in range(30):
        gain = 1.0 - 0.4 * (0.5 - 0.5 * np.cos(2 * np.pi * 3 * k / FPS))
        p = per.update(_lit(scene.frame([(14.0, 2.0)]), gain))
        found.append(len(p.detections))
    assert min(found) == 1 and max(found) == 1


def test_a_cast_shadow_is_not_foreground():
    # the renderer's shadows, and real ones: the floor darkened by a factor, its colour kept
    site = platform_site()
    scene, per = Scene(site), Perception(site)
    for _ in range(20):
        per.update(scene.frame())
    f = scene.frame()
    img = f.image.astype(np.float32)
    shadow = np.zeros(img.shape[:2], np.uint8)
    centre = project(site.projection, [(14.0, 2.0, 0.0)])[0]
    cv2.ellipse(shadow, (int(centre[0]), int(centre[1])), (40, 12), 0, 0, 360, 255, -1)
    img[shadow > 0] *= 0.62
    p = per.update(Frame(f.index, f.t, np.clip(img, 0, 255).astype(np.uint8)))
    small = cv2.resize(shadow, (320, 180), interpolation=cv2.INTER_NEAREST) > 0
    assert np.count_nonzero(p.fg_mask[small]) < 0.1 * np.count_nonzero(small)


def test_a_still_object_becomes_static_foreground():
    # a bag set down: foreground in the long-term model, absorbed by the short-term one after
    # about 1.6 short_s: then static foreground, which is what an abandoned-object detector reads
    site = platform_site()
    scene, per = Scene(site), Perception(site, short_s=1.0)
    for _ in range(20):
        per.update(scene.frame())
    bag = [(14.0, 2.0, {"colour": (30, 30, 140), "height_m": 0.5, "width_m": 0.5})]
    static = []
    for _ in range(40):
        p = per.update(scene.frame(bag))
        static.append(np.count_nonzero(p.static_mask))
    assert static[0] == 0  # it just arrived: moving foreground
    assert static[-1] > 20 and np.count_nonzero(p.fg_mask) >= static[-1]


def test_the_model_learns_the_median_of_the_warm_up():
    # somebody walking across during the warm-up leaves no trace in the background
    site = platform_site()
    scene, per = Scene(site), Perception(site)
    for k in range(15):
        per.update(scene.frame([(6.0 + k, 2.0)]))
    p = per.update(scene.frame())
    assert _fg_share(p) < 0.002


def test_a_warm_up_ghost_is_healed_and_a_later_arrival_is_not():
    # someone standing still through the warm-up is in its median; when he leaves, the textured floor
    # he hid is foreground though nothing arrived there: a warm-up ghost, a ghost from the first frame
    # and healed once static; someone who arrived after the warm-up and stands still stays foreground
    site = platform_site()
    scene, per = Scene(site), Perception(site)
    u_left, u_came = project(site.projection, [(14.0, 2.0, 0.0), (11.0, 2.0, 0.0)])[:, 0]
    # dark sleepers across the floor where he stood: edges in the frame and in the background alike,
    # which the edge test alone takes for an object there
    striped = scene.background[:, :int(u_left) + 50]
    for x in range(0, striped.shape[1], 8):
        striped[:, x:x + 3] //= 3
    for _ in range(15):
        per.update(scene.frame([(14.0, 2.0)]))
    assert per.ready

    def blobs(p):  # (box centre x [px], is a ghost) of each blob, left to right
        return sorted((float(b[0] + b[2] / 2), p.is_ghost(int(label))) for b, label in zip(p.blobs.bbox, p.blobs.label))

    seen = {}
    for k in range(100):
        p = per.update(scene.frame([(11.0, 2.0)] if k >= 10 else []))
        if k in (1, 12, 99):
            seen[k] = blobs(p)
    assert len(seen[1]) == 1 and abs(seen[1][0][0] - u_left) < 20 and seen[1][0][1]
    assert len(seen[12]) == 2 and [g for _, g in sorted(seen[12], key=lambda b: abs(b[0] - u_came))] == [False, True]
    assert len(seen[99]) == 1 and abs(seen[99][0][0] - u_came) < 20 and not seen[99][0][1]  # the ghost healed


@pytest.mark.parametrize("kwargs, match", [
    ({"long_s": -1}, "long_s must be a finite number > 0; got -1"),
    ({"shadow_ratio": (0.9, 0.5)}, r"shadow_ratio must be \(low, high\)"),
])
def test_background_parameter_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BackgroundModel((320, 180), 10.0, **kwargs)


def test_changed_share_counts_pixels_beyond_the_difference():
    from detectors.background import changed_share

    before = np.full((4, 5), 100, np.uint8)
    now = before.copy()
    now[0, :] = 120  # 5 pixels 20 levels brighter
    now[1, :3] = 95  # 3 pixels 5 levels darker: within the difference
    assert changed_share(now, before, 10) == 5 / 20
    assert changed_share(now, before, 4) == 8 / 20
    assert changed_share(now[:0], before[:0], 10) == 0.0
