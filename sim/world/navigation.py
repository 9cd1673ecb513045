"""Where people can go and how: floor fields to the exits and to points, waiting spots, one-way zones.

People respect one-way zones: the floor field of a destination treats every one-way zone
whose allowed direction points away from that destination as an obstacle (so walkers go
round by another corridor), and nobody waits or starts the run inside a one-way zone.

Waiting spots lie on a coarse lattice of free floor (``WAIT_SPOT_SPACING_M``); each has a
floor field, computed when first used, and a waiting point scatters within
``WAIT_SPOT_JITTER_M`` of its spot.
"""

from __future__ import annotations

import numpy as np

from sim.geometry import (
    as_polygon,
    points_in_polygon,
    polygon_centroid,
    polygon_edges,
    segment_crosses_any,
    segment_distances,
)
from sim.world.floorfield import FieldBank, NavGrid, NavGridParams

#: [m] spacing of the waiting spots (each has a floor field, computed when first used)
WAIT_SPOT_SPACING_M = 2.0
#: [m] waiting points scatter this far around their spot
WAIT_SPOT_JITTER_M = 0.8


class Navigation:
    """The floor of one station for walking: ``grid`` (the plain floor), ``fields`` (field
    ``k`` leads to exit ``k``; fields to points and spots follow), ``spots`` (waiting spots).

    ``zones`` are the station's zone specs (the one-way ones count), ``exits`` the ``(E, 2, 2)``
    exit segments and ``walls`` the ``(M, 2, 2)`` wall segments that straight lines may not cross.
    """

    def __init__(self, walkable: np.ndarray, obstacles: list[np.ndarray], zones, exits: np.ndarray,
                 walls: np.ndarray, grid_params: NavGridParams | None = None) -> None:
        self.walkable = walkable
        self.obstacles = obstacles
        self.walls = walls
        self._grid_params = grid_params
        self.one_way = []  # (polygon, allowed direction, centroid, edges)
        for z in zones:
            if z.kind == "one_way":
                poly = as_polygon(z.polygon, field=f"station.zones[{z.name}].polygon")
                a = np.radians(z.direction_deg)
                self.one_way.append((poly, np.array([np.cos(a), np.sin(a)]), polygon_centroid(poly), polygon_edges(poly)))
        self.grid = NavGrid(walkable, obstacles, grid_params)
        self._grids: dict[tuple[int, ...], NavGrid] = {(): self.grid}
        self.fields = FieldBank(self.grid)
        for a, b in exits:
            self.fields.add(self.grid_for((a + b) / 2, outline_m=0.3).field_to_segment(a, b))
        self.spots = self._waiting_spots()
        self._spot_field: dict[int, int] = {}
        self._point_fields: dict[tuple[float, float], int] = {}

    def grid_for(self, dest, *, outline_m: float = 0.0) -> NavGrid:
        """The navigation grid for a destination: the one-way zones whose allowed direction
        points away from ``dest`` are obstacles, but for one that holds ``dest`` or has it
        within ``outline_m`` of its outline (a doorway in its far end)."""
        if not self.one_way:
            return self.grid
        dest = np.asarray(dest, dtype=np.float64).reshape(2)
        blocked = []
        for k, (poly, direction, centre, edges) in enumerate(self.one_way):
            if float(direction @ (dest - centre)) >= 0.0:
                continue
            inside = points_in_polygon(dest[None], poly)[0]
            if inside or (outline_m > 0 and segment_distances(dest[None], edges)[0].min() <= outline_m):
                continue
            blocked.append(k)
        key = tuple(blocked)
        grid = self._grids.get(key)
        if grid is None:
            grid = NavGrid(self.walkable, self.obstacles + [self.one_way[k][0] for k in key], self._grid_params)
            self._grids[key] = grid
        return grid

    def in_one_way(self, points: np.ndarray) -> np.ndarray:
        """Whether each point lies inside a one-way zone."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        out = np.zeros(len(pts), bool)
        for poly, *_ in self.one_way:
            out |= points_in_polygon(pts, poly)
        return out

    def point_field(self, p: np.ndarray) -> int:
        """Index in ``fields`` of the field to point ``p`` (computed once per point, to the cm)."""
        key = (round(float(p[0]), 2), round(float(p[1]), 2))
        idx = self._point_fields.get(key)
        if idx is None:
            idx = self.fields.add(self.grid_for(p).field_to_point(p))
            self._point_fields[key] = idx
        return idx

    def spot_field(self, spot: int) -> int:
        """Index in ``fields`` of the field to waiting spot ``spot``."""
        idx = self._spot_field.get(spot)
        if idx is None:
            idx = self.fields.add(self.grid_for(self.spots[spot]).field_to_point(self.spots[spot]))
            self._spot_field[spot] = idx
        return idx

    def _waiting_spots(self) -> np.ndarray:
        g = self.grid
        k = max(int(round(WAIT_SPOT_SPACING_M / g.cell_m)), 1)
        ny, nx = g.shape
        iy, ix = np.meshgrid(np.arange(k // 2, ny, k), np.arange(k // 2, nx, k), indexing="ij")
        iy, ix = iy.ravel(), ix.ravel()
        free = g.kind[iy, ix] == NavGrid.FREE
        # a spot needs free cells around it, not a single free cell in a corridor
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            jy = np.clip(iy + dy, 0, ny - 1)
            jx = np.clip(ix + dx, 0, nx - 1)
            free &= g.kind[jy, jx] == NavGrid.FREE
        spots = g.cell_centres()[iy[free], ix[free]]
        return spots[~self.in_one_way(spots)] if self.one_way else spots  # nobody waits in a one-way corridor

    def draw_wait_point(self, rng: np.random.Generator, spot: int | None = None,
                        among: np.ndarray | None = None) -> tuple[int, np.ndarray]:
        """A waiting point scattered round a spot: ``spot``, or one drawn among the spots
        ``among`` (indices; default all of them)."""
        if spot is None:
            if among is not None:
                spot = int(among[int(rng.integers(len(among)))])
            else:
                spot = int(rng.integers(len(self.spots)))
        centre = self.spots[spot]
        r = WAIT_SPOT_JITTER_M * np.sqrt(rng.uniform())
        a = rng.uniform(0.0, 2.0 * np.pi)
        p = centre + r * np.array([np.cos(a), np.sin(a)])
        if not self.grid.is_free(p)[0] or segment_crosses_any(centre, p, self.walls) or (
                self.one_way and self.in_one_way(p)[0]):
            p = centre.copy()
        return spot, p

    def blocked(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Whether a wall stands between ``a`` and ``b``."""
        return bool(segment_crosses_any(a, b, self.walls))

    def path_length(self, a, b) -> float:
        """[m] walking distance from ``a`` to ``b``: straight when no wall is in the way, else
        along a floor field."""
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if not self.blocked(a, b):
            return float(np.hypot(*(b - a)))
        value = float(self.fields.fields[self.point_field(b)].value_at(a[None])[0])
        return value if np.isfinite(value) else float(np.hypot(*(b - a)))

    def nearest_exit(self, point: np.ndarray, choices: list[int]) -> int:
        """The exit among ``choices`` nearest to ``point`` by walking distance."""
        values = [self.fields.fields[k].value_at(point)[0] for k in choices]
        return choices[int(np.argmin(values))]

    def inward_normal(self, seg: np.ndarray) -> np.ndarray:
        """Unit normal of a doorway segment that points into the walkable floor."""
        a, b = seg
        d = b - a
        n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-12)
        mid = (a + b) / 2
        if points_in_polygon((mid + 0.05 * n)[None], self.walkable)[0]:
            return n
        return -n
