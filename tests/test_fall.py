"""Person on the ground on hand-built frames: a walker who drops to a body lying on the floor scores
0.5 within 3 s of the fall; one who crouches (keeps 0.6 of their height) does not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from detectors.checks import synthetic_site
from detectors.fall import PersonOnGroundDetector
from tests.scenes import draw_block, draw_lying, floor, frames, project, run


def _changed(grey, background):
    """A stand-in percept's :meth:`~detectors.perception.Percept.changed`."""
    return lambda diff: cv2.absdiff(grey, background) > diff


FALL_S = 5.0  #: [s] when the walker goes down
AT = np.array([10.0, 4.0])  #: [m] where


def _walk_in(img, site, t):
    """The walker before the fall: 1.7 m tall, walking in along +x at 1.2 m/s to reach AT at FALL_S."""
    draw_block(img, site, AT + np.array([-1.2 * (FALL_S - t), 0.0]), height_m=1.7, width_m=0.5, colour=(40, 40, 200))


def _scene(site, *, down_height_m: float | None):
    def draw(img, t):
        if t < FALL_S:
            _walk_in(img, site, t)
        elif down_height_m is None:
            draw_lying(img, site, AT + [0.85, 0.0], colour=(40, 40, 200))
        else:
            draw_block(img, site, AT, height_m=down_height_m, width_m=0.55, colour=(40, 40, 200))
    return frames(site, draw, FALL_S + 6.0)


def test_fall_then_lying_scores_within_3_s():
    site = synthetic_site(())
    out = run(PersonOnGroundDetector(site), site, _scene(site, down_height_m=None))
    assert max(o.score for t, o in out if t < FALL_S) == 0.0
    above = [t for t, o in out if o.score >= 0.5]
    assert above and FALL_S <= above[0] <= FALL_S + 3.0
    t, o = next((t, o) for t, o in out if o.score >= 0.5)
    x, y, w, h = o.bbox
    body = site.ground_to_image(np.array([AT + [0.85, 0.0]]))[0]
    assert x - 4 <= body[0] <= x + w + 4 and w >= h  # on the body, lying


def test_a_body_in_two_pieces_is_one_instance():
    # the people finder may split a lying body (torso and legs of different colours, a gap between)
    site = synthetic_site(())

    def draw(img, t):
        if t < FALL_S:
            _walk_in(img, site, t)
        else:
            draw_lying(img, site, AT + [-0.6, 0.0], length_m=0.7, colour=(40, 40, 200))
            draw_lying(img, site, AT + [0.6, 0.0], length_m=0.7, colour=(200, 60, 40))
    out = run(PersonOnGroundDetector(site), site, frames(site, draw, FALL_S + 6.0))
    keys = {i.key for _, o in out for i in o.instances if i.score >= 0.5}
    assert len(keys) == 1, keys


@pytest.mark.parametrize("height_m", [1.0, 1.2])  # crouching, sitting on the floor
def test_crouching_is_no_fall(height_m):
    site = synthetic_site(())
    out = run(PersonOnGroundDetector(site), site, _scene(site, down_height_m=height_m))
    assert max(o.score for _, o in out) < 0.5


def test_parameters_are_checked():
    with pytest.raises(ValueError, match="lying_height must be < upright_height"):
        PersonOnGroundDetector(synthetic_site(()), lying_height=0.8, upright_height=0.7)


def test_vehicle_memory_covers_the_track_bed_and_its_edge_for_a_while():
    from detectors.site import Zone, ZoneKind
    from detectors.vehicles import VehicleMemory

    tracks = Zone(name="tracks", kind=ZoneKind.FORBIDDEN, polygon_m=[[0, -3], [40, -3], [40, 0], [0, 0]])
    memory = VehicleMemory([tracks], memory_s=30.0, margin_m=1.0)
    points = np.array([[5.0, -1.0], [5.0, 0.5], [5.0, 1.5], [np.nan, np.nan]])  # on it, 0.5 m and 1.5 m off
    memory.saw(0.0, np.array([False]))
    assert memory.near(points).tolist() == [False, False, False, False]  # no train yet
    memory.saw(10.0, np.array([True]))  # a train stands there
    memory.saw(39.0, np.array([False]))  # it left 29 s ago
    assert memory.near(points).tolist() == [True, True, False, False]
    memory.saw(40.5, np.array([False]))  # 30.5 s ago: forgotten
    assert memory.near(points).tolist() == [False, False, False, False]


