"""Lesson 07, gradient clipping: the hidden checks, the explorer, and the notebook's experiments."""


import numpy as np
import pytest

import gradclinic
from autograder import check, exercise
from autograder.solution import solution_function
from gradclinic.explorers.gradient_clipping import ClippingExplorer
from gradclinic.training import CLIPPING_MODES, DESCENT_MAX_DEPTH, DESCENT_STEPS, ClippedDescent, diverged_at
from conftest import run_lesson_code
from checks import appended_mistakes, assert_named, failure_of

NAMES = ("clip_by_value", "clip_by_norm", "clip_by_global_norm")


def setup_module():
    gradclinic.seed(0)


def solution(name):
    """The lesson's solution of ``name``: the grader's reference."""
    return solution_function("07_gradient_clipping", name)


# -- the references (the solution cells) are TensorFlow's rules --------------------------------
def _tensorflow(name, grads, threshold):
    import tensorflow as tf

    if name == "clip_by_value":
        return [tf.clip_by_value(g, -threshold, threshold).numpy() for g in grads]
    if name == "clip_by_norm":
        return [tf.clip_by_norm(g, threshold).numpy() for g in grads]
    clipped, norm = tf.clip_by_global_norm(grads, threshold)
    return [c.numpy() for c in clipped], float(norm)


@pytest.mark.parametrize("name", NAMES)
def test_references_match_tensorflow_on_every_hidden_case(name):
    for case in exercise(name).cases("hidden"):
        if case.raises or case.kind != "call":
            continue
        grads = [np.asarray(g, dtype=float) for g in case.args[0]]
        ours, theirs = solution(name)(*case.args), _tensorflow(name, grads, float(case.args[1]))
        if name == "clip_by_global_norm":
            assert np.isclose(ours[1], theirs[1], rtol=1e-12), case.label
            ours, theirs = ours[0], theirs[0]
        for a, b in zip(ours, theirs, strict=True):
            assert np.allclose(a, b, rtol=1e-12, atol=1e-15), case.label


def test_hidden_cases_cover_what_the_lesson_promises():
    for name in NAMES:
        labels = " ".join(case.label for case in exercise(name).cases("hidden"))
        assert "single tensor" in labels
        assert "=0" in labels and "negative" in labels
        assert "zero" in labels
    assert "below" in " ".join(c.label for c in exercise("clip_by_norm").cases("hidden"))
    assert "exactly at ±clip_value" in " ".join(c.label for c in exercise("clip_by_value").cases("hidden"))


def test_references_leave_their_inputs_alone():
    grads = [np.array([3.0, 4.0]), np.array([[5.0, -12.0]])]
    for name in NAMES:
        before = [g.copy() for g in grads]
        solution(name)(grads, 1.0)
        assert all(np.array_equal(a, b) for a, b in zip(grads, before)), name


# -- learner mistakes, each recognised with its hint ----------------------------------------
def _threshold_checked(function):
    def learner(grads, threshold):
        if not threshold > 0:
            raise ValueError("threshold must be positive")
        return function([np.asarray(g, dtype=float) for g in grads], threshold)
    return learner


def _each(factor):
    """A per-tensor learner: g * factor(g, c) for every tensor g."""
    return _threshold_checked(lambda grads, c: [g * factor(g, c) for g in grads])


def _together(norm_of, factor=lambda n, c: c / max(n, c), returned_norm=None):
    """A global learner: one factor from norm_of(grads); returns (clipped, reported norm)."""
    def clip(grads, c):
        norm = norm_of(grads)
        reported = norm if returned_norm is None else returned_norm(norm, c)
        return [g * factor(norm, c) for g in grads], reported
    return _threshold_checked(clip)


def _l2(g):
    return np.sqrt(np.sum(g ** 2))


def _global(grads):
    return np.sqrt(sum(np.sum(g ** 2) for g in grads))


@pytest.mark.parametrize("learner, hint", [
    (_threshold_checked(lambda gs, c: [np.clip(g, 0, c) for g in gs]), "both sides"),
    (_threshold_checked(lambda gs, c: [np.minimum(np.abs(g), c) for g in gs]), "signs are lost"),
    (_each(lambda g, c: c / max(_l2(g), c)), "rescaled by its norm"),
    (_threshold_checked(lambda gs, c: [np.clip(g, -c, c).ravel() for g in gs]), "never reshapes"),
    (_threshold_checked(lambda gs, c: np.clip(gs[0], -c, c)), "return a list"),
])
def test_clip_by_value_mistakes(learner, hint):
    assert hint in failure_of("clip_by_value", learner)


