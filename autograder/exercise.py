"""Exercises as the grader sees them: cases, the reference, and judgements that teach.

An :class:`Exercise` names a graded function (its nbgrader ``grade_id``), lists the cases it
is tried on, holds the instructor's reference implementation and judges a learner's answer
against it. The learner's function is only ever *called* through :mod:`autograder.harness`,
which hands back plain data; judging happens here, on the trusted side.
"""

from dataclasses import dataclass, field

import numpy as np

from autograder import harness

MAX_REPORTED_FAILURES = 3


class CheckFailed(AssertionError):
    """A check that failed; IPython shows its message alone, never the grader's source."""

    def _render_traceback_(self):
        return [f"{type(self).__name__}: {line}" if i == 0 else line
                for i, line in enumerate(str(self).splitlines())]


@dataclass(frozen=True)
class KerasModelArg:
    """A Keras model passed to a learner's function, rebuilt on the learner's side from its
    architecture and weights so that both sides hold the same network."""

    model: object


@dataclass(frozen=True)
class KerasLossArg:
    """A Keras loss object, named by its class in ``keras.losses`` (e.g. ``MeanSquaredError``)."""

    name: str


@dataclass(frozen=True)
class NumpyActivationArg:
    """An activation handed to the learner as a NumPy function, by name (see
    ``harness.NUMPY_ACTIVATIONS``), e.g. ``tanh`` → ``numpy.tanh``."""

    name: str


@dataclass(frozen=True)
class RngArg:
    """A fresh ``numpy.random.Generator`` seeded with ``seed`` on each side."""

    seed: int


@dataclass
class Case:
    """One call of a learner's function: its arguments and, for bad input, the error expected.

    ``label`` says in words what the case is; it is what a failing learner reads. ``kind`` and
    ``options`` select how the harness calls the function (see :mod:`autograder.harness`):
    ``"functional"`` needs ``options={"input_shapes": [...]}``; ``"keras_callback"`` needs
    ``options={"fit": {"model": KerasModelArg, "optimizer": name or config, "loss": KerasLossArg,
    "x": array, "y": array, "epochs": int, "batch_size": int, "attribute": "history"}}``.
    """

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    raises: str = None
    kind: str = "call"
    options: dict = field(default_factory=dict)


