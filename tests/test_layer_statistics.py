"""The toolkit's per-layer statistics at initialisation (gradclinic.layer_statistics): lesson 10's
signal propagation (its default SELU is Keras's, its arguments are checked)."""

import numpy as np
import pytest

import gradclinic
from autograder.solution import solution_function
from gradclinic.layer_statistics import SignalPropagation, draw_kernels, keras_selu


def setup_module():
    gradclinic.seed(0)


# -- lesson 10: signal propagation ------------------------------------------------------------------
def test_default_selu_is_keras_selu():
    x = np.linspace(-5, 5, 21)
    assert np.allclose(keras_selu(x), solution_function("10_self_normalizing_networks", "selu")(x), rtol=1e-12)


def test_signal_propagation_rejects_bad_arguments():
    propagation = SignalPropagation({"standardized": np.random.default_rng(0).normal(size=(8, 64))}, max_depth=2)
    with pytest.raises(ValueError, match="activation"):
        propagation.statistics("sigmoid")
    with pytest.raises(ValueError, match="inputs"):
        propagation.statistics(inputs="whitened")
    with pytest.raises(ValueError, match="initializer"):
        draw_kernels("orthogonal", 4, 4, 2, np.random.default_rng(0))
