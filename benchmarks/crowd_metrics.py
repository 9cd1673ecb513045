"""Measures of crowd realism computed the same way on our trajectories and JuPedSim's.

Every function takes sampled trajectories (:class:`Frames`), not a simulator, so that both
models are scored by one piece of code:

* :func:`walking_speeds`, :func:`share_stopped`: speed along each person's own direction
  and the share of people standing (slower than :data:`STOPPED_MPS` over one second);
* :func:`band_index`: lane order in a counterflow, 0 for a random mix, 1 for clean lanes;
* :func:`interaction_energy` and :func:`fit_energy_exponent`: the time-to-collision
  interaction energy ``E(tau) = ln(P_NI(tau) / P(tau))`` of Karamouzas, Skinner & Guy (2014)
  and the exponent of its power law;
* :func:`avoidance_onset`: how long before contact people start to leave their path;
* :func:`max_overlap`: the deepest interpenetration of two bodies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from sim.world.social_force import time_to_collision

#: [m/s] below this speed (averaged over one second) a person counts as stopped
STOPPED_MPS = 0.1
#: [m] half width of the strip along the flow in which :func:`band_index` compares directions
BAND_HALF_WIDTH_M = 0.3
#: [s] the time-to-collision range of the power-law fit (Karamouzas et al. 2014)
ENERGY_FIT_S = (0.3, 3.0)
#: [s] the exponential cut-off of the fitted law ``E = k tau^n exp(-tau / tau0)``
ENERGY_CUTOFF_S = 3.0
#: [s] where the pair counts are matched (interactions have died out): E = 0 there on average
ENERGY_TAIL_S = (4.0, 6.0)
#: departure from a steady velocity, relative to the desired speed, that counts as avoiding
ONSET_DEVIATION = 0.1


@dataclass
class Frames:
    """Trajectories sampled every ``sample_s``: per sample, the ids present and their
    positions [m]; per id, the body radius [m], desired speed [m/s] and desired direction
    (a unit vector, or ``None`` where it changes, as on a ring)."""

    sample_s: float
    ids: list[np.ndarray] = field(default_factory=list)
    pos: list[np.ndarray] = field(default_factory=list)
    radius: dict[int, float] = field(default_factory=dict)
    v0: dict[int, float] = field(default_factory=dict)
    direction: dict[int, np.ndarray] = field(default_factory=dict)

    def add(self, ids: np.ndarray, pos: np.ndarray) -> None:
        self.ids.append(np.asarray(ids, dtype=np.int64).copy())
        self.pos.append(np.asarray(pos, dtype=np.float64).copy())

    def __len__(self) -> int:
        return len(self.ids)

    def velocities(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(ids, pos, vel)`` at sample ``k`` for the ids present at ``k - 1`` too; ``vel`` by
        the backward difference over one sample."""
        if k < 1:
            raise ValueError(f"Frames.velocities: k must be >= 1; got {k}")
        ids, prev = self.ids[k], self.ids[k - 1]
        common, a, b = np.intersect1d(ids, prev, assume_unique=True, return_indices=True)
        return common, self.pos[k][a], (self.pos[k][a] - self.pos[k - 1][b]) / self.sample_s


def walking_speeds(along: np.ndarray, window_s: float, sample_s: float) -> np.ndarray:
    """[m/s] ``(T - w, N)`` speeds over ``window_s`` from ``along`` ``(T, N)``, each person's
    unwrapped distance walked along its own direction, sampled every ``sample_s``."""
    w = max(int(round(window_s / sample_s)), 1)
    if len(along) <= w:
        raise ValueError(f"walking_speeds: need more than {w} samples; got {len(along)}")
    return (along[w:] - along[:-w]) / (w * sample_s)


def share_stopped(along: np.ndarray, sample_s: float) -> float:
    """Mean share of people slower than :data:`STOPPED_MPS` over one second."""
    return float(np.mean(walking_speeds(along, 1.0, sample_s) < STOPPED_MPS))


