"""Calibrate the density detector's gain on rendered footage with exact crowd counts.

The pixel estimate of :class:`detectors.density.DensityDetector` undercounts dense crowds
(people hide each other and pillars hide people). Its one free constant, ``gain``, is
fitted here, by least squares through the origin, between the detector's per-frame
density (gain 1) and the true density of the zone (agents whose position lies in it,
from the simulation), over frames where the truth is at least ``min_true_per_m2``. The
result is written to ``detectors/weights/density_gain.json`` with the command, the
scenarios and seeds that made it, and the error before and after.

The footage is rendered at training seeds only (:data:`sim.seeds.TRAINING_SEEDS`; the
command refuses others): ``negatives_density_queue`` and ``concourse_overcrowding``.
``stationwatch train density-gain`` runs it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

#: (scenario, seed) pairs the shipped gain was fitted on
DEFAULT_SET = (("concourse_overcrowding", 19_001), ("concourse_overcrowding", 19_002),
               ("negatives_density_queue", 19_003))


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
            "command": " ".join(["stationwatch", "train", "density-gain"] + list(argv if argv is not None else sys.argv[3:])),
        }


def density_pairs(scenario, seed: int, *, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(detected, true) density per frame and density zone, in persons/m², pixel estimate with gain 1."""
    from train.density import density_series

    true, est = density_series(scenario, seed, {"pixels": {"method": "pixels", "gain": 1.0}}, progress=progress)
    return est["pixels"], true


def calibrate(pairs=DEFAULT_SET, *, min_true_per_m2: float = 0.5, progress: bool = True) -> Calibration:
    from sim.scenario import load_scenario
    from sim.seeds import check_training_seed

    for _, seed in pairs:
        check_training_seed(seed, what="density gain calibration")
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


def configure(parser) -> None:
    """Arguments of ``stationwatch train density-gain``."""
    from eval.cli import _nonneg_float

    parser.add_argument("--scenario", action="append", help="scenario to fit on (repeatable; default: the shipped set)")
    parser.add_argument("--seed", action="append", type=int, help="training seed(s) for --scenario")
    parser.add_argument("--min-density", type=_nonneg_float, default=0.5, help="[persons/m2] fit on frames at least this dense")
    parser.add_argument("--out", help="where to write the JSON (default: the package's detectors/weights/)")


def main(args) -> int:
    from detectors.density import GAIN_FILE
    from detectors.files import atomic_write_text, check_writable
    from sim.scenario import load_scenario

    pairs = DEFAULT_SET if not args.scenario else [(n, s) for n in args.scenario for s in (args.seed or [19_001])]
    for name in sorted({n for n, _ in pairs}):  # a typo of a name, or a destination not writable, now: not after
        load_scenario(name)                      # minutes of rendering
    out = args.out or GAIN_FILE
    check_writable(out)
    cal = calibrate(pairs, min_true_per_m2=args.min_density)
    import json

    atomic_write_text(out, json.dumps(cal.to_dict(argv=sys.argv[3:]), indent=2, sort_keys=True) + "\n")
    print(f"gain {cal.gain:.4f} from {cal.n_frames} frames; RMS error {cal.rms_before:.3f} -> "
          f"{cal.rms_after:.3f} persons/m2; wrote {out}", file=sys.stderr)
    return 0


# --- the density CNN's reading against the truth, per zone ----------------------------------------------

#: [persons/m²] readings of the network at which the calibration map is tabulated
CNN_KNOTS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)


