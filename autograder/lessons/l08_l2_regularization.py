"""Lesson 08, L2 regularization: ``l2_penalty`` and ``l2_penalty_grad``, judged against Keras.

The references *are* Keras: the penalty is ``keras.regularizers.L2(lam)`` summed over the list,
its gradient comes from ``tf.GradientTape`` on that penalty. Both run in float64 so that the
comparison measures the learner's formula, not float32 rounding. The judges recognise the
conventions learners bring from elsewhere (the ½ of textbooks, deeplearning.ai's λ/2m) and the
slips (mean for sum, norm for squared norm, λW for 2λW) and name them.

Changing an input in place cannot be seen through the plain ``"call"`` kind (the harness hands
the learner a copy): the call kind ``MUTATION_KIND`` returns ``{"result": …, "args_after": [the
arguments after the call]}``, so the hidden cases (and one visible case per exercise) check that
the arrays passed in are left alone.
"""


import numpy as np

from autograder.exercise import Case, CheckFailed, Exercise, allclose, as_float_array, fail
from autograder.registry import register

MUTATION_KIND = "call_returning_inputs"
RTOL, ATOL = 1e-5, 1e-12  # float32 inputs summed in float32 stay well inside 1e-5


# -- references ------------------------------------------------------------------------------
def _as_float64_list(weights):
    if isinstance(weights, np.ndarray) or not isinstance(weights, (list, tuple)):
        raise ValueError(f"weights must be a list of arrays (e.g. model.get_weights()), got {type(weights).__name__}")
    return [np.asarray(w, dtype="float64") for w in weights]


def l2_penalty(weights, lam):
    """Reference: Keras's ``L2(lam)`` penalty λ·Σw², summed over every array, as a float."""
    import keras

    regularizer = keras.regularizers.L2(lam)  # Keras itself refuses λ < 0, NaN and inf (ValueError)
    return float(sum(float(regularizer(w)) for w in _as_float64_list(weights)))


def l2_penalty_grad(weights, lam):
    """Reference: ∂(λ·Σw²)/∂w for every array, by automatic differentiation of Keras's ``L2``."""
    import keras
    import tensorflow as tf

    regularizer = keras.regularizers.L2(lam)
    variables = [tf.Variable(w) for w in _as_float64_list(weights)]
    with tf.GradientTape() as tape:
        penalty = tf.add_n([regularizer(v) for v in variables]) if variables else tf.constant(0.0, tf.float64)
    return [np.asarray(g) for g in tape.gradient(penalty, variables)] if variables else []


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
    """What the two exercises share: cases, the mutation check, the m's of a λ/2m mistake."""

    def hidden_cases(self):
        cases = [Case(label, (weights, lam), raises=raises) for label, weights, lam, raises in _cases()]
        return cases + [Case(f"{case.label}, arrays checked afterwards", case.args, kind=MUTATION_KIND)
                        for case in cases[:3]]

    def judge(self, case, got, expected):
        if case.kind == MUTATION_KIND:
            if not isinstance(got, dict) or set(got) != {"result", "args_after"}:
                raise CheckFailed(f"{self.name}({case.label}): the grader could not read the answer.")
            after = got["args_after"][0]
            before = case.args[0]
            if len(after) != len(before) or not all(allclose(a, b, rtol=0, atol=0) for a, b in zip(after, before)):
                raise CheckFailed(f"{self.name}({case.label}): the arrays passed in were changed. Likely cause: "
                                  "an in-place operation on the caller's arrays (w **= 2, w *= 2 * lam, "
                                  "np.square(w, out=w), weights[i] = …). The caller's weights are the model's: "
                                  "compute with new arrays and leave those alone.")
            got = got["result"]
        self.judge_result(case, got, expected)

    def judge_result(self, case, got, expected):
        raise NotImplementedError

    @staticmethod
    def batch_sizes(weights):
        """Numbers a learner might have taken for m in λ/2m: how many arrays, how many weights,
        the first array's first dimension (the one that would be examples in a batch)."""
        sizes = {len(weights), sum(np.size(w) for w in weights)}
        if weights and np.ndim(weights[0]) >= 1:
            sizes.add(np.shape(weights[0])[0])
        return sorted(m for m in sizes if m > 1)


