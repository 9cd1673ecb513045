"""The figures of the scenario library a crowd-model change can move, and how they moved.

Usage::

    python benchmarks/library_figures.py --json after.json           # every library scenario
    python benchmarks/library_figures.py --only concourse_quiet
    python benchmarks/library_figures.py --compare before.json after.json

Per scenario at its own seed, over its whole duration (simulation only, no rendering):
each ground-truth event (type, id, onset, end, peak density for density events), the
highest 2 s average of every density zone [persons/m²], how many people left, and their
mean walking speed. ``--compare`` prints what differs between two such files.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from detectors.files import atomic_write_text


def scenario_figures(name: str) -> dict:
    """The figures of one library scenario (see the module docstring)."""
    from sim.geometry import points_in_polygon, polygon_area
    from sim.world.model import StationModel
    from sim.scenario import load_scenario

    sc = load_scenario(name)
    model = StationModel(sc)
    zones = [z for z in sc.station.zones if z.kind == "density"]
    polys = [np.asarray(z.polygon, dtype=np.float64) for z in zones]
    areas = [polygon_area(p) for p in polys]
    window = int(round(2.0 / 0.5))
    counts: list[list[int]] = [[] for _ in zones]
    speeds = []
    t = 0.0
    while t < sc.duration_s - 1e-9:
        t = min(t + 0.5, sc.duration_s)
        model.run_until(t)
        n = model.agent_count
        pos = model.people.pos[:n]
        for k, poly in enumerate(polys):
            counts[k].append(int(np.count_nonzero(points_in_polygon(pos, poly))) if n else 0)
        v = np.hypot(model.people.vel[:n, 0], model.people.vel[:n, 1])
        speeds.append(v[v > 0.2])
    peaks = {}
    for z, c, a in zip(zones, counts, areas):
        c = np.asarray(c, dtype=np.float64)
        avg = np.convolve(c, np.ones(window) / window, mode="valid") if len(c) >= window else c
        peaks[z.name] = round(float(avg.max()) / a, 3) if len(avg) else 0.0
    events = [{"id": e.id, "type": e.type.value, "t_start": round(e.t_start, 2), "t_end": round(e.t_end, 2),
               **({"peak_density": round(e.peak_density_per_m2, 2)} if e.peak_density_per_m2 is not None else {})}
              for e in model.truth.events(t_end=model.time)]
    walking = np.concatenate(speeds) if speeds else np.zeros(0)
    return {"events": events, "zone_peaks_per_m2": peaks, "left": int(sum(model.exits_by_name.values())),
            "walking_speed_mps": round(float(walking.mean()), 3) if len(walking) else None}


def compare(before: dict, after: dict) -> list[str]:
    """Lines naming every figure that differs between two results of :func:`scenario_figures`."""
    lines = []
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name), after.get(name)
        if b is None or a is None:
            lines.append(f"{name}: only in {'after' if b is None else 'before'}")
            continue
        for key in ("left", "walking_speed_mps"):
            if b[key] != a[key]:
                lines.append(f"{name}: {key} {b[key]} -> {a[key]}")
        for zone in sorted(set(b["zone_peaks_per_m2"]) | set(a["zone_peaks_per_m2"])):
            x, y = b["zone_peaks_per_m2"].get(zone), a["zone_peaks_per_m2"].get(zone)
            if x != y:
                lines.append(f"{name}: peak density in {zone} {x} -> {y} persons/m²")
        eb = {(e["type"], e["id"]): e for e in b["events"]}
        ea = {(e["type"], e["id"]): e for e in a["events"]}
        for key in sorted(set(eb) | set(ea)):
            x, y = eb.get(key), ea.get(key)
            if x is None or y is None:
                lines.append(f"{name}: event {key[0]} {key[1]} {'appears' if x is None else 'is gone'}"
                             f" ({y or x})")
            elif x != y:
                moved = ", ".join(f"{k} {x.get(k)} -> {y.get(k)}" for k in sorted(set(x) | set(y))
                                  if x.get(k) != y.get(k))
                lines.append(f"{name}: event {key[0]} {key[1]}: {moved}")
    return lines


def main() -> None:
    from sim.scenario import list_scenarios

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", help="scenario names (default: the whole library)")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="compare two files")
    args = ap.parse_args()
    if args.compare:
        for p in args.compare:
            if not p.is_file():
                ap.error(f"--compare: expected a file written by --json, got {str(p)!r} (no such file)")
        before, after = (json.loads(p.read_text()) for p in args.compare)
        lines = compare(before, after)
        print("\n".join(lines) if lines else "no figure moved")
        return
    names = args.only or [n for n, _ in list_scenarios()]
    out = {}
    for name in names:
        t0 = time.perf_counter()
        out[name] = scenario_figures(name)
        f = out[name]
        print(f"{name}: {len(f['events'])} events, {f['left']} left, walking {f['walking_speed_mps']} m/s, "
              f"zone peaks {f['zone_peaks_per_m2']}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    if args.json:
        atomic_write_text(args.json, json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
