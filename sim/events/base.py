"""What a behaviour script is, and what it may ask of the model that runs it.

A :class:`Script` drives one or a few pedestrians that the model hands over to it
(behaviour ``SCRIPTED``): it sets their goals, speeds, postures and props through the
small API of :class:`ScriptHost`, and the model keeps moving them with everyone else in
its one vectorised step. Scripts never import the model (as Mesa's examples never import
their model from their agents): the Protocol is the whole contract, and
:class:`sim.world.model.StationModel` implements it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from detectors.events import EventType
from sim.state import ObjectKind, Posture, Prop


class Actor(Protocol):
    """A pedestrian as a script sees it."""

    unique_id: int

    @property
    def position(self) -> np.ndarray:
        """[m] current ground position (a copy)."""

    @property
    def present(self) -> bool:
        """Whether it is still in the station."""


class Truth(Protocol):
    """The ground-truth recorder, as far as a script may use it: to say which staged event
    its actors, objects or fires belong to (it never writes ground truth itself)."""

    def register_injected(self, agent_id: int, event_id: str, event_type: EventType = EventType.INTRUSION) -> None:
        """What ``agent_id`` causes of ``event_type`` belongs to the staged event ``event_id``."""

    def register_injected_object(self, object_id: int, event_id: str, event_type: EventType) -> None:
        """What object (or fire) ``object_id`` causes of ``event_type`` belongs to ``event_id``."""


class ScriptHost(Protocol):
    """What a script may ask of the model (all positions in metres, times in seconds)."""

    scenario: object  #: the :class:`sim.scenario.Scenario` being run
    rng: np.random.Generator  #: the model's random stream
    truth: Truth

    def spawn_person(self, pos, *, vest: bool = False, prop: Prop = Prop.NONE) -> Actor:
        """A new person at ``pos`` (or the nearest point where it overlaps nobody), standing."""

    def take(self, agent: Actor) -> tuple:
        """Take a free pedestrian over (it drops its party); returns its plan for :meth:`resume`."""

    def resume(self, agent: Actor, plan: tuple) -> None:
        """Give a taken pedestrian its own plan back."""

    def release(self, agent: Actor, exit: str | None = None) -> None:
        """End the script's hold: it stands up and leaves by ``exit`` (nearest if None)."""

    def free_pedestrians(self, point, count: int | None, *, walking: bool = False,
                         within_m: float | None = None) -> list[Actor]:
        """Up to ``count`` pedestrians that follow their own plan, nearest to ``point`` first."""

    def walk_to(self, agent: Actor, point, *, arrive: bool = True, navigate: bool = False,
                turn: bool = True) -> None:
        """Walk to ``point``: straight or round obstacles (``navigate``), slowing down on arrival."""

    def stand(self, agent: Actor, *, frozen: bool = False) -> None:
        """Stand where it is; ``frozen``: not even pushed by others."""

    def set_arrive(self, agent: Actor, arrive: bool) -> None:
        """Whether it slows down on approaching its goal."""

    def ignore_platform_edges(self, agent: Actor) -> None:
        """Let it step over the platform edges until it leaves and stands on the floor."""

    def set_pose(self, agent: Actor, posture: Posture | None, progress: float = 0.0) -> None:
        """A scripted pose and its progress in [0, 1]; None: standing or walking by speed."""

    def set_prop(self, agent: Actor, prop: Prop, raised: float = 0.0) -> None:
        """What it carries and how far it is raised (0 low .. 1 at the shoulder)."""

    def set_vest(self, agent: Actor, vest: bool = True) -> None:
        """Whether it wears a high-visibility vest."""

    def set_speed(self, agent: Actor, v0_mps: float) -> None:
        """[m/s] its desired walking speed."""

    def speed_of(self, agent: Actor) -> float:
        """[m/s] its desired walking speed."""

    def speed_now(self, agent: Actor) -> float:
        """[m/s] its current speed."""

    def velocity_of(self, agent: Actor) -> np.ndarray:
        """[m/s] its current velocity."""

    def heading_of(self, agent: Actor) -> float:
        """[rad] its facing direction, ccw from +x."""

    def set_heading(self, agent: Actor, heading_rad: float) -> None:
        """Turn it to face ``heading_rad``."""

    def path_length(self, a, b) -> float:
        """[m] walking distance from ``a`` to ``b``."""

    def is_free(self, points: np.ndarray) -> np.ndarray:
        """Whether each point lies on free floor."""

    def exit_away_from(self, pos, direction) -> str | None:
        """The exit whose doorway lies most in ``direction`` from ``pos``."""

    def add_object(self, kind: ObjectKind, pos, yaw_rad: float, *, owner: Actor | None = None,
                   colour_bgr=None) -> int:
        """Put an object on the floor; returns its id."""

    def remove_object(self, object_id: int) -> None: ...

    def add_fire(self, spec, t: float) -> int:
        """Light the fire of a ``FireEvent`` spec at ``t``; returns its id."""

    def remove_fire(self, fire_id: int) -> None: ...


class Script:
    """A scripted behaviour. The model calls :meth:`prepare` once at construction (to fix
    ``start_s``), :meth:`begin` at ``start_s`` and :meth:`update` on every step from then on
    (the first time right after :meth:`begin`), until it returns False.

    Scripts that begin in the same step begin in ``begin_order``, then by ``start_s``, then
    in file order."""

    start_s: float = 0.0
    begin_order: int = 1

    def __init__(self, spec, event_id: str) -> None:
        self.spec = spec
        self.event_id = event_id

    def prepare(self, host: ScriptHost) -> None:
        self.start_s = float(self.spec.at_s)

    def begin(self, host: ScriptHost, t: float) -> None:
        """Take or create the people the script drives."""

    def update(self, host: ScriptHost, t: float) -> bool:
        """Advance the script to time ``t`` [s]; return False when it is over."""
        return False
