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
from detectors.policy import AlertPolicy, alerts_from_instances, alerts_from_scores
from detectors.registry import (DetectorRegistryError, UnknownDetectorError, available_detectors, get_detector)
from detectors.site import SiteConfig, Zone, ZoneKind
from detectors.source import Frame
from tests.helpers import FPS, HALL, TRACKS, Scene, draw_person, platform_site, project

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
    # long_s = 1.5 s here to keep the test short (the default is 60 s): a contrast of about 100
    # grey levels against a threshold of 12 fades below it after 1.5 s * ln(100 / 12) = 3.2 s
    site = platform_site()
    scene, per = Scene(site), Perception(site, long_s=1.5)
    warm(per, scene)
    still = [(14.0, -2.0, {"lying": True})]
    mask_full = np.zeros(site.image_size[::-1], np.uint8)
    draw_person(mask_full, site.projection, 14.0, -2.0, colour=255, lying=True)
    drawn = cv2.resize(mask_full, (320, 180), interpolation=cv2.INTER_NEAREST) > 0
    covered = []
    for _ in range(50):  # 5 s
        p = per.update(scene.frame(still))
        covered.append(np.count_nonzero(p.fg_mask[drawn]) / np.count_nonzero(drawn))
    assert min(covered[:15]) > 0.5  # still foreground after 1.5 s
    assert covered[-1] < 0.1  # gone after 5 s


def test_lying_person_on_the_tracks_stays_detected_for_5_s_at_default_rate():
    site = platform_site()
    scene, per, det = Scene(site), Perception(site), IntrusionDetector(site)
    warm(per, scene)
    scores = [det.score(per.update(scene.frame([(14.0, -2.0, {"lying": True})]))).score for _ in range(50)]
    assert min(scores[6:]) >= det.default_threshold  # from the 7th frame (see the next test) to 5 s


def test_frame_of_the_wrong_size_is_an_error():
    site = platform_site()
    per = Perception(site)
    with pytest.raises(PerceptionError, match=r"must be a \(H, W, 3\) = \(360, 640, 3\) uint8 array.*got \(240, 426, 3\)"):
        per.update(Frame(index=0, t=0.0, image=np.zeros((240, 426, 3), np.uint8)))


