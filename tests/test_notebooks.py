"""`nbgrader validate`, the learner's Validate button, on the foundation lessons: solutions pass
it, stubs fail it.

Every other lesson is held to the same two facts, more strictly, by
tests/test_autograde_roundtrip.py (the reference gets full marks, the untouched release 0),
which executes the same notebooks; running both for every lesson would execute each notebook
twice more for no new failure either could catch. bench/run.py times every notebook.
"""

import time

import pytest

from autograder.build import release_notebook_path, solution_notebook_path
from conftest import run_tool

pytestmark = pytest.mark.slow
VALIDATED = ("00_welcome", "01_the_problem")


@pytest.mark.parametrize("slug", VALIDATED)
def test_solution_passes_validate(slug, built_course, record_property):
    start = time.perf_counter()
    done = run_tool(["nbgrader", "validate", str(solution_notebook_path(slug, built_course))], built_course)
    seconds = time.perf_counter() - start
    record_property("seconds", round(seconds, 1))
    print(f"\n{slug}: solution validated headless in {seconds:.1f} s")
    assert "Success! Your notebook passes all the tests." in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("slug", VALIDATED)
def test_released_stubs_fail_every_test(slug, built_course):
    done = run_tool(["nbgrader", "validate", "--invert", str(release_notebook_path(slug, built_course))],
                    built_course)
    assert "Success! The notebook does not pass any tests." in done.stdout, done.stdout + done.stderr
