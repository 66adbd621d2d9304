"""Lesson 02: the hidden checks catch real mistakes, the explorer works at its slider ends, and
the lesson's experiments (a vanishing deep sigmoid net, an exploding deep linear net) hold."""

import numpy as np
import pytest

import gradclinic
from autograder import check, exercise
from autograder.solution import solution_function
from checks import appended_mistakes, assert_named, failure_of, failures_on

VERDICT_CASES = [([1e-5, 1e-3, 1.0], "vanishing"), ([5.0, 2.0, 1.0], "healthy"), ([0.5, 1.0, 1e3], "exploding")]


def setup_module():
    gradclinic.seed(0)


def solution(name):
    """What lesson 02's solution defines as ``name``: the grader's reference."""
    return solution_function("02_causes_and_detection", name)


# -- sigmoid_grad and tanh_grad --------------------------------------------------------------
def test_reference_derivatives_are_stable_and_right():
    z = np.array([-1000.0, -100.0, -1.0, 0.0, 2.0, 100.0, 1000.0])
    with np.errstate(all="raise", under="ignore"):
        slopes = solution("sigmoid_grad")(z), solution("tanh_grad")(z), solution("sigmoid_grad")(z.astype("float32"))
    for slope in slopes:
        assert np.all(np.isfinite(slope)) and np.all(slope >= 0)
    assert solution("sigmoid_grad")(0.0) == 0.25 and solution("tanh_grad")(0.0) == 1.0
    step = 1e-6  # central differences on the moderate range
    moderate = np.linspace(-6, 6, 25)
    numeric = (1 / (1 + np.exp(-(moderate + step))) - 1 / (1 + np.exp(-(moderate - step)))) / (2 * step)
    assert np.allclose(solution("sigmoid_grad")(moderate), numeric, atol=1e-8)
    assert np.allclose(solution("tanh_grad")(moderate),
                       (np.tanh(moderate + step) - np.tanh(moderate - step)) / (2 * step), atol=1e-8)


def _naive_sigmoid(z):
    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))


@pytest.mark.parametrize("learner, hint", [
    (_naive_sigmoid, "σ(z) itself"),
    (lambda z: np.exp(-np.asarray(z)) / (1 + np.exp(-np.asarray(z))) ** 2, "overflowed"),
    (lambda z: 1 - _naive_sigmoid(z) ** 2, "pattern of tanh's derivative"),
    (lambda z: 1 - np.tanh(np.asarray(z, dtype=float)) ** 2, "this is tanh's derivative"),
    (lambda z: solution("sigmoid_grad")(np.ravel(z)), "elementwise"),
])
def test_sigmoid_grad_mistakes(learner, hint):
    with np.errstate(all="ignore"):
        assert hint in failure_of("sigmoid_grad", learner)


def _exp_tanh(z):
    z = np.asarray(z)
    return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))


@pytest.mark.parametrize("learner, hint", [
    (lambda z: 1 - np.tanh(z), "missing the square"),
    (lambda z: np.tanh(z), "tanh(z) itself"),
    (lambda z: (1 - np.tanh(z)) ** 2, "squares the wrong thing"),
    (lambda z: solution("sigmoid_grad")(z), "sigmoid's derivative"),
    (lambda z: 1 - _exp_tanh(z) ** 2, "overflowed"),
])
def test_tanh_grad_mistakes(learner, hint):
    with np.errstate(all="ignore"):
        assert hint in failure_of("tanh_grad", learner)


def test_naive_sigmoid_product_passes_on_values():
    """σ(1 − σ) with the naive σ returns the right values (it only warns): the harness compares
    plain data and cannot see warnings, which the visible self-check catches instead."""
    with np.errstate(all="ignore"):
        check("sigmoid_grad", lambda z: _naive_sigmoid(z) * (1 - _naive_sigmoid(z)))


# -- GradientNormLogger -----------------------------------------------------------------------
def _logger(hook="on_epoch_end", variables="kernels", order=1, weights=False, power=1):
    """A learner's GradientNormLogger with one mistake switched on."""
    import keras
    import tensorflow as tf

    class Logger(keras.callbacks.Callback):
        def __init__(self, x, y):
            super().__init__()
            self.x, self.y, self.history = x, y, []

        def _record(self, *args, **kwargs):
            model = self.model
            layers = [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]
            targets = model.trainable_variables if variables == "all" else [layer.kernel for layer in layers]
            with tf.GradientTape() as tape:
                loss = model.compute_loss(x=self.x, y=self.y, y_pred=model(self.x, training=True))
            grads = dict(zip([id(t) for t in targets], tape.gradient(loss, targets)))
            if weights:
                norms = [float(tf.norm(layer.kernel)) for layer in layers]
            else:
                norms = [float(tf.norm(g)) for g in grads.values()]
            self.history.append([n ** power for n in norms][::order])

    setattr(Logger, hook, Logger._record)
    return Logger


