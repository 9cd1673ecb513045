"""Perception, intrusion, density, registry and the detection core on drawn synthetic scenes.

The scenes are drawn here (not by the simulator): a station camera 5.5 m high looking
down at a platform, a textured floor, people as a body ellipse and a head of physical
size (0.36 m wide, 1.7 m tall: about the 0.45 m² silhouette the perception assumes).
"""

from __future__ import annotations

import functools
import math
from importlib import metadata

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.base import DetectorOutput
from detectors.core import DetectionCore
from detectors.density import DensityDetector
from detectors.events import EventType
from detectors.intrusion import IntrusionDetector
from detectors.perception import Perception, PerceptionError
from detectors.policy import AlertPolicy, alerts_from_scores
from detectors.registry import (DetectorRegistryError, UnknownDetectorError, available_detectors, get_detector)
from detectors.site import SiteConfig, Zone, ZoneKind
from detectors.source import Frame

FPS = 10.0
TRACKS = Zone(name="tracks", kind=ZoneKind.FORBIDDEN, polygon_m=[[0, -4.5], [32, -4.5], [32, 0], [0, 0]])
HALL = Zone(name="hall", kind=ZoneKind.DENSITY, polygon_m=[[10, 1], [22, 1], [22, 6], [10, 6]], capacity_per_m2=2.0)


def camera_projection(position, look_at, hfov_deg, size) -> np.ndarray:
    """3x4 pinhole projection (x right, y down, z forward) of a camera at ``position`` [m]."""
    c = np.asarray(position, float)
    f = np.asarray(look_at, float) - c
    f /= np.linalg.norm(f)
    r = np.cross(f, [0.0, 0.0, 1.0])
    r /= np.linalg.norm(r)
    rot = np.stack([r, np.cross(f, r), f])
    w, h = size
    focal = (w / 2) / math.tan(math.radians(hfov_deg) / 2)
    k = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]])
    return k @ np.c_[rot, -rot @ c]


def platform_site(zones=(TRACKS, HALL), size=(640, 360)) -> SiteConfig:
    p = camera_projection((16, 11, 5.5), (16, 0, 0), 80, size)
    return SiteConfig(camera="cam", image_size=size, fps=FPS, homography=p[:, [0, 1, 3]], projection=p, zones=tuple(zones))


def project(p: np.ndarray, xyz) -> np.ndarray:
    q = np.c_[np.atleast_2d(xyz), np.ones(len(np.atleast_2d(xyz)))] @ p.T
    return q[:, :2] / q[:, 2:3]


def draw_person(img, p, x, y, colour=(40, 40, 160), lying=False, width_m=0.36, height_m=1.7):
    if lying:  # 1.7 m along x, 0.3 m thick
        a, b = project(p, [(x - 0.85, y, 0.15), (x + 0.85, y, 0.15)])
        lo, hi = project(p, [(x, y, 0.0), (x, y, 0.3)])
        centre = (a + b) / 2
        axes = (int(np.linalg.norm(b - a) / 2), max(2, int(abs(lo[1] - hi[1]) / 2)))
        cv2.ellipse(img, (int(centre[0]), int(centre[1])), axes, 0, 0, 360, colour, -1)
        return
    foot, top = project(p, [(x, y, 0.0), (x, y, height_m)])
    h = foot[1] - top[1]
    head = 0.2 / height_m * h
    body = h - head
    cv2.ellipse(img, (int(round(foot[0])), int(round(foot[1] - body / 2))),
                (max(1, round(h * width_m / height_m / 2)), max(1, round(body / 2))), 0, 0, 360, colour, -1)
    cv2.circle(img, (int(round(top[0])), int(round(top[1] + head / 2))), max(1, round(head / 2)), colour, -1)


