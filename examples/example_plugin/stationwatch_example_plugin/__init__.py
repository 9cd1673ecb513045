"""Example stationwatch detector plug-in: foreground covering a forbidden zone's floor."""

from __future__ import annotations

import numpy as np

from detectors.base import NOTHING, DetectorOutput, InstanceScore
from detectors.events import EventType
from detectors.site import SiteConfig, ZoneKind

__all__ = ["ZoneForegroundDetector"]


class ZoneForegroundDetector:
    """Share of each forbidden zone's floor (in the image) covered by foreground.

    Score per zone: ``min(1, covered / (2 * full_at))``, 0.5 (the default threshold) when
    ``full_at`` of the zone's pixels [share, 0-1] are foreground. Crude on purpose: a person
    standing at the edge whose body hides the zone counts too (the built-in ``intrusion``
    detector places feet instead).
    """

    event_type = EventType.INTRUSION
    default_threshold = 0.5
    default_min_duration_s = 0.5  #: [s]
    default_cooldown_s = 10.0  #: [s] per zone

    def __init__(self, site: SiteConfig, *, full_at: float = 0.05) -> None:
        self.zones = site.zones_of(ZoneKind.FORBIDDEN)
        if not self.zones:
            raise ValueError(f"ZoneForegroundDetector needs a forbidden zone; site {site.camera!r} has none")
        if not 0 < full_at <= 1:
            raise ValueError(f"ZoneForegroundDetector.full_at must be in (0, 1]; got {full_at!r}")
        self.full_at = float(full_at)
        self._masks = None

    @classmethod
    def supports(cls, site: SiteConfig) -> bool:
        return bool(site.zones_of(ZoneKind.FORBIDDEN))

    def score(self, percept) -> DetectorOutput:
        if not percept.ready:
            return NOTHING
        if self._masks is None:
            grid = percept.grid
            self._masks = [(z.name, grid.zone_mask(z), grid.bbox_of(grid.zone_mask(z))) for z in self.zones]
        fg = percept.fg_mask > 0
        out = []
        for name, mask, box in self._masks:
            n = int(mask.sum())
            if n == 0:
                continue
            share = float(np.count_nonzero(fg & mask)) / n
            out.append(InstanceScore(name, min(1.0, 0.5 * share / self.full_at), box))
        return DetectorOutput.of(out, zone_of=lambda key: key)
