"""Lesson 03, ReLU and friends: the references agree with Keras and TensorFlow's autodiff, the
hidden checks catch the real mistakes with their hints, the explorer works at its slider ends,
and the lesson's three experiments hold."""

import numpy as np
import pytest

import gradclinic
from autograder import exercise
from autograder.solution import solution_function
from checks import appended_mistakes, assert_named, failure_of

GRID = np.concatenate([np.linspace(-100, 100, 41), [-1e-6, -0.0, 0.0, 1e-6]])


def setup_module():
    gradclinic.seed(0)


def solution(name):
    """What lesson 03's solution defines as ``name``: the grader's reference."""
    return solution_function("03_relu_and_friends", name)


def autodiff_slope(activation, z):
    import tensorflow as tf

    z = tf.constant(z, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z)
        output = activation(z)
    return tape.gradient(output, z).numpy()


# -- references ------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"negative_slope": 0.01}, {"negative_slope": 0.3}])
def test_leaky_relu_matches_keras_function_and_its_autodiff_slope(kwargs):
    import keras

    keras_leaky = lambda z: keras.activations.leaky_relu(z, **kwargs)  # noqa: E731
    assert np.allclose(solution("leaky_relu")(GRID, **kwargs), keras_leaky(GRID), rtol=1e-6)
    slope = kwargs.get("negative_slope", 0.2)
    assert np.allclose(np.where(GRID > 0, 1.0, slope), autodiff_slope(keras_leaky, GRID), rtol=1e-6)


def test_keras_leaky_relu_defaults_differ_between_function_and_layer():
    import inspect

    import keras

    assert inspect.signature(keras.activations.leaky_relu).parameters["negative_slope"].default == 0.2
    assert keras.layers.LeakyReLU().negative_slope == 0.3


@pytest.mark.parametrize("alpha", [1.0, 0.5, 2.0])
def test_elu_and_its_slope_match_keras_and_autodiff_including_z_zero(alpha):
    import keras

    keras_elu = lambda z: keras.activations.elu(z, alpha=alpha)  # noqa: E731
    assert np.allclose(solution("elu")(GRID, alpha), keras_elu(GRID), rtol=1e-6, atol=1e-12)
    assert np.allclose(solution("elu_grad")(GRID, alpha), autodiff_slope(keras_elu, GRID), rtol=1e-6, atol=1e-12)
    assert solution("elu_grad")(0.0, alpha) == alpha  # TensorFlow takes the negative branch at 0


def test_relu_and_its_slope_match_keras_and_autodiff_zero_at_zero():
    import keras

    assert np.array_equal(solution("relu")(GRID), keras.activations.relu(GRID))
    assert np.array_equal(solution("relu_grad")(GRID), autodiff_slope(keras.activations.relu, GRID))
    assert solution("relu_grad")(0.0) == 0.0 and solution("relu_grad")(-0.0) == 0.0


def test_elementwise_references_have_the_properties_the_lesson_states():
    z = np.array([-100.0, -1.0, 0.0, 1.0, 100.0])
    for values in (solution(name)(z) for name in ("relu", "relu_grad", "leaky_relu", "elu", "elu_grad")):
        assert values.shape == z.shape and np.isfinite(values).all()
    assert (solution("relu")(z) >= 0).all() and set(solution("relu_grad")(z)) <= {0.0, 1.0}
    assert (solution("elu")(z, 2.0) >= -2.0).all() and np.isclose(solution("elu")(-100.0, 2.0), -2.0)
    with np.errstate(over="raise"):  # no overflow on float32, Keras's dtype
        solution("elu")(np.array([-100.0, 100.0], "float32"))
        solution("elu_grad")(np.array([-100.0, 100.0], "float32"))


@pytest.mark.parametrize("name, kwargs", [("leaky_relu", {"negative_slope": -0.1}),
                                          ("leaky_relu", {"negative_slope": float("nan")}),
                                          ("elu", {"alpha": -1.0}), ("elu_grad", {"alpha": float("inf")}),
                                          ("elu", {"alpha": True})])
def test_bad_parameters_raise_value_error(name, kwargs):
    with pytest.raises(ValueError):
        solution(name)(np.array([-1.0, 1.0]), **kwargs)


