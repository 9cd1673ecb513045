"""Small shared pieces of the detectors: keyed evidence that builds up over time, boxes, a CDF."""

from __future__ import annotations

import math

import numpy as np


#: up to this many values :func:`median` sorts them as Python floats instead of calling ``np.median``
_FEW_VALUES = 64


def median(values) -> float:
    """``float(np.median(values))``, the same float, for a 1-d sequence of numbers: up to ``_FEW_VALUES``
    float64 values without nan, infinities of both signs or a zero in the middle are sorted as Python floats
    (the middle one, or the two middle ones' sum halved, as ``np.median`` computes it), a tenth of
    ``np.median``'s cost on the few values of a track's recent steps; anything else goes to ``np.median``."""
    a = np.asarray(values)
    n = len(a) if a.ndim == 1 else 0
    if a.dtype != np.float64 or not 0 < n <= _FEW_VALUES:
        return float(np.median(a))
    v = a.tolist()
    if math.isnan(sum(v)):  # a nan (or inf - inf): np.median's own answer
        return float(np.median(a))
    v.sort()
    m = n // 2
    if v[m] == 0 or v[m - 1] == 0:  # which of 0.0 and -0.0 np.partition puts there is its own
        return float(np.median(a))
    return v[m] if n % 2 else (v[m - 1] + v[m]) / 2


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF, vectorised (tanh approximation, absolute error < 2e-4)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


class KeyedEvidence:
    """Per-key exponential moving averages of a value in [0, 1] over time.

    ``update(t, keys, values)``: each key's average moves toward its value with time constant
    ``tau_s`` [s] (``a = 1 - exp(-dt / tau_s)``, dt since the key's last update, so the result
    does not depend on the frame rate); a new key starts at ``start``. Keys not updated for
    ``forget_s`` are dropped.
    """

    def __init__(self, tau_s: float, *, start: float = 0.0, forget_s: float = 2.0) -> None:
        if not (math.isfinite(tau_s) and tau_s >= 0):
            raise ValueError(f"KeyedEvidence.tau_s must be a finite number >= 0 s; got {tau_s!r}")
        self.tau_s = float(tau_s)
        self.start = float(start)
        self.forget_s = float(forget_s)
        self._value: dict = {}
        self._t: dict = {}
        self._last_t: float | None = None

    def update(self, t: float, keys, values) -> np.ndarray:
        frame_dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        out = np.empty(len(values))
        for i, (k, v) in enumerate(zip(keys, np.asarray(values, dtype=np.float64).tolist())):
            prev = self._value.get(k)
            dt = frame_dt if prev is None else t - self._t[k]  # a new key has been seen for one frame
            prev = self.start if prev is None else prev
            a = 1.0 if self.tau_s == 0 else 1.0 - math.exp(-dt / self.tau_s)
            new = prev + a * (v - prev)
            self._value[k] = new
            self._t[k] = t
            out[i] = new
        for k in [k for k, tk in self._t.items() if t - tk > self.forget_s]:
            del self._value[k], self._t[k]
        return out

    def get(self, key, default: float = 0.0) -> float:
        return self._value.get(key, default)

    def reset(self) -> None:
        self._value.clear()
        self._t.clear()
        self._last_t = None


def clip_box(box, image_size: tuple[int, int]) -> tuple[float, float, float, float] | None:
    """(x, y, w, h) [px] clipped to the image; None when nothing of it is inside or it is not finite."""
    x, y, w, h = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return None
    W, H = image_size
    x0, y0 = min(max(x, 0.0), W), min(max(y, 0.0), H)
    x1, y1 = min(max(x + w, 0.0), W), min(max(y + h, 0.0), H)
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)