@pytest.mark.parametrize("learner, hint", [
    (_each(lambda g, c: c / _l2(g) if _l2(g) > 0 else 1.0), "scaled UP"),
    (_threshold_checked(lambda gs, c: [g * c / max(_global(gs), c) for g in gs]), "clip_by_global_norm"),
    (_each(lambda g, c: c / max(np.sum(np.abs(g)), c)), "L1 norm"),
    (_each(lambda g, c: c / max(np.sum(g ** 2), c)), "squared norm"),
    (_threshold_checked(lambda gs, c: [g * c / np.maximum(np.sqrt(np.sum(g ** 2, axis=-1, keepdims=True)), c)
                                       for g in gs]), "each row"),
    (_each(lambda g, c: min(_l2(g), c) / _l2(g)), "0/0 gave NaN"),
])
def test_clip_by_norm_mistakes(learner, hint):
    with np.errstate(divide="ignore", invalid="ignore"):
        assert hint in failure_of("clip_by_norm", learner)


@pytest.mark.parametrize("learner, hint", [
    (_threshold_checked(lambda gs, c: ([g * c / max(_l2(g), c) for g in gs], _global(gs))), "its own norm"),
    (_together(_global, factor=lambda n, c: c / n if n > 0 else 1.0), "scaled UP"),
    (_together(_global, returned_norm=lambda n, c: min(n, c)), "norm after clipping"),
    (_together(lambda gs: sum(np.sum(np.abs(g)) for g in gs)), "L1 norm"),
    (_together(lambda gs: sum(_l2(g) for g in gs)), "adds the tensors' norms"),
    (_together(_global, returned_norm=lambda n, c: n ** 2), "squared global norm"),
    (_together(_global, factor=lambda n, c: min(n, c) / n), "0/0 gave NaN"),
    (_threshold_checked(lambda gs, c: tuple(reversed(_together(_global)(gs, c)))), "the order is"),
    (_threshold_checked(lambda gs, c: _together(_global)(gs, c)[0]), "clipped"),
])
def test_clip_by_global_norm_mistakes(learner, hint):
    with np.errstate(divide="ignore", invalid="ignore"):
        assert hint in failure_of("clip_by_global_norm", learner)


@pytest.mark.parametrize("name, mistake", appended_mistakes(*NAMES))
def test_known_mistakes_are_named_on_their_mutants(name, mistake):
    with np.errstate(divide="ignore", invalid="ignore"):
        assert_named(name, mistake)


@pytest.mark.parametrize("name", NAMES)
def test_thresholds_of_zero_or_below_must_be_refused(name):
    reference = solution(name)

    def accepts_anything(grads, threshold):
        return reference(grads, abs(threshold) or 1.0)
    message = failure_of(name, accepts_anything)
    assert "should raise ValueError" in message and "=0" in message


def _mutating(name):
    """The reference, but clipping the caller's arrays in place and returning them."""
    def learner(grads, threshold):
        result = solution(name)(grads, threshold)
        clipped = result[0] if name == "clip_by_global_norm" else result
        for original, new in zip(grads, clipped):
            original[...] = new
        return (grads, result[1]) if name == "clip_by_global_norm" else grads
    return learner


@pytest.mark.parametrize("name", NAMES)
def test_in_place_clipping_is_caught(name):
    check(name, solution(name))  # the reference leaves its inputs alone
    assert "clips the input arrays in place" in failure_of(name, _mutating(name))


# -- the explorer ---------------------------------------------------------------------------------
@pytest.fixture(params=["seed 0", pytest.param("the notebook's", marks=pytest.mark.slow)])
def any_descent(request):
    """The explorer's problem drawn from seed 0, and the one the notebook's explorer drew."""
    if request.param == "seed 0":
        return ClippedDescent(np.random.default_rng(0))
    return request.getfixturevalue("lesson")["explorer"].descent


