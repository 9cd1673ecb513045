"""Crowd simulation speed on one core: 1,000 and 10,000 pedestrians, each against a peer.

Usage::

    python benchmarks/bench_sim.py                 # both configurations
    python benchmarks/bench_sim.py --config 1k     # one of them (1k, 10k)
    python benchmarks/bench_sim.py --quick         # fewer steps
    python benchmarks/bench_sim.py --profile       # also print the top of a cProfile of the model

Configurations (the real :class:`sim.world.model.StationModel`: floor fields, behaviours,
arrivals, removals, Mesa bookkeeping and the ground-truth recorder, at ``dt = 0.05 s``):

``1k``
    An 80 m x 25 m hall whose two short sides are both entrance and exit; 1,000
    pedestrians start at random points and walk to the far side, Poisson arrivals at both
    ends refill the hall and ``max_agents = 1000`` caps it. The peer (:mod:`naive_mesa`)
    starts from the same positions, velocities, speeds and radii and runs the same force
    model agent by agent in the same process. Targets: >= 15x real time (>= 300 steps/s)
    and >= 20x the per-agent peer.
``10k``
    The same layout at 200 m x 50 m with 10,000 pedestrians (1 person/m²). The peer is
    JuPedSim's collision-free speed model (C++, :mod:`jupedsim_peer`) on the same hall,
    started from the same crowd, at the same ``dt = 0.05 s``; both are measured in
    agent-steps per CPU second, in alternating rounds. Targets: >= 1.5x real time (>= 30
    steps/s) and at least as many agent-steps per CPU second as the peer. Without JuPedSim
    installed the peer is skipped with a note.

The fundamental diagram and the bottleneck flow are in ``benchmarks/bench_realism.py``.
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
from sim.world.model import StationModel  # noqa: E402
from sim.scenario import build_scenario  # noqa: E402

#: name -> (hall width [m], hall depth [m], agents, arrival rate per entrance [1/min])
CONFIGS = {"1k": (80.0, 25.0, 1000, 600), "10k": (200.0, 50.0, 10000, 6000)}


def hall_scenario(config: str | int = "1k", seed: int = 1):
    """A named configuration's hall as a scenario (``config`` a name of :data:`CONFIGS`, or its
    agent count: 1000 or 10000)."""
    if isinstance(config, int):
        by_count = {n: name for name, (_, _, n, _) in CONFIGS.items()}
        if config not in by_count:
            raise ValueError(f"hall_scenario: config must be one of {sorted(by_count)} agents; got {config}")
        config = by_count[config]
    if config not in CONFIGS:
        raise ValueError(f"hall_scenario: config must be one of {sorted(CONFIGS)}; got {config!r}")
    width, depth, n_agents, rate = CONFIGS[config]
    west = [[0.0, 1.0], [0.0, depth - 1.0]]
    east = [[width, 1.0], [width, depth - 1.0]]
    return build_scenario({
        "name": f"bench_hall_{config}",
        "duration_s": 3600,
        "seed": seed,
        "dt_s": 0.05,
        "station": {
            "walkable": [[0, 0], [width, 0], [width, depth], [0, depth]],
            "entrances": [
                {"name": "west", "segment": west, "rate_per_min": rate},
                {"name": "east", "segment": east, "rate_per_min": rate},
            ],
            "exits": [{"name": "west_out", "segment": west}, {"name": "east_out", "segment": east}],
        },
        "crowd": {"initial_count": n_agents, "max_agents": n_agents, "wait_fraction": 0.0},
        "cameras": [{"name": "top", "position": [width / 2, -10, 12], "look_at": [width / 2, depth / 2, 0]}],
    }, where="bench")


def time_model(model: StationModel, steps: int) -> tuple[float, list[int], float]:
    """Wall seconds, agent count after each step, CPU seconds."""
    counts = []
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(steps):
        model.step()
        counts.append(model.agent_count)
    return time.perf_counter() - t0, counts, time.process_time() - c0


def naive_from(model: StationModel) -> NaiveCrowdModel:
    """The peer, started from the model's current crowd (same bodies, speeds, floor fields)."""
    n = model.agent_count
    seg = model._exit_seg[model.people.exit_idx[:n]].reshape(n, 4)
    grid = model.grid
    origin = (float(grid.origin[0]), float(grid.origin[1]))
    per_field = [(f.direction, origin, grid.cell_m) for f in model.fields.fields]
    return NaiveCrowdModel(
        pos=model.people.pos[:n].copy(), vel=model.people.vel[:n].copy(), v0=model.people.v0[:n].copy(),
        radius=model.people.radius[:n].copy(), targets=seg, fields=[per_field[k] for k in model.people.field[:n]],
        walls=model.walls.segments.reshape(-1, 4), width=CONFIGS["1k"][0], height=CONFIGS["1k"][1], dt=model.dt,
        params=model.params,
    )


