"""Lesson 10, self-normalizing networks: the solution's functions (the grader's references) against
Keras and scikit-learn, each learner mistake named, the explorer at its slider ends, and the
notebook's experiments."""

import numpy as np
import pytest

import gradclinic
from autograder import check, exercise
from autograder.graders import l10_self_normalizing_networks as l10
from autograder.registry import run_in_process
from autograder.solution import solution_function
from gradclinic.data import load_digits
from gradclinic.explorers.self_normalizing_networks import ACTIVATIONS, SelfNormalizingExplorer
from gradclinic.layer_statistics import SNN_MAX_DEPTH, SignalPropagation
from gradclinic.training import first_epoch_reaching, train_on_digits
from checks import failure_of, failures_on

SLUG = "10_self_normalizing_networks"
A, L = (solution_function(SLUG, name) for name in ("SELU_ALPHA", "SELU_SCALE"))
selu, standardize, build_snn = (solution_function(SLUG, name) for name in ("selu", "standardize", "build_snn"))


def setup_module():
    gradclinic.seed(0)


# -- the solution's functions (the references) ----------------------------------------------------
def test_selu_constants_are_keras_constants_at_full_precision():
    """keras/src/backend/numpy/nn.py, tf.nn.selu: the constants of Klambauer et al. (2017)."""
    assert A == 1.6732632423543772848170429916717 and L == 1.0507009873554804934193349852946


def test_selu_reference_is_keras_selu_on_every_hidden_case():
    import keras

    for case in exercise("selu").cases("hidden"):
        x = np.asarray(case.args[0], dtype=float)
        theirs = keras.ops.convert_to_numpy(keras.activations.selu(x))
        assert np.allclose(selu(x), theirs, rtol=1e-12, atol=1e-15), case.label
    assert np.allclose(selu([-1000.0, 1000.0]), [-L * A, 1000 * L], rtol=1e-12)


def test_selu_reference_never_overflows():
    with np.errstate(all="raise"):
        selu(np.array([-1000.0, -710.0, 710.0, 1000.0]))
        selu(np.array([-100.0, 100.0], "float32"))


def test_standardize_reference_is_scikit_learns_standard_scaler():
    from sklearn.preprocessing import StandardScaler

    for case in exercise("standardize").cases("hidden"):
        if case.raises or len(case.args[1]) == 0:
            continue
        train, test = (np.asarray(a, dtype=float) for a in case.args)
        scaler = StandardScaler().fit(train)
        ours = standardize(train, test)
        assert np.allclose(ours[0], scaler.transform(train), rtol=1e-9, atol=1e-12), case.label
        assert np.allclose(ours[1], scaler.transform(test), rtol=1e-9, atol=1e-12), case.label


def test_standardize_hidden_cases_hold_constant_features_that_differ_in_test():
    cases = exercise("standardize").cases("hidden")
    labels = " ".join(case.label for case in cases)
    assert "constant" in labels and "digits" in labels and "empty" in labels
    constant_case = next(c for c in cases if c.label.startswith("constant training features"))
    train, test = constant_case.args
    constant = train.std(axis=0) == 0
    assert constant.sum() == 3 and np.any(test[:, constant] != train[0, constant])


def test_build_snn_reference_is_seed_004s_net_with_the_output_layer_after_the_loop():
    import keras

    model = build_snn(64, 20, 100, 10)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == 21 and model.output_shape == (None, 10) and model.input_shape == (None, 64)
    assert all(layer.activation.__name__ == "selu" and layer.units == 100 for layer in dense[:-1])
    assert all(isinstance(layer.kernel_initializer, keras.initializers.LecunNormal) for layer in dense[:-1])
    assert dense[-1].activation.__name__ == "softmax"
    assert l10.dense_stack(model) == [(100, "selu", "lecun_normal")] * 20 + [(10, "softmax", "lecun_normal")]


