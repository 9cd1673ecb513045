"""Frame sources: where the detection core gets its pixels.

Every source yields :class:`Frame` objects (index, time in seconds since the start of the
stream, BGR ``uint8`` image), so the detection core runs unchanged on rendered footage,
a video file or a live camera. ``sim`` provides the synthetic source; this module holds
the file and live sources and :func:`open_source`, which picks one from a string.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Iterator, Protocol, runtime_checkable

import numpy as np


class SourceError(RuntimeError):
    """A source that cannot be opened or read."""


@dataclass(frozen=True, slots=True)
class Frame:
    index: int  #: 0-based frame number in the stream
    t: float  #: [s] time since the first frame
    image: np.ndarray  #: (H, W, 3) uint8, BGR


@runtime_checkable
class FrameSource(Protocol):
    """What the detection core reads from. Iterating yields frames in time order."""

    camera: str
    fps: float
    size: tuple[int, int]  #: [px] (width, height)

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


class VideoFileSource:
    """Frames of a video file; ``t = index / fps`` from the container's frame rate.

    ``fps`` may be given to override a container that reports none or a wrong one.
    """

    def __init__(self, path: str | os.PathLike, *, camera: str | None = None, fps: float | None = None,
                 max_frames: int | None = None) -> None:
        import cv2

        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise SourceError(f"video file {self.path!r} does not exist")
        self._cap = cv2.VideoCapture(self.path)
        if not self._cap.isOpened():
            raise SourceError(f"video file {self.path!r} cannot be opened by OpenCV (unsupported codec?)")
        container_fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = float(fps) if fps else container_fps
        if not self.fps > 0:
            raise SourceError(f"video file {self.path!r} reports no frame rate; pass fps=")
        self.size = (int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.camera = camera or os.path.splitext(os.path.basename(self.path))[0]
        self.max_frames = max_frames

    def __iter__(self) -> Iterator[Frame]:
        i = 0
        while self.max_frames is None or i < self.max_frames:
            ok, img = self._cap.read()
            if not ok:
                break
            yield Frame(index=i, t=i / self.fps, image=img)
            i += 1

    def __len__(self) -> int:
        n = self.frame_count
        return n if self.max_frames is None else min(n, self.max_frames)

    def close(self) -> None:
        self._cap.release()


class LiveSource:
    """A live camera (an integer device index) or a network stream (RTSP/HTTP URL).

    Times are wall-clock seconds since the first frame was read, so latency measured on a
    live stream includes the camera's own delay.
    """

    def __init__(self, spec: int | str, *, camera: str | None = None, fps: float | None = None,
                 max_frames: int | None = None) -> None:
        import cv2

        self.spec = spec
        self._cap = cv2.VideoCapture(spec)
        if not self._cap.isOpened():
            raise SourceError(f"live source {spec!r} cannot be opened (no such camera or stream unreachable)")
        self.fps = float(fps or self._cap.get(cv2.CAP_PROP_FPS) or 25.0)
        self.size = (int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.camera = camera or (f"cam{spec}" if isinstance(spec, int) else "live")
        self.max_frames = max_frames

    def __iter__(self) -> Iterator[Frame]:
        t0 = None
        i = 0
        while self.max_frames is None or i < self.max_frames:
            ok, img = self._cap.read()
            if not ok:
                break
            now = time.monotonic()
            t0 = now if t0 is None else t0
            yield Frame(index=i, t=now - t0, image=img)
            i += 1

    def close(self) -> None:
        self._cap.release()


def open_source(spec: str, *, camera: str | None = None, fps: float | None = None,
                max_frames: int | None = None) -> FrameSource:
    """Open ``spec`` as a live camera index (``"0"``), a stream URL or a video file path."""
    if spec.isdigit():
        return LiveSource(int(spec), camera=camera, fps=fps, max_frames=max_frames)
    if "://" in spec:
        return LiveSource(spec, camera=camera, fps=fps, max_frames=max_frames)
    return VideoFileSource(spec, camera=camera, fps=fps, max_frames=max_frames)
