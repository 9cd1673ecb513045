"""The peer of the crowd benchmark: the same social force model written agent by agent.

This is what a Mesa user would naturally write: each :class:`NaivePedestrian` asks the
``ContinuousSpace`` for its neighbours within the cut-off, loops over them in Python to sum
the forces of :mod:`sim.world.social_force` (driving term, anisotropic exponential repulsion, body
compression, sliding friction, walls) and the density it perceives ahead (which limits its
speed), and the model updates synchronously (every agent computes its new velocity, then
every agent moves). One step from the same state matches :func:`sim.world.social_force.motion_step` to
1e-15 m/s. The desired direction comes from the same floor field as in
:class:`sim.world.model.StationModel`, sampled bilinearly per agent in plain Python.

It is a benchmark peer, not part of the simulation: it has no arrivals, exits or
behaviours, only the per-step motion of a fixed crowd.
"""

from __future__ import annotations

import math

import mesa
import numpy as np
from mesa.space import ContinuousSpace

from sim.world.social_force import SocialForceParams


def _nearest_on_segment(px, py, ax, ay, bx, by):
    abx, aby = bx - ax, by - ay
    len2 = abx * abx + aby * aby
    u = 0.0 if len2 == 0 else max(0.0, min(1.0, ((px - ax) * abx + (py - ay) * aby) / len2))
    return ax + u * abx, ay + u * aby


