"""Realism of the crowd model against published measurements, next to JuPedSim.

Usage::

    python benchmarks/bench_realism.py                   # every section, JuPedSim too
    python benchmarks/bench_realism.py --quick           # fewer densities, seeds, trials; shorter runs
    python benchmarks/bench_realism.py --only doors crossing
    python benchmarks/bench_realism.py --no-peer         # ours only

Sections (``--only``), each printed as a table with JuPedSim beside ours, then a summary
of every target with OK or MISSED; figures under ``docs/`` (``--docs`` to change):

``fd``
    **Fundamental diagram.** Mean walking speed against density in a periodic corridor
    (20 m x 4 m, x periodic) against Weidmann (1993),
    ``v = 1.34 (1 - exp(-1.913 (1/rho - 1/5.4)))`` m/s, at 0.5 .. 4 persons/m²; desired
    speeds ~ N(1.34, 0.26) m/s clipped to 0.5..2.1, radii uniform 0.2..0.26 m, everyone
    walking along +x. The figure is the RMS of the relative error; target <= 10 %.
    JuPedSim has no periodic boundary, so its models (and ours again, for a like-for-like
    check) run on a ring corridor of the same 4 m width (inner radius 6 m). With the 1 m
    bottleneck of ``widths``: ``docs/realism.png``.
``widths``
    **Bottlenecks.** 100 people start on a jittered lattice in an 8 m x 6 m waiting room
    (2.6 persons/m² where they stand) in front of a bottleneck 2.8 m long (Seyfried et al.
    2009), 0.8 to 2.5 m wide, and walk through it to an exit; the specific flow
    [persons/(m s)] is the number of crossings of the bottleneck's middle line between the
    10th and the 10th-last, over the time between them, per metre of width. Mean and 95 %
    interval (Student t) over seeds; target 1.6 to 2.0 persons/(m s) at every width
    (Seyfried et al. 2009; Liddle et al. 2011). ``docs/bottleneck_widths.png``.
``counterflow``
    **Counterflow.** The periodic corridor with half the people walking each way, from a
    random mix and from two clean lanes, against the same crowd walking one way; measured
    over the last 20 s of 60 s: speed along each one's own direction, share stopped
    (slower than 0.1 m/s over 1 s), band index (:func:`crowd_metrics.band_index`) and the
    deepest body overlap. JuPedSim on the ring corridor, half each way round. Targets:
    both ways >= 0.85 x one way at 1 /m², <= 10 % stopped up to 2.5 /m², band index >= 0.5
    at 1 to 2 /m² from a mixed start and kept from a laned start at 1.5 to 3 /m², overlap
    <= 3 cm at <= 1 /m² (Zhang et al. 2012; Kretz et al. 2006). ``docs/counterflow.png``.
``doors``
    **One person alone at a door** 0.7 and 0.8 m wide (a 0.4 m deep opening, as a ticket
    gate), from 100 random start points in the waiting room; a stall is not through after
    30 s. Target 0 stalls.
``crossing``
    **Two flows crossing** at right angles (8 m wide corridors, 2.5 arrivals/s each, 0.4 to
    0.8 persons/m² where they cross): the time-to-collision interaction energy
    ``E(tau)`` of Karamouzas, Skinner & Guy (2014) and the exponent ``n`` of
    ``E = k tau^n exp(-tau / 3 s)`` fitted over 0.3 to 3 s, again with the body radii
    of the analysis scaled by 0.9 and 1.1; the time to collision at which undisturbed
    walkers start to avoid (median); the deepest overlap. Targets: ``n`` within -2 ± 0.5
    at all three radii, onset >= 1 s, overlap <= 3 cm. ``docs/interaction_energy.png``.
``station``
    **The library's stations.** People walking alone in ``rush_hour_quiet`` (300 s): speed
    against Weidmann's 1.34 ± 0.26 m/s and against their own desired speed; people who
    stand >= 10 s in front of the ticket gates of ``concourse_quiet`` (300 s) with nobody
    ahead of them (target 0). Ours only.

JuPedSim (optional) runs its collision-free speed model (CFS, time step 0.05 s, as ours)
everywhere, its social force model (its default 0.01 s, which its contact forces need) in
``fd`` and the 1 m bottleneck, and its anticipation velocity model (AVM, 0.05 s) in
``counterflow`` and ``crossing``, all with their default parameters. One thread throughout.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import crowd_metrics as cm  # noqa: E402
import jupedsim_peer as peer  # noqa: E402
import realism_figures as figures  # noqa: E402
from crowd_scenes import (  # noqa: E402
    CORRIDOR_M, DT_S, RING_M, Bottleneck, Crossing, Frames, bottleneck_crossings_ours, bottleneck_crowd,
    corridor_crowd, corridor_speed, counterflow_directions, counterflow_ours, crossing_arrivals, crossing_ours,
    door_starts, door_trials_ours, ring_crowd, ring_speed_ours, specific_flow,
)
from sim.world.social_force import SocialForceParams  # noqa: E402

SECTIONS = ("fd", "widths", "counterflow", "doors", "crossing", "station")
DENSITIES = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
QUICK_DENSITIES = (0.5, 1.5, 2.5, 3.5)
COUNTERFLOW_DENSITIES = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
QUICK_COUNTERFLOW_DENSITIES = (1.0, 2.0, 2.5)
WIDTHS_M = (0.8, 1.0, 1.2, 1.6, 2.0, 2.5)
DOOR_WIDTHS_M = (0.7, 0.8)
TARGET_RMS = 0.10
FLOW_RANGE = figures.FLOW_RANGE
ROOT = Path(__file__).resolve().parent.parent


def weidmann_speed(rho):
    """[m/s] Weidmann (1993): ``1.34 (1 - exp(-1.913 (1/rho - 1/5.4)))``, rho in persons/m²."""
    return 1.34 * (1.0 - np.exp(-1.913 * (1.0 / np.asarray(rho, dtype=np.float64) - 1.0 / 5.4)))


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


@dataclass
class Run:
    """What a section needs from the command line, and what every section reports."""

    quick: bool
    use_peer: bool
    docs: Path
    params: SocialForceParams
    t_start: float = field(default_factory=time.perf_counter)
    failures: list[str] = field(default_factory=list)
    targets: list[tuple[str, str, bool]] = field(default_factory=list)

    def progress(self, what: str) -> None:
        print(f"  [{time.perf_counter() - self.t_start:5.0f} s] {what}", flush=True)

    def target(self, what: str, figure: str, ok: bool) -> None:
        self.targets.append((what, figure, bool(ok)))

    def peer_or_nan(self, run):
        try:
            return run()
        except peer.PeerFailure as exc:
            self.failures.append(str(exc).splitlines()[0])
            return float("nan")


# --- fundamental diagram and the 1 m bottleneck --------------------------------------------------


def print_fd_table(rho, curves: dict[str, np.ndarray]) -> None:
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


def section_fd(run: Run) -> None:
    rho = np.array(QUICK_DENSITIES if run.quick else DENSITIES)
    seconds, measure_s = (15.0, 6.0) if run.quick else (30.0, 12.0)
    seeds = 3 if run.quick else 5
    params = run.params
    curves: dict[str, np.ndarray] = {}
    curves["ours (periodic corridor)"] = np.array(
        [corridor_speed(params, corridor_crowd(r, seed=0), seconds=seconds, measure_s=measure_s) for r in rho])
    ring = {r: ring_crowd(r, seed=0) for r in rho}
    curves["ours (ring)"] = np.array(
        [ring_speed_ours(params, ring[r], seconds=seconds, measure_s=measure_s) for r in rho])
    run.progress("fundamental diagram, ours")
    if run.use_peer:
        for model, label in (("cfs", "JuPedSim CFS (ring)"), ("sfm", "JuPedSim SFM (ring)")):
            curves[label] = np.array([run.peer_or_nan(lambda: peer.ring_speed(
                model, ring[r].pos, ring[r].v0, ring[r].radius, r_inner_m=RING_M[0], r_outer_m=RING_M[1],
                seconds=seconds, measure_s=measure_s)) for r in rho])
            run.progress(f"fundamental diagram, {label}")
    geo = Bottleneck()
    crowds = [bottleneck_crowd(100, seed=s) for s in range(seeds)]
    flow_runs = {"ours": [specific_flow(bottleneck_crossings_ours(params, c, geo), geo.width_m) for c in crowds]}
    if run.use_peer:
        for model, label in (("cfs", "JuPedSim CFS"), ("sfm", "JuPedSim SFM")):
            flow_runs[label] = [run.peer_or_nan(lambda: specific_flow(peer.bottleneck_crossings(
                model, geo.walkable, geo.exit_polygon, c.pos, c.v0, c.radius, line_x_m=geo.line_x_m,
                t_max_s=150.0), geo.width_m)) for c in crowds]
    run.progress("1 m bottleneck")
    flows = {k: interval95(v) for k, v in flow_runs.items()}
    print(f"\nFundamental diagram: {CORRIDOR_M[0]:g} m x {CORRIDOR_M[1]:g} m periodic corridor; ring corridor "
          f"{RING_M[0]:g}..{RING_M[1]:g} m radius; {seconds:g} s runs, mean over the last {measure_s:g} s; "
          f"ours dt = {DT_S} s" + (f", JuPedSim {peer._version()}" if run.use_peer else ""))
    print_fd_table(rho, curves)
    rms = rms_relative(curves["ours (periodic corridor)"], rho)
    run.target("Weidmann RMS relative error over 0.5..4 /m² <= 10 %", f"{100 * rms:.1f} %", rms <= TARGET_RMS)
    print(f"\nBottleneck 1 m wide, 2.8 m long, 100 people from 2.6 persons/m², {seeds} seeds: specific flow "
          "[persons/(m s)], mean and 95 % interval")
    for name, (m, lo, hi) in flows.items():
        print(f"  {name:14s} {m:5.2f}  [{lo:.2f}, {hi:.2f}]   runs: " + " ".join(f"{v:.2f}" for v in flow_runs[name]))
    m = flows["ours"][0]
    run.target("1 m bottleneck flow within 1.6..2.0 persons/(m s)", f"{m:.2f}", FLOW_RANGE[0] <= m <= FLOW_RANGE[1])
    figures.draw_fundamental(run.docs / "realism.png", rho, curves, flows,
                             {k: int(np.sum(~np.isfinite(v))) for k, v in flow_runs.items()}, weidmann_speed,
                             rms_relative)


# --- bottleneck widths ---------------------------------------------------------------------------


def section_widths(run: Run) -> None:
    seeds = 3 if run.quick else 5
    crowds = [bottleneck_crowd(100, seed=s) for s in range(seeds)]
    runs: dict[str, list[list[float]]] = {"ours": []}
    if run.use_peer:
        runs["JuPedSim CFS"] = []
    for w in WIDTHS_M:
        geo = Bottleneck(width_m=w)
        runs["ours"].append([specific_flow(bottleneck_crossings_ours(run.params, c, geo), w) for c in crowds])
        if run.use_peer:
            runs["JuPedSim CFS"].append([run.peer_or_nan(lambda: specific_flow(peer.bottleneck_crossings(
                "cfs", geo.walkable, geo.exit_polygon, c.pos, c.v0, c.radius, line_x_m=geo.line_x_m,
                t_max_s=150.0), w)) for c in crowds])
        run.progress(f"bottleneck {w:g} m")
    flows = {k: [interval95(v) for v in rows] for k, rows in runs.items()}
    print(f"\nBottleneck widths, 2.8 m long, 100 people, {seeds} seeds: specific flow [persons/(m s)], mean "
          "[95 % interval]")
    print("width [m] " + "".join(f"{n:>26s}" for n in flows))
    for k, w in enumerate(WIDTHS_M):
        print(f"{w:8.1f}  " + "".join(f"{f[k][0]:12.2f} [{f[k][1]:.2f}, {f[k][2]:.2f}]" for f in flows.values()))
    means = np.array([f[0] for f in flows["ours"]])
    inside = np.all((means >= FLOW_RANGE[0]) & (means <= FLOW_RANGE[1]))
    run.target("bottleneck flow within 1.6..2.0 at every width 0.8..2.5 m",
               f"{means.min():.2f}..{means.max():.2f}", inside)
    figures.draw_widths(run.docs / "bottleneck_widths.png", WIDTHS_M, flows)


# --- counterflow ---------------------------------------------------------------------------------


@dataclass
class FlowFigures:
    """One counterflow run's figures: speed [m/s], share stopped, band index, overlap [m]."""

    speed: float
    stopped: float
    band: float
    overlap_m: float


