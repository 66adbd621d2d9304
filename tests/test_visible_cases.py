"""One set of cases per exercise: the visible self-check cell ``test_<name>`` is generated from
the exercise's basic cases, and the grader scores that cell on the same cases with the same
comparison, so the learner's kernel and the sandboxed grader reach the same verdict: for the
solution, and for each exercise's catalogued mistake (tests/mistakes.py), in every lesson."""

import ast
import functools
import json
import re
import warnings

import numpy as np
import pytest

from autograder import harness
from autograder.build import (lesson_slugs, notebook_from_source, release_notebook_path, source_path,
                              visible_check_source)
from autograder.exercise import encode_argument, evaluate_call_code
from autograder.registry import exercise, run_in_process
from autograder.solution import solution_function
from gradclinic.selfcheck import SelfCheckFailed
from mistakes import MISTAKES, lesson_namespace


def visible_cells(notebook_path):
    """{exercise name: source of its test_<name> cell} in a notebook."""
    notebook = json.loads(notebook_path.read_text())
    return {cell["metadata"]["nbgrader"]["grade_id"][len("test_"):]: "".join(cell["source"])
            for cell in notebook["cells"]
            if cell["metadata"].get("nbgrader", {}).get("grade_id", "").startswith("test_")}


RELEASED = [(slug, name, source) for slug in lesson_slugs()
            for name, source in visible_cells(release_notebook_path(slug)).items()]
IDS = [name for _, name, _ in RELEASED]


# -- the cell is the cases ------------------------------------------------------------------
@pytest.mark.parametrize("slug, name, released", RELEASED, ids=IDS)
def test_released_cell_is_generated_from_the_basic_cases_now(slug, name, released):
    written = {c.metadata["nbgrader"]["grade_id"]: c.source for c in notebook_from_source(source_path(slug)).cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == f"test_{name}"}
    docstring = written[f"test_{name}"].strip()
    assert ast.literal_eval(docstring), "a test cell's source keeps its one-line docstring"
    assert released == docstring + "\n" + visible_check_source(exercise(name))


def check_calls(source):
    """The ``check(...)`` calls of a cell, in order."""
    return [node.value for node in ast.parse(source).body
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "check"]


def same_arguments(a, b):
    """Equal as the harness sends them: the same JSON (Keras layer names aside: Keras numbers them
    per session) and the same arrays beside it."""
    def plain(value):
        store = harness.ArrayStore()
        tree = json.dumps(encode_argument(value, store), sort_keys=True, default=str)
        return re.sub(r'\\?"name\\?": \\?"[a-z_]+\d*\\?"', "NAME", tree), list(store.arrays.values())

    (tree_a, arrays_a), (tree_b, arrays_b) = plain(a), plain(b)
    return tree_a == tree_b and same_value(arrays_a, arrays_b)


def same_value(a, b):
    """Exactly equal, arrays by dtype and content, containers item by item."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype \
            and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("slug, name, released", RELEASED, ids=IDS)
def test_each_check_line_evaluates_to_its_case(slug, name, released):
    """Evaluated the way the grader evaluates args_code, each line's arguments, options and
    expectation are those of the matching Case."""
    ex = exercise(name)
    calls, cases = check_calls(released), ex.cases("basic")
    assert len(calls) == len(cases) > 0
    namespace = {}
    exec(ex.code_imports, namespace)
    for call, case in zip(calls, cases):
        segment = lambda node: ast.get_source_segment(released, node)  # noqa: E731
        assert ast.unparse(call.args[0]) == name
        arguments = [segment(a) for a in call.args[1].elts]
        if len(call.args) > 2:
            arguments += [f"{k.value}={segment(v)}" for k, v in zip(call.args[2].keys, call.args[2].values)]
        args, kwargs = evaluate_call_code(", ".join(arguments), namespace)
        assert same_arguments(args, case.args) and same_arguments(kwargs, case.kwargs), case.label
        keywords = {k.arg: k.value for k in call.keywords}
        options = {k: v for k, v in keywords.items() if k not in
                   ("label", "kind", "returns", "raises", "type", "probe", "rtol", "atol", "hint")}
        if options:
            evaluated = evaluate_call_code(", ".join(f"{k}={segment(v)}" for k, v in options.items()), namespace)[1]
            assert same_arguments(evaluated, case.options), case.label
        else:
            assert case.options == {}
        evaluate = lambda key: eval(compile(ast.Expression(keywords[key]), "<cell>", "eval"), namespace)  # noqa: E731
        assert evaluate("kind") == case.kind if "kind" in keywords else case.kind == "call"
        if case.raises:
            assert ast.unparse(keywords["raises"]) == case.raises and "returns" not in keywords
        else:
            assert same_value(evaluate("returns"), case.expected), case.label
        for key, field in [("type", "result_type"), ("probe", "probe"), ("rtol", "rtol"), ("atol", "atol"),
                           ("hint", "hint")]:
            assert (evaluate(key) if key in keywords else None) == getattr(case, field), (case.label, key)
        assert evaluate("label") == case.label if "label" in keywords else case.args_code is None


# -- same cases, same verdict ---------------------------------------------------------------
def named(function, name):
    function.__name__ = function.__qualname__ = name
    return function


@functools.cache
def mistaken(slug, name):
    """The catalogue's mistake for ``name``, defined as its solution cell would define it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lesson_namespace(slug, {name: MISTAKES[slug][name].source})[name]


