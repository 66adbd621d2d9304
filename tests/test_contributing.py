"""CONTRIBUTING.md followed as written: its worked example's files go into a copy of the course,
its build command runs there, and a right and a wrong answer are graded by the sandboxed grader."""

import json
import os
import re
from pathlib import Path

import pytest

from autograder.build import copy_course
from autograder.solution import solution_cells, worked_notebook
from classroom import submit
from conftest import COURSE_ROOT, run_tool

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox starts as root (CI runs as root)")]
GUIDE = COURSE_ROOT / "CONTRIBUTING.md"
SLUG = "99_tiny"


def guide_blocks(language):
    """The guide's fenced ``language`` blocks, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", GUIDE.read_text(), flags=re.S | re.M)


def guide_files():
    """``{path: text}`` of the blocks whose first line is ``# file: PATH``."""
    files = {}
    for block in guide_blocks("python"):
        first, _, rest = block.partition("\n")
        if first.startswith("# file: "):
            files[first.removeprefix("# file: ").strip()] = rest
    return files


def _verdicts(root, student):
    record = json.loads((root / ".autograder" / SLUG / f"{student}.json").read_text())
    return {v["grade_id"]: (v["score"], v["message"]) for v in record["verdicts"]}


def test_the_guide_adds_an_exercise_that_builds_and_grades(tmp_path):
    files = guide_files()
    assert sorted(files) == [f"autograder/graders/l{SLUG}.py", f"solutions/{SLUG}/{SLUG}.py"]
    root = copy_course(tmp_path / "course")
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    commands = [line.split() for block in guide_blocks("bash") for line in block.splitlines() if line.strip()]
    assert commands == [["python", "-m", "autograder", "build", SLUG],
                        ["python", "-m", "nbgrader", "generate_assignment", SLUG, "--force"]]
    for command in commands:
        done = run_tool(command[2:], root)
        assert done.returncode == 0, done.stdout + done.stderr

    release = (root / "lessons" / SLUG / f"{SLUG}.ipynb").read_text()
    assert release.count("check(double") == 3 and "BEGIN HIDDEN TESTS" not in release
    right = solution_cells(SLUG, root)["double"]
    submit(root, "right", SLUG, worked_notebook(SLUG, root))
    submit(root, "adds", SLUG, worked_notebook(SLUG, root, {"double": right.replace("2 * x", "x + 2")}))
    done = run_tool(["autograder", "grade", SLUG, "--workers", "1"], root)
    assert done.returncode == 0, done.stdout + done.stderr

    assert {grade_id: score for grade_id, (score, _) in _verdicts(root, "right").items()} == \
           {"test_double": 1, "hidden_double": 1}
    adds = _verdicts(root, "adds")
    assert adds["test_double"][0] == 0 and adds["hidden_double"][0] == 0
    assert "Likely cause: adding instead of multiplying: x + 2 is not 2 · x" in adds["hidden_double"][1]


def test_a_mutant_that_no_longer_fits_its_cell_stops_the_build(tmp_path):
    root = copy_course(tmp_path / "course")
    for path, text in guide_files().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text.replace('{"2 * x": "x + 2"}', '{"x * 2": "x + 2"}'))
    done = run_tool(["autograder", "build", SLUG], root)
    assert done.returncode != 0 and "'x * 2' occurs 0 times" in done.stdout + done.stderr
    assert not Path(root / "lessons" / SLUG).exists()