def _whole_layer_logger():
    """Mistake: each layer's norm covers its kernel and its bias together."""
    import keras
    import tensorflow as tf

    class Logger(keras.callbacks.Callback):
        def __init__(self, x, y):
            super().__init__()
            self.x, self.y, self.history = x, y, []

        def on_epoch_end(self, epoch, logs=None):
            layers = [layer for layer in self.model.layers if getattr(layer, "kernel", None) is not None]
            with tf.GradientTape() as tape:
                loss = self.model.compute_loss(x=self.x, y=self.y, y_pred=self.model(self.x, training=True))
            grads = tape.gradient(loss, [layer.trainable_variables for layer in layers])
            self.history.append([float(tf.sqrt(sum(tf.reduce_sum(g ** 2) for g in layer_grads)))
                                 for layer_grads in grads])
    return Logger


@pytest.mark.parametrize("mistake, hint", [
    ({"hook": "on_train_batch_end"}, "one per batch"),
    ({"variables": "all"}, "biases are included"),
    ({"order": -1}, "order is reversed"),
    ({"hook": "on_epoch_begin"}, "on_epoch_begin"),
    ({"weights": True}, "norms of the kernels themselves"),
    ({"power": 2}, "squared norms"),
])
def test_gradient_norm_logger_mistakes(mistake, hint):
    assert hint in failures_on("GradientNormLogger", _logger(**mistake), ["sigmoid net with biases"])


@pytest.mark.parametrize("name, mistake", appended_mistakes("GradientNormLogger"))
def test_gradient_norm_logger_known_mistakes_are_named_on_their_mutants(name, mistake):
    assert_named(name, mistake, ["sigmoid net with biases"])


def test_gradient_norm_logger_whole_layer_norm_is_caught():
    assert "includes its bias" in failures_on("GradientNormLogger", _whole_layer_logger(), ["sigmoid net with biases"])


def test_gradient_norm_logger_that_breaks_is_reported():
    import keras

    class Broken(keras.callbacks.Callback):
        def __init__(self, x, y):
            super().__init__()
            self.history = []

        def on_epoch_end(self, epoch, logs=None):
            raise NotImplementedError()
    assert "NotImplementedError" in failures_on("GradientNormLogger", Broken, ["depth 1"])


def _unknown_logger(kind):
    """A wrong logger that matches no known mistake: its loss summed over the batch
    (``"summed"``), or its norms taken after each epoch's *first* batch (``"first_batch"``)."""
    import keras
    import tensorflow as tf

    class Logger(keras.callbacks.Callback):
        def __init__(self, x, y):
            super().__init__()
            self.x, self.y, self.history = x, y, []

        def _norms(self):
            kernels = [layer.kernel for layer in self.model.layers if getattr(layer, "kernel", None) is not None]
            with tf.GradientTape() as tape:
                loss = self.model.compute_loss(x=self.x, y=self.y, y_pred=self.model(self.x, training=True))
                if kind == "summed":
                    loss = loss * len(self.x)
            return [float(tf.norm(g)) for g in tape.gradient(loss, kernels)]

        def on_train_batch_end(self, batch, logs=None):
            if kind == "first_batch" and batch == 0:
                self.history.append(self._norms())

        def on_epoch_end(self, epoch, logs=None):
            if kind == "summed":
                self.history.append(self._norms())
    return Logger


def test_gradient_norm_logger_unknown_mistake_names_the_loss_scale():
    message = failures_on("GradientNormLogger", _unknown_logger("summed"), ["sigmoid net with biases"])
    assert "Likely cause" in message and "first entry that differs is epoch 1, layer 1 of 6" in message
    assert "Every norm is 32 times the expected one (the batch size, 32: a loss summed over the batch)" in message
    for known in ("biases are included", "order is reversed", "squared norms", "on_epoch_begin"):
        assert known not in message


