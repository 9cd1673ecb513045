"""Grid throughput: camera-hours of footage evaluated per core-hour, end to end, and where the time goes.

Usage::

    python benchmarks/bench_grid.py [--quick] [--scenarios A B ...] [--duration S] [--no-peer]

What is timed: :func:`eval.grid.run_experiment` in this process (``jobs=1``, OpenCV on one
thread) over the library scenarios at their own seeds, with the built-in detectors:
simulation, rendering, detection, matching at the alert's time, tables, thumbnails of
misses and false alarms, every file written. "Per core" divides by the CPU time of this
process (``time.process_time``), so the figure does not depend on what else the machine
runs; the wall time is printed beside it.

Peer, measured in the same run on the same scenarios: :func:`eval.run.run_scenario` as
``stationwatch run`` calls it (video and plots written, one scenario at a time). The
printed ratio grid / peer is the figure that travels between machines.

Where the time goes: class-level timers around the simulation step (``model.run_until``),
the renderer's construction (the static background, ray cast once per camera and cell)
and its per-frame ``render``, and the detection core's ``process``; eval's own stages come
from the cell records (ground truth tracks, matching and tables, thumbnails). The sum is
printed against the measured total.

Static background cache: the grid runs twice on the same cells, first with the process's
background cache emptied (every camera's background ray-cast, as before the cache existed),
then with it warm (as every seed after the first of a scenario, or any cell once
``STATIONWATCH_CACHE_DIR`` holds the scenario's files). Both figures, their ratio and the
per-stage breakdown of each are printed; the disk cache is switched off for the benchmark so
that the first grid is cold whatever the environment says.

A further grid runs two detector entries on the same cells (``--shared``, on by default):
one simulation and one rendering feed both, so the second entry costs its detection only.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

QUICK = ("platform_intrusion", "concourse_overcrowding", "negatives_intrusion", "corridor_wrong_way")
QUICK_DURATION_S = 30.0


@contextmanager
def stage_timers():
    """Time the simulation, the renderer and the detection core by wrapping their classes' methods."""
    from detectors.core import DetectionCore
    from sim.scenario import load_scenario
    from sim.source import SyntheticFeed

    probe = SyntheticFeed(load_scenario("concourse_quiet"), duration_s=0.1)
    model_cls = type(probe.model)
    renderer_cls = type(next(iter(probe.renderers.values())))
    totals: dict[str, float] = defaultdict(float)
    patched = [(model_cls, "run_until", "simulation"), (renderer_cls, "__init__", "render: static background"),
               (renderer_cls, "render", "render: frames"), (DetectionCore, "process", "detection")]
    originals = []
    for cls, name, label in patched:
        fn = getattr(cls, name)
        originals.append((cls, name, fn))

        def timed(*args, _fn=fn, _label=label, **kwargs):
            t0 = time.process_time()
            try:
                return _fn(*args, **kwargs)
            finally:
                totals[_label] += time.process_time() - t0

        setattr(cls, name, timed)
    try:
        yield totals
    finally:
        for cls, name, fn in originals:
            setattr(cls, name, fn)


def grid(scenarios, duration_s, detectors, out: Path):
    from eval.experiment import load_experiment
    from eval.grid import run_experiment

    exp = load_experiment(data={"name": "bench", "scenarios": list(scenarios), "duration_s": duration_s,
                                "detectors": detectors})
    cpu0, wall0 = time.process_time(), time.perf_counter()
    res = run_experiment(exp, out, jobs=1, progress=False)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    cells = [json.loads(p.read_text()) for p in (out / "cells").glob("*/cell.json")]
    return res, cpu, wall, cells


def peer(scenarios, duration_s, out: Path):
    """``stationwatch run`` on each scenario: frames, camera-seconds, CPU and wall time."""
    from eval.run import run_scenario
    from sim.scenario import load_scenario

    frames, camera_s = 0, 0.0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for name in scenarios:
        sc = load_scenario(name)
        d = sc.duration_s if duration_s is None else min(duration_s, sc.duration_s)
        r = run_scenario(sc, out / name, duration_s=d, progress=False)
        frames += r.n_frames
        camera_s += sum(min(d, sc.duration_s) for _ in sc.cameras)
    return frames, camera_s, time.process_time() - cpu0, time.perf_counter() - wall0


