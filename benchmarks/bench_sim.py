"""Crowd simulation speed: 1,000 pedestrians on one core, against a per-agent Mesa model.

Usage::

    python benchmarks/bench_sim.py            # 1,200 steps (60 s simulated), naive peer 24 steps
    python benchmarks/bench_sim.py --quick    # 200 steps, naive peer 4 steps
    python benchmarks/bench_sim.py --profile  # also print the top of a cProfile of the model
    python benchmarks/bench_sim.py --fundamental-diagram  # speed-density check against Weidmann

The configuration ``hall_1000`` is an 80 m x 25 m hall whose two short sides are both
entrance and exit; 1,000 pedestrians start at random points and walk to the far side,
Poisson arrivals at both ends refill the hall and ``max_agents = 1000`` caps it, so the
real :class:`sim.model.StationModel` (floor fields, behaviours, arrivals, removals, Mesa
bookkeeping, ground truth) runs near 1,000 agents for the whole measurement at
``dt = 0.05 s``. The peer (:mod:`naive_mesa`) starts from the same positions, velocities,
speeds and radii and runs the same force model agent by agent in the same process.

Targets: >= 15x real time (>= 300 steps/s) and >= 20x the per-agent peer.
"""

from __future__ import annotations

import os

# one core: set before numpy/scipy load their thread pools
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from naive_mesa import NaiveCrowdModel  # noqa: E402
from sim.model import StationModel  # noqa: E402
from sim.scenario import build_scenario  # noqa: E402

HALL_W, HALL_H = 80.0, 25.0


def hall_scenario(n_agents: int = 1000, seed: int = 1):
    """The ``hall_1000`` configuration as a scenario."""
    west = [[0.0, 1.0], [0.0, HALL_H - 1.0]]
    east = [[HALL_W, 1.0], [HALL_W, HALL_H - 1.0]]
    return build_scenario({
        "name": f"bench_hall_{n_agents}",
        "duration_s": 3600,
        "seed": seed,
        "dt_s": 0.05,
        "station": {
            "walkable": [[0, 0], [HALL_W, 0], [HALL_W, HALL_H], [0, HALL_H]],
            "entrances": [
                {"name": "west", "segment": west, "rate_per_min": 600},
                {"name": "east", "segment": east, "rate_per_min": 600},
            ],
            "exits": [{"name": "west_out", "segment": west}, {"name": "east_out", "segment": east}],
        },
        "crowd": {"initial_count": n_agents, "max_agents": n_agents, "wait_fraction": 0.0},
        "cameras": [{"name": "top", "position": [40, -10, 12], "look_at": [40, 12, 0]}],
    }, where="bench")


def time_model(model: StationModel, steps: int) -> tuple[float, list[int]]:
    counts = []
    t0 = time.perf_counter()
    for _ in range(steps):
        model.step()
        counts.append(model.agent_count)
    return time.perf_counter() - t0, counts


def naive_from(model: StationModel) -> NaiveCrowdModel:
    """The peer, started from the model's current crowd (same bodies, speeds, floor fields)."""
    n = model.agent_count
    seg = model._exit_seg[model._exit_idx[:n]].reshape(n, 4)
    grid = model.grid
    origin = (float(grid.origin[0]), float(grid.origin[1]))
    per_field = [(f.direction, origin, grid.cell_m) for f in model.fields.fields]
    return NaiveCrowdModel(
        pos=model._pos[:n].copy(), vel=model._vel[:n].copy(), v0=model._v0[:n].copy(),
        radius=model._radius[:n].copy(), targets=seg, fields=[per_field[k] for k in model._field[:n]],
        walls=model.walls.segments.reshape(-1, 4), width=HALL_W, height=HALL_H, dt=model.dt, params=model.params,
    )


def weidmann_speed(rho):
    """[m/s] Weidmann (1993): v = 1.34 (1 - exp(-1.913 (1/rho - 1/5.4)))."""
    return 1.34 * (1.0 - np.exp(-1.913 * (1.0 / np.asarray(rho) - 1.0 / 5.4)))


