"""Lesson 07, gradient clipping: ``clip_by_value``, ``clip_by_norm`` and ``clip_by_global_norm``.

The reference is the lesson's solution cell (TensorFlow/Keras's rules: ``tf.clip_by_value(g, -c,
c)``, Keras's ``clipnorm`` = ``tf.clip_by_norm`` on each tensor, ``tf.clip_by_global_norm``; the
course's tests compare it with TensorFlow's own functions). Gradients are lists of NumPy arrays.
Known mistakes are :class:`Mutant` s of the solution cells.

Changing an input in place cannot be seen through the plain ``"call"`` kind (the harness hands
the learner a copy): with the call kind ``MUTATION_KIND`` the arguments come back beside the
result, so the hidden cases (and one visible case per exercise) check that they are left alone.
"""

import numpy as np

from autograder.exercise import MUTATION_KIND, Case, CheckFailed, Exercise, allclose, fail
from autograder.registry import register
from autograder.solution import Mutant

RTOL, ATOL = 1e-6, 1e-9


def _l2(array):
    return float(np.sqrt(np.sum(np.square(array))))


# -- judging lists of arrays ----------------------------------------------------------------
def _array_list(name, case, got, n_expected):
    """``got`` as a list of float arrays, or a CheckFailed saying what shape of answer is wanted."""
    if isinstance(got, np.ndarray) or not isinstance(got, (list, tuple)):
        raise CheckFailed(f"{name}({case.label}) returned {type(got).__name__}; return a list with one "
                          "array per gradient tensor, in the same order.")
    if len(got) != n_expected:
        raise CheckFailed(f"{name}({case.label}) returned {len(got)} arrays for {n_expected} gradient "
                          "tensors; return one clipped array per input tensor, in the same order.")
    arrays = []
    for item in got:
        try:
            arrays.append(np.asarray(item, dtype=float))
        except (TypeError, ValueError):
            raise CheckFailed(f"{name}({case.label}) returned a list holding {type(item).__name__}; each "
                              "item must be a numeric array.") from None
    return arrays


def _same(got, expected):
    return len(got) == len(expected) and all(allclose(g, e, rtol=RTOL, atol=ATOL) for g, e in zip(got, expected))


def _shapes_match(name, case, got, grads):
    for index, (g, original) in enumerate(zip(got, grads)):
        if g.shape != original.shape:
            raise CheckFailed(f"{name}({case.label}): tensor {index} came back with shape {g.shape}, but the "
                              f"gradient has shape {original.shape}; clipping never reshapes or flattens.")


def _describe(arrays):
    """A list of arrays in one line: the values when there are few, else each tensor's L2 norm."""
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    if sum(a.size for a in arrays) <= 12:
        return "[" + ", ".join(np.array2string(a, precision=4, separator=", ", max_line_width=10**6)
                               for a in arrays) + "]"
    return "tensors with L2 norms [" + ", ".join(f"{_l2(a):.4g}" for a in arrays) + "]"


def _fail_lists(name, case, expected, got, misconception=None):
    """The teaching failure for lists of arrays: both lists in one line, the first tensor that differs."""
    first = next((i for i, (g, e) in enumerate(zip(got, expected)) if not allclose(g, e, rtol=RTOL, atol=ATOL)), 0)
    message = (f"{name}({case.label}): expected {_describe(expected)}, got {_describe(got)} "
               f"(tensor {first} is the first that differs).")
    if misconception:
        message += f"\n  Likely cause: {misconception}"
    raise CheckFailed(message)


# -- cases ----------------------------------------------------------------------------------
def _random_gradients(rng, shapes, norms):
    """Arrays of the given shapes whose L2 norms are exactly ``norms`` (0 gives zeros)."""
    grads = []
    for shape, norm in zip(shapes, norms):
        g = rng.normal(size=shape)
        grads.append(g * (norm / np.linalg.norm(g)) if norm > 0 else np.zeros(shape))
    return grads


KERNEL_SHAPES = [(6, 4), (4,), (3, 3, 2, 4), (4, 1), (1,)]
ZERO_REFUSED = (0.0, "a threshold of 0 would set every gradient to 0: refuse it with ValueError.")


