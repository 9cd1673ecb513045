"""Run an experiment grid into one results folder; resume what an interrupted grid left.

:func:`run_experiment` expands the experiment into cells (:mod:`eval.experiment`), ships
each unfinished cell to an executor (:mod:`eval.executors`) and writes what comes back.
Only this process writes, every file atomically, so a grid killed at any moment leaves
finished runs complete and nothing half-written; rerunning the same command recomputes
nothing that finished (a run is finished when its ``run.json`` carries the key of its
inputs). The results folder::

    RESULTS/
      experiment.json       the validated experiment, its hash and the expanded cells
      manifest.json         written last: status of every run, versions, executor, throughput
      runs.parquet          one row per run: cell, scenario, variant, seed, detector, status, error, costs
      cameras.parquet       one row per cell and camera: the slice variables (render severities,
                            lighting, crowd level in view, overrides)
      ground_truth.parquet  one row per instance and camera: type, times, box at onset, appearance
                            groups of its people, source, zone
      instance_tracks.parquet  per-frame boxes of each instance (matching at the alert's time)
      alerts.parquet        every alert of every run with its outcome (tp, fa, duplicate), instance, latency
      matches.parquet       every instance for every run: detected, missed or not_scored, latency
      counts.parquet        integer counts per run, camera and type (+ scored camera-seconds, latencies)
      metrics.parquet       the metrics rows per run and type (and 'all')
      scores.parquet        per-frame score of every in-process detector
      instance_scores.parquet  per-frame score of every event instance (a track in a zone, a zone) of every
                            in-process detector: what the alert policy gates, for offline threshold sweeps
      timing.parquet        per-frame processing time of the detection core, per run and camera
      thumbnails.parquet    JPEG thumbnails of the footage (around misses and false alarms by default)
      cells/CELL/           cell.json, ground_truth.json (with tracks), site_CAMERA.yaml, [CAMERA.mp4],
                            and the cell's tables
      runs/RUN/             run.json (written last), alerts.jsonl and the run's tables

The top-level tables are gathered from ``cells/`` and ``runs/`` at the end of every
invocation (also one that only resumed).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from eval import results
from eval.cell import CellOutput, CellTask, RunOutput, run_cell
from eval.experiment import Experiment, ExperimentError, load_experiment

RESULTS_FORMAT = "stationwatch.results/1"
EXPERIMENT_FILE = "experiment.json"
CELL_FILE = "cell.json"
RUN_FILE = "run.json"
CELLS_DIR = "cells"
RUNS_DIR = "runs"
#: tables of a cell folder, gathered into RESULTS/NAME.parquet
CELL_TABLES = ("cameras", "ground_truth", "instance_tracks", "thumbnails")
#: tables of a run folder, gathered into RESULTS/NAME.parquet
RUN_TABLES = ("alerts", "matches", "counts", "metrics", "scores", "instance_scores", "timing")


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` did: the folder, and counts of runs by what became of them."""

    out_dir: Path
    n_runs: int
    ok: int
    failed: int
    reused: int
    computed: int
    cpu_s: float  #: [s] CPU time of the cells computed by this call (their worker processes and black boxes)
    wall_s: float  #: [s] wall time of this call
    camera_s: float  #: [s] footage simulated, rendered, detected and scored by this call
    frames: int  #: frames of footage computed by this call
    failures: list[tuple[str, str]]  #: (run id, error) of every failed run

    @property
    def camera_hours_per_core_hour(self) -> float:
        return self.camera_s / self.cpu_s if self.cpu_s > 0 else math.nan

    def table(self, name: str):
        """A gathered table (``runs``, ``metrics``, ``alerts``, ...) as a ``pyarrow.Table``."""
        import pyarrow.parquet as pq

        path = self.out_dir / f"{name}.parquet"
        if not path.exists():
            raise FileNotFoundError(f"{self.out_dir} has no table {name!r} ({path.name})")
        return pq.read_table(path)


