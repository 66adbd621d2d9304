"""Lesson 10, self-normalizing networks: ``selu``, ``standardize`` and ``build_snn``.

The reference is the solution notebook's own cell (:mod:`autograder.solution`); the conventions
it fixes (the lesson states them):

- ``selu`` uses Keras's constants (``keras.activations.selu``, Klambauer et al. 2017) at full
  precision, ``SCALE · (x if x > 0 else ALPHA · (e^x − 1))``, and exponentiates only x ≤ 0.
- ``standardize`` uses the *training* set's per-feature mean and population standard deviation
  (``numpy.std``, ddof = 0, as scikit-learn's ``StandardScaler``). A feature whose training std
  is exactly 0 (digits' always-blank pixels) is divided by 1: it becomes 0 in the training set
  and ``test − mean`` in the test set, never NaN. The hidden cases make constant features of
  exactly representable values, so "std == 0" and "std below a tiny tolerance" agree.
- ``build_snn`` is judged on the architecture of the model it returns (rebuilt on the trusted
  side from its JSON and weights): ``depth`` Dense layers of ``width`` SELU units with LeCun
  normal kernels, then one softmax Dense output layer of ``n_classes`` units. The output layer's
  initializer and the biases are not judged; an ``Activation`` layer right after a linear Dense
  layer counts as that layer's activation, and a ``Flatten`` layer is allowed.

The known mistakes of ``selu`` and ``standardize`` are mutants of the solution cell, tried (in
their order) before the judges' own readings of a wrong answer (the constants ``selu`` used;
standardize's right-on-varying-features and right-train-wrong-test checks). ``build_snn``'s
judge reads the returned Dense stack itself (:func:`_stack_mistake`), for any sizes.
"""


import numpy as np

from autograder.exercise import Case, CheckFailed, Exercise, allclose, as_float_array, fail, rebuilt_model, short
from autograder.registry import register
from autograder.solution import Mutant, solution_function
from gradclinic import summaries

SLUG = "10_self_normalizing_networks"


# -- selu ---------------------------------------------------------------------------------------
_SELU_RETURN = "return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))"


def _selu_returning(expression):
    """The edit that makes the solution's selu return ``expression`` instead."""
    return {_SELU_RETURN: f"return {expression}"}


def _selu_slopes_problem(x, array, alpha, scale):
    """Read the two constants a wrong answer used: c₊ = f(x)/x for x > 0 and c₋ = f(x)/(e^x − 1)
    for x < 0, and say which one is off and by what (against the solution's ``alpha`` and
    ``scale``). None when neither can be read."""
    notes = []
    positive, negative = x > 1e-3, x < -1e-3
    if positive.any():
        c_pos = float(np.median(array[positive] / x[positive]))
        if not np.isclose(c_pos, scale, rtol=1e-9):
            notes.append(f"for x > 0 it returns {c_pos:.10g}·x, but selu(x) = λ·x with λ = {scale!r}")
    if negative.any():
        c_neg = float(np.median(array[negative] / np.expm1(x[negative])))
        if not np.isclose(c_neg, scale * alpha, rtol=1e-9):
            notes.append(f"for x ≤ 0 it returns {c_neg:.10g}·(e^x − 1), but selu(x) = λ·α·(e^x − 1) with "
                         f"λ·α = {scale * alpha!r}")
    if not notes:
        return None
    return "; ".join(notes) + (". Use Keras's constants at full precision: α = 1.6732632423543772, "
                               "λ = 1.0507009873554805 (rounded ones such as 1.6733 and 1.0507 are off "
                               "by about 1e-6).")


def _tolerance(exercise, case):
    """The judge's tolerance on ``case``: float32 inputs give answers only as good as float32."""
    float32 = any(np.asarray(a).dtype == np.float32 for a in case.args)
    return exercise.FLOAT32_TOLERANCE if float32 else exercise.TOLERANCE


