"""Wrong way and crowd movement on drawn scenes: walkers, turners, crossers and runners."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from detectors.crowd import CrowdMovementDetector, local_density
from detectors.perception import Perception
from detectors.site import Zone, ZoneKind
from detectors.wrong_way import WrongWayDetector
from tests.helpers import TRACKS, Scene, platform_site

#: a one-way walkway along the platform, traffic toward +x
WALKWAY = Zone(name="walkway", kind=ZoneKind.ONE_WAY, polygon_m=[[2, 1], [30, 1], [30, 6], [2, 6]], direction_deg=0.0)


def _scores(det_cls, paths, seconds, zones=(WALKWAY,), **params):
    """Per-frame outputs of a detector on people following ``paths``: functions t -> (x, y)."""
    site = platform_site(zones=zones)
    scene, per = Scene(site), Perception(site)
    det = det_cls(site, **params)
    for _ in range(20):
        det.score(per.update(scene.frame()))
    out = []
    colours = [(40, 40, 200), (200, 60, 40), (40, 160, 40), (160, 40, 160), (30, 200, 200), (200, 200, 40),
               (90, 30, 30), (30, 90, 30), (60, 60, 60), (220, 120, 40)]
    for k in range(int(seconds * 10)):
        t = k / 10
        people = [(*path(t), {"colour": colours[i % len(colours)]}) for i, path in enumerate(paths)]
        out.append(det.score(per.update(scene.frame(people))))
    return out


def _line(x0, y0, vx, vy=0.0, t0=0.0):
    return lambda t: (x0 + vx * max(0.0, t - t0), y0 + vy * max(0.0, t - t0))


def test_walking_against_the_direction_is_wrong_way():
    out = _scores(WrongWayDetector, [_line(22.0, 3.0, -1.3)], 6.0)
    scores = [o.score for o in out]
    first = next(k for k, s in enumerate(scores) if s >= 0.5)
    # confirmed, a 1.6 s window of steps, then 1.5 m against the flow at 1.3 m/s: within 3 s
    assert first <= 30, scores
    assert out[-1].zone == "walkway" and out[-1].instances[0].key.startswith("walkway/")
    assert max(scores) <= 1.0


@pytest.mark.parametrize("name, paths", [
    ("walking with the flow", [_line(6.0, 3.0, 1.3)]),
    ("standing", [_line(14.0, 3.0, 0.0)]),
    ("crossing the walkway", [_line(14.0, 5.8, 0.0, -1.2)]),
    ("turning back for a second", [lambda t: (8.0 + 1.3 * t if t < 2.5 else 8.0 + 3.25 - 1.0 * (t - 2.5) if t < 3.5
                                              else 8.0 + 2.25 + 1.3 * (t - 3.5), 3.0)]),
])
def test_no_wrong_way(name, paths):
    scores = [o.score for o in _scores(WrongWayDetector, paths, 6.0)]
    assert max(scores) < 0.5, (name, max(scores))


def test_wrong_way_needs_a_one_way_zone():
    site = platform_site(zones=())
    assert not WrongWayDetector.supports(site)
    with pytest.raises(ValueError, match=r"needs at least one one_way zone; site 'cam' has zones \[\]"):
        WrongWayDetector(site)
    with pytest.raises(ValueError, match=r"need 0 <= off_mps <= on_mps"):
        WrongWayDetector(platform_site(zones=(WALKWAY,)), on_mps=0.1, off_mps=0.5)


def _group(n, speed, t0=1.0):
    rng = np.random.default_rng(n)
    starts = np.c_[rng.uniform(8, 11, n), rng.uniform(1.5, 5.5, n)]
    return [_line(x, y, speed, 0.0, t0) for x, y in starts]


def test_a_running_group_is_a_crowd_movement():
    out = _scores(CrowdMovementDetector, _group(8, 3.5), 4.0, zones=())
    scores = [o.score for o in out]
    assert max(scores) >= 0.5, scores
    best = out[int(np.argmax(scores))]
    assert best.bbox is not None and best.instances[0].key == "crowd"


@pytest.mark.parametrize("name, n, speed", [("a walking group", 10, 1.3), ("two runners", 2, 3.5)])
def test_no_crowd_movement(name, n, speed):
    scores = [o.score for o in _scores(CrowdMovementDetector, _group(n, speed), 4.0, zones=())]
    assert max(scores) < 0.5, (name, max(scores))


def test_crowd_parameter_errors():
    with pytest.raises(ValueError, match=r"need 0 <= walk_mps < run_mps"):
        CrowdMovementDetector(platform_site(), walk_mps=3.0, run_mps=2.0)
    with pytest.raises(ValueError, match=r"zone_reach_px must be an integer >= 0 \[working px\]; got -1"):
        CrowdMovementDetector(platform_site(), zone_reach_px=-1)


@pytest.mark.parametrize("where, y_m, crowd", [
    ("on the platform", (1.5, 5.5), True),
    # the same group on the track bed: components whose feet stand in a forbidden zone (a train's nose
    # entering the view, people there are intruders) are no crowd
    ("on the track bed", (-3.8, -0.8), False),
])
def test_runners_whose_feet_stand_in_a_forbidden_zone_are_no_crowd(where, y_m, crowd):
    rng = np.random.default_rng(8)
    starts = np.c_[rng.uniform(8, 11, 8), rng.uniform(*y_m, 8)]
    out = _scores(CrowdMovementDetector, [_line(x, y, 3.5, 0.0, 1.0) for x, y in starts], 4.0, zones=(TRACKS,))
    scores = [o.score for o in out]
    assert (max(scores) >= 0.5) == crowd, (where, max(scores))


class _ScriptedPressure(CrowdMovementDetector):
    """Crowd movement whose per-cell pressure [1/s²] is scripted: ``script(k, n_cells)`` for frame k."""

    def __init__(self, site, script, **kw):
        super().__init__(site, **kw)
        self.script, self.k = script, 0

    def _cell_pressure(self, percept, n_cells, *flow):
        self.k += 1
        return self.script(self.k, n_cells)


def _one_cell(value, cell_of_frame):
    def script(k, n):
        p = np.zeros(n)
        p[cell_of_frame(k) % n] = value
        return p
    return script


@pytest.mark.parametrize("name, script, first_above", [
    # 1.0 s^-2 held in one cell (pressure_crit 0.5, pressure_s 2 s): the cell's average 1 - exp(-t / 2)
    # reaches 0.5 at t = 2 ln 2 = 1.39 s, the 14th frame at 10 frames/s
    ("sustained in one place", _one_cell(1.0, lambda k: 7), 14),
    # 1.4 s^-2 jumping to another of 7 cells at every frame (flow noise in a dense stream of walkers): each
    # cell's average stays near 1.4 / 7 = 0.2
    ("flickering from cell to cell", _one_cell(1.4, lambda k: 7 + k % 7), None),
])
def test_crowd_pressure_must_be_sustained_in_one_place(name, script, first_above):
    out = _scores(lambda s: _ScriptedPressure(s, script), _group(10, 1.3, t0=0.0), 4.0, zones=())
    above = [k for k, o in enumerate(out) if o.score >= 0.5]
    if first_above is None:
        assert not above, (name, max(o.score for o in out))
    else:
        assert above and abs(above[0] + 1 - first_above) <= 1, (name, above[:3])


def test_local_density_counts_each_person_once_with_gaussian_weights():
    # 3 x 3 people 0.5 m apart; at the middle one (R = 1 m): weights 1, 4 x exp(-0.25), 4 x exp(-0.5) over pi
    grid = np.array([[x, y] for x in (0.0, 0.5, 1.0) for y in (0.0, 0.5, 1.0)])
    rho = local_density(grid, np.array([[0.5, 0.5], [100.0, 0.0]]), 1.0)
    assert rho[0] == pytest.approx((1 + 4 * math.exp(-0.25) + 4 * math.exp(-0.5)) / math.pi)
    assert rho[1] == pytest.approx(0.0)
    # one person seen 2 m away with R = 2 m: exp(-1) / (4 pi); nobody: 0
    assert local_density(np.array([[3.0, 4.0]]), np.array([[3.0, 6.0]]), 2.0) == pytest.approx([math.exp(-1) / (4 * math.pi)])
    assert local_density(np.zeros((0, 2)), np.array([[0.0, 0.0]]), 1.0).tolist() == [0.0]


def test_crowd_pressure_is_the_variance_over_time_of_a_cell_velocity():
    site = platform_site()
    det = CrowdMovementDetector(site, pressure_s=2.0, pressure_min_density=0.1)
    det._origin, det._shape = np.zeros(2), (1, 2)

    class _P:  # a percept with 8 people at the middle of cell 0 (x 0-1 m): rho = 8 / pi, nobody near cell 1
        tracks = type("T", (), {"confirmed": np.ones(8, bool), "lost_s": np.zeros(8),
                                "foot_m": np.tile([0.5, 0.5], (8, 1))})()

    rho = 8 / math.pi
    cells, w = np.zeros(4, np.int64), np.full(4, 0.5)
    # a steady stream at (1.3, 0) m/s: the first frame sets U = V, the next ones deviate by nothing
    for _ in range(3):
        assert det._cell_pressure(_P, 2, cells, w, np.tile([1.3, 0.0], (4, 1)), 0.1) == pytest.approx([0.0, 0.0])
    # the cell's velocity turns to (0, 1) m/s: |V - U|^2 = 1.3^2 + 1, U moves 1 - exp(-0.05) of the way
    assert det._cell_pressure(_P, 2, cells, w, np.tile([0.0, 1.0], (4, 1)), 0.1) == pytest.approx([rho * 2.69, 0.0])
    c = 1 - math.exp(-0.05)
    assert det._umap[0] == pytest.approx([1.3 * (1 - c), c])
    # too few people there (pressure_min_density above 8 / pi): nothing
    det.pressure_min_density = 3.0
    assert det._cell_pressure(_P, 2, cells, w, np.tile([1.3, 0.0], (4, 1)), 0.1) == pytest.approx([0.0, 0.0])


@pytest.mark.parametrize("height_px, whole", [
    # a person 37 px tall where they stand (min_height_persons 0.5, max_height_persons 2.0): boxes from
    # 0.5 * 37 = 18.5 px to 2.0 * 37 = 74 px are one person
    (18.0, False),  # a head over a shoulder
    (19.0, True),
    (74.0, True),
    (138.0, False),  # a column of people one behind the other seen end on: 138 / 37 = 3.7 persons tall
])
def test_wrong_way_holds_fragments_and_columns_of_people(height_px, whole):
    det = WrongWayDetector(platform_site(zones=(WALKWAY,)))
    assert det.whole(np.array([height_px, 200.0]), np.array([37.0, np.nan])).tolist() == [whole, True]
    with pytest.raises(ValueError, match=r"max_height_persons must be > min_height_persons=0.5 "
                                         r"\[expected person heights\]; got 0.4"):
        WrongWayDetector(platform_site(zones=(WALKWAY,)), max_height_persons=0.4)


def test_wrong_way_distance_credits_half_the_window_on_turning_against_then_accumulates_and_fades():
    det = WrongWayDetector(platform_site(zones=(WALKWAY,)))  # on 0.45, off 0.15 m/s, forget 1.5 s
    key = ("walkway", 7)
    # 1.0 m/s against measured over 1.6 s: at least 0.8 s of it, 0.8 m, credited at once
    assert det._advance(key, 10.0, 1.0, 1.6) == pytest.approx(0.8)
    assert det._advance(key, 10.1, 1.0, 1.6) == pytest.approx(0.8 + 0.1)
    # a fragment (a head over a shoulder) holds the distance; the clock moves on without crediting
    assert det._hold(key, 10.5) == pytest.approx(0.9)
    assert det._advance(key, 10.6, 1.0, 1.6) == pytest.approx(0.9 + 0.1)
    # below off_mps: no longer against, the distance fades with forget_s
    assert det._advance(key, 10.7, 0.1, 1.6) == pytest.approx(1.0 * math.exp(-0.1 / 1.5))
    # each track has its own state: another track on the same instance starts from nothing
    assert det._advance(("walkway", 8), 10.7, 0.3, 1.6) == 0.0


@pytest.mark.parametrize("vx, sign", [(1.3, 1), (-1.3, -1)])
def test_wrong_way_reads_the_persons_own_pixels_along_the_flow(vx, sign):
    # the box's moving foreground pixels say which way the person walks, whatever the track says
    site = platform_site(zones=(WALKWAY,))
    scene, per = Scene(site), Perception(site)
    det = WrongWayDetector(site)
    for _ in range(20):
        per.update(scene.frame())
    speeds = []
    for k in range(15):
        p = per.update(scene.frame([(14.0 + vx * k / 10, 3.0, {"colour": (40, 40, 200)})]))
        rows = np.flatnonzero(p.tracks.confirmed & (p.tracks.lost_s == 0))
        if len(rows):
            speeds.append(det._pixels_with_flow(p, p.tracks.box[rows[0]], np.array([1.0, 0.0])))
    assert len(speeds) >= 10
    assert sign * np.median(speeds) > det.stream_mps, speeds


def test_wrong_way_person_crossing_at_an_angle_walks_partly_against_but_is_no_wrong_way():
    # 0.9 m/s against the flow and 1.0 m/s across it: a heading 48 deg from the direction against
    # (atan(1.0 / 0.9)), beyond max_angle_deg = 35 (tan 35 deg = 0.70 < 1.0 / 0.9 = 1.11)
    diagonal = [_line(16.0, 5.8, -0.9, -1.0)]
    scores = [o.score for o in _scores(WrongWayDetector, diagonal, 5.0)]
    assert max(scores) < 0.5, max(scores)
    # every heading counted (the cone opened to 90 deg), the same walk scores as a wrong way
    scores = [o.score for o in _scores(WrongWayDetector, diagonal, 5.0, max_angle_deg=90.0)]
    assert max(scores) >= 0.5, max(scores)


def test_wrong_way_vetoes_on_the_median_of_the_last_pixel_speeds_not_one_frame():
    det = WrongWayDetector(platform_site(zones=(WALKWAY,)), stream_s=1.5)
    key = ("walkway", 3)
    # a walker against a stream: one frame in three reads the passers-by's flow (0.6 m/s with the flow)
    assert det._stream_median(key, 10.0, -0.5) == -0.5
    assert det._stream_median(key, 10.1, 0.6) == pytest.approx((-0.5 + 0.6) / 2)
    assert det._stream_median(key, 10.2, -0.4) == -0.4  # median of -0.5, 0.6, -0.4
    # 1.5 s later only the frames since 10.3 s count
    assert det._stream_median(key, 11.8, 0.7) == 0.7
    # stream_s = 0: each frame on its own
    assert WrongWayDetector(platform_site(zones=(WALKWAY,)), stream_s=0.0)._stream_median(key, 10.0, 0.6) == 0.6
    with pytest.raises(ValueError, match=r"max_angle_deg must be in \(0, 90\] degrees; got 120"):
        WrongWayDetector(platform_site(zones=(WALKWAY,)), max_angle_deg=120.0)


class _TrackPercept:
    """One confirmed track at ``x`` [m] whose recent history says it walked against the flow at 2 m/s."""

    ready = True

    def __init__(self, t: float, x: float, history_x0: float):
        from detectors.tracker import Tracks
        self.t = t
        self.tracks = Tracks(np.array([5]), np.array([[x, 3.0]]), np.array([[-2.0, 0.0]]), np.array([0.1]),
                             np.array([[300.0, 100.0, 20.0, 50.0]]), np.array([True]), np.array([20]),
                             np.array([3.0]), np.array([0.0]), np.array([0]), np.zeros(1, np.int8),
                             np.array([50.0]), np.full((1, 2), np.nan))
        ts = np.arange(t - 1.6, t + 1e-9, 0.1)
        self._hist = np.column_stack([ts, history_x0 - 2.0 * (ts - ts[0]), np.full(len(ts), 3.0),
                                      np.full(len(ts), 50.0), np.full(len(ts), 20.0)])

    def track_history(self, track_id):
        return self._hist


def test_wrong_way_scores_no_further_than_the_track_has_come_back_against_the_flow():
    det = WrongWayDetector(platform_site(zones=(WALKWAY,)), alarm_m=2.4)  # come_slack_m 0
    det._pixels_with_flow = lambda percept, box, u: 0.0  # the pixels say nothing
    det._slip = lambda *args: 0.0
    # first seen at x = 20 m with a history of jumps worth 2 m/s against over 1.6 s: the median credits
    # 2.0 * 0.8 = 1.6 m at once, but the track has come back from nowhere yet: no score
    assert len(det.score(_TrackPercept(10.0, 20.0, 23.2)).instances) == 0
    # 0.5 m further against the flow (x = 19.5): its distance runs on (1.6 + 2.0 * 0.1 = 1.8 m) but it
    # has come back 0.5 m: scored 0.5 * 0.5 / 2.4
    out = det.score(_TrackPercept(10.1, 19.5, 22.7))
    assert out.instances[0].score == pytest.approx(0.5 * 0.5 / 2.4)
    # with the cap lifted the same walk scores its whole distance
    det = WrongWayDetector(platform_site(zones=(WALKWAY,)), alarm_m=2.4, come_slack_m=100.0)
    det._pixels_with_flow = lambda percept, box, u: 0.0
    det._slip = lambda *args: 0.0
    assert det.score(_TrackPercept(10.0, 20.0, 23.2)).instances[0].score == pytest.approx(0.5 * 1.6 / 2.4)


def test_wrong_way_counts_the_approach_to_the_zone_as_come_back():
    # a walkway ending at x = 21 m; a walker tracked on its approach 1 m beyond that end, walking into it
    # against the flow: from there he has come back 22.0 - 20.8 = 1.2 m when first seen inside
    short = Zone(name="walkway", kind=ZoneKind.ONE_WAY, polygon_m=[[2, 1], [21, 1], [21, 6], [2, 6]], direction_deg=0.0)

    def score(approach_m, x_before):
        det = WrongWayDetector(platform_site(zones=(short,)), approach_m=approach_m, alarm_m=2.4)
        det._pixels_with_flow = lambda percept, box, u: 0.0  # the pixels say nothing
        det._slip = lambda *args: 0.0
        assert len(det.score(_TrackPercept(9.9, x_before, x_before + 3.2)).instances) == 0  # outside: no score
        out = det.score(_TrackPercept(10.0, 20.8, x_before + 3.0))
        return out.instances[0].score if out.instances else 0.0

    # the median credits 2.0 m/s * 0.8 s = 1.6 m at once; the cap lets 1.2 m of it count: 0.5 * 1.2 / 2.4
    assert score(1.5, 22.0) == pytest.approx(0.5 * 1.2 / 2.4)
    # a point on the approach further than approach_m outside, or no approach at all, counts for nothing
    assert score(1.5, 23.0) == 0.0
    assert score(0.0, 22.0) == 0.0


class _WalkersPercept:
    """Confirmed tracks walking against the flow at 2 m/s along y = const: ``walkers`` maps a track id to
    (x at t = 0 [m], y [m], (4,) box [px]); every track's history is its straight walk over the last 1.6 s."""

    ready = True

    def __init__(self, t: float, walkers: dict):
        from detectors.tracker import Tracks
        self.t = t
        ids = sorted(walkers)
        n = len(ids)
        x = np.array([walkers[i][0] - 2.0 * t for i in ids])
        foot = np.c_[x, [walkers[i][1] for i in ids]]
        self.tracks = Tracks(np.array(ids), foot, np.tile([-2.0, 0.0], (n, 1)), np.full(n, 0.1),
                             np.array([walkers[i][2] for i in ids], dtype=float), np.ones(n, bool),
                             np.full(n, 20), np.full(n, 3.0), np.zeros(n), np.arange(n), np.zeros(n, np.int8),
                             np.full(n, 50.0), np.full((n, 2), np.nan))
        ts = np.arange(t - 1.6, t + 1e-9, 0.1)
        self._hist = {i: np.column_stack([ts, walkers[i][0] - 2.0 * ts, np.full(len(ts), walkers[i][1]),
                                          np.full(len(ts), 50.0), np.full(len(ts), 20.0)]) for i in ids}

    def track_history(self, track_id):
        return self._hist[track_id]


