"""Frame sources: where the detection core gets its pixels.

Every source yields :class:`Frame` objects (index, time in seconds since the start of the
stream, BGR ``uint8`` image), so the detection core runs unchanged on rendered footage,
a video file or a live camera. ``sim`` provides the synthetic source; this module holds
the file and live sources and :func:`open_source`, which picks one from a string.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from typing import Iterator, Protocol, runtime_checkable

import numpy as np


class SourceError(RuntimeError):
    """A source that cannot be opened or read."""


class SourceWarning(UserWarning):
    """A source that can be read, but not all of it (a video file that ends before its declared frames)."""


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
        if os.path.isdir(self.path):
            raise SourceError(f"video file {self.path!r} is a folder")
        #: why the file may end early (a cut box of an MP4), found before decoding; None if it looks whole
        self.damage = _mp4_damage(self.path)
        if self.damage is not None and "no index" in self.damage:  # nothing to decode: say why, not OpenCV's guess
            raise SourceError(f"video file {self.path!r} {self.damage}")
        self._cap = cv2.VideoCapture(self.path)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"video file {self.path!r} cannot be opened by OpenCV: "
                              f"{self.damage or 'not a video, or a codec OpenCV lacks'}")
        container_fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = float(fps) if fps else container_fps
        if not self.fps > 0:
            raise SourceError(f"video file {self.path!r} reports no frame rate; pass fps=")
        self.size = (int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.camera = camera or os.path.splitext(os.path.basename(self.path))[0]
        self.max_frames = max_frames

    def __iter__(self) -> Iterator[Frame]:
        """Frames at ``t = index / fps``, as the synthetic source times them; warns (:class:`SourceWarning`)
        when the file ends before its declared frame count."""
        i = 0
        while self.max_frames is None or i < self.max_frames:
            ok, img = self._cap.read()
            if not ok:
                break
            yield Frame(index=i, t=i / self.fps, image=img)
            i += 1
        want = self.frame_count if self.max_frames is None else min(self.frame_count, self.max_frames)
        if i < want:
            why = f": it {self.damage}" if self.damage else " (truncated?)"
            warnings.warn(SourceWarning(f"video file {self.path!r} ended after {i} of its {self.frame_count} declared "
                                        f"frames{why}"), stacklevel=2)

    def __len__(self) -> int:
        n = self.frame_count
        return n if self.max_frames is None else min(n, self.max_frames)

    def close(self) -> None:
        self._cap.release()


#: top-level box types of an ISO base media file (MP4, MOV) that may open it
_MP4_FIRST_BOXES = {b"ftyp", b"styp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pdin"}


def _mp4_damage(path: str) -> str | None:
    """Why an MP4/MOV file is not whole, from its top-level boxes (None for a whole file or another format);
    the text follows "video file 'X' ".

    The index of an MP4 (its ``moov`` box) is written when the writer closes it, usually at
    the end: a file cut short, or whose writer was killed, has none, and no frame can be
    found in it; a file cut inside a box loses the frames past the cut.
    """
    import struct

    size = os.path.getsize(path)
    seen: list[bytes] = []
    cut = None
    with open(path, "rb") as fh:
        pos = 0
        while pos + 8 <= size:
            fh.seek(pos)
            head = fh.read(16)
            length, kind = struct.unpack(">I4s", head[:8])
            if not seen and kind not in _MP4_FIRST_BOXES:
                return None  # not an ISO media file: OpenCV tells
            if length == 1 and len(head) == 16:
                length = struct.unpack(">Q", head[8:16])[0]
            elif length == 0:  # the last box runs to the end of the file
                length = size - pos
            if length < 8:
                return f"is damaged: a box of {length} bytes at byte {pos}"
            seen.append(kind)
            if pos + length > size:
                cut = kind.decode("latin-1")
                break
            pos += length
    if not seen:
        return None
    if b"moov" not in seen or cut == "moov":
        where = "inside its index" if cut == "moov" else "before its index was written"
        return (f"has no index (its 'moov' box is {'cut short' if cut == 'moov' else 'missing'}): the file is "
                f"truncated {where}, or its writer was stopped before closing it")
    if cut is not None:
        return f"is truncated: its {cut!r} box is cut short at {size} bytes"
    return None


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