def test_gradient_norm_logger_unknown_mistake_names_the_epoch():
    message = failures_on("GradientNormLogger", _unknown_logger("first_batch"), ["sigmoid net with biases"])
    assert "first entry that differs is epoch 1" in message and "after each epoch's training steps" in message
    assert "times the expected one" not in message and "one per batch" not in message


def test_gradient_norm_logger_unknown_mistake_names_a_later_epoch():
    """The grader's locator alone: the first two epochs match, the third differs in one layer only."""
    ex = exercise("GradientNormLogger")
    end = np.array([[1.0, 2.0, 3.0]] * 3)
    got = end.copy()
    got[2, 1] = 5.0
    assert "epoch 3, layer 2 of 3" in ex.locate(got, end, batch=4)
    assert "earlier epochs match" in ex.locate(got, end, batch=4)
    got = end.copy()
    got[:, 2] *= 1.5
    assert "Only layer 3's norm differs" in ex.locate(got, end, batch=4)


def test_gradient_norm_logger_cases_cover_biases_conv_adam_and_depth_one():
    labels = " ".join(case.label for case in exercise("GradientNormLogger").cases("hidden"))
    for needed in ("with biases", "Conv2D", "Adam", "depth 1"):
        assert needed in labels
    for case in exercise("GradientNormLogger").cases("hidden"):
        fit = case.options["fit"]
        assert case.kind == "keras_callback" and len(fit["x"]) // fit["batch_size"] > 1  # per-batch ≠ per-epoch


# -- diagnose ---------------------------------------------------------------------------------
def _diagnose(inverted=False, strict=True, check_finite=True, use_explode_at=True, vanishing_first=False,
              defaults=False, extremes=False):
    """A learner's diagnose with one mistake switched on (plain Python floats, as learners write)."""
    def learner(norms, vanish_ratio=1e-3, explode_at=1e2):
        if len(norms) == 0:
            raise ValueError("empty")
        if min(norms) < 0:
            raise ValueError("negative")
        if defaults:
            vanish_ratio, explode_at = 1e-3, 1e2
        values = [float(n) for n in norms]
        first, last = (max(values), min(values)) if extremes else (values[0], values[-1])
        with np.errstate(all="ignore"):
            ratio = np.float64(last) / first if inverted else np.float64(first) / last
        if first == 0:
            ratio = np.float64(0.0)
        above = (lambda a, b: a > b) if strict else (lambda a, b: a >= b)
        exploding = ((check_finite and not all(np.isfinite(values)))
                     or (use_explode_at and any(above(v, explode_at) for v in values))
                     or above(ratio, 1 / vanish_ratio))
        vanishing = above(vanish_ratio, ratio)
        if vanishing_first and vanishing:
            return "vanishing"
        return "exploding" if exploding else "vanishing" if vanishing else "healthy"
    return learner


def test_the_mistake_free_learner_passes():
    check("diagnose", _diagnose())


@pytest.mark.parametrize("mistake, hint", [
    ({"inverted": True}, "ratio is inverted"),
    ({"strict": False}, "comparisons are strict"),
    ({"check_finite": False}, "test np.isfinite first"),
    ({"use_explode_at": False}, "any norm above explode_at"),
    ({"vanishing_first": True}, "check exploding before vanishing"),
    ({"defaults": True}, "default thresholds were used"),
])
def test_diagnose_mistakes(mistake, hint):
    assert hint in failure_of("diagnose", _diagnose(**mistake))


def test_diagnose_comparing_extremes_instead_of_ends_is_named():
    assert "compare the two ends" in failures_on("diagnose", _diagnose(extremes=True), ["only the ends"])


def test_diagnose_zero_edges_are_named():
    def zero_over_zero_is_healthy(norms, vanish_ratio=1e-3, explode_at=1e2):
        if len(norms) == 0 or min(norms) < 0:
            raise ValueError("bad norms")
        if not np.all(np.isfinite(norms)) or max(norms) > explode_at:
            return "exploding"
        with np.errstate(all="ignore"):
            ratio = np.float64(norms[0]) / norms[-1]
        return "exploding" if ratio > 1 / vanish_ratio else "vanishing" if ratio < vanish_ratio else "healthy"
    assert "zero first norm" in failure_of("diagnose", zero_over_zero_is_healthy)

    def python_division(norms, vanish_ratio=1e-3, explode_at=1e2):
        return solution("diagnose")(norms, vanish_ratio, explode_at) if norms[-1] else norms[0] / norms[-1]
    assert "ZeroDivisionError" in failure_of("diagnose", python_division)


