"""The static 3-D station a camera looks at, built from a scenario, and rays cast into it.

Walls stand on the boundary of the walkable floor and the track beds (with doorways at
entrances and exits), obstacles are pillars or gate housings, ``render.occluders`` are
hanging signs, and the static distractors add posters, light panels and benches. Each
surface has a kind (:class:`Surface`); :mod:`sim.render.shaders` colours each kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from sim.geometry import points_in_polygon, polygon_signed_area

WALL_PAINTED_TOP_M = 3.0  #: [m] walls and pillars are painted up to here; above is the dark upper structure
BARRIER_HEIGHT_M = 1.05  #: [m] height of gate housings and thin barriers
PILLAR_MIN_SIDE_M = 0.45  #: [m] an obstacle whose footprint is at least this thick on both sides is a pillar
DOOR_HEIGHT_M = 2.3  #: [m] height of the doorway drawn at entrances and exits
TUNNEL_HEIGHT_M = 4.2  #: [m] height of a tunnel mouth at the end of a track bed that trains run through
BENCH_HEIGHT_M = 0.45  #: [m] seat height of a bench (``sitting`` distractors with ``seat: bench``)
BENCH_LENGTH_M = 1.5  #: [m] length of a bench, across the direction it faces
BENCH_DEPTH_M = 0.45  #: [m] depth of a bench's seat, along the direction it faces
WALL_ITEM_OFFSET_M = 0.01  #: [m] posters and wall lights stand this far in front of their wall (no z-fighting)
_UNBOUNDED_M = 1e4  #: [m] top of the walls and pillars (they reach past any camera)


class Surface(IntEnum):
    """What a ray hits: the kinds of surface in the ray-cast buffers."""

    NONE = 0  #: nothing (above the horizon)
    FLOOR = 1  #: the walkable floor
    TRACK = 2  #: a track bed
    GROUND_OUT = 3  #: the ground outside the station
    WALL = 4
    PILLAR = 5
    BARRIER = 6  #: gate housings and thin barriers (their sides)
    BARRIER_TOP = 7
    PANEL = 8  #: a hanging sign (render.occluders)
    POSTER = 9
    LIGHT = 10  #: a flickering light panel
    BENCH = 11  #: a bench's sides
    BENCH_TOP = 12


@dataclass(frozen=True)
class Face:
    """A vertical rectangle standing on the ground segment a-b, from z0 to z1 [m]."""

    a: np.ndarray
    b: np.ndarray
    z0: float
    z1: float
    kind: int
    group: int  #: occluder group (one per obstacle, one per wall face)
    inward: np.ndarray | None  #: walls are one-sided: unit normal into the station
    portals: tuple[tuple[float, float], ...] = ()  #: doorway intervals along a->b, in [0, 1]
    portal_top_m: float = DOOR_HEIGHT_M  #: [m] height of the doorways (a tunnel mouth's is higher)


@dataclass(frozen=True)
class Top:
    """A horizontal polygon at height z [m], seen from above (barrier and bench tops) or below (ceiling lights)."""

    polygon: np.ndarray
    z: float
    group: int
    kind: int = Surface.BARRIER_TOP


@dataclass(frozen=True)
class RayHits:
    """The nearest surface hit by each of N rays (:meth:`StationScene.cast`)."""

    kind: np.ndarray  #: (N,) int8 :class:`Surface`
    s: np.ndarray  #: (N,) ray parameter of the hit (inf where none)
    hit: np.ndarray  #: (N, 3) [m] hit point (the origin where none)
    face: np.ndarray  #: (N,) int32 face index, -2 - top index for tops, -1 for the ground
    group: np.ndarray  #: (N,) int32 occluder group, -1 for the ground


def point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of (N, 2) points to segment a-b and the parameter of the closest point."""
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    closest = a + t[:, None] * ab
    return np.linalg.norm(p - closest, axis=1), t


def _on_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray, tol: float = 1e-3) -> bool:
    d, _ = point_segment_distance(p[None], a, b)
    return bool(d[0] < tol)


def _on_any_edge(p: np.ndarray, polygon: np.ndarray) -> bool:
    return any(_on_segment(p, polygon[m], polygon[(m + 1) % len(polygon)]) for m in range(len(polygon)))


