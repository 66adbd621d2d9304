"""Visible self-checks: assertions whose failure reads as a hint, not a stack trace.

A notebook's ``test_<name>`` cells use these. A failure raises :class:`SelfCheckFailed`,
which IPython (and so JupyterLab and nbgrader) shows as its message alone.
"""

import numpy as np


class SelfCheckFailed(AssertionError):
    """A visible check that failed; shown as its message, without a traceback."""

    def _render_traceback_(self):
        lines = str(self).splitlines()
        return [f"Self-check failed: {lines[0]}"] + lines[1:]


def _show(value):
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=5, threshold=10)
    return repr(value)


def expect_close(got, expected, what, hint, rtol=1e-6, atol=1e-12):
    """Check that ``got`` equals ``expected`` (numbers or arrays) within a tolerance.

    ``what`` names the call ("compound(1.2, 10)"); ``hint`` says what to check when it fails.
    """
    try:
        got_array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise SelfCheckFailed(f"{what} returned {type(got).__name__} {got!r}; expected numbers.\n"
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
        raise SelfCheckFailed(f"{what} returned {type(got).__name__}, expected {names}.\nHint: {hint}")


def expect_raises(error, function, *args, what, hint):
    """Check that ``function(*args)`` raises ``error`` (bad input must be refused clearly)."""
    try:
        function(*args)
    except error:
        return
    except Exception as other:
        raise SelfCheckFailed(f"{what} raised {type(other).__name__}: {other}; expected {error.__name__}.\n"
                              f"Hint: {hint}") from None
    raise SelfCheckFailed(f"{what} returned normally; expected it to raise {error.__name__}.\nHint: {hint}")


def passed(what):
    """Say that a self-check passed (the grader's hidden tests still run on submission)."""
    print(f"✓ {what}: self-checks passed. The hidden tests will try many more cases when you submit.")