def _folder_check(out: Path) -> None:
    """Refuse a non-empty folder that is not a results folder (never mix results into other files)."""
    if out.exists() and not out.is_dir():
        raise ExperimentError(f"results folder {os.fspath(out)!r} is a file")
    if out.is_dir() and any(out.iterdir()) and not (out / EXPERIMENT_FILE).exists():
        raise ExperimentError(f"results folder {os.fspath(out)!r} exists and is not a results folder (no "
                              f"{EXPERIMENT_FILE}); choose another --out")


def _read_json(path: Path) -> dict | None:
    try:
        data = results.read_json(path)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _done(out: Path, run_id: str, key: str, retry_failed: bool) -> dict | None:
    rec = _read_json(out / RUNS_DIR / run_id / RUN_FILE)
    if rec is None or rec.get("run_key") != key:
        return None
    if rec.get("status") != "ok" and retry_failed:
        return None
    return rec


def plan(exp: Experiment, out: Path, *, force: bool = False, retry_failed: bool = False
         ) -> tuple[list[CellTask], int]:
    """The cell tasks still to run (each with its unfinished runs) and the number of runs already done."""
    tasks, reused = [], 0
    spec = exp.spec
    for cell in exp.cells:
        key = cell.key(spec.outputs)
        cell_rec = _read_json(out / CELLS_DIR / cell.cell_id / CELL_FILE)
        cell_ok = cell_rec is not None and cell_rec.get("cell_key") == key  # a failed cell is finished too
        pending = []
        for det in spec.detectors:
            run_id, run_key = exp.run_id(cell, det), exp.run_key(cell, det)
            if not force and cell_ok and _done(out, run_id, run_key, retry_failed) is not None:
                reused += 1
                continue
            pending.append({"run_id": run_id, "run_key": run_key, "detector": det.model_dump(mode="json")})
        if pending:
            tasks.append(CellTask(cell=dataclasses.asdict(cell), cell_key=key, runs=tuple(pending),
                                  matching=spec.matching.model_dump(mode="json"),
                                  outputs=spec.outputs.model_dump(mode="json"), base_dir=os.fspath(exp.base_dir)))
    return tasks, reused


def run_experiment(experiment: Experiment | str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
                   jobs: int | None = None, scheduler: str | None = None, executor=None, progress: bool = True,
                   force: bool = False, retry_failed: bool = False) -> ExperimentResult:
    """Run every unfinished run of ``experiment`` (an :class:`Experiment` or a file) into ``out_dir``.

    ``out_dir`` defaults to ``runs/experiments/NAME``. ``jobs`` sizes the local process
    pool (default: the number of cores; 1 runs in this process); ``scheduler`` sends the
    cells to a Dask scheduler instead; ``executor`` passes a ready one (tests).
    ``force`` recomputes finished runs; ``retry_failed`` recomputes failed ones (by
    default a failed run is finished: its error is the result). A run that fails does not
    stop the others. Returns an :class:`ExperimentResult`; the tables are in the folder.
    """
    from eval.executors import make_executor

    t_start = time.perf_counter()
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    out = Path(out_dir) if out_dir is not None else Path("runs") / "experiments" / exp.spec.name
    _folder_check(out)
    tasks, reused = plan(exp, out, force=force, retry_failed=retry_failed)
    ex = executor or make_executor(jobs, scheduler)
    try:
        out.mkdir(parents=True, exist_ok=True)
        results.write_json(out / EXPERIMENT_FILE, {
            "format": RESULTS_FORMAT, "experiment": exp.spec.model_dump(mode="json"), "hash": exp.content_hash(),
            "path": os.fspath(exp.path) if exp.path else None,
            "cells": [dataclasses.asdict(c) for c in exp.cells],
        })
        stats = {"cpu_s": 0.0, "camera_s": 0.0, "frames": 0, "computed": 0}
        bar = _bar(sum(len(t.runs) for t in tasks), progress, exp.spec.name)
        failed_now = 0
        try:
            for task, res in ex.map_unordered(run_cell, tasks):
                if isinstance(res, BaseException):  # the worker itself died: its runs fail, the grid goes on
                    res = _crashed(task, res)
                write_cell(out, task, res)
                stats["computed"] += len(res.runs)
                stats["cpu_s"] += float(res.record.get("cpu_s", 0.0))
                stats["camera_s"] += float(res.record.get("camera_s", 0.0))
                stats["frames"] += int(res.record.get("frames", 0))
                failed_now += sum(r.record.get("status") != "ok" for r in res.runs)
                if bar is not None:
                    bar.update(len(res.runs))
                    elapsed = time.perf_counter() - t_start
                    bar.set_postfix(failed=failed_now, fps=f"{stats['frames'] / max(elapsed, 1e-9):.0f}")
        finally:
            if bar is not None:
                bar.close()
        summary = gather(exp, out)
    finally:
        if executor is None and hasattr(ex, "close"):
            ex.close()
    wall = time.perf_counter() - t_start
    throughput = {"cells_computed": len(tasks), "runs_computed": stats["computed"], "frames": stats["frames"],
                  "camera_s": stats["camera_s"], "cpu_s": stats["cpu_s"], "wall_s": wall,
                  "camera_hours_per_core_hour": stats["camera_s"] / stats["cpu_s"] if stats["cpu_s"] else None,
                  "frames_per_core_s": stats["frames"] / stats["cpu_s"] if stats["cpu_s"] else None}
    results.write_json(out / results.MANIFEST_FILE, {
        "format": RESULTS_FORMAT, "experiment": exp.spec.name, "hash": exp.content_hash(),
        "n_cells": len(exp.cells), "n_runs": exp.n_runs, "ok": summary["ok"], "failed": summary["failed"],
        "runs": summary["runs"], "executor": ex.describe(), "versions": results.package_versions(),
        "command": list(sys.argv), "last_invocation": throughput,
    })
    return ExperimentResult(out_dir=out, n_runs=exp.n_runs, ok=summary["ok"], failed=summary["failed"],
                            reused=reused, computed=stats["computed"], cpu_s=stats["cpu_s"], wall_s=wall,
                            camera_s=stats["camera_s"], frames=stats["frames"],
                            failures=[(r["run_id"], r["error"]) for r in summary["runs"] if r["status"] != "ok"])


