"""A grid run's rates divide by the camera time of the cameras that run each detector (hand-computed)."""

from detectors.events import Alert, EventType
from eval.cell import scored_metrics
from eval.matching import Instance
from eval.metrics import count

INTRUSION, DENSITY = EventType.INTRUSION, EventType.EXCESSIVE_DENSITY


def test_a_camera_that_does_not_run_a_detector_does_not_dilute_its_rates():
    # two one-hour cameras: the platform runs intrusion and density, the hall density only
    alerts = [Alert("hall", DENSITY, 5.0, 1.0), Alert("platform", INTRUSION, 10.0, 1.0),
              Alert("platform", INTRUSION, 50.0, 1.0)]
    gt = [Instance("p1", INTRUSION, "platform", 9.0, 12.0)]
    hour = {"hall": 3600.0, "platform": 3600.0}
    counts = count(alerts, gt, hour, ["hall", "platform"])
    table = scored_metrics(counts, {("platform", INTRUSION), ("platform", DENSITY), ("hall", DENSITY)}, hour)
    intr, dens, both = table[INTRUSION], table[DENSITY], table["all"]
    assert (intr.tp, intr.fp, intr.camera_hours, intr.n_streams) == (1, 1, 3600 / 3600, 1)
    assert intr.rfa_per_hour == 1 / (3600 / 3600)  # not 1 / 2: the hall runs no intrusion detector
    assert (dens.fp, dens.camera_hours) == (1, 2 * 3600 / 3600)
    assert dens.rfa_per_hour == 1 / 2
    assert (both.tp, both.fp, both.camera_hours) == (1, 2, 2 * 3600 / 3600)  # each camera once
    assert both.rfa_per_hour == 2 / 2


def test_a_type_nobody_alerted_on_still_has_its_scored_time():
    hour = {"cam": 1800.0}
    table = scored_metrics(count([], [], hour, ["cam"]), {("cam", EventType.FIRE)}, hour)
    assert table[EventType.FIRE].camera_hours == 1800 / 3600 and table[EventType.FIRE].rfa_per_hour == 0 / 0.5
