"""Pinhole camera model: world (x, y, z metres, z up) to image pixels.

Pixel coordinates follow OpenCV's drawing convention: the centre of pixel (column i,
row j) is the point (u=i, v=j); the principal point is the image centre
((W - 1) / 2, (H - 1) / 2). The camera has square pixels, no lens distortion and no
roll: the image's horizontal axis stays parallel to the floor.

Camera coordinates are OpenCV's: x to the right of the image, y down the image, z along
the optical axis (the depth).

Example::

    cam = PinholeCamera.from_spec(scenario.camera("hall"))
    uv, depth = cam.project(np.array([[17.0, 8.0, 0.0]]))   # the look-at point
    # uv ~ [[319.5, 179.5]], depth ~ 14.5 m
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: [m] points closer to the camera plane than this are treated as behind the camera
NEAR_M = 0.05


@dataclass(frozen=True, kw_only=True)
class PinholeCamera:
    """A calibrated camera. Build it with :meth:`from_spec` or :meth:`look_at`."""

    name: str
    width: int  #: [px]
    height: int  #: [px]
    fps: float  #: [frames/s]
    K: np.ndarray  #: (3, 3) intrinsics
    R: np.ndarray  #: (3, 3) rotation world -> camera (rows: camera x, y, z axes in world)
    position: np.ndarray  #: (3,) [m] camera centre in the world

    def __post_init__(self) -> None:
        for key, shape in (("K", (3, 3)), ("R", (3, 3)), ("position", (3,))):
            arr = np.asarray(getattr(self, key), dtype=np.float64)
            if arr.shape != shape or not np.all(np.isfinite(arr)):
                raise ValueError(f"PinholeCamera.{key} must be a finite array of shape {shape}; got {arr.shape}")
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, key, arr)
        if not np.allclose(self.R @ self.R.T, np.eye(3), atol=1e-9):
            raise ValueError("PinholeCamera.R must be a rotation matrix (orthonormal rows)")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"PinholeCamera size must be positive; got {self.width}x{self.height}")

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def look_at(cls, *, position, look_at, hfov_deg: float, resolution: tuple[int, int],
                fps: float = 10.0, name: str = "cam") -> "PinholeCamera":
        """Camera at ``position`` [m] whose optical axis passes through ``look_at`` [m].

        ``hfov_deg`` is the horizontal field of view; the vertical one follows from the
        aspect ratio (square pixels). World z is up and the camera has no roll; a camera
        looking straight down keeps world +x as the image's right-hand direction.
        """
        if not 0 < hfov_deg < 180:
            raise ValueError(f"hfov_deg must be within (0, 180); got {hfov_deg}")
        w, h = (int(v) for v in resolution)
        c = np.asarray(position, dtype=np.float64)
        forward = np.asarray(look_at, dtype=np.float64) - c
        n = float(np.linalg.norm(forward))
        if n < 1e-9:
            raise ValueError(f"look_at must differ from position; both are {tuple(c)}")
        forward /= n
        right = np.cross(forward, (0.0, 0.0, 1.0))
        if np.linalg.norm(right) < 1e-9:  # straight down or up: no roll is undefined, keep +x right
            right = np.array([1.0, 0.0, 0.0])
            right -= forward * (right @ forward)
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        f_px = (w / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        K = np.array([[f_px, 0.0, (w - 1) / 2.0], [0.0, f_px, (h - 1) / 2.0], [0.0, 0.0, 1.0]])
        return cls(name=name, width=w, height=h, fps=float(fps), K=K, R=np.stack([right, down, forward]), position=c)

    @classmethod
    def from_spec(cls, spec) -> "PinholeCamera":
        """Camera from a scenario's :class:`sim.scenario.CameraSpec`."""
        return cls.look_at(position=spec.position, look_at=spec.look_at, hfov_deg=spec.hfov_deg,
                           resolution=spec.resolution, fps=spec.fps, name=spec.name)

    def shifted(self, du: float, dv: float, width: int, height: int) -> "PinholeCamera":
        """The same camera with its principal point moved by (du, dv) px on a canvas of another size.

        Used to render a margin around the image (for camera shake): pixel (u, v) of this
        camera is pixel (u + du, v + dv) of the shifted one.
        """
        K = self.K.copy()
        K[0, 2] += du
        K[1, 2] += dv
        return PinholeCamera(name=self.name, width=int(width), height=int(height), fps=self.fps, K=K, R=self.R,
                             position=self.position)

    # --- matrices ---------------------------------------------------------------------------
    @property
    def focal_px(self) -> float:
        """[px] focal length (square pixels)."""
        return float(self.K[0, 0])

    @property
    def translation(self) -> np.ndarray:
        """t = -R C, so that x_cam = R x_world + t."""
        return -self.R @ self.position

    @property
    def projection(self) -> np.ndarray:
        """(3, 4) matrix P = K [R | t]: homogeneous world (x, y, z, 1) [m] -> image (u, v, 1) up to scale."""
        return self.K @ np.c_[self.R, self.translation]

    @property
    def ground_homography(self) -> np.ndarray:
        """(3, 3) matrix: ground (x, y, 1) [m] on the plane z = 0 -> image (u, v, 1) up to scale."""
        return self.projection[:, [0, 1, 3]]

    @property
    def horizon_line(self) -> np.ndarray:
        """Line coefficients (a, b, c), a u + b v + c = 0, of the ground plane's vanishing line."""
        return np.linalg.inv(self.K).T @ (self.R @ np.array([0.0, 0.0, 1.0]))

    # --- projection ---------------------------------------------------------------------------
    def to_camera(self, points_xyz: np.ndarray) -> np.ndarray:
        """(N, 3) world points [m] -> (N, 3) camera-frame points [m] (x right, y down, z depth)."""
        p = np.asarray(points_xyz, dtype=np.float64).reshape(-1, 3)
        return (p - self.position) @ self.R.T

    def project(self, points_xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Project (..., 3) world points [m] to pixels.

        Returns ``(uv, depth)``: (..., 2) pixel coordinates and (...,) depth [m] along the
        optical axis. Points with depth <= :data:`NEAR_M` (behind the camera) get nan pixels;
        test them with :meth:`in_front`.
        """
        p = np.asarray(points_xyz, dtype=np.float64)
        shape = p.shape[:-1]
        pc = self.to_camera(p)
        depth = pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.K[0, 0] * pc[:, 0] / depth + self.K[0, 2]
            v = self.K[1, 1] * pc[:, 1] / depth + self.K[1, 2]
        uv = np.stack([u, v], axis=1)
        uv[depth <= NEAR_M] = np.nan
        return uv.reshape(*shape, 2), depth.reshape(shape)

    def depth_of(self, points_xyz: np.ndarray) -> np.ndarray:
        """(...,) depth [m] along the optical axis of (..., 3) world points."""
        p = np.asarray(points_xyz, dtype=np.float64)
        return (p - self.position) @ self.R[2]

    def in_front(self, points_xyz: np.ndarray) -> np.ndarray:
        """(...,) bool: which world points lie in front of the camera (depth > NEAR_M)."""
        return self.depth_of(points_xyz) > NEAR_M

    def in_image(self, uv: np.ndarray, margin_px: float = 0.0) -> np.ndarray:
        """(...,) bool: which pixel points fall inside the image (pixel centres at integers)."""
        uv = np.asarray(uv, dtype=np.float64)
        u, v = uv[..., 0], uv[..., 1]
        with np.errstate(invalid="ignore"):
            return ((u >= -0.5 - margin_px) & (u < self.width - 0.5 + margin_px)
                    & (v >= -0.5 - margin_px) & (v < self.height - 0.5 + margin_px))

    def ground_to_image(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) ground points [m] -> (N, 2) pixels; points behind the camera give nan."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        uv, _ = self.project(np.c_[xy, np.zeros(len(xy))])
        return uv

    def image_to_ground(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) pixels -> (N, 2) ground points [m] on z = 0; pixels at or above the horizon give nan."""
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        d = self.pixel_rays(uv)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = -self.position[2] / d[:, 2]
        s[~(d[:, 2] < 0)] = np.nan
        return self.position[:2] + s[:, None] * d[:, :2]

    def pixel_rays(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) pixels -> (N, 3) world ray directions (not normalised; unit depth along the axis)."""
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        kinv = np.linalg.inv(self.K)
        rays_cam = np.c_[uv, np.ones(len(uv))] @ kinv.T
        return rays_cam @ self.R

    def px_per_m(self, depth_m: np.ndarray) -> np.ndarray:
        """[px/m] image scale of a small object facing the camera at ``depth_m``."""
        return self.focal_px / np.asarray(depth_m, dtype=np.float64)
