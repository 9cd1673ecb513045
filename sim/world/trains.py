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

An on-stage train (:mod:`sim.world.train_runs`) opens its boarding exit while its doors are
fully open, and its boarders do not leave by the exit's segment: they walk to its doors and
get in (:mod:`sim.world.doors`), whoever sent them there (a train opening, a person who
starts waiting near the exit, a runner reaching it).
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

import numpy as np

from sim.errors import SimulationError
from sim.geometry import point_segment_distance_rowwise
from sim.world.agents import Behaviour, Pedestrian
from sim.world.doors import DoorHost, Doors
from sim.world.navigation import Navigation
from sim.world.parties import Parties
from sim.world.train_runs import TrainRuns

#: [m] a person waiting within this distance of a train's boarding exit boards the train
BOARD_REACH_M = 8.0

_WAITING, _LEAVING = int(Behaviour.WAITING), int(Behaviour.LEAVING)


class TrainHost(DoorHost, Protocol):
    """What the trains ask of the model (besides what their doors ask)."""

    def wait_here(self, agent: Pedestrian) -> None:
        """Stand and wait where it is, with no end."""

    def walk_to_spot(self, agent: Pedestrian, spot: int, point: np.ndarray) -> None:
        """Walk to ``point`` near waiting spot ``spot``, to wait there."""


class Trains:
    """The boarding exits of ``station.trains`` (exit names ``exit_names``, segments
    ``exit_seg``) and their doors' timetable; ``runs`` are the on-stage trains, ``doors`` their
    crossings."""

    def __init__(self, scenario, exit_names: list[str], exit_seg: np.ndarray, nav: Navigation,
                 parties: Parties) -> None:
        st = scenario.station
        crowd = scenario.crowd
        self.specs = st.trains
        self.runs = TrainRuns(scenario)
        self.doors = Doors(self.runs, nav)
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
                run = self.runs[i]
                # on stage the exit is open while the doors are; off stage from arrival to departure
                opens, closes = (tr.at_s, tr.at_s + tr.dwell_s) if run is None else (run.open_s, run.close_s)
                doors += [(float(opens), 1, i, b), (float(closes), 0, i, b)]
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
                    agents = [host.agent_at(s) for s in late.tolist()]
                    if self.runs[i] is not None:
                        agents += self.doors.closing(host, i)
                    for agent in agents:
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
        if train is None:  # joining a train that stands there: the latest one to open at b
            train = self.train_at(b, host.time)
        on_stage = train is not None and self.runs[train] is not None
        for o in boarding:
            o.exit_index = b
            host.leave(o)
            if on_stage:
                self.doors.board(host, o, train)
        if train is not None:
            self.boarded_by_train[train] += len(boarding)

    def train_at(self, b: int, t: float) -> int | None:
        """The train that opened boarding exit ``b`` last by ``t`` [s] (None if none has)."""
        return max((i for i, tr in enumerate(self.specs) if tr.board is not None
                    and self.exit_names.index(tr.board) == b and tr.at_s <= t + 1e-9),
                   key=lambda i: self.specs[i].at_s, default=None)

    def at_boarding_exits(self, host: TrainHost, slots: np.ndarray, at_exit: np.ndarray, d_exit: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
        """Leaving people (``slots``) who reached their exit (``at_exit``): at a closed boarding exit
        they wait for the next train, at an on-stage train's open one they go to its doors. Returns
        who leaves by the exit now, and ``d_exit`` [m] with inf for those handed on."""
        exit_idx = host.people.exit_idx[slots]
        closed = at_exit & ~self.exit_open[exit_idx]
        to_doors = at_exit & ~closed & np.isin(exit_idx, self.board_exits)
        for s, b in zip(slots[closed].tolist(), exit_idx[closed].tolist()):
            self.wait_for_train(host, host.agent_at(s), int(b))
        for s, b in zip(slots[to_doors].tolist(), exit_idx[to_doors].tolist()):
            train = self.train_at(int(b), host.time)
            if train is not None and self.runs[train] is not None:
                self.doors.board(host, host.agent_at(s), train)
                self.boarded_by_train[train] += 1
            else:
                to_doors[slots == s] = False  # an off-stage train: out by the exit
        handed = closed | to_doors
        return at_exit & ~handed, np.where(handed, np.inf, d_exit)

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
        people.train[s] = -1
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
