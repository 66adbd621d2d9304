"""Lesson 06, residual networks: the hidden checks, the explorer, and the notebook's experiments."""

import numpy as np
import pytest

import gradclinic
from autograder import exercise
from autograder.graders import l06_residual_networks as l06
from autograder.solution import solution_function
from gradclinic.explorers.residual_networks import MAX_DEPTH, ResidualExplorer
from gradclinic.models import first_to_last_ratio, output_gradient_norms
from gradclinic.training import train_from_seeds
from checks import failure_of


def setup_module():
    gradclinic.seed(0)


def keras_layers():
    import keras

    return keras.layers


def solution(name):
    """What lesson 06's solution defines as ``name`` (the grader's reference for an exercise)."""
    return solution_function("06_residual_networks", name)


# -- the solution (the references) ------------------------------------------------------------
def test_identity_block_solution_equals_the_judges_tensorflow_formula():
    """The judge's TensorFlow formula is what the solution's Conv2D/BN/Add layers compute, both modes."""
    import keras

    x_in = keras.Input((5, 5, 3))
    model = keras.Model(x_in, solution("identity_block")(x_in, 3, (4, 3)))
    rng = np.random.default_rng(1)
    weights = l06._fixed_weights(model, rng)
    x = rng.normal(size=(3, 5, 5, 3)).astype("float32")
    for training in (False, True):
        got = keras.ops.convert_to_numpy(model(x, training=training))
        assert np.allclose(got, l06._tf_block(x, weights, training), atol=1e-5)
        assert got.min() >= 0


def test_hidden_cases_cover_what_the_lesson_promises():
    labels = " ".join(c.label for c in exercise("identity_block").cases("hidden"))
    assert "f=1" in labels and "f=5" in labels and "F2 = 5 but X has 4 channels" in labels
    assert sum(c.raises == "ValueError" for c in exercise("residual_mlp").cases("hidden")) >= 4
    assert any("residual=False" in c.label for c in exercise("residual_mlp").cases("hidden"))


# -- identity_block: the mistakes people make --------------------------------------------------------
def _block(order="reference", kernel=None, padding="same", check_f2=True):
    def block(X, f, filters):
        L = keras_layers()
        if len(filters) != 2:
            raise ValueError("filters must be a pair")
        F1, F2 = filters
        if check_f2 and F2 != X.shape[-1]:
            raise ValueError("F2 must equal the channels")
        size = kernel or (f, f)
        bn = lambda z: L.BatchNormalization()(z)  # noqa: E731
        shortcut = X
        z = L.Conv2D(F1, size, padding=padding)(X)
        z = L.Activation("relu")(bn(z)) if order != "no first relu" else bn(z)
        z = bn(L.Conv2D(F2, size, padding=padding)(z))
        if order == "no final relu":
            return L.Add()([z, shortcut])
        if order == "relu before add":
            return L.Add()([L.Activation("relu")(z), shortcut])
        if order == "no shortcut":
            return L.Activation("relu")(z)
        return L.Activation("relu")(L.Add()([z, shortcut]))

    return block


@pytest.mark.parametrize("learner, hint", [
    (_block(kernel=(1, 1), padding="valid"), "hard-codes kernel_size=(1, 1) and ignores f"),
    (_block(padding="valid"), "padding='same'"),
    (_block("no final relu"), "the ReLU after the addition is missing"),
    (_block("relu before add"), "add first, then take the ReLU"),
    (_block("no shortcut"), "no Add layer"),
    (_block("no first relu"), "the ReLU between the two convolutions is missing"),
])
def test_identity_block_mistakes_are_named(learner, hint):
    assert hint in failure_of("identity_block", learner)


def test_identity_block_with_swapped_filters_is_caught():
    def swapped(X, f, filters):
        return _block()(X, f, (filters[1], filters[0]))

    message = failure_of("identity_block", swapped)
    assert "filters" in message or "F2" in message


