"""Feedback keeps a hidden test's verdict and drops its code, tracebacks included."""

import nbformat

from autograder.feedback import HIDDEN_PLACEHOLDER, HideHiddenTests


def _cell(grade_id, source, outputs):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "points": 2}
    cell.outputs = [nbformat.v4.new_output(**o) for o in outputs]
    return cell


def test_hidden_cell_source_and_traceback_are_hidden_message_kept():
    error = {"output_type": "error", "ename": "CheckFailed", "evalue": "expected 2, got 3",
             "traceback": ["----> 3 check('secret', f)", "reference_value = 42"]}
    notebook = nbformat.v4.new_notebook(cells=[_cell("hidden_f", "### BEGIN HIDDEN TESTS\nsecret()", [error]),
                                               _cell("test_f", "assert f() == 2", [error])])
    notebook, _ = HideHiddenTests().preprocess(notebook, {})
    hidden, visible = notebook.cells
    assert hidden.source == HIDDEN_PLACEHOLDER
    assert hidden.outputs[0]["traceback"] == ["CheckFailed: expected 2, got 3"]
    assert visible.source == "assert f() == 2" and len(visible.outputs[0]["traceback"]) == 2
