"""Lesson 09, Batch Normalization: the reference is Keras's layer (one call and several steps),
each learner mistake the hidden tests claim to catch is caught with its hint, the explorer updates
in place at its slider ends (that its BN is the layer is tested with the profiler, in
test_layer_statistics), and the notebook's experiments."""

import warnings

import numpy as np
import pytest

import gradclinic
from autograder import check
from autograder.exercise import CheckFailed
from autograder.graders import l09_batch_normalization as l09
from autograder.registry import exercise, run_in_process
from autograder.solution import solution_function
from gradclinic.explorers.batch_normalization import BatchNormExplorer
from gradclinic.layer_statistics import BN_MAX_DEPTH, HISTOGRAM_BINS, BatchNormProfiler
from conftest import run_lesson_code


def setup_module():
    gradclinic.seed(0)


def failures_of(function):
    """Every failure message of the hidden cases (the report shows only the first few)."""
    failures, _ = run_in_process(exercise("batchnorm_forward"), function, "hidden")
    return failures


def report_of(function):
    with pytest.raises(CheckFailed) as caught:
        check("batchnorm_forward", function)
    return str(caught.value)


def batchnorm_forward(*args, **kwargs):
    """The lesson's solution: the grader's reference."""
    return solution_function("09_batch_normalization", "batchnorm_forward")(*args, **kwargs)


def keras_batchnorm(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=1e-3):
    """One call of a real ``keras.layers.BatchNormalization`` holding these weights.

    ``x``: (batch, …, features); the four vectors: (features,). Returns NumPy float32
    ``(y, moving_mean, moving_var)``, the moving statistics as the layer holds them after the call.
    """
    import keras

    x = np.asarray(x, "float32")
    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)
    layer.build(x.shape)
    layer.set_weights([np.asarray(v, "float32") for v in (gamma, beta, moving_mean, moving_var)])
    y = layer(x, training=bool(training))
    return np.asarray(y), layer.moving_mean.numpy(), layer.moving_variance.numpy()


# -- the reference (the solution cell) is keras.layers.BatchNormalization -----------------------
def test_keras_batchnorm_helper_is_one_layer_call():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, size=(40, 2))
    y, mean, var = keras_batchnorm(x, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), True, momentum=0.0)
    assert np.allclose(mean, x.mean(axis=0), atol=1e-5) and np.allclose(var, x.var(axis=0), rtol=1e-5)
    assert np.allclose(y.mean(axis=0), 0, atol=1e-5)


@pytest.mark.parametrize("shape, momentum, epsilon", [((32, 5), 0.99, 1e-3), ((8, 4, 4, 3), 0.9, 1e-5),
                                                      ((6, 7, 2), 0.5, 0.1)])
def test_reference_follows_a_keras_layer_over_several_steps(shape, momentum, epsilon):
    import keras

    rng = np.random.default_rng(sum(shape))
    features = shape[-1]
    layer = keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)
    layer.build((None, *shape[1:]))
    gamma, beta = rng.uniform(0.5, 2, features), rng.normal(size=features)
    layer.set_weights([gamma.astype("float32"), beta.astype("float32"), np.zeros(features, "float32"),
                       np.ones(features, "float32")])
    moving_mean, moving_var = np.zeros(features), np.ones(features)
    for step in range(6):
        training = step != 3  # an inference call in the middle must leave the moving statistics alone
        x = (rng.normal(size=shape) * rng.uniform(0.5, 3, features) + rng.normal(2, 1, features)).astype("float32")
        y, moving_mean, moving_var = batchnorm_forward(x, gamma, beta, moving_mean, moving_var, training,
                                                       momentum, epsilon)
        keras_y = layer(x, training=training).numpy()
        assert np.allclose(y, keras_y, rtol=1e-4, atol=1e-4), step
        assert np.allclose(moving_mean, layer.moving_mean.numpy(), rtol=1e-5, atol=1e-6), step
        assert np.allclose(moving_var, layer.moving_variance.numpy(), rtol=1e-5, atol=1e-6), step
    x = rng.normal(size=shape).astype("float32")
    assert np.allclose(batchnorm_forward(x, gamma, beta, moving_mean, moving_var, False, momentum, epsilon)[0],
                       layer(x, training=False).numpy(), rtol=1e-4, atol=1e-4)


