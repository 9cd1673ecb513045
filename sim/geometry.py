"""Plane geometry for the simulation: polygons, wall segments, distances, sampling.

Everything works on the ground plane in metres and is vectorised over points. Polygons
are ``(K, 2)`` float arrays of vertices (either orientation, closed implicitly); segment
lists are ``(M, 2, 2)`` arrays ``[[ax, ay], [bx, by]]``. Polygon predicates (point in
polygon, simple polygon, overlap) go through shapely 2 (GEOS): prepared polygons are
cached by their vertices, so that a caller may pass the same array every step.

The one copy for all of ``sim``: ``sim`` may import nothing from ``detectors`` but the
event vocabulary, the ``Frame`` type and the file writer, and ``detectors`` never imports
``sim`` (it calls shapely itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import shapely


def as_polygon(polygon, *, field: str = "polygon") -> np.ndarray:
    """Return ``polygon`` as a ``(K, 2)`` float64 array; raise ``ValueError`` naming ``field``."""
    poly = np.asarray(polygon, dtype=np.float64)
    if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
        raise ValueError(f"{field} must be >= 3 [x, y] vertices; got an array of shape {poly.shape}")
    if not np.all(np.isfinite(poly)):
        raise ValueError(f"{field} must have finite coordinates; got {poly.tolist()}")
    return poly


@lru_cache(maxsize=256)
def _prepared(key: bytes) -> shapely.Polygon:
    poly = shapely.Polygon(np.frombuffer(key, dtype=np.float64).reshape(-1, 2))
    shapely.prepare(poly)
    return poly


def polygon_shape(polygon) -> shapely.Polygon:
    """``polygon`` ``(K, 2)`` as a prepared shapely polygon (cached by its vertices)."""
    return _prepared(np.ascontiguousarray(polygon, dtype=np.float64).tobytes())


#: [m] how far a point on an edge is moved (along +x, then a thousandth of it along +y) to
#: tell on which side of the edge it counts
_EDGE_NUDGE_M = 1e-9


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which ``(N, 2)`` points lie in the ``(K, 2)`` polygon -> ``(N,)`` bool.

    Inside is shapely's interior; a point exactly on an edge counts as inside when the
    interior lies on the edge's +x side (the +y side for an edge parallel to x), as the
    even-odd crossing rule with a ray toward +x decides it: an axis-aligned rectangle
    holds ``[x0, x1) x [y0, y1)``, so rectangles that tile the floor share none of its
    points. Grid cell centres often fall exactly on station edges (both lie on round
    coordinates), so the floor fields depend on this convention.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    shape = polygon_shape(polygon)
    x, y = pts[:, 0], pts[:, 1]
    inside = shapely.contains_xy(shape, x, y)
    edge = np.nonzero(~inside & shapely.intersects_xy(shape, x, y))[0]
    if len(edge):
        inside[edge] = shapely.contains_xy(shape, x[edge] + _EDGE_NUDGE_M, y[edge] + 1e-3 * _EDGE_NUDGE_M)
    return inside


def points_in_interior(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which ``(N, 2)`` points lie strictly inside the polygon (none of its edges count)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return shapely.contains_xy(polygon_shape(polygon), pts[:, 0], pts[:, 1])


def check_simple_polygon(polygon) -> None:
    """Raise ``ValueError`` when a polygon's edges cross each other or it has zero area.

    Edges that only touch (a vertex on another edge, collinear overlaps) are allowed; the
    message names the first pair of crossing edges.
    """
    poly = np.asarray(polygon, dtype=np.float64)
    if not shapely.is_simple(shapely.linearrings(poly)):
        _raise_on_crossing_edges(poly)
    if polygon_area(poly) < 1e-6:
        raise ValueError("polygon has zero area")


def _raise_on_crossing_edges(poly: np.ndarray) -> None:
    edges = polygon_edges(poly)
    lines = shapely.linestrings(edges)
    i, j = shapely.STRtree(lines).query(lines, predicate="crosses")
    pairs = sorted((int(a), int(b)) for a, b in zip(i, j) if a < b)
    if pairs:
        a, b = pairs[0]
        pa, pb = (tuple(map(float, p)) for p in edges[a])
        pc, pd = (tuple(map(float, p)) for p in edges[b])
        raise ValueError(f"polygon is self-intersecting: edge {a} {pa}->{pb} crosses edge {b} {pc}->{pd}")


def polygons_overlap(p, q, *, min_area_m2: float = 1e-9) -> bool:
    """Whether two simple polygons share floor of positive area (touching edges do not count)."""
    a, b = (shapely.make_valid(s) if not shapely.is_valid(s) else s for s in (polygon_shape(p), polygon_shape(q)))
    shared = shapely.intersection(a, b)
    return bool(shapely.area(shared) > min_area_m2)


def polygon_signed_area(polygon: np.ndarray) -> float:
    """[m²] Shoelace area, positive for counter-clockwise vertex order."""
    poly = np.asarray(polygon, dtype=np.float64)
    x, y = poly[:, 0], poly[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0


def polygon_area(polygon: np.ndarray) -> float:
    """[m²] Area of a simple polygon (either orientation)."""
    return abs(polygon_signed_area(polygon))


def polygon_centroid(polygon: np.ndarray) -> np.ndarray:
    """[m] Area centroid ``(2,)`` of a simple polygon."""
    poly = np.asarray(polygon, dtype=np.float64)
    x, y = poly[:, 0], poly[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    a = cross.sum() / 2.0
    if abs(a) < 1e-12:
        return poly.mean(axis=0)
    return np.array([((x + xn) * cross).sum(), ((y + yn) * cross).sum()]) / (6.0 * a)


def polygon_edges(polygon: np.ndarray) -> np.ndarray:
    """``(K, 2, 2)`` edges ``[v_i, v_{i+1}]`` of a closed polygon."""
    poly = np.asarray(polygon, dtype=np.float64)
    return np.stack([poly, np.roll(poly, -1, axis=0)], axis=1)


def segment_distances(points: np.ndarray, segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from every point to every segment.

    ``points`` ``(N, 2)``, ``segments`` ``(M, 2, 2)`` -> ``(dist (N, M) [m], closest (N, M, 2) [m])``
    where ``closest`` is the nearest point of each segment. Degenerate (zero-length)
    segments behave as points.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    seg = np.asarray(segments, dtype=np.float64).reshape(-1, 2, 2)
    a = seg[:, 0, :]  # (M, 2)
    ab = seg[:, 1, :] - a
    len2 = np.einsum("ij,ij->i", ab, ab)
    ap = pts[:, None, :] - a[None, :, :]  # (N, M, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.einsum("nmk,mk->nm", ap, ab) / len2
    u = np.where(len2 > 0, np.clip(u, 0.0, 1.0), 0.0)
    closest = a[None, :, :] + u[:, :, None] * ab[None, :, :]
    d = pts[:, None, :] - closest
    return np.hypot(d[..., 0], d[..., 1]), closest


def point_segment_distance_rowwise(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[m] Distance from ``points[i]`` to segment ``(a[i], b[i])``; all ``(N, 2)`` -> ``(N,)``."""
    ab = b - a
    ap = points - a
    len2 = ab[:, 0] * ab[:, 0] + ab[:, 1] * ab[:, 1]
    dot = ap[:, 0] * ab[:, 0] + ap[:, 1] * ab[:, 1]
    u = np.divide(dot, len2, out=np.zeros_like(dot), where=len2 > 0)
    np.minimum(np.maximum(u, 0.0, out=u), 1.0, out=u)
    dx = ap[:, 0] - u * ab[:, 0]
    dy = ap[:, 1] - u * ab[:, 1]
    return np.hypot(dx, dy)


