"""Weapon: a small CNN on person crops says whether a person carries (or raises) a rifle.

Per frame, the confirmed tracks matched in that frame are cropped from the full-resolution
image in a *canonical person box* (:func:`person_box`): centred on the track's foot point
projected into the image, as high as ``BOX_HEIGHT`` and as wide as ``BOX_WIDTH`` times the
image height of an adult standing there (the site's calibration), so that a rifle held low
across the body or raised to the shoulder and aimed sideways lies inside the crop whatever
the box the people finder drew. The crop is resized to ``CROP_SIZE`` and the network
(:func:`build_net`, about 50,000 parameters) gives the probability that the person carries a
rifle; an umbrella (held or pointed), a cane, a guitar case, bags are the negatives it was
trained against (:mod:`train.weapon`).

Each track is classified every ``every_n`` frames (staggered by track id, so the work is
spread over frames) and at most ``max_crops`` crops go through the network per frame
(the tracks waiting longest first). A person's score is the smaller of an exponential moving
average of their crops' probabilities with time constant ``tau_s`` [s]
(:class:`~detectors.evidence.KeyedEvidence`) and the ``confirm_k``-th highest of their last
``confirm_n`` probabilities: graded, and it reaches the threshold only when several crops
in a row are sure, not on one odd crop (the network gives unarmed people runs of crops
between 0.9 and 0.97 now and then, a rifle carrier 0.99 and above). Tracks shorter than
``min_height_px`` (an adult's expected image height at their foot point) are too small to
see a rifle on and score nothing: a rifle is about 7 cm thick, so for an adult of 1.7 m it
is at least 2 pixels thick in the frame only from about 50 pixels of person height
(``MIN_HEIGHT_PX``); below that the network sees a line no thicker than an umbrella's shaft
or a strap, and on the tuning seeds unarmed people of 44 to 48 pixels reached the threshold
(three false alarms in 270 s of ``concourse_quiet``) while every armed person was first seen
taller than 54 pixels. A track whose own box is shorter than ``min_box_ratio`` of that adult height is
not classified either: a person sitting or lying on the floor, whose legs stretched out across the
canonical crop look like a rifle held low (a sitter on the floor of ``negatives_fall``, about 0.47 of the
adult height, alarmed), does not carry one. Nor is a track whose box reaches within ``cut_margin_px`` of
the bottom edge of the picture: the edge cuts the person, their foot point is the edge rather than their
feet, and the canonical crop centred on it is misplaced upwards, mostly floor above their head, unlike
any crop the network was trained on (a person stepping in at the bottom of ``concourse_surge``, their
box 46 px tall from the edge, alarmed at 0.95 at a retired held-out seed); a rifle carrier walking in
from there is classified once their feet are in the picture. The frames skipped count neither way.

One instance per *person*, not per track id: a tracker loses a person for a moment (a merged
blob, a pillar) and picks them up under a new track id, and a rifle carrier must not alert
again then. A new track that appears within ``link_m`` [m] (plus 0.5 m/s times the gap) of
where a recent track's velocity would have taken it, less than ``link_s`` [s] after that
track was last seen, continues its instance key ``"track/N"`` (N the first track's id) and
its evidence (:class:`~detectors.evidence.InstanceLinks`; within 0.7 ``link_m`` when that
track is still followed: two tracks on one person). In a crowd the tracks around a rifle
carrier swap and break often, and a neighbour's crop may hold the rifle too: a person whose
score reached ``hold_score`` is remembered for ``hold_s`` [s] after last seen, and every
track within ``hold_m`` [m] (plus 0.5 m/s times the time since) of where they were is
reported as their instance (the nearest such person's), so the cooldown of the first alert
covers them; two armed people walking within 2 m of each other are one instance. The box
is the canonical person box.

Inference under :func:`torch.inference_mode`, channels-last, on one thread (restored after):
the same floats on any machine. torch is imported inside functions only.

Weights are trained by ``stationwatch train weapon`` on crops rendered at training seeds
only and shipped in ``detectors/weights/weapon_cnn.pt`` with the model card
``weapon_cnn.json``.
"""

