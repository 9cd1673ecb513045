"""Match alerts to ground-truth event instances, one to one, per camera and event type.

An alert *can match* an instance when it has the same camera and event type, its time
falls in the closed window ``[t_start - early_s, t_end + grace_s]`` and, under a spatial
rule, when both carry a box, the two boxes overlap: their intersection has a positive
area (equivalently IoU > 0; boxes that only touch along an edge, or a box of zero width
or height, do not overlap). The spatial rule (:class:`SpatialRule`) says which box of the
instance the alert's box is compared with:

- ``alert_time`` (the default): the instance's box *at the alert's time*, from its
  per-frame ``track`` (the boxes of the people or things it is about, one row per frame
  that shows them): the last row at or before the alert's time, or the first row for an
  alert before the first one. An instance without a track uses its box at onset. A
  person who walked 2 s into a zone before the alert is where the alert's box is, not
  where they were at onset.
- ``onset``: the instance's box at onset (``bbox_at_onset``), whatever the alert's time.
- ``none``: boxes are ignored; only the camera, type and time window count (the
  temporal-only rule of NIST ActEV's activity detection task).

Among the alerts that can match, the assignment is one to one and solved by the
Hungarian method (:func:`scipy.optimize.linear_sum_assignment`) with the cost
``alert.t - t_start`` (infeasible pairs get a cost larger than any total of feasible
ones and are dropped afterwards). So, in this order of priority:

1. as many instances as possible are matched;
2. the total latency is minimal: earlier alerts are preferred, and an alert that could
   match two instances goes to the one with the later onset (the smaller latency);
3. when windows cross, the instance with the earlier onset keeps the earlier alert
   (first in, first out), where both alerts could match both instances.

Latency is ``assigned alert t - t_start``. The assigned alert is the first alert in the
window that could match: no alert left unassigned (a duplicate) that could match the
instance comes before it. (An earlier alert can only exist if it is itself assigned to
another instance whose window it also falls in.) This is checked after the solve, so it
holds exactly, not only up to floating-point rounding.

Alerts left unassigned that could match an instance matched by another alert are
*duplicates* (operator load), not false alarms; every other unassigned alert is a false
alarm. Instances without an assigned alert are misses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from detectors.events import MAX_LATENCY_S, Alert, EventType

#: Keys every ground-truth record carries (``bbox_at_onset`` may be null).
GROUND_TRUTH_KEYS: tuple[str, ...] = ("id", "type", "camera", "t_start", "t_end", "bbox_at_onset")

@dataclass(frozen=True, slots=True)
class Instance:
    """One ground-truth event instance as one camera sees it.

    ``t_start`` and ``t_end`` are seconds since the start of the stream (``t_end >=
    t_start``; ``math.inf`` for an event still going on when the sequence ended, ``null``
    in the file); ``bbox`` is the ``(x, y, w, h)`` box in pixels at onset, or ``None`` when
    the event has no location in this camera's image (e.g. excessive density over a
    zone). ``attributes`` keeps any further keys of the ground-truth record (slices such
    as crowd level or lighting); it takes no part in equality or hashing.
    ``track`` is ``None`` or an ``(N, 5)`` float64 array of rows ``(t, x, y, w, h)``, times
    [s] increasing: the instance's box in each frame that shows it (key ``track`` of the
    ground-truth record), used by the ``alert_time`` spatial rule (see the module
    docstring); it takes no part in equality either.
    """

    id: str
    type: EventType
    camera: str
    t_start: float
    t_end: float
    bbox: tuple[float, float, float, float] | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)
    track: np.ndarray | None = field(default=None, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", EventType.parse(self.type, field="instance.type"))
        object.__setattr__(self, "id", str(self.id))
        ts, te = float(self.t_start), float(self.t_end)
        if not math.isfinite(ts):
            raise ValueError(f"instance {self.id!r}: t_start must be a finite time in s; got {self.t_start!r}")
        if math.isnan(te) or te < ts:
            raise ValueError(f"instance {self.id!r}: t_end must be >= t_start={ts} (inf: not ended); "
                             f"got {self.t_end!r}")
        object.__setattr__(self, "t_start", ts)
        object.__setattr__(self, "t_end", te)
        if self.bbox is not None:
            box = tuple(float(v) for v in self.bbox)
            if len(box) != 4 or not all(math.isfinite(v) for v in box):
                raise ValueError(f"instance {self.id!r}: bbox must be 4 finite numbers [x, y, w, h]; got {self.bbox!r}")
            if box[2] < 0 or box[3] < 0:
                raise ValueError(f"instance {self.id!r}: bbox width and height must be >= 0; got {self.bbox!r}")
            object.__setattr__(self, "bbox", box)
        if self.track is not None:
            object.__setattr__(self, "track", _parse_track(self.track, f"instance {self.id!r}: track"))

    def box_at(self, t: float) -> tuple[float, float, float, float] | None:
        """[px] The box to compare with an alert at time ``t`` [s] under the ``alert_time`` rule.

        The track's last row at or before ``t`` (the first row when ``t`` precedes it);
        the box at onset when there is no track.
        """
        if self.track is None or len(self.track) == 0:
            return self.bbox
        k = max(0, int(np.searchsorted(self.track[:, 0], float(t) + TRACK_EPS_S, side="right")) - 1)
        return tuple(float(v) for v in self.track[k, 1:])

    def with_track(self, track) -> "Instance":
        """A copy with per-frame boxes ``track`` (rows ``(t, x, y, w, h)``; None removes it)."""
        return Instance(id=self.id, type=self.type, camera=self.camera, t_start=self.t_start, t_end=self.t_end,
                        bbox=self.bbox, attributes=self.attributes, track=track)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "instance") -> "Instance":
        """Build from a ground-truth record ``{id, type, camera, t_start, t_end, bbox_at_onset, ...}``.

        Further keys go to :attr:`attributes`. Errors name ``where`` and the key.
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"{where}: expected an object with keys {', '.join(GROUND_TRUTH_KEYS)}; "
                             f"got {type(d).__name__}")
        missing = [k for k in GROUND_TRUTH_KEYS if k not in d]
        if missing:
            raise ValueError(f"{where}: missing key(s) {', '.join(missing)} (expected {', '.join(GROUND_TRUTH_KEYS)}); "
                             f"got keys {sorted(d)}")
        values: dict[str, Any] = {"t_end": math.inf} if d["t_end"] is None else {}
        for key, conv in (("id", str), ("camera", str), ("t_start", float), ("t_end", float)):
            if key in values:
                continue
            try:
                values[key] = conv(d[key])
            except (TypeError, ValueError):
                raise ValueError(f"{where}.{key}: expected {'a number' if conv is float else 'a string'}; "
                                 f"got {d[key]!r}") from None
        etype = EventType.parse(d["type"], field=f"{where}.type")
        box = d["bbox_at_onset"]
        if box is not None:
            try:
                box = tuple(float(v) for v in box)
            except (TypeError, ValueError):
                raise ValueError(f"{where}.bbox_at_onset: expected [x, y, w, h] or null; got {box!r}") from None
            if len(box) != 4:
                raise ValueError(f"{where}.bbox_at_onset: expected [x, y, w, h] or null; got {d['bbox_at_onset']!r}")
        attributes = {k: v for k, v in d.items() if k not in GROUND_TRUTH_KEYS and k != "track"}
        track = d.get("track")
        if track is not None:
            track = _parse_track(track, f"{where}.track")
        try:
            return cls(id=values["id"], type=etype, camera=values["camera"], t_start=values["t_start"],
                       t_end=values["t_end"], bbox=box, attributes=attributes, track=track)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The ground-truth record (inverse of :meth:`from_dict`)."""
        out: dict[str, Any] = {
            "id": self.id, "type": self.type.value, "camera": self.camera,
            "t_start": self.t_start, "t_end": None if math.isinf(self.t_end) else self.t_end,
            "bbox_at_onset": None if self.bbox is None else list(self.bbox),
        }
        out.update(self.attributes)
        if self.track is not None:
            out["track"] = [[round(float(v), 4) for v in row] for row in self.track]
        return out


#: [s] slack when looking up the track row of an alert's time (frame times are i / fps)
TRACK_EPS_S = 1e-6


def _parse_track(track: Any, where: str) -> np.ndarray:
    """Validate a track: rows ``(t, x, y, w, h)``, finite, ``w, h >= 0``, times increasing."""
    try:
        arr = np.asarray(track, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected rows [t, x, y, w, h] of numbers; got {_short(track)}") from None
    if arr.size == 0:
        return np.zeros((0, 5), np.float64)
    if arr.ndim != 2 or arr.shape[1] != 5:
        raise ValueError(f"{where}: expected rows [t, x, y, w, h]; got an array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        k = int(np.flatnonzero(~np.all(np.isfinite(arr), axis=1))[0])
        raise ValueError(f"{where}[{k}]: expected finite numbers; got {arr[k].tolist()}")
    if np.any(arr[:, 3:] < 0):
        k = int(np.flatnonzero(np.any(arr[:, 3:] < 0, axis=1))[0])
        raise ValueError(f"{where}[{k}]: box width and height must be >= 0; got {arr[k].tolist()}")
    if np.any(np.diff(arr[:, 0]) <= 0):
        k = int(np.flatnonzero(np.diff(arr[:, 0]) <= 0)[0]) + 1
        raise ValueError(f"{where}[{k}]: times must increase; got t={float(arr[k, 0])!r} after t={float(arr[k - 1, 0])!r}")
    return arr


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class SpatialRule(str, Enum):
    """Which box of an instance an alert's box must overlap (see the module docstring)."""

    ALERT_TIME = "alert_time"  #: the instance's box at the alert's time (its track), else at onset
    ONSET = "onset"  #: the instance's box at onset
    NONE = "none"  #: boxes ignored: the temporal-only rule of ActEV activity detection

    @classmethod
    def parse(cls, value: "str | SpatialRule", *, field: str = "spatial") -> "SpatialRule":
        if isinstance(value, SpatialRule):
            return value
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"{field} must be one of {', '.join(r.value for r in cls)}; got {value!r}") from None

    def __str__(self) -> str:
        return self.value


