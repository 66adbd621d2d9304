"""Exercises as the grader sees them: cases, the reference, and judgements that teach.

An :class:`Exercise` names a graded function (its nbgrader ``grade_id``), lists the cases it
is tried on and its known mistakes (:class:`~autograder.solution.Mutant`), and judges a learner's
answer against the reference, which is the instructor's solution cell itself
(:mod:`autograder.solution`). The learner's function is only ever *called* through
:mod:`autograder.harness`, which hands back plain data; judging happens here, on the trusted side.
"""

import ast
import copy
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np

from autograder import harness
from autograder.solution import mutant_function, solution_function
from gradclinic.selfcheck import as_plain, judge_outcome, probe_function, render_arguments

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


UNSET = object()  # a Case's expected outcome before the exercise has computed it
MUTATION_KIND = "call_returning_inputs"  # the harness hands back the arguments beside the result


@dataclass
class Case:
    """One call of a learner's function: its arguments and what must come back.

    ``label`` says in words what the case is; it is what a failing learner reads (default: the
    arguments as Python source). ``kind`` and ``options`` select how the harness calls the
    function (see :mod:`autograder.harness`): ``"functional"`` needs ``options={"input_shapes":
    [...]}``; ``"keras_callback"`` needs ``options={"fit": {"model": KerasModelArg, "optimizer":
    name or config, "loss": KerasLossArg, "x": array, "y": array, "epochs": int, "batch_size": int,
    "attribute": "history"}}``.

    Basic cases are also the visible self-check, so they carry what a visible check needs:
    ``hint`` (what to look at when it fails); the comparison (``rtol``, ``atol`` — numbers or one
    per entry of the compared value —, ``result_type`` the result must be an instance of, and
    ``probe``, the dotted name of a toolkit function applied to the result before comparing);
    for arguments that are not literals, ``args_code``: the Python source of the arguments (what
    goes between the call's parentheses, keywords allowed), evaluated in the exercise's
    ``code_imports`` and shown verbatim in the notebook (``options_code`` likewise for
    ``options``, e.g. ``fit=dict(...)``). ``expected`` is filled from the reference by
    :meth:`Exercise.visible_cases`; bad input names its error in ``raises`` instead.

    ``locates`` marks an isolating case: its judge says where a wrong answer first goes wrong,
    and :meth:`Exercise.named_mistake` names no mistake on it.
    """

    label: str = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    raises: str = None
    kind: str = "call"
    options: dict = field(default_factory=dict)
    hint: str = None
    args_code: str = None
    options_code: str = None
    rtol: object = None
    atol: object = None
    result_type: type = None
    probe: str = None
    locates: bool = False
    expected: object = UNSET

    def __post_init__(self):
        if self.label is None:
            self.label = self.args_code if self.args_code is not None else render_arguments(self.args, self.kwargs)

    @property
    def needs_code(self):
        return self.args_code is not None or self.options_code is not None


def grader_argument(value):
    """A live argument built by ``args_code`` as the harness sends it: Keras models and losses
    become :class:`KerasModelArg` / :class:`KerasLossArg`, NumPy activations
    :class:`NumpyActivationArg`; containers are converted item by item."""
    if isinstance(value, (tuple, list)):
        converted = [grader_argument(v) for v in value]
        return tuple(converted) if isinstance(value, tuple) else converted
    if isinstance(value, dict):
        return {k: grader_argument(v) for k, v in value.items()}
    if isinstance(value, np.random.Generator):
        raise ValueError("write a generator in args_code as np.random.default_rng(<int>) itself, so both "
                         "sides can make it afresh")
    if isinstance(value, (np.ndarray, np.generic, str, bytes, int, float, bool, type(None))):
        return value
    for name, function in harness.NUMPY_ACTIVATIONS.items():
        if value is function:
            return NumpyActivationArg(name)
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(value, keras.Model):
        return KerasModelArg(value)
    if keras is not None and isinstance(value, keras.losses.Loss):
        return KerasLossArg(type(value).__name__)
    raise ValueError(f"args_code built a {type(value).__name__}, which the harness cannot send")


