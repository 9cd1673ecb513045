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
    stationwatch sweep RESULTS                    DET, PR and latency curves over every threshold, offline
    stationwatch tune RESULTS --budget 2 --cameras 46   thresholds for an operator budget: a policies file
    stationwatch compare RESULTS_A [RESULTS_B]    paired differences of two detectors with a verdict
    stationwatch report RESULTS                   one self-contained HTML report
    stationwatch site SCENARIO --camera NAME      write a camera's site configuration
    stationwatch calibrate-density                fit the density detector's gain on rendered footage
    stationwatch train-density                    train the density CNN on rendered footage
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import time
import warnings
from pathlib import Path

from eval.cli_decide import add_commands, add_policy_args

DEMO_SCENARIOS = ("concourse_quiet", "platform_intrusion", "concourse_overcrowding")


class CliError(Exception):
    """A user error the CLI reports in one line (exit status 2)."""


class _UsageError(CliError):
    """A command line argparse refuses; the message names the command already."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (no usage block), through :func:`main`."""

    def error(self, message: str):
        raise _UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _number(kind, *, low: float, strict: bool, what: str):
    """An argparse type: a finite number of ``kind`` above ``low`` (``strict``) or at least ``low``."""
    import math

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}") from None
        if not math.isfinite(value) or not (value > low if strict else value >= low):
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
        return value

    return parse


_positive_int = _number(int, low=0, strict=True, what="an integer >= 1")
_seed = _number(int, low=0, strict=False, what="an integer >= 0")
_positive_s = _number(float, low=0.0, strict=True, what="a number of seconds > 0")
_positive_float = _number(float, low=0.0, strict=True, what="a number > 0")
_nonneg_float = _number(float, low=0.0, strict=False, what="a number >= 0")


def _overrides(pairs: list[str]) -> dict:
    import yaml

    out = {}
    for p in pairs or []:
        if "=" not in p or not p.split("=", 1)[0].strip():
            raise CliError(f"--set expects KEY=VALUE (e.g. render.noise_std=6); got {p!r}")
        k, v = p.split("=", 1)
        try:
            out[k.strip()] = yaml.safe_load(v)
        except yaml.YAMLError as exc:
            why = " ".join(str(getattr(exc, "problem", None) or exc).split())
            raise CliError(f"--set {k.strip()}: the value {v!r} is not a YAML value ({why})") from None
    return out


def _settings_tag(args) -> str:
    """A short hash of the settings that change a run besides scenario and seed (--set, --duration,
    --policies, --threshold), added to the default folder name so that runs of other settings
    never share a folder."""
    import hashlib
    import json

    settings = {"set": _overrides(args.set), "duration_s": getattr(args, "duration", None)}
    if getattr(args, "policies", None) or getattr(args, "threshold", None):
        from eval.policies import overrides_from_args

        settings["policies"] = {str(k): vars(v) for k, v in overrides_from_args(args.policies, args.threshold).items()}
    if not settings["set"] and settings["duration_s"] is None and "policies" not in settings:
        return ""
    text = json.dumps(settings, sort_keys=True, default=str)
    return "_" + hashlib.sha256(text.encode()).hexdigest()[:8]


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
    from eval.instance_tracks import add_tracks
    from eval.matching import instances_from_records
    from eval.run import feed_ground_truth
    from sim.annotate import write_annotations_parquet
    from sim.render.video import VideoWriter
    from sim.site_export import write_site_config
    from sim.source import SyntheticFeed

    sc = _load(args)
    feed = SyntheticFeed(sc, cameras=args.camera or None, seed=args.seed, duration_s=args.duration)  # checks first
    out = Path(args.out or f"runs/{sc.name}/render_seed_{feed.seed}{_settings_tag(args)}")
    out.mkdir(parents=True, exist_ok=True)
    writers = {}
    total = sum(feed.n_frames(n) for n in feed.cameras)
    try:
        for n in feed.cameras:
            writers[n] = VideoWriter(out / f"{n}.mp4", fps=sc.camera(n).fps, size=tuple(sc.camera(n).resolution))
        for cf in tqdm(feed, total=total, desc=sc.name, unit="frame", leave=False, disable=None):
            writers[cf.camera].write(cf.frame.image)
    except BaseException:  # an interrupt leaves no partial video under its name
        for w in writers.values():
            w.discard()
        raise
    for w in writers.values():
        w.close()
    for n in feed.cameras:
        write_site_config(sc, n, out / f"site_{n}.yaml")
    frames = [a for n in feed.cameras for a in feed.annotations[n]]
    records = add_tracks(feed.ground_truth(), feed.world_events(), feed.annotations,
                         group_names=sc.crowd.appearance.group_names())
    instances = instances_from_records(records)
    results.write_json(out / results.GROUND_TRUTH_FILE, feed_ground_truth(feed, [i.to_dict() for i in instances]))
    write_annotations_parquet(out / "annotations.parquet", frames)
    _export_tracks(out, {n: _camera_info(sc.camera(n), feed.n_frames(n)) for n in feed.cameras}, frames)
    print(f"wrote {total} frames of {', '.join(feed.cameras)} and {len(instances)} ground-truth instance(s) to {out}")
    return 0