def _tiny_net():
    import keras

    net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)])
    net.layers[0].set_weights([np.array([[1.0, -1.0, 0.5]]), np.array([0.0, 0.0, -5.0])])
    return net, np.array([[1.0], [-1.0], [2.0]], "float32")


def test_activity_references_on_the_hand_worked_net():
    net, x = _tiny_net()
    assert np.allclose(solution("active_fraction")(net, x), [3 / 9])
    assert solution("dead_units")(net, x).tolist() == [1]
    assert solution("dead_units")(net, x[:1]).tolist() == [2]
    with pytest.raises(ValueError, match="at least one example"):
        solution("active_fraction")(net, x[:0])
    with pytest.raises(ValueError):
        solution("dead_units")(net, np.ones((3, 2), "float32"))  # two features for a one-feature net


def test_a_model_without_hidden_layers_is_refused():
    import keras

    with pytest.raises(ValueError):
        solution("active_fraction")(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), np.ones((2, 2)))


def test_hidden_cases_cover_the_edges_the_lesson_promises():
    for name in ("relu", "relu_grad", "elu", "elu_grad"):
        labels = " ".join(case.label for case in exercise(name).cases("hidden"))
        assert "float32" in labels and "±1000" in labels and "empty" in labels and "scalar" in labels
    assert "exactly 0" in " ".join(c.label for c in exercise("relu_grad").cases("hidden"))
    cases = exercise("dead_units").cases("hidden")
    labels = " ".join(case.label for case in cases)
    assert "Flatten" in labels and "single hidden layer" in labels and "leaky_relu" in labels
    assert {case.label for case in cases if case.raises} >= {"x with 5 features for a net that expects 6",
                                                              "an empty batch (0 examples)"}


# -- mistakes the hidden checks name ----------------------------------------------------------
def _floats(z):
    return np.asarray(z, dtype=float)


def _checked(function, parameter):
    """A learner function that refuses negative parameters (so only the named mistake differs)."""
    def learner(z, value=None, **kwargs):
        value = kwargs.get(parameter, value)
        if value is not None and not (np.isfinite(value) and value >= 0):
            raise ValueError("bad parameter")
        return function(_floats(z), *([] if value is None else [value]))
    return learner


ELEMENTWISE_MISTAKES = [
    ("relu", lambda z: _floats(z) > 0, "ReLU's slope"),
    ("relu", lambda z: np.abs(_floats(z)), "|z|"),
    ("relu", lambda z: np.max(_floats(z), 0), "np.maximum(z, 0)"),
    ("relu", lambda z: np.minimum(_floats(z), 0), "min(z, 0)"),
    ("relu_grad", lambda z: (_floats(z) >= 0).astype(float), "use z > 0, not z ≥ 0"),
    ("relu_grad", lambda z: _floats(z) > 0, "return floats"),
    ("relu_grad", lambda z: np.where(_floats(z) == 0, 0.5, _floats(z) > 0), "this gave [0.5] there"),
    ("relu_grad", lambda z: np.sign(_floats(z)), "not −1"),
    ("relu_grad", lambda z: np.maximum(_floats(z), 0), "relu(z) itself"),
    ("leaky_relu", _checked(lambda z, a=0.3: np.where(z > 0, z, a * z), "negative_slope"), "LeakyReLU layer"),
    ("leaky_relu", _checked(lambda z, a=0.2: np.where(z > 0, z, 0.2 * z), "negative_slope"), "ignored"),
    ("leaky_relu", _checked(lambda z, a=0.2: a * z, "negative_slope"), "negative z only"),
    ("leaky_relu", _checked(lambda z, a=0.2: np.maximum(z, 0), "negative_slope"), "plain ReLU"),
    ("leaky_relu", lambda z, negative_slope=0.2: np.where(_floats(z) > 0, z, negative_slope * _floats(z)),
     "should raise ValueError"),
    ("elu", _checked(lambda z, a=1.0: np.where(z > 0, z, a * np.exp(np.minimum(z, 0))), "alpha"), "the −1 is missing"),
    ("elu", _checked(lambda z, a=1.0: np.where(z > 0, z, np.expm1(np.minimum(z, 0))), "alpha"), "alpha argument is ignored"),
    ("elu", _checked(lambda z, a=1.0: np.where(z > 0, z, 0.0), "alpha"), "plain ReLU"),
    ("elu", _checked(lambda z, a=1.0: (z > 0) * z + (z <= 0) * a * (np.exp(z) - 1), "alpha"), "NaN or inf"),
    ("elu_grad", _checked(lambda z, a=1.0: np.where(z >= 0, 1.0, a * np.exp(np.minimum(z, 0))), "alpha"),
     "negative branch"),
    ("elu_grad", _checked(lambda z, a=1.0: np.where(z > 0, 1.0, a * np.expm1(np.minimum(z, 0))), "alpha"),
     "drops out"),
    ("elu_grad", _checked(lambda z, a=1.0: (z > 0).astype(float), "alpha"), "ReLU's slope"),
    ("elu_grad", _checked(lambda z, a=1.0: np.where(z > 0, z, a * np.expm1(np.minimum(z, 0))), "alpha"),
     "elu(z) itself"),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name, learner, hint", ELEMENTWISE_MISTAKES,
                         ids=[f"{name}-{hint}" for name, _, hint in ELEMENTWISE_MISTAKES])
