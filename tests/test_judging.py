"""A test cell's verdict on the trusted side: passed, failed with the checks' words, or — when no
check exists or the grader's own check crashes — left to a person, never a crash of the run."""

import numpy as np
import pytest

from autograder import exercise
from autograder.exercise import Case, Exercise
from autograder.pipeline import _judge
from autograder.plan import GradedCell


class Doubling(Exercise):
    name = "doubling"

    def basic_cases(self):
        return [Case("2", (2.0,), hint="twice 2 is 4")]

    def hidden_cases(self):
        return []

    def reference(self, x):
        return 2 * x

    def judge(self, case, got, expected):
        if got != expected:
            raise AssertionError("not reached: basic cases are judged by the shared comparison")


class CrashingJudge(Doubling):
    def verdicts(self, cases, answers, answer_store, part="hidden"):
        raise ZeroDivisionError("a bug in the grader's check")


def _cell(exercise, part="basic"):
    cases = exercise.cases(part) if exercise else []
    return GradedCell(f"test_{getattr(exercise, 'name', 'x')}", 1.0, exercise, part, cases, range(len(cases)))


def test_a_right_answer_passes_and_a_wrong_one_fails_with_the_checks_words():
    from autograder.harness import ArrayStore

    assert _judge(_cell(Doubling()), [{"result": 4.0}], ArrayStore()) == (1.0, "doubling: all 1 basic checks passed.")
    score, message = _judge(_cell(Doubling()), [{"result": 5.0}], ArrayStore())
    assert score == 0.0 and "twice 2 is 4" in message


def test_no_check_or_a_crashing_check_is_left_to_a_person():
    from autograder.harness import ArrayStore

    score, message = _judge(_cell(None), [], ArrayStore())
    assert score is None and "grade it by hand" in message
    score, message = _judge(_cell(CrashingJudge()), [{"result": 4.0}], ArrayStore())
    assert score is None and "ZeroDivisionError" in message and "flagged for grading by hand" in message


def test_missing_exercise_name_is_a_clear_error():
    with pytest.raises(KeyError, match="no exercise named"):
        exercise("no_such_function")


def test_the_reference_answers_a_case_once_per_process_and_each_judge_gets_its_own_copy():
    calls = []

    class Counted(Exercise):
        name = "counted"

        def reference(self, x):
            calls.append(x)
            return [np.array([1.0, 2.0]), {"total": 3.0}]

    counted, case = Counted(), Case("x = 1", (1,))
    first = counted.reference_answer(case)
    first[0][0] = 99.0  # a judge that changes what it was given
    again = counted.reference_answer(case)
    assert calls == [1] and again[0][0] == 1.0 and again[1] == {"total": 3.0}
    counted.reference_answer(Case("x = 2", (2,)))
    assert calls == [1, 2]


def test_exercises_that_share_their_cases_keep_their_own_reference_answers():
    class Double(Exercise):
        name = "double"

        def reference(self, x):
            return 2 * x

    class Square(Exercise):
        name = "square"

        def reference(self, x):
            return x * x

    shared = Case("x = 3", (3,))
    assert (Double().reference_answer(shared), Square().reference_answer(shared)) == (6, 9)


def test_a_live_reference_result_is_made_again_for_each_answer():
    class Live(Exercise):
        name = "live"

        def reference(self):
            return object()

    live, case = Live(), Case("no arguments", ())
    assert live.reference_answer(case) is not live.reference_answer(case)
