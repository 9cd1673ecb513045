"""Detection metrics from integer counts: precision, recall, Pmiss, false alarms per camera-hour, NDCR.

Count first, divide last: :func:`count` turns one sequence's alerts and ground truth into
:class:`Counts` (integer tallies per camera and event type, plus scored seconds per
camera); counts of several sequences add with ``+``; :func:`metrics_table` divides once
at the end. A ratio whose denominator is zero is ``nan`` and the row's ``undefined``
mapping says why.

Definitions (NIST TRECVID SED / ActEV practice):

- precision = TP / (TP + FP); recall = TP / instances; F1 = 2 TP / (2 TP + FP + FN).
  Duplicates are neither TP nor FP: they count only in operator load.
- Pmiss = FN / instances; RFA = FP / camera-hours (also per camera-minute).
- latency = assigned alert time - t_start [s]: median, p90 (numpy's linear
  interpolation), max.
- NDCR = Pmiss + beta * RFA_per_hour with beta = CostFA / (CostMiss * Rtarget).

A camera scored for one hour contributes one camera-hour to every event type's row and
once (not once per type) to the ``all`` row, whose counts are summed over types (micro
average): its RFA is the operator's view of all false alarms on the screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from detectors.events import Alert, EventType
from eval.matching import Instance, MatchResult, SpatialRule, match

ALL = "all"  #: label of the row summed over event types


@dataclass(frozen=True, slots=True, kw_only=True)
class NDCRConstants:
    """Costs of the NIST detection cost rate; defaults are TRECVID SED's."""

    cost_miss: float = 10.0  #: cost of a missed event (CostMiss)
    cost_fa: float = 1.0  #: cost of a false alarm (CostFA)
    r_target_per_hour: float = 1.8  #: [1/h] target event rate (Rtarget)

    def __post_init__(self) -> None:
        for f in ("cost_miss", "cost_fa", "r_target_per_hour"):
            v = getattr(self, f)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"NDCRConstants.{f} must be a finite number > 0; got {v!r}")

    @property
    def beta(self) -> float:
        """[h] Weight of RFA per hour in NDCR: CostFA / (CostMiss * Rtarget); 1/18 by default."""
        return self.cost_fa / (self.cost_miss * self.r_target_per_hour)


DEFAULT_CONSTANTS = NDCRConstants()


@dataclass(frozen=True, slots=True)
class Tally:
    """Integer counts for one (camera, event type) cell, or a sum of cells.

    ``tp + fn == n_instances`` and ``tp + fp + duplicates == n_alerts``;
    ``latencies_s`` holds one latency [s] per TP.
    """

    n_instances: int = 0
    tp: int = 0
    fn: int = 0
    fp: int = 0
    duplicates: int = 0
    n_alerts: int = 0
    latencies_s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.tp + self.fn != self.n_instances:
            raise ValueError(f"Tally: tp + fn must equal n_instances; got {self.tp} + {self.fn} != {self.n_instances}")
        if self.tp + self.fp + self.duplicates != self.n_alerts:
            raise ValueError(f"Tally: tp + fp + duplicates must equal n_alerts; got "
                             f"{self.tp} + {self.fp} + {self.duplicates} != {self.n_alerts}")
        if len(self.latencies_s) != self.tp:
            raise ValueError(f"Tally: one latency per TP expected; got {len(self.latencies_s)} for tp={self.tp}")

    def __add__(self, other: "Tally") -> "Tally":
        if not isinstance(other, Tally):
            return NotImplemented
        return Tally(self.n_instances + other.n_instances, self.tp + other.tp, self.fn + other.fn,
                     self.fp + other.fp, self.duplicates + other.duplicates, self.n_alerts + other.n_alerts,
                     self.latencies_s + other.latencies_s)


