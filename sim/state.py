"""The crowd's state at one instant, as the renderer and the ground-truth recorder see it.

A structure of arrays: row ``i`` of every array is the same pedestrian. The simulation
owns the live arrays; :meth:`sim.model.StationModel.snapshot` hands out a copy.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np


class Posture(IntEnum):
    """What a body is doing, for drawing and for ground truth."""

    STANDING = 0
    WALKING = 1
    FALLING = 2  #: rotating to the floor; ``posture_progress`` goes 0 -> 1
    LYING = 3


@dataclass(frozen=True, kw_only=True)
class CrowdState:
    t: float  #: [s] simulated time
    ids: np.ndarray  #: (N,) int64, stable per pedestrian for the whole run
    pos_m: np.ndarray  #: (N, 2) float64 [m] ground position (x, y)
    vel_mps: np.ndarray  #: (N, 2) float64 [m/s]
    heading_rad: np.ndarray  #: (N,) float64, facing direction (ccw from +x), smoothed
    radius_m: np.ndarray  #: (N,) float64 [m] body radius
    height_m: np.ndarray  #: (N,) float64 [m] body height
    gait_phase: np.ndarray  #: (N,) float64 [rad] leg swing phase, advances with distance walked
    posture: np.ndarray  #: (N,) uint8, :class:`Posture`
    posture_progress: np.ndarray  #: (N,) float32 in [0, 1] (fall rotation)
    shirt_bgr: np.ndarray  #: (N, 3) uint8
    trousers_bgr: np.ndarray  #: (N, 3) uint8
    skin_bgr: np.ndarray  #: (N, 3) uint8
    hair_bgr: np.ndarray  #: (N, 3) uint8
    appearance_group: np.ndarray  #: (N,) int16, the appearance class drawn for this person

    def __post_init__(self) -> None:
        n = len(self.ids)
        for f in fields(self):
            if f.name == "t":
                continue
            arr = getattr(self, f.name)
            if len(arr) != n:
                raise ValueError(f"CrowdState.{f.name} has {len(arr)} rows; ids has {n}")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, mask) -> "CrowdState":
        """Rows selected by a boolean mask or an index array."""
        kw = {f.name: (getattr(self, f.name) if f.name == "t" else getattr(self, f.name)[mask]) for f in fields(self)}
        return CrowdState(**kw)

    @classmethod
    def empty(cls, t: float = 0.0) -> "CrowdState":
        z2 = np.zeros((0, 2))
        c3 = np.zeros((0, 3), np.uint8)
        return cls(t=t, ids=np.zeros(0, np.int64), pos_m=z2, vel_mps=z2.copy(), heading_rad=np.zeros(0),
                   radius_m=np.zeros(0), height_m=np.zeros(0), gait_phase=np.zeros(0),
                   posture=np.zeros(0, np.uint8), posture_progress=np.zeros(0, np.float32),
                   shirt_bgr=c3, trousers_bgr=c3.copy(), skin_bgr=c3.copy(), hair_bgr=c3.copy(),
                   appearance_group=np.zeros(0, np.int16))
