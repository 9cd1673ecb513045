"""Vehicles on a forbidden zone's floor: found once per frame, and a zone cleared only once the floor
the vehicle was seen on is empty again."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from detectors.perception import Blobs
from detectors.vehicles import VehicleWatch, beyond_zone, camera_nadir_m, vehicle_blobs
from tests.helpers import TRACKS, platform_site

# a 10 x 100 working-pixel image whose rows 0..9, all of it, are the zone's floor polygon in the image
# (1000 px); a camera sees only columns 0..19 of it (200 px, a corridor's mouth): the rest is hidden
FLOOR = np.ones((10, 100), bool)


def _percept(t, fg_cols, vehicle_cols=None, bright_cols=()):
    """A percept whose foreground covers ``fg_cols`` of the floor, the ``vehicle_cols`` part of it one
    component of 200 px where one person is 10 px²: 20 persons, all on the floor (a vehicle); the floor
    is grey level 50, 200 at ``bright_cols`` (a light train's side)."""
    grey = np.full(FLOOR.shape, 50, np.uint8)
    grey[:, bright_cols] = 200
    fg = np.zeros(FLOOR.shape, np.uint8)
    labels = np.zeros(FLOOR.shape, np.int32)
    fg[:, fg_cols] = 255
    if vehicle_cols is None:
        blobs = Blobs.empty()
    else:
        labels[:, vehicle_cols] = 1
        area = float(np.count_nonzero(labels))
        blobs = Blobs(bbox=np.array([[0.0, 0.0, 20.0, 10.0]]), area_px=np.array([area]),
                      foot_px=np.array([[10.0, 10.0]]), foot_m=np.array([[5.0, -2.0]]),
                      expected_area_px=np.array([10.0]), label=np.array([1], np.int32))
    grid = SimpleNamespace(zone_mask=lambda zone: FLOOR, sx=1.0, sy=1.0)
    memo: dict = {}  # Percept.memo: one answer per frame and key
    return SimpleNamespace(t=t, fg_mask=fg, labels=labels, blobs=blobs, grid=grid, grey=grey, lighting_gain=1.0,
                           memo=lambda key, compute: memo[key] if key in memo else memo.setdefault(key, compute()))


def test_a_zone_is_cleared_by_the_floor_its_vehicle_covered_not_by_the_whole_polygon():
    # a vehicle covers the 200 visible floor pixels (cover 200 / 1000 = 0.2, under cover = 0.25: entered by
    # its component); once it left, a ghost holds 40 of them: 40 / 1000 = 0.04 of the polygon, under
    # clear = 0.06, but 40 / 200 = 0.2 of the floor the vehicle was seen on: still occupied; then 5 px
    # (5 / 200 = 0.025): clear, and occupied no more hold_s = 2 s later
    watch = VehicleWatch([TRACKS], cover=0.25, clear=0.06, hold_s=2.0, max_hold_s=60.0)
    occupied = [watch.update(_percept(0.0, slice(0, 20), slice(0, 20)))[0]]
    assert watch.floor_cover[0] == pytest.approx(200 / 1000) and watch.seen_cover[0] == pytest.approx(1.0)
    for k in range(1, 31):  # 3 s of the ghost at 10 frames/s
        occupied.append(watch.update(_percept(k / 10, slice(0, 4)))[0])
    assert watch.floor_cover[0] == pytest.approx(40 / 1000) and watch.seen_cover[0] == pytest.approx(40 / 200)
    for k in range(31, 61):  # 3 s of 5 px of it
        occupied.append(watch.update(_percept(k / 10, slice(0, 1) if k % 2 else []))[0])
    assert all(occupied[:31])
    got = [bool(o) for o in occupied[31:]]
    # dirty last at 3.0 s (the ghost's last frame); from 3.1 s on 5 px or none, under clear: free after 5.0 s
    assert got == [True] * 20 + [False] * 10


def test_a_vehicle_the_background_learned_still_occupies_the_floor_it_darkens_or_lights():
    # the floor (grey 50) is seen empty first; a light train (200) stands on the visible strip: a vehicle
    # component at first, then learned by the background (no foreground at all) while it still stands:
    # 200 px of the 200-px footprint differ from the empty floor by 150 > empty_tol = 40: occupied; it
    # leaves (the strip is 50 again, no foreground): clear, free hold_s = 1 s later
    watch = VehicleWatch([TRACKS], cover=0.25, clear=0.06, hold_s=1.0, max_hold_s=60.0, empty_tol=40.0)
    assert not watch.update(_percept(0.0, []))[0]
    assert watch.update(_percept(0.1, slice(0, 20), slice(0, 20), bright_cols=slice(0, 20)))[0]
    standing = [watch.update(_percept(0.1 + k / 10, [], bright_cols=slice(0, 20)))[0] for k in range(1, 51)]
    assert all(standing) and watch.floor_cover[0] == 0.0 and watch.seen_cover[0] == pytest.approx(200 / 200)
    gone = [bool(watch.update(_percept(5.1 + k / 10, []))[0]) for k in range(1, 16)]
    # dirty last at 5.1 s (the train's last frame): occupied while t - 5.1 <= 1.0, to 6.1 s
    assert gone == [True] * 10 + [False] * 5


def test_without_a_vehicle_component_the_whole_floor_decides():
    # a zone entered by its floor cover alone (no vehicle component seen) clears on the whole polygon's share
    watch = VehicleWatch([TRACKS], cover=0.25, clear=0.06, hold_s=0.0, max_hold_s=60.0)
    assert watch.update(_percept(0.0, slice(0, 30)))[0]  # 300 / 1000 = 0.3 >= cover
    assert not watch.update(_percept(0.1, slice(0, 4)))[0]  # 40 / 1000 = 0.04 < clear
    assert watch.seen_cover[0] == pytest.approx(0.04)


def test_vehicle_blobs_are_found_once_per_frame():
    p = _percept(0.0, slice(0, 20), slice(0, 20))
    first = vehicle_blobs(p, (TRACKS,))
    assert first[0].tolist() == [0] and first[1].tolist() == [True]
    assert vehicle_blobs(p, (TRACKS,)) is first  # a second detector asking for this frame's vehicles
    assert not first[0].flags.writeable and not first[1].flags.writeable
    # other constants, or the next frame: looked for again
    assert vehicle_blobs(p, (TRACKS,), min_persons=30.0)[0].tolist() == []  # 200 px = 20 persons < 30
    assert vehicle_blobs(_percept(0.1, slice(0, 20), slice(0, 20)), (TRACKS,)) is not first


def test_vehicle_watch_parameter_errors():
    with pytest.raises(ValueError, match=r"VehicleWatch.min_footprint_px must be a finite number >= 0; got -1"):
        VehicleWatch([TRACKS], min_footprint_px=-1)


def test_points_beyond_a_zone_as_seen_from_the_camera():
    # the test camera stands above (16, 11); the track bed TRACKS spans y = -4.5..0 for x = 0..32
    nadir = camera_nadir_m(platform_site())
    assert nadir == pytest.approx([16.0, 11.0])
    points = np.array([[16.0, 2.0],  # on the platform, before the track bed: no
                       [16.0, -2.0],  # on it
                       [16.0, -8.0],  # behind it (the wall, where a train's roof maps): yes
                       [40.0, 5.0],  # to the side, the segment from (16, 11) stays at y > 0: no
                       [np.nan, np.nan]])
    assert beyond_zone(TRACKS, nadir, points).tolist() == [False, True, True, False, False]
