"""The grader's judgement of a function, in this process, as a lesson's tests read it."""

import pytest

from autograder import check, exercise, harness
from autograder.exercise import CheckFailed


def failure_of(name, function, part="hidden"):
    """The message ``check`` fails ``function`` with on ``part``'s cases (it must fail)."""
    with pytest.raises(CheckFailed) as caught:
        check(name, function, part)
    return str(caught.value)


def failures_on(name, function, labels):
    """Every failure message of ``function`` on the hidden cases whose label contains one of
    ``labels`` (cases that train a model are slow: a test picks the ones it needs)."""
    spec = exercise(name)
    cases = [c for c in spec.cases("hidden") if any(label in c.label for label in labels)]
    assert cases, f"no hidden case of {name} matches {labels}"
    calls, inputs = spec.request(cases)
    outputs = harness.ArrayStore()
    answers = [harness.invoke(function, call, harness.ScopedStore(inputs, outputs)) for call in calls]
    return "\n".join(spec.verdicts(cases, answers, outputs))


def appended_mistakes(*names):
    """``(name, mistake)`` parameters for each exercise's known mistakes after the first (the
    catalogue's, which tests/test_mistakes.py submits), with readable ids."""
    return [pytest.param(name, mistake, id=f"{name}-{index}")
            for name in names for index, mistake in enumerate(exercise(name).mistakes) if index]


def assert_named(name, mistake, labels=None):
    """The judge names ``mistake`` when its own mutant is submitted (on the hidden cases whose
    label holds one of ``labels``, when given: see :func:`failures_on`)."""
    mutant = exercise(name).mutant(mistake)
    message = failures_on(name, mutant, labels) if labels else failure_of(name, mutant)
    assert f"Likely cause: {mistake.what}" in message