def fit_reading_map(reading: np.ndarray, truth: np.ndarray, knots=CNN_KNOTS) -> np.ndarray:
    """A monotone piecewise-linear map from the network's zone reading to the true density.

    Least squares over the hat functions at ``knots`` (linear interpolation between knots; readings
    beyond the last knot count for it and the knot before, on the last segment's line), then made non-decreasing (a running
    maximum), so a denser reading never maps to a lower density. Returns the densities
    [persons/m²] at ``knots``; knots with no reading near them keep the identity.
    """
    x = np.asarray(reading, np.float64)
    y = np.asarray(truth, np.float64)
    k = np.asarray(knots, np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < len(k):
        raise ValueError(f"fit_reading_map: expected two 1-D arrays of one length >= {len(k)}; "
                         f"got {x.shape} and {y.shape}")
    basis = np.stack([np.interp(x, k, np.eye(len(k))[j], right=np.nan) for j in range(len(k))], axis=1)
    beyond = x > k[-1]  # past the last knot: the last segment extended
    slope = (x[beyond] - k[-2]) / (k[-1] - k[-2])
    basis[beyond] = 0.0
    basis[beyond, -1], basis[beyond, -2] = slope, 1.0 - slope
    support = (basis > 0.05).sum(axis=0) >= 5
    value = k.copy()
    if support.any():
        # knots without support stay on the identity: their columns move to the right-hand side
        rhs = y - basis[:, ~support] @ k[~support]
        sol, *_ = np.linalg.lstsq(basis[:, support], rhs, rcond=None)
        value[support] = sol
    return np.maximum.accumulate(np.maximum(value, 0.0))


def zone_readings(samples, clips, weights: str) -> tuple[np.ndarray, np.ndarray]:
    """(reading, truth) [persons/m²] per training sample and density zone: the network's sum over the
    zone's cells over the zone's ground area in view, and the true density (agents whose position
    lies in the zone over the zone's area: the ground truth's rule), for the clips whose scenario has
    a density zone. The truth comes from simulating each clip again to its sampled times (the same
    seed gives the same crowd as the rendering did; nothing is rendered)."""
    from detectors.density import DensityDetector
    from detectors.density_cnn import DensityCNN
    from detectors.perception import WorkGrid
    from detectors.site import SiteConfig, ZoneKind
    from sim.scenario import load_scenario
    from sim.site_export import site_config_dict

    from sim.geometry import points_in_polygon, polygon_area
    from sim.seeds import check_training_seed
    from sim.world.model import StationModel

    cnn = DensityCNN(weights)
    h, w = samples.grey.shape[1:]
    dets: dict = {}
    models: dict = {}
    reading, truth = [], []
    for i, (ci, cam, t) in enumerate(samples.provenance):
        ci = int(ci)
        key = (ci, str(cam))
        clip = clips[ci]
        if key not in dets:
            sc = load_scenario(clip.scenario, clip.overrides)
            site = SiteConfig.from_dict(site_config_dict(sc, str(cam)))
            det = None
            if site.zones_of(ZoneKind.DENSITY):
                det = DensityDetector(site, method="cnn", weights=weights)
                det._prepare(WorkGrid(site, (w, h)))
                polys = {z.name: np.asarray(z.polygon, float) for z in sc.station.zones if z.kind == "density"}
                det._truth_polygons = [polys[z.name] for z in det.zones]
            dets[key] = det
        det = dets[key]
        if det is None:
            continue
        if ci not in models:
            check_training_seed(clip.seed, what="density calibration")
            models.clear()  # clips come one after the other: one simulation at a time
            models[ci] = StationModel(load_scenario(clip.scenario, clip.overrides), seed=clip.seed)
        model = models[ci]
        model.run_until(round(float(t), 3))
        pos = model.snapshot().pos_m
        pred = cnn.predict(samples.grey[i], samples.perspective[samples.view[i]]).reshape(-1)
        for k, cells in enumerate(det._cells):
            if len(cells):
                poly = det._truth_polygons[k]
                reading.append(float(pred[cells].sum(dtype=np.float64)) / det._view_area[k])
                truth.append(float(points_in_polygon(pos, poly).sum()) / polygon_area(poly))
    return np.asarray(reading), np.asarray(truth)


def reading_calibration(samples, clips, weights: str) -> dict:
    """The model card's ``calibration`` entry for ``weights``: the map of :func:`fit_reading_map` fitted on
    the zone readings of the training ``samples`` (:func:`zone_readings`), with its error before and after."""
    from detectors.density_cnn import apply_reading_map

    reading, target = zone_readings(samples, clips, weights)
    values = fit_reading_map(reading, target)
    after = apply_reading_map(reading, CNN_KNOTS, values)
    return {"reading_per_m2": list(CNN_KNOTS), "density_per_m2": [round(float(v), 4) for v in values],
            "fit": {"zone_frames": int(len(reading)), "on": "training samples: agents in the zone over its area",
                    "rms_before_per_m2": round(float(np.sqrt(np.mean((reading - target) ** 2))), 4),
                    "rms_after_per_m2": round(float(np.sqrt(np.mean((after - target) ** 2))), 4)}}
