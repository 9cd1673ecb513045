"""The live-stream reader: a bounded queue that drops the oldest frames, reconnection with back-off."""

from __future__ import annotations

import time

import numpy as np
import pytest

from detectors.source import Frame, SourceError
from detectors.stream import StreamReader, StreamStats


class _Source:
    """n frames, as fast as asked (optionally a pause between them)."""

    def __init__(self, n: int, pause_s: float = 0.0) -> None:
        self.n, self.pause_s, self.closed = n, pause_s, False
        self.fps, self.size, self.camera = 10.0, (8, 8), "fake"

    def __iter__(self):
        for i in range(self.n):
            if self.pause_s:
                time.sleep(self.pause_s)
            yield Frame(index=i, t=i / self.fps, image=np.full((8, 8, 3), i % 256, np.uint8))

    def close(self) -> None:
        self.closed = True


def test_a_slow_consumer_gets_the_freshest_frames_and_drops_are_counted():
    reader = StreamReader(lambda: _Source(60), max_queue=4, drop_oldest=True, reconnect=False)
    got = []
    for item in reader:
        got.append(item.frame.index)
        time.sleep(0.01)  # the core is slower than the camera
    assert got == sorted(got) and got[-1] == 59
    assert reader.dropped > 0 and reader.read == 60
    assert len(got) + reader.dropped == 60  # every frame read is either processed or counted as dropped


def test_a_file_is_read_without_dropping():
    reader = StreamReader(lambda: _Source(40), max_queue=2, drop_oldest=False, reconnect=False)
    got = []
    for item in reader:
        got.append(item.frame.index)
        time.sleep(0.002)
    assert got == list(range(40)) and reader.dropped == 0


def test_a_dead_stream_is_reopened_with_back_off_and_the_time_base_continues():
    opened, sleeps = [], []

    def opener():
        if len(opened) >= 3:
            raise SourceError("stream unreachable")
        opened.append(_Source(5))
        return opened[-1]

    reader = StreamReader(opener, max_queue=50, drop_oldest=True, reconnect=True, backoff_s=0.01,
                          max_backoff_s=0.04, max_reconnects=3, sleep=lambda s: sleeps.append(s))
    got = []
    with pytest.raises(SourceError, match="no frame after 4 reconnection attempts; giving up"):
        for item in reader:
            got.append(item.frame)
    assert [f.index for f in got] == list(range(15))  # three sessions of 5 frames, one index base
    assert np.all(np.diff([f.t for f in got]) >= 0)
    assert reader.reconnects == 2 and all(s.closed for s in opened)
    # after each of the three sessions with frames: the base back-off; then, while reopening fails,
    # doubling and capped at 0.04 s, until the 4th failure in a row (more than max_reconnects=3) gives up
    assert sleeps == [0.01, 0.01, 0.01, 0.02, 0.04, 0.04]


def test_stats_report_latency_and_drops():
    reader = StreamReader(lambda: _Source(1), max_queue=1)
    reader.dropped = 3
    stats = StreamStats(interval_s=1.0)
    assert not stats.due(100.0)
    for ms in (10, 20, 30):
        stats.add(ms / 1000, n_alerts=1)
    line = stats.format_line(101.0, reader)
    assert "3.0 frames/s" in line and "p50   20.0 ms" in line and "dropped 3 (total 3)" in line and "alerts 3" in line


def test_reader_parameter_errors():
    with pytest.raises(ValueError, match="max_queue must be an integer >= 1; got 0"):
        StreamReader(lambda: _Source(1), max_queue=0)
