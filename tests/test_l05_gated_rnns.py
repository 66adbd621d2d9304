"""Lesson 05: the solution (the grader's reference) and its known mistakes match Keras, the hidden checks catch the real mistakes with their hint,
the explorer works at its slider ends, and the lesson's experiment (a SimpleRNN forgets the
subject's number as the gap grows; gated cells carry it) holds."""

import numpy as np
import pytest

import gradclinic
from autograder import check, exercise
from autograder.graders import l05_gated_rnns as lesson
from autograder.solution import solution_function
from checks import failure_of, failures_on
from gradclinic.case_models import linear_recurrence_model

# The notebook's sweep (solutions/05_gated_rnns): every gap's result depends on the gap alone.
SWEEP = {"seed": 0, "n_train": 384, "n_test": 256, "epochs": 16, "learning_rate": 0.02}


def setup_module():
    gradclinic.seed(0)


def solution(name):
    """What lesson 05's solution defines as ``name`` (the grader's reference for an exercise)."""
    return solution_function("05_gated_rnns", name)


def gru_mistake(hint):
    """The gru_step the grader's known mistake whose message holds ``hint`` computes."""
    gru = exercise("gru_step")
    (mistake,) = [m for m in gru.mistakes if hint in m.what]
    return gru.mutant(mistake)


# -- gru_step -----------------------------------------------------------------------------------
def _keras_cells(input_dim, units, weights):
    import keras

    cells = {}
    for reset_after in (True, False):
        cell = keras.layers.GRUCell(units, reset_after=reset_after)
        cell.build((None, input_dim))
        kernel, recurrent_kernel, bias = weights
        cell.set_weights([kernel, recurrent_kernel, bias if reset_after else bias[0]])
        cells[reset_after] = cell
    return cells


@pytest.mark.parametrize("batch, input_dim, units", [(1, 1, 1), (4, 3, 5), (7, 6, 16)])
def test_solution_gru_step_matches_keras_gru_cell(batch, input_dim, units):
    rng = np.random.default_rng(batch * 100 + units)
    weights = lesson.gru_weights(input_dim, units, rng)
    x_t = rng.normal(size=(batch, input_dim)).astype("float32")
    h_prev = rng.uniform(-1, 1, size=(batch, units)).astype("float32")
    cells = _keras_cells(input_dim, units, weights)
    keras_h = cells[True](x_t, [h_prev])[0].numpy()
    assert np.allclose(solution("gru_step")(x_t, h_prev, *weights), keras_h, rtol=1e-5, atol=1e-5)
    # The "reset before" mistake is exactly Keras's reset_after=False cell (one bias row).
    paper_h = cells[False](x_t, [h_prev])[0].numpy()
    single_bias = np.stack([weights[2][0], np.zeros_like(weights[2][0])])
    assert np.allclose(gru_mistake("reset_after=False")(x_t, h_prev, weights[0], weights[1], single_bias),
                       paper_h, atol=1e-5)
    assert not np.allclose(paper_h, keras_h, atol=1e-3)


def test_every_gru_mistake_differs_from_the_reference_and_from_the_others():
    """Otherwise the judge would name the wrong misconception."""
    rng = np.random.default_rng(3)
    args = (rng.normal(size=(3, 2)), rng.uniform(-1, 1, (3, 4))) + lesson.gru_weights(2, 4, rng)
    gru = exercise("gru_step")
    outputs = {None: solution("gru_step")(*args)} | {m.what: gru.mutant(m)(*args) for m in gru.mistakes}
    names = list(outputs)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert not np.allclose(outputs[first], outputs[second], atol=1e-4), (first, second)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _gru(order="zrh", reset="after", mix="keras", bias_rows=(0, 1), gate=_sigmoid, check_shapes=True):
    """A learner's gru_step, written the way people write it, with one mistake switched on."""
    def learner(x_t, h_prev, kernel, recurrent_kernel, bias):
        x_t, h_prev, kernel, recurrent_kernel, bias = (np.asarray(a, float)
                                                       for a in (x_t, h_prev, kernel, recurrent_kernel, bias))
        if check_shapes and (bias.shape != (2, kernel.shape[1]) or kernel.shape[1] != 3 * h_prev.shape[1]
                             or x_t.shape[0] != h_prev.shape[0]):
            raise ValueError("shapes do not fit Keras's GRU layout")
        units = h_prev.shape[1]
        input_bias = bias[bias_rows[0]] if bias_rows[0] is not None else 0.0
        recurrent_bias = bias[bias_rows[1]] if bias_rows[1] is not None else 0.0
        blocks = dict(zip(order, np.split(x_t @ kernel + input_bias, 3, axis=1)))
        recurrent = dict(zip(order, np.split(h_prev @ recurrent_kernel + recurrent_bias, 3, axis=1)))
        z = gate(blocks["z"] + recurrent["z"])
        r = gate(blocks["r"] + recurrent["r"])
        if reset == "before":
            columns = slice(order.index("h") * units, (order.index("h") + 1) * units)
            recurrent_bias_h = np.broadcast_to(recurrent_bias, (3 * units,))[columns]
            h_tilde = np.tanh(blocks["h"] + (r * h_prev) @ recurrent_kernel[:, columns] + recurrent_bias_h)
        else:
            h_tilde = np.tanh(blocks["h"] + r * recurrent["h"])
        return z * h_prev + (1 - z) * h_tilde if mix == "keras" else z * h_tilde + (1 - z) * h_prev
    return learner