def jupedsim_from(model: StationModel):
    """JuPedSim's collision-free speed model on the model's hall, started from its crowd."""
    import jupedsim_peer

    n = model.agent_count
    walk = model.walkable
    pos = model.people.pos[:n].copy()
    lo, hi = walk.min(axis=0), walk.max(axis=0)
    clearance = np.minimum(np.minimum(pos[:, 0] - lo[0], hi[0] - pos[:, 0]),
                           np.minimum(pos[:, 1] - lo[1], hi[1] - pos[:, 1]))
    exits = []
    for (ax, ay), (bx, by) in model._exit_seg:
        # a strip 0.5 m deep inside the doorway: JuPedSim removes agents that enter it
        x0 = min(ax, bx)
        depth = 0.5 if x0 <= lo[0] + 1e-9 else -0.5
        exits.append(np.array([(x0, min(ay, by)), (x0 + depth, min(ay, by)), (x0 + depth, max(ay, by)),
                               (x0, max(ay, by))]))
    return jupedsim_peer.HallPeer(walk, exits, pos, model.people.v0[:n].copy(), model.people.radius[:n].copy(),
                                  model.people.exit_idx[:n].copy(), clearance, dt=model.dt)


def bench_1k(quick: bool, profile: bool) -> None:
    # the two models run in alternating rounds so that both see the same machine load
    rounds, vec_per_round, naive_per_round, warmup = (2, 100, 2, 20) if quick else (6, 200, 4, 40)
    sc = hall_scenario("1k")
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
        dt_vec, c, _ = time_model(model, vec_per_round)
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
    print(f"configuration: 1k (80 m x 25 m hall, dt = {sc.dt_s} s, one thread, {rounds} alternating rounds)")
    print(f"model init:            {init_s * 1000:.0f} ms (floor fields, initial placement)")
    print(f"agents:                {np.mean(counts):.0f} mean, {min(counts)}..{max(counts)} during {steps} steps")
    print(f"vectorised steps/s:    {sps:.0f}  ({1000 / sps:.2f} ms/step)")
    print(f"real-time factor:      {sps * sc.dt_s:.1f}x  (target >= 15x)")
    print(f"naive Mesa steps/s:    {naive_sps:.2f}  ({naive_agents} agents, {rounds * naive_per_round} steps, "
          f"{1000 / naive_sps:.0f} ms/step, real-time factor {naive_sps * sc.dt_s:.2f}x)")
    print(f"ratio:                 {sps / naive_sps:.1f}x faster than the per-agent peer (target >= 20x; "
          f"per round {min(round_ratios):.1f}..{max(round_ratios):.1f}x)")
    if profile:
        print_profile(model, steps)


def bench_10k(quick: bool, profile: bool) -> None:
    import jupedsim_peer

    rounds, per_round, warmup = (2, 40, 10) if quick else (5, 80, 20)
    sc = hall_scenario("10k")
    t0 = time.perf_counter()
    model = StationModel(sc)
    init_s = time.perf_counter() - t0
    time_model(model, warmup)
    use_peer = jupedsim_peer.available()
    peer = None
    if use_peer:
        peer = jupedsim_from(model)
        peer.run(warmup)  # the inserted bodies settle
    ours_wall = ours_cpu = 0.0
    ours_agent_steps = 0
    counts: list[int] = []
    peer_runs = []
    for _ in range(rounds):
        wall, c, cpu = time_model(model, per_round)
        ours_wall += wall
        ours_cpu += cpu
        ours_agent_steps += int(np.sum(c))
        counts += c
        if peer is not None:
            peer_runs.append(peer.run(per_round))
    steps = rounds * per_round
    sps = steps / ours_wall
    ours_rate = ours_agent_steps / ours_cpu
    print(f"configuration: 10k (200 m x 50 m hall, dt = {sc.dt_s} s, one thread, {rounds} alternating rounds "
          f"of {per_round} steps)")
    print(f"model init:            {init_s:.1f} s (floor fields, initial placement)")
    print(f"agents:                {np.mean(counts):.0f} mean, {min(counts)}..{max(counts)} during {steps} steps")
    print(f"ours steps/s:          {sps:.1f}  ({1000 / sps:.1f} ms/step wall, {1000 * ours_cpu / steps:.1f} ms CPU; "
          f"target >= 30)")
    print(f"real-time factor:      {sps * sc.dt_s:.2f}x  (target >= 1.5x)")
    print(f"ours agent-steps/s:    {ours_rate / 1e3:.0f} k per CPU second")
    if peer_runs:
        p_agent_steps = sum(r.agent_steps for r in peer_runs)
        p_cpu = sum(r.cpu_s for r in peer_runs)
        p_rate = p_agent_steps / p_cpu
        p_sps = steps / sum(r.wall_s for r in peer_runs)
        print(f"JuPedSim CFS:          {p_rate / 1e3:.0f} k agent-steps per CPU second ({p_sps:.1f} steps/s, "
              f"{p_agent_steps / steps:.0f} agents mean; JuPedSim {jupedsim_peer._version()}, dt = {sc.dt_s} s)")
        print(f"ratio:                 {ours_rate / p_rate:.2f}x the agent-steps per CPU second of JuPedSim's "
              f"collision-free speed model (target >= 1)")
    else:
        print(jupedsim_peer.unavailable_note())
    if profile:
        print_profile(model, steps)


def print_profile(model: StationModel, steps: int) -> None:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    time_model(model, steps)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(18)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", nargs="+", choices=sorted(CONFIGS), default=["1k", "10k"])
    ap.add_argument("--quick", action="store_true", help="fewer steps")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the vectorised model")
    args = ap.parse_args()
    for k, name in enumerate(args.config):
        if k:
            print()
        {"1k": bench_1k, "10k": bench_10k}[name](args.quick, args.profile)


if __name__ == "__main__":
    main()
