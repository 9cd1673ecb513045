"""Fill many convex polygons in one call, in painter's order, pixel for pixel like ``cv2.fillConvexPoly``.

A crowd frame is thousands of small convex polygons (limbs, torsos, heads, shadows). One
``cv2.fillConvexPoly`` call costs about 1 µs whatever its size, so a frame of 500 people
spends most of its drawing time crossing from Python into OpenCV. :func:`fill_convex_polys`
takes every polygon of a frame as arrays and fills them in one compiled loop (numba),
polygon 0 first, so that a later polygon covers an earlier one: about 0.3 µs per
person-sized polygon (benchmarks/bench_raster.py). :func:`fill_convex_polys_ids` writes
an owner id per pixel into an int32 buffer the same way, for visibility counts.

The kernel repeats OpenCV's own integer arithmetic for ``lineType=8`` (``FillConvexPoly``
in ``imgproc/drawing.cpp``): the outline edge by edge (``Line2``, 16 fractional bits, or
Bresenham's ``Line`` when ``shift`` is 0, both clipped as ``clipLine`` does), then one
span per row between a left and a right edge stepped in 16-bit fixed point. So each
polygon gets the pixels of ``cv2.fillConvexPoly(img, pts, colour, 8, shift)``
(``tests/test_raster.py`` checks equality on random polygons, shifts 0 to 16, degenerate
and clipped ones included). One deliberate difference in cost, none in pixels: rows above
the image are skipped in one step where OpenCV walks them one by one.

numba is imported, and the kernel compiled, on the first call, not at import (importing
numba alone takes about half a second). The compiled code is cached next to this file in
``__pycache__`` (or in numba's user cache when that directory is read-only; where no
cache directory is writable, each process compiles it again). Without numba the same
functions loop over ``cv2.fillConvexPoly``: the same pixels at about 1 µs per polygon.

Coordinates are fixed point: a vertex ``(X, Y)`` is the pixel position
``(X / 2**shift, Y / 2**shift)``, pixel centres at integers (OpenCV's convention).
"""

from __future__ import annotations

import importlib.util
import threading
import warnings

import numpy as np

__all__ = ["MAX_SHIFT", "RasterError", "fill_convex_polys", "fill_convex_polys_ids", "raster_backend"]

MAX_SHIFT = 16  #: largest ``shift`` OpenCV accepts (its internal fixed point has 16 fractional bits)

_XY_SHIFT = 16
_XY_ONE = 1 << _XY_SHIFT
_XY_HALF = _XY_ONE >> 1
# The kernel divides integers in double precision and truncates, which gives C's integer
# quotient whenever the dividend is below 2**53: the rounding error of a / b is then under
# 1 / b, the least distance from a fraction a / b to an integer. int32 vertices (at most
# 2**47 with 16 fractional bits) and images of at most 2**20 px a side keep every dividend
# below 2**52 (and a double division is several times faster than an int64 one).
_MAX_SIDE_PX = 1 << 20  #: [px] largest image side accepted

#: whether the numba kernel may be used (found at import without importing numba; tests turn it off)
_NUMBA_ENABLED = importlib.util.find_spec("numba") is not None
_kernel = None  # the compiled kernel, made on first use
_kernel_lock = threading.Lock()


class RasterError(ValueError):
    """Arrays that do not describe a batch of polygons for an image."""


# --- the kernel (plain Python here; compiled by numba on first use) ----------------------------
#
# The kernel follows OpenCV's FillConvexPoly, Line2, Line (LineIterator) and clipLine step
# for step, with C's truncating integer division and the same order of updates, so that
# the pixels are the same. It is one function on purpose: numba compiles each jitted
# function on its own and calls it through a pointer, which per pixel or per row costs
# more than the work (a version split into helpers ran 1.4 times slower). Coordinates are
# int64. A pixel is written as ``c0`` (one channel) or ``c0, c1, c2``.


