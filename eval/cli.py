"""The ``stationwatch`` command line.

    stationwatch scenarios                        list the scenario library
    stationwatch render SCENARIO [--seed N]       video + ground truth + site configuration
    stationwatch run SCENARIO [--seed N]          simulate, render, detect, score, report
    stationwatch demo                             the library's foundation scenarios, one table
    stationwatch detect SOURCE --site SITE.yaml   alerts as JSON lines as they happen
    stationwatch evaluate ALERTS GROUND_TRUTH     score any system's alerts (JSONL, or CSV with --columns)
    stationwatch experiment EXPERIMENT.yaml       a grid of scenarios x seeds x variants x detectors
    stationwatch export RUN_DIR                   COCO and MOTChallenge files from a run's annotations
    stationwatch export RESULTS --actev           NIST ActEV files of an experiment's results
    stationwatch site SCENARIO --camera NAME      write a camera's site configuration
    stationwatch calibrate-density                fit the density detector's gain on rendered footage
    stationwatch train-density                    train the density CNN on rendered footage
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DEMO_SCENARIOS = ("concourse_quiet", "platform_intrusion", "concourse_overcrowding")


class CliError(Exception):
    """A user error the CLI reports in one line (exit status 2)."""


def _overrides(pairs: list[str]) -> dict:
    import yaml

    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise CliError(f"--set expects KEY=VALUE (e.g. render.noise_std=6); got {p!r}")
        k, v = p.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


def _load(args):
    from sim.scenario import load_scenario

    return load_scenario(args.scenario, _overrides(args.set))


def cmd_scenarios(args) -> int:
    from sim.scenario import list_scenarios

    items = list_scenarios()
    width = max(len(n) for n, _ in items)
    for name, desc in items:
        print(f"{name.ljust(width)}  {desc}")
    return 0


def cmd_render(args) -> int:
    from tqdm.auto import tqdm

    from eval import results
    from eval.matching import instances_from_records
    from sim.annotate import write_annotations_parquet
    from sim.site_export import write_site_config
    from sim.source import SyntheticFeed
    from sim.render.video import VideoWriter

    sc = _load(args)
    out = Path(args.out or f"runs/{sc.name}/render_seed_{args.seed if args.seed is not None else sc.seed}")
    out.mkdir(parents=True, exist_ok=True)
    feed = SyntheticFeed(sc, cameras=args.camera or None, seed=args.seed, duration_s=args.duration)
    writers = {n: VideoWriter(out / f"{n}.mp4", fps=sc.camera(n).fps, size=tuple(sc.camera(n).resolution))
               for n in feed.cameras}
    total = sum(feed.n_frames(n) for n in feed.cameras)
    try:
        for cf in tqdm(feed, total=total, desc=sc.name, unit="frame", leave=False, disable=None):
            writers[cf.camera].write(cf.frame.image)
    finally:
        for w in writers.values():
            w.close()
    for n in feed.cameras:
        write_site_config(sc, n, out / f"site_{n}.yaml")
    instances = instances_from_records(feed.ground_truth())
    results.write_ground_truth(out / results.GROUND_TRUTH_FILE, instances, extra={
        "format": "stationwatch.ground_truth/1", "scenario": sc.name, "seed": feed.seed,
        "duration_s": feed.duration_s, "world_events": [e.to_dict() for e in feed.world_events()],
        "world_context": feed.world_context()})
    write_annotations_parquet(out / "annotations.parquet", [a for n in feed.cameras for a in feed.annotations[n]])
    _export_tracks(out, sc, feed.cameras, [a for n in feed.cameras for a in feed.annotations[n]])
    print(f"wrote {total} frames of {', '.join(feed.cameras)} and {len(instances)} ground-truth instance(s) to {out}")
    return 0


def _export_tracks(out: Path, sc, cameras, frames) -> None:
    """COCO person and train boxes (one file, every camera) and one MOTChallenge sequence of the people per camera."""
    from sim.export import write_coco, write_mot_sequence

    sizes = {n: tuple(sc.camera(n).resolution) for n in cameras}
    write_coco(out / "coco.json", frames, sizes)
    for n in cameras:
        write_mot_sequence(out / "mot" / n, frames, camera=n, fps=sc.camera(n).fps, image_size=sizes[n])


def cmd_export(args) -> int:
    if args.actev:
        from eval.actev import export_actev

        try:
            written = export_actev(args.run_dir, args.out, detectors=args.detector, fixed_s=args.interval_s)
        except OSError as exc:
            raise CliError(f"export: cannot write {exc.filename or args.out}: {exc.strerror or exc}") from None
        for det, paths in written.items():
            print(f"{det}: {paths['system_output'].parent}/ (system_output, reference, activity_index, file_index)")
        return 0
    from sim.annotate import read_annotations_parquet
    from sim.scenario import load_scenario

    run = Path(args.run_dir)
    ann = run / "annotations.parquet"
    if not ann.exists():
        raise CliError(f"{run} holds no annotations.parquet (is it a run or render folder?)")
    from eval import results

    gt = results.read_json(run / results.GROUND_TRUTH_FILE)
    sc = load_scenario(gt["scenario"])
    frames = read_annotations_parquet(ann)
    cameras = [c["name"] for c in gt.get("cameras", [])] or sorted({f.camera for f in frames})
    _export_tracks(run, sc, cameras, frames)
    print(f"wrote {run / 'coco.json'} and {', '.join(str(run / 'mot' / c) for c in cameras)}")
    return 0


def cmd_calibrate_density(args) -> int:
    from detectors.density import GAIN_FILE
    from eval import results
    from eval.calibrate import DEFAULT_SET, calibrate

    pairs = DEFAULT_SET if not args.scenario else [(n, s) for n in args.scenario for s in (args.seed or [0])]
    cal = calibrate(pairs, min_true_per_m2=args.min_density)
    out = args.out or GAIN_FILE
    results.write_json(out, cal.to_dict(argv=[a for a in sys.argv[2:]]))
    print(f"gain {cal.gain:.4f} from {cal.n_frames} frames; RMS error {cal.rms_before:.3f} -> "
          f"{cal.rms_after:.3f} persons/m2; wrote {out}")
    return 0


def cmd_train_density(args) -> int:
    from detectors.density_cnn import WEIGHTS_FILE
    from eval.train_density import DEFAULT_SET, HELD_OUT, save, train

    res = train(DEFAULT_SET, HELD_OUT, seed=args.seed, epochs=args.epochs, threads=args.threads,
                frames=args.frames)
    out = args.out or WEIGHTS_FILE
    meta = save(res, out, seed=args.seed, epochs=args.epochs, argv=sys.argv[2:])
    print(f"trained on {res.train_frames} frames in {res.seconds:.0f} s, final loss {res.final_loss:.4f}; held-out "
          f"count error {res.held_out_mae_persons:.2f} persons/frame (truth {res.held_out_true_mean:.1f}); "
          f"wrote {out} and {meta}")
    return 0


def cmd_run(args) -> int:
    from eval.run import run_scenario, summary_table

    sc = _load(args)
    seed = sc.seed if args.seed is None else args.seed
    out = Path(args.out or f"runs/{sc.name}/seed_{seed}")
    t0 = time.perf_counter()
    r = run_scenario(sc, out, seed=seed, duration_s=args.duration, video=not args.no_video, force=args.force)
    print(summary_table([r]))
    tail = "reused a finished run (use --force to rerun)" if r.reused else f"in {time.perf_counter() - t0:.1f} s"
    print(f"\n{r.n_frames} frames, results in {out} ({tail})")
    return 0


def cmd_demo(args) -> int:
    from eval.run import run_many, summary_table

    t0 = time.perf_counter()
    runs = run_many(list(args.scenarios or DEMO_SCENARIOS), args.out, jobs=args.jobs, video=not args.no_video,
                    force=args.force)
    print(summary_table(runs))
    print(f"\n{len(runs)} runs in {time.perf_counter() - t0:.1f} s; folders under {args.out}/SCENARIO/seed_N "
          f"(timeline_*.png, sample_*.png, metrics.json)")
    return 0


def cmd_detect(args) -> int:
    from detectors.core import DetectionCore
    from detectors.site import SiteConfig
    from detectors.source import open_source

    site = SiteConfig.load(args.site)
    src = open_source(args.source, camera=site.camera, fps=args.fps, max_frames=args.max_frames)
    core = DetectionCore(site, detectors=args.detector or None)
    sink = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    n = 0
    try:
        for alerts in core.run(src):
            for a in alerts:
                sink.write(a.to_json() + "\n")
                sink.flush()
                n += 1
    except KeyboardInterrupt:
        pass
    finally:
        src.close()
        if sink is not sys.stdout:
            sink.close()
    print(f"{core.frames_processed} frames, {n} alert(s)", file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    from eval import results
    from eval.alert_readers import AlertFormat, parse_mapping, read_alerts_file
    from eval.metrics import evaluate

    fmt = AlertFormat(format=args.format or ("csv" if args.alerts.lower().endswith(".csv") or args.columns else "jsonl"),
                      columns=parse_mapping(args.columns, what="--columns"),
                      type_map=parse_mapping(args.type_map, what="--type-map"), time_unit=args.time_unit)
    alerts = read_alerts_file(args.alerts, fmt, camera=args.camera, fps=args.fps)
    gt = results.read_json(args.ground_truth)
    instances = results.read_ground_truth(args.ground_truth)
    duration = args.duration or gt.get("duration_s")
    if not duration:
        raise CliError("--duration is needed: the ground-truth file gives no duration_s")
    cameras = sorted({c["name"] for c in gt.get("cameras", [])} | {i.camera for i in instances} | {a.camera for a in alerts})
    table = evaluate(alerts, instances, float(duration), cameras=cameras, spatial=args.spatial)
    print(table.format_table())
    if args.json:
        results.write_json(args.json, table.to_dict())
    return 0


def cmd_experiment(args) -> int:
    from eval.experiment import load_experiment
    from eval.grid import plan, run_experiment, summary_lines

    exp = load_experiment(args.experiment)
    out = Path(args.out) if args.out else Path("runs") / "experiments" / exp.spec.name
    if args.dry_run:
        tasks, reused = plan(exp, out, force=args.force, retry_failed=args.retry_failed)
        print(f"{exp.spec.name}: {len(exp.cells)} cell(s) x {len(exp.spec.detectors)} detector(s) = {exp.n_runs} "
              f"run(s); {reused} finished in {out}, {sum(len(t.runs) for t in tasks)} to run")
        for t in tasks:
            print(f"  {t.cell['cell_id']}: {', '.join(r['detector']['name'] for r in t.runs)}")
        return 0
    if args.cache_dir:
        from sim.render.background_cache import CACHE_DIR_ENV

        os.environ[CACHE_DIR_ENV] = os.path.abspath(args.cache_dir)  # this process and the pool's workers
    t0 = time.perf_counter()
    try:
        res = run_experiment(exp, out, jobs=args.jobs, scheduler=args.scheduler, force=args.force,
                             retry_failed=args.retry_failed)
    except KeyboardInterrupt:
        print(f"stationwatch experiment: interrupted; finished runs are kept in {out}, rerun the same command to "
              f"resume", file=sys.stderr)
        return 130
    except OSError as exc:
        raise CliError(f"experiment: cannot write the results folder {out}: {exc.strerror or exc} "
                       f"({exc.filename or out})") from None
    print("\n".join(summary_lines(res)))
    rate = (f"; {res.camera_hours_per_core_hour:.1f} camera-hours per core-hour, {res.frames / res.cpu_s:.0f} "
            f"frames/s per core" if res.cpu_s > 0 else "")
    print(f"\n{res.ok} of {res.n_runs} run(s) ok, {res.failed} failed, {res.reused} reused, {res.computed} computed in "
          f"{time.perf_counter() - t0:.1f} s{rate}; results in {out}")
    return 1 if res.failed else 0


def cmd_site(args) -> int:
    from sim.site_export import write_site_config

    sc = _load(args)
    cam = args.camera or sc.cameras[0].name
    out = args.out or f"site_{cam}.yaml"
    write_site_config(sc, cam, out)
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stationwatch", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("scenarios", help="list the scenario library")
    s.set_defaults(func=cmd_scenarios)

    def scenario_args(s):
        s.add_argument("scenario", help="library name or path to a scenario YAML file")
        s.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
        s.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a scenario key, e.g. --set render.noise_std=6 (repeatable)")

    s = sub.add_parser("render", help="render a scenario to video with ground truth")
    scenario_args(s)
    s.add_argument("--out", help="output folder (default runs/SCENARIO/render_seed_N)")
    s.add_argument("--camera", action="append", help="camera name (repeatable; default all)")
    s.add_argument("--duration", type=float, help="[s] render only the first seconds")
    s.set_defaults(func=cmd_render)

    s = sub.add_parser("run", help="simulate, render, detect and score one scenario")
    scenario_args(s)
    s.add_argument("--out", help="run folder (default runs/SCENARIO/seed_N)")
    s.add_argument("--duration", type=float, help="[s] run only the first seconds")
    s.add_argument("--no-video", action="store_true", help="do not write the MP4 files")
    s.add_argument("--force", action="store_true", help="rerun even if the folder holds a finished run")
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("demo", help="run the foundation scenarios and print one table")
    s.add_argument("--out", default="runs/demo")
    s.add_argument("--jobs", type=int, default=None, help="parallel runs (default: number of cores)")
    s.add_argument("--scenarios", nargs="*", help=f"scenario names (default {' '.join(DEMO_SCENARIOS)})")
    s.add_argument("--no-video", action="store_true")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("detect", help="run the detection core on a video file, camera index or stream URL")
    s.add_argument("source", help="video file, camera index (0) or URL (rtsp://...)")
    s.add_argument("--site", required=True, help="site configuration YAML")
    s.add_argument("--detector", action="append", help="detector name (repeatable; default: all the site supports)")
    s.add_argument("--fps", type=float, help="override the stream's frame rate")
    s.add_argument("--max-frames", type=int)
    s.add_argument("--out", help="write alerts to this JSONL file instead of stdout")
    s.set_defaults(func=cmd_detect)

    s = sub.add_parser("evaluate", help="score an alerts file (JSON Lines, or CSV) against a ground-truth JSON file")
    s.add_argument("alerts")
    s.add_argument("ground_truth")
    s.add_argument("--duration", type=float, help="[s] scored duration per camera (default: from the file)")
    s.add_argument("--json", help="also write the metrics table as JSON here")
    s.add_argument("--format", choices=("jsonl", "csv"), help="alerts format (default: from the extension)")
    s.add_argument("--columns", metavar="FIELD=COLUMN,...",
                   help="CSV columns of camera, type, t (or frame), score, x, y, w, h (e.g. camera=cam,t=time_s)")
    s.add_argument("--type-map", metavar="LABEL=TYPE,...", help="the system's labels as event types (e.g. Fall=person_on_ground)")
    s.add_argument("--time-unit", choices=("s", "ms", "frame"), default="s", help="unit of the time column")
    s.add_argument("--fps", type=float, help="frame rate, for frame indices")
    s.add_argument("--camera", help="camera of alerts whose file names none")
    s.add_argument("--spatial", choices=("alert_time", "onset", "none"), default="alert_time",
                   help="the instance box an alert's box must overlap: at the alert's time (default), at onset, "
                        "or none (time only, as ActEV)")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("experiment", help="run a grid of scenarios x seeds x variants x detectors")
    s.add_argument("experiment", help="experiment file (YAML; README: Experiments)")
    s.add_argument("--out", help="results folder (default runs/experiments/NAME)")
    s.add_argument("--jobs", type=int, default=None, help="local worker processes (default: number of cores)")
    s.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run the cells on a Dask distributed scheduler")
    s.add_argument("--force", action="store_true", help="recompute finished runs")
    s.add_argument("--retry-failed", action="store_true", help="recompute runs that failed")
    s.add_argument("--cache-dir", metavar="DIR", help="keep the cameras' static backgrounds here, for every worker "
                   "and later grids (default: $STATIONWATCH_CACHE_DIR, else in each process's memory only)")
    s.add_argument("--dry-run", action="store_true", help="print the grid and what is left to run")
    s.set_defaults(func=cmd_experiment)

    s = sub.add_parser("export", help="write COCO and MOTChallenge ground truth for a run or render folder, or "
                                      "ActEV files of an experiment's results (--actev)")
    s.add_argument("run_dir", help="run or render folder; with --actev, an experiment's results folder")
    s.add_argument("--actev", action="store_true", help="write NIST ActEV system output, reference, activity and "
                                                       "file indexes per detector")
    s.add_argument("--out", help="with --actev: output folder (default RESULTS/actev)")
    s.add_argument("--detector", action="append", help="with --actev: only this detector (repeatable)")
    s.add_argument("--interval-s", type=float, help="with --actev: [s] detection interval of alerts without "
                                                    "per-frame scores (default: the type's max latency)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("calibrate-density", help="fit the density detector's gain on rendered footage")
    s.add_argument("--scenario", action="append", help="scenario to fit on (repeatable; default: the shipped set)")
    s.add_argument("--seed", action="append", type=int, help="seed(s) for --scenario")
    s.add_argument("--min-density", type=float, default=0.5, help="[persons/m2] fit on frames at least this dense")
    s.add_argument("--out", help="where to write the JSON (default: the package's detectors/weights/)")
    s.set_defaults(func=cmd_calibrate_density)

    s = sub.add_parser("train-density", help="train the density CNN on rendered footage")
    s.add_argument("--seed", type=int, default=0, help="torch and shuffling seed")
    s.add_argument("--epochs", type=int, default=6)
    s.add_argument("--threads", type=int, default=2, help="torch threads while training")
    s.add_argument("--frames", type=int, help="cap on training frames (quick runs)")
    s.add_argument("--out", help="where to write the weights (default: the package's detectors/weights/)")
    s.set_defaults(func=cmd_train_density)

    s = sub.add_parser("site", help="write the site configuration of a scenario's camera")
    scenario_args(s)
    s.add_argument("--camera")
    s.add_argument("--out")
    s.set_defaults(func=cmd_site)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as exc:
        print(f"stationwatch: {exc}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError, KeyError, RuntimeError) as exc:
        # project errors (ScenarioError, SiteError, SourceError, ...) name the field already
        print(f"stationwatch {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

