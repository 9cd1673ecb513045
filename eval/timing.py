"""Processing cost of the detection core from per-frame timings.

Definitions:

- per-frame latency p50 / p99 / mean / max [s] of ``total_s`` (numpy's linear
  interpolation for percentiles);
- frames per second per core = 1 / mean per-frame time (the core processes one frame at
  a time on one core);
- real-time factor RTF = processing time / stream duration: below 1 the core keeps up
  with the camera; ``x_real_time`` = 1 / RTF (how many such streams one core could
  follow). The stream duration is ``n_frames / stream_fps``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np


@dataclass(frozen=True)
class TimingSummary:
    """Per-frame cost figures; ``nan`` where undefined, with the reason in ``undefined``."""

    n_frames: int
    processing_s: float  #: [s] sum of per-frame times
    mean_s: float  #: [s] mean per-frame time
    p50_s: float  #: [s] median per-frame time
    p99_s: float  #: [s] 99th percentile per-frame time
    max_s: float  #: [s] slowest frame
    fps_per_core: float  #: [frames/s] 1 / mean_s
    stream_fps: float  #: [frames/s] the camera's frame rate
    stream_duration_s: float  #: [s] n_frames / stream_fps
    rtf: float  #: processing_s / stream_duration_s (< 1: faster than real time)
    x_real_time: float  #: 1 / rtf = fps_per_core / stream_fps
    undefined: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``nan`` becomes ``None``."""
        out = asdict(self)
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def summarize_timings(total_s, stream_fps: float) -> TimingSummary:
    """Summarise per-frame processing times ``total_s`` [s] of a stream at ``stream_fps``.

    >>> s = summarize_timings([0.01, 0.01, 0.02, 0.02], stream_fps=25)
    >>> round(s.fps_per_core, 6), round(s.rtf, 6)
    (66.666667, 0.375)
    """
    x = np.asarray(total_s, dtype=np.float64).ravel()
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        bad = int(np.flatnonzero(~np.isfinite(x) | (x < 0))[0])
        raise ValueError(f"total_s must be finite seconds >= 0; got {float(x[bad])!r} at frame position {bad}")
    stream_fps = float(stream_fps)
    if not math.isfinite(stream_fps) or stream_fps <= 0:
        raise ValueError(f"stream_fps must be a finite number of frames per second > 0; got {stream_fps!r}")
    undefined: dict[str, str] = {}
    n = int(x.size)
    processing = float(x.sum())
    duration = n / stream_fps
    if n == 0:
        mean = p50 = p99 = mx = math.nan
        for k in ("mean_s", "p50_s", "p99_s", "max_s"):
            undefined[k] = "no frames"
    else:
        mean, p50, p99, mx = float(x.mean()), float(np.percentile(x, 50)), float(np.percentile(x, 99)), float(x.max())
    if n == 0:
        fps = math.nan
        undefined["fps_per_core"] = "no frames"
    elif mean == 0:
        fps = math.nan
        undefined["fps_per_core"] = "mean per-frame time is 0 s"
    else:
        fps = 1.0 / mean
    if duration == 0:
        rtf = math.nan
        undefined["rtf"] = "no frames (stream duration 0 s)"
    else:
        rtf = processing / duration
    if math.isnan(rtf) or rtf == 0:
        xrt = math.nan
        undefined["x_real_time"] = undefined.get("rtf", "processing time is 0 s")
    else:
        xrt = 1.0 / rtf
    return TimingSummary(n_frames=n, processing_s=processing, mean_s=mean, p50_s=p50, p99_s=p99, max_s=mx,
                         fps_per_core=fps, stream_fps=stream_fps, stream_duration_s=duration, rtf=rtf,
                         x_real_time=xrt, undefined=undefined)


def _column_names(table: Any) -> list[str]:
    """Column names of a pyarrow Table, pandas DataFrame or mapping of arrays."""
    if hasattr(table, "column_names"):
        return list(table.column_names)
    if hasattr(table, "columns"):
        return [str(c) for c in table.columns]
    return [str(c) for c in table]


def _column(table: Any, name: str) -> np.ndarray:
    try:
        if hasattr(table, "column_names"):  # pyarrow.Table
            if name not in table.column_names:
                raise KeyError(name)
            return table.column(name).to_numpy()
        return np.asarray(table[name])  # pandas DataFrame or a mapping of arrays
    except KeyError:
        cols = _column_names(table)
        raise ValueError(f"timing table must have column {name!r} (columns frame, t, total_s); got {cols}") from None


def timing_summary(table: Any, stream_fps: float | None = None, *, column: str = "total_s") -> TimingSummary:
    """Summarise a timing table with columns ``frame``, ``t`` [s] and ``total_s`` [s].

    ``table`` is a ``pyarrow.Table``, a pandas ``DataFrame`` or a mapping of arrays.
    ``stream_fps`` defaults to 1 / the median step of ``t`` (needs two frames or more).
    ``column`` picks another per-frame time column (e.g. ``perception_s``).
    """
    total = _column(table, column).astype(np.float64)
    _column(table, "frame")
    t = _column(table, "t").astype(np.float64)
    if stream_fps is None:
        steps = np.diff(np.sort(t))
        steps = steps[steps > 0]
        if steps.size == 0:
            raise ValueError(f"stream_fps cannot be inferred from column t (needs two distinct times; got {t.size} "
                             "rows); pass stream_fps")
        stream_fps = 1.0 / float(np.median(steps))
    return summarize_timings(total, stream_fps)