@pytest.mark.parametrize("join_heights, keys", [
    # the second track's box centre, (325, 115) px, lies 18 px from the first's, (310, 125) px: 0.36 of a
    # 50 px person, within join_heights = 0.5: it reports under the instance that has already scored
    (0.5, {"walkway/5"}),
    # with join_heights = 0.3 it is a second instance, whose own score would raise a second alert
    (0.3, {"walkway/5", "walkway/9"}),
])
def test_wrong_way_second_track_beside_an_instance_that_scored_joins_it(join_heights, keys):
    det = WrongWayDetector(platform_site(zones=(WALKWAY,)), alarm_m=2.4, join_heights=join_heights)
    det._pixels_with_flow = lambda percept, box, u: 0.0  # the pixels say nothing
    det._slip = lambda *args: 0.0
    first = (44.0, 3.0, [300.0, 100.0, 20.0, 50.0])
    # the walker alone for 1.5 s: 2 m/s * 1.5 s = 3.0 m come back, scored 0.5 * 3.0 / 2.4 >= 0.5
    for k in range(16):
        out = det.score(_WalkersPercept(10.0 + k / 10, {5: first}))
    assert out.instances[0].key == "walkway/5" and out.instances[0].score >= 0.5
    # a second track on a fragment beside him in the image, 3.5 m away on the floor (far from a camera the
    # foot points of a split blob land metres apart; beyond InstanceLinks' 0.7 m for a followed instance:
    # its own key), walking against the flow with him
    seen = set()
    for k in range(16, 40):
        out = det.score(_WalkersPercept(10.0 + k / 10, {5: first, 9: (44.0 + 2.0 * 1.6, 4.5, [320.0, 100.0, 10.0, 30.0])}))
        seen |= {i.key for i in out.instances}
    assert seen == keys


