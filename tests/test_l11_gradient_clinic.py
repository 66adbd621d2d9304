"""Lesson 11, the gradient clinic: the solution's treatments (the references) pass with a margin, the sick set-ups and
the treatments that change the task fail with the right message, other sensible cures are judged
fairly, diagnoses are graded without the toolkit printing them, case d's norms do not underflow,
and grading is deterministic (the notebook's trial run at seed 0 is the grader's run)."""

import functools

import numpy as np
import pytest

import gradclinic
from autograder import check, harness
from autograder.exercise import CheckFailed
from autograder.graders import l11_gradient_clinic as l11
from autograder.solution import solution_function
from gradclinic import clinic
from gradclinic.diagnostics import TINY_GRADIENT, uniformly_tiny

SLUG = "11_gradient_clinic"
diagnose = solution_function("02_causes_and_detection", "diagnose")  # the judge's, lesson 02's solution
TREATMENTS = {name: solution_function(SLUG, f"treat_case_{name}") for name in "abcd"}
DIAGNOSES = {name: solution_function(SLUG, f"diagnosis_case_{name}")() for name in "abcd"}
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
    assert clinic.CASES["c"]["vocabulary"] == int(clinic.case_data("c")[0].max()) + 1  # what the file prints
    assert not any(hasattr(clinic, f"treat_case_{name}") for name in clinic.CASES)  # no answers in the package
    assert not any(hasattr(clinic, f"diagnosis_case_{name}") for name in clinic.CASES)


def test_sick_set_ups_at_step_zero():
    """What the notebook's examination shows: lesson 02's ratio rule sees case a vanish and calls b, c
    and d healthy; case d's gradient is tiny everywhere, which only the monitor's flag sees."""
    norms = {name: clinic.start_gradient_norms(clinic.sick_model(name), name) for name in clinic.CASES}
    assert {name: diagnose(n) for name, n in norms.items()} == {"a": "vanishing", "b": "healthy", "c": "healthy",
                                                                "d": "healthy"}
    assert {name for name, n in norms.items() if uniformly_tiny(n)} == {"d"}
    assert clinic.start_health(norms["d"]).startswith("vanishing everywhere")


def test_case_d_is_uniformly_tiny_not_a_profile_that_shrinks_toward_the_input():
    """The correction: case d's kernel gradients are ~1e-26 in every layer, first/last ratio ≈ 2.5 (so
    last/first ≈ 0.4), and a float32 sum of squares reads them as 0 (their squares underflow)."""
    model = clinic.sick_model("d")
    norms = np.array(clinic.start_gradient_norms(model, "d"))
    assert np.all((norms > 1e-28) & (norms < 1e-24))
    assert 1.5 < norms[0] / norms[-1] < 4
    first = clinic.start_gradients(model, "d")[0]
    assert first.dtype == np.float32 and np.sqrt(np.sum(first * first, dtype=np.float32)) == 0.0
    assert np.isclose(np.linalg.norm(first.astype(np.float64)), norms[0], rtol=1e-12)
    scales = clinic.activation_scales(model, "d")  # the forward signal shrinks ~0.05 per layer
    per_layer = (scales[-1] / scales[0]) ** (1 / (len(scales) - 1))
    assert 0.03 < per_layer < 0.08


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
    again = l11.judge_treatment("treat_case_b", "b", as_data(TREATMENTS["b"]()), "case b")
    assert again["accuracy"] == first["accuracy"] and again["loss"] == first["loss"]


def test_reference_passes_through_check():
    check("treat_case_b", TREATMENTS["b"])


def test_the_judge_asks_lesson_02s_solution_and_holds_no_copy_of_diagnose():
    import inspect

    assert "def diagnose" not in inspect.getsource(l11) and not hasattr(l11, "diagnose")
    assert diagnose([1.0, 1e-5]) == "exploding"
    with pytest.raises(ValueError, match="never negative"):  # the check a copy once lost
        diagnose([1.0, -1.0])


# -- the sick set-ups fail their own case, each for its reason -----------------------------------
def test_vanishing_sick_set_ups_fail_at_step_zero():
    assert "at the start of training lesson 02's diagnose says 'vanishing'" in verdict_of(clinic.sick_model("a"), "a")
    message = verdict_of(clinic.sick_model("d"), "d")
    assert "at the start of training the gradient is vanishing everywhere" in message
    assert f"below {TINY_GRADIENT:g}" in message


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


