"""Render synthetic CCTV frames of a station crowd, with exact per-person annotations.

:class:`Renderer` puts the pieces of :mod:`sim.render` together for one camera: it builds
the static station once (:mod:`~sim.render.background`), then per frame lights it
(flickering lights, firelight, a train's headlights and windows), puts the trains into it
with their depth (:mod:`~sim.render.trains`), builds the people (:mod:`~sim.render.people`),
the objects on the floor (:mod:`~sim.render.objects`) and the fires (:mod:`~sim.render.fire`),
paints them far to near (:mod:`~sim.render.painter`), crops the shaken image out of the
canvas, applies the camera effects (:mod:`~sim.render.effects`) and annotates the people and
trains it shows.

Randomness is keyed by ``(seed, camera, frame index)``: a frame's noise and shake do not
depend on which frames were rendered before it, and the same seed gives the same bytes.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace

import numpy as np

from sim.annotate import FrameAnnotations
from sim.render.background import build_background
from sim.render.background_cache import BackgroundCache, background_key, default_cache
from sim.render.camera import PinholeCamera
from sim.render.effects import CameraEffects, LensDistortion
from sim.render.fire import FireDrawer
from sim.render.objects import object_items
from sim.render.occlusion import CombinedScreen, OcclusionScreen, VisibilityBuffer, patch_screen
from sim.render.painter import Painter
from sim.render.people import People, build_people
from sim.render.scene import StationScene
from sim.render.shapes import Item
from sim.render.textures import mix64
from sim.render.trains import TrainDrawer, TrainLayer
from sim.render.view import CanvasView
from sim.state import CrowdState, WorldState

_MAX_SUPERSAMPLED_PX = 1280 * 720  #: images up to this size get a 2 x 2 supersampled background


class RenderError(ValueError):
    """A renderer that cannot be built from the given scenario/camera."""


@dataclass(frozen=True, kw_only=True)
class FrameOccluders:
    """What hides people in a frame, in the three forms the frame needs: the screen that flags who may
    be hidden, the painter that restores what stands in front, the buffer of visible fractions."""

    screen: OcclusionScreen | CombinedScreen
    painter: Painter
    visibility: VisibilityBuffer


class Renderer:
    """Render frames of one camera of a scenario.

    ``seed`` (an int, a ``numpy.random.Generator`` or ``None`` for the scenario's seed)
    keys the per-frame noise and shake. Build once per camera; the constructor ray-casts
    the static background (about a second at 640x360) unless ``cache`` holds it already
    (``True``: :func:`~sim.render.background_cache.default_cache`, in memory and in
    ``$STATIONWATCH_CACHE_DIR``; a :class:`~sim.render.background_cache.BackgroundCache`;
    ``False``: cast every time). Raises :class:`RenderError` when the scenario's lens
    distortion folds this camera's image back on itself.

    Example::

        r = Renderer(scenario, scenario.camera("hall"), seed=3)
        image, ann = r.render(model.snapshot())
    """

    def __init__(self, scenario, camera_spec=None, seed: int | np.random.Generator | None = None, *,
                 supersample: int | None = None, noise_bank_frames: int = 8,
                 cache: BackgroundCache | bool = True) -> None:
        if camera_spec is None:
            camera_spec = scenario.cameras[0]
        elif isinstance(camera_spec, str):
            camera_spec = scenario.camera(camera_spec)
        self.scenario = scenario
        self.spec = camera_spec
        self.render_spec = rs = scenario.render
        if isinstance(seed, np.random.Generator):
            seed = int(seed.integers(0, 2**63 - 1))
        self.seed = int(scenario.seed if seed is None else seed)
        if self.seed < 0:
            raise RenderError(f"seed must be >= 0; got {self.seed}")
        self.camera = PinholeCamera.from_spec(camera_spec)
        self.width, self.height = self.camera.width, self.camera.height
        self._margin = m = int(math.ceil(rs.shake_px)) + 1 if rs.shake_px > 0 else 0
        canvas_cam = self.camera.shifted(m, m, self.width + 2 * m, self.height + 2 * m)
        self._key = mix64(self.seed * 1_000_003 + zlib.crc32(camera_spec.name.encode()))

        self.scene = StationScene(scenario.station, rs.occluders, scenario.distractors, tunnels=_tunnels(scenario))
        if supersample is None:
            supersample = 2 if self.width * self.height <= _MAX_SUPERSAMPLED_PX else 1
        #: the lens distortion of the canvas (None without one); people's outlines go through it
        self.lens = self._lens(canvas_cam) if rs.lens_k1 != 0 or rs.lens_k2 != 0 else None
        supersample = max(1, int(supersample))

        def build():
            return build_background(self.scene, canvas_cam, camera=self.camera, margin=m, supersample=supersample,
                                    lens=self.lens, brightness=rs.brightness, scenario_seed=scenario.seed)

        if cache is False:
            static = build()
        else:
            store = default_cache() if cache is True else cache
            key = background_key(scenario=scenario, tunnels=_tunnels(scenario), canvas_cam=canvas_cam,
                                 camera=self.camera, margin=m, supersample=supersample, brightness=rs.brightness)
            static = store.get(key, build, [spec for _, spec in self.scene.lights])
        self._static = static
        self._bg = static.image  # the canvas's static image, lit
        self._lights = static.lights
        self._occ_depth = static.occ_depth  # canvas-sized float32 [m], inf where nothing can hide a person
        self.view = CanvasView(camera=canvas_cam, lens=self.lens, brightness=float(rs.brightness),
                               cull_box=static.cull_box)
        self._screen = OcclusionScreen(static.occ_depth)
        self._visibility = VisibilityBuffer(static.occ_depth, width=self.width, height=self.height, margin=m)
        self._painter = Painter(static.occ_depth)
        #: what hides people in a frame: the static scene's occluders, or those and a train's layer
        self._occluders = FrameOccluders(screen=self._screen, painter=self._painter, visibility=self._visibility)
        self._occluders_of: tuple = (None, self._occluders)  # (the train layer, its FrameOccluders)
        self._fire = FireDrawer(self.view, scenario_seed=scenario.seed, canvas_shape=self._bg.shape[:2],
                                surface_xyz_q=static.surface_xyz_q, screen=self._screen)
        self._trains = TrainDrawer(self.view, surface_xyz_q=static.surface_xyz_q, canvas_shape=self._bg.shape[:2])

        # camera shake: two sinusoids per axis with seeded frequencies and phases
        srng = np.random.default_rng([self.seed, 0x5AA4E])
        self._shake_freq = srng.uniform([0.3, 1.7], [0.9, 3.1], size=(2, 2))  # [Hz] per axis, per component
        self._shake_phase = srng.uniform(0, 2 * np.pi, size=(2, 2))
        # lighting, blur, sensor noise and compression, per frame ----------------------------------
        self.effects = CameraEffects(rs, width=self.width, height=self.height, fps=self.camera.fps, seed=self.seed,
                                     bank_frames=noise_bank_frames)
        if rs.bitrate_kbps is not None:
            # the quality at which this camera's empty station fits the stream's bytes per frame
            reference = self.effects.apply(self.background, 0.0, self._frame_hash(0), compress=False)
            self.effects.calibrate_bitrate(reference)

    def _lens(self, canvas_cam: PinholeCamera) -> LensDistortion:
        """The scenario's lens on the canvas; :class:`RenderError` when it folds the image back on itself."""
        rs, spec = self.render_spec, self.spec
        lens = LensDistortion.for_camera(rs.lens_k1, rs.lens_k2, canvas_cam.K)
        try:
            lens.check_image(canvas_cam.width, canvas_cam.height,
                             what=f"the image of camera {spec.name!r} (hfov {spec.hfov_deg:g} deg)")
        except ValueError as exc:
            raise RenderError(str(exc)) from None
        return lens

    @property
    def jpeg_quality(self) -> int:
        """The JPEG quality of the frames (``render.jpeg_quality``, or the one ``render.bitrate_kbps`` gives)."""
        return self.effects.jpeg_quality

    def _frame_hash(self, frame_idx: int) -> int:
        """64-bit hash of (seed, camera, frame index): picks the frame's noise."""
        return mix64(self._key ^ (frame_idx & 0xFFFFFFFF) * 0x9E3779B1)

    @property
    def background(self) -> np.ndarray:
        """(H, W, 3) uint8: the static station as this camera sees it, lit, without people or camera effects."""
        m = self._margin
        return self._bg[m:m + self.height, m:m + self.width].copy()

    def frame_index(self, t: float) -> int:
        """The frame number of time ``t`` [s] at the camera's frame rate."""
        return int(round(float(t) * self.camera.fps))

    def shake_offset(self, t: float) -> tuple[int, int]:
        """Integer camera shake (dx, dy) [px] at time ``t``: image content moves by (-dx, -dy)."""
        amp = self.render_spec.shake_px
        if amp <= 0:
            return 0, 0
        w = 2 * np.pi * self._shake_freq * float(t) + self._shake_phase
        s = 0.7 * np.sin(w[:, 0]) + 0.3 * np.sin(w[:, 1])
        dx, dy = (int(np.clip(round(amp * v), -self._margin, self._margin)) for v in s)
        return dx, dy

    def render(self, state: WorldState | CrowdState, t: float | None = None, *, visibility: bool = True
               ) -> tuple[np.ndarray, FrameAnnotations]:
        """One frame: the BGR uint8 image and the annotations of the people it shows.

        ``state`` is a :class:`~sim.state.WorldState` (the crowd, objects on the floor, fires)
        or a bare :class:`~sim.state.CrowdState`. ``t`` [s] defaults to ``state.t``; it picks
        the frame's noise and shake and the level of flickering lights. With
        ``visibility=False`` the visible fractions are not computed (nan), which saves the
        cost of the quarter-resolution id buffer. Objects and fires are drawn, not annotated
        (their ground truth is the event's, :func:`sim.annotate.camera_instances`); trains
        are drawn and annotated (``ann.trains``).
        """
        if isinstance(state, WorldState):
            crowd, world = state.crowd, state
        elif isinstance(state, CrowdState):
            crowd, world = state, None
        else:
            raise TypeError(f"Renderer.render: state must be a WorldState or a CrowdState; got {type(state).__name__}")
        t = float(state.t if t is None else t)
        frame_idx = self.frame_index(t)
        m = self._margin
        dx, dy = self.shake_offset(t)
        fires = world.fires if world is not None and len(world.fires) else None
        trains = world.trains if world is not None and len(world.trains) else None
        base = self._frame_background(t, fires, trains)
        layer = self._trains.layer(trains) if trains is not None else None
        occ = self._occluders if layer is None else self._with_trains(layer)
        if layer is not None:
            self._trains.paint(base, self._occ_depth, layer)
        canvas = base.copy()
        geo = self._people(crowd, occ.screen)
        items = self._items(world, occ.screen) if world is not None and (len(world.objects) or fires is not None) else None
        if geo is not None or items:
            occ.painter.paint(canvas, geo, items, base)
        img = canvas[m + dy:m + dy + self.height, m + dx:m + dx + self.width] if m else canvas
        if m:
            img = img.copy()
        img = self.effects.apply(img, t, self._frame_hash(frame_idx))
        ann = self._annotate(geo, frame_idx, t, m + dx, m + dy, visibility, occ.visibility)
        if layer is not None:
            ann = replace(ann, trains=self._trains.annotate(layer, self._occ_depth, m + dx, m + dy, self.width,
                                                            self.height))
        return img, ann

    def _with_trains(self, layer: TrainLayer) -> "FrameOccluders":
        """The occluders of a frame with the trains' ``layer``: their depth joins the static scene's
        (kept while the layer stays the same, a train standing still)."""
        if self._occluders_of[0] is not layer:
            frame_occ = self._trains.occluder_depth(self._occ_depth, layer)
            self._occluders_of = (layer, FrameOccluders(
                screen=CombinedScreen(self._screen, patch_screen(layer.depth, layer.box)),
                painter=Painter(frame_occ), visibility=self._visibility.updated(frame_occ, layer.box)))
        return self._occluders_of[1]

    def _frame_background(self, t: float, fires, trains=None) -> np.ndarray:
        """The static image of this frame: the background, with the flickering lights at their
        level at ``t`` and the floor and walls lit by the fires and the trains (before the
        trains are put in). The background itself when there is none of them (no copy)."""
        if not self._static.lit and fires is None and trains is None:
            return self._bg
        out = self._bg.copy()
        self._static.add_lights(out, t)
        if fires is not None and len(fires):
            self._fire.light(out, fires)
        if trains is not None:
            self._trains.light(out, trains)
        return out

    def _people(self, state: CrowdState, screen: OcclusionScreen | None = None) -> People | None:
        """Image-space geometry of every person that shows, sorted far to near (canvas pixels);
        ``screen`` flags who may be hidden (the static scene's by default)."""
        return build_people(self.view, state, benches=self.scene.benches, background=self._bg,
                            screen=self._screen if screen is None else screen)

    def _items(self, world, screen: OcclusionScreen | None = None) -> list[Item]:
        """The objects on the floor and the fires of ``world`` as drawing items, far to near."""
        items = []
        if len(world.objects):
            items += object_items(self.view, world.objects, background=self._bg,
                                  screen=self._screen if screen is None else screen)
        if len(world.fires):
            items += self._fire.items(world.fires)
        items.sort(key=lambda it: -it.depth)
        return items

    def _draw(self, img: np.ndarray, g: People | None, items: list[Item] | None = None, bg: np.ndarray | None = None
              ) -> None:
        """Paint people and items into ``img`` (canvas coordinates), far to near; ``bg`` is the frame's
        static image (the background by default)."""
        self._painter.paint(img, g, items, self._bg if bg is None else bg)

    def _annotate(self, g: People | None, frame_idx: int, t: float, ox: int, oy: int, visibility: bool,
                  buffer: VisibilityBuffer | None = None) -> FrameAnnotations:
        """Boxes and head points in output-image coordinates; visible fractions if asked for
        (counted in ``buffer``, the static scene's by default)."""
        if g is None:
            return FrameAnnotations.empty(frame=frame_idx, t=t, camera=self.spec.name)
        w, h = self.width, self.height
        off = np.array([ox, oy, ox, oy], dtype=np.float64)
        b = g.box - off
        inside = (b[:, 2] >= 0) & (b[:, 0] <= w - 1) & (b[:, 3] >= 0) & (b[:, 1] <= h - 1)
        np.clip(b, 0, [w - 1, h - 1, w - 1, h - 1], out=b)
        if visibility:
            vis = (buffer or self._visibility).visible_fraction(g.parts, g.depth if g.occ_depth is None else g.occ_depth, off)
        else:
            vis = np.full(len(b), np.nan)
        return FrameAnnotations(
            frame=frame_idx, t=t, camera=self.spec.name, ids=g.ids[inside],
            boxes=np.c_[b[:, 0:2], b[:, 2:4] - b[:, 0:2]][inside], heads=(g.head - off[:2])[inside],
            visible=vis[inside], appearance_group=g.groups[inside])


def _tunnels(scenario) -> dict[int, np.ndarray]:
    """The track beds that on-stage trains run through (index -> direction of the track): their
    end walls get tunnel mouths."""
    from sim.scenario.trains import stage_of

    beds = {}
    for tr in scenario.station.trains:
        stage = stage_of(scenario.station, tr)
        if stage is not None:
            beds[stage.bed] = stage.heading
    return beds