# -- selu mistakes ----------------------------------------------------------------------------
def _selu_like(positive, negative, minus_one=True):
    def learner(x):
        x = np.asarray(x, dtype=float)
        tail = np.expm1(np.minimum(x, 0.0)) if minus_one else np.exp(np.minimum(x, 0.0))
        return np.where(x > 0, positive * x, negative * tail)
    return learner


def _overflowing_selu(x):
    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        return L * (np.maximum(x, 0.0) + A * (np.exp(x) - 1) * (x <= 0))


@pytest.mark.parametrize("learner, hint", [
    (_selu_like(1.0, A * L), "λ is applied to the negative branch only"),
    (_selu_like(A, A * L), "α and λ are swapped"),
    (_selu_like(L, A), "λ is applied to the positive part only"),
    (_selu_like(1.0, A), "λ is missing"),
    (_selu_like(L, L), "α is missing"),
    (_selu_like(L, A * L, minus_one=False), "the −1 is missing"),
    (_selu_like(1.0507, 1.6733 * 1.0507), "full precision"),
    (lambda x: L * np.maximum(np.asarray(x, dtype=float), 0.0), "scaled ReLU"),
    (_overflowing_selu, "e^x overflowed"),
])
def test_selu_mistakes_are_named(learner, hint):
    assert hint in failure_of("selu", learner)


def test_selu_computed_in_float32_passes():
    def float32_selu(x):
        x = np.asarray(x)
        x = x.astype("float32") if x.dtype == np.float32 else x.astype(float)
        return (x.dtype.type(L) * np.where(x > 0, x, x.dtype.type(A) * np.expm1(np.minimum(x, 0)))).astype(x.dtype)
    check("selu", float32_selu)


# -- standardize mistakes ----------------------------------------------------------------------
def _validated(formula):
    """A learner's standardize that refuses bad shapes, then applies ``formula(train, test)``."""
    def learner(train, test):
        train, test = np.asarray(train, dtype=float), np.asarray(test, dtype=float)
        if train.ndim != 2 or test.ndim != 2 or len(train) == 0 or train.shape[1] != test.shape[1]:
            raise ValueError("bad shapes")
        with np.errstate(all="ignore"):
            return formula(train, test)
    return learner


def _safe(std):
    return np.where(std == 0, 1.0, std)


def _with_stats(mean_of, std_of):
    return _validated(lambda tr, te: ((tr - mean_of(tr, te)) / std_of(tr, te), (te - mean_of(tr, te)) / std_of(tr, te)))


def _pooled(tr, te):
    return np.concatenate([tr, te])


@pytest.mark.parametrize("learner, hint", [
    (_validated(lambda tr, te: ((tr - tr.mean(0)) / _safe(tr.std(0)),
                                (te - te.mean(0)) / _safe(te.std(0)) if len(te) else te)), "its own mean and std"),
    (_with_stats(lambda tr, te: _pooled(tr, te).mean(0), lambda tr, te: _safe(_pooled(tr, te).std(0))), "pooled"),
    (_with_stats(lambda tr, te: tr.mean(0), lambda tr, te: _safe(tr.var(0))), "divides by the variance"),
    (_with_stats(lambda tr, te: tr.mean(0), lambda tr, te: tr.std(0)), "std 0"),
    (_with_stats(lambda tr, te: tr.mean(0), lambda tr, te: tr.std(0) + 1e-8), "not by a small ε"),
    (_with_stats(lambda tr, te: tr.mean(0), lambda tr, te: _safe(tr.std(0, ddof=1))), "ddof=1"),
    (_with_stats(lambda tr, te: 0.0, lambda tr, te: _safe(tr.std(0))), "the mean is not subtracted"),
    (_with_stats(lambda tr, te: tr.mean(0), lambda tr, te: 1.0), "centred but not scaled"),
    (_with_stats(lambda tr, te: tr.mean(), lambda tr, te: tr.std()), "one mean and one std over every feature"),
    (_validated(lambda tr, te: standardize(tr, te)[::-1]), "swapped"),
    (_validated(lambda tr, te: (tr - tr.mean(0)) / _safe(tr.std(0))), "return the pair"),
])
@pytest.mark.filterwarnings("ignore:Degrees of freedom")
def test_standardize_mistakes_are_named(learner, hint):
    assert hint in failure_of("standardize", learner)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the careless learner's own warnings
