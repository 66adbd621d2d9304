"""The catalogue of real mistakes: for every exercise, its solution cell as a learner who made one
typical mistake would write it. Each entry is the first of the exercise's known mistakes
(``Exercise.mistakes[0]``, a :class:`~autograder.solution.Mutant` of the solution cell), so a
mistake is written once, beside the exercise's cases, and the grader names it from the same data.

``MISTAKES[slug][grade_id]`` is a :class:`Mistake`: ``source`` is a drop-in replacement for the
solution cell (same names and signatures, defines every helper the cell defines, so later cells
and later exercises that use those helpers still work), ``what`` names the misconception in one
line. Each mistake keeps its function's output type and shape where it can, so that it costs its
own exercise's points and nothing else (an exercise that calls an earlier one — lesson 04's
initializers call ``fans``, ``activation_stds`` calls the initializers, lesson 12's
``fixed_point_q`` calls ``length_map`` — is given a mistake invisible on the later exercise's
cases; tests/test_mistakes.py checks that).

``mistake_submissions(slug)`` splits a lesson's mistakes into at most two replacement dicts
(grade_id → source) that together hold every mistake exactly once, alternating exercises so that
wrong exercises are not adjacent within a submission: each submission, autograded, should lose
exactly its wrong exercises' points.

``lesson_namespace(slug, replacements)`` (from :mod:`autograder.solution`) runs, in this process,
what a lesson's solution cells need, with ``replacements`` (grade_id → source) in place of the
instructor's.
"""

from dataclasses import dataclass

from autograder.build import lesson_slugs
from autograder.registry import all_exercises
from autograder.solution import lesson_namespace, mutated_source, solution_cells

__all__ = ["COUPLED", "DEPENDENTS", "MISTAKES", "Mistake", "lesson_namespace", "mistake_submissions"]


@dataclass(frozen=True)
class Mistake:
    source: str
    what: str


def _catalogue():
    exercises, catalogue = all_exercises(), {}
    for slug in lesson_slugs():
        for grade_id in solution_cells(slug):
            if grade_id not in exercises:
                raise LookupError(f"{slug}: solution cell {grade_id!r} has no exercise in autograder/graders")
            if not exercises[grade_id].mistakes:
                raise LookupError(f"{slug}: exercise {grade_id!r} lists no known mistake (a Mutant)")
            first = exercises[grade_id].mistakes[0]
            source = _as_a_learner_writes(mutated_source(slug, first, grade_id))
            catalogue.setdefault(slug, {})[grade_id] = Mistake(source, first.what)
    return catalogue


def _as_a_learner_writes(source):
    """The cell without nbgrader's solution markers, which a learner's copy never has."""
    return "".join(line for line in source.splitlines(keepends=True)
                   if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


MISTAKES = _catalogue()


# Exercises whose solution cell calls another exercise's function (or a helper its cell defines):
# a mistake in the key must leave every listed exercise's checks passing. The catalogue's mistakes
# are chosen for that (e.g. Glorot with fan_in only is right for the square kernels
# activation_stds draws; length_map's mistake shows only for an array of q, which fixed_point_q
# never passes).
DEPENDENTS = {
    "active_fraction": ["dead_units"],  # hidden_layer_outputs, defined in active_fraction's cell
    "fans": ["glorot_uniform", "glorot_normal", "he_normal", "lecun_normal", "activation_stds"],
    "glorot_uniform": ["activation_stds"],
    "glorot_normal": ["he_normal", "lecun_normal", "activation_stds"],  # truncated_normal lives in its cell
    "he_normal": ["activation_stds"],
    "lecun_normal": ["activation_stds"],
    "length_map": ["fixed_point_q", "chi1"],
}
# The one coupling no mistake can avoid: chi1 evaluates φ' at fixed_point_q(...)'s q*, and
# fixed_point_q and chi1 are tried on the same (σ_w, σ_b, φ) points, so any wrong q* is also a
# wrong χ₁. fixed_point_q's mistake therefore shares a submission with chi1's (which is wrong anyway).
COUPLED = {"fixed_point_q": ["chi1"]}
_GROUPS = {"12_signal_propagation": [["fixed_point_q", "chi1"], ["length_map", "orthogonal"]]}


def mistake_submissions(slug):
    """At most two replacement dicts (grade_id → mistake source) for ``slug`` that together hold
    every exercise's mistake exactly once: exercises alternate between the two, in notebook order,
    so no two wrong exercises of one submission are neighbours (a one-exercise lesson gives one).
    Lesson 12 is grouped by hand: fixed_point_q's mistake goes with chi1's (see ``COUPLED``)."""
    order = list(MISTAKES[slug])
    groups = _GROUPS.get(slug) or [order[0::2], order[1::2]]
    return [{grade_id: MISTAKES[slug][grade_id].source for grade_id in group} for group in groups if group]
