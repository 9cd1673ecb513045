"""Background subtraction that holds under lighting changes, with a long-term/short-term pair.

:class:`BackgroundModel` keeps two colour background images at the working resolution,
after Porikli, Ivanov and Haga, "Robust abandoned object detection using dual foregrounds"
(EURASIP JASP 2008):

- the **long-term** background ``B_L`` learns slowly (a thing that stops is absorbed after
  about 1.6 x ``long_s``); its foreground ``F_L`` holds everything that entered the scene,
  moving or not (slow drifts of the light are followed by the gain map, not by learning);
- the **short-term** background ``B_S`` learns everything at once with time constant
  ``short_s``; its foreground ``F_S`` holds what moves.

``F_L & ~F_S`` is the *static foreground*: what entered and stopped (a bag set down, a
person standing still, or the *ghost* left where something that was part of the
background went away). Ghosts are told from present objects by where the edges are
(along a present object's outline in the frame, along a ghost's in the long-term
background) and healed: ``B_L`` takes ``B_S`` there (:meth:`BackgroundModel.heal_ghosts`).

Colour. The model works in YCrCb: a pixel is foreground when its luma ``Y`` leaves the
range the background explains (below), or when its chroma ``(Cr, Cb)`` differs from the
background's by more than ``chroma_threshold`` (a green shirt on a grey floor of the same
brightness is foreground). Under a lighting gain ``g`` both luma and chroma offsets scale
by ``g``, so the chroma test compares ``C - 128`` with ``g (C_bg - 128)``.

Lighting. A flickering light, a light going out, a train's headlights change the
brightness of large parts of the image at once; a plain per-pixel model turns them into
foreground. Before the test each frame is compared with the background under a *gain
map*: the ratio frame / background is measured on a coarse grid of blocks (16 x 9 by
default) as the median over each block of the pixels that were background in the
previous frame (masked pixels count as the block's previous gain, so a crowd covering a
block does not pull its gain), and a pixel is foreground only when no gain of its own or
of a neighbouring block explains it: ``f < g_min B - T`` or ``f > g_max B + T`` in any
channel, ``g_min`` and ``g_max`` the extreme gains of the 3 x 3 neighbouring blocks. A sharp
lighting boundary inside a block (the edge of the region a lamp lit) is then explained
by the block beside it. People change a block's median only where they cover more than
half of the block's background pixels, which the masking prevents.

Shadows. A cast shadow darkens the floor by a factor and keeps its colour; a pixel whose
luma ratio ``k`` to the (gain-corrected) background lies in ``shadow_ratio`` and whose chroma
offsets are within ``shadow_chroma`` of ``k`` times the background's is a shadow, not
foreground (the test of MOG2's shadow detection, Prati et al. 2003). Without it a
person's shadow lengthens the silhouette and moves the foot point toward the light, and
outdoor shadows double the count of pedestrians.

Threshold: ``T = max(min_threshold, k_sigma * sigma)`` grey levels, ``sigma`` the sensor
noise measured every frame as the robust spread (1.4826 x median absolute deviation) of
background pixels' residuals.

All per-pixel work is OpenCV on float32 images of the working size (about 0.6 ms at
320x180 on one core, against 1.7 ms for ``cv2.BackgroundSubtractorMOG2`` on grey).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)


class BackgroundModel:
    """Long-term/short-term colour background pair with lighting compensation and shadow removal.

    Parameters (keyword-only after ``work_size`` and ``fps``):

    - ``long_s`` [s]: time constant of the long-term background where the frame is
      foreground (a still object stays foreground for about 1.6 x ``long_s``);
    - ``long_bg_s`` [s]: its time constant where the frame is background (default ``long_s``: a
      faster rate there eats a standing person from its low-contrast edges inwards);
    - ``short_s`` [s]: time constant of the short-term background (everything);
    - ``warmup_frames``: frames averaged into both backgrounds before they learn at their rates;
    - ``min_threshold`` [grey levels], ``k_sigma``: the foreground threshold ``T``;
    - ``gain_blocks`` (columns, rows): the lighting gain grid;
    - ``shadow_ratio`` (low, high): brightness ratio of a shadow to the background;
      ``shadow_chroma``: largest chromaticity change of a shadow (0 disables shadow removal);
    - ``compiled``: test the pixels in one compiled pass (:mod:`detectors.background_kernel`, the
      same masks) when numba is there; False for the OpenCV path.
    """

    def __init__(self, work_size: tuple[int, int], fps: float, *, long_s: float = 60.0, long_bg_s: float | None = None,
                 short_s: float = 4.0, warmup_frames: int = 15, min_threshold: float = 12.0, k_sigma: float = 4.0,
                 chroma_threshold: float = 10.0, gain_blocks: tuple[int, int] = (16, 9),
                 shadow_ratio: tuple[float, float] = (0.45, 0.92), shadow_chroma: float = 5.0,
                 compiled: bool = True) -> None:
        long_bg_s = long_s if long_bg_s is None else long_bg_s
        for name, value in (("long_s", long_s), ("long_bg_s", long_bg_s), ("short_s", short_s), ("fps", fps),
                            ("min_threshold", min_threshold), ("k_sigma", k_sigma),
                            ("chroma_threshold", chroma_threshold)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"BackgroundModel.{name} must be a finite number > 0; got {value!r}")
        if not 0 < shadow_ratio[0] < shadow_ratio[1] <= 1:
            raise ValueError(f"BackgroundModel.shadow_ratio must be (low, high) with 0 < low < high <= 1; "
                             f"got {shadow_ratio!r}")
        self.work_size = (int(work_size[0]), int(work_size[1]))
        self.fps = float(fps)
        self.alpha_long = 1.0 - math.exp(-1.0 / (long_s * fps))  #: [1/frame] long-term rate under foreground
        self.alpha_long_bg = 1.0 - math.exp(-1.0 / (long_bg_s * fps))  #: [1/frame] long-term rate elsewhere
        self.alpha_short = 1.0 - math.exp(-1.0 / (short_s * fps))  #: [1/frame] short-term rate
        self.warmup_frames = max(1, int(warmup_frames))
        self.min_threshold = float(min_threshold)
        self.k_sigma = float(k_sigma)
        self.chroma_threshold = float(chroma_threshold)
        self.shadow_ratio = (float(shadow_ratio[0]), float(shadow_ratio[1]))
        self.shadow_chroma = float(shadow_chroma)
        w, h = self.work_size
        bx, by = max(1, int(gain_blocks[0])), max(1, int(gain_blocks[1]))
        self.gain_blocks = (bx, by)
        # the ratio is measured at 5 x 5 samples per block (each the mean of a patch of pixels)
        self._sample_size = (bx * 5, by * 5)
        self.frames_seen = 0
        self.sigma = 3.0  #: [grey levels] sensor noise measured on the last frame
        self.threshold = max(self.min_threshold, self.k_sigma * self.sigma)  #: [grey levels] T of the last frame
        self.global_gain = 1.0  #: median gain of the last frame (1 = the background's lighting)
        self._y: np.ndarray | None = None  # (h, w) float32 long-term luma
        self._cr: np.ndarray | None = None  # (h, w) float32 long-term Cr - 128
        self._cb: np.ndarray | None = None  # (h, w) float32 long-term Cb - 128
        self._ys: np.ndarray | None = None  # (h, w) float32 short-term luma
        self._crs: np.ndarray | None = None  # (h, w) float32 short-term chroma offsets
        self._cbs: np.ndarray | None = None
        self._warm: list[np.ndarray] = []
        self._block_gain = np.ones((by, bx), np.float32)
        self._prev_fg = np.zeros((h, w), np.uint8)
        self._gain_map = np.ones((h, w), np.float32)
        # the block of each pixel row and column, as INTER_NEAREST resizing picks it (for the compiled test)
        self._block_row = cv2.resize(np.arange(by, dtype=np.float32)[:, None], (1, h),
                                     interpolation=cv2.INTER_NEAREST)[:, 0].astype(np.intp)
        self._block_col = cv2.resize(np.arange(bx, dtype=np.float32)[None, :], (w, 1),
                                     interpolation=cv2.INTER_NEAREST)[0].astype(np.intp)
        self._cur: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        #: (h, w, 3) uint8 the last frame in YCrCb (for the people finder's clothes colours)
        self.last_ycc: np.ndarray | None = None
        self.compiled = bool(compiled)  #: the per-pixel test runs compiled (when numba is there)
        if self.compiled:  # compiled (or loaded from numba's cache) now, not on a stream's first frames
            from detectors.background_kernel import compiled_kernel

            compiled_kernel()

    # --- per frame -------------------------------------------------------------------------

    def apply(self, small_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Feed one working-size BGR uint8 frame; return ``(fg_long, fg_short)`` uint8 {0, 255} masks
        (before any morphology). The first ``warmup_frames`` frames build both backgrounds as their
        per-pixel median (people walking through leave no trace) and give no foreground."""
        h, w = small_bgr.shape[:2]
        ycc = cv2.cvtColor(small_bgr, cv2.COLOR_BGR2YCrCb)
        self.last_ycc = ycc
        if self._y is None:
            self._warm.append(ycc)
            self.frames_seen = len(self._warm)
            if len(self._warm) >= self.warmup_frames:
                self._start(np.median(np.stack(self._warm), axis=0).astype(np.float32))
            empty = np.zeros((h, w), np.uint8)
            return empty, empty
        self.frames_seen += 1
        kernel = None
        if self.compiled:
            from detectors.background_kernel import compiled_kernel

            kernel = compiled_kernel()
        if kernel is None:
            y, cr, cb, fg_long, fg_short = self._test_opencv(ycc)
        else:
            y8, cr8, cb8 = cv2.split(ycc)
            y = y8.astype(np.float32)
            gmin, gmax = self._gains(y)
            cr = np.empty((h, w), np.float32)
            cb = np.empty((h, w), np.float32)
            fg_long = np.empty((h, w), np.uint8)
            fg_short = np.empty((h, w), np.uint8)
            f32 = np.float32
            kernel(y, cr8, cb8, self._y, self._cr, self._cb, self._ys, self._crs, self._cbs, gmin, gmax, self._block_row,
                   self._block_col, self._gain_map,
                   f32(self.threshold), f32(self.chroma_threshold), f32(self.shadow_ratio[0]),
                   f32(self.shadow_ratio[1]), f32(self.shadow_chroma), cr, cb, fg_long, fg_short)
            self._cur = (y, cr, cb)
        self._update(y, cr, cb, fg_long)
        if self.frames_seen % 5 == 0:
            self._measure_noise(y, fg_long)
        self._prev_fg = fg_long
        return fg_long, fg_short

    def _test_opencv(self, ycc: np.ndarray):
        """The per-pixel test with OpenCV and numpy (the reference of the compiled kernel):
        ``(y, cr, cb, fg_long, fg_short)``."""
        y8, cr8, cb8 = cv2.split(ycc)
        y = y8.astype(np.float32)
        cr = cr8.astype(np.float32) - 128.0
        cb = cb8.astype(np.float32) - 128.0
        self._cur = (y, cr, cb)
        gmin, gmax = self._gain_range(*self._gains(y))
        t = self.threshold
        lo = cv2.subtract(cv2.multiply(self._y, gmin), t)
        hi = cv2.add(cv2.multiply(self._y, gmax), t)
        fg_long = cv2.bitwise_not(cv2.inRange(y, lo, hi))
        g = self._gain_map
        tc = self.chroma_threshold
        dcr = cv2.absdiff(cr, cv2.multiply(self._cr, g))
        dcb = cv2.absdiff(cb, cv2.multiply(self._cb, g))
        chroma = cv2.threshold(cv2.max(dcr, dcb), tc, 255, cv2.THRESH_BINARY)[1].astype(np.uint8)
        fg_long = cv2.bitwise_or(fg_long, chroma)
        if self.shadow_chroma > 0:
            self._remove_shadows(fg_long, y, cr, cb)
        lo = cv2.subtract(cv2.multiply(self._ys, gmin), t)
        hi = cv2.add(cv2.multiply(self._ys, gmax), t)
        dcr = cv2.absdiff(cr, cv2.multiply(self._crs, g))
        dcb = cv2.absdiff(cb, cv2.multiply(self._cbs, g))
        chroma_s = cv2.threshold(cv2.max(dcr, dcb), tc, 255, cv2.THRESH_BINARY)[1].astype(np.uint8)
        fg_short = cv2.bitwise_or(cv2.bitwise_not(cv2.inRange(y, lo, hi)), chroma_s)
        return y, cr, cb, fg_long, fg_short

    def _start(self, median_ycc: np.ndarray) -> None:
        self._y = np.ascontiguousarray(median_ycc[..., 0])
        self._cr = np.ascontiguousarray(median_ycc[..., 1]) - 128.0
        self._cb = np.ascontiguousarray(median_ycc[..., 2]) - 128.0
        self._ys = self._y.copy()
        self._crs = self._cr.copy()
        self._cbs = self._cb.copy()
        self._warm = []

    def _gains(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The block gains of this frame: sets :attr:`gain_map` (each pixel's own gain, interpolated) and
        returns the (by, bx) least and greatest gains of each block's 3 x 3 neighbourhood (see the
        module docstring; :meth:`_gain_range` makes them per-pixel bounds)."""
        bx, by = self.gain_blocks
        sw, sh = self._sample_size
        fs = cv2.resize(y, (sw, sh), interpolation=cv2.INTER_AREA)
        bs = cv2.resize(self._y, (sw, sh), interpolation=cv2.INTER_AREA)
        masked = cv2.resize(self._prev_fg, (sw, sh), interpolation=cv2.INTER_AREA) > 64
        ratio = (fs + 1.0) / (bs + 1.0)
        prior = np.repeat(np.repeat(self._block_gain, 5, axis=0), 5, axis=1)
        dark = bs < 8.0  # a black background pixel says nothing about the light
        ratio = np.where(masked | dark, prior, ratio)
        blocks = ratio.reshape(by, 5, bx, 5).transpose(0, 2, 1, 3).reshape(by, bx, 25)
        # the median of 25 values is the 13th smallest (np.median's own result, without its overhead)
        gain = np.partition(blocks, 12, axis=2)[..., 12].astype(np.float32)
        self.global_gain = _median(gain)
        self._block_gain = gain
        kernel = np.ones((3, 3), np.uint8)
        gmin = cv2.erode(gain, kernel, borderType=cv2.BORDER_REPLICATE)
        gmax = cv2.dilate(gain, kernel, borderType=cv2.BORDER_REPLICATE)
        size = self.work_size
        # the pixel's own block gain, smoothly interpolated, bounds the range on both sides
        own = cv2.resize(gain, size, interpolation=cv2.INTER_LINEAR)
        self._gain_map = own
        return gmin, gmax

    def _gain_range(self, gmin: np.ndarray, gmax: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel (g_min, g_max) from the blocks' extreme neighbour gains (:meth:`_gains`) and the
        pixel's own interpolated gain."""
        size = self.work_size
        own = self._gain_map
        return (np.minimum(cv2.resize(gmin, size, interpolation=cv2.INTER_NEAREST), own),
                np.maximum(cv2.resize(gmax, size, interpolation=cv2.INTER_NEAREST), own))

    def _remove_shadows(self, fg: np.ndarray, y: np.ndarray, cr: np.ndarray, cb: np.ndarray) -> None:
        """Clear shadow pixels (darker by a factor, same chromaticity) from ``fg`` in place."""
        idx = np.flatnonzero(fg)
        if len(idx) == 0:
            return
        g = self._gain_map.reshape(-1)[idx]
        k = (y.reshape(-1)[idx] + 1.0) / (g * self._y.reshape(-1)[idx] + 1.0)
        lo, hi = self.shadow_ratio
        sel = (k >= lo) & (k <= hi)
        cand, kg = idx[sel], (k * g)[sel]
        if len(cand) == 0:
            return
        dcr = np.abs(cr.reshape(-1)[cand] - kg * self._cr.reshape(-1)[cand])
        dcb = np.abs(cb.reshape(-1)[cand] - kg * self._cb.reshape(-1)[cand])
        fg.reshape(-1)[cand[np.maximum(dcr, dcb) <= self.shadow_chroma]] = 0

    def _update(self, y: np.ndarray, cr: np.ndarray, cb: np.ndarray, fg_long: np.ndarray) -> None:
        """Learn this frame into both backgrounds (in the background's lighting: divided by the gain)."""
        g = self._gain_map
        bgmask = cv2.bitwise_not(fg_long)
        comp = cv2.divide(y, g)
        cv2.accumulateWeighted(comp, self._y, self.alpha_long_bg, mask=bgmask)
        cv2.accumulateWeighted(comp, self._y, self.alpha_long, mask=fg_long)
        cv2.accumulateWeighted(comp, self._ys, self.alpha_short)
        cv2.accumulateWeighted(cv2.divide(cr, g), self._crs, self.alpha_short)
        cv2.accumulateWeighted(cv2.divide(cb, g), self._cbs, self.alpha_short)
        # chroma drifts slowly: learnt every 4th frame at the equivalent rate
        if self.frames_seen % 4 == 0:
            a_bg, a_fg = 1.0 - (1.0 - self.alpha_long_bg) ** 4, 1.0 - (1.0 - self.alpha_long) ** 4
            for plane, cur in ((self._cr, cr), (self._cb, cb)):
                c = cv2.divide(cur, g)
                cv2.accumulateWeighted(c, plane, a_bg, mask=bgmask)
                cv2.accumulateWeighted(c, plane, a_fg, mask=fg_long)

    def _measure_noise(self, y: np.ndarray, fg: np.ndarray) -> None:
        """Robust sensor noise from background residuals on a sparse grid of pixels."""
        r = (y[::3, ::3] - self._gain_map[::3, ::3] * self._y[::3, ::3])[fg[::3, ::3] == 0]
        if len(r) < 50:
            return
        mad = float(np.median(np.abs(r - np.median(r))))
        self.sigma = 0.9 * self.sigma + 0.1 * max(0.5, 1.4826 * mad)
        self.threshold = max(self.min_threshold, self.k_sigma * self.sigma)

    # --- what detectors may read ---------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.frames_seen >= self.warmup_frames

    def long_term(self) -> np.ndarray:
        """(h, w, 3) uint8 BGR the long-term background (in its own lighting)."""
        ycc = cv2.merge((self._y, self._cr + 128.0, self._cb + 128.0))
        return cv2.cvtColor(np.clip(ycc, 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2BGR)

    def long_term_grey(self) -> np.ndarray:
        """(h, w) uint8 the long-term luma times this frame's gain (in the frame's lighting)."""
        return np.clip(self._y * self._gain_map, 0, 255).astype(np.uint8)

    def short_term_grey(self) -> np.ndarray:
        """(h, w) uint8 the short-term luma times this frame's gain."""
        return np.clip(self._ys * self._gain_map, 0, 255).astype(np.uint8)

    @property
    def gain_map(self) -> np.ndarray:
        """(h, w) float32 the lighting gain of the last frame relative to the background (1 = unchanged)."""
        return self._gain_map

    def heal_ghosts(self, static: np.ndarray, *, min_area_px: int = 4, since_ready: np.ndarray | None = None,
                    since_share: float = 0.5) -> int:
        """Copy the short-term background into the long-term one over every connected region of
        ``static`` (uint8 mask, working size) that is a ghost: edges in ``B_L``, not in the frame, or
        ``since_share`` or more of its pixels set in ``since_ready`` (uint8 mask, working size: the pixels
        foreground in every frame since the warm-up ended, a *warm-up ghost*, see
        :class:`~detectors.perception.Perception`). Returns the number of regions healed."""
        if self._cur is None or not static.any():
            return 0
        from detectors.people import components_with_stats

        n, labels, stats = components_with_stats(static)
        y = self._cur[0] / np.maximum(self._gain_map, 1e-3)
        healed = 0
        h, w = static.shape
        for k in range(1, n):
            x, yy, bw, bh, area = stats[k]
            if area < min_area_px:
                continue
            x0, y0, x1, y1 = max(0, x - 2), max(0, yy - 2), min(w, x + bw + 2), min(h, yy + bh + 2)
            region = (labels[y0:y1, x0:x1] == k).astype(np.uint8)
            warm = since_ready is not None and \
                np.count_nonzero(since_ready[y0:y1, x0:x1][region > 0]) >= since_share * area
            if warm or is_ghost(y[y0:y1, x0:x1], self._y[y0:y1, x0:x1], region):
                sel = region.astype(bool)
                # luma from the short-term background (which learnt the uncovered floor), chroma from the frame
                self._y[y0:y1, x0:x1][sel] = self._ys[y0:y1, x0:x1][sel]
                self._cr[y0:y1, x0:x1][sel] = (self._cur[1] / np.maximum(self._gain_map, 1e-3))[y0:y1, x0:x1][sel]
                self._cb[y0:y1, x0:x1][sel] = (self._cur[2] / np.maximum(self._gain_map, 1e-3))[y0:y1, x0:x1][sel]
                healed += 1
        return healed


def is_ghost(frame_grey: np.ndarray, background_grey: np.ndarray, region: np.ndarray) -> bool:
    """Whether a foreground ``region`` (uint8 0/1 mask over the two grey crops) is a *ghost*:
    background uncovered by something that left rather than an object present now.

    An object present now has its edges in the current frame along the region's outline; a
    ghost has them in the background model instead. Compares the mean Sobel gradient
    magnitude of both images on a band across the outline.
    """
    band = cv2.morphologyEx(region, cv2.MORPH_GRADIENT, _CROSS) > 0
    if not band.any():
        return False
    now = _gradient(np.asarray(frame_grey, np.float32))[band].mean()
    before = _gradient(np.asarray(background_grey, np.float32))[band].mean()
    return bool(now < before)


def changed_share(frame_grey: np.ndarray, background_grey: np.ndarray, min_diff: float) -> float:
    """Share of the pixels of two grey crops that differ by more than ``min_diff`` grey levels (0 for
    empty crops). Below the foreground threshold and the shadow test: trousers about as dark as a
    shadow on the floor are cleared from the foreground but still differ from the floor."""
    if frame_grey.size == 0:
        return 0.0
    diff = cv2.absdiff(np.asarray(frame_grey, np.uint8), np.asarray(background_grey, np.uint8))
    return float(np.count_nonzero(diff > min_diff)) / diff.size


def changed_below(grey: np.ndarray, background_grey: np.ndarray, grid, x_left: float, x_right: float,
                  y_top: float, height: float, min_diff: float) -> float | None:
    """:func:`changed_share` of the working-resolution column under a box: full-resolution [px]
    columns ``x_left`` to ``x_right`` and rows ``y_top`` to ``y_top + height`` (at least one working
    row), clipped to the image; None when nothing of it lies inside. The legs of a person standing
    still show there, the floor under a bag or a lying body does not."""
    wh, ww = grey.shape[:2]
    x0, x1 = max(0, int(x_left / grid.sx)), min(ww, int(math.ceil(x_right / grid.sx)))
    y0 = int(math.ceil(y_top / grid.sy))
    y1 = min(wh, y0 + max(1, int(round(height / grid.sy))))
    if y1 <= y0 or x1 <= x0:
        return None
    return changed_share(grey[y0:y1, x0:x1], background_grey[y0:y1, x0:x1], min_diff)


def _gradient(grey: np.ndarray) -> np.ndarray:
    """|Sobel gradient| of a grey float32 image."""
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.magnitude(gx, gy)


def _median(a: np.ndarray) -> float:
    """``float(np.median(a))`` (the middle value, or ``np.mean`` of the two middle ones, in the array's dtype),
    without its dispatch: a fifth of the time on the few dozen gain blocks of a frame."""
    v = a.reshape(-1)
    n = len(v)
    if n % 2:
        return float(np.partition(v, n // 2)[n // 2])
    return float(np.partition(v, (n // 2 - 1, n // 2))[n // 2 - 1:n // 2 + 1].mean())