def flow_figures(along: np.ndarray, lateral: np.ndarray, direction: np.ndarray, sample_s: float,
                 overlap_m: float, seed: int) -> FlowFigures:
    rng = np.random.default_rng(seed)
    speed = float(np.mean((along[-1] - along[0]) / ((len(along) - 1) * sample_s)))
    every = max(int(round(1.0 / sample_s)), 1)
    band = float("nan")
    if len(np.unique(direction)) > 1:  # one way: no lanes to speak of
        band = float(np.nanmean([cm.band_index(lateral[k], direction, rng) for k in range(0, len(lateral), every)]))
    return FlowFigures(speed, cm.share_stopped(along, sample_s), band, overlap_m)


def counterflow_case(run: Run, sim: str, rho: float, seed: int, start: str, seconds: float,
                     record_s: float) -> FlowFigures:
    """One run: ``sim`` "ours" (periodic corridor) or a JuPedSim model name (ring corridor)."""
    if sim == "ours":
        crowd = corridor_crowd(rho, seed)
        direction = counterflow_directions(crowd, start, seed, crowd.pos[:, 1])
        rec = counterflow_ours(run.params, crowd, direction, seconds=seconds, record_s=record_s)
        return flow_figures(rec.along, rec.lateral, direction, rec.sample_s, rec.overlap_m, seed)
    crowd = ring_crowd(rho, seed)
    direction = counterflow_directions(crowd, start, seed, np.hypot(crowd.pos[:, 0], crowd.pos[:, 1]))
    try:
        along, lateral, overlap = peer.ring_counterflow(sim, crowd.pos, crowd.v0, crowd.radius, direction,
                                                        r_inner_m=RING_M[0], r_outer_m=RING_M[1], seconds=seconds,
                                                        record_s=record_s)
    except peer.PeerFailure as exc:
        run.failures.append(str(exc).splitlines()[0])
        return FlowFigures(*(float("nan"),) * 4)
    return flow_figures(along, lateral, direction, 0.1, overlap, seed)


