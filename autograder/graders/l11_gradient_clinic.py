"""Lesson 11, the gradient clinic: the judges of the diagnoses and the treatments.

The references are the solution notebook's cells (:mod:`autograder.solution`): its diagnoses and
its treatments.

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
layer that shortens the gap), asks lesson 02's ``diagnose`` (the solution's: the grader's
reference for that exercise) about the per-kernel gradient norms at the start of training (and
the monitor's tiny-everywhere flag, which a ratio cannot see), then trains it with the case's
data, epochs, batch size and a fixed seed and requires the case's validation accuracy.

The toolkit functions the judge uses (:func:`gradclinic.clinic.task_problem`,
:func:`~gradclinic.clinic.start_gradient_norms`, :func:`~gradclinic.clinic.start_health`,
:func:`~gradclinic.clinic.train_case`) are the ones the learner's trial run uses, so that the
trial run with the random seed at 0 is the grader's run. On the sandboxed path they run here, in
the grader's process, on a model rebuilt from the learner's data: nothing the learner's kernel
does (it runs in another process, with the toolkit mounted read-only) reaches their state
(``clinic.CASES``, the cached case data, ``clinic._TRIAL_RUNS``, which only a trial run in the
same process fills). In a kernel (``SandboxedExecute.in_kernel``, for trusted notebooks only) the
learner's notebook shares that state.

Each exercise lists the catalogue's mistake as its mutant (data for the tests and the catalogue).
None is ever named to a learner: a diagnosis's mutant would say the clinic's finding, which the
judge keeps to itself, and a treatment is judged by what its model does, not by its source.
"""

import math

from autograder.exercise import Case, CheckFailed, Exercise, rebuilt_model, short
from autograder.registry import register
from autograder.solution import Mutant, solution_function

# -- diagnoses ---------------------------------------------------------------------------------
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


class _Diagnosis(Exercise):
    case_name = None
    names_mistakes = False  # its mutant would say the clinic's finding (see the module's docstring)

    def basic_cases(self):
        """The toolkit's probe says whether the illness is the clinic's (and the answer well formed)."""
        return [Case(probe=f"gradclinic.clinic.diagnosis_state_{self.case_name}",
                     hint="return (illness, cause), one of ILLNESSES and one of CAUSES, as the examination "
                          "above shows them; read its numbers, not only a verdict at step 0.")]

    def hidden_cases(self):
        return [Case(f"case {self.case_name}'s illness and its cause")]

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


# The catalogue's mistakes (tests/mistakes.py), as mutants of the solution's answers.
DIAGNOSIS_MISTAKES = {
    "a": Mutant("the first/last ratio read upside down: the first kernel's gradient is 10⁻⁶ of the last's, which "
                "is vanishing", {'return "vanishing", "activation"': 'return "exploding", "activation"'}),
    "b": Mutant("trusted the step-0 profile, though the training loss turned to NaN within the first epoch",
                {'return "exploding", "learning rate"': 'return "healthy", "learning rate"'}),
    "c": Mutant("trusted the kernel-norm ratio, though the accuracy stays at chance: vanishing through time "
                "hides from kernel norms", {'return "vanishing", "time steps"': 'return "healthy", "time steps"'}),
    "d": Mutant("read the first/last ratio only (≈ 2.5, inside the thresholds), not the norms' size: every one "
                "is ~1e-26", {'return "vanishing", "initialization"': 'return "healthy", "initialization"'}),
}

for _case in "abcd":  # one graded diagnosis per case: diagnosis_case_a … _d
    register(type(f"DiagnosisCase{_case.upper()}", (_Diagnosis,), {
        "name": f"diagnosis_case_{_case}", "case_name": _case, "mistakes": (DIAGNOSIS_MISTAKES[_case],)}))


# -- treatments --------------------------------------------------------------------------------


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
    verdict = solution_function("02_causes_and_detection", "diagnose")(norms)
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
    names_mistakes = False  # judged by what its model does, not by its source

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

    def judge(self, case, got, expected):
        if case.probe:
            from gradclinic.clinic import treatment_state

            state = treatment_state(_rebuild(self.name, case.label, got), self.case_name)
            if state != "ready to train":
                raise CheckFailed(f"{self.name}({case.label}): {state}")
            return
        judge_treatment(self.name, self.case_name, got, case.label)


# The catalogue's mistakes (tests/mistakes.py), as mutants of the solution's treatments. (The
# reference's model is what the visible check's expected state comes from; the hidden target is
# the case's.)
TREATMENT_MISTAKES = {
    "a": Mutant("keeps the sickness: Adam instead of SGD, but the deep sigmoid stack still vanishes at step 0",
                {'keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal") for _ in range(10)':
                 'keras.layers.Dense(64, activation="sigmoid") for _ in range(10)'}),
    "b": Mutant("changes the task: 2 hidden layers instead of the case's 8 (a shorter path, not a cure)",
                {"for _ in range(8)": "for _ in range(2)",
                 "SGD(learning_rate=0.05, clipnorm=1.0),\n                  loss=":
                 "SGD(learning_rate=0.05), loss="}),
    "c": Mutant("changes the task: the SimpleRNN reads backwards, which shortens the gap instead of carrying the "
                "subject across it",
                {"keras.layers.LSTM(16)": "keras.layers.SimpleRNN(16, go_backwards=True)",
                 "Adam(learning_rate=0.01, clipnorm=1.0)": "Adam(learning_rate=0.02)"}),
    "d": Mutant("keeps the sickness: Adam, but the tiny N(0, 0.01²) weights still leave every kernel's gradient "
                "~1e-26 at step 0 (vanished everywhere)",
                {"    layers = [keras.Input((64,))]\n":
                 "    tiny = keras.initializers.RandomNormal(stddev=0.01)\n    layers = [keras.Input((64,))]\n",
                 'activation="relu", kernel_initializer="he_normal") for _ in range(20)':
                 'activation="relu", kernel_initializer=tiny) for _ in range(20)',
                 'keras.layers.Dense(10, activation="softmax")': 'keras.layers.Dense(10, activation="softmax", '
                                                                 'kernel_initializer=tiny)'}),
}

for _case in "abcd":  # one graded treatment per case: treat_case_a … _d
    register(type(f"TreatCase{_case.upper()}", (_Treatment,), {
        "name": f"treat_case_{_case}", "case_name": _case, "mistakes": (TREATMENT_MISTAKES[_case],)}))