def _clip_line(width, height, x1, y1, x2, y2):
    """OpenCV's ``clipLine`` on a ``width`` x ``height`` rectangle: (inside, x1, y1, x2, y2)."""
    right = width - 1
    bottom = height - 1
    if width <= 0 or height <= 0:
        return False, x1, y1, x2, y2
    c1 = (1 if x1 < 0 else 0) + (2 if x1 > right else 0) + (4 if y1 < 0 else 0) + (8 if y1 > bottom else 0)
    c2 = (1 if x2 < 0 else 0) + (2 if x2 > right else 0) + (4 if y2 < 0 else 0) + (8 if y2 > bottom else 0)
    if (c1 & c2) == 0 and (c1 | c2) != 0:
        if c1 & 12:
            a = 0 if c1 < 8 else bottom
            x1 += np.int64(float(a - y1) * float(x2 - x1) / float(y2 - y1))
            y1 = a
            c1 = (1 if x1 < 0 else 0) + (2 if x1 > right else 0)
        if c2 & 12:
            a = 0 if c2 < 8 else bottom
            x2 += np.int64(float(a - y2) * float(x2 - x1) / float(y2 - y1))
            y2 = a
            c2 = (1 if x2 < 0 else 0) + (2 if x2 > right else 0)
        if (c1 & c2) == 0 and (c1 | c2) != 0:
            if c1:
                a = 0 if c1 == 1 else right
                y1 += np.int64(float(a - x1) * float(y2 - y1) / float(x2 - x1))
                x1 = a
                c1 = 0
            if c2:
                a = 0 if c2 == 1 else right
                y2 += np.int64(float(a - x2) * float(y2 - y1) / float(x2 - x1))
                x2 = a
                c2 = 0
    return (c1 | c2) == 0, x1, y1, x2, y2


def _line8(img, c0, c1, c2, x1, y1, x2, y2):
    """OpenCV's ``Line`` with 8-connectivity (``LineIterator``, left to right) between integer points."""
    height, width, nch = img.shape
    if not (0 <= x1 < width and 0 <= x2 < width and 0 <= y1 < height and 0 <= y2 < height):
        inside, x1, y1, x2, y2 = _clip_line(np.int64(width), np.int64(height), x1, y1, x2, y2)
        if not inside:
            return
    dx = x2 - x1
    dy = y2 - y1
    if dx < 0:
        dx = -dx
        dy = -dy
        x1, x2 = x2, x1
        y1, y2 = y2, y1
    step_y = 1
    if dy < 0:
        dy = -dy
        step_y = -1
    vertical = dy > dx
    if vertical:
        dx, dy = dy, dx
    err = dx - (dy + dy)
    plus_delta = dx + dx
    minus_delta = -(dy + dy)
    x, y = x1, y1
    for _ in range(dx + 1):
        if 0 <= x < width and 0 <= y < height:
            img[y, x, 0] = c0
            if nch == 3:
                img[y, x, 1] = c1
                img[y, x, 2] = c2
        minor = err < 0
        err += minus_delta + (plus_delta if minor else 0)
        if vertical:
            y += step_y
            if minor:
                x += 1
        else:
            x += 1
            if minor:
                y += step_y


