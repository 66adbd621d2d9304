"""Lessons 05–12 under tests/test_visible_cases.py's contract: each released ``test_<name>`` cell is
generated from the exercise's basic cases, its lines evaluate to those cases, and the learner's
kernel and the grader reach the same verdict — for the reference and for a real mistake (the
catalogue in tests/mistakes.py)."""

import functools
import sys
import warnings

import numpy as np
import pytest

from autograder.build import release_notebook_path
from autograder.registry import exercise, run_in_process
from mistakes import MISTAKES, lesson_namespace
from test_visible_cases import in_kernel_failure, named, visible_cells
from test_visible_cases import test_each_check_line_evaluates_to_its_case as lines_evaluate_to_cases
from test_visible_cases import test_released_cell_is_generated_from_the_basic_cases_now as cell_is_generated

LESSONS = ["05_gated_rnns", "06_residual_networks", "07_gradient_clipping", "08_l2_regularization",
           "09_batch_normalization", "10_self_normalizing_networks", "11_gradient_clinic", "12_signal_propagation"]
RELEASED = [(slug, name, source) for slug in LESSONS for name, source in visible_cells(release_notebook_path(slug)).items()]
IDS = [name for _, name, _ in RELEASED]


def test_every_exercise_of_lessons_05_to_12_is_covered():
    assert {name for _, name, _ in RELEASED} == {name for slug in LESSONS for name in MISTAKES[slug]}


@pytest.mark.parametrize("slug, name, released", RELEASED, ids=IDS)
def test_released_cell_is_generated_from_the_basic_cases_now(slug, name, released):
    cell_is_generated(slug, name, released)


@pytest.mark.parametrize("slug, name, released", RELEASED, ids=IDS)
def test_each_check_line_evaluates_to_its_case(slug, name, released):
    lines_evaluate_to_cases(slug, name, released)


def reference(name):
    """The instructor's reference, the module-level function of the exercise's lesson module."""
    return getattr(sys.modules[type(exercise(name)).__module__], name)


@functools.cache
def mistaken(slug, name):
    """The catalogue's mistake for ``name``, defined as its solution cell would define it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lesson_namespace(slug, {name: MISTAKES[slug][name].source})[name]


@pytest.mark.parametrize("which", ["reference", "mistake"])
@pytest.mark.parametrize("slug, name, released", RELEASED, ids=IDS)
def test_kernel_and_grader_reach_the_same_verdict(slug, name, released, which, capsys):
    function = named(reference(name), name) if which == "reference" else mistaken(slug, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a mistake's own overflow warnings
        kernel = in_kernel_failure(released, name, function)
        graded, _ = run_in_process(exercise(name), function, "basic")
    if which == "reference":
        assert kernel is None and graded == []
        assert f"✓ {name}" in capsys.readouterr().out
    else:
        assert kernel is not None and graded, f"the visible check misses: {MISTAKES[slug][name].what}"
        assert graded[0] == kernel  # the first failing case, with the same message


# -- the inputs left alone: kind="call_returning_inputs" on both paths --------------------------
def clip_by_value_in_place(grads, clip_value):
    if not clip_value > 0:
        raise ValueError("clip_value must be positive")
    return [np.clip(g, -clip_value, clip_value, out=g) for g in grads]


def l2_penalty_squaring_in_place(weights, lam):
    if lam < 0:
        raise ValueError("lam must be ≥ 0")
    for w in weights:
        w **= 2
    return float(lam * sum(w.sum() for w in weights))


def batchnorm_updating_in_place(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=1e-3):
    result = reference("batchnorm_forward")(x, gamma, beta, moving_mean, moving_var, training, momentum, epsilon)
    if training:
        moving_mean *= momentum  # the caller's array, changed
    return result


@pytest.mark.parametrize("name, function", [("clip_by_value", clip_by_value_in_place),
                                            ("l2_penalty", l2_penalty_squaring_in_place),
                                            ("batchnorm_forward", batchnorm_updating_in_place)])
def test_changing_the_inputs_in_place_fails_the_same_visible_case_on_both_paths(name, function):
    (released,) = [source for _, cell, source in RELEASED if cell == name]
    kernel = in_kernel_failure(released, name, named(function, name))
    graded, _ = run_in_process(exercise(name), named(function, name), "basic")
    assert kernel is not None and "after" in kernel.splitlines()[0] and graded == [kernel]