def _camera_info(spec, n_frames: int) -> dict:
    return {"fps": float(spec.fps), "size": tuple(int(v) for v in spec.resolution), "n_frames": int(n_frames)}


#: where ``export --frames`` puts each frame, relative to the folder: MOTChallenge's ``img1`` of the
#: camera, frames numbered from 1; COCO's ``file_name`` points to the same files
FRAME_FILE = "mot/{camera}/img1/{number:06d}.jpg"


def _export_tracks(out: Path, cameras: dict[str, dict], frames) -> None:
    """COCO person and train boxes (one file, every camera) and one MOTChallenge sequence of the people per
    camera.

    ``cameras`` maps each camera to ``{"fps", "size", "n_frames"}``."""
    from sim.export import write_coco, write_mot_sequence

    write_coco(out / "coco.json", frames, {n: c["size"] for n, c in cameras.items()}, file_pattern=FRAME_FILE)
    for n, c in cameras.items():
        write_mot_sequence(out / "mot" / n, frames, camera=n, fps=c["fps"], image_size=c["size"],
                           n_frames=c["n_frames"])


def cmd_export(args) -> int:
    if args.actev:
        from eval.actev import export_actev

        written = export_actev(args.run_dir, args.out, detectors=args.detector, fixed_s=args.interval_s)
        for det, paths in written.items():
            print(f"{det}: {paths['system_output'].parent}/ (system_output, reference, activity_index, file_index)")
        return 0
    from eval import results
    from eval.ground_truth import read_ground_truth_file
    from sim.annotate import read_annotations_parquet

    run = Path(args.run_dir)
    ann = run / "annotations.parquet"
    if not ann.exists():
        raise CliError(f"{run} holds no annotations.parquet (is it a run or render folder?)")
    gt = read_ground_truth_file(run / results.GROUND_TRUTH_FILE)
    frames = read_annotations_parquet(ann)
    cameras = {}
    for name in gt.camera_names() or sorted({f.camera for f in frames}):
        info = next((c for c in gt.cameras if c.name == name), None)
        if info is None or info.fps is None or info.resolution is None:
            from sim.scenario import load_scenario  # a ground truth of an earlier version: sizes from the scenario

            spec = load_scenario(gt.scenario).camera(name)
            fps, size = float(spec.fps), tuple(spec.resolution)
        else:
            fps, size = info.fps, info.resolution
        n_frames = 1 + max((f.frame for f in frames if f.camera == name), default=-1)
        cameras[name] = {"fps": fps, "size": size, "n_frames": n_frames}
    if args.frames:  # every frame the files point to, before the files themselves
        for name, c in cameras.items():
            _extract_frames(run, name, c["n_frames"])
    _export_tracks(run, cameras, frames)
    what = " with their frames" if args.frames else ""
    print(f"wrote {run / 'coco.json'} and {', '.join(str(run / 'mot' / c) for c in cameras)}{what}")
    return 0


