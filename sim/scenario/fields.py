"""What every part of a scenario file shares: field types and the strict base model."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Point2 = tuple[float, float]
Point3 = tuple[float, float, float]
Polygon = Annotated[list[Point2], Field(min_length=3, description="[m] vertices on the ground plane")]
#: a BGR colour, one byte per channel
BGR = tuple[Annotated[int, Field(ge=0, le=255)], Annotated[int, Field(ge=0, le=255)], Annotated[int, Field(ge=0, le=255)]]


class Strict(BaseModel):
    """A frozen model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

