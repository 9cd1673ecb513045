"""The painter's algorithm: a frame's people, objects and fires filled into the canvas, far to near.

Shadows go first, all of them: they lie on the floor, and a body always stands in front of
the floor it overlaps in the image (a nearer person's shadow never covers a farther
person's feet). Static occluders in front of a person are restored after its body (from the
frame's static image), which also hides the parts of shadows that fall behind them. Objects
on the floor and fires take their places in the same far-to-near order.

Without extra shapes or items, and with the compiled fill (:mod:`sim.render.raster`), the
people go in a few batched calls instead of one OpenCV call per polygon: the same polygons,
colours and order, so the same pixels.
"""

from __future__ import annotations

import numpy as np

from sim.render.occlusion import OCCLUSION_MARGIN_M, restore_static
from sim.render.people import (FACE, FAR_ARM, FAR_LEG, HAIR, NEAR_ARM, NEAR_LEG, OUTLINES, SHADOW, TORSO,
                               People)
from sim.render.raster import compiled_kernel, fill_convex_polys, raster_backend
from sim.render.shapes import BEHIND_BODY, OVER_BODY, OVER_TORSO, Item
from sim.render.view import SHIFT

#: the body's parts in painting order (after the shadows), their vertex counts, for the batched fill
_BODY_PARTS = (FAR_LEG, FAR_ARM, NEAR_LEG, TORSO, NEAR_ARM, HAIR, FACE)
_BODY_NV = np.array([OUTLINES[p].stop - OUTLINES[p].start for p in _BODY_PARTS], dtype=np.int64)
_MAX_NV = int(_BODY_NV.max())


