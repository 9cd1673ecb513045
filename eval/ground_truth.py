"""The ground-truth file, ``ground_truth.json``: one shape written everywhere, read with its key paths.

``stationwatch run``, ``render`` and every experiment cell write the same object
(:func:`ground_truth_record`)::

    {"format": "stationwatch.ground_truth/1", "scenario": "platform_intrusion", "seed": 21,
     "duration_s": 70.0,
     "cameras": [{"name": "platform", "fps": 10.0, "resolution": [640, 360], "duration_s": 70.0}],
     "instances": [{"id", "type", "camera", "t_start", "t_end", "bbox_at_onset", ...}],
     "world_events": [{...}],
     "variant": "night", "overrides": {"render.lighting": "night"}}   # experiment cells only

``duration_s`` is the longest camera's; each camera gives its own. :func:`read_ground_truth_file`
reads that object or a bare list of instance records (the record shape of DESIGN.md, as
another tool may write it; the scored duration then comes from the caller). Every error
is a :class:`GroundTruthError` naming the file and the key path.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from eval.matching import Instance

FORMAT = "stationwatch.ground_truth/1"
#: keys of the file's top-level object
KEYS = ("format", "scenario", "seed", "duration_s", "cameras", "instances", "world_events", "world_context", "variant",
        "overrides")
#: keys of one entry of ``cameras``
CAMERA_KEYS = ("name", "fps", "resolution", "duration_s")


class GroundTruthError(ValueError):
    """A ground-truth file that cannot be used; the message names the file and the key path."""


@dataclass(frozen=True)
class CameraInfo:
    """One camera of a ground-truth file; ``fps``, ``resolution`` and ``duration_s`` may be unknown."""

    name: str
    fps: float | None = None  #: [frames/s]
    resolution: tuple[int, int] | None = None  #: [px] (width, height)
    duration_s: float | None = None  #: [s] length of this camera's footage


@dataclass(frozen=True)
class GroundTruth:
    """What a ground-truth file holds; ``bare`` when it was a bare list of instance records."""

    instances: list[Instance]
    duration_s: float | None = None  #: [s] the longest camera's footage (None in a bare list)
    cameras: tuple[CameraInfo, ...] = ()
    scenario: str | None = None
    seed: int | None = None
    bare: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)  #: world_events, variant, overrides as read

    def camera_names(self) -> list[str]:
        """The cameras of the file: its ``cameras`` list, or those its instances name."""
        if self.cameras:
            return [c.name for c in self.cameras]
        return sorted({i.camera for i in self.instances})

    def camera_duration(self, name: str) -> float | None:
        """[s] The footage length of camera ``name``: its own ``duration_s``, else the file's (None if neither)."""
        info = next((c for c in self.cameras if c.name == name), None)
        own = info.duration_s if info is not None else None
        return own if own is not None else self.duration_s


def camera_entry(name: str, fps: float, resolution: Sequence[int], duration_s: float) -> dict:
    """One entry of ``cameras``."""
    return {"name": str(name), "fps": float(fps), "resolution": [int(v) for v in resolution],
            "duration_s": float(duration_s)}


def ground_truth_record(*, scenario: str, seed: int, cameras: Sequence[Mapping], instances: Sequence[Mapping],
                        world_events: Sequence[Mapping], world_context: Sequence[Mapping] | None = None,
                        variant: str | None = None, overrides: Mapping | None = None) -> dict:
    """The file's object (see the module docstring); ``cameras`` from :func:`camera_entry`.

    ``variant`` and ``overrides`` are written when ``variant`` is given (experiment cells).
    """
    cams = [dict(c) for c in cameras]
    record: dict[str, Any] = {
        "format": FORMAT, "scenario": str(scenario), "seed": int(seed),
        "duration_s": max((float(c["duration_s"]) for c in cams), default=0.0),
        "cameras": cams, "instances": list(instances), "world_events": list(world_events),
    }
    if world_context is not None:  # what the scene held besides events (trains at the platform, ...)
        record["world_context"] = list(world_context)
    if variant is not None:
        record["variant"] = str(variant)
        record["overrides"] = dict(overrides or {})
    return record


# --- reading -------------------------------------------------------------------------------------


