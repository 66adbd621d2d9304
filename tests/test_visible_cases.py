"""One set of cases per exercise: the visible self-check cell ``test_<name>`` is generated from
the exercise's basic cases, and the grader scores that cell on the same cases with the same
comparison, so the learner's kernel and the sandboxed grader reach the same verdict."""

import ast
import json
import re

import numpy as np
import pytest

from autograder import harness
from autograder.build import notebook_from_source, release_notebook_path, source_path, visible_check_source
from autograder.exercise import encode_argument, evaluate_call_code
from autograder.lessons import (l00_welcome, l01_the_problem, l02_causes_and_detection, l03_relu_and_friends,
                                l04_initialization)
from autograder.registry import exercise, run_in_process
from gradclinic.selfcheck import SelfCheckFailed

CONVERTED_LESSONS = ["00_welcome", "01_the_problem", "02_causes_and_detection", "03_relu_and_friends",
                     "04_initialization"]


def visible_cells(notebook_path):
    """{exercise name: source of its test_<name> cell} in a notebook."""
    notebook = json.loads(notebook_path.read_text())
    return {cell["metadata"]["nbgrader"]["grade_id"][len("test_"):]: "".join(cell["source"])
            for cell in notebook["cells"]
            if cell["metadata"].get("nbgrader", {}).get("grade_id", "").startswith("test_")}


RELEASED = [(slug, name, source) for slug in CONVERTED_LESSONS
            for name, source in visible_cells(release_notebook_path(slug)).items()]


# -- the cell is the cases ------------------------------------------------------------------
@pytest.mark.parametrize("slug, name, released", RELEASED, ids=[name for _, name, _ in RELEASED])
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


@pytest.mark.parametrize("slug, name, released", RELEASED, ids=[name for _, name, _ in RELEASED])
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


def never_raising_compound(scale, depth):
    return float(scale) ** depth


def callback_logging_at_epoch_begin():
    """A GradientNormLogger that logs before each epoch's steps instead of after them."""
    reference = l02_causes_and_detection.gradient_norm_logger_class()

    class GradientNormLogger(reference):
        def on_epoch_begin(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)

        def on_epoch_end(self, epoch, logs=None):
            pass

    return GradientNormLogger


def gradient_norms_with_biases(model, x, y, loss_fn):
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    return [float(tf.norm(g)) for g in tape.gradient(loss, model.trainable_variables)]


def glorot_uniform_drawn_normal(shape, rng):
    fan_in, fan_out = l04_initialization.fans(shape)
    return rng.normal(0.0, np.sqrt(2 / (fan_in + fan_out)), size=shape)


def uncorrected_truncated_normal(name):
    """A Keras-style normal initializer without the 0.8796… correction (variance 0.77× too small)."""
    def initializer(shape, rng):
        variance = l04_initialization.variance_of(name, shape) * l04_initialization.KERAS_TRUNCATION_STD ** 2
        return l04_initialization.truncated_normal_sample(tuple(shape), variance, rng)
    return initializer


def dead_if_zero_for_some_example(model, x):
    return np.array([int(np.any(a == 0, axis=0).sum()) for a in l03_relu_and_friends.hidden_outputs(model, x)])


def active_fraction_with_output_layer(model, x):
    fractions = l03_relu_and_friends.active_fraction(model, x)
    return np.append(fractions, 0.5)


WRONG = {
    "compound": never_raising_compound,
    "deep_linear_activations": lambda x, scale, depth: np.linalg.norm(x) * scale ** np.arange(depth + 1),
    "layer_gradient_norms": gradient_norms_with_biases,
    "sigmoid_grad": lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2,
    "tanh_grad": lambda z: 1 - np.tanh(z),
    "GradientNormLogger": None,  # made on first use: Keras imports slowly
    # ≥ where the rule says >: a norm exactly at explode_at counts as exploding
    "diagnose": lambda norms, vanish_ratio=1e-3, explode_at=1e2: l02_causes_and_detection.diagnose(
        norms, vanish_ratio, np.nextafter(explode_at, 0)),
    "relu": lambda z: np.abs(z),
    "relu_grad": lambda z: np.asarray(z) > 0,
    "leaky_relu": lambda z, negative_slope=0.3: np.where(z > 0, z, negative_slope * z),
    "elu": lambda z, alpha=1.0: l03_relu_and_friends.elu(z),
    "elu_grad": lambda z, alpha=1.0: np.where(z >= 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))),
    "active_fraction": active_fraction_with_output_layer,
    "dead_units": dead_if_zero_for_some_example,
    "fans": lambda shape: (float(np.prod(shape[:-1])), float(np.prod(shape[-1:]))) if len(shape) != 1 else
    (shape[0], shape[0]),
    "glorot_uniform": glorot_uniform_drawn_normal,
    "glorot_normal": uncorrected_truncated_normal("glorot_normal"),
    "he_normal": uncorrected_truncated_normal("he_normal"),
    "lecun_normal": uncorrected_truncated_normal("lecun_normal"),
    "activation_stds": lambda *args, **kwargs: l04_initialization.activation_stds(*args, **kwargs, _variant="no_gain"),
}


def implementation(name, which):
    if which == "reference":
        function = exercise(name).reference
        if name == "GradientNormLogger":
            return l02_causes_and_detection.gradient_norm_logger_class()
        return named(lambda *args, **kwargs: function(*args, **kwargs), name)
    if name == "GradientNormLogger":
        return callback_logging_at_epoch_begin()
    return named(WRONG[name], name)


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


def test_every_exercise_of_the_converted_lessons_has_a_wrong_implementation():
    assert {name for _, name, _ in RELEASED} == set(WRONG)


@pytest.mark.parametrize("which", ["reference", "wrong"])
@pytest.mark.parametrize("slug, name, released", RELEASED, ids=[name for _, name, _ in RELEASED])
def test_kernel_and_grader_reach_the_same_verdict(slug, name, released, which, capsys):
    function = implementation(name, which)
    kernel = in_kernel_failure(released, name, function)
    graded, n_cases = run_in_process(exercise(name), function, "basic")
    if which == "reference":
        assert kernel is None and graded == []
        assert f"✓ {name}" in capsys.readouterr().out
    else:
        assert kernel is not None and graded, f"the wrong {name} passed"
        assert graded[0] == kernel  # the first failing case, with the same message


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
