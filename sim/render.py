"""Render synthetic CCTV frames of a station crowd, with exact per-person annotations.

:class:`Renderer` draws the static station once per camera by casting one ray per
(supersampled) pixel into the scene: the floor with a tile texture, track beds with
gravel, sleepers and rails, the platform edge with its yellow safety line, walls along
the boundary of the station (with dark doorways at entrances and exits), pillars and
ticket-gate housings as boxes, and the signs and hanging panels of ``render.occluders``.
The static distractors of ``scenario.distractors`` are scene geometry too: posters (a
rectangle on a wall in their main colour, with a disc and bars of lettering in the accent
colour), flickering light panels, and a bench (a 0.45 m high wooden box, 1.5 m long, facing
``facing_deg``) under each ``sitting`` distractor with ``seat: bench``. The same pass keeps
a depth buffer of everything that can hide a person (walls, pillars, barriers, panels,
benches) and the surface point each pixel shows (for pools of light). With lens distortion
(``render.lens_k1``, ``lens_k2``) the station is cast undistorted over the region the lens
sees and remapped once.

Per frame, people are drawn as articulated shapes in perspective (shadow, legs with gait
swing and knee flex, torso, arms swinging opposite to the legs, head with hair and face),
far to near (painter's algorithm); static occluders in front of a person are restored from
the static image through the depth buffer. All body geometry is computed for the whole
crowd at once in numpy, outline vertices go through the lens, and the per-person loop only
issues OpenCV fill calls. Annotation boxes and head points come from the same (distorted)
vertices, so the ground truth matches the pixels.

:meth:`Renderer.render` takes a :class:`~sim.state.WorldState` (or a bare crowd). Beyond
standing and walking, bodies sit (on the floor, legs forward; on a bench, hip at the seat),
crouch (knees bent, torso low and leaning forward), fall and lie; children have shorter
legs and a bigger head; a wheelchair user sits in a chair with two big wheels (rings) and
casters. Props hang from the joints: a bag at the hand, a backpack and a guitar case on the
back, a suitcase pulled behind on its handle, a cane to the floor, and two long dark look-
alikes that ``prop_raise`` lifts to the shoulder and points along the heading (a rifle with
its stock and magazine, both hands on it; a closed umbrella with its crook). A vest turns the
torso fluorescent yellow with two reflective stripes. These extra shapes are built only
for the people who have them and drawn before the body, after the torso or after it by
depth. Objects on the floor are boxes with shaded faces; fires are flickering tongues of
red, orange and yellow with a bright core (soft-edged), light the surfaces around them and
send up smoke (Gaussian puffs and a textured layer under the roof at a quarter of the
resolution, blended by its density). Objects and fires take their places in the painter's
order and behind pillars as people do. Flickering lights change level per frame. Flames,
smoke and lights are keyed by the scenario's seed, the time and the fire's age: every
camera sees the same fire. Camera effects follow
(:mod:`sim.effects`): shake (an integer translation), lighting (preset, flicker, a light
going out), motion and focus blur, read and shot noise from a precomputed noise bank, and a
JPEG round trip at a quality or an MJPEG bitrate.

Randomness is keyed by ``(seed, camera, frame index)``: a frame's noise and shake do not
depend on which frames were rendered before it, and the same seed gives the same bytes.

Geometry conventions are those of :mod:`sim.camera` (pixel centres at integers). The
camera model of the site configuration stays the undistorted pinhole; see
:mod:`sim.effects` for undistorting.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from sim.annotate import FrameAnnotations
from sim.world.appearance import sample_appearance
from sim.camera import PinholeCamera
from sim.effects import CameraEffects, LensDistortion
from sim.raster import compiled_kernel as _raster_kernel
from sim.raster import fill_convex_polys, raster_backend
from sim.state import BodyKind, CrowdState, ObjectKind, Posture, Prop, WorldState

# --- the station's look (metres, BGR) ------------------------------------------------------

WALL_PAINTED_TOP_M = 3.0  #: [m] walls and pillars are painted up to here; above is the dark upper structure
BARRIER_HEIGHT_M = 1.05  #: [m] height of gate housings and thin barriers
PILLAR_MIN_SIDE_M = 0.45  #: [m] an obstacle whose footprint is at least this thick on both sides is a pillar
DOOR_HEIGHT_M = 2.3  #: [m] height of the doorway drawn at entrances and exits
TILE_M = 0.6  #: [m] floor tile size
TRACK_GAUGE_M = 1.435  #: [m] standard gauge
SLEEPER_SPACING_M = 0.6  #: [m]

_FLOOR_BGR = (150.0, 156.0, 160.0)
_GROUT_BGR = (112.0, 116.0, 120.0)
_GRAVEL_BGR = (68.0, 74.0, 80.0)
_SLEEPER_BGR = (118.0, 120.0, 121.0)
_RAIL_BGR = (170.0, 172.0, 176.0)
_COPING_BGR = (178.0, 182.0, 184.0)
_NOSING_BGR = (214.0, 216.0, 218.0)
_SAFETY_BGR = (22.0, 196.0, 228.0)
_WALL_BGR = (178.0, 194.0, 204.0)
_SKIRT_BGR = (70.0, 74.0, 80.0)
_BAND_BGR = (118.0, 72.0, 36.0)
_UPPER_BGR = (74.0, 77.0, 82.0)
_DOOR_BGR = (36.0, 38.0, 42.0)
_PILLAR_BGR = (186.0, 188.0, 188.0)
_BARRIER_BGR = (96.0, 100.0, 106.0)
_BARRIER_TOP_BGR = (150.0, 155.0, 160.0)
_OUTSIDE_BGR = (44.0, 44.0, 47.0)

# surface kinds in the ray-cast buffers
(_NONE, _FLOOR, _TRACK, _GROUND_OUT, _WALL, _PILLAR, _BARRIER, _BARRIER_TOP, _PANEL, _POSTER, _LIGHT, _BENCH,
 _BENCH_TOP) = range(13)

BENCH_HEIGHT_M = 0.45  #: [m] seat height of a bench (``sitting`` distractors with ``seat: bench``)
BENCH_LENGTH_M = 1.5  #: [m] length of a bench, across the direction it faces
BENCH_DEPTH_M = 0.45  #: [m] depth of a bench's seat, along the direction it faces
FLAME_TONGUES = 7  #: tongues of a fire's flames
#: the flames' colours from the outside in, with each layer's width and height (shares of the outer tongue's)
FLAME_LAYERS = (((28, 48, 205), 1.0, 1.0), ((16, 118, 250), 0.9, 0.88), ((46, 196, 255), 0.76, 0.7),
                ((150, 238, 255), 0.5, 0.45))
FLAME_CORE_BGR = (205, 250, 255)  #: the bright core at the flames' base
FIRE_GLOW_GAIN = 0.5  #: share of FIRE_GLOW_BGR added to the surfaces next to a fire at full size
FIRE_GLOW_BGR = (70.0, 150.0, 255.0)  #: colour of the firelight
SMOKE_PUFFS = 10  #: puffs rising in a fire's plume
SMOKE_TOP_M = 3.6  #: [m] height where the smoke spreads (under the roof)
SMOKE_RISE_MPS = 0.7  #: [m/s] rising speed of the puffs
SMOKE_DARK_BGR = (46.0, 47.0, 50.0)  #: colour of thick smoke
SMOKE_LIGHT_BGR = (112.0, 114.0, 118.0)  #: colour of thin smoke
LIGHT_GLOW_GAIN = 0.35  #: share of a flickering light's colour added to the surfaces at its centre (pool of light)
WALL_ITEM_OFFSET_M = 0.01  #: [m] posters and wall lights stand this far in front of their wall (no z-fighting)
_BENCH_BGR = (40.0, 78.0, 122.0)
_BENCH_TOP_BGR = (62.0, 112.0, 160.0)

PANEL_BORDER_M = 0.05  #: [m] dark frame around a sign or panel (render.occluders)
_PANEL_FRAME_BGR = (38.0, 38.0, 42.0)
_PANEL_TEXT_BGR = (235.0, 235.0, 235.0)

#: [m] a person is hidden by a wall or pillar pixel only if that pixel is nearer than the
#: person's centre by this much (arms and legs reach this far from the centre line)
_OCCLUSION_MARGIN_M = 0.3
_SHIFT = 3  #: fractional bits of the drawing coordinates (1/8 px)
#: the body parts' columns in ``_People.polys`` (far leg, far arm, near leg, torso, near arm,
#: hair, face) and their vertex counts, for the batched fill
_BODY_SLICES = ((8, 14), (14, 20), (20, 26), (26, 32), (32, 38), (38, 50), (50, 62))
_BODY_NV = np.array([b - a for a, b in _BODY_SLICES], dtype=np.int64)
_ID_SCALE_LOG2 = 2  #: the visibility buffer has 1/4 of the image's resolution per side
_OCC_TILE_PX = 16  #: [px] side of the tiles that screen people for occlusion by the static scene
_OCC_BIN_M = 0.5  #: [m] depth bins of that screening


class RenderError(ValueError):
    """A renderer that cannot be built from the given scenario/camera."""


# --- static scene ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Face:
    """A vertical rectangle standing on the ground segment a-b, from z0 to z1 [m]."""

    a: np.ndarray
    b: np.ndarray
    z0: float
    z1: float
    kind: int
    group: int  #: occluder group (one per obstacle, one per wall face)
    inward: np.ndarray | None  #: walls are one-sided: unit normal into the station
    portals: tuple[tuple[float, float], ...] = ()  #: doorway intervals along a->b, in [0, 1]


@dataclass(frozen=True)
class _Top:
    """A horizontal polygon at height z [m], seen from above (barrier and bench tops) or below (ceiling lights)."""

    polygon: np.ndarray
    z: float
    group: int
    kind: int = _BARRIER_TOP


def _signed_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2


def _points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd rule: (N, 2) points, (K, 2) polygon -> (N,) bool."""
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros(len(points), dtype=bool)
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for k in range(len(polygon)):
        crosses = (y0[k] > y) != (y1[k] > y)
        if not crosses.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x0[k] + (y - y0[k]) * (x1[k] - x0[k]) / (y1[k] - y0[k])
        inside ^= crosses & (x < x_at)
    return inside


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of (N, 2) points to segment a-b and the parameter of the closest point."""
    ab = b - a
    t = np.clip(((p - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    closest = a + t[:, None] * ab
    return np.linalg.norm(p - closest, axis=1), t


def _on_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray, tol: float = 1e-3) -> bool:
    d, _ = _point_segment_distance(p[None], a, b)
    return bool(d[0] < tol)


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
    vertical panels: signs and hanging boards, drawn only.
    """

    def __init__(self, station, occluders=(), distractors=()) -> None:
        self.walkable = np.asarray(station.walkable, dtype=np.float64)
        self.track_beds = [np.asarray(p, dtype=np.float64) for p in station.track_beds]
        self.platform_edges = [np.asarray(e, dtype=np.float64) for e in station.platform_edges]
        self.safety_line_m = float(station.safety_line_m)
        portals = [np.asarray(p.segment, dtype=np.float64) for p in (*station.entrances, *station.exits)]
        faces: list[_Face] = []
        tops: list[_Top] = []
        group = 0
        floors = [self.walkable, *self.track_beds]
        for fi, poly in enumerate(floors):
            ccw = _signed_area(poly) > 0
            for k in range(len(poly)):
                a, b = poly[k], poly[(k + 1) % len(poly)]
                mid = (a + b) / 2
                if any(_on_segment(mid, e[0], e[1]) for e in self.platform_edges):
                    continue
                shared = False
                for fj, other in enumerate(floors):
                    if fj == fi:
                        continue
                    for m in range(len(other)):
                        if _on_segment(mid, other[m], other[(m + 1) % len(other)]):
                            shared = True
                            break
                    if shared:
                        break
                if shared:
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
                faces.append(_Face(a, b, 0.0, 1e4, _WALL, group, inward, tuple(doors)))
                group += 1
        for poly_list in station.obstacles:
            poly = np.asarray(poly_list, dtype=np.float64)
            pillar = _obstacle_is_pillar(poly)
            z1 = 1e4 if pillar else BARRIER_HEIGHT_M
            for k in range(len(poly)):
                faces.append(_Face(poly[k], poly[(k + 1) % len(poly)], 0.0, z1, _PILLAR if pillar else _BARRIER, group, None))
            if not pillar:
                tops.append(_Top(poly, BARRIER_HEIGHT_M, group))
            group += 1
        self.panel_colours: dict[int, np.ndarray] = {}  #: face index -> BGR of a panel's face
        for oc in occluders:
            cx, cy, cz = (float(v) for v in oc.center)
            w, h = (float(v) for v in oc.size)
            yaw = math.radians(float(oc.yaw_deg))
            along = np.array([-math.sin(yaw), math.cos(yaw)]) * (w / 2)  # the width runs at yaw + 90 deg
            centre = np.array([cx, cy])
            self.panel_colours[len(faces)] = np.asarray(oc.colour_bgr, dtype=np.float64)
            faces.append(_Face(centre - along, centre + along, cz - h / 2, cz + h / 2, _PANEL, group, None))
            group += 1
        # static distractors: posters and light panels on walls (or a ceiling), benches
        self.wall_items: dict[int, object] = {}  #: face index (or -2 - top index) -> poster or light spec
        self.lights: list[tuple[int, object]] = []  #: (face code, FlickeringLightDistractor) in scenario order
        self.benches: list[tuple[np.ndarray, float]] = []  #: (centre (2,) [m], facing [rad])
        no_hide: set[int] = set()  #: groups drawn on a wall: they hide nothing the wall does not
        for d in distractors:
            kind = getattr(d, "type", None)
            if kind in ("poster", "flickering_light"):
                cx, cy, cz = (float(v) for v in d.center)
                w, h = (float(v) for v in d.size)
                yaw = math.radians(float(d.yaw_deg))
                facing = np.array([math.cos(yaw), math.sin(yaw)])
                along = np.array([-facing[1], facing[0]]) * (w / 2)
                if kind == "flickering_light" and d.mount == "ceiling":
                    # a horizontal panel under the ceiling: width along yaw + 90 deg, height along yaw
                    c = np.array([cx, cy])
                    depth_v = facing * (h / 2)
                    poly = np.array([c - along - depth_v, c + along - depth_v, c + along + depth_v, c - along + depth_v])
                    code = -2 - len(tops)
                    tops.append(_Top(poly, cz, group, _LIGHT))
                else:
                    centre = np.array([cx, cy]) + facing * WALL_ITEM_OFFSET_M * (2 if kind == "flickering_light" else 1)
                    code = len(faces)
                    faces.append(_Face(centre - along, centre + along, cz - h / 2, cz + h / 2,
                                       _POSTER if kind == "poster" else _LIGHT, group, None))
                self.wall_items[code] = d
                if kind == "flickering_light":
                    self.lights.append((code, d))
                no_hide.add(group)
                group += 1
            elif kind == "sitting" and d.seat == "bench":
                facing = math.radians(float(d.facing_deg if d.facing_deg is not None else 0.0))
                c = np.asarray(d.at, dtype=np.float64)
                fwd = np.array([math.cos(facing), math.sin(facing)]) * (BENCH_DEPTH_M / 2)
                side = np.array([-fwd[1], fwd[0]]) * (BENCH_LENGTH_M / BENCH_DEPTH_M)
                poly = np.array([c - fwd - side, c + fwd - side, c + fwd + side, c - fwd + side])
                for k in range(4):
                    faces.append(_Face(poly[k], poly[(k + 1) % 4], 0.0, BENCH_HEIGHT_M, _BENCH, group, None))
                tops.append(_Top(poly, BENCH_HEIGHT_M, group, _BENCH_TOP))
                self.benches.append((c, facing))
                group += 1
        self.faces = faces
        self.tops = tops
        self.n_groups = group
        # A wall hides a person only if part of the floor lies behind its line (a station
        # that is not convex); walls of a convex station never do and are left out of the
        # occlusion tests, which saves a depth test for most people.
        floor_pts = np.concatenate(floors)
        self.hiding_groups = np.ones(group, bool)
        self.hiding_groups[sorted(no_hide)] = False
        for f in faces:
            if f.kind == _WALL:
                behind_line = (floor_pts - f.a) @ f.inward < -1e-6
                self.hiding_groups[f.group] = bool(behind_line.any())

    # --- ray casting -------------------------------------------------------------------------
    def cast(self, origin: np.ndarray, dirs: np.ndarray) -> dict:
        """Nearest surface hit by each ray: kind, ray parameter s, hit point, face index, group.

        ``dirs`` is (N, 3); the hit point is ``origin + s * dirs``.
        """
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
        kind[hit_ground] = _GROUND_OUT
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
            if oz == top.z or (top.kind != _LIGHT and oz < top.z):
                continue  # barrier and bench tops are seen from above only; a ceiling light from either side
            with np.errstate(divide="ignore", invalid="ignore"):
                s = (top.z - oz) / dz
            idx = np.nonzero((s > 1e-6) & (s < s_best))[0]
            if len(idx) == 0:
                continue
            hxy = np.c_[ox + s[idx] * dx[idx], oy + s[idx] * dy[idx]]
            good = _points_in_polygon(hxy, top.polygon)
            idx = idx[good]
            s_best[idx] = s[idx]
            kind[idx] = top.kind
            face_idx[idx] = -2 - ti
            group[idx] = top.group
        hit = origin[None, :] + np.where(np.isfinite(s_best), s_best, 0.0)[:, None] * dirs
        ground = kind == _GROUND_OUT
        if ground.any():
            gxy = hit[ground, :2]
            cls = np.full(len(gxy), _GROUND_OUT, np.int8)
            cls[_points_in_polygon(gxy, self.walkable)] = _FLOOR
            for tb in self.track_beds:
                cls[_points_in_polygon(gxy, tb)] = _TRACK
            kind[ground] = cls
        kind[~np.isfinite(s_best)] = _NONE
        return {"kind": kind, "s": s_best, "hit": hit, "face": face_idx, "group": group}


# --- procedural textures ---------------------------------------------------------------------


