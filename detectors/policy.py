"""From per-frame scores to alerts: the threshold, duration and cooldown rule.

The rule, applied by :class:`AlertGate` to one (camera, event type) stream of frames
``(t_i, score_i, bbox_i)`` in time order:

- a frame is *above* when ``score >= threshold`` (a nan score is below);
- a *run* is a maximal sequence of consecutive above frames; its start ``t_run`` is the
  time of its first frame; a run's duration at frame ``i`` is ``t_i - t_run`` (a single
  above frame has lasted 0 s);
- an alert fires at the first frame ``i`` of a run with
  ``t_i - t_run >= min_duration_s`` and, unless it is the gate's first alert,
  ``t_i - t_last_alert >= cooldown_s``;
- at most one alert per run: after an alert nothing fires until the score has dropped
  below the threshold (a new run starts) AND the cooldown has passed;
- the alert carries ``t_i``, ``score_i`` and ``bbox_i`` of the frame that fired.

Comparisons of durations allow ``TIME_EPS_S`` (1 µs) of floating-point slack, so that
frame times ``i / fps`` meet durations that are whole multiples of the frame period.

Gating per event instance. A detector names the instances its evidence belongs to (a
track in a zone, a zone; :class:`~detectors.base.InstanceScore`); :class:`InstanceGates`
keeps one :class:`AlertGate` per instance key, so the cooldown of one intruder's alert
does not swallow a second intruder who steps in a few seconds later. A key absent from a
frame counts as below the threshold in that frame; a gate below the threshold whose
cooldown has passed is forgotten.

:func:`alerts_from_scores` replays one gate over recorded frame scores and
:func:`alerts_from_instances` the per-instance gates over recorded instance scores, so an
offline threshold sweep gives exactly the alerts an online run with that threshold would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detectors.events import Alert, EventType

#: [s] floating-point slack in duration comparisons
TIME_EPS_S = 1e-6


@dataclass(frozen=True, kw_only=True)
class AlertPolicy:
    """When a stream of scores becomes an alert (see the module docstring for the rule)."""

    threshold: float  #: score at or above which a frame counts as above
    min_duration_s: float = 0.0  #: [s] how long a run must have lasted before it fires
    cooldown_s: float = 10.0  #: [s] minimum time between two alerts of the same gate

    def __post_init__(self) -> None:
        if not math.isfinite(self.threshold):
            raise ValueError(f"AlertPolicy.threshold must be finite; got {self.threshold!r}")
        if not (math.isfinite(self.min_duration_s) and self.min_duration_s >= 0):
            raise ValueError(f"AlertPolicy.min_duration_s must be a finite number >= 0 s; got {self.min_duration_s!r}")
        if not (math.isfinite(self.cooldown_s) and self.cooldown_s >= 0):
            raise ValueError(f"AlertPolicy.cooldown_s must be a finite number >= 0 s; got {self.cooldown_s!r}")

    def with_threshold(self, threshold: float) -> "AlertPolicy":
        """The same policy at another threshold (for sweeps)."""
        return AlertPolicy(threshold=threshold, min_duration_s=self.min_duration_s, cooldown_s=self.cooldown_s)


class AlertGate:
    """The stateful rule for one (camera, event type); feed it every frame in time order."""

    def __init__(self, policy: AlertPolicy, camera: str, event_type: EventType) -> None:
        self.policy = policy
        self.camera = camera
        self.event_type = EventType.parse(event_type, field="event_type")
        self.reset()

    def reset(self) -> None:
        self._run_start: float | None = None  # [s] start of the current run; None when below
        self._fired_in_run = False
        self._last_alert_t: float | None = None

    def update(self, t: float, score: float, bbox=None) -> Alert | None:
        """Feed frame time ``t`` [s], its ``score`` and optional ``bbox``; return the alert it fires, if any."""
        p = self.policy
        if not score >= p.threshold:  # also catches nan
            self._run_start = None
            self._fired_in_run = False
            return None
        if self._run_start is None:
            self._run_start = t
        if self._fired_in_run or t - self._run_start < p.min_duration_s - TIME_EPS_S:
            return None
        if self._last_alert_t is not None and t - self._last_alert_t < p.cooldown_s - TIME_EPS_S:
            return None
        self._fired_in_run = True
        self._last_alert_t = t
        return Alert(camera=self.camera, type=self.event_type, t=float(t), score=float(score),
                     bbox=None if bbox is None else tuple(bbox))


def alerts_from_scores(times, scores, bboxes, policy: AlertPolicy, camera: str,
                       event_type: EventType) -> list[Alert]:
    """Replay :class:`AlertGate` over recorded per-frame scores.

    ``times`` (N,) [s] increasing, ``scores`` (N,), ``bboxes`` None, an (N, 4) array whose
    rows are nan where the detector gave no box, or a sequence of boxes/None.
    """
    times = np.asarray(times, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if times.shape != scores.shape or times.ndim != 1:
        raise ValueError(f"alerts_from_scores: times and scores must be 1-D of one length; got {times.shape} "
                         f"and {scores.shape}")
    if bboxes is not None and len(bboxes) != len(times):
        raise ValueError(f"alerts_from_scores: bboxes must have {len(times)} rows; got {len(bboxes)}")
    gate = AlertGate(policy, camera, event_type)
    out = []
    # every frame goes through the gate as online; a box is looked up only where it can fire
    for i, (t, s) in enumerate(zip(times.tolist(), scores.tolist())):
        box = None
        if bboxes is not None and s >= policy.threshold:
            b = bboxes[i]
            if b is not None and not np.any(np.isnan(np.asarray(b, dtype=np.float64))):
                box = b
        alert = gate.update(t, s, box)
        if alert is not None:
            out.append(alert)
    return out


class InstanceGates:
    """One :class:`AlertGate` per event instance of one (camera, event type)."""

    def __init__(self, policy: AlertPolicy, camera: str, event_type: EventType) -> None:
        self.policy = policy
        self.camera = camera
        self.event_type = EventType.parse(event_type, field="event_type")
        self._gates: dict[str, AlertGate] = {}

    def reset(self) -> None:
        self._gates.clear()

    def __len__(self) -> int:
        return len(self._gates)

    def update(self, t: float, instances) -> list[Alert]:
        """Feed one frame's ``instances`` (``(key, score, bbox)`` items with those attributes or as
        tuples); return the alerts they fire, in the order given."""
        out = []
        seen = set()
        for inst in instances:
            key, score, bbox = (inst.key, inst.score, inst.bbox) if hasattr(inst, "key") else inst
            seen.add(key)
            gate = self._gates.get(key)
            if gate is None:
                if not score >= self.policy.threshold:
                    continue  # nothing to remember about an instance that never rose
                gate = self._gates[key] = AlertGate(self.policy, self.camera, self.event_type)
            alert = gate.update(t, score, bbox)
            if alert is not None:
                out.append(alert)
        for key in [k for k in self._gates if k not in seen]:
            gate = self._gates[key]
            gate.update(t, 0.0)
            last = gate._last_alert_t
            if last is None or t - last >= self.policy.cooldown_s - TIME_EPS_S:
                del self._gates[key]  # below and past its cooldown: nothing left to hold
        return out


def alerts_from_instances(times, instance_t, keys, scores, bboxes, policy: AlertPolicy, camera: str,
                          event_type: EventType) -> list[Alert]:
    """Replay :class:`InstanceGates` over recorded instance scores.

    ``times`` (N,) [s]: every frame time of the stream, increasing; ``instance_t``, ``keys``,
    ``scores`` (M,) and ``bboxes`` (M, 4) (nan rows: no box): the instance rows, whose times are
    among ``times`` (rows of instances scoring 0 may be left out).
    """
    times = np.asarray(times, dtype=np.float64)
    inst_t = np.asarray(instance_t, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    keys = np.asarray(keys, dtype=object)
    if not (len(inst_t) == len(keys) == len(scores)):
        raise ValueError(f"alerts_from_instances: instance_t, keys and scores must have one length; got "
                         f"{len(inst_t)}, {len(keys)}, {len(scores)}")
    boxes = np.full((len(inst_t), 4), np.nan) if bboxes is None else np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(inst_t, kind="stable")
    pos = np.searchsorted(times, inst_t[order])
    bounds = np.searchsorted(pos, np.arange(len(times) + 1))
    gates = InstanceGates(policy, camera, event_type)
    out = []
    for i, t in enumerate(times.tolist()):
        rows = order[bounds[i]:bounds[i + 1]]
        items = []
        for r in rows:
            b = boxes[r]
            items.append((keys[r], float(scores[r]), None if np.isnan(b).any() else tuple(b.tolist())))
        out += gates.update(t, items)
    return out