def test_elementwise_mistakes_are_named(name, learner, hint):
    with np.errstate(all="ignore"):
        assert hint in failure_of(name, learner)


def _outputs(model, x, layers, wrap=True):
    import keras

    outputs = keras.Model(model.inputs, [layer.output for layer in layers])([np.asarray(x, "float32")])
    if wrap and not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [np.asarray(o) for o in outputs]


def _learner(per_layer, layers="hidden", wrap=True):
    """An activity learner: ``per_layer(output, z)`` over the chosen layers."""
    import keras

    def learner(model, x):
        if len(x) == 0:
            raise ValueError("empty batch")
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        chosen = {"hidden": dense[:-1], "all dense": dense, "all but last": model.layers[:-1]}[layers]
        return np.array([per_layer(output) for output in _outputs(model, x, chosen, wrap)])
    return learner


def _pre_activation_fraction(model, x):
    import keras

    if len(x) == 0:
        raise ValueError("empty batch")
    h, fractions = np.asarray(x, dtype="float32"), []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            z = keras.ops.matmul(h, layer.kernel) + layer.bias
            fractions.append(float((np.asarray(z) > 0).mean()))
            h = layer.activation(z)
        else:
            h = layer(h)
    return np.array(fractions[:-1])


ACTIVITY_MISTAKES = [
    ("active_fraction", _learner(lambda a: (a > 0).mean(), "all dense"), "output layer is included"),
    ("active_fraction", _learner(lambda a: (a > 0).mean(), "all but last"), "Flatten is not a hidden layer"),
    ("active_fraction", _learner(lambda a: (a >= 0).mean()), "count output > 0"),
    ("active_fraction", _learner(lambda a: np.any(a > 0, axis=0).mean()), "at least one example"),
    ("active_fraction", _learner(lambda a: (a > 0).sum(axis=1).mean()), "return fractions in [0, 1]"),
    ("active_fraction", _learner(lambda a: (a > 0).mean(), wrap=False), "single tensor"),
    ("active_fraction", _pre_activation_fraction, "pre-activations"),
    ("dead_units", _learner(lambda a: np.any(a == 0, axis=0).sum()), "*every* example"),
    ("dead_units", _learner(lambda a: np.all(a <= 0, axis=0).sum()), "are not dead"),
    ("dead_units", _learner(lambda a: np.all(a == 0, axis=1).sum()), "axis 0"),
    ("dead_units", _learner(lambda a: np.all(a == 0, axis=0).mean()), "return the count"),
    ("dead_units", _learner(lambda a: np.any(a != 0, axis=0).sum()), "alive"),
    ("dead_units", _learner(lambda a: np.all(a == 0, axis=0).sum(), "all dense"), "output layer is included"),
    ("dead_units", lambda model, x: int(solution("dead_units")(model, x).sum()), "not a single number"),
]


