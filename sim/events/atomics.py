"""Behaviours of one person built from small steps, as CARLA's scenario_runner builds a walker.

A :class:`Sequence` is a :class:`~sim.events.base.Script` that casts one actor and runs
its steps in order; a sit-down reads::

    Sequence(cast, [Freeze(), Ramp(SITTING, 0, 1, SIT_S), Hold(SITTING, d), Ramp(SITTING, 1, 0, SIT_S),
                    Leave(exit)])

Steps are *timed* (``duration_s`` set: :class:`Ramp`, :class:`Hold`; 0 for the instant ones:
:class:`Freeze`, :class:`Face`, :class:`Do`, :class:`Leave`) or *untimed* (``duration_s``
None: :class:`WalkTo`, :class:`Dwell`, :class:`Approach`, :class:`WaitUntil` run until they
say they are done). Time within a run of timed steps counts from the end of the last
untimed step (or the sequence's start), each finished step's duration subtracted in turn:
a pose ramp and a hold keep their exact arithmetic however long the walk before them took.
A step starts in the update that reaches it and is ticked in that same update; finished
steps fall through to the next one within one update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from detectors.events import EventType
from sim.events.base import Actor, Script, ScriptHost
from sim.state import Posture, Prop


@dataclass
class Stage:
    """What the steps of one sequence share: the actor and a few notes."""

    actor: Actor | None = None
    place: np.ndarray | None = None  #: [m] where the actor acts
    approach: bool = False  #: the actor must first walk to ``place``
    heading_rad: float = 0.0  #: its facing when it froze
    v0_mps: float | None = None  #: its own desired speed, while a step changes it
    notes: dict = field(default_factory=dict)  #: anything else steps hand each other (an object's id)


class Step:
    """One step of a :class:`Sequence`."""

    #: [s] how long a timed step lasts (0: instant); None: untimed, it runs until :meth:`tick` is False
    duration_s: float | None = 0.0

    def start(self, host: ScriptHost, stage: Stage, t: float) -> None:
        """Called once, in the update that reaches the step."""

    def tick(self, host: ScriptHost, stage: Stage, t: float, local_s: float) -> bool:
        """Act at ``t`` [s], ``local_s`` [s] into a timed step; an untimed step returns True
        while it goes on."""
        return False


class Freeze(Step):
    """Stand still, not even pushed by others; remember the facing (a sway turns about it)."""

    def start(self, host, stage, t):
        host.stand(stage.actor, frozen=True)
        stage.heading_rad = host.heading_of(stage.actor)


class Face(Step):
    """Turn to ``heading_deg`` (ccw from +x) at once."""

    def __init__(self, heading_deg: float) -> None:
        self.heading_deg = heading_deg

    def start(self, host, stage, t):
        host.set_heading(stage.actor, math.radians(self.heading_deg))


class Do(Step):
    """An instant action: ``action(host, stage)`` (set an object down, pick it up)."""

    def __init__(self, action: Callable[[ScriptHost, Stage], None]) -> None:
        self.action = action

    def start(self, host, stage, t):
        self.action(host, stage)


class Ramp(Step):
    """``posture`` with its progress going from ``lo`` to ``hi`` over ``duration_s``."""

    def __init__(self, posture: Posture, lo: float, hi: float, duration_s: float) -> None:
        self.posture, self.lo, self.hi, self.duration_s = posture, float(lo), float(hi), float(duration_s)

    def tick(self, host, stage, t, local_s):
        host.set_pose(stage.actor, self.posture, self.lo + (self.hi - self.lo) * (local_s / self.duration_s))
        return True


class Hold(Step):
    """``posture`` held at full progress (None: standing) for ``duration_s`` (None: to the end).

    With ``sway_rad``, the body turns slowly about the facing it froze with, by
    ``sway_rad * sin(2 pi sway_hz local_s)`` (a person lying and moving weakly)."""

    def __init__(self, posture: Posture | None, duration_s: float | None, *, sway_rad: float = 0.0,
                 sway_hz: float = 0.0) -> None:
        self.posture = posture
        self.duration_s = math.inf if duration_s is None else float(duration_s)
        self.sway_rad, self.sway_hz = sway_rad, sway_hz

    def tick(self, host, stage, t, local_s):
        host.set_pose(stage.actor, self.posture, 1.0)
        if self.sway_rad:
            host.set_heading(stage.actor, stage.heading_rad + self.sway_rad * math.sin(2.0 * math.pi * self.sway_hz * local_s))
        return True


class Leave(Step):
    """The script lets go: the actor stands up and leaves by ``exit`` (nearest if None)."""

    def __init__(self, exit: str | None) -> None:
        self.exit = exit

    def start(self, host, stage, t):
        host.release(stage.actor, self.exit)


class WalkTo(Step):
    """Walk straight to ``point`` [m] (slowing down on arrival with ``arrive``; a standing
    actor turns to it at once with ``turn``) until within ``reach_m`` of it."""

    duration_s = None

    def __init__(self, point, *, reach_m: float, arrive: bool = False, turn: bool = True) -> None:
        self.point = np.asarray(point, dtype=np.float64)
        self.reach_m, self.arrive, self.turn = reach_m, arrive, turn

    def start(self, host, stage, t):
        host.walk_to(stage.actor, self.point, arrive=self.arrive, turn=self.turn)

    def tick(self, host, stage, t, local_s):
        return float(np.hypot(*(stage.actor.position - self.point))) >= self.reach_m


class Dwell(Step):
    """Stay at the goal (slowing down onto it) for ``duration_s`` [s], over at the first
    update from ``start + duration_s`` on."""

    duration_s = None

    def __init__(self, duration_s: float) -> None:
        self.dwell_s = float(duration_s)
        self.until = math.inf

    def start(self, host, stage, t):
        self.until = t + self.dwell_s
        host.set_arrive(stage.actor, True)

    def tick(self, host, stage, t, local_s):
        if self.until <= t + 1e-9:
            host.set_arrive(stage.actor, False)
            return False
        return True


class WaitUntil(Step):
    """Wait for time ``at_s`` [s] (doing whatever the actor was doing)."""

    duration_s = None

    def __init__(self, at_s: float) -> None:
        self.at_s = float(at_s)

    def tick(self, host, stage, t, local_s):
        return t < self.at_s - 1e-9


#: [m/s] slowest and fastest speed a new actor walks at to reach its place in time
APPROACH_SPEED_MPS = (0.7, 2.0)


class Approach(Step):
    """A new actor that appeared away from its place walks there (round obstacles) at the
    speed that brings it by ``at_s`` (within :data:`APPROACH_SPEED_MPS`), then stands: on
    arriving within ``reach_m``, when blocked near it after ``at_s``, or 30 s late. Nothing
    to do for an actor that starts at its place (``stage.approach`` False)."""

    duration_s = None

    def __init__(self, at_s: float, reach_m: float) -> None:
        self.at_s, self.reach_m = float(at_s), reach_m

    def start(self, host, stage, t):
        if stage.approach:
            stage.v0_mps = host.speed_of(stage.actor)
            host.walk_to(stage.actor, stage.place, navigate=True)

    def tick(self, host, stage, t, local_s):
        if not stage.approach:
            return False
        agent = stage.actor
        d = float(np.hypot(*(agent.position - stage.place)))
        left = self.at_s - t
        # walk at the speed that arrives in time (within limits), slowing down on arrival
        lo, hi = APPROACH_SPEED_MPS
        host.set_speed(agent, min(max(d / max(left, 0.1), lo), hi))
        blocked = d < 1.5 and host.speed_now(agent) < 0.15 and left < 0
        if not (d < self.reach_m or blocked or left < -30.0):
            return True
        host.stand(agent)
        host.set_speed(agent, stage.v0_mps)
        return False


class Cast:
    """Who a sequence's actor is; :meth:`__call__` finds or creates it and notes its place."""

    def __call__(self, host: ScriptHost, stage: Stage) -> None:
        raise NotImplementedError

    def lead_s(self, host: ScriptHost) -> float:
        """[s] how long before the event's ``at_s`` the sequence must start."""
        return 0.0


