"""Crowd simulation speed: 1,000 pedestrians on one core, against a per-agent Mesa model.

Usage::

    python benchmarks/bench_sim.py            # 1,200 steps (60 s simulated), naive peer 20 steps
    python benchmarks/bench_sim.py --quick    # 200 steps, naive peer 3 steps
    python benchmarks/bench_sim.py --profile  # also print the top of a cProfile of the model

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
    n = model.agent_count
    seg = model._exit_seg[model._exit_idx[:n]].reshape(n, 4)
    return NaiveCrowdModel(
        pos=model._pos[:n].copy(), vel=model._vel[:n].copy(), v0=model._v0[:n].copy(),
        radius=model._radius[:n].copy(), targets=seg, walls=model.walls.segments.reshape(-1, 4),
        width=HALL_W, height=HALL_H, dt=model.dt, params=model.params,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short run (200 steps, peer 3 steps)")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the vectorised model")
    args = ap.parse_args()
    steps, naive_steps, warmup = (200, 3, 20) if args.quick else (1200, 20, 40)

    sc = hall_scenario(args.agents)
    t0 = time.perf_counter()
    model = StationModel(sc)
    init_s = time.perf_counter() - t0
    time_model(model, warmup)

    naive = naive_from(model)
    naive_agents = len(naive.agents)
    naive_s, _ = time_model_naive(naive, naive_steps)

    elapsed, counts = time_model(model, steps)
    sps = steps / elapsed
    naive_sps = naive_steps / naive_s
    print("configuration: hall_1000 (80 m x 25 m hall, dt = 0.05 s, one thread)")
    print(f"model init:            {init_s * 1000:.0f} ms (floor fields, initial placement)")
    print(f"agents:                {np.mean(counts):.0f} mean, {min(counts)}..{max(counts)} during {steps} steps")
    print(f"vectorised steps/s:    {sps:.0f}  ({1000 / sps:.2f} ms/step)")
    print(f"real-time factor:      {sps * sc.dt_s:.1f}x  (target >= 15x)")
    print(f"naive Mesa steps/s:    {naive_sps:.2f}  ({naive_agents} agents, {naive_steps} steps, "
          f"{1000 / naive_sps:.0f} ms/step, real-time factor {naive_sps * sc.dt_s:.2f}x)")
    print(f"ratio:                 {sps / naive_sps:.1f}x faster than the per-agent peer (target >= 20x)")

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        time_model(model, steps)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(18)


def time_model_naive(model: NaiveCrowdModel, steps: int) -> tuple[float, None]:
    t0 = time.perf_counter()
    for _ in range(steps):
        model.step()
    return time.perf_counter() - t0, None


if __name__ == "__main__":
    main()