def section_counterflow(run: Run) -> None:
    rho = np.array(QUICK_COUNTERFLOW_DENSITIES if run.quick else COUNTERFLOW_DENSITIES)
    seeds = 2 if run.quick else 3
    seconds, record_s = (40.0, 15.0) if run.quick else (60.0, 20.0)
    sims = ["ours"] + (["cfs", "avm"] if run.use_peer else [])
    label = {"ours": "ours", "cfs": "JuPedSim CFS", "avm": "JuPedSim AVM"}
    table: dict[str, dict[str, np.ndarray]] = {}
    for sim in sims:
        rows = {k: [] for k in ("one_way", "speed", "ratio", "stopped_mixed", "stopped_lanes", "band_mixed",
                                "band_lanes", "overlap")}
        for r in rho:
            cases = {start: [counterflow_case(run, sim, r, s, start, seconds, record_s) for s in range(seeds)]
                     for start in ("one_way", "mixed", "lanes")}
            one = np.nanmean([c.speed for c in cases["one_way"]])
            both = np.nanmean([c.speed for c in cases["mixed"]])
            rows["one_way"].append(one)
            rows["speed"].append(both)
            rows["ratio"].append(both / one)
            rows["stopped_mixed"].append(np.nanmean([c.stopped for c in cases["mixed"]]))
            rows["stopped_lanes"].append(np.nanmean([c.stopped for c in cases["lanes"]]))
            rows["band_mixed"].append(np.nanmean([c.band for c in cases["mixed"]]))
            rows["band_lanes"].append(np.nanmean([c.band for c in cases["lanes"]]))
            rows["overlap"].append(np.nanmax([c.overlap_m for c in cases["mixed"] + cases["lanes"]]))
        table[label[sim]] = {k: np.array(v) for k, v in rows.items()}
        run.progress(f"counterflow, {label[sim]}")
    print(f"\nCounterflow, half each way ({seeds} seeds, {seconds:g} s, measured over the last {record_s:g} s); "
          "ours: 20 m x 4 m periodic corridor, JuPedSim: 4 m wide ring")
    print(f"{'':14s}{'density':>8s}{'one way':>9s}{'both':>7s}{'ratio':>7s}{'stopped':>9s}{'stopped':>9s}"
          f"{'band':>7s}{'band':>7s}{'overlap':>9s}")
    print(f"{'':14s}{'[1/m²]':>8s}{'[m/s]':>9s}{'[m/s]':>7s}{'':>7s}{'mixed':>9s}{'lanes':>9s}"
          f"{'mixed':>7s}{'lanes':>7s}{'[cm]':>9s}")
    for name, m in table.items():
        for k, r in enumerate(rho):
            print(f"{name:14s}{r:8.1f}{m['one_way'][k]:9.2f}{m['speed'][k]:7.2f}{m['ratio'][k]:7.2f}"
                  f"{100 * m['stopped_mixed'][k]:8.0f}%{100 * m['stopped_lanes'][k]:8.0f}%"
                  f"{m['band_mixed'][k]:7.2f}{m['band_lanes'][k]:7.2f}{100 * m['overlap'][k]:9.1f}")
    ours = table["ours"]
    at1 = np.isclose(rho, 1.0)
    if at1.any():
        ratio = float(ours["ratio"][at1][0])
        run.target("counterflow speed >= 0.85 x one way at 1 /m²", f"{ratio:.2f}", ratio >= 0.85)
    upto = rho <= 2.5 + 1e-9
    worst = float(np.max(np.maximum(ours["stopped_mixed"][upto], ours["stopped_lanes"][upto])))
    run.target("counterflow: <= 10 % stopped up to 2.5 /m² (both starts)", f"{100 * worst:.0f} %", worst <= 0.10)
    band_rng = (rho >= 1.0 - 1e-9) & (rho <= 2.0 + 1e-9)
    if band_rng.any():
        band = float(np.min(ours["band_mixed"][band_rng]))
        run.target("band index >= 0.5 at 1..2 /m² from a mixed start", f"{band:.2f}", band >= 0.5)
    laned = (rho >= 1.5 - 1e-9) & (rho <= 3.0 + 1e-9)
    if laned.any():
        kept = float(np.min(ours["band_lanes"][laned]))
        run.target("lanes kept from a laned start: band index >= 0.5 at 1.5..3 /m²", f"{kept:.2f}", kept >= 0.5)
    low = rho <= 1.0 + 1e-9
    if low.any():
        ov = float(np.max(ours["overlap"][low]))
        run.target("counterflow overlap <= 3 cm at <= 1 /m²", f"{100 * ov:.1f} cm", ov <= 0.03)
    figures.draw_counterflow(run.docs / "counterflow.png", rho, table)