@pytest.mark.parametrize("legs_rows, expected", [
    (0, False),  # the floor under the box: a body lying on it
    (3, True),  # 3 of the column's 6 rows changed (0.5 >= 0.25): the legs of a person standing
    (1, False),  # 1 / 6 < 0.25: a shoe, a shadow's edge
])
def test_a_low_box_on_legs_is_a_part_of_someone_standing(legs_rows, expected):
    from types import SimpleNamespace

    det = PersonOnGroundDetector(synthetic_site(()))
    background = np.full((40, 40), 100, np.uint8)
    grey = background.copy()
    # the box x 20..40, y 20..30 image px is x 10..20, y 10..15 working px (2 px each); the column under it
    # is 0.3 x 40 px adult = 12 px = 6 working rows (y 15..21), 10 columns wide
    grey[15:15 + legs_rows, 10:20] = 70
    percept = SimpleNamespace(grid=SimpleNamespace(sx=2.0, sy=2.0), grey=grey, background=lambda: background,
                              changed=_changed(grey, background))
    assert det._on_legs(percept, (20.0, 20.0, 20.0, 10.0), 40.0) is expected


def _walk_then(site, after):
    """Frames: a walker comes in along +x at 1.2 m/s to ``AT`` by ``FALL_S``, then ``after(img, t)`` is drawn."""
    def draw(img, t):
        if t < FALL_S:
            _walk_in(img, site, t)
        else:
            after(img, t)
    return frames(site, draw, FALL_S + 6.0)


def test_a_body_merged_with_someone_standing_at_its_end_is_found():
    # the body and a person who came to stand at its feet a second before the fall are one foreground
    # blob, which the people finder cuts into person-wide parts (low pieces of the body, each squarer than a
    # body, and the standing person): the pieces of the blob joined, or its low columns, are the body
    site = synthetic_site(())
    stand = AT + [1.95, 0.0]  # 0.25 m wide on each side: touches the body's end at AT + 1.7 m

    def draw(img, t):
        # the second person walks in along -x at 1.2 m/s and stops at ``stand`` at FALL_S - 1
        draw_block(img, site, stand + [max(0.0, 1.2 * (FALL_S - 1.0 - t)), 0.0], height_m=1.7, width_m=0.5,
                   colour=(40, 40, 200))
        if t < FALL_S:
            _walk_in(img, site, t)
        else:
            draw_lying(img, site, AT + [0.85, 0.0], colour=(40, 40, 200))
    out = run(PersonOnGroundDetector(site), site, frames(site, draw, FALL_S + 6.0))
    hits = [(t, o) for t, o in out if o.score >= 0.5]
    assert hits and FALL_S <= hits[0][0] <= FALL_S + 3.0
    x, y, w, h = hits[0][1].bbox
    head, feet = site.ground_to_image(np.array([AT, AT + [1.7, 0.0]]))[:, 0]  # the body's ends in the image
    assert x <= head + 2 and x + w >= 0.5 * (head + feet)  # over the body, past its middle


def test_a_low_piece_that_moves_on_is_no_body():
    # a walker whose upper body the background absorbs leaves a low, wide piece that walks on at 1.2 m/s:
    # low enough for a body, but it moves (0.5 m in 0.4 s), which a body on the floor does not
    site = synthetic_site(())

    def after(img, t):
        draw_block(img, site, AT + np.array([1.2 * (t - FALL_S), 0.0]), height_m=0.45, width_m=1.4,
                   colour=(40, 40, 200))
    scene = _walk_then(site, after)
    moving = run(PersonOnGroundDetector(site, still_m=1e9), site, scene)  # stillness not asked: taken for a body
    assert max(o.score for _, o in moving) >= 0.5
    out = run(PersonOnGroundDetector(site), site, scene)
    assert max(o.score for _, o in out) < 0.5


