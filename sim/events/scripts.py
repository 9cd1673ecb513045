"""Behaviour scripts: what staged events and distractors make people do, step by step.

A script drives one or a few pedestrians that the model hands over to it (behaviour
``PUPPET``): it sets their goals, speeds, postures and props through the small script API
of :class:`sim.model.StationModel` (``spawn_person``, ``take``, ``walk_to``, ``stand``,
``set_pose``, ``release``...), and the model keeps moving them with everyone else in its
one vectorised step. A script runs from its ``start_s`` on, once per step, until its
``update`` returns False; there are only a handful per scenario, so plain Python is fine.

Scripts never write ground truth: the recorder (:mod:`sim.truth`) applies each event
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

import numpy as np

from detectors.events import EventType
from sim.geometry import points_in_polygon, polygon_centroid, sample_points_in_polygon
from sim.scenario import (
    AbandonedObjectEvent,
    BagWithOwnerDistractor,
    CarrierDistractor,
    CrossingDistractor,
    CrouchingDistractor,
    CrowdMovementEvent,
    ExcessiveDensityEvent,
    FallEvent,
    FireEvent,
    QueueDistractor,
    RunForTrainDistractor,
    SafetyLineDistractor,
    SittingDistractor,
    TurnBackDistractor,
    WeaponEvent,
    WrongWayEvent,
)
from sim.state import ObjectKind, Posture, Prop

#: [m] a scripted walker is at its waypoint (or its place) within this distance
PLACE_REACHED_M = 0.35
#: [m/s] slowest and fastest speed a new actor walks at to reach its place in time
APPROACH_SPEED_MPS = (0.7, 2.0)
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


class Script:
    """A scripted behaviour. The model calls :meth:`prepare` once at construction (to fix
    ``start_s``), :meth:`begin` at ``start_s`` and :meth:`update` on every step from then on,
    until it returns False."""

    start_s: float = 0.0

    def __init__(self, spec, event_id: str) -> None:
        self.spec = spec
        self.event_id = event_id

    def prepare(self, model) -> None:
        self.start_s = float(self.spec.at_s)

    def begin(self, model, t: float) -> None:
        """Take or create the people the script drives."""

    def update(self, model, t: float) -> bool:
        """Advance the script to time ``t`` [s]; return False when it is over."""
        return False


# --- one person acting at a place ------------------------------------------------------------


class _Actor(Script):
    """The shape of :class:`sim.scenario._ActorEvent`: a person comes to ``at`` (or is taken
    there) and acts from ``at_s`` on; :meth:`act` is the action, called every step with the
    time since it began."""

    register_as: EventType | None = None
    carries: Prop = Prop.NONE
    reach_m: float = PLACE_REACHED_M  #: [m] how close to ``at`` a new person must come

    def __init__(self, spec, event_id: str) -> None:
        super().__init__(spec, event_id)
        self.at = np.asarray(spec.at, dtype=np.float64)
        self.agent = None
        self.phase = "wait"
        self.t_act: float | None = None
        self.v0: float | None = None

    def prepare(self, model) -> None:
        spec = self.spec
        self.start_s = float(spec.at_s)
        if spec.agent == "new" and spec.start is not None:
            d = model.path_length(spec.start, spec.at)
            lead = d / (0.9 * model.scenario.crowd.speed_mean_mps) + 1.0
            self.start_s = max(0.0, float(spec.at_s) - lead)

    def begin(self, model, t: float) -> None:
        spec = self.spec
        if spec.agent == "nearest":
            found = model.free_pedestrians(self.at, 1)
            if found:
                self.agent = found[0]
                model.take(self.agent)
                model.stand(self.agent)
                self.at = self.agent.position
                model.set_prop(self.agent, self.carries)
            else:
                self.agent = model.spawn_person(self.at, prop=self.carries)
        else:
            start = self.at if spec.start is None else np.asarray(spec.start, dtype=np.float64)
            self.agent = model.spawn_person(start, prop=self.carries)
            if spec.start is not None and float(np.hypot(*(start - self.at))) > PLACE_REACHED_M:
                self.phase = "approach"
                self.v0 = model.speed_of(self.agent)
                model.walk_to(self.agent, self.at, navigate=True)
        if self.register_as is not None:
            model.truth.register_injected(self.agent.unique_id, self.event_id, self.register_as)

    def update(self, model, t: float) -> bool:
        agent = self.agent
        if self.phase == "approach":
            d = float(np.hypot(*(agent.position - self.at)))
            left = self.spec.at_s - t
            # walk at the speed that arrives in time (within limits), slowing down on arrival
            lo, hi = APPROACH_SPEED_MPS
            model.set_speed(agent, min(max(d / max(left, 0.1), lo), hi))
            blocked = d < 1.5 and model.speed_now(agent) < 0.15 and left < 0
            if not (d < self.reach_m or blocked or left < -30.0):
                return True
            self.phase = "wait"
            model.stand(agent)
            model.set_speed(agent, self.v0)
        if self.phase == "wait":
            if t < self.spec.at_s - 1e-9:
                return True
            self.phase = "act"
            self.t_act = t
        return self.act(model, t, t - self.t_act)

    def act(self, model, t: float, el: float) -> bool:
        return False

    def leave(self, model) -> bool:
        model.release(self.agent, self.spec.exit)
        return False


class Fall(_Actor):
    """:class:`~sim.scenario.FallEvent`: FALLING for ``fall_s``, LYING (moving weakly or not),
    and, with ``lie_s``, sitting up, getting up and walking away."""

    register_as = EventType.PERSON_ON_GROUND

    def act(self, model, t: float, el: float) -> bool:
        spec, agent = self.spec, self.agent
        if el == 0.0:
            model.stand(agent, frozen=True)
            self.heading = model.heading_of(agent)
        if el < spec.fall_s:
            model.set_pose(agent, Posture.FALLING, el / spec.fall_s)
            return True
        lying = el - spec.fall_s
        if spec.lie_s is None or lying < spec.lie_s:
            model.set_pose(agent, Posture.LYING, 1.0)
            if spec.motion == "weak":  # slow small turns of the body, about +-5 degrees
                model.set_heading(agent, self.heading + 0.09 * math.sin(2.0 * math.pi * 0.25 * lying))
            return True
        up = lying - spec.lie_s
        if up < 2.0:
            model.set_pose(agent, Posture.SITTING, 1.0)
            return True
        if up < 3.0:
            model.set_pose(agent, Posture.CROUCHING, 1.0 - (up - 2.0))
            return True
        return self.leave(model)


class _SetDown(_Actor):
    """Set a carried object down in front (crouching), later maybe pick it up again."""

    def __init__(self, spec, event_id: str) -> None:
        super().__init__(spec, event_id)
        self.carries = _OBJECT_PROP[spec.object]
        self.object_id: int | None = None

    def set_down(self, model, el: float) -> bool:
        """Crouch, put the object down, come up; True while under way."""
        agent = self.agent
        if el == 0.0:
            model.stand(agent, frozen=True)
        if el < SET_DOWN_S:
            model.set_pose(agent, Posture.CROUCHING, el / SET_DOWN_S)
            return True
        if self.object_id is None:
            h = model.heading_of(agent)
            p = agent.position + OBJECT_OFFSET_M * np.array([math.cos(h), math.sin(h)])
            self.object_id = model.add_object(_OBJECT_KIND[self.spec.object], p, h, owner=agent,
                                              colour_bgr=self.spec.colour_bgr)
            model.set_prop(agent, Prop.NONE)
            self.on_object(model)
        if el < 2 * SET_DOWN_S:
            model.set_pose(agent, Posture.CROUCHING, 2.0 - el / SET_DOWN_S)
            return True
        model.set_pose(agent, None)
        return False

    def on_object(self, model) -> None:
        """Called once the object lies on the floor."""


class AbandonObject(_SetDown):
    """:class:`~sim.scenario.AbandonedObjectEvent`: set down, linger, walk out by ``exit``."""

    def on_object(self, model) -> None:
        model.truth.register_injected_object(self.object_id, self.event_id, EventType.ABANDONED_OBJECT)

    def act(self, model, t: float, el: float) -> bool:
        if self.set_down(model, el):
            return True
        if el < 2 * SET_DOWN_S + self.spec.linger_s:
            return True  # lingering beside it (frozen since the set-down)
        return self.leave(model)


class BagWithOwner(_SetDown):
    """:class:`~sim.scenario.BagWithOwnerDistractor`: set down, stay beside it, pick it up, go."""

    def act(self, model, t: float, el: float) -> bool:
        if self.set_down(model, el):
            return True
        t_pick = 2 * SET_DOWN_S + self.spec.duration_s
        if el < t_pick:
            return True  # standing beside it (frozen since the set-down)
        up = el - t_pick
        if up < SET_DOWN_S:
            model.set_pose(self.agent, Posture.CROUCHING, up / SET_DOWN_S)
            return True
        if self.object_id is not None:
            model.remove_object(self.object_id)
            model.set_prop(self.agent, self.carries)
            self.object_id = None
        if up < 2 * SET_DOWN_S:
            model.set_pose(self.agent, Posture.CROUCHING, 2.0 - up / SET_DOWN_S)
            return True
        return self.leave(model)


class Sit(_Actor):
    """:class:`~sim.scenario.SittingDistractor`."""

    def act(self, model, t: float, el: float) -> bool:
        spec, agent = self.spec, self.agent
        if el == 0.0:
            model.stand(agent, frozen=True)
            if spec.facing_deg is not None:
                model.set_heading(agent, math.radians(spec.facing_deg))
        if el < SIT_S:
            model.set_pose(agent, Posture.SITTING, el / SIT_S)
            return True
        seated = el - SIT_S
        if spec.duration_s is None or seated < spec.duration_s:
            model.set_pose(agent, Posture.SITTING, 1.0)
            return True
        up = seated - spec.duration_s
        if up < SIT_S:
            model.set_pose(agent, Posture.SITTING, 1.0 - up / SIT_S)
            return True
        return self.leave(model)


class Crouch(_Actor):
    """:class:`~sim.scenario.CrouchingDistractor`."""

    def act(self, model, t: float, el: float) -> bool:
        spec, agent = self.spec, self.agent
        if el == 0.0:
            model.stand(agent, frozen=True)
        down = min(spec.down_s, spec.duration_s / 2)
        if el < down:
            model.set_pose(agent, Posture.CROUCHING, el / down)
            return True
        if el < spec.duration_s - down:
            model.set_pose(agent, Posture.CROUCHING, 1.0)
            return True
        if el < spec.duration_s:
            model.set_pose(agent, Posture.CROUCHING, (spec.duration_s - el) / down)
            return True
        return self.leave(model)


class StandStill(_Actor):
    """:class:`~sim.scenario.SafetyLineDistractor`: stand exactly at the place (the platform
    edge does not push this person back, as a person who means to stand there), then go."""

    reach_m = 0.05

    def begin(self, model, t: float) -> None:
        super().begin(model, t)
        model.ignore_platform_edges(self.agent)

    def act(self, model, t: float, el: float) -> bool:
        if el == 0.0:
            model.stand(self.agent, frozen=True)
        if el < self.spec.duration_s:
            return True
        return self.leave(model)


# --- one person walking a path ---------------------------------------------------------------


class Walk(Script):
    """The shape of :class:`sim.scenario._WalkEvent`: appear at (or be taken near) ``at`` at
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

    def begin(self, model, t: float) -> None:
        spec = self.spec
        at = np.asarray(spec.at, dtype=np.float64)
        found = model.free_pedestrians(at, 1, walking=True) if spec.agent == "nearest" else []
        if found:
            self.agent = found[0]
            model.take(self.agent)
            model.set_prop(self.agent, self.prop)
        else:
            self.agent = model.spawn_person(at, prop=self.prop)
        if spec.speed_mps is not None:
            model.set_speed(self.agent, spec.speed_mps)
        if self.register_as is not None:
            model.truth.register_injected(self.agent.unique_id, self.event_id, self.register_as)
        self._next(model)

    def _next(self, model) -> None:
        path = self.spec.path
        if self.waypoint < len(path):
            last = self.waypoint == len(path) - 1
            model.walk_to(self.agent, path[self.waypoint], arrive=last)
            return
        self.walking = False
        model.release(self.agent, self.spec.exit)

    def update(self, model, t: float) -> bool:
        agent = self.agent
        if not agent.present:
            return False
        raising = self._raise(model, t)
        if self.walking and not raising:
            goal = np.asarray(self.spec.path[self.waypoint], dtype=np.float64)
            if float(np.hypot(*(agent.position - goal))) < PLACE_REACHED_M:
                self.waypoint += 1
                self._next(model)
        return self.walking or getattr(self.spec, "raise_at_s", None) is not None

    def _raise(self, model, t: float) -> bool:
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
        model.set_prop(self.agent, self.prop, level)
        up = level > 0.0
        if self.walking:
            if up and not self.standing:
                self.standing = True
                model.stand(self.agent)
            elif not up and self.standing:
                self.standing = False
                self._next(model)
        return up