def segment_to_segment_distance(s: np.ndarray, t: np.ndarray) -> float:
    """[m] Shortest distance between two segments ``(2, 2)`` (0 when they cross)."""
    s = np.asarray(s, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)

    def orient(p, q, r):
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    d1, d2 = orient(t[0], t[1], s[0]), orient(t[0], t[1], s[1])
    d3, d4 = orient(s[0], s[1], t[0]), orient(s[0], s[1], t[1])
    if d1 * d2 < 0 and d3 * d4 < 0:
        return 0.0
    d_st, _ = segment_distances(s, t[None])
    d_ts, _ = segment_distances(t, s[None])
    return float(min(d_st.min(), d_ts.min()))


def subtract_collinear(segment: np.ndarray, cuts: Iterable[np.ndarray], *, tol_m: float = 1e-6) -> list[np.ndarray]:
    """Pieces of ``segment`` ``(2, 2)`` not covered by any collinear, overlapping cut segment.

    A cut counts only where both of its ends lie on the segment's line (within ``tol_m``);
    pieces shorter than ``tol_m`` are dropped. Used to open doorways and platform edges in
    the boundary walls.
    """
    seg = np.asarray(segment, dtype=np.float64)
    a, b = seg
    ab = b - a
    length = float(np.hypot(*ab))
    if length < tol_m:
        return []
    u_dir = ab / length
    normal = np.array([-u_dir[1], u_dir[0]])
    covered: list[tuple[float, float]] = []
    for cut in cuts:
        c = np.asarray(cut, dtype=np.float64)
        off = (c - a) @ normal
        if np.any(np.abs(off) > tol_m):
            continue
        s0, s1 = sorted(float(v) for v in (c - a) @ u_dir)
        s0, s1 = max(s0, 0.0), min(s1, length)
        if s1 - s0 > tol_m:
            covered.append((s0, s1))
    covered.sort()
    pieces = []
    cursor = 0.0
    for s0, s1 in covered:
        if s0 - cursor > tol_m:
            pieces.append(np.stack([a + cursor * u_dir, a + s0 * u_dir]))
        cursor = max(cursor, s1)
    if length - cursor > tol_m:
        pieces.append(np.stack([a + cursor * u_dir, b.copy()]))
    return pieces


