"""The course life on one machine with real accounts (used by the exchange and browser tests).

Needs root: scripts/setup-exchange creates the accounts.
"""

import subprocess
from pathlib import Path

import nbformat

from autograder.solution import solution_cells
from conftest import COURSE_ROOT

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
    sources = {**solution_cells(slug, COURSE), **replacements}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources and cell.metadata["nbgrader"].get("solution"):
            cell.source = sources[grade_id]
    nbformat.write(notebook, path)
    subprocess.run(["chown", f"{user}:{user}", str(path)], check=True)


def live_the_course():
    """Run the whole course life; returns the logs of the steps whose output tests read."""
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
    log["grade"] = as_user("gc-instructor", "python", "-m", "autograder", "grade", *SLUGS, "--workers", "2", cwd=COURSE)
    for slug in SLUGS:
        nbgrader("gc-instructor", "generate_feedback", slug, cwd=COURSE)
        nbgrader("gc-instructor", "release_feedback", slug, cwd=COURSE)
    for learner in ("gc-learner1", "gc-learner2"):
        for slug in SLUGS:
            nbgrader(learner, "fetch_feedback", slug, "--course", "gradient-clinic")
    nbgrader("gc-instructor", "export", "--to", "grades.csv", cwd=COURSE)
    return log