@pytest.mark.parametrize("heights_px, column", [
    # a person 50 px tall where the track stands (column_persons 1.5): boxes of a median 90 px over the
    # window, 1.8 persons, are a column of people merged one behind the other along the line of sight
    (90.0, True),
    (70.0, False),  # 1.4 persons: a person with the head of the one behind
    (50.0, False),
])
def test_wrong_way_holds_a_track_whose_boxes_are_mostly_a_column_of_people(heights_px, column):
    det = WrongWayDetector(platform_site(zones=(WALKWAY,)), alarm_m=2.4, come_slack_m=100.0)
    det._pixels_with_flow = lambda percept, box, u: 0.0
    det._slip = lambda *args: 0.0
    p = _TrackPercept(10.0, 20.0, 23.2)
    p._hist[:, 3] = heights_px  # each frame's box: whole by itself (below max_height_persons = 2.0)
    assert det._column(p, 5, 50.0) == column
    out = det.score(p)
    # the median credits 2.0 m/s * 0.8 s = 1.6 m at once: 0.5 * 1.6 / 2.4; a column's distance is held at 0
    assert (out.instances[0].score if out.instances else 0.0) == (0.0 if column else pytest.approx(0.5 * 1.6 / 2.4))


class _FlowPercept:
    """A track walking against the flow (-x) at 2 m/s along y = 3 m, its 40 x 100 px box, and a flow field
    whose foreground pixels all move at ``flow_px_s`` [full-resolution px/s] (x, y)."""

    def __init__(self, site, flow_px_s):
        self.t = 10.0
        ts = np.arange(8.4, 10.0 + 1e-9, 0.1)
        self._hist = np.column_stack([ts, 20.0 - 2.0 * (ts - ts[0]), np.full(len(ts), 3.0), np.full(len(ts), 100.0),
                                      np.full(len(ts), 40.0)])
        W, H = site.image_size
        self.flow_field = type("F", (), {"size": (160, 90)})()
        self.fg_mask = np.full((90, 160), 255, np.uint8)
        self._flow = np.zeros((90, 160, 2), np.float32)
        self._flow[..., 0] = flow_px_s[0] * 160 / W
        self._flow[..., 1] = flow_px_s[1] * 90 / H

    def track_history(self, track_id):
        return self._hist

    def fg_at(self, size):
        return cv2.resize(self.fg_mask, size, interpolation=cv2.INTER_AREA)

    def flow(self):
        return self._flow


