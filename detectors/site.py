"""Site configuration: the only thing besides pixels that a detector is given.

A live installation is configured with the camera's calibration to the ground plane and
with the zones an operator drew (forbidden areas, one-way corridors, density-capped
areas). ``sim`` exports the same file for a scenario's camera; a person writes it by hand
for a real camera (four or more image/ground point pairs are enough).

File format (YAML)::

    camera: cam1
    image_size: [640, 360]          # [px] width, height
    fps: 10                         # frames per second of the stream
    calibration:
      homography: [[...], [...], [...]]   # ground (x, y metres) -> image (u, v pixels)
      # or, instead of the homography:
      # points: [{ground: [x, y], image: [u, v]}, ...]   (>= 4 pairs)
      projection: [[...], [...], [...]]   # optional 3x4 matrix (x, y, z metres) -> image
    zones:
      - name: tracks
        kind: forbidden
        polygon: [[x, y], ...]      # [m] on the ground plane
        allowed: [staff]            # optional: who may be there (staff: people in a high-visibility vest)
      - name: corridor
        kind: one_way
        polygon: [[x, y], ...]
        direction_deg: 90           # allowed walking direction, counter-clockwise from +x
      - name: hall
        kind: density
        polygon: [[x, y], ...]
        capacity_per_m2: 2.0        # persons per square metre above which it is excessive
    abandoned_after_s: 10           # optional [s]: an object left unattended this long is abandoned (default 10)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

import numpy as np
import shapely

from detectors.files import atomic_write_text, read_yaml


class SiteError(ValueError):
    """A site configuration that cannot be used; the message names the field."""


#: the roles a forbidden zone may allow
ALLOWED_ROLES = ("staff",)


class ZoneKind(str, Enum):
    FORBIDDEN = "forbidden"
    ONE_WAY = "one_way"
    DENSITY = "density"


@dataclass(frozen=True, kw_only=True)
class Zone:
    """A named area of the ground plane with a rule attached."""

    name: str
    kind: ZoneKind
    polygon_m: np.ndarray  #: (K, 2) [m] vertices on the ground plane
    direction_deg: float | None = None  #: [deg] allowed direction of travel (one_way only)
    capacity_per_m2: float | None = None  #: [persons/m²] threshold (density only)
    allowed: tuple[str, ...] = ()  #: who may stand in a forbidden zone (``"staff"``: a high-visibility vest)

    def __post_init__(self) -> None:
        poly = np.asarray(self.polygon_m, dtype=np.float64)
        if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
            raise SiteError(f"zone {self.name!r}: polygon must be >= 3 [x, y] points; got shape {poly.shape}")
        if not np.all(np.isfinite(poly)):
            raise SiteError(f"zone {self.name!r}: polygon coordinates must be finite numbers [m]; got {poly.tolist()}")
        shape = shapely.Polygon(poly)
        if not shape.is_valid or not shape.area > 0:
            # a bow-tie (edges that cross), a polygon folded onto itself or of no area: inside is undefined
            reason = shapely.is_valid_reason(shape) if not shape.is_valid else "it has no area"
            where = re.fullmatch(r"(?:Ring )?Self-intersection\[(\S+) (\S+)\]", reason)
            why = f"its edges cross or touch at ({where[1]}, {where[2]})" if where else reason
            raise SiteError(f"zone {self.name!r}: polygon must be a simple polygon (edges that do not cross, an "
                            f"area > 0); {why}")
        object.__setattr__(self, "polygon_m", poly)
        object.__setattr__(self, "kind", ZoneKind(self.kind))
        if self.kind is ZoneKind.ONE_WAY and self.direction_deg is None:
            raise SiteError(f"zone {self.name!r}: kind one_way needs direction_deg")
        if self.direction_deg is not None and not _finite(self.direction_deg):
            raise SiteError(f"zone {self.name!r}: direction_deg must be a number of degrees; "
                            f"got {self.direction_deg!r}")
        if self.kind is ZoneKind.DENSITY and not (_finite(self.capacity_per_m2) and self.capacity_per_m2 > 0):
            raise SiteError(f"zone {self.name!r}: kind density needs capacity_per_m2 > 0; got {self.capacity_per_m2!r}")
        if self.capacity_per_m2 is not None and not (_finite(self.capacity_per_m2) and self.capacity_per_m2 > 0):
            raise SiteError(f"zone {self.name!r}: capacity_per_m2 must be a number > 0; got {self.capacity_per_m2!r}")
        allowed = (self.allowed,) if isinstance(self.allowed, str) else tuple(self.allowed or ())
        unknown = sorted(set(allowed) - set(ALLOWED_ROLES))
        if unknown:
            raise SiteError(f"zone {self.name!r}: allowed must list roles among {', '.join(ALLOWED_ROLES)}; "
                            f"got {list(allowed)}")
        if allowed and self.kind is not ZoneKind.FORBIDDEN:
            raise SiteError(f"zone {self.name!r}: allowed applies to forbidden zones only; this one is {self.kind.value}")
        object.__setattr__(self, "allowed", tuple(str(a) for a in allowed))

    @property
    def area_m2(self) -> float:
        x, y = self.polygon_m[:, 0], self.polygon_m[:, 1]
        return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)

    @cached_property
    def _shape(self) -> shapely.Polygon:
        poly = shapely.Polygon(self.polygon_m)
        shapely.prepare(poly)
        return poly

    def contains(self, points_m: np.ndarray) -> np.ndarray:
        """Boolean mask of which (N, 2) ground points lie inside the zone (its edges excluded)."""
        pts = np.asarray(points_m, dtype=np.float64).reshape(-1, 2)
        return shapely.contains_xy(self._shape, pts[:, 0], pts[:, 1])

    @cached_property
    def _edges(self) -> tuple[np.ndarray, np.ndarray]:
        """(1, K, 2) [m] each edge's vector (next vertex minus this one) and (1, K) [m²] its squared length."""
        ab = np.roll(self.polygon_m, -1, axis=0) - self.polygon_m
        return ab[None], (ab * ab).sum(-1)[None]

    def signed_distance(self, points_m: np.ndarray) -> np.ndarray:
        """(N,) [m] distance of ground points to the zone's outline: > 0 inside, < 0 outside (nan stays nan)."""
        p = np.asarray(points_m, dtype=np.float64).reshape(-1, 2)
        a = self.polygon_m
        ab, ab2 = self._edges
        with np.errstate(invalid="ignore"):
            t = np.clip(((p[:, None, :] - a[None]) * ab).sum(-1) / ab2, 0.0, 1.0)
            d = np.linalg.norm(p[:, None, :] - (a[None] + t[..., None] * ab), axis=-1).min(axis=1)
        return np.where(self.contains(p), d, -d)

    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind.value, "polygon": self.polygon_m.round(4).tolist()}
        if self.direction_deg is not None:
            d["direction_deg"] = float(self.direction_deg)
        if self.capacity_per_m2 is not None:
            d["capacity_per_m2"] = float(self.capacity_per_m2)
        if self.allowed:
            d["allowed"] = list(self.allowed)
        return d


