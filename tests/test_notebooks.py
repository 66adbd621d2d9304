"""Every lesson runs headless and offline: solutions pass `nbgrader validate`, stubs fail it.

Run times are printed (pytest -s or the summary), so the closing note can report them.
"""

import time

import pytest

from autograder.build import lesson_slugs, release_notebook_path, solution_notebook_path
from conftest import run_tool

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("slug", lesson_slugs())
def test_solution_passes_validate(slug, built_course, record_property):
    start = time.perf_counter()
    done = run_tool(["nbgrader", "validate", str(solution_notebook_path(slug, built_course))], built_course)
    seconds = time.perf_counter() - start
    record_property("seconds", round(seconds, 1))
    print(f"\n{slug}: solution validated headless in {seconds:.1f} s")
    assert "Success! Your notebook passes all the tests." in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("slug", lesson_slugs())
def test_released_stubs_fail_every_test(slug, built_course):
    done = run_tool(["nbgrader", "validate", "--invert", str(release_notebook_path(slug, built_course))],
                    built_course)
    assert "Success! The notebook does not pass any tests." in done.stdout, done.stdout + done.stderr
