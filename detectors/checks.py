"""The conformance suite a detector plug-in runs on itself, in the manner of scikit-learn's
``check_estimator``.

``check_detector(MyDetector)`` builds a small synthetic scene that needs nothing but this
package (a pinhole camera over a tiled floor, a forbidden zone, a one-way corridor and a
density zone, and figures that walk into the forbidden zone, against the corridor's
direction, crowd the density zone and run), feeds it through the shared perception, and
checks the detector protocol (:mod:`detectors.base`):

- ``attributes``: ``event_type`` is an :class:`~detectors.events.EventType`,
  ``default_threshold`` a finite number, ``score`` a method;
- ``supports``: ``supports(site)`` (when defined) answers a bool for sites with and
  without each kind of zone; where it says True the detector builds and scores; where it
  says False, building it raises ``ValueError`` (with a message) or works;
- ``zero_until_ready``: the score is 0, and no instance scores, while the perception is
  warming up (``percept.ready`` False);
- ``scores_in_range``: every score and instance score is finite and in [0, 1], and the
  frame score is the best instance's when instances are given;
- ``deterministic``: two fresh detectors fed the same frames give the same scores and boxes;
- ``boxes_inside_image``: every box (frame and instances) lies inside the image, with
  width and height >= 0;
- ``instance_keys``: instance keys are strings, unique within a frame.

Failures raise :class:`ConformanceError` naming the check, the detector and what was
expected and what came. In a test suite::

    @pytest.mark.parametrize("check", detector_checks(MyDetector), ids=lambda c: c.name)
    def test_conformance(check):
        check()
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from detectors.events import EventType
from detectors.site import SiteConfig, Zone, ZoneKind
from detectors.source import Frame

#: [s] length of the synthetic scene; its frame rate [frames/s]
SCENE_S = 6.0
SCENE_FPS = 10.0


class ConformanceError(AssertionError):
    """A detector that breaks the protocol; the message names the check and what came."""


@dataclass(frozen=True)
class Check:
    """One named conformance check of one detector class (callable, for parametrized tests)."""

    name: str
    run: Callable[[], None]

    def __call__(self) -> None:
        self.run()


# --- the synthetic scene ------------------------------------------------------------------


def camera_matrices(position, look_at, hfov_deg: float, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(3x4 projection, 3x3 ground homography) of a pinhole camera at ``position`` [m] looking at
    ``look_at`` [m] with horizontal field of view ``hfov_deg`` (z up, ground z = 0)."""
    w, h = image_size
    c = np.asarray(position, float)
    fwd = np.asarray(look_at, float) - c
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    R = np.stack([right, down, fwd])
    f = (w / 2) / math.tan(math.radians(hfov_deg) / 2)
    K = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1.0]])
    P = K @ np.c_[R, -R @ c]
    return P, P[:, [0, 1, 3]]


def synthetic_site(zones: tuple[str, ...] = ("forbidden", "one_way", "density"), *,
                   image_size: tuple[int, int] = (320, 180), fps: float = SCENE_FPS) -> SiteConfig:
    """A site over a 20 m x 14 m floor, with any of its three zones: ``forbidden`` (a 3 m strip at
    the far side, staff allowed nowhere), ``one_way`` (a 3 m corridor on the left, direction +y)
    and ``density`` (a 4 m x 4 m square on the right, capacity 2 persons/m²)."""
    P, H = camera_matrices((10.0, -6.0, 6.0), (10.0, 7.0, 0.0), 80.0, image_size)
    available = {
        "forbidden": Zone(name="tracks", kind=ZoneKind.FORBIDDEN, polygon_m=[[0, 11], [20, 11], [20, 14], [0, 14]]),
        "one_way": Zone(name="corridor", kind=ZoneKind.ONE_WAY, polygon_m=[[1, 0], [4, 0], [4, 10], [1, 10]],
                        direction_deg=90.0),
        "density": Zone(name="square", kind=ZoneKind.DENSITY, polygon_m=[[13, 4], [17, 4], [17, 8], [13, 8]],
                        capacity_per_m2=2.0),
    }
    unknown = sorted(set(zones) - set(available))
    if unknown:
        raise ValueError(f"synthetic_site: zones must be among {sorted(available)}; got {unknown}")
    return SiteConfig(camera="synthetic", image_size=image_size, fps=fps, homography=H, projection=P,
                      zones=tuple(available[z] for z in zones))