@pytest.mark.parametrize("name, learner, hint", ACTIVITY_MISTAKES,
                         ids=[f"{name}-{hint}" for name, _, hint in ACTIVITY_MISTAKES])
def test_activity_mistakes_are_named(name, learner, hint):
    assert hint in failure_of(name, learner)


@pytest.mark.parametrize("name, mistake", appended_mistakes("active_fraction", "dead_units"))
def test_activity_known_mistakes_are_named_on_their_mutants(name, mistake):
    assert_named(name, mistake)


def test_forgetting_the_empty_batch_check_is_caught():
    def learner(model, x):
        with np.errstate(all="ignore"):
            return np.array([float(np.mean(a > 0)) if a.size else float("nan")
                             for a in _outputs(model, x, [l for l in model.layers if hasattr(l, "kernel")][:-1])])
    message = failure_of("active_fraction", learner)
    cases = exercise("active_fraction").cases("hidden")
    empty_batches = sum("empty batch" in case.label for case in cases)
    assert f"{empty_batches} of {len(cases)}" in message
    assert "empty batch (0 examples)): bad input should raise ValueError" in message


# -- the explorer ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def profiles():
    from gradclinic.profiles import ActivationProfiles

    return ActivationProfiles(np.random.default_rng(0))


def test_explorer_updates_in_place_at_the_slider_ends(profiles):
    from gradclinic.explorers.relu_and_friends import ACTIVATIONS, WEIGHT_SCHEMES, ReluProfileExplorer

    explorer = ReluProfileExplorer(profiles, depth=20)
    figure, before = explorer.figure, explorer.png()
    for activation in ACTIVATIONS:
        for weights in WEIGHT_SCHEMES:
            for depth in (1, 100):
                assert explorer.update(depth=depth, activation=activation, weights=weights) is figure
                x, y = explorer.gradient_line.get_data()
                assert len(x) == depth and np.all(np.isfinite(y)) and np.all(y > 0)
                active = explorer.active_line.get_ydata()
                assert len(active) == depth and np.all((0 <= active) & (active <= 1))
    explorer.update(depth=100, activation="sigmoid", weights="glorot_uniform")
    assert "∞" in explorer.gradient_axes.get_title()  # float32 underflow, drawn at the floor
    explorer.update(depth=1, activation="relu")
    assert explorer.gradient_axes.get_title().endswith("= 1")
    assert explorer.png() != before, "moving the controls must change the rendered figure"


def test_profile_stats_are_the_profilers_bit_for_bit_and_kept_read_only(profiles):
    """One compiled function for every activation computes exactly what MLPProfiler computes."""
    from gradclinic.explorers.relu_and_friends import ACTIVATIONS

    for activation in ACTIVATIONS:
        expected = profiles.profiler.profile(profiles.weights["he_normal"][:40], activation)
        stats = profiles.stats(40, activation, "he_normal")
        assert np.array_equal(stats.kernel_grad_norms, expected.kernel_grad_norms, equal_nan=True), activation
        assert np.array_equal(stats.active_fraction, (expected.activations > 0).mean(axis=(1, 2))), activation
        assert profiles.stats(40, activation, "he_normal") is stats  # computed once, then kept
    with pytest.raises(ValueError):
        stats.kernel_grad_norms[0] = 0.0  # shared: read-only


def test_explorer_axes_stay_put_within_a_depth_bucket(profiles):
    """Within one 1-2-5 depth bucket (51..100) the depth slider moves the points, not the axes."""
    from gradclinic.explorers.relu_and_friends import ReluProfileExplorer

    explorer = ReluProfileExplorer(profiles, depth=60)
    limits = set()
    for depth in (51, 70, 85, 100):
        explorer.update(depth=depth, activation="relu", weights="glorot_uniform")
        limits.add(tuple(limit for axes in explorer.figure.axes for limit in (axes.get_xlim(), axes.get_ylim())))
        low, high = explorer.gradient_axes.get_ylim()
        assert np.all((low < explorer.gradient_line.get_ydata()) & (explorer.gradient_line.get_ydata() < high))
    assert len(limits) == 1, limits


