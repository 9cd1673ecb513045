"""Metrics sliced by what the simulation knows: camera, scenario, variant, lighting, crowd level,
each camera-effect severity, and the appearance groups of the people in each event.

Where a detector fails, and whether it fails some groups of people more than others: a
recall that holds by day and collapses at night, or that is lower for one clothing group,
is what an evaluation must show before anything watches a real person.

The operating point is the one the runs ran with (``counts.parquet`` and ``matches.parquet``).
Each slice sums integer counts over its (run, camera) streams and divides once: recall with
its Wilson interval, false alarms per camera-hour with an interval from resampling the runs
of the slice. Appearance groups are an instance's people's groups (an instance with people of
two groups counts in both); their recalls come with a chi-square test of homogeneity (a small
p-value: the detector does not find every group equally). :func:`robustness` keeps the
camera-effect slices in severity order (numbers, and lighting from day to night), for
:func:`eval.plots.robustness_plot`.
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

import numpy as np

from eval.intervals import N_BOOT, bootstrap_rate, wilson

#: slice variables besides the render severities (cameras.parquet columns)
BASE_VARIABLES = ("camera", "scenario", "variant", "crowd_level")
#: number of crowd levels (quantile bins of the mean number of persons in view)
CROWD_LEVELS = 3


def _crowd_labels(values: np.ndarray) -> list[str]:
    """Quantile bins of persons in view, labelled with their ranges (e.g. ``"4.2-9.8 in view"``)."""
    v = np.asarray(values, float)
    if not len(v):
        return []
    edges = np.unique(np.quantile(v, np.linspace(0, 1, CROWD_LEVELS + 1)))
    if len(edges) < 2:
        return [f"{v[0]:.1f} in view"] * len(v)
    k = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(edges) - 2)
    return [f"{edges[i]:.1f}-{edges[i + 1]:.1f} in view" for i in k]


def stream_table(folder) -> list[dict[str, Any]]:
    """One record per (run, camera, type) of every ok run: counts, detector, and the slice variables."""
    cams = folder.cameras
    recs = []
    for c in folder.counts:
        r = folder.ok_runs.get(c["run_id"])
        if r is None:
            continue
        cam = cams.get((r["cell_id"], c["camera"]), {})
        rec = {**c, "detector": r["detector"], "cell_id": r["cell_id"], "scenario": r["scenario"],
               "variant": r["variant"], "seed": r["seed"], "persons_in_view_mean": cam.get("persons_in_view_mean")}
        rec.update({k: v for k, v in cam.items() if k.startswith("render_")})
        recs.append(rec)
    levels = _crowd_labels(np.array([np.nan if r["persons_in_view_mean"] is None else r["persons_in_view_mean"]
                                     for r in recs], float))
    for r, lv in zip(recs, levels):
        r["crowd_level"] = lv
    return recs


def effect_variables(streams: list[dict]) -> list[str]:
    """The render_* columns whose value differs between streams (the effects an experiment varied)."""
    keys = sorted({k for r in streams for k in r if k.startswith("render_")})
    return [k for k in keys if len({json.dumps(r.get(k), sort_keys=True) for r in streams}) > 1]


def _instance_outcomes(folder) -> list[dict[str, Any]]:
    """Detected / missed instances of every ok run with their appearance groups."""
    m = folder.table("matches")
    if m is None:
        return []
    groups = {}
    gt = folder.table("ground_truth")
    if gt is not None:
        for g in gt.select(["cell_id", "camera", "instance_id", "appearance_groups"]).to_pylist():
            groups[(g["cell_id"], g["camera"], g["instance_id"])] = g["appearance_groups"] or []
    out = []
    for row in m.to_pylist():
        r = folder.ok_runs.get(row["run_id"])
        if r is None or row["outcome"] == "not_scored":
            continue
        out.append({**row, "detector": r["detector"], "cell_id": r["cell_id"],
                    "groups": groups.get((r["cell_id"], row["camera"], row["instance_id"]), [])})
    return out


def _slice_row(detector, etype, variable, value, sel: list[dict], n_boot: int, seed: int) -> dict[str, Any]:
    tp = sum(int(r["tp"]) for r in sel)
    n = sum(int(r["n_instances"]) for r in sel)
    fp = sum(int(r["fp"]) for r in sel)
    secs = sum(float(r["camera_s"]) for r in sel)
    lo, hi = wilson(tp, n)
    runs = sorted({r["run_id"] for r in sel})
    per_run_fp = np.array([[sum(int(r["fp"]) for r in sel if r["run_id"] == rid) for rid in runs]], float)
    per_run_h = np.array([sum(float(r["camera_s"]) for r in sel if r["run_id"] == rid) for rid in runs]) / 3600.0
    rlo, rhi = bootstrap_rate(per_run_fp, per_run_h, n_boot=n_boot, seed=seed)
    lat = [x for r in sel for x in (r.get("latencies_s") or [])]
    return {"detector": detector, "type": etype, "variable": variable, "value": value, "runs": len(runs),
            "n_instances": n, "tp": tp, "fp": fp, "camera_hours": secs / 3600.0,
            "recall": tp / n if n else math.nan, "recall_lo": float(lo), "recall_hi": float(hi),
            "rfa_per_hour": fp / (secs / 3600.0) if secs > 0 else math.nan,
            "rfa_per_hour_lo": float(rlo[0]), "rfa_per_hour_hi": float(rhi[0]),
            "latency_median_s": float(np.median(lat)) if lat else math.nan}


def _value_key(v):
    return (0, float(v), "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0.0, str(v))


def slices(folder, *, detectors: Sequence[str] | None = None, variables: Sequence[str] | None = None,
           n_boot: int = N_BOOT, seed: int = 0) -> list[dict[str, Any]]:
    """Slice rows for every detector, type, variable and value (variables: camera, scenario,
    variant, crowd level and every render severity that varies, unless given)."""
    streams = stream_table(folder)
    dets = list(detectors) if detectors else folder.detectors
    variables = list(variables) if variables else [*BASE_VARIABLES, *effect_variables(streams)]
    rows = []
    for det in dets:
        of_det = [r for r in streams if r["detector"] == det]
        for etype in sorted({r["type"] for r in of_det}):
            of_t = [r for r in of_det if r["type"] == etype]
            for var in variables:
                values = sorted({json.dumps(r.get(var)) for r in of_t}, key=lambda s: _value_key(json.loads(s)))
                for vj in values:
                    sel = [r for r in of_t if json.dumps(r.get(var)) == vj]
                    rows.append(_slice_row(det, etype, var, json.loads(vj), sel, n_boot, seed))
    return rows


def _ordered_effects() -> dict[str, tuple[str, ...]]:
    """Camera effects given by name whose names have a severity order (lighting: day < evening < night)."""
    from sim.render.effects import LIGHTING_PRESETS

    return {"render_lighting": tuple(LIGHTING_PRESETS)}


def robustness(folder, **kwargs) -> list[dict[str, Any]]:
    """The slice rows of the camera effects that vary and have a severity (a number, or a named
    level of :func:`_ordered_effects` such as lighting), in severity order; each row's
    ``severity`` is the number or the level's rank (0: day)."""
    streams = stream_table(folder)
    ordered = _ordered_effects()

    def severity(var, v):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        levels = ordered.get(var, ())
        return float(levels.index(v)) if v in levels else None

    graded = [v for v in effect_variables(streams) if all(severity(v, r.get(v)) is not None for r in streams)]
    if not graded:
        return []
    rows = slices(folder, variables=graded, **kwargs)
    for r in rows:
        r["severity"] = severity(r["variable"], r["value"])
    return sorted(rows, key=lambda r: (r["detector"], r["type"], r["variable"], r["severity"]))


