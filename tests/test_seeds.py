"""The seed split: training, tuning and held-out seeds are disjoint; training refuses the others."""

from __future__ import annotations

import pytest

from sim.seeds import (HELD_OUT_SEEDS, TRAINING_SEEDS, TUNING_SEEDS, SeedSplitError, check_evaluation_seeds,
                       check_training_seed, evaluation_seeds, library_seeds)


def test_the_three_sets_are_disjoint_and_the_library_seeds_are_not_training_seeds():
    training, tuning, held_out = set(TRAINING_SEEDS), set(TUNING_SEEDS), set(HELD_OUT_SEEDS)
    assert not (training & tuning) and not (training & held_out) and not (tuning & held_out)
    assert not (library_seeds() & training)
    assert len(held_out) >= 5 and len(tuning) >= 5
    assert {21, 12, 41} <= library_seeds() <= evaluation_seeds()


@pytest.mark.parametrize("seed, match", [
    (TUNING_SEEDS[0], "is a tuning seed, reserved for evaluation"),
    (HELD_OUT_SEEDS[0], "is a held-out seed, reserved for evaluation"),
    (21, "is a scenario library default seed"),
    (5, "is outside the training seeds 10000..19999"),
])
def test_training_refuses_evaluation_seeds(seed, match):
    with pytest.raises(SeedSplitError, match=match):
        check_training_seed(seed)


def test_training_seed_accepted_and_evaluation_checks():
    assert check_training_seed(TRAINING_SEEDS[0]) == TRAINING_SEEDS[0]
    assert check_evaluation_seeds(HELD_OUT_SEEDS[:3]) == tuple(HELD_OUT_SEEDS[:3])
    with pytest.raises(SeedSplitError, match="is not a held-out seed"):
        check_evaluation_seeds([TUNING_SEEDS[0]])
    assert check_evaluation_seeds([TUNING_SEEDS[0]], held_out=False) == (TUNING_SEEDS[0],)
    with pytest.raises(SeedSplitError, match="is a training seed"):
        check_evaluation_seeds([TRAINING_SEEDS[5]], held_out=False)


def test_training_clips_use_training_seeds_only():
    from train.density import Clip, default_clips, render_samples

    clips = default_clips(7)
    assert len(clips) == 7 and all(c.seed in TRAINING_SEEDS for c in clips)
    assert len({c.seed for c in clips}) == 7
    with pytest.raises(SeedSplitError, match="seed 901 is a held-out seed"):
        render_samples([Clip("concourse_quiet", 901)], progress=False)
