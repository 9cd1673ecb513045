"""Fire: bright, flame-coloured pixels that stay in one place while they flicker incoherently.

Flames are warm (red >= green >= blue, red bright and well above blue, or a near-white core
next to warm pixels), they give light (a *hot* core: red saturated, blue and green raised
towards white, beside warm pixels: flames saturate the sensor, a shirt, a scarf or a poster of
the same hue is matte and darker), and they *flicker*: from one frame to the next some of their
pixels leave the flame colour while others nearby enter it. The detector works on the shared
perception's working image (BGR, ``work_width`` of the perception) in square cells of
``cell_px`` working pixels, and per frame counts in each cell (summed over the 3 x 3 cells
around it, so a small fire that straddles cells is seen whole):

- ``warm``: flame-coloured pixels, as a moving average with time constant ``colour_s`` [s]
  (a fraction of the cell block's area): what stays warm in one place for a second or more;
- ``hot``: hot-core pixels, averaged the same way;
- ``mixed``: ``2 min(on, off)`` where ``on`` pixels turned flame-coloured and ``off`` pixels
  stopped being so since the previous frame, as a moving average with time constant
  ``flicker_s`` [s]. A flame's pixels go on and off at once; a flickering lamp turns all its
  pixels on, then all off (``min(on, off)`` stays near 0); a red poster does not change; a
  passer-by in orange is warm in one place for a moment only, and the boxes of tracked people
  walking (``walker_mps``, their net displacement over the last ``walker_window_s``) are left out
  altogether. Firelight on the floor and smoke make blobs that the people finder may take for
  people: their filtered speed jitters with the flicker, but they stay where the fire is, so they
  are not walkers and the flames under their boxes still count (with the filtered speed alone,
  such boxes cut the flames out and delayed the alert by up to 4 s on the tuning seeds). Inside a
  walker's box only their clothes are left out: where the hot-core average had already reached
  ``hot_lo`` (a glow that was there before they came), the hot-core pixels and the warm pixels
  within 2 working pixels of one stay (``walker_keeps_hot``; clothes are matte, and a bright yellow
  shirt that looks hot is cut out of every frame, so it never builds such an average up). People
  fleeing a fire walk past it, and cutting their whole boxes out hid the young flames.
  A light face is hot-core coloured too (BGR about (170, 200, 246): red near saturation, blue raised):
  beside a red shirt, in a slow queue whose people are not walkers, it passed for a flame's core (a
  false alarm in the ten minutes of ``rush_hour_quiet`` at a retired held-out seed). The top ``head_share`` of the box of every tracked
  person standing upright (the box at least ``head_ratio`` of an adult's height at its foot point) is
  therefore no hot core, walking or not: a flame's core is low in its flames, and the blob of a flame
  taken for a person keeps the hot pixels below its top.

Per block the evidence is ``ramp(warm; warm_lo, warm_hi) * ramp(mixed / warm; flicker_lo,
flicker_hi) * ramp(hot; hot_lo, hot_hi)``, times ``1 - drifting`` (below), smoothed with time
constant ``evidence_s`` [s]; the
frame's score is the largest block evidence. Threshold 0.5 by default. The blocks with evidence
form connected groups, and a group joins the fire whose cells it touches (within ``site_cells``
cells): one instance per fire (key ``"fire/N"``), however it grows, its box the flame-coloured
pixels of its cells (full-resolution pixels); a fire whose evidence has been gone for
``forget_s`` is forgotten.

A crowd walking through the picture is the one thing left that looks like this: in a dense stream
the tracker's boxes are merged blobs that neither cut out the walkers nor their heads, a light face
(BGR about (176, 192, 250)) beside a yellow shirt is a hot core beside warm colour, and the stream's
edges turn pixels on and off (two false alarms in the corridor of ``station_full`` and
``rush_hour_quiet`` at retired held-out seeds). Colour cannot tell them apart: the real house fire's hot
pixels are as pink (red - green 63 to 93 grey levels) as that face. Their motion can: flames flicker
in place, a face and a shirt move on. While some block has a hot core (its hot average at ``hot_lo``),
the optical flow of the frame (:meth:`~detectors.perception.Percept.flow`, computed then only) is
averaged over the warm pixels of each block with time constant ``colour_s``: the net flow (the length of the mean vector), its
*coherence* (net flow over mean speed: about 0.99 for that crowd, 0.1 to 0.3 over the real fire, under
0.5 over the rendered ones while they are young) and its speed (net flow per warm pixel, [working px/s]:
about 10 for that crowd, under 1.5 for the young rendered fires). ``drifting = ramp(coherence;
coherence_lo, coherence_hi) * ramp(speed; drift_lo, drift_hi)``. Both are ratios of two averages
started together; they restart when no block has a hot core, and a block's evidence needs its hot
core averaged for a while first, so they hold a second or so of motion by the time it has any.

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
from detectors.flame import EMISSIVE_MIN_BLUE, EMISSIVE_MIN_RED, EMISSIVE_MIN_WARMTH, emissive_mask, warm_mask
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
    least this fast are left out (their clothes change colour where they walk), the speed being
    their net displacement over the last ``walker_window_s`` [s] (a blob of firelight taken for a
    person jitters in place: it is not walking); ``walker_keeps_hot``: inside those boxes, in blocks whose
    hot-core average already reached ``hot_lo``, the hot-core pixels and the warm pixels within 2 working px
    of one are kept (False: the whole box is left out); ``hot_red``,
    ``hot_blue`` [grey levels] least red and least blue of a hot-core pixel, ``hot_warmth`` [grey
    levels] least red - blue of one; ``hot_lo``, ``hot_hi`` [fraction of a 3 x 3 cell block] the
    hot ramp; ``site_cells`` [cells] how far apart two groups of cells may be and still be one fire;
    ``forget_s`` [s] a fire unseen this long is forgotten (its next evidence is a new instance);
    ``head_share`` [fraction of a box's height] and ``head_ratio`` [fraction of an adult's image height
    at the foot point]: the top ``head_share`` of the box of a tracked person at least ``head_ratio``
    tall holds a head, whose light skin is not a hot core (0: no box is cut); ``coherence_lo``,
    ``coherence_hi`` [ratio of the warm pixels' net flow to their mean speed] and ``drift_lo``, ``drift_hi``
    [working px per second of net flow] the ramps of ``drifting``: flame colour moving on as a whole is a
    crowd walking, not a fire (``drift_hi`` 0: not looked at, and no flow taken).
    """

    event_type = EventType.FIRE
    default_threshold = 0.5
    default_min_duration_s = 0.0  #: [s] the evidence's time constant filters glitches
    default_cooldown_s = 60.0  #: [s] one fire is one alert

    def __init__(self, site: SiteConfig, *, min_red: float = 160.0, min_red_minus_blue: float = 0.5,
                 core_grey: float = 225.0, border_px: int = 8, cell_px: int = 6, colour_s: float = 1.0, flicker_s: float = 0.5,
                 evidence_s: float = 0.4, warm_lo: float = 0.015, warm_hi: float = 0.06, flicker_lo: float = 0.03,
                 flicker_hi: float = 0.12, walker_mps: float = 0.3, green_slack: float = 16.0,
                 hot_red: float = EMISSIVE_MIN_RED, hot_blue: float = EMISSIVE_MIN_BLUE,
                 hot_warmth: float = EMISSIVE_MIN_WARMTH, hot_lo: float = 0.005,
                 hot_hi: float = 0.02,
                 site_cells: int = 6,
                 forget_s: float = 5.0, walker_window_s: float = 1.0, walker_keeps_hot: bool = True,
                 head_share: float = 0.25, head_ratio: float = 0.7, coherence_lo: float = 0.7,
                 coherence_hi: float = 0.9, drift_lo: float = 2.0, drift_hi: float = 4.0) -> None:
        for name, value in (("colour_s", colour_s), ("flicker_s", flicker_s), ("evidence_s", evidence_s),
                            ("cell_px", cell_px)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"FireDetector.{name} must be a finite number > 0; got {value!r}")
        for lo, hi, name in ((warm_lo, warm_hi, "warm"), (flicker_lo, flicker_hi, "flicker"), (hot_lo, hot_hi, "hot")):
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
        if not (math.isfinite(walker_window_s) and walker_window_s > 0):
            raise ValueError(f"FireDetector.walker_window_s must be a finite number > 0 s; got {walker_window_s!r}")
        self.walker_window_s = float(walker_window_s)
        self.walker_keeps_hot = bool(walker_keeps_hot)
        self.green_slack = float(green_slack)
        self.border_px = int(border_px)
        self.hot_lo, self.hot_hi = float(hot_lo), float(hot_hi)
        self.hot_red, self.hot_blue, self.hot_warmth = float(hot_red), float(hot_blue), float(hot_warmth)
        if int(site_cells) < 1:
            raise ValueError(f"FireDetector.site_cells must be an integer >= 1; got {site_cells!r}")
        self.site_cells = int(site_cells)
        self.forget_s = float(forget_s)
        for name, value in (("head_share", head_share), ("head_ratio", head_ratio)):
            if not (math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"FireDetector.{name} must be a number in [0, 1]; got {value!r}")
        self.head_share, self.head_ratio = float(head_share), float(head_ratio)
        if not (math.isfinite(coherence_hi) and 0 <= coherence_lo < coherence_hi):
            raise ValueError(f"FireDetector: need 0 <= coherence_lo < coherence_hi; got {coherence_lo!r} and "
                             f"{coherence_hi!r}")
        if not (drift_hi == 0 or (math.isfinite(drift_hi) and 0 <= drift_lo < drift_hi)):
            raise ValueError(f"FireDetector: need 0 <= drift_lo < drift_hi [working px/s] (drift_hi 0: off); got "
                             f"{drift_lo!r} and {drift_hi!r}")
        self.coherence_lo, self.coherence_hi = float(coherence_lo), float(coherence_hi)
        self.drift_lo, self.drift_hi = float(drift_lo), float(drift_hi)
        self.reset()

    def reset(self) -> None:
        self._t: float | None = None
        self._prev: np.ndarray | None = None
        self._warm: np.ndarray | None = None
        self._mixed: np.ndarray | None = None
        self._evidence: np.ndarray | None = None
        self._hot: np.ndarray | None = None
        #: (4, ch, cw) averages over the warm pixels of each block: flow x, flow y [working px/s], speed, and
        #: the warm pixels themselves; None while no block has evidence
        self._flow_sums: np.ndarray | None = None
        #: True while the last mask and every cell average are exactly zero: a frame without flame colour then
        #: leaves them zero and scores nothing, and is answered without the cell passes (the same outputs)
        self._calm = False
        #: fire id -> ((first row, end row, first column, end column) of its cells, last time seen)
        self._fires: dict[int, tuple[tuple[int, int, int, int], float]] = {}
        self._next_id = 0

    def flame_mask(self, bgr: np.ndarray) -> np.ndarray:
        """(h, w) bool: flame-coloured pixels of a BGR image."""
        return self.flame_masks(bgr)[0]

    def flame_masks(self, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(h, w) bool each: flame-coloured pixels, and the *hot* ones among them (a near-white or
        pale-yellow core next to warm colour: flames give light and saturate the sensor, a shirt,
        a poster or a lamp panel of the same hue is matte and darker)."""
        # a 3 x 3 mean first: sensor noise on a red poster whose green equals its blue must not
        # toggle pixels in and out of the flame colour
        blurred = cv2.blur(bgr, (3, 3))
        warm = warm_mask(blurred, min_red=self.min_red, min_red_minus_blue=self.min_red_minus_blue,
                         green_slack=self.green_slack)
        hot = emissive_mask(blurred, min_red=self.hot_red, min_blue=self.hot_blue, min_warmth=self.hot_warmth)
        if hot.any():
            near = cv2.dilate(warm.view(np.uint8), np.ones((5, 5), np.uint8)) > 0
            hot &= near
            ys, xs = np.nonzero(hot)
            b, g, r = (blurred[ys, xs, k].astype(np.int32) for k in range(3))  # int16 overflows r * 299
            warm[ys, xs] |= (r * 299 + g * 587 + b * 114) // 1000 >= self.core_grey
        return warm, hot

    def score(self, percept: Percept) -> DetectorOutput:
        if not percept.ready:
            self.reset()
            return NOTHING
        small = percept.small
        warm, hot = self.flame_masks(small)
        g = percept.grid
        tr = percept.tracks
        if self._calm and self._prev.shape == warm.shape and not warm.any() and not hot.any():
            # no flame colour now nor before: every average stays 0 and no cell has evidence (what the passes
            # below would compute, exactly), so the walkers' boxes need not be cut out either
            self._t, self._prev = percept.t, warm
            self._forget(percept.t)
            return NOTHING
        walking = self._walking(percept) if warm.any() or hot.any() else np.zeros(len(tr), bool)
        if walking.any():
            # a passer-by in orange is warm where they walk, and changes there: not a flame; but a flame
            # seen beside or through a passer-by's box still is (its core gives light: clothes do not)
            glow = None
            if self.walker_keeps_hot and self._hot is not None and hot.any():
                # a glow that was there before: blocks whose hot-core average already reached hot_lo (a
                # bright yellow shirt walking by, cut out of every frame, never builds one up)
                c = self.cell_px
                steady = (self._hot >= self.hot_lo).astype(np.uint8)
                steady_px = np.zeros(hot.shape, bool)
                ch, cw = steady.shape
                steady_px[:ch * c, :cw * c] = np.kron(steady, np.ones((c, c), np.uint8)) > 0
                glow = (cv2.dilate(hot.view(np.uint8), np.ones((5, 5), np.uint8)) > 0) & steady_px
            for x, y, bw, bh in tr.box[walking]:
                x0, y0 = max(0, int(x / g.sx)), max(0, int(y / g.sy))
                rows, cols = slice(y0, int(math.ceil((y + bh) / g.sy))), slice(x0, int(math.ceil((x + bw) / g.sx)))
                if glow is None:
                    warm[rows, cols] = hot[rows, cols] = False
                else:
                    warm[rows, cols] &= glow[rows, cols]
                    hot[rows, cols] &= glow[rows, cols]
        if self.head_share > 0 and hot.any():
            # the head of a person standing upright, walking or not: light skin is hot-core coloured
            up = (tr.lost_s == 0) & (tr.box[:, 3] >= self.head_ratio * tr.expected_height_px)
            for x, y, bw, bh in tr.box[up]:
                x0, y0 = max(0, int(x / g.sx)), max(0, int(y / g.sy))
                y1, x1 = int(math.ceil((y + self.head_share * bh) / g.sy)), int(math.ceil((x + bw) / g.sx))
                hot[y0:y1, x0:x1] = False
        if self.border_px > 0:
            # people who step into the picture are cut by its edge and not yet tracked
            k = self.border_px
            warm[:, :k] = warm[:, -k:] = warm[-k:, :] = hot[:, :k] = hot[:, -k:] = hot[-k:, :] = False
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
            self._hot = np.zeros((ch, cw), np.float32)
            self._calm = not warm.any()
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
        self._hot += (1.0 - math.exp(-dt / self.colour_s)) * (blocks(hot[:H, :W]) - self._hot)
        rate = self._mixed / np.maximum(self._warm, 1e-3)
        e = _ramp(self._warm, self.warm_lo, self.warm_hi) * _ramp(rate, self.flicker_lo, self.flicker_hi) * \
            _ramp(self._hot, self.hot_lo, self.hot_hi)
        if self.drift_hi > 0 and (self._hot >= self.hot_lo).any():
            # flame colour moving on as a whole (a crowd walking) is no fire: the flow, as soon as some block
            # may come to have evidence (there is a hot core), so that its averages hold a second by then
            e *= 1.0 - self._drifting(percept, warm[:H, :W], dt, (ch, cw))
        else:
            self._flow_sums = None
        if t - self._t0 < self.colour_s:
            e[:] = 0.0  # the averages are still filling, and the tracker has not yet found the walkers
        self._evidence += (1.0 - math.exp(-dt / self.evidence_s)) * (e - self._evidence)
        # one instance per fire: the cells with evidence, in connected groups, each group joined to the
        # fire whose cells it touches (grown by ``site_cells``), so that a fire that grows, or whose
        # tongues split into groups, stays one instance, and a false alarm in one place does not
        # silence the gate of a fire elsewhere
        ev = self._evidence
        self._calm = not (warm.any() or self._warm.any() or self._mixed.any() or self._hot.any() or ev.any())
        on_cells = (ev > 0.02).astype(np.uint8)
        if not on_cells.any():
            self._forget(t)
            return NOTHING
        n, labels = cv2.connectedComponents(on_cells, connectivity=8)
        best: dict[int, tuple[float, list]] = {}  # fire id -> (score, [r0, r1, c0, c1] of its cells)
        m = self.site_cells
        for k in range(1, n):
            ys, xs = np.nonzero(labels == k)
            s = float(ev[ys, xs].max())
            cells = [int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1]
            # the fire this group belongs to: one whose cells, grown by ``site_cells``, it touches
            fid = next((f for f, (r, _) in self._fires.items()
                        if r[0] - m < cells[1] and cells[0] < r[1] + m and r[2] - m < cells[3] and cells[2] < r[3] + m),
                       None)
            if fid is None:
                fid, self._next_id = self._next_id, self._next_id + 1
            if fid in best:  # a second group of the same fire: one instance, both groups' cells
                s0, c0 = best[fid]
                s, cells = max(s, s0), [min(cells[0], c0[0]), max(cells[1], c0[1]), min(cells[2], c0[2]),
                                        max(cells[3], c0[3])]
            best[fid] = (s, cells)
        instances = []
        for fid, (s, (r0, r1, c0, c1)) in best.items():
            self._fires[fid] = ((r0, r1, c0, c1), t)
            # the group's cells and their 3 x 3 blocks (where its evidence was summed)
            y0, x0 = max(0, r0 - 1) * c, max(0, c0 - 1) * c
            y1, x1 = min(ch, r1 + 1) * c, min(cw, c1 + 1) * c
            ys, xs = np.nonzero(warm[y0:y1, x0:x1])
            if len(ys):
                y0, y1, x0, x1 = y0 + ys.min(), y0 + ys.max() + 1, x0 + xs.min(), x0 + xs.max() + 1
            box = clip_box((x0 * g.sx, y0 * g.sy, (x1 - x0) * g.sx, (y1 - y0) * g.sy), self.site.image_size)
            instances.append(InstanceScore(f"fire/{fid}", min(1.0, s), box))
        self._forget(t)
        return DetectorOutput.of(instances)

    def _drifting(self, percept: Percept, warm: np.ndarray, dt: float, cells: tuple[int, int]) -> np.ndarray:
        """(ch, cw) in [0, 1] per 3 x 3 cell block: how surely its warm pixels move on as a whole, from this
        frame's optical flow averaged over them with time constant ``colour_s``: ``ramp(coherence;
        coherence_lo, coherence_hi) * ramp(speed; drift_lo, drift_hi)`` (see the module docstring).
        ``warm`` is the flame-colour mask cut to whole cells (H, W working px)."""
        ch, cw = cells
        H, W = warm.shape
        flow = percept.flow()  # (fh, fw, 2) [flow px/s]
        wh, ww = percept.grey.shape
        fh, fw = flow.shape[:2]
        f = cv2.resize(flow, (ww, wh), interpolation=cv2.INTER_LINEAR)[:H, :W]
        fx, fy = f[..., 0] * np.float32(ww / fw), f[..., 1] * np.float32(wh / fh)  # [working px/s]
        m = warm.view(np.uint8).astype(np.float32)

        def blocks(x: np.ndarray) -> np.ndarray:
            c = cv2.resize(x, (cw, ch), interpolation=cv2.INTER_AREA)
            return cv2.boxFilter(c, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)

        now = np.stack([blocks(fx * m), blocks(fy * m), blocks(cv2.magnitude(fx, fy) * m), blocks(m)])
        if self._flow_sums is None or self._flow_sums.shape != now.shape:
            self._flow_sums = np.zeros_like(now)
        self._flow_sums += (1.0 - math.exp(-dt / self.colour_s)) * (now - self._flow_sums)
        sx, sy, speed, n = self._flow_sums
        net = np.hypot(sx, sy)
        coherence = net / np.maximum(speed, 1e-6)
        drift = net / np.maximum(n, 1e-6)
        return _ramp(coherence, self.coherence_lo, self.coherence_hi) * _ramp(drift, self.drift_lo, self.drift_hi)

    def _walking(self, percept: Percept) -> np.ndarray:
        """(N,) bool per track: a person walking by, i.e. matched in this frame and whose ground position
        moved at ``walker_mps`` or more over the last ``walker_window_s`` of its history (the net
        displacement over the time it took, or the filtered speed while the history is a single frame).
        A blob of firelight or smoke that the people finder took for a person stays where the fire is:
        its filtered speed jitters with the flicker of its outline, its net displacement does not, so
        its box is not cut out of the flames."""
        tr = percept.tracks
        walking = (tr.lost_s == 0) & (tr.speed_mps >= self.walker_mps)  # tentative tracks too
        for k in np.flatnonzero(walking):
            hist = percept.track_history(int(tr.id[k]))
            hist = hist[hist[:, 0] >= percept.t - self.walker_window_s - 1e-9]
            if len(hist) < 2:
                continue
            span_s = hist[-1, 0] - hist[0, 0]
            moved_m = math.hypot(hist[-1, 1] - hist[0, 1], hist[-1, 2] - hist[0, 2])
            walking[k] = moved_m >= self.walker_mps * span_s
        return walking

    def _forget(self, t: float) -> None:
        """Drop the fires whose evidence has been gone for ``forget_s``."""
        for fid in [f for f, (_, tl) in self._fires.items() if t - tl > self.forget_s]:
            del self._fires[fid]
