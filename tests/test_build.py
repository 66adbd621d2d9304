"""lessons/ is exactly what building from solutions/ gives, and gives nothing away."""

import json
import subprocess
import sys

import pytest

from autograder.build import BuildError, copy_course, lesson_slugs, notebook_from_source, release_notebook_path
from autograder.expected_output import HEADING, TAG, add_blocks, cell_key, differences, marked_cells
from conftest import COURSE_ROOT, course_environment

SECRET_MARKERS = ["### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "from autograder", "check(\""]


def test_every_lesson_is_released():
    for slug in lesson_slugs():
        assert release_notebook_path(slug).is_file(), f"{slug} has no release: run python -m autograder build {slug}"


@pytest.mark.parametrize("slug", lesson_slugs())
def test_release_is_in_sync_with_its_source(slug, built_course):
    committed = release_notebook_path(slug).read_text()
    rebuilt = release_notebook_path(slug, built_course).read_text()
    assert committed == rebuilt, f"lessons/{slug} is stale: run `python -m autograder build {slug}` and commit"


def test_the_build_command_writes_nothing_to_stderr(built_course, tmp_path):
    # Lesson 01's visible checks build Keras models: TensorFlow starts in the build's process.
    # Its quieting variables are removed here, as an instructor's shell does not have them.
    root = copy_course(tmp_path / "course", course_root=built_course)
    env = {k: v for k, v in course_environment().items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS")}
    done = subprocess.run([sys.executable, "-m", "autograder", "build", "01_the_problem"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.strip().endswith("01_the_problem.ipynb")


@pytest.mark.parametrize("slug", lesson_slugs())
def test_release_has_no_outputs_no_random_ids_and_no_secrets(slug):
    notebook = json.loads(release_notebook_path(slug).read_text())
    for index, cell in enumerate(notebook["cells"]):
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        assert cell["id"] in (grade_id, f"cell-{index:03d}")
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
        source = "".join(cell["source"])
        for marker in SECRET_MARKERS:
            assert marker not in source, f"{slug} cell {cell['id']} leaks {marker!r}"


@pytest.mark.parametrize("slug", lesson_slugs())
def test_every_marked_cell_shows_the_output_recorded_for_its_code(slug):
    notebook = notebook_from_source(COURSE_ROOT / "solutions" / slug / f"{slug}.py")
    assert marked_cells(notebook), f"{slug}: no cell is marked {TAG!r}"
    unrecorded = add_blocks(notebook, slug, COURSE_ROOT)
    assert unrecorded == [], f"run python -m autograder build --record-expected {slug}"


def test_an_edited_cell_loses_its_old_output_and_is_named(tmp_path):
    (tmp_path / "solutions" / "00_demo").mkdir(parents=True)
    old_source, new_source = "print(1.5)", "print(2.5)"
    (tmp_path / "solutions" / "00_demo" / "expected_output.json").write_text(json.dumps({cell_key(old_source): "1.5\n"}))
    notebook = _notebook((old_source, None), (new_source, None))
    for cell in notebook.cells:
        cell.metadata["tags"] = [TAG]
    unrecorded = add_blocks(notebook, "00_demo", tmp_path)
    assert unrecorded == [notebook.cells[2].id]
    assert [cell.cell_type for cell in notebook.cells] == ["code", "markdown", "code"]
    assert notebook.cells[1].source.startswith(HEADING) and "1.5" in notebook.cells[1].source


@pytest.mark.parametrize("expected, printed, agree", [
    ("loss 0.0130 after 9,100 steps", "loss 0.0135 after 9,100 steps", True),   # within 5 %
    ("loss 0.013", "loss 0.014", True),                                          # one unit of the last digit
    ("loss 0.013", "loss 0.0145", False),
    ("ratio 2.5e-03", "ratio 2.7e-03", False),
    ("after 9,100 steps", "after 9,700 steps", False),
    ("verdict vanishing: nan", "verdict vanishing: nan", True),
    ("verdict vanishing", "verdict exploding", False),
])
def test_printed_text_is_compared_word_for_word_and_number_by_number(expected, printed, agree):
    assert (differences(expected, printed) == []) == agree


@pytest.mark.parametrize("slug", lesson_slugs())
def test_graded_cells_follow_the_naming_contract(slug):
    """Each solution cell <name> has test_<name> and hidden_<name> grade cells after it."""
    notebook = notebook_from_source(COURSE_ROOT / "solutions" / slug / f"{slug}.py")
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells]
    solutions = [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
                 if c.metadata.get("nbgrader", {}).get("solution")]
    for name in solutions:
        assert ids.index(f"test_{name}") > ids.index(name)
        assert ids.index(f"hidden_{name}") > ids.index(name)


def test_build_reports_a_malformed_source(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text('# %% nbgrader={"grade": true, "grade_id": "a"}\n1\n# %% nbgrader={"grade_id": "a"}\n2\n')
    with pytest.raises(BuildError, match="used by two cells"):
        notebook_from_source(broken)


def test_build_refuses_an_unknown_lesson(tmp_path):
    from autograder.build import build, copy_course

    root = copy_course(tmp_path / "course")
    with pytest.raises(BuildError, match="no lesson source"):
        build(["99_nothing"], course_root=root)


def _notebook(*cells):
    """An in-memory notebook of (source, grade_id or None) code cells."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    for source, grade_id in cells:
        cell = nbformat.v4.new_code_cell(source)
        if grade_id:
            cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True, "points": 1}
        notebook.cells.append(cell)
    return notebook


def test_a_docstring_only_test_cell_gets_one_check_per_basic_case():
    from autograder.build import generate_visible_checks
    from autograder.registry import exercise

    notebook = generate_visible_checks(_notebook(("def compound(scale, depth):\n    return 1.0", None),
                                                 ('"""Self-check: compound."""', "test_compound")))
    lines = notebook.cells[1].source.splitlines()
    assert lines[0] == '"""Self-check: compound."""'
    assert sum(line.startswith("check(compound, ") for line in lines) == len(exercise("compound").basic_cases())
    assert lines[-1] == 'passed("compound")'


def test_a_hand_written_test_cell_is_left_as_written():
    from autograder.build import generate_visible_checks

    written = '"""Self-check: compound."""\nassert compound(2, 3) == 8.0'
    notebook = generate_visible_checks(_notebook(("def compound(scale, depth):\n    return 1.0", None),
                                                 (written, "test_compound")))
    assert notebook.cells[1].source == written


def test_generated_checks_may_use_only_names_defined_before_them():
    from autograder.build import generate_visible_checks

    with pytest.raises(BuildError, match="compound"):
        generate_visible_checks(_notebook(('"""Self-check: compound."""', "test_compound"),
                                          ("def compound(scale, depth):\n    return 1.0", None)))


def test_args_code_names_must_be_imported_as_the_grader_imports_them():
    from autograder.build import generate_visible_checks

    defined_otherwise = "import keras\nimport numpy as np\n\n\ndef deep_linear_model(depth, width, scale):\n    pass"
    with pytest.raises(BuildError, match="gradclinic.models.deep_linear_model"):
        generate_visible_checks(_notebook((defined_otherwise + "\n\n\ndef layer_gradient_norms(*a):\n    pass", None),
                                          ('"""Self-check."""', "test_layer_gradient_norms")))
