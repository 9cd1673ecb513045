"""A made-up crowd for tests, benchmarks and sample frames: people placed at random on the free floor."""

from __future__ import annotations

import numpy as np

from sim.world.appearance import sample_appearance
from sim.geometry import points_in_polygon
from sim.render.camera import PinholeCamera
from sim.render.scene import point_segment_distance
from sim.state import CrowdState, Posture


def sample_crowd(scenario, n: int, *, seed: int | np.random.Generator = 0, camera: PinholeCamera | None = None,
                 t: float = 0.0, standing_fraction: float = 0.3, min_gap_m: float = 0.05) -> CrowdState:
    """``n`` people placed at random on the walkable floor (not on obstacles, not overlapping).

    With ``camera``, only places whose foot point shows in the image are used. Looks are
    drawn from the scenario's ``crowd.appearance`` (:func:`sim.world.appearance.sample_appearance`);
    walkers get a speed of about 1.3 m/s along their heading.
    Raises ``ValueError`` when the floor cannot hold ``n`` people.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    st = scenario.station
    walk = np.asarray(st.walkable, dtype=np.float64)
    obstacles = [np.asarray(p, dtype=np.float64) for p in st.obstacles]
    lo, hi = walk.min(axis=0), walk.max(axis=0)
    r_lo, r_hi = scenario.crowd.radius_m
    chosen = np.zeros((n, 2))
    radii = np.zeros(n)
    count = 0
    unproductive = 0
    while count < n and unproductive < 3:  # stop once three rounds in a row place nobody
        cand = rng.uniform(lo, hi, size=(min(4 * n, 4000), 2))
        rad = rng.uniform(r_lo, r_hi, size=len(cand))
        ok = points_in_polygon(cand, walk)
        for ob in obstacles:
            ok &= ~points_in_polygon(cand, ob)
            for k in range(len(ob)):
                d, _ = point_segment_distance(cand, ob[k], ob[(k + 1) % len(ob)])
                ok &= d > rad
        if camera is not None:
            ok &= camera.in_image(camera.ground_to_image(cand), margin_px=-4.0)
        before = count
        for p, rp in zip(cand[ok], rad[ok]):
            if count >= n:
                break
            if count and np.min(np.hypot(*(chosen[:count] - p).T) - radii[:count] - rp) < min_gap_m:
                continue
            chosen[count] = p
            radii[count] = rp
            count += 1
        unproductive = unproductive + 1 if count == before else 0
    chosen, radii = chosen[:count], radii[:count]
    if len(chosen) < n:
        raise ValueError(f"sample_crowd: only {len(chosen)} of n={n} people fit on the floor"
                         + (" in view of the camera" if camera is not None else ""))
    heading = rng.uniform(-np.pi, np.pi, n)
    standing = rng.random(n) < standing_fraction
    speed = np.where(standing, 0.0, rng.normal(1.3, 0.15, n))
    shirt, trousers, skin, hair, group = sample_appearance(scenario.crowd.appearance, n, rng)
    return CrowdState(
        t=float(t), ids=np.arange(n, dtype=np.int64), pos_m=chosen, vel_mps=np.c_[np.cos(heading), np.sin(heading)] * speed[:, None],
        heading_rad=heading, radius_m=radii, height_m=np.clip(rng.normal(1.70, 0.09, n), 1.45, 2.0),
        gait_phase=rng.uniform(0, 2 * np.pi, n),
        posture=np.where(standing, Posture.STANDING, Posture.WALKING).astype(np.uint8),
        posture_progress=np.zeros(n, np.float32),
        shirt_bgr=shirt, trousers_bgr=trousers, skin_bgr=skin, hair_bgr=hair, appearance_group=group)