def test_explorer_stories_the_lesson_tells(any_descent):
    """The things-to-try list of the notebook, as the explorer computes them."""
    descent = any_descent
    unclipped = descent.run(20, 0.3)
    clipped = descent.run(20, 0.3, "by global norm", 1.0)
    assert diverged_at(unclipped[0]) is not None and diverged_at(unclipped[0]) < 10
    assert diverged_at(clipped[0]) is None and clipped[0][-1] < clipped[0][0]
    assert np.allclose(clipped[2][clipped[1] > 1.0], 1.0)  # the applied norm sits on the threshold
    # a threshold far above the usual gradient acts too late
    assert diverged_at(descent.run(20, 0.3, "by global norm", 100.0)[0]) is not None
    # a tiny threshold is safe but slow
    assert descent.run(20, 0.3, "by global norm", 0.01)[0][-1] > clipped[0][-1]
    # a small learning rate needs no clipping
    assert diverged_at(descent.run(20, 0.01)[0]) is None
    # per-tensor clipping lets the whole step reach threshold·√depth and ends behind global clipping
    for depth in (5, 20, 50):
        per_tensor = descent.run(depth, 0.3, "by norm", 1.0)
        assert np.isclose(np.nanmax(per_tensor[2]), np.sqrt(depth), rtol=1e-6), depth
        assert per_tensor[0][-1] > descent.run(depth, 0.3, "by global norm", 1.0)[0][-1], depth
    # a big step can also collapse the net onto output 0, where its gradients vanish (which step
    # does it depends on the drawn net: the notebook's and seed 0's differ, so sweep the slider)
    collapses = [learning_rate for learning_rate in (0.05, 0.07, 0.1, 0.12, 0.15, 0.2)
                 if np.isclose((run := descent.run(20, learning_rate))[0][-1], descent.zero_output_loss, rtol=0.05)
                 and run[1][-1] < 1e-2 * run[1][0]]
    assert collapses, "no learning rate on the slider collapses the net onto output 0"


def test_explorer_updates_in_place_at_the_slider_ends():
    explorer = ClippingExplorer(rng=np.random.default_rng(0))
    figure = explorer.figure
    before = explorer.png()
    for values in ({"learning_rate": 1e-3, "threshold": 1e-2, "depth": 1, "mode": "by value"},
                   {"learning_rate": 1.0, "threshold": 1e2, "depth": DESCENT_MAX_DEPTH, "mode": "by norm"},
                   {"learning_rate": 1.0, "threshold": 1e-2, "depth": DESCENT_MAX_DEPTH, "mode": "by global norm"}):
        assert explorer.update(**values) is figure, "the explorer must update its figure, not create a new one"
        assert len(explorer.clipped_loss.get_ydata()) == DESCENT_STEPS
        low, high = explorer.loss_axes.get_ylim()
        assert 0 < low < high and np.isfinite(high)
    explorer.update(learning_rate=1.0, threshold=1e2, depth=DESCENT_MAX_DEPTH)
    assert "diverged" in figure._suptitle.get_text()
    assert len(explorer.blowup_marks.get_xdata()) == 2
    assert explorer.png() != before, "moving the sliders must change the rendered figure"


def test_explorer_axes_stay_fixed_while_the_sliders_move_and_hold_every_point():
    """From 3 layers on, the axis ranges hold every setting: a move shifts the curves, not the axes."""
    explorer = ClippingExplorer(rng=np.random.default_rng(0))
    limits = set()
    for values in ({"depth": 3, "learning_rate": 1e-3, "threshold": 1e-2, "mode": "by value"},
                   {"depth": 20, "learning_rate": 0.3, "threshold": 1.0, "mode": "by global norm"},
                   {"depth": 20, "learning_rate": 0.3, "threshold": 1e2, "mode": "by norm"},
                   {"depth": DESCENT_MAX_DEPTH, "learning_rate": 1.0, "threshold": 1e2, "mode": "by global norm"}):
        explorer.update(**values)
        limits.add((explorer.loss_axes.get_ylim(), explorer.norm_axes.get_ylim()))
        for axes in (explorer.loss_axes, explorer.norm_axes):
            low, high = axes.get_ylim()
            for line in axes.get_lines():
                shown = np.asarray(line.get_ydata(), dtype=float)
                shown = shown[np.isfinite(shown)]
                assert np.all((low <= shown) & (shown <= high)), f"{line.get_label()} leaves the axes at {values}"
    assert len(limits) == 1, "the axis ranges moved with the learning rate, threshold, mode or depth"
    assert explorer.loss_axes.get_ylim()[1] > 1e12, "a run stops at loss 1e12: the axis must reach it"


