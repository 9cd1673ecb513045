"""What happens in the station besides the everyday crowd, and what truly happened.

* :mod:`sim.events.base`: what a behaviour script is and what it may ask of the model
  (:class:`~sim.events.base.ScriptHost`);
* :mod:`sim.events.atomics`: one person's behaviour from small steps (``Freeze``, ``Ramp``,
  ``Hold``, ``WalkTo``, ``Leave``...) run by a ``Sequence``;
* :mod:`sim.events.scripts`: the script of every staged event and people-driven distractor;
* :mod:`sim.events.truth`: the ground-truth recorder, which applies each event type's rule
  to what the simulation does.

Nothing here imports the world model: it runs the scripts and feeds the recorder.
"""
