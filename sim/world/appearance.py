"""Draw people's looks from a scenario's appearance distribution (``crowd.appearance``).

A pure, vectorised function of the distribution, a count and a random generator, so that
the simulation and the test helpers dress people the same way and the same generator
state gives the same colours::

    shirt, trousers, skin, hair, group = sample_appearance(scenario.crowd.appearance, 40, rng)

``group[i]`` indexes ``spec.groups``; it reaches the ground truth as the
``appearance_group`` column of the annotations, so that an evaluation can slice results by
appearance.
"""

from __future__ import annotations

import numpy as np


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