class InstanceLinks:
    """Names the event instances of tracks so that one person stays one instance across a broken track.

    A tracker loses a person for a moment (a merged blob, a pillar) and picks them up under a
    new track id, sometimes a frame or two before the old track ends; an event instance (a
    person in a zone) must not start again then, or the operator gets a second alert for the
    same person. :meth:`key` gives a new track the key of an instance of the same zone whose
    track was last seen less than ``link_s`` ago within ``link_m`` plus ``spread_mps`` times
    the time since of where that track's velocity would have taken it (within 0.7
    ``link_m`` when that track is still followed: two tracks on one person), else a new key
    ``"ZONE/TRACK_ID"``.
    """

    def __init__(self, *, link_s: float = 5.0, link_m: float = 1.0, spread_mps: float = 0.5) -> None:
        self.link_s = float(link_s)
        self.link_m = float(link_m)
        self.spread_mps = float(spread_mps)
        self._key: dict[tuple[str, int], str] = {}  # (zone, track id) -> instance key
        self._last: dict[str, tuple] = {}  # key -> (t, x, y, track id, vx, vy)
        self._t: float | None = None
        self._taken: set[str] = set()

    def key(self, zone: str, track_id: int, pos, t: float, vel=(0.0, 0.0)) -> str:
        """The instance key of track ``track_id`` in ``zone`` at ground position ``pos`` [m] moving at
        ``vel`` [m/s], time ``t`` [s]."""
        if t != self._t:
            self._t = t
            self._taken = set()
            for k in [k for k, v in self._last.items() if t - v[0] > self.link_s]:
                del self._last[k]
            self._key = {zk: v for zk, v in self._key.items() if v in self._last or zk[1] == track_id}
        found = self._key.get((zone, track_id))
        if found is None:
            best, best_d = None, math.inf
            for k, (tk, x, y, tid, vx, vy) in self._last.items():
                if tid == track_id or not k.startswith(zone + "/"):
                    continue
                gap = t - tk
                d = math.hypot(pos[0] - x - vx * gap, pos[1] - y - vy * gap)
                # an instance followed by another track in this frame: only a second track on the same person
                reach = 0.7 * self.link_m if k in self._taken else self.link_m + self.spread_mps * gap
                if d <= reach and d < best_d:
                    best, best_d = k, d
            found = best or f"{zone}/{track_id}"
            self._key[(zone, track_id)] = found
        self._taken.add(found)
        self._last[found] = (t, float(pos[0]), float(pos[1]), int(track_id), float(vel[0]), float(vel[1]))
        return found

    def reset(self) -> None:
        self._key.clear()
        self._last.clear()
        self._t = None


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) intersection over union of x, y, w, h boxes."""
    ax0, ay0, ax1, ay1 = a[:, 0:1], a[:, 1:2], a[:, 0:1] + a[:, 2:3], a[:, 1:2] + a[:, 3:4]
    bx0, by0, bx1, by1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    union = a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def box_cover(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(A, B) share of each x, y, w, h box of ``a`` covered by each box of ``b`` (0 for an empty box of ``a``)."""
    iw = np.clip(np.minimum(a[:, 0:1] + a[:, 2:3], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0:1], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, 1:2] + a[:, 3:4], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1:2], b[:, 1]), 0, None)
    area = a[:, 2:3] * a[:, 3:4]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(area > 0, iw * ih / area, 0.0)


def greedy_pairs(a_xy: np.ndarray, b_xy: np.ndarray, max_d: float) -> list[tuple[int, int]]:
    """Pairs ``(i, k)`` of points of ``a_xy`` (N, 2) and ``b_xy`` (M, 2), nearest first, each point in one
    pair at most, none farther apart than ``max_d`` (same unit): how a detector follows things that
    barely move (an object on the floor, a body) from frame to frame without a tracker."""
    a_xy = np.asarray(a_xy, dtype=np.float64).reshape(-1, 2)
    b_xy = np.asarray(b_xy, dtype=np.float64).reshape(-1, 2)
    if len(a_xy) == 0 or len(b_xy) == 0:
        return []
    d = np.hypot(a_xy[:, None, 0] - b_xy[None, :, 0], a_xy[:, None, 1] - b_xy[None, :, 1])
    pairs, used_a, used_b = [], set(), set()
    for flat in np.argsort(d, axis=None):
        i, k = divmod(int(flat), len(b_xy))
        if d[i, k] > max_d:
            break
        if i in used_a or k in used_b:
            continue
        used_a.add(i)
        used_b.add(k)
        pairs.append((i, k))
    return pairs