def test_the_clinics_health_terms_are_lesson_02s_diagnose_plus_the_tiny_flag():
    """The toolkit's own step-0 rule is lesson 02's reference, and also refuses a gradient tiny everywhere."""
    for name in clinic.CASES:
        for model in (clinic.sick_model(name), TREATMENTS[name]()):
            norms = clinic.start_gradient_norms(model, name)
            healthy = diagnose(norms) == "healthy" and not uniformly_tiny(norms)
            assert (clinic.start_health(norms) == "healthy") == healthy
    for norms in ([1.0, 2.0], [1e-4, 1.0], [1.0, 1e-4], [float("nan"), 1.0], [150.0, 100.0], [0.0, 1.0]):
        assert clinic.start_health(norms).split(":")[0] == diagnose(norms), norms
    assert clinic.start_health([1e-26, 4e-27]).startswith("vanishing everywhere")
    assert diagnose([1e-26, 4e-27]) == "healthy"  # the blind spot the flag covers


def test_visible_check_passes_the_reference_and_fails_the_sick_set_up_without_training():
    check("treat_case_d", TREATMENTS["d"], "basic")
    with pytest.raises(CheckFailed, match="vanishing"):
        check("treat_case_d", lambda: clinic.sick_model("d"), "basic")


# -- diagnoses ---------------------------------------------------------------------------------
def diagnosis_failures(name, answer, part="hidden"):
    from autograder.registry import exercise, run_in_process

    return run_in_process(exercise(f"diagnosis_case_{name}"), named(lambda: answer, f"diagnosis_case_{name}"), part)[0]


def named(function, name):
    function.__name__ = name
    return function


@pytest.mark.parametrize("name", sorted(clinic.CASES))
def test_reference_diagnoses_pass_both_checks(name):
    for part in ("basic", "hidden"):
        check(f"diagnosis_case_{name}", solution_function(SLUG, f"diagnosis_case_{name}"), part)
    assert clinic.diagnosis_state(DIAGNOSES[name], name) == clinic.DIAGNOSIS_AGREES
    assert DIAGNOSES[name][1] in l11.ACCEPTED_CAUSES[name]


@pytest.mark.parametrize("name", sorted(clinic.CASES))
def test_a_wrong_illness_fails_both_checks_without_naming_the_right_one(name):
    right = DIAGNOSES[name][0]
    for wrong in set(clinic.ILLNESSES) - {right}:
        answer = (wrong, DIAGNOSES[name][1])
        basic, hidden = diagnosis_failures(name, answer, "basic"), diagnosis_failures(name, answer)
        assert basic and hidden
        assert f"the illness {wrong!r} is not what the examination of case {name} shows" in basic[0]
        assert "Look again" in hidden[-1]
        for message in basic + hidden:  # names the wrong illness only: never the right one
            assert repr(right) not in message


@pytest.mark.parametrize("name", sorted(clinic.CASES))
def test_a_wrong_cause_passes_the_self_check_and_fails_the_hidden_test(name):
    illness = DIAGNOSES[name][0]
    for cause in set(clinic.CAUSES) - l11.ACCEPTED_CAUSES[name]:
        assert diagnosis_failures(name, (illness, cause), "basic") == []
        (message,) = diagnosis_failures(name, (illness, cause))
        assert f"{cause!r} is not what makes case {name} sick" in message


@pytest.mark.parametrize("name", sorted(clinic.CASES))
def test_the_catalogues_wrong_diagnosis_fails_without_a_named_cause(name):
    """The catalogue's mistake is the exercise's mutant, but naming it would state the clinic's finding."""
    from autograder.registry import exercise

    judged = exercise(f"diagnosis_case_{name}")
    wrong = judged.mutant(judged.mistakes[0])()
    failures = diagnosis_failures(name, wrong)
    assert failures and wrong[0] != DIAGNOSES[name][0]
    assert not any("Likely cause" in message for message in failures)


def test_both_fair_causes_of_case_a_pass():
    for cause in ("activation", "initialization"):
        assert diagnosis_failures("a", ("vanishing", cause)) == []


@pytest.mark.parametrize("answer, says", [
    ("vanishing", "not a pair of strings"), (("vanishing",), "not a pair of strings"),
    (("Vanishing", "activation"), "is not one of"), (("vanishing", "sigmoid"), "the cause 'sigmoid' is not one of"),
    (("vanishing", 3), "not a pair of strings")])
def test_malformed_diagnoses_are_refused_with_the_lists(answer, says):
    for part in ("basic", "hidden"):
        assert says in diagnosis_failures("a", answer, part)[0]


def test_the_toolkit_does_not_print_the_findings():
    import inspect

    source = inspect.getsource(clinic)
    for name, (illness, cause) in DIAGNOSES.items():
        assert f"{name!r}: {illness!r}" not in source and f'"{name}": "{illness}"' not in source