@dataclass(frozen=True)
class Counts:
    """Tallies per ``(camera, EventType)`` plus scored seconds per camera; add across sequences.

    ``camera_s[camera]`` is the scored duration [s] of that camera summed over sequences;
    ``n_streams`` the number of (sequence, camera) streams scored. Cells that are absent
    are zero.
    """

    cells: Mapping[tuple[str, EventType], Tally] = field(default_factory=dict)
    camera_s: Mapping[str, float] = field(default_factory=dict)
    n_streams: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        if not isinstance(other, Counts):
            return NotImplemented
        cells = dict(self.cells)
        for key, tally in other.cells.items():
            cells[key] = cells[key] + tally if key in cells else tally
        camera_s = dict(self.camera_s)
        for cam, s in other.camera_s.items():
            camera_s[cam] = camera_s.get(cam, 0.0) + s
        return Counts(cells=cells, camera_s=camera_s, n_streams=self.n_streams + other.n_streams)

    def __radd__(self, other: Any) -> "Counts":
        if isinstance(other, int) and other == 0:  # so that sum(list_of_counts) works
            return self
        return NotImplemented

    @property
    def camera_hours(self) -> float:
        """[h] Scored camera-hours, summed over cameras and sequences."""
        return float(sum(self.camera_s.values())) / 3600.0

    def tally(self, event_type: EventType | None = None, camera: str | None = None) -> Tally:
        """The sum of the cells of ``event_type`` (all types if None) and ``camera`` (all if None)."""
        total = Tally()
        for (cam, etype), t in sorted(self.cells.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
            if (event_type is None or etype == event_type) and (camera is None or cam == camera):
                total = total + t
        return total

    def metrics(self, event_type: EventType | None = None, *, constants: NDCRConstants = DEFAULT_CONSTANTS
                ) -> "Metrics":
        """Metrics of one event type (``None``: all types summed) over every scored camera."""
        return compute_metrics(self.tally(event_type), sum(self.camera_s.values()), event_type=event_type,
                               n_streams=self.n_streams, constants=constants)


@dataclass(frozen=True)
class Metrics:
    """One row of results: counts, then ratios divided once; ``nan`` where undefined.

    ``undefined`` maps the name of every ``nan`` field to the reason.
    """

    type: str  #: an EventType value, or "all"
    n_instances: int
    tp: int
    fn: int
    fp: int
    duplicates: int
    n_alerts: int
    camera_hours: float  #: [h] scored camera-hours
    n_streams: int  #: (sequence, camera) streams scored
    precision: float
    recall: float
    f1: float
    p_miss: float
    rfa_per_hour: float  #: [1/h] false alarms per camera-hour
    rfa_per_minute: float  #: [1/min] false alarms per camera-minute
    alerts_per_hour: float  #: [1/h] all alerts (TP + FP + duplicates) per camera-hour
    duplicates_per_hour: float  #: [1/h] duplicates per camera-hour
    latency_median_s: float
    latency_p90_s: float
    latency_max_s: float
    ndcr: float
    beta: float  #: [h] NDCR weight of RFA per hour
    undefined: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``nan`` becomes ``None`` (the reason is in ``undefined``)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, float) and math.isnan(v):
                v = None
            elif f.name == "undefined":
                v = dict(v)
            out[f.name] = v
        return out


def _ratio(num: float, den: float, name: str, reason: str, undefined: dict[str, str]) -> float:
    if den == 0:
        undefined[name] = reason
        return math.nan
    return num / den


