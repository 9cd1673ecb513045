"""Behaviour scripts: what staged events and distractors make people do, step by step.

One mechanism: every staged event and people-driven distractor is a
:class:`~sim.events.base.Script` that the model runs from its ``start_s`` on, once per
step, until its ``update`` returns False; there are only a handful per scenario, so plain
Python is fine. The scripts of one person acting (a fall, a sit-down, a crouch, a bag set
down, an intrusion's walk) are :class:`~sim.events.atomics.Sequence` of small steps::

    Sit:    Freeze, Ramp(SITTING, 0, 1, SIT_S), Hold(SITTING, duration_s), Ramp(SITTING, 1, 0, SIT_S), Leave
    Fall:   Freeze, Ramp(FALLING, 0, 1, fall_s), Hold(LYING, lie_s, sway), Hold(SITTING, 2), Ramp(CROUCHING, 1, 0, 1), Leave
    Walker: WalkTo(path[0]), ..., WalkTo(path[dwell_index]), Dwell(dwell_s), ..., Leave(exit)

(an actor that acts at a place first walks there: ``Approach``, ``WaitUntil(at_s)``). A
person walking a path and raising a prop, and the scripts of several people (a turn back,
runners, a crowd movement, a fire, a queue, a gathering) are scripts of their own.

Scripts never write ground truth: the recorder (:mod:`sim.events.truth`) applies each event
type's rule to what happens. A script only *registers* its actors (or object, or fire)
so that an instance they cause carries the staged event's id.

The postures the renderer draws (:class:`sim.state.Posture`, progress in
``posture_progress``):

* FALLING: the body rotates about the feet toward its heading, 0 upright -> 1 flat;
* LYING: flat on the floor, feet at the position, head ``height_m`` along the heading;
* SITTING: 0 -> 1 while sitting down, 1 seated, 1 -> 0 while getting up;
* CROUCHING: 0 -> 1 going down, 1 down, 1 -> 0 coming up.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from detectors.events import EventType
from sim.errors import SimulationError
from sim.events.atomics import (
    ActorAt,
    Approach,
    Do,
    Dwell,
    Face,
    Freeze,
    Hold,
    Leave,
    NewPerson,
    Ramp,
    Sequence,
    Stage,
    Step,
    WaitUntil,
    WalkTo,
)
from sim.events.base import Script, ScriptHost
from sim.geometry import points_in_polygon, polygon_centroid, sample_points_in_polygon
from sim.state import ObjectKind, Posture, Prop

#: [m] a scripted walker is at its waypoint (or its place) within this distance
PLACE_REACHED_M = 0.35
#: [m] an intrusion's (or a staff walk's) walker is at its waypoint within this distance
WAYPOINT_REACHED_M = 0.3
#: [s] time to sit down, and to get up
SIT_S = 1.0
#: [s] half of the crouch that sets an object down or picks it up
SET_DOWN_S = 0.5
#: [m] an object set down lies this far in front of (or beside) its owner
OBJECT_OFFSET_M = 0.35
#: [s] a person who flees a fire runs this long before heading for an exit
FLEE_S = 3.0
#: [m/s] least desired speed of a person fleeing a fire
FLEE_SPEED_MPS = 2.0

_OBJECT_KIND = {"bag": ObjectKind.BAG, "suitcase": ObjectKind.SUITCASE, "backpack": ObjectKind.BACKPACK}
_OBJECT_PROP = {"bag": Prop.BAG, "suitcase": Prop.SUITCASE, "backpack": Prop.BACKPACK}
_CARRIED = {"umbrella": Prop.UMBRELLA, "cane": Prop.CANE, "guitar_case": Prop.GUITAR_CASE}

_SITTING, _CROUCHING = Posture.SITTING, Posture.CROUCHING


# --- one person acting at a place: sequences -------------------------------------------------


def act_at(spec, event_id: str, steps: list[Step], *, prop: Prop = Prop.NONE, register_as: EventType | None = None,
           reach_m: float = PLACE_REACHED_M, edge_free: bool = False) -> Sequence:
    """The actor of ``spec`` (an ``_ActorEvent``) comes to its place, waits for ``at_s`` and runs ``steps``."""
    return Sequence(spec, event_id, ActorAt(spec, prop, reach_m, edge_free=edge_free),
                    [Approach(spec.at_s, reach_m), WaitUntil(spec.at_s), *steps], register_as=register_as)


def fall(spec, event_id: str) -> Sequence:
    """:class:`~sim.scenario.FallEvent`: FALLING for ``fall_s``, LYING (moving weakly or not),
    and, with ``lie_s``, sitting up, getting up and walking away."""
    sway = 0.09 if spec.motion == "weak" else 0.0  # [rad] slow small turns of the body, about +-5 degrees
    return act_at(spec, event_id, [
        Freeze(), Ramp(Posture.FALLING, 0, 1, spec.fall_s),
        Hold(Posture.LYING, spec.lie_s, sway_rad=sway, sway_hz=0.25),
        Hold(_SITTING, 2.0), Ramp(_CROUCHING, 1, 0, 1.0), Leave(spec.exit),
    ], register_as=EventType.PERSON_ON_GROUND)


def sit(spec, event_id: str) -> Sequence:
    """:class:`~sim.scenario.SittingDistractor`."""
    face = [] if spec.facing_deg is None else [Face(spec.facing_deg)]
    return act_at(spec, event_id, [
        Freeze(), *face, Ramp(_SITTING, 0, 1, SIT_S), Hold(_SITTING, spec.duration_s), Ramp(_SITTING, 1, 0, SIT_S),
        Leave(spec.exit),
    ])


def crouch(spec, event_id: str) -> Sequence:
    """:class:`~sim.scenario.CrouchingDistractor`."""
    down = min(spec.down_s, spec.duration_s / 2)
    return act_at(spec, event_id, [
        Freeze(), Ramp(_CROUCHING, 0, 1, down), Hold(_CROUCHING, spec.duration_s - 2 * down),
        Ramp(_CROUCHING, 1, 0, down), Leave(spec.exit),
    ])


def stand_still(spec, event_id: str) -> Sequence:
    """:class:`~sim.scenario.SafetyLineDistractor`: stand exactly at the place (the platform
    edge does not push this person back, as a person who means to stand there), then go."""
    return act_at(spec, event_id, [Freeze(), Hold(None, spec.duration_s), Leave(spec.exit)],
                  reach_m=0.05, edge_free=True)


def _set_down(spec, event_id: str, register: bool) -> list[Step]:
    """Crouch, put the carried object down in front, come up."""

    def put(host: ScriptHost, stage: Stage) -> None:
        actor = stage.actor
        h = host.heading_of(actor)
        p = actor.position + OBJECT_OFFSET_M * np.array([math.cos(h), math.sin(h)])
        oid = host.add_object(_OBJECT_KIND[spec.object], p, h, owner=actor, colour_bgr=spec.colour_bgr)
        stage.notes["object"] = oid
        host.set_prop(actor, Prop.NONE)
        if register:
            host.truth.register_injected_object(oid, event_id, EventType.ABANDONED_OBJECT)

    return [Freeze(), Ramp(_CROUCHING, 0, 1, SET_DOWN_S), Do(put), Ramp(_CROUCHING, 1, 0, SET_DOWN_S)]


def abandon_object(spec, event_id: str) -> Sequence:
    """:class:`~sim.scenario.AbandonedObjectEvent`: set down, linger, walk out by ``exit``."""
    return act_at(spec, event_id, [*_set_down(spec, event_id, register=True), Hold(None, spec.linger_s),
                                   Leave(spec.exit)], prop=_OBJECT_PROP[spec.object])


def bag_with_owner(spec, event_id: str) -> Sequence:
    """:class:`~sim.scenario.BagWithOwnerDistractor`: set down, stay beside it, pick it up, go."""
    carried = _OBJECT_PROP[spec.object]

    def pick_up(host: ScriptHost, stage: Stage) -> None:
        host.remove_object(stage.notes.pop("object"))
        host.set_prop(stage.actor, carried)

    return act_at(spec, event_id, [
        *_set_down(spec, event_id, register=False), Hold(None, spec.duration_s),
        Ramp(_CROUCHING, 0, 1, SET_DOWN_S), Do(pick_up), Ramp(_CROUCHING, 1, 0, SET_DOWN_S), Leave(spec.exit),
    ], prop=carried)


def waypoint_walk(spec, event_id: str, *, staff: bool) -> Sequence:
    """:class:`~sim.scenario.IntrusionEvent` (or a staff member's walk,
    :class:`~sim.scenario.StaffInZoneDistractor`): a new person at ``start``, free to step
    over the platform edges, walks ``path`` (turning to its first waypoint at once), dwells
    at waypoint ``dwell_index`` and leaves by ``exit``. It steps in with the arrivals of its
    step, before the other scripts that start then."""
    dwell = spec.dwell_index % len(spec.path)
    steps: list[Step] = []
    for k, point in enumerate(spec.path):
        steps.append(WalkTo(point, reach_m=WAYPOINT_REACHED_M, turn=k == 0))
        if k == dwell:
            steps.append(Dwell(spec.dwell_s))
    steps.append(Leave(spec.exit))
    return Sequence(spec, event_id, NewPerson(spec.start, vest=staff, edge_free=True), steps,
                    register_as=None if staff else EventType.INTRUSION, begin_order=0)


# --- one person walking a path ---------------------------------------------------------------


class Walk(Script):
    """The shape of :class:`sim.scenario.events._WalkEvent`: appear at (or be taken near) ``at`` at
    ``at_s``, walk ``path``, leave by ``exit``; with a ``_CarryEvent`` spec, carry a prop
    and raise it at ``raise_at_s`` (standing still while it is up)."""

    def __init__(self, spec, event_id: str, *, register_as: EventType | None = None,
                 prop: Prop = Prop.NONE) -> None:
        super().__init__(spec, event_id)
        self.register_as = register_as
        self.prop = prop
        self.agent = None
        self.waypoint = 0
        self.walking = True
        self.standing = False  # stopped to raise the prop

    def begin(self, host, t: float) -> None:
        spec = self.spec
        at = np.asarray(spec.at, dtype=np.float64)
        found = host.free_pedestrians(at, 1, walking=True) if spec.agent == "nearest" else []
        if found:
            self.agent = found[0]
            host.take(self.agent)
            host.set_prop(self.agent, self.prop)
        else:
            self.agent = host.spawn_person(at, prop=self.prop)
        if spec.speed_mps is not None:
            host.set_speed(self.agent, spec.speed_mps)
        if self.register_as is not None:
            host.truth.register_injected(self.agent.unique_id, self.event_id, self.register_as)
        self._next(host)

    def _next(self, host) -> None:
        path = self.spec.path
        if self.waypoint < len(path):
            last = self.waypoint == len(path) - 1
            host.walk_to(self.agent, path[self.waypoint], arrive=last)
            return
        self.walking = False
        host.release(self.agent, self.spec.exit)

    def update(self, host, t: float) -> bool:
        agent = self.agent
        if not agent.present:
            return False
        raising = self._raise(host, t)
        if self.walking and not raising:
            goal = np.asarray(self.spec.path[self.waypoint], dtype=np.float64)
            if float(np.hypot(*(agent.position - goal))) < PLACE_REACHED_M:
                self.waypoint += 1
                self._next(host)
        return self.walking or getattr(self.spec, "raise_at_s", None) is not None

    def _raise(self, host, t: float) -> bool:
        """Set ``prop_raise`` for time ``t``; True while the prop is (partly) up."""
        spec = self.spec
        t0 = getattr(spec, "raise_at_s", None)
        if t0 is None or t < t0:
            return False
        el = t - t0
        ramp, hold = spec.raise_s, spec.hold_s
        if hold is None or el < ramp + hold:
            level = min(el / ramp, 1.0)
        else:
            level = max(1.0 - (el - ramp - hold) / ramp, 0.0)
        host.set_prop(self.agent, self.prop, level)
        up = level > 0.0
        if self.walking:
            if up and not self.standing:
                self.standing = True
                host.stand(self.agent)
            elif not up and self.standing:
                self.standing = False
                self._next(host)
        return up


# --- several people --------------------------------------------------------------------------


class TurnBack(Script):
    """:class:`~sim.scenario.TurnBackDistractor`: a walker reverses for ``turn_s`` and resumes."""

    def begin(self, host, t: float) -> None:
        at = np.asarray(self.spec.at, dtype=np.float64)
        found = host.free_pedestrians(at, 1, walking=True) or host.free_pedestrians(at, 1)
        if not found:
            raise SimulationError(f"scenario {host.scenario.name!r}: turn_back {self.event_id!r} at t={t:g} s: "
                                  "nobody is present to turn round")
        self.agent = found[0]
        self.plan = host.take(self.agent)
        v = host.velocity_of(self.agent)
        speed = float(np.hypot(*v))
        back = -v / speed if speed > 0.1 else -np.array([math.cos(host.heading_of(self.agent)),
                                                          math.sin(host.heading_of(self.agent))])
        host.walk_to(self.agent, self.agent.position + 20.0 * back, arrive=False)

    def update(self, host, t: float) -> bool:
        if t < self.spec.at_s + self.spec.turn_s - 1e-9:
            return True
        host.resume(self.agent, self.plan)
        return False


class RunForTrain(Script):
    """:class:`~sim.scenario.RunForTrainDistractor`: a few people run to an exit."""

    def begin(self, host, t: float) -> None:
        spec = self.spec
        lo, hi = spec.speed_mps
        for agent in host.free_pedestrians(np.asarray(spec.at, dtype=np.float64), spec.count):
            host.take(agent)
            host.set_speed(agent, float(host.rng.uniform(lo, hi)))
            host.release(agent, spec.exit)


class CrowdMovement(Script):
    """:class:`~sim.scenario.CrowdMovementEvent`: everyone near a point runs radially away
    from (or toward) it for ``run_s``, then heads for the nearest exit, still hurrying."""

    def begin(self, host, t: float) -> None:
        spec = self.spec
        at = np.asarray(spec.at, dtype=np.float64)
        self.runners = host.free_pedestrians(at, None, within_m=spec.radius_m)
        if len(self.runners) < spec.min_agents:
            self.runners = host.free_pedestrians(at, spec.min_agents)
        lo, hi = spec.speed_mps
        self.speeds = []
        for agent in self.runners:
            host.take(agent)
            self.speeds.append(host.speed_of(agent))
            v = float(host.rng.uniform(lo, hi))
            host.set_speed(agent, v)
            d = agent.position - at
            n = float(np.hypot(*d))
            if n < 1e-6:
                a = host.rng.uniform(0.0, 2.0 * math.pi)
                d, n = np.array([math.cos(a), math.sin(a)]), 1.0
            u = d / n
            if spec.direction == "away":
                host.walk_to(agent, agent.position + u * (v * spec.run_s + 2.0), arrive=False)
            else:
                host.walk_to(agent, at + u * 1.0, arrive=True)
            host.truth.register_injected(agent.unique_id, self.event_id, EventType.CROWD_MOVEMENT)

    def update(self, host, t: float) -> bool:
        if t < self.spec.at_s + self.spec.run_s - 1e-9:
            return True
        for agent, v in zip(self.runners, self.speeds):
            if agent.present:
                host.set_speed(agent, 1.3 * v)
                host.release(agent, None)
        return False


class Fire(Script):
    """:class:`~sim.scenario.FireEvent`: the fire burns (its state follows from its age, see
    :meth:`sim.host.StationModel.world`) and the people who come within ``flee_radius_m``
    run away from it for a few seconds, then head for the exit farthest from the fire's side."""

    def begin(self, host, t: float) -> None:
        self.fire_id = host.add_fire(self.spec, t)
        host.truth.register_injected_object(self.fire_id, self.event_id, EventType.FIRE)
        self.fleeing: list[tuple[object, float]] = []
        self.fled: set[int] = set()
        self.centre = np.asarray(self.spec.at, dtype=np.float64)

    def update(self, host, t: float) -> bool:
        spec = self.spec
        burning = spec.out_s is None or t < spec.at_s + spec.out_s - 1e-9
        if not burning and self.fire_id is not None:
            host.remove_fire(self.fire_id)
            self.fire_id = None
        if burning and spec.flee_radius_m > 0:
            for agent in host.free_pedestrians(self.centre, None, within_m=spec.flee_radius_m):
                if agent.unique_id in self.fled:
                    continue
                self.fled.add(agent.unique_id)
                host.take(agent)
                host.set_speed(agent, max(host.speed_of(agent), FLEE_SPEED_MPS))
                d = agent.position - self.centre
                u = d / max(float(np.hypot(*d)), 1e-6)
                host.walk_to(agent, agent.position + u * (spec.flee_radius_m + 4.0), arrive=False)
                self.fleeing.append((agent, t))
        still = []
        for agent, t0 in self.fleeing:
            if not agent.present:
                continue
            if t - t0 >= FLEE_S:
                d = agent.position - self.centre
                host.release(agent, host.exit_away_from(agent.position, d))
            else:
                still.append((agent, t0))
        self.fleeing = still
        return burning or bool(still)