# --- several people --------------------------------------------------------------------------


class TurnBack(Script):
    """:class:`~sim.scenario.TurnBackDistractor`: a walker reverses for ``turn_s`` and resumes."""

    def begin(self, model, t: float) -> None:
        at = np.asarray(self.spec.at, dtype=np.float64)
        found = model.free_pedestrians(at, 1, walking=True) or model.free_pedestrians(at, 1)
        if not found:
            from sim.model import SimulationError

            raise SimulationError(f"scenario {model.scenario.name!r}: turn_back {self.event_id!r} at t={t:g} s: "
                                  "nobody is present to turn round")
        self.agent = found[0]
        self.plan = model.take(self.agent)
        v = model.velocity_of(self.agent)
        speed = float(np.hypot(*v))
        back = -v / speed if speed > 0.1 else -np.array([math.cos(model.heading_of(self.agent)),
                                                          math.sin(model.heading_of(self.agent))])
        model.walk_to(self.agent, self.agent.position + 20.0 * back, arrive=False)

    def update(self, model, t: float) -> bool:
        if t < self.spec.at_s + self.spec.turn_s - 1e-9:
            return True
        model.resume(self.agent, self.plan)
        return False


class RunForTrain(Script):
    """:class:`~sim.scenario.RunForTrainDistractor`: a few people run to an exit."""

    def begin(self, model, t: float) -> None:
        spec = self.spec
        lo, hi = spec.speed_mps
        for agent in model.free_pedestrians(np.asarray(spec.at, dtype=np.float64), spec.count):
            model.take(agent)
            model.set_speed(agent, float(model.rng.uniform(lo, hi)))
            model.release(agent, spec.exit)


