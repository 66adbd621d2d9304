"""Lesson 03, ReLU and friends: ``relu``, ``relu_grad``, ``leaky_relu``, ``elu``, ``elu_grad``,
``active_fraction`` and ``dead_units``.

Derivative conventions follow TensorFlow's automatic differentiation of ``keras.activations``
(tests/test_l03_relu_and_friends.py checks the solution against it): at exactly z = 0 every
function takes its *negative* branch, so relu'(0) = 0, leaky'(0) = negative_slope and elu'(0) = alpha.
"""

import functools

import numpy as np

from autograder.exercise import (Case, CheckFailed, Exercise, KerasModelArg, allclose, as_float_array,
                                 fail)
from autograder.registry import register
from autograder.solution import Mutant


# -- the elementwise exercises ---------------------------------------------------------------
class ElementwiseExercise(Exercise):
    """An activation or its slope, elementwise: judged by :func:`_judge_elementwise`, its
    Mutants compared with the judge's tolerance."""

    TOLERANCE = {"rtol": 1e-6, "atol": 1e-12}


def _judge_elementwise(exercise, case, got, expected, out_of_bounds=None):
    """Shape and finiteness first (properties every answer must have), then the exact values;
    name the mistake when ``got`` is a Mutant's answer, else when ``out_of_bounds(array)``
    (a misconception or None) finds a bound broken."""
    array = as_float_array(got)
    if array is None:
        raise CheckFailed(f"{exercise.name}({case.label}) returned {type(got).__name__}; return a NumPy "
                          "array of the same shape as z.")
    if array.shape != np.shape(expected):
        if array.size < np.size(expected):
            fail(exercise.name, case, expected, got, "the function is elementwise: one value per entry "
                 f"of z, shape {np.shape(expected)}. np.max(z, 0) reduces along axis 0; np.maximum(z, 0) "
                 "compares entry by entry.")
        fail(exercise.name, case, expected, got, f"return an array of z's shape {np.shape(expected)}, "
             f"not {array.shape}.")
    if not np.isfinite(array).all():
        fail(exercise.name, case, expected, got, "NaN or inf where the answer is finite: e^z overflowed "
             "for a large positive z. np.where computes both branches for every z (and inf·0 is NaN), "
             "so exponentiate only z ≤ 0, e.g. np.exp(np.minimum(z, 0)).")
    if allclose(array, expected, **exercise.TOLERANCE):
        return
    exercise.fail_known(case, got, expected)
    problem = out_of_bounds(array) if out_of_bounds else None
    fail(exercise.name, case, expected, got, problem)


def _elementwise_cases(seed, zero=True):
    rng = np.random.default_rng(seed)
    cases = [
        Case("random z in [−10, 10]", (rng.uniform(-10, 10, size=25),)),
        Case("a 3-D batch of z, shape (2, 3, 4)", (rng.normal(scale=3, size=(2, 3, 4)),)),
        Case("a scalar z = −0.5", (-0.5,)),
        Case("integers −5..5", (np.arange(-5, 6),)),
        Case("float32 z = ±100, ±50 (e^100 overflows float32)",
             (np.array([-100.0, -50.0, 50.0, 100.0], "float32"),)),
        Case("float64 z = ±1000, ±710 (e^710 overflows float64)", (np.array([-1000.0, -710.0, 710.0, 1000.0]),)),
        Case("tiny z = ±1e−30", (np.array([-1e-30, 1e-30]),)),
        Case("an empty array", (np.zeros(0),)),
    ]
    if zero:
        cases.append(Case("z exactly 0 and −0 among others", (np.array([-1.0, -0.0, 0.0, 1.0]),)))
    return cases


def _z(case):
    return np.asarray(case.args[0], dtype=float)


# The visible checks' wide grid: 21 values from −100 to 100 as a (3, 7) batch.
WIDE_Z = "np.linspace(-100, 100, 21).reshape(3, 7)"
WIDE_LABEL = "z = 21 values from −100 to 100, shape (3, 7)"


