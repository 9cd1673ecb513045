"""One cell of an experiment grid: one simulation and rendering feeding every detector of the grid.

:func:`run_cell` is the unit of work an executor ships to a process or a Dask worker. It is
a pure function of its :class:`CellTask` (scenario, overrides, seed, detectors, matching):
it simulates and renders every camera once, keeps the frames in memory, feeds each frame
to the detection core of every in-process detector (built-in or plug-in), writes the
footage to a scratch folder only when a black box needs a video file (or the experiment
keeps it), runs the black boxes on it, then matches every run's alerts to the ground
truth at the alert's time. It writes nothing in the results folder: it returns a
:class:`CellOutput` of tables and records that the driver writes atomically, so that the
same code serves a local process pool and a Dask cluster without a shared file system.

A failure inside one detector (an exception in its ``score``, a black box that crashes,
hangs or writes malformed lines) fails that run only, with its error in the run's record;
a failure of the simulation fails every run of the cell, each with that error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detectors.events import Alert, EventType

#: [s] thumbnails kept around each miss (its onset) and each false alarm (its time), "errors" mode
THUMBNAIL_CONTEXT_S = 2.0
#: columns of the per-run counts table
COUNT_COLUMNS = ("n_instances", "tp", "fn", "fp", "duplicates", "n_alerts")


@dataclass(frozen=True)
class CellTask:
    """Everything :func:`run_cell` needs, as plain picklable values."""

    cell: dict  #: :class:`eval.experiment.CellSpec` fields
    cell_key: str
    runs: tuple[dict, ...]  #: per pending run: run_id, run_key, detector (spec as a dict)
    matching: dict  #: :class:`eval.experiment.MatchingSpec` as a dict
    outputs: dict  #: :class:`eval.experiment.OutputsSpec` as a dict
    base_dir: str  #: folder black-box commands run in


@dataclass
class RunOutput:
    """One run's results: its record (``run.json``) and its tables."""

    run_id: str
    run_key: str
    record: dict
    alerts: list[Alert] = field(default_factory=list)
    tables: dict[str, Any] = field(default_factory=dict)  #: name -> pyarrow.Table


@dataclass
class CellOutput:
    """One cell's results: its record, ground truth, slices, thumbnails, footage and runs."""

    cell_id: str
    cell_key: str
    record: dict
    ground_truth: dict | None = None
    tables: dict[str, Any] = field(default_factory=dict)  #: name -> pyarrow.Table
    files: dict[str, bytes] = field(default_factory=dict)  #: file name in the cell folder -> content
    runs: list[RunOutput] = field(default_factory=list)


@contextlib.contextmanager
def one_thread():
    """OpenCV (and torch, when loaded) on one thread while a cell runs, so that figures are per core."""
    import cv2

    before = cv2.getNumThreads()
    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch is not None else None
    cv2.setNumThreads(1)
    if torch is not None:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)
        if torch is not None and torch_before is not None:
            torch.set_num_threads(torch_before)


def run_cell(task: CellTask) -> CellOutput:
    """Simulate, render, detect and score one cell; never raises for a failing run or scenario."""
    wall0, cpu0 = time.perf_counter(), _cpu_s()
    try:
        with one_thread():
            out = _Cell(task).run()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the simulation or rendering failed: every run of the cell fails with it
        error = _error_text(exc)
        out = CellOutput(cell_id=task.cell["cell_id"], cell_key=task.cell_key,
                         record={"status": "failed", "error": error, "traceback": traceback.format_exc(limit=6)})
        out.runs = [RunOutput(run_id=r["run_id"], run_key=r["run_key"],
                              record={"status": "failed", "error": f"cell failed: {error}"}) for r in task.runs]
    out.record["wall_s"] = time.perf_counter() - wall0
    out.record["cpu_s"] = _cpu_s() - cpu0  # this process and the black boxes it ran
    out.record["worker_pid"] = os.getpid()
    return out