class Queue(Script):
    """:class:`~sim.scenario.QueueDistractor`: people stand still in lines; every ``service_s``
    the head of one line (in turn) leaves and that line steps forward. People with luggage
    set their suitcase down beside them while they stand and pick it up to step forward."""

    def begin(self, host, t: float) -> None:
        spec = self.spec
        a = math.radians(spec.direction_deg)
        self.along = np.array([math.cos(a), math.sin(a)])
        self.side = np.array([-self.along[1], self.along[0]])
        self.facing = math.atan2(-self.along[1], -self.along[0])
        self.lines: list[list[dict]] = [[] for _ in range(spec.files)]
        for k in range(spec.count):
            f, rank = k % spec.files, k // spec.files
            luggage = spec.luggage_share > 0 and host.rng.uniform() < spec.luggage_share
            agent = host.spawn_person(self._slot(f, rank), prop=Prop.SUITCASE if luggage else Prop.NONE)
            host.set_heading(agent, self.facing)
            member = {"agent": agent, "luggage": luggage, "object": None, "moving": False}
            self.lines[f].append(member)
            self._settle(host, member)
        self.next_service = t + spec.service_s
        self.turn = 0

    def _slot(self, f: int, rank: int) -> np.ndarray:
        return (np.asarray(self.spec.head, dtype=np.float64) + rank * self.spec.spacing_m * self.along
                + f * self.spec.file_spacing_m * self.side)

    def _settle(self, host, m: dict) -> None:
        agent = m["agent"]
        host.stand(agent, frozen=True)
        host.set_heading(agent, self.facing)
        m["moving"] = False
        if m["luggage"] and m["object"] is None:
            p = agent.position - OBJECT_OFFSET_M * self.side
            m["object"] = host.add_object(ObjectKind.SUITCASE, p, self.facing, owner=agent)
            host.set_prop(agent, Prop.NONE)

    def _step_forward(self, host, m: dict, slot: np.ndarray) -> None:
        if m["object"] is not None:
            host.remove_object(m["object"])
            m["object"] = None
            host.set_prop(m["agent"], Prop.SUITCASE)
        m["moving"] = True
        host.walk_to(m["agent"], slot, arrive=True)

    def update(self, host, t: float) -> bool:
        if t >= self.next_service - 1e-9:
            self.next_service += self.spec.service_s
            for _ in range(len(self.lines)):
                line = self.lines[self.turn % len(self.lines)]
                self.turn += 1
                if line:
                    head = line.pop(0)
                    if head["object"] is not None:
                        host.remove_object(head["object"])
                        head["object"] = None
                        host.set_prop(head["agent"], Prop.SUITCASE)
                    host.release(head["agent"], self.spec.exit)
                    f = self.lines.index(line)
                    for rank, m in enumerate(line):
                        self._step_forward(host, m, self._slot(f, rank))
                    break
        for f, line in enumerate(self.lines):
            for rank, m in enumerate(line):
                if m["moving"]:
                    d = float(np.hypot(*(m["agent"].position - self._slot(f, rank))))
                    if d < 0.12 or (d < 0.4 and host.speed_now(m["agent"]) < 0.1):
                        self._settle(host, m)
        return any(self.lines)


