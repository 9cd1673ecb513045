"""Synthetic CCTV frames of a station crowd, with exact per-person annotations.

A :class:`Renderer` per camera draws the static station once by casting one ray per
(supersampled) pixel into the scene, then per frame puts the trains into it with their depth,
draws the people as articulated shapes in perspective, far to near, with the objects on the
floor and the fires in their places, and applies the camera's effects. The modules, in the order a frame goes through them:

- :mod:`~sim.render.camera`: the pinhole camera (world metres to pixels);
- :mod:`~sim.render.scene`: the static 3-D station and rays cast into it;
- :mod:`~sim.render.shaders`: the station's colours, one shader per surface kind;
- :mod:`~sim.render.background`: the static image, its occluder depth, flickering lights;
- :mod:`~sim.render.bodies`: the articulated body model and its poses;
- :mod:`~sim.render.people`: a frame's people as outlines, colours and boxes;
- :mod:`~sim.render.props`: props, vests and wheelchairs, one drawer each;
- :mod:`~sim.render.objects`: objects on the floor;
- :mod:`~sim.render.fire`: flames, smoke and firelight;
- :mod:`~sim.render.train_shapes`: a train's visible faces and details as flat panels;
- :mod:`~sim.render.trains`: trains drawn with a depth buffer, their light on the station, their boxes;
- :mod:`~sim.render.shapes`: drawing commands and the builder of extra shapes;
- :mod:`~sim.render.occlusion`: static occluders in front of people, visible fractions;
- :mod:`~sim.render.painter`: the painter's algorithm;
- :mod:`~sim.render.raster`: many convex polygons filled in one compiled call;
- :mod:`~sim.render.effects`: lighting, lens, blur, sensor noise, compression;
- :mod:`~sim.render.renderer`: the :class:`Renderer` that puts them together;
- :mod:`~sim.render.video`: frames to an MP4 file;
- :mod:`~sim.render.sample`: a made-up crowd for tests, benchmarks and sample frames;
- :mod:`~sim.render.view`, :mod:`~sim.render.textures`: the canvas's projections, procedural textures.

Geometry conventions are those of :mod:`sim.render.camera` (pixel centres at integers). The
camera model of the site configuration stays the undistorted pinhole; see
:mod:`sim.render.effects` for undistorting.

Example::

    from sim.render import Renderer

    r = Renderer(scenario, scenario.camera("hall"), seed=3)
    image, ann = r.render(model.snapshot())
"""

from sim.render.background import light_level
from sim.render.camera import PinholeCamera
from sim.render.renderer import Renderer, RenderError
from sim.render.sample import sample_crowd

__all__ = ["PinholeCamera", "RenderError", "Renderer", "light_level", "sample_crowd"]