def wall_segments(
    walkable: np.ndarray,
    obstacles: Sequence[np.ndarray] = (),
    *,
    openings: Sequence[np.ndarray] = (),
) -> np.ndarray:
    """``(M, 2, 2)`` walls: the walkable boundary minus ``openings``, plus every obstacle edge.

    ``openings`` are segments lying on the boundary (doorways, platform edges) that do not
    stop a body.
    """
    walls: list[np.ndarray] = []
    for edge in polygon_edges(walkable):
        walls.extend(subtract_collinear(edge, openings))
    for obs in obstacles:
        walls.extend(polygon_edges(obs))
    if not walls:
        return np.zeros((0, 2, 2))
    return np.stack(walls)


def sample_points_in_polygon(rng: np.random.Generator, polygon: np.ndarray, n: int) -> np.ndarray:
    """``(n, 2)`` points uniform over a simple polygon (rejection from its bounding box)."""
    poly = np.asarray(polygon, dtype=np.float64)
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    out = np.empty((0, 2))
    fill = max(polygon_area(poly) / float(np.prod(hi - lo)), 1e-3)
    while len(out) < n:
        want = int((n - len(out)) / fill * 1.2) + 8
        cand = rng.uniform(lo, hi, size=(want, 2))
        out = np.concatenate([out, cand[points_in_polygon(cand, poly)]])
    return out[:n]


class SegmentIndex:
    """A coarse grid listing, per cell, the segments within ``reach_m`` of the cell.

    It turns the agent x wall distance computation from ``N x M`` into the few
    ``(agent, segment)`` pairs that can interact: :meth:`candidate_pairs` returns them as
    two index arrays. Points outside the grid fall in the nearest border cell, which lists
    every segment within reach of any point beyond it.
    """

    def __init__(self, segments: np.ndarray, *, reach_m: float, cell_m: float = 1.0) -> None:
        seg = np.asarray(segments, dtype=np.float64).reshape(-1, 2, 2)
        self.segments = seg
        self.reach_m = float(reach_m)
        self.cell_m = float(cell_m)
        if len(seg) == 0:
            self.origin = np.zeros(2)
            self.shape = (1, 1)
            self.indptr = np.zeros(2, np.int64)
            self.indices = np.zeros(0, np.int64)
            return
        lo = seg.reshape(-1, 2).min(axis=0) - reach_m
        hi = seg.reshape(-1, 2).max(axis=0) + reach_m
        nx = max(int(np.ceil((hi[0] - lo[0]) / cell_m)), 1)
        ny = max(int(np.ceil((hi[1] - lo[1]) / cell_m)), 1)
        self.origin = lo
        self.shape = (ny, nx)
        cx = lo[0] + (np.arange(nx) + 0.5) * cell_m
        cy = lo[1] + (np.arange(ny) + 0.5) * cell_m
        centres = np.stack(np.meshgrid(cx, cy), axis=-1).reshape(-1, 2)
        half_diag = cell_m * np.sqrt(0.5)
        # a cell lists a segment when any point of the cell can be within reach of it; a border
        # cell also stands for the outside beyond it, handled by clipping: points outside the
        # grid are farther than reach from every segment, so extra candidates are harmless.
        lists = []
        for start in range(0, len(centres), 4096):
            d, _ = segment_distances(centres[start:start + 4096], seg)
            lists.append(d <= reach_m + half_diag)
        near = np.concatenate(lists)
        self.indptr = np.concatenate([[0], np.cumsum(near.sum(axis=1))]).astype(np.int64)
        self.indices = np.nonzero(near)[1].astype(np.int64)

    def candidate_pairs(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(point_index, segment_index)`` arrays of the pairs that may be within reach."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        ny, nx = self.shape
        ix = np.minimum(np.maximum((pts[:, 0] - self.origin[0]) * (1.0 / self.cell_m), 0.0), nx - 1).astype(np.int64)
        iy = np.minimum(np.maximum((pts[:, 1] - self.origin[1]) * (1.0 / self.cell_m), 0.0), ny - 1).astype(np.int64)
        cell = iy * nx + ix
        start = self.indptr[cell]
        count = self.indptr[cell + 1] - start
        total = int(count.sum())
        point_idx = np.repeat(np.arange(len(pts)), count)
        first = np.cumsum(count) - count
        offs = np.arange(total) - np.repeat(first, count)
        seg_idx = self.indices[np.repeat(start, count) + offs]
        return point_idx, seg_idx


def segment_crosses_any(p: np.ndarray, q: np.ndarray, segments: np.ndarray) -> bool:
    """Whether the segment ``p``-``q`` properly crosses or touches any of ``segments`` ``(M, 2, 2)``."""
    seg = np.asarray(segments, dtype=np.float64).reshape(-1, 2, 2)
    if len(seg) == 0:
        return False
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    a, b = seg[:, 0, :], seg[:, 1, :]

    def orient(u, v, w):
        return (v[..., 0] - u[..., 0]) * (w[..., 1] - u[..., 1]) - (v[..., 1] - u[..., 1]) * (w[..., 0] - u[..., 0])

    d1, d2 = orient(a, b, p), orient(a, b, q)
    d3, d4 = orient(p, q, a), orient(p, q, b)
    return bool(np.any((d1 * d2 <= 0) & (d3 * d4 <= 0) & ((d1 != 0) | (d2 != 0) | (d3 != 0) | (d4 != 0))))
