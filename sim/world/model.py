"""The station model: a Mesa model whose pedestrians move by one vectorised step.

Each pedestrian is a :class:`~sim.world.agents.Pedestrian` (a ``mesa.Agent``) holding its
behaviour and its row of the crowd's structure of arrays (:class:`~sim.world.people.People`:
positions, velocities, goals...). A step

1. computes every agent's desired direction (floor field or straight line) and speed, and
   the cohesion of walking parties (:mod:`sim.world.parties`),
2. moves everyone with one call of :func:`sim.world.social_force.motion_step`,
3. finds, with array comparisons, the few agents whose behaviour must change (goal
   reached, wait over, exit reached) and runs Python code for those only,
4. moves people through the doors of the trains standing at the platform
   (:mod:`sim.world.doors`), opens and closes the boarding exits (:mod:`sim.world.trains`),
5. spawns due arrivals (:mod:`sim.world.arrivals`: Poisson per entrance, train releases),
6. runs the behaviour scripts of staged events and distractors (:mod:`sim.events.scripts`),
   which drive their few pedestrians (behaviour ``SCRIPTED``) through the script API below
   (:class:`sim.events.base.ScriptHost`),
7. feeds the ground-truth recorder (:mod:`sim.events.truth`).

Who arrives is drawn from ``scenario.crowd`` (:mod:`sim.world.appearance`); where people
may walk, wait and which way through one-way zones, from :mod:`sim.world.navigation`.

People who sit, crouch, fall or lie are *frozen*: the social force does not move them,
and the others walk round them (a lying body is one disc of ``LYING_RADIUS_M`` centred
half a body length along its heading).

The model is deterministic: one ``numpy.random.Generator`` built from the seed drives
everything (Mesa's own ``rng`` is that generator, its ``random`` is seeded from it) but the
looks, drawn from a second stream spawned from the same seed.

Example::

    from sim.scenario import load_scenario
    from sim.world.model import StationModel

    model = StationModel(load_scenario("platform_intrusion"))
    model.run_until(30.0)
    state = model.snapshot()          # sim.state.CrowdState, copies
    world = model.world()             # sim.state.WorldState: crowd, objects on the floor, fires
    events = model.truth.events()     # ground-truth event instances
"""

from __future__ import annotations

from collections import deque

import mesa
import numpy as np

from sim.events.scripts import build_scripts
from sim.events.truth import TruthRecorder, TruthRules
from sim.geometry import as_polygon, point_segment_distance_rowwise, points_in_polygon, wall_segments
from sim.scenario import OrangeClothingDistractor, Scenario
from sim.state import BodyKind, CrowdState, ObjectKind, Posture, Prop, WorldState
from sim.world.agents import Behaviour, Pedestrian
from sim.world.appearance import CrowdComposition
from sim.world.arrivals import Arrivals, clear_point_near
from sim.world.floorfield import NavGridParams
from sim.world.navigation import Navigation
from sim.world.objects import OBJECT_COLOURS, FloorObjects
from sim.world.parties import Parties, keep_together
from sim.world.people import People
from sim.world.social_force import SocialForceParams, Walls, advance_gait_and_heading, motion_step
from sim.world.trains import Trains

# plain ints for array comparisons in the step (enum attribute lookups cost microseconds)
_WALKING, _WAITING, _LEAVING, _SCRIPTED = (int(b) for b in list(Behaviour)[:4])
_LYING = int(Posture.LYING)
_WHEELCHAIR = int(BodyKind.WHEELCHAIR)

