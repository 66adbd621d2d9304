"""The course as its users live it: an nbgrader exchange on this machine, separate Unix
accounts (one instructor, two learners), each command run as its own account.

Needs root (it creates the accounts through scripts/setup-exchange), as CI has.
"""

import csv
import os
from pathlib import Path

import pytest

from exchange_life import as_user

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("exchange"),
              pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix accounts: needs root, as CI has")]
COURSE = Path("/home/gc-instructor/course")


def test_learners_validate_their_work(course_life):
    assert "Success! Your notebook passes all the tests." in course_life["validate_right"].stdout
    assert "deep_linear_activations" in course_life["validate_wrong"].stdout + course_life["validate_wrong"].stderr


@pytest.mark.parametrize("intruder, target", [
    ("gc-learner2", "/home/gc-learner1/01_the_problem/01_the_problem.ipynb"),
    ("gc-learner1", "/home/gc-instructor/course/solutions/01_the_problem/01_the_problem.py"),
    ("gc-learner1", "/home/gc-instructor/course/autograder/graders/l01_the_problem.py"),
    ("gc-learner1", "/home/gc-instructor/course/gradebook.db"),
    ("gc-learner2", "/home/gc-instructor/course/submitted/gc-learner1/01_the_problem/01_the_problem.ipynb"),
])
def test_a_learner_cannot_read_what_is_not_theirs(course_life, intruder, target):
    assert Path(target).exists(), f"{target} should exist for this check to mean anything"
    reader = ["ls", target] if Path(target).is_dir() else ["cat", target]
    done = as_user(intruder, *reader, check=False)
    assert done.returncode != 0 and "Permission denied" in done.stderr


def test_learner_environment_cannot_import_the_references(course_life):
    done = as_user("gc-learner1", "python", "-c", "import autograder", check=False)
    assert done.returncode != 0 and "No module named 'autograder'" in done.stderr


def test_other_submissions_in_the_exchange_cannot_be_found(course_life):
    """nbgrader's exchange hides submissions by an unlistable inbound folder and a random suffix
    in each submission's name; a learner cannot discover another's (their files are 0644 in a
    0777 folder, so a known path would be readable: see the README's exchange notes)."""
    inbound = Path("/srv/nbgrader/exchange/gradient-clinic/inbound")
    assert [p for p in inbound.iterdir() if p.name.startswith("gc-learner1+")]
    found = as_user("gc-learner2", "find", "/srv/nbgrader/exchange", "-name", "*gc-learner1*", check=False)
    assert "gc-learner1+" not in found.stdout
    listing = as_user("gc-learner2", "ls", str(inbound), check=False)
    assert listing.returncode != 0 and "Permission denied" in listing.stderr


def test_grades_export_with_the_expected_scores(course_life):
    rows = list(csv.DictReader((COURSE / "grades.csv").open()))
    scores = {(r["student_id"], r["assignment"]): float(r["score"]) for r in rows}
    assert scores == {("gc-learner1", "00_welcome"): 3.0, ("gc-learner1", "01_the_problem"): 6.0,
                      ("gc-learner2", "00_welcome"): 3.0, ("gc-learner2", "01_the_problem"): 3.0}


def test_each_learner_fetches_their_own_feedback_without_hidden_tests(course_life):
    for learner, expected in (("gc-learner1", "6.0 / 6.0"), ("gc-learner2", "3.0 / 6.0")):
        pages = list(Path(f"/home/{learner}/01_the_problem/feedback").rglob("01_the_problem.html"))
        assert len(pages) == 1, pages
        html = pages[0].read_text()
        assert expected in html
        assert "BEGIN HIDDEN TESTS" not in html and "from autograder import check" not in html
    wrong = next(Path("/home/gc-learner2/01_the_problem/feedback").rglob("01_the_problem.html")).read_text()
    assert "off by one layer" in wrong
