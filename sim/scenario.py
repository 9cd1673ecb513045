"""Scenario files: the YAML contract that describes one simulated station run.

A scenario is validated on load. Unknown keys are rejected with the key's path, every
error names the field, what was expected and what came::

    scenario 'platform_fall': events[2].at_s must be within [0, duration_s=120]; got 150

A scenario can ``extend`` another one (by library name or by path) and override keys:
mappings merge key by key, lists and scalars replace. The library lives in the
``scenarios`` folder of the repository (shipped as package data); files whose name starts
with ``_`` are bases that :func:`list_scenarios` does not show.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from detectors.events import EventType

Point2 = tuple[float, float]
Point3 = tuple[float, float, float]
Polygon = Annotated[list[Point2], Field(min_length=3, description="[m] vertices on the ground plane")]


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the path of the bad key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- station -------------------------------------------------------------------------


class ZoneSpec(_Strict):
    """A named ground area with a rule: forbidden, one way, or density-capped."""

    name: str
    kind: Literal["forbidden", "one_way", "density"]
    polygon: Polygon
    direction_deg: float | None = Field(None, description="[deg] allowed direction of travel, ccw from +x (one_way)")
    capacity_per_m2: float | None = Field(None, gt=0, description="[persons/m²] density threshold (density)")

    @model_validator(mode="after")
    def _kind_fields(self) -> "ZoneSpec":
        if self.kind == "one_way" and self.direction_deg is None:
            raise ValueError("a one_way zone needs direction_deg")
        if self.kind == "density" and self.capacity_per_m2 is None:
            raise ValueError("a density zone needs capacity_per_m2")
        _check_simple_polygon(self.polygon)
        return self


class PortalSpec(_Strict):
    """An entrance or exit: a segment of the boundary where agents appear or leave."""

    name: str
    segment: tuple[Point2, Point2] = Field(description="[m] the two ends of the doorway")
    rate_per_min: float = Field(0.0, ge=0, description="[persons/min] Poisson arrival rate (entrances)")


class TrainSpec(_Strict):
    """A train arrival: ``count`` passengers released at an entrance over ``release_s``."""

    at_s: float = Field(ge=0, description="[s] arrival time")
    entrance: str = Field(description="name of the entrance the passengers come through")
    count: int = Field(gt=0, description="passengers released")
    release_s: float = Field(10.0, gt=0, description="[s] time over which they alight")
    exit: str | None = Field(None, description="exit the passengers head for (random among exits if not given)")


class StationSpec(_Strict):
    walkable: Polygon = Field(description="[m] the floor pedestrians may use")
    obstacles: list[Polygon] = Field(default_factory=list, description="[m] pillars, walls, gate housings")
    track_beds: list[Polygon] = Field(default_factory=list, description="[m] drawn below the platform, not walkable")
    platform_edges: list[tuple[Point2, Point2]] = Field(default_factory=list, description="[m] edge segments")
    safety_line_m: float = Field(0.5, ge=0, description="[m] distance of the painted safety line from the edge")
    zones: list[ZoneSpec] = Field(default_factory=list)
    entrances: list[PortalSpec] = Field(default_factory=list)
    exits: list[PortalSpec] = Field(default_factory=list)
    trains: list[TrainSpec] = Field(default_factory=list)

    @field_validator("walkable")
    @classmethod
    def _walkable_simple(cls, v):
        _check_simple_polygon(v)
        return v

    @field_validator("obstacles")
    @classmethod
    def _obstacles_simple(cls, v):
        for poly in v:
            _check_simple_polygon(poly)
        return v


# --- people and cameras ---------------------------------------------------------------


class CrowdSpec(_Strict):
    speed_mean_mps: float = Field(1.34, gt=0, description="[m/s] mean desired speed (v0), Weidmann 1993")
    speed_std_mps: float = Field(0.26, ge=0, description="[m/s] spread of desired speeds")
    radius_m: tuple[float, float] = Field((0.2, 0.26), description="[m] body radius range (uniform)")
    height_mean_m: float = Field(1.70, gt=0.5, lt=2.5, description="[m] mean body height")
    height_std_m: float = Field(0.09, ge=0, description="[m] spread of body heights")
    initial_count: int = Field(0, ge=0, description="agents already walking at t = 0")
    wait_fraction: float = Field(0.3, ge=0, le=1, description="share of arrivals that stop and wait a while")
    wait_s: tuple[float, float] = Field((5.0, 30.0), description="[s] range of waiting times")
    max_agents: int = Field(3000, gt=0, description="arrivals beyond this many agents present are dropped")


class CameraSpec(_Strict):
    name: str
    position: Point3 = Field(description="[m] camera centre (x, y, z); z is the mounting height")
    look_at: Point3 = Field(description="[m] the point the optical axis passes through")
    hfov_deg: float = Field(70.0, gt=5, lt=170, description="[deg] horizontal field of view")
    resolution: tuple[int, int] = Field((640, 360), description="[px] width, height")
    fps: float = Field(10.0, gt=0, le=60, description="[frames/s]")

    @model_validator(mode="after")
    def _looks_down(self) -> "CameraSpec":
        d = np.subtract(self.look_at, self.position)
        n = float(np.linalg.norm(d))
        if n < 1e-6:
            raise ValueError("look_at must differ from position")
        if self.position[2] <= 0:
            raise ValueError(f"position z (mounting height) must be > 0 m; got {self.position[2]}")
        # the optical axis must point below the horizon so that the floor fills part of the view
        if d[2] / n > -math.sin(math.radians(2.0)):
            raise ValueError(
                f"the camera looks at the sky or the horizon: look_at z={self.look_at[2]} must lie below "
                f"position z={self.position[2]} by at least 2 degrees of pitch"
            )
        w, h = self.resolution
        if not (16 <= w <= 8192 and 16 <= h <= 8192):
            raise ValueError(f"resolution must be within [16, 8192] px per side; got {self.resolution}")
        return self


class RenderSpec(_Strict):
    brightness: float = Field(1.0, gt=0, le=2, description="global lighting gain (1 = daylight hall)")
    noise_std: float = Field(2.0, ge=0, le=50, description="[grey levels] Gaussian sensor noise")
    blur_px: float = Field(0.0, ge=0, le=10, description="[px] Gaussian blur sigma (focus, motion)")
    jpeg_quality: int = Field(85, ge=0, le=100, description="JPEG round trip quality; 0 turns it off")
    shake_px: float = Field(0.0, ge=0, le=20, description="[px] camera shake amplitude")


# --- injected events -------------------------------------------------------------------


class _EventBase(_Strict):
    at_s: float = Field(description="[s] when the behaviour starts")
    id: str | None = None


class IntrusionEvent(_EventBase):
    """Someone walks from ``start`` along ``path`` into a forbidden zone, stays, and walks back."""

    type: Literal["intrusion"]
    start: Point2 = Field(description="[m] where the person appears (on the walkable floor)")
    path: list[Point2] = Field(min_length=1, description="[m] waypoints walked in order")
    dwell_s: float = Field(3.0, ge=0, description="[s] time spent standing at waypoint dwell_index")
    dwell_index: int = Field(-1, description="which waypoint of path to stand at (negative counts from the end)")
    exit: str | None = Field(None, description="exit to leave by afterwards (nearest if not given)")


EventSpec = Annotated[Union[IntrusionEvent], Field(discriminator="type")]


# --- the scenario ----------------------------------------------------------------------


class Scenario(_Strict):
    name: str
    description: str = ""
    duration_s: float = Field(gt=0, le=24 * 3600, description="[s] simulated time")
    seed: int = Field(0, ge=0)
    dt_s: float = Field(0.05, gt=0, le=0.2, description="[s] simulation time step")
    station: StationSpec
    crowd: CrowdSpec = CrowdSpec()
    cameras: list[CameraSpec] = Field(min_length=1)
    render: RenderSpec = RenderSpec()
    events: list[EventSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_checks(self) -> "Scenario":
        _station_checks(self)
        for i, ev in enumerate(self.events):
            if not 0 <= ev.at_s <= self.duration_s:
                raise _LocError(("events", i, "at_s"), f"must be within [0, duration_s={self.duration_s:g}]; got {ev.at_s:g}")
        entrances = {p.name for p in self.station.entrances}
        exits = {p.name for p in self.station.exits}
        for i, tr in enumerate(self.station.trains):
            if tr.entrance not in entrances:
                raise _LocError(("station", "trains", i, "entrance"), f"must name an entrance ({', '.join(sorted(entrances)) or 'none defined'}); got {tr.entrance!r}")
            if tr.exit is not None and tr.exit not in exits:
                raise _LocError(("station", "trains", i, "exit"), f"must name an exit ({', '.join(sorted(exits))}); got {tr.exit!r}")
            if tr.at_s > self.duration_s:
                raise _LocError(("station", "trains", i, "at_s"), f"must be within [0, duration_s={self.duration_s:g}]; got {tr.at_s:g}")
        for i, ev in enumerate(self.events):
            if isinstance(ev, IntrusionEvent) and not -len(ev.path) <= ev.dwell_index < len(ev.path):
                raise _LocError(("events", i, "dwell_index"), f"must index path (length {len(ev.path)}); got {ev.dwell_index}")
            if isinstance(ev, IntrusionEvent) and ev.exit is not None and ev.exit not in exits:
                raise _LocError(("events", i, "exit"), f"must name an exit ({', '.join(sorted(exits))}); got {ev.exit!r}")
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise _LocError(("cameras",), f"camera names must be unique; got {names}")
        if (self.station.entrances or self.station.trains or self.crowd.initial_count) and not self.station.exits:
            raise _LocError(("station", "exits"), "people arrive but there is no exit; add at least one")
        return self

    # convenience ----------------------------------------------------------------------
    def camera(self, name: str) -> CameraSpec:
        for c in self.cameras:
            if c.name == name:
                return c
        raise KeyError(f"scenario {self.name!r} has no camera {name!r}; cameras: {[c.name for c in self.cameras]}")

    def event_type(self, ev) -> EventType:
        return EventType(ev.type)

    def content_hash(self) -> str:
        """SHA-256 of the resolved scenario (after ``extend``), stable across key order."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def with_overrides(self, **changes: Any) -> "Scenario":
        """A copy with top-level or dotted keys replaced, validated again."""
        data = self.model_dump(mode="json")
        for dotted, value in changes.items():
            _set_dotted(data, dotted.replace("__", "."), value)
        return build_scenario(data, where=self.name)