def _bar(total: int, progress: bool, label: str):
    if not progress or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=label, unit="run", leave=False, disable=None)


def _crashed(task: CellTask, exc: BaseException) -> CellOutput:
    error = f"worker failed: {type(exc).__name__}: {exc}".splitlines()[0][:2000]
    out = CellOutput(cell_id=task.cell["cell_id"], cell_key=task.cell_key, record={"status": "failed", "error": error})
    out.runs = [RunOutput(run_id=r["run_id"], run_key=r["run_key"],
                          record={"status": "failed", "error": error, "detector": r["detector"]["name"],
                                  "kind": r["detector"]["kind"]}) for r in task.runs]
    return out


# --- writing one cell -----------------------------------------------------------------------------


def write_cell(out: Path, task: CellTask, res: CellOutput) -> None:
    """Write a cell's files, then each run's files with its ``run.json`` last."""
    from detectors.events import write_alerts

    cdir = out / CELLS_DIR / res.cell_id
    cdir.mkdir(parents=True, exist_ok=True)
    for name, table in res.tables.items():
        if name == "thumbnails":
            table = _merge_thumbnails(cdir / "thumbnails.parquet", table)
        results.write_parquet(cdir / f"{name}.parquet", table)
    for name, data in res.files.items():
        results.write_bytes_atomic(cdir / name, data)
    if res.ground_truth is not None:
        results.write_json(cdir / results.GROUND_TRUTH_FILE, res.ground_truth)
    cell_rec = {"format": RESULTS_FORMAT, "cell_id": res.cell_id, "cell_key": res.cell_key, **task.cell,
                **res.record, "runs": [r.run_id for r in res.runs]}
    for r in res.runs:
        rdir = out / RUNS_DIR / r.run_id
        rdir.mkdir(parents=True, exist_ok=True)
        for name in RUN_TABLES:  # a rerun must not leave the tables of an older one behind
            if name not in r.tables and (rdir / f"{name}.parquet").exists():
                (rdir / f"{name}.parquet").unlink()
        for name, table in r.tables.items():
            results.write_parquet(rdir / f"{name}.parquet", table)
        if r.record.get("status") == "ok":
            write_alerts(rdir / results.ALERTS_FILE, r.alerts)
        shared = {k: res.record.get(k) for k in ("feed_s", "init_s", "io_s", "truth_s", "wall_s", "cpu_s",
                                                 "worker_pid", "camera_s")}
        results.write_json(rdir / RUN_FILE, {
            "format": RESULTS_FORMAT, "run_id": r.run_id, "run_key": r.run_key, "cell_id": res.cell_id,
            "scenario": task.cell["scenario"], "variant": task.cell["variant"], "seed": task.cell["seed"],
            **r.record, "cell": {**shared, "runs_sharing": len(res.runs)},
        })
    # the cell's record last: a cell with an ok cell.json has all its files
    results.write_json(cdir / CELL_FILE, cell_rec)


