"""The toolkit's per-layer statistics at initialisation (gradclinic.layer_statistics): lesson 09's
profiler (its BN is Keras's layer) and lesson 10's signal propagation (its default SELU is Keras's,
its arguments are checked)."""

import numpy as np
import pytest

import gradclinic
from autograder.solution import solution_function
from gradclinic.layer_statistics import BN_WIDTH, BatchNormProfiler, SignalPropagation, draw_kernels, keras_selu


def setup_module():
    gradclinic.seed(0)


# -- lesson 09: the BN profiler ---------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_batchnorm_profiler_is_keras_batchnormalization(activation):
    import keras

    profiler = BatchNormProfiler(seed=1)
    depth = 6
    activations, _ = profiler.activations(depth, activation, batchnorm=True)
    layers = [keras.Input((BN_WIDTH,))]
    for _ in range(depth):
        layers += [keras.layers.Dense(BN_WIDTH, use_bias=False), keras.layers.BatchNormalization(),
                   keras.layers.Activation(activation)]
    model = keras.Sequential(layers)
    for dense, kernel in zip(model.layers[::3], profiler.kernels[:depth]):
        dense.kernel.assign(kernel)
    x = profiler.inputs
    for index, layer in enumerate(model.layers):
        x = layer(x, training=True)
        if index % 3 == 2:
            assert np.allclose(activations[index // 3], np.asarray(x), atol=2e-5), index // 3


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
