"""Detection-core speed on one core at 640x360, each stage's cost, against plain OpenCV MOG2.

Usage::

    python benchmarks/bench_detect.py [--frames 300] [--repeats 3]

Frames: the first ``--frames`` frames of the ``platform_intrusion`` scenario rendered by
``sim`` (people walking, waiting and stepping onto the tracks), rendered before timing. The
site is the scenario camera's exported configuration plus a density zone and a one-way
zone on the platform, so :class:`~detectors.core.DetectionCore` runs the full shared
perception (background pair, components, people, tracker, optical flow) and the four
built-in detectors (intrusion, wrong_way, excessive_density with its CNN, crowd_movement).
Timed: ``core.process`` per frame after the background warm-up; the timing table gives
each perception stage and each detector. Peers, timed on the same frames in the same run:
``apply`` of a default ``cv2.BackgroundSubtractorMOG2`` (no shadows) on grey 640x360 frames
and on grey 320x180 frames, nothing else. Each measurement is repeated ``--repeats`` times,
interleaved, and the median kept. Targets: >= 200 frames/s and p99 <= 15 ms per frame.
"""

from __future__ import annotations

import os

# one core: pin the thread pools before numpy / OpenCV / torch load
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from detectors.core import DetectionCore  # noqa: E402
from detectors.perception import STAGES, Perception  # noqa: E402
from detectors.site import SiteConfig  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from sim.site_export import site_config_dict  # noqa: E402
from sim.source import SyntheticSource  # noqa: E402

#: [m] a density zone and a one-way zone on the platform of ``platform_intrusion`` (behind the safety line)
PLATFORM_ZONES = [
    {"name": "platform", "kind": "density", "capacity_per_m2": 2.0,
     "polygon": [[0.0, 0.5], [32.0, 0.5], [32.0, 7.0], [0.0, 7.0]]},
    {"name": "walkway", "kind": "one_way", "direction_deg": 0.0,
     "polygon": [[0.0, 3.0], [32.0, 3.0], [32.0, 5.5], [0.0, 5.5]]},
]


def render_frames(n_frames: int):
    sc = load_scenario("platform_intrusion")
    camera = sc.cameras[0].name
    fps = float(sc.camera(camera).fps)
    src = SyntheticSource(sc, camera, duration_s=min(sc.duration_s, (n_frames + 1) / fps))
    frames = [f for f, _ in zip(src, range(n_frames))]
    site_dict = site_config_dict(sc, camera)
    site_dict["zones"] = site_dict["zones"] + PLATFORM_ZONES
    return SiteConfig.from_dict(site_dict, where="bench site"), frames


def time_core(site: SiteConfig, frames, detectors=None) -> tuple[float, float, float, float, DetectionCore]:
    """Frames/s of the core over the ready frames (wall clock and per CPU second of this thread),
    and p50, p99 per-frame latency [ms]."""
    core = DetectionCore(site, detectors=detectors)
    warmup = core.perception.warmup_frames
    start = cpu_start = None
    for i, frame in enumerate(frames):
        if i == warmup:
            start, cpu_start = time.perf_counter(), time.thread_time()
        core.process(frame)
    wall = time.perf_counter() - start
    cpu = time.thread_time() - cpu_start
    per_frame = core.timing_table().column("total_s").to_numpy()[warmup:]
    n = len(frames) - warmup
    return n / wall, n / cpu, float(np.median(per_frame)) * 1e3, float(np.quantile(per_frame, 0.99)) * 1e3, core


