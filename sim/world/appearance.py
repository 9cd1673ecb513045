"""Who the people are and how they look: parties, bodies, luggage and clothing.

:class:`CrowdComposition` draws from a scenario's ``crowd`` block: the size of an arriving
party, then per member a body (adult, child, wheelchair user), luggage and a radius, and
finally the body's desired speed, height and colours (:meth:`CrowdComposition.fill_body`).

:func:`sample_appearance` draws colours from the appearance distribution
(``crowd.appearance``): a pure, vectorised function of the distribution, a count and a
random generator, so that the simulation and the test helpers dress people the same way
and the same generator state gives the same colours::

    shirt, trousers, skin, hair, group = sample_appearance(scenario.crowd.appearance, 40, rng)

``group[i]`` indexes ``spec.groups``; it reaches the ground truth as the
``appearance_group`` column of the annotations, so that an evaluation can slice results by
appearance.
"""

from __future__ import annotations

import numpy as np

from sim.state import BodyKind, Prop

#: [m] body radius range of a child (uniform)
CHILD_RADIUS_M = (0.15, 0.19)
#: [m] body height range of a child (uniform)
CHILD_HEIGHT_M = (1.1, 1.4)
#: [m] radius of the disc a wheelchair and its user take on the floor
WHEELCHAIR_RADIUS_M = 0.4
#: [m] height of a wheelchair user's head, seated
WHEELCHAIR_HEIGHT_M = 1.3
#: [m/s] mean and spread of a wheelchair user's desired speed (clipped to 0.6 .. 1.2 m/s)
WHEELCHAIR_SPEED_MPS = (0.9, 0.1)
#: desired speed of a person pulling a suitcase, as a share of its own
SUITCASE_SPEED_FACTOR = 0.9

_ADULT, _CHILD, _WHEELCHAIR = (int(b) for b in BodyKind)
_LUGGAGE_PROP = {"suitcase": Prop.SUITCASE, "bag": Prop.BAG, "backpack": Prop.BACKPACK}


def sample_appearance(spec, n: int, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Colours and group of ``n`` people drawn from ``spec`` (a :class:`sim.scenario.AppearanceSpec`).

    The group is drawn with probability ``weight / sum(weights)``; each colour uniformly
    from the group's palette (skin and hair from the shared palettes unless the group has
    its own), then every channel gets a uniform integer jitter in ``[-jitter, jitter]``
    grey levels, clipped to [0, 255].

    Returns ``(shirt, trousers, skin, hair, group)``: four (n, 3) uint8 BGR arrays and an
    (n,) int16 array of group indices. The draws are one batch in a fixed order, so a
    generator in the same state gives the same result.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"sample_appearance: n must be >= 0; got {n}")
    groups = spec.groups
    weights = np.array([g.weight for g in groups], dtype=np.float64)
    cumulative = np.cumsum(weights / weights.sum())
    u = rng.random((5, n))
    j = int(spec.jitter)
    jitter = rng.integers(-j, j + 1, size=(4, n, 3)) if n else np.zeros((4, 0, 3), np.int64)
    group = np.minimum(np.searchsorted(cumulative, u[0], side="right"), len(groups) - 1)
    out = np.zeros((4, n, 3), np.int64)
    for k, g in enumerate(groups):
        rows = np.nonzero(group == k)[0]
        if len(rows) == 0:
            continue
        palettes = (g.shirt_palette, g.trousers_palette, g.skin_palette or spec.skin_palette,
                    g.hair_palette or spec.hair_palette)
        for j, palette in enumerate(palettes):
            pal = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
            pick = np.minimum((u[1 + j, rows] * len(pal)).astype(np.int64), len(pal) - 1)
            out[j, rows] = pal[pick]
    colours = np.clip(out + jitter, 0, 255).astype(np.uint8)
    return colours[0], colours[1], colours[2], colours[3], group.astype(np.int16)


def appearance_group_names(spec) -> list[str]:
    """Names of the groups of ``spec``, indexed by ``appearance_group``."""
    return [g.name for g in spec.groups]


#: one member of a party: body kind, carried prop, radius [m]
Member = tuple[int, int, float]