class Outcome(IntEnum):
    """What became of an alert."""

    TRUE_POSITIVE = 0  #: assigned to an instance
    FALSE_ALARM = 1  #: could match no matched instance
    DUPLICATE = 2  #: could match an instance that another alert matched


@dataclass(frozen=True)
class MatchResult:
    """The one-to-one assignment of alerts to instances; indices refer to the input sequences.

    ``pairs`` is ``(K, 2)`` int64 of ``(alert index, instance index)`` sorted by instance
    index; ``latency_s[k]`` is ``alerts[pairs[k, 0]].t - instances[pairs[k, 1]].t_start``
    in seconds (negative, down to ``-early_s``, when the alert came before the onset).
    ``false_alarms`` and ``duplicates`` are ascending alert indices, ``missed`` ascending
    instance indices.
    """

    pairs: np.ndarray
    latency_s: np.ndarray
    false_alarms: np.ndarray
    duplicates: np.ndarray
    missed: np.ndarray
    n_alerts: int
    n_instances: int

    @property
    def tp(self) -> int:
        return int(len(self.pairs))

    @property
    def fp(self) -> int:
        return int(len(self.false_alarms))

    @property
    def fn(self) -> int:
        return int(len(self.missed))

    @property
    def n_duplicates(self) -> int:
        return int(len(self.duplicates))

    @property
    def matched_alerts(self) -> np.ndarray:
        return self.pairs[:, 0]

    @property
    def matched_instances(self) -> np.ndarray:
        return self.pairs[:, 1]

    def alert_outcomes(self) -> np.ndarray:
        """``(n_alerts,)`` int8 array of :class:`Outcome` values, one per input alert."""
        out = np.full(self.n_alerts, Outcome.FALSE_ALARM, dtype=np.int8)
        out[self.pairs[:, 0]] = Outcome.TRUE_POSITIVE
        out[self.duplicates] = Outcome.DUPLICATE
        return out


