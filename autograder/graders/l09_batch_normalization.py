"""Lesson 09, Batch Normalization: ``batchnorm_forward``, judged against Keras's own layer.

The reference is the lesson's solution cell, which computes what
``keras.layers.BatchNormalization`` (default ``axis=-1``) computes in one call, in float64 NumPy:
the features are the last axis and their statistics are taken over every other axis (axis 0 for
a (batch, features) array; batch, height and width for a (batch, height, width, channels) one).
In training mode it normalises with the batch's mean and *biased* variance and returns
moving = moving·momentum + batch·(1 − momentum); in inference mode it normalises with the moving
statistics and returns them unchanged. The course's tests check it against real Keras layers
over several steps.

The judges recognise the mistakes people really bring (:data:`MISTAKES`, :class:`Mutant` s of
the solution cell): PyTorch's conventions (unbiased variance for the running average,
``momentum`` weighting the *new* batch), ε outside the square root or missing, statistics over
the wrong axis, batch statistics (or updates) at inference, and a forgotten or swapped γ/β; each
failure names its misconception.

A wrong answer that matches none of them is still located: the *isolating* cases (label
``"isolating <quantity>: …"``) each check one quantity of the computation, read from the outputs
where the inputs make it visible — a batch of identical examples shows the moving-average update
alone (its mean is that example, its variance 0, however computed); with momentum = 0.5 the moving statistics are (moving +
batch)/2 whichever way momentum is read, so they show the batch mean and variance; with γ = 1 and
β = 0, y is x̂. The first isolating case that fails, in the order of the computation (batch mean,
update, batch mean, batch variance, x̂, scale and shift, inference), leads the report and says
which quantity first differs.
"""


import numpy as np

from autograder.exercise import MUTATION_KIND, Case, CheckFailed, Exercise, allclose, as_float_array, fail
from autograder.registry import register
from autograder.solution import Mutant

RTOL, ATOL = 1e-4, 1e-6  # a learner computing in float32 stays well inside these
PARTS = ("y", "new_moving_mean", "new_moving_var")


# -- the mistakes people really bring: Mutants of the solution cell --------------------------
TRAINING_UPDATE = ("new_mean = moving_mean * momentum + mean * (1 - momentum)\n"
                   "        new_var = moving_var * momentum + var * (1 - momentum)")
NORMALISED = "np.sqrt(var + epsilon)"
Y = "y = gamma * (x - mean) / np.sqrt(var + epsilon) + beta"


def _statistics_over(axes):
    """The edits that take the training statistics over ``axes`` instead of every axis but the last:
    kept as dimensions so that they broadcast against x, and averaged into the moving statistics
    only when they hold one value per feature (a wrong axis gives statistics that cannot be)."""
    return {"axes = tuple(range(x.ndim - 1))": f"axes = {axes}",
            "mean, var = x.mean(axis=axes), x.var(axis=axes)":
                "mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)",
            TRAINING_UPDATE: "new_mean, new_var = moving_mean.copy(), moving_var.copy()\n"
                             "        if mean.size == x.shape[-1]:\n"
                             "            new_mean = moving_mean * momentum + mean.reshape(-1) * (1 - momentum)\n"
                             "            new_var = moving_var * momentum + var.reshape(-1) * (1 - momentum)"}


