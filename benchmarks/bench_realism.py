"""Realism of the crowd model against published measurements, next to JuPedSim.

Usage::

    python benchmarks/bench_realism.py            # 8 densities, 5 bottleneck seeds, JuPedSim too
    python benchmarks/bench_realism.py --quick    # 4 densities, 3 seeds, shorter runs
    python benchmarks/bench_realism.py --no-peer  # ours only

Two comparisons, each printed as a table, then drawn with JuPedSim's models in
``docs/realism.png`` (``--figure`` to change the path):

1. **Fundamental diagram.** Mean walking speed against density in a periodic corridor
   (20 m x 4 m, x periodic) against Weidmann (1993),
   ``v = 1.34 (1 - exp(-1.913 (1/rho - 1/5.4)))`` m/s, at 0.5 .. 4 persons/m²; desired
   speeds ~ N(1.34, 0.26) m/s clipped to 0.5..2.1, radii uniform 0.2..0.26 m, everyone
   walking along +x. The figure is the RMS of the relative error; target <= 10 %.
   JuPedSim has no periodic boundary, so its models (and ours again, for a like-for-like
   check) run on a ring corridor of the same 4 m width (inner radius 6 m).
2. **Bottleneck.** 100 people start on a jittered lattice in an 8 m x 6 m waiting room
   (2.6 persons/m² where they stand) in front of a 1 m wide, 2.8 m long bottleneck (the set-up of Seyfried et
   al. 2009) and walk through it to an exit; the specific flow [persons/(m s)] is the
   number of crossings of the bottleneck's middle line between the 10th and the
   10th-last, over the time between them, per metre of width. Mean and 95 % interval
   (Student t) over seeds; target 1.6 to 2.0 persons/(m s), Seyfried et al. (2009).

JuPedSim (optional) runs its collision-free speed model (time step 0.05 s, as ours) and
its social force model (its default 0.01 s, which its contact forces need) with their
default parameters. One thread throughout.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import jupedsim_peer as peer  # noqa: E402
from sim.world.social_force import SocialForceParams, Walls, motion_step  # noqa: E402
from sim.world.floorfield import FieldBank, NavGrid  # noqa: E402
from sim.geometry import polygon_edges, wall_segments  # noqa: E402

DENSITIES = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
QUICK_DENSITIES = (0.5, 1.5, 2.5, 3.5)
TARGET_RMS = 0.10
FLOW_RANGE = (1.6, 2.0)  #: [persons/(m s)] Seyfried et al. (2009), 1 m bottleneck
CORRIDOR_M = (20.0, 4.0)  #: [m] length (periodic) and width of the corridor
RING_M = (6.0, 10.0)  #: [m] inner and outer radius of the ring corridor
DT_S = 0.05
ROOT = Path(__file__).resolve().parent.parent


def weidmann_speed(rho):
    """[m/s] Weidmann (1993): ``1.34 (1 - exp(-1.913 (1/rho - 1/5.4)))``, rho in persons/m²."""
    return 1.34 * (1.0 - np.exp(-1.913 * (1.0 / np.asarray(rho, dtype=np.float64) - 1.0 / 5.4)))


@dataclass
class Crowd:
    """Start state shared by both simulators: positions [m], desired speeds [m/s], radii [m]."""

    pos: np.ndarray
    v0: np.ndarray
    radius: np.ndarray


def _bodies(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.clip(rng.normal(1.34, 0.26, n), 0.5, 2.1), rng.uniform(0.2, 0.26, n)


def corridor_crowd(rho: float, seed: int, length_m: float = CORRIDOR_M[0], width_m: float = CORRIDOR_M[1]) -> Crowd:
    """``rho * length * width`` people on a jittered grid filling the corridor."""
    rng = np.random.default_rng(seed)
    n = int(round(rho * length_m * width_m))
    nx = int(np.ceil(np.sqrt(n * length_m / width_m)))
    ny = int(np.ceil(n / nx))
    gx, gy = np.meshgrid((np.arange(nx) + 0.5) * length_m / nx, (np.arange(ny) + 0.5) * width_m / ny)
    pos = np.stack([gx.ravel(), gy.ravel()], axis=1)[:n] + rng.normal(0.0, 0.01, (n, 2))
    v0, radius = _bodies(rng, n)
    return Crowd(pos, v0, radius)


def ring_crowd(rho: float, seed: int, r_inner_m: float = RING_M[0], r_outer_m: float = RING_M[1]) -> Crowd:
    """``rho`` times the ring's area people on concentric rows, evenly spaced along each row."""
    rng = np.random.default_rng(seed)
    width = r_outer_m - r_inner_m
    n = int(round(rho * math.pi * (r_outer_m ** 2 - r_inner_m ** 2)))
    rows = max(int(round(width * math.sqrt(rho))), 1)
    radii = r_inner_m + (np.arange(rows) + 0.5) * width / rows
    share = radii / radii.sum()
    counts = np.floor(share * n).astype(int)
    counts[: n - counts.sum()] += 1
    pts = []
    for r, c in zip(radii, counts):
        a = (np.arange(c) + rng.uniform()) * 2.0 * np.pi / c
        pts.append(np.stack([r * np.cos(a), r * np.sin(a)], axis=1))
    pos = np.concatenate(pts) + rng.normal(0.0, 0.01, (n, 2))
    v0, radius = _bodies(rng, n)
    return Crowd(pos, v0, radius)


