"""One interactive explorer per concept; each module says which lesson shows it."""

from gradclinic.explorers.the_problem import DeepLinearExplorer

__all__ = ["DeepLinearExplorer"]
