"""The ``station:`` block: the floor, its zones, the doorways and the trains (:mod:`sim.scenario.trains`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.geometry import check_simple_polygon
from sim.scenario.fields import Point2, Polygon, Strict
from sim.scenario.trains import TrainSpec

class ZoneSpec(Strict):
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
        check_simple_polygon(self.polygon)
        return self


class PortalSpec(Strict):
    """An entrance or exit: a segment of the boundary where agents appear or leave."""

    name: str
    segment: tuple[Point2, Point2] = Field(description="[m] the two ends of the doorway")
    rate_per_min: float = Field(0.0, ge=0, description="[persons/min] Poisson arrival rate (entrances)")


class StationSpec(Strict):
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
        check_simple_polygon(v)
        return v

    @field_validator("obstacles")
    @classmethod
    def _obstacles_simple(cls, v):
        for poly in v:
            check_simple_polygon(poly)
        return v
