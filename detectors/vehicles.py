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

from detectors.perception import Percept
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
    """
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


def vehicle_mask(percept: Percept, zones) -> np.ndarray | None:
    """(wh, ww) bool working-resolution pixels of vehicle components, or None when there is none."""
    rows, _ = vehicle_blobs(percept, zones)
    if not len(rows):
        return None
    return np.isin(percept.labels, percept.blobs.label[rows])


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