class Scene:
    """A static textured background plus drawn people, with sensor noise (seeded)."""

    def __init__(self, site: SiteConfig, seed: int = 0) -> None:
        self.site = site
        self.p = site.projection
        rng = np.random.default_rng(seed)
        w, h = site.image_size
        tex = rng.integers(70, 170, (h // 8 + 1, w // 8 + 1, 3)).astype(np.uint8)
        self.background = cv2.GaussianBlur(cv2.resize(tex, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 1.5)
        self.rng = rng
        self.index = 0

    def frame(self, people=(), occluder=None) -> Frame:
        img = self.background.copy()
        for person in people:
            x, y, *kw = person
            draw_person(img, self.p, x, y, **(kw[0] if kw else {}))
        if occluder is not None:  # (x0, y0, x1, y1) image box repainted with the background
            x0, y0, x1, y1 = occluder
            img[y0:y1, x0:x1] = self.background[y0:y1, x0:x1]
        noisy = img.astype(np.int16) + self.rng.normal(0, 2, img.shape).astype(np.int16)
        f = Frame(index=self.index, t=self.index / FPS, image=np.clip(noisy, 0, 255).astype(np.uint8))
        self.index += 1
        return f


_SITE = platform_site()


@functools.cache
def _grid():
    return Perception(_SITE).grid


def warm(perception: Perception, scene: Scene, n: int = 20) -> None:
    for _ in range(n):
        perception.update(scene.frame())


# --- perception ---------------------------------------------------------------------------


def test_warmup_scores_zero_then_ready():
    site = platform_site()
    scene, per, det = Scene(site), Perception(site, warmup_s=1.5), IntrusionDetector(site)
    # warm-up = ceil(1.5 s * 10 frames/s) = 15 frames, a person on the tracks from the first frame on
    outs = [det.score(per.update(scene.frame([(14, -2.0)]))) for _ in range(15)]
    assert per.warmup_frames == 15
    assert [o.score for o in outs] == [0.0] * 15
    assert per.ready
    p = per.update(scene.frame())
    assert p.ready and p.index == 15


def test_blob_in_full_resolution_with_ground_foot_point():
    site = platform_site()
    scene, per = Scene(site), Perception(site)
    warm(per, scene)
    p = per.update(scene.frame([(14.0, 2.0)]))
    assert len(p.blobs) == 1
    foot, top = project(site.projection, [(14.0, 2.0, 0.0), (14.0, 2.0, 1.7)])
    x, y, w, h = p.blobs.bbox[0]
    # the box holds the drawn figure (to two working pixels = 4 px) and is in full-resolution pixels
    assert abs(y - top[1]) <= 4 and abs(y + h - foot[1]) <= 4 and x <= foot[0] <= x + w
    assert np.allclose(p.blobs.foot_m[0], [14.0, 2.0], atol=0.3)
    # drawn silhouette: ellipse pi/4 * 0.36 * 1.5 m + head disc pi/4 * 0.2² = 0.455 m², vs assumed 0.45 m²
    assert 0.7 < p.blobs.persons[0] < 1.3
    assert p.fg_mask.shape == (180, 320)


def test_still_person_stays_foreground_then_is_absorbed():
    # absorb_s = 3 s here to keep the test short; the default is 60 s
    site = platform_site()
    scene, per = Scene(site), Perception(site, absorb_s=3.0)
    warm(per, scene)
    still = [(14.0, -2.0, {"lying": True})]
    mask_full = np.zeros(site.image_size[::-1], np.uint8)
    draw_person(mask_full, site.projection, 14.0, -2.0, colour=255, lying=True)
    drawn = cv2.resize(mask_full, (320, 180), interpolation=cv2.INTER_NEAREST) > 0
    covered = []
    for _ in range(50):  # 5 s
        p = per.update(scene.frame(still))
        covered.append(np.count_nonzero(p.fg_mask[drawn]) / np.count_nonzero(drawn))
    assert min(covered[:20]) > 0.5  # still foreground after 2 s
    assert covered[-1] < 0.1  # gone once absorb_s (3 s) has passed


def test_lying_person_on_the_tracks_stays_detected_for_5_s_at_default_rate():
    site = platform_site()
    scene, per, det = Scene(site), Perception(site), IntrusionDetector(site)
    warm(per, scene)
    scores = [det.evidence(per.update(scene.frame([(14.0, -2.0, {"lying": True})]))).score for _ in range(50)]
    assert min(scores) >= det.default_threshold


def test_frame_of_the_wrong_size_is_an_error():
    site = platform_site()
    per = Perception(site)
    with pytest.raises(PerceptionError, match=r"must be \(H, W, 3\) = \(360, 640, 3\).*got \(240, 426, 3\)"):
        per.update(Frame(index=0, t=0.0, image=np.zeros((240, 426, 3), np.uint8)))


@pytest.mark.parametrize("kwargs, match", [
    ({"absorb_s": 0}, "absorb_s must be a finite number > 0; got 0"),
    ({"work_width": -5}, "work_width must be a finite number > 0; got -5"),
    ({"min_person_fraction": 1.5}, r"min_person_fraction must be in \[0, 1\); got 1.5"),
])
def test_perception_parameter_errors(kwargs, match):
    with pytest.raises(PerceptionError, match=match):
        Perception(platform_site(), **kwargs)


@settings(max_examples=60, deadline=None)
@given(u=st.integers(0, 319), v=st.integers(0, 179), fraction=st.sampled_from([0.5, 1.0]))
def test_foot_row_of_part_inverts_person_height(u, v, fraction):
    grid = _grid()
    f = int(grid.foot_row_of_part(fraction)[v, u])
    if f < 0:
        return
    # the body part of a person standing at row f sits fraction * h above the foot's bottom edge
    part_row = (f + 1) - fraction * grid.person_rows[f, u]
    assert abs(part_row - (v + 0.5)) <= 1.0 + 0.05 * grid.person_rows[f, u]


# --- intrusion ------------------------------------------------------------------------------

_INTRUDER_U = int(round(project(_SITE.projection, [(14.0, -2.0, 0.0)])[0, 0]))  # [px] foot column
_EDGE_U = int(round(project(_SITE.projection, [(12.0, 0.3, 0.0)])[0, 0]))

# (case, people, occluder box, whether the feet are in the forbidden zone)
INTRUSION_CASES = [
    ("standing on the track bed", [(14.0, -2.0)], None, True),
    ("lying on the track bed", [(14.0, -2.0, {"lying": True})], None, True),
    # a pillar in front hides the right 40 % of the body (the figure is about 14 px wide)
    ("side hidden by a pillar", [(14.0, -2.0)], (_INTRUDER_U + 2, 90, _INTRUDER_U + 12, 170), True),
    # the legs do not come out (below row 134 of a figure spanning rows 110..158): re-footed from the head
    ("legs not seen", [(14.0, -2.0)], (_INTRUDER_U - 10, 134, _INTRUDER_U + 10, 170), True),
    # merged with a passenger in front on the platform, 0.3 m to the side
    ("merged with a passenger in front", [(13.0, 0.6), (13.3, -1.5, {"colour": (150, 60, 40)})], None, True),
    ("on the platform", [(14.0, 2.0)], None, False),
    # the body covers the track bed in the image, the feet are 0.3 m from the edge
    ("at the platform edge", [(12.0, 0.3)], None, False),
    # the same passenger whose legs do not come out: the waist maps onto the tracks, the head does not
    ("at the edge, legs not seen", [(12.0, 0.3)], (_EDGE_U - 10, 160, _EDGE_U + 10, 200), False),
]


@pytest.mark.parametrize("case, people, occluder, inside", INTRUSION_CASES, ids=[c[0] for c in INTRUSION_CASES])
def test_intrusion_only_for_feet_in_the_zone(case, people, occluder, inside):
    site = platform_site()
    scene, per, det = Scene(site), Perception(site), IntrusionDetector(site)
    warm(per, scene)
    outs = [det.evidence(per.update(scene.frame(people, occluder))) for _ in range(10)]
    if inside:
        # above threshold within 3 frames of appearing, and from then on
        assert min(o.score for o in outs[2:]) >= det.default_threshold
        assert outs[-1].zone == "tracks"
    else:
        assert max(o.score for o in outs) == 0.0


def test_ghost_of_a_person_who_left_is_not_an_intrusion():
    # someone stands on the track bed while the background is learned, then leaves: the
    # uncovered track bed is foreground (a ghost) for absorb_s, with its edges in the model
    site = platform_site()
    scene, per, det = Scene(site), Perception(site), IntrusionDetector(site)
    for _ in range(20):
        per.update(scene.frame([(14.0, -2.0)]))
    percepts = [per.update(scene.frame()) for _ in range(10)]
    assert all(len(p.blobs) == 1 for p in percepts)  # the ghost is there
    assert [det.score(p).score for p in percepts] == [0.0] * 10


def test_intrusion_box_covers_the_intruder():
    site = platform_site()
    scene, per, det = Scene(site), Perception(site), IntrusionDetector(site)
    warm(per, scene)
    out = [det.score(per.update(scene.frame([(14.0, -2.0)]))) for _ in range(3)][-1]
    assert out.bbox == det.evidence(per.update(scene.frame([(14.0, -2.0)]))).bbox
    foot, top = project(site.projection, [(14.0, -2.0, 0.0), (14.0, -2.0, 1.7)])
    x, y, w, h = out.bbox
    assert x <= foot[0] <= x + w and abs(y - top[1]) <= 4 and abs(y + h - foot[1]) <= 4


def test_intrusion_score_is_the_evidence_averaged_over_time():
    # evidence 1 from the first frame in the zone on (t = 2.0 s, 10 frames/s), 0 before; time constant 0.5 s:
    # score(t) = 1 - exp(-(t - 1.9) / 0.5) (the average moves from the last frame without evidence)
    site = platform_site()
    scene, per, det = Scene(site), Perception(site), IntrusionDetector(site)
    outs = [det.score(per.update(scene.frame())) for _ in range(20)]
    assert [o.score for o in outs] == [0.0] * 20
    ev, sc = [], []
    for _ in range(8):
        p = per.update(scene.frame([(14.0, -2.0)]))
        sc.append(det.score(p).score)
        ev.append(det.evidence(p).score)
    assert ev == [1.0] * 8
    assert sc == pytest.approx([1 - math.exp(-0.1 * k / 0.5) for k in range(1, 9)], abs=1e-12)
    # above the default threshold 0.5 once 0.5 * ln 2 = 0.35 s have passed: from the fourth frame on
    assert [s >= det.default_threshold for s in sc] == [False, False, False, True, True, True, True, True]
    # a glitch of one frame stays below: 1 - exp(-0.2) = 0.18
    det2 = IntrusionDetector(site, evidence_s=0.5)
    det2.score(per.update(scene.frame()))
    assert det2.score(per.update(scene.frame([(14.0, -2.0)]))).score == pytest.approx(1 - math.exp(-0.2), abs=1e-12)
    with pytest.raises(ValueError, match="evidence_s must be a finite number of seconds >= 0; got -1"):
        IntrusionDetector(site, evidence_s=-1)


def test_intrusion_needs_a_forbidden_zone():
    site = platform_site(zones=(HALL,))
    assert not IntrusionDetector.supports(site)
    with pytest.raises(ValueError, match=r"needs at least one forbidden zone; site 'cam' has zones \['hall'\]"):
        IntrusionDetector(site)


# --- density --------------------------------------------------------------------------------


def _crowd(rng, n, spacing_m=0.45, box=(10.2, 21.8, 1.2, 5.8)):
    """n feet in the box, at least spacing_m apart (people do not stand inside each other)."""
    pts = np.zeros((0, 2))
    while len(pts) < n:
        p = np.array([rng.uniform(box[0], box[1]), rng.uniform(box[2], box[3])])
        if len(pts) == 0 or np.min(np.hypot(*(pts - p).T)) > spacing_m:
            pts = np.vstack([pts, p])
    return pts


@pytest.mark.parametrize("n", [15, 60, 120])  # 0.25, 1.0 and 2.0 persons/m² in the 12 m x 5 m hall zone
def test_density_estimate_within_30_percent(n):
    site = platform_site()
    scene, per = Scene(site, seed=n), Perception(site)
    det = DensityDetector(site, smoothing_s=0)
    warm(per, scene)
    rng = np.random.default_rng(n)
    feet = _crowd(rng, n)
    colours = rng.integers(0, 256, (n, 3))
    people = [(x, y, {"colour": tuple(int(c) for c in col)}) for (x, y), col in zip(feet, colours)]
    det.score(per.update(scene.frame(people)))
    truth = n / HALL.area_m2  # 60 m²
    assert abs(det.last_density[0] - truth) <= 0.3 * truth


def test_density_moving_average_arithmetic(monkeypatch):
    site = platform_site(zones=(HALL,))
    scene, per = Scene(site), Perception(site)
    warm(per, scene)
    det = DensityDetector(site, smoothing_s=1.5)
    persons = iter([0.0, 60.0, 60.0])  # the hall is 60 m²: 0, then 1 person/m²
    monkeypatch.setattr(det, "persons", lambda percept: np.array([next(persons)]))
    a = 1 - math.exp(-0.1 / 1.5)  # one frame at 10 frames/s
    s = [det.score(per.update(scene.frame())).score for _ in range(3)]
    # the first ready frame starts the average; capacity 2 persons/m² turns density into score
    assert s[0] == 0.0
    assert s[1] == pytest.approx(a * 1.0 / 2.0)
    assert s[2] == pytest.approx((a + a * (1 - a)) * 1.0 / 2.0)


def test_density_score_box_and_errors():
    site = platform_site(zones=(HALL,))
    scene, per, det = Scene(site), Perception(site), DensityDetector(site)
    warm(per, scene)
    out = det.score(per.update(scene.frame([(12.0, 3.0)])))
    assert out.zone == "hall" and out.score > 0
    corners = site.zone_image_polygon(HALL)
    x, y, w, h = out.bbox
    # the zone spans the image's width (clipped to [0, 640]) and its far edge sets the top
    assert x == 0.0 and x + w == 640.0 and abs(y - corners[:, 1].min()) <= 4
    with pytest.raises(ValueError, match="method must be one of pixels, blobs, cnn; got 'magic'"):
        DensityDetector(site, method="magic")
    with pytest.raises(ValueError, match=r"needs at least one density zone; site 'cam' has zones \['tracks'\]"):
        DensityDetector(platform_site(zones=(TRACKS,)))


# --- registry -------------------------------------------------------------------------------


def test_registry_builtins_and_unknown_name():
    assert get_detector("intrusion") is IntrusionDetector
    assert get_detector("excessive_density") is DensityDetector
    assert available_detectors()[:2] == ["intrusion", "excessive_density"]
    with pytest.raises(UnknownDetectorError, match="unknown detector 'fall'; known detectors: intrusion, excessive_density"):
        get_detector("fall")


def test_registry_entry_points(monkeypatch):
    import detectors.registry as registry

    eps = [metadata.EntryPoint("acme_intrusion", "detectors.intrusion:IntrusionDetector", registry.ENTRY_POINT_GROUP),
           metadata.EntryPoint("broken", "no_such_module_xyz:Detector", registry.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(registry, "_entry_points", lambda: eps)
    assert available_detectors() == ["intrusion", "excessive_density", "acme_intrusion", "broken"]
    assert get_detector("acme_intrusion") is IntrusionDetector
    with pytest.raises(DetectorRegistryError, match="detector 'broken' .* failed to import: ModuleNotFoundError"):
        get_detector("broken")
    with pytest.raises(UnknownDetectorError, match="known detectors: intrusion, excessive_density, acme_intrusion, broken"):
        get_detector("nope")
    monkeypatch.setattr(registry, "_entry_points", lambda: [
        metadata.EntryPoint("intrusion", "x:Y", registry.ENTRY_POINT_GROUP)])
    with pytest.raises(DetectorRegistryError, match="reuses the name of a built-in detector"):
        available_detectors()


# --- detection core -------------------------------------------------------------------------


@pytest.mark.parametrize("zones, expected", [
    ((TRACKS, HALL), [EventType.INTRUSION, EventType.EXCESSIVE_DENSITY]),
    ((TRACKS,), [EventType.INTRUSION]),
    ((HALL,), [EventType.EXCESSIVE_DENSITY]),
    ((), []),
])
def test_core_default_detectors_follow_the_site(zones, expected):
    core = DetectionCore(platform_site(zones=zones))
    assert [d.event_type for d in core.detectors] == expected
    assert all(core.policies[t].threshold == get_detector(t.value).default_threshold for t in expected)


def test_core_configuration_errors():
    site = platform_site()
    with pytest.raises(ValueError, match="one detector per event type .* got several for intrusion"):
        DetectionCore(site, detectors=["intrusion", IntrusionDetector])
    with pytest.raises(ValueError, match="policies given for fire but no detector of that type runs"):
        DetectionCore(site, policies={EventType.FIRE: AlertPolicy(threshold=0.5)})
    with pytest.raises(UnknownDetectorError, match="unknown detector 'fire'"):
        DetectionCore(site, detectors=["fire"])


def test_core_alerts_tables_and_offline_replay():
    site = platform_site()
    scene = Scene(site)
    policy = AlertPolicy(threshold=0.5, min_duration_s=0.2, cooldown_s=1.0)
    core = DetectionCore(site, policies={EventType.INTRUSION: policy})
    frames = [scene.frame() for _ in range(20)]
    frames += [scene.frame([(14.0, -2.0)]) for _ in range(15)]  # t = 2.0 .. 3.4 s
    frames += [scene.frame() for _ in range(15)]
    fired = [a for alerts in core.run(frames) for a in alerts]
    intrusions = [a for a in fired if a.type is EventType.INTRUSION]
    # appears at t = 2.0 s: one alert, within a second (how soon is the detector's own test's:
    # test_intrusion_score_is_the_evidence_averaged_over_time); this test is about the core's tables
    assert len(intrusions) == 1 and 2.0 <= intrusions[0].t <= 3.0
    assert core.alerts == fired
    table = core.score_table()
    assert table.column_names == ["camera", "frame", "t", "type", "score", "bbox_x", "bbox_y", "bbox_w", "bbox_h"]
    assert table.num_rows == 50 * 2
    d = table.to_pandas()
    intr = d[d["type"] == "intrusion"]
    assert intr["frame"].tolist() == list(range(50))
    assert intr["bbox_x"].iloc[:15].isna().all()  # warm-up: no box
    timing = core.timing_table()
    assert timing.column_names == ["frame", "t", "perception_s", "detectors_s", "total_s"]
    tt = timing.to_pandas()
    assert len(tt) == 50 and (tt["total_s"] >= tt["perception_s"]).all() and (tt["perception_s"] > 0).all()
    # offline replay of the recorded scores through the same gate gives the same alerts
    t, s, b = core.scores(EventType.INTRUSION)
    assert alerts_from_scores(t, s, b, policy, "cam", EventType.INTRUSION) == intrusions


def test_detector_output_validation():
    with pytest.raises(ValueError, match="score must be finite; got nan"):
        DetectorOutput(math.nan)
    with pytest.raises(ValueError, match=r"bbox must be \(x, y, w, h\); got \(1, 2\)"):
        DetectorOutput(0.5, (1, 2))
