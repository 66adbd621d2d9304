"""Synthetic classes for tests and benchmarks: a worked notebook (autograder.solution) put where
``nbgrader collect`` would put a student's submission."""

import nbformat


def submit(course_root, student, slug, notebook):
    """Write ``notebook`` where ``nbgrader collect`` would put a student's submission."""
    folder = course_root / "submitted" / student / slug
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / f"{slug}.ipynb")
    (folder / "timestamp.txt").write_text("2026-11-22 12:00:00.000000 UTC")
    return folder / f"{slug}.ipynb"