def corridor_speed(params: SocialForceParams, crowd: Crowd, *, seconds: float, measure_s: float,
                   length_m: float = CORRIDOR_M[0], width_m: float = CORRIDOR_M[1], dt: float = DT_S) -> float:
    """[m/s] Our mean x speed in the periodic corridor over the last ``measure_s`` seconds."""
    walls = Walls(np.array([[[-1.0, 0.0], [length_m + 1.0, 0.0]], [[-1.0, width_m], [length_m + 1.0, width_m]]]),
                  reach_m=params.wall_cutoff_m)
    pos = crowd.pos.copy()
    vel = np.zeros_like(pos)
    e = np.tile([1.0, 0.0], (len(pos), 1))
    samples = []
    steps = int(round(seconds / dt))
    for k in range(steps):
        motion_step(pos=pos, vel=vel, desired_dir=e, desired_speed=crowd.v0, walk_speed=crowd.v0,
                    radius=crowd.radius, walls=walls, dt=dt, params=params, period_x_m=length_m)
        pos[:, 0] = np.mod(pos[:, 0], length_m)
        if (k + 1) * dt > seconds - measure_s:
            samples.append(vel[:, 0].mean())
    return float(np.mean(samples))


def ring_speed_ours(params: SocialForceParams, crowd: Crowd, *, seconds: float, measure_s: float,
                    r_inner_m: float = RING_M[0], r_outer_m: float = RING_M[1], dt: float = DT_S) -> float:
    """[m/s] Our mean tangential speed on the ring corridor (walls: the two polygons)."""
    outer, inner = peer.ring_polygon(r_inner_m, r_outer_m)
    walls = Walls(np.concatenate([polygon_edges(outer), polygon_edges(inner)]), reach_m=params.wall_cutoff_m)
    pos = crowd.pos.copy()
    vel = np.zeros_like(pos)
    samples = []
    steps = int(round(seconds / dt))
    for k in range(steps):
        r = np.hypot(pos[:, 0], pos[:, 1])
        e = np.stack([-pos[:, 1] / r, pos[:, 0] / r], axis=1)
        motion_step(pos=pos, vel=vel, desired_dir=e, desired_speed=crowd.v0, walk_speed=crowd.v0,
                    radius=crowd.radius, walls=walls, dt=dt, params=params)
        if (k + 1) * dt > seconds - measure_s:
            samples.append(float(np.mean(vel[:, 0] * e[:, 0] + vel[:, 1] * e[:, 1])))
    return float(np.mean(samples))


