"""Lesson 12's mean-field computation (gradclinic.mean_field) against the theory, with the
solution's functions standing in for the learner's: real random tanh nets' gradients grow by
√χ₁ per layer and their mean squares follow the length map, their backprop is TensorFlow's, and
at the edge of chaos orthogonal weights keep the Jacobian's spectrum narrow."""

import math

import numpy as np
import pytest

from autograder.solution import solution_function
from gradclinic.mean_field import RandomTanhNets, edge_of_chaos, growth_rate, jacobian_singular_values

length_map, fixed_point_q, chi1, orthogonal = (solution_function("12_signal_propagation", name) for name in
                                               ("length_map", "fixed_point_q", "chi1", "orthogonal"))


def test_edge_of_chaos_is_where_chi1_is_one():
    assert np.isclose(edge_of_chaos(chi1, 0.05), 1.1225, atol=2e-3)


# -- the lesson's experiments ----------------------------------------------------------------
@pytest.fixture(scope="module")
def nets():
    return RandomTanhNets(width=256, max_depth=40, n_nets=4, batch=4, seed=1)


@pytest.mark.parametrize("sigma_w, sigma_b", [(0.5, 0.0), (0.9, 0.0), (1.0, 0.3), (1.2, 0.05), (1.5, 0.3),
                                              (2.0, 0.05), (3.0, 1.0)])
def test_measured_gradient_growth_is_sqrt_chi1_per_layer(nets, sigma_w, sigma_b):
    q_star, chi = fixed_point_q(sigma_w, sigma_b, np.tanh), chi1(sigma_w, sigma_b, np.tanh)
    rates = growth_rate(nets.gradient_norms(sigma_w, sigma_b, q_star, 40))
    assert abs(rates.mean() / math.sqrt(chi) - 1) <= 0.03  # the notebook's GROWTH_TOLERANCE


def test_measured_mean_squares_follow_the_length_map(nets):
    measured = nets.mean_squares(1.5, 0.3, 4.0, 15)
    q, predicted = 4.0, []
    for _ in range(15):
        q = float(length_map(q, 1.5, 0.3, np.tanh))
        predicted.append(q)
    assert np.max(np.abs(measured / np.array(predicted) - 1)) < 0.12


def test_numpy_backprop_is_tensorflow_gradient_of_a_keras_net():
    """The explorer's net is a real one: its ∂loss/∂h_l are Keras's bias gradients."""
    import keras
    import tensorflow as tf

    nets = RandomTanhNets(width=32, max_depth=6, n_nets=1, batch=1, seed=4)
    sigma_w, sigma_b, q_in, depth = 1.7, 0.4, 0.8, 6
    ours = nets.gradient_norms(sigma_w, sigma_b, q_in, depth)[:, 0, 0]
    layers = [keras.layers.Dense(32, activation="tanh") for _ in range(depth)]
    model = keras.Sequential([keras.Input((32,)), *layers])
    for layer, index in zip(layers, range(depth)):
        layer.set_weights([sigma_w / math.sqrt(32) * nets.kernels[index, 0].T, sigma_b * nets.biases[index, 0, 0]])
    x = np.tanh(math.sqrt(q_in) * nets.inputs[0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x) * nets.upstream[0])
    grads = tape.gradient(loss, [layer.bias for layer in layers])
    assert np.allclose(ours, [float(tf.norm(g)) for g in grads], rtol=1e-4)


def test_orthogonal_weights_keep_the_jacobian_spectrum_narrow():
    sigma_w, sigma_b, width, depth = edge_of_chaos(chi1, 0.05), 0.05, 128, 24
    q_star = fixed_point_q(sigma_w, sigma_b, np.tanh)
    spreads = {}
    for kind in ("gaussian", "orthogonal"):
        rng = np.random.default_rng(3)
        if kind == "gaussian":
            kernels = [sigma_w / math.sqrt(width) * rng.standard_normal((width, width)) for _ in range(depth)]
        else:
            kernels = [orthogonal((width, width), rng, gain=sigma_w) for _ in range(depth)]
        biases = [sigma_b * rng.standard_normal(width) for _ in range(depth)]
        s = jacobian_singular_values(kernels, biases, np.tanh(math.sqrt(q_star) * rng.standard_normal(width)))
        assert 0.95 < np.mean(s ** 2) ** (1 / depth) < 1.06  # χ₁ = 1 keeps the mean per layer
        spreads[kind] = np.percentile(s, 90) / np.percentile(s, 10)
    assert spreads["orthogonal"] < 30 and spreads["gaussian"] > 1e6