def test_standardize_must_refuse_mismatched_features():
    def careless(train, test):
        train, test = np.asarray(train, dtype=float), np.asarray(test, dtype=float)
        mean, std = train.mean(0), _safe(train.std(0))
        return (train - mean) / std, (test[:, : train.shape[-1]] - mean) / std
    assert "should raise ValueError" in failure_of("standardize", careless)


# -- build_snn mistakes (the basic case: one small net, fast) ------------------------------------
def _net(input_dim, depth, width, n_classes, activation="selu", initializer="lecun_normal", inside=False,
         extra_layers=0, output="softmax", dropout=False, functional=False):
    import keras

    if min(input_dim, depth, width) < 1 or n_classes < 2 or int(depth) != depth:
        raise ValueError("bad sizes")
    layers = []
    for _ in range(int(depth) + extra_layers):
        layers.append(keras.layers.Dense(width, activation=activation, kernel_initializer=initializer))
        if dropout:
            layers.append(keras.layers.AlphaDropout(0.05))
        if inside:
            layers.append(keras.layers.Dense(n_classes, activation=output))
    if not inside:
        layers.append(keras.layers.Dense(n_classes, activation=output))
    if not functional:
        return keras.Sequential([keras.Input((input_dim,))] + layers)
    x = inputs = keras.Input((input_dim,))
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("options, hint", [
    ({"inside": True}, "the output layer is inside the loop"),
    ({"initializer": "glorot_uniform"}, "glorot_uniform is Dense's default"),
    ({"initializer": "he_normal"}, "twice SELU's 1/fan_in"),
    ({"initializer": "lecun_uniform"}, "asks for lecun_normal"),
    ({"activation": "relu"}, "the hidden layers use ReLU"),
    ({"extra_layers": -1}, "depth counts the hidden SELU layers"),
    ({"extra_layers": 1}, "depth counts the hidden SELU layers"),
    ({"output": "linear"}, "must be softmax"),
    ({"dropout": True}, "Dense layers only"),
])
def test_build_snn_mistakes_are_named(options, hint):
    """The teaching judge on the visible case (the hidden part judges it that way; building the
    hidden 20 × 100 net for every mistake would take a while)."""
    assert hint in failures_on("build_snn", lambda *a: _net(*a, **options), ["64, 3, 16, 10"])


def test_build_snn_mistake_on_seed_004s_own_sizes_is_named():
    """The hidden case with the lesson's 20 × 100 net, judged alone (building 40 layers takes a while)."""
    case = next(c for c in exercise("build_snn").hidden_cases() if c.label.startswith("the lesson's 20 × 100 net"))
    judge = exercise("build_snn")
    calls, inputs = judge.request([case])
    from autograder import harness

    outputs = harness.ArrayStore()
    answers = [harness.invoke(lambda *a: _net(*a, inside=True), calls[0], harness.ScopedStore(inputs, outputs))]
    (message,) = judge.verdicts([case], answers, outputs)
    assert "inside the loop" in message and "20 × Dense(100, selu, lecun_normal)" in message


@pytest.mark.parametrize("options", [{"functional": True}, {"initializer": "LecunNormal"}])
def test_build_snn_accepts_equivalent_models(options):
    assert not run_in_process(exercise("build_snn"), lambda *a: _net(*a, **options), "basic")[0]


def test_build_snn_counts_an_activation_layer_as_the_dense_layers_activation():
    import keras

    def separate_activations(input_dim, depth, width, n_classes):
        if depth < 1:
            raise ValueError("depth must be ≥ 1")
        layers = [keras.Input((input_dim,))]
        for _ in range(depth):
            layers += [keras.layers.Dense(width, kernel_initializer="lecun_normal"), keras.layers.Activation("selu")]
        return keras.Sequential(layers + [keras.layers.Dense(n_classes), keras.layers.Activation("softmax")])
    assert not run_in_process(exercise("build_snn"), separate_activations, "basic")[0]


