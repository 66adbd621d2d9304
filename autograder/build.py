"""Build the course: each lesson's jupytext source becomes the nbgrader source notebook, and
``nbgrader generate_assignment`` turns that into the learner's release in ``lessons/``.

``solutions/NN_slug/NN_slug.py`` is the one place a lesson is written. The ``.ipynb`` beside it
is generated (and ignored by git); ``lessons/NN_slug/NN_slug.ipynb`` is generated and
committed. Both are written deterministically: cell ids come from the cell's position or
grade_id, never at random, and no outputs are kept, so a rebuild reproduces them byte for byte.
"""

import ast
import builtins
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


# -- visible self-checks, generated from each exercise's basic cases -------------------------
def generate_visible_checks(notebook, where="notebook"):
    """Fill every ``test_<name>`` cell that holds only its docstring with one ``check`` line per
    basic case of exercise ``name`` (see :func:`visible_check_source`). Cells with more than a
    docstring are left as written (lessons not converted yet)."""
    from autograder.registry import exercise

    for index, cell in enumerate(notebook.cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or ""
        if cell.cell_type != "code" or not grade_id.startswith("test_") or not _only_docstring(cell.source):
            continue
        name = grade_id[len("test_"):]
        source = cell.source.strip() + "\n" + visible_check_source(exercise(name))
        _check_names_are_defined(source, exercise(name), notebook.cells[:index], f"{where}, cell {grade_id}")
        cell.source = source
    return notebook


def check_mutants(slug, course_root=COURSE_ROOT):
    """Every known mistake of the lesson's exercises still fits its solution cell."""
    from autograder.registry import exercise
    from autograder.solution import MutantError, mutated_source, solution_cells

    for grade_id in solution_cells(slug, course_root):
        try:
            mistakes = exercise(grade_id).mistakes
        except KeyError:  # a solution cell no exercise grades
            continue
        for mistake in mistakes:
            try:
                mutated_source(slug, mistake, grade_id, course_root)
            except MutantError as error:
                raise BuildError(f"{slug}: {error}") from None


def _only_docstring(source):
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
        and isinstance(body[0].value.value, str)


def visible_check_source(exercise_obj):
    """The code of ``test_<name>``: an import, one ``check(...)`` line per basic case, ``passed``."""
    from gradclinic.selfcheck import render_value

    unhinted = [case.label for case in exercise_obj.visible_cases() if not case.hint]
    if unhinted:
        raise BuildError(f"{exercise_obj.name}: basic cases {unhinted} have no hint; a visible check says "
                         "what to look at when it fails")
    lines = ["from gradclinic.selfcheck import check, passed", ""]
    lines += [check_line(exercise_obj.name, case) for case in exercise_obj.visible_cases()]
    lines.append(f"passed({render_value(exercise_obj.name)})")
    return "\n".join(lines)


def check_line(function_name, case):
    """``check(function, args, [kwargs], label=…, returns=…|raises=…, …, hint=…)`` for ``case``."""
    from gradclinic.selfcheck import render_arguments, render_value

    if case.args_code is not None:
        positional, keywords = _split_call_code(case.args_code)
    else:
        positional = [render_value(a) for a in case.args]
        keywords = {k: render_value(v) for k, v in case.kwargs.items()}
    inner = ", ".join(positional)
    parts = [function_name, f"({inner},)" if len(positional) == 1 else f"({inner})"]
    if keywords:
        parts.append("{" + ", ".join(f"{render_value(k)}: {v}" for k, v in keywords.items()) + "}")
    if case.args_code is not None or case.label != render_arguments(case.args, case.kwargs):
        parts.append(f"label={render_value(case.label)}")
    if case.kind != "call":
        parts.append(f"kind={render_value(case.kind)}")
        options = (_split_call_code(case.options_code)[1] if case.options_code is not None
                   else {k: render_value(v) for k, v in case.options.items()})
        parts += [f"{k}={v}" for k, v in options.items()]
    parts.append(f"raises={case.raises}" if case.raises else f"returns={render_value(case.expected)}")
    if case.result_type is not None:
        parts.append(f"type={case.result_type.__name__}")
    if case.probe:
        parts.append(f"probe={render_value(case.probe)}")
    parts += [f"{key}={render_value(getattr(case, key))}" for key in ("rtol", "atol") if getattr(case, key) is not None]
    if case.hint:
        parts.append(f"hint={render_value(case.hint)}")
    return f"check({', '.join(parts)})"


def _split_call_code(code):
    """The source of each positional argument and of each keyword's value in ``f(code)``."""
    text = f"f({code})"
    call = ast.parse(text, mode="eval").body
    positional = [ast.get_source_segment(text, node) for node in call.args]
    return positional, {k.arg: ast.get_source_segment(text, k.value) for k in call.keywords}


def _check_names_are_defined(source, exercise_obj, earlier_cells, where):
    """The generated cell may use only names the notebook defines before it, and the names
    ``args_code`` uses must be imported there just as the grader imports them."""
    defined = {}
    for cell in earlier_cells:
        if cell.cell_type == "code":
            try:
                defined.update(_bindings(ast.parse(cell.source)))
            except SyntaxError:
                continue
    generated = ast.parse(source)
    used = {n.id for n in ast.walk(generated) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    missing = sorted(used - set(defined) - set(_bindings(generated)) - set(dir(builtins)))
    if missing:
        raise BuildError(f"{where}: the generated checks use {', '.join(missing)}, which the notebook "
                         "does not define before this cell")
    for name, origin in _bindings(ast.parse(exercise_obj.code_imports)).items():
        if name in used and defined.get(name) != origin:
            raise BuildError(f"{where}: {name} is {origin} for the grader ({type(exercise_obj).__name__}."
                             f"code_imports) but {defined.get(name) or 'not imported'} in the notebook")


def _bindings(tree):
    """Names a module binds: imports map to what they import ("numpy", "gradclinic.models.deep_mlp"),
    other names (assignments, functions, classes) to None."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bound.update({a.asname or a.name.split(".")[0]: a.name if a.asname else a.name.split(".")[0]
                          for a in node.names})
        elif isinstance(node, ast.ImportFrom):
            bound.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound[node.name] = None
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound[node.id] = None
    return bound


def write_notebook(notebook, path):
    import nbformat

    path.parent.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(notebook, version=4)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def build_solution_notebook(slug, course_root=COURSE_ROOT):
    """Write ``solutions/slug/slug.ipynb`` from its jupytext source, with the recorded expected
    outputs (autograder/expected_output.py); return the ids of marked cells that have none."""
    from autograder.expected_output import add_blocks

    check_mutants(slug, course_root)
    notebook = generate_visible_checks(notebook_from_source(source_path(slug, course_root)), slug)
    unrecorded = add_blocks(notebook, slug, course_root)
    # Ids by position again: the inserted blocks shift every later cell.
    write_notebook(normalise(notebook, slug), solution_notebook_path(slug, course_root))
    return unrecorded


def tool_environment():
    """The environment for nbgrader subprocesses: this interpreter's bin first on PATH (nbgrader
    runs ``alembic`` and ``jupyter`` by name, which must come from the same environment)."""
    import os

    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")])}


def release(slugs, course_root=COURSE_ROOT, gradebook=None):
    """Run nbgrader's ``generate_assignment`` for ``slugs`` and normalise the release notebooks.

    One nbgrader process releases them all (:func:`_generate_assignments`): starting nbgrader
    costs about 4 s, releasing a lesson a fifth of a second. It runs in the course root, as
    ``nbgrader generate_assignment`` would, so it reads that course's nbgrader_config.py.
    ``gradebook``: a path where the gradebook that records the assignments is kept (default: a
    throwaway one); a copy of it serves a scratch course as ``nbgrader generate_assignment`` would.
    """
    import tempfile

    import nbformat

    # Unless one is asked for, a throwaway gradebook: building never touches the instructor's,
    # and parallel builds of different lessons never contend for one sqlite file.
    with tempfile.TemporaryDirectory() as scratch:
        database = Path(gradebook).resolve() if gradebook else Path(scratch) / "gradebook.db"
        command = [sys.executable, "-c", "import sys; from autograder.build import _generate_assignments; "
                   "_generate_assignments(sys.argv[1], sys.argv[2:])", f"sqlite:///{database}", *slugs]
        done = subprocess.run(command, cwd=course_root, capture_output=True, text=True,
                              env=tool_environment())
    if done.returncode != 0:
        raise BuildError(f"nbgrader generate_assignment failed:\n{done.stdout}{done.stderr}")
    paths = [release_notebook_path(slug, course_root) for slug in slugs]
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        write_notebook(normalise(notebook, str(path)), path)
    return paths


def _generate_assignments(db_url, slugs):
    """``nbgrader generate_assignment SLUG --force`` for each slug, in this one process (the one
    :func:`release` starts in the course root), into the gradebook at ``db_url``."""
    import os

    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=os.getcwd()).load_config()
    config.CourseDirectory.db_url = db_url
    api = NbGraderAPI(config=config)
    for slug in slugs:
        result = api.generate_assignment(slug, force=True)
        if not result["success"]:
            sys.exit(f"nbgrader generate_assignment {slug} failed:\n{result['log']}{result['error']}")


def build(slugs=None, course_root=COURSE_ROOT, record_expected=False, report=lambda line: None, gradebook=None):
    """Build solution notebooks and releases for ``slugs`` (default: every lesson).

    With ``record_expected``, first run each solution notebook headless and record what its
    marked cells print. Returns the release paths; ``report`` hears timings and unrecorded cells;
    ``gradebook`` keeps the release's gradebook (see :func:`release`).
    """
    from autograder.expected_output import record

    slugs = slugs or lesson_slugs(course_root)
    unknown = sorted(set(slugs) - set(lesson_slugs(course_root)))
    if unknown:
        raise BuildError(f"no lesson source for {', '.join(unknown)} in {course_root / 'solutions'}")
    for slug in slugs:
        if record_expected:  # recorded from the release a learner runs, so that is built first
            build_solution_notebook(slug, course_root)
            release([slug], course_root)
            report(f"{slug}: ran headless in {record(slug, course_root):.1f} s; expected outputs recorded")
        unrecorded = build_solution_notebook(slug, course_root)
        if unrecorded:
            report(f"{slug}: cells {', '.join(unrecorded)} are marked expected-output but have no recorded "
                   f"output for their current code: python -m autograder build --record-expected {slug}")
    return release(slugs, course_root, gradebook)


def copy_course(destination, course_root=COURSE_ROOT):
    """Copy what a build or grading run needs into ``destination`` (for tests and benches)."""
    destination = Path(destination)
    for name in ("solutions", "lessons", "autograder", "gradclinic"):
        if (course_root / name).exists():
            shutil.copytree(course_root / name, destination / name,
                            ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    shutil.copy(course_root / "nbgrader_config.py", destination / "nbgrader_config.py")
    return destination

