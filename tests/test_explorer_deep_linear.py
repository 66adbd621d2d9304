"""Lesson 01's explorer: the numbers it plots, its slider ends, and in-place updates."""

import numpy as np
import pytest

from gradclinic.explorers.deep_linear import MAX_DEPTH, DeepLinearExplorer, DeepLinearSignals


@pytest.fixture(scope="module")
def signals():
    return DeepLinearSignals(np.random.default_rng(0))


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
        signals.activation_norms(MAX_DEPTH + 1, 1.0)
    with pytest.raises(ValueError):
        signals.gradient_norms(5, 1.0, "orthogonal")


def test_explorer_updates_in_place_at_the_slider_ends():
    explorer = DeepLinearExplorer(depth=10, scale=1.0)
    figure = explorer.figure
    before = explorer.png()
    same = explorer.update(depth=1, scale=0.5)
    assert same is figure, "the explorer must update its figure, not create a new one"
    assert explorer.activation_line.get_xdata().tolist() == [1]
    assert np.allclose(explorer.activation_line.get_ydata(), [0.5])
    explorer.update(depth=100, scale=1.5, weights="gaussian")
    x, y = explorer.activation_line.get_data()
    assert len(x) == 100 and np.all(np.isfinite(y))
    assert np.allclose(explorer.forward_law.get_ydata(), 1.5 ** np.arange(1, 101))
    assert explorer.png() != before, "moving the sliders must change the rendered figure"


def test_explorer_rejects_unknown_controls():
    with pytest.raises(ValueError, match="unknown control"):
        DeepLinearExplorer().update(width=3)


def test_explorer_widget_has_its_controls_and_redraws_on_change():
    explorer = DeepLinearExplorer(depth=5)
    box = explorer.widget()
    sliders = box.children[0].children
    assert [s.description for s in sliders] == ["depth L", "scale", "W = scale ·"]
    sliders[0].value = 77
    assert len(explorer.activation_line.get_xdata()) == 77
