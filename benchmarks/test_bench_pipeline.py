"""pytest-benchmark suites for the three hot paths, each beside its peer in the same session.

Run with ``make bench`` (or ``pytest benchmarks --benchmark-only``); ``make test`` does not
collect this folder. Compare each group's rows: the ratio to the peer is the figure that
travels between machines, the absolute times are not.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from sim.scenario import load_scenario


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(before)


# --- simulation: 1,000 pedestrians, vectorised model against the per-agent Mesa peer --------

@pytest.fixture(scope="module")
def hall_models():
    from bench_sim import hall_scenario, naive_from
    from sim.world.model import StationModel

    model = StationModel(hall_scenario(1000))
    model.run_until(1.0)
    return model, naive_from(model)


@pytest.mark.benchmark(group="sim-1k-step")
def test_sim_vectorised_step(benchmark, hall_models):
    model, _ = hall_models
    benchmark(model.step)


@pytest.mark.benchmark(group="sim-1k-step")
def test_sim_naive_mesa_step_peer(benchmark, hall_models):
    _, naive = hall_models
    benchmark.pedantic(naive.step, rounds=5, iterations=1)


# --- rendering: 640x360, 200 people, noise and JPEG, against one cv2.ellipse per body part ---

@pytest.fixture(scope="module")
def render_setup():
    from sim.render import Renderer, sample_crowd

    sc = load_scenario("concourse_quiet")
    r = Renderer(sc, sc.cameras[0], seed=1)
    state = sample_crowd(sc, 200, seed=1, camera=r.camera)
    return sc, r, state


@pytest.mark.benchmark(group="render-200")
def test_render_frame(benchmark, render_setup):
    _, r, state = render_setup
    benchmark(lambda: r.render(state, 1.0, visibility=False))


@pytest.mark.benchmark(group="render-200")
def test_render_naive_ellipses_peer(benchmark, render_setup):
    from bench_render import naive_render

    sc, r, state = render_setup
    benchmark(lambda: naive_render(r.background, r.camera, state, sc.render.noise_std, sc.render.jpeg_quality))


# --- detection core: 640x360, intrusion + density, against MOG2 alone at full size -----------

@pytest.fixture(scope="module")
def core_frames():
    from sim.source import SyntheticSource

    sc = load_scenario("platform_intrusion")
    return [f for f in SyntheticSource(sc, duration_s=30)], sc


@pytest.mark.benchmark(group="detect-640x360")
def test_detection_core_frame(benchmark, core_frames):
    from detectors.core import DetectionCore
    from detectors.site import SiteConfig
    from sim.site_export import site_config_dict

    frames, sc = core_frames
    core = DetectionCore(SiteConfig.from_dict(site_config_dict(sc, sc.cameras[0].name)))
    for f in frames[:60]:
        core.process(f)
    it = iter(frames[60:])  # in time order: a jump back in time would flood the background model
    benchmark.pedantic(lambda: core.process(next(it)), rounds=len(frames) - 60, iterations=1)


@pytest.mark.benchmark(group="detect-640x360")
def test_mog2_grey_full_size_peer(benchmark, core_frames):
    frames, _ = core_frames
    greys = [cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY) for f in frames]
    mog = cv2.createBackgroundSubtractorMOG2(detectShadows=False)
    for g in greys[:60]:
        mog.apply(g)
    it = iter(greys[60:])
    benchmark.pedantic(lambda: mog.apply(next(it)), rounds=len(greys) - 60, iterations=1)