class _LocError(ValueError):
    def __init__(self, loc: tuple, msg: str) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


# --- loading ---------------------------------------------------------------------------


def library_dir() -> Path:
    """The folder holding the scenario library (``scenarios/`` in the repository)."""
    # The repository keeps scenarios/ beside sim/; an installed wheel puts the data package
    # scenarios/ beside sim/ in site-packages, so the same relative path serves both.
    return Path(__file__).resolve().parent.parent / "scenarios"


def list_scenarios() -> list[tuple[str, str]]:
    """``(name, one-line description)`` of every scenario in the library, sorted by name."""
    out = []
    for path in sorted(library_dir().glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        sc = load_scenario(path)
        out.append((sc.name, sc.description.strip().splitlines()[0] if sc.description.strip() else ""))
    return out


def _resolve_path(ref: str | os.PathLike, base_dir: Path | None = None) -> Path:
    p = Path(ref)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_absolute() and base_dir is not None and (base_dir / p).exists():
            return base_dir / p
        if p.exists():
            return p
        lib = library_dir() / p.name
        if lib.exists():
            return lib
        raise ScenarioError(f"scenario file {os.fspath(ref)!r} does not exist")
    if base_dir is not None and (base_dir / f"{ref}.yaml").exists():
        return base_dir / f"{ref}.yaml"
    lib = library_dir() / f"{ref}.yaml"
    if lib.exists():
        return lib
    names = ", ".join(n for n, _ in list_scenarios())
    raise ScenarioError(f"no scenario named {os.fspath(ref)!r} in the library ({names})")


def _read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario must be a mapping at the top level; got {type(data).__name__}")
    return data


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def _raw_with_extends(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    if path.resolve() in chain:
        cycle = " -> ".join(p.stem for p in (*chain, path.resolve()))
        raise ScenarioError(f"scenario extends itself in a cycle: {cycle}")
    data = _read_yaml(path)
    parent_ref = data.pop("extend", None)
    if parent_ref is None:
        return data
    if not isinstance(parent_ref, str):
        raise ScenarioError(f"{path}: extend must be a scenario name or file; got {parent_ref!r}")
    parent = _raw_with_extends(_resolve_path(parent_ref, path.parent), (*chain, path.resolve()))
    parent.pop("description", None) if "description" in data else None
    return _merge(parent, data)


def load_scenario(ref: str | os.PathLike, overrides: dict | None = None) -> Scenario:
    """Load a scenario by library name or file path, resolve ``extend``, apply overrides, validate.

    ``overrides`` maps dotted keys to values: ``{"seed": 3, "render.noise_std": 6}``.
    """
    path = _resolve_path(ref)
    data = _raw_with_extends(path)
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    return build_scenario(data, where=data.get("name") or path.stem)


def build_scenario(data: dict, *, where: str = "?") -> Scenario:
    """Validate a mapping as a scenario; raise :class:`ScenarioError` naming the bad key."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_validation_error(exc, data, where)) from None


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    cur: Any = data
    for k in keys[:-1]:
        if isinstance(cur, list):
            cur = cur[int(k)]
        else:
            cur = cur.setdefault(k, {})
    last = keys[-1]
    if isinstance(cur, list):
        cur[int(last)] = value
    else:
        cur[last] = value


def _loc_str(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _lookup(data: Any, loc: tuple) -> Any:
    cur = data
    for part in loc:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


def _format_validation_error(exc: ValidationError, data: dict, where: str) -> str:
    lines = []
    for err in exc.errors(include_url=False):
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _LocError):
            lines.append(f"{_loc_str(ctx_err.loc)} {ctx_err.msg}")
            continue
        # drop the discriminator tag pydantic inserts into union paths (events.0.intrusion.x)
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in {e.value for e in EventType}))
        key = _loc_str(loc)
        etype = err["type"]
        if etype == "extra_forbidden":
            lines.append(f"{key}: unknown key (check the spelling; allowed keys are in the README's scenario format)")
            continue
        if etype == "missing":
            lines.append(f"{key}: missing required key")
            continue
        received = err.get("input", _lookup(data, loc))
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if etype == "union_tag_invalid":
            msg = f"event type must be one of {', '.join(sorted(t.value for t in (EventType.INTRUSION,)))} (more come with later versions)"
        if isinstance(received, (dict, list)) and etype == "value_error":
            lines.append(f"{key}: {msg}")  # a whole-object check whose message names the values
        else:
            lines.append(f"{key}: {msg}; got {received!r}" if key else f"{msg}")
    head = f"scenario {where!r}: "
    return head + ("\n  ".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines))


# --- geometry checks used by the schema ----------------------------------------------------


def _segments_intersect(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return (d1 * d2 < 0) and (d3 * d4 < 0)


def _check_simple_polygon(poly) -> None:
    """Raise when a polygon crosses itself or has zero area."""
    pts = [tuple(map(float, p)) for p in poly]
    n = len(pts)
    for i in range(n):
        a, b = pts[i], pts[(i + 1) % n]
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # adjacent through the closing edge
            c, d = pts[j], pts[(j + 1) % n]
            if _segments_intersect(a, b, c, d):
                raise ValueError(
                    f"polygon is self-intersecting: edge {i} {a}->{b} crosses edge {j} {c}->{d}"
                )
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    area = abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2
    if area < 1e-6:
        raise ValueError("polygon has zero area")


# --- whole-station checks (run before any simulation starts) -------------------------------

#: zone kinds that cannot share floor: a forbidden area is no corridor and has no capacity
_INCOMPATIBLE_KINDS = {frozenset({"forbidden", "one_way"}), frozenset({"forbidden", "density"})}


def _strictly_inside(points: np.ndarray, poly: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Points inside ``poly`` and farther than ``eps`` from its boundary."""
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    inside = np.count_nonzero(crosses & (x < x_at), axis=1) % 2 == 1
    # distance to the boundary
    a = np.stack([x0, y0], 1)
    d = np.stack([x1 - x0, y1 - y0], 1)
    rel = points[:, None, :] - a[None]
    tt = np.clip(np.einsum("nkj,kj->nk", rel, d) / np.maximum((d ** 2).sum(1), 1e-12), 0, 1)
    dist = np.linalg.norm(rel - tt[..., None] * d[None], axis=2).min(axis=1)
    return inside & (dist > eps)


def polygons_overlap(p: np.ndarray, q: np.ndarray) -> bool:
    """True when two simple polygons share floor of positive area (touching edges do not count)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    for i in range(len(p)):
        for j in range(len(q)):
            if _segments_intersect(p[i], p[(i + 1) % len(p)], q[j], q[(j + 1) % len(q)]):
                return True
    # containment, or shared outline with one inside the other: test vertices and edge midpoints
    probes_p = np.vstack([p, (p + np.roll(p, -1, axis=0)) / 2, p.mean(axis=0, keepdims=True)])
    probes_q = np.vstack([q, (q + np.roll(q, -1, axis=0)) / 2, q.mean(axis=0, keepdims=True)])
    return bool(_strictly_inside(probes_p, q).any() or _strictly_inside(probes_q, p).any())


def camera_sees_station(cam: CameraSpec, walkable: list, spacing_m: float = 0.5) -> float:
    """Share of the image rows and columns over which the walkable floor shows (0 = sees none of it)."""
    from sim.camera import PinholeCamera

    poly = np.asarray(walkable, float)
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    xs = np.arange(lo[0], hi[0] + spacing_m, spacing_m)
    ys = np.arange(lo[1], hi[1] + spacing_m, spacing_m)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    grid = grid[_strictly_inside(grid, poly, eps=0.0)] if len(grid) else grid
    if len(grid) == 0:
        return 0.0
    pc = PinholeCamera.from_spec(cam)
    uv, depth = pc.project(np.c_[grid, np.zeros(len(grid))])
    w, h = cam.resolution
    ok = (depth > 0) & np.isfinite(uv).all(axis=1)
    ok &= (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    return float(ok.mean())


def _station_checks(sc: "Scenario") -> None:
    zones = sc.station.zones
    for i in range(len(zones)):
        for j in range(i + 1, len(zones)):
            a, b = zones[i], zones[j]
            if frozenset({a.kind, b.kind}) in _INCOMPATIBLE_KINDS and polygons_overlap(a.polygon, b.polygon):
                raise _LocError(("station", "zones", j), f"zone {b.name!r} ({b.kind}) overlaps zone {a.name!r} "
                                f"({a.kind}) at zones[{i}]; a {a.kind} and a {b.kind} zone cannot share floor")
            if a.kind == b.kind == "one_way" and polygons_overlap(a.polygon, b.polygon):
                diff = abs((a.direction_deg - b.direction_deg + 180) % 360 - 180)
                if diff > 90:
                    raise _LocError(("station", "zones", j), f"one_way zone {b.name!r} overlaps one_way zone {a.name!r} "
                                    f"with a direction {diff:g} degrees apart ({b.direction_deg:g} vs {a.direction_deg:g})")
    for k, cam in enumerate(sc.cameras):
        if camera_sees_station(cam, sc.station.walkable) == 0.0:
            raise _LocError(("cameras", k), f"camera {cam.name!r} sees none of the station: no point of "
                            f"station.walkable projects into its {cam.resolution[0]}x{cam.resolution[1]} image "
                            f"(position {list(cam.position)}, look_at {list(cam.look_at)})")
