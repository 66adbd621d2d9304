"""Lesson 11, the gradient clinic: the reference treatments pass with a margin, the sick set-ups and
the treatments that change the task fail with the right message, and grading is deterministic."""

import functools

import pytest

import gradclinic
from autograder import check, harness
from autograder.exercise import CheckFailed
from autograder.lessons import l11_gradient_clinic as l11
from autograder.lessons.l02_causes_and_detection import diagnose
from gradclinic import clinic

TREATMENTS = {"a": l11.treat_case_a, "b": l11.treat_case_b, "c": l11.treat_case_c, "d": l11.treat_case_d}
MARGIN = 0.04  # a reference treatment clears its case's target by at least this much


def setup_module():
    gradclinic.seed(0)


def as_data(model):
    """The model as the grader receives it: JSON architecture, weights, compile settings."""
    store = harness.ArrayStore()
    return harness.decode_plain(harness.encode_plain(model, store), store)


def verdict_of(model, name):
    """The judge's failure message for ``model`` on case ``name`` (None when it passes)."""
    try:
        l11.judge_treatment(f"treat_case_{name}", name, as_data(model), f"case {name}")
    except CheckFailed as failure:
        return str(failure)
    return None


@functools.cache
def reference_result(name):
    return l11.judge_treatment(f"treat_case_{name}", name, as_data(TREATMENTS[name]()), f"case {name}")


def keras():
    import keras as k

    return k


def dense_net(name, depth, input_dim=64, compiled=True):
    k = keras()
    case = clinic.CASES[name]
    model = k.Sequential([k.Input((input_dim,))] + [k.layers.Dense(case["width"], activation="relu")
                                                     for _ in range(depth)]
                         + [k.layers.Dense(case["classes"], activation="softmax")])
    if compiled:
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


# -- the clinic's records ----------------------------------------------------------------------
def test_cases_are_data_and_the_data_has_their_shapes():
    for name, case in clinic.CASES.items():
        x, y, x_val, y_val = clinic.case_data(name)
        assert x.shape[1:] == case["input_shape"] == x_val.shape[1:]
        assert set(y.tolist()) == set(range(case["classes"]))
        assert 0.5 < case["target"] < 1 and case["epochs"] <= 15
    assert not any(hasattr(clinic, f"treat_case_{name}") for name in clinic.CASES)  # no answers in the package


def test_sick_set_ups_at_step_zero():
    """What the notebook's examination shows: a and d vanish at step 0, b and c look healthy."""
    verdicts = {name: diagnose(clinic.start_gradient_norms(clinic.sick_model(name), name)) for name in clinic.CASES}
    assert verdicts == {"a": "vanishing", "b": "healthy", "c": "healthy", "d": "vanishing"}
    assert clinic.start_gradient_norms(clinic.sick_model("d"), "d")[0] == 0.0  # underflows to exactly zero