def _obstacle_is_pillar(poly: np.ndarray) -> bool:
    """Thick, compact footprints are pillars (full height); thin ones are gate housings or barriers."""
    c = poly - poly.mean(axis=0)
    _, _, vt = np.linalg.svd(c, full_matrices=False)
    ext = np.ptp(c @ vt.T, axis=0)
    lo, hi = float(ext.min()), float(ext.max())
    return lo >= PILLAR_MIN_SIDE_M and hi <= 3.0 * lo


class StationScene:
    """The static 3-D station built from a scenario's ``station`` block.

    Walls stand on every boundary edge of the walkable floor and the track beds that is
    not shared with another of those polygons and is not a platform edge; they are
    one-sided (seen from inside only) and extend upward without end (painted up to
    :data:`WALL_PAINTED_TOP_M`). Obstacles are pillars (full height) or gate housings and
    barriers (:data:`BARRIER_HEIGHT_M`), told apart by the thickness of their footprint.
    ``occluders`` (a render setting, :class:`sim.scenario.OccluderSpec`) are two-sided
    vertical panels: signs and hanging boards, drawn only. ``tunnels`` maps the track beds that
    trains run through (index of ``station.track_beds``) to the direction of their track: the
    walls across the track at their ends are tunnel mouths, open to :data:`TUNNEL_HEIGHT_M`. ``distractors`` add posters and
    flickering light panels (on a wall or a ceiling) and benches under ``sitting``
    distractors with ``seat: bench``.

    Every obstacle, wall face, panel, poster, light and bench is one occluder group, numbered
    in that order.
    """

    def __init__(self, station, occluders=(), distractors=(), tunnels=None) -> None:
        self.walkable = np.asarray(station.walkable, dtype=np.float64)
        self.track_beds = [np.asarray(p, dtype=np.float64) for p in station.track_beds]
        self.platform_edges = [np.asarray(e, dtype=np.float64) for e in station.platform_edges]
        self.safety_line_m = float(station.safety_line_m)
        self.faces: list[Face] = []
        self.tops: list[Top] = []
        self.n_groups = 0
        self.panel_colours: dict[int, np.ndarray] = {}  #: face index -> BGR of a panel's face
        self.wall_items: dict[int, object] = {}  #: face index (or -2 - top index) -> poster or light spec
        self.lights: list[tuple[int, object]] = []  #: (face code, FlickeringLightDistractor) in scenario order
        self.benches: list[tuple[np.ndarray, float]] = []  #: (centre (2,) [m], facing [rad])
        floors = [self.walkable, *self.track_beds]
        portals = [np.asarray(p.segment, dtype=np.float64) for p in (*station.entrances, *station.exits)]
        self._add_walls(floors, portals, tunnels or {})
        for poly_list in station.obstacles:
            self._add_obstacle(np.asarray(poly_list, dtype=np.float64))
        for oc in occluders:
            self._add_panel(oc)
        self._no_hide: set[int] = set()  #: groups drawn on a wall: they hide nothing the wall does not
        builders = {"poster": self._add_wall_item, "flickering_light": self._add_wall_item, "sitting": self._add_seat}
        for d in distractors:
            build = builders.get(getattr(d, "type", None))
            if build is not None:
                build(d)
        # A wall hides a person only if part of the floor lies behind its line (a station
        # that is not convex); walls of a convex station never do and are left out of the
        # occlusion tests, which saves a depth test for most people.
        floor_pts = np.concatenate(floors)
        self.hiding_groups = np.ones(self.n_groups, bool)
        self.hiding_groups[sorted(self._no_hide)] = False
        for f in self.faces:
            if f.kind == Surface.WALL:
                behind_line = (floor_pts - f.a) @ f.inward < -1e-6
                self.hiding_groups[f.group] = bool(behind_line.any())

    # --- building ----------------------------------------------------------------------------
    def _new_group(self) -> int:
        self.n_groups += 1
        return self.n_groups - 1

    def _add_walls(self, floors: list[np.ndarray], portals: list[np.ndarray], tunnels: dict) -> None:
        """A one-sided wall on each boundary edge of the floors that no other floor or platform edge
        shares; a track bed of ``tunnels`` has tunnel mouths in its walls across the track."""
        for fi, poly in enumerate(floors):
            ccw = polygon_signed_area(poly) > 0
            for k in range(len(poly)):
                a, b = poly[k], poly[(k + 1) % len(poly)]
                mid = (a + b) / 2
                if any(_on_segment(mid, e[0], e[1]) for e in self.platform_edges):
                    continue
                if any(_on_any_edge(mid, other) for fj, other in enumerate(floors) if fj != fi):
                    continue
                edge = b - a
                length = float(np.linalg.norm(edge))
                if length < 1e-9:
                    continue
                inward = np.array([-edge[1], edge[0]]) / length
                if not ccw:
                    inward = -inward
                doors = []
                for seg in portals:
                    if _on_segment(seg[0], a, b, 0.05) and _on_segment(seg[1], a, b, 0.05):
                        t0 = float((seg[0] - a) @ edge) / length**2
                        t1 = float((seg[1] - a) @ edge) / length**2
                        doors.append((min(t0, t1), max(t0, t1)))
                track = tunnels.get(fi - 1) if fi > 0 else None
                if track is not None and abs(float(edge @ track)) / length < 0.5:  # across the track: a tunnel mouth
                    self.faces.append(Face(a, b, 0.0, _UNBOUNDED_M, Surface.WALL, self._new_group(), inward,
                                           ((0.0, 1.0),), TUNNEL_HEIGHT_M))
                    continue
                self.faces.append(Face(a, b, 0.0, _UNBOUNDED_M, Surface.WALL, self._new_group(), inward, tuple(doors)))

    def _add_obstacle(self, poly: np.ndarray) -> None:
        """A pillar (full height) or a barrier (its sides and its top)."""
        pillar = _obstacle_is_pillar(poly)
        z1 = _UNBOUNDED_M if pillar else BARRIER_HEIGHT_M
        group = self._new_group()
        kind = Surface.PILLAR if pillar else Surface.BARRIER
        for k in range(len(poly)):
            self.faces.append(Face(poly[k], poly[(k + 1) % len(poly)], 0.0, z1, kind, group, None))
        if not pillar:
            self.tops.append(Top(poly, BARRIER_HEIGHT_M, group))

    def _add_panel(self, oc) -> None:
        """A hanging sign of ``render.occluders``: a two-sided vertical panel."""
        cx, cy, cz = (float(v) for v in oc.center)
        w, h = (float(v) for v in oc.size)
        yaw = math.radians(float(oc.yaw_deg))
        along = np.array([-math.sin(yaw), math.cos(yaw)]) * (w / 2)  # the width runs at yaw + 90 deg
        centre = np.array([cx, cy])
        self.panel_colours[len(self.faces)] = np.asarray(oc.colour_bgr, dtype=np.float64)
        self.faces.append(Face(centre - along, centre + along, cz - h / 2, cz + h / 2, Surface.PANEL,
                               self._new_group(), None))

    def _add_wall_item(self, d) -> None:
        """A poster or a flickering light panel on a wall (or a light under the ceiling)."""
        kind = d.type
        cx, cy, cz = (float(v) for v in d.center)
        w, h = (float(v) for v in d.size)
        yaw = math.radians(float(d.yaw_deg))
        facing = np.array([math.cos(yaw), math.sin(yaw)])
        along = np.array([-facing[1], facing[0]]) * (w / 2)
        group = self._new_group()
        if kind == "flickering_light" and d.mount == "ceiling":
            # a horizontal panel under the ceiling: width along yaw + 90 deg, height along yaw
            c = np.array([cx, cy])
            depth_v = facing * (h / 2)
            poly = np.array([c - along - depth_v, c + along - depth_v, c + along + depth_v, c - along + depth_v])
            code = -2 - len(self.tops)
            self.tops.append(Top(poly, cz, group, Surface.LIGHT))
        else:
            centre = np.array([cx, cy]) + facing * WALL_ITEM_OFFSET_M * (2 if kind == "flickering_light" else 1)
            code = len(self.faces)
            self.faces.append(Face(centre - along, centre + along, cz - h / 2, cz + h / 2,
                                   Surface.POSTER if kind == "poster" else Surface.LIGHT, group, None))
        self.wall_items[code] = d
        if kind == "flickering_light":
            self.lights.append((code, d))
        self._no_hide.add(group)

    def _add_seat(self, d) -> None:
        """A bench under a ``sitting`` distractor with ``seat: bench`` (a sitter on the floor adds nothing)."""
        if d.seat == "bench":
            self._add_bench(d)

    def _add_bench(self, d) -> None:
        """A wooden bench box (:data:`BENCH_LENGTH_M` x :data:`BENCH_DEPTH_M` x :data:`BENCH_HEIGHT_M`)."""
        facing = math.radians(float(d.facing_deg if d.facing_deg is not None else 0.0))
        c = np.asarray(d.at, dtype=np.float64)
        fwd = np.array([math.cos(facing), math.sin(facing)]) * (BENCH_DEPTH_M / 2)
        side = np.array([-fwd[1], fwd[0]]) * (BENCH_LENGTH_M / BENCH_DEPTH_M)
        poly = np.array([c - fwd - side, c + fwd - side, c + fwd + side, c - fwd + side])
        group = self._new_group()
        for k in range(4):
            self.faces.append(Face(poly[k], poly[(k + 1) % 4], 0.0, BENCH_HEIGHT_M, Surface.BENCH, group, None))
        self.tops.append(Top(poly, BENCH_HEIGHT_M, group, Surface.BENCH_TOP))
        self.benches.append((c, facing))

    # --- ray casting -------------------------------------------------------------------------
    def cast(self, origin: np.ndarray, dirs: np.ndarray) -> RayHits:
        """Nearest surface hit by each ray from ``origin`` along ``dirs`` (N, 3); the hit point is ``origin + s * dirs``."""
        n = len(dirs)
        s_best = np.full(n, np.inf)
        kind = np.zeros(n, np.int8)
        face_idx = np.full(n, -1, np.int32)
        group = np.full(n, -1, np.int32)
        dx, dy, dz = dirs[:, 0], dirs[:, 1], dirs[:, 2]
        ox, oy, oz = (float(v) for v in origin)
        with np.errstate(divide="ignore", invalid="ignore"):
            s_ground = np.where(dz < 0, -oz / dz, np.inf)
        hit_ground = np.isfinite(s_ground)
        s_best[hit_ground] = s_ground[hit_ground]
        kind[hit_ground] = Surface.GROUND_OUT
        for fi, f in enumerate(self.faces):
            e = f.b - f.a
            nrm = np.array([-e[1], e[0]])
            denom = dx * nrm[0] + dy * nrm[1]
            with np.errstate(divide="ignore", invalid="ignore"):
                s = ((f.a[0] - ox) * nrm[0] + (f.a[1] - oy) * nrm[1]) / denom
            ok = (s > 1e-6) & (s < s_best)
            if f.inward is not None:  # one-sided: only rays travelling out of the station see it
                ok &= (dx * f.inward[0] + dy * f.inward[1]) < 0
            if not ok.any():
                continue
            idx = np.nonzero(ok)[0]
            si = s[idx]
            hx, hy, hz = ox + si * dx[idx], oy + si * dy[idx], oz + si * dz[idx]
            t = ((hx - f.a[0]) * e[0] + (hy - f.a[1]) * e[1]) / float(e @ e)
            good = (t >= 0) & (t <= 1) & (hz >= f.z0) & (hz <= f.z1)
            idx = idx[good]
            s_best[idx] = si[good]
            kind[idx] = f.kind
            face_idx[idx] = fi
            group[idx] = f.group
        for ti, top in enumerate(self.tops):
            if oz == top.z or (top.kind != Surface.LIGHT and oz < top.z):
                continue  # barrier and bench tops are seen from above only; a ceiling light from either side
            with np.errstate(divide="ignore", invalid="ignore"):
                s = (top.z - oz) / dz
            idx = np.nonzero((s > 1e-6) & (s < s_best))[0]
            if len(idx) == 0:
                continue
            hxy = np.c_[ox + s[idx] * dx[idx], oy + s[idx] * dy[idx]]
            good = points_in_polygon(hxy, top.polygon)
            idx = idx[good]
            s_best[idx] = s[idx]
            kind[idx] = top.kind
            face_idx[idx] = -2 - ti
            group[idx] = top.group
        hit = origin[None, :] + np.where(np.isfinite(s_best), s_best, 0.0)[:, None] * dirs
        ground = kind == Surface.GROUND_OUT
        if ground.any():
            gxy = hit[ground, :2]
            cls = np.full(len(gxy), Surface.GROUND_OUT, np.int8)
            cls[points_in_polygon(gxy, self.walkable)] = Surface.FLOOR
            for tb in self.track_beds:
                cls[points_in_polygon(gxy, tb)] = Surface.TRACK
            kind[ground] = cls
        kind[~np.isfinite(s_best)] = Surface.NONE
        return RayHits(kind=kind, s=s_best, hit=hit, face=face_idx, group=group)
