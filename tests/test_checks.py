"""The conformance suite: every built-in detector and the example plug-in pass it; broken ones fail
with the check named."""

from __future__ import annotations

import math

import pytest

from detectors.base import NOTHING, DetectorOutput, InstanceScore
from detectors.checks import ConformanceError, check_detector, detector_checks, synthetic_frames, synthetic_site
from detectors.events import EventType
from detectors.registry import BUILTIN_DETECTORS, get_detector

PLUGIN = "example_zone_foreground"


def _classes():
    out = [(name, cls) for name, cls in BUILTIN_DETECTORS.items()]
    out.append((PLUGIN, get_detector(PLUGIN)))  # installed by the Makefile, found by its entry point
    return out


@pytest.mark.parametrize("name, check", [(n, c) for n, cls in _classes() for c in detector_checks(cls)],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_conformance(name, check):
    check()


def test_the_plugin_comes_from_its_entry_point():
    from importlib import metadata

    eps = {ep.name: ep for ep in metadata.entry_points(group="stationwatch.detectors")}
    assert eps[PLUGIN].value == "stationwatch_example_plugin:ZoneForegroundDetector"
    assert get_detector(PLUGIN).event_type is EventType.INTRUSION


class _Base:
    event_type = EventType.INTRUSION
    default_threshold = 0.5

    def __init__(self, site, **params):
        self.site = site


class _TooHigh(_Base):
    def score(self, percept):
        return DetectorOutput(2.0) if percept.ready else NOTHING


class _EarlyBird(_Base):
    def score(self, percept):
        return DetectorOutput(0.3)


class _BoxOutside(_Base):
    def score(self, percept):
        return DetectorOutput(0.4, (600.0, 10.0, 50.0, 10.0)) if percept.ready else NOTHING


class _Random(_Base):
    n = 0

    def score(self, percept):
        _Random.n += 1
        return DetectorOutput((_Random.n % 7) / 7) if percept.ready else NOTHING


class _CrashesWhereSupported(_Base):
    @classmethod
    def supports(cls, site):
        return True

    def score(self, percept):
        if not self.site.zones:
            raise KeyError("zones")
        return NOTHING


class _DuplicateKeys(_Base):
    def score(self, percept):
        if not percept.ready:
            return NOTHING
        a = InstanceScore("z/1", 0.2)
        return DetectorOutput(0.2, None, None, (a, a))


class _NoType(_Base):
    event_type = "intrusion"

    def score(self, percept):
        return NOTHING


@pytest.mark.parametrize("cls, check", [
    (_TooHigh, "scores_in_range"),
    (_EarlyBird, "zero_until_ready"),
    (_BoxOutside, "boxes_inside_image"),
    (_Random, "deterministic"),
    (_CrashesWhereSupported, "supports"),
    (_DuplicateKeys, "instance_keys"),
    (_NoType, "attributes"),
])
def test_broken_detectors_fail_the_named_check(cls, check):
    with pytest.raises(ConformanceError, match=rf"^{check}: detector .*{cls.__name__}"):
        check_detector(cls)


def test_synthetic_scene_has_zones_and_moving_figures():
    site = synthetic_site()
    frames = synthetic_frames(site, seconds=2.0)
    assert [z.kind.value for z in site.zones] == ["forbidden", "one_way", "density"]
    assert len(frames) == 20 and frames[0].image.shape == (180, 320, 3)
    assert float(abs(frames[-1].image.astype(int) - frames[10].image.astype(int)).mean()) > 0.5
    assert math.isclose(frames[1].t, 0.1)
    with pytest.raises(ValueError, match=r"zones must be among"):
        synthetic_site(("sky",))