@dataclass(frozen=True, kw_only=True)
class SiteConfig:
    """Camera calibration and zones for one camera."""

    camera: str
    image_size: tuple[int, int]  #: [px] (width, height)
    fps: float  #: [frames/s]
    homography: np.ndarray  #: (3, 3) ground (x, y) [m] -> image (u, v) [px]
    projection: np.ndarray | None = None  #: (3, 4) world (x, y, z) [m] -> image, if known
    zones: tuple[Zone, ...] = field(default_factory=tuple)
    #: [s] how long an object must be left unattended before it counts as abandoned (the site's rule)
    abandoned_after_s: float = 10.0

    def __post_init__(self) -> None:
        if not isinstance(self.camera, str) or not self.camera:
            raise SiteError(f"site: camera must be a camera name; got {self.camera!r}")
        h = np.asarray(self.homography, dtype=np.float64)
        if h.shape != (3, 3) or not np.all(np.isfinite(h)) or abs(np.linalg.det(h)) < 1e-12:
            raise SiteError(f"site {self.camera!r}: calibration.homography must be an invertible 3x3 matrix; got {h.tolist()}")
        object.__setattr__(self, "homography", h)
        if self.projection is not None:
            p = np.asarray(self.projection, dtype=np.float64)
            if p.shape != (3, 4) or not np.all(np.isfinite(p)):
                raise SiteError(f"site {self.camera!r}: calibration.projection must be a 3x4 matrix of finite numbers; "
                                f"got {p.tolist()}")
            object.__setattr__(self, "projection", p)
        size = tuple(self.image_size) if isinstance(self.image_size, (tuple, list)) else ()
        if len(size) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                                     for v in size):
            raise SiteError(f"site {self.camera!r}: image_size must be two positive integers [width, height] in "
                            f"pixels; got {self.image_size!r}")
        w, h_px = (int(v) for v in size)
        object.__setattr__(self, "image_size", (w, h_px))
        if not (_finite(self.fps) and self.fps > 0):
            raise SiteError(f"site {self.camera!r}: fps must be a number > 0; got {self.fps!r}")
        after = self.abandoned_after_s
        if isinstance(after, bool) or not isinstance(after, (int, float)) or not (np.isfinite(after) and after >= 0):
            raise SiteError(f"site {self.camera!r}: abandoned_after_s must be a number of seconds >= 0; got {after!r}")
        object.__setattr__(self, "abandoned_after_s", float(after))
        names = [z.name for z in self.zones]
        if len(set(names)) != len(names):
            raise SiteError(f"site {self.camera!r}: zone names must be unique; got {names}")
        object.__setattr__(self, "zones", tuple(self.zones))
        for k, z in enumerate(self.zones):
            if not self.image_area_of(z) > 0:
                raise SiteError(f"site {self.camera!r}: zones[{k}] ({z.name!r}) lies entirely outside the image "
                                f"({w}x{h_px} px, or behind the camera): the camera cannot see it")

    # --- geometry -----------------------------------------------------------------
    @cached_property
    def ground_from_image(self) -> np.ndarray:
        """(3, 3) image (u, v) [px] -> ground (x, y) [m], the inverse of :attr:`homography` (computed once)."""
        return np.linalg.inv(self.homography)

    def image_to_ground(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) pixel points -> (N, 2) ground points [m]; points above the horizon give nan."""
        return _apply_h(self.ground_from_image, uv)

    def ground_to_image(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) ground points [m] -> (N, 2) pixel points."""
        return _apply_h(self.homography, xy)

    def image_to_ground_at_height(self, uv: np.ndarray, height_m: float) -> np.ndarray:
        """(N, 2) pixel points -> (N, 2) ground points [m] under the points at ``height_m`` above the
        floor that project there (where a person whose head top is at the pixel stands). Needs the
        3x4 projection; nan without it, and where the point would lie behind the camera."""
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        inv = self._plane_inverse(float(height_m))
        return np.full(uv.shape, np.nan) if inv is None else _apply_h(inv, uv)

    def _plane_inverse(self, height_m: float) -> np.ndarray | None:
        """Inverse of the homography from the plane z = ``height_m`` to the image (cached per height)."""
        cache = self.__dict__.setdefault("_plane_inverses", {})
        if height_m not in cache:
            inv = None
            if self.projection is not None:
                p = self.projection
                plane = np.c_[p[:, 0], p[:, 1], p[:, 2] * height_m + p[:, 3]]
                try:
                    inv = np.linalg.inv(plane)
                except np.linalg.LinAlgError:
                    inv = None
            cache[height_m] = inv
        return cache[height_m]

    def person_height_px(self, foot_m: np.ndarray, height_m: float = 1.7) -> np.ndarray:
        """Expected image height [px] of a person of ``height_m`` standing at each foot point.

        Uses the 3x4 projection when the site gives one; otherwise assumes a camera looking
        down steeply and scales by the homography's local metres-to-pixels factor.
        """
        foot_m = np.asarray(foot_m, dtype=np.float64).reshape(-1, 2)
        if self.projection is not None:
            n = len(foot_m)
            p = self.projection
            base = foot_m @ p[:, :2].T + p[:, 3]
            top = base + p[:, 2] * float(height_m)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.abs(base[:, 1] / base[:, 2] - top[:, 1] / top[:, 2])
        a = self.ground_to_image(foot_m)
        b = self.ground_to_image(foot_m + np.array([0.0, 0.5]))
        c = self.ground_to_image(foot_m + np.array([0.5, 0.0]))
        scale = np.maximum(np.linalg.norm(b - a, axis=1), np.linalg.norm(c - a, axis=1)) / 0.5
        return scale * height_m

    def zones_of(self, kind: ZoneKind) -> list[Zone]:
        return [z for z in self.zones if z.kind is kind]

    def image_area_of(self, zone: Zone) -> float:
        """[px²] Area of the part of ``zone`` the camera sees: in front of it and inside the image."""
        front = zone._shape.intersection(_in_front(self.homography, zone._shape.bounds))
        image = shapely.box(0.0, 0.0, float(self.image_size[0]), float(self.image_size[1]))
        area = 0.0
        for part in getattr(front, "geoms", [front]):
            if isinstance(part, shapely.Polygon) and not part.is_empty:
                # in front of the camera the homography maps the part to a polygon of the image
                rings = [self.ground_to_image(np.asarray(r.coords)) for r in (part.exterior, *part.interiors)]
                if all(np.all(np.isfinite(r)) for r in rings):
                    area += shapely.Polygon(rings[0], rings[1:]).buffer(0).intersection(image).area
        return float(area)

    def zone_image_polygon(self, zone: Zone) -> np.ndarray:
        """The zone's outline in pixels (float, may extend beyond the image)."""
        return self.ground_to_image(zone.polygon_m)

    # --- file boundary --------------------------------------------------------------
    def to_dict(self) -> dict:
        cal = {"homography": self.homography.tolist()}
        if self.projection is not None:
            cal["projection"] = self.projection.tolist()
        return {
            "camera": self.camera,
            "image_size": list(self.image_size),
            "fps": float(self.fps),
            "calibration": cal,
            "zones": [z.to_dict() for z in self.zones],
            "abandoned_after_s": self.abandoned_after_s,
        }

    def save(self, path) -> None:
        import yaml

        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, d: dict, *, where: str = "site") -> "SiteConfig":
        if not isinstance(d, dict):
            got = "nothing (an empty file)" if d is None else type(d).__name__
            raise SiteError(f"{where}: expected a mapping of camera, image_size, fps, calibration and zones; got {got}")
        _reject_unknown(d, {"camera", "image_size", "fps", "calibration", "zones", "abandoned_after_s"}, where)
        for key in ("camera", "image_size", "fps", "calibration"):
            if key not in d:
                raise SiteError(f"{where}: missing key {key!r}")
        cal = d["calibration"]
        if not isinstance(cal, dict):
            raise SiteError(f"{where}.calibration: expected a mapping; got {cal!r}")
        _reject_unknown(cal, {"homography", "points", "projection"}, f"{where}.calibration")
        projection = None
        if "projection" in cal:
            projection = _matrix(cal["projection"], (3, 4), f"{where}.calibration.projection")
        if "homography" in cal:
            hom = _matrix(cal["homography"], (3, 3), f"{where}.calibration.homography")
        elif "points" in cal:
            hom = homography_from_points(cal["points"], where=f"{where}.calibration.points")
        elif projection is not None:
            hom = projection[:, [0, 1, 3]]
        else:
            raise SiteError(f"{where}.calibration: give homography, points or projection")
        raw_zones = d.get("zones") or []
        if not isinstance(raw_zones, list):
            raise SiteError(f"{where}.zones: expected a list of zones; got {raw_zones!r}")
        zones = []
        for i, z in enumerate(raw_zones):
            zw = f"{where}.zones[{i}]"
            if not isinstance(z, dict):
                raise SiteError(f"{zw}: expected a mapping; got {z!r}")
            _reject_unknown(z, {"name", "kind", "polygon", "direction_deg", "capacity_per_m2", "allowed"}, zw)
            try:
                kind = ZoneKind(z.get("kind"))
            except ValueError:
                raise SiteError(f"{zw}.kind: expected one of forbidden, one_way, density; got {z.get('kind')!r}") from None
            try:
                zones.append(
                    Zone(
                        name=str(z.get("name", f"zone{i}")),
                        kind=kind,
                        polygon_m=np.asarray(z.get("polygon"), dtype=np.float64),
                        direction_deg=z.get("direction_deg"),
                        capacity_per_m2=z.get("capacity_per_m2"),
                        allowed=z.get("allowed") or (),
                    )
                )
            except (SiteError, ValueError, TypeError, OverflowError) as exc:
                raise SiteError(f"{zw}: {exc}") from None
        try:
            return cls(
                camera=d["camera"],
                image_size=d["image_size"],
                fps=d["fps"],
                homography=hom,
                projection=projection,
                zones=tuple(zones),
                abandoned_after_s=d.get("abandoned_after_s", 10.0),
            )
        except (TypeError, ValueError, OverflowError) as exc:
            raise SiteError(f"{where}: {exc}") from None

    @classmethod
    def load(cls, path) -> "SiteConfig":
        data = read_yaml(path, SiteError, "site configuration")
        return cls.from_dict(data, where=str(path))