def _cpu_s() -> float:
    """[s] CPU time of this process and of its finished children (black boxes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _error_text(exc: BaseException) -> str:
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}".splitlines()[0][:2000]


class _Cell:
    def __init__(self, task: CellTask) -> None:
        self.task = task
        self.c = task.cell
        self.outputs = task.outputs

    # --- the whole cell ---------------------------------------------------------------------
    def run(self) -> CellOutput:
        from sim.scenario import load_scenario
        from sim.source import SyntheticFeed

        t0 = time.perf_counter()
        sc = load_scenario(self.c["scenario_ref"], dict(self.c["overrides"]))
        feed = SyntheticFeed(sc, seed=self.c["seed"], duration_s=self.c["duration_s"])
        self.sc, self.feed = sc, feed
        self.cameras = list(feed.cameras)
        self.fps = {n: float(sc.camera(n).fps) for n in self.cameras}
        self.n_frames = {n: feed.n_frames(n) for n in self.cameras}
        self.duration = {n: self.n_frames[n] / self.fps[n] for n in self.cameras}
        init_s = time.perf_counter() - t0
        sites = self._sites()
        runs = [self._new_run(r, sites) for r in self.task.runs]
        self.video_paths: dict[tuple[str, str], Path] = {}
        self.error_moments: list[tuple[str, float]] = []  # (camera, t) of every run's misses and false alarms
        scratch = Path(tempfile.mkdtemp(prefix=f"stationwatch-{self.c['cell_id'][:40]}-"))
        try:
            feed_s, io_s, thumbs = self._loop(runs, scratch)
            t1 = time.perf_counter()
            records = self.records = self._ground_truth_records()
            truth_s = time.perf_counter() - t1
            for run in runs:
                if run["kind"] == "command" and run["error"] is None:
                    self._black_box(run, scratch, sites)
            outputs = [self._score_or_fail(run) for run in runs]
            cell = CellOutput(cell_id=self.c["cell_id"], cell_key=self.task.cell_key, record={}, runs=outputs)
            cell.ground_truth = self._ground_truth_file(records)
            cell.tables["cameras"] = self._cameras_table()
            cell.tables["ground_truth"] = self._ground_truth_table(records)
            cell.tables["instance_tracks"] = self._tracks_table(records)
            cell.tables["thumbnails"] = self._thumbnails(thumbs)
            for name, text in sites.items():
                cell.files[f"site_{name}.yaml"] = text.encode("utf-8")
            if self.outputs["video"]:
                for name in self.cameras:
                    path = scratch / f"{name}.mp4"
                    if path.exists():
                        cell.files[f"{name}.mp4"] = path.read_bytes()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        cell.record = {
            "status": "ok", "error": None,
            "cameras": self.cameras, "n_frames": self.n_frames, "duration_s": self.duration,
            "camera_s": float(sum(self.duration.values())), "frames": int(sum(self.n_frames.values())),
            "init_s": init_s, "feed_s": feed_s, "io_s": io_s, "truth_s": truth_s,
        }
        return cell

    # --- set-up -------------------------------------------------------------------------
    def _sites(self) -> dict[str, str]:
        """YAML text of each camera's site configuration (what the detectors and black boxes get)."""
        import yaml

        from sim.site_export import site_config_dict

        return {n: yaml.safe_dump(site_config_dict(self.sc, n), sort_keys=False) for n in self.cameras}

    def _new_run(self, r: dict, sites: dict[str, str]) -> dict:
        spec = r["detector"]
        run = {"run_id": r["run_id"], "run_key": r["run_key"], "spec": spec, "kind": spec["kind"], "error": None,
               "traceback": None, "cores": {}, "alerts": [], "detect_s": 0.0, "types": {}, "bb_wall_s": 0.0,
               "bb_cpu_s": 0.0}
        if spec["kind"] == "command":
            run["types"] = {n: [EventType(t) for t in spec["types"]] for n in self.cameras}
            return run
        try:
            for name in self.cameras:
                core = self._core(spec, sites[name], name)
                if core is not None:
                    run["cores"][name] = core
                    run["types"][name] = [d.event_type for d in core.detectors]
        except Exception as exc:
            self._fail(run, exc)
        return run

    def _core(self, spec: dict, site_yaml: str, camera: str):
        """The detection core of one core-detector spec on one camera (None: nothing to run there)."""
        import yaml

        from detectors.base import supports
        from detectors.core import DetectionCore, default_policy
        from detectors.policy import AlertPolicy
        from detectors.registry import BUILTIN_DETECTORS, get_detector
        from detectors.site import SiteConfig

        site = SiteConfig.from_dict(yaml.safe_load(site_yaml), where=f"site_{camera}.yaml")
        names = spec["detectors"] or list(BUILTIN_DETECTORS)  # plug-ins are asked for by name
        instances = []
        for name in names:
            cls = get_detector(name)
            if not supports(cls, site):
                continue
            instances.append(cls(site, **spec["params"].get(name, {})))
        if not instances:
            return None
        policies = {}
        for det in instances:
            given = spec["policies"].get(det.event_type.value)
            if given is None:
                continue
            base = default_policy(det)
            policies[det.event_type] = AlertPolicy(
                threshold=base.threshold if given["threshold"] is None else given["threshold"],
                min_duration_s=base.min_duration_s if given["min_duration_s"] is None else given["min_duration_s"],
                cooldown_s=base.cooldown_s if given["cooldown_s"] is None else given["cooldown_s"])
        return DetectionCore(site, detectors=instances, policies=policies)

    @staticmethod
    def _fail(run: dict, exc: BaseException) -> None:
        run["error"] = _error_text(exc)
        run["traceback"] = traceback.format_exc(limit=6)
        run["cores"] = {}

    # --- frames ---------------------------------------------------------------------------
    def _loop(self, runs: list[dict], scratch: Path):
        """Every frame of every camera through every in-process detector; footage and thumbnails as asked."""
        import cv2

        want_video = {n: set() for n in self.cameras}
        for run in runs:
            if run["kind"] == "command" and run["error"] is None:
                for n in self.cameras:
                    want_video[n].add(run["spec"]["video"])
        if self.outputs["video"]:
            for n in self.cameras:
                want_video[n].add("mp4")
        writers = {}
        for n in self.cameras:
            for fmt in sorted(want_video[n]):
                ext, fourcc = (".mp4", "mp4v") if fmt == "mp4" else (".avi", "HFYU")
                w, h = self.sc.camera(n).resolution
                path = self.video_paths[(n, fmt)] = scratch / f"{n}{ext}"
                wr = cv2.VideoWriter(os.fspath(path), cv2.VideoWriter_fourcc(*fourcc), self.fps[n], (int(w), int(h)))
                if not wr.isOpened():
                    raise RuntimeError(f"OpenCV cannot write a {fourcc} video for camera {n!r}")
                writers[(n, fmt)] = wr
        thumb_mode = self.outputs["thumbnails"]
        every = float(self.outputs["thumbnail_every_s"])
        thumb_w = int(self.outputs["thumbnail_width_px"])
        next_thumb = {n: 0.0 for n in self.cameras}
        thumbs: list[tuple[str, int, float, bytes]] = []
        active = [(run, run["cores"]) for run in runs if run["cores"]]
        feed_s = io_s = 0.0
        it = iter(self.feed)
        clock = time.perf_counter
        try:
            while True:
                t0 = clock()
                try:
                    cf = next(it)
                except StopIteration:
                    feed_s += clock() - t0
                    break
                t1 = clock()
                feed_s += t1 - t0
                frame, cam = cf.frame, cf.camera
                for run, cores in active:
                    core = cores.get(cam)
                    if core is None or run["error"] is not None:
                        continue
                    ts = clock()
                    try:
                        core.process(frame)
                    except Exception as exc:  # this detector fails; the others go on
                        self._fail(run, exc)
                        run["error"] = f"at {cam} frame {frame.index} (t={frame.t:g} s): {run['error']}"
                    run["detect_s"] += clock() - ts
                t2 = clock()
                for (n, _), wr in writers.items():
                    if n == cam:
                        wr.write(frame.image)
                if thumb_mode != "none" and frame.t >= next_thumb[cam] - 1e-9:
                    next_thumb[cam] = frame.t + every
                    h, w = frame.image.shape[:2]
                    small = cv2.resize(frame.image, (thumb_w, max(1, round(h * thumb_w / w))),
                                       interpolation=cv2.INTER_AREA)
                    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
                    if ok:
                        thumbs.append((cam, frame.index, frame.t, buf.tobytes()))
                io_s += clock() - t2
        finally:
            for wr in writers.values():
                wr.release()
        return feed_s, io_s, thumbs

    # --- ground truth -------------------------------------------------------------------------
    def _ground_truth_records(self) -> list[dict]:
        from eval.instance_tracks import add_tracks

        m = self.task.matching
        grace = m["grace_s"]
        per_type = ({EventType(k): float(v) for k, v in grace.items()} if isinstance(grace, dict)
                    else None if grace is None else {e: float(grace) for e in EventType})
        self.world = self.feed.world_events()
        return add_tracks(self.feed.ground_truth(), self.world, self.feed.annotations,
                          group_names=self.sc.crowd.appearance.group_names(), early_s=float(m["early_s"]),
                          grace_s=per_type)

    def _ground_truth_file(self, records: list[dict]) -> dict:
        from eval.ground_truth import camera_entry, ground_truth_record

        sc = self.sc
        cameras = [camera_entry(n, self.fps[n], sc.camera(n).resolution, self.duration[n]) for n in self.cameras]
        return ground_truth_record(scenario=sc.name, seed=self.c["seed"], cameras=cameras, instances=records,
                                   world_events=[ev.to_dict() for ev in self.world],
                                   world_context=self.feed.world_context(), variant=self.c["variant"],
                                   overrides=self.c["overrides"])

    # --- black boxes -----------------------------------------------------------------------
    def _black_box(self, run: dict, scratch: Path, sites: dict[str, str]) -> None:
        from detectors.files import atomic_write_text
        from eval.alert_readers import AlertFormat
        from eval.blackbox import BlackBoxError, run_command

        spec = run["spec"]
        reader = spec["alerts"]
        fmt = AlertFormat(format=reader["format"], columns=reader["columns"], type_map=reader["type_map"],
                          time_unit=reader["time_unit"])
        for n in self.cameras:
            work = scratch / f"bb_{run['run_id'][-60:]}_{n}"
            work.mkdir(parents=True, exist_ok=True)
            site_path = work / f"site_{n}.yaml"
            atomic_write_text(site_path, sites[n])
            try:
                res = run_command(spec["command"], video=self.video_paths[(n, spec["video"])], site=site_path,
                                  camera=n, fps=self.fps[n], workdir=work, cwd=self.task.base_dir,
                                  timeout_s=float(spec["timeout_s"]), alerts_format=fmt, types=spec["types"],
                                  env=spec["env"], label=f"detector {spec['name']!r}")
            except BlackBoxError as exc:
                run["error"] = str(exc)
                run["alerts"] = []
                return
            run["alerts"].extend(res.alerts)
            run["bb_wall_s"] += res.wall_s
            run["bb_cpu_s"] += res.cpu_s

    # --- scoring ------------------------------------------------------------------------------
    def _score_or_fail(self, run: dict) -> RunOutput:
        """Score one run; a run whose alerts cannot be scored fails alone."""
        try:
            return self._score(run)
        except Exception as exc:
            self._fail(run, exc)
            run["error"] = f"scoring failed: {run['error']}"
            return self._score(run)

    def _score(self, run: dict) -> RunOutput:
        out = RunOutput(run_id=run["run_id"], run_key=run["run_key"], record={})
        base = {"kind": run["kind"], "detector": run["spec"]["name"], "detect_s": run["detect_s"],
                "blackbox_wall_s": run["bb_wall_s"], "blackbox_cpu_s": run["bb_cpu_s"]}
        if run["error"] is not None:
            out.record = {**base, "status": "failed", "error": run["error"], "traceback": run["traceback"]}
            return out
        t0 = time.perf_counter()
        from eval.alert_readers import past_end
        from eval.matching import instances_from_records, match
        from eval.metrics import counts_from_match

        if run["kind"] == "core":
            alerts = [a for core in run["cores"].values() for a in core.alerts]
        else:
            alerts = list(run["alerts"])
        alerts.sort(key=lambda a: (a.t, a.camera, a.type.value, -a.score))
        scored = {(cam, t) for cam, types in run["types"].items() for t in types}
        instances = instances_from_records(self.records, where=f"cell {self.c['cell_id']}")
        keep = [k for k, x in enumerate(instances) if (x.camera, x.type) in scored]
        inst = [instances[k] for k in keep]
        m = self.task.matching
        grace = m["grace_s"]
        grace = {EventType(k): float(v) for k, v in grace.items()} if isinstance(grace, dict) else grace
        result = match(alerts, inst, early_s=float(m["early_s"]), grace_s=grace, spatial=m["spatial"])
        counts = counts_from_match(result, alerts, inst, self.duration, self.cameras)
        types = sorted({t for _, t in scored}, key=list(EventType).index)
        table = scored_metrics(counts, scored, self.duration)
        late = past_end(alerts, self.duration)
        out.alerts = alerts
        out.tables = _run_tables(run, alerts, instances, keep, result, counts, table, scored, self.cameras,
                                 self.duration, self.fps, late)
        policies = {t.value: dataclasses.asdict(p) for core in run["cores"].values() for t, p in core.policies.items()}
        out.record = {**base, "status": "ok", "error": None, "n_alerts": len(alerts), "policies": policies,
                      "alerts_past_end": len(late), "types": [t.value for t in types],
                      "score_s": time.perf_counter() - t0,
                      "frames": int(sum(self.n_frames[c] for c in run["types"])) if run["kind"] == "core"
                      else int(sum(self.n_frames.values())),
                      "metrics": {r.type: {k: r.to_dict()[k] for k in ("n_instances", "tp", "fn", "fp", "duplicates",
                                                                         "precision", "recall", "rfa_per_hour",
                                                                         "latency_median_s")} for r in table}}
        self.error_moments += _errors_of(alerts, result, inst)
        return out

    # --- cell tables ------------------------------------------------------------------------
    def _cameras_table(self):
        """One row per camera: the slice variables of this cell (render severities, crowd level)."""
        import json

        import pyarrow as pa

        render = self.sc.render.model_dump(mode="json")
        scalars = {f"render_{k}": v for k, v in render.items() if not isinstance(v, (list, dict))}
        scalars["render_n_occluders"] = len(render.get("occluders") or [])
        scalars["render_light_out"] = render.get("light_out_at_s") is not None
        rows = []
        for n in self.cameras:
            ann = self.feed.annotations[n]
            counts = np.array([len(a) for a in ann], np.float64)
            seen = np.array([int(np.sum(np.nan_to_num(a.visible, nan=1.0) > 0.2)) for a in ann], np.float64)
            spec = self.sc.camera(n)
            rows.append({
                "cell_id": self.c["cell_id"], "scenario": self.c["scenario"], "variant": self.c["variant"],
                "seed": int(self.c["seed"]), "overrides": json.dumps(self.c["overrides"], sort_keys=True),
                "camera": n, "fps": self.fps[n], "width": int(spec.resolution[0]), "height": int(spec.resolution[1]),
                "n_frames": int(self.n_frames[n]), "duration_s": float(self.duration[n]),
                "persons_in_view_mean": float(counts.mean()) if len(counts) else 0.0,
                "persons_in_view_max": int(counts.max()) if len(counts) else 0,
                "persons_visible_mean": float(seen.mean()) if len(seen) else 0.0,
                **scalars,
            })
        return pa.Table.from_pylist(rows)

    def _ground_truth_table(self, records: list[dict]):
        import pyarrow as pa

        by_id = {str(ev.id): ev for ev in self.world}
        rows = []
        for r in records:
            box = r.get("bbox_at_onset") or [math.nan] * 4
            ev = by_id.get(str(r["id"]))
            rows.append({
                "cell_id": self.c["cell_id"], "camera": r["camera"], "instance_id": str(r["id"]), "type": r["type"],
                "t_start": float(r["t_start"]), "t_end": math.inf if r["t_end"] is None else float(r["t_end"]),
                "bbox_x": float(box[0]), "bbox_y": float(box[1]), "bbox_w": float(box[2]), "bbox_h": float(box[3]),
                "visible_fraction_at_onset": float(r.get("visible_fraction_at_onset", math.nan)),
                "appearance_groups": list(r.get("appearance_groups", [])),
                "source": getattr(ev, "source", None), "zone": getattr(ev, "zone", None),
                "n_agents": len(getattr(ev, "agent_ids", ()) or ()),
            })
        schema = pa.schema([("cell_id", pa.string()), ("camera", pa.string()), ("instance_id", pa.string()),
                            ("type", pa.string()), ("t_start", pa.float64()), ("t_end", pa.float64()),
                            ("bbox_x", pa.float64()), ("bbox_y", pa.float64()), ("bbox_w", pa.float64()),
                            ("bbox_h", pa.float64()), ("visible_fraction_at_onset", pa.float64()),
                            ("appearance_groups", pa.list_(pa.string())), ("source", pa.string()),
                            ("zone", pa.string()), ("n_agents", pa.int64())])
        return pa.Table.from_pylist(rows, schema=schema)

    def _tracks_table(self, records: list[dict]):
        import pyarrow as pa

        cols = {k: [] for k in ("cell_id", "camera", "instance_id", "t", "x", "y", "w", "h")}
        for r in records:
            for row in r.get("track") or []:
                cols["cell_id"].append(self.c["cell_id"])
                cols["camera"].append(r["camera"])
                cols["instance_id"].append(str(r["id"]))
                for k, v in zip(("t", "x", "y", "w", "h"), row):
                    cols[k].append(float(v))
        return pa.table({k: pa.array(v, pa.string() if k in ("cell_id", "camera", "instance_id") else pa.float64())
                         for k, v in cols.items()})

    def _thumbnails(self, thumbs: list):
        import pyarrow as pa

        mode = self.outputs["thumbnails"]
        if mode == "errors":
            moments: dict[str, list[float]] = {}
            for cam, t in self.error_moments:
                moments.setdefault(cam, []).append(t)
            wanted = {cam: np.sort(np.asarray(ts)) for cam, ts in moments.items()}

            def keep(cam: str, t: float) -> bool:
                ts = wanted.get(cam)
                if ts is None or not len(ts):
                    return False
                k = int(np.searchsorted(ts, t))
                near = [ts[j] for j in (k - 1, k) if 0 <= j < len(ts)]
                return any(abs(t - x) <= THUMBNAIL_CONTEXT_S + 1e-9 for x in near)

            thumbs = [th for th in thumbs if keep(th[0], th[2])]
        elif mode == "none":
            thumbs = []
        return pa.table({
            "cell_id": pa.array([self.c["cell_id"]] * len(thumbs), pa.string()),
            "camera": pa.array([th[0] for th in thumbs], pa.string()),
            "frame": pa.array([th[1] for th in thumbs], pa.int64()),
            "t": pa.array([th[2] for th in thumbs], pa.float64()),
            "jpeg": pa.array([th[3] for th in thumbs], pa.binary()),
        })


