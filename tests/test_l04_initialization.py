"""Lesson 04, initialization: the solution's fans and initializers (the grader's references) agree
with Keras's in distribution, the statistical judges pass correct answers drawn another way and name the real
mistakes, the explorer works at its slider ends, and the lesson's experiments hold."""

import math

import numpy as np
import pytest

import gradclinic
from autograder import check, exercise
from autograder.graders import l04_initialization as l04
from autograder.solution import reference_namespace
from checks import failure_of

INITIALIZERS = ["glorot_uniform", "glorot_normal", "he_normal", "lecun_normal"]
INIT_NAMES = {*INITIALIZERS, "uniform_inv_sqrt_n"}  # what activation_stds accepts as init
ACTIVATIONS = {"linear": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0),
               "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}
C = l04.KERAS_TRUNCATION_STD


def solution(name):
    """What lesson 04's solution defines as ``name`` (the grader's reference for an exercise)."""
    return reference_namespace("04_initialization")[name]


def setup_module():
    gradclinic.seed(0)


# -- the solution (the references) ------------------------------------------------------------
@pytest.mark.parametrize("shape", [(), (7,), (3, 5), (784, 10), (0, 7), (7, 8, 16), (3, 3, 16, 32),
                                   (1, 1, 64, 256), (2, 3, 3, 4, 8)])
def test_fans_match_keras_compute_fans(shape):
    from keras.src.initializers.random_initializers import compute_fans

    assert solution("fans")(shape) == tuple(int(n) for n in compute_fans(shape))
    assert all(type(n) is int for n in solution("fans")(shape))


def test_the_truncation_constant_is_the_std_of_a_standard_normal_cut_at_two():
    import inspect

    import keras

    density, inside = math.exp(-2.0) / math.sqrt(2 * math.pi), math.erf(math.sqrt(2.0))
    assert math.isclose(math.sqrt(1 - 4 * density / inside), C, rel_tol=1e-14)
    assert "0.87962566103423978" in inspect.getsource(keras.initializers.VarianceScaling.__call__)


@pytest.mark.parametrize("name", INITIALIZERS)
@pytest.mark.parametrize("shape", [(400, 600), (3, 3, 32, 64)])
def test_references_match_keras_in_variance_bounds_and_distribution(name, shape):
    ours = solution(name)(shape, np.random.default_rng(11))
    theirs = l04.keras_samples(name, shape, seed=11)
    variance, n = l04.variance_of(name, shape), ours.size
    tolerance = 6 * math.sqrt(2 / n)
    assert ours.shape == theirs.shape == shape
    assert abs(ours.var() / variance - 1) < tolerance and abs(theirs.var() / variance - 1) < tolerance
    bound = math.sqrt(3 * variance) if name == "glorot_uniform" else 2 * math.sqrt(variance) / C
    assert np.abs(ours).max() <= bound and np.abs(theirs).max() <= bound * (1 + 1e-6)
    assert np.abs(ours).max() > 0.99 * bound and np.abs(theirs).max() > 0.99 * bound  # filled to the edge
    assert l04.ks_distance(ours, theirs) < l04.ks_critical(n, n, alpha=1e-4)


def test_seed_001s_stddev_is_the_weights_not_the_normal_keras_truncates():
    import keras

    fan_in, fan_out = 300, 500
    target = math.sqrt(2 / (fan_in + fan_out))
    weights = np.asarray(keras.initializers.GlorotNormal(seed=1)((fan_in, fan_out)), dtype=float)
    assert abs(weights.std() / target - 1) < 0.01
    assert np.abs(weights).max() <= 2 * target / C * (1 + 1e-6)
    rng = np.random.default_rng(0)
    literal = rng.normal(0, target, 400_000)
    literal = literal[np.abs(literal) <= 2 * target]  # the ambiguous description's other reading: σ = target before the cut
    assert abs(literal.std() / target - C) < 0.01
    assert abs(rng.normal(0, target / C, 400_000).std() / target - 1 / C) < 0.01  # ÷0.8796 without the cut