def homography_from_points(points, *, where: str = "points") -> np.ndarray:
    """Ground-to-image homography from >= 4 ``{ground: [x, y], image: [u, v]}`` pairs."""
    import cv2

    if not isinstance(points, list) or len(points) < 4:
        raise SiteError(f"{where}: need at least 4 ground/image pairs; got {points!r}")
    try:
        g = np.array([p["ground"] for p in points], dtype=np.float64)
        im = np.array([p["image"] for p in points], dtype=np.float64)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise SiteError(f"{where}: each pair needs ground: [x, y] and image: [u, v] ({exc})") from None
    if g.shape != (len(points), 2) or im.shape != g.shape or not (np.all(np.isfinite(g)) and np.all(np.isfinite(im))):
        raise SiteError(f"{where}: each pair needs ground: [x, y] and image: [u, v] of finite numbers; got {points!r}")
    hom, _ = cv2.findHomography(g, im, 0)
    if hom is None:
        raise SiteError(f"{where}: the points are degenerate (collinear?); no homography fits")
    return hom


def _in_front(h: np.ndarray, bounds: tuple[float, float, float, float]) -> shapely.Polygon:
    """The ground within ``bounds`` (widened) where the homography's depth ``w`` is positive: in front of the camera.

    ``w`` is linear in (x, y), so the region is the box cut by one line (a convex polygon);
    a small margin keeps the points whose projection would run off to infinity out.
    """
    x0, y0, x1, y1 = bounds
    pad = 1.0 + max(x1 - x0, y1 - y0)
    corners = np.array([[x0 - pad, y0 - pad], [x1 + pad, y0 - pad], [x1 + pad, y1 + pad], [x0 - pad, y1 + pad]])
    w = np.c_[corners, np.ones(4)] @ h[2]
    eps = 1e-9 * float(np.max(np.abs(w))) if np.any(w) else 0.0
    kept = []
    for k in range(4):  # Sutherland-Hodgman against the half-plane w > eps
        a, b, wa, wb = corners[k], corners[(k + 1) % 4], w[k] - eps, w[(k + 1) % 4] - eps
        if wa > 0:
            kept.append(a)
        if (wa > 0) != (wb > 0):
            kept.append(a + (b - a) * (wa / (wa - wb)))
    return shapely.Polygon(kept) if len(kept) >= 3 else shapely.Polygon()


