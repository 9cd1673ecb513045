"""Builders and checks shared by the tests (import them: ``from tests.helpers import frame_sha``).

Fixtures live in ``tests/conftest.py``; plain functions that build test data live here:
frame hashes, a crowd standing at given points, alerts and ground-truth instances.
"""

from __future__ import annotations

import hashlib
import math

import cv2
import numpy as np

from detectors.events import Alert, EventType
from detectors.site import SiteConfig, Zone, ZoneKind
from detectors.source import Frame
from sim.state import BodyKind, CrowdState, Posture, Prop


def frame_sha(img: np.ndarray) -> str:
    """SHA-256 of an image's bytes: equal hashes mean byte-identical frames."""
    return hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()


def standing_crowd(xy, *, heading=0.0, posture=Posture.STANDING, progress=0.0, prop=Prop.NONE, raise_=0.0,
                   vest=False, body=BodyKind.ADULT, height=1.75, radius=0.23, shirt=(40, 40, 200),
                   trousers=(30, 30, 30), ids=None, t=0.0) -> CrowdState:
    """A CrowdState of people standing still at ground points ``xy`` [m], dressed alike.

    ``heading`` [rad], ``posture``, ``progress`` (``posture_progress``), ``prop``, ``raise_``
    (``prop_raise``), ``vest``, ``body``, ``height`` [m], ``radius`` [m], ``shirt`` and ``trousers``
    (BGR) take one value for everyone or one per person; ``ids`` default to 0 .. n-1. Skin (150, 170, 210) and hair
    (20, 20, 20) are the same for all, the gait phase 0, the appearance group 0.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(xy)

    def each(v, dtype):
        return np.broadcast_to(np.asarray(v, dtype), (n,)).copy()

    def colour(c):  # one BGR triple for all, or one per person
        return np.broadcast_to(np.asarray(c, np.uint8), (n, 3)).copy()

    return CrowdState(
        t=t, ids=np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, np.int64), pos_m=xy,
        vel_mps=np.zeros((n, 2)), heading_rad=each(heading, np.float64), radius_m=each(radius, np.float64),
        height_m=each(height, np.float64), gait_phase=np.zeros(n), posture=each(posture, np.uint8),
        posture_progress=each(progress, np.float32), shirt_bgr=colour(shirt), trousers_bgr=colour(trousers),
        skin_bgr=colour((150, 170, 210)), hair_bgr=colour((20, 20, 20)), appearance_group=np.zeros(n, np.int16),
        prop=each(prop, np.uint8), prop_raise=each(raise_, np.float32), vest=each(vest, bool), body=each(body, np.uint8))


# --- drawn station scenes: a camera over a platform, people as an ellipse and a head ----------

FPS = 10.0
TRACKS = Zone(name="tracks", kind=ZoneKind.FORBIDDEN, polygon_m=[[0, -4.5], [32, -4.5], [32, 0], [0, 0]])
HALL = Zone(name="hall", kind=ZoneKind.DENSITY, polygon_m=[[10, 1], [22, 1], [22, 6], [10, 6]], capacity_per_m2=2.0)


def camera_projection(position, look_at, hfov_deg, size) -> np.ndarray:
    """3x4 pinhole projection (x right, y down, z forward) of a camera at ``position`` [m]."""
    c = np.asarray(position, float)
    f = np.asarray(look_at, float) - c
    f /= np.linalg.norm(f)
    r = np.cross(f, [0.0, 0.0, 1.0])
    r /= np.linalg.norm(r)
    rot = np.stack([r, np.cross(f, r), f])
    w, h = size
    focal = (w / 2) / math.tan(math.radians(hfov_deg) / 2)
    k = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]])
    return k @ np.c_[rot, -rot @ c]


def platform_site(zones=(TRACKS, HALL), size=(640, 360)) -> SiteConfig:
    p = camera_projection((16, 11, 5.5), (16, 0, 0), 80, size)
    return SiteConfig(camera="cam", image_size=size, fps=FPS, homography=p[:, [0, 1, 3]], projection=p, zones=tuple(zones))


def project(p: np.ndarray, xyz) -> np.ndarray:
    q = np.c_[np.atleast_2d(xyz), np.ones(len(np.atleast_2d(xyz)))] @ p.T
    return q[:, :2] / q[:, 2:3]


def draw_person(img, p, x, y, colour=(40, 40, 160), lying=False, width_m=0.36, height_m=1.7):
    if lying:  # 1.7 m along x, 0.3 m thick
        a, b = project(p, [(x - 0.85, y, 0.15), (x + 0.85, y, 0.15)])
        lo, hi = project(p, [(x, y, 0.0), (x, y, 0.3)])
        centre = (a + b) / 2
        axes = (int(np.linalg.norm(b - a) / 2), max(2, int(abs(lo[1] - hi[1]) / 2)))
        cv2.ellipse(img, (int(centre[0]), int(centre[1])), axes, 0, 0, 360, colour, -1)
        return
    foot, top = project(p, [(x, y, 0.0), (x, y, height_m)])
    h = foot[1] - top[1]
    head = 0.2 / height_m * h
    body = h - head
    cv2.ellipse(img, (int(round(foot[0])), int(round(foot[1] - body / 2))),
                (max(1, round(h * width_m / height_m / 2)), max(1, round(body / 2))), 0, 0, 360, colour, -1)
    cv2.circle(img, (int(round(top[0])), int(round(top[1] + head / 2))), max(1, round(head / 2)), colour, -1)


class Scene:
    """A static textured background plus drawn people, with sensor noise (seeded)."""

    def __init__(self, site: SiteConfig, seed: int = 0) -> None:
        self.site = site
        self.p = site.projection
        rng = np.random.default_rng(seed)
        w, h = site.image_size
        tex = rng.integers(70, 170, (h // 8 + 1, w // 8 + 1, 3)).astype(np.uint8)
        self.background = cv2.GaussianBlur(cv2.resize(tex, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 1.5)
        self.rng = rng
        self.index = 0

    def frame(self, people=(), occluder=None) -> Frame:
        img = self.background.copy()
        for person in people:
            x, y, *kw = person
            draw_person(img, self.p, x, y, **(kw[0] if kw else {}))
        if occluder is not None:  # (x0, y0, x1, y1) image box repainted with the background
            x0, y0, x1, y1 = occluder
            img[y0:y1, x0:x1] = self.background[y0:y1, x0:x1]
        noisy = img.astype(np.int16) + self.rng.normal(0, 2, img.shape).astype(np.int16)
        f = Frame(index=self.index, t=self.index / FPS, image=np.clip(noisy, 0, 255).astype(np.uint8))
        self.index += 1
        return f


def real_data_dir():
    """The folder of real footage for tests: ``$STATIONWATCH_REAL_DATA``, else the first
    ``shared/data/real`` beside the repository or beside one of its parent folders (a worktree
    lives a folder deeper than the clone)."""
    import os
    from pathlib import Path

    env = os.environ.get("STATIONWATCH_REAL_DATA")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[1]
    for parent in here.parents:
        candidate = parent / "shared" / "data" / "real"
        if candidate.is_dir():
            return candidate
    return here.parent / "shared" / "data" / "real"


def alert(t: float, *, cam: str = "cam1", etype: EventType = EventType.FIRE, score: float = 0.9, bbox=None) -> Alert:
    """An alert at ``t`` [s] (a fire on ``cam1`` by default)."""
    return Alert(camera=cam, type=etype, t=t, score=score, bbox=bbox)


def instance(iid: str, t_start: float, t_end: float, *, cam: str = "cam1", etype: EventType = EventType.FIRE,
             bbox=None):
    """A ground-truth instance ``iid`` over ``[t_start, t_end]`` [s] (a fire on ``cam1`` by default)."""
    from eval.matching import Instance

    return Instance(id=iid, type=etype, camera=cam, t_start=t_start, t_end=t_end, bbox=bbox)


def room(**over):
    """A 20 m x 10 m room with one exit on its east side, one camera and nobody in it (40 s at
    ``dt_s`` 0.05, seed 5): the stage of the behaviour tests. Keys of ``over`` replace
    top-level keys of the scenario."""
    from sim.scenario import build_scenario

    data = {
        "name": "room", "duration_s": 40, "seed": 5, "dt_s": 0.05,
        "station": {"walkable": [[0, 0], [20, 0], [20, 10], [0, 10]],
                    "exits": [{"name": "east", "segment": [[20, 3], [20, 7]]}]},
        "crowd": {"initial_count": 0, "wait_fraction": 0.0},
        "cameras": [{"name": "c", "position": [10, -5, 6], "look_at": [10, 5, 0]}],
    }
    data.update(over)
    return build_scenario(data)


#: A scenario small enough for command-line tests (a 10 m x 6 m room, two people, one 160x90 camera at
#: 5 frames/s, a forbidden zone it sees): ``stationwatch run`` on it takes about two seconds.
TINY_SCENARIO = """\
name: tiny
description: an empty room seen by one small camera
duration_s: 8
seed: 5
dt_s: 0.1
station:
  walkable: [[0, 0], [10, 0], [10, 6], [0, 6]]
  exits: [{name: east, segment: [[10, 2], [10, 4]]}]
  zones: [{name: pit, kind: forbidden, polygon: [[4, 2], [6, 2], [6, 4], [4, 4]]}]
