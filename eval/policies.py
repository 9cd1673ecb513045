"""Policies files: the alert policy per event type that ``tune`` chooses and ``run``, ``detect``
and ``experiment`` accept (``--policies FILE``, and ``--threshold TYPE=VALUE`` on top).

A policies file (YAML)::

    format: stationwatch.policies/1
    policies:                         # event type -> fields of detectors.policy.AlertPolicy
      intrusion: {threshold: 0.62, min_duration_s: 0.0, cooldown_s: 10.0}
      excessive_density: {threshold: 0.8}          # unset fields keep the detector's defaults
    # what tune writes besides (read by people, ignored by the commands):
    made_by: stationwatch tune runs/experiments/vendors --budget 2 --cameras 46
    tuned_on: {detector: builtin, seeds: [201, 202], runs: 8}
    expected: {intrusion: {p_miss: 0.1, rfa_per_hour: 0.8, ...}}

Unknown keys under ``policies`` are errors naming their path; the other top-level keys are
notes. A type listed for a camera whose site runs no detector of that type is ignored there
(a hall camera without a forbidden zone runs no intrusion detector).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from detectors.events import EventType
from detectors.policy import AlertPolicy

POLICIES_FORMAT = "stationwatch.policies/1"
_FIELDS = ("threshold", "min_duration_s", "cooldown_s")


class PoliciesError(ValueError):
    """A policies file or ``--threshold`` that cannot be used; the message names the key."""


@dataclass(frozen=True)
class PolicyOverride:
    """Fields of an :class:`AlertPolicy` to set; None keeps the detector's default."""

    threshold: float | None = None
    min_duration_s: float | None = None
    cooldown_s: float | None = None

    def apply(self, base: AlertPolicy) -> AlertPolicy:
        return AlertPolicy(threshold=base.threshold if self.threshold is None else self.threshold,
                           min_duration_s=base.min_duration_s if self.min_duration_s is None else self.min_duration_s,
                           cooldown_s=base.cooldown_s if self.cooldown_s is None else self.cooldown_s)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in _FIELDS if getattr(self, k) is not None}


