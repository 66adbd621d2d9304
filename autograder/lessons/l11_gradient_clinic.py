"""Lesson 11, the gradient clinic: references (the diagnoses and the treatments) and the judges.

Each ``diagnosis_case_<x>()`` returns the learner's diagnosis of one case, a pair (illness, cause)
from :data:`gradclinic.clinic.ILLNESSES` and :data:`gradclinic.clinic.CAUSES`. Its visible
self-check (and the grader's score for it) asks the toolkit's
:func:`gradclinic.clinic.diagnosis_state` whether the illness is the clinic's; the hidden test
also judges the cause, against :data:`ACCEPTED_CAUSES`, which only the grader holds.

Each ``treat_case_<x>()`` returns a compiled Keras model for one of the four sick set-ups of
:mod:`gradclinic.clinic`. Its visible self-check (and the grader's score for it) asks the
toolkit's :func:`gradclinic.clinic.treatment_state` whether the model is ready to train, without
training; the hidden test does what follows. The learner's model crosses as data (JSON
architecture, initial weights, compile settings); the judge rebuilds it here, refuses a model that
changes the task (fewer hidden layers than the case, another input shape or number of classes, a
layer that shortens the gap), asks lesson 02's reference ``diagnose`` about the per-kernel
gradient norms at the start of training (and the monitor's tiny-everywhere flag, which a ratio
cannot see), then trains it with the case's data, epochs, batch size
and a fixed seed and requires the case's validation accuracy.
"""

import math

from autograder.exercise import Case, CheckFailed, Exercise, rebuilt_model, short
from autograder.lessons.l02_causes_and_detection import diagnose
from autograder.registry import register

# -- diagnoses ---------------------------------------------------------------------------------
DIAGNOSES = {"a": ("vanishing", "activation"), "b": ("exploding", "learning rate"),
             "c": ("vanishing", "time steps"), "d": ("vanishing", "initialization")}
# Case a has two fair causes: the sigmoid's slope (≤ ¼) and weights sized for a slope of 1;
# Glorot & Bengio (2010) themselves scale sigmoid weights up by 4, and ReLU with He fixes both.
ACCEPTED_CAUSES = {"a": {"activation", "initialization"}, "b": {"learning rate"}, "c": {"time steps"},
                   "d": {"initialization"}}
# What a wrong illness or cause most likely missed, said without naming the answer's cure.
ILLNESS_ADVICE = {
    "a": "compare the first kernel's gradient norm with the last's at step 0: how many orders of magnitude, "
         "and in which direction?",
    "b": "the profile at step 0 is only the start: what did the training loss and the NaN/inf alarm do "
         "after a few steps?",
    "c": "the kernel norms look fine, but the accuracy stays at chance: where in the sentence is the "
         "information the answer needs, and how far must its gradient travel?",
    "d": "a first/last ratio near 1 says the layers agree with each other, not that the gradient is usable: "
         "read the norms' size, and the monitor's tiny-everywhere flag.",
}
CAUSE_ADVICE = {
    "a": "which property of this net's layers multiplies the backward signal by at most ¼ per layer?",
    "b": "the layers are linear and start healthy; what grows the weights from one step to the next?",
    "c": "tanh is in every SimpleRNN, yet a short gap trains: what does this case make long?",
    "d": "ReLU passes a slope of 1 where it is active; what else sets how much each layer scales the "
         "signal, forward and backward?",
}


def diagnosis_case_a():
    """Case a: the first layer's gradient is ~10⁻⁶ of the last's at step 0 (sigmoid slopes ≤ ¼)."""
    return DIAGNOSES["a"]


def diagnosis_case_b():
    """Case b: healthy at step 0, then NaN within a few steps: the step size grows the weights."""
    return DIAGNOSES["b"]


def diagnosis_case_c():
    """Case c: kernel norms fine, accuracy at chance: the subject's gradient vanishes through time."""
    return DIAGNOSES["c"]


def diagnosis_case_d():
    """Case d: every kernel-gradient norm ~1e-26: vanished everywhere, from weights 0.01 in scale."""
    return DIAGNOSES["d"]


