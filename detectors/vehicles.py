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


def vehicle_blobs(percept: Percept, zones: tuple[Zone, ...] | list[Zone],
                  min_persons: float = VEHICLE_MIN_PERSONS) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``percept.blobs`` that are vehicles, and the (Z,) bool of which ``zones`` each
    occupies at least one of (by foot point)."""
    blobs = percept.blobs
    occupied = np.zeros(len(zones), bool)
    if not len(blobs) or not zones:
        return np.zeros(0, np.int64), occupied
    big = np.flatnonzero(np.nan_to_num(blobs.persons, nan=0.0, posinf=0.0) >= min_persons)
    if not len(big):
        return big, occupied
    foot = blobs.foot_m[big]
    ok = np.all(np.isfinite(foot), axis=1)
    inside = np.zeros(len(big), bool)
    for k, zone in enumerate(zones):
        hit = np.zeros(len(big), bool)
        hit[ok] = zone.contains(foot[ok])
        occupied[k] = hit.any()
        inside |= hit
    return big[inside], occupied


def vehicle_mask(percept: Percept, zones) -> np.ndarray | None:
    """(wh, ww) bool working-resolution pixels of vehicle components, or None when there is none."""
    rows, _ = vehicle_blobs(percept, zones)
    if not len(rows):
        return None
    return np.isin(percept.labels, percept.blobs.label[rows])
