"""The background model's per-pixel foreground test in one compiled pass (numba), the same masks as OpenCV's.

:meth:`detectors.background.BackgroundModel.apply` tests every working pixel against both
backgrounds: luma outside the range the lighting gains explain, chroma farther than the
threshold, shadow pixels cleared from the long-term foreground. Written with OpenCV and
numpy that is some thirty passes over float32 images of the working size, each allocating
its result; here it is one loop that reads each pixel once and writes the two masks and
the chroma planes the model learns from.

Same results, bit for bit: every operation is the float32 operation OpenCV or numpy does
(``cv2.multiply``, ``cv2.subtract`` and ``cv2.add`` of a scalar, ``cv2.absdiff`` and numpy's
comparisons with a Python float all round to float32 in the same order), with no fused
multiply-add and no reordering (numba without fastmath). ``tests/test_background.py``
checks the masks against the OpenCV path on rendered frames.

numba is imported, and the kernel compiled, when the first model is built, not at import
(importing numba alone takes half a second; compiling, 3 s on a busy 2-core machine); the compiled code is cached in ``__pycache__`` (numba's
user cache when that is read-only, or compiled in each process when nothing is writable).
Without numba :func:`compiled_kernel` returns None and the model keeps its OpenCV path.
"""

from __future__ import annotations

import importlib.util
import threading
import warnings

import numpy as np

#: whether the compiled kernel may be used (numba found at import, without importing it)
NUMBA_AVAILABLE = importlib.util.find_spec("numba") is not None
_kernel = None
_lock = threading.Lock()


def _foreground(y, cr8, cb8, b_y, b_cr, b_cb, s_y, s_cr, s_cb, gmin, gmax, block_row, block_col, gain, t, tc, shadow_lo, shadow_hi,
                shadow_chroma, cr, cb, fg_long, fg_short):  # pragma: no cover - compiled by numba
    """Per pixel of the frame (luma ``y`` float32, chroma planes ``cr8``, ``cb8`` uint8; planes, not the
    interleaved image, which the compiler cannot vectorise): luma range test against the long-term (``b_*``) and short-term (``s_*``) backgrounds
    under the gains (the least and greatest of ``gmin``/``gmax``, per gain block, found through
    ``block_row``/``block_col``, and the pixel's own ``gain``), chroma test against ``gain`` times the background chroma, shadow
    removal from the long-term mask (when ``shadow_chroma`` > 0). Writes ``cr``, ``cb`` (frame chroma
    - 128, float32) and the two uint8 {0, 255} masks. Scalars are float32."""
    h, w = gain.shape
    c128 = np.float32(128.0)
    one = np.float32(1.0)
    shadows = shadow_chroma > np.float32(0.0)
    # branch-free on purpose: the compiler vectorises it, and a busy frame costs what an empty one does
    row_lo = np.empty(w, np.float32)
    row_hi = np.empty(w, np.float32)
    for i in range(h):
        bi = block_row[i]
        for j in range(w):  # the row's block bounds first: a gather in the main loop stops its vectorisation
            row_lo[j] = gmin[bi, block_col[j]]
            row_hi[j] = gmax[bi, block_col[j]]
        for j in range(w):
            yv = y[i, j]
            crv = np.float32(cr8[i, j]) - c128
            cbv = np.float32(cb8[i, j]) - c128
            cr[i, j] = crv
            cb[i, j] = cbv
            g = gain[i, j]
            lo_g = min(row_lo[j], g)
            hi_g = max(row_hi[j], g)
            # long-term background: luma out of range, or chroma off, and not a shadow
            by = b_y[i, j]
            bcr = b_cr[i, j]
            bcb = b_cb[i, j]
            luma = ((by * lo_g - t) > yv) | (yv > (by * hi_g + t))  # not in range: the frame is finite
            chroma = (abs(crv - bcr * g) > tc) | (abs(cbv - bcb * g) > tc)
            k = (yv + one) / (g * by + one)
            kg = k * g
            shadow = shadows & (k >= shadow_lo) & (k <= shadow_hi) & (abs(crv - kg * bcr) <= shadow_chroma) \
                & (abs(cbv - kg * bcb) <= shadow_chroma)
            fg_long[i, j] = np.uint8(255) * np.uint8(luma | chroma) * (np.uint8(1) - np.uint8(shadow))
            # short-term background
            sy = s_y[i, j]
            luma = ((sy * lo_g - t) > yv) | (yv > (sy * hi_g + t))
            chroma = (abs(crv - s_cr[i, j] * g) > tc) | (abs(cbv - s_cb[i, j] * g) > tc)
            fg_short[i, j] = np.uint8(255) * np.uint8(luma | chroma)


def compiled_kernel():
    """The compiled :func:`_foreground`, made on first use; None when numba cannot be used."""
    global _kernel, NUMBA_AVAILABLE
    if _kernel is None and NUMBA_AVAILABLE:
        with _lock:
            if _kernel is None:
                try:
                    import numba
                except ImportError as exc:  # installed but broken (e.g. built for another numpy)
                    warnings.warn(f"detectors.background_kernel: numba cannot be imported ({exc}); the background "
                                  "model tests pixels with OpenCV instead", RuntimeWarning, stacklevel=3)
                    NUMBA_AVAILABLE = False
                    return None
                try:
                    kernel = numba.njit(cache=True, nogil=True, error_model="numpy")(_foreground)
                except RuntimeError:  # no writable cache directory: compile in every process
                    kernel = numba.njit(nogil=True, error_model="numpy")(_foreground)
                _first_call(kernel)
                _kernel = kernel
    return _kernel


def _first_call(kernel) -> None:
    """Compile (or load from the cache) the one signature the model calls, on a 1 x 1 image: the
    cost lands when the model is built, not on a live stream's first frame after the warm-up."""
    plane = np.zeros((1, 1), np.float32)
    byte = np.zeros((1, 1), np.uint8)
    blocks = np.ones((1, 1), np.float32)
    index = np.zeros(1, np.intp)
    s = np.float32(1.0)
    kernel(plane, byte, byte, plane, plane, plane, plane, plane, plane, blocks, blocks, index, index, plane,
           s, s, s, s, s, plane.copy(), plane.copy(), byte.copy(), byte.copy())