def _finite(value) -> bool:
    """A real number (not a boolean, not a string), finite."""
    if not isinstance(value, (int, float, np.number)) or isinstance(value, (bool, np.bool_)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an integer too large for a float
        return False


def _matrix(value, shape: tuple[int, int], where: str) -> np.ndarray:
    """A matrix of finite numbers of ``shape``; SiteError naming ``where`` otherwise."""
    try:
        m = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        m = None
    if m is None or m.shape != shape or not np.all(np.isfinite(m)):
        raise SiteError(f"{where}: expected a {shape[0]}x{shape[1]} matrix of finite numbers; got {value!r}")
    return m


#: up to this many points a homography is applied in Python floats (the same IEEE operations in the same
#: order as numpy's, so the same results, without numpy's per-call cost: 5 us instead of 25 for one point)
_FEW_POINTS = 16
_NAN = float("nan")


def _apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 3x3 homography to (N, 2) points (nan where the point maps behind the camera)."""
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    if len(pts) <= _FEW_POINTS:  # the per-person calls of the detectors: a few points each
        (h00, h01, h02), (h10, h11, h12), (h20, h21, h22) = h.tolist()
        out = []
        for x, y in pts.tolist():
            w = h20 * x + h21 * y + h22
            out.append(((h00 * x + h01 * y + h02) / w, (h10 * x + h11 * y + h12) / w) if w > 0 else (_NAN, _NAN))
        return np.array(out, dtype=np.float64).reshape(-1, 2)
    x, y = pts[:, 0], pts[:, 1]
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.empty_like(pts)
        out[:, 0] = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w
        out[:, 1] = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w
    out[~(w > 0)] = np.nan
    return out


def _reject_unknown(d: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise SiteError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}")


def angle_deg(v: np.ndarray) -> np.ndarray:
    """Direction of (N, 2) vectors in degrees counter-clockwise from +x."""
    return np.degrees(np.arctan2(v[..., 1], v[..., 0]))

