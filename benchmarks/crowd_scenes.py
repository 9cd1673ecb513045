"""The scenes of the realism benchmark, run with our model (JuPedSim's runs are in
:mod:`jupedsim_peer`); each starts from a crowd both simulators share (:class:`Crowd`).

* periodic corridor and ring corridor (the fundamental diagram);
* counterflow in the periodic corridor, from a random mix or from two lanes;
* the bottleneck of Seyfried et al. (2009) at any width, and one person alone at a door;
* two flows crossing at right angles (time to collision, avoidance, overlap).

Everything here steps :func:`sim.world.social_force.motion_step` directly through :class:`Stepper`,
which holds the planned avoidance between re-plans as the station model does, at
``dt =`` :data:`DT_S`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import jupedsim_peer as peer
from crowd_metrics import Frames
from sim.world.social_force import Neighbours, SocialForceParams, Walls, motion_step, replan_due
from sim.world.floorfield import FieldBank, NavGrid
from sim.geometry import polygon_edges, wall_segments

CORRIDOR_M = (20.0, 4.0)  #: [m] length (periodic) and width of the corridor
RING_M = (6.0, 10.0)  #: [m] inner and outer radius of the ring corridor
DT_S = 0.05


class Stepper:
    """One call of :func:`sim.world.social_force.motion_step` per step, with the agents' planned avoidance
    held between re-plans (every ``params.replan_interval_s``), as in the station model.
    Who is stepped may change between calls: :meth:`keep` and :meth:`append` follow it."""

    def __init__(self, params: SocialForceParams, walls: Walls, *, dt: float = DT_S,
                 period_x_m: float | None = None) -> None:
        self.params, self.walls, self.dt, self.period_x_m = params, walls, dt, period_x_m
        self.step_index = 0
        self.avoid = np.zeros((0, 2))

    def __call__(self, pos: np.ndarray, vel: np.ndarray, e: np.ndarray, v0: np.ndarray, radius: np.ndarray) -> None:
        if len(self.avoid) != len(pos):
            self.avoid = np.zeros((len(pos), 2))
        motion_step(pos=pos, vel=vel, desired_dir=e, desired_speed=v0, walk_speed=v0, radius=radius,
                    walls=self.walls, dt=self.dt, params=self.params, period_x_m=self.period_x_m,
                    avoid_vel=self.avoid, replan=replan_due(self.step_index, self.dt, self.params))
        self.step_index += 1

    def keep(self, mask: np.ndarray) -> None:
        self.avoid = self.avoid[mask]

    def append(self, count: int = 1) -> None:
        self.avoid = np.vstack([self.avoid, np.zeros((count, 2))])


@dataclass
class Crowd:
    """Start state shared by both simulators: positions [m], desired speeds [m/s], radii [m]."""

    pos: np.ndarray
    v0: np.ndarray
    radius: np.ndarray


def _bodies(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.clip(rng.normal(1.34, 0.26, n), 0.5, 2.1), rng.uniform(0.2, 0.26, n)


def corridor_crowd(rho: float, seed: int, length_m: float = CORRIDOR_M[0], width_m: float = CORRIDOR_M[1]) -> Crowd:
    """``rho * length * width`` people on a jittered grid filling the corridor."""
    rng = np.random.default_rng(seed)
    n = int(round(rho * length_m * width_m))
    nx = int(np.ceil(np.sqrt(n * length_m / width_m)))
    ny = int(np.ceil(n / nx))
    gx, gy = np.meshgrid((np.arange(nx) + 0.5) * length_m / nx, (np.arange(ny) + 0.5) * width_m / ny)
    pos = np.stack([gx.ravel(), gy.ravel()], axis=1)[:n] + rng.normal(0.0, 0.01, (n, 2))
    v0, radius = _bodies(rng, n)
    return Crowd(pos, v0, radius)


def ring_crowd(rho: float, seed: int, r_inner_m: float = RING_M[0], r_outer_m: float = RING_M[1]) -> Crowd:
    """``rho`` times the ring's area people on concentric rows, evenly spaced along each row."""
    rng = np.random.default_rng(seed)
    width = r_outer_m - r_inner_m
    n = int(round(rho * math.pi * (r_outer_m ** 2 - r_inner_m ** 2)))
    rows = max(int(round(width * math.sqrt(rho))), 1)
    radii = r_inner_m + (np.arange(rows) + 0.5) * width / rows
    share = radii / radii.sum()
    counts = np.floor(share * n).astype(int)
    counts[: n - counts.sum()] += 1
    pts = []
    for r, c in zip(radii, counts):
        a = (np.arange(c) + rng.uniform()) * 2.0 * np.pi / c
        pts.append(np.stack([r * np.cos(a), r * np.sin(a)], axis=1))
    pos = np.concatenate(pts) + rng.normal(0.0, 0.01, (n, 2))
    v0, radius = _bodies(rng, n)
    return Crowd(pos, v0, radius)


