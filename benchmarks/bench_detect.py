"""Detection-core speed on one core at 640x360, against plain OpenCV MOG2 in the same run.

Usage::

    python benchmarks/bench_detect.py [--frames 300] [--repeats 3] [--density-accuracy]

Frames: the first ``--frames`` frames of the ``platform_intrusion`` scenario rendered by
``sim`` (people walking, waiting and stepping onto the tracks), rendered before timing.
The site is the scenario camera's exported configuration plus a density zone on the
platform, so :class:`~detectors.core.DetectionCore` runs both detectors (intrusion and
excessive_density). Timed: ``core.process`` per frame after the background warm-up
(everything: grey, downscale, MOG2, morphology, components, both detectors, gates and
recording). Peers, timed on the same frames in the same run: ``apply`` of a default
``cv2.BackgroundSubtractorMOG2`` (no shadows) on grey 640x360 frames and on grey 320x180
frames, nothing else. Each measurement is repeated ``--repeats`` times, interleaved, and
the median kept. Target: >= 200 frames/s for the core, hence a real-time factor (the
camera's frame rate over the core's) well below 1 on one camera.

``--density-accuracy`` also simulates ``concourse_overcrowding`` (about a minute) and
prints, per band of true density in the gate-approach zone (from the simulation's
tracks), the mean estimate of each density method.
"""

from __future__ import annotations

import os

# one core: pin the thread pools before numpy / OpenCV load
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from detectors.core import DetectionCore  # noqa: E402
from detectors.density import DensityDetector  # noqa: E402
from detectors.perception import Perception  # noqa: E402
from detectors.site import SiteConfig, ZoneKind  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from sim.site_export import site_config_dict  # noqa: E402
from sim.source import SyntheticFeed, SyntheticSource  # noqa: E402

#: [m] a density zone over the platform of ``platform_intrusion`` (behind the safety line)
PLATFORM_DENSITY_ZONE = {"name": "platform", "kind": "density", "capacity_per_m2": 2.0,
                         "polygon": [[0.0, 0.5], [32.0, 0.5], [32.0, 7.0], [0.0, 7.0]]}


def render_frames(n_frames: int):
    sc = load_scenario("platform_intrusion")
    camera = sc.cameras[0].name
    fps = float(sc.camera(camera).fps)
    src = SyntheticSource(sc, camera, duration_s=min(sc.duration_s, (n_frames + 1) / fps))
    frames = [f for f, _ in zip(src, range(n_frames))]
    site_dict = site_config_dict(sc, camera)
    site_dict["zones"] = site_dict["zones"] + [PLATFORM_DENSITY_ZONE]
    return SiteConfig.from_dict(site_dict, where="bench site"), frames


def time_core(site: SiteConfig, frames) -> tuple[float, float, float, DetectionCore]:
    """Frames/s of the core over the ready frames, and p50, p99 per-frame latency [ms]."""
    core = DetectionCore(site)
    warmup = core.perception.warmup_frames
    start = None
    for i, frame in enumerate(frames):
        if i == warmup:
            start = time.perf_counter()
        core.process(frame)
    wall = time.perf_counter() - start
    per_frame = core.timing_table().column("total_s").to_numpy()[warmup:]
    return (len(frames) - warmup) / wall, float(np.median(per_frame)) * 1e3, float(np.quantile(per_frame, 0.99)) * 1e3, core


def time_mog2(grey_frames, warmup: int) -> float:
    """Frames/s of a default MOG2 ``apply`` alone (no shadows) on prepared grey frames."""
    mog = cv2.createBackgroundSubtractorMOG2(detectShadows=False)
    for g in grey_frames[:warmup]:
        mog.apply(g)
    t0 = time.perf_counter()
    for g in grey_frames[warmup:]:
        mog.apply(g)
    return (len(grey_frames) - warmup) / (time.perf_counter() - t0)


