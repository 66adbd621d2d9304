"""Visible self-checks: assertions whose failure reads as a hint, not a stack trace.

A notebook's ``test_<name>`` cell is generated from the exercise's cases: one :func:`check`
line per case, then :func:`passed`. :func:`judge_outcome` is the one comparison behind it; the
grader applies the very same function to the plain data a sandboxed submission sends back, so
the visible cell and the grade for ``test_<name>`` always agree. A failure raises
:class:`SelfCheckFailed`, which IPython (and so JupyterLab and nbgrader) shows as its message.

This module is part of the learner's toolkit: it holds comparisons, never answers.
"""

import importlib
import json
import sys
import traceback

import numpy as np

DEFAULT_RTOL, DEFAULT_ATOL = 1e-6, 1e-12
builtins_type = type  # ``check``'s and ``judge_outcome``'s ``type`` argument shadows the builtin


class SelfCheckFailed(AssertionError):
    """A visible check that failed; shown as its message, without a traceback (the learner's own
    frames are shown when their function raised where it should have returned)."""

    def _render_traceback_(self):
        lines = str(self).splitlines()
        rendered = [f"Self-check failed: {lines[0]}"] + lines[1:]
        if self.__cause__ is not None:
            rendered += ["", "Where your code raised it:"] + _learner_frames(self.__cause__)
        return rendered


def _learner_frames(error, limit=6):
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "gradclinic" not in f.filename]
    return "".join(traceback.format_list(frames[-limit:])).rstrip().splitlines()


# -- rendering values as Python source -----------------------------------------------------
def render_value(value):
    """``value`` as Python source that evaluates back to an equal value: floats by their exact
    ``repr``, NumPy arrays as ``np.array([...])`` (with their dtype unless float64)."""
    if isinstance(value, np.ndarray):
        dtype = "" if value.dtype == np.float64 else f", {render_value(str(value.dtype))}"
        if value.ndim == 0:
            return f"np.array({render_value(value.item())}{dtype})"
        if value.size == 0:
            return f"np.zeros({value.shape!r}{dtype})"
        return f"np.array({render_value(value.tolist())}{dtype})"
    if isinstance(value, np.generic):
        return render_value(value.item())
    if isinstance(value, float):
        return repr(value) if np.isfinite(value) else f"float({str(value)!r})"
    if isinstance(value, tuple):
        inner = ", ".join(render_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render_value(k)}: {render_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # double quotes; JSON's escapes are Python's
    if isinstance(value, (bool, int, type(None))):
        return repr(value)
    raise TypeError(f"{type(value).__name__} has no literal form; build it with code instead")


def render_arguments(args, kwargs=None):
    """The text between a call's parentheses: ``1.2, 10`` or ``np.array([1.0]), alpha=2.0``."""
    parts = [render_value(a) for a in args] + [f"{k}={render_value(v)}" for k, v in (kwargs or {}).items()]
    return ", ".join(parts)


# -- the one comparison ----------------------------------------------------------------------
class NotPlainData(Exception):
    """A result the grader could not receive: the harness refuses it in the same words."""


def as_plain(value):
    """A live result as the grader receives it (the rules of ``harness.encode_plain``): NumPy
    scalars as Python numbers, tensors as arrays, lists, tuples and dicts rebuilt, a Keras model
    unchanged; anything else raises :class:`NotPlainData`, as the grader would refuse it."""
    if value is None or type(value) in (bool, str, int, float):
        return value
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        return as_plain(value.item())
    if type(value) is np.ndarray:
        if value.dtype == object or value.dtype.fields is not None:
            raise NotPlainData("an array of Python objects (use a numeric array)")
        return value
    if type(value) in (list, tuple):
        items = [as_plain(v) for v in value]
        return tuple(items) if type(value) is tuple else items
    if type(value) is dict:
        if not all(type(k) is str for k in value):
            raise NotPlainData("a dict whose keys are not all strings")
        return {k: as_plain(v) for k, v in value.items()}
    keras = sys.modules.get("keras")
    if keras is not None and isinstance(value, keras.Model):
        return value
    if callable(getattr(type(value), "numpy", None)) and type(value).__module__.startswith(("tensorflow", "keras")):
        return as_plain(np.asarray(value.numpy()))
    raise NotPlainData(f"an object of type {type(value).__module__}.{type(value).__qualname__}")


def probe_function(dotted_name):
    """The function a probe names, e.g. ``"gradclinic.probes.weight_statistics"``."""
    module_name, _, attribute = dotted_name.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def _show(value):
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=5, threshold=10, max_line_width=10_000)
    if isinstance(value, float):
        return f"{value:.6g}"
    text = repr(value)
    return text if len(text) <= 200 else text[:199] + "…"