class NewPerson(Cast):
    """A new person at ``start`` (a staff member in a vest with ``vest``; free to step over
    the platform edges with ``edge_free``)."""

    def __init__(self, start, *, vest: bool = False, edge_free: bool = False, prop: Prop = Prop.NONE) -> None:
        self.start, self.vest, self.edge_free, self.prop = start, vest, edge_free, prop

    def __call__(self, host, stage):
        stage.actor = host.spawn_person(self.start, vest=self.vest, prop=self.prop)
        if self.edge_free:
            host.ignore_platform_edges(stage.actor)


class ActorAt(Cast):
    """The actor of an event at a place (:class:`sim.scenario.events._ActorEvent`): with
    ``agent: nearest`` the free pedestrian nearest to ``at``, who acts where it stands (a new
    person at ``at`` when nobody is there); with ``agent: new`` a new person at ``start``,
    who walks to ``at`` first when it starts farther than ``reach_m`` from it, setting off
    early enough to be there by ``at_s`` (at 0.9 x the crowd's mean speed, plus a second).
    ``edge_free``: the platform edges do not push it back (it means to stand near one)."""

    def __init__(self, spec, prop: Prop, reach_m: float, *, edge_free: bool = False) -> None:
        self.spec, self.prop, self.reach_m, self.edge_free = spec, prop, reach_m, edge_free

    def lead_s(self, host):
        spec = self.spec
        if spec.agent == "new" and spec.start is not None:
            return host.path_length(spec.start, spec.at) / (0.9 * host.scenario.crowd.speed_mean_mps) + 1.0
        return 0.0

    def __call__(self, host, stage):
        self._cast(host, stage)
        if self.edge_free:
            host.ignore_platform_edges(stage.actor)

    def _cast(self, host, stage):
        spec = self.spec
        at = np.asarray(spec.at, dtype=np.float64)
        stage.place = at
        if spec.agent == "nearest":
            found = host.free_pedestrians(at, 1)
            if found:
                stage.actor = found[0]
                host.take(stage.actor)
                host.stand(stage.actor)
                stage.place = stage.actor.position
                host.set_prop(stage.actor, self.prop)
            else:
                stage.actor = host.spawn_person(at, prop=self.prop)
            return
        start = at if spec.start is None else np.asarray(spec.start, dtype=np.float64)
        stage.actor = host.spawn_person(start, prop=self.prop)
        stage.approach = spec.start is not None and float(np.hypot(*(start - at))) > self.reach_m