@register
class Selu(Exercise):
    name = "selu"
    TOLERANCE = {"rtol": 1e-9, "atol": 1e-12}
    FLOAT32_TOLERANCE = {"rtol": 1e-6, "atol": 1e-6}
    mistakes = (
        Mutant("λ is applied to the negative branch only, so x > 0 passes unscaled: selu(x) = λ·x there, with "
               "λ ≈ 1.0507. SELU multiplies the whole function by λ, which is what makes variance 1 a fixed point.",
               _selu_returning("np.where(x > 0, x, SELU_SCALE * SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))")),
        Mutant("α and λ are swapped: the factor in front of x (for x > 0) is λ ≈ 1.0507, the scale; α ≈ 1.6733 "
               "only multiplies (e^x − 1). The negative branch hides the swap because it uses the product λ·α.",
               _selu_returning("SELU_ALPHA * np.where(x > 0, x, SELU_SCALE * np.expm1(np.minimum(x, 0.0)))")),
        Mutant("λ is applied to the positive part only: λ scales *both* branches, selu(x) = λ·α·(e^x − 1) for "
               "x ≤ 0.",
               _selu_returning("np.where(x > 0, SELU_SCALE * x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))")),
        Mutant("λ is missing: this is ELU with α = 1.6733. SELU multiplies the whole function by λ ≈ 1.0507, "
               "which is what makes variance 1 a fixed point.",
               _selu_returning("np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))")),
        Mutant("α is missing from the negative branch: it is λ·α·(e^x − 1).",
               _selu_returning("SELU_SCALE * np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))")),
        Mutant("the −1 is missing: the negative branch is λ·α·(e^x − 1), which is 0 at x = 0 and tends to "
               "−λα ≈ −1.758.",
               _selu_returning("SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.exp(np.minimum(x, 0.0)))")),
        Mutant("negative x must give λ·α·(e^x − 1), not 0 (that is a scaled ReLU): SELU's negative values are "
               "what pull the mean back to 0.", _selu_returning("SELU_SCALE * np.maximum(x, 0.0)")),
        Mutant("the negative branch is missing: for x ≤ 0 selu(x) = λ·α·(e^x − 1).",
               _selu_returning("SELU_SCALE * x")),
    )

    def basic_cases(self):
        exact = {"rtol": 1e-9, "atol": 1e-12}
        return [
            Case(args=(np.array([-1.0, 0.0, 1.0]),), **exact, hint="selu(1) = λ = 1.0507…; selu(−1) = "
                 "λ·α·(e^−1 − 1). Use the constants at full precision, as Keras does."),
            Case(args=(2.0,), **exact, hint="for x > 0 selu(x) = λ·x with λ = 1.0507…, not α = 1.6733…: check "
                 "the constants are not swapped."),
            Case(args=(-50.0,), **exact, hint="as x → −∞, selu(x) → −λ·α ≈ −1.758: λ multiplies the negative "
                 "branch too."),
            Case(args=(np.array([-1000.0, 1000.0]),), **exact, hint="finite values: −λα at −1000 and 1000·λ at "
                 "+1000. np.where evaluates both branches everywhere; exponentiate np.minimum(x, 0) only."),
        ]

    def hidden_cases(self):
        rng = np.random.default_rng(10001)
        return [
            Case("random x in [−6, 6]", (rng.uniform(-6, 6, size=40),)),
            Case("standard-normal x, shape (4, 5)", (rng.normal(size=(4, 5)),)),
            Case("a 3-D batch of x, shape (2, 3, 4)", (rng.normal(scale=3, size=(2, 3, 4)),)),
            Case("a scalar x = −0.5", (-0.5,)),
            Case("a scalar x = 2.0", (2.0,)),
            Case("integers −5..5", (np.arange(-5, 6),)),
            Case("float32 x = ±100, ±50 (e^100 overflows float32)",
                 (np.array([-100.0, -50.0, 50.0, 100.0], "float32"),)),
            Case("float64 x = ±1000, ±710 (e^710 overflows float64)", (np.array([-1000.0, -710.0, 710.0, 1000.0]),)),
            Case("tiny x = ±1e−12 and exact zeros", (np.array([-1e-12, -0.0, 0.0, 1e-12]),)),
            Case("large negative x: selu tends to −λα", (np.array([-40.0, -25.0, -12.0]),)),
            Case("an empty array", (np.zeros(0),)),
        ]

    def judge(self, case, got, expected):
        array = as_float_array(got)
        if array is None:
            raise CheckFailed(f"{self.name}({case.label}) returned {type(got).__name__}; return a NumPy array "
                              "of the same shape as x.")
        if array.shape != expected.shape:
            fail(self.name, case, expected, got, f"selu is elementwise: return an array of x's shape "
                 f"{expected.shape}, not {array.shape}.")
        if not np.isfinite(array).all():
            fail(self.name, case, expected, got, "NaN or inf where selu is finite: e^x overflowed for a "
                 "large positive x (inf, and inf·0 = NaN when a mask multiplies it). np.where computes both "
                 "branches for every x, so exponentiate only x ≤ 0: np.expm1(np.minimum(x, 0)).")
        if allclose(array, expected, **_tolerance(self, case)):
            return
        # The known mistakes first, then what the constants the answer used say.
        x = np.asarray(case.args[0], dtype=float)
        alpha, scale = (solution_function(self.lesson, name) for name in ("SELU_ALPHA", "SELU_SCALE"))
        cause = self.named_mistake(case, got) or _selu_slopes_problem(x, array, alpha, scale)
        fail(self.name, case, expected, got, cause)