def test_wrong_way_slip_is_the_box_moving_against_its_own_pixels_in_person_heights_per_second():
    site = platform_site(zones=(WALKWAY,))
    det = WrongWayDetector(site)
    u = np.array([1.0, 0.0])
    # the foot point's image velocity: 6 steps of 0.32 s over 1.6 s, each 0.64 m against the flow
    img = site.ground_to_image(np.array([[20.0, 3.0], [20.0 - 0.64, 3.0]]))
    step_px_s = (img[1] - img[0]) / 0.32
    box = site.ground_to_image(np.array([[16.8, 3.0]]))[0]
    box = [box[0] - 20.0, box[1] - 100.0, 40.0, 100.0]
    # pixels standing still: the box slides over them at its whole image speed, in 100 px person heights
    still = det._slip(_FlowPercept(site, (0.0, 0.0)), 5, box, 100.0, u)
    assert still == pytest.approx(float(np.hypot(*step_px_s)) / 100.0, rel=0.02)
    # pixels moving with the box (a person walking): no slip
    assert det._slip(_FlowPercept(site, step_px_s), 5, box, 100.0, u) == pytest.approx(0.0, abs=0.02 * still)
    # pixels moving the other way at the same speed (a stream the track slides along): twice
    assert det._slip(_FlowPercept(site, -step_px_s), 5, box, 100.0, u) == pytest.approx(2 * still, rel=0.02)


