"""Static occluders in front of people: who may be hidden, the pixels to paint back, and visible fractions.

The static scene keeps a depth buffer of everything that can hide a person (walls,
pillars, barriers, panels, benches). A person is drawn whole, then the static pixels nearer
than the person (by :data:`OCCLUSION_MARGIN_M`) are restored from the static image.
:class:`OcclusionScreen` finds, four lookups per person, those an occluder may stand in
front of, and the box to restore. :class:`VisibilityBuffer` counts the share of each
person's silhouette that shows, in an id buffer at a quarter of the image's resolution.
"""

from __future__ import annotations

import importlib.util
import threading

import numpy as np

#: [m] a person is hidden by a wall or pillar pixel only if that pixel is nearer than the
#: person's centre by this much (arms and legs reach this far from the centre line)
OCCLUSION_MARGIN_M = 0.3
_TILE_PX = 16  #: [px] side of the tiles that screen people for occlusion by the static scene
_BIN_M = 0.5  #: [m] depth bins of that screening
_ID_SCALE_LOG2 = 2  #: the visibility buffer has 1/4 of the image's resolution per side


def block_min(a: np.ndarray, q: int) -> np.ndarray:
    """The minimum of each ``q`` x ``q`` block of ``a`` (whose sides are multiples of ``q``): an
    elementwise minimum of strided views, many times faster than a reduction over two axes."""
    h, w = a.shape
    rows = a.reshape(h, w // q, q)
    cols = np.minimum.reduce([rows[:, :, i] for i in range(q)]) if q > 1 else rows[:, :, 0]
    blocks = cols.reshape(h // q, q, w // q)
    return np.minimum.reduce([blocks[:, i, :] for i in range(q)]) if q > 1 else blocks[:, 0, :]


def restore_static(img: np.ndarray, static: np.ndarray, occ_depth: np.ndarray, restores) -> None:
    """Paint back into ``img`` (in place), for each (box, threshold [m]) of ``restores``, the pixels of
    ``static`` inside the box (x0 y0 x1 y1, exclusive) whose occluder is nearer than the threshold;
    an empty box restores nothing."""
    import cv2

    copy_to = cv2.copyTo
    for (x0, y0, x1, y1), threshold_m in restores:
        if x1 > x0 and y1 > y0:
            mask = occ_depth[y0:y1, x0:x1] < threshold_m
            copy_to(static[y0:y1, x0:x1], mask.view(np.uint8), img[y0:y1, x0:x1])


class OcclusionScreen:
    """Which people (boxes on the canvas) a static occluder nearer than them may overlap, and where.

    Built once from the canvas's occluder depth (inf where nothing can hide a person): the
    nearest occluder depth in each 16 px tile, and per depth bin an integral image counting
    the tiles nearer than the bin's upper edge, so that "may an occluder nearer than d stand
    inside this box?" takes four lookups per person. ``origin`` (x, y) [canvas px, multiples of
    the tile] places a screen built over a patch of the canvas only (a train's layer).
    """

    def __init__(self, occ_depth: np.ndarray, origin: tuple[int, int] = (0, 0)) -> None:
        self._origin = np.array([origin[0], origin[1], origin[0], origin[1]], np.float64)
        tile = _TILE_PX
        th_, tw_ = -(-occ_depth.shape[0] // tile), -(-occ_depth.shape[1] // tile)
        pad = np.full((th_ * tile, tw_ * tile), np.inf, np.float32)
        pad[:occ_depth.shape[0], :occ_depth.shape[1]] = occ_depth
        tmin = block_min(pad, tile).astype(np.float64)
        finite = tmin[np.isfinite(tmin)]
        n_bins = int(np.ceil(finite.max() / _BIN_M)) + 2 if len(finite) else 1
        edges = np.arange(n_bins) * _BIN_M  # bin k counts tiles nearer than edges[k]
        nearer = (tmin[None, :, :] < edges[:, None, None]).astype(np.int32)
        integral = np.zeros((n_bins, th_ + 1, tw_ + 1), np.int32)
        integral[:, 1:, 1:] = nearer.cumsum(axis=1).cumsum(axis=2)
        self._integral = integral
        self._any = bool(len(finite))
        self._tile_min = tmin  # (tiles down, tiles across) [m]

    def maybe_hidden(self, boxes: np.ndarray, depth_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``boxes`` are x0 y0 x1 y1 [canvas px] at depths ``depth_m``. Returns (m,) bool and (m, 4)
        int boxes (x1, y1 exclusive): the part of each box covered by occluder tiles nearer than it.
        Conservative (it may flag a person nobody hides, never the reverse); the colour pass then
        tests the pixels."""
        m = len(boxes)
        roi = np.zeros((m, 4), np.int64)
        if not self._any or m == 0:
            return np.zeros(m, bool), roi
        if self._origin.any():
            behind, roi = self._maybe_hidden(boxes - self._origin, depth_m)
            roi[behind] += self._origin.astype(np.int64)
            return behind, roi
        return self._maybe_hidden(boxes, depth_m)

    def _maybe_hidden(self, boxes: np.ndarray, depth_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = len(boxes)
        roi = np.zeros((m, 4), np.int64)
        # screening: four lookups per person in the depth-binned integral image of tiles
        I = self._integral
        n_bins, th1, tw1 = I.shape
        tile = _TILE_PX
        x0 = np.clip(np.floor(boxes[:, 0] / tile), 0, tw1 - 1).astype(np.int64)
        y0 = np.clip(np.floor(boxes[:, 1] / tile), 0, th1 - 1).astype(np.int64)
        x1 = np.clip(np.floor(boxes[:, 2] / tile) + 1, 0, tw1 - 1).astype(np.int64)
        y1 = np.clip(np.floor(boxes[:, 3] / tile) + 1, 0, th1 - 1).astype(np.int64)
        k = np.clip(np.ceil((depth_m - OCCLUSION_MARGIN_M) / _BIN_M), 0, n_bins - 1).astype(np.int64)
        behind = (I[k, y1, x1] - I[k, y0, x1] - I[k, y1, x0] + I[k, y0, x0]) > 0
        if not behind.any():
            return behind, roi
        # the flagged few: the exact tiles under each box, for a tight repaint box
        sel = np.nonzero(behind)[0]
        b = boxes[sel]
        grid = self._tile_min  # (th, tw) [m] nearest occluder per tile, inf where none
        th, tw = grid.shape
        gx0 = np.clip(np.floor(b[:, 0] / tile), 0, tw - 1).astype(np.int64)
        gy0 = np.clip(np.floor(b[:, 1] / tile), 0, th - 1).astype(np.int64)
        gx1 = np.clip(np.floor(b[:, 2] / tile), 0, tw - 1).astype(np.int64)
        gy1 = np.clip(np.floor(b[:, 3] / tile), 0, th - 1).astype(np.int64)
        gy = gy0[:, None, None] + np.arange(int((gy1 - gy0).max()) + 1)[None, :, None]  # (k, ny, 1)
        gx = gx0[:, None, None] + np.arange(int((gx1 - gx0).max()) + 1)[None, None, :]  # (k, 1, nx)
        nearest = grid[np.minimum(gy, th - 1), np.minimum(gx, tw - 1)]
        hit = ((gy <= gy1[:, None, None]) & (gx <= gx1[:, None, None])
               & (nearest < (depth_m[sel] - OCCLUSION_MARGIN_M)[:, None, None]))
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


class CombinedScreen:
    """Several screens as one: a person is flagged where any flags it, its restore box the union."""

    def __init__(self, *screens: OcclusionScreen) -> None:
        self.screens = screens

    def maybe_hidden(self, boxes: np.ndarray, depth_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        behind, roi = self.screens[0].maybe_hidden(boxes, depth_m)
        for screen in self.screens[1:]:
            b2, r2 = screen.maybe_hidden(boxes, depth_m)
            both = behind & b2
            roi = np.where(b2[:, None] & ~behind[:, None], r2, roi)
            if both.any():
                roi[both] = np.c_[np.minimum(roi[both, :2], r2[both, :2]), np.maximum(roi[both, 2:], r2[both, 2:])]
            behind = behind | b2
        return behind, roi


def patch_screen(depth: np.ndarray, box: tuple[int, int, int, int]) -> OcclusionScreen:
    """The screen of an occluder that covers only ``box`` (x0 y0 x1 y1) of the canvas with ``depth``
    [m] (inf where it does not), built over that patch grown to whole tiles."""
    x0, y0, x1, y1 = box
    tx0, ty0 = (x0 // _TILE_PX) * _TILE_PX, (y0 // _TILE_PX) * _TILE_PX
    pad = np.full((y1 - ty0, x1 - tx0), np.inf, np.float32)
    pad[y0 - ty0:, x0 - tx0:] = depth
    return OcclusionScreen(pad, origin=(tx0, ty0))


def _union_area3(b: np.ndarray) -> np.ndarray:
    """Area of the union of three integer boxes per row: (m, 3, 4) x0 y0 x1 y1 -> (m,)."""

    def area(x0, y0, x1, y1):
        return np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)

    def inter(p, q):
        return (np.maximum(p[0], q[0]), np.maximum(p[1], q[1]), np.minimum(p[2], q[2]), np.minimum(p[3], q[3]))

    A, B, C = (tuple(b[:, k, j] for j in range(4)) for k in range(3))
    ab, ac, bc = inter(A, B), inter(A, C), inter(B, C)
    return area(*A) + area(*B) + area(*C) - area(*ab) - area(*ac) - area(*bc) + area(*inter(ab, C))


class VisibilityBuffer:
    """Share of each person's silhouette that shows in the image, from an id buffer at 1/4 resolution.

    ``occ_depth`` is the canvas's occluder depth; the image is its ``width`` x ``height`` crop at
    ``margin`` px from each side.
    """

    def __init__(self, occ_depth: np.ndarray, *, width: int, height: int, margin: int) -> None:
        q = _ID_SCALE_LOG2
        hq, wq = (height + (1 << q) - 1) >> q, (width + (1 << q) - 1) >> q
        self._shape = (hq, wq)
        # the buffer's occluder depth: the nearest occluder within each block
        pad = np.full((hq << q, wq << q), np.inf, np.float32)
        crop = occ_depth[margin:margin + height, margin:margin + width]
        pad[:crop.shape[0], :crop.shape[1]] = crop
        self._occ_depth_q = block_min(pad, 1 << q)
        self._margin, self._size = margin, (width, height)

    def updated(self, occ_depth: np.ndarray, box: tuple[int, int, int, int]) -> "VisibilityBuffer":
        """A copy whose occluder depth is ``occ_depth`` (a canvas) where it changed, inside ``box``
        (x0 y0 x1 y1, canvas px): only the blocks of the box are computed again."""
        q = _ID_SCALE_LOG2
        hq, wq = self._shape
        m = self._margin
        out = object.__new__(VisibilityBuffer)
        out._shape, out._margin, out._size = self._shape, m, self._size
        width, height = self._size
        out._occ_depth_q = self._occ_depth_q.copy()
        bx0, by0 = max((box[0] - m) >> q, 0), max((box[1] - m) >> q, 0)
        bx1, by1 = min(((box[2] - m) >> q) + 1, wq), min(((box[3] - m) >> q) + 1, hq)
        if bx1 <= bx0 or by1 <= by0:
            return out
        block = np.full(((by1 - by0) << q, (bx1 - bx0) << q), np.inf, np.float32)
        src = occ_depth[m + (by0 << q):m + min(by1 << q, height), m + (bx0 << q):m + min(bx1 << q, width)]
        block[:src.shape[0], :src.shape[1]] = src
        out._occ_depth_q[by0:by1, bx0:bx1] = block_min(block, 1 << q)
        return out

    def visible_fraction(self, parts: np.ndarray, occ_depth: np.ndarray, off: np.ndarray) -> np.ndarray:
        """Share of each person's silhouette that shows in the image, in [0, 1].

        The silhouette is the union of three boxes ``parts`` (m, 3, 4) (head, torso with arms,
        legs, canvas px, drawing order; ``off`` the image's offset in the canvas). They are
        painted far to near into the id buffer, with pillars, barriers, walls and panels
        nearer than ``occ_depth`` restored as in the colour pass; a person's share is the count
        of its ids left over the area of its boxes' union (unclipped, computed exactly).
        A compiled pixel loop per box (:func:`compiled_counts`) where numba imports, else
        vectorised: every box pixel at once, the nearest unhidden person winning each pixel;
        the counts are integers, the same either way.
        """
        q = float(1 << _ID_SCALE_LOG2)
        hq, wq = self._shape
        # quarter-resolution integer boxes, x0 y0 x1 y1 exclusive: (m, 3, 4)
        bq = np.rint((parts - off[None, None, :]) / q).astype(np.int64)
        bq[..., 2:] = np.maximum(bq[..., 2:], bq[..., :2] + 1)
        kernel = compiled_counts() if _NUMBA_ENABLED else None
        if kernel is not None:
            thr = np.ascontiguousarray(occ_depth - OCCLUSION_MARGIN_M, dtype=np.float64)
            counts, total = kernel(np.ascontiguousarray(bq), thr, self._occ_depth_q)
            return np.minimum(1.0, counts / np.maximum(total, 1))
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
        shown = self._occ_depth_q.ravel()[flat] >= (occ_depth - OCCLUSION_MARGIN_M)[owner - 1]
        ids = np.zeros(hq * wq, np.int64)
        np.maximum.at(ids, flat[shown], owner[shown])
        counts = np.bincount(ids, minlength=m + 1)[1:m + 1]
        return np.minimum(1.0, counts / np.maximum(total, 1))


# --- the compiled id buffer ---------------------------------------------------------------------
# The same counts as the vectorised path of VisibilityBuffer.visible_fraction (integers: exactly
# the same), without its per-pixel index arrays: a pixel loop per box.

_NUMBA_ENABLED = importlib.util.find_spec("numba") is not None
_counts = None  # the compiled kernel, made on first use
_counts_lock = threading.Lock()


def _visible_counts(bq, thr, occ_q):
    """Per person: pixels of its three boxes ``bq`` (m, 3, 4) left in the id buffer over ``occ_q``
    (where the occluder depth is at least its threshold ``thr``, nearer people winning), and the
    area of the boxes' union (unclipped). Returns (counts, totals), int64 (m,) each."""
    hq, wq = occ_q.shape
    m = bq.shape[0]
    ids = np.zeros((hq, wq), np.int64)
    total = np.zeros(m, np.int64)
    for p in range(m):
        a = bq[p, 0]
        b = bq[p, 1]
        c = bq[p, 2]
        area = 0
        for k in range(7):  # inclusion-exclusion over A, B, C, AB, AC, BC, ABC
            x0, y0, x1, y1 = -(1 << 62), -(1 << 62), 1 << 62, 1 << 62
            sign = 1
            members = (1, 2, 4, 3, 5, 6, 7)[k]
            if members & 1:
                x0, y0, x1, y1 = max(x0, a[0]), max(y0, a[1]), min(x1, a[2]), min(y1, a[3])
            if members & 2:
                x0, y0, x1, y1 = max(x0, b[0]), max(y0, b[1]), min(x1, b[2]), min(y1, b[3])
            if members & 4:
                x0, y0, x1, y1 = max(x0, c[0]), max(y0, c[1]), min(x1, c[2]), min(y1, c[3])
            if k >= 3 and k < 6:
                sign = -1
            area += sign * max(x1 - x0, 0) * max(y1 - y0, 0)
        total[p] = area
        t = thr[p]
        for k in range(3):
            x0 = min(max(bq[p, k, 0], 0), wq)
            y0 = min(max(bq[p, k, 1], 0), hq)
            x1 = min(max(bq[p, k, 2], 0), wq)
            y1 = min(max(bq[p, k, 3], 0), hq)
            for y in range(y0, y1):
                for x in range(x0, x1):
                    if occ_q[y, x] >= t:
                        ids[y, x] = p + 1  # people come far to near: the nearest unhidden one wins
    counts = np.zeros(m + 1, np.int64)
    for y in range(hq):
        for x in range(wq):
            counts[ids[y, x]] += 1
    return counts[1:], total


def compiled_counts():
    """The numba kernel of :meth:`VisibilityBuffer.visible_fraction`, made on first use (cached on
    disk as the raster's); None when numba cannot be imported (the vectorised path runs instead)."""
    global _counts, _NUMBA_ENABLED
    if _counts is None:
        with _counts_lock:
            if _counts is None:
                try:
                    import numba
                except ImportError:
                    _NUMBA_ENABLED = False
                    return None
                from sim.render.raster import _jit

                _counts = _jit(numba, _visible_counts)
    return _counts