# -- standardize --------------------------------------------------------------------------------
_STATISTICS = "mean, std = train.mean(axis=0), train.std(axis=0)"
_DIVIDE_BY_ONE = "std = np.where(std == 0, 1.0, std)  # constant features: divide by 1, not by 0"
_STANDARDIZED = "return (train - mean) / std, (test - mean) / std"


def _drifted_split(rng, n_train, n_test, n_features, constant=()):
    """A train/test pair whose features have their own means and scales, the test set shifted and
    rescaled (so that test statistics differ from training ones); ``constant`` features hold an
    exactly representable constant in train and other values in test."""
    means, scales = rng.uniform(-5, 5, n_features), 10 ** rng.uniform(-2, 2, n_features)
    train = means + scales * rng.normal(size=(n_train, n_features))
    test = means + 0.5 * scales + 1.7 * scales * rng.normal(size=(n_test, n_features))
    for feature, value in constant:
        train[:, feature] = value
        test[:, feature] = value + rng.choice([0.0, 0.25, 1.0], size=n_test)
    return train, test


@register
class Standardize(Exercise):
    name = "standardize"
    TOLERANCE = {"rtol": 1e-7, "atol": 1e-9}
    FLOAT32_TOLERANCE = {"rtol": 1e-4, "atol": 1e-4}
    mistakes = (
        Mutant("the test set was standardized with its own mean and std. Use the training set's statistics for "
               "both: at prediction time the test data is unseen, and the model was fitted to inputs shifted and "
               "scaled by the training statistics.",
               {_STANDARDIZED: "test_mean, test_std = test.mean(axis=0), test.std(axis=0)  # the test set's own\n"
                               "    test_std = np.where(test_std == 0, 1.0, test_std)\n"
                               "    return (train - mean) / std, (test - test_mean) / test_std"}),
        Mutant("the mean and std were computed over train and test together (pooled). That leaks the test set "
               "into the preprocessing: compute them on train only.",
               {_STATISTICS: "pooled = np.concatenate([train, test])\n"
                             "    mean, std = pooled.mean(axis=0), pooled.std(axis=0)"}),
        Mutant("this divides by the variance; divide by the standard deviation (its square root), so that each "
               "feature's std becomes 1.", {"train.std(axis=0)": "train.var(axis=0)"}),
        Mutant("this uses the sample std (ddof=1); the exercise uses the population std, numpy's default "
               "np.std(axis=0) (as scikit-learn's StandardScaler does).",
               {"train.std(axis=0)": "train.std(axis=0, ddof=1)"}),
        Mutant("the mean is not subtracted: standardized features have mean 0.",
               {_STANDARDIZED: "return train / std, test / std"}),
        Mutant("the data is centred but not scaled: divide by the training std too.",
               {_STANDARDIZED: "return train - mean, test - mean"}),
        Mutant("one mean and one std over every feature together: standardize each feature (column) on its own, "
               "axis=0.", {_STATISTICS: "mean, std = train.mean(), train.std()"}),
        Mutant("the statistics are per example (axis=1, across each row); take them per feature, down each "
               "column (axis=0).",
               {f"{_STATISTICS}\n    {_DIVIDE_BY_ONE}\n    {_STANDARDIZED}":
                "def per_example(data):  # each row with its own mean and std\n"
                "        mean, std = data.mean(axis=1, keepdims=True), data.std(axis=1, keepdims=True)\n"
                "        return (data - mean) / np.where(std == 0, 1.0, std)\n\n"
                "    return per_example(train), per_example(test)"}),
        Mutant("the two arrays come back swapped: return (train_std, test_std).",
               {_STANDARDIZED: "return (test - mean) / std, (train - mean) / std"}),
    )

    def basic_cases(self):
        train = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
        test = np.array([[3.0, 20.0], [7.0, 0.0]])
        probe = "gradclinic.summaries.standardized"
        return [Case(args=(train, test), probe=probe, hint="per feature (column): subtract the training mean "
                     "(3, 20) and divide by the training np.std(axis=0) — the std, not the variance. The test "
                     "set uses the *training* statistics too; with its own its values would be ±1."),
                Case(args=(np.array([[0.0, 1.0], [0.0, 3.0]]), np.array([[2.0, 2.0]])), probe=probe,
                     hint="a feature that is always 0 in training has std 0: divide it by 1, so it becomes "
                          "test − mean = 2, not NaN or inf."),
                Case(args_code="np.ones((4, 3)), np.ones((2, 5))", raises="ValueError",
                     hint="train and test must describe the same features (3 vs 5 here).")]

    def hidden_cases(self):
        rng = np.random.default_rng(10002)
        from gradclinic.data import load_digits

        digits = load_digits(rng=np.random.default_rng(3))
        cases = [Case(f"random features with their own means and scales, a drifted test set ({n}×{f})",
                      _drifted_split(rng, n, m, f)) for n, m, f in [(50, 20, 4), (200, 60, 9), (7, 3, 2)]]
        cases += [
            Case("constant training features (0, 2.5 and −1) beside varying ones",
                 _drifted_split(rng, 40, 15, 6, constant=[(1, 0.0), (3, 2.5), (5, -1.0)])),
            Case("digits (float32 pixels in [0, 1], some always 0 in training)",
                 (digits.x_train[:500], digits.x_test[:100])),
            Case("a single feature, shape (n, 1)", _drifted_split(rng, 30, 10, 1)),
            Case("a single training example: every feature is constant", (rng.normal(size=(1, 3)),
                                                                           rng.normal(size=(4, 3)))),
            Case("an empty test set, shape (0, 3)", (rng.normal(size=(12, 3)), np.zeros((0, 3)))),
            Case("integer features", (rng.integers(0, 10, size=(20, 3)), rng.integers(0, 10, size=(6, 3)))),
            Case("train and test with different numbers of features", (np.ones((5, 3)), np.ones((2, 4))),
                 raises="ValueError"),
            Case("a 1-D train array (no feature axis)", (np.arange(5.0), np.arange(3.0)), raises="ValueError"),
            Case("an empty training set, shape (0, 2)", (np.zeros((0, 2)), np.ones((3, 2))), raises="ValueError"),
        ]
        return cases

    def judge(self, case, got, expected):
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailed(f"{self.name}({case.label}) returned {short(got)}; return the pair "
                              "(train_std, test_std), e.g. `return train_std, test_std`.")
        arrays = [as_float_array(part) for part in got]
        if any(a is None for a in arrays):
            raise CheckFailed(f"{self.name}({case.label}): return two numeric arrays (train_std, test_std).")
        tolerance = _tolerance(self, case)
        train_got, test_got = arrays
        train_expected, test_expected = expected
        if allclose(train_got, train_expected, **tolerance) and allclose(test_got, test_expected, **tolerance):
            return
        for name, part, wanted in (("train_std", train_got, train_expected), ("test_std", test_got, test_expected)):
            if part.shape != wanted.shape:
                known = self.named_mistake(case, got)  # the swap gives each array the other's shape
                if known:
                    fail(self.name, case, expected, got, known)
                fail(self.name, case, wanted, part, f"{name} must keep its input's shape {wanted.shape} "
                     "(standardizing changes values, not shapes).")
        if not (np.isfinite(train_got).all() and np.isfinite(test_got).all()):
            fail(self.name, case, expected, got, "NaN or inf: a feature that is constant in the training set "
                 "has std 0; divide it by 1 instead (np.where(std == 0, 1, std)).")
        known = self.named_mistake(case, got)  # the known mistakes before the readings below
        if known:
            fail(self.name, case, expected, got, known)
        train = np.asarray(case.args[0], dtype=float)
        varying = train.std(axis=0) != 0
        if (allclose(train_got[:, varying], train_expected[:, varying], **tolerance)
                and allclose(test_got[:, varying], test_expected[:, varying], **tolerance)):
            fail(self.name, case, expected, got, "right on every varying feature, wrong on the constant ones: "
                 "a feature whose training std is 0 is divided by 1 (not by a small ε, which blows up test "
                 "values that differ from the training constant), so it becomes test − mean.")
        if allclose(train_got, train_expected, **tolerance):
            fail(self.name, case, expected, got, "train_std is right but test_std is not: standardize the "
                 "test set with the *training* mean and std, (test − train_mean) / train_std.")
        fail(self.name, case, expected, got)


