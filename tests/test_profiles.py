"""The toolkit's per-layer profiles (gradclinic.profiles) of the lessons' explorers: lesson 01's
deep linear signals."""

import numpy as np
import pytest

from gradclinic.profiles import DeepLinearSignals


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
