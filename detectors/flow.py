"""Dense optical flow at reduced resolution, and its conversion to walking velocities on the ground.

:class:`OpticalFlow` runs ``cv2.DISOpticalFlow`` (Kroeger et al., ECCV 2016; preset
ULTRAFAST) between consecutive grey frames at ``flow_width`` pixels wide (160 for a 320x180
working image: about 0.25 ms a frame on one core, against 1.2 ms at 320x180). The flow is
computed only when a detector asks for it, at most once per frame; the previous frame is
kept downscaled every frame so that the first request of a frame is always a one-step flow.

Image motion of a body pixel is turned into ground velocity with the calibration's
Jacobian at the *mid-body foot point* of that pixel (the foot of a person whose middle
covers it, :meth:`~detectors.geometry.WorkGrid.foot_row_of_part`): a body moves with its
feet, so the displacement of its middle, measured in pixels, is carried to the floor where
its feet are. :attr:`OpticalFlow.persons_per_px` is the share of one person a flow pixel of
a silhouette stands for there (the perspective map of Chan et al. 2008, from the calibration).
"""

from __future__ import annotations

import cv2
import numpy as np

from detectors.geometry import WorkGrid


class OpticalFlow:
    """DIS flow between consecutive frames at ``flow_width`` px wide, with per-pixel ground maps."""

    def __init__(self, grid: WorkGrid, *, flow_width: int = 160) -> None:
        ww, wh = grid.work_size
        fw = max(8, min(int(flow_width), ww))
        fh = max(8, int(round(wh * fw / ww)))
        self.grid = grid
        self.size = (fw, fh)  #: (width, height) [px] of the flow field
        self.scale = (ww / fw, wh / fh)  #: working px per flow px (x, y)
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._prev: np.ndarray | None = None
        self._cur: np.ndarray | None = None
        self._dt = 0.0
        self._t: float | None = None
        self._flow: np.ndarray | None = None
        self._prepare_maps()

    def _prepare_maps(self) -> None:
        g = self.grid
        fw, fh = self.size
        sx, sy = self.scale
        v, u = np.mgrid[0:fh, 0:fw]
        uw = np.clip(((u + 0.5) * sx).astype(np.int64), 0, g.work_size[0] - 1)
        vw = np.clip(((v + 0.5) * sy).astype(np.int64), 0, g.work_size[1] - 1)
        mid = g.foot_row_of_part(0.5)[vw, uw]
        ok = mid >= 0
        jac = np.full((fh, fw, 2, 2), np.nan)
        jac[ok] = g.ground_jacobian()[mid[ok], uw[ok]]
        # image displacement in flow px -> working px: scale the Jacobian's columns
        jac[..., 0] *= sx
        jac[..., 1] *= sy
        #: (fh, fw, 2, 2) [m per flow px] ground displacement of a body pixel's feet per pixel of motion
        self.jacobian = jac
        self._jac_flat = np.ascontiguousarray(jac.reshape(-1, 4))
        area = np.full((fh, fw), np.nan)
        area[ok] = g.expected_area_px[mid[ok], uw[ok]]
        px_full = sx * sy * g.sx * g.sy  # full-resolution pixels in one flow pixel
        with np.errstate(invalid="ignore", divide="ignore"):
            #: (fh, fw) [persons] share of one person's silhouette a flow pixel stands for (0 above the horizon)
            self.persons_per_px = np.nan_to_num(px_full / area, nan=0.0, posinf=0.0)
        #: (fh, fw, 2) [m] the mid-body foot point's ground position of each flow pixel (nan above the horizon)
        self.ground_m = np.full((fh, fw, 2), np.nan)
        self.ground_m[ok] = g.ground_m[mid[ok], uw[ok]]
        #: (fh, fw) bool: the flow pixel has a ground position
        self.valid = ok

    def feed(self, t: float, grey: np.ndarray) -> None:
        """Keep the downscaled grey frame of time ``t`` [s] (every frame; cheap)."""
        small = cv2.resize(grey, self.size, interpolation=cv2.INTER_AREA)
        self._prev, self._cur = self._cur, small
        self._dt = 0.0 if self._t is None else float(t) - self._t
        self._t = float(t)
        self._flow = None

    def flow(self) -> np.ndarray:
        """(fh, fw, 2) float32 [flow px per second] motion from the previous frame to this one (zeros on
        the first frame)."""
        if self._flow is None:
            if self._prev is None or self._dt <= 0:
                self._flow = np.zeros((self.size[1], self.size[0], 2), np.float32)
            else:
                f = self._dis.calc(self._prev, self._cur, None)
                self._flow = f * np.float32(1.0 / self._dt)
        return self._flow

    def ground_velocity(self, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(index, velocity)``: flat indices of the flow pixels of ``mask`` (a bool (fh, fw) array;
        default all) that have a ground position, and their (K, 2) ground velocity [m/s]."""
        ok = self.valid if mask is None else (mask & self.valid)
        idx = np.flatnonzero(ok)
        f = self.flow().reshape(-1, 2)[idx]
        j = self._jac_flat[idx]  # (K, 4) rows a b c d of [[a, b], [c, d]]
        fx, fy = f[:, 0], f[:, 1]
        out = np.empty((len(idx), 2))
        out[:, 0] = j[:, 0] * fx + j[:, 1] * fy
        out[:, 1] = j[:, 2] * fx + j[:, 3] * fy
        return idx, out