# --- one person at a door ------------------------------------------------------------------------


def section_doors(run: Run) -> None:
    trials = 100
    print(f"\nOne person alone at a door 0.4 m deep, {trials} random starts each, stall = not through after 30 s")
    for w in DOOR_WIDTHS_M:
        geo = Bottleneck(width_m=w, length_m=0.4)
        times = door_trials_ours(run.params, geo, trials, seed=1)
        stalls = int(np.sum(~np.isfinite(times)))
        line = f"  {w:.1f} m: ours {stalls} of {trials} stall (median time through {np.median(times):.1f} s)"
        if run.use_peer:
            starts, v0, radius = door_starts(trials, seed=1)
            pt = peer.door_trials("cfs", geo.walkable, geo.exit_polygon, starts, v0, radius,
                                  through_x_m=geo.length_m, t_max_s=30.0)
            line += f"; JuPedSim CFS {int(np.sum(~np.isfinite(pt)))} of {trials} (median {np.median(pt):.1f} s)"
        print(line)
        run.target(f"nobody stalls alone at a {w:.1f} m door", f"{stalls} of {trials}", stalls == 0)
    run.progress("doors")


# --- crossing flows ------------------------------------------------------------------------------


@dataclass
class CrossingFigures:
    energy: cm.Energy
    exponents: dict[float, float]
    onset_s: np.ndarray
    overlap_m: float  #: where the flows cross
    overlap_all_m: float  #: anywhere in the observed area, the corners of the cross included
    centre_density: float


