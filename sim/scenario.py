"""Scenario files: the YAML contract that describes one simulated station run.

A scenario is validated on load. Unknown keys are rejected with the key's path, every
error names the field, what was expected and what came::

    scenario 'platform_fall': events[2].at_s must be within [0, duration_s=120]; got 150

A scenario can ``extend`` another one (by library name or by path) and override keys:
mappings merge key by key, lists and scalars replace. The library lives in the
``scenarios`` folder of the repository (shipped as package data); files whose name starts
with ``_`` are bases that :func:`list_scenarios` does not show.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from detectors.events import EventType

Point2 = tuple[float, float]
Point3 = tuple[float, float, float]
Polygon = Annotated[list[Point2], Field(min_length=3, description="[m] vertices on the ground plane")]
#: a BGR colour, one byte per channel
BGR = tuple[Annotated[int, Field(ge=0, le=255)], Annotated[int, Field(ge=0, le=255)], Annotated[int, Field(ge=0, le=255)]]


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the path of the bad key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- station -------------------------------------------------------------------------


class ZoneSpec(_Strict):
    """A named ground area with a rule: forbidden, one way, or density-capped."""

    name: str
    kind: Literal["forbidden", "one_way", "density"]
    polygon: Polygon
    direction_deg: float | None = Field(None, description="[deg] allowed direction of travel, ccw from +x (one_way)")
    capacity_per_m2: float | None = Field(None, gt=0, description="[persons/m²] density threshold (density)")
    allowed: list[Literal["staff"]] = Field(default_factory=list, description="who may be in a forbidden zone "
                                            "without it being an intrusion (staff: people in high-visibility vests)")

    @model_validator(mode="after")
    def _kind_fields(self) -> "ZoneSpec":
        if self.allowed and self.kind != "forbidden":
            raise ValueError(f"allowed applies to forbidden zones only; zone {self.name!r} is {self.kind}")
        if self.kind == "one_way" and self.direction_deg is None:
            raise ValueError("a one_way zone needs direction_deg")
        if self.kind == "density" and self.capacity_per_m2 is None:
            raise ValueError("a density zone needs capacity_per_m2")
        _check_simple_polygon(self.polygon)
        return self


class PortalSpec(_Strict):
    """An entrance or exit: a segment of the boundary where agents appear or leave."""

    name: str
    segment: tuple[Point2, Point2] = Field(description="[m] the two ends of the doorway")
    rate_per_min: float = Field(0.0, ge=0, description="[persons/min] Poisson arrival rate (entrances)")


class TrainSpec(_Strict):
    """A train arrival: ``count`` passengers released at an entrance over ``release_s``.

    With ``board``, the train also takes passengers during ``[at_s, at_s + dwell_s]``: the
    people waiting within 8 m of that exit (``sim.model.BOARD_REACH_M``) leave by it. An exit
    named as ``board`` by any train is train-only: no arrival chooses it and it lets people
    out only while a train stands there.
    """

    at_s: float = Field(ge=0, description="[s] arrival time")
    entrance: str = Field(description="name of the entrance the passengers come through")
    count: int = Field(gt=0, description="passengers released")
    release_s: float = Field(10.0, gt=0, description="[s] time over which they alight")
    exit: str | None = Field(None, description="exit the passengers head for (random among exits if not given)")
    board: str | None = Field(None, description="exit through which waiting passengers board this train "
                                                "(they leave by it from at_s on); none board if not given")
    dwell_s: float = Field(30.0, gt=0, description="[s] time the train stands at the platform (boarding window)")


class TimetableSpec(_Strict):
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


class StationSpec(_Strict):
    walkable: Polygon = Field(description="[m] the floor pedestrians may use")
    obstacles: list[Polygon] = Field(default_factory=list, description="[m] pillars, walls, gate housings")
    track_beds: list[Polygon] = Field(default_factory=list, description="[m] drawn below the platform, not walkable")
    platform_edges: list[tuple[Point2, Point2]] = Field(default_factory=list, description="[m] edge segments")
    safety_line_m: float = Field(0.5, ge=0, description="[m] distance of the painted safety line from the edge")
    zones: list[ZoneSpec] = Field(default_factory=list)
    entrances: list[PortalSpec] = Field(default_factory=list)
    exits: list[PortalSpec] = Field(default_factory=list)
    trains: list[TrainSpec] = Field(default_factory=list)

    @field_validator("walkable")
    @classmethod
    def _walkable_simple(cls, v):
        _check_simple_polygon(v)
        return v

    @field_validator("obstacles")
    @classmethod
    def _obstacles_simple(cls, v):
        for poly in v:
            _check_simple_polygon(poly)
        return v


# --- people and cameras ---------------------------------------------------------------


# Default appearance: four coarse clothing styles (BGR), shared skin and hair palettes.
_DEFAULT_GROUPS = (
    ("dark_formal", 0.3, ((40, 40, 40), (60, 50, 40), (90, 60, 30), (30, 30, 80), (70, 70, 70)),
     ((30, 30, 30), (50, 40, 30), (70, 70, 70))),
    ("light_casual", 0.3, ((200, 200, 200), (180, 130, 70), (70, 160, 200), (90, 180, 120), (170, 170, 150)),
     ((120, 80, 40), (60, 60, 60), (150, 150, 150))),
    ("bright", 0.2, ((40, 40, 200), (40, 180, 240), (200, 80, 40), (160, 60, 160), (60, 200, 60)),
     ((110, 70, 30), (40, 40, 40), (90, 90, 90))),
    ("coats", 0.2, ((120, 160, 190), (80, 110, 140), (100, 120, 120), (60, 90, 120), (140, 170, 200)),
     ((40, 50, 60), (30, 30, 30), (100, 110, 120))),
)
_DEFAULT_SKIN = ((180, 200, 240), (140, 170, 220), (100, 140, 190), (70, 100, 150), (50, 70, 110))
_DEFAULT_HAIR = ((20, 20, 20), (30, 40, 60), (40, 70, 110), (120, 150, 180), (150, 150, 150))


class AppearanceGroupSpec(_Strict):
    """One clothing style: a share of the crowd and the palettes its people are dressed from."""

    name: str
    weight: float = Field(gt=0, description="relative share of the people drawn from this group")
    shirt_palette: list[BGR] = Field(min_length=1, description="BGR colours of tops (one drawn per person, uniformly)")
    trousers_palette: list[BGR] = Field(min_length=1, description="BGR colours of trousers and skirts")
    skin_palette: list[BGR] | None = Field(None, min_length=1, description="BGR skin tones (None: the shared palette)")
    hair_palette: list[BGR] | None = Field(None, min_length=1, description="BGR hair colours (None: the shared palette)")


def _default_groups() -> list[AppearanceGroupSpec]:
    return [AppearanceGroupSpec(name=n, weight=w, shirt_palette=list(s), trousers_palette=list(t))
            for n, w, s, t in _DEFAULT_GROUPS]


class AppearanceSpec(_Strict):
    """The distribution of looks in the crowd (:func:`sim.appearance.sample_appearance` draws from it).

    A person's group is drawn with probability weight / sum of weights; its index in
    ``groups`` is the person's ``appearance_group`` in the crowd state and the annotations.
    """

    groups: list[AppearanceGroupSpec] = Field(default_factory=_default_groups, min_length=1, max_length=1000)
    skin_palette: list[BGR] = Field(default_factory=lambda: list(_DEFAULT_SKIN), min_length=1,
                                    description="BGR skin tones shared by the groups that do not set their own")
    hair_palette: list[BGR] = Field(default_factory=lambda: list(_DEFAULT_HAIR), min_length=1,
                                    description="BGR hair colours shared by the groups that do not set their own")
    jitter: int = Field(12, ge=0, le=64, description="[grey levels] uniform per-channel jitter added to every drawn colour")

    @field_validator("groups")
    @classmethod
    def _unique_names(cls, v):
        names = [g.name for g in v]
        if len(set(names)) != len(names):
            raise ValueError(f"appearance group names must be unique; got {names}")
        return v

    def group_names(self) -> list[str]:
        """Names of the groups, indexed by ``appearance_group``."""
        return [g.name for g in self.groups]


class CrowdSpec(_Strict):
    """Who arrives: speeds and bodies, walking groups, children, wheelchair users, luggage, looks.

    All of it is drawn from the scenario's seed. Shares are per person: ``child_share`` of
    the people are children (each walks in a group behind an adult, so it cannot exceed the
    share of people who walk behind a group's first member), ``wheelchair_share`` of them
    use a wheelchair, ``luggage_share`` of them carry a suitcase, bag or backpack.
    """

    speed_mean_mps: float = Field(1.34, gt=0, description="[m/s] mean desired speed (v0), Weidmann 1993")
    speed_std_mps: float = Field(0.26, ge=0, description="[m/s] spread of desired speeds")
    radius_m: tuple[float, float] = Field((0.2, 0.26), description="[m] body radius range (uniform)")
    height_mean_m: float = Field(1.70, gt=0.5, lt=2.5, description="[m] mean body height")
    height_std_m: float = Field(0.09, ge=0, description="[m] spread of body heights")
    initial_count: int = Field(0, ge=0, description="agents already walking at t = 0")
    wait_fraction: float = Field(0.3, ge=0, le=1, description="share of arrivals that stop and wait a while")
    wait_s: tuple[float, float] = Field((5.0, 30.0), description="[s] range of waiting times")
    max_agents: int = Field(3000, gt=0, description="arrivals beyond this many agents present are dropped")
    appearance: AppearanceSpec = Field(default_factory=AppearanceSpec, description="clothing groups, palettes and their shares")
    group_sizes: dict[int, float] = Field(default_factory=lambda: {1: 1.0}, description="relative weights of the sizes "
                                          "of the parties that arrive together (1: alone); members walk together, "
                                          "share their exit and waiting spot; entrance rates and train counts stay "
                                          "in persons")
    child_share: float = Field(0.0, ge=0, le=1, description="share of the people who are children (body 1.1 to 1.4 m, "
                                                             "walking in a group behind an adult)")
    wheelchair_share: float = Field(0.0, ge=0, le=1, description="share of the people in a wheelchair (0.4 m radius, "
                                                                  "about 0.9 m/s, 1.3 m seated)")
    luggage_share: float = Field(0.0, ge=0, le=1, description="share of the people carrying luggage (suitcase carriers "
                                                               "walk 10 % slower)")
    luggage_kinds: dict[Literal["suitcase", "bag", "backpack"], float] = Field(
        default_factory=lambda: {"suitcase": 0.4, "bag": 0.3, "backpack": 0.3},
        description="relative weights of the kinds of luggage carried")
    train_share: float = Field(0.0, ge=0, le=1, description="share of the parties arriving by an entrance that come to "
                                                             "take a train: they wait near a boarding exit "
                                                             "(station.trains[].board) and board the next train")

    @model_validator(mode="after")
    def _composition(self) -> "CrowdSpec":
        for key, lo_hi in (("radius_m", self.radius_m), ("wait_s", self.wait_s)):
            if not 0 <= lo_hi[0] <= lo_hi[1]:
                raise _LocError(("crowd", key), f"must be [low, high] with 0 <= low <= high; got {list(lo_hi)}")
        sizes = self.group_sizes
        if not sizes or any(not 1 <= k <= 10 for k in sizes):
            raise _LocError(("crowd", "group_sizes"), f": keys must be party sizes within [1, 10]; got {sorted(sizes)}")
        if any(not (w >= 0 and math.isfinite(w)) for w in sizes.values()) or sum(sizes.values()) <= 0:
            raise _LocError(("crowd", "group_sizes"), f": weights must be >= 0 with a positive sum; got {dict(sizes)}")
        mean = sum(k * w for k, w in sizes.items()) / sum(sizes.values())
        behind = (mean - 1.0) / mean  # share of the people who walk behind their group's first member
        if self.child_share > behind + 1e-9:
            raise _LocError(("crowd", "child_share"), f"must be <= {behind:.4g}, the share of the people who walk in a "
                            f"group behind an adult ((mean size - 1) / mean size with group_sizes={dict(sizes)}); "
                            f"got {self.child_share:g}")
        if self.child_share + self.wheelchair_share > 1 + 1e-9:
            raise _LocError(("crowd", "wheelchair_share"), f": child_share + wheelchair_share must be <= 1; got "
                            f"{self.child_share:g} + {self.wheelchair_share:g}")
        kinds = self.luggage_kinds
        if any(not (w >= 0 and math.isfinite(w)) for w in kinds.values()) or sum(kinds.values()) <= 0:
            raise _LocError(("crowd", "luggage_kinds"), f": weights must be >= 0 with a positive sum; got {dict(kinds)}")
        return self

    def mean_group_size(self) -> float:
        """Mean number of people in an arriving party."""
        return sum(k * w for k, w in self.group_sizes.items()) / sum(self.group_sizes.values())


class CameraSpec(_Strict):
    name: str
    position: Point3 = Field(description="[m] camera centre (x, y, z); z is the mounting height")
    look_at: Point3 = Field(description="[m] the point the optical axis passes through")
    hfov_deg: float = Field(70.0, gt=5, lt=170, description="[deg] horizontal field of view")
    resolution: tuple[int, int] = Field((640, 360), description="[px] width, height")
    fps: float = Field(10.0, gt=0, le=60, description="[frames/s]")

    @model_validator(mode="after")
    def _looks_down(self) -> "CameraSpec":
        d = np.subtract(self.look_at, self.position)
        n = float(np.linalg.norm(d))
        if n < 1e-6:
            raise ValueError("look_at must differ from position")
        if self.position[2] <= 0:
            raise ValueError(f"position z (mounting height) must be > 0 m; got {self.position[2]}")
        # the optical axis must point below the horizon so that the floor fills part of the view
        if d[2] / n > -math.sin(math.radians(2.0)):
            raise ValueError(
                f"the camera looks at the sky or the horizon: look_at z={self.look_at[2]} must lie below "
                f"position z={self.position[2]} by at least 2 degrees of pitch"
            )
        w, h = self.resolution
        if not (16 <= w <= 8192 and 16 <= h <= 8192):
            raise ValueError(f"resolution must be within [16, 8192] px per side; got {self.resolution}")
        return self


class OccluderSpec(_Strict):
    """A flat vertical panel (a sign, a hanging information board) that hides whatever stands behind it.

    It is drawn only: pedestrians walk through it, so a panel that reaches the floor should
    stand on an obstacle of the station. Visible fractions in the annotations account for it.
    """

    center: Point3 = Field(description="[m] centre of the panel (x, y, z); z is the height of its centre above the floor")
    size: tuple[float, float] = Field(description="[m] width and height of the panel")
    yaw_deg: float = Field(0.0, description="[deg] direction the panel's face points, ccw from +x; its width runs along yaw_deg + 90")
    colour_bgr: BGR = Field((120, 62, 18), description="BGR colour of the panel's face")

    @model_validator(mode="after")
    def _fits(self) -> "OccluderSpec":
        w, h = self.size
        if not (w > 0 and h > 0):
            raise ValueError(f"size must be two positive lengths [m]; got {list(self.size)}")
        if self.center[2] - h / 2 < -1e-9:
            raise ValueError(f"the panel reaches below the floor: center z={self.center[2]:g} m must be >= size[1] / 2 = {h / 2:g} m")
        return self


class RenderSpec(_Strict):
    """How the camera sees the scene: lighting, optics, sensor and compression.

    Every effect has a severity whose default is off (or the plain daylight look), so that an
    evaluation can sweep one effect at a time: ``brightness``, ``lighting``,
    ``flicker_depth``, ``light_out_factor``, ``noise_std``, ``shot_noise_std``, ``blur_px``,
    ``motion_blur_px``, ``jpeg_quality`` or ``bitrate_kbps``, ``shake_px``, ``lens_k1`` /
    ``lens_k2`` and ``occluders``. :mod:`sim.effects` documents the models. With lens
    distortion the ground-truth boxes and head points are distorted as the pixels are, while
    the exported site configuration keeps the undistorted pinhole calibration (a detector
    may undistort with OpenCV's ``distCoeffs = (lens_k1, lens_k2, 0, 0)``).
    """

    brightness: float = Field(1.0, gt=0, le=2, description="global lighting gain (1 = daylight hall)")
    lighting: Literal["day", "evening", "night"] = Field(
        "day", description="lighting preset (sim.effects.LIGHTING_PRESETS): day is neutral; evening is warm, "
                           "0.6x as bright, less contrast, 2x sensor gain; night is cold, 0.35x, flat, 4x sensor gain")
    flicker_hz: float = Field(0.0, ge=0, le=1000, description="[Hz] frequency of a flickering light (sampled at the "
                                                               "frame times: above fps/2 it aliases, as on a real camera)")
    flicker_depth: float = Field(0.0, ge=0, le=1, description="share of the light lost at the flicker's dark phase (0 = steady)")
    light_out_at_s: float | None = Field(None, ge=0, description="[s] time at which a light goes out (None: never)")
    light_out_region: tuple[float, float, float, float] = Field(
        (0.0, 0.0, 1.0, 1.0), description="[fractions of the image width, height] x0, y0, x1, y1 of the part of the "
                                          "image that light lit (the whole image by default)")
    light_out_factor: float = Field(0.3, ge=0, le=1, description="brightness left in light_out_region once the light is out")
    noise_std: float = Field(2.0, ge=0, le=50, description="[grey levels] Gaussian sensor read noise (signal-independent)")
    shot_noise_std: float = Field(0.0, ge=0, le=50, description="[grey levels] photon shot noise at grey level 128 and "
                                                                 "unit sensor gain; its variance grows with level x gain")
    blur_px: float = Field(0.0, ge=0, le=10, description="[px] Gaussian blur sigma (focus)")
    motion_blur_px: float = Field(0.0, ge=0, le=50, description="[px] length of a straight motion-blur streak "
                                                                 "(image speed x exposure time)")
    motion_blur_deg: float = Field(0.0, ge=-360, le=360, description="[deg] direction of the streak in the image: "
                                                                     "0 horizontal, 90 vertical (fastest at multiples of 90)")
    jpeg_quality: int = Field(85, ge=0, le=100, description="JPEG round trip quality; 0 turns it off")
    bitrate_kbps: float | None = Field(None, gt=0, le=100_000, description="[kbit/s] bitrate of an MJPEG stream: the JPEG "
                                       "quality is chosen once per camera so that a frame of the empty station fits "
                                       "bitrate / fps; overrides jpeg_quality")
    shake_px: float = Field(0.0, ge=0, le=20, description="[px] camera shake amplitude")
    lens_k1: float = Field(0.0, ge=-1, le=1, description="radial lens distortion k1 (OpenCV's model, coordinates "
                                                         "normalised by the focal length; < 0 barrel, > 0 pincushion)")
    lens_k2: float = Field(0.0, ge=-1, le=1, description="radial lens distortion k2 (the r^4 term)")
    occluders: list[OccluderSpec] = Field(default_factory=list, description="signs and hanging panels in front of people")

    @model_validator(mode="after")
    def _consistent(self) -> "RenderSpec":
        x0, y0, x1, y1 = self.light_out_region
        if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
            raise ValueError(f"light_out_region must be x0, y0, x1, y1 with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1; "
                             f"got {list(self.light_out_region)}")
        if self.flicker_depth > 0 and self.flicker_hz == 0:
            raise ValueError(f"flicker_depth={self.flicker_depth:g} needs flicker_hz > 0; got flicker_hz=0")
        return self


# --- injected events -------------------------------------------------------------------
#
# Each event type of the decree has one class here, all in the discriminated union
# ``EventSpec`` (key ``type``); ``excessive_density`` also arises without staging, from
# trains and arrivals filling ``station.zones`` of kind density. Ground truth
# never comes from the spec itself: the recorder (:mod:`sim.truth`) applies each type's
# rule to what the simulation does, and names an instance after the event that caused it.


class _EventBase(_Strict):
    at_s: float = Field(description="[s] when the behaviour starts")
    id: str | None = None


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


class _CarryEvent(_WalkEvent):
    """A person carries a long object along ``path`` and may raise it (``prop_raise`` 0 -> 1)."""

    raise_at_s: float | None = Field(None, ge=0, description="[s] when the object is raised to the shoulder (None: never)")
    raise_s: float = Field(0.8, gt=0, le=10, description="[s] time the raise takes (prop_raise ramps 0 -> 1)")
    hold_s: float | None = Field(None, gt=0, description="[s] time held raised before lowering it (None: until the end)")


class IntrusionEvent(_EventBase):
    """Someone walks from ``start`` along ``path`` into a forbidden zone, stays, and walks back."""

    type: Literal["intrusion"]
    start: Point2 = Field(description="[m] where the person appears (on the walkable floor)")
    path: list[Point2] = Field(min_length=1, description="[m] waypoints walked in order")
    dwell_s: float = Field(3.0, ge=0, description="[s] time spent standing at waypoint dwell_index")
    dwell_index: int = Field(-1, description="which waypoint of path to stand at (negative counts from the end)")
    exit: str | None = Field(None, description="exit to leave by afterwards (nearest if not given)")


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


class FireEvent(_EventBase):
    """A fire starts at ``at``: flames that grow over ``grow_s``, smoke after ``smoke_delay_s``;
    people within ``flee_radius_m`` run away from it."""

    type: Literal["fire"]
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


EVENT_CLASSES = (IntrusionEvent, FallEvent, AbandonedObjectEvent, CrowdMovementEvent, WrongWayEvent, FireEvent,
                 WeaponEvent, ExcessiveDensityEvent)
EventSpec = Annotated[Union[EVENT_CLASSES], Field(discriminator="type")]


# --- distractors (hard negatives) ---------------------------------------------------------
#
# Behaviours and scene items that look like an event to a detector but are not one under
# the ground-truth rules. People-driven ones reuse the shapes above; static ones (posters,
# lights) are drawn by the renderer straight from ``scenario.distractors``.


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


class StaffInZoneDistractor(_EventBase):
    """A staff member in a high-visibility vest walks into a forbidden zone that allows staff
    (``allowed: [staff]``), stays and comes back, like :class:`IntrusionEvent`."""

    type: Literal["staff_in_zone"]
    start: Point2 = Field(description="[m] where the person appears (on the walkable floor)")
    path: list[Point2] = Field(min_length=1, description="[m] waypoints walked in order")
    dwell_s: float = Field(5.0, ge=0, description="[s] time spent standing at waypoint dwell_index")
    dwell_index: int = Field(-1, description="which waypoint of path to stand at (negative counts from the end)")
    exit: str | None = Field(None, description="exit to leave by afterwards (nearest if not given)")


class SafetyLineDistractor(_ActorEvent):
    """A person stands still at ``at``, on the painted safety line near the platform edge
    (on the platform, not in the forbidden zone), for ``duration_s``."""

    type: Literal["safety_line_standing"]
    duration_s: float = Field(10.0, gt=0, description="[s] time standing there")


class TurnBackDistractor(_EventBase):
    """At ``at_s`` the walking pedestrian nearest to ``at`` turns round and walks back for
    ``turn_s``, then goes on its way: shorter than ``truth.wrong_way_min_s``, not wrong way."""

    type: Literal["turn_back"]
    at: Point2 = Field(description="[m] the walker nearest to this point turns round")
    turn_s: float = Field(1.0, gt=0, le=60, description="[s] time spent walking back")


class CrossingDistractor(_WalkEvent):
    """A person walks ``path`` across a one_way zone, perpendicular to its direction."""

    type: Literal["crossing"]


class RunForTrainDistractor(_EventBase):
    """The ``count`` free pedestrians nearest to ``at`` run to ``exit`` (a departing train's
    doors, the stairs) at ``speed_mps``: too few for a crowd movement."""

    type: Literal["run_for_train"]
    at: Point2 = Field(description="[m] the runners are the pedestrians nearest to this point")
    count: int = Field(3, ge=1, le=100, description="number of runners")
    exit: str = Field(description="exit the runners run to")
    speed_mps: tuple[float, float] = Field((2.5, 3.5), description="[m/s] range of the runners' desired speeds (uniform)")


class CarrierDistractor(_CarryEvent):
    """A person carries an umbrella, a cane or a guitar case (and may raise or point it)."""

    type: Literal["carrier"]
    prop: Literal["umbrella", "cane", "guitar_case"] = Field(description="the object carried")


class _WallItem(_Strict):
    """A flat rectangle on a wall (or a ceiling), drawn by the renderer."""

    id: str | None = None
    center: Point3 = Field(description="[m] centre of the item (x, y, z); z is the height of its centre above the floor")
    size: tuple[float, float] = Field(description="[m] width and height of the item")
    yaw_deg: float = Field(0.0, description="[deg] direction the item's face points, ccw from +x; its width runs along yaw_deg + 90")

    @model_validator(mode="after")
    def _fits(self) -> "_WallItem":
        w, h = self.size
        if not (w > 0 and h > 0):
            raise ValueError(f"size must be two positive lengths [m]; got {list(self.size)}")
        if self.center[2] - h / 2 < -1e-9:
            raise ValueError(f"the item reaches below the floor: center z={self.center[2]:g} m must be >= size[1] / 2 = {h / 2:g} m")
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


class OrangeClothingDistractor(_Strict):
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


class TruthSpec(_Strict):
    """The ground-truth rules that have constants (:class:`sim.truth.TruthRules`)."""

    abandoned_distance_m: float = Field(3.0, gt=0, description="[m] an object is unattended while its owner is farther than this")
    abandoned_after_s: float = Field(10.0, ge=0, description="[s] unattended this long, an object is abandoned")
    wrong_way_angle_deg: float = Field(90.0, ge=0, lt=180, description="[deg] least deviation of the velocity from the allowed direction")
    wrong_way_min_speed_mps: float = Field(0.3, ge=0, description="[m/s] least speed of the velocity's component "
                                                                    "against the allowed direction")
    wrong_way_min_s: float = Field(1.5, ge=0, description="[s] shortest wrong-way walk that counts")
    wrong_way_merge_gap_s: float = Field(1.0, ge=0, description="[s] wrong-way runs of one person closer than this merge")
    crowd_speed_mps: float = Field(2.2, gt=0, description="[m/s] a person moving faster than this is running")
    crowd_radius_m: float = Field(6.0, gt=0, description="[m] runners within this distance of one runner or of "
                                                           "their centroid start a crowd movement")
    crowd_min_agents: int = Field(8, ge=2, description="least number of runners within crowd_radius_m for a crowd movement")
    crowd_min_s: float = Field(1.0, ge=0, description="[s] shortest crowd movement that counts")
    crowd_merge_gap_s: float = Field(1.0, ge=0, description="[s] crowd-movement runs closer than this merge")


# --- the scenario ----------------------------------------------------------------------


class Scenario(_Strict):
    name: str
    description: str = ""
    duration_s: float = Field(gt=0, le=24 * 3600, description="[s] simulated time")
    seed: int = Field(0, ge=0)
    dt_s: float = Field(0.05, gt=0, le=0.2, description="[s] simulation time step")
    station: StationSpec
    crowd: CrowdSpec = CrowdSpec()
    cameras: list[CameraSpec] = Field(min_length=1)
    render: RenderSpec = RenderSpec()
    events: list[EventSpec] = Field(default_factory=list)
    distractors: list[DistractorSpec] = Field(default_factory=list, description="hard negatives: look-alikes of events")
    truth: TruthSpec = Field(default_factory=TruthSpec, description="constants of the ground-truth rules")

    @model_validator(mode="after")
    def _cross_checks(self) -> "Scenario":
        _station_checks(self)
        entrances = {p.name for p in self.station.entrances}
        exits = {p.name for p in self.station.exits}
        for i, tr in enumerate(self.station.trains):
            if tr.entrance not in entrances:
                raise _LocError(("station", "trains", i, "entrance"), f"must name an entrance ({', '.join(sorted(entrances)) or 'none defined'}); got {tr.entrance!r}")
            if tr.board is not None and tr.board not in exits:
                raise _LocError(("station", "trains", i, "board"), f"must name an exit ({', '.join(sorted(exits))}); got {tr.board!r}")
            if tr.exit is not None and tr.exit not in exits:
                raise _LocError(("station", "trains", i, "exit"), f"must name an exit ({', '.join(sorted(exits))}); got {tr.exit!r}")
            if tr.at_s > self.duration_s:
                raise _LocError(("station", "trains", i, "at_s"), f"must be within [0, duration_s={self.duration_s:g}]; got {tr.at_s:g}")
        self._check_events_and_distractors()
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise _LocError(("cameras",), f"camera names must be unique; got {names}")
        if (self.station.entrances or self.station.trains or self.crowd.initial_count) and not self.station.exits:
            raise _LocError(("station", "exits"), "people arrive but there is no exit; add at least one")
        return self

    def _check_events_and_distractors(self) -> None:
        """Places on the floor, exits that exist, times within the run, consistent ranges."""
        from sim.geometry import points_in_polygon

        walkable = np.asarray(self.station.walkable, dtype=np.float64)
        obstacles = [np.asarray(o, dtype=np.float64) for o in self.station.obstacles]
        exits = {p.name for p in self.station.exits}
        one_way = [z for z in self.station.zones if z.kind == "one_way"]

        def on_floor(key: tuple, point, what: str = "point") -> None:
            p = np.asarray(point, dtype=np.float64)[None]
            shown = f"({point[0]:g}, {point[1]:g})"
            if not points_in_polygon(p, walkable)[0]:
                raise _LocError(key, f": {what} {shown} is outside station.walkable")
            for k, obs in enumerate(obstacles):
                if points_in_polygon(p, obs)[0]:
                    raise _LocError(key, f": point {shown} is inside station.obstacles[{k}]")

        def check_exit(key: tuple, name) -> None:
            if name is not None and name not in exits:
                raise _LocError(key, f"must name an exit ({', '.join(sorted(exits)) or 'none defined'}); got {name!r}")

        def check_range(key: tuple, lo_hi, unit: str) -> None:
            lo, hi = lo_hi
            if not 0 < lo <= hi:
                raise _LocError(key, f"must be [low, high] with 0 < low <= high {unit}; got {list(lo_hi)}")

        for section, items in (("events", self.events), ("distractors", self.distractors)):
            for i, ev in enumerate(items):
                at_s = getattr(ev, "at_s", None)
                if at_s is not None and not 0 <= at_s <= self.duration_s:
                    raise _LocError((section, i, "at_s"), f"must be within [0, duration_s={self.duration_s:g}]; got {at_s:g}")
                for key in ("at", "start", "head"):
                    point = getattr(ev, key, None)
                    if point is not None and not isinstance(ev, (IntrusionEvent, StaffInZoneDistractor)):
                        on_floor((section, i, key), point)
                if isinstance(ev, _WalkEvent):
                    for k, point in enumerate(ev.path):
                        on_floor((section, i, "path", k), point)
                if isinstance(ev, (IntrusionEvent, StaffInZoneDistractor)):
                    if not -len(ev.path) <= ev.dwell_index < len(ev.path):
                        raise _LocError((section, i, "dwell_index"), f"must index path (length {len(ev.path)}); got {ev.dwell_index}")
                check_exit((section, i, "exit"), getattr(ev, "exit", None))
                if isinstance(ev, _CarryEvent) and ev.raise_at_s is not None and ev.raise_at_s < ev.at_s:
                    raise _LocError((section, i, "raise_at_s"), f"must be >= at_s={ev.at_s:g}; got {ev.raise_at_s:g}")
                if isinstance(ev, (CrowdMovementEvent, RunForTrainDistractor)):
                    check_range((section, i, "speed_mps"), ev.speed_mps, "m/s")
                if isinstance(ev, FireEvent):
                    check_range((section, i, "flame_radius_m"), ev.flame_radius_m, "m")
                if isinstance(ev, ExcessiveDensityEvent):
                    density = sorted(z.name for z in self.station.zones if z.kind == "density")
                    if ev.zone not in density:
                        raise _LocError((section, i, "zone"), f"must name a density zone ({', '.join(density) or 'none defined'}); got {ev.zone!r}")
                if isinstance(ev, (WrongWayEvent, TurnBackDistractor, CrossingDistractor)) and not one_way:
                    raise _LocError((section, i, "type"), f"{ev.type} needs a one_way zone in station.zones; got none")
                if isinstance(ev, QueueDistractor):
                    a = math.radians(ev.direction_deg)
                    along = np.array([math.cos(a), math.sin(a)])
                    side = np.array([-along[1], along[0]])
                    per_file = -(-ev.count // ev.files)
                    for f in range(ev.files):
                        tail = np.asarray(ev.head) + (per_file - 1) * ev.spacing_m * along + f * ev.file_spacing_m * side
                        on_floor((section, i, "count"), (float(tail[0]), float(tail[1])), f"the tail of line {f}")

    # convenience ----------------------------------------------------------------------
    def camera(self, name: str) -> CameraSpec:
        for c in self.cameras:
            if c.name == name:
                return c
        raise KeyError(f"scenario {self.name!r} has no camera {name!r}; cameras: {[c.name for c in self.cameras]}")

    def event_type(self, ev) -> EventType:
        return EventType(ev.type)

    def content_hash(self) -> str:
        """SHA-256 of the resolved scenario (after ``extend``), stable across key order."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def with_overrides(self, **changes: Any) -> "Scenario":
        """A copy with top-level or dotted keys replaced, validated again."""
        data = self.model_dump(mode="json")
        for dotted, value in changes.items():
            _set_dotted(data, dotted.replace("__", "."), value)
        return build_scenario(data, where=self.name)


class _LocError(ValueError):
    def __init__(self, loc: tuple, msg: str) -> None:
        super().__init__(msg)
        self.loc = loc
        self.msg = msg


# --- loading ---------------------------------------------------------------------------


def library_dir() -> Path:
    """The folder holding the scenario library (``scenarios/`` in the repository)."""
    # The repository keeps scenarios/ beside sim/; an installed wheel puts the data package
    # scenarios/ beside sim/ in site-packages, so the same relative path serves both.
    return Path(__file__).resolve().parent.parent / "scenarios"


def list_scenarios() -> list[tuple[str, str]]:
    """``(name, one-line description)`` of every scenario in the library, sorted by name."""
    out = []
    for path in sorted(library_dir().glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        sc = load_scenario(path)
        out.append((sc.name, sc.description.strip().splitlines()[0] if sc.description.strip() else ""))
    return out


def _resolve_path(ref: str | os.PathLike, base_dir: Path | None = None) -> Path:
    p = Path(ref)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_absolute() and base_dir is not None and (base_dir / p).exists():
            return base_dir / p
        if p.exists():
            return p
        lib = library_dir() / p.name
        if lib.exists():
            return lib
        raise ScenarioError(f"scenario file {os.fspath(ref)!r} does not exist")
    if base_dir is not None and (base_dir / f"{ref}.yaml").exists():
        return base_dir / f"{ref}.yaml"
    lib = library_dir() / f"{ref}.yaml"
    if lib.exists():
        return lib
    names = ", ".join(n for n, _ in list_scenarios())
    raise ScenarioError(f"no scenario named {os.fspath(ref)!r} in the library ({names})")


def _read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario must be a mapping at the top level; got {type(data).__name__}")
    return data


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


def _raw_with_extends(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    if path.resolve() in chain:
        cycle = " -> ".join(p.stem for p in (*chain, path.resolve()))
        raise ScenarioError(f"scenario extends itself in a cycle: {cycle}")
    data = _read_yaml(path)
    parent_ref = data.pop("extend", None)
    if parent_ref is None:
        return data
    if not isinstance(parent_ref, str):
        raise ScenarioError(f"{path}: extend must be a scenario name or file; got {parent_ref!r}")
    parent = _raw_with_extends(_resolve_path(parent_ref, path.parent), (*chain, path.resolve()))
    parent.pop("description", None) if "description" in data else None
    return _merge(parent, data)


def load_scenario(ref: str | os.PathLike, overrides: dict | None = None) -> Scenario:
    """Load a scenario by library name or file path, resolve ``extend``, apply overrides, validate.

    ``overrides`` maps dotted keys to values: ``{"seed": 3, "render.noise_std": 6}``.
    """
    path = _resolve_path(ref)
    data = _raw_with_extends(path)
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    return build_scenario(data, where=data.get("name") or path.stem)


def build_scenario(data: dict, *, where: str = "?") -> Scenario:
    """Validate a mapping as a scenario; raise :class:`ScenarioError` naming the bad key."""
    data = _with_layout_expanded(data, where)
    data = _with_timetable_expanded(data, where)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_validation_error(exc, data, where)) from None


def _validate_section(raw, model, key: str, where: str):
    """Validate ``station.KEY`` (expanded before the scenario itself); errors name its path."""
    from pydantic import TypeAdapter

    try:
        return TypeAdapter(model).validate_python(raw)
    except ValidationError as exc:
        msg = _format_validation_error(exc, {"station": {key: raw}}, where)
        raise ScenarioError(msg.replace(f"scenario {where!r}: ", f"scenario {where!r}: station.{key}", 1)) from None


def _with_layout_expanded(data: dict, where: str) -> dict:
    """Replace ``station.layout`` by the walkable floor, obstacles, zones and portals it stands for."""
    station = data.get("station") if isinstance(data, dict) else None
    if not isinstance(station, dict) or "layout" not in station:
        return data
    from sim.layout import LayoutPiece, expand_layout

    pieces = _validate_section(station["layout"], list[LayoutPiece], "layout", where)
    try:
        derived = expand_layout(pieces)
    except ValueError as exc:
        raise ScenarioError(f"scenario {where!r}: station.layout: {exc}") from None
    station = {k: v for k, v in station.items() if k != "layout"}
    if derived["walkable"] is not None:
        if "walkable" in station:
            raise ScenarioError(f"scenario {where!r}: station: give walkable or floor pieces in layout, not both")
        station["walkable"] = derived["walkable"]
    for key in ("obstacles", "track_beds", "platform_edges", "zones", "entrances", "exits"):
        if derived[key]:
            station[key] = list(derived[key]) + list(station.get(key) or [])
    return {**data, "station": station}


def _with_timetable_expanded(data: dict, where: str) -> dict:
    """Replace ``station.timetable`` by the train arrivals it stands for."""
    station = data.get("station") if isinstance(data, dict) else None
    if not isinstance(station, dict) or "timetable" not in station:
        return data
    tables = _validate_section(station["timetable"], list[TimetableSpec], "timetable", where)
    duration = data.get("duration_s")
    trains = list(station.get("trains") or [])
    for i, tt in enumerate(tables):
        until = tt.until_s if tt.until_s is not None else duration
        if isinstance(duration, (int, float)):
            if tt.first_at_s > duration:
                raise ScenarioError(f"scenario {where!r}: station.timetable[{i}].first_at_s must be within "
                                    f"[0, duration_s={duration:g}]; got {tt.first_at_s:g}")
            if tt.until_s is not None and tt.until_s > duration:
                raise ScenarioError(f"scenario {where!r}: station.timetable[{i}].until_s: the timetable runs to "
                                    f"{tt.until_s:g} s, longer than the scenario (duration_s={duration:g}); "
                                    f"shorten it or lengthen the scenario")
        k = 0
        while until is not None and tt.first_at_s + k * tt.headway_s <= until:
            trains.append({"at_s": round(tt.first_at_s + k * tt.headway_s, 6), "entrance": tt.entrance,
                           "count": tt.count, "release_s": tt.release_s, "exit": tt.exit, "board": tt.board,
                           "dwell_s": tt.dwell_s})
            k += 1
    station = {k: v for k, v in station.items() if k != "timetable"}
    station["trains"] = sorted(trains, key=lambda tr: tr["at_s"] if isinstance(tr, dict) else 0)
    return {**data, "station": station}


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    cur: Any = data
    for k in keys[:-1]:
        if isinstance(cur, list):
            cur = cur[int(k)]
        else:
            cur = cur.setdefault(k, {})
    last = keys[-1]
    if isinstance(cur, list):
        cur[int(last)] = value
    else:
        cur[last] = value


def _loc_str(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _lookup(data: Any, loc: tuple) -> Any:
    cur = data
    for part in loc:
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return None
    return cur


_UNION_TAGS = frozenset(EVENT_TYPE_NAMES + DISTRACTOR_TYPE_NAMES + ("platform", "concourse", "corridor", "gates", "stairs", "escalator"))


def _format_validation_error(exc: ValidationError, data: dict, where: str) -> str:
    lines = []
    for err in exc.errors(include_url=False):
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, _LocError):
            sep = "" if ctx_err.msg.startswith(":") else " "
            lines.append(f"{_loc_str(ctx_err.loc)}{sep}{ctx_err.msg}")
            continue
        # drop the discriminator tag pydantic inserts into union paths (events.0.intrusion.x)
        raw_loc = err["loc"]
        loc = tuple(p for k, p in enumerate(raw_loc)
                    if not (isinstance(p, str) and p in _UNION_TAGS and k > 0 and isinstance(raw_loc[k - 1], int)))
        key = _loc_str(loc)
        etype = err["type"]
        if etype == "extra_forbidden":
            lines.append(f"{key}: unknown key (check the spelling; allowed keys are in the README's scenario format)")
            continue
        if etype == "missing":
            lines.append(f"{key}: missing required key")
            continue
        received = err.get("input", _lookup(data, loc))
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if etype in ("union_tag_invalid", "union_tag_not_found"):
            if loc and loc[0] == "distractors":
                msg = f"must be one of {', '.join(sorted(DISTRACTOR_TYPE_NAMES))}"
            else:
                msg = f"must be one of {', '.join(sorted(EVENT_TYPE_NAMES))}"
            key = f"{key}.type"
            received = (err.get("ctx") or {}).get("tag")
            if received is None:
                lines.append(f"{key}: missing required key; {msg}")
                continue
        if isinstance(received, (dict, list)) and etype == "value_error":
            lines.append(f"{key}: {msg}")  # a whole-object check whose message names the values
        else:
            lines.append(f"{key}: {msg}; got {received!r}" if key else f"{msg}")
    head = f"scenario {where!r}: "
    return head + ("\n  ".join(lines) if len(lines) == 1 else "\n  " + "\n  ".join(lines))


# --- geometry checks used by the schema ----------------------------------------------------


def _segments_intersect(p1, p2, q1, q2) -> bool:
    def orient(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = orient(q1, q2, p1), orient(q1, q2, p2)
    d3, d4 = orient(p1, p2, q1), orient(p1, p2, q2)
    return (d1 * d2 < 0) and (d3 * d4 < 0)


def _check_simple_polygon(poly) -> None:
    """Raise when a polygon crosses itself or has zero area."""
    pts = [tuple(map(float, p)) for p in poly]
    n = len(pts)
    for i in range(n):
        a, b = pts[i], pts[(i + 1) % n]
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # adjacent through the closing edge
            c, d = pts[j], pts[(j + 1) % n]
            if _segments_intersect(a, b, c, d):
                raise ValueError(
                    f"polygon is self-intersecting: edge {i} {a}->{b} crosses edge {j} {c}->{d}"
                )
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    area = abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2
    if area < 1e-6:
        raise ValueError("polygon has zero area")


# --- whole-station checks (run before any simulation starts) -------------------------------

#: zone kinds that cannot share floor: a forbidden area is no corridor and has no capacity
_INCOMPATIBLE_KINDS = {frozenset({"forbidden", "one_way"}), frozenset({"forbidden", "density"})}


def _strictly_inside(points: np.ndarray, poly: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Points inside ``poly`` and farther than ``eps`` from its boundary."""
    x, y = points[:, 0:1], points[:, 1:2]
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    inside = np.count_nonzero(crosses & (x < x_at), axis=1) % 2 == 1
    # distance to the boundary
    a = np.stack([x0, y0], 1)
    d = np.stack([x1 - x0, y1 - y0], 1)
    rel = points[:, None, :] - a[None]
    tt = np.clip(np.einsum("nkj,kj->nk", rel, d) / np.maximum((d ** 2).sum(1), 1e-12), 0, 1)
    dist = np.linalg.norm(rel - tt[..., None] * d[None], axis=2).min(axis=1)
    return inside & (dist > eps)


def polygons_overlap(p: np.ndarray, q: np.ndarray) -> bool:
    """True when two simple polygons share floor of positive area (touching edges do not count)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    for i in range(len(p)):
        for j in range(len(q)):
            if _segments_intersect(p[i], p[(i + 1) % len(p)], q[j], q[(j + 1) % len(q)]):
                return True
    # containment, or shared outline with one inside the other: test vertices and edge midpoints
    probes_p = np.vstack([p, (p + np.roll(p, -1, axis=0)) / 2, p.mean(axis=0, keepdims=True)])
    probes_q = np.vstack([q, (q + np.roll(q, -1, axis=0)) / 2, q.mean(axis=0, keepdims=True)])
    return bool(_strictly_inside(probes_p, q).any() or _strictly_inside(probes_q, p).any())


def camera_sees_station(cam: CameraSpec, walkable: list, spacing_m: float = 0.5) -> float:
    """Share of the image rows and columns over which the walkable floor shows (0 = sees none of it)."""
    from sim.render.camera import PinholeCamera

    poly = np.asarray(walkable, float)
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    xs = np.arange(lo[0], hi[0] + spacing_m, spacing_m)
    ys = np.arange(lo[1], hi[1] + spacing_m, spacing_m)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    grid = grid[_strictly_inside(grid, poly, eps=0.0)] if len(grid) else grid
    if len(grid) == 0:
        return 0.0
    pc = PinholeCamera.from_spec(cam)
    uv, depth = pc.project(np.c_[grid, np.zeros(len(grid))])
    w, h = cam.resolution
    ok = (depth > 0) & np.isfinite(uv).all(axis=1)
    ok &= (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    return float(ok.mean())


def _station_checks(sc: "Scenario") -> None:
    zones = sc.station.zones
    for i in range(len(zones)):
        for j in range(i + 1, len(zones)):
            a, b = zones[i], zones[j]
            if frozenset({a.kind, b.kind}) in _INCOMPATIBLE_KINDS and polygons_overlap(a.polygon, b.polygon):
                raise _LocError(("station", "zones", j), f"zone {b.name!r} ({b.kind}) overlaps zone {a.name!r} "
                                f"({a.kind}) at zones[{i}]; a {a.kind} and a {b.kind} zone cannot share floor")
            if a.kind == b.kind == "one_way" and polygons_overlap(a.polygon, b.polygon):
                diff = abs((a.direction_deg - b.direction_deg + 180) % 360 - 180)
                if diff > 90:
                    raise _LocError(("station", "zones", j), f"one_way zone {b.name!r} overlaps one_way zone {a.name!r} "
                                    f"with a direction {diff:g} degrees apart ({b.direction_deg:g} vs {a.direction_deg:g})")
    for k, cam in enumerate(sc.cameras):
        if camera_sees_station(cam, sc.station.walkable) == 0.0:
            raise _LocError(("cameras", k), f"camera {cam.name!r} sees none of the station: no point of "
                            f"station.walkable projects into its {cam.resolution[0]}x{cam.resolution[1]} image "
                            f"(position {list(cam.position)}, look_at {list(cam.look_at)})")
