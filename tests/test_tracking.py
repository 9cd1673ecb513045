"""Person candidates (one foot per person) and the ground-plane tracker, on drawn scenes."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.people import FOOT_BOTTOM, FOOT_FROM_HEAD, FOOT_UNKNOWN
from detectors.perception import Perception
from detectors.site import SiteConfig
from detectors.tracker import GroundTracker
from tests.helpers import TRACKS, Scene, platform_site, project


def _warm_percept(people, occluder=None, n=3, site=None):
    site = site or platform_site(zones=(TRACKS,))
    scene, per = Scene(site), Perception(site)
    for _ in range(20):
        per.update(scene.frame())
    for _ in range(n):
        p = per.update(scene.frame(people, occluder))
    return site, p


def test_two_people_side_by_side_are_two_detections():
    # 0.5 m apart across the line of sight: one merged blob, two feet
    site, p = _warm_percept([(14.0, 2.0), (14.5, 2.0, {"colour": (150, 60, 40)})])
    assert len(p.blobs) == 1
    d = p.detections
    assert len(d) == 2
    xs = np.sort(d.foot_m[:, 0])
    assert np.allclose(xs, [14.0, 14.5], atol=0.25) and np.allclose(d.foot_m[:, 1], 2.0, atol=0.4)


def test_person_cut_by_the_bottom_edge_is_placed_by_the_head_not_on_the_border():
    # 3.9 m in front of the camera the feet are below the image; the head is in it
    site = platform_site(zones=(TRACKS,))
    x, y = 16.0, 7.1
    foot, top = project(site.projection, [(x, y, 0.0), (x, y, 1.7)])
    assert foot[1] > 360 > top[1] > 0
    _, p = _warm_percept([(x, y)], site=site)
    d = p.detections
    assert len(d) == 1 and d.foot_source[0] == FOOT_FROM_HEAD
    assert np.allclose(d.foot_m[0], [x, y], atol=0.4)


def test_cut_feet_without_a_projection_are_unknown_not_the_border():
    # a site calibrated by a ground homography only cannot place a person by the head
    full = platform_site(zones=(TRACKS,))
    site = SiteConfig(camera="cam", image_size=full.image_size, fps=full.fps, homography=full.homography,
                      zones=full.zones)
    scene = Scene(full)  # drawn with the full camera
    per = Perception(site)
    for _ in range(20):
        per.update(scene.frame())
    p = [per.update(scene.frame([(16.0, 7.1)])) for _ in range(3)][-1]
    d = p.detections
    assert len(d) == 1 and d.foot_source[0] == FOOT_UNKNOWN and np.isnan(d.foot_m[0]).all()
    assert len(p.tracks) == 0  # nobody is tracked at the image border


def test_hidden_legs_are_placed_by_the_head():
    site = platform_site(zones=(TRACKS,))
    x, y = 14.0, 2.0
    foot, top = project(site.projection, [(x, y, 0.0), (x, y, 1.7)])
    u, mid = int(foot[0]), int((foot[1] + top[1]) / 2)
    # a bench in front hides everything below the waist
    _, p = _warm_percept([(x, y)], occluder=(u - 15, mid, u + 15, int(foot[1]) + 3), site=site)
    d = p.detections
    assert len(d) == 1 and d.foot_source[0] == FOOT_FROM_HEAD
    assert np.allclose(d.foot_m[0], [x, y], atol=0.35)


def _walk(site, paths, seconds, occluder_at=None):
    """Percepts of people walking ``paths`` ((x0, y0, vx, vy, colour), ...) for ``seconds``."""
    scene, per = Scene(site), Perception(site)
    for _ in range(20):
        per.update(scene.frame())
    out = []
    for k in range(int(seconds * 10)):
        t = k / 10
        people = [(x0 + vx * t, y0 + vy * t, {"colour": c}) for x0, y0, vx, vy, c in paths]
        occ = occluder_at(t) if occluder_at else None
        out.append(per.update(scene.frame(people, occ)))
    return out


def test_a_walker_is_one_track_with_its_velocity():
    site = platform_site(zones=(TRACKS,))
    percepts = _walk(site, [(8.0, 3.0, 1.2, 0.0, (40, 40, 160))], 6.0)
    ids = {int(i) for p in percepts[10:] for i in p.tracks.id[p.tracks.confirmed]}
    assert len(ids) == 1
    tr = percepts[-1].tracks
    k = int(np.flatnonzero(tr.confirmed)[0])
    assert np.allclose(tr.vel_mps[k], [1.2, 0.0], atol=0.25)
    assert np.allclose(tr.foot_m[k], [8.0 + 1.2 * 5.9, 3.0], atol=0.4)
    history = percepts[-1].track_history(int(tr.id[k]))
    assert history.shape[1] == 5 and len(history) >= 30 and np.all(np.diff(history[:, 0]) > 0)


def test_a_walker_behind_a_pillar_keeps_their_track():
    site = platform_site(zones=(TRACKS,))
    # hidden for 1 s while walking past x = 13..14.2
    def pillar(t):
        if 4.0 <= t < 5.0:
            a = project(site.projection, [(12.6, 3.0, 0.0)])[0]
            b = project(site.projection, [(15.0, 3.0, 2.0)])[0]
            return (int(min(a[0], b[0])), int(b[1]), int(max(a[0], b[0])), int(a[1]) + 5)
        return None
    percepts = _walk(site, [(8.0, 3.0, 1.2, 0.0, (40, 40, 160))], 7.0, pillar)
    assert any(p.tracks.lost_s.max(initial=0) > 0.5 for p in percepts[40:50])  # it was hidden
    ids = {int(i) for p in percepts[10:] for i in p.tracks.id[p.tracks.confirmed & (p.tracks.lost_s == 0)]}
    assert len(ids) == 1


def test_two_walkers_crossing_keep_their_identities():
    site = platform_site(zones=(TRACKS,))
    red, blue = (40, 40, 200), (200, 60, 40)
    percepts = _walk(site, [(8.0, 2.6, 1.3, 0.0, red), (20.0, 3.2, -1.3, 0.0, blue)], 9.0)
    before, after = percepts[15].tracks, percepts[-1].tracks
    def id_near(tr, x):
        live = np.flatnonzero(tr.confirmed & (tr.lost_s == 0))
        return int(tr.id[live[np.argmin(np.abs(tr.foot_m[live, 0] - x))]])
    # red went from x = 9.95 to 19.6, blue from 18.05 to 8.4
    assert id_near(before, 9.95) == id_near(after, 19.6)
    assert id_near(before, 18.05) == id_near(after, 8.4)


@pytest.mark.parametrize("kwargs, match", [
    ({"low_conf": 0.9, "high_conf": 0.5}, r"need 0 <= low_conf <= high_conf <= 1"),
    ({"max_lost_s": 0}, "max_lost_s must be a finite number > 0; got 0"),
])
def test_tracker_parameter_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GroundTracker(platform_site(), **kwargs)


def test_detection_foot_sources_are_named():
    assert (FOOT_BOTTOM, FOOT_FROM_HEAD, FOOT_UNKNOWN) == (0, 1, -1)


@pytest.mark.parametrize("colour, people", [
    ((40, 40, 160), 1),  # a person in red: a person
    ((0, 120, 255), 1),  # a person in orange (matte: blue 0): a person
    ((170, 230, 255), 0),  # the same shape in a flame's emissive colours (red saturated, blue raised): a flame
])
def test_a_flame_of_a_persons_size_is_no_person(colour, people):
    site, p = _warm_percept([(14.0, 2.0, {"colour": colour})])
    assert len(p.blobs) == 1  # foreground either way
    assert len(p.detections) == people
