"""The root of a scenario file: :class:`Scenario`, and the constants of the ground-truth rules."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import Field, ValidationError, model_validator

from detectors.events import EventType
from sim.errors import ScenarioError
from sim.scenario.cameras import CameraSpec, RenderSpec
from sim.scenario.checks import check_scenario
from sim.scenario.crowd import CrowdSpec
from sim.scenario.events import DistractorSpec, EventSpec
from sim.scenario.fields import Strict
from sim.scenario.keys import format_validation_error, set_dotted
from sim.scenario.station import StationSpec


class TruthSpec(Strict):
    """The ground-truth rules that have constants (:class:`sim.events.truth.TruthRules`)."""

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


class Scenario(Strict):
    """A validated scenario file (after ``extend``, layout and timetable expansion); build one
    with :func:`sim.scenario.load_scenario` or :func:`sim.scenario.build_scenario`."""

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
        check_scenario(self)
        return self

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
            set_dotted(data, dotted.replace("__", "."), value)
        return validate_scenario(data, self.name)


def validate_scenario(data: dict, where: str) -> Scenario:
    """``data`` (layout and timetable already expanded) as a :class:`Scenario`; raise
    :class:`~sim.errors.ScenarioError` naming every bad key."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_validation_error(exc, data, where)) from None