def _merge_thumbnails(path: Path, new):
    """Thumbnails kept by earlier runs of the cell stay (a resumed cell adds its runs' moments)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not path.exists():
        return new
    try:
        old = pq.read_table(path)
    except (OSError, pa.ArrowInvalid):
        return new
    both = pa.concat_tables([old, new.cast(old.schema)]) if old.num_rows else new
    keys = [f"{c}/{f}" for c, f in zip(both.column("camera").to_pylist(), both.column("frame").to_pylist())]
    first = sorted({k: i for i, k in reversed(list(enumerate(keys)))}.values())
    both = both.take(pa.array(first, pa.int64()))
    order = pc.sort_indices(both, sort_keys=[("camera", "ascending"), ("frame", "ascending")])
    return both.take(order)


# --- gathering ------------------------------------------------------------------------------------


def _concat(tables: list):
    import pyarrow as pa

    tables = [t for t in tables if t is not None]
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="default")


def gather(exp: Experiment, out: Path) -> dict:
    """Gather the tables of every finished run and cell of ``exp`` into the top-level tables."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    per_table: dict[str, list] = {name: [] for name in (*CELL_TABLES, *RUN_TABLES)}
    rows, run_summaries = [], []
    ok = failed = 0
    for cell in exp.cells:
        cdir = out / CELLS_DIR / cell.cell_id
        cell_rec = _read_json(cdir / CELL_FILE)
        if cell_rec is not None and cell_rec.get("cell_key") == cell.key(exp.spec.outputs):
            for name in CELL_TABLES:
                if (cdir / f"{name}.parquet").exists():
                    per_table[name].append(pq.read_table(cdir / f"{name}.parquet"))
        for det in exp.spec.detectors:
            run_id = exp.run_id(cell, det)
            rec = _done(out, run_id, exp.run_key(cell, det), retry_failed=False)
            if rec is None:
                status, error = "missing", "not run yet (interrupted?); rerun the command to resume"
                rec = {}
            else:
                status, error = rec.get("status", "failed"), rec.get("error")
            ok += status == "ok"
            failed += status != "ok"
            run_summaries.append({"run_id": run_id, "status": status, "error": error})
            shared = rec.get("cell") or {}
            rows.append({
                "run_id": run_id, "cell_id": cell.cell_id, "scenario": cell.scenario, "variant": cell.variant,
                "seed": cell.seed, "detector": det.name, "kind": det.kind, "status": status, "error": error,
                "n_alerts": rec.get("n_alerts"), "alerts_past_end": rec.get("alerts_past_end"),
                "frames": rec.get("frames"), "camera_s": shared.get("camera_s"),
                "detect_s": rec.get("detect_s"), "score_s": rec.get("score_s"),
                "blackbox_wall_s": rec.get("blackbox_wall_s"), "blackbox_cpu_s": rec.get("blackbox_cpu_s"),
                "cell_feed_s": shared.get("feed_s"), "cell_init_s": shared.get("init_s"),
                "cell_wall_s": shared.get("wall_s"), "cell_cpu_s": shared.get("cpu_s"),
                "cell_runs": shared.get("runs_sharing"), "worker_pid": shared.get("worker_pid"),
            })
            if status == "ok":
                rdir = out / RUNS_DIR / run_id
                for name in RUN_TABLES:
                    if (rdir / f"{name}.parquet").exists():
                        per_table[name].append(pq.read_table(rdir / f"{name}.parquet"))
    schema = pa.schema([("run_id", pa.string()), ("cell_id", pa.string()), ("scenario", pa.string()),
                        ("variant", pa.string()), ("seed", pa.int64()), ("detector", pa.string()),
                        ("kind", pa.string()), ("status", pa.string()), ("error", pa.string()),
                        ("n_alerts", pa.int64()), ("alerts_past_end", pa.int64()), ("frames", pa.int64()),
                        ("camera_s", pa.float64()), ("detect_s", pa.float64()), ("score_s", pa.float64()),
                        ("blackbox_wall_s", pa.float64()), ("blackbox_cpu_s", pa.float64()),
                        ("cell_feed_s", pa.float64()), ("cell_init_s", pa.float64()), ("cell_wall_s", pa.float64()),
                        ("cell_cpu_s", pa.float64()), ("cell_runs", pa.int64()), ("worker_pid", pa.int64())])
    results.write_parquet(out / "runs.parquet", pa.Table.from_pylist(rows, schema=schema))
    for name, tables in per_table.items():
        table = _concat(tables)
        if table is not None:
            results.write_parquet(out / f"{name}.parquet", table)
        elif (out / f"{name}.parquet").exists():
            (out / f"{name}.parquet").unlink()  # stale: no finished run has such a table now
    return {"ok": ok, "failed": failed, "runs": run_summaries}


