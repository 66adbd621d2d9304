"""The catalogue of real mistakes (tests/mistakes.py) against the grader, in this process.

For every exercise: its mistake is a drop-in replacement for the solution cell (same names and
signatures, defines without error), the hidden check fails it, the visible check (part="basic")
fails it too, and the reference passes both; a mistake in an exercise that others build on leaves
those others passing. That each mistake submission loses exactly its wrong exercises, every other
one passing, is shown where it counts, by the grading round trip (tests/test_autograde_roundtrip.py:
the same submissions, graded in full). Tests are grouped by lesson (xdist group per lesson);
lesson 11's train its reference treatments (a few seconds each) and are marked slow.
"""

import ast
import functools
import warnings

import pytest

from autograder import check
from autograder.build import lesson_slugs, notebook_from_source, source_path
from autograder.exercise import CheckFailed
from autograder.registry import all_exercises
from mistakes import COUPLED, DEPENDENTS, MISTAKES, lesson_namespace, mistake_submissions

SLUG_OF = {grade_id: slug for slug, mistakes in MISTAKES.items() for grade_id in mistakes}


TRAINS = {"11_gradient_clinic"}  # its checks train the treatments: marked slow


def by_lesson(values, slug_of=lambda value: value):
    """Parametrize values so that one lesson's tests run on one xdist worker (namespaces cached);
    lesson 11's are marked slow (its hidden checks train the reference treatments)."""
    def marks(slug):
        return [pytest.mark.xdist_group(f"mistakes-{slug}")] + ([pytest.mark.slow] if slug in TRAINS else [])

    return [pytest.param(*(value if isinstance(value, tuple) else (value,)), marks=marks(slug_of(value)),
                         id="-".join(map(str, value)) if isinstance(value, tuple) else str(value))
            for value in values]


@functools.cache
def namespace(slug, replaced=()):
    """The lesson's solution namespace with the mistakes of ``replaced`` (grade_ids) in place."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lesson_namespace(slug, {grade_id: MISTAKES[slug][grade_id].source for grade_id in replaced})


def failure(grade_id, function, part="hidden"):
    """The CheckFailed message of ``check``, or None when the check passes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow warnings of the mistakes themselves
        try:
            check(grade_id, function, part)
        except CheckFailed as failed:
            return str(failed)
    return None


def solution_cells(slug):
    notebook = notebook_from_source(source_path(slug))
    return {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("solution")}


def parameters(arguments):
    """A signature's parameter names, in order (defaults may differ: a wrong default can be the
    mistake, as in leaky_relu's)."""
    every = arguments.posonlyargs + arguments.args + arguments.kwonlyargs
    return [a.arg for a in every] + [f"*{a.arg}" for a in (arguments.vararg, arguments.kwarg) if a]