@pytest.mark.parametrize("slip, scored", [(0.2, True), (0.8, False)])
def test_wrong_way_a_track_sliding_over_its_pixels_is_no_walker(slip, scored):
    # slip_heights 0.5 person heights per second: beyond it the speed against the flow counts as 0
    det = WrongWayDetector(platform_site(zones=(WALKWAY,)), alarm_m=2.4, come_slack_m=100.0)
    det._pixels_with_flow = lambda percept, box, u: 0.0
    det._slip = lambda *args: slip
    out = det.score(_TrackPercept(10.0, 20.0, 23.2))
    assert (out.instances[0].score if out.instances else 0.0) == (pytest.approx(0.5 * 1.6 / 2.4) if scored else 0.0)


class _PathsPercept:
    """Confirmed tracks on ``paths``: track id -> (x(t) [m] along the walkway at y = 3 m, first t [s], last t [s]),
    each with a 20 x 50 px box and its history since it began (one row per 0.1 s, velocity by difference)."""

    ready = True

    def __init__(self, t: float, paths: dict):
        from detectors.tracker import Tracks
        self.t = t
        ids = sorted(i for i, (_, t0, t1) in paths.items() if t0 - 1e-9 <= t <= t1 + 1e-9)
        n = len(ids)
        x = np.array([paths[i][0](t) for i in ids])
        v = np.array([(paths[i][0](t) - paths[i][0](t - 0.1)) / 0.1 for i in ids])
        self.tracks = Tracks(np.array(ids, dtype=np.int64), np.c_[x, np.full(n, 3.0)], np.c_[v, np.zeros(n)],
                             np.full(n, 0.1), np.tile([300.0, 100.0, 20.0, 50.0], (n, 1)), np.ones(n, bool),
                             np.full(n, 20), np.full(n, 3.0), np.zeros(n), np.arange(n), np.zeros(n, np.int8),
                             np.full(n, 50.0), np.full((n, 2), np.nan))
        self._hist = {}
        for i in ids:
            ts = np.arange(max(paths[i][1], t - 1.6), t + 1e-9, 0.1)
            self._hist[i] = np.column_stack([ts, [paths[i][0](s) for s in ts], np.full(len(ts), 3.0),
                                             np.full(len(ts), 50.0), np.full(len(ts), 20.0)])

    def track_history(self, track_id):
        return self._hist[track_id]


