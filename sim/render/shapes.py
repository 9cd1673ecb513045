"""Extra shapes drawn with people and in their painter's order: drawing commands, items, and the builder of both.

A person's extra shapes (props, vest stripes, a wheelchair) are lists of drawing commands
in three layers: before the body, after the torso and after the whole body
(:data:`BEHIND_BODY`, :data:`OVER_TORSO`, :data:`OVER_BODY`). :class:`ExtraShapes` builds
them for many people at once from body-frame geometry (strips along a line, shaded boxes)
and grows the people's boxes to cover them. Objects on the floor and fires are
:class:`Item` s: commands drawn at their own place in the far-to-near order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from sim.render.shaders import HALL_LIGHT_DIR
from sim.render.view import SHIFT, CanvasView, fixed_points

BEHIND_BODY, OVER_TORSO, OVER_BODY = 0, 1, 2  #: the layers of a person's extra shapes
#: corners of a box: signs along its three axes (corner i has the signs of bits 4, 2, 1)
_BOX_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
#: faces of a box as corner indices in outline order: -x, +x, -y, +y, -z, +z
_BOX_FACE_CORNERS = np.array([(0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5)])


class FillConvex:
    """A convex polygon: (p, 2) int32 fixed-point outline, OpenCV BGR colour."""

    __slots__ = ("outline", "colour")

    def __init__(self, outline: np.ndarray, colour: tuple[int, int, int]) -> None:
        self.outline, self.colour = outline, colour

    def draw(self, img: np.ndarray) -> None:
        import cv2

        cv2.fillConvexPoly(img, self.outline, self.colour, 8, SHIFT)


class Fill:
    """Any polygon; with ``rings`` > 0 the outline's first ``rings`` points are an outer contour
    and the rest an inner one (a ring, filled even-odd)."""

    __slots__ = ("contours", "colour")

    def __init__(self, outline: np.ndarray, colour: tuple[int, int, int], rings: int = 0) -> None:
        self.contours = [outline[:rings], outline[rings:]] if rings else [outline]
        self.colour = colour

    def draw(self, img: np.ndarray) -> None:
        import cv2

        cv2.fillPoly(img, self.contours, self.colour, 8, SHIFT)


@dataclass(frozen=True, kw_only=True)
class Item:
    """Something drawn in the painter's order among the people: an object on the floor, a fire."""

    depth: float  #: [m] depth of its ground centre (sort key)
    floor: list  #: commands drawn with the shadows (on the floor, under everything)
    cmds: list  #: commands drawn at its place in the order
    behind: bool  #: a static occluder may stand in front
    restore: tuple[int, int, int, int]  #: x0 y0 x1 y1 (exclusive) where occluders may cover it
    margin_m: float  #: [m] an occluder hides it where nearer than its depth by this much


@dataclass(frozen=True, kw_only=True)
class Anchors:
    """Owners of extra shapes as parallel arrays (k,): where their drawing lists are and where they stand.

    Shapes are given in an owner's own frame (a forward along the heading, b left, z up [m]).
    ``anchors[mask]`` selects owners.
    """

    slot: np.ndarray  #: (k,) index of the owner's drawing list (its place in the drawing order)
    pos: np.ndarray  #: (k, 2) [m] ground point
    cos_heading: np.ndarray  #: (k,)
    sin_heading: np.ndarray  #: (k,)
    depth_m: np.ndarray  #: (k,) [m] depth of the owner's centre: a shape beyond it goes behind the body

    def __len__(self) -> int:
        return len(self.slot)

    def __getitem__(self, mask):
        return type(self)(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})


