"""JuPedSim as the peer of the crowd benchmarks: the same corridor, bottleneck and hall.

JuPedSim (LGPL, C++ core with Python bindings) is an optional benchmark dependency. Its
wheel pulls a viewer (PySide6, vtk) of about 1.2 GB; the simulation needs only::

    pip install --no-deps jupedsim shapely deprecated wrapt

Every function here takes plain arrays (positions, desired speeds, radii) built by the
calling benchmark, so that both simulators start from the same crowd. Two of JuPedSim's
operational models are used with their published default parameters:

* ``"cfs"``: the collision-free speed model (Tordeux, Chraibi & Seyfried 2016),
  ``v = min(v0, max(0, (s - l) / T))`` with ``T`` = ``time_gap`` = 1 s and ``l`` = 2 r;
* ``"sfm"``: the social force model (Helbing, Farkas & Vicsek 2000), A = 2000 N,
  B = 0.08 m, tau = 0.5 s;
* ``"avm"``: the anticipation velocity model (Xu, Chraibi & Seyfried 2021), the collision-free
  speed model with an anticipation time of 1 s and a reaction time of 0.3 s.

Time steps: :data:`DT_S`. JuPedSim has no periodic boundary, so its fundamental diagram
is measured on a ring corridor (the usual way to get periodic conditions in experiments):
each agent is steered along the local tangent through a direct-steering stage, and the
mean tangential speed is recorded. Agent positions are read-only from Python; nothing here
moves an agent by hand. JuPedSim refuses to insert overlapping bodies, and a dense start
lattice has some: such bodies are inserted with shrunk radii (see :func:`ring_speed`).
Where JuPedSim stops a run (its social force model can push a body out of the walkable
area in a dense crowd) :class:`PeerFailure` is raised and the benchmark reports ``nan``.
"""

from __future__ import annotations

import importlib.util
import math
import time
from dataclasses import dataclass

import numpy as np

MODELS = ("cfs", "sfm", "avm")
#: [s] time step per model: JuPedSim's default 0.01 s for the social force model, whose
#: contact forces need it; the first-order collision-free speed model runs at the
#: testbed's 0.05 s (as in the speed benchmark)
DT_S = {"cfs": 0.05, "sfm": 0.01, "avm": 0.05}


class PeerFailure(RuntimeError):
    """JuPedSim stopped a run (e.g. an agent pushed out of the walkable area)."""


def available() -> bool:
    """Whether ``jupedsim`` (and ``shapely``) can be imported."""
    return importlib.util.find_spec("jupedsim") is not None and importlib.util.find_spec("shapely") is not None


def unavailable_note() -> str:
    return ("JuPedSim is not installed: the peer is skipped "
            "(pip install --no-deps jupedsim shapely deprecated wrapt)")


def _model(name: str):
    import jupedsim as jps

    if name == "cfs":
        return jps.CollisionFreeSpeedModel()
    if name == "sfm":
        return jps.SocialForceModel()
    if name == "avm":
        return jps.AnticipationVelocityModel()
    raise ValueError(f"model must be one of {MODELS}; got {name!r}")


def _agent_params(name: str, *, position, v0: float, radius: float, journey_id: int, stage_id: int):
    import jupedsim as jps

    pos = (float(position[0]), float(position[1]))
    if name == "cfs":
        return jps.CollisionFreeSpeedModelAgentParameters(
            position=pos, desired_speed=float(v0), radius=float(radius), journey_id=journey_id, stage_id=stage_id)
    if name == "avm":
        return jps.AnticipationVelocityModelAgentParameters(
            position=pos, desired_speed=float(v0), radius=float(radius), journey_id=journey_id, stage_id=stage_id)
    return jps.SocialForceModelAgentParameters(
        position=pos, desired_speed=float(v0), radius=float(radius), journey_id=journey_id, stage_id=stage_id)


def _version() -> str:
    import jupedsim as jps

    return str(jps.__version__)


# --- fundamental diagram on a ring corridor ----------------------------------------------------


