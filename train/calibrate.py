"""Calibrate the density detector's gain on rendered footage with exact crowd counts.

The pixel estimate of :class:`detectors.density.DensityDetector` undercounts dense crowds
(people hide each other and pillars hide people). Its one free constant, ``gain``, is
fitted here, by least squares through the origin, between the detector's per-frame
density (gain 1) and the true density of the zone (agents whose position lies in it,
from the simulation), over frames where the truth is at least ``min_true_per_m2``. The
result is written to ``detectors/weights/density_gain.json`` with the command, the
scenarios and seeds that made it, and the error before and after.

The scenarios used for fitting are not the ones the demo evaluates: the default set is
``negatives_density_queue`` and ``concourse_overcrowding`` at seeds other than its own.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

#: (scenario, seed) pairs the shipped gain was fitted on
DEFAULT_SET = (("concourse_overcrowding", 101), ("concourse_overcrowding", 102), ("negatives_density_queue", 7))


@dataclass
class Calibration:
    gain: float
    n_frames: int
    rms_before: float  #: [persons/m²] over the fitted frames, gain 1
    rms_after: float  #: [persons/m²] with the fitted gain
    pairs: list

    def to_dict(self, argv=None) -> dict:
        return {
            "gain": {"pixels": round(self.gain, 6)},
            "fit": {"n_frames": self.n_frames, "rms_before_per_m2": round(self.rms_before, 4),
                    "rms_after_per_m2": round(self.rms_after, 4),
                    "scenarios": [{"scenario": s, "seed": k} for s, k in self.pairs]},
            "command": " ".join(["stationwatch", "calibrate-density"] + list(argv if argv is not None else sys.argv[2:])),
        }


def density_pairs(scenario, seed: int, *, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(detected, true) density per frame and density zone, in persons/m², with gain 1."""
    from detectors.core import DetectionCore
    from detectors.density import DensityDetector
    from detectors.site import SiteConfig
    from sim.geometry import points_in_polygon, polygon_area
    from sim.site_export import site_config_dict
    from sim.source import SyntheticFeed

    feed = SyntheticFeed(scenario, seed=seed, visibility=False)
    zones = [z for z in scenario.station.zones if z.kind == "density"]
    if not zones:
        raise ValueError(f"scenario {scenario.name!r} has no density zone to calibrate on")
    polys = [np.asarray(z.polygon, float) for z in zones]
    areas = np.array([polygon_area(p) for p in polys])
    cores, dets = {}, {}
    for name in feed.cameras:
        site = SiteConfig.from_dict(site_config_dict(scenario, name))
        det = DensityDetector(site, gain=1.0)
        cores[name] = DetectionCore(site, detectors=[det])
        dets[name] = det
    est, true = [], []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(feed.n_frames(n) for n in feed.cameras), desc=f"{scenario.name}/{seed}",
                   unit="frame", leave=False, disable=None)
    for cf in feed:
        cores[cf.camera].process(cf.frame)
        det = dets[cf.camera]
        if cf.frame.t >= 3.0:  # past the background model's warm-up
            pos = feed.model.snapshot().pos_m
            truth = np.array([points_in_polygon(pos, p).sum() for p in polys]) / areas
            names = [z.name for z in det.zones]
            for k, z in enumerate(zones):
                if z.name in names:
                    est.append(det.last_density[names.index(z.name)])
                    true.append(truth[k])
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return np.asarray(est, float), np.asarray(true, float)


def calibrate(pairs=DEFAULT_SET, *, min_true_per_m2: float = 0.5, progress: bool = True) -> Calibration:
    from sim.scenario import load_scenario

    est, true = [], []
    for name, seed in pairs:
        e, t = density_pairs(load_scenario(name), int(seed), progress=progress)
        est.append(e)
        true.append(t)
    e, t = np.concatenate(est), np.concatenate(true)
    use = t >= min_true_per_m2
    if use.sum() < 10:
        raise ValueError(f"only {int(use.sum())} frames reach {min_true_per_m2} persons/m²; choose denser scenarios")
    e, t = e[use], t[use]
    gain = float(np.dot(e, t) / np.dot(e, e))
    return Calibration(gain=gain, n_frames=int(use.sum()), rms_before=float(np.sqrt(np.mean((e - t) ** 2))),
                       rms_after=float(np.sqrt(np.mean((gain * e - t) ** 2))), pairs=[tuple(p) for p in pairs])