def test_reference_matches_keras_on_every_hidden_case():
    for case in exercise("batchnorm_forward").cases("hidden"):
        if case.raises:
            with pytest.raises(ValueError):
                batchnorm_forward(*case.args, **case.kwargs)
            continue
        ours = batchnorm_forward(*case.args, **case.kwargs)
        theirs = keras_batchnorm(*case.args, **case.kwargs)
        for mine, keras_part in zip(ours, theirs):
            scale = max(1.0, float(np.abs(mine).max()))
            assert np.allclose(mine, keras_part, rtol=1e-4, atol=2e-4 * scale), case.label


def test_reference_leaves_its_inputs_alone():
    rng = np.random.default_rng(3)
    args = [rng.normal(size=(5, 3)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)]
    before = [a.copy() for a in args]
    batchnorm_forward(*args, True)
    assert all(np.array_equal(a, b) for a, b in zip(args, before))


def test_hidden_cases_cover_what_the_lesson_promises():
    labels = " ".join(case.label for case in exercise("batchnorm_forward").cases("hidden"))
    for wanted in ("inference", "training", "(6, 5, 5, 3)", "one example", "std ≈ 0.03", "float32",
                   "default momentum", "momentum = 0", "momentum = 1 ", "γ with 2 entries", "β with 4",
                   "momentum = 1.5", "momentum = −0.1", "epsilon = −1e-3", "negative moving_var"):
        assert wanted in labels, wanted


# -- each mistake, caught with its hint ---------------------------------------------------------
def learner(ddof=0, moving_ddof=None, swap_momentum=False, eps="inside", axis="batch", inference="moving",
            gamma_beta="normal", train_with="batch", validate=True, dtype=float):
    """A learner's batchnorm_forward with the given slips (the defaults are right)."""
    def batchnorm_forward(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=1e-3):
        x = np.asarray(x, dtype)
        gamma, beta, moving_mean, moving_var = (np.asarray(v, dtype) for v in (gamma, beta, moving_mean, moving_var))
        if validate:
            if x.ndim < 2 or any(v.shape != (x.shape[-1],) for v in (gamma, beta, moving_mean, moving_var)):
                raise ValueError("shapes")
            if not 0 <= momentum <= 1 or epsilon < 0 or np.any(moving_var < 0):
                raise ValueError("range")
        axes = {"batch": tuple(range(x.ndim - 1)), "first": 0, "features": -1}[axis]
        mean = x.mean(axis=axes)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # ddof=1 on a batch of one
            var = x.var(axis=axes, ddof=ddof)
            moving_sample_var = x.var(axis=axes, ddof=ddof if moving_ddof is None else moving_ddof)
        if axis == "features":
            mean, var = mean[:, None], var[:, None]
        new_mean, new_var = moving_mean.copy(), moving_var.copy()
        batch_mode = training or inference in ("batch", "both")
        if training or inference in ("update", "both"):
            keep = 1 - momentum if swap_momentum else momentum
            new_mean = moving_mean * keep + x.mean(axis=axes) * (1 - keep)
            new_var = moving_var * keep + moving_sample_var * (1 - keep)
        use_mean, use_var = (mean, var) if batch_mode else (moving_mean, moving_var)
        if training and train_with == "moving":
            use_mean, use_var = moving_mean, moving_var
        with np.errstate(all="ignore"):
            if eps == "inside":
                x_hat = (x - use_mean) / np.sqrt(use_var + epsilon)
            elif eps == "outside":
                x_hat = (x - use_mean) / (np.sqrt(use_var) + epsilon)
            elif eps == "none":
                x_hat = (x - use_mean) / np.sqrt(use_var)
            else:  # no square root
                x_hat = (x - use_mean) / (use_var + epsilon)
        y = {"normal": gamma * x_hat + beta, "none": x_hat, "swapped": beta * x_hat + gamma}[gamma_beta]
        return y, new_mean, new_var
    return batchnorm_forward


def test_a_careful_float32_learner_passes():
    check("batchnorm_forward", learner(dtype=np.float32))


@pytest.mark.parametrize("slips, hint", [
    ({"ddof": 1}, "unbiased variance (ddof=1"),
    ({"moving_ddof": 1}, "PyTorch's running_var"),
    ({"swap_momentum": True}, "momentum applied the wrong way round"),
    ({"eps": "outside"}, "outside the square root"),
    ({"eps": "none"}, "ε is missing"),
    ({"eps": "no sqrt"}, "not the standard deviation"),
    ({"inference": "batch"}, "must use moving_mean and moving_var"),
    ({"inference": "update"}, "changed in inference mode"),
    ({"inference": "both"}, "training=False was ignored"),
    ({"train_with": "moving"}, "batch's own mean and variance"),
    ({"gamma_beta": "none"}, "γ and β are missing"),
    ({"gamma_beta": "swapped"}, "γ and β swapped"),
])
def test_each_mistake_is_named_in_the_report(slips, hint):
    assert hint in report_of(learner(**slips))


