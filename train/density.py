"""Train the density CNN (:mod:`detectors.density_cnn`) on varied footage the testbed renders.

``stationwatch train density`` renders :func:`default_clips` (library scenarios with their
cameras moved, their lighting, noise, blur and compression drawn at random, more or fewer
people, and gatherings that pack a random zone to 0.5 to 5 persons/m²), fits the network,
validates it on held-out footage against the classical pixel estimate, and writes the
weights and the model card (``detectors/weights/density_cnn.pt`` and ``.json``).

Data. Every clip renders at a seed from :data:`sim.seeds.TRAINING_SEEDS` (the command
refuses any other: :func:`sim.seeds.check_training_seed`); the variant drawn for a clip
comes from the same seed. A training sample is one frame of one camera: the grey working
image, the camera's perspective channel and the target, one unit of mass at the image
point of every agent's ground position (its foot point, projected with the site's
calibration, the same homography the detector uses to map zones), spread by a Gaussian
whose width follows the person's expected image height (:func:`detectors.density_cnn.splat_feet`).

Loss: mean squared error of the map (scaled by ``MAP_SCALE`` so it is of order 1) plus
the squared error of the counts of 8x8-cell patches (32x32 working pixels), which fixes the
scale where the pixel loss only sees blur. Adam with a one-cycle schedule, fixed seed,
horizontal flips (image and perspective flipped together), and random crops (``--crop``)
centred on people seven times in ten: a crop costs a fraction of a frame, so the same
minutes buy several times more optimiser steps, and most of a station frame is empty floor.
Crops have a cost, measured: weights trained on 128x64 crops read the overcrowded gate
approach 0.2 to 0.8 persons/m² high even on their own training frames (a crop's zero-padded
border is not the context the network sees on a whole frame); five more epochs on whole
frames (``--crop 320 180 --init``, 2,758 frames, 371 s on a shared core) brought that to
+0.03 to -0.27 (low on packed crowds), and ``--calibrate`` fits the map of a zone's reading to
its density on the training frames that the detector applies (:mod:`train.calibrate`).
The shipped weights were made so, from crop-trained ones (the model card's ``init``).
What was tried on top of them and not shipped (more dense clips, head targets, the full-resolution
frame), with commands and measurements: ``docs/density-experiments.md``.

Validation: ``stationwatch train density --validate-only --validate-seeds 901`` prints the
RMS per density band (0-1, 1-2, 2-3, 3-4 persons/m²), CNN against the pixel baseline, and
writes it into the model card with the weights' SHA-256; ``--validate-tuning-seeds`` validates
at tuning seeds instead (``seed_set`` in the card), for weights validated before the held-out
measurement.

Validation (:func:`validate`): the density of every density zone of the library's density
scenarios at held-out seeds, per frame, from the CNN and from the pixel estimate, against
the simulated truth (agents whose position lies in the zone / the zone's area); RMS over
frames whose true density lies in [0, 4] persons/m².
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from train.clips import PACKED_RANGE, default_clips, dense_clips, packed_clips
from train.common import progress_bar, run_epochs, save_weights, torch_threads, weights_sha256, write_json

#: density map values are multiplied by this in the loss (a person spreads over ~10 cells)
MAP_SCALE = 100.0
#: patch size [cells] of the count term of the loss
PATCH = 8
#: [persons/m²] the validation range of true densities
VALIDATION_RANGE = (0.0, 4.0)
#: library scenarios with density zones that the held-out validation runs, with a duration cap [s]
VALIDATION_SCENARIOS = (("concourse_overcrowding", None), ("negatives_density_queue", None),
                        ("rush_hour_quiet", 120.0))


def perspective_of(site, work_size: tuple[int, int]) -> np.ndarray:
    """The perspective channel of ``site`` at ``work_size`` (the detector's own geometry maps)."""
    from detectors.density_cnn import perspective_channel
    from detectors.perception import WorkGrid

    return perspective_channel(WorkGrid(site, work_size).person_rows)


@dataclass
class Samples:
    """Rendered training samples: grey images, an index into per-camera perspective maps, targets."""

    grey: np.ndarray  #: (N, H, W) uint8
    view: np.ndarray  #: (N,) int index into ``perspective``
    perspective: np.ndarray  #: (V, H, W) float32
    target: np.ndarray  #: (N, H', W') float32
    provenance: list  #: (clip index, camera, t) per sample
    kind: str = "foot"  #: where the targets put a person's mass (:data:`detectors.density_cnn.TARGETS`)

    def __len__(self) -> int:
        return len(self.grey)

    def save(self, path: str, clips) -> None:
        """Write the samples and the fingerprint of the ``clips`` and target kind they were rendered from."""
        from detectors.files import atomic_path

        with atomic_path(path, suffix=".npz") as tmp:
            np.savez_compressed(tmp, grey=self.grey, view=self.view, perspective=self.perspective,
                                target=self.target, provenance=np.array(self.provenance, dtype=object),
                                clips=np.array(clips_fingerprint(clips, self.kind)))

    @classmethod
    def load(cls, path: str, clips, target: str = "foot") -> "Samples":
        """Read samples written by :meth:`save`; refuses a file rendered from other clips or with other
        targets than ``target``."""
        d = np.load(path, allow_pickle=True)
        found = str(d["clips"]) if "clips" in d.files else "(none)"
        if found != clips_fingerprint(clips, target):
            raise ValueError(f"{path}: rendered from other clips or targets (fingerprint {found}, expected "
                             f"{clips_fingerprint(clips, target)}); delete it or pass another --cache")
        return cls(d["grey"], d["view"], d["perspective"], d["target"], [tuple(p) for p in d["provenance"]], target)


def clips_fingerprint(clips, target: str = "foot") -> str:
    """SHA-256 (16 hex digits) of the clips' specifications and of the targets' kind (foot targets: of
    the clips alone, as before head targets existed)."""
    import hashlib

    spec = [c.to_dict() for c in clips]
    text = json.dumps(spec if target == "foot" else {"clips": spec, "target": target}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def render_samples(clips, *, work_width: int = 320, target: str = "foot", progress: bool = True) -> Samples:
    """Render every sampled frame of every camera of ``clips``; refuses non-training seeds.

    ``target``: ``"head"`` puts each person's unit of mass at the centre of its head as drawn
    (the renderer's annotation), ``"foot"`` at the image point of its ground position."""
    import cv2

    from detectors.density_cnn import TARGETS, foot_sigma_cells, splat_feet
    from detectors.site import SiteConfig
    from sim.world.model import StationModel
    from sim.render import Renderer
    from sim.scenario import load_scenario
    from sim.seeds import check_training_seed
    from sim.site_export import site_config_dict
    from sim.source import _camera_seed

    if target not in TARGETS:
        raise ValueError(f"render_samples: target must be one of {', '.join(TARGETS)}; got {target!r}")
    greys, views, targets, prov, persp = [], [], [], [], []
    bar = progress_bar(len(clips), progress, "render clips")
    try:
        for ci, clip in enumerate(clips):
            check_training_seed(clip.seed)
            sc = load_scenario(clip.scenario, clip.overrides)
            model = StationModel(sc, seed=clip.seed)
            cams = []
            for k, c in enumerate(sc.cameras):
                site = SiteConfig.from_dict(site_config_dict(sc, c.name))
                w, h = site.image_size
                ww = min(work_width, w)
                size = (ww, max(1, int(round(h * ww / w))))
                persp.append(perspective_of(site, size))
                cams.append((c.name, Renderer(sc, c, seed=_camera_seed(clip.seed, k)), site, size, len(persp) - 1))
            t_to = sc.duration_s if clip.t_to_s is None else min(clip.t_to_s, sc.duration_s)
            for t in np.arange(clip.t_from_s, t_to - 1e-9, clip.every_s):
                t = round(float(t), 3)
                model.run_until(t)
                state = model.world()
                pos = model.snapshot().pos_m
                for name, rend, site, size, view in cams:
                    image, ann = rend.render(state, t, visibility=False)
                    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                    greys.append(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
                    if target == "head":
                        # one unit at each drawn head; the spread from the drawn body's height
                        # (clipped by the image border: a sharper spread there, the mass is the same)
                        sigma = foot_sigma_cells(ann.boxes[:, 3], size, site.image_size)
                        targets.append(splat_feet(ann.heads, size, site.image_size, sigma))
                    else:
                        feet = site.ground_to_image(pos)
                        sigma = foot_sigma_cells(site.person_height_px(pos), size, site.image_size)
                        targets.append(splat_feet(feet, size, site.image_size, sigma))
                    views.append(view)
                    prov.append((ci, name, t))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    shapes = {g.shape for g in greys}
    if len(shapes) != 1:
        raise ValueError(f"train density needs one working size for all cameras; got {sorted(shapes)}")
    return Samples(np.stack(greys), np.asarray(views, np.int64), np.stack(persp), np.stack(targets), prov, target)


@dataclass
class TrainResult:
    final_loss: float
    train_frames: int
    seconds: float
    state_dict: dict
    losses: list


def _patch_sum(torch, y):
    return torch.nn.functional.avg_pool2d(y, PATCH, stride=PATCH, ceil_mode=True) * (PATCH * PATCH)


def _crop_origins(rng, samples: Samples, idx: np.ndarray, crop_cells: tuple[int, int],
                  on_people: float) -> np.ndarray:
    """(B, 2) [cells] top-left corners (row, col) of one training crop per sample of ``idx``.

    With probability ``on_people`` a crop is centred on a cell drawn in proportion to the
    sample's target mass (where people stand: most of a station image is empty floor), else
    anywhere; crops stay inside the map."""
    ch, cw = crop_cells
    oh, ow = samples.target.shape[1:]
    out = np.empty((len(idx), 2), np.int64)
    for k, i in enumerate(idx):
        cy, cx = rng.integers(0, oh), rng.integers(0, ow)
        if rng.random() < on_people:
            mass = samples.target[i].reshape(-1).astype(np.float64)
            total = mass.sum()
            if total > 0:
                cell = int(np.searchsorted(np.cumsum(mass), rng.random() * total))
                cy, cx = divmod(min(cell, oh * ow - 1), ow)
        out[k] = (int(np.clip(cy - ch // 2, 0, max(0, oh - ch))), int(np.clip(cx - cw // 2, 0, max(0, ow - cw))))
    return out


def fit(samples: Samples, *, seed: int = 0, epochs: int = 12, batch: int = 16, lr: float = 2e-3, threads: int = 1,
        max_grad_norm: float = 5.0, crop: tuple[int, int] | None = (160, 96), on_people: float = 0.7,
        init: str | None = None, channels: int | None = None, progress: bool = True) -> TrainResult:
    """Fit a network on ``samples`` (torch seed ``seed``); the thread count is restored after.

    ``init``: a state_dict file to start from (more epochs for trained weights, on the same or on
    more footage); None starts from a fresh network (:func:`detectors.density_cnn.build_net`).
    ``channels``: the hidden layers' width (None: :data:`detectors.density_cnn.CHANNELS`); ``init`` weights
    of a narrower network are widened to it first (:func:`detectors.density_cnn.widen_state`).

    ``crop`` (width, height) [working px, multiples of the network's stride]: each step sees a
    random crop of every sample instead of the whole frame (a 160x96 crop costs a quarter of
    a 320x180 frame; the network is fully convolutional, its receptive field about 130 px),
    centred on people with probability ``on_people``; None trains on whole frames.

    Gradients are clipped to ``max_grad_norm``: at a peak learning rate of 3e-3 without clipping,
    one large step on a dense frame drove every ReLU of the network dead (an all-zero map, the
    loss flat from the fourth epoch on)."""
    import torch

    from detectors.density_cnn import CHANNELS, STRIDE, build_net, widen_state

    channels = CHANNELS if channels is None else int(channels)
    t_start = time.perf_counter()
    h, w = samples.grey.shape[1:]
    if crop is not None:
        cw, chh = int(crop[0]), int(crop[1])
        if cw % STRIDE or chh % STRIDE or cw <= 0 or chh <= 0:
            raise ValueError(f"fit: crop must be positive multiples of {STRIDE} working px; got {crop!r}")
        cw, chh = min(cw, w - w % STRIDE), min(chh, h - h % STRIDE)
    with torch_threads(threads):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        net = build_net(channels)
        if init is not None:
            from detectors.nets import load_net

            state = torch.load(init, map_location="cpu", weights_only=True) if os.path.exists(init) else {}
            own = net.state_dict()
            if state and any(k in own and 0 < v.dim() == own[k].dim() and v.shape[0] < own[k].shape[0]
                             for k, v in state.items()):  # narrower weights: widened, same function
                net.load_state_dict(widen_state(state, channels, seed=seed))
            else:
                net = load_net(net, init, what="density CNN (--init)", command="stationwatch train density")
            net.train()
        net = net.to(memory_format=torch.channels_last)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        steps = epochs * math.ceil(len(samples) / batch)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, steps), pct_start=0.15)
        grey = torch.from_numpy(samples.grey)
        persp = torch.from_numpy(samples.perspective)
        view = torch.from_numpy(samples.view)
        target = torch.from_numpy(samples.target)

        def one_epoch():
            order = rng.permutation(len(samples))
            flips = rng.random(len(samples)) < 0.5
            total, count = 0.0, 0
            for b in range(0, len(order), batch):
                sel = order[b:b + batch]
                idx = torch.from_numpy(sel)
                if crop is None:
                    xb = torch.stack([grey[idx].to(torch.float32).div_(255.0), persp[view[idx]]], dim=1)
                    yb = target[idx][:, None] * MAP_SCALE
                else:
                    corners = _crop_origins(rng, samples, sel, (chh // STRIDE, cw // STRIDE), on_people)
                    xs, ys = [], []
                    for i, (r0, c0) in zip(sel, corners):
                        v0, u0 = r0 * STRIDE, c0 * STRIDE
                        xs.append(torch.stack([grey[i, v0:v0 + chh, u0:u0 + cw].to(torch.float32).div_(255.0),
                                               persp[view[i], v0:v0 + chh, u0:u0 + cw]]))
                        ys.append(target[i, r0:r0 + chh // STRIDE, c0:c0 + cw // STRIDE])
                    xb = torch.stack(xs)
                    yb = torch.stack(ys)[:, None] * MAP_SCALE
                fl = torch.from_numpy(flips[sel])
                xb[fl] = xb[fl].flip(-1)
                yb[fl] = yb[fl].flip(-1)
                pred = net(xb.contiguous(memory_format=torch.channels_last)) * MAP_SCALE
                loss = torch.mean((pred - yb) ** 2) / MAP_SCALE + \
                    torch.mean((_patch_sum(torch, pred) - _patch_sum(torch, yb)) ** 2) / (MAP_SCALE * MAP_SCALE)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), max_grad_norm)
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
            return total, count

        losses, state = run_epochs(net, epochs, one_epoch, progress=progress, label="train density")
    return TrainResult(final_loss=losses[-1] if losses else float("nan"), train_frames=len(samples),
                       seconds=time.perf_counter() - t_start, state_dict=state, losses=losses)


def density_series(scenario, seed: int, methods: dict, *, duration_s: float | None = None,
                   progress: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per frame and density zone of ``scenario``: the true density and each method's raw estimate.

    ``methods`` maps a label to keyword arguments of :class:`detectors.density.DensityDetector`
    (``{"cnn": {"method": "cnn"}, "pixels": {"method": "pixels"}}``). Frames of the first 3 s
    (the background model's warm-up) are left out. Returns ``(true, {label: estimate})``,
    arrays of one length [persons/m²].
    """
    from detectors.density import DensityDetector
    from detectors.perception import Perception
    from detectors.site import SiteConfig
    from sim.geometry import points_in_polygon, polygon_area
    from sim.site_export import site_config_dict
    from sim.source import SyntheticFeed

    feed = SyntheticFeed(scenario, seed=seed, duration_s=duration_s, visibility=False)
    zones = {z.name: np.asarray(z.polygon, float) for z in scenario.station.zones if z.kind == "density"}
    if not zones:
        raise ValueError(f"scenario {scenario.name!r} has no density zone")
    per_cam = {}
    for name in feed.cameras:
        site = SiteConfig.from_dict(site_config_dict(scenario, name))
        from detectors.site import ZoneKind

        if not site.zones_of(ZoneKind.DENSITY):
            continue
        perception = Perception(site)
        dets = {label: DensityDetector(site, smoothing_s=0.0, every_s=0.0, **kw) for label, kw in methods.items()}
        per_cam[name] = (perception, dets)
    true, est = [], {label: [] for label in methods}
    bar = progress_bar(sum(feed.n_frames(n) for n in per_cam), progress, f"{scenario.name}/{seed}")
    for cf in feed:
        if cf.camera not in per_cam:
            continue
        perception, dets = per_cam[cf.camera]
        percept = perception.update(cf.frame)
        for det in dets.values():
            det.score(percept)
        if cf.frame.t >= 3.0 and percept.ready:
            pos = feed.model.snapshot().pos_m
            names = [z.name for z in next(iter(dets.values())).zones]
            for k, zname in enumerate(names):
                poly = zones[zname]
                true.append(points_in_polygon(pos, poly).sum() / polygon_area(poly))
                for label, det in dets.items():
                    est[label].append(float(det.last_density[k]))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return np.asarray(true, float), {k: np.asarray(v, float) for k, v in est.items()}


def validate(weights: str, seeds, *, scenarios=VALIDATION_SCENARIOS, progress: bool = True,
             tuning: bool = False) -> dict:
    """RMS error [persons/m²] of the CNN (``weights``) and of the pixel estimate on held-out footage
    (on tuning footage with ``tuning``: ``seed_set`` in the result says which).

    Refuses training seeds. Returns ``{"seeds", "range_per_m2", "cnn_rms", "pixels_rms",
    "frames", "per_scenario": [...]}`` over frames whose true density lies in :data:`VALIDATION_RANGE`.
    """
    from sim.scenario import load_scenario

    seeds = _validation_seeds(seeds, tuning)
    methods = {"cnn": {"method": "cnn", "weights": weights}, "pixels": {"method": "pixels", "gain": 1.0}}
    lo, hi = VALIDATION_RANGE
    all_true, all_est = [], {k: [] for k in methods}
    per = []
    for name, duration in scenarios:
        sc = load_scenario(name)
        for seed in seeds:
            true, est = density_series(sc, seed, methods, duration_s=duration, progress=progress)
            use = (true >= lo) & (true <= hi)
            row = {"scenario": name, "seed": int(seed), "frames": int(use.sum()), "true_max": float(true.max())}
            for k in methods:
                row[f"{k}_rms"] = _rms(est[k][use] - true[use])
                all_est[k].append(est[k][use])
            all_true.append(true[use])
            per.append(row)
    t = np.concatenate(all_true)
    out = {"seeds": list(seeds), "seed_set": "tuning" if tuning else "held-out",
           "range_per_m2": list(VALIDATION_RANGE), "frames": int(len(t))}
    for k in methods:
        out[f"{k}_rms"] = _rms(np.concatenate(all_est[k]) - t)
    bands = []
    for b0, b1 in ((0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0)):
        m = (t >= b0) & (t < b1) if b1 < hi else (t >= b0) & (t <= b1)
        bands.append({"band_per_m2": [b0, b1], "frames": int(m.sum()),
                      **{f"{k}_rms": _rms(np.concatenate(all_est[k])[m] - t[m]) for k in methods}})
    out["bands"] = bands
    out["per_scenario"] = per
    return out


def _validation_seeds(seeds, tuning: bool) -> tuple[int, ...]:
    """``seeds`` checked for a validation: held-out seeds, or with ``tuning`` tuning seeds (sim/seeds.py), for
    weights validated before the held-out measurement made after merging; never training seeds."""
    from sim.seeds import TUNING_SEEDS, SeedSplitError, check_evaluation_seeds

    if not tuning:
        return check_evaluation_seeds(seeds, what="density validation")
    out = check_evaluation_seeds(seeds, held_out=False, what="density validation")
    for s in out:
        if s not in TUNING_SEEDS:
            raise SeedSplitError(f"density validation: --validate-tuning-seeds takes tuning seeds "
                                 f"({TUNING_SEEDS[0]}..{TUNING_SEEDS[-1]}); got {s}")
    return out


def _rms(x: np.ndarray) -> float | None:
    return float(np.sqrt(np.mean(np.square(x)))) if len(x) else None


def save(result: TrainResult, path: str, *, card: dict) -> str:
    """Write the state_dict to ``path`` and the model card (``card`` plus the fit's figures) next
    to it as ``.json``; both atomically. Returns the card's path."""
    return save_weights(result.state_dict, path, {
        **card, "train_frames": result.train_frames, "final_loss": round(result.final_loss, 6),
        "loss_per_epoch": [round(x, 6) for x in result.losses], "train_seconds": round(result.seconds, 1)},
        with_sha256=True)


# --- the command ------------------------------------------------------------------------------


def configure(parser) -> None:
    """Arguments of ``stationwatch train density``."""
    from eval.cli import _positive_int

    parser.add_argument("--seed", type=int, default=0, help="torch initialisation and shuffling seed")
    parser.add_argument("--data-seed", type=int, default=10_000,
                        help="scenario seed of the first clip; clip k uses data-seed + k (training seeds only)")
    parser.add_argument("--clips", type=_positive_int, default=140, help="number of rendered clips")
    parser.add_argument("--dense-clips", type=int, default=0,
                        help="add this many clips of the library's density scenarios at their own camera "
                             "(dense_clips), at training seeds from --dense-seed")
    parser.add_argument("--dense-seed", type=int, default=10_500, help="scenario seed of the first dense clip")
    parser.add_argument("--packed-clips", type=int, default=0,
                        help="add this many clips of concourse_quiet whose gathering packs a zone to 1.5-3.5 "
                             "persons/m2 (packed_clips), at training seeds from --packed-seed")
    parser.add_argument("--packed-range", type=float, nargs=2, default=PACKED_RANGE, metavar=("LOW", "HIGH"),
                        help="[persons/m2] the packed clips' gatherings are drawn in this range (default 1.5 3.5)")
    parser.add_argument("--packed-seed", type=int, default=10_800, help="scenario seed of the first packed clip")
    parser.add_argument("--work-width", type=_positive_int, default=320,
                        help="[px] width of the images the network is trained to read: 320, the perception's working "
                             "image, or the camera's own width (640) for weights that read a crop of the "
                             "full-resolution frame (the model card's input_width)")
    parser.add_argument("--target", choices=("foot", "head"), default="foot",
                        help="where a person's unit of mass lies in the targets: its foot point (the shipped "
                             "weights), or the centre of its head as drawn (the model card records it; the detector "
                             "maps head cells to the feet below them)")
    parser.add_argument("--channels", type=_positive_int, default=None,
                        help="width of the network's hidden layers (default 32); --init weights of a narrower "
                             "network are widened to it, computing what they computed")
    parser.add_argument("--epochs", type=_positive_int, default=12)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--batch", type=_positive_int, default=16, help="samples per step")
    parser.add_argument("--crop", type=_positive_int, nargs=2, default=(160, 96), metavar=("W", "H"),
                        help="train on random W x H crops [working px, multiples of 4] of the frames")
    parser.add_argument("--threads", type=_positive_int, default=1, help="torch threads while training")
    parser.add_argument("--init", help="state_dict to start from instead of a fresh network (its SHA-256 goes "
                                       "into the model card)")
    parser.add_argument("--cache", help="npz file: reuse the rendered samples if it exists, else write them there")
    parser.add_argument("--validate-seeds", type=int, nargs="*", default=None,
                        help="held-out seeds of the validation (default: the first two held-out seeds; none: skip)")
    parser.add_argument("--validate-tuning-seeds", action="store_true",
                        help="--validate-seeds are tuning seeds (201-220), not held-out ones: for weights validated "
                             "before the held-out measurement made after merging (the card says which set)")
    parser.add_argument("--out", help="where to write the weights (default: the package's detectors/weights/)")
    parser.add_argument("--calibrate", action="store_true",
                        help="fit the map of a zone's reading to its density on the training samples and write it "
                             "into the model card (the detector applies it)")
    parser.add_argument("--validate-only", action="store_true",
                        help="train nothing: validate the weights at --out (default: the shipped ones) at "
                             "--validate-seeds, print the RMS by density band against the pixel baseline and "
                             "write it into their model card")


def band_table(val: dict) -> str:
    """The validation's RMS per density band, CNN against the pixel baseline, as text lines."""
    def f(x):
        return "   -  " if x is None else f"{x:6.3f}"

    lines = [f"{'band [persons/m2]':<18}{'frames':>8}{'CNN':>8}{'pixels':>8}"]
    for b in val["bands"]:
        lo, hi = b["band_per_m2"]
        lines.append(f"{f'{lo:.0f}-{hi:.0f}':<18}{b['frames']:>8}  {f(b['cnn_rms'])}  {f(b['pixels_rms'])}")
    lo, hi = val["range_per_m2"]
    lines.append(f"{f'all {lo:.0f}-{hi:.0f}':<18}{val['frames']:>8}  {f(val['cnn_rms'])}  {f(val['pixels_rms'])}")
    for row in val["per_scenario"]:
        lines.append(f"  {row['scenario']}/{row['seed']}: {row['frames']} frames, true max {row['true_max']:.2f}, "
                     f"CNN {f(row['cnn_rms']).strip()}, pixels {f(row['pixels_rms']).strip()}")
    return "\n".join(lines)


def _validate_into_card(weights: str, seeds, meta: str, tuning: bool = False) -> dict:
    """Validate ``weights`` at held-out ``seeds`` (tuning seeds with ``tuning``), write the result and the weights' checksum (cards
    written before cards carried one get it here) into its model card ``meta``, print the table."""
    with open(meta, encoding="utf-8") as fh:
        data = json.load(fh)
    sha = weights_sha256(weights)
    if data.get("weights_sha256") not in (None, sha):
        raise ValueError(f"model card {meta} describes other weights than {weights} (sha256 differs)")
    val = validate(weights, seeds, tuning=tuning)
    data["validation"] = val
    data["weights_sha256"], data["weights_bytes"] = sha, os.path.getsize(weights)
    write_json(meta, data)
    print(f"{val['seed_set']} density RMS by band, seeds {val['seeds']}:\n{band_table(val)}", file=sys.stderr)
    return val


def main(args) -> int:
    from detectors.density_cnn import STRIDE, WEIGHTS_FILE
    from detectors.files import check_writable
    from sim.seeds import HELD_OUT_SEEDS

    argv = sys.argv[3:] if len(sys.argv) > 3 else []
    out = args.out or WEIGHTS_FILE
    meta = os.path.splitext(out)[0] + ".json"
    seeds = HELD_OUT_SEEDS[:2] if args.validate_seeds is None else args.validate_seeds
    seeds = _validation_seeds(seeds, args.validate_tuning_seeds)  # before, not after, the training
    if args.validate_only:
        if not seeds:
            raise ValueError("--validate-only needs held-out seeds (--validate-seeds 901 902 ...)")
        for path in (out, meta):
            if not os.path.exists(path):
                raise FileNotFoundError(f"--validate-only: {path} does not exist; train the weights first")
        check_writable(meta)
        _validate_into_card(out, seeds, meta, args.validate_tuning_seeds)
        print(f"model card: {meta}", file=sys.stderr)
        return 0
    if any(c % STRIDE for c in args.crop):
        raise ValueError(f"--crop: expected multiples of {STRIDE} working px; got {args.crop[0]} {args.crop[1]}")
    t0 = time.perf_counter()
    clips = default_clips(args.clips, args.data_seed)
    if args.dense_clips < 0:
        raise ValueError(f"--dense-clips: expected a number >= 0; got {args.dense_clips}")
    if args.dense_clips:
        clips += dense_clips(args.dense_clips, args.dense_seed)
    if args.packed_clips < 0:
        raise ValueError(f"--packed-clips: expected a number >= 0; got {args.packed_clips}")
    if args.packed_clips:
        clips += packed_clips(args.packed_clips, args.packed_seed, args.packed_range)
    check_writable(out)  # now, not after minutes of rendering and training
    check_writable(meta)  # its model card
    if args.cache and os.path.exists(args.cache):
        samples = Samples.load(args.cache, clips, args.target)
        if samples.grey.shape[2] != args.work_width:
            raise ValueError(f"{args.cache}: rendered {samples.grey.shape[2]} px wide, not --work-width "
                             f"{args.work_width}; delete it or pass another --cache")
        print(f"reused {len(samples)} rendered samples from {args.cache}", file=sys.stderr)
    else:
        samples = render_samples(clips, target=args.target, work_width=args.work_width)
        if args.cache:
            samples.save(args.cache, clips)
    render_s = time.perf_counter() - t0
    init = None
    if args.init:
        init = {"path": args.init, "weights_sha256": weights_sha256(args.init)}
        meta_in = os.path.splitext(args.init)[0] + ".json"
        if os.path.exists(meta_in):  # what the starting weights were trained on, in their own card
            with open(meta_in, encoding="utf-8") as fh:
                prev = json.load(fh)
            init["card"] = {k: prev[k] for k in ("command", "epochs", "lr", "train_frames", "train_seconds",
                                                 "final_loss", "data") if k in prev}
            if "data" in init["card"]:
                init["card"]["data"] = {"seeds": prev["data"].get("seeds"), "frames": prev["data"].get("frames"),
                                        "clips": len(prev["data"].get("clips", []))}
    result = fit(samples, seed=args.seed, epochs=args.epochs, lr=args.lr, threads=args.threads, batch=args.batch,
                 crop=tuple(args.crop), init=args.init, channels=args.channels)
    card = {
        "model": f"density CNN (detectors/density_cnn.py): grey + perspective channel -> {args.target}-point "
                 f"density at 1/4 of a {samples.grey.shape[2]} px wide image",
        "target": args.target,
        **({"channels": int(args.channels)} if args.channels else {}),
        "input_width": int(samples.grey.shape[2]),
        "command": " ".join(["stationwatch", "train", "density", *argv]),
        "seed": int(args.seed), "epochs": int(args.epochs), "lr": float(args.lr), "threads": int(args.threads),
        "batch": int(args.batch), "crop_px": list(args.crop),
        "data": {"clips": [c.to_dict() for c in clips], "frames": len(samples),
                 "seeds": [clips[0].seed, clips[-1].seed] if clips else []},
        "render_seconds": round(render_s, 1),
    }
    if init is not None:
        card["init"] = init
    save(result, out, card=card)
    if args.calibrate:  # the zone reading's map to density, fitted on the training samples (train.calibrate)
        from train.calibrate import reading_calibration

        with open(meta, encoding="utf-8") as fh:
            written = json.load(fh)
        written["calibration"] = reading_calibration(samples, clips, out)
        write_json(meta, written)
        fit_ = written["calibration"]["fit"]
        print(f"calibration of the zone reading: RMS {fit_['rms_before_per_m2']} -> {fit_['rms_after_per_m2']} "
              f"persons/m2 on {fit_['zone_frames']} training zone frames", file=sys.stderr)
    print(f"trained on {result.train_frames} frames in {result.seconds:.0f} s (rendering {render_s:.0f} s), "
          f"final loss {result.final_loss:.4f}; wrote {out}", file=sys.stderr)
    if seeds:
        _validate_into_card(out, seeds, meta, args.validate_tuning_seeds)
    print(f"model card: {meta}", file=sys.stderr)
    return 0