def main(argv=None) -> int:
    import cv2

    from sim.scenario import list_scenarios

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"{len(QUICK)} scenarios, first {QUICK_DURATION_S:g} s")
    ap.add_argument("--scenarios", nargs="*", help="library names (default: the whole library)")
    ap.add_argument("--duration", type=float, help="[s] cap on each scenario")
    ap.add_argument("--no-peer", action="store_true", help="skip the stationwatch run peer")
    ap.add_argument("--no-shared", action="store_true", help="skip the two-detector grid")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    names = args.scenarios or (list(QUICK) if args.quick else [n for n, _ in list_scenarios()])
    duration = args.duration if args.duration is not None else (QUICK_DURATION_S if args.quick else None)
    if duration is not None:
        from sim.scenario import load_scenario

        short = [n for n in names if load_scenario(n).duration_s < duration]
        if short:  # a grid's duration must fit every scenario: cap it per scenario in separate grids
            names = [n for n in names if n not in short]
            print(f"(left out, shorter than {duration:g} s: {', '.join(short)})")
    # warm-up: imports, the compiled raster kernel, OpenCV's first calls (paid once per worker process)
    with tempfile.TemporaryDirectory() as tmp:
        grid(["concourse_quiet"], 1.0, [{"name": "builtin"}], Path(tmp) / "warm")
    from sim.render.background_cache import CACHE_DIR_ENV, default_cache

    os.environ.pop(CACHE_DIR_ENV, None)  # memory only: the cold grid casts every background
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        measured = {}
        for label in ("cold", "warm"):
            if label == "cold":
                default_cache().clear()
            with stage_timers() as stages:
                res, cpu, wall, cells = grid(names, duration, [{"name": "builtin"}], tmp / f"grid_{label}")
            runs = [json.loads(p.read_text()) for p in (tmp / f"grid_{label}" / "runs").glob("*/run.json")]
            stages = dict(stages)
            stages["eval: ground truth tracks"] = sum(c.get("truth_s", 0.0) for c in cells)
            stages["eval: thumbnails"] = sum(c.get("io_s", 0.0) for c in cells)
            stages["eval: matching and tables"] = sum(r.get("score_s", 0.0) for r in runs)
            stages["everything else"] = cpu - sum(stages.values())
            measured[label] = (res, cpu, wall, cells, stages)
        res, cpu, wall, cells, stages = measured["warm"]
        frames, camera_s = res.frames, res.camera_s
        print(f"grid: {len(names)} scenario(s), {len(cells)} cell(s), {frames} frames = {camera_s / 3600:.3f} "
              f"camera-hours, built-in detectors, thumbnails of errors, no video")
        for label, what in (("cold", "background cache empty: every background ray-cast (the code path before the cache)"),
                            ("warm", "background cache warm (a scenario's later seeds, or a filled STATIONWATCH_CACHE_DIR)")):
            _, c_cpu, c_wall, c_cells, _ = measured[label]
            print(f"  {label}: {what}")
            print(f"    CPU {c_cpu:.1f} s (cells {sum(c.get('cpu_s', 0.0) for c in c_cells):.1f} s), wall {c_wall:.1f} s: "
                  f"{frames / c_cpu:.0f} frames/s per core end to end; {camera_s / c_cpu:.1f} camera-hours per "
                  f"core-hour (wall: {frames / c_wall:.0f} frames/s)")
        cold_cpu = measured["cold"][1]
        print(f"  ratio warm / cold: {cold_cpu / cpu:.2f} x the frames per core")
        print("  where the CPU time goes (ms per frame; share of the total), cold | warm:")
        cold_stages = measured["cold"][4]
        for label in sorted(stages, key=lambda k: (k == "everything else", -cold_stages.get(k, 0.0))):
            c, w = cold_stages.get(label, 0.0), stages[label]
            note = "  (scenario loading, site files, writing the results folder, gathering)" if label == "everything else" else ""
            print(f"    {label:<28} {1e3 * c / frames:6.2f} ms {100 * c / cold_cpu:5.1f} % | "
                  f"{1e3 * w / frames:6.2f} ms {100 * w / cpu:5.1f} %{note}")
        if not args.no_shared:
            res2, cpu2, _, _ = grid(names, duration, [{"name": "builtin"}, {"name": "intrusion_strict",
                                                                              "detectors": ["intrusion"],
                                                                              "policies": {"intrusion": {"threshold": 0.9}}}],
                                    tmp / "shared")
            print(f"shared cells: two detector entries on the same {len(names)} scenario(s): CPU {cpu2:.1f} s = "
                  f"{cpu2 / cpu:.2f} x one entry (two separate grids would cost 2.00 x); "
                  f"{2 * res2.camera_s / cpu2:.1f} camera-hours per core-hour per detector run")
        if not args.no_peer:
            default_cache().clear()  # the peer as before: its backgrounds cast
            p_frames, p_camera_s, p_cpu, p_wall = peer(names, duration, tmp / "peer")
            print(f"peer: stationwatch run (video and plots), same scenarios: {p_frames / p_cpu:.0f} frames/s per core, "
                  f"{p_camera_s / p_cpu:.1f} camera-hours per core-hour (CPU {p_cpu:.1f} s, wall {p_wall:.1f} s)")
            print(f"ratio grid / peer: {(camera_s / cpu) / (p_camera_s / p_cpu):.2f} x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
