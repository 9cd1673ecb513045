"""The station model: a Mesa model whose pedestrians move by one vectorised step.

Each pedestrian is a :class:`Pedestrian` (a ``mesa.Agent``) holding its behaviour and a
slot index into the model's structure of arrays (positions, velocities, goals...). A step

1. computes every agent's desired direction (floor field or straight line) and speed,
2. moves everyone with one call of :func:`sim.crowd.motion_step`,
3. finds, with array comparisons, the few agents whose behaviour must change (goal
   reached, wait over, exit reached) and runs Python code for those only,
4. spawns due arrivals (Poisson per entrance, train releases, injected events),
5. runs the behaviour scripts of staged events and distractors (:mod:`sim.behaviours`),
   which drive their few pedestrians (behaviour ``PUPPET``) through the script API below,
6. feeds the ground-truth recorder.

Who arrives is drawn from ``scenario.crowd``: parties of ``group_sizes`` people who spawn
side by side, share their plan (exit, waiting spot, waiting time) and keep together (a
cohesion term added to their desired direction and speed before the motion step: members
turn toward their party's centroid once farther than (size - 1) / 2 m from it, those ahead
slow down and those behind speed up, after Moussaïd et al. 2010); children (walking behind
an adult of their party), wheelchair users, luggage; colours from ``crowd.appearance``
(:func:`sim.appearance.sample_appearance`).

Trains (``station.trains``, or a ``station.timetable``) release ``count`` passengers at their
entrance over ``release_s``; alighting passengers walk straight to their exit. A train with a
``board`` exit opens it for ``dwell_s`` from ``at_s``: everyone WAITING within
``BOARD_REACH_M`` of that exit (and the rest of their parties) leaves by it, and so does
anyone who starts waiting there while it is open. A boarding exit is train-only: no
arrival chooses it, it removes people only while a train stands there, and whoever has not
reached it when the doors close waits for the next train (where it stands when that is
within reach, else at a waiting point near the exit; with no train to come, it leaves by
its own exit). People who wait within ``BOARD_REACH_M`` of a boarding exit that a later
train serves wait for that train (``crowd.train_share`` of the arrivals come for a train:
they wait there). ``boarded_by_train`` counts the people each train took.

People respect one-way zones: the floor field of a destination treats every one-way zone
whose allowed direction points away from that destination as an obstacle (so walkers go
round by another corridor), nobody waits or starts the run inside a one-way zone.

People who sit, crouch, fall or lie are *frozen*: the social force does not move them,
and the others walk round them (a lying body is one disc of ``LYING_RADIUS_M`` centred
half a body length along its heading).

The model is deterministic: one ``numpy.random.Generator`` built from the seed drives
everything (Mesa's own ``rng`` is that generator, its ``random`` is seeded from it) but the
looks, drawn from a second stream spawned from the same seed.

Example::

    from sim.scenario import load_scenario
    from sim.model import StationModel

    model = StationModel(load_scenario("platform_intrusion"))
    model.run_until(30.0)
    state = model.snapshot()          # sim.state.CrowdState, copies
    world = model.world()             # sim.state.WorldState: crowd, objects on the floor, fires
    events = model.truth.events()     # ground-truth event instances

Reference: M. Moussaïd, N. Perozo, S. Garnier, D. Helbing, G. Theraulaz, PLoS ONE 5,
e10047 (2010), the walking behaviour of pedestrian social groups.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import IntEnum

import mesa
import numpy as np

from sim.appearance import sample_appearance
from sim.crowd import SocialForceParams, Walls, advance_gait_and_heading, motion_step
from sim.floorfield import FieldBank, NavGrid, NavGridParams
from sim.geometry import (
    as_polygon,
    point_segment_distance_rowwise,
    polygon_centroid,
    polygon_edges,
    points_in_polygon,
    sample_points_in_polygon,
    segment_crosses_any,
    segment_distances,
    segment_to_segment_distance,
    wall_segments,
)
from sim.behaviours import build_scripts
from sim.scenario import IntrusionEvent, OrangeClothingDistractor, Scenario, StaffInZoneDistractor
from sim.state import BodyKind, CrowdState, FireState, ObjectKind, ObjectState, Posture, Prop, WorldState
from sim.truth import TruthRecorder, TruthRules


class SimulationError(RuntimeError):
    """The model cannot go on as the scenario asks; the message names the scenario key."""


class Behaviour(IntEnum):
    """What a pedestrian is doing; mirrored as uint8 in the model's arrays."""

    WALKING = 0  #: walking to a waiting spot
    WAITING = 1  #: standing at the spot until ``wait_until``
    LEAVING = 2  #: heading for its exit; removed on reaching it
    SCRIPTED = 3  #: following an injected event's script (waypoints, dwell)
    PUPPET = 4  #: driven step by step by a behaviour script (:mod:`sim.behaviours`)


# plain ints for array comparisons in the step (enum attribute lookups cost microseconds)
_WALKING, _WAITING, _LEAVING, _SCRIPTED, _PUPPET = (int(b) for b in Behaviour)
_LYING = int(Posture.LYING)

#: [m] distance to a waiting spot at which a walker stops and starts waiting
GOAL_REACHED_M = 0.5
#: [m] within this distance of its spot a walker that is blocked (slower than
#: ``BLOCKED_SPEED_MPS``) waits where it stands
GOAL_BLOCKED_M = 1.5
BLOCKED_SPEED_MPS = 0.15
#: [m] distance to a scripted waypoint that counts as reached
WAYPOINT_REACHED_M = 0.3
#: [m] distance to the exit segment at which a leaving pedestrian is removed
EXIT_REACHED_M = 0.5
#: [m] within this distance of a point goal the floor field gives way to a straight line
DIRECT_RADIUS_M = 1.5
#: [m] distance over which a standing pedestrian slows down when approaching its spot
ARRIVE_SLOWDOWN_M = 1.0
#: [m/s] speed above which a body counts as walking in snapshots and tracks
WALKING_SPEED_MPS = 0.2
#: [m] spacing of the waiting spots (each has a floor field, computed when first used)
WAIT_SPOT_SPACING_M = 2.0
#: [m] waiting points scatter this far around their spot
WAIT_SPOT_JITTER_M = 0.8
#: [m] radius of the disc a lying body keeps the others out of (centred mid-body)
LYING_RADIUS_M = 0.5

#: [m] width, depth, height of the objects people set down, by kind
OBJECT_SIZE_M = {
    ObjectKind.BAG: (0.40, 0.20, 0.30),
    ObjectKind.SUITCASE: (0.45, 0.25, 0.65),
    ObjectKind.BACKPACK: (0.32, 0.22, 0.45),
}
#: BGR colours of bags and suitcases (drawn when a script gives none)
_OBJECT_COLOURS = ((30, 30, 30), (60, 40, 30), (40, 40, 90), (90, 60, 40), (50, 80, 50), (20, 20, 110))

#: [m] a person waiting within this distance of a train's boarding exit boards the train
BOARD_REACH_M = 8.0
#: [m] body radius range of a child (uniform)
CHILD_RADIUS_M = (0.15, 0.19)
#: [m] body height range of a child (uniform)
CHILD_HEIGHT_M = (1.1, 1.4)
#: [m] radius of the disc a wheelchair and its user take on the floor
WHEELCHAIR_RADIUS_M = 0.4
#: [m] height of a wheelchair user's head, seated
WHEELCHAIR_HEIGHT_M = 1.3
#: [m/s] mean and spread of a wheelchair user's desired speed (clipped to 0.6 .. 1.2 m/s)
WHEELCHAIR_SPEED_MPS = (0.9, 0.1)
#: desired speed of a person pulling a suitcase, as a share of its own
SUITCASE_SPEED_FACTOR = 0.9
#: [m] spacing of the places a party's members spawn at, beside and behind its first member
PARTY_SPACING_M = 0.65
#: [m] a member farther than this times (party size - 1) from its party's centroid turns
#: toward it (Moussaïd et al. 2010: (N - 1) / 2 m)
PARTY_SLACK_M = 0.5
#: [1/m] weight of the turn toward the centroid, per metre beyond the slack (at most 1 m
#: counts), against the unit direction to the goal
PARTY_PULL_PER_M = 1.0
#: [m] a member farther than this from its party's centroid has lost the others (a wall,
#: a gate line, a crowd between them): it walks its own way to the shared goal
PARTY_LOST_M = 5.0
#: [m] a member this far ahead of (behind) its party's centroid along its way, beyond the
#: slack, slows down (speeds up) by PARTY_SPEED_GAIN_PER_M per metre
PARTY_SPEED_SLACK_M = 0.5
PARTY_SPEED_GAIN_PER_M = 0.2
#: least and greatest factor on a member's desired speed from keeping together
PARTY_SPEED_FACTOR = (0.5, 1.2)

_ADULT, _CHILD, _WHEELCHAIR = (int(b) for b in BodyKind)
_LUGGAGE_PROP = {"suitcase": Prop.SUITCASE, "bag": Prop.BAG, "backpack": Prop.BACKPACK}


@dataclass
class _Script:
    """An injected event's plan for one pedestrian."""

    event: IntrusionEvent
    event_id: str
    waypoint: int = 0
    dwell_index: int = 0
    dwelled: bool = False