def wide_case(hint, **keywords):
    """A visible case on the wide grid, with optional keyword arguments (e.g. alpha=2.0)."""
    extra = "".join(f", {k}={v!r}" for k, v in keywords.items())
    label = WIDE_LABEL + "".join(f", {k}={v!r}" for k, v in keywords.items())
    return Case(label, args_code=WIDE_Z + extra, hint=hint)


_RELU = "np.maximum(np.asarray(z, dtype=float), 0.0)"


@register
class Relu(ElementwiseExercise):
    name = "relu"
    mistakes = (
        Mutant("min(z, 0) keeps the negative part; ReLU keeps the positive part, max(z, 0).",
               {"np.maximum(": "np.minimum("}),
        Mutant("this is ReLU's slope (1 where z > 0), not ReLU itself: return max(0, z).",
               {f"return {_RELU}": "return relu_grad(z)"}),
        Mutant("|z| turns negatives positive; ReLU sets them to 0.", {_RELU: "np.abs(np.asarray(z, dtype=float))"}),
        Mutant("negative z must become 0: this returned z unchanged.", {_RELU: "np.asarray(z, dtype=float)"}),
    )

    def basic_cases(self):
        return [Case(args=(np.array([-2.0, -0.5, 0.0, 0.5, 2.0]),),
                     hint="negative z become 0, positive z pass unchanged."),
                wide_case("compare entry by entry (np.maximum) and keep z's shape.")]

    def hidden_cases(self):
        return _elementwise_cases(3001)

    def judge(self, case, got, expected):
        _judge_elementwise(self, case, got, expected,
                           lambda array: "ReLU's output is never negative." if (array < 0).any() else None)


_RELU_GRAD = "return (np.asarray(z, dtype=float) > 0).astype(float)"


@register
class ReluGrad(ElementwiseExercise):
    name = "relu_grad"
    mistakes = (
        Mutant("returns the boolean mask z > 0 instead of a float slope",
               {_RELU_GRAD: "return np.asarray(z, dtype=float) > 0"}),
        Mutant("at exactly z = 0 TensorFlow's autodiff gives slope 0 (the lesson prints it): use z > 0, not z ≥ 0.",
               {"> 0).astype(float)": ">= 0).astype(float)"}),
        Mutant("this is relu(z) itself; its slope is 1 where z > 0 and 0 elsewhere.", {_RELU_GRAD: "return relu(z)"}),
        Mutant("the slope on the negative side is 0, not −1: ReLU is flat there.",
               {_RELU_GRAD: "return np.sign(np.asarray(z, dtype=float))"}),
    )

    def basic_cases(self):
        return [Case(args=(np.array([-3.0, 0.0, 1e6]),),
                     hint="slope 0 for z ≤ 0 (z = 0 included, as TensorFlow), 1 for z > 0 — even at z = 10⁶."),
                Case(args=(np.array([2.0]),),
                     hint="a slope is a number: return floats, e.g. (z > 0).astype(float), not a boolean mask."),
                wide_case("1 where z > 0, 0 elsewhere, as TensorFlow's autodiff gives.")]

    def hidden_cases(self):
        return _elementwise_cases(3002)

    def judge(self, case, got, expected):
        if np.asarray(got).dtype == bool:
            fail(self.name, case, expected, got, "a slope is a number: return floats, e.g. "
                 "(z > 0).astype(float), not the boolean mask itself.")
        _judge_elementwise(self, case, got, expected,
                           functools.partial(_relu_slope_problem, z=_z(case), expected=expected))


def _relu_slope_problem(array, z, expected):
    """What is wrong with a ReLU slope ``array`` that matched no known mistake, or None."""
    wrong = array != expected
    if wrong.any() and np.all(z[wrong] == 0):
        return (f"at exactly z = 0 TensorFlow's autodiff gives slope 0 (the lesson prints it); this gave "
                f"{sorted(set(array[wrong].tolist()))} there.")
    if not np.isin(array, (0.0, 1.0)).all():
        return "ReLU's slope is 0 or 1, nothing else."
    return None