def appearance_slices(folder, *, detectors: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Recall per appearance group (Wilson interval) per detector and type, with the p-value of a
    chi-square test that every group is found equally often (nan where it cannot be computed)."""
    from scipy.stats import chi2_contingency

    outcomes = _instance_outcomes(folder)
    dets = list(detectors) if detectors else folder.detectors
    rows = []
    for det in dets:
        for etype in sorted({o["type"] for o in outcomes if o["detector"] == det}):
            sel = [o for o in outcomes if o["detector"] == det and o["type"] == etype]
            names = sorted({g for o in sel for g in o["groups"]})
            table = []
            block = []
            for name in names:
                of_g = [o for o in sel if name in o["groups"]]
                tp = sum(o["outcome"] == "detected" for o in of_g)
                n = len(of_g)
                lo, hi = wilson(tp, n)
                table.append([tp, n - tp])
                block.append({"detector": det, "type": etype, "group": name, "n_instances": n, "tp": tp,
                              "recall": tp / n if n else math.nan, "recall_lo": float(lo), "recall_hi": float(hi)})
            p = math.nan
            arr = np.array(table, float)
            if len(arr) >= 2 and (arr.sum(axis=0) > 0).all():
                p = float(chi2_contingency(arr)[1])
            for b in block:
                b["p_homogeneity"] = p
            rows += block
    return rows