# -- other sensible cures, judged fairly -------------------------------------------------------
def _compiled(model, optimizer, loss="sparse_categorical_crossentropy"):
    model.compile(optimizer=optimizer, loss=loss)
    return model


def clipping_alone(name):
    """The sick set-up as it arrives, with its step's norm clipped at 1 and nothing else changed."""
    model = clinic.sick_model(name)
    config = model.optimizer.get_config()
    optimizer = type(model.optimizer).from_config({**config, "clipnorm": 1.0})
    return _compiled(model, optimizer, model.loss)


def batch_norm_net(name, activation, initializer="glorot_uniform", momentum=0.99):
    """Dense → BatchNormalization → activation, depth times, then softmax; Adam."""
    k = keras()
    case = clinic.CASES[name]
    k.utils.set_random_seed(0)
    layers = [k.Input((64,))]
    for _ in range(case["depth"]):
        layers += [k.layers.Dense(64, kernel_initializer=initializer), k.layers.BatchNormalization(momentum=momentum),
                   k.layers.Activation(activation)]
    return _compiled(k.Sequential(layers + [k.layers.Dense(10, activation="softmax")]), k.optimizers.Adam(2e-3))


def residual_net(name, activation, initializer="glorot_uniform", learning_rate=2e-3):
    """One Dense to width 64, then depth − 1 residual blocks x + Dense(x), then softmax; Adam."""
    k = keras()
    case = clinic.CASES[name]
    k.utils.set_random_seed(0)
    inputs = k.Input((64,))
    x = k.layers.Dense(64, activation=activation, kernel_initializer=initializer)(inputs)
    for _ in range(case["depth"] - 1):
        x = k.layers.Add()([x, k.layers.Dense(64, activation=activation, kernel_initializer=initializer)(x)])
    outputs = k.layers.Dense(10, activation="softmax")(x)
    return _compiled(k.Model(inputs, outputs), k.optimizers.Adam(learning_rate))


def recurrent_net(cell, learning_rate=0.01, bidirectional=False, clipnorm=None):
    k = keras()
    k.utils.set_random_seed(0)
    embedding = k.layers.Embedding(49, 8, embeddings_initializer=k.initializers.RandomNormal(stddev=1.0))
    layer = getattr(k.layers, cell)(16)
    if bidirectional:
        layer = k.layers.Bidirectional(layer)
    model = k.Sequential([k.Input((26,), dtype="int32"), embedding, layer, k.layers.Dense(1, activation="sigmoid")])
    return _compiled(model, k.optimizers.Adam(learning_rate, clipnorm=clipnorm), "binary_crossentropy")


def fair_verdict(model, name, monkeypatch):
    """The judge's message, checked against what training really gave: a pass is a model that keeps
    the task, starts healthy and reached the target in the judge's own training run (watched, not
    run again); a refusal says why, in one of the judge's terms."""
    trained = []

    def watched(*args, train_case=clinic.train_case, **kwargs):
        trained.append(train_case(*args, **kwargs))
        return trained[-1]

    monkeypatch.setattr(clinic, "train_case", watched)
    message = verdict_of(model, name)
    if message is None:
        [(accuracy, _)] = trained  # the judge trained the model once, and passed it on this accuracy
        assert accuracy >= clinic.CASES[name]["target"]
    else:
        assert any(reason in message for reason in ("changes the task", "at the start of training",
                                                    "training diverged", "below the case's target")), message
    return message


TINY = "random_normal"  # Keras's RandomNormal: stddev 0.05, small but not case d's 0.01
# (case, builder, expected: None = passes, else a phrase of the refusal or a tuple of phrases, one
# of which it holds). Measured outcomes: each refusal below is what training really gives
# (fair_verdict checks every pass against the judge's own training run).
ALTERNATIVES = {
    "a: batch norm between Dense and sigmoid": ("a", lambda: batch_norm_net("a", "sigmoid"), None),
    "a: residual sigmoid net": ("a", lambda: residual_net("a", "sigmoid"), None),
    "a: clipping alone": ("a", lambda: clipping_alone("a"), "diagnose says 'vanishing'"),
    # clipping stops the NaN, but at step 0.5 the net does not learn in 15 epochs (accuracy ~0.3)
    "b: clipping alone, step 0.5 kept": ("b", lambda: clipping_alone("b"), "below the case's target"),
    "b: batch norm in the linear net": ("b", lambda: batch_norm_net("b", "linear"), None),
    # a GRU at Adam(0.01) learns the gap from these initial weights (not from every draw: the
    # notebook's trial run shows a treatment's spread over seeds)
    "c: GRU": ("c", lambda: recurrent_net("GRU"), None),
    "c: GRU, step clipped": ("c", lambda: recurrent_net("GRU", clipnorm=1.0), None),
    "c: clipping alone": ("c", lambda: clipping_alone("c"), "below the case's target"),
    "c: bidirectional LSTM": ("c", lambda: recurrent_net("LSTM", bidirectional=True), "Bidirectional"),
    # moving statistics with momentum 0.99 lag far behind activations ~1e-20 in scale: training
    # loss falls, inference accuracy stays far below the target (near chance or not, by the machine's
    # floating point: the judge names the train/inference gap only near chance); momentum 0.9
    # catches up within the epochs
    "d: batch norm, tiny weights kept": ("d", lambda: batch_norm_net("d", "relu", TINY),
                                         ("differs from training", "below the case's target")),
    "d: batch norm, tiny weights, momentum 0.9": ("d", lambda: batch_norm_net("d", "relu", TINY, 0.9), None),
    "d: residual ReLU net, small weights": ("d", lambda: residual_net("d", "relu", TINY), None),
    # He weights on both paths of every block double the variance per block: 2¹⁹ over 19 blocks
    "d: residual ReLU net, He weights": ("d", lambda: residual_net("d", "relu", "he_normal", 1e-3),
                                         "diagnose says 'exploding'"),
    "d: clipping alone": ("d", lambda: clipping_alone("d"), "vanishing everywhere"),
}