# Long on purpose: the outline's steps and the scan-line fill stay in this one compiled
# function (see the note above: a call per pixel or per row costs more than the work)
def _fill_kernel(img, polys, n_vertices, values, shift, enabled):
    """Fill polygon k of ``polys`` with ``values[k]`` for k = 0 .. K-1 where ``enabled[k]``.

    ``img`` is (H, W, C) with C = 3 (``values`` (K, 3)) or C = 1 (``values`` (K, 1)).
    Per polygon: OpenCV's outline (``Line2``, or ``Line`` when ``shift`` is 0), then its
    scan-line fill.
    """
    height, width, nch = img.shape
    up = _XY_SHIFT - shift
    delta = (1 << shift) >> 1
    width16 = np.int64(width) << _XY_SHIFT
    height16 = np.int64(height) << _XY_SHIFT
    for k in range(polys.shape[0]):
        npts = n_vertices[k]
        if not enabled[k] or npts <= 0:
            continue
        c0 = values[k, 0]
        c1 = values[k, 1 if nch == 3 else 0]
        c2 = values[k, 2 if nch == 3 else 0]
        xmin = xmax = np.int64(polys[k, 0, 0])
        ymin = ymax = np.int64(polys[k, 0, 1])
        imin = 0
        for i in range(1, npts):
            px = np.int64(polys[k, i, 0])
            py = np.int64(polys[k, i, 1])
            if py < ymin:
                ymin = py
                imin = i
            ymax = max(ymax, py)
            xmax = max(xmax, px)
            xmin = min(xmin, px)

        # -- the outline (OpenCV draws it first; on shallow edges it reaches beyond the spans).
        # When every vertex rounds to a pixel inside the image, so does every pixel of the
        # outline: no clipping and no bounds checks.
        checked = not ((xmin << up) >= 0 and (ymin << up) >= 0
                       and (xmax << up) < width16 - _XY_HALF and (ymax << up) < height16 - _XY_HALF)
        p0x = np.int64(polys[k, npts - 1, 0])
        p0y = np.int64(polys[k, npts - 1, 1])
        for i in range(npts):
            px = np.int64(polys[k, i, 0])
            py = np.int64(polys[k, i, 1])
            if shift == 0:
                _line8(img, c0, c1, c2, p0x, p0y, px, py)
                p0x = px
                p0y = py
                continue
            x1 = p0x << up
            y1 = p0y << up
            x2 = px << up
            y2 = py << up
            p0x = px
            p0y = py
            if checked:
                inside, x1, y1, x2, y2 = _clip_line(width16, height16, x1, y1, x2, y2)
                if not inside:
                    continue
            # Line2
            dx = x2 - x1
            dy = y2 - y1
            ax = -dx if dx < 0 else dx
            ay = -dy if dy < 0 else dy
            shallow = ax > ay
            if shallow:
                if dx < 0:
                    dy = -dy
                    x1, x2 = x2, x1
                    y1, y2 = y2, y1
                ecount = (x2 - x1) >> _XY_SHIFT
                step = np.int64(float(dy * _XY_ONE) / float(ax | 1))  # C's division (see the note at the top)
            else:
                if dy < 0:
                    dx = -dx
                    x1, x2 = x2, x1
                    y1, y2 = y2, y1
                ecount = (y2 - y1) >> _XY_SHIFT
                step = np.int64(float(dx * _XY_ONE) / float(ay | 1))
            x = (x2 + _XY_HALF) >> _XY_SHIFT
            y = (y2 + _XY_HALF) >> _XY_SHIFT
            if not checked or (0 <= x < width and 0 <= y < height):
                img[y, x, 0] = c0
                if nch == 3:
                    img[y, x, 1] = c1
                    img[y, x, 2] = c2
            if shallow:
                x = (x1 + _XY_HALF) >> _XY_SHIFT
                yf = y1 + _XY_HALF
                for _ in range(ecount + 1):
                    y = yf >> _XY_SHIFT
                    if not checked or (0 <= x < width and 0 <= y < height):
                        img[y, x, 0] = c0
                        if nch == 3:
                            img[y, x, 1] = c1
                            img[y, x, 2] = c2
                    x += 1
                    yf += step
            else:
                y = (y1 + _XY_HALF) >> _XY_SHIFT
                xf = x1 + _XY_HALF
                for _ in range(ecount + 1):
                    x = xf >> _XY_SHIFT
                    if not checked or (0 <= x < width and 0 <= y < height):
                        img[y, x, 0] = c0
                        if nch == 3:
                            img[y, x, 1] = c1
                            img[y, x, 2] = c2
                    xf += step
                    y += 1

        # -- the scan-line fill
        xmin = (xmin + delta) >> shift
        xmax = (xmax + delta) >> shift
        ymin = (ymin + delta) >> shift
        ymax = (ymax + delta) >> shift
        if npts < 3 or xmax < 0 or ymax < 0 or xmin >= width or ymin >= height:
            continue
        ymax = min(ymax, np.int64(height - 1))
        # two edges walked down from the top vertex, one each way round ("a" forward, "b" back);
        # ``edges`` counts the edges left to both walks, as in OpenCV
        idx_a = idx_b = imin
        ye_a = ye_b = ymin
        x_a = x_b = np.int64(-_XY_ONE)
        dx_a = dx_b = np.int64(0)
        edges = npts
        y = ymin
        while True:
            for side in range(2):
                if side == 0:
                    if y < ye_a:
                        continue
                    idx0 = idx_a
                    di = 1
                else:
                    if y < ye_b:
                        continue
                    idx0 = idx_b
                    di = npts - 1
                idx = idx0 + di
                if idx >= npts:
                    idx -= npts
                while True:
                    more = edges > 0
                    edges -= 1
                    if not more:
                        break
                    ty = (np.int64(polys[k, idx, 1]) + delta) >> shift
                    if ty > y:
                        xs = np.int64(polys[k, idx0, 0]) << up
                        xe = np.int64(polys[k, idx, 0]) << up
                        step = np.int64(float((xe - xs) * 2 + (ty - y)) / float(2 * (ty - y)))
                        if side == 0:
                            ye_a, x_a, dx_a, idx_a = ty, xs, step, idx
                        else:
                            ye_b, x_b, dx_b, idx_b = ty, xs, step, idx
                        break
                    idx0 = idx
                    idx += di
                    if idx >= npts:
                        idx -= npts
            if edges < 0:
                break
            if y >= 0:
                x_lo = (min(x_a, x_b) + _XY_HALF) >> _XY_SHIFT
                x_hi = (max(x_a, x_b) + _XY_HALF) >> _XY_SHIFT
                if x_hi >= 0 and x_lo < width:
                    x_lo = max(x_lo, np.int64(0))
                    x_hi = min(x_hi, np.int64(width - 1))
                    # unsigned column indices: no negative-index wrap-around in the innermost loop
                    row = img[y]
                    if nch == 3:
                        for x in range(np.uint64(x_lo), np.uint64(x_hi + 1)):
                            row[x, 0] = c0
                            row[x, 1] = c1
                            row[x, 2] = c2
                    else:
                        for x in range(np.uint64(x_lo), np.uint64(x_hi + 1)):
                            row[x, 0] = c0
                rows = np.int64(1)
            else:
                # rows above the image: jump to the next row that draws or starts an edge (OpenCV
                # steps through them one by one; the edges' x end up the same)
                rows = min(ye_a, ye_b, np.int64(0), ymax + 1) - y
            x_a += dx_a * rows
            x_b += dx_b * rows
            y += rows
            if y > ymax:
                break


