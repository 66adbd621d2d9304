"""Lesson 08, L2 regularization: ``l2_penalty`` and ``l2_penalty_grad``, Keras's ``L2(lam)``.

The references are the lesson's solution cells, in float64 so that the comparison measures the
learner's formula, not float32 rounding; the course's tests check them against
``keras.regularizers.L2(lam)`` summed over the list and its ``tf.GradientTape`` gradient. The
known mistakes (:class:`Mutant` s of the solution cells) are the conventions learners bring from
elsewhere (the ½ of textbooks, deeplearning.ai's λ/2m) and the slips (mean for sum, norm for
squared norm, λW for 2λW); the judges name them.

Changing an input in place cannot be seen through the plain ``"call"`` kind (the harness hands
the learner a copy): the call kind ``MUTATION_KIND`` returns ``{"result": …, "args_after": [the
arguments after the call]}``, so the hidden cases (and one visible case per exercise) check that
the arrays passed in are left alone.
"""


import numpy as np

from autograder.exercise import MUTATION_KIND, Case, CheckFailed, Exercise, allclose, as_float_array, fail
from autograder.registry import register
from autograder.solution import Mutant

RTOL, ATOL = 1e-5, 1e-12  # float32 inputs summed in float32 stay well inside 1e-5


# -- mistakes: Mutants of the solution cells' expressions --------------------------------------
PENALTY = "lam * sum(np.sum(np.square(np.asarray(w, dtype=float))) for w in weights)"  # l2_penalty's
GRADIENT = "2 * lam * np.asarray(w, dtype=float)"  # l2_penalty_grad's, for each array w
DIVIDES_BY_M = ("this divides by m (or 2m), the λ/2m convention of deeplearning.ai's cost. Keras's L2(λ) is the "
                "plain λ·Σw², with no m: a λ/2m course value converts to λ_keras = λ/(2m) once, outside the penalty.")
# the m's a learner might take for the number of examples in λ/2m: how many arrays, how many
# weights, the first array's first dimension (the one that would be examples in a batch)
SIZES = ("len(weights)", "sum(np.size(v) for v in weights)", "np.shape(weights[0])[0]")


def _penalty(what, penalty):
    """A mistake in l2_penalty: ``penalty`` in place of the solution's λ·Σw²."""
    return Mutant(what, {PENALTY: penalty})


def _gradient(what, gradient):
    """A mistake in l2_penalty_grad: ``gradient`` (of each array w) in place of the solution's 2λw."""
    return Mutant(what, {GRADIENT: gradient})


# -- cases -----------------------------------------------------------------------------------
def _random_weights(rng, n_arrays):
    """A model-like list: kernels (2-D), biases (1-D) and now and then a conv kernel (4-D)."""
    shapes = [(int(rng.integers(1, 7)), int(rng.integers(1, 7))), (int(rng.integers(1, 7)),),
              (3, 3, int(rng.integers(1, 4)), int(rng.integers(1, 4)))]
    return [rng.normal(scale=rng.uniform(0.1, 3.0), size=shapes[rng.integers(len(shapes))])
            for _ in range(n_arrays)]


def _cases():
    """The cases both exercises share: (label, weights, lam, raises)."""
    rng = np.random.default_rng(1008)
    cases = []
    for _ in range(6):
        n_arrays, lam = int(rng.integers(2, 6)), float(10 ** rng.uniform(-5, 0))
        cases.append((f"{n_arrays} random arrays, λ={lam:.3g}", _random_weights(rng, n_arrays), lam, None))
    kernel = rng.normal(size=(5, 4)).astype("float32")
    cases += [
        ("one kernel and its bias as float32 (as model.get_weights() gives)",
         [kernel, rng.normal(size=4).astype("float32")], 0.01, None),
        ("a single 3×2 kernel, λ=0.5", [rng.normal(size=(3, 2))], 0.5, None),
        ("λ=0: no penalty", _random_weights(rng, 3), 0.0, None),
        ("λ=1 given as the int 1", [np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([4.0])], 1, None),
        ("large weights (norm ≈ 300), λ=1e-4", [rng.normal(scale=30.0, size=(10, 10))], 1e-4, None),
        ("an empty list", [], 0.1, None),
        ("λ=-0.01 (negative)", [np.ones((2, 2))], -0.01, "ValueError"),
        ("λ=-1e-6 (slightly negative)", [np.ones(3)], -1e-6, "ValueError"),
    ]
    return cases


def _hand_weights():
    """The self-check's weights: Σw² = 1 + 4 + 4 + 0 + 9 = 18."""
    return [np.array([[1.0, 2.0], [2.0, 0.0]]), np.array([3.0])]


RANDOM_WEIGHTS_CODE = "[np.random.default_rng(8).normal(size=shape) for shape in [(5, 4), (4,), (4, 3)]], 0.003"