@pytest.mark.parametrize("resume_s, key", [(5.0, "walkway/5"), (0.0, "walkway/9")])
def test_wrong_way_a_track_turning_against_where_one_was_lost_resumes_its_walk(resume_s, key):
    det = WrongWayDetector(platform_site(zones=(WALKWAY,)), alarm_m=4.8, resume_s=resume_s)
    det._pixels_with_flow = lambda percept, box, u: 0.0
    det._slip = lambda *args: 0.0
    paths = {
        # against the flow at 2 m/s from x = 30 m, lost after t = 11 s at x = 28 m: against from t = 10.9 s
        # (0.9 s of history, over half the 1.6 s window), credited 2 m/s * 0.45 s = 0.9 m, then 0.2 m: 1.1 m
        5: (lambda t: 30.0 - 2.0 * (t - 10.0), 10.0, 11.0),
        # with the flow at 1 m/s from x = 23.5 m (6.5 m from the first: its own instance), turning against
        # at t = 12 s at x = 25.5 m; read against from 12.8 s at x = 23.9 m, 0.5 m from where the first
        # one's 2 m/s would have taken it (24.4 m; within 1 m + 0.5 m/s * 1.8 s)
        9: (lambda t: 23.5 + (t - 10.0) if t < 12.0 else 25.5 - 2.0 * (t - 12.0), 10.0, 14.0),
    }
    first = None
    for k in range(40):
        out = det.score(_PathsPercept(10.0 + k / 10, paths))
        if 11.5 < 10.0 + k / 10 and out.instances and first is None:
            first = out.instances[0]
    assert first is not None and first.key == key
    if resume_s > 0:
        # it carries on from the 1.1 m the lost track had walked (and from its furthest point, x = 30 m)
        assert first.score == pytest.approx(0.5 * 1.1 / 4.8)