class CrowdComposition:
    """The draws of who arrives, from ``crowd`` (a :class:`sim.scenario.CrowdSpec`).

    ``rng`` is the model's stream (bodies, speeds, sizes); ``looks_rng`` a stream of its own
    for the colours, so that changing the appearance distribution moves nobody. A share of
    0 makes no draw, so that a scenario without children, wheelchairs or luggage keeps the
    random stream it had before those existed. ``orange`` is the scenario's
    ``orange_clothing`` distractor, if any.
    """

    def __init__(self, crowd, rng: np.random.Generator, looks_rng: np.random.Generator, orange=None) -> None:
        self.crowd = crowd
        self.rng = rng
        self.looks_rng = looks_rng
        self.orange = orange
        sizes = sorted(crowd.group_sizes)
        weights = np.array([crowd.group_sizes[k] for k in sizes], dtype=np.float64)
        self._party_sizes = np.array(sizes, np.int64)
        self._party_cumulative = np.cumsum(weights / weights.sum())
        self.alone = sizes == [1] or bool(np.all(weights[np.array(sizes) > 1] == 0))  #: nobody walks in a party
        self.mean_size = crowd.mean_group_size()
        behind = (self.mean_size - 1.0) / self.mean_size
        # a member behind its party's first one is a child with probability p_child, so that
        # children are child_share of everybody; an adult uses a wheelchair with p_wheelchair
        self._p_child = min(crowd.child_share / behind, 1.0) if behind > 0 else 0.0
        self._p_wheelchair = min(crowd.wheelchair_share / (1.0 - crowd.child_share), 1.0) if crowd.child_share < 1 else 0.0
        kinds = [k for k in ("suitcase", "bag", "backpack") if crowd.luggage_kinds.get(k, 0.0) > 0]
        lw = np.array([crowd.luggage_kinds[k] for k in kinds], dtype=np.float64)
        self._luggage_props = [_LUGGAGE_PROP[k] for k in kinds]
        self._luggage_cumulative = np.cumsum(lw / lw.sum())

    def party_size(self) -> int:
        """Size of an arriving party, drawn from ``crowd.group_sizes`` (no draw when everyone walks alone)."""
        if self.alone:
            return 1
        k = int(np.searchsorted(self._party_cumulative, self.rng.uniform(), side="right"))
        return int(self._party_sizes[min(k, len(self._party_sizes) - 1)])

    def split_into_parties(self, count: int) -> list[int]:
        """``count`` people as consecutive parties of drawn sizes (the last one cut to fit)."""
        if self.alone:
            return [1] * count
        out, left = [], count
        while left > 0:
            k = min(self.party_size(), left)
            out.append(k)
            left -= k
        return out

    def arriving_party(self, size: int) -> list[Member] | None:
        """The members of a party that arrives now, drawn now so that a full doorway does not
        change who comes in; None for a plain arrival (alone, and no child, wheelchair or
        luggage in the scenario), drawn as it steps in, which keeps the model stream of the
        scenarios written before parties existed."""
        crowd = self.crowd
        if size == 1 and self.alone and not (crowd.child_share or crowd.wheelchair_share or crowd.luggage_share):
            return None
        return self.party(size)

    def party(self, size: int) -> list[Member]:
        """The members of a party of ``size``: body kind, prop, radius each (first an adult)."""
        return [self.person(j > 0) for j in range(size)]

    def person(self, behind_adult: bool) -> Member:
        """Body kind, carried prop and radius [m] of one person; ``behind_adult``: a member
        after its party's first one (who alone may be a child). No draw for a share of 0."""
        crowd = self.crowd
        rng = self.rng
        body = _ADULT
        if behind_adult and self._p_child > 0 and rng.uniform() < self._p_child:
            body = _CHILD
        elif self._p_wheelchair > 0 and rng.uniform() < self._p_wheelchair:
            body = _WHEELCHAIR
        prop = int(Prop.NONE)
        if crowd.luggage_share > 0 and rng.uniform() < crowd.luggage_share:
            k = int(np.searchsorted(self._luggage_cumulative, rng.uniform(), side="right"))
            prop = int(self._luggage_props[min(k, len(self._luggage_props) - 1)])
            if body == _WHEELCHAIR and prop == Prop.SUITCASE:
                prop = int(Prop.BAG)  # nobody pulls a suitcase from a wheelchair: a bag on the lap
        if body == _CHILD:
            radius = rng.uniform(*CHILD_RADIUS_M)
        elif body == _WHEELCHAIR:
            radius = WHEELCHAIR_RADIUS_M
        else:
            radius = rng.uniform(*crowd.radius_m)
        return body, prop, radius

    def fill_body(self, people, s: int, body: int = _ADULT, prop: int = Prop.NONE) -> None:
        """Draw the body and looks of the person in row ``s`` of ``people``: desired speed and
        height from ``crowd`` (a child's height, a wheelchair user's seated height and speed
        from the constants above; a suitcase slows its carrier), colours and appearance group
        from ``crowd.appearance``; no pose, no vest, the gait at a random phase."""
        crowd = self.crowd
        rng = self.rng
        # the model stream's draws per person keep their order and count (the looks come from
        # their own stream), so that a scenario without the new crowd features moves as before
        u = rng.random(7)
        z = rng.standard_normal(2)
        jitter = rng.integers(-12, 13, size=(4, 3))
        v_lo = max(0.3, crowd.speed_mean_mps - 3 * crowd.speed_std_mps)
        v_hi = crowd.speed_mean_mps + 3 * crowd.speed_std_mps
        v0 = min(max(crowd.speed_mean_mps + crowd.speed_std_mps * z[0], v_lo), v_hi)
        h_lo = max(0.9, crowd.height_mean_m - 3 * crowd.height_std_m)
        h_hi = min(2.3, crowd.height_mean_m + 3 * crowd.height_std_m)
        height = min(max(crowd.height_mean_m + crowd.height_std_m * z[1], h_lo), h_hi)
        shirt, trousers, skin, hair, group = sample_appearance(crowd.appearance, 1, self.looks_rng)
        people.shirt[s], people.trousers[s], people.skin[s], people.hair[s] = shirt[0], trousers[0], skin[0], hair[0]
        people.group[s] = group[0]
        if self.orange is not None and rng.uniform() < self.orange.share:
            # flame-coloured top (a fire look-alike): the distractor's colour, jittered
            people.shirt[s] = np.clip(np.array(self.orange.colour_bgr) + jitter[0], 0, 255).astype(np.uint8)
        gait = u[5]
        if body == _CHILD:
            height = rng.uniform(*CHILD_HEIGHT_M)
        elif body == _WHEELCHAIR:
            height = WHEELCHAIR_HEIGHT_M
            mean, std = WHEELCHAIR_SPEED_MPS
            v0 = min(max(mean + std * rng.standard_normal(), 0.6), 1.2)
        if prop == Prop.SUITCASE:
            v0 *= SUITCASE_SPEED_FACTOR
        people.v0[s] = v0
        people.height[s] = height
        people.pose[s] = 0
        people.pose_progress[s] = 0.0
        people.prop[s] = prop
        people.prop_raise[s] = 0.0
        people.vest[s] = False
        people.body[s] = body
        people.gait[s] = 2.0 * np.pi * gait
