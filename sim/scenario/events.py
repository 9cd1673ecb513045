"""The ``events:`` and ``distractors:`` blocks: staged behaviours and their look-alikes.

Each event type of the decree has one class here, all in the discriminated union
``EventSpec`` (key ``type``); ``excessive_density`` also arises without staging, from
trains and arrivals filling ``station.zones`` of kind density. Ground truth never comes
from the spec itself: the recorder (:mod:`sim.events.truth`) applies each type's rule to
what the simulation does, and names an instance after the event that caused it.

Distractors are behaviours and scene items that look like an event to a detector but are
not one under the ground-truth rules. People-driven ones reuse the shapes of the events;
static ones (posters, lights) are drawn by the renderer straight from
``scenario.distractors``.

Every entry checks itself against the whole scenario once it is built (:meth:`ScenarioItem.check`,
called by :func:`sim.scenario.checks.check_scenario`): places on the floor, exits that
exist, times within the run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, Union

import numpy as np
from pydantic import Field, model_validator

from sim.scenario.fields import BGR, Point2, Point3, Strict, check_upright_rectangle

if TYPE_CHECKING:
    from sim.scenario.checks import ItemChecks


class ScenarioItem(Strict):
    """An entry of ``events:`` or ``distractors:``."""

    def check(self, ctx: "ItemChecks", loc: tuple) -> None:
        """Raise :class:`~sim.scenario.keys.LocatedError` (its key under ``loc``, e.g.
        ``("events", 2)``) when the entry does not fit the scenario."""


class _EventBase(ScenarioItem):
    at_s: float = Field(description="[s] when the behaviour starts")
    id: str | None = None

    #: keys whose point must lie on the walkable floor, outside the obstacles
    floor_keys: ClassVar[tuple[str, ...]] = ("at", "start", "head")
    #: keys holding a [low, high] range with 0 < low <= high, and its unit
    ranges: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: the behaviour happens in a one_way zone, which the station must have
    needs_one_way: ClassVar[bool] = False

    def check(self, ctx: "ItemChecks", loc: tuple) -> None:
        ctx.within_run((*loc, "at_s"), self.at_s)
        for key in self.floor_keys:
            point = getattr(self, key, None)
            if point is not None:
                ctx.on_floor((*loc, key), point)
        ctx.exit((*loc, "exit"), getattr(self, "exit", None))  # most entries name an exit to leave by
        for key, unit in self.ranges:
            ctx.positive_range((*loc, key), getattr(self, key), unit)
        if self.needs_one_way:
            ctx.one_way((*loc, "type"), self.type)

class _ActorEvent(_EventBase):
    """One person acts at a place: ``agent: new`` brings a person from ``start`` to ``at``
    in time for ``at_s`` (standing there if early, acting on arrival if late);
    ``agent: nearest`` takes the free pedestrian nearest to ``at`` at ``at_s``, who acts
    where it stands (a new person appears at ``at`` when nobody is present)."""

    at: Point2 = Field(description="[m] where the person acts (on the walkable floor)")
    agent: Literal["new", "nearest"] = Field("new", description="a new person, or the pedestrian nearest to at")
    start: Point2 | None = Field(None, description="[m] where a new person appears (default: at itself, at at_s)")
    exit: str | None = Field(None, description="exit to leave by afterwards (nearest if not given)")


class _WalkEvent(_EventBase):
    """One person walks ``path``: a new person appearing at ``at`` at ``at_s``, or (``agent:
    nearest``) the free pedestrian nearest to ``at`` at ``at_s``, who drops its own plan."""

    at: Point2 = Field(description="[m] where the person appears, or the point its nearest pedestrian is taken from")
    agent: Literal["new", "nearest"] = Field("new", description="a new person, or the pedestrian nearest to at")
    path: list[Point2] = Field(default_factory=list, description="[m] waypoints walked in order (straight lines)")
    speed_mps: float | None = Field(None, gt=0, le=6, description="[m/s] desired walking speed (default: the person's own)")
    exit: str | None = Field(None, description="exit to leave by after the last waypoint (nearest if not given)")

    def check(self, ctx: "ItemChecks", loc: tuple) -> None:
        super().check(ctx, loc)
        for k, point in enumerate(self.path):
            ctx.on_floor((*loc, "path", k), point)


class _CarryEvent(_WalkEvent):
    """A person carries a long object along ``path`` and may raise it (``prop_raise`` 0 -> 1)."""

    raise_at_s: float | None = Field(None, ge=0, description="[s] when the object is raised to the shoulder (None: never)")
    raise_s: float = Field(0.8, gt=0, le=10, description="[s] time the raise takes (prop_raise ramps 0 -> 1)")
    hold_s: float | None = Field(None, gt=0, description="[s] time held raised before lowering it (None: until the end)")

    def check(self, ctx: "ItemChecks", loc: tuple) -> None:
        super().check(ctx, loc)
        if self.raise_at_s is not None and self.raise_at_s < self.at_s:
            ctx.fail((*loc, "raise_at_s"), f"must be >= at_s={self.at_s:g}; got {self.raise_at_s:g}")


class _WaypointWalk(_EventBase):
    """One new person appears at ``start`` (which may lie off the floor, on a track bed),
    walks ``path``, stands ``dwell_s`` at waypoint ``dwell_index`` and leaves by ``exit``."""

    floor_keys: ClassVar[tuple[str, ...]] = ()

    start: Point2 = Field(description="[m] where the person appears (on the walkable floor)")
    path: list[Point2] = Field(min_length=1, description="[m] waypoints walked in order")
    dwell_s: float = Field(3.0, ge=0, description="[s] time spent standing at waypoint dwell_index")
    dwell_index: int = Field(-1, description="which waypoint of path to stand at (negative counts from the end)")
    exit: str | None = Field(None, description="exit to leave by afterwards (nearest if not given)")

    def check(self, ctx: "ItemChecks", loc: tuple) -> None:
        super().check(ctx, loc)
        if not -len(self.path) <= self.dwell_index < len(self.path):
            ctx.fail((*loc, "dwell_index"), f"must index path (length {len(self.path)}); got {self.dwell_index}")


class IntrusionEvent(_WaypointWalk):
    """Someone walks from ``start`` along ``path`` into a forbidden zone, stays, and walks back."""

    type: Literal["intrusion"]


class FallEvent(_ActorEvent):
    """A person falls at ``at`` (posture FALLING for ``fall_s``, progress 0 -> 1) and lies there
    (LYING); ground truth runs from the start of the fall to the end of lying."""

    type: Literal["person_on_ground"]
    fall_s: float = Field(1.0, gt=0, le=5, description="[s] duration of the fall, upright to flat")
    lie_s: float | None = Field(None, gt=0, description="[s] time on the ground before getting up (None: to the end)")
    motion: Literal["still", "weak"] = Field("weak", description="lies still, or moves weakly (slow small turns)")


class AbandonedObjectEvent(_ActorEvent):
    """A person sets a carried object down at ``at`` (crouching briefly) and walks out by ``exit``.

    Ground truth starts once the owner has been farther than ``truth.abandoned_distance_m``
    for ``truth.abandoned_after_s`` (or gone from the station)."""

    type: Literal["abandoned_object"]
    object: Literal["bag", "suitcase", "backpack"] = Field("bag", description="what is carried and left")
    colour_bgr: BGR | None = Field(None, description="BGR colour of the object (default: drawn from a dark palette)")
    linger_s: float = Field(0.0, ge=0, description="[s] the owner stands beside the object this long before leaving")


class CrowdMovementEvent(_EventBase):
    """A sudden surge or dispersal: the people within ``radius_m`` of ``at`` run radially away
    from it (or toward it) at ``speed_mps`` for ``run_s``, then leave by the nearest exit."""

    type: Literal["crowd_movement"]
    ranges: ClassVar[tuple[tuple[str, str], ...]] = (("speed_mps", "m/s"),)
    at: Point2 = Field(description="[m] the point the crowd flees from (away) or rushes to (toward)")
    direction: Literal["away", "toward"] = Field("away", description="dispersal (away) or surge (toward)")
    radius_m: float = Field(6.0, gt=0, le=100, description="[m] people within this distance of at take part")
    min_agents: int = Field(10, ge=2, le=10_000, description="at least this many take part: the nearest ones when fewer stand within radius_m")
    speed_mps: tuple[float, float] = Field((2.5, 4.0), description="[m/s] range of the runners' desired speeds (uniform)")
    run_s: float = Field(6.0, gt=0, le=120, description="[s] time they run before heading for an exit")


class WrongWayEvent(_WalkEvent):
    """A person walks ``path`` against a one_way zone's direction (see :class:`_WalkEvent`).

    Ground truth: velocity more than ``truth.wrong_way_angle_deg`` off the allowed direction,
    faster than ``truth.wrong_way_min_speed_mps``, for ``truth.wrong_way_min_s`` inside the zone."""

    type: Literal["wrong_way"]
    needs_one_way: ClassVar[bool] = True


class FireEvent(_EventBase):
    """A fire starts at ``at``: flames that grow over ``grow_s``, smoke after ``smoke_delay_s``;
    people within ``flee_radius_m`` run away from it."""

    type: Literal["fire"]
    ranges: ClassVar[tuple[tuple[str, str], ...]] = (("flame_radius_m", "m"),)
    at: Point2 = Field(description="[m] centre of the burning area (on the walkable floor)")
    grow_s: float = Field(20.0, gt=0, le=3600, description="[s] time for the flames to reach full size")
    flame_radius_m: tuple[float, float] = Field((0.15, 0.8), description="[m] flame base radius at ignition and at full size")
    flame_height_m: float = Field(1.2, gt=0, le=10, description="[m] mean flame height at full size (grows with the radius)")
    smoke_delay_s: float = Field(5.0, ge=0, description="[s] time from ignition to the first smoke")
    smoke_ramp_s: float = Field(15.0, gt=0, description="[s] time for the smoke to reach full density and spread")
    smoke_radius_m: float = Field(5.0, gt=0, le=100, description="[m] horizontal spread of the smoke at full size")
    smoke_density: float = Field(0.8, gt=0, le=1, description="opacity of the smoke at full density")
    flee_radius_m: float = Field(5.0, ge=0, le=100, description="[m] people closer than this to the fire run away (0: nobody)")
    out_s: float | None = Field(None, gt=0, description="[s] burning time before it is put out (None: burns to the end)")


class WeaponEvent(_CarryEvent):
    """A person carries a long rigid object (a rifle) from ``at_s`` on and may raise it to aim.

    Ground truth (``presence or use``) starts at the first moment the carrier is seen with
    the object, ``at_s``, and lasts while it carries it."""

    type: Literal["weapon"]


class ExcessiveDensityEvent(_EventBase):
    """``count`` people come from ``start`` over ``release_s`` and gather in the density zone
    ``zone`` (round a busker, an incident), stand there ``stay_s`` and leave by ``exit``.

    Ground truth is the zone's density rule: choose ``count`` above capacity x area."""

    type: Literal["excessive_density"]
    zone: str = Field(description="name of a density zone of station.zones")
    count: int = Field(ge=1, le=5000, description="people who gather")
    start: Point2 = Field(description="[m] where they come from (a doorway, the foot of the stairs)")
    release_s: float = Field(10.0, gt=0, description="[s] time over which they appear at start")
    stay_s: float | None = Field(30.0, gt=0, description="[s] time they stand in the zone after the last one "
                                                          "appeared (None: to the end)")
    exit: str | None = Field(None, description="exit they leave by afterwards (nearest if not given)")

    def check(self, ctx: "ItemChecks", loc: tuple) -> None:
        super().check(ctx, loc)
        ctx.density_zone((*loc, "zone"), self.zone)