def _extract_frames(run: Path, camera: str, n_frames: int) -> None:
    """Decode ``RUN/CAMERA.mp4`` into the JPEG files of :data:`FRAME_FILE` (the run's frames, lossy twice)."""
    import cv2

    from detectors.files import atomic_write_bytes
    from detectors.source import VideoFileSource

    video = run / f"{camera}.mp4"
    if not video.exists():
        raise CliError(f"{run} holds no {video.name}: export --frames decodes the run's video (made without "
                       f"--no-video)")
    src = VideoFileSource(video, camera=camera)
    n = 0
    try:
        for frame in src:
            if n == 0:
                (run / "mot" / camera / "img1").mkdir(parents=True, exist_ok=True)
            ok, jpeg = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 95])
            atomic_write_bytes(run / FRAME_FILE.format(camera=camera, number=frame.index + 1), jpeg.tobytes())
            n += 1
    finally:
        src.close()
    if n != n_frames:
        raise CliError(f"{video}: {n} frame(s) decoded; the annotations have {n_frames}")


def cmd_calibrate_density(args) -> int:
    from detectors.density import GAIN_FILE
    from detectors.files import check_writable
    from eval import results
    from eval.calibrate import DEFAULT_SET, calibrate

    pairs = DEFAULT_SET if not args.scenario else [(n, s) for n in args.scenario for s in (args.seed or [0])]
    from sim.scenario import load_scenario

    for name in sorted({n for n, _ in pairs}):  # a typo of a name, or a destination not writable, now: not after
        load_scenario(name)                      # minutes of rendering
    out = args.out or GAIN_FILE
    check_writable(out)
    cal = calibrate(pairs, min_true_per_m2=args.min_density)
    results.write_json(out, cal.to_dict(argv=[a for a in sys.argv[2:]]))
    print(f"gain {cal.gain:.4f} from {cal.n_frames} frames; RMS error {cal.rms_before:.3f} -> "
          f"{cal.rms_after:.3f} persons/m2; wrote {out}")
    return 0


def cmd_train_density(args) -> int:
    import eval.train_density as training
    from detectors.density_cnn import WEIGHTS_FILE
    from detectors.files import check_writable

    out = args.out or WEIGHTS_FILE
    check_writable(out)  # now, not after minutes of training
    check_writable(os.path.splitext(out)[0] + ".json")  # its model card
    res = training.train(training.DEFAULT_SET, training.HELD_OUT, seed=args.seed, epochs=args.epochs,
                         threads=args.threads, frames=args.frames)
    meta = training.save(res, out, seed=args.seed, epochs=args.epochs, argv=sys.argv[2:])
    print(f"trained on {res.train_frames} frames in {res.seconds:.0f} s, final loss {res.final_loss:.4f}; held-out "
          f"count error {res.held_out_mae_persons:.2f} persons/frame (truth {res.held_out_true_mean:.1f}); "
          f"wrote {out} and {meta}")
    return 0


