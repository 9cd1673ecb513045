"""The static background cache: a cached background renders the same bytes as a fresh cast, the key
follows every input the cast depends on and nothing else, and damaged files are cast again."""

from __future__ import annotations

import numpy as np
import pytest

from sim.render import Renderer, sample_crowd
from sim.render.background_cache import BackgroundCache, background_key
from sim.scenario import load_scenario


@pytest.fixture(scope="module")
def fire_scene():
    """A scenario with a flickering light (a lit background: its patterns go through the file too)."""
    return load_scenario("negatives_fire")


def _frames(renderer: Renderer, scenario, n: int = 3) -> list[bytes]:
    out = []
    for k in range(n):
        t = k * 0.7
        crowd = sample_crowd(scenario, n=12, seed=k, camera=renderer.camera, t=t)
        out.append(renderer.render(crowd, t)[0].tobytes())
    return out


def _key(renderer: Renderer, scenario) -> str:
    from sim.render.renderer import _tunnels

    cam = renderer.camera
    m = renderer._margin
    canvas = cam.shifted(m, m, cam.width + 2 * m, cam.height + 2 * m)
    return background_key(scenario=scenario, tunnels=_tunnels(scenario), canvas_cam=canvas, camera=cam, margin=m,
                          supersample=1, brightness=scenario.render.brightness)


def test_cached_background_renders_the_same_bytes_as_a_fresh_cast(fire_scene, tmp_path):
    cam = fire_scene.cameras[0].name
    fresh = Renderer(fire_scene, cam, seed=4, supersample=1, cache=False)
    store = BackgroundCache(tmp_path)
    first = Renderer(fire_scene, cam, seed=4, supersample=1, cache=store)
    again = Renderer(fire_scene, cam, seed=4, supersample=1, cache=store)
    from_disk = Renderer(fire_scene, cam, seed=4, supersample=1, cache=BackgroundCache(tmp_path))
    assert (store.misses, store.hits) == (1, 1)
    assert len(list(tmp_path.glob("background-*.npz"))) == 1
    assert any(lp.add.size for lp in fresh._static.lights)  # the light patterns are part of what is kept
    expected = _frames(fresh, fire_scene)
    for r in (first, again, from_disk):
        assert _frames(r, fire_scene) == expected
    assert again._static is first._static  # the memory hit shares the arrays
    assert from_disk._static is not first._static


def test_cached_arrays_are_read_only(fire_scene, tmp_path):
    r = Renderer(fire_scene, fire_scene.cameras[0].name, seed=1, supersample=1, cache=BackgroundCache(tmp_path))
    with pytest.raises(ValueError, match="read-only"):
        r._static.image[0, 0] = 0
    with pytest.raises(ValueError, match="read-only"):
        r._static.occ_depth[0, 0] = 0


def test_the_run_seed_shares_a_background_and_the_scene_does_not(fire_scene):
    store = BackgroundCache()
    cam = fire_scene.cameras[0].name
    Renderer(fire_scene, cam, seed=1, supersample=1, cache=store)
    Renderer(fire_scene, cam, seed=2, supersample=1, cache=store)
    assert (store.misses, store.hits) == (1, 1)
    noisier = fire_scene.with_overrides(**{"render.noise_std": fire_scene.render.noise_std + 3})
    Renderer(noisier, cam, seed=3, supersample=1, cache=store)
    assert (store.misses, store.hits) == (1, 2)  # noise is applied per frame: the same background
    base = _key(Renderer(fire_scene, cam, seed=1, supersample=1, cache=store), fire_scene)
    changed = {
        "brightness": fire_scene.with_overrides(**{"render.brightness": fire_scene.render.brightness * 0.8}),
        "scenario seed": fire_scene.with_overrides(seed=fire_scene.seed + 1),
        "lens": fire_scene.with_overrides(**{"render.lens_k1": -0.05}),
    }
    for what, sc in changed.items():
        r = Renderer(sc, cam, seed=1, supersample=1, cache=store)
        assert _key(r, sc) != base, what
    assert store.misses == 1 + len(changed)


def test_a_damaged_file_is_cast_again(fire_scene, tmp_path):
    cam = fire_scene.cameras[0].name
    Renderer(fire_scene, cam, seed=1, supersample=1, cache=BackgroundCache(tmp_path))
    (path,) = tmp_path.glob("background-*.npz")
    path.write_bytes(b"not an npz file")
    store = BackgroundCache(tmp_path)
    r = Renderer(fire_scene, cam, seed=1, supersample=1, cache=store)
    assert (store.misses, store.disk_hits) == (1, 0)
    fresh = Renderer(fire_scene, cam, seed=1, supersample=1, cache=False)
    assert np.array_equal(r._static.image, fresh._static.image)
    assert np.load(path)["image"].shape == fresh._static.image.shape  # rewritten whole


def test_an_experiment_with_a_cache_folder_keeps_one_background_per_camera_and_the_same_results(tmp_path, monkeypatch):
    import pyarrow.parquet as pq
    import yaml

    from eval.cli import main
    from sim.render.background_cache import CACHE_DIR_ENV, default_cache

    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    spec = {"name": "cached", "scenarios": ["concourse_quiet"], "seeds": [1, 2], "duration_s": 1,
            "detectors": [{"name": "builtin"}]}
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(spec))
    default_cache().clear()
    assert main(["experiment", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "plain"), "--jobs", "1"]) == 0
    default_cache().clear()
    with monkeypatch.context() as m:  # the option sets the variable for this process and its workers
        m.setenv(CACHE_DIR_ENV, "")
        assert main(["experiment", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "cached"), "--jobs", "1",
                     "--cache-dir", str(tmp_path / "bg")]) == 0
    n_cameras = len(load_scenario("concourse_quiet").cameras)
    assert len(list((tmp_path / "bg").glob("background-*.npz"))) == n_cameras  # two seeds, one cast per camera
    for table in ("scores.parquet", "alerts.parquet", "ground_truth.parquet"):
        a, b = (pq.read_table(tmp_path / d / table).to_pandas() for d in ("plain", "cached"))
        assert a.equals(b), table  # (NaN boxes compare equal where both have them)
        assert table != "scores.parquet" or len(a) > 0
