"""Builders and checks shared by the tests (import them: ``from tests.helpers import frame_sha``)."""

from __future__ import annotations

import hashlib

import numpy as np

from sim.state import BodyKind, CrowdState, Posture, Prop


def frame_sha(img: np.ndarray) -> str:
    """SHA-256 of an image's bytes: equal hashes mean byte-identical frames."""
    return hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()


def standing_crowd(xy, *, heading=0.0, posture=Posture.STANDING, progress=0.0, prop=Prop.NONE, raise_=0.0,
                   vest=False, body=BodyKind.ADULT, height=1.75, radius=0.23, shirt=(40, 40, 200),
                   trousers=(30, 30, 30), ids=None, t=0.0) -> CrowdState:
    """A CrowdState of people standing still at ground points ``xy`` [m], dressed alike.

    ``heading`` [rad], ``posture``, ``progress`` (``posture_progress``), ``prop``, ``raise_``
    (``prop_raise``), ``vest``, ``body``, ``height`` [m] and ``radius`` [m] take one value for
    everyone or one per person; ``ids`` default to 0 .. n-1. Skin (150, 170, 210) and hair
    (20, 20, 20) are the same for all, the gait phase 0, the appearance group 0.
    """
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(xy)

    def each(v, dtype):
        return np.broadcast_to(np.asarray(v, dtype), (n,)).copy()

    def colour(c):
        return np.tile(np.array(c, np.uint8), (n, 1))

    return CrowdState(
        t=t, ids=np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, np.int64), pos_m=xy,
        vel_mps=np.zeros((n, 2)), heading_rad=each(heading, np.float64), radius_m=each(radius, np.float64),
        height_m=each(height, np.float64), gait_phase=np.zeros(n), posture=each(posture, np.uint8),
        posture_progress=each(progress, np.float32), shirt_bgr=colour(shirt), trousers_bgr=colour(trousers),
        skin_bgr=colour((150, 170, 210)), hair_bgr=colour((20, 20, 20)), appearance_group=np.zeros(n, np.int16),
        prop=each(prop, np.uint8), prop_raise=each(raise_, np.float32), vest=each(vest, bool), body=each(body, np.uint8))