class NaivePedestrian(mesa.Agent):
    def __init__(self, model: "NaiveCrowdModel", pos, vel, v0, radius, target, field) -> None:
        super().__init__(model)
        self.field = field  # (direction (ny, nx, 2), grid origin (x, y) [m], cell size [m])
        self.vx, self.vy = float(vel[0]), float(vel[1])
        self.v0 = float(v0)
        self.radius = float(radius)
        self.target = target  # (ax, ay, bx, by) exit segment
        self.ex, self.ey = 1.0, 0.0
        self.next_v = (self.vx, self.vy)
        self._start = (float(pos[0]), float(pos[1]))

    def desired_direction(self):
        """Bilinear sample of the floor field's unit directions at the agent, renormalised."""
        x, y = self.pos
        dirs, (ox, oy), cell = self.field
        ny, nx = dirs.shape[0], dirs.shape[1]
        fx = (x - ox) / cell - 0.5
        fy = (y - oy) / cell - 0.5
        ix = min(max(int(math.floor(fx)), 0), nx - 2)
        iy = min(max(int(math.floor(fy)), 0), ny - 2)
        wx = min(max(fx - ix, 0.0), 1.0)
        wy = min(max(fy - iy, 0.0), 1.0)
        ex = ey = 0.0
        for jy, jx, w in ((iy, ix, (1 - wy) * (1 - wx)), (iy, ix + 1, (1 - wy) * wx),
                          (iy + 1, ix, wy * (1 - wx)), (iy + 1, ix + 1, wy * wx)):
            ex += w * float(dirs[jy, jx, 0])
            ey += w * float(dirs[jy, jx, 1])
        d = math.hypot(ex, ey)
        if d > 1e-9:
            return ex / d, ey / d
        tx, ty = _nearest_on_segment(x, y, *self.target)
        d = math.hypot(tx - x, ty - y)
        return ((tx - x) / d, (ty - y) / d) if d > 1e-9 else (0.0, 0.0)

    def step(self) -> None:
        m = self.model
        p = m.params
        dt = m.dt
        x, y = self.pos
        ex, ey = self.desired_direction()
        self.ex, self.ey = ex, ey
        mass = p.mass_kg
        fx = (self.v0 * ex - self.vx) * mass / p.tau_s
        fy = (self.v0 * ey - self.vy) * mass / p.tau_s
        k_eff = min(p.k_body, mass / (4.0 * dt * dt))
        fric_cap = mass / (4.0 * dt)
        lam = p.anisotropy
        s2 = 2.0 * p.perception_sigma_m ** 2
        rho = 0.0  # density perceived ahead, before the kernel's normalisation
        for other in m.space.get_neighbors(self.pos, p.cutoff_m, include_center=False):
            ox, oy = other.pos
            dx, dy = x - ox, y - oy
            d = max(math.hypot(dx, dy), 1e-6)
            nx, ny = dx / d, dy / d
            overlap = self.radius + other.radius - d
            cos_phi = -(ex * nx + ey * ny)
            if cos_phi > 0.0 or p.perception_cone_power == 0:
                rho += max(cos_phi, 0.0) ** p.perception_cone_power * math.exp(-d * d / s2)
            w = lam + (1.0 - lam) * 0.5 * (1.0 + cos_phi)
            mag = p.a_n * math.exp(overlap / p.b_m) * w
            if p.a_near_n > 0:
                mag += p.a_near_n * math.exp(overlap / p.b_near_m)
            fx += mag * nx
            fy += mag * ny
            if overlap > 0:
                dvt = (other.vx - self.vx) * -ny + (other.vy - self.vy) * nx
                fric = min(p.kappa_friction * overlap, fric_cap) * dvt
                fx += k_eff * overlap * nx - fric * ny
                fy += k_eff * overlap * ny + fric * nx
        for ax, ay, bx, by in m.walls:
            cx, cy = _nearest_on_segment(x, y, ax, ay, bx, by)
            dx, dy = x - cx, y - cy
            d = math.hypot(dx, dy)
            if d >= p.wall_cutoff_m or d <= 1e-9:
                continue
            nx, ny = dx / d, dy / d
            overlap = self.radius - d
            mag = p.a_wall_n * math.exp(overlap / p.b_wall_m)
            fx += mag * nx
            fy += mag * ny
            if overlap > 0:
                tx, ty = -ny, nx
                vt = self.vx * tx + self.vy * ty
                fric = min(p.kappa_friction * overlap, fric_cap) * vt
                fx += k_eff * overlap * nx - fric * tx
                fy += k_eff * overlap * ny - fric * ty
        vx = self.vx + fx * dt / mass
        vy = self.vy + fy * dt / mass
        speed = math.hypot(vx, vy)
        vmax = p.max_speed_factor * self.v0
        if p.weidmann_gamma_per_m2 > 0:
            factor = 1.0
            if rho > 0.0:
                cone = p.perception_cone_power
                c_p = 1.0 if cone == 0 else (2.0 * math.sqrt(math.pi) * math.gamma(cone / 2 + 1)
                                             / math.gamma((cone + 1) / 2))
                ring = math.exp(-p.perception_exclusion_m ** 2 / s2) - math.exp(-p.cutoff_m ** 2 / s2)
                rho *= c_p / (math.pi * s2 * ring)
                inv = max(1.0 / rho - 1.0 / p.weidmann_rho_max_per_m2, 0.0)
                factor = 1.0 - math.exp(-p.weidmann_gamma_per_m2 * inv)
            vmax = min(vmax, self.v0 * factor)
        if speed > vmax:
            vx, vy = vx * vmax / speed, vy * vmax / speed
        self.next_v = (vx, vy)

    def advance(self) -> None:
        m = self.model
        self.vx, self.vy = self.next_v
        x, y = self.pos
        nx = min(max(x + self.vx * m.dt, 0.0), m.space.x_max - 1e-9)
        ny = min(max(y + self.vy * m.dt, 0.0), m.space.y_max - 1e-9)
        m.space.move_agent(self, (nx, ny))


class NaiveCrowdModel(mesa.Model):
    """A fixed crowd in a rectangular hall ``width`` x ``height`` [m], stepped agent by agent."""

    def __init__(self, *, pos, vel, v0, radius, targets, fields, walls, width, height, dt=0.05,
                 params: SocialForceParams | None = None, seed: int = 0) -> None:
        """``targets[i]`` is agent i's exit segment ``(ax, ay, bx, by)`` [m] and ``fields[i]``
        its floor field as ``(direction (ny, nx, 2), origin (x, y) [m], cell size [m])``."""
        super().__init__(seed=seed)
        self.dt = float(dt)
        self.params = params or SocialForceParams()
        self.walls = [tuple(float(v) for v in np.ravel(w)) for w in walls]
        self.space = ContinuousSpace(width, height, torus=False)
        for i in range(len(pos)):
            a = NaivePedestrian(self, pos[i], vel[i], v0[i], radius[i],
                                tuple(float(v) for v in np.ravel(targets[i])), fields[i])
            self.space.place_agent(a, a._start)

    def step(self) -> None:
        self.agents.do("step")
        self.agents.do("advance")
