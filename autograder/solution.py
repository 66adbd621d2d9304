"""A lesson's solution cells as the grader runs them: the one place each exercise's code is written.

The reference the grader compares a learner's answer with is the function the instructor's
solution cell defines (``solutions/NN_slug/NN_slug.py``), run here: nothing is written twice, so
the two cannot drift. A known mistake is data too: a :class:`Mutant` is that same cell with one
small edit, and the message that names it.
"""

import ast
import functools
from dataclasses import dataclass

from autograder.build import COURSE_ROOT, notebook_from_source, release_notebook_path, source_path


class MutantError(ValueError):
    """A mutant whose edit no longer fits its solution cell (the cell was changed)."""


@dataclass(frozen=True)
class Mutant:
    """A known mistake: the solution cell of ``cell`` (default: the exercise's own) with each
    ``edits`` key replaced by its value (each key must occur exactly once), and ``what``, the
    misconception it names, in the words a learner reads after "Likely cause:"."""

    what: str
    edits: dict
    cell: str = None

    def __hash__(self):
        return hash((self.what, tuple(self.edits.items()), self.cell))


def _definitions_only(source):
    """The statements of a code cell that only define things: imports, functions, classes and
    UPPER_CASE constants (no training, no drawing, no explorers)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics and the like: such a cell defines nothing we need
        return None

    def constant_target(target):
        if isinstance(target, ast.Name):
            return target.id.isupper()
        if isinstance(target, (ast.Tuple, ast.List)):
            return all(constant_target(element) for element in target.elts)
        return False

    kept = [node for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
            or (isinstance(node, ast.Assign) and all(constant_target(t) for t in node.targets))]
    return ast.Module(body=kept, type_ignores=[]) if kept else None


@functools.cache
def solution_cells(slug, course_root=COURSE_ROOT):
    """``{grade_id: source}`` of the lesson's solution cells, in notebook order."""
    notebook = notebook_from_source(source_path(slug, course_root))
    return {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in notebook.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")}


def worked_notebook(slug, course_root=COURSE_ROOT, replacements=None, solve=True):
    """The learner's release (``lessons/``, which must be built) with its solution cells filled in:
    with the instructor's solution when ``solve``, and ``replacements`` (grade_id → source, e.g. a
    wrong answer or a mutant) in single cells. Other cells stay exactly as released."""
    import nbformat

    notebook = nbformat.read(release_notebook_path(slug, course_root), as_version=4)
    sources = dict(solution_cells(slug, course_root)) if solve else {}
    sources.update(replacements or {})
    unknown = set(replacements or {}) - {c.metadata.get("nbgrader", {}).get("grade_id") for c in notebook.cells}
    if unknown:
        raise ValueError(f"{slug} has no cells {sorted(unknown)}")
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in sources:
            cell.source = sources[grade_id]
    return notebook


def lesson_namespace(slug, replacements=None):
    """The namespace a lesson's solution cells build, with ``replacements`` (grade_id → source)
    in place of the instructor's solution cells. Other code cells contribute their definitions
    only (see :func:`_definitions_only`); graded test cells are skipped."""
    replacements = dict(replacements or {})
    unknown = set(replacements) - set(solution_cells(slug))
    if unknown:
        raise ValueError(f"{slug} has no solution cells {sorted(unknown)}")
    notebook = notebook_from_source(source_path(slug))
    namespace = {"__name__": f"lesson_{slug}"}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        nbgrader = cell.metadata.get("nbgrader", {})
        if nbgrader.get("solution"):
            source = replacements.get(nbgrader["grade_id"], cell.source)
            exec(compile(source, f"{slug}:{nbgrader['grade_id']}", "exec"), namespace)
        elif not nbgrader.get("grade"):
            module = _definitions_only(cell.source)
            if module is not None:
                exec(compile(module, f"{slug}:definitions", "exec"), namespace)
    return namespace


@functools.cache
def reference_namespace(slug):
    """The instructor's lesson namespace, built once per process."""
    return lesson_namespace(slug)


def solution_function(slug, name):
    """What the solution notebook of ``slug`` defines as ``name``: the grader's reference."""
    namespace = reference_namespace(slug)
    if name not in namespace:
        raise KeyError(f"the solution of {slug} defines no {name!r}")
    return namespace[name]


def mutated_source(slug, mutant, grade_id, course_root=COURSE_ROOT):
    """The solution cell of ``mutant.cell or grade_id`` with the mutant's edits made."""
    cell = mutant.cell or grade_id
    source = solution_cells(slug, course_root).get(cell)
    if source is None:
        raise MutantError(f"{slug} has no solution cell {cell!r} (mutant {mutant.what!r})")
    for find, replace in mutant.edits.items():
        count = source.count(find)
        if count != 1:
            raise MutantError(f"mutant {mutant.what!r} of {slug}:{cell}: {find!r} occurs {count} times in "
                              "the solution cell (it must occur once; was the cell edited?)")
        source = source.replace(find, replace)
    return source


@functools.cache
def mutant_function(slug, mutant, grade_id, name=None):
    """The function ``name`` (default ``grade_id``) as the mutant defines it: its cell, edited, run
    in a copy of the instructor's namespace (so the other cells' functions stay the instructor's)."""
    namespace = dict(reference_namespace(slug))
    cell = mutant.cell or grade_id
    exec(compile(mutated_source(slug, mutant, grade_id), f"{slug}:{cell} (mutant)", "exec"), namespace)
    return namespace[name or grade_id]
