"""Recipes of the rendered training footage: which library scenario, at which training seed, with which
overrides (cameras moved, lighting, noise, blur and compression drawn, crowds scaled, gatherings packed).

:func:`default_clips` are the density network's varied clips, :func:`packed_clips` gatherings packed
around a zone's capacity, :func:`dense_clips` the library's density scenarios through their own camera;
the weapon classifier's footage (:mod:`train.weapon`) draws its cameras and rendering with :func:`_variant`.
Every clip renders at a seed from :data:`sim.seeds.TRAINING_SEEDS` (:func:`_valid_clips` refuses any other).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Clip:
    """One rendered piece of training footage: a library scenario, a training seed, overrides."""

    scenario: str
    seed: int
    overrides: dict = field(default_factory=dict)
    t_from_s: float = 3.0  #: [s] first sampled time (crowds are still entering before)
    t_to_s: float | None = None  #: [s] last sampled time (None: the scenario's end)
    every_s: float = 1.0  #: [s] time between sampled frames

    def to_dict(self) -> dict:
        return {"scenario": self.scenario, "seed": self.seed, "overrides": self.overrides,
                "t_from_s": self.t_from_s, "t_to_s": self.t_to_s, "every_s": self.every_s}


#: base scenarios of the training clips: (name, share of clips, rectangle [m] inside which a
#: gathering zone may be drawn or None, a gathering's start point [m], sampled window [s])
_BASES = (
    ("concourse_quiet", 0.22, (1.0, 1.0, 21.5, 15.0), (0.6, 8.0), (3.0, 90.0)),
    ("concourse_overcrowding", 0.14, None, None, (8.0, 90.0)),
    ("negatives_density_queue", 0.08, None, None, (3.0, 60.0)),
    ("platform_intrusion", 0.18, (0.6, 0.6, 31.4, 6.4), (4.5, 6.6), (3.0, 70.0)),
    ("concourse_surge", 0.08, None, None, (3.0, 50.0)),
    ("station_full", 0.18, None, None, (3.0, 90.0)),
    ("rush_hour_quiet", 0.12, None, None, (20.0, 140.0)),
)
_LIGHTING = (("day", 0.6), ("evening", 0.25), ("night", 0.15))


def _variant(base: tuple, seed: int, scenario, *, gathering_p: float = 0.75,
             density_range: tuple[float, float] = (0.5, 5.0)) -> Clip:
    """A random variant of a base scenario, drawn from ``seed`` (cameras, rendering, crowd, gathering).

    ``gathering_p``: probability that a base with a gathering rectangle gets a gathering zone;
    ``density_range`` [persons/m²]: the gathering's count over the zone's area is drawn in it."""
    name, _, area, start, (t0, t1) = base
    rng = np.random.default_rng([seed, 7])
    ov: dict = {}
    for k, cam in enumerate(scenario.cameras):
        x, y, z = cam.position
        lx, ly, lz = cam.look_at
        ov[f"cameras.{k}.position"] = [round(x + rng.normal(0, 0.6), 2), round(y + rng.normal(0, 0.6), 2),
                                       round(float(np.clip(z + rng.uniform(-1.5, 1.5), 3.0, 9.0)), 2)]
        ov[f"cameras.{k}.look_at"] = [round(lx + rng.normal(0, 0.8), 2), round(ly + rng.normal(0, 0.8), 2), lz]
        ov[f"cameras.{k}.hfov_deg"] = round(float(np.clip(cam.hfov_deg * rng.uniform(0.85, 1.1), 45, 100)), 1)
    _draw_rendering(rng, ov)
    if scenario.crowd.initial_count:
        ov["crowd.initial_count"] = int(round(scenario.crowd.initial_count * rng.uniform(0.5, 2.5)))
    if area is not None and rng.random() < gathering_p:
        x0, y0, x1, y1 = area
        w, h = rng.uniform(3.0, 8.0), rng.uniform(2.5, min(7.0, y1 - y0))
        zx, zy = rng.uniform(x0, x1 - w), rng.uniform(y0, y1 - h)
        poly = [[round(zx, 2), round(zy, 2)], [round(zx + w, 2), round(zy, 2)], [round(zx + w, 2), round(zy + h, 2)],
                [round(zx, 2), round(zy + h, 2)]]
        zones = [z.model_dump(exclude_defaults=True) for z in scenario.station.zones if z.kind != "density"]
        ov["station.zones"] = zones + [{"name": "gathering", "kind": "density", "polygon": poly,
                                        "capacity_per_m2": 2.0}]
        count = int(round(w * h * rng.uniform(*density_range)))
        ov["events"] = [{"type": "excessive_density", "id": "gathering", "at_s": round(float(rng.uniform(0, 8)), 1),
                         "zone": "gathering", "count": max(1, count), "start": list(start),
                         "release_s": round(float(rng.uniform(4, 14)), 1), "stay_s": 300}]
    t1 = min(t1, scenario.duration_s)
    return Clip(name, int(seed), ov, t_from_s=t0, t_to_s=t1, every_s=round(float(rng.uniform(1.5, 3.0)), 2))


def _draw_rendering(rng: np.random.Generator, ov: dict) -> None:
    """Draw a clip's lighting, brightness, sensor noise, blur and JPEG quality into overrides ``ov``."""
    names, weights = zip(*_LIGHTING)
    ov["render.lighting"] = str(rng.choice(names, p=np.array(weights) / sum(weights)))
    ov["render.brightness"] = round(float(rng.uniform(0.8, 1.2)), 3)
    ov["render.noise_std"] = round(float(rng.uniform(1.0, 6.0)), 2)
    ov["render.shot_noise_std"] = round(float(rng.uniform(0.0, 3.0)), 2)
    ov["render.blur_px"] = round(float(rng.uniform(0.3, 1.2)), 2) if rng.random() < 0.35 else 0.0
    ov["render.jpeg_quality"] = int(rng.integers(35, 96))


