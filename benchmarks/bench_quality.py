"""Detection quality over the scenario library at held-out seeds, per event type.

Usage::

    python benchmarks/bench_quality.py --seeds 901 902 903 904 905 --fa-seeds 901 902 903 [--jobs 2]

Runs (simulate, render, detect, score; no video, no plots) every library scenario except
the two long quiet ones at ``--seeds``, and ``rush_hour_quiet`` and ``station_full`` (the
false-alarm baselines) at ``--fa-seeds``, on a local process pool, and prints per event type:

- instances, recall, precision (duplicates of a detected instance are neither: operator load),
- false alarms per camera-hour over all runs, and over the two quiet scenarios alone,
- median latency [s] of the detected instances,

counted as :mod:`eval.metrics` counts (integers summed over runs, divided once). Seeds must be
held-out seeds (:mod:`sim.seeds`; ``--allow-tuning-seeds`` to look at the tuning set, whose
figures are not quality). Run folders go to ``--out`` (default ``runs/bench_quality``), so an
interrupted benchmark resumes where it stopped; ``--types`` picks the event types shown
(default: those the built-in detectors cover).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

#: the false-alarm baselines, run at --fa-seeds
QUIET_SCENARIOS = ("rush_hour_quiet", "station_full")


def _one(task: tuple):
    """Run one (scenario, seed) and count it (in a worker process)."""
    name, seed, out, detectors = task
    from eval.metrics import count
    from eval.run import run_scenario
    from sim.scenario import load_scenario

    sc = load_scenario(name)
    r = run_scenario(sc, Path(out) / name / f"seed_{seed}", seed=seed, detectors=detectors, video=False,
                     plots=False, progress=False)
    if r.reused:  # a finished folder: read what it holds
        from detectors.events import read_alerts
        from eval import results

        alerts = read_alerts(r.out_dir / results.ALERTS_FILE)
        instances = results.read_ground_truth(r.out_dir / results.GROUND_TRUTH_FILE)
    else:
        alerts, instances = r.alerts, r.instances
    cams = [c.name for c in sc.cameras]
    return name, seed, count(alerts, instances, {c: float(sc.duration_s) for c in cams}, cams)


def main() -> int:
    from detectors.events import EventType
    from detectors.registry import BUILTIN_DETECTORS

    builtin_types = [cls.event_type.value for cls in BUILTIN_DETECTORS.values()]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", required=True, help="held-out seeds of the event scenarios and "
                                                                        "hard negatives (5 or more)")
    ap.add_argument("--fa-seeds", type=int, nargs="*", default=None,
                    help="held-out seeds of rush_hour_quiet and station_full (default: the first three of --seeds)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel runs (a local process pool)")
    ap.add_argument("--out", default="runs/bench_quality", help="run folders (reused when finished)")
    ap.add_argument("--types", nargs="*", default=builtin_types, help="event types to show (default: the built-in "
                                                                     "detectors'); 'all' for the eight")
    ap.add_argument("--scenarios", nargs="*", help="scenarios instead of the whole library")
    ap.add_argument("--allow-tuning-seeds", action="store_true", help="accept tuning seeds (not quality figures)")
    ap.add_argument("--detectors", nargs="*", default=None, help="registry names of the detectors to run (default: "
                    "every one the camera's site supports); a type none of them covers shows no alerts")
    args = ap.parse_args()

    from eval.metrics import metrics_table
    from sim.scenario import list_scenarios
    from sim.seeds import HELD_OUT_SEEDS, SeedSplitError, check_evaluation_seeds, retired_among

    fa_seeds = args.seeds[:3] if args.fa_seeds is None else args.fa_seeds
    try:
        check_evaluation_seeds(args.seeds + fa_seeds, held_out=not args.allow_tuning_seeds, what="bench_quality")
    except SeedSplitError as exc:
        print(f"bench_quality: {exc}", file=sys.stderr)
        return 2
    retired = sorted(set(retired_among(args.seeds + fa_seeds)))
    if retired and not args.allow_tuning_seeds:
        print(f"bench_quality: warning: held-out seeds {', '.join(map(str, retired))} were reported on before "
              f"(sim/seeds.py RETIRED_HELD_OUT_SEEDS): detectors may have been changed in view of them; fresh "
              f"held-out seeds are the others of {HELD_OUT_SEEDS[0]}..{HELD_OUT_SEEDS[-1]}", file=sys.stderr)
    types = [t.value for t in EventType] if args.types == ["all"] else args.types
    try:
        types = [EventType.parse(t, field="--types").value for t in types]
    except ValueError as exc:
        print(f"bench_quality: {exc}", file=sys.stderr)
        return 2
    library = [n for n, _ in list_scenarios()]
    chosen = args.scenarios or library
    unknown = sorted(set(chosen) - set(library))
    if unknown:
        print(f"bench_quality: --scenarios {unknown} are not in the library ({', '.join(library)})", file=sys.stderr)
        return 2
    tasks = [(n, s, args.out, args.detectors) for n in chosen if n not in QUIET_SCENARIOS for s in args.seeds]
    tasks += [(n, s, args.out, args.detectors) for n in chosen if n in QUIET_SCENARIOS for s in fa_seeds]

    t0 = time.perf_counter()
    results = []
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), desc="runs", unit="run", disable=None)
    if args.jobs <= 1:
        for task in tasks:
            results.append(_one(task))
            bar.update(1)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn")) as pool:
            for r in pool.map(_one, tasks):
                results.append(r)
                bar.update(1)
    bar.close()

    total = sum(c for _, _, c in results)
    quiet = sum(c for n, _, c in results if n in QUIET_SCENARIOS)
    table = metrics_table(total, types=[EventType(t) for t in types])
    quiet_table = metrics_table(quiet, types=[EventType(t) for t in types]) if quiet else None
    commit = _commit()
    print(f"\nheld-out quality over {len(results)} runs ({len(set(n for n, _, _ in results))} scenarios; seeds "
          f"{args.seeds}, quiet scenarios at {fa_seeds}); {total.camera_hours:.2f} camera-hours, "
          f"quiet {quiet.camera_hours if quiet else 0:.2f}; commit {commit}; {time.perf_counter() - t0:.0f} s\n")
    head = f"{'type':<18}{'inst':>6}{'TP':>5}{'FP':>5}{'dup':>5}{'recall':>8}{'prec':>7}{'FA/h':>8}{'FA/h quiet':>12}" \
           f"{'latency':>9}"
    print(head)
    print("-" * len(head))
    for t in types:
        row = table[EventType(t)]
        q = quiet_table[EventType(t)].rfa_per_hour if quiet_table is not None else math.nan
        print(f"{t:<18}{row.n_instances:>6}{row.tp:>5}{row.fp:>5}{row.duplicates:>5}{_f(row.recall):>8}"
              f"{_f(row.precision):>7}{_f(row.rfa_per_hour, 2):>8}{_f(q, 2):>12}{_f(row.latency_median_s, 2):>9}")
    print("\nFA/h: false alarms per camera-hour (all runs; quiet: rush_hour_quiet and station_full alone); "
          "latency: median s from the instance's start")
    return 0


def _f(v, nd: int = 2) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
