"""Excessive density: persons per square metre in a zone above the zone's capacity.

Three estimates of the number of persons standing in a zone:

``"cnn"`` (default): a small convolutional network (:mod:`detectors.density_cnn`) maps the
    grey working image and its perspective channel to a density of *foot points* (or of
    heads, for weights whose model card says so: a head cell then counts for the zone that
    holds the feet of a person whose head shows there) at a quarter of the working resolution, trained by ``stationwatch train density`` on varied
    rendered footage (cameras moved, lighting, noise, compression, crowds of 0 to 5
    persons/m²). The zone's count is the sum of the map over the cells whose ground point
    lies in the zone, the rule of the ground truth itself; it sees people who stand still
    (no background model) and counts people hidden by each other from what shows of them.
    The network runs every ``every_s`` (0.5 s: a crowd's density changes over seconds;
    about 3 ms a run on one core). The model card (``detectors/weights/density_cnn.json``)
    gives its held-out error against the pixel estimate.
``"pixels"``: perspective-weighted foreground with an occlusion correction (the classical
    baseline the network is validated against).
    Each working pixel is given to the person whose *mid-body* covers it, i.e. to the
    foot point half a person's height below it (:meth:`WorkGrid.foot_row_of_part`), and
    weighted by ``1 / E(foot)``, the inverse of one person's expected silhouette area
    there (the perspective map of Chan et al., CVPR 2008, derived from the calibration
    instead of hand-annotated). The weighted sum over foreground pixels counts persons
    whose silhouettes do not overlap in the image. In a crowd they do: a pixel is
    covered by anyone whose feet stand on a strip of ground of depth ``L`` along the
    line of sight (``L`` [m] from the calibration: a person's height seen from the
    camera's elevation, about 2.7 m for a 5.5 m high camera 10 m away). People keep
    apart (``min_spacing_m``), so along that strip they behave as a one-dimensional
    hard-rod gas (Tonks 1936), whose probability of leaving a strip empty is
    ``P0 = (1 - n s) exp(-n (L - s) / (1 - n s))`` for ``n`` persons per metre and rod
    length ``s``. The observed coverage ``c = 1 - P0`` of the zone's image region gives
    ``n``, hence the mean number ``n L`` of silhouettes stacked on a covered pixel, and the
    count is scaled by ``n L / c`` (1 for a sparse crowd, bounded at close packing).
    ``min_spacing_m = 0`` is the Boolean model (silhouettes dropped independently),
    which over-counts real crowds because people do not stand inside each other.
    Coverage is measured per ground tile of ``tile_m`` (pixels grouped by their
    mid-body foot point): the correction is convex in ``c``, so a queue packed into one
    corner of a zone averaged with the empty rest would be under-corrected.
``"blobs"``: the sum over blobs whose foot point lies in the zone of
    ``area_px / expected_area_px`` (merged blobs count as several persons).

Calibration (``"cnn"`` only): the zone's reading goes through a monotone piecewise-linear map
of reading to density fitted on training footage (``stationwatch train density`` writes it into
the model card, :func:`train.calibrate.reading_calibration`): the network trained on whole
frames still reads packed crowds low (about -0.3 persons/m² at 2 to 2.5 on its own training
frames) and sparse ones a little high.

Empty floor (``"cnn"`` only): the network reads a little mass on bare floor texture (about
0.1 persons/m² on the library's concourse). The detector learns that reading per zone while
the zone is empty, and subtracts it: *empty* means that the long-term foreground covers less
than ``empty_fg_fraction`` (1 %) of the working pixels of the zone's cells (people standing
still stay foreground for about a minute, the background model's absorption time) and the
network reads less than ``floor_max_per_m2`` (0.3) there, so a packed crowd that has merged
into the background is never taken for floor. The floor reading is averaged with time
constant ``floor_s`` (20 s; the first empty reading starts it; 0 disables the correction),
and the density is ``max(0, reading - floor)``. No ground truth is involved: only pixels.

Zones partly outside the image: the count covers the cells the camera sees, so the
density divides it by the ground area of those cells (at most the zone's area), the
density of the part in view.

Known limit, near capacity (measured, not yet fixed): on the gate approach of
``concourse_overcrowding`` both the network and the pixel estimate saturate from about 1.7
persons/m² on. Over tuning seeds 201-205 the network's uncalibrated reading (less its floor) is
biased -0.05 at a true 1.5-1.75, -0.19 at 1.75-2.0, -0.30 at 2.0-2.25 and -0.48 at 2.25-2.5
persons/m² (pixel estimate at 201-203: +0.11, -0.09, -0.29, -0.42), and on its own training clips it
reads 1.72 at a true 1.75-2.0 and 1.75 at 2.0-2.25: a true 1.8 and a true 2.2 give one reading, so
a jam that stays 0.1-0.3 above capacity is found late or not at all. At the working resolution a head
there is 2.3-3.4 px and the next row of people stands 2-6 px higher, about one head per output cell.
Weights that read a crop of the full-resolution frame (``input_width`` in their model card;
:meth:`DensityDetector._prepare_cells`) read staged crowds right but not that jam; they, head
targets and more footage were tried and not shipped (``docs/density-experiments.md``). The latency
is the reading's: the alert policy below replayed on the true density of the zone (an exact
reading) finds all ten jams of seeds 201-210 with a median latency of 0.42 s against the ground
truth's trailing 2 s mean (0.2 to 0.85 s), while the shipped network's reading finds the five of
201-205 6 to 18 s after their start.

Score: ``min(1, density / (2 capacity_per_m2))`` after an exponential moving average of the
density with time constant ``smoothing_s`` (1 s; ``alpha = 1 - exp(-dt / tau)`` per update, so
it does not depend on the frame rate; its lag on a rising crowd, about ``tau``, is that of the
ground truth's trailing 2 s mean, so the alert is not late by construction): 0.5 at the zone's capacity (the default threshold), 1
at twice the capacity, graded in between so thresholds can be swept. One instance per
density zone (key: the zone's name), its box the zone's extent in the image (where feet
inside it can be seen); the frame score is the maximum over zones.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from detectors.base import NOTHING, DetectorOutput, InstanceScore
from detectors.density_cnn import apply_reading_map
from detectors.events import EventType
from detectors.perception import Percept, WorkGrid
from detectors.site import SiteConfig, ZoneKind

METHODS = ("cnn", "pixels", "blobs")

#: [px of the network's input] context kept around the density zones' cells when the network reads a crop of
#: the full-resolution frame (about half its receptive field: the zones' cells see what they would in the whole frame)
CROP_MARGIN_PX = 64

#: coverage fractions at which the occlusion factor is tabulated (interpolated per frame)
_COVERAGE_GRID = np.linspace(0.0, 0.999, 1000)


@dataclass(frozen=True)
class _ZoneMap:
    """One density zone at the working resolution: the pixels whose mid-body foot point lies
    in the zone, their perspective weights and ground tiles, each tile's occlusion table."""

    pixels: np.ndarray  #: (R,) int64 flat indices into the working image
    weight: np.ndarray  #: (R,) float64 [persons per working pixel] 1 / expected silhouette area
    tile: np.ndarray  #: (R,) int64 ground tile of each pixel, 0 .. T-1
    tile_px: np.ndarray  #: (T,) float64 [working px] pixels per tile
    strip_m: np.ndarray  #: (T,) float64 [m] L per tile, depth of the feet whose silhouettes cover a pixel
    factor: np.ndarray  #: (T, G) occlusion factor n L / c per tile at each of _COVERAGE_GRID