# The misconceptions, in the order they are tried (the catalogue's first), each with the hint a
# learner reads.
MISTAKES = (
    Mutant("in inference mode (training=False) the output must use moving_mean and moving_var, not the batch's "
           "own statistics: a prediction must not depend on which other examples share its batch.",
           {"mean, var = moving_mean, moving_var\n":
            "mean, var = x.mean(axis=tuple(range(x.ndim - 1))), x.var(axis=tuple(range(x.ndim - 1)))\n"}),
    Mutant("moving_var was averaged with the unbiased variance (n − 1), as PyTorch's running_var is. Keras "
           "averages the same biased variance it normalises with.",
           {"new_var = moving_var * momentum + var * (1 - momentum)":
            "new_var = moving_var * momentum + x.var(axis=axes, ddof=1) * (1 - momentum)"}),
    Mutant("the unbiased variance (ddof=1, divide by n − 1). Keras normalises with the biased batch variance, "
           "np.var(x, axis=0) (divide by n), and averages that same variance into moving_var.",
           {"x.var(axis=axes)": "x.var(axis=axes, ddof=1)"}),
    Mutant("momentum applied the wrong way round: moving·(1 − m) + batch·m is PyTorch's convention (its "
           "momentum=0.1 weights the new batch). Keras keeps momentum of the old value: moving·m + batch·(1 − m), "
           "m = 0.99 by default.",
           {TRAINING_UPDATE: "new_mean = moving_mean * (1 - momentum) + mean * momentum\n"
                             "        new_var = moving_var * (1 - momentum) + var * momentum"}),
    Mutant("ε added outside the square root, (x − μ)/(√σ² + ε). Keras divides by √(σ² + ε).",
           {NORMALISED: "(np.sqrt(var) + epsilon)"}),
    Mutant("ε is missing: divide by √(σ² + ε), which also keeps a constant feature finite.",
           {NORMALISED: "np.sqrt(var)"}),
    Mutant("divided by the variance, not the standard deviation: (x − μ)/√(σ² + ε).",
           {NORMALISED: "(var + epsilon)"}),
    Mutant("statistics taken over the feature axis (each example normalised by itself, which is Layer "
           "Normalization). Batch Normalization averages each feature over the batch: axis 0 for (batch, "
           "features), every axis but the last in general.", _statistics_over("(x.ndim - 1,)")),
    Mutant("statistics over axis 0 only. For x of shape (batch, …, features) Keras's default axis=-1 normalises "
           "each feature over every other axis (batch, height, width for images).", _statistics_over("(0,)")),
    Mutant("training=False was ignored: in inference mode the output uses moving_mean and moving_var, and they "
           "come back unchanged (no batch statistics, no update).", {"if training:": "if True:"}),
    Mutant("the moving statistics changed in inference mode. With training=False Keras returns them unchanged: "
           "only training steps update them.",
           {"new_mean, new_var = moving_mean.copy(), moving_var.copy()":
            "new_mean = moving_mean * momentum + x.mean(axis=tuple(range(x.ndim - 1))) * (1 - momentum)\n"
            "        new_var = moving_var * momentum + x.var(axis=tuple(range(x.ndim - 1))) * (1 - momentum)"}),
    Mutant("in training mode y is normalised with the batch's own mean and variance, not the moving statistics "
           "(those are for inference).",
           {TRAINING_UPDATE: TRAINING_UPDATE + "\n        mean, var = moving_mean, moving_var"}),
    Mutant("in training mode y is normalised with the batch's statistics, not with the moving statistics just "
           "updated.", {TRAINING_UPDATE: TRAINING_UPDATE + "\n        mean, var = new_mean, new_var"}),
    Mutant("γ and β are missing: y = γ·x̂ + β, the learned scale and shift.",
           {Y: "y = (x - mean) / np.sqrt(var + epsilon)"}),
    Mutant("γ and β swapped: γ scales (multiplies) x̂, β shifts (is added).",
           {Y: "y = beta * (x - mean) / np.sqrt(var + epsilon) + gamma"}),
    Mutant("β is missing: y = γ·x̂ + β.", {Y: "y = gamma * (x - mean) / np.sqrt(var + epsilon)"}),
    Mutant("γ is missing: y = γ·x̂ + β.", {Y: "y = (x - mean) / np.sqrt(var + epsilon) + beta"}),
)


GENERIC = {  # what a wrong part is when no misconception explains it
    0: "y = γ·(x − μ)/√(σ² + ε) + β, with the batch's μ and biased σ² in training and the moving "
       "statistics in inference.",
    1: "in training, new_moving_mean = moving_mean·momentum + batch_mean·(1 − momentum); in "
       "inference, moving_mean unchanged.",
    2: "in training, new_moving_var = moving_var·momentum + batch_var·(1 − momentum) with the "
       "biased batch variance; in inference, moving_var unchanged.",
}