_LEAKY = "np.where(z > 0, z, negative_slope * z)"


@register
class LeakyRelu(ElementwiseExercise):
    name = "leaky_relu"
    mistakes = (
        Mutant("0.3 is the default of the keras.layers.LeakyReLU layer; keras.activations.leaky_relu, which "
               "this function mirrors, defaults to 0.2.", {"negative_slope=0.2": "negative_slope=0.3"}),
        Mutant("the negative_slope argument is ignored: the answer used 0.2 instead of the slope passed in.",
               {"negative_slope * z)": "0.2 * z)"}),
        Mutant("the slope applies to negative z only; positive z pass through unchanged.",
               {_LEAKY: "negative_slope * z"}),
        Mutant("negative z should give negative_slope·z, not 0 (that is plain ReLU).", {_LEAKY: "np.maximum(z, 0.0)"}),
        Mutant("the sign: for z < 0 the output is negative_slope·z, which is negative.",
               {_LEAKY: "np.where(z > 0, z, -negative_slope * z)"}),
    )

    def basic_cases(self):
        return [Case(args=(np.array([-2.0, 0.0, 3.0]),),
                     hint="the default negative_slope is keras.activations.leaky_relu's 0.2 (0.3 is the layer's)."),
                Case(args=(np.array([-10.0, 10.0]),), kwargs={"negative_slope": 0.01},
                     hint="use the negative_slope passed in, on z < 0 only."),
                wide_case("z for z > 0, 0.2·z elsewhere, as keras.activations.leaky_relu."),
                Case(args=(np.array([-10.0, 10.0]),), kwargs={"negative_slope": -0.1}, raises="ValueError",
                     hint="a negative slope flips the sign of negative inputs: refuse it with ValueError.")]

    def hidden_cases(self):
        cases = _elementwise_cases(3003)
        rng = np.random.default_rng(3013)
        cases += [
            Case("random z, negative_slope=0.3 (the LeakyReLU layer's default)", (rng.normal(scale=4, size=12),),
                 {"negative_slope": 0.3}),
            Case("random z, negative_slope=0 (plain ReLU)", (rng.normal(scale=4, size=12),), {"negative_slope": 0.0}),
            Case("random z, negative_slope=1 (the identity)", (rng.normal(scale=4, size=12),), {"negative_slope": 1}),
            Case("random z, negative_slope=0.05 as a NumPy float", (rng.normal(scale=4, size=(3, 3)),),
                 {"negative_slope": np.float64(0.05)}),
            Case("negative_slope=−0.1", (np.array([-1.0, 1.0]),), {"negative_slope": -0.1}, raises="ValueError"),
            Case("negative_slope=NaN", (np.array([-1.0, 1.0]),), {"negative_slope": float("nan")},
                 raises="ValueError"),
        ]
        return cases

    def judge(self, case, got, expected):
        _judge_elementwise(self, case, got, expected)


_ELU = "np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))"