# -- build_snn -----------------------------------------------------------------------------------
def dense_stack(model):
    """The model's Dense layers as (units, activation, initializer) in order, input side first,
    an ``Activation`` layer right after a linear Dense counted as its activation (the toolkit's
    :func:`gradclinic.summaries.dense_stack`). Raises :class:`CheckFailed` naming any other kind
    of layer."""
    stack, others = summaries.dense_stack(model)
    if others:
        raise CheckFailed(f"the model holds a {others[0]} layer; this SNN is Dense layers only "
                          "(Klambauer et al. pair SELU with AlphaDropout, but the exercise asks for none).")
    return [tuple(spec) for spec in stack]


def _describe_stack(stack):
    """Runs of equal layers in words: '3 × Dense(16, selu, lecun_normal) → Dense(10, softmax)'."""
    runs = []
    for units, activation, initializer in stack:
        spec = f"Dense({units}, {activation}, {initializer})"
        if runs and runs[-1][1] == spec:
            runs[-1][0] += 1
        else:
            runs.append([1, spec])
    return " → ".join(spec if n == 1 else f"{n} × {spec}" for n, spec in runs)


def _stack_mistake(stack, depth, width, n_classes):
    """The misconception behind a wrong Dense stack, or None."""
    hidden, output = stack[:-1], stack[-1]
    if (len(stack) == 2 * depth and depth > 1 and all(s[0] == n_classes and s[1] == "softmax" for s in stack[1::2])):
        return ("the output layer is inside the loop (a common indentation bug): every hidden layer is "
                "followed by a softmax layer. Add Dense(n_classes, softmax) once, after the for loop.")
    if sum(s[1] == "softmax" for s in stack) > 1:
        return "only the last layer is softmax: one output layer, after the loop."
    if output[1] != "softmax":
        return (f"the output layer's activation is {output[1]}; it must be softmax, so the model returns "
                "class probabilities.")
    if output[0] != n_classes:
        return f"the output layer has {output[0]} units; it needs one per class: n_classes = {n_classes}."
    if len(hidden) != depth:
        if len(hidden) in (depth - 1, depth + 1):
            return (f"{len(hidden)} hidden layers for depth = {depth}: depth counts the hidden SELU layers, "
                    f"so the model has depth + 1 = {depth + 1} Dense layers with the output layer. Check the "
                    "range() of the loop and that no layer is added before it.")
        return f"{len(hidden)} hidden layers; depth = {depth} asks for exactly {depth}."
    activations = {s[1] for s in hidden}
    if activations != {"selu"}:
        if "relu" in activations:
            return ("the hidden layers use ReLU; an SNN's use SELU (activation='selu'): ReLU's outputs are "
                    "never negative, so it cannot pull the mean back to 0.")
        if "linear" in activations:
            return "a hidden layer has no activation (linear): pass activation='selu' to every hidden Dense."
        return f"hidden activations {sorted(activations)}: every hidden layer uses activation='selu'."
    initializers = {s[2] for s in hidden}
    if initializers != {"lecun_normal"}:
        if "glorot_uniform" in initializers:
            return ("glorot_uniform is Dense's default kernel_initializer: pass kernel_initializer="
                    "'lecun_normal' to every hidden layer. SELU's fixed point needs weights of variance "
                    "1/fan_in; Glorot averages fan_in and fan_out.")
        if "lecun_uniform" in initializers:
            return "lecun_uniform has the right variance but the exercise (and Keras's SNN recipe) asks for lecun_normal."
        if "he_normal" in initializers:
            return ("he_normal has variance 2/fan_in, twice SELU's 1/fan_in: the layers' variance drifts "
                    "upward. Use kernel_initializer='lecun_normal'.")
        return f"hidden kernel initializers {sorted(initializers)}: use kernel_initializer='lecun_normal'."
    if {s[0] for s in hidden} != {width}:
        return f"hidden layers of {sorted({s[0] for s in hidden})} units; every one has width = {width}."
    return None