class CrowdMovement(Script):
    """:class:`~sim.scenario.CrowdMovementEvent`: everyone near a point runs radially away
    from (or toward) it for ``run_s``, then heads for the nearest exit, still hurrying."""

    def begin(self, model, t: float) -> None:
        spec = self.spec
        at = np.asarray(spec.at, dtype=np.float64)
        self.runners = model.free_pedestrians(at, None, within_m=spec.radius_m)
        if len(self.runners) < spec.min_agents:
            self.runners = model.free_pedestrians(at, spec.min_agents)
        lo, hi = spec.speed_mps
        self.speeds = []
        for agent in self.runners:
            model.take(agent)
            self.speeds.append(model.speed_of(agent))
            v = float(model.rng.uniform(lo, hi))
            model.set_speed(agent, v)
            d = agent.position - at
            n = float(np.hypot(*d))
            if n < 1e-6:
                a = model.rng.uniform(0.0, 2.0 * math.pi)
                d, n = np.array([math.cos(a), math.sin(a)]), 1.0
            u = d / n
            if spec.direction == "away":
                model.walk_to(agent, agent.position + u * (v * spec.run_s + 2.0), arrive=False)
            else:
                model.walk_to(agent, at + u * 1.0, arrive=True)
            model.truth.register_injected(agent.unique_id, self.event_id, EventType.CROWD_MOVEMENT)

    def update(self, model, t: float) -> bool:
        if t < self.spec.at_s + self.spec.run_s - 1e-9:
            return True
        for agent, v in zip(self.runners, self.speeds):
            if agent.present:
                model.set_speed(agent, 1.3 * v)
                model.release(agent, None)
        return False