def _pooled(frames_list: list[Frames], region, radius_scale: float) -> cm.Energy:
    parts = [cm.interaction_energy(f, region, radius_scale=radius_scale) for f in frames_list]
    n_int = sum(p.n_int for p in parts)
    n_ni = sum(p.n_ni for p in parts)
    tot_i = sum(p.total_int for p in parts)
    tot_n = sum(p.total_ni for p in parts)
    return cm.Energy(parts[0].tau, cm.energy_of(parts[0].tau, n_int, n_ni), n_int, n_ni, tot_i, tot_n)


def crossing_figures(frames_list: list[Frames], geo: Crossing, warmup_s: float) -> CrossingFigures:
    region = geo.region
    trimmed = []
    for f in frames_list:
        k0 = int(round(warmup_s / f.sample_s))
        t = Frames(f.sample_s, f.ids[k0:], f.pos[k0:], f.radius, f.v0, f.direction)
        trimmed.append(t)
    energy = _pooled(trimmed, region, 1.0)
    exps = {s: cm.fit_energy_exponent(_pooled(trimmed, region, s) if s != 1.0 else energy)[0] for s in (0.9, 1.0, 1.1)}
    onset = np.concatenate([cm.avoidance_onset(f, region) for f in trimmed])
    overlap = max(cm.max_overlap(f, geo.centre) for f in trimmed)
    overlap_all = max(cm.max_overlap(f, region) for f in trimmed)
    dens = np.mean([np.mean([np.count_nonzero(geo.centre(p)) for p in f.pos]) for f in trimmed]) / geo.width_m ** 2
    return CrossingFigures(energy, exps, onset, overlap, overlap_all, float(dens))


