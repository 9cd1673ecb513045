"""The canvas a renderer draws on, as its drawers see it: camera, lens, brightness, world-to-pixel projections.

The canvas is the camera's image with a margin on every side (room for camera shake); its
pixel coordinates are those of :class:`sim.render.camera.PinholeCamera`, shifted by the
margin. Shapes are drawn in fixed point with :data:`SHIFT` fractional bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.render.camera import PinholeCamera
from sim.render.effects import LensDistortion

SHIFT = 3  #: fractional bits of the drawing coordinates (1/8 px)
COORD_LIMIT = 2.0**31 / (1 << SHIFT) / 4  #: [px] keeps fixed-point coordinates inside int32


@dataclass(frozen=True, kw_only=True)
class CanvasView:
    """One camera's canvas: its pinhole camera, the lens distortion (None without) and the scenario's brightness."""

    camera: PinholeCamera  #: the canvas camera (the image and its margin)
    lens: LensDistortion | None
    brightness: float  #: the scenario's ``render.brightness``, a gain on every drawn colour
    #: x0 y0 x1 y1 [px] of the undistorted canvas region that shows in the (distorted) canvas
    cull_box: tuple[float, float, float, float]

    @property
    def focal_px(self) -> float:
        return self.camera.focal_px

    def project(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points -> canvas pixels (through the lens); points behind the camera are pulled to its near plane."""
        cam = self.camera
        p = np.stack([np.asarray(x, float), np.asarray(y, float), np.asarray(z, float)], axis=-1) - cam.position
        pc = p @ cam.R.T
        d = np.maximum(pc[..., 2], 0.05)
        u = cam.K[0, 0] * pc[..., 0] / d + cam.K[0, 2]
        v = cam.K[1, 1] * pc[..., 1] / d + cam.K[1, 2]
        if self.lens is not None:
            u, v = self.lens.distort(u, v)
        return u, v

    def project_with_depth(self, x, y, z) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World points (p, k) -> canvas pixels u, v (through the lens) and depth [m], component by component."""
        cam = self.camera
        R, C, K = cam.R, cam.position, cam.K
        dx, dy, dz = x - C[0], y - C[1], z - C[2]
        xc = R[0, 0] * dx + R[0, 1] * dy + R[0, 2] * dz
        yc = R[1, 0] * dx + R[1, 1] * dy + R[1, 2] * dz
        depth = np.maximum(R[2, 0] * dx + R[2, 1] * dy + R[2, 2] * dz, 0.05)
        u = K[0, 0] * xc / depth + K[0, 2]
        v = K[1, 1] * yc / depth + K[1, 2]
        if self.lens is not None:
            u, v = self.lens.distort(u, v)
        return u, v, depth

    def ground_depth(self, xy: np.ndarray) -> np.ndarray:
        """[m] depth of ground points (k, 2): the painter's sort key of what stands there."""
        cam = self.camera
        return (xy - cam.position[:2]) @ cam.R[2, :2] - cam.position[2] * cam.R[2, 2]

    def scaled(self, colour) -> tuple[int, int, int]:
        """A BGR colour times the brightness, as OpenCV's int tuple."""
        g = float(self.brightness)
        return tuple(int(min(255, max(0, round(float(c) * g)))) for c in colour)


def fixed_points(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(p, k) image points -> (k, p, 2) int32 fixed-point outlines for OpenCV (:data:`SHIFT` fractional bits)."""
    scale = float(1 << SHIFT)
    pf = np.stack([u, v], axis=-1) * scale  # (p, k, 2)
    np.clip(pf, -COORD_LIMIT * scale, COORD_LIMIT * scale, out=pf)
    return np.ascontiguousarray(np.rint(pf).astype(np.int32).transpose(1, 0, 2))