def fundamental_diagram(densities=(0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0), *, length_m=20.0, width_m=4.0,
                        seconds=40.0, measure_s=15.0, dt=0.05, seed=0, params=None):
    """Mean walking speed [m/s] per density [persons/m²] in a periodic corridor.

    Everyone walks along +x with v0 ~ N(1.34, 0.26) (clipped to 0.5..2.1 m/s), radii
    uniform 0.2..0.26 m; the mean x velocity over the last ``measure_s`` seconds is kept.
    """
    from sim.crowd import SocialForceParams, Walls, motion_step

    params = params or SocialForceParams()
    walls = Walls(np.array([[[-1.0, 0.0], [length_m + 1.0, 0.0]], [[-1.0, width_m], [length_m + 1.0, width_m]]]),
                  reach_m=params.wall_cutoff_m)
    speeds = []
    for rho in densities:
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
        samples = []
        steps = int(round(seconds / dt))
        for k in range(steps):
            motion_step(pos=pos, vel=vel, desired_dir=e, desired_speed=v0, walk_speed=v0, radius=radius,
                        walls=walls, dt=dt, params=params, period_x_m=length_m)
            pos[:, 0] = np.mod(pos[:, 0], length_m)
            if (k + 1) * dt > seconds - measure_s:
                samples.append(vel[:, 0].mean())
        speeds.append(float(np.mean(samples)))
    return np.array(speeds)


def print_fundamental_diagram() -> None:
    rho = np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0])
    v = fundamental_diagram(rho)
    w = weidmann_speed(rho)
    rel = (v - w) / w
    print("density [1/m²]  " + " ".join(f"{r:5.1f}" for r in rho))
    print("model   [m/s]   " + " ".join(f"{x:5.2f}" for x in v))
    print("Weidmann [m/s]  " + " ".join(f"{x:5.2f}" for x in w))
    print(f"RMS relative error: {np.sqrt(np.mean(rel ** 2)) * 100:.0f} %  (periodic 20 m x 4 m corridor)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short run (200 steps, peer 4 steps)")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the vectorised model")
    ap.add_argument("--fundamental-diagram", action="store_true",
                    help="instead, print speed against density next to Weidmann's curve")
    args = ap.parse_args()
    if args.fundamental_diagram:
        print_fundamental_diagram()
        return
    # the two models run in alternating rounds so that both see the same machine load
    rounds, vec_per_round, naive_per_round, warmup = (2, 100, 2, 20) if args.quick else (6, 200, 4, 40)

    sc = hall_scenario(args.agents)
    t0 = time.perf_counter()
    model = StationModel(sc)
    init_s = time.perf_counter() - t0
    time_model(model, warmup)
    naive = naive_from(model)
    naive_agents = len(naive.agents)

    vec_s = naive_s = 0.0
    counts: list[int] = []
    round_ratios = []
    for _ in range(rounds):
        dt_vec, c = time_model(model, vec_per_round)
        t0 = time.perf_counter()
        for _ in range(naive_per_round):
            naive.step()
        dt_naive = time.perf_counter() - t0
        vec_s += dt_vec
        naive_s += dt_naive
        counts += c
        round_ratios.append((dt_naive / naive_per_round) / (dt_vec / vec_per_round))
    steps = rounds * vec_per_round
    sps = steps / vec_s
    naive_sps = rounds * naive_per_round / naive_s
    print(f"configuration: hall_1000 (80 m x 25 m hall, dt = {sc.dt_s} s, one thread, {rounds} alternating rounds)")
    print(f"model init:            {init_s * 1000:.0f} ms (floor fields, initial placement)")
    print(f"agents:                {np.mean(counts):.0f} mean, {min(counts)}..{max(counts)} during {steps} steps")
    print(f"vectorised steps/s:    {sps:.0f}  ({1000 / sps:.2f} ms/step)")
    print(f"real-time factor:      {sps * sc.dt_s:.1f}x  (target >= 15x)")
    print(f"naive Mesa steps/s:    {naive_sps:.2f}  ({naive_agents} agents, {rounds * naive_per_round} steps, "
          f"{1000 / naive_sps:.0f} ms/step, real-time factor {naive_sps * sc.dt_s:.2f}x)")
    print(f"ratio:                 {sps / naive_sps:.1f}x faster than the per-agent peer (target >= 20x; "
          f"per round {min(round_ratios):.1f}..{max(round_ratios):.1f}x)")

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        time_model(model, steps)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(18)


if __name__ == "__main__":
    main()
