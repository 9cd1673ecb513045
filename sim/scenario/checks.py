"""Checks of a whole scenario, run when it is built and before any simulation starts.

The schema checks each field on its own; these check the parts against each other: zones
of incompatible kinds that share floor, cameras that see none of the station, trains that
name a missing doorway, events placed off the floor or after the end. Each event and
distractor checks itself (:meth:`sim.scenario.events.ScenarioItem.check`) through the
:class:`ItemChecks` it is given. Every failure is a
:class:`~sim.scenario.keys.LocatedError` that names the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.geometry import points_in_interior, points_in_polygon, polygons_overlap
from sim.scenario.keys import LocatedError
from sim.scenario.trains import check_trains

if TYPE_CHECKING:
    from sim.scenario.cameras import CameraSpec
    from sim.scenario.scenario import Scenario

#: zone kinds that cannot share floor: a forbidden area is no corridor and has no capacity
_INCOMPATIBLE_KINDS = {frozenset({"forbidden", "one_way"}), frozenset({"forbidden", "density"})}


class ItemChecks:
    """What an event or distractor may check against its scenario; each method raises
    :class:`LocatedError` at ``loc`` (a key path such as ``("events", 2, "at")``)."""

    def __init__(self, sc: "Scenario") -> None:
        self.duration_s = sc.duration_s
        self.walkable = np.asarray(sc.station.walkable, dtype=np.float64)
        self.obstacles = [np.asarray(o, dtype=np.float64) for o in sc.station.obstacles]
        self.exits = {p.name for p in sc.station.exits}
        self.density_zones = sorted(z.name for z in sc.station.zones if z.kind == "density")
        self.has_one_way = any(z.kind == "one_way" for z in sc.station.zones)

    @staticmethod
    def fail(loc: tuple, msg: str) -> None:
        raise LocatedError(loc, msg)

    def within_run(self, loc: tuple, t_s: float) -> None:
        if not 0 <= t_s <= self.duration_s:
            self.fail(loc, f"must be within [0, duration_s={self.duration_s:g}]; got {t_s:g}")

    def on_floor(self, loc: tuple, point, what: str = "point") -> None:
        p = np.asarray(point, dtype=np.float64)[None]
        shown = f"({point[0]:g}, {point[1]:g})"
        if not points_in_polygon(p, self.walkable)[0]:
            self.fail(loc, f": {what} {shown} is outside station.walkable")
        for k, obs in enumerate(self.obstacles):
            if points_in_polygon(p, obs)[0]:
                self.fail(loc, f": point {shown} is inside station.obstacles[{k}]")

    def exit(self, loc: tuple, name: str | None) -> None:
        if name is not None and name not in self.exits:
            self.fail(loc, f"must name an exit ({', '.join(sorted(self.exits)) or 'none defined'}); got {name!r}")

    def positive_range(self, loc: tuple, lo_hi, unit: str) -> None:
        lo, hi = lo_hi
        if not 0 < lo <= hi:
            self.fail(loc, f"must be [low, high] with 0 < low <= high {unit}; got {list(lo_hi)}")

    def density_zone(self, loc: tuple, name: str) -> None:
        if name not in self.density_zones:
            self.fail(loc, f"must name a density zone ({', '.join(self.density_zones) or 'none defined'}); got {name!r}")

    def one_way(self, loc: tuple, what: str) -> None:
        if not self.has_one_way:
            self.fail(loc, f"{what} needs a one_way zone in station.zones; got none")


def check_scenario(sc: "Scenario") -> None:
    """Every check of a built scenario, in file order: the station, the trains, the events and
    distractors, the cameras."""
    _check_zones(sc)
    _check_cameras_see_the_station(sc)
    check_trains(sc)
    ctx = ItemChecks(sc)
    for section, items in (("events", sc.events), ("distractors", sc.distractors)):
        for i, item in enumerate(items):
            item.check(ctx, (section, i))
    names = [c.name for c in sc.cameras]
    if len(set(names)) != len(names):
        raise LocatedError(("cameras",), f"camera names must be unique; got {names}")
    if (sc.station.entrances or sc.station.trains or sc.crowd.initial_count) and not sc.station.exits:
        raise LocatedError(("station", "exits"), "people arrive but there is no exit; add at least one")


def _check_zones(sc: "Scenario") -> None:
    zones = sc.station.zones
    for i in range(len(zones)):
        for j in range(i + 1, len(zones)):
            a, b = zones[i], zones[j]
            if frozenset({a.kind, b.kind}) in _INCOMPATIBLE_KINDS and polygons_overlap(a.polygon, b.polygon):
                raise LocatedError(("station", "zones", j), f"zone {b.name!r} ({b.kind}) overlaps zone {a.name!r} "
                                   f"({a.kind}) at zones[{i}]; a {a.kind} and a {b.kind} zone cannot share floor")
            if a.kind == b.kind == "one_way" and polygons_overlap(a.polygon, b.polygon):
                diff = abs((a.direction_deg - b.direction_deg + 180) % 360 - 180)
                if diff > 90:
                    raise LocatedError(("station", "zones", j), f"one_way zone {b.name!r} overlaps one_way zone "
                                       f"{a.name!r} with a direction {diff:g} degrees apart ({b.direction_deg:g} vs "
                                       f"{a.direction_deg:g})")


def _check_cameras_see_the_station(sc: "Scenario") -> None:
    for k, cam in enumerate(sc.cameras):
        if camera_sees_station(cam, sc.station.walkable) == 0.0:
            raise LocatedError(("cameras", k), f"camera {cam.name!r} sees none of the station: no point of "
                               f"station.walkable projects into its {cam.resolution[0]}x{cam.resolution[1]} image "
                               f"(position {list(cam.position)}, look_at {list(cam.look_at)})")


def camera_sees_station(cam: "CameraSpec", walkable: list, spacing_m: float = 0.5) -> float:
    """Share of the image rows and columns over which the walkable floor shows (0 = sees none of it)."""
    from sim.render.camera import PinholeCamera

    poly = np.asarray(walkable, float)
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    xs = np.arange(lo[0], hi[0] + spacing_m, spacing_m)
    ys = np.arange(lo[1], hi[1] + spacing_m, spacing_m)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    grid = grid[points_in_interior(grid, poly)] if len(grid) else grid
    if len(grid) == 0:
        return 0.0
    pc = PinholeCamera.from_spec(cam)
    uv, depth = pc.project(np.c_[grid, np.zeros(len(grid))])
    w, h = cam.resolution
    ok = (depth > 0) & np.isfinite(uv).all(axis=1)
    ok &= (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    return float(ok.mean())
