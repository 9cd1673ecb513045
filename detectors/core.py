"""The detection core: one camera's frames in, alerts out, every score and timing recorded.

Per frame: the shared :class:`~detectors.perception.Perception` once, then each detector's
score, then each detector's per-instance alert gates (:class:`~detectors.policy.InstanceGates`).
The same code runs on rendered footage, a video file and a live camera (anything yielding
:class:`~detectors.source.Frame`). Per-frame scores and per-instance scores are kept so
that thresholds can be swept offline (:func:`~detectors.policy.alerts_from_instances` over
:meth:`instance_table`, or :func:`~detectors.policy.alerts_from_scores` over
:meth:`score_table` for one gate per camera) without running the detectors again. The
timing table has one column per perception stage and per detector.

Example::

    core = DetectionCore(SiteConfig.load("site.yaml"))
    for alerts in core.run(open_source("platform.mp4")):
        for alert in alerts:
            print(alert.to_json())
    core.score_table()   # pyarrow Table, one row per frame and detector
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from detectors.base import Detector, supports
from detectors.events import Alert, EventType
from detectors.perception import STAGES, Perception
from detectors.policy import AlertPolicy, InstanceGates
from detectors.registry import BUILTIN_DETECTORS, get_detector
from detectors.site import SiteConfig
from detectors.source import Frame

_NO_BOX = (math.nan, math.nan, math.nan, math.nan)


def default_policy(detector) -> AlertPolicy:
    """The policy a detector class suggests (threshold, and duration/cooldown if it states them)."""
    kw = {"threshold": float(detector.default_threshold)}
    for attr, key in (("default_min_duration_s", "min_duration_s"), ("default_cooldown_s", "cooldown_s")):
        if hasattr(detector, attr):
            kw[key] = float(getattr(detector, attr))
    return AlertPolicy(**kw)


class DetectionCore:
    """Perception, detectors and alert gates for one camera.

    ``detectors``: None for every built-in detector the site supports (intrusion when the
    site has a forbidden zone, excessive_density when it has a density zone, ...), or a
    sequence of registry names (plug-ins included), detector classes or detector instances.
    Installing a plug-in never changes what runs by default: name it to run it.
    ``policies``: per event type; event types left out get :func:`default_policy`.
    ``perception``: a configured :class:`Perception` for this site (default parameters otherwise).
    """

    def __init__(self, site: SiteConfig, detectors: Sequence | None = None,
                 policies: Mapping[EventType, AlertPolicy] | None = None, *,
                 perception: Perception | None = None) -> None:
        self.site = site
        if perception is not None and perception.site is not site:
            raise ValueError(f"DetectionCore: perception was built for site {perception.site.camera!r}, "
                             f"not for the site given ({site.camera!r})")
        self.perception = perception if perception is not None else Perception(site)
        if detectors is None:
            detectors = [n for n, cls in BUILTIN_DETECTORS.items() if supports(cls, site)]
        self.detectors: tuple[Detector, ...] = tuple(self._instantiate(d) for d in detectors)
        types = [d.event_type for d in self.detectors]
        dupes = sorted({str(t) for t in types if types.count(t) > 1})
        if dupes:
            raise ValueError(f"DetectionCore: one detector per event type (alerts are gated per camera and type); "
                             f"got several for {', '.join(dupes)}")
        policies = dict(policies or {})
        unknown = sorted(str(t) for t in policies if EventType.parse(t, field="policies key") not in types)
        if unknown:
            raise ValueError(f"DetectionCore: policies given for {', '.join(unknown)} but no detector of that type "
                             f"runs (detectors: {', '.join(str(t) for t in types) or 'none'})")
        policies = {EventType.parse(k): v for k, v in policies.items()}
        self.policies = {d.event_type: policies.get(d.event_type) or default_policy(d) for d in self.detectors}
        self.gates = tuple(InstanceGates(self.policies[d.event_type], site.camera, d.event_type)
                           for d in self.detectors)
        self.alerts: list[Alert] = []  #: every alert fired so far, in order
        self._frame: list[int] = []
        self._t: list[float] = []
        self._scores: list[list[float]] = [[] for _ in self.detectors]
        self._bboxes: list[list[tuple]] = [[] for _ in self.detectors]
        self._inst: list[tuple] = []  # (frame, t, detector index, key, score, x, y, w, h), scores > 0 only
        self._stage_s: dict[str, list[float]] = {k: [] for k in STAGES}
        self._detector_s: list[list[float]] = [[] for _ in self.detectors]
        self._perception_s: list[float] = []
        self._detectors_s: list[float] = []
        self._total_s: list[float] = []

    def _instantiate(self, d) -> Detector:
        if isinstance(d, str):
            d = get_detector(d)
        if isinstance(d, type):
            d = d(self.site)
        for attr in ("event_type", "default_threshold", "score"):
            if not hasattr(d, attr):
                raise TypeError(f"DetectionCore: detectors entries must be names, detector classes or instances; "
                                f"{d!r} has no {attr}")
        return d

    def process(self, frame: Frame) -> list[Alert]:
        """Run one frame through perception, detectors and gates; return the alerts it fires."""
        t0 = time.perf_counter()
        percept = self.perception.update(frame)
        t1 = time.perf_counter()
        stage = self.perception.stage_s
        lazy_before = sum(stage.values())
        alerts = []
        for k, (det, gates) in enumerate(zip(self.detectors, self.gates)):
            td = time.perf_counter()
            lazy = sum(stage.values())
            out = det.score(percept)
            instances = out.instances or ((("", out.score, out.bbox),) if out.score > 0 else ())
            alerts += gates.update(frame.t, instances)
            self._scores[k].append(out.score)
            self._bboxes[k].append(_NO_BOX if out.bbox is None else out.bbox)
            for inst in instances:
                key, score, bbox = (inst.key, inst.score, inst.bbox) if hasattr(inst, "key") else inst
                if score > 0:
                    self._inst.append((frame.index, frame.t, k, key, score, *(_NO_BOX if bbox is None else bbox)))
            # flow and crops a detector asks for are perception stages, not its own time
            self._detector_s[k].append(time.perf_counter() - td - (sum(stage.values()) - lazy))
        t2 = time.perf_counter()
        lazy_s = sum(stage.values()) - lazy_before
        self._frame.append(frame.index)
        self._t.append(frame.t)
        for name in STAGES:
            self._stage_s[name].append(stage[name])
        self._perception_s.append(t1 - t0 + lazy_s)
        self._detectors_s.append(t2 - t1 - lazy_s)
        self._total_s.append(t2 - t0)
        self.alerts.extend(alerts)
        return alerts

    def run(self, source: Iterable[Frame]) -> Iterator[list[Alert]]:
        """Process every frame of ``source``; yield each frame's alerts (often an empty list)."""
        for frame in source:
            yield self.process(frame)

    def last_scores(self) -> list[float]:
        """Each detector's score on the last frame processed (empty before the first frame)."""
        return [s[-1] for s in self._scores if s]

    @property
    def frames_processed(self) -> int:
        return len(self._frame)

    def scores(self, event_type: EventType) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(t, score, bbox)`` arrays of one detector: (N,) [s], (N,), (N, 4) [px] with nan rows for no box."""
        i = [d.event_type for d in self.detectors].index(EventType.parse(event_type, field="event_type"))
        return (np.asarray(self._t, dtype=np.float64), np.asarray(self._scores[i], dtype=np.float64),
                np.asarray(self._bboxes[i], dtype=np.float64).reshape(-1, 4))

    def score_table(self):
        """pyarrow Table, one row per detector and frame (detector-major): camera, frame, t,
        type, score, bbox_x, bbox_y, bbox_w, bbox_h (nan when the detector gave no box)."""
        import pyarrow as pa

        n = len(self._frame)
        k = len(self.detectors)
        frame = np.tile(np.asarray(self._frame, dtype=np.int64), k)
        t = np.tile(np.asarray(self._t, dtype=np.float64), k)
        score = np.asarray(self._scores, dtype=np.float64).reshape(-1)
        bbox = np.asarray(self._bboxes, dtype=np.float64).reshape(-1, 4)
        types = np.repeat(np.array([d.event_type.value for d in self.detectors], dtype=object), n)
        return pa.table({
            "camera": pa.array([self.site.camera] * (n * k), pa.string()),
            "frame": frame,
            "t": t,
            "type": pa.array(types.tolist(), pa.string()),
            "score": score,
            "bbox_x": bbox[:, 0], "bbox_y": bbox[:, 1], "bbox_w": bbox[:, 2], "bbox_h": bbox[:, 3],
        })

    def instance_table(self):
        """pyarrow Table, one row per (frame, detector, event instance) with a score > 0: camera,
        frame, t, type, instance, score, bbox_x, bbox_y, bbox_w, bbox_h (for
        :func:`~detectors.policy.alerts_from_instances`)."""
        import pyarrow as pa

        rows = self._inst
        cols = list(zip(*rows)) if rows else [[] for _ in range(9)]
        types = [self.detectors[k].event_type.value for k in cols[2]]
        return pa.table({
            "camera": pa.array([self.site.camera] * len(rows), pa.string()),
            "frame": np.asarray(cols[0], dtype=np.int64),
            "t": np.asarray(cols[1], dtype=np.float64),
            "type": pa.array(types, pa.string()),
            "instance": pa.array(list(cols[3]), pa.string()),
            "score": np.asarray(cols[4], dtype=np.float64),
            "bbox_x": np.asarray(cols[5], dtype=np.float64), "bbox_y": np.asarray(cols[6], dtype=np.float64),
            "bbox_w": np.asarray(cols[7], dtype=np.float64), "bbox_h": np.asarray(cols[8], dtype=np.float64),
        })

    def timing_table(self):
        """pyarrow Table, one row per frame: frame, t [s], ``STAGE_s`` per perception stage
        (:data:`~detectors.perception.STAGES`), ``detector_TYPE_s`` per event type (0 where no detector
        of the type runs), perception_s,
        detectors_s (detectors and alert gates), total_s [s] (``time.perf_counter`` wall time;
        flow and crops a detector asks for count as perception)."""
        import pyarrow as pa

        cols = {
            "frame": np.asarray(self._frame, dtype=np.int64),
            "t": np.asarray(self._t, dtype=np.float64),
        }
        for name in STAGES:
            cols[f"{name}_s"] = np.asarray(self._stage_s[name], dtype=np.float64)
        n = len(self._frame)
        ran = {det.event_type: times for det, times in zip(self.detectors, self._detector_s)}
        for et in EventType:  # every type, so that the tables of all cameras share one schema
            cols[f"detector_{et.value}_s"] = np.asarray(ran.get(et, np.zeros(n)), dtype=np.float64)
        cols["perception_s"] = np.asarray(self._perception_s, dtype=np.float64)
        cols["detectors_s"] = np.asarray(self._detectors_s, dtype=np.float64)
        cols["total_s"] = np.asarray(self._total_s, dtype=np.float64)
        return pa.table(cols)