EVENT_CLASSES = (IntrusionEvent, FallEvent, AbandonedObjectEvent, CrowdMovementEvent, WrongWayEvent, FireEvent,
                 WeaponEvent, ExcessiveDensityEvent)
EventSpec = Annotated[Union[EVENT_CLASSES], Field(discriminator="type")]


# --- distractors (hard negatives) ---------------------------------------------------------


class SittingDistractor(_ActorEvent):
    """A person sits down on the floor or on a bench (posture SITTING, progress 0 -> 1 while
    sitting down, 1 seated, 1 -> 0 getting up), then walks on. Not a person on the ground."""

    type: Literal["sitting"]
    seat: Literal["floor", "bench"] = Field("floor", description="on the floor, or on a bench (seat 0.45 m high) at at")
    duration_s: float | None = Field(20.0, gt=0, description="[s] time seated (None: to the end)")
    facing_deg: float | None = Field(None, description="[deg] direction the seated person (and a bench) faces, ccw from +x")


class CrouchingDistractor(_ActorEvent):
    """A person crouches (tying a shoe, picking something up; posture CROUCHING, progress
    0 -> 1 -> 0) and walks on."""

    type: Literal["crouching"]
    duration_s: float = Field(3.0, gt=0, le=600, description="[s] whole crouch, down and up included")
    down_s: float = Field(0.6, gt=0, le=5, description="[s] time to go down (and to come up)")