def test_hidden_cases_cover_what_the_lesson_promises():
    labels = " ".join(case.label for case in exercise("fans").cases("hidden"))
    for wanted in ("Conv1D", "Conv2D", "Conv3D", "1×1", "1-D", "scalar", "list", "empty", "negative", "fractional"):
        assert wanted in labels
    for name in INITIALIZERS:
        cases = exercise(name).cases("hidden")
        labels = " ".join(case.label for case in cases)
        assert "Conv2D" in labels and "scalar" in labels and "empty" in labels
        assert [case.raises for case in cases if case.raises] == ["ValueError"]
        assert sum(math.prod(case.args[0]) >= l04.STATISTICS_MIN_SIZE for case in cases) >= 3
    cases = exercise("activation_stds").cases("hidden")
    settings = {(c.args[2], c.args[3]) for c in cases if not c.raises}
    assert {(init, act) for init in INIT_NAMES for act in ("tanh", "relu")} & settings >= {
        ("uniform_inv_sqrt_n", "tanh"), ("glorot_uniform", "tanh"), ("he_normal", "relu"), ("glorot_normal", "relu")}
    assert {act for _, act in settings} == set(ACTIVATIONS) and {i for i, _ in settings} == INIT_NAMES
    assert len([c for c in exercise("activation_stds").hidden_cases() if c.raises]) == 4


# -- correct answers drawn another way pass (the statistics do not demand the reference's draws)
def _uniform_by_scaling(shape, rng):
    fan_in, fan_out = solution("fans")(shape)
    limit = math.sqrt(6 / max(1.0, fan_in + fan_out) if fan_in + fan_out >= 2 else 3.0)
    return (2 * rng.random(tuple(shape)) - 1) * limit


def _truncated_by_oversampling(variance_rule):
    def learner(shape, rng):
        fan_in, fan_out = solution("fans")(shape)
        sigma = math.sqrt(variance_rule(fan_in, fan_out)) / C
        n = math.prod(shape)
        values = np.empty(0)
        while values.size < n:  # draw in bulk, keep the values inside ±2σ, in order
            draw = rng.normal(0, sigma, 2 * n + 8)
            values = np.concatenate([values, draw[np.abs(draw) <= 2 * sigma]])
        return values[:n].reshape(shape)
    return learner


ALTERNATIVES = [
    ("glorot_uniform", _uniform_by_scaling),
    ("glorot_normal", _truncated_by_oversampling(lambda i, o: 1 / max(1.0, (i + o) / 2))),
    ("he_normal", _truncated_by_oversampling(lambda i, o: 2 / max(1.0, i))),
    ("lecun_normal", _truncated_by_oversampling(lambda i, o: 1 / max(1.0, i))),
]


@pytest.mark.parametrize("name, learner", ALTERNATIVES, ids=[name for name, _ in ALTERNATIVES])
def test_a_correct_initializer_that_draws_differently_passes(name, learner):
    check(name, learner)


def test_activation_stds_drawing_kernels_first_passes():
    """A correct net that draws all kernels before the input batch gives other numbers, within tolerance."""
    def learner(depth, width, init, activation, rng, gain=1.0):
        if init not in INIT_NAMES or activation not in ACTIVATIONS:
            raise ValueError("unknown name")
        if not (isinstance(depth, int) and isinstance(width, int) and depth >= 1 and width >= 1):
            raise ValueError("depth and width must be ≥ 1")
        kernels = [gain * solution(init)((width, width), rng) for _ in range(depth)]
        a, stds = rng.standard_normal((1000, width)), []
        for kernel in kernels:
            a = ACTIVATIONS[activation](a @ kernel)
            stds.append(a.std())
        return np.array(stds)
    check("activation_stds", learner)


@pytest.mark.slow
def test_activation_tolerance_holds_for_independent_draws_on_every_hidden_setting():
    """What the judge's tolerance promises: 30 pairs of independent correct runs per case stay inside it."""
    worst = 0.0
    for case in exercise("activation_stds").cases("hidden"):
        if case.raises:
            continue
        depth, width, init, activation, _ = case.args
        gain = case.kwargs.get("gain", 1.0)
        tolerance = l04.activation_log_tolerance(depth, width, init, activation, gain)
        for seed in range(30):
            a = solution("activation_stds")(depth, width, init, activation, np.random.default_rng(seed), gain)
            b = solution("activation_stds")(depth, width, init, activation, np.random.default_rng(10_000 + seed), gain)
            worst = max(worst, float(np.max(np.abs(np.log(a / b)) / tolerance)))
    assert worst < 0.9, f"two correct runs used {worst:.2f} of the tolerance"


