"""Figures for reports: score timelines, annotated frames, and the decision plots (DET,
precision-recall, latency against threshold, robustness against camera effects).

matplotlib is used through its object-oriented API with the Agg canvas created inside
the function (no pyplot, no global backend switch), so importing this module costs
nothing and plotting works headless. Files are written atomically.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from detectors.events import Alert, EventType
from eval.matching import Instance, Outcome, grace_for, match
from eval.timing import _column_names
from eval.metrics import Metrics, compute_metrics, counts_from_match
from eval.results import write_bytes_atomic

#: Colours (matplotlib names) of alert outcomes in the timeline.
OUTCOME_STYLE: dict[Outcome, tuple[str, str, str]] = {
    Outcome.TRUE_POSITIVE: ("tab:green", "o", "matched alert"),
    Outcome.FALSE_ALARM: ("tab:red", "X", "false alarm"),
    Outcome.DUPLICATE: ("tab:orange", "s", "duplicate"),
}
SCORE_COLOUR = "tab:blue"


@dataclass(frozen=True)
class TimelinePlot:
    """What :func:`timeline_plot` wrote, with the mapping from data to image pixels."""

    path: str
    size_px: tuple[int, int]  #: (width, height) of the PNG
    axes_px: tuple[float, float, float, float]  #: (left, top, right, bottom) of the plot area, y down
    xlim: tuple[float, float]  #: [s]
    ylim: tuple[float, float]  #: score
    metrics: Metrics  #: of this event type over the plotted cameras
    outcomes: np.ndarray  #: Outcome per plotted alert, in the order of ``alerts`` filtered to the type

    def data_to_px(self, t, score) -> tuple[np.ndarray, np.ndarray]:
        """Image pixel coordinates (column, row; row 0 at the top) of data points (t [s], score)."""
        left, top, right, bottom = self.axes_px
        x = left + (np.asarray(t, float) - self.xlim[0]) / (self.xlim[1] - self.xlim[0]) * (right - left)
        y = bottom - (np.asarray(score, float) - self.ylim[0]) / (self.ylim[1] - self.ylim[0]) * (bottom - top)
        return x, y


def _columns(table: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Columns of a pyarrow Table, pandas DataFrame or mapping of arrays as numpy arrays."""
    have = _column_names(table)
    out = {}
    for name in names:
        if name not in have:
            continue
        col = table.column(name) if hasattr(table, "column_names") else table[name]
        if name in ("type", "camera"):  # strings, possibly dictionary-encoded or categorical
            values = col.to_pylist() if hasattr(col, "to_pylist") else list(col)
            out[name] = np.asarray([str(v) for v in values], dtype=object)
        else:
            out[name] = np.asarray(col.to_numpy() if hasattr(col, "to_numpy") else col, dtype=np.float64)
    missing = [n for n in ("t", "type", "score") if n not in out]
    if missing:
        raise ValueError(f"scores_table must have columns t, type, score; missing {missing}; got {have}")
    return out


def _fmt(v: float, digits: int) -> str:
    return "-" if math.isnan(v) else f"{v:.{digits}f}"