def test_build_snn_must_refuse_bad_sizes():
    def unchecked(input_dim, depth, width, n_classes):
        import keras

        layers = [keras.Input((input_dim,))] + [keras.layers.Dense(max(width, 1), activation="selu",
                                                                   kernel_initializer="lecun_normal")
                                                for _ in range(int(depth))]
        return keras.Sequential(layers + [keras.layers.Dense(max(n_classes, 1), activation="softmax")])
    message = failure_of("build_snn", unchecked)
    assert "should raise ValueError" in message


# -- the experiments ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def propagation(digits):
    train_std, _ = standardize(digits.x_train, digits.x_test)
    return SignalPropagation({"standardized": train_std, "raw": digits.x_train}, selu=selu)


def test_selu_constants_make_mean_0_variance_1_a_fixed_point():
    z, step = np.linspace(-12.0, 12.0, 240_001, retstep=True)  # the kink at 0 is a grid point
    density = np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi)

    def expectation(values):
        return float(np.sum(values * density) * step)

    assert abs(expectation(selu(z))) < 1e-7
    assert abs(expectation(selu(z) ** 2) - 1.0) < 1e-7
    for start in (0.2, 4.0):  # the second moment q ↦ E[selu(√q z)²] moves toward 1 from either side
        path = [start]
        for _ in range(8):
            path.append(expectation(selu(np.sqrt(path[-1]) * z) ** 2))
        distance = np.abs(np.array(path) - 1.0)
        assert np.all(np.diff(distance) < 0) and distance[-1] < 0.5 * distance[0]


def test_snn_keeps_mean_0_and_variance_1_through_100_layers(propagation):
    means, variances = propagation.statistics("selu", "lecun_normal", "standardized")
    assert len(means) == 100
    assert np.all(np.abs(means) < 0.1)
    assert np.all((variances > 0.75) & (variances < 1.3))
    assert np.all((variances[8:] > 0.8) & (variances[8:] < 1.2))


def test_without_standardization_the_first_layers_start_far_from_the_fixed_point(propagation):
    _, raw = propagation.statistics("selu", "lecun_normal", "raw")
    _, standardized = propagation.statistics("selu", "lecun_normal", "standardized")
    assert raw[0] < 0.5 * standardized[0]
    assert np.all(raw[:4] < 0.7)
    assert 0.7 < raw[31] < 1.3  # … and the fixed point pulls it back: honest about attraction


def test_other_initializers_lose_the_fixed_point_and_square_glorot_keeps_it(propagation):
    _, he = propagation.statistics("selu", "he_normal", "standardized")
    _, normal = propagation.statistics("selu", "standard_normal", "standardized")
    _, glorot = propagation.statistics("selu", "glorot_uniform", "standardized")
    assert he[31] > 10 and he[-1] > he[31]
    assert normal[31] > 1e20
    assert glorot[0] < 0.8 and np.all((glorot[16:] > 0.75) & (glorot[16:] < 1.3))


def test_relu_and_tanh_have_no_fixed_point_at_0_1(propagation):
    relu_means, relu_vars = propagation.statistics("relu", "he_normal", "standardized")
    _, tanh_vars = propagation.statistics("tanh", "glorot_uniform", "standardized")
    assert np.all(relu_means > 0.05) and relu_vars[-1] < 0.5 * relu_vars[0]
    assert tanh_vars[-1] < 0.05 * tanh_vars[0] and tanh_vars[49] < 0.5 * tanh_vars[9]


def test_seed_004s_misplaced_output_layer_breaks_the_normalization(digits):
    import keras

    gradclinic.seed(0)
    model = keras.Sequential([keras.Input((64,))])
    for _ in range(20):
        model.add(keras.layers.Dense(100, activation="selu", kernel_initializer="lecun_normal"))
        model.add(keras.layers.Dense(10, activation="softmax"))
    assert model.output_shape == (None, 10)  # the bug is silent …
    probe, _ = standardize(digits.x_train, digits.x_test)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    outputs = keras.Model(model.inputs, [layer.output for layer in dense[::2]])(probe[:256].astype("float32"))
    variances = [float(np.var(np.asarray(output))) for output in outputs]
    assert variances[0] > 0.7 and max(variances[1:]) < 0.1  # … but every later SELU layer collapses


