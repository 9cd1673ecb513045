"""Fire on hand-built frames (a flickering flame against a red poster, a lamp that flickers on and
off, a flame patch that does not change) and on the real clip of a burning doll's house."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from detectors.checks import synthetic_site
from detectors.core import DetectionCore
from detectors.events import EventType
from detectors.fire import FireDetector
from detectors.site import SiteConfig
from detectors.source import VideoFileSource
from tests.helpers import real_data_dir
from tests.scenes import frames, run

REAL = real_data_dir()
CLIP = REAL / "furg_house6.mp4"
FLAME = (slice(100, 116), slice(150, 162))  #: rows, columns of the patch in the 320 x 180 scene
ORANGE, YELLOW = np.array([20, 120, 250], np.float32), np.array([60, 210, 255], np.float32)
#: a flame's core: pale yellow, as bright as the sensor goes (grey 236)
CORE = np.array([170, 240, 255], np.float32)


def _patch_scene(kind: str, seconds: float = 6.0, grow: bool = False):
    site = synthetic_site(())
    rng = np.random.default_rng(5)

    def draw(img, t):
        h, w = FLAME[0].stop - FLAME[0].start, FLAME[1].stop - FLAME[1].start
        if kind in ("flame", "matte"):  # tongues of 4 x 4 px orange, yellow (or a core) or floor at random
            rows, cols = FLAME
            if grow:  # from the patch's bottom right corner, to three times its size in 6 s
                k = min(3.0, 1.0 + t / 3.0)
                h, w = int(h * k) // 4 * 4, int(w * k) // 4 * 4
                rows, cols = slice(FLAME[0].stop - h, FLAME[0].stop), slice(FLAME[1].stop - w, FLAME[1].stop)
            pick = np.kron(rng.random((h // 4, w // 4)), np.ones((4, 4)))
            patch = img[rows, cols].copy()
            patch[pick < 0.45] = ORANGE
            patch[(pick >= 0.45) & (pick < 0.8)] = YELLOW
            if kind == "flame":
                patch[(pick >= 0.6) & (pick < 0.7)] = CORE
            img[rows, cols] = patch
        elif kind == "poster":  # the same colours, standing still
            img[FLAME] = ORANGE
            img[FLAME[0], FLAME[1].start:FLAME[1].start + 5] = YELLOW
        elif kind == "lamp":  # all on, then all off, at 3.3 Hz
            if int(t * 10) % 3 == 0:
                img[FLAME] = YELLOW
    return site, frames(site, draw, seconds)


def test_flickering_flame_scores_and_is_boxed():
    site, fr = _patch_scene("flame")
    out = run(FireDetector(site), site, fr)
    above = [t for t, o in out if o.score >= 0.5]
    assert above and above[0] <= 1.5 + 2.0  # ready after 1.5 s, the colour average needs 1 s more
    x, y, w, h = next(o.bbox for t, o in out if o.score >= 0.5)
    # on the patch (150..162 x 100..116), whose random tongues may leave an edge row of floor
    assert 148 <= x and x + w <= 164 and 98 <= y and y + h <= 118 and w * h >= 0.6 * 12 * 16


def test_a_growing_fire_is_one_instance():
    # a fire three times its first size after 6 s spreads over many cells: still one fire, one alert
    site, fr = _patch_scene("flame", grow=True)
    out = run(FireDetector(site), site, fr)
    keys = {i.key for _, o in out for i in o.instances if i.score >= 0.5}
    assert len(keys) == 1, keys


def test_flame_colours_of_a_bright_core_are_hot():
    # a core pixel (BGR 200, 250, 254: grey 245) beside orange: 254 * 299 overflowed an int16 once
    img = np.full((20, 20, 3), 120, np.uint8)
    img[:, :10] = (20, 120, 250)
    img[:, 10:] = (200, 250, 254)
    warm, hot = FireDetector(synthetic_site(())).flame_masks(img)
    assert hot[:, 11].all() and not hot[:, 16:].any() and warm[:, :9].all()


def _warm_rule(bgr, min_red, min_red_minus_blue, green_slack):
    """The fire detector's colour rule written out in int32 numpy (the reference of the 8-bit passes)."""
    b, g, r = (bgr[..., k].astype(np.int32) for k in range(3))
    return (r >= min_red) & (r >= g) & (g + green_slack >= b) & ((r - b) >= min_red_minus_blue * r)


def _emissive_rule(bgr, min_red, min_blue, min_warmth):
    b, g, r = (bgr[..., k].astype(np.int32) for k in range(3))
    return (r >= min_red) & (b >= min_blue) & (r - b >= min_warmth) & (r >= g) & (g >= b)


