"""Gradient Clinic's learner toolkit.

Notebooks stay thin by calling this package: data that loads offline, model builders,
diagnostics, ipywidgets explorers and the figure style. Importing it changes no global
state and does not import TensorFlow; :func:`setup` is the one call a notebook makes.
It holds no exercise answers and no reference solutions.
"""

from gradclinic.runtime import grading, quiet_tensorflow, seed, setup

__all__ = ["setup", "seed", "quiet_tensorflow", "grading"]
__version__ = "0.1.0"
