"""All exercises by name, collected from ``autograder/graders/l*.py``, and the in-kernel check."""

import importlib
import pkgutil

from autograder.exercise import CheckFailed, report

_EXERCISES = {}


def register(exercise_class):
    """Class decorator: make an :class:`~autograder.exercise.Exercise` findable by its name. Its
    lesson is its module's (``autograder.graders.l01_the_problem`` → ``01_the_problem``)."""
    if exercise_class.lesson is None:
        exercise_class.lesson = exercise_class.__module__.rpartition(".")[2].removeprefix("l")
    name = exercise_class.name
    if name in _EXERCISES and type(_EXERCISES[name]) is not exercise_class:
        raise RuntimeError(f"two exercises are named {name!r}")
    _EXERCISES[name] = exercise_class()
    return exercise_class


def _load_all():
    import autograder.graders as graders

    for module in pkgutil.iter_modules(graders.__path__):
        importlib.import_module(f"autograder.graders.{module.name}")


def exercise(name):
    """The registered exercise called ``name`` (its nbgrader grade_id)."""
    if name not in _EXERCISES:
        _load_all()
    if name not in _EXERCISES:
        raise KeyError(f"no exercise named {name!r}; known: {', '.join(sorted(_EXERCISES))}")
    return _EXERCISES[name]


def all_exercises():
    """Every exercise of every lesson, by name."""
    _load_all()
    return dict(_EXERCISES)


def run_in_process(exercise_obj, function, part):
    """Run ``part``'s cases against ``function`` here, through the same plain-data harness the
    sandboxed grader uses. Returns the list of failure messages and the number of cases."""
    from autograder import harness

    cases = exercise_obj.cases(part)
    calls, inputs = exercise_obj.request(cases)
    outputs = harness.ArrayStore()
    store = harness.ScopedStore(inputs, outputs)
    answers = [harness.invoke(function, call, store) for call in calls]
    return exercise_obj.verdicts(cases, answers, outputs, part=part), len(cases)


def check(name, function, part="hidden"):
    """Hidden-test entry point: compare ``function`` with the reference for exercise ``name``
    on ``part``'s cases (``"basic"``: exactly the visible self-check's; ``"hidden"``: all).

    Raises :class:`~autograder.exercise.CheckFailed` with teaching messages when any case
    fails; prints nothing when all pass.
    """
    failures, n_cases = run_in_process(exercise(name), function, part)
    if failures:
        raise CheckFailed(report(name, part, failures, n_cases))
