"""Fast properties of the crowd model's realism (the full comparisons with Weidmann's diagram,
the bottleneck flow and JuPedSim are in benchmarks/bench_realism.py)."""

import math

import numpy as np
import pytest

from sim.world.social_force import Neighbours, SocialForceParams, Walls, density_speed_factor, motion_step, perceived_density

PARAMS = SocialForceParams()


def corridor_walls(length_m: float, width_m: float) -> Walls:
    return Walls(np.array([[[-1.0, 0.0], [length_m + 1.0, 0.0]], [[-1.0, width_m], [length_m + 1.0, width_m]]]),
                 reach_m=PARAMS.wall_cutoff_m)


def run_corridor(rho: float, *, length_m=10.0, width_m=3.0, seconds=12.0, measure_s=5.0, seed=0):
    """Mean x speed [m/s] over the last ``measure_s`` and the largest body overlap [m] seen, in a
    periodic corridor at ``rho`` persons/m² (jittered grid start, v0 ~ N(1.34, 0.26))."""
    rng = np.random.default_rng(seed)
    n = int(round(rho * length_m * width_m))
    nx = int(np.ceil(np.sqrt(n * length_m / width_m)))
    ny = int(np.ceil(n / nx))
    gx, gy = np.meshgrid((np.arange(nx) + 0.5) * length_m / nx, (np.arange(ny) + 0.5) * width_m / ny)
    pos = np.stack([gx.ravel(), gy.ravel()], axis=1)[:n] + rng.normal(0.0, 0.01, (n, 2))
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
    # a square lattice at 2 persons/m², far from its edges: the estimate is within 5 %
    a = 1 / math.sqrt(2.0)
    g = np.arange(-10, 11) * a
    pos = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    centre = np.argmin(np.hypot(pos[:, 0], pos[:, 1]))
    for heading in ([1.0, 0.0], [math.cos(0.4), math.sin(0.4)]):
        e = np.tile(heading, (len(pos), 1))
        rho = perceived_density(Neighbours(pos, PARAMS.cutoff_m), e, PARAMS)
        assert rho[centre] == pytest.approx(2.0, rel=0.05)


@pytest.mark.parametrize("field, value, message", [
    ("weidmann_gamma_per_m2", -1.0, "SocialForceParams.weidmann_gamma_per_m2 must be >= 0; got -1.0"),
    ("perception_sigma_m", 0.0, "SocialForceParams.perception_sigma_m must be > 0; got 0.0"),
    ("perception_cone_power", -2.0, "SocialForceParams.perception_cone_power must be >= 0; got -2.0"),
])
def test_new_params_reject_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        SocialForceParams(**{field: value})
