"""Lesson 00, welcome: compound's hidden check names real mistakes, refuses objects that claim
equality, reports a learner's exception, and renders without the grader's source."""

from autograder import check
from autograder.exercise import CheckFailed
from checks import failure_of


def test_compound_mistakes():
    assert "scale ** depth" in failure_of("compound", lambda s, d: float(s * d))
    assert "Python float" in failure_of("compound", lambda s, d: s ** d)
    assert "one factor short" in failure_of("compound", lambda s, d: float(s) ** (d - 1) if d >= 1 else 1.0)
    assert "should raise ValueError" in failure_of("compound", lambda s, d: float(s) ** d)


def test_compound_rejects_objects_that_claim_equality():
    class AlwaysEqual(float):
        def __eq__(self, other):
            return True

    class Anything:
        def __eq__(self, other):
            return True

    assert "returned an object" in failure_of("compound", lambda s, d: Anything())
    assert "returned an object" in failure_of("compound", lambda s, d: AlwaysEqual(0.0))


def test_failure_message_renders_without_grader_source():
    try:
        check("compound", lambda s, d: 0.0)
    except CheckFailed as failure:
        rendered = "\n".join(failure._render_traceback_())
    assert "autograder" not in rendered and "def " not in rendered
    assert "expected" in rendered


def test_learner_exception_is_reported_not_raised():
    def broken(scale, depth):
        raise ZeroDivisionError("oops")
    assert "ZeroDivisionError: oops" in failure_of("compound", broken)
