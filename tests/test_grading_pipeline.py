"""The one grading path, around the verdicts: nbgrader's own features apply to sandboxed grading
(late penalties, course settings, manual-grade flags), a submission nbgrader cannot read is
recorded and the class goes on, a changed grader regrades by itself, `--regrade` keeps what a
grader set by hand, plain `nbgrader autograde` runs the same sandboxed steps, and feedback
shows the learner's own frames of a traceback.
"""

import datetime
import json
import os

import nbformat
import pytest

from attacks import RIGHT, apply_edit
from autograder.build import copy_course, solution_notebook_path
from autograder.solution import worked_notebook
from classroom import submit
from conftest import released_course, run_tool

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("pipeline"),
              pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox starts as root (CI runs as root)")]
SLUG = "00_welcome"
RAISING = ("def halve(value):\n    return value / 0\n\n"
           "def compound(scale, depth):\n    return halve(float(scale)) ** depth\n")
LATE = ["--", "--LateSubmissionPlugin.penalty_method=zero"]
# A graded cell no exercise of the grader checks: nbgrader asks a person for its score.
BY_HAND = nbformat.v4.new_code_cell('"""A plot the instructor looks at."""\ncompound(1.2, 10)', metadata={"nbgrader": {
    "grade": True, "grade_id": "check_plot", "locked": True, "points": 1, "schema_version": 3, "solution": False,
    "task": False}})


def _grade(root, *extra):
    done = run_tool(["autograder", "grade", SLUG, "--workers", "2", *extra], root)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _record(root, student):
    return json.loads((root / ".autograder" / SLUG / f"{student}.json").read_text())


def _grades(root, student):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(SLUG, SLUG, student)
        return ({g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in notebook.grades},
                gradebook.find_submission(SLUG, student).late_submission_penalty)


@pytest.fixture(scope="module")
def course(built_course, tmp_path_factory):
    from nbgrader.api import Gradebook

    root = copy_course(tmp_path_factory.mktemp("pipeline"), course_root=built_course)
    source = nbformat.read(solution_notebook_path(SLUG, built_course), as_version=4)
    source.cells.append(BY_HAND)
    nbformat.write(source, solution_notebook_path(SLUG, root))
    assert run_tool(["nbgrader", "generate_assignment", SLUG, "--force"], root).returncode == 0
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:  # due 6 h after the usual timestamp
        gradebook.update_or_create_assignment(SLUG, duedate=datetime.datetime(2026, 11, 22, 18, 0))
    submit(root, "right", SLUG, worked_notebook(SLUG, root, {"compound": RIGHT}))
    submit(root, "raising", SLUG, worked_notebook(SLUG, root, {"compound": RAISING}))
    submit(root, "tests_deleted", SLUG, apply_edit(worked_notebook(SLUG, root, {"compound": RIGHT}), "delete_tests"))
    late = submit(root, "late", SLUG, worked_notebook(SLUG, root, {"compound": RIGHT}))
    (late.parent / "timestamp.txt").write_text("2026-11-23 09:30:00.000000 UTC")
    broken = root / "submitted" / "broken" / SLUG
    broken.mkdir(parents=True)
    (broken / f"{SLUG}.ipynb").write_text('{"cells": [ this is not JSON')
    (broken / "timestamp.txt").write_text("2026-11-22 12:00:00.000000 UTC")
    first = _grade(root, *LATE)
    return {"root": root, "first": first}


def test_nbgrader_features_apply_to_sandboxed_grading(course):
    root = course["root"]
    right, right_penalty = _grades(root, "right")
    assert right["test_compound"][0] == 1 and right["hidden_compound"][0] == 2 and right_penalty == 0
    late, late_penalty = _grades(root, "late")
    assert late["hidden_compound"][0] == 2 and late_penalty == 3.0, "nbgrader's late penalty (zero) applies"
    assert right["check_plot"] == (None, None, True), "a cell without a trusted check is flagged for a person"
    assert "check_plot" in _record(root, "right")["needs_manual_grade"]
    assert "flagged for grading by hand — check_plot" in course["first"].stdout
    deleted, _ = _grades(root, "tests_deleted")
    assert deleted["test_compound"][0] == 1 and deleted["hidden_compound"][0] == 2, "deleted test cells come back"


def test_an_unreadable_notebook_is_recorded_and_the_class_goes_on(course):
    root = course["root"]
    record = _record(root, "broken")
    assert record["status"] == "failed" and "JSON" in record["reason"], record["reason"]
    grades, _ = _grades(root, "broken")
    assert all(score == 0 and flagged for score, _, flagged in grades.values())
    assert "broken: 0, flagged" in course["first"].stdout and "graded 4 submission(s)" in course["first"].stdout