def test_the_mistake_free_gru_learner_passes():
    check("gru_step", _gru())


@pytest.mark.parametrize("mistake, hint", [
    ({"reset": "before"}, "reset_after=False"),
    ({"order": "rzh"}, "gates are swapped"),
    ({"mix": "flipped"}, "the mix is flipped"),
    ({"bias_rows": (1, 0)}, "bias rows are swapped"),
    ({"bias_rows": (0, None)}, "only bias[0]"),
    ({"bias_rows": (None, 1)}, "only bias[1]"),
    ({"gate": lambda z: np.clip(z / 6 + 0.5, 0, 1)}, "hard_sigmoid"),
])
def test_gru_step_mistakes(mistake, hint):
    assert hint in failure_of("gru_step", _gru(**mistake))


def test_gru_step_bias_outside_the_reset_is_named():
    def learner(x_t, h_prev, kernel, recurrent_kernel, bias):
        units = np.shape(h_prev)[1]
        x_z, x_r, x_h = np.split(x_t @ kernel + bias[0], 3, axis=1)
        h_z, h_r, h_h = np.split(h_prev @ recurrent_kernel, 3, axis=1)
        z, r = _sigmoid(x_z + h_z + bias[1][:units]), _sigmoid(x_r + h_r + bias[1][units:2 * units])
        return z * h_prev + (1 - z) * np.tanh(x_h + r * h_h + bias[1][2 * units:])
    assert "outside the reset gate" in failures_on("gru_step", learner, ["random"])


def test_gru_step_without_shape_checks_is_told_to_raise():
    assert "should raise ValueError" in failure_of("gru_step", _gru(check_shapes=False))


# -- timestep_gradient_norms --------------------------------------------------------------------
def test_solution_norms_on_the_linear_net_are_known_exactly():
    timestep_gradient_norms = solution("timestep_gradient_norms")
    for decay, steps in ((0.5, 5), (0.9, 12)):
        model = linear_recurrence_model(decay)
        norms = timestep_gradient_norms(model, np.zeros((4, steps, 2), "float32"), np.array([1, 0, 1, 0]))
        assert np.allclose(norms, np.sqrt(2) / 4 * decay ** np.arange(steps - 1, -1, -1), rtol=1e-5)
    with pytest.raises(ValueError):
        timestep_gradient_norms(model, np.zeros((5, 2), "float32"), np.ones(1))
    with pytest.raises(ValueError):
        timestep_gradient_norms(model, np.zeros((3, 5, 2), "float32"), np.ones(2))


def _norms(wrt="inputs", reduce_axes=(0, 2), order=1, loss="bce", sum_features_first=False):
    """A learner's timestep_gradient_norms with one mistake switched on."""
    import keras
    import tensorflow as tf

    def learner(rnn, embedded, y):
        embedded = np.asarray(embedded, "float32")
        if embedded.ndim != 3 or len(y) != len(embedded):
            raise ValueError("embedded must be (batch, T, features), one label per sequence")
        inputs = tf.constant(embedded)
        targets = np.asarray(y, "float32").reshape(-1, 1)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            prediction = rnn(inputs)
            value = (keras.losses.BinaryCrossentropy()(targets, prediction) if loss == "bce"
                     else tf.reduce_sum(prediction))
        if wrt == "weights":
            return np.array([float(tf.norm(g)) for g in tape.gradient(value, rnn.trainable_variables)])
        gradient = tape.gradient(value, inputs).numpy()
        if sum_features_first:
            gradient = gradient.sum(axis=2, keepdims=True)
        return np.sqrt((gradient ** 2).sum(axis=reduce_axes))[::order]
    return learner


