"""The simulation: scenarios, the crowd model, staged events, ground truth and synthetic footage.

* :mod:`sim.scenario`: the scenario file (specs, checks, loader);
* :mod:`sim.world`: the station model (pedestrians, arrivals, trains, parties, navigation,
  the vectorised social force);
* :mod:`sim.events`: behaviour scripts of staged events and distractors, and the
  ground-truth recorder;
* rendering (:mod:`sim.render`, :mod:`sim.camera`, :mod:`sim.raster`, :mod:`sim.effects`,
  :mod:`sim.video`), synthetic frame sources (:mod:`sim.source`), annotations and exports;
* shared below them: :mod:`sim.geometry`, :mod:`sim.state`, :mod:`sim.errors`.

Importing the package loads nothing: import the module you need.
"""