def definitions(source):
    """Top-level names a cell defines: functions and classes with their parameters (a class by
    its bases and its constructor's), and assigned constants."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = parameters(node.args)
        elif isinstance(node, ast.ClassDef):
            init = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
            bases = [ast.unparse(b) for b in node.bases]
            found[node.name] = ["class", *bases, *(parameters(init[0].args) if init else [])]
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        found[name.id] = "constant"
    return found


# -- the catalogue's shape -------------------------------------------------------------------------
def test_every_exercise_has_exactly_one_mistake():
    assert set(MISTAKES) == set(lesson_slugs())
    assert sorted(SLUG_OF) == sorted(all_exercises())
    assert sum(len(m) for m in MISTAKES.values()) == len(SLUG_OF)
    for slug, mistakes in MISTAKES.items():
        assert list(mistakes) == list(solution_cells(slug)), f"{slug}: one mistake per solution cell, in order"
        assert all(m.what and "\n" not in m.what for m in mistakes.values())


@pytest.mark.parametrize("slug", lesson_slugs())
def test_submissions_hold_every_mistake_once_and_keep_wrong_exercises_apart(slug):
    order = list(MISTAKES[slug])
    submissions = mistake_submissions(slug)
    assert len(submissions) == min(2, len(order))
    held = [grade_id for submission in submissions for grade_id in submission]
    assert sorted(held) == sorted(order)
    for submission in submissions:
        assert all(source == MISTAKES[slug][g].source for g, source in submission.items())
        positions = sorted(order.index(g) for g in submission)
        adjacent = [(order[a], order[b]) for a, b in zip(positions, positions[1:]) if b == a + 1]
        assert all(second in COUPLED.get(first, []) for first, second in adjacent), adjacent


@pytest.mark.parametrize("grade_id", by_lesson(SLUG_OF, SLUG_OF.get))
def test_mistake_is_a_drop_in_replacement_that_defines_cleanly(grade_id):
    slug = SLUG_OF[grade_id]
    mistake, solution = MISTAKES[slug][grade_id].source, solution_cells(slug)[grade_id]
    assert "NotImplementedError" not in mistake and "BEGIN SOLUTION" not in mistake
    wanted, got = definitions(solution), definitions(mistake)
    assert {name: got.get(name) for name in wanted} == wanted, "same names and signatures as the solution cell"
    assert grade_id in namespace(slug, (grade_id,))  # it defines without error, in the lesson's order


# -- the grader against each mistake ---------------------------------------------------------------
@pytest.mark.parametrize("grade_id", by_lesson(SLUG_OF, SLUG_OF.get))
def test_hidden_check_fails_the_mistake_and_passes_the_reference(grade_id):
    slug = SLUG_OF[grade_id]
    if slug not in TRAINS:  # lesson 11's references train: tests/test_l11_gradient_clinic.py passes each
        assert failure(grade_id, namespace(slug)[grade_id]) is None, "the reference solution must pass"
    message = failure(grade_id, namespace(slug, (grade_id,))[grade_id])
    assert message is not None, f"the hidden check misses: {MISTAKES[slug][grade_id].what}"


@pytest.mark.parametrize("grade_id", by_lesson(SLUG_OF, SLUG_OF.get))
def test_visible_check_fails_the_mistake_and_passes_the_reference(grade_id):
    """part="basic" is what the visible cell test_<name> runs: if it passed the mistake, a wrong
    submission would keep that cell's point."""
    slug = SLUG_OF[grade_id]
    assert failure(grade_id, namespace(slug)[grade_id], "basic") is None, "the reference solution must pass"
    message = failure(grade_id, namespace(slug, (grade_id,))[grade_id], "basic")
    assert message is not None, f"the visible check misses: {MISTAKES[slug][grade_id].what}"


@pytest.mark.parametrize("grade_id", by_lesson(DEPENDENTS, SLUG_OF.get))
def test_a_mistake_leaves_the_exercises_built_on_it_passing(grade_id):
    slug = SLUG_OF[grade_id]
    functions = namespace(slug, (grade_id,))
    cheap = [d for d in DEPENDENTS[grade_id] if d != "activation_stds"]  # that one: the next test
    assert {d: failure(d, functions[d]) for d in cheap} == {d: None for d in cheap}


@pytest.mark.xdist_group("mistakes-04_initialization")
def test_activation_stds_passes_with_every_initializer_mistake_at_once():
    """activation_stds draws from the learner's own initializers on square kernels; the catalogue's
    initializer mistakes (fans as floats, Glorot with fan_in only, He untruncated, LeCun with
    fan_out) are right in variance there, so the exercise keeps its points."""
    upstream = tuple(sorted(g for g in DEPENDENTS if "activation_stds" in DEPENDENTS[g]))
    assert len(upstream) == 5
    functions = namespace("04_initialization", upstream)
    assert failure("activation_stds", functions["activation_stds"]) is None


@pytest.mark.xdist_group("mistakes-12_signal_propagation")
def test_fixed_point_q_mistake_also_costs_chi1_as_declared():
    """chi1 evaluates at fixed_point_q's q*: the coupling COUPLED declares is real (and is why
    the two share a submission)."""
    functions = namespace("12_signal_propagation", ("fixed_point_q",))
    assert COUPLED == {"fixed_point_q": ["chi1"]}
    assert failure("chi1", functions["chi1"]) is not None
