"""Trains in a camera's frame: drawn with a depth buffer, lighting the station, annotated.

A frame's trains (:class:`sim.state.TrainState`) become one *layer* over the canvas
(:meth:`TrainDrawer.layer`): their panels (:mod:`sim.render.train_shapes`) are cut at the
camera's near plane, projected through the pinhole camera and the lens, and filled far to
near, each panel's colour into a colour patch and its depth plane's id into an id patch
(:mod:`sim.render.raster`, one compiled call each). Since every panel lies in a plane,
``1 / depth`` is affine in the undistorted pixel coordinates on it: the depth of every
pixel of the layer is three multiply-adds of its plane's coefficients.

The layer goes into the frame's static image where it is nearer than the static occluders
(a pillar on the platform hides the train behind it, :meth:`TrainDrawer.paint`), and its
depth joins theirs in the frame's occluder depth (:meth:`TrainDrawer.occluder_depth`): the painter then hides whoever
stands behind the train (on the track bed, on the far platform) and draws whoever stands in
front of it, or in a doorway (an open door shows the car's far inner wall, behind them).

Before the train is drawn, its light goes onto the station (:meth:`TrainDrawer.light`): the
headlights' beam along the track ahead of the head (it reaches the station a little before
the train comes out of the tunnel) and the interior light spilling from the windows and open
doors onto the platform beside it, computed at a quarter of the resolution from the surface
point each pixel shows, as the firelight is. The train's box and visible share in the image
come from the same id patch (:meth:`TrainDrawer.annotate`).

A train standing at the platform with its doors still draws the same layer and light frame
after frame: both are kept for the last state drawn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.annotate import TrainAnnotations
from sim.render.raster import fill_convex_polys, fill_convex_polys_ids
from sim.render.train_shapes import (N_PLANES, PLANE_FAR_SIDE, PLANE_HEAD, PLANE_INSIDE, PLANE_NEAR_SIDE, PLANE_ROOF,
                                     PLANE_TAIL, Panels, train_panels)
from sim.render.view import COORD_LIMIT, SHIFT, CanvasView
from sim.state import TrainBody, TrainState

NEAR_CLIP_M = 0.1  #: [m] panels are cut at this depth in front of the camera
HEADLIGHT_BGR = (224, 242, 255)  #: colour of the headlights' beam (warm white)
HEADLIGHT_GAIN = 150.0  #: [grey levels] added by the beam on axis, close to the lamps
HEADLIGHT_REACH_M = 14.0  #: [m] the beam's strength halves this far ahead
HEADLIGHT_HALF_ANGLE_DEG = 16.0  #: the beam's half opening
HEADLIGHT_AMBIENT = 0.3  #: share of the beam a surface gets whichever way it faces (the rest by Lambert's cosine)
HEADLIGHT_Z_M = 0.62  #: [m] height of the lamps
SPILL_BGR = (170, 214, 236)  #: colour of the interior light on the platform
SPILL_GAIN = 10.0  #: [grey levels] the windows' light at the car side, on the floor
SPILL_DOOR_GAIN = 28.0  #: [grey levels] more in front of a fully open door
SPILL_DEPTH_M = 0.9  #: [m] the spill fades over this distance from the car side
_QUARTER = 4  #: the light is computed at 1/4 of the resolution per side


@dataclass(frozen=True, kw_only=True)
class TrainLayer:
    """The trains of a frame drawn over a patch of the canvas."""

    box: tuple[int, int, int, int]  #: x0 y0 x1 y1 (exclusive) [canvas px]
    colour: np.ndarray  #: (h, w, 3) uint8
    ids: np.ndarray  #: (h, w) int32: 0 none, else 1 + k * N_PLANES + plane for the train in row k
    depth: np.ndarray  #: (h, w) float32 [m], inf where no train
    train_ids: np.ndarray  #: (T,) the trains' numbers, in row order


class TrainDrawer:
    """Draws the trains of one camera's canvas (``view``); ``surface_xyz_q`` is the surface point
    each quarter-resolution pixel shows (the station's static image)."""

    def __init__(self, view: CanvasView, *, surface_xyz_q: np.ndarray, canvas_shape: tuple[int, int]) -> None:
        self.view = view
        self.surface_xyz_q = surface_xyz_q
        self.canvas_shape = canvas_shape  # (H, W)
        self._undistorted = None  # canvas-sized undistorted pixel coordinates, made when a lens needs them
        self._layer_key = self._light_key = None
        self._layer: TrainLayer | None = None
        self._light: tuple | None = None
        self._locals: dict[tuple, _Local] = {}

    # --- the layer ---------------------------------------------------------------------------
    def layer(self, trains: TrainState) -> TrainLayer | None:
        """The trains drawn over the patch of the canvas they cover (None when none shows)."""
        key = _state_key(trains)
        if key != self._layer_key:
            self._layer_key, self._layer = key, self._draw(trains)
        return self._layer

    def _draw(self, trains: TrainState) -> TrainLayer | None:
        cam = self.view.camera
        polys, colours, owners = [], [], []
        for k in range(len(trains)):
            body = trains.bodies[k]
            panels = train_panels(body, float(trains.head_s_m[k]), float(trains.door_open[k]), cam.position,
                                  lights_on=body.headlights)
            if not len(panels):
                continue
            if self.view.lens is not None:
                panels = _subdivided(panels, 2.0)
            corners = panels.corners()  # (P, 4, 3) s, n, z
            world = np.concatenate([body.ground(corners[..., 0], corners[..., 1]), corners[..., 2:3]], axis=-1)
            outlines, keep = self._outlines(world)
            polys.append(outlines)
            colours.append(panels.colour[keep])
            owners.append(1 + k * N_PLANES + panels.plane[keep])
        if not polys or not sum(len(p) for p in polys):
            return None
        P = np.concatenate(polys)
        nv = np.full(len(P), P.shape[1], np.int64)  # short outlines repeat their last vertex
        hc, wc = self.canvas_shape
        pts = P.reshape(-1, 2) / float(1 << SHIFT)
        x0, y0 = (max(0, int(math.floor(c)) - 1) for c in pts.min(axis=0))
        x1, y1 = int(min(wc, math.ceil(pts[:, 0].max()) + 2)), int(min(hc, math.ceil(pts[:, 1].max()) + 2))
        if x1 <= x0 or y1 <= y0:
            return None
        P = P - np.array([x0 << SHIFT, y0 << SHIFT], np.int32)
        colour = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
        ids = np.zeros((y1 - y0, x1 - x0), np.int32)
        g = float(self.view.brightness)
        cols = np.clip(np.rint(np.concatenate(colours) * g), 0, 255).astype(np.uint8)
        fill_convex_polys(colour, P, nv, cols, shift=SHIFT)
        fill_convex_polys_ids(ids, P, nv, np.concatenate(owners).astype(np.int32), shift=SHIFT)
        depth = self._depth(trains, ids, (x0, y0, x1, y1))
        return TrainLayer(box=(x0, y0, x1, y1), colour=colour, ids=ids, depth=depth, train_ids=trains.ids.copy())

    def _outlines(self, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Q, 5, 2) int32 fixed-point outlines of the (P, 4, 3) world rectangles that show in
        front of the near plane (cut there; a shorter outline repeats its last vertex), and which
        of the P they are."""
        cam = self.view.camera
        pc = (world - cam.position) @ cam.R.T  # (P, 4, 3) camera coordinates
        z = pc[..., 2]
        front = (z > NEAR_CLIP_M).all(axis=1)
        cut = ~front & (z > NEAR_CLIP_M).any(axis=1)
        out = np.empty((len(pc), 5, 3))
        out[:, :4] = pc
        out[:, 4] = pc[:, 3]
        for i in np.nonzero(cut)[0]:
            q = _clip_near(pc[i])
            out[i, :len(q)] = q
            out[i, len(q):] = q[-1]
        keep = front | cut
        out = out[keep]
        K = cam.K
        u = K[0, 0] * out[..., 0] / out[..., 2] + K[0, 2]
        v = K[1, 1] * out[..., 1] / out[..., 2] + K[1, 2]
        if self.view.lens is not None:
            u, v = self.view.lens.distort(u, v)
        scale = float(1 << SHIFT)
        fixed = np.stack([u, v], axis=-1) * scale
        np.clip(fixed, -COORD_LIMIT * scale, COORD_LIMIT * scale, out=fixed)
        return np.rint(fixed).astype(np.int32), np.nonzero(keep)[0]

    def _depth(self, trains: TrainState, ids: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """[m] per pixel of the patch: the depth of its plane along its pixel's ray, inf where no train."""
        x0, y0, x1, y1 = box
        coef = np.zeros((1 + len(trains) * N_PLANES, 3), np.float64)
        cam = self.view.camera
        for k in range(len(trains)):
            for plane, (normal, c) in enumerate(_planes(trains.bodies[k], float(trains.head_s_m[k]), cam.position)):
                coef[1 + k * N_PLANES + plane] = _inverse_depth_coefficients(cam, normal, c)
        a, b, c = (np.ascontiguousarray(coef[:, k], dtype=np.float32) for k in range(3))
        if self.view.lens is None:
            u = np.arange(x0, x1, dtype=np.float32)[None, :]
            v = np.arange(y0, y1, dtype=np.float32)[:, None]
        else:
            uu, vv = self._undistorted_grid()
            u, v = uu[y0:y1, x0:x1], vv[y0:y1, x0:x1]
        # each pixel's plane's coefficients, by lookup (a table of a few entries)
        inv = np.take(a, ids)
        inv *= u
        term = np.take(b, ids)
        term *= v
        inv += term
        inv += np.take(c, ids)
        depth = np.full(ids.shape, np.inf, np.float32)
        np.divide(np.float32(1.0), inv, out=depth, where=(ids > 0) & (inv > 0))
        return depth

    def _undistorted_grid(self) -> tuple[np.ndarray, np.ndarray]:
        if self._undistorted is None:
            hc, wc = self.canvas_shape
            uu, vv = np.meshgrid(np.arange(wc, dtype=np.float64), np.arange(hc, dtype=np.float64))
            u, v = self.view.lens.undistort(uu, vv)
            self._undistorted = (u.astype(np.float32), v.astype(np.float32))
        return self._undistorted

    # --- into the frame ----------------------------------------------------------------------
    @staticmethod
    def paint(base: np.ndarray, occ_depth: np.ndarray, layer: TrainLayer) -> None:
        """Put ``layer`` into the frame's static image ``base`` (in place) where it is nearer than the
        static occluders of ``occ_depth``."""
        import cv2

        x0, y0, x1, y1 = layer.box
        show = layer.depth < occ_depth[y0:y1, x0:x1]
        cv2.copyTo(layer.colour, show.view(np.uint8), base[y0:y1, x0:x1])

    @staticmethod
    def occluder_depth(occ_depth: np.ndarray, layer: TrainLayer) -> np.ndarray:
        """The frame's occluder depth: a copy of the static ``occ_depth`` with the layer's nearer pixels."""
        x0, y0, x1, y1 = layer.box
        frame_occ = occ_depth.copy()
        np.minimum(occ_depth[y0:y1, x0:x1], layer.depth, out=frame_occ[y0:y1, x0:x1])
        return frame_occ

    @staticmethod
    def annotate(layer: TrainLayer | None, occ_depth: np.ndarray, ox: int, oy: int, width: int, height: int
                 ) -> TrainAnnotations:
        """The box (x, y, w, h in image pixels, clipped to the image) of each drawn train that shows in
        the image crop at (``ox``, ``oy``), and the share of its pixels the static occluders leave visible."""
        if layer is None:
            return TrainAnnotations.empty()
        x0, y0, x1, y1 = layer.box
        # the image's part of the patch
        ix0, iy0 = max(x0, ox), max(y0, oy)
        ix1, iy1 = min(x1, ox + width), min(y1, oy + height)
        ids_out, boxes, visible = [], [], []
        if ix1 <= ix0 or iy1 <= iy0:
            return TrainAnnotations.empty()
        sub = layer.ids[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
        shown = layer.depth[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0] < occ_depth[iy0:iy1, ix0:ix1]
        for k, train in enumerate(layer.train_ids.tolist()):
            mine = (sub > k * N_PLANES) & (sub <= (k + 1) * N_PLANES)
            rows = np.nonzero(mine.any(axis=1))[0]
            if not len(rows):
                continue
            cols = np.nonzero(mine.any(axis=0))[0]
            bx0, by0 = ix0 - ox + int(cols[0]), iy0 - oy + int(rows[0])
            bx1, by1 = ix0 - ox + int(cols[-1]), iy0 - oy + int(rows[-1])
            ids_out.append(train)
            boxes.append([bx0, by0, bx1 - bx0, by1 - by0])
            visible.append(float(np.count_nonzero(mine & shown)) / float(np.count_nonzero(mine)))
        if not ids_out:
            return TrainAnnotations.empty()
        return TrainAnnotations(ids=np.array(ids_out, np.int64), boxes=np.array(boxes, np.float32),
                                visible=np.array(visible, np.float32))

    # --- light on the station ------------------------------------------------------------------
    def light(self, out: np.ndarray, trains: TrainState) -> None:
        """Add the trains' light (headlight beams, interior light on the platform) to ``out`` (in place)."""
        import cv2

        key = _state_key(trains)
        if key != self._light_key:
            self._light_key, self._light = key, self._light_patch(trains)
        if self._light is None:
            return
        (x0, y0, x1, y1), add = self._light
        roi = out[y0:y1, x0:x1]
        cv2.add(roi, add, dst=roi)

    def _light_patch(self, trains: TrainState):
        """((x0, y0, x1, y1), uint8 patch) of the light the trains add to the canvas, or None."""
        import cv2

        hq, wq = self.surface_xyz_q.shape[:2]
        acc = np.zeros((hq * wq, 3), np.float32)
        lit = []
        for k in range(len(trains)):
            body = trains.bodies[k]
            head = float(trains.head_s_m[k])
            local = self._local(body)
            if body.headlights:
                idx, level = _beam(body, head, local)
                acc[idx] += level[:, None] * (np.asarray(HEADLIGHT_BGR, np.float32) / 255.0)
                lit.append(idx)
            idx, level = _spill(body, head, float(trains.door_open[k]), local)
            acc[idx] += level[:, None] * (np.asarray(SPILL_BGR, np.float32) / 255.0)
            lit.append(idx)
        lit = np.concatenate(lit) if lit else np.zeros(0, np.int64)
        if not len(lit):
            return None
        acc *= np.float32(self.view.brightness)
        rows, cols = lit // wq, lit % wq
        q = _QUARTER
        qy0, qy1, qx0, qx1 = int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1
        small = np.clip(np.rint(acc.reshape(hq, wq, 3)[qy0:qy1, qx0:qx1]), 0, 255).astype(np.uint8)
        up = cv2.resize(small, (q * (qx1 - qx0), q * (qy1 - qy0)), interpolation=cv2.INTER_LINEAR)
        hc, wc = self.canvas_shape
        x0, y0 = q * qx0, q * qy0
        x1, y1 = min(wc, x0 + up.shape[1]), min(hc, y0 + up.shape[0])
        return (x0, y0, x1, y1), np.ascontiguousarray(up[:y1 - y0, :x1 - x0])

    def _normals(self) -> np.ndarray:
        """(k, 3) unit normals of the quarter-resolution surface points (flattened), turned toward the
        camera: the cross product of the surface's steps to the next column and row."""
        xyz = self.surface_xyz_q.astype(np.float64)
        du = np.zeros_like(xyz)
        dv = np.zeros_like(xyz)
        du[:, :-1] = xyz[:, 1:] - xyz[:, :-1]
        du[:, -1] = du[:, -2] if xyz.shape[1] > 1 else 0.0
        dv[:-1] = xyz[1:] - xyz[:-1]
        dv[-1] = dv[-2] if xyz.shape[0] > 1 else 0.0
        nrm = np.cross(du, dv).reshape(-1, 3)
        nrm /= np.maximum(np.linalg.norm(nrm, axis=1), 1e-9)[:, None]
        toward = (self.view.camera.position - xyz.reshape(-1, 3)) * nrm
        nrm[toward.sum(axis=1) < 0] *= -1.0
        return nrm.astype(np.float32)

    def _local(self, body: TrainBody) -> "_Local":
        """The quarter-resolution surface points in ``body``'s train coordinates (kept per place)."""
        key = (body.origin_m, body.heading, body.normal)
        local = self._locals.get(key)
        if local is None:
            xyz = self.surface_xyz_q.reshape(-1, 3).astype(np.float64)
            s, n = body.local(xyz[:, :2])
            z = xyz[:, 2]
            platform = np.nonzero((n < body.gap_m) & (n > -3.0 * SPILL_DEPTH_M) & (z < 0.05))[0]
            lateral2 = (n - (body.gap_m + body.width_m / 2)) ** 2 + (z - HEADLIGHT_Z_M) ** 2
            local = _Local(s=s.astype(np.float32), n=n.astype(np.float32), z=z.astype(np.float32), platform=platform,
                           xyz=xyz.astype(np.float32), normal=self._normals(), lateral2=lateral2.astype(np.float32))
            self._locals[key] = local
        return local


@dataclass(frozen=True)
class _Local:
    """Surface points (flattened quarter-resolution canvas) in one train place's coordinates."""

    s: np.ndarray
    n: np.ndarray
    z: np.ndarray
    platform: np.ndarray  #: indices of the points on the platform floor beside the track
    xyz: np.ndarray  #: (k, 3) [m] the points
    normal: np.ndarray  #: (k, 3) their surfaces' unit normals, toward the camera
    lateral2: np.ndarray  #: [m²] squared distance from the headlights' axis


def _state_key(trains: TrainState) -> tuple:
    return tuple((int(i), round(float(h), 4), round(float(d), 4))
                 for i, h, d in zip(trains.ids, trains.head_s_m, trains.door_open))


def _clip_near(poly: np.ndarray) -> np.ndarray:
    """The part of a convex polygon (k, 3) (camera coordinates) at depth >= :data:`NEAR_CLIP_M`."""
    out = []
    k = len(poly)
    for i in range(k):
        p, q = poly[i], poly[(i + 1) % k]
        fp, fq = p[2] - NEAR_CLIP_M, q[2] - NEAR_CLIP_M
        if fp >= 0:
            out.append(p)
        if (fp >= 0) != (fq >= 0):
            out.append(p + (q - p) * (fp / (fp - fq)))
    return np.asarray(out)


def _subdivided(panels: Panels, max_m: float) -> Panels:
    """``panels`` with long ones cut into pieces of at most ``max_m`` [m] (their outlines then bend
    with the lens)."""
    rows = []
    for i in range(len(panels)):
        lo, hi = panels.lo[i], panels.hi[i]
        extent = hi - lo
        a = int(np.argmax(extent))
        pieces = max(1, int(math.ceil(extent[a] / max_m)))
        for j in range(pieces):
            plo, phi = lo.copy(), hi.copy()
            plo[a] = lo[a] + extent[a] * j / pieces
            phi[a] = lo[a] + extent[a] * (j + 1) / pieces
            rows.append((panels.axis[i], plo, phi, panels.colour[i], panels.plane[i]))
    axis, lo, hi, colour, plane = zip(*rows)
    return Panels(axis=np.array(axis), lo=np.array(lo), hi=np.array(hi), colour=np.array(colour), plane=np.array(plane))


def _planes(body: TrainBody, head_s: float, camera_position: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """(world normal (3,), offset [m]) of each depth plane (PLANE_*), ``normal . x = offset``."""
    o = np.asarray(body.origin_m)
    hd = np.asarray(body.heading)
    nm = np.asarray(body.normal)
    g, w = body.gap_m, body.width_m
    _, cam_n = body.local(np.asarray(camera_position[:2]))
    inside = g + w - 0.08 if cam_n < g else g + 0.08  # the far inner wall, from where the camera looks
    n3, h3 = np.r_[nm, 0.0], np.r_[hd, 0.0]
    planes = [None] * N_PLANES
    planes[PLANE_NEAR_SIDE] = (n3, float(o @ nm) + g)
    planes[PLANE_FAR_SIDE] = (n3, float(o @ nm) + g + w)
    planes[PLANE_ROOF] = (np.array([0.0, 0.0, 1.0]), body.height_m)
    planes[PLANE_HEAD] = (h3, float(o @ hd) + head_s)
    planes[PLANE_TAIL] = (h3, float(o @ hd) + head_s - body.length_m)
    planes[PLANE_INSIDE] = (n3, float(o @ nm) + inside)
    return planes


def _inverse_depth_coefficients(cam, normal: np.ndarray, offset: float) -> tuple[float, float, float]:
    """(a, b, c) with ``1 / depth = a u + b v + c`` on the plane ``normal . x = offset`` for the pixel
    (u, v) of ``cam`` (undistorted): the ray ``C + d R^T ((u - cx) / f, (v - cy) / f, 1)`` meets it at
    ``d = (offset - normal . C) / ((R normal) . q)``."""
    k = offset - float(normal @ cam.position)
    if abs(k) < 1e-9:
        return 0.0, 0.0, 0.0  # the camera is in the plane: it sees it edge-on
    m = cam.R @ normal
    fx, fy, cx, cy = cam.K[0, 0], cam.K[1, 1], cam.K[0, 2], cam.K[1, 2]
    return m[0] / fx / k, m[1] / fy / k, (m[2] - m[0] * cx / fx - m[1] * cy / fy) / k


def _beam(body: TrainBody, head_s: float, local: _Local) -> tuple[np.ndarray, np.ndarray]:
    """(indices, [grey levels]) the headlights' light on the surface points ahead of the head, in
    their cone: ``gain * cone² * facing / (1 + (ahead / reach)²)``, ``facing`` a part of the
    Lambert cosine toward the lamps."""
    ahead = local.s - np.float32(head_s)
    tan2 = math.tan(math.radians(HEADLIGHT_HALF_ANGLE_DEG)) ** 2
    idx = np.nonzero((ahead > 0.3) & (local.lateral2 < tan2 * ahead * ahead))[0]
    a = ahead[idx]
    cos = a / np.sqrt(a * a + local.lateral2[idx])
    cos_max = math.cos(math.radians(HEADLIGHT_HALF_ANGLE_DEG))
    cone = np.clip((cos - cos_max) / (1.0 - cos_max), 0.0, 1.0)
    lamp = np.r_[body.ground(head_s, body.gap_m + body.width_m / 2), HEADLIGHT_Z_M].astype(np.float32)
    to_lamp = lamp - local.xyz[idx]
    lambert = np.maximum((to_lamp * local.normal[idx]).sum(axis=1), 0.0) / np.sqrt((to_lamp * to_lamp).sum(axis=1))
    facing = HEADLIGHT_AMBIENT + (1.0 - HEADLIGHT_AMBIENT) * lambert
    return idx, (HEADLIGHT_GAIN * cone * cone * facing / (1.0 + (a / HEADLIGHT_REACH_M) ** 2)).astype(np.float32)


def _spill(body: TrainBody, head_s: float, door_open: float, local: _Local) -> tuple[np.ndarray, np.ndarray]:
    """(indices, [grey levels]) the interior light on the platform floor beside the train, fading
    away from its side, more in front of open doors."""
    lo, hi = max(head_s - body.length_m, body.portal_s_m[0]), min(head_s, body.portal_s_m[1])
    idx = local.platform
    s = local.s[idx]
    inside = (s > lo) & (s < hi)
    idx, s = idx[inside], s[inside]
    fade = np.exp((local.n[idx] - np.float32(body.gap_m)) / np.float32(SPILL_DEPTH_M))
    level = np.full(len(idx), SPILL_GAIN, np.float32)
    if door_open > 0 and len(idx):
        centres = (head_s - body.door_offsets_m()).astype(np.float32)
        near = np.exp(-((s[:, None] - centres[None, :]) / np.float32(0.6 * body.door_width_m)) ** 2).max(axis=1)
        level += np.float32(SPILL_DOOR_GAIN * door_open) * near
    return idx, level * fade