@register
class BuildSnn(Exercise):
    """The judge names a wrong stack's mistake itself (:func:`_stack_mistake` reads any sizes); the
    mutant is the catalogue's mistake, kept as data (a model is never the mutant's value)."""

    name = "build_snn"
    mistakes = (
        Mutant("the kernel initializer left at Keras's default glorot_uniform: SELU needs lecun_normal",
               {'activation="selu", kernel_initializer="lecun_normal"))': 'activation="selu"))',
                'activation="softmax", kernel_initializer="lecun_normal"))': 'activation="softmax"))'}),
    )

    def basic_cases(self):
        return [Case(args=(64, 3, 16, 10), probe="gradclinic.summaries.snn_layers",
                     hint="depth = 3 hidden Dense(width, activation='selu', kernel_initializer='lecun_normal') "
                          "(Dense defaults to glorot_uniform), then ONE Dense(n_classes, activation='softmax') "
                          "after the loop: 3 softmax layers mean the output layer sits inside the loop."),
                Case(args=(64, 0, 16, 10), raises="ValueError", hint="depth must be ≥ 1.")]

    def hidden_cases(self):
        return [
            Case("the lesson's 20 × 100 net: input_dim=64, depth=20, width=100, n_classes=10", (64, 20, 100, 10)),
            Case("input_dim=5, depth=1, width=8, n_classes=3", (5, 1, 8, 3)),
            Case("input_dim=30, depth=6, width=32, n_classes=2", (30, 6, 32, 2)),
            Case("input_dim=12, depth=2, width=4, n_classes=7 (narrower than the output)", (12, 2, 4, 7)),
            Case("depth=0", (10, 0, 8, 3), raises="ValueError"),
            Case("width=0", (10, 2, 0, 3), raises="ValueError"),
            Case("n_classes=1 (softmax over one class is always 1)", (10, 2, 8, 1), raises="ValueError"),
            Case("depth=2.5", (10, 2.5, 8, 3), raises="ValueError"),
        ]

    def judge(self, case, got, expected):
        from autograder.harness import ModelData

        input_dim, depth, width, n_classes = case.args
        if not isinstance(got, ModelData):
            raise CheckFailed(f"{self.name}({case.label}) returned {short(got)}; return the Keras model "
                              "itself (keras.Sequential([...]) or keras.Model).")
        model = rebuilt_model(got, f"{self.name}({case.label})",
                              "Use built-in layers and activations by name, e.g. activation='selu'.")
        if tuple(model.input_shape) != (None, input_dim):
            raise CheckFailed(f"{self.name}({case.label}): the model takes inputs of shape {model.input_shape}; "
                              f"it should take (None, {input_dim}): keras.Input((input_dim,)).")
        try:
            stack = dense_stack(model)
        except CheckFailed as problem:
            raise CheckFailed(f"{self.name}({case.label}): {problem}") from None
        wanted = dense_stack(expected)
        wanted[-1:] = [(n_classes, "softmax", stack[-1][2] if stack else "lecun_normal")]  # not judged
        if stack == wanted:
            if tuple(model.output_shape) != (None, n_classes):
                raise CheckFailed(f"{self.name}({case.label}): output shape {model.output_shape}, expected "
                                  f"(None, {n_classes}).")
            return
        message = (f"{self.name}({case.label}): expected {_describe_stack(wanted)}, got "
                   f"{_describe_stack(stack) or 'no Dense layer'}.")
        mistake = _stack_mistake(stack, depth, width, n_classes) if stack else None
        if mistake:
            message += f"\n  Likely cause: {mistake}"
        raise CheckFailed(message)