def cmd_run(args) -> int:
    from eval.run import run_scenario, summary_table

    from eval.policies import overrides_from_args

    sc = _load(args)
    seed = sc.seed if args.seed is None else args.seed
    # runs with --set or --duration get a folder of their own: runs/NAME/seed_N_HASH
    out = Path(args.out or f"runs/{sc.name}/seed_{seed}{_settings_tag(args)}")
    policies = overrides_from_args(args.policies, args.threshold)
    t0 = time.perf_counter()
    r = run_scenario(sc, out, seed=seed, duration_s=args.duration, video=not args.no_video, force=args.force,
                     policies=policies or None)
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
    from contextlib import ExitStack

    from detectors.files import atomic_path
    from detectors.site import SiteConfig
    from detectors.source import open_source
    from eval.policies import core_with_policies, overrides_from_args

    site = SiteConfig.load(args.site)
    # the policies (a missing file, a bad --threshold) are checked before the source is opened
    core = core_with_policies(site, args.detector or None, overrides_from_args(args.policies, args.threshold))
    with ExitStack() as stack:
        src = open_source(args.source, camera=site.camera, fps=args.fps, max_frames=args.max_frames)
        stack.callback(src.close)
        sink = sys.stdout
        if args.out:  # alerts stream into a temporary file, renamed onto --out when the source ends or on Ctrl-C
            sink = stack.enter_context(open(stack.enter_context(atomic_path(args.out)), "w", encoding="utf-8"))
        n = 0
        interrupted = False
        try:
            for alerts in core.run(src):
                for a in alerts:
                    sink.write(a.to_json() + "\n")
                    sink.flush()
                    n += 1
        except KeyboardInterrupt:  # a live camera is stopped by Ctrl-C: the alerts so far are kept
            interrupted = True
    where = f" written to {args.out}" if args.out else ""
    if interrupted:
        print(f"stationwatch detect: interrupted after {core.frames_processed} frames; {n} alert(s){where}",
              file=sys.stderr)
        return 130
    print(f"{core.frames_processed} frames, {n} alert(s){where}", file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    from eval import results
    from eval.alert_readers import AlertFormat, parse_mapping, past_end, read_alerts_file
    from eval.ground_truth import read_ground_truth_file
    from eval.metrics import evaluate

    fmt = AlertFormat(format=args.format or ("csv" if args.alerts.lower().endswith(".csv") or args.columns else "jsonl"),
                      columns=parse_mapping(args.columns, what="--columns"),
                      type_map=parse_mapping(args.type_map, what="--type-map"), time_unit=args.time_unit)
    alerts = read_alerts_file(args.alerts, fmt, camera=args.camera, fps=args.fps)
    gt = read_ground_truth_file(args.ground_truth)
    known = gt.camera_names()
    unknown = sorted({a.camera for a in alerts} - set(known))
    if unknown and not args.allow_unknown_cameras:
        cams = f"its cameras: {', '.join(known)}" if known else "it names no camera"
        raise CliError(f"{args.alerts}: camera(s) {', '.join(map(repr, unknown))} not in the ground truth ({cams}); "
                       f"check the spelling, or pass --allow-unknown-cameras to score them as cameras without events")
    fallback = args.duration if args.duration is not None else gt.duration_s
    durations = {c: (args.duration if args.duration is not None else gt.camera_duration(c)) for c in known}
    durations.update({c: fallback for c in unknown})
    if any(v is None for v in durations.values()) or not durations and fallback is None:
        shape = "a bare list of instance records" if gt.bare else "a ground truth without duration_s"
        raise CliError(f"--duration is needed: {args.ground_truth} is {shape}")
    late = past_end(alerts, durations)
    if late:
        shown = ", ".join(f"t={alerts[k].t:g} s on {alerts[k].camera!r} ({alerts[k].type})" for k in late[:3])
        more = f" and {len(late) - 3} more" if len(late) > 3 else ""
        print(f"stationwatch evaluate: warning: {len(late)} alert(s) after the end of the footage, counted as false "
              f"alarms: {shown}{more}", file=sys.stderr)
    table = evaluate(alerts, gt.instances, durations, spatial=args.spatial)
    print(table.format_table())
    if args.json:
        results.write_json(args.json, {**table.to_dict(), "alerts_past_end": len(late), "unknown_cameras": unknown})
    return 0


def cmd_experiment(args) -> int:
    from eval.experiment import load_experiment
    from eval.grid import plan, run_experiment, summary_lines

    from eval.policies import overrides_from_args, with_policies

    exp = load_experiment(args.experiment)
    exp = with_policies(exp, overrides_from_args(args.policies, args.threshold))
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
        raise CliError(f"cannot write the results folder {out}: {exc.strerror or exc} "
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
    p = _Parser(prog="stationwatch", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"stationwatch {version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("scenarios", help="list the scenario library")
    s.set_defaults(func=cmd_scenarios)

    def scenario_args(s):
        s.add_argument("scenario", help="library name or path to a scenario YAML file")
        s.add_argument("--seed", type=_seed, default=None, help="override the scenario's seed")
        s.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a scenario key, e.g. --set render.noise_std=6 (repeatable)")

    s = sub.add_parser("render", help="render a scenario to video with ground truth")
    scenario_args(s)
    s.add_argument("--out", help="output folder (default runs/SCENARIO/render_seed_N)")
    s.add_argument("--camera", action="append", help="camera name (repeatable; default all)")
    s.add_argument("--duration", type=_positive_s, help="[s] render only the first seconds")
    s.set_defaults(func=cmd_render)

    s = sub.add_parser("run", help="simulate, render, detect and score one scenario")
    scenario_args(s)
    s.add_argument("--out", help="run folder (default runs/SCENARIO/seed_N, and seed_N_HASH with --set or "
                                 "--duration: a hash of those settings)")
    s.add_argument("--duration", type=_positive_s, help="[s] run only the first seconds")
    s.add_argument("--no-video", action="store_true", help="do not write the MP4 files")
    s.add_argument("--force", action="store_true", help="rerun even if the folder holds a finished run")
    add_policy_args(s)
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("demo", help="run the foundation scenarios and print one table")
    s.add_argument("--out", default="runs/demo")
    s.add_argument("--jobs", type=_positive_int, default=None, help="parallel runs (default: number of cores)")
    s.add_argument("--scenarios", nargs="*", help=f"scenario names (default {' '.join(DEMO_SCENARIOS)})")
    s.add_argument("--no-video", action="store_true")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("detect", help="run the detection core on a video file, camera index or stream URL")
    s.add_argument("source", help="video file, camera index (0) or URL (rtsp://...)")
    s.add_argument("--site", required=True, help="site configuration YAML")
    s.add_argument("--detector", action="append", help="detector name (repeatable; default: all the site supports)")
    s.add_argument("--fps", type=_positive_float, help="override the stream's frame rate")
    s.add_argument("--max-frames", type=_positive_int)
    s.add_argument("--out", help="write alerts to this JSONL file instead of stdout")
    add_policy_args(s)
    s.set_defaults(func=cmd_detect)

    s = sub.add_parser("evaluate", help="score an alerts file (JSON Lines, or CSV) against a ground-truth JSON file")
    s.add_argument("alerts")
    s.add_argument("ground_truth")
    s.add_argument("--duration", type=_positive_s,
                   help="[s] scored duration per camera (default: from the file; needed for a bare list of instances)")
    s.add_argument("--allow-unknown-cameras", action="store_true",
                   help="score alerts of cameras the ground truth does not name, as cameras without events")
    s.add_argument("--json", help="also write the metrics table as JSON here")
    s.add_argument("--format", choices=("jsonl", "csv"), help="alerts format (default: from the extension)")
    s.add_argument("--columns", metavar="FIELD=COLUMN,...",
                   help="CSV columns of camera, type, t (or frame), score, x, y, w, h (e.g. camera=cam,t=time_s)")
    s.add_argument("--type-map", metavar="LABEL=TYPE,...", help="the system's labels as event types (e.g. Fall=person_on_ground)")
    s.add_argument("--time-unit", choices=("s", "ms", "frame"), default="s", help="unit of the time column")
    s.add_argument("--fps", type=_positive_float, help="frame rate, for frame indices")
    s.add_argument("--camera", help="camera of alerts whose file names none")
    s.add_argument("--spatial", choices=("alert_time", "onset", "none"), default="alert_time",
                   help="the instance box an alert's box must overlap: at the alert's time (default), at onset, "
                        "or none (time only, as ActEV)")
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("experiment", help="run a grid of scenarios x seeds x variants x detectors")
    s.add_argument("experiment", help="experiment file (YAML; README: Experiments)")
    s.add_argument("--out", help="results folder (default runs/experiments/NAME)")
    s.add_argument("--jobs", type=_positive_int, default=None, help="local worker processes (default: number of cores)")
    s.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run the cells on a Dask distributed scheduler")
    s.add_argument("--force", action="store_true", help="recompute finished runs")
    s.add_argument("--retry-failed", action="store_true", help="recompute runs that failed")
    s.add_argument("--cache-dir", metavar="DIR", help="keep the cameras' static backgrounds here, for every worker "
                   "and later grids (default: $STATIONWATCH_CACHE_DIR, else in each process's memory only)")
    s.add_argument("--dry-run", action="store_true", help="print the grid and what is left to run")
    add_policy_args(s)
    s.set_defaults(func=cmd_experiment)

    add_commands(sub)

    s = sub.add_parser("export", help="write COCO and MOTChallenge ground truth for a run or render folder, or "
                                      "ActEV files of an experiment's results (--actev)")
    s.add_argument("run_dir", help="run or render folder; with --actev, an experiment's results folder")
    s.add_argument("--actev", action="store_true", help="write NIST ActEV system output, reference, activity and "
                                                       "file indexes per detector")
    s.add_argument("--out", help="with --actev: output folder (default RESULTS/actev)")
    s.add_argument("--detector", action="append", help="with --actev: only this detector (repeatable)")
    s.add_argument("--frames", action="store_true", help="also decode each camera's video into the JPEG frames "
                                                         "that coco.json and the MOT sequences point to")
    s.add_argument("--interval-s", type=_positive_s, help="with --actev: [s] detection interval of alerts without "
                                                    "per-frame scores (default: the type's max latency)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("calibrate-density", help="fit the density detector's gain on rendered footage")
    s.add_argument("--scenario", action="append", help="scenario to fit on (repeatable; default: the shipped set)")
    s.add_argument("--seed", action="append", type=_seed, help="seed(s) for --scenario")
    s.add_argument("--min-density", type=_nonneg_float, default=0.5,
                   help="[persons/m2] fit on frames at least this dense")
    s.add_argument("--out", help="where to write the JSON (default: the package's detectors/weights/)")
    s.set_defaults(func=cmd_calibrate_density)

    s = sub.add_parser("train-density", help="train the density CNN on rendered footage")
    s.add_argument("--seed", type=_seed, default=0, help="torch and shuffling seed")
    s.add_argument("--epochs", type=_positive_int, default=6)
    s.add_argument("--threads", type=_positive_int, default=2, help="torch threads while training")
    s.add_argument("--frames", type=_positive_int, help="cap on training frames (quick runs)")
    s.add_argument("--out", help="where to write the weights (default: the package's detectors/weights/)")
    s.set_defaults(func=cmd_train_density)

    s = sub.add_parser("site", help="write the site configuration of a scenario's camera")
    scenario_args(s)
    s.add_argument("--camera")
    s.add_argument("--out")
    s.set_defaults(func=cmd_site)
    return p


def version() -> str:
    """The installed distribution's version (``0+unknown`` when run from a bare checkout)."""
    from importlib import metadata

    try:
        return metadata.version("stationwatch")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _one_line(message: object) -> str:
    """A message on one line: a heading and its indented list (several errors) joined by '; '."""
    parts = [p.strip() for p in str(message).splitlines() if p.strip()]
    if len(parts) <= 1:
        return parts[0] if parts else ""
    return parts[0] + (" " if parts[0].endswith(":") else "; ") + "; ".join(parts[1:])


def _os_error(exc: OSError) -> str:
    """An OSError as one line naming the path (a read-only folder, a missing one, a full disk)."""
    if exc.filename is None:
        return _one_line(exc.strerror or exc)
    path = exc.filename if exc.filename2 is None else exc.filename2
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT):
        return f"cannot write {path}: {exc.strerror}"
    if exc.errno in (errno.EEXIST, errno.ENOTDIR) and not os.path.isdir(path):  # mkdir on a file, or below one
        return f"cannot make the folder {path}: a file has that name, or one of the folders above it is a file"
    if exc.errno == errno.EISDIR:
        return f"cannot write {path}: it is a folder; expected a file name"
    return f"{path}: {exc.strerror}"


def main(argv: list[str] | None = None) -> int:
    """The command line; bad input is one line on stderr and exit status 2, Ctrl-C one line and 130.

    Nothing is written for bad input: every command checks its arguments and files before
    it makes a folder, and files appear under their names only when complete.
    """
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help and --version print and stop
        return exc.code if isinstance(exc.code, int) else 0
    name = f"stationwatch {args.command}"
    # FFmpeg's and OpenCV's own log lines (a truncated video, a missing camera) would break the one-line rule: the
    # commands say what went wrong
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # nor OpenCV's warnings (a camera index that cannot be opened)

    def warning_line(message, category, filename, lineno, file=None, line=None):
        print(f"{name}: warning: {_one_line(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = warning_line
        try:
            return args.func(args)
        except KeyboardInterrupt:
            print(f"{name}: interrupted; files already complete are kept, run the same command again to resume",
                  file=sys.stderr)
            return 130
        except CliError as exc:
            print(f"{name}: {_one_line(exc)}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"{name}: {_os_error(exc)}", file=sys.stderr)
            return 2
        except (ValueError, KeyError, RuntimeError) as exc:
            # project errors (ScenarioError, SiteError, SourceError, GroundTruthError, ...) name the field already
            text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            print(f"{name}: {_one_line(text)}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