def band_index(lateral: np.ndarray, direction: np.ndarray, rng: np.random.Generator, *,
               half_width_m: float = BAND_HALF_WIDTH_M, shuffles: int = 8) -> float:
    """Lane order of one sample of a counterflow: 0 for a random mix, 1 for clean lanes.

    ``lateral`` ``(N,)`` [m] each person's coordinate across the corridor, ``direction``
    ``(N,)`` +1 or -1. Each person compares the walkers of both directions within
    ``half_width_m`` of its own lateral position over the whole length of the corridor:
    ``phi_i = ((n_same - n_opposite) / (n_same + n_opposite))^2`` (the lane order parameter
    of Rex & Löwen 2007). The mean ``Phi`` is rescaled by its value ``Phi_0`` for the same
    positions with the directions shuffled, ``(Phi - Phi_0) / (1 - Phi_0)``, so that a mix
    scores 0 whatever the density. Two opposing blocks pressed head on score about 0.
    """
    y = np.asarray(lateral, dtype=np.float64)
    s = np.asarray(direction, dtype=np.float64)
    if len(y) < 4:
        return float("nan")
    order = np.argsort(y)
    y, s = y[order], s[order]
    lo = np.searchsorted(y, y - half_width_m, side="left")
    hi = np.searchsorted(y, y + half_width_m, side="right")

    def phi(sign: np.ndarray) -> float:
        csum = np.concatenate([[0.0], np.cumsum(sign)])
        net = csum[hi] - csum[lo] - sign  # the others in the strip: same minus opposite, seen from +1
        count = (hi - lo - 1).astype(np.float64)
        ok = count > 0
        return float(np.mean((net[ok] / count[ok]) ** 2)) if ok.any() else float("nan")

    p = phi(s)
    p0 = float(np.mean([phi(rng.permutation(s)) for _ in range(shuffles)]))
    return (p - p0) / (1.0 - p0) if p0 < 1.0 else float("nan")


# --- time to collision --------------------------------------------------------------------------


def _pair_ttc(pos_a, vel_a, rad_a, pos_b, vel_b, rad_b, radius_scale, same: bool, max_m: float):
    """Times to collision of the pairs of ``a`` x ``b`` closer than ``max_m`` (``i < j`` when
    ``same``)."""
    if len(pos_a) == 0 or len(pos_b) == 0:
        return np.zeros(0)
    if same:
        pairs = cKDTree(pos_a).query_pairs(max_m, output_type="ndarray")
        i, j = (pairs[:, 0], pairs[:, 1]) if len(pairs) else (np.zeros(0, np.intp),) * 2
    else:
        lists = cKDTree(pos_a).query_ball_tree(cKDTree(pos_b), max_m)
        i = np.repeat(np.arange(len(pos_a)), [len(x) for x in lists])
        j = np.fromiter((k for x in lists for k in x), np.intp, count=len(i))
    d = pos_a[i] - pos_b[j]
    dv = vel_a[i] - vel_b[j]
    return time_to_collision(d[:, 0], d[:, 1], dv[:, 0], dv[:, 1], radius_scale * (rad_a[i] + rad_b[j]))


@dataclass
class Energy:
    """``E(tau)`` per bin: ``tau`` [s] bin centres, ``energy`` (nan where undefined), the pair
    counts per bin of the interacting and the time-scrambled sets, and their totals."""

    tau: np.ndarray
    energy: np.ndarray
    n_int: np.ndarray
    n_ni: np.ndarray
    total_int: int
    total_ni: int


