"""Scenario files: the YAML contract that describes one simulated station run.

A scenario is validated on load. Unknown keys are rejected with the key's path, every
error names the field, what was expected and what came::

    scenario 'platform_fall': events[2].at_s must be within [0, duration_s=120]; got 150

The package, one module per job:

* :mod:`~sim.scenario.loader`: the library, ``extend`` chains, dotted overrides, the
  expansion of ``station.layout`` (:mod:`~sim.scenario.layout`) and ``station.timetable``;
* the specs, one module per block of the file: :mod:`~sim.scenario.station` (with
  :mod:`~sim.scenario.trains`: arrivals, the vehicle and where it stops),
  :mod:`~sim.scenario.crowd`, :mod:`~sim.scenario.cameras` (cameras and render settings),
  :mod:`~sim.scenario.events` (events and distractors), and the root
  :class:`~sim.scenario.scenario.Scenario` (with the ground-truth constants);
* :mod:`~sim.scenario.checks`: the checks of the parts against each other, each event
  and distractor checking itself; :mod:`~sim.scenario.keys`: key paths and the messages
  that name them.

Everything a user needs is importable from here::

    from sim.scenario import load_scenario, list_scenarios, Scenario, ScenarioError
"""

from sim.errors import ScenarioError
from sim.scenario.cameras import CameraSpec, OccluderSpec, RenderSpec
from sim.scenario.checks import camera_sees_station
from sim.scenario.crowd import AppearanceGroupSpec, AppearanceSpec, CrowdSpec
from sim.scenario.events import (
    DISTRACTOR_CLASSES,
    DISTRACTOR_TYPE_NAMES,
    EVENT_CLASSES,
    EVENT_TYPE_NAMES,
    AbandonedObjectEvent,
    BagWithOwnerDistractor,
    CarrierDistractor,
    CrossingDistractor,
    CrouchingDistractor,
    CrowdMovementEvent,
    DistractorSpec,
    EventSpec,
    ExcessiveDensityEvent,
    FallEvent,
    FireEvent,
    FlickeringLightDistractor,
    IntrusionEvent,
    OrangeClothingDistractor,
    PosterDistractor,
    QueueDistractor,
    RunForTrainDistractor,
    SafetyLineDistractor,
    SittingDistractor,
    StaffInZoneDistractor,
    TurnBackDistractor,
    WeaponEvent,
    WrongWayEvent,
)
from sim.scenario.loader import build_scenario, library_dir, list_scenarios, load_scenario
from sim.scenario.scenario import Scenario, TruthSpec
from sim.scenario.station import PortalSpec, StationSpec, ZoneSpec
from sim.scenario.trains import LiverySpec, TimetableSpec, TrainSpec, VehicleSpec

__all__ = [
    "ScenarioError", "Scenario", "load_scenario", "build_scenario", "list_scenarios", "library_dir",
    "camera_sees_station", "StationSpec", "ZoneSpec", "PortalSpec", "TrainSpec", "TimetableSpec", "VehicleSpec",
    "LiverySpec", "CrowdSpec",
    "AppearanceSpec", "AppearanceGroupSpec", "CameraSpec", "OccluderSpec", "RenderSpec", "TruthSpec", "EventSpec",
    "DistractorSpec", "EVENT_CLASSES", "DISTRACTOR_CLASSES", "EVENT_TYPE_NAMES", "DISTRACTOR_TYPE_NAMES",
    "IntrusionEvent", "FallEvent", "AbandonedObjectEvent", "CrowdMovementEvent", "WrongWayEvent", "FireEvent",
    "WeaponEvent", "ExcessiveDensityEvent", "SittingDistractor", "CrouchingDistractor", "BagWithOwnerDistractor",
    "QueueDistractor", "StaffInZoneDistractor", "SafetyLineDistractor", "TurnBackDistractor", "CrossingDistractor",
    "RunForTrainDistractor", "CarrierDistractor", "PosterDistractor", "FlickeringLightDistractor",
    "OrangeClothingDistractor",
]