class Pedestrian(mesa.Agent):
    """One person. Holds its behaviour and its slot in the model's arrays.

    The motion of all pedestrians is one vectorised call in :meth:`StationModel.step`;
    a pedestrian's own methods run only when its behaviour changes.
    """

    def __init__(self, model: "StationModel", slot: int, behaviour: Behaviour, exit_index: int,
                 script: _Script | None = None) -> None:
        super().__init__(model)
        self.slot = slot
        self.exit_index = exit_index
        self.script = script
        self.behaviour = behaviour
        self.party = -1  #: id of the party it walks with (-1: alone)

    def step(self) -> None:  # the model moves everyone at once
        """Nothing: the model advances all pedestrians in one vectorised step."""

    @property
    def position(self) -> np.ndarray:
        """[m] Current ground position (a copy)."""
        return self.model._pos[self.slot].copy()

    @property
    def present(self) -> bool:
        """Whether the pedestrian is still in the station (not yet out by an exit)."""
        return self.slot >= 0

    # --- transitions (called by the model for the agents whose condition turned true) ----
    def _set(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.model._state[self.slot] = behaviour

    def goal_reached(self) -> None:
        """WALKING -> WAITING at the spot until the drawn waiting time is over (near a
        boarding exit: boards a train standing there, or waits for the next one)."""
        m = self.model
        if self.behaviour is not Behaviour.WALKING:  # its party left (or boarded) in this very step
            return
        self._set(Behaviour.WAITING)
        m._wait_until[self.slot] = m.time + m._wait_len[self.slot]
        m._check_at[self.slot] = m._wait_until[self.slot]
        m._arrive[self.slot] = True
        m._goal[self.slot] = m._pos[self.slot]
        if m._board_exits:
            m._at_platform(self)

    def wait_over(self) -> None:
        """WAITING -> LEAVING toward its exit, with the members of its party who wait or walk."""
        if self.behaviour is Behaviour.WAITING:
            self.model._leave_with_party(self)

    def waypoint_reached(self) -> None:
        """SCRIPTED: stand at the dwell waypoint, else go on to the next one or leave."""
        m, sc = self.model, self.script
        if sc.waypoint == sc.dwell_index and not sc.dwelled:
            sc.dwelled = True
            m._wait_until[self.slot] = m.time + sc.event.dwell_s
            m._arrive[self.slot] = True
            return
        self._next_waypoint()

    def dwell_over(self) -> None:
        """SCRIPTED: the dwell is over; go on."""
        m = self.model
        m._wait_until[self.slot] = np.inf
        m._arrive[self.slot] = False
        self._next_waypoint()

    def _next_waypoint(self) -> None:
        m, sc = self.model, self.script
        sc.waypoint += 1
        if sc.waypoint < len(sc.event.path):
            m._goal[self.slot] = sc.event.path[sc.waypoint]
            return
        if not m._exit_names:  # a station without exits: stay where the script ended
            self._set(Behaviour.WAITING)
            m._goal[self.slot] = m._pos[self.slot]
            m._wait_until[self.slot] = m._check_at[self.slot] = np.inf
            m._arrive[self.slot] = True
            return
        if sc.event.exit is not None:
            self.exit_index = m._exit_names.index(sc.event.exit)
        else:
            self.exit_index = m._nearest_exit(m._pos[self.slot])
        m._leave(self)


class StationModel(mesa.Model):
    """A station scenario as a Mesa model; see the module docstring."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int | None = None,
        *,
        params: SocialForceParams | None = None,
        grid_params: NavGridParams | None = None,
        track_interval_s: float | None = None,
    ) -> None:
        seed = scenario.seed if seed is None else seed
        if not (isinstance(seed, (int, np.integer)) and seed >= 0):
            raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
        super().__init__(rng=np.random.default_rng(int(seed)))
        self.seed = int(seed)
        # looks (colours, appearance group) come from a stream of their own, spawned from the
        # seed: changing the appearance distribution does not move anybody
        self._looks_rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(1,)))
        self.scenario = scenario
        self.dt = float(scenario.dt_s)
        self.params = params or SocialForceParams()
        st = scenario.station
        crowd = scenario.crowd
        self.walkable = as_polygon(st.walkable, field="station.walkable")
        self.obstacles = [as_polygon(o, field=f"station.obstacles[{i}]") for i, o in enumerate(st.obstacles)]
        self._exit_names = [e.name for e in st.exits]
        self._exit_seg = np.array([e.segment for e in st.exits], dtype=np.float64).reshape(-1, 2, 2)
        self._entrance_seg = np.array([e.segment for e in st.entrances], dtype=np.float64).reshape(-1, 2, 2)
        platform_edges = [np.asarray(s, dtype=np.float64) for s in st.platform_edges]

        # walls: exits are open doorways; platform edges are walls for everyone except a
        # scripted person, who may step off onto the track bed
        reach = self.params.wall_cutoff_m
        exits_open = list(self._exit_seg)
        self.walls = Walls(wall_segments(self.walkable, self.obstacles, openings=exits_open), reach_m=reach)
        self.walls_edge_free = Walls(
            wall_segments(self.walkable, self.obstacles, openings=exits_open + platform_edges), reach_m=reach
        )

        # trains: the exits they board by are train-only
        self._board_exits = sorted({self._exit_names.index(tr.board) for tr in st.trains if tr.board is not None})
        self._ordinary_exits = [k for k in range(len(self._exit_names)) if k not in self._board_exits]
        for i, tr in enumerate(st.trains):
            if tr.exit is not None and self._exit_names.index(tr.exit) in self._board_exits:
                raise SimulationError(
                    f"scenario {scenario.name!r}: station.trains[{i}].exit must be an ordinary exit; got {tr.exit!r}, "
                    f"which trains board by (a boarding exit is train-only)")
        if self._board_exits and not self._ordinary_exits and (st.entrances or crowd.initial_count):
            raise SimulationError(
                f"scenario {scenario.name!r}: station.exits: people arrive but every exit is a train's boarding exit "
                f"({', '.join(self._exit_names)}); add an ordinary exit")
        self._exit_open = np.ones(len(self._exit_names), bool)  # a boarding exit is open while a train stands there
        self._exit_open[self._board_exits] = False
        self._open_count = np.zeros(len(self._exit_names), np.int64)
        doors = []
        for i, tr in enumerate(st.trains):
            if tr.board is not None:
                b = self._exit_names.index(tr.board)
                doors += [(float(tr.at_s), 1, i, b), (float(tr.at_s + tr.dwell_s), 0, i, b)]
        doors.sort()  # by time; on a tie the doors of one train close before the next one's open
        self._doors = deque(doors)
        #: people sent to board each train (index of ``station.trains``)
        self.boarded_by_train = [0] * len(st.trains)

        # navigation: one floor field per exit now, one per waiting spot when first used;
        # a destination's field treats the one-way zones that lead away from it as obstacles
        self._grid_params = grid_params
        self._one_way = []
        for z in st.zones:
            if z.kind == "one_way":
                poly = as_polygon(z.polygon, field=f"station.zones[{z.name}].polygon")
                a = np.radians(z.direction_deg)
                self._one_way.append((poly, np.array([np.cos(a), np.sin(a)]), polygon_centroid(poly), polygon_edges(poly)))
        self.grid = NavGrid(self.walkable, self.obstacles, grid_params)
        self._grids: dict[tuple[int, ...], NavGrid] = {(): self.grid}
        self.fields = FieldBank(self.grid)
        for a, b in self._exit_seg:
            self.fields.add(self._grid_for((a + b) / 2, outline_m=0.3).field_to_segment(a, b))
        self._spots = self._waiting_spots()
        self._spot_field: dict[int, int] = {}
        # waiting spots within reach of each boarding exit (where people wait for a train)
        self._board_spots = {}
        for b in self._board_exits:
            if len(self._spots):
                d = point_segment_distance_rowwise(self._spots, *(np.broadcast_to(q, self._spots.shape)
                                                                  for q in self._exit_seg[b]))
                self._board_spots[b] = np.nonzero(d <= BOARD_REACH_M)[0]
            else:
                self._board_spots[b] = np.zeros(0, np.int64)
        self._train_spots = np.unique(np.concatenate([np.zeros(0, np.int64), *self._board_spots.values()]))
        if crowd.train_share > 0 and len(self._train_spots) == 0:
            raise SimulationError(
                f"scenario {scenario.name!r}: crowd.train_share={crowd.train_share:g} needs a train that boards "
                f"(station.trains[].board) with free floor within {BOARD_REACH_M:g} m of its exit; got "
                f"{'none' if not self._board_exits else 'no such floor'}")

        # exits an arrival may choose: not the doorway it came through, not a boarding exit
        self._exit_choices = []
        for seg in self._entrance_seg:
            ok = [k for k in self._ordinary_exits if segment_to_segment_distance(seg, self._exit_seg[k]) >= 0.5]
            self._exit_choices.append(ok or list(self._ordinary_exits))
        self._inward = np.array([self._inward_normal(s) for s in self._entrance_seg]).reshape(-1, 2)

        # the composition of the crowd: party sizes, then per person child, wheelchair, luggage
        sizes = sorted(crowd.group_sizes)
        weights = np.array([crowd.group_sizes[k] for k in sizes], dtype=np.float64)
        self._party_sizes = np.array(sizes, np.int64)
        self._party_cumulative = np.cumsum(weights / weights.sum())
        self._parties_alone = sizes == [1] or bool(np.all(weights[np.array(sizes) > 1] == 0))
        mean_size = crowd.mean_group_size()
        behind = (mean_size - 1.0) / mean_size
        # a member behind its party's first one is a child with probability p_child, so that
        # children are child_share of everybody; an adult uses a wheelchair with p_wheelchair
        self._p_child = min(crowd.child_share / behind, 1.0) if behind > 0 else 0.0
        self._p_wheelchair = min(crowd.wheelchair_share / (1.0 - crowd.child_share), 1.0) if crowd.child_share < 1 else 0.0
        kinds = [k for k in ("suitcase", "bag", "backpack") if crowd.luggage_kinds.get(k, 0.0) > 0]
        lw = np.array([crowd.luggage_kinds[k] for k in kinds], dtype=np.float64)
        self._luggage_props = [_LUGGAGE_PROP[k] for k in kinds]
        self._luggage_cumulative = np.cumsum(lw / lw.sum())
        self._parties: dict[int, list[Pedestrian]] = {}
        self._next_party = 0

        # the structure of arrays
        self._n = 0
        self._alloc(max(64, crowd.initial_count + 16))
        self._slot_agent: list[Pedestrian] = []

        # arrivals: Poisson per entrance (parties at rate / mean party size, so that the rate
        # stays in persons), train releases (one release time per party), injected events
        rates = np.array([e.rate_per_min for e in st.entrances], dtype=np.float64)
        self._rate_per_s = rates / 60.0 / mean_size
        self._next_arrival = np.array([
            self.rng.exponential(1.0 / r) if r > 0 else np.inf for r in self._rate_per_s
        ])
        # per entrance, parties waiting to step in: (exit index or -1, members or None, alighting)
        self._backlog: list[deque] = [deque() for _ in st.entrances]
        entrance_index = {e.name: i for i, e in enumerate(st.entrances)}
        releases = []
        for tr in st.trains:
            parties = self._split_into_parties(tr.count)
            times = np.sort(tr.at_s + self.rng.uniform(0.0, tr.release_s, size=len(parties)))
            ex = -1 if tr.exit is None else self._exit_names.index(tr.exit)
            releases += [(float(t), entrance_index[tr.entrance], ex, k) for t, k in zip(times, parties)]
        releases.sort(key=lambda r: r[0])
        self._releases = deque(releases)
        events = []
        for i, ev in enumerate(scenario.events):
            if isinstance(ev, IntrusionEvent):
                events.append((float(ev.at_s), i, ev))
        for j, d in enumerate(scenario.distractors):
            if isinstance(d, StaffInZoneDistractor):
                events.append((float(d.at_s), len(scenario.events) + j, d))
        events.sort(key=lambda e: (e[0], e[1]))
        self._events = deque(events)
        orange = [d for d in scenario.distractors if isinstance(d, OrangeClothingDistractor)]
        self._orange = orange[0] if orange else None
        # objects on the floor and fires: a few records, turned into arrays on demand
        self._objects: dict[int, tuple] = {}  # id -> (kind, x, y, yaw, colour, owner id)
        self._object_state: ObjectState | None = None
        self._next_object_id = 1
        self._fires: dict[int, tuple] = {}  # id -> (spec, ignition time)
        self._next_fire_id = 1
        self._point_fields: dict[tuple[float, float], int] = {}

        self.arrivals_by_entrance = {e.name: 0 for e in st.entrances}
        self.exits_by_name = {name: 0 for name in self._exit_names}
        self.dropped_arrivals = 0
        self.last_pair_count = 0

        fps = max(c.fps for c in scenario.cameras)
        self.truth = TruthRecorder(
            st.zones, track_interval_s=(1.0 / fps) if track_interval_s is None else track_interval_s,
            rules=TruthRules.from_spec(scenario.truth),
        )
        # behaviour scripts of staged events and distractors, started at their start_s
        scripts = build_scripts(scenario)
        for script in scripts:
            script.prepare(self)
        self._pending = deque(sorted(scripts, key=lambda s: s.start_s))  # sorted() is stable: file order on ties
        self._running: list = []
        self._place_initial(crowd.initial_count)
        self._spawn_due()
        self._run_scripts()
        self._observe()

    # --- public API ---------------------------------------------------------------------
    @property
    def time(self) -> float:
        """[s] Simulated time: steps taken times ``dt``."""
        return self.steps * self.dt

    @property
    def agent_count(self) -> int:
        """Pedestrians present now."""
        return self._n

    def step(self) -> None:
        """Advance the crowd by ``dt`` seconds."""
        n = self._n
        if n:
            self._move(n)
        t = self.time
        if n:
            self._transitions(t)
        if self._doors and self._doors[0][0] <= t + 1e-9:
            self._doors_due(t)
        self._spawn_due()
        self._run_scripts()
        self._observe()

    def run_until(self, t_s: float) -> None:
        """Step until ``time`` reaches ``t_s`` [s] (to within a thousandth of a step)."""
        while self.time < t_s - 1e-3 * self.dt:
            self.step()

    def snapshot(self) -> CrowdState:
        """The crowd now, as copies (see :class:`sim.state.CrowdState`)."""
        n = self._n
        vel = self._vel[:n].copy()
        posture = self._postures(n)
        h = self._heading[:n]
        return CrowdState(
            t=self.time,
            ids=self._ids[:n].copy(),
            pos_m=self._pos[:n].copy(),
            vel_mps=vel,
            heading_rad=np.arctan2(h[:, 1], h[:, 0]),
            radius_m=self._radius[:n].copy(),
            height_m=self._height[:n].copy(),
            gait_phase=self._gait[:n].copy(),
            posture=posture,
            posture_progress=self._pose_progress[:n].copy(),
            shirt_bgr=self._shirt[:n].copy(),
            trousers_bgr=self._trousers[:n].copy(),
            skin_bgr=self._skin[:n].copy(),
            hair_bgr=self._hair[:n].copy(),
            appearance_group=self._group[:n].copy(),
            prop=self._prop[:n].copy(),
            prop_raise=self._prop_raise[:n].copy(),
            vest=self._vest[:n].copy(),
            body=self._body[:n].copy(),
        )

    def world(self) -> WorldState:
        """Everything a camera can see now: the crowd, the objects on the floor and the fires (copies)."""
        return WorldState(t=self.time, crowd=self.snapshot(), objects=self._objects_now(), fires=self._fires_now())

    def _postures(self, n: int) -> np.ndarray:
        """(n,) uint8 :class:`Posture`: a script's pose where one is set, else walking or standing by speed."""
        vel = self._vel[:n]
        walking = (vel[:, 0] ** 2 + vel[:, 1] ** 2) > WALKING_SPEED_MPS ** 2
        auto = np.where(walking, np.uint8(Posture.WALKING), np.uint8(Posture.STANDING))
        pose = self._pose[:n]
        return np.where(pose > 0, pose, auto).astype(np.uint8)

    def agent(self, agent_id: int) -> Pedestrian:
        """The pedestrian with this id (``KeyError`` when it is not present)."""
        for a in self._slot_agent:
            if a.unique_id == agent_id:
                return a
        raise KeyError(f"no pedestrian with id {agent_id} is present at t={self.time:g} s")

    # --- the script API (used by sim.behaviours) ---------------------------------------------
    def spawn_person(self, pos, *, vest: bool = False, prop: Prop = Prop.NONE) -> Pedestrian:
        """A new pedestrian at ``pos`` [m] (or the nearest point where it overlaps nobody),
        driven by a script (behaviour PUPPET): it stands there until told otherwise."""
        radius = self.rng.uniform(*self.scenario.crowd.radius_m)
        p = self._clear_point_near(np.asarray(pos, dtype=np.float64), radius)
        s = self._new_slot()
        self._pos[s] = p
        self._vel[s] = 0.0
        self._radius[s] = radius
        self._fill_body(s)
        self._wait_len[s] = 0.0
        exit_index = self._nearest_exit(p) if self._exit_names else 0
        agent = Pedestrian(self, s, Behaviour.PUPPET, exit_index)
        self._bind(agent, s)
        self._state[s] = Behaviour.PUPPET
        self._check_at[s] = np.inf
        self._heading[s] = (1.0, 0.0)
        self._exit_idx[s] = exit_index
        self._vest[s] = vest
        self._prop[s] = prop
        self.stand(agent)
        return agent

    def take(self, agent: Pedestrian) -> tuple:
        """Hand ``agent`` over to a script (behaviour PUPPET, standing where it is; it leaves its
        party); returns its plan, which :meth:`resume` gives back."""
        s = agent.slot
        plan = (agent.behaviour, self._goal[s].copy(), bool(self._goal_is_point[s]), int(self._field[s]),
                bool(self._arrive[s]), float(self._wait_until[s]), int(self._exit_idx[s]))
        self._leave_party(agent)  # a script's actor goes its own way from now on
        agent._set(Behaviour.PUPPET)
        self._wait_until[s] = np.inf
        self._check_at[s] = np.inf
        return plan

    def resume(self, agent: Pedestrian, plan: tuple) -> None:
        """Give ``agent`` its own plan back (see :meth:`take`)."""
        s = agent.slot
        behaviour, goal, is_point, field, arrive, until, exit_idx = plan
        agent._set(behaviour)
        self._goal[s], self._goal_is_point[s], self._field[s] = goal, is_point, field
        self._arrive[s], self._wait_until[s], self._exit_idx[s] = arrive, until, exit_idx
        self._frozen[s] = False
        self._pose[s] = 0
        self._check_at[s] = self.time

    def free_pedestrians(self, point, count: int | None, *, walking: bool = False,
                         within_m: float | None = None) -> list[Pedestrian]:
        """Up to ``count`` (None: all) pedestrians nearest to ``point`` [m] that follow their own
        plan (not scripted, not frozen, not in a wheelchair), optionally only those ``walking``
        (faster than 0.5 m/s) or ``within_m`` [m] of the point, nearest first."""
        n = self._n
        state = self._state[:n]
        ok = (state != _SCRIPTED) & (state != _PUPPET) & ~self._frozen[:n] & ~self._edge_free[:n]
        ok &= self._body[:n] != _WHEELCHAIR  # a wheelchair user does not fall, sit or run as a script says
        d2 = (self._pos[:n, 0] - point[0]) ** 2 + (self._pos[:n, 1] - point[1]) ** 2
        if walking:
            ok &= (self._vel[:n, 0] ** 2 + self._vel[:n, 1] ** 2) > 0.5 ** 2
        if within_m is not None:
            ok &= d2 <= within_m ** 2
        slots = np.nonzero(ok)[0]
        slots = slots[np.argsort(d2[slots], kind="stable")]
        if count is not None:
            slots = slots[:count]
        return [self._slot_agent[s] for s in slots.tolist()]

    def walk_to(self, agent: Pedestrian, point, *, arrive: bool = True, navigate: bool = False) -> None:
        """Send a scripted ``agent`` to ``point`` [m]: in a straight line, or round obstacles by
        a floor field (``navigate``, computed once per point); slowing down on arrival
        (``arrive``) or passing through."""
        s = agent.slot
        p = np.asarray(point, dtype=np.float64)
        self._goal[s] = p
        self._goal_is_point[s] = True
        self._arrive[s] = arrive
        self._frozen[s] = False
        self._field[s] = self._point_field(p) if navigate else -1
        if self._vel[s, 0] ** 2 + self._vel[s, 1] ** 2 < 0.01:
            self._face_goal(s)  # a standing person turns to where it goes

    def stand(self, agent: Pedestrian, *, frozen: bool = False) -> None:
        """Make a scripted ``agent`` stand where it is; ``frozen``: not even pushed by others."""
        s = agent.slot
        self._goal[s] = self._pos[s]
        self._goal_is_point[s] = True
        self._arrive[s] = True
        self._field[s] = -1
        self._frozen[s] = frozen
        if frozen:
            self._vel[s] = 0.0

    def release(self, agent: Pedestrian, exit: str | None = None) -> None:
        """End a script's hold on ``agent``: it stands up and leaves by ``exit`` (nearest if None;
        in a station without exits it stays where it is)."""
        s = agent.slot
        self._frozen[s] = False
        self._pose[s] = 0
        self._pose_progress[s] = 0.0
        if not self._exit_names:
            agent._set(Behaviour.WAITING)
            self._goal[s] = self._pos[s]
            self._wait_until[s] = self._check_at[s] = np.inf
            return
        agent.exit_index = self._exit_names.index(exit) if exit is not None else self._nearest_exit(self._pos[s])
        self._leave(agent)

    def ignore_platform_edges(self, agent: Pedestrian) -> None:
        """Let ``agent`` come up to (or over) the platform edges, which push the others back;
        it feels them again once it leaves and stands on the floor."""
        self._edge_free[agent.slot] = True
        self._any_edge_free = True

    def set_pose(self, agent: Pedestrian, posture: Posture | None, progress: float = 0.0) -> None:
        """Set a scripted pose (FALLING, LYING, SITTING, CROUCHING) and its progress in [0, 1];
        None goes back to standing or walking by speed."""
        s = agent.slot
        self._pose[s] = 0 if posture is None or posture <= Posture.WALKING else int(posture)
        self._pose_progress[s] = 0.0 if posture is None else min(max(progress, 0.0), 1.0)

    def set_prop(self, agent: Pedestrian, prop: Prop, raised: float = 0.0) -> None:
        """What ``agent`` carries, and how far it is raised (0 held low .. 1 at the shoulder)."""
        self._prop[agent.slot] = prop
        self._prop_raise[agent.slot] = min(max(raised, 0.0), 1.0)

    def set_speed(self, agent: Pedestrian, v0_mps: float) -> None:
        """[m/s] desired walking speed (v0; the speed limit is ``max_speed_factor`` times it)."""
        self._v0[agent.slot] = v0_mps

    def speed_of(self, agent: Pedestrian) -> float:
        """[m/s] desired walking speed (v0)."""
        return float(self._v0[agent.slot])

    def speed_now(self, agent: Pedestrian) -> float:
        """[m/s] current speed."""
        return float(np.hypot(*self._vel[agent.slot]))

    def velocity_of(self, agent: Pedestrian) -> np.ndarray:
        """[m/s] current velocity (a copy)."""
        return self._vel[agent.slot].copy()

    def heading_of(self, agent: Pedestrian) -> float:
        """[rad] facing direction, ccw from +x."""
        h = self._heading[agent.slot]
        return float(np.arctan2(h[1], h[0]))

    def set_heading(self, agent: Pedestrian, heading_rad: float) -> None:
        self._heading[agent.slot] = (np.cos(heading_rad), np.sin(heading_rad))

    def path_length(self, a, b) -> float:
        """[m] walking distance from ``a`` to ``b``: straight when no wall is in the way, else
        along a floor field."""
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if not self._blocked(a, b):
            return float(np.hypot(*(b - a)))
        value = float(self.fields.fields[self._point_field(b)].value_at(a[None])[0])
        return value if np.isfinite(value) else float(np.hypot(*(b - a)))

    def exit_away_from(self, pos, direction) -> str | None:
        """The exit whose doorway lies most in ``direction`` from ``pos`` (None without exits)."""
        if not self._exit_names:
            return None
        to_exit = self._exit_seg.mean(axis=1) - np.asarray(pos, dtype=np.float64)
        norm = np.maximum(np.hypot(to_exit[:, 0], to_exit[:, 1]), 1e-9)
        score = (to_exit @ np.asarray(direction, dtype=np.float64)) / norm
        return self._exit_names[int(np.argmax(score))]

    def add_object(self, kind: ObjectKind, pos, yaw_rad: float, *, owner: Pedestrian | None = None,
                   colour_bgr=None) -> int:
        """Put an object on the floor at ``pos`` [m]; returns its id (ids of objects and of
        people are separate sequences)."""
        if colour_bgr is None:
            colour_bgr = _OBJECT_COLOURS[int(self.rng.integers(len(_OBJECT_COLOURS)))]
        oid = self._next_object_id
        self._next_object_id += 1
        self._objects[oid] = (int(kind), float(pos[0]), float(pos[1]), float(yaw_rad), tuple(colour_bgr),
                              -1 if owner is None else int(owner.unique_id))
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

    def _objects_now(self) -> ObjectState:
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

    def _fires_now(self) -> FireState:
        """The fires at the current time: sizes follow from each fire's age (see FireEvent)."""
        if not self._fires:
            return FireState.empty()
        t = self.time
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

    def _blocked(self, a: np.ndarray, b: np.ndarray) -> bool:
        return bool(segment_crosses_any(a, b, self.walls.segments))

    def _point_field(self, p: np.ndarray) -> int:
        key = (round(float(p[0]), 2), round(float(p[1]), 2))
        idx = self._point_fields.get(key)
        if idx is None:
            idx = self.fields.add(self._grid_for(p).field_to_point(p))
            self._point_fields[key] = idx
        return idx

    # --- the step -----------------------------------------------------------------------
    def _move(self, n: int) -> None:
        pos = self._pos[:n]
        vel = self._vel[:n]
        goal = self._goal[:n]
        dgx = goal[:, 0] - pos[:, 0]
        dgy = goal[:, 1] - pos[:, 1]
        dist = np.hypot(dgx, dgy)
        safe = np.maximum(dist, 1e-9)
        e = np.empty((n, 2))
        e[:, 0] = dgx / safe
        e[:, 1] = dgy / safe
        field = self._field[:n]
        use_field = field >= 0
        use_field &= ~(self._goal_is_point[:n] & (dist < DIRECT_RADIUS_M))
        n_field = np.count_nonzero(use_field)
        if n_field == n:
            d = self.fields.sample(field, pos)
            ok = (d[:, 0] != 0) | (d[:, 1] != 0)
            e = np.where(ok[:, None], d, e)
        elif n_field:
            sel = np.nonzero(use_field)[0]
            d = self.fields.sample(field[sel], pos[sel])
            ok = (d[:, 0] != 0) | (d[:, 1] != 0)
            e[sel[ok]] = d[ok]
        v0 = self._v0[:n]
        arrive = self._arrive[:n]
        desired_speed = np.where(arrive, v0 * np.minimum(dist / ARRIVE_SLOWDOWN_M, 1.0), v0)
        if self._parties:
            self._keep_parties_together(n, e, desired_speed, use_field)
        edge_free = self._edge_free[:n]
        radius = self._radius[:n]
        frozen = np.nonzero(self._frozen[:n])[0] if self._running else ()
        if len(frozen):
            # frozen bodies push the others but do not move; a lying body is a disc mid-body
            kept = pos[frozen].copy()
            lying = frozen[self._pose[frozen] == _LYING]
            if len(lying):
                radius = radius.copy()
                radius[lying] = LYING_RADIUS_M
                pos[lying] += self._heading[lying] * (0.5 * self._height[lying])[:, None]
        self.last_pair_count = motion_step(
            pos=pos, vel=vel, desired_dir=e, desired_speed=desired_speed, walk_speed=v0,
            radius=radius, walls=self.walls, dt=self.dt, params=self.params,
            alt_walls=self.walls_edge_free, alt_mask=edge_free if self._any_edge_free else None,
        )
        if len(frozen):
            pos[frozen] = kept
            vel[frozen] = 0.0
        advance_gait_and_heading(vel, self._heading[:n], self._gait[:n], self.dt, self.params)

    def _transitions(self, t: float) -> None:
        """Find the agents whose behaviour changes now and run their transition.

        An agent's condition is evaluated only from its ``_check_at`` time on: an agent
        ``D`` metres short of a threshold cannot cross it sooner than ``D / v_max`` (speed
        is clamped), so far-away agents cost nothing per step.
        """
        n = self._n
        due = np.nonzero(self._check_at[:n] <= t + 1e-9)[0]
        if len(due) == 0:
            return
        pos = self._pos[due]
        state = self._state[due]
        goal = self._goal[due]
        until = self._wait_until[due]
        vmax = self.params.max_speed_factor * self._v0[due]
        dist = np.hypot(goal[:, 0] - pos[:, 0], goal[:, 1] - pos[:, 1])
        timed_out = until <= t + 1e-9
        # by default check again when the nearest threshold could first be reached
        next_check = t + 0.9 * np.maximum(dist - GOAL_BLOCKED_M, 0.0) / vmax

        walking = state == _WALKING
        vel = self._vel[due]
        speed = np.hypot(vel[:, 0], vel[:, 1])
        reached = walking & ((dist < GOAL_REACHED_M) | ((dist < GOAL_BLOCKED_M) & (speed < BLOCKED_SPEED_MPS)))
        wait_over = (state == _WAITING) & timed_out
        scripted = state == _SCRIPTED
        dwell_over = scripted & timed_out
        at_waypoint = scripted & ~np.isfinite(until) & (dist < WAYPOINT_REACHED_M)
        next_check = np.where(state == _WAITING, until, next_check)
        next_check[scripted] = t
        next_check[state == _PUPPET] = np.inf  # its script decides

        leaving = np.nonzero(state == _LEAVING)[0]
        done: list[int] = []
        if len(leaving):
            slots = due[leaving]
            seg = self._exit_seg[self._exit_idx[slots]]
            d_exit = point_segment_distance_rowwise(pos[leaving], seg[:, 0], seg[:, 1])
            at_exit = d_exit < EXIT_REACHED_M
            if self._board_exits:
                closed = at_exit & ~self._exit_open[self._exit_idx[slots]]
                if closed.any():  # at a boarding exit with no train: wait there for the next one
                    at_exit &= ~closed
                    for s in slots[closed].tolist():
                        self._wait_for_train(self._slot_agent[s], int(self._exit_idx[s]))
                    d_exit = np.where(closed, np.inf, d_exit)
            done = slots[at_exit].tolist()
            next_check[leaving] = t + 0.9 * np.maximum(d_exit - EXIT_REACHED_M, 0.0) / vmax[leaving]
            if self._board_exits:
                waiting = np.isinf(d_exit)
                next_check[leaving[waiting]] = self._check_at[slots[waiting]]  # set by _wait_for_train
        self._check_at[due] = next_check

        agents = self._slot_agent
        for s in due[reached].tolist():
            agents[s].goal_reached()
        for s in due[wait_over].tolist():
            agents[s].wait_over()
        for s in due[dwell_over].tolist():
            agents[s].dwell_over()
        for s in due[at_waypoint].tolist():
            agents[s].waypoint_reached()
        if self._any_edge_free:
            # a person back from the track bed feels the platform edge again once on the floor
            st_all = self._state[:n]
            ef = np.nonzero(self._edge_free[:n] & (st_all == _LEAVING))[0]
            if len(ef):
                back = ef[points_in_polygon(self._pos[ef], self.walkable)]
                self._edge_free[back] = False
            self._any_edge_free = bool(self._edge_free[:n].any())
        if done:
            self._remove_slots(done)

    def _observe(self) -> None:
        n = self._n
        self.truth.observe(
            self.time, self._ids[:n], self._pos[:n], self._postures(n), vel_mps=self._vel[:n], vest=self._vest[:n],
            prop=self._prop[:n], objects=self._objects_now() if self._objects else None,
            fires=self._fires_now() if self._fires else None, body=self._body[:n], appearance_group=self._group[:n],
        )

    def _run_scripts(self) -> None:
        t = self.time
        while self._pending and self._pending[0].start_s <= t + 1e-9:
            script = self._pending.popleft()
            script.begin(self, t)
            self._running.append(script)
        if self._running:
            self._running = [s for s in self._running if s.update(self, t)]

    # --- behaviour helpers ----------------------------------------------------------------
    def _leave(self, agent: Pedestrian) -> None:
        s = agent.slot
        agent._set(Behaviour.LEAVING)
        k = agent.exit_index
        self._exit_idx[s] = k
        self._field[s] = k
        self._goal[s] = self._exit_seg[k].mean(axis=0)
        self._goal_is_point[s] = False
        self._arrive[s] = False
        self._wait_until[s] = np.inf
        self._check_at[s] = self.time

    def _leave_with_party(self, agent: Pedestrian) -> None:
        """``agent`` leaves by its exit, and the members of its party who wait or walk go with it."""
        self._leave(agent)
        if agent.party >= 0:
            for other in self._parties.get(agent.party, ()):
                if other is not agent and other.behaviour in (Behaviour.WAITING, Behaviour.WALKING):
                    other.exit_index = agent.exit_index
                    self._leave(other)

    def _leave_party(self, agent: Pedestrian) -> None:
        if agent.party < 0:
            return
        members = self._parties.get(agent.party)
        if members is not None:
            members.remove(agent)
            if not members:
                del self._parties[agent.party]
        agent.party = -1
        if agent.slot >= 0:
            self._party[agent.slot] = -1

    def _nearest_exit(self, point: np.ndarray) -> int:
        """The ordinary exit (not a train's boarding exit, unless there is no other) nearest by walking distance."""
        choices = self._ordinary_exits or list(range(len(self._exit_names)))
        values = [self.fields.fields[k].value_at(point)[0] for k in choices]
        return choices[int(np.argmin(values))]

    # --- trains -----------------------------------------------------------------------------
    def _doors_due(self, t: float) -> None:
        """Open and close the boarding exits whose train arrives or leaves now."""
        while self._doors and self._doors[0][0] <= t + 1e-9:
            _, opens, i, b = self._doors.popleft()
            if opens:
                self._open_count[b] += 1
                self._exit_open[b] = True
                self._board_waiting(i, b)
            else:
                self._open_count[b] -= 1
                if self._open_count[b] == 0:
                    self._exit_open[b] = False
                    n = self._n
                    late = np.nonzero((self._state[:n] == _LEAVING) & (self._exit_idx[:n] == b))[0]
                    for agent in [self._slot_agent[s] for s in late.tolist()]:
                        self._wait_for_train(agent, b)

    def _board_waiting(self, train: int, b: int) -> None:
        """Everyone WAITING within ``BOARD_REACH_M`` of boarding exit ``b`` boards train ``train``."""
        n = self._n
        cand = np.nonzero((self._state[:n] == _WAITING) & ~self._frozen[:n])[0]
        if len(cand) == 0:
            return
        pos = self._pos[cand]
        a, c = (np.broadcast_to(q, pos.shape) for q in self._exit_seg[b])
        near = cand[point_segment_distance_rowwise(pos, a, c) <= BOARD_REACH_M]
        self._board([self._slot_agent[s] for s in near.tolist()], b, train)

    def _board(self, agents: list[Pedestrian], b: int, train: int | None = None) -> None:
        """``agents`` and the members of their parties who wait or walk leave by boarding exit ``b``."""
        boarding = []
        seen = set()
        for agent in agents:
            group = [agent] if agent.party < 0 else [agent] + [
                o for o in self._parties.get(agent.party, ()) if o is not agent
                and o.behaviour in (Behaviour.WAITING, Behaviour.WALKING)]
            for o in group:
                if o.unique_id not in seen:
                    seen.add(o.unique_id)
                    boarding.append(o)
        for o in boarding:
            o.exit_index = b
            self._leave(o)
        if train is None:  # joining a train that stands there: the latest one to open at b
            train = max((i for i, tr in enumerate(self.scenario.station.trains) if tr.board is not None
                         and self._exit_names.index(tr.board) == b and tr.at_s <= self.time + 1e-9),
                        key=lambda i: self.scenario.station.trains[i].at_s, default=None)
        if train is not None:
            self.boarded_by_train[train] += len(boarding)

    def _train_later(self, b: int) -> bool:
        """Whether a train that boards by exit ``b`` has still to arrive."""
        return any(opens and k == b for _, opens, _, k in self._doors)

    def _wait_for_train(self, agent: Pedestrian, b: int) -> None:
        """``agent`` did not reach boarding exit ``b`` in time (or came to it with no train).

        With a train still to come there, it waits for it: where it stands when that is
        within ``BOARD_REACH_M`` of the exit (outside one-way zones), else it walks to a
        waiting point there. With none to come, it leaves by its own exit."""
        s = agent.slot
        agent.exit_index = int(self._own_exit[s])
        self._exit_idx[s] = agent.exit_index
        if not self._train_later(b):
            self._leave(agent)
            return
        p = self._pos[s]
        a, c = self._exit_seg[b]
        near = point_segment_distance_rowwise(p[None], a[None], c[None])[0] <= BOARD_REACH_M
        spots = self._board_spots[b]
        if (near and not (self._one_way and self._in_one_way(p)[0])) or len(spots) == 0:
            agent._set(Behaviour.WAITING)  # for the next train, where it stands
            self._goal[s] = p
            self._goal_is_point[s] = True
            self._arrive[s] = True
            self._field[s] = -1
            self._wait_until[s] = self._check_at[s] = np.inf
            return
        spot, point = self._draw_wait_point(int(spots[int(self.rng.integers(len(spots)))]))
        agent._set(Behaviour.WALKING)
        self._field[s] = self._spot_field_index(spot)
        self._goal[s] = point
        self._goal_is_point[s] = True
        self._arrive[s] = False
        self._wait_until[s] = np.inf
        self._check_at[s] = self.time

    def _at_platform(self, agent: Pedestrian) -> None:
        """A person who starts waiting within reach of a boarding exit boards the train that
        stands there, or waits for the next one to come."""
        s = agent.slot
        p = self._pos[s]
        for b in self._board_exits:
            a, c = self._exit_seg[b]
            if point_segment_distance_rowwise(p[None], a[None], c[None])[0] > BOARD_REACH_M:
                continue
            if self._exit_open[b]:
                self._board([agent], b)
                return
            if self._train_later(b):
                self._wait_until[s] = self._check_at[s] = np.inf
                return

    # --- parties ----------------------------------------------------------------------------
    def _keep_parties_together(self, n: int, e: np.ndarray, desired_speed: np.ndarray,
                               use_field: np.ndarray) -> None:
        """Add the cohesion of walking parties to the desired directions ``e`` and speeds (in place).

        Members who follow a floor field (``use_field``) steer by the mean of its direction
        where they stand and where their party's centroid stands, so that a party meeting a
        pillar goes round it on one side. A moving member farther than
        ``PARTY_SLACK_M * (k - 1)`` from the centroid of its party's moving members (k of them)
        turns toward it, by ``PARTY_PULL_PER_M`` per metre beyond; the part of that turn pointing back along its way is dropped, so that nobody
        walks backwards (against a one-way flow): a member ahead slows down instead, one
        behind speeds up (``PARTY_SPEED_*``). A member farther than ``PARTY_LOST_M`` from the
        centroid feels none of it: the floor field leads it to the shared goal, round walls
        that a straight pull would press it into."""
        party = self._party[:n]
        state = self._state[:n]
        moving = (party >= 0) & ((state == _WALKING) | (state == _LEAVING))
        if self._running:
            moving &= ~self._frozen[:n]
        sel = np.nonzero(moving)[0]
        if len(sel) < 2:
            return
        _, inv, count = np.unique(party[sel], return_inverse=True, return_counts=True)
        keep = count[inv] >= 2
        if not keep.any():
            return
        sel, inv = sel[keep], inv[keep]
        k = count[inv]
        pos = self._pos[sel]
        cx = np.bincount(inv, weights=pos[:, 0], minlength=len(count)) / np.maximum(count, 1)
        cy = np.bincount(inv, weights=pos[:, 1], minlength=len(count)) / np.maximum(count, 1)
        dx = cx[inv] - pos[:, 0]
        dy = cy[inv] - pos[:, 1]
        dist = np.hypot(dx, dy)
        near = dist <= PARTY_LOST_M
        if not near.all():
            sel, dx, dy, dist, k = sel[near], dx[near], dy[near], dist[near], k[near]
        ex, ey = e[sel, 0], e[sel, 1]
        routed = np.nonzero(use_field[sel])[0]
        if len(routed):
            centre = self._pos[sel[routed]] + np.stack([dx[routed], dy[routed]], axis=1)
            ok = self.grid.is_free(centre)
            routed, centre = routed[ok], centre[ok]
            if len(routed):
                d = self.fields.sample(self._field[sel[routed]], centre)
                mx, my = ex[routed] + d[:, 0], ey[routed] + d[:, 1]
                mn = np.hypot(mx, my)
                good = mn > 1e-6
                ex, ey = ex.copy(), ey.copy()
                ex[routed[good]] = mx[good] / mn[good]
                ey[routed[good]] = my[good] / mn[good]
        along = dx * ex + dy * ey  # > 0: the centroid lies ahead, this member lags behind
        back = np.minimum(along, 0.0)
        px, py = dx - back * ex, dy - back * ey
        pn = np.maximum(np.hypot(px, py), 1e-9)
        w = PARTY_PULL_PER_M * np.clip(dist - PARTY_SLACK_M * (k - 1), 0.0, 1.0) / pn
        nx, ny = ex + w * px, ey + w * py
        norm = np.maximum(np.hypot(nx, ny), 1e-9)
        e[sel, 0] = nx / norm
        e[sel, 1] = ny / norm
        excess = np.sign(along) * np.maximum(np.abs(along) - PARTY_SPEED_SLACK_M, 0.0)
        lo, hi = PARTY_SPEED_FACTOR
        desired_speed[sel] *= np.clip(1.0 + PARTY_SPEED_GAIN_PER_M * excess, lo, hi)

    def parties(self) -> dict[int, list[int]]:
        """Party id -> ids of its members present now (parties of two or more only)."""
        return {pid: [a.unique_id for a in members] for pid, members in sorted(self._parties.items())
                if len(members) >= 2}

    # --- navigation ---------------------------------------------------------------------------
    def _grid_for(self, dest, *, outline_m: float = 0.0) -> NavGrid:
        """The navigation grid for a destination: the one-way zones whose allowed direction
        points away from ``dest`` are obstacles, but for one that holds ``dest`` or has it
        within ``outline_m`` of its outline (a doorway in its far end)."""
        if not self._one_way:
            return self.grid
        dest = np.asarray(dest, dtype=np.float64).reshape(2)
        blocked = []
        for k, (poly, direction, centre, edges) in enumerate(self._one_way):
            if float(direction @ (dest - centre)) >= 0.0:
                continue
            inside = points_in_polygon(dest[None], poly)[0]
            if inside or (outline_m > 0 and segment_distances(dest[None], edges)[0].min() <= outline_m):
                continue
            blocked.append(k)
        key = tuple(blocked)
        grid = self._grids.get(key)
        if grid is None:
            grid = NavGrid(self.walkable, self.obstacles + [self._one_way[k][0] for k in key], self._grid_params)
            self._grids[key] = grid
        return grid

    def _in_one_way(self, points: np.ndarray) -> np.ndarray:
        """Whether each point lies inside a one-way zone."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        out = np.zeros(len(pts), bool)
        for poly, *_ in self._one_way:
            out |= points_in_polygon(pts, poly)
        return out

    def _spot_field_index(self, spot: int) -> int:
        idx = self._spot_field.get(spot)
        if idx is None:
            idx = self.fields.add(self._grid_for(self._spots[spot]).field_to_point(self._spots[spot]))
            self._spot_field[spot] = idx
        return idx

    def _waiting_spots(self) -> np.ndarray:
        g = self.grid
        k = max(int(round(WAIT_SPOT_SPACING_M / g.cell_m)), 1)
        ny, nx = g.shape
        iy, ix = np.meshgrid(np.arange(k // 2, ny, k), np.arange(k // 2, nx, k), indexing="ij")
        iy, ix = iy.ravel(), ix.ravel()
        free = g.kind[iy, ix] == NavGrid.FREE
        # a spot needs free cells around it, not a single free cell in a corridor
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            jy = np.clip(iy + dy, 0, ny - 1)
            jx = np.clip(ix + dx, 0, nx - 1)
            free &= g.kind[jy, jx] == NavGrid.FREE
        spots = g.cell_centres()[iy[free], ix[free]]
        return spots[~self._in_one_way(spots)] if self._one_way else spots  # nobody waits in a one-way corridor

    def _draw_wait_point(self, spot: int | None = None, *, for_train: bool = False) -> tuple[int, np.ndarray]:
        """A waiting point scattered round a spot: ``spot``, or one drawn among all spots (among
        those within reach of a boarding exit ``for_train``)."""
        if spot is None:
            if for_train:
                spot = int(self._train_spots[int(self.rng.integers(len(self._train_spots)))])
            else:
                spot = int(self.rng.integers(len(self._spots)))
        centre = self._spots[spot]
        r = WAIT_SPOT_JITTER_M * np.sqrt(self.rng.uniform())
        a = self.rng.uniform(0.0, 2.0 * np.pi)
        p = centre + r * np.array([np.cos(a), np.sin(a)])
        if not self.grid.is_free(p)[0] or segment_crosses_any(centre, p, self.walls.segments) or (
                self._one_way and self._in_one_way(p)[0]):
            p = centre.copy()
        return spot, p

    def _inward_normal(self, seg: np.ndarray) -> np.ndarray:
        a, b = seg
        d = b - a
        n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-12)
        mid = (a + b) / 2
        if points_in_polygon((mid + 0.05 * n)[None], self.walkable)[0]:
            return n
        return -n

    # --- spawning -------------------------------------------------------------------------
    def _draw_party_size(self) -> int:
        """Size of an arriving party, drawn from ``crowd.group_sizes`` (no draw when everyone walks alone)."""
        if self._parties_alone:
            return 1
        k = int(np.searchsorted(self._party_cumulative, self.rng.uniform(), side="right"))
        return int(self._party_sizes[min(k, len(self._party_sizes) - 1)])

    def _split_into_parties(self, count: int) -> list[int]:
        """``count`` people as consecutive parties of drawn sizes (the last one cut to fit)."""
        if self._parties_alone:
            return [1] * count
        out, left = [], count
        while left > 0:
            k = min(self._draw_party_size(), left)
            out.append(k)
            left -= k
        return out

    def _arriving_party(self, size: int) -> list[tuple[int, int, float]] | None:
        """The members of a party that arrives now, drawn now so that a full doorway does not
        change who comes in; None for a plain arrival (alone, and no child, wheelchair or
        luggage in the scenario), drawn as it steps in, which keeps the model stream of the
        scenarios written before parties existed."""
        crowd = self.scenario.crowd
        if size == 1 and self._parties_alone and not (crowd.child_share or crowd.wheelchair_share
                                                      or crowd.luggage_share):
            return None
        return self._draw_party(size)

    def _draw_party(self, size: int) -> list[tuple[int, int, float]]:
        """The members of a party of ``size``: body kind, prop, radius each (first an adult)."""
        return [self._draw_person(j > 0) for j in range(size)]

    def _draw_person(self, behind_adult: bool) -> tuple[int, int, float]:
        """Body kind, carried prop and radius [m] of one person; ``behind_adult``: a member
        after its party's first one (who alone may be a child). No draw for a share of 0."""
        crowd = self.scenario.crowd
        rng = self.rng
        body = _ADULT
        if behind_adult and self._p_child > 0 and rng.uniform() < self._p_child:
            body = _CHILD
        elif self._p_wheelchair > 0 and rng.uniform() < self._p_wheelchair:
            body = _WHEELCHAIR
        prop = int(Prop.NONE)
        if crowd.luggage_share > 0 and rng.uniform() < crowd.luggage_share:
            k = int(np.searchsorted(self._luggage_cumulative, rng.uniform(), side="right"))
            prop = int(self._luggage_props[min(k, len(self._luggage_props) - 1)])
            if body == _WHEELCHAIR and prop == Prop.SUITCASE:
                prop = int(Prop.BAG)  # nobody pulls a suitcase from a wheelchair: a bag on the lap
        if body == _CHILD:
            radius = rng.uniform(*CHILD_RADIUS_M)
        elif body == _WHEELCHAIR:
            radius = WHEELCHAIR_RADIUS_M
        else:
            radius = rng.uniform(*crowd.radius_m)
        return body, prop, radius

    def _spawn_due(self) -> None:
        t = self.time + 1e-9
        st = self.scenario.station
        for e in range(len(self._next_arrival)):
            while self._next_arrival[e] <= t:
                self._backlog[e].append((-1, self._arriving_party(self._draw_party_size()), False))
                self._next_arrival[e] += self.rng.exponential(1.0 / self._rate_per_s[e])
        while self._releases and self._releases[0][0] <= t:
            _, e, ex, size = self._releases.popleft()
            self._backlog[e].append((ex, self._arriving_party(size), True))
        for e, queue in enumerate(self._backlog):
            while queue:
                ex, people, alighting = queue[0]
                size = 1 if people is None else len(people)
                if self._n + size > self.scenario.crowd.max_agents:
                    self.dropped_arrivals += sum(1 if item[1] is None else len(item[1]) for item in queue)
                    queue.clear()
                    break
                if not self._spawn_at_entrance(e, ex, people, alighting):
                    break  # the doorway is full; the rest wait their turn
                queue.popleft()
                self.arrivals_by_entrance[st.entrances[e].name] += size
        while self._events and self._events[0][0] <= t:
            _, i, ev = self._events.popleft()
            self._spawn_scripted(i, ev)

    def _spawn_at_entrance(self, e: int, exit_index: int, people: list | None, alighting: bool = False) -> bool:
        """Spawn a party (``people``, from :meth:`_arriving_party`; None: one plain person drawn
        now) at entrance ``e``: the first member at a random point of the doorway, the others
        beside and behind it; False when the doorway has no room now (the party keeps its
        members for the next try)."""
        a, b = self._entrance_seg[e]
        length = float(np.hypot(*(b - a)))
        if people is None:
            people = self._draw_party(1)
        size = len(people)
        radius = people[0][2]
        lo = min(radius / max(length, 1e-9), 0.5)
        positions = None
        along = (b - a) / max(length, 1e-9)
        for _ in range(4):
            u = self.rng.uniform(lo, 1.0 - lo)
            p = a + u * (b - a) + self._inward[e] * (radius + 0.1)
            if self._clear_of_agents(p, radius):
                positions = [p] if size == 1 else self._place_party(
                    p, people, along, self._inward[e], rows=(0, 1, 2), doorway=(length, float(u * length)))
                if positions is not None:
                    break
        if positions is None:
            return False
        if exit_index < 0:
            choices = self._exit_choices[e]
            exit_index = choices[int(self.rng.integers(len(choices)))]
        self._spawn_party(positions, people, exit_index, alighting=alighting)
        return True

    def _place_party(self, p0: np.ndarray, people: list, along: np.ndarray, inward: np.ndarray, *,
                     rows=(0, 1, 2), doorway: tuple | None = None) -> list[np.ndarray] | None:
        """Places for a party's members beside (``along``) and behind (``inward``) its first
        member at ``p0``, each clear of everybody; None when one of them finds no room. In a
        doorway, places of the first row stay within its span."""
        offsets = sorted(((r, c) for r in rows for c in range(-3, 4) if (r, c) != (0, 0)),
                         key=lambda rc: (rc[0] ** 2 + rc[1] ** 2, abs(rc[0]), -rc[1]))
        placed = [(p0, people[0][2])]
        for _, _, radius in people[1:]:
            spot = None
            for r, c in offsets:
                q = p0 + along * (c * PARTY_SPACING_M) + inward * (r * PARTY_SPACING_M)
                if any(np.hypot(*(q - o)) < radius + ro + 0.05 for o, ro in placed):
                    continue
                if doorway is not None and r == 0:
                    length, u0 = doorway  # [m] the doorway's length, the first member's place along it
                    x = u0 + c * PARTY_SPACING_M
                    if not radius <= x <= length - radius:
                        continue
                elif not (self.grid.is_free(q)[0] and points_in_polygon(q[None], self.walkable)[0]):
                    continue
                if self._one_way and self._in_one_way(q)[0]:
                    continue
                if self._clear_of_agents(q, radius):
                    spot = q
                    break
            if spot is None:
                return None
            placed.append((spot, radius))
        return [q for q, _ in placed]

    def _clear_of_agents(self, p: np.ndarray, radius: float) -> bool:
        n = self._n
        if n == 0:
            return True
        d2 = (self._pos[:n, 0] - p[0]) ** 2 + (self._pos[:n, 1] - p[1]) ** 2
        return bool(np.all(d2 >= (self._radius[:n] + radius) ** 2))

    def _clear_point_near(self, p: np.ndarray, radius: float) -> np.ndarray:
        """``p`` if no body overlaps a person of ``radius`` there, else the nearest such point
        on rings of 0.1 m steps around it (an injected person never lands on someone)."""
        if self._clear_of_agents(p, radius):
            return p
        for ring in range(1, 21):
            r = 0.1 * ring
            for a in np.linspace(0.0, 2.0 * np.pi, 6 * ring, endpoint=False):
                q = p + r * np.array([np.cos(a), np.sin(a)])
                if self._clear_of_agents(q, radius) and points_in_polygon(q[None], self.walkable)[0]:
                    return q
        return p

    def _place_initial(self, count: int) -> None:
        """``count`` people on the free floor at t = 0 (outside one-way zones), in parties."""
        if count == 0:
            return
        placed = 0
        attempts = 0
        batch = np.empty((0, 2))
        choices = self._ordinary_exits or list(range(len(self._exit_names)))
        while placed < count:
            if len(batch) == 0:
                if attempts > 50 * count + 1000:
                    raise SimulationError(
                        f"scenario {self.scenario.name!r}: crowd.initial_count={count} does not fit on the "
                        f"free floor without overlaps; placed {placed}"
                    )
                batch = sample_points_in_polygon(self.rng, self.walkable, 256)
                ok = self.grid.is_free(batch)
                if self._one_way:
                    ok &= ~self._in_one_way(batch)
                batch = batch[ok]
                continue
            p, batch = batch[0], batch[1:]
            attempts += 1
            size = min(self._draw_party_size(), count - placed)
            people = self._draw_party(size)
            radius = people[0][2]
            if not self._clear_of_agents(p, radius + 0.05):
                continue
            positions = [p]
            if size > 1:
                positions = self._place_party(p, people, np.array([1.0, 0.0]), np.array([0.0, 1.0]), rows=(0, -1, 1))
                if positions is None:
                    continue
            exit_index = choices[int(self.rng.integers(len(choices)))]
            self._spawn_party(positions, people, exit_index)
            placed += size

    def _spawn_party(self, positions: list, people: list, exit_index: int, *, alighting: bool = False
                     ) -> list[Pedestrian]:
        """Spawn a party (``people``: body kind, prop, radius per member) at ``positions``.

        Its first member draws the plan, which the others share: alighting passengers walk to
        their exit; of the others, ``crowd.train_share`` come to take a train (they walk to a
        waiting point near a boarding exit), then ``wait_fraction`` stop at a waiting spot
        for a drawn time; the rest walk to their exit. Members wait round the same spot and
        walk at the party's slowest desired speed."""
        crowd = self.scenario.crowd
        rng = self.rng
        size = len(people)
        pid = -1
        if size > 1:
            pid = self._next_party
            self._next_party += 1
            self._parties[pid] = []
        agents = []
        spot = -1
        waits = False
        for j, (pos, (body, prop, radius)) in enumerate(zip(positions, people)):
            s = self._new_slot()
            self._pos[s] = pos
            self._vel[s] = 0.0
            self._radius[s] = radius
            self._fill_body(s, body, prop)
            if j == 0:
                for_train = False
                if alighting:
                    waits = False
                else:
                    for_train = crowd.train_share > 0 and rng.uniform() < crowd.train_share
                    waits = for_train or (rng.uniform() < crowd.wait_fraction and len(self._spots) > 0)
                wait_len = rng.uniform(*crowd.wait_s)
            self._wait_len[s] = wait_len
            agent = Pedestrian(self, s, Behaviour.WALKING if waits else Behaviour.LEAVING, exit_index)
            self._bind(agent, s)
            if pid >= 0:
                agent.party = pid
                self._party[s] = pid
                self._parties[pid].append(agent)
            if waits:
                spot, p = self._draw_wait_point(None if j == 0 else spot, for_train=for_train)
                self._field[s] = self._spot_field_index(spot)
                self._goal[s] = p
                self._goal_is_point[s] = True
                self._exit_idx[s] = exit_index
                self._state[s] = Behaviour.WALKING
            else:
                self._leave(agent)
            self._face_goal(s)
            agents.append(agent)
        if size > 1:
            slots = [a.slot for a in agents]
            self._v0[slots] = self._v0[slots].min()  # a party walks at its slowest member's pace
        return agents

    def _spawn_scripted(self, i: int, ev: IntrusionEvent | StaffInZoneDistractor) -> Pedestrian:
        staff = isinstance(ev, StaffInZoneDistractor)
        event_id = ev.id if ev.id is not None else (
            f"{ev.type}_{i - len(self.scenario.events)}" if staff else f"{ev.type}_{i}")
        radius = self.rng.uniform(*self.scenario.crowd.radius_m)
        start = self._clear_point_near(np.asarray(ev.start, dtype=np.float64), radius)
        s = self._new_slot()
        self._pos[s] = start
        self._vel[s] = 0.0
        self._radius[s] = radius
        self._fill_body(s)
        self._wait_len[s] = 0.0
        script = _Script(event=ev, event_id=event_id, dwell_index=ev.dwell_index % len(ev.path))
        agent = Pedestrian(self, s, Behaviour.SCRIPTED, 0, script=script)
        self._bind(agent, s)
        self._state[s] = Behaviour.SCRIPTED
        self._field[s] = -1
        self._goal[s] = ev.path[0]
        self._goal_is_point[s] = True
        self._edge_free[s] = True
        self._any_edge_free = True
        self._face_goal(s)
        if staff:
            self._vest[s] = True  # staff: allowed where a zone says so, never an injected intrusion
        else:
            self.truth.register_injected(agent.unique_id, event_id)
        return agent

    def _fill_body(self, s: int, body: int = _ADULT, prop: int = Prop.NONE) -> None:
        """Draw the body and looks of the person in slot ``s``: desired speed and height from
        ``crowd`` (a child's height, a wheelchair user's seated height and speed from the
        constants above; a suitcase slows its carrier), colours and appearance group from
        ``crowd.appearance`` (:func:`sim.appearance.sample_appearance`)."""
        crowd = self.scenario.crowd
        rng = self.rng
        # the model stream's draws per person keep their order and count (the looks come from
        # their own stream), so that a scenario without the new crowd features moves as before
        u = rng.random(7)
        z = rng.standard_normal(2)
        jitter = rng.integers(-12, 13, size=(4, 3))
        v_lo = max(0.3, crowd.speed_mean_mps - 3 * crowd.speed_std_mps)
        v_hi = crowd.speed_mean_mps + 3 * crowd.speed_std_mps
        v0 = min(max(crowd.speed_mean_mps + crowd.speed_std_mps * z[0], v_lo), v_hi)
        h_lo = max(0.9, crowd.height_mean_m - 3 * crowd.height_std_m)
        h_hi = min(2.3, crowd.height_mean_m + 3 * crowd.height_std_m)
        height = min(max(crowd.height_mean_m + crowd.height_std_m * z[1], h_lo), h_hi)
        shirt, trousers, skin, hair, group = sample_appearance(crowd.appearance, 1, self._looks_rng)
        self._shirt[s], self._trousers[s], self._skin[s], self._hair[s] = shirt[0], trousers[0], skin[0], hair[0]
        self._group[s] = group[0]
        if self._orange is not None and rng.uniform() < self._orange.share:
            # flame-coloured top (a fire look-alike): the distractor's colour, jittered
            self._shirt[s] = np.clip(np.array(self._orange.colour_bgr) + jitter[0], 0, 255).astype(np.uint8)
        gait = u[5]
        if body == _CHILD:
            height = rng.uniform(*CHILD_HEIGHT_M)
        elif body == _WHEELCHAIR:
            height = WHEELCHAIR_HEIGHT_M
            mean, std = WHEELCHAIR_SPEED_MPS
            v0 = min(max(mean + std * rng.standard_normal(), 0.6), 1.2)
        if prop == Prop.SUITCASE:
            v0 *= SUITCASE_SPEED_FACTOR
        self._v0[s] = v0
        self._height[s] = height
        self._pose[s] = 0
        self._pose_progress[s] = 0.0
        self._frozen[s] = False
        self._prop[s] = prop
        self._prop_raise[s] = 0.0
        self._vest[s] = False
        self._body[s] = body
        self._gait[s] = 2.0 * np.pi * gait
        self._wait_until[s] = np.inf
        self._arrive[s] = False
        self._edge_free[s] = False
        self._field[s] = -1
        self._party[s] = -1
        self._check_at[s] = self.time

    def _face_goal(self, s: int) -> None:
        d = self._goal[s] - self._pos[s]
        if self._field[s] >= 0:
            f = self.fields.sample(self._field[s:s + 1], self._pos[s:s + 1])[0]
            if f.any():
                d = f
        norm = float(np.hypot(*d))
        self._heading[s] = d / norm if norm > 1e-9 else (1.0, 0.0)

    def _bind(self, agent: Pedestrian, s: int) -> None:
        self._ids[s] = agent.unique_id
        self._own_exit[s] = agent.exit_index
        if s == len(self._slot_agent):
            self._slot_agent.append(agent)
        else:
            self._slot_agent[s] = agent

    # --- the arrays -----------------------------------------------------------------------
    _ARRAYS = {
        "_ids": ((), np.int64), "_pos": ((2,), np.float64), "_vel": ((2,), np.float64),
        "_heading": ((2,), np.float64), "_gait": ((), np.float64), "_radius": ((), np.float64),
        "_height": ((), np.float64), "_v0": ((), np.float64), "_state": ((), np.uint8),
        "_field": ((), np.int64), "_goal": ((2,), np.float64), "_goal_is_point": ((), bool),
        "_arrive": ((), bool), "_wait_until": ((), np.float64), "_wait_len": ((), np.float64),
        "_exit_idx": ((), np.int64), "_edge_free": ((), bool), "_check_at": ((), np.float64),
        "_party": ((), np.int64), "_own_exit": ((), np.int64),
        "_shirt": ((3,), np.uint8),
        "_trousers": ((3,), np.uint8), "_skin": ((3,), np.uint8), "_hair": ((3,), np.uint8),
        "_group": ((), np.int16),
        # set by behaviour scripts: a pose other than standing/walking (0: none), its progress,
        # frozen in place, the prop carried and how far it is raised, the vest, the body kind
        "_pose": ((), np.uint8), "_pose_progress": ((), np.float32), "_frozen": ((), bool),
        "_prop": ((), np.uint8), "_prop_raise": ((), np.float32), "_vest": ((), bool), "_body": ((), np.uint8),
    }

    def _alloc(self, capacity: int) -> None:
        self._capacity = capacity
        for name, (shape, dtype) in self._ARRAYS.items():
            arr = np.zeros((capacity, *shape), dtype)
            old = getattr(self, name, None)
            if old is not None:
                arr[: self._n] = old[: self._n]
            setattr(self, name, arr)
        self._any_edge_free = bool(self._edge_free[: self._n].any())

    def _new_slot(self) -> int:
        if self._n == self._capacity:
            self._alloc(2 * self._capacity)
        s = self._n
        self._n += 1
        return s

    def _remove_slots(self, slots: list[int]) -> None:
        """Remove the pedestrians in ``slots`` (their exit reached): swap-remove in the
        arrays, keeping every remaining agent's slot index right, and leave the Mesa model."""
        for s in sorted(slots, reverse=True):
            agent = self._slot_agent[s]
            self.exits_by_name[self._exit_names[agent.exit_index]] += 1
            if agent.party >= 0:
                self._leave_party(agent)
            agent.remove()
            agent.slot = -1
            last = self._n - 1
            if s != last:
                for name in self._ARRAYS:
                    arr = getattr(self, name)
                    arr[s] = arr[last]
                moved = self._slot_agent[last]
                moved.slot = s
                self._slot_agent[s] = moved
            self._slot_agent.pop()
            self._n -= 1
