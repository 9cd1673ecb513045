"""Pedestrian motion: a social force model with a density-limited speed, one vectorised step.

Pedestrian ``i`` (mass ``m``, desired speed ``v0_i``, desired direction ``e_i``) moves by

    m dv_i/dt = m (v0_i e_i - v_i) / tau + sum_j f_ij + sum_W f_iW,
    |v_i| <= v0_i F(rho_i),                                     (speed limit)

* the driving term of Helbing & Molnár (1995);
* the pair force ``f_ij`` from every neighbour within ``cutoff_m``: an anisotropic
  exponential repulsion ``A exp((r_ij - d_ij) / B) w(phi_ij) n_ij`` with
  ``w = lambda + (1 - lambda) (1 + cos phi_ij) / 2`` (people react less to what is behind
  them), a short-range isotropic ``A_2 exp((r_ij - d_ij) / B_2) n_ij``, the body
  compression ``k g(r_ij - d_ij) n_ij`` and the sliding friction
  ``kappa g(r_ij - d_ij) dv^t_ji t_ij`` of Helbing, Farkas & Vicsek (2000, HFV);
* the exponential, compression and friction terms of HFV against walls and obstacle edges;
* the speed limit: Weidmann's (1993) fundamental diagram applied to the density each
  pedestrian perceives ahead of it,

      F(rho) = 1 - exp(-gamma (1/rho - 1/rho_max)),   gamma = 1.913 /m², rho_max = 5.4 /m²,
      rho_i  = c_p sum_j max(0, cos phi_ij)^p K(d_ij),

  with ``K`` a Gaussian kernel of width ``sigma`` normalised over the ring
  ``d_min < d < cutoff`` where other centres can be (no centre comes closer than a body
  width ``d_min``), ``phi_ij`` the angle between ``e_i`` and the direction to ``j``, and
  ``c_p`` the constant that makes ``rho_i`` the density of a uniform crowd. ``F = 1`` in
  free flow and 0 at ``rho_max``.

``r_ij`` is the sum of the radii, ``d_ij`` the distance between centres, ``n_ij`` the unit
vector from ``j`` to ``i``, ``t_ij`` its normal, ``g(x) = max(x, 0)``.

Why a speed limit and not only forces. A social force alone cannot follow Weidmann's
curve: with HFV's constants the anisotropic repulsion of a dense crowd pushes everyone
backwards above about 2.5 persons/m², and a weak long-range term fitted to the curve
(the previous form of this model) stayed 23 % RMS off it, too fast below 2 persons/m² and
too slow above. Speed-based models with a headway or density-dependent speed are the
known remedy: the collision-free speed model of Tordeux, Chraibi & Seyfried (2016) sets
``v = min(v0, (s - l) / T)`` from the distance ``s`` to the person ahead. Here the
speed a person can reach is Weidmann's speed at the density it sees ahead, while the
forces keep the avoidance, the pushing and the contacts of the social force model. The
driving term still pulls towards ``v0`` (motivation does not drop in a crowd), so people
at a bottleneck's mouth press into the gap, which gives its flow; the limit caps the
speed, not the push. Only the perception parameters (``sigma``, ``p``, ``d_min``) and
``tau``, ``A``, ``B``, ``B_2`` are fitted; gamma and rho_max are Weidmann's.

Measured with ``dt = 0.05 s`` (``python benchmarks/bench_realism.py``): mean speed 1.20,
1.01, 0.83, 0.63, 0.47, 0.34, 0.25, 0.16 m/s at 0.5, 1, .. 4 persons/m² in a 20 m x 4 m
periodic corridor (v0 ~ N(1.34, 0.26) m/s) against Weidmann's 1.30, 1.06, 0.81, 0.61,
0.45, 0.33, 0.23, 0.16: 4.7 % RMS relative error (4.5 % on a 4 m wide ring corridor). The
low-density end is slow because fast walkers queue behind slow ones before they find a gap.
Through a 1 m wide, 2.8 m long bottleneck 1.70 persons/(m s), 95 % interval 1.61 to 1.79
over 5 seeds (Seyfried et al. 2009 measured 1.6 to 2.0).

Integration is semi-implicit Euler at ``dt`` (velocity first, then position with the new
velocity) with the speed clamped to ``v0 min(F(rho), max_speed_factor)``. The body contact
constants of HFV 2000 were fitted with time steps of milliseconds; at the 50 ms steps of
the testbed they would make two touching bodies oscillate, so the step limits them to the
stiffest values that stay stable at ``dt`` (documented on :class:`SocialForceParams`).

Agent state is a structure of arrays owned by the caller (:class:`sim.model.StationModel`);
the functions here update those arrays in place.

References: D. Helbing, P. Molnár, Phys. Rev. E 51, 4282 (1995); D. Helbing, I. Farkas,
T. Vicsek, Nature 407, 487 (2000); U. Weidmann, Transporttechnik der Fussgänger, ETH
Zürich, IVT Schriftenreihe 90 (1993); A. Seyfried et al., Transportation Science 43, 395
(2009); A. Tordeux, M. Chraibi, A. Seyfried, in Traffic and Granular Flow '15 (2016).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from scipy.spatial import cKDTree

from sim.geometry import SegmentIndex


@dataclass(frozen=True, kw_only=True)
class SocialForceParams:
    """Constants of the model (HM 1995, HFV 2000, Weidmann 1993), in SI units.

    ``tau``, ``A``, ``B``, ``B_2`` and the perception (``sigma``, ``p``, ``d_min``) are
    fitted to Weidmann's fundamental diagram and to the flow through a 1 m bottleneck
    (see the module docstring); ``gamma`` and ``rho_max`` are Weidmann's; the wall terms
    are HFV's. ``k`` and ``kappa`` are the published HFV values, but explicit integration
    is stable only while ``k dt² / m`` and ``kappa g dt / m`` stay small, so each step uses
    ``min(k, m / (4 dt²))`` and caps the friction coefficient of a contact at
    ``m / (4 dt)``: at ``dt = 0.05 s`` that is 8,000 kg/s² and 400 kg/s. The short-range
    repulsion, more than the contact terms, keeps bodies apart.
    """

    tau_s: float = 0.3  #: [s] relaxation time of the driving term (tau)
    mass_kg: float = 80.0  #: [kg] body mass (m)
    a_n: float = 5.0  #: [N] strength of the anisotropic repulsion between pedestrians (A)
    b_m: float = 0.3  #: [m] range of the anisotropic repulsion between pedestrians (B)
    anisotropy: float = 0.15  #: weight of interactions from behind, 0..1 (lambda)
    k_body: float = 1.2e5  #: [kg/s²] body compression coefficient (k)
    kappa_friction: float = 2.4e5  #: [kg/(m s)] sliding friction coefficient (kappa)
    a_near_n: float = 600.0  #: [N] strength of the short-range isotropic repulsion (A_2; 0 turns it off)
    b_near_m: float = 0.12  #: [m] range of the short-range repulsion (B_2)
    a_wall_n: float = 2000.0  #: [N] strength of the repulsion from walls (A_w)
    b_wall_m: float = 0.08  #: [m] range of the repulsion from walls (B_w)
    cutoff_m: float = 2.0  #: [m] neighbours farther apart than this exert no force and are not perceived
    wall_cutoff_m: float = 1.0  #: [m] walls farther than this exert no force
    max_speed_factor: float = 1.3  #: speed limit as a multiple of v0 when the density limit is off (v_max / v0)
    heading_tau_s: float = 0.3  #: [s] smoothing time of the facing direction
    heading_min_speed_mps: float = 0.3  #: [m/s] below this speed the facing direction is kept
    stride_pair_m: float = 1.4  #: [m] distance walked per gait cycle (2 pi of gait_phase)
    weidmann_gamma_per_m2: float = 1.913  #: [1/m²] shape of the density-speed relation (gamma; 0 turns it off)
    weidmann_rho_max_per_m2: float = 5.4  #: [1/m²] density at which walking stops (rho_max)
    perception_sigma_m: float = 1.0  #: [m] width of the Gaussian kernel of the perceived density (sigma)
    perception_cone_power: float = 2.0  #: narrowness of the perception cone, cos^p (p; 0: all around)
    perception_exclusion_m: float = 0.4  #: [m] no centre is nearer than this (a body width, d_min)

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise ValueError(f"SocialForceParams.{f.name} must be a finite number; got {v!r}")
            if f.name == "anisotropy":
                if not 0.0 <= v <= 1.0:
                    raise ValueError(f"SocialForceParams.anisotropy must be within [0, 1]; got {v!r}")
            elif f.name in ("k_body", "kappa_friction", "a_n", "a_near_n", "a_wall_n", "weidmann_gamma_per_m2",
                            "perception_cone_power", "perception_exclusion_m"):
                if v < 0:
                    raise ValueError(f"SocialForceParams.{f.name} must be >= 0; got {v!r}")
            elif v <= 0:
                raise ValueError(f"SocialForceParams.{f.name} must be > 0; got {v!r}")
        if not self.perception_exclusion_m < self.cutoff_m:
            raise ValueError(
                f"SocialForceParams.perception_exclusion_m must be < cutoff_m={self.cutoff_m!r}; "
                f"got {self.perception_exclusion_m!r}"
            )


class Walls:
    """Wall segments ``(M, 2, 2)`` [m] with a spatial index for the agent-wall pairs."""

    def __init__(self, segments: np.ndarray, *, reach_m: float) -> None:
        self.segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2, 2)
        self.index = SegmentIndex(self.segments, reach_m=reach_m)
        self._a = self.segments[:, 0, :].copy()
        self._ab = self.segments[:, 1, :] - self._a
        self._len2 = np.einsum("ij,ij->i", self._ab, self._ab)

    def __len__(self) -> int:
        return len(self.segments)

    def nearest_points(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate ``(agent_index, offset (P, 2), distance (P,))``: ``offset`` points from
        the nearest point of each candidate wall to the agent."""
        ai, si = self.index.candidate_pairs(pos)
        if len(ai) == 0:
            return ai, np.zeros((0, 2)), np.zeros(0)
        a = self._a[si]
        ab = self._ab[si]
        p = pos[ai]
        apx = p[:, 0] - a[:, 0]
        apy = p[:, 1] - a[:, 1]
        len2 = self._len2[si]
        u = np.divide(apx * ab[:, 0] + apy * ab[:, 1], len2, out=np.zeros(len(ai)), where=len2 > 0)
        np.minimum(np.maximum(u, 0.0, out=u), 1.0, out=u)
        off = np.empty((len(ai), 2))
        off[:, 0] = apx - u * ab[:, 0]
        off[:, 1] = apy - u * ab[:, 1]
        return ai, off, np.hypot(off[:, 0], off[:, 1])