def _colour_images():
    """Random images, every (blue, green, red) triple on a 4-level lattice, and the real clip's frames."""
    rng = np.random.default_rng(3)
    imgs = [rng.integers(0, 256, (60, 80, 3), np.uint8) for _ in range(3)]
    levels = np.arange(256, dtype=np.uint8)[::4]
    imgs.append(np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(64 * 64, 64, 3))
    if CLIP.exists():
        for k, f in enumerate(VideoFileSource(str(CLIP))):
            if k % 40 == 0:
                imgs.append(f.image)
            if k >= 200:
                break
    return imgs


@pytest.mark.parametrize("params", [(160.0, 0.5, 16.0), (159.5, 0.33, 0.0), (200, 0.1, 7.5), (0, 0.0, 300.0),
                                    (160, 0.5, -3.0), (255, 1.0, 0), (100, 0.7, 16)])
def test_warm_mask_is_the_colour_rule_pixel_for_pixel(params):
    from detectors.flame import warm_mask

    for img in _colour_images():
        got = warm_mask(img, min_red=params[0], min_red_minus_blue=params[1], green_slack=params[2])
        want = _warm_rule(img, *params)
        assert got.dtype == bool and np.array_equal(got, want), (params, int((got != want).sum()))


@pytest.mark.parametrize("params", [(240, 100, 40), (239.5, 99.2, 39.5), (0, 0, 0.5), (200, 50, 1), (240, 100, 0)])
def test_emissive_mask_is_its_rule_pixel_for_pixel(params):
    from detectors.flame import emissive_mask

    for img in _colour_images():
        got = emissive_mask(img, min_red=params[0], min_blue=params[1], min_warmth=params[2])
        assert np.array_equal(got, _emissive_rule(img, *params)), params


@pytest.mark.parametrize("kind", ["poster", "lamp", "matte"])
def test_static_colour_and_coherent_flicker_are_not_fire(kind):
    # "matte": flame-coloured tongues flickering as a flame's do, but no bright core (a shirt, a scarf)
    site, fr = _patch_scene(kind)
    out = run(FireDetector(site), site, fr)
    assert max(o.score for _, o in out) < 0.5


def _moving_shirt_and_face(speed_pxps: float, seconds: float = 6.0):
    """A yellow-and-orange block with a light face (hot-core colours) above it, 12 x 24 px, that does not
    change but moves right at ``speed_pxps`` [px/s] from column 100 on row 90: a person of a dense crowd
    walking by, whom no track cuts out. Its leading edge turns pixels flame-coloured and its trailing edge
    turns them back, as a flame's tongues do."""
    site = synthetic_site(())
    rng = np.random.default_rng(7)
    pick = np.kron(rng.random((6, 3)), np.ones((4, 4)))  # 24 rows x 12 columns, fixed
    patch = np.empty((24, 12, 3), np.float32)
    patch[pick < 0.5] = ORANGE
    patch[pick >= 0.5] = YELLOW
    patch[:6, 3:9] = CORE  # the face: pale, with red near saturation, as a flame's core

    def draw(img, t):
        x = 100 + int(round(speed_pxps * t))
        img[90:114, x:x + 12] = patch
    return site, frames(site, draw, seconds)


@pytest.mark.parametrize("drift_hi, alerts", [
    (4.0, False),  # its flame colours move on as a whole (coherence ~1, 12 px/s): a walker, not a fire
    (0.0, True),  # the drift test off: its edges flicker and its face is a hot core beside warm colour
])
def test_flame_colours_moving_on_as_a_whole_are_no_fire(drift_hi, alerts):
    site, fr = _moving_shirt_and_face(12.0)
    out = run(FireDetector(site, drift_hi=drift_hi), site, fr)
    assert (max(o.score for _, o in out) >= 0.5) is alerts


def test_drift_ramps_are_checked():
    with pytest.raises(ValueError, match=r"need 0 <= drift_lo < drift_hi \[working px/s\] \(drift_hi 0: off\); got 5.0 and 4.0"):
        FireDetector(synthetic_site(()), drift_lo=5.0)
    with pytest.raises(ValueError, match=r"need 0 <= coherence_lo < coherence_hi; got 0.9 and 0.9"):
        FireDetector(synthetic_site(()), coherence_lo=0.9)


def _annotated_boxes(path) -> dict[int, list]:
    """frame -> [x, y, w, h] rectangles of the clip's OpenCV FileStorage annotation."""
    out = {}
    for f in ET.parse(path).getroot().find("frames"):
        n = int(f.find("frameNumber").text)
        out[n] = [list(map(float, a.text.split())) for a in f.find("annotations")]
    return out


