"""Render synthetic CCTV frames of a station crowd, with exact per-person annotations.

:class:`Renderer` draws the static station once per camera by casting one ray per
(supersampled) pixel into the scene: the floor with a tile texture, track beds with
gravel, sleepers and rails, the platform edge with its yellow safety line, walls along
the boundary of the station (with dark doorways at entrances and exits), pillars and
ticket-gate housings as boxes, and the signs and hanging panels of ``render.occluders``.
The same pass keeps a depth buffer of everything that can hide a person (walls, pillars,
barriers, panels). With lens distortion (``render.lens_k1``, ``lens_k2``) the station is
cast undistorted over the region the lens sees and remapped once.

Per frame, people are drawn as articulated shapes in perspective (shadow, legs with gait
swing and knee flex, torso, arms swinging opposite to the legs, head with hair and face),
far to near (painter's algorithm); static occluders in front of a person are restored from
the static image through the depth buffer. All body geometry is computed for the whole
crowd at once in numpy, outline vertices go through the lens, and the per-person loop only
issues OpenCV fill calls. Annotation boxes and head points come from the same (distorted)
vertices, so the ground truth matches the pixels. Camera effects follow
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
from sim.appearance import sample_appearance
from sim.camera import PinholeCamera
from sim.effects import CameraEffects, LensDistortion
from sim.state import CrowdState, Posture

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
_NONE, _FLOOR, _TRACK, _GROUND_OUT, _WALL, _PILLAR, _BARRIER, _BARRIER_TOP, _PANEL = range(9)

PANEL_BORDER_M = 0.05  #: [m] dark frame around a sign or panel (render.occluders)
_PANEL_FRAME_BGR = (38.0, 38.0, 42.0)
_PANEL_TEXT_BGR = (235.0, 235.0, 235.0)

#: [m] a person is hidden by a wall or pillar pixel only if that pixel is nearer than the
#: person's centre by this much (arms and legs reach this far from the centre line)
_OCCLUSION_MARGIN_M = 0.3
_SHIFT = 3  #: fractional bits of the drawing coordinates (1/8 px)
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
    polygon: np.ndarray
    z: float
    group: int


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

    def __init__(self, station, occluders=()) -> None:
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
        self.faces = faces
        self.tops = tops
        self.n_groups = group
        # A wall hides a person only if part of the floor lies behind its line (a station
        # that is not convex); walls of a convex station never do and are left out of the
        # occlusion tests, which saves a depth test for most people.
        floor_pts = np.concatenate(floors)
        self.hiding_groups = np.ones(group, bool)
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
        for top in self.tops:
            if oz <= top.z:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                s = np.where(dz < 0, (top.z - oz) / dz, np.inf)
            idx = np.nonzero(s < s_best)[0]
            if len(idx) == 0:
                continue
            hxy = np.c_[ox + s[idx] * dx[idx], oy + s[idx] * dy[idx]]
            good = _points_in_polygon(hxy, top.polygon)
            idx = idx[good]
            s_best[idx] = s[idx]
            kind[idx] = _BARRIER_TOP
            face_idx[idx] = -1
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
        self.scene = StationScene(scenario.station, rs.occluders)
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
            bg_src, occ_src = self._build_background(ss, src_cam)
            map_u, map_v = (src_u - x0).astype(np.float32), (src_v - y0).astype(np.float32)
            bg = cv2.remap(bg_src, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            occ_depth = cv2.remap(occ_src, map_u, map_v, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
            self.lens = lens
            self._cull_box = (x0 - 0.5, y0 - 0.5, x1 - 0.5, y1 - 0.5)
        else:
            bg, occ_depth = self._build_background(ss, self._canvas_cam)
        gain = float(rs.brightness)
        lit = np.clip(bg.astype(np.float32) * gain, 0, 255)
        self._bg = np.rint(lit).astype(np.uint8)
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
        """Ray-cast the static station through ``cam`` (supersampled ``ss`` x ``ss``): image and occluder depth."""
        import cv2

        wc, hc = cam.width, cam.height
        # supersampled pixel centres in canvas pixel coordinates
        us = (np.arange(wc * ss) + 0.5) / ss - 0.5
        vs = (np.arange(hc * ss) + 0.5) / ss - 0.5
        img = np.empty((hc * ss, wc * ss, 3), np.float64)
        depth_ss = np.full((hc * ss, wc * ss), np.inf, np.float32)
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
        # a gentle vignette, as on most CCTV lenses
        yy, xx = np.meshgrid((vs - cam.K[1, 2]) / (self.height / 2), (us - cam.K[0, 2]) / (self.width / 2),
                             indexing="ij")
        img *= (1.0 - 0.18 * (xx**2 + yy**2) / 2)[..., None]
        img8 = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        if ss > 1:
            bg = cv2.resize(img8, (wc, hc), interpolation=cv2.INTER_AREA)
            occ_depth = depth_ss.reshape(hc, ss, wc, ss).min(axis=(1, 3))
        else:
            bg, occ_depth = img8, depth_ss
        return bg, occ_depth.astype(np.float32)

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
        return col

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

    def render(self, state: CrowdState, t: float | None = None, *, visibility: bool = True
               ) -> tuple[np.ndarray, FrameAnnotations]:
        """One frame: the BGR uint8 image and the annotations of the people it shows.

        ``t`` [s] defaults to ``state.t``; it picks the frame's noise and shake. With
        ``visibility=False`` the visible fractions are not computed (nan), which saves the
        cost of the quarter-resolution id buffer.
        """
        t = float(state.t if t is None else t)
        frame_idx = self.frame_index(t)
        m = self._margin
        dx, dy = self.shake_offset(t)
        canvas = self._bg.copy()
        geo = self._people(state)
        if geo is not None:
            self._draw(canvas, geo)
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
        a short last axis.
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
        vel = np.asarray(state.vel_mps, dtype=np.float64)
        speed = np.sqrt(vel[:, 0] ** 2 + vel[:, 1] ** 2)
        amp = np.where(posture == Posture.WALKING, 0.42 * np.clip(speed / 1.3, 0.4, 1.3), 0.0)
        ws = r / 0.23  # body width relative to an average adult

        # joints in the body frame: a forward, b to the left, z up [m]; rows are joints (_NJ) -------
        a = np.zeros((_NJ, n))
        b = np.zeros((_NJ, n))
        z = np.empty((_NJ, n))
        phase = _SIDE_PHASE[:, None] + np.asarray(state.gait_phase, dtype=np.float64)  # (2, n): left, right
        sin_p, cos_p = np.sin(phase), np.cos(phase)
        leg = amp * sin_p
        flex = (1.1 * amp) * np.maximum(0.0, cos_p)
        hip_z, sh_z = 0.52 * h, 0.80 * h
        b[0:6] = np.tile(_SIDE[:, None] * (0.055 * h), (3, 1))
        z[0:2] = hip_z
        a[2:4] = (0.25 * h) * np.sin(leg)
        z[2:4] = hip_z - (0.25 * h) * np.cos(leg)
        a[4:6] = a[2:4] + (0.245 * h) * np.sin(leg - flex)
        z[4:6] = z[2:4] - (0.245 * h) * np.cos(leg - flex)
        arm = (-0.65 * amp) * sin_p
        bend = arm + (0.15 + 0.5 * amp)
        root = _SIDE[:, None] * np.maximum(0.9 * r - 0.05, 0.08)
        b[6:8] = root
        b[8:10] = root + 0.025 * _SIDE[:, None]
        b[10:12] = root + 0.04 * _SIDE[:, None]
        z[6:8] = sh_z
        a[8:10] = (0.17 * h) * np.sin(arm)
        z[8:10] = sh_z - (0.17 * h) * np.cos(arm)
        a[10:12] = a[8:10] + (0.19 * h) * np.sin(bend)
        z[10:12] = z[8:10] - (0.19 * h) * np.cos(bend)
        z[12:16] = _CENTRE_Z[:, None] * h  # head, neck, shoulder line, hip line
        # the lowest foot touches the floor: the body bobs with the stride
        z -= np.minimum(z[4], z[5]) - 0.025 * h
        # a fall tips the body forward about the feet, onto the floor
        cg, sg = np.cos(gamma), np.sin(gamma)
        a, z = a * cg + z * sg, z * cg - a * sg + 0.1 * sg

        ct, st = np.cos(th), np.sin(th)
        pts = np.empty((_NP, n, 3))
        pts[:_NJ, :, 0] = pos[:, 0] + a * ct - b * st
        pts[:_NJ, :, 1] = pos[:, 1] + a * st + b * ct
        pts[:_NJ, :, 2] = z

        # the torso is a flat hexagon across the line of sight (its width depends on the view)
        axis = np.stack([sg * ct, sg * st, cg], axis=1)  # body axis, feet to head
        view = 0.5 * (pts[13] + pts[15]) - cam.position
        across = np.cross(axis, view)
        norm = np.sqrt(np.einsum("ij,ij->i", across, across))
        flat = norm < 1e-9
        across /= np.where(flat, 1.0, norm)[:, None]
        if flat.any():
            across[flat] = np.stack([-st, ct, np.zeros(n)], axis=1)[flat]
        c_left = np.abs(-across[:, 0] * st + across[:, 1] * ct)
        c_front = np.abs((across[:, 0] * ct + across[:, 1] * st) * cg - across[:, 2] * sg)
        half_sh = np.sqrt((0.95 * r * c_left) ** 2 + (0.55 * r * c_front) ** 2)
        half_hip = np.sqrt((0.78 * r * c_left) ** 2 + (0.55 * r * c_front) ** 2)
        halves = np.stack([0.3 * half_sh, half_sh, half_hip])[:, :, None] * across  # neck, shoulders, hips
        pts[16:19] = pts[13:16] + halves
        pts[19:22] = (pts[13:16] - halves)[::-1]
        # shadow: an ellipse on the floor under the body
        shadow_c = pos + np.stack([ct, st], axis=1) * (sg * 0.45 * h)[:, None]
        ax_f = 0.24 + 0.15 * amp + sg * 0.42 * h
        ax_l = 0.22 * ws
        pts[22:30, :, 0] = shadow_c[:, 0] + _COS8[:, None] * (ax_f * ct) - _SIN8[:, None] * (ax_l * st)
        pts[22:30, :, 1] = shadow_c[:, 1] + _COS8[:, None] * (ax_f * st) + _SIN8[:, None] * (ax_l * ct)
        pts[22:30, :, 2] = 0.0

        # project everything at once ------------------------------------------------------------
        pc = (pts - cam.position) @ cam.R.T
        depth = np.ascontiguousarray(pc[..., 2])  # (30, n)
        ok = depth.min(axis=0) > 0.3
        sel = np.arange(n)
        if not ok.all():
            sel = np.nonzero(ok)[0]
            if len(sel) == 0:
                return None
            pc, depth = pc[:, sel], depth[:, sel]
            h, ws, gamma, shadow_c, ct, st, pos = (x[sel] for x in (h, ws, gamma, shadow_c, ct, st, pos))
        inv = 1.0 / depth
        U = K[0, 0] * pc[..., 0] * inv + K[0, 2]  # (30, n') pixel coordinates
        V = K[1, 1] * pc[..., 1] * inv + K[1, 2]
        px = f * inv  # [px/m] at each point

        # limb outlines (6 vertices, 4 limbs, n'): left leg, right leg, left arm, right arm
        lu, lv = _limb_polygons(U[_LIMB_CHAINS], V[_LIMB_CHAINS], (_LIMB_WIDTHS[:, :, None] * ws) * px[_LIMB_CHAINS])
        # head: hair and face as 12-gons (cheaper to fill than circles, and they go through the lens)
        head_r = 0.06 * h * px[12]
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
        for (a, b), (pu, pv) in zip(_OUTLINE_SLICES, sources):
            pf[a:b, 0] = pu
            pf[a:b, 1] = pv
        scale = float(1 << _SHIFT)
        pf *= scale
        np.clip(pf, -_COORD_LIMIT * scale, _COORD_LIMIT * scale, out=pf)
        fixed = np.ascontiguousarray(np.rint(pf, out=pf).astype(np.int32).transpose(2, 0, 1))
        hr = head_r[v]
        hu, hv = hu[v], hv[v]

        # colours: shadow, far leg, far arm, near leg, torso, near arm, hair, face -----------------
        gain = float(self.render_spec.brightness)
        tr, sh = state.trousers_bgr[rows], state.shirt_bgr[rows]
        mats = np.stack([tr, sh, tr, sh, sh, state.hair_bgr[rows], state.skin_bgr[rows]], axis=1).astype(np.float64)
        cols = np.empty((m, 8, 3))
        cols[:, 1:] = mats * (_PART_SHADE * gain)
        su_f, sv_f = Uv[22:30], Vv[22:30]
        su = np.clip(np.rint(su_f.mean(axis=0)), 0, cam.width - 1).astype(np.int64)
        sv = np.clip(np.rint(sv_f.mean(axis=0)), 0, cam.height - 1).astype(np.int64)
        cols[:, 0] = self._bg[sv, su] * 0.62
        np.clip(np.rint(cols, out=cols), 0, 255, out=cols)
        cols = cols.astype(np.int64)  # small Python ints are cached: tolist() is cheap

        # the face shows when the person faces the camera at least partly
        view_h = pos[v] - cam.position[:2]
        facing = (ct[v] * view_h[:, 0] + st[v] * view_h[:, 1]) / np.maximum(np.hypot(view_h[:, 0], view_h[:, 1]), 1e-9)
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
        pdepth = order_depth[v]
        behind, restore = self._maybe_hidden(drawn, pdepth)
        return _People(ids=np.asarray(state.ids)[rows], groups=np.asarray(state.appearance_group)[rows], depth=pdepth,
                       box=box, drawn=drawn, parts=parts, head=np.stack([hu, hv], axis=1), behind=behind,
                       restore=restore, polys=fixed, colours=cols, show_face=show_face)

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

    def _draw(self, img: np.ndarray, g: "_People") -> None:
        """Fill every person's shapes into ``img`` (canvas coordinates), far to near.

        Shadows go first, all of them: they lie on the floor, and a body always stands in front
        of the floor it overlaps in the image (a nearer person's shadow never covers a farther
        person's feet). Static occluders in front of a person are restored after its body,
        which also hides the parts of shadows that fall behind them.
        """
        cv2 = self._cv2
        fill = cv2.fillConvexPoly
        copy_to = cv2.copyTo
        P = g.polys
        s = _SHIFT
        occ, bg = self._occ_depth, self._bg
        margin = _OCCLUSION_MARGIN_M
        cols = g.colours.tolist()
        for sh, c in zip(list(P[:, 0:8]), cols):
            fill(img, sh, c[0], 8, s)
        rows = zip(list(P[:, 8:14]), list(P[:, 14:20]), list(P[:, 20:26]), list(P[:, 26:32]), list(P[:, 32:38]),
                   list(P[:, 38:50]), list(P[:, 50:62]), cols, g.show_face.tolist(), g.behind.tolist(),
                   g.restore.tolist(), g.depth.tolist())
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
        shown = self._occ_depth_q.ravel()[flat] >= (g.depth - _OCCLUSION_MARGIN_M)[owner - 1]
        ids = np.zeros(hq * wq, np.int64)
        np.maximum.at(ids, flat[shown], owner[shown])
        counts = np.bincount(ids, minlength=m + 1)[1:m + 1]
        return np.minimum(1.0, counts / np.maximum(total, 1))


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
