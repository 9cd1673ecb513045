"""What lies or burns on the floor: objects people set down, and fires.

A scenario has a handful of them at most, so they are kept as records and turned into the
arrays of :class:`~sim.state.ObjectState` and :class:`~sim.state.FireState` on demand.
"""

from __future__ import annotations

import numpy as np

from sim.state import FireState, ObjectKind, ObjectState

#: [m] width, depth, height of the objects people set down, by kind
OBJECT_SIZE_M = {
    ObjectKind.BAG: (0.40, 0.20, 0.30),
    ObjectKind.SUITCASE: (0.45, 0.25, 0.65),
    ObjectKind.BACKPACK: (0.32, 0.22, 0.45),
}
#: BGR colours of bags and suitcases (drawn when a script gives none)
OBJECT_COLOURS = ((30, 30, 30), (60, 40, 30), (40, 40, 90), (90, 60, 40), (50, 80, 50), (20, 20, 110))


class FloorObjects:
    """The objects on the floor and the fires; ids of objects, of fires and of people are
    separate sequences."""

    def __init__(self) -> None:
        self._objects: dict[int, tuple] = {}  # id -> (kind, x, y, yaw, colour, owner id)
        self._object_state: ObjectState | None = None
        self._next_object_id = 1
        self._fires: dict[int, tuple] = {}  # id -> (spec, ignition time)
        self._next_fire_id = 1

    @property
    def any_object(self) -> bool:
        return bool(self._objects)

    @property
    def any_fire(self) -> bool:
        return bool(self._fires)

    def add_object(self, kind: ObjectKind, pos, yaw_rad: float, colour_bgr, owner_id: int = -1) -> int:
        """Put an object on the floor at ``pos`` [m]; returns its id."""
        oid = self._next_object_id
        self._next_object_id += 1
        self._objects[oid] = (int(kind), float(pos[0]), float(pos[1]), float(yaw_rad), tuple(colour_bgr), int(owner_id))
        self._object_state = None
        return oid

    def remove_object(self, object_id: int) -> None:
        del self._objects[object_id]
        self._object_state = None

    def add_fire(self, spec, t: float) -> int:
        """Light the fire of a :class:`sim.scenario.FireEvent` at time ``t`` [s]; returns its id."""
        fid = self._next_fire_id
        self._next_fire_id += 1
        self._fires[fid] = (spec, float(t))
        return fid

    def remove_fire(self, fire_id: int) -> None:
        del self._fires[fire_id]

    def objects(self) -> ObjectState:
        """The objects now (cached until one is added or removed)."""
        if self._object_state is None:
            if not self._objects:
                self._object_state = ObjectState.empty()
            else:
                ids = sorted(self._objects)
                rows = [self._objects[i] for i in ids]
                kinds = np.array([r[0] for r in rows], np.uint8)
                self._object_state = ObjectState(
                    ids=np.array(ids, np.int64), kind=kinds,
                    pos_m=np.array([(r[1], r[2]) for r in rows], np.float64),
                    size_m=np.array([OBJECT_SIZE_M[ObjectKind(k)] for k in kinds.tolist()], np.float64),
                    yaw_rad=np.array([r[3] for r in rows], np.float64),
                    colour_bgr=np.array([r[4] for r in rows], np.uint8),
                    owner_id=np.array([r[5] for r in rows], np.int64),
                )
        return self._object_state

    def fires(self, t: float) -> FireState:
        """The fires at time ``t`` [s]: sizes follow from each fire's age (see ``FireEvent``)."""
        if not self._fires:
            return FireState.empty()
        ids = sorted(self._fires)
        specs = [self._fires[i][0] for i in ids]
        age = np.array([max(t - self._fires[i][1], 0.0) for i in ids])
        grow = np.minimum(age / np.array([s.grow_s for s in specs]), 1.0)
        r0 = np.array([s.flame_radius_m[0] for s in specs])
        r1 = np.array([s.flame_radius_m[1] for s in specs])
        flame_r = r0 + (r1 - r0) * grow
        smoke = np.clip((age - np.array([s.smoke_delay_s for s in specs])) / np.array([s.smoke_ramp_s for s in specs]),
                        0.0, 1.0)
        return FireState(
            ids=np.array(ids, np.int64),
            pos_m=np.array([s.at for s in specs], np.float64).reshape(-1, 2),
            flame_radius_m=flame_r,
            flame_height_m=np.array([s.flame_height_m for s in specs]) * flame_r / r1,
            smoke_radius_m=np.maximum(flame_r, np.array([s.smoke_radius_m for s in specs]) * smoke),
            smoke_density=np.array([s.smoke_density for s in specs]) * smoke,
            age_s=age,
        )
