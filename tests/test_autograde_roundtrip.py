"""The whole chain for lessons 00–01: release → worked submissions → nbgrader autograde →
gradebook scores → feedback HTML without hidden tests."""

import shutil

import pytest

from autograder.build import copy_course
from autograder.classroom import submit, worked_notebook
from conftest import run_tool

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("roundtrip")]  # one worker grades the course once

WRONG_ACTIVATIONS = '''def deep_linear_activations(x, scale, depth):
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or depth < 1:
        raise ValueError("bad input")
    return np.array([np.linalg.norm(x) * scale ** layer for layer in range(depth)])  # starts at the input
'''
MAX_POINTS = {"00_welcome": 3.0, "01_the_problem": 6.0}


@pytest.fixture(scope="module")
def graded_course(built_course, tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("roundtrip"), course_root=built_course)
    for slug in MAX_POINTS:
        shutil.copy(built_course / "solutions" / slug / f"{slug}.ipynb", root / "solutions" / slug)
        done = run_tool(["nbgrader", "generate_assignment", slug, "--force"], root)
        assert done.returncode == 0, done.stderr
        submit(root, "reference", slug, worked_notebook(slug, root))
        submit(root, "untouched", slug, worked_notebook(slug, root, solve=False))
    submit(root, "one_wrong", "01_the_problem",
           worked_notebook("01_the_problem", root, {"deep_linear_activations": WRONG_ACTIVATIONS}))
    for slug in MAX_POINTS:
        done = run_tool(["nbgrader", "autograde", slug, "--create"], root)
        assert done.returncode == 0, done.stdout + done.stderr
        done = run_tool(["nbgrader", "generate_feedback", slug], root)
        assert done.returncode == 0, done.stdout + done.stderr
    return root


def scores(root, student, slug):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(slug, slug, student)
        return {grade.name: grade.score for grade in notebook.grades}, notebook.score, notebook.max_score


@pytest.mark.parametrize("slug", sorted(MAX_POINTS))
def test_reference_gets_full_marks(graded_course, slug):
    by_cell, total, maximum = scores(graded_course, "reference", slug)
    assert maximum == MAX_POINTS[slug] and total == maximum, by_cell


@pytest.mark.parametrize("slug", sorted(MAX_POINTS))
def test_untouched_release_gets_zero(graded_course, slug):
    by_cell, total, _ = scores(graded_course, "untouched", slug)
    assert total == 0, by_cell


def test_one_wrong_function_loses_exactly_its_points(graded_course):
    by_cell, total, _ = scores(graded_course, "one_wrong", "01_the_problem")
    assert by_cell == {"test_deep_linear_activations": 0, "hidden_deep_linear_activations": 0,
                       "test_layer_gradient_norms": 1, "hidden_layer_gradient_norms": 2}
    assert total == 3


def test_feedback_teaches_and_keeps_hidden_tests_secret(graded_course):
    for student, slugs in {"reference": MAX_POINTS, "untouched": MAX_POINTS, "one_wrong": ["01_the_problem"]}.items():
        for slug in slugs:
            html = (graded_course / "feedback" / student / slug / f"{slug}.html").read_text()
            assert "BEGIN HIDDEN TESTS" not in html and "from autograder" not in html
            assert "check(&quot;" not in html and 'check("' not in html
            assert "Hidden tests ran here" in html
    wrong = (graded_course / "feedback" / "one_wrong" / "01_the_problem" / "01_the_problem.html").read_text()
    assert "off by one layer" in wrong, "the feedback should name the likely misconception"
