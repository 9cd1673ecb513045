"""Parties: people who arrive together, share their plan and keep together while they walk.

Cohesion is a term added to the members' desired directions and speeds before the motion
step: members turn toward their party's centroid once farther than (size - 1) / 2 m from
it, those ahead slow down and those behind speed up, after Moussaïd et al. 2010.

Reference: M. Moussaïd, N. Perozo, S. Garnier, D. Helbing, G. Theraulaz, PLoS ONE 5,
e10047 (2010), the walking behaviour of pedestrian social groups.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.world.people import People

if TYPE_CHECKING:
    from sim.world.agents import Pedestrian
    from sim.world.floorfield import FieldBank, NavGrid

#: [m] spacing of the places a party's members spawn at, beside and behind its first member
PARTY_SPACING_M = 0.65
#: [m] a member farther than this times (party size - 1) from its party's centroid turns
#: toward it (Moussaïd et al. 2010: (N - 1) / 2 m)
PARTY_SLACK_M = 0.5
#: [1/m] weight of the turn toward the centroid, per metre beyond the slack (at most 1 m
#: counts), against the unit direction to the goal
PARTY_PULL_PER_M = 1.0
#: [m] a member farther than this from its party's centroid has lost the others (a wall,
#: a gate line, a crowd between them): it walks its own way to the shared goal
PARTY_LOST_M = 5.0
#: [m] a member this far ahead of (behind) its party's centroid along its way, beyond the
#: slack, slows down (speeds up) by PARTY_SPEED_GAIN_PER_M per metre
PARTY_SPEED_SLACK_M = 0.5
PARTY_SPEED_GAIN_PER_M = 0.2
#: least and greatest factor on a member's desired speed from keeping together
PARTY_SPEED_FACTOR = (0.5, 1.2)


class Parties:
    """Party id -> its members present now; a member's id is also in ``People.party``."""

    def __init__(self, people: People) -> None:
        self.people = people
        self._members: dict[int, list["Pedestrian"]] = {}
        self._next_id = 0

    def __bool__(self) -> bool:
        return bool(self._members)

    def get(self, party: int, default=None) -> list["Pedestrian"] | None:
        """The members of ``party`` (``default`` when it has none left)."""
        return self._members.get(party, default)

    def new(self) -> int:
        """The id of a new, empty party."""
        pid = self._next_id
        self._next_id += 1
        self._members[pid] = []
        return pid

    def join(self, party: int, agent: "Pedestrian") -> None:
        agent.party = party
        self.people.party[agent.slot] = party
        self._members[party].append(agent)

    def leave(self, agent: "Pedestrian") -> None:
        """``agent`` walks on alone (its party forgets it)."""
        if agent.party < 0:
            return
        members = self._members.get(agent.party)
        if members is not None:
            members.remove(agent)
            if not members:
                del self._members[agent.party]
        agent.party = -1
        if agent.slot >= 0:
            self.people.party[agent.slot] = -1

    def with_members(self, agents: list["Pedestrian"], behaviours: tuple) -> list["Pedestrian"]:
        """``agents`` and the members of their parties whose behaviour is one of
        ``behaviours``, each once, in that order."""
        out = []
        seen = set()
        for agent in agents:
            group = [agent] if agent.party < 0 else [agent] + [
                o for o in self._members.get(agent.party, ()) if o is not agent and o.behaviour in behaviours]
            for o in group:
                if o.unique_id not in seen:
                    seen.add(o.unique_id)
                    out.append(o)
        return out

    def ids(self) -> dict[int, list[int]]:
        """Party id -> ids of its members present now (parties of two or more only)."""
        return {pid: [a.unique_id for a in members] for pid, members in sorted(self._members.items())
                if len(members) >= 2}


def keep_together(people: People, moving: np.ndarray, e: np.ndarray, desired_speed: np.ndarray,
                  use_field: np.ndarray, grid: "NavGrid", fields: "FieldBank") -> None:
    """Add the cohesion of walking parties to the desired directions ``e`` and speeds (in place).

    ``moving`` marks the rows of party members who walk (or leave) and are not frozen.
    Members who follow a floor field (``use_field``) steer by the mean of its direction
    where they stand and where their party's centroid stands, so that a party meeting a
    pillar goes round it on one side. A moving member farther than
    ``PARTY_SLACK_M * (k - 1)`` from the centroid of its party's moving members (k of them)
    turns toward it, by ``PARTY_PULL_PER_M`` per metre beyond; the part of that turn
    pointing back along its way is dropped, so that nobody walks backwards (against a
    one-way flow): a member ahead slows down instead, one behind speeds up
    (``PARTY_SPEED_*``). A member farther than ``PARTY_LOST_M`` from the centroid feels
    none of it: the floor field leads it to the shared goal, round walls that a straight
    pull would press it into."""
    sel = np.nonzero(moving)[0]
    if len(sel) < 2:
        return
    party = people.party
    _, inv, count = np.unique(party[sel], return_inverse=True, return_counts=True)
    keep = count[inv] >= 2
    if not keep.any():
        return
    sel, inv = sel[keep], inv[keep]
    k = count[inv]
    pos = people.pos[sel]
    cx = np.bincount(inv, weights=pos[:, 0], minlength=len(count)) / np.maximum(count, 1)
    cy = np.bincount(inv, weights=pos[:, 1], minlength=len(count)) / np.maximum(count, 1)
    dx = cx[inv] - pos[:, 0]
    dy = cy[inv] - pos[:, 1]
    dist = np.hypot(dx, dy)
    near = dist <= PARTY_LOST_M
    if not near.all():
        sel, dx, dy, dist, k = sel[near], dx[near], dy[near], dist[near], k[near]
    ex, ey = e[sel, 0], e[sel, 1]
    routed = np.nonzero(use_field[sel])[0]
    if len(routed):
        centre = people.pos[sel[routed]] + np.stack([dx[routed], dy[routed]], axis=1)
        ok = grid.is_free(centre)
        routed, centre = routed[ok], centre[ok]
        if len(routed):
            d = fields.sample(people.field[sel[routed]], centre)
            mx, my = ex[routed] + d[:, 0], ey[routed] + d[:, 1]
            mn = np.hypot(mx, my)
            good = mn > 1e-6
            ex, ey = ex.copy(), ey.copy()
            ex[routed[good]] = mx[good] / mn[good]
            ey[routed[good]] = my[good] / mn[good]
    along = dx * ex + dy * ey  # > 0: the centroid lies ahead, this member lags behind
    back = np.minimum(along, 0.0)
    px, py = dx - back * ex, dy - back * ey
    pn = np.maximum(np.hypot(px, py), 1e-9)
    w = PARTY_PULL_PER_M * np.clip(dist - PARTY_SLACK_M * (k - 1), 0.0, 1.0) / pn
    nx, ny = ex + w * px, ey + w * py
    norm = np.maximum(np.hypot(nx, ny), 1e-9)
    e[sel, 0] = nx / norm
    e[sel, 1] = ny / norm
    excess = np.sign(along) * np.maximum(np.abs(along) - PARTY_SPEED_SLACK_M, 0.0)
    lo, hi = PARTY_SPEED_FACTOR
    desired_speed[sel] *= np.clip(1.0 + PARTY_SPEED_GAIN_PER_M * excess, lo, hi)