@pytest.mark.slow
@pytest.mark.parametrize("label", sorted(ALTERNATIVES))
def test_other_sensible_cures_are_judged_fairly(label, monkeypatch):
    name, build, expected = ALTERNATIVES[label]
    message = fair_verdict(build(), name, monkeypatch)
    if expected is None:
        assert message is None, message
    else:
        phrases = (expected,) if isinstance(expected, str) else expected
        assert message is not None and any(phrase in message for phrase in phrases), message


def test_a_different_output_or_input_is_refused_with_its_reason():
    k = keras()
    one_output = _compiled(k.Sequential([k.Input((64,))] + [k.layers.Dense(64, activation="relu") for _ in range(10)]
                                        + [k.layers.Dense(1, activation="sigmoid")]), "adam", "binary_crossentropy")
    assert "its output has shape (None, 1); case a has 10 classes" in verdict_of(one_output, "a")
    image = _compiled(k.Sequential([k.Input((8, 8)), k.layers.Flatten()] + [k.layers.Dense(64, activation="relu")
                                                                           for _ in range(20)]
                                   + [k.layers.Dense(10, activation="softmax")]), "adam")
    message = verdict_of(image, "d")
    assert "changes the task" in message and "(None, 8, 8)" in message


# -- the notebook's trial run is the grader's run ------------------------------------------------
@pytest.mark.slow
def test_trial_run_at_seed_0_is_the_graders_run(capsys):
    """The seeds train through one compiled copy, one after another: seed 0 after seed 1 is still
    the judge's run, and seed 1 what a compiled model of its own gives."""
    expected = reference_result("b")["accuracy"]  # the judge's own training, before any trial run
    clinic._TRIAL_RUNS.clear()
    results = clinic.trial_run(TREATMENTS["b"], "b", seeds=(1, 0))
    assert results[0] == expected
    assert "seed=0 (the grader's run)" in capsys.readouterr().out
    model = TREATMENTS["b"]()
    own = clinic._fresh_weights(model, 1)
    own.compile_from_config(model.get_compile_config())
    assert results[1] == clinic.train_case(own, "b", seed=1)[0]


def test_trial_run_refuses_to_train_a_model_that_changes_the_task(capsys):
    assert clinic.trial_run(lambda: dense_net("b", depth=2), "b") is None
    assert "changes the task" in capsys.readouterr().out


def test_patient_file_shows_what_must_be_treated():
    text = {name: clinic.describe_patient(name) for name in clinic.CASES}
    assert "10 × Dense(64 units, activation sigmoid, kernel GlorotUniform())" in text["a"]
    assert "SGD(learning_rate=0.5" in text["b"] and "linear" in text["b"]
    assert "vocabulary 49" in text["c"] and "SimpleRNN(16 units" in text["c"] and "Adam(learning_rate=0.02" in text["c"]
    assert "RandomNormal(mean=0, stddev=0.01)" in text["d"] and "20 × Dense" in text["d"]
    for name, body in text.items():
        assert f"{clinic.CASES[name]['epochs']} epochs, batch {clinic.CASES[name]['batch_size']}" in body


def test_examination_prints_evidence_not_a_verdict():
    text = str(clinic.examine("d", train=False))
    assert "tiny everywhere" in text and "diagnose" not in text
    assert "your diagnose says 'healthy'" in str(clinic.examine("d", train=False, diagnose=diagnose))
