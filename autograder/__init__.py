"""Gradient Clinic's instructor side: reference implementations, checks that teach, and the
grading pipeline. Never installed into a learner's environment and never imported by a
learner-visible cell; hidden test cells call :func:`check`.
"""

from autograder.registry import check, exercise

__all__ = ["check", "exercise"]