@register
class L2Penalty(_L2Exercise):
    name = "l2_penalty"

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

    def reference(self, weights, lam):
        return l2_penalty(weights, lam)

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
        sum_sq = sum(np.sum(w ** 2) for w in weights)
        n_total = sum(w.size for w in weights)
        if expected > 0:
            self._name_the_mistake(case, got, expected, weights, lam, sum_sq, n_total)
        fail(self.name, case, expected, got, "the penalty is λ times the sum of the squares of every "
             "weight in every array: λ·Σw².")

    def _name_the_mistake(self, case, got, expected, weights, lam, sum_sq, n_total):
        def near(value):
            return allclose(got, value, rtol=RTOL, atol=ATOL)

        if near(expected / 2):
            fail(self.name, case, expected, got, "this is (λ/2)·Σw², the ½ convention of many textbooks (it "
                 "makes the gradient λW). Keras's L2(λ) has no ½: it adds λ·Σw², whose gradient is 2λW.")
        means = [lam * sum_sq / n_total, lam * sum(np.mean(w ** 2) for w in weights if w.size)]
        if any(near(value) for value in means):
            fail(self.name, case, expected, got, "a mean instead of a sum: L2 adds up the squares of all "
                 "weights (np.sum, not np.mean), so a bigger layer carries a bigger penalty.")
        for m in self.batch_sizes(weights):
            if near(expected / (2 * m)) or near(expected / m):
                fail(self.name, case, expected, got, "this divides by m (or 2m), the λ/2m convention of "
                     "deeplearning.ai's cost. Keras's L2(λ) is the plain λ·Σw², with no m: a λ/2m course "
                     "value converts to λ_keras = λ/(2m) once, outside the penalty.")
        if near(lam * np.sqrt(sum_sq)) or near(lam * sum(np.linalg.norm(w) for w in weights)):
            fail(self.name, case, expected, got, "that is λ times a norm ‖w‖; the penalty uses the squared "
                 "norm ‖w‖² = Σw² (no square root).")
        if near(lam * sum(np.abs(w).sum() for w in weights)):
            fail(self.name, case, expected, got, "that is λ·Σ|w|, the L1 penalty; L2 squares the weights.")
        if lam != 1 and near(sum_sq):
            fail(self.name, case, expected, got, "λ is missing: multiply the sum of squares by lam.")
        if len(weights) > 1 and any(near(lam * np.sum(w ** 2)) for w in (weights[0], weights[-1])):
            fail(self.name, case, expected, got, "only one array is counted; the sum runs over every array "
                 "in the list.")


@register
class L2PenaltyGrad(_L2Exercise):
    name = "l2_penalty_grad"

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

    def reference(self, weights, lam):
        return l2_penalty_grad(weights, lam)

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
        if lam > 0 and any(np.any(w != 0) for w in weights):
            self._name_the_mistake(case, arrays, expected, weights, lam)
        fail(self.name, case, expected[0], arrays[0], "the gradient of λ·Σw² with respect to each weight is 2λw.")

    def _name_the_mistake(self, case, arrays, expected, weights, lam):
        def every(transform):
            return all(allclose(a, transform(w), rtol=RTOL, atol=ATOL) for a, w in zip(arrays, weights))

        first = arrays[0]
        if every(lambda w: lam * w):
            fail(self.name, case, expected[0], first, "this is λW, the gradient of (λ/2)·Σw² (the ½ "
                 "convention). Keras's L2(λ) is λ·Σw², whose gradient is 2λW.")
        n_total = sum(w.size for w in weights)
        if every(lambda w: 2 * lam * w / n_total) or every(lambda w: 2 * lam * w / w.size):
            fail(self.name, case, expected[0], first, "a mean crept in: the penalty is a sum, so each "
                 "weight's gradient is 2λw with no division.")
        for m in self.batch_sizes(weights):
            if every(lambda w: lam * w / m) or every(lambda w: 2 * lam * w / m):
                fail(self.name, case, expected[0], first, "this divides by m, deeplearning.ai's (λ/m)·W for "
                     "a λ/2m cost. Keras's L2(λ) has no m: its gradient is 2λW.")
        if every(lambda w: -2 * lam * w):
            fail(self.name, case, expected[0], first, "the sign is flipped: the gradient points uphill, +2λW; "
                 "the optimizer subtracts it (that subtraction is the 'decay').")
        if every(lambda w: w - 2 * lam * w):
            fail(self.name, case, expected[0], first, "these are the weights after a decay step, (1 − 2λ)W; "
                 "return the gradient 2λW itself.")
        if every(lambda w: 2 * lam * np.sign(w)) or every(lambda w: lam * np.sign(w)):
            fail(self.name, case, expected[0], first, "that is the gradient of the L1 penalty λ·Σ|w|; L2's "
                 "is 2λW.")
        norm = np.sqrt(sum(np.sum(w ** 2) for w in weights))
        if every(lambda w: lam * w / norm) or all(allclose(a, lam * w / np.linalg.norm(w), rtol=RTOL, atol=ATOL)
                                                  for a, w in zip(arrays, weights) if np.any(w)):
            fail(self.name, case, expected[0], first, "that is the gradient of λ·‖w‖ (a norm); the penalty "
                 "is λ·‖w‖² = λ·Σw², whose gradient is 2λW.")
        if every(lambda w: 2 * w) or every(lambda w: w):
            fail(self.name, case, expected[0], first, "λ is missing: the gradient is 2·lam·w.")