# --- bottleneck ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bottleneck:
    """A waiting room (x -6..0, y -4..4), a ``width`` x ``length`` bottleneck from x = 0, and an
    exit room 5 m deep whose far wall is the exit."""

    width_m: float = 1.0
    length_m: float = 2.8

    @property
    def walkable(self) -> np.ndarray:
        h, ln = self.width_m / 2, self.length_m
        return np.array([(-6, -4), (0, -4), (0, -h), (ln, -h), (ln, -4), (ln + 5, -4), (ln + 5, 4), (ln, 4),
                         (ln, h), (0, h), (0, 4), (-6, 4)], dtype=np.float64)

    @property
    def exit_segment(self) -> np.ndarray:
        return np.array([[self.length_m + 5, -4], [self.length_m + 5, 4]], dtype=np.float64)

    @property
    def exit_polygon(self) -> np.ndarray:
        x = self.length_m + 5
        return np.array([(x - 0.5, -4), (x, -4), (x, 4), (x - 0.5, 4)], dtype=np.float64)

    @property
    def line_x_m(self) -> float:
        """[m] the measurement line: the middle of the bottleneck."""
        return self.length_m / 2


def bottleneck_crowd(n: int, seed: int) -> Crowd:
    """``n`` people on a random subset of a 9 x 13 lattice (0.58 m x 0.57 m) over the waiting
    room, jittered by up to 2 cm: no two bodies touch (random sequential placement jams at
    these densities)."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.linspace(-5.7, -0.5, 9), np.linspace(-3.7, 3.7, 13))
    lattice = np.stack([gx.ravel(), gy.ravel()], axis=1)
    if n > len(lattice):
        raise ValueError(f"bottleneck_crowd: n must be <= {len(lattice)}; got {n}")
    pos = lattice[np.sort(rng.choice(len(lattice), size=n, replace=False))]
    pos = pos + rng.uniform(-0.02, 0.02, pos.shape)
    v0, radius = _bodies(rng, n)
    return Crowd(pos, v0, radius)


def bottleneck_crossings_ours(params: SocialForceParams, crowd: Crowd, geo: Bottleneck, *, t_max_s: float = 150.0,
                              dt: float = DT_S) -> np.ndarray:
    """[s] Sorted times of our agents' first crossing of the bottleneck's middle line; they
    steer by the floor field of the exit (as in the station model) and leave near it."""
    walls = Walls(wall_segments(geo.walkable, openings=[geo.exit_segment]), reach_m=params.wall_cutoff_m)
    grid = NavGrid(geo.walkable)
    bank = FieldBank(grid)
    bank.add(grid.field_to_segment(*geo.exit_segment))
    pos, v0, radius = crowd.pos.copy(), crowd.v0.copy(), crowd.radius.copy()
    vel = np.zeros_like(pos)
    ids = np.arange(len(pos))
    crossed = np.full(len(pos), np.nan)
    t = 0.0
    leave_x = geo.exit_segment[0, 0] - 0.5
    while len(ids) and t < t_max_s:
        e = bank.sample(np.zeros(len(ids), np.int64), pos)
        before = pos[:, 0] < geo.line_x_m
        motion_step(pos=pos, vel=vel, desired_dir=e, desired_speed=v0, walk_speed=v0, radius=radius,
                    walls=walls, dt=dt, params=params)
        t += dt
        now = before & (pos[:, 0] >= geo.line_x_m)
        first = now & np.isnan(crossed[ids])
        crossed[ids[first]] = t
        keep = pos[:, 0] < leave_x
        pos, vel, v0, radius, ids = pos[keep], vel[keep], v0[keep], radius[keep], ids[keep]
    return np.sort(crossed[~np.isnan(crossed)])


def specific_flow(times: np.ndarray, width_m: float, skip: int = 10) -> float:
    """[persons/(m s)] Crossings between the ``skip``-th and the ``skip``-th last, per second
    and metre of width (the start-up and the last stragglers left out)."""
    a, b = skip, len(times) - 1 - skip
    if b <= a or times[b] <= times[a]:
        return float("nan")
    return (b - a) / (times[b] - times[a]) / width_m


def interval95(values) -> tuple[float, float, float]:
    """Mean and the 95 % Student-t interval of the mean."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    if len(v) < 2:
        return m, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return m, m - half, m + half


def rms_relative(v, rho) -> float:
    """RMS of ``(v - v_Weidmann) / v_Weidmann`` over the densities with a finite speed."""
    w = weidmann_speed(rho)
    rel = (np.asarray(v, dtype=np.float64) - w) / w
    rel = rel[np.isfinite(rel)]
    return float(np.sqrt(np.mean(rel ** 2))) if len(rel) else float("nan")


