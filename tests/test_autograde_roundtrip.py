"""The whole chain for every lesson, on the one grading path: release → worked submissions →
nbgrader's autograde with its sandboxed Execute step (``python -m autograder grade``) → gradebook
scores → feedback without hidden tests; and the mistake submissions graded again in a kernel as
plain nbgrader does (``--in-kernel``), which must agree in every cell.

Each lesson's class: the reference, the untouched release, and submissions that between them
make one real mistake per exercise (tests/mistakes.py), so that each mistake is seen to cost
exactly its own exercise's points. The whole course is graded once, in one scratch course, as an
instructor grades a term's assignments in one run (one pool of warm sandboxes for all of them);
the in-kernel grading of two copies, half the lessons each, runs at the same time.
"""

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest

from autograder.build import lesson_slugs, release_notebook_path
from autograder.solution import worked_notebook
from classroom import submit
from autograder.expected_output import cell_key, differences, printed, read_record
from conftest import COURSE_ROOT, course_environment, released_course, run_tool
from mistakes import mistake_submissions

pytestmark = pytest.mark.slow

# The foundation's two lessons, with their points stated rather than read back (a check on both).
STATED_POINTS = {"00_welcome": 3.0, "01_the_problem": 6.0}


@dataclass
class GradedLesson:
    sandboxed: object      # the course graded by the sandboxed pipeline
    in_kernel: object      # a copy of it, with the submissions of `compared` graded in kernels
    wrong: dict            # student → the exercises that student got wrong

    @property
    def compared(self):
        """The submissions graded both ways: the mistakes, which between them show every cell
        both passed and failed (each exercise is wrong in one and right in the other), and the
        reference where a lesson's one exercise leaves a single mistake submission. The reference
        and the untouched release add no cell state the mistakes lack, and in-kernel grading
        (one kernel at a time, each importing TensorFlow) is the round trip's dearest part."""
        return [*self.wrong] if len(self.wrong) > 1 else ["reference", *self.wrong]


def released_points(slug):
    """The points the release promises: the sum over its graded cells."""
    cells = json.loads(release_notebook_path(slug).read_text())["cells"]
    return sum(float(c["metadata"]["nbgrader"].get("points", 0)) for c in cells
               if c["metadata"].get("nbgrader", {}).get("grade"))


def _grading(root, slugs, *options):
    """``python -m autograder grade`` of ``slugs`` in ``root``, started (awaited by _graded_in_full);
    what it prints goes to a file beside ``root`` (a pipe left unread could fill and stall it)."""
    log = (root.parent / f"grading{'-'.join(options)}.log").open("w+")
    grading = subprocess.Popen([sys.executable, "-m", "autograder", "grade", *slugs, "--workers", "2", *options],
                               cwd=root, env=course_environment(), stdout=log, stderr=subprocess.STDOUT)
    return grading, log


def _graded_in_full(grading, log):
    grading.wait(timeout=2400)
    log.seek(0)
    said = log.read()
    assert grading.returncode == 0, said
    assert ", 0 could not be graded" in said, said


@pytest.fixture(scope="module")
def graded_course(built_course, tmp_path_factory):
    """Every lesson's class, graded: slug → :class:`GradedLesson`."""
    root = released_course(tmp_path_factory.mktemp("roundtrip"), built_course)
    slugs = lesson_slugs()
    # In-kernel grading runs one kernel at a time: two copies, each with half the lessons, grade side by side.
    halves = [slugs[0::2], slugs[1::2]]
    kernel_copies = [tmp_path_factory.mktemp("roundtrip-kernel") / "course" for _ in halves]
    lessons = {}
    for slug in slugs:
        submit(root, "reference", slug, worked_notebook(slug, root))
        submit(root, "untouched", slug, worked_notebook(slug, root, solve=False))
        wrong = {}
        for number, replacements in enumerate(mistake_submissions(slug), 1):
            submit(root, f"mistakes{number}", slug, worked_notebook(slug, root, replacements))
            wrong[f"mistakes{number}"] = set(replacements)
        lessons[slug] = GradedLesson(root, next(c for c, h in zip(kernel_copies, halves) if slug in h), wrong)
    for copy in kernel_copies:
        shutil.copytree(root, copy)
    for slug, lesson in lessons.items():  # a copy grades only the submissions it compares
        for folder in (lesson.in_kernel / "submitted").glob(f"*/{slug}"):
            if folder.parent.name not in lesson.compared:
                shutil.rmtree(folder)
    gradings = [_grading(root, slugs)]  # all side by side: they share nothing
    gradings += [_grading(copy, half, "--in-kernel") for copy, half in zip(kernel_copies, halves)]
    try:
        for grading, log in gradings:
            _graded_in_full(grading, log)
    finally:
        for grading, log in gradings:
            if grading.poll() is None:
                grading.terminate()
                grading.wait()
            log.close()
    done = run_tool(["nbgrader", "generate_feedback", "*"], root)
    assert done.returncode == 0, done.stdout + done.stderr
    return lessons