def in_kernel_failure(cell, name, function):
    """Run the released cell as a learner's kernel does; the message of its failing check, or None."""
    namespace = {}
    exec(exercise(name).code_imports, namespace)
    namespace[name] = function
    try:
        exec(compile(cell, f"test_{name}", "exec"), namespace)
    except SelfCheckFailed as failure:
        return str(failure)
    return None


def test_every_exercise_has_a_visible_cell_and_a_catalogued_mistake():
    assert {name for _, name, _ in RELEASED} == {name for mistakes in MISTAKES.values() for name in mistakes}


@pytest.mark.parametrize("which", ["solution", "mistake"])
@pytest.mark.parametrize("slug, name, released", RELEASED, ids=IDS)
def test_kernel_and_grader_reach_the_same_verdict(slug, name, released, which, capsys):
    function = solution_function(slug, name) if which == "solution" else mistaken(slug, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a mistake's own overflow warnings
        kernel = in_kernel_failure(released, name, function)
        graded, _ = run_in_process(exercise(name), function, "basic")
    if which == "solution":
        assert kernel is None and graded == []
        assert f"✓ {name}" in capsys.readouterr().out
    else:
        assert kernel is not None and graded, f"the visible check misses: {MISTAKES[slug][name].what}"
        assert graded[0] == kernel  # the first failing case, with the same message


def never_raising_compound(scale, depth):
    return float(scale) ** depth


def test_a_compound_that_never_raises_fails_test_compound_on_both_paths():
    """The issue's example: the grader used to score this 1 while the visible cell failed it."""
    (source,) = [s for _, name, s in RELEASED if name == "compound"]
    function = named(never_raising_compound, "compound")
    kernel = in_kernel_failure(source, "compound", function)
    graded, _ = run_in_process(exercise("compound"), function, "basic")
    assert "expected it to raise ValueError" in kernel
    assert graded == [kernel]


def test_a_returned_model_is_judged_alike_through_a_probe():
    """A functional-API block returns a Keras model: the kernel probes the live model, the
    grader the model rebuilt from the sandbox's data; both see the same architecture."""
    from autograder.exercise import Case, Exercise
    from gradclinic.selfcheck import check

    class DenseBlock(Exercise):
        name = "dense_block"

        def basic_cases(self):
            return [Case(args=(3,), kind="functional", options={"input_shapes": [[4]]},
                         probe="gradclinic.probes.model_summary", hint="Dense(units) then ReLU.")]

        def reference(self, x, units):
            import keras

            return keras.layers.ReLU()(keras.layers.Dense(units)(x))

    def without_relu(x, units):
        import keras

        return keras.layers.Dense(units)(x)

    block = DenseBlock()
    (case,) = block.cases("basic")
    assert case.expected == {"layers": ["InputLayer", "Dense", "ReLU"], "output_shape": [None, 3], "parameters": 15}
    for function, passes in [(named(lambda x, units: block.reference(x, units), "dense_block"), True),
                             (named(without_relu, "dense_block"), False)]:
        graded, _ = run_in_process(block, function, "basic")
        try:
            check(function, (3,), kind="functional", input_shapes=[[4]], returns=case.expected,
                  probe=case.probe, hint=case.hint)
            kernel = None
        except SelfCheckFailed as failure:
            kernel = str(failure)
        assert graded == ([] if passes else [kernel])


def test_a_result_the_grader_cannot_receive_fails_alike_in_the_kernel():
    """An object that claims equality with everything is refused on both paths, in the same words."""
    class AlwaysEqual(float):
        def __eq__(self, other):
            return True

    (source,) = [s for _, name, s in RELEASED if name == "compound"]
    function = named(lambda scale, depth: AlwaysEqual(float(scale) ** depth) if depth >= 0 else 1 / 0, "compound")
    kernel = in_kernel_failure(source, "compound", function)
    graded, _ = run_in_process(exercise("compound"), function, "basic")
    assert "BadResult: returned an object of type" in kernel
    assert graded[0] == kernel


# -- the inputs left alone: kind="call_returning_inputs" on both paths --------------------------
def clip_by_value_in_place(grads, clip_value):
    if not clip_value > 0:
        raise ValueError("clip_value must be positive")
    return [np.clip(g, -clip_value, clip_value, out=g) for g in grads]


def l2_penalty_squaring_in_place(weights, lam):
    if lam < 0:
        raise ValueError("lam must be ≥ 0")
    for w in weights:
        w **= 2
    return float(lam * sum(w.sum() for w in weights))


def batchnorm_updating_in_place(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=1e-3):
    result = solution_function("09_batch_normalization", "batchnorm_forward")(x, gamma, beta, moving_mean, moving_var, training, momentum, epsilon)
    if training:
        moving_mean *= momentum  # the caller's array, changed
    return result


@pytest.mark.parametrize("name, function", [("clip_by_value", clip_by_value_in_place),
                                            ("l2_penalty", l2_penalty_squaring_in_place),
                                            ("batchnorm_forward", batchnorm_updating_in_place)])
def test_changing_the_inputs_in_place_fails_the_same_visible_case_on_both_paths(name, function):
    (released,) = [source for _, cell, source in RELEASED if cell == name]
    kernel = in_kernel_failure(released, name, named(function, name))
    graded, _ = run_in_process(exercise(name), named(function, name), "basic")
    assert kernel is not None and "after" in kernel.splitlines()[0] and graded == [kernel]
