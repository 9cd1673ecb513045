"""Abandoned objects on hand-built frames: a bag left by someone who walks off raises the
score past 0.5 once it has been unattended for the site's time; a bag whose owner stays does not."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from detectors.abandoned import AbandonedObjectDetector
from detectors.checks import synthetic_site
from detectors.site import SiteConfig, SiteError
from tests.scenes import draw_block, frames, run

AFTER_S = 5.0  #: [s] the site's rule in these scenes
BAG = (10.3, 4.0)  #: [m] where the bag is set down
SET_S = 4.0  #: [s] when


def _site():
    return dataclasses.replace(synthetic_site(()), abandoned_after_s=AFTER_S)


def _owner(t: float, leaves: bool) -> np.ndarray:
    """Walks from (4, 6) to beside the bag (arrives at SET_S), waits 1 s, then (if ``leaves``) walks
    off to +x at 1.4 m/s."""
    if t < SET_S:
        return np.array([4.0, 4.0]) + (np.array([9.8, 4.0]) - [4.0, 4.0]) * t / SET_S
    if not leaves or t < SET_S + 1.0:
        return np.array([9.8, 4.0])
    return np.array([9.8, 4.0]) + np.array([0.0, -1.4]) * (t - SET_S - 1.0)


def _scene(site, leaves: bool, seconds: float = 18.0):
    def draw(img, t):
        if t >= SET_S:
            draw_block(img, site, BAG, height_m=0.6, width_m=0.5, colour=(20, 60, 120))
            draw_block(img, site, BAG, height_m=0.4, width_m=0.25, colour=(60, 140, 200))  # a pocket
        draw_block(img, site, _owner(t, leaves), height_m=1.7, width_m=0.5, colour=(40, 40, 200))
    return frames(site, draw, seconds)


def test_left_bag_alerts_after_the_sites_time():
    site = _site()
    out = run(AbandonedObjectDetector(site), site, _scene(site, leaves=True))
    # the owner walks off at SET_S + 1 and is 3 m away 3 / 1.4 = 2.1 s later: abandoned from 12.1 s
    t_abandoned = SET_S + 1.0 + 3.0 / 1.4 + AFTER_S
    above = [t for t, o in out if o.score >= 0.5]
    assert above, "the left bag never scored 0.5"
    assert t_abandoned - 1.0 <= above[0] <= t_abandoned + 3.0
    t, o = next((t, o) for t, o in out if o.score >= 0.5)
    # the box is on the bag, not on the owner
    x, y, w, h = o.bbox
    bag_u = site.ground_to_image(np.array([BAG]))[0]
    assert x <= bag_u[0] <= x + w and abs((y + h) - bag_u[1]) < 6
    # graded: the score rises with the time unattended
    s = [o.score for _, o in out if o.score > 0]
    assert s[-1] > s[0] and max(s) <= 1.0


def test_bag_whose_owner_stays_is_not_abandoned():
    site = _site()
    out = run(AbandonedObjectDetector(site), site, _scene(site, leaves=False))
    assert max(o.score for _, o in out) < 0.5


def test_the_site_states_the_time():
    site = synthetic_site(())
    assert site.abandoned_after_s == 10.0
    assert SiteConfig.from_dict({**site.to_dict(), "abandoned_after_s": 30}).abandoned_after_s == 30.0
    with pytest.raises(SiteError, match="abandoned_after_s must be a number of seconds >= 0; got -1"):
        SiteConfig.from_dict({**site.to_dict(), "abandoned_after_s": -1})
    assert AbandonedObjectDetector(site, abandoned_after_s=4).abandoned_after_s == 4.0
    with pytest.raises(ValueError, match="min_height must be < max_height"):
        AbandonedObjectDetector(site, min_height=0.8, max_height=0.5)


def test_greedy_pairs_nearest_first_each_once():
    from detectors.evidence import greedy_pairs

    a = [[0.0, 0.0], [1.0, 0.0], [9.0, 9.0]]
    b = [[0.9, 0.0], [0.0, 0.3]]
    # (1, 0) at 0.1 m first, then (0, 1) at 0.3 m; the point at (9, 9) is farther than 0.5 m from all
    assert greedy_pairs(a, b, 0.5) == [(1, 0), (0, 1)]
    assert greedy_pairs(a, b, 0.2) == [(1, 0)]
    assert greedy_pairs([], b, 1.0) == []


@pytest.mark.parametrize("figure_rows, expected", [
    ((10, 20), False),  # the foreground figure is the object itself (10 rows): an object
    ((0, 20), True),  # the figure goes on 10 rows above it (20 rows, 2 > 1.5 times): the legs of a person
])
def test_a_static_part_of_a_larger_figure_is_no_object(figure_rows, expected):
    det = AbandonedObjectDetector(synthetic_site(()))
    fg_labels = np.zeros((40, 40), np.int32)
    fg_labels[figure_rows[0]:figure_rows[1], 5:15] = 7  # the long-term foreground component
    static = np.zeros((40, 40), np.int32)
    static[10:20, 5:15] = 3  # the static component, 10 x 10
    assert det._part_of_figure(fg_labels, static, 3, (5, 10, 15, 20)) is expected


def _percept_on(grey, background):
    """A stand-in percept at half resolution (2 image px per working px) with a grey frame."""
    from types import SimpleNamespace

    return SimpleNamespace(grid=SimpleNamespace(sx=2.0, sy=2.0), grey=grey, background=lambda: background)


@pytest.mark.parametrize("legs_px, expected", [
    (0, False),  # the floor under it: an object on the floor
    (4, True),  # 4 of the column's 44 working pixels changed (4 / 44 = 0.09 >= 0.05): the legs of a person
    (2, False),  # 2 / 44 = 0.045 < 0.05: noise, a shoe
])
def test_a_static_component_on_legs_is_an_upper_body(legs_px, expected):
    det = AbandonedObjectDetector(synthetic_site(()))
    background = np.full((40, 40), 100, np.uint8)
    grey = background.copy()
    # the component's image box x 20..30, y 20..30 px: working x 10..15, y 10..15; the column under it
    # is 0.8 x 10 / 2 = 4 working rows (y 15..19), twice as wide: x from floor((20 - 5) / 2) = 7 to
    # ceil((30 + 5) / 2) = 18, 11 working columns: 4 x 11 = 44 pixels
    grey[15:15 + legs_px // 2, 12:14] = 60 if legs_px else 100
    assert det._on_legs(_percept_on(grey, background), background, (20.0, 20.0, 10.0, 10.0)) is expected


def test_an_object_seen_again_keeps_what_was_seen_of_it():
    det = AbandonedObjectDetector(synthetic_site(()))
    at = np.array([[5.0, 4.0]])
    det._follow(0.0, at, [((10, 10, 8, 8), (0, 1, 0, 1, 1))])
    (ob,) = det._objects.values()
    ob["legs"], ob["looked"] = 18, 20
    det._follow(det.forget_s + 0.1, np.zeros((0, 2)), [])  # hidden longer than forget_s: forgotten
    assert det._objects == {}
    det._follow(det.forget_s + 0.2, at + [0.3, 0.0], [((10, 10, 8, 8), (0, 1, 0, 1, 1))])  # 0.3 m < match_m
    (again,) = det._objects.values()
    assert (again["legs"], again["looked"]) == (18, 20)
    det._follow(det.forget_s + 0.3, at + [5.0, 0.0], [((50, 10, 8, 8), (0, 1, 0, 1, 1))])  # elsewhere: new
    assert [(o["legs"], o["looked"]) for o in det._objects.values()] == [(18, 20), (0, 0)]


def test_the_unattended_clock_never_starts_before_the_object_was_set_down():
    det = AbandonedObjectDetector(synthetic_site(()))
    ob = {"xy": np.array([5.0, 4.0]), "box": (100.0, 100.0, 10.0, 10.0), "first": 20.0, "attended": -math.inf}
    # someone stood 1 m from it at t = 2 s, long before it turned static at 20 s: set down at the latest
    # static_delay_s = 7 s before, at 13 s, so 13 s, not 2 s, is when it was last attended
    det._people.append((2.0, np.array([[6.0, 4.0]]), np.array([[300.0, 50.0, 10.0, 30.0]])))
    assert det._last_attended(ob) == 20.0 - det.static_delay_s == 13.0
    # someone standing by after it was set down (at 16 s) attended it then
    det._people.append((16.0, np.array([[6.0, 4.0]]), np.array([[300.0, 50.0, 10.0, 30.0]])))
    assert det._last_attended(ob) == 16.0


def test_a_spot_back_as_it_was_before_is_a_ghost():
    # the long-term background had begun to absorb someone standing on a bright line (140 grey levels
    # over it now); the frame shows the line again (170), as a snapshot from before they came (168)
    from types import SimpleNamespace

    det = AbandonedObjectDetector(_site())  # static_delay_s = 7 s, seen_diff = 12 grey levels
    grey = np.full((6, 6), 170, np.uint8)
    bg_now = np.full((6, 6), 140, np.uint8)
    percept = SimpleNamespace(grey=grey, background=lambda: bg_now)
    region = np.zeros((6, 6), np.uint8)
    region[1:5, 1:5] = 1
    ob = {"region": (0, 6, 0, 6, 1), "first": 50.0}
    det._snapshots.append((20.0, np.full((6, 6), 168, np.uint8)))  # 30 s before: |170 - 168| = 2 < min(12, 30 / 2)
    assert det._seen_before(percept, ob, region)
    ob["first"] = 26.0  # the snapshot is from 6 s before it turned static, less than static_delay_s: not before
    assert not det._seen_before(percept, ob, region)
    # a bag set down on the floor: the snapshot shows the floor (120), |170 - 120| = 50 >= 12
    det._snapshots[0] = (20.0, np.full((6, 6), 120, np.uint8))
    ob["first"] = 50.0
    assert not det._seen_before(percept, ob, region)


def test_a_static_piece_under_a_changed_column_is_a_persons_legs():
    # the column above a static piece, up to an adult's head at its foot point, differs from the long-term
    # background in >= torso_share (0.3) of its pixels: someone stands there (their legs went static)
    from types import SimpleNamespace

    from detectors.perception import Perception

    site = _site()
    det = AbandonedObjectDetector(site)
    grid = Perception(site).grid
    foot = site.ground_to_image(np.array([BAG]))[0]
    adult = float(site.person_height_px(np.array([BAG]))[0])
    h = 0.35 * adult  # the legs' piece [px]
    box = (foot[0] - 5.0, foot[1] - h, 10.0, h)
    background = np.full((round(site.image_size[1] / grid.sy), round(site.image_size[0] / grid.sx)), 120, np.uint8)
    grey = background.copy()
    ob = {"box": box, "xy": np.array(BAG)}
    percept = SimpleNamespace(grey=grey, grid=grid)
    assert not det._under_torso(percept, background, ob)  # the wall behind, unchanged
    # a torso over the whole column (x - w/2 to x + 1.5 w, from the piece's top up by adult - h), 60 levels
    # brighter than the background
    x0, x1 = int((box[0] - 5.0) / grid.sx), int(math.ceil((box[0] + 15.0) / grid.sx))
    y0, y1 = int((box[1] - (adult - h)) / grid.sy), int(math.ceil(box[1] / grid.sy))
    grey[y0:y1, x0:x1] = 180
    assert det._under_torso(percept, background, ob)
    # someone walking behind covers a quarter of the column's width: 0.25 < 0.3
    grey[:] = background
    grey[y0:y1, x0:x0 + (x1 - x0) // 4] = 180
    assert not det._under_torso(percept, background, ob)


def test_a_stranger_waiting_two_metres_off_does_not_attend_a_left_bag():
    # the owner sets the bag down and walks off as in the scene above; a stranger stands still 2 m to the
    # side of the bag from 3 s to the end (farther than beside_m = 1 m, nearer than attended_m = 3 m): the
    # bag is abandoned as its owner has been 3 m away for the site's time all the same
    site = _site()
    stranger = (BAG[0] + 2.0, BAG[1])

    def draw(img, t):
        if t >= SET_S:
            draw_block(img, site, BAG, height_m=0.6, width_m=0.5, colour=(20, 60, 120))
            draw_block(img, site, BAG, height_m=0.4, width_m=0.25, colour=(60, 140, 200))
        if t >= 3.0:
            draw_block(img, site, stranger, height_m=1.7, width_m=0.5, colour=(200, 120, 40))
        draw_block(img, site, _owner(t, True), height_m=1.7, width_m=0.5, colour=(40, 40, 200))

    out = run(AbandonedObjectDetector(site), site, frames(site, draw, 18.0))
    t_abandoned = SET_S + 1.0 + 3.0 / 1.4 + AFTER_S
    above = [t for t, o in out if o.score >= 0.5]
    assert above, "the bag left beside a stranger never scored 0.5"
    assert t_abandoned - 1.0 <= above[0] <= t_abandoned + 3.0


def test_the_owners_clock_starts_as_they_leave_attended_m():
    det = AbandonedObjectDetector(synthetic_site(()))  # attended_m = 3 m, exit_mps = 1.5 m/s, beside_m = 1 m
    ob = {"xy": np.array([5.0, 4.0]), "box": (100.0, 100.0, 10.0, 10.0), "first": 20.0, "attended": -math.inf,
          "stopped": {7}, "came": 12.0}
    no_box = np.zeros((0, 4))
    # track 7 (who set it down) walks off: 0.5 m away at 14 s, 2.7 m at 16 s, 4 m at 17 s
    for t, d in ((14.0, 0.5), (16.0, 2.7), (17.0, 4.0)):
        det._passing.append((t, np.array([7]), np.array([[5.0 + d, 4.0]]), np.array([False])))
        det._people.append((t, np.zeros((0, 2)), no_box))
    # last seen 2.7 m off at 16 s: out of 3 m (0.3 / 1.5 =) 0.2 s later
    assert det._last_attended(ob) == pytest.approx(16.0 + 0.3 / 1.5)
    # a stranger standing 2 m from it at 18 s does not attend it; one standing 0.8 m from it does
    det._passing.append((18.0, np.array([9]), np.array([[7.0, 4.0]]), np.array([True])))
    det._people.append((18.0, np.array([[7.0, 4.0]]), np.array([[300.0, 50.0, 10.0, 30.0]])))
    assert det._last_attended(ob) == pytest.approx(16.2)
    det._passing.append((19.0, np.array([9]), np.array([[5.8, 4.0]]), np.array([True])))
    det._people.append((19.0, np.array([[5.8, 4.0]]), np.array([[300.0, 50.0, 10.0, 30.0]])))
    assert det._last_attended(ob) == 19.0


def test_who_set_it_down_is_who_stopped_nearest():
    # place_m 1.5 m, stop_s 0.5 s (5 frames), owner_margin_m 0.4 m, and here owner_window_s 2 s
    det = AbandonedObjectDetector(synthetic_site(()), owner_window_s=2.0)
    ob = {"xy": np.array([5.0, 4.0]), "first": 10.0}
    # track 1 stops 0.4 m from it for 1 s, track 2 stops 1.2 m from it for 1 s (0.8 m farther: a stranger),
    # track 3 is slowed for 2 frames 0.3 m from it (a passer-by), track 4 walks by 0.2 m from it
    for k in range(10):
        t = 5.0 + 0.1 * k
        det._passing.append((t, np.array([1, 2, 3, 4]), np.array([[5.4, 4.0], [5.0, 5.2], [5.3, 4.0], [5.2, 4.0]]),
                             np.array([True, True, k < 2, False])))
    # track 5 stops 0.2 m from it for 1 s, but 3 s after track 1 did (owner_window_s = 2 s): it came to a
    # bag already there
    for k in range(10):
        det._passing.append((8.0 + 0.1 * k, np.array([5]), np.array([[5.2, 4.0]]), np.array([True])))
    assert det._brought(ob)
    assert ob["stopped"] == {1} and set(ob["owners"]) == {1, 2, 3, 4, 5} and ob["came"] == 5.0


def test_a_spot_that_looks_like_the_floor_around_it_is_a_ghost():
    from types import SimpleNamespace

    det = AbandonedObjectDetector(_site())  # ring_px = 3, ring_diff = 10 grey levels
    labels = np.zeros((20, 20), np.int32)
    labels[8:12, 8:12] = 1
    det._labels = labels
    floor = np.full((20, 20), 100, np.uint8)
    bg = floor.copy()
    bg[8:12, 8:12] = 40  # the long-term background had begun to take in someone dark standing there
    ob = {"region": (6, 14, 6, 14, 1)}
    fg = np.zeros((20, 20), np.uint8)
    # the floor shows again: |104 - 100| = 4 < min(10, |40 - 100| / 2 = 30)
    grey = floor.copy()
    grey[8:12, 8:12] = 104
    assert det._blends_in(SimpleNamespace(grey=grey, background=lambda: bg, fg_mask=fg), ob)
    # a dark bag there: |40 - 100| = 60 >= 10
    grey[8:12, 8:12] = 40
    assert not det._blends_in(SimpleNamespace(grey=grey, background=lambda: bg, fg_mask=fg), ob)
    # a bag of about the floor's grey, set down on the floor (the background under it is the floor): 4 >= 0
    grey[8:12, 8:12] = 104
    assert not det._blends_in(SimpleNamespace(grey=grey, background=lambda: floor, fg_mask=fg), ob)
    # people all round it: no floor to compare with
    fg[:] = 255
    assert not det._blends_in(SimpleNamespace(grey=grey, background=lambda: bg, fg_mask=fg), ob)


def _silhouette_object(det, mask):
    """An object whose static component is ``mask`` (working px, half an image px each: a fine grid, so that
    the synthetic site's small adult spans enough rows) at BAG, and a stand-in percept."""
    from types import SimpleNamespace

    labels = np.zeros((mask.shape[0] + 4, mask.shape[1] + 4), np.int32)
    labels[2:-2, 2:-2][mask] = 5
    det._labels = labels
    ob = {"xy": np.array(BAG), "region": (0, labels.shape[0], 0, labels.shape[1], 5)}
    return SimpleNamespace(grid=SimpleNamespace(sx=0.5, sy=0.5)), ob


@pytest.mark.parametrize("shape, seated", [
    ("seated", True),  # a head 0.14 wide on shoulders 0.55 wide (of the adult height): 0.55 >= 2 x 0.14
    ("suitcase", False),  # 0.4 wide from its top row on (0.4 > head_width 0.2)
    ("handle", False),  # a one-pixel handle bar above a suitcase: narrower than head_min_width 0.07
    ("bag", False),  # 0.18 wide and as wide below (0.18 < 2 x 0.18)
])
def test_a_head_on_shoulders_is_a_person_sitting(shape, seated):
    det = AbandonedObjectDetector(_site())
    adult = float(det.site.person_height_px(np.array([BAG]))[0]) / 0.5  # [working px]
    assert adult > 30  # enough rows for these shapes

    def w(f):
        return max(1, int(round(f * adult)))

    mask = np.zeros((w(0.7), w(0.7)), bool)
    mid = mask.shape[1] // 2
    if shape == "seated":
        mask[:w(0.12), mid - w(0.07):mid + w(0.07)] = True  # the head
        mask[w(0.12):w(0.6), mid - w(0.27):mid + w(0.28)] = True  # shoulders, torso, the lap
    elif shape == "suitcase":
        mask[:w(0.55), mid - w(0.2):mid + w(0.2)] = True
    elif shape == "handle":
        mask[:w(0.15), mid] = True  # one bar
        mask[w(0.15):w(0.6), mid - w(0.2):mid + w(0.2)] = True
    else:
        mask[:w(0.35), mid - w(0.09):mid + w(0.09)] = True
    percept, ob = _silhouette_object(det, mask)
    assert det._head_on_top(percept, ob) is seated
    assert AbandonedObjectDetector(_site(), head_width=0.0)._head_on_top(percept, ob) is False  # the test off


def test_an_owner_whose_own_track_shrank_onto_the_object_sat_down_there():
    det = AbandonedObjectDetector(_site())
    ob = {"box": (100.0, 100.0, 40.0, 36.0)}
    # track 3 (the owner), last person-shaped at 10 s: at 11 s its box is the object's, grown by 4 px in width:
    # IoU 40 x 36 / (44 x 36) = 0.91 >= sitter_iou 0.5
    det._shapes.append((9.0, np.array([3]), np.array([[96.0, 40.0, 44.0, 96.0]])))  # standing, before
    det._shapes.append((11.0, np.array([3, 4]), np.array([[98.0, 100.0, 44.0, 36.0], [300.0, 50.0, 20.0, 60.0]])))
    assert det._became(ob, 3, 10.0)
    assert not det._became(ob, 4, 10.0)  # elsewhere
    # the same owner standing beside it holds it in a box 44 x 96: IoU 40 x 36 / (44 x 96) = 0.34 < 0.5
    stand = AbandonedObjectDetector(_site())
    stand._shapes.append((11.0, np.array([3]), np.array([[96.0, 40.0, 44.0, 96.0]])))
    assert 40 * 36 / (44 * 96) < stand.sitter_iou and not stand._became(ob, 3, 10.0)


@pytest.mark.parametrize("heights, became", [
    ((96.0, 80.0, 64.0, 50.0, 36.0), True),  # sitting down: 96 -> 36 px over 0.4 s, at most 1.3 times a frame
    ((96.0, 96.0, 96.0, 96.0, 36.0), False),  # 96 -> 36 px in one frame (2.7 >= sitter_drop 2): the tracker left
    ((96.0, 96.0, 96.0, 70.0, 36.0), True),  # 70 -> 36 px in one frame: 1.9 < 2, followed down
])
def test_a_track_that_drops_onto_the_object_in_one_frame_left_its_owner_for_the_bag(heights, became):
    """The owner's track, last person-shaped at 10 s, over five frames at 10 fps (10.1 to 10.5 s) ending
    on the object's box (IoU 40 x 36 / (44 x 36) = 0.91): a person sitting down shrinks onto it over
    frames; a box that drops onto it from ``sitter_drop`` times its height in one frame is the tracker
    leaving an owner who walks off for the bag set down at their feet."""
    det = AbandonedObjectDetector(_site())
    assert det.site.fps == 10.0 and det.sitter_drop == 2.0
    ob = {"box": (100.0, 100.0, 40.0, 36.0)}
    for k, h in enumerate(heights):
        det._shapes.append((10.1 + 0.1 * k, np.array([3]), np.array([[98.0, 136.0 - h, 44.0, h]])))
    assert det._became(ob, 3, 10.0) is became
    with pytest.raises(ValueError, match="sitter_drop must be a finite number > 1; got 1.0"):
        AbandonedObjectDetector(_site(), sitter_drop=1.0)


def test_a_spot_with_the_floors_colour_in_the_frame_is_a_ghost():
    # the long-term background took in, slowly, the colour of someone who waited there (its chroma only: its
    # grey is the floor's, so the grey tests see nothing); the frame shows the floor: no object
    from types import SimpleNamespace

    det = AbandonedObjectDetector(_site())  # ring_px = 3, floor_colour_diff = 6 grey levels per channel
    labels = np.zeros((20, 20), np.int32)
    labels[8:12, 8:12] = 1
    det._labels = labels
    ob = {"region": (6, 14, 6, 14, 1)}
    fg = np.zeros((20, 20), np.uint8)
    small = np.full((20, 20, 3), (150, 152, 149), np.uint8)  # the floor, BGR
    small[8:12, 8:12] = (153, 150, 151)  # inside: within 3 levels of the ring in every channel
    assert det._floor_coloured(SimpleNamespace(small=small, fg_mask=fg), ob)
    # a suitcase as grey as the floor but bluer: |190 - 150| = 40 >= 6 in the blue channel
    small[8:12, 8:12] = (190, 150, 145)
    assert not det._floor_coloured(SimpleNamespace(small=small, fg_mask=fg), ob)
    # the test off
    small[8:12, 8:12] = (153, 150, 151)
    off = AbandonedObjectDetector(_site(), floor_colour_diff=0.0)
    off._labels = labels
    assert not off._floor_coloured(SimpleNamespace(small=small, fg_mask=fg), ob)
    # people all round it: no floor to compare with
    fg[:] = 255
    assert not det._floor_coloured(SimpleNamespace(small=small, fg_mask=fg), ob)
    with pytest.raises(ValueError, match="floor_colour_diff must be in"):
        AbandonedObjectDetector(_site(), floor_colour_diff=-1.0)


def test_an_owner_risen_under_a_new_track_who_walked_off_left_the_object():
    """The owner's track (1) stops 0.5 m from the bag (5.0 to 5.5 s) and ends there, slow; a new track (2)
    rises on them 0.8 m from it at 5.6 s and walks off under it, 4 m away at 7 s; the bag turns static at
    10 s. Track 2 becomes an owner as it rose where track 1 ended: what the memory holds of it says it walked
    off (the bag was left), not that it was last seen slow by the bag at 10 s (it sat down there)."""
    det = AbandonedObjectDetector(_site())  # place_m 1.5, attended_m 3, stop_s 0.5 s (5 frames), sat_s 3 s
    bag = np.array([5.0, 4.0])
    for k in range(6):
        det._passing.append((5.0 + 0.1 * k, np.array([1]), np.array([[5.5, 4.0]]), np.array([True])))
    det._passing.append((5.6, np.array([2]), np.array([[5.8, 4.0]]), np.array([False])))
    det._passing.append((6.3, np.array([2]), np.array([[7.0, 4.0]]), np.array([False])))
    det._passing.append((7.0, np.array([2]), np.array([[9.0, 4.0]]), np.array([False])))  # 4 m > attended_m
    det._born = {1: [4.0, 5.5], 2: [5.6, 7.0]}
    ob = {"xy": bag.copy(), "first": 10.0, "box": (100.0, 100.0, 10.0, 10.0), "attended": -math.inf}
    assert det._brought(ob) and ob["stopped"] == {1}
    det._left(ob, 10.0)
    assert ob["stopped"] == {1, 2} and ob["resolved"] == {1}
    assert ob["owner_last"][2] == (7.0, False)  # last seen walking, 4 m off
    assert ob["left"] is True
    for t in (11.0, 12.0, 13.0, 14.0):
        det._left(ob, t)
    assert not ob.get("sat")  # nobody sat down there