class _L2Exercise(Exercise):
    """What the two exercises share: cases, the mutation check, how a known mistake is recognised."""

    TOLERANCE = {"rtol": RTOL, "atol": ATOL}

    def hidden_cases(self):
        cases = [Case(label, (weights, lam), raises=raises) for label, weights, lam, raises in _cases()]
        return cases + [Case(f"{case.label}, arrays checked afterwards", case.args, kind=MUTATION_KIND)
                        for case in cases[:3]]

    def judge(self, case, got, expected):
        if case.kind == MUTATION_KIND:
            got, (after, *_) = self.result_and_inputs_after(case, got)
            before = case.args[0]
            if len(after) != len(before) or not all(allclose(a, b, rtol=0, atol=0) for a, b in zip(after, before)):
                raise CheckFailed(f"{self.name}({case.label}): the arrays passed in were changed. Likely cause: "
                                  "an in-place operation on the caller's arrays (w **= 2, w *= 2 * lam, "
                                  "np.square(w, out=w), weights[i] = …). The caller's weights are the model's: "
                                  "compute with new arrays and leave those alone.")
        self.judge_result(case, got, expected)

    def judge_result(self, case, got, expected):
        raise NotImplementedError



@register
class L2Penalty(_L2Exercise):
    name = "l2_penalty"
    mistakes = (
        _penalty("this is (λ/2)·Σw², the ½ convention of many textbooks (it makes the gradient λW). Keras's "
                 "L2(λ) has no ½: it adds λ·Σw², whose gradient is 2λW.", "0.5 * " + PENALTY),
        *(_penalty("a mean instead of a sum: L2 adds up the squares of all weights (np.sum, not np.mean), so a "
                   "bigger layer carries a bigger penalty.", penalty) for penalty in (
            "lam * np.mean(np.concatenate([np.square(np.asarray(w, dtype=float)).ravel() for w in weights]))",
            "lam * sum(np.mean(np.square(np.asarray(w, dtype=float))) for w in weights)")),
        *(_penalty(DIVIDES_BY_M, f"lam / {m} * sum(np.sum(np.square(np.asarray(w, dtype=float))) for w in weights)")
          for size in SIZES for m in (f"(2 * {size})", size)),
        *(_penalty("that is λ times a norm ‖w‖; the penalty uses the squared norm ‖w‖² = Σw² (no square root).",
                   penalty) for penalty in (
            "lam * np.sqrt(sum(np.sum(np.square(np.asarray(w, dtype=float))) for w in weights))",
            "lam * sum(np.sqrt(np.sum(np.square(np.asarray(w, dtype=float)))) for w in weights)")),
        _penalty("that is λ·Σ|w|, the L1 penalty; L2 squares the weights.",
                 "lam * sum(np.sum(np.abs(np.asarray(w, dtype=float))) for w in weights)"),
        _penalty("λ is missing: multiply the sum of squares by lam.",
                 "sum(np.sum(np.square(np.asarray(w, dtype=float))) for w in weights)"),
        *(_penalty("only one array is counted; the sum runs over every array in the list.",
                   f"lam * sum(np.sum(np.square(np.asarray(w, dtype=float))) for w in weights[{part}])")
          for part in (":1", "-1:")),
    )

    def basic_cases(self):
        return [
            Case(args=(_hand_weights(), 0.1), result_type=float, hint="Σw² = 1 + 4 + 4 + 0 + 9 = 18, and Keras's "
                 "L2(0.1) adds 0.1 · 18 = 1.8: no ½, no 1/m, a sum over both arrays (not a mean), squares (not a "
                 "norm); return float(total)."),
            Case("three random arrays, lam=0.003", args_code=RANDOM_WEIGHTS_CODE, rtol=1e-6,
                 hint="it should equal Keras's L2(0.003) summed over the arrays."),
            Case(args=(_hand_weights(), 0.0), hint="λ = 0 means no penalty."),
            Case(args=(_hand_weights(), -0.1), raises="ValueError",
                 hint="a negative λ would reward large weights; raise ValueError, as Keras does."),
            Case(args=(_hand_weights(), 0.1), kind=MUTATION_KIND, probe="gradclinic.summaries.arguments_after",
                 hint="use np.square(w) or w ** 2 (new arrays), not w **= 2 or out=w: the caller's weights "
                      "are the model's."),
        ]

    def judge_result(self, case, got, expected):
        weights, lam = [np.asarray(w, float) for w in case.args[0]], float(case.args[1])
        if isinstance(got, (list, tuple)) or (isinstance(got, np.ndarray) and got.size != 1):
            per_array = [lam * np.sum(w ** 2) for w in weights]
            why = ("these are the penalties of each array separately: add them up" if allclose(got, per_array)
                   else "return one number for the whole list")
            fail(self.name, case, expected, got, f"{why}, a single float (Keras adds one penalty per layer "
                 "and the loss sums them).")
        if isinstance(got, np.ndarray):
            fail(self.name, case, expected, got, "a NumPy array came back; return a Python float: float(total).")
        if type(got) not in (float, int):
            raise CheckFailed(f"{self.name}({case.label}) returned {type(got).__name__}; return a float.")
        if allclose(got, expected, rtol=RTOL, atol=ATOL):
            return
        cause = self.named_mistake(case, got) if expected > 0 else None
        fail(self.name, case, expected, got, cause or "the penalty is λ times the sum of the squares of every "
             "weight in every array: λ·Σw².")


