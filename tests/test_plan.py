"""A grading plan asks the sandbox for every test cell's calls, and every array a call refers
to (plain arrays and a Keras model's weights) travels with it under the plan's own key."""

import nbformat
import pytest

from autograder.build import lesson_slugs, notebook_from_source, source_path
from autograder.plan import plan_for


def _array_keys(tree):
    if isinstance(tree, list):
        return [key for item in tree for key in _array_keys(item)]
    if isinstance(tree, dict):
        if set(tree) == {"__ndarray__"}:
            return [tree["__ndarray__"]]
        if set(tree) == {"__keras_model__"}:
            return list(tree["__keras_model__"]["weights"])
        return [key for item in tree.values() for key in _array_keys(item)]
    return []


@pytest.mark.parametrize("slug", lesson_slugs())
def test_every_test_cell_is_asked_and_every_array_travels(slug):
    notebook = notebook_from_source(source_path(slug))
    plan = plan_for(nbformat.from_dict(notebook))
    tests = [c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
             if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert list(plan.tests) == tests
    for test in plan.tests.values():
        assert test.exercise is not None and len(test.calls) == len(test.cases) > 0, test.grade_id
        for index in test.calls:
            assert plan.calls[index]["function"] == test.exercise.name
    referenced = [key for call in plan.calls for key in _array_keys(call)]
    assert set(referenced) <= set(plan.arrays), sorted(set(referenced) - set(plan.arrays))[:5]
    assert all(key.split(":")[0] in plan.tests for key in plan.arrays)
    assert plan.key == plan_for(nbformat.from_dict(notebook)).key, "the same notebook gives the same plan"
