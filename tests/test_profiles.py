"""The toolkit's per-layer profiles (gradclinic.profiles) of the lessons' explorers: lesson 01's
deep linear signals, lesson 02's causes, lesson 03's ReLU family, lesson 04's activations."""

import numpy as np
import pytest

from gradclinic.profiles import (CAUSES_ACTIVATIONS, CAUSES_WEIGHT_SCHEMES, ActivationProfiles, CausesProfiles,
                                 DeepLinearSignals, LayerActivations)


# -- lesson 01: the deep linear net -----------------------------------------------------------------
@pytest.fixture(scope="module")
def signals():
    return DeepLinearSignals(np.random.default_rng(0), max_depth=100)


@pytest.mark.parametrize("scale", [0.5, 1.0, 1.5])
def test_identity_weights_follow_scale_power_laws(signals, scale):
    depth = 40
    layers = np.arange(1, depth + 1)
    assert np.allclose(signals.activation_norms(depth, scale), scale ** layers)
    assert np.allclose(signals.gradient_norms(depth, scale), scale ** (depth - layers))


def test_gaussian_weights_match_a_direct_computation(signals):
    depth, scale = 7, 1.3
    matrices = signals.matrices["gaussian"]
    a, expected = signals.x, []
    for layer in range(depth):
        a = scale * matrices[layer] @ a
        expected.append(np.linalg.norm(a))
    assert np.allclose(signals.activation_norms(depth, scale, "gaussian"), expected)
    delta = signals.upstream
    for layer in range(depth - 1, 0, -1):
        delta = scale * matrices[layer].T @ delta
    assert np.isclose(signals.gradient_norms(depth, scale, "gaussian")[0], np.linalg.norm(delta))


def test_gaussian_weights_grow_like_scale_on_average(signals):
    rate = np.exp(np.log(signals.activation_norms(100, 1.0, "gaussian")[-1]) / 100)
    assert 0.9 < rate < 1.1


def test_signals_reject_bad_controls(signals):
    with pytest.raises(ValueError):
        signals.activation_norms(0, 1.0)
    with pytest.raises(ValueError):
        signals.activation_norms(signals.max_depth + 1, 1.0)
    with pytest.raises(ValueError):
        signals.gradient_norms(5, 1.0, "orthogonal")


# -- lesson 02: the causes ------------------------------------------------------------------------
def test_causes_profiles_are_the_profilers_bit_for_bit():
    """One compiled function for every activation computes exactly what MLPProfiler computes."""
    profiles = CausesProfiles(np.random.default_rng(0), max_depth=60)
    for weights in CAUSES_WEIGHT_SCHEMES:
        for activation in CAUSES_ACTIVATIONS:
            expected = profiles.profiler.profile(profiles.kernels[weights][:60], activation).kernel_grad_norms
            got = profiles.kernel_gradient_norms(60, activation, weights)
            assert np.array_equal(got, expected.astype(float) / profiles.profiler.batch, equal_nan=True), \
                (activation, weights)
    profiles.kernel_gradient_norms(60, "tanh")[:] = -1  # a caller's copy: the kept profile stays as it was
    assert np.all(profiles.kernel_gradient_norms(60, "tanh") > 0)


# -- lesson 03: the ReLU family -------------------------------------------------------------------
@pytest.fixture(scope="module")
def profiles():
    return ActivationProfiles(np.random.default_rng(0))


def test_relu_family_stats_have_the_expected_shapes_and_meaning(profiles):
    relu = profiles.stats(30, "relu")
    assert relu.kernel_grad_norms.shape == relu.active_fraction.shape == relu.dead_fraction.shape == (30,)
    assert 0.35 < relu.active_fraction.mean() < 0.65
    sigmoid = profiles.stats(30, "sigmoid")
    assert np.all(sigmoid.active_fraction == 1.0) and np.all(sigmoid.dead_fraction == 0.0)
    for smooth in ("leaky_relu", "elu", "tanh"):
        assert np.all(profiles.stats(30, smooth).dead_fraction == 0.0)


def test_a_shallower_net_keeps_the_first_layers_forward_pass(profiles):
    deep, shallow = profiles.stats(40, "tanh"), profiles.stats(10, "tanh")
    assert np.allclose(deep.active_fraction[:10], shallow.active_fraction)


def test_relu_family_profiles_reject_bad_controls(profiles):
    for bad in ({"depth": 0}, {"depth": 101}, {"depth": 2.5}, {"activation": "softplus"}, {"weights": "zeros"}):
        with pytest.raises(ValueError):
            profiles.stats(**{"depth": 5, **bad})
    with pytest.raises(ValueError):
        ActivationProfiles(rng=0)


# -- lesson 04: the initializers' activations ---------------------------------------------------------
def test_activations_at_several_gains_are_each_gains_own():
    """The stacked pass the explorer's axes use computes, gain by gain, what activations does."""
    net = LayerActivations(np.random.default_rng(0), max_depth=8)
    stacked = net.activations_at_gains(8, (0.5, 1.0, 2.0), "he_normal", "relu", rows=16)
    assert stacked.shape == (3, 8, 16, 64)
    for row, gain in zip(stacked, (0.5, 1.0, 2.0)):
        assert np.allclose(row, net.activations(8, gain, "he_normal", "relu")[:, :16], rtol=1e-12)