# -- isolating cases: one quantity each, in the order the computation makes them --------------
ISOLATING = "isolating"
WHERE_IT_DIFFERS = {
    "moving-average update": "the moving-average update: new = moving·momentum + batch·(1 − momentum), momentum "
                             "weighting the OLD value (here every example is the same, so the batch mean is that "
                             "example and the batch variance 0, however they are computed).",
    "batch mean": "the batch mean μ_B, each feature's mean over every axis but the last (read from "
                  "new_moving_mean: with momentum = 0.5 it is (moving_mean + μ_B)/2).",
    "batch variance": "the batch variance σ²_B, each feature's biased variance (divide by n) over every axis but "
                      "the last (read from new_moving_var: with momentum = 0.5 it is (moving_var + σ²_B)/2; the "
                      "batch mean passed).",
    "x̂": "the normalised x̂ = (x − μ_B)/√(σ²_B + ε), ε inside the root (here γ = 1 and β = 0, so y is x̂; "
          "the batch mean and variance passed).",
    "scale and shift": "the scale and shift y = γ·x̂ + β, per feature (x̂ passed the case with γ = 1, β = 0).",
    "inference": "inference mode (training=False): x̂ = (x − moving_mean)/√(moving_var + ε), and the moving "
                 "statistics come back unchanged (training mode passed).",
}


def _isolated(quantity, case, parts):
    """The quantity ``quantity`` as ``parts`` = (y, new_moving_mean, new_moving_var) of the
    isolating ``case`` show it."""
    y, new_mean, new_var = parts
    moving_mean, moving_var = (np.asarray(v, float) for v in case.args[3:5])
    return {"batch mean": lambda: 2 * new_mean - moving_mean, "batch variance": lambda: 2 * new_var - moving_var,
            "x̂": lambda: y, "scale and shift": lambda: y, "moving-average update": lambda: np.stack([new_mean, new_var]),
            "inference": lambda: np.concatenate([np.ravel(y), new_mean, new_var])}[quantity]()


def _isolating_cases():
    rng = np.random.default_rng(1019)
    x = _batch(rng, (10, 4))
    gamma, beta, moving_mean, moving_var = _parameters(rng, 4)
    unit = (np.ones(4), np.zeros(4))
    constant = np.tile(x[:1], (6, 1))  # six identical examples: μ_B = that example, σ²_B = 0
    unit_training = "training, momentum=0.5, γ=1, β=0"
    # quantity → (what the case is, its arguments, momentum), in the order the computation makes them
    setups = {
        "moving-average update": ("six identical examples, training, momentum=0.9",
                                  (constant, gamma, beta, moving_mean, moving_var, True), 0.9),
        "batch mean": (unit_training, (x, *unit, moving_mean, moving_var, True), 0.5),
        "batch variance": (unit_training, (x, *unit, moving_mean, moving_var, True), 0.5),
        "x̂": (unit_training, (x, *unit, moving_mean, moving_var, True), 0.5),
        "scale and shift": ("training, momentum=0.5", (x, gamma, beta, moving_mean, moving_var, True), 0.5),
        "inference": ("inference", (x, gamma, beta, moving_mean, moving_var, False), 0.9),
    }
    return [Case(f"{ISOLATING} {quantity}: a ({len(arguments[0])}, 4) batch, {what}", arguments, {"momentum": momentum},
                 locates=True) for quantity, (what, arguments, momentum) in setups.items()]  # WHERE_IT_DIFFERS's order


# -- cases ------------------------------------------------------------------------------------
def _parameters(rng, features, var_scale=1.0):
    """Random γ, β (as after some training), moving mean and a positive moving variance."""
    gamma = rng.uniform(0.5, 2.0, features) * rng.choice([-1, 1], features, p=[0.2, 0.8])
    beta = rng.normal(scale=0.5, size=features)
    moving_mean = rng.normal(scale=1.0, size=features)
    moving_var = rng.uniform(0.3, 2.0, features) * var_scale
    return gamma, beta, moving_mean, moving_var