def read_ground_truth_file(path: str | os.PathLike) -> GroundTruth:
    """Read and check a ground-truth file (the object above, or a bare list of instance records)."""
    from detectors.files import read_text
    from eval.results import unique_keys

    where = os.fspath(path)
    text = read_text(path, GroundTruthError, "ground-truth file")

    try:
        data = json.loads(text, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        raise GroundTruthError(f"{where}: not JSON ({exc.msg} at line {exc.lineno})") from None
    except ValueError as exc:  # a key given twice
        raise GroundTruthError(f"{where}: not JSON ({exc})") from None
    except RecursionError:
        raise GroundTruthError(f"{where}: not JSON (nested too deeply)") from None
    return ground_truth_from_data(data, where=where)


def ground_truth_from_data(data: Any, *, where: str = "ground_truth") -> GroundTruth:
    """Check parsed JSON as a ground-truth file; errors name ``where`` and the key path."""
    if isinstance(data, list):
        return GroundTruth(instances=_instances(data, where), bare=True)
    if not isinstance(data, Mapping):
        raise GroundTruthError(f"{where}: expected an object with key 'instances' (format {FORMAT}) or a bare list "
                               f"of instance records; got {type(data).__name__}")
    if "instances" not in data:
        raise GroundTruthError(f"{where}: expected a list of instance records or an object with key 'instances'; "
                               f"got keys {sorted(map(str, data))}")
    unknown = sorted(str(k) for k in data if k not in KEYS)
    if unknown:
        raise GroundTruthError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(KEYS)}")
    fmt = data.get("format", FORMAT)
    if fmt != FORMAT:
        raise GroundTruthError(f"{where}.format: expected {FORMAT!r}; got {_short(fmt)}")
    scenario = data.get("scenario")
    if scenario is not None and not isinstance(scenario, str):
        raise GroundTruthError(f"{where}.scenario: expected a scenario name; got {_short(scenario)}")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise GroundTruthError(f"{where}.seed: expected an integer >= 0; got {_short(seed)}")
    duration = data.get("duration_s")
    if duration is not None:
        duration = _seconds(duration, f"{where}.duration_s", positive=True)
    variant = data.get("variant")
    if variant is not None and not isinstance(variant, str):
        raise GroundTruthError(f"{where}.variant: expected a variant name; got {_short(variant)}")
    if not isinstance(data.get("overrides", {}), Mapping):
        raise GroundTruthError(f"{where}.overrides: expected a mapping of dotted keys; got {_short(data['overrides'])}")
    events = data.get("world_events", [])
    if not isinstance(events, list):
        raise GroundTruthError(f"{where}.world_events: expected a list of objects; got {_short(events)}")
    for k, ev in enumerate(events):
        if not isinstance(ev, Mapping):
            raise GroundTruthError(f"{where}.world_events[{k}]: expected an object; got {_short(ev)}")
    cameras = _cameras(data.get("cameras", []), f"{where}.cameras")
    if not isinstance(data["instances"], list):
        raise GroundTruthError(f"{where}.instances: expected a list of instance records; got "
                               f"{type(data['instances']).__name__}")
    instances = _instances(data["instances"], f"{where}.instances")
    names = [c.name for c in cameras]
    if names:
        for k, inst in enumerate(instances):
            if inst.camera not in names:
                raise GroundTruthError(f"{where}.instances[{k}].camera: {inst.camera!r} is not among the cameras "
                                       f"({', '.join(names)})")
    extra = {k: data[k] for k in ("world_events", "variant", "overrides") if k in data}
    return GroundTruth(instances=instances, duration_s=duration, cameras=cameras, scenario=scenario, seed=seed,
                       extra=extra)


def _instances(records: list, where: str) -> list[Instance]:
    out = []
    for k, d in enumerate(records):
        try:
            out.append(Instance.from_dict(d, where=f"{where}[{k}]"))
        except (ValueError, TypeError) as exc:
            raise GroundTruthError(str(exc)) from None
    return out


def _cameras(value: Any, where: str) -> tuple[CameraInfo, ...]:
    if not isinstance(value, list):
        raise GroundTruthError(f"{where}: expected a list of {{name, fps, resolution, duration_s}}; "
                               f"got {_short(value)}")
    out = []
    for k, c in enumerate(value):
        at = f"{where}[{k}]"
        if not isinstance(c, Mapping):
            raise GroundTruthError(f"{at}: expected an object {{name, fps, resolution, duration_s}}; got {_short(c)}")
        unknown = sorted(str(key) for key in c if key not in CAMERA_KEYS)
        if unknown:
            raise GroundTruthError(f"{at}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
                                   f"{', '.join(CAMERA_KEYS)}")
        name = c.get("name")
        if not isinstance(name, str) or not name:
            raise GroundTruthError(f"{at}.name: expected a camera name; got {_short(name)}")
        fps = None if c.get("fps") is None else _seconds(c["fps"], f"{at}.fps", positive=True, what="a frame rate > 0")
        res = c.get("resolution")
        if res is not None:
            if (not isinstance(res, list) or len(res) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in res)):
                raise GroundTruthError(f"{at}.resolution: expected [width, height] in pixels > 0; got {_short(res)}")
            res = (int(res[0]), int(res[1]))
        dur = None if c.get("duration_s") is None else _seconds(c["duration_s"], f"{at}.duration_s", positive=False)
        out.append(CameraInfo(name=name, fps=fps, resolution=res, duration_s=dur))
    names = [c.name for c in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise GroundTruthError(f"{where}: camera name(s) {', '.join(map(repr, twice))} appear more than once")
    return tuple(out)


def _seconds(value: Any, where: str, *, positive: bool, what: str | None = None) -> float:
    try:  # an integer too large for a float (JSON integers have no limit) is no number of seconds either
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    except OverflowError:
        ok = False
    if not ok or (value <= 0 if positive else value < 0):
        what = what or f"a number of seconds {'>' if positive else '>='} 0"
        raise GroundTruthError(f"{where}: expected {what}; got {_short(value)}")
    return float(value)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
