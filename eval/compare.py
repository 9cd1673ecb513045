"""``stationwatch compare``: two detectors on the same runs, the paired difference and a verdict.

Two results folders of the same experiment (a vendor's black box run apart, say), or one folder
with several detectors: each *cell* (scenario, variant, seed: the same simulated footage) is a
pair. Per event type scored by both, the difference A - B of each metric over the common
cells, pooled (counts summed over cells, divided once), with a 95 % interval from resampling
the cells (the same resample for A and B: a paired bootstrap, so footage that is hard for
both does not widen the interval). The verdict reads the interval in the metric's good
direction: *better* when it excludes 0 on A's side, *worse* when it excludes 0 on B's side,
*not distinguishable* otherwise. NDCR (DESIGN.md constants) gives the headline verdict.

Cells of two folders pair only when their content hashes agree (same scenario, overrides and
seed); the others are left out and counted.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from detectors.events import EventType
from eval.intervals import N_BOOT, percentile_interval, resample_weights
from eval.metrics import DEFAULT_CONSTANTS

#: metric -> +1 when higher is better, -1 when lower is better
METRICS = {"ndcr": -1, "recall": +1, "precision": +1, "rfa_per_hour": -1, "latency_median_s": -1}


class CompareError(ValueError):
    """Two sides that cannot be compared; the message says why."""


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a detector of a results folder."""

    folder: Any  #: eval.results_folder.ResultsFolder
    detector: str

    @property
    def label(self) -> str:
        return f"{self.detector} ({os.path.basename(os.fspath(self.folder.path).rstrip('/'))})"


def _cells(side: Side) -> dict[str, dict[str, list[dict]]]:
    """cell_id -> type -> counts rows of the side's ok runs."""
    out: dict[str, dict[str, list[dict]]] = {}
    for c in side.folder.counts:
        r = side.folder.ok_runs.get(c["run_id"])
        if r is None or r["detector"] != side.detector:
            continue
        out.setdefault(r["cell_id"], {}).setdefault(c["type"], []).append(c)
    return out


def _cell_hashes(folder) -> dict[str, str]:
    return {c["cell_id"]: c.get("scenario_hash", "") + f"/{c.get('seed')}/{c.get('duration_s')}"
            for c in folder.experiment.get("cells", [])}


def _metrics(tp, fn, fp, secs, lat_lists, weights) -> dict[str, np.ndarray]:
    """Pooled metrics under cell weights ``(C, B)`` (one column per resample)."""
    tp_w, fn_w, fp_w, s_w = (np.asarray(a, float) @ weights for a in (tp, fn, fp, secs))
    n = tp_w + fn_w
    hours = s_w / 3600.0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(n > 0, tp_w / n, np.nan)
        pmiss = np.where(n > 0, fn_w / n, np.nan)
        precision = np.where(tp_w + fp_w > 0, tp_w / (tp_w + fp_w), np.nan)
        rfa = np.where(hours > 0, fp_w / hours, np.nan)
    lat = np.full(weights.shape[1], np.nan)
    for b in range(weights.shape[1]):
        pooled = [x for c, w in enumerate(weights[:, b]) for _ in range(int(w)) for x in lat_lists[c]]
        if pooled:
            lat[b] = float(np.median(pooled))
    return {"recall": recall, "precision": precision, "rfa_per_hour": rfa,
            "ndcr": pmiss + DEFAULT_CONSTANTS.beta * rfa, "latency_median_s": lat}


def verdict(lo: float, hi: float, direction: int) -> str:
    """'better', 'worse' or 'not distinguishable' for A - B in [lo, hi] (direction +1: higher is better)."""
    if math.isnan(lo) or math.isnan(hi):
        return "undefined"
    if direction * lo > 0 and direction * hi > 0:
        return "better"
    if direction * lo < 0 and direction * hi < 0:
        return "worse"
    return "not distinguishable"


def compare(a: Side, b: Side, *, n_boot: int = N_BOOT, seed: int = 0, confidence: float = 0.95
            ) -> list[dict[str, Any]]:
    """One row per (type, metric): A, B, A - B, its interval, the verdict, the cells used."""
    ca, cb = _cells(a), _cells(b)
    common = sorted(set(ca) & set(cb))
    left_out = 0
    if a.folder.path != b.folder.path:
        ha, hb = _cell_hashes(a.folder), _cell_hashes(b.folder)
        same = [c for c in common if ha.get(c) == hb.get(c)]
        left_out = len(common) - len(same)
        common = same
    if not common:
        raise CompareError(f"{a.label} and {b.label} share no cell (the same scenario, variant and seed): nothing "
                           f"to pair")
    types = [t for t in EventType if any(t.value in ca[c] for c in common) and any(t.value in cb[c] for c in common)]
    if not types:
        raise CompareError(f"{a.label} and {b.label} score no event type in common")
    w = resample_weights(len(common), n_boot, seed)
    ones = np.ones((len(common), 1))
    rows = []
    for t in types:
        sides = []
        for cells in (ca, cb):
            rs = [cells[c].get(t.value, []) for c in common]
            sides.append(([sum(int(x["tp"]) for x in r) for r in rs], [sum(int(x["fn"]) for x in r) for r in rs],
                          [sum(int(x["fp"]) for x in r) for r in rs], [sum(float(x["camera_s"]) for x in r) for r in rs],
                          [[v for x in r for v in (x.get("latencies_s") or [])] for r in rs]))
        obs = [_metrics(*s, ones) for s in sides]
        boot = [_metrics(*s, w) for s in sides]
        for m, direction in METRICS.items():
            diff = boot[0][m] - boot[1][m]
            lo, hi = percentile_interval(diff[None, :], confidence, axis=1)
            va, vb = float(obs[0][m][0]), float(obs[1][m][0])
            rows.append({"type": t.value, "metric": m, "a": va, "b": vb, "diff": va - vb, "lo": float(lo[0]),
                         "hi": float(hi[0]), "verdict": verdict(float(lo[0]), float(hi[0]), direction),
                         "cells": len(common), "cells_left_out": left_out, "a_label": a.label, "b_label": b.label})
    return rows


def format_compare(rows: list[dict[str, Any]]) -> str:
    """The comparison as fixed-width text (what ``stationwatch compare`` prints)."""
    if not rows:
        return "(nothing compared)"

    def f(v):
        return "-" if v is None or math.isnan(v) else f"{v:.3f}"

    head = ["type", "metric", "A", "B", "A - B", "95 % interval", "verdict (A vs B)"]
    body = [[r["type"], r["metric"], f(r["a"]), f(r["b"]), f(r["diff"]), f"[{f(r['lo'])}, {f(r['hi'])}]",
             r["verdict"]] for r in rows]
    widths = [max(len(h), *(len(b[k]) for b in body)) for k, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if k in (0, 1, 6) else c.rjust(w) for k, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    r0 = rows[0]
    lines = [f"A = {r0['a_label']}, B = {r0['b_label']}: {r0['cells']} paired cell(s)"
             + (f", {r0['cells_left_out']} left out (different footage)" if r0["cells_left_out"] else ""),
             line(head), "  ".join("-" * w for w in widths)] + [line(b) for b in body]
    return "\n".join(lines)