def _number(value: Any, where: str, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PoliciesError(f"{where}: expected a finite number; got {value!r}")
    if minimum is not None and value < minimum:
        raise PoliciesError(f"{where}: must be >= {minimum:g}; got {value!r}")
    return float(value)


def parse_policies(data: Any, *, where: str = "policies") -> dict[EventType, PolicyOverride]:
    """Validate the ``policies`` mapping of a file (event type -> fields)."""
    if not isinstance(data, Mapping):
        raise PoliciesError(f"{where}: expected a mapping of event type -> policy; got {type(data).__name__}")
    out = {}
    for key, fields in data.items():
        try:
            etype = EventType.parse(key, field=f"{where} key")
        except ValueError as exc:
            raise PoliciesError(str(exc)) from None
        path = f"{where}.{key}"
        if not isinstance(fields, Mapping):
            raise PoliciesError(f"{path}: expected a mapping with keys {', '.join(_FIELDS)}; got {fields!r}")
        unknown = sorted(set(fields) - set(_FIELDS))
        if unknown:
            raise PoliciesError(f"{path}: unknown key(s) {', '.join(unknown)} (expected {', '.join(_FIELDS)})")
        vals = {k: None if fields.get(k) is None else _number(fields[k], f"{path}.{k}",
                                                              minimum=None if k == "threshold" else 0.0)
                for k in _FIELDS}
        out[etype] = PolicyOverride(**vals)
    return out


def load_policies(path: str | os.PathLike) -> dict[EventType, PolicyOverride]:
    """Read a policies file; errors name the file and the key."""
    import yaml

    where = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
    except FileNotFoundError:
        raise PoliciesError(f"{where}: no such policies file") from None
    except yaml.YAMLError as exc:
        raise PoliciesError(f"{where}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, Mapping) or "policies" not in doc:
        raise PoliciesError(f"{where}: expected a mapping with key 'policies' (format {POLICIES_FORMAT}); got "
                            f"{sorted(doc) if isinstance(doc, Mapping) else type(doc).__name__}")
    fmt = doc.get("format", POLICIES_FORMAT)
    if fmt != POLICIES_FORMAT:
        raise PoliciesError(f"{where}: format must be {POLICIES_FORMAT!r}; got {fmt!r}")
    return parse_policies(doc["policies"], where=f"{where}: policies")


def parse_thresholds(items: Iterable[str] | None) -> dict[EventType, PolicyOverride]:
    """``["intrusion=0.7", ...]`` from ``--threshold TYPE=VALUE`` options."""
    out = {}
    for item in items or ():
        name, sep, value = str(item).partition("=")
        if not sep:
            raise PoliciesError(f"--threshold: expected TYPE=VALUE (e.g. intrusion=0.7); got {item!r}")
        try:
            etype = EventType.parse(name.strip(), field="--threshold TYPE")
        except ValueError as exc:
            raise PoliciesError(str(exc)) from None
        try:
            v = float(value)
        except ValueError:
            raise PoliciesError(f"--threshold {name}: expected a number; got {value!r}") from None
        out[etype] = PolicyOverride(threshold=_number(v, f"--threshold {name}"))
    return out


def merge(base: Mapping[EventType, PolicyOverride], top: Mapping[EventType, PolicyOverride]
          ) -> dict[EventType, PolicyOverride]:
    """``top``'s set fields over ``base``'s (``--threshold`` over a file)."""
    out = dict(base)
    for etype, o in top.items():
        b = out.get(etype, PolicyOverride())
        out[etype] = PolicyOverride(**{k: getattr(o, k) if getattr(o, k) is not None else getattr(b, k)
                                       for k in _FIELDS})
    return out


def overrides_from_args(policies_file: str | None, thresholds: Iterable[str] | None
                        ) -> dict[EventType, PolicyOverride]:
    """The overrides of ``--policies FILE`` and ``--threshold TYPE=VALUE`` (the latter wins)."""
    base = load_policies(policies_file) if policies_file else {}
    return merge(base, parse_thresholds(thresholds))


def as_override(policy: AlertPolicy | PolicyOverride) -> PolicyOverride:
    """A full :class:`AlertPolicy` as the override that sets all of its fields."""
    if isinstance(policy, PolicyOverride):
        return policy
    return PolicyOverride(**{k: float(getattr(policy, k)) for k in _FIELDS})


def core_with_policies(site, detectors, overrides: Mapping[EventType, PolicyOverride | AlertPolicy] | None):
    """A :class:`~detectors.core.DetectionCore` whose policies are the detectors' defaults with
    ``overrides`` applied, for the types the site runs (the others are ignored)."""
    from detectors.core import DetectionCore

    core = DetectionCore(site, detectors=detectors)
    if not overrides:
        return core
    given = {EventType.parse(t, field="policies key"): as_override(o) for t, o in overrides.items()}
    chosen = {t: given[t].apply(p) for t, p in core.policies.items() if t in given}
    return DetectionCore(site, detectors=list(core.detectors), policies=chosen)


def with_policies(experiment, overrides: Mapping[EventType, PolicyOverride]):
    """The experiment with ``overrides`` set in the policies of every in-process detector entry
    (over the file's own: the command line wins). Runs whose policy changes get new keys and
    are computed again; black boxes keep their own policy."""
    if not overrides:
        return experiment
    from dataclasses import replace

    from eval.experiment import CoreDetectorSpec, PolicySpec

    dets = []
    for d in experiment.spec.detectors:
        if isinstance(d, CoreDetectorSpec):
            pol = dict(d.policies)
            for t, o in overrides.items():
                old = pol.get(t.value) or PolicySpec()
                pol[t.value] = PolicySpec(**{k: getattr(o, k) if getattr(o, k) is not None else getattr(old, k)
                                             for k in _FIELDS})
            d = d.model_copy(update={"policies": pol})
        dets.append(d)
    return replace(experiment, spec=experiment.spec.model_copy(update={"detectors": dets}))


def write_policies(path: str | os.PathLike, policies: Mapping[EventType, AlertPolicy | PolicyOverride],
                   notes: Mapping[str, Any] | None = None) -> None:
    """Write a policies file atomically (``notes``: further top-level keys for people)."""
    import yaml

    from detectors.files import atomic_write_text
    from eval.results import to_jsonable

    doc: dict[str, Any] = {"format": POLICIES_FORMAT}
    pol = {}
    for etype in EventType:
        if etype in policies:
            p = policies[etype]
            pol[etype.value] = p.to_dict() if isinstance(p, PolicyOverride) else \
                {k: float(getattr(p, k)) for k in _FIELDS}
    doc["policies"] = pol
    for k, v in (notes or {}).items():
        if k in doc:
            raise PoliciesError(f"notes must not redefine {k!r}")
        doc[k] = to_jsonable(v)
    atomic_write_text(path, yaml.safe_dump(doc, sort_keys=False))
