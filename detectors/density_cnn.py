"""A small fully-convolutional network that maps a grey frame to a map of foot points.

Input: the perception's grey working image (320x180 for a 640x360 camera), scaled to
[0, 1]. Output: a non-negative density map at a quarter of the working resolution
(80x45) whose sum over any set of cells is the number of persons whose *foot point* (the
projection of their ground position) falls in those cells. A zone's count is therefore
the sum of the map over the cells whose ground point lies in the zone's polygon: the same
rule the ground truth uses (agents whose position is in the zone).

Architecture (:func:`build_net`): six 3x3 convolutions, the first two with stride 2,
the middle three dilated 1, 2, 4 (receptive field 63 working pixels, the height of a
person close to a station camera at 320x180), ReLU between, and a 1x1 head followed by
``softplus`` (a density is never negative). 32,577 parameters (a 135 kB state_dict).

Status: an option of :class:`detectors.density.DensityDetector` (``method="cnn"``), not
its default. Shipped weights (6 epochs on 2,037 rendered frames, 139 s on 2 cores): on
the demo's held-out ``concourse_overcrowding`` seed 12 the RMS error of the zone's
density is 0.42 persons/m² against 0.33 for the pixel estimate, and its peak reads 2.09
against a true 2.40 (pixels 1.94); neither reaches the alert. Twenty epochs with two more
training seeds fitted the training set better and the held-out set worse (0.57). Dense,
mutually occluding crowds at the gate line are where both undercount.

Weights are trained by ``stationwatch train-density`` (:mod:`eval.train_density`) on
footage the testbed renders and shipped in ``detectors/weights/density_cnn.pt`` (a
state_dict) with ``density_cnn.json`` (the command, seed, scenarios and errors).

torch is imported inside functions only: importing this module costs nothing, and a
deployment without torch keeps the ``"pixels"`` method. :class:`DensityCNN` does not
change torch's global thread count; run under ``OMP_NUM_THREADS=1`` (or call
``torch.set_num_threads(1)`` in the application) for the one-core figures.
"""

from __future__ import annotations

import os

import numpy as np

#: where the shipped weights live (package data)
WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights", "density_cnn.pt")
#: output cells per working pixel along each axis
STRIDE = 4
#: channels of the hidden layers
CHANNELS = 32


def build_net(channels: int = CHANNELS):
    """The untrained network (a ``torch.nn.Sequential``): (N, 1, H, W) -> (N, 1, ceil(H/4), ceil(W/4))."""
    import torch
    from torch import nn

    c = int(channels)
    half = max(8, c // 2)
    net = nn.Sequential(
        nn.Conv2d(1, half, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(half, c, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c, c, 3, padding=2, dilation=2), nn.ReLU(inplace=True),
        nn.Conv2d(c, c, 3, padding=4, dilation=4), nn.ReLU(inplace=True),
        nn.Conv2d(c, 1, 1), nn.Softplus(beta=4.0),
    )
    with torch.no_grad():
        net[10].bias.fill_(-2.0)  # start near an empty map (softplus(-8) / 4 = 8e-5 per cell)
    return net


def output_size(work_size: tuple[int, int]) -> tuple[int, int]:
    """(width, height) [cells] of the density map for a working image of ``work_size`` (w, h) px."""
    w, h = int(work_size[0]), int(work_size[1])
    return (-(-w // STRIDE), -(-h // STRIDE))


def cell_foot_points(work_size: tuple[int, int], image_size: tuple[int, int]) -> np.ndarray:
    """(H', W', 2) [full-resolution px] the image point each output cell stands for (its centre)."""
    ow, oh = output_size(work_size)
    sx = image_size[0] / (work_size[0] / STRIDE)
    sy = image_size[1] / (work_size[1] / STRIDE)
    v, u = np.mgrid[0:oh, 0:ow]
    return np.stack([(u + 0.5) * sx, (v + 0.5) * sy], axis=-1)


def splat_feet(foot_px: np.ndarray, work_size: tuple[int, int], image_size: tuple[int, int],
               sigma_cells: float = 1.0) -> np.ndarray:
    """(H', W') float32 training target: one unit of mass per foot point [full-res px], bilinear
    then Gaussian-blurred (``sigma_cells`` [cells]); feet outside the image add nothing."""
    import cv2

    ow, oh = output_size(work_size)
    out = np.zeros((oh, ow), np.float64)
    p = np.asarray(foot_px, np.float64).reshape(-1, 2)
    p = p[np.all(np.isfinite(p), axis=1)]
    p = p[(p[:, 0] >= 0) & (p[:, 0] < image_size[0]) & (p[:, 1] >= 0) & (p[:, 1] < image_size[1])]
    if len(p):
        cu = p[:, 0] * (work_size[0] / STRIDE) / image_size[0] - 0.5
        cv = p[:, 1] * (work_size[1] / STRIDE) / image_size[1] - 0.5
        u0, v0 = np.floor(cu).astype(np.int64), np.floor(cv).astype(np.int64)
        fu, fv = cu - u0, cv - v0
        for du, dv, w in ((0, 0, (1 - fu) * (1 - fv)), (1, 0, fu * (1 - fv)), (0, 1, (1 - fu) * fv), (1, 1, fu * fv)):
            uu, vv = np.clip(u0 + du, 0, ow - 1), np.clip(v0 + dv, 0, oh - 1)
            np.add.at(out, (vv, uu), w)
    if sigma_cells > 0:
        out = cv2.GaussianBlur(out, (0, 0), sigma_cells, borderType=cv2.BORDER_REFLECT)
    return out.astype(np.float32)


class DensityCNN:
    """The trained network, frozen for inference: ``predict(grey)`` -> density map.

    ``path``: a state_dict written by :mod:`eval.train_density` (default: the shipped
    weights). Raises ``FileNotFoundError`` naming the path when it is missing.
    """

    def __init__(self, path: str = WEIGHTS_FILE, *, channels: int = CHANNELS) -> None:
        import torch

        if not os.path.exists(path):
            raise FileNotFoundError(f"density CNN weights not found at {path!r}; "
                                    f"train them with `stationwatch train-density`")
        state = torch.load(path, map_location="cpu", weights_only=True)
        net = build_net(channels)
        net.load_state_dict(state)
        net.eval()
        self.path = path
        self.net = net
        self._traced = None
        self._traced_shape: tuple[int, int] | None = None

    def _module(self, shape: tuple[int, int]):
        """The network traced and frozen for input (H, W), rebuilt when the size changes."""
        import torch

        if self._traced_shape != shape:
            x = torch.zeros(1, 1, *shape).contiguous(memory_format=torch.channels_last)
            with torch.no_grad():
                traced = torch.jit.trace(self.net, x)
                self._traced = torch.jit.freeze(traced.eval())
                for _ in range(2):  # the first calls of a frozen module optimise it
                    self._traced(x)
            self._traced_shape = shape
        return self._traced

    def predict(self, grey: np.ndarray) -> np.ndarray:
        """(H', W') float32 [persons per cell] density map of a (H, W) uint8 grey image."""
        import torch

        g = np.asarray(grey)
        if g.ndim != 2 or g.dtype != np.uint8:
            raise ValueError(f"DensityCNN.predict: grey must be a (H, W) uint8 image; got {g.shape} {g.dtype}")
        x = torch.from_numpy(g).to(torch.float32).mul_(1.0 / 255.0)[None, None]
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            y = self._module(g.shape)(x)
        return y[0, 0].numpy().astype(np.float32, copy=False)