def _contact_limits(params: SocialForceParams, dt: float) -> tuple[float, float]:
    m = params.mass_kg
    return min(params.k_body, m / (4.0 * dt * dt)), m / (4.0 * dt)


class Neighbours:
    """The pairs ``i < j`` of agents closer than a cut-off, with their geometry.

    ``dx, dy, d`` [m] are the components and length of ``x_i - x_j`` (the shortest image
    across the period when x is periodic); ``nx, ny`` the unit vector ``n_ij`` from ``j`` to
    ``i``. One instance serves the perceived density and the pair forces of a step.
    """

    __slots__ = ("n", "i", "j", "dx", "dy", "d", "nx", "ny", "_dots_of", "_dots")

    def __init__(self, pos: np.ndarray, cutoff_m: float, period_x_m: float | None = None) -> None:
        n = len(pos)
        self.n = n
        if n < 2:
            i = j = np.zeros(0, np.intp)
        else:
            if period_x_m is None:
                tree = cKDTree(pos, leafsize=16, compact_nodes=False, balanced_tree=False)
            else:
                # y is not periodic: shift it into a box far larger than any station
                x = np.minimum(np.mod(pos[:, 0], period_x_m), np.nextafter(period_x_m, 0.0))
                wrapped = np.column_stack([x, pos[:, 1] + 1e4])
                tree = cKDTree(wrapped, leafsize=16, compact_nodes=False, balanced_tree=False,
                               boxsize=[period_x_m, 4e4])
            pairs = tree.query_pairs(cutoff_m, output_type="ndarray")
            i, j = np.ascontiguousarray(pairs.T) if len(pairs) else (np.zeros(0, np.intp),) * 2
        self.i, self.j = i, j
        px = pos[:, 0]
        py = pos[:, 1]
        dx = px.take(i) - px.take(j)
        if period_x_m is not None:
            dx -= period_x_m * np.round(dx / period_x_m)
        dy = py.take(i) - py.take(j)
        d = np.hypot(dx, dy)
        np.maximum(d, 1e-6, out=d)
        self.dx, self.dy, self.d = dx, dy, d
        self.nx = dx / d
        self.ny = dy / d
        self._dots_of = None
        self._dots = None

    def __len__(self) -> int:
        return len(self.i)

    def heading_dots(self, desired_dir: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(e_i . n_ij, e_j . n_ij)`` per pair (computed once per ``desired_dir`` array)."""
        if self._dots_of is not desired_dir:
            ex = desired_dir[:, 0]
            ey = desired_dir[:, 1]
            di = ex.take(self.i) * self.nx
            di += ey.take(self.i) * self.ny
            dj = ex.take(self.j) * self.nx
            dj += ey.take(self.j) * self.ny
            self._dots_of, self._dots = desired_dir, (di, dj)
        return self._dots


def _cone_weight(cos_phi: np.ndarray, p: float) -> np.ndarray:
    """``max(0, cos phi)^p``, in place on ``cos_phi``."""
    np.maximum(cos_phi, 0.0, out=cos_phi)
    if p == 0:
        cos_phi[:] = 1.0
    elif p == round(p) and p <= 8:
        base = cos_phi.copy()
        for _ in range(int(p) - 1):
            cos_phi *= base
    else:
        np.power(cos_phi, p, out=cos_phi)
    return cos_phi


def perceived_density(nb: Neighbours, desired_dir: np.ndarray, params: SocialForceParams) -> np.ndarray:
    """[persons/m²] ``(N,)`` density each agent perceives ahead of it (rho_i).

    ``rho_i = c_p sum_j max(0, cos phi_ij)^p K(d_ij)`` with ``K`` the Gaussian kernel of
    width ``perception_sigma_m``, normalised over the ring ``perception_exclusion_m < d <
    cutoff_m`` (no centre comes nearer than a body width, so the disc inside holds no one
    in any crowd), ``phi_ij`` the angle between ``e_i`` and the direction to ``j``,
    ``p = perception_cone_power`` and ``c_p = 2 pi / int_{-pi/2}^{pi/2} cos^p`` (so that
    ``rho_i`` is the density of a uniform crowd): people ahead count, people beside and
    behind do not. A lone agent perceives 0.
    """
    n = nb.n
    if len(nb) == 0:
        return np.zeros(n)
    p = params.perception_cone_power
    s2 = 2.0 * params.perception_sigma_m ** 2
    c_p = 1.0 if p == 0 else 2.0 * math.sqrt(math.pi) * math.gamma(p / 2 + 1) / math.gamma((p + 1) / 2)
    ring = math.exp(-params.perception_exclusion_m ** 2 / s2) - math.exp(-params.cutoff_m ** 2 / s2)
    norm = c_p / (np.pi * s2 * ring)
    k = np.exp(nb.d * nb.d * (-1.0 / s2))
    k *= norm
    di, dj = nb.heading_dots(desired_dir)
    # cos phi_ij = -e_i . n_ij for i, cos phi_ji = e_j . n_ij for j
    ci = _cone_weight(-di, p)
    cj = _cone_weight(dj.copy(), p)
    ci *= k
    cj *= k
    return np.bincount(nb.i, weights=ci, minlength=n) + np.bincount(nb.j, weights=cj, minlength=n)


def density_speed_factor(rho: np.ndarray, params: SocialForceParams) -> np.ndarray:
    """``v / v0`` at the perceived density ``rho`` [persons/m²] by Weidmann (1993):
    ``1 - exp(-gamma (1/rho - 1/rho_max))``, clipped to ``[0, 1]`` (1 at ``rho = 0``)."""
    if params.weidmann_gamma_per_m2 == 0:
        return np.ones_like(rho)
    inv = np.divide(1.0, rho, out=np.full_like(rho, np.inf), where=rho > 1e-12)
    inv -= 1.0 / params.weidmann_rho_max_per_m2
    np.maximum(inv, 0.0, out=inv)
    inv *= -params.weidmann_gamma_per_m2
    return 1.0 - np.exp(inv)


def pair_forces(pos, vel, desired_dir, radius, params: SocialForceParams, dt: float, out: np.ndarray,
                period_x_m: float | None = None, neighbours: Neighbours | None = None) -> int:
    """Add the pedestrian-pedestrian forces [N] to ``out`` ``(N, 2)``; return the pair count.

    ``period_x_m`` makes x periodic with that period (a corridor for calibration runs);
    ``neighbours`` reuses the pairs of this step when the caller has them.
    """
    nb = neighbours if neighbours is not None else Neighbours(pos, params.cutoff_m, period_x_m)
    n = nb.n
    if len(nb) == 0:
        return 0
    i, j, d, nx, ny = nb.i, nb.j, nb.d, nb.nx, nb.ny
    overlap = radius.take(i) + radius.take(j) - d
    rep = np.exp(overlap * (1.0 / params.b_m))
    rep *= params.a_n
    # anisotropy w = lambda + (1 - lambda)(1 + cos phi) / 2, with cos phi_i = -e_i . n_ij
    # for i and cos phi_j = e_j . n_ij for j
    lam = params.anisotropy
    c0 = lam + 0.5 * (1.0 - lam)
    c1 = 0.5 * (1.0 - lam)
    di, dj = nb.heading_dots(desired_dir)
    mag_i = rep * (c0 - c1 * di)
    mag_j = rep * (c0 + c1 * dj)
    if params.a_near_n > 0:
        near = np.exp(overlap * (1.0 / params.b_near_m))
        near *= params.a_near_n
        mag_i += near
        mag_j += near
    fxi = mag_i * nx
    fyi = mag_i * ny
    fxj = mag_j * nx
    fyj = mag_j * ny
    touching = np.flatnonzero(overlap > 0)
    if len(touching):
        k_eff, fric_cap = _contact_limits(params, dt)
        t = touching
        g = overlap[t]
        tnx, tny = nx[t], ny[t]
        it, jt = i[t], j[t]
        # sliding friction along t_ij = (-n_y, n_x), driven by the tangential relative velocity
        dvt = (vel[jt, 0] - vel[it, 0]) * -tny + (vel[jt, 1] - vel[it, 1]) * tnx
        fric = np.minimum(params.kappa_friction * g, fric_cap) * dvt
        push = k_eff * g
        cx = push * tnx - fric * tny
        cy = push * tny + fric * tnx
        fxi[t] += cx
        fyi[t] += cy
        fxj[t] += cx
        fyj[t] += cy
    out[:, 0] += np.bincount(i, weights=fxi, minlength=n) - np.bincount(j, weights=fxj, minlength=n)
    out[:, 1] += np.bincount(i, weights=fyi, minlength=n) - np.bincount(j, weights=fyj, minlength=n)
    return len(nb)


def wall_forces(pos, vel, radius, walls: Walls, params: SocialForceParams, dt: float, out: np.ndarray) -> None:
    """Add the wall and obstacle forces [N] on the agents at ``pos`` to ``out``."""
    if len(walls) == 0 or len(pos) == 0:
        return
    ai, off, d = walls.nearest_points(pos)
    keep = (d < params.wall_cutoff_m) & (d > 1e-9)
    if not keep.any():
        return
    ai, off, d = ai[keep], off[keep], d[keep]
    nx = off[:, 0] / d
    ny = off[:, 1] / d
    overlap = radius[ai] - d
    mag = params.a_wall_n * np.exp(overlap / params.b_wall_m)
    fx = mag * nx
    fy = mag * ny
    touching = overlap > 0
    if touching.any():
        k_eff, fric_cap = _contact_limits(params, dt)
        t = np.nonzero(touching)[0]
        g = overlap[t]
        tnx, tny = -ny[t], nx[t]
        vt = vel[ai[t], 0] * tnx + vel[ai[t], 1] * tny
        fric = np.minimum(params.kappa_friction * g, fric_cap) * vt
        fx[t] += k_eff * g * nx[t] - fric * tnx
        fy[t] += k_eff * g * ny[t] - fric * tny
    n = len(pos)
    out[:, 0] += np.bincount(ai, weights=fx, minlength=n)
    out[:, 1] += np.bincount(ai, weights=fy, minlength=n)


def motion_step(
    *,
    pos: np.ndarray,
    vel: np.ndarray,
    desired_dir: np.ndarray,
    desired_speed: np.ndarray,
    walk_speed: np.ndarray,
    radius: np.ndarray,
    walls: Walls,
    dt: float,
    params: SocialForceParams,
    alt_walls: Walls | None = None,
    alt_mask: np.ndarray | None = None,
    period_x_m: float | None = None,
) -> int:
    """Advance ``pos`` and ``vel`` (``(N, 2)``, updated in place) by one step of ``dt`` [s].

    ``desired_dir`` ``(N, 2)`` unit vectors (e_i), ``desired_speed`` ``(N,)`` [m/s] the speed
    wanted now (0 to stand), ``walk_speed`` ``(N,)`` [m/s] each person's free walking speed
    (v0, which sets the speed limit), ``radius`` ``(N,)`` [m]. Agents flagged in
    ``alt_mask`` feel ``alt_walls`` instead of ``walls`` (a person stepping off a platform
    edge). ``period_x_m`` makes x periodic (calibration corridors). Returns the number of
    neighbour pairs within the cut-off.
    """
    n = len(pos)
    if n == 0:
        return 0
    m = params.mass_kg
    nb = Neighbours(pos, params.cutoff_m, period_x_m)
    factor = None
    if params.weidmann_gamma_per_m2 > 0:
        factor = density_speed_factor(perceived_density(nb, desired_dir, params), params)
    force = np.empty((n, 2))
    force[:, 0] = (desired_speed * desired_dir[:, 0] - vel[:, 0]) * (m / params.tau_s)
    force[:, 1] = (desired_speed * desired_dir[:, 1] - vel[:, 1]) * (m / params.tau_s)
    n_pairs = pair_forces(pos, vel, desired_dir, radius, params, dt, force, neighbours=nb)
    if alt_mask is not None and alt_walls is not None and alt_mask.any():
        normal = np.nonzero(~alt_mask)[0]
        alt = np.nonzero(alt_mask)[0]
        for sel, w in ((normal, walls), (alt, alt_walls)):
            sub = np.zeros((len(sel), 2))
            wall_forces(pos[sel], vel[sel], radius[sel], w, params, dt, sub)
            force[sel] += sub
    else:
        wall_forces(pos, vel, radius, walls, params, dt, force)
    vel += force * (dt / m)
    speed = np.hypot(vel[:, 0], vel[:, 1])
    vmax = params.max_speed_factor * walk_speed
    if factor is not None:
        vmax = np.minimum(vmax, walk_speed * factor)
    over = speed > vmax
    if over.any():
        vel[over] *= (vmax[over] / speed[over])[:, None]
    pos += vel * dt
    return n_pairs


def advance_gait_and_heading(
    vel: np.ndarray, heading: np.ndarray, gait_phase: np.ndarray, dt: float, params: SocialForceParams
) -> None:
    """Advance ``gait_phase`` [rad] with the distance walked and turn the unit ``heading``
    ``(N, 2)`` toward the direction of motion with time constant ``heading_tau_s``; below
    ``heading_min_speed_mps`` the facing direction is kept."""
    if len(vel) == 0:
        return
    vx = vel[:, 0]
    vy = vel[:, 1]
    speed = np.hypot(vx, vy)
    gait_phase += speed * (dt * 2.0 * np.pi / params.stride_pair_m)
    np.mod(gait_phase, 2.0 * np.pi, out=gait_phase)
    alpha = min(dt / params.heading_tau_s, 1.0)
    # blend weight per agent: alpha / speed where moving (so that w * v = alpha * unit v), else 0
    w = np.where(speed > params.heading_min_speed_mps, alpha / np.maximum(speed, 1e-9), 0.0)
    keep = np.where(w > 0, 1.0 - alpha, 1.0)
    hx = heading[:, 0] * keep + w * vx
    hy = heading[:, 1] * keep + w * vy
    norm = np.hypot(hx, hy)
    # a reversal can cancel the blend; the old facing stays then
    ok = norm > 1e-6
    np.divide(hx, norm, out=hx, where=ok)
    np.divide(hy, norm, out=hy, where=ok)
    heading[:, 0] = np.where(ok, hx, heading[:, 0])
    heading[:, 1] = np.where(ok, hy, heading[:, 1])