class Fire(Script):
    """:class:`~sim.scenario.FireEvent`: the fire burns (its state follows from its age, see
    :meth:`sim.model.StationModel.world`) and the people who come within ``flee_radius_m``
    run away from it for a few seconds, then head for the exit farthest from the fire's side."""

    def begin(self, model, t: float) -> None:
        self.fire_id = model.add_fire(self.spec, t)
        model.truth.register_injected_object(self.fire_id, self.event_id, EventType.FIRE)
        self.fleeing: list[tuple[object, float]] = []
        self.fled: set[int] = set()
        self.centre = np.asarray(self.spec.at, dtype=np.float64)

    def update(self, model, t: float) -> bool:
        spec = self.spec
        burning = spec.out_s is None or t < spec.at_s + spec.out_s - 1e-9
        if not burning and self.fire_id is not None:
            model.remove_fire(self.fire_id)
            self.fire_id = None
        if burning and spec.flee_radius_m > 0:
            for agent in model.free_pedestrians(self.centre, None, within_m=spec.flee_radius_m):
                if agent.unique_id in self.fled:
                    continue
                self.fled.add(agent.unique_id)
                model.take(agent)
                model.set_speed(agent, max(model.speed_of(agent), FLEE_SPEED_MPS))
                d = agent.position - self.centre
                u = d / max(float(np.hypot(*d)), 1e-6)
                model.walk_to(agent, agent.position + u * (spec.flee_radius_m + 4.0), arrive=False)
                self.fleeing.append((agent, t))
        still = []
        for agent, t0 in self.fleeing:
            if not agent.present:
                continue
            if t - t0 >= FLEE_S:
                d = agent.position - self.centre
                model.release(agent, model.exit_away_from(agent.position, d))
            else:
                still.append((agent, t0))
        self.fleeing = still
        return burning or bool(still)


