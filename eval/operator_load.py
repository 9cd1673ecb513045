"""Operator load: what the alerts of N cameras ask of K operators who confirm or clear each one.

The decree has a person confirm every alert, so the rate of alerts (true, false and
duplicates alike) is the load. Alerts arrive as a Poisson stream of ``lambda`` per hour over
the ``n_cameras``; each takes an operator ``review_s`` seconds. With ``n_operators``
operators this is the M/M/K queue of telephone exchanges (Erlang C, the exponential service
time being the usual approximation of a review):

- offered load ``A = lambda * review_s / 3600`` [Erlang], utilisation ``rho = A / K``;
- the probability that an alert waits, ``C(K, A)`` (Erlang C, computed from the Erlang B
  recursion ``B(k) = A B(k-1) / (k + A B(k-1))``, ``C = K B / (K - A (1 - B))``);
- the expected wait before an operator looks at it, ``W = C * review_s / (K - A)`` [s];
- the share of alerts waiting more than ``t`` seconds, ``C * exp(-(K - A) t / review_s)``.

With ``A >= K`` the queue grows without bound: the waits are infinite.
:func:`operators_needed` answers the staffing question the other way round: the fewest
operators for which at most a given share of alerts waits longer than the limit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

#: [s] the wait an alert should not exceed before an operator looks at it
WAIT_LIMIT_S = 30.0


def erlang_c(offered_erlangs: float, servers: int) -> float:
    """Probability that an arrival waits in an M/M/K queue (1 when the queue is unstable).

    >>> round(erlang_c(1.0, 2), 6)   # B(1) = 1/2, B(2) = 1/5, C = 2 * 0.2 / (2 - 0.8) = 1/3
    0.333333
    """
    a, k = float(offered_erlangs), int(servers)
    if k < 1:
        raise ValueError(f"servers must be >= 1; got {servers!r}")
    if not (math.isfinite(a) and a >= 0):
        raise ValueError(f"offered_erlangs must be a finite number >= 0; got {offered_erlangs!r}")
    if a == 0:
        return 0.0
    if a >= k:
        return 1.0
    b = 1.0
    for i in range(1, k + 1):
        b = a * b / (i + a * b)
    return k * b / (k - a * (1 - b))


@dataclass(frozen=True)
class OperatorLoad:
    """The load of ``n_cameras`` cameras on ``n_operators`` operators; rates per hour, times in s."""

    n_cameras: int
    n_operators: int
    review_s: float  #: [s] time to confirm or clear one alert
    alerts_per_camera_hour: float  #: [1/h]
    alerts_per_hour: float  #: [1/h] over all cameras
    alerts_per_operator_hour: float  #: [1/h]
    utilisation: float  #: share of operator time spent on alerts (>= 1: overloaded)
    p_wait: float  #: probability that an alert waits for a free operator
    mean_wait_s: float  #: [s] expected wait before an operator looks at an alert (inf when overloaded)
    wait_limit_s: float  #: [s]
    share_over_limit: float  #: share of alerts waiting more than wait_limit_s

    def to_dict(self) -> dict:
        return asdict(self)


def operator_load(alerts_per_camera_hour: float, n_cameras: int, n_operators: int = 1, review_s: float = 30.0,
                  *, wait_limit_s: float = WAIT_LIMIT_S) -> OperatorLoad:
    """The :class:`OperatorLoad` of a per-camera alert rate (see the module docstring).

    >>> load = operator_load(2.0, 46, n_operators=2, review_s=60)   # 92 alerts/h, A = 92 * 60 / 3600
    >>> round(load.alerts_per_operator_hour, 1), round(load.utilisation, 3)
    (46.0, 0.767)
    """
    for name, v in (("n_cameras", n_cameras), ("n_operators", n_operators)):
        if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "n_cameras" else 1):
            raise ValueError(f"{name} must be an integer >= {0 if name == 'n_cameras' else 1}; got {v!r}")
    for name, v in (("alerts_per_camera_hour", alerts_per_camera_hour), ("review_s", review_s),
                    ("wait_limit_s", wait_limit_s)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {v!r}")
    lam = float(alerts_per_camera_hour) * n_cameras
    a = lam * float(review_s) / 3600.0
    k = n_operators
    if a >= k and a > 0:
        p, w, share = 1.0, math.inf, 1.0
    else:
        p = erlang_c(a, k)
        w = p * review_s / (k - a) if a > 0 else 0.0
        share = p * math.exp(-(k - a) * wait_limit_s / review_s) if review_s > 0 and a > 0 else 0.0
    return OperatorLoad(n_cameras=n_cameras, n_operators=k, review_s=float(review_s),
                        alerts_per_camera_hour=float(alerts_per_camera_hour), alerts_per_hour=lam,
                        alerts_per_operator_hour=lam / k, utilisation=a / k, p_wait=p, mean_wait_s=w,
                        wait_limit_s=float(wait_limit_s), share_over_limit=share)


#: share of alerts that may wait longer than the limit when staffing (:func:`operators_needed`)
MAX_SHARE_OVER_LIMIT = 0.05


def operators_needed(alerts_per_camera_hour: float, n_cameras: int, review_s: float = 30.0, *,
                     wait_limit_s: float = WAIT_LIMIT_S, max_share: float = MAX_SHARE_OVER_LIMIT) -> int:
    """The fewest operators (at least 1: a person confirms every alert) for which at most
    ``max_share`` of the alerts wait longer than ``wait_limit_s`` [s].

    >>> operators_needed(120.0, 1, 30.0)   # A = 1 Erlang: 2 operators leave 12 % waiting > 30 s, 3 leave 1.2 %
    3
    """
    if not (isinstance(max_share, (int, float)) and 0 < max_share < 1):
        raise ValueError(f"max_share must be within (0, 1); got {max_share!r}")
    load = operator_load(alerts_per_camera_hour, n_cameras, 1, review_s, wait_limit_s=wait_limit_s)
    k = 1
    while load.share_over_limit > max_share:
        # above the offered load the share falls fast: start there, then one by one
        k = max(k + 1, math.floor(load.alerts_per_hour * review_s / 3600.0) + 1)
        load = operator_load(alerts_per_camera_hour, n_cameras, k, review_s, wait_limit_s=wait_limit_s)
    return k