#: compiled callees first, so that a caller compiled later calls the compiled version
_JIT_ORDER = ("_clip_line", "_line8", "_fill_kernel")


def _jit(numba, fn):
    options = {"nogil": True, "error_model": "numpy"}  # no zero-division checks: every divisor is positive
    try:
        return numba.njit(cache=True, **options)(fn)
    except RuntimeError:  # no writable cache directory anywhere (read-only install): compile in every process
        return numba.njit(**options)(fn)


def compiled_kernel():
    """The numba kernel, made on first use; None when numba cannot be imported.

    It takes the arrays :func:`fill_convex_polys` checks, unchecked: for callers whose
    inputs are valid by construction (the renderer's hot loop), where the checks would cost
    more than the fills.

    numba compiles it on its first call for each array type (3 to 6 s for the BGR image and
    2 to 4 s for the id buffer on a busy 2-core machine) or loads it from the cache (about
    0.4 s, most of it importing numba).
    """
    global _kernel, _NUMBA_ENABLED
    if _kernel is None:
        with _kernel_lock:
            if _kernel is None:
                try:
                    import numba
                except ImportError as exc:  # installed but broken (e.g. built for another numpy)
                    warnings.warn(f"sim.render.raster: numba cannot be imported ({exc}); polygons are filled by "
                                  "cv2.fillConvexPoly calls instead", RuntimeWarning, stacklevel=3)
                    _NUMBA_ENABLED = False
                    return None
                namespace = globals()
                for name in _JIT_ORDER:
                    namespace[name] = _jit(numba, namespace[name])
                _kernel = namespace["_fill_kernel"]
    return _kernel


