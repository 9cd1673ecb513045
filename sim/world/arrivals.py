"""Who comes in, when and where: Poisson arrivals per entrance, train releases, the initial crowd.

Parties arrive at each entrance as a Poisson process (at ``rate_per_min`` / mean party
size, so that the rate stays in persons); a train releases ``count`` passengers at its
entrance over ``release_s`` (one release time per party). An arriving party waits in its
entrance's backlog until the doorway has room: its first member steps in at a random
point of the doorway, the others beside and behind it. Arrivals beyond
``crowd.max_agents`` present are dropped (and counted).

An on-stage train (:mod:`sim.world.train_runs`) releases its passengers from the moment its
doors are fully open, through the doors along its entrance: a party steps in inside a car,
in a doorway, and walks out across the platform edge (:mod:`sim.world.doors`). Passengers
still aboard when the doors start to close stay on the train (``stayed_aboard``).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sim.errors import SimulationError
from sim.geometry import points_in_polygon, sample_points_in_polygon, segment_to_segment_distance
from sim.world.appearance import CrowdComposition, Member
from sim.world.navigation import Navigation
from sim.world.parties import PARTY_SPACING_M
from sim.world.people import People

if TYPE_CHECKING:
    from sim.world.trains import Trains


class ArrivalHost(Protocol):
    """What the arrivals ask of the model."""

    people: People
    nav: Navigation
    rng: np.random.Generator

    def spawn_party(self, positions: list, members: list[Member], exit_index: int, *, alighting: bool = False) -> list:
        """Create the pedestrians of a party at ``positions`` and give them their plan."""


def clear_of_agents(people: People, p: np.ndarray, radius: float) -> bool:
    """Whether a body of ``radius`` [m] at ``p`` overlaps nobody present."""
    n = people.n
    if n == 0:
        return True
    d2 = (people.pos[:n, 0] - p[0]) ** 2 + (people.pos[:n, 1] - p[1]) ** 2
    return bool(np.all(d2 >= (people.radius[:n] + radius) ** 2))


def clear_point_near(people: People, walkable: np.ndarray, p: np.ndarray, radius: float) -> np.ndarray:
    """``p`` if no body overlaps a person of ``radius`` there, else the nearest such point
    on rings of 0.1 m steps around it (an injected person never lands on someone)."""
    if clear_of_agents(people, p, radius):
        return p
    for ring in range(1, 21):
        r = 0.1 * ring
        for a in np.linspace(0.0, 2.0 * np.pi, 6 * ring, endpoint=False):
            q = p + r * np.array([np.cos(a), np.sin(a)])
            if clear_of_agents(people, q, radius) and points_in_polygon(q[None], walkable)[0]:
                return q
    return p


class Arrivals:
    """The arrival clocks and backlogs of a scenario's entrances and trains."""

    def __init__(self, scenario, composition: CrowdComposition, nav: Navigation, exit_seg: np.ndarray,
                 trains: "Trains", rng: np.random.Generator) -> None:
        st = scenario.station
        self.scenario = scenario
        self.composition = composition
        self.trains = trains
        ordinary_exits = trains.ordinary_exits
        self.names = [e.name for e in st.entrances]
        self.entrance_seg = np.array([e.segment for e in st.entrances], dtype=np.float64).reshape(-1, 2, 2)
        # exits an arrival may choose: not the doorway it came through, not a boarding exit
        self.exit_choices = []
        for seg in self.entrance_seg:
            ok = [k for k in ordinary_exits if segment_to_segment_distance(seg, exit_seg[k]) >= 0.5]
            self.exit_choices.append(ok or list(ordinary_exits))
        self.inward = np.array([nav.inward_normal(s) for s in self.entrance_seg]).reshape(-1, 2)
        rates = np.array([e.rate_per_min for e in st.entrances], dtype=np.float64)
        self._rate_per_s = rates / 60.0 / composition.mean_size
        self._next_arrival = np.array([rng.exponential(1.0 / r) if r > 0 else np.inf for r in self._rate_per_s])
        # per entrance, parties waiting to step in: (exit index or -1, members or None, alighting,
        # the on-stage train they alight from or -1)
        self._backlog: list[deque] = [deque() for _ in st.entrances]
        entrance_index = {name: i for i, name in enumerate(self.names)}
        exit_names = [e.name for e in st.exits]
        releases = []
        for i, tr in enumerate(st.trains):
            parties = composition.split_into_parties(tr.count)
            run = trains.runs[i]
            first = tr.at_s if run is None else run.open_s  # on stage: once the doors are open
            times = np.sort(first + rng.uniform(0.0, tr.release_s, size=len(parties)))
            ex = -1 if tr.exit is None else exit_names.index(tr.exit)
            train = -1 if run is None else i
            releases += [(float(t), entrance_index[tr.entrance], ex, k, train) for t, k in zip(times, parties)]
        releases.sort(key=lambda r: r[0])
        self._releases = deque(releases)
        self.by_entrance = {name: 0 for name in self.names}  #: people who came in, per entrance
        self.dropped = 0  #: arrivals dropped because ``crowd.max_agents`` were present
        self.stayed_aboard = 0  #: an on-stage train's passengers who had not got off when its doors closed

    def spawn_due(self, host: ArrivalHost, t: float) -> None:
        """Queue the parties due by ``t`` [s] and let in as many as the doorways and
        ``crowd.max_agents`` allow."""
        t = t + 1e-9
        rng = host.rng
        comp = self.composition
        for e in range(len(self._next_arrival)):
            while self._next_arrival[e] <= t:
                self._backlog[e].append((-1, comp.arriving_party(comp.party_size()), False, -1))
                self._next_arrival[e] += rng.exponential(1.0 / self._rate_per_s[e])
        while self._releases and self._releases[0][0] <= t:
            _, e, ex, size, train = self._releases.popleft()
            self._backlog[e].append((ex, comp.arriving_party(size), True, train))
        max_agents = self.scenario.crowd.max_agents
        for e, queue in enumerate(self._backlog):
            while queue:
                ex, members, alighting, train = queue[0]
                size = 1 if members is None else len(members)
                if host.people.n + size > max_agents:
                    self.dropped += sum(1 if item[1] is None else len(item[1]) for item in queue)
                    queue.clear()
                    break
                if train >= 0 and not self.trains.runs[train].passable(host.time):
                    self.stayed_aboard += size  # the doors are closing
                    queue.popleft()
                    continue
                if train >= 0 and members is None:  # drawn once: a taken doorway does not redraw them
                    members = self.composition.party(1)
                    queue[0] = (ex, members, alighting, train)
                if not (self._alight(host, e, ex, members, train) if train >= 0
                        else self._step_in(host, e, ex, members, alighting)):
                    break  # the doorway is full; the rest wait their turn
                queue.popleft()
                self.by_entrance[self.names[e]] += size

    def _step_in(self, host: ArrivalHost, e: int, exit_index: int, members: list | None, alighting: bool) -> bool:
        """Spawn a party (``members``, from :meth:`CrowdComposition.arriving_party`; None: one
        plain person drawn now) at entrance ``e``: the first member at a random point of the
        doorway, the others beside and behind it; False when the doorway has no room now (the
        party keeps its members for the next try)."""
        rng = host.rng
        a, b = self.entrance_seg[e]
        length = float(np.hypot(*(b - a)))
        if members is None:
            members = self.composition.party(1)
        size = len(members)
        radius = members[0][2]
        lo = min(radius / max(length, 1e-9), 0.5)
        positions = None
        along = (b - a) / max(length, 1e-9)
        for _ in range(4):
            u = rng.uniform(lo, 1.0 - lo)
            p = a + u * (b - a) + self.inward[e] * (radius + 0.1)
            if clear_of_agents(host.people, p, radius):
                positions = [p] if size == 1 else place_party(
                    host, p, members, along, self.inward[e], rows=(0, 1, 2), doorway=(length, float(u * length)))
                if positions is not None:
                    break
        if positions is None:
            return False
        if exit_index < 0:
            choices = self.exit_choices[e]
            exit_index = choices[int(rng.integers(len(choices)))]
        host.spawn_party(positions, members, exit_index, alighting=alighting)
        return True

    def _alight(self, host: ArrivalHost, e: int, exit_index: int, members: list, train: int) -> bool:
        """Let a party off on-stage ``train`` through one of its doors (False: that doorway is taken now)."""
        doors = self.trains.doors
        positions = doors.alight_positions(host, train, members)
        if positions is None:
            return False
        if exit_index < 0:
            choices = self.exit_choices[e]
            exit_index = choices[int(host.rng.integers(len(choices)))]
        doors.alighted(host, host.spawn_party(positions, members, exit_index, alighting=True), train)
        return True

    def place_initial(self, host: ArrivalHost, count: int, exit_choices: list[int]) -> None:
        """``count`` people on the free floor at t = 0 (outside one-way zones), in parties,
        each party leaving by one of ``exit_choices``."""
        if count == 0:
            return
        nav, rng = host.nav, host.rng
        placed = 0
        attempts = 0
        batch = np.empty((0, 2))
        while placed < count:
            if len(batch) == 0:
                if attempts > 50 * count + 1000:
                    raise SimulationError(
                        f"scenario {self.scenario.name!r}: crowd.initial_count={count} does not fit on the "
                        f"free floor without overlaps; placed {placed}"
                    )
                batch = sample_points_in_polygon(rng, nav.walkable, 256)
                ok = nav.grid.is_free(batch)
                if nav.one_way:
                    ok &= ~nav.in_one_way(batch)
                batch = batch[ok]
                continue
            p, batch = batch[0], batch[1:]
            attempts += 1
            size = min(self.composition.party_size(), count - placed)
            members = self.composition.party(size)
            radius = members[0][2]
            if not clear_of_agents(host.people, p, radius + 0.05):
                continue
            positions = [p]
            if size > 1:
                positions = place_party(host, p, members, np.array([1.0, 0.0]), np.array([0.0, 1.0]), rows=(0, -1, 1))
                if positions is None:
                    continue
            exit_index = exit_choices[int(rng.integers(len(exit_choices)))]
            host.spawn_party(positions, members, exit_index)
            placed += size