def interaction_energy(frames: Frames, region, *, radius_scale: float = 1.0, bin_s: float = 0.1,
                       max_tau_s: float = 6.0, scramble_s: float = 10.0, max_m: float = 15.0,
                       every: int = 2) -> Energy:
    """``E(tau) = ln(P_NI(tau) / P(tau))`` over the people inside ``region(pos) -> bool mask``.

    ``P(tau)``: the distribution of the time to collision of the pairs present at the same
    instant (with the radii scaled by ``radius_scale``), ``P_NI`` that of the pairs formed
    with the people present ``scramble_s`` later (the time-scrambled, non-interacting
    reference of Karamouzas et al. 2014), of the pairs closer than ``max_m``, matched where
    people no longer interact (:func:`energy_of`). Every ``every``-th sample is used.
    """
    edges = np.arange(0.0, max_tau_s + 1e-9, bin_s)
    n_int = np.zeros(len(edges) - 1)
    n_ni = np.zeros(len(edges) - 1)
    total_int = total_ni = 0
    lag = max(int(round(scramble_s / frames.sample_s)), 1)
    cache = {}

    def at(k):
        if k not in cache:
            ids, pos, vel = frames.velocities(k)
            keep = region(pos)
            ids, pos, vel = ids[keep], pos[keep], vel[keep]
            rad = np.array([frames.radius[int(i)] for i in ids])
            cache[k] = (ids, pos, vel, rad)
            cache.pop(k - 2 * lag - every, None)
        return cache[k]

    for k in range(1, len(frames) - lag, every):
        ids, pos, vel, rad = at(k)
        tau = _pair_ttc(pos, vel, rad, pos, vel, rad, radius_scale, True, max_m)
        total_int += len(tau)
        n_int += np.histogram(tau[np.isfinite(tau)], edges)[0]
        ids2, pos2, vel2, rad2 = at(k + lag)
        # a person is never paired with itself; who is still there later is left out
        fresh = ~np.isin(ids2, ids)
        tau = _pair_ttc(pos, vel, rad, pos2[fresh], vel2[fresh], rad2[fresh], radius_scale, False, max_m)
        total_ni += len(tau)
        n_ni += np.histogram(tau[np.isfinite(tau)], edges)[0]
    centre = 0.5 * (edges[1:] + edges[:-1])
    return Energy(centre, energy_of(centre, n_int, n_ni), n_int, n_ni, total_int, total_ni)