def evaluate_call_code(code, namespace):
    """``(args, kwargs)`` of the call whose parentheses hold ``code``, as grader arguments.
    A top-level ``np.random.default_rng(<int>)`` becomes :class:`RngArg`, made afresh per side."""
    call = ast.parse(f"_arguments({code})", mode="eval").body
    args, kwargs = eval(compile(ast.Expression(call), "<args_code>", "eval"),
                        {**namespace, "_arguments": lambda *a, **k: (a, k)})
    seeds = [_rng_seed(node) for node in call.args]
    keyword_seeds = {k.arg: _rng_seed(k.value) for k in call.keywords}
    args = tuple(RngArg(seed) if seed is not None else grader_argument(a) for a, seed in zip(args, seeds))
    kwargs = {k: RngArg(keyword_seeds[k]) if keyword_seeds.get(k) is not None else grader_argument(v)
              for k, v in kwargs.items()}
    return args, kwargs


def _rng_seed(node):
    """The seed of ``np.random.default_rng(<int>)`` when ``node`` is that call, else None."""
    if (isinstance(node, ast.Call) and ast.unparse(node.func) == "np.random.default_rng"
            and len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant)
            and type(node.args[0].value) is int):
        return node.args[0].value
    return None


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
    """A graded function. Subclasses set ``name``, implement :meth:`basic_cases`,
    :meth:`hidden_cases` and :meth:`judge`, and list their known ``mistakes``.

    ``lesson`` is the slug of the lesson whose solution defines the reference (set by
    :func:`autograder.registry.register` from the module's name). ``code_imports`` are the import
    lines that the cases' ``args_code`` may use: the notebook imports the same names before the
    exercise's visible cell (the build checks it). ``mistakes`` are :class:`Mutant` s of the
    solution cell; when a judgement fails without naming a cause, the first mutant that gives
    the learner's answer names it (:meth:`named_mistake`).

    What :meth:`named_mistake` reads, as data: ``TOLERANCE``, within which a mutant's answer is
    the learner's (``FLOAT32_TOLERANCE`` instead, when set, for an answer that holds float32
    arrays: a float32 computation is only as good as float32); ``names_mistakes`` (False: the
    mutants are data for the tests and the catalogue, never named to a learner);
    ``unnamed_cause``, the cause given when no mutant gives the learner's answer (e.g. the
    contract to compare one's code with), given only to an answer of the reference's shape (one
    of another shape was told by the judge what to return); and a Case's ``locates``.
    """

    name = None
    lesson = None
    code_imports = "import numpy as np"
    mistakes = ()
    TOLERANCE = {"rtol": 1e-6, "atol": 1e-9}  # a mutant's answer is the learner's within this
    FLOAT32_TOLERANCE = None  # … or within this, when set, for an answer holding float32 arrays
    names_mistakes = True
    unnamed_cause = None

    def basic_cases(self):
        """Few, small, fast cases: the visible self-check ``test_<name>`` is generated from them
        and the grader scores that cell on them, with the same comparison."""
        raise NotImplementedError

    def hidden_cases(self):
        """Random, edge and mistake-catching cases; deterministic (fixed seeds)."""
        raise NotImplementedError

    def reference(self, *args, **kwargs):
        """The instructor's implementation: the function the solution cell defines."""
        return solution_function(self.lesson, self.name)(*args, **kwargs)

    def judge(self, case, got, expected):
        """Raise :class:`CheckFailed` when ``got`` is not ``expected`` (plain data both)."""
        raise NotImplementedError

    def mutant(self, mistake):
        """The function ``mistake`` (a :class:`Mutant`) defines in place of the reference."""
        return mutant_function(self.lesson, mistake, self.name)

    def same(self, got, value, case):
        """Whether a learner's answer (plain data) is ``value`` (a mutant's live result) on
        ``case``, for naming mistakes: within ``TOLERANCE`` (``FLOAT32_TOLERANCE`` for a float32
        answer); an exercise whose comparison differs in kind overrides it."""
        float32 = self.FLOAT32_TOLERANCE is not None and holds_float32(got)
        return same_value(got, value, **(self.FLOAT32_TOLERANCE if float32 else self.TOLERANCE))

    def named_mistake(self, case, got):
        """``what`` of the first known mistake whose mutant answers ``case`` with ``got``; else
        ``unnamed_cause`` for an answer of the reference's shape; else None (always None when the
        exercise does not ``names_mistakes`` or the case ``locates``). Mutants run quietly: one
        may overflow or divide by zero where the learner's did not, and its warnings must not
        reach the learner. (A ``call_returning_inputs`` answer is compared by its result: the
        inputs are the judge's business.)"""
        if not self.names_mistakes or case.locates:
            return None
        if case.kind == MUTATION_KIND and isinstance(got, dict):
            got = got.get("result")
        for mistake in self.mistakes:
            try:
                if self.same(got, self.mutant_answer(mistake, case), case):
                    return mistake.what
            except Exception:  # a mutant that fails on this case names nothing here
                continue
        if self.unnamed_cause is not None and same_shape(got, self.reference_answer(case)):
            return self.unnamed_cause
        return None

    def reference_answer(self, case):
        """What the reference returns on ``case``. Every submission is judged on the same case
        objects, so a result that is plain data (numbers, arrays, containers of them) is computed
        once per exercise and case in this process and handed out as a copy (a judge may change
        what it is given); anything else (a Keras model, a class) is made again for each answer.
        (Kept by the exercise, keyed by the case object, which it also keeps: two exercises may
        share their cases.)"""
        answers = self.__dict__.setdefault("_reference_answers", {})
        if id(case) in answers:
            return copy.deepcopy(answers[id(case)][1])
        result = self.reference(*self._live(case.args), **self._live(case.kwargs))
        if is_plain_data(result):
            answers[id(case)] = (case, copy.deepcopy(result))
        return result

    def result_and_inputs_after(self, case, got):
        """``(result, arguments as the call left them)`` of a ``MUTATION_KIND`` answer."""
        if not isinstance(got, dict) or set(got) != {"result", "args_after"}:
            raise CheckFailed(f"{self.name}({case.label}): the grader could not read the answer.")
        return got["result"], got["args_after"]

    def mutant_answer(self, mistake, case):
        """What ``mistake``'s mutant returns on ``case`` (plain data), run quietly."""
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return as_plain(self.mutant(mistake)(*self._live(case.args), **self._live(case.kwargs)))

    def fail_known(self, case, got, expected):
        """Fail naming the known mistake ``got`` is (:meth:`named_mistake`), before a judge's own
        message for an answer that is none of them; returns when no mutant gives ``got``."""
        misconception = self.named_mistake(case, got)
        if misconception:
            fail(self.name, case, expected, got, misconception)

    # -- running cases ------------------------------------------------------------------
    def cases(self, part):
        """``part`` is ``"basic"`` (visible cell ``test_<name>``) or ``"hidden"`` (basic + hidden)."""
        if part == "basic":
            return self.visible_cases()
        if part == "hidden":
            return self.visible_cases() + self.hidden_cases()
        raise ValueError(f"part must be 'basic' or 'hidden', got {part!r}")

    def visible_cases(self):
        """The basic cases with their code evaluated and their expected outcome computed from the
        reference (once per exercise: building Keras models and training take time)."""
        if getattr(self, "_visible_cases", None) is None:
            namespace = {}
            exec(self.code_imports, namespace)
            cases = self.basic_cases()
            for case in cases:
                if case.args_code is not None:
                    case.args, case.kwargs = evaluate_call_code(case.args_code, namespace)
                if case.options_code is not None:
                    case.options = evaluate_call_code(case.options_code, namespace)[1]
                if case.expected is UNSET and case.hint is not None:
                    case.expected = shown_expectation(self.reference_outcome(case))
            self._visible_cases = cases
        return self._visible_cases

    def reference_outcome(self, case):
        """What the reference gives for ``case``, called through the harness exactly as a
        learner's function is, then probed: the value the visible check expects (UNSET for a
        case that expects an error, once the reference is seen to raise it)."""
        calls, inputs = self.request([case])
        outputs = harness.ArrayStore()
        answer = harness.invoke(self.reference, calls[0], harness.ScopedStore(inputs, outputs))
        if case.raises:
            if case.raises not in answer.get("error_mro", []):
                raise RuntimeError(f"the reference of {self.name} does not raise {case.raises} on {case.label!r}")
            return UNSET
        if "error" in answer:
            raise RuntimeError(f"the reference of {self.name} fails on {case.label!r}: {answer['error']}")
        result = harness.decode_plain(answer["result"], outputs)
        if isinstance(result, harness.ModelData):
            result = result.build()
        if case.result_type is not None and not isinstance(result, case.result_type):
            raise RuntimeError(f"the reference of {self.name} returns {type(result).__name__} on "
                               f"{case.label!r}, not {case.result_type.__name__}")
        return as_plain(probe_function(case.probe)(result)) if case.probe else result

    def request(self, cases):
        """Encode calls for ``cases``: (list of call trees, store of input arrays)."""
        store = harness.ArrayStore()
        return [encode_call(self.name, case, store) for case in cases], store

    def verdicts(self, cases, answers, answer_store, part="hidden"):
        """Judge every answer; returns a list of failure messages (empty when all passed).
        ``part="basic"`` judges as the visible cell does (:func:`visible_verdict`), with the
        same messages; ``"hidden"`` with the exercise's teaching :meth:`judge`. (A basic case
        without a hint belongs to a visible cell still written by hand: :meth:`judge` it.)"""
        failures = []
        for case, answer in zip(cases, answers, strict=True):
            if part == "basic" and case.hint is not None:
                message = self.visible_verdict(case, answer, answer_store)
                if message:
                    failures.append(message)
                continue
            try:
                self._judge_answer(case, answer, answer_store)
            except CheckFailed as failure:
                failures.append(str(failure))
        return failures

    def visible_verdict(self, case, answer, answer_store):
        """The visible check's message for a sandboxed answer (plain data), or None if it passed."""
        what = f"{self.name}({case.label})"
        if not isinstance(answer, dict):
            answer = {"error": "no answer"}
        error, result = answer.get("error"), None
        error_names = answer.get("error_mro") or [answer.get("error_type")]
        if not error:
            try:
                result = harness.decode_plain(answer["result"], answer_store)
            except (harness.BadResult, KeyError) as problem:
                error, error_names = f"BadResult: returned {problem}", ["BadResult"]
            if isinstance(result, harness.ModelData):
                try:
                    result = result.build()
                except Exception as problem:  # the learner's architecture, not the grader's
                    return (f"{what}: the model could not be rebuilt from its configuration "
                            f"({type(problem).__name__}: {problem}).")
        return judge_outcome(what, case.hint, expected=case.expected, raises=case.raises, result=result,
                             error=error, error_names=error_names, rtol=case.rtol, atol=case.atol,
                             type=case.result_type, probe=case.probe)

    def _judge_answer(self, case, answer, answer_store):
        error = answer.get("error") if isinstance(answer, dict) else "no answer"
        if case.raises:
            if error and case.raises in (answer.get("error_mro") or [answer.get("error_type")]):
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
        expected = self.reference_answer(case)
        try:
            self.judge(case, got, expected)
        except CheckFailed as failure:
            cause = None if "Likely cause:" in str(failure) else self.named_mistake(case, got)
            if cause is None:
                raise
            raise CheckFailed(f"{failure}\n  Likely cause: {cause}") from None

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


