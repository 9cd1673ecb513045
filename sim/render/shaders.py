"""Colours of the static station: one shader per surface kind (:class:`sim.render.scene.Surface`).

A shader turns the rays of its kind (their hit points, directions and pixel footprints)
into float BGR colours: tiled floor with grout, gravel track beds with sleepers and rails,
painted walls with doorways, pillars and barriers, signs, posters, light panels and
benches. Stripes and bands are box-filtered by the pixel's footprint on the surface, so
that fine texture fades to its mean colour with distance instead of aliasing.
:func:`shade` applies every shader of :data:`SHADERS`.
"""

from __future__ import annotations

import math
from typing import Callable, Protocol

import numpy as np

from sim.geometry import points_in_polygon
from sim.render.scene import (BARRIER_HEIGHT_M, BENCH_DEPTH_M, WALL_PAINTED_TOP_M, RayHits,
                              StationScene, Surface, point_segment_distance)
from sim.render.textures import band, hash01, line_coverage, mix

TILE_M = 0.6  #: [m] floor tile size
TRACK_GAUGE_M = 1.435  #: [m] standard gauge
SLEEPER_SPACING_M = 0.6  #: [m]
PANEL_BORDER_M = 0.05  #: [m] dark frame around a sign or panel (render.occluders)
#: direction the hall light comes from (ground plane, unit): sides facing it are brighter
HALL_LIGHT_DIR = np.array([math.cos(math.radians(60)), math.sin(math.radians(60))])

FLOOR_BGR = (150.0, 156.0, 160.0)
GROUT_BGR = (112.0, 116.0, 120.0)
GRAVEL_BGR = (68.0, 74.0, 80.0)
SLEEPER_BGR = (118.0, 120.0, 121.0)
RAIL_BGR = (170.0, 172.0, 176.0)
RAIL_SHADOW_BGR = (40.0, 42.0, 46.0)
COPING_BGR = (178.0, 182.0, 184.0)
NOSING_BGR = (214.0, 216.0, 218.0)
SAFETY_BGR = (22.0, 196.0, 228.0)
WALL_BGR = (178.0, 194.0, 204.0)
WALL_JOINT_BGR = (140.0, 152.0, 160.0)
SKIRT_BGR = (70.0, 74.0, 80.0)
BAND_BGR = (118.0, 72.0, 36.0)
UPPER_BGR = (74.0, 77.0, 82.0)
DOOR_BGR = (36.0, 38.0, 42.0)
PILLAR_BGR = (186.0, 188.0, 188.0)
PILLAR_JOINT_BGR = (150.0, 154.0, 156.0)
BARRIER_BGR = (96.0, 100.0, 106.0)
BARRIER_RIM_BGR = (60.0, 62.0, 66.0)
BARRIER_TOP_BGR = (150.0, 155.0, 160.0)
OUTSIDE_BGR = (44.0, 44.0, 47.0)
BENCH_BGR = (40.0, 78.0, 122.0)
BENCH_FOOT_BGR = (30.0, 34.0, 40.0)
BENCH_TOP_BGR = (62.0, 112.0, 160.0)
BENCH_SLAT_GAP_BGR = (34.0, 52.0, 74.0)
PANEL_FRAME_BGR = (38.0, 38.0, 42.0)
PANEL_TEXT_BGR = (235.0, 235.0, 235.0)
POSTER_PRINT_BGR = (225.0, 228.0, 230.0)
POSTER_SMALL_PRINT_BGR = (70.0, 70.0, 74.0)
LIGHT_FRAME_BGR = (120.0, 124.0, 128.0)


class Shader(Protocol):
    """Colours the rays ``idx`` (all of one surface kind) of a cast."""

    def shade(self, scene: StationScene, hits: RayHits, dirs: np.ndarray, footprint: np.ndarray,
              idx: np.ndarray) -> np.ndarray:
        """(len(idx), 3) float BGR; ``footprint`` [m] is the pixel's width at the hit's depth, head-on."""


