"""A small fully-convolutional network that maps a frame to a map of people's heads (or foot points).

Input (:func:`net_input`): two channels at the perception's working resolution (320x180 for
a 640x360 camera): the grey image scaled to [0, 1], and the *perspective channel*, the
image height [working rows / 64] of a person whose feet stand at each pixel (from the
site's calibration; 0 above the horizon). With it the network knows how large a person is
wherever it looks, so one set of weights serves cameras at any height and tilt
(perspective-aware counting, after Shi et al., "Revisiting perspective information for
efficient crowd counting", CVPR 2019, who feed a perspective map the same way).

Output: a non-negative density map at a quarter of the working resolution (80x45) whose
sum over any set of cells is the number of persons whose *head* (the centre of the head as
drawn; weights whose model card says ``"target": "foot"`` or nothing: the *foot point*, the
projection of the ground position) falls in those cells. Targets (:func:`splat_feet`) put one
unit of mass per person spread by a Gaussian whose width follows that person's image size
(perspective-normalised): a far person is a sharp peak, a near one a wide blob, both of mass 1.
A zone's count is the sum over the cells that belong to it: for foot targets the cells whose
ground point lies in the zone (the ground truth's rule, agents whose position is in the zone);
for head targets the cells where the head of a person standing in the zone shows, i.e. whose
foot point, :data:`HEAD_FRACTION` of the expected person height below (the site's calibration),
lies in the zone (:class:`detectors.density.DensityDetector`).

Why heads (``stationwatch train density --target head``): in a packed crowd the feet are
hidden behind the people in front, the heads are not. Measured on the gate approach of
``concourse_overcrowding`` (people standing at least 0.38 m apart, rendered through the hall
camera, three draws each), the share of foot points that the inner body of a nearer person
covers grows from 0.39 at 1 person/m² to 0.60 at 2 and 0.78 at 3.5, while the share of covered
heads stays at 0.00 to 0.02. Head-target weights trained so far saturate near capacity all
the same and are not shipped (:mod:`train.density` has the measurement): the shipped weights
are foot-target ones.

Architecture (:func:`build_net`): two stride-2 3x3 convolutions (to 1/4), four 3x3
convolutions dilated 1, 2, 4, 8 (a receptive field of about 130 working pixels, the height
of the nearest people of a station camera), ReLU between, a 1x1 head and ``softplus``.
About 42,000 parameters (a 173 kB state_dict).

Input resolution: weights whose model card gives ``input_width`` (``stationwatch train density
--work-width 640``) were trained on the camera's full-resolution frame, where a far person's head
is 4.5-7 px instead of 2.3-3.4 and the output cells are 2 working px; the density detector runs
them on a crop of the full-resolution frame around its zones (:func:`load_input_width`,
:meth:`detectors.density.DensityDetector._prepare_cells`). Weights without it (the shipped ones)
read the working image. Measured and not shipped: :mod:`detectors.density` ("Known limit").

Inference under :func:`torch.inference_mode`, channels-last, about 2-3 ms per 320x180
frame on one core; the density detector runs it a few times per second, not every frame
(:attr:`detectors.perception.Perception.density_every_s`).

Weights are trained by ``stationwatch train density`` (:mod:`train.density`) on footage the
testbed renders at training seeds only, and shipped in ``detectors/weights/density_cnn.pt``
with the model card ``density_cnn.json`` (data, command, seed, time, held-out validation
against the classical pixel estimate).

torch is imported inside functions only: importing this module costs nothing. The network
runs on one thread (torch's thread count is set to 1 for the call and restored after), so
that its floats, and the scores and alerts they lead to, are the same on any machine.
"""

from __future__ import annotations

import os

import numpy as np

from detectors.nets import load_net

#: where the shipped weights live (package data)
WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights", "density_cnn.pt")
#: output cells per working pixel along each axis
STRIDE = 4
#: channels of the hidden layers at 1/4 resolution
CHANNELS = 32
#: input channels: grey, perspective
IN_CHANNELS = 2
#: [working rows] the perspective channel is the expected person height divided by this
PERSPECTIVE_SCALE_ROWS = 64.0
#: where a person's unit of mass lies in the training targets: the image point of its ground
#: position (``"foot"``) or the centre of its head (``"head"``); the model card says which
TARGETS = ("foot", "head")
#: [share of a person's height above the foot] where a head's centre lies (a 1.75 m person's head
#: centre at about 1.63 m): a head cell is mapped to the foot point of a person whose head is there
HEAD_FRACTION = 0.93
#: spread of a person's mass in the targets, as a share of the person's expected image height
SPREAD_OF_HEIGHT = 0.12


