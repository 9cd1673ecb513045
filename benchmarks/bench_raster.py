"""Batch polygon filling (:mod:`sim.render.raster`) against a loop of ``cv2.fillConvexPoly`` calls, one core.

Usage::

    python benchmarks/bench_raster.py [--people 500] [--frames 20] [--repeats 15] [--cold]

The scene: ``--people`` person-like figures of 8 convex polygons each (a shadow octagon,
two legs, two arms and a torso as hexagons, hair and face as 12-gons), bodies 15 to 80 px
tall, nearer (lower) figures larger, drawn far to near on a 640x360 canvas with a 40 px
margin on each side (720x440, as the renderer keeps for camera shake), in fixed point
with 8 fractional bits. ``--frames`` different crowds are drawn per pass.

The peer is what the renderer does per polygon: ``cv2.fillConvexPoly(img, pts, colour, 8, 8)``
in a Python loop, over precomputed per-polygon arrays and colour lists. Both fill the same
polygons into a copy of the same background; the script checks that the pixels agree.
Each frame starts from a fresh copy of the background, as in the renderer (the copy is not
timed). Times are medians over interleaved passes, wall and CPU time of this process (on a
shared machine CPU time is the better estimate of the cost on a free core); the load
average is printed with the figures. Target: the 4,000 fills of 500 people in < 1.5 ms.

The first call of a process compiles the kernel or loads it from numba's cache; the script
reports that time, and with ``--cold`` also the time of a compilation from scratch (a copy
of ``sim/render/raster.py`` in a temporary directory, run in a fresh process, for the BGR image and
the id buffer).
"""

from __future__ import annotations

import os

# one core: pin the thread pools before numpy / OpenCV load
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import sim.render.raster  # noqa: E402
from sim.render.raster import fill_convex_polys, raster_backend  # noqa: E402

WIDTH, HEIGHT, MARGIN_PX = 640, 360, 40
SHIFT = 8
TARGET_MS = 1.5  #: [ms] for 500 people x 8 polygons
N_POLYS_PER_PERSON = 8
MAX_VERTICES = 12


def _ring(cx, cy, rx, ry, n):
    """(m, n, 2) regular n-gons (ellipses) around (cx, cy) [px]."""
    a = np.arange(n) * (2 * np.pi / n)
    return np.stack([cx[:, None] + rx[:, None] * np.cos(a), cy[:, None] + ry[:, None] * np.sin(a)], axis=-1)


def _limb(p0, p1, p2, w0, w2):
    """(m, 6, 2) hexagon along the chain p0-p1-p2 [px], tapering from width w0 to w2."""
    d = p2 - p0
    n = np.stack([-d[:, 1], d[:, 0]], axis=1) / np.maximum(np.linalg.norm(d, axis=1), 1e-9)[:, None]
    w1 = 0.5 * (w0 + w2)
    left = [p0 + n * w0[:, None] / 2, p1 + n * w1[:, None] / 2, p2 + n * w2[:, None] / 2]
    right = [p2 - n * w2[:, None] / 2, p1 - n * w1[:, None] / 2, p0 - n * w0[:, None] / 2]
    return np.stack(left + right, axis=1)