def test_diagnose_bad_input_and_edges():
    with pytest.raises(ValueError):
        solution("diagnose")([])
    with pytest.raises(ValueError):
        solution("diagnose")([0.1, -0.2])
    assert solution("diagnose")([0.7]) == "healthy" and solution("diagnose")([500.0]) == "exploding"
    assert solution("diagnose")([0.0]) == "vanishing" and solution("diagnose")([0.3, 0.0]) == "exploding"
    assert solution("diagnose")(np.array([1.0, np.nan])) == "exploding"
    assert solution("diagnose")([1.0, 4.0], vanish_ratio=0.25) == "healthy"
    assert "should raise ValueError" in failures_on("diagnose", lambda norms, *a, **k: "healthy", ["empty list"])


@pytest.mark.parametrize("norms, verdict", VERDICT_CASES)
def test_diagnose_reads_profiles(norms, verdict):
    assert solution("diagnose")(norms) == verdict


# -- the explorer -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def explorer():
    from gradclinic.explorers.causes_and_detection import CausesExplorer

    return CausesExplorer(rng=np.random.default_rng(0), depth=10, verdict=solution("diagnose"))


def test_explorer_slider_ends_update_in_place(explorer):
    from gradclinic.explorers.causes_and_detection import ACTIVATIONS, MAX_DEPTH, WEIGHT_SCHEMES

    figure, before = explorer.figure, explorer.png()
    assert explorer.update(depth=1, activation="relu") is figure
    assert explorer.norm_line.get_xdata().tolist() == [1]
    assert explorer.verdict_text.get_text() == "diagnose → 'healthy'"  # one layer: r = 1
    for activation in ACTIVATIONS:
        for weights in WEIGHT_SCHEMES:
            explorer.update(depth=MAX_DEPTH, activation=activation, weights=weights)
            shown = len(explorer.norm_line.get_xdata()) + len(explorer.overflow_marks.get_xdata()) + \
                len(explorer.underflow_marks.get_xdata())
            assert shown == MAX_DEPTH, "every layer appears: as a norm, an overflow or an underflow mark"
            assert explorer.verdict_text.get_text().startswith("diagnose → ")
    assert explorer.png() != before


def test_explorer_profiles_show_each_cause(explorer):
    profiles = explorer.profiles
    sigmoid = profiles.kernel_gradient_norms(20, "sigmoid")
    assert sigmoid[0] / sigmoid[-1] < 1e-8  # 20 sigmoid layers: ≪ 0.25^20 · some weight factor
    tanh = profiles.kernel_gradient_norms(20, "tanh")
    assert 0.2 < tanh[0] / tanh[-1] < 5  # Glorot tanh keeps it
    assert solution("diagnose")(profiles.kernel_gradient_norms(20, "tanh", "standard_normal")) == "exploding"
    explorer.update(depth=60, activation="sigmoid", weights="glorot_uniform")
    assert len(explorer.underflow_marks.get_xdata()) > 0  # 0.25^60 underflows float32
    explorer.update(depth=60, activation="linear", weights="standard_normal")
    assert len(explorer.overflow_marks.get_xdata()) > 0  # 8^60 overflows it


def test_explorer_axes_stay_put_within_a_depth_bucket(explorer):
    """Within one 1-2-5 depth bucket (21..50) the depth slider moves the points, not the axes,
    and every point, overflow and underflow mark lies inside them."""
    for activation, weights in (("sigmoid", "glorot_uniform"), ("relu", "standard_normal")):
        limits = set()
        for depth in (21, 30, 39, 50):
            explorer.update(depth=depth, activation=activation, weights=weights)
            limits.add((explorer.axes.get_xlim(), explorer.axes.get_ylim()))
            low, high = explorer.axes.get_ylim()
            for line in (explorer.norm_line, explorer.overflow_marks, explorer.underflow_marks):
                assert np.all((low < line.get_ydata()) & (line.get_ydata() < high))
        assert len(limits) == 1, (activation, weights, limits)
        assert limits.pop()[0] == (0.5, 50.5)