def test_no_body_is_judged_below_the_resolution_floor():
    # the walker who fell lies where an adult is ``adult`` working pixels high: a floor one pixel above that
    # declines to judge there, one pixel below it finds the body as the default does
    site = synthetic_site(())
    adult = float(site.person_height_px(np.array([AT + [0.85, 0.0]]))[0])  # working px (320 px wide: 1 to 1)
    scene = _scene(site, down_height_m=None)
    below = run(PersonOnGroundDetector(site, min_adult_px=adult + 1.0), site, scene)
    above = run(PersonOnGroundDetector(site, min_adult_px=adult - 1.0), site, scene)
    assert max(o.score for _, o in below) == 0.0
    assert max(o.score for _, o in above) >= 0.5


def test_a_body_seen_only_now_and_then_at_first_is_no_body():
    # a low box seen in 2 frames of 5 for its first 6 s (the torso of someone sitting on a bench, flickering
    # in and out of the foreground), then steadily: its share of frames seen passes min_seen (0.6) only
    # after about (0.6 - 0.4) * 6 / (1 - 0.6) = 3 s more, 9 s after it appeared, past confirm_s (4 s)
    site = synthetic_site(())

    def after(img, t):
        k = int(round(t * site.fps))
        if t >= FALL_S + 6.0 or k % 5 < 2:
            draw_lying(img, site, AT + [0.85, 0.0], colour=(40, 40, 200))

    def draw(img, t):
        if t < FALL_S:
            _walk_in(img, site, t)
        else:
            after(img, t)
    scene = frames(site, draw, FALL_S + 14.0)
    late = run(PersonOnGroundDetector(site, confirm_s=1e9), site, scene)
    t_late = [t for t, o in late if o.score >= 0.5]
    assert t_late and t_late[0] >= FALL_S + 6.0  # taken for a body, once seen steadily long enough
    out = run(PersonOnGroundDetector(site), site, scene)
    assert max(o.score for _, o in out) < 0.5


@pytest.mark.parametrize("length_m, found", [(1.7, True), (0.5, False)])
def test_a_low_thing_shorter_than_a_body_is_none(length_m, found):
    # the walker goes down and a low box lies where they were: a body 1.7 m long, or a thing 0.5 m long
    # (shorter than min_length_m = 0.7 m even with its top read 0.3 m above the floor: a bag, a head)
    site = synthetic_site(())

    def draw(img, t):
        if t < FALL_S:
            _walk_in(img, site, t)
        else:
            draw_lying(img, site, AT + [0.25, 0.0], length_m=length_m, thick_m=0.2, colour=(40, 40, 200))
    out = run(PersonOnGroundDetector(site, min_aspect=1.0, min_width=0.1), site, frames(site, draw, FALL_S + 6.0))
    assert (max(o.score for _, o in out) >= 0.5) is found



def _shadow_like(img, base, x0, x1, y0, y1):
    """Paint image rows ``y0:y1``, columns ``x0:x1`` as the floor ``base`` darkened to 0.8 of its brightness,
    its colour kept: clothes the background's shadow test clears from the foreground (30 to 35 grey levels
    darker than the tiles, more than ``legs_diff``)."""
    img[y0:y1, x0:x1] = 0.8 * base[y0:y1, x0:x1]