def person_polygons(n_people: int, rng: np.random.Generator):
    """``n_people`` figures as (8 n, 12, 2) int32 fixed-point polygons, (8 n,) vertex counts, (8 n, 3) colours.

    Sorted far to near (by foot row); polygon order within a person: shadow, far leg, far arm,
    near leg, torso, near arm, hair, face.
    """
    wc, hc = WIDTH + 2 * MARGIN_PX, HEIGHT + 2 * MARGIN_PX
    foot_y = np.sort(rng.uniform(MARGIN_PX + 30, hc - 5, n_people))
    foot_x = rng.uniform(0, wc, n_people)
    h = 15 + 65 * (foot_y - foot_y.min()) / max(np.ptp(foot_y), 1) * rng.uniform(0.85, 1.0, n_people)  # [px] 15-80
    swing = rng.uniform(-0.12, 0.12, n_people) * h
    facing = rng.choice([-1.0, 1.0], n_people)

    def pt(dx, dy):
        return np.stack([foot_x + dx, foot_y + dy], axis=1)

    hip, shoulder = pt(0, -0.5 * h), pt(0, -0.8 * h)
    shapes = [
        _ring(foot_x, foot_y, 0.22 * h, 0.06 * h, 8),
        _limb(hip, pt(-0.5 * swing, -0.25 * h), pt(-swing, 0), 0.09 * h, 0.06 * h),
        _limb(shoulder, pt(0.4 * swing, -0.62 * h), pt(0.7 * swing, -0.47 * h), 0.06 * h, 0.04 * h),
        _limb(hip, pt(0.5 * swing, -0.25 * h), pt(swing, 0), 0.09 * h, 0.06 * h),
        _limb(pt(0, -0.84 * h), pt(0, -0.66 * h), pt(0, -0.48 * h), 0.24 * h, 0.2 * h),
        _limb(shoulder, pt(-0.4 * swing, -0.62 * h), pt(-0.7 * swing, -0.47 * h), 0.06 * h, 0.04 * h),
        _ring(foot_x, foot_y - 0.92 * h, 0.065 * h, 0.075 * h, 12),
        _ring(foot_x + facing * 0.012 * h, foot_y - 0.91 * h, 0.05 * h, 0.06 * h, 12),
    ]
    polys = np.zeros((n_people, N_POLYS_PER_PERSON, MAX_VERTICES, 2))
    n_vertices = np.zeros((n_people, N_POLYS_PER_PERSON), np.int64)
    for j, s in enumerate(shapes):
        polys[:, j, : s.shape[1]] = s
        n_vertices[:, j] = s.shape[1]
    colours = rng.integers(20, 236, (n_people, N_POLYS_PER_PERSON, 3)).astype(np.uint8)
    colours[:, 0] = 60  # shadow
    fixed = np.rint(polys * (1 << SHIFT)).astype(np.int32).reshape(-1, MAX_VERTICES, 2)
    return fixed, n_vertices.reshape(-1), colours.reshape(-1, 3)


def opencv_loop(img, polys: list, colours: list) -> None:
    """The peer: one ``cv2.fillConvexPoly`` per polygon, as the renderer issues them."""
    fill = cv2.fillConvexPoly
    for pts, c in zip(polys, colours):
        fill(img, pts, c, 8, SHIFT)


_COLD_PROBE = """
import json, sys, time
import numpy as np
sys.path.insert(0, ".")
t0 = time.perf_counter()
import raster
t1 = time.perf_counter()
polys = np.array([[[10, 20], [300, 40], [120, 500]]], np.int32) << 4
raster.fill_convex_polys(np.zeros((48, 64, 3), np.uint8), polys, np.array([3]), np.array([[0, 0, 255]], np.uint8))
t2 = time.perf_counter()
raster.fill_convex_polys_ids(np.zeros((48, 64), np.int32), polys, np.array([3]), np.array([1], np.int32))
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "bgr_s": t2 - t1, "ids_s": t3 - t2}))
"""


