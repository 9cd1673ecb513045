"""Keep static backgrounds once they are cast: in the process, and on disk where a folder is given.

A camera's static background (:func:`sim.render.background.build_background`) depends on the
station's geometry, the scenario's occluders and wall distractors, the camera, the render
settings that shape the canvas (shake margin, supersampling, lens, brightness), the scenario's
seed (the lights' flicker keys) and the code that casts and shades it; it does not depend on
the run's seed. A grid renders the same scenario and camera for many seeds and detectors, so
:class:`BackgroundCache` keys each background by a SHA-256 of all of those (the source of
:mod:`sim.render` and :mod:`sim.geometry`, and the numpy and OpenCV versions, included: a
change of code makes a new key, never a stale image) and keeps:

- the last :data:`MEMORY_ENTRIES` backgrounds in the process;
- every background as an ``.npz`` file in ``folder`` (``STATIONWATCH_CACHE_DIR`` by default;
  none: memory only), written atomically (:mod:`detectors.files`), so that worker processes and
  later runs share them.

Cached arrays are read-only: a renderer that wrote into its background would change other
renderers' frames, and raises instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from detectors.files import atomic_write_bytes
from sim.render.background import LightPattern, StaticBackground

MEMORY_ENTRIES = 8  #: backgrounds kept in the process (a 640x360 one takes about 5 MB, a 1280x720 one 20 MB)
CACHE_DIR_ENV = "STATIONWATCH_CACHE_DIR"  #: environment variable naming the disk cache's folder
_FORMAT = "stationwatch.background/1"
_ARRAYS = ("image", "occ_depth", "surface_xyz", "surface_xyz_q")

_code_digest: str | None = None


def code_digest() -> str:
    """SHA-256 of the code a background depends on: :mod:`sim.render`'s sources, :mod:`sim.geometry`,
    and the numpy and OpenCV versions (computed once per process)."""
    global _code_digest
    if _code_digest is None:
        import cv2

        h = hashlib.sha256(f"{_FORMAT} numpy {np.__version__} cv2 {cv2.__version__}".encode())
        here = Path(__file__).resolve().parent
        for path in sorted(here.glob("*.py")) + [here.parent / "geometry.py"]:
            h.update(path.name.encode())
            h.update(path.read_bytes())
        _code_digest = h.hexdigest()
    return _code_digest


def background_key(*, scenario, tunnels: dict, canvas_cam, camera, margin: int, supersample: int,
                   brightness: float) -> str:
    """The cache key (hex) of one camera's static background: every input of its cast and shading."""
    h = hashlib.sha256(code_digest().encode())
    rs = scenario.render
    parts = {
        "station": scenario.station.model_dump(mode="json"),
        "occluders": [o.model_dump(mode="json") for o in rs.occluders],
        "distractors": [d.model_dump(mode="json") for d in scenario.distractors],
        "lens": [rs.lens_k1, rs.lens_k2],
        "margin": int(margin), "supersample": int(supersample), "brightness": float(brightness),
        "scenario_seed": int(scenario.seed),
        "tunnels": {str(k): np.asarray(v, np.float64).tolist() for k, v in sorted(tunnels.items())},
    }
    h.update(json.dumps(parts, sort_keys=True, default=repr).encode())
    for cam in (canvas_cam, camera):
        h.update(f"{cam.width}x{cam.height}".encode())
        for arr in (cam.K, cam.R, cam.position):
            h.update(np.ascontiguousarray(arr, np.float64).tobytes())
    return h.hexdigest()


class BackgroundCache:
    """Static backgrounds by key, in memory (last :data:`MEMORY_ENTRIES`) and in ``folder`` if given."""

    def __init__(self, folder: str | os.PathLike | None = None, *, memory_entries: int = MEMORY_ENTRIES) -> None:
        self.folder = None if folder is None else Path(folder)
        self.memory_entries = int(memory_entries)
        self._memory: OrderedDict[str, StaticBackground] = OrderedDict()
        self.hits = self.disk_hits = self.misses = 0

    def get(self, key: str, build, light_specs) -> StaticBackground:
        """The background of ``key``: from memory, else from disk, else ``build()`` (then kept).
        ``light_specs`` are the scene's flickering light specs, in order (a file keeps their patterns only)."""
        bg = self._memory.get(key)
        if bg is not None:
            self._memory.move_to_end(key)
            self.hits += 1
            return bg
        bg = self._load(key, light_specs)
        if bg is not None:
            self.disk_hits += 1
        else:
            self.misses += 1
            bg = _frozen(build())
            self._store(key, bg)
        self._memory[key] = bg
        while len(self._memory) > self.memory_entries:
            self._memory.popitem(last=False)
        return bg

    def clear(self) -> None:
        """Forget the backgrounds kept in memory (the files stay)."""
        self._memory.clear()

    def _path(self, key: str) -> Path | None:
        return None if self.folder is None else self.folder / f"background-{key[:40]}.npz"

    def _load(self, key: str, light_specs) -> StaticBackground | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["key"]) != key or int(z["n_lights"]) != len(light_specs):
                    return None
                arrays = {name: z[name] for name in _ARRAYS}
                boxes, keys = z["light_boxes"], z["light_keys"]
                lights = [LightPattern(spec=spec, key=int(keys[k]), box=tuple(int(v) for v in boxes[k]),
                                       add=z[f"light_{k}"]) for k, spec in enumerate(light_specs)]
                cull_box = tuple(float(v) for v in z["cull_box"])
        except (OSError, ValueError, KeyError):  # a damaged or foreign file: cast again and overwrite it
            return None
        return _frozen(StaticBackground(**arrays, lights=lights, cull_box=cull_box))

    def _store(self, key: str, bg: StaticBackground) -> None:
        path = self._path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        n = len(bg.lights)
        np.savez(buf, key=np.array(key), n_lights=np.array(n), cull_box=np.array(bg.cull_box, np.float64),
                 light_boxes=np.array([lp.box for lp in bg.lights], np.int64).reshape(n, 4),
                 light_keys=np.array([lp.key for lp in bg.lights], np.uint64),
                 **{name: getattr(bg, name) for name in _ARRAYS},
                 **{f"light_{k}": lp.add for k, lp in enumerate(bg.lights)})
        atomic_write_bytes(path, buf.getvalue())


def _frozen(bg: StaticBackground) -> StaticBackground:
    """``bg`` with its arrays read-only (they are shared by every renderer of the same key)."""
    for name in _ARRAYS:
        getattr(bg, name).setflags(write=False)
    for lp in bg.lights:
        lp.add.setflags(write=False)
    return bg


_default: BackgroundCache | None = None


def default_cache() -> BackgroundCache:
    """The process's cache: on disk in ``$STATIONWATCH_CACHE_DIR`` when that is set, else in memory only."""
    global _default
    folder = os.environ.get(CACHE_DIR_ENV) or None
    if _default is None or (None if folder is None else Path(folder)) != _default.folder:
        _default = BackgroundCache(folder)
    return _default
