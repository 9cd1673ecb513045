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



def check_upright_rectangle(center, size, what: str) -> None:
    """Raise ``ValueError`` unless a vertical rectangle (a panel, a poster) of ``size`` [m]
    (width, height) centred at ``center`` [m] has a positive size and stays above the floor."""
    w, h = size
    if not (w > 0 and h > 0):
        raise ValueError(f"size must be two positive lengths [m]; got {list(size)}")
    if center[2] - h / 2 < -1e-9:
        raise ValueError(f"{what} reaches below the floor: center z={center[2]:g} m must be >= size[1] / 2 = {h / 2:g} m")
