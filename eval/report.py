"""``stationwatch report``: one self-contained HTML file that says what an experiment found.

Sections: the leaderboard per event type (recall, precision, false alarms per camera-hour with
95 % intervals, latency, NDCR), DET, precision-recall and latency plots from the offline sweep,
the sweep's headline figures (Pmiss at fixed rates, nAUDC, LaAP), paired comparisons, slice
tables (camera, scenario, variant, crowd level, camera effects, appearance groups) and
robustness curves, the processing cost per camera, the operator load at the chosen thresholds
and, for each miss and false alarm, a strip of thumbnails from the footage around it.

Everything (plots as PNG, thumbnails as JPEG) is inlined as ``data:`` URIs: the file opens
anywhere, offline, and can be mailed. Every figure of the leaderboard is also in a JSON block
(``<script type="application/json" id="report-data">``) and in ``data-*`` attributes of its
cell, so that tests can check the page against the Parquet tables. The operating point is the
one the runs ran with, or the thresholds of a policies file (``--policies``), replayed offline.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from detectors.events import EventType
from eval.intervals import fmt_interval

#: default site for the operator-load table: the 46 stations of the 2024 experiment, one camera each
OPERATOR_DEFAULTS = {"n_cameras": 46, "n_operators": 2, "review_s": 30.0}
#: error strips shown per detector by default (the rest are counted; ``--max-strips 0``: all)
MAX_STRIPS = 40
#: thumbnails per strip
STRIP_FRAMES = 5

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1280px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin-bottom:6px}table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f3f3f3}
td.l,th.l{text-align:left}.note{color:#666;font-size:12px}.plots img{max-width:32%;margin:4px;border:1px solid #eee}
.strip{margin:6px 0 14px}.strip img{height:72px;margin-right:2px;border:2px solid #ddd}
.strip img.at{border-color:#d33}.better{color:#070;font-weight:600}.worse{color:#b00;font-weight:600}
.badge{display:inline-block;padding:1px 6px;border-radius:8px;background:#eee;font-size:12px}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _num(v, d: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}f}"


def _img(png: bytes, alt: str, mime: str = "image/png", cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return f'<img{c} alt="{_e(alt)}" src="data:{mime};base64,{base64.b64encode(png).decode("ascii")}">'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1, attrs: Sequence[Sequence[str]] = ()) -> str:
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"l" if k < left else ""}">{_e(h)}</th>' for k, h in enumerate(head)]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        extra = attrs[i] if i < len(attrs) else [""] * len(row)
        out.append("<tr>" + "".join(f'<td class="{"l" if k < left else ""}"{extra[k] if k < len(extra) else ""}>'
                                    f'{c}</td>' for k, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def leaderboard(folder, policies: Mapping[EventType, Any] | None = None, *, n_boot: int = 1000, seed: int = 0
                ) -> list[dict[str, Any]]:
    """One row per (type, detector) at the operating point: counts, rates and 95 % intervals.

    Core detectors are replayed at their threshold as run (or the one ``policies`` gives) by the
    offline sweep, black boxes thresholded at their lowest score (every alert they made)."""
    from eval.results_folder import sweep_folder

    rows = []
    for det in folder.detectors:
        kind = folder.kind_of(det)
        for t in folder.types_of(det):
            as_run = folder.policy_as_run(det, t) or {}
            md = None
            if kind == "core":
                th = as_run.get("threshold")
                if policies and t in policies:
                    o = policies[t]
                    th = o.threshold if o.threshold is not None else th
                    md = o.min_duration_s
                s = sweep_folder(folder, det, t, thresholds=[th], min_duration_s=md)
            else:
                inp = folder.sweep_inputs(det, t)
                th = float(np.min(inp.rows.score)) if len(inp.rows.score) and np.min(inp.rows.score) > 0 else 1e-12
                s = sweep_folder(folder, det, t, thresholds=[th])
            c = s.totals()
            r = s.rates()
            iv = s.intervals(n_boot=n_boot, seed=seed)
            row = {"type": t.value, "detector": det, "kind": kind, "threshold": th if kind == "core" else None,
                   "min_duration_s": s.policy.min_duration_s if kind == "core" else None,
                   "runs": len({g.run_id for g in s.groups}), "camera_hours": c["camera_s"] / 3600.0,
                   **{k: int(c[k][0]) for k in ("n_instances", "tp", "fn", "fp", "duplicates", "n_alerts")},
                   **{k: float(r[k][0]) for k in ("recall", "precision", "rfa_per_hour", "alerts_per_hour", "ndcr",
                                                   "p_miss")},
                   "latency_median_s": float(s.latency_median_s()[0]),
                   **{k: float(v[0]) for k, v in iv.items()}}
            rows.append(row)
    return rows


def processing_cost(folder) -> list[dict[str, Any]]:
    """Per detector and camera: per-frame cost of the detection core (p50, p99 [ms], frames/s per core,
    real-time factor), or a black box's CPU seconds per second of footage."""
    rows = []
    timing = folder.table("timing")
    det_of = {rid: r["detector"] for rid, r in folder.ok_runs.items()}
    if timing is not None and timing.num_rows:
        run = np.asarray(timing.column("run_id").to_pylist(), dtype=object)
        cam = np.asarray(timing.column("camera").to_pylist(), dtype=object)
        total = timing.column("total_s").to_numpy()
        det = np.array([det_of.get(r, "?") for r in run], dtype=object)
        fps = {(k[0], k[1]): float(v["fps"]) for k, v in folder.cameras.items()}
        cell_of = {rid: r["cell_id"] for rid, r in folder.ok_runs.items()}
        for d, c in sorted({(a, b) for a, b in zip(det.tolist(), cam.tolist())}):
            m = (det == d) & (cam == c)
            x = total[m]
            stream = np.mean([fps.get((cell_of.get(r), c), math.nan) for r in set(run[m].tolist())])
            mean = float(x.mean())
            rows.append({"detector": d, "camera": c, "frames": int(m.sum()), "p50_ms": 1e3 * float(np.median(x)),
                         "p99_ms": 1e3 * float(np.percentile(x, 99)), "fps_per_core": 1.0 / mean if mean > 0 else math.nan,
                         "real_time_factor": mean * stream})
    for d in folder.detectors:
        if folder.kind_of(d) != "command":
            continue
        rs = [r for r in folder.ok_runs.values() if r["detector"] == d]
        cpu = sum(float(r["blackbox_cpu_s"] or 0.0) for r in rs)
        secs = sum(float(r["camera_s"] or 0.0) for r in rs)
        frames = sum(int(r["frames"] or 0) for r in rs)
        rows.append({"detector": d, "camera": "(all, black box)", "frames": frames, "p50_ms": math.nan,
                     "p99_ms": math.nan, "fps_per_core": frames / cpu if cpu > 0 else math.nan,
                     "real_time_factor": cpu / secs if secs > 0 else math.nan})
    return rows


