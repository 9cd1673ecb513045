"""The simulated station: a Mesa model of the crowd and its parts.

* :mod:`sim.world.model`: :class:`~sim.world.model.StationModel`, the step and the script API;
* :mod:`sim.world.people`: the crowd's structure of arrays; :mod:`sim.world.agents`: the
  pedestrian agent and its behaviours;
* :mod:`sim.world.arrivals`: who comes in, when and where; :mod:`sim.world.appearance`:
  parties, bodies, luggage and looks; :mod:`sim.world.parties`: keeping parties together;
* :mod:`sim.world.trains`: boarding exits and who boards; :mod:`sim.world.navigation`:
  floor fields, waiting spots, one-way zones (on :mod:`sim.world.floorfield`);
* :mod:`sim.world.social_force`: the vectorised motion step; :mod:`sim.world.objects`:
  objects on the floor and fires.
"""