@pytest.mark.parametrize("mistake, hint", [
    ({"wrt": "weights"}, "with respect to the weights"),
    ({"reduce_axes": 0}, "include the feature axis"),
    ({"reduce_axes": 2}, "take one norm per step over the whole batch"),
    ({"sum_features_first": True}, "summed before squaring"),
    ({"order": -1}, "steps are reversed"),
    ({"loss": "output"}, "gradient of the model's output, not of the loss"),
])
def test_timestep_gradient_norms_mistakes(mistake, hint):
    assert hint in failures_on("timestep_gradient_norms", _norms(**mistake), ["SimpleRNN reader: batch 8"])


def test_the_mistake_free_norms_learner_passes():
    assert failures_on("timestep_gradient_norms", _norms(), ["reader", "linear net", "2-D", "labels"]) == ""


# -- the explorer -------------------------------------------------------------------------------
def _fake_results(with_profiles=True):
    from gradclinic.training import AGREEMENT_CELLS, SweepResults

    results = SweepResults(tuple(AGREEMENT_CELLS), (2, 9))
    for index, cell in enumerate(results.cells):
        for gap in results.gaps:
            results.accuracy[cell, gap] = 0.5 + 0.1 * index
            profile = 0.5 ** np.arange(gap + 1, -1, -1) if with_profiles else None
            results.initial_profiles[cell, gap] = profile
            results.trained_profiles[cell, gap] = None if profile is None else np.sqrt(profile)
    return results


def test_explorer_slider_ends_update_in_place():
    from gradclinic.explorers.gated_rnns import GatedRnnExplorer

    results = _fake_results()
    explorer = GatedRnnExplorer(results)
    figure, before = explorer.figure, explorer.png()
    scales = set()
    for gap in results.gaps:
        for cell in results.cells:
            assert explorer.update(gap=gap, cell=cell) is figure
            assert len(explorer.trained_line.get_xdata()) == gap + 2  # determiner, subject, gap words
            assert explorer.chosen_point.get_ydata()[0] == results.accuracy[cell, gap]
            assert f"gap {gap}" in explorer.profile_axes.get_title()
            assert explorer.trained_key.get_color() == explorer.trained_line.get_color()  # legend follows the cell
            low, high = explorer.profile_axes.get_ylim()
            shown = np.concatenate([explorer.initial_line.get_ydata(), explorer.trained_line.get_ydata()])
            assert low <= shown.min() and shown.max() <= high
            scales.add((explorer.profile_axes.get_xlim(), (low, high)))
    assert len(scales) == 1  # one scale for every cell and gap: a longer gap shows as a longer, lower line
    assert explorer.png() != before
    box = explorer.widget()
    box.children[0].children[0].value = 2
    assert explorer.settle() and len(explorer.trained_line.get_xdata()) == 4


def test_explorer_without_profiles_says_what_to_do():
    from gradclinic.explorers.gated_rnns import NO_PROFILE, GatedRnnExplorer

    explorer = GatedRnnExplorer(_fake_results(with_profiles=False), gap=2, cell="LSTM")
    assert explorer.message.get_text() == NO_PROFILE and len(explorer.trained_line.get_xdata()) == 0
    assert explorer.png()[:4] == b"\x89PNG"  # a learner without profiles still sees the figure
    with pytest.raises(ValueError, match="unknown control"):
        explorer.update(depth=3)


# -- the lesson's experiment -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def long_gaps():
    """The notebook's sweep at its two long gaps, three seeds (each gap's result is the notebook's own)."""
    from gradclinic.training import gap_sweep

    return gap_sweep((20, 28), gradient_norms=solution("timestep_gradient_norms"), progress=None, seeds=(0, 1, 2),
                     **{k: v for k, v in SWEEP.items() if k != "seed"})


@pytest.mark.slow
def test_simple_rnn_forgets_while_gated_cells_remember(long_gaps):
    """The notebook's prose, over its three seeds."""
    for gap in (20, 28):
        assert long_gaps.spread("SimpleRNN", gap)[2] < 0.65  # every run near chance (0.5)
        assert long_gaps.spread("GRU, gate open", gap)[1] > 0.9  # every run holds
    assert long_gaps.spread("GRU", 20)[1] > 0.8 and long_gaps.spread("LSTM", 20)[1] > 0.8
    assert long_gaps.spread("GRU", 28)[2] < 0.7  # Keras's default GRU fails in every run at the longest gap
    median, low, high = long_gaps.spread("LSTM", 28)
    assert low < 0.6 and high > 0.9  # the LSTM's runs disagree: one run alone would mislead


