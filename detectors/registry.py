"""Detectors by name: an explicit table of the built-in ones plus third-party entry points.

A vendor's package registers its detector class in its ``pyproject.toml``::

    [project.entry-points."stationwatch.detectors"]
    acme_fall = "acme_vision.detectors:FallDetector"

Entry points are listed by name without importing them; a plug-in is imported only
when asked for, so a broken plug-in does not break the built-ins. A plug-in may not
reuse a built-in name.
"""

from __future__ import annotations

from importlib import metadata

from detectors.abandoned import AbandonedObjectDetector
from detectors.crowd import CrowdMovementDetector
from detectors.density import DensityDetector
from detectors.fall import PersonOnGroundDetector
from detectors.fire import FireDetector
from detectors.intrusion import IntrusionDetector
from detectors.weapon import WeaponDetector
from detectors.wrong_way import WrongWayDetector

ENTRY_POINT_GROUP = "stationwatch.detectors"

#: Built-in detectors, by the name used in configuration files and on the command line.
BUILTIN_DETECTORS: dict[str, type] = {
    "intrusion": IntrusionDetector,
    "wrong_way": WrongWayDetector,
    "excessive_density": DensityDetector,
    "crowd_movement": CrowdMovementDetector,
    "abandoned_object": AbandonedObjectDetector,
    "person_on_ground": PersonOnGroundDetector,
    "fire": FireDetector,
    "weapon": WeaponDetector,
}


class UnknownDetectorError(KeyError):
    """No detector of that name (the message lists the known ones)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class DetectorRegistryError(RuntimeError):
    """A registered detector that cannot be used (import error, name clash, not a detector)."""


def _entry_points() -> list:
    """The installed entry points of the detector group (a seam for tests)."""
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def _plugins() -> dict:
    plugins = {}
    for ep in _entry_points():
        if ep.name in BUILTIN_DETECTORS:
            raise DetectorRegistryError(f"entry point {ep.name!r} = {ep.value!r} in group {ENTRY_POINT_GROUP!r} "
                                        f"reuses the name of a built-in detector; rename it")
        plugins[ep.name] = ep
    return plugins


def available_detectors() -> list[str]:
    """Names of all detectors: built-in ones first, then plug-ins, each group sorted."""
    return list(BUILTIN_DETECTORS) + sorted(_plugins())


def get_detector(name: str) -> type:
    """The detector class registered as ``name``."""
    if name in BUILTIN_DETECTORS:
        return BUILTIN_DETECTORS[name]
    plugins = _plugins()
    ep = plugins.get(name)
    if ep is None:
        known = ", ".join(list(BUILTIN_DETECTORS) + sorted(plugins))
        raise UnknownDetectorError(f"unknown detector {name!r}; known detectors: {known}")
    try:
        cls = ep.load()
    except Exception as exc:
        raise DetectorRegistryError(f"detector {name!r} (entry point {ep.value!r}) failed to import: "
                                    f"{type(exc).__name__}: {exc}") from exc
    missing = [a for a in ("event_type", "default_threshold", "score") if not hasattr(cls, a)]
    if missing:
        raise DetectorRegistryError(f"detector {name!r} (entry point {ep.value!r}) is not a detector: "
                                    f"missing {', '.join(missing)}")
    return cls