def _kernel_cases(rng, settings):
    """One case per (norms, clip_norm) of ``settings``: the five kernel shapes with those norms."""
    return [Case(f"{len(KERNEL_SHAPES)} tensors, norms {norms}, clip_norm={c}",
                 (_random_gradients(rng, KERNEL_SHAPES, norms), c)) for norms, c in settings]


# -- mistakes: the lines of the solution cells that the Mutants edit -------------------------
TENSOR_NORM = "norm = np.sqrt(np.sum(g ** 2))"  # clip_by_norm's, for each tensor g
GLOBAL_NORM = "global_norm = float(np.sqrt(sum(np.sum(g ** 2) for g in arrays)))"  # clip_by_global_norm's
GLOBAL_FACTOR = "factor = clip_norm / max(global_norm, clip_norm)"
RETURNED_NORM = "return [g * factor for g in arrays], global_norm"


class _ClippingExercise(Exercise):
    """What the three exercises share: cases on lists of arrays, thresholds of 0 and below,
    inputs left alone, and the known mistakes (:class:`Mutant` s, which name a wrong answer,
    compared with it item by item within ``TOLERANCE``).

    The visible cases are the exercise's worked ``examples()``, then the first example's
    gradients with the threshold ``refused`` (threshold, hint), which must raise, and the first
    example's call with its inputs checked afterwards. The hidden cases start from
    ``input_cases(rng)``, ``rng`` seeded with ``seed``.
    """

    threshold_name = None
    refused = ZERO_REFUSED
    seed = None
    TOLERANCE = {"rtol": RTOL, "atol": ATOL}  # lists of arrays: the base compares them item by item

    def examples(self):
        """The visible worked cases, each with its hint."""
        raise NotImplementedError

    def input_cases(self, rng):
        """The good-input hidden cases (deterministic)."""
        raise NotImplementedError

    def basic_cases(self):
        examples = self.examples()
        grads, threshold = examples[0].args
        refused, hint = self.refused
        return examples + [
            Case(args=(grads, refused), raises="ValueError", hint=hint),
            Case(args=(grads, threshold), kind=MUTATION_KIND, probe="gradclinic.summaries.arguments_after",
                 hint="build new arrays (np.clip(g, ...) or g * factor) instead of changing g in place "
                      "(g *= factor, out=g, grads[i] = ...): the caller may still need the raw gradients.")]

    def hidden_cases(self):
        grads = [np.ones(3)]
        cases = self.input_cases(np.random.default_rng(self.seed)) + [
            Case(f"{self.threshold_name}=0", (grads, 0.0), raises="ValueError"),
            Case(f"{self.threshold_name}=-1 (negative)", (grads, -1.0), raises="ValueError")]
        # the same calls, the arguments checked afterwards
        return cases + [Case(f"{case.label}, inputs checked afterwards", case.args, kind=MUTATION_KIND)
                        for case in cases[:3]]

    def judge(self, case, got, expected):
        if case.kind == MUTATION_KIND:
            got, (grads_after, *_) = self.result_and_inputs_after(case, got)
            if not _same([np.asarray(g, float) for g in grads_after], [np.asarray(g, float) for g in case.args[0]]):
                raise CheckFailed(f"{self.name}({case.label}): the gradients passed in were changed. Likely cause: "
                                  "the function clips the input arrays in place (g *= factor, np.clip(..., out=g), "
                                  "grads[i] = ...); the caller still needs the raw gradients (to log their norm, to "
                                  "retry a step), so build and return new arrays.")
        grads, threshold = [np.asarray(g, float) for g in case.args[0]], float(case.args[1])
        self.judge_result(case, got, expected, grads, threshold)

    def judge_result(self, case, got, expected, grads, threshold):
        """Judge a list of clipped arrays; ``clip_by_global_norm`` extends this for its pair. A
        wrong list fails without a cause: the known mistakes name it."""
        got = _array_list(self.name, case, got, len(expected))
        _shapes_match(self.name, case, got, grads)
        if _same(got, expected):
            return
        if any(np.isnan(g).any() for g in got) and any(not np.any(g) for g in grads):
            _fail_lists(self.name, case, expected, got, "a zero gradient has norm 0, and 0/0 gave NaN: when a "
                        "norm is not above the threshold the factor c / max(norm, c) is 1 and nothing changes.")
        _fail_lists(self.name, case, expected, got)