def encode_argument(value, store):
    """Encode a grader-side argument into the tree the harness decodes."""
    if isinstance(value, KerasModelArg):
        weights = [store.put(w)["__ndarray__"] for w in value.model.get_weights()]
        return {"__keras_model__": {"json": value.model.to_json(), "weights": weights}}
    if isinstance(value, KerasLossArg):
        return {"__keras_loss__": value.name}
    if isinstance(value, NumpyActivationArg):
        return {"__numpy_activation__": value.name}
    if isinstance(value, RngArg):
        return {"__rng__": int(value.seed)}
    if isinstance(value, np.ndarray):
        return store.put(value)
    if isinstance(value, tuple):
        return {"__tuple__": [encode_argument(v, store) for v in value]}
    if isinstance(value, list):
        return [encode_argument(v, store) for v in value]
    if isinstance(value, dict):
        return {k: encode_argument(v, store) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


def encode_call(function_name, case, store):
    """The JSON description of calling ``function_name`` on ``case``."""
    call = {"function": function_name, "kind": case.kind,
            "args": [encode_argument(a, store) for a in case.args],
            "kwargs": {k: encode_argument(v, store) for k, v in case.kwargs.items()}}
    call.update({k: encode_argument(v, store) for k, v in case.options.items()})
    return call


class Exercise:
    """A graded function. Subclasses set ``name`` and implement the four methods below."""

    name = None

    def basic_cases(self):
        """Simple cases, the trusted twin of the notebook's visible self-check."""
        raise NotImplementedError

    def hidden_cases(self):
        """Random, edge and mistake-catching cases; deterministic (fixed seeds)."""
        raise NotImplementedError

    def reference(self, *args, **kwargs):
        """The instructor's implementation."""
        raise NotImplementedError

    def judge(self, case, got, expected):
        """Raise :class:`CheckFailed` when ``got`` is not ``expected`` (plain data both)."""
        raise NotImplementedError

    # -- running cases ------------------------------------------------------------------
    def cases(self, part):
        """``part`` is ``"basic"`` (visible cell ``test_<name>``) or ``"hidden"``."""
        if part == "basic":
            return self.basic_cases()
        if part == "hidden":
            return self.basic_cases() + self.hidden_cases()
        raise ValueError(f"part must be 'basic' or 'hidden', got {part!r}")

    def request(self, cases):
        """Encode calls for ``cases``: (list of call trees, store of input arrays)."""
        store = harness.ArrayStore()
        return [encode_call(self.name, case, store) for case in cases], store

    def verdicts(self, cases, answers, answer_store):
        """Judge every answer; returns a list of failure messages (empty when all passed)."""
        failures = []
        for case, answer in zip(cases, answers, strict=True):
            try:
                self._judge_answer(case, answer, answer_store)
            except CheckFailed as failure:
                failures.append(str(failure))
        return failures

    def _judge_answer(self, case, answer, answer_store):
        error = answer.get("error") if isinstance(answer, dict) else "no answer"
        if case.raises:
            if error and answer.get("error_type") == case.raises:
                return
            came_back = f"raised {error}" if error else "returned without an error"
            raise CheckFailed(f"{self.name}({case.label}): bad input should raise {case.raises} "
                              f"with a message for the learner, but it {came_back}.")
        if error:
            detail = answer.get("traceback", "").strip()
            raise CheckFailed(f"{self.name}({case.label}) raised {error}" + (f"\n{detail}" if detail else ""))
        try:
            got = harness.decode_plain(answer["result"], answer_store)
        except (harness.BadResult, KeyError) as problem:
            raise CheckFailed(f"{self.name}({case.label}) returned {problem}") from None
        expected = self.reference(*self._live(case.args), **self._live(case.kwargs))
        self.judge(case, got, expected)

    def _live(self, value):
        """Arguments as the reference receives them: the same objects the learner's side
        rebuilds, so both sides compute on identical inputs."""
        store = harness.ArrayStore()
        return harness.decode_argument(encode_argument(value, store), store)


def report(exercise_name, part, failures, n_cases):
    """One message for a failed cell: how many cases failed and the first few in full."""
    shown = failures[:MAX_REPORTED_FAILURES]
    more = len(failures) - len(shown)
    lines = [f"{exercise_name}: {len(failures)} of {n_cases} {part} checks failed."]
    lines += [f"- {message}" for message in shown]
    if more:
        lines.append(f"(and {more} more like these)")
    return "\n".join(lines)


# -- comparisons that explain themselves ---------------------------------------------------
def short(value, width=120):
    """A compact one-line rendering of ``value`` for messages."""
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=4, threshold=8, max_line_width=10_000)
        text = f"array{text}, shape {value.shape}"
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def fail(exercise_name, case, expected, got, misconception=None):
    """Raise the standard teaching failure: what was expected, what came back, and why."""
    message = f"{exercise_name}({case.label}): expected {short(expected)}, got {short(got)}."
    if misconception:
        message += f"\n  Likely cause: {misconception}"
    raise CheckFailed(message)


def as_float_array(value):
    """``value`` as a float64 array, or None when it is not numeric data."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
    return array


def allclose(a, b, rtol=1e-5, atol=1e-8):
    """NaN-aware ``numpy.allclose`` that returns False instead of raising on shape mismatch."""
    a, b = as_float_array(a), as_float_array(b)
    if a is None or b is None or a.shape != b.shape:
        return False
    return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def rebuilt_model(got, where, advice):
    """The Keras model a learner's answer describes (a ``harness.ModelData``), rebuilt on the
    trusted side; ``CheckFailed`` naming ``where`` and giving ``advice`` when it cannot be."""
    try:
        return got.build()
    except Exception as problem:  # the learner's architecture, not the grader's
        raise CheckFailed(f"{where}: the model could not be rebuilt from its configuration "
                          f"({type(problem).__name__}: {problem}). {advice}") from None