crowd: {initial_count: 2, wait_fraction: 0.0}
cameras: [{name: c, position: [5, -4, 5], look_at: [5, 3, 0], resolution: [160, 90], fps: 5}]
"""

#: What :func:`tiny_scenario` adds with ``intrusion=True``: someone walks into the zone at 3 s and stays 2 s,
#: seen at 320x180 and 10 frames/s (the intrusion detector raises one alert, at 6.0 s)
TINY_INTRUSION = """\
events: [{type: intrusion, id: x, at_s: 3, start: [1, 3], path: [[5, 3]], dwell_index: 0, dwell_s: 2, exit: east}]
cameras: [{name: c, position: [5, -4, 5], look_at: [5, 3, 0], resolution: [320, 180], fps: 10}]
"""


def tiny_scenario(folder, *, intrusion: bool = False) -> str:
    """Write :data:`TINY_SCENARIO` (with :data:`TINY_INTRUSION`) to ``folder``; return its path, a scenario
    argument of the command line."""
    from pathlib import Path

    path = Path(folder) / ("tiny_intrusion.yaml" if intrusion else "tiny.yaml")
    text = TINY_SCENARIO.replace("cameras: [{name: c, position: [5, -4, 5], look_at: [5, 3, 0], resolution: "
                                 "[160, 90], fps: 5}]\n", TINY_INTRUSION) if intrusion else TINY_SCENARIO
    path.write_text(text)
    return str(path)


def interrupt_when(cmd: list[str], ready, *, wait_s: float = 120) -> tuple[int, str, str]:
    """Start the command, press Ctrl-C (SIGINT) once ``ready()`` holds (or the process ends, or ``wait_s`` passes),
    and return its ``(status, stdout, stderr)``; the calling test is skipped when the command finished first."""
    import signal
    import subprocess
    import time

    import pytest

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + wait_s
    while proc.poll() is None and time.monotonic() < deadline and not ready():
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the command finished before the signal")  # a very fast machine
    return proc.returncode, stdout, stderr