@pytest.mark.skipif(not CLIP.exists(), reason=f"real clip not found at {CLIP}")
def test_real_fire_alerts_within_5_s_and_nothing_else_does():
    site = SiteConfig.from_dict({
        "camera": "house6", "image_size": [426, 240], "fps": 29.97,
        "calibration": {"points": [{"ground": [0, 0], "image": [0, 239]}, {"ground": [10, 0], "image": [425, 239]},
                                   {"ground": [10, 10], "image": [425, 0]}, {"ground": [0, 10], "image": [0, 0]}]}})
    boxes = _annotated_boxes(REAL / "furg_house6.xml")
    first_flame_s = min(boxes) / 29.97
    core = DetectionCore(site)  # every built-in detector this site supports
    assert EventType.FIRE in [d.event_type for d in core.detectors]
    src = VideoFileSource(CLIP)
    try:
        for frame in src:
            core.process(frame)
            if frame.t > first_flame_s + 8.0:
                break
    finally:
        src.close()
    fires = [a for a in core.alerts if a.type is EventType.FIRE]
    assert fires and fires[0].t <= first_flame_s + 5.0
    x, y, w, h = fires[0].bbox
    frame_no = int(round(fires[0].t * 29.97))
    assert any(x < bx + bw and bx < x + w and y < by + bh and by < y + h for bx, by, bw, bh in boxes[frame_no])
    assert [a for a in core.alerts if a.type is not EventType.FIRE] == []


class _Tracks:
    """The fields of :class:`detectors.tracker.Tracks` that the fire detector's walker test reads."""

    def __init__(self, speed_mps):
        self.id = np.arange(len(speed_mps), dtype=np.int64)
        self.lost_s = np.zeros(len(speed_mps))
        self.speed_mps = np.asarray(speed_mps, np.float64)


class _Percept:
    def __init__(self, t, speed_mps, histories):
        self.t, self.tracks, self._hist = t, _Tracks(speed_mps), histories

    def track_history(self, track_id):
        return self._hist[track_id]


def test_a_blob_jittering_in_place_is_no_walker_a_person_walking_by_is():
    det = FireDetector(synthetic_site(()), walker_mps=0.3, walker_window_s=1.0)
    ts = np.arange(0.0, 2.05, 0.1)
    # (t, x, y, box height, box width): a person at 1.2 m/s; a blob of firelight whose filtered speed reads
    # 0.8 m/s but whose foot point goes back and forth by 0.2 m around one place; a new track seen once
    walker = np.column_stack([ts, 1.2 * ts, np.zeros_like(ts), np.full_like(ts, 40), np.full_like(ts, 15)])
    jitter = np.column_stack([ts, 5.0 + 0.1 * (-1.0) ** np.arange(len(ts)), np.zeros_like(ts),
                              np.full_like(ts, 40), np.full_like(ts, 15)])
    new = np.array([[2.0, 9.0, 0.0, 40.0, 15.0]])
    slow = np.column_stack([ts, 0.1 * ts, np.zeros_like(ts), np.full_like(ts, 40), np.full_like(ts, 15)])
    p = _Percept(2.0, [1.2, 0.8, 0.5, 0.1], [walker, jitter, new, slow])
    # over the last 1 s: the walker moved 1.2 m (>= 0.3 m/s * 1 s), the blob 0 m (< 0.3 m); the new track has
    # one frame of history and keeps its filtered 0.5 m/s (>= 0.3); the slow track's filter says 0.1 m/s
    assert det._walking(p).tolist() == [True, False, True, False]


def test_walker_window_is_checked():
    with pytest.raises(ValueError, match=r"walker_window_s must be a finite number > 0 s; got 0.0"):
        FireDetector(synthetic_site(()), walker_window_s=0.0)


class _PasserByPercept:
    """A real percept whose only track is a passer-by walking with ``box`` (full-resolution px), or
    no track at all when ``box`` is None."""

    def __init__(self, percept, box, speed_mps=1.5, expected_px=np.nan):
        self._p = percept
        self.tracks = _Tracks([speed_mps] if box is not None else [])
        self.tracks.box = np.array([box] if box is not None else np.zeros((0, 4)), np.float64)
        self.tracks.expected_height_px = np.full(len(self.tracks.box), expected_px)  # nan: no head is cut

    def __getattr__(self, name):
        return getattr(self._p, name)


class _AlwaysWalking(FireDetector):
    def _walking(self, percept):
        return np.ones(len(percept.tracks.box), bool)