# -- learner mistakes, each named with its hint -------------------------------------------
def _fans_learner(rule):
    def learner(shape):
        if any(not isinstance(d, int) or d < 0 for d in shape):
            raise ValueError("bad shape")
        return rule(tuple(shape))
    return learner


def _keras_fans(shape):
    return solution("fans")(shape)


FANS_MISTAKES = [
    (lambda s: _keras_fans(s)[::-1], "swapped"),
    (lambda s: (s[-2], s[-1]) if len(s) >= 2 else _keras_fans(s), "receptive field is missing"),
    (lambda s: (s[0], s[1]) if len(s) >= 3 else _keras_fans(s), "the first ones are the window"),
    (lambda s: tuple(float(n) for n in _keras_fans(s)), "not whole numbers"),
    (lambda s: (s[0], 1) if len(s) == 1 else _keras_fans(s), "fan_in = fan_out = n"),
    (lambda s: (0, 0) if len(s) == 0 else _keras_fans(s), "fan_in = fan_out = 1"),
]


@pytest.mark.parametrize("rule, hint", FANS_MISTAKES, ids=[hint for _, hint in FANS_MISTAKES])
def test_fans_mistakes_are_named(rule, hint):
    assert hint in failure_of("fans", _fans_learner(rule))


def test_fans_without_value_error_is_caught():
    message = failure_of("fans", lambda shape: _keras_fans([abs(d) if isinstance(d, int) else 1 for d in shape]))
    assert "negative dimension" in message and "should raise ValueError" in message


def _uniform(variance_of_fans, sampler=None):
    """A glorot_uniform learner with the limit √(3·variance_of_fans(fan_in, fan_out, shape))."""
    def learner(shape, rng):
        fan_in, fan_out = _keras_fans(shape)
        limit = math.sqrt(3 * variance_of_fans(max(fan_in, 1), max(fan_out, 1), tuple(shape)))
        if sampler is not None:
            return sampler(shape, limit, rng)
        return rng.uniform(-limit, limit, size=tuple(shape))
    return learner


def _glorot(i, o):
    return 2 / (i + o)


UNIFORM_MISTAKES = [
    (_uniform(lambda i, o, s: 1 / i), "LeCun's uniform"),  # Glorot with fan_in only: √(3/fan_in)
    (_uniform(lambda i, o, s: 1 / (3 * i)), "old heuristic"),  # limit √(1/n)
    (_uniform(lambda i, o, s: 2 / (3 * (i + o))), "normal's standard deviation"),  # limit √Var, not √(3·Var)
    (_uniform(lambda i, o, s: 1 / (i + o)), "too small by √2"),
    (_uniform(lambda i, o, s: 12 / (i + o) ** 2), "square root is missing"),
    (_uniform(lambda i, o, s: 2 / o), "fan_out only"),
    (_uniform(lambda i, o, s: _glorot(s[-2], s[-1]) if len(s) >= 3 else _glorot(i, o)), "receptive field is missing"),
    (_uniform(lambda i, o, s: _glorot(i, o), lambda shape, limit, rng: limit * rng.random(tuple(shape))),
     "not centred on 0"),
    (_uniform(lambda i, o, s: _glorot(i, o),
              lambda shape, limit, rng: rng.normal(0, limit / math.sqrt(3), tuple(shape))), "not uniform"),
]


@pytest.mark.parametrize("learner, hint", UNIFORM_MISTAKES, ids=[hint for _, hint in UNIFORM_MISTAKES])
def test_glorot_uniform_mistakes_are_named(learner, hint):
    assert hint in failure_of("glorot_uniform", learner)


def _normal(variance_of_fans, correction=C, truncate="redraw"):
    """A truncated-normal learner: σ = √variance / correction; ``truncate``: redraw, clip or none."""
    def learner(shape, rng):
        fan_in, fan_out = _keras_fans(shape)
        sigma = math.sqrt(variance_of_fans(max(fan_in, 1), max(fan_out, 1), tuple(shape))) / correction
        w = rng.normal(0, sigma, size=tuple(shape))
        if truncate == "clip":
            return np.clip(w, -2 * sigma, 2 * sigma)
        while truncate == "redraw" and (np.abs(w) > 2 * sigma).any():
            outside = np.abs(w) > 2 * sigma
            w[outside] = rng.normal(0, sigma, size=int(outside.sum()))
        return w
    return learner


