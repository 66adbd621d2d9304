"""The whole chain for every lesson: release → worked submissions → nbgrader autograde →
gradebook scores → feedback HTML without hidden tests.

Each lesson is graded in its own scratch course, once per worker that needs it; its tests share
an xdist group, so the lessons spread over the workers and each is graded once.
"""

import json
import shutil

import pytest

from autograder.build import copy_course, lesson_slugs, release_notebook_path
from autograder.classroom import submit, worked_notebook
from conftest import run_tool

pytestmark = pytest.mark.slow

WRONG_ACTIVATIONS = '''def deep_linear_activations(x, scale, depth):
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or depth < 1:
        raise ValueError("bad input")
    return np.array([np.linalg.norm(x) * scale ** layer for layer in range(depth)])  # starts at the input
'''
# The foundation's two lessons, with their points stated rather than read back (a check on both).
STATED_POINTS = {"00_welcome": 3.0, "01_the_problem": 6.0}
_graded = {}


def by_lesson(*names):
    """Parametrize over lessons; each lesson's tests go to one worker together."""
    return pytest.mark.parametrize("slug", [pytest.param(slug, marks=pytest.mark.xdist_group(f"roundtrip-{slug}"))
                                            for slug in names])


def released_points(slug):
    """The points the release promises: the sum over its graded cells."""
    cells = json.loads(release_notebook_path(slug).read_text())["cells"]
    return sum(float(c["metadata"]["nbgrader"].get("points", 0)) for c in cells
               if c["metadata"].get("nbgrader", {}).get("grade"))


@pytest.fixture
def graded(slug, built_course, tmp_path_factory):
    """A scratch course in which ``slug`` was submitted (reference, untouched release, and for
    lesson 01 one wrong function), autograded and given feedback."""
    if slug not in _graded:
        root = copy_course(tmp_path_factory.mktemp(f"roundtrip-{slug}"), course_root=built_course)
        shutil.copy(built_course / "solutions" / slug / f"{slug}.ipynb", root / "solutions" / slug)
        done = run_tool(["nbgrader", "generate_assignment", slug, "--force"], root)
        assert done.returncode == 0, done.stderr
        submit(root, "reference", slug, worked_notebook(slug, root))
        submit(root, "untouched", slug, worked_notebook(slug, root, solve=False))
        if slug == "01_the_problem":
            submit(root, "one_wrong", slug, worked_notebook(slug, root, {"deep_linear_activations": WRONG_ACTIVATIONS}))
        for step in (["autograde", slug, "--create"], ["generate_feedback", slug]):
            done = run_tool(["nbgrader", *step], root)
            assert done.returncode == 0, done.stdout + done.stderr
        _graded[slug] = root
    return _graded[slug]


def scores(root, student, slug):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(slug, slug, student)
        return {grade.name: grade.score for grade in notebook.grades}, notebook.score, notebook.max_score


@by_lesson(*lesson_slugs())
def test_reference_gets_full_marks(graded, slug):
    by_cell, total, maximum = scores(graded, "reference", slug)
    assert maximum == released_points(slug) == STATED_POINTS.get(slug, maximum) > 0
    assert total == maximum, by_cell


@by_lesson(*lesson_slugs())
def test_untouched_release_gets_zero(graded, slug):
    by_cell, total, _ = scores(graded, "untouched", slug)
    assert total == 0, by_cell


@by_lesson("01_the_problem")
def test_one_wrong_function_loses_exactly_its_points(graded, slug):
    by_cell, total, _ = scores(graded, "one_wrong", slug)
    assert by_cell == {"test_deep_linear_activations": 0, "hidden_deep_linear_activations": 0,
                       "test_layer_gradient_norms": 1, "hidden_layer_gradient_norms": 2}
    assert total == 3


@by_lesson(*lesson_slugs())
def test_feedback_teaches_and_keeps_hidden_tests_secret(graded, slug):
    students = ["reference", "untouched"] + (["one_wrong"] if slug == "01_the_problem" else [])
    for student in students:
        html = (graded / "feedback" / student / slug / f"{slug}.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in html and "from autograder" not in html
        assert "check(&quot;" not in html and 'check("' not in html
        assert "Hidden tests ran here" in html
    if slug == "01_the_problem":
        wrong = (graded / "feedback" / "one_wrong" / slug / f"{slug}.html").read_text()
        assert "off by one layer" in wrong, "the feedback should name the likely misconception"