def _paths(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray, float, tuple]]:
    """(start [m], velocity [m/s], start time [s], BGR) of the figures of the scene."""
    people = [
        (np.array([8.0, 6.0]), np.array([0.0, 1.4]), 1.5, (40, 40, 200)),  # walks into the forbidden strip
        (np.array([2.5, 9.0]), np.array([0.0, -1.3]), 1.5, (200, 60, 40)),  # against the corridor's direction
        (np.array([6.0, 2.0]), np.array([3.2, 0.4]), 2.0, (30, 160, 30)),  # runners
        (np.array([6.0, 3.0]), np.array([3.4, 0.2]), 2.0, (160, 30, 160)),
        (np.array([5.5, 2.5]), np.array([3.0, 0.6]), 2.0, (20, 200, 200)),
    ]
    for k in range(24):  # a crowd that gathers in the density square
        target = np.array([13.3, 4.3]) + rng.random(2) * 3.4
        start = target + np.array([rng.uniform(2, 4), rng.uniform(-1, 1)])
        people.append((start, (target - start) / 2.0, rng.uniform(1.5, 2.5), tuple(int(v) for v in rng.integers(20, 235, 3))))
    return people


def synthetic_frames(site: SiteConfig, *, seconds: float = SCENE_S, seed: int = 0) -> list[Frame]:
    """Frames of the synthetic scene seen through ``site``'s camera (needs its 3x4 projection):
    a tiled floor, a wall, and upright figures of 1.7 m (drawn far to near) on their paths."""
    if site.projection is None:
        raise ValueError("synthetic_frames needs a site with a 3x4 projection (see synthetic_site)")
    rng = np.random.default_rng(seed)
    w, h = site.image_size
    v, u = np.mgrid[0:h, 0:w]
    ground = site.image_to_ground(np.c_[u.ravel() + 0.5, v.ravel() + 0.5]).reshape(h, w, 2)
    tiles = (np.floor(ground[..., 0]) + np.floor(ground[..., 1])) % 2
    floor = np.where(np.isfinite(ground[..., 0]), 150 + 25 * np.nan_to_num(tiles), 90).astype(np.float32)
    base = np.dstack([floor * 0.95, floor, floor * 1.05])
    people = _paths(rng)
    frames = []
    noise = np.random.default_rng(seed + 1)
    for i in range(int(round(seconds * site.fps))):
        t = i / site.fps
        img = base.copy()
        placed = []
        for start, vel, t0, colour in people:
            pos = start + vel * max(0.0, t - t0) if t >= t0 else start
            if vel[0] == 0 and t >= t0 + 4.0:
                pos = start + vel * 4.0  # the walkers stop after 4 s
            placed.append((pos, colour))
        depth = [float(np.linalg.norm(p - [10.0, -6.0])) for p, _ in placed]
        for k in np.argsort(depth)[::-1]:
            pos, colour = placed[k]
            foot = site.projection @ np.r_[pos, 0.0, 1.0]
            head = site.projection @ np.r_[pos, 1.7, 1.0]
            if foot[2] <= 0 or head[2] <= 0:
                continue
            fu, fv = foot[:2] / foot[2]
            hu, hv = head[:2] / head[2]
            half = max(1.0, 0.16 * (fv - hv))
            cv2.rectangle(img, (int(fu - half), int(hv)), (int(fu + half), int(fv)), colour, -1)
        img += noise.normal(0, 2.0, img.shape).astype(np.float32)
        frames.append(Frame(index=i, t=t, image=np.clip(img, 0, 255).astype(np.uint8)))
    return frames


# --- the checks ----------------------------------------------------------------------------


def _scores(cls, site: SiteConfig, frames: list[Frame], params: dict) -> list[tuple]:
    """(ready, output) per frame of a fresh detector on a fresh perception."""
    from detectors.perception import Perception

    det = cls(site, **params)
    perception = Perception(site)
    out = []
    for f in frames:
        p = perception.update(f)
        out.append((p.ready, det.score(p)))
    return out


def _fail(check: str, cls, message: str):
    raise ConformanceError(f"{check}: detector {cls.__module__}.{cls.__qualname__}: {message}")


def _boxes(output) -> list:
    boxes = [output.bbox] if output.bbox is not None else []
    return boxes + [i.bbox for i in (output.instances or ()) if i.bbox is not None]


