"""The detector protocol: one score per frame per detector, from the shared percept.

A detector is a class with

- ``event_type: EventType`` and ``default_threshold: float`` (class attributes; the
  alert policy's threshold unless the caller gives one), optionally
  ``default_min_duration_s`` and ``default_cooldown_s`` [s];
- ``__init__(site, **params)``;
- ``score(percept) -> DetectorOutput``: called once per frame in time order (detectors
  may keep state, e.g. a moving average); the score lies in [0, 1], graded with the
  evidence (so that thresholds can be swept), higher = more sure, 0 while
  ``percept.ready`` is False. Its ``instances`` name the *event instances* the evidence
  belongs to (a track in a zone, a zone, an object on the floor), each with its own score
  and box: the alert policy gates each instance apart, so a second intruder who steps in
  while the first is still there gets an alert of their own. The frame's ``score`` is the
  maximum over instances; a detector that gives no instances is one instance per camera;
- optionally ``supports(site) -> bool`` (classmethod): whether the site has what the
  detector needs (an intrusion detector needs a forbidden zone). Absent means True.

Third-party detectors implement the same protocol and register under the entry-point
group ``stationwatch.detectors`` (see :mod:`detectors.registry`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

from detectors.events import EventType
from detectors.perception import Percept
from detectors.site import SiteConfig


@dataclass(frozen=True, slots=True)
class InstanceScore:
    """The evidence for one event instance in one frame."""

    key: str  #: stable name of the instance while it lasts, e.g. ``"tracks/17"`` (zone / track id)
    score: float  #: in [0, 1]
    bbox: tuple[float, float, float, float] | None = None  #: [px] x, y, w, h, full resolution

    def __post_init__(self) -> None:
        if not math.isfinite(self.score):
            raise ValueError(f"InstanceScore.score must be finite; got {self.score!r} for instance {self.key!r}")
        if self.bbox is not None and len(self.bbox) != 4:
            raise ValueError(f"InstanceScore.bbox must be (x, y, w, h); got {self.bbox!r} for instance {self.key!r}")


@dataclass(frozen=True, slots=True)
class DetectorOutput:
    """A detector's verdict on one frame."""

    score: float  #: higher = more sure; the policy compares it with a threshold
    bbox: tuple[float, float, float, float] | None = None  #: [px] x, y, w, h of the evidence, full resolution
    zone: str | None = None  #: name of the zone that gave the score
    instances: tuple[InstanceScore, ...] = ()  #: per event instance (empty: one instance per camera)

    def __post_init__(self) -> None:
        if not math.isfinite(self.score):
            raise ValueError(f"DetectorOutput.score must be finite; got {self.score!r}")
        if self.bbox is not None and len(self.bbox) != 4:
            raise ValueError(f"DetectorOutput.bbox must be (x, y, w, h); got {self.bbox!r}")

    @classmethod
    def of(cls, instances, zone_of=None) -> "DetectorOutput":
        """The output whose score and box are those of the best of ``instances`` (NOTHING when empty);
        instances sharing a key are one, with the best score. ``zone_of``: optional function from
        an instance key to its zone name."""
        best_of: dict[str, InstanceScore] = {}
        for inst in instances:  # two tracks on one person may share an instance: keep its best evidence
            if inst.key not in best_of or inst.score > best_of[inst.key].score:
                best_of[inst.key] = inst
        instances = tuple(best_of.values())
        if not instances:
            return NOTHING
        best = max(instances, key=lambda i: i.score)
        return cls(best.score, best.bbox, zone_of(best.key) if zone_of else None, instances)


#: The output of a detector that saw nothing.
NOTHING = DetectorOutput(0.0)


@runtime_checkable
class Detector(Protocol):
    event_type: ClassVar[EventType]
    default_threshold: ClassVar[float]

    def __init__(self, site: SiteConfig, **params) -> None: ...

    def score(self, percept: Percept) -> DetectorOutput: ...


def supports(detector_class: type, site: SiteConfig) -> bool:
    """Whether ``detector_class`` can run on ``site`` (its ``supports`` classmethod, else True)."""
    check = getattr(detector_class, "supports", None)
    return True if check is None else bool(check(site))