@register
class ClipByValue(_ClippingExercise):
    name = "clip_by_value"
    threshold_name = "clip_value"
    seed = 1070
    mistakes = (
        Mutant("negative entries became 0: clip to the interval [-clip_value, clip_value], both sides.",
               {"-clip_value, clip_value)": "0.0, clip_value)"}),
        Mutant("the signs are lost: clipping limits the size of each entry and keeps its sign "
               "(np.clip(g, -clip_value, clip_value)).",
               {"np.clip(np.asarray(g, dtype=float), -clip_value, clip_value)":
                "np.minimum(np.abs(np.asarray(g, dtype=float)), clip_value)"}),
        Mutant("each tensor was rescaled by its norm (that is clip_by_norm); clipping by value caps every "
               "entry on its own.",
               {"return [np.clip(np.asarray(g, dtype=float), -clip_value, clip_value) for g in grads]":
                "return clip_by_norm(grads, clip_value)"}),
    )

    def examples(self):
        grads = [np.array([-3.0, 0.2, 5.0]), np.array([[0.5, -0.7]])]
        return [Case(args=(grads, 0.5), probe="gradclinic.summaries.tensors", hint="each entry is limited on "
                     "its own: -3 → -0.5, 5 → 0.5, -0.7 → -0.5; 0.2 and 0.5 stay. Return a new list of new arrays.")]

    def input_cases(self, rng):
        cases = [Case(f"a random list of {len(KERNEL_SHAPES)} tensors (conv, dense, bias), clip_value={c}",
                      (_random_gradients(rng, KERNEL_SHAPES, [4.0, 1.0, 9.0, 0.3, 2.0]), c))
                 for c in (0.5, 0.05)]
        return cases + [
            Case("entries exactly at ±clip_value stay", ([np.array([-1.0, 1.0, 0.999, -1.001])], 1.0)),
            Case("clip_value far above every entry: nothing changes",
                 (_random_gradients(rng, [(5, 3), (3,)], [1.0, 0.5]), 1e6)),
            Case("clip_value=1e-4: almost every entry clipped", (_random_gradients(rng, [(8, 8)], [3.0]), 1e-4)),
            Case("an integer clip_value=2", ([np.array([[-7.0, 1.5], [2.5, -0.5]])], 2)),
            Case("a single tensor", (_random_gradients(rng, [(10,)], [20.0]), 1.0)),
            Case("zero gradients", ([np.zeros((3, 2)), np.zeros(2)], 0.1)),
            Case("float32 gradients", ([rng.normal(scale=3.0, size=(4, 5)).astype("float32")], 1.5)),
        ]