RULES = {"glorot_normal": lambda i, o, s: 2 / (i + o), "he_normal": lambda i, o, s: 2 / i,
         "lecun_normal": lambda i, o, s: 1 / i}
NORMAL_MISTAKES = [
    ("glorot_normal", _normal(RULES["glorot_normal"], correction=1.0), "0.8796… correction is missing"),
    ("glorot_normal", _normal(RULES["glorot_normal"], correction=1.0, truncate="none"), "the common description"),
    ("glorot_normal", _normal(RULES["glorot_normal"], truncate="none"), "without that truncation"),
    ("glorot_normal", _normal(RULES["glorot_normal"], truncate="clip"), "clipped"),
    ("glorot_normal", _normal(lambda i, o, s: 2 / i), "fan_in only (that is He's"),
    ("glorot_normal", _normal(lambda i, o, s: 1 / (i + o)), "the 2 is missing"),
    ("glorot_normal", _normal(lambda i, o, s: 2 / (s[-2] + s[-1]) if len(s) >= 3 else 2 / (i + o)),
     "receptive field is missing"),
    ("glorot_normal", _normal(lambda i, o, s: (2 / (i + o)) ** 2), "variance was used as the standard deviation"),
    ("glorot_normal", lambda shape, rng: _uniform(lambda i, o, s: 2 / (i + o))(shape, rng), "look uniform"),
    ("he_normal", _normal(lambda i, o, s: 1 / i), "LeCun's variance; He doubles it"),
    ("he_normal", _normal(lambda i, o, s: 2 / (i + o)), "Glorot's variance; He uses fan_in only"),
    ("he_normal", _normal(lambda i, o, s: 2 / o), "swapped"),
    ("he_normal", _normal(RULES["he_normal"], correction=1.0), "0.8796… correction is missing"),
    ("lecun_normal", _normal(lambda i, o, s: 2 / i), "He's variance; LeCun's is 1/fan_in"),
    ("lecun_normal", _normal(RULES["lecun_normal"], truncate="none"), "without that truncation"),
    ("lecun_normal", _normal(lambda i, o, s: 1 / s[-2] if len(s) >= 3 else 1 / i), "receptive field is missing"),
]


@pytest.mark.parametrize("name, learner, hint", NORMAL_MISTAKES,
                         ids=[f"{name}-{hint}" for name, _, hint in NORMAL_MISTAKES])
def test_truncated_normal_mistakes_are_named(name, learner, hint):
    assert hint in failure_of(name, learner)


def _net(variant, hint):
    """An activation_stds learner with the solution's draws and one known mistake: the grader's
    mutant whose message holds ``hint``, or one of the mistakes the judge names itself."""
    exercise_ = exercise("activation_stds")
    mutants = [m for m in exercise_.mistakes if hint in m.what]
    function = exercise_.mutant(mutants[0]) if mutants else solution("activation_stds")

    def learner(depth, width, init, activation, rng, gain=1.0):
        if variant == "no_value_error":
            depth = max(depth, 1)
            width = max(width, 1)
            init = init if init in INIT_NAMES else "he_normal"
            activation = activation if activation in ACTIVATIONS else "relu"
        stds = function(depth, width, init, activation, rng, gain)
        if variant == "variances":
            return stds ** 2
        return stds
    return learner


NET_MISTAKES = [
    ("preactivation", "before the activation"),
    ("no_activation", "the activation is not applied"),
    ("gain_squared", "the gain multiplies the weights once"),
    ("no_gain", "the gain is ignored"),
    ("ignores_init", "draw with the initializer named by init"),
    ("variances", "these are variances"),
    ("with_input", "the first entry is the input's std"),
    ("no_value_error", "should raise ValueError"),
]


@pytest.mark.parametrize("variant, hint", NET_MISTAKES, ids=[variant for variant, _ in NET_MISTAKES])
def test_activation_stds_mistakes_are_named(variant, hint):
    assert hint in failure_of("activation_stds", _net(variant, hint))