def _walker(img, site, base, t, *, trousers: bool):
    """The walker of ``_walk_in``, its lower half painted shadow-like where ``trousers``."""
    xy = AT + np.array([-1.2 * (FALL_S - t), 0.0])
    fu, fv = project(site, (*xy, 0.0))
    hu, hv = project(site, (*xy, 1.7))
    half = max(1.0, 0.5 * 0.5 / 1.7 * (fv - hv))
    x0, x1, top, feet = int(round(fu - half)), int(round(fu + half)), int(round(hv)), int(round(fv))
    img[top:feet, x0:x1] = (40, 40, 200)
    if trousers:
        _shadow_like(img, base, x0, x1, (top + feet) // 2, feet)


def _body_box(site, x0_m: float, x1_m: float, *, width_m: float = 0.45, thick_m: float = 0.3):
    """(x0, y0, x1, y1) [px] the image box of a body's part lying along +x from ``AT[0] + x0_m`` to
    ``AT[0] + x1_m`` [m], ``width_m`` wide on the floor and ``thick_m`` thick."""
    corners = [project(site, (AT[0] + x, AT[1] + dy, z)) for x in (x0_m, x1_m) for dy in (-width_m / 2, width_m / 2)
               for z in (0.0, thick_m)]
    (x0, y0), (x1, y1) = np.min(corners, axis=0), np.max(corners, axis=0)
    return int(round(x0)), int(round(y0)), int(round(x1)) + 1, int(round(y1)) + 1


def _half_seen_body(img, site, base, *, seen_m: float = 0.7):
    """A body lying along +x from ``AT``, 1.7 m long, whose first ``seen_m`` (head and torso) differs from
    the floor as foreground; its legs are painted shadow-like."""
    x0, y0, x1, y1 = _body_box(site, 0.0, seen_m)
    img[y0:y1, x0:x1] = (40, 40, 200)
    _, l0, l1, l2 = _body_box(site, seen_m, 1.7)
    _shadow_like(img, base, x1, l1, l0, l2)  # the legs beyond the torso's box


def test_a_walker_whose_trousers_look_like_a_shadow_stood_before_the_fall():
    # the walker's legs are the floor darkened, its colour kept: the shadow test clears them from the
    # foreground and the walker's box ends at the hip (half the adult height, below upright_height 0.75);
    # the column under the box, changed from the floor down to the feet, makes them a person standing
    site = synthetic_site(())
    base = floor(site)

    def draw(img, t):
        if t < FALL_S:
            _walker(img, site, base, t, trousers=True)
        else:
            draw_lying(img, site, AT + [0.85, 0.0], colour=(40, 40, 200))
    scene = frames(site, draw, FALL_S + 6.0)
    out = run(PersonOnGroundDetector(site), site, scene)
    hits = [t for t, o in out if o.score >= 0.5]
    assert hits and FALL_S <= hits[0] <= FALL_S + 3.0
    # the trousers asked to differ from the floor by more than they do (45 > 35 grey levels): the walker
    # never stood, and no fall is seen
    never_stood = run(PersonOnGroundDetector(site, legs_diff=45.0), site, scene)
    assert max(o.score for _, o in never_stood) < 0.5


def test_a_body_half_seen_is_the_walkers_track_sunk_to_the_floor():
    # the walker drops to a body whose legs the shadow test clears: the foreground shows its first 0.7 m, a
    # box less than twice as wide as high (no body to the wide-body rule, min_aspect 2); it is the box of the
    # walker's own track, which stood upright a moment before and sank below sunk_height
    site = synthetic_site(())
    base = floor(site)
    x0, y0, x1, y1 = _body_box(site, 0.0, 0.7)
    w, h = x1 - x0, y1 - y0
    adult = float(site.person_height_px(np.array([AT]))[0])
    assert w < 2.0 * h and h <= 0.38 * adult and w >= 0.2 * adult  # square, low, and wide enough

    def draw(img, t):
        if t < FALL_S:
            _walker(img, site, base, t, trousers=False)
        else:
            _half_seen_body(img, site, base)
    scene = frames(site, draw, FALL_S + 6.0)
    out = run(PersonOnGroundDetector(site), site, scene)
    hits = [(t, o) for t, o in out if o.score >= 0.5]
    assert hits and FALL_S <= hits[0][0] <= FALL_S + 3.0
    x, _, bw, _ = hits[0][1].bbox
    assert x - 4 <= x0 <= x + bw + 4  # on the body's head end
    # a sunk track asked to be as wide as a body across the view (sunk_aspect = min_aspect): missed
    wide_only = run(PersonOnGroundDetector(site, sunk_aspect=2.0), site, scene)
    assert max(o.score for _, o in wide_only) < 0.5


def test_a_square_low_thing_nobody_sank_at_is_no_body():
    # the same half-seen body appears 3 m from the walker, who walks on upright past it: no track sank there
    site = synthetic_site(())
    base = floor(site)

    def draw(img, t):
        xy = AT + np.array([-1.2 * (FALL_S - t), 3.0])
        draw_block(img, site, xy, height_m=1.7, width_m=0.5, colour=(40, 40, 200))
        if t >= FALL_S:
            _half_seen_body(img, site, base)
    out = run(PersonOnGroundDetector(site), site, frames(site, draw, FALL_S + 6.0))
    assert max(o.score for _, o in out) < 0.5


@pytest.mark.parametrize("stoop_s, found", [
    (0.0, True),  # upright until the body appears: a fall
    (2.0, False),  # stooped (0.7 of the adult height) for 2 s first: a slow drift low, no fall (sink_s 1.5 s)
])
def test_a_sunk_track_must_have_dropped_from_standing_fast(stoop_s, found):
    # the walker of the half-seen body's test stoops to 1.2 m (0.7 of the adult height: no longer upright, not
    # yet down) ``stoop_s`` before the body appears; its last upright sighting is within drop_s (2.5 s) either
    # way, but its own box stood at least sink_from (0.8) high only 0 or 2 s before it was low
    site = synthetic_site(())
    base = floor(site)

    def draw(img, t):
        if t < FALL_S - stoop_s:  # walks in to reach AT by FALL_S - stoop_s
            draw_block(img, site, AT + np.array([-1.2 * (FALL_S - stoop_s - t), 0.0]), height_m=1.7, width_m=0.5,
                       colour=(40, 40, 200))
        elif t < FALL_S:
            draw_block(img, site, AT, height_m=1.2, width_m=0.5, colour=(40, 40, 200))
        else:
            _half_seen_body(img, site, base)
    scene = frames(site, draw, FALL_S + 6.0)
    out = run(PersonOnGroundDetector(site), site, scene)
    assert (max(o.score for _, o in out) >= 0.5) is found
    # without the drop asked for (sink_s as long as drop_s): the slow drift is taken for a fall too
    loose = run(PersonOnGroundDetector(site, sink_s=2.5), site, scene)
    assert max(o.score for _, o in loose) >= 0.5



@pytest.mark.parametrize("torso_rows, coat, lit, expected", [
    (0, 70, 0, False),  # the floor behind the box: a body lying there
    (5, 70, 0, True),  # 5 of the column's 10 rows changed (0.5 >= torso_share 0.5): someone standing whose legs it is
    (4, 70, 0, False),  # 4 / 10 < 0.5: a bystander's arm, a bag behind
    (0, 70, 15, False),  # the floor lit 15 grey levels brighter than the model (a train's headlights): no one
    (5, 255, 0, True),  # a coat as grey as the floor, in the foreground: someone standing
])
def test_a_low_box_under_someone_is_their_legs(torso_rows, coat, lit, expected):
    from types import SimpleNamespace

    det = PersonOnGroundDetector(synthetic_site(()))
    background = np.full((40, 40), 100, np.uint8)
    grey = background + np.uint8(lit)
    fg = np.zeros((40, 40), np.uint8)
    # the box x 20..40, y 20..30 image px is x 10..20, y 10..15 working px (2 px each); an adult standing at its
    # bottom edge (y 30) is 0.75 x 40 px = 30 px high up to y 0: the column above the box is y 0..20 image px,
    # working rows 0..10, 10 columns wide. The first ``torso_rows`` rows above the box are someone's coat: 30 grey
    # levels darker than the floor (over torso_diff 25), or as grey as it but in the foreground (coat 255)
    if coat == 255:
        fg[10 - torso_rows:10, 10:20] = 255
    else:
        grey[10 - torso_rows:10, 10:20] = coat
    percept = SimpleNamespace(grid=SimpleNamespace(sx=2.0, sy=2.0), grey=grey, background=lambda: background,
                              changed=_changed(grey, background),
                              fg_mask=fg)
    assert det._under_torso(percept, (20.0, 20.0, 20.0, 10.0), 40.0) is expected


@pytest.mark.parametrize("fg_rows, hollow", [
    ((0, 30), False),  # head, torso and legs in the foreground: someone standing
    ((8, 30), False),  # the head and shoulders cleared (a grey shirt), the rest seen: 12 of 20 rows
    ((24, 30), True),  # only the box's lowest rows: a low piece the box was drawn up from, nobody there
])
def test_an_upright_box_with_the_floor_in_its_upper_part_is_hollow(fg_rows, hollow):
    from types import SimpleNamespace

    det = PersonOnGroundDetector(synthetic_site(()))
    fg = np.zeros((40, 40), np.uint8)
    fg[fg_rows[0]:fg_rows[1], 10:20] = 255
    # the track's box x 20..40, y 0..60 image px: its upper two thirds are working rows 0..20, its middle half
    # columns 12..18
    tracks = SimpleNamespace(id=np.array([7]), box=np.array([[20.0, 0.0, 20.0, 60.0]]))
    percept = SimpleNamespace(grid=SimpleNamespace(sx=2.0, sy=2.0), fg_mask=fg, tracks=tracks)
    assert det._hollow(percept, np.array([True])).tolist() == [hollow]
    assert not PersonOnGroundDetector(synthetic_site(()), hollow_share=0.0)._hollow(percept, np.array([True])).any()


@pytest.mark.parametrize("head, someone_above, grown", [
    (True, False, True),  # legs, a cleared shirt, a head: one body
    (False, False, False),  # the changed columns end at the floor: a shadow (or trousers) spread from the piece
    (True, True, False),  # someone stands over the shirt's columns: theirs
])
def test_a_low_piece_grows_over_a_shirt_the_shadow_test_cleared(head, someone_above, grown):
    # a body's legs are a foreground piece (x 160..180, y 144..150 px, working pixels the image's); its shirt, 40 grey
    # levels darker than the floor, was cleared from the foreground with the shadows: columns 152..160 differ from the
    # floor in 10 of the 13 rows of the band a lying body fills (rows 137..150, 0.38 of the adult height), with the
    # floor above and below them; beyond them its head (columns 148..152) is foreground again
    from types import SimpleNamespace

    site = synthetic_site(())
    det = PersonOnGroundDetector(site)
    adult = float(site.person_height_px(site.image_to_ground(np.array([[170.0, 150.0]])))[0])
    assert 137 <= 150 - 0.38 * adult < 138 and 6 >= 0.15 * adult and 20 >= 0.2 * adult and adult >= 20
    background = np.full((180, 320), 150, np.uint8)
    grey = background.copy()
    fg = np.zeros((180, 320), np.uint8)
    grey[144:150, 160:180] = 60  # the legs
    fg[144:150, 160:180] = 255
    grey[140:150, 148:160] = 110  # the shirt, and the head at its end
    if head:
        grey[140:146, 148:152] = 200
        fg[140:146, 148:152] = 255
    if someone_above:
        grey[126:140, 148:160] = 60
    percept = SimpleNamespace(grid=SimpleNamespace(sx=1.0, sy=1.0), grey=grey, background=lambda: background,
                              changed=_changed(grey, background),
                              fg_mask=fg)
    piece = np.array([[160.0, 144.0, 20.0, 6.0]])
    out = det._grown(percept, piece, np.zeros((0, 4)))
    if grown:
        assert out.tolist() == [[148.0, 140.0, 32.0, 10.0]]  # from the head's left edge and the shirt's top row
    else:
        assert out.shape == (0, 4)
    assert not len(PersonOnGroundDetector(site, grow_width=0.0)._grown(percept, piece, np.zeros((0, 4))))


def test_a_ghost_stays_a_ghost_when_someone_walks_over_it():
    # the floor a bench sitter uncovered: the background model still holds them (a dark block with its edges),
    # the frame shows the floor; 1.5 s later a walker crosses it and the frame has the sharper edges there
    from types import SimpleNamespace

    det = PersonOnGroundDetector(synthetic_site(()))
    background = np.full((40, 40), 100, np.uint8)
    background[10:20, 10:30] = 40  # the sitter, absorbed into the background model
    fg = np.zeros((40, 40), np.uint8)
    fg[10:20, 10:30] = 255  # the uncovered floor differs from the model: foreground
    floor_now = np.full((40, 40), 100, np.uint8)
    walker = floor_now.copy()
    walker[10:20, 10:30] = 0  # a walker's dark coat over the place, its edges sharper than the model's
    box = (20.0, 20.0, 40.0, 20.0)  # x 10..30, y 10..20 working px (2 px each)

    def percept(t, grey):
        return SimpleNamespace(t=t, grid=SimpleNamespace(sx=2.0, sy=2.0), fg_mask=fg, grey=grey,
                               background=lambda: background, changed=_changed(grey, background))
    body = {}
    assert det._ghost(percept(10.0, floor_now), body, box)
    assert det._ghost(percept(11.5, walker), body, box)  # still the uncovered floor, no body
    # the same walker, judged afresh (no ghost verdict before), is something present now
    assert not det._ghost(percept(11.5, walker), {}, box)


def test_a_body_as_light_as_the_floor_is_the_change_where_someone_stopped_standing():
    # a body 30 grey levels lighter than the floor (less than the foreground asks), beside the legs of someone
    # standing at its end: around where a person stopped being upright, the change against the background, less
    # the silhouette of the person standing, is one piece the size of the body; 20 grey levels is no change
    from types import SimpleNamespace

    from detectors.fall_pieces import changed_pieces

    site = synthetic_site(())
    adult = float(site.person_height_px(site.image_to_ground(np.array([[170.0, 150.0]])))[0])
    background = np.full((180, 320), 150, np.uint8)
    fg = np.zeros((180, 320), np.uint8)
    grey = background.copy()
    grey[90:152, 140:150] = 60  # someone standing (x 140..150), in the foreground
    fg[90:152, 140:150] = 255
    grey[142:150, 150:190] = 180  # the body lying at their feet (x 150..190), not in the foreground
    percept = SimpleNamespace(grid=SimpleNamespace(sx=1.0, sy=1.0), grey=grey, background=lambda: background,
                              changed=_changed(grey, background),
                              fg_mask=fg)
    seed = site.image_to_ground(np.array([[170.0, 150.0]]))
    standing = np.array([[140.0, 90.0, 10.0, 62.0]])
    out = changed_pieces(percept, site, seed, standing, diff=25.0, reach=1.2, min_width=0.2)
    assert out.tolist() == [[150.0, 142.0, 40.0, 8.0]]
    assert 40 >= 0.2 * adult
    assert not len(changed_pieces(percept, site, seed, standing, diff=35.0, reach=1.2, min_width=0.2))
    # the person's silhouette is theirs: kept, it joins the body into one tall piece
    both = changed_pieces(percept, site, seed, np.zeros((0, 4)), diff=25.0, reach=1.2, min_width=0.2)
    assert len(both) == 1 and both[0, 3] > 8.0


def test_where_a_person_whose_legs_are_cleared_stands():
    # a box as high as an adult at its foot point stands there; one whose lower half is cleared (its box ends at
    # the knees) stands where an adult whose head is at its top would: further down the image, nearer the camera
    from detectors.fall_pieces import head_feet

    site = synthetic_site(())
    foot_px = np.array([[170.0, 150.0]])
    adult = float(site.person_height_px(site.image_to_ground(foot_px))[0])
    whole = np.array([[165.0, 150.0 - adult, 10.0, adult]])
    knees = np.array([[165.0, 150.0 - adult, 10.0, 0.6 * adult]])
    at = site.image_to_ground(foot_px)
    assert np.allclose(head_feet(site, whole, at), at, atol=0.05)
    cut_at = site.image_to_ground(np.array([[170.0, 150.0 - 0.4 * adult]]))
    est = head_feet(site, knees, cut_at)
    assert np.hypot(*(est - at)[0]) < 0.2 * np.hypot(*(cut_at - at)[0])