@pytest.mark.slow
def test_gradient_through_time_at_initialisation(long_gaps):
    """The first seed's profiles, as the notebook reads them."""
    for gap in (20, 28):
        ratios = {cell: long_gaps.subject_ratio(cell, gap) for cell in long_gaps.cells}
        # Default GRU (keeps ½ per step) < SimpleRNN < LSTM (keeps σ(1)) < GRU with z's bias at 3.
        assert ratios["GRU"] < ratios["SimpleRNN"] < ratios["LSTM"] < ratios["GRU, gate open"]
        assert ratios["GRU"] < 1e-4 and ratios["GRU, gate open"] > 0.1
        for cell, keep in (("GRU", 0.5), ("LSTM", 1 / (1 + np.exp(-1.0)))):
            assert 0.1 < ratios[cell] / keep ** gap < 1e3  # roughly keep^gap, the notebook's guide
        assert long_gaps.subject_ratio("GRU, gate open", gap, trained=True) >= 1.0


# -- feedback that locates a wrong gru_step --------------------------------------------------------
def _gru_with(update=None, reset=None, candidate=None, blend=None):
    """A learner's gru_step whose one step is written its own (wrong) way, matching no known mistake."""
    def learner(x_t, h_prev, kernel, recurrent_kernel, bias):
        x_t, h_prev, kernel, recurrent_kernel, bias = (np.asarray(a, float)
                                                       for a in (x_t, h_prev, kernel, recurrent_kernel, bias))
        if bias.shape != (2, kernel.shape[1]) or kernel.shape[1] != 3 * h_prev.shape[1] or x_t.shape[0] != h_prev.shape[0]:
            raise ValueError("shapes do not fit Keras's GRU layout")
        x_z, x_r, x_h = np.split(x_t @ kernel + bias[0], 3, axis=1)
        h_z, h_r, h_h = np.split(h_prev @ recurrent_kernel + bias[1], 3, axis=1)
        z = _sigmoid(x_z + h_z) if update is None else update(x_z, h_z)
        r = _sigmoid(x_r + h_r) if reset is None else reset(x_r, h_r)
        h_tilde = np.tanh(x_h + r * h_h) if candidate is None else candidate(x_h, h_h, r)
        return z * h_prev + (1 - z) * h_tilde if blend is None else blend(z, h_prev, h_tilde)
    return learner


@pytest.mark.parametrize("wrong, named", [
    ({"update": lambda x_z, h_z: _sigmoid(x_z)}, "the update gate z"),
    ({"reset": lambda x_r, h_r: _sigmoid(x_r + 0.5 * h_r)}, "the reset gate r"),
    ({"candidate": lambda x_h, h_h, r: np.tanh(r * (x_h + h_h))}, "the candidate h̃: r must multiply only its recurrent part"),
    ({"blend": lambda z, h_prev, h_tilde: z * h_prev + (1 - z) ** 2 * h_tilde}, "the final blend"),
])
def test_a_wrong_gru_step_with_no_known_mistake_is_told_where_it_first_differs(wrong, named):
    message = failure_of("gru_step", _gru_with(**wrong))
    first = message.split("\n- ")[1]  # the first failure the learner reads
    assert first.startswith("gru_step(isolating") and f"the first quantity that differs is {named}" in first, message


def test_the_isolating_cases_show_one_quantity_each():
    """With the solution: h̃ = 0 in the z case, h_t = tanh(r) in the r case, z ≈ 0 where it should be."""
    cases = dict(lesson.isolating_cases(np.random.default_rng(0)))
    x_t, h_prev, kernel, recurrent_kernel, bias = cases["z"].args
    units = h_prev.shape[1]
    z = _sigmoid(x_t @ kernel[:, :units] + bias[0, :units] + h_prev @ recurrent_kernel[:, :units] + bias[1, :units])
    assert np.allclose(solution("gru_step")(*cases["z"].args), z * h_prev, atol=1e-6)
    x_t, h_prev, kernel, recurrent_kernel, bias = cases["r"].args
    r = _sigmoid(x_t @ kernel[:, units:2 * units] + bias[0, units:2 * units]
                 + h_prev @ recurrent_kernel[:, units:2 * units] + bias[1, units:2 * units])
    assert np.allclose(solution("gru_step")(*cases["r"].args), np.tanh(r), atol=1e-6)
    for quantity in ("h̃ (r = 1)", "h̃ (r = 0)"):
        x_t, h_prev, kernel, recurrent_kernel, bias = cases[quantity].args
        shut = "0" in quantity.split("=")[1]
        inner = x_t @ kernel[:, 2 * units:] + bias[0, 2 * units:]
        if not shut:
            inner = inner + h_prev @ recurrent_kernel[:, 2 * units:] + bias[1, 2 * units:]
        assert np.allclose(solution("gru_step")(*cases[quantity].args), np.tanh(inner), atol=1e-6)
