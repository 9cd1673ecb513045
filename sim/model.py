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

People who sit, crouch, fall or lie are *frozen*: the social force does not move them,
and the others walk round them (a lying body is one disc of ``LYING_RADIUS_M`` centred
half a body length along its heading).

The model is deterministic: one ``numpy.random.Generator`` built from the seed drives
everything (Mesa's own ``rng`` is that generator, its ``random`` is seeded from it).

Example::

    from sim.scenario import load_scenario
    from sim.model import StationModel

    model = StationModel(load_scenario("platform_intrusion"))
    model.run_until(30.0)
    state = model.snapshot()          # sim.state.CrowdState, copies
    world = model.world()             # sim.state.WorldState: crowd, objects on the floor, fires
    events = model.truth.events()     # ground-truth event instances
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import IntEnum

import mesa
import numpy as np

from sim.crowd import SocialForceParams, Walls, advance_gait_and_heading, motion_step
from sim.floorfield import FieldBank, NavGrid, NavGridParams
from sim.geometry import (
    as_polygon,
    point_segment_distance_rowwise,
    points_in_polygon,
    sample_points_in_polygon,
    segment_crosses_any,
    segment_to_segment_distance,
    wall_segments,
)
from sim.behaviours import build_scripts
from sim.scenario import IntrusionEvent, OrangeClothingDistractor, Scenario, StaffInZoneDistractor
from sim.state import CrowdState, FireState, ObjectKind, ObjectState, Posture, Prop, WorldState
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

# Appearance palette (BGR). Groups are coarse clothing styles; appearance_group is the index.
_GROUP_WEIGHTS = (0.3, 0.3, 0.2, 0.2)
_GROUP_CUMULATIVE = np.cumsum(_GROUP_WEIGHTS)
_SHIRTS = (
    ((40, 40, 40), (60, 50, 40), (90, 60, 30), (30, 30, 80), (70, 70, 70)),  # dark formal
    ((200, 200, 200), (180, 130, 70), (70, 160, 200), (90, 180, 120), (170, 170, 150)),  # light casual
    ((40, 40, 200), (40, 180, 240), (200, 80, 40), (160, 60, 160), (60, 200, 60)),  # bright
    ((120, 160, 190), (80, 110, 140), (100, 120, 120), (60, 90, 120), (140, 170, 200)),  # coats, beige/brown
)
_TROUSERS = (
    ((30, 30, 30), (50, 40, 30), (70, 70, 70)),
    ((120, 80, 40), (60, 60, 60), (150, 150, 150)),
    ((110, 70, 30), (40, 40, 40), (90, 90, 90)),
    ((40, 50, 60), (30, 30, 30), (100, 110, 120)),
)
_SKIN = ((180, 200, 240), (140, 170, 220), (100, 140, 190), (70, 100, 150), (50, 70, 110))
_HAIR = ((20, 20, 20), (30, 40, 60), (40, 70, 110), (120, 150, 180), (150, 150, 150))


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
        """WALKING -> WAITING at the spot until the drawn waiting time is over."""
        m = self.model
        self._set(Behaviour.WAITING)
        m._wait_until[self.slot] = m.time + m._wait_len[self.slot]
        m._check_at[self.slot] = m._wait_until[self.slot]
        m._arrive[self.slot] = True
        m._goal[self.slot] = m._pos[self.slot]

    def wait_over(self) -> None:
        """WAITING -> LEAVING toward its exit."""
        self.model._leave(self)

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

        # navigation: one floor field per exit now, one per waiting spot when first used
        self.grid = NavGrid(self.walkable, self.obstacles, grid_params)
        self.fields = FieldBank(self.grid)
        for a, b in self._exit_seg:
            self.fields.add(self.grid.field_to_segment(a, b))
        self._spots = self._waiting_spots()
        self._spot_field: dict[int, int] = {}

        # exits an arrival may choose: not the doorway it came through
        self._exit_choices = []
        for seg in self._entrance_seg:
            ok = [k for k, ex in enumerate(self._exit_seg) if segment_to_segment_distance(seg, ex) >= 0.5]
            self._exit_choices.append(ok or list(range(len(self._exit_seg))))
        self._inward = np.array([self._inward_normal(s) for s in self._entrance_seg]).reshape(-1, 2)

        # the structure of arrays
        self._n = 0
        self._alloc(max(64, crowd.initial_count + 16))
        self._slot_agent: list[Pedestrian] = []

        # arrivals: Poisson per entrance, train releases, injected events
        rates = np.array([e.rate_per_min for e in st.entrances], dtype=np.float64)
        self._rate_per_s = rates / 60.0
        self._next_arrival = np.array([
            self.rng.exponential(1.0 / r) if r > 0 else np.inf for r in self._rate_per_s
        ])
        self._backlog: list[deque] = [deque() for _ in st.entrances]
        entrance_index = {e.name: i for i, e in enumerate(st.entrances)}
        releases = []
        for tr in st.trains:
            times = np.sort(tr.at_s + self.rng.uniform(0.0, tr.release_s, size=tr.count))
            ex = -1 if tr.exit is None else self._exit_names.index(tr.exit)
            releases += [(float(t), entrance_index[tr.entrance], ex) for t in times]
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
        """Hand ``agent`` over to a script (behaviour PUPPET, standing where it is); returns its
        plan, which :meth:`resume` gives back."""
        s = agent.slot
        plan = (agent.behaviour, self._goal[s].copy(), bool(self._goal_is_point[s]), int(self._field[s]),
                bool(self._arrive[s]), float(self._wait_until[s]), int(self._exit_idx[s]))
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
        plan (not scripted, not frozen), optionally only those ``walking`` (faster than
        0.5 m/s) or ``within_m`` [m] of the point, nearest first."""
        n = self._n
        state = self._state[:n]
        ok = (state != _SCRIPTED) & (state != _PUPPET) & ~self._frozen[:n] & ~self._edge_free[:n]
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
            idx = self.fields.add(self.grid.field_to_point(p))
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
            done = slots[d_exit < EXIT_REACHED_M].tolist()
            next_check[leaving] = t + 0.9 * np.maximum(d_exit - EXIT_REACHED_M, 0.0) / vmax[leaving]
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
            fires=self._fires_now() if self._fires else None,
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

    def _nearest_exit(self, point: np.ndarray) -> int:
        values = [self.fields.fields[k].value_at(point)[0] for k in range(len(self._exit_names))]
        return int(np.argmin(values))

    def _spot_field_index(self, spot: int) -> int:
        idx = self._spot_field.get(spot)
        if idx is None:
            idx = self.fields.add(self.grid.field_to_point(self._spots[spot]))
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
        return g.cell_centres()[iy[free], ix[free]]

    def _draw_wait_point(self) -> tuple[int, np.ndarray]:
        spot = int(self.rng.integers(len(self._spots)))
        centre = self._spots[spot]
        r = WAIT_SPOT_JITTER_M * np.sqrt(self.rng.uniform())
        a = self.rng.uniform(0.0, 2.0 * np.pi)
        p = centre + r * np.array([np.cos(a), np.sin(a)])
        if not self.grid.is_free(p)[0] or segment_crosses_any(centre, p, self.walls.segments):
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
    def _spawn_due(self) -> None:
        t = self.time + 1e-9
        st = self.scenario.station
        for e in range(len(self._next_arrival)):
            while self._next_arrival[e] <= t:
                self._backlog[e].append(-1)
                self._next_arrival[e] += self.rng.exponential(1.0 / self._rate_per_s[e])
        while self._releases and self._releases[0][0] <= t:
            _, e, ex = self._releases.popleft()
            self._backlog[e].append(ex)
        for e, queue in enumerate(self._backlog):
            while queue:
                if self._n >= self.scenario.crowd.max_agents:
                    self.dropped_arrivals += len(queue)
                    queue.clear()
                    break
                if not self._spawn_at_entrance(e, queue[0]):
                    break  # the doorway is full; the rest wait their turn
                queue.popleft()
                self.arrivals_by_entrance[st.entrances[e].name] += 1
        while self._events and self._events[0][0] <= t:
            _, i, ev = self._events.popleft()
            self._spawn_scripted(i, ev)

    def _spawn_at_entrance(self, e: int, exit_index: int) -> bool:
        a, b = self._entrance_seg[e]
        length = float(np.hypot(*(b - a)))
        radius = self.rng.uniform(*self.scenario.crowd.radius_m)
        lo = min(radius / max(length, 1e-9), 0.5)
        pos = None
        for _ in range(4):
            u = self.rng.uniform(lo, 1.0 - lo)
            p = a + u * (b - a) + self._inward[e] * (radius + 0.1)
            if self._clear_of_agents(p, radius):
                pos = p
                break
        if pos is None:
            return False
        if exit_index < 0:
            choices = self._exit_choices[e]
            exit_index = choices[int(self.rng.integers(len(choices)))]
        self._spawn(pos, radius, exit_index)
        return True

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
        if count == 0:
            return
        crowd = self.scenario.crowd
        placed = 0
        attempts = 0
        batch = np.empty((0, 2))
        while placed < count:
            if len(batch) == 0:
                if attempts > 50 * count + 1000:
                    raise SimulationError(
                        f"scenario {self.scenario.name!r}: crowd.initial_count={count} does not fit on the "
                        f"free floor without overlaps; placed {placed}"
                    )
                batch = sample_points_in_polygon(self.rng, self.walkable, 256)
                batch = batch[self.grid.is_free(batch)]
                continue
            p, batch = batch[0], batch[1:]
            attempts += 1
            radius = self.rng.uniform(*crowd.radius_m)
            if not self._clear_of_agents(p, radius + 0.05):
                continue
            exit_index = int(self.rng.integers(len(self._exit_names)))
            self._spawn(p, radius, exit_index)
            placed += 1

    def _spawn(self, pos: np.ndarray, radius: float, exit_index: int) -> Pedestrian:
        crowd = self.scenario.crowd
        rng = self.rng
        s = self._new_slot()
        self._pos[s] = pos
        self._vel[s] = 0.0
        self._radius[s] = radius
        self._fill_body(s)
        waits = rng.uniform() < crowd.wait_fraction and len(self._spots) > 0
        self._wait_len[s] = rng.uniform(*crowd.wait_s)
        agent = Pedestrian(self, s, Behaviour.WALKING if waits else Behaviour.LEAVING, exit_index)
        self._bind(agent, s)
        if waits:
            spot, p = self._draw_wait_point()
            self._field[s] = self._spot_field_index(spot)
            self._goal[s] = p
            self._goal_is_point[s] = True
            self._exit_idx[s] = exit_index
            self._state[s] = Behaviour.WALKING
        else:
            self._leave(agent)
        self._face_goal(s)
        return agent

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

    def _fill_body(self, s: int) -> None:
        """Draw the body and looks of the person in slot ``s`` (one batch of draws)."""
        crowd = self.scenario.crowd
        rng = self.rng
        u = rng.random(7)
        z = rng.standard_normal(2)
        jitter = rng.integers(-12, 13, size=(4, 3))
        v_lo = max(0.3, crowd.speed_mean_mps - 3 * crowd.speed_std_mps)
        v_hi = crowd.speed_mean_mps + 3 * crowd.speed_std_mps
        self._v0[s] = min(max(crowd.speed_mean_mps + crowd.speed_std_mps * z[0], v_lo), v_hi)
        h_lo = max(0.9, crowd.height_mean_m - 3 * crowd.height_std_m)
        h_hi = min(2.3, crowd.height_mean_m + 3 * crowd.height_std_m)
        self._height[s] = min(max(crowd.height_mean_m + crowd.height_std_m * z[1], h_lo), h_hi)
        group = min(int(np.searchsorted(_GROUP_CUMULATIVE, u[0], side="right")), len(_SHIRTS) - 1)
        self._group[s] = group
        picks = (
            _SHIRTS[group][int(u[1] * len(_SHIRTS[group]))],
            _TROUSERS[group][int(u[2] * len(_TROUSERS[group]))],
            _SKIN[int(u[3] * len(_SKIN))],
            _HAIR[int(u[4] * len(_HAIR))],
        )
        colours = np.clip(np.array(picks) + jitter, 0, 255).astype(np.uint8)
        self._shirt[s], self._trousers[s], self._skin[s], self._hair[s] = colours
        if self._orange is not None and rng.uniform() < self._orange.share:
            # flame-coloured top (a fire look-alike): the distractor's colour, jittered like the others
            self._shirt[s] = np.clip(np.array(self._orange.colour_bgr) + jitter[0], 0, 255).astype(np.uint8)
        self._pose[s] = 0
        self._pose_progress[s] = 0.0
        self._frozen[s] = False
        self._prop[s] = Prop.NONE
        self._prop_raise[s] = 0.0
        self._vest[s] = False
        self._body[s] = 0
        self._gait[s] = 2.0 * np.pi * u[5]
        self._wait_until[s] = np.inf
        self._arrive[s] = False
        self._edge_free[s] = False
        self._field[s] = -1
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
