"""The trains of a scenario: arrivals (``station.trains``, ``station.timetable``), the vehicle, where it stops.

A train arrival releases ``count`` passengers through an entrance and, with ``board``,
takes the people waiting near a boarding exit. When its entrance lies along a platform
edge (within :data:`ON_EDGE_M`) that has a track bed beside it (or ``vehicle.platform_edge``
names one), the train is *on stage*: a vehicle brakes into that track bed, stops with its
head ``vehicle.stop_margin_m`` short of the platform's far end at ``at_s``, opens its doors,
lets its passengers out through them, takes the boarders in, closes its doors and leaves
``dwell_s`` after it stopped (:mod:`sim.world.train_runs`). Otherwise it is *off stage*: its
passengers come down stairs from a platform the cameras do not see, from ``at_s`` on.

Timing of an on-stage train, from ``at_s`` (standstill): doors open over ``vehicle.door_s``,
stay open, close over ``door_s`` ending :data:`DEPART_AFTER_CLOSE_S` before the departure at
``at_s + dwell_s``. Passengers alight over ``release_s`` from the moment the doors are fully
open, which must fit before they start closing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, model_validator

from sim.geometry import points_in_polygon
from sim.scenario.fields import BGR, Strict
from sim.scenario.keys import LocatedError
from sim.state import TrainBody

if TYPE_CHECKING:
    from sim.scenario.scenario import Scenario

#: [m] an entrance whose ends both lie this close to a platform edge releases an on-stage train's passengers
ON_EDGE_M = 1.0
#: [s] a train leaves this long after its doors have closed
DEPART_AFTER_CLOSE_S = 1.0


class LiverySpec(Strict):
    """The colours of a train (BGR)."""

    body_bgr: BGR = Field((214, 214, 208), description="car bodies")
    stripe_bgr: BGR = Field((150, 86, 22), description="the band under the windows and along the roof line")
    door_bgr: BGR = Field((176, 176, 172), description="door leaves")
    cab_bgr: BGR = Field((44, 44, 48), description="the dark mask round the cab's windscreen")


class VehicleSpec(Strict):
    """The vehicle of an on-stage train: where it stops, its shape, its motion, its looks."""

    platform_edge: int | None = Field(None, ge=0, description="index of station.platform_edges it stops at "
                                      "(default: the edge its entrance lies along; none: off stage)")
    enters_from: Literal["start", "end"] = Field("start", description="the end of the platform edge (its first "
                                                 "or second point) the train comes in at")
    cars: int | None = Field(None, ge=1, le=12, description="number of cars (default: as many as fit the platform)")
    car_length_m: float = Field(13.0, ge=4, le=30, description="[m]")
    width_m: float = Field(2.8, ge=1.5, le=4, description="[m]")
    height_m: float = Field(3.0, ge=2.2, le=5, description="[m] roof above the platform")
    doors_per_car: int = Field(3, ge=1, le=6, description="doors on the platform side of each car")
    door_width_m: float = Field(1.3, ge=0.6, le=2.5, description="[m] clear width of an open door")
    door_height_m: float = Field(1.95, ge=1.6, le=2.6, description="[m]")
    door_s: float = Field(2.0, gt=0, le=10, description="[s] time the doors take to open, and to close")
    approach_speed_mps: float = Field(14.0, gt=0, le=40, description="[m/s] line speed, at which braking "
                                      "starts and departure ends")
    braking_mps2: float = Field(1.0, ge=0.2, le=3, description="[m/s²] constant service braking into the platform")
    acceleration_mps2: float = Field(1.0, ge=0.2, le=3, description="[m/s²] constant acceleration away")
    platform_gap_m: float = Field(0.1, ge=0, le=0.5, description="[m] from the platform edge to the car side")
    stop_margin_m: float = Field(1.0, ge=0, description="[m] from the head to the platform's far end at the stop")
    livery: LiverySpec = LiverySpec()
    headlights: bool = Field(True, description="lit headlights at the head (and red tail lights)")

    @model_validator(mode="after")
    def _fits(self) -> "VehicleSpec":
        if self.door_height_m > self.height_m - 0.3:
            raise ValueError(f"door_height_m must be <= height_m - 0.3 = {self.height_m - 0.3:g} m; "
                             f"got {self.door_height_m:g}")
        need = self.doors_per_car * (self.door_width_m + 0.6)
        if need > self.car_length_m:
            raise ValueError(f"{self.doors_per_car} doors of {self.door_width_m:g} m (with 0.6 m of body between "
                             f"them) need cars of {need:g} m; car_length_m is {self.car_length_m:g}")
        return self


class TrainSpec(Strict):
    """A train arrival: ``count`` passengers released at an entrance over ``release_s``.

    With ``board``, the train also takes passengers while it stands there: the people
    waiting within 8 m of that exit (``sim.world.trains.BOARD_REACH_M``) board (through its
    doors when it is on stage). An exit named as ``board`` by any train is train-only: no
    arrival chooses it and it lets people out only while a train stands there.
    """

    at_s: float = Field(ge=0, description="[s] arrival time (on stage: the train stands still, its doors "
                                           "start to open)")
    entrance: str = Field(description="name of the entrance the passengers come through")
    count: int = Field(gt=0, description="passengers released")
    release_s: float = Field(10.0, gt=0, description="[s] time over which they alight")
    exit: str | None = Field(None, description="exit the passengers head for (random among exits if not given)")
    board: str | None = Field(None, description="exit through which waiting passengers board this train "
                                                "(they leave by it from at_s on); none board if not given")
    dwell_s: float = Field(30.0, gt=0, description="[s] time the train stands at the platform (boarding window)")
    vehicle: VehicleSpec = Field(default_factory=VehicleSpec, description="the train itself (on stage)")


class TimetableSpec(Strict):
    """Trains every ``headway_s`` from ``first_at_s`` until ``until_s``: expanded into ``trains``."""

    entrance: str = Field(description="entrance the alighting passengers come through (the train doors)")
    first_at_s: float = Field(ge=0, description="[s] first arrival")
    headway_s: float = Field(gt=0, description="[s] time between two trains")
    until_s: float | None = Field(None, gt=0, description="[s] no arrival after this (default: end of the scenario)")
    count: int = Field(gt=0, description="passengers alighting from each train")
    release_s: float = Field(10.0, gt=0, description="[s] time over which they alight")
    exit: str | None = None
    board: str | None = None
    dwell_s: float = Field(30.0, gt=0)
    vehicle: VehicleSpec = Field(default_factory=VehicleSpec, description="every train's vehicle")


@dataclass(frozen=True)
class Stage:
    """Where an on-stage train runs: a platform edge, the track bed beside it, and the train frame."""

    edge: int  #: index of station.platform_edges
    bed: int  #: index of station.track_beds: the one beside the edge
    origin: np.ndarray  #: (2,) [m] the end of the edge the train comes in at
    heading: np.ndarray  #: (2,) unit direction of travel along the edge
    normal: np.ndarray  #: (2,) unit normal from the platform toward the track bed
    edge_length_m: float
    bed_s: tuple[float, float]  #: [m] the track bed's extent along the heading (from origin)
    bed_depth_m: float  #: [m] the track bed's extent across, from the edge


def portal_on_edge(seg, edges) -> int | None:
    """Index of the first platform edge that a doorway segment lies along (both ends within
    :data:`ON_EDGE_M` of it), or None."""
    seg = np.asarray(seg, dtype=np.float64)
    for k, e in enumerate(edges):
        a, b = (np.asarray(p, dtype=np.float64) for p in e)
        ab = b - a
        t = np.clip(((seg - a) @ ab) / max(float(ab @ ab), 1e-12), 0.0, 1.0)
        if np.all(np.hypot(*(seg - (a + t[:, None] * ab)).T) <= ON_EDGE_M):
            return k
    return None


def stage_of(station, train: TrainSpec) -> Stage | None:
    """The stage of ``train`` (None: off stage). Raises ``ValueError`` for a named edge without a track bed."""
    k = train.vehicle.platform_edge
    if k is None:
        portal = next((p.segment for p in station.entrances if p.name == train.entrance), None)
        k = None if portal is None else portal_on_edge(portal, station.platform_edges)
        if k is None:
            return None
    a, b = (np.asarray(p, dtype=np.float64) for p in station.platform_edges[k])
    length = float(np.hypot(*(b - a)))
    axis = (b - a) / max(length, 1e-12)
    normal = np.array([-axis[1], axis[0]])
    mid = (a + b) / 2
    if points_in_polygon((mid + 0.05 * normal)[None], np.asarray(station.walkable, dtype=np.float64))[0]:
        normal = -normal  # the track bed lies on the other side
    probe = (mid + 0.05 * normal)[None]
    bed_index = next((j for j, tb in enumerate(station.track_beds) if points_in_polygon(probe, np.asarray(tb))[0]), None)
    if bed_index is None:
        if train.vehicle.platform_edge is None:
            return None
        raise ValueError(f"platform_edges[{k}] has no track bed beside it for the train to stop in")
    bed = np.asarray(station.track_beds[bed_index], dtype=np.float64)
    if train.vehicle.enters_from == "start":
        origin, heading = a, axis
    else:
        origin, heading = b, -axis
    along = (bed - origin) @ heading
    across = (bed - a) @ normal
    return Stage(edge=k, bed=bed_index, origin=origin, heading=heading, normal=normal, edge_length_m=length,
                 bed_s=(float(along.min()), float(along.max())), bed_depth_m=float(across.max()))


def car_count(stage: Stage, v: VehicleSpec) -> int:
    """``v.cars``, or as many cars as fit along the platform edge (at least one)."""
    if v.cars is not None:
        return v.cars
    return max(1, int((stage.edge_length_m - v.stop_margin_m + 1e-9) // v.car_length_m))


def train_body(index: int, stage: Stage, v: VehicleSpec) -> TrainBody:
    """The :class:`~sim.state.TrainBody` of train ``index`` on ``stage``."""
    lv = v.livery
    return TrainBody(
        index=index, edge=stage.edge, origin_m=tuple(float(c) for c in stage.origin),
        heading=tuple(float(c) for c in stage.heading), normal=tuple(float(c) for c in stage.normal),
        portal_s_m=stage.bed_s, gap_m=v.platform_gap_m, width_m=v.width_m, height_m=v.height_m,
        car_length_m=v.car_length_m, cars=car_count(stage, v), doors_per_car=v.doors_per_car,
        door_width_m=v.door_width_m, door_height_m=v.door_height_m, body_bgr=tuple(lv.body_bgr),
        stripe_bgr=tuple(lv.stripe_bgr), door_bgr=tuple(lv.door_bgr), cab_bgr=tuple(lv.cab_bgr),
        headlights=v.headlights)


def doors_along(body: TrainBody, stop_s: float, seg) -> np.ndarray:
    """Indices of the doors (of a train whose head stands at ``stop_s``) whose centre lies along a
    doorway segment's span (its projection on the track, 0.3 m of slack at each end)."""
    s_seg, _ = body.local(np.asarray(seg, dtype=np.float64))
    lo, hi = float(s_seg.min()) - 0.3, float(s_seg.max()) + 0.3
    centres = stop_s - body.door_offsets_m()
    return np.nonzero((centres >= lo) & (centres <= hi))[0]


