"""Confidence intervals: Wilson for proportions, bootstrap over runs for rates, paired differences.

Evaluators must see when two figures are not distinguishable. A proportion (Pmiss, recall,
precision) over ``n`` trials gets the Wilson score interval, which stays inside [0, 1] and
behaves at 0 and ``n`` successes. A rate per camera-hour is not a proportion: false alarms
come in bursts within a run, so its interval resamples whole runs (all cameras of a run
together) and recomputes the pooled rate, ``sum(count) / sum(hours)``, each time
(percentile bootstrap, a seeded generator: the same seed gives the same interval). A
bootstrap cannot see beyond the runs it has: no false alarm in any run gives ``[0, 0]``,
one run gives its own rate. So the rate's interval is never narrower than the exact
(Garwood) Poisson interval of the pooled count over the pooled hours: zero false alarms in
half a camera-hour is "at most 7.4 per hour", not "none".
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm

#: resamples of the bootstrap intervals
N_BOOT = 1000


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be within (0, 1); got {confidence!r}")
    return float(norm.ppf(0.5 + confidence / 2))


def wilson(k, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``k`` successes in ``n`` trials (arrays broadcast); nan where ``n`` is 0.

    >>> lo, hi = wilson(0, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0, 0.2775)
    """
    z = _z(confidence)
    k = np.asarray(k, np.float64)
    n = np.asarray(n, np.float64)
    if np.any(k < 0) or np.any(k > n):
        raise ValueError(f"wilson: need 0 <= k <= n; got k={k!r}, n={n!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
        lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    # exact ends: no success gives 0, all successes give 1 (no rounding just inside)
    lo = np.where((k == 0) & (n > 0), 0.0, lo)
    hi = np.where((k == n) & (n > 0), 1.0, hi)
    return lo, hi


def resample_weights(n_units: int, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """``(n_units, n_boot)`` counts of each unit in each bootstrap resample (multinomial, seeded)."""
    if n_units <= 0:
        return np.zeros((0, n_boot))
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_units, np.full(n_units, 1.0 / n_units), size=n_boot).T.astype(np.float64)


def percentile_interval(samples: np.ndarray, confidence: float = 0.95, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """The central ``confidence`` interval of bootstrap samples along ``axis`` (nan samples ignored)."""
    q = (1 - confidence) / 2
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-nan rows give nan, as they should
            lo = np.nanquantile(samples, q, axis=axis)
            hi = np.nanquantile(samples, 1 - q, axis=axis)
    return lo, hi


def poisson_rate(k, hours: float, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval of a Poisson rate: ``k`` events over ``hours`` [h].

    >>> lo, hi = poisson_rate(0, 0.5)   # -ln(0.025) / 0.5
    >>> float(lo), round(float(hi), 4)
    (0.0, 7.3778)
    """
    from scipy.stats import chi2

    _z(confidence)  # validates it
    k = np.asarray(k, np.float64)
    a = (1 - confidence) / 2
    if not hours > 0:
        return np.full(k.shape, np.nan), np.full(k.shape, np.nan)
    lo = np.where(k > 0, chi2.ppf(a, 2 * np.maximum(k, 1)) / 2, 0.0) / hours
    hi = chi2.ppf(1 - a, 2 * k + 2) / 2 / hours
    return lo, hi


def bootstrap_rate(counts: np.ndarray, hours: np.ndarray, *, n_boot: int = N_BOOT, seed: int = 0,
                   confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Interval of the pooled rate ``sum(counts) / sum(hours)`` resampling runs, widened to the
    exact Poisson interval of the pooled count where that is wider (few runs, few events).

    ``counts`` ``(T, R)``: per row (a threshold) and run; ``hours`` ``(R,)`` [h] each run's
    scored camera-hours. Returns ``(lo, hi)`` of shape ``(T,)``; nan without runs or hours.
    """
    counts = np.atleast_2d(np.asarray(counts, np.float64))
    hours = np.asarray(hours, np.float64)
    n_t, n_r = counts.shape
    if n_r != len(hours):
        raise ValueError(f"bootstrap_rate: counts has {n_r} runs, hours {len(hours)}")
    if n_r == 0 or hours.sum() <= 0:
        return np.full(n_t, np.nan), np.full(n_t, np.nan)
    w = resample_weights(n_r, n_boot, seed)
    num = counts @ w
    den = hours @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    lo, hi = percentile_interval(rate, confidence, axis=1)
    plo, phi = poisson_rate(counts.sum(axis=1), float(hours.sum()), confidence)
    return np.fmin(lo, plo), np.fmax(hi, phi)


def fmt_interval(value: float, lo: float, hi: float, digits: int = 2) -> str:
    """``0.52 [0.31, 0.72]``; ``-`` for an undefined value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    f = lambda v: "?" if v is None or math.isnan(v) else f"{v:.{digits}f}"  # noqa: E731
    return f"{value:.{digits}f} [{f(lo)}, {f(hi)}]"