#: [m] distance to a waiting spot at which a walker stops and starts waiting
GOAL_REACHED_M = 0.5
#: [m] within this distance of its spot a walker that is blocked (slower than
#: ``BLOCKED_SPEED_MPS``) waits where it stands
GOAL_BLOCKED_M = 1.5
BLOCKED_SPEED_MPS = 0.15
#: [m] distance to the exit segment at which a leaving pedestrian is removed
EXIT_REACHED_M = 0.5
#: [m] within this distance of a point goal the floor field gives way to a straight line
DIRECT_RADIUS_M = 1.5
#: [m] distance over which a standing pedestrian slows down when approaching its spot
ARRIVE_SLOWDOWN_M = 1.0
#: [m/s] speed above which a body counts as walking in snapshots and tracks
WALKING_SPEED_MPS = 0.2
#: [m] radius of the disc a lying body keeps the others out of (centred mid-body)
LYING_RADIUS_M = 0.5


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

        # walls: exits are open doorways; platform edges are walls for everyone except a
        # scripted person, who may step off onto the track bed
        reach = self.params.wall_cutoff_m
        exits_open = list(self._exit_seg)
        platform_edges = [np.asarray(s, dtype=np.float64) for s in st.platform_edges]
        self.walls = Walls(wall_segments(self.walkable, self.obstacles, openings=exits_open), reach_m=reach)
        self.walls_edge_free = Walls(
            wall_segments(self.walkable, self.obstacles, openings=exits_open + platform_edges), reach_m=reach
        )
        self.nav = Navigation(self.walkable, self.obstacles, st.zones, self._exit_seg, self.walls.segments, grid_params)
        self.grid = self.nav.grid
        self.fields = self.nav.fields

        self.people = People(max(64, crowd.initial_count + 16))
        self._slot_agent: list[Pedestrian] = []
        self._parties = Parties(self.people)
        self.trains = Trains(scenario, self._exit_names, self._exit_seg, self.nav, self._parties)
        self._exit_choices = self.trains.ordinary_exits or list(range(len(self._exit_names)))
        # looks (colours, appearance group) come from a stream of their own, spawned from the
        # seed: changing the appearance distribution does not move anybody
        orange = [d for d in scenario.distractors if isinstance(d, OrangeClothingDistractor)]
        self.composition = CrowdComposition(
            crowd, self.rng, np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(1,))),
            orange[0] if orange else None)
        self.arrivals = Arrivals(scenario, self.composition, self.nav, self._exit_seg, self.trains, self.rng)
        self.floor = FloorObjects()
        self.exits_by_name = {name: 0 for name in self._exit_names}
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
        self.arrivals.place_initial(self, crowd.initial_count, self._exit_choices)
        self.arrivals.spawn_due(self, self.time)
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
        return self.people.n

    @property
    def boarded_by_train(self) -> list[int]:
        """People sent to board each train (index of ``station.trains``)."""
        return self.trains.boarded_by_train

    @property
    def arrivals_by_entrance(self) -> dict[str, int]:
        """People who came in, per entrance name."""
        return self.arrivals.by_entrance

    @property
    def dropped_arrivals(self) -> int:
        """Arrivals dropped because ``crowd.max_agents`` were present."""
        return self.arrivals.dropped

    def step(self) -> None:
        """Advance the crowd by ``dt`` seconds."""
        n = self.people.n
        if n:
            self._move(n)
        t = self.time
        if n:
            self._transitions(t)
        if self.trains.runs:
            self.trains.doors.step(self, t)
        if self.trains.doors_due_by(t):
            self.trains.doors_due(self, t)
        self.arrivals.spawn_due(self, t)
        self._run_scripts()
        self._observe()

    def run_until(self, t_s: float) -> None:
        """Step until ``time`` reaches ``t_s`` [s] (to within a thousandth of a step)."""
        while self.time < t_s - 1e-3 * self.dt:
            self.step()

    def snapshot(self) -> CrowdState:
        """The crowd now, as copies (see :class:`sim.state.CrowdState`)."""
        p = self.people
        n = p.n
        h = p.heading[:n]
        return CrowdState(
            t=self.time,
            ids=p.ids[:n].copy(),
            pos_m=p.pos[:n].copy(),
            vel_mps=p.vel[:n].copy(),
            heading_rad=np.arctan2(h[:, 1], h[:, 0]),
            radius_m=p.radius[:n].copy(),
            height_m=p.height[:n].copy(),
            gait_phase=p.gait[:n].copy(),
            posture=self._postures(n),
            posture_progress=p.pose_progress[:n].copy(),
            shirt_bgr=p.shirt[:n].copy(),
            trousers_bgr=p.trousers[:n].copy(),
            skin_bgr=p.skin[:n].copy(),
            hair_bgr=p.hair[:n].copy(),
            appearance_group=p.group[:n].copy(),
            prop=p.prop[:n].copy(),
            prop_raise=p.prop_raise[:n].copy(),
            vest=p.vest[:n].copy(),
            body=p.body[:n].copy(),
        )

    def world(self) -> WorldState:
        """Everything a camera can see now: the crowd, the objects on the floor, the fires and the trains (copies)."""
        return WorldState(t=self.time, crowd=self.snapshot(), objects=self.floor.objects(),
                          fires=self.floor.fires(self.time), trains=self.trains.runs.state(self.time))

    def _postures(self, n: int) -> np.ndarray:
        """(n,) uint8 :class:`Posture`: a script's pose where one is set, else walking or standing by speed."""
        vel = self.people.vel[:n]
        walking = (vel[:, 0] ** 2 + vel[:, 1] ** 2) > WALKING_SPEED_MPS ** 2
        auto = np.where(walking, np.uint8(Posture.WALKING), np.uint8(Posture.STANDING))
        pose = self.people.pose[:n]
        return np.where(pose > 0, pose, auto).astype(np.uint8)

    def agent(self, agent_id: int) -> Pedestrian:
        """The pedestrian with this id (``KeyError`` when it is not present)."""
        for a in self._slot_agent:
            if a.unique_id == agent_id:
                return a
        raise KeyError(f"no pedestrian with id {agent_id} is present at t={self.time:g} s")

    def agent_at(self, slot: int) -> Pedestrian:
        """The pedestrian in row ``slot`` of ``people``."""
        return self._slot_agent[slot]

    def parties(self) -> dict[int, list[int]]:
        """Party id -> ids of its members present now (parties of two or more only)."""
        return self._parties.ids()

    # --- the script API (sim.events.base.ScriptHost) ---------------------------------------
    def spawn_person(self, pos, *, vest: bool = False, prop: Prop = Prop.NONE) -> Pedestrian:
        """A new pedestrian at ``pos`` [m] (or the nearest point where it overlaps nobody),
        driven by a script (behaviour SCRIPTED): it stands there until told otherwise."""
        radius = self.rng.uniform(*self.scenario.crowd.radius_m)
        p = clear_point_near(self.people, self.walkable, np.asarray(pos, dtype=np.float64), radius)
        exit_index = self._nearest_exit(p) if self._exit_names else 0
        agent = self._new_person(p, radius, Behaviour.SCRIPTED, exit_index)
        s = agent.slot
        self.people.check_at[s] = np.inf
        self.people.heading[s] = (1.0, 0.0)
        self.people.exit_idx[s] = exit_index
        self.people.vest[s] = vest
        self.people.prop[s] = prop
        self.stand(agent)
        return agent

    def take(self, agent: Pedestrian) -> tuple:
        """Hand ``agent`` over to a script (behaviour SCRIPTED, standing where it is; it leaves its
        party); returns its plan, which :meth:`resume` gives back."""
        p = self.people
        s = agent.slot
        plan = (agent.behaviour, p.goal[s].copy(), bool(p.goal_is_point[s]), int(p.field[s]),
                bool(p.arrive[s]), float(p.wait_until[s]), int(p.exit_idx[s]))
        self._parties.leave(agent)  # a script's actor goes its own way from now on
        agent.set_behaviour(Behaviour.SCRIPTED)
        p.wait_until[s] = np.inf
        p.check_at[s] = np.inf
        return plan

    def resume(self, agent: Pedestrian, plan: tuple) -> None:
        """Give ``agent`` its own plan back (see :meth:`take`)."""
        p = self.people
        s = agent.slot
        behaviour, goal, is_point, field, arrive, until, exit_idx = plan
        agent.set_behaviour(behaviour)
        p.goal[s], p.goal_is_point[s], p.field[s] = goal, is_point, field
        p.arrive[s], p.wait_until[s], p.exit_idx[s] = arrive, until, exit_idx
        p.frozen[s] = False
        p.pose[s] = 0
        p.check_at[s] = self.time

    def free_pedestrians(self, point, count: int | None, *, walking: bool = False,
                         within_m: float | None = None) -> list[Pedestrian]:
        """Up to ``count`` (None: all) pedestrians nearest to ``point`` [m] that follow their own
        plan (not scripted, not frozen, not in a wheelchair), optionally only those ``walking``
        (faster than 0.5 m/s) or ``within_m`` [m] of the point, nearest first."""
        p = self.people
        n = p.n
        ok = (p.state[:n] != _SCRIPTED) & ~p.frozen[:n] & ~p.edge_free[:n]
        ok &= p.body[:n] != _WHEELCHAIR  # a wheelchair user does not fall, sit or run as a script says
        d2 = (p.pos[:n, 0] - point[0]) ** 2 + (p.pos[:n, 1] - point[1]) ** 2
        if walking:
            ok &= (p.vel[:n, 0] ** 2 + p.vel[:n, 1] ** 2) > 0.5 ** 2
        if within_m is not None:
            ok &= d2 <= within_m ** 2
        slots = np.nonzero(ok)[0]
        slots = slots[np.argsort(d2[slots], kind="stable")]
        if count is not None:
            slots = slots[:count]
        return [self._slot_agent[s] for s in slots.tolist()]

    def walk_to(self, agent: Pedestrian, point, *, arrive: bool = True, navigate: bool = False,
                turn: bool = True) -> None:
        """Send a scripted ``agent`` to ``point`` [m]: in a straight line, or round obstacles by
        a floor field (``navigate``, computed once per point); slowing down on arrival
        (``arrive``) or passing through. A standing person turns to where it goes (``turn``)."""
        p = self.people
        s = agent.slot
        goal = np.asarray(point, dtype=np.float64)
        p.goal[s] = goal
        p.goal_is_point[s] = True
        p.arrive[s] = arrive
        p.frozen[s] = False
        p.field[s] = self.nav.point_field(goal) if navigate else -1
        if turn and p.vel[s, 0] ** 2 + p.vel[s, 1] ** 2 < 0.01:
            self._face_goal(s)

    def stand(self, agent: Pedestrian, *, frozen: bool = False) -> None:
        """Make a scripted ``agent`` stand where it is; ``frozen``: not even pushed by others."""
        p = self.people
        s = agent.slot
        p.goal[s] = p.pos[s]
        p.goal_is_point[s] = True
        p.arrive[s] = True
        p.field[s] = -1
        p.frozen[s] = frozen
        if frozen:
            p.vel[s] = 0.0

    def set_arrive(self, agent: Pedestrian, arrive: bool) -> None:
        """Whether a scripted ``agent`` slows down on approaching its goal."""
        self.people.arrive[agent.slot] = arrive

    def release(self, agent: Pedestrian, exit: str | None = None) -> None:
        """End a script's hold on ``agent``: it stands up and leaves by ``exit`` (nearest if None;
        in a station without exits it stays where it is)."""
        p = self.people
        s = agent.slot
        p.frozen[s] = False
        p.pose[s] = 0
        p.pose_progress[s] = 0.0
        if not self._exit_names:
            self.wait_here(agent)
            return
        agent.exit_index = self._exit_names.index(exit) if exit is not None else self._nearest_exit(p.pos[s])
        self.leave(agent)

    def ignore_platform_edges(self, agent: Pedestrian) -> None:
        """Let ``agent`` come up to (or over) the platform edges, which push the others back;
        it feels them again once it leaves and stands on the floor."""
        self.people.edge_free[agent.slot] = True
        self.people.any_edge_free = True

    def set_pose(self, agent: Pedestrian, posture: Posture | None, progress: float = 0.0) -> None:
        """Set a scripted pose (FALLING, LYING, SITTING, CROUCHING) and its progress in [0, 1];
        None goes back to standing or walking by speed."""
        s = agent.slot
        self.people.pose[s] = 0 if posture is None or posture <= Posture.WALKING else int(posture)
        self.people.pose_progress[s] = 0.0 if posture is None else min(max(progress, 0.0), 1.0)

    def set_prop(self, agent: Pedestrian, prop: Prop, raised: float = 0.0) -> None:
        """What ``agent`` carries, and how far it is raised (0 held low .. 1 at the shoulder)."""
        self.people.prop[agent.slot] = prop
        self.people.prop_raise[agent.slot] = min(max(raised, 0.0), 1.0)

    def set_vest(self, agent: Pedestrian, vest: bool = True) -> None:
        """Whether ``agent`` wears a high-visibility vest (staff, allowed where a zone says so)."""
        self.people.vest[agent.slot] = vest

    def set_speed(self, agent: Pedestrian, v0_mps: float) -> None:
        """[m/s] desired walking speed (v0; the speed limit is ``max_speed_factor`` times it)."""
        self.people.v0[agent.slot] = v0_mps

    def speed_of(self, agent: Pedestrian) -> float:
        """[m/s] desired walking speed (v0)."""
        return float(self.people.v0[agent.slot])

    def speed_now(self, agent: Pedestrian) -> float:
        """[m/s] current speed."""
        return float(np.hypot(*self.people.vel[agent.slot]))

    def velocity_of(self, agent: Pedestrian) -> np.ndarray:
        """[m/s] current velocity (a copy)."""
        return self.people.vel[agent.slot].copy()

    def heading_of(self, agent: Pedestrian) -> float:
        """[rad] facing direction, ccw from +x."""
        h = self.people.heading[agent.slot]
        return float(np.arctan2(h[1], h[0]))

    def set_heading(self, agent: Pedestrian, heading_rad: float) -> None:
        self.people.heading[agent.slot] = (np.cos(heading_rad), np.sin(heading_rad))

    def path_length(self, a, b) -> float:
        """[m] walking distance from ``a`` to ``b``: straight when no wall is in the way, else
        along a floor field."""
        return self.nav.path_length(a, b)

    def is_free(self, points: np.ndarray) -> np.ndarray:
        """Whether each point lies on free floor (walkable, clear of walls and obstacles)."""
        return self.grid.is_free(points)

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
            colour_bgr = OBJECT_COLOURS[int(self.rng.integers(len(OBJECT_COLOURS)))]
        return self.floor.add_object(kind, pos, yaw_rad, colour_bgr, -1 if owner is None else int(owner.unique_id))

    def remove_object(self, object_id: int) -> None:
        self.floor.remove_object(object_id)

    def add_fire(self, spec, t: float) -> int:
        """Light the fire of a :class:`sim.scenario.FireEvent` at time ``t`` [s]; returns its id."""
        return self.floor.add_fire(spec, t)

    def remove_fire(self, fire_id: int) -> None:
        self.floor.remove_fire(fire_id)

    # --- the step -----------------------------------------------------------------------
    def _move(self, n: int) -> None:
        p = self.people
        pos = p.pos[:n]
        vel = p.vel[:n]
        goal = p.goal[:n]
        dgx = goal[:, 0] - pos[:, 0]
        dgy = goal[:, 1] - pos[:, 1]
        dist = np.hypot(dgx, dgy)
        safe = np.maximum(dist, 1e-9)
        e = np.empty((n, 2))
        e[:, 0] = dgx / safe
        e[:, 1] = dgy / safe
        field = p.field[:n]
        use_field = field >= 0
        use_field &= ~(p.goal_is_point[:n] & (dist < DIRECT_RADIUS_M))
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
        v0 = p.v0[:n]
        arrive = p.arrive[:n]
        desired_speed = np.where(arrive, v0 * np.minimum(dist / ARRIVE_SLOWDOWN_M, 1.0), v0)
        if self._parties:
            state = p.state[:n]
            moving = (p.party[:n] >= 0) & ((state == _WALKING) | (state == _LEAVING))
            if self._running:
                moving &= ~p.frozen[:n]
            keep_together(p, moving, e, desired_speed, use_field, self.grid, self.fields)
        edge_free = p.edge_free[:n]
        radius = p.radius[:n]
        frozen = np.nonzero(p.frozen[:n])[0] if self._running else ()
        if len(frozen):
            # frozen bodies push the others but do not move; a lying body is a disc mid-body
            kept = pos[frozen].copy()
            lying = frozen[p.pose[frozen] == _LYING]
            if len(lying):
                radius = radius.copy()
                radius[lying] = LYING_RADIUS_M
                pos[lying] += p.heading[lying] * (0.5 * p.height[lying])[:, None]
        self.last_pair_count = motion_step(
            pos=pos, vel=vel, desired_dir=e, desired_speed=desired_speed, walk_speed=v0,
            radius=radius, walls=self.walls, dt=self.dt, params=self.params,
            alt_walls=self.walls_edge_free, alt_mask=edge_free if p.any_edge_free else None,
        )
        if len(frozen):
            pos[frozen] = kept
            vel[frozen] = 0.0
        advance_gait_and_heading(vel, p.heading[:n], p.gait[:n], self.dt, self.params)

    def _transitions(self, t: float) -> None:
        """Find the agents whose behaviour changes now and run their transition.

        An agent's condition is evaluated only from its ``check_at`` time on: an agent
        ``D`` metres short of a threshold cannot cross it sooner than ``D / v_max`` (speed
        is clamped), so far-away agents cost nothing per step. A scripted agent's script
        decides (:meth:`_run_scripts`).
        """
        p = self.people
        n = p.n
        due = np.nonzero(p.check_at[:n] <= t + 1e-9)[0]
        if len(due) == 0:
            return
        pos = p.pos[due]
        state = p.state[due]
        goal = p.goal[due]
        until = p.wait_until[due]
        vmax = self.params.max_speed_factor * p.v0[due]
        dist = np.hypot(goal[:, 0] - pos[:, 0], goal[:, 1] - pos[:, 1])
        # by default check again when the nearest threshold could first be reached
        next_check = t + 0.9 * np.maximum(dist - GOAL_BLOCKED_M, 0.0) / vmax

        walking = state == _WALKING
        vel = p.vel[due]
        speed = np.hypot(vel[:, 0], vel[:, 1])
        reached = walking & ((dist < GOAL_REACHED_M) | ((dist < GOAL_BLOCKED_M) & (speed < BLOCKED_SPEED_MPS)))
        wait_over = (state == _WAITING) & (until <= t + 1e-9)
        next_check = np.where(state == _WAITING, until, next_check)
        next_check[state >= _SCRIPTED] = np.inf  # its script decides, or a train's doors (sim.world.doors)

        leaving = np.nonzero(state == _LEAVING)[0]
        done: list[int] = []
        if len(leaving):
            slots = due[leaving]
            seg = self._exit_seg[p.exit_idx[slots]]
            d_exit = point_segment_distance_rowwise(pos[leaving], seg[:, 0], seg[:, 1])
            at_exit = d_exit < EXIT_REACHED_M
            if self.trains.board_exits:  # at a boarding exit: wait for a train, or go to its doors
                at_exit, d_exit = self.trains.at_boarding_exits(self, slots, at_exit, d_exit)
            done = slots[at_exit].tolist()
            next_check[leaving] = t + 0.9 * np.maximum(d_exit - EXIT_REACHED_M, 0.0) / vmax[leaving]
            if self.trains.board_exits:
                waiting = np.isinf(d_exit)
                next_check[leaving[waiting]] = p.check_at[slots[waiting]]  # set by wait_for_train
        p.check_at[due] = next_check

        agents = self._slot_agent
        for s in due[reached].tolist():
            agents[s].goal_reached(self)
        for s in due[wait_over].tolist():
            agents[s].wait_over(self)
        if p.any_edge_free:
            # a person back from the track bed feels the platform edge again once on the floor
            ef = np.nonzero(p.edge_free[:n] & (p.state[:n] == _LEAVING))[0]
            if len(ef):
                back = ef[points_in_polygon(p.pos[ef], self.walkable)]
                p.edge_free[back] = False
            p.any_edge_free = bool(p.edge_free[:n].any())
        if done:
            self._remove_slots(done)

    def _observe(self) -> None:
        p = self.people
        n = p.n
        self.truth.observe(
            self.time, p.ids[:n], p.pos[:n], self._postures(n), vel_mps=p.vel[:n], vest=p.vest[:n],
            prop=p.prop[:n], objects=self.floor.objects() if self.floor.any_object else None,
            fires=self.floor.fires(self.time) if self.floor.any_fire else None, body=p.body[:n],
            appearance_group=p.group[:n], passages=self.trains.runs.passages(self.time) if self.trains.runs else None,
        )

    def _run_scripts(self) -> None:
        t = self.time
        due = []
        while self._pending and self._pending[0].start_s <= t + 1e-9:
            due.append(self._pending.popleft())
        # a walker of an intrusion or a staff walk steps in with the arrivals, before the
        # scripts that start in the same step take anybody (begin_order 0 before 1)
        for script in sorted(due, key=lambda s: s.begin_order):
            script.begin(self, t)
            self._running.append(script)
        if self._running:
            self._running = [s for s in self._running if s.update(self, t)]

    # --- plans (what a pedestrian heads for) -------------------------------------------------
    def start_waiting(self, agent: Pedestrian) -> None:
        """Wait at the spot until the drawn waiting time is over (near a boarding exit: board a
        train standing there, or wait for the next one)."""
        p = self.people
        s = agent.slot
        agent.set_behaviour(Behaviour.WAITING)
        p.wait_until[s] = self.time + p.wait_len[s]
        p.check_at[s] = p.wait_until[s]
        p.arrive[s] = True
        p.goal[s] = p.pos[s]
        if self.trains.board_exits:
            self.trains.at_platform(self, agent)

    def wait_here(self, agent: Pedestrian) -> None:
        """Stand and wait where it is, with no end (for a train, or in a station without exits)."""
        p = self.people
        s = agent.slot
        agent.set_behaviour(Behaviour.WAITING)
        p.goal[s] = p.pos[s]
        p.goal_is_point[s] = True
        p.arrive[s] = True
        p.field[s] = -1
        p.wait_until[s] = p.check_at[s] = np.inf

    def walk_to_spot(self, agent: Pedestrian, spot: int, point: np.ndarray) -> None:
        """Walk to ``point`` near waiting spot ``spot`` and wait there on arrival."""
        p = self.people
        s = agent.slot
        agent.set_behaviour(Behaviour.WALKING)
        p.field[s] = self.nav.spot_field(spot)
        p.goal[s] = point
        p.goal_is_point[s] = True
        p.arrive[s] = False
        p.wait_until[s] = np.inf
        p.check_at[s] = self.time

    def leave(self, agent: Pedestrian) -> None:
        """Head for ``agent.exit_index``; removed on reaching it."""
        p = self.people
        s = agent.slot
        agent.set_behaviour(Behaviour.LEAVING)
        k = agent.exit_index
        p.exit_idx[s] = k
        p.field[s] = k
        p.goal[s] = self._exit_seg[k].mean(axis=0)
        p.goal_is_point[s] = False
        p.arrive[s] = False
        p.wait_until[s] = np.inf
        p.check_at[s] = self.time

    def leave_with_party(self, agent: Pedestrian) -> None:
        """``agent`` leaves by its exit, and the members of its party who wait or walk go with it."""
        for o in self._parties.with_members([agent], (Behaviour.WAITING, Behaviour.WALKING)):
            o.exit_index = agent.exit_index
            self.leave(o)

    def _nearest_exit(self, point: np.ndarray) -> int:
        """The ordinary exit (not a train's boarding exit, unless there is no other) nearest by walking distance."""
        return self.nav.nearest_exit(point, self._exit_choices)

    def _face_goal(self, s: int) -> None:
        p = self.people
        d = p.goal[s] - p.pos[s]
        if p.field[s] >= 0:
            f = self.fields.sample(p.field[s:s + 1], p.pos[s:s + 1])[0]
            if f.any():
                d = f
        norm = float(np.hypot(*d))
        p.heading[s] = d / norm if norm > 1e-9 else (1.0, 0.0)

    # --- people coming and going -----------------------------------------------------------
    def spawn_party(self, positions: list, members: list, exit_index: int, *, alighting: bool = False
                    ) -> list[Pedestrian]:
        """Spawn a party (``members``: body kind, prop, radius each) at ``positions``.

        Its first member draws the plan, which the others share: alighting passengers walk to
        their exit; of the others, ``crowd.train_share`` come to take a train (they walk to a
        waiting point near a boarding exit), then ``wait_fraction`` stop at a waiting spot
        for a drawn time; the rest walk to their exit. Members wait round the same spot and
        walk at the party's slowest desired speed."""
        crowd = self.scenario.crowd
        rng = self.rng
        p = self.people
        pid = self._parties.new() if len(members) > 1 else -1
        agents = []
        spot = -1
        waits = False
        for_train = False
        for j, (pos, (body, prop, radius)) in enumerate(zip(positions, members)):
            agent = self._new_person(pos, radius, Behaviour.LEAVING, exit_index, body, prop)
            if j == 0:  # the plan is drawn after the first member's body (the stream's order)
                if not alighting:
                    for_train = crowd.train_share > 0 and rng.uniform() < crowd.train_share
                    waits = for_train or (rng.uniform() < crowd.wait_fraction and len(self.nav.spots) > 0)
                wait_len = rng.uniform(*crowd.wait_s)
            s = agent.slot
            p.wait_len[s] = wait_len
            if pid >= 0:
                self._parties.join(pid, agent)
            if waits:
                spot, point = self.nav.draw_wait_point(rng, None if j == 0 else spot,
                                                       among=self.trains.train_spots if for_train else None)
                p.exit_idx[s] = exit_index
                self.walk_to_spot(agent, spot, point)
            else:
                self.leave(agent)
            self._face_goal(s)
            agents.append(agent)
        if len(members) > 1:
            slots = [a.slot for a in agents]
            p.v0[slots] = p.v0[slots].min()  # a party walks at its slowest member's pace
        return agents

    def _new_person(self, pos, radius: float, behaviour: Behaviour, exit_index: int, body: int = 0,
                    prop: int = Prop.NONE) -> Pedestrian:
        """A pedestrian in a new row: at ``pos`` [m], standing, its body and looks drawn."""
        p = self.people
        s = p.add()
        p.pos[s] = pos
        p.vel[s] = 0.0
        p.radius[s] = radius
        self.composition.fill_body(p, s, body, prop)
        p.frozen[s] = False
        p.wait_until[s] = np.inf
        p.arrive[s] = False
        p.edge_free[s] = False
        p.field[s] = -1
        p.party[s] = -1
        p.train[s] = -1
        p.check_at[s] = self.time
        p.wait_len[s] = 0.0
        agent = Pedestrian(self, p, s, behaviour, exit_index)
        p.state[s] = behaviour
        p.ids[s] = agent.unique_id
        p.own_exit[s] = exit_index
        if s == len(self._slot_agent):
            self._slot_agent.append(agent)
        else:
            self._slot_agent[s] = agent
        return agent

    def remove_agents(self, agents: list[Pedestrian]) -> None:
        """Take ``agents`` out of the station, as if they had reached their exit (into a train)."""
        self._remove_slots([a.slot for a in agents])

    def _remove_slots(self, slots: list[int]) -> None:
        """Remove the pedestrians in ``slots`` (their exit reached): swap-remove in the
        arrays, keeping every remaining agent's slot index right, and leave the Mesa model."""
        for s in sorted(slots, reverse=True):
            agent = self._slot_agent[s]
            self.exits_by_name[self._exit_names[agent.exit_index]] += 1
            if agent.party >= 0:
                self._parties.leave(agent)
            agent.remove()
            agent.slot = -1
            if self.people.remove(s):
                moved = self._slot_agent[-1]
                moved.slot = s
                self._slot_agent[s] = moved
            self._slot_agent.pop()

