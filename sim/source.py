"""Synthetic frame sources: a simulated scenario seen through its cameras.

:class:`SyntheticFeed` steps one :class:`~sim.world.model.StationModel` and renders every
requested camera at its own frame rate, yielding frames in time order together with the
per-frame annotations. :class:`SyntheticSource` is the one-camera view of it that
satisfies the ``detectors.source.FrameSource`` protocol, so the detection core reads
rendered footage exactly as it reads a video file or a live camera.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from detectors.source import Frame
from sim.annotate import FrameAnnotations, camera_instances
from sim.world.model import StationModel
from sim.render import Renderer
from sim.scenario import Scenario


@dataclass(frozen=True, slots=True)
class CameraFrame:
    """One rendered frame of one camera with what it truly shows."""

    camera: str
    frame: Frame
    annotations: FrameAnnotations


def frame_count(duration_s: float, fps: float) -> int:
    """Frames at ``t = i / fps`` strictly before ``duration_s`` (and at least one)."""
    return max(1, math.ceil(duration_s * fps - 1e-9))


class SyntheticFeed:
    """Render ``cameras`` (default: all) of ``scenario`` from one simulation run.

    ``seed`` defaults to the scenario's seed; it drives the crowd and the sensor noise, so
    the same seed gives the same frames byte for byte. ``duration_s`` may shorten the run.
    """

    def __init__(self, scenario: Scenario, cameras: Sequence[str] | None = None, seed: int | None = None, *,
                 duration_s: float | None = None, visibility: bool = True) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        names = [c.name for c in scenario.cameras] if cameras is None else list(cameras)
        for n in names:
            scenario.camera(n)  # raises naming the cameras that exist
        self.cameras = names
        self.duration_s = float(scenario.duration_s if duration_s is None else duration_s)
        if not 0 < self.duration_s <= scenario.duration_s:
            raise ValueError(f"duration_s must be within (0, {scenario.duration_s:g}] s; got {duration_s!r}")
        self.visibility = visibility
        self.model = StationModel(scenario, seed=self.seed)
        # one renderer per camera, each with its own noise stream derived from the seed
        self.renderers = {n: Renderer(scenario, scenario.camera(n), seed=_camera_seed(self.seed, i))
                          for i, n in enumerate(names)}
        self.annotations: dict[str, list[FrameAnnotations]] = {n: [] for n in names}

    def n_frames(self, camera: str) -> int:
        return frame_count(self.duration_s, self.scenario.camera(camera).fps)

    def __iter__(self) -> Iterator[CameraFrame]:
        # merge the cameras' frame clocks: (t, camera order, frame index)
        heap = [(0.0, k, 0) for k in range(len(self.cameras))]
        heapq.heapify(heap)
        state_t = None
        state = None
        while heap:
            t, k, i = heapq.heappop(heap)
            name = self.cameras[k]
            spec = self.scenario.camera(name)
            if state_t != t:
                self.model.run_until(t)
                state = self.model.world()
                state_t = t
            image, ann = self._render(name, state, t)
            ann = ann.at(frame=i, t=t, camera=name)
            self.annotations[name].append(ann)
            yield CameraFrame(name, Frame(index=i, t=t, image=image), ann)
            if i + 1 < frame_count(self.duration_s, spec.fps):
                heapq.heappush(heap, ((i + 1) / spec.fps, k, i + 1))

    def _render(self, name: str, state, t: float):
        """Render the world (crowd, objects on the floor, fires) through camera ``name``."""
        return self.renderers[name].render(state, t, visibility=self.visibility)

    def world_events(self):
        """The simulation's event instances up to now (open intervals closed at the current time)."""
        return self.model.truth.events(t_end=self.model.time)

    def world_context(self) -> list[dict]:
        """What happened that is no event but explains the footage: each on-stage train's arrival,
        dwell (with its doors' opening) and departure, up to now (records of the ground-truth file)."""
        return self.model.trains.runs.context(t_end=self.model.time)

    def ground_truth(self) -> list[dict]:
        """Per-camera ground-truth instances (records of the ground-truth file)."""
        events = self.world_events()
        out = []
        for name in self.cameras:
            out += camera_instances(events, name, self.annotations[name], scenario=self.scenario)
        return sorted(out, key=lambda d: (d["t_start"], d["camera"], d["id"]))


class SyntheticSource:
    """A ``FrameSource`` over one camera of a simulated scenario.

    Example::

        src = SyntheticSource(load_scenario("platform_intrusion"), "platform", seed=3)
        for frame in src:
            alerts = core.process(frame)
        truth = src.ground_truth()
    """

    def __init__(self, scenario: Scenario, camera: str | None = None, seed: int | None = None, *,
                 duration_s: float | None = None, visibility: bool = True) -> None:
        camera = camera or scenario.cameras[0].name
        self.feed = SyntheticFeed(scenario, [camera], seed, duration_s=duration_s, visibility=visibility)
        spec = scenario.camera(camera)
        self.camera = camera
        self.fps = float(spec.fps)
        self.size = (int(spec.resolution[0]), int(spec.resolution[1]))

    def __iter__(self) -> Iterator[Frame]:
        for cf in self.feed:
            yield cf.frame

    def __len__(self) -> int:
        return self.feed.n_frames(self.camera)

    @property
    def annotations(self) -> list[FrameAnnotations]:
        return self.feed.annotations[self.camera]

    @property
    def model(self) -> StationModel:
        return self.feed.model

    def ground_truth(self) -> list[dict]:
        return self.feed.ground_truth()

    def close(self) -> None:
        pass


def _camera_seed(seed: int, k: int) -> int:
    """A distinct, reproducible noise seed per camera."""
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0])
