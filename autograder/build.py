"""Build the course: each lesson's jupytext source becomes the nbgrader source notebook, and
``nbgrader generate_assignment`` turns that into the learner's release in ``lessons/``.

``solutions/NN_slug/NN_slug.py`` is the one place a lesson is written. The ``.ipynb`` beside it
is generated (and ignored by git); ``lessons/NN_slug/NN_slug.ipynb`` is generated and
committed. Both are written deterministically: cell ids come from the cell's position or
grade_id, never at random, and no outputs are kept, so a rebuild reproduces them byte for byte.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

COURSE_ROOT = Path(__file__).resolve().parent.parent
LESSON_PATTERN = re.compile(r"^\d\d_[a-z0-9_]+$")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}


class BuildError(Exception):
    """A lesson source that cannot be built, with the file and the reason."""


def lesson_slugs(course_root=COURSE_ROOT):
    """Every lesson written in ``solutions/``, in course order."""
    folders = (course_root / "solutions").iterdir()
    return sorted(p.name for p in folders if p.is_dir() and LESSON_PATTERN.match(p.name)
                  and (p / f"{p.name}.py").is_file())


def source_path(slug, course_root=COURSE_ROOT):
    return course_root / "solutions" / slug / f"{slug}.py"


def solution_notebook_path(slug, course_root=COURSE_ROOT):
    return course_root / "solutions" / slug / f"{slug}.ipynb"


def release_notebook_path(slug, course_root=COURSE_ROOT):
    return course_root / "lessons" / slug / f"{slug}.ipynb"


def notebook_from_source(path):
    """Read a jupytext percent script into a normalised notebook (deterministic ids)."""
    import jupytext

    try:
        notebook = jupytext.read(path, fmt="py:percent")
    except Exception as error:
        raise BuildError(f"{path}: jupytext cannot read it: {error}") from error
    return normalise(notebook, str(path))


def normalise(notebook, where="notebook"):
    """Give cells stable ids, drop outputs and tool metadata, set the Python 3 kernel."""
    seen = set()
    for index, cell in enumerate(notebook.cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id and grade_id in seen:
            raise BuildError(f"{where}: grade_id {grade_id!r} is used by two cells")
        seen.add(grade_id)
        cell["id"] = grade_id or f"cell-{index:03d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("jupytext", None)
        cell.metadata.pop("execution", None)
    notebook.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    return notebook


def write_notebook(notebook, path):
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(notebook, version=4)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def build_solution_notebook(slug, course_root=COURSE_ROOT):
    """Write ``solutions/slug/slug.ipynb`` from its jupytext source; return its path."""
    notebook = notebook_from_source(source_path(slug, course_root))
    target = solution_notebook_path(slug, course_root)
    write_notebook(notebook, target)
    return target


def tool_environment():
    """The environment for nbgrader subprocesses: this interpreter's bin first on PATH (nbgrader
    runs ``alembic`` and ``jupyter`` by name, which must come from the same environment)."""
    import os

    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}


def release(slug, course_root=COURSE_ROOT):
    """Run ``nbgrader generate_assignment`` for ``slug`` and normalise the release notebook."""
    import tempfile

    # A throwaway gradebook: building never touches the instructor's, and parallel builds of
    # different lessons never contend for one sqlite file.
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "nbgrader", "generate_assignment", slug, "--force",
                   "--log-level=ERROR", f"--CourseDirectory.db_url=sqlite:///{scratch}/gradebook.db"]
        done = subprocess.run(command, cwd=course_root, capture_output=True, text=True,
                              env=tool_environment())
    if done.returncode != 0:
        raise BuildError(f"nbgrader generate_assignment {slug} failed:\n{done.stdout}{done.stderr}")
    import nbformat

    path = release_notebook_path(slug, course_root)
    notebook = nbformat.read(path, as_version=4)
    write_notebook(normalise(notebook, str(path)), path)
    return path


def build(slugs=None, course_root=COURSE_ROOT):
    """Build solution notebooks and releases for ``slugs`` (default: every lesson)."""
    slugs = slugs or lesson_slugs(course_root)
    unknown = sorted(set(slugs) - set(lesson_slugs(course_root)))
    if unknown:
        raise BuildError(f"no lesson source for {', '.join(unknown)} in {course_root / 'solutions'}")
    built = []
    for slug in slugs:
        build_solution_notebook(slug, course_root)
        built.append(release(slug, course_root))
    return built


def copy_course(destination, course_root=COURSE_ROOT):
    """Copy what a build or grading run needs into ``destination`` (for tests and benches)."""
    destination = Path(destination)
    for name in ("solutions", "lessons", "autograder", "gradclinic"):
        if (course_root / name).exists():
            shutil.copytree(course_root / name, destination / name,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy(course_root / "nbgrader_config.py", destination / "nbgrader_config.py")
    return destination


def read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))
