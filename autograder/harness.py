"""Call a learner's function on the grader's inputs and hand back plain data.

This module runs on the learner's side of the grader: inside the learner's kernel, or the
sandbox that holds it. It therefore imports nothing from the rest of ``autograder`` (a copy
of this one file is all a sandbox receives) and it trusts nothing: whatever it returns is
only the learner's *claim*, which the trusted side decodes as plain data (JSON numbers and
strings, NumPy arrays loaded without pickle) and judges against the reference elsewhere.

A call is a plain function call (``kind`` ``"call"``), a functional-API block built on fresh
``keras.Input`` s (``"functional"``), or a callback class trained with (``"keras_callback"``).
Keras models cross back as data (architecture JSON, weights, compile settings).

Values crossing the boundary are JSON trees in which a few tagged objects stand for what
JSON cannot hold: ``{"__ndarray__": key}`` (an array stored beside the JSON),
``{"__keras_model__": {...}}`` (architecture and weights), ``{"__keras_loss__": name}``,
``{"__numpy_activation__": name}`` (a NumPy function such as ``np.tanh``) and
``{"__rng__": seed}`` (a fresh ``numpy.random.Generator``).
"""

import json
import os
import sys
import traceback

import numpy as np

ALLOWED_LOSSES = {
    "MeanSquaredError", "SparseCategoricalCrossentropy", "CategoricalCrossentropy",
    "BinaryCrossentropy", "MeanAbsoluteError",
}
# Activation functions handed to learners' code as plain NumPy callables (e.g. phi in lesson 12).
NUMPY_ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: np.asarray(z, dtype=float),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float))),
    "sin": np.sin,
}
MAX_RESULT_ITEMS = 10_000_000  # elements across all arrays: a result is never bigger than this
MAX_TREE_DEPTH = 64  # nesting of a decoded value: no answer needs more, and deeper ones exhaust the stack


class BadResult(Exception):
    """A learner's function returned something that is not plain numbers, arrays or text."""


class ArrayStore:
    """Arrays that travel beside a JSON tree, keyed ``a0``, ``a1``, … (after ``prefix``: the
    sandbox gives each call's answer its own, so that the answers of one run never collide)."""

    def __init__(self, arrays=None, prefix=""):
        self.arrays = dict(arrays or {})
        self.prefix = prefix

    def put(self, array):
        key = f"{self.prefix}a{len(self.arrays)}"
        self.arrays[key] = np.array(array, copy=True)
        return {"__ndarray__": key}

    def get(self, key):
        if key not in self.arrays:
            raise BadResult(f"a reference to an array {str(key)[:40]!r} that was not sent")
        return self.arrays[key]


def encode_plain(value, store):
    """Encode a learner's result as a JSON tree of numbers, strings and arrays.

    Only built-in scalars, strings, lists, tuples, dicts with string keys, NumPy arrays and
    scalars, and objects exposing ``.numpy()`` (TensorFlow tensors and variables) pass;
    anything else raises :class:`BadResult`, so an object with a custom ``__eq__`` can never
    reach the judge.
    """
    if value is None or type(value) in (bool, str):
        return value
    if type(value) is int:
        return value
    if type(value) is float:
        return value
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        return encode_plain(value.item(), store)
    if type(value) is np.ndarray:
        if value.dtype == object or value.dtype.fields is not None:
            raise BadResult("an array of Python objects (use a numeric array)")
        if value.size > MAX_RESULT_ITEMS:
            raise BadResult(f"an array of {value.size} elements, far more than any answer")
        return store.put(value)
    if type(value) in (list, tuple):
        tree = [encode_plain(v, store) for v in value]
        return {"__tuple__": tree} if type(value) is tuple else tree
    if type(value) is dict:
        if not all(type(k) is str for k in value):
            raise BadResult("a dict whose keys are not all strings")
        return {"__dict__": {k: encode_plain(v, store) for k, v in value.items()}}
    if _is_keras_model(value):
        return encode_model(value, store)
    numpy_method = getattr(type(value), "numpy", None)
    if callable(numpy_method) and type(value).__module__.startswith(("tensorflow", "keras")):
        return encode_plain(np.asarray(value.numpy()), store)
    raise BadResult(f"an object of type {type(value).__module__}.{type(value).__qualname__}")


def _is_keras_model(value):
    import sys

    keras = sys.modules.get("keras")
    return keras is not None and isinstance(value, keras.Model)