from __future__ import annotations

import math
import os
from collections import deque

import numpy as np

from detectors.base import NOTHING, DetectorOutput, InstanceScore
from detectors.events import EventType
from detectors.evidence import InstanceLinks, KeyedEvidence, clip_box
from detectors.nets import flat_forward, fuse_batchnorm, load_net
from detectors.perception import Percept
from detectors.site import SiteConfig

#: where the shipped weights live (package data)
WEIGHTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights", "weapon_cnn.pt")
#: (width, height) [px] of the network's input crop
CROP_SIZE = (40, 48)
#: canonical box height, as a share of an adult's image height at the foot point (head room above)
BOX_HEIGHT = 1.2
#: canonical box width, as a share of an adult's image height (a rifle aimed sideways reaches ~0.5 of it)
BOX_WIDTH = 1.0
#: part of the box below the foot point, as a share of the adult height (the foot estimate is rough)
BOX_BELOW = 0.08
#: [px] least adult image height at which a rifle (~0.07 m thick) spans 2 pixels: 2 * 1.7 / 0.07 ~ 49
MIN_HEIGHT_PX = 50.0


def person_box(foot_px: np.ndarray, height_px: np.ndarray) -> np.ndarray:
    """(N, 4) [px] x, y, w, h canonical person boxes around foot points ``foot_px`` (N, 2) [px] of
    people whose adult image height there is ``height_px`` (N,) [px] (the crop the network sees)."""
    foot = np.asarray(foot_px, np.float64).reshape(-1, 2)
    h = np.asarray(height_px, np.float64).reshape(-1)
    return np.stack([foot[:, 0] - 0.5 * BOX_WIDTH * h, foot[:, 1] - (BOX_HEIGHT - BOX_BELOW) * h,
                     BOX_WIDTH * h, BOX_HEIGHT * h], axis=1)


def build_net():
    """The untrained classifier (``torch.nn.Sequential``): (N, 3, 48, 40) BGR in [0, 1] -> (N, 1) logit.

    Four 3x3 convolutions (16, 32, 48, 64 channels) with 2x2 max-pooling between, then the
    average and the maximum over the last map side by side (a thin object anywhere in the crop
    shows in the maximum) and a linear layer."""
    import torch
    from torch import nn

    class _Pool(nn.Module):
        def forward(self, x):
            return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(32, 48, 3, padding=1), nn.BatchNorm2d(48), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(48, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
        _Pool(), nn.Dropout(0.2), nn.Linear(128, 1),
    )


def net_input(crops: np.ndarray):
    """(N, 3, h, w) float32 channels-last tensor from (N, h, w, 3) uint8 BGR crops."""
    import torch

    c = np.asarray(crops)
    if c.ndim != 4 or c.shape[-1] != 3 or c.dtype != np.uint8:
        raise ValueError(f"WeaponCNN: crops must be (N, h, w, 3) uint8; got {c.shape} {c.dtype}")
    x = torch.from_numpy(np.ascontiguousarray(c)).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    return x.contiguous(memory_format=torch.channels_last)


class WeaponCNN:
    """The trained classifier, for inference: ``predict(crops)`` -> probability of a rifle per crop.

    ``path``: a state_dict written by :mod:`train.weapon` (default: the shipped weights).
    Raises ``FileNotFoundError`` naming the path when it is missing.
    """

    def __init__(self, path: str = WEIGHTS_FILE) -> None:
        self.path = path
        self.net = load_net(build_net(), path, what="weapon CNN", command="stationwatch train weapon")
        # the same function, batch norms folded into the convolutions, its layers' operations called directly
        self._infer = flat_forward(fuse_batchnorm(self.net))

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """(N,) float64 probability that each (h, w, 3) uint8 BGR crop shows a person with a rifle."""
        import torch

        if len(crops) == 0:
            return np.zeros(0)
        x = net_input(crops)
        threads = torch.get_num_threads()
        if threads != 1:
            torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                y = torch.sigmoid(self._infer(x))[:, 0]
        finally:
            if threads != 1:
                torch.set_num_threads(threads)
        return y.numpy().astype(np.float64)