def _insertion_radii(pos: np.ndarray, radius: np.ndarray, clearance_m: np.ndarray) -> np.ndarray:
    """[m] Radii no larger than ``radius`` with which no two bodies overlap and every body
    keeps ``clearance_m`` (its centre's distance to the walls) free."""
    from scipy.spatial import cKDTree

    if len(pos) < 2:
        return np.minimum(radius, 0.99 * clearance_m)
    d, _ = cKDTree(pos).query(pos, k=2)
    return np.minimum(np.minimum(radius, 0.49 * d[:, 1]), 0.99 * clearance_m)


RING_SEGMENTS = 64


def _ring_scale(segments: int) -> float:
    # vertices a little outside the circles, so that each polygon has the circle's area
    return math.sqrt(2.0 * math.pi / (segments * math.sin(2.0 * math.pi / segments)))


def ring_polygon(r_inner_m: float, r_outer_m: float, segments: int = RING_SEGMENTS):
    """``(outer (K, 2), inner (K, 2))`` vertices [m] of a ring corridor centred at the origin,
    each polygon with the area of its circle."""
    a = np.linspace(0.0, 2.0 * np.pi, segments, endpoint=False)
    ring = np.stack([np.cos(a), np.sin(a)], axis=1)
    k = _ring_scale(segments)
    return ring * (r_outer_m * k), ring * (r_inner_m * k)


def ring_clearance(pos: np.ndarray, r_inner_m: float, r_outer_m: float, segments: int = RING_SEGMENTS) -> np.ndarray:
    """[m] A lower bound of each point's distance to the walls of :func:`ring_polygon`."""
    k = _ring_scale(segments)
    r = np.hypot(pos[:, 0], pos[:, 1])
    return np.minimum(r - r_inner_m * k, r_outer_m * k * math.cos(math.pi / segments) - r)


def ring_speed(model: str, pos: np.ndarray, v0: np.ndarray, radius: np.ndarray, *, r_inner_m: float,
               r_outer_m: float, seconds: float, measure_s: float, dt: float | None = None,
               steer_every_s: float = 0.1) -> float:
    """[m/s] Mean tangential (counter-clockwise) speed in a ring corridor.

    ``pos`` ``(N, 2)`` [m] start positions inside the ring, ``v0`` [m/s] desired speeds,
    ``radius`` [m] body radii. Every ``steer_every_s`` each agent's target is set 1 m
    ahead along its tangent; the speed is averaged over agents and over the last
    ``measure_s`` seconds.
    """
    dt = DT_S[model] if dt is None else dt
    # JuPedSim refuses to insert an agent overlapping another or a wall, and a dense start
    # lattice has some: insert with shrunk radii, then give every agent its own radius. The
    # social force model keeps the shrunk ones: from overlaps its contact forces (k =
    # 120,000 kg/s²) throw agents through the wall at 4 persons/m².
    sim, _ = _ring_sim(model, pos, v0, radius, r_inner_m, r_outer_m, dt)
    per = max(int(round(steer_every_s / dt)), 1)
    updates = int(round(seconds / (per * dt)))
    first_measured = updates - int(round(measure_s / (per * dt)))
    prev: dict[int, tuple[float, float]] = {}
    samples = []
    for k in range(updates):
        speeds = []
        for agent in sim.agents():
            x, y = agent.position
            r = math.hypot(x, y)
            theta = math.atan2(y, x)
            if k > first_measured and agent.id in prev:
                t0, r0 = prev[agent.id]
                dtheta = (theta - t0 + math.pi) % (2.0 * math.pi) - math.pi
                speeds.append(dtheta * 0.5 * (r + r0) / (per * dt))
            prev[agent.id] = (theta, r)
            agent.target = (x - y / r, y + x / r)  # 1 m along the ccw tangent
        if speeds:
            samples.append(float(np.mean(speeds)))
        try:
            sim.iterate(per)
        except RuntimeError as exc:  # an agent pushed out of the walkable area
            raise PeerFailure(f"JuPedSim {model} at t = {sim.elapsed_time():.2f} s: {exc}") from exc
    return float(np.mean(samples))