def compute_metrics(tally: Tally, scored_s: float, *, event_type: EventType | str | None = None,
                    n_streams: int = 0, constants: NDCRConstants = DEFAULT_CONSTANTS) -> Metrics:
    """Divide once: the metrics of ``tally`` over ``scored_s`` camera-seconds."""
    undefined: dict[str, str] = {}
    hours = float(scored_s) / 3600.0
    precision = _ratio(tally.tp, tally.tp + tally.fp, "precision", "no alerts other than duplicates", undefined)
    recall = _ratio(tally.tp, tally.n_instances, "recall", "no instances", undefined)
    f1 = _ratio(2 * tally.tp, 2 * tally.tp + tally.fp + tally.fn, "f1", "no instances and no alerts", undefined)
    p_miss = _ratio(tally.fn, tally.n_instances, "p_miss", "no instances", undefined)
    rfa_h = _ratio(tally.fp, hours, "rfa_per_hour", "no scored duration", undefined)
    rfa_min = _ratio(tally.fp, hours * 60.0, "rfa_per_minute", "no scored duration", undefined)
    alerts_h = _ratio(tally.n_alerts, hours, "alerts_per_hour", "no scored duration", undefined)
    dup_h = _ratio(tally.duplicates, hours, "duplicates_per_hour", "no scored duration", undefined)
    if tally.latencies_s:
        lat = np.asarray(tally.latencies_s, dtype=np.float64)
        lat_med, lat_p90, lat_max = float(np.median(lat)), float(np.percentile(lat, 90)), float(lat.max())
    else:
        lat_med = lat_p90 = lat_max = math.nan
        for name in ("latency_median_s", "latency_p90_s", "latency_max_s"):
            undefined[name] = "no detections"
    if math.isnan(p_miss) or math.isnan(rfa_h):
        ndcr = math.nan
        undefined["ndcr"] = "; ".join(f"{k} undefined ({undefined[k]})" for k in ("p_miss", "rfa_per_hour")
                                      if k in undefined)
    else:
        ndcr = p_miss + constants.beta * rfa_h
    if isinstance(event_type, EventType):
        label = event_type.value
    elif event_type is None:
        label = ALL
    else:
        label = str(event_type)
    return Metrics(type=label, n_instances=tally.n_instances, tp=tally.tp, fn=tally.fn, fp=tally.fp,
                   duplicates=tally.duplicates, n_alerts=tally.n_alerts, camera_hours=hours, n_streams=n_streams,
                   precision=precision, recall=recall, f1=f1, p_miss=p_miss, rfa_per_hour=rfa_h,
                   rfa_per_minute=rfa_min, alerts_per_hour=alerts_h, duplicates_per_hour=dup_h,
                   latency_median_s=lat_med, latency_p90_s=lat_p90, latency_max_s=lat_max, ndcr=ndcr,
                   beta=constants.beta, undefined=undefined)


def _camera_durations(duration_s: float | Mapping[str, float], cameras: Iterable[str] | None,
                      alerts: Sequence[Alert], instances: Sequence[Instance]) -> dict[str, float]:
    if isinstance(duration_s, Mapping):
        durations = {str(c): float(s) for c, s in duration_s.items()}
        if cameras is not None:
            cams = list(cameras)
            missing = [c for c in cams if c not in durations]
            if missing:
                raise ValueError(f"duration_s has no entry for camera(s) {missing}; got cameras {sorted(durations)}")
            durations = {c: durations[c] for c in cams}
    else:
        if cameras is None:
            cams = sorted({a.camera for a in alerts} | {x.camera for x in instances})
        else:
            cams = list(cameras)
        durations = {c: float(duration_s) for c in cams}
    for c, s in durations.items():
        if not math.isfinite(s) or s < 0:
            raise ValueError(f"duration_s for camera {c!r} must be a finite number of seconds >= 0; got {s!r}")
    for k, a in enumerate(alerts):
        if a.camera not in durations:
            raise ValueError(f"alerts[{k}].camera {a.camera!r} is not among the scored cameras {sorted(durations)}")
    for k, x in enumerate(instances):
        if x.camera not in durations:
            raise ValueError(f"instances[{k}].camera {x.camera!r} is not among the scored cameras {sorted(durations)}")
    return durations


