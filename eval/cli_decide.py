"""The commands that turn a results folder into decisions: ``sweep``, ``tune``, ``compare``, ``report``.

Registered on the ``stationwatch`` parser by :func:`add_commands`; each prints a short table,
writes its files atomically and fails in one line (exit status 2) on bad input.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path


def _floats(text: str, what: str) -> list[float]:
    try:
        vals = [float(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"{what}: expected comma-separated numbers of seconds (e.g. 0,0.5,1); got {text!r}") from None
    bad = [v for v in vals if not (math.isfinite(v) and v >= 0)]
    if bad:
        raise ValueError(f"{what}: durations must be finite numbers >= 0; got {bad[0]!r}")
    return vals


def cmd_sweep(args) -> int:
    from eval.curves import format_summary, write_sweep
    from eval.sweep import FIXED_RFA_PER_HOUR

    md = None if args.min_duration is None else _floats(args.min_duration, "--min-duration")
    paths = write_sweep(args.results, args.out, n_boot=args.boot, seed=args.seed, detectors=args.detector,
                        types=args.type, min_durations_s=md, max_thresholds=args.max_thresholds,
                        progress=not args.quiet)
    import pyarrow.parquet as pq

    summary = pq.read_table(paths["summary"])
    print(format_summary(summary))
    hours = min((h for h in summary.column("camera_hours").to_pylist() if h and h > 0), default=0.0)
    if hours and 1.0 / hours > min(FIXED_RFA_PER_HOUR):
        print(f"\nresolution: the shortest sweep here covers {hours:.3g} camera-hours, where one false alarm is "
              f"{1.0 / hours:.3g} per camera-hour; Pm@x for x below that is the Pmiss of thresholds with no false "
              f"alarm at all (a longer grid, e.g. rush_hour_quiet, resolves lower rates)")
    out = paths["summary"].parent
    print(f"\nPm@x: lowest Pmiss with at most x false alarms per camera-hour; nAUDC over [0, 1] per camera-hour; NDCR "
          f"with CostMiss 10, CostFA 1, Rtarget 1.8/h.\nwrote {out}/curves.parquet (every threshold, with 95 % "
          f"intervals), summary.parquet, det_*.png, pr_*.png, latency_*.png")
    return 0


def cmd_tune(args) -> int:
    from eval.operator_load import MAX_SHARE_OVER_LIMIT, operator_load, operators_needed
    from eval.policies import write_policies
    from eval.tune import Target, tune_folder

    target = Target(rfa_per_hour=args.max_fa_per_hour, alerts_per_hour=args.budget, n_cameras=args.cameras)
    res = tune_folder(args.results, target, detector=args.detector, on=args.on, min_duration_s=args.min_duration,
                      max_thresholds=args.max_thresholds)
    out = Path(args.out) if args.out else Path(args.results) / "policies.yaml"
    notes = {"made_by": "stationwatch " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["tune"] else "eval.tune",
             "target": target.describe(), "detector": res.detector,
             "tuned_on": {"seeds": res.tuning_seeds, "runs": res.tuning_runs,
                          "figures": {t.value: {"p_miss": c.p_miss, "rfa_per_hour": c.rfa_per_hour,
                                                "alerts_per_camera_hour": c.alerts_per_camera_hour}
                                      for t, c in res.choices.items()}}}
    if res.held_out:
        notes["held_out"] = {"seeds": res.held_out_seeds, "figures": {t.value: v for t, v in res.held_out.items()}}
    write_policies(out, res.policies(), notes)
    print(f"{res.detector}: {target.describe()}; chosen on {res.tuning_runs} run(s), seeds {res.tuning_seeds}")
    head = f"{'type':<18} {'threshold':>10} {'min dur':>7} {'Pmiss':>6} {'FA/h':>7} {'alerts/cam-h':>12}  note"
    print(head + "\n" + "-" * len(head))
    for t, c in res.choices.items():
        print(f"{t.value:<18} {c.threshold:>10.8g} {c.min_duration_s:>6g}s {c.p_miss:>6.3f} {c.rfa_per_hour:>7.2f} "
              f"{c.alerts_per_camera_hour:>12.3f}  {c.note}")
    if res.held_out:
        print(f"\non held-out seeds {res.held_out_seeds} at these thresholds:")
        for t, v in res.held_out.items():
            print(f"  {t.value:<18} Pmiss {v['p_miss']:.3f} [{v['p_miss_lo']:.3f}, {v['p_miss_hi']:.3f}]  FA/h "
                  f"{v['rfa_per_hour']:.2f} [{v['rfa_per_hour_lo']:.2f}, {v['rfa_per_hour_hi']:.2f}]")
    else:
        print("\nno held-out run in this folder: the figures above are those of the runs the thresholds were chosen on")
    rate = sum(c.alerts_per_camera_hour for c in res.choices.values())
    load = operator_load(rate, args.cameras, args.operators, args.review_s)
    print(f"\noperator load, {args.cameras} camera(s), {args.operators} operator(s), {args.review_s:g} s per alert: "
          f"{load.alerts_per_hour:.2f} alerts/h, {load.alerts_per_operator_hour:.2f} per operator-hour, utilisation "
          f"{load.utilisation:.2f}, mean wait {load.mean_wait_s:.1f} s, {100 * load.share_over_limit:.1f} % wait over "
          f"{load.wait_limit_s:g} s; {operators_needed(rate, args.cameras, args.review_s)} operator(s) keep that "
          f"share at or under {100 * MAX_SHARE_OVER_LIMIT:g} %")
    print(f"\nwrote {out}  (use: stationwatch run|detect|experiment ... --policies {out})")
    return 0


def cmd_compare(args) -> int:
    from eval.compare import Side, compare, format_compare
    from eval.results_folder import ResultsFolder

    fa = ResultsFolder(args.results_a)
    fb = ResultsFolder(args.results_b) if args.results_b else fa
    if fb is fa:
        dets = fa.detectors
        a = args.a or dets[0]
        b = args.b or next((d for d in dets if d != a), None)
        if b is None:
            raise ValueError(f"compare: {os.fspath(fa.path)!r} holds one detector ({a}); give a second results "
                             f"folder or a grid with several detectors")
    else:
        a, b = args.a or fa.detectors[0], args.b or fb.detectors[0]
    rows = compare(Side(fa, fa.check_detector(a)), Side(fb, fb.check_detector(b)), n_boot=args.boot, seed=args.seed)
    print(format_compare(rows))
    return 0


def cmd_report(args) -> int:
    from eval.report import write_report

    path = write_report(args.results, args.out, policies_file=args.policies, n_cameras=args.cameras,
                        n_operators=args.operators, review_s=args.review_s, n_boot=args.boot, seed=args.seed,
                        max_strips=args.max_strips, progress=not args.quiet)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, self-contained)")
    return 0


def add_policy_args(s: argparse.ArgumentParser) -> None:
    """``--policies FILE`` and ``--threshold TYPE=VALUE`` (run, detect, experiment)."""
    s.add_argument("--policies", metavar="FILE", help="alert policies per event type (YAML, as stationwatch tune "
                                                      "writes it)")
    s.add_argument("--threshold", action="append", metavar="TYPE=VALUE",
                   help="alert threshold of one event type, over --policies (repeatable), e.g. intrusion=0.7")


def _load_args(s) -> None:
    s.add_argument("--cameras", type=int, default=46, help="cameras of the site (default 46)")
    s.add_argument("--operators", type=int, default=2, help="operators confirming alerts (default 2)")
    s.add_argument("--review-s", type=float, default=30.0, help="[s] to confirm or clear one alert (default 30)")


def add_commands(sub) -> None:
    """Register sweep, tune, compare and report on the ``stationwatch`` subparsers."""
    s = sub.add_parser("sweep", help="sweep alert thresholds offline over an experiment's recorded scores")
    s.add_argument("results", help="an experiment's results folder")
    s.add_argument("--detector", action="append", help="only this detector (repeatable)")
    s.add_argument("--type", action="append", help="only this event type (repeatable)")
    s.add_argument("--min-duration", metavar="S,S,...", help="[s] minimum durations to sweep besides the runs' own "
                                                             "(default 0,0.5,1)")
    s.add_argument("--max-thresholds", type=int, default=2000, help="thresholds per curve (default 2000)")
    s.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for rate intervals (default 1000)")
    s.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    s.add_argument("--out", help="output folder (default RESULTS/sweep)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("tune", help="choose thresholds for a false-alarm target or an operator budget; write a "
                                    "policies file")
    s.add_argument("results", help="an experiment's results folder")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--max-fa-per-hour", type=float, help="[1/h] false alarms per camera-hour, per event type")
    g.add_argument("--budget", type=float, metavar="ALERTS_PER_HOUR",
                   help="[1/h] every alert of every type across --cameras, e.g. --budget 2 --cameras 46")
    _load_args(s)
    s.add_argument("--detector", help="the in-process detector to tune (default: the first)")
    s.add_argument("--on", choices=("tuning", "all"), default="tuning",
                   help="runs to choose on: tuning seeds (sim/seeds.py, default) or all (in-sample)")
    s.add_argument("--min-duration", type=float, help="[s] minimum duration of the policy (default: as run)")
    s.add_argument("--max-thresholds", type=int, default=2000)
    s.add_argument("--out", help="policies file to write (default RESULTS/policies.yaml)")
    s.set_defaults(func=cmd_tune)

    s = sub.add_parser("compare", help="two detectors on the same runs: paired differences with 95 %% intervals")
    s.add_argument("results_a", help="results folder of A")
    s.add_argument("results_b", nargs="?", help="results folder of B (default: another detector of A's folder)")
    s.add_argument("--a", help="detector of A (default: the folder's first)")
    s.add_argument("--b", help="detector of B (default: the first of B's folder, or A's second)")
    s.add_argument("--boot", type=int, default=1000)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("report", help="one self-contained HTML report of an experiment's results")
    s.add_argument("results", help="an experiment's results folder")
    s.add_argument("--out", help="HTML file (default RESULTS/report.html)")
    s.add_argument("--policies", metavar="FILE", help="judge core detectors at these thresholds (default: as run)")
    s.add_argument("--max-strips", type=int, default=40, metavar="N",
                   help="thumbnail strips of misses and false alarms per detector (default 40; 0: every one)")
    _load_args(s)
    s.add_argument("--boot", type=int, default=1000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_report)