def summary_lines(res: ExperimentResult, *, limit: int = 10) -> list[str]:
    """The lines ``stationwatch experiment`` prints: per detector and type, the headline figures."""
    lines = []
    try:
        counts = res.table("counts")
    except FileNotFoundError:
        counts = None
    if counts is not None and counts.num_rows:
        from eval.metrics import Counts, Tally, compute_metrics
        from detectors.events import EventType

        runs = res.table("runs")
        det_of = dict(zip(runs.column("run_id").to_pylist(), runs.column("detector").to_pylist()))
        cols = {c: counts.column(c).to_pylist() for c in counts.column_names}
        cells: dict[tuple[str, str], Tally] = {}
        seconds: dict[tuple[str, str], float] = {}  # scored camera-seconds of each (detector, type)
        for k in range(counts.num_rows):
            det, etype = det_of.get(cols["run_id"][k], "?"), cols["type"][k]
            t = Tally(n_instances=cols["n_instances"][k], tp=cols["tp"][k], fn=cols["fn"][k], fp=cols["fp"][k],
                      duplicates=cols["duplicates"][k], n_alerts=cols["n_alerts"][k],
                      latencies_s=tuple(cols["latencies_s"][k]))
            cells[(det, etype)] = cells[(det, etype)] + t if (det, etype) in cells else t
            seconds[(det, etype)] = seconds.get((det, etype), 0.0) + cols["camera_s"][k]
        head = f"{'detector':<16} {'type':<18} {'inst':>5} {'TP':>4} {'FN':>4} {'FP':>4} {'dup':>4} " \
               f"{'recall':>7} {'prec':>6} {'FA/h':>7} {'lat med':>7}"
        lines += [head, "-" * len(head)]
        for (det, etype), t in sorted(cells.items()):
            m = compute_metrics(t, seconds[(det, etype)], event_type=EventType(etype))

            def f(v, fmt):
                return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)

            lines.append(f"{det:<16} {etype:<18} {t.n_instances:>5} {t.tp:>4} {t.fn:>4} {t.fp:>4} {t.duplicates:>4} "
                         f"{f(m.recall, '.2f'):>7} {f(m.precision, '.2f'):>6} {f(m.rfa_per_hour, '.1f'):>7} "
                         f"{f(m.latency_median_s, '.2f'):>7}")
    if res.failures:
        lines.append(f"\n{len(res.failures)} run(s) failed:")
        for run_id, err in res.failures[:limit]:
            lines.append(f"  {run_id}: {err}")
        if len(res.failures) > limit:
            lines.append(f"  ... and {len(res.failures) - limit} more (runs.parquet, column error)")
    return lines