def test_explorer_widget_has_its_controls_and_redraws_on_change(profiles):
    from gradclinic.explorers.relu_and_friends import ReluProfileExplorer

    explorer = ReluProfileExplorer(profiles, depth=5)
    with pytest.raises(ValueError, match="unknown control"):
        explorer.update(width=3)
    box = explorer.widget()
    controls = box.children[0].children
    assert [c.description for c in controls] == ["depth L", "activation", "init"]
    controls[0].value = 64
    assert explorer.settle() and len(explorer.gradient_line.get_xdata()) == 64


# -- the lesson's experiments -------------------------------------------------------------------
def test_depth_20_relu_profile_stays_level_where_sigmoid_collapses(profiles):
    relu, sigmoid = profiles.stats(20, "relu"), profiles.stats(20, "sigmoid")
    assert relu.spread < 4
    assert sigmoid.kernel_grad_norms[0] / sigmoid.kernel_grad_norms[-1] < 1e-6
    he = profiles.stats(100, "relu", "he_normal").kernel_grad_norms
    glorot = profiles.stats(100, "relu", "glorot_uniform").kernel_grad_norms
    assert np.median(he) / np.median(glorot) > 1e6  # the level Glorot loses to ReLU's halving


@pytest.mark.slow
def test_half_active_at_init_and_a_big_step_kills_units_for_good():
    import keras
    import tensorflow as tf

    from gradclinic.data import load_digits
    from gradclinic.models import deep_mlp

    gradclinic.seed(0)
    digits = load_digits()
    net = deep_mlp(64, 10, depth=4, width=64, activation="relu")
    initial = net.get_weights()
    at_init = solution("active_fraction")(net, digits.x_train)
    assert 0.4 < at_init.mean() < 0.6 and np.all((0.3 < at_init) & (at_init < 0.7))
    dead_at_init = solution("dead_units")(net, digits.x_train)

    dead_after = {}
    for learning_rate in (0.1, 30.0):
        net.set_weights(initial)
        net.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="sparse_categorical_crossentropy")
        net.train_on_batch(digits.x_train[:128], digits.y_train[:128])
        dead_after[learning_rate] = solution("dead_units")(net, digits.x_train)
    assert dead_after[0.1].sum() <= dead_at_init.sum() + 2
    assert dead_after[30.0].sum() >= dead_at_init.sum() + 20 and dead_after[30.0][0] > dead_at_init[0]

    first = net.layers[0]
    silent = np.all(np.asarray(first(digits.x_train)) == 0, axis=0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(digits.y_train, net(digits.x_train)))
    gradient = tape.gradient(loss, first.kernel).numpy()
    assert silent.sum() == dead_after[30.0][0] and np.all(gradient[:, silent] == 0)
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
    net.fit(digits.x_train, digits.y_train, epochs=2, batch_size=32, verbose=0)
    still_silent = np.all(np.asarray(first(digits.x_train)) == 0, axis=0)
    assert np.all(still_silent[silent]), "a dead first-layer unit came back"

    leaky = deep_mlp(64, 10, depth=4, width=64, activation="leaky_relu")
    leaky.compile(optimizer=keras.optimizers.SGD(learning_rate=30.0), loss="sparse_categorical_crossentropy")
    leaky.train_on_batch(digits.x_train[:128], digits.y_train[:128])
    assert solution("dead_units")(leaky, digits.x_train).sum() == 0


def test_only_plain_sgd_stops_when_the_gradient_does():
    """One weight, gradient 1 once, then 0: plain SGD stops; momentum 0.9 drifts 9 first steps
    more (0.9 + 0.9² + …); Adam a few."""
    import keras

    def drift(optimizer, quiet_steps=300):
        weight = keras.Variable(np.zeros(1, "float32"))
        optimizer.apply([np.ones(1, "float32")], [weight])
        first = float(weight.numpy()[0])
        for _ in range(quiet_steps):
            optimizer.apply([np.zeros(1, "float32")], [weight])
        return (float(weight.numpy()[0]) - first) / first

    assert drift(keras.optimizers.SGD(0.1)) == 0.0
    assert abs(drift(keras.optimizers.SGD(0.1, momentum=0.9)) - 9.0) < 1e-3
    assert 1.0 < drift(keras.optimizers.Adam(0.001)) < 20.0
