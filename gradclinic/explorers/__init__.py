"""One interactive explorer per concept; each module says which lesson shows it."""

from gradclinic.explorers.deep_linear import DeepLinearExplorer

__all__ = ["DeepLinearExplorer"]