class Painter:
    """Fills people and items into one camera's canvas; ``occ_depth`` [m] is the canvas's occluder
    depth (inf where nothing can hide a person)."""

    def __init__(self, occ_depth: np.ndarray) -> None:
        self.occ_depth = occ_depth

    def paint(self, img: np.ndarray, people: People | None, items: list[Item] | None, static: np.ndarray) -> None:
        """Fill every person's shapes and the ``items`` into ``img`` (canvas coordinates), far to near;
        ``static`` is the frame's static image (occluders are restored from it)."""
        if items:
            for it in items:
                for cmd in it.floor:
                    cmd.draw(img)
        if people is None:
            for it in items or ():
                self._draw_item(img, it, static)
            return
        if people.extras is None and not items and raster_backend() == "numba":
            self._draw_batched(img, people, static)
        else:
            self._draw_each(img, people, items, static)

    def _draw_item(self, img: np.ndarray, it: Item, static: np.ndarray) -> None:
        for cmd in it.cmds:
            cmd.draw(img)
        if it.behind:
            restore_static(img, static, self.occ_depth, ((it.restore, it.depth - it.margin_m),))

    def _draw_each(self, img: np.ndarray, g: People, items: list[Item] | None, static: np.ndarray) -> None:
        """One OpenCV call per polygon: extra shapes per person, items between people."""
        import cv2

        fill = cv2.fillConvexPoly
        s = SHIFT
        occ = self.occ_depth
        P = g.polys
        cols = g.colours.tolist()
        for sh, c in zip(list(P[:, OUTLINES[SHADOW]]), cols):
            fill(img, sh, c[SHADOW], 8, s)
        outlines = [list(P[:, OUTLINES[part]]) for part in _BODY_PARTS]
        rows = zip(*outlines, cols, g.show_face.tolist(), g.behind.tolist(), g.restore.tolist(),
                   (g.depth if g.occ_depth is None else g.occ_depth).tolist())
        extras = g.extras if g.extras is not None else [None] * len(cols)
        slot_of: dict[int, list[Item]] = {}
        if items:
            # people are sorted far to near: an item goes before the first person nearer than it
            neg = -g.depth
            for it in items:
                slot_of.setdefault(int(np.searchsorted(neg, -it.depth, side="left")), []).append(it)
        for i, (lf, af, ln, to, an, hair, skin, c, face, behind, roi, depth) in enumerate(rows):
            for it in slot_of.get(i, ()):
                self._draw_item(img, it, static)
            ex = extras[i]
            if ex is not None:
                for cmd in ex[BEHIND_BODY]:
                    cmd.draw(img)
            fill(img, lf, c[FAR_LEG], 8, s)
            fill(img, af, c[FAR_ARM], 8, s)
            fill(img, ln, c[NEAR_LEG], 8, s)
            fill(img, to, c[TORSO], 8, s)
            if ex is not None:
                for cmd in ex[OVER_TORSO]:
                    cmd.draw(img)
            fill(img, an, c[NEAR_ARM], 8, s)
            fill(img, hair, c[HAIR], 8, s)
            if face:
                fill(img, skin, c[FACE], 8, s)
            if ex is not None:
                for cmd in ex[OVER_BODY]:
                    cmd.draw(img)
            if behind:
                # paint back the static pixels (pillars, barriers, walls) that stand in front
                restore_static(img, static, occ, ((roi, depth - OCCLUSION_MARGIN_M),))
        for it in slot_of.get(len(cols), ()):
            self._draw_item(img, it, static)

    def _draw_batched(self, img: np.ndarray, g: People, static: np.ndarray) -> None:
        """The plain people pass with one compiled fill per run of people.

        Same polygons, colours and order as :meth:`_draw_each`, so the same pixels: the shadows
        in one call, then the bodies in batches. A person a static occluder may stand in front
        of gets its occluded pixels restored (from ``static``) before the first nearer person whose
        body can reach them is drawn: a batch ends there, and a restore is put off until the end
        of its batch. Putting it off changes no pixel: the people drawn in between fill nothing
        inside its box, and restores write the static image, so their order does not matter.
        """
        m = len(g.polys)
        P = g.polys
        cols = g.colours.astype(np.uint8)
        fill_convex_polys(img, np.ascontiguousarray(P[:, OUTLINES[SHADOW]]), np.full(m, 8), cols[:, SHADOW],
                          shift=SHIFT)
        n_parts = len(_BODY_PARTS)
        body = np.zeros((m, n_parts, _MAX_NV, 2), np.int32)
        for j, part in enumerate(_BODY_PARTS):
            body[:, j, :_BODY_NV[j]] = P[:, OUTLINES[part]]
        body = body.reshape(-1, _MAX_NV, 2)
        nv = np.tile(_BODY_NV, m)
        bcol = np.ascontiguousarray(cols[:, FAR_LEG:]).reshape(-1, 3)
        on = np.ones((m, n_parts), bool)
        on[:, n_parts - 1] = g.show_face
        on = on.reshape(-1)
        occ = self.occ_depth
        depth = g.depth if g.occ_depth is None else g.occ_depth
        hidden = np.flatnonzero(g.behind)
        roi = g.restore[hidden]
        keep = (roi[:, 2] > roi[:, 0]) & (roi[:, 3] > roi[:, 1])  # an empty box restores nothing
        hidden, roi = hidden[keep], roi[keep]
        first = _first_reaching(g.body_px, hidden, roi, m)
        thresholds = (depth[hidden] - OCCLUSION_MARGIN_M).tolist()
        pending: list[tuple[tuple[int, int, int, int], float]] = []
        start, limit = 0, m
        # the arrays above are built valid (C-contiguous int32 outlines, int64 counts, uint8 colours,
        # bool flags): the batches go to the compiled kernel directly, without the public function's
        # checks (about 15 µs a call, against 1 µs for the kernel's own call)
        fill = compiled_kernel() if img.flags.c_contiguous else None
        if fill is None:
            fill = fill_convex_polys

        def flush(stop: int) -> None:
            span = slice(n_parts * start, n_parts * stop)
            fill(img, body[span], nv[span], bcol[span], SHIFT, on[span])
            restore_static(img, static, occ, pending)
            pending.clear()

        for i, stop_before, box, thr in zip(hidden.tolist(), first.tolist(), roi.tolist(), thresholds):
            if i >= limit:
                flush(limit)
                start, limit = limit, m
            pending.append((box, thr))
            limit = min(limit, stop_before)
        if pending:
            flush(limit)
            start = limit
        if start < m:
            flush(m)


def _first_reaching(body_px: np.ndarray | None, hidden: np.ndarray, roi: np.ndarray, m: int) -> np.ndarray:
    """Per restore (person ``hidden``, box ``roi``), the first nearer person whose body box meets
    its box (m if none); without bounds, the next person."""
    if not len(hidden) or body_px is None:
        return hidden + 1  # no bounds: restore right after each person
    bp = np.ascontiguousarray(body_px.T)  # (4, m) int32
    r32 = roi.astype(np.int32)
    meets = np.less(bp[0][None, :], r32[:, 2:3])
    meets &= np.greater_equal(bp[2][None, :], r32[:, 0:1])
    meets &= np.less(bp[1][None, :], r32[:, 3:4])
    meets &= np.greater_equal(bp[3][None, :], r32[:, 1:2])
    meets &= np.arange(m, dtype=np.int32)[None, :] > hidden.astype(np.int32)[:, None]
    return np.where(meets.any(axis=1), meets.argmax(axis=1), m)
