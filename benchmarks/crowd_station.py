"""Realism measured in the scenario library's own stations (the full model: floor fields,
behaviours, arrivals), for :mod:`bench_realism`.

* :func:`free_walkers`: the speed of people walking alone with nobody near them (in
  ``rush_hour_quiet``), against their desired speeds and the 1.34 ± 0.26 m/s of Weidmann;
* :func:`gate_standers`: people who stand still in front of the ticket gates of
  ``concourse_quiet`` although nobody is in their way.

Both read the model's arrays (``StationModel.people`` arrays) once a second of
simulated time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from sim.world.agents import Behaviour
from sim.world.model import StationModel
from sim.scenario import load_scenario

#: [m] nobody within this distance: a person walks alone
ALONE_M = 3.0
#: [s] left out after a person appears (it accelerates from standing at its entrance)
SETTLE_S = 2.0
#: [m/s] slower than this a person stands
STANDING_MPS = 0.1
#: [m] someone within this distance ahead (cone of +-60 degrees) is a queue in front
QUEUE_AHEAD_M = 1.0


def _every(scenario: str, seconds: float, seed: int | None, sample_s: float):
    """Yield ``(t, model)`` every ``sample_s`` of a library scenario run for ``seconds``."""
    model = StationModel(load_scenario(scenario, {"duration_s": max(seconds, 1.0)}), seed)
    t = 0.0
    while t < seconds - 1e-9:
        t = min(t + sample_s, seconds)
        model.run_until(t)
        yield t, model


@dataclass
class FreeWalkers:
    """Speed samples [m/s] of people walking alone, their desired speeds [m/s] and ids."""

    speed: np.ndarray
    v0: np.ndarray
    ids: np.ndarray

    @property
    def ratio(self) -> np.ndarray:
        return self.speed / self.v0

    def per_person(self) -> tuple[np.ndarray, np.ndarray]:
        """``(speed, v0)`` [m/s]: each person's mean speed while alone, and its desired speed
        (one value per person: slow walkers are sampled longer, which would bias the mean)."""
        ids, inverse = np.unique(self.ids, return_inverse=True)
        count = np.bincount(inverse)
        return np.bincount(inverse, weights=self.speed) / count, np.bincount(inverse, weights=self.v0) / count


def free_walkers(scenario: str = "rush_hour_quiet", *, seconds: float = 300.0, seed: int | None = None,
                 sample_s: float = 1.0) -> FreeWalkers:
    """Speeds of the people who walk on their own (no party), toward an exit or a waiting
    spot more than 2 m away, more than :data:`SETTLE_S` after they appeared, with nobody
    within :data:`ALONE_M`; one sample per person and ``sample_s``."""
    first_seen: dict[int, float] = {}
    speeds, v0s, who = [], [], []
    for t, model in _every(scenario, seconds, seed, sample_s):
        n = model.agent_count
        if n == 0:
            continue
        ids = model.people.ids[:n]
        for i in ids.tolist():
            first_seen.setdefault(i, t)
        pos = model.people.pos[:n]
        vel = model.people.vel[:n]
        state = model.people.state[:n]
        goal_d = np.hypot(*(model.people.goal[:n] - pos).T)
        moving = (state == Behaviour.LEAVING) | ((state == Behaviour.WALKING) & (goal_d > 2.0))
        alone = model.people.party[:n] < 0
        settled = np.array([t - first_seen[i] >= SETTLE_S for i in ids.tolist()])
        if n > 1:
            d, _ = cKDTree(pos).query(pos, k=2)
            isolated = d[:, 1] > ALONE_M
        else:
            isolated = np.ones(1, bool)
        keep = moving & alone & settled & isolated & ~model.people.frozen[:n]
        speeds.append(np.hypot(vel[keep, 0], vel[keep, 1]))
        v0s.append(model.people.v0[:n][keep])
        who.append(ids[keep])
    return FreeWalkers(np.concatenate(speeds), np.concatenate(v0s), np.concatenate(who))


@dataclass
class Standing:
    """Per person who stood in the gate area: the longest time [s] it stood there without
    a queue in front, and its id."""

    ids: np.ndarray
    longest_s: np.ndarray

    def count(self, at_least_s: float = 10.0) -> int:
        return int(np.sum(self.longest_s >= at_least_s))


def gate_standers(scenario: str = "concourse_quiet", *, area=((19.0, 4.0), (24.5, 12.0)), seconds: float = 300.0,
                  seed: int | None = None, sample_s: float = 0.5) -> Standing:
    """Who stands still (slower than :data:`STANDING_MPS`) inside ``area`` ``((x0, y0), (x1,
    y1))`` [m] while walking or leaving (not waiting by choice, not scripted) with nobody
    within :data:`QUEUE_AHEAD_M` ahead of it, and for how long at a stretch."""
    (x0, y0), (x1, y1) = area
    run: dict[int, float] = {}
    longest: dict[int, float] = {}
    for _, model in _every(scenario, seconds, seed, sample_s):
        n = model.agent_count
        if n == 0:
            run.clear()
            continue
        pos = model.people.pos[:n]
        vel = model.people.vel[:n]
        state = model.people.state[:n]
        inside = (pos[:, 0] >= x0) & (pos[:, 0] <= x1) & (pos[:, 1] >= y0) & (pos[:, 1] <= y1)
        going = (state == Behaviour.WALKING) | (state == Behaviour.LEAVING)
        still = np.hypot(vel[:, 0], vel[:, 1]) < STANDING_MPS
        cand = np.nonzero(inside & going & still)[0]
        stuck = set()
        if len(cand):
            to_goal = model.people.goal[:n][cand] - pos[cand]
            e = to_goal / np.maximum(np.hypot(to_goal[:, 0], to_goal[:, 1]), 1e-9)[:, None]
            field = model.people.field[:n][cand]
            if (field >= 0).any():
                e[field >= 0] = model.fields.sample(field[field >= 0], pos[cand][field >= 0])
            tree = cKDTree(pos)
            for c, ec in zip(cand.tolist(), e):
                others = [j for j in tree.query_ball_point(pos[c], QUEUE_AHEAD_M) if j != c]
                ahead = False
                for j in others:
                    d = pos[j] - pos[c]
                    if np.dot(d, ec) > 0.5 * np.hypot(*d):
                        ahead = True
                        break
                if not ahead:
                    stuck.add(int(model.people.ids[c]))
        for i in list(run):
            if i not in stuck:
                del run[i]
        for i in stuck:
            run[i] = run.get(i, 0.0) + sample_s
            longest[i] = max(longest.get(i, 0.0), run[i])
    ids = np.array(sorted(longest), np.int64)
    return Standing(ids, np.array([longest[i] for i in ids.tolist()]))
