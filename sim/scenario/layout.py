"""Station layout pieces that compose: platforms, concourses, corridors, gate lines, stairs.

A scenario may describe its floor piece by piece instead of (or besides) drawing the
walkable polygon by hand::

    station:
      layout:
        - {piece: platform, name: p1, origin: [0, 0], length_m: 40, width_m: 6, tracks: south}
        - {piece: corridor, name: link, from: [18, 6], to: [18, 12], width_m: 4, one_way_deg: 90}
        - {piece: concourse, name: hall, origin: [0, 12], size_m: [40, 16]}
        - {piece: gates, name: barrier, center: [30, 20], axis: y, span_m: 16, gates: 5}
        - {piece: stairs, name: street, segment: [[0, 18], [0, 22]], role: both, rate_per_min: 20}

The floors (platforms, corridors, concourses) must be axis-aligned rectangles; their union
becomes ``station.walkable`` (its exact outline; blocks enclosed by floor become
obstacles), platforms add their track bed,
edge and a forbidden ``NAME_tracks`` zone, corridors with ``one_way_deg`` a one-way zone,
gate lines their housings as obstacles, stairs and escalators their portals (escalators
also a one-way zone in front of them). Anything given explicitly in ``station`` is kept
and added to.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from sim.geometry import polygon_signed_area
from sim.scenario.fields import Point2, Strict


class _Piece(Strict):
    name: str


class PlatformPiece(_Piece):
    """A platform along x with the track bed on one side."""

    piece: Literal["platform"]
    origin: Point2 = Field(description="[m] corner of the platform with the smallest x and y")
    length_m: float = Field(gt=2, description="[m] along x")
    width_m: float = Field(gt=1, description="[m] along y")
    tracks: Literal["south", "north"] = Field("south", description="side of the track bed (-y or +y)")
    track_width_m: float = Field(4.5, gt=0, description="[m] width of the track bed")


class ConcoursePiece(_Piece):
    piece: Literal["concourse"]
    origin: Point2 = Field(description="[m] corner with the smallest x and y")
    size_m: Point2 = Field(description="[m] extent along x and y")

    @model_validator(mode="after")
    def _positive(self):
        if min(self.size_m) <= 0:
            raise ValueError(f"size_m must be two positive lengths; got {list(self.size_m)}")
        return self


class CorridorPiece(_Piece):
    """A straight corridor between two points on its axis (axis-aligned)."""

    piece: Literal["corridor"]
    from_: Point2 = Field(alias="from", description="[m] one end of the axis")
    to: Point2 = Field(description="[m] the other end")
    width_m: float = Field(gt=0.5, description="[m]")
    one_way_deg: float | None = Field(None, description="[deg] allowed direction; adds a one_way zone")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _axis_aligned(self):
        dx, dy = self.to[0] - self.from_[0], self.to[1] - self.from_[1]
        if abs(dx) > 1e-9 and abs(dy) > 1e-9:
            raise ValueError(f"a corridor must run along x or y: from {list(self.from_)} to {list(self.to)} is diagonal")
        if abs(dx) + abs(dy) < 0.5:
            raise ValueError("a corridor must be at least 0.5 m long")
        return self


class GatesPiece(_Piece):
    """A line of ticket gates: housings with gaps, walls beyond them to the ends of the span."""

    piece: Literal["gates"]
    center: Point2 = Field(description="[m] middle of the gate line")
    axis: Literal["x", "y"] = Field("y", description="direction the line runs along")
    span_m: float = Field(gt=0, description="[m] length of the line, walls included")
    gates: int = Field(4, ge=1, description="number of passages")
    gate_width_m: float = Field(0.8, gt=0.3, description="[m] free width of one passage")
    housing_m: float = Field(0.6, gt=0, description="[m] width of a housing between passages")
    depth_m: float = Field(0.4, gt=0, description="[m] thickness of the line")

    @model_validator(mode="after")
    def _fits(self):
        need = self.gates * self.gate_width_m + (self.gates - 1) * self.housing_m
        if need > self.span_m:
            raise ValueError(f"{self.gates} gates of {self.gate_width_m} m with {self.housing_m} m housings need "
                             f"{need:g} m; span_m is {self.span_m:g}")
        return self


class StairsPiece(_Piece):
    """Stairs or an escalator on the edge of the floor: where people come in or go out."""

    piece: Literal["stairs", "escalator"]
    segment: tuple[Point2, Point2] = Field(description="[m] the doorway on the floor's outline")
    role: Literal["entrance", "exit", "both"] = "both"
    rate_per_min: float = Field(0.0, ge=0, description="[persons/min] arrivals (entrance or both)")
    direction: Literal["up", "down"] = Field("down", description="escalator: down brings people in, up takes them out")
    zone_depth_m: float = Field(3.0, gt=0, description="[m] escalator: depth of its one-way zone on the floor")


LayoutPiece = Annotated[Union[PlatformPiece, ConcoursePiece, CorridorPiece, GatesPiece, StairsPiece],
                        Field(discriminator="piece")]
#: the ``piece:`` names a layout entry may have
PIECE_NAMES = tuple(name for cls in (PlatformPiece, ConcoursePiece, CorridorPiece, GatesPiece, StairsPiece)
                    for name in cls.model_fields["piece"].annotation.__args__)


def _rect(x0, y0, x1, y1) -> list[list[float]]:
    xa, xb = sorted((x0, x1))
    ya, yb = sorted((y0, y1))
    return [[xa, ya], [xb, ya], [xb, yb], [xa, yb]]


def _floor_rects(pieces) -> list[list[list[float]]]:
    out = []
    for p in pieces:
        if isinstance(p, PlatformPiece):
            x, y = p.origin
            out.append(_rect(x, y, x + p.length_m, y + p.width_m))
        elif isinstance(p, ConcoursePiece):
            x, y = p.origin
            out.append(_rect(x, y, x + p.size_m[0], y + p.size_m[1]))
        elif isinstance(p, CorridorPiece):
            (x0, y0), (x1, y1) = p.from_, p.to
            h = p.width_m / 2
            out.append(_rect(x0 - h, y0, x1 + h, y1) if abs(x1 - x0) < 1e-9 else _rect(x0, y0 - h, x1, y1 + h))
    return out


def union_outline(rects) -> tuple[list[list[float]], list[list[list[float]]]]:
    """Exact outline of the union of axis-aligned rectangles (counter-clockwise) and its holes.

    The rectangles' own x and y coordinates cut the plane into a small grid of cells (no
    rounding); the cells covered by a rectangle are floor, and the outline is the chain of
    cell sides between floor and non-floor. Raises ``ValueError`` when the rectangles do not
    form one connected floor, or when the floor touches itself at a corner. A hole (floor
    all around a block, as between two corridors) is a solid block: the station model takes
    it as an obstacle.
    """
    from scipy import ndimage

    xs = np.unique([c[0] for r in rects for c in r])
    ys = np.unique([c[1] for r in rects for c in r])
    cx, cy = (xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2
    floor = np.zeros((len(cy), len(cx)), bool)  # rows = y, cols = x
    for r in rects:
        (xa, ya), (xb, yb) = r[0], r[2]
        floor |= ((cy[:, None] > ya) & (cy[:, None] < yb)) & ((cx[None, :] > xa) & (cx[None, :] < xb))
    _, n = ndimage.label(floor)
    if n != 1:
        raise ValueError(f"the layout's floors form {n} separate areas; connect them (a corridor) so "
                         "that people can walk between them")
    padded = np.pad(floor, 1)
    nxt: dict[tuple[int, int], tuple[int, int]] = {}
    # directed sides with the floor on the left, in grid-corner indices (i along x, j along y)
    for j, i in zip(*np.nonzero(floor)):
        pj, pi = j + 1, i + 1
        sides = []
        if not padded[pj - 1, pi]:
            sides.append(((i, j), (i + 1, j)))  # bottom, going +x
        if not padded[pj, pi + 1]:
            sides.append(((i + 1, j), (i + 1, j + 1)))  # right, going +y
        if not padded[pj + 1, pi]:
            sides.append(((i + 1, j + 1), (i, j + 1)))  # top, going -x
        if not padded[pj, pi - 1]:
            sides.append(((i, j + 1), (i, j)))  # left, going -y
        for a, b in sides:
            if a in nxt:
                raise ValueError(f"the layout's floor touches itself at the corner ({xs[a[0]]:g}, {ys[a[1]]:g}); "
                                 "widen the joint")
            nxt[a] = b
    cycles = []
    left = dict(nxt)
    while left:
        start = min(left)
        chain = [start]
        cur = left.pop(start)
        while cur != start:
            chain.append(cur)
            cur = left.pop(cur)
        xy = np.array([[xs[i], ys[j]] for i, j in chain], dtype=np.float64)
        cycles.append(_drop_collinear(xy))
    # the outer outline runs counter-clockwise (positive area); holes run clockwise
    outer = max(cycles, key=polygon_signed_area)
    holes = [c[::-1].tolist() for c in cycles if c is not outer]
    return outer.tolist(), holes


def _drop_collinear(xy: np.ndarray) -> np.ndarray:
    keep = []
    n = len(xy)
    for i in range(n):
        a, b, c = xy[i - 1], xy[i], xy[(i + 1) % n]
        if abs((b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0])) > 1e-9:
            keep.append(b)
    return np.array(keep)


def expand_layout(pieces) -> dict:
    """The station fields the pieces stand for: walkable, obstacles, track_beds, platform_edges,
    zones, entrances, exits (plain data, validated afterwards with the rest of the station)."""
    rects = _floor_rects(pieces)
    walkable, holes = union_outline(rects) if rects else (None, [])
    out = {"walkable": walkable, "obstacles": list(holes), "track_beds": [],
           "platform_edges": [], "zones": [], "entrances": [], "exits": []}
    for p in pieces:
        if isinstance(p, PlatformPiece):
            x, y = p.origin
            x1 = x + p.length_m
            if p.tracks == "south":
                edge_y, bed = y, _rect(x, y - p.track_width_m, x1, y)
            else:
                edge_y, bed = y + p.width_m, _rect(x, y + p.width_m, x1, y + p.width_m + p.track_width_m)
            out["track_beds"].append(bed)
            out["platform_edges"].append([[x, edge_y], [x1, edge_y]])
            out["zones"].append({"name": f"{p.name}_tracks", "kind": "forbidden", "polygon": bed})
        elif isinstance(p, CorridorPiece) and p.one_way_deg is not None:
            (x0, y0), (x1, y1) = p.from_, p.to
            h = p.width_m / 2
            poly = _rect(x0 - h, y0, x1 + h, y1) if abs(x1 - x0) < 1e-9 else _rect(x0, y0 - h, x1, y1 + h)
            out["zones"].append({"name": p.name, "kind": "one_way", "polygon": poly, "direction_deg": p.one_way_deg})
        elif isinstance(p, GatesPiece):
            out["obstacles"] += _gate_obstacles(p)
        elif isinstance(p, StairsPiece):
            seg = [list(p.segment[0]), list(p.segment[1])]
            if p.role in ("entrance", "both"):
                out["entrances"].append({"name": p.name, "segment": seg, "rate_per_min": p.rate_per_min})
            if p.role in ("exit", "both"):
                out["exits"].append({"name": p.name, "segment": seg})
            if p.piece == "escalator":
                out["zones"].append(_escalator_zone(p, rects))
    return out


def _gate_obstacles(p: GatesPiece) -> list:
    free = p.gates * p.gate_width_m + (p.gates - 1) * p.housing_m
    start = -p.span_m / 2
    wall = (p.span_m - free) / 2
    spans = []  # (from, to) along the axis, relative to the centre
    if wall > 1e-9:
        spans.append((start, start + wall))
        spans.append((p.span_m / 2 - wall, p.span_m / 2))
    s = start + wall + p.gate_width_m
    for _ in range(p.gates - 1):
        spans.append((s, s + p.housing_m))
        s += p.housing_m + p.gate_width_m
    cx, cy = p.center
    d = p.depth_m / 2
    if p.axis == "y":
        return [_rect(round(cx - d, 6), round(cy + a, 6), round(cx + d, 6), round(cy + b, 6)) for a, b in spans]
    return [_rect(round(cx + a, 6), round(cy - d, 6), round(cx + b, 6), round(cy + d, 6)) for a, b in spans]


def _escalator_zone(p: StairsPiece, rects) -> dict:
    (ax, ay), (bx, by) = p.segment
    mid = np.array([(ax + bx) / 2, (ay + by) / 2])
    along = np.array([bx - ax, by - ay], dtype=float)
    along /= max(np.linalg.norm(along), 1e-9)
    normal = np.array([-along[1], along[0]])
    # the inward normal points into the floor: test a point just beside the doorway
    probe = mid + 0.1 * normal
    inside = any(r[0][0] <= probe[0] <= r[2][0] and r[0][1] <= probe[1] <= r[2][1] for r in rects)
    if not inside:
        normal = -normal
    a, b = np.array([ax, ay], float), np.array([bx, by], float)
    poly = [a.tolist(), b.tolist(), (b + p.zone_depth_m * normal).tolist(), (a + p.zone_depth_m * normal).tolist()]
    inward = np.degrees(np.arctan2(normal[1], normal[0]))
    direction = inward if p.direction == "down" else (inward + 180.0) % 360.0
    if direction > 180:
        direction -= 360
    return {"name": p.name, "kind": "one_way", "polygon": poly, "direction_deg": float(round(direction, 6))}