class _Diagnosis(Exercise):
    case_name = None

    def basic_cases(self):
        """The toolkit's probe says whether the illness is the clinic's (and the answer well formed)."""
        return [Case(probe=f"gradclinic.clinic.diagnosis_state_{self.case_name}",
                     hint="return (illness, cause), one of ILLNESSES and one of CAUSES, as the examination "
                          "above shows them; read its numbers, not only a verdict at step 0.")]

    def hidden_cases(self):
        return [Case(f"case {self.case_name}'s illness and its cause")]

    def reference(self):
        return DIAGNOSES[self.case_name]

    def judge(self, case, got, expected):
        from gradclinic.clinic import DIAGNOSIS_AGREES, diagnosis_state

        where = f"{self.name}({case.label})"
        state = diagnosis_state(got, self.case_name)
        if case.probe:
            if state != DIAGNOSIS_AGREES:
                raise CheckFailed(f"{where}: {state}")
            return
        if state != DIAGNOSIS_AGREES:
            if state.startswith("the illness") and state.endswith("shows"):
                raise CheckFailed(f"{where}: {state}. Look again: {ILLNESS_ADVICE[self.case_name]}")
            raise CheckFailed(f"{where}: {state}")
        if got[1] not in ACCEPTED_CAUSES[self.case_name]:
            raise CheckFailed(f"{where}: the illness is right, but {got[1]!r} is not what makes case "
                              f"{self.case_name} sick. Ask: {CAUSE_ADVICE[self.case_name]}")


for _case in "abcd":  # one graded diagnosis per case: diagnosis_case_a … _d
    register(type(f"DiagnosisCase{_case.upper()}", (_Diagnosis,), {"name": f"diagnosis_case_{_case}", "case_name": _case}))


# -- treatments --------------------------------------------------------------------------------


def _dense_stack(name, activation, initializer, optimizer):
    import keras

    from gradclinic.clinic import CASES

    case = CASES[name]
    keras.utils.set_random_seed(0)
    layers = [keras.Input(case["input_shape"])]
    layers += [keras.layers.Dense(case["width"], activation=activation, kernel_initializer=initializer)
               for _ in range(case["depth"])]
    layers.append(keras.layers.Dense(case["classes"], activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def treat_case_a():
    """Vanishing sigmoid stack → ReLU with He initialisation (and Adam)."""
    import keras

    return _dense_stack("a", "relu", "he_normal", keras.optimizers.Adam(learning_rate=2e-3))


def treat_case_b():
    """Exploding linear net under a large step → a smaller step, with the gradient norm clipped."""
    import keras

    return _dense_stack("b", "linear", "glorot_uniform", keras.optimizers.SGD(learning_rate=0.05, clipnorm=1.0))


def treat_case_c():
    """SimpleRNN over a long gap → an LSTM (gated path through time), same embedding and width, with
    the step's norm clipped (without clipping one seed in five missed the target)."""
    import keras

    from gradclinic.clinic import CASES

    case = CASES["c"]
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(case["input_shape"], dtype="int32"),
        keras.layers.Embedding(case["vocabulary"], 8, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0)),
        keras.layers.LSTM(case["width"]),
        keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01, clipnorm=1.0), loss="binary_crossentropy")
    return model


def treat_case_d():
    """Tiny initial weights → He initialisation, which keeps every layer's signal at scale."""
    import keras

    return _dense_stack("d", "relu", "he_normal", keras.optimizers.Adam(learning_rate=2e-3))


def _rebuild(exercise_name, label, got):
    from autograder.harness import ModelData

    if not isinstance(got, ModelData):
        raise CheckFailed(f"{exercise_name}({label}) returned {short(got)}; return the compiled Keras model "
                          "itself.")
    if got.compile is None:
        raise CheckFailed(f"{exercise_name}({label}): the model is not compiled. Call model.compile(optimizer=…, "
                          "loss=…) before returning it: the optimizer is part of the treatment.")
    if not isinstance(got.compile, dict) or got.compile.get("loss") is None:
        raise CheckFailed(f"{exercise_name}({label}): the model was compiled without a loss; pass loss=… "
                          "(e.g. 'sparse_categorical_crossentropy') to compile.")
    return rebuilt_model(got, f"{exercise_name}({label})",
                         "Use Keras's built-in layers, activations and optimizers by name.")