def test_n01_sigmoid_net_is_not_caught_by_the_ratio_rule():
    """The notebook's note on why case a uses Glorot weights rather than N(0, 1)."""
    k = keras()
    k.utils.set_random_seed(0)
    init = k.initializers.RandomNormal(stddev=1.0)
    model = k.Sequential([k.Input((64,))] + [k.layers.Dense(64, activation="sigmoid", kernel_initializer=init)
                                             for _ in range(10)] + [k.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert diagnose(clinic.start_gradient_norms(model, "a")) == "healthy"


# -- reference treatments ----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TREATMENTS))
def test_reference_treatment_passes_with_a_margin(name):
    result = reference_result(name)
    assert result["accuracy"] >= clinic.CASES[name]["target"] + MARGIN, result
    assert diagnose(result["norms"]) == "healthy"


@pytest.mark.slow
def test_grading_is_deterministic():
    first = reference_result("b")
    again = l11.judge_treatment("treat_case_b", "b", as_data(l11.treat_case_b()), "case b")
    assert again["accuracy"] == first["accuracy"] and again["loss"] == first["loss"]


def test_reference_passes_through_check():
    check("treat_case_b", l11.treat_case_b)


# -- the sick set-ups fail their own case, each for its reason -----------------------------------
@pytest.mark.parametrize("name", ["a", "d"])
def test_vanishing_sick_set_ups_fail_at_step_zero(name):
    message = verdict_of(clinic.sick_model(name), name)
    assert "at the start of training lesson 02's diagnose says 'vanishing'" in message


@pytest.mark.slow
def test_exploding_sick_set_up_diverges():
    assert "training diverged" in verdict_of(clinic.sick_model("b"), "b")


@pytest.mark.slow
def test_simple_rnn_sick_set_up_misses_the_target():
    message = verdict_of(clinic.sick_model("c"), "c")
    assert "below the case's target" in message


# -- trivial "treatments" that change the task --------------------------------------------------
def test_fewer_layers_changes_the_task():
    message = verdict_of(dense_net("a", depth=2), "a")
    assert "changes the task" in message and "2 hidden Dense layers" in message and "10" in message


def test_another_input_shape_changes_the_task():
    message = verdict_of(dense_net("d", depth=20, input_dim=32), "d")
    assert "changes the task" in message and "input" in message


def test_narrower_layers_change_the_task():
    k = keras()
    model = k.Sequential([k.Input((64,))] + [k.layers.Dense(8, activation="relu") for _ in range(10)]
                         + [k.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert "changes the task" in verdict_of(model, "a") and "[8] units" in verdict_of(model, "a")


@pytest.mark.parametrize("variant", ["backwards", "no recurrence", "flatten"])
def test_recurrent_case_tricks_change_the_task(variant):
    k = keras()
    layers = [k.Input((26,), dtype="int32"), k.layers.Embedding(64, 8)]
    if variant == "backwards":
        layers.append(k.layers.SimpleRNN(16, go_backwards=True))
    elif variant == "flatten":
        layers.append(k.layers.Flatten())
    layers.append(k.layers.Dense(1, activation="sigmoid"))
    if variant == "no recurrence":
        layers.insert(2, k.layers.GlobalAveragePooling1D())
    model = k.Sequential(layers)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    message = verdict_of(model, "c")
    assert "changes the task" in message
    assert {"backwards": "backwards", "no recurrence": "GlobalAveragePooling1D", "flatten": "Flatten"}[variant] in message


def test_uncompiled_model_is_refused():
    assert "not compiled" in verdict_of(dense_net("a", depth=10, compiled=False), "a")


def test_non_model_is_refused():
    with pytest.raises(CheckFailed, match="return the compiled Keras model"):
        l11.judge_treatment("treat_case_a", "a", 3, "case a")


def test_visible_probe_catches_the_same_tricks_without_training():
    """treatment_state is what test_treat_case_<x> compares, in the learner's kernel and on the grader's side."""
    assert clinic.treatment_state(dense_net("a", depth=2), "a").startswith("changes the task")
    assert clinic.treatment_state(dense_net("a", depth=10, compiled=False), "a").startswith("not compiled")
    assert clinic.treatment_state(3, "a").startswith("not a Keras model")
    assert "vanishing" in clinic.treatment_state(clinic.sick_model("d"), "d")
    assert "vanishing" in clinic.treatment_state(clinic.sick_model("a"), "a")
    for name, treatment in TREATMENTS.items():
        assert getattr(clinic, f"treatment_state_{name}")(treatment()) == "ready to train"


def test_the_clinics_health_terms_are_lesson_02s_diagnose():
    """The toolkit's own step-0 rule agrees with lesson 02's reference on every sick and treated set-up."""
    for name in clinic.CASES:
        for model in (clinic.sick_model(name), TREATMENTS[name]()):
            norms = clinic.start_gradient_norms(model, name)
            assert (clinic.start_health(norms) == "healthy") == (diagnose(norms) == "healthy")
    for norms in ([1.0, 2.0], [1e-4, 1.0], [1.0, 1e-4], [float("nan"), 1.0], [150.0, 100.0], [0.0, 1.0]):
        assert clinic.start_health(norms).split(":")[0] == diagnose(norms), norms


def test_visible_check_passes_the_reference_and_fails_the_sick_set_up_without_training():
    check("treat_case_d", l11.treat_case_d, "basic")
    with pytest.raises(CheckFailed, match="vanishing"):
        check("treat_case_d", lambda: clinic.sick_model("d"), "basic")