class Gather(Script):
    """:class:`~sim.scenario.ExcessiveDensityEvent`: people appear at ``start`` one after the
    other, walk into the zone (by a floor field to its centroid), then to a free spot of
    their own in it, stand there and finally leave."""

    def begin(self, host, t: float) -> None:
        spec = self.spec
        zone = next(z for z in host.scenario.station.zones if z.name == spec.zone)
        self.polygon = np.asarray(zone.polygon, dtype=np.float64)
        self.centre = polygon_centroid(self.polygon)
        self.appear = [spec.at_s + spec.release_s * k / spec.count for k in range(spec.count)]
        self.people: list[list] = []  # [agent, spot, in the zone yet]
        last = self.appear[-1]
        self.end_s = None if spec.stay_s is None else last + spec.stay_s

    def _spot(self, host) -> np.ndarray:
        pts = sample_points_in_polygon(host.rng, self.polygon, 16)
        pts = pts[host.is_free(pts)]
        return pts[0] if len(pts) else self.centre.copy()

    def update(self, host, t: float) -> bool:
        spec = self.spec
        while len(self.people) < spec.count and self.appear[len(self.people)] <= t + 1e-9:
            agent = host.spawn_person(spec.start)
            host.walk_to(agent, self.centre, arrive=False, navigate=True)
            host.truth.register_injected(agent.unique_id, self.event_id, EventType.EXCESSIVE_DENSITY)
            self.people.append([agent, self._spot(host), False])
        coming = [p for p in self.people if not p[2]]
        if coming:
            inside = points_in_polygon(np.array([p[0].position for p in coming]), self.polygon)
            for p, now_in in zip(coming, inside.tolist()):
                if now_in:
                    p[2] = True
                    host.walk_to(p[0], p[1], arrive=True)
        if self.end_s is not None and t >= self.end_s - 1e-9:
            for agent, _, _ in self.people:
                host.release(agent, spec.exit)
            return False
        return True


