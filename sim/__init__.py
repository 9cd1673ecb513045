"""The simulation: scenarios, the crowd model, staged events, ground truth and synthetic footage.

* :mod:`sim.scenario`: the scenario file (specs, checks, loader);
* :mod:`sim.world`: the station model (pedestrians, arrivals, trains, parties, navigation,
  the vectorised social force);
* :mod:`sim.events`: behaviour scripts of staged events and distractors, and the
  ground-truth recorder;
* :mod:`sim.render`: the camera model and the renderer (frames and their annotations);
* synthetic frame sources (:mod:`sim.source`), annotations and exports;
* shared below them: :mod:`sim.geometry`, :mod:`sim.state`, :mod:`sim.errors`.

Importing the package loads nothing: import the module you need.
"""
