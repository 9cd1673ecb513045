"""Live streams: a bounded frame queue that drops the oldest frames, reconnection with back-off,
and the per-second report of latency and dropped frames.

A live camera does not wait for the detection core: when processing falls behind, the
frames that piled up are stale and an alert raised on them comes late. :class:`StreamReader`
reads the source in a background thread into a queue of ``max_queue`` frames; when the
queue is full the *oldest* frame is dropped (the core always works on the freshest frames
and latency stays bounded), and the drop is counted. A video file is read without dropping
by default (every frame is processed, as fast as the core goes); ``realtime=True`` paces it
at its frame rate and drops as a camera would.

When a live stream dies (the camera reboots, the network drops), the reader reopens it
with exponential back-off (``backoff_s`` doubling up to ``max_backoff_s``) and carries on;
frame indices continue, and a reconnecting stream's frame times are seconds of the
reader's clock since its first frame, so alerts stay in one time base (a file keeps its
own frame times).

:class:`StreamStats` collects per-frame latency (capture to the end of processing) and
drops, and formats a one-line report (``format_line``) the CLI prints on stderr once a
second.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from detectors.source import Frame, FrameSource, SourceError


@dataclass(frozen=True, slots=True)
class Captured:
    """A frame and the monotonic clock [s] at which it was read from the source."""

    frame: Frame
    captured_at: float


class StreamReader:
    """Frames of a source read in a background thread into a bounded queue.

    ``open_source``: a callable returning a fresh :class:`~detectors.source.FrameSource`
    (called again to reconnect). ``max_queue``: frames held at most. ``drop_oldest``: drop
    the oldest frame when the queue is full (live streams) instead of waiting (files).
    ``reconnect``: reopen a source whose frames stop, with back-off ``backoff_s`` doubling up
    to ``max_backoff_s``, at most ``max_reconnects`` times in a row without a frame (None: for
    ever). ``realtime``: pace the reading at the source's frame rate (a file played as a
    camera). ``clock``/``sleep``: seams for tests.
    """

    def __init__(self, open_source: Callable[[], FrameSource], *, max_queue: int = 8, drop_oldest: bool = True,
                 reconnect: bool = True, backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                 max_reconnects: int | None = None, realtime: bool = False,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if not (isinstance(max_queue, int) and max_queue >= 1):
            raise ValueError(f"StreamReader.max_queue must be an integer >= 1; got {max_queue!r}")
        if not (backoff_s > 0 and max_backoff_s >= backoff_s):
            raise ValueError(f"StreamReader: need 0 < backoff_s <= max_backoff_s; got {backoff_s!r}, {max_backoff_s!r}")
        self._open = open_source
        self.max_queue = max_queue
        self.drop_oldest = bool(drop_oldest)
        self.reconnect = bool(reconnect)
        self.backoff_s = float(backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        self.max_reconnects = max_reconnects
        self.realtime = bool(realtime)
        self._clock = clock
        self._sleep = sleep
        self._queue: collections.deque[Captured] = collections.deque()
        self._cond = threading.Condition()
        self._done = False
        self._stop = False
        self._error: BaseException | None = None
        self.dropped = 0  #: frames dropped because the queue was full
        self.read = 0  #: frames read from the source
        self.reconnects = 0  #: times the source was reopened
        self.source: FrameSource | None = None
        self._thread: threading.Thread | None = None

    # --- the reading thread ----------------------------------------------------------------

    def start(self) -> "StreamReader":
        self.source = self._open()  # the first open fails loudly, in the caller's thread
        self._thread = threading.Thread(target=self._run, name="stationwatch-reader", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        index, t0, failures, backoff, t_last = 0, None, 0, self.backoff_s, 0.0
        source = self.source
        try:
            while not self._stop:
                got = False
                start = self._clock()
                for frame in source:
                    if self._stop:
                        break
                    now = self._clock()
                    t0 = now if t0 is None else t0
                    if self.realtime:
                        wait = start + frame.t - now
                        if wait > 0:
                            self._sleep(wait)
                            now = self._clock()
                    # a live stream is timed by the clock, one base across reconnections; a file by its own times
                    t_last = max(t_last, now - t0) if self.reconnect else frame.t
                    out = Frame(index=index, t=t_last, image=frame.image)
                    index += 1
                    self._put(Captured(out, now))
                    got = True
                self._close(source)
                if self._stop or not self.reconnect:
                    break
                failures = 0 if got else failures + 1
                backoff = self.backoff_s if got else min(self.max_backoff_s, backoff * 2)
                if self.max_reconnects is not None and failures > self.max_reconnects:
                    raise SourceError(f"stream: no frame after {failures} reconnection attempts; giving up")
                self._sleep(backoff if not got else self.backoff_s)
                try:
                    source = self._open()
                    self.reconnects += 1
                except SourceError:
                    source = _EmptySource()
        except BaseException as exc:  # handed to the consumer
            self._error = exc
        finally:
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _put(self, item: Captured) -> None:
        with self._cond:
            self.read += 1
            if len(self._queue) >= self.max_queue:
                if self.drop_oldest:
                    self._queue.popleft()
                    self.dropped += 1
                else:
                    while len(self._queue) >= self.max_queue and not self._stop:
                        self._cond.wait(0.1)
            self._queue.append(item)
            self._cond.notify_all()

    @staticmethod
    def _close(source) -> None:
        try:
            source.close()
        except Exception:  # a dead stream may fail to close; nothing to keep from it
            pass

    # --- the consumer ------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Captured]:
        if self._thread is None:
            self.start()
        while True:
            with self._cond:
                while not self._queue and not self._done:
                    self._cond.wait(0.1)
                if self._queue:
                    item = self._queue.popleft()
                    self._cond.notify_all()
                elif self._error is not None:
                    raise self._error
                else:
                    return
            yield item

    @property
    def queued(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        """Stop reading (the thread ends after its current frame)."""
        self._stop = True
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)


class _EmptySource:
    """Stands for a source that could not be reopened: no frame, so the reader backs off again."""

    def __iter__(self):
        return iter(())

    def close(self) -> None:
        pass


@dataclass
class StreamStats:
    """Per-frame latency [s] (capture to end of processing) and drops, reported per interval."""

    interval_s: float = 1.0
    _latency: list = field(default_factory=list)
    _frames: int = 0
    _alerts: int = 0
    _t_last: float | None = None
    _dropped_at_last: int = 0

    def add(self, latency_s: float, n_alerts: int = 0) -> None:
        self._latency.append(float(latency_s))
        self._frames += 1
        self._alerts += int(n_alerts)

    def due(self, now: float) -> bool:
        if self._t_last is None:
            self._t_last = now
            return False
        return now - self._t_last >= self.interval_s

    def format_line(self, now: float, reader: StreamReader) -> str:
        """One line for the last interval; resets the interval's counters."""
        dt = max(1e-9, now - (self._t_last if self._t_last is not None else now))
        lat = np.asarray(self._latency) * 1e3
        p50 = float(np.median(lat)) if len(lat) else math.nan
        p99 = float(np.quantile(lat, 0.99)) if len(lat) else math.nan
        dropped = reader.dropped - self._dropped_at_last
        line = (f"stationwatch detect: {self._frames / dt:5.1f} frames/s, latency p50 {p50:6.1f} ms p99 {p99:6.1f} ms, "
                f"dropped {dropped} (total {reader.dropped}), queue {reader.queued}/{reader.max_queue}, "
                f"reconnects {reader.reconnects}, alerts {self._alerts}")
        self._latency.clear()
        self._frames = 0
        self._alerts = 0
        self._t_last = now
        self._dropped_at_last = reader.dropped
        return line