class BagWithOwnerDistractor(_ActorEvent):
    """A person sets a bag down at ``at`` and stays beside it for ``duration_s``, then picks
    it up and walks on. Not abandoned."""

    type: Literal["bag_with_owner"]
    object: Literal["bag", "suitcase", "backpack"] = Field("bag", description="what is set down")
    colour_bgr: BGR | None = Field(None, description="BGR colour of the object (default: drawn from a dark palette)")
    duration_s: float = Field(20.0, gt=0, description="[s] time the object stays on the floor")


class QueueDistractor(_EventBase):
    """An orderly queue: ``count`` people stand in ``files`` lines behind ``head``; every
    ``service_s`` the first person leaves by ``exit`` and the others step forward. With
    ``luggage_share`` people carry suitcases that they set down while standing."""

    type: Literal["queue"]
    head: Point2 = Field(description="[m] where the first person of the (first) line stands")
    direction_deg: float = Field(description="[deg] direction from the head to the tail of the queue, ccw from +x")
    count: int = Field(ge=1, le=500, description="people in the queue when it forms")
    spacing_m: float = Field(0.7, ge=0.45, le=3, description="[m] distance between consecutive people of a line")
    files: int = Field(1, ge=1, le=10, description="number of parallel lines")
    file_spacing_m: float = Field(0.7, ge=0.45, le=3, description="[m] distance between the lines")
    service_s: float = Field(10.0, gt=0, description="[s] time between two people leaving the head of the queue")
    exit: str | None = Field(None, description="exit the served people leave by (nearest if not given)")
    luggage_share: float = Field(0.0, ge=0, le=1, description="share of the people with a suitcase they set down while standing")

    def check(self, ctx: "ItemChecks", loc: tuple) -> None:
        super().check(ctx, loc)
        a = math.radians(self.direction_deg)
        along = np.array([math.cos(a), math.sin(a)])
        side = np.array([-along[1], along[0]])
        per_file = -(-self.count // self.files)
        for f in range(self.files):
            tail = np.asarray(self.head) + (per_file - 1) * self.spacing_m * along + f * self.file_spacing_m * side
            ctx.on_floor((*loc, "count"), (float(tail[0]), float(tail[1])), f"the tail of line {f}")


class StaffInZoneDistractor(_WaypointWalk):
    """A staff member in a high-visibility vest walks into a forbidden zone that allows staff
    (``allowed: [staff]``), stays and comes back, like :class:`IntrusionEvent`."""

    type: Literal["staff_in_zone"]
    dwell_s: float = Field(5.0, ge=0, description="[s] time spent standing at waypoint dwell_index")


class SafetyLineDistractor(_ActorEvent):
    """A person stands still at ``at``, on the painted safety line near the platform edge
    (on the platform, not in the forbidden zone), for ``duration_s``."""

    type: Literal["safety_line_standing"]
    duration_s: float = Field(10.0, gt=0, description="[s] time standing there")


class TurnBackDistractor(_EventBase):
    """At ``at_s`` the walking pedestrian nearest to ``at`` turns round and walks back for
    ``turn_s``, then goes on its way: shorter than ``truth.wrong_way_min_s``, not wrong way."""

    type: Literal["turn_back"]
    needs_one_way: ClassVar[bool] = True
    at: Point2 = Field(description="[m] the walker nearest to this point turns round")
    turn_s: float = Field(1.0, gt=0, le=60, description="[s] time spent walking back")


class CrossingDistractor(_WalkEvent):
    """A person walks ``path`` across a one_way zone, perpendicular to its direction."""

    type: Literal["crossing"]
    needs_one_way: ClassVar[bool] = True


class RunForTrainDistractor(_EventBase):
    """The ``count`` free pedestrians nearest to ``at`` run to ``exit`` (a departing train's
    doors, the stairs) at ``speed_mps``: too few for a crowd movement."""

    type: Literal["run_for_train"]
    ranges: ClassVar[tuple[tuple[str, str], ...]] = (("speed_mps", "m/s"),)
    at: Point2 = Field(description="[m] the runners are the pedestrians nearest to this point")
    count: int = Field(3, ge=1, le=100, description="number of runners")
    exit: str = Field(description="exit the runners run to")
    speed_mps: tuple[float, float] = Field((2.5, 3.5), description="[m/s] range of the runners' desired speeds (uniform)")


class CarrierDistractor(_CarryEvent):
    """A person carries an umbrella, a cane or a guitar case (and may raise or point it)."""

    type: Literal["carrier"]
    prop: Literal["umbrella", "cane", "guitar_case"] = Field(description="the object carried")


class _WallItem(ScenarioItem):
    """A flat rectangle on a wall (or a ceiling), drawn by the renderer."""

    id: str | None = None
    center: Point3 = Field(description="[m] centre of the item (x, y, z); z is the height of its centre above the floor")
    size: tuple[float, float] = Field(description="[m] width and height of the item")
    yaw_deg: float = Field(0.0, description="[deg] direction the item's face points, ccw from +x; its width runs along yaw_deg + 90")

    @model_validator(mode="after")
    def _fits(self) -> "_WallItem":
        check_upright_rectangle(self.center, self.size, "the item")
        return self


class PosterDistractor(_WallItem):
    """A static advertising poster (red, orange, yellow: fire colours) on a wall."""

    type: Literal["poster"]
    colour_bgr: BGR = Field((30, 40, 220), description="BGR main colour of the poster")
    accent_bgr: BGR = Field((40, 200, 250), description="BGR second colour (stripes, lettering)")


class FlickeringLightDistractor(_WallItem):
    """A light panel on a wall or ceiling whose brightness flickers (a failing tube)."""

    type: Literal["flickering_light"]
    mount: Literal["wall", "ceiling"] = Field("wall", description="on a wall (faces yaw_deg) or on the ceiling (faces down)")
    colour_bgr: BGR = Field((150, 220, 255), description="BGR colour of the light when fully on (warm white)")
    flicker_hz: float = Field(6.0, gt=0, le=100, description="[Hz] mean rate of the brightness changes")
    depth: float = Field(0.8, gt=0, le=1, description="share of the brightness lost at the dark phase")
    glow_m: float = Field(1.5, ge=0, le=20, description="[m] radius of the light pool it throws on the floor and walls")


class OrangeClothingDistractor(ScenarioItem):
    """A share of the crowd wears flame-coloured tops (an appearance override)."""

    type: Literal["orange_clothing"]
    id: str | None = None
    share: float = Field(0.1, gt=0, le=1, description="share of the people (present at t = 0 and arriving) dressed so")
    colour_bgr: BGR = Field((0, 120, 255), description="BGR colour of the tops (jittered per person)")


DISTRACTOR_CLASSES = (SittingDistractor, CrouchingDistractor, BagWithOwnerDistractor, QueueDistractor,
                      StaffInZoneDistractor, SafetyLineDistractor, TurnBackDistractor, CrossingDistractor,
                      RunForTrainDistractor, CarrierDistractor, PosterDistractor, FlickeringLightDistractor,
                      OrangeClothingDistractor)
DistractorSpec = Annotated[Union[DISTRACTOR_CLASSES], Field(discriminator="type")]


def _type_name(cls) -> str:
    return cls.model_fields["type"].annotation.__args__[0]


EVENT_TYPE_NAMES = tuple(_type_name(c) for c in EVENT_CLASSES)
DISTRACTOR_TYPE_NAMES = tuple(_type_name(c) for c in DISTRACTOR_CLASSES)