@register
class Elu(ElementwiseExercise):
    name = "elu"
    mistakes = (
        Mutant("the −1 is missing: the negative branch is α·(e^z − 1), which is 0 at z = 0 and tends to −α.",
               {"np.expm1(": "np.exp("}),
        Mutant("α·(e^z − 1) is the branch for z ≤ 0 only; positive z pass through.",
               {_ELU: "alpha * (np.exp(z) - 1)"}),
        Mutant("negative z should give α·(e^z − 1), not 0 (that is plain ReLU).", {_ELU: "np.maximum(z, 0.0)"}),
        Mutant("the alpha argument is ignored: the answer used α = 1.", {"alpha * np.expm1(": "np.expm1("}),
    )

    def basic_cases(self):
        return [Case(args=(np.array([-1.0, 0.0, 2.0]),),
                     hint="α·(e^z − 1) for z ≤ 0 (0 at z = 0), z itself for z > 0."),
                Case(args=(np.array([-1.0, 2.0]),), kwargs={"alpha": 2.0}, hint="alpha multiplies the negative branch only."),
                Case(args=(np.array([-100.0, 100.0], "float32"),), kwargs={"alpha": 2.0},
                     hint="ELU approaches −α far below zero; np.where computes both branches, so exponentiate "
                          "np.minimum(z, 0), never z = 100."),
                wide_case("z for z > 0, α·(e^z − 1) elsewhere, as keras.activations.elu.", alpha=1.5),
                Case(args=(np.array([-10.0, 10.0]),), kwargs={"alpha": -1.0}, raises="ValueError",
                     hint="alpha must be ≥ 0: raise ValueError.")]

    def hidden_cases(self):
        cases = _elementwise_cases(3004)
        rng = np.random.default_rng(3014)
        cases += [
            Case("random z, alpha=0.5", (rng.normal(scale=3, size=12),), {"alpha": 0.5}),
            Case("random z, alpha=2", (rng.normal(scale=3, size=(3, 4)),), {"alpha": 2}),
            Case("z = ±1000, alpha=1.5", (np.array([-1000.0, 1000.0]),), {"alpha": 1.5}),
            Case("alpha=0 (plain ReLU)", (rng.normal(scale=3, size=8),), {"alpha": 0.0}),
            Case("alpha=−1", (np.array([-1.0, 1.0]),), {"alpha": -1.0}, raises="ValueError"),
            Case("alpha=inf", (np.array([-1.0, 1.0]),), {"alpha": float("inf")}, raises="ValueError"),
        ]
        return cases

    def judge(self, case, got, expected):
        alpha = float(case.kwargs.get("alpha", 1.0))
        _judge_elementwise(self, case, got, expected,
                           lambda array: f"ELU never goes below −α = {-alpha:g}." if (array < -alpha - 1e-9).any()
                           else None)


_ELU_GRAD = "return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))"


@register
class EluGrad(ElementwiseExercise):
    name = "elu_grad"
    mistakes = (
        Mutant("at exactly z = 0 Keras's autodiff takes the negative branch, α·e^0 = α (the lesson prints it): "
               "use z > 0 for the slope-1 branch.", {"np.where(z > 0,": "np.where(z >= 0,"}),
        Mutant("this is elu(z) itself; its slope is 1 for z > 0 and α·e^z for z ≤ 0.",
               {_ELU_GRAD: "return elu(z, alpha)"}),
        Mutant("α·(e^z − 1) is ELU's value, not its slope: the −1 is a constant and drops out, leaving α·e^z.",
               {"alpha * np.exp(": "alpha * np.expm1("}),
        Mutant("0 for z ≤ 0 is ReLU's slope; ELU's negative branch has slope α·e^z.",
               {_ELU_GRAD: "return relu_grad(z)"}),
        Mutant("the alpha argument is ignored: the answer used α = 1.", {"alpha * np.exp(": "np.exp("}),
    )

    def basic_cases(self):
        return [Case(args=(np.array([-1.0, 0.0, 2.0]),),
                     hint="α·e^z for z ≤ 0 and 1 for z > 0; with α = 1 both give 1 at z = 0."),
                Case(args=(np.array([-1.0, 0.0, 2.0]),), kwargs={"alpha": 2.0},
                     hint="at exactly z = 0 TensorFlow takes the negative branch: α·e^0 = α."),
                wide_case("1 for z > 0, α·e^z elsewhere, as TensorFlow's autodiff gives.", alpha=2.0)]

    def hidden_cases(self):
        cases = _elementwise_cases(3005)
        rng = np.random.default_rng(3015)
        cases += [
            Case("z with exact zeros, alpha=0.5", (np.array([-2.0, 0.0, 0.0, 2.0]),), {"alpha": 0.5}),
            Case("random z, alpha=2", (rng.normal(scale=3, size=(3, 4)),), {"alpha": 2}),
            Case("float32 z = ±100, alpha=3", (np.array([-100.0, 100.0], "float32"),), {"alpha": 3.0}),
            Case("alpha=0 (ReLU's slope)", (rng.normal(scale=3, size=8),), {"alpha": 0.0}),
            Case("alpha=−0.5", (np.array([-1.0, 1.0]),), {"alpha": -0.5}, raises="ValueError"),
        ]
        return cases

    def judge(self, case, got, expected):
        _judge_elementwise(self, case, got, expected)