@pytest.mark.parametrize("kind, keeps_hot, from_s, alerts", [
    ("flame", False, 2.0, False),  # the passer-by's box hides the flame from the detector altogether
    ("flame", True, 2.0, True),  # its glowing core, there before they came, and the colour beside it count
    ("flame", True, 0.0, False),  # a glow first seen inside a walker's box: nothing to tell it from clothes
    ("matte", True, 2.0, False),  # flame-coloured clothes flickering the same way have no glowing core
])
def test_a_glow_that_was_there_before_a_passer_by_still_counts_inside_their_box(kind, keeps_hot, from_s, alerts):
    """A passer-by's box over the flame patch (scene 320 x 180, full resolution) from ``from_s`` on: their
    clothes change colour where they walk and are left out, but where the hot-core average had
    already reached hot_lo before they came, a flame's hot core and the warm pixels within 2 px of it
    are kept (``walker_keeps_hot``), so the flame alerts as without the box."""
    from detectors.perception import Perception

    site, fr = _patch_scene(kind)
    box = (FLAME[1].start - 4, FLAME[0].start - 10, FLAME[1].stop - FLAME[1].start + 8, 40)  # x, y, w, h
    det = _AlwaysWalking(site, walker_keeps_hot=keeps_hot)
    perception = Perception(site)
    out = [(f.t, det.score(_PasserByPercept(perception.update(f), box if f.t >= from_s else None))) for f in fr]
    above = [t for t, o in out if o.score >= 0.5]
    assert bool(above) is alerts
    if alerts:  # as soon as without the passer-by (ready after 1.5 s, the colour average needs 1 s more)
        free = [t for t, o in run(FireDetector(site), site, fr) if o.score >= 0.5]
        assert above[0] <= free[0] + 0.2 and above[0] <= 1.5 + 2.0


class _NeverCalm(FireDetector):
    """The detector without its shortcut for frames without flame colour (every frame through the cell passes)."""

    @property
    def _calm(self):
        return False

    @_calm.setter
    def _calm(self, value):
        pass


def test_frames_without_flame_colour_take_the_shortcut_and_score_as_without_it():
    """Floor only, then a flickering flame from 3 s to 6 s, then floor again: the detector answers the calm
    frames before the flame without its cell passes, and its outputs are those of the detector that never
    takes the shortcut, frame by frame (scores, instances, boxes), the flame alerting in both."""
    from detectors.perception import Perception

    site = synthetic_site(())
    rng = np.random.default_rng(5)

    def draw(img, t):
        if 3.0 <= t < 6.0:
            pick = np.kron(rng.random((4, 3)), np.ones((4, 4)))
            patch = img[FLAME].copy()
            patch[pick < 0.45] = ORANGE
            patch[(pick >= 0.45) & (pick < 0.8)] = YELLOW
            patch[(pick >= 0.6) & (pick < 0.7)] = CORE
            img[FLAME] = patch

    perception = Perception(site)
    fast, slow = FireDetector(site), _NeverCalm(site)
    calm, outputs = [], []
    for f in frames(site, draw, 9.0):
        p = perception.update(f)
        a, b = fast.score(p), slow.score(p)
        calm.append(fast._calm)
        outputs.append((a.score, b.score, [(i.key, i.score, i.bbox) for i in a.instances or ()],
                        [(i.key, i.score, i.bbox) for i in b.instances or ()]))
    assert all(sa == sb and ia == ib for sa, sb, ia, ib in outputs)
    assert max(sa for sa, _, _, _ in outputs) >= 0.5
    # ready at 1.5 s (frame 15): calm from then until the flame comes at 3 s (frame 30)
    assert all(calm[16:30]) and not any(calm[30:60])


@pytest.mark.parametrize("box_top, head_share, alerts", [
    (FLAME[0].start, 0.25, False),  # the flame patch (16 rows) lies in the top 0.25 x 80 = 20 rows: a head
    (FLAME[0].start - 40, 0.25, True),  # the box's top 20 rows end 20 rows above the patch: a flame by them
    (FLAME[0].start, 0.0, True),  # no head cut: the same patch alerts
])
def test_the_head_of_an_upright_person_standing_still_is_no_hot_core(box_top, head_share, alerts):
    """A tracked person standing still (0 m/s: no walker), box 80 rows tall where an adult is 80 px: the top
    ``head_share`` of their box holds a head, whose light skin is hot-core coloured, so the hot pixels there
    are left out; the flame colours beside them are not (they alert where the box does not cover them)."""
    from detectors.perception import Perception

    site, fr = _patch_scene("flame")
    box = (FLAME[1].start - 4, box_top, FLAME[1].stop - FLAME[1].start + 8, 80)  # x, y, w, h [px]
    det = FireDetector(site, head_share=head_share)
    assert 80 >= det.head_ratio * 80
    perception = Perception(site)
    out = [(f.t, det.score(_PasserByPercept(perception.update(f), box, speed_mps=0.0, expected_px=80.0)))
           for f in fr]
    assert bool([t for t, o in out if o.score >= 0.5]) is alerts
    with pytest.raises(ValueError, match="head_share must be a number in"):
        FireDetector(site, head_share=1.5)
