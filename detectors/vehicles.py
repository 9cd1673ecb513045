"""Vehicles on a forbidden zone's floor: a train braking in, standing at the platform, leaving.

A train is one foreground component far larger than a person whose bottom stands on the track
bed. The people finder splits it into person-sized pieces, the flow sees it move fast and
coherently: without this, a train is the main false-alarm source of both a track-intrusion
and a crowd-movement detector. :func:`vehicle_blobs` picks those components from the frame's
blobs; the detectors that read people silence a zone it occupies (intrusion) or leave its
pixels out (crowd movement).
"""

from __future__ import annotations

import numpy as np

from detectors.perception import Percept, _read_only, labels_in
from detectors.site import Zone

#: [persons] a component whose area amounts to more people than this and whose foot point stands
#: in a forbidden zone is a vehicle (people packed on a track bed do not merge into one blob that size)
VEHICLE_MIN_PERSONS = 8.0
#: [persons] ... of which this many people's area lies on the zone's floor (the rest of a train's
#: side rises above it and maps beyond the zone); one intruder covers about one
VEHICLE_MIN_FLOOR_PERSONS = 3.0


def vehicle_blobs(percept: Percept, zones: tuple[Zone, ...] | list[Zone], min_persons: float = VEHICLE_MIN_PERSONS,
                  min_floor_persons: float = VEHICLE_MIN_FLOOR_PERSONS) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``percept.blobs`` that are vehicles, and the (Z,) bool of which ``zones`` each
    occupies at least one of.

    A vehicle is a component of ``min_persons`` people's area at its foot point or more whose
    pixels on a zone's floor (:meth:`WorkGrid.zone_mask`) amount to ``min_floor_persons``. The
    part on the floor counts, not the component's foot point: passengers on the platform, nearer the camera than the train,
    merge with it and carry its foot point onto the platform.

    The answer is computed once per frame and set of arguments (:meth:`Percept.memo`: the
    detectors of one frame share it); the arrays returned are read-only.
    """
    key = (_zones_key(zones), float(min_persons), float(min_floor_persons))

    def compute():
        rows, occupied = _vehicle_blobs(percept, zones, min_persons, min_floor_persons)
        rows.flags.writeable = False
        occupied.flags.writeable = False
        return rows, occupied

    return percept.memo(("vehicle_blobs", key), compute)


def _vehicle_blobs(percept: Percept, zones, min_persons: float, min_floor_persons: float) -> tuple[np.ndarray, np.ndarray]:
    blobs = percept.blobs
    occupied = np.zeros(len(zones), bool)
    if not len(blobs) or not zones:
        return np.zeros(0, np.int64), occupied
    expected = np.nan_to_num(blobs.expected_area_px, nan=np.inf, posinf=np.inf)
    big = np.flatnonzero(blobs.area_px >= min_persons * expected)  # too small in all: nothing to look at
    if not len(big):
        return big, occupied
    g = percept.grid
    labels = percept.labels.reshape(-1)
    n_labels = int(blobs.label.max()) + 1
    inside = np.zeros(len(big), bool)
    for k, zone in enumerate(zones):
        px = np.flatnonzero(g.zone_mask(zone))
        on_floor = np.bincount(labels[px], minlength=n_labels)[blobs.label[big]] * (g.sx * g.sy)  # [full-res px²]
        hit = on_floor >= min_floor_persons * expected[big]
        occupied[k] = hit.any()
        inside |= hit
    return big[inside], occupied


def _zones_key(zones) -> tuple:
    """A hashable key of ``zones`` (names, kinds and polygons) for :meth:`Percept.memo`."""
    return tuple((z.name, z.kind, tuple(map(tuple, np.asarray(z.polygon_m, float).reshape(-1, 2).tolist())))
                 for z in zones)


def vehicle_mask(percept: Percept, zones) -> np.ndarray | None:
    """(wh, ww) bool working-resolution pixels of vehicle components, or None when there is none.

    Computed once per frame and set of zones (:meth:`Percept.memo`: the crowd, object and track-intrusion
    detectors of one frame share it); the mask returned is read-only."""
    rows, _ = vehicle_blobs(percept, zones)
    if not len(rows):
        return None

    def compute():
        return _read_only(labels_in(percept.labels, percept.blobs.label[rows]))

    return percept.memo(("vehicle_mask", _zones_key(zones)), compute)


def camera_nadir_m(site) -> np.ndarray | None:
    """(2,) [m] the ground point under the camera's centre (the null vector of the site's 3x4
    projection), or None without a projection or for a camera at infinity."""
    if site.projection is None:
        return None
    centre = np.linalg.svd(np.asarray(site.projection, dtype=np.float64))[2][-1]
    if abs(centre[3]) < 1e-12:
        return None
    return centre[:2] / centre[3]


def beyond_zone(zone: Zone, nadir_m: np.ndarray, points_m: np.ndarray, samples: int = 21) -> np.ndarray:
    """(N,) bool: which ground points (N, 2) [m] lie beyond ``zone`` as seen from a camera above
    ``nadir_m`` (2,) [m]: the segment from the nadir to the point passes through the zone (checked at
    ``samples`` points from the nadir to the point itself, so a point inside counts). A vehicle's side
    and roof standing on the zone map onto the floor there; nan points: False."""
    pts = np.asarray(points_m, dtype=np.float64).reshape(-1, 2)
    if not len(pts):
        return np.zeros(0, bool)
    frac = _fractions(int(samples))
    line = nadir_m + frac[None, :, None] * (pts[:, None, :] - nadir_m)  # (N, samples, 2)
    flat = line.reshape(-1, 2)
    # only samples within the zone's bounding box can be inside (nan fails the comparisons): the polygon
    # test on those alone (a whole image's pixels, 1.2 million samples, in a fraction of the time)
    lo, hi = _bounds(zone)
    ok = (flat[:, 0] >= lo[0]) & (flat[:, 0] <= hi[0]) & (flat[:, 1] >= lo[1]) & (flat[:, 1] <= hi[1])
    inside = np.zeros(len(flat), bool)
    inside[ok] = zone.contains(flat[ok])
    return inside.reshape(len(pts), -1).any(axis=1)


_FRACTIONS: dict[int, np.ndarray] = {}
_BOUNDS: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _fractions(samples: int) -> np.ndarray:
    """``np.linspace(0, 1, samples)``, made once per count (read-only)."""
    if samples not in _FRACTIONS:
        _FRACTIONS[samples] = np.linspace(0.0, 1.0, samples)
        _FRACTIONS[samples].flags.writeable = False
    return _FRACTIONS[samples]


def _bounds(zone: Zone) -> tuple[np.ndarray, np.ndarray]:
    """(2,), (2,) [m] the least and greatest corner of ``zone``'s polygon, kept per polygon array."""
    poly = zone.polygon_m
    got = _BOUNDS.get(id(zone))
    if got is None or got[0] is not poly:
        got = (poly, poly.min(axis=0), poly.max(axis=0))
        _BOUNDS[id(zone)] = got
    return got[1], got[2]