def _per_base(shares, n_clips: int) -> np.ndarray:
    """How many of ``n_clips`` clips each base gets, in proportion to its share (remainder to the first)."""
    shares = np.asarray(shares, dtype=float)
    per_base = np.floor(shares / shares.sum() * n_clips).astype(int)
    per_base[: n_clips - per_base.sum()] += 1
    return per_base


def _valid_clips(n: int, seed: int, make) -> tuple[list, int]:
    """``n`` clips ``make(seed)`` from training seeds ``seed, seed + 1, ...``, redrawing those whose overrides
    make an invalid scenario; returns them and the next seed."""
    from sim.scenario import ScenarioError, load_scenario
    from sim.seeds import check_training_seed

    clips = []
    while len(clips) < n:
        check_training_seed(seed)
        clip = make(seed)
        seed += 1
        try:
            load_scenario(clip.scenario, clip.overrides)
        except ScenarioError:
            continue
        clips.append(clip)
    return clips, seed


def default_clips(n_clips: int = 140, first_seed: int = 10_000) -> list[Clip]:
    """``n_clips`` training clips over the base scenarios, clip ``k`` at seed ``first_seed + k``.

    Variants whose overrides make an invalid scenario (a camera that sees nothing, a zone
    on an obstacle) are redrawn from the next seed; the seeds stay training seeds.
    """
    from sim.scenario import load_scenario

    clips, seed = [], int(first_seed)
    for base, n in zip(_BASES, _per_base([b[1] for b in _BASES], n_clips)):
        sc = load_scenario(base[0])
        made, seed = _valid_clips(n, seed, lambda s, base=base, sc=sc: _variant(base, s, sc))
        clips += made
    return clips


#: [persons/m²] the gatherings of :func:`packed_clips`: the band around a zone's capacity (2) that
#: the library's scenarios rarely reach above 2.3
PACKED_RANGE = (1.5, 3.5)


def packed_clips(n_clips: int, first_seed: int = 10_800, density_range: tuple[float, float] = PACKED_RANGE) -> list[Clip]:
    """``n_clips`` variants of ``concourse_quiet`` (camera moved, lighting and rendering drawn as in
    :func:`default_clips`) that each pack a gathering zone to ``density_range`` persons/m² (default
    :data:`PACKED_RANGE`), clip ``k``
    at training seed ``first_seed + k`` (redrawn from the next seed when invalid). In the default clips
    a zone above 2 persons/m² is rare (491 training frames above 2, none above 3)."""
    from sim.scenario import load_scenario

    base = _BASES[0]
    sc = load_scenario(base[0])
    clips, _ = _valid_clips(int(n_clips), int(first_seed),
                            lambda s: _variant(base, s, sc, gathering_p=1.0, density_range=tuple(density_range)))
    return clips


#: the library's density scenarios at their own camera, for :func:`dense_clips`: (name, share, sampled
#: window [s], overrides of the crowd drawn per clip: key -> (low, high) factor of the scenario's value)
_DENSE_BASES = (
    ("concourse_overcrowding", 0.75, (10.0, 90.0), ("station.trains.0.count", "station.trains.1.count")),
    ("negatives_density_queue", 0.25, (3.0, 60.0), ()),
)


def dense_clips(n_clips: int, first_seed: int = 10_500) -> list[Clip]:
    """``n_clips`` clips of the library's density scenarios seen through their own camera (the
    build-up of a jam in front of the gates, a queue at a machine), clip ``k`` at training seed
    ``first_seed + k``: lighting, noise, blur and compression drawn as in :func:`default_clips`,
    the camera moved by a few centimetres only, the trains' passenger counts scaled by 0.7 to 1.3,
    one frame every 1 to 2 s. They add the dense, partly hidden crowds that the varied clips
    rarely show to a fine-tuning set (``--dense-clips``)."""
    from sim.scenario import load_scenario

    clips, seed = [], int(first_seed)
    for (name, _, window, counts), n in zip(_DENSE_BASES, _per_base([b[1] for b in _DENSE_BASES], n_clips)):
        sc = load_scenario(name)
        made, seed = _valid_clips(n, seed, lambda s, name=name, sc=sc, window=window, counts=counts:
                                  _dense_clip(name, s, sc, window, counts))
        clips += made
    return clips


def _dense_clip(name: str, seed: int, sc, window: tuple[float, float], counts) -> Clip:
    """One clip of density scenario ``name`` (loaded as ``sc``) at training seed ``seed``."""
    t0, t1 = window
    rng = np.random.default_rng([seed, 11])
    ov: dict = {}
    for k, cam in enumerate(sc.cameras):
        ov[f"cameras.{k}.position"] = [round(v + rng.normal(0, 0.05), 2) for v in cam.position]
    _draw_rendering(rng, ov)
    for key in counts:
        k = int(key.split(".")[2])
        ov[key] = int(round(sc.station.trains[k].count * rng.uniform(0.7, 1.3)))
    return Clip(name, seed, ov, t_from_s=t0, t_to_s=min(t1, sc.duration_s),
                every_s=round(float(rng.uniform(1.0, 2.0)), 2))