@register
class L2PenaltyGrad(_L2Exercise):
    name = "l2_penalty_grad"
    mistakes = (
        _gradient("this is λW, the gradient of (λ/2)·Σw² (the ½ convention). Keras's L2(λ) is λ·Σw², whose "
                  "gradient is 2λW.", "lam * np.asarray(w, dtype=float)"),
        *(_gradient("a mean crept in: the penalty is a sum, so each weight's gradient is 2λw with no division.",
                    f"{GRADIENT} / {size}") for size in (SIZES[1], "np.size(w)")),
        *(_gradient("this divides by m, deeplearning.ai's (λ/m)·W for a λ/2m cost. Keras's L2(λ) has no m: its "
                    "gradient is 2λW.", f"{gradient} / {size}")
          for size in SIZES for gradient in ("lam * np.asarray(w, dtype=float)", GRADIENT)),
        _gradient("the sign is flipped: the gradient points uphill, +2λW; the optimizer subtracts it (that "
                  "subtraction is the 'decay').", "-" + GRADIENT),
        _gradient("these are the weights after a decay step, (1 − 2λ)W; return the gradient 2λW itself.",
                  f"np.asarray(w, dtype=float) - {GRADIENT}"),
        *(_gradient("that is the gradient of the L1 penalty λ·Σ|w|; L2's is 2λW.",
                    f"{factor} * np.sign(np.asarray(w, dtype=float))") for factor in ("2 * lam", "lam")),
        *(_gradient("that is the gradient of λ·‖w‖ (a norm); the penalty is λ·‖w‖² = λ·Σw², whose gradient is "
                    "2λW.", f"lam * np.asarray(w, dtype=float) / {norm}") for norm in (
            "np.sqrt(sum(np.sum(np.square(np.asarray(v, dtype=float))) for v in weights))",
            "np.linalg.norm(np.asarray(w, dtype=float))")),
        *(_gradient("λ is missing: the gradient is 2·lam·w.", gradient)
          for gradient in ("2 * np.asarray(w, dtype=float)", "np.asarray(w, dtype=float)")),
    )

    def basic_cases(self):
        probe = "gradclinic.summaries.tensors"
        return [
            Case(args=(_hand_weights(), 0.1), probe=probe, hint="one gradient per weight array, in the same "
                 "order; ∂(λw²)/∂w = 2λw: each entry times 0.2, so 2 · 0.1 · 3 = 0.6 (λW would be the ½ "
                 "convention's gradient)."),
            Case("three random arrays, lam=0.003", args_code=RANDOM_WEIGHTS_CODE, probe=probe, rtol=1e-6,
                 hint="it should equal TensorFlow's gradient of Keras's L2(0.003)."),
            Case(args=(_hand_weights(), -0.1), raises="ValueError",
                 hint="raise ValueError for a negative λ, as l2_penalty does."),
            Case(args=(_hand_weights(), 0.1), kind=MUTATION_KIND, probe="gradclinic.summaries.arguments_after",
                 hint="build new arrays (2 * lam * w), not w *= 2 * lam: the caller's weights are the model's."),
        ]

    def judge_result(self, case, got, expected):
        weights, lam = [np.asarray(w, float) for w in case.args[0]], float(case.args[1])
        if isinstance(got, np.ndarray) or not isinstance(got, (list, tuple)):
            raise CheckFailed(f"{self.name}({case.label}) returned {type(got).__name__}; return a list with one "
                              "gradient array per weight array, in the same order.")
        if len(got) != len(expected):
            fail(self.name, case, f"{len(expected)} arrays", f"{len(got)} arrays",
                 "return one gradient per array in weights, in the same order.")
        arrays = [as_float_array(g) for g in got]
        for index, (array, want) in enumerate(zip(arrays, expected)):
            if array is None or array.shape != want.shape:
                shape = None if array is None else array.shape
                fail(self.name, case, f"shape {want.shape}", f"shape {shape} at position {index}",
                     "each gradient has the shape of its weight array (∂/∂w is one number per weight).")
        if all(allclose(a, e, rtol=RTOL, atol=ATOL) for a, e in zip(arrays, expected)):
            return
        cause = self.named_mistake(case, arrays) if lam > 0 and any(np.any(w != 0) for w in weights) else None
        fail(self.name, case, expected[0], arrays[0], cause or "the gradient of λ·Σw² with respect to each weight "
             "is 2λw.")