def _is_exact(value):
    """Strings, booleans, None and whole numbers (Python ints) are compared exactly."""
    if isinstance(value, (str, bool, int, type(None))):
        return True
    return isinstance(value, (tuple, list)) and len(value) > 0 and all(_is_exact(v) for v in value)


def _mismatch(got, expected, rtol, atol):
    """Why ``got`` differs from ``expected`` (a phrase), or None when they agree."""
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"gave {_show(got)}, expected a dict with keys {sorted(expected)}"
        for key in expected:
            reason = _mismatch(got[key], expected[key], rtol, atol)
            if reason:
                return f"[{key!r}] {reason}"
        return None
    if _is_exact(expected):
        got_items = got.tolist() if isinstance(got, np.ndarray) else got
        if isinstance(expected, (tuple, list)):
            same = isinstance(got_items, (tuple, list)) and list(got_items) == list(expected)
            typed = same and isinstance(got, (tuple, list)) and all(
                builtins_type(g) is builtins_type(e) for g, e in zip(got, expected))
        else:
            same = not isinstance(got_items, (tuple, list, dict)) and got_items == expected
            typed = same and builtins_type(got) is builtins_type(expected)
        if typed:
            return None
        if same:
            return f"gave {_show(got)}, expected {_show(expected)}: the same values, but not as {_kinds(expected)}"
        return f"gave {_show(got)}, expected {_show(expected)}"
    if isinstance(got, np.ndarray) and got.dtype == bool:
        return f"gave booleans {_show(got)}, expected numbers {_show(expected)}"
    try:
        got_array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return f"gave {type(got).__name__} {_show(got)}; expected numbers"
    expected_array = np.asarray(expected, dtype=float)
    if got_array.shape != expected_array.shape:
        return f"has shape {got_array.shape}, expected {expected_array.shape}"
    if not np.allclose(got_array, expected_array, rtol=rtol, atol=atol, equal_nan=True):
        return f"gave {_show(got)}, expected {_show(expected)}"
    return None


def _kinds(value):
    names = sorted({type(v).__name__ for v in (value if isinstance(value, (tuple, list)) else [value])})
    return " and ".join(names)


def judge_outcome(what, hint, *, expected=None, raises=None, result=None, error=None, error_names=(),
                  rtol=None, atol=None, type=None, probe=None):
    """The verdict of one check: None when it passed, else the message a learner reads.

    ``what`` is the call as the learner reads it; ``error`` is ``"Type: message"`` when the call
    raised (``error_names`` the names of the exception's classes, most specific first), else
    ``result`` is what it returned (plain data, or a live Keras model). The case expects either
    the ``raises`` error (a class name) or ``expected``, compared after ``probe`` (a dotted name)
    with tolerances ``rtol``/``atol`` (numbers or one per entry) and required ``type``.
    """
    hint_line = f"\nHint: {hint}" if hint else ""
    if raises:
        if error and raises in error_names:
            return None
        came_back = f"raised {error}" if error else "returned normally"
        return f"{what} {came_back}; expected it to raise {raises}.{hint_line}"
    if error:
        return f"{what} raised {error}.{hint_line}"
    if type is not None and not isinstance(result, type):
        return f"{what} returned {builtins_type(result).__name__}, expected {type.__name__}.{hint_line}"
    if probe:
        try:
            result = as_plain(probe_function(probe)(result))
        except Exception as problem:  # the learner's result, not the probe, is at fault
            return f"{what}: {probe.rpartition('.')[2]} could not read the result ({builtins_type(problem).__name__}: " \
                   f"{problem}).{hint_line}"
        what = f"{probe.rpartition('.')[2]}({what})"
    reason = _mismatch(result, expected, DEFAULT_RTOL if rtol is None else rtol,
                       DEFAULT_ATOL if atol is None else atol)
    return f"{what} {reason}.{hint_line}" if reason else None


# -- the in-kernel check -------------------------------------------------------------------
def fit_with_callback(callback, fit):
    """Train ``fit["model"]`` with ``callback`` as the grader does for a callback exercise:
    ``optimizer`` (name or config), ``loss``, ``x``, ``y``, ``epochs``, ``batch_size``, no shuffling;
    return the callback's attribute ``fit["attribute"]``."""
    import keras

    model = fit["model"]
    model.compile(optimizer=keras.optimizers.get(fit["optimizer"]), loss=fit["loss"])
    model.fit(fit["x"], fit["y"], epochs=fit["epochs"], batch_size=fit["batch_size"], shuffle=False,
              verbose=0, callbacks=[callback])
    return getattr(callback, fit["attribute"])


