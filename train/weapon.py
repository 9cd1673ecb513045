"""Train the weapon classifier (:mod:`detectors.weapon`) on person crops the testbed renders.

``stationwatch train weapon`` renders :func:`default_clips` (library scenarios with their
cameras moved and their lighting, noise, blur and compression drawn at random, as the
density model's clips), and at every sampled frame hands props to the adults in view at
random (:func:`assign_props`): a rifle held low or raised to aim, and the hard negatives, an
umbrella (held or pointed like a rifle), a cane, a guitar case, bags, backpacks, suitcases;
the others keep what they carry. Every adult in view (visible share
``MIN_VISIBLE``, an adult image height of at least ``MIN_HEIGHT_PX``) gives one crop in the
detector's own canonical box (:func:`detectors.weapon.person_box`) around their foot point,
jittered in place and size as the tracker's foot estimate is; its label is the world's
``prop`` of that person (a rifle or not), read here at training time only. A crop of someone
standing beside a rifle carrier (whose rifle may reach into it) is left out.

Every clip renders at a seed from :data:`sim.seeds.TRAINING_SEEDS` (the command refuses any
other: :func:`sim.seeds.check_training_seed`).

Fit: binary cross-entropy (positives weighted by the class ratio), Adam with a one-cycle
schedule, fixed seed, horizontal flips and brightness/contrast jitter.

Validation (:func:`validate`): crops of ``concourse_weapon`` and ``negatives_weapon`` (the
library's own rifle, umbrella, cane and guitar case, nothing reassigned) and of
``concourse_quiet`` with props handed out at random, all at held-out seeds, against a
classical baseline: HOG features of the grey crop with a logistic regression fitted on the
same training crops (:func:`fit_hog_baseline`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from train.common import progress_bar, run_epochs, save_weights, torch_threads, write_json
from train.clips import Clip, _variant

#: [px] least adult image height at a person's foot point for a crop (the detector's default is 40)
MIN_HEIGHT_PX = 36.0
#: least visible share of a person's body for a crop
MIN_VISIBLE = 0.55
#: share of the adults in a sampled frame handed each prop (the rest keep theirs)
PROP_SHARES = {"rifle": 0.3, "umbrella": 0.15, "cane": 0.07, "guitar_case": 0.07, "bag": 0.05, "backpack": 0.05,
               "suitcase": 0.04}
#: base scenarios of the training clips: (name, share of clips, sampled window [s])
_BASES = (
    ("concourse_quiet", 0.25, (3.0, 90.0)),
    ("station_full", 0.15, (3.0, 90.0)),
    ("platform_intrusion", 0.15, (3.0, 70.0)),
    ("concourse_weapon", 0.15, (3.0, 50.0)),
    ("negatives_weapon", 0.1, (3.0, 50.0)),
    ("concourse_overcrowding", 0.1, (8.0, 90.0)),
    ("rush_hour_quiet", 0.1, (20.0, 140.0)),
)
#: held-out validation: (scenario, hand out props at random, sampled window [s])
VALIDATION_CLIPS = (("concourse_weapon", False, (3.0, 50.0)), ("negatives_weapon", False, (3.0, 50.0)),
                    ("concourse_quiet", True, (3.0, 60.0)))


def default_clips(n_clips: int = 40, first_seed: int = 10_000, every_s: float = 0.5) -> list[Clip]:
    """``n_clips`` training clips over the base scenarios, clip ``k`` at seed ``first_seed + k`` (redrawn
    from the next seed when a variant makes an invalid scenario), sampled every ``every_s`` [s]."""
    from sim.scenario import ScenarioError, load_scenario
    from sim.seeds import check_training_seed

    shares = np.array([b[1] for b in _BASES])
    per_base = np.floor(shares / shares.sum() * n_clips).astype(int)
    per_base[: n_clips - per_base.sum()] += 1
    clips, seed = [], int(first_seed)
    for (name, _, window), n in zip(_BASES, per_base):
        sc = load_scenario(name)
        made = 0
        while made < n:
            check_training_seed(seed)
            clip = _variant((name, 0.0, None, None, window), seed, sc)
            seed += 1
            try:
                load_scenario(clip.scenario, clip.overrides)
            except ScenarioError:
                continue
            clips.append(Clip(clip.scenario, clip.seed, clip.overrides, clip.t_from_s, clip.t_to_s, every_s))
            made += 1
    return clips


def assign_props(crowd, rng: np.random.Generator):
    """``crowd`` (a :class:`sim.state.CrowdState`) with props handed to upright adults at random
    (:data:`PROP_SHARES`); rifles and umbrellas held low, raised to aim, or in between."""
    from dataclasses import replace

    from sim.state import BodyKind, Posture, Prop

    n = len(crowd)
    prop, lift = crowd.prop.copy(), crowd.prop_raise.copy()
    adults = np.flatnonzero((crowd.body == BodyKind.ADULT) & np.isin(crowd.posture, (Posture.STANDING, Posture.WALKING)))
    draw = rng.random(len(adults))
    edges = np.cumsum(list(PROP_SHARES.values()))
    kinds = [Prop[name.upper()] for name in PROP_SHARES]
    for k, kind in enumerate(kinds):
        rows = adults[(draw >= (edges[k - 1] if k else 0.0)) & (draw < edges[k])]
        prop[rows] = kind
        if kind in (Prop.RIFLE, Prop.UMBRELLA):
            u = rng.random(len(rows))
            lift[rows] = np.where(u < 0.4, 0.0, np.where(u < 0.75, 1.0, rng.random(len(rows))))
        else:
            lift[rows] = 0.0
    if n == 0:
        return crowd
    return replace(crowd, prop=prop, prop_raise=lift.astype(np.float32))


@dataclass
class Crops:
    """Rendered crops: (N, h, w, 3) uint8 BGR, (N,) labels (1 rifle), (N,) the prop each person carried."""

    image: np.ndarray
    label: np.ndarray
    prop: np.ndarray

    def __len__(self) -> int:
        return len(self.label)

    def subset(self, n: int, seed: int) -> "Crops":
        """At most ``n`` crops drawn at random without replacement (seed ``seed``), in their order."""
        if n >= len(self):
            return self
        keep = np.sort(np.random.default_rng([seed, 5]).choice(len(self), size=n, replace=False))
        return Crops(self.image[keep], self.label[keep], self.prop[keep])

    def save(self, path: str, fingerprint: str) -> None:
        from detectors.files import atomic_path

        with atomic_path(path, suffix=".npz") as tmp:
            np.savez_compressed(tmp, image=self.image, label=self.label, prop=self.prop, clips=np.array(fingerprint))

    @classmethod
    def load(cls, path: str, fingerprint: str) -> "Crops":
        d = np.load(path)
        found = str(d["clips"]) if "clips" in d.files else "(none)"
        if found != fingerprint:
            raise ValueError(f"{path}: rendered from other clips (fingerprint {found}, expected {fingerprint}); "
                             f"delete it or pass another --cache")
        return cls(d["image"], d["label"], d["prop"])


def _crops_of_frame(image, ann, crowd, site, rng, jitter: bool):
    """Crops and labels of the adults one rendered frame shows (see the module docstring)."""
    from detectors.weapon import CROP_SIZE, person_box
    from detectors.perception import _crop
    from sim.state import BodyKind, Prop

    if len(ann.ids) == 0 or len(crowd) == 0:
        return [], [], []
    row_of = {int(i): r for r, i in enumerate(crowd.ids.tolist())}
    rows = np.array([row_of.get(int(i), -1) for i in ann.ids])
    keep = (rows >= 0) & (np.nan_to_num(ann.visible, nan=1.0) >= MIN_VISIBLE)
    rows = rows[keep]
    rows = rows[crowd.body[rows] == BodyKind.ADULT]
    if len(rows) == 0:
        return [], [], []
    foot = site.ground_to_image(crowd.pos_m[rows])
    height = site.person_height_px(crowd.pos_m[rows])
    w, h = site.image_size
    ok = np.isfinite(height) & (height >= MIN_HEIGHT_PX) & np.all(np.isfinite(foot), axis=1)
    ok &= (foot[:, 0] >= 0) & (foot[:, 0] < w) & (foot[:, 1] >= 0.3 * height) & (foot[:, 1] < h + 0.1 * height)
    rows, foot, height = rows[ok], foot[ok], height[ok]
    rifle = crowd.prop[rows] == Prop.RIFLE
    # a rifle carrier's neighbours in the image: their crop may hold the rifle, no clean label
    rifles = np.flatnonzero(rifle)
    near = np.zeros(len(rows), bool)
    for r in rifles:
        d = np.abs(foot[:, 0] - foot[r, 0]) < 0.7 * np.maximum(height, height[r])
        d &= np.abs(foot[:, 1] - foot[r, 1]) < 0.6 * np.maximum(height, height[r])
        d[r] = False
        near |= d
    rows, foot, height, rifle = rows[~near], foot[~near], height[~near], rifle[~near]
    if jitter:
        foot = foot + rng.normal(0.0, 1.0, foot.shape) * np.c_[0.06 * height, 0.05 * height]
        height = height * np.exp(rng.normal(0.0, 0.08, len(height)))
    boxes = person_box(foot, height)
    crops = [_crop(image, b, CROP_SIZE) for b in boxes]
    return crops, rifle.astype(np.uint8).tolist(), crowd.prop[rows].astype(np.uint8).tolist()


def render_crops(clips, *, shuffle_props=True, check_seeds: bool = True, progress: bool = True,
                 label: str = "render crops") -> Crops:
    """Render the sampled frames of every camera of ``clips`` and crop the adults in view.

    ``shuffle_props``: hand out props at random (:func:`assign_props`), one bool or one per clip.
    ``check_seeds``: refuse non-training seeds (False only for the held-out validation)."""
    from detectors.site import SiteConfig
    from sim.render import Renderer
    from sim.scenario import load_scenario
    from sim.seeds import check_training_seed
    from sim.site_export import site_config_dict
    from sim.source import _camera_seed
    from sim.world.model import StationModel

    shuffle = [shuffle_props] * len(clips) if isinstance(shuffle_props, bool) else list(shuffle_props)
    images, labels, props = [], [], []
    bar = progress_bar(len(clips), progress, label)
    try:
        for clip, shuffle_this in zip(clips, shuffle):
            if check_seeds:
                check_training_seed(clip.seed)
            sc = load_scenario(clip.scenario, clip.overrides)
            model = StationModel(sc, seed=clip.seed)
            rng = np.random.default_rng([clip.seed, 11])
            cams = [(Renderer(sc, c, seed=_camera_seed(clip.seed, k)), SiteConfig.from_dict(site_config_dict(sc, c.name)))
                    for k, c in enumerate(sc.cameras)]
            t_to = sc.duration_s if clip.t_to_s is None else min(clip.t_to_s, sc.duration_s)
            for t in np.arange(clip.t_from_s, t_to - 1e-9, clip.every_s):
                t = round(float(t), 3)
                model.run_until(t)
                state = model.world()
                if shuffle_this:
                    from dataclasses import replace

                    state = replace(state, crowd=assign_props(state.crowd, rng))
                for rend, site in cams:
                    image, ann = rend.render(state, t, visibility=True)
                    c, lab, pr = _crops_of_frame(image, ann, state.crowd, site, rng, jitter=shuffle_this)
                    images += c
                    labels += lab
                    props += pr
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    from detectors.weapon import CROP_SIZE

    if not images:
        return Crops(np.zeros((0, CROP_SIZE[1], CROP_SIZE[0], 3), np.uint8), np.zeros(0, np.uint8), np.zeros(0, np.uint8))
    return Crops(np.stack(images), np.asarray(labels, np.uint8), np.asarray(props, np.uint8))


@dataclass
class TrainResult:
    final_loss: float
    train_crops: int
    seconds: float
    state_dict: dict
    losses: list


def _augment(torch, xb, rng: np.random.Generator):
    """Horizontal flips, brightness and contrast jitter of a (B, 3, h, w) batch in [0, 1]."""
    b = xb.shape[0]
    flip = torch.from_numpy(rng.random(b) < 0.5)
    xb[flip] = xb[flip].flip(-1)
    gain = torch.from_numpy(rng.uniform(0.7, 1.3, (b, 1, 1, 1)).astype(np.float32))
    mean = xb.mean(dim=(1, 2, 3), keepdim=True)
    contrast = torch.from_numpy(rng.uniform(0.75, 1.25, (b, 1, 1, 1)).astype(np.float32))
    return ((xb - mean) * contrast + mean * gain).clamp_(0.0, 1.0)


def fit(crops: Crops, *, seed: int = 0, epochs: int = 8, batch: int = 64, lr: float = 3e-3, threads: int = 1,
        init: str | None = None, progress: bool = True) -> TrainResult:
    """Fit a classifier on ``crops`` (torch seed ``seed``), fresh or from the weights file ``init``
    (training continued); the thread count is restored after."""
    import torch

    from detectors.weapon import build_net

    t_start = time.perf_counter()
    with torch_threads(threads):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        net = build_net()
        if init is not None:
            net.load_state_dict(torch.load(init, map_location="cpu", weights_only=True))
        net = net.to(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
        steps = epochs * math.ceil(len(crops) / batch)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, steps), pct_start=0.2)
        x_all = torch.from_numpy(crops.image).permute(0, 3, 1, 2)
        y_all = torch.from_numpy(crops.label.astype(np.float32))
        pos = float(crops.label.sum())
        pos_weight = torch.tensor([(len(crops) - pos) / max(pos, 1.0)])
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)

        def one_epoch():
            order = rng.permutation(len(crops))
            total, count = 0.0, 0
            for b in range(0, len(order), batch):
                idx = torch.from_numpy(order[b:b + batch])
                xb = _augment(torch, x_all[idx].to(torch.float32).div_(255.0), rng)
                logit = net(xb.contiguous(memory_format=torch.channels_last))[:, 0]
                loss = loss_fn(logit, y_all[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
            return total, count

        losses, state = run_epochs(net, epochs, one_epoch, progress=progress, label="train weapon")
    return TrainResult(final_loss=losses[-1] if losses else float("nan"), train_crops=len(crops),
                       seconds=time.perf_counter() - t_start, state_dict=state, losses=losses)


# --- the classical baseline -------------------------------------------------------------------


def hog_features(images: np.ndarray, cell: int = 8, bins: int = 9) -> np.ndarray:
    """(N, F) float32 HOG descriptors of (N, h, w, 3) uint8 crops (Dalal and Triggs: unsigned gradient
    orientation in ``bins`` bins per ``cell`` x ``cell`` cell, 2x2-cell blocks at a one-cell stride, L2-Hys).
    Written here with numpy: opencv-python 5's wheels have no ``HOGDescriptor``."""
    imgs = np.asarray(images, np.float32)
    grey = imgs @ np.array([0.114, 0.587, 0.299], np.float32)  # BGR -> luma, (N, h, w)
    n, h, w = grey.shape
    gx, gy = np.zeros_like(grey), np.zeros_like(grey)
    gx[:, :, 1:-1] = grey[:, :, 2:] - grey[:, :, :-2]
    gy[:, 1:-1, :] = grey[:, 2:, :] - grey[:, :-2, :]
    mag = np.hypot(gx, gy)
    ang = np.degrees(np.arctan2(gy, gx)) % 180.0
    b = np.minimum((ang * (bins / 180.0)).astype(np.int64), bins - 1)
    ch, cw = h // cell, w // cell
    rows = np.minimum(np.arange(h) // cell, ch - 1)
    cols = np.minimum(np.arange(w) // cell, cw - 1)
    idx = ((np.arange(n)[:, None, None] * ch + rows[None, :, None]) * cw + cols[None, None, :]) * bins + b
    hist = np.bincount(idx.ravel(), weights=mag.ravel(), minlength=n * ch * cw * bins).reshape(n, ch, cw, bins)
    blocks = np.concatenate([hist[:, :-1, :-1], hist[:, 1:, :-1], hist[:, :-1, 1:], hist[:, 1:, 1:]], axis=-1)
    blocks = blocks / np.sqrt((blocks ** 2).sum(-1, keepdims=True) + 1e-6)
    blocks = np.minimum(blocks, 0.2)
    blocks = blocks / np.sqrt((blocks ** 2).sum(-1, keepdims=True) + 1e-6)
    return blocks.reshape(n, -1).astype(np.float32)


def fit_hog_baseline(crops: Crops, *, seed: int = 0, epochs: int = 30, l2: float = 1e-3):
    """A logistic regression on HOG features (full-batch L-BFGS, class-balanced, L2 ``l2``);
    returns a function from (N, h, w, 3) uint8 crops to (N,) probabilities."""
    import torch

    torch.manual_seed(seed)
    f = hog_features(crops.image)
    mu, sd = f.mean(axis=0), f.std(axis=0) + 1e-6
    x = torch.from_numpy((f - mu) / sd)
    y = torch.from_numpy(crops.label.astype(np.float32))
    pos = float(crops.label.sum())
    pos_weight = torch.tensor([(len(crops) - pos) / max(pos, 1.0)])
    lin = torch.nn.Linear(x.shape[1], 1)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=epochs * 10, line_search_fn="strong_wolfe")
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    def closure():
        opt.zero_grad()
        loss = loss_fn(lin(x)[:, 0], y) + l2 * (lin.weight ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w, b = lin.weight.detach().numpy()[0].copy(), float(lin.bias.detach())

    def predict(images: np.ndarray) -> np.ndarray:
        z = ((hog_features(images) - mu) / sd) @ w + b
        return 1.0 / (1.0 + np.exp(-z))

    return predict


# --- validation -------------------------------------------------------------------------------


def classifier_figures(prob: np.ndarray, label: np.ndarray, prop: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall at ``threshold``, ROC AUC, and the share of each hard negative
    (umbrella, cane, guitar case) called a rifle."""
    from sim.state import Prop

    pred = prob >= threshold
    lab = label.astype(bool)
    tp, fp, fn = int((pred & lab).sum()), int((pred & ~lab).sum()), int((~pred & lab).sum())
    out = {"crops": int(len(lab)), "positives": int(lab.sum()), "accuracy": round(float((pred == lab).mean()), 4)
           if len(lab) else None,
           "precision": round(tp / (tp + fp), 4) if tp + fp else None,
           "recall": round(tp / (tp + fn), 4) if tp + fn else None, "roc_auc": _auc(prob, lab)}
    for kind in (Prop.UMBRELLA, Prop.CANE, Prop.GUITAR_CASE, Prop.BAG, Prop.BACKPACK, Prop.SUITCASE, Prop.NONE):
        m = prop == kind
        out[f"called_rifle_{kind.name.lower()}"] = round(float(pred[m].mean()), 4) if m.any() else None
    return out


def _auc(prob: np.ndarray, lab: np.ndarray) -> float | None:
    """ROC AUC by the rank statistic (ties counted half)."""
    from scipy.stats import rankdata

    n1, n0 = int(lab.sum()), int((~lab).sum())
    if n1 == 0 or n0 == 0:
        return None
    r = rankdata(prob)
    return round(float((r[lab].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)), 4)


def validation_clips(seeds) -> list[Clip]:
    """The held-out validation clips (:data:`VALIDATION_CLIPS`) at ``seeds`` (evaluation seeds only)."""
    from sim.seeds import check_evaluation_seeds

    seeds = check_evaluation_seeds(seeds, what="weapon validation seeds")
    return [Clip(name, int(s), {}, t0, t1, 0.4) for name, _, (t0, t1) in VALIDATION_CLIPS for s in seeds]


def validate(weights: str, baseline, seeds, *, progress: bool = True) -> dict:
    """The classifier (``weights``) and the ``baseline`` on held-out crops (:func:`validation_clips`)."""
    from detectors.weapon import WeaponCNN

    clips = validation_clips(seeds)
    shuffle = [dict((n, s) for n, s, _ in VALIDATION_CLIPS)[c.scenario] for c in clips]
    crops = render_crops(clips, shuffle_props=shuffle, check_seeds=False, progress=progress, label="held-out crops")
    cnn = WeaponCNN(weights).predict(crops.image) if len(crops) else np.zeros(0)
    base = baseline(crops.image) if len(crops) else np.zeros(0)
    return {"seeds": [int(s) for s in seeds], "clips": [c.to_dict() for c in clips],
            "cnn": classifier_figures(cnn, crops.label, crops.prop),
            "hog_logistic_baseline": classifier_figures(base, crops.label, crops.prop)}


def save(result: TrainResult, path: str, *, card: dict) -> str:
    """Write the state_dict to ``path`` and the model card next to it as ``.json``; both atomically."""
    return save_weights(result.state_dict, path, {
        **card, "train_crops": result.train_crops, "final_loss": round(result.final_loss, 6),
        "loss_per_epoch": [round(x, 6) for x in result.losses], "train_seconds": round(result.seconds, 1)})


# --- the command ------------------------------------------------------------------------------


def configure(parser) -> None:
    """Arguments of ``stationwatch train weapon``."""
    from eval.cli import _positive_float, _positive_int, _positive_s

    parser.add_argument("--seed", type=int, default=0, help="torch initialisation and shuffling seed")
    parser.add_argument("--data-seed", type=int, default=10_000,
                        help="scenario seed of the first clip; clip k uses data-seed + k (training seeds only)")
    parser.add_argument("--clips", type=_positive_int, default=40, help="number of rendered clips")
    parser.add_argument("--every-s", type=_positive_s, default=0.5, help="[s] time between sampled frames of a clip")
    parser.add_argument("--max-crops", type=_positive_int, default=20_000,
                        help="crops drawn at random from the rendered ones to train on (the fit's cost)")
    parser.add_argument("--epochs", type=_positive_int, default=5)
    parser.add_argument("--lr", type=_positive_float, default=3e-3, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--threads", type=_positive_int, default=1, help="torch threads while training")
    parser.add_argument("--cache", help="npz file: reuse the rendered crops if it exists, else write them there")
    parser.add_argument("--validate-seeds", type=int, nargs="*", default=None,
                        help="held-out seeds of the validation (default: the first three held-out seeds; none: skip)")
    parser.add_argument("--init", help="weights file to continue training from (default: a fresh network)")
    parser.add_argument("--out", help="where to write the weights (default: the package's detectors/weights/)")


def main(args) -> int:
    from detectors.files import check_writable
    from detectors.weapon import WEIGHTS_FILE
    from sim.seeds import HELD_OUT_SEEDS
    from train.density import clips_fingerprint

    argv = sys.argv[3:] if len(sys.argv) > 3 else []
    t0 = time.perf_counter()
    clips = default_clips(args.clips, args.data_seed, args.every_s)
    out = args.out or WEIGHTS_FILE
    check_writable(out)  # now, not after minutes of rendering and training
    check_writable(os.path.splitext(out)[0] + ".json")
    fingerprint = clips_fingerprint(clips)
    if args.cache and os.path.exists(args.cache):
        crops = Crops.load(args.cache, fingerprint)
        print(f"reused {len(crops)} rendered crops from {args.cache}", file=sys.stderr)
    else:
        crops = render_crops(clips)
        if args.cache:
            crops.save(args.cache, fingerprint)
    render_s = time.perf_counter() - t0
    rendered = len(crops)
    crops = crops.subset(args.max_crops, args.seed)
    if crops.label.sum() == 0 or crops.label.sum() == len(crops):
        raise ValueError(f"train weapon: the {len(crops)} rendered crops hold one class only; render more --clips")
    if args.init is not None and not os.path.isfile(args.init):
        raise FileNotFoundError(f"train weapon: --init {args.init!r} is not a weights file")
    result = fit(crops, seed=args.seed, epochs=args.epochs, lr=args.lr, threads=args.threads, init=args.init)
    card = {
        "model": "weapon CNN (detectors/weapon.py): 48x40 BGR canonical person crop -> P(rifle)",
        "command": " ".join(["stationwatch", "train", "weapon", *argv]),
        "seed": int(args.seed), "epochs": int(args.epochs), "lr": float(args.lr), "threads": int(args.threads),
        "init": args.init,
        "data": {"clips": [c.to_dict() for c in clips], "rendered_crops": rendered, "crops": len(crops), "positives": int(crops.label.sum()),
                 "seeds": [clips[0].seed, clips[-1].seed] if clips else [], "prop_shares": PROP_SHARES},
        "render_seconds": round(render_s, 1),
    }
    meta = save(result, out, card=card)
    print(f"trained on {result.train_crops} crops ({int(crops.label.sum())} rifles) in {result.seconds:.0f} s "
          f"(rendering {render_s:.0f} s), final loss {result.final_loss:.4f}; wrote {out}", file=sys.stderr)
    seeds = HELD_OUT_SEEDS[:3] if args.validate_seeds is None else args.validate_seeds
    if seeds:
        baseline = fit_hog_baseline(crops, seed=args.seed)
        val = validate(out, baseline, seeds)
        with open(meta, encoding="utf-8") as fh:
            data = json.load(fh)
        data["validation"] = val
        write_json(meta, data)
        c, b = val["cnn"], val["hog_logistic_baseline"]
        print(f"held-out crops ({c['crops']}, {c['positives']} rifles, seeds {val['seeds']}): CNN accuracy "
              f"{c['accuracy']} AUC {c['roc_auc']}; HOG + logistic regression accuracy {b['accuracy']} "
              f"AUC {b['roc_auc']}", file=sys.stderr)
    print(f"model card: {meta}", file=sys.stderr)
    return 0