# -- residual_mlp: the mistakes people make ---------------------------------------------------------
def _mlp(skip=lambda residual: residual, activation="tanh", initializer="small", project=True, add_projection=False,
         output="softmax"):
    def build(input_dim, depth, width, n_classes, residual=True):
        import keras

        from gradclinic.models import small_initializer

        for value, minimum in ((input_dim, 1), (depth, 1), (width, 1), (n_classes, 2)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
                raise ValueError("bad argument")
        init = small_initializer if initializer == "small" else (lambda: initializer)
        inputs = keras.Input((input_dim,))
        h = inputs
        if project:
            h = keras.layers.Dense(width, activation=activation, kernel_initializer=init())(inputs)
        for _ in range(depth):
            branch = keras.layers.Dense(width, activation=activation, kernel_initializer=init())(h)
            h = keras.layers.Add()([h, branch]) if skip(residual) else branch
        if add_projection and skip(residual):
            h = keras.layers.Add()([h, keras.layers.Dense(width, kernel_initializer=init())(h)])
        return keras.Model(inputs, keras.layers.Dense(n_classes, activation=output)(h))

    return build


@pytest.mark.parametrize("learner, hint", [
    (_mlp(skip=lambda residual: True), "residual=False but the model has"),
    (_mlp(skip=lambda residual: False), "Did you ignore the residual argument?"),
    (_mlp(initializer="glorot_uniform"), "VarianceScaling(0.1, 'fan_in', 'truncated_normal')"),
    (_mlp(activation="relu"), "activation='tanh'"),
    (_mlp(add_projection=True), "One skip per block"),
    (_mlp(output="linear"), "must be softmax"),
])
def test_residual_mlp_mistakes_are_named(learner, hint):
    assert hint in failure_of("residual_mlp", learner)


def test_residual_mlp_without_projection_is_caught():
    # without the projection the stream has input_dim units, so a width-32 Add fails on 64 inputs,
    # or the layer count is off; either way the check fails
    assert "residual_mlp" in failure_of("residual_mlp", _mlp(project=False))


# -- the explorer ------------------------------------------------------------------------------
def test_explorer_updates_in_place_at_the_slider_ends():
    explorer = ResidualExplorer(rng=np.random.default_rng(0))
    figure = explorer.figure
    before = explorer.png()
    for depth in (1, MAX_DEPTH):
        for mode in ("plain", "residual"):
            assert explorer.update(depth=depth, mode=mode) is figure
            assert len(explorer.lines[mode].get_xdata()) == depth
            low, high = explorer.axes.get_ylim()
            assert 0 < low < high and np.isfinite(high)
            assert f"{mode}, depth {depth}" in explorer.axes.get_title()
    assert explorer.png() != before


def test_explorer_axes_stay_put_within_a_depth_bucket():
    """Within one 1-2-5 depth bucket (21..50) the depth slider and the net toggle move the
    points, not the axes, and every point of both profiles lies inside them."""
    explorer = ResidualExplorer(rng=np.random.default_rng(0))
    limits = set()
    for depth in (21, 33, 50):
        for mode in ("plain", "residual"):
            explorer.update(depth=depth, mode=mode)
            limits.add((explorer.axes.get_xlim(), explorer.axes.get_ylim()))
            low, high = explorer.axes.get_ylim()
            for line in explorer.lines.values():
                shown = line.get_ydata()[np.isfinite(line.get_ydata())]
                assert np.all((low < shown) & (shown < high))
    assert len(limits) == 1, limits


def test_explorer_widget_has_its_controls_and_redraws_on_change():
    explorer = ResidualExplorer()
    controls = explorer.widget().children[0].children
    assert [c.description for c in controls] == ["depth L", "net"]
    controls[0].value = 3
    assert explorer.settle() and "depth 3" in explorer.axes.get_title()
    controls[1].value = "residual"
    assert explorer.settle() and explorer.axes.get_title().startswith("residual, depth 3")


def test_explorer_profiles_show_the_lesson_story():
    profiles = ResidualExplorer(rng=np.random.default_rng(0)).profiles
    plain, residual = profiles.gradient_norms(20, False), profiles.gradient_norms(20, True)
    assert first_to_last_ratio(plain) < 1e-6
    assert 0.3 < first_to_last_ratio(residual) < 10
    with pytest.raises(ValueError):
        profiles.gradient_norms(MAX_DEPTH + 1, True)


# -- the notebook's experiments ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    from gradclinic.data import load_digits

    return load_digits()


def test_gradient_ratio_collapses_for_plain_and_holds_for_residual(digits):
    import keras

    x, y = digits.x_train[:256], digits.y_train[:256]
    ratios = {}
    for depth in (4, 16):
        for residual in (False, True):
            keras.utils.set_random_seed(depth)
            model = solution("residual_mlp")(64, depth, 32, 10, residual)
            ratios[depth, residual] = first_to_last_ratio(output_gradient_norms(model, x, y))
    assert ratios[16, False] < 1e-6 < ratios[4, False] < 0.1
    assert 0.3 < ratios[4, True] < 10 and 0.3 < ratios[16, True] < 10


@pytest.mark.slow
def test_residual_twin_trains_and_plain_twin_stays_near_chance(digits):
    runs = {residual: train_from_seeds(lambda: solution("residual_mlp")(64, 12, 32, 10, residual), (1, 2, 3),
                                       digits.x_train, digits.y_train, 4, validation_data=(digits.x_test, digits.y_test))
            for residual in (False, True)}
    for seed in (1, 2, 3):  # the notebook's three runs: the claim holds in each
        assert runs[False][seed][1]["val_accuracy"][-1] < 0.25, seed
        assert runs[True][seed][1]["val_accuracy"][-1] > 0.7, seed