def raster_backend() -> str:
    """``"numba"`` when the compiled kernel fills the polygons, ``"opencv"`` for the ``cv2.fillConvexPoly`` loop."""
    return "numba" if _NUMBA_ENABLED else "opencv"


# --- public API ----------------------------------------------------------------------------------


def _as_int_array(a, name: str, dtype, shape: tuple | None = None) -> np.ndarray:
    """``a`` as an array of ``dtype``, from any integer array whose values fit it."""
    a = np.asarray(a)
    if shape is not None and a.shape != shape:
        raise RasterError(f"{name} must have shape {shape}, got {a.shape}")
    if a.dtype == dtype:
        return np.ascontiguousarray(a)  # one compiled variant of the kernel: C-contiguous inputs
    if a.dtype.kind not in "iu":
        raise RasterError(f"{name} must be an integer array ({np.dtype(dtype).name}), got dtype {a.dtype}")
    info = np.iinfo(dtype)
    if a.size and (int(a.min()) < info.min or int(a.max()) > info.max):
        raise RasterError(f"{name} must lie in [{info.min}, {info.max}] ({np.dtype(dtype).name}), "
                          f"got values in [{int(a.min())}, {int(a.max())}]")
    return a.astype(dtype)


def _check_batch(image, image_name: str, polys, n_vertices, shift, enabled):
    """Validate the image and the per-polygon arrays; returns polys (int32), n_vertices (int64), enabled, shift."""
    if not image.flags.writeable:
        raise RasterError(f"{image_name} must be writable, got a read-only array")
    if max(image.shape[:2]) > _MAX_SIDE_PX:
        raise RasterError(f"{image_name} sides must be at most {_MAX_SIDE_PX} px, got {image.shape[:2]}")
    polys = np.asarray(polys)
    if polys.ndim != 3 or polys.shape[2] != 2:
        raise RasterError(f"polys must have shape (K, V, 2), got {polys.shape}")
    polys = _as_int_array(polys, "polys", np.int32)
    k, v = polys.shape[0], polys.shape[1]
    if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or not 0 <= int(shift) <= MAX_SHIFT:
        raise RasterError(f"shift must be an int in [0, {MAX_SHIFT}], got {shift!r}")
    n_vertices = _as_int_array(n_vertices, "n_vertices", np.int64, (k,))
    if k and (int(n_vertices.min()) < 0 or int(n_vertices.max()) > v):
        raise RasterError(f"n_vertices must lie in [0, V={v}], got values in "
                          f"[{int(n_vertices.min())}, {int(n_vertices.max())}]")
    if enabled is None:
        enabled = np.ones(k, dtype=np.bool_)
    else:
        enabled = np.asarray(enabled)
        if enabled.shape != (k,) or enabled.dtype != np.bool_:
            raise RasterError(f"enabled must be a bool array of shape ({k},), got {enabled.dtype} {enabled.shape}")
        enabled = np.ascontiguousarray(enabled)
    return polys, n_vertices, enabled, int(shift)


