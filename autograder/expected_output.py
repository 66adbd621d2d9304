"""Expected outputs: what the reference run prints, shown to learners beside the cell that prints it.

Notebooks ship without outputs, so a learner with a subtly wrong function cannot otherwise tell
their numbers from the course's. A lesson source marks the cells worth comparing with the
jupytext tag ``expected-output``. ``python -m autograder build --record-expected SLUG`` runs the
release, worked with the reference's solutions, headless and keeps what each marked cell printed (stdout) in
``solutions/SLUG/expected_output.json``, keyed by the cell's source; every build then shows it in
a markdown cell right after the marked cell. A block recorded for an older version of the cell is
not shown (the build names the cells to record again), and the grading round trip checks that the
reference run still prints what the release shows, so the two cannot drift apart.
"""

import hashlib
import json
import math
import re
import time
from pathlib import Path

TAG = "expected-output"
HEADING = "**Expected output** (approximately; the course's reference run prints):"
# A number as Python prints it: sign, digits, optional fraction and exponent, or inf/nan.
NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?|[-+]?\.\d+(?:[eE][-+]?\d+)?"
                    r"|[-+]?\b(?:inf|nan)\b")
RELATIVE_TOLERANCE = 0.05  # a learner's BLAS, thread count and platform move the last digits


def record_path(slug, course_root):
    return Path(course_root) / "solutions" / slug / "expected_output.json"


def cell_key(source):
    """A marked cell's key: its source, so an edited cell is never shown an old output."""
    return hashlib.sha256(source.strip().encode()).hexdigest()[:16]


def is_marked(cell):
    return cell.cell_type == "code" and TAG in cell.metadata.get("tags", [])


def marked_cells(notebook):
    return [cell for cell in notebook.cells if is_marked(cell)]


def printed(cell):
    """The text a cell printed to stdout (what the grader's sandbox keeps of a cell, too)."""
    return "".join(output.get("text", "") for output in cell.get("outputs", [])
                   if output.get("output_type") == "stream" and output.get("name") == "stdout")


def read_record(slug, course_root):
    path = record_path(slug, course_root)
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error}); record it again with "
                         f"python -m autograder build --record-expected {slug}") from error


def run_headless(notebook, slug, course_root):
    """Execute ``notebook`` as a learner's machine would without a browser; return the seconds taken.

    A cell error raises nbclient's CellExecutionError (a reference that fails must not be recorded).
    """
    import os

    from nbclient import NotebookClient

    from autograder.build import tool_environment

    environment = tool_environment()
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", "GRADCLINIC_HEADLESS", "PATH")}
    # The kernel inherits this process's environment: the course importable, explorers headless.
    os.environ.update(PATH=environment["PATH"], GRADCLINIC_HEADLESS="1",
                      PYTHONPATH=os.pathsep.join(filter(None, [str(course_root), saved["PYTHONPATH"]])))
    try:
        started = time.perf_counter()
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(Path(course_root) / "solutions" / slug)}}).execute()
        return time.perf_counter() - started
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def record(slug, course_root):
    """Run the learner's release with the reference's solutions, headless, as a learner with right
    answers would (no hidden tests: they would move every random draw after them); write what its
    marked cells print; return the seconds. The release must be built."""
    from autograder.solution import worked_notebook

    notebook = worked_notebook(slug, course_root)
    seconds = run_headless(notebook, slug, course_root)
    recorded = {cell_key(cell.source): printed(cell) for cell in marked_cells(notebook)}
    silent = [cell.id for cell in marked_cells(notebook) if not recorded[cell_key(cell.source)].strip()]
    if silent:
        raise ValueError(f"{slug}: cells {', '.join(silent)} are marked {TAG!r} but print nothing")
    text = json.dumps(recorded, indent=1, sort_keys=True, ensure_ascii=False)
    record_path(slug, course_root).write_text(text + "\n", encoding="utf-8")
    return seconds


def add_blocks(notebook, slug, course_root):
    """Insert the recorded output after each marked cell; return the marked cells with no record."""
    import nbformat

    recorded = read_record(slug, course_root)
    cells, unrecorded = [], []
    for cell in notebook.cells:
        cells.append(cell)
        if not is_marked(cell):
            continue
        text = recorded.get(cell_key(cell.source))
        if text is None:
            unrecorded.append(cell.id)
            continue
        cells.append(nbformat.v4.new_markdown_cell(f"{HEADING}\n\n```text\n{text.rstrip()}\n```"))
    notebook.cells = cells
    return unrecorded


def differences(expected, actual, rtol=RELATIVE_TOLERANCE):
    """Where ``actual`` printed text departs from ``expected``: the words must be the same and each
    number within ``rtol`` of its expected value or one unit of its last printed digit, whichever is
    wider. Returns readable lines, empty when they agree."""
    expected_numbers, actual_numbers = NUMBER.findall(expected), NUMBER.findall(actual)
    if NUMBER.sub("#", expected).split() != NUMBER.sub("#", actual).split():
        return [f"the words differ:\n  expected: {expected.strip()!r}\n  printed:  {actual.strip()!r}"]
    found = []
    for wanted, got in zip(expected_numbers, actual_numbers):
        a, b = float(wanted.replace(",", "")), float(got.replace(",", ""))
        if math.isnan(a) and math.isnan(b):
            continue
        if not math.isclose(a, b, rel_tol=rtol, abs_tol=1.001 * _last_digit(wanted)):  # 1.001: float noise
            found.append(f"{got} where the release shows {wanted}")
    return found


def _last_digit(number_text):
    """One unit in the last place printed: 0.013 → 0.001, 2.5e-03 → 1e-04, 12 → 1."""
    if number_text.lstrip("+-").isalpha():  # inf, nan
        return 0.0
    mantissa, _, exponent = number_text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (-decimals + (int(exponent) if exponent else 0))
