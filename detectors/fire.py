"""Fire: flame-coloured pixels that stay in one place while they flicker incoherently.

Flames are warm (red ≥ green ≥ blue, red bright and well above blue, or a near-white core
next to warm pixels) and they *flicker*: from one frame to the next some of their pixels
leave the flame colour while others nearby enter it. The detector works on the shared
perception's working image (BGR, ``work_width`` of the perception) in square cells of
``cell_px`` working pixels, and per frame counts in each cell (summed over the 3 x 3 cells
around it, so a small fire that straddles cells is seen whole):

- ``warm``: flame-coloured pixels, as a moving average with time constant ``colour_s`` [s]
  (a fraction of the cell block's area): what stays warm in one place for a second or more;
- ``mixed``: ``2 min(on, off)`` where ``on`` pixels turned flame-coloured and ``off`` pixels
  stopped being so since the previous frame, as a moving average with time constant
  ``flicker_s`` [s]. A flame's pixels go on and off at once; a flickering lamp turns all its
  pixels on, then all off (``min(on, off)`` stays near 0); a red poster does not change; a
  passer-by in orange is warm in one place for a moment only, and the boxes of tracked people
  walking (``walker_mps``) are left out altogether.

Per block the evidence is ``ramp(warm; warm_lo, warm_hi) * ramp(mixed / warm; flicker_lo,
flicker_hi)``, smoothed with time constant ``evidence_s`` [s]; the frame's score is the largest
block evidence, its box the flame-coloured pixels of that block (full-resolution pixels).
Threshold 0.5 by default. One instance per region of 3 x 3 cells (key ``"cells/ROW_COL"``), so
that an alert in one place does not hold back the alert of a fire in another.

Not done: smoke (a grey, slowly growing, low-contrast region) and growth are not used; a fire
hidden behind its own smoke is not seen.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from detectors.base import NOTHING, DetectorOutput, InstanceScore
from detectors.events import EventType
from detectors.evidence import clip_box
from detectors.perception import Percept
from detectors.site import SiteConfig


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((x - lo) * (1.0 / (hi - lo)), 0.0, 1.0)


class FireDetector:
    """Flame-coloured pixels that stay put and flicker incoherently (see the module docstring).

    Parameters: ``min_red`` [grey levels] least red of a flame pixel (after a 3 x 3 mean);
    ``min_red_minus_blue`` [fraction of red] least (red - blue) / red; ``green_slack`` [grey
    levels] how far green may fall below blue (deep reds have green = blue); ``border_px``
    [working px] margin along the left, right and bottom edges left out (people stepping into
    the picture are cut by the edge and not yet tracked; a fire there is missed); ``core_grey`` [grey levels] a near-white pixel
    this bright next to flame colour is flame too; ``cell_px`` [working px] cell size;
    ``colour_s``, ``flicker_s``, ``evidence_s`` [s] time constants; ``warm_lo``, ``warm_hi``
    [fraction of a 3 x 3 cell block] and ``flicker_lo``, ``flicker_hi`` [mixed changes per frame
    per warm pixel] the two ramps; ``walker_mps`` [m/s]: the boxes of tracked people moving at
    least this fast are left out (their clothes change colour where they walk).
    """

    event_type = EventType.FIRE
    default_threshold = 0.5
    default_min_duration_s = 0.0  #: [s] the evidence's time constant filters glitches
    default_cooldown_s = 60.0  #: [s] one fire is one alert

    def __init__(self, site: SiteConfig, *, min_red: float = 160.0, min_red_minus_blue: float = 0.5,
                 core_grey: float = 225.0, border_px: int = 8, cell_px: int = 6, colour_s: float = 1.0, flicker_s: float = 0.5,
                 evidence_s: float = 0.4, warm_lo: float = 0.015, warm_hi: float = 0.06, flicker_lo: float = 0.08,
                 flicker_hi: float = 0.25, walker_mps: float = 0.3, green_slack: float = 16.0) -> None:
        for name, value in (("colour_s", colour_s), ("flicker_s", flicker_s), ("evidence_s", evidence_s),
                            ("cell_px", cell_px)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"FireDetector.{name} must be a finite number > 0; got {value!r}")
        for lo, hi, name in ((warm_lo, warm_hi, "warm"), (flicker_lo, flicker_hi, "flicker")):
            if not 0 <= lo < hi:
                raise ValueError(f"FireDetector: need 0 <= {name}_lo < {name}_hi; got {lo!r} and {hi!r}")
        self.site = site
        self.min_red, self.min_red_minus_blue, self.core_grey = float(min_red), float(min_red_minus_blue), \
            float(core_grey)
        self.cell_px = int(cell_px)
        self.colour_s, self.flicker_s, self.evidence_s = float(colour_s), float(flicker_s), float(evidence_s)
        self.warm_lo, self.warm_hi = float(warm_lo), float(warm_hi)
        self.flicker_lo, self.flicker_hi = float(flicker_lo), float(flicker_hi)
        self.walker_mps = float(walker_mps)
        self.green_slack = float(green_slack)
        self.border_px = int(border_px)
        self.reset()

    def reset(self) -> None:
        self._t: float | None = None
        self._prev: np.ndarray | None = None
        self._warm: np.ndarray | None = None
        self._mixed: np.ndarray | None = None
        self._evidence: np.ndarray | None = None

    def flame_mask(self, bgr: np.ndarray) -> np.ndarray:
        """(h, w) bool: flame-coloured pixels of a BGR image."""
        # a 3 x 3 mean first: sensor noise on a red poster whose green equals its blue must not
        # toggle pixels in and out of the flame colour
        b, g, r = (c.astype(np.int16) for c in cv2.split(cv2.blur(bgr, (3, 3))))
        warm = (r >= self.min_red) & (r >= g) & (g + self.green_slack >= b) & \
            ((r - b) >= self.min_red_minus_blue * r)
        grey = (r * 299 + g * 587 + b * 114) // 1000
        core = (grey >= self.core_grey) & (r >= g) & (g >= b)
        if core.any():
            near = cv2.dilate(warm.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            warm |= core & near
        return warm

    def score(self, percept: Percept) -> DetectorOutput:
        if not percept.ready:
            self.reset()
            return NOTHING
        small = percept.small
        warm = self.flame_mask(small)
        g = percept.grid
        tr = percept.tracks
        walking = (tr.lost_s == 0) & (tr.speed_mps >= self.walker_mps)  # tentative tracks too
        for x, y, bw, bh in tr.box[walking]:
            # a passer-by in orange is warm where they walk, and changes there: not a flame
            x0, y0 = max(0, int(x / g.sx)), max(0, int(y / g.sy))
            warm[y0:int(math.ceil((y + bh) / g.sy)), x0:int(math.ceil((x + bw) / g.sx))] = False
        if self.border_px > 0:
            # people who step into the picture are cut by its edge and not yet tracked
            k = self.border_px
            warm[:, :k] = warm[:, -k:] = warm[-k:, :] = False
        c = self.cell_px
        h, w = warm.shape
        ch, cw = max(1, h // c), max(1, w // c)
        H, W = ch * c, cw * c
        t = percept.t
        if self._prev is None or self._prev.shape != warm.shape:
            self._t, self._prev, self._t0 = t, warm, t
            self._warm = np.zeros((ch, cw), np.float32)
            self._mixed = np.zeros((ch, cw), np.float32)
            self._evidence = np.zeros((ch, cw), np.float32)
            return NOTHING
        dt = max(t - self._t, 1e-6)
        on = (warm & ~self._prev)[:H, :W]
        off = (self._prev & ~warm)[:H, :W]
        self._t, self._prev = t, warm
        area = float(9 * c * c)

        def blocks(mask: np.ndarray) -> np.ndarray:
            # cell means by area resampling (exact for whole cells), summed over 3 x 3 cells
            cells = cv2.resize(mask.view(np.uint8).astype(np.float32), (cw, ch), interpolation=cv2.INTER_AREA)
            return cv2.boxFilter(cells, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT) * (c * c / area)

        warm_now = blocks(warm[:H, :W])
        mixed_now = 2.0 * np.minimum(blocks(on), blocks(off))
        self._warm += (1.0 - math.exp(-dt / self.colour_s)) * (warm_now - self._warm)
        self._mixed += (1.0 - math.exp(-dt / self.flicker_s)) * (mixed_now - self._mixed)
        rate = self._mixed / np.maximum(self._warm, 1e-3)
        e = _ramp(self._warm, self.warm_lo, self.warm_hi) * _ramp(rate, self.flicker_lo, self.flicker_hi)
        if t - self._t0 < self.colour_s:
            e[:] = 0.0  # the averages are still filling, and the tracker has not yet found the walkers
        self._evidence += (1.0 - math.exp(-dt / self.evidence_s)) * (e - self._evidence)
        # one instance per region of 3 x 3 cells (the block a fire grows in), its best block's evidence:
        # a false alarm in one place must not silence the gate of a fire elsewhere
        ev = self._evidence
        out = []
        for cy, cx in zip(*np.nonzero(ev > 0.02)):
            key = f"cells/{cy // 3}_{cx // 3}"
            out.append((key, float(ev[cy, cx]), int(cy), int(cx)))
        best: dict[str, tuple] = {}
        for key, s, cy, cx in out:
            if key not in best or s > best[key][0]:
                best[key] = (s, cy, cx)
        instances = []
        for key, (s, cy, cx) in best.items():
            y0, x0 = max(0, cy - 1) * c, max(0, cx - 1) * c
            y1, x1 = min(ch, cy + 2) * c, min(cw, cx + 2) * c
            ys, xs = np.nonzero(warm[y0:y1, x0:x1])
            if len(ys):
                y0, y1, x0, x1 = y0 + ys.min(), y0 + ys.max() + 1, x0 + xs.min(), x0 + xs.max() + 1
            box = clip_box((x0 * g.sx, y0 * g.sy, (x1 - x0) * g.sx, (y1 - y0) * g.sy), self.site.image_size)
            instances.append(InstanceScore(key, min(1.0, s), box))
        return DetectorOutput.of(instances)
