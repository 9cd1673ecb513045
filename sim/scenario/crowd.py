"""The ``crowd:`` block: who arrives (speeds, bodies, parties, children, wheelchairs,
luggage) and how they look (clothing groups and palettes)."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from sim.scenario.fields import BGR, Strict
from sim.scenario.keys import LocatedError

# Default appearance: four coarse clothing styles (BGR), shared skin and hair palettes.
_DEFAULT_GROUPS = (
    ("dark_formal", 0.3, ((40, 40, 40), (60, 50, 40), (90, 60, 30), (30, 30, 80), (70, 70, 70)),
     ((30, 30, 30), (50, 40, 30), (70, 70, 70))),
    ("light_casual", 0.3, ((200, 200, 200), (180, 130, 70), (70, 160, 200), (90, 180, 120), (170, 170, 150)),
     ((120, 80, 40), (60, 60, 60), (150, 150, 150))),
    ("bright", 0.2, ((40, 40, 200), (40, 180, 240), (200, 80, 40), (160, 60, 160), (60, 200, 60)),
     ((110, 70, 30), (40, 40, 40), (90, 90, 90))),
    ("coats", 0.2, ((120, 160, 190), (80, 110, 140), (100, 120, 120), (60, 90, 120), (140, 170, 200)),
     ((40, 50, 60), (30, 30, 30), (100, 110, 120))),
)
_DEFAULT_SKIN = ((180, 200, 240), (140, 170, 220), (100, 140, 190), (70, 100, 150), (50, 70, 110))
_DEFAULT_HAIR = ((20, 20, 20), (30, 40, 60), (40, 70, 110), (120, 150, 180), (150, 150, 150))


class AppearanceGroupSpec(Strict):
    """One clothing style: a share of the crowd and the palettes its people are dressed from."""

    name: str
    weight: float = Field(gt=0, description="relative share of the people drawn from this group")
    shirt_palette: list[BGR] = Field(min_length=1, description="BGR colours of tops (one drawn per person, uniformly)")
    trousers_palette: list[BGR] = Field(min_length=1, description="BGR colours of trousers and skirts")
    skin_palette: list[BGR] | None = Field(None, min_length=1, description="BGR skin tones (None: the shared palette)")
    hair_palette: list[BGR] | None = Field(None, min_length=1, description="BGR hair colours (None: the shared palette)")


def _default_groups() -> list[AppearanceGroupSpec]:
    return [AppearanceGroupSpec(name=n, weight=w, shirt_palette=list(s), trousers_palette=list(t))
            for n, w, s, t in _DEFAULT_GROUPS]


class AppearanceSpec(Strict):
    """The distribution of looks in the crowd (:func:`sim.world.appearance.sample_appearance` draws from it).

    A person's group is drawn with probability weight / sum of weights; its index in
    ``groups`` is the person's ``appearance_group`` in the crowd state and the annotations.
    """

    groups: list[AppearanceGroupSpec] = Field(default_factory=_default_groups, min_length=1, max_length=1000)
    skin_palette: list[BGR] = Field(default_factory=lambda: list(_DEFAULT_SKIN), min_length=1,
                                    description="BGR skin tones shared by the groups that do not set their own")
    hair_palette: list[BGR] = Field(default_factory=lambda: list(_DEFAULT_HAIR), min_length=1,
                                    description="BGR hair colours shared by the groups that do not set their own")
    jitter: int = Field(12, ge=0, le=64, description="[grey levels] uniform per-channel jitter added to every drawn colour")

    @field_validator("groups")
    @classmethod
    def _unique_names(cls, v):
        names = [g.name for g in v]
        if len(set(names)) != len(names):
            raise ValueError(f"appearance group names must be unique; got {names}")
        return v

    def group_names(self) -> list[str]:
        """Names of the groups, indexed by ``appearance_group``."""
        return [g.name for g in self.groups]


class CrowdSpec(Strict):
    """Who arrives: speeds and bodies, walking groups, children, wheelchair users, luggage, looks.

    All of it is drawn from the scenario's seed. Shares are per person: ``child_share`` of
    the people are children (each walks in a group behind an adult, so it cannot exceed the
    share of people who walk behind a group's first member), ``wheelchair_share`` of them
    use a wheelchair, ``luggage_share`` of them carry a suitcase, bag or backpack.
    """

    speed_mean_mps: float = Field(1.34, gt=0, description="[m/s] mean desired speed (v0), Weidmann 1993")
    speed_std_mps: float = Field(0.26, ge=0, description="[m/s] spread of desired speeds")
    radius_m: tuple[float, float] = Field((0.2, 0.26), description="[m] body radius range (uniform)")
    height_mean_m: float = Field(1.70, gt=0.5, lt=2.5, description="[m] mean body height")
    height_std_m: float = Field(0.09, ge=0, description="[m] spread of body heights")
    initial_count: int = Field(0, ge=0, description="agents already walking at t = 0")
    wait_fraction: float = Field(0.3, ge=0, le=1, description="share of arrivals that stop and wait a while")
    wait_s: tuple[float, float] = Field((5.0, 30.0), description="[s] range of waiting times")
    max_agents: int = Field(3000, gt=0, description="arrivals beyond this many agents present are dropped")
    appearance: AppearanceSpec = Field(default_factory=AppearanceSpec, description="clothing groups, palettes and their shares")
    group_sizes: dict[int, float] = Field(default_factory=lambda: {1: 1.0}, description="relative weights of the sizes "
                                          "of the parties that arrive together (1: alone); members walk together, "
                                          "share their exit and waiting spot; entrance rates and train counts stay "
                                          "in persons")
    child_share: float = Field(0.0, ge=0, le=1, description="share of the people who are children (body 1.1 to 1.4 m, "
                                                             "walking in a group behind an adult)")
    wheelchair_share: float = Field(0.0, ge=0, le=1, description="share of the people in a wheelchair (0.4 m radius, "
                                                                  "about 0.9 m/s, 1.3 m seated)")
    luggage_share: float = Field(0.0, ge=0, le=1, description="share of the people carrying luggage (suitcase carriers "
                                                               "walk 10 % slower)")
    luggage_kinds: dict[Literal["suitcase", "bag", "backpack"], float] = Field(
        default_factory=lambda: {"suitcase": 0.4, "bag": 0.3, "backpack": 0.3},
        description="relative weights of the kinds of luggage carried")
    train_share: float = Field(0.0, ge=0, le=1, description="share of the parties arriving by an entrance that come to "
                                                             "take a train: they wait near a boarding exit "
                                                             "(station.trains[].board) and board the next train")

    @model_validator(mode="after")
    def _composition(self) -> "CrowdSpec":
        for key, lo_hi in (("radius_m", self.radius_m), ("wait_s", self.wait_s)):
            if not 0 <= lo_hi[0] <= lo_hi[1]:
                raise LocatedError(("crowd", key), f"must be [low, high] with 0 <= low <= high; got {list(lo_hi)}")
        sizes = self.group_sizes
        if not sizes or any(not 1 <= k <= 10 for k in sizes):
            raise LocatedError(("crowd", "group_sizes"), f": keys must be party sizes within [1, 10]; got {sorted(sizes)}")
        if any(not (w >= 0 and math.isfinite(w)) for w in sizes.values()) or sum(sizes.values()) <= 0:
            raise LocatedError(("crowd", "group_sizes"), f": weights must be >= 0 with a positive sum; got {dict(sizes)}")
        mean = sum(k * w for k, w in sizes.items()) / sum(sizes.values())
        behind = (mean - 1.0) / mean  # share of the people who walk behind their group's first member
        if self.child_share > behind + 1e-9:
            raise LocatedError(("crowd", "child_share"), f"must be <= {behind:.4g}, the share of the people who walk in a "
                            f"group behind an adult ((mean size - 1) / mean size with group_sizes={dict(sizes)}); "
                            f"got {self.child_share:g}")
        if self.child_share + self.wheelchair_share > 1 + 1e-9:
            raise LocatedError(("crowd", "wheelchair_share"), f": child_share + wheelchair_share must be <= 1; got "
                            f"{self.child_share:g} + {self.wheelchair_share:g}")
        kinds = self.luggage_kinds
        if any(not (w >= 0 and math.isfinite(w)) for w in kinds.values()) or sum(kinds.values()) <= 0:
            raise LocatedError(("crowd", "luggage_kinds"), f": weights must be >= 0 with a positive sum; got {dict(kinds)}")
        return self

    def mean_group_size(self) -> float:
        """Mean number of people in an arriving party."""
        return sum(k * w for k, w in self.group_sizes.items()) / sum(self.group_sizes.values())