def test_explorer_without_a_working_diagnose():
    from gradclinic.explorers.causes_and_detection import NO_VERDICT, describe_verdict

    def stub(norms, vanish_ratio=1e-3, explode_at=1e2):
        raise NotImplementedError()
    assert describe_verdict(stub, [1.0, 2.0]) == NO_VERDICT
    assert describe_verdict(None, [1.0]) == ""
    assert "ValueError" in describe_verdict(lambda norms: solution("diagnose")([]), [1.0])
    seen = []
    describe_verdict(lambda norms: seen.append(norms) or "healthy", np.array([3.0, 2.0], "float32"))
    assert seen == [[3.0, 2.0]] and type(seen[0][0]) is float


def test_explorer_rejects_bad_controls(explorer):
    with pytest.raises(ValueError, match="unknown control"):
        explorer.update(width=3)
    with pytest.raises(ValueError):
        explorer.profiles.kernel_gradient_norms(0, "tanh")
    with pytest.raises(ValueError):
        explorer.profiles.kernel_gradient_norms(5, "softplus")


def test_explorer_widget_redraws_on_change():
    from gradclinic.explorers.causes_and_detection import CausesExplorer

    explorer = CausesExplorer(depth=5, activation="tanh")
    box = explorer.widget()
    sliders = box.children[0].children
    assert [s.description for s in sliders] == ["depth L", "activation", "weights"]
    sliders[0].value = 33
    assert explorer.settle() and len(explorer.norm_line.get_xdata()) == 33
    assert explorer.verdict_text.get_text() == ""  # no verdict function given


# -- the lesson's experiments -------------------------------------------------------------------
def test_sigmoid_slope_and_saturation_numbers():
    from gradclinic.profiles import MLPProfiler, draw_weights

    grid = np.linspace(-8, 8, 1601)
    assert abs(solution("sigmoid_grad")(grid).max() - 0.25) < 1e-12
    profiler, rng = MLPProfiler(width=64, batch=128, seed=0), np.random.default_rng(5)
    saturated = {}
    for scheme in ("glorot_uniform", "standard_normal"):
        activations = profiler.profile(draw_weights(scheme, 10, 64, rng), "tanh").activations
        saturated[scheme] = np.mean(np.abs(activations) > 0.99)
    assert saturated["glorot_uniform"] < 0.05 < 0.5 < saturated["standard_normal"]


def _digits_run(depth, activation, learning_rate, optimizer, epochs, seed):
    """Train a deep_mlp on digits with the reference logger and a NaN guard; (history, logger)."""
    import keras

    from gradclinic.data import load_digits
    from gradclinic.models import deep_mlp

    digits = load_digits()
    keras.utils.set_random_seed(seed)
    model = deep_mlp(64, 10, depth=depth, width=256 if activation == "sigmoid" else 64, activation=activation)
    model.compile(optimizer=keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": learning_rate}}),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    logger = solution("GradientNormLogger")(digits.x_train[:256], digits.y_train[:256])
    fitted = model.fit(digits.x_train, digits.y_train, epochs=epochs, batch_size=32, verbose=0,
                       callbacks=[logger, keras.callbacks.TerminateOnNaN()])
    return fitted.history, logger


@pytest.mark.slow
def test_seed_003_deep_sigmoid_plateaus_and_vanishes():
    deep_fit, deep_logger = _digits_run(11, "sigmoid", 1e-3, "Adam", epochs=3, seed=3)
    shallow_fit, shallow_logger = _digits_run(2, "sigmoid", 1e-3, "Adam", epochs=3, seed=3)
    assert max(deep_fit["accuracy"]) < 0.2  # chance is 0.1
    assert shallow_fit["accuracy"][-1] > 0.4
    for norms in deep_logger.history:
        assert norms[0] / norms[-1] < 1e-5  # orders of magnitude toward the input
        assert solution("diagnose")(norms) == "vanishing"
    assert all(solution("diagnose")(norms) == "healthy" for norms in shallow_logger.history)


@pytest.mark.slow
def test_deep_linear_net_explodes_at_a_large_learning_rate_and_the_guard_stops_it():
    small_fit, small_logger = _digits_run(20, "linear", 0.01, "SGD", epochs=3, seed=4)
    large_fit, large_logger = _digits_run(20, "linear", 0.05, "SGD", epochs=3, seed=4)
    assert len(small_fit["loss"]) == 3 and small_fit["loss"][-1] < small_fit["loss"][0]
    assert all(solution("diagnose")(norms) == "healthy" for norms in small_logger.history)
    assert len(large_fit["loss"]) < 3 and not np.isfinite(large_fit["loss"][-1])  # stopped early, on NaN
    assert solution("diagnose")(large_logger.history[-1]) == "exploding"
