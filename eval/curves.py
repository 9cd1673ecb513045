"""``stationwatch sweep``: every detector and event type of a results folder swept offline, as tables and plots.

:func:`sweep_all` runs :func:`eval.results_folder.sweep_folder` for each (detector, type,
minimum duration) with a progress bar; :func:`curve_table` lays a sweep out as one row per
threshold (integer counts, then the rates with their 95 % intervals), :func:`summary_table`
one row per sweep (Pmiss at 1, 0.1 and 0.01 false alarms per camera-hour, nAUDC, the lowest
NDCR and its threshold, AP and the latency-aware AP, and the figures at the threshold the
runs ran with). :func:`write_sweep` writes both as Parquet and the DET, precision-recall and
latency plots as PNG into ``RESULTS/sweep/``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from detectors.events import EventType
from eval.intervals import N_BOOT

#: minimum durations [s] swept besides the one the runs ran with
MIN_DURATIONS_S = (0.0, 0.5, 1.0)


def sweep_all(folder, *, detectors: Sequence[str] | None = None, types: Sequence[EventType | str] | None = None,
              min_durations_s: Sequence[float] | None = None, max_thresholds: int = 2000, progress: bool = True):
    """Sweeps of every (detector, type, minimum duration) of a results folder (``None``: all of each;
    minimum durations: the one the runs ran with and :data:`MIN_DURATIONS_S`)."""
    from eval.results_folder import ResultsFolder, sweep_folder

    f = folder if isinstance(folder, ResultsFolder) else ResultsFolder(folder)
    dets = [f.check_detector(d) for d in detectors] if detectors else f.detectors
    wanted = None if not types else {EventType.parse(t, field="--type") for t in types}
    jobs = []
    for det in dets:
        for t in f.types_of(det):
            if wanted is not None and t not in wanted:
                continue
            if f.kind_of(det) != "core":
                jobs.append((det, t, None))
                continue
            run_md = float((f.policy_as_run(det, t) or {}).get("min_duration_s", 0.0))
            mds = [run_md] + [m for m in (MIN_DURATIONS_S if min_durations_s is None else min_durations_s)
                              if not math.isclose(m, run_md)]
            jobs += [(det, t, md) for md in mds]
    from tqdm.auto import tqdm

    return [sweep_folder(f, det, t, min_duration_s=md, max_thresholds=max_thresholds)
            for det, t, md in tqdm(jobs, desc="sweep", unit="curve", leave=False, disable=None if progress else True)]


def curve_table(sweeps: Sequence, *, n_boot: int = N_BOOT, seed: int = 0):
    """One row per (sweep, threshold): counts, rates and their 95 % intervals (pyarrow Table)."""
    import pyarrow as pa

    parts = []
    for s in sweeps:
        c = s.totals()
        r = s.rates()
        iv = s.intervals(n_boot=n_boot, seed=seed)
        n = len(s.thresholds)
        cols = {
            "detector": pa.array([s.detector] * n, pa.string()), "type": pa.array([s.event_type.value] * n),
            "min_duration_s": np.full(n, s.policy.min_duration_s), "cooldown_s": np.full(n, s.policy.cooldown_s),
            "threshold": s.thresholds,
            **{k: np.asarray(c[k], np.int64) for k in ("n_instances", "tp", "fn", "fp", "duplicates", "n_alerts")},
            "camera_hours": np.full(n, c["camera_s"] / 3600.0),
            **{k: r[k] for k in ("p_miss", "recall", "precision", "rfa_per_hour", "alerts_per_hour", "ndcr")},
            "latency_median_s": s.latency_median_s(),
            **{k: np.asarray(v, np.float64) for k, v in iv.items()},
            **dict(zip(("latency_median_s_lo", "latency_median_s_hi"), s.latency_median_interval_s())),
        }
        parts.append(pa.table(cols))
    return pa.concat_tables(parts) if parts else pa.table({})


def summary_table(sweeps: Sequence, *, n_boot: int = N_BOOT, seed: int = 0):
    """One row per sweep: the curve's headline figures with their 95 % intervals (a bootstrap over
    runs, :meth:`~eval.sweep.SweepCounts.summary_intervals`) and the figures at the threshold the
    runs ran with."""
    import pyarrow as pa

    rows = []
    for s in sweeps:
        row = {"detector": s.detector, "type": s.event_type.value, "kind": s.meta.get("kind", "core"),
               "min_duration_s": s.policy.min_duration_s, "cooldown_s": s.policy.cooldown_s,
               "n_thresholds": len(s.thresholds), "runs": len({g.run_id for g in s.groups}),
               "camera_hours": float(s.camera_s.sum() / 3600.0), "n_instances": int(s.n_instances.sum())}
        row.update(s.summary())
        row.update(s.summary_intervals(n_boot=n_boot, seed=seed))
        th = s.meta.get("threshold_as_run")
        row["threshold_as_run"] = th
        row["policy_as_run"] = bool(s.meta.get("policy_as_run"))
        if th is not None and np.any(s.thresholds == th):
            i = s.at(th)
            r = s.rates()
            row.update({f"as_run_{k}": float(r[k][i]) for k in ("p_miss", "rfa_per_hour", "ndcr")})
        rows.append(row)
    return pa.Table.from_pylist(rows)


def write_sweep(folder, out_dir: str | os.PathLike | None = None, *, n_boot: int = N_BOOT, seed: int = 0,
                **kwargs) -> dict[str, Path]:
    """Sweep a results folder and write ``curves.parquet``, ``summary.parquet`` and per type
    ``det_TYPE.png``, ``pr_TYPE.png``, ``latency_TYPE.png`` into ``out_dir`` (default RESULTS/sweep)."""
    from eval import plots, results
    from eval.results_folder import ResultsFolder

    f = folder if isinstance(folder, ResultsFolder) else ResultsFolder(folder)
    out = Path(out_dir) if out_dir is not None else f.path / "sweep"
    sweeps = sweep_all(f, **kwargs)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"curves": out / "curves.parquet", "summary": out / "summary.parquet"}
    results.write_parquet(paths["curves"], curve_table(sweeps, n_boot=n_boot, seed=seed))
    results.write_parquet(paths["summary"], summary_table(sweeps, n_boot=n_boot, seed=seed))
    for t in sorted({s.event_type for s in sweeps}, key=list(EventType).index):
        of_t = [s for s in sweeps if s.event_type is t]
        as_run = [s for s in of_t if s.meta.get("policy_as_run")]
        ops = {plots._label(s): s.meta["threshold_as_run"] for s in as_run if s.meta.get("threshold_as_run")}
        paths[f"det_{t.value}"] = out / f"det_{t.value}.png"
        plots.det_plot(of_t, paths[f"det_{t.value}"], operating=ops, title=f"{t.value}: DET curves")
        paths[f"pr_{t.value}"] = out / f"pr_{t.value}.png"
        plots.pr_plot(as_run, paths[f"pr_{t.value}"], title=f"{t.value}: precision-recall")
        paths[f"latency_{t.value}"] = out / f"latency_{t.value}.png"
        plots.latency_plot(as_run, paths[f"latency_{t.value}"], title=f"{t.value}: median latency")
    return paths


def format_summary(table) -> str:
    """The summary table as fixed-width text (what ``stationwatch sweep`` prints): each figure
    with its 95 % interval."""
    from eval.intervals import fmt_interval

    rows = table.to_pylist()
    head = ["detector", "type", "min dur", "thr", "Pm@1/h", "Pm@0.1/h", "Pm@0.01/h", "nAUDC", "minNDCR", "@thr",
            "AP", "LaAP"]

    def f(v, d=3):
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}f}"

    def iv(r, k):
        return fmt_interval(r[k], r.get(f"{k}_lo", math.nan), r.get(f"{k}_hi", math.nan))

    body = [[r["detector"], r["type"], f"{r['min_duration_s']:g}s", str(r["n_thresholds"]), iv(r, "p_miss_at_rfa_1"),
             iv(r, "p_miss_at_rfa_0.1"), iv(r, "p_miss_at_rfa_0.01"), iv(r, "naudc"), iv(r, "min_ndcr"),
             f(r["threshold_min_ndcr"]), iv(r, "ap"), iv(r, "laap")] for r in rows]
    widths = [max(len(h), *(len(b[k]) for b in body)) if body else len(h) for k, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if k < 2 else c.rjust(w) for k, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join([line(head), "  ".join("-" * w for w in widths)] + [line(b) for b in body])
