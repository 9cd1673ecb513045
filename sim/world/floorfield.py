"""Navigation floor fields: the walking distance to a destination over the station floor.

A :class:`NavGrid` rasterises the walkable polygon minus the obstacles (each obstacle
inflated by about a body radius) into square cells. Every cell carries a travel cost per
metre: 1 on free floor, ``margin_cost`` within ``inflate_m`` of a wall or obstacle (people
keep clear of walls and pillars but still fit through a 0.8 m ticket gate), and
``blocked_cost`` inside obstacles and outside the walkable polygon. Blocked cells stay in
the graph with a high cost instead of being removed, so that the field is defined
everywhere: a body pushed off the floor, or a person back from the track bed, is led to the
nearest free floor and on to the destination.

A :class:`FloorField` is the cost-weighted distance from every cell to one destination (an
exit segment or a point), computed once by Dijkstra's algorithm on the 16-connected cell
graph (``scipy.sparse.csgraph``). The desired walking direction is minus its upwind
gradient, normalised per cell and sampled bilinearly. A :class:`FieldBank` stacks the
fields of a station so that one gather serves all agents whatever their destination.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from sim.geometry import points_in_polygon, segment_distances

# (dy, dx) of the graph's edges, each used in both directions, with the cells the straight
# move crosses on the way: 16 neighbours (the knight moves added to the 8 of the square) bring
# the largest error of grid distance against Euclidean distance from 8 % down to 3 %.
_NEIGHBOUR_STEPS = (
    ((0, 1), ()), ((1, 0), ()), ((1, 1), ()), ((1, -1), ()),
    ((1, 2), ((0, 1), (1, 1))), ((2, 1), ((1, 0), (1, 1))),
    ((1, -2), ((0, -1), (1, -1))), ((2, -1), ((1, 0), (1, -1))),
)


@dataclass(frozen=True, kw_only=True)
class NavGridParams:
    """How the floor is rasterised for navigation."""

    cell_m: float = 0.2  #: [m] side of a square cell
    inflate_m: float = 0.25  #: [m] clearance kept from walls and obstacles (about a body radius)
    border_m: float = 1.0  #: [m] extra grid beyond the walkable polygon's bounding box
    margin_cost: float = 3.0  #: travel cost per metre within inflate_m of a wall (free floor = 1)
    blocked_cost: float = 12.0  #: travel cost per metre inside obstacles or off the walkable floor

    def __post_init__(self) -> None:
        for name in ("cell_m", "inflate_m", "border_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"NavGridParams.{name} must be > 0 m; got {getattr(self, name)!r}")
        if not 1.0 <= self.margin_cost <= self.blocked_cost:
            raise ValueError(
                f"NavGridParams costs must satisfy 1 <= margin_cost <= blocked_cost; "
                f"got margin_cost={self.margin_cost!r}, blocked_cost={self.blocked_cost!r}"
            )


class NavGrid:
    """The rasterised floor shared by all the floor fields of one station."""

    FREE, MARGIN, BLOCKED = 0, 1, 2

    def __init__(self, walkable: np.ndarray, obstacles=(), params: NavGridParams | None = None) -> None:
        p = params or NavGridParams()
        self.params = p
        walk = np.asarray(walkable, dtype=np.float64)
        obstacles = [np.asarray(o, dtype=np.float64) for o in obstacles]
        cs = p.cell_m
        # align cell edges to multiples of the cell size so that round coordinates stay edges
        lo = np.floor((walk.min(axis=0) - p.border_m) / cs) * cs
        hi = np.ceil((walk.max(axis=0) + p.border_m) / cs) * cs
        nx = int(round((hi[0] - lo[0]) / cs))
        ny = int(round((hi[1] - lo[1]) / cs))
        self.origin = lo
        self.cell_m = cs
        self.shape = (ny, nx)
        centres = self.cell_centres().reshape(-1, 2)
        blocked = ~points_in_polygon(centres, walk)
        for obs in obstacles:
            blocked |= points_in_polygon(centres, obs)
        blocked = blocked.reshape(ny, nx)
        # distance from a free cell centre to the nearest blocked cell centre, less half a
        # cell, approximates the clearance to the nearest wall to within half a cell
        clearance = ndimage.distance_transform_edt(~blocked) * cs - cs / 2
        kind = np.full((ny, nx), self.FREE, np.int8)
        kind[clearance < p.inflate_m] = self.MARGIN
        kind[blocked] = self.BLOCKED
        self.kind = kind
        self.cost = np.choose(kind, [1.0, p.margin_cost, p.blocked_cost])
        self._graph = self._build_graph()

    # --- geometry of the grid -----------------------------------------------------------
    def cell_centres(self) -> np.ndarray:
        """[m] ``(ny, nx, 2)`` centres of the cells."""
        ny, nx = self.shape
        cx = self.origin[0] + (np.arange(nx) + 0.5) * self.cell_m
        cy = self.origin[1] + (np.arange(ny) + 0.5) * self.cell_m
        return np.stack(np.meshgrid(cx, cy), axis=-1)

    def cell_of(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(iy, ix)`` of the cell holding each point, clipped to the grid."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        ny, nx = self.shape
        ix = np.clip(np.floor((pts[:, 0] - self.origin[0]) / self.cell_m).astype(np.int64), 0, nx - 1)
        iy = np.clip(np.floor((pts[:, 1] - self.origin[1]) / self.cell_m).astype(np.int64), 0, ny - 1)
        return iy, ix

    def is_free(self, points: np.ndarray) -> np.ndarray:
        """Whether each point lies in a free cell (walkable, clear of walls by inflate_m)."""
        iy, ix = self.cell_of(points)
        return self.kind[iy, ix] == self.FREE

    # --- fields -------------------------------------------------------------------------
    def _build_graph(self) -> csr_matrix:
        ny, nx = self.shape
        n = ny * nx
        idx = np.arange(n).reshape(ny, nx)
        cost = self.cost.ravel()
        rows, cols, weights = [], [], []
        for (dy, dx), crossed in _NEIGHBOUR_STEPS:
            y0, y1 = max(0, -dy), ny - max(0, dy)
            x0, x1 = max(0, -dx), nx - max(0, dx)
            a = idx[y0:y1, x0:x1].ravel()
            b = idx[y0 + dy:y1 + dy, x0 + dx:x1 + dx].ravel()
            step = self.cell_m * np.hypot(dy, dx)
            # the cost of a move is the mean cost of the cells it passes through
            total = cost[a] + cost[b]
            for cy, cx in crossed:
                total = total + cost[idx[y0 + cy:y1 + cy, x0 + cx:x1 + cx].ravel()]
            w = step * total / (2 + len(crossed))
            rows += [a, b]
            cols += [b, a]
            weights += [w, w]
        rows_a = np.concatenate(rows)
        cols_a = np.concatenate(cols)
        w_a = np.concatenate(weights)
        # one extra node (index n) is the super source; its row is filled per field
        return csr_matrix((w_a, (rows_a, cols_a)), shape=(n + 1, n + 1))

    def _solve(self, sources: np.ndarray, offsets_m: np.ndarray) -> np.ndarray:
        g = self._graph
        n = g.shape[0] - 1
        order = np.argsort(sources, kind="stable")
        data = np.concatenate([g.data, np.maximum(offsets_m[order], 0.0) + 1e-9])
        indices = np.concatenate([g.indices, sources[order]]).astype(g.indices.dtype)
        indptr = g.indptr.copy()
        indptr[-1] += len(sources)
        graph = csr_matrix((data, indices, indptr), shape=g.shape)
        dist = dijkstra(graph, directed=True, indices=n)
        return dist[:n].reshape(self.shape)

    def field_to_segment(self, a, b, *, reach_m: float = 0.3) -> "FloorField":
        """The field of a doorway segment ``a``-``b`` [m]: cells within ``reach_m`` are sources."""
        seg = np.array([[a, b]], dtype=np.float64)
        centres = self.cell_centres().reshape(-1, 2)
        d, _ = segment_distances(centres, seg)
        d = d[:, 0]
        reach = max(reach_m, self.cell_m)
        near = d <= reach
        usable = near & (self.kind.ravel() != self.BLOCKED)
        if not usable.any():
            usable = near
        if not usable.any():
            usable = d == d.min()
        src = np.nonzero(usable)[0]
        return FloorField(self, self._solve(src, d[src]))

    def field_to_point(self, point) -> "FloorField":
        """The field of a point destination [m]: the four cells around it are sources."""
        pt = np.asarray(point, dtype=np.float64).reshape(1, 2)
        ny, nx = self.shape
        fx = (pt[0, 0] - self.origin[0]) / self.cell_m - 0.5
        fy = (pt[0, 1] - self.origin[1]) / self.cell_m - 0.5
        ix0 = int(np.clip(np.floor(fx), 0, nx - 2))
        iy0 = int(np.clip(np.floor(fy), 0, ny - 2))
        iys = np.array([iy0, iy0, iy0 + 1, iy0 + 1])
        ixs = np.array([ix0, ix0 + 1, ix0, ix0 + 1])
        centres = self.cell_centres()[iys, ixs]
        off = np.hypot(*(centres - pt).T) * self.cost[iys, ixs]
        return FloorField(self, self._solve(iys * nx + ixs, off))


class FloorField:
    """Cost-weighted walking distance to one destination and the direction that descends it."""

    def __init__(self, grid: NavGrid, distance: np.ndarray) -> None:
        self.grid = grid
        dist = np.where(np.isfinite(distance), distance, np.nan)
        top = np.nanmax(dist) if np.isfinite(dist).any() else 0.0
        dist = np.where(np.isnan(dist), top + 1.0, dist)
        self.distance = dist  #: (ny, nx) [m, cost-weighted]
        self.direction = _upwind_direction(dist, grid.cell_m)  #: (ny, nx, 2) float32 unit vectors

    def direction_at(self, points: np.ndarray) -> np.ndarray:
        """``(N, 2)`` unit walking directions at ``points`` (zero where the field is flat)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        d = self.direction.reshape(-1, 2).astype(np.float64)
        return _sample_directions(d[:, 0] + 1j * d[:, 1], np.zeros(len(pts), np.int64), pts, self.grid)

    def value_at(self, points: np.ndarray) -> np.ndarray:
        """[m] Bilinearly sampled distance to the destination."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        iy0, ix0, wy, wx = _bilinear_cells(pts, self.grid)
        d = self.distance
        return ((1 - wy) * ((1 - wx) * d[iy0, ix0] + wx * d[iy0, ix0 + 1])
                + wy * ((1 - wx) * d[iy0 + 1, ix0] + wx * d[iy0 + 1, ix0 + 1]))


def _upwind_direction(dist: np.ndarray, cell_m: float) -> np.ndarray:
    """Minus the upwind gradient of ``dist``, normalised per cell; zero at minima.

    Per axis the difference is taken toward the lower neighbour only (as in fast marching),
    so that a wall's high-cost cells beside a corridor do not tilt the direction across it.
    """
    pad = np.pad(dist, 1, mode="constant", constant_values=np.inf)
    c = pad[1:-1, 1:-1]
    left, right = pad[1:-1, :-2], pad[1:-1, 2:]
    down, up = pad[:-2, 1:-1], pad[2:, 1:-1]

    def axis_grad(lo, hi):
        use_lo = (lo < c) & (lo <= hi)
        use_hi = (hi < c) & ~use_lo
        g = np.zeros_like(c)
        g[use_lo] = (c - lo)[use_lo]
        g[use_hi] = (hi - c)[use_hi]
        return g / cell_m

    gx = axis_grad(left, right)
    gy = axis_grad(down, up)
    norm = np.hypot(gx, gy)
    out = np.zeros(dist.shape + (2,), np.float32)
    ok = norm > 1e-12
    out[ok, 0] = -gx[ok] / norm[ok]
    out[ok, 1] = -gy[ok] / norm[ok]
    return out


def _bilinear_cells(pts: np.ndarray, grid: NavGrid):
    ny, nx = grid.shape
    fx = (pts[:, 0] - grid.origin[0]) / grid.cell_m - 0.5
    fy = (pts[:, 1] - grid.origin[1]) / grid.cell_m - 0.5
    ix0 = np.minimum(np.maximum(np.floor(fx), 0.0), nx - 2).astype(np.int64)
    iy0 = np.minimum(np.maximum(np.floor(fy), 0.0), ny - 2).astype(np.int64)
    wx = np.minimum(np.maximum(fx - ix0, 0.0), 1.0)
    wy = np.minimum(np.maximum(fy - iy0, 0.0), 1.0)
    return iy0, ix0, wy, wx


def _sample_directions(flat_dirs: np.ndarray, field_idx: np.ndarray, pts: np.ndarray, grid: NavGrid) -> np.ndarray:
    """Bilinear sample of unit directions, renormalised; where neighbouring cells cancel out
    (a ridge between two routes, a destination cell) the nearest cell's direction is used.

    ``flat_dirs`` holds one complex number ``dx + i dy`` per cell of every field, so that a
    gather is one ``take`` and the blend is complex arithmetic.
    """
    ny, nx = grid.shape
    iy0, ix0, wy, wx = _bilinear_cells(pts, grid)
    base = field_idx * (ny * nx) + iy0 * nx + ix0
    c00 = flat_dirs.take(base)
    c01 = flat_dirs.take(base + 1)
    c10 = flat_dirs.take(base + nx)
    c11 = flat_dirs.take(base + (nx + 1))
    v = c00 + wx * (c01 - c00)
    v += wy * ((c10 + wx * (c11 - c10)) - v)
    norm = np.abs(v)
    weak = norm < 0.2
    if weak.any():
        near = base[weak] + np.rint(wy[weak]).astype(np.int64) * nx + np.rint(wx[weak]).astype(np.int64)
        v[weak] = flat_dirs.take(near)
        norm[weak] = np.abs(v[weak])
    np.divide(v, norm, out=v, where=norm > 1e-9)
    v[norm <= 1e-9] = 0.0
    return v.view(np.float64).reshape(-1, 2)


class FieldBank:
    """All floor fields of a station stacked, so one gather serves every agent.

    Fields are appended (exits at model start, waiting spots as they are first used) and
    addressed by their integer index; :meth:`sample` takes one index per point.
    """

    def __init__(self, grid: NavGrid) -> None:
        self.grid = grid
        self.fields: list[FloorField] = []
        ny, nx = grid.shape
        self._dirs = np.zeros(4 * ny * nx, np.complex128)

    def __len__(self) -> int:
        return len(self.fields)

    def add(self, field: FloorField) -> int:
        """Store ``field``; return its index."""
        ny, nx = self.grid.shape
        k = len(self.fields)
        if (k + 1) * ny * nx > len(self._dirs):
            grown = np.zeros(2 * len(self._dirs), np.complex128)
            grown[: len(self._dirs)] = self._dirs
            self._dirs = grown
        d = field.direction.reshape(-1, 2).astype(np.float64)
        self._dirs[k * ny * nx:(k + 1) * ny * nx] = d[:, 0] + 1j * d[:, 1]
        self.fields.append(field)
        return k

    def sample(self, field_idx: np.ndarray, points: np.ndarray) -> np.ndarray:
        """``(N, 2)`` unit directions: point ``i`` in field ``field_idx[i]`` (zero where flat)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return _sample_directions(self._dirs, np.asarray(field_idx, np.int64), pts, self.grid)
