"""The seed split: training, tuning and held-out seeds are disjoint; training refuses the others."""

from __future__ import annotations

import pytest

from sim.seeds import (HELD_OUT_SEEDS, RETIRED_HELD_OUT_SEEDS, TRAINING_SEEDS, TUNING_SEEDS, SeedSplitError, check_evaluation_seeds,
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


def test_retired_held_out_seeds_are_held_out_and_leave_fresh_ones():
    from sim.seeds import retired_among

    assert set(RETIRED_HELD_OUT_SEEDS) < set(HELD_OUT_SEEDS)  # some held-out seeds stay unseen
    first_fresh = max(RETIRED_HELD_OUT_SEEDS) + 1
    assert retired_among([first_fresh - 1, first_fresh, 205]) == (first_fresh - 1,)


def test_bench_quality_warns_on_retired_seeds_and_not_on_fresh_ones():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_quality.py"
    fresh = max(RETIRED_HELD_OUT_SEEDS) + 1

    def stderr(seed):  # an unknown type stops the script after the seed checks, before any run
        return subprocess.run([sys.executable, str(script), "--seeds", str(seed), "--types", "no_such_type"],
                              capture_output=True, text=True, timeout=120).stderr

    assert f"held-out seeds {fresh - 1} were reported on before" in stderr(fresh - 1)
    assert "reported on before" not in stderr(fresh)


def test_training_clips_use_training_seeds_only():
    from train.clips import Clip, default_clips
    from train.density import render_samples

    clips = default_clips(7)
    assert len(clips) == 7 and all(c.seed in TRAINING_SEEDS for c in clips)
    assert len({c.seed for c in clips}) == 7
    with pytest.raises(SeedSplitError, match="seed 901 is a held-out seed"):
        render_samples([Clip("concourse_quiet", 901)], progress=False)