def section_crossing(run: Run) -> None:
    seeds = 2 if run.quick else 3
    seconds, warmup_s = (70.0, 15.0) if run.quick else (120.0, 20.0)
    geo = Crossing()
    arrivals = [crossing_arrivals(geo, seconds, seed=s) for s in range(seeds)]
    results: dict[str, CrossingFigures] = {}
    results["ours"] = crossing_figures(
        [crossing_ours(run.params, geo, a, seconds=seconds) for a in arrivals], geo, warmup_s)
    run.progress("crossing flows, ours")
    if run.use_peer:
        for model, label in (("cfs", "JuPedSim CFS"), ("avm", "JuPedSim AVM")):
            frames_list = []
            for a in arrivals:
                starts = np.array([a.start(k, geo) for k in range(len(a.t))])
                heading = np.array([a.direction(k) for k in range(len(a.t))])
                try:
                    samples = peer.crossing(model, geo.walkable, starts, a.t, heading, a.v0, a.radius,
                                            arm_m=geo.arm_m, half_width_m=geo.width_m / 2, seconds=seconds)
                except peer.PeerFailure as exc:
                    run.failures.append(str(exc).splitlines()[0])
                    continue
                f = Frames(0.1)
                for ids, pos in samples:
                    f.add(ids, pos)
                for k in range(len(a.t)):
                    f.radius[k], f.v0[k], f.direction[k] = float(a.radius[k]), float(a.v0[k]), heading[k]
                frames_list.append(f)
            if frames_list:
                results[label] = crossing_figures(frames_list, geo, warmup_s)
            run.progress(f"crossing flows, {label}")
    print(f"\nCrossing flows at right angles, 8 m wide corridors, {geo.rate_per_s:g} arrivals/s each, {seeds} seeds of "
          f"{seconds:g} s (first {warmup_s:g} s left out)")
    print(f"{'':14s}{'density':>9s}{'n(0.9 r)':>10s}{'n(r)':>7s}{'n(1.1 r)':>10s}{'onset':>8s}{'[IQR]':>13s}"
          f"{'onsets':>8s}{'overlap':>9s}{'anywhere':>10s}")
    print(f"{'':14s}{'[1/m²]':>9s}{'':>27s}{'[s]':>8s}{'':>13s}{'':>8s}{'[cm]':>9s}{'[cm]':>10s}")
    for name, r in results.items():
        q1, med, q3 = (np.percentile(r.onset_s, [25, 50, 75]) if len(r.onset_s) else (np.nan,) * 3)
        print(f"{name:14s}{r.centre_density:9.2f}{r.exponents[0.9]:10.2f}{r.exponents[1.0]:7.2f}"
              f"{r.exponents[1.1]:10.2f}{med:8.2f}  [{q1:.2f}, {q3:.2f}]{len(r.onset_s):8d}{100 * r.overlap_m:9.1f}"
              f"{100 * r.overlap_all_m:10.1f}")
    print("(density and overlap in the 8 m x 8 m square where the flows cross; 'anywhere': within 8 m of its "
          "centre, where walkers pushed into the other corridor can be pinned at its corners)")
    ours = results["ours"]
    ns = np.array(list(ours.exponents.values()))
    run.target("E(tau) exponent within -2 ± 0.5 at 0.9, 1, 1.1 x radius",
               " / ".join(f"{v:.2f}" for v in ns), bool(np.all(np.abs(ns + 2.0) <= 0.5)))
    med = float(np.median(ours.onset_s)) if len(ours.onset_s) else float("nan")
    run.target("avoidance starts >= 1 s before contact (median)", f"{med:.2f} s", med >= 1.0)
    run.target("crossing overlap <= 3 cm where the flows cross", f"{100 * ours.overlap_m:.1f} cm",
               ours.overlap_m <= 0.03)
    figures.draw_energy(run.docs / "interaction_energy.png",
                        {k: (r.energy.tau, r.energy.energy, r.exponents[1.0]) for k, r in results.items()},
                        cm.ENERGY_FIT_S, cm.ENERGY_CUTOFF_S)