def _ring_sim(model: str, pos, v0, radius, r_inner_m: float, r_outer_m: float, dt: float):
    """A ring-corridor simulation with everyone on one direct-steering stage; returns
    ``(sim, agent ids)``. Bodies that overlap at the start are inserted shrunk and given
    their radius right after (the social force model keeps the shrunk ones, see
    :func:`ring_speed`)."""
    import jupedsim as jps
    import shapely

    outer, inner = ring_polygon(r_inner_m, r_outer_m)
    sim = jps.Simulation(model=_model(model), geometry=shapely.Polygon(outer, [inner]), dt=dt)
    stage = sim.add_direct_steering_stage()
    journey = sim.add_journey(jps.JourneyDescription([stage]))
    fit = _insertion_radii(pos, radius, ring_clearance(pos, r_inner_m, r_outer_m))
    ids = [sim.add_agent(_agent_params(model, position=p, v0=v, radius=r, journey_id=journey, stage_id=stage))
           for p, v, r in zip(pos, v0, fit)]
    if model in ("cfs", "avm"):
        for agent_id, r in zip(ids, radius):
            sim.agent(agent_id).model.radius = float(r)
    return sim, ids


def ring_counterflow(model: str, pos: np.ndarray, v0: np.ndarray, radius: np.ndarray, direction: np.ndarray, *,
                     r_inner_m: float, r_outer_m: float, seconds: float, record_s: float,
                     sample_s: float = 0.1, dt: float | None = None):
    """Counterflow on the ring corridor: agent ``i`` walks counter-clockwise when
    ``direction[i] = +1``, clockwise when -1 (its target is reset every ``sample_s`` 1 m
    ahead along its tangent). Returns, over the last ``record_s``, ``(along (T, N), lateral
    (T, N), overlap_m)``: the unwrapped distance each agent walked its way [m] (arc at the
    mean of its radii), its radius from the centre [m], and the deepest body overlap [m]."""
    dt = DT_S[model] if dt is None else dt
    sim, ids = _ring_sim(model, pos, v0, radius, r_inner_m, r_outer_m, dt)
    index = {a: k for k, a in enumerate(ids)}
    per = max(int(round(sample_s / dt)), 1)
    updates = int(round(seconds / (per * dt)))
    first = updates - int(round(record_s / (per * dt)))
    n = len(ids)
    theta = np.zeros(n)
    r = np.zeros(n)
    walked = np.zeros(n)
    along, lateral, worst = [], [], 0.0
    xy = np.zeros((n, 2))
    for k in range(updates):
        for agent in sim.agents():
            i = index[agent.id]
            x, y = agent.position
            xy[i] = (x, y)
            rr = math.hypot(x, y)
            th = math.atan2(y, x)
            if k:
                dth = (th - theta[i] + math.pi) % (2.0 * math.pi) - math.pi
                walked[i] += direction[i] * dth * 0.5 * (rr + r[i])
            theta[i], r[i] = th, rr
            s = direction[i]
            agent.target = (x - s * y / rr, y + s * x / rr)
        if k >= first:
            along.append(walked.copy())
            lateral.append(r.copy())
            worst = max(worst, _max_overlap(xy, radius))
        try:
            sim.iterate(per)
        except RuntimeError as exc:
            raise PeerFailure(f"JuPedSim {model} at t = {sim.elapsed_time():.2f} s: {exc}") from exc
    return np.array(along), np.array(lateral), worst