class Queue(Script):
    """:class:`~sim.scenario.QueueDistractor`: people stand still in lines; every ``service_s``
    the head of one line (in turn) leaves and that line steps forward. People with luggage
    set their suitcase down beside them while they stand and pick it up to step forward."""

    def begin(self, model, t: float) -> None:
        spec = self.spec
        a = math.radians(spec.direction_deg)
        self.along = np.array([math.cos(a), math.sin(a)])
        self.side = np.array([-self.along[1], self.along[0]])
        self.facing = math.atan2(-self.along[1], -self.along[0])
        self.lines: list[list[dict]] = [[] for _ in range(spec.files)]
        for k in range(spec.count):
            f, rank = k % spec.files, k // spec.files
            luggage = spec.luggage_share > 0 and model.rng.uniform() < spec.luggage_share
            agent = model.spawn_person(self._slot(f, rank), prop=Prop.SUITCASE if luggage else Prop.NONE)
            model.set_heading(agent, self.facing)
            member = {"agent": agent, "luggage": luggage, "object": None, "moving": False}
            self.lines[f].append(member)
            self._settle(model, member)
        self.next_service = t + spec.service_s
        self.turn = 0

    def _slot(self, f: int, rank: int) -> np.ndarray:
        return (np.asarray(self.spec.head, dtype=np.float64) + rank * self.spec.spacing_m * self.along
                + f * self.spec.file_spacing_m * self.side)

    def _settle(self, model, m: dict) -> None:
        agent = m["agent"]
        model.stand(agent, frozen=True)
        model.set_heading(agent, self.facing)
        m["moving"] = False
        if m["luggage"] and m["object"] is None:
            p = agent.position - OBJECT_OFFSET_M * self.side
            m["object"] = model.add_object(ObjectKind.SUITCASE, p, self.facing, owner=agent)
            model.set_prop(agent, Prop.NONE)

    def _step_forward(self, model, m: dict, slot: np.ndarray) -> None:
        if m["object"] is not None:
            model.remove_object(m["object"])
            m["object"] = None
            model.set_prop(m["agent"], Prop.SUITCASE)
        m["moving"] = True
        model.walk_to(m["agent"], slot, arrive=True)

    def update(self, model, t: float) -> bool:
        if t >= self.next_service - 1e-9:
            self.next_service += self.spec.service_s
            for _ in range(len(self.lines)):
                line = self.lines[self.turn % len(self.lines)]
                self.turn += 1
                if line:
                    head = line.pop(0)
                    if head["object"] is not None:
                        model.remove_object(head["object"])
                        head["object"] = None
                        model.set_prop(head["agent"], Prop.SUITCASE)
                    model.release(head["agent"], self.spec.exit)
                    f = self.lines.index(line)
                    for rank, m in enumerate(line):
                        self._step_forward(model, m, self._slot(f, rank))
                    break
        for f, line in enumerate(self.lines):
            for rank, m in enumerate(line):
                if m["moving"]:
                    d = float(np.hypot(*(m["agent"].position - self._slot(f, rank))))
                    if d < 0.12 or (d < 0.4 and model.speed_now(m["agent"]) < 0.1):
                        self._settle(model, m)
        return any(self.lines)


