"""Crowd movement: many people running at once (a surge, a stampede, a sudden dispersal), or
crowd pressure building up in a dense crowd.

Signals, both from the dense optical flow of the shared perception carried to the ground
(:mod:`detectors.flow`) over the foreground, each pixel weighted by the share of a person
its silhouette stands for there (so the sums count persons, near or far):

- **runners**: a foreground pixel whose ground speed ``s`` is above ``walk_mps`` counts as
  ``min(1, (s - walk_mps) / (run_mps - walk_mps))`` of a runner (walking passengers, even
  hurried ones, are below ``walk_mps``; runners above ``run_mps``). The runners are summed on
  a ground grid of ``cell_m`` cells, and the largest number within ``radius_m`` of a point
  (a box sum on the grid) is the size of the running crowd ``M`` [persons], smoothed over
  ``smoothing_s``. A crowd moves when ``M`` reaches ``min_runners``: a handful of
  passengers running for a departing train's doors is not one, and alighting passengers
  walk.
- **crowd pressure** (Helbing, Johansson and Al-Abideen, "Dynamics of crowd disasters: an
  empirical study", Phys. Rev. E 75, 2007): ``P(r) = rho(r) Var_t(V(r))``, as in that paper the
  local density times the variance *over time* of the local velocity around its own average.
  ``V(r, t)`` is the mean ground velocity of the foreground's flow in the ground cell ``r``
  (``cell_m``), each pixel weighted by its share of a person; ``U(r)`` its average over
  ``pressure_s`` (held while the cell is empty); ``rho(r)`` [persons/m²] the density of the
  people there, counted once each at the foot point of the tracker's confirmed tracks matched in
  this frame with Gaussian weights, ``sum_j exp(-|r - x_j|^2 / R^2) / (pi R^2)``, ``R`` =
  ``pressure_radius_m``. Each cell's ``rho |V - U|^2`` is averaged over ``pressure_s`` in place
  and ``P_max`` is the largest of those averages: people walking one way at one pace (an orderly
  stream, however dense) give next to none, a crowd pushed to and fro gives much. Helbing's
  turbulent crowds show ``P`` above about 0.02 s^-2 *at densities of several persons per m²*;
  only cells with ``rho >= pressure_min_density`` count (at low density people move freely and
  their velocities change as they please); ``pressure_crit`` is the pressure scored 0.5.

  Neither the density nor the variance is taken from the pixels of one frame: a pixel carried to
  the floor lands where its ray meets the ground, so a walker's body spreads over the cells behind
  their feet, and a person's share per pixel summed over one 1 m cell read 3-5 persons/m² in a
  rush-hour stream where the simulation had 0-2 people in that cell (0.3-1.4 persons/m² over the
  3 m x 3 m around it; hall camera, rush_hour_quiet, tuning seed 201, 210-262 s), while the
  tracks' density read 1.4-2.9 persons/m² where the simulation's was 2.3-2.9; and the spread of
  the flow's velocities inside a cell in one frame is mostly the noise of limbs and blob edges
  (0.1-0.2 m²/s² in that stream, where the cell's mean velocity varied by 0.005-0.017 m²/s² over
  time): pixel pressure reached 0.45 s^-2 in an orderly stream. Nor from the tracks' velocities,
  whose spread among neighbours in a dense stream (identity switches, foot points jumping between
  merged people) reached 0.5-3 m²/s².

Score: ``max(min(1, 0.5 M / min_runners), min(1, 0.5 P_max / pressure_crit))``, graded, 0.5
(the default threshold) where either signal reaches its constant. One instance per camera
(key ``"crowd"``): a crowd movement is a state of the scene; its box covers the runners (or
the cell of highest pressure).

Flow is trusted where one flow pixel spans less than ``max_m_per_px`` metres of floor: near
the horizon a pixel of image motion is metres of ground, and the flow's noise would be
read as running. Pixels of a vehicle standing in a forbidden zone (a train braking in or
leaving, :mod:`detectors.vehicles`) are left out: its coherent fast flow is no crowd. So are the
pixels of every component whose foot point stands in a forbidden zone (or ``zone_reach_px``
working pixels from its floor in the image): the nose of a train
entering at the far end of a corridor camera, where the track bed is a thin strip, is too small
for a vehicle component for half a second, and its pixels, each worth a person or more there,
read as 11 runners (people on the track bed are intruders, not a crowd); and so are the pixels
whose own ground point lies in a forbidden zone or beyond it as seen from the camera (with a 3x4
projection): the track bed, the wall behind it, a train's side and roof (a train's nose merged with
the passengers waiting at the corridor's mouth read as 9 runners), the heads of people at the
platform's edge. So is,
while a forbidden zone is occupied by a vehicle or not yet seen empty again
(:class:`~detectors.vehicles.VehicleWatch`), the whole image a vehicle standing on it covers up
to its roof: a departing train whose side the background had learned during its dwell shows
only in fragments (doors, windows), too small for a vehicle component, but moves fast.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from detectors.base import NOTHING, DetectorOutput, InstanceScore
from detectors.events import EventType
from detectors.evidence import clip_box
from detectors.perception import Percept, labels_in
from detectors.site import SiteConfig, ZoneKind
from detectors.vehicles import VehicleWatch, beyond_zone, camera_nadir_m, vehicle_mask


class CrowdMovementDetector:
    """Running crowds and crowd pressure from ground-plane optical flow. See the module docstring.

    Parameters (units in brackets): ``walk_mps``, ``run_mps`` [m/s]; ``min_runners``
    [persons]; ``radius_m`` [m]; ``cell_m`` [m]; ``smoothing_s`` [s]; ``pressure_crit``
    [1/s²]; ``pressure_min_density`` [persons/m²]; ``max_m_per_px`` [m per flow pixel];
    ``track_window_s`` [s]; ``pressure_s`` [s] time constant of each ground cell's pressure average;
    ``pressure_radius_m`` [m] the radius ``R`` of the Gaussian weights of the tracks' density;
    ``zone_reach_px`` [working px] how far from a forbidden zone's floor in the image a component's
    foot point may be and its pixels still be left out.
    """

    event_type = EventType.CROWD_MOVEMENT
    default_threshold = 0.5
    default_min_duration_s = 0.3  #: [s] a crowd runs for seconds; a glitch of flow does not
    default_cooldown_s = 30.0  #: [s]

    def __init__(self, site: SiteConfig, *, walk_mps: float = 1.7, run_mps: float = 2.5, min_runners: float = 3.0,
                 radius_m: float = 6.0, cell_m: float = 1.0, smoothing_s: float = 0.3, pressure_crit: float = 0.5,
                 pressure_min_density: float = 2.5, max_m_per_px: float = 0.5, track_window_s: float = 0.8,
                 pressure_s: float = 2.0, zone_reach_px: int = 3, pressure_radius_m: float = 1.0) -> None:
        for name, value in (("run_mps", run_mps), ("min_runners", min_runners), ("radius_m", radius_m),
                            ("cell_m", cell_m), ("pressure_crit", pressure_crit), ("max_m_per_px", max_m_per_px),
                            ("pressure_radius_m", pressure_radius_m)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"CrowdMovementDetector.{name} must be a finite number > 0; got {value!r}")
        if not 0 <= walk_mps < run_mps:
            raise ValueError(f"CrowdMovementDetector: need 0 <= walk_mps < run_mps [m/s]; got {walk_mps!r}, {run_mps!r}")
        if not smoothing_s >= 0:
            raise ValueError(f"CrowdMovementDetector.smoothing_s must be >= 0 s; got {smoothing_s!r}")
        self.site = site
        self._forbidden = site.zones_of(ZoneKind.FORBIDDEN)  # where a vehicle (a train) may stand
        self._vehicles = VehicleWatch(self._forbidden) if self._forbidden else None
        self.walk_mps, self.run_mps = float(walk_mps), float(run_mps)
        self.min_runners = float(min_runners)
        self.radius_m = float(radius_m)
        self.cell_m = float(cell_m)
        self.smoothing_s = float(smoothing_s)
        self.pressure_crit = float(pressure_crit)
        self.pressure_min_density = float(pressure_min_density)
        self.pressure_radius_m = float(pressure_radius_m)
        if not (math.isfinite(pressure_s) and pressure_s >= 0):
            raise ValueError(f"CrowdMovementDetector.pressure_s must be a finite number >= 0 s; got {pressure_s!r}")
        self.pressure_s = float(pressure_s)
        self._pmap: np.ndarray | None = None  # per ground cell: pressure averaged over pressure_s
        self._umap: np.ndarray | None = None  # (n_cells, 2) [m/s] per ground cell: velocity averaged over pressure_s
        self.max_m_per_px = float(max_m_per_px)
        self.track_window_s = float(track_window_s)
        if not (isinstance(zone_reach_px, (int, np.integer)) and zone_reach_px >= 0):
            raise ValueError(f"CrowdMovementDetector.zone_reach_px must be an integer >= 0 [working px]; got "
                             f"{zone_reach_px!r}")
        self.zone_reach_px = int(zone_reach_px)
        self._zone_near: np.ndarray | None = None  # forbidden floor dilated by zone_reach_px (working px)
        self._nadir_m = camera_nadir_m(site)  # (2,) [m] the ground point under the camera, or None
        self._over_zone: np.ndarray | None = None  # working pixels whose ground point is in or beyond a zone
        self._field = None
        self._runners = 0.0
        self._pressure = 0.0
        self._t: float | None = None
        #: last raw signals, for inspection: running crowd size [persons], peak pressure [1/s²]
        self.last_runners = 0.0
        self.last_pressure = 0.0

    @classmethod
    def supports(cls, site: SiteConfig) -> bool:
        return site.projection is not None or site.homography is not None

    def _prepare(self, field) -> None:
        self._field = field
        jac = np.nan_to_num(field.jacobian, nan=np.inf)
        a, b, c, d = jac[..., 0, 0], jac[..., 0, 1], jac[..., 1, 0], jac[..., 1, 1]
        with np.errstate(invalid="ignore"):
            scale = np.sqrt(np.nan_to_num(np.abs(a * d - b * c), nan=np.inf))
        self._trusted = field.valid & (scale <= self.max_m_per_px)
        g = field.ground_m[self._trusted]
        if len(g) == 0:
            self._origin, self._shape = np.zeros(2), (1, 1)
            self._cells = np.zeros(0, np.int64)
            return
        self._origin = g.min(axis=0)
        extent = np.ceil((g.max(axis=0) - self._origin) / self.cell_m).astype(int) + 1
        self._shape = (int(extent[1]), int(extent[0]))  # rows (y), cols (x)
        cell = np.floor((field.ground_m.reshape(-1, 2) - self._origin) / self.cell_m)
        cell = np.nan_to_num(cell, nan=0).astype(np.int64)
        self._cell_of = cell[:, 1] * self._shape[1] + cell[:, 0]  # per flow pixel (valid ones meaningful)
        k = int(round(self.radius_m / self.cell_m))
        self._disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)).astype(np.float32)

    def score(self, percept: Percept) -> DetectorOutput:
        if not percept.ready:
            self._runners = self._pressure = 0.0
            self._pmap = self._umap = None
            self._t = None
            if self._vehicles is not None:
                self._vehicles.reset()
            return NOTHING
        field = percept.flow_field
        if field is not self._field:
            self._prepare(field)
        fw, fh = field.size
        fg = percept.fg_at((fw, fh)) > 96
        mask = fg & self._trusted
        vehicle = vehicle_mask(percept, self._forbidden)
        for left_out in (self._standing_in_forbidden(percept), self._over_forbidden(percept)):
            if left_out is not None:
                vehicle = left_out if vehicle is None else vehicle | left_out
        if self._vehicles is not None:
            # a train standing on (or not yet cleared from) the track bed covers the image up to its roof
            self._vehicles.update(percept)
            region = self._vehicles.region(percept)
            if region is not None:
                vehicle = region if vehicle is None else vehicle | region
        if vehicle is not None:  # a train moving along the platform is no crowd
            mask &= cv2.resize(vehicle.view(np.uint8), (fw, fh), interpolation=cv2.INTER_NEAREST) == 0
        runners, box = 0.0, None
        n_cells = self._shape[0] * self._shape[1]
        if mask.any():
            idx, vel = percept.ground_velocity(mask)
            w = field.persons_per_px.reshape(-1)[idx]
            speed = np.hypot(vel[:, 0], vel[:, 1])
            run = np.clip((speed - self.walk_mps) / (self.run_mps - self.walk_mps), 0.0, 1.0) * w
            cells = self._cell_of[idx]
            grid = np.bincount(cells, weights=run, minlength=n_cells).reshape(self._shape).astype(np.float32)
            crowd = cv2.filter2D(grid, -1, self._disc, borderType=cv2.BORDER_CONSTANT)
            runners = float(crowd.max())
            if runners >= 0.25 * self.min_runners:
                runners = max(runners, self._fast_tracks(percept))
            fast = run > 0.25 * w
            if fast.any():
                box = self._box_of(idx[fast], field)
        dt = 0.0 if self._t is None else percept.t - self._t
        # people where there is foreground to see
        cell_pressure = (self._cell_pressure(percept, n_cells, cells, w, vel, dt) if mask.any()
                         else np.zeros(n_cells))
        a = 1.0 if self._t is None or self.smoothing_s == 0 else 1.0 - math.exp(-dt / self.smoothing_s)
        self._t = percept.t
        self._runners += a * (runners - self._runners)
        # pressure is a state of a place, sustained: each cell's own average over pressure_s (the peak
        # over cells of one frame flickers as flow noise moves from cell to cell)
        b = 1.0 if self._pmap is None or self.pressure_s == 0 else 1.0 - math.exp(-dt / self.pressure_s)
        if self._pmap is None or len(self._pmap) != n_cells:
            self._pmap = np.zeros(n_cells)
        self._pmap += b * (cell_pressure - self._pmap)
        self._pressure = float(self._pmap.max()) if n_cells else 0.0
        self.last_runners, self.last_pressure = runners, float(cell_pressure.max()) if n_cells else 0.0
        s = max(min(1.0, 0.5 * self._runners / self.min_runners), min(1.0, 0.5 * self._pressure / self.pressure_crit))
        if s <= 0:
            return NOTHING
        return DetectorOutput.of([InstanceScore("crowd", float(s), box)])

    def _over_forbidden(self, percept: Percept) -> np.ndarray | None:
        """(wh, ww) bool working pixels whose ground point lies in a forbidden zone or beyond it as seen
        from the camera (None without a forbidden zone or a 3x4 projection): there a pixel shows the
        track bed, the wall behind it, a train's side and roof, or the head of someone at the platform's
        edge, whose weight as a person standing there is no person (computed once)."""
        if not self._forbidden or self._nadir_m is None:
            return None
        if self._over_zone is None or self._over_zone.shape != percept.labels.shape:
            g = percept.grid.ground_m.reshape(-1, 2)
            over = np.zeros(len(g), bool)
            for zone in self._forbidden:
                over |= beyond_zone(zone, self._nadir_m, g)
            self._over_zone = over.reshape(percept.labels.shape)
        return self._over_zone

    def _standing_in_forbidden(self, percept: Percept) -> np.ndarray | None:
        """(wh, ww) bool working pixels of the components whose foot point stands in a forbidden zone,
        or ``zone_reach_px`` working pixels from its floor in the image (None when there is none): a
        train's nose entering the view, still too small for a vehicle component, whose bottom reaches
        the platform's edge, or the track-bed pieces of one leaving; people there are intruders, no crowd."""
        blobs = percept.blobs
        if not self._forbidden or not len(blobs):
            return None
        g = percept.grid
        if self._zone_near is None or self._zone_near.shape != percept.labels.shape:
            floor = np.zeros(percept.labels.shape, np.uint8)
            for zone in self._forbidden:
                floor |= g.zone_mask(zone).view(np.uint8)
            k = 2 * self.zone_reach_px + 1
            self._zone_near = cv2.dilate(floor, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
        wh, ww = percept.labels.shape
        # the blob's bottom working row and centre column (foot_px is the bottom edge in full-res pixels)
        v = np.clip(np.floor(blobs.foot_px[:, 1] / g.sy).astype(np.int64) - 1, 0, wh - 1)
        u = np.clip(np.floor(blobs.foot_px[:, 0] / g.sx).astype(np.int64), 0, ww - 1)
        inside = self._zone_near[v, u]
        if not inside.any():
            return None
        return labels_in(percept.labels, blobs.label[inside])

    def _fast_tracks(self, percept: Percept) -> float:
        """The largest number of tracks running (their displacement over the last ``track_window_s``,
        over the time it took, above ``run_mps``) within ``radius_m`` of one of them: flow inside a
        flat-coloured body is underestimated, a track's displacement is not. The net displacement,
        not the steps: far from the camera a foot placed a pixel up or down jumps half a metre. Tracks
        standing in a forbidden zone or beyond it as seen from the camera are left out: on the pieces
        of a train braking in, 6 to 10 of them ran at the far end of a platform camera (a crowd
        movement at 104.7 s of rush_hour_quiet, tuning seed 201)."""
        tr = percept.tracks
        rows = np.flatnonzero(tr.confirmed & (tr.lost_s == 0))
        fast = []
        for r in rows:
            h = percept.track_history(int(tr.id[r]))
            h = h[h[:, 0] >= percept.t - self.track_window_s - 1e-9]
            span = h[-1, 0] - h[0, 0] if len(h) else 0.0
            if len(h) < 4 or span < 0.5 * self.track_window_s:
                continue
            if np.hypot(h[-1, 1] - h[0, 1], h[-1, 2] - h[0, 2]) / span >= self.run_mps:
                fast.append(tr.foot_m[r])
        if fast and self._forbidden:
            # tracks on a vehicle's pieces (on the track bed, or beyond it as seen from the camera)
            pts = np.array(fast)
            fast = list(pts[~self._on_vehicle(pts)])
        if len(fast) < 2:
            return float(len(fast))
        p = np.array(fast)
        d = np.linalg.norm(p[:, None] - p[None], axis=2)
        return float((d <= self.radius_m).sum(axis=1).max())

    def _cell_pressure(self, percept: Percept, n_cells: int, cells: np.ndarray, w: np.ndarray, vel: np.ndarray,
                       dt: float) -> np.ndarray:
        """(n_cells,) ``rho |V - U|^2`` [1/s²] of each ground cell in this frame (its average over
        ``pressure_s`` is Helbing's pressure), 0 where it is not dense enough to count: ``V`` [m/s]
        the cell's mean ground velocity of the flow pixels ``cells`` (flat cell indices) of person
        shares ``w`` and velocities ``vel``, ``U`` its running average over ``pressure_s`` (updated
        here, ``dt`` [s] after the last frame), ``rho`` the tracks' density there [persons/m²]."""
        mass = np.bincount(cells, weights=w, minlength=n_cells)
        have = mass >= 0.25  # a quarter of a person's pixels at least: a velocity worth averaging
        if self._umap is None or len(self._umap) != n_cells:
            self._umap = np.full((n_cells, 2), np.nan)
        out = np.zeros(n_cells)
        if not have.any():
            return out
        m = mass[have]
        v = np.stack([np.bincount(cells, weights=w * vel[:, 0], minlength=n_cells)[have] / m,
                      np.bincount(cells, weights=w * vel[:, 1], minlength=n_cells)[have] / m], axis=1)
        u = self._umap[have]
        new = np.isnan(u[:, 0])
        u[new] = v[new]
        dev = ((v - u) ** 2).sum(axis=1)
        c = 1.0 if self.pressure_s == 0 else 1.0 - math.exp(-dt / self.pressure_s)
        self._umap[have] = u + c * (v - u)
        rho = self._track_density(percept, np.flatnonzero(have))
        out[have] = np.where(rho >= self.pressure_min_density, rho * dev, 0.0)
        return out

    def _track_density(self, percept: Percept, flat_cells: np.ndarray) -> np.ndarray:
        """(K,) [persons/m²] the density of the confirmed tracks matched in this frame at the centres
        of the ground cells ``flat_cells`` (:func:`local_density`); people on a vehicle's pieces (in a
        forbidden zone or beyond it as seen from the camera) are left out."""
        tr = percept.tracks
        rows = np.flatnonzero(tr.confirmed & (tr.lost_s == 0))
        pos = tr.foot_m[rows]
        pos = pos[np.isfinite(pos).all(axis=1)]
        if self._forbidden and len(pos):
            pos = pos[~self._on_vehicle(pos)]
        r, c = np.divmod(flat_cells, self._shape[1])
        centres = self._origin + (np.stack([c, r], axis=1) + 0.5) * self.cell_m
        return local_density(pos, centres, self.pressure_radius_m)

    def _on_vehicle(self, pts: np.ndarray) -> np.ndarray:
        """(N,) bool: ground points [m] in a forbidden zone or beyond it as seen from the camera (a
        vehicle's pieces, the track bed)."""
        over = np.zeros(len(pts), bool)
        for zone in self._forbidden:
            over |= (beyond_zone(zone, self._nadir_m, pts) if self._nadir_m is not None
                     else np.nan_to_num(zone.signed_distance(pts), nan=-1.0) > 0)
        return over

    def _box_of(self, idx: np.ndarray, field) -> tuple | None:
        fw, fh = field.size
        v, u = np.divmod(idx, fw)
        sx = self.site.image_size[0] / fw
        sy = self.site.image_size[1] / fh
        box = (float(u.min() * sx), float(v.min() * sy), float((u.max() + 1 - u.min()) * sx),
               float((v.max() + 1 - v.min()) * sy))
        return clip_box(box, self.site.image_size)


def local_density(people_m: np.ndarray, at_m: np.ndarray, radius_m: float) -> np.ndarray:
    """(K,) [persons/m²] the density of people at ``people_m`` (N, 2) [m] seen from the points
    ``at_m`` (K, 2) [m], each person weighted ``exp(-d^2 / R^2) / (pi R^2)`` at distance ``d``,
    ``R`` = ``radius_m`` [m] (Helbing, Johansson and Al-Abideen 2007): a person's weights over the
    whole floor sum to 1."""
    people = np.asarray(people_m, dtype=np.float64).reshape(-1, 2)
    at = np.asarray(at_m, dtype=np.float64).reshape(-1, 2)
    if len(people) == 0:
        return np.zeros(len(at))
    d2 = ((at[:, None, :] - people[None, :, :]) ** 2).sum(axis=2)
    return np.exp(-d2 / (radius_m * radius_m)).sum(axis=1) / (math.pi * radius_m * radius_m)