def time_mog2(grey_frames, warmup: int) -> float:
    """Frames/s of a default MOG2 ``apply`` alone (no shadows) on prepared grey frames."""
    mog = cv2.createBackgroundSubtractorMOG2(detectShadows=False)
    for g in grey_frames[:warmup]:
        mog.apply(g)
    t0 = time.perf_counter()
    for g in grey_frames[warmup:]:
        mog.apply(g)
    return (len(grey_frames) - warmup) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300, help="frames rendered and timed (default 300)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repetitions; medians reported")
    ap.add_argument("--detectors", nargs="*", help="detector names (default: every built-in the site supports)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

    t0 = time.perf_counter()
    site, frames = render_frames(args.frames)
    print(f"rendered {len(frames)} frames {site.image_size[0]}x{site.image_size[1]} of platform_intrusion "
          f"in {time.perf_counter() - t0:.1f} s (not timed)")
    grey = [cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY) for f in frames]
    grey_small = [cv2.resize(g, (320, 180), interpolation=cv2.INTER_AREA) for g in grey]
    warmup = Perception(site).warmup_frames

    core_fps, core_cpu_fps, p50, p99, mog_full, mog_small, tables = [], [], [], [], [], [], []
    for _ in range(args.repeats):
        fps, cpu_fps, a, b, core = time_core(site, frames, args.detectors)
        core_fps.append(fps)
        core_cpu_fps.append(cpu_fps)
        p50.append(a)
        p99.append(b)
        tables.append(core.timing_table().to_pandas().iloc[warmup:])
        mog_full.append(time_mog2(grey, warmup))
        mog_small.append(time_mog2(grey_small, warmup))
    med = statistics.median
    print(f"detectors: {', '.join(d.event_type.value for d in core.detectors)}; "
          f"{len(frames) - warmup} frames timed after a {warmup}-frame warm-up; "
          f"alerts in the last repeat: {len(core.alerts)}")
    print(f"\n{'stage':<34}{'mean ms':>9}{'median ms':>11}{'p99 ms':>9}")
    cols = [f"{s}_s" for s in STAGES] + [c for c in tables[0].columns if c.startswith("detector_")]
    for col in cols:
        per = [t[col].to_numpy() * 1e3 for t in tables]
        if max(float(x.mean()) for x in per) == 0.0:
            continue  # a type no detector runs
        name = col[:-2].replace("detector_", "detector ")
        print(f"{name:<34}{med(float(x.mean()) for x in per):>9.3f}{med(float(np.median(x)) for x in per):>11.3f}"
              f"{med(float(np.quantile(x, 0.99)) for x in per):>9.3f}")
    for col in ("perception_s", "detectors_s", "total_s"):
        per = [t[col].to_numpy() * 1e3 for t in tables]
        print(f"{col[:-2]:<34}{med(float(x.mean()) for x in per):>9.3f}{med(float(np.median(x)) for x in per):>11.3f}"
              f"{med(float(np.quantile(x, 0.99)) for x in per):>9.3f}")
    print(f"\nDetectionCore (full perception, four detectors, 640x360, one core): {med(core_fps):7.1f} frames/s  "
          f"(p50 {med(p50):.2f} ms, p99 {med(p99):.2f} ms per frame)")
    print(f"  per CPU second of the core's thread (what preemption by other processes does not inflate): "
          f"{med(core_cpu_fps):7.1f} frames/s")
    print(f"peer: MOG2 apply alone on grey 640x360:          {med(mog_full):7.1f} frames/s  "
          f"-> core / peer = {med(core_fps) / med(mog_full):.2f}")
    print(f"peer: MOG2 apply alone on grey 320x180:          {med(mog_small):7.1f} frames/s  "
          f"-> core / peer = {med(core_fps) / med(mog_small):.2f}")
    print(f"targets: >= 200 frames/s {'met' if med(core_fps) >= 200 else 'NOT met'}; p99 <= 15 ms "
          f"{'met' if med(p99) <= 15 else 'NOT met'} (absolute figures drift on a shared machine; the ratios hold)")
    stream_fps = site.fps
    print(f"real-time factor on the {stream_fps:g} frames/s camera: {stream_fps / med(core_fps):.3f} "
          f"(< 1: the core keeps up with the stream; {med(core_fps) / stream_fps:.0f} such cameras per core)")


if __name__ == "__main__":
    main()