class VehicleWatch:
    """Per forbidden zone: whether a vehicle occupies it, from pixels alone, until the floor is seen empty again.

    A zone is *entered* by a vehicle in a frame where a vehicle component stands on it
    (:func:`vehicle_blobs`) or foreground covers ``cover`` of its floor pixels. It stays occupied
    while the vehicle is there and afterwards while the track bed it uncovered is still
    foreground (the long-term background holds the train for seconds after it left, and the
    people finder cuts that ghost into person-sized pieces): until the floor's foreground share
    has stayed below ``clear`` for ``hold_s``. A background that never heals does not blind the
    zone for good: ``max_hold_s`` after the vehicle was last seen the zone is watched again
    whatever its floor shows. A person on the track bed covers a few per cent of it, less than
    ``clear``.

    A vehicle that stops for long is learned by the background and leaves the foreground while it
    still stands there (37 s into a dwell the floor cover of a standing train was down to 5 %: "clear",
    and its doors closing then were cut into person-sized pieces on the track bed). So the floor is
    also compared with how it looked empty: each floor pixel's grey level, followed while the zone is
    watched and the pixel is background, frozen while a vehicle occupies the zone. Floor pixels that
    differ from it by more than ``empty_tol`` grey levels (at the frame's lighting gain) count as not
    empty, as foreground does: a train standing there differs by a hundred.

    The floor that must be seen empty is the floor the vehicle was seen on: the zone's floor pixels
    its components covered (its *footprint*, gathered while it stands on the zone), once they number
    ``min_footprint_px`` working pixels or more; the whole floor otherwise. Much of a zone's floor
    polygon may be hidden from a camera (a corridor camera sees the track bed only through the
    corridor's mouth, a strip a fifth of the zone's floor in the image): over the whole polygon, a
    ghost covering a third of the strip it uncovered shows as 4 % of the floor, "clear".

    :meth:`region` gives the image pixels a vehicle standing on an occupied zone covers: the
    zone's floor extruded to ``height_m`` through the site's 3x4 projection (the floor alone
    without one), where a train's coherent fast flow is no crowd.
    """

    def __init__(self, zones, *, cover: float = 0.25, clear: float = 0.06, hold_s: float = 2.0,
                 max_hold_s: float = 60.0, height_m: float = 4.0, min_footprint_px: int = 50,
                 empty_tol: float = 40.0) -> None:
        if not 0 < clear <= cover <= 1:
            raise ValueError(f"VehicleWatch: need 0 < clear <= cover <= 1 (shares of a zone's floor); got "
                             f"clear={clear!r}, cover={cover!r}")
        for name, value in (("hold_s", hold_s), ("max_hold_s", max_hold_s), ("height_m", height_m),
                            ("min_footprint_px", min_footprint_px), ("empty_tol", empty_tol)):
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"VehicleWatch.{name} must be a finite number >= 0; got {value!r}")
        self.zones = list(zones)
        self.cover, self.clear = float(cover), float(clear)
        self.hold_s, self.max_hold_s, self.height_m = float(hold_s), float(max_hold_s), float(height_m)
        self.min_footprint_px = int(min_footprint_px)
        self.empty_tol = float(empty_tol)
        self._zone_px: list[np.ndarray] | None = None  # flat working-pixel indices of each zone's floor
        self._regions: list[np.ndarray] | None = None
        self.reset()

    def reset(self) -> None:
        n = len(self.zones)
        self._seen = np.full(n, -np.inf)  # [s] last time a vehicle was seen on the zone
        self._dirty = np.full(n, -np.inf)  # [s] last time the floor was not yet clear after a vehicle
        #: (Z,) share of each zone's floor in the foreground in the last frame
        self.floor_cover = np.zeros(n)
        #: (Z,) share of the floor the vehicle was seen on (its footprint) in the foreground in the last
        #: frame (the whole floor's share while the footprint is smaller than ``min_footprint_px``)
        self.seen_cover = np.zeros(n)
        self.occupied = np.zeros(n, bool)
        self._footprint: list[np.ndarray | None] = [None] * n  # per zone: bool over its floor pixels
        self._empty: list[np.ndarray | None] = [None] * n  # per zone: float32 grey of its floor seen empty

    def update(self, percept: Percept) -> np.ndarray:
        """(Z,) bool: the zones a vehicle occupies in this frame (or has not yet cleared)."""
        if self._zone_px is None:
            self._zone_px = [np.flatnonzero(percept.grid.zone_mask(z)) for z in self.zones]
        rows, by_blob = vehicle_blobs(percept, self.zones)
        fg = percept.fg_mask.reshape(-1) > 0
        on_vehicle = vehicle_mask(percept, self.zones) if len(rows) else None
        on_vehicle = None if on_vehicle is None else on_vehicle.reshape(-1)
        grey = percept.grey.reshape(-1)
        gain = float(getattr(percept, "lighting_gain", 1.0)) or 1.0
        cover = np.zeros(len(self.zones))
        seen = np.zeros(len(self.zones))
        for k, px in enumerate(self._zone_px):
            if not len(px):
                continue
            floor_fg = fg[px]
            cover[k] = np.count_nonzero(floor_fg) / len(px)
            level = grey[px].astype(np.float32) / gain  # in the background's lighting
            if self._empty[k] is None:
                self._empty[k] = level
            elif not self.occupied[k]:
                calm = ~floor_fg
                self._empty[k][calm] = level[calm]
            else:  # a vehicle the background has learned is no foreground, but no empty floor either
                floor_fg = floor_fg | (np.abs(level - self._empty[k]) > self.empty_tol)
            if by_blob[k] and on_vehicle is not None:
                covered = on_vehicle[px]
                self._footprint[k] = covered if self._footprint[k] is None else self._footprint[k] | covered
            foot = self._footprint[k]
            n_foot = 0 if foot is None else int(np.count_nonzero(foot))
            if n_foot >= self.min_footprint_px:
                seen[k] = np.count_nonzero(floor_fg & foot) / n_foot
            else:
                seen[k] = np.count_nonzero(floor_fg) / len(px)
        return self.step(percept.t, cover, by_blob, seen)

    @property
    def last_seen_t(self) -> np.ndarray:
        """(Z,) [s] the last time a vehicle was seen entering or standing on each zone (-inf: never)."""
        return self._seen.copy()

    def step(self, t: float, floor_cover: np.ndarray, by_blob: np.ndarray,
             seen_cover: np.ndarray | None = None) -> np.ndarray:
        """The rule alone: at time ``t`` [s], each zone's share of floor pixels in the foreground,
        whether a vehicle component stands on it, and the share of the floor the vehicle was seen on
        in the foreground (default: the whole floor's share); returns the (Z,) occupied zones."""
        self.floor_cover = np.asarray(floor_cover, dtype=np.float64)
        self.seen_cover = self.floor_cover if seen_cover is None else np.asarray(seen_cover, dtype=np.float64)
        entered = np.asarray(by_blob, bool) | (self.floor_cover >= self.cover)
        self._seen[entered] = t
        dirty = entered | ((self.seen_cover >= self.clear) & (t - self._seen <= self.max_hold_s + 1e-9))
        self._dirty[dirty] = t
        self.occupied = t - self._dirty <= self.hold_s + 1e-9
        for k in np.flatnonzero(~self.occupied):
            self._footprint[k] = None  # the next vehicle shows its own footprint
        return self.occupied

    def region(self, percept: Percept) -> np.ndarray | None:
        """(wh, ww) bool working pixels a vehicle on an occupied zone may cover, or None when no zone is occupied."""
        if not self.occupied.any():
            return None
        if self._regions is None:
            self._regions = [_prism_mask(percept.grid, z, self.height_m) for z in self.zones]
        out = np.zeros(self._regions[0].shape, bool)
        for k in np.flatnonzero(self.occupied):
            out |= self._regions[k]
        return out