# -- active units in a Keras model ------------------------------------------------------------
def _model(layers, input_shape, rng, dead_biases=()):
    """A Sequential model of Dense ``layers`` ((units, activation) pairs; the last is the output),
    after a Flatten when ``input_shape`` has more than one axis. Weights are drawn from ``rng``
    (Glorot-uniform scale) rather than Keras's global stream, so grading leaves a learner's
    notebook seeds untouched. ``dead_biases``: (layer index, unit slice, bias) to set."""
    import keras

    stack = [keras.Input(input_shape)] + ([keras.layers.Flatten()] if len(input_shape) > 1 else [])
    stack += [keras.layers.Dense(units, activation=activation, kernel_initializer="zeros")
              for units, activation in layers]
    model = keras.Sequential(stack)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    for layer in dense:
        fan_in, fan_out = layer.kernel.shape
        limit = np.sqrt(6 / (fan_in + fan_out))
        layer.kernel.assign(rng.uniform(-limit, limit, (fan_in, fan_out)).astype("float32"))
    for index, units, bias in dead_biases:
        values = np.zeros(dense[index].bias.shape, "float32")
        values[units] = bias
        dense[index].bias.assign(values)
    return model


@functools.cache
def _activity_cases():
    """Hidden cases shared by ``active_fraction`` and ``dead_units``."""
    rng = np.random.default_rng(3006)

    def batch(n, *shape):
        return rng.normal(size=(n, *shape)).astype("float32")

    hidden = [Case("a 2-hidden-layer ReLU net (16 and 8 units), 40 examples",
                   (KerasModelArg(_model([(16, "relu"), (8, "relu"), (3, None)], (6,), rng)), batch(40, 6)))]
    deep = _model([(32, "relu")] * 5 + [(10, "softmax")], (12,), rng)
    dying = _model([(24, "relu"), (16, "relu"), (4, None)], (8,), rng,
                   dead_biases=[(0, slice(0, 8), -50.0), (0, slice(8, 14), -1.5), (1, slice(0, 3), -50.0)])
    images = _model([(20, "relu"), (12, "relu"), (5, "softmax")], (6, 6, 1), rng,
                    dead_biases=[(1, slice(0, 4), -50.0)])
    smooth = _model([(16, "sigmoid"), (16, "tanh"), (2, None)], (5,), rng)
    leaky = _model([(16, "leaky_relu"), (8, "elu"), (2, None)], (5,), rng,
                   dead_biases=[(0, slice(0, 5), -50.0), (1, slice(0, 2), -3.0)])
    single = _model([(10, "relu"), (3, None)], (4,), rng, dead_biases=[(0, slice(0, 2), -50.0)])
    hidden += [
        Case("a 5-hidden-layer ReLU net of width 32, 100 examples", (KerasModelArg(deep), batch(100, 12))),
        Case("a ReLU net with dead units (bias −50) and units that fire for some examples only (bias −1.5)",
             (KerasModelArg(dying), batch(60, 8))),
        Case("Flatten → two hidden ReLU layers → softmax, on 6×6 images", (KerasModelArg(images), batch(30, 6, 6, 1))),
        Case("sigmoid then tanh hidden layers", (KerasModelArg(smooth), batch(50, 5))),
        Case("leaky_relu then elu hidden layers, some units below zero for every example",
             (KerasModelArg(leaky), batch(50, 5))),
        Case("a single hidden layer with two dead units", (KerasModelArg(single), batch(25, 4))),
        Case("a batch of one example", (KerasModelArg(deep), batch(1, 12))),
        Case("x with 5 features for a net that expects 6", (KerasModelArg(_model([(4, "relu"), (2, None)], (6,), rng)),
                                                             batch(10, 5)), raises="ValueError"),
        Case("an empty batch (0 examples)", (KerasModelArg(deep), batch(0, 12)), raises="ValueError"),
    ]
    return hidden