def test_feedback_shows_the_learners_frames_only(course):
    root = course["root"]
    assert run_tool(["nbgrader", "generate_feedback", SLUG], root).returncode == 0
    html = (root / "feedback" / "raising" / SLUG / f"{SLUG}.html").read_text()
    assert "ZeroDivisionError" in html and "in halve" in html and "return value / 0" in html
    assert "/job/" not in html and "harness.py" not in html and "sandbox_runner" not in html


def test_plain_nbgrader_autograde_is_the_same_sandboxed_grader(course, tmp_path):
    root = course["root"]
    submit(root, "by_cli", SLUG, worked_notebook(SLUG, root, {"compound": RAISING}))
    done = run_tool(["nbgrader", "autograde", SLUG, "--student", "by_cli", "--force"], root)
    assert done.returncode == 0, done.stdout + done.stderr
    by_cli, by_grader = _record(root, "by_cli"), _record(root, "raising")
    assert by_cli["path"] == by_grader["path"] == "sandboxed"
    assert [(v["grade_id"], v["score"], v["message"]) for v in by_cli["verdicts"]] == \
           [(v["grade_id"], v["score"], v["message"]) for v in by_grader["verdicts"]]


def test_resume_skips_what_this_grader_graded_and_a_changed_grader_regrades(course):
    root = course["root"]
    graded = [p.stem for p in (root / ".autograder" / SLUG).glob("*.json") if _record(root, p.stem)["status"] == "graded"]
    again = _grade(root, *LATE)
    assert f"{len(graded)} submission(s) already graded by this grader" in again.stderr  # the broken one is retried
    module = root / "autograder" / "graders" / "l00_welcome.py"
    module.write_text(module.read_text() + "\n# a check was fixed\n")
    changed = _grade(root, *LATE)
    assert "already graded" not in changed.stderr, "a new grader version regrades every submission"
    assert _grades(root, "late")[1] == 3.0


def test_regrade_keeps_what_a_person_graded(course):
    from nbgrader.api import Gradebook

    root = course["root"]
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        gradebook.find_grade("check_plot", SLUG, SLUG, "right").manual_score = 1.0
        gradebook.find_grade("hidden_compound", SLUG, SLUG, "right").manual_score = 1.5  # a person overrode it
        gradebook.db.commit()
    _grade(root, "--regrade", "--student", "right", *LATE)
    grades, _ = _grades(root, "right")
    assert grades["check_plot"] == (None, 1.0, True)
    assert grades["hidden_compound"] == (2.0, 1.5, True), "a hand grade survives and stays flagged for review"


def test_gradebooks_opened_while_a_class_is_graded_share_one_engine(built_course, tmp_path):
    """nbgrader makes a SQLAlchemy engine per Gradebook, and each engine compiles its statements
    again (the grader's memory grew with the class); while a class is graded they share one."""
    import shutil

    from nbgrader.api import Gradebook

    from autograder.grading import shared_gradebook_engines

    url = f"sqlite:///{shutil.copy(built_course / 'gradebook.db', tmp_path)}"
    with shared_gradebook_engines() as made:
        with Gradebook(url) as first, Gradebook(url) as second:
            assert first.engine is second.engine
            first.add_student("ada")
        with Gradebook(url) as third:  # the first two disposed the pool on closing: the engine still serves
            assert third.find_student("ada").id == "ada" and third.engine is first.engine
    assert len(made) == 1
    with Gradebook(url) as outside:  # nbgrader's own behaviour again once grading is done
        assert outside.engine is not first.engine and outside.find_student("ada").id == "ada"


def test_several_assignments_grade_in_one_run_each_student_where_they_submitted(built_course, tmp_path):
    other = "12_signal_propagation"
    root = released_course(tmp_path / "course", built_course)
    for assignment in (SLUG, other):
        submit(root, "both", assignment, worked_notebook(assignment, root))
    submit(root, "welcome_only", SLUG, worked_notebook(SLUG, root, {"compound": RAISING}))
    nowhere = run_tool(["autograder", "grade", SLUG, other, "--student", "nobody"], root)
    assert nowhere.returncode == 2 and "no submission of 00_welcome, 12_signal_propagation for nobody" in nowhere.stderr
    one = run_tool(["autograder", "grade", SLUG, other, "--student", "welcome_only", "--workers", "2"], root)
    assert one.returncode == 0 and "graded 1 submission(s), 0 could not be graded" in one.stdout, one.stdout + one.stderr
    everyone = run_tool(["autograder", "grade", SLUG, other, "--workers", "2"], root)
    assert everyone.returncode == 0, everyone.stdout + everyone.stderr
    assert "1 submission(s) already graded" in everyone.stderr  # welcome_only's, from the run before
    assert "graded 2 submission(s), 0 could not be graded" in everyone.stdout
    for assignment, student, score in ((SLUG, "both", 3.0), (other, "both", None), (SLUG, "welcome_only", 0.0)):
        record = json.loads((root / ".autograder" / assignment / f"{student}.json").read_text())
        assert record["status"] == "graded" and record["score"] == (score if score is not None else record["max_score"])
