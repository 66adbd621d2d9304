"""The course as its users live it: an nbgrader exchange on this machine, separate Unix
accounts (one instructor, two learners), each command run as its own account.

Needs root (it creates the accounts through scripts/setup-exchange), as CI has.
"""

import csv
import os
import subprocess
from pathlib import Path

import nbformat
import pytest

from autograder.classroom import solution_sources
from conftest import COURSE_ROOT

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix accounts: needs root, as CI has")]
COURSE = Path("/home/gc-instructor/course")
SLUGS = ["00_welcome", "01_the_problem"]
WRONG_ACTIVATIONS = '''def deep_linear_activations(x, scale, depth):
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or depth < 1:
        raise ValueError("bad input")
    return np.array([np.linalg.norm(x) * scale ** layer for layer in range(depth)])
'''


def as_user(user, *command, cwd=None, check=True):
    home = f"/home/{user}"
    done = subprocess.run(["runuser", "-u", user, "--", "env", f"HOME={home}", f"USER={user}", f"LOGNAME={user}",
                           "/opt/gradclinic/bin/course-env", *command], cwd=cwd or home,
                          capture_output=True, text=True, timeout=900)
    if check:
        assert done.returncode == 0, f"{user}: {' '.join(command)}\n{done.stdout}\n{done.stderr}"
    return done


def nbgrader(user, *arguments, cwd=None, check=True):
    quiet = [] if arguments[0] == "validate" else ["--log-level=WARN"]  # validate takes no log flag
    return as_user(user, "python", "-m", "nbgrader", *arguments, *quiet, cwd=cwd, check=check)


def work_notebook(user, slug, replacements):
    """Fill the fetched notebook as the learner would, keeping the file the learner's own."""
    path = Path(f"/home/{user}/{slug}/{slug}.ipynb")
    notebook = nbformat.read(path, as_version=4)
    sources = {**solution_sources(slug, COURSE), **replacements}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources and cell.metadata["nbgrader"].get("solution"):
            cell.source = sources[grade_id]
    nbformat.write(notebook, path)
    subprocess.run(["chown", f"{user}:{user}", str(path)], check=True)


@pytest.fixture(scope="module")
def course_life():
    for old in ["/srv/nbgrader/exchange/gradient-clinic", *(f"/home/gc-learner{i}/{s}" for i in (1, 2) for s in SLUGS)]:
        subprocess.run(["rm", "-rf", old], check=True)
    subprocess.run([str(COURSE_ROOT / "scripts" / "setup-exchange")], check=True, capture_output=True)
    for stale in ("gradebook.db", "submitted", "autograded", "feedback", ".autograder"):
        subprocess.run(["rm", "-rf", str(COURSE / stale)], check=True)
    as_user("gc-instructor", "python", "-m", "autograder", "build", *SLUGS, cwd=COURSE)
    log = {}
    for slug in SLUGS:
        nbgrader("gc-instructor", "generate_assignment", slug, "--force", cwd=COURSE)
        nbgrader("gc-instructor", "release_assignment", slug, "--force", cwd=COURSE)
    for learner in ("gc-learner1", "gc-learner2"):
        for slug in SLUGS:
            nbgrader(learner, "fetch_assignment", slug, "--course", "gradient-clinic")
    for slug in SLUGS:
        work_notebook("gc-learner1", slug, {})
    work_notebook("gc-learner2", "00_welcome", {})
    work_notebook("gc-learner2", "01_the_problem", {"deep_linear_activations": WRONG_ACTIVATIONS})
    log["validate_right"] = nbgrader("gc-learner1", "validate", "01_the_problem/01_the_problem.ipynb")
    log["validate_wrong"] = nbgrader("gc-learner2", "validate", "01_the_problem/01_the_problem.ipynb", check=False)
    for learner in ("gc-learner1", "gc-learner2"):
        for slug in SLUGS:
            nbgrader(learner, "submit", slug, "--course", "gradient-clinic")
    for slug in SLUGS:
        nbgrader("gc-instructor", "collect", slug, cwd=COURSE)
        log[f"grade_{slug}"] = as_user("gc-instructor", "python", "-m", "autograder", "grade", slug, "--workers", "2",
                                       cwd=COURSE)
        nbgrader("gc-instructor", "generate_feedback", slug, cwd=COURSE)
        nbgrader("gc-instructor", "release_feedback", slug, cwd=COURSE)
    for learner in ("gc-learner1", "gc-learner2"):
        for slug in SLUGS:
            nbgrader(learner, "fetch_feedback", slug, "--course", "gradient-clinic")
    nbgrader("gc-instructor", "export", "--to", "grades.csv", cwd=COURSE)
    return log


def test_learners_validate_their_work(course_life):
    assert "Success! Your notebook passes all the tests." in course_life["validate_right"].stdout
    assert "deep_linear_activations" in course_life["validate_wrong"].stdout + course_life["validate_wrong"].stderr


@pytest.mark.parametrize("intruder, target", [
    ("gc-learner2", "/srv/nbgrader/exchange/gradient-clinic/inbound"),
    ("gc-learner2", "/home/gc-learner1/01_the_problem/01_the_problem.ipynb"),
    ("gc-learner1", "/home/gc-instructor/course/solutions/01_the_problem/01_the_problem.py"),
    ("gc-learner1", "/home/gc-instructor/course/autograder/lessons/l01_the_problem.py"),
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


def test_other_submissions_in_the_exchange_are_private(course_life):
    inbound = Path("/srv/nbgrader/exchange/gradient-clinic/inbound")
    learner1_files = [p for p in inbound.rglob("*.ipynb") if "gc-learner1+" in str(p)]
    assert learner1_files
    done = as_user("gc-learner2", "cat", str(learner1_files[0]), check=False)
    assert done.returncode != 0


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
