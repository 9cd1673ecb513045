"""Rendering speed on one core: 640x360 frames with 200 visible people, all camera effects on.

Usage::

    python benchmarks/bench_render.py [--quick] [--people 200] [--frames 300]

Prints frames per second of :class:`sim.render.Renderer` (with and without the
visible-fraction annotations) and of a peer measured in the same run: the same people
drawn naively, one ``cv2.ellipse`` per body part with per-person projection, fresh
``cv2.randn`` sensor noise every frame and the same JPEG round trip. The target is 150
frames/s for the renderer without visible fractions.
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

from sim.render import Renderer, sample_crowd  # noqa: E402
from sim.scenario import load_scenario  # noqa: E402
from sim.state import CrowdState  # noqa: E402


def crowd_frames(state: CrowdState, n_frames: int, fps: float) -> list[CrowdState]:
    """The crowd advanced frame by frame (straight walking, gait phase advancing with distance)."""
    out = []
    dt = 1.0 / fps
    for k in range(n_frames):
        tk = k * dt
        speed = np.hypot(state.vel_mps[:, 0], state.vel_mps[:, 1])
        kw = {f: getattr(state, f) for f in state.__dataclass_fields__}
        kw.update(t=tk, pos_m=state.pos_m + state.vel_mps * tk * 0.2, gait_phase=state.gait_phase + speed * tk * 3.5)
        out.append(CrowdState(**kw))
    return out


def naive_render(bg: np.ndarray, cam, state: CrowdState, noise_std: float, jpeg_quality: int) -> np.ndarray:
    """The peer: per-person projection and one cv2.ellipse per body part, fresh noise per frame."""
    img = bg.copy()
    order = np.argsort(-cam.depth_of(np.c_[state.pos_m, np.zeros(len(state))]))
    for i in order:
        x, y = state.pos_m[i]
        h = state.height_m[i]
        th = state.heading_rad[i]
        uv, depth = cam.project(np.array([[x, y, 0.0], [x, y, 0.5 * h], [x, y, 0.7 * h], [x, y, 0.93 * h]]))
        if depth.min() <= 0.3 or not cam.in_image(uv[1]):
            continue
        s = cam.focal_px / depth[1]
        (u0, v0), (u1, v1), (u2, v2), (u3, v3) = uv
        swing = 0.3 * np.sin(state.gait_phase[i]) * s * 0.2
        shirt = tuple(int(c) for c in state.shirt_bgr[i])
        trousers = tuple(int(c) for c in state.trousers_bgr[i])
        skin = tuple(int(c) for c in state.skin_bgr[i])
        ax = max(1, int(0.05 * s))
        cv2.ellipse(img, (int(u0), int(v0)), (int(0.3 * s), max(1, int(0.1 * s))), 0, 0, 360, (90, 90, 90), -1)
        for side in (-1, 1):
            cv2.ellipse(img, (int(u1 + side * 0.06 * s + side * swing), int((v0 + v1) / 2)),
                        (ax, max(1, int(abs(v0 - v1) / 2))), 0, 0, 360, trousers, -1)
        cv2.ellipse(img, (int(u2), int(v2)), (max(1, int(0.2 * s)), max(1, int(abs(v1 - v3) / 2.5))), 0, 0, 360, shirt, -1)
        for side in (-1, 1):
            cv2.ellipse(img, (int(u2 + side * 0.22 * s - side * swing), int(v2)), (ax, max(1, int(0.3 * s))),
                        float(np.degrees(th) % 20), 0, 360, shirt, -1)
        cv2.ellipse(img, (int(u3), int(v3)), (max(1, int(0.11 * s)), max(1, int(0.12 * s))), 0, 0, 360, skin, -1)
    noise = np.empty(img.shape, np.int16)
    cv2.randn(noise, (0, 0, 0), (noise_std,) * 3)
    img = cv2.add(img, noise, dtype=cv2.CV_8U)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def time_passes(fns: dict, frames, repeats: int) -> dict:
    """Seconds per frame of each function, passes interleaved so that load on the machine hits all alike.

    Returns ``{name: {"wall": median wall seconds, "cpu": median CPU seconds of this process}}``
    per frame. On a busy machine the wall time includes waiting for a core; the CPU time
    does not, and is the better estimate of the cost on one free core.
    """
    runs = {k: ([], []) for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            for st in frames:
                fn(st)
            runs[name][0].append((time.perf_counter() - w0) / len(frames))
            runs[name][1].append((time.process_time() - c0) / len(frames))
    return {k: {"wall": statistics.median(w), "cpu": statistics.median(c)} for k, (w, c) in runs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames and repeats (a smoke run)")
    ap.add_argument("--people", type=int, default=200)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--scenario", default="concourse_quiet")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    n_frames = 30 if args.quick else args.frames
    repeats = 1 if args.quick else 5

    sc = load_scenario(args.scenario)
    cam_spec = sc.cameras[0]
    t0 = time.perf_counter()
    renderer = Renderer(sc, cam_spec, seed=1)
    build_s = time.perf_counter() - t0
    crowd = sample_crowd(sc, args.people, seed=7, camera=renderer.camera, standing_fraction=0.2)
    frames = crowd_frames(crowd, n_frames, cam_spec.fps)
    img, ann = renderer.render(frames[0])
    shown = int(np.sum(ann.visible > 0))
    rs = sc.render

    bg = renderer.background
    res = time_passes({
        "fast": lambda st: renderer.render(st, visibility=False),
        "vis": lambda st: renderer.render(st, visibility=True),
        "peer": lambda st: naive_render(bg, renderer.camera, st, rs.noise_std, rs.jpeg_quality),
    }, frames, repeats)

    # where the time goes (CPU time, median of the passes)
    geos = [renderer._people(st) for st in frames]
    canvas = renderer._bg.copy()
    geo_iter = iter(geos * repeats)
    jpeg = lambda st: cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, rs.jpeg_quality])[1], 1)  # noqa: E731
    parts = time_passes({"geometry": renderer._people, "draw": lambda st: renderer._draw(canvas, next(geo_iter)),
                         "jpeg": jpeg}, frames, repeats)

    w, h = cam_spec.resolution
    print(f"scenario {args.scenario}, camera {cam_spec.name}, {w}x{h}, {args.people} people placed, "
          f"{len(ann)} annotated, {shown} with visible share > 0; one thread; background built in {build_s:.2f} s")
    print(f"render effects: brightness {rs.brightness}, noise_std {rs.noise_std}, blur_px {rs.blur_px}, "
          f"jpeg_quality {rs.jpeg_quality}, shake_px {rs.shake_px}")
    print("per frame, median of interleaved passes: wall time | CPU time of this process")
    for label, key in (("ours, no visible fractions", "fast"), ("ours, visible fractions", "vis"),
                       ("peer, cv2.ellipse + randn", "peer")):
        wall, cpu = res[key]["wall"], res[key]["cpu"]
        print(f"  {label:27s}: {wall * 1e3:6.2f} ms {1 / wall:6.1f} frames/s | {cpu * 1e3:6.2f} ms {1 / cpu:6.1f} frames/s")
    for clock in ("wall", "cpu"):
        print(f"ratio ours/peer in frames/s ({clock}): {res['peer'][clock] / res['fast'][clock]:.2f}x without visible "
              f"fractions, {res['peer'][clock] / res['vis'][clock]:.2f}x with")
    print("target: >= 150 frames/s on one core without visible fractions")
    print(f"breakdown (CPU time): body geometry {parts['geometry']['cpu'] * 1e3:.2f} ms, draw loop "
          f"{parts['draw']['cpu'] * 1e3:.2f} ms, JPEG round trip {parts['jpeg']['cpu'] * 1e3:.2f} ms, "
          f"visible fractions {(res['vis']['cpu'] - res['fast']['cpu']) * 1e3:.2f} ms")
    print(f"machine load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores "
          "(absolute times grow with the load; the ratio is the stable figure)")


if __name__ == "__main__":
    main()