class Sequence(Script):
    """One actor (found or created by ``cast`` at ``start_s``) running ``steps`` in order;
    ``register_as``: the ground truth names what its actor causes after this event."""

    def __init__(self, spec, event_id: str, cast: Cast, steps: list[Step], *,
                 register_as: EventType | None = None, begin_order: int = 1) -> None:
        super().__init__(spec, event_id)
        self.cast = cast
        self.steps = steps
        self.register_as = register_as
        self.begin_order = begin_order
        self.stage = Stage()
        self._k = 0  # the step under way
        self._started = False  # whether it has started
        self._t0 = 0.0  # [s] when the current run of timed steps began
        self._spent: list[float] = []  # [s] durations of the timed steps finished since _t0

    def prepare(self, host):
        self.start_s = max(0.0, float(self.spec.at_s) - self.cast.lead_s(host))

    def begin(self, host, t):
        self.cast(host, self.stage)
        self._t0 = t
        if self.register_as is not None:
            host.truth.register_injected(self.stage.actor.unique_id, self.event_id, self.register_as)

    def update(self, host, t):
        stage = self.stage
        while self._k < len(self.steps):
            step = self.steps[self._k]
            if not self._started:
                step.start(host, stage, t)
                self._started = True
            if step.duration_s is None:
                if step.tick(host, stage, t, 0.0):
                    return True
                self._t0, self._spent = t, []
            else:
                local = t - self._t0
                for d in self._spent:
                    local -= d
                if local < step.duration_s:
                    step.tick(host, stage, t, local)
                    return True
                self._spent.append(step.duration_s)
            self._k += 1
            self._started = False
        return False