def place_party(host: ArrivalHost, p0: np.ndarray, members: list[Member], along: np.ndarray, inward: np.ndarray, *,
                rows=(0, 1, 2), doorway: tuple | None = None) -> list[np.ndarray] | None:
    """Places for a party's members beside (``along``) and behind (``inward``) its first
    member at ``p0``, each clear of everybody; None when one of them finds no room. In a
    doorway, places of the first row stay within its span."""
    nav = host.nav
    offsets = sorted(((r, c) for r in rows for c in range(-3, 4) if (r, c) != (0, 0)),
                     key=lambda rc: (rc[0] ** 2 + rc[1] ** 2, abs(rc[0]), -rc[1]))
    placed = [(p0, members[0][2])]
    for _, _, radius in members[1:]:
        spot = None
        for r, c in offsets:
            q = p0 + along * (c * PARTY_SPACING_M) + inward * (r * PARTY_SPACING_M)
            if any(np.hypot(*(q - o)) < radius + ro + 0.05 for o, ro in placed):
                continue
            if doorway is not None and r == 0:
                length, u0 = doorway  # [m] the doorway's length, the first member's place along it
                x = u0 + c * PARTY_SPACING_M
                if not radius <= x <= length - radius:
                    continue
            elif not (nav.grid.is_free(q)[0] and points_in_polygon(q[None], nav.walkable)[0]):
                continue
            if nav.one_way and nav.in_one_way(q)[0]:
                continue
            if clear_of_agents(host.people, q, radius):
                spot = q
                break
        if spot is None:
            return None
        placed.append((spot, radius))
    return [q for q, _ in placed]