def cold_compile_times() -> tuple[dict, dict]:
    """First-call times of a fresh copy of the module: compiling from scratch, then loading the cache it wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(sim.render.raster.__file__, Path(tmp) / "raster.py")
        env = {**os.environ, "NUMBA_CACHE_DIR": ""}
        runs = [json.loads(subprocess.run([sys.executable, "-c", _COLD_PROBE], cwd=tmp, env=env, check=True,
                                          capture_output=True, text=True).stdout) for _ in range(2)]
    return runs[0], runs[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--people", type=int, default=500)
    ap.add_argument("--frames", type=int, default=20, help="different crowds drawn per pass")
    ap.add_argument("--repeats", type=int, default=15, help="interleaved passes (medians are reported)")
    ap.add_argument("--cold", action="store_true", help="also time a compilation from scratch (a few seconds)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(3)
    bg = rng.integers(0, 256, (HEIGHT + 2 * MARGIN_PX, WIDTH + 2 * MARGIN_PX, 3), dtype=np.uint8)
    scenes = [person_polygons(args.people, rng) for _ in range(args.frames)]
    # the peer's inputs in the form a Python loop wants them (built once, outside the timing)
    peer_scenes = [([p[:n] for p, n in zip(P, N.tolist())], [tuple(c) for c in C.tolist()]) for P, N, C in scenes]
    k_polys = len(scenes[0][0])

    t0 = time.perf_counter()
    fill_convex_polys(bg.copy(), *scenes[0], shift=SHIFT)
    first_call_s = time.perf_counter() - t0

    # same pixels?
    differ = union = 0
    for (P, N, C), (pp, cc) in zip(scenes, peer_scenes):
        a, b = bg.copy(), bg.copy()
        fill_convex_polys(a, P, N, C, shift=SHIFT)
        opencv_loop(b, pp, cc)
        differ += int((a != b).any(axis=2).sum())
        union += int(((a != bg).any(axis=2) | (b != bg).any(axis=2)).sum())

    # as in the renderer, each frame starts from a fresh copy of the background (not timed)
    canvas = bg.copy()
    fills = {"batch": lambda i: fill_convex_polys(canvas, *scenes[i], shift=SHIFT),
             "cv2 loop": lambda i: opencv_loop(canvas, *peer_scenes[i])}
    load = os.getloadavg()
    runs = {name: ([], []) for name in fills}
    for _ in range(args.repeats):
        for name, fill in fills.items():
            wall = cpu = 0.0
            for i in range(len(scenes)):
                np.copyto(canvas, bg)
                w0, c0 = time.perf_counter(), time.process_time()
                fill(i)
                wall += time.perf_counter() - w0
                cpu += time.process_time() - c0
            runs[name][0].append(wall / len(scenes))
            runs[name][1].append(cpu / len(scenes))
    load_after = os.getloadavg()

    med = {k: (statistics.median(w), statistics.median(c), min(c)) for k, (w, c) in runs.items()}
    print(f"{args.people} people x {N_POLYS_PER_PERSON} polygons = {k_polys} fills per frame on "
          f"{WIDTH + 2 * MARGIN_PX}x{HEIGHT + 2 * MARGIN_PX} (640x360 + {MARGIN_PX} px margin), shift {SHIFT}; "
          f"backend {raster_backend()}, one thread")
    print(f"load average before/after: {load[0]:.2f} / {load_after[0]:.2f} (1 min), {os.cpu_count()} cores")
    print(f"first call in this process (compile or cache load, and one frame): {first_call_s * 1e3:.0f} ms")
    if args.cold:
        cold, warm = cold_compile_times()
        print(f"fresh copy of the module: import {cold['import_s'] * 1e3:.0f} ms; first call compiles: BGR "
              f"{cold['bgr_s']:.2f} s, id buffer {cold['ids_s']:.2f} s; next process, from the cache: BGR "
              f"{warm['bgr_s'] * 1e3:.0f} ms, id buffer {warm['ids_s'] * 1e3:.0f} ms")
    print(f"pixels differing from cv2.fillConvexPoly: {differ} of {union} covered "
          f"({100 * (1 - differ / max(union, 1)):.3f} % agreement)")
    for name, (wall, cpu, cpu_best) in med.items():
        print(f"  {name:9s} wall {wall * 1e3:6.3f} ms ({1 / wall:5.0f} frames/s)   cpu {cpu * 1e3:6.3f} ms "
              f"({1 / cpu:5.0f} frames/s, best pass {cpu_best * 1e3:.3f} ms)   "
              f"{cpu / k_polys * 1e9:5.0f} ns per polygon")
    ratio = med["cv2 loop"][1] / med["batch"][1]
    verdict = "meets" if med["batch"][1] * 1e3 < TARGET_MS * k_polys / 4000 else "misses"
    print(f"speed-up over the cv2 loop (CPU time): {ratio:.1f}x; batch {verdict} the target of "
          f"{TARGET_MS} ms per 4,000 fills")


if __name__ == "__main__":
    main()
