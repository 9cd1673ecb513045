"""Export an experiment's results as NIST ActEV files, scorable by ActEV_Scorer (protocol ActEV18_AD).

For each detector of a results folder, ``OUT/DETECTOR/`` gets the four JSON files the
scorer reads::

    python ActEV_Scorer.py ActEV18_AD -s system_output.json -r reference.json \\
        -a activity_index.json -f file_index.json -o scored -v

The mapping (the README's "ActEV export" repeats it):

- a *file* is one camera of one cell: ``CELL__CAMERA.mp4`` (the name is all the scorer
  needs; no video is written), its frame rate from the cell, every frame selected;
- frames are numbered from 1 (ActEV's convention): the frame at ``t`` is ``floor(t * fps
  + 1e-6) + 1``; an interval ``{"a": 1, "b": 0}`` covers frames ``a`` to ``b - 1``;
- an *activity* is an event type, under its own name (``intrusion``, ``fire``, ...); the
  activity index lists the types the detector scored;
- the *reference* holds every ground-truth instance of those types: frames from
  ``t_start`` to ``t_end`` inclusive (an instance still going on at the end of the
  footage runs to the last frame);
- the *system output* holds every alert: ``presenceConf`` is the alert's score (any
  monotone scale; the scorer sweeps thresholds over it), ``alertFrame`` the frame of the
  alert, and ``localization`` a detection interval. For a detector whose per-frame scores
  were recorded (built-in and plug-in detectors) the interval is the run of frames around
  the alert whose score stays at or above the alert threshold: the time the system itself
  held the event present. For a black box (alerts only) it is ``fixed_s`` seconds from the
  alert (default: the type's maximum latency, :data:`detectors.events.MAX_LATENCY_S`).

ActEV18_AD matches a system interval to a reference one when their temporal
intersection over union exceeds 0.2, and reports Pmiss against the rate of false alarms
per minute: a different rule from this project's (an alert's time inside the instance's
window, its box over the instance's box at that time), so the two sets of numbers differ
by design; the export lets NIST's tool give its own.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from detectors.events import MAX_LATENCY_S, EventType
from eval import results

#: what the scorer requires of a file name
_FILE_NAME = re.compile(r"^[A-Za-z0-9_\-.]+$")


class ActevExportError(ValueError):
    """A folder that cannot be exported (not a results folder, an unknown detector)."""


def file_name(cell_id: str, camera: str) -> str:
    """The ActEV file name of one camera of one cell."""
    name = re.sub(r"[^A-Za-z0-9_\-.]+", "_", f"{cell_id}__{camera}") + ".mp4"
    assert _FILE_NAME.match(name)
    return name


def frame_of(t: float, fps: float) -> int:
    """1-based frame number of time ``t`` [s]."""
    return int(math.floor(float(t) * float(fps) + 1e-6)) + 1


def _table(folder: Path, name: str):
    import pyarrow.parquet as pq

    path = folder / f"{name}.parquet"
    if not path.exists():
        return None
    return pq.read_table(path)


def export_actev(results_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None, *,
                 detectors: list[str] | None = None, fixed_s: float | None = None) -> dict[str, dict[str, Path]]:
    """Write ActEV system output, reference, activity index and file index per detector.

    ``out_dir`` defaults to ``RESULTS/actev``. Returns ``{detector: {kind: path}}``.
    """
    folder = Path(results_dir)
    if not (folder / "experiment.json").exists() or not (folder / "runs.parquet").exists():
        raise ActevExportError(f"{os.fspath(folder)!r} is not an experiment results folder (no experiment.json and "
                               f"runs.parquet; run stationwatch experiment first)")
    if fixed_s is not None and not (math.isfinite(fixed_s) and fixed_s > 0):
        raise ActevExportError(f"--interval-s must be a number of seconds > 0; got {fixed_s!r}")
    out = Path(out_dir) if out_dir is not None else folder / "actev"
    runs = _table(folder, "runs").to_pylist()
    cams = {(r["cell_id"], r["camera"]): r for r in (_table(folder, "cameras") or _empty()).to_pylist()}
    known = sorted({r["detector"] for r in runs})
    chosen = detectors or known
    unknown = [d for d in chosen if d not in known]
    if unknown:
        raise ActevExportError(f"no detector {', '.join(map(repr, unknown))} in {os.fspath(folder)!r}; "
                               f"detectors: {', '.join(known)}")
    gt = (_table(folder, "ground_truth") or _empty()).to_pylist()
    alerts = (_table(folder, "alerts") or _empty()).to_pylist()
    counts = (_table(folder, "counts") or _empty()).to_pylist()
    scores = _table(folder, "scores")
    written: dict[str, dict[str, Path]] = {}
    for det in chosen:
        ok_runs = {r["run_id"]: r for r in runs if r["detector"] == det and r["status"] == "ok"}
        run_dirs = {rid: folder / "runs" / rid for rid in ok_runs}
        cells = {r["cell_id"] for r in ok_runs.values()}
        files = {key: info for key, info in cams.items() if key[0] in cells}
        scored = {(c["run_id"], c["camera"], c["type"]) for c in counts if c["run_id"] in ok_runs}
        types = sorted({t for _, _, t in scored}, key=[e.value for e in EventType].index)
        cell_of_run = {rid: r["cell_id"] for rid, r in ok_runs.items()}
        scored_files = {(cell_of_run[rid], cam, t) for rid, cam, t in scored}
        reference = _reference(gt, files, scored_files)
        policies = {rid: _policies(run_dirs[rid]) for rid in ok_runs}
        system = _system(alerts, ok_runs, files, scores, policies, fixed_s)
        file_index = {file_name(c, cam): {"framerate": float(info["fps"]),
                                          "selected": {"1": 1, str(int(info["n_frames"]) + 1): 0}}
                      for (c, cam), info in sorted(files.items())}
        d = out / det
        d.mkdir(parents=True, exist_ok=True)
        paths = {"system_output": d / "system_output.json", "reference": d / "reference.json",
                 "activity_index": d / "activity_index.json", "file_index": d / "file_index.json"}
        results.write_json(paths["system_output"], {"filesProcessed": sorted(file_index), "activities": system})
        results.write_json(paths["reference"], {"filesProcessed": sorted(file_index), "activities": reference})
        results.write_json(paths["activity_index"], {t: {} for t in types})
        results.write_json(paths["file_index"], file_index)
        written[det] = paths
    return written


def _empty():
    import pyarrow as pa

    return pa.table({})


def _policies(run_dir: Path) -> dict:
    rec = results.read_json(run_dir / "run.json")
    return rec.get("policies") or {}


def _localization(name: str, first: int, end: int) -> dict:
    return {name: {str(first): 1, str(max(end, first + 1)): 0}}


def _reference(gt: list[dict], files: dict, scored_files: set) -> list[dict]:
    out = []
    for rec in sorted(gt, key=lambda r: (r["cell_id"], r["camera"], r["t_start"], r["instance_id"])):
        key = (rec["cell_id"], rec["camera"])
        if key not in files or (rec["cell_id"], rec["camera"], rec["type"]) not in scored_files:
            continue
        info = files[key]
        n = int(info["n_frames"])
        first = min(frame_of(rec["t_start"], info["fps"]), n)
        last = n if not math.isfinite(rec["t_end"]) else min(frame_of(rec["t_end"], info["fps"]), n)
        out.append({"activity": rec["type"], "activityID": len(out),
                    "localization": _localization(file_name(*key), first, last + 1)})
    return out


def _system(alerts: list[dict], ok_runs: dict, files: dict, scores, policies: dict, fixed_s: float | None) -> list:
    import pyarrow as pa
    import pyarrow.compute as pc

    out = []
    mine = sorted((a for a in alerts if a["run_id"] in ok_runs), key=lambda a: (a["run_id"], a["camera"], a["t"]))
    series: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
    if scores is not None and mine:
        sel = scores.filter(pc.is_in(scores.column("run_id"), value_set=pa.array(sorted(ok_runs), pa.string())))
    if scores is not None and mine and sel.num_rows:
        cols = {c: sel.column(c).to_numpy(zero_copy_only=False) for c in ("run_id", "camera", "type", "frame", "score")}
        keys = np.char.add(np.char.add(cols["run_id"].astype(str), "\x1f"),
                           np.char.add(np.char.add(cols["camera"].astype(str), "\x1f"), cols["type"].astype(str)))
        order = np.lexsort((cols["frame"], keys))
        keys, frames, values = keys[order], cols["frame"][order], cols["score"][order]
        bounds = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True])
        for s, e in zip(bounds[:-1], bounds[1:]):
            rid, cam, typ = str(keys[s]).split("\x1f")
            series[(rid, cam, typ)] = (frames[s:e].astype(np.int64), values[s:e].astype(np.float64))
    for a in mine:
        cell = ok_runs[a["run_id"]]["cell_id"]
        info = files.get((cell, a["camera"]))
        if info is None:
            continue
        fps, n = float(info["fps"]), int(info["n_frames"])
        name = file_name(cell, a["camera"])
        alert_frame = min(frame_of(a["t"], fps), n)
        span = _above_run(series.get((a["run_id"], a["camera"], a["type"])), alert_frame - 1,
                          (policies.get(a["run_id"]) or {}).get(a["type"], {}).get("threshold"))
        if span is None:
            window = fixed_s if fixed_s is not None else MAX_LATENCY_S[EventType(a["type"])]
            first, end = alert_frame, min(alert_frame + max(1, int(round(window * fps))), n + 1)
        else:
            first, end = span[0] + 1, min(span[1] + 1, n + 1)
        out.append({"activity": a["type"], "activityID": len(out), "presenceConf": float(a["score"]),
                    "alertFrame": alert_frame, "localization": _localization(name, first, end)})
    return out


def _above_run(series, frame0: int, threshold: float | None) -> tuple[int, int] | None:
    """0-based [first, end) frames of the run of scores >= threshold that holds ``frame0``; None without scores."""
    if series is None or threshold is None:
        return None
    frames, values = series
    k = int(np.searchsorted(frames, frame0))
    if k >= len(frames) or frames[k] != frame0 or not values[k] >= threshold:
        return None
    above = values >= threshold
    lo = k
    while lo > 0 and above[lo - 1] and frames[lo - 1] == frames[lo] - 1:
        lo -= 1
    hi = k
    while hi + 1 < len(frames) and above[hi + 1] and frames[hi + 1] == frames[hi] + 1:
        hi += 1
    return int(frames[lo]), int(frames[hi]) + 1


def validate(doc: dict, kind: str) -> None:
    """Check a document against the structure ActEV_Scorer's schemas require (raises ActevExportError).

    ``kind`` is ``system_output``, ``reference``, ``activity_index`` or ``file_index``.
    """
    import jsonschema

    try:
        jsonschema.validate(doc, SCHEMAS[kind])
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise ActevExportError(f"{kind} at {where or '(top)'}: {exc.message}") from None


_LOCALIZATION: dict[str, Any] = {
    "type": "object", "minProperties": 1, "maxProperties": 1,
    "patternProperties": {r"^[A-Za-z0-9_\-.]+$": {
        "type": "object", "minProperties": 2,
        "patternProperties": {r"^[0-9]+$": {"type": "integer", "enum": [0, 1]}}, "additionalProperties": False}},
    "additionalProperties": False,
}
#: JSON schemas of the four files, after the ActEV evaluation plan (ActEV18 AD)
SCHEMAS: dict[str, dict] = {
    "system_output": {
        "type": "object", "required": ["filesProcessed", "activities"],
        "properties": {
            "filesProcessed": {"type": "array", "items": {"type": "string", "pattern": r"^[A-Za-z0-9_\-.]+$"}},
            "activities": {"type": "array", "items": {
                "type": "object", "required": ["activity", "activityID", "presenceConf", "localization"],
                "properties": {"activity": {"type": "string"}, "activityID": {"type": "integer"},
                               "presenceConf": {"type": "number"}, "alertFrame": {"type": "integer"},
                               "localization": _LOCALIZATION}}}}},
    "reference": {
        "type": "object", "required": ["filesProcessed", "activities"],
        "properties": {
            "filesProcessed": {"type": "array", "items": {"type": "string"}},
            "activities": {"type": "array", "items": {
                "type": "object", "required": ["activity", "activityID", "localization"],
                "properties": {"activity": {"type": "string"}, "activityID": {"type": "integer"},
                               "localization": _LOCALIZATION}}}}},
    "activity_index": {"type": "object", "additionalProperties": {"type": "object"}},
    "file_index": {
        "type": "object",
        "patternProperties": {r"^[A-Za-z_0-9\-.]+\.(mp4|avi)$": {
            "type": "object", "required": ["framerate", "selected"],
            "properties": {"framerate": {"type": "number"},
                           "selected": {"type": "object", "patternProperties": {
                               r"^[0-9]+$": {"type": "integer", "enum": [0, 1]}}}}}},
        "additionalProperties": False},
}


def load(path: str | os.PathLike) -> dict:
    """Read one exported file (tests and notebooks)."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)