def grace_for(event_type: EventType, grace_s: float | Mapping[EventType, float] | None) -> float:
    """[s] The grace period after ``t_end`` for ``event_type`` (default: the type's max latency)."""
    if grace_s is None:
        value, name = MAX_LATENCY_S[event_type], f"MAX_LATENCY_S[{event_type.value}]"
    elif isinstance(grace_s, Mapping):
        value = grace_s[event_type] if event_type in grace_s else MAX_LATENCY_S[event_type]
        name = f"grace_s[{event_type.value}]"
    else:
        value, name = grace_s, "grace_s"
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds; got {value!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0; got {value!r}")
    return value


def _boxes(items: Sequence[Any], attr: str) -> np.ndarray:
    """(N, 4) float64 boxes, NaN rows where the item has no box."""
    boxes = [getattr(it, attr) for it in items]
    out = np.full((len(items), 4), np.nan)
    have = [k for k, b in enumerate(boxes) if b is not None]
    if have:
        out[have] = [boxes[k] for k in have]
    return out


def _overlap(a_box: np.ndarray, i_box: np.ndarray) -> np.ndarray:
    """Positive-area intersection of broadcastable ``(..., 4)`` boxes; True where either side has no box."""
    ix = np.minimum(a_box[..., 0] + a_box[..., 2], i_box[..., 0] + i_box[..., 2]) \
        - np.maximum(a_box[..., 0], i_box[..., 0])
    iy = np.minimum(a_box[..., 1] + a_box[..., 3], i_box[..., 1] + i_box[..., 3]) \
        - np.maximum(a_box[..., 1], i_box[..., 1])
    either_missing = np.isnan(a_box[..., 0]) | np.isnan(i_box[..., 0])
    with np.errstate(invalid="ignore"):
        return either_missing | ((ix > 0) & (iy > 0))


def _instance_boxes_at(instances: Sequence[Instance], idx: np.ndarray, onset_box: np.ndarray,
                       t: np.ndarray) -> np.ndarray:
    """(M, K, 4) boxes of instances ``idx`` at alert times ``t`` (M,): track rows, else the onset box."""
    out = np.broadcast_to(onset_box[idx][None, :, :], (len(t), len(idx), 4)).copy()
    for col, j in enumerate(idx):
        track = instances[j].track
        if track is None or len(track) == 0:
            continue
        k = np.maximum(np.searchsorted(track[:, 0], t + TRACK_EPS_S, side="right") - 1, 0)
        out[:, col, :] = track[k, 1:]
    return out


def _assign(feasible: np.ndarray, alert_t: np.ndarray, onset_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve one cluster; rows are alerts in time order, columns instances in onset order.

    The Hungarian method minimises ``BIG * (infeasible pairs) + sum(alert t - t_start)``;
    ``BIG`` exceeds the spread of any total of feasible costs, so the number of matches is
    maximal first, then the total latency minimal. Two exact passes follow, which change
    nothing when the float solve is exact and make the stated properties hold regardless:
    an unassigned alert that could match an instance and precedes its assigned alert takes
    its place; two matched instances whose alerts cross in time (the later onset holding
    the earlier alert) swap them when both can.
    Returns (rows, cols) of the matched pairs.
    """
    m, k = feasible.shape
    cost = alert_t[:, None] - onset_t[None, :]
    p = min(m, k)
    big = 2.0 * p * (float(np.abs(cost[feasible]).max()) + 1.0) + 1.0
    cost = np.where(feasible, cost, big)
    rows, cols = linear_sum_assignment(cost)
    keep = feasible[rows, cols]
    alert_of = np.full(k, -1, dtype=np.int64)
    alert_of[cols[keep]] = rows[keep]
    free = np.ones(m, dtype=bool)
    free[rows[keep]] = False
    changed = True
    while changed:
        changed = False
        for c in np.flatnonzero(alert_of >= 0):  # an earlier free alert takes the place
            earlier = np.flatnonzero(free[: alert_of[c]] & feasible[: alert_of[c], c])
            if earlier.size:
                free[alert_of[c]], free[earlier[0]] = True, False
                alert_of[c] = earlier[0]
                changed = True
        matched = np.flatnonzero(alert_of >= 0)
        r = alert_of[matched]
        # crossing: instance x (earlier onset) holds a later alert than instance y, and each can take the other's
        cross = (r[:, None] > r[None, :]) & np.triu(np.ones((len(r), len(r)), dtype=bool), 1)
        cross &= feasible[r[None, :], matched[:, None]] & feasible[r[:, None], matched[None, :]]
        if cross.any():
            x, y = np.argwhere(cross)[0]
            alert_of[matched[x]], alert_of[matched[y]] = r[y], r[x]
            changed = True
    cols_out = np.flatnonzero(alert_of >= 0)
    return alert_of[cols_out], cols_out


def match(alerts: Sequence[Alert], instances: Sequence[Instance], *, early_s: float = 1.0,
          grace_s: float | Mapping[EventType, float] | None = None, require_overlap: bool = True,
          spatial: SpatialRule | str = SpatialRule.ALERT_TIME) -> MatchResult:
    """Assign alerts to instances one to one; see the module docstring for the rules.

    ``early_s`` [s] is how long before ``t_start`` an alert still counts; ``grace_s`` [s]
    how long after ``t_end`` (one number, a mapping per event type, or ``None`` for
    :data:`detectors.events.MAX_LATENCY_S`). ``spatial`` picks the instance's box that the
    alert's box must overlap (:class:`SpatialRule`); ``require_overlap=False`` is the same
    as ``spatial="none"``. Cost: one pass over the inputs to build arrays, then numpy per camera and
    type; the Hungarian method runs only on clusters of instances whose windows overlap
    in time, with the alerts that can match one of them.

    >>> from detectors.events import Alert, EventType
    >>> gt = [Instance("e1", EventType.FIRE, "cam1", 10.0, 20.0)]
    >>> r = match([Alert("cam1", EventType.FIRE, 12.0, 0.9)], gt)
    >>> r.pairs.tolist(), r.latency_s.tolist()
    ([[0, 0]], [2.0])
    """
    alerts = list(alerts)
    instances = list(instances)
    early_s = float(early_s)
    spatial = SpatialRule.NONE if not require_overlap else SpatialRule.parse(spatial)
    if not math.isfinite(early_s) or early_s < 0:
        raise ValueError(f"early_s must be a finite number of seconds >= 0; got {early_s!r}")
    bad = next((k for k, a in enumerate(alerts) if not isinstance(a, Alert)), None)
    if bad is not None:
        raise TypeError(f"alerts[{bad}] must be a detectors.events.Alert; got {type(alerts[bad]).__name__}")
    bad = next((k for k, x in enumerate(instances) if not isinstance(x, Instance)), None)
    if bad is not None:
        raise TypeError(f"instances[{bad}] must be an eval.matching.Instance; got {type(instances[bad]).__name__}")
    graces = {e: grace_for(e, grace_s) for e in EventType}  # validates every type's grace up front
    n_a, n_i = len(alerts), len(instances)

    groups: dict[tuple[str, EventType], int] = {}
    a_group = np.array([groups.setdefault((a.camera, a.type), len(groups)) for a in alerts], np.int64).reshape(n_a)
    i_group = np.array([groups.setdefault((x.camera, x.type), len(groups)) for x in instances], np.int64).reshape(n_i)
    a_t = np.array([a.t for a in alerts], np.float64).reshape(n_a)
    a_score = np.array([a.score for a in alerts], np.float64).reshape(n_a)
    a_box = _boxes(alerts, "bbox")
    i_ts = np.array([x.t_start for x in instances], np.float64).reshape(n_i)
    i_te = np.array([x.t_end for x in instances], np.float64).reshape(n_i)
    i_box = _boxes(instances, "bbox")
    if spatial is SpatialRule.NONE:
        a_box[:] = np.nan
    a_has_box, i_has_box = ~np.isnan(a_box[:, 0]), ~np.isnan(i_box[:, 0])
    # A canonical alert order (time, then higher score, then box, then no box) makes the
    # result independent of the order alerts are given in.
    box_key = np.where(np.isnan(a_box), np.inf, a_box)
    a_order = np.lexsort((box_key[:, 3], box_key[:, 2], box_key[:, 1], box_key[:, 0], -a_score, a_t))
    i_order = np.array(sorted(range(n_i), key=lambda j: (i_ts[j], i_te[j], instances[j].id)), dtype=np.int64)

    pair_a: list[np.ndarray] = []
    pair_i: list[np.ndarray] = []
    dup_mask = np.zeros(n_a, dtype=bool)
    group_types = {g: key[1] for key, g in groups.items()}
    a_sorted_group = a_group[a_order]
    i_sorted_group = i_group[i_order]
    for g in np.unique(i_group):
        ii = i_order[i_sorted_group == g]  # instances of this group by onset
        aa = a_order[a_sorted_group == g]  # alerts of this group in canonical order (time ascending)
        if len(aa) == 0:
            continue
        grace = graces[group_types[int(g)]]
        lo, hi = i_ts[ii] - early_s, i_te[ii] + grace
        by_lo = np.argsort(lo, kind="stable")
        ii, lo, hi = ii[by_lo], lo[by_lo], hi[by_lo]
        # Clusters: runs of instances whose windows overlap; an alert can only match
        # instances of the one cluster its time falls in.
        reach = np.maximum.accumulate(hi)
        new_cluster = np.r_[True, lo[1:] > reach[:-1]]
        cluster_of_inst = np.cumsum(new_cluster) - 1
        starts = np.flatnonzero(new_cluster)
        c_lo = lo[starts]
        c_hi = np.maximum.reduceat(hi, starts)
        t = a_t[aa]
        c = np.searchsorted(c_lo, t, side="right") - 1
        inside = (c >= 0) & (t <= c_hi[np.maximum(c, 0)])
        aa, t, c = aa[inside], t[inside], c[inside]
        if len(aa) == 0:
            continue
        # alerts are in time order, so each cluster's alerts are one contiguous run
        bounds = np.searchsorted(c, np.arange(len(starts) + 1))
        for ci in np.unique(c):
            sel_a = aa[bounds[ci]:bounds[ci + 1]]
            sel_t = t[bounds[ci]:bounds[ci + 1]]
            in_c = cluster_of_inst == ci
            sel_i, sel_lo, sel_hi = ii[in_c], lo[in_c], hi[in_c]
            feasible = (sel_t[:, None] >= sel_lo[None, :]) & (sel_t[:, None] <= sel_hi[None, :])
            if a_has_box[sel_a].any() and spatial is SpatialRule.ALERT_TIME:
                feasible &= _overlap(a_box[sel_a][:, None, :], _instance_boxes_at(instances, sel_i, i_box, sel_t))
            elif a_has_box[sel_a].any() and i_has_box[sel_i].any():
                feasible &= _overlap(a_box[sel_a][:, None, :], i_box[sel_i][None, :, :])
            rows_ok = feasible.any(axis=1)
            cols_ok = feasible.any(axis=0)
            if not rows_ok.any():
                continue
            feasible_sub = feasible[np.ix_(rows_ok, cols_ok)]
            sub_a, sub_i = sel_a[rows_ok], sel_i[cols_ok]
            if len(sub_i) == 1:  # one instance: its earliest alert (rows are in time order)
                rows, cols = np.zeros(1, np.int64), np.zeros(1, np.int64)
            else:
                rows, cols = _assign(feasible_sub, sel_t[rows_ok], i_ts[sub_i])
            pair_a.append(sub_a[rows])
            pair_i.append(sub_i[cols])
            matched_cols = np.zeros(len(sub_i), dtype=bool)
            matched_cols[cols] = True
            could_dup = feasible_sub[:, matched_cols].any(axis=1)
            could_dup[rows] = False
            dup_mask[sub_a[could_dup]] = True

    pa = np.concatenate(pair_a) if pair_a else np.zeros(0, np.int64)
    pi = np.concatenate(pair_i) if pair_i else np.zeros(0, np.int64)
    by_inst = np.argsort(pi, kind="stable")
    pairs = np.stack([pa[by_inst], pi[by_inst]], axis=1).astype(np.int64).reshape(-1, 2)
    latency = a_t[pairs[:, 0]] - i_ts[pairs[:, 1]]
    matched_a = np.zeros(n_a, dtype=bool)
    matched_a[pairs[:, 0]] = True
    matched_i = np.zeros(n_i, dtype=bool)
    matched_i[pairs[:, 1]] = True
    return MatchResult(
        pairs=pairs,
        latency_s=latency.astype(np.float64),
        false_alarms=np.flatnonzero(~matched_a & ~dup_mask).astype(np.int64),
        duplicates=np.flatnonzero(dup_mask).astype(np.int64),
        missed=np.flatnonzero(~matched_i).astype(np.int64),
        n_alerts=n_a,
        n_instances=n_i,
    )


def instances_from_records(records: Iterable[Mapping[str, Any]], *, where: str = "ground_truth") -> list[Instance]:
    """Parse ground-truth records; errors name ``where[index]`` and the key."""
    return [Instance.from_dict(d, where=f"{where}[{k}]") for k, d in enumerate(records)]
