"""The compiled core of the offline threshold sweep: the alert policy replayed at many thresholds at once.

The rule is :mod:`detectors.policy`'s, applied to one *stream* (the recorded scores of one
event instance of one camera, in frame order; rows of frames the instance was absent from
are missing and count as below the threshold). At a threshold ``th``, with minimum duration
``d`` and cooldown ``c``:

- ``g[r]`` is the smallest score over the rows ``w(r) .. r``, ``w(r)`` the last row with
  ``t[r] - t[w] >= d - eps`` (a gap between two frames counts as ``-inf``): the run holding
  row ``r`` at threshold ``th`` has lasted ``d`` exactly when ``g[r] >= th`` (the run is a
  suffix of the rows up to ``r``, the rows old enough a prefix; they meet when the minimum
  over ``w(r) .. r`` is above);
- the first alert is at the first row with ``g >= th``; after an alert at row ``a``, the
  run ends at the first row ``e >= a`` with a score below ``th``, and the next alert is at
  the first row ``>= e`` that is both ``g >= th`` and past the cooldown
  (``t - t[a] >= c - eps``).

Both "first row at or after ``j`` whose value is above (or below) ``th``" are answered in
``O(log n)`` by descending a segment tree of maxima (of minima), so one threshold costs
``O(alerts log n)`` per stream instead of ``O(frames)``: 10,000 thresholds over 100 runs of
10 minutes at 25 frames/s in a few seconds (``benchmarks/bench_sweep.py``).

Every comparison is the gate's own floating-point expression (``t - t_last >= c - eps``,
``score >= th``), so the alerts are exactly those of :func:`detectors.policy.alerts_from_scores`
and :func:`~detectors.policy.alerts_from_instances` (``tests/test_sweep.py`` replays both).
"""

from __future__ import annotations

import numpy as np
from numba import njit

NEG_INF = -np.inf


@njit(cache=True)
def window_min(s_ext, t_ext, starts, ends, d_eps):
    """``g`` of the module docstring for every row of the extended arrays (sentinel rows are ``-inf``)."""
    g = np.empty_like(s_ext)
    dq = np.empty(len(s_ext), np.int64)
    for k in range(len(starts)):
        a, b = starts[k], ends[k]
        head = 0
        tail = 0
        w = a - 1
        for r in range(a, b):
            # the deque holds indices in [w, r] whose values increase: the front is the minimum
            while tail > head and s_ext[dq[tail - 1]] >= s_ext[r]:
                tail -= 1
            dq[tail] = r
            tail += 1
            while w + 1 <= r and t_ext[r] - t_ext[w + 1] >= d_eps:
                w += 1
            if w < a:
                g[r] = NEG_INF
                continue
            while dq[head] < w:
                head += 1
            g[r] = s_ext[dq[head]]
    return g


@njit(cache=True)
def build_forest(values, starts, ends, use_max):
    """One segment tree per stream (its rows ``starts[k]:ends[k]``), padded with ``-inf`` to a power
    of two and laid end to end; returns the trees, each tree's offset and its number of leaves.
    A stream's own small tree keeps its queries in cache and its depth at ``log2`` of its length."""
    n = len(starts)
    sizes = np.empty(n, np.int64)
    offsets = np.empty(n, np.int64)
    total = 0
    for k in range(n):
        size = 1
        while size < ends[k] - starts[k]:
            size *= 2
        sizes[k] = size
        offsets[k] = total
        total += 2 * size
    forest = np.full(total, NEG_INF)
    for k in range(n):
        off, size = offsets[k], sizes[k]
        for r in range(starts[k], ends[k]):
            forest[off + size + r - starts[k]] = values[r]
        for v in range(size - 1, 0, -1):
            a, b = forest[off + 2 * v], forest[off + 2 * v + 1]
            if use_max:
                forest[off + v] = a if a >= b else b
            else:
                forest[off + v] = a if a <= b else b
    return forest, offsets, sizes


@njit(cache=True, inline="always")
def _hit(value, th, below):
    return value < th if below else value >= th


@njit(cache=True)
def first_where(tree, off, size, j, th, below):
    """The first leaf index ``>= j`` of the tree at ``off`` whose value is ``>= th`` (a tree of
    maxima, ``below`` False) or ``< th`` (a tree of minima, ``below`` True); -1 if none."""
    v = j + size
    while True:
        if _hit(tree[off + v], th, below):
            while v < size:
                v = 2 * v
                if not _hit(tree[off + v], th, below):
                    v += 1
            return v - size
        while v & 1:
            v >>= 1
        if v == 0:
            return -1
        v += 1


@njit(cache=True)
def sweep_streams(thresholds, t_ext, g_forest, s_forest, offsets, sizes, starts, ends, stream_group, stream_gmax,
                  gated, c_eps, row_inst, row_multi, n_alerts, fa, first_t, n_feasible, multi_thr, multi_row):
    """Replay the policy over every stream at every threshold and tally what each alert can match.

    ``thresholds`` ascending. Per threshold ``i`` and alert row ``a`` of group ``g``:
    ``n_alerts[i, g] += 1``; an alert that can match instance ``j`` alone (``row_inst[a] = j``)
    updates ``first_t[i, j]`` (the earliest such alert) and ``n_feasible[i, j]``; one that can
    match several instances of its cluster (``row_multi[a] >= 0``) is written to ``multi_thr`` /
    ``multi_row`` for an exact assignment afterwards; any other is a false alarm
    (``fa[i, g] += 1``). ``gated[k]`` False: every row of stream ``k`` at or above the
    threshold is an alert (recorded alerts of a black box, no policy to replay). Streams are
    the outer loop, so that each one's trees stay in cache over all thresholds. Returns the
    number of multi-instance alerts (more than the buffers hold: call again with larger ones).
    """
    n_multi = 0
    cap = len(multi_thr)
    n_th = len(thresholds)
    for k in range(len(starts)):
        # thresholds above the stream's best g give no alert: stop there
        lo, hi = 0, n_th
        while lo < hi:
            mid = (lo + hi) >> 1
            if thresholds[mid] <= stream_gmax[k]:
                lo = mid + 1
            else:
                hi = mid
        last_i = lo
        s0 = starts[k]
        end = ends[k] - s0
        off, size = offsets[k], sizes[k]
        grp = stream_group[k]
        for i in range(last_i):
            th = thresholds[i]
            pos = 0
            have_last = False
            last = 0.0
            while True:
                j = pos
                if have_last and gated[k]:
                    lo, hi = pos, end
                    while lo < hi:
                        mid = (lo + hi) >> 1
                        if t_ext[s0 + mid] - last >= c_eps:
                            hi = mid
                        else:
                            lo = mid + 1
                    j = lo
                    if j >= end:
                        break
                a = first_where(g_forest, off, size, j, th, False)
                if a < 0 or a >= end:
                    break
                ga = s0 + a
                n_alerts[i, grp] += 1
                inst = row_inst[ga]
                if inst >= 0:
                    n_feasible[i, inst] += 1
                    if t_ext[ga] < first_t[i, inst]:
                        first_t[i, inst] = t_ext[ga]
                elif row_multi[ga] >= 0:
                    if n_multi < cap:
                        multi_thr[n_multi] = i
                        multi_row[n_multi] = ga
                    n_multi += 1
                else:
                    fa[i, grp] += 1
                last = t_ext[ga]
                have_last = True
                if gated[k]:
                    pos = first_where(s_forest, off, size, a, th, True)
                else:
                    pos = a + 1
    return n_multi
