"""Train the density CNN (:mod:`detectors.density_cnn`) on footage the testbed renders.

Each training frame is rendered from a scenario at a sampled time; its target is one
unit of mass at the image point of every agent's ground position (the foot point,
projected with the site's calibration, the same homography the detector uses to map
zones), bilinear-splatted on the 1/4 output grid and Gaussian-blurred
(:func:`detectors.density_cnn.splat_feet`). The input is the perception's grey working
image (the same ``INTER_AREA`` resize and grey conversion).

The evaluation scenario of the demo (``concourse_overcrowding`` at its own seed 12) and
the seeds the suite checks (``concourse_quiet`` 11, ``negatives_density_queue`` 62) are
never used: :data:`DEFAULT_SET` draws other seeds. One set is held out
(:data:`HELD_OUT`) and its count error is reported.

Loss: mean squared error of the map (scaled by ``1 / MAP_SCALE²`` so it is of order 1)
plus the squared error of the counts of 8x8-cell patches (32x32 working pixels), which
fixes the scale of the map where the pixel loss only sees blur. Adam, fixed seed,
horizontal flips. The weights (a state_dict, about 90 kB) and a JSON with the command,
seed, scenarios, final loss and held-out error are written next to each other.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np

#: (scenario, seed, cameras or None for all, duration_s or None, every_n_frames) rendered for training
DEFAULT_SET = (
    ("concourse_overcrowding", 101, None, None, 3),
    ("concourse_overcrowding", 102, None, None, 3),
    ("negatives_density_queue", 7, None, None, 2),
    ("concourse_quiet", 5, None, None, 4),
    ("concourse_surge", 5, None, None, 2),
    ("station_full", 5, None, None, 6),
    ("rush_hour_quiet", 5, None, 60.0, 6),
)
#: rendered the same way, never trained on: the held-out count error
HELD_OUT = (("concourse_overcrowding", 103, None, None, 6),)
#: density map values are multiplied by this in the loss (a person spreads over ~10 cells)
MAP_SCALE = 100.0
#: patch size [cells] of the count term of the loss
PATCH = 8


def render_samples(items, *, work_width: int = 320, progress: bool = True) -> tuple[np.ndarray, np.ndarray, list]:
    """Render the frames of ``items`` ((scenario, seed, cameras, duration_s, every_n) tuples).

    Returns (grey (N, H, W) uint8, target (N, H', W') float32, provenance list). Frames of
    the first 3 s are skipped (crowds are still entering).
    """
    import cv2

    from detectors.density_cnn import splat_feet
    from detectors.site import SiteConfig
    from sim.world.model import StationModel
    from sim.render import Renderer
    from sim.scenario import load_scenario
    from sim.site_export import site_config_dict
    from sim.source import _camera_seed, frame_count

    greys, targets, prov = [], [], []
    for name, seed, cams, duration, every in items:
        sc = load_scenario(name)
        cams = [c.name for c in sc.cameras] if cams is None else list(cams)
        model = StationModel(sc, seed=int(seed))
        rends, sites, sizes = {}, {}, {}
        for k, c in enumerate(sc.cameras):
            if c.name in cams:
                rends[c.name] = Renderer(sc, c, seed=_camera_seed(int(seed), k))
                sites[c.name] = SiteConfig.from_dict(site_config_dict(sc, c.name))
                w, h = sites[c.name].image_size
                ww = min(work_width, w)
                sizes[c.name] = (ww, max(1, int(round(h * ww / w))))
        dur = float(sc.duration_s if duration is None else min(duration, sc.duration_s))
        fps = sc.camera(cams[0]).fps
        n = frame_count(dur, fps)
        t0 = time.perf_counter()
        for i in range(0, n, int(every)):
            t = i / fps
            if t < 3.0:
                continue
            model.run_until(t)
            state = model.world()
            pos = model.snapshot().pos_m
            for c in cams:
                image, _ = rends[c].render(state, t, visibility=False)
                small = cv2.resize(image, sizes[c], interpolation=cv2.INTER_AREA)
                greys.append(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY))
                site = sites[c]
                targets.append(splat_feet(site.ground_to_image(pos), sizes[c], site.image_size))
                prov.append((name, int(seed), c, round(t, 3)))
        if progress:
            print(f"  rendered {name}/{seed} {cams}: {sum(p[:2] == (name, int(seed)) for p in prov)} frames "
                  f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    shapes = {g.shape for g in greys}
    if len(shapes) != 1:
        raise ValueError(f"train-density needs one working size for all cameras; got {sorted(shapes)}")
    return np.stack(greys), np.stack(targets), prov


@dataclass
class TrainResult:
    final_loss: float
    train_frames: int
    held_out_frames: int
    held_out_mae_persons: float  #: mean |predicted - true| persons per frame (whole view)
    held_out_true_mean: float  #: mean true persons per frame in the held-out set
    held_out_patch_rmse: float  #: RMS error of 8x8-cell patch counts [persons]
    seconds: float
    state_dict: dict

    def to_dict(self, *, seed, epochs, items, held_out, argv=None) -> dict:
        def spec(it):
            return [{"scenario": n, "seed": s, "cameras": c, "duration_s": d, "every_n_frames": e}
                    for n, s, c, d, e in it]

        return {
            "command": " ".join(["stationwatch", "train-density"] + list(argv if argv is not None else sys.argv[2:])),
            "seed": int(seed), "epochs": int(epochs),
            "train": spec(items), "held_out": spec(held_out),
            "train_frames": self.train_frames, "held_out_frames": self.held_out_frames,
            "final_loss": round(self.final_loss, 6),
            "held_out_mae_persons_per_frame": round(self.held_out_mae_persons, 4),
            "held_out_true_persons_per_frame": round(self.held_out_true_mean, 4),
            "held_out_patch_rmse_persons": round(self.held_out_patch_rmse, 4),
            "train_seconds": round(self.seconds, 1),
        }


def _patch_sum(torch, y):
    return torch.nn.functional.avg_pool2d(y, PATCH, stride=PATCH, ceil_mode=True) * (PATCH * PATCH)


def train(items=DEFAULT_SET, held_out=HELD_OUT, *, seed: int = 0, epochs: int = 6, batch: int = 8,
          lr: float = 2e-3, threads: int = 2, frames: int | None = None, progress: bool = True) -> TrainResult:
    """Render, train, and evaluate on ``held_out``; ``frames`` caps the training frames (tests)."""
    import torch

    from detectors.density_cnn import build_net

    t_start = time.perf_counter()
    x, y, _ = render_samples(items, progress=progress)
    if frames is not None:
        pick = np.random.default_rng(seed).permutation(len(x))[:int(frames)]
        x, y = x[np.sort(pick)], y[np.sort(pick)]
    hx, hy, _ = render_samples(held_out, progress=progress) if held_out else (x[:0], y[:0], [])
    old_threads = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        net = build_net()
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        steps = epochs * math.ceil(len(x) / batch)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, steps), pct_start=0.15)
        xt = torch.from_numpy(x)
        yt = torch.from_numpy(y)
        final = float("nan")
        for ep in range(epochs):
            order = rng.permutation(len(x))
            flips = rng.random(len(x)) < 0.5
            total, count = 0.0, 0
            net.train()
            for b in range(0, len(order), batch):
                idx = torch.from_numpy(order[b:b + batch])
                xb = xt[idx].to(torch.float32).div_(255.0)[:, None]
                yb = yt[idx][:, None] * MAP_SCALE
                fl = torch.from_numpy(flips[order[b:b + batch]])
                xb[fl] = xb[fl].flip(-1)
                yb[fl] = yb[fl].flip(-1)
                pred = net(xb.contiguous(memory_format=torch.channels_last)) * MAP_SCALE
                loss = torch.mean((pred - yb) ** 2) / MAP_SCALE + \
                    torch.mean((_patch_sum(torch, pred) - _patch_sum(torch, yb)) ** 2) / (MAP_SCALE * MAP_SCALE)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
            final = total / max(1, count)
            if progress:
                print(f"  epoch {ep + 1}/{epochs}: loss {final:.4f} ({time.perf_counter() - t_start:.0f} s)",
                      file=sys.stderr)
        net.eval()
        mae = rmse = true_mean = float("nan")
        if len(hx):
            with torch.no_grad():
                preds = torch.cat([net(torch.from_numpy(hx[i:i + 16]).to(torch.float32).div_(255.0)[:, None])
                                   for i in range(0, len(hx), 16)])
            ht = torch.from_numpy(hy)[:, None]
            pc, tc = preds.sum(dim=(1, 2, 3)), ht.sum(dim=(1, 2, 3))
            mae = float((pc - tc).abs().mean())
            true_mean = float(tc.mean())
            rmse = float(torch.sqrt(torch.mean((_patch_sum(torch, preds) - _patch_sum(torch, ht)) ** 2)))
        state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    finally:
        torch.set_num_threads(old_threads)
    return TrainResult(final_loss=final, train_frames=len(x), held_out_frames=len(hx), held_out_mae_persons=mae,
                       held_out_true_mean=true_mean, held_out_patch_rmse=rmse,
                       seconds=time.perf_counter() - t_start, state_dict=state)


def save(result: TrainResult, path: str, *, seed: int, epochs: int, items=DEFAULT_SET, held_out=HELD_OUT,
         argv=None) -> str:
    """Write the state_dict to ``path`` and the provenance JSON next to it (``.json``); return the JSON path."""
    import os

    import torch

    from eval import results

    from detectors.files import atomic_path

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path) as tmp:  # an interrupt leaves the previous weights whole
        torch.save(result.state_dict, tmp)
    meta = os.path.splitext(path)[0] + ".json"
    results.write_json(meta, result.to_dict(seed=seed, epochs=epochs, items=items, held_out=held_out, argv=argv))
    return meta