def test_activation_stds_mistake_drawn_in_another_order_is_still_named():
    """The judge names a known mistake within the case's statistical tolerance, not only on the
    solution's own draws: the preactivation mistake, with all kernels drawn before the input batch."""
    def learner(depth, width, init, activation, rng, gain=1.0):
        if init not in INIT_NAMES or activation not in ACTIVATIONS or depth < 1 or width < 1:
            raise ValueError("bad argument")
        kernels = [gain * solution(init)((width, width), rng) for _ in range(depth)]
        a, stds = rng.standard_normal((1000, width)), []
        for kernel in kernels:
            z = a @ kernel
            a = ACTIVATIONS[activation](z)
            stds.append(z.std())
        return np.array(stds)
    assert "before the activation" in failure_of("activation_stds", learner)


# -- the explorer ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def explorer():
    from gradclinic.explorers.initialization import InitializationExplorer

    return InitializationExplorer(np.random.default_rng(0), depth=10, initializer="uniform_inv_sqrt_n")


def test_explorer_updates_in_place_at_the_slider_ends(explorer):
    from gradclinic.explorers.initialization import ACTIVATIONS, MAX_DEPTH, SCHEMES

    figure, before = explorer.figure, explorer.png()
    for scheme in SCHEMES:
        for depth, gain in ((1, 0.5), (MAX_DEPTH, 2.0)):
            assert explorer.update(depth=depth, gain=gain, initializer=scheme, activation="tanh") is figure
            x, y = explorer.std_line.get_data()
            assert len(x) == depth and np.all(np.isfinite(y)) and np.all(y > 0)
            assert explorer.map_image.get_array().shape[0] == depth
    for activation in ACTIVATIONS:
        explorer.update(depth=MAX_DEPTH, gain=2.0, initializer="standard_normal", activation=activation)
        assert np.all(np.isfinite(explorer.std_line.get_ydata()))
    assert explorer.png() != before, "moving the controls must change the rendered figure"


def test_explorer_axes_follow_the_depth_bucket_and_the_gains_third(explorer):
    """Within a third of the gain slider the axes stay put (a cached background); the layer
    axes end at the depth's 1-2-5 bucket; every point stays inside its axes."""
    limits = []
    for gain in (1.0, 1.2, 1.45):
        explorer.update(depth=60, gain=gain, initializer="glorot_uniform", activation="tanh")
        limits.append((explorer.std_axes.get_ylim(), explorer.map_axes.get_xlim(), explorer.hist_axes.get_xlim()))
        low, high = explorer.std_axes.get_ylim()
        assert np.all((explorer.std_line.get_ydata() >= low) & (explorer.std_line.get_ydata() <= high))
    assert limits[0] == limits[1] == limits[2] and limits[0][1] == (-1.0, 1.0)
    explorer.update(depth=13, gain=1.0)
    assert explorer.std_axes.get_xlim() == (0.5, 20.5) and explorer.map_axes.get_ylim() == (20.5, 0.5)
    assert explorer.map_image.get_array().shape[0] == 13
    explorer.update(depth=60, gain=2.0, initializer="he_normal", activation="relu")
    low, high = explorer.map_axes.get_xlim()  # ReLU's values: from 0 to a 1-2-5 step above them
    assert low == 0 and np.any(np.isclose(high / 10 ** np.floor(np.log10(high)), [1, 2, 5]))


def test_explorer_shows_the_lessons_contrasts(explorer):
    from gradclinic.profiles import layer_histograms

    net = explorer.net

    def stds(depth, gain, scheme, activation):
        return net.activations(depth, gain, scheme, activation).reshape(depth, -1).std(axis=1)

    shrinking = stds(10, 1.0, "uniform_inv_sqrt_n", "tanh")
    holding = stds(10, 1.0, "glorot_uniform", "tanh")
    assert shrinking[-1] / shrinking[0] < 0.02 and holding[-1] / holding[0] > 0.2
    he, glorot = stds(60, 1.0, "he_normal", "relu"), stds(60, 1.0, "glorot_normal", "relu")
    assert 0.1 < he[-1] / he[0] < 10 and glorot[-1] / glorot[0] < 1e-6
    saturated = net.activations(5, 1.0, "standard_normal", "tanh")[-1]
    assert np.mean(np.abs(saturated) > 0.99) > 0.5  # variance-1 weights on 64 inputs pin tanh at ±1
    counts, edges = layer_histograms(net.activations(3, 1.0, "he_normal", "relu"))
    assert counts.shape == (3, len(edges) - 1) and np.all(counts.sum(axis=1) <= 1 + 1e-9)