def timeline_plot(scores_table: Any, threshold: float, alerts: Sequence[Alert], instances: Sequence[Instance],
                  event_type: EventType | str, path: str | os.PathLike, *, camera: str | None = None,
                  duration_s: float | Mapping[str, float] | None = None, early_s: float = 1.0,
                  grace_s: float | Mapping[EventType, float] | None = None, require_overlap: bool = True,
                  size_px: tuple[int, int] = (1200, 400), dpi: int = 100, title: str | None = None) -> TimelinePlot:
    """Plot one event type's score over time against ground truth and save a PNG atomically.

    ``scores_table`` (pyarrow Table, pandas DataFrame or mapping of arrays) has columns
    ``t`` [s], ``type`` (event type value) and ``score``, and optionally ``camera``. Rows,
    alerts and instances are restricted to ``event_type`` (and ``camera`` when given).
    Drawn: the score (one line per camera), the threshold dashed, ground-truth intervals
    ``[t_start, t_end]`` shaded (their matching windows more lightly), alerts at (t, score) coloured by outcome (matched, false
    alarm, duplicate, from :func:`eval.matching.match` with the given window settings).
    The title gives precision, recall and false alarms per camera-hour over
    ``duration_s`` [s] per camera (default: the span of the score times plus one step).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    etype = EventType.parse(event_type, field="event_type")
    cols = _columns(scores_table, ("t", "type", "score", "camera"))
    keep = cols["type"].astype(str) == etype.value
    if camera is not None and "camera" in cols:
        keep &= cols["camera"].astype(str) == camera
    t = cols["t"][keep].astype(np.float64)
    score = cols["score"][keep].astype(np.float64)
    cams_col = cols["camera"][keep].astype(str) if "camera" in cols else None
    sel_alerts = [a for a in alerts if a.type == etype and (camera is None or a.camera == camera)]
    sel_inst = [x for x in instances if x.type == etype and (camera is None or x.camera == camera)]

    cameras = set(a.camera for a in sel_alerts) | set(x.camera for x in sel_inst)
    if cams_col is not None:
        cameras |= set(cams_col.tolist())
    if camera is not None:
        cameras = {camera}
    if duration_s is None:
        if t.size:
            ut = np.unique(t)
            step = float(np.median(np.diff(ut))) if ut.size > 1 else 0.0
            duration_s = float(ut[-1] - ut[0]) + step
        else:
            duration_s = 0.0
    result = match(sel_alerts, sel_inst, early_s=early_s, grace_s=grace_s, require_overlap=require_overlap)
    counts = counts_from_match(result, sel_alerts, sel_inst, duration_s, sorted(cameras))
    metrics = compute_metrics(counts.tally(etype), sum(counts.camera_s.values()), event_type=etype,
                              n_streams=counts.n_streams)
    outcomes = result.alert_outcomes()

    width, height = int(size_px[0]), int(size_px[1])
    if width < 100 or height < 100:
        raise ValueError(f"size_px must be at least (100, 100) pixels; got {size_px!r}")
    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if cams_col is not None and len(set(cams_col.tolist())) > 1:
        for k, cam in enumerate(sorted(set(cams_col.tolist()))):
            m = cams_col == cam
            order = np.argsort(t[m], kind="stable")
            ax.plot(t[m][order], score[m][order], lw=1.2, label=f"score {cam}", color=f"C{k}" if k else SCORE_COLOUR)
    else:
        order = np.argsort(t, kind="stable")
        ax.plot(t[order], score[order], lw=1.2, color=SCORE_COLOUR, label="score")
    ax.axhline(float(threshold), ls="--", lw=1.0, color="black", label=f"threshold {float(threshold):g}")
    a_t = np.array([a.t for a in sel_alerts], dtype=np.float64)
    a_s = np.array([a.score for a in sel_alerts], dtype=np.float64)
    all_t = np.concatenate([t, a_t, [x.t_start for x in sel_inst], [x.t_end for x in sel_inst]])
    all_t = all_t[np.isfinite(all_t)]  # an event that never ended has t_end = inf
    x0, x1 = (float(all_t.min()), float(all_t.max())) if all_t.size else (0.0, 1.0)
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    for k, x in enumerate(sel_inst):
        window_end = min(x.t_end + grace_for(etype, grace_s), x1)
        ax.axvspan(x.t_start - early_s, window_end, color="tab:green", alpha=0.07, lw=0,
                   label="matching window" if k == 0 else None)
        ax.axvspan(x.t_start, min(x.t_end, x1), color="tab:green", alpha=0.18, lw=0,
                   label="ground truth" if k == 0 else None)
    for outcome, (colour, marker, label) in OUTCOME_STYLE.items():
        m = outcomes == outcome
        if m.any():
            ax.scatter(a_t[m], a_s[m], c=colour, marker=marker, s=36, zorder=3, edgecolors="black",
                       linewidths=0.5, label=f"{label} ({int(m.sum())})")
    all_s = np.concatenate([score, a_s, [float(threshold)]])
    y0, y1 = float(all_s.min()), float(all_s.max())
    pad = 0.05 * (y1 - y0) if y1 > y0 else 0.5
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_xlabel("time [s]")
    ax.set_ylabel("score")
    where = camera if camera is not None else (", ".join(sorted(cameras)) or "no camera")
    ax.set_title(title or (f"{etype.value} ({where}): P = {_fmt(metrics.precision, 2)}, "
                           f"R = {_fmt(metrics.recall, 2)}, FA/h = {_fmt(metrics.rfa_per_hour, 1)} "
                           f"(TP {metrics.tp}, FN {metrics.fn}, FP {metrics.fp}, dup {metrics.duplicates})"),
                 fontsize=10)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.8, bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.grid(True, alpha=0.3)
    fig.subplots_adjust(left=0.06, right=0.82, top=0.88, bottom=0.14)

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    write_bytes_atomic(path, buf.getvalue())
    bbox = ax.get_window_extent()
    fw, fh = fig.canvas.get_width_height()
    axes_px = (float(bbox.x0), float(fh - bbox.y1), float(bbox.x1), float(fh - bbox.y0))
    return TimelinePlot(path=os.fspath(path), size_px=(int(fw), int(fh)), axes_px=axes_px, xlim=ax.get_xlim(),
                        ylim=ax.get_ylim(), metrics=metrics, outcomes=outcomes)


def _draw_label(img: np.ndarray, text: str, x: int, y_above: int, y_below: int, colour: tuple[int, int, int],
                below: bool = False) -> None:
    """A filled label just above ``y_above`` (or below ``y_below``), moved to the other side if it leaves the image."""
    import cv2

    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    height = th + base + 2
    above_top, below_top = y_above - height, y_below + 1
    if below:
        y_top = below_top if below_top + height <= img.shape[0] else above_top
    else:
        y_top = above_top if above_top >= 0 else below_top
    cv2.rectangle(img, (x, y_top), (x + tw + 4, y_top + th + base + 2), colour, thickness=-1)
    cv2.putText(img, text, (x + 2, y_top + th + 1), font, scale, (255, 255, 255), thick, cv2.LINE_AA)


def annotated_frame(image: np.ndarray, alerts_at_frame: Iterable[Alert],
                    instances_boxes: Iterable[Instance | tuple[str, Sequence[float]]],
                    path: str | os.PathLike | None = None) -> np.ndarray:
    """Draw alert boxes (red, ``type score`` below) and ground-truth boxes (green, label above) on a copy.

    ``image`` is BGR uint8 (H, W, 3). ``instances_boxes`` holds :class:`Instance` objects
    (their onset box, labelled ``GT type id``) or ``(label, [x, y, w, h])`` pairs. Alerts
    without a box are listed in the top-left corner. Saves a PNG atomically when ``path``
    is given; returns the annotated image.
    """
    import cv2

    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image must be BGR uint8 of shape (H, W, 3); got {img.dtype} {img.shape}")
    out = np.ascontiguousarray(img.copy())
    gt_colour, alert_colour = (0, 170, 0), (0, 0, 230)
    for k, item in enumerate(instances_boxes):
        if isinstance(item, Instance):
            if item.bbox is None:
                continue
            label, box = f"GT {item.type.value} {item.id}", item.bbox
        else:
            try:
                label, box = item
                box = [float(v) for v in box]
            except (TypeError, ValueError):
                raise ValueError(f"instances_boxes[{k}] must be an Instance or (label, [x, y, w, h]); "
                                 f"got {item!r}") from None
            if len(box) != 4:
                raise ValueError(f"instances_boxes[{k}] box must be [x, y, w, h]; got {box!r}")
        x, y, w, h = (int(round(v)) for v in box)
        cv2.rectangle(out, (x, y), (x + w, y + h), gt_colour, 2)
        _draw_label(out, str(label), x, y, y + h, gt_colour)
    unplaced = []
    for a in alerts_at_frame:
        text = f"{a.type.value} {a.score:.2f}"
        if a.bbox is None:
            unplaced.append(text)
            continue
        x, y, w, h = (int(round(v)) for v in a.bbox)
        cv2.rectangle(out, (x, y), (x + w, y + h), alert_colour, 2)
        _draw_label(out, text, x, y, y + h, alert_colour, below=True)  # below: GT labels sit above
    for k, text in enumerate(unplaced):
        _draw_label(out, f"alert: {text}", 4, 20 * (k + 1), 20 * (k + 1), alert_colour)
    if path is not None:
        ok, png = cv2.imencode(".png", out)
        if not ok:
            raise RuntimeError(f"cv2.imencode could not encode a PNG for {os.fspath(path)!r}")
        write_bytes_atomic(path, png.tobytes())
    return out


# --- decision plots: DET, precision-recall, latency against threshold, robustness -------------------------

#: [1/h] false-alarm rates marked on DET plots
DET_MARKS_PER_HOUR = (1.0, 0.1, 0.01)


def _figure(size_in: tuple[float, float] = (6.4, 4.4)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size_in, dpi=100)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig, dpi: int = 100) -> bytes:
    """PNG bytes of a figure (for HTML reports)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _finish(fig, path):
    if path is not None:
        write_bytes_atomic(path, figure_png(fig))
    return fig