def counts_from_match(result: MatchResult, alerts: Sequence[Alert], instances: Sequence[Instance],
                      duration_s: float | Mapping[str, float], cameras: Iterable[str] | None = None) -> Counts:
    """Tally a :class:`MatchResult` per (camera, type); ``duration_s`` per camera or the same for all."""
    alerts, instances = list(alerts), list(instances)
    if result.n_alerts != len(alerts) or result.n_instances != len(instances):
        raise ValueError(f"result was computed for {result.n_alerts} alerts and {result.n_instances} instances; "
                         f"got {len(alerts)} and {len(instances)}")
    durations = _camera_durations(duration_s, cameras, alerts, instances)
    keys: dict[tuple[str, EventType], int] = {}
    a_key = np.fromiter((keys.setdefault((a.camera, a.type), len(keys)) for a in alerts), np.int64, len(alerts))
    i_key = np.fromiter((keys.setdefault((x.camera, x.type), len(keys)) for x in instances), np.int64, len(instances))
    nk = len(keys)
    outcome = result.alert_outcomes()
    n_alerts = np.bincount(a_key, minlength=nk)
    fp = np.bincount(a_key[outcome == 1], minlength=nk)
    dup = np.bincount(a_key[outcome == 2], minlength=nk)
    n_inst = np.bincount(i_key, minlength=nk)
    tp_key = i_key[result.pairs[:, 1]]
    tp = np.bincount(tp_key, minlength=nk)
    cells: dict[tuple[str, EventType], Tally] = {}
    for key, g in keys.items():
        lat = tuple(float(v) for v in result.latency_s[tp_key == g])
        cells[key] = Tally(n_instances=int(n_inst[g]), tp=int(tp[g]), fn=int(n_inst[g] - tp[g]), fp=int(fp[g]),
                           duplicates=int(dup[g]), n_alerts=int(n_alerts[g]), latencies_s=lat)
    return Counts(cells=cells, camera_s=durations, n_streams=len(durations))


def count(alerts: Sequence[Alert], instances: Sequence[Instance], duration_s: float | Mapping[str, float],
          cameras: Iterable[str] | None = None, *, early_s: float = 1.0,
          grace_s: float | Mapping[EventType, float] | None = None, require_overlap: bool = True,
          spatial: SpatialRule | str = SpatialRule.ALERT_TIME) -> Counts:
    """Match one sequence and tally it; ``duration_s`` [s] is each camera's scored duration.

    ``cameras`` lists the scored cameras (default: the keys of ``duration_s`` when it is a
    mapping, else the cameras seen in alerts and instances). A camera with no alert and no
    instance still adds scored time.
    """
    alerts, instances = list(alerts), list(instances)
    result = match(alerts, instances, early_s=early_s, grace_s=grace_s, require_overlap=require_overlap,
                   spatial=spatial)
    return counts_from_match(result, alerts, instances, duration_s, cameras)


@dataclass(frozen=True)
class MetricsTable:
    """Per-type rows then the ``all`` row; index by ``EventType`` or ``"all"``."""

    rows: tuple[Metrics, ...]
    constants: NDCRConstants = DEFAULT_CONSTANTS

    def __getitem__(self, key: EventType | str) -> Metrics:
        label = key.value if isinstance(key, EventType) else str(key)
        for r in self.rows:
            if r.type == label:
                return r
        raise KeyError(f"no row {label!r}; rows: {[r.type for r in self.rows]}")

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def all(self) -> Metrics:
        return self[ALL]

    def to_dict(self) -> dict[str, Any]:
        """``{"constants": {...}, "rows": [row, ...]}``, JSON-ready (``nan`` as ``None``)."""
        c = self.constants
        return {"constants": {"cost_miss": c.cost_miss, "cost_fa": c.cost_fa,
                              "r_target_per_hour": c.r_target_per_hour, "beta": c.beta},
                "rows": [r.to_dict() for r in self.rows]}

    def to_arrow(self):
        """A ``pyarrow.Table``, one row per metrics row; ``undefined`` as a map column."""
        import pyarrow as pa

        cols: dict[str, Any] = {}
        for f in fields(Metrics):
            values = [getattr(r, f.name) for r in self.rows]
            if f.name == "type":
                cols[f.name] = pa.array(values, pa.string())
            elif f.name == "undefined":
                cols[f.name] = pa.array([sorted(v.items()) for v in values], pa.map_(pa.string(), pa.string()))
            elif f.type in ("int", int):
                cols[f.name] = pa.array(values, pa.int64())
            else:
                cols[f.name] = pa.array(values, pa.float64())
        return pa.table(cols)

    def format_table(self) -> str:
        """A fixed-width text table for terminals and logs; '-' where undefined."""
        head = ["type", "inst", "TP", "FN", "FP", "dup", "P", "R", "F1", "Pmiss", "FA/h", "lat med", "lat p90",
                "NDCR"]

        def num(v: float, digits: int = 3) -> str:
            return "-" if math.isnan(v) else f"{v:.{digits}f}"

        body = [[r.type, str(r.n_instances), str(r.tp), str(r.fn), str(r.fp), str(r.duplicates),
                 num(r.precision), num(r.recall), num(r.f1), num(r.p_miss), num(r.rfa_per_hour, 2),
                 num(r.latency_median_s, 2), num(r.latency_p90_s, 2), num(r.ndcr)] for r in self.rows]
        widths = [max(len(h), *(len(row[k]) for row in body)) if body else len(h) for k, h in enumerate(head)]
        fmt = lambda row: "  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(row, widths)))  # noqa: E731
        lines = [fmt(head), "  ".join("-" * w for w in widths)] + [fmt(row) for row in body]
        hours = self.rows[-1].camera_hours if self.rows else 0.0
        c = self.constants
        lines.append(f"{hours:.3f} camera-hours; NDCR = Pmiss + beta*FA/h, beta = CostFA/(CostMiss*Rtarget) = "
                     f"{c.cost_fa:g}/({c.cost_miss:g}*{c.r_target_per_hour:g}) = {c.beta:.4f}; latencies in s")
        return "\n".join(lines)