# --- building the scripts of a scenario --------------------------------------------------------

#: event or distractor type -> the script that stages it (static distractors, posters and
#: lights, and the clothing override need none)
BUILDERS: dict[str, Callable[[object, str], Script]] = {
    "intrusion": lambda spec, eid: waypoint_walk(spec, eid, staff=False),
    "person_on_ground": fall,
    "abandoned_object": abandon_object,
    "crowd_movement": lambda spec, eid: CrowdMovement(spec, eid),
    "wrong_way": lambda spec, eid: Walk(spec, eid, register_as=EventType.WRONG_WAY),
    "fire": lambda spec, eid: Fire(spec, eid),
    "weapon": lambda spec, eid: Walk(spec, eid, register_as=EventType.WEAPON, prop=Prop.RIFLE),
    "excessive_density": lambda spec, eid: Gather(spec, eid),
    "sitting": sit,
    "crouching": crouch,
    "bag_with_owner": bag_with_owner,
    "queue": lambda spec, eid: Queue(spec, eid),
    "staff_in_zone": lambda spec, eid: waypoint_walk(spec, eid, staff=True),
    "safety_line_standing": stand_still,
    "turn_back": lambda spec, eid: TurnBack(spec, eid),
    "crossing": lambda spec, eid: Walk(spec, eid),
    "run_for_train": lambda spec, eid: RunForTrain(spec, eid),
    "carrier": lambda spec, eid: Walk(spec, eid, prop=_CARRIED[spec.prop]),
}


def build_scripts(scenario) -> list[Script]:
    """The scripts of ``scenario``'s events and people-driven distractors, in file order
    (events, then distractors); an entry without an ``id`` is named ``TYPE_INDEX``."""
    out: list[Script] = []
    for section in (scenario.events, scenario.distractors):
        for i, spec in enumerate(section):
            build = BUILDERS.get(spec.type)
            if build is not None:
                out.append(build(spec, spec.id if spec.id is not None else f"{spec.type}_{i}"))
    return out
