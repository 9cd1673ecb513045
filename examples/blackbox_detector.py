#!/usr/bin/env python3
"""An example black-box intrusion detector: a vendor's system as stationwatch sees it.

It is deliberately independent of stationwatch (it imports only numpy, OpenCV and PyYAML):
any program with the same command line can take its place in an experiment::

    python examples/blackbox_detector.py VIDEO --site SITE.yaml --out ALERTS.jsonl

It reads the video file and the site configuration (calibration homography and zones),
and writes one JSON line per alert: ``{"camera", "type": "intrusion", "t", "score",
"bbox"}`` with ``t = frame index / fps``. The method is the plainest one: a MOG2
background model on a half-resolution grey image, foreground blobs as big as a person
could be at their feet, the bottom centre of each blob mapped to the ground through the
inverse homography and tested against the forbidden zones. A frame scores the share of
such blobs' height that stands in a zone (capped at 1); an alert fires when the score
stays at or above ``--threshold`` for ``--min-duration`` seconds, at most once per
``--cooldown`` seconds. Exit status 2 with one line on stderr for bad input.

In an experiment file::

    detectors:
      - name: example_blackbox
        command: ["{python}", "examples/blackbox_detector.py", "{video}", "--site", "{site}", "--out", "{alerts}"]
        types: [intrusion]
        timeout_s: 300
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _fail(message: str) -> int:
    print(f"blackbox_detector: {message}", file=sys.stderr)
    return 2


def _forbidden_zones(site: dict) -> list:
    import numpy as np

    return [np.asarray(z["polygon"], dtype=np.float64) for z in site.get("zones") or [] if z.get("kind") == "forbidden"]


def _inside(points, polygon) -> "list[bool]":
    """Even-odd rule, one point at a time (a handful of blobs per frame)."""
    out = []
    n = len(polygon)
    for x, y in points:
        inside = False
        for k in range(n):
            (x1, y1), (x2, y2) = polygon[k], polygon[(k + 1) % n]
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        out.append(inside)
    return out


def detect(video: str, site: dict, *, threshold: float, min_duration_s: float, cooldown_s: float,
           warmup_s: float = 2.0) -> list[dict]:
    import cv2
    import numpy as np

    cap = cv2.VideoCapture(video)
    if not cap.isOpened():
        raise ValueError(f"cannot open video {video!r}")
    fps = float(site.get("fps") or cap.get(cv2.CAP_PROP_FPS) or 0)
    if fps <= 0:
        raise ValueError("the site configuration gives no fps and the video no frame rate")
    homography = np.asarray(site["calibration"]["homography"], dtype=np.float64)
    to_ground = np.linalg.inv(homography)
    zones = _forbidden_zones(site)
    camera = str(site["camera"])
    mog = cv2.createBackgroundSubtractorMOG2(history=300, varThreshold=25, detectShadows=False)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    alerts: list[dict] = []
    run_start = None
    last_alert = None
    fired = False
    index = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        t = index / fps
        index += 1
        small = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        fg = mog.apply(grey, learningRate=-1 if t < warmup_s else 0.002)
        if t < warmup_s or not zones:
            continue
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, kernel)
        fg = cv2.dilate(fg, kernel, iterations=2)
        n, _, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        score, box = 0.0, None
        if n > 1:
            x, y, w, h, area = (stats[1:, k].astype(np.float64) * (2.0 if k < 4 else 4.0) for k in range(5))
            keep = (area >= 120) & (h >= 20) & (h >= 0.8 * w)  # upright and large enough to be a person
            feet = np.c_[x + w / 2.0, y + h]
            for k in np.flatnonzero(keep):
                p = to_ground @ np.array([feet[k, 0], feet[k, 1], 1.0])
                if abs(p[2]) < 1e-12:
                    continue
                ground = (p[0] / p[2], p[1] / p[2])
                if any(_inside([ground], zone)[0] for zone in zones):
                    s = min(1.0, h[k] / 40.0)
                    if s > score:
                        score, box = s, [float(x[k]), float(y[k]), float(w[k]), float(h[k])]
        if score < threshold:
            run_start, fired = None, False
            continue
        run_start = t if run_start is None else run_start
        if fired or t - run_start < min_duration_s - 1e-6:
            continue
        if last_alert is not None and t - last_alert < cooldown_s - 1e-6:
            continue
        fired, last_alert = True, t
        alert = {"camera": camera, "type": "intrusion", "t": round(t, 4), "score": round(score, 4)}
        if box is not None:
            alert["bbox"] = [round(v, 1) for v in box]
        alerts.append(alert)
    cap.release()
    return alerts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("video")
    ap.add_argument("--site", required=True, help="site configuration (YAML)")
    ap.add_argument("--out", required=True, help="alerts file to write (JSON Lines)")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--min-duration", type=float, default=0.5, help="[s]")
    ap.add_argument("--cooldown", type=float, default=10.0, help="[s]")
    args = ap.parse_args(argv)
    import yaml

    try:
        with open(args.site, encoding="utf-8") as fh:
            site = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        return _fail(f"cannot read the site configuration {args.site!r}: {exc}")
    if not isinstance(site, dict) or "calibration" not in site or "camera" not in site:
        return _fail(f"{args.site!r} is not a site configuration (needs camera and calibration)")
    if not os.path.exists(args.video):
        return _fail(f"video {args.video!r} does not exist")
    try:
        alerts = detect(args.video, site, threshold=args.threshold, min_duration_s=args.min_duration,
                        cooldown_s=args.cooldown)
    except (ValueError, KeyError) as exc:
        return _fail(str(exc))
    tmp = args.out + ".part"
    with open(tmp, "w", encoding="utf-8") as fh:
        for a in alerts:
            fh.write(json.dumps(a) + "\n")
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
