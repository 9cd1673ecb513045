"""The pedestrian agent: a Mesa agent that holds its behaviour and its row of the crowd's arrays.

The motion of all pedestrians is one vectorised step of the model; a pedestrian's own
methods run only when its behaviour changes (its goal reached, its wait over). It never
imports the model: :class:`CrowdHost` states the little it asks of it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol

import mesa
import numpy as np

from sim.world.people import People


class Behaviour(IntEnum):
    """What a pedestrian is doing; mirrored as uint8 in ``People.state``."""

    WALKING = 0  #: walking to a waiting spot
    WAITING = 1  #: standing at the spot until ``wait_until``
    LEAVING = 2  #: heading for its exit; removed on reaching it
    SCRIPTED = 3  #: driven by a behaviour script (:mod:`sim.events.scripts`)
    BOARDING = 4  #: walking to a standing train's door and in (:mod:`sim.world.doors`); gone once inside
    ALIGHTING = 5  #: stepping out of a train's door onto the platform, then LEAVING


class CrowdHost(Protocol):
    """What a pedestrian asks of the model when its behaviour changes."""

    def start_waiting(self, agent: "Pedestrian") -> None:
        """Stand and wait where it is for its drawn waiting time."""

    def leave_with_party(self, agent: "Pedestrian") -> None:
        """Head for its exit, with the members of its party who wait or walk."""


class Pedestrian(mesa.Agent):
    """One person: its behaviour, its exit, its party and its row ``slot`` of ``people``
    (-1 once it has left the station)."""

    def __init__(self, model: mesa.Model, people: People, slot: int, behaviour: Behaviour, exit_index: int) -> None:
        super().__init__(model)
        self.people = people
        self.slot = slot
        self.exit_index = exit_index
        self.behaviour = behaviour
        self.party = -1  #: id of the party it walks with (-1: alone)

    def step(self) -> None:  # the model moves everyone at once
        """Nothing: the model advances all pedestrians in one vectorised step."""

    @property
    def position(self) -> np.ndarray:
        """[m] Current ground position (a copy)."""
        return self.people.pos[self.slot].copy()

    @property
    def present(self) -> bool:
        """Whether the pedestrian is still in the station (not yet out by an exit)."""
        return self.slot >= 0

    def set_behaviour(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.people.state[self.slot] = behaviour

    # --- transitions (called by the model for the agents whose condition turned true) ----
    def goal_reached(self, host: CrowdHost) -> None:
        """WALKING -> WAITING at the spot until the drawn waiting time is over."""
        if self.behaviour is Behaviour.WALKING:  # else its party left (or boarded) in this very step
            host.start_waiting(self)

    def wait_over(self, host: CrowdHost) -> None:
        """WAITING -> LEAVING toward its exit, with the members of its party who wait or walk."""
        if self.behaviour is Behaviour.WAITING:
            host.leave_with_party(self)