_MODELS: dict[str, WeaponCNN] = {}


def _model(path: str) -> WeaponCNN:
    """One loaded network per weights file (detectors are made per camera and per run)."""
    if path not in _MODELS:
        _MODELS[path] = WeaponCNN(path)
    return _MODELS[path]


class WeaponDetector:
    """A rifle on a tracked person, from a CNN on canonical person crops (see the module docstring).

    Parameters: ``every_n`` [frames] between two classifications of one track; ``max_crops``
    most crops classified per frame; ``tau_s`` [s] time constant of a track's evidence;
    ``forget_s`` [s] a track's evidence is dropped after this long unclassified; ``confirm_k`` of
    ``confirm_n`` [crops]: the score is at most the ``confirm_k``-th highest of the instance's last
    ``confirm_n`` crop probabilities (it reaches the threshold only when that many crops do; 0:
    the moving average alone);
    ``min_height_px`` [px] least adult image height at the track's foot point; ``min_box_ratio``
    [fraction of that adult height] least height of the track's own box: someone sitting or lying is not
    classified; ``cut_margin_px`` [px]: nor is a track whose box reaches this near the bottom edge (cut by it;
    negative: classified all the same); ``link_s`` [s]
    and ``link_m`` [m]: a new track this soon and this near (ground plane) to where a recent
    track would be continues that track's instance and evidence; ``hold_score`` [score in
    [0, 1]], ``hold_s`` [s], ``hold_m`` [m]: a person whose score reached ``hold_score`` is
    remembered for ``hold_s`` after they were last seen, and any track within ``hold_m`` (plus
    0.5 m/s times the time since) of where they were is reported as their instance; ``weights``: path of the
    network's weights (default: the shipped ones).
    """

    event_type = EventType.WEAPON
    #: chosen on the tuning seeds (crops logged from the runs of 201-203 of every library scenario but
    #: rush_hour_quiet, 204-209 of concourse_weapon, and the evidence rules replayed over them): the rifle
    #: carriers' crops are sure (0.99 and above) while the unarmed people who alarmed at 0.9 (beside the fallen
    #: person of platform_fall, on the platform of platform_intrusion, in concourse_overcrowding) had runs of
    #: crops of 0.93 to 0.97. A threshold of 0.95 on the smaller of a short average (``tau_s`` 0.3 s) and the
    #: third highest of the last four crops had no false alarm there and a median latency of 1.5 s, against 4
    #: false alarms and 2.1 s for the average alone at 0.9 with ``tau_s`` 0.6 s. Raised to 0.97: a bystander standing
    #: still beside the fallen person of platform_fall (a retired held-out seed, 935), the lying body across the
    #: lower half of the crop like a rifle held low, had a run of crops of 0.93 to 0.97 and alarmed at 0.955, while
    #: the rifle carriers of concourse_weapon at tuning seeds 201-207 reached 0.989 to 0.999; replayed over the crops
    #: logged at 201-207 (concourse_weapon) and 201-205 (platform_fall, negatives_weapon 201-202), 0.97 keeps all 7
    #: carriers at the same latencies but one (203: 1.2 -> 1.5 s; median 1.6 s) and raises no alarm there
    default_threshold = 0.97
    default_min_duration_s = 0.0  #: [s] the evidence's time constant already asks for a run of crops
    default_cooldown_s = 30.0  #: [s] per instance (one person)

    def __init__(self, site: SiteConfig, *, every_n: int = 3, max_crops: int = 8, tau_s: float = 0.3,
                 forget_s: float = 3.0, confirm_k: int = 3, confirm_n: int = 4,
                 min_height_px: float = MIN_HEIGHT_PX, min_box_ratio: float = 0.6, link_s: float = 3.0,
                 link_m: float = 1.0, hold_score: float = 0.9, hold_s: float = 10.0, hold_m: float = 2.0,
                 cut_margin_px: float = 2.0,
                 weights: str | None = None) -> None:
        if not (isinstance(every_n, (int, np.integer)) and every_n >= 1):
            raise ValueError(f"WeaponDetector.every_n must be an integer >= 1 frame; got {every_n!r}")
        if not (isinstance(max_crops, (int, np.integer)) and max_crops >= 1):
            raise ValueError(f"WeaponDetector.max_crops must be an integer >= 1; got {max_crops!r}")
        if not (isinstance(confirm_n, (int, np.integer)) and isinstance(confirm_k, (int, np.integer))
                and 0 <= confirm_k <= confirm_n and confirm_n >= 1):
            raise ValueError(f"WeaponDetector.confirm_k and confirm_n must be integers with 0 <= confirm_k <= confirm_n, "
                             f"confirm_n >= 1; "
                             f"got {confirm_k!r} and {confirm_n!r}")
        for name, value in (("tau_s", tau_s), ("forget_s", forget_s), ("min_height_px", min_height_px),
                            ("link_s", link_s), ("link_m", link_m), ("hold_score", hold_score), ("hold_s", hold_s),
                            ("hold_m", hold_m)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"WeaponDetector.{name} must be a finite number >= 0; got {value!r}")
        if not (isinstance(min_box_ratio, (int, float)) and 0 <= min_box_ratio <= 1):
            raise ValueError(f"WeaponDetector.min_box_ratio must be a number in [0, 1]; got {min_box_ratio!r}")
        self.min_box_ratio = float(min_box_ratio)
        if not (isinstance(cut_margin_px, (int, float)) and math.isfinite(cut_margin_px)):
            raise ValueError(f"WeaponDetector.cut_margin_px must be a finite number; got {cut_margin_px!r}")
        self.cut_margin_px = float(cut_margin_px)
        self.site = site
        self.every_n, self.max_crops = int(every_n), int(max_crops)
        self.tau_s, self.forget_s, self.min_height_px = float(tau_s), float(forget_s), float(min_height_px)
        self.link_s, self.link_m = float(link_s), float(link_m)
        self.confirm_k, self.confirm_n = int(confirm_k), int(confirm_n)
        self.hold_score, self.hold_s, self.hold_m = float(hold_score), float(hold_s), float(hold_m)
        self.model = _model(WEIGHTS_FILE if weights is None else str(weights))
        self.reset()

    def reset(self) -> None:
        self._evidence = KeyedEvidence(self.tau_s, forget_s=self.forget_s)
        self._last_seen: dict[int, int] = {}  #: track id -> frame index of its last classification
        self._box: dict[str, tuple] = {}  #: instance key -> canonical box of its last classified crop
        self._links = InstanceLinks(link_s=self.link_s, link_m=self.link_m)
        self._recent: dict[str, deque] = {}  #: instance key -> its last confirm_n crop probabilities
        self._armed: dict[str, tuple[float, np.ndarray]] = {}  #: key -> (time [s], ground position [m]) last seen

    def score(self, percept: Percept) -> DetectorOutput:
        if not percept.ready:
            self.reset()
            return NOTHING
        tr = percept.tracks
        rows = np.flatnonzero(tr.confirmed & (tr.lost_s == 0) & np.all(np.isfinite(tr.foot_m), axis=1))
        if len(rows) == 0:
            self._evidence.update(percept.t, [], [])
            return NOTHING
        foot = self.site.ground_to_image(tr.foot_m[rows])
        height = tr.expected_height_px[rows]
        ok = np.isfinite(height) & (height >= self.min_height_px) & np.all(np.isfinite(foot), axis=1)
        if self.min_box_ratio > 0:
            # a person sitting or lying on the floor is not classified (their box cut by the bottom edge excepted)
            b = tr.box[rows]
            ok &= (b[:, 3] >= self.min_box_ratio * height) | (b[:, 1] + b[:, 3] >= self.site.image_size[1] - 2)
        # a person cut by the bottom edge: the crop centred on the edge, not on their feet, is misplaced
        ok &= tr.box[rows, 1] + tr.box[rows, 3] < self.site.image_size[1] - self.cut_margin_px
        rows, foot, height = rows[ok], foot[ok], height[ok]
        ids = tr.id[rows]
        frame = percept.index
        # one instance (and one evidence) per person: a broken track continues its predecessor's key
        keys = [self._links.key("track", int(i), tr.foot_m[r], percept.t, tr.vel_mps[r]) for i, r in zip(ids, rows)]
        # due: every_n frames since its last classification; a new track counts as classified a few frames
        # ago, staggered by its id, so that the tracks of one frame do not all fall due together
        for i in ids.tolist():
            self._last_seen.setdefault(int(i), frame - 1 - (int(i) % self.every_n))
        waited = np.array([frame - self._last_seen[int(i)] for i in ids])
        due = np.flatnonzero(waited >= self.every_n) if len(ids) else np.zeros(0, np.int64)
        due = due[np.argsort(-waited[due], kind="stable")][: self.max_crops]
        boxes = person_box(foot[due], height[due])
        if len(due):
            crops = np.stack([percept.crop(b, CROP_SIZE) for b in boxes])
            prob = self.model.predict(crops)
            due_keys = [keys[j] for j in due]
            self._evidence.update(percept.t, due_keys, prob)
            for i, k, b, p in zip(ids[due].tolist(), due_keys, boxes, prob.tolist()):
                self._last_seen[int(i)] = frame
                self._recent.setdefault(k, deque(maxlen=self.confirm_n)).append(p)
                self._box[k] = tuple(float(v) for v in b)
        else:
            self._evidence.update(percept.t, [], [])
        gone = [k for k, f in self._last_seen.items() if (frame - f) / max(self.site.fps, 1e-9) > self.forget_s]
        for k in gone:
            del self._last_seen[k]
        live = set(keys)
        for k in [k for k in self._box if k not in live and self._evidence.get(k, -1.0) < 0]:
            del self._box[k]
        for k in [k for k in self._recent if self._evidence.get(k, -1.0) < 0]:
            del self._recent[k]
        # an armed person seen lately: the instance of any track near where they were last seen (their own
        # tracks, a neighbour whose crop holds the rifle, a track that took over in a crowd) is theirs
        t = percept.t
        self._armed = {a: v for a, v in self._armed.items() if t - v[0] <= self.hold_s}
        pos = {}
        for k, r in zip(keys, rows.tolist()):
            pos.setdefault(k, tr.foot_m[r])
        for k in pos:
            if k in self._armed:
                self._armed[k] = (t, pos[k])
        best: dict[str, InstanceScore] = {}
        for k in pos:
            s = self._evidence.get(k)
            if self.confirm_k:
                recent = self._recent.get(k, ())
                s = min(s, sorted(recent, reverse=True)[self.confirm_k - 1] if len(recent) >= self.confirm_k else 0.0)
            if not (s > 0 and k in self._box):
                continue
            box = clip_box(self._box[k], self.site.image_size)
            if box is None:
                continue
            name, name_d = k, math.inf
            if k not in self._armed:
                for a, (ta, xa) in self._armed.items():
                    d = float(np.hypot(*(pos[k] - xa)))
                    if d <= self.hold_m + 0.5 * (t - ta) and d < name_d:
                        name, name_d = a, d
                if name != k and name not in pos:  # its own tracks are gone: follow this one
                    self._armed[name] = (t, pos[k])
            if s >= self.hold_score and name not in self._armed:
                self._armed[name] = (t, pos[k])
            inst = InstanceScore(name, float(min(1.0, max(0.0, s))), box)
            if name not in best or inst.score > best[name].score:
                best[name] = inst
        out = list(best.values())
        return DetectorOutput.of(out)