def _batch(rng, shape, scale=1.0):
    """A batch whose features have their own means and scales (so the axis matters)."""
    features = shape[-1]
    return rng.normal(size=shape) * rng.uniform(0.5, 3.0, features) * scale + rng.normal(scale=2.0, size=features)


def _hidden_cases():
    rng = np.random.default_rng(1009)
    cases = []
    for training in (True, False):
        cases.append(Case(f"a square (6, 6) batch (as many examples as features), {'training' if training else 'inference'}",
                          (_batch(rng, (6, 6)), *_parameters(rng, 6), training), {"momentum": 0.9}))
    for batch, features, momentum, epsilon in ((16, 5, 0.9, 1e-3), (7, 3, 0.99, 1e-3), (64, 8, 0.5, 1e-5),
                                               (5, 12, 0.95, 0.1)):
        for training in (True, False):
            mode = "training" if training else "inference"
            args = (_batch(rng, (batch, features)), *_parameters(rng, features), training)
            cases.append(Case(f"random ({batch}, {features}) batch, {mode}, momentum={momentum}, epsilon={epsilon}",
                              args, {"momentum": momentum, "epsilon": epsilon}))
    features = 4
    x = _batch(rng, (10, features))
    cases += [
        Case("(10, 4) batch, training, default momentum and epsilon", (x, *_parameters(rng, features), True)),
        Case("(10, 4) batch, inference, default momentum and epsilon", (x, *_parameters(rng, features), False)),
        Case("all eight arguments by position, training", (x, *_parameters(rng, features), True, 0.8, 1e-4)),
    ]
    small = 0.03  # features with variance ≈ 1e-3, the size of ε: where ε's place matters
    for training in (True, False):
        params = _parameters(rng, 6, var_scale=small ** 2)
        cases.append(Case(f"features of std ≈ 0.03 (variance near ε), {'training' if training else 'inference'}",
                          (_batch(rng, (12, 6), scale=small), *params, training), {"momentum": 0.9}))
    for shape in ((6, 5, 5, 3), (4, 7, 2)):
        for training in (True, False):
            mode = "training" if training else "inference"
            cases.append(Case(f"x of shape {shape} (features last, as a conv or sequence layer gives), {mode}",
                              (_batch(rng, shape), *_parameters(rng, shape[-1]), training), {"momentum": 0.9}))
    gamma, beta, moving_mean, moving_var = _parameters(rng, 3)
    cases += [
        Case("a batch of one example, training (its variance is 0, so y = β)",
             (_batch(rng, (1, 3)), gamma, beta, moving_mean, moving_var, True), {"momentum": 0.9}),
        Case("a batch of one example, inference", (_batch(rng, (1, 3)), gamma, beta, moving_mean, moving_var, False)),
        Case("one feature, training", (_batch(rng, (9, 1)), *_parameters(rng, 1), True), {"momentum": 0.7}),
        Case("a constant feature (variance 0), training",
             (np.column_stack([np.full(8, 2.5), _batch(rng, (8, 1))]), *_parameters(rng, 2), True), {"momentum": 0.9}),
        Case("γ = 0, β = 0 (the output is 0)", (_batch(rng, (8, 3)), np.zeros(3), np.zeros(3),
                                                 moving_mean, moving_var, True), {"momentum": 0.9}),
        Case("momentum = 0 (the moving statistics become the batch's)",
             (_batch(rng, (8, 3)), gamma, beta, moving_mean, moving_var, True), {"momentum": 0.0}),
        Case("momentum = 1 (the moving statistics never move)",
             (_batch(rng, (8, 3)), gamma, beta, moving_mean, moving_var, True), {"momentum": 1.0}),
        Case("float32 inputs, training", tuple(a.astype("float32") if isinstance(a, np.ndarray) else a for a in
                                               (_batch(rng, (16, 4)), *_parameters(rng, 4), True)), {"momentum": 0.9}),
    ]
    x = _batch(rng, (8, 3))
    bad = [
        ("γ with 2 entries for 3 features", (x, np.ones(2), beta, moving_mean, moving_var, True), {}),
        ("β with 4 entries for 3 features", (x, gamma, np.zeros(4), moving_mean, moving_var, True), {}),
        ("moving_mean with 2 entries for 3 features", (x, gamma, beta, np.zeros(2), moving_var, False), {}),
        ("moving_var with 5 entries for 3 features", (x, gamma, beta, moving_mean, np.ones(5), False), {}),
        ("momentum = 1.5", (x, gamma, beta, moving_mean, moving_var, True), {"momentum": 1.5}),
        ("momentum = −0.1", (x, gamma, beta, moving_mean, moving_var, True), {"momentum": -0.1}),
        ("epsilon = −1e-3", (x, gamma, beta, moving_mean, moving_var, True), {"epsilon": -1e-3}),
        ("a negative moving_var, inference", (x, gamma, beta, moving_mean, np.array([1.0, -0.5, 1.0]), False), {}),
        ("a negative moving_var, training", (x, gamma, beta, moving_mean, np.array([1.0, -0.5, 1.0]), True), {}),
        ("x of shape (3,), one dimension only", (x[0], gamma, beta, moving_mean, moving_var, True), {}),
    ]
    cases += [Case(f"bad input: {label}", args, kwargs, raises="ValueError") for label, args, kwargs in bad]
    return cases + _isolating_cases()


