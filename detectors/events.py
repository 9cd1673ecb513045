"""The shared vocabulary of the testbed: the eight event types of decree n° 2023-828 and the alert.

This is the one module of ``detectors`` that ``sim`` may import (to label ground truth).
Strings appear only at the file boundary (JSON Lines); inside the code event types are
:class:`EventType` members.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import Enum


class EventType(str, Enum):
    """The eight kinds of events the decree allows algorithms to report."""

    ABANDONED_OBJECT = "abandoned_object"
    WEAPON = "weapon"
    WRONG_WAY = "wrong_way"
    INTRUSION = "intrusion"
    PERSON_ON_GROUND = "person_on_ground"
    CROWD_MOVEMENT = "crowd_movement"
    EXCESSIVE_DENSITY = "excessive_density"
    FIRE = "fire"

    @classmethod
    def parse(cls, value: "str | EventType", *, field: str = "type") -> "EventType":
        """Return the member named ``value``; raise ``ValueError`` naming ``field`` otherwise."""
        if isinstance(value, EventType):
            return value
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(e.value for e in cls)
            raise ValueError(f"{field} must be one of {names}; got {value!r}") from None

    def __str__(self) -> str:  # so f-strings and JSON show the file name
        return self.value


#: [s] Longest delay after an event's start that still counts as a detection (the grace
#: period of the matching window). An operator must hear about a person on the tracks
#: within seconds; an abandoned object is only "abandoned" after a while.
MAX_LATENCY_S: dict[EventType, float] = {
    EventType.ABANDONED_OBJECT: 30.0,
    EventType.WEAPON: 5.0,
    EventType.WRONG_WAY: 5.0,
    EventType.INTRUSION: 3.0,
    EventType.PERSON_ON_GROUND: 10.0,
    EventType.CROWD_MOVEMENT: 5.0,
    EventType.EXCESSIVE_DENSITY: 10.0,
    EventType.FIRE: 10.0,
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as any detector or vendor system emits it.

    ``t`` is seconds since the start of the stream, ``score`` the detector's confidence
    (any monotone scale; higher means more sure), ``bbox`` an optional ``(x, y, w, h)``
    box in pixels of the camera's image.
    """

    camera: str
    type: EventType
    t: float
    score: float
    bbox: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", EventType.parse(self.type))
        if not math.isfinite(self.t) or self.t < 0:
            raise ValueError(f"alert.t must be a finite time >= 0 s; got {self.t!r}")
        if not math.isfinite(self.score):
            raise ValueError(f"alert.score must be finite; got {self.score!r}")
        if self.bbox is not None:
            if len(self.bbox) != 4:
                raise ValueError(f"alert.bbox must be [x, y, w, h]; got {self.bbox!r}")
            object.__setattr__(self, "bbox", tuple(float(v) for v in self.bbox))
            if self.bbox[2] < 0 or self.bbox[3] < 0:
                raise ValueError(f"alert.bbox width and height must be >= 0; got {self.bbox!r}")

    def to_dict(self) -> dict:
        out = {"camera": self.camera, "type": self.type.value, "t": round(self.t, 4), "score": round(self.score, 6)}
        if self.bbox is not None:
            out["bbox"] = [round(v, 2) for v in self.bbox]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(", ", ": "))

    @classmethod
    def from_dict(cls, d: dict, *, where: str = "alert") -> "Alert":
        """Build from one JSON Lines record; errors name ``where`` once, then the key."""
        if not isinstance(d, dict):
            raise ValueError(f"{where}: expected an object {{camera, type, t, score, bbox}}; got {type(d).__name__}")
        missing = [k for k in ("camera", "type", "t", "score") if k not in d]
        if missing:
            raise ValueError(f"{where}: missing key(s) {', '.join(missing)}; got keys {sorted(map(str, d))}")
        unknown = sorted(str(k) for k in set(d) - {"camera", "type", "t", "score", "bbox"})
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}")
        camera = d["camera"]
        if not isinstance(camera, str) or not camera:
            raise ValueError(f"{where}: camera: expected a camera name; got {_short(camera)}")
        etype = EventType.parse(d["type"], field=f"{where}: type")
        t, score = _number(d["t"], f"{where}: t"), _number(d["score"], f"{where}: score")
        bbox = d.get("bbox")
        if bbox is not None:
            if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
                raise ValueError(f"{where}: bbox: expected [x, y, w, h] or null; got {_short(bbox)}")
            bbox = tuple(_number(v, f"{where}: bbox") for v in bbox)
        try:
            return cls(camera=camera, type=etype, t=t, score=score, bbox=bbox)
        except ValueError as exc:  # the alert's own checks (t >= 0, box sizes >= 0)
            raise ValueError(f"{where}: {exc}") from None


def _number(value, where: str) -> float:
    """A JSON number as a float (not a string, not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where}: expected a number; got {_short(value)}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{where}: expected a finite number; got {_short(value)}") from None


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def read_alerts(path) -> list[Alert]:
    """Read an alerts JSON Lines file; errors name the line."""
    alerts = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from None
            alerts.append(Alert.from_dict(d, where=f"{path}:{n}"))
    return alerts


def write_alerts(path, alerts) -> None:
    """Write alerts as JSON Lines atomically (a temporary file renamed into place)."""
    from detectors.files import atomic_write_text

    atomic_write_text(path, "".join(a.to_json() + "\n" for a in alerts))
