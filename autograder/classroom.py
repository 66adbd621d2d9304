"""Synthetic submissions for tests and benchmarks: the release notebook, worked as a learner would.

A submission starts from the learner's release (``lessons/``) and fills solution cells with
the instructor's solution, or with any replacement source (a wrong answer, an attack).
"""

import nbformat

from autograder.build import release_notebook_path, solution_notebook_path


def solution_sources(slug, course_root):
    """The solution cell sources of a lesson, by grade_id."""
    notebook = nbformat.read(solution_notebook_path(slug, course_root), as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("solution")}


def worked_notebook(slug, course_root, replacements=None, solve=True):
    """The release notebook with solution cells filled in.

    ``solve=True`` fills every solution cell with the instructor's solution; ``replacements``
    (grade_id → source) overrides single cells, e.g. a wrong implementation. Other cells are
    left exactly as released.
    """
    notebook = nbformat.read(release_notebook_path(slug, course_root), as_version=4)
    sources = solution_sources(slug, course_root) if solve else {}
    sources.update(replacements or {})
    unknown = set(replacements or {}) - {c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells}
    if unknown:
        raise ValueError(f"{slug} has no cells {sorted(unknown)}")
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    return notebook


def submit(course_root, student, slug, notebook):
    """Write ``notebook`` where ``nbgrader collect`` would put a student's submission."""
    folder = course_root / "submitted" / student / slug
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / f"{slug}.ipynb")
    (folder / "timestamp.txt").write_text("2026-11-22 12:00:00.000000 UTC")
    return folder / f"{slug}.ipynb"