def _footprint_on_ground(dirs: np.ndarray, footprint: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """[m] a pixel's footprint on a horizontal surface: it grows as the ray grazes it."""
    graze = np.abs(dirs[idx, 2]) / np.linalg.norm(dirs[idx], axis=1)
    return footprint[idx] / np.maximum(graze, 0.05)


def _footprint_on_upright(dirs: np.ndarray, footprint: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """[m] a pixel's footprint on a vertical surface."""
    graze = 1.0 - np.abs(dirs[idx, 2]) / np.linalg.norm(dirs[idx], axis=1)
    return footprint[idx] / np.maximum(graze, 0.1)


def _facing_light(normal: np.ndarray, contrast: float = 0.2) -> float:
    """Brightness factor of a vertical surface facing ``normal`` under a hall light from one side."""
    return float(1.0 - contrast / 2 + contrast / 2 * float(normal @ HALL_LIGHT_DIR)
                 / max(float(np.linalg.norm(normal)), 1e-9))


def _outward_light(faces: np.ndarray, scene: StationScene, contrast: float) -> np.ndarray:
    """Per ray, the :func:`_facing_light` factor of its face (index ``faces``), lit on its outward side."""
    shade = np.ones(len(faces))
    for fi in np.unique(faces):
        f = scene.faces[fi]
        e = f.b - f.a
        shade[faces == fi] = _facing_light(np.array([e[1], -e[0]]) / float(np.linalg.norm(e)), contrast=contrast)
    return shade


def _upper_structure(c: np.ndarray, z: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Above :data:`WALL_PAINTED_TOP_M` walls and pillars fade into the dark upper structure."""
    upper = band(z, WALL_PAINTED_TOP_M, 1e5, fp)
    up_col = np.asarray(UPPER_BGR)[None, :] * np.exp(-np.maximum(z - WALL_PAINTED_TOP_M, 0) / 8.0)[:, None]
    return c * (1 - upper[:, None]) + up_col * upper[:, None]


def _flat(colour, k: int) -> np.ndarray:
    c = np.empty((k, 3))
    c[:] = colour
    return c


def _track_axis(track_bed: np.ndarray, platform_edges: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Direction of the rails (unit, 2-D) and the offset of the track's centre line along its normal."""
    centroid = track_bed.mean(axis=0)
    axis = None
    best = np.inf
    for e in platform_edges:
        d, _ = point_segment_distance(centroid[None], e[0], e[1])
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


class FloorShader:
    """Tiles with grout and specks, pools of light every 6 m, the platform edge and its safety line."""

    def shade(self, scene, hits, dirs, footprint, idx):
        x, y = hits.hit[idx, 0], hits.hit[idx, 1]
        fpf = _footprint_on_ground(dirs, footprint, idx)
        ix, iy = np.floor(x / TILE_M), np.floor(y / TILE_M)
        tone = (hash01(ix, iy, 1) - 0.5) * 10.0
        speck = (hash01(np.floor(x / 0.03), np.floor(y / 0.03), 2) - 0.5) * 10.0 * np.clip(0.03 / fpf, 0, 1)
        c = np.asarray(FLOOR_BGR)[None, :] + (tone + speck)[:, None]
        # pools of light under ceiling lamps every 6 m
        pool = 1.0 + 0.07 * np.cos(2 * np.pi * x / 6.0) * np.cos(2 * np.pi * y / 6.0)
        c *= pool[:, None]
        grout = np.maximum(line_coverage(x, TILE_M, 0.012, fpf), line_coverage(y, TILE_M, 0.012, fpf))
        c = mix(c, GROUT_BGR, grout * 0.8)
        # platform edge strip and safety line on the walkable side
        pts = np.c_[x, y]
        for e in scene.platform_edges:
            d, _ = point_segment_distance(pts, e[0], e[1])
            c = mix(c, COPING_BGR, band(d, 0.0, 0.35, fpf) * 0.9)
            c = mix(c, NOSING_BGR, band(d, 0.0, 0.06, fpf))
            sl = scene.safety_line_m
            c = mix(c, SAFETY_BGR, band(d, sl - 0.05, sl + 0.05, fpf))
        return c


class TrackShader:
    """Gravel, sleepers and two rails along the nearest platform edge, shaded under the platform's overhang."""

    def shade(self, scene, hits, dirs, footprint, idx):
        pts = hits.hit[idx, :2]
        fpt = _footprint_on_ground(dirs, footprint, idx)
        c = _flat(GRAVEL_BGR, len(idx))
        g1 = hash01(np.floor(pts[:, 0] / 0.04), np.floor(pts[:, 1] / 0.04), 3)
        g2 = hash01(np.floor(pts[:, 0] / 0.11), np.floor(pts[:, 1] / 0.11), 4)
        c += (((g1 - 0.5) * 26.0 * np.clip(0.04 / fpt, 0, 1)) + (g2 - 0.5) * 14.0)[:, None]
        for tb in scene.track_beds:
            inside = points_in_polygon(pts, tb)
            if not inside.any():
                continue
            axis, centre_n = _track_axis(tb, scene.platform_edges)
            normal = np.array([-axis[1], axis[0]])
            s_along = pts[inside] @ axis
            n_off = pts[inside] @ normal - centre_n
            f_in = fpt[inside]
            ci = c[inside]
            sleeper = band(n_off, -1.3, 1.3, f_in) * line_coverage(s_along, SLEEPER_SPACING_M, 0.24, f_in)
            ci = mix(ci, SLEEPER_BGR, sleeper)
            for side in (-1.0, 1.0):
                rail_n = side * TRACK_GAUGE_M / 2
                ci = mix(ci, RAIL_SHADOW_BGR, band(n_off, rail_n - 0.06, rail_n + 0.06, f_in) * 0.7)
                ci = mix(ci, RAIL_BGR, band(n_off, rail_n - 0.035, rail_n + 0.035, f_in))
            c[inside] = ci
        # the platform's overhang shades the track bed next to the edge
        for e in scene.platform_edges:
            d, _ = point_segment_distance(pts, e[0], e[1])
            c *= (1.0 - 0.55 * band(d, 0.0, 0.35, fpt))[:, None]
        return c


class WallShader:
    """Painted blocks with joints, a dark skirting and a coloured band, dark doorways at the portals."""

    def shade(self, scene, hits, dirs, footprint, idx):
        hit = hits.hit
        z = hit[idx, 2]
        fidx = hits.face[idx]
        along = np.zeros(len(idx))
        t_face = np.zeros(len(idx))
        shade = np.ones(len(idx))
        door = np.zeros(len(idx), bool)
        for fi in np.unique(fidx):
            f = scene.faces[fi]
            sel = fidx == fi
            e = f.b - f.a
            length = float(np.linalg.norm(e))
            t = ((hit[idx[sel], :2] - f.a) @ e) / length**2
            t_face[sel] = t
            along[sel] = t * length
            shade[sel] = _facing_light(f.inward if f.inward is not None else np.array([-e[1], e[0]]) / length)
            for t0, t1 in f.portals:
                door[sel] |= (t >= t0) & (t <= t1) & (z[sel] <= f.portal_top_m)
        fpw = _footprint_on_upright(dirs, footprint, idx)
        c = _flat(WALL_BGR, len(idx))
        c += ((hash01(np.floor(along / 0.3), np.floor(z / 0.3), 5) - 0.5) * 8.0)[:, None]
        joints = np.maximum(line_coverage(along, 1.2, 0.02, fpw), line_coverage(z, 0.6, 0.015, fpw))
        c = mix(c, WALL_JOINT_BGR, joints * 0.6)
        c = mix(c, SKIRT_BGR, band(z, -1.0, 0.15, fpw))
        c = mix(c, BAND_BGR, band(z, 2.45, 2.95, fpw))
        c = _upper_structure(c, z, fpw)
        c[door] = DOOR_BGR
        return c * shade[:, None]


class _ObstacleShader:
    """The sides of an obstacle: its base colour, a dark skirting, lit by the side they face."""

    base_bgr: tuple[float, float, float]

    def shade(self, scene, hits, dirs, footprint, idx):
        z = hits.hit[idx, 2]
        shade = _outward_light(hits.face[idx], scene, contrast=0.35)
        fpo = _footprint_on_upright(dirs, footprint, idx)
        c = mix(_flat(self.base_bgr, len(idx)), SKIRT_BGR, band(z, -1.0, 0.12, fpo))
        return self._detail(c, z, fpo) * shade[:, None]

    def _detail(self, c: np.ndarray, z: np.ndarray, fp: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class PillarShader(_ObstacleShader):
    """Pale cladding in 0.4 m courses up to the painted top, the dark upper structure above."""

    base_bgr = PILLAR_BGR

    def _detail(self, c, z, fp):
        return _upper_structure(mix(c, PILLAR_JOINT_BGR, line_coverage(z, 0.4, 0.012, fp) * 0.6), z, fp)


class BarrierShader(_ObstacleShader):
    """Grey gate housings with a dark rim under their top."""

    base_bgr = BARRIER_BGR

    def _detail(self, c, z, fp):
        return mix(c, BARRIER_RIM_BGR, band(z, BARRIER_HEIGHT_M - 0.08, BARRIER_HEIGHT_M, fp))


class FlatShader:
    """One colour (the tops of barriers)."""

    def __init__(self, colour_bgr) -> None:
        self.colour_bgr = colour_bgr

    def shade(self, scene, hits, dirs, footprint, idx):
        return _flat(self.colour_bgr, len(idx))


class PanelShader:
    """Signs and panels (render.occluders): a coloured face in a dark frame, with a pale line of "text"."""

    def shade(self, scene, hits, dirs, footprint, idx):
        z = hits.hit[idx, 2]
        fidx = hits.face[idx]
        c = np.empty((len(idx), 3))
        dist_edge = np.empty(len(idx))
        text = np.empty(len(idx))
        for fi in np.unique(fidx):
            f = scene.faces[fi]
            sel = fidx == fi
            e = f.b - f.a
            length = float(np.linalg.norm(e))
            along = ((hits.hit[idx[sel], :2] - f.a) @ e) / length
            zz = z[sel]
            dist_edge[sel] = np.minimum(np.minimum(along, length - along), np.minimum(zz - f.z0, f.z1 - zz))
            rel_z = (zz - f.z0) / (f.z1 - f.z0)
            inset = np.minimum(along, length - along) / length
            text[sel] = ((np.abs(rel_z - 0.5) < 0.12) & (inset > 0.15)).astype(np.float64)
            c[sel] = scene.panel_colours[fi]
        fpp = _footprint_on_upright(dirs, footprint, idx)
        c = mix(c, PANEL_TEXT_BGR, text * 0.85)
        return mix(c, PANEL_FRAME_BGR, band(dist_edge, -1.0, PANEL_BORDER_M, fpp))


def _poster_colour(spec, along: np.ndarray, up: np.ndarray, width: float, height: float,
                   footprint: np.ndarray) -> np.ndarray:
    """An advertising poster: its main colour, a big disc and two bars of lettering in the
    accent colour, a pale strip of small print and a dark frame. ``along``, ``up`` [m] are
    coordinates on the poster from its lower-left corner (as seen from the front)."""
    main = np.asarray(spec.colour_bgr, dtype=np.float64)
    accent = np.asarray(spec.accent_bgr, dtype=np.float64)
    c = _flat(main, len(along))
    # a gentle vertical gradient, as printed posters have
    c *= (0.88 + 0.18 * np.clip(up / height, 0, 1))[:, None]
    x, y = along, up  # a face runs left to right as seen from its front
    r = 0.3 * height
    disc = np.hypot(x - 0.25 * width, y - 0.55 * height)
    c = mix(c, accent, band(disc, -1.0, r, footprint))
    c = mix(c, main * 0.55, band(disc, r * 0.45, r * 0.62, footprint))
    in_x = band(x, 0.5 * width, 0.92 * width, footprint)
    c = mix(c, accent, in_x * band(y, 0.64 * height, 0.78 * height, footprint))
    c = mix(c, accent, band(x, 0.5 * width, 0.8 * width, footprint) * band(y, 0.45 * height, 0.55 * height, footprint))
    strip = band(y, 0.06 * height, 0.18 * height, footprint) * band(x, 0.05 * width, 0.95 * width, footprint)
    c = mix(c, POSTER_PRINT_BGR, strip)
    c = mix(c, POSTER_SMALL_PRINT_BGR, strip * line_coverage(x, 0.09, 0.05, footprint) * 0.6)
    edge = np.minimum(np.minimum(x, width - x), np.minimum(y, height - y))
    return mix(c, PANEL_FRAME_BGR, band(edge, -1.0, 0.04, footprint))


def _light_panel_colour(spec, along: np.ndarray, up: np.ndarray, width: float, height: float,
                        footprint: np.ndarray) -> np.ndarray:
    """A light panel at its darkest (the flicker's dark phase): the colour scaled by 1 - depth
    in a thin metal frame; the renderer adds the lit part per frame."""
    dark = np.asarray(spec.colour_bgr, dtype=np.float64) * (1.0 - float(spec.depth)) * 0.9 + 12.0
    c = _flat(dark, len(along))
    edge = np.minimum(np.minimum(along, width - along), np.minimum(up, height - up))
    return mix(c, LIGHT_FRAME_BGR, band(edge, -1.0, 0.03, footprint))


class WallItemShader:
    """Flat items with a look of their own (posters, light panels), on a wall or under the ceiling.

    ``colour_of(spec, along, up, width, height, footprint)`` colours points given in metres
    from the item's lower-left corner.
    """

    def __init__(self, colour_of: Callable[..., np.ndarray]) -> None:
        self.colour_of = colour_of

    def shade(self, scene, hits, dirs, footprint, idx):
        hit = hits.hit
        fpi = _footprint_on_upright(dirs, footprint, idx)
        fidx = hits.face[idx]
        c = np.empty((len(idx), 3))
        for fi in np.unique(fidx):
            sel = np.nonzero(fidx == fi)[0]
            spec = scene.wall_items[int(fi)]
            if fi >= 0:
                f = scene.faces[fi]
                e = f.b - f.a
                length = float(np.linalg.norm(e))
                along = ((hit[idx[sel], :2] - f.a) @ e) / length
                up = hit[idx[sel], 2] - f.z0
                height = f.z1 - f.z0
            else:  # a ceiling light: coordinates along its two sides
                poly = scene.tops[-2 - int(fi)].polygon
                e, e2 = poly[1] - poly[0], poly[3] - poly[0]
                length, height = float(np.linalg.norm(e)), float(np.linalg.norm(e2))
                along = ((hit[idx[sel], :2] - poly[0]) @ e) / length
                up = ((hit[idx[sel], :2] - poly[0]) @ e2) / height
            c[sel] = self.colour_of(spec, along, up, length, height, fpi[sel])
        return c


class BenchShader:
    """The sides of a wooden bench, darker at the foot."""

    def shade(self, scene, hits, dirs, footprint, idx):
        shade = _outward_light(hits.face[idx], scene, contrast=0.4)
        c = mix(_flat(BENCH_BGR, len(idx)), BENCH_FOOT_BGR,
                band(hits.hit[idx, 2], -1.0, 0.06, _footprint_on_upright(dirs, footprint, idx)))
        return c * (0.8 * shade)[:, None]


class BenchTopShader:
    """A bench's slatted seat: four slats across its depth."""

    def shade(self, scene, hits, dirs, footprint, idx):
        fpt = _footprint_on_ground(dirs, footprint, idx)
        c = _flat(BENCH_TOP_BGR, len(idx))
        faces = hits.face[idx]
        for code in np.unique(faces):
            sel = faces == code
            poly = scene.tops[-2 - int(code)].polygon
            e = poly[1] - poly[0]
            depth = ((hits.hit[idx[sel], :2] - poly[0]) @ e) / float(np.linalg.norm(e))
            c[sel] = mix(c[sel], BENCH_SLAT_GAP_BGR, line_coverage(depth, BENCH_DEPTH_M / 4, 0.02, fpt[sel]) * 0.8)
        return c


#: the shader of each surface kind (the ground outside the station and the sky keep OUTSIDE_BGR)
SHADERS: dict[Surface, Shader] = {
    Surface.FLOOR: FloorShader(),
    Surface.TRACK: TrackShader(),
    Surface.WALL: WallShader(),
    Surface.PILLAR: PillarShader(),
    Surface.BARRIER: BarrierShader(),
    Surface.BARRIER_TOP: FlatShader(BARRIER_TOP_BGR),
    Surface.PANEL: PanelShader(),
    Surface.POSTER: WallItemShader(_poster_colour),
    Surface.LIGHT: WallItemShader(_light_panel_colour),
    Surface.BENCH: BenchShader(),
    Surface.BENCH_TOP: BenchTopShader(),
}


def shade(scene: StationScene, hits: RayHits, dirs: np.ndarray, footprint_per_m: np.ndarray) -> np.ndarray:
    """Colour of each ray's hit point (float BGR, (N, 3)); ``footprint_per_m`` [m] grows with the depth."""
    col = _flat(OUTSIDE_BGR, len(hits.kind))
    for kind, shader in SHADERS.items():
        idx = np.nonzero(hits.kind == kind)[0]
        if len(idx):
            col[idx] = shader.shade(scene, hits, dirs, footprint_per_m, idx)
    return col
