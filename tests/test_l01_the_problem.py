"""Lesson 01, the problem: the hidden checks name real mistakes, and the explorer holds at its
slider ends and updates in place (the numbers it plots: tests/test_profiles.py)."""

import numpy as np
import pytest

import gradclinic
from autograder import exercise
from checks import appended_mistakes, assert_named, failure_of
from gradclinic.explorers.the_problem import DeepLinearExplorer


def setup_module():
    gradclinic.seed(0)


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
    assert explorer.settle() and len(explorer.activation_line.get_xdata()) == 77


# -- the hidden checks --------------------------------------------------------------------
def _activations(offset=0, transform=lambda n: n, include_input=False):
    def learner(x, scale, depth):
        x = np.asarray(x, float)
        if x.ndim != 1 or depth < 1 or int(depth) != depth:
            raise ValueError("bad input")
        start = 0 if include_input else 1
        return np.array([transform(np.linalg.norm(x) * scale ** (l + offset)) for l in range(start, depth + 1)])
    return learner


def test_deep_linear_activation_mistakes():
    assert "input's own norm" in failure_of("deep_linear_activations", _activations(include_input=True))
    assert "squared norms" in failure_of("deep_linear_activations", _activations(transform=lambda n: n ** 2))
    assert "off by one" in failure_of("deep_linear_activations", _activations(offset=-1))


def test_deep_linear_activation_l1_norm_is_caught():
    def l1(x, scale, depth):
        x = np.asarray(x, float)
        if x.ndim != 1 or depth < 1:
            raise ValueError("bad")
        return np.array([np.abs(x).sum() * scale ** l for l in range(1, depth + 1)])
    assert "L1 norm" in failure_of("deep_linear_activations", l1)


def _gradients(variables="kernels", reverse=False, square=False, weights_only=False):
    import tensorflow as tf

    def learner(model, x, y, loss_fn):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x))
        targets = ([v for l in model.layers for v in ([l.kernel] if hasattr(l, "kernel") else [])]
                   if variables == "kernels" else model.trainable_variables)
        grads = targets if weights_only else tape.gradient(loss, targets)
        norms = [float(tf.norm(g)) ** (2 if square else 1) for g in grads]
        return norms[::-1] if reverse else norms
    return learner


@pytest.mark.parametrize("kwargs, hint", [({"variables": "all"}, "biases are included"),
                                          ({"reverse": True}, "order is reversed"),
                                          ({"square": True}, "squared norms"),
                                          ({"weights_only": True}, "norms of the weights themselves")])
def test_layer_gradient_norm_mistakes(kwargs, hint):
    assert hint in failure_of("layer_gradient_norms", _gradients(**kwargs))


def test_hidden_cases_cover_biases_conv_and_depth_one():
    labels = " ".join(case.label for case in exercise("layer_gradient_norms").cases("hidden"))
    assert "with biases" in labels and "Conv2D" in labels and "depth 1" in labels


@pytest.mark.parametrize("name, mistake", appended_mistakes("deep_linear_activations", "layer_gradient_norms"))
def test_known_mistakes_are_named_on_their_mutants(name, mistake):
    assert_named(name, mistake)
