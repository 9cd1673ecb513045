"""The crowd's state as a structure of arrays: one row per pedestrian present.

Rows ``0 .. n - 1`` hold the pedestrians present now; a :class:`~sim.world.agents.Pedestrian`
knows its row (``slot``). Removing a pedestrian moves the last row into its place, so the
rows stay packed and every vectorised step works on ``array[:n]``. The arrays grow by
doubling.
"""

from __future__ import annotations

import numpy as np

#: name -> (shape of one row, dtype)
FIELDS: dict[str, tuple[tuple[int, ...], type]] = {
    "ids": ((), np.int64),  #: Mesa's unique id of the pedestrian
    "pos": ((2,), np.float64),  #: [m] ground position
    "vel": ((2,), np.float64),  #: [m/s] velocity
    "heading": ((2,), np.float64),  #: unit facing direction
    "gait": ((), np.float64),  #: [rad] gait phase
    "radius": ((), np.float64),  #: [m] body radius
    "height": ((), np.float64),  #: [m] body height
    "v0": ((), np.float64),  #: [m/s] desired speed
    "state": ((), np.uint8),  #: :class:`~sim.world.agents.Behaviour`
    "field": ((), np.int64),  #: floor field followed (-1: straight to the goal)
    "goal": ((2,), np.float64),  #: [m] where it heads
    "goal_is_point": ((), bool),  #: the goal is a point (not the middle of an exit)
    "arrive": ((), bool),  #: slows down on approaching the goal
    "wait_until": ((), np.float64),  #: [s] end of the current wait (inf: none)
    "wait_len": ((), np.float64),  #: [s] drawn waiting time
    "exit_idx": ((), np.int64),  #: exit it leaves by
    "edge_free": ((), bool),  #: platform edges do not push it back
    "check_at": ((), np.float64),  #: [s] next time its transitions are evaluated
    "party": ((), np.int64),  #: party id (-1: alone)
    "own_exit": ((), np.int64),  #: the exit it chose when it arrived
    "train": ((), np.int64),  #: the train whose doors it is crossing (index of station.trains; -1: none)
    "shirt": ((3,), np.uint8),  #: BGR colours
    "trousers": ((3,), np.uint8),
    "skin": ((3,), np.uint8),
    "hair": ((3,), np.uint8),
    "group": ((), np.int16),  #: appearance group
    # set by behaviour scripts: a pose other than standing/walking (0: none), its progress,
    # frozen in place, the prop carried and how far it is raised, the vest, the body kind
    "pose": ((), np.uint8),
    "pose_progress": ((), np.float32),
    "frozen": ((), bool),
    "prop": ((), np.uint8),
    "prop_raise": ((), np.float32),
    "vest": ((), bool),
    "body": ((), np.uint8),
}


class People:
    """The arrays of :data:`FIELDS` (attributes of the same names) with ``n`` rows in use."""

    def __init__(self, capacity: int) -> None:
        self.n = 0
        self.capacity = 0
        #: whether a pedestrian may have ``edge_free`` set (kept up to date by the model's
        #: transitions; only False guarantees that none has)
        self.any_edge_free = False
        self._grow(capacity)

    def _grow(self, capacity: int) -> None:
        for name, (shape, dtype) in FIELDS.items():
            arr = np.zeros((capacity, *shape), dtype)
            old = getattr(self, name, None)
            if old is not None:
                arr[: self.n] = old[: self.n]
            setattr(self, name, arr)
        self.capacity = capacity
        self.any_edge_free = bool(self.edge_free[: self.n].any())

    def add(self) -> int:
        """A new row at the end (its values are left over: the caller fills them)."""
        if self.n == self.capacity:
            self._grow(2 * self.capacity)
        s = self.n
        self.n += 1
        return s

    def remove(self, s: int) -> bool:
        """Remove row ``s`` by moving the last row into it; True when a row moved."""
        last = self.n - 1
        moved = s != last
        if moved:
            for name in FIELDS:
                arr = getattr(self, name)
                arr[s] = arr[last]
        self.n -= 1
        return moved
