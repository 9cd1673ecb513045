"""Fast properties of the crowd model's realism (the full comparisons with Weidmann's diagram,
the bottleneck flow and JuPedSim are in benchmarks/bench_realism.py)."""

import math
from dataclasses import replace

import numpy as np
import pytest

from sim.world.social_force import (
    Neighbours, SocialForceParams, Walls, avoidance_velocity, density_speed_factor, motion_step, perceived_density,
    replan_due, time_to_collision, wall_forces,
)
from sim.world.floorfield import FieldBank, NavGrid
from sim.geometry import wall_segments

PARAMS = SocialForceParams()


def corridor_walls(length_m: float, width_m: float) -> Walls:
    return Walls(np.array([[[-1.0, 0.0], [length_m + 1.0, 0.0]], [[-1.0, width_m], [length_m + 1.0, width_m]]]),
                 reach_m=PARAMS.wall_cutoff_m)


def lattice(rho: float, length_m: float, width_m: float, rng: np.random.Generator) -> np.ndarray:
    """[m] ``rho * length * width`` people on a grid filling the corridor, jittered by 1 cm."""
    n = int(round(rho * length_m * width_m))
    nx = int(np.ceil(np.sqrt(n * length_m / width_m)))
    ny = int(np.ceil(n / nx))
    gx, gy = np.meshgrid((np.arange(nx) + 0.5) * length_m / nx, (np.arange(ny) + 0.5) * width_m / ny)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)[:n] + rng.normal(0.0, 0.01, (n, 2))


def run_corridor(rho: float, *, length_m=10.0, width_m=3.0, seconds=12.0, measure_s=5.0, seed=0):
    """Mean x speed [m/s] over the last ``measure_s`` and the largest body overlap [m] seen, in a
    periodic corridor at ``rho`` persons/m² (jittered grid start, v0 ~ N(1.34, 0.26))."""
    rng = np.random.default_rng(seed)
    pos = lattice(rho, length_m, width_m, rng)
    n = len(pos)
    vel = np.zeros((n, 2))
    v0 = np.clip(rng.normal(1.34, 0.26, n), 0.5, 2.1)
    radius = rng.uniform(0.2, 0.26, n)
    e = np.tile([1.0, 0.0], (n, 1))
    walls = corridor_walls(length_m, width_m)
    dt = 0.05
    speeds, worst = [], 0.0
    steps = int(round(seconds / dt))
    for k in range(steps):
        motion_step(pos=pos, vel=vel, desired_dir=e, desired_speed=v0, walk_speed=v0, radius=radius,
                    walls=walls, dt=dt, params=PARAMS, period_x_m=length_m)
        pos[:, 0] = np.mod(pos[:, 0], length_m)
        nb = Neighbours(pos, 1.0, period_x_m=length_m)
        if len(nb):
            worst = max(worst, float(np.max(radius[nb.i] + radius[nb.j] - nb.d)))
        if (k + 1) * dt > seconds - measure_s:
            speeds.append(vel[:, 0].mean())
    assert np.all(np.isfinite(pos)) and np.all(np.isfinite(vel))
    return float(np.mean(speeds)), worst


def test_free_flow_speed_is_the_desired_speed():
    # three people 10 m apart in an empty 30 m x 4 m periodic corridor, each at its own speed
    v0 = np.array([0.9, 1.34, 1.7])
    pos = np.array([[0.0, 2.0], [10.0, 2.0], [20.0, 2.0]])
    vel = np.zeros((3, 2))
    e = np.tile([1.0, 0.0], (3, 1))
    walls = corridor_walls(30.0, 4.0)
    for _ in range(100):  # 5 s, ten relaxation times
        motion_step(pos=pos, vel=vel, desired_dir=e, desired_speed=v0, walk_speed=v0, radius=np.full(3, 0.23),
                    walls=walls, dt=0.05, params=PARAMS, period_x_m=30.0)
        pos[:, 0] = np.mod(pos[:, 0], 30.0)
    np.testing.assert_allclose(vel[:, 0], v0, rtol=0.05)
    assert np.all(np.abs(vel[:, 1]) < 0.05 * v0)