def _prism_mask(grid, zone: Zone, height_m: float) -> np.ndarray:
    """(wh, ww) bool working pixels of ``zone``'s floor polygon extruded to ``height_m`` (the floor mask
    alone when the site has no 3x4 projection or the prism reaches behind the camera)."""
    import cv2

    floor = grid.zone_mask(zone)
    p = grid.site.projection
    if p is None:
        return floor.copy()
    poly = np.asarray(zone.polygon_m, dtype=np.float64).reshape(-1, 2)
    pts = {}
    for z in (0.0, height_m):
        h = np.c_[poly, np.full(len(poly), z), np.ones(len(poly))] @ p.T
        if np.any(h[:, 2] <= 1e-9):
            return floor.copy()
        pts[z] = h[:, :2] / h[:, 2:3] / [grid.sx, grid.sy]
    out = np.zeros(floor.shape, np.uint8)
    faces = [pts[0.0], pts[height_m]]
    n = len(poly)
    faces += [np.array([pts[0.0][i], pts[0.0][(i + 1) % n], pts[height_m][(i + 1) % n], pts[height_m][i]])
              for i in range(n)]
    for f in faces:
        cv2.fillPoly(out, [np.round(f).astype(np.int32)], 1)
    return (out > 0) | floor


class VehicleMemory:
    """Where a vehicle stood lately: the forbidden zones a vehicle occupied less than ``memory_s`` [s]
    ago, and whether ground points lie within ``margin_m`` [m] of one of them.

    A train at the platform, and for a while after it left, leaves static pieces, ghosts and its
    headlights' light on the track bed and along the platform edge, which the object and fall
    detectors would otherwise take for a bag or a body. Call :meth:`update` once per frame.
    """

    def __init__(self, zones, memory_s: float, margin_m: float) -> None:
        self.zones = tuple(zones)
        self.memory_s, self.margin_m = float(memory_s), float(margin_m)
        self._seen_t = np.full(len(self.zones), -np.inf)  #: [s] last time a vehicle stood in each zone
        self._t = -np.inf

    def update(self, percept: Percept) -> None:
        """Read this frame's vehicles (:func:`vehicle_blobs`)."""
        occupied = vehicle_blobs(percept, self.zones)[1] if self.zones else np.zeros(0, bool)
        self.saw(percept.t, occupied)

    def saw(self, t: float, occupied: np.ndarray) -> None:
        """At time ``t`` [s], a vehicle stood in the zones where ``occupied`` (Z,) bool is True."""
        self._seen_t[np.asarray(occupied, bool)] = t
        self._t = float(t)

    def near(self, points_m: np.ndarray) -> np.ndarray:
        """(N,) bool: which ground points (N, 2) [m] lie in, or within ``margin_m`` of, a zone where a
        vehicle stood in the last ``memory_s`` (nan points: False)."""
        pts = np.asarray(points_m, dtype=np.float64).reshape(-1, 2)
        out = np.zeros(len(pts), bool)
        for zone, seen in zip(self.zones, self._seen_t):
            if self._t - seen <= self.memory_s:
                with np.errstate(invalid="ignore"):
                    out |= zone.signed_distance(pts) > -self.margin_m
        return out
