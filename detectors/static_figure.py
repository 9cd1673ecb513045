"""The tests that tell a static component of :mod:`detectors.abandoned` from a person or a ghost.

Each is a method of :class:`StaticFigureTests`, a mixin of
:class:`~detectors.abandoned.AbandonedObjectDetector`, whose module docstring gives the rules they
implement and whose constructor documents and checks their parameters (``figure_ratio``,
``legs_*``, ``torso_*``, ``passer_share``, ``head_*``, ``shoulder_*``, ``ring_*``, ``seen_diff``,
``static_delay_s``). They read the detector's working state: ``_labels`` (this frame's static
components in the working image), ``_snapshots`` (the long-term background's history) and
``_ring_kernel``. An object ``ob`` is the detector's dict of a followed object (its image ``box``
[px], its ``region`` ``(Y0, Y1, X0, X1, label)`` in the working image, its ground point ``xy``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from detectors.background import changed_below, is_ghost
from detectors.perception import Percept


class StaticFigureTests:
    """Person-shape and ghost tests of a static component (see the module docstring)."""

    def _part_of_figure(self, fg_labels: np.ndarray, labels: np.ndarray, label: int, box: tuple,
                        fg_stats: np.ndarray | None = None) -> bool:
        """Whether static component ``label`` (box ``x0, y0, x1, y1`` working px) is a part of a larger
        foreground figure: the moving foreground it belongs to reaches ``figure_ratio`` times its
        height or width. A person standing or sitting still whose legs, torso or lying body the
        short-term background absorbed is one; a bag set down on its own is not (beside its owner it is
        attended anyway). ``fg_stats``: OpenCV's statistics of ``fg_labels`` (their boxes), when known."""
        x0, y0, x1, y1 = box
        under = fg_labels[y0:y1, x0:x1][labels[y0:y1, x0:x1] == label]
        under = under[under > 0]
        if not len(under):
            return False
        figure = np.bincount(under).argmax()
        if fg_stats is not None and figure < len(fg_stats):
            fw, fh = int(fg_stats[figure, 2]), int(fg_stats[figure, 3])
        else:
            ys, xs = np.nonzero(fg_labels == figure)
            fh, fw = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        return bool(fh > self.figure_ratio * (y1 - y0) or fw > self.figure_ratio * (x1 - x0))

    def _on_legs(self, percept: Percept, background: np.ndarray, box) -> bool:
        """Whether the static component with image box ``box`` [px] stands on a column of pixels that
        differ from the long-term background: the legs of a person standing still, below the upper body
        the short-term background absorbed. Trousers about as dark as a shadow on the floor are cleared
        from the foreground by the shadow test, so the figure test does not see them; a bag on the floor
        has the floor below it. The column is ``legs_ratio`` times the component's height, twice its
        width (centred); it holds legs when at least ``legs_share`` of its pixels differ by more than
        ``legs_diff`` grey levels."""
        x, y, w, h = box
        # as wide as the component and half that again on each side: a person leaning, or in mid-step,
        # has the feet off the upper body's column
        below = self.legs_ratio * h
        if self.legs_adult > 0:
            foot = self.site.image_to_ground(np.array([[x + w / 2, y + h]], dtype=np.float64))
            adult = float(self.site.person_height_px(foot)[0])
            if math.isfinite(adult):
                below = max(below, self.legs_adult * adult)
        share = changed_below(percept.grey, background, percept.grid, x - w / 2, x + 1.5 * w, y + h,
                              below, self.legs_diff)
        return share is not None and share >= self.legs_share

    def _passer_below(self, percept: Percept, box) -> bool:
        """Whether moving foreground (a passer-by) fills at least ``passer_share`` of the legs column under
        image box ``box`` [px] (as :meth:`_on_legs` takes it): then that column tells nothing of legs at rest
        (which the shadow test cleared from the foreground), and the frame is not looked at."""
        x, y, w, h = box
        g = percept.grid
        wh, ww = percept.fg_mask.shape
        x0, x1 = max(0, int((x - w / 2) / g.sx)), min(ww, int(math.ceil((x + 1.5 * w) / g.sx)))
        y0 = int(math.ceil((y + h) / g.sy))
        y1 = min(wh, y0 + max(1, int(round(self.legs_ratio * h / g.sy))))
        if y1 <= y0 or x1 <= x0:
            return False
        moving = cv2.bitwise_and(percept.fg_mask[y0:y1, x0:x1], cv2.bitwise_not(percept.static_mask[y0:y1, x0:x1]))
        return cv2.countNonZero(moving) >= self.passer_share * moving.size

    def _under_torso(self, percept: Percept, background: np.ndarray, ob: dict) -> bool:
        """Whether the column above object ``ob``'s static component, from its top up to the head of an
        adult standing at its foot point and as wide as the legs column, has at least ``torso_share`` of its
        pixels changed by more than ``torso_diff`` grey levels from the long-term background: a person stands
        there, whose legs (or a part of whom) the short-term background absorbed, the rest of them moving or
        cleared from the foreground. Above a bag on the floor is the floor or the wall behind it, changed only
        while someone walks past."""
        x, y, w, h = ob["box"]
        adult = float(self.site.person_height_px(ob["xy"][None])[0])
        if not (math.isfinite(adult) and adult > h):
            return False
        share = changed_below(percept.grey, background, percept.grid, x - w / 2, x + 1.5 * w, y - (adult - h),
                              adult - h, self.torso_diff)
        return share is not None and share >= self.torso_share

    def _head_on_top(self, percept: Percept, ob: dict) -> bool:
        """Whether object ``ob``'s static component has the silhouette of a head on shoulders: at least
        ``head_min_height`` of an adult's height at its foot point tall; its top rows, ``head_rows`` of that
        height, no wider than ``head_width`` of it, no narrower than ``head_min_width`` (a suitcase's handle bar)
        and at least half filled (a head is a solid blob, a bag's handle a thin loop, a suitcase's handle two
        bars); and some row below them, down to ``shoulder_depth`` of it from the top, at least
        ``shoulder_ratio`` times as wide as those rows. A person sitting still (on a bench, whose legs it hides,
        or on the floor) is one; a suitcase, a bag or a backpack is about as wide at its top as below."""
        if self.head_width <= 0:
            return False
        Y0, Y1, X0, X1, label = ob["region"]
        mask = self._labels[Y0:Y1, X0:X1] == label
        rows = np.flatnonzero(mask.any(axis=1))
        if len(rows) < 3:
            return False
        adult = float(self.site.person_height_px(ob["xy"][None])[0]) / percept.grid.sy  # [working px]
        if not (math.isfinite(adult) and adult > 0) or len(rows) < self.head_min_height * adult:
            return False
        top = rows[0]
        n_head = max(2, int(round(self.head_rows * adult)))
        first = np.where(mask.any(axis=1), mask.argmax(axis=1), 0)
        last = np.where(mask.any(axis=1), mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1), -1)
        extent = last - first + 1  # per row [working px], 0 where the row is empty
        head = extent[top:top + n_head]
        head_w = int(head.max()) if len(head) else 0
        if head_w < max(1.0, self.head_min_width * adult) or head_w > self.head_width * adult:
            return False
        if mask[top:top + n_head].sum() < 0.5 * head_w * len(head):
            return False
        below = extent[top + n_head:top + max(n_head + 1, int(round(self.shoulder_depth * adult)))]
        return bool(len(below) and below.max() >= self.shoulder_ratio * head_w)

    def _ghost(self, percept: Percept, ob: dict) -> bool:
        """Whether object ``ob`` is a ghost (checked at most once a second: it costs a gradient)."""
        if percept.t - ob["ghost_t"] >= 1.0:
            Y0, Y1, X0, X1, label = ob["region"]
            region = (self._labels[Y0:Y1, X0:X1] == label).astype(np.uint8)
            grey, background = percept.grey[Y0:Y1, X0:X1], percept.background()[Y0:Y1, X0:X1]
            ob["ghost"] = is_ghost(grey, background, region) or self._seen_before(percept, ob, region) or \
                self._blends_in(percept, ob) or self._floor_coloured(percept, ob)
            ob["ghost_t"] = percept.t
        return ob["ghost"]

    def _inside_and_ring(self, percept: Percept, ob: dict):
        """Object ``ob``'s static component and the ring ``ring_px`` wide around it (its pixels outside any
        foreground) as masks over their bounding crop, with the crop ``(y0, y1, x0, x1)``; None where the
        component is empty or the ring holds under ``2 * ring_px`` pixels (crowded round it: no floor to
        compare with)."""
        Y0, Y1, X0, X1, label = ob["region"]
        wh, ww = self._labels.shape
        r = self.ring_px
        y0, y1, x0, x1 = max(0, Y0 - r), min(wh, Y1 + r), max(0, X0 - r), min(ww, X1 + r)
        inside = self._labels[y0:y1, x0:x1] == label
        if not inside.any():
            return None
        ring = cv2.dilate(inside.astype(np.uint8), self._ring_kernel) > 0
        ring &= ~inside & (percept.fg_mask[y0:y1, x0:x1] == 0)
        if np.count_nonzero(ring) < 2 * r:
            return None
        return (y0, y1, x0, x1), inside, ring

    def _blends_in(self, percept: Percept, ob: dict) -> bool:
        """Whether object ``ob``'s pixels now look like the floor around them while the long-term background
        there did not: the mean grey of its static component differs from that of a ring ``ring_px`` wide
        around it (its pixels outside any foreground) by less than ``ring_diff`` grey levels and less than
        half the same difference in the long-term background. A person who stood there long enough for the
        long-term background to take them in left, and the floor shows again (a *ghost*); a bag differs from
        the floor it stands on, and the background under it was the floor."""
        around = self._inside_and_ring(percept, ob)
        if around is None:
            return False
        (y0, y1, x0, x1), inside, ring = around
        grey = percept.grey[y0:y1, x0:x1].astype(np.float32)
        bg = percept.background()[y0:y1, x0:x1].astype(np.float32)
        now = abs(float(grey[inside].mean()) - float(grey[ring].mean()))
        before = abs(float(bg[inside].mean()) - float(bg[ring].mean()))
        return now < min(self.ring_diff, 0.5 * before)

    def _floor_coloured(self, percept: Percept, ob: dict) -> bool:
        """Whether object ``ob``'s pixels in the frame have the colour of the floor around them: the mean of each
        BGR channel over its static component within ``floor_colour_diff`` of the same mean over a ring ``ring_px``
        wide around it (its pixels outside any foreground). Then the frame shows floor there and what differs from
        the long-term background is the background itself: a colour it took in from someone who stood there (its
        chroma is learnt slowly), as grey as the floor, which neither the edges nor the grey tests see. An object
        set down differs from the floor it stands on, or it would not be foreground."""
        if self.floor_colour_diff <= 0:
            return False
        around = self._inside_and_ring(percept, ob)
        if around is None:
            return False
        (y0, y1, x0, x1), inside, ring = around
        bgr = percept.small[y0:y1, x0:x1].astype(np.float32)
        diff = np.abs(bgr[inside].mean(axis=0) - bgr[ring].mean(axis=0))
        return bool(diff.max() < self.floor_colour_diff)

    def _seen_before(self, percept: Percept, ob: dict, region: np.ndarray) -> bool:
        """Whether object ``ob``'s pixels (``region``, a 0/1 mask over its crop) look now as the long-term
        background showed them before it was set down (a snapshot older than ``static_delay_s`` before it
        turned static, at most ``history_s`` old): mean absolute difference under ``seen_diff`` grey levels
        and under half the difference to the background now. Then the scene is back as it was (a person who
        stood there a while, whom the background had begun to absorb, left): a *ghost*, no object. A bag
        set down was not there before."""
        Y0, Y1, X0, X1, _ = ob["region"]
        inside = region > 0
        if not inside.any():
            return False
        now = percept.grey[Y0:Y1, X0:X1][inside].astype(np.float32)
        to_bg = float(np.abs(now - percept.background()[Y0:Y1, X0:X1][inside]).mean())
        before = [float(np.abs(now - bg[Y0:Y1, X0:X1][inside]).mean()) for ts, bg in self._snapshots
                  if ts <= ob["first"] - self.static_delay_s]
        return bool(before) and min(before) < min(self.seen_diff, 0.5 * to_bg)