def encode_model(model, store):
    """A Keras model as plain data: JSON architecture, weight arrays, JSON compile settings."""
    compile_config = None
    if getattr(model, "compiled", False):
        try:
            compile_config = json.loads(json.dumps(model.get_compile_config()))
        except (TypeError, ValueError) as problem:
            raise BadResult(f"a model compiled with settings that are not plain data ({problem})") from None
    return {"__keras_model__": {"json": model.to_json(),
                                "weights": [store.put(w)["__ndarray__"] for w in model.get_weights()],
                                "compile": compile_config}}


class ModelData:
    """A model returned by a learner, as data: ``json`` architecture, ``weights`` arrays and
    ``compile`` settings (or None). Rebuild it with :meth:`build` in a trusted process."""

    def __init__(self, architecture, weights, compile_config):
        self.json, self.weights, self.compile = architecture, weights, compile_config

    def build(self):
        """A live Keras model (built-in layers only: Keras's safe mode refuses lambdas)."""
        import keras

        model = keras.models.model_from_json(self.json)
        model.set_weights(self.weights)
        if self.compile is not None:
            model.compile_from_config(self.compile)
        return model


def decode_plain(tree, store, depth=0):
    """Inverse of :func:`encode_plain`: plain Python values, NumPy arrays and :class:`ModelData`.
    The tree is the learner's claim: anything malformed raises :class:`BadResult`."""
    if depth > MAX_TREE_DEPTH:
        raise BadResult(f"a value nested more than {MAX_TREE_DEPTH} levels deep")
    if isinstance(tree, list):
        return [decode_plain(v, store, depth + 1) for v in tree]
    if isinstance(tree, dict):
        if set(tree) == {"__ndarray__"}:
            array = store.get(tree["__ndarray__"])
            if array.dtype == object:
                raise BadResult("an array of Python objects")
            return array
        if set(tree) == {"__tuple__"} and isinstance(tree["__tuple__"], list):
            return tuple(decode_plain(v, store, depth + 1) for v in tree["__tuple__"])
        if set(tree) == {"__dict__"} and isinstance(tree["__dict__"], dict):
            return {str(k): decode_plain(v, store, depth + 1) for k, v in tree["__dict__"].items()}
        if set(tree) == {"__keras_model__"}:
            spec = tree["__keras_model__"]
            if not isinstance(spec, dict) or not isinstance(spec.get("json"), str):
                raise BadResult("a model without a JSON architecture")
            weights = spec.get("weights", [])
            if not isinstance(weights, list) or not isinstance(spec.get("compile"), (dict, type(None))):
                raise BadResult("a model whose weights or compile settings are not plain data")
            return ModelData(spec["json"], [store.get(str(k)) for k in weights], spec.get("compile"))
        raise BadResult(f"an unknown tagged value {sorted(tree)[:3]}")
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    raise BadResult(f"a value of type {type(tree).__name__}")


def decode_argument(tree, store):
    """Turn a grader-supplied argument tree into live objects (arrays, models, losses, rngs)."""
    if isinstance(tree, list):
        return [decode_argument(v, store) for v in tree]
    if isinstance(tree, dict):
        if "__ndarray__" in tree:
            return store.get(tree["__ndarray__"]).copy()
        if "__tuple__" in tree:
            return tuple(decode_argument(v, store) for v in tree["__tuple__"])
        if "__rng__" in tree:
            return np.random.default_rng(tree["__rng__"])
        if "__numpy_activation__" in tree:
            return NUMPY_ACTIVATIONS[tree["__numpy_activation__"]]
        if "__keras_loss__" in tree:
            name = tree["__keras_loss__"]
            if name not in ALLOWED_LOSSES:
                raise ValueError(f"loss {name!r} is not one the grader uses")
            import keras

            return getattr(keras.losses, name)()
        if "__keras_model__" in tree:
            return build_keras_model(tree["__keras_model__"], store)
        return {k: decode_argument(v, store) for k, v in tree.items()}
    return tree


def build_keras_model(spec, store):
    """Rebuild a Keras model from its JSON architecture and weights (no custom objects)."""
    import keras

    model = keras.models.model_from_json(spec["json"])
    model.set_weights([store.get(key) for key in spec["weights"]])
    return model


