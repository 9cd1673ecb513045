"""Export a scenario camera's site configuration: what a detector is given besides pixels.

The output follows the file format documented in :mod:`detectors.site` (camera,
image_size, fps, calibration with the ground homography and the 3x4 projection, zones in
ground metres). This module writes the format itself rather than importing
``detectors.site``: ``sim`` may import only ``detectors.events`` from ``detectors``.

Example::

    write_site_config(scenario, "hall", "hall.site.yaml")
    # a detector side: SiteConfig.load("hall.site.yaml")
"""

from __future__ import annotations

import os

from sim.render.camera import PinholeCamera


def site_config_dict(scenario, camera_name: str) -> dict:
    """The site configuration of one camera of ``scenario``, as plain YAML-ready values.

    Both matrices are those of :class:`sim.render.camera.PinholeCamera`: their last row gives the
    depth [m] along the optical axis, positive in front of the camera (a reader such as
    ``detectors.site`` takes w <= 0 as behind the camera, so they must never be scaled by
    a negative number). Zones the camera cannot see are left out, as an installer would.
    """
    spec = scenario.camera(camera_name)
    cam = PinholeCamera.from_spec(spec)
    hom = cam.ground_homography
    proj = cam.projection
    from sim.annotate import zone_in_image

    zones = []
    for z in scenario.station.zones:
        # an installation configures the zones its camera sees
        if zone_in_image(cam, z.polygon)[0] is None:
            continue
        d = {"name": z.name, "kind": z.kind, "polygon": [[float(x), float(y)] for x, y in z.polygon]}
        if z.direction_deg is not None:
            d["direction_deg"] = float(z.direction_deg)
        if z.capacity_per_m2 is not None:
            d["capacity_per_m2"] = float(z.capacity_per_m2)
        if getattr(z, "allowed", None):
            d["allowed"] = list(z.allowed)  # who may stand there (staff in a vest): installers configure it too
        zones.append(d)
    return {
        "camera": spec.name,
        "image_size": [int(spec.resolution[0]), int(spec.resolution[1])],
        "fps": float(spec.fps),
        "calibration": {
            "homography": [[float(v) for v in row] for row in hom],
            "projection": [[float(v) for v in row] for row in proj],
        },
        "zones": zones,
        # the site's rule for abandoned objects, as an operator configures it (the truth's constant)
        "abandoned_after_s": float(scenario.truth.abandoned_after_s),
    }


def write_site_config(scenario, camera_name: str, path: str | os.PathLike) -> None:
    """Write :func:`site_config_dict` as YAML to ``path``, atomically (temporary file, then rename)."""
    import yaml

    from detectors.files import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(site_config_dict(scenario, camera_name), sort_keys=False))
