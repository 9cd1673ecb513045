"""Write rendered frames to an MP4 file.

OpenCV's wheels carry no software H.264 encoder, so the codec is MPEG-4 part 2
(``mp4v``), which every player and ``cv2.VideoCapture`` read. The file appears under its
name only when the writer closes without error: frames go to a temporary file in the
same folder, renamed into place at :meth:`VideoWriter.close`.

Example::

    with VideoWriter("hall.mp4", fps=10, size=(640, 360)) as out:
        for state in states:
            image, _ = renderer.render(state)
            out.write(image)
"""

from __future__ import annotations

import os

import numpy as np

from detectors.files import atomic_path


class VideoError(RuntimeError):
    """A video file that cannot be written."""


class VideoWriter:
    """MP4 (mp4v) writer of BGR uint8 frames, atomic: the file appears complete or not at all.

    ``size`` is (width, height) [px]; every frame must have exactly that size. Leaving a
    ``with`` block by an exception discards the partial file.
    """

    def __init__(self, path: str | os.PathLike, *, fps: float, size: tuple[int, int], fourcc: str = "mp4v") -> None:
        import cv2

        self.path = os.fspath(path)
        if not fps > 0:
            raise VideoError(f"video {self.path!r}: fps must be > 0; got {fps!r}")
        w, h = (int(v) for v in size)
        if w <= 0 or h <= 0:
            raise VideoError(f"video {self.path!r}: size must be two positive integers (width, height); got {size!r}")
        if len(fourcc) != 4:
            raise VideoError(f"video {self.path!r}: fourcc must be 4 characters; got {fourcc!r}")
        self.fps = float(fps)
        self.size = (w, h)
        self.frames_written = 0
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise VideoError(f"video {self.path!r}: folder {folder!r} does not exist")
        ext = os.path.splitext(self.path)[1] or ".mp4"
        # written under a hidden temporary name, renamed by close() (discard() deletes it)
        self._atomic = atomic_path(self.path, suffix=ext)
        self._tmp = self._atomic.__enter__()
        self._writer = cv2.VideoWriter(self._tmp, cv2.VideoWriter_fourcc(*fourcc), self.fps, self.size)
        if not self._writer.isOpened():
            self._writer.release()
            self._atomic.__exit__(VideoError, None, None)
            raise VideoError(
                f"video {self.path!r}: OpenCV cannot open a writer with codec {fourcc!r} for a {ext!r} file "
                f"at {w}x{h} and {self.fps:g} frames/s (opencv-python wheels have no H.264 encoder; use 'mp4v')"
            )
        self._closed = False

    def write(self, image: np.ndarray) -> None:
        """Append one BGR uint8 frame of the writer's size."""
        if self._closed:
            raise VideoError(f"video {self.path!r}: write after close")
        w, h = self.size
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.shape != (h, w, 3):
            got = (image.shape, image.dtype) if isinstance(image, np.ndarray) else type(image).__name__
            raise VideoError(f"video {self.path!r}: frame must be a ({h}, {w}, 3) uint8 BGR array; got {got}")
        self._writer.write(image)
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and move it to its name."""
        self._finish(keep=True)

    def discard(self) -> None:
        """Stop and delete the partial file."""
        self._finish(keep=False)

    def _finish(self, *, keep: bool) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.release()
        self._atomic.__exit__(None if keep else VideoError, None, None)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


def write_video(path: str | os.PathLike, frames, *, fps: float, size: tuple[int, int] | None = None) -> int:
    """Write an iterable of BGR frames to ``path`` (size taken from the first frame); return the frame count."""
    it = iter(frames)
    try:
        first = next(it)
    except StopIteration:
        raise VideoError(f"video {os.fspath(path)!r}: no frames to write") from None
    if size is None:
        size = (first.shape[1], first.shape[0])
    with VideoWriter(path, fps=fps, size=size) as out:
        out.write(first)
        for image in it:
            out.write(image)
        return out.frames_written