def _hidden_units(model):
    """The units of each hidden Dense layer (every Dense layer but the last), input side first,
    and whether the model has layers other than Dense ones (a Flatten)."""
    import keras

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    return np.array([layer.units for layer in dense[:-1]]), len(dense) < len(model.layers)


_OUTPUTS = "return [np.asarray(output) for output in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]"


class _ActivityExercise(Exercise):
    """Shared cases and shape checks of ``active_fraction`` and ``dead_units``."""

    per_layer = None  # "fraction" or "count", for messages
    code_imports = "import keras\nimport numpy as np"
    # One input, three ReLU units with weights 1, −1, 0.5 and biases 0, 0, −5, then one output
    # unit: small enough to work out by hand (the lesson does).
    HAND_WORKED_NET = ("keras.Sequential([keras.Input((1,)), keras.layers.Dense(3, activation='relu', "
                       "kernel_initializer=keras.initializers.Constant([[1.0, -1.0, 0.5]]), "
                       "bias_initializer=keras.initializers.Constant([0.0, 0.0, -5.0])), "
                       "keras.layers.Dense(1, kernel_initializer='ones')])")

    def hand_worked_case(self, x, label, hint, raises=None):
        """A visible case on the hand-worked net with the batch ``x`` (source)."""
        return Case(f"hand-worked net, {label}", args_code=f"{self.HAND_WORKED_NET}, {x}", raises=raises, hint=hint)

    def hidden_cases(self):
        return _activity_cases()

    def matches(self, array, expected):
        """Whether ``array`` is ``expected`` within ``TOLERANCE``, as named_mistake compares too."""
        return allclose(array, expected, **self.TOLERANCE)

    def judge(self, case, got, expected):
        array = as_float_array(got)
        expected = np.asarray(expected, dtype=float)
        if array is None:
            raise CheckFailed(f"{self.name}({case.label}) returned {type(got).__name__}; return a NumPy "
                              f"array (or list) with one {self.per_layer} per hidden layer.")
        if array.ndim == 0 and array.size == 1:
            if np.isclose(array, expected.sum()) or np.isclose(array, expected.mean()):
                fail(self.name, case, expected, got, f"one {self.per_layer} per hidden layer, not a single "
                     "number for the whole network.")
            fail(self.name, case, expected, got, f"return one {self.per_layer} per hidden layer.")
        if self.matches(array, expected):
            return
        model, x = case.args[0].model, np.asarray(case.args[1])
        units, flattens = _hidden_units(model)
        # Not Mutants: which layers are hidden is decided in active_fraction's cell, which
        # dead_units's Mutants cannot edit (its function keeps the reference's helpers).
        if array.shape == (len(expected) + 1,):
            if self.matches(array[:-1], expected):
                fail(self.name, case, expected, got, "the output layer is included: only the Dense layers "
                     "before it are hidden layers.")
            if flattens and self.matches(array[1:], expected):
                fail(self.name, case, expected, got, "Flatten is not a hidden layer (it has no units of its "
                     "own): take the Dense layers except the last.")
        if len(units) == 1 and array.shape == (len(x),):
            fail(self.name, case, expected, got, "with one hidden layer, keras.Model(inputs, [output]) "
                 "returns a single tensor, not a list of one: looping over it walks the examples. Wrap it "
                 "in a list when it is not one.")
        if array.shape != expected.shape:
            fail(self.name, case, expected, got, f"one {self.per_layer} per hidden layer: {len(expected)} "
                 f"here (Dense layers except the output layer).")
        self.fail_known(case, got, expected)
        fail(self.name, case, expected, got)