def test_statistics_over_the_features_are_named_layer_normalization():
    # on the square (6, 6) batch (the non-square ones make this learner raise a broadcasting error)
    assert any("Layer Normalization" in f for f in failures_of(learner(axis="features")))


def test_statistics_over_axis_0_only_of_images_are_caught():
    failures = failures_of(learner(axis="first"))
    assert all(any(shape in f for shape in ("(2, 2, 2, 2)", "(6, 5, 5, 3)", "(4, 7, 2)")) for f in failures) and failures
    assert any("every axis but the last" in f for f in failures)


def test_bad_input_must_be_refused():
    failures = failures_of(learner(validate=False))  # NumPy itself refuses most shape mismatches
    assert failures and all("should raise ValueError" in f for f in failures)
    for refused in ("momentum = 1.5", "momentum = −0.1", "epsilon = −1e-3", "negative moving_var, inference",
                    "negative moving_var, training"):
        assert any(refused in f for f in failures), refused


def _unknown_slip(quantity):
    """A wrong batchnorm_forward that matches no catalogued mistake, wrong in ``quantity`` only."""
    right = learner()

    def batchnorm_forward(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=1e-3):
        x = np.asarray(x, float)
        if not training:
            if quantity == "inference":  # normalises with a variance 10 % too large
                return right(x, gamma, beta, moving_mean, np.asarray(moving_var) * 1.1, False, momentum, epsilon)[0], \
                    np.asarray(moving_mean, float), np.asarray(moving_var, float)
            return right(x, gamma, beta, moving_mean, moving_var, training, momentum, epsilon)
        axes = tuple(range(x.ndim - 1))
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        n = x.size // x.shape[-1]
        if quantity == "mean":  # a trimmed mean: the batch's extremes left out
            mean = (x.sum(axis=axes) - x.max(axis=axes) - x.min(axis=axes)) / (n - 2) if n > 2 else mean
        if quantity == "variance":  # divided by n + 1
            var = var * n / (n + 1)
        x_hat = (x - mean) / np.sqrt(var + (2 * epsilon if quantity == "x̂" else epsilon))
        y = np.asarray(gamma) * x_hat + np.asarray(beta) * (1.5 if quantity == "scale and shift" else 1.0)
        keep = momentum ** 2 if quantity == "update" else momentum
        return y, np.asarray(moving_mean) * keep + mean * (1 - keep), np.asarray(moving_var) * keep + var * (1 - keep)
    return batchnorm_forward


@pytest.mark.parametrize("quantity, named", [
    ("update", "the moving-average update"), ("mean", "the batch mean μ_B"), ("variance", "the batch variance σ²_B"),
    ("x̂", "the normalised x̂"), ("scale and shift", "the scale and shift"), ("inference", "inference mode")])
def test_an_unknown_mistake_is_told_which_quantity_first_differs(quantity, named):
    report = report_of(_unknown_slip(quantity))
    first = report.split("\n- ")[1]
    assert "the first quantity that differs is " + named in first, report[:1500]
    assert not any(mistake.what in report for mistake in l09.MISTAKES)  # no catalogued mistake claimed


def test_a_known_mistake_leads_the_report_before_the_quantity_it_isolates():
    first = report_of(learner(eps="outside")).split("\n- ")[1]
    assert "outside the square root" in first


def test_returning_something_else_than_three_arrays_is_explained():
    message = report_of(lambda *args, **kwargs: learner()(*args, **kwargs)[0])
    assert "return the three arrays" in message