def energy_of(tau: np.ndarray, n_int: np.ndarray, n_ni: np.ndarray, tail_s: tuple[float, float] = ENERGY_TAIL_S):
    """``E = -ln g`` per bin, ``g`` the ratio of the interacting to the scrambled pair counts
    normalised to 1 over ``tail_s``, where people no longer interact (as ``E -> 0`` for large
    ``tau`` in Karamouzas et al. 2014); ``nan`` where a count is 0."""
    tail = (tau >= tail_s[0]) & (tau <= tail_s[1])
    scale = n_int[tail].sum() / max(n_ni[tail].sum(), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = n_int / (n_ni * scale)
        return np.where((n_int > 0) & (n_ni > 0) & (scale > 0), -np.log(g), np.nan)


def fit_energy_exponent(e: Energy, fit_s: tuple[float, float] = ENERGY_FIT_S,
                        cutoff_s: float = ENERGY_CUTOFF_S) -> tuple[float, int]:
    """``(n, bins)``: the exponent of ``E = k tau^n exp(-tau / cutoff_s)`` fitted over the bins
    of ``fit_s``, by least squares on ``E`` itself weighted by the inverse variance of
    ``ln g`` (Poisson counts: ``1 / n_int + 1 / n_ni``); ``nan`` with fewer than 4 bins.

    Fitting ``E`` and not ``ln E`` keeps the bins where the noise makes ``E`` zero or
    negative (at long ``tau``, where ``E`` is small): dropping them would bias the tail
    upward and flatten the law.
    """
    from scipy.optimize import minimize_scalar

    sel = (e.tau >= fit_s[0]) & (e.tau <= fit_s[1]) & np.isfinite(e.energy)
    if sel.sum() < 4:
        return float("nan"), int(sel.sum())
    tau = e.tau[sel]
    y = e.energy[sel]
    w = 1.0 / (1.0 / e.n_int[sel] + 1.0 / e.n_ni[sel])

    def cost(n: float) -> float:
        basis = tau ** n * np.exp(-tau / cutoff_s)
        k = np.sum(w * basis * y) / np.sum(w * basis * basis)  # the best amplitude for this n
        return float(np.sum(w * (y - k * basis) ** 2))

    grid = np.linspace(-6.0, 1.0, 71)
    best = grid[int(np.argmin([cost(n) for n in grid]))]
    res = minimize_scalar(cost, bounds=(best - 0.1, best + 0.1), method="bounded")
    return float(res.x), int(sel.sum())


def avoidance_onset(frames: Frames, region, *, deviation: float = ONSET_DEVIATION, calm_s: float = 1.0,
                    max_m: float = 10.0) -> np.ndarray:
    """[s] The predicted times to collision at which steady walkers start avoiding.

    A walker is steady when, over the last ``calm_s``, its velocity stayed within
    ``deviation / 2 * v0`` of its mean over that time; it starts avoiding at the first
    sample where it departs from that mean by more than ``deviation * v0``. When, one sample
    earlier, it was on a collision course with someone (a finite time to collision), that
    time is recorded: how long before contact the avoidance began. (Steady, not free: in a
    crowd people walk below their desired speed ``v0``.) Only walkers inside ``region``.
    """
    need = max(int(round(calm_s / frames.sample_s)), 2)
    history: dict[int, list[np.ndarray]] = {}
    prev_tau: dict[int, float] = {}
    onsets = []
    for k in range(1, len(frames)):
        ids, pos, vel = frames.velocities(k)
        if len(ids) == 0:
            continue
        inside = region(pos)
        rad = np.array([frames.radius[int(i)] for i in ids])
        tau_min = np.full(len(ids), np.inf)
        if len(ids) > 1:
            pairs = cKDTree(pos).query_pairs(max_m, output_type="ndarray")
            if len(pairs):
                i, j = pairs[:, 0], pairs[:, 1]
                d = pos[i] - pos[j]
                dv = vel[i] - vel[j]
                tau = time_to_collision(d[:, 0], d[:, 1], dv[:, 0], dv[:, 1], rad[i] + rad[j])
                np.minimum.at(tau_min, i, tau)
                np.minimum.at(tau_min, j, tau)
        for n, pid in enumerate(ids.tolist()):
            tol = deviation * frames.v0[pid]
            h = history.setdefault(pid, [])
            if len(h) == need:
                past = np.array(h)
                mean = past.mean(axis=0)
                steady = np.all(np.hypot(*(past - mean).T) <= tol / 2)
                if steady and np.hypot(*(vel[n] - mean)) > tol:
                    t = prev_tau.get(pid, math.inf)
                    if inside[n] and math.isfinite(t) and t > 0:
                        onsets.append(t)
                    h.clear()
            h.append(vel[n])
            if len(h) > need:
                h.pop(0)
            prev_tau[pid] = float(tau_min[n])
    return np.array(onsets)


def max_overlap(frames: Frames, region=None, *, first: int = 0) -> float:
    """[m] The deepest overlap ``r_i + r_j - d_ij`` of two bodies over the samples from
    ``first`` (0 when no two bodies ever touch); only people inside ``region`` count."""
    worst = 0.0
    for k in range(first, len(frames)):
        ids, pos = frames.ids[k], frames.pos[k]
        if region is not None:
            keep = region(pos)
            ids, pos = ids[keep], pos[keep]
        if len(ids) < 2:
            continue
        rad = np.array([frames.radius[int(i)] for i in ids])
        pairs = cKDTree(pos).query_pairs(2 * rad.max(), output_type="ndarray")
        if len(pairs):
            d = np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T)
            worst = max(worst, float(np.max(rad[pairs[:, 0]] + rad[pairs[:, 1]] - d)))
    return worst