def _occlusion_factor_table(strip_m: float, spacing_m: float) -> np.ndarray:
    """``n L / c`` over :data:`_COVERAGE_GRID` for the hard-rod gas described in the module docstring.

    ``P0(n) = (1 - n s) exp(-n (L - s) / (1 - n s))`` falls from 1 at ``n = 0`` towards 0 at
    close packing ``n = 1 / s``; it is tabulated on a dense grid of ``n`` and inverted by
    interpolation. With ``s = 0`` it is the Boolean model, ``n L = -ln(1 - c)``.
    """
    c = _COVERAGE_GRID
    if not strip_m > spacing_m:
        return np.ones_like(c)  # the strip holds at most one person: no stacking to correct
    if spacing_m == 0:
        stacked = -np.log1p(-c)
    else:
        n = np.linspace(0.0, 1.0 / spacing_m, 20001)[:-1]  # [persons/m] along the strip
        packed = 1.0 - n * spacing_m
        p0 = packed * np.exp(-n * (strip_m - spacing_m) / packed)
        stacked = np.interp(1.0 - c, p0[::-1], n[::-1]) * strip_m
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c > 0, stacked / c, 1.0)


#: where the calibrated gain lives (package data, written by ``stationwatch calibrate-density``)
GAIN_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights", "density_gain.json")


