"""Trains at the platform: boarding exits that open while a train stands there, and who boards.

A train with a ``board`` exit opens it for ``dwell_s`` from ``at_s``: everyone WAITING
within ``BOARD_REACH_M`` of that exit (and the rest of their parties) leaves by it, and so
does anyone who starts waiting there while it is open. A boarding exit is train-only: no
arrival chooses it, it removes people only while a train stands there, and whoever has not
reached it when the doors close waits for the next train (where it stands when that is
within reach, else at a waiting point near the exit; with no train to come, it leaves by
its own exit). People who wait within ``BOARD_REACH_M`` of a boarding exit that a later
train serves wait for that train. ``boarded_by_train`` counts the people each train took.
(The passengers a train releases arrive through :mod:`sim.world.arrivals`.)
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import numpy as np

from sim.errors import SimulationError
from sim.geometry import point_segment_distance_rowwise
from sim.world.agents import Behaviour, Pedestrian
from sim.world.navigation import Navigation
from sim.world.parties import Parties
from sim.world.people import People

#: [m] a person waiting within this distance of a train's boarding exit boards the train
BOARD_REACH_M = 8.0

_WAITING, _LEAVING = int(Behaviour.WAITING), int(Behaviour.LEAVING)


class TrainHost(Protocol):
    """What the trains ask of the model."""

    people: People
    nav: Navigation
    rng: np.random.Generator
    time: float

    def agent_at(self, slot: int) -> Pedestrian: ...

    def leave(self, agent: Pedestrian) -> None:
        """Head for ``agent.exit_index``."""

    def wait_here(self, agent: Pedestrian) -> None:
        """Stand and wait where it is, with no end."""

    def walk_to_spot(self, agent: Pedestrian, spot: int, point: np.ndarray) -> None:
        """Walk to ``point`` near waiting spot ``spot``, to wait there."""


class Trains:
    """The boarding exits of ``station.trains`` (exit names ``exit_names``, segments
    ``exit_seg``) and their doors' timetable."""

    def __init__(self, scenario, exit_names: list[str], exit_seg: np.ndarray, nav: Navigation,
                 parties: Parties) -> None:
        st = scenario.station
        crowd = scenario.crowd
        self.specs = st.trains
        self.exit_names = exit_names
        self.exit_seg = exit_seg
        self.parties = parties
        self.board_exits = sorted({exit_names.index(tr.board) for tr in st.trains if tr.board is not None})
        self.ordinary_exits = [k for k in range(len(exit_names)) if k not in self.board_exits]
        for i, tr in enumerate(st.trains):
            if tr.exit is not None and exit_names.index(tr.exit) in self.board_exits:
                raise SimulationError(
                    f"scenario {scenario.name!r}: station.trains[{i}].exit must be an ordinary exit; got {tr.exit!r}, "
                    f"which trains board by (a boarding exit is train-only)")
        if self.board_exits and not self.ordinary_exits and (st.entrances or crowd.initial_count):
            raise SimulationError(
                f"scenario {scenario.name!r}: station.exits: people arrive but every exit is a train's boarding exit "
                f"({', '.join(exit_names)}); add an ordinary exit")
        self.exit_open = np.ones(len(exit_names), bool)  # a boarding exit is open while a train stands there
        self.exit_open[self.board_exits] = False
        self._open_count = np.zeros(len(exit_names), np.int64)
        doors = []
        for i, tr in enumerate(st.trains):
            if tr.board is not None:
                b = exit_names.index(tr.board)
                doors += [(float(tr.at_s), 1, i, b), (float(tr.at_s + tr.dwell_s), 0, i, b)]
        doors.sort()  # by time; on a tie the doors of one train close before the next one's open
        self._doors = deque(doors)
        #: people sent to board each train (index of ``station.trains``)
        self.boarded_by_train = [0] * len(st.trains)
        # waiting spots within reach of each boarding exit (where people wait for a train)
        spots = nav.spots
        self.board_spots = {}
        for b in self.board_exits:
            if len(spots):
                d = point_segment_distance_rowwise(spots, *(np.broadcast_to(q, spots.shape) for q in exit_seg[b]))
                self.board_spots[b] = np.nonzero(d <= BOARD_REACH_M)[0]
            else:
                self.board_spots[b] = np.zeros(0, np.int64)
        self.train_spots = np.unique(np.concatenate([np.zeros(0, np.int64), *self.board_spots.values()]))
        if crowd.train_share > 0 and len(self.train_spots) == 0:
            raise SimulationError(
                f"scenario {scenario.name!r}: crowd.train_share={crowd.train_share:g} needs a train that boards "
                f"(station.trains[].board) with free floor within {BOARD_REACH_M:g} m of its exit; got "
                f"{'none' if not self.board_exits else 'no such floor'}")

    def doors_due_by(self, t: float) -> bool:
        """Whether a door opens or closes at or before ``t`` [s]."""
        return bool(self._doors) and self._doors[0][0] <= t + 1e-9

    def doors_due(self, host: TrainHost, t: float) -> None:
        """Open and close the boarding exits whose train arrives or leaves by ``t`` [s]."""
        people = host.people
        while self._doors and self._doors[0][0] <= t + 1e-9:
            _, opens, i, b = self._doors.popleft()
            if opens:
                self._open_count[b] += 1
                self.exit_open[b] = True
                self._board_waiting(host, i, b)
            else:
                self._open_count[b] -= 1
                if self._open_count[b] == 0:
                    self.exit_open[b] = False
                    n = people.n
                    late = np.nonzero((people.state[:n] == _LEAVING) & (people.exit_idx[:n] == b))[0]
                    for agent in [host.agent_at(s) for s in late.tolist()]:
                        self.wait_for_train(host, agent, b)

    def _board_waiting(self, host: TrainHost, train: int, b: int) -> None:
        """Everyone WAITING within ``BOARD_REACH_M`` of boarding exit ``b`` boards train ``train``."""
        people = host.people
        n = people.n
        cand = np.nonzero((people.state[:n] == _WAITING) & ~people.frozen[:n])[0]
        if len(cand) == 0:
            return
        pos = people.pos[cand]
        a, c = (np.broadcast_to(q, pos.shape) for q in self.exit_seg[b])
        near = cand[point_segment_distance_rowwise(pos, a, c) <= BOARD_REACH_M]
        self._board(host, [host.agent_at(s) for s in near.tolist()], b, train)

    def _board(self, host: TrainHost, agents: list[Pedestrian], b: int, train: int | None = None) -> None:
        """``agents`` and the members of their parties who wait or walk leave by boarding exit ``b``."""
        boarding = self.parties.with_members(agents, (Behaviour.WAITING, Behaviour.WALKING))
        for o in boarding:
            o.exit_index = b
            host.leave(o)
        if train is None:  # joining a train that stands there: the latest one to open at b
            train = max((i for i, tr in enumerate(self.specs) if tr.board is not None
                         and self.exit_names.index(tr.board) == b and tr.at_s <= host.time + 1e-9),
                        key=lambda i: self.specs[i].at_s, default=None)
        if train is not None:
            self.boarded_by_train[train] += len(boarding)

    def _train_later(self, b: int) -> bool:
        """Whether a train that boards by exit ``b`` has still to arrive."""
        return any(opens and k == b for _, opens, _, k in self._doors)

    def _near(self, p: np.ndarray, b: int) -> bool:
        a, c = self.exit_seg[b]
        return bool(point_segment_distance_rowwise(p[None], a[None], c[None])[0] <= BOARD_REACH_M)

    def wait_for_train(self, host: TrainHost, agent: Pedestrian, b: int) -> None:
        """``agent`` did not reach boarding exit ``b`` in time (or came to it with no train).

        With a train still to come there, it waits for it: where it stands when that is
        within ``BOARD_REACH_M`` of the exit (outside one-way zones), else it walks to a
        waiting point there. With none to come, it leaves by its own exit."""
        people = host.people
        s = agent.slot
        agent.exit_index = int(people.own_exit[s])
        people.exit_idx[s] = agent.exit_index
        if not self._train_later(b):
            host.leave(agent)
            return
        p = people.pos[s]
        spots = self.board_spots[b]
        if (self._near(p, b) and not (host.nav.one_way and host.nav.in_one_way(p)[0])) or len(spots) == 0:
            host.wait_here(agent)  # for the next train, where it stands
            return
        spot, point = host.nav.draw_wait_point(host.rng, int(spots[int(host.rng.integers(len(spots)))]))
        host.walk_to_spot(agent, spot, point)

    def at_platform(self, host: TrainHost, agent: Pedestrian) -> None:
        """A person who starts waiting within reach of a boarding exit boards the train that
        stands there, or waits for the next one to come."""
        people = host.people
        s = agent.slot
        p = people.pos[s]
        for b in self.board_exits:
            if not self._near(p, b):
                continue
            if self.exit_open[b]:
                self._board(host, [agent], b)
                return
            if self._train_later(b):
                people.wait_until[s] = people.check_at[s] = np.inf
                return
