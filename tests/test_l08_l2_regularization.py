"""Lesson 08, L2 regularization: the hidden checks, the explorer at its slider ends, and the
lesson's experiments."""

import numpy as np
import pytest

import gradclinic
from autograder import check
from autograder.graders import l08_l2_regularization as l08
from autograder.solution import solution_function
from gradclinic.explorers.l2_regularization import L2Explorer
from gradclinic.training import DEEP_LINEAR, DIGITS_MLP, LAMBDA_GRID, SETUPS, grid_runs, train_l2_grid
from checks import failure_of


def setup_module():
    gradclinic.seed(0)


def refusing_negative(formula):
    """A learner's function that validates λ and then applies ``formula(float arrays, lam)``."""
    def learner(weights, lam):
        if lam < 0:
            raise ValueError("lam must be non-negative")
        return formula([np.asarray(w, float) for w in weights], lam)
    return learner


def squares(weights):
    return sum(np.sum(w ** 2) for w in weights)


def solution(name):
    """The lesson's solution of ``name``: the grader's reference."""
    return solution_function("08_l2_regularization", name)


# -- the references (the solution cells) are Keras ---------------------------------------------
def keras_penalty(weights, lam):
    """Keras's ``L2(lam)`` penalty summed over the arrays, in float64."""
    import keras

    regularizer = keras.regularizers.L2(lam)
    return float(sum(float(regularizer(np.asarray(w, "float64"))) for w in weights))


def keras_penalty_grad(weights, lam):
    """∂(Keras's L2(lam) summed over the arrays)/∂w for every array, by tf.GradientTape."""
    import keras
    import tensorflow as tf

    regularizer = keras.regularizers.L2(lam)
    variables = [tf.Variable(np.asarray(w, "float64")) for w in weights]
    with tf.GradientTape() as tape:
        penalty = tf.add_n([regularizer(v) for v in variables])
    return [np.asarray(g) for g in tape.gradient(penalty, variables)]


@pytest.mark.parametrize("name, keras_version", [("l2_penalty", keras_penalty),
                                                 ("l2_penalty_grad", keras_penalty_grad)])
def test_references_are_keras_on_every_hidden_case(name, keras_version):
    compared = 0
    for case in l08.L2Penalty().cases("hidden"):
        weights, lam = case.args
        if case.raises or case.kind != "call" or not weights:
            continue
        ours, theirs = solution(name)(weights, lam), keras_version(weights, lam)
        for a, b in zip(np.atleast_1d(ours) if name == "l2_penalty" else ours,
                        np.atleast_1d(theirs) if name == "l2_penalty" else theirs, strict=True):
            assert np.allclose(a, b, rtol=1e-6, atol=1e-15), case.label  # Keras holds λ as a float32
        compared += 1
    assert compared >= 10


@pytest.mark.parametrize("name", ["l2_penalty", "l2_penalty_grad"])
def test_references_refuse_a_negative_lambda(name):
    with pytest.raises(ValueError):
        solution(name)([np.ones(2)], -0.1)


def test_hidden_cases_cover_float32_empty_zero_and_bad_lambda():
    labels = " ".join(case.label for case in l08.L2Penalty().cases("hidden"))
    assert "float32" in labels and "empty" in labels and "λ=0" in labels and "negative" in labels


# -- each mistake the hidden tests claim to catch, caught with its hint ----------------------
@pytest.mark.parametrize("formula, hint", [
    (lambda ws, lam: float(lam / 2 * squares(ws)), "½ convention"),
    (lambda ws, lam: float(lam / (2 * len(ws)) * squares(ws)) if ws else 0.0, "λ/2m convention"),
    (lambda ws, lam: float(lam * np.mean(np.concatenate([w.ravel() for w in ws]) ** 2)) if ws else 0.0,
     "mean instead of a sum"),
    (lambda ws, lam: float(lam * np.sqrt(squares(ws))), "no square root"),
    (lambda ws, lam: float(lam * sum(np.abs(w).sum() for w in ws)), "L1 penalty"),
    (lambda ws, lam: float(squares(ws)), "λ is missing"),
    (lambda ws, lam: [float(lam * np.sum(w ** 2)) for w in ws], "add them up"),
    (lambda ws, lam: np.array(lam * squares(ws)), "return a Python float"),
])
def test_penalty_mistakes_are_named(formula, hint):
    assert hint in failure_of("l2_penalty", refusing_negative(formula))