def _label(s) -> str:
    md = f", min duration {s.policy.min_duration_s:g} s" if s.policy.min_duration_s else ""
    return f"{s.detector or 'detector'} ({s.event_type.value}{md})"


def det_plot(sweeps: Sequence[Any], path: str | os.PathLike | None = None, *, floor: float = 1e-3,
             title: str | None = None, operating: Mapping[str, float] | None = None):
    """DET curves (Pmiss against false alarms per camera-hour, both on log scales) of
    :class:`eval.sweep.SweepCounts`, with the 95 % Wilson band of Pmiss and the fixed rates
    1, 0.1 and 0.01 per hour dashed. Zeros are drawn at ``floor`` (the axis says so).
    ``operating``: label -> threshold to mark on the curve of that label (e.g. as run).
    Returns the matplotlib Figure (saved as PNG when ``path`` is given)."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for k, s in enumerate(sweeps):
        r = s.rates()
        iv = s.intervals(n_boot=0)
        lo, hi = iv["p_miss_lo"], iv["p_miss_hi"]
        x = np.maximum(r["rfa_per_hour"], floor)
        order = np.lexsort((r["p_miss"], x))
        x, y = x[order], np.maximum(r["p_miss"][order], floor)
        colour = f"C{k}"
        ax.step(x, y, where="post", color=colour, lw=1.6, label=_label(s))
        ax.fill_between(x, np.maximum(lo[order], floor), np.maximum(hi[order], floor), step="post", color=colour,
                        alpha=0.15, lw=0)
        th = (operating or {}).get(_label(s))
        if th is not None and np.any(s.thresholds == th):
            i = s.at(th)
            ax.plot(max(r["rfa_per_hour"][i], floor), max(r["p_miss"][i], floor), "o", color=colour, ms=7,
                    mec="black", label=f"as run (threshold {th:g})")
    for v in DET_MARKS_PER_HOUR:
        ax.axvline(v, ls="--", lw=0.8, color="grey")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"false alarms per camera-hour (log; 0 drawn at {floor:g})")
    ax.set_ylabel(f"Pmiss (log; 0 drawn at {floor:g})")
    ax.set_ylim(floor * 0.8, 1.2)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title or "DET curve (95 % Wilson band on Pmiss)", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return _finish(fig, path)


def pr_plot(sweeps: Sequence[Any], path: str | os.PathLike | None = None, *, title: str | None = None):
    """Precision against recall over the swept thresholds, one curve per sweep."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for k, s in enumerate(sweeps):
        r = s.rates()
        ok = ~np.isnan(r["precision"]) & ~np.isnan(r["recall"])
        order = np.argsort(s.thresholds[ok])[::-1]
        ax.plot(r["recall"][ok][order], r["precision"][ok][order], "-o", ms=2.5, color=f"C{k}", label=_label(s))
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.grid(True, alpha=0.3)
    ax.set_title(title or "precision-recall over thresholds", fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return _finish(fig, path)


def latency_plot(sweeps: Sequence[Any], path: str | os.PathLike | None = None, *, title: str | None = None):
    """Median detection latency [s] of the detected instances against the threshold, with its 95 %
    order-statistic band (:meth:`eval.sweep.SweepCounts.latency_median_interval_s`)."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for k, s in enumerate(sweeps):
        med = s.latency_median_s()
        lo, hi = s.latency_median_interval_s()
        ok = ~np.isnan(med)
        ax.step(s.thresholds[ok], med[ok], where="post", color=f"C{k}", label=_label(s))
        ax.fill_between(s.thresholds[ok], lo[ok], hi[ok], step="post", color=f"C{k}", alpha=0.15, lw=0)
    ax.set_xlabel("threshold")
    ax.set_ylabel("median latency [s]")
    ax.grid(True, alpha=0.3)
    ax.set_title(title or "median detection latency against threshold (95 % band)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _finish(fig, path)


def robustness_plot(rows: Sequence[Mapping[str, Any]], metric: str, path: str | os.PathLike | None = None, *,
                    title: str | None = None):
    """A metric against the severity of each camera effect, one line per detector.

    ``rows``: mappings with ``detector``, ``variable`` (an effect, e.g. ``render_noise_std``),
    ``value`` (its severity, or a named level with its rank in ``severity``, as lighting), ``metric``
    and the metric's ``{metric}_lo`` / ``{metric}_hi`` (:func:`eval.slices.robustness`). One panel
    per variable."""
    variables = sorted({r["variable"] for r in rows})
    n = max(1, len(variables))
    fig = _figure((4.2 * n, 3.4))
    dets = sorted({r["detector"] for r in rows})
    for p, var in enumerate(variables or ["(no effect varies)"]):
        ax = fig.add_subplot(1, n, p + 1)
        of_var = [r for r in rows if r["variable"] == var]
        named = any(not isinstance(r["value"], (int, float)) or isinstance(r["value"], bool) for r in of_var)
        for k, det in enumerate(dets):
            pts = sorted((float(r.get("severity", r["value"])), r[metric], r.get(f"{metric}_lo"), r.get(f"{metric}_hi"))
                         for r in of_var if r["detector"] == det)
            if not pts:
                continue
            x, y, lo, hi = (np.array([p_[i] if p_[i] is not None else np.nan for p_ in pts], float) for i in range(4))
            ax.errorbar(x, y, yerr=[np.maximum(y - lo, 0), np.maximum(hi - y, 0)], fmt="-o", ms=4, capsize=3,
                        color=f"C{k}", label=det)
        if named:  # named levels (lighting): ticks at their ranks
            ticks = sorted({(float(r["severity"]), str(r["value"])) for r in of_var})
            ax.set_xticks([t for t, _ in ticks], [v for _, v in ticks])
        ax.set_xlabel(var.removeprefix("render_"))
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
        if p == 0:
            ax.legend(fontsize=7)
    fig.suptitle(title or f"{metric} against camera-effect severity (95 %)", fontsize=10)
    fig.tight_layout()
    return _finish(fig, path)
