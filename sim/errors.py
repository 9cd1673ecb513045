"""The exceptions of the simulation, in one module that imports nothing of ``sim``.

Both carry a message that names the scenario key at fault, what was expected and what
came; the command line prints it without a traceback.
"""

from __future__ import annotations


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the path of the bad key."""


class SimulationError(RuntimeError):
    """The model cannot go on as the scenario asks; the message names the scenario key."""