def load_gain(method: str = "pixels", path: str = GAIN_FILE) -> float:
    """The calibrated gain of ``method`` from ``path``, 1.0 when no calibration is shipped."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return 1.0
    except (OSError, ValueError) as exc:
        raise ValueError(f"density calibration {path!r} cannot be read: {exc}") from None
    gains = data.get("gain") or {}
    if method in gains and not float(gains[method]) > 0:
        raise ValueError(f"density calibration {path!r}: gain.{method} must be > 0; got {gains[method]!r}")
    return float(gains.get(method, 1.0))


class DensityDetector:
    """Persons per m² over capacity, per density zone. See the module docstring.

    Parameters: ``method`` (``"cnn"``, ``"pixels"``, ``"blobs"``); ``smoothing_s`` [s] time
    constant of the density's moving average; ``every_s`` [s] least time between two runs of
    the network (0: every frame); ``weights`` another state_dict of the network;
    ``min_spacing_m`` [m], ``tile_m`` [m] and ``gain`` of the pixel estimate; ``floor_s`` [s],
    ``empty_fg_fraction`` [share of the zone's pixels] and ``floor_max_per_m2`` [persons/m²] of the
    CNN's empty-floor correction (module docstring); ``calibrated``: pass the CNN's zone reading
    through the calibration map of its model card, when the card has one.
    """

    event_type = EventType.EXCESSIVE_DENSITY
    default_threshold = 0.5  #: the zone's capacity
    #: [s] the ground truth already averages density over 2 s (sim.events.truth): the detector's
    #: own 1 s moving average matches that lag, and a longer wait here would only add latency
    default_min_duration_s = 0.5
    default_cooldown_s = 60.0  #: [s] per zone

    def __init__(self, site: SiteConfig, *, method: str = "cnn", smoothing_s: float = 1.0, every_s: float = 0.5,
                 min_spacing_m: float = 0.45, tile_m: float = 2.0, gain: float | None = None,
                 weights: str | None = None, floor_s: float = 20.0, empty_fg_fraction: float = 0.01,
                 floor_max_per_m2: float = 0.3, calibrated: bool = True) -> None:
        self.zones = site.zones_of(ZoneKind.DENSITY)
        if not self.zones:
            raise ValueError(f"DensityDetector needs at least one density zone; site {site.camera!r} has zones "
                             f"{[z.name for z in site.zones]}")
        if method not in METHODS:
            raise ValueError(f"DensityDetector.method must be one of {', '.join(METHODS)}; got {method!r}")
        for name, value in (("smoothing_s", smoothing_s), ("every_s", every_s), ("floor_s", floor_s)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"DensityDetector.{name} must be a finite number >= 0 s; got {value!r}")
        if not 0 <= empty_fg_fraction <= 1:
            raise ValueError(f"DensityDetector.empty_fg_fraction must be in [0, 1]; got {empty_fg_fraction!r}")
        if not (math.isfinite(floor_max_per_m2) and floor_max_per_m2 >= 0):
            raise ValueError(f"DensityDetector.floor_max_per_m2 must be a finite number >= 0 persons/m2; "
                             f"got {floor_max_per_m2!r}")
        if not tile_m > 0:
            raise ValueError(f"DensityDetector.tile_m must be > 0 m; got {tile_m!r}")
        if not 0 <= min_spacing_m < 2:
            raise ValueError(f"DensityDetector.min_spacing_m must be in [0, 2) m; got {min_spacing_m!r}")
        self.site = site
        self.method = method
        self._cnn = None
        if method == "cnn":
            from detectors.density_cnn import DensityCNN

            self._cnn = DensityCNN() if weights is None else DensityCNN(weights)
        #: multiplies the pixel estimate; None takes the calibrated gain shipped with the package
        #: (``stationwatch train density-gain`` fits it on rendered footage), 1.0 disables it
        self.gain = (load_gain(method) if method != "cnn" else 1.0) if gain is None else float(gain)
        if not self.gain > 0:
            raise ValueError(f"DensityDetector.gain must be > 0; got {gain!r}")
        self.smoothing_s = float(smoothing_s)
        self.every_s = float(every_s)
        self.floor_s = float(floor_s)
        self.calibrated = bool(calibrated)
        self.empty_fg_fraction = float(empty_fg_fraction)
        self.floor_max_per_m2 = float(floor_max_per_m2)
        self.min_spacing_m = float(min_spacing_m)
        self.tile_m = float(tile_m)
        self.area_m2 = np.array([z.area_m2 for z in self.zones])
        self.capacity_per_m2 = np.array([z.capacity_per_m2 for z in self.zones], dtype=np.float64)
        self._grid: WorkGrid | None = None
        self._smoothed: np.ndarray | None = None  # [persons/m²] per zone
        self._t_prev: float | None = None
        self._t_run: float | None = None
        #: [persons/m²] last raw (unsmoothed) density per zone, for inspection
        self.last_density = np.zeros(len(self.zones))
        #: [persons/m²] per zone, what the network reads on the zone's empty floor (nan: not seen empty yet)
        self.floor = np.full(len(self.zones), np.nan)
        self._t_floor = np.full(len(self.zones), np.nan)

    @classmethod
    def supports(cls, site: SiteConfig) -> bool:
        return bool(site.zones_of(ZoneKind.DENSITY))

    def _prepare(self, grid: WorkGrid) -> None:
        """Per-zone pixels, weights, tiles and occlusion tables (once per grid)."""
        self._grid = grid
        self._view_area = self.area_m2.copy()
        self._boxes = [grid.bbox_of(grid.zone_mask(zone)) for zone in self.zones]
        if self.method == "cnn":
            self._prepare_cells(grid)
            return
        mid = grid.foot_row_of_part(0.5)
        head = grid.foot_row_of_part(1.0)
        wh, ww = mid.shape
        cols = np.broadcast_to(np.arange(ww), (wh, ww))
        ok = mid >= 0
        self._zone_maps: list[_ZoneMap | None] = []
        for zone in self.zones:
            inside = grid.zone_mask(zone)
            region = np.zeros((wh, ww), bool)
            region[ok] = inside[mid[ok], cols[ok]]
            v, u = np.nonzero(region)
            if len(v) == 0:
                self._zone_maps.append(None)
                continue
            fv = mid[v, u]
            # one working pixel is sx * sy full-resolution pixels of a silhouette of E px²
            weight = (grid.sx * grid.sy) / grid.expected_area_px[fv, u]
            foot_m = grid.ground_m[fv, u]
            key = np.floor((foot_m - zone.polygon_m.min(axis=0)) / self.tile_m).astype(np.int64)
            _, tile = np.unique(key, axis=0, return_inverse=True)
            tile = tile.reshape(-1)
            n_tiles = int(tile.max()) + 1
            hv = head[v, u]
            has_head = hv >= 0
            depth = np.full(len(v), np.nan)
            # the feet whose silhouettes cover pixel (v, u) run from the foot standing at it
            # to the foot of a person whose head is at it
            depth[has_head] = np.linalg.norm(grid.ground_m[v[has_head], u[has_head]]
                                             - grid.ground_m[hv[has_head], u[has_head]], axis=1)
            depth_sum = np.bincount(tile, weights=np.nan_to_num(depth), minlength=n_tiles)
            depth_n = np.bincount(tile, weights=np.isfinite(depth).astype(float), minlength=n_tiles)
            fallback = float(np.nanmean(depth)) if np.isfinite(depth).any() else 0.0
            with np.errstate(invalid="ignore", divide="ignore"):
                strip = np.where(depth_n > 0, depth_sum / depth_n, fallback)
            self._zone_maps.append(_ZoneMap(
                pixels=(v * ww + u).astype(np.int64), weight=weight, tile=tile,
                tile_px=np.bincount(tile, minlength=n_tiles).astype(np.float64), strip_m=strip,
                factor=np.stack([_occlusion_factor_table(float(L), self.min_spacing_m) for L in strip])))

    def _prepare_cells(self, grid: WorkGrid) -> None:
        """Per zone, the flat indices of the CNN's output cells that count for it (foot targets: the
        cells whose ground point lies in it; head targets: the cells where the head of a person whose
        feet stand in it appears), and the ground area [m²] of the cells whose ground point lies in it
        (the part of the zone in view). Weights that read the full-resolution frame (their model card's
        ``input_width``) get a grid of that size and the crop of it the network runs on: the density
        zones' cells and :data:`CROP_MARGIN_PX` around them (the network's context)."""
        from detectors.density_cnn import HEAD_FRACTION, STRIDE, cell_foot_points, perspective_channel

        net_grid = grid
        width = self._cnn.input_width
        w_img, h_img = grid.site.image_size
        if width is not None and min(width, w_img) != grid.work_size[0]:
            width = min(width, w_img)
            net_grid = WorkGrid(grid.site, (width, max(1, int(round(h_img * width / w_img)))))
        self._net_grid = net_grid
        perspective = perspective_channel(net_grid.person_rows)
        pts = cell_foot_points(net_grid.work_size, grid.site.image_size)
        oh, ow = pts.shape[:2]
        ground = grid.site.image_to_ground(pts.reshape(-1, 2))
        ok = np.all(np.isfinite(ground), axis=1)
        # each cell's ground area: the quadrilateral of its four corners on the floor
        cw, ch = net_grid.sx * STRIDE, net_grid.sy * STRIDE
        corners = [pts.reshape(-1, 2) + [dx * cw, dy * ch] for dx, dy in ((-.5, -.5), (.5, -.5), (.5, .5), (-.5, .5))]
        g = np.stack([grid.site.image_to_ground(c) for c in corners], axis=1)  # (cells, 4, 2)
        x, y = g[..., 0], g[..., 1]
        cell_area = 0.5 * np.abs((x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1))
        cells = []
        self._cell_pixels = []  # per zone, the flat working pixels of its cells (for the foreground share)
        self.floor = np.full(len(self.zones), np.nan)
        self._t_floor = np.full(len(self.zones), np.nan)
        ww, wh = grid.work_size
        # the output cell that each working pixel (where the foreground mask lives) falls in
        cell_row = np.minimum(((np.arange(wh) + 0.5) * net_grid.work_size[1] / wh).astype(np.int64) // STRIDE, oh - 1)
        cell_col = np.minimum(((np.arange(ww) + 0.5) * net_grid.work_size[0] / ww).astype(np.int64) // STRIDE, ow - 1)
        counted = None
        if self._cnn.target == "head":
            # a head cell counts for the zone that holds the feet of a person whose head centre is there
            # (the foot row from the calibration's expected person height, column by column)
            foot_row = net_grid.foot_row_of_part(HEAD_FRACTION)
            wh_, ww_ = foot_row.shape
            cr = np.minimum(np.arange(oh) * STRIDE + STRIDE // 2, wh_ - 1)
            cc = np.minimum(np.arange(ow) * STRIDE + STRIDE // 2, ww_ - 1)
            rows = foot_row[cr[:, None], cc[None, :]].reshape(-1)
            cols = np.broadcast_to(cc[None, :], (oh, ow)).reshape(-1)
            counted = np.full((len(rows), 2), np.nan)
            has = rows >= 0
            counted[has] = net_grid.ground_m[rows[has], cols[has]]
        for k, zone in enumerate(self.zones):
            inside = np.zeros(len(ground), bool)
            inside[ok] = zone.contains(ground[ok])
            idx = np.flatnonzero(inside & np.isfinite(cell_area))
            if counted is None:
                cells.append(idx)
            else:
                fine = np.all(np.isfinite(counted), axis=1)
                heads = np.zeros(len(counted), bool)
                heads[fine] = zone.contains(counted[fine])
                cells.append(np.flatnonzero(heads))
            mine = np.zeros(oh * ow, bool)
            mine[idx] = True
            self._cell_pixels.append(np.flatnonzero(mine.reshape(oh, ow)[cell_row[:, None], cell_col[None, :]]))
            seen = float(cell_area[idx].sum()) if len(idx) else 0.0
            self._view_area[k] = min(self.area_m2[k], seen) if seen > 0 else self.area_m2[k]
        self._crop = None
        if net_grid is not grid:
            # the network runs on the part of the full-resolution frame around the cells it is asked about
            used = np.concatenate([c for c in cells if len(c)] or [np.zeros(0, np.int64)])
            if len(used) == 0:
                used = np.arange(oh * ow)
            rv, ru = np.divmod(used, ow)
            m = -(-CROP_MARGIN_PX // STRIDE)
            r0, r1 = max(0, int(rv.min()) - m), min(oh, int(rv.max()) + 1 + m)
            c0, c1 = max(0, int(ru.min()) - m), min(ow, int(ru.max()) + 1 + m)
            nw, nh = net_grid.work_size
            self._crop = (r0 * STRIDE, min(nh, r1 * STRIDE), c0 * STRIDE, min(nw, c1 * STRIDE))
            perspective = perspective[self._crop[0]:self._crop[1], self._crop[2]:self._crop[3]]
            crop_w = c1 - c0
            cells = [((c // ow) - r0) * crop_w + (c % ow) - c0 for c in cells]
        self._perspective = np.ascontiguousarray(perspective)
        self._cells = cells

    def _net_grey(self, percept: Percept) -> np.ndarray:
        """The grey image the network reads: the working image, or the crop of the full-resolution frame
        at the weights' input width (:meth:`_prepare_cells`)."""
        if self._crop is None:
            return percept.grey
        import cv2

        y0, y1, x0, x1 = self._crop
        nw, nh = self._net_grid.work_size
        image = percept.image
        if image.shape[1] != nw or image.shape[0] != nh:
            image = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)

    def persons(self, percept: Percept) -> np.ndarray:
        """(Z,) [persons] estimated persons standing in the part of each density zone in view."""
        grid = percept.grid
        if grid is not self._grid:
            self._prepare(grid)
        if self.method == "cnn":
            dmap = self._cnn.predict(self._net_grey(percept), self._perspective).reshape(-1)
            return np.array([float(dmap[c].sum(dtype=np.float64)) for c in self._cells])
        if self.method == "blobs":
            blobs = percept.blobs
            if len(blobs) == 0:
                return np.zeros(len(self.zones))
            each = blobs.persons
            return np.array([float(each[z.contains(blobs.foot_m)].sum()) for z in self.zones])
        out = np.zeros(len(self.zones))
        fg = percept.fg_mask.reshape(-1)
        last = len(_COVERAGE_GRID) - 1
        for i, zm in enumerate(self._zone_maps):
            if zm is None:
                continue
            on = (fg[zm.pixels] > 0).astype(np.float64)
            n_tiles = len(zm.tile_px)
            covered = np.bincount(zm.tile, weights=on, minlength=n_tiles)
            raw = np.bincount(zm.tile, weights=on * zm.weight, minlength=n_tiles)
            # linear interpolation of each tile's table at its coverage
            pos = np.minimum(covered / zm.tile_px, _COVERAGE_GRID[-1]) * (last / _COVERAGE_GRID[-1])
            i0 = np.minimum(pos.astype(np.int64), last - 1)
            frac = pos - i0
            rows = np.arange(n_tiles)
            factor = zm.factor[rows, i0] * (1.0 - frac) + zm.factor[rows, i0 + 1] * frac
            out[i] = float(raw @ factor)
        return out

    def score(self, percept: Percept) -> DetectorOutput:
        if not percept.ready:
            self._smoothed, self._t_prev, self._t_run = None, None, None
            return NOTHING
        if percept.grid is not self._grid:
            self._prepare(percept.grid)
        due = self._t_run is None or percept.t - self._t_run >= self.every_s - 1e-9 or self.method != "cnn"
        if due:
            density = self.gain * self.persons(percept) / self._view_area
            if self.method == "cnn" and self._cnn.calibration is not None and self.calibrated:
                density = apply_reading_map(density, *self._cnn.calibration)
            if self.method == "cnn" and self.floor_s > 0:
                density = self._minus_floor(percept, density)
            self._t_run = percept.t
            self.last_density = density
            if self._smoothed is None or self.smoothing_s == 0:
                self._smoothed = density
            else:
                alpha = 1.0 - math.exp(-max(0.0, percept.t - self._t_prev) / self.smoothing_s)
                self._smoothed = self._smoothed + alpha * (density - self._smoothed)
            self._t_prev = percept.t
        ratio = np.clip(0.5 * self._smoothed / self.capacity_per_m2, 0.0, 1.0)
        instances = [InstanceScore(z.name, float(r), self._boxes[k]) for k, (z, r) in enumerate(zip(self.zones, ratio))]
        return DetectorOutput.of(instances, zone_of=lambda key: key)

    def _minus_floor(self, percept: Percept, density: np.ndarray) -> np.ndarray:
        """``density`` [persons/m²] less each zone's empty-floor reading, which is learned here from the
        zones that look empty in this frame (module docstring)."""
        fg = percept.fg_mask.reshape(-1)
        for k, px in enumerate(self._cell_pixels):
            if len(px) == 0:
                continue
            share = float(np.count_nonzero(fg[px])) / len(px)
            if share < self.empty_fg_fraction and density[k] < self.floor_max_per_m2:
                if np.isnan(self.floor[k]):
                    self.floor[k] = density[k]
                else:
                    alpha = 1.0 - math.exp(-max(0.0, percept.t - self._t_floor[k]) / self.floor_s)
                    self.floor[k] += alpha * (density[k] - self.floor[k])
                self._t_floor[k] = percept.t
        return np.maximum(0.0, density - np.nan_to_num(self.floor, nan=0.0))

    @property
    def densities(self) -> np.ndarray:
        """(Z,) [persons/m²] the smoothed density of each zone (nan before the first estimate)."""
        return np.full(len(self.zones), np.nan) if self._smoothed is None else self._smoothed.copy()