@pytest.mark.parametrize("formula, hint", [
    (lambda ws, lam: [lam * w for w in ws], "½ convention"),
    (lambda ws, lam: [lam * w / len(ws) for w in ws], "(λ/m)·W"),
    (lambda ws, lam: [-2 * lam * w for w in ws], "sign is flipped"),
    (lambda ws, lam: [w - 2 * lam * w for w in ws], "after a decay step"),
    (lambda ws, lam: [2 * lam * np.sign(w) for w in ws], "L1 penalty"),
    (lambda ws, lam: [2 * lam * w / w.size for w in ws], "mean crept in"),
    (lambda ws, lam: np.concatenate([2 * lam * w.ravel() for w in ws]) if ws else np.zeros(0),
     "one gradient array per weight array"),
])
def test_gradient_mistakes_are_named(formula, hint):
    assert hint in failure_of("l2_penalty_grad", refusing_negative(formula))


@pytest.mark.parametrize("name, formula", [("l2_penalty", lambda ws, lam: float(lam * squares(ws))),
                                           ("l2_penalty_grad", lambda ws, lam: [2 * lam * w for w in ws])])
def test_a_negative_lambda_must_be_refused(name, formula):
    message = failure_of(name, lambda weights, lam: formula([np.asarray(w, float) for w in weights], lam))
    assert "should raise ValueError" in message and "negative" in message


def test_float32_arithmetic_is_not_punished():
    def float32_learner(weights, lam):
        if lam < 0:
            raise ValueError("negative")
        return float(np.float32(lam) * sum(np.sum(np.square(np.asarray(w, np.float32))) for w in weights))
    check("l2_penalty", float32_learner)


@pytest.mark.parametrize("name, in_place", [
    ("l2_penalty", lambda ws, lam: float(lam * sum(np.sum(np.square(w, out=w)) for w in ws))),
    ("l2_penalty_grad", lambda ws, lam: [np.multiply(w, 2 * lam, out=w) for w in ws]),
])
def test_changing_the_callers_arrays_is_caught(name, in_place):

    def learner(weights, lam):
        if lam < 0:
            raise ValueError("negative")
        return in_place([w if w.dtype.kind == "f" else w.astype(float) for w in weights], lam)
    assert "arrays passed in were changed" in failure_of(name, learner)
    check(name, solution(name))  # and a function that leaves them alone still passes


# -- the lesson's experiments ----------------------------------------------------------------
@pytest.fixture(scope="module")
def mlp_runs():
    return grid_runs(DIGITS_MLP)


@pytest.fixture(scope="module")
def deep_runs():
    return grid_runs(DEEP_LINEAR)


def test_without_l2_the_weights_keep_growing(mlp_runs):
    norms = mlp_runs.weight_norms[:, 0]
    assert norms[-1] > 1.2 * norms[0]
    assert norms[-1] > norms[-1 - 5 * mlp_runs.steps_per_epoch]  # still rising at the end


def test_l2_bounds_weight_growth_monotonically_in_lambda(mlp_runs):
    final = mlp_runs.weight_norms[-1]
    assert np.all(np.diff(final) < 1e-6), "a larger λ must end with smaller weights"
    k = mlp_runs.index_of(1e-2)
    assert final[k] < 0.6 * final[0]
    assert final[k] < mlp_runs.weight_norms[0, k]  # below even where it started


def test_moderate_l2_keeps_accuracy_and_too_much_erases_the_net(mlp_runs):
    assert abs(mlp_runs.test_accuracy[mlp_runs.index_of(1e-3)] - mlp_runs.test_accuracy[0]) < 0.02
    assert mlp_runs.test_accuracy[0] > 0.93
    too_much = mlp_runs.index_of(1e-1)
    assert mlp_runs.weight_norms[-1, too_much] < 0.05 and mlp_runs.test_accuracy[too_much] < 0.2


def test_l2_does_not_change_the_gradient_at_initialization(deep_runs):
    first = deep_runs.data_grad_norms[0]
    assert np.allclose(first, first[0], rtol=1e-6)
    k = deep_runs.index_of(1e-3)
    assert deep_runs.penalty_grad_norms[0, k] < 0.05 * first[k]


