"""Model builders: shapes, layer counts, the exact weights of the deep linear net, the gate lesson 05's
classifier opens."""

import numpy as np
import pytest

import gradclinic
from gradclinic.models import agreement_classifier, deep_linear_model, deep_mlp


def setup_module():
    gradclinic.seed(0)


def test_deep_mlp_layers_and_output():
    model = deep_mlp(64, 10, depth=5, width=32, activation="sigmoid")
    assert len(model.layers) == 6
    out = model(np.zeros((2, 64), "float32")).numpy()
    assert out.shape == (2, 10) and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_deep_mlp_depth_zero_is_logistic_regression():
    assert len(deep_mlp(8, 3, depth=0, width=4).layers) == 1


def test_deep_linear_model_is_scale_times_identity():
    model = deep_linear_model(depth=4, width=3, scale=1.5)
    x = np.array([[1.0, -2.0, 0.5]], "float32")
    assert np.allclose(model(x).numpy(), 1.5 ** 4 * x, rtol=1e-6)
    assert all(np.allclose(layer.kernel.numpy(), 1.5 * np.eye(3)) for layer in model.layers)


def test_deep_linear_model_gaussian_needs_rng_and_is_random():
    with pytest.raises(ValueError, match="rng"):
        deep_linear_model(3, 4, 1.0, weights="gaussian")
    model = deep_linear_model(3, 64, 1.0, weights="gaussian", rng=np.random.default_rng(0))
    kernel = model.layers[0].kernel.numpy()
    assert abs(kernel.std() - 1 / 8) < 0.01


@pytest.mark.parametrize("kwargs", [{"depth": 0, "width": 3, "scale": 1.0}, {"depth": 2, "width": 0, "scale": 1.0},
                                    {"depth": 2, "width": 3, "scale": 1.0, "weights": "ones"}])
def test_deep_linear_model_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        deep_linear_model(**kwargs)


def test_agreement_classifier_opens_the_keeping_gate():
    gru = agreement_classifier("GRU", 20, embedding_dim=4, units=3, keep_bias=3.0)
    bias = gru.layers[1].layers[0].cell.bias.numpy()
    assert np.allclose(bias[0, :3], 3.0) and np.allclose(bias[0, 3:], 0.0) and np.allclose(bias[1], 0.0)
    lstm = agreement_classifier("LSTM", 20, embedding_dim=4, units=3, keep_bias=2.0)
    assert np.allclose(lstm.layers[1].layers[0].cell.bias.numpy()[3:6], 3.0)  # Keras's 1 plus 2
    assert gru(np.zeros((2, 7), "int32")).shape == (2, 1)
    with pytest.raises(ValueError):
        agreement_classifier("Transformer", 20)
    with pytest.raises(ValueError):
        agreement_classifier("SimpleRNN", 20, keep_bias=1.0)