def functional_model(function, args, kwargs, input_shapes):
    """``keras.Model(inputs, function(*inputs, *args, **kwargs))`` on fresh ``keras.Input`` s of
    ``input_shapes``, as the grader calls a functional-API block."""
    import keras

    inputs = [keras.Input(tuple(shape)) for shape in input_shapes]
    outputs = function(*inputs, *args, **kwargs)
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs)


def check(function, args=(), kwargs=None, *, returns=None, raises=None, hint=None, label=None, rtol=None,
          atol=None, type=None, probe=None, kind="call", fit=None, input_shapes=None):
    """Call ``function(*args, **kwargs)`` and judge it with :func:`judge_outcome`.

    ``returns`` is the expected value (or, with ``probe``, the probe of it); ``raises`` an
    exception class the call must raise. ``label`` replaces the arguments in messages when they
    are not literals. ``kind="keras_callback"``: ``function`` is a callback class, instantiated
    with the arguments and trained as ``fit`` says (see :func:`fit_with_callback`);
    ``kind="functional"``: a functional-API block called on ``keras.Input`` s of ``input_shapes``
    (see :func:`functional_model`); ``kind="call_returning_inputs"``: the result is
    ``{"result": …, "args_after": [...]}``, the arguments as the call left them.
    """
    kwargs = kwargs or {}
    what = f"{getattr(function, '__name__', 'function')}({label if label is not None else render_arguments(args, kwargs)})"
    result, error, error_names, cause = None, None, (), None
    try:
        if kind == "functional":
            result = functional_model(function, args, kwargs, input_shapes)
        else:
            result = function(*args, **kwargs)
        if kind == "call_returning_inputs":  # as the grader's harness does: were the inputs left alone?
            result = {"result": result, "args_after": list(args)}
        if kind == "keras_callback":
            result = fit_with_callback(result, fit)
    except Exception as problem:
        error, cause = f"{builtins_type(problem).__name__}: {problem}", problem
        error_names = [cls.__name__ for cls in builtins_type(problem).__mro__]
    else:
        try:
            result = as_plain(result)
        except NotPlainData as problem:  # the grader's words for a result it cannot receive
            error, error_names = f"BadResult: returned {problem}", ["BadResult"]
    failure = judge_outcome(what, hint, expected=returns, raises=raises and raises.__name__, result=result,
                            error=error, error_names=error_names, rtol=rtol, atol=atol, type=type, probe=probe)
    if failure:
        raise SelfCheckFailed(failure) from (cause if not raises else None)


def passed(what):
    """Say that a self-check passed (the grader's hidden tests still run on submission)."""
    print(f"✓ {what}: self-checks passed. The hidden tests will try many more cases when you submit.")


# -- hand-written checks (lessons whose cells are not generated yet) ------------------------
def expect_close(got, expected, what, hint, rtol=1e-6, atol=1e-12):
    """Check that ``got`` equals ``expected`` (numbers or arrays) within a tolerance.

    ``what`` names the call ("compound(1.2, 10)"); ``hint`` says what to check when it fails.
    """
    try:
        got_array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise SelfCheckFailed(f"{what} returned {builtins_type(got).__name__} {got!r}; expected numbers.\n"
                              f"Hint: {hint}") from None
    expected_array = np.asarray(expected, dtype=float)
    if got_array.shape != expected_array.shape:
        raise SelfCheckFailed(f"{what} has shape {got_array.shape}, expected {expected_array.shape}.\n"
                              f"Hint: {hint}")
    if not np.allclose(got_array, expected_array, rtol=rtol, atol=atol, equal_nan=True):
        raise SelfCheckFailed(f"{what} gave {_show(got)}, expected {_show(expected)}.\nHint: {hint}")


def expect_type(got, kinds, what, hint):
    """Check that ``got`` is an instance of ``kinds`` (a type or tuple of types)."""
    if not isinstance(got, kinds):
        names = " or ".join(k.__name__ for k in np.atleast_1d(kinds))
        raise SelfCheckFailed(f"{what} returned {builtins_type(got).__name__}, expected {names}.\nHint: {hint}")


def expect_raises(error, function, *args, what, hint):
    """Check that ``function(*args)`` raises ``error`` (bad input must be refused clearly)."""
    try:
        function(*args)
    except error:
        return
    except Exception as other:
        raise SelfCheckFailed(f"{what} raised {builtins_type(other).__name__}: {other}; expected {error.__name__}.\n"
                              f"Hint: {hint}") from None
    raise SelfCheckFailed(f"{what} returned normally; expected it to raise {error.__name__}.\nHint: {hint}")
