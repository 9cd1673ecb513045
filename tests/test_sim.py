"""The crowd simulation: geometry, floor fields, forces, behaviours, determinism, library runs."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.events import EventType
from sim.world.social_force import SocialForceParams, pair_forces
from sim.world.floorfield import NavGrid
from sim.geometry import (
    SegmentIndex,
    points_in_polygon,
    polygon_area,
    polygon_centroid,
    polygon_edges,
    segment_crosses_any,
    segment_distances,
    subtract_collinear,
    wall_segments,
)
from sim.world.agents import Behaviour, Pedestrian
from sim.world.model import StationModel
from sim.scenario import build_scenario, load_scenario
from sim.state import CrowdState, Posture

# --- geometry -----------------------------------------------------------------------------

coord = st.floats(-50, 50, allow_nan=False, allow_infinity=False)
size = st.floats(0.5, 20, allow_nan=False, allow_infinity=False)


@given(x0=coord, y0=coord, w=size, h=size, px=coord, py=coord)
def test_point_in_rectangle_matches_the_inequalities(x0, y0, w, h, px, py):
    rect = np.array([[x0, y0], [x0 + w, y0], [x0 + w, y0 + h], [x0, y0 + h]])
    # stay clear of the boundary, where either answer is allowed
    if min(abs(px - x0), abs(px - x0 - w), abs(py - y0), abs(py - y0 - h)) < 1e-6:
        return
    inside = x0 < px < x0 + w and y0 < py < y0 + h
    assert points_in_polygon(np.array([[px, py]]), rect)[0] == inside
    assert points_in_polygon(np.array([[px, py]]), rect[::-1])[0] == inside


def test_area_and_centroid_by_hand():
    tri = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 3.0]])
    assert polygon_area(tri) == 4.0 * 3.0 / 2
    assert polygon_area(tri[::-1]) == 6.0
    np.testing.assert_allclose(polygon_centroid(tri), [4.0 / 3, 3.0 / 3])


@settings(max_examples=60)
@given(ax=coord, ay=coord, bx=coord, by=coord, px=coord, py=coord)
def test_segment_distance_is_the_minimum_over_the_segment(ax, ay, bx, by, px, py):
    seg = np.array([[[ax, ay], [bx, by]]])
    d, closest = segment_distances(np.array([[px, py]]), seg)
    u = np.linspace(0.0, 1.0, 2001)[:, None]
    pts = np.array([ax, ay]) + u * (np.array([bx, by]) - np.array([ax, ay]))
    brute = np.hypot(*(pts - [px, py]).T).min()
    step = math.hypot(bx - ax, by - ay) / 2000
    assert d[0, 0] <= brute + 1e-9
    assert d[0, 0] >= brute - step / 2 - 1e-9
    assert math.isclose(math.hypot(*(closest[0, 0] - [px, py])), d[0, 0], abs_tol=1e-9)


@settings(max_examples=40)
@given(pts=st.lists(st.tuples(coord, coord), min_size=1, max_size=30))
def test_segment_index_finds_every_segment_within_reach(pts):
    segs = np.array([[[0, 0], [10, 0]], [[10, 0], [10, 8]], [[3, 3], [4, 5]], [[-5, 20], [-5, 20.5]]], float)
    index = SegmentIndex(segs, reach_m=1.0)
    p = np.array(pts, float)
    d, _ = segment_distances(p, segs)
    pi, si = index.candidate_pairs(p)
    found = set(zip(pi.tolist(), si.tolist()))
    needed = {(i, j) for i, j in zip(*np.nonzero(d < 1.0))}
    assert needed <= found


def test_openings_are_cut_out_of_the_boundary_walls():
    pieces = subtract_collinear(np.array([[0.0, 0.0], [10.0, 0.0]]),
                                [np.array([[3.0, 0.0], [5.0, 0.0]]), np.array([[4.0, 1.0], [6.0, 1.0]])])
    np.testing.assert_allclose(np.array(pieces), [[[0, 0], [3, 0]], [[5, 0], [10, 0]]])
    room = np.array([[0, 0], [10, 0], [10, 5], [0, 5]], float)
    triangle = np.array([[4, 2], [5, 2], [5, 3]], float)
    walls = wall_segments(room, [triangle], openings=[np.array([[10, 1], [10, 4]], float)])
    assert len(walls) == 3 + 2 + 3  # bottom, top, left; right wall split in two; triangle
    assert segment_crosses_any([9, 2.5], [11, 2.5], walls) is False  # through the doorway
    assert segment_crosses_any([9, 0.5], [11, 0.5], walls) is True


# --- floor field --------------------------------------------------------------------------


def test_floor_field_in_an_open_room_points_at_the_exit_and_measures_distance():
    grid = NavGrid(np.array([[0, 0], [20, 0], [20, 10], [0, 10]], float))
    field = grid.field_to_segment([20, 4], [20, 6])
    # straight line to the doorway: the 16-connected grid distance is within 3 % of Euclidean
    assert field.value_at(np.array([[10.0, 5.0]]))[0] == pytest.approx(10.0, rel=0.001)
    assert field.value_at(np.array([[10.0, 1.0]]))[0] == pytest.approx(math.hypot(10, 3), rel=0.03)
    d = field.direction_at(np.array([[10.0, 5.0], [5.0, 5.0]]))
    np.testing.assert_allclose(d, [[1, 0], [1, 0]], atol=1e-6)


def test_floor_field_goes_through_a_gate_not_through_the_wall():
    sc = load_scenario("concourse_quiet")
    grid = NavGrid(sc.station.walkable, sc.station.obstacles)
    field = grid.field_to_segment(*sc.station.exits[0].segment)  # the gates exit at x = 30
    # from just before the gate wall at y = 3 the way leads up to the first gate (5.4..6.2)
    d = field.direction_at(np.array([[21.5, 3.0]]))[0]
    assert d[1] > 0.8
    # the walk must pass the gate opening (x 22..22.4, y >= 5.4): at least
    # |(21.5, 3) -> (22, 5.4)| + (30 - 22.4) = 2.45 + 7.6 m, against 8.5 m straight through the wall
    assert field.value_at(np.array([[21.5, 3.0]]))[0] > math.hypot(0.5, 2.4) + 7.6


def scenario(**over):
    data = {
        "name": "test_room", "duration_s": 60, "seed": 3, "dt_s": 0.05,
        "station": {
            "walkable": [[0, 0], [20, 0], [20, 10], [0, 10]],
            "exits": [{"name": "east", "segment": [[20, 4], [20, 6]]}],
        },
        "crowd": {"initial_count": 0, "wait_fraction": 0.0},
        "cameras": [{"name": "c", "position": [10, -5, 6], "look_at": [10, 5, 0]}],
    }
    for key, value in over.items():
        cur = data
        parts = key.split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = value
    return build_scenario(data)


def placed_agent_event(start, exit_name="east"):
    """An injected script whose only waypoint is its start: the person then leaves by the
    floor field (the way to place one pedestrian at a chosen point)."""
    return {"type": "intrusion", "id": "walker", "at_s": 0, "start": start, "path": [start],
            "dwell_s": 0, "exit": exit_name}


def test_an_agent_behind_a_wide_pillar_walks_round_it_to_the_exit():
    pillar = [[12, 1.5], [13, 1.5], [13, 8.5], [12, 8.5]]
    sc = scenario(**{"station.obstacles": [pillar], "events": [placed_agent_event([10.5, 5.0])]})
    # the straight line to the exit is blocked: steering at the exit would pin it to the pillar
    assert segment_crosses_any([10.5, 5.0], [20, 5], polygon_edges(np.array(pillar, float)))
    model = StationModel(sc)
    assert model.agent_count == 1
    model.run_until(25.0)
    assert model.agent_count == 0
    assert model.exits_by_name == {"east": 1}
    tracks = model.truth.tracks_table().to_pandas()
    # it went round one end of the pillar (y < 1.5 or y > 8.5 while passing x = 12.5)
    passing = tracks[(tracks.x > 11.9) & (tracks.x < 13.1)]
    assert ((passing.y < 1.5) | (passing.y > 8.5)).all() and len(passing) > 0


def test_agent_is_removed_at_its_exit_and_leaves_the_mesa_model():
    sc = scenario(events=[placed_agent_event([14.0, 5.0])])
    model = StationModel(sc)
    (agent,) = list(model.agents)
    assert isinstance(agent, Pedestrian)
    model.run_until(1.0)
    assert agent.behaviour is Behaviour.LEAVING
    model.run_until(10.0)
    assert model.agent_count == 0 and len(model.agents) == 0
    last = model.truth.tracks_table().to_pandas().iloc[-1]
    # removed within 0.5 m of the doorway (x = 20) plus one step of walking
    assert last.x > 20 - 0.5 - 0.1 and 4 <= last.y <= 6


def test_poisson_arrivals_match_the_rate():
    sc = scenario(**{"duration_s": 300, "dt_s": 0.1, "station.walkable": [[0, 0], [6, 0], [6, 4], [0, 4]],
                     "station.entrances": [{"name": "west", "segment": [[0, 1], [0, 3]], "rate_per_min": 120}],
                     "station.exits": [{"name": "east", "segment": [[6, 1], [6, 3]]}]})
    model = StationModel(sc)
    model.run_until(300.0)
    expected = 120 / 60 * 300  # 600 arrivals, Poisson: sd = sqrt(600) = 24.5
    got = model.arrivals_by_entrance["west"]
    assert abs(got - expected) < 4 * math.sqrt(expected)
    assert model.dropped_arrivals == 0
    assert model.exits_by_name["east"] + model.agent_count == got


def test_max_agents_drops_arrivals():
    sc = scenario(**{"station.entrances": [{"name": "west", "segment": [[0, 1], [0, 9]], "rate_per_min": 600}],
                     "crowd.max_agents": 5})
    model = StationModel(sc)
    model.run_until(5.0)
    assert model.agent_count == 5
    assert model.dropped_arrivals > 0


def test_pair_force_by_hand():
    # two people 1 m apart on x, radii 0.25, isotropic (lambda = 1): A exp((0.5 - 1) / B) each way
    params = SocialForceParams(a_n=2000.0, b_m=0.08, anisotropy=1.0, a_near_n=0.0)
    pos = np.array([[0.0, 0.0], [1.0, 0.0]])
    out = np.zeros((2, 2))
    pair_forces(pos, np.zeros((2, 2)), np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([0.25, 0.25]), params, 0.05, out)
    f = 2000.0 * math.exp((0.5 - 1.0) / 0.08)
    np.testing.assert_allclose(out, [[-f, 0.0], [f, 0.0]])
    # anisotropy: j is behind i's walking direction (-x) -> cos phi = -1 -> weight lambda
    params = SocialForceParams(a_n=2000.0, b_m=0.08, anisotropy=0.3, a_near_n=0.0)
    out = np.zeros((2, 2))
    pair_forces(pos, np.zeros((2, 2)), np.array([[-1.0, 0.0], [-1.0, 0.0]]), np.array([0.25, 0.25]), params, 0.05, out)
    np.testing.assert_allclose(out[:, 0], [-0.3 * f, 1.0 * f])
    # the short-range term adds A_2 exp((0.5 - 1) / B_2) to both, whatever the directions
    params = SocialForceParams(a_n=2000.0, b_m=0.08, anisotropy=0.3, a_near_n=600.0, b_near_m=0.1)
    out = np.zeros((2, 2))
    pair_forces(pos, np.zeros((2, 2)), np.array([[-1.0, 0.0], [-1.0, 0.0]]), np.array([0.25, 0.25]), params, 0.05, out)
    f2 = 600.0 * math.exp((0.5 - 1.0) / 0.1)
    np.testing.assert_allclose(out[:, 0], [-0.3 * f - f2, f + f2])


def test_params_reject_bad_values():
    with pytest.raises(ValueError, match=r"SocialForceParams.anisotropy must be within \[0, 1\]; got 1.5"):
        SocialForceParams(anisotropy=1.5)
    with pytest.raises(ValueError, match="SocialForceParams.tau_s must be > 0; got 0"):
        SocialForceParams(tau_s=0)


# --- determinism ----------------------------------------------------------------------------


def states_equal(a: CrowdState, b: CrowdState) -> bool:
    return a.t == b.t and all(
        np.array_equal(getattr(a, f), getattr(b, f))
        for f in ("ids", "pos_m", "vel_mps", "heading_rad", "radius_m", "height_m", "gait_phase", "posture",
                  "shirt_bgr", "trousers_bgr", "skin_bgr", "hair_bgr", "appearance_group")
    )


def test_same_seed_same_snapshots_other_seed_differs():
    sc = load_scenario("platform_intrusion")
    a, b, c = StationModel(sc), StationModel(sc), StationModel(sc, seed=sc.seed + 1)
    for t in (0.0, 5.0, 12.0):
        for m in (a, b, c):
            m.run_until(t)
        sa, sb = a.snapshot(), b.snapshot()
        assert states_equal(sa, sb)
        assert sa.pos_m.tobytes() == sb.pos_m.tobytes()
    assert not states_equal(a.snapshot(), c.snapshot())


def test_seed_must_be_a_non_negative_integer():
    with pytest.raises(ValueError, match="seed must be an integer >= 0; got -1"):
        StationModel(load_scenario("concourse_quiet"), seed=-1)


# --- the library scenarios, run once for their full duration -------------------------------


class Run:
    def __init__(self, name: str):
        self.scenario = load_scenario(name)
        self.model = StationModel(self.scenario)
        self.snapshots = []
        self.slot_errors = []
        while self.model.time < self.scenario.duration_s - 1e-9:
            self.model.step()
            if self.model.steps % 10 == 0:  # every 0.5 s
                self.snapshots.append((self.model.snapshot(), self.model.people.state[: self.model.agent_count].copy()))
                self._check_slots()
        self.events = self.model.truth.events(t_end=self.model.time)

    def _check_slots(self):
        m = self.model
        if len(m.agents) != m.agent_count:
            self.slot_errors.append(f"t={m.time}: {len(m.agents)} Mesa agents, {m.agent_count} slots")
        for a in m.agents:
            if m.agent_at(a.slot) is not a or m.people.ids[a.slot] != a.unique_id:
                self.slot_errors.append(f"t={m.time}: agent {a.unique_id} slot {a.slot} inconsistent")


@pytest.fixture(scope="module")
def runs():
    return {name: Run(name) for name in ("platform_intrusion", "concourse_quiet", "concourse_overcrowding")}


def test_platform_intrusion_has_one_injected_intrusion(runs):
    r = runs["platform_intrusion"]
    assert [e.type for e in r.events] == [EventType.INTRUSION]
    (ev,) = r.events
    assert ev.id == "intruder" and ev.source == "injected" and ev.zone == "tracks"
    assert 25.0 <= ev.t_start <= 40.0
    assert ev.t_end - ev.t_start >= 4.0  # it stood there dwell_s = 4 s


def test_the_intruder_steps_onto_the_track_bed_and_comes_back(runs):
    r = runs["platform_intrusion"]
    (ev,) = r.events
    (aid,) = ev.agent_ids
    tr = r.model.truth.tracks_table().to_pandas()
    me = tr[tr.id == aid].sort_values("t")
    lowest = me.y.idxmin()
    assert me.y.min() < -1.5  # reached the dwell waypoint at y = -2
    after = me.loc[lowest:]
    assert (after.y > 1.0).any()  # climbed back onto the platform
    # and left by stairs_east_out (x 26..29, y = 7) before the end of the run
    end = me.iloc[-1]
    assert end.t < r.scenario.duration_s and 25.5 <= end.x <= 29.5 and end.y > 6.4


def test_concourse_quiet_has_no_event_and_uses_the_gates(runs):
    r = runs["concourse_quiet"]
    assert r.events == []
    assert r.model.exits_by_name["gates"] >= 5
    tr = r.model.truth.tracks_table().to_pandas().sort_values(["id", "t"])
    # every crossing of the gate line (x = 22.2) happens inside a 0.8 m gate opening
    x_prev = tr.groupby("id").x.shift()
    crossing = tr[(x_prev < 22.2) & (tr.x >= 22.2)]
    assert len(crossing) >= 5
    gates = [(5.4, 6.2), (6.8, 7.6), (8.2, 9.0), (9.6, 10.4)]
    assert all(any(lo < y < hi for lo, hi in gates) for y in crossing.y)


def test_concourse_overcrowding_raises_density_after_the_train(runs):
    r = runs["concourse_overcrowding"]
    dens = [e for e in r.events if e.type is EventType.EXCESSIVE_DENSITY]
    assert len(dens) >= 1
    assert all(e.t_start > 20.0 and e.zone == "gate_approach" for e in dens)
    capacity = r.scenario.station.zones[0].capacity_per_m2
    assert all(e.peak_density_per_m2 > capacity for e in dens)


@pytest.mark.parametrize("name", ["platform_intrusion", "concourse_quiet", "concourse_overcrowding"])
def test_bodies_stay_out_of_obstacles_and_on_the_floor(runs, name):
    r = runs[name]
    obstacles = [np.asarray(o, float) for o in r.scenario.station.obstacles]
    obstacle_edges = np.concatenate([polygon_edges(o) for o in obstacles]) if obstacles else np.zeros((0, 2, 2))
    walkable = np.asarray(r.scenario.station.walkable, float)
    for snap, state in r.snapshots:
        if len(snap) == 0:
            continue
        for obs in obstacles:
            assert not points_in_polygon(snap.pos_m, obs).any()
        if len(obstacle_edges):
            d, _ = segment_distances(snap.pos_m, obstacle_edges)
            assert (snap.radius_m - d.min(axis=1)).max() < 0.1
        normal = state < Behaviour.SCRIPTED  # not scripted, not stepping through a train's door
        assert points_in_polygon(snap.pos_m[normal], walkable).all()
    assert r.slot_errors == []


def test_snapshot_contract(runs):
    snap, _ = runs["concourse_overcrowding"].snapshots[-1]
    n = len(snap)
    assert n > 0
    assert snap.pos_m.shape == (n, 2) and snap.shirt_bgr.dtype == np.uint8 and snap.shirt_bgr.shape == (n, 3)
    assert set(np.unique(snap.posture)) <= {Posture.STANDING, Posture.WALKING}
    speed = np.hypot(*snap.vel_mps.T)
    assert np.array_equal(snap.posture == Posture.WALKING, speed > 0.2)
    assert len(np.unique(snap.ids)) == n
    assert np.all((snap.gait_phase >= 0) & (snap.gait_phase < 2 * np.pi))
    assert np.all((snap.height_m > 1.2) & (snap.height_m < 2.2))