@pytest.mark.slow
def test_snn_reaches_high_validation_accuracy_before_the_default_relu_net(digits):
    import keras

    from gradclinic.models import deep_mlp

    train_std, test_std = standardize(digits.x_train, digits.x_test)
    accuracy = {}
    for name, build in [("snn", lambda: build_snn(64, 20, 100, 10)),
                        ("relu", lambda: deep_mlp(64, 10, depth=20, width=100, activation="relu"))]:
        keras.utils.set_random_seed(0)
        history = train_on_digits(build(), train_std, digits.y_train, test_std, digits.y_test, epochs=5)
        accuracy[name] = np.array(history["val_accuracy"])
        assert np.all(np.isfinite(history["loss"])) and history["loss"][-1] < history["loss"][0]
    assert accuracy["snn"][0] > accuracy["relu"][0] + 0.1
    assert first_epoch_reaching(accuracy["snn"], 0.9) <= 3
    reached = first_epoch_reaching(accuracy["relu"], 0.9)
    assert reached is None or reached > first_epoch_reaching(accuracy["snn"], 0.9)
    assert accuracy["snn"].max() > 0.9


# -- the explorer --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def explorer(digits):
    train_std, _ = standardize(digits.x_train, digits.x_test)
    return SelfNormalizingExplorer({"standardized": train_std, "raw": digits.x_train}, depth=32)


def test_explorer_updates_in_place_at_the_slider_ends(explorer):
    figure, before = explorer.figure, explorer.png()
    for depth in (1, SNN_MAX_DEPTH):
        for activation in ACTIVATIONS:
            assert explorer.update(depth=depth, activation=activation, initializer="lecun_normal") is figure
            means, variances = explorer.propagation.statistics(activation, "lecun_normal", "standardized")
            assert len(explorer.var_line.get_xdata()) == depth
            assert np.allclose(explorer.var_line.get_ydata(), variances[:depth])
            assert np.allclose(explorer.mean_line.get_ydata(), means[:depth])
    assert f"layer {SNN_MAX_DEPTH}" in explorer.var_ax.get_title()
    assert explorer.png() != before


def test_explorer_shows_an_exploding_net_and_raw_inputs(explorer):
    explorer.update(depth=SNN_MAX_DEPTH, activation="selu", initializer="standard_normal", data="standardized")
    low, high = explorer.var_ax.get_ylim()
    assert high > 1e100 and np.isfinite(high)
    explorer.update(depth=4, initializer="lecun_normal", data="raw")
    assert explorer.var_line.get_ydata()[0] < 0.5  # raw pixels start far below variance 1
    assert np.allclose(explorer.reference_var.get_ydata(), explorer.propagation.statistics()[1][:4])


def test_explorer_axes_follow_the_depth_bucket_only(explorer):
    """Within a depth bucket (here 21..50 layers) the axes stay put while the lines move."""
    ranges = set()
    for depth in (21, 35, 50):
        explorer.update(depth=depth, activation="selu", initializer="lecun_normal", data="standardized")
        ranges.add((explorer.mean_ax.get_xlim(), explorer.mean_ax.get_ylim(), explorer.var_ax.get_ylim()))
    assert len(ranges) == 1 and next(iter(ranges))[0] == (0.5, 50.5)


def test_explorer_widget_has_its_controls(explorer):
    box = explorer.widget()
    depth, activation, initializer, data = box.children[0].children
    assert (depth.min, depth.max) == (1, SNN_MAX_DEPTH)
    assert tuple(activation.options) == ("selu", "relu", "tanh")
    assert "lecun_normal" in initializer.options and tuple(data.options) == ("standardized", "raw")
    depth.value = 7
    assert explorer.settle() and len(explorer.mean_line.get_xdata()) == 7