def detector_checks(cls, *, params: dict | None = None, seed: int = 0) -> list[Check]:
    """The conformance checks of detector class ``cls`` (built with keyword arguments ``params``),
    each a :class:`Check` to call; :func:`check_detector` runs them all."""
    params = dict(params or {})
    cache: dict = {}

    def material():
        if "site" not in cache:
            site = synthetic_site()
            cache["site"] = site
            cache["frames"] = synthetic_frames(site, seed=seed)
        return cache["site"], cache["frames"]

    def run():
        if "run" not in cache:
            site, frames = material()
            try:
                cache["run"] = _scores(cls, site, frames, params)
            except Exception as exc:  # a broken detector is reported by the check that needs it
                _fail("scoring", cls, f"raised {type(exc).__name__}: {exc} on the synthetic scene")
        return cache["run"]

    def attributes():
        et = getattr(cls, "event_type", None)
        if not isinstance(et, EventType):
            _fail("attributes", cls, f"event_type must be an EventType; got {et!r}")
        thr = getattr(cls, "default_threshold", None)
        if not (isinstance(thr, (int, float)) and math.isfinite(thr)):
            _fail("attributes", cls, f"default_threshold must be a finite number; got {thr!r}")
        if not callable(getattr(cls, "score", None)):
            _fail("attributes", cls, "score(percept) must be a method")

    def supports():
        check = getattr(cls, "supports", None)
        sites = {"all zones": synthetic_site(), "no zone": synthetic_site(())}
        for kind in ("forbidden", "one_way", "density"):
            sites[f"only {kind}"] = synthetic_site((kind,))
        for name, site in sites.items():
            ok = True if check is None else check(site)
            if not isinstance(ok, (bool, np.bool_)):
                _fail("supports", cls, f"supports(site with {name}) must return a bool; got {ok!r}")
            if ok:
                try:
                    _scores(cls, site, synthetic_frames(site, seconds=2.0, seed=seed), params)
                except Exception as exc:
                    _fail("supports", cls, f"supports(site with {name}) is True but the detector failed there: "
                                           f"{type(exc).__name__}: {exc}")
            else:
                try:
                    cls(site, **params)
                except ValueError as exc:
                    if not str(exc):
                        _fail("supports", cls, f"built on a site it does not support ({name}), it raised a "
                                               f"ValueError without a message")
                except Exception as exc:
                    _fail("supports", cls, f"built on a site it does not support ({name}), it must raise ValueError "
                                           f"or work; got {type(exc).__name__}: {exc}")

    def zero_until_ready():
        for k, (ready, out) in enumerate(run()):
            if ready:
                break
            if out.score != 0 or any(i.score != 0 for i in (out.instances or ())):
                _fail("zero_until_ready", cls, f"frame {k} is in the perception's warm-up (percept.ready False) "
                                               f"but the score is {out.score!r}")

    def scores_in_range():
        for k, (_, out) in enumerate(run()):
            values = [out.score] + [i.score for i in (out.instances or ())]
            for v in values:
                if not (isinstance(v, (int, float)) and math.isfinite(v) and 0.0 <= v <= 1.0):
                    _fail("scores_in_range", cls, f"frame {k}: scores must be finite and in [0, 1]; got {v!r}")
            if out.instances and abs(out.score - max(i.score for i in out.instances)) > 1e-9:
                _fail("scores_in_range", cls, f"frame {k}: the frame score {out.score!r} must be the best "
                                              f"instance's ({max(i.score for i in out.instances)!r})")

    def deterministic():
        site, frames = material()
        again = _scores(cls, site, frames, params)
        for k, ((_, a), (_, b)) in enumerate(zip(run(), again)):
            if a.score != b.score or a.bbox != b.bbox or len(a.instances) != len(b.instances):
                _fail("deterministic", cls, f"frame {k}: the same frames gave {a.score!r} {a.bbox!r} then "
                                            f"{b.score!r} {b.bbox!r}")

    def boxes_inside_image():
        site, _ = material()
        w, h = site.image_size
        for k, (_, out) in enumerate(run()):
            for box in _boxes(out):
                x, y, bw, bh = (float(v) for v in box)
                if not (bw >= 0 and bh >= 0 and x >= -1e-6 and y >= -1e-6 and x + bw <= w + 1e-6 and y + bh <= h + 1e-6):
                    _fail("boxes_inside_image", cls, f"frame {k}: box {tuple(box)} leaves the {w}x{h} image")

    def instance_keys():
        for k, (_, out) in enumerate(run()):
            keys = [i.key for i in (out.instances or ())]
            if any(not isinstance(key, str) for key in keys):
                _fail("instance_keys", cls, f"frame {k}: instance keys must be strings; got {keys!r}")
            if len(set(keys)) != len(keys):
                _fail("instance_keys", cls, f"frame {k}: instance keys must be unique within a frame; got {keys!r}")

    return [Check(fn.__name__, fn) for fn in (attributes, supports, zero_until_ready, scores_in_range, deterministic,
                                                boxes_inside_image, instance_keys)]


def check_detector(cls, *, params: dict | None = None, seed: int = 0) -> list[str]:
    """Run every conformance check on detector class ``cls``; return the names of the checks
    passed (all of them), or raise :class:`ConformanceError` at the first failure."""
    done = []
    for check in detector_checks(cls, params=params, seed=seed):
        check()
        done.append(check.name)
    return done
