"""Training: the learned models of the detection core, fitted on footage the testbed renders.

A stage beside the pipeline, never inside it: ``train`` renders through ``sim`` at
training seeds only (:mod:`sim.seeds`), fits a model and writes small weights plus a model
card into ``detectors/weights/``; ``detectors`` loads the weights and never imports
``train``. One command per model: ``stationwatch train NAME`` (:data:`TRAINERS`).
"""

from __future__ import annotations

#: ``stationwatch train NAME``: the module that trains NAME (it defines ``configure(parser)``
#: and ``main(args)``) and one line of help
TRAINERS: dict[str, tuple[str, str]] = {
    "density": ("train.density", "the density CNN (persons per m2) on varied rendered footage"),
    "density-gain": ("train.calibrate", "the gain of the classical pixel density estimate"),
    "weapon": ("train.weapon", "the weapon classifier (a rifle on a person crop) on rendered crops"),
}