@register
class BatchnormForward(Exercise):
    name = "batchnorm_forward"
    mistakes = MISTAKES

    def basic_cases(self):
        # Features with their own means and scales (so the axis matters), and γ, β and moving
        # statistics far from 1 and 0 (so every part of the formula shows).
        batch = "np.random.default_rng(9).normal(size=(6, 3)) * [1.0, 0.05, 4.0] + [2.0, -1.0, 0.0]"
        images = "np.random.default_rng(9).normal(size=(2, 2, 2, 2)) * [1.0, 3.0] + [0.0, 5.0]"
        gamma, beta, moving_mean, moving_var = [1.5, 0.8, -1.0], [0.2, 0.0, 1.0], [0.5, -1.0, 0.1], [2.0, 0.01, 9.0]

        def arguments(x, features, **replaced):
            vectors = {"gamma": gamma, "beta": beta, "moving_mean": moving_mean, "moving_var": moving_var}
            vectors = {name: f"np.array({values[:features]})" for name, values in vectors.items()}
            return ", ".join([x, *{**vectors, **replaced}.values()])

        compare = {"rtol": 1e-4, "atol": 1e-5, "probe": "gradclinic.summaries.batchnorm_outputs"}
        images_hint = ("features are the LAST axis: take each feature's statistics over every other axis "
                       "(axis=tuple(range(x.ndim - 1))), and mind the defaults momentum=0.99, epsilon=1e-3.")
        return [
            Case("a 6×3 batch, training, momentum=0.9", args_code=f"{arguments(batch, 3)}, True, momentum=0.9",
                 hint="training mode: y = γ·(x − μ)/√(σ² + ε) + β with the batch's μ and σ² (np.var divides by n; "
                      "ε inside the square root); new_moving_mean = moving_mean·momentum + batch_mean·(1 − momentum) "
                      "(momentum weights the OLD value), new_moving_var likewise with the biased batch variance.",
                 **compare),
            Case("a 6×3 batch, inference, momentum=0.9", args_code=f"{arguments(batch, 3)}, False, momentum=0.9",
                 hint="inference mode: normalise with moving_mean and moving_var (ε inside the square root), "
                      "and return them unchanged.", **compare),
            Case("images of shape (2, 2, 2, 2), training", args_code=f"{arguments(images, 2)}, True",
                 hint=images_hint, **compare),
            Case("images of shape (2, 2, 2, 2), inference", args_code=f"{arguments(images, 2)}, False",
                 hint=images_hint, **compare),
            Case("a 6×3 batch, gamma with 2 entries", args_code=f"{arguments(batch, 3, gamma='np.ones(2)')}, True",
                 raises="ValueError", hint="gamma, beta and both moving statistics need one entry per feature "
                                           "(x.shape[-1])."),
            Case("a 6×3 batch, momentum=1.5", args_code=f"{arguments(batch, 3)}, True, momentum=1.5",
                 raises="ValueError", hint="momentum must lie in [0, 1]."),
            Case("a 6×3 batch, training: γ, β and the moving statistics afterwards",
                 args_code=f"{arguments(batch, 3)}, True, momentum=0.9", kind=MUTATION_KIND,
                 probe="gradclinic.summaries.batchnorm_arguments_after",
                 hint="compute new arrays (moving_mean * momentum + …), never moving_mean *= momentum: the "
                      "caller's arrays are the layer's state."),
        ]

    def hidden_cases(self):
        return _hidden_cases()

    def judge(self, case, got, expected):
        if case.kind == MUTATION_KIND:
            got, inputs_after = self.result_and_inputs_after(case, got)
            for name, after, before in zip(("gamma", "beta", "moving_mean", "moving_var"), inputs_after[1:5],
                                           case.args[1:5]):
                if not allclose(after, before, rtol=0, atol=0):
                    raise CheckFailed(f"{self.name}({case.label}): the {name} passed in was changed. Likely cause: "
                                      "an in-place update (moving_mean *= momentum, out=…); compute new arrays "
                                      "and return them.")
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            what = f"a {type(got).__name__}" + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else "")
            raise CheckFailed(f"{self.name}({case.label}) returned {what}; return the three arrays "
                              "(y, new_moving_mean, new_moving_var).")
        arrays = [as_float_array(part) for part in got]
        for part, array, want in zip(PARTS, arrays, expected):
            if array is None or array.shape != want.shape:
                shape = None if array is None else array.shape
                hint = ("y has the shape of x." if part == "y" else
                        "the moving statistics have one entry per feature (the last axis of x): average over "
                        "the batch, i.e. every axis but the last (not over the features), and keep no extra "
                        "dimensions (keepdims=False).")
                fail(self.name, case, f"{part} of shape {want.shape}", f"shape {shape}", hint)
        if case.locates:  # this case checks its one quantity only, and names no mistake
            quantity = case.label[len(ISOLATING) + 1:].partition(":")[0]
            got_quantity, want = (_isolated(quantity, case, parts) for parts in (arrays, expected))
            if not self._close(got_quantity, want):
                fail(self.name, case, want, got_quantity, f"the first quantity that differs is "
                     f"{WHERE_IT_DIFFERS[quantity]}")
            return
        wrong = [i for i, (array, want) in enumerate(zip(arrays, expected)) if not self._close(array, want)]
        if not wrong:
            return
        misconception = self._name_the_mistake(case, arrays, wrong)
        index = wrong[0]
        fail(self.name, case, expected[index], arrays[index], f"({PARTS[index]} is off) "
             f"{misconception or GENERIC[index]}")

    def verdicts(self, cases, answers, answer_store, part="hidden"):
        """As :meth:`Exercise.verdicts`; then, unless a known mistake was named, the first failing
        isolating case leads: it says which quantity (moving-average update, batch mean, variance,
        x̂, scale and shift, inference) first differs."""
        failures = super().verdicts(cases, answers, answer_store, part=part)
        isolating = [m for m in failures if m.startswith(f"{self.name}({ISOLATING} ")]
        others = [m for m in failures if m not in isolating]
        named = any(mistake.what in m for m in others for mistake in self.mistakes)
        if not isolating or named:
            return others + isolating
        return isolating[:1] + others + isolating[1:]

    @staticmethod
    def _close(array, want):
        return allclose(array, want, rtol=RTOL, atol=ATOL * max(1.0, float(np.nanmax(np.abs(want), initial=0))))

    def _name_the_mistake(self, case, arrays, wrong):
        """The misconception whose output is the learner's answer (or, failing that, its wrong parts)."""
        variants = []
        for mistake in self.mistakes:
            try:
                variants.append((mistake.what, self.mutant_answer(mistake, case)))
            except Exception:  # a mutant that fails on this case names nothing here
                continue
        for parts in (range(3), wrong):  # first a mistake that explains the whole answer, then its wrong parts
            for what, variant in variants:
                if all(self._close(arrays[i], variant[i]) for i in parts):
                    return what
        return None
