"""Passengers through a standing train's doors: alighting onto the platform, boarding into the car.

An on-stage train's passengers (:mod:`sim.world.train_runs`) step in from inside a car, in
the doorway of one of its release doors, and walk straight out across the platform edge
(behaviour ALIGHTING, the edge does not hold them back); once on the platform they head for
their exit (LEAVING). A boarder (behaviour BOARDING) walks to the platform in front of the
nearest of the train's boarding doors (a point :data:`FRONT_M` from the edge), then straight
in across the edge, and is gone once :data:`INSIDE_M` inside the car side. Who crosses
which train's doors is ``People.train``. Crossing the edge there is no intrusion: the
ground truth leaves out the door passages while doors are open
(:meth:`~sim.world.train_runs.TrainRuns.passages`).

When the doors start to close, boarders still on their way to a door wait for the next
train (:meth:`sim.world.trains.Trains.wait_for_train`); those already in the doorway get in.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from sim.world.agents import Behaviour, Pedestrian
from sim.world.arrivals import clear_of_agents
from sim.world.navigation import Navigation
from sim.world.people import People
from sim.world.train_runs import TrainRun, TrainRuns

#: [m] boarders gather this far from the platform edge in front of their door
FRONT_M = 0.45
#: [m] a boarder is in once this far inside the car side; an alighter aims this far onto the platform
INSIDE_M = 0.55
#: [m] a boarder within this distance of its door's front point (or in front of the door and this near
#: the edge) steps in
STEP_IN_M = 0.45
_SPACING_M = 0.55  #: [m] between alighting passengers of one party, one behind the other

_BOARDING, _ALIGHTING = int(Behaviour.BOARDING), int(Behaviour.ALIGHTING)


class DoorHost(Protocol):
    """What the doors ask of the model."""

    people: People
    nav: Navigation
    rng: np.random.Generator
    time: float

    def agent_at(self, slot: int) -> Pedestrian: ...

    def leave(self, agent: Pedestrian) -> None:
        """Head for ``agent.exit_index``."""

    def remove_agents(self, agents: list[Pedestrian]) -> None:
        """Take ``agents`` out of the station (they left by their exit)."""


class Doors:
    """The crossings of the on-stage trains' doors (``runs``)."""

    def __init__(self, runs: TrainRuns, nav: Navigation) -> None:
        self.runs = runs
        self.nav = nav

    # --- alighting -------------------------------------------------------------------------
    def alight_positions(self, host: DoorHost, train: int, members: list) -> list[np.ndarray] | None:
        """Where a party (``members``: body kind, prop, radius each) stands inside a car, in the
        doorway of one of ``train``'s release doors (drawn at random), one behind the other;
        None when the doorway is taken."""
        run = self.runs[train]
        b = run.body
        d = int(run.release_doors[int(host.rng.integers(len(run.release_doors)))])
        centre = run.door_s_m()[d]
        radius0 = members[0][2]
        slack = max(b.door_width_m / 2 - radius0 - 0.05, 0.0)
        s = centre + host.rng.uniform(-slack, slack)
        out = []
        for j, (_, _, radius) in enumerate(members):
            depth = b.gap_m + 0.05 + radius + j * _SPACING_M
            if depth > b.gap_m + b.width_m - radius:
                return None  # a party longer than the car is wide waits for its turn
            p = b.ground(s, depth)
            if not clear_of_agents(host.people, p, radius):
                return None
            out.append(p)
        return out

    def alighted(self, host: DoorHost, agents: list[Pedestrian], train: int) -> None:
        """``agents`` (just spawned inside ``train``) walk straight out onto the platform."""
        people = host.people
        b = self.runs[train].body
        out_dir = -np.asarray(b.normal)
        for a in agents:
            s = a.slot
            along, _ = b.local(people.pos[s])
            a.set_behaviour(Behaviour.ALIGHTING)
            people.goal[s] = b.ground(along, -INSIDE_M)
            people.goal_is_point[s] = True
            people.field[s] = -1
            people.arrive[s] = False
            people.check_at[s] = np.inf
            people.edge_free[s] = True
            people.train[s] = train
            people.heading[s] = out_dir
        people.any_edge_free = True

    # --- boarding --------------------------------------------------------------------------
    def board(self, host: DoorHost, agent: Pedestrian, train: int) -> None:
        """``agent`` walks to the nearest boarding door of ``train`` (standing there) to get in."""
        people = host.people
        run = self.runs[train]
        s = agent.slot
        fronts = run.body.ground(run.door_s_m(run.board_doors), -FRONT_M)
        k = int(np.argmin(np.hypot(*(fronts - people.pos[s]).T)))
        agent.set_behaviour(Behaviour.BOARDING)
        people.goal[s] = fronts[k]
        people.goal_is_point[s] = True
        people.field[s] = self.nav.point_field(fronts[k])
        people.arrive[s] = False
        people.wait_until[s] = np.inf
        people.check_at[s] = np.inf
        people.train[s] = train

    def closing(self, host: DoorHost, train: int) -> list[Pedestrian]:
        """The doors of ``train`` start to close: its boarders not yet in the doorway are let go
        (returned, to wait for the next train); the others get in."""
        people = host.people
        n = people.n
        rows = np.nonzero((people.state[:n] == _BOARDING) & (people.train[:n] == train))[0]
        if len(rows) == 0:
            return []
        b = self.runs[train].body
        _, n_goal = b.local(people.goal[rows])
        late = rows[n_goal < 0]  # still walking to the front of a door
        people.train[late] = -1
        return [host.agent_at(s) for s in late.tolist()]

    # --- every step --------------------------------------------------------------------------
    def step(self, host: DoorHost, t: float) -> None:
        """Move the crossings on: alighters on the platform leave for their exit, boarders in front
        of their door step in, boarders inside (or whose doors have shut) are gone."""
        people = host.people
        n = people.n
        rows = np.nonzero((people.state[:n] == _BOARDING) | (people.state[:n] == _ALIGHTING))[0]
        if len(rows) == 0:
            return
        gone: list[Pedestrian] = []
        for train in np.unique(people.train[rows]).tolist():
            mine = rows[people.train[rows] == train]
            gone += self._step_train(host, self.runs[train], mine, t)
        if gone:
            host.remove_agents(gone)

    @staticmethod
    def _keep_in_doorways(people: People, run: TrainRun, rows: np.ndarray, s_pos: np.ndarray, n_pos: np.ndarray
                          ) -> None:
        """The door jambs: a body in the doorway (reaching over the platform edge) stays within its
        door's width, however the crowd pushes it (its position projected back, its sideways speed
        taken away)."""
        b = run.body
        radius = people.radius[rows]
        sel = np.nonzero(n_pos > -radius)[0]
        if len(sel) == 0:
            return
        doors = run.door_s_m()
        centre = doors[np.argmin(np.abs(s_pos[sel, None] - doors[None, :]), axis=1)]
        half = np.maximum(b.door_width_m / 2 - 0.8 * radius[sel], 0.0)
        s_in = np.clip(s_pos[sel], centre - half, centre + half)
        moved = np.nonzero(s_in != s_pos[sel])[0]
        if len(moved):
            slots = rows[sel[moved]]
            people.pos[slots] = b.ground(s_in[moved], n_pos[sel[moved]])
            heading = np.asarray(b.heading)
            people.vel[slots] -= (people.vel[slots] @ heading)[:, None] * heading

    def _step_train(self, host: DoorHost, run: TrainRun, rows: np.ndarray, t: float) -> list[Pedestrian]:
        people = host.people
        b = run.body
        s_pos, n_pos = b.local(people.pos[rows])
        _, n_goal = b.local(people.goal[rows])
        alighting = people.state[rows] == _ALIGHTING
        crossing = alighting | (n_goal > 0)
        self._keep_in_doorways(people, run, rows[crossing], s_pos[crossing], n_pos[crossing])
        out = rows[alighting & (n_pos < -0.05)]
        for s in out.tolist():
            people.edge_free[s] = False
            people.train[s] = -1
            host.leave(host.agent_at(s))
        boarding = ~alighting
        inside = boarding & ((n_pos > b.gap_m + INSIDE_M) | (run.door_open(t) <= 0.0))
        gone = [host.agent_at(s) for s in rows[inside].tolist()]
        approach = np.nonzero(boarding & ~inside & (n_goal < 0))[0]
        if len(approach):
            d_goal = np.hypot(*(people.goal[rows[approach]] - people.pos[rows[approach]]).T)
            doors = run.door_s_m(run.board_doors)
            in_front = np.abs(s_pos[approach, None] - doors[None, :]).min(axis=1) < b.door_width_m / 2 - 0.2
            step_in = approach[(d_goal < STEP_IN_M) | (in_front & (n_pos[approach] > -(FRONT_M + 0.5)))]
            half = max(b.door_width_m / 2 - 0.3, 0.0)
            for k in step_in.tolist():
                s = int(rows[k])
                door = doors[int(np.argmin(np.abs(doors - s_pos[k])))]  # straight in through the door in front
                along = min(max(float(s_pos[k]), door - half), door + half)
                people.goal[s] = b.ground(along, b.gap_m + INSIDE_M + 0.4)
                people.field[s] = -1
                people.edge_free[s] = True
            if len(step_in):
                people.any_edge_free = True
        return gone