@pytest.mark.parametrize("resume_alerted_s, key", [(10.0, "walkway/5"), (5.0, "walkway/9")])
def test_wrong_way_a_walk_that_alerted_is_resumed_after_a_longer_gap(resume_alerted_s, key):
    det = WrongWayDetector(platform_site(zones=(WALKWAY,)), alarm_m=2.4, resume_s=5.0,
                           resume_alerted_s=resume_alerted_s)
    det._pixels_with_flow = lambda percept, box, u: 0.0
    det._slip = lambda *args: 0.0
    paths = {
        # against the flow at 2 m/s from x = 30 m, lost at t = 13 s at x = 24 m after scoring over 0.5
        5: (lambda t: 30.0 - 2.0 * (t - 10.0), 10.0, 13.0),
        # with the flow at 1 m/s from x = 3 m, turning against at t = 19.5 s at x = 12.5 m; read against
        # from about 20.3 s at x = 10.9 m, 7.3 s after the first was lost and 1.5 m from where its 2 m/s would
        # have taken it (9.4 m; within 1 m + 0.5 m/s * 7.3 s)
        9: (lambda t: 3.0 + (t - 10.0) if t < 19.5 else 12.5 - 2.0 * (t - 19.5), 10.0, 22.0),
    }
    peak5, first = 0.0, None
    for k in range(120):
        t = 10.0 + k / 10
        out = det.score(_PathsPercept(t, paths))
        for inst in out.instances or ():
            if t <= 13.0 + 1e-9 and inst.key == "walkway/5":
                peak5 = max(peak5, inst.score)
            if t > 19.0 and first is None:
                first = inst
    assert peak5 >= 0.5
    # 7.3 s is past resume_s (5 s): only an instance that had alerted is taken up so late
    assert first is not None and first.key == key