def scored_metrics(counts, scored: set, duration: dict):
    """Metrics rows per type over the cameras that score it, then ``all`` over every camera that scores any.

    A station whose hall camera has no forbidden zone runs no intrusion detector there: its
    hours do not dilute the intrusion false-alarm rate (each row's ``camera_hours`` is the
    scored time of that type; ``counts.parquet`` keeps one row per scored camera and type).
    """
    from eval.metrics import MetricsTable, compute_metrics

    types = sorted({t for _, t in scored}, key=list(EventType).index)
    rows = []
    for etype in types:
        cams = sorted(c for c, t in scored if t is etype)
        tally = sum((counts.cells[(c, etype)] for c in cams if (c, etype) in counts.cells), start=_zero())
        rows.append(compute_metrics(tally, sum(duration[c] for c in cams), event_type=etype, n_streams=len(cams)))
    cams = sorted({c for c, _ in scored})
    tally = sum((v for (c, t), v in counts.cells.items() if (c, t) in scored), start=_zero())
    rows.append(compute_metrics(tally, sum(duration[c] for c in cams), event_type=None, n_streams=len(cams)))
    return MetricsTable(rows=tuple(rows))


def _zero():
    from eval.metrics import Tally

    return Tally()


def _errors_of(alerts: list[Alert], result, instances) -> list[tuple[str, float]]:
    """(camera, t) of each false alarm and each miss (at its onset): where thumbnails are kept."""
    out = [(alerts[k].camera, alerts[k].t) for k in result.false_alarms]
    out += [(instances[k].camera, instances[k].t_start) for k in result.missed]
    return out


