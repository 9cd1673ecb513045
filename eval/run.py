"""One evaluation run: simulate a scenario, render its cameras, detect, score, report.

A run is a pure function of (scenario, seed, detector settings) and writes one folder::

    OUT/
      manifest.json         scenario hash, seed, package versions, command line
      ground_truth.json     per-camera event instances + the simulation's world events and context (trains)
      annotations.parquet   per-frame person and train boxes, head points, visible fractions
      tracks.parquet        per-step world positions and postures
      alerts.jsonl          what the detection core raised, as it would on a live camera
      scores.parquet        per-frame score of every detector (for offline threshold sweeps)
      timing.parquet        per-frame processing time of the detection core
      metrics.json          the metrics table and the processing cost
      site_CAMERA.yaml      the site configuration the detectors were given
      CAMERA.mp4            the rendered footage (unless video=False)
      timeline_TYPE.png     score, threshold, alerts and ground truth over time
                            (timeline_TYPE_CAMERA.png where several cameras run the type)
      sample_CAMERA.png     one annotated frame

Every file is written atomically, and ``manifest.json`` last: a folder with a manifest
matching the scenario's hash and seed is complete, and :func:`run_scenario` reuses it
instead of running again (``force=True`` reruns).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from detectors.base import supports
from detectors.core import DetectionCore
from detectors.events import Alert, EventType, write_alerts
from detectors.policy import AlertPolicy
from detectors.registry import get_detector
from detectors.site import SiteConfig
from eval import results
from eval.instance_tracks import add_tracks
from eval.matching import Instance, instances_from_records
from eval.metrics import evaluate
from eval.policies import core_with_policies
from eval.timing import timing_summary

RUN_FORMAT = "stationwatch.run/1"


@dataclass
class RunResult:
    """What a run produced; ``rows`` are the metrics rows as dicts (one per type, then 'all')."""

    out_dir: Path
    scenario: str
    seed: int
    rows: list[dict]
    timing: dict
    n_frames: int
    reused: bool = False
    #: ground-truth types no detector of the run scored: ``{"type", "n_instances", "n_alerts"}`` each
    not_scored: list[dict] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)

    def row(self, event_type: EventType | str) -> dict:
        name = str(event_type)
        for r in self.rows:
            if r["type"] == name:
                return r
        raise KeyError(f"run {self.scenario!r} has no metrics row for {name!r}; rows: {[r['type'] for r in self.rows]}")


def _load_if_complete(out: Path, scenario_hash: str, seed: int, config: dict) -> RunResult | None:
    try:
        man = results.read_json(out / results.MANIFEST_FILE)
        met = results.read_json(out / results.METRICS_FILE)
    except (OSError, ValueError):
        return None
    if man.get("scenario", {}).get("hash") != scenario_hash or man.get("seed") != seed or man.get("config") != config:
        return None
    return RunResult(out_dir=out, scenario=man["scenario"]["name"], seed=seed, rows=met["metrics"]["rows"],
                     timing=met["timing"], n_frames=int(met["n_frames"]), reused=True,
                     not_scored=list(met["metrics"].get("not_scored", [])))


class RunFolderError(ValueError):
    """A run folder that holds a finished run of other settings; the message names what differs."""


def _refuse_other_settings(out: Path, sc, seed: int, config: dict) -> None:
    """Raise when ``out`` holds a finished run of another scenario content, seed or configuration:
    a run never silently replaces one made from other settings (``force=True`` does)."""
    try:
        man = results.read_json(out / results.MANIFEST_FILE)
    except (OSError, ValueError):
        return
    if not isinstance(man, dict):
        return
    scenario = man.get("scenario") if isinstance(man.get("scenario"), dict) else {}
    differ = []
    if scenario.get("name") != sc.name:
        differ.append(f"scenario {scenario.get('name')!r}, not {sc.name!r}")
    elif scenario.get("hash") != sc.content_hash():
        differ.append(f"scenario {sc.name!r} with other contents or overrides (hash {str(scenario.get('hash'))[:12]}, "
                      f"now {sc.content_hash()[:12]})")
    if man.get("seed") != seed:
        differ.append(f"seed {man.get('seed')!r}, not {seed}")
    old = man.get("config") if isinstance(man.get("config"), dict) else {}
    for key in sorted(set(old) | set(config)):
        if old.get(key) != config.get(key):
            differ.append(f"{key} {old.get(key)!r}, not {config.get(key)!r}")
    if differ:
        raise RunFolderError(f"{out} holds a finished run of other settings ({'; '.join(differ)}); choose another "
                             f"folder, or replace it with force=True (--force)")


def run_scenario(scenario, out_dir: str | os.PathLike, *, seed: int | None = None,
                 detectors: Sequence[str] | None = None, policies: Mapping[EventType, AlertPolicy] | None = None,
                 duration_s: float | None = None, video: bool = True, plots: bool = True,
                 progress: bool | str = True, force: bool = False) -> RunResult:
    """Run ``scenario`` (a :class:`sim.scenario.Scenario` or a library name) end to end.

    ``seed`` overrides the scenario's seed; ``detectors`` picks registry names (default:
    every detector the camera's site supports; a named detector runs on the cameras whose site
    supports it, as in an experiment grid); ``policies`` overrides alert policies per event
    type (:class:`AlertPolicy`, or :class:`eval.policies.PolicyOverride` whose unset fields keep
    the detector's defaults; a type the camera does not run is ignored there);
    ``duration_s`` shortens the run; ``progress`` shows a bar (a string labels it).
    """
    from sim.scenario import Scenario, load_scenario
    from sim.site_export import site_config_dict
    from sim.source import SyntheticFeed

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    seed = sc.seed if seed is None else int(seed)
    out = Path(out_dir)
    config = {
        "detectors": None if detectors is None else list(detectors),
        "policies": {str(k): vars(v) if hasattr(v, "__dict__") else repr(v) for k, v in (policies or {}).items()},
        "duration_s": duration_s,
    }
    config = _jsonable(config)
    if not force:
        done = _load_if_complete(out, sc.content_hash(), seed, config)
        if done is not None:
            return done
        _refuse_other_settings(out, sc, seed, config)

    # everything is checked (seed, duration, sites, detectors) before the folder is made
    feed = SyntheticFeed(sc, seed=seed, duration_s=duration_s)
    cores: dict[str, DetectionCore] = {}
    sites: dict[str, SiteConfig] = {}
    for name in feed.cameras:
        where = str(out / f"site_{name}.yaml")
        # the detectors get the site exactly as its file gives it (zones rounded as written), as on a
        # live installation
        sites[name] = SiteConfig.from_dict(SiteConfig.from_dict(site_config_dict(sc, name), where=where).to_dict(),
                                           where=where)
        named = None if detectors is None else [d for d in detectors if supports(get_detector(d), sites[name])]
        cores[name] = core_with_policies(sites[name], named, policies)
    out.mkdir(parents=True, exist_ok=True)
    for name, site in sites.items():
        site.save(out / f"site_{name}.yaml")
    writers = {}
    if video:
        from sim.render.video import VideoWriter

        for name in feed.cameras:
            spec = sc.camera(name)
            writers[name] = VideoWriter(out / f"{name}.mp4", fps=spec.fps, size=tuple(spec.resolution))
    best: dict[str, dict] = {}

    total = sum(feed.n_frames(n) for n in feed.cameras)
    bar = _progress(total, progress, sc.name)
    try:
        for cf in feed:
            core = cores[cf.camera]
            fired = core.process(cf.frame)
            if cf.camera in writers:
                writers[cf.camera].write(cf.frame.image)
            _keep_sample(best, cf, core, fired)
            if bar is not None:
                bar.update(1)
    except BaseException:
        # an interrupt or an error leaves no video under its name: partial files are deleted
        for w in writers.values():
            w.discard()
        raise
    finally:
        if bar is not None:
            bar.close()
    for w in writers.values():
        w.close()

    alerts = [a for core in cores.values() for a in core.alerts]
    alerts.sort(key=lambda a: (a.t, a.camera, a.type.value))
    world = feed.world_events()
    # per-frame boxes of each instance: alerts are matched against the box at their own time
    records = add_tracks(feed.ground_truth(), world, feed.annotations,
                         group_names=sc.crowd.appearance.group_names())
    instances = instances_from_records(records)
    types = sorted({d.event_type for core in cores.values() for d in core.detectors}, key=list(EventType).index)
    duration = {n: feed.n_frames(n) / sc.camera(n).fps for n in feed.cameras}
    table = evaluate(alerts, instances, duration, cameras=feed.cameras, types=types)

    import pyarrow as pa

    from sim.annotate import write_annotations_parquet

    results.write_json(out / results.GROUND_TRUTH_FILE, feed_ground_truth(feed, [i.to_dict() for i in instances]))
    write_annotations_parquet(out / "annotations.parquet", [a for n in feed.cameras for a in feed.annotations[n]])
    results.write_parquet(out / "tracks.parquet", feed.model.truth.tracks_table())
    write_alerts(out / results.ALERTS_FILE, alerts)
    results.write_parquet(out / results.SCORES_FILE, pa.concat_tables([c.score_table() for c in cores.values()]))
    timing_tables = [c.timing_table() for c in cores.values()]
    timing_all = pa.concat_tables(timing_tables)
    results.write_parquet(out / results.TIMING_FILE, timing_all)
    fps = float(np.mean([sc.camera(n).fps for n in feed.cameras]))
    timing = timing_summary(timing_all, stream_fps=fps).to_dict()
    n_frames = int(timing_all.num_rows)
    rows = table.to_dict()["rows"]
    results.write_json(out / results.METRICS_FILE, {
        "metrics": table.to_dict(),
        "timing": timing,
        "n_frames": n_frames,
        "thresholds": {str(t): core.policies[t].threshold for core in cores.values() for t in core.policies},
    })

    if plots:
        from eval.plots import annotated_frame, timeline_plot

        scores = pa.concat_tables([c.score_table() for c in cores.values()])
        cams_of = {}
        for core in cores.values():
            for t in core.policies:
                cams_of.setdefault(t, []).append(core.site.camera)
        for core in cores.values():
            for t in core.policies:
                # one plot per type and camera; the camera joins the name where several run the type
                name = f"timeline_{t.value}.png" if len(cams_of[t]) == 1 else f"timeline_{t.value}_{core.site.camera}.png"
                timeline_plot(scores, core.policies[t].threshold, alerts, instances, t, out / name,
                              camera=core.site.camera, duration_s=duration[core.site.camera])
        from eval.matching import match

        matched = set(int(a) for a in match(alerts, instances).matched_alerts)
        for name, keep in best.items():
            if keep["top"][1] is None and not keep["alerts"]:
                continue
            t_frame, image, fired = _choose_sample(keep, instances, alerts, matched)
            active = [i for i in instances if i.camera == name and i.t_start - 1.0 <= t_frame <= i.t_end + 1.0]
            annotated_frame(image, fired, active, out / f"sample_{name}.png")

    results.write_manifest(out / results.MANIFEST_FILE, sc.name, sc.content_hash(), seed, extra={
        "format": RUN_FORMAT,
        "config": config,
        "cameras": feed.cameras,
    })
    return RunResult(out_dir=out, scenario=sc.name, seed=seed, rows=rows, timing=timing, n_frames=n_frames,
                     not_scored=table.to_dict()["not_scored"], alerts=alerts, instances=instances)


def feed_ground_truth(feed, records: Sequence[Mapping], *, variant: str | None = None,
                      overrides: Mapping | None = None) -> dict:
    """The ground-truth file of a :class:`sim.source.SyntheticFeed` that has run (see :mod:`eval.ground_truth`):
    ``records`` are its instance records (with their tracks), its cameras last as long as their frames."""
    from eval.ground_truth import camera_entry, ground_truth_record

    sc = feed.scenario
    cameras = [camera_entry(n, sc.camera(n).fps, sc.camera(n).resolution, feed.n_frames(n) / sc.camera(n).fps)
               for n in feed.cameras]
    return ground_truth_record(scenario=sc.name, seed=feed.seed, cameras=cameras, instances=records,
                               world_events=[ev.to_dict() for ev in feed.world_events()],
                               world_context=feed.world_context(), variant=variant, overrides=overrides)


def _keep_sample(best: dict, cf, core: DetectionCore, fired: list[Alert], max_alert_frames: int = 16) -> None:
    """Keep candidate frames per camera to show: those of the first alerts, and the top score."""
    keep = best.setdefault(cf.camera, {"alerts": [], "top": (-1.0, None, None)})
    if fired and len(keep["alerts"]) < max_alert_frames:
        keep["alerts"].append((cf.frame.index, cf.frame.t, cf.frame.image.copy(), list(fired)))
    last = core.last_scores() if hasattr(core, "last_scores") else [v[-1] for v in core._scores if v]
    score = max(last) if len(last) else 0.0
    if score > keep["top"][0]:
        keep["top"] = (score, cf.frame.index, cf.frame.t, cf.frame.image.copy())


def _choose_sample(keep: dict, instances, alerts: list[Alert], matched: set[int]):
    """The frame of the first matched alert, else of the first alert, else of the top score."""
    ids = {(a.camera, a.type, a.t): k for k, a in enumerate(alerts)}
    for idx, t, image, fired in keep["alerts"]:
        if any(ids.get((a.camera, a.type, a.t)) in matched for a in fired):
            return t, image, fired
    if keep["alerts"]:
        idx, t, image, fired = keep["alerts"][0]
        return t, image, fired
    _, idx, t, image = keep["top"]
    return t, image, []


def _progress(total: int, progress: bool | str, label: str):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=progress if isinstance(progress, str) else label, unit="frame", leave=False,
                disable=None)  # silent when stderr is not a terminal (CI logs)


def _jsonable(obj: Any) -> Any:
    import json

    return json.loads(json.dumps(obj, default=str))


# --- several runs ------------------------------------------------------------------------


def _run_one(args: tuple) -> RunResult:
    name, out, seed, kwargs = args
    r = run_scenario(name, out, seed=seed, **kwargs)
    r.alerts, r.instances = [], []  # keep what crosses the process boundary small
    return r


def run_many(scenarios: Sequence[str], out_dir: str | os.PathLike, *, seeds: Sequence[int | None] = (None,),
             jobs: int | None = None, progress: bool = True, **kwargs) -> list[RunResult]:
    """Run every (scenario, seed) into ``OUT/SCENARIO/seed_N`` on a local process pool.

    Runs are independent, so the results do not depend on ``jobs``; finished folders are
    reused (a grid interrupted half-way resumes where it stopped).
    """
    from sim.scenario import load_scenario

    tasks = []
    for name in scenarios:
        sc = load_scenario(name)
        for s in seeds:
            seed = sc.seed if s is None else int(s)
            tasks.append((name, Path(out_dir) / sc.name / f"seed_{seed}", seed, {**kwargs, "progress": False}))
    from contextlib import closing

    from eval.executors import LocalExecutor

    # the executor's pool leaves Ctrl-C to this process and stops its workers on it (a worker's
    # partial video is discarded); the first run that fails stops the others
    executor = LocalExecutor(max(1, min(len(tasks), jobs or os.cpu_count() or 1)))
    bar = _progress(len(tasks), progress and "runs", "runs") if progress else None
    done: dict[int, RunResult] = {}
    try:
        with closing(executor.map_unordered(_run_indexed, list(enumerate(tasks)))) as finished:
            for (k, _), r in finished:
                if isinstance(r, BaseException):
                    raise r
                done[k] = r
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return [done[k] for k in range(len(tasks))]


def _run_indexed(item: tuple[int, tuple]) -> RunResult:
    return _run_one(item[1])


def summary_table(runs: Sequence[RunResult]) -> str:
    """One line per (run, event type) with the headline figures, for terminals."""
    head = ["scenario", "seed", "type", "inst", "TP", "FN", "FP", "dup", "prec", "recall", "FA/h", "latency",
            "core fps"]
    body = []

    def num(v, fmt):
        return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, fmt)

    for r in runs:
        for row in r.rows:
            if row["type"] == "all":
                continue
            body.append([r.scenario, str(r.seed), row["type"], str(row["n_instances"]), str(row["tp"]),
                         str(row["fn"]), str(row["fp"]), str(row["duplicates"]), num(row["precision"], ".2f"),
                         num(row["recall"], ".2f"), num(row["rfa_per_hour"], ".1f"),
                         num(row["latency_median_s"], ".2f"), num(r.timing.get("fps_per_core"), ".0f")])
        for ns in r.not_scored:  # ground truth that no detector of the run covers
            body.append([r.scenario, str(r.seed), ns["type"], str(ns["n_instances"]),
                         "not scored (no detector ran for this type)"])
    # a not-scored line has the first four cells, then its note
    widths = [max([len(h)] + [len(b[k]) for b in body if len(b) == len(head) or k < 4]) for k, h in enumerate(head)]

    def line(cells):
        fixed = cells if len(cells) == len(head) else cells[:4]
        text = "  ".join(c.ljust(w) if k < 3 else c.rjust(w) for k, (c, w) in enumerate(zip(fixed, widths)))
        return text if fixed is cells else f"{text}  {cells[4]}"

    return "\n".join([line(head), "  ".join("-" * w for w in widths), *(line(b) for b in body)])