# -- the explorer updates in place --------------------------------------------------------------
def test_explorer_updates_in_place_at_the_slider_ends():
    explorer = BatchNormExplorer(depth=20)
    figure, image, lines = explorer.figure, explorer.histograms.image, (explorer.plain_line, explorer.batchnorm_line)
    for values in ({"depth": 1}, {"depth": BN_MAX_DEPTH, "batchnorm": True}, {"depth": BN_MAX_DEPTH, "activation": "relu"},
                   {"activation": "tanh", "depth": 1, "batchnorm": False}):
        assert explorer.update(**values) is figure
        depth = values["depth"]
        assert explorer.histograms.image is image and np.asarray(image.get_array()).shape == (HISTOGRAM_BINS, depth)
        assert all(len(line.get_xdata()) == depth for line in lines)
        assert (explorer.plain_line, explorer.batchnorm_line) == lines
    assert explorer.png()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="unknown control"):
        explorer.update(width=3)
    # Within a depth bucket (55–100 here) the axes stay put, and every gradient stays inside them.
    explorer.update(depth=55, activation="sigmoid", batchnorm=True)
    limits = explorer.grad_ax.get_xlim(), explorer.grad_ax.get_ylim(), explorer.histograms.ax.get_xlim()
    explorer.update(depth=91)
    assert (explorer.grad_ax.get_xlim(), explorer.grad_ax.get_ylim(), explorer.histograms.ax.get_xlim()) == limits
    assert limits[0] == (0.5, 100.5)
    low, high = limits[1]
    assert all(np.all((line.get_ydata() >= low) & (line.get_ydata() <= high)) for line in lines)


def test_explorer_stories_at_initialisation():
    profiler = BatchNormProfiler()
    plain, normed = (profiler.summary(20, "sigmoid", flag).kernel_grad_norms for flag in (False, True))
    assert plain[0] / plain[-1] < 1e-8 and 0.1 < normed[0] / normed[-1] < 100
    relu_bn = profiler.summary(100, "relu", True).kernel_grad_norms
    assert relu_bn[0] / relu_bn[-1] > 1e4  # BN without skip connections: gradients grow toward the input
    with pytest.raises(ValueError):
        profiler.activations(0)


# -- the notebook's experiments --------------------------------------------------------------------
@pytest.fixture(scope="module")
def lesson():
    """The lesson's code cells run here: their namespace and printed text."""
    return run_lesson_code("09_batch_normalization")


@pytest.mark.slow
def test_learner_function_follows_keras_over_several_steps(lesson):
    assert lesson["largest_gap"] < 1e-4
    assert 2.7 < lesson["history"][-1] < 3.0 and lesson["history"][8] < 0.5  # the moving mean lags, then arrives


@pytest.mark.slow
def test_deep_sigmoid_net_stalls_without_bn_and_trains_with_it(lesson):
    plain, normed = lesson["histories"]["plain"]["accuracy"], lesson["histories"]["BN"]["accuracy"]
    assert lesson["DEPTH"] >= 20
    assert max(plain) < 0.2 and normed[-1] > 0.85 and normed[-1] > normed[0]
    accuracy = lesson["test_accuracy"]
    assert accuracy["plain"] < 0.2 and accuracy["BN, re-estimated"] > 0.85


@pytest.mark.slow
def test_lagging_moving_statistics_hurt_inference_until_re_estimated(lesson):
    accuracy = lesson["test_accuracy"]
    assert accuracy["BN"] < accuracy["BN, re-estimated"] - 0.3
    assert "(training=True): 0.9" in lesson["printed"] or "(training=True): 0.8" in lesson["printed"]


@pytest.mark.slow
def test_every_layer_keeps_its_spread_with_bn_only(lesson):
    outputs = lesson["outputs"]
    spread = {name: outputs[name].std(axis=1).mean(axis=1) for name in outputs}
    assert spread["plain"][-1] < 0.01 and spread["BN"].min() > 0.05
    assert spread["plain"][0] > 100 * spread["plain"][9] and spread["plain"][9] < 1e-3
    print(lesson["printed"])  # the lesson's figures, for `pytest -s`


@pytest.mark.slow
def test_hard_wired_training_flag_breaks_small_batches_and_single_examples(lesson):
    results = lesson["trap_accuracy"]
    full = len(lesson["x_test"])
    assert abs(results[full]["hard-wired"] - results[full]["correct"]) < 0.03  # invisible on one big batch
    assert results[1]["correct"] == results[8]["correct"] > 0.8  # the correct model ignores the batch size
    assert results[1]["hard-wired"] < 0.25 and results[8]["hard-wired"] < results[1]["correct"] - 0.2
    assert "1 distinct prediction(s)" in lesson["printed"]
    moved = float(lesson["printed"].split("moving_mean moved by ")[1].split()[0])
    assert moved > 0
    assert lesson["accuracy"](lesson["trained"], lesson["x_test"], lesson["y_test"]) == \
        lesson["test_accuracy"]["BN, re-estimated"]  # the trap's damage was undone