@pytest.fixture
def graded(slug, graded_course):
    return graded_course[slug]


def scores(root, student, slug):
    """Scores by cell, the total and the maximum, as nbgrader's gradebook holds them."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(slug, slug, student)
        return {grade.name: grade.score for grade in notebook.grades}, notebook.score, notebook.max_score


def record(root, student, slug):
    return json.loads((root / ".autograder" / slug / f"{student}.json").read_text())


@pytest.mark.parametrize("slug", lesson_slugs())
def test_reference_gets_full_marks(graded, slug):
    by_cell, total, maximum = scores(graded.sandboxed, "reference", slug)
    assert maximum == released_points(slug) == STATED_POINTS.get(slug, maximum) > 0
    assert total == maximum, by_cell
    assert record(graded.sandboxed, "reference", slug)["path"] == "sandboxed"


@pytest.mark.parametrize("slug", lesson_slugs())
def test_the_reference_runs_every_cell_without_error(graded, slug):
    """The lesson's own cells work under the grader too (they may shorten a demonstration there):
    the feedback a learner reads shows no traceback where the lesson, not the learner, failed."""
    import nbformat

    ran = nbformat.read(graded.sandboxed / "autograded" / "reference" / slug / f"{slug}.ipynb", as_version=4)
    failed = {cell.source.splitlines()[0]: output.get("ename") for cell in ran.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"}
    assert not failed, failed


@pytest.mark.parametrize("slug", lesson_slugs())
def test_untouched_release_gets_zero(graded, slug):
    by_cell, total, _ = scores(graded.sandboxed, "untouched", slug)
    assert total == 0, by_cell


@pytest.mark.parametrize("slug", lesson_slugs())
def test_each_mistake_loses_exactly_its_exercise(graded, slug):
    assert graded.wrong, "every lesson's exercises have mistakes to grade"
    for student, wrong in graded.wrong.items():
        by_cell, _, _ = scores(graded.sandboxed, student, slug)
        lost = {cell for cell, score in by_cell.items() if score == 0}
        expected = {f"{part}_{name}" for name in wrong for part in ("test", "hidden")}
        assert lost == expected, (student, by_cell)
        kept = {cell: score for cell, score in by_cell.items() if cell not in expected}
        assert all(score > 0 for score in kept.values()), (student, kept)


@pytest.mark.parametrize("slug", lesson_slugs())
def test_sandboxed_and_in_kernel_grading_agree_in_every_cell(graded, slug):
    table = {s: (scores(graded.sandboxed, s, slug)[0], scores(graded.in_kernel, s, slug)[0]) for s in graded.compared}
    print(f"\n{slug} sandboxed / in-kernel, per cell:")
    for student, (sandboxed, in_kernel) in table.items():
        print(f"  {student:<10} " + "  ".join(f"{cell} {sandboxed[cell]:g}/{in_kernel[cell]:g}" for cell in sandboxed))
    assert all(record(graded.in_kernel, s, slug)["path"] == "in a kernel" for s in graded.compared)
    for cell in table[graded.compared[0]][0]:  # the comparison saw this cell both passed and failed
        assert {sandboxed[cell] > 0 for sandboxed, _ in table.values()} == {True, False}, cell
    for student, (sandboxed, in_kernel) in table.items():
        assert sandboxed == in_kernel, student


@pytest.mark.parametrize("slug", lesson_slugs())
def test_feedback_teaches_and_keeps_the_graders_code_secret(graded, slug):
    for student in ["reference", "untouched", *graded.wrong]:
        html = (graded.sandboxed / "feedback" / student / slug / f"{slug}.html").read_text()
        assert "BEGIN HIDDEN TESTS" not in html and "from autograder" not in html
        assert "check(&quot;" not in html and 'check("' not in html
        assert "Hidden tests ran here" in html
        # tracebacks show the learner's frames only: never the runner, the harness or the grader
        assert "/job/" not in html and "harness.py" not in html and "sandbox_runner" not in html, student
    for student in graded.wrong:
        html = (graded.sandboxed / "feedback" / student / slug / f"{slug}.html").read_text()
        assert "checks failed" in html, "the feedback of a wrong answer says which checks failed"


@pytest.mark.parametrize("slug", lesson_slugs())
def test_the_reference_prints_what_the_release_shows(graded, slug):
    """Each "Expected output" block is what the reference's graded run printed, number for number."""
    import nbformat

    shown = read_record(slug, COURSE_ROOT)
    assert shown, f"{slug} shows learners no expected output"
    ran = nbformat.read(graded.sandboxed / "autograded" / "reference" / slug / f"{slug}.ipynb", as_version=4)
    printed_by = {cell_key(cell.source): printed(cell) for cell in ran.cells if cell.cell_type == "code"}
    assert set(shown) <= set(printed_by), "blocks recorded for cells the release no longer has: record again"
    departures = {key: differences(text, printed_by[key]) for key, text in shown.items()}
    assert not any(departures.values()), departures