@register
class ActiveFraction(_ActivityExercise):
    name = "active_fraction"
    per_layer = "fraction"
    TOLERANCE = {"rtol": 0, "atol": 1e-5}
    mistakes = (
        Mutant("output ≥ 0 counts units sitting at exactly 0, and a ReLU output is never negative, so every "
               "unit looks active: count output > 0.", {"(output > 0).mean()": "(output >= 0).mean()"}),
        Mutant("this is the fraction of units active for at least one example; active_fraction averages over "
               "the examples too (every example–unit pair).",
               {"float((output > 0).mean())": "float(np.any(output > 0, axis=0).mean())"}),
        Mutant("this counts pre-activations z > 0; the exercise counts outputs > 0. A sigmoid unit's output is "
               "always positive, whatever the sign of z.",
               {"[layer.output for layer in hidden]": "[layer.input for layer in hidden]",
                _OUTPUTS: "return [np.asarray(output) @ layer.kernel.numpy() + layer.bias.numpy() for output, layer "
                          "in zip(outputs if isinstance(outputs, (list, tuple)) else [outputs], hidden)]"}),
        Mutant("these are counts of active units per example; return fractions in [0, 1].",
               {"float((output > 0).mean())": "float((output > 0).sum(axis=1).mean())"}),
        Mutant("these are counts over the batch; divide by examples × units.",
               {"float((output > 0).mean())": "float((output > 0).sum())"}),
        Mutant("this is the fraction of inactive pairs: count output > 0, the active ones.",
               {"(output > 0).mean()": "(output <= 0).mean()"}),
    )

    def basic_cases(self):
        return [self.hand_worked_case("np.array([[1.0], [-1.0], [2.0]], 'float32')", "x = 1, -1, 2",
                                      "one number per hidden layer (the output layer is not hidden): active "
                                      "pairs / (examples × units)."),
                self.hand_worked_case("np.zeros((0, 1), 'float32')", "an empty batch",
                                      "no examples, no fraction: raise ValueError.", raises="ValueError")]


@register
class DeadUnits(_ActivityExercise):
    name = "dead_units"
    per_layer = "count"
    TOLERANCE = {"rtol": 0, "atol": 1e-9}
    mistakes = (
        Mutant("this counts units that are 0 for *some* example; a dead unit is 0 for *every* example of the "
               "batch (np.all over axis 0).", {"np.all(": "np.any("}),
        Mutant("units whose output is negative are not dead: a leaky ReLU unit below zero still passes slope × "
               "its gradient. Dead means output exactly 0 for every example.", {"output == 0": "output <= 0"}),
        Mutant("this counts examples whose whole layer is 0 (axis 1); count units (columns) that are 0 down "
               "every example (axis 0).", {"axis=0": "axis=1"}),
        Mutant("this is the fraction of dead units; return the count.",
               {"int(np.all(output == 0, axis=0).sum())": "float(np.all(output == 0, axis=0).mean())"}),
        Mutant("this counts the units that are alive; count the dead ones.",
               {"int(np.all(output == 0, axis=0).sum())": "int(np.any(output != 0, axis=0).sum())"}),
    )

    def basic_cases(self):
        return [self.hand_worked_case("np.array([[1.0], [-1.0], [2.0]], 'float32')", "x = 1, -1, 2",
                                      "count units that are 0 for every example (the third), per hidden layer."),
                self.hand_worked_case("np.array([[1.0]], 'float32')", "x = 1 only",
                                      "on x = 1 alone the second unit is silent too: dead is judged on the "
                                      "batch you pass."),
                self.hand_worked_case("np.zeros((0, 1), 'float32')", "an empty batch",
                                      "no examples: raise ValueError.", raises="ValueError")]