def build_net(channels: int = CHANNELS):
    """The untrained network (a ``torch.nn.Sequential``): (N, 2, H, W) -> (N, 1, ceil(H/4), ceil(W/4))."""
    import torch
    from torch import nn

    c = int(channels)
    half = max(8, c // 2)
    net = nn.Sequential(
        nn.Conv2d(IN_CHANNELS, half, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(half, c, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c, c, 3, padding=2, dilation=2), nn.ReLU(inplace=True),
        nn.Conv2d(c, c, 3, padding=4, dilation=4), nn.ReLU(inplace=True),
        nn.Conv2d(c, c, 3, padding=8, dilation=8), nn.ReLU(inplace=True),
        nn.Conv2d(c, 1, 1), nn.Softplus(beta=4.0),
    )
    with torch.no_grad():
        net[12].bias.fill_(-2.0)  # start near an empty map (softplus(-8) / 4 = 8e-5 per cell)
    return net


def widen_state(state: dict, channels: int, *, seed: int = 0) -> dict:
    """A state_dict of :func:`build_net` at ``channels`` that computes what ``state`` (narrower, same
    architecture) computes: the old weights in place, the new channels drawn as a fresh network's
    (seeded by ``seed``) with their outgoing weights zero, so a wider network starts from trained weights
    and its new channels are what further training fills (function-preserving widening, Chen et al.,
    "Net2Net", ICLR 2016, with zero outgoing weights instead of split ones)."""
    import torch

    torch.manual_seed(seed)
    wide = build_net(channels).state_dict()
    out = {}
    for name, w in wide.items():
        old = state[name]
        if old.dim() > w.dim() or any(a > b for a, b in zip(old.shape, w.shape)):
            raise ValueError(f"widen_state: {name} is {tuple(old.shape)}, wider than {tuple(w.shape)} at "
                             f"{channels} channels")
        w = w.clone()
        if w.dim() == 4:
            w[:old.shape[0], old.shape[1]:] = 0.0  # new inputs do not reach the old outputs
            w[:old.shape[0], :old.shape[1]] = old
        else:
            w[:old.shape[0]] = old
        out[name] = w
    return out


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


def perspective_channel(person_rows: np.ndarray) -> np.ndarray:
    """(H, W) float32 perspective input from a map of expected person heights [working rows]
    (:attr:`detectors.perception.WorkGrid.person_rows`; nan above the horizon becomes 0)."""
    p = np.nan_to_num(np.asarray(person_rows, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(p / np.float32(PERSPECTIVE_SCALE_ROWS), 0.0, 8.0).astype(np.float32)


def splat_feet(foot_px: np.ndarray, work_size: tuple[int, int], image_size: tuple[int, int],
               sigma_cells: float | np.ndarray = 1.0) -> np.ndarray:
    """(H', W') float32 training target: one unit of mass per foot point [full-res px].

    ``sigma_cells`` [cells]: the Gaussian spread, one value or one per foot (perspective-
    normalised targets give each person a spread proportional to its image size). Each
    foot's Gaussian is normalised over the cells it reaches inside the map, so a foot
    inside the image adds exactly 1; feet outside the image (or nan) add nothing.
    """
    ow, oh = output_size(work_size)
    out = np.zeros((oh, ow), np.float64)
    p = np.asarray(foot_px, np.float64).reshape(-1, 2)
    sig = np.broadcast_to(np.asarray(sigma_cells, np.float64), (len(p),))
    ok = np.all(np.isfinite(p), axis=1)
    ok &= (p[:, 0] >= 0) & (p[:, 0] < image_size[0]) & (p[:, 1] >= 0) & (p[:, 1] < image_size[1])
    p, sig = p[ok], sig[ok]
    if len(p) == 0:
        return out.astype(np.float32)
    cu = p[:, 0] * (work_size[0] / STRIDE) / image_size[0] - 0.5  # cell coordinates of each foot
    cv = p[:, 1] * (work_size[1] / STRIDE) / image_size[1] - 0.5
    sharp = sig <= 0.05
    if sharp.any():  # bilinear: a foot at a cell centre lands in that cell only
        u0, v0 = np.floor(cu[sharp]).astype(np.int64), np.floor(cv[sharp]).astype(np.int64)
        fu, fv = cu[sharp] - u0, cv[sharp] - v0
        for du, dv, w in ((0, 0, (1 - fu) * (1 - fv)), (1, 0, fu * (1 - fv)), (0, 1, (1 - fu) * fv), (1, 1, fu * fv)):
            uu, vv = np.clip(u0 + du, 0, ow - 1), np.clip(v0 + dv, 0, oh - 1)
            np.add.at(out, (vv, uu), w)
    cols, rows = np.arange(ow, dtype=np.float64), np.arange(oh, dtype=np.float64)
    for k in np.flatnonzero(~sharp):
        s = sig[k]
        r = int(np.ceil(3 * s))
        u_lo, u_hi = max(0, int(cu[k]) - r), min(ow, int(cu[k]) + r + 2)
        v_lo, v_hi = max(0, int(cv[k]) - r), min(oh, int(cv[k]) + r + 2)
        gu = np.exp(-0.5 * ((cols[u_lo:u_hi] - cu[k]) / s) ** 2)
        gv = np.exp(-0.5 * ((rows[v_lo:v_hi] - cv[k]) / s) ** 2)
        g = gv[:, None] * gu[None, :]
        total = g.sum()
        if total > 0:
            out[v_lo:v_hi, u_lo:u_hi] += g / total
    return out.astype(np.float32)


def foot_sigma_cells(person_height_px: np.ndarray, work_size: tuple[int, int], image_size: tuple[int, int]) -> np.ndarray:
    """[cells] the target spread of persons whose expected image height is ``person_height_px`` [full-res px]."""
    cells_per_px = (work_size[1] / STRIDE) / image_size[1]
    s = SPREAD_OF_HEIGHT * np.asarray(person_height_px, np.float64) * cells_per_px
    return np.clip(np.nan_to_num(s, nan=0.5), 0.5, 4.0)


def net_input(grey: np.ndarray, perspective: np.ndarray) -> np.ndarray:
    """(2, H, W) float32 network input from a grey working image and its perspective channel."""
    g = np.asarray(grey)
    if g.ndim != 2 or g.dtype != np.uint8:
        raise ValueError(f"DensityCNN: grey must be a (H, W) uint8 image; got {g.shape} {g.dtype}")
    if perspective.shape != g.shape:
        raise ValueError(f"DensityCNN: perspective must have the grey image's shape {g.shape}; got {perspective.shape}")
    return np.stack([g.astype(np.float32) * np.float32(1.0 / 255.0), perspective.astype(np.float32)])


def apply_reading_map(reading, knots, values) -> np.ndarray:
    """A zone's reading [persons/m²] through a calibration map tabulated at ``knots`` (readings) with
    ``values`` (densities): linear between knots, and beyond the last knot the last value plus the
    excess of the reading (slope 1: no extrapolated compression of a packed crowd)."""
    x = np.asarray(reading, np.float64)
    k, v = np.asarray(knots, np.float64), np.asarray(values, np.float64)
    return np.where(x > k[-1], v[-1] + (x - k[-1]), np.interp(x, k, v))


def _read_card(card_path: str) -> dict | None:
    """The model card at ``card_path`` as a dict, None when there is none; a clear error when it cannot be read."""
    import json

    try:
        with open(card_path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(f"density CNN model card {card_path!r} cannot be read: {exc}") from None


def load_calibration(card_path: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(knots, values) of the ``calibration`` entry of the model card at ``card_path`` (written by
    :func:`train.calibrate.reading_calibration`), or None when the card or the entry is absent."""
    card = _read_card(card_path)
    cal = None if card is None else card.get("calibration")
    if not cal:
        return None
    k = np.asarray(cal.get("reading_per_m2", []), np.float64)
    v = np.asarray(cal.get("density_per_m2", []), np.float64)
    if k.ndim != 1 or len(k) < 2 or k.shape != v.shape or np.any(np.diff(k) <= 0) or np.any(np.diff(v) < 0):
        raise ValueError(f"density CNN model card {card_path!r}: calibration must give increasing reading_per_m2 "
                         f"and non-decreasing density_per_m2 of one length >= 2; got {k.tolist()} and {v.tolist()}")
    return k, v


def load_input_width(card_path: str) -> int | None:
    """The ``input_width`` entry [px] of the model card at ``card_path``: the width of the image the weights
    were trained to read (``stationwatch train density --work-width``); None when the card or the entry is
    absent (weights trained on the perception's working image, 320 px wide)."""
    card = _read_card(card_path)
    width = None if card is None else card.get("input_width")
    if width is None:
        return None
    if not (isinstance(width, int) and width >= 16 and width % STRIDE == 0):
        raise ValueError(f"density CNN model card {card_path!r}: input_width must be a whole number of pixels >= 16 "
                         f"and a multiple of {STRIDE}; got {width!r}")
    return width


def load_channels(card_path: str) -> int:
    """The ``channels`` entry of the model card at ``card_path`` (the hidden layers' width, ``stationwatch train
    density --channels``); :data:`CHANNELS` when the card or the entry is absent."""
    card = _read_card(card_path)
    channels = CHANNELS if card is None else card.get("channels", CHANNELS)
    if not (isinstance(channels, int) and channels >= 8):
        raise ValueError(f"density CNN model card {card_path!r}: channels must be a whole number >= 8; got {channels!r}")
    return channels


def load_target(card_path: str) -> str:
    """The ``target`` entry of the model card at ``card_path`` (:data:`TARGETS`); ``"foot"`` when the card
    or the entry is absent (weights trained before head targets)."""
    card = _read_card(card_path)
    target = "foot" if card is None else card.get("target", "foot")
    if target not in TARGETS:
        raise ValueError(f"density CNN model card {card_path!r}: target must be one of {', '.join(TARGETS)}; "
                         f"got {target!r}")
    return target


class DensityCNN:
    """The trained network, for inference: ``predict(grey, perspective)`` -> density map.

    ``path``: a state_dict written by :mod:`train.density` (default: the shipped weights); ``channels``:
    the hidden layers' width (None: the model card's ``channels``, :data:`CHANNELS` without one).
    Raises ``FileNotFoundError`` naming the path when it is missing. ``calibration``: the
    (knots, values) map of a zone's reading to its density from the model card beside the
    weights (``.json``), None when the card has none (:func:`load_calibration`).
    """

    def __init__(self, path: str = WEIGHTS_FILE, *, channels: int | None = None) -> None:
        self.path = path
        if channels is None:  # the width the model card gives (weights trained with --channels), else CHANNELS
            channels = load_channels(os.path.splitext(path)[0] + ".json")
        self.net = load_net(build_net(channels), path, what="density CNN", command="stationwatch train density")
        self.calibration = load_calibration(os.path.splitext(path)[0] + ".json")
        #: where the network puts a person's mass (:data:`TARGETS`; weights without it in their card: feet)
        self.target = load_target(os.path.splitext(path)[0] + ".json")
        #: [px] width of the image the weights read (None: the perception's working image); weights trained
        #: at the camera's full resolution read a crop of the full-resolution frame around the density zones
        self.input_width = load_input_width(os.path.splitext(path)[0] + ".json")

    def predict(self, grey: np.ndarray, perspective: np.ndarray) -> np.ndarray:
        """(H', W') float32 [persons per cell] density map of a (H, W) uint8 grey working image
        with its (H, W) perspective channel (:func:`perspective_channel`)."""
        import torch

        x = torch.from_numpy(net_input(grey, perspective))[None].contiguous(memory_format=torch.channels_last)
        # one thread while the network runs: the per-core design, and the same floats on any machine
        # (a convolution split over more threads sums in another order)
        threads = torch.get_num_threads()
        if threads != 1:
            torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                y = self.net(x)
        finally:
            if threads != 1:
                torch.set_num_threads(threads)
        return y[0, 0].numpy().astype(np.float32, copy=True)