def corridor_walls(params: SocialForceParams, length_m: float, width_m: float) -> Walls:
    """The two long walls of the periodic corridor (1 m longer than its period at each end)."""
    return Walls(np.array([[[-1.0, 0.0], [length_m + 1.0, 0.0]], [[-1.0, width_m], [length_m + 1.0, width_m]]]),
                 reach_m=params.wall_cutoff_m)


def corridor_speed(params: SocialForceParams, crowd: Crowd, *, seconds: float, measure_s: float,
                   length_m: float = CORRIDOR_M[0], width_m: float = CORRIDOR_M[1], dt: float = DT_S) -> float:
    """[m/s] Our mean x speed in the periodic corridor over the last ``measure_s`` seconds."""
    step = Stepper(params, corridor_walls(params, length_m, width_m), dt=dt, period_x_m=length_m)
    pos = crowd.pos.copy()
    vel = np.zeros_like(pos)
    e = np.tile([1.0, 0.0], (len(pos), 1))
    samples = []
    steps = int(round(seconds / dt))
    for k in range(steps):
        step(pos, vel, e, crowd.v0, crowd.radius)
        pos[:, 0] = np.mod(pos[:, 0], length_m)
        if (k + 1) * dt > seconds - measure_s:
            samples.append(vel[:, 0].mean())
    return float(np.mean(samples))


def ring_speed_ours(params: SocialForceParams, crowd: Crowd, *, seconds: float, measure_s: float,
                    r_inner_m: float = RING_M[0], r_outer_m: float = RING_M[1], dt: float = DT_S) -> float:
    """[m/s] Our mean tangential speed on the ring corridor (walls: the two polygons)."""
    outer, inner = peer.ring_polygon(r_inner_m, r_outer_m)
    step = Stepper(params, Walls(np.concatenate([polygon_edges(outer), polygon_edges(inner)]),
                                 reach_m=params.wall_cutoff_m), dt=dt)
    pos = crowd.pos.copy()
    vel = np.zeros_like(pos)
    samples = []
    steps = int(round(seconds / dt))
    for k in range(steps):
        r = np.hypot(pos[:, 0], pos[:, 1])
        e = np.stack([-pos[:, 1] / r, pos[:, 0] / r], axis=1)
        step(pos, vel, e, crowd.v0, crowd.radius)
        if (k + 1) * dt > seconds - measure_s:
            samples.append(float(np.mean(vel[:, 0] * e[:, 0] + vel[:, 1] * e[:, 1])))
    return float(np.mean(samples))


# --- bottleneck ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bottleneck:
    """A waiting room (x -6..0, y -4..4), a ``width`` x ``length`` bottleneck from x = 0, and an
    exit room 5 m deep whose far wall is the exit."""

    width_m: float = 1.0
    length_m: float = 2.8

    @property
    def walkable(self) -> np.ndarray:
        h, ln = self.width_m / 2, self.length_m
        return np.array([(-6, -4), (0, -4), (0, -h), (ln, -h), (ln, -4), (ln + 5, -4), (ln + 5, 4), (ln, 4),
                         (ln, h), (0, h), (0, 4), (-6, 4)], dtype=np.float64)

    @property
    def exit_segment(self) -> np.ndarray:
        return np.array([[self.length_m + 5, -4], [self.length_m + 5, 4]], dtype=np.float64)

    @property
    def exit_polygon(self) -> np.ndarray:
        x = self.length_m + 5
        return np.array([(x - 0.5, -4), (x, -4), (x, 4), (x - 0.5, 4)], dtype=np.float64)

    @property
    def line_x_m(self) -> float:
        """[m] the measurement line: the middle of the bottleneck."""
        return self.length_m / 2