def _max_overlap(pos: np.ndarray, radius: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    pairs = cKDTree(pos).query_pairs(2 * float(radius.max()), output_type="ndarray")
    if len(pairs) == 0:
        return 0.0
    d = np.hypot(*(pos[pairs[:, 0]] - pos[pairs[:, 1]]).T)
    return max(float(np.max(radius[pairs[:, 0]] + radius[pairs[:, 1]] - d)), 0.0)


def crossing_target(pos: np.ndarray, heading: np.ndarray, arm_m: float, half_width_m: float) -> np.ndarray:
    """[m] ``(N, 2)`` where a walker of the crossing flows steers: 5 m ahead along its
    ``heading`` (+x or +y; 0.5 m when it has been pushed out of its own corridor into the
    other one, so that it heads back), inside its own corridor across it, and inside the
    walkable area (JuPedSim refuses a target outside)."""
    inner = half_width_m - 0.3
    lateral = np.clip(pos, -inner, inner)
    # outside its corridor (pushed into the other one) a walker heads back first: 0.5 m ahead
    off = np.any((np.abs(pos) > inner) & (heading < 0.5), axis=1)
    ahead = np.minimum(pos + np.where(off, 0.5, 5.0)[:, None] * heading, arm_m - 0.1)
    return np.where(heading > 0.5, ahead, lateral)


def crossing(model: str, walkable: np.ndarray, starts: np.ndarray, t_arrive: np.ndarray, heading: np.ndarray,
             v0: np.ndarray, radius: np.ndarray, *, arm_m: float, half_width_m: float, seconds: float,
             sample_s: float = 0.1, dt: float | None = None):
    """Flows crossing in the polygon ``walkable``: arrival ``k`` steps in at ``starts[k]`` at
    ``t_arrive[k]`` (or, when its place is taken, as soon as it is free) and walks straight
    along the unit vector ``heading[k]`` (+x or +y; its target, :func:`crossing_target`, reset
    every ``sample_s``) until its x or y passes ``arm_m - 1``. Returns per sample ``(arrival indices, positions)``."""
    import jupedsim as jps
    import shapely

    dt = DT_S[model] if dt is None else dt
    sim = jps.Simulation(model=_model(model), geometry=shapely.Polygon(walkable), dt=dt)
    stage = sim.add_direct_steering_stage()
    journey = sim.add_journey(jps.JourneyDescription([stage]))
    per = max(int(round(sample_s / dt)), 1)
    who: dict[int, int] = {}
    waiting: list[int] = []
    nxt = 0
    samples = []
    for _ in range(int(round(seconds / (per * dt)))):
        t = sim.elapsed_time()
        while nxt < len(t_arrive) and t_arrive[nxt] <= t + 1e-9:
            waiting.append(nxt)
            nxt += 1
        agents = list(sim.agents())
        here = np.array([a.position for a in agents]).reshape(-1, 2)
        rad = np.array([radius[who[a.id]] for a in agents])
        for k in list(waiting):
            p = starts[k]
            if len(here) == 0 or np.all(np.hypot(here[:, 0] - p[0], here[:, 1] - p[1]) > rad + radius[k] + 0.1):
                waiting.remove(k)
                aid = sim.add_agent(_agent_params(model, position=p, v0=v0[k], radius=radius[k], journey_id=journey,
                                                  stage_id=stage))
                who[aid] = k
                here = np.vstack([here, p])
                rad = np.append(rad, radius[k])
        ids, pos = [], []
        for a in sim.agents():
            x, y = a.position
            k = who[a.id]
            if x >= arm_m - 1.0 or y >= arm_m - 1.0:
                sim.mark_agent_for_removal(a.id)
                continue
            ids.append(k)
            pos.append((x, y))
            a.target = tuple(crossing_target(np.array([[x, y]]), heading[k:k + 1], arm_m, half_width_m)[0])
        samples.append((np.array(ids, np.int64), np.array(pos).reshape(-1, 2)))
        try:
            sim.iterate(per)
        except RuntimeError as exc:
            raise PeerFailure(f"JuPedSim {model} at t = {sim.elapsed_time():.2f} s: {exc}") from exc
    return samples


def door_trials(model: str, walkable: np.ndarray, exit_polygon: np.ndarray, starts: np.ndarray, v0: np.ndarray,
                radius: np.ndarray, *, through_x_m: float, t_max_s: float, dt: float | None = None) -> np.ndarray:
    """[s] For each start, one agent alone walking to the exit: the time at which its x first
    exceeds ``through_x_m`` (``inf`` if not within ``t_max_s``)."""
    import jupedsim as jps
    import shapely

    dt = DT_S[model] if dt is None else dt
    times = np.full(len(starts), np.inf)
    for n, (p, v, r) in enumerate(zip(starts, v0, radius)):
        sim = jps.Simulation(model=_model(model), geometry=shapely.Polygon(walkable), dt=dt)
        exit_id = sim.add_exit_stage(shapely.Polygon(exit_polygon))
        journey = sim.add_journey(jps.JourneyDescription([exit_id]))
        aid = sim.add_agent(_agent_params(model, position=p, v0=v, radius=r, journey_id=journey, stage_id=exit_id))
        per = max(int(round(0.05 / dt)), 1)
        while sim.elapsed_time() < t_max_s and sim.agent_count():
            sim.iterate(per)
            if sim.agent_count() == 0 or sim.agent(aid).position[0] > through_x_m:
                times[n] = sim.elapsed_time()
                break
    return times


# --- bottleneck --------------------------------------------------------------------------------


def bottleneck_crossings(model: str, walkable: np.ndarray, exit_polygon: np.ndarray, pos: np.ndarray,
                         v0: np.ndarray, radius: np.ndarray, *, line_x_m: float, t_max_s: float,
                         dt: float | None = None, sample_s: float = 0.05) -> np.ndarray:
    """[s] Sorted times at which the agents first cross ``x = line_x_m`` walking to the exit.

    ``walkable`` ``(K, 2)`` [m] the floor polygon, ``exit_polygon`` the area where agents
    leave; positions are sampled every ``sample_s``.
    """
    import jupedsim as jps
    import shapely

    dt = DT_S[model] if dt is None else dt
    sim = jps.Simulation(model=_model(model), geometry=shapely.Polygon(walkable), dt=dt)
    exit_id = sim.add_exit_stage(shapely.Polygon(exit_polygon))
    journey = sim.add_journey(jps.JourneyDescription([exit_id]))
    for p, v, r in zip(pos, v0, radius):
        sim.add_agent(_agent_params(model, position=p, v0=v, radius=r, journey_id=journey, stage_id=exit_id))
    per = max(int(round(sample_s / dt)), 1)
    side: dict[int, bool] = {}
    crossed: dict[int, float] = {}
    while sim.agent_count() > 0 and sim.elapsed_time() < t_max_s:
        try:
            sim.iterate(per)
        except RuntimeError as exc:
            raise PeerFailure(f"JuPedSim {model} at t = {sim.elapsed_time():.2f} s: {exc}") from exc
        t = sim.elapsed_time()
        for agent in sim.agents():
            beyond = agent.position[0] >= line_x_m
            if beyond and side.get(agent.id) is False and agent.id not in crossed:
                crossed[agent.id] = t
            side[agent.id] = beyond
    return np.sort(np.array(list(crossed.values())))


# --- the speed benchmark's hall ----------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    """Cost of stepping a crowd: measured agent-steps per CPU second."""

    steps: int
    agent_steps: int
    cpu_s: float
    wall_s: float

    @property
    def agent_steps_per_cpu_s(self) -> float:
        return self.agent_steps / self.cpu_s if self.cpu_s > 0 else float("nan")


class HallPeer:
    """JuPedSim's collision-free speed model on a polygon hall, started from a given crowd:
    agent ``i`` walks to the exit polygon ``exits[exit_index[i]]`` and leaves there.

    JuPedSim refuses to insert a body overlapping another or a wall; such bodies are
    inserted with shrunk radii (``clearance_m``: each centre's distance to the walls) and
    given their own radius right after, which the model resolves within a few steps.
    """

    def __init__(self, walkable: np.ndarray, exits: list[np.ndarray], pos: np.ndarray, v0: np.ndarray,
                 radius: np.ndarray, exit_index: np.ndarray, clearance_m: np.ndarray, *, dt: float = 0.05) -> None:
        import jupedsim as jps
        import shapely

        self.sim = sim = jps.Simulation(model=_model("cfs"), geometry=shapely.Polygon(walkable), dt=dt)
        stage_ids = [sim.add_exit_stage(shapely.Polygon(e)) for e in exits]
        journeys = [sim.add_journey(jps.JourneyDescription([s])) for s in stage_ids]
        fit = _insertion_radii(pos, radius, clearance_m)
        ids = [sim.add_agent(_agent_params("cfs", position=p, v0=v, radius=r, journey_id=journeys[k],
                                           stage_id=stage_ids[k]))
               for p, v, r, k in zip(pos, v0, fit, exit_index)]
        for agent_id, r in zip(ids, radius):
            sim.agent(agent_id).model.radius = float(r)

    def run(self, steps: int) -> Throughput:
        """Step ``steps`` times; CPU and wall time of the stepping only."""
        sim = self.sim
        agent_steps = 0
        c0, w0 = time.process_time(), time.perf_counter()
        for _ in range(steps):
            agent_steps += sim.agent_count()
            sim.iterate(1)
        return Throughput(steps, agent_steps, time.process_time() - c0, time.perf_counter() - w0)