def test_speed_falls_with_density():
    v_low, _ = run_corridor(0.5)
    v_mid, _ = run_corridor(1.5)
    v_high, _ = run_corridor(3.0)
    assert v_low > v_mid > v_high > 0.0


def test_no_overlap_explosion_at_four_persons_per_m2():
    v, worst = run_corridor(4.0)
    assert worst < 0.1
    assert 0.0 < v < 0.6  # jammed but moving (Weidmann: 0.16 m/s)


def test_weidmann_factor_by_hand():
    rho = np.array([0.0, 2.0, 5.4, 7.0])
    f = density_speed_factor(rho, PARAMS)
    assert f[0] == 1.0
    assert f[1] == pytest.approx(1.0 - math.exp(-1.913 * (1 / 2.0 - 1 / 5.4)))
    assert f[2] == 0.0 and f[3] == 0.0
    off = SocialForceParams(weidmann_gamma_per_m2=0.0)
    np.testing.assert_array_equal(density_speed_factor(rho, off), np.ones(4))


def test_perceived_density_counts_people_ahead_only():
    # i at the origin walks along +x, j stands 1 m ahead of it (and i is behind j's +x)
    params = SocialForceParams(perception_sigma_m=1.0, perception_cone_power=2.0, perception_exclusion_m=0.4,
                               cutoff_m=2.0)
    pos = np.array([[0.0, 0.0], [1.0, 0.0]])
    e = np.array([[1.0, 0.0], [1.0, 0.0]])
    rho = perceived_density(Neighbours(pos, params.cutoff_m), e, params)
    # c_2 = 4 (cos² averages 1/4 over the circle); Gaussian normalised over 0.4 m < d < 2 m
    s2 = 2 * 1.0 ** 2
    expected = 4 * math.exp(-1 / s2) / (math.pi * s2 * (math.exp(-0.4 ** 2 / s2) - math.exp(-2.0 ** 2 / s2)))
    assert rho[0] == pytest.approx(expected)
    assert rho[1] == 0.0
    # beside (phi = 90 degrees) counts nothing with a cone
    beside = perceived_density(Neighbours(np.array([[0.0, 0.0], [0.0, 1.0]]), 2.0), e, params)
    np.testing.assert_allclose(beside, [0.0, 0.0], atol=1e-12)


def test_perceived_density_of_a_uniform_crowd_is_its_density():
    # a square lattice at 2 persons/m², far from its edges, looked at from every direction:
    # the mean estimate is within 5 % (a narrow cone along a lattice row sees the row's
    # nearest neighbour, a diagonal one does not: only the average over headings is the
    # density). The cut-off is widened to 3 m so that the lattice's first shells do not
    # dominate: this checks the normalisation (c_p, the ring); at the default 1.6 m a
    # lattice reads about 15 % high, which the fit to Weidmann's diagram absorbs.
    params = replace(PARAMS, cutoff_m=3.0)
    a = 1 / math.sqrt(2.0)
    g = np.arange(-10, 11) * a
    pos = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    centre = np.argmin(np.hypot(pos[:, 0], pos[:, 1]))
    nb = Neighbours(pos, params.cutoff_m)
    seen = []
    for angle in np.linspace(0.0, 2.0 * np.pi, 72, endpoint=False):
        e = np.tile([math.cos(angle), math.sin(angle)], (len(pos), 1))
        seen.append(perceived_density(nb, e, params)[centre])
    assert np.mean(seen) == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize("field, value, message", [
    ("weidmann_gamma_per_m2", -1.0, "SocialForceParams.weidmann_gamma_per_m2 must be >= 0; got -1.0"),
    ("perception_sigma_m", 0.0, "SocialForceParams.perception_sigma_m must be > 0; got 0.0"),
    ("perception_cone_power", -2.0, "SocialForceParams.perception_cone_power must be >= 0; got -2.0"),
])
def test_new_params_reject_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        SocialForceParams(**{field: value})


# --- time to collision, anticipation, keep right --------------------------------------------------