def invoke(function, call, store):
    """Call ``function(*args, **kwargs)`` as ``call`` describes and encode what comes back.

    Returns ``{"result": tree}`` or ``{"error": "ExceptionType: message", "traceback": text}``;
    never raises for anything the learner's function does.
    """
    try:
        args = decode_argument(call.get("args", []), store)
        kwargs = decode_argument(call.get("kwargs", {}), store)
    except Exception as error:  # a grader bug, not the learner's: say so plainly
        return {"error": f"GraderInputError: {error}", "traceback": traceback.format_exc()}
    try:
        result = CALL_KINDS[call.get("kind", "call")](function, args, kwargs, call, store)
    except BaseException as error:  # SystemExit and KeyboardInterrupt included: both are answers
        if isinstance(error, (KeyboardInterrupt, GeneratorExit)):
            raise
        return {"error": f"{type(error).__name__}: {error}", "error_type": type(error).__name__,
                "error_mro": [cls.__name__ for cls in type(error).__mro__],
                "traceback": learner_traceback(error)}
    try:
        return {"result": encode_plain(result, store)}
    except BadResult as problem:
        return {"error": f"BadResult: returned {problem}", "error_type": "BadResult"}


def _plain_call(function, args, kwargs, call, store):
    return function(*args, **kwargs)


def _functional_call(function, args, kwargs, call, store):
    """Call a Keras functional-API block on fresh ``keras.Input`` s and return the model it
    makes, e.g. ``identity_block(X, f, filters)`` → ``keras.Model(X, output)``."""
    import keras

    inputs = [keras.Input(tuple(shape)) for shape in call["input_shapes"]]
    outputs = function(*inputs, *args, **kwargs)
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs)


def _callback_call(function, args, kwargs, call, store):
    """Instantiate a learner's Keras callback class, train the grader's model with it, and
    return the attribute the exercise reads (e.g. ``history``)."""
    import keras

    fit = decode_argument(call["fit"], store)
    callback = function(*args, **kwargs)
    model = fit["model"]
    model.compile(optimizer=keras.optimizers.get(fit["optimizer"]), loss=fit["loss"])
    model.fit(fit["x"], fit["y"], epochs=fit["epochs"], batch_size=fit["batch_size"], shuffle=False,
              verbose=0, callbacks=[callback])
    return getattr(callback, fit["attribute"])


def _inputs_call(function, args, kwargs, call, store):
    """A plain call that also hands back its arguments as they are afterwards, so that a check can
    see whether the function changed its inputs in place: ``{"result": …, "args_after": [...]}``."""
    result = function(*args, **kwargs)
    return {"result": result, "args_after": list(args)}


CALL_KINDS = {"call": _plain_call, "functional": _functional_call, "keras_callback": _callback_call,
              "call_returning_inputs": _inputs_call}


def _is_learners_frame(filename):
    """A frame of the learner's own code: not the grader's (this folder, autograder/) and not an
    installed library's or Python's (they would only bury the learner's line)."""
    here = os.path.dirname(os.path.abspath(__file__))
    libraries = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    path = os.path.realpath(filename) if os.path.isabs(filename) else filename
    if path.startswith(here + os.sep) or f"{os.sep}autograder{os.sep}" in path:
        return False
    return not any(path.startswith(library + os.sep) for library in libraries)


def learner_traceback(error, limit=6):
    """The traceback of ``error`` cut to the learner's own frames (at most ``limit``, the
    innermost) and the error line: the grader's frames never reach a learner's feedback."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if _is_learners_frame(frame.filename)]
    lines = ["Traceback (your code, innermost last):\n"] if frames else []
    lines += traceback.format_list(frames[-limit:]) + traceback.format_exception_only(type(error), error)
    return "".join(lines)


def lookup_function(namespace, name):
    """``(function, None)`` or ``(None, answer explaining why there is none)``."""
    function = namespace.get(name)
    if function is None:
        return None, {"error": f"NameError: {name} is not defined (was its cell run?)",
                      "error_type": "NameError"}
    if not callable(function):
        return None, {"error": f"TypeError: {name} is a {type(function).__name__}, not a function",
                      "error_type": "TypeError"}
    return function, None


class ScopedStore:
    """Read inputs from one store, write results to another."""

    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = inputs, outputs

    def get(self, key):
        return self.inputs.get(key)

    def put(self, array):
        return self.outputs.put(array)
