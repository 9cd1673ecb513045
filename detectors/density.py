"""Excessive density: persons per square metre in a zone above the zone's capacity.

Two estimates of the number of persons standing in a zone, both from the shared
foreground mask and the site's calibration:

``"pixels"`` (default): perspective-weighted foreground with an occlusion correction.
    Each working pixel is given to the person whose *mid-body* covers it, i.e. to the
    foot point half a person's height below it (:meth:`WorkGrid.foot_row_of_part`), and
    weighted by ``1 / E(foot)``, the inverse of one person's expected silhouette area
    there (the perspective map of Chan et al., CVPR 2008, derived from the calibration
    instead of hand-annotated). The weighted sum over foreground pixels counts persons
    whose silhouettes do not overlap in the image. In a crowd they do; under a Boolean
    model (silhouettes dropped at random) a region covered to the fraction ``c`` holds
    ``-ln(1 - c) / c`` times more silhouette area than it shows, and the count is scaled
    by that factor (``c`` capped at ``max_coverage``).
``"blobs"``: the sum over blobs whose foot point lies in the zone of
    ``area_px / expected_area_px`` (merged blobs count as several persons).

Why "pixels" is the default (figures: ``python benchmarks/bench_detect.py``, which
prints both estimates' errors on synthetic crowds): a merged crowd is one blob with one
foot point, so the blob estimate gives the whole crowd to whichever zone that single
point falls in, and it undercounts through occlusion exactly when density matters;
the pixel estimate spreads every pixel over the zones by its own perspective and
corrects the overlap.

Score: ``density / capacity_per_m2`` after an exponential moving average with time
constant ``smoothing_s`` (``alpha = 1 - exp(-dt / tau)`` per frame, so it does not depend
on the frame rate); the natural threshold is 1.0. The score is the maximum over density
zones, the box is that zone's extent in the image (where feet inside it can be seen).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from detectors.base import NOTHING, DetectorOutput
from detectors.events import EventType
from detectors.perception import Percept, WorkGrid
from detectors.site import SiteConfig, ZoneKind

METHODS = ("pixels", "blobs")


class DensityDetector:
    """Persons per m² over capacity, per density zone. See the module docstring."""

    event_type = EventType.EXCESSIVE_DENSITY
    default_threshold = 1.0
    default_min_duration_s = 2.0  #: [s] density is a state, not a flash
    default_cooldown_s = 60.0  #: [s]

    def __init__(self, site: SiteConfig, *, method: str = "pixels", smoothing_s: float = 1.5,
                 max_coverage: float = 0.9) -> None:
        self.zones = site.zones_of(ZoneKind.DENSITY)
        if not self.zones:
            raise ValueError(f"DensityDetector needs at least one density zone; site {site.camera!r} has zones "
                             f"{[z.name for z in site.zones]}")
        if method not in METHODS:
            raise ValueError(f"DensityDetector.method must be one of {', '.join(METHODS)}; got {method!r}")
        if not smoothing_s >= 0:
            raise ValueError(f"DensityDetector.smoothing_s must be >= 0 s; got {smoothing_s!r}")
        if not 0 < max_coverage < 1:
            raise ValueError(f"DensityDetector.max_coverage must be in (0, 1); got {max_coverage!r}")
        self.site = site
        self.method = method
        self.smoothing_s = float(smoothing_s)
        self.max_coverage = float(max_coverage)
        self.area_m2 = np.array([z.area_m2 for z in self.zones])
        self.capacity_per_m2 = np.array([z.capacity_per_m2 for z in self.zones], dtype=np.float64)
        self._grid: WorkGrid | None = None
        self._smoothed: np.ndarray | None = None  # [persons/m²] per zone
        self._t_prev: float | None = None
        #: [persons/m²] last raw (unsmoothed) density per zone, for inspection
        self.last_density = np.zeros(len(self.zones))

    @classmethod
    def supports(cls, site: SiteConfig) -> bool:
        return bool(site.zones_of(ZoneKind.DENSITY))

    def _prepare(self, grid: WorkGrid) -> None:
        self._grid = grid
        foot = grid.foot_row_of_part(0.5)
        wh, ww = foot.shape
        cols = np.broadcast_to(np.arange(ww), (wh, ww))
        ok = foot >= 0
        self._weights = []  # per zone: (row slice, col slice, float32 weight crop, uint8 region crop, region pixels)
        self._boxes = []
        for zone in self.zones:
            inside = grid.zone_mask(zone)
            self._boxes.append(grid.bbox_of(inside))
            region = np.zeros((wh, ww), bool)
            region[ok] = inside[foot[ok], cols[ok]]
            weight = np.zeros((wh, ww), np.float32)
            e = grid.expected_area_px[foot[region], cols[region]]
            # one working pixel is sx * sy full-resolution pixels of a silhouette of e px²
            weight[region] = (grid.sx * grid.sy) / e
            rows, colz = np.flatnonzero(region.any(1)), np.flatnonzero(region.any(0))
            if len(rows) == 0:
                self._weights.append(None)
                continue
            rs, cs = slice(rows[0], rows[-1] + 1), slice(colz[0], colz[-1] + 1)
            self._weights.append((rs, cs, np.ascontiguousarray(weight[rs, cs]),
                                  np.ascontiguousarray(region[rs, cs].astype(np.uint8) * 255), int(region.sum())))

    def persons(self, percept: Percept) -> np.ndarray:
        """(Z,) [persons] estimated persons standing in each density zone in this frame."""
        grid = percept.grid
        if grid is not self._grid:
            self._prepare(grid)
        if self.method == "blobs":
            blobs = percept.blobs
            if len(blobs) == 0:
                return np.zeros(len(self.zones))
            each = blobs.persons
            return np.array([float(each[z.contains(blobs.foot_m)].sum()) for z in self.zones])
        out = np.zeros(len(self.zones))
        fg = percept.fg_mask
        for i, w in enumerate(self._weights):
            if w is None:
                continue
            rs, cs, weight, region, n_region = w
            crop = fg[rs, cs]
            n_fg = cv2.countNonZero(crop)
            if n_fg == 0:
                continue
            raw = cv2.mean(weight, mask=crop)[0] * n_fg  # sum of weights over foreground pixels
            covered = cv2.countNonZero(cv2.bitwise_and(crop, region)) / n_region
            c = min(covered, self.max_coverage)
            out[i] = raw * (-math.log1p(-c) / c if c > 0 else 1.0)
        return out

    def score(self, percept: Percept) -> DetectorOutput:
        if not percept.ready:
            self._smoothed, self._t_prev = None, None
            return NOTHING
        density = self.persons(percept) / self.area_m2
        self.last_density = density
        if self._smoothed is None or self.smoothing_s == 0:
            self._smoothed = density
        else:
            dt = max(0.0, percept.t - self._t_prev)
            alpha = 1.0 - math.exp(-dt / self.smoothing_s)
            self._smoothed = self._smoothed + alpha * (density - self._smoothed)
        self._t_prev = percept.t
        ratio = self._smoothed / self.capacity_per_m2
        i = int(np.argmax(ratio))
        return DetectorOutput(float(ratio[i]), self._boxes[i], self.zones[i].name)