def test_small_lambda_overflows_like_no_lambda_and_only_a_dominant_one_survives(deep_runs):
    steps = deep_runs.first_nonfinite_step()
    assert 5 <= steps[0] <= 15
    small = deep_runs.lams <= 1e-3
    assert np.all(np.abs(steps[small] - steps[0]) <= 2)
    survivors = steps == 0
    assert survivors[-1] and survivors.any()
    first_survivor = np.argmax(survivors)
    penalty = deep_runs.lams[first_survivor] * deep_runs.weight_norms[0, first_survivor] ** 2
    assert penalty > 5 * deep_runs.data_losses[0, first_survivor]  # the penalty dominates the loss


@pytest.mark.slow
def test_stability_map_a_smaller_step_beats_a_large_lambda():
    lams, rates = np.array([0.0, 1e-3, 1e-2, 3e-2, 1e-1]), np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.07])
    lam_grid, rate_grid = np.meshgrid(lams, rates, indexing="ij")
    runs = train_l2_grid(SETUPS[DEEP_LINEAR], lam_grid.ravel(), learning_rates=rate_grid.ravel())
    finite = (runs.first_nonfinite_step() == 0).reshape(lam_grid.shape)
    accuracy = runs.test_accuracy.reshape(lam_grid.shape)
    assert rates[finite[0]].max() < rates[finite[-1]].max()  # a large λ moves the limit up …
    assert not finite[:, -1].any()  # … but not past the largest rate
    rescued = accuracy[:, 3:][finite[:, 3:]]
    assert accuracy[0][finite[0]].max() > rescued.max() + 0.1  # and a smaller step trains better


# -- the explorer ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def explorer():
    return L2Explorer(setup=DIGITS_MLP, lam=1e-3)


def test_explorer_updates_in_place_at_the_slider_ends(explorer):
    figure, before = explorer.figure, explorer.png()
    assert explorer.update(setup=DIGITS_MLP, lam=0.0) is figure
    runs = grid_runs(DIGITS_MLP)
    assert np.allclose(explorer.norm_line.get_ydata(), runs.epoch_ends(runs.weight_norms)[:, 0])
    assert np.all(np.isnan(explorer.penalty_grad_line.get_ydata()))  # no penalty at λ = 0
    explorer.update(setup=DIGITS_MLP, lam=float(LAMBDA_GRID[-1]))
    assert np.allclose(explorer.norm_line.get_ydata(), runs.epoch_ends(runs.weight_norms)[:, -1])
    assert np.all(np.isfinite(explorer.penalty_grad_line.get_ydata()))
    assert explorer.png() != before


def test_explorer_marks_the_overflow_of_the_deep_setup(explorer):
    explorer.update(setup=DEEP_LINEAR, lam=0.0)
    step = grid_runs(DEEP_LINEAR).first_nonfinite_step()[0]
    assert explorer.overflow_marks[0].get_visible() and explorer.overflow_marks[0].get_xdata()[0] == step
    assert explorer.norm_ax.get_xlabel() == "step" and "overflow" in explorer.figure._suptitle.get_text()
    explorer.update(setup=DEEP_LINEAR, lam=float(LAMBDA_GRID[-1]))
    assert not explorer.overflow_marks[0].get_visible()
    assert "test accuracy" in explorer.figure._suptitle.get_text()


def test_explorer_axes_depend_on_the_setup_only(explorer):
    """Moving λ moves the curves against fixed axes that hold every run of the grid."""
    for setup in SETUPS:
        limits = set()
        for lam in LAMBDA_GRID:
            explorer.update(setup=setup, lam=float(lam))
            limits.add((explorer.norm_ax.get_ylim(), explorer.grad_ax.get_ylim()))
            for ax in (explorer.norm_ax, explorer.grad_ax):
                low, high = ax.get_ylim()
                for line in set(ax.get_lines()) - set(explorer.overflow_marks):  # the mark spans the axes
                    shown = np.asarray(line.get_ydata(), dtype=float)
                    shown = shown[np.isfinite(shown)]
                    assert np.all((low <= shown) & (shown <= high)), f"{line.get_label()} leaves the axes"
        assert len(limits) == 1, f"the axis ranges of {setup!r} moved with λ"


def test_explorer_widget_has_its_controls_and_redraws_on_change(explorer):
    box = explorer.widget()
    setup_control, lam_control = box.children[0].children
    assert (setup_control.description, lam_control.description) == ("setup", "λ")
    setup_control.value = DIGITS_MLP
    lam_control.value = float(LAMBDA_GRID[0])
    assert explorer.settle() and np.all(np.isnan(explorer.penalty_grad_line.get_ydata()))
    assert len(lam_control.options) == len(LAMBDA_GRID)