class Gather(Script):
    """:class:`~sim.scenario.ExcessiveDensityEvent`: people appear at ``start`` one after the
    other, walk into the zone (by a floor field to its centroid), then to a free spot of
    their own in it, stand there and finally leave."""

    def begin(self, model, t: float) -> None:
        spec = self.spec
        zone = next(z for z in model.scenario.station.zones if z.name == spec.zone)
        self.polygon = np.asarray(zone.polygon, dtype=np.float64)
        self.centre = polygon_centroid(self.polygon)
        self.appear = [spec.at_s + spec.release_s * k / spec.count for k in range(spec.count)]
        self.people: list[list] = []  # [agent, spot, in the zone yet]
        last = self.appear[-1]
        self.end_s = None if spec.stay_s is None else last + spec.stay_s

    def _spot(self, model) -> np.ndarray:
        pts = sample_points_in_polygon(model.rng, self.polygon, 16)
        pts = pts[model.grid.is_free(pts)]
        return pts[0] if len(pts) else self.centre.copy()

    def update(self, model, t: float) -> bool:
        spec = self.spec
        while len(self.people) < spec.count and self.appear[len(self.people)] <= t + 1e-9:
            agent = model.spawn_person(spec.start)
            model.walk_to(agent, self.centre, arrive=False, navigate=True)
            model.truth.register_injected(agent.unique_id, self.event_id, EventType.EXCESSIVE_DENSITY)
            self.people.append([agent, self._spot(model), False])
        coming = [p for p in self.people if not p[2]]
        if coming:
            inside = points_in_polygon(np.array([p[0].position for p in coming]), self.polygon)
            for p, now_in in zip(coming, inside.tolist()):
                if now_in:
                    p[2] = True
                    model.walk_to(p[0], p[1], arrive=True)
        if self.end_s is not None and t >= self.end_s - 1e-9:
            for agent, _, _ in self.people:
                model.release(agent, spec.exit)
            return False
        return True


# --- building the scripts of a scenario --------------------------------------------------------


def build_scripts(scenario) -> list[Script]:
    """The scripts of ``scenario``'s events and people-driven distractors, in file order.

    Intrusion events and staff walks keep the model's own waypoint scripts; static
    distractors (posters, lights) and the clothing override need no script.
    """
    out: list[Script] = []
    for i, ev in enumerate(scenario.events):
        eid = ev.id if ev.id is not None else f"{ev.type}_{i}"
        if isinstance(ev, FallEvent):
            out.append(Fall(ev, eid))
        elif isinstance(ev, AbandonedObjectEvent):
            out.append(AbandonObject(ev, eid))
        elif isinstance(ev, CrowdMovementEvent):
            out.append(CrowdMovement(ev, eid))
        elif isinstance(ev, WrongWayEvent):
            out.append(Walk(ev, eid, register_as=EventType.WRONG_WAY))
        elif isinstance(ev, FireEvent):
            out.append(Fire(ev, eid))
        elif isinstance(ev, WeaponEvent):
            out.append(Walk(ev, eid, register_as=EventType.WEAPON, prop=Prop.RIFLE))
        elif isinstance(ev, ExcessiveDensityEvent):
            out.append(Gather(ev, eid))
    for j, d in enumerate(scenario.distractors):
        did = d.id if d.id is not None else f"{d.type}_{j}"
        if isinstance(d, SittingDistractor):
            out.append(Sit(d, did))
        elif isinstance(d, CrouchingDistractor):
            out.append(Crouch(d, did))
        elif isinstance(d, BagWithOwnerDistractor):
            out.append(BagWithOwner(d, did))
        elif isinstance(d, QueueDistractor):
            out.append(Queue(d, did))
        elif isinstance(d, SafetyLineDistractor):
            out.append(StandStill(d, did))
        elif isinstance(d, TurnBackDistractor):
            out.append(TurnBack(d, did))
        elif isinstance(d, CrossingDistractor):
            out.append(Walk(d, did))
        elif isinstance(d, RunForTrainDistractor):
            out.append(RunForTrain(d, did))
        elif isinstance(d, CarrierDistractor):
            out.append(Walk(d, did, prop=_CARRIED[d.prop]))
    return out