def test_explorer_widget_has_its_controls_and_redraws_on_change():
    explorer = ClippingExplorer()
    box = explorer.widget()
    controls = box.children[0].children
    assert [c.description for c in controls] == ["learning rate", "threshold", "clip", "depth"]
    assert tuple(controls[2].options) == CLIPPING_MODES
    controls[3].value = 3
    assert explorer.settle() and "depth 3" in explorer.figure._suptitle.get_text()
    with pytest.raises(ValueError, match="unknown control"):
        explorer.update(width=3)


# -- the notebook's experiments ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def lesson():
    """The lesson's code cells run here: their namespace and printed text."""
    return run_lesson_code("07_gradient_clipping")


@pytest.mark.slow
def test_seed_003_net_explodes_without_clipping_and_stays_finite_with_it(lesson):
    runs = lesson["runs"]
    losses, norms = runs["SGD 0.1, no clipping"]
    assert not np.isfinite(losses[-1]) and len(losses) < 20
    assert np.nanmax(losses[np.isfinite(losses)]) > 100 and np.nanmax(norms[np.isfinite(norms)]) > 1e3
    for name in ("SGD 0.1, clipnorm=1", "SGD 0.1, global_clipnorm=1", "Adam 0.001, no clipping"):
        losses, norms = runs[name]
        assert len(losses) == lesson["TRAIN_STEPS"] == 40 and np.isfinite(losses).all(), name
        assert losses.max() < 20, name
        assert np.median(norms) > 1.0, f"{name}: the raw gradient should stay above the threshold"
    seed_runs, seeds, jagged = lesson["seed_runs"], lesson["RUN_SEEDS"], lesson["jaggedness"]
    assert len(seeds) >= 3  # the comparison rests on several runs, not one
    for seed in seeds:  # every run: no clipping blows up, global clipping ends lower than per-tensor
        assert not np.isfinite(seed_runs["SGD 0.1, no clipping", seed][0][-1]), seed
        global_losses, per_tensor_losses = (seed_runs["SGD 0.1, global_clipnorm=1", seed][0],
                                            seed_runs["SGD 0.1, clipnorm=1", seed][0])
        assert global_losses[-10:].mean() < 0.5 * global_losses[0], seed
        assert global_losses[-10:].mean() < per_tensor_losses[-10:].mean(), seed
    # smoother in the median (the notebook says the ranges overlap)
    assert (np.median([jagged(seed_runs["SGD 0.1, global_clipnorm=1", s][0]) for s in seeds])
            < np.median([jagged(seed_runs["SGD 0.1, clipnorm=1", s][0]) for s in seeds]))


@pytest.mark.slow
def test_global_clipping_keeps_the_direction_and_per_tensor_clipping_bends_it(lesson):
    grads, cosine = lesson["grads"], lesson["cosine"]
    clip_by_norm, clip_by_global_norm = lesson["clip_by_norm"], lesson["clip_by_global_norm"]
    per_tensor = [cosine(grads, clip_by_norm(grads, c)) for c in (1.0, 0.3, 0.1, 0.03)]
    for c in (1.0, 0.3, 0.1, 0.03):
        assert abs(cosine(grads, clip_by_global_norm(grads, c)[0]) - 1) < 1e-6
    assert per_tensor[0] > 0.98 and per_tensor[2] < 0.9
    assert all(a >= b - 1e-9 for a, b in zip(per_tensor, per_tensor[1:]))
    assert min(np.linalg.norm(g) for g in grads) > 0.1 and np.isclose(per_tensor[2], per_tensor[3])
    assert cosine(grads, lesson["clip_by_value"](grads, lesson["value_threshold"])) < 0.99


@pytest.mark.slow
def test_lesson_prints_keras_own_messages_and_agrees_with_tensorflow(lesson):
    printed = lesson["printed"]
    assert "ValueError: Argument(s) not recognized: {'lr': 0.01}" in printed
    assert "ValueError: Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set" in printed
    assert "{'clipnorm': 0.0}) moves the weight by [3. 4.]" in printed
    assert "{'clipvalue': 1.0}) moves the weight by [1. 1.]" in printed
    differences = [float(line.rsplit(":", 1)[1]) for line in printed.splitlines() if "from TensorFlow" in line]
    assert len(differences) == 3 and max(differences) < 1e-12