# --- report --------------------------------------------------------------------------------------


def print_table(rho, curves: dict[str, np.ndarray]) -> None:
    w = weidmann_speed(rho)
    names = list(curves)
    print("density  Weidmann  " + "  ".join(f"{n:>22s}" for n in names))
    print("[1/m²]   [m/s]     " + "  ".join(f"{'[m/s]  rel. error':>22s}" for _ in names))
    for k, r in enumerate(rho):
        cells = []
        for n in names:
            v = curves[n][k]
            cells.append(f"{v:8.2f}  {100 * (v - w[k]) / w[k]:+8.1f} %    ")
        print(f"{r:5.1f}    {w[k]:6.2f}    " + "  ".join(cells))
    print("RMS      " + " " * 10 + "  ".join(f"{100 * rms_relative(curves[n], rho):17.1f} %    " for n in names))


def draw(path: Path, rho, curves: dict[str, np.ndarray], flows: dict[str, tuple[float, float, float]],
         failed_runs: dict[str, int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    fine = np.linspace(0.3, 4.5, 200)
    ax.plot(fine, weidmann_speed(fine), "k-", lw=2, label="Weidmann (1993)")
    styles = {"ours (periodic corridor)": ("C0", "o-"), "ours (ring)": ("C0", "o--"),
              "JuPedSim CFS (ring)": ("C1", "s-"), "JuPedSim SFM (ring)": ("C2", "^-")}
    for name, v in curves.items():
        colour, style = styles.get(name, ("C3", "x-"))
        done = int(np.isfinite(v).sum())
        note = "" if done == len(v) else f" ({done} of {len(v)} densities ran)"
        ax.plot(rho, v, style, color=colour, label=f"{name}: {100 * rms_relative(v, rho):.1f} % RMS{note}")
    ax.set_xlabel("density [persons/m²]")
    ax.set_ylabel("mean speed [m/s]")
    ax.set_ylim(0.0, 1.95)  # room for the legend above the curves
    ax.set_title("Speed against density, 4 m wide corridor")
    ax.legend(fontsize=8, loc="upper right")
    names = list(flows)
    means = [flows[n][0] for n in names]
    err = np.array([[flows[n][0] - flows[n][1], flows[n][2] - flows[n][0]] for n in names]).T
    bx.axhspan(*FLOW_RANGE, color="0.85", label="Seyfried et al. (2009)")
    bx.bar(range(len(names)), np.nan_to_num(means), yerr=np.nan_to_num(err), capsize=4,
           color=["C0", "C1", "C2", "C3"][: len(names)])
    for k, (name, m) in enumerate(zip(names, means)):
        if not np.isfinite(m):
            bx.text(k, 0.05, "runs failed", ha="center", va="bottom", rotation=90, fontsize=8)
        elif failed_runs.get(name):
            bx.text(k, 0.05, f"{failed_runs[name]} run(s) failed", ha="center", va="bottom", fontsize=7,
                    color="white")
    bx.set_xticks(range(len(names)), [n.replace(" ", "\n", 1) for n in names], fontsize=8)
    bx.set_ylabel("specific flow [persons/(m s)]")
    bx.set_title("1 m bottleneck, 2.8 m long (95 % interval)")
    bx.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 densities, 3 seeds, shorter runs")
    ap.add_argument("--no-peer", action="store_true", help="skip JuPedSim even when it is installed")
    ap.add_argument("--seeds", type=int, default=None, help="bottleneck seeds (default 5, quick 3)")
    ap.add_argument("--figure", type=Path, default=ROOT / "docs" / "realism.png")
    args = ap.parse_args()
    rho = np.array(QUICK_DENSITIES if args.quick else DENSITIES)
    seconds, measure_s = (15.0, 6.0) if args.quick else (30.0, 12.0)
    seeds = args.seeds or (3 if args.quick else 5)
    n_bottleneck = 100
    use_peer = not args.no_peer and peer.available()
    params = SocialForceParams()
    t_start = time.perf_counter()

    def progress(what: str) -> None:
        print(f"  [{time.perf_counter() - t_start:5.0f} s] {what}", flush=True)

    curves: dict[str, np.ndarray] = {}
    curves["ours (periodic corridor)"] = np.array(
        [corridor_speed(params, corridor_crowd(r, seed=0), seconds=seconds, measure_s=measure_s) for r in rho])
    progress("ours, periodic corridor")
    ring = {r: ring_crowd(r, seed=0) for r in rho}
    curves["ours (ring)"] = np.array(
        [ring_speed_ours(params, ring[r], seconds=seconds, measure_s=measure_s) for r in rho])
    progress("ours, ring")
    failures: list[str] = []

    def peer_or_nan(run):
        try:
            return run()
        except peer.PeerFailure as exc:
            failures.append(str(exc).splitlines()[0])
            return float("nan")

    if use_peer:
        for model, label in (("cfs", "JuPedSim CFS (ring)"), ("sfm", "JuPedSim SFM (ring)")):
            curves[label] = np.array([peer_or_nan(lambda: peer.ring_speed(
                model, ring[r].pos, ring[r].v0, ring[r].radius, r_inner_m=RING_M[0], r_outer_m=RING_M[1],
                seconds=seconds, measure_s=measure_s)) for r in rho])
            progress(label)

    geo = Bottleneck()
    crowds = [bottleneck_crowd(n_bottleneck, seed=s) for s in range(seeds)]
    flow_runs: dict[str, list[float]] = {"ours": [
        specific_flow(bottleneck_crossings_ours(params, c, geo), geo.width_m) for c in crowds]}
    progress("ours, bottleneck")
    if use_peer:
        for model, label in (("cfs", "JuPedSim CFS"), ("sfm", "JuPedSim SFM")):
            flow_runs[label] = [peer_or_nan(lambda: specific_flow(peer.bottleneck_crossings(
                model, geo.walkable, geo.exit_polygon, c.pos, c.v0, c.radius, line_x_m=geo.line_x_m,
                t_max_s=150.0), geo.width_m)) for c in crowds]
            progress(f"{label}, bottleneck")
    flows = {k: interval95(v) for k, v in flow_runs.items()}

    print(f"Fundamental diagram: {CORRIDOR_M[0]:g} m x {CORRIDOR_M[1]:g} m periodic corridor; ring corridor "
          f"{RING_M[0]:g}..{RING_M[1]:g} m radius; {seconds:g} s runs, mean over the last {measure_s:g} s; "
          f"ours dt = {DT_S} s" + (f", JuPedSim {peer._version()} dt = {peer.DT_S} s" if use_peer else ""))
    print_table(rho, curves)
    rms = rms_relative(curves["ours (periodic corridor)"], rho)
    print(f"ours, periodic corridor: {100 * rms:.1f} % RMS relative error (target <= {100 * TARGET_RMS:.0f} %): "
          f"{'OK' if rms <= TARGET_RMS else 'MISSED'}")
    print()
    print(f"Bottleneck {geo.width_m:g} m wide, {geo.length_m:g} m long, {n_bottleneck} people from 2.6 persons/m², "
          f"{seeds} seeds: specific flow [persons/(m s)], mean and 95 % interval")
    for name, (m, lo, hi) in flows.items():
        runs = " ".join(f"{v:.2f}" for v in flow_runs[name])
        print(f"  {name:14s} {m:5.2f}  [{lo:.2f}, {hi:.2f}]   runs: {runs}")
    m = flows["ours"][0]
    print(f"ours against Seyfried et al. (2009) {FLOW_RANGE[0]}..{FLOW_RANGE[1]}: "
          f"{'OK' if FLOW_RANGE[0] <= m <= FLOW_RANGE[1] else 'MISSED'}")
    for f in failures:
        print(f"peer run failed (nan): {f}")
    if not use_peer:
        print(peer.unavailable_note() if not args.no_peer else "JuPedSim skipped (--no-peer)")
    draw(args.figure, rho, curves, flows, {k: int(np.sum(~np.isfinite(v))) for k, v in flow_runs.items()})
    print(f"figure: {args.figure}  ({time.perf_counter() - t_start:.0f} s in all)")


if __name__ == "__main__":
    main()