def judge_treatment(exercise_name, case_name, got, label):
    """Raise :class:`CheckFailed` unless ``got`` treats case ``case_name``; return what was measured."""
    from gradclinic.clinic import CASES, start_gradient_norms, start_health, task_problem, train_case

    case = CASES[case_name]
    model = _rebuild(exercise_name, label, got)
    problem = task_problem(model, case_name)
    if problem:
        raise CheckFailed(f"{exercise_name}({label}): this changes the task instead of treating it: {problem}")
    norms = start_gradient_norms(model, case_name)
    verdict = diagnose(norms)
    if verdict != "healthy":
        if norms[0] == 0:
            seen = "no gradient reaches the first layer: its norm is exactly 0"
        else:
            ratio = norms[0] / norms[-1] if norms[-1] else math.inf
            seen = f"first/last kernel-gradient ratio {ratio:.3g}, largest norm {max(norms):.3g}"
        raise CheckFailed(f"{exercise_name}({label}): at the start of training lesson 02's diagnose says "
                          f"{verdict!r} ({seen}); the treatment must make the gradient healthy from step 0, "
                          "before any training can hide it.")
    health = start_health(norms)
    if health != "healthy":  # what the ratio rule cannot see: a gradient tiny in every layer
        raise CheckFailed(f"{exercise_name}({label}): at the start of training the gradient is {health}; the "
                          "treatment must give every layer a gradient it can learn from.")
    accuracy, loss = train_case(model, case_name)
    if not (math.isfinite(loss) and math.isfinite(accuracy)):
        raise CheckFailed(f"{exercise_name}({label}): training diverged: the loss became {loss} within "
                          f"{case['epochs']} epochs. The updates blew up: a smaller learning rate or "
                          "gradient clipping (clipnorm=…) keeps each step bounded.")
    if accuracy < case["target"]:
        learned = loss < 0.5 * math.log(case["classes"]) and accuracy < 1.5 / case["classes"]
        why = (" The training loss fell but the validation accuracy is near chance: the model at inference "
               "differs from training (batch normalisation's moving statistics, lesson 09, or dropout)."
               if learned else "")
        raise CheckFailed(f"{exercise_name}({label}): validation accuracy {accuracy:.3f} after {case['epochs']} "
                          f"epochs, below the case's target {case['target']:.2f} (final training loss "
                          f"{loss:.3g}); the gradient starts healthy, but this model does not learn the task "
                          f"in time.{why}")
    return {"accuracy": accuracy, "loss": loss, "norms": norms}


class _Treatment(Exercise):
    case_name = None

    def basic_cases(self):
        """No training: the toolkit's probe says whether the model is ready to train (compiled with
        a loss, the case's task kept, the gradient healthy at step 0 by the clinic's terms)."""
        return [Case(probe=f"gradclinic.clinic.treatment_state_{self.case_name}",
                     hint="return a compiled Keras model that keeps the case's task (input, classes, depth, "
                          "width) and starts with a healthy gradient: treat the cause (activation, "
                          "initialisation, step size, cell), not the task.")]

    def hidden_cases(self):
        from gradclinic.clinic import CASES

        case = CASES[self.case_name]
        return [Case(f"case {self.case_name}, {case['title']}: validation accuracy ≥ {case['target']:.2f} "
                     f"in {case['epochs']} epochs")]  # the grader trains the model once

    def reference(self):
        # The visible check expects the reference treatment's state; the hidden target is the case's.
        return {"a": treat_case_a, "b": treat_case_b, "c": treat_case_c, "d": treat_case_d}[self.case_name]()

    def judge(self, case, got, expected):
        if case.probe:
            from gradclinic.clinic import treatment_state

            state = treatment_state(_rebuild(self.name, case.label, got), self.case_name)
            if state != "ready to train":
                raise CheckFailed(f"{self.name}({case.label}): {state}")
            return
        judge_treatment(self.name, self.case_name, got, case.label)


for _case in "abcd":  # one graded treatment per case: treat_case_a … _d
    register(type(f"TreatCase{_case.upper()}", (_Treatment,), {"name": f"treat_case_{_case}", "case_name": _case}))