def metrics_table(counts: Counts, *, types: Sequence[EventType] | None = None,
                  constants: NDCRConstants = DEFAULT_CONSTANTS) -> MetricsTable:
    """One row per event type in ``types`` (default: all eight) then the ``all`` row.

    The ``all`` row sums every cell of ``counts`` (also types not listed in ``types``).
    """
    types = list(EventType) if types is None else [EventType.parse(t, field="types[]") for t in types]
    rows = [counts.metrics(t, constants=constants) for t in types]
    rows.append(counts.metrics(None, constants=constants))
    return MetricsTable(rows=tuple(rows), constants=constants)


def evaluate(alerts: Sequence[Alert], instances: Sequence[Instance], duration_s: float | Mapping[str, float],
             cameras: Iterable[str] | None = None, *, types: Sequence[EventType] | None = None,
             early_s: float = 1.0, grace_s: float | Mapping[EventType, float] | None = None,
             require_overlap: bool = True, spatial: SpatialRule | str = SpatialRule.ALERT_TIME,
             constants: NDCRConstants = DEFAULT_CONSTANTS) -> MetricsTable:
    """Match, count and divide for one sequence: per-type rows and the ``all`` row.

    >>> from detectors.events import Alert, EventType
    >>> gt = [Instance("e1", EventType.FIRE, "cam1", 10.0, 20.0)]
    >>> table = evaluate([Alert("cam1", EventType.FIRE, 12.0, 0.9)], gt, duration_s=3600, cameras=["cam1"])
    >>> table[EventType.FIRE].recall, table["all"].rfa_per_hour
    (1.0, 0.0)
    """
    c = count(alerts, instances, duration_s, cameras, early_s=early_s, grace_s=grace_s,
              require_overlap=require_overlap, spatial=spatial)
    return metrics_table(c, types=types, constants=constants)


def operator_load_per_hour(metrics: Metrics | float, n_cameras: int) -> float:
    """[alerts/h] Alerts an operator watching ``n_cameras`` such cameras must confirm or clear.

    ``metrics`` is a row (its ``alerts_per_hour``, per camera-hour, counting TP, false
    alarms and duplicates) or that rate itself.
    """
    if isinstance(n_cameras, bool) or not isinstance(n_cameras, (int, np.integer)) or n_cameras < 0:
        raise ValueError(f"n_cameras must be an integer >= 0; got {n_cameras!r}")
    rate = metrics.alerts_per_hour if isinstance(metrics, Metrics) else float(metrics)
    return rate * int(n_cameras)