@register
class ClipByNorm(_ClippingExercise):
    name = "clip_by_norm"
    threshold_name = "clip_norm"
    seed = 1071
    refused = (-1.0, "a negative threshold would flip the gradients: refuse it with ValueError.")
    mistakes = (
        Mutant("every tensor was scaled by one factor from the global norm (that is clip_by_global_norm); "
               "clip_by_norm, like Keras's clipnorm, looks at each tensor's own norm.",
               {TENSOR_NORM: "norm = np.sqrt(sum(np.sum(np.asarray(h, dtype=float) ** 2) for h in grads))"}),
        Mutant("tensors whose norm was already below clip_norm were scaled UP to clip_norm; clipping only "
               "shrinks: use c / max(‖g‖, c).", {"max(norm, clip_norm)": "norm"}),
        Mutant("this is the L1 norm (sum of |g|); use the L2 norm, sqrt(sum(g**2)).",
               {TENSOR_NORM: "norm = np.sum(np.abs(g))"}),
        Mutant("the squared norm was used: take its square root.", {TENSOR_NORM: "norm = np.sum(g ** 2)"}),
        Mutant("each row was clipped on its own (a norm along one axis); the norm is over the whole tensor, "
               "every entry at once.", {TENSOR_NORM: "norm = np.sqrt(np.sum(g ** 2, axis=-1, keepdims=True))",
                                        "max(norm, clip_norm)": "np.maximum(norm, clip_norm)"}),
    )

    def examples(self):
        grads = [np.array([3.0, 4.0]), np.array([0.3, 0.4]), np.zeros(3)]
        return [Case(args=(grads, 1.0), probe="gradclinic.summaries.tensors", hint="‖[3, 4]‖ = 5 > 1, so it "
                     "is scaled by 1/5; ‖[0.3, 0.4]‖ = 0.5 ≤ 1 stays as it is (never scale up); the zero gradient "
                     "stays zero (no 0/0: the factor is c / max(‖g‖, c)).")]

    def input_cases(self, rng):
        return _kernel_cases(rng, [([0.2, 3.0, 0.9, 12.0, 1.5], 1.0), ([40.0, 0.01, 7.0, 2.0, 0.5], 5.0)]) + [
            Case("every norm below clip_norm: nothing changes",
                 (_random_gradients(rng, [(4, 4), (4,), (2, 3)], [0.5, 0.1, 0.9]), 1.0)),
            Case("every norm above clip_norm: each rescaled to norm 0.5",
                 (_random_gradients(rng, [(4, 4), (4,), (2, 3)], [5.0, 2.0, 90.0]), 0.5)),
            Case("a zero gradient between two large ones",
                 ([np.full((2, 2), 3.0), np.zeros((3, 2)), np.array([-6.0, 8.0])], 2.0)),
            Case("a single tensor above clip_norm", (_random_gradients(rng, [(7, 3)], [14.0]), 2.0)),
            Case("a single tensor below clip_norm", (_random_gradients(rng, [(7, 3)], [0.7]), 2.0)),
            Case("a matrix whose rows have different norms", ([np.array([[3.0, 4.0], [0.0, 0.1], [6.0, 8.0]])], 1.0)),
            Case("norm exactly equal to clip_norm", ([np.array([0.6, 0.8])], 1.0)),
            Case("float32 gradients", ([rng.normal(scale=2.0, size=(6, 3)).astype("float32"),
                                        rng.normal(scale=0.01, size=3).astype("float32")], 1.0)),
        ]