class ExtraShapes:
    """Builds extra shapes into per-owner drawing lists and grows the owners' boxes to cover them.

    ``lists`` holds per owner None or three lists of commands (the layers); ``box``, ``drawn``
    (k, 4) and ``parts`` (k, 3, 4) are x0 y0 x1 y1 boxes grown in place: everything drawn,
    the body, and the body's parts (head, torso with arms, legs).
    """

    def __init__(self, view: CanvasView, lists: list, box: np.ndarray, drawn: np.ndarray, parts: np.ndarray) -> None:
        self.view = view
        self.lists = lists
        self.gain = float(view.brightness)
        self.box, self.drawn, self.parts = box, drawn, parts

    def emit(self, slots_of: np.ndarray, layers, kind, outlines: np.ndarray, colours, in_box: bool = True,
             rings: int = 0, grow: bool = True) -> None:
        """Append one shape per owner ``slots_of`` to the layer ``layers`` of its list: ``outlines``
        (k, p, 2) fixed point, drawn as ``kind`` (:class:`Fill` or :class:`FillConvex`), ``colours``
        (k, 3) or (3,) BGR before the brightness gain. Unless ``grow`` is False (the caller did
        it), the boxes grow to cover the shapes (the person's box and torso part only ``in_box``;
        the owners are then distinct)."""
        k = len(slots_of)
        if k == 0:
            return
        if grow:
            q = 1.0 / (1 << SHIFT)
            self.grow(slots_of, outlines.min(axis=1) * q, outlines.max(axis=1) * q, in_box)
        cols = np.clip(np.rint(np.broadcast_to(np.asarray(colours, dtype=np.float64), (k, 3)) * self.gain), 0, 255)
        cols = [tuple(c) for c in cols.astype(np.int64).tolist()]
        layers = np.broadcast_to(layers, (k,)).tolist()
        lists = self.lists
        extra = (rings,) if rings else ()
        for j, layer, outline, c in zip(slots_of.tolist(), layers, outlines, cols):
            e = lists[j]
            if e is None:
                e = lists[j] = ([], [], [])
            e[layer].append(kind(outline, c, *extra))

    def grow(self, slots_of: np.ndarray, lo: np.ndarray, hi: np.ndarray, in_box: bool) -> None:
        """Grow the drawn boxes (and with ``in_box`` the person's box and torso part) of owners
        ``slots_of`` (distinct) to cover corners ``lo``, ``hi`` (k, 2) [px]."""
        arrays = (self.drawn, self.box, self.parts[:, 1]) if in_box else (self.drawn,)
        for bx in arrays:
            bx[slots_of, :2] = np.minimum(bx[slots_of, :2], lo)
            bx[slots_of, 2:] = np.maximum(bx[slots_of, 2:], hi)

    @staticmethod
    def world(who: Anchors, a, b, z):
        """Owner-frame points (p, k) -> world x, y, z (p, k)."""
        c, s = who.cos_heading, who.sin_heading
        return who.pos[:, 0] + a * c - b * s, who.pos[:, 1] + a * s + b * c, z

    @staticmethod
    def layer(depth_shape: np.ndarray, depth_owner: np.ndarray) -> np.ndarray:
        """:data:`BEHIND_BODY` where a shape lies beyond its owner's centre, else :data:`OVER_BODY`."""
        return np.where(depth_shape > depth_owner + 0.02, BEHIND_BODY, OVER_BODY)

    def strip(self, who: Anchors, pa, pb, pz, widths_m, colours, in_box: bool = True, layer=None) -> np.ndarray:
        """A strip along owner-frame points (p, k) with widths [m] (p, k) or (p, 1): filled per owner.
        Returns the layers it went to (by depth, unless ``layer`` is given)."""
        x, y, zz = self.world(who, pa, pb, pz)
        u, v, d = self.view.project_with_depth(x, y, zz)
        f = self.view.focal_px
        ou, ov = ribbon(u, v, widths_m * (f / d))
        layers = self.layer(d.mean(axis=0), who.depth_m) if layer is None else np.broadcast_to(layer, (len(who),))
        self.emit(who.slot, layers, Fill, fixed_points(ou, ov), colours, in_box)
        return layers

    def boxes(self, who: Anchors, centre, axes, half, colours, layer=None, in_box: bool = True) -> np.ndarray:
        """Oriented boxes: centre (3, k) and axes (3 axes, 3, k) in the owner's frame, half sizes (3, k).

        The faces that face the camera are drawn (a face's normal points from the box's centre
        to the face's), shaded by their direction: the top brightest. Returns the layers."""
        corners = centre[None] + np.einsum("sa,ack->sck", _BOX_SIGNS, axes * half[:, None, :])  # (8, 3, k)
        x, y, zz = self.world(who, corners[:, 0], corners[:, 1], corners[:, 2])
        u, v, d = self.view.project_with_depth(x, y, zz)
        layers = self.layer(d.mean(axis=0), who.depth_m) if layer is None else np.broadcast_to(layer, (len(who),))
        self.grow(who.slot, np.stack([u.min(axis=0), v.min(axis=0)], axis=1),
                  np.stack([u.max(axis=0), v.max(axis=0)], axis=1), in_box)
        fx, fy, fz = (c[_BOX_FACE_CORNERS].mean(axis=1) for c in (x, y, zz))  # (6, k)
        nx, ny, nz = fx - x.mean(axis=0), fy - y.mean(axis=0), fz - zz.mean(axis=0)
        cam_pos = self.view.camera.position
        visible = nx * (cam_pos[0] - fx) + ny * (cam_pos[1] - fy) + nz * (cam_pos[2] - fz) > 0
        nn = np.maximum(np.sqrt(nx * nx + ny * ny + nz * nz), 1e-9)
        top = nz / nn > 0.7
        shade = np.where(top, 1.18, 0.78 + 0.14 * (nx * HALL_LIGHT_DIR[0] + ny * HALL_LIGHT_DIR[1]) / nn)  # (6, k)
        cols = np.asarray(colours, dtype=np.float64)[None] * shade[..., None] + np.where(top, 12.0, 0.0)[..., None]
        f, i = np.nonzero(visible)
        quads = fixed_points(u[_BOX_FACE_CORNERS][f, :, i].T, v[_BOX_FACE_CORNERS][f, :, i].T)
        self.emit(who.slot[i], layers[i], FillConvex, quads, cols[f, i], grow=False)
        return layers


def ribbon(u: np.ndarray, v: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def ring_points(n: int) -> np.ndarray:
    """(n,) angles [rad] of a closed ring of n points, 0 to 2 pi exclusive."""
    return np.linspace(0.0, 2 * math.pi, n + 1)[:-1]