@pytest.mark.parametrize("x, v, contact, expected", [
    ((2.0, 0.0), (-2.0, 0.0), 0.5, (2.0 - 0.5) / 2.0),  # head on: the gap closes at 2 m/s
    ((2.0, 0.3), (-2.0, 0.0), 0.5, (2.0 - math.sqrt(0.5 ** 2 - 0.3 ** 2)) / 2.0),  # offset 0.3 m < 0.5 m
    ((2.0, 0.6), (-2.0, 0.0), 0.5, math.inf),  # offset 0.6 m > 0.5 m: they pass
    ((2.0, 0.0), (2.0, 0.0), 0.5, math.inf),  # moving apart
    ((0.3, 0.0), (-1.0, 0.0), 0.5, 0.0),  # already touching
    ((2.0, 0.0), (0.0, 0.0), 0.5, math.inf),  # no relative motion
])
def test_time_to_collision_by_hand(x, v, contact, expected):
    tau = time_to_collision(np.array([x[0]]), np.array([x[1]]), np.array([v[0]]), np.array([v[1]]), contact)
    assert tau[0] == pytest.approx(expected)


def walk(pos, e, v0, seconds, *, walls=None, radius=0.23, params=PARAMS, period_x_m=None):
    """Step people walking along ``e`` at ``v0`` (the avoidance re-planned as the station
    model does); return the positions ``(T, N, 2)`` and velocities after every step."""
    pos = np.array(pos, dtype=np.float64)
    e = np.array(e, dtype=np.float64)
    n = len(pos)
    vel = e * v0
    v0 = np.full(n, v0)
    avoid = np.zeros((n, 2))
    walls = walls if walls is not None else Walls(np.zeros((0, 2, 2)), reach_m=1.0)
    track, vels = [], []
    for k in range(int(round(seconds / 0.05))):
        motion_step(pos=pos, vel=vel, desired_dir=e, desired_speed=v0, walk_speed=v0, radius=np.full(n, radius),
                    walls=walls, dt=0.05, params=params, avoid_vel=avoid, replan=replan_due(k, 0.05, params),
                    period_x_m=period_x_m)
        track.append(pos.copy())
        vels.append(vel.copy())
    return np.array(track), np.array(vels)


def test_crossing_walkers_start_avoiding_more_than_a_second_before_contact():
    # two people on a collision course at right angles, 5 s from the crossing point
    v0 = 1.3
    track, vels = walk([[-6.5, 0.0], [0.0, -6.5]], [[1.0, 0.0], [0.0, 1.0]], v0, 8.0)
    first = np.flatnonzero(np.hypot(*(vels[:, 0] - [v0, 0.0]).T) > 0.02 * v0)
    assert len(first), "they never avoided"
    k = first[0] - 1  # the step before the velocity changed: where they were, how they moved
    dx, dv = track[k, 0] - track[k, 1], vels[k, 0] - vels[k, 1]
    tau = time_to_collision(dx[:1], dx[1:], dv[:1], dv[1:], 2 * 0.23)[0]
    assert 1.1 <= tau < math.inf
    # farther apart than the cut-off of the distance-based forces: this is anticipation
    assert np.hypot(*dx) > PARAMS.cutoff_m
    gap = np.hypot(*(track[:, 0] - track[:, 1]).T) - 2 * 0.23
    assert gap.min() > 0.0  # and they never touched


def test_head_on_walkers_pass_each_on_its_right():
    # exactly on one line: nothing but the side preference decides who goes where
    track, _ = walk([[0.0, 0.0], [10.0, 0.0]], [[1.0, 0.0], [-1.0, 0.0]], 1.3, 10.0)
    passing = np.argmin(np.abs(track[:, 0, 0] - track[:, 1, 0]))
    assert track[passing, 0, 1] < -0.1  # walking +x, the right is -y
    assert track[passing, 1, 1] > 0.1  # walking -x, the right is +y
    assert track[-1, 0, 0] > 10.0 and track[-1, 1, 0] < 0.0  # both went on


