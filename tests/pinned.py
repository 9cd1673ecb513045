"""Fingerprints of the whole library: simulation, ground truth, rendered frames and metrics.

``tests/test_pinned.py`` compares the library against ``tests/data/pinned.json`` so that a
change meant to keep behaviour (a refactor) shows at once if it moved a number or a pixel.
A change meant to move them (a new crowd model) regenerates the file and says in its
commit which scenarios moved and why::

    python -m tests.pinned --write          # regenerate tests/data/pinned.json
    python -m tests.pinned                  # print the differences against it

Per scenario: the SHA-256 of the world tracks (every simulated step, full duration), of
the ground-truth records, and of every camera's frames rendered at one time in
``FRAME_EVERY_S`` over the first ``FRAMES_UNTIL_S`` seconds and around each event onset.
For the demo scenarios, the metrics rows of a short end-to-end run, the SHA-256 of its
alerts (type, camera and frame time) and a summary of its per-frame scores per camera and
type (frames, sum, maximum): the scores of the learned detectors go through torch's CPU
kernels, whose last bits depend on the processor's instruction set, so scores are compared
within :data:`SCORE_TOLERANCE` rather than by their bytes (:func:`same_demo`).

The fingerprints are computed on numpy's and OpenCV's x86-64-v3 (AVX2) code paths whatever the
processor (:data:`PORTABLE_ENV`, :func:`fingerprint_portably`): on a processor with AVX-512 numpy
dispatches ``exp``, ``sin``, ``arctan2``... to other vectorised kernels whose last bits differ, and the
crowd simulation grows a last-bit difference into other tracks. Same seed, same numbers holds on one
processor family; the pinned file is made and checked on one code path. (Other architectures, aarch64
say, have their own kernels: the file holds x86-64 fingerprints.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

PINNED = Path(__file__).parent / "data" / "pinned.json"
FRAME_EVERY_S = 2.0
FRAMES_UNTIL_S = 20.0
DEMO = ("concourse_quiet", "platform_intrusion", "concourse_overcrowding")
DEMO_DURATION_S = 30.0
#: absolute tolerance on a demo's per-frame score sums and maxima (float noise, not behaviour)
SCORE_TOLERANCE = 1e-3


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _table_sha(table) -> str:
    h = hashlib.sha256()
    for name in table.column_names:
        col = table.column(name).to_numpy()
        h.update(name.encode())
        h.update(np.ascontiguousarray(col).tobytes())
    return h.hexdigest()[:16]


def scenario_fingerprint(name: str) -> dict:
    """Fingerprint one library scenario at its own seed."""
    from sim.scenario import load_scenario
    from sim.source import SyntheticFeed

    sc = load_scenario(name)
    feed = SyntheticFeed(sc, seed=sc.seed)
    times = set(np.round(np.arange(0.0, min(FRAMES_UNTIL_S, sc.duration_s), FRAME_EVERY_S), 6))
    for ev in list(sc.events) + list(sc.distractors):
        at = getattr(ev, "at_s", None)
        if at is not None:
            for dt in (0.0, 2.0, 5.0):
                if at + dt < sc.duration_s:
                    times.add(round(float(at + dt), 6))
    frames = {}
    model = feed.model
    for t in sorted(times):
        for cam in feed.cameras:
            spec = sc.camera(cam)
            ti = round(t * spec.fps) / spec.fps  # on the camera's frame clock
            model.run_until(ti)
            img, ann = feed.renderers[cam].render(model.world(), ti)
            frames[f"{cam}@{ti:.2f}"] = _sha(img.tobytes() + ann.boxes.tobytes())
    model.run_until(sc.duration_s)
    truth = json.dumps([e.to_dict() for e in model.truth.events(t_end=model.time)], sort_keys=True, default=str)
    return {
        "tracks": _table_sha(model.truth.tracks_table()),
        "world_events": _sha(truth.encode()),
        "frames": _sha(json.dumps(frames, sort_keys=True).encode()),
        "n_frames_hashed": len(frames),
    }


def demo_metrics(name: str, out_dir: Path) -> dict:
    import pandas as pd

    from eval.run import run_scenario

    r = run_scenario(name, out_dir / name, duration_s=DEMO_DURATION_S, video=False, plots=False, progress=False)
    rows = json.loads(json.dumps(r.rows, default=str))
    scores = pd.read_parquet(out_dir / name / "scores.parquet")
    summary = {f"{cam}/{typ}": [int(len(g)), round(float(g["score"].sum()), 6), round(float(g["score"].max()), 6)]
               for (cam, typ), g in scores.groupby(["camera", "type"], sort=True)}
    alerts = [json.loads(line) for line in (out_dir / name / "alerts.jsonl").read_text().splitlines() if line.strip()]
    keys = sorted(f"{a['camera']}/{a['type']}@{float(a['t']):.2f}" for a in alerts)
    return {"rows": rows, "scores": summary, "alerts": _sha(json.dumps(keys).encode())}


def same_demo(now: dict, old: dict) -> bool:
    """Whether two :func:`demo_metrics` agree: rows and alerts exactly, scores within tolerance."""
    if now.get("rows") != old.get("rows") or now.get("alerts") != old.get("alerts"):
        return False
    a, b = now.get("scores"), old.get("scores")
    if not isinstance(a, dict) or not isinstance(b, dict) or sorted(a) != sorted(b):
        return False
    return all(a[k][0] == b[k][0] and abs(a[k][1] - b[k][1]) <= SCORE_TOLERANCE * max(1, a[k][0])
               and abs(a[k][2] - b[k][2]) <= SCORE_TOLERANCE for k in a)


#: environment of a process whose numpy and OpenCV take their x86-64-v3 code paths on an AVX-512 processor
#: (the names are numpy's dispatch targets above X86_V3 and OpenCV's AVX-512 features; both are read at import)
PORTABLE_ENV = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
                "OPENCV_CPU_DISABLE": "AVX512_SKX,AVX512_COMMON,AVX512_KNL,AVX512_KNM,AVX512_CNL,AVX512_CLX,AVX512_ICL"}


def _has_avx512() -> bool:
    try:
        return " avx512f" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def portable_here() -> bool:
    """Whether this process computes the pinned fingerprints as they are stored: no AVX-512 on the
    processor, or :data:`PORTABLE_ENV` in force since before numpy was imported."""
    return not _has_avx512() or all(os.environ.get(k) == v for k, v in PORTABLE_ENV.items())


def fingerprint_portably(names=None) -> dict:
    """:func:`fingerprint_all` in this process when :func:`portable_here`, else in a child process
    started with :data:`PORTABLE_ENV` (numpy and OpenCV read it once, at import)."""
    if portable_here():
        return fingerprint_all(names)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, **PORTABLE_ENV, "PYTHONPATH": os.pathsep.join(
        [str(root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    cmd = [sys.executable, "-m", "tests.pinned", "--print", *(names or [])]
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"fingerprinting in a child process failed ({' '.join(cmd)}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout)


def fingerprint_all(names=None) -> dict:
    import tempfile

    from sim.scenario import list_scenarios

    names = list(names or [n for n, _ in list_scenarios()])
    out = {"scenarios": {n: scenario_fingerprint(n) for n in names}, "demo": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for n in DEMO:
            out["demo"][n] = demo_metrics(n, Path(tmp))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help=f"write {PINNED}")
    ap.add_argument("--print", action="store_true", help="print the fingerprints as JSON (of SCENARIO... or all)")
    ap.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    now = fingerprint_portably(args.scenarios or None)
    if args.print:
        json.dump(now, sys.stdout, sort_keys=True)
        return 0
    if args.write:
        PINNED.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"wrote {PINNED}")
        return 0
    old = json.loads(PINNED.read_text())
    moved = [f"scenarios/{n}" for n in now["scenarios"] if now["scenarios"][n] != old["scenarios"].get(n)]
    moved += [f"demo/{n}" for n in now["demo"] if not same_demo(now["demo"][n], old["demo"].get(n, {}))]
    print("no change" if not moved else "moved: " + ", ".join(moved))
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