# --- the library's stations ----------------------------------------------------------------------


def section_station(run: Run) -> None:
    import crowd_station

    seconds = 150.0 if run.quick else 300.0
    free = crowd_station.free_walkers("rush_hour_quiet", seconds=seconds)
    run.progress("rush_hour_quiet")
    stand = crowd_station.gate_standers("concourse_quiet", seconds=seconds)
    run.progress("concourse_quiet")
    speed, v0 = free.per_person()
    ratio = float(np.mean(speed / v0))
    print(f"\nrush_hour_quiet, {seconds:g} s: {len(speed)} people walking alone (nobody within "
          f"{crowd_station.ALONE_M:g} m; {len(free.speed)} samples): speed {speed.mean():.2f} m/s (SD {speed.std():.2f}) "
          f"for desired speeds {v0.mean():.2f} m/s (SD {v0.std():.2f}): {100 * (ratio - 1):+.1f} % "
          "(Weidmann: 1.34 ± 0.26 m/s)")
    longest = float(stand.longest_s.max()) if len(stand.ids) else 0.0
    print(f"concourse_quiet, {seconds:g} s: {stand.count(10.0)} people stand >= 10 s in front of the gates with "
          f"nobody ahead (longest {longest:.1f} s; {len(stand.ids)} stood there at all)")
    run.target("people walking alone within 5 % of their desired speed", f"{100 * (ratio - 1):+.1f} %",
               abs(ratio - 1) <= 0.05)
    run.target("nobody stands >= 10 s at the concourse_quiet gates without a queue", f"{stand.count(10.0)}",
               stand.count(10.0) == 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer densities, seeds and trials; shorter runs")
    ap.add_argument("--no-peer", action="store_true", help="skip JuPedSim even when it is installed")
    ap.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    ap.add_argument("--docs", type=Path, default=ROOT / "docs", help="folder of the figures")
    args = ap.parse_args()
    run = Run(quick=args.quick, use_peer=not args.no_peer and peer.available(), docs=args.docs,
              params=SocialForceParams())
    if not run.use_peer:
        print(peer.unavailable_note() if not args.no_peer else "JuPedSim skipped (--no-peer)")
    sections = {"fd": section_fd, "widths": section_widths, "counterflow": section_counterflow,
                "doors": section_doors, "crossing": section_crossing, "station": section_station}
    for name in SECTIONS:
        if name in args.only:
            sections[name](run)
    for f in run.failures:
        print(f"peer run failed (nan): {f}")
    print("\nTargets")
    for what, fig, ok in run.targets:
        print(f"  {'OK    ' if ok else 'MISSED'}  {what}: {fig}")
    print(f"figures in {args.docs}  ({time.perf_counter() - run.t_start:.0f} s in all)")


if __name__ == "__main__":
    main()
