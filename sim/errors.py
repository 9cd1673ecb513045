"""The exceptions of the simulation, in one module that imports nothing of ``sim``.

Each carries a message that names the scenario key at fault, what was expected and what
came; the command line prints it without a traceback.
"""

from __future__ import annotations


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the path of the bad key."""


class UnknownCameraError(KeyError):
    """A camera name the scenario does not have; the message names the cameras it has. A :class:`KeyError`, as
    every lookup by name."""

    def __str__(self) -> str:  # the message, not KeyError's quoted repr of it
        return str(self.args[0]) if self.args else ""


class SimulationError(RuntimeError):
    """The model cannot go on as the scenario asks; the message names the scenario key."""
