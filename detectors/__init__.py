"""The real-time detection core: frames and a site configuration in, alerts out.

Public names are imported lazily (PEP 562), so ``import detectors.events`` (what the
simulator does to label ground truth) does not load OpenCV and the detectors.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Alert": "detectors.events",
    "EventType": "detectors.events",
    "MAX_LATENCY_S": "detectors.events",
    "read_alerts": "detectors.events",
    "write_alerts": "detectors.events",
    "SiteConfig": "detectors.site",
    "SiteError": "detectors.site",
    "Zone": "detectors.site",
    "ZoneKind": "detectors.site",
    "Frame": "detectors.source",
    "FrameSource": "detectors.source",
    "SourceError": "detectors.source",
    "VideoFileSource": "detectors.source",
    "LiveSource": "detectors.source",
    "open_source": "detectors.source",
    "Blobs": "detectors.perception",
    "Percept": "detectors.perception",
    "Perception": "detectors.perception",
    "PerceptionError": "detectors.perception",
    "WorkGrid": "detectors.geometry",
    "Detector": "detectors.base",
    "DetectorOutput": "detectors.base",
    "IntrusionDetector": "detectors.intrusion",
    "WrongWayDetector": "detectors.wrong_way",
    "DensityDetector": "detectors.density",
    "CrowdMovementDetector": "detectors.crowd",
    "InstanceScore": "detectors.base",
    "InstanceGates": "detectors.policy",
    "alerts_from_instances": "detectors.policy",
    "Detections": "detectors.people",
    "Tracks": "detectors.tracker",
    "GroundTracker": "detectors.tracker",
    "BackgroundModel": "detectors.background",
    "OpticalFlow": "detectors.flow",
    "AlertPolicy": "detectors.policy",
    "AlertGate": "detectors.policy",
    "alerts_from_scores": "detectors.policy",
    "DetectionCore": "detectors.core",
    "available_detectors": "detectors.registry",
    "get_detector": "detectors.registry",
    "UnknownDetectorError": "detectors.registry",
    "DetectorRegistryError": "detectors.registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'detectors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