def _run_tables(run: dict, alerts: list[Alert], instances: list, keep: list[int], result, counts, table,
                scored: set, cameras: list[str], duration: dict, fps: dict, late: list[int]) -> dict:
    """The run's typed tables: alerts with their outcome, matches per instance, counts, metrics, scores, timing."""
    import pyarrow as pa

    from eval.matching import Outcome

    run_id = run["run_id"]
    n = len(alerts)
    outcome = result.alert_outcomes()
    inst_of_alert = np.full(n, -1, np.int64)
    latency = np.full(n, np.nan)
    inst_of_alert[result.pairs[:, 0]] = result.pairs[:, 1]
    latency[result.pairs[:, 0]] = result.latency_s
    names = {Outcome.TRUE_POSITIVE: "tp", Outcome.FALSE_ALARM: "fa", Outcome.DUPLICATE: "duplicate"}
    late_mask = np.zeros(n, bool)
    late_mask[late] = True
    box = np.array([a.bbox if a.bbox is not None else (np.nan,) * 4 for a in alerts], np.float64).reshape(n, 4)
    alerts_t = pa.table({
        "run_id": pa.array([run_id] * n, pa.string()),
        "camera": pa.array([a.camera for a in alerts], pa.string()),
        "frame": pa.array([int(round(a.t * fps[a.camera])) for a in alerts], pa.int64()),
        "t": pa.array([a.t for a in alerts], pa.float64()),
        "type": pa.array([a.type.value for a in alerts], pa.string()),
        "score": pa.array([a.score for a in alerts], pa.float64()),
        "bbox_x": box[:, 0], "bbox_y": box[:, 1], "bbox_w": box[:, 2], "bbox_h": box[:, 3],
        "outcome": pa.array([names[Outcome(int(o))] for o in outcome], pa.string()),
        "instance_id": pa.array([instances[keep[j]].id if j >= 0 else None for j in inst_of_alert], pa.string()),
        "latency_s": latency,
        "past_end": late_mask,
    })
    alert_of = {int(i): int(a) for a, i in result.pairs}
    rows = []
    kept = {k: j for j, k in enumerate(keep)}
    for k, x in enumerate(instances):
        j = kept.get(k)
        if j is None:
            status, a, lat = "not_scored", None, math.nan
        elif j in alert_of:
            status, a, lat = "detected", alert_of[j], alerts[alert_of[j]].t - x.t_start
        else:
            status, a, lat = "missed", None, math.nan
        rows.append({"run_id": run_id, "camera": x.camera, "instance_id": x.id, "type": x.type.value,
                     "t_start": x.t_start, "outcome": status, "alert_index": a, "latency_s": lat})
    matches = pa.Table.from_pylist(rows, schema=pa.schema([
        ("run_id", pa.string()), ("camera", pa.string()), ("instance_id", pa.string()), ("type", pa.string()),
        ("t_start", pa.float64()), ("outcome", pa.string()), ("alert_index", pa.int64()), ("latency_s", pa.float64())]))
    crow = []
    for cam, etype in sorted(scored, key=lambda ct: (ct[0], list(EventType).index(ct[1]))):
        tally = counts.cells.get((cam, etype))
        vals = {c: int(getattr(tally, c)) if tally is not None else 0 for c in COUNT_COLUMNS}
        crow.append({"run_id": run_id, "camera": cam, "type": etype.value, **vals, "camera_s": float(duration[cam]),
                     "latencies_s": list(tally.latencies_s) if tally is not None else []})
    count_schema = pa.schema([("run_id", pa.string()), ("camera", pa.string()), ("type", pa.string()),
                              *[(c, pa.int64()) for c in COUNT_COLUMNS], ("camera_s", pa.float64()),
                              ("latencies_s", pa.list_(pa.float64()))])
    counts_t = pa.Table.from_pylist(crow, schema=count_schema)
    metrics = table.to_arrow()
    metrics = metrics.add_column(0, "run_id", pa.array([run_id] * metrics.num_rows, pa.string()))
    out = {"alerts": alerts_t, "matches": matches, "counts": counts_t, "metrics": metrics}
    if run["kind"] == "core":
        scores, timing, inst = [], [], []
        for cam, core in run["cores"].items():
            s = core.score_table()
            scores.append(s.add_column(0, "run_id", pa.array([run_id] * s.num_rows, pa.string())))
            i = instance_scores_table(core)
            inst.append(i.add_column(0, "run_id", pa.array([run_id] * i.num_rows, pa.string())))
            t = core.timing_table()
            t = t.add_column(0, "camera", pa.array([cam] * t.num_rows, pa.string()))
            timing.append(t.add_column(0, "run_id", pa.array([run_id] * t.num_rows, pa.string())))
        if scores:
            out["scores"] = pa.concat_tables(scores)
            out["instance_scores"] = pa.concat_tables(inst)
            out["timing"] = pa.concat_tables(timing)
    return out


#: columns of the per-instance scores table (as :meth:`detectors.core.DetectionCore.instance_table`)
INSTANCE_SCORE_COLUMNS = ("camera", "frame", "t", "type", "instance", "score", "bbox_x", "bbox_y", "bbox_w", "bbox_h")


def instance_scores_table(core):
    """The per-instance scores of a detection core, for offline sweeps (:mod:`eval.sweep`).

    A core that gates each event instance apart keeps them (``instance_table``); a core with
    one gate per camera and type gives its frame scores as one instance, key ``""``, rows
    scoring > 0 (a frame without a row counts as below any threshold > 0).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if hasattr(core, "instance_table"):
        return core.instance_table().select(list(INSTANCE_SCORE_COLUMNS))
    s = core.score_table()
    s = s.filter(pc.greater(s.column("score"), 0.0))
    s = s.append_column("instance", pa.array([""] * s.num_rows, pa.string()))
    return s.select(list(INSTANCE_SCORE_COLUMNS))