def fill_convex_polys(img: np.ndarray, polys: np.ndarray, n_vertices: np.ndarray, colours: np.ndarray,
                      shift: int = 8, enabled: np.ndarray | None = None) -> None:
    """Fill K convex polygons into a BGR image in place, polygon 0 first (painter's order).

    Polygon k is ``polys[k, :n_vertices[k]]``: vertices in fixed point with ``shift``
    fractional bits (pixels * 2**shift), pixel centres at integers, either winding; the
    rows of ``polys[k]`` past ``n_vertices[k]`` are ignored, and repeated vertices are
    allowed. Each polygon gets exactly the pixels of
    ``cv2.fillConvexPoly(img, polys[k, :n], colours[k], cv2.LINE_8, shift)``: its outline
    and the rows between; with fewer than 3 vertices, or no area, only the outline (a
    point or a segment); parts outside the image are clipped. One call costs about 0.3 µs
    per person-sized polygon (about 100 px; single thread, the GIL released) against
    about 1.1 µs for a loop of OpenCV calls.

    Args:
        img: (H, W, 3) uint8 image, written in place (H, W <= 2**20; a strided view is filled
            through a contiguous copy).
        polys: (K, V, 2) int32 fixed-point x, y (other integer types are converted if they fit).
        n_vertices: (K,) int, each in [0, V]; 0 draws nothing.
        colours: (K, 3) uint8 BGR (other integer types in [0, 255] are converted).
        shift: fractional bits of ``polys``, in [0, 16].
        enabled: (K,) bool; polygons with False are skipped (default: all drawn).

    Example, a red 4 x 4 px square with its top-left pixel centre at (10, 20)::

        sq = np.array([[[10, 20], [13, 20], [13, 23], [10, 23]]], np.int32) << 8
        fill_convex_polys(img, sq, np.array([4]), np.array([[0, 0, 255]], np.uint8), shift=8)
    """
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        got = f"{img.dtype} {img.shape}" if isinstance(img, np.ndarray) else type(img).__name__
        raise RasterError(f"img must be an (H, W, 3) uint8 array, got {got}")
    polys, n_vertices, enabled, shift = _check_batch(img, "img", polys, n_vertices, shift, enabled)
    colours = _as_int_array(colours, "colours", np.uint8, (len(polys), 3))
    if len(polys) == 0:
        return
    # a strided view is filled through a contiguous copy (rather than compiling the kernel once more)
    work = img if img.flags.c_contiguous else np.ascontiguousarray(img)
    kernel = compiled_kernel() if _NUMBA_ENABLED else None
    if kernel is None:
        _fill_opencv(work, polys, n_vertices, [tuple(c) for c in colours.tolist()], shift, enabled)
    else:
        kernel(work, polys, n_vertices, colours, shift, enabled)
    if work is not img:
        img[...] = work


def fill_convex_polys_ids(ids: np.ndarray, polys: np.ndarray, n_vertices: np.ndarray, owner: np.ndarray,
                          shift: int = 8, enabled: np.ndarray | None = None) -> None:
    """Write ``owner[k]`` into the pixels of polygon k of an int32 id buffer, polygon 0 first.

    The pixels are those of :func:`fill_convex_polys` (and of ``cv2.fillConvexPoly`` on an
    int32 image); afterwards each pixel holds the owner of the last polygon covering it and
    keeps its value where none does, which is what visibility counts need, for example
    ``np.bincount(ids.ravel(), minlength=n_owners + 1)`` with owners 1 .. n over a zero buffer.

    Args:
        ids: (H, W) int32 buffer, written in place.
        polys, n_vertices, shift, enabled: as for :func:`fill_convex_polys`.
        owner: (K,) int32 id per polygon (several polygons may share one).
    """
    if not isinstance(ids, np.ndarray) or ids.dtype != np.int32 or ids.ndim != 2:
        got = f"{ids.dtype} {ids.shape}" if isinstance(ids, np.ndarray) else type(ids).__name__
        raise RasterError(f"ids must be an (H, W) int32 array, got {got}")
    polys, n_vertices, enabled, shift = _check_batch(ids, "ids", polys, n_vertices, shift, enabled)
    owner = _as_int_array(owner, "owner", np.int32, (len(polys),))
    if len(polys) == 0:
        return
    work = ids if ids.flags.c_contiguous else np.ascontiguousarray(ids)
    kernel = compiled_kernel() if _NUMBA_ENABLED else None
    if kernel is None:
        _fill_opencv(work, polys, n_vertices, owner.tolist(), shift, enabled)
    else:
        kernel(work[:, :, None], polys, n_vertices, owner[:, None], shift, enabled)
    if work is not ids:
        ids[...] = work


def _fill_opencv(img, polys, n_vertices, values, shift, enabled) -> None:
    """The fallback: one ``cv2.fillConvexPoly`` per polygon (about 1 µs each)."""
    import cv2

    fill = cv2.fillConvexPoly
    for pts, n, value, on in zip(polys, n_vertices.tolist(), values, enabled.tolist()):
        if on and n > 0:
            fill(img, pts[:n], value, 8, shift)
