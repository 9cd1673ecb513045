"""The world's state at one instant, as the renderer and the ground-truth recorder see it.

The crowd is a structure of arrays: row ``i`` of every array is the same pedestrian. The
simulation owns the live arrays; :meth:`sim.world.model.StationModel.snapshot` hands out a
copy. Objects on the floor, fires and trains are structures of arrays too; a train's fixed
shape, place and livery are a :class:`TrainBody` (what it does over time is
:mod:`sim.world.train_runs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import IntEnum

import numpy as np


class Posture(IntEnum):
    """What a body is doing, for drawing and for ground truth."""

    STANDING = 0
    WALKING = 1
    FALLING = 2  #: rotating to the floor; ``posture_progress`` goes 0 -> 1
    LYING = 3
    SITTING = 4  #: on the floor or a bench (hip at about 0.45 m, or on the floor)
    CROUCHING = 5  #: tying a shoe, picking something up (``posture_progress`` 0 -> 1 -> 0)


class Prop(IntEnum):
    """What a person carries (drawn at the hand; ``prop_raise`` lifts long ones to the shoulder)."""

    NONE = 0
    BAG = 1  #: shoulder or hand bag
    SUITCASE = 2  #: wheeled, pulled behind
    BACKPACK = 3
    RIFLE = 4  #: long rigid object (the weapon look)
    UMBRELLA = 5
    CANE = 6
    GUITAR_CASE = 7


class BodyKind(IntEnum):
    ADULT = 0
    CHILD = 1  #: smaller body, walks with a group
    WHEELCHAIR = 2  #: seated on a wheelchair


class ObjectKind(IntEnum):
    """Objects lying on the floor (set down, left behind)."""

    BAG = 1
    SUITCASE = 2
    BACKPACK = 3


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
    prop: np.ndarray | None = None  #: (N,) uint8 :class:`Prop` carried (default none)
    prop_raise: np.ndarray | None = None  #: (N,) float32 in [0, 1]: 0 held low, 1 raised to aim
    vest: np.ndarray | None = None  #: (N,) bool, high-visibility vest (staff)
    body: np.ndarray | None = None  #: (N,) uint8 :class:`BodyKind` (default adult)

    def __post_init__(self) -> None:
        n = len(self.ids)
        defaults = {"prop": np.uint8, "prop_raise": np.float32, "vest": np.bool_, "body": np.uint8}
        for name, dtype in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.zeros(n, dtype))
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


@dataclass(frozen=True, kw_only=True)
class ObjectState:
    """Objects on the floor: bags and suitcases set down or left behind."""

    ids: np.ndarray  #: (M,) int64, stable per object
    kind: np.ndarray  #: (M,) uint8 :class:`ObjectKind`
    pos_m: np.ndarray  #: (M, 2) [m] centre on the ground
    size_m: np.ndarray  #: (M, 3) [m] width, depth, height
    yaw_rad: np.ndarray  #: (M,) orientation on the floor
    colour_bgr: np.ndarray  #: (M, 3) uint8
    owner_id: np.ndarray  #: (M,) int64 pedestrian who set it down (-1 if none)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> "ObjectState":
        return cls(ids=np.zeros(0, np.int64), kind=np.zeros(0, np.uint8), pos_m=np.zeros((0, 2)),
                   size_m=np.zeros((0, 3)), yaw_rad=np.zeros(0), colour_bgr=np.zeros((0, 3), np.uint8),
                   owner_id=np.zeros(0, np.int64))


@dataclass(frozen=True, kw_only=True)
class FireState:
    """Fires burning now: a flickering flame region that grows, then smoke that rises and spreads."""

    ids: np.ndarray  #: (F,) int64
    pos_m: np.ndarray  #: (F, 2) [m] centre of the burning area on the ground
    flame_radius_m: np.ndarray  #: (F,) [m] radius of the flame base
    flame_height_m: np.ndarray  #: (F,) [m] mean flame height
    smoke_radius_m: np.ndarray  #: (F,) [m] horizontal spread of the smoke plume
    smoke_density: np.ndarray  #: (F,) in [0, 1], opacity of the smoke
    age_s: np.ndarray  #: (F,) [s] time since ignition (drives flicker and growth)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> "FireState":
        z = np.zeros(0)
        return cls(ids=np.zeros(0, np.int64), pos_m=np.zeros((0, 2)), flame_radius_m=z, flame_height_m=z.copy(),
                   smoke_radius_m=z.copy(), smoke_density=z.copy(), age_s=z.copy())


class TrainPhase(IntEnum):
    """What a train in the station is doing."""

    ARRIVING = 0  #: braking into the platform
    DWELLING = 1  #: standing at the platform (doors opening, open, closing)
    DEPARTING = 2  #: accelerating away


@dataclass(frozen=True, kw_only=True)
class TrainBody:
    """The fixed shape, place and livery of one train.

    Positions along the track are ``s`` [m] from ``origin_m`` in the direction of travel
    ``heading``; across it ``n`` [m] from the platform edge toward the track bed
    (``normal``); ``z`` [m] up from the platform. The body's platform side stands at
    ``n = gap_m``, its far side at ``gap_m + width_m``. With the head at ``s``, the body
    spans ``[s - length_m, s]``; doors are on the platform side, ``doors_per_car`` per car,
    evenly spaced. The station's track bed runs over ``portal_s_m`` (beyond it the train is
    in the tunnel, out of sight).
    """

    index: int  #: the train's number (index of ``station.trains``)
    edge: int  #: the platform edge it stops at (index of ``station.platform_edges``)
    origin_m: tuple[float, float]  #: [m] ground point where s = 0, n = 0 (an end of the platform edge)
    heading: tuple[float, float]  #: unit direction of travel on the ground
    normal: tuple[float, float]  #: unit normal from the platform toward the track bed
    portal_s_m: tuple[float, float]  #: [m] the track bed's extent along s (the tunnel mouths)
    gap_m: float  #: [m] from the platform edge to the body's side
    width_m: float
    height_m: float  #: [m] roof above the platform
    car_length_m: float
    cars: int
    doors_per_car: int
    door_width_m: float
    door_height_m: float
    body_bgr: tuple[int, int, int]
    stripe_bgr: tuple[int, int, int]
    door_bgr: tuple[int, int, int]
    cab_bgr: tuple[int, int, int]
    headlights: bool = True

    @property
    def length_m(self) -> float:
        return self.cars * self.car_length_m

    def door_offsets_m(self) -> np.ndarray:
        """(D,) [m] distance of each door's centre behind the head, head first."""
        k = self.doors_per_car
        per_car = (np.arange(k) + 0.5) * (self.car_length_m / k)
        return (np.arange(self.cars)[:, None] * self.car_length_m + per_car[None, :]).ravel()

    def ground(self, s, n) -> np.ndarray:
        """World ground points (..., 2) [m] of train coordinates ``s``, ``n`` [m]."""
        s = np.asarray(s, dtype=np.float64)
        n = np.asarray(n, dtype=np.float64)
        o, h, m = (np.asarray(v, dtype=np.float64) for v in (self.origin_m, self.heading, self.normal))
        return o + s[..., None] * h + n[..., None] * m

    def local(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Train coordinates ``(s, n)`` [m] of world ground points ``xy`` (..., 2)."""
        rel = np.asarray(xy, dtype=np.float64) - np.asarray(self.origin_m)
        return rel @ np.asarray(self.heading), rel @ np.asarray(self.normal)


@dataclass(frozen=True, kw_only=True)
class TrainState:
    """The trains in the station now (between its tunnel mouths) or about to come out of a tunnel
    mouth (their headlights light the station first), one row each."""

    ids: np.ndarray  #: (T,) int64, the train's number (index of ``station.trains``)
    head_s_m: np.ndarray  #: (T,) [m] position of the head along the track (:class:`TrainBody` coordinates)
    speed_mps: np.ndarray  #: (T,) [m/s]
    door_open: np.ndarray  #: (T,) in [0, 1]: 0 closed, 1 fully open
    phase: np.ndarray  #: (T,) uint8 :class:`TrainPhase`
    bodies: tuple = ()  #: (T,) :class:`TrainBody` of each row

    def __post_init__(self) -> None:
        n = len(self.ids)
        for name in ("head_s_m", "speed_mps", "door_open", "phase", "bodies"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"TrainState.{name} has {len(getattr(self, name))} rows; ids has {n}")

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def empty(cls) -> "TrainState":
        z = np.zeros(0)
        return cls(ids=np.zeros(0, np.int64), head_s_m=z, speed_mps=z.copy(), door_open=z.copy(),
                   phase=np.zeros(0, np.uint8))


@dataclass(frozen=True, kw_only=True)
class WorldState:
    """Everything a camera can see at one instant: the crowd, objects on the floor, fires and trains."""

    t: float
    crowd: CrowdState
    objects: ObjectState
    fires: FireState
    trains: TrainState = field(default_factory=TrainState.empty)

    @classmethod
    def of(cls, crowd: CrowdState) -> "WorldState":
        return cls(t=crowd.t, crowd=crowd, objects=ObjectState.empty(), fires=FireState.empty())
