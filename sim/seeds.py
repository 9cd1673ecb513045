"""The seed split: which scenario seeds train models, which tune detectors, which report quality.

Three disjoint sets, written down once and imported by ``train/`` (footage for learned
models), ``benchmarks/`` and the evaluation (tuning and held-out seeds):

- :data:`TRAINING_SEEDS`: footage rendered for learned models (``stationwatch train NAME``);
  a training command refuses any other seed (:func:`check_training_seed`);
- :data:`TUNING_SEEDS`: seeds on which detector parameters and thresholds are chosen;
- :data:`HELD_OUT_SEEDS`: seeds on which quality is reported and nothing is chosen;
  :data:`RETIRED_HELD_OUT_SEEDS` are those already reported on (:func:`retired_among`).

The library's own default seeds (the ``seed:`` of each scenario file, used by the demo,
the pinned fingerprints and the examples) are evaluation seeds too: training refuses them.
A seed stands for the whole simulation and rendering of a scenario (crowd, noise, staged
events), so a seed in two sets would let a model or a threshold see its own test footage.
"""

from __future__ import annotations

from functools import lru_cache

#: seeds of footage rendered to train learned models (any scenario, any variant)
TRAINING_SEEDS = range(10_000, 20_000)
#: seeds on which detector parameters and alert thresholds are tuned
TUNING_SEEDS = tuple(range(201, 221))
#: seeds on which quality is reported; never used to choose anything
HELD_OUT_SEEDS = tuple(range(901, 951))
#: held-out seeds whose quality figures have been read (README, docs/quality-history.md): after
#: a detector change is made in view of them they are no longer unseen, so a fresh measurement
#: takes the next ones; extended each time a held-out measurement is reported
RETIRED_HELD_OUT_SEEDS = tuple(range(901, 946))


class SeedSplitError(ValueError):
    """A seed used outside its set (training on an evaluation seed, say)."""


@lru_cache(maxsize=1)
def library_seeds() -> frozenset[int]:
    """The default seeds of the scenario library's files (evaluated by the demo and the tests)."""
    from sim.scenario import list_scenarios, load_scenario

    return frozenset(int(load_scenario(name).seed) for name, _ in list_scenarios())


def evaluation_seeds() -> frozenset[int]:
    """Every seed an evaluation may report on: tuning, held-out and the library's defaults."""
    return frozenset(TUNING_SEEDS) | frozenset(HELD_OUT_SEEDS) | library_seeds()


def check_training_seed(seed: int, *, what: str = "training footage") -> int:
    """Return ``seed`` if it may render training footage; raise :class:`SeedSplitError` otherwise."""
    seed = int(seed)
    if seed in evaluation_seeds():
        kind = ("a tuning seed" if seed in TUNING_SEEDS else "a held-out seed" if seed in HELD_OUT_SEEDS
                else "a scenario library default seed")
        raise SeedSplitError(f"{what}: seed {seed} is {kind}, reserved for evaluation; training seeds are "
                             f"{TRAINING_SEEDS.start}..{TRAINING_SEEDS.stop - 1} (sim/seeds.py)")
    if seed not in TRAINING_SEEDS:
        raise SeedSplitError(f"{what}: seed {seed} is outside the training seeds "
                             f"{TRAINING_SEEDS.start}..{TRAINING_SEEDS.stop - 1} (sim/seeds.py)")
    return seed


def retired_among(seeds) -> tuple[int, ...]:
    """The seeds of ``seeds`` already reported on (:data:`RETIRED_HELD_OUT_SEEDS`), in order."""
    return tuple(int(s) for s in seeds if int(s) in RETIRED_HELD_OUT_SEEDS)


def check_evaluation_seeds(seeds, *, held_out: bool = True, what: str = "seeds") -> tuple[int, ...]:
    """Return ``seeds`` as ints if none is a training seed (and, with ``held_out``, all are
    held-out seeds); raise :class:`SeedSplitError` naming the first offender otherwise."""
    out = tuple(int(s) for s in seeds)
    for s in out:
        if s in TRAINING_SEEDS:
            raise SeedSplitError(f"{what}: seed {s} is a training seed (sim/seeds.py); quality on it means nothing")
        if held_out and s not in HELD_OUT_SEEDS:
            raise SeedSplitError(f"{what}: seed {s} is not a held-out seed; held-out seeds are "
                                 f"{HELD_OUT_SEEDS[0]}..{HELD_OUT_SEEDS[-1]} (sim/seeds.py)")
    return out