def _hash01(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic pseudo-random value in [0, 1) per integer cell (a 64-bit mix)."""
    with np.errstate(over="ignore"):
        h = (ix.astype(np.int64).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
             ^ iy.astype(np.int64).astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)
             ^ np.uint64(salt * 0x165667B19E3779F9 & 0xFFFFFFFFFFFFFFFF))
        h ^= h >> np.uint64(29)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(32)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _line_coverage(coord: np.ndarray, period: float, width: float, footprint: np.ndarray) -> np.ndarray:
    """Share of a pixel covered by periodic lines of ``width`` (box-filtered by the pixel footprint)."""
    d = np.abs((coord / period + 0.5) % 1.0 - 0.5) * period
    half = np.maximum(width, footprint) / 2
    return np.where(d < half, np.minimum(1.0, width / np.maximum(footprint, 1e-9)), 0.0)


def _band(coord: np.ndarray, lo: float, hi: float, footprint: np.ndarray) -> np.ndarray:
    """Share of a pixel (footprint-wide) that falls in [lo, hi] along ``coord``."""
    fp = np.maximum(footprint, 1e-9)
    a = np.clip((coord + fp / 2 - lo) / fp, 0, 1)
    b = np.clip((coord + fp / 2 - hi) / fp, 0, 1)
    return a - b


def _mix(base: np.ndarray, colour, weight: np.ndarray) -> np.ndarray:
    w = weight[:, None]
    return base * (1 - w) + np.asarray(colour, dtype=np.float64)[None, :] * w


def _poster_colour(spec, along: np.ndarray, up: np.ndarray, width: float, height: float,
                   footprint: np.ndarray) -> np.ndarray:
    """An advertising poster: its main colour, a big disc and two bars of lettering in the
    accent colour, a pale strip of small print and a dark frame. ``along``, ``up`` [m] are
    coordinates on the poster from its lower-left corner (as seen from the front)."""
    main = np.asarray(spec.colour_bgr, dtype=np.float64)
    accent = np.asarray(spec.accent_bgr, dtype=np.float64)
    c = np.empty((len(along), 3))
    c[:] = main
    # a gentle vertical gradient, as printed posters have
    c *= (0.88 + 0.18 * np.clip(up / height, 0, 1))[:, None]
    x, y = along, up  # a face runs left to right as seen from its front
    r = 0.3 * height
    disc = np.hypot(x - 0.25 * width, y - 0.55 * height)
    c = _mix(c, accent, _band(disc, -1.0, r, footprint))
    c = _mix(c, main * 0.55, _band(disc, r * 0.45, r * 0.62, footprint))
    in_x = _band(x, 0.5 * width, 0.92 * width, footprint)
    c = _mix(c, accent, in_x * _band(y, 0.64 * height, 0.78 * height, footprint))
    c = _mix(c, accent, _band(x, 0.5 * width, 0.8 * width, footprint) * _band(y, 0.45 * height, 0.55 * height, footprint))
    strip = _band(y, 0.06 * height, 0.18 * height, footprint) * _band(x, 0.05 * width, 0.95 * width, footprint)
    c = _mix(c, (225.0, 228.0, 230.0), strip)
    c = _mix(c, (70.0, 70.0, 74.0), strip * _line_coverage(x, 0.09, 0.05, footprint) * 0.6)
    edge = np.minimum(np.minimum(x, width - x), np.minimum(y, height - y))
    return _mix(c, _PANEL_FRAME_BGR, _band(edge, -1.0, 0.04, footprint))


def _light_panel_colour(spec, along: np.ndarray, up: np.ndarray, width: float, height: float,
                        footprint: np.ndarray) -> np.ndarray:
    """A light panel at its darkest (the flicker's dark phase): the colour scaled by 1 - depth
    in a thin metal frame; the renderer adds the lit part per frame."""
    dark = np.asarray(spec.colour_bgr, dtype=np.float64) * (1.0 - float(spec.depth)) * 0.9 + 12.0
    c = np.empty((len(along), 3))
    c[:] = dark
    edge = np.minimum(np.minimum(along, width - along), np.minimum(up, height - up))
    return _mix(c, (120.0, 124.0, 128.0), _band(edge, -1.0, 0.03, footprint))


# --- the renderer ----------------------------------------------------------------------------


class Renderer:
    """Render frames of one camera of a scenario.

    ``seed`` (an int, a ``numpy.random.Generator`` or ``None`` for the scenario's seed)
    keys the per-frame noise and shake. Build once per camera; the constructor ray-casts
    the static background (about a second at 640x360). Raises :class:`RenderError` when
    the scenario's lens distortion folds this camera's image back on itself.

    Example::

        r = Renderer(scenario, scenario.camera("hall"), seed=3)
        image, ann = r.render(model.snapshot())
    """

    def __init__(self, scenario, camera_spec=None, seed: int | np.random.Generator | None = None, *,
                 supersample: int | None = None, noise_bank_frames: int = 8) -> None:
        import cv2

        if camera_spec is None:
            camera_spec = scenario.cameras[0]
        elif isinstance(camera_spec, str):
            camera_spec = scenario.camera(camera_spec)
        self.scenario = scenario
        self.spec = camera_spec
        self.render_spec = scenario.render
        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(0, 2**63 - 1))
        self.seed = int(scenario.seed if seed is None else seed)
        if self.seed < 0:
            raise RenderError(f"seed must be >= 0; got {self.seed}")
        self.camera = PinholeCamera.from_spec(camera_spec)
        self.width, self.height = self.camera.width, self.camera.height
        rs = self.render_spec
        self._margin = int(math.ceil(rs.shake_px)) + 1 if rs.shake_px > 0 else 0
        m = self._margin
        self._canvas_cam = self.camera.shifted(m, m, self.width + 2 * m, self.height + 2 * m)
        self._P = self._canvas_cam.projection
        self._focal = self._canvas_cam.focal_px
        self._key = _mix64(self.seed * 1_000_003 + zlib.crc32(camera_spec.name.encode()))

        # static background ------------------------------------------------------------------
        self.scene = StationScene(scenario.station, rs.occluders, scenario.distractors)
        if supersample is None:
            supersample = 2 if self.width * self.height <= 1280 * 720 else 1
        ss = max(1, int(supersample))
        wc, hc = self._canvas_cam.width, self._canvas_cam.height
        #: the lens distortion of the canvas (None without one); people's outlines go through it
        self.lens: LensDistortion | None = None
        # the part of the undistorted canvas that shows in the (distorted) canvas, x0 y0 x1 y1 [px]
        self._cull_box = (-0.5, -0.5, wc - 0.5, hc - 0.5)
        if rs.lens_k1 != 0 or rs.lens_k2 != 0:
            lens = LensDistortion.for_camera(rs.lens_k1, rs.lens_k2, self._canvas_cam.K)
            try:
                lens.check_image(wc, hc, what=f"the image of camera {camera_spec.name!r} "
                                              f"(hfov {camera_spec.hfov_deg:g} deg)")
            except ValueError as exc:
                raise RenderError(str(exc)) from None
            # the background is cast undistorted over the region the distorted canvas samples, then remapped
            uu, vv = np.meshgrid(np.arange(wc, dtype=np.float64), np.arange(hc, dtype=np.float64))
            src_u, src_v = lens.undistort(uu, vv)
            x0, y0 = int(math.floor(src_u.min())) - 1, int(math.floor(src_v.min())) - 1
            x1, y1 = int(math.ceil(src_u.max())) + 2, int(math.ceil(src_v.max())) + 2
            src_cam = self.camera.shifted(m - x0, m - y0, x1 - x0, y1 - y0)
            bg_src, occ_src, aux_src = self._build_background(ss, src_cam)
            map_u, map_v = (src_u - x0).astype(np.float32), (src_v - y0).astype(np.float32)
            bg = cv2.remap(bg_src, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            occ_depth = cv2.remap(occ_src, map_u, map_v, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
            aux = cv2.remap(aux_src, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            self.lens = lens
            self._cull_box = (x0 - 0.5, y0 - 0.5, x1 - 0.5, y1 - 0.5)
        else:
            bg, occ_depth, aux = self._build_background(ss, self._canvas_cam)
        aux = aux.reshape(aux.shape[0], aux.shape[1], -1)
        gain = float(rs.brightness)
        lit = np.clip(bg.astype(np.float32) * gain, 0, 255)
        self._bg = np.rint(lit).astype(np.uint8)
        #: (canvas H, W, 3) float32 [m]: the surface point each canvas pixel shows (for light pools)
        self._surface_xyz = np.ascontiguousarray(aux[..., :3])
        hq_, wq_ = -(-self._surface_xyz.shape[0] // 4), -(-self._surface_xyz.shape[1] // 4)
        #: the same at a quarter of the resolution (the firelight is computed there)
        self._surface_xyz_q = cv2.resize(self._surface_xyz, (wq_, hq_), interpolation=cv2.INTER_AREA)
        self._lights = [self._light_pattern(d, aux[..., 3 + k], gain) for k, (_, d) in enumerate(self.scene.lights)]
        self._occ_depth = occ_depth  # canvas-sized float32 [m], inf where nothing can hide a person
        # Occlusion screening: the nearest occluder depth in each 16 px tile, and per depth bin an
        # integral image counting the tiles nearer than the bin's upper edge, so that "may an
        # occluder nearer than d stand inside this box?" takes four lookups per person.
        tile = _OCC_TILE_PX
        th_, tw_ = -(-occ_depth.shape[0] // tile), -(-occ_depth.shape[1] // tile)
        pad = np.full((th_ * tile, tw_ * tile), np.inf, np.float32)
        pad[:occ_depth.shape[0], :occ_depth.shape[1]] = occ_depth
        tmin = pad.reshape(th_, tile, tw_, tile).min(axis=(1, 3)).astype(np.float64)
        finite = tmin[np.isfinite(tmin)]
        n_bins = int(np.ceil(finite.max() / _OCC_BIN_M)) + 2 if len(finite) else 1
        edges = np.arange(n_bins) * _OCC_BIN_M  # bin k counts tiles nearer than edges[k]
        nearer = (tmin[None, :, :] < edges[:, None, None]).astype(np.int32)
        integral = np.zeros((n_bins, th_ + 1, tw_ + 1), np.int32)
        integral[:, 1:, 1:] = nearer.cumsum(axis=1).cumsum(axis=2)
        self._occ_integral = integral
        self._occ_any = bool(len(finite))
        self._occ_tile_min = tmin  # (tiles down, tiles across) [m]

        q = _ID_SCALE_LOG2
        hq, wq = (self.height + (1 << q) - 1) >> q, (self.width + (1 << q) - 1) >> q
        self._id_shape = (hq, wq)
        # the visibility buffer's occluder depth: the nearest occluder within each block
        pad = np.full((hq << q, wq << q), np.inf, np.float32)
        crop = occ_depth[m:m + self.height, m:m + self.width]
        pad[:crop.shape[0], :crop.shape[1]] = crop
        self._occ_depth_q = pad.reshape(hq, 1 << q, wq, 1 << q).min(axis=(1, 3))

        # camera shake: two sinusoids per axis with seeded frequencies and phases
        srng = np.random.default_rng([self.seed, 0x5AA4E])
        self._shake_freq = srng.uniform([0.3, 1.7], [0.9, 3.1], size=(2, 2))  # [Hz] per axis, per component
        self._shake_phase = srng.uniform(0, 2 * np.pi, size=(2, 2))
        self._cv2 = cv2
        # lighting, blur, sensor noise and compression, per frame ----------------------------------
        self.effects = CameraEffects(rs, width=self.width, height=self.height, fps=self.camera.fps, seed=self.seed,
                                     bank_frames=noise_bank_frames)
        if rs.bitrate_kbps is not None:
            # the quality at which this camera's empty station fits the stream's bytes per frame
            reference = self.effects.apply(self.background, 0.0, self._frame_hash(0), compress=False)
            self.effects.calibrate_bitrate(reference)

    @property
    def jpeg_quality(self) -> int:
        """The JPEG quality of the frames (``render.jpeg_quality``, or the one ``render.bitrate_kbps`` gives)."""
        return self.effects.jpeg_quality

    def _frame_hash(self, frame_idx: int) -> int:
        """64-bit hash of (seed, camera, frame index): picks the frame's noise."""
        return _mix64(self._key ^ (frame_idx & 0xFFFFFFFF) * 0x9E3779B1)

    # --- background --------------------------------------------------------------------------
    def _build_background(self, ss: int, cam: PinholeCamera):
        """Ray-cast the static station through ``cam`` (supersampled ``ss`` x ``ss``).

        Returns the image, the occluder depth and an auxiliary float32 image: the surface
        point (x, y, z) [m] each pixel shows, then one coverage channel per flickering light.
        """
        import cv2

        wc, hc = cam.width, cam.height
        # supersampled pixel centres in canvas pixel coordinates
        us = (np.arange(wc * ss) + 0.5) / ss - 0.5
        vs = (np.arange(hc * ss) + 0.5) / ss - 0.5
        img = np.empty((hc * ss, wc * ss, 3), np.float64)
        depth_ss = np.full((hc * ss, wc * ss), np.inf, np.float32)
        light_codes = [code for code, _ in self.scene.lights]
        aux_ss = np.empty((hc * ss, wc * ss, 3 + len(light_codes)), np.float32)
        rows_per_chunk = max(1, 200_000 // (wc * ss))
        pix_m = 1.0 / (cam.focal_px * ss)  # [m per supersample at unit depth]
        for r0 in range(0, hc * ss, rows_per_chunk):
            r1 = min(hc * ss, r0 + rows_per_chunk)
            uu, vv = np.meshgrid(us, vs[r0:r1])
            dirs = cam.pixel_rays(np.c_[uu.ravel(), vv.ravel()])
            res = self.scene.cast(cam.position, dirs)
            depth = res["s"]  # rays have unit depth along the optical axis, so s is the depth
            col = self._shade(res, dirs, depth * pix_m)
            img[r0:r1] = col.reshape(r1 - r0, wc * ss, 3)
            occ = (res["group"] >= 0) & self.scene.hiding_groups[np.maximum(res["group"], 0)]
            d = np.where(occ, depth, np.inf).astype(np.float32)
            depth_ss[r0:r1] = d.reshape(r1 - r0, -1)
            # surface points; rays that hit nothing (above the horizon) get a point far away
            far = ~np.isfinite(depth)
            hit = res["hit"]
            if far.any():
                hit = hit.copy()
                hit[far] = cam.position + dirs[far] * 1e4
            aux_ss[r0:r1, :, :3] = hit.reshape(r1 - r0, wc * ss, 3)
            for k, code in enumerate(light_codes):
                aux_ss[r0:r1, :, 3 + k] = (res["face"] == code).reshape(r1 - r0, -1)
        # a gentle vignette, as on most CCTV lenses
        yy, xx = np.meshgrid((vs - cam.K[1, 2]) / (self.height / 2), (us - cam.K[0, 2]) / (self.width / 2),
                             indexing="ij")
        img *= (1.0 - 0.18 * (xx**2 + yy**2) / 2)[..., None]
        img8 = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        if ss > 1:
            bg = cv2.resize(img8, (wc, hc), interpolation=cv2.INTER_AREA)
            occ_depth = depth_ss.reshape(hc, ss, wc, ss).min(axis=(1, 3))
            aux = aux_ss.reshape(hc, ss, wc, ss, -1).mean(axis=(1, 3))
        else:
            bg, occ_depth, aux = img8, depth_ss, aux_ss
        return bg, occ_depth.astype(np.float32), np.ascontiguousarray(aux, dtype=np.float32)

    def _shade(self, res: dict, dirs: np.ndarray, footprint_per_m: np.ndarray) -> np.ndarray:
        """Colour of each ray's hit point (float BGR)."""
        kind, hit = res["kind"], res["hit"]
        n = len(kind)
        col = np.empty((n, 3))
        col[:] = _OUTSIDE_BGR
        # the pixel footprint on a surface grows with distance and with grazing incidence
        fp = footprint_per_m
        scene = self.scene

        # floor --------------------------------------------------------------------------
        fl = np.nonzero(kind == _FLOOR)[0]
        if len(fl):
            x, y = hit[fl, 0], hit[fl, 1]
            graze = np.abs(dirs[fl, 2]) / np.linalg.norm(dirs[fl], axis=1)
            fpf = fp[fl] / np.maximum(graze, 0.05)
            ix, iy = np.floor(x / TILE_M), np.floor(y / TILE_M)
            tone = (_hash01(ix, iy, 1) - 0.5) * 10.0
            speck = (_hash01(np.floor(x / 0.03), np.floor(y / 0.03), 2) - 0.5) * 10.0 * np.clip(0.03 / fpf, 0, 1)
            c = np.asarray(_FLOOR_BGR)[None, :] + (tone + speck)[:, None]
            # pools of light under ceiling lamps every 6 m
            pool = 1.0 + 0.07 * np.cos(2 * np.pi * x / 6.0) * np.cos(2 * np.pi * y / 6.0)
            c *= pool[:, None]
            grout = np.maximum(_line_coverage(x, TILE_M, 0.012, fpf), _line_coverage(y, TILE_M, 0.012, fpf))
            c = _mix(c, _GROUT_BGR, grout * 0.8)
            # platform edge strip and safety line on the walkable side
            pts = np.c_[x, y]
            for e in scene.platform_edges:
                d, _ = _point_segment_distance(pts, e[0], e[1])
                c = _mix(c, _COPING_BGR, _band(d, 0.0, 0.35, fpf) * 0.9)
                c = _mix(c, _NOSING_BGR, _band(d, 0.0, 0.06, fpf))
                sl = scene.safety_line_m
                c = _mix(c, _SAFETY_BGR, _band(d, sl - 0.05, sl + 0.05, fpf))
            col[fl] = c

        # track beds -----------------------------------------------------------------------
        tr = np.nonzero(kind == _TRACK)[0]
        if len(tr):
            pts = hit[tr, :2]
            graze = np.abs(dirs[tr, 2]) / np.linalg.norm(dirs[tr], axis=1)
            fpt = fp[tr] / np.maximum(graze, 0.05)
            c = np.empty((len(tr), 3))
            c[:] = _GRAVEL_BGR
            g1 = _hash01(np.floor(pts[:, 0] / 0.04), np.floor(pts[:, 1] / 0.04), 3)
            g2 = _hash01(np.floor(pts[:, 0] / 0.11), np.floor(pts[:, 1] / 0.11), 4)
            c += (((g1 - 0.5) * 26.0 * np.clip(0.04 / fpt, 0, 1)) + (g2 - 0.5) * 14.0)[:, None]
            for tb in scene.track_beds:
                inside = _points_in_polygon(pts, tb)
                if not inside.any():
                    continue
                axis, centre_n = _track_axis(tb, scene.platform_edges)
                normal = np.array([-axis[1], axis[0]])
                s_along = pts[inside] @ axis
                n_off = pts[inside] @ normal - centre_n
                f_in = fpt[inside]
                ci = c[inside]
                sleeper = _band(n_off, -1.3, 1.3, f_in) * _line_coverage(s_along, SLEEPER_SPACING_M, 0.24, f_in)
                ci = _mix(ci, _SLEEPER_BGR, sleeper)
                for side in (-1.0, 1.0):
                    rail_n = side * TRACK_GAUGE_M / 2
                    ci = _mix(ci, (40.0, 42.0, 46.0), _band(n_off, rail_n - 0.06, rail_n + 0.06, f_in) * 0.7)
                    ci = _mix(ci, _RAIL_BGR, _band(n_off, rail_n - 0.035, rail_n + 0.035, f_in))
                c[inside] = ci
            # the platform's overhang shades the track bed next to the edge
            for e in scene.platform_edges:
                d, _ = _point_segment_distance(pts, e[0], e[1])
                c *= (1.0 - 0.55 * _band(d, 0.0, 0.35, fpt))[:, None]
            col[tr] = c

        # walls ------------------------------------------------------------------------------
        wl = np.nonzero(kind == _WALL)[0]
        if len(wl):
            c = np.empty((len(wl), 3))
            z = hit[wl, 2]
            fidx = res["face"][wl]
            along = np.zeros(len(wl))
            t_face = np.zeros(len(wl))
            shade = np.ones(len(wl))
            door = np.zeros(len(wl), bool)
            for fi in np.unique(fidx):
                f = scene.faces[fi]
                sel = fidx == fi
                e = f.b - f.a
                length = float(np.linalg.norm(e))
                t = ((hit[wl[sel], :2] - f.a) @ e) / length**2
                t_face[sel] = t
                along[sel] = t * length
                shade[sel] = _facing_light(f.inward if f.inward is not None else np.array([-e[1], e[0]]) / length)
                for t0, t1 in f.portals:
                    door[sel] |= (t >= t0) & (t <= t1) & (z[sel] <= DOOR_HEIGHT_M)
            graze = 1.0 - np.abs(dirs[wl, 2]) / np.linalg.norm(dirs[wl], axis=1)
            fpw = fp[wl] / np.maximum(graze, 0.1)
            c[:] = _WALL_BGR
            c += ((_hash01(np.floor(along / 0.3), np.floor(z / 0.3), 5) - 0.5) * 8.0)[:, None]
            joints = np.maximum(_line_coverage(along, 1.2, 0.02, fpw), _line_coverage(z, 0.6, 0.015, fpw))
            c = _mix(c, (140.0, 152.0, 160.0), joints * 0.6)
            c = _mix(c, _SKIRT_BGR, _band(z, -1.0, 0.15, fpw))
            c = _mix(c, _BAND_BGR, _band(z, 2.45, 2.95, fpw))
            upper = _band(z, WALL_PAINTED_TOP_M, 1e5, fpw)
            up_col = np.asarray(_UPPER_BGR)[None, :] * np.exp(-np.maximum(z - WALL_PAINTED_TOP_M, 0) / 8.0)[:, None]
            c = c * (1 - upper[:, None]) + up_col * upper[:, None]
            c[door] = _DOOR_BGR
            col[wl] = c * shade[:, None]

        # pillars and barriers -----------------------------------------------------------------
        for k, base in ((_PILLAR, _PILLAR_BGR), (_BARRIER, _BARRIER_BGR)):
            ob = np.nonzero(kind == k)[0]
            if not len(ob):
                continue
            z = hit[ob, 2]
            fidx = res["face"][ob]
            shade = np.ones(len(ob))
            for fi in np.unique(fidx):
                f = scene.faces[fi]
                e = f.b - f.a
                nrm = np.array([e[1], -e[0]]) / float(np.linalg.norm(e))
                shade[fidx == fi] = _facing_light(nrm, contrast=0.35)
            graze = 1.0 - np.abs(dirs[ob, 2]) / np.linalg.norm(dirs[ob], axis=1)
            fpo = fp[ob] / np.maximum(graze, 0.1)
            c = np.empty((len(ob), 3))
            c[:] = base
            c = _mix(c, _SKIRT_BGR, _band(z, -1.0, 0.12, fpo))
            if k == _PILLAR:
                c = _mix(c, (150.0, 154.0, 156.0), _line_coverage(z, 0.4, 0.012, fpo) * 0.6)
                upper = _band(z, WALL_PAINTED_TOP_M, 1e5, fpo)
                up_col = np.asarray(_UPPER_BGR)[None, :] * np.exp(-np.maximum(z - WALL_PAINTED_TOP_M, 0) / 8.0)[:, None]
                c = c * (1 - upper[:, None]) + up_col * upper[:, None]
            else:
                c = _mix(c, (60.0, 62.0, 66.0), _band(z, BARRIER_HEIGHT_M - 0.08, BARRIER_HEIGHT_M, fpo))
            col[ob] = c * shade[:, None]
        bt = kind == _BARRIER_TOP
        col[bt] = _BARRIER_TOP_BGR

        # signs and panels: a coloured face in a dark frame, with a pale line of "text" --------
        pn = np.nonzero(kind == _PANEL)[0]
        if len(pn):
            z = hit[pn, 2]
            fidx = res["face"][pn]
            c = np.empty((len(pn), 3))
            dist_edge = np.empty(len(pn))
            text = np.empty(len(pn))
            for fi in np.unique(fidx):
                f = scene.faces[fi]
                sel = fidx == fi
                e = f.b - f.a
                length = float(np.linalg.norm(e))
                along = ((hit[pn[sel], :2] - f.a) @ e) / length
                zz = z[sel]
                dist_edge[sel] = np.minimum(np.minimum(along, length - along), np.minimum(zz - f.z0, f.z1 - zz))
                rel_z = (zz - f.z0) / (f.z1 - f.z0)
                inset = np.minimum(along, length - along) / length
                text[sel] = ((np.abs(rel_z - 0.5) < 0.12) & (inset > 0.15)).astype(np.float64)
                c[sel] = scene.panel_colours[fi]
            graze = 1.0 - np.abs(dirs[pn, 2]) / np.linalg.norm(dirs[pn], axis=1)
            fpp = fp[pn] / np.maximum(graze, 0.1)
            c = _mix(c, _PANEL_TEXT_BGR, text * 0.85)
            c = _mix(c, _PANEL_FRAME_BGR, _band(dist_edge, -1.0, PANEL_BORDER_M, fpp))
            col[pn] = c

        # posters and light panels on walls: flat items with their own look ---------------------
        for k in (_POSTER, _LIGHT):
            it = np.nonzero(kind == k)[0]
            if not len(it):
                continue
            graze = 1.0 - np.abs(dirs[it, 2]) / np.linalg.norm(dirs[it], axis=1)
            fpi = fp[it] / np.maximum(graze, 0.1)
            fidx = res["face"][it]
            c = np.empty((len(it), 3))
            for fi in np.unique(fidx):
                sel = np.nonzero(fidx == fi)[0]
                spec = scene.wall_items[int(fi)]
                if fi >= 0:
                    f = scene.faces[fi]
                    e = f.b - f.a
                    length = float(np.linalg.norm(e))
                    along = ((hit[it[sel], :2] - f.a) @ e) / length
                    up = hit[it[sel], 2] - f.z0
                    height = f.z1 - f.z0
                else:  # a ceiling light: coordinates along its two sides
                    poly = scene.tops[-2 - int(fi)].polygon
                    e, e2 = poly[1] - poly[0], poly[3] - poly[0]
                    length, height = float(np.linalg.norm(e)), float(np.linalg.norm(e2))
                    along = ((hit[it[sel], :2] - poly[0]) @ e) / length
                    up = ((hit[it[sel], :2] - poly[0]) @ e2) / height
                c[sel] = (_poster_colour if k == _POSTER else _light_panel_colour)(spec, along, up, length, height, fpi[sel])
            col[it] = c

        # benches: wooden boxes, slatted seat -------------------------------------------------------
        bf = np.nonzero(kind == _BENCH)[0]
        if len(bf):
            fidx = res["face"][bf]
            shade = np.ones(len(bf))
            for fi in np.unique(fidx):
                f = scene.faces[fi]
                e = f.b - f.a
                shade[fidx == fi] = _facing_light(np.array([e[1], -e[0]]) / float(np.linalg.norm(e)), contrast=0.4)
            graze = 1.0 - np.abs(dirs[bf, 2]) / np.linalg.norm(dirs[bf], axis=1)
            c = np.empty((len(bf), 3))
            c[:] = _BENCH_BGR
            c = _mix(c, (30.0, 34.0, 40.0), _band(hit[bf, 2], -1.0, 0.06, fp[bf] / np.maximum(graze, 0.1)))
            col[bf] = c * (0.8 * shade)[:, None]
        bt = np.nonzero(kind == _BENCH_TOP)[0]
        if len(bt):
            graze = np.abs(dirs[bt, 2]) / np.linalg.norm(dirs[bt], axis=1)
            fpt = fp[bt] / np.maximum(graze, 0.05)
            c = np.empty((len(bt), 3))
            c[:] = _BENCH_TOP_BGR
            for code in np.unique(res["face"][bt]):
                sel = res["face"][bt] == code
                poly = scene.tops[-2 - int(code)].polygon
                e = poly[1] - poly[0]
                depth = ((hit[bt[sel], :2] - poly[0]) @ e) / float(np.linalg.norm(e))
                c[sel] = _mix(c[sel], (34.0, 52.0, 74.0), _line_coverage(depth, BENCH_DEPTH_M / 4, 0.02, fpt[sel]) * 0.8)
            col[bt] = c
        return col

    def _light_pattern(self, spec, coverage: np.ndarray, gain: float) -> "_LightPattern":
        """What a flickering light adds to the background when fully on: its panel lit (the
        part its depth takes away at the dark phase) and a pool of light of radius ``glow_m``
        on the surfaces around it, as uint8 over the bounding box where it adds anything."""
        colour = np.asarray(spec.colour_bgr, dtype=np.float32)
        depth = float(spec.depth)
        centre = np.asarray(spec.center, dtype=np.float32)
        d2 = ((self._surface_xyz - centre) ** 2).sum(axis=2)
        glow = np.zeros_like(d2) if spec.glow_m <= 0 else np.exp(-d2 / np.float32(spec.glow_m) ** 2)
        weight = coverage * np.float32(0.95 * depth) + glow * np.float32(LIGHT_GLOW_GAIN * depth)
        add = np.clip(np.rint(weight[..., None] * colour * np.float32(gain)), 0, 255).astype(np.uint8)
        rows = np.nonzero(add.max(axis=(1, 2)) > 0)[0]
        cols = np.nonzero(add.max(axis=(0, 2)) > 0)[0]
        if not len(rows):
            return _LightPattern(spec=spec, key=0, box=(0, 0, 0, 0), add=add[:0, :0])
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        key = _mix64(int(self.scenario.seed) * 7919 + zlib.crc32(repr((spec.id, tuple(spec.center))).encode()))
        return _LightPattern(spec=spec, key=key, box=(x0, y0, x1, y1), add=np.ascontiguousarray(add[y0:y1, x0:x1]))

    def _frame_background(self, t: float, fires) -> np.ndarray:
        """The static image of this frame: the background, with the flickering lights at their
        level at ``t`` and the floor and walls lit by the fires. The background itself when
        there is neither (no copy)."""
        lit = [lp for lp in self._lights if lp.add.size]
        if not lit and (fires is None or len(fires) == 0):
            return self._bg
        cv2 = self._cv2
        out = self._bg.copy()
        for lp in lit:
            level = light_level(t, lp.spec.flicker_hz, lp.key)
            if level <= 0:
                continue
            x0, y0, x1, y1 = lp.box
            roi = out[y0:y1, x0:x1]
            cv2.addWeighted(roi, 1.0, lp.add, level, 0.0, dst=roi)
        if fires is not None and len(fires):
            self._fire_light(out, fires)
        return out

    # --- per frame ---------------------------------------------------------------------------
    @property
    def background(self) -> np.ndarray:
        """(H, W, 3) uint8: the static station as this camera sees it, lit, without people or camera effects."""
        m = self._margin
        return self._bg[m:m + self.height, m:m + self.width].copy()

    def frame_index(self, t: float) -> int:
        """The frame number of time ``t`` [s] at the camera's frame rate."""
        return int(round(float(t) * self.camera.fps))

    def shake_offset(self, t: float) -> tuple[int, int]:
        """Integer camera shake (dx, dy) [px] at time ``t``: image content moves by (-dx, -dy)."""
        amp = self.render_spec.shake_px
        if amp <= 0:
            return 0, 0
        w = 2 * np.pi * self._shake_freq * float(t) + self._shake_phase
        s = 0.7 * np.sin(w[:, 0]) + 0.3 * np.sin(w[:, 1])
        dx, dy = (int(np.clip(round(amp * v), -self._margin, self._margin)) for v in s)
        return dx, dy

    def render(self, state: WorldState | CrowdState, t: float | None = None, *, visibility: bool = True
               ) -> tuple[np.ndarray, FrameAnnotations]:
        """One frame: the BGR uint8 image and the annotations of the people it shows.

        ``state`` is a :class:`~sim.state.WorldState` (the crowd, objects on the floor, fires)
        or a bare :class:`~sim.state.CrowdState`. ``t`` [s] defaults to ``state.t``; it picks
        the frame's noise and shake and the level of flickering lights. With
        ``visibility=False`` the visible fractions are not computed (nan), which saves the
        cost of the quarter-resolution id buffer. Objects and fires are drawn, not annotated
        (their ground truth is the event's, :func:`sim.annotate.camera_instances`).
        """
        if isinstance(state, WorldState):
            crowd, world = state.crowd, state
        elif isinstance(state, CrowdState):
            crowd, world = state, None
        else:
            raise TypeError(f"Renderer.render: state must be a WorldState or a CrowdState; got {type(state).__name__}")
        t = float(state.t if t is None else t)
        frame_idx = self.frame_index(t)
        m = self._margin
        dx, dy = self.shake_offset(t)
        fires = world.fires if world is not None and len(world.fires) else None
        base = self._frame_background(t, fires)
        canvas = base.copy()
        geo = self._people(crowd)
        items = self._items(world, t) if world is not None and (len(world.objects) or fires is not None) else None
        if geo is not None or items:
            self._draw(canvas, geo, items, base)
        img = canvas[m + dy:m + dy + self.height, m + dx:m + dx + self.width] if m else canvas
        if m:
            img = img.copy()
        img = self.effects.apply(img, t, self._frame_hash(frame_idx))
        ann = self._annotate(geo, frame_idx, t, m + dx, m + dy, visibility)
        return img, ann

    # --- people ------------------------------------------------------------------------------
    def _people(self, state: CrowdState) -> "_People | None":
        """Image-space geometry of every person that shows, sorted far to near (canvas pixels).

        Arrays are laid out points-first, (points, people): reductions over a body's points
        then run across whole rows, which numpy does an order of magnitude faster than over
        a short last axis. Poses other than standing and walking, children, wheelchairs,
        props and vests are computed for the rows that have them only.
        """
        n = len(state)
        if n == 0:
            return None
        cam = self._canvas_cam
        f = self._focal
        K = cam.K
        # cull people far outside the view before building their bodies: a body reaches at most
        # its height from its foot point, which bounds its image by the height in pixels there
        pos = np.asarray(state.pos_m, dtype=np.float64)
        rel = pos - cam.position[:2]
        fc = rel @ cam.R[:, :2].T - cam.position[2] * cam.R[:, 2]  # foot points in camera coordinates
        fd = fc[:, 2]
        reach = 1.3 * np.asarray(state.height_m, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            fu = K[0, 0] * fc[:, 0] / fd + K[0, 2]
            fv = K[1, 1] * fc[:, 1] / fd + K[1, 2]
            span = f * reach / (fd - reach)  # [px] generous: the nearest part of the body sets the scale
        near_enough = fd > 0.3
        span = np.where(near_enough & (fd > reach + 0.3), span, np.inf)
        cx0, cy0, cx1, cy1 = self._cull_box
        keep = near_enough & (fu + span >= cx0) & (fu - span <= cx1) & (fv + span >= cy0) & (fv - span <= cy1)
        if not keep.all():
            if not keep.any():
                return None
            state = state[np.nonzero(keep)[0]]
            pos = np.asarray(state.pos_m, dtype=np.float64)
            n = len(state)
        h = np.asarray(state.height_m, dtype=np.float64)
        r = np.asarray(state.radius_m, dtype=np.float64)
        th = np.asarray(state.heading_rad, dtype=np.float64)
        posture = np.asarray(state.posture)
        lying = posture == Posture.LYING
        falling = posture == Posture.FALLING
        gamma = np.where(lying, np.pi / 2,
                         np.where(falling, np.clip(state.posture_progress, 0.0, 1.0) * (np.pi / 2), 0.0))
        body = np.asarray(state.body)
        child = body == BodyKind.CHILD
        wheel = body == BodyKind.WHEELCHAIR
        any_child, any_wheel = bool(child.any()), bool(wheel.any())
        posed = (posture == Posture.SITTING) | (posture == Posture.CROUCHING)
        walking = posture == Posture.WALKING
        r_body = r
        if any_wheel:
            posed |= wheel & ~(lying | falling)
            walking = walking & ~wheel  # a wheelchair rolls: no gait
            r_body = np.where(wheel, 0.23, r)  # the disc is the chair's; the body is an adult's
            # height_m is the seated height: the body length that puts the top of the head there
            h = np.where(wheel, np.maximum(h - WHEELCHAIR_SEAT_M - 0.05, 0.3) / _SEATED_TOP, h)
        any_posed = bool(posed.any())
        vel = np.asarray(state.vel_mps, dtype=np.float64)
        speed = np.sqrt(vel[:, 0] ** 2 + vel[:, 1] ** 2)
        amp = np.where(walking, 0.42 * np.clip(speed / 1.3, 0.4, 1.3), 0.0)
        ws = r_body / 0.23  # body width relative to an average adult
        pr = _proportions(child if any_child else None)

        # joints in the body frame: a forward, b to the left, z up [m]; rows are joints (_NJ) -------
        a = np.zeros((_NJ, n))
        b = np.zeros((_NJ, n))
        z = np.empty((_NJ, n))
        phase = _SIDE_PHASE[:, None] + np.asarray(state.gait_phase, dtype=np.float64)  # (2, n): left, right
        sin_p, cos_p = np.sin(phase), np.cos(phase)
        leg = amp * sin_p
        flex = (1.1 * amp) * np.maximum(0.0, cos_p)
        hip_z, sh_z = pr.hip * h, pr.shoulder * h
        thigh, shin = pr.thigh * h, pr.shin * h
        upper_arm, forearm = pr.upper_arm * h, pr.forearm * h
        b[0:6] = np.tile(_SIDE[:, None] * (0.055 * h), (3, 1))
        z[0:2] = hip_z
        a[2:4] = thigh * np.sin(leg)
        z[2:4] = hip_z - thigh * np.cos(leg)
        a[4:6] = a[2:4] + shin * np.sin(leg - flex)
        z[4:6] = z[2:4] - shin * np.cos(leg - flex)
        arm = (-0.65 * amp) * sin_p
        bend = arm + (0.15 + 0.5 * amp)
        root = _SIDE[:, None] * np.maximum(0.9 * r_body - 0.05, 0.08)
        b[6:8] = root
        b[8:10] = root + 0.025 * _SIDE[:, None]
        b[10:12] = root + 0.04 * _SIDE[:, None]
        z[6:8] = sh_z
        a[8:10] = upper_arm * np.sin(arm)
        z[8:10] = sh_z - upper_arm * np.cos(arm)
        a[10:12] = a[8:10] + forearm * np.sin(bend)
        z[10:12] = z[8:10] - forearm * np.cos(bend)
        z[12:16] = pr.centre * h  # head, neck, shoulder line, hip line
        # the lowest foot touches the floor: the body bobs with the stride
        z -= np.minimum(z[4], z[5]) - 0.025 * h
        seated_on_bench = None
        if any_posed:
            seated_on_bench = self._pose(np.nonzero(posed)[0], state, a, b, z, h, r_body, pr, wheel)
        prop = np.asarray(state.prop)
        carried = (prop != 0) & ~(lying | falling)
        any_prop = bool(carried.any())
        if any_prop:
            _hold_props(np.nonzero(carried)[0], state, a, b, z, h, pr)
        # a fall tips the body forward about the feet, onto the floor
        cg, sg = np.cos(gamma), np.sin(gamma)
        a, z = a * cg + z * sg, z * cg - a * sg + 0.1 * sg

        ct, st = np.cos(th), np.sin(th)
        pts = np.empty((_NP, n, 3))
        pts[:_NJ, :, 0] = pos[:, 0] + a * ct - b * st
        pts[:_NJ, :, 1] = pos[:, 1] + a * st + b * ct
        pts[:_NJ, :, 2] = z

        # the torso is a flat hexagon across the line of sight (its width depends on the view)
        if any_posed:
            axis = pts[13] - pts[15]  # hip line to neck: a crouch leans it
            axis /= np.sqrt(np.einsum("ij,ij->i", axis, axis))[:, None]
        else:
            axis = np.stack([sg * ct, sg * st, cg], axis=1)  # body axis, feet to head
        view = 0.5 * (pts[13] + pts[15]) - cam.position
        across = np.cross(axis, view)
        norm = np.sqrt(np.einsum("ij,ij->i", across, across))
        flat = norm < 1e-9
        across /= np.where(flat, 1.0, norm)[:, None]
        if flat.any():
            across[flat] = np.stack([-st, ct, np.zeros(n)], axis=1)[flat]
        c_left = np.abs(-across[:, 0] * st + across[:, 1] * ct)
        # the torso's front: left x axis (a fall or a lean rotates it about the left axis)
        c_front = np.abs((across[:, 0] * ct + across[:, 1] * st) * axis[:, 2]
                         - across[:, 2] * (st * axis[:, 1] + ct * axis[:, 0]))
        half_sh = np.sqrt((0.95 * r_body * c_left) ** 2 + (0.55 * r_body * c_front) ** 2)
        half_hip = np.sqrt((0.78 * r_body * c_left) ** 2 + (0.55 * r_body * c_front) ** 2)
        halves = np.stack([0.3 * half_sh, half_sh, half_hip])[:, :, None] * across  # neck, shoulders, hips
        pts[16:19] = pts[13:16] + halves
        pts[19:22] = (pts[13:16] - halves)[::-1]
        # shadow: an ellipse on the floor under the body
        shadow_c = pos + np.stack([ct, st], axis=1) * (sg * 0.45 * h)[:, None]
        ax_f = 0.24 + 0.15 * amp + sg * 0.42 * h
        ax_l = 0.22 * (r / 0.23)
        if any_posed:
            # a seated or crouching body: the ellipse covers hips to feet
            k = np.nonzero(posed)[0]
            hip_a, feet_a = a[15, k], 0.5 * (a[4, k] + a[5, k])
            mid = 0.5 * (hip_a + feet_a)
            shadow_c[k] = pos[k] + np.stack([ct[k], st[k]], axis=1) * mid[:, None]
            ax_f = np.broadcast_to(ax_f, (n,)).copy()
            ax_f[k] = np.maximum(0.5 * np.abs(feet_a - hip_a) + 0.18, np.where(wheel[k], 0.45, 0.24))
        pts[22:30, :, 0] = shadow_c[:, 0] + _COS8[:, None] * (ax_f * ct) - _SIN8[:, None] * (ax_l * st)
        pts[22:30, :, 1] = shadow_c[:, 1] + _COS8[:, None] * (ax_f * st) + _SIN8[:, None] * (ax_l * ct)
        pts[22:30, :, 2] = 0.0

        # project everything at once ------------------------------------------------------------
        pc = (pts - cam.position) @ cam.R.T
        depth = np.ascontiguousarray(pc[..., 2])  # (30, n)
        ok = depth.min(axis=0) > 0.3
        sel = np.arange(n)
        hs = h
        if not ok.all():
            sel = np.nonzero(ok)[0]
            if len(sel) == 0:
                return None
            pc, depth = pc[:, sel], depth[:, sel]
            hs, ws, gamma, shadow_c, ct_s, st_s, pos_s = (x[sel] for x in (h, ws, gamma, shadow_c, ct, st, pos))
            head_f = pr.head if np.ndim(pr.head) == 0 else pr.head[sel]
        else:
            ct_s, st_s, pos_s = ct, st, pos
            head_f = pr.head
        inv = 1.0 / depth
        U = K[0, 0] * pc[..., 0] * inv + K[0, 2]  # (30, n') pixel coordinates
        V = K[1, 1] * pc[..., 1] * inv + K[1, 2]
        px = f * inv  # [px/m] at each point

        # limb outlines (6 vertices, 4 limbs, n'): left leg, right leg, left arm, right arm
        lu, lv = _limb_polygons(U[_LIMB_CHAINS], V[_LIMB_CHAINS], (_LIMB_WIDTHS[:, :, None] * ws) * px[_LIMB_CHAINS])
        # head: hair and face as 12-gons (cheaper to fill than circles, and they go through the lens)
        head_r = head_f * hs * px[12]
        hu, hv = U[12], V[12]
        hair_u = hu + _COS12[:, None] * head_r
        hair_v = hv + _SIN12[:, None] * head_r
        face_u = hu + _COS12[:, None] * (0.8 * head_r)
        face_v = (hv + 0.14 * head_r) + _SIN12[:, None] * (0.8 * head_r)
        if self.lens is not None:
            # every outline vertex through the lens: the drawing and the boxes follow the distortion
            U, V = self.lens.distort(U, V)
            lu, lv = self.lens.distort(lu, lv)
            hair_u, hair_v = self.lens.distort(hair_u, hair_v)
            face_u, face_v = self.lens.distort(face_u, face_v)
            hu, hv = self.lens.distort(hu, hv)
        # part boxes: limbs (4, n'), torso and head (n',)
        lx0, lx1, ly0, ly1 = lu.min(axis=0), lu.max(axis=0), lv.min(axis=0), lv.max(axis=0)
        tu, tv = U[16:22], V[16:22]
        tx0, tx1, ty0, ty1 = tu.min(axis=0), tu.max(axis=0), tv.min(axis=0), tv.max(axis=0)
        hx0, hx1, hy0, hy1 = hair_u.min(axis=0), hair_u.max(axis=0), hair_v.min(axis=0), hair_v.max(axis=0)
        x0 = np.minimum(np.minimum(lx0.min(axis=0), tx0), hx0)
        x1 = np.maximum(np.maximum(lx1.max(axis=0), tx1), hx1)
        y0 = np.minimum(np.minimum(ly0.min(axis=0), ty0), hy0)
        y1 = np.maximum(np.maximum(ly1.max(axis=0), ty1), hy1)
        ok = (x1 >= -0.5) & (x0 <= cam.width - 0.5) & (y1 >= -0.5) & (y0 <= cam.height - 0.5)
        order_depth = (shadow_c - cam.position[:2]) @ cam.R[2, :2] - cam.position[2] * cam.R[2, 2]
        v = np.nonzero(ok)[0]
        v = v[np.argsort(-order_depth[v], kind="stable")]
        m = len(v)
        if m == 0:
            return None
        rows = sel[v]

        # drawing order inside a person: far leg, far arm, near leg, torso, near arm ------------
        far_leg = (depth[0, v] < depth[1, v]).astype(np.int64)  # 1 when the right leg is the farther one
        far_arm = (depth[6, v] < depth[7, v]).astype(np.int64)
        part = np.stack([far_leg, 2 + far_arm, 1 - far_leg, 3 - far_arm])  # (4, m) limb index per slot
        lu, lv = lu[:, part, v], lv[:, part, v]  # (6, 4, m): far leg, far arm, near leg, near arm
        Uv, Vv = U[:, v], V[:, v]
        # the outlines points first (vertex, u/v, person), one transpose at the end for OpenCV
        pf = np.empty((_NV, 2, m))
        sources = ((Uv[22:30], Vv[22:30]), (lu[:, 0], lv[:, 0]), (lu[:, 1], lv[:, 1]), (lu[:, 2], lv[:, 2]),
                   (Uv[16:22], Vv[16:22]), (lu[:, 3], lv[:, 3]), (hair_u[:, v], hair_v[:, v]), (face_u[:, v], face_v[:, v]))
        for (a_, b_), (pu, pv) in zip(_OUTLINE_SLICES, sources):
            pf[a_:b_, 0] = pu
            pf[a_:b_, 1] = pv
        scale = float(1 << _SHIFT)
        pf *= scale
        np.clip(pf, -_COORD_LIMIT * scale, _COORD_LIMIT * scale, out=pf)
        fixed = np.ascontiguousarray(np.rint(pf, out=pf).astype(np.int32).transpose(2, 0, 1))
        # pixels the body's fills can touch (limbs, torso, head; not the shadow), with a pixel to spare
        body_lo = np.floor(pf[8:_NV].min(axis=0) * (1.0 / scale)) - 2.0  # (2, m) x, y
        body_hi = np.ceil(pf[8:_NV].max(axis=0) * (1.0 / scale)) + 2.0
        body_px = np.concatenate([body_lo, body_hi]).T.astype(np.int32)  # (m, 4) x0 y0 x1 y1 inclusive
        hr = head_r[v]
        hu, hv = hu[v], hv[v]

        # colours: shadow, far leg, far arm, near leg, torso, near arm, hair, face -----------------
        gain = float(self.render_spec.brightness)
        tr, sh = state.trousers_bgr[rows], state.shirt_bgr[rows]
        mats = np.stack([tr, sh, tr, sh, sh, state.hair_bgr[rows], state.skin_bgr[rows]], axis=1).astype(np.float64)
        vest = np.asarray(state.vest)[rows]
        any_vest = bool(vest.any())
        if any_vest:
            mats[vest, 3] = VEST_BGR  # the vest covers the torso; the sleeves stay the shirt's
        cols = np.empty((m, 8, 3))
        cols[:, 1:] = mats * (_PART_SHADE * gain)
        su_f, sv_f = Uv[22:30], Vv[22:30]
        su = np.clip(np.rint(su_f.mean(axis=0)), 0, cam.width - 1).astype(np.int64)
        sv = np.clip(np.rint(sv_f.mean(axis=0)), 0, cam.height - 1).astype(np.int64)
        cols[:, 0] = self._bg[sv, su] * 0.62
        np.clip(np.rint(cols, out=cols), 0, 255, out=cols)
        cols = cols.astype(np.int64)  # small Python ints are cached: tolist() is cheap

        # the face shows when the person faces the camera at least partly
        view_h = pos_s[v] - cam.position[:2]
        facing = (ct_s[v] * view_h[:, 0] + st_s[v] * view_h[:, 1]) / np.maximum(np.hypot(view_h[:, 0], view_h[:, 1]), 1e-9)
        show_face = (facing < 0.35) & (gamma[v] < 1.2)
        # level of detail: a small head is one polygon, hair and face blended (the hair would show as a
        # crescent under a pixel thick)
        tiny = show_face & (hr < _HEAD_LOD_PX)
        cols[tiny, 6] = (cols[tiny, 6] + cols[tiny, 7]) // 2
        show_face &= ~tiny

        # boxes (canvas px, x0 y0 x1 y1): the body, everything drawn, and three parts for visibility
        x0, y0, x1, y1 = x0[v], y0[v], x1[v], y1[v]
        box = np.stack([x0, y0, x1, y1], axis=1)
        drawn = np.stack([np.minimum(x0, su_f.min(axis=0)), np.minimum(y0, sv_f.min(axis=0)),
                          np.maximum(x1, su_f.max(axis=0)), np.maximum(y1, sv_f.max(axis=0))], axis=1)
        lx0, lx1, ly0, ly1 = lx0[:, v], lx1[:, v], ly0[:, v], ly1[:, v]
        tx0, tx1, ty0, ty1 = tx0[v], tx1[v], ty0[v], ty1[v]
        parts = np.empty((m, 3, 4))
        parts[:, 0] = np.stack([hx0[v], hy0[v], hx1[v], hy1[v]], axis=1)
        parts[:, 1, 0] = np.minimum(np.minimum(lx0[2], lx0[3]), tx0)  # arms and torso
        parts[:, 1, 1] = np.minimum(np.minimum(ly0[2], ly0[3]), ty0)
        parts[:, 1, 2] = np.maximum(np.maximum(lx1[2], lx1[3]), tx1)
        parts[:, 1, 3] = np.maximum(np.maximum(ly1[2], ly1[3]), ty1)
        parts[:, 2, 0] = np.minimum(lx0[0], lx0[1])  # legs
        parts[:, 2, 1] = np.minimum(ly0[0], ly0[1])
        parts[:, 2, 2] = np.maximum(lx1[0], lx1[1])
        parts[:, 2, 3] = np.maximum(ly1[0], ly1[1])

        # what some people have: a vest's stripes, a prop, a wheelchair (drawn before the body,
        # after the torso or after everything) ----------------------------------------------------
        extras = None
        if any_vest or any_prop or any_wheel:
            extras = [None] * m
            ex = _Extras(self, extras, box, drawn, parts)
            if any_vest:
                ex.vest_stripes(np.nonzero(vest)[0], Uv, Vv)
            depth_body = 0.5 * (depth[14, v] + depth[15, v])
            if any_prop:
                j = np.nonzero(carried[rows])[0]
                if len(j):
                    ex.props(j, rows[j], state, a, b, z, h, r_body, pos, ct, st, depth_body[j],
                             c_left[rows[j]], c_front[rows[j]])
            if any_wheel:
                j = np.nonzero(wheel[rows] & ~(lying | falling)[rows])[0]
                if len(j):
                    ex.wheelchairs(j, rows[j], state, pos, ct, st, depth_body[j])
        pdepth = order_depth[v]
        occ_depth = pdepth
        if seated_on_bench is not None:
            # the bench under a sitter is part of the scene's occluders, but it does not hide its
            # sitter: only occluders nearer than the bench's front edge do. The bench's own
            # shadow stands for the sitter's (the outline is moved off the canvas).
            on = np.isin(rows, seated_on_bench)
            occ_depth = pdepth.copy()
            occ_depth[on] -= BENCH_DEPTH_M + 0.35
            fixed[on, 0:8] = -(1 << 24)
        behind, restore = self._maybe_hidden(drawn, occ_depth)
        return _People(ids=np.asarray(state.ids)[rows], groups=np.asarray(state.appearance_group)[rows], depth=pdepth,
                       box=box, drawn=drawn, parts=parts, head=np.stack([hu, hv], axis=1), behind=behind,
                       restore=restore, polys=fixed, colours=cols, show_face=show_face, extras=extras,
                       occ_depth=occ_depth, body_px=body_px)

    def _pose(self, k: np.ndarray, state: CrowdState, a, b, z, h, r_body, pr: _Proportions, wheel
              ) -> np.ndarray | None:
        """Sitting (on the floor, legs forward; on a bench, hip at the seat), crouching (knees
        bent, torso low and leaning forward) and seated in a wheelchair, for rows ``k``: the
        joints (body frame, in place) blend from the standing pose by ``posture_progress``.
        Returns the rows seated on a bench of the scene (None if none)."""
        posture = np.asarray(state.posture)[k]
        progress = np.asarray(state.posture_progress, dtype=np.float64)[k]
        H = h[k]
        n = len(k)
        on_wheel = wheel[k]
        crouch = (posture == Posture.CROUCHING) & ~on_wheel
        sit = (posture == Posture.SITTING) & ~on_wheel
        on_bench = np.zeros(n, bool)
        if self.scene.benches and sit.any():
            p = np.asarray(state.pos_m, dtype=np.float64)[k]
            for c, facing in self.scene.benches:
                d = p - c
                dep = d[:, 0] * math.cos(facing) + d[:, 1] * math.sin(facing)
                along = -d[:, 0] * math.sin(facing) + d[:, 1] * math.cos(facing)
                on_bench |= sit & (np.abs(along) <= BENCH_LENGTH_M / 2 + 0.1) & (np.abs(dep) <= BENCH_DEPTH_M / 2 + 0.35)
        floor = sit & ~on_bench
        w = np.where(on_wheel, 1.0, _smoothstep(progress))
        kinds = [floor, on_bench, crouch]  # anything else here is a wheelchair
        # hip line (a, z) [m] and the torso's forward lean [rad]
        a_h = np.select(kinds, [-0.12 * H, np.full(n, -0.06), -0.12 * H], -0.06)
        z_h = np.select(kinds, [0.09 * H, np.full(n, BENCH_HEIGHT_M + 0.03), 0.22 * H], WHEELCHAIR_SEAT_M + 0.05)
        lean = np.select(kinds, [np.full(n, -0.12), np.full(n, -0.04), np.full(n, 0.7)], 0.08)
        sl, cl = np.sin(lean), np.cos(lean)
        centre = pr.centre if pr.centre.shape[1] == 1 else pr.centre[:, k]
        hip_line = centre[3]

        def on_torso(frac):
            d = (frac - hip_line) * H
            return a_h + d * sl, z_h + d * cl

        ta = np.empty((_NJ, n))
        tz = np.empty((_NJ, n))
        tb = b[:, k].copy()
        ta[12:16], tz[12:16] = on_torso(centre)
        ta[6:8], tz[6:8] = on_torso(_rows_of(pr.shoulder, k))
        ta[0:2], tz[0:2] = on_torso(_rows_of(pr.hip, k))
        # legs: thighs forward (up a little on the floor, level on a seat, up steeply in a crouch)
        hip_a, hip_z = ta[0], tz[0]
        l_th, l_sh = _rows_of(pr.thigh, k) * H, _rows_of(pr.shin, k) * H
        knee_a = hip_a + l_th * np.select(kinds, [np.full(n, 0.906), np.full(n, 0.99), np.full(n, 0.917)], 0.99)
        knee_z = hip_z + l_th * np.select(kinds, [np.full(n, 0.423), np.full(n, 0.05), np.full(n, 0.4)], 0.05)
        foot_z = np.select(kinds, [0.03 * H, np.maximum(0.025 * H, knee_z - l_sh), 0.025 * H],
                           np.maximum(0.12, knee_z - l_sh))
        run = np.sqrt(np.maximum(l_sh * l_sh - (knee_z - foot_z) ** 2, 0.0))
        foot_a = np.select(kinds, [knee_a + run, knee_a + np.minimum(run, 0.1) + 0.04, 0.04 * H],
                           knee_a + np.minimum(run, 0.1) + 0.04)
        ta[2:4], tz[2:4] = knee_a, knee_z
        ta[4:6], tz[4:6] = foot_a, foot_z
        spread = np.where(crouch, 0.06, 0.07) * H
        tb[2:6] = np.tile(_SIDE[:, None] * spread, (2, 1))
        # hands: on the knees (floor), on the thighs (bench), near the floor (crouch), on the rims (wheelchair)
        swing = np.sin(np.asarray(state.gait_phase, dtype=np.float64)[k])
        hand_a = np.select(kinds, [knee_a - 0.03 * H, hip_a + 0.55 * l_th, 0.2 * H], -0.02 + 0.06 * swing)
        hand_z = np.select(kinds, [knee_z + 0.03 * H, hip_z + 0.09, 0.09 * H], np.full(n, WHEELCHAIR_SEAT_M + 0.08))
        hand_b = np.select(kinds, [0.075 * H, np.full(n, 0.1), 0.07 * H], 0.27)
        ta[6:8] = ta[6:8]
        for side in (0, 1):
            sgn = _SIDE[side]
            sh = np.stack([ta[6 + side], tb[6 + side], tz[6 + side]])
            elbow, hand = _two_link(sh, np.stack([hand_a, sgn * hand_b, hand_z]),
                                    _rows_of(pr.upper_arm, k) * H, _rows_of(pr.forearm, k) * H, sgn)
            ta[8 + side], tb[8 + side], tz[8 + side] = elbow
            ta[10 + side], tb[10 + side], tz[10 + side] = hand
        wb = 1.0 - w
        a[:, k] = a[:, k] * wb + ta * w
        b[:, k] = b[:, k] * wb + tb * w
        z[:, k] = z[:, k] * wb + tz * w
        return k[on_bench] if on_bench.any() else None

    # --- objects on the floor and fires ---------------------------------------------------------
    def _items(self, world, t: float) -> list:
        """The objects on the floor and the fires of ``world`` as drawing items, far to near."""
        items = []
        if len(world.objects):
            items += self._object_items(world.objects)
        if len(world.fires):
            items += self._fire_items(world.fires, t)
        items.sort(key=lambda it: -it.depth)
        return items

    def _object_items(self, objects) -> list:
        """Bags, backpacks and suitcases on the floor: boxes with shaded faces and a contact shadow."""
        m = len(objects)
        pos = np.asarray(objects.pos_m, dtype=np.float64)
        size = np.asarray(objects.size_m, dtype=np.float64)
        yaw = np.asarray(objects.yaw_rad, dtype=np.float64)
        cam = self._canvas_cam
        depth = (pos - cam.position[:2]) @ cam.R[2, :2] - cam.position[2] * cam.R[2, 2]
        keep = np.nonzero(depth > 0.5)[0]
        if not len(keep):
            return []
        # boxes in a frame of their own: "people" at the objects' places, heading along the yaw
        k = len(keep)
        ct, st = np.cos(yaw[keep]), np.sin(yaw[keep])
        p = pos[keep]
        half = (size[keep] / 2).T  # (3, k): width along the yaw, depth, height
        centre = np.stack([np.zeros(k), np.zeros(k), half[2]])
        eye = np.eye(3)[:, :, None] * np.ones(k)
        idx = np.arange(k)
        store: list = [None] * k
        box = np.full((k, 4), [np.inf, np.inf, -np.inf, -np.inf])
        drawn = box.copy()
        parts = np.zeros((k, 3, 4))
        ex = _Extras(self, store, box, drawn, parts)
        colours = np.asarray(objects.colour_bgr, dtype=np.float64)[keep]
        ex._boxes(idx, idx, centre, eye, half, p, ct, st, colours, np.zeros(k), slot=np.full(k, 2))
        kinds = np.asarray(objects.kind)[keep]
        for kind in (ObjectKind.SUITCASE, ObjectKind.BAG):
            sel = np.nonzero(kinds == kind)[0]
            if not len(sel):
                continue
            # a suitcase's retracted handle on top; a bag's carrying strap as an arch
            hw = half[0, sel]
            top = 2 * half[2, sel]
            if kind == ObjectKind.SUITCASE:
                pa = np.stack([-0.3 * hw, -0.3 * hw, 0.3 * hw, 0.3 * hw])
                pz = np.stack([top, top + 0.035, top + 0.035, top])
            else:
                pa = np.stack([-0.55 * hw, -0.45 * hw, 0.0 * hw, 0.45 * hw, 0.55 * hw])
                pz = np.stack([top, top + 0.09, top + 0.13, top + 0.09, top])
            ex._strip(idx[sel], idx[sel], pa, np.zeros_like(pa), pz, np.full((len(pa), 1), 0.018), p, ct, st,
                      np.tile(_HANDLE_BGR, (len(sel), 1)) * 0.8, np.zeros(len(sel)), slot=np.full(len(sel), 2))
        # contact shadows: the footprint grown a little, on the floor
        ring = np.linspace(0.0, 2 * np.pi, 9)[:-1]
        sa = np.cos(ring)[:, None] * (half[0] + 0.06)
        sb = np.sin(ring)[:, None] * (half[1] + 0.06)
        x, y, zz = ex._world(sa, sb, np.zeros_like(sa), idx, p, ct, st)
        su, sv, _ = ex._image(x, y, zz)
        shadows = _fixed_points(su, sv)
        items = []
        margin = _OCCLUSION_MARGIN_M / 2
        behind, restore = self._maybe_hidden(drawn, depth[keep] - margin + _OCCLUSION_MARGIN_M)
        h_, w_ = self._bg.shape[:2]
        for i in range(k):
            if store[i] is None or not (drawn[i, 2] >= 0 and drawn[i, 0] < w_ and drawn[i, 3] >= 0 and drawn[i, 1] < h_):
                continue
            cu = int(np.clip(round(float(su[:, i].mean())), 0, w_ - 1))
            cv_ = int(np.clip(round(float(sv[:, i].mean())), 0, h_ - 1))
            shade = tuple(int(c) for c in self._bg[cv_, cu].astype(np.int64) * 6 // 10)
            items.append(_Item(depth=float(depth[keep[i]]), floor=[(_FILL_CONVEX, shadows[i], shade)], cmds=store[i][2],
                               behind=bool(behind[i]), restore=tuple(int(x) for x in restore[i]), margin_m=margin))
        return items

    def _fire_key(self, fire_id: int) -> int:
        """The flicker's key of a fire: the same for every camera (scenario seed and fire id)."""
        return _mix64(int(self.scenario.seed) * 1_000_033 + int(fire_id) * 7_919 + 0xF1E) & 0x7FFFFFFF

    def _flame_heights(self, key: int, age_s: float) -> np.ndarray:
        """(FLAME_TONGUES,) heights of the tongues as shares of the mean flame height: they flicker."""
        k = np.arange(FLAME_TONGUES)
        salt = (key + k * 0x9E37) & 0x7FFFFFFF
        n1 = _value_noise(age_s * 5.3 + k * 1.7, salt)
        n2 = _value_noise(age_s * 11.0 + k * 3.1, salt + 1)
        return 0.45 + 0.8 * n1 + 0.25 * (n2 - 0.5)

    def _fire_items(self, fires, t: float) -> list:
        """Flames (tongues of red, orange, yellow and a bright core, flickering and growing) and
        smoke (a grey plume that rises and spreads, blended at a quarter of the resolution)."""
        cam = self._canvas_cam
        items = []
        for i in range(len(fires)):
            fx, fy = (float(v) for v in fires.pos_m[i])
            radius = float(fires.flame_radius_m[i])
            height = float(fires.flame_height_m[i])
            age = float(fires.age_s[i])
            depth = float(cam.depth_of(np.array([fx, fy, 0.0])))
            if depth <= 0.5:
                continue
            key = self._fire_key(int(fires.ids[i]))
            # the flames stand in a plane through the fire, across the line of sight
            view = np.array([fx, fy]) - cam.position[:2]
            across = np.array([-view[1], view[0]]) / max(float(np.hypot(*view)), 1e-9)
            # the flames rise from the front half of the burning area
            nx, ny = fx - across[1] * 0.4 * radius, fy + across[0] * 0.4 * radius
            heights = self._flame_heights(key, age)
            k = np.arange(FLAME_TONGUES)
            salt = (key + k * 0x51ED) & 0x7FFFFFFF
            base = radius * (-0.7 + 1.4 * k / (FLAME_TONGUES - 1) + 0.2 * (_value_noise(age * 2.1 + k, salt) - 0.5))
            sway = 0.3 * height * (_value_noise(age * 4.0 + 5.0 * k, salt + 7) - 0.5)
            # the middle tongues are the tallest: the flames' outline is a flickering teardrop
            hk = 1.2 * height * heights * np.maximum(1.0 - 0.8 * (base / max(radius, 1e-6)) ** 2, 0.25)
            # the smoke first: the flames shine through it
            smoke = self._smoke(fires, i, key, across)
            cmds = [] if smoke is None else [smoke]
            # the burning base: a charred, glowing disc on the floor
            ring = np.linspace(0.0, 2 * np.pi, 13)[:-1]
            gx = fx + np.cos(ring) * radius * 0.9
            gy = fy + np.sin(ring) * radius * 0.9
            gu, gv = self._project_points(gx, gy, np.full_like(gx, 0.01))
            layers = [([_fixed_points(gu[:, None], gv[:, None])[0]], _scaled((22, 58, 140), self))]
            bounds = [gu.min(), gv.min(), gu.max(), gv.max()]
            for colour, s_w, s_h in FLAME_LAYERS:
                # tongue outline (x across, z up) per tongue: base, bulging sides, swaying tip; the
                # inner layers are narrower and lower, so that each tongue is red at its rim
                w = radius * 0.55 * s_w
                xs = base * (0.5 + 0.5 * s_w)
                hh = hk * s_h
                sw = sway * s_h
                px_ = np.stack([xs - w, xs - w * 1.1 + 0.1 * sw, xs - 0.8 * w + 0.3 * sw, xs - 0.4 * w + 0.65 * sw,
                                xs + sw, xs + 0.4 * w + 0.65 * sw, xs + 0.8 * w + 0.3 * sw,
                                xs + w * 1.1 + 0.1 * sw, xs + w])
                pz = np.stack([np.zeros_like(hh), 0.2 * hh, 0.45 * hh, 0.72 * hh, hh, 0.72 * hh, 0.45 * hh, 0.2 * hh,
                               np.zeros_like(hh)])
                u, v = self._project_points(nx + px_ * across[0], ny + px_ * across[1], pz)
                layers.append((list(_fixed_points(u, v)), _scaled(colour, self)))
                bounds = [min(bounds[0], u.min()), min(bounds[1], v.min()), max(bounds[2], u.max()), max(bounds[3], v.max())]
            # the bright core: a low dome over the base, breathing with the flames
            dome = np.linspace(0.0, np.pi, 9)
            core_h = height * 0.3 * float(heights.mean())
            cx_ = np.cos(dome) * radius * 0.75
            cz_ = np.sin(dome) * core_h + 0.02
            u, v = self._project_points(nx + cx_ * across[0], ny + cx_ * across[1], cz_)
            layers.append(([_fixed_points(u[:, None], v[:, None])[0]], _scaled(FLAME_CORE_BGR, self)))
            # flames have no hard edges: drawn apart, softened by a blur of a fraction of their size
            soft = max(0.6, 0.03 * (bounds[3] - bounds[1]))
            pad = int(math.ceil(3 * soft)) + 1
            fb = (int(math.floor(bounds[0])) - pad, int(math.floor(bounds[1])) - pad, int(math.ceil(bounds[2])) + pad + 1,
                  int(math.ceil(bounds[3])) + pad + 1)
            bounds = [fb[0], fb[1], fb[2], fb[3]]
            cmds.append((_FLAMES, (fb, soft, layers), None))
            if smoke is not None:
                x0, y0, x1, y1 = smoke[1][:4]
                bounds = [min(bounds[0], x0), min(bounds[1], y0), max(bounds[2], x1), max(bounds[3], y1)]
            drawn = np.array([bounds], dtype=np.float64)
            behind, restore = self._maybe_hidden(drawn, np.array([depth]))
            items.append(_Item(depth=depth, floor=[], cmds=cmds, behind=bool(behind[0]),
                               restore=tuple(int(x) for x in restore[0]), margin_m=_OCCLUSION_MARGIN_M))
        return items

    def _project_points(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points -> canvas pixels (through the lens); points behind the camera are pulled to its near plane."""
        cam = self._canvas_cam
        p = np.stack([np.asarray(x, float), np.asarray(y, float), np.asarray(z, float)], axis=-1) - cam.position
        pc = p @ cam.R.T
        d = np.maximum(pc[..., 2], 0.05)
        u = cam.K[0, 0] * pc[..., 0] / d + cam.K[0, 2]
        v = cam.K[1, 1] * pc[..., 1] / d + cam.K[1, 2]
        if self.lens is not None:
            u, v = self.lens.distort(u, v)
        return u, v

    def _smoke(self, fires, i: int, key: int, across: np.ndarray):
        """The smoke of fire ``i`` as one blending command: soft puffs rising from the flames and
        a layer spreading under the roof to ``smoke_radius_m``, summed as Gaussians at a quarter
        of the resolution (one small matrix product), turned into opacity and scaled by
        ``smoke_density``. None when there is no smoke yet or it is out of view."""
        density = float(fires.smoke_density[i])
        if density <= 1e-3:
            return None
        cam = self._canvas_cam
        fx, fy = (float(v) for v in fires.pos_m[i])
        spread = max(float(fires.smoke_radius_m[i]), 0.3)
        age = float(fires.age_s[i])
        flame_h = float(fires.flame_height_m[i])
        z0, z1 = 0.8 * flame_h + 0.2, max(SMOKE_TOP_M, flame_h + 1.5)
        m = SMOKE_PUFFS
        j = np.arange(m)
        rise = (j / m + age * SMOKE_RISE_MPS / (z1 - z0)) % 1.0  # each puff's height along the plume
        salt = (key + j * 0x2F1) & 0x7FFFFFFF
        drift = (_value_noise(age * 0.4 + j * 2.3, salt) - 0.5) * 2.0
        pz = z0 + rise * (z1 - z0)
        pr_ = 0.2 + float(fires.flame_radius_m[i]) + max(0.35 * spread - 0.2, 0.0) * rise ** 0.8
        px_ = fx + across[0] * drift * pr_ * 0.6
        py_ = fy + across[1] * drift * pr_ * 0.6
        # puffs billow: their strength wanders, and they fade in above the flames and out at the top
        strength = np.minimum(1.0, rise / 0.15) * (1.0 - 0.5 * rise) * (0.6 + 0.8 * _value_noise(age * 0.9 + j * 4.1, salt + 3))
        # the layer under the roof: wide, flat puffs around the plume's top
        lay = np.linspace(-1.0, 1.0, 5)
        lx = fx + across[0] * lay * spread * 0.6
        ly = fy + across[1] * lay * spread * 0.6
        all_x = np.concatenate([px_, lx])
        all_y = np.concatenate([py_, ly])
        all_z = np.concatenate([pz, np.full(5, z1)])
        all_r = np.concatenate([pr_, np.full(5, 0.5 * spread)])
        all_s = np.concatenate([strength, np.full(5, 0.9)])
        pc = (np.stack([all_x, all_y, all_z], axis=1) - cam.position) @ cam.R.T
        front = pc[:, 2] > 0.3
        if not front.any():
            return None
        pc, all_r, all_s = pc[front], all_r[front], all_s[front]
        u = cam.K[0, 0] * pc[:, 0] / pc[:, 2] + cam.K[0, 2]
        v = cam.K[1, 1] * pc[:, 1] / pc[:, 2] + cam.K[1, 2]
        if self.lens is not None:
            u, v = self.lens.distort(u, v)
        sigma = self._focal * all_r / pc[:, 2] * 0.5  # [px] a puff's Gaussian width
        sig_y = sigma * np.concatenate([np.ones(m), np.full(5, 0.55)])[front]  # the roof layer is flat
        hc, wc = self._bg.shape[:2]
        x0 = int(max(0, math.floor((u - 3 * sigma).min())))
        x1 = int(min(wc, math.ceil((u + 3 * sigma).max()) + 1))
        y0 = int(max(0, math.floor((v - 3 * sig_y).min())))
        y1 = int(min(hc, math.ceil((v + 3 * sig_y).max()) + 1))
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        q = 4.0
        gw, gh = max(2, int(math.ceil((x1 - x0) / q))), max(2, int(math.ceil((y1 - y0) / q)))
        gx = x0 + (np.arange(gw) + 0.5) * q - 0.5
        gy = y0 + (np.arange(gh) + 0.5) * q - 0.5
        ex_ = np.exp(-0.5 * ((gx[None, :] - u[:, None]) / sigma[:, None]) ** 2)  # (puffs, gw)
        ey_ = np.exp(-0.5 * ((gy[None, :] - v[:, None]) / sig_y[:, None]) ** 2)  # (puffs, gh)
        thickness = (ey_ * all_s[:, None]).T @ ex_  # (gh, gw)
        # billows: a soft random texture that drifts up the image as the smoke rises
        cell = max(3.0, float(np.median(sigma)) / q * 0.8)  # [quarter px]
        rise_px = SMOKE_RISE_MPS * self._focal / max(float(np.median(pc[:, 2])), 1.0) / q  # [quarter px/s]
        tex = _value_noise_2d((gx[None, :] - x0) / q / cell, ((gy[:, None] - y0) / q + age * rise_px) / cell,
                              key & 0x7FFFFFFF)
        thickness *= 0.45 + 1.1 * tex
        alpha = (density * (1.0 - np.exp(-1.6 * thickness))).astype(np.float32)
        # no seam at the box's edges (inside the image): the opacity tapers to 0 there
        edge = 0.12 * min(gw, gh) + 1.0
        ramp_x = np.minimum(np.arange(gw) + (x0 <= 0) * 1e9, np.arange(gw)[::-1] + (x1 >= wc) * 1e9)
        ramp_y = np.minimum(np.arange(gh) + (y0 <= 0) * 1e9, np.arange(gh)[::-1] + (y1 >= hc) * 1e9)
        alpha *= np.minimum(1.0, np.minimum(ramp_y[:, None], ramp_x[None, :]) / edge).astype(np.float32)
        # thicker smoke is darker
        g = float(self.render_spec.brightness)
        light = np.asarray(SMOKE_LIGHT_BGR, np.float32) * g
        dark = np.asarray(SMOKE_DARK_BGR, np.float32) * g
        colour = np.clip(light + (dark - light) * alpha[..., None], 0, 255).astype(np.uint8)
        return (_SMOKE, (x0, y0, x1, y1, alpha, colour), None)

    def _fire_light(self, out: np.ndarray, fires) -> None:
        """Warm light of the flames on the floor and walls around each fire, flickering with the
        flames (in place): computed at a quarter of the resolution from the surface points the
        pixels show, upsampled and added."""
        cv2 = self._cv2
        cam = self._canvas_cam
        hc, wc = out.shape[:2]
        xyz_q = self._surface_xyz_q
        hq, wq = xyz_q.shape[:2]
        gain = float(self.render_spec.brightness)
        colour = np.asarray(FIRE_GLOW_BGR, np.float32)
        for i in range(len(fires)):
            fx, fy = (float(v) for v in fires.pos_m[i])
            radius = float(fires.flame_radius_m[i])
            flame_h = float(fires.flame_height_m[i])
            reach = 1.0 + 2.5 * radius  # [m] the pool of light's radius
            level = float(self._flame_heights(self._fire_key(int(fires.ids[i])), float(fires.age_s[i])).mean())
            strength = FIRE_GLOW_GAIN * min(1.0, 0.3 + radius / 0.5) * min(level, 1.3) * gain
            span = 1.7 * reach  # exp(-1.7²) = 6 % of the light at the box's edge
            corners = np.array([[fx + dx, fy + dy, zz] for dx in (-span, span) for dy in (-span, span)
                                for zz in (0.0, span)])
            if not np.all(cam.in_front(corners)):
                qx0, qy0, qx1, qy1 = 0, 0, wq, hq
            else:
                uv, _ = cam.project(corners)
                if self.lens is not None:
                    uv = np.stack(self.lens.distort(uv[:, 0], uv[:, 1]), axis=1)
                qx0, qy0 = (max(0, int(math.floor(c / 4))) for c in uv.min(axis=0))
                qx1 = int(min(wq, math.ceil(uv[:, 0].max() / 4) + 1))
                qy1 = int(min(hq, math.ceil(uv[:, 1].max() / 4) + 1))
            if qx1 <= qx0 or qy1 <= qy0:
                continue
            pts = xyz_q[qy0:qy1, qx0:qx1]
            d2 = ((pts - np.array([fx, fy, 0.35 * flame_h], np.float32)) ** 2).sum(axis=2)
            weight = np.exp(-d2 / np.float32(reach * reach)) * np.float32(strength)
            glow_q = weight[..., None] * colour
            x0, y0 = 4 * qx0, 4 * qy0
            glow = cv2.resize(glow_q, (4 * (qx1 - qx0), 4 * (qy1 - qy0)), interpolation=cv2.INTER_LINEAR)
            x1, y1 = min(wc, x0 + glow.shape[1]), min(hc, y0 + glow.shape[0])
            glow8 = np.ascontiguousarray(np.clip(np.rint(glow[:y1 - y0, :x1 - x0]), 0, 255).astype(np.uint8))
            roi = out[y0:y1, x0:x1]
            cv2.add(roi, glow8, dst=roi)

    def _maybe_hidden(self, boxes: np.ndarray, depth_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which people a static occluder nearer than them may overlap, and where.

        ``boxes`` are x0 y0 x1 y1 [canvas px]. Returns (m,) bool and (m, 4) int boxes (x1, y1
        exclusive): the part of each person's box covered by occluder tiles nearer than the
        person. Conservative (it may flag a person nobody hides, never the reverse); the
        colour pass then tests the pixels.
        """
        m = len(boxes)
        roi = np.zeros((m, 4), np.int64)
        if not self._occ_any or m == 0:
            return np.zeros(m, bool), roi
        # screening: four lookups per person in the depth-binned integral image of tiles
        I = self._occ_integral
        n_bins, th1, tw1 = I.shape
        tile = _OCC_TILE_PX
        x0 = np.clip(np.floor(boxes[:, 0] / tile), 0, tw1 - 1).astype(np.int64)
        y0 = np.clip(np.floor(boxes[:, 1] / tile), 0, th1 - 1).astype(np.int64)
        x1 = np.clip(np.floor(boxes[:, 2] / tile) + 1, 0, tw1 - 1).astype(np.int64)
        y1 = np.clip(np.floor(boxes[:, 3] / tile) + 1, 0, th1 - 1).astype(np.int64)
        k = np.clip(np.ceil((depth_m - _OCCLUSION_MARGIN_M) / _OCC_BIN_M), 0, n_bins - 1).astype(np.int64)
        behind = (I[k, y1, x1] - I[k, y0, x1] - I[k, y1, x0] + I[k, y0, x0]) > 0
        if not behind.any():
            return behind, roi
        # the flagged few: the exact tiles under each box, for a tight repaint box
        sel = np.nonzero(behind)[0]
        b = boxes[sel]
        grid = self._occ_tile_min  # (th, tw) [m] nearest occluder per tile, inf where none
        th, tw = grid.shape
        gx0 = np.clip(np.floor(b[:, 0] / tile), 0, tw - 1).astype(np.int64)
        gy0 = np.clip(np.floor(b[:, 1] / tile), 0, th - 1).astype(np.int64)
        gx1 = np.clip(np.floor(b[:, 2] / tile), 0, tw - 1).astype(np.int64)
        gy1 = np.clip(np.floor(b[:, 3] / tile), 0, th - 1).astype(np.int64)
        gy = gy0[:, None, None] + np.arange(int((gy1 - gy0).max()) + 1)[None, :, None]  # (k, ny, 1)
        gx = gx0[:, None, None] + np.arange(int((gx1 - gx0).max()) + 1)[None, None, :]  # (k, 1, nx)
        nearest = grid[np.minimum(gy, th - 1), np.minimum(gx, tw - 1)]
        hit = ((gy <= gy1[:, None, None]) & (gx <= gx1[:, None, None])
               & (nearest < (depth_m[sel] - _OCCLUSION_MARGIN_M)[:, None, None]))
        behind[sel] = hit.any(axis=(1, 2))
        big = 1 << 30
        tx0 = np.where(hit, gx, big).min(axis=(1, 2)) * tile
        ty0 = np.where(hit, gy, big).min(axis=(1, 2)) * tile
        tx1 = (np.where(hit, gx, -big).max(axis=(1, 2)) + 1) * tile
        ty1 = (np.where(hit, gy, -big).max(axis=(1, 2)) + 1) * tile
        r = np.stack([np.maximum(tx0, np.floor(b[:, 0]) - 1), np.maximum(ty0, np.floor(b[:, 1]) - 1),
                      np.minimum(tx1, np.ceil(b[:, 2]) + 2), np.minimum(ty1, np.ceil(b[:, 3]) + 2)], axis=1)
        roi[sel] = np.where(behind[sel, None], r, 0).astype(np.int64)
        return behind, roi

    def _draw(self, img: np.ndarray, g: "_People | None", items: list | None = None, bg: np.ndarray | None = None
              ) -> None:
        """Fill every person's shapes into ``img`` (canvas coordinates), far to near.

        Shadows go first, all of them: they lie on the floor, and a body always stands in front
        of the floor it overlaps in the image (a nearer person's shadow never covers a farther
        person's feet). Static occluders in front of a person are restored after its body
        (from ``bg``, the frame's static image), which also hides the parts of shadows that
        fall behind them. ``items`` (objects on the floor, fires) take their places in the
        same far-to-near order.
        """
        cv2 = self._cv2
        fill = cv2.fillConvexPoly
        copy_to = cv2.copyTo
        s = _SHIFT
        occ = self._occ_depth
        bg = self._bg if bg is None else bg
        margin = _OCCLUSION_MARGIN_M
        if items:
            for it in items:
                for cmd in it.floor:
                    self._run(img, cmd)
        if g is None:
            for it in items or ():
                self._draw_item(img, it, bg)
            return
        P = g.polys
        if g.extras is None and not items and raster_backend() == "numba":
            self._draw_batched(img, g, bg)
            return
        cols = g.colours.tolist()
        for sh, c in zip(list(P[:, 0:8]), cols):
            fill(img, sh, c[0], 8, s)
        rows = zip(list(P[:, 8:14]), list(P[:, 14:20]), list(P[:, 20:26]), list(P[:, 26:32]), list(P[:, 32:38]),
                   list(P[:, 38:50]), list(P[:, 50:62]), cols, g.show_face.tolist(), g.behind.tolist(),
                   g.restore.tolist(), (g.depth if g.occ_depth is None else g.occ_depth).tolist())
        if g.extras is None and not items:
            for lf, af, ln, to, an, hair, skin, c, face, behind, roi, depth in rows:
                fill(img, lf, c[1], 8, s)
                fill(img, af, c[2], 8, s)
                fill(img, ln, c[3], 8, s)
                fill(img, to, c[4], 8, s)
                fill(img, an, c[5], 8, s)
                fill(img, hair, c[6], 8, s)
                if face:
                    fill(img, skin, c[7], 8, s)
                if behind:
                    # paint back the static pixels (pillars, barriers, walls) that stand in front
                    x0, y0, x1, y1 = roi
                    if x1 > x0 and y1 > y0:
                        mask = occ[y0:y1, x0:x1] < depth - margin
                        copy_to(bg[y0:y1, x0:x1], mask.view(np.uint8), img[y0:y1, x0:x1])
            return
        # the general loop: extra shapes per person, items between people
        extras = g.extras if g.extras is not None else [None] * len(cols)
        slot_of = {}
        if items:
            # people are sorted far to near: an item goes before the first person nearer than it
            neg = -g.depth
            for it in items:
                slot_of.setdefault(int(np.searchsorted(neg, -it.depth, side="left")), []).append(it)
        run = self._run
        for i, (lf, af, ln, to, an, hair, skin, c, face, behind, roi, depth) in enumerate(rows):
            if i in slot_of:
                for it in slot_of[i]:
                    self._draw_item(img, it, bg)
            ex = extras[i]
            if ex is not None:
                for cmd in ex[0]:
                    run(img, cmd)
            fill(img, lf, c[1], 8, s)
            fill(img, af, c[2], 8, s)
            fill(img, ln, c[3], 8, s)
            fill(img, to, c[4], 8, s)
            if ex is not None:
                for cmd in ex[1]:
                    run(img, cmd)
            fill(img, an, c[5], 8, s)
            fill(img, hair, c[6], 8, s)
            if face:
                fill(img, skin, c[7], 8, s)
            if ex is not None:
                for cmd in ex[2]:
                    run(img, cmd)
            if behind:
                x0, y0, x1, y1 = roi
                if x1 > x0 and y1 > y0:
                    mask = occ[y0:y1, x0:x1] < depth - margin
                    copy_to(bg[y0:y1, x0:x1], mask.view(np.uint8), img[y0:y1, x0:x1])
        for it in slot_of.get(len(cols), ()):
            self._draw_item(img, it, bg)

    def _run(self, img: np.ndarray, cmd) -> None:
        """One extra drawing command: (operation, points, colour)."""
        op, pts, colour = cmd
        cv2 = self._cv2
        if op == _FILL_CONVEX:
            cv2.fillConvexPoly(img, pts, colour, 8, _SHIFT)
        elif op == _FILL:
            cv2.fillPoly(img, pts, colour, 8, _SHIFT)
        elif op == _FILL_AA:
            cv2.fillPoly(img, pts, colour, cv2.LINE_AA, _SHIFT)
        elif op == _FLAMES:
            # layers of polygons drawn on black with their coverage, both blurred, then blended in
            # (premultiplied): soft flames over a sharp background
            (x0, y0, x1, y1), sigma, layers = pts
            h, w = img.shape[:2]
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 - x0 < 1 or y1 - y0 < 1:
                return
            layer = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
            cover = np.zeros((y1 - y0, x1 - x0), np.uint8)
            off = np.array([x0, y0], np.int32) << _SHIFT
            for polys, c in layers:
                moved = [p - off for p in polys]
                cv2.fillPoly(layer, moved, c, cv2.LINE_AA, _SHIFT)
                cv2.fillPoly(cover, moved, 255, cv2.LINE_AA, _SHIFT)
            layer = cv2.GaussianBlur(layer, (0, 0), sigma).astype(np.float32)
            a = cv2.GaussianBlur(cover, (0, 0), sigma).astype(np.float32)[..., None] * np.float32(1 / 255)
            roi = img[y0:y1, x0:x1]
            roi[...] = np.clip(roi * (1.0 - a) + layer, 0, 255).astype(np.uint8)
        else:  # smoke: blend quarter-resolution opacity and colour maps over a box
            x0, y0, x1, y1, alpha, colour = pts
            size = (x1 - x0, y1 - y0)
            a = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
            smoke = cv2.resize(colour, size, interpolation=cv2.INTER_LINEAR)
            roi = img[y0:y1, x0:x1]
            roi[...] = cv2.blendLinear(roi, smoke, 1.0 - a, a)

    def _draw_batched(self, img: np.ndarray, g: "_People", bg: np.ndarray) -> None:
        """The plain people pass of :meth:`_draw` with one compiled fill per run of people.

        Same polygons, colours and order as the per-shape loop, so the same pixels: the shadows
        in one call, then the bodies in batches. A person a static occluder may stand in front
        of gets its occluded pixels restored (from ``bg``) before the first nearer person whose
        body can reach them is drawn: a batch ends there, and a restore is put off until the end
        of its batch. Putting it off changes no pixel: the people drawn in between fill nothing
        inside its box, and restores write the static image, so their order does not matter.
        """
        m = len(g.polys)
        P = g.polys
        cols = g.colours.astype(np.uint8)
        fill_convex_polys(img, np.ascontiguousarray(P[:, 0:8]), np.full(m, 8), cols[:, 0], shift=_SHIFT)
        body = np.zeros((m, 7, 12, 2), np.int32)
        for j, (a, b) in enumerate(_BODY_SLICES):
            body[:, j, :b - a] = P[:, a:b]
        body = body.reshape(-1, 12, 2)
        nv = np.tile(_BODY_NV, m)
        bcol = np.ascontiguousarray(cols[:, 1:]).reshape(-1, 3)
        on = np.ones((m, 7), bool)
        on[:, 6] = g.show_face
        on = on.reshape(-1)
        occ = self._occ_depth
        depth = g.depth if g.occ_depth is None else g.occ_depth
        copy_to = self._cv2.copyTo
        hidden = np.flatnonzero(g.behind)
        roi = g.restore[hidden]
        keep = (roi[:, 2] > roi[:, 0]) & (roi[:, 3] > roi[:, 1])  # an empty box restores nothing
        hidden, roi = hidden[keep], roi[keep]
        if len(hidden) and g.body_px is not None:
            # per restore, the first nearer person whose body box meets its box (m if none)
            bp = np.ascontiguousarray(g.body_px.T)  # (4, m) int32
            r32 = roi.astype(np.int32)
            meets = np.less(bp[0][None, :], r32[:, 2:3])
            meets &= np.greater_equal(bp[2][None, :], r32[:, 0:1])
            meets &= np.less(bp[1][None, :], r32[:, 3:4])
            meets &= np.greater_equal(bp[3][None, :], r32[:, 1:2])
            meets &= np.arange(m, dtype=np.int32)[None, :] > hidden.astype(np.int32)[:, None]
            first = np.where(meets.any(axis=1), meets.argmax(axis=1), m)
        else:
            first = hidden + 1  # no bounds: restore right after each person
        thresholds = (depth[hidden] - _OCCLUSION_MARGIN_M).tolist()
        pending: list[tuple[int, int, int, int, float]] = []
        start, limit = 0, m
        # the arrays above are built valid (C-contiguous int32 outlines, int64 counts, uint8 colours,
        # bool flags): the batches go to the compiled kernel directly, without the public function's
        # checks (about 15 µs a call, against 1 µs for the kernel's own call)
        fill = _raster_kernel() if img.flags.c_contiguous else None
        if fill is None:
            fill = fill_convex_polys

        def flush(stop: int) -> None:
            fill(img, body[7 * start:7 * stop], nv[7 * start:7 * stop], bcol[7 * start:7 * stop], _SHIFT,
                 on[7 * start:7 * stop])
            for x0, y0, x1, y1, thr in pending:
                mask = occ[y0:y1, x0:x1] < thr
                copy_to(bg[y0:y1, x0:x1], mask.view(np.uint8), img[y0:y1, x0:x1])
            pending.clear()

        for i, stop_before, (x0, y0, x1, y1), thr in zip(hidden.tolist(), first.tolist(), roi.tolist(), thresholds):
            if i >= limit:
                flush(limit)
                start, limit = limit, m
            pending.append((x0, y0, x1, y1, thr))
            limit = min(limit, stop_before)
        if pending:
            flush(limit)
            start = limit
        if start < m:
            flush(m)

    def _draw_item(self, img: np.ndarray, it: "_Item", bg: np.ndarray) -> None:
        for cmd in it.cmds:
            self._run(img, cmd)
        if it.behind:
            x0, y0, x1, y1 = it.restore
            if x1 > x0 and y1 > y0:
                mask = self._occ_depth[y0:y1, x0:x1] < it.depth - it.margin_m
                self._cv2.copyTo(bg[y0:y1, x0:x1], mask.view(np.uint8), img[y0:y1, x0:x1])

    # --- annotations ---------------------------------------------------------------------------
    def _annotate(self, g: "_People | None", frame_idx: int, t: float, ox: int, oy: int, visibility: bool
                  ) -> FrameAnnotations:
        """Boxes and head points in output-image coordinates; visible fractions if asked for."""
        if g is None:
            return FrameAnnotations.empty(frame=frame_idx, t=t, camera=self.spec.name)
        w, h = self.width, self.height
        off = np.array([ox, oy, ox, oy], dtype=np.float64)
        b = g.box - off
        inside = (b[:, 2] >= 0) & (b[:, 0] <= w - 1) & (b[:, 3] >= 0) & (b[:, 1] <= h - 1)
        np.clip(b, 0, [w - 1, h - 1, w - 1, h - 1], out=b)
        vis = self._visible_fraction(g, off) if visibility else np.full(len(b), np.nan)
        return FrameAnnotations(
            frame=frame_idx, t=t, camera=self.spec.name, ids=g.ids[inside],
            boxes=np.c_[b[:, 0:2], b[:, 2:4] - b[:, 0:2]][inside], heads=(g.head - off[:2])[inside],
            visible=vis[inside], appearance_group=g.groups[inside])

    def _visible_fraction(self, g: "_People", off: np.ndarray) -> np.ndarray:
        """Share of each person's silhouette that shows in the image, in [0, 1].

        The silhouette is the union of three boxes (head, torso with arms, legs). They are
        painted far to near into an id buffer at a quarter of the image's resolution, with
        pillars, barriers, walls and panels in front restored as in the colour pass; a
        person's share is the count of its ids left over the area of its boxes' union
        (unclipped, computed exactly). Vectorised: every box pixel at once, the nearest
        unhidden person winning each pixel.
        """
        q = float(1 << _ID_SCALE_LOG2)
        hq, wq = self._id_shape
        # quarter-resolution integer boxes, x0 y0 x1 y1 exclusive: (m, 3, 4)
        bq = np.rint((g.parts - off[None, None, :]) / q).astype(np.int64)
        bq[..., 2:] = np.maximum(bq[..., 2:], bq[..., :2] + 1)
        total = _union_area3(bq)
        m = len(bq)
        cl = bq.reshape(3 * m, 4)
        x0 = np.clip(cl[:, 0], 0, wq)
        y0 = np.clip(cl[:, 1], 0, hq)
        bw = np.clip(cl[:, 2], 0, wq) - x0
        bh = np.clip(cl[:, 3], 0, hq) - y0
        np.maximum(bw, 0, out=bw)
        np.maximum(bh, 0, out=bh)
        n_px = bw * bh
        # every box's pixels, in drawing order; a pixel's owner is the last (nearest) person covering it
        # that no pillar, barrier, wall or panel hides there (the painter's order of the colour pass)
        owner = np.repeat(np.repeat(np.arange(1, m + 1), 3), n_px)
        k = np.arange(int(n_px.sum())) - np.repeat(np.cumsum(n_px) - n_px, n_px)
        w_rep = np.repeat(bw, n_px)
        flat = (np.repeat(y0, n_px) + k // w_rep) * wq + np.repeat(x0, n_px) + k % w_rep
        occ_depth = g.depth if g.occ_depth is None else g.occ_depth
        shown = self._occ_depth_q.ravel()[flat] >= (occ_depth - _OCCLUSION_MARGIN_M)[owner - 1]
        ids = np.zeros(hq * wq, np.int64)
        np.maximum.at(ids, flat[shown], owner[shown])
        counts = np.bincount(ids, minlength=m + 1)[1:m + 1]
        return np.minimum(1.0, counts / np.maximum(total, 1))


@dataclass(frozen=True, kw_only=True)
class _LightPattern:
    """A flickering light of the scene as one camera sees it."""

    spec: object  #: the scenario's FlickeringLightDistractor
    key: int  #: 64-bit key of its flicker (from the scenario's seed and the light)
    box: tuple[int, int, int, int]  #: x0 y0 x1 y1 (exclusive) of ``add`` in canvas pixels
    add: np.ndarray  #: (h, w, 3) uint8, added to the background times the light's level


def _value_noise(x: np.ndarray, salt: np.ndarray | int) -> np.ndarray:
    """Smooth pseudo-random values in [0, 1) along ``x`` (one random value per integer, smoothstep between)."""
    x = np.asarray(x, dtype=np.float64)
    i = np.floor(x)
    f = x - i
    f = f * f * (3.0 - 2.0 * f)
    salt = np.asarray(salt, dtype=np.int64) & 0x7FFFFFFF
    a = _hash01(i, salt, 11)
    b = _hash01(i + 1, salt, 11)
    return a + (b - a) * f


def _value_noise_2d(x: np.ndarray, y: np.ndarray, salt: int) -> np.ndarray:
    """Smooth pseudo-random values in [0, 1) over the plane (random values at integer points, smoothstep between)."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    ix, iy = np.floor(x), np.floor(y)
    fx, fy = x - ix, y - iy
    fx = fx * fx * (3.0 - 2.0 * fx)
    fy = fy * fy * (3.0 - 2.0 * fy)
    ix = ix.astype(np.int64) + (salt & 0xFFFF) * 7919
    iy = iy.astype(np.int64)
    salt = 13 + (salt >> 16)
    v00, v10 = _hash01(ix, iy, salt), _hash01(ix + 1, iy, salt)
    v01, v11 = _hash01(ix, iy + 1, salt), _hash01(ix + 1, iy + 1, salt)
    top = v00 + (v10 - v00) * fx
    bottom = v01 + (v11 - v01) * fx
    return top + (bottom - top) * fy


def light_level(t: float, flicker_hz: float, key: int) -> float:
    """Level in [0, 1] of a failing light at time ``t`` [s]: mostly on, with random dips and
    blinks about ``flicker_hz`` times a second (0 = the light's darkest phase).

    Deterministic in (t, key): every camera sees the same light at the same level.
    """
    n = float(_value_noise(np.array([t * flicker_hz]), key & 0x7FFFFFFF)[0])
    # a blink is a sharp dip: most of the time the tube is on, at times fully off
    return float(np.clip(1.6 * n - 0.25, 0.0, 1.0))


@dataclass(frozen=True, kw_only=True)
class _People:
    """One frame's people in drawing order (far to near), canvas pixel coordinates."""

    ids: np.ndarray  #: (m,) pedestrian ids
    groups: np.ndarray  #: (m,) appearance groups
    depth: np.ndarray  #: (m,) [m] depth of the body's ground centre (sort key)
    box: np.ndarray  #: (m, 4) x0 y0 x1 y1 of the body
    drawn: np.ndarray  #: (m, 4) x0 y0 x1 y1 of everything drawn (body and shadow)
    parts: np.ndarray  #: (m, 3, 4) boxes of head, torso with arms, legs
    head: np.ndarray  #: (m, 2) head centre
    behind: np.ndarray  #: (m,) bool: a static occluder may stand in front
    restore: np.ndarray  #: (m, 4) int x0 y0 x1 y1 (exclusive) where occluders may cover the person
    #: (m, 62, 2) int32 fixed-point outlines: shadow 8, far leg, far arm, near leg, torso, near arm (6 each),
    #: hair 12, face 12 (see _OUTLINE_SLICES)
    polys: np.ndarray
    colours: np.ndarray  #: (m, 8, 3) int BGR of shadow, far leg, far arm, near leg, torso, near arm, hair, face
    show_face: np.ndarray  #: (m,) bool
    #: per person None, or three lists of (operation, points, colour) drawn before the body, after
    #: the torso and after everything (props, vest stripes, wheelchairs); None when nobody has any
    extras: list | None = None
    occ_depth: np.ndarray | None = None  #: (m,) [m] depth for the occlusion tests (default ``depth``)
    #: (m, 4) int x0 y0 x1 y1 (inclusive) [canvas px]: bounds every pixel the body's polygons (not the
    #: shadow) can fill; None when unknown
    body_px: np.ndarray | None = None


@dataclass(frozen=True, kw_only=True)
class _Item:
    """Something drawn in the painter's order among the people: an object on the floor, a fire."""

    depth: float  #: [m] depth of its ground centre (sort key)
    floor: list  #: commands drawn with the shadows (on the floor, under everything)
    cmds: list  #: commands drawn at its place in the order
    behind: bool  #: a static occluder may stand in front
    restore: tuple[int, int, int, int]  #: x0 y0 x1 y1 (exclusive) where occluders may cover it
    margin_m: float  #: [m] an occluder hides it where nearer than its depth by this much


def _scaled(colour, renderer: "Renderer") -> tuple[int, int, int]:
    """A BGR colour times the scenario's brightness, as OpenCV's int tuple."""
    g = float(renderer.render_spec.brightness)
    return tuple(int(min(255, max(0, round(float(c) * g)))) for c in colour)


# body model constants --------------------------------------------------------------------------
_NJ = 16  #: joints: hips L R, knees L R, feet L R, shoulders L R, elbows L R, hands L R, head, neck, shoulder line, hip line
_NP = 30  #: points per person: joints, torso hexagon (6), shadow octagon (8)
_SIDE = np.array([1.0, -1.0])
_SIDE_PHASE = np.array([0.0, np.pi])
_CENTRE_Z = np.array([0.935, 0.865, 0.82, 0.54])
_NV = 62  #: outline vertices drawn per person (see _People.polys)
_HEAD_LOD_PX = 3.0  #: [px] head radius under which hair and face are drawn as one polygon
#: vertex ranges of the outlines in _People.polys: shadow, far leg, far arm, near leg, torso, near arm, hair, face
_OUTLINE_SLICES = ((0, 8), (8, 14), (14, 20), (20, 26), (26, 32), (32, 38), (38, 50), (50, 62))
_COS8 = np.cos(np.arange(8) * (np.pi / 4))
_SIN8 = np.sin(np.arange(8) * (np.pi / 4))
_COS12 = np.cos(np.arange(12) * (np.pi / 6))
_SIN12 = np.sin(np.arange(12) * (np.pi / 6))
#: joints along each limb (3 points x 4 limbs: left leg, right leg, left arm, right arm)
_LIMB_CHAINS = np.array([[0, 1, 6, 7], [2, 3, 8, 9], [4, 5, 10, 11]])
#: [m] limb widths at those joints (hip/shoulder, knee/elbow, foot/hand)
_LIMB_WIDTHS = np.array([[0.16, 0.16, 0.095, 0.095], [0.12, 0.12, 0.08, 0.08], [0.10, 0.10, 0.065, 0.065]])
#: brightness of far leg, far arm, near leg, torso, near arm, hair, face relative to the person's colours
_PART_SHADE = np.array([0.78, 0.74, 1.0, 1.0, 0.9, 1.0, 1.0])[None, :, None]
_COORD_LIMIT = 2.0**31 / (1 << _SHIFT) / 4  #: [px] keeps fixed-point coordinates inside int32


def _limb_polygons(u: np.ndarray, v: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outlines of limbs through 3 image points, points first: u, v, widths [px] (3, ...) -> u, v (6, ...)."""
    du = u[1:] - u[:-1]  # (2, ...): upper and lower segment
    dv = v[1:] - v[:-1]
    length = np.sqrt(du * du + dv * dv)
    short = length < 1e-9
    inv = 1.0 / np.where(short, 1.0, length)
    nu = np.where(short, -1.0, -dv * inv)  # unit normals (-dv, du); a zero-length segment gets (-1, 0)
    nv = np.where(short, 0.0, du * inv)
    ku = nu[0] + nu[1]
    kv = nv[0] + nv[1]
    k_len = np.sqrt(ku * ku + kv * kv)
    bent = k_len > 1e-6
    k_inv = 1.0 / np.where(bent, k_len, 1.0)
    ku = np.where(bent, ku * k_inv, nu[0])
    kv = np.where(bent, kv * k_inv, nv[0])
    hw = 0.5 * widths
    ou = np.stack([nu[0] * hw[0], ku * hw[1], nu[1] * hw[2]])
    ov = np.stack([nv[0] * hw[0], kv * hw[1], nv[1] * hw[2]])
    pu = np.concatenate([u + ou, (u - ou)[::-1]])
    pv = np.concatenate([v + ov, (v - ov)[::-1]])
    return pu, pv


def _union_area3(b: np.ndarray) -> np.ndarray:
    """Area of the union of three integer boxes per row: (m, 3, 4) x0 y0 x1 y1 -> (m,)."""

    def area(x0, y0, x1, y1):
        return np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)

    def inter(p, q):
        return (np.maximum(p[0], q[0]), np.maximum(p[1], q[1]), np.minimum(p[2], q[2]), np.minimum(p[3], q[3]))

    A, B, C = (tuple(b[:, k, j] for j in range(4)) for k in range(3))
    ab, ac, bc = inter(A, B), inter(A, C), inter(B, C)
    return area(*A) + area(*B) + area(*C) - area(*ab) - area(*ac) - area(*bc) + area(*inter(ab, C))


# --- poses, props, vests, wheelchairs ------------------------------------------------------------

VEST_BGR = (24.0, 226.0, 238.0)  #: fluorescent yellow of a high-visibility vest
VEST_STRIPE_BGR = (196.0, 198.0, 196.0)  #: its reflective silver stripes
#: (from, to) of the vest's stripes, as shares of the way from the shoulder line to the hip line
VEST_STRIPES = ((0.40, 0.52), (0.70, 0.82))
WHEELCHAIR_SEAT_M = 0.5  #: [m] seat height of a wheelchair
WHEELCHAIR_WHEEL_M = 0.30  #: [m] radius of its big wheels
#: hip line to the top of the head, in body lengths (an adult): fixes a seated wheelchair user's body length
_SEATED_TOP = 0.935 - 0.54 + 0.06
RIFLE_LENGTH_M = 0.9  #: [m] butt to muzzle
UMBRELLA_LENGTH_M = 0.88  #: [m] handle to tip of a closed umbrella
GUITAR_CASE_LENGTH_M = 1.05  #: [m]
#: dark colours of bags, backpacks and umbrellas (picked per person by id)
_BAG_PALETTE = ((30, 30, 30), (60, 40, 30), (40, 40, 90), (90, 60, 40), (50, 80, 50), (20, 20, 110), (70, 70, 74))
_UMBRELLA_PALETTE = ((26, 26, 30), (70, 32, 22), (34, 30, 96), (32, 62, 34), (62, 24, 62))
_RIFLE_BGR = (27, 28, 31)
_CANE_BGR = (30, 42, 58)
_GUITAR_CASE_BGR = (30, 30, 33)
_HANDLE_BGR = (52, 54, 58)
_CHAIR_FRAME_BGR = (88, 88, 92)
_CHAIR_SEAT_BGR = (36, 36, 40)
_TYRE_BGR = (28, 28, 30)
# rifle: centre line (s [m] from the butt) and thickness [m]: stock, grip, receiver, handguard, barrel
_RIFLE_S = np.array([0.0, 0.2, 0.28, 0.36, 0.58, 0.62, 0.9])
_RIFLE_W = np.array([0.11, 0.05, 0.06, 0.075, 0.065, 0.032, 0.026])
# closed umbrella: shaft from the handle; the folded canopy bulges, the ferrule is a point
_UMBRELLA_S = np.array([0.0, 0.1, 0.16, 0.35, 0.6, 0.8, 0.88])
_UMBRELLA_W = np.array([0.028, 0.03, 0.055, 0.072, 0.06, 0.03, 0.012])
# guitar case: lower bout, waist, upper bout, neck, head (share of the length, width [m])
_GUITAR_S = np.array([0.0, 0.08, 0.2, 0.33, 0.45, 0.55, 0.62, 0.9, 0.95, 1.0])
_GUITAR_W = np.array([0.26, 0.36, 0.38, 0.30, 0.33, 0.26, 0.14, 0.13, 0.17, 0.14])
_GUITAR_DEPTH_M = 0.13

_FILL_CONVEX, _FILL, _FILL_AA, _SMOKE, _FLAMES = range(5)  #: drawing operations of the extra shapes


@dataclass(frozen=True)
class _Proportions:
    """Body proportions as shares of the body length (scalars, or per-person arrays with children)."""

    hip: object
    shoulder: object
    thigh: object
    shin: object
    upper_arm: object
    forearm: object
    head: object  #: head radius
    centre: np.ndarray  #: (4, 1) or (4, n): head, neck, shoulder line, hip line


_ADULT = _Proportions(hip=0.52, shoulder=0.80, thigh=0.25, shin=0.245, upper_arm=0.17, forearm=0.19, head=0.06,
                      centre=_CENTRE_Z[:, None])
#: a child: shorter legs and a bigger head for its height
_CHILD = _Proportions(hip=0.47, shoulder=0.78, thigh=0.225, shin=0.22, upper_arm=0.16, forearm=0.17, head=0.08,
                      centre=np.array([0.915, 0.84, 0.78, 0.495])[:, None])


def _proportions(child: np.ndarray | None) -> _Proportions:
    if child is None:
        return _ADULT
    kw = {}
    for name in ("hip", "shoulder", "thigh", "shin", "upper_arm", "forearm", "head"):
        kw[name] = np.where(child, getattr(_CHILD, name), getattr(_ADULT, name))
    kw["centre"] = np.where(child[None, :], _CHILD.centre, _ADULT.centre)
    return _Proportions(**kw)


def _rows_of(x, k: np.ndarray):
    """A proportion for rows ``k``: a scalar stays a scalar."""
    return x if np.ndim(x) == 0 else x[..., k]


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _two_link(s: np.ndarray, hand: np.ndarray, l1: np.ndarray, l2: np.ndarray, side: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Elbow of an arm from shoulder ``s`` to ``hand`` (both (3, k) in the body frame a, b, z),
    upper arm ``l1`` and forearm ``l2`` [m]: bent down, outward (``side`` +1 left, -1 right)
    and back. A hand out of reach is pulled in along the line to the shoulder. Returns
    (elbow, hand)."""
    d = hand - s
    dist = np.sqrt((d * d).sum(axis=0))
    reach = 0.98 * (l1 + l2)
    far = dist > reach
    if far.any():
        hand = np.where(far, s + d * (reach / np.maximum(dist, 1e-9)), hand)
        d = hand - s
        dist = np.minimum(dist, reach)
    u = d / np.maximum(dist, 1e-9)
    a1 = np.clip((l1 * l1 - l2 * l2 + dist * dist) / (2 * np.maximum(dist, 1e-9)), -l1, l1)
    lift = np.sqrt(np.maximum(l1 * l1 - a1 * a1, 0.0))
    pole = np.array([-0.3, 0.5 * side, -1.0])[:, None]
    perp = pole - u * (pole * u).sum(axis=0)
    perp /= np.maximum(np.sqrt((perp * perp).sum(axis=0)), 1e-9)
    return s + u * a1 + perp * lift, hand


def _set_arm(a, b, z, k, side: int, hand: np.ndarray, h: np.ndarray, pr: _Proportions) -> None:
    """Put the hand of arm ``side`` (0 left, 1 right) of rows ``k`` at ``hand`` (3, len(k)), elbow by :func:`_two_link`."""
    sh = np.stack([a[6 + side, k], b[6 + side, k], z[6 + side, k]])
    elbow, hand = _two_link(sh, hand, _rows_of(pr.upper_arm, k) * h[k], _rows_of(pr.forearm, k) * h[k],
                            1.0 if side == 0 else -1.0)
    a[8 + side, k], b[8 + side, k], z[8 + side, k] = elbow
    a[10 + side, k], b[10 + side, k], z[10 + side, k] = hand


def _rifle_frame(a, b, z, k, h, raised):
    """Butt (3, k) and pointing angle [rad] (0 level, < 0 down) of rifles: held low across the
    front, pointing down, at ``raised`` 0; butt at the shoulder, level along the heading at 1."""
    r = _smoothstep(raised)
    sh = np.stack([a[7, k], b[7, k], z[7, k]])
    low = np.stack([np.full(len(k), 0.06), np.full(len(k), 0.05), -0.14 * h[k]])
    high = np.stack([np.full(len(k), 0.02), np.full(len(k), 0.05), -0.02 * h[k]])
    return sh + low + (high - low) * r, -0.9 * (1.0 - r)


def _pointing_hand(a, b, z, k, raised):
    """Where a hand pointing a long object forward holds it: arm out at shoulder height (3, k)."""
    r = _smoothstep(raised)
    hand = np.stack([a[11, k], b[11, k], z[11, k]])
    out = np.stack([a[7, k] + 0.5, b[7, k] + 0.06, z[7, k] - 0.04])
    return hand + (out - hand) * r


def _hold_props(k: np.ndarray, state: CrowdState, a, b, z, h, pr: _Proportions) -> None:
    """Hands on the props of rows ``k`` (body frame, in place): both on a rifle, one out
    with a pointed umbrella, on a cane's handle, on a pulled suitcase's handle."""
    prop = np.asarray(state.prop)[k]
    raised = np.asarray(state.prop_raise, dtype=np.float64)[k]
    for kind in (Prop.RIFLE, Prop.UMBRELLA, Prop.CANE, Prop.SUITCASE):
        sel = prop == kind
        if not sel.any():
            continue
        j = k[sel]
        rj = raised[sel]
        H = h[j]
        if kind == Prop.RIFLE:
            butt, ang = _rifle_frame(a, b, z, j, h, rj)
            d = np.stack([np.cos(ang), np.zeros(len(j)), np.sin(ang)])
            down = np.stack([np.sin(ang), np.zeros(len(j)), -np.cos(ang)])
            _set_arm(a, b, z, j, 1, butt + d * 0.3 + down * 0.05, h, pr)
            _set_arm(a, b, z, j, 0, butt + d * 0.52 + down * 0.03, h, pr)
        elif kind == Prop.UMBRELLA:
            if (rj > 0).any():
                _set_arm(a, b, z, j, 1, _pointing_hand(a, b, z, j, rj), h, pr)
        elif kind == Prop.CANE:
            swing = np.sin(np.asarray(state.gait_phase, dtype=np.float64)[j] + np.pi)
            low = np.stack([0.14 + 0.05 * swing, b[7, j] - 0.03, 0.5 * H])
            hand = low + (np.stack([a[7, j] + 0.5, b[7, j] + 0.06, z[7, j] - 0.04]) - low) * _smoothstep(rj)
            _set_arm(a, b, z, j, 1, hand, h, pr)
        else:  # suitcase: the right hand behind, on the extended handle
            _set_arm(a, b, z, j, 1, np.stack([np.full(len(j), -0.22), b[7, j] - 0.03, 0.5 * H]), h, pr)


def _ribbon(u: np.ndarray, v: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outline of a strip of ``widths`` [px] along image points (p, ...) -> (2p, ...) u, v, points first."""
    du = np.empty_like(u)
    dv = np.empty_like(v)
    du[1:-1] = u[2:] - u[:-2]
    dv[1:-1] = v[2:] - v[:-2]
    du[0], dv[0] = u[1] - u[0], v[1] - v[0]
    du[-1], dv[-1] = u[-1] - u[-2], v[-1] - v[-2]
    length = np.sqrt(du * du + dv * dv)
    short = length < 1e-9
    inv = 1.0 / np.where(short, 1.0, length)
    nu = np.where(short, -1.0, -dv * inv) * (0.5 * widths)
    nv = np.where(short, 0.0, du * inv) * (0.5 * widths)
    return np.concatenate([u + nu, (u - nu)[::-1]]), np.concatenate([v + nv, (v - nv)[::-1]])


def _fixed_points(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(p, k) image points -> (k, p, 2) int32 fixed-point outlines for OpenCV (``_SHIFT`` fractional bits)."""
    scale = float(1 << _SHIFT)
    pf = np.stack([u, v], axis=-1) * scale  # (p, k, 2)
    np.clip(pf, -_COORD_LIMIT * scale, _COORD_LIMIT * scale, out=pf)
    return np.ascontiguousarray(np.rint(pf).astype(np.int32).transpose(1, 0, 2))


def _palette(palette, ids: np.ndarray) -> np.ndarray:
    """A colour of ``palette`` per id, spread by a hash of the id (the same person always gets the same one)."""
    pick = (_hash01(np.asarray(ids, dtype=np.int64), np.zeros(len(ids), np.int64), 21) * len(palette)).astype(np.int64)
    return np.asarray(palette, dtype=np.float64)[pick]


class _Extras:
    """Builds the extra shapes of some people of a frame (vest stripes, props, wheelchairs) into
    per-person drawing lists, and grows their boxes to cover them. Rows ``j`` index the frame's
    people in drawing order; ``rows`` the same people in the crowd state."""

    def __init__(self, renderer: "Renderer", extras: list, box: np.ndarray, drawn: np.ndarray, parts: np.ndarray) -> None:
        self.r = renderer
        self.extras = extras  #: per person None or ([before the body], [after the torso], [after all])
        self.gain = float(renderer.render_spec.brightness)
        self.box, self.drawn, self.parts = box, drawn, parts  #: grown in place to cover the shapes
        self._gait_phase = np.zeros(0)

    # --- bookkeeping ---------------------------------------------------------------------------
    def _emit(self, jj: np.ndarray, slots, op: int, polys: np.ndarray, colours, in_box: bool = True,
              rings: int = 0, grow: bool = True) -> None:
        """Append one shape per person ``jj`` (distinct) to list ``slots`` (0 before the body, 1 after
        the torso, 2 after all): ``polys`` (k, p, 2) fixed-point outlines, ``colours`` (k, 3) or
        (3,) BGR before the brightness gain. ``rings`` > 0 splits each outline into an outer
        contour of that many points and the rest (a ring, filled even-odd). Unless ``grow`` is
        False (the caller did it), the boxes grow to cover the shapes (the person's box and
        torso part only ``in_box``)."""
        k = len(jj)
        if k == 0:
            return
        if grow:
            q = 1.0 / (1 << _SHIFT)
            self._grow(jj, polys.min(axis=1) * q, polys.max(axis=1) * q, in_box)
        cols = np.clip(np.rint(np.broadcast_to(np.asarray(colours, dtype=np.float64), (k, 3)) * self.gain), 0, 255)
        cols = [tuple(c) for c in cols.astype(np.int64).tolist()]
        slots = np.broadcast_to(slots, (k,)).tolist()
        extras = self.extras
        for j, sl, poly, c in zip(jj.tolist(), slots, polys, cols):
            e = extras[j]
            if e is None:
                e = extras[j] = ([], [], [])
            if op == _FILL:
                poly = [poly[:rings], poly[rings:]] if rings else [poly]
            e[sl].append((op, poly, c))

    def _grow(self, jj: np.ndarray, lo: np.ndarray, hi: np.ndarray, in_box: bool) -> None:
        """Grow the drawn boxes (and with ``in_box`` the person's box and torso part) of people
        ``jj`` (distinct) to cover corners ``lo``, ``hi`` (k, 2) [px]."""
        arrays = (self.drawn, self.box, self.parts[:, 1]) if in_box else (self.drawn,)
        for bx in arrays:
            bx[jj, :2] = np.minimum(bx[jj, :2], lo)
            bx[jj, 2:] = np.maximum(bx[jj, 2:], hi)

    def _world(self, a, b, z, rows, pos, ct, st):
        """Body-frame points (p, k) of people ``rows`` -> world x, y, z (p, k)."""
        c, s = ct[rows], st[rows]
        return pos[rows, 0] + a * c - b * s, pos[rows, 1] + a * s + b * c, z

    def _image(self, x, y, z):
        """World points (p, k) -> canvas pixels u, v (through the lens) and depth [m]."""
        cam = self.r._canvas_cam
        R, C, K = cam.R, cam.position, cam.K
        dx, dy, dz = x - C[0], y - C[1], z - C[2]
        xc = R[0, 0] * dx + R[0, 1] * dy + R[0, 2] * dz
        yc = R[1, 0] * dx + R[1, 1] * dy + R[1, 2] * dz
        depth = np.maximum(R[2, 0] * dx + R[2, 1] * dy + R[2, 2] * dz, 0.05)
        u = K[0, 0] * xc / depth + K[0, 2]
        v = K[1, 1] * yc / depth + K[1, 2]
        if self.r.lens is not None:
            u, v = self.r.lens.distort(u, v)
        return u, v, depth

    # --- vests -------------------------------------------------------------------------------------
    def vest_stripes(self, js: np.ndarray, U: np.ndarray, V: np.ndarray) -> None:
        """Two reflective stripes across the torso hexagon (points 16-21) of people ``js``."""
        for f0, f1 in VEST_STRIPES:
            qu, qv = [], []
            for f in (f0, f1):
                qu.append(U[17, js] + (U[18, js] - U[17, js]) * f)
                qv.append(V[17, js] + (V[18, js] - V[17, js]) * f)
            for f in (f1, f0):
                qu.append(U[20, js] + (U[19, js] - U[20, js]) * f)
                qv.append(V[20, js] + (V[19, js] - V[20, js]) * f)
            self._emit(js, 1, _FILL_CONVEX, _fixed_points(np.array(qu), np.array(qv)), VEST_STRIPE_BGR)

    # --- props ---------------------------------------------------------------------------------------
    def props(self, js, rows, state, a, b, z, h, r_body, pos, ct, st, depth_body, c_left, c_front) -> None:
        """Props carried by people ``js`` (drawing order) = ``rows`` (state rows)."""
        prop = np.asarray(state.prop)[rows]
        raised = np.asarray(state.prop_raise, dtype=np.float64)[rows]
        ids = np.asarray(state.ids)[rows]
        self._gait_phase = np.asarray(state.gait_phase, dtype=np.float64)
        for kind in np.unique(prop).tolist():
            sel = prop == kind
            jj, rr = js[sel], rows[sel]
            args = (jj, rr, a, b, z, h, r_body, pos, ct, st, depth_body[sel], raised[sel], ids[sel],
                    c_left[sel], c_front[sel])
            if kind == Prop.BAG:
                self._bag(*args)
            elif kind == Prop.BACKPACK:
                self._backpack(*args)
            elif kind == Prop.SUITCASE:
                self._suitcase(*args)
            elif kind == Prop.RIFLE:
                self._rifle(*args)
            elif kind == Prop.UMBRELLA:
                self._umbrella(*args)
            elif kind == Prop.CANE:
                self._cane(*args)
            elif kind == Prop.GUITAR_CASE:
                self._guitar_case(*args)

    def _slot(self, depth_prop: np.ndarray, depth_body: np.ndarray) -> np.ndarray:
        """0 (drawn before the body) where the prop lies beyond the body's centre, else 2 (after it)."""
        return np.where(depth_prop > depth_body + 0.02, 0, 2)

    def _strip(self, jj, rr, pa, pb, pz, widths_m, pos, ct, st, colour_rows, depth_body, in_box=True, slot=None):
        """A strip along body-frame points (p, k) with widths [m] (p, k) or (p, 1): filled per person."""
        x, y, zz = self._world(pa, pb, pz, rr, pos, ct, st)
        u, v, d = self._image(x, y, zz)
        f = self.r._focal
        ou, ov = _ribbon(u, v, widths_m * (f / d))
        slots = self._slot(d.mean(axis=0), depth_body) if slot is None else np.broadcast_to(slot, (len(jj),))
        self._emit(jj, slots, _FILL, _fixed_points(ou, ov), colour_rows, in_box)
        return slots

    def _boxes(self, jj, rr, centre, axes, half, pos, ct, st, colours, depth_body, slot=None, in_box=True):
        """Oriented boxes: centre (3, k) and axes (3 axes, 3, k) in the body frame, half sizes (3, k).

        The faces that face the camera are drawn (a face's normal points from the box's centre
        to the face's), shaded by their direction: the top brightest."""
        corners = centre[None] + np.einsum("sa,ack->sck", _BOX_SIGNS, axes * half[:, None, :])  # (8, 3, k)
        x, y, zz = self._world(corners[:, 0], corners[:, 1], corners[:, 2], rr, pos, ct, st)
        u, v, d = self._image(x, y, zz)
        slots = self._slot(d.mean(axis=0), depth_body) if slot is None else np.broadcast_to(slot, (len(jj),))
        self._grow(jj, np.stack([u.min(axis=0), v.min(axis=0)], axis=1), np.stack([u.max(axis=0), v.max(axis=0)], axis=1),
                   in_box)
        fx, fy, fz = (c[_BOX_FACE_CORNERS].mean(axis=1) for c in (x, y, zz))  # (6, k)
        nx, ny, nz = fx - x.mean(axis=0), fy - y.mean(axis=0), fz - zz.mean(axis=0)
        cam_pos = self.r._canvas_cam.position
        visible = nx * (cam_pos[0] - fx) + ny * (cam_pos[1] - fy) + nz * (cam_pos[2] - fz) > 0
        nn = np.maximum(np.sqrt(nx * nx + ny * ny + nz * nz), 1e-9)
        top = nz / nn > 0.7
        shade = np.where(top, 1.18, 0.78 + 0.14 * (nx * _LIGHT_DIR[0] + ny * _LIGHT_DIR[1]) / nn)  # (6, k)
        cols = np.asarray(colours, dtype=np.float64)[None] * shade[..., None] + np.where(top, 12.0, 0.0)[..., None]
        f, i = np.nonzero(visible)
        quads = _fixed_points(u[_BOX_FACE_CORNERS][f, :, i].T, v[_BOX_FACE_CORNERS][f, :, i].T)
        self._emit(jj[i], slots[i], _FILL_CONVEX, quads, cols[f, i], grow=False)
        return slots

    def _bag(self, jj, rr, a, b, z, h, r_body, pos, ct, st, depth_body, raised, ids, cl, cf) -> None:
        hand = np.stack([a[11, rr], b[11, rr] - 0.03, z[11, rr] - 0.16])
        fwd = np.array([1.0, 0.0, 0.0])[:, None] * np.ones(len(rr))
        left, up = np.roll(fwd, 1, axis=0), np.roll(fwd, 2, axis=0)
        half = np.array([0.17, 0.065, 0.13])[:, None] * np.ones(len(rr))
        self._boxes(jj, rr, hand, np.stack([fwd, left, up]), half, pos, ct, st, _palette(_BAG_PALETTE, ids), depth_body)

    def _torso_frame(self, a, z, rr):
        """Unit front and up of the torso in the body frame (a, z components), from the hip line to the shoulder line."""
        da, dz = a[14, rr] - a[15, rr], z[14, rr] - z[15, rr]
        n = np.maximum(np.hypot(da, dz), 1e-9)
        ua, uz = da / n, dz / n
        zero = np.zeros(len(rr))
        return np.stack([uz, zero, -ua]), np.stack([ua, zero, uz])  # front, up

    def _backpack(self, jj, rr, a, b, z, h, r_body, pos, ct, st, depth_body, raised, ids, cl, cf) -> None:
        front, up = self._torso_frame(a, z, rr)
        mid = np.stack([a[15, rr], np.zeros(len(rr)), z[15, rr]]) + 0.6 * np.stack(
            [a[14, rr] - a[15, rr], np.zeros(len(rr)), z[14, rr] - z[15, rr]])
        centre = mid - front * (0.55 * r_body[rr] + 0.1)
        left = np.array([0.0, 1.0, 0.0])[:, None] * np.ones(len(rr))
        half = np.array([0.09, 0.15, 0.2])[:, None] * np.ones(len(rr))
        self._boxes(jj, rr, centre, np.stack([front, left, up]), half, pos, ct, st, _palette(_BAG_PALETTE, ids + 3),
                    depth_body)

    def _suitcase(self, jj, rr, a, b, z, h, r_body, pos, ct, st, depth_body, raised, ids, cl, cf) -> None:
        k = len(rr)
        tilt = 0.45  # [rad] leaning on its wheels toward the person pulling it
        up = np.stack([np.full(k, math.sin(tilt)), np.zeros(k), np.full(k, math.cos(tilt))])
        fwd = np.stack([np.full(k, math.cos(tilt)), np.zeros(k), np.full(k, -math.sin(tilt))])
        left = np.array([0.0, 1.0, 0.0])[:, None] * np.ones(k)
        half = np.array([0.125, 0.21, 0.31])[:, None] * np.ones(k)
        bottom = np.stack([np.full(k, -0.72), b[11, rr] - 0.02, np.zeros(k)])
        centre = bottom + up * half[2] + fwd * half[0]
        colours = _palette(_BAG_PALETTE, ids + 5)
        slots = self._boxes(jj, rr, centre, np.stack([fwd, left, up]), half, pos, ct, st, colours, depth_body,
                            in_box=False)
        # the handle, from the top of the case to the hand
        top = centre + up * half[2] + fwd * (0.6 * half[0])
        hand = np.stack([a[11, rr], b[11, rr], z[11, rr]])
        line = np.stack([top + (hand - top) * s for s in (0.0, 0.5, 1.0)], axis=1)  # (3, p, k)
        self._strip(jj, rr, line[0], line[1], line[2], np.full((3, 1), 0.025), pos, ct, st,
                    np.tile(_HANDLE_BGR, (k, 1)), depth_body, in_box=False, slot=slots)

    def _rifle(self, jj, rr, a, b, z, h, r_body, pos, ct, st, depth_body, raised, ids, cl, cf) -> None:
        butt, ang = _rifle_frame(a, b, z, rr, h, raised)
        k = len(rr)
        d = np.stack([np.cos(ang), np.zeros(k), np.sin(ang)])
        down = np.stack([np.sin(ang), np.zeros(k), -np.cos(ang)])
        line = butt[:, None, :] + d[:, None, :] * _RIFLE_S[None, :, None]  # (3, p, k)
        colours = np.tile(_RIFLE_BGR, (k, 1))
        slots = self._strip(jj, rr, line[0], line[1], line[2], _RIFLE_W[:, None], pos, ct, st, colours, depth_body)
        # the magazine and the pistol grip below the receiver
        for s0, s1, drop, width in ((0.40, 0.46, 0.15, 0.05), (0.27, 0.29, 0.09, 0.04)):
            p0 = butt + d * (0.5 * (s0 + s1))
            p1 = p0 + down * drop + d * 0.35 * drop
            seg = np.stack([p0, 0.5 * (p0 + p1), p1], axis=1)
            self._strip(jj, rr, seg[0], seg[1], seg[2], np.full((3, 1), width), pos, ct, st, colours, depth_body,
                        slot=slots)

    def _long_pointed(self, jj, rr, a, b, z, raised, low_angle, length):
        """Handle at the right hand, pointing down-forward at ``low_angle`` (kept above the floor)
        when low, level along the heading when raised. Returns handle (3, k), direction (3, k)."""
        k = len(rr)
        hand = np.stack([a[11, rr], b[11, rr], z[11, rr]])
        floor_limit = -np.arcsin(np.clip((hand[2] - 0.03) / length, 0.0, 1.0))
        ang = np.maximum(low_angle, floor_limit) * (1.0 - _smoothstep(raised))
        return hand, np.stack([np.cos(ang), np.zeros(k), np.sin(ang)])

    def _umbrella(self, jj, rr, a, b, z, h, r_body, pos, ct, st, depth_body, raised, ids, cl, cf) -> None:
        k = len(rr)
        handle, d = self._long_pointed(jj, rr, a, b, z, raised, -1.22, UMBRELLA_LENGTH_M)
        colours = _palette(_UMBRELLA_PALETTE, ids)
        line = handle[:, None, :] + d[:, None, :] * _UMBRELLA_S[None, :, None]
        slots = self._strip(jj, rr, line[0], line[1], line[2], _UMBRELLA_W[:, None], pos, ct, st, colours, depth_body)
        # the crook: a J behind the hand, curling forward (hanging) or down (pointed)
        n = np.stack([-d[2], np.zeros(k), d[0]]) * np.where(raised > 0.5, -1.0, 1.0)
        p1 = handle - d * 0.06
        hook = np.stack([handle, p1, p1 - d * 0.035 + n * 0.035, p1 + n * 0.07, p1 + n * 0.075 + d * 0.03], axis=1)
        self._strip(jj, rr, hook[0], hook[1], hook[2], np.full((5, 1), 0.024), pos, ct, st,
                    np.tile(_CANE_BGR, (k, 1)), depth_body, slot=slots)

    def _cane(self, jj, rr, a, b, z, h, r_body, pos, ct, st, depth_body, raised, ids, cl, cf) -> None:
        k = len(rr)
        handle = np.stack([a[11, rr], b[11, rr], z[11, rr]])
        swing = np.sin(self._gait_phase[rr] + np.pi)
        tip_low = np.stack([handle[0] + 0.1 + 0.06 * swing, handle[1] - 0.04, np.zeros(k)])
        r = _smoothstep(raised)
        tip_high = handle + np.array([0.88, 0.0, 0.0])[:, None]
        tip = tip_low + (tip_high - tip_low) * r
        line = np.stack([handle + (tip - handle) * s for s in (0.0, 0.5, 1.0)], axis=1)
        colours = np.tile(_CANE_BGR, (k, 1))
        slots = self._strip(jj, rr, line[0], line[1], line[2], np.array([[0.024], [0.022], [0.02]]), pos, ct, st,
                            colours, depth_body)
        # the crook handle over the hand, curling forward
        hook = np.stack([handle, handle + np.array([0.0, 0.0, 0.04])[:, None], handle + np.array([0.05, 0.0, 0.06])[:, None],
                         handle + np.array([0.1, 0.0, 0.035])[:, None]], axis=1)
        self._strip(jj, rr, hook[0], hook[1], hook[2], np.full((4, 1), 0.024), pos, ct, st, colours, depth_body,
                    slot=slots)

    def _guitar_case(self, jj, rr, a, b, z, h, r_body, pos, ct, st, depth_body, raised, ids, cl, cf) -> None:
        k = len(rr)
        front, up = self._torso_frame(a, z, rr)
        left = np.array([0.0, 1.0, 0.0])[:, None] * np.ones(k)
        bottom = (np.stack([a[15, rr], np.zeros(k), z[15, rr]]) - front * (0.55 * r_body[rr] + 0.09)
                  - left * 0.12 - up * 0.12)
        d = up * 0.94 + left * 0.34
        line = bottom[:, None, :] + d[:, None, :] * (_GUITAR_S * GUITAR_CASE_LENGTH_M)[None, :, None]
        # a case flat on the back: wide across the back, its depth seen edge-on from the side
        widths = np.sqrt((_GUITAR_W[:, None] * cl[None, :]) ** 2 + (_GUITAR_DEPTH_M * cf[None, :]) ** 2)
        self._strip(jj, rr, line[0], line[1], line[2], widths, pos, ct, st, np.tile(_GUITAR_CASE_BGR, (k, 1)),
                    depth_body)

    # --- wheelchairs -----------------------------------------------------------------------------
    def wheelchairs(self, jj, rows, state, pos, ct, st, depth_body) -> None:
        """A chair under each seated wheelchair user: seat, backrest, footplate and its struts,
        two big wheels (rings with a hub) and two casters. Each part goes before the body when
        it lies beyond the body's centre, after it otherwise."""
        k = len(rows)
        pts = _WHEELCHAIR_POINTS  # (P, 3) body frame, all parts; _WHEELCHAIR_PARTS slices it
        x, y, zz = self._world(pts[:, 0:1] * np.ones(k), pts[:, 1:2] * np.ones(k), pts[:, 2:3] * np.ones(k), rows, pos,
                               ct, st)
        u, v, d = self._image(x, y, zz)
        fixed = _fixed_points(u, v)  # (k, P, 2)
        for (a, b), op, colour, rings in _WHEELCHAIR_PARTS:
            slots = self._slot(d[a:b].mean(axis=0), depth_body)
            self._emit(jj, slots, op, np.ascontiguousarray(fixed[:, a:b]), colour, rings=rings)
        # struts from the seat's front down to the footplate
        for sb in (0.2, -0.2):
            strut = np.array([[0.18, sb, WHEELCHAIR_SEAT_M], [0.3, sb, 0.1]])
            pa, pb, pz = (strut[:, i][:, None] * np.ones(k) for i in range(3))
            self._strip(jj, rows, pa, pb, pz, np.full((2, 1), 0.03), pos, ct, st, np.tile(_CHAIR_FRAME_BGR, (k, 1)),
                        depth_body)


def _wheelchair_geometry():
    """Points (body frame a, b, z [m]) of a wheelchair's parts, and per part (slice, operation, colour, ring size)."""
    ring = np.linspace(0.0, 2 * np.pi, 17)[:-1]
    pts, parts = [], []

    def add(p, op, colour, rings=0):
        start = sum(len(q) for q in pts)
        pts.append(np.asarray(p, dtype=np.float64))
        parts.append(((start, start + len(p)), op, colour, rings))

    for side in (1.0, -1.0):
        for radius, ca, cz, width, wb in ((WHEELCHAIR_WHEEL_M, -0.1, WHEELCHAIR_WHEEL_M, 0.035, 0.31),
                                          (0.075, 0.3, 0.075, 0.03, 0.22)):
            rim = [(ca + math.cos(t) * r, side * wb, cz + math.sin(t) * r) for r in (radius, radius - width) for t in ring]
            add(rim, _FILL, _TYRE_BGR, 16)
            if radius > 0.1:  # the hub
                add([(ca + math.cos(t) * 0.045, side * wb, cz + math.sin(t) * 0.045) for t in ring[::4]], _FILL_CONVEX,
                    _CHAIR_FRAME_BGR)
    z = WHEELCHAIR_SEAT_M
    add([(-0.25, 0.22, z), (0.2, 0.22, z), (0.2, -0.22, z), (-0.25, -0.22, z)], _FILL_CONVEX, _CHAIR_SEAT_BGR)  # seat
    add([(-0.27, 0.22, z), (-0.3, 0.22, z + 0.45), (-0.3, -0.22, z + 0.45), (-0.27, -0.22, z)], _FILL_CONVEX,
        _CHAIR_SEAT_BGR)  # backrest
    add([(0.26, 0.18, 0.1), (0.4, 0.18, 0.1), (0.4, -0.18, 0.1), (0.26, -0.18, 0.1)], _FILL_CONVEX,
        _CHAIR_FRAME_BGR)  # footplate
    return np.concatenate(pts), tuple(parts)


_WHEELCHAIR_POINTS, _WHEELCHAIR_PARTS = _wheelchair_geometry()


#: corners of a box: signs along its three axes (corner i has the signs of bits 4, 2, 1)
_BOX_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
#: faces of a box as corner indices in outline order: -x, +x, -y, +y, -z, +z
_BOX_FACE_CORNERS = np.array([(0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5)])
_LIGHT_DIR = np.array([math.cos(math.radians(60)), math.sin(math.radians(60))])  #: the hall light (as _facing_light)


def _track_axis(track_bed: np.ndarray, platform_edges: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Direction of the rails (unit, 2-D) and the offset of the track's centre line along its normal."""
    centroid = track_bed.mean(axis=0)
    axis = None
    best = np.inf
    for e in platform_edges:
        d, _ = _point_segment_distance(centroid[None], e[0], e[1])
        if d[0] < best:
            best = d[0]
            axis = e[1] - e[0]
    if axis is None:
        edges = np.roll(track_bed, -1, axis=0) - track_bed
        axis = edges[np.argmax(np.linalg.norm(edges, axis=1))]
    axis = axis / np.linalg.norm(axis)
    normal = np.array([-axis[1], axis[0]])
    n_coords = track_bed @ normal
    return axis, float((n_coords.min() + n_coords.max()) / 2)


def _facing_light(normal: np.ndarray, contrast: float = 0.2) -> float:
    """Brightness factor of a vertical surface facing ``normal`` under a hall light from one side."""
    light = np.array([math.cos(math.radians(60)), math.sin(math.radians(60))])
    return float(1.0 - contrast / 2 + contrast / 2 * float(normal @ light) / max(float(np.linalg.norm(normal)), 1e-9))


_MASK64 = 0xFFFFFFFFFFFFFFFF


def _mix64(x: int) -> int:
    """SplitMix64 finaliser: a well-mixed 64-bit integer from any integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


# --- a made-up crowd, for tests, benchmarks and sample frames -----------------------------------


def sample_crowd(scenario, n: int, *, seed: int | np.random.Generator = 0, camera: PinholeCamera | None = None,
                 t: float = 0.0, standing_fraction: float = 0.3, min_gap_m: float = 0.05) -> CrowdState:
    """``n`` people placed at random on the walkable floor (not on obstacles, not overlapping).

    With ``camera``, only places whose foot point shows in the image are used. Looks are
    drawn from the scenario's ``crowd.appearance`` (:func:`sim.appearance.sample_appearance`);
    walkers get a speed of about 1.3 m/s along their heading.
    Raises ``ValueError`` when the floor cannot hold ``n`` people.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    st = scenario.station
    walk = np.asarray(st.walkable, dtype=np.float64)
    obstacles = [np.asarray(p, dtype=np.float64) for p in st.obstacles]
    lo, hi = walk.min(axis=0), walk.max(axis=0)
    r_lo, r_hi = scenario.crowd.radius_m
    chosen = np.zeros((n, 2))
    radii = np.zeros(n)
    count = 0
    unproductive = 0
    while count < n and unproductive < 3:  # stop once three rounds in a row place nobody
        cand = rng.uniform(lo, hi, size=(min(4 * n, 4000), 2))
        rad = rng.uniform(r_lo, r_hi, size=len(cand))
        ok = _points_in_polygon(cand, walk)
        for ob in obstacles:
            ok &= ~_points_in_polygon(cand, ob)
            for k in range(len(ob)):
                d, _ = _point_segment_distance(cand, ob[k], ob[(k + 1) % len(ob)])
                ok &= d > rad
        if camera is not None:
            ok &= camera.in_image(camera.ground_to_image(cand), margin_px=-4.0)
        before = count
        for p, rp in zip(cand[ok], rad[ok]):
            if count >= n:
                break
            if count and np.min(np.hypot(*(chosen[:count] - p).T) - radii[:count] - rp) < min_gap_m:
                continue
            chosen[count] = p
            radii[count] = rp
            count += 1
        unproductive = unproductive + 1 if count == before else 0
    chosen, radii = chosen[:count], radii[:count]
    if len(chosen) < n:
        raise ValueError(f"sample_crowd: only {len(chosen)} of n={n} people fit on the floor"
                         + (" in view of the camera" if camera is not None else ""))
    heading = rng.uniform(-np.pi, np.pi, n)
    standing = rng.random(n) < standing_fraction
    speed = np.where(standing, 0.0, rng.normal(1.3, 0.15, n))
    shirt, trousers, skin, hair, group = sample_appearance(scenario.crowd.appearance, n, rng)
    return CrowdState(
        t=float(t), ids=np.arange(n, dtype=np.int64), pos_m=chosen, vel_mps=np.c_[np.cos(heading), np.sin(heading)] * speed[:, None],
        heading_rad=heading, radius_m=radii, height_m=np.clip(rng.normal(1.70, 0.09, n), 1.45, 2.0),
        gait_phase=rng.uniform(0, 2 * np.pi, n),
        posture=np.where(standing, Posture.STANDING, Posture.WALKING).astype(np.uint8),
        posture_progress=np.zeros(n, np.float32),
        shirt_bgr=shirt, trousers_bgr=trousers, skin_bgr=skin, hair_bgr=hair, appearance_group=group)