def _error_strips(folder, detector: str, limit: int = MAX_STRIPS) -> tuple[list[str], int]:
    """HTML strips of thumbnails around each false alarm and miss of a detector's runs."""
    thumbs = folder.table("thumbnails")
    alerts = folder.table("alerts")
    matches = folder.table("matches")
    if thumbs is None or thumbs.num_rows == 0:
        return [], 0
    cell_of = {rid: r["cell_id"] for rid, r in folder.ok_runs.items() if r["detector"] == detector}
    events = []
    if alerts is not None:
        for a in alerts.to_pylist():
            if a["run_id"] in cell_of and a["outcome"] == "fa":
                events.append(("false alarm", a["run_id"], a["camera"], a["type"], float(a["t"]),
                               f"score {a['score']:.2f}"))
    if matches is not None:
        for m in matches.to_pylist():
            if m["run_id"] in cell_of and m["outcome"] == "missed":
                events.append(("miss", m["run_id"], m["camera"], m["type"], float(m["t_start"]),
                               f"instance {m['instance_id']}"))
    events.sort(key=lambda e: (e[1], e[4]))
    cols = {c: thumbs.column(c).to_pylist() for c in ("cell_id", "camera", "t")}
    jpeg = thumbs.column("jpeg")
    by_cam: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for k, (c, cam, t) in enumerate(zip(cols["cell_id"], cols["camera"], cols["t"])):
        by_cam.setdefault((c, cam), []).append((t, k))
    strips = []
    for what, rid, cam, etype, t, info in events[:limit]:
        near = sorted(by_cam.get((cell_of[rid], cam), []), key=lambda p: abs(p[0] - t))[:STRIP_FRAMES]
        near.sort()
        imgs = "".join(_img(jpeg[k].as_py(), f"{cam} t={tt:.1f}s", "image/jpeg", "at" if abs(tt - t) == min(
            abs(x - t) for x, _ in near) else "") for tt, k in near)
        strips.append(f'<div class="strip" data-kind="{_e(what)}"><b>{_e(what)}</b> {_e(etype)} — {_e(rid)}, '
                      f'{_e(cam)}, t = {t:.2f} s ({_e(info)})<br>{imgs or "<i>no thumbnail near this moment</i>"}</div>')
    return strips, len(events)


