"""The hidden checks of lessons 00–01: references pass, real mistakes fail with the right hint."""

import numpy as np
import pytest

import gradclinic
from autograder import check, exercise
from autograder.exercise import CheckFailed
from autograder.lessons import l00_welcome, l01_the_problem


def setup_module():
    gradclinic.seed(0)


def failure_of(name, function):
    with pytest.raises(CheckFailed) as caught:
        check(name, function)
    return str(caught.value)


@pytest.mark.parametrize("name, reference", [("compound", l00_welcome.compound),
                                             ("deep_linear_activations", l01_the_problem.deep_linear_activations),
                                             ("layer_gradient_norms", l01_the_problem.layer_gradient_norms)])
def test_reference_passes_its_own_checks(name, reference):
    check(name, reference)


def test_compound_mistakes():
    assert "scale ** depth" in failure_of("compound", lambda s, d: float(s * d))
    assert "Python float" in failure_of("compound", lambda s, d: s ** d)
    assert "one factor short" in failure_of("compound", lambda s, d: float(s) ** (d - 1) if d >= 1 else 1.0)
    assert "should raise ValueError" in failure_of("compound", lambda s, d: float(s) ** d)


def test_compound_rejects_objects_that_claim_equality():
    class AlwaysEqual(float):
        def __eq__(self, other):
            return True

    class Anything:
        def __eq__(self, other):
            return True

    assert "returned an object" in failure_of("compound", lambda s, d: Anything())
    assert "returned an object" in failure_of("compound", lambda s, d: AlwaysEqual(0.0))


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


def test_failure_message_renders_without_grader_source():
    try:
        check("compound", lambda s, d: 0.0)
    except CheckFailed as failure:
        rendered = "\n".join(failure._render_traceback_())
    assert "autograder" not in rendered and "def " not in rendered
    assert "expected" in rendered


def test_learner_exception_is_reported_not_raised():
    def broken(scale, depth):
        raise ZeroDivisionError("oops")
    assert "ZeroDivisionError: oops" in failure_of("compound", broken)


def test_missing_exercise_name_is_a_clear_error():
    with pytest.raises(KeyError, match="no exercise named"):
        exercise("no_such_function")