SHOWN_DIGITS = 12  # far inside every case's tolerance, far outside a platform's float64 noise


def shown_expectation(value):
    """``value`` as a visible check states it: float64 numbers to ``SHOWN_DIGITS`` significant
    digits, so that the released cell does not depend on the last bits the build machine's
    NumPy and BLAS happened to produce (4.999999999999999 on one, 5.0 on another)."""
    if isinstance(value, float):
        return float(f"{value:.{SHOWN_DIGITS}g}") if np.isfinite(value) else value
    if isinstance(value, np.ndarray) and value.dtype == np.float64:  # through the list branch
        return np.array(shown_expectation(value.tolist()), dtype=np.float64).reshape(value.shape)
    if isinstance(value, (list, tuple)):
        return type(value)(shown_expectation(v) for v in value)
    if isinstance(value, dict):
        return {k: shown_expectation(v) for k, v in value.items()}
    return value


def same_value(a, b, rtol=1e-6, atol=1e-9):
    """Whether two plain results agree: numbers, arrays and lists of numbers within tolerance
    (NaN equals NaN), containers item by item, strings and booleans exactly."""
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() \
            and all(same_value(a[k], b[k], rtol, atol) for k in a)
    if isinstance(a, (str, bool)) or isinstance(b, (str, bool)):
        return type(a) is type(b) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y, rtol, atol) for x, y in zip(a, b))
    return allclose(a, b, rtol, atol)


def is_plain_data(value):
    """Whether ``value`` is numbers, strings, numeric arrays and lists, tuples and dicts of them."""
    if value is None or isinstance(value, (bool, int, float, str, np.number, np.bool_)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype != object
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, (list, tuple)) and all(is_plain_data(v) for v in value)


def holds_float32(value):
    """Whether plain data holds a float32 array (in a list, tuple or dict too)."""
    if isinstance(value, np.ndarray):
        return value.dtype == np.float32
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, (list, tuple)) and any(holds_float32(v) for v in value)


def same_shape(a, b):
    """Whether two plain results are numeric data of one shape."""
    a, b = as_float_array(a), as_float_array(b)
    return a is not None and b is not None and a.shape == b.shape


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