def test_people_walking_the_same_way_side_by_side_feel_no_anticipation():
    # parallel walkers at the same speed never collide: their plans stay zero
    pos = np.array([[0.0, 0.0], [0.0, 0.6], [1.5, 0.0]])
    vel = np.tile([1.3, 0.0], (3, 1))
    e = np.tile([1.0, 0.0], (3, 1))
    dv = avoidance_velocity(pos, vel, e, np.full(3, 0.23), PARAMS, Neighbours(pos, PARAMS.cutoff_m))
    np.testing.assert_array_equal(dv, np.zeros((3, 2)))


def counterflow(rho: float, *, seconds: float, length_m=10.0, width_m=3.0, seed=0):
    """Half walking each way, randomly mixed, in a periodic corridor: (share of people slower
    than 0.1 m/s over the last second, mean speed [m/s] along each one's own direction over
    the last 5 s)."""
    rng = np.random.default_rng(seed)
    pos = lattice(rho, length_m, width_m, rng)
    n = len(pos)
    sign = rng.permutation(np.where(np.arange(n) < n // 2, 1.0, -1.0))
    e = np.stack([sign, np.zeros(n)], axis=1)
    v0 = np.clip(rng.normal(1.34, 0.26, n), 0.5, 2.1)
    vel, avoid, walked = np.zeros((n, 2)), np.zeros((n, 2)), [np.zeros(n)]
    walls = corridor_walls(length_m, width_m)
    radius = rng.uniform(0.2, 0.26, n)
    for k in range(int(round(seconds / 0.05))):
        motion_step(pos=pos, vel=vel, desired_dir=e, desired_speed=v0, walk_speed=v0, radius=radius, walls=walls,
                    dt=0.05, params=PARAMS, period_x_m=length_m, avoid_vel=avoid, replan=replan_due(k, 0.05, PARAMS))
        pos[:, 0] = np.mod(pos[:, 0], length_m)
        walked.append(walked[-1] + vel[:, 0] * sign * 0.05)
    walked = np.array(walked)
    stopped = float(np.mean((walked[-1] - walked[-21]) < 0.1))
    speed = float(np.mean(walked[-1] - walked[-101]) / 5.0)
    return stopped, speed


def test_counterflow_at_two_persons_per_m2_does_not_gridlock():
    stopped, speed = counterflow(2.0, seconds=25.0)
    assert stopped <= 0.10
    assert speed > 0.3  # Weidmann one way at 2 /m²: 0.61 m/s


# --- walls ------------------------------------------------------------------------------------------

DOOR_EDGE = np.array([[[0.0, 4.0], [0.0, 0.35]], [[0.0, 0.35], [0.4, 0.35]]])  # wall, then the door's side


@pytest.mark.parametrize("point, alone", [
    ((-0.2, 0.1), 0),  # in front of the edge: both segments' nearest point is the shared vertex
    ((0.1, 0.2), 1),  # inside the door, beside its side wall, beyond the wall's end
    ((-0.2, 0.6), 0),  # beside the wall, beyond the end of the door's side
])
def test_a_door_edge_pushes_like_one_segment(point, alone):
    pos = np.array([point])
    both = np.zeros((1, 2))
    wall_forces(pos, np.zeros((1, 2)), np.array([0.25]), Walls(DOOR_EDGE, reach_m=1.0), PARAMS, 0.05, both)
    one = np.zeros((1, 2))
    wall_forces(pos, np.zeros((1, 2)), np.array([0.25]), Walls(DOOR_EDGE[alone:alone + 1], reach_m=1.0), PARAMS,
                0.05, one)
    assert np.linalg.norm(one) > 1.0  # the case pushes at all
    np.testing.assert_allclose(both, one, rtol=1e-12)


def test_a_wall_in_two_pieces_pushes_like_the_whole_wall():
    pos = np.array([[1.95, 0.3], [2.0, 0.3], [2.3, 0.3]])  # beside the joint at x = 2
    radius = np.full(3, 0.25)
    whole = np.zeros((3, 2))
    wall_forces(pos, np.zeros((3, 2)), radius, Walls(np.array([[[0.0, 0.0], [4.0, 0.0]]]), reach_m=1.0), PARAMS,
                0.05, whole)
    pieces = np.zeros((3, 2))
    split = np.array([[[0.0, 0.0], [2.0, 0.0]], [[2.0, 0.0], [4.0, 0.0]]])
    wall_forces(pos, np.zeros((3, 2)), radius, Walls(split, reach_m=1.0), PARAMS, 0.05, pieces)
    np.testing.assert_allclose(pieces, whole, rtol=1e-12)


def door(width_m: float):
    """A room (x -6..0, y -4..4), a door ``width_m`` wide and 0.4 m deep from x = 0, a room beyond."""
    h = width_m / 2
    walkable = np.array([(-6, -4), (0, -4), (0, -h), (0.4, -h), (0.4, -4), (5, -4), (5, 4), (0.4, 4), (0.4, h),
                         (0, h), (0, 4), (-6, 4)], dtype=np.float64)
    exit_segment = np.array([[5.0, -4.0], [5.0, 4.0]])
    return walkable, exit_segment


def test_door_edges_steer_a_walker_through_but_do_not_brake_it():
    walkable, exit_segment = door(0.7)
    walls = Walls(wall_segments(walkable, openings=[exit_segment]), reach_m=1.0)
    pos = np.array([[-0.2, 0.0]])  # centred, just in front of the door
    f = np.zeros((1, 2))
    wall_forces(pos, np.zeros((1, 2)), np.array([0.26]), walls, PARAMS, 0.05, f, np.array([[1.0, 0.0]]))
    assert f[0, 0] >= 0.0
    # walking into the wall beside the door instead: it brakes
    g = np.zeros((1, 2))
    wall_forces(np.array([[-0.3, 1.0]]), np.zeros((1, 2)), np.array([0.26]), walls, PARAMS, 0.05, g,
                np.array([[1.0, 0.0]]))
    assert g[0, 0] < -100.0


@pytest.mark.parametrize("width_m", [0.7, 0.8])
def test_a_slow_walker_alone_passes_a_narrow_door(width_m):
    walkable, exit_segment = door(width_m)
    walls = Walls(wall_segments(walkable, openings=[exit_segment]), reach_m=1.0)
    grid = NavGrid(walkable)
    bank = FieldBank(grid)
    bank.add(grid.field_to_segment(*exit_segment))
    starts = [(-3.0, 3.0), (-0.6, 2.5), (-4.0, -1.0), (-1.0, 0.4)]
    for start in starts:
        pos = np.array([start])
        vel = np.zeros((1, 2))
        v0 = np.array([0.6])  # a slow walker: the weakest drive
        for k in range(400):  # 20 s
            e = bank.sample(np.zeros(1, np.int64), pos)
            motion_step(pos=pos, vel=vel, desired_dir=e, desired_speed=v0, walk_speed=v0, radius=np.array([0.26]),
                        walls=walls, dt=0.05, params=PARAMS)
            if pos[0, 0] > 0.4:
                break
        assert pos[0, 0] > 0.4, f"stalled at {pos[0].round(2).tolist()} from {start}"


def test_the_floor_field_goes_round_a_thin_wall_not_through_it():
    # a hall split by a wall 0.4 m thick with one opening 15 m along it; the destination lies beyond
    walkable = np.array([[0.0, 0.0], [30.0, 0.0], [30.0, 20.0], [0.0, 20.0]])
    wall = [np.array([[0.0, 9.8], [14.0, 9.8], [14.0, 10.2], [0.0, 10.2]]),
            np.array([[15.0, 9.8], [30.0, 9.8], [30.0, 10.2], [15.0, 10.2]])]
    grid = NavGrid(walkable, wall)
    bank = FieldBank(grid)
    bank.add(grid.field_to_point(np.array([28.0, 2.0])))
    # just above the wall, 13 m from the opening: the way is along the wall, toward the opening
    e = bank.sample(np.zeros(1, np.int64), np.array([[28.0, 10.8]]))[0]
    assert e[0] < -0.9, f"the field points {e.round(2).tolist()}"
