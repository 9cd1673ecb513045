"""Offline threshold sweeps: the alerts, matches and counts of every threshold, from recorded scores.

A grid records, for every in-process detector, the score of every event instance it saw in
every frame (``instance_scores.parquet``: a track in a zone, a zone; a detector that names
no instances is one instance per camera, key ``""``). :func:`sweep_counts` replays the alert
policy (:mod:`detectors.policy`: threshold, minimum duration, cooldown, one gate per
instance) over those rows at many thresholds at once (:mod:`eval.sweep_kernel`) and matches
each threshold's alerts to the ground truth with the rule of :func:`eval.matching.match`:

- an alert that can match no instance (outside every window, or its box overlaps none) is
  a false alarm;
- within a cluster of one instance (no other window overlaps its window), the earliest
  alert that can match it is the detection, its latency ``t - t_start``, the others
  duplicates;
- within a cluster of several instances, :func:`~eval.matching.match` itself assigns the
  alerts (once per distinct set of alerts, cached).

So the counts at a threshold are exactly those of replaying the policy at that threshold
and matching its alerts (``tests/test_sweep.py`` checks it on random streams). Rows of
runs without recorded scores (black boxes) are their recorded alerts: at threshold ``th``
the alerts with ``score >= th`` (the usual DET curve of a system's confidence).

:class:`SweepCounts` holds integer counts per threshold and (run, camera), and the latency of
every instance at every threshold; its methods divide once: Pmiss, false alarms per
camera-hour, precision, recall, median latency, NDCR, Pmiss at fixed false-alarm rates,
nAUDC, the latency-aware AP, with 95 % intervals (:mod:`eval.intervals`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from detectors.events import MAX_LATENCY_S, Alert, EventType
from detectors.policy import TIME_EPS_S
from eval.intervals import bootstrap_rate, wilson
from eval.matching import Instance, SpatialRule, _instance_boxes_at, _overlap, grace_for, match
from eval.metrics import DEFAULT_CONSTANTS, NDCRConstants

#: [1/h] false-alarm rates at which Pmiss is read off the DET curve
FIXED_RFA_PER_HOUR = (1.0, 0.1, 0.01)
#: [1/h] upper end of the false-alarm axis over which nAUDC averages Pmiss
AUDC_MAX_RFA_PER_HOUR = 1.0
#: latency budgets of the latency-aware AP, as fractions of the type's max latency
LAAP_BUDGETS = (0.25, 0.5, 0.75, 1.0)


class SweepError(ValueError):
    """Inputs a sweep cannot use; the message names the field."""


@dataclass(frozen=True)
class SweepGroup:
    """One (run, camera) stream group of a sweep: its scored time and scored instances."""

    run_id: str
    cell_id: str
    camera: str
    camera_s: float  #: [s] scored duration
    instances: tuple[Instance, ...] = ()
    gated: bool = True  #: True: rows are instance scores to replay; False: rows are recorded alerts


@dataclass(frozen=True)
class ScoreRows:
    """Recorded rows of one detector and event type: one per (group, instance key, frame).

    ``group`` (N,) indexes :class:`SweepGroup` s, ``key`` (N,) codes the instance key within
    the group, ``frame`` (N,) the frame index (consecutive frames of a key form one run of
    rows; a missing frame counts as below the threshold), ``t`` (N,) [s], ``score`` (N,)
    (nan: below), ``bbox`` (N, 4) [px] with nan rows where there is no box.
    """

    group: np.ndarray
    key: np.ndarray
    frame: np.ndarray
    t: np.ndarray
    score: np.ndarray
    bbox: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.group)
        for name in ("key", "frame", "t", "score"):
            if len(getattr(self, name)) != n:
                raise SweepError(f"ScoreRows.{name} must have {n} rows like group; got {len(getattr(self, name))}")
        if self.bbox.shape != (n, 4):
            raise SweepError(f"ScoreRows.bbox must be ({n}, 4); got {self.bbox.shape}")

    @classmethod
    def from_columns(cls, group, key, frame, t, score, bbox=None) -> "ScoreRows":
        n = len(group)
        box = np.full((n, 4), np.nan) if bbox is None else np.asarray(bbox, np.float64).reshape(n, 4)
        return cls(np.asarray(group, np.int64), np.asarray(key, np.int64), np.asarray(frame, np.int64),
                   np.asarray(t, np.float64), np.asarray(score, np.float64), box)


@dataclass(frozen=True)
class SweepPolicy:
    """The policy around the swept threshold."""

    min_duration_s: float = 0.0  #: [s]
    cooldown_s: float = 10.0  #: [s]


@dataclass(frozen=True)
class SweepCounts:
    """Counts of every threshold of a sweep; ratios are methods (count first, divide last).

    Arrays ``(T, G)``: ``n_alerts``, ``fp``, ``duplicates``, ``tp`` per threshold and group;
    ``latency_s`` ``(T, I)`` per threshold and instance (nan: missed); ``inst_group`` (I,)
    the group of each instance; ``n_instances`` (G,).
    """

    event_type: EventType
    thresholds: np.ndarray
    policy: SweepPolicy
    groups: tuple[SweepGroup, ...]
    n_alerts: np.ndarray
    fp: np.ndarray
    duplicates: np.ndarray
    tp: np.ndarray
    latency_s: np.ndarray
    inst_group: np.ndarray
    inst_ids: tuple[str, ...]
    detector: str = ""
    constants: NDCRConstants = DEFAULT_CONSTANTS
    meta: Mapping[str, Any] = field(default_factory=dict)

    # --- totals -------------------------------------------------------------------------------
    @property
    def n_instances(self) -> np.ndarray:
        return np.bincount(self.inst_group, minlength=len(self.groups)).astype(np.int64)

    @property
    def camera_s(self) -> np.ndarray:
        return np.array([g.camera_s for g in self.groups], np.float64)

    def _sel(self, groups: np.ndarray | None) -> np.ndarray:
        return np.ones(len(self.groups), bool) if groups is None else np.asarray(groups, bool)

    def totals(self, groups: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Counts summed over the selected groups (a boolean mask; default all), one per threshold."""
        m = self._sel(groups)
        n_inst = int(self.n_instances[m].sum())
        tp = self.tp[:, m].sum(axis=1)
        return {"n_instances": np.full(len(self.thresholds), n_inst, np.int64), "tp": tp, "fn": n_inst - tp,
                "fp": self.fp[:, m].sum(axis=1), "duplicates": self.duplicates[:, m].sum(axis=1),
                "n_alerts": self.n_alerts[:, m].sum(axis=1), "camera_s": float(self.camera_s[m].sum())}

    def rates(self, groups: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Per threshold: p_miss, recall, precision, rfa_per_hour, alerts_per_hour, ndcr (nan where undefined)."""
        c = self.totals(groups)
        hours = c["camera_s"] / 3600.0
        with np.errstate(invalid="ignore", divide="ignore"):
            n = c["n_instances"].astype(np.float64)
            recall = np.where(n > 0, c["tp"] / n, np.nan)
            p_miss = np.where(n > 0, c["fn"] / n, np.nan)
            decided = (c["tp"] + c["fp"]).astype(np.float64)
            precision = np.where(decided > 0, c["tp"] / np.where(decided > 0, decided, 1), np.nan)
            rfa = c["fp"] / hours if hours > 0 else np.full(len(self.thresholds), np.nan)
            alerts_h = c["n_alerts"] / hours if hours > 0 else np.full(len(self.thresholds), np.nan)
        ndcr = p_miss + self.constants.beta * rfa
        return {"p_miss": p_miss, "recall": recall, "precision": precision, "rfa_per_hour": rfa,
                "alerts_per_hour": alerts_h, "ndcr": ndcr}

    def latency_median_s(self, groups: np.ndarray | None = None) -> np.ndarray:
        """[s] Median latency of the detected instances at each threshold (nan: none detected)."""
        lat = self.latency_s[:, self._sel(groups)[self.inst_group]]
        out = np.full(len(self.thresholds), np.nan)
        have = ~np.all(np.isnan(lat), axis=1) if lat.shape[1] else np.zeros(len(out), bool)
        if have.any():
            out[have] = np.nanmedian(lat[have], axis=1)
        return out

    # --- intervals ---------------------------------------------------------------------------
    def intervals(self, *, n_boot: int = 1000, seed: int = 0, groups: np.ndarray | None = None,
                  confidence: float = 0.95) -> dict[str, np.ndarray]:
        """95 % intervals at each threshold: Wilson for p_miss, recall and precision; a bootstrap
        over runs (the groups of one run resampled together) for rfa_per_hour and alerts_per_hour
        (``n_boot`` 0: Wilson only, the rates' intervals nan)."""
        c = self.totals(groups)
        m = self._sel(groups)
        out = {}
        out["p_miss_lo"], out["p_miss_hi"] = wilson(c["fn"], c["n_instances"], confidence)
        out["recall_lo"], out["recall_hi"] = wilson(c["tp"], c["n_instances"], confidence)
        out["precision_lo"], out["precision_hi"] = wilson(c["tp"], c["tp"] + c["fp"], confidence)
        runs = np.array([g.run_id for g in self.groups])[m]
        _, run_of = np.unique(runs, return_inverse=True)
        n_runs = int(run_of.max()) + 1 if len(run_of) else 0
        per_run = lambda a: np.stack([a[:, m][:, run_of == r].sum(axis=1) for r in range(n_runs)], axis=1) \
            if n_runs else np.zeros((len(self.thresholds), 0))  # noqa: E731
        hours = np.bincount(run_of, weights=self.camera_s[m], minlength=n_runs) / 3600.0
        for name, arr in (("rfa_per_hour", self.fp), ("alerts_per_hour", self.n_alerts)):
            if n_boot <= 0:  # Wilson intervals only
                out[f"{name}_lo"] = out[f"{name}_hi"] = np.full(len(self.thresholds), np.nan)
                continue
            out[f"{name}_lo"], out[f"{name}_hi"] = bootstrap_rate(per_run(arr), hours, n_boot=n_boot, seed=seed,
                                                                  confidence=confidence)
        return out

    # --- summaries of the curve --------------------------------------------------------------------
    def det_points(self, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rfa_per_hour, p_miss) per threshold: the DET curve's points."""
        r = self.rates(groups)
        return r["rfa_per_hour"], r["p_miss"]

    def p_miss_at_rfa(self, rfa_per_hour: float, groups: np.ndarray | None = None) -> tuple[float, float]:
        """The lowest Pmiss among thresholds whose false-alarm rate is at most ``rfa_per_hour``
        (NIST's reading of a DET curve at a fixed rate), and the smallest such threshold."""
        rfa, pm = self.det_points(groups)
        return _p_miss_at(rfa, pm, self.thresholds, rfa_per_hour)

    def naudc(self, max_rfa_per_hour: float = AUDC_MAX_RFA_PER_HOUR, groups: np.ndarray | None = None) -> float:
        """Normalised area under the DET curve over false-alarm rates ``[0, max]`` per camera-hour
        (ActEV's nAUDC): the mean of ``Pmiss(x)``, the lowest Pmiss reachable with at most ``x``
        false alarms per hour; 1 for a detector that finds nothing, 0 for a perfect one."""
        rfa, pm = self.det_points(groups)
        return _naudc(rfa, pm, max_rfa_per_hour)

    def _on_time(self, budgets: Sequence[float]) -> np.ndarray:
        """``(F, T, G)``: per latency budget, threshold and group, the instances detected within
        ``budget * max latency of the type``."""
        max_lat = MAX_LATENCY_S[self.event_type]
        onehot = np.zeros((len(self.inst_group), len(self.groups)))
        onehot[np.arange(len(self.inst_group)), self.inst_group] = 1.0
        with np.errstate(invalid="ignore"):
            return np.stack([(self.latency_s <= f * max_lat + 1e-9).astype(np.float64) @ onehot for f in budgets]) \
                if len(budgets) else np.zeros((0, len(self.thresholds), len(self.groups)))

    def laap(self, budgets: Sequence[float] = LAAP_BUDGETS, groups: np.ndarray | None = None) -> float:
        """Latency-aware average precision, after LaAP (Liu et al. 2025): the mean over latency
        budgets ``L = f * max latency of the type`` of the AP of the precision-recall curve on
        which a detection later than ``L`` counts as a miss and its alert as a false alarm. A
        detector that alerts early keeps its AP at small budgets; one that alerts at the end of
        the matching window loses it."""
        c = self.totals(groups)
        w = self._sel(groups).astype(np.float64)
        return _laap(c["tp"], c["fp"], float(c["n_instances"][0]) if len(self.thresholds) else 0.0,
                     self._on_time(budgets) @ w)

    def summary(self, groups: np.ndarray | None = None) -> dict[str, float]:
        """The curve's headline figures: Pmiss at fixed rates, nAUDC, min NDCR and its threshold, LaAP, AP."""
        c = self.totals(groups)
        w = self._sel(groups).astype(np.float64)
        return _headline(self.thresholds, c["tp"], c["fp"], float(self.n_instances @ w), c["camera_s"] / 3600.0,
                         self._on_time(LAAP_BUDGETS) @ w, self.constants.beta)

    def summary_intervals(self, *, n_boot: int = 1000, seed: int = 0, groups: np.ndarray | None = None,
                          confidence: float = 0.95) -> dict[str, float]:
        """95 % intervals of the headline figures (``NAME_lo``, ``NAME_hi`` for each of
        :data:`HEADLINE`): a percentile bootstrap over runs (the groups of one run resampled
        together), the whole summary (thresholds read off the curve included) recomputed from
        each resample's pooled counts; nan with ``n_boot`` 0 or without runs."""
        m = self._sel(groups)
        out = {f"{k}_{e}": math.nan for k in HEADLINE for e in ("lo", "hi")}
        runs = np.array([g.run_id for g in self.groups], dtype=object)
        idx = np.flatnonzero(m)
        if n_boot <= 0 or not len(idx) or not len(self.thresholds):
            return out
        _, run_of = np.unique(runs[idx].astype(str), return_inverse=True)
        from eval.intervals import percentile_interval, resample_weights

        w_run = resample_weights(int(run_of.max()) + 1, n_boot, seed)  # (R, B)
        w = np.zeros((len(self.groups), n_boot))
        w[idx] = w_run[run_of]  # a run's groups carry its weight
        tp, fp = self.tp @ w, self.fp @ w  # (T, B)
        n_inst, hours = self.n_instances @ w, self.camera_s @ w / 3600.0
        on_time = self._on_time(LAAP_BUDGETS) @ w  # (F, T, B)
        beta = self.constants.beta
        samples = [_headline(self.thresholds, tp[:, b], fp[:, b], n_inst[b], hours[b], on_time[:, :, b], beta)
                   for b in range(n_boot)]
        for k in HEADLINE:
            lo, hi = percentile_interval(np.array([s[k] for s in samples]), confidence)
            out[f"{k}_lo"], out[f"{k}_hi"] = float(lo), float(hi)
        return out

    def latency_median_interval_s(self, groups: np.ndarray | None = None, confidence: float = 0.95
                                  ) -> tuple[np.ndarray, np.ndarray]:
        """[s] Distribution-free interval of the median latency at each threshold: the order
        statistics ``(l, n - l + 1)`` of the ``n`` detected instances' latencies with ``l`` the
        binomial(n, 1/2) quantile at ``(1 - confidence) / 2`` (the extreme latencies where n is
        too small for more); nan where nothing is detected."""
        from scipy.stats import binom

        lat = self.latency_s[:, self._sel(groups)[self.inst_group]]
        lo = np.full(len(self.thresholds), np.nan)
        hi = np.full(len(self.thresholds), np.nan)
        srt = np.sort(lat, axis=1)  # nan last
        n = np.sum(~np.isnan(lat), axis=1)
        for i in np.flatnonzero(n > 0):
            rank = max(int(binom.ppf((1 - confidence) / 2, n[i], 0.5)), 1)
            lo[i], hi[i] = srt[i, rank - 1], srt[i, n[i] - rank]
        return lo, hi

    def at(self, threshold: float) -> int:
        """Index of ``threshold`` among the swept thresholds (it must be one of them)."""
        k = np.flatnonzero(self.thresholds == threshold)
        if not len(k):
            raise SweepError(f"threshold {threshold!r} was not swept (thresholds {self.thresholds.min():g}.."
                             f"{self.thresholds.max():g}, {len(self.thresholds)} values)")
        return int(k[0])


#: the headline figures of a curve (:meth:`SweepCounts.summary`), each with a bootstrap interval
HEADLINE = tuple(f"p_miss_at_rfa_{x:g}" for x in FIXED_RFA_PER_HOUR) + ("naudc", "min_ndcr", "ap", "laap")


def _p_miss_at(rfa: np.ndarray, pm: np.ndarray, thresholds: np.ndarray, x: float) -> tuple[float, float]:
    ok = (rfa <= x + 1e-12) & ~np.isnan(pm)
    if not ok.any():
        return math.nan, math.nan
    best = np.flatnonzero(ok)[np.argmin(pm[ok])]
    same = np.flatnonzero(ok & (pm == pm[best]))
    k = same[np.argmin(thresholds[same])]
    return float(pm[k]), float(thresholds[k])


def _naudc(rfa: np.ndarray, pm: np.ndarray, max_rfa: float) -> float:
    """Area under the step function ``x -> lowest Pmiss with RFA <= x`` (1 below every point) over [0, max]."""
    ok = ~np.isnan(pm) & ~np.isnan(rfa)
    if not ok.any():
        return math.nan
    order = np.argsort(rfa[ok], kind="stable")
    rfa, best = rfa[ok][order], np.minimum.accumulate(pm[ok][order])
    xs = np.r_[0.0, rfa[(rfa > 0) & (rfa < max_rfa)], max_rfa]
    k = np.searchsorted(rfa, xs[:-1], side="right") - 1
    height = np.where(k < 0, 1.0, best[np.maximum(k, 0)])
    return float(np.sum(np.diff(xs) * height) / max_rfa)


def _laap(tp: np.ndarray, fp: np.ndarray, n: float, on_time: np.ndarray) -> float:
    """Mean over budgets of the AP where only detections on time count (``on_time`` (F, T))."""
    if n <= 0 or not len(on_time):
        return math.nan
    decided = tp + fp
    with np.errstate(invalid="ignore", divide="ignore"):
        aps = [average_precision(o / n, np.where(decided > 0, o / np.maximum(decided, 1e-300), np.nan))
               for o in on_time]
    return float(np.mean(aps))


def _headline(thresholds, tp, fp, n, hours, on_time, beta) -> dict[str, float]:
    """Pmiss at fixed rates (and their thresholds), nAUDC, min NDCR (and its threshold), AP, LaAP
    from pooled counts per threshold (``tp``, ``fp`` (T,), ``n`` instances, ``hours`` camera-hours)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / n if n > 0 else np.full(len(tp), np.nan)
        pm = 1.0 - recall
        decided = tp + fp
        precision = np.where(decided > 0, tp / np.where(decided > 0, decided, 1), np.nan)
        rfa = fp / hours if hours > 0 else np.full(len(tp), np.nan)
    out: dict[str, float] = {}
    for x in FIXED_RFA_PER_HOUR:
        out[f"p_miss_at_rfa_{x:g}"], out[f"threshold_at_rfa_{x:g}"] = _p_miss_at(rfa, pm, thresholds, x)
    out["naudc"] = _naudc(rfa, pm, AUDC_MAX_RFA_PER_HOUR)
    nd = pm + beta * rfa
    if np.isnan(nd).all():
        out["min_ndcr"], out["threshold_min_ndcr"] = math.nan, math.nan
    else:
        k = int(np.nanargmin(nd))
        out["min_ndcr"], out["threshold_min_ndcr"] = float(nd[k]), float(thresholds[k])
    out["ap"] = average_precision(recall, precision)
    out["laap"] = _laap(tp, fp, n, on_time)
    return out


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """AP of operating points: the area under the interpolated precision (the best precision at
    any recall at least as high), recall from 0; points with an undefined precision are skipped."""
    recall, precision = np.asarray(recall, np.float64), np.asarray(precision, np.float64)
    ok = ~np.isnan(recall) & ~np.isnan(precision)
    if not ok.any():
        return math.nan
    r, p = recall[ok], precision[ok]
    order = np.lexsort((-p, r))
    r, p = r[order], p[order]
    p_interp = np.maximum.accumulate(p[::-1])[::-1]
    ur, first = np.unique(r, return_index=True)
    pr = p_interp[first]
    widths = np.diff(np.r_[0.0, ur])
    return float(np.sum(widths * pr))


def default_thresholds(scores: np.ndarray, max_count: int = 2000, extra: Sequence[float] = ()) -> np.ndarray:
    """Thresholds worth sweeping: the distinct positive scores (every one if at most ``max_count``,
    else evenly spaced by rank), ``extra`` ones, and one above the highest score (no alerts)."""
    s = np.asarray(scores, np.float64)
    u = np.unique(s[np.isfinite(s) & (s > 0)])
    if len(u) > max_count:
        u = u[np.unique(np.round(np.linspace(0, len(u) - 1, max_count)).astype(np.int64))]
    top = float(u[-1]) if len(u) else 1.0
    above = np.nextafter(top, np.inf)
    extra = [float(x) for x in extra if math.isfinite(float(x)) and float(x) > 0]
    return np.unique(np.r_[u, extra, above])


# --- the sweep itself -----------------------------------------------------------------------------------


def _streams(rows: ScoreRows, groups: Sequence[SweepGroup]):
    """Sorted rows and the extended arrays: a -inf sentinel before every run of consecutive frames
    and after every stream, so that no run crosses a gap or a stream boundary."""
    order = np.lexsort((rows.frame, rows.key, rows.group))
    grp, key, frame = rows.group[order], rows.key[order], rows.frame[order]
    n = len(order)
    gated_group = np.array([g.gated for g in groups], bool)
    new_stream = np.ones(n, bool)
    if n:
        new_stream[1:] = (grp[1:] != grp[:-1]) | (key[1:] != key[:-1])
        ungated = ~gated_group[grp]
        new_stream |= ungated  # a recorded alert is a stream of its own
    gap = np.zeros(n, bool)
    if n:
        gap[1:] = frame[1:] != frame[:-1] + 1
    seg_start = new_stream | gap
    stream_idx = np.cumsum(new_stream) - 1
    ext_idx = np.arange(n) + np.cumsum(seg_start) + stream_idx
    m = int(ext_idx[-1]) + 2 if n else 0
    first = np.flatnonzero(new_stream)
    last = np.r_[first[1:] - 1, n - 1] if n else np.zeros(0, np.int64)
    starts = ext_idx[first] - 1
    ends = ext_idx[last] + 2
    return order, ext_idx, m, starts, ends, grp[first], gated_group[grp[first]] if n else np.zeros(0, bool)


def sweep_counts(rows: ScoreRows, groups: Sequence[SweepGroup], event_type: EventType | str,
                 thresholds: Sequence[float], policy: SweepPolicy = SweepPolicy(), *, early_s: float = 1.0,
                 grace_s: float | Mapping[EventType, float] | None = None,
                 spatial: SpatialRule | str = SpatialRule.ALERT_TIME, detector: str = "",
                 constants: NDCRConstants = DEFAULT_CONSTANTS) -> SweepCounts:
    # long: the streams, what each row can match, the kernel and the tallies share their arrays
    """Replay the policy at every threshold and match the alerts (see the module docstring).

    ``thresholds`` must be finite and > 0 (a gate at a threshold <= 0 would hold instances
    that are absent: no score is recorded for them); they are sorted and made unique.
    """
    from eval.sweep_kernel import build_forest, sweep_streams, window_min

    etype = EventType.parse(event_type, field="event_type")
    th = np.asarray(thresholds, np.float64).reshape(-1)
    if not len(th) or not np.all(np.isfinite(th)) or np.any(th <= 0):
        bad = th[~(np.isfinite(th) & (th > 0))]
        raise SweepError(f"thresholds must be finite numbers > 0; got {bad[:3].tolist() if len(bad) else 'none'}")
    th = np.unique(th)  # ascending: the kernel stops at the first threshold above a stream's best score
    for name in ("min_duration_s", "cooldown_s"):
        v = getattr(policy, name)
        if not (math.isfinite(v) and v >= 0):
            raise SweepError(f"policy.{name} must be a finite number of seconds >= 0; got {v!r}")
    if len(rows.group) and (rows.group.min() < 0 or rows.group.max() >= len(groups)):
        raise SweepError(f"rows.group must index the {len(groups)} groups; got values {rows.group.min()}.."
                         f"{rows.group.max()}")
    spatial = SpatialRule.parse(spatial)
    grace = grace_for(etype, grace_s)
    order, ext_idx, m, starts, ends, stream_group, gated = _streams(rows, groups)
    t_sorted = rows.t[order]
    s_sorted = np.where(np.isnan(rows.score[order]), -np.inf, rows.score[order])
    t_ext = np.zeros(m)
    s_ext = np.full(m, -np.inf)
    real = np.zeros(m, bool)
    t_ext[ext_idx] = t_sorted
    s_ext[ext_idx] = s_sorted
    real[ext_idx] = True
    # sentinels take the time of the row before them (the first row's time at a stream's start)
    last_real = np.maximum.accumulate(np.where(real, np.arange(m), 0))
    t_ext = t_ext[last_real]
    t_ext[starts] = t_ext[starts + 1] if len(starts) else t_ext[starts]
    g = window_min(s_ext, t_ext, starts, ends, float(policy.min_duration_s) - TIME_EPS_S)
    if (~gated).any():
        for k in np.flatnonzero(~gated):
            g[starts[k]:ends[k]] = s_ext[starts[k]:ends[k]]
    gmax = np.maximum.reduceat(g, starts) if len(starts) else np.zeros(0)
    starts64, ends64 = starts.astype(np.int64), ends.astype(np.int64)
    g_forest, offsets, sizes = build_forest(g, starts64, ends64, True)
    s_forest, _, _ = build_forest(s_ext, starts64, ends64, False)

    # what each extended row can match
    inst_list: list[Instance] = []
    inst_group: list[int] = []
    row_inst = np.full(m, -1, np.int64)
    row_multi = np.full(m, -1, np.int64)
    clusters: list[tuple[int, np.ndarray]] = []  # (group, global instance indices)
    grp_sorted = rows.group[order]
    bounds = np.searchsorted(grp_sorted, np.arange(len(groups) + 1))
    box_sorted = rows.bbox[order]
    for gi, grp_info in enumerate(groups):
        insts = [x for x in grp_info.instances]
        base = len(inst_list)
        inst_list += insts
        inst_group += [gi] * len(insts)
        if not insts:
            continue
        ts = np.array([x.t_start for x in insts])
        lo = ts - early_s
        hi = np.array([x.t_end for x in insts]) + grace
        by_lo = np.argsort(lo, kind="stable")
        reach = np.maximum.accumulate(hi[by_lo])
        new_cluster = np.r_[True, lo[by_lo][1:] > reach[:-1]]
        cid = np.cumsum(new_cluster) - 1
        r0, r1 = bounds[gi], bounds[gi + 1]
        rt, rbox, rext = t_sorted[r0:r1], box_sorted[r0:r1], ext_idx[r0:r1]
        onset = np.array([x.bbox if x.bbox is not None else (np.nan,) * 4 for x in insts], np.float64).reshape(-1, 4)
        for c in range(int(cid[-1]) + 1):
            members = by_lo[cid == c]
            clo, chi = lo[members].min(), hi[members].max()
            sel = np.flatnonzero((rt >= clo) & (rt <= chi))
            if not len(sel):
                continue
            t_sel = rt[sel]
            feas = (t_sel[:, None] >= lo[members][None, :]) & (t_sel[:, None] <= hi[members][None, :])
            if spatial is SpatialRule.ALERT_TIME:
                boxes = _instance_boxes_at(insts, members, onset, t_sel)
                feas &= _overlap(rbox[sel][:, None, :], boxes)
            elif spatial is SpatialRule.ONSET:
                feas &= _overlap(rbox[sel][:, None, :], onset[members][None, :, :])
            any_f = feas.any(axis=1)
            if len(members) == 1 or not (feas.sum(axis=1) > 1).any():
                # every alert can match one instance at most: instances apart, each its earliest alert
                which = np.argmax(feas, axis=1)
                row_inst[rext[sel[any_f]]] = base + members[which[any_f]]
            else:
                row_multi[rext[sel[any_f]]] = len(clusters)
                clusters.append((gi, base + members))
    n_t, n_g, n_i = len(th), len(groups), len(inst_list)
    n_alerts = np.zeros((n_t, n_g), np.int64)
    fa = np.zeros((n_t, n_g), np.int64)
    first_t = np.full((n_t, n_i), np.inf)
    n_feas = np.zeros((n_t, n_i), np.int64)
    cap = int(min(20_000_000, max(4096, 3 * n_t * len(clusters))))
    while True:
        multi_thr = np.zeros(cap, np.int64)
        multi_row = np.zeros(cap, np.int64)
        n_alerts[:] = 0
        fa[:] = 0
        first_t[:] = np.inf
        n_feas[:] = 0
        n_multi = sweep_streams(th, t_ext, g_forest, s_forest, offsets, sizes, starts64, ends64,
                                stream_group.astype(np.int64), gmax, gated, float(policy.cooldown_s) - TIME_EPS_S,
                                row_inst, row_multi, n_alerts, fa, first_t, n_feas, multi_thr, multi_row)
        if n_multi <= cap:
            break
        cap = n_multi
    inst_group_a = np.asarray(inst_group, np.int64)
    t_start = np.array([x.t_start for x in inst_list], np.float64)
    found = n_feas > 0
    latency = np.where(found, first_t - t_start[None, :], np.nan)
    tp = np.zeros((n_t, n_g), np.int64)
    dup = np.zeros((n_t, n_g), np.int64)
    for j in range(n_i):
        tp[:, inst_group_a[j]] += found[:, j]
        dup[:, inst_group_a[j]] += np.where(found[:, j], n_feas[:, j] - 1, 0)
    if n_multi:
        _assign_clusters(multi_thr[:n_multi], multi_row[:n_multi], row_multi, clusters, inst_list, t_ext,
                         s_ext, ext_idx, order, rows, groups, etype, early_s, grace_s, spatial, tp, dup, fa,
                         latency)
    if not np.array_equal(n_alerts, tp + fa + dup):  # pragma: no cover - a broken invariant, not an input error
        raise AssertionError("sweep: alerts != tp + fp + duplicates")
    return SweepCounts(event_type=etype, thresholds=th, policy=policy, groups=tuple(groups), n_alerts=n_alerts,
                       fp=fa, duplicates=dup, tp=tp, latency_s=latency, inst_group=inst_group_a,
                       inst_ids=tuple(x.id for x in inst_list), detector=detector, constants=constants)


def _assign_clusters(m_thr, m_row, row_multi, clusters, inst_list, t_ext, s_ext, ext_idx, order, rows, groups,
                     etype, early_s, grace_s, spatial, tp, dup, fa, latency) -> None:
    """Clusters of several instances: :func:`eval.matching.match` on each distinct set of alerts."""
    inv = np.full(len(t_ext), -1, np.int64)
    inv[ext_idx] = order  # extended row -> original row
    cl = row_multi[m_row]
    key_order = np.lexsort((m_row, cl, m_thr))
    m_thr, m_row, cl = m_thr[key_order], m_row[key_order], cl[key_order]
    split = np.flatnonzero(np.r_[True, (m_thr[1:] != m_thr[:-1]) | (cl[1:] != cl[:-1]), True])
    cache: dict[tuple, tuple] = {}
    for a, b in zip(split[:-1], split[1:]):
        i, c = int(m_thr[a]), int(cl[a])
        rws = tuple(int(r) for r in m_row[a:b])
        key = (c, rws)
        res = cache.get(key)
        gi, members = clusters[c]
        if res is None:
            cam = groups[gi].camera
            alerts = []
            for r in rws:
                o = inv[r]
                box = rows.bbox[o]
                alerts.append(Alert(camera=cam, type=etype, t=float(rows.t[o]), score=float(rows.score[o]),
                                    bbox=None if np.isnan(box).any() else tuple(box.tolist())))
            mr = match(alerts, [inst_list[j] for j in members], early_s=early_s, grace_s=grace_s, spatial=spatial)
            res = cache[key] = (mr.pairs[:, 1].copy(), mr.latency_s.copy(), mr.n_duplicates, mr.fp)
        cols, lats, n_dup, n_fp = res
        tp[i, gi] += len(cols)
        dup[i, gi] += n_dup
        fa[i, gi] += n_fp
        latency[i, members[cols]] = lats