@register
class ClipByGlobalNorm(_ClippingExercise):
    name = "clip_by_global_norm"
    threshold_name = "clip_norm"
    seed = 1072
    # the first four return the right global norm, the rest a wrong one (the judge checks the norm first)
    mistakes = (
        Mutant("each tensor was clipped by its own norm (that is clip_by_norm); global clipping scales every "
               "tensor by the same factor c / max(N, c), N the norm of all of them together, which keeps the "
               "gradient's direction.",
               {"[g * factor for g in arrays]":
                "[g * (clip_norm / max(np.sqrt(np.sum(g ** 2)), clip_norm)) for g in arrays]"}),
        Mutant("the gradients were scaled UP to the threshold; when the global norm is below clip_norm nothing "
               "changes: use c / max(N, c).", {GLOBAL_FACTOR: "factor = clip_norm / global_norm"}),
        Mutant("the factor came from the L1 norm (sum of |g|); the global norm is sqrt(Σ_i sum(g_i**2)).",
               {GLOBAL_FACTOR: "factor = clip_norm / max(sum(np.sum(np.abs(g)) for g in arrays), clip_norm)"}),
        Mutant("the factor came from the sum of the tensors' norms; the global norm is sqrt(Σ‖g_i‖²), the norm "
               "of all entries as one vector.",
               {GLOBAL_FACTOR: "factor = clip_norm / max(sum(np.sqrt(np.sum(g ** 2)) for g in arrays), clip_norm)"}),
        Mutant("this is the norm after clipping (clip_norm itself); return the global norm of the gradients as "
               "they came in, as tf.clip_by_global_norm does (it is what you log to watch for explosions).",
               {RETURNED_NORM: "return [g * factor for g in arrays], global_norm * factor"}),
        Mutant("the squared global norm: take its square root.",
               {RETURNED_NORM: "return [g * factor for g in arrays], global_norm ** 2"}),
        Mutant("this is the L1 norm (sum of |g|); use the L2 norm.",
               {GLOBAL_NORM: "global_norm = float(sum(np.sum(np.abs(g)) for g in arrays))"}),
        Mutant("this adds the tensors' norms; the global norm is sqrt(Σ‖g_i‖²), the norm of all entries "
               "together as one long vector.",
               {GLOBAL_NORM: "global_norm = float(sum(np.sqrt(np.sum(g ** 2)) for g in arrays))"}),
        Mutant("this is the norm of the first tensor only; the global norm takes every tensor's entries together.",
               {GLOBAL_NORM: "global_norm = float(np.sqrt(np.sum(arrays[0] ** 2)))"}),
    )

    def examples(self):
        grads = [np.array([3.0, 4.0]), np.array([[0.0, 12.0]])]
        probe = "gradclinic.summaries.tensors_and_norm"
        return [Case(args=(grads, 1.3), probe=probe, hint="N = √(3² + 4² + 12²) = 13, so every tensor is scaled "
                     "by the same 1.3 / 13 = 0.1; return (clipped, N) with N the global norm of the gradients you "
                     "were given (13), not the norm after clipping."),
                Case(args=([np.array([0.3, 0.4])], 1.0), probe=probe, hint="N = √(0.3² + 0.4²) = 0.5 is below "
                     "the threshold 1: nothing changes (never scale up).")]

    def input_cases(self, rng):
        return _kernel_cases(rng, [([0.2, 3.0, 0.9, 12.0, 1.5], 1.0), ([4.0, 0.01, 7.0, 2.0, 0.5], 25.0),
                                   ([40.0, 0.3, 0.3, 0.3, 0.3], 5.0)]) + [
            Case("global norm below clip_norm: nothing changes",
                 (_random_gradients(rng, [(4, 4), (4,), (2, 3)], [0.5, 0.1, 0.4]), 1.0)),
            Case("all gradients zero: global norm 0", ([np.zeros((3, 3)), np.zeros(3)], 1.0)),
            Case("a zero gradient among large ones", ([np.full((2, 2), 3.0), np.zeros(2), np.array([-6.0, 8.0])], 2.0)),
            Case("a single tensor above clip_norm", (_random_gradients(rng, [(5, 5)], [9.0]), 3.0)),
            Case("global norm exactly clip_norm", ([np.array([0.6]), np.array([[0.0, 0.8]])], 1.0)),
            Case("float32 gradients", ([rng.normal(scale=2.0, size=(6, 3)).astype("float32"),
                                        rng.normal(scale=0.5, size=3).astype("float32")], 1.0)),
        ]

    def judge_result(self, case, got, expected, grads, c):
        expected_arrays, expected_norm = expected
        if not isinstance(got, (list, tuple)) or len(got) != 2:
            raise CheckFailed(f"{self.name}({case.label}) returned {type(got).__name__}; return a pair "
                              "(clipped, global_norm), as tf.clip_by_global_norm does.")
        clipped, norm = got
        if isinstance(clipped, (int, float)) and isinstance(norm, (list, tuple)):
            raise CheckFailed(f"{self.name}({case.label}) returned (global_norm, clipped); the order is "
                              "(clipped, global_norm), as tf.clip_by_global_norm returns them.")
        if isinstance(norm, (list, tuple)) or np.ndim(norm) != 0:
            raise CheckFailed(f"{self.name}({case.label}): the second item should be the global norm, one "
                              f"number, but it has shape {np.shape(norm)}.")
        if not allclose(norm, expected_norm, rtol=RTOL, atol=ATOL):
            fail(self.name, case, expected_norm, norm)  # without a cause: the Mutants name it
        super().judge_result(case, clipped, expected_arrays, grads, c)