@pytest.mark.parametrize("kwargs, match", [
    ({"long_s": 0}, "long_s must be a finite number > 0; got 0"),
    ({"flow_width": 0}, "flow_width must be a finite number > 0; got 0"),
    ({"tracker": {"gate_chi2": -1}}, "GroundTracker.gate_chi2 must be a finite number > 0; got -1"),
    ({"tracker": {"bogus": 1}}, "unexpected keyword argument 'bogus'"),
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
    outs = [det.score(per.update(scene.frame(people, occluder))) for _ in range(15)]
    scores = [o.score for o in outs]
    if inside:
        # a track is confirmed on the 3rd frame; its evidence (time constant 0.5 s) passes 0.5 within
        # 0.5 s * ln 2 = 0.35 s more: above the threshold by the 7th frame and from then on, rising
        assert min(scores[6:]) >= det.default_threshold, scores
        assert scores[6:] == sorted(scores[6:])
        assert outs[-1].zone == "tracks" and outs[-1].instances[0].key.startswith("tracks/")
    else:
        assert max(scores) < 0.2, scores


def _with_patches(scene, polys, people=()) -> Frame:
    """The scene's next frame with light patches (image polygons, int32) painted over it."""
    f = scene.frame(people)
    img = f.image.copy()
    for poly in polys:
        cv2.fillConvexPoly(img, poly, (235, 235, 220))
    return Frame(index=f.index, t=f.t, image=img)


@pytest.mark.parametrize("what, x_m, z_m", [
    # a flat light patch 3 m long on the rails (a headlight's glare), a low box 3 m long and 0.4 m high
    ("glare on the rails", (12.0, 15.0), 0.0),
    ("a low object 3 m long", (12.0, 15.0), 0.4),
])
def test_foreground_on_the_tracks_wider_or_flatter_than_a_person_is_no_intrusion(what, x_m, z_m):
    site = platform_site()
    scene, per, det = Scene(site), Perception(site), IntrusionDetector(site)
    warm(per, scene)
    x0, x1 = x_m
    quad = [(x0, -2.3, 0.0), (x1, -2.3, 0.0), (x1, -1.7, z_m), (x0, -1.7, z_m)] if z_m == 0 else \
        [(x0, -2.0, 0.0), (x1, -2.0, 0.0), (x1, -2.0, z_m), (x0, -2.0, z_m)]
    poly = np.round(project(site.projection, quad)).astype(np.int32)
    scores = []
    for _ in range(15):
        p = per.update(_with_patches(scene, [poly]))
        assert len(p.blobs) <= 1
        scores.append(det.score(p).score)
    assert len(p.blobs) == 1, what  # it is foreground, and tracked as a detection
    assert max(scores) < 0.2, scores


@pytest.mark.parametrize("startup_s, patch, intrusion", [
    # a figure on the empty track bed just after the warm-up is an intruder
    (10.0, False, True),
    # the same figure while foreground covers more of the floor than one person does (what a train that
    # stood there during the warm-up uncovers) is a piece of it: it did not come in from the platform
    (10.0, True, False),
    # past start-up the vehicle watch alone decides (the floor patch is no vehicle: below its cover)
    (0.0, True, True),
])
def test_at_start_up_a_figure_first_seen_on_a_floor_not_clear_must_have_come_in(startup_s, patch, intrusion):
    site = platform_site()
    scene, per, det = Scene(site), Perception(site), IntrusionDetector(site, startup_s=startup_s)
    warm(per, scene)
    # light patches along the far rail, 1.5 m x 1 m of floor every 3 m (each wider than a person is high there,
    # and all of them far less than a vehicle's area: they score nothing themselves)
    quads = [np.round(project(site.projection, [(x, -3.8, 0.0), (x + 1.5, -3.8, 0.0), (x + 1.5, -2.8, 0.0),
                                                (x, -2.8, 0.0)])).astype(np.int32) for x in np.arange(2.0, 30.0, 3.0)]
    scores, covers = [], []
    for _ in range(15):
        scores.append(det.score(per.update(_with_patches(scene, quads if patch else [], [(14.0, -1.5)]))).score)
        covers.append(float(det._vehicles.floor_cover[0]))
    # the premise: with the patches the floor is not clear (>= 0.06) and yet no vehicle (< 0.25) stands there;
    # without it the figure alone covers less than 0.06
    if patch:
        assert det.vehicle_clear <= min(covers) and max(covers) < det.vehicle_cover, covers
        assert not det._vehicles.occupied[0]
    else:
        assert max(covers) < det.vehicle_clear, covers
    assert (max(scores) >= det.default_threshold) == intrusion, scores


@pytest.mark.parametrize("x0, border", [
    # first seen cut by the image's left border (about x = 27.8 m at the track bed's row) on the track bed:
    # something entering the view there (a train's nose) must have come in from the platform, and did not;
    # border_hold_s later it is no train (the vehicle watch would have seen one) and scores as a person
    (28.5, True),
    # the same walk along the track bed first seen whole, 3 m inside the view
    (24.0, False),
])
def test_a_figure_first_seen_at_the_image_border_on_the_track_bed_waits_border_hold_s(x0, border):
    site = platform_site()
    scene, per, det = Scene(site), Perception(site), IntrusionDetector(site)
    warm(per, scene)
    # 0.15 m a frame (1.5 m/s) towards the image's centre along the track bed, 2 m from the edge
    outs = [det.score(per.update(scene.frame([(x0 - 0.15 * k, -2.0)]))) for k in range(50)]
    scores = [round(o.score, 2) for o in outs]
    first = next(k for k, o in enumerate(outs) if o.score >= det.default_threshold)
    if not border:
        # confirmed on the 3rd frame, over the threshold 0.35 s later (the evidence's time constant
        # 0.5 s * ln 2): by the 7th frame
        assert 2 <= first <= 6, scores
    else:
        # cut by the border the figure is found a few frames later (3 to 6), then held border_hold_s
        # (30 frames at 10 frames/s) and over the threshold 3 to 4 frames after: from 30 + 3 + 3 to 30 + 6 + 4
        hold = round(det.border_hold_s * 10)
        assert hold + 6 <= first <= hold + 10, scores


@pytest.mark.parametrize("min_size_persons, intrusion", [(0.3, False), (0.0, True)])
def test_a_head_sized_fragment_over_the_track_bed_is_no_person(min_size_persons, intrusion):
    # a light patch 0.3 m wide from 1.3 to 1.65 m above the track bed (the remnant of an intruder's head on
    # the wall behind it): nothing under it, so the people finder places feet from it as from a head whose
    # legs are hidden, 2 m inside the zone; its box, 10 x 12 px where a person stands 45 px tall (0.27 of
    # one), is under min_size_persons = 0.3 and scores nothing; without that rule it is an intruder
    site = platform_site()
    scene, per = Scene(site), Perception(site)
    det = IntrusionDetector(site, min_size_persons=min_size_persons)
    warm(per, scene)
    quad = np.round(project(site.projection, [(14.0, -2.0, 1.3), (14.3, -2.0, 1.3), (14.3, -2.0, 1.65),
                                              (14.0, -2.0, 1.65)])).astype(np.int32)
    scores = []
    for _ in range(15):
        p = per.update(_with_patches(scene, [quad]))
        scores.append(det.score(p).score)
    box, expected = p.tracks.box[0], p.tracks.expected_height_px[0]
    assert len(p.tracks) == 1 and max(box[2], box[3]) < 0.3 * expected
    assert det.zones[0].signed_distance(p.tracks.foot_m[:1])[0] > 1.0  # its feet placed well inside
    assert (max(scores) >= det.default_threshold) == intrusion, scores


def test_feet_must_be_inside_by_what_the_placement_error_spans_there():
    # the test camera, 5.5 m high at y = 11 m: 4 px of foot row span about 0.5 m of floor at the intruder
    # 13 m away, metres 40 m away (a pixel's span grows with the square of the distance)
    site = platform_site()
    det = IntrusionDetector(site)
    near, far = det.placement_m(np.array([[14.0, -2.0], [16.0, -29.0]]))
    assert 0.1 < near < 1.0 and far > 4 * near
    one = IntrusionDetector(site, foot_px=1.0).placement_m(np.array([[14.0, -2.0]]))[0]
    assert near == pytest.approx(4 * one)
    with pytest.raises(ValueError, match="foot_px must be > 0; got 0"):
        IntrusionDetector(site, foot_px=0)


def test_ghost_of_a_person_who_left_is_not_an_intrusion():
    # someone stands on the track bed while the background is learned, then leaves: the
    # uncovered track bed is foreground (a ghost) until healed, with its edges in the model
    site = platform_site()
    scene, per, det = Scene(site), Perception(site), IntrusionDetector(site)
    for _ in range(20):
        det.score(per.update(scene.frame([(14.0, -2.0)])))
    scores, ghosts = [], []
    for _ in range(10):
        p = per.update(scene.frame())
        scores.append(det.score(p).score)
        ghosts.append([p.is_ghost(int(label)) for label in p.blobs.label])
    assert ghosts[0] == [True]  # the ghost is there, and known for one
    assert scores == [0.0] * 10


def test_ghost_is_healed_into_the_long_term_background():
    # once the short-term background has learned the uncovered floor (about 1.6 short_s), the
    # ghost is static foreground whose edges are in the long-term background only: healed
    site = platform_site()
    scene, per = Scene(site), Perception(site, short_s=1.0, heal_every_s=0.5)
    for _ in range(20):
        per.update(scene.frame([(14.0, -2.0)]))
    blobs = [len(per.update(scene.frame()).blobs) for _ in range(40)]
    assert blobs[0] == 1 and blobs[-1] == 0


def _with_train(frame, site, x_front_m: float, x_rear_m: float = 0.0, ribbed: bool = False):
    """``frame`` with a train's side (3.5 m tall, on the track bed at y = -1.2 m) from x =
    ``x_rear_m`` to ``x_front_m`` painted over it, as a flat grey panel with dark windows
    (``ribbed``: and a dark seam every 0.4 m, as on a corrugated steel side, whose edges keep the
    standing train from being taken for uncovered floor)."""
    from detectors.source import Frame

    img = frame.image.copy()
    x0, x1 = max(float(x_rear_m), 0.0), min(float(x_front_m), 32.0)
    if x1 - x0 > 0.5:
        quad = project(site.projection, [(x0, -1.2, 0.0), (x1, -1.2, 0.0), (x1, -1.2, 3.5), (x0, -1.2, 3.5)])
        cv2.fillConvexPoly(img, np.round(quad).astype(np.int32), (150, 150, 160))
        for x in np.arange(x0 + 1.0, x1 - 1.0, 2.5):
            win = project(site.projection, [(x, -1.2, 1.5), (x + 1.2, -1.2, 1.5), (x + 1.2, -1.2, 2.6), (x, -1.2, 2.6)])
            cv2.fillConvexPoly(img, np.round(win).astype(np.int32), (40, 40, 50))
        for x in np.arange(x0 + 0.2, x1, 0.4) if ribbed else ():
            seam = project(site.projection, [(x, -1.2, 0.1), (x, -1.2, 3.4)])
            cv2.line(img, tuple(np.round(seam[0]).astype(int)), tuple(np.round(seam[1]).astype(int)), (90, 90, 100), 1)
    return Frame(index=frame.index, t=frame.t, image=img)


def test_a_train_braking_in_is_neither_an_intrusion_nor_a_crowd_movement():
    from detectors.crowd import CrowdMovementDetector
    from detectors.vehicles import vehicle_blobs

    site = platform_site()
    scene, per = Scene(site), Perception(site)
    intrusion, crowd = IntrusionDetector(site), CrowdMovementDetector(site)
    warm(per, scene)
    scores, occupied = [], []
    for k in range(40):  # the front runs in at 8 m/s, slowing to a stop at 30 m
        front = 30.0 * (1.0 - (1.0 - min(k, 30) / 30) ** 2)
        p = per.update(_with_train(scene.frame(), site, front))
        scores.append((intrusion.score(p).score, crowd.score(p).score))
        occupied.append(bool(vehicle_blobs(p, (TRACKS,))[1][0]))
    assert sum(occupied) >= 30  # the train's component is seen as a vehicle on the track bed
    assert max(s for s, _ in scores) < intrusion.default_threshold, scores
    assert max(c for _, c in scores) < crowd.default_threshold, scores


def test_the_track_bed_a_departed_train_uncovers_is_no_intrusion_until_seen_empty_again():
    # the train stands 15 s (the long-term background starts to learn it), then leaves at up to
    # 16 m/s: the track bed it uncovers stays foreground while the background relearns it (15 % of
    # the floor 15 s later), and the people finder cuts that ghost into person-sized pieces whose
    # feet are on the track (4 s after the train had gone the old rule scored them 1.0). The zone
    # stays silent while its floor is not seen empty again (VehicleWatch, tested below).
    from detectors.crowd import CrowdMovementDetector

    site = platform_site()
    scene, per = Scene(site), Perception(site)
    intrusion, crowd = IntrusionDetector(site), CrowdMovementDetector(site)
    warm(per, scene)
    scores = []
    for k in range(40 + 150 + 40 + 150):  # braking in, standing 15 s, leaving in 3 s, 15 s of empty track
        if k < 40:
            front, rear = 32.0 * (1.0 - (1.0 - min(k, 30) / 30) ** 2), 0.0
        elif k < 190:
            front, rear = 32.0, 0.0
        else:
            front, rear = 32.0, 32.0 * (min(k - 190, 30) / 30) ** 2
        p = per.update(_with_train(scene.frame(), site, front + rear, rear, ribbed=True))
        scores.append((round(p.t, 1), intrusion.score(p).score, crowd.score(p).score))
    assert max(s for _, s, _ in scores) < intrusion.default_threshold, [x for x in scores if x[1] > 0.1]
    assert max(c for _, _, c in scores) < crowd.default_threshold, [x for x in scores if x[2] > 0.1]


@pytest.mark.parametrize("how, path, intrusion", [
    # the train's ghost is cut into pieces whose feet land on the track bed; a figure that appears there
    # and stays put is no one who came in (without a train before, it is: test_intrusion_only_for_feet...)
    ("appears on the track bed", lambda t: (14.0, -2.0), False),
    ("steps down from the platform", lambda t: (14.0, 2.0 - 3.0 * min(t, 1.3)), True),
])
def test_after_a_train_only_someone_who_came_in_from_outside_is_an_intrusion(how, path, intrusion):
    # a train brakes in, stands 1 s and leaves in 3 s; once the zone is watched again (its floor seen
    # clear: clear 0.2 for a shorter test), within vehicle_max_hold_s = 60 s of the train
    site = platform_site()
    scene, per = Scene(site), Perception(site)
    det = IntrusionDetector(site, vehicle_clear=0.2)
    warm(per, scene)
    for k in range(40 + 10 + 30):
        front = 32.0 * (1.0 - (1.0 - min(k, 30) / 30) ** 2)
        rear = 32.0 * (min(max(k - 50, 0), 30) / 30) ** 2
        det.score(per.update(_with_train(scene.frame(), site, front + rear, rear, ribbed=True)))
    for _ in range(300):
        p = per.update(scene.frame())
        det.score(p)
        if not det._vehicles.occupied[0]:
            break
    assert not det._vehicles.occupied[0] and p.t - det._vehicles.last_seen_t[0] < det.vehicle_max_hold_s
    scores = [det.score(per.update(scene.frame([path(k / 10)]))).score for k in range(20)]
    assert (max(scores) >= det.default_threshold) == intrusion, (how, scores)


@pytest.mark.parametrize("cover, blob, occupied", [
    # (floor cover, vehicle component) per frame at 10 frames/s; cover 0.25, clear 0.06, hold 2 s:
    # entered at 0.0 s by the cover, at 0.1 s by a component; still dirty (0.10 >= 0.06) at 0.2 s, clear
    # (0.03) from 0.3 s: occupied until 0.2 + 2.0 = 2.2 s
    ([0.30, 0.10, 0.10] + [0.03] * 22, [False, True] + [False] * 23, [True] * 23 + [False] * 2),
    # a person on the track bed (4 % of its floor) never makes it a vehicle
    ([0.04] * 5, [False] * 5, [False] * 5),
    # a ghost that never heals: watched again max_hold_s = 1 s after the vehicle was last seen, plus hold_s
    ([0.5] + [0.1] * 40, [False] * 41, [True] * 31 + [False] * 10),
])
def test_a_zone_a_vehicle_entered_is_occupied_until_its_floor_is_seen_empty_for_hold_s(cover, blob, occupied):
    from detectors.vehicles import VehicleWatch

    watch = VehicleWatch([TRACKS], cover=0.25, clear=0.06, hold_s=2.0, max_hold_s=1.0 if len(cover) == 41 else 20.0)
    got = [bool(watch.step(k / 10, np.array([c]), np.array([b]))[0]) for k, (c, b) in enumerate(zip(cover, blob))]
    assert got == occupied


def test_intrusion_box_covers_the_intruder():
    site = platform_site()
    scene, per, det = Scene(site), Perception(site), IntrusionDetector(site)
    warm(per, scene)
    out = [det.score(per.update(scene.frame([(14.0, -2.0)]))) for _ in range(8)][-1]
    foot, top = project(site.projection, [(14.0, -2.0, 0.0), (14.0, -2.0, 1.7)])
    x, y, w, h = out.bbox
    assert x <= foot[0] <= x + w and abs(y - top[1]) <= 4 and abs(y + h - foot[1]) <= 4


def test_intrusion_score_is_the_evidence_averaged_over_time():
    # the evidence of a frame is how sure the feet are inside; the score averages it with time constant
    # evidence_s, so it rises step by step once the intruder stands on the track bed (graded, sweepable), a
    # glitch of one frame stays below the threshold, and a longer time constant rises more slowly
    site = platform_site()

    def scores(det, steps):
        scene, per = Scene(site), Perception(site)
        for _ in range(20):
            assert det.score(per.update(scene.frame())).score == 0.0
        return [det.score(per.update(scene.frame([(14.0, -2.0)] if inside else []))).score for inside in steps]

    fast = scores(IntrusionDetector(site), [True] * 15)
    assert all(b >= a for a, b in zip(fast, fast[1:])) and fast[-1] > 0.9
    graded = [s for s in fast if 0.0 < s < fast[-1]]
    assert len(graded) >= 3  # several frames strictly between 0 and the plateau: a sweepable score
    slow = scores(IntrusionDetector(site, evidence_s=2.0), [True] * 15)
    assert slow[-1] < fast[-1] and all(s <= f + 1e-12 for s, f in zip(slow, fast))
    glitch = scores(IntrusionDetector(site), [True] + [False] * 10)
    assert max(glitch) < IntrusionDetector.default_threshold
    with pytest.raises(ValueError, match="evidence_s must be > 0; got -1"):
        IntrusionDetector(site, evidence_s=-1)


class _Crops:
    """Stands for a percept where only :meth:`~detectors.perception.Percept.crop` is read."""

    def __init__(self, image):
        self.image = image

    def crop(self, box, size=(48, 96)):
        from detectors.perception import _crop
        return _crop(self.image, box, size)


def test_a_vest_in_the_upper_body_of_a_box_that_runs_onto_the_floor_is_seen():
    # a worker 50 px tall (his expected height) whose box runs 50 px onto the dark floor below his feet:
    # his yellow vest (rows 8-20 of the box) lies above the box's torso region (20-55 % of 100 px = rows
    # 20-55: trousers and floor), and is read on the upper body under the box's top
    from detectors.appearance import hi_vis_fraction
    det = IntrusionDetector(platform_site())
    img = np.full((240, 200, 3), 60, np.uint8)
    img[100:108, 100:120] = (150, 150, 150)  # head
    img[108:120, 100:120] = (0, 230, 255)  # vest (BGR fluorescent yellow)
    img[120:150, 100:120] = (40, 30, 30)  # trousers
    img[150:200, 95:125] = (30, 30, 30)  # floor foreground below the feet
    box = np.array([100.0, 100.0, 20.0, 100.0])
    full = hi_vis_fraction(_Crops(img).crop(box, (32, 64)))
    seen = det.vest_seen(_Crops(img), box, 50.0)
    assert full < det.vest_fraction  # the torso region alone: a passenger
    # the upper body: rows 0 to 0.55 * 50 = 27.5 px of the box, of which the vest is 12 (its middle 60 %
    # of the columns all vest): about 12 / 27.5 of the region
    assert seen == pytest.approx(12 / 27.5, abs=0.06) and seen > det.vest_fraction
    # a box that fits the person (50 px) reads the same vest on its torso region too
    assert det.vest_seen(_Crops(img), np.array([100.0, 100.0, 20.0, 50.0]), 50.0) > det.vest_fraction


def test_staff_evidence_is_the_persons_across_broken_and_second_tracks():
    det = IntrusionDetector(platform_site(), staff_s=0.5)
    tau = 10 * det.staff_s  # [s] staff evidence falls with this time constant when no vest is seen
    det._staff = {7: (1.0, 10.0, np.array([100.0, 100.0, 20.0, 50.0]))}
    # a new track on the same worker 0.8 s later, its box grown onto the floor (half of it or more overlaps)
    assert det._inherited_staff(8, np.array([100.0, 104.0, 20.0, 60.0]), 10.8) == pytest.approx(math.exp(-0.8 / tau))
    # too late (staff_link_s = 2 s), or elsewhere in the image: a passenger starts from 0
    assert det._inherited_staff(8, np.array([100.0, 104.0, 20.0, 60.0]), 12.5) == 0.0
    assert det._inherited_staff(8, np.array([130.0, 100.0, 20.0, 50.0]), 10.8) == 0.0
    # two tracks share an instance (a second track on a fragment of the worker): the instance is staff
    assert det._instance_staff(20.0, [("tracks/7", 0.9), ("tracks/7", 0.0), ("tracks/9", 0.1)]) == \
        {"tracks/7": 0.9, "tracks/9": 0.1}
    # 1 s later only the fragment's track reads it: the instance's evidence falls as a vest unseen would
    assert det._instance_staff(21.0, [("tracks/7", 0.0)])["tracks/7"] == pytest.approx(0.9 * math.exp(-1.0 / tau))


def test_a_track_on_a_zone_a_vehicle_occupies_must_come_in_again():
    from detectors.tracker import Tracks
    det = IntrusionDetector(platform_site())  # the track bed: y in [-4.5, 0] m
    zone = det.zones[0]

    def tracks(*feet):
        n = len(feet)
        return Tracks(np.arange(9, 9 + n), np.array(feet, float), np.zeros((n, 2)), np.full(n, 0.1),
                      np.tile([300.0, 100.0, 20.0, 50.0], (n, 1)), np.ones(n, bool), np.full(n, 20),
                      np.full(n, 3.0), np.zeros(n), np.zeros(n, np.int64), np.zeros(n, np.int8), np.full(n, 50.0),
                      np.full((n, 2), np.nan))

    # track 9 first seen on the platform 1 m from the edge at t = 5 s (a passenger during a dwell), now with
    # its feet on the track bed; track 10 on the platform
    tr = tracks((14.0, -2.0), (16.0, 1.0))
    for tid in (9, 10):
        det._origin[tid] = (np.array([14.0, 1.0]), 5.0, np.array([False]), False)
    came = det._came(zone, 0, 8.0, tr.id, 10.0)  # a vehicle last seen at 8 s
    assert came.tolist() == [True, True]  # both came in from outside
    det._void_on_vehicle(tr, np.array([False]), 10.0)  # no vehicle on the zone now: nothing changes
    assert det._came(zone, 0, 8.0, tr.id, 10.0).tolist() == [True, True]
    det._void_on_vehicle(tr, np.array([True]), 10.0)  # a vehicle on the zone: track 9 follows its pixels
    assert det._origin[9][0].tolist() == [14.0, -2.0] and det._origin[9][1] == 10.0
    assert det._came(zone, 0, 10.0, tr.id, 12.0).tolist() == [False, True]
    # however long after the vehicle left: first seen while it stood there, on the zone, it has not come in
    assert det._came(zone, 0, 10.0, tr.id, 10.0 + det.vehicle_max_hold_s + 1.0).tolist() == [False, True]


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


# 0.25, 1.0 and 2.0 persons/m² in the 12 m x 5 m hall zone; at 2 persons/m² the drawn figures cover
# most of the zone's image and the hard-rod occlusion correction over-corrects (+58 % measured)
@pytest.mark.parametrize("n, tolerance", [(15, 0.3), (60, 0.3), (120, 0.65)])
def test_pixel_density_estimate_within_tolerance(n, tolerance):
    # the classical estimate (the learned one is tested on rendered footage, tests/test_density_cnn.py)
    site = platform_site()
    scene, per = Scene(site, seed=n), Perception(site)
    det = DensityDetector(site, method="pixels", smoothing_s=0)
    warm(per, scene)
    rng = np.random.default_rng(n)
    feet = _crowd(rng, n)
    colours = rng.integers(0, 256, (n, 3))
    people = [(x, y, {"colour": tuple(int(c) for c in col)}) for (x, y), col in zip(feet, colours)]
    det.score(per.update(scene.frame(people)))
    truth = n / HALL.area_m2  # 60 m²
    assert abs(det.last_density[0] - truth) <= tolerance * truth


def test_density_moving_average_arithmetic(monkeypatch):
    site = platform_site(zones=(HALL,))
    scene, per = Scene(site), Perception(site)
    warm(per, scene)
    det = DensityDetector(site, method="pixels", smoothing_s=1.5, every_s=0.0)
    persons = iter([0.0, 60.0, 60.0])  # the hall is 60 m²: 0, then 1 person/m²
    monkeypatch.setattr(det, "persons", lambda percept: np.array([next(persons)]))
    a = 1 - math.exp(-0.1 / 1.5)  # one frame at 10 frames/s
    s = [det.score(per.update(scene.frame())).score for _ in range(3)]
    # the first ready frame starts the average; score = density / (2 x capacity of 2 persons/m²)
    assert s[0] == 0.0
    assert s[1] == pytest.approx(a * 1.0 / 4.0)
    assert s[2] == pytest.approx((a + a * (1 - a)) * 1.0 / 4.0)


def test_density_score_box_and_errors():
    site = platform_site(zones=(HALL,))
    scene, per, det = Scene(site), Perception(site), DensityDetector(site, method="pixels")
    warm(per, scene)
    out = det.score(per.update(scene.frame([(12.0, 3.0)])))
    assert out.zone == "hall" and out.score > 0 and [i.key for i in out.instances] == ["hall"]
    corners = site.zone_image_polygon(HALL)
    x, y, w, h = out.bbox
    # the zone spans the image's width (clipped to [0, 640]) and its far edge sets the top
    assert x == 0.0 and x + w == 640.0 and abs(y - corners[:, 1].min()) <= 4
    with pytest.raises(ValueError, match="method must be one of cnn, pixels, blobs; got 'magic'"):
        DensityDetector(site, method="magic")
    with pytest.raises(ValueError, match=r"needs at least one density zone; site 'cam' has zones \['tracks'\]"):
        DensityDetector(platform_site(zones=(TRACKS,)))


# --- registry -------------------------------------------------------------------------------


BUILTINS = ["intrusion", "wrong_way", "excessive_density", "crowd_movement", "abandoned_object", "person_on_ground",
            "fire", "weapon"]
#: the built-ins every site supports (they need no zone)
ANY_SITE = [EventType.CROWD_MOVEMENT, EventType.ABANDONED_OBJECT, EventType.PERSON_ON_GROUND, EventType.FIRE,
            EventType.WEAPON]


def test_registry_builtins_and_unknown_name():
    assert get_detector("intrusion") is IntrusionDetector
    assert get_detector("excessive_density") is DensityDetector
    assert available_detectors()[:len(BUILTINS)] == BUILTINS
    with pytest.raises(UnknownDetectorError, match="unknown detector 'fall'; known detectors: " + ", ".join(BUILTINS)):
        get_detector("fall")


def test_registry_entry_points(monkeypatch):
    import detectors.registry as registry

    eps = [metadata.EntryPoint("acme_intrusion", "detectors.intrusion:IntrusionDetector", registry.ENTRY_POINT_GROUP),
           metadata.EntryPoint("broken", "no_such_module_xyz:Detector", registry.ENTRY_POINT_GROUP)]
    monkeypatch.setattr(registry, "_entry_points", lambda: eps)
    assert available_detectors() == BUILTINS + ["acme_intrusion", "broken"]
    assert get_detector("acme_intrusion") is IntrusionDetector
    with pytest.raises(DetectorRegistryError, match="detector 'broken' .* failed to import: ModuleNotFoundError"):
        get_detector("broken")
    with pytest.raises(UnknownDetectorError, match="known detectors: " + ", ".join(BUILTINS) + ", acme_intrusion, broken"):
        get_detector("nope")
    monkeypatch.setattr(registry, "_entry_points", lambda: [
        metadata.EntryPoint("intrusion", "x:Y", registry.ENTRY_POINT_GROUP)])
    with pytest.raises(DetectorRegistryError, match="reuses the name of a built-in detector"):
        available_detectors()


# --- detection core -------------------------------------------------------------------------


CORRIDOR = Zone(name="corridor", kind=ZoneKind.ONE_WAY, polygon_m=[[0, 1], [8, 1], [8, 6], [0, 6]], direction_deg=0.0)


@pytest.mark.parametrize("zones, expected", [
    ((TRACKS, HALL, CORRIDOR), [EventType.INTRUSION, EventType.WRONG_WAY, EventType.EXCESSIVE_DENSITY] + ANY_SITE),
    ((TRACKS,), [EventType.INTRUSION] + ANY_SITE),
    ((HALL,), [EventType.EXCESSIVE_DENSITY] + ANY_SITE),
    ((CORRIDOR,), [EventType.WRONG_WAY] + ANY_SITE),
    ((), ANY_SITE),
])
def test_core_default_detectors_follow_the_site(zones, expected):
    # built-ins only: an installed plug-in (the example one is) runs when named
    core = DetectionCore(platform_site(zones=zones))
    assert [d.event_type for d in core.detectors] == expected
    assert all(core.policies[t].threshold == get_detector(t.value).default_threshold for t in expected)


def test_core_configuration_errors():
    site = platform_site()
    with pytest.raises(ValueError, match="one detector per event type .* got several for intrusion"):
        DetectionCore(site, detectors=["intrusion", IntrusionDetector])
    # the site has no one-way zone: no wrong_way detector runs by default
    with pytest.raises(ValueError, match="policies given for wrong_way but no detector of that type runs"):
        DetectionCore(site, policies={EventType.WRONG_WAY: AlertPolicy(threshold=0.5)})
    with pytest.raises(UnknownDetectorError, match="unknown detector 'rifle'"):
        DetectionCore(site, detectors=["rifle"])


def test_core_alerts_tables_and_offline_replay():
    site = platform_site(zones=(TRACKS,))
    scene = Scene(site)
    policy = AlertPolicy(threshold=0.5, min_duration_s=0.2, cooldown_s=1.0)
    core = DetectionCore(site, detectors=["intrusion"], policies={EventType.INTRUSION: policy})
    frames = [scene.frame() for _ in range(20)]
    frames += [scene.frame([(14.0, -2.0)]) for _ in range(15)]  # t = 2.0 .. 3.4 s
    frames += [scene.frame() for _ in range(15)]
    fired = [a for alerts in core.run(frames) for a in alerts]
    intrusions = [a for a in fired if a.type is EventType.INTRUSION]
    # appears at t = 2.0 s; score >= 0.5 by its 7th frame (t = 2.6 s); + 0.2 s minimum duration
    assert len(intrusions) == 1 and 2.0 <= intrusions[0].t <= 2.8 + 1e-9
    assert core.alerts == fired
    table = core.score_table()
    assert table.column_names == ["camera", "frame", "t", "type", "score", "bbox_x", "bbox_y", "bbox_w", "bbox_h"]
    assert table.num_rows == 50
    d = table.to_pandas()
    assert d["frame"].tolist() == list(range(50))
    assert d["bbox_x"].iloc[:15].isna().all()  # warm-up: no box
    timing = core.timing_table()
    stages = ["preprocess_s", "background_s", "components_s", "people_s", "tracker_s", "flow_s", "crops_s"]
    types = [f"detector_{t.value}_s" for t in EventType]
    assert timing.column_names == ["frame", "t", *stages, *types, "perception_s", "detectors_s", "total_s"]
    tt = timing.to_pandas()
    assert len(tt) == 50 and (tt["total_s"] >= tt["perception_s"]).all() and (tt["perception_s"] > 0).all()
    assert (tt[stages].sum(axis=1) <= tt["perception_s"] + 1e-9).all()
    assert (tt["detector_fire_s"] == 0).all() and (tt["detector_intrusion_s"] > 0).all()
    # offline replay of the recorded instance scores through the same gates gives the same alerts
    inst = core.instance_table().to_pandas()
    assert set(inst["instance"]) and all(k.startswith("tracks/") for k in inst["instance"])
    replay = alerts_from_instances(tt["t"], inst["t"], inst["instance"], inst["score"],
                                   inst[["bbox_x", "bbox_y", "bbox_w", "bbox_h"]].to_numpy(), policy, "cam",
                                   EventType.INTRUSION)
    assert replay == intrusions
    # one intruder at a time: the frame scores replayed through one gate per camera agree here
    t, s, b = core.scores(EventType.INTRUSION)
    assert alerts_from_scores(t, s, b, policy, "cam", EventType.INTRUSION) == intrusions


def test_second_intruder_gets_an_alert_of_their_own():
    # per-camera gating with a 10 s cooldown swallowed a second intruder 4 s after the first;
    # gates per event instance (a zone and a track) do not
    site = platform_site(zones=(TRACKS,))
    scene = Scene(site)
    core = DetectionCore(site, detectors=["intrusion"])
    frames = [scene.frame() for _ in range(20)]
    frames += [scene.frame([(10.0, -2.0)]) for _ in range(40)]  # first intruder from t = 2 s
    frames += [scene.frame([(10.0, -2.0), (20.0, -2.5, {"colour": (160, 40, 40)})]) for _ in range(40)]  # + 4 s
    alerts = [a for batch in core.run(frames) for a in batch]
    assert len(alerts) == 2 and alerts[1].t - alerts[0].t >= 3.5
    xs = sorted(a.bbox[0] for a in alerts)
    assert xs[1] - xs[0] > 100  # two places on the track bed


def test_detector_output_validation():
    with pytest.raises(ValueError, match="score must be finite; got nan"):
        DetectorOutput(math.nan)
    with pytest.raises(ValueError, match=r"bbox must be \(x, y, w, h\); got \(1, 2\)"):
        DetectorOutput(0.5, (1, 2))


def test_density_cnn_learns_and_subtracts_the_empty_floor_reading(monkeypatch):
    """The network's reading of a zone is its floor reading while nothing is in the foreground there and the
    reading is low; a zone with people in it, or one read as crowded, leaves the floor reading alone."""
    site = platform_site(zones=(HALL,))
    scene, per = Scene(site), Perception(site)
    warm(per, scene)
    det = DensityDetector(site, method="cnn", smoothing_s=0, every_s=0.0, floor_s=2.0, calibrated=False)
    det._prepare(per.update(scene.frame()).grid)
    area = det._view_area[0]
    readings = iter([0.1, 0.2, 0.25, 0.5])  # [persons/m²] what the network reads, frame by frame
    monkeypatch.setattr(det, "persons", lambda percept: np.array([next(readings) * area]))
    a = 1 - math.exp(-0.1 / 2.0)  # one frame at 10 frames/s, floor_s = 2 s
    det.score(per.update(scene.frame()))  # empty: the first empty reading is the floor
    assert det.floor[0] == pytest.approx(0.1) and det.last_density[0] == pytest.approx(0.0)
    det.score(per.update(scene.frame()))  # empty: the floor moves a share a towards 0.2
    floor = 0.1 + a * (0.2 - 0.1)
    assert det.floor[0] == pytest.approx(floor) and det.last_density[0] == pytest.approx(0.2 - floor)
    crowd = [(x, y) for x in (12.0, 14.0, 16.0, 18.0) for y in (2.0, 4.0)]
    det.score(per.update(scene.frame(crowd)))  # a low reading, but people in the foreground: the floor stays
    assert det.floor[0] == pytest.approx(floor) and det.last_density[0] == pytest.approx(0.25 - floor)
    det.score(per.update(scene.frame()))  # empty foreground but a reading above floor_max_per_m2 = 0.3
    assert det.floor[0] == pytest.approx(floor) and det.last_density[0] == pytest.approx(0.5 - floor)
    off = DensityDetector(site, method="cnn", floor_s=0)
    assert np.isnan(off.floor).all()
    with pytest.raises(ValueError, match="floor_max_per_m2 must be a finite number >= 0 persons/m2; got -1"):
        DensityDetector(site, method="cnn", floor_max_per_m2=-1)
    with pytest.raises(ValueError, match=r"empty_fg_fraction must be in \[0, 1\]; got 2"):
        DensityDetector(site, method="cnn", empty_fg_fraction=2)


def test_density_cnn_reading_goes_through_the_model_cards_map(monkeypatch):
    from detectors.density_cnn import apply_reading_map

    site = platform_site(zones=(HALL,))
    scene, per = Scene(site), Perception(site)
    warm(per, scene)
    det = DensityDetector(site, method="cnn", smoothing_s=0, every_s=0.0, floor_s=0)
    det._prepare(per.update(scene.frame()).grid)
    monkeypatch.setattr(det._cnn, "calibration", (np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.5, 2.5])))
    monkeypatch.setattr(det, "persons", lambda percept: np.array([0.5 * det._view_area[0]]))
    det.score(per.update(scene.frame()))
    assert det.last_density[0] == pytest.approx(0.75)  # half way from 0 to 1.5
    assert apply_reading_map(3.0, [0.0, 1.0, 2.0], [0.0, 1.5, 2.5]) == pytest.approx(3.5)  # slope 1 past 2