def _plots_section(folder, sweeps) -> str:
    from eval import plots

    parts = []
    for t in sorted({s.event_type for s in sweeps}, key=list(EventType).index):
        of_t = [s for s in sweeps if s.event_type is t]
        as_run = [s for s in of_t if s.meta.get("policy_as_run")]
        ops = {plots._label(s): s.meta["threshold_as_run"] for s in as_run if s.meta.get("threshold_as_run")}
        figs = [(plots.det_plot(of_t, operating=ops, title=f"{t.value}: DET"), f"DET {t.value}"),
                (plots.pr_plot(as_run, title=f"{t.value}: precision-recall"), f"PR {t.value}"),
                (plots.latency_plot(as_run, title=f"{t.value}: median latency"), f"latency {t.value}")]
        parts.append(f'<h3>{_e(t.value)}</h3><div class="plots" data-type="{_e(t.value)}">'
                     + "".join(_img(plots.figure_png(f), alt) for f, alt in figs) + "</div>")
    return "".join(parts)


def write_report(folder, out: str | os.PathLike | None = None, *, policies_file: str | None = None,
                 n_cameras: int = OPERATOR_DEFAULTS["n_cameras"], n_operators: int = OPERATOR_DEFAULTS["n_operators"],
                 review_s: float = OPERATOR_DEFAULTS["review_s"], n_boot: int = 1000, seed: int = 0,
                 max_thresholds: int = 2000, max_strips: int = MAX_STRIPS, progress: bool = True) -> Path:
    # long: one section after the other, in the order a reader meets them
    """Write the HTML report of a results folder (default ``RESULTS/report.html``); returns its path.

    ``max_strips``: thumbnail strips per detector (its first misses and false alarms by run and
    time; the rest are counted), 0 for every one."""
    if isinstance(max_strips, bool) or not isinstance(max_strips, int) or max_strips < 0:
        raise ValueError(f"max_strips must be an integer >= 0 (0: every error); got {max_strips!r}")
    from eval.compare import Side, compare
    from eval.curves import summary_table, sweep_all
    from eval.operator_load import MAX_SHARE_OVER_LIMIT, operator_load, operators_needed
    from eval.plots import figure_png, robustness_plot
    from eval.policies import load_policies
    from eval.results_folder import ResultsFolder
    from eval.slices import appearance_slices, robustness, slices

    f = folder if isinstance(folder, ResultsFolder) else ResultsFolder(folder)
    path = Path(out) if out is not None else f.path / "report.html"
    policies = load_policies(policies_file) if policies_file else None
    board = leaderboard(f, policies, n_boot=n_boot, seed=seed)
    sweeps = sweep_all(f, min_durations_s=(), max_thresholds=max_thresholds, progress=progress)
    summary = summary_table(sweeps, n_boot=n_boot, seed=seed).to_pylist()
    roles = f.seeds_role()
    seeds = {role: sorted(s for s, r in roles.items() if r == role) for role in ("tuning", "held_out", "other")}
    h = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>stationwatch report: {_e(f.name)}"
         f"</title><style>{_CSS}</style></head><body>"]
    h.append(f"<h1>stationwatch report: {_e(f.name)}</h1>")
    n_ok = len(f.ok_runs)
    m = f.matching
    h.append(f'<p class="note">Results folder <code>{_e(os.fspath(f.path))}</code>; {n_ok} of {len(f.runs)} run(s) '
             f"ok; matching: spatial rule <b>{_e(m['spatial'])}</b>, {m['early_s']:g} s early, grace "
             f"{_e(m['grace_s'] if m['grace_s'] is not None else 'max latency of the type')}; NDCR = Pmiss + "
             f"FA/h / (10 x 1.8). Generated {time.strftime('%Y-%m-%d %H:%M')}.</p>")
    h.append("<p>Seeds: " + "; ".join(f"{role.replace('_', '-')}: {v if v else 'none'}" for role, v in seeds.items())
             + ('. <span class="badge">figures below come from every run of the folder; thresholds should be '
                "chosen on tuning seeds and judged on held-out seeds (sim/seeds.py)</span>" if seeds["other"] else ".")
             + "</p>")
    op = ("the thresholds of " + _e(policies_file)) if policies else "the thresholds the runs ran with"
    h.append(f"<h2>Leaderboard</h2><p class=\"note\">At {op}; 95 % intervals: Wilson for recall and precision, "
             f"a bootstrap over runs for false alarms per camera-hour, never narrower than the exact Poisson "
             f"interval of the pooled count.</p>")
    for t in sorted({r["type"] for r in board}, key=[e.value for e in EventType].index):
        rows, attrs = [], []
        for r in sorted((r for r in board if r["type"] == t), key=lambda r: (np.nan_to_num(r["ndcr"], nan=9e9))):
            cells = [r["detector"], f"{r['threshold']:.8g}" if r["threshold"] is not None else "(its own)",
                     str(r["n_instances"]), str(r["tp"]), str(r["fn"]), str(r["fp"]), str(r["duplicates"]),
                     fmt_interval(r["recall"], r["recall_lo"], r["recall_hi"]),
                     fmt_interval(r["precision"], r["precision_lo"], r["precision_hi"]),
                     fmt_interval(r["rfa_per_hour"], r["rfa_per_hour_lo"], r["rfa_per_hour_hi"], 1),
                     _num(r["latency_median_s"], 2), _num(r["ndcr"], 3)]
            names = ["detector", "threshold", "n_instances", "tp", "fn", "fp", "duplicates", "recall", "precision",
                     "rfa_per_hour", "latency_median_s", "ndcr"]
            attrs.append([f' data-type="{_e(t)}" data-detector="{_e(r["detector"])}" data-metric="{n}"'
                          for n in names])
            rows.append([_e(c) for c in cells])
        h.append(f"<h3>{_e(t)}</h3>" + _table(["detector", "threshold", "instances", "TP", "FN", "FP", "dup",
                                                "recall [95 %]", "precision [95 %]", "FA/camera-h [95 %]",
                                                "latency med [s]", "NDCR"], rows, attrs=attrs))
    h.append("<h2>Threshold sweep</h2><p class=\"note\">Every threshold replayed offline over the recorded scores "
             "(black boxes: their alerts thresholded on their score). Pm@x: the lowest Pmiss with at most x false "
             "alarms per camera-hour; nAUDC over [0, 1] per camera-hour; LaAP: AP averaged over latency budgets of "
             "1/4 .. 1 of the type's max latency. Intervals: a bootstrap over runs, the curve recomputed from each "
             "resample.</p>")
    names = ["p_miss_at_rfa_1", "p_miss_at_rfa_0.1", "p_miss_at_rfa_0.01", "naudc", "min_ndcr", "threshold_min_ndcr",
             "ap", "laap"]
    srows, sattrs = [], []
    for r in summary:
        srows.append([_e(r["detector"]), _e(r["type"]), f"{r['min_duration_s']:g} s"]
                     + [_num(r[n]) if n.startswith("threshold") else fmt_interval(r[n], r[f"{n}_lo"], r[f"{n}_hi"])
                        for n in names])
        sattrs.append(["", "", ""] + [f' data-type="{_e(r["type"])}" data-detector="{_e(r["detector"])}" '
                                      f'data-sweep-metric="{n}"' for n in names])
    h.append(_table(["detector", "type", "min duration", "Pm@1/h [95 %]", "Pm@0.1/h [95 %]", "Pm@0.01/h [95 %]",
                     "nAUDC [95 %]", "min NDCR [95 %]", "at threshold", "AP [95 %]", "LaAP [95 %]"], srows, left=2,
                    attrs=sattrs))
    h.append(_plots_section(f, sweeps))
    dets = f.detectors
    if len(dets) >= 2:
        h.append("<h2>Comparisons</h2><p class=\"note\">Paired on the same cells (same footage): A - B with a 95 % "
                 "interval from resampling the cells; the verdict reads it in the metric's good direction.</p>")
        for other in dets[1:]:
            try:
                rows = compare(Side(f, dets[0]), Side(f, other), n_boot=n_boot, seed=seed)
            except ValueError as exc:
                h.append(f'<p class="note">{_e(dets[0])} vs {_e(other)}: {_e(exc)}</p>')
                continue
            body = [[_e(r["type"]), _e(r["metric"]), _num(r["a"]), _num(r["b"]), _num(r["diff"]),
                     f"[{_num(r['lo'])}, {_num(r['hi'])}]",
                     f'<span class="{_e(r["verdict"].split()[0])}">{_e(r["verdict"])}</span>'] for r in rows]
            h.append(f"<h3>A = {_e(dets[0])}, B = {_e(other)} ({rows[0]['cells']} cells)</h3>"
                     + _table(["type", "metric", "A", "B", "A - B", "95 % interval", "verdict"], body, left=2))
    h.append("<h2>Slices</h2><p class=\"note\">As run. Recall with its Wilson interval, false alarms per camera-hour "
             "with a bootstrap over the slice's runs (at least the exact Poisson interval).</p>")
    sl = slices(f, n_boot=n_boot, seed=seed)
    body = [[_e(r["detector"]), _e(r["type"]), _e(r["variable"]), _e(r["value"]), str(r["runs"]),
             str(r["n_instances"]), fmt_interval(r["recall"], r["recall_lo"], r["recall_hi"]), str(r["fp"]),
             fmt_interval(r["rfa_per_hour"], r["rfa_per_hour_lo"], r["rfa_per_hour_hi"], 1),
             _num(r["latency_median_s"], 2)] for r in sl]
    h.append(_table(["detector", "type", "variable", "value", "runs", "instances", "recall [95 %]", "FP",
                     "FA/camera-h [95 %]", "latency med [s]"], body, left=4))
    ap = appearance_slices(f)
    if ap:
        body = [[_e(r["detector"]), _e(r["type"]), _e(r["group"]), str(r["n_instances"]),
                 fmt_interval(r["recall"], r["recall_lo"], r["recall_hi"]), _num(r["p_homogeneity"], 3)] for r in ap]
        h.append("<h3>Appearance groups (does a detector fail some groups of people more than others?)</h3>"
                 + _table(["detector", "type", "group", "instances", "recall [95 %]", "p (all groups equal)"], body,
                          left=3))
    rob = robustness(f, n_boot=n_boot, seed=seed)
    if rob:
        h.append("<h3>Robustness: each metric against the severity of each camera effect</h3><div class=\"plots\">")
        for metric in ("recall", "rfa_per_hour"):
            h.append(_img(figure_png(robustness_plot(rob, metric)), f"robustness {metric}"))
        h.append("</div>")
    h.append("<h2>Processing cost per camera</h2>")
    body = [[_e(r["detector"]), _e(r["camera"]), str(r["frames"]), _num(r["p50_ms"], 2), _num(r["p99_ms"], 2),
             _num(r["fps_per_core"], 0), _num(r["real_time_factor"], 3)] for r in processing_cost(f)]
    h.append(_table(["detector", "camera", "frames", "p50 [ms]", "p99 [ms]", "frames/s per core", "real-time factor"],
                    body, left=2))
    h.append(f"<h2>Operator load</h2><p class=\"note\">{n_cameras} cameras like these, {n_operators} operator(s), "
             f"{review_s:g} s to confirm or clear an alert; every alert (true, false, duplicate) of every type at {op}; "
             f"waits by Erlang C.</p>")
    body, loads, needed = [], {}, {}
    for det in dets:
        mine = [r for r in board if r["detector"] == det]
        secs = max((r["camera_hours"] for r in mine), default=0.0)
        rate = sum(r["alerts_per_hour"] for r in mine if not math.isnan(r["alerts_per_hour"])) if secs else math.nan
        if math.isnan(rate):
            continue
        load = loads[det] = operator_load(rate, n_cameras, n_operators, review_s)
        need = needed[det] = operators_needed(rate, n_cameras, review_s)
        body.append([_e(det), _num(rate, 2), _num(load.alerts_per_hour, 1), _num(load.alerts_per_operator_hour, 1),
                     _num(load.utilisation, 2), _num(load.mean_wait_s, 1), _num(100 * load.share_over_limit, 1),
                     str(need)])
    h.append(_table(["detector", "alerts per camera-h", "alerts per hour", "per operator-hour", "utilisation",
                     "mean wait [s]", "% waiting > 30 s",
                     f"operators for <= {100 * MAX_SHARE_OVER_LIMIT:g} % waiting > 30 s"], body))
    h.append("<h2>What went wrong: misses and false alarms</h2><p class=\"note\">As run; thumbnails of the footage "
             "around each moment (the nearest frame outlined).</p>")
    for det in dets:
        strips, total = _error_strips(f, det, max_strips or 10**9)
        h.append(f"<h3>{_e(det)}: {total} error(s)</h3>" + "".join(strips)
                 + (f'<p class="note">... and {total - len(strips)} more</p>' if total > len(strips) else ""))
    data = {"leaderboard": board, "sweep_summary": summary, "operator_load": {d: {**l.to_dict(), "operators_needed": needed[d]} for d, l in loads.items()},
            "seeds": seeds}
    h.append('<script type="application/json" id="report-data">'
             + json.dumps(_jsonable(data)).replace("</", "<\\/") + "</script>")
    h.append("</body></html>")
    from detectors.files import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(h))
    return path


def _jsonable(x):
    from eval.results import to_jsonable

    return to_jsonable(x)