def stop_position_m(stage: Stage, v: VehicleSpec) -> float:
    """[m] where the head stops along the heading: the platform's far end less the margin."""
    return stage.edge_length_m - v.stop_margin_m


def check_trains(sc: "Scenario") -> None:
    """The trains against the station: doorways that exist, the vehicle's stage and fit, the
    passengers' release within the doors-open window."""
    st = sc.station
    entrances = {p.name: p for p in st.entrances}
    exits = {p.name: p for p in st.exits}
    for i, tr in enumerate(st.trains):
        loc = ("station", "trains", i)
        if tr.entrance not in entrances:
            raise LocatedError((*loc, "entrance"), f"must name an entrance ({', '.join(sorted(entrances)) or 'none defined'}); "
                               f"got {tr.entrance!r}")
        for key in ("board", "exit"):
            name = getattr(tr, key)
            if name is not None and name not in exits:
                raise LocatedError((*loc, key), f"must name an exit ({', '.join(sorted(exits))}); got {name!r}")
        if tr.at_s > sc.duration_s:
            raise LocatedError((*loc, "at_s"), f"must be within [0, duration_s={sc.duration_s:g}]; got {tr.at_s:g}")
        _check_vehicle(sc, i, tr, entrances, exits)


def _check_vehicle(sc: "Scenario", i: int, tr: TrainSpec, entrances: dict, exits: dict) -> None:
    st = sc.station
    v = tr.vehicle
    loc = ("station", "trains", i, "vehicle")
    if v.platform_edge is not None and v.platform_edge >= len(st.platform_edges):
        raise LocatedError((*loc, "platform_edge"), f"must be an index of station.platform_edges "
                           f"({len(st.platform_edges)} defined); got {v.platform_edge}")
    try:
        stage = stage_of(st, tr)
    except ValueError as exc:
        raise LocatedError((*loc, "platform_edge"), f": {exc}") from None
    if stage is None:
        return
    length = car_count(stage, v) * v.car_length_m
    if length + v.stop_margin_m > stage.edge_length_m + 1e-9:
        raise LocatedError((*loc, "cars"), f": {car_count(stage, v)} cars of {v.car_length_m:g} m ({length:g} m) and "
                           f"stop_margin_m={v.stop_margin_m:g} do not fit along platform_edges[{stage.edge}] "
                           f"({stage.edge_length_m:g} m)")
    if v.platform_gap_m + v.width_m > stage.bed_depth_m + 1e-9:
        raise LocatedError((*loc, "width_m"), f": platform_gap_m + width_m = {v.platform_gap_m + v.width_m:g} m must "
                           f"fit in the track bed beside platform_edges[{stage.edge}] ({stage.bed_depth_m:g} m across)")
    window = tr.dwell_s - 2 * v.door_s - DEPART_AFTER_CLOSE_S
    if tr.release_s > window + 1e-9:
        raise LocatedError(("station", "trains", i, "release_s"),
                           f"must fit while the doors are open: dwell_s - 2 * vehicle.door_s - "
                           f"{DEPART_AFTER_CLOSE_S:g} s = {window:g} s; got {tr.release_s:g}")
    body = train_body(i, stage, v)
    stop = stop_position_m(stage, v)
    for key, portal in (("entrance", entrances[tr.entrance]), ("board", exits.get(tr.board))):
        if portal is not None and len(doors_along(body, stop, portal.segment)) == 0:
            raise LocatedError(("station", "trains", i, key), f": no door of the train stopped at "
                               f"platform_edges[{stage.edge}] lies along {portal.name!r} "
                               f"(segment {[list(p) for p in portal.segment]})")