def bottleneck_crowd(n: int, seed: int) -> Crowd:
    """``n`` people on a random subset of a 9 x 13 lattice (0.58 m x 0.57 m) over the waiting
    room, jittered by up to 2 cm: no two bodies touch (random sequential placement jams at
    these densities)."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.linspace(-5.7, -0.5, 9), np.linspace(-3.7, 3.7, 13))
    lattice = np.stack([gx.ravel(), gy.ravel()], axis=1)
    if n > len(lattice):
        raise ValueError(f"bottleneck_crowd: n must be <= {len(lattice)}; got {n}")
    pos = lattice[np.sort(rng.choice(len(lattice), size=n, replace=False))]
    pos = pos + rng.uniform(-0.02, 0.02, pos.shape)
    v0, radius = _bodies(rng, n)
    return Crowd(pos, v0, radius)


def bottleneck_crossings_ours(params: SocialForceParams, crowd: Crowd, geo: Bottleneck, *, t_max_s: float = 150.0,
                              dt: float = DT_S) -> np.ndarray:
    """[s] Sorted times of our agents' first crossing of the bottleneck's middle line; they
    steer by the floor field of the exit (as in the station model) and leave near it."""
    walls = Walls(wall_segments(geo.walkable, openings=[geo.exit_segment]), reach_m=params.wall_cutoff_m)
    step = Stepper(params, walls, dt=dt)
    grid = NavGrid(geo.walkable)
    bank = FieldBank(grid)
    bank.add(grid.field_to_segment(*geo.exit_segment))
    pos, v0, radius = crowd.pos.copy(), crowd.v0.copy(), crowd.radius.copy()
    vel = np.zeros_like(pos)
    ids = np.arange(len(pos))
    crossed = np.full(len(pos), np.nan)
    t = 0.0
    leave_x = geo.exit_segment[0, 0] - 0.5
    while len(ids) and t < t_max_s:
        e = bank.sample(np.zeros(len(ids), np.int64), pos)
        before = pos[:, 0] < geo.line_x_m
        step(pos, vel, e, v0, radius)
        t += dt
        now = before & (pos[:, 0] >= geo.line_x_m)
        first = now & np.isnan(crossed[ids])
        crossed[ids[first]] = t
        keep = pos[:, 0] < leave_x
        pos, vel, v0, radius, ids = pos[keep], vel[keep], v0[keep], radius[keep], ids[keep]
        step.keep(keep)
    return np.sort(crossed[~np.isnan(crossed)])


def specific_flow(times: np.ndarray, width_m: float, skip: int = 10) -> float:
    """[persons/(m s)] Crossings between the ``skip``-th and the ``skip``-th last, per second
    and metre of width (the start-up and the last stragglers left out)."""
    a, b = skip, len(times) - 1 - skip
    if b <= a or times[b] <= times[a]:
        return float("nan")
    return (b - a) / (times[b] - times[a]) / width_m



# --- counterflow ---------------------------------------------------------------------------------


@dataclass
class FlowRecord:
    """A counterflow run sampled every ``sample_s``: ``along`` ``(T, N)`` [m] the unwrapped
    distance each person walked along its own direction, ``lateral`` ``(T, N)`` [m] its
    coordinate across the corridor, ``direction`` ``(N,)`` +1 or -1, ``overlap_m`` the
    deepest overlap of two bodies over the record."""

    sample_s: float
    along: np.ndarray
    lateral: np.ndarray
    direction: np.ndarray
    overlap_m: float


START_KINDS = ("mixed", "lanes", "one_way")


def counterflow_directions(crowd: Crowd, start: str, seed: int, lateral: np.ndarray) -> np.ndarray:
    """+1 / -1 per person: ``mixed`` half each way at random, ``lanes`` by side of the corridor
    (``lateral`` below its median walks +1), ``one_way`` all +1."""
    n = len(crowd.pos)
    if start == "one_way":
        return np.ones(n)
    if start == "lanes":
        return np.where(lateral < np.median(lateral), 1.0, -1.0)
    if start == "mixed":
        d = np.where(np.arange(n) < n // 2, 1.0, -1.0)
        return np.random.default_rng(seed + 7919).permutation(d)
    raise ValueError(f"start must be one of {START_KINDS}; got {start!r}")


def counterflow_ours(params: SocialForceParams, crowd: Crowd, direction: np.ndarray, *, seconds: float,
                     record_s: float, sample_s: float = 0.1, length_m: float = CORRIDOR_M[0],
                     width_m: float = CORRIDOR_M[1], dt: float = DT_S) -> FlowRecord:
    """Our counterflow in the periodic corridor, recorded over the last ``record_s``."""
    step = Stepper(params, corridor_walls(params, length_m, width_m), dt=dt, period_x_m=length_m)
    pos = crowd.pos.copy()
    vel = np.zeros_like(pos)
    e = np.zeros_like(pos)
    e[:, 0] = direction
    walked = np.zeros(len(pos))
    per = max(int(round(sample_s / dt)), 1)
    steps = int(round(seconds / dt))
    first = steps - int(round(record_s / dt))
    along, lateral, worst = [], [], 0.0
    for k in range(steps):
        step(pos, vel, e, crowd.v0, crowd.radius)
        pos[:, 0] = np.mod(pos[:, 0], length_m)
        walked += vel[:, 0] * direction * dt
        if k >= first and (k - first) % per == 0:
            along.append(walked.copy())
            lateral.append(pos[:, 1].copy())
            nb = Neighbours(pos, 1.0, period_x_m=length_m)
            if len(nb):
                worst = max(worst, float(np.max(crowd.radius[nb.i] + crowd.radius[nb.j] - nb.d)))
    return FlowRecord(per * dt, np.array(along), np.array(lateral), direction, max(worst, 0.0))


# --- crossing flows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Crossing:
    """Two corridors ``width_m`` wide crossing at right angles at the origin, each arm
    ``arm_m`` long from the centre: flow 0 walks +x from x = -arm, flow 1 walks +y from
    y = -arm; each arrives at ``rate_per_s`` (Poisson) and leaves 1 m before the far end."""

    width_m: float = 8.0
    arm_m: float = 14.0
    rate_per_s: float = 2.5

    @property
    def walkable(self) -> np.ndarray:
        h, a = self.width_m / 2, self.arm_m
        return np.array([(-a, -h), (-h, -h), (-h, -a), (h, -a), (h, -h), (a, -h), (a, h), (h, h), (h, a), (-h, a),
                         (-h, h), (-a, h)], dtype=np.float64)

    @property
    def openings(self) -> list[np.ndarray]:
        h, a = self.width_m / 2, self.arm_m
        return [np.array([[-a, -h], [-a, h]]), np.array([[a, -h], [a, h]]), np.array([[-h, -a], [h, -a]]),
                np.array([[-h, a], [h, a]])]

    def centre(self, pos: np.ndarray) -> np.ndarray:
        """Mask of the points in the square where the flows cross."""
        h = self.width_m / 2
        return (np.abs(pos[:, 0]) <= h) & (np.abs(pos[:, 1]) <= h)

    def region(self, pos: np.ndarray) -> np.ndarray:
        """Mask of the points within 8 m of the centre (the observed area)."""
        return (np.abs(pos[:, 0]) <= 8.0) & (np.abs(pos[:, 1]) <= 8.0)


@dataclass
class Arrivals:
    """Who arrives when, shared by both simulators: time [s], flow (0: +x, 1: +y), lateral
    position across the arm [m], desired speed [m/s], radius [m]."""

    t: np.ndarray
    flow: np.ndarray
    lateral: np.ndarray
    v0: np.ndarray
    radius: np.ndarray

    def start(self, k: int, geo: Crossing) -> np.ndarray:
        """[m] where arrival ``k`` steps in (0.3 m inside its arm's open end)."""
        a = geo.arm_m - 0.3
        return np.array([-a, self.lateral[k]]) if self.flow[k] == 0 else np.array([self.lateral[k], -a])

    def direction(self, k: int) -> np.ndarray:
        return np.array([1.0, 0.0]) if self.flow[k] == 0 else np.array([0.0, 1.0])


def crossing_arrivals(geo: Crossing, seconds: float, seed: int) -> Arrivals:
    rng = np.random.default_rng(seed)
    ts, flows = [], []
    for f in (0, 1):
        t = np.cumsum(rng.exponential(1.0 / geo.rate_per_s, int(geo.rate_per_s * seconds * 1.5) + 10))
        t = t[t < seconds]
        ts.append(t)
        flows.append(np.full(len(t), f))
    t = np.concatenate(ts)
    flow = np.concatenate(flows)
    order = np.argsort(t, kind="stable")
    t, flow = t[order], flow[order]
    n = len(t)
    v0, radius = _bodies(rng, n)
    lateral = rng.uniform(-geo.width_m / 2 + 0.4, geo.width_m / 2 - 0.4, n)
    return Arrivals(t, flow, lateral, v0, radius)


def _free(p: np.ndarray, r: float, pos: np.ndarray, radius: np.ndarray) -> bool:
    """Whether a body of radius ``r`` at ``p`` keeps 0.1 m from every body at ``pos``."""
    if len(pos) == 0:
        return True
    return bool(np.all(np.hypot(pos[:, 0] - p[0], pos[:, 1] - p[1]) > radius + r + 0.1))


def crossing_ours(params: SocialForceParams, geo: Crossing, arrivals: Arrivals, *, seconds: float,
                  sample_s: float = 0.1, dt: float = DT_S) -> Frames:
    """Our two crossing flows; every person walks along its flow's direction, steering every
    ``sample_s`` to the point JuPedSim's walkers steer to (:func:`jupedsim_peer.crossing_target`). A
    person steps in at its arrival time or, when its place is taken, as soon as it is free."""
    step = Stepper(params, Walls(wall_segments(geo.walkable, openings=geo.openings), reach_m=params.wall_cutoff_m),
                   dt=dt)
    frames = Frames(sample_s)
    pos = np.zeros((0, 2))
    vel = np.zeros((0, 2))
    e = np.zeros((0, 2))
    e_flow = np.zeros((0, 2))  # each one's flow direction; e steers toward peer.crossing_target
    ids = np.zeros(0, np.int64)
    waiting: list[int] = []
    nxt = 0
    per = max(int(round(sample_s / dt)), 1)
    for k in range(int(round(seconds / dt))):
        t = k * dt
        while nxt < len(arrivals.t) and arrivals.t[nxt] <= t:
            waiting.append(nxt)
            nxt += 1
        for a in list(waiting):
            p = arrivals.start(a, geo)
            if _free(p, arrivals.radius[a], pos, arrivals.radius[ids] if len(ids) else np.zeros(0)):
                waiting.remove(a)
                pos = np.vstack([pos, p])
                d = arrivals.direction(a)
                vel = np.vstack([vel, d * arrivals.v0[a]])
                e = np.vstack([e, d])
                e_flow = np.vstack([e_flow, d])
                step.append()
                ids = np.append(ids, a)
                frames.radius[a] = float(arrivals.radius[a])
                frames.v0[a] = float(arrivals.v0[a])
                frames.direction[a] = d
        if len(ids):
            if k % per == 0:
                to = peer.crossing_target(pos, e_flow, geo.arm_m, geo.width_m / 2) - pos
                e = to / np.hypot(to[:, 0], to[:, 1])[:, None]
            v0 = arrivals.v0[ids]
            step(pos, vel, e, v0, arrivals.radius[ids])
            keep = (pos[:, 0] < geo.arm_m - 1.0) & (pos[:, 1] < geo.arm_m - 1.0)
            pos, vel, e, e_flow, ids = pos[keep], vel[keep], e[keep], e_flow[keep], ids[keep]
            step.keep(keep)
        if k % per == 0:
            frames.add(ids, pos)
    return frames


# --- one person at a door ------------------------------------------------------------------------


def door_trials_ours(params: SocialForceParams, geo: Bottleneck, trials: int, seed: int, *,
                     t_max_s: float = 30.0, dt: float = DT_S) -> np.ndarray:
    """[s] For each of ``trials`` people, alone in the waiting room of ``geo``, the time it
    takes to cross the far end of the door (``inf`` if it has not after ``t_max_s``). Start
    points are uniform over the room (0.5 m from its walls); speeds and radii as everywhere."""
    walls = Walls(wall_segments(geo.walkable, openings=[geo.exit_segment]), reach_m=params.wall_cutoff_m)
    grid = NavGrid(geo.walkable)
    bank = FieldBank(grid)
    bank.add(grid.field_to_segment(*geo.exit_segment))
    starts, v0s, radii = door_starts(trials, seed)
    times = np.full(trials, np.inf)
    field = np.zeros(1, np.int64)
    for n in range(trials):
        pos = starts[n:n + 1].copy()
        vel = np.zeros((1, 2))
        v0 = v0s[n:n + 1]
        step = Stepper(params, walls, dt=dt)
        for k in range(int(round(t_max_s / dt))):
            e = bank.sample(field, pos)
            step(pos, vel, e, v0, radii[n:n + 1])
            if pos[0, 0] > geo.length_m:
                times[n] = (k + 1) * dt
                break
    return times


def door_starts(trials: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The start points [m], desired speeds [m/s] and radii [m] of :func:`door_trials_ours`."""
    rng = np.random.default_rng(seed)
    starts = rng.uniform((-5.5, -3.5), (-0.5, 3.5), (trials, 2))
    v0s, radii = _bodies(rng, trials)
    return starts, v0s, radii