def density_accuracy() -> None:
    sc = load_scenario("concourse_overcrowding")
    camera = sc.cameras[0].name
    feed = SyntheticFeed(sc, [camera])
    site = SiteConfig.from_dict(site_config_dict(sc, camera), where="concourse site")
    zone = site.zones_of(ZoneKind.DENSITY)[0]
    perception = Perception(site)
    methods = {
        "pixels (default)": DensityDetector(site, smoothing_s=0),
        "pixels, Boolean occlusion": DensityDetector(site, smoothing_s=0, min_spacing_m=0.0),
        "pixels, one coverage per zone": DensityDetector(site, smoothing_s=0, tile_m=1e6),
        "blobs": DensityDetector(site, smoothing_s=0, method="blobs"),
    }
    times, estimates = [], {k: [] for k in methods}
    for cf in feed:
        percept = perception.update(cf.frame)
        if not percept.ready:
            continue
        times.append(round(cf.frame.t, 3))
        for name, det in methods.items():
            det.score(percept)
            estimates[name].append(float(det.last_density[0]))
    tracks = feed.model.truth.tracks_table()
    t = np.round(tracks.column("t").to_numpy(), 3)
    xy = np.c_[tracks.column("x").to_numpy(), tracks.column("y").to_numpy()]
    inside = zone.contains(xy)
    uniq, inv = np.unique(t, return_inverse=True)
    truth_by_t = dict(zip(uniq.tolist(), (np.bincount(inv, weights=inside) / zone.area_m2).tolist()))
    truth = np.array([truth_by_t.get(x, np.nan) for x in times])
    print(f"\ndensity estimates on concourse_overcrowding, zone {zone.name!r} ({zone.area_m2:g} m²), "
          f"mean over frames [persons/m²]:")
    print(f"{'true density band':<20}{'frames':>7}{'true':>7}" + "".join(f"{k:>32}" for k in methods))
    for lo, hi in [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0), (2.0, 9.0)]:
        m = (truth >= lo) & (truth < hi)
        if not m.any():
            continue
        cells = "".join(f"{np.mean(np.asarray(v)[m]):>24.2f} ({np.mean(np.asarray(v)[m]) / truth[m].mean() - 1:+.0%})"
                        for v in estimates.values())
        print(f"[{lo:.1f}, {hi:.1f}){'':<10}{int(m.sum()):>7}{truth[m].mean():>7.2f}{cells}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300, help="frames rendered and timed (default 300)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repetitions; medians reported")
    ap.add_argument("--density-accuracy", action="store_true", help="also compare density estimates with the truth")
    args = ap.parse_args()
    cv2.setNumThreads(1)

    t0 = time.perf_counter()
    site, frames = render_frames(args.frames)
    print(f"rendered {len(frames)} frames {site.image_size[0]}x{site.image_size[1]} of platform_intrusion "
          f"in {time.perf_counter() - t0:.1f} s (not timed)")
    grey = [cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY) for f in frames]
    grey_small = [cv2.resize(g, (320, 180), interpolation=cv2.INTER_AREA) for g in grey]
    warmup = Perception(site).warmup_frames

    core_fps, p50, p99, mog_full, mog_small = [], [], [], [], []
    for _ in range(args.repeats):
        fps, a, b, core = time_core(site, frames)
        core_fps.append(fps)
        p50.append(a)
        p99.append(b)
        mog_full.append(time_mog2(grey, warmup))
        mog_small.append(time_mog2(grey_small, warmup))
    med = statistics.median
    timing = core.timing_table().to_pandas().iloc[warmup:]
    print(f"detectors: {', '.join(d.event_type.value for d in core.detectors)}; "
          f"{len(frames) - warmup} frames timed after a {warmup}-frame warm-up; "
          f"alerts in the last repeat: {len(core.alerts)}")
    print(f"DetectionCore (both detectors, 640x360, one core): {med(core_fps):7.1f} frames/s  "
          f"(p50 {med(p50):.2f} ms, p99 {med(p99):.2f} ms per frame; "
          f"perception {timing['perception_s'].median() * 1e3:.2f} ms, detectors {timing['detectors_s'].median() * 1e3:.2f} ms)")
    print(f"peer: MOG2 apply alone on grey 640x360:          {med(mog_full):7.1f} frames/s  "
          f"-> core / peer = {med(core_fps) / med(mog_full):.2f}")
    print(f"peer: MOG2 apply alone on grey 320x180:          {med(mog_small):7.1f} frames/s  "
          f"-> core / peer = {med(core_fps) / med(mog_small):.2f}")
    target = 200.0
    print(f"target >= {target:.0f} frames/s: {'met' if med(core_fps) >= target else 'NOT met'}")
    stream_fps = site.fps
    print(f"real-time factor on the {stream_fps:g} frames/s camera: {stream_fps / med(core_fps):.3f} "
          f"(< 1: the core keeps up with the stream; {med(core_fps) / stream_fps:.0f} such cameras per core)")
    if args.density_accuracy:
        density_accuracy()


if __name__ == "__main__":
    main()
