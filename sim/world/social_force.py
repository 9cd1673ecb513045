"""Pedestrian motion: a social force model with a density-limited speed and anticipation, one vectorised step.

Pedestrian ``i`` (mass ``m``, desired speed ``v0_i``, desired direction ``e_i``) moves by

    m dv_i/dt = m (v0_i e_i + u_i - v_i) / tau + sum_j f_ij + sum_W f_iW,
    |v_i| <= v0_i F(rho_i),                                     (speed limit)

* the driving term of Helbing & Molnár (1995), towards the desired velocity plus the
  planned avoidance ``u_i`` (below);
* the pair force ``f_ij`` from every neighbour within ``force_range_m``: an anisotropic
  exponential repulsion ``A exp((r_ij - d_ij) / B) w(phi_ij) n_ij`` with
  ``w = lambda + (1 - lambda) (1 + cos phi_ij) / 2`` (people react less to what is behind
  them), a short-range isotropic ``A_2 exp((r_ij - d_ij) / B_2) n_ij``, the body
  compression ``k g(r_ij - d_ij) n_ij`` and the sliding friction
  ``kappa g(r_ij - d_ij) dv^t_ji t_ij`` of Helbing, Farkas & Vicsek (2000, HFV);
* the exponential, compression and friction terms of HFV against walls and obstacle edges,
  the walls felt as one surface (a vertex shared by two segments, as a door edge, pushes
  once) and steering rather than braking: a wall point that a person walking straight
  along ``e_i`` would pass clear of (the edges of the door it walks through) pushes it
  sideways only;
* the speed limit: Weidmann's (1993) fundamental diagram applied to the density each
  pedestrian perceives ahead of it,

      F(rho) = 1 - exp(-gamma (1/rho - 1/rho_max)),   gamma = 1.913 /m², rho_max = 5.4 /m²,
      rho_i  = c_p sum_j max(0, cos phi_ij)^p K(d_ij) a_ij,

  with ``K`` a Gaussian kernel of width ``sigma`` normalised over the ring
  ``d_min < d < cutoff`` where other centres can be (no centre comes closer than a body
  width ``d_min``), ``phi_ij`` the angle between ``e_i`` and the direction to ``j``,
  ``c_p`` the constant that makes ``rho_i`` the density of a uniform crowd, and
  ``a_ij = clip(1 - w_a e_i.(v_j - v_i) / v0_i, 0, 1)``: someone ahead who walks away
  faster frees the space it stands in. ``F = 1`` in free flow and 0 at ``rho_max``;
* anticipation (:func:`avoidance_velocity`), re-planned every ``replan_interval_s``
  (a reaction time) and held in between as ``u_i``: the time-to-collision interaction of
  Karamouzas, Skinner & Guy (2014), ``E(tau) = k tau^-2 exp(-tau / tau_0)``, against the
  neighbours within the cut-off and the people farther away who will meet soon, weighted
  by how opposite two people walk (within a stream the speed limit rules); and keep right
  against someone coming the other way (Moussaïd et al. 2009).

``r_ij`` is the sum of the radii, ``d_ij`` the distance between centres, ``n_ij`` the unit
vector from ``j`` to ``i``, ``t_ij`` its normal, ``g(x) = max(x, 0)``.

Why a speed limit and not only forces. A social force alone cannot follow Weidmann's
curve: with HFV's constants the anisotropic repulsion of a dense crowd pushes everyone
backwards above about 2.5 persons/m², and a weak long-range term fitted to the curve
(an earlier form of this model) stayed 23 % RMS off it, too fast below 2 persons/m² and
too slow above. Speed-based models with a headway or density-dependent speed are the
known remedy: the collision-free speed model of Tordeux, Chraibi & Seyfried (2016) sets
``v = min(v0, (s - l) / T)`` from the distance ``s`` to the person ahead. Here the
speed a person can reach is Weidmann's speed at the density it sees ahead, while the
forces keep the pushing and the contacts of the social force model. The driving term
still pulls towards ``v0`` (motivation does not drop in a crowd), so people at a
bottleneck's mouth press into the gap, which gives its flow; the limit caps the speed,
not the push. Only the perception parameters (``sigma``, ``p``, ``d_min``, ``w_a``) and
``tau``, ``A``, ``B``, ``B_2`` are fitted; gamma and rho_max are Weidmann's.

Why anticipation. Forces that depend on distance only become noticeable 0.2 to 0.3 m
before contact: people walking towards each other reacted 0.2 s before they met, met head
on and blocked (two opposing blocks pressed head on in a counterflow at 2 persons/m²,
lanes that dissolved). With the time-to-collision term they start avoiding more than a
second before contact, and the keep-right term lets two opposing streams sort themselves
into lanes instead of pressing against each other.

Measured with ``dt = 0.05 s`` by ``python benchmarks/bench_realism.py`` (JuPedSim's
figures beside them there):

* mean speed 1.21, 1.02, 0.84, 0.63, 0.46, 0.33, 0.23, 0.14 m/s at 0.5, 1, .. 4
  persons/m² in a 20 m x 4 m periodic corridor (v0 ~ N(1.34, 0.26) m/s) against
  Weidmann's 1.30, 1.06, 0.81, 0.61, 0.45, 0.33, 0.23, 0.16: 4.6 % RMS relative error
  (5.7 % on a 4 m wide ring corridor). The low-density end is slow because fast walkers
  queue behind slow ones before they find a gap;
* specific flow through bottlenecks 2.8 m long, 0.8 / 1.0 / 1.2 / 1.6 / 2.0 / 2.5 m wide:
  1.71 / 1.73 / 1.82 / 1.68 / 1.65 / 1.62 persons/(m s), 5 seeds (Seyfried et al. 2009
  measured 1.6 to 2.0);
* counterflow, half each way from a random mix: 0.96 x the one-way speed at 1 person/m²,
  at most 7 % of people stopped up to 2.5 persons/m², band index 0.91 to 1.00 at 1 to 2
  persons/m² (lanes), lanes started clean kept (band index >= 0.88 up to 3 persons/m²);
* nobody alone stalls at a 0.7 or 0.8 m door (0 of 100 starts each);
* crossing flows at 0.66 persons/m²: avoidance starts 1.32 s before contact (median), the
  interaction energy follows ``tau^n`` with ``n`` = -1.99 (-2.11 and -2.19 with the radii
  scaled by 0.9 and 1.1), the deepest overlap 3.8 cm.

Integration is semi-implicit Euler at ``dt`` (velocity first, then position with the new
velocity) with the speed clamped to ``v0 min(F(rho), max_speed_factor)``. The body contact
constants of HFV 2000 were fitted with time steps of milliseconds; at the 50 ms steps of
the testbed they would make two touching bodies oscillate, so the step limits them to the
stiffest values that stay stable at ``dt`` (documented on :class:`SocialForceParams`).

Agent state is a structure of arrays owned by the caller (:class:`sim.world.model.StationModel`),
the planned avoidance ``u`` included; the functions here update those arrays in place.

References: D. Helbing, P. Molnár, Phys. Rev. E 51, 4282 (1995); D. Helbing, I. Farkas,
T. Vicsek, Nature 407, 487 (2000); U. Weidmann, Transporttechnik der Fussgänger, ETH
Zürich, IVT Schriftenreihe 90 (1993); A. Seyfried et al., Transportation Science 43, 395
(2009); A. Tordeux, M. Chraibi, A. Seyfried, in Traffic and Granular Flow '15 (2016);
I. Karamouzas, B. Skinner, S. J. Guy, Phys. Rev. Lett. 113, 238701 (2014); M. Moussaïd
et al., Proc. R. Soc. B 276, 2755 (2009).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from scipy.spatial import cKDTree

from sim.geometry import SegmentIndex


@dataclass(frozen=True, kw_only=True)
class SocialForceParams:
    """Constants of the model (HM 1995, HFV 2000, Weidmann 1993, Karamouzas et al. 2014), in SI units.

    ``tau``, ``A``, ``B``, ``B_2`` and the perception (``sigma``, ``p``, ``d_min``, ``w_a``)
    are fitted to Weidmann's fundamental diagram and to the flow through bottlenecks 0.8 to
    2.5 m wide; the anticipation (``k``, the keep-right push) to the interaction energy of
    crossing flows, the avoidance onset and the counterflow (see the module docstring and
    ``benchmarks/bench_realism.py``); ``tau_0`` is Karamouzas's; ``gamma`` and ``rho_max``
    are Weidmann's; the wall terms are HFV's. ``k`` and ``kappa`` are the published HFV values, but explicit integration
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
    cutoff_m: float = 1.6  #: [m] neighbours farther apart than this are not perceived (density, keep right)
    force_range_m: float = 1.2  #: [m] neighbours farther apart than this exert no force (the forces are < 2 N there)
    wall_cutoff_m: float = 1.0  #: [m] walls farther than this exert no force
    max_speed_factor: float = 1.3  #: speed limit as a multiple of v0 when the density limit is off (v_max / v0)
    heading_tau_s: float = 0.3  #: [s] smoothing time of the facing direction
    heading_min_speed_mps: float = 0.3  #: [m/s] below this speed the facing direction is kept
    stride_pair_m: float = 1.4  #: [m] distance walked per gait cycle (2 pi of gait_phase)
    weidmann_gamma_per_m2: float = 1.913  #: [1/m²] shape of the density-speed relation (gamma; 0 turns it off)
    weidmann_rho_max_per_m2: float = 5.4  #: [1/m²] density at which walking stops (rho_max)
    perception_sigma_m: float = 1.0  #: [m] width of the Gaussian kernel of the perceived density (sigma)
    perception_cone_power: float = 3.0  #: narrowness of the perception cone, cos^p (p; 0: all around)
    perception_exclusion_m: float = 0.4  #: [m] no centre is nearer than this (a body width, d_min)
    perception_leave_weight: float = 1.5  #: someone ahead walking away faster by v0 counts this much less (w_a)
    ttc_k: float = 1.0  #: [m²/s²] strength of the time-to-collision energy per kg (k; 0 turns anticipation off)
    ttc_tau0_s: float = 3.0  #: [s] horizon of the time-to-collision energy (tau_0)
    ttc_max_accel: float = 5.0  #: [m/s²] cap of the anticipation acceleration from one pair
    ttc_anisotropy: float = 0.2  #: weight of the anticipation of someone behind, 0..1
    ttc_range_m: float = 6.0  #: [m] people farther apart than this are not anticipated
    ttc_lookahead_s: float = 1.0  #: [s] beyond the cut-off, people whose positions extrapolated this far ahead ...
    ttc_lookahead_radius_m: float = 1.2  #: [m] ... come within this distance of each other are anticipated
    replan_interval_s: float = 0.1  #: [s] how often people re-plan their avoidance (a reaction time)
    side_n: float = 300.0  #: [N] strength of the keep-right push between people coming opposite ways (0: off)
    side_b_m: float = 0.5  #: [m] range of the keep-right push

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise ValueError(f"SocialForceParams.{f.name} must be a finite number; got {v!r}")
            if f.name in ("anisotropy", "ttc_anisotropy"):
                if not 0.0 <= v <= 1.0:
                    raise ValueError(f"SocialForceParams.{f.name} must be within [0, 1]; got {v!r}")
            elif f.name in ("k_body", "kappa_friction", "a_n", "a_near_n", "a_wall_n", "weidmann_gamma_per_m2",
                            "perception_cone_power", "perception_exclusion_m", "perception_leave_weight", "ttc_k",
                            "side_n"):
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
    """Wall segments ``(M, 2, 2)`` [m] with a spatial index for the agent-wall pairs.

    A body feels the walls as one surface: where segments meet (a door edge, a pillar's
    corner, a wall split in pieces) the shared vertex pushes once, not once per segment.
    :meth:`nearest_points` drops a segment's contribution when its nearest point is a
    vertex it shares with a segment that is nearer inside (the body is beside that one) or
    that reaches the same vertex with a lower index.
    """

    def __init__(self, segments: np.ndarray, *, reach_m: float) -> None:
        self.segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2, 2)
        self.index = SegmentIndex(self.segments, reach_m=reach_m)
        self._a = self.segments[:, 0, :].copy()
        self._ab = self.segments[:, 1, :] - self._a
        self._len2 = np.einsum("ij,ij->i", self._ab, self._ab)
        self._partner, self._partner_end = self._shared_vertices(self.segments)

    @staticmethod
    def _shared_vertices(seg: np.ndarray, tol_m: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
        """``(partner, partner_end)`` ``(M, 2, K)``: for each segment end, the other segments
        having a vertex there (-1 pads) and which of their ends it is."""
        m = len(seg)
        if m == 0:
            return np.zeros((0, 2, 0), np.intp), np.zeros((0, 2, 0), np.intp)
        keys = np.round(seg.reshape(-1, 2) / tol_m).astype(np.int64)
        _, vertex = np.unique(keys, axis=0, return_inverse=True)
        vertex = vertex.reshape(-1)
        order = np.argsort(vertex, kind="stable")
        counts = np.bincount(vertex)
        k = int(counts.max()) - 1
        partner = np.full((m, 2, k), -1, np.intp)
        partner_end = np.zeros((m, 2, k), np.intp)
        if k == 0:
            return partner, partner_end
        starts = np.concatenate([[0], np.cumsum(counts)])
        for v in np.flatnonzero(counts > 1):
            ends = order[starts[v]:starts[v + 1]]  # flat indices 2 * segment + end
            for e in ends:
                others = [o for o in ends if o // 2 != e // 2]
                partner[e // 2, e % 2, :len(others)] = [o // 2 for o in others]
                partner_end[e // 2, e % 2, :len(others)] = [o % 2 for o in others]
        return partner, partner_end

    def __len__(self) -> int:
        return len(self.segments)

    def _projection(self, pos: np.ndarray, si: np.ndarray) -> np.ndarray:
        """Unclamped parameter ``u`` of the projection of ``pos[k]`` on segment ``si[k]``."""
        a = self._a[si]
        ab = self._ab[si]
        len2 = self._len2[si]
        dot = (pos[:, 0] - a[:, 0]) * ab[:, 0] + (pos[:, 1] - a[:, 1]) * ab[:, 1]
        return np.divide(dot, len2, out=np.full(len(si), 0.5), where=len2 > 0)

    def nearest_points(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Candidate ``(agent_index, offset (P, 2), distance (P,))``: ``offset`` points from
        the nearest point of each candidate wall to the agent; a vertex shared by several
        segments appears once per agent."""
        ai, si = self.index.candidate_pairs(pos)
        if len(ai) == 0:
            return ai, np.zeros((0, 2)), np.zeros(0)
        p = pos[ai]
        u = self._projection(p, si)
        at_end = np.where(u <= 0.0, 0, np.where(u >= 1.0, 1, -1))
        if self._partner.shape[2]:
            drop = np.zeros(len(ai), bool)
            ends = np.flatnonzero(at_end >= 0)
            e = at_end[ends]
            for k in range(self._partner.shape[2]):
                part = self._partner[si[ends], e, k]
                has = part >= 0
                if not has.any():
                    continue
                idx = ends[has]
                part = part[has]
                up = self._projection(p[idx], part)
                pend = self._partner_end[si[idx], at_end[idx], k]
                inside = (up > 0.0) & (up < 1.0)
                same_vertex = np.where(pend == 0, up <= 0.0, up >= 1.0)
                drop[idx] |= inside | (same_vertex & (part < si[idx]))
            if drop.any():
                keep = ~drop
                ai, si, p, u = ai[keep], si[keep], p[keep], u[keep]
        np.minimum(np.maximum(u, 0.0, out=u), 1.0, out=u)
        a = self._a[si]
        ab = self._ab[si]
        off = np.empty((len(ai), 2))
        off[:, 0] = p[:, 0] - a[:, 0] - u * ab[:, 0]
        off[:, 1] = p[:, 1] - a[:, 1] - u * ab[:, 1]
        return ai, off, np.hypot(off[:, 0], off[:, 1])


def _contact_limits(params: SocialForceParams, dt: float) -> tuple[float, float]:
    m = params.mass_kg
    return min(params.k_body, m / (4.0 * dt * dt)), m / (4.0 * dt)


def _pairs_within(pos: np.ndarray, r_m: float, period_x_m: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays ``(i, j)``, ``i < j``, of the points closer than ``r_m`` (x periodic with
    ``period_x_m`` when given)."""
    if len(pos) < 2:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    if period_x_m is None:
        tree = cKDTree(pos, leafsize=16, compact_nodes=False, balanced_tree=False)
    else:
        # y is not periodic: shift it into a box far larger than any station
        x = np.minimum(np.mod(pos[:, 0], period_x_m), np.nextafter(period_x_m, 0.0))
        wrapped = np.column_stack([x, pos[:, 1] + 1e4])
        tree = cKDTree(wrapped, leafsize=16, compact_nodes=False, balanced_tree=False, boxsize=[period_x_m, 4e4])
    pairs = tree.query_pairs(r_m, output_type="ndarray")
    if len(pairs) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    return np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])


class Neighbours:
    """The pairs ``i < j`` of agents closer than a cut-off, with their geometry.

    ``dx, dy, d`` [m] are the components and length of ``x_i - x_j`` (the shortest image
    across the period when x is periodic); ``nx, ny`` the unit vector ``n_ij`` from ``j`` to
    ``i``. One instance serves the perceived density and the pair forces of a step.
    """

    __slots__ = ("n", "i", "j", "dx", "dy", "d", "nx", "ny", "_dirs_of", "_dirs", "_dots")

    def __init__(self, pos: np.ndarray, cutoff_m: float, period_x_m: float | None = None) -> None:
        n = len(pos)
        self.n = n
        i, j = _pairs_within(pos, cutoff_m, period_x_m)
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
        self._dirs_of = None
        self._dirs = None
        self._dots = None

    def __len__(self) -> int:
        return len(self.i)

    def directions(self, desired_dir: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(e_i.x, e_i.y, e_j.x, e_j.y)`` per pair (gathered once per ``desired_dir`` array)."""
        if self._dirs_of is not desired_dir:
            ex = desired_dir[:, 0]
            ey = desired_dir[:, 1]
            self._dirs = (ex.take(self.i), ey.take(self.i), ex.take(self.j), ey.take(self.j))
            self._dirs_of, self._dots = desired_dir, None
        return self._dirs

    def heading_dots(self, desired_dir: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(e_i . n_ij, e_j . n_ij)`` per pair (computed once per ``desired_dir`` array)."""
        exi, eyi, exj, eyj = self.directions(desired_dir)
        if self._dots is None:
            di = exi * self.nx
            di += eyi * self.ny
            dj = exj * self.nx
            dj += eyj * self.ny
            self._dots = (di, dj)
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


def perceived_density(nb: Neighbours, desired_dir: np.ndarray, params: SocialForceParams,
                      vel: np.ndarray | None = None, walk_speed: np.ndarray | None = None) -> np.ndarray:
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
    if vel is not None and params.perception_leave_weight > 0:
        # someone ahead who walks away faster than oneself frees the space: counts less
        exi, eyi, exj, eyj = nb.directions(desired_dir)
        dvx = vel[:, 0].take(nb.j) - vel[:, 0].take(nb.i)
        dvy = vel[:, 1].take(nb.j) - vel[:, 1].take(nb.i)
        lw = params.perception_leave_weight
        away_i = (exi * dvx + eyi * dvy) * (lw / walk_speed.take(nb.i))  # j moves ahead of i
        away_j = (exj * dvx + eyj * dvy) * (-lw / walk_speed.take(nb.j))
        ci *= np.clip(1.0 - away_i, 0.0, 1.0)
        cj *= np.clip(1.0 - away_j, 0.0, 1.0)
    return np.bincount(nb.i, weights=ci, minlength=n) + np.bincount(nb.j, weights=cj, minlength=n)


def time_to_collision(dx, dy, dvx, dvy, contact_m) -> np.ndarray:
    """[s] Time until two discs touch if both keep their velocities (``inf`` if never).

    ``dx, dy`` [m] the offset ``x_i - x_j``, ``dvx, dvy`` [m/s] the relative velocity
    ``v_i - v_j``, ``contact_m`` [m] the distance of contact (the sum of the radii); all
    arrays of one length (``contact_m`` may be a scalar). Pairs already in contact get 0.
    ``tau`` is the smaller root of ``|x + v t| = contact`` (Karamouzas, Skinner & Guy 2014).
    """
    a = dvx * dvx + dvy * dvy
    b = dx * dvx + dy * dvy
    c = dx * dx + dy * dy - contact_m * contact_m
    disc = b * b - a * c
    tau = np.full(np.shape(a), np.inf)
    ok = (b < 0) & (disc > 0) & (a > 1e-12)
    tau[ok] = c[ok] / (-b[ok] + np.sqrt(disc[ok]))  # the smaller root, without cancellation
    tau[c <= 0] = 0.0
    return tau


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
    di, dj = nb.heading_dots(desired_dir)
    if params.force_range_m < params.cutoff_m:
        k = np.flatnonzero(d < params.force_range_m)
        i, j, d, nx, ny, di, dj = i[k], j[k], d[k], nx[k], ny[k], di[k], dj[k]
    overlap = radius.take(i) + radius.take(j) - d
    rep = np.exp(overlap * (1.0 / params.b_m))
    rep *= params.a_n
    # anisotropy w = lambda + (1 - lambda)(1 + cos phi) / 2, with cos phi_i = -e_i . n_ij
    # for i and cos phi_j = e_j . n_ij for j
    lam = params.anisotropy
    c0 = lam + 0.5 * (1.0 - lam)
    c1 = 0.5 * (1.0 - lam)
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


def _far_pairs(pos, vel, params: SocialForceParams, period_x_m: float | None):
    """``(i, j, dx, dy, d)`` of the agents farther apart than the cut-off (and nearer than
    ``ttc_range_m``) whose positions extrapolated ``ttc_lookahead_s`` ahead come within
    ``ttc_lookahead_radius_m``: the people who will meet soon. One KD-tree query on the
    extrapolated positions finds them without listing everyone within several metres."""
    i, j = _pairs_within(pos + vel * params.ttc_lookahead_s, params.ttc_lookahead_radius_m, period_x_m)
    dx = pos[:, 0].take(i) - pos[:, 0].take(j)
    if period_x_m is not None:
        dx -= period_x_m * np.round(dx / period_x_m)
    dy = pos[:, 1].take(i) - pos[:, 1].take(j)
    d = np.hypot(dx, dy)
    far = np.flatnonzero((d >= params.cutoff_m) & (d < params.ttc_range_m))
    return i[far], j[far], dx[far], dy[far], d[far]


def _ttc_accelerations(i, j, dx, dy, d, di, dj, pos_vel, desired_dir, radius, params: SocialForceParams):
    """``(agents, ax, ay)``: the time-to-collision accelerations [m/s²] of the pairs on a
    collision course, each pair's two agents listed once each (see
    :func:`avoidance_velocity`); ``di, dj`` are ``e_i . n_ij`` and ``e_j . n_ij``."""
    vx, vy = pos_vel
    dvx = vx.take(i) - vx.take(j)
    dvy = vy.take(i) - vy.take(j)
    b = dx * dvx + dy * dvy
    k = np.flatnonzero(b < 0)  # approaching
    i, j, dx, dy, d, dvx, dvy, b = i[k], j[k], dx[k], dy[k], d[k], dvx[k], dvy[k], b[k]
    di, dj = di[k], dj[k]
    rsum = radius.take(i) + radius.take(j)
    a = dvx * dvx + dvy * dvy
    c = d * d - rsum * rsum
    disc = b * b - a * c
    k = np.flatnonzero((disc > 0) & (c > 0) & (a > 1e-6))  # will touch, not touching yet
    i, j, dx, dy, dvx, dvy, a, b, c, disc = (x[k] for x in (i, j, dx, dy, dvx, dvy, a, b, c, disc))
    di, dj = di[k], dj[k]
    sq = np.sqrt(disc)
    tau = c / (-b + sq)
    t0 = params.ttc_tau0_s
    mag = params.ttc_k * np.exp(-tau / t0) / (a * tau * tau) * (2.0 / tau + 1.0 / t0)
    gx = dvx - (a * dx - b * dvx) / sq
    gy = dvy - (a * dy - b * dvy) / sq
    mag *= np.minimum(1.0, params.ttc_max_accel / np.maximum(mag * np.hypot(gx, gy), 1e-12))
    # within a stream (same desired direction) the density limit sets the speed: the
    # anticipation weighs (1 - e_i.e_j) / 2, 1 against someone coming the other way
    ex, ey = desired_dir[:, 0], desired_dir[:, 1]
    mag *= 0.5 * (1.0 - (ex.take(i) * ex.take(j) + ey.take(i) * ey.take(j)))
    lam = params.ttc_anisotropy
    wi = -mag * (lam + (1.0 - lam) * 0.5 * (1.0 - di))
    wj = mag * (lam + (1.0 - lam) * 0.5 * (1.0 + dj))
    return np.concatenate([i, j]), np.concatenate([wi * gx, wj * gx]), np.concatenate([wi * gy, wj * gy])


def _keep_right_accelerations(i, j, d, di, dj, desired_dir, radius, params: SocialForceParams):
    """``(agents, ax, ay)``: the keep-right accelerations [m/s²] of the pairs that face each
    other and want to go opposite ways (see :func:`avoidance_velocity`)."""
    k = np.flatnonzero((di < 0) & (dj > 0))  # each is ahead of the other
    i, j, d, di, dj = i[k], j[k], d[k], di[k], dj[k]
    ex, ey = desired_dir[:, 0], desired_dir[:, 1]
    exi, eyi, exj, eyj = ex.take(i), ey.take(i), ex.take(j), ey.take(j)
    opp = -(exi * exj + eyi * eyj)
    side = np.exp((radius.take(i) + radius.take(j) - d) * (1.0 / params.side_b_m))
    side *= np.maximum(opp, 0.0) * (params.side_n / params.mass_kg)
    si = side * -di
    sj = side * dj
    # to one's right: (e_y, -e_x)
    return np.concatenate([i, j]), np.concatenate([si * eyi, sj * eyj]), np.concatenate([-si * exi, -sj * exj])


def avoidance_velocity(pos, vel, desired_dir, radius, params: SocialForceParams, near: Neighbours,
                       period_x_m: float | None = None) -> np.ndarray:
    """[m/s] ``(N, 2)`` the change of each agent's desired velocity by anticipation.

    Two terms, summed as accelerations ``a_i`` over the neighbours within the cut-off
    (``near``) and the people farther away who will meet soon (:func:`_far_pairs`), and
    turned into the velocity ``tau a_i`` the driving term then relaxes to:

    * the time-to-collision interaction of Karamouzas, Skinner & Guy (2014): with
      ``x = x_i - x_j``, ``v = v_i - v_j``, ``R = r_i + r_j`` and ``tau`` the time until the
      two discs touch at constant velocities, the energy ``E = k tau^-2 exp(-tau / tau_0)``
      gives ``a_i = -grad_x E = -(k exp(-tau/tau_0) / (|v|² tau²)) (2/tau + 1/tau_0)
      [v - (|v|² x - (x.v) v) / sqrt((x.v)² - |v|² (|x|² - R²))]``, capped at
      ``ttc_max_accel`` per pair and weighted by the field of view (someone behind counts
      ``ttc_anisotropy``); ``a_j`` is the opposite, weighted by j's view;
    * keep right: two people within the cut-off who face each other and want to go
      opposite ways push each other to their own right,
      ``side_n / m exp((R - d) / side_b_m) max(0, -e_i.e_j) cos phi``. Walkers who meet head
      on in a crowd otherwise block each other, and lanes do not form; people in France
      and Germany pass on the right (Moussaïd et al. 2009).
    """
    n = len(pos)
    out = np.zeros((n, 2))
    if n < 2 or len(near) == 0 and params.ttc_k <= 0:
        return out
    di, dj = near.heading_dots(desired_dir)
    parts = []
    if params.ttc_k > 0:
        vv = (vel[:, 0], vel[:, 1])
        parts.append(_ttc_accelerations(near.i, near.j, near.dx, near.dy, near.d, di, dj, vv, desired_dir, radius,
                                        params))
        fi, fj, fdx, fdy, fd = _far_pairs(pos, vel, params, period_x_m)
        if len(fi):
            ex, ey = desired_dir[:, 0], desired_dir[:, 1]
            fnx, fny = fdx / fd, fdy / fd
            fdi = ex.take(fi) * fnx + ey.take(fi) * fny
            fdj = ex.take(fj) * fnx + ey.take(fj) * fny
            parts.append(_ttc_accelerations(fi, fj, fdx, fdy, fd, fdi, fdj, vv, desired_dir, radius, params))
    if params.side_n > 0 and len(near):
        parts.append(_keep_right_accelerations(near.i, near.j, near.d, di, dj, desired_dir, radius, params))
    if not parts:
        return out
    who = np.concatenate([p[0] for p in parts])
    out[:, 0] = np.bincount(who, weights=np.concatenate([p[1] for p in parts]), minlength=n)
    out[:, 1] = np.bincount(who, weights=np.concatenate([p[2] for p in parts]), minlength=n)
    out *= params.tau_s
    return out


def replan_due(step: int, dt: float, params: SocialForceParams) -> bool:
    """Whether step number ``step`` (0, 1, ...) re-plans the avoidance (every
    ``replan_interval_s``, rounded to whole steps of ``dt``)."""
    return step % max(int(round(params.replan_interval_s / dt)), 1) == 0


def wall_forces(pos, vel, radius, walls: Walls, params: SocialForceParams, dt: float, out: np.ndarray,
                desired_dir: np.ndarray | None = None) -> None:
    """Add the wall and obstacle forces [N] on the agents at ``pos`` to ``out``.

    With ``desired_dir`` (e_i), a wall point that a body walking straight along ``e_i``
    would pass clear of (the edge of a door it walks through) steers it but does not brake
    it: the part of the repulsion against ``e_i`` is dropped. A wall it would touch brakes
    it as well. Without this the two edges of a door 0.7 m wide push a person back harder
    than a slow walker's drive, and it stands in front of the empty door for good.
    """
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
    if desired_dir is not None:
        ex = desired_dir[ai, 0]
        ey = desired_dir[ai, 1]
        ahead = -(off[:, 0] * ex + off[:, 1] * ey)  # distance along e_i to the closest approach
        miss = np.abs(off[:, 0] * ey - off[:, 1] * ex)  # how far the wall point stays from the path
        brake = fx * ex + fy * ey
        passing = np.flatnonzero((ahead > 0) & (miss > radius[ai]) & (brake < 0))
        if len(passing):
            fx[passing] -= brake[passing] * ex[passing]
            fy[passing] -= brake[passing] * ey[passing]
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
    avoid_vel: np.ndarray | None = None,
    replan: bool = True,
) -> int:
    """Advance ``pos`` and ``vel`` (``(N, 2)``, updated in place) by one step of ``dt`` [s].

    ``desired_dir`` ``(N, 2)`` unit vectors (e_i), ``desired_speed`` ``(N,)`` [m/s] the speed
    wanted now (0 to stand), ``walk_speed`` ``(N,)`` [m/s] each person's free walking speed
    (v0, which sets the speed limit), ``radius`` ``(N,)`` [m]. Agents flagged in
    ``alt_mask`` feel ``alt_walls`` instead of ``walls`` (a person stepping off a platform
    edge). ``period_x_m`` makes x periodic (calibration corridors). ``avoid_vel`` ``(N, 2)``
    [m/s] holds each agent's planned avoidance (:func:`avoidance_velocity`), added to its
    desired velocity; it is recomputed in place when ``replan`` is true (every
    ``replan_interval_s``: see :func:`replan_due`) and kept otherwise. Without it the
    avoidance is planned afresh every step. Returns the number of neighbour pairs within
    the cut-off.
    """
    n = len(pos)
    if n == 0:
        return 0
    m = params.mass_kg
    nb = Neighbours(pos, params.cutoff_m, period_x_m)
    factor = None
    if params.weidmann_gamma_per_m2 > 0:
        factor = density_speed_factor(perceived_density(nb, desired_dir, params, vel, walk_speed), params)
    if avoid_vel is None:
        avoid_vel = avoidance_velocity(pos, vel, desired_dir, radius, params, nb, period_x_m)
    elif replan:
        avoid_vel[:] = avoidance_velocity(pos, vel, desired_dir, radius, params, nb, period_x_m)
    force = np.empty((n, 2))
    force[:, 0] = (desired_speed * desired_dir[:, 0] + avoid_vel[:, 0] - vel[:, 0]) * (m / params.tau_s)
    force[:, 1] = (desired_speed * desired_dir[:, 1] + avoid_vel[:, 1] - vel[:, 1]) * (m / params.tau_s)
    n_pairs = pair_forces(pos, vel, desired_dir, radius, params, dt, force, neighbours=nb)
    if alt_mask is not None and alt_walls is not None and alt_mask.any():
        normal = np.nonzero(~alt_mask)[0]
        alt = np.nonzero(alt_mask)[0]
        for sel, w in ((normal, walls), (alt, alt_walls)):
            sub = np.zeros((len(sel), 2))
            wall_forces(pos[sel], vel[sel], radius[sel], w, params, dt, sub, desired_dir[sel])
            force[sel] += sub
    else:
        wall_forces(pos, vel, radius, walls, params, dt, force, desired_dir)
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