def test_explorer_widget_has_its_controls_and_rejects_bad_ones(explorer):
    with pytest.raises(ValueError):
        explorer.net.activations(5, 1.0, "xavier", "tanh")
    with pytest.raises(ValueError):
        explorer.net.activations(0, 1.0, "he_normal", "relu")
    controls = explorer.widget().children[0].children
    assert [c.description for c in controls] == ["depth L", "gain γ", "init", "activation"]
    controls[0].value = 7
    assert explorer.settle() and len(explorer.std_line.get_xdata()) == 7


# -- the lesson's experiments -------------------------------------------------------------------
def test_glorot_bengio_uniform_heuristic_shrinks_and_glorot_holds():
    rng, activation_stds = np.random.default_rng(0), solution("activation_stds")
    heuristic = activation_stds(5, 500, "uniform_inv_sqrt_n", "tanh", rng)
    glorot = activation_stds(5, 500, "glorot_uniform", "tanh", rng)
    pytorch_gain = activation_stds(5, 500, "glorot_uniform", "tanh", rng, gain=5 / 3)
    factors = heuristic[1:] / heuristic[:-1]
    assert np.all(np.abs(factors - 1 / math.sqrt(3)) < 0.05)  # tanh ≈ linear there: 1/√3 per layer
    assert heuristic[-1] / heuristic[0] < 0.13
    assert np.all(np.diff(glorot) < 0) and 0.4 < glorot[-1] / glorot[0] < 0.6  # holds far better, drifts
    assert np.all(np.abs(pytorch_gain[2:] / pytorch_gain[2] - 1) < 0.05)  # with γ = 5/3 it settles


def _tanh_forward_backward_stds(kernels, rng):
    """The notebook's forward_backward_stds: std of a[l], of ∂loss/∂a[l] and of ∂loss/∂W[l] per layer."""
    a = [rng.standard_normal((1000, kernels[0].shape[0]))]
    for kernel in kernels:
        a.append(np.tanh(a[-1] @ kernel))
    error, errors, weight_gradients = rng.standard_normal(a[-1].shape), [], []
    for layer in reversed(range(len(kernels))):
        errors.append(error.std())
        error_z = error * (1 - a[layer + 1] ** 2)
        weight_gradients.append((a[layer].T @ error_z).std())
        error = error_z @ kernels[layer].T
    return np.array([x.std() for x in a[1:]]), np.array(errors[::-1]), np.array(weight_gradients[::-1])


def test_weight_gradients_stay_level_while_the_backpropagated_error_shrinks():
    """Glorot & Bengio 2010, §4.2.1, as lesson 04 shows it: with U[±1/√n] (nearly linear tanh) the
    error ∂loss/∂a shrinks toward the input as the activations shrink toward the output, and the
    weight gradients, their product, are level."""
    rng = np.random.default_rng(0)
    for init, shrink in ((solution("uniform_inv_sqrt_n"), 0.15), (solution("glorot_uniform"), 0.7)):
        forward, errors, weight_gradients = _tanh_forward_backward_stds([init((500, 500), rng) for _ in range(5)], rng)
        assert forward[-1] / forward[0] < shrink and errors[0] / errors[-1] < shrink
        assert np.all(np.abs(weight_gradients / weight_gradients[-1] - 1) < 0.2)  # level within 20 %


def _relu_second_moments(depth, width, initializer, rng):
    a, moments = rng.standard_normal((500, width)), []
    for _ in range(depth):
        a = np.maximum(a @ initializer((width, width), rng), 0.0)
        moments.append(np.mean(a ** 2))
    return np.array(moments)


def test_he_keeps_a_30_layer_relu_nets_second_moment_and_glorot_halves_it_30_times():
    """The notebook's measurement: three nets of 512 units each, geometric mean after layer 30."""
    rng = np.random.default_rng(0)
    final = {name: np.exp(np.mean(np.log([_relu_second_moments(30, 512, initializer, rng)[-1] for _ in range(3)])))
             for name, initializer in (("he", solution("he_normal")), ("glorot", solution("glorot_normal")))}
    assert 0.97 < final["he"] ** (1 / 30) < 1.02 and 0.3 < final["he"] < 3
    assert 0.485 < final["glorot"] ** (1 / 30) < 0.515 and 0.3 < final["glorot"] / 2.0 ** -30 < 3
    assert final["he"] / final["glorot"] > 1e8
