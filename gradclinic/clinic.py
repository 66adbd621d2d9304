"""Lesson 11's clinic: four sick training set-ups, each with its data, its sick model and its terms.

Each case is plain data (:data:`CASES`): what the net must keep (input shape, classes, at least
``depth`` hidden layers of ``width`` units, or a recurrent layer over the whole sentence), how it
is trained (``epochs``, ``batch_size``, a fixed seed) and what it must reach (``target``
validation accuracy, with lesson 02's ``diagnose`` saying "healthy" at the start of training).
:func:`sick_model` builds the patient as it arrives; treating it is the learner's work, so no
treatment lives here. :func:`task_problem` says in words why a model changes the task (or None),
:func:`start_gradient_norms` measures the per-kernel gradient norms at step 0 and
:func:`train_case` trains a model the way the grader does, and :func:`treatment_state` says
whether a treatment is ready to train (the self-check's probe, judged the same way by the grader).
"""

import functools

import numpy as np

SEED = 0  # the grader trains every treatment with this seed
CASES = {
    "a": {"title": "a deep sigmoid MLP (Keras's default Glorot weights)", "data": "digits", "input_shape": (64,),
          "classes": 10, "depth": 10, "width": 64, "epochs": 15, "batch_size": 64, "target": 0.85},
    "b": {"title": "a deep linear net trained with a large learning rate", "data": "digits",
          "input_shape": (64,), "classes": 10, "depth": 8, "width": 64, "epochs": 15, "batch_size": 64,
          "target": 0.85},
    "c": {"title": "a SimpleRNN over a long agreement gap", "data": "agreement", "gap": 24,
          "input_shape": (26,), "classes": 2, "depth": 1, "width": 16, "epochs": 12, "batch_size": 32,
          "target": 0.85},
    "d": {"title": "a deep plain ReLU net with tiny initial weights", "data": "digits", "input_shape": (64,),
          "classes": 10, "depth": 20, "width": 64, "epochs": 15, "batch_size": 64, "target": 0.85},
}
RECURRENT = ("SimpleRNN", "GRU", "LSTM")
# Layers a treatment may use: normalisation, activations, residual adds, dropout, recurrent cells.
ALLOWED_LAYERS = {"InputLayer", "Dense", "BatchNormalization", "LayerNormalization", "Activation", "Add",
                  "Dropout", "ReLU", "LeakyReLU", "ELU", "Embedding", "Masking", *RECURRENT}


def _case(name):
    if name not in CASES:
        raise ValueError(f"case must be one of {sorted(CASES)}, got {name!r}")
    return CASES[name]


@functools.cache
def _data(name):
    from gradclinic.data import agreement_corpus, load_digits

    case = _case(name)
    if case["data"] == "digits":
        split = load_digits(rng=np.random.default_rng(0))
        return split.x_train, split.y_train, split.x_test, split.y_test
    train = agreement_corpus(512, case["gap"], np.random.default_rng(1))
    val = agreement_corpus(256, case["gap"], np.random.default_rng(2))
    return train.tokens, train.labels, val.tokens, val.labels


def case_data(name):
    """(x_train, y_train, x_val, y_val) of case ``name`` (copies: the same every call)."""
    return tuple(np.array(a, copy=True) for a in _data(name))


def sick_model(name):
    """The sick set-up of case ``name`` as it arrives in the clinic: a compiled Keras model."""
    import keras

    case = _case(name)
    keras.utils.set_random_seed(SEED)
    depth, width = case["depth"], case["width"]
    if name == "c":
        vocabulary = int(case_data("c")[0].max()) + 1
        model = keras.Sequential([keras.Input(case["input_shape"], dtype="int32"),
                                  keras.layers.Embedding(vocabulary, 8, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0)),
                                  keras.layers.SimpleRNN(width),
                                  keras.layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02), loss="binary_crossentropy")
        return model
    activation, initializer, optimizer = {
        "a": ("sigmoid", "glorot_uniform", keras.optimizers.SGD(learning_rate=0.1)),
        "b": ("linear", "glorot_uniform", keras.optimizers.SGD(learning_rate=0.5)),
        "d": ("relu", keras.initializers.RandomNormal(stddev=0.01), keras.optimizers.SGD(learning_rate=0.1)),
    }[name]
    layers = [keras.Input(case["input_shape"])]
    layers += [keras.layers.Dense(width, activation=activation, kernel_initializer=initializer)
               for _ in range(depth)]
    layers.append(keras.layers.Dense(case["classes"], activation="softmax", kernel_initializer=initializer))
    model = keras.Sequential(layers)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def _kernels(model):
    """Trainable kernels and recurrent kernels, input side first (as the monitor orders them)."""
    return [v for v in model.trainable_variables if v.path.split("/")[-1] in ("kernel", "recurrent_kernel")]


def start_gradient_norms(model, name, n=256):
    """‖∂loss/∂W‖ of every kernel, input side first, on the first ``n`` training examples, with
    the model's compiled loss in training mode (what the first update uses)."""
    import tensorflow as tf

    x, y = case_data(name)[:2]
    x, y = x[:n], y[:n]
    kernels = _kernels(model)
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    return [float(tf.norm(g)) if g is not None else 0.0 for g in tape.gradient(loss, kernels)]


def _layer_class(layer):
    return type(layer).__name__


def task_problem(model, name):
    """Why ``model`` changes case ``name``'s task, in words; None when it keeps it."""
    import keras

    case = _case(name)
    if not isinstance(model, keras.Model):
        return f"it is a {type(model).__name__}, not a Keras model: return the model itself."
    if tuple(model.input_shape) != (None, *case["input_shape"]):
        return (f"it takes inputs of shape {tuple(model.input_shape)}, but case {name}'s data has shape "
                f"(None, {', '.join(map(str, case['input_shape']))}): a different input is a different task "
                "(or a different data set), not a treatment.")
    outputs = tuple(model.output_shape)
    allowed = [(None, case["classes"])] + ([(None, 1)] if case["classes"] == 2 else [])
    if outputs not in allowed:
        return f"its output has shape {outputs}; case {name} has {case['classes']} classes: {allowed[0]}."
    for layer in model.layers:
        kind = _layer_class(layer)
        if kind not in ALLOWED_LAYERS:
            return (f"it holds a {kind} layer; the clinic's treatments use Dense, normalisation, activation, "
                    f"Add (residual), Dropout, Embedding and recurrent layers only.")
        if kind in RECURRENT and layer.get_config().get("go_backwards"):
            return ("its recurrent layer reads the sentence backwards, so the subject sits next to the end: "
                    "that shortens the gap the case is about instead of treating it.")
    dense = [layer for layer in model.layers if _layer_class(layer) == "Dense"]
    recurrent = [layer for layer in model.layers if _layer_class(layer) in RECURRENT]
    if case["data"] == "agreement":
        if not recurrent:
            return ("it has no recurrent layer: case c is about carrying the subject across the gap in a "
                    "recurrent net (SimpleRNN, GRU or LSTM), step by step.")
        if any(layer.units < case["width"] for layer in recurrent):
            return f"its recurrent layer has fewer than {case['width']} units, the case's width."
        return None
    hidden = dense[:-1]
    if len(hidden) < case["depth"]:
        return (f"it has {len(hidden)} hidden Dense layers; case {name} is a net of {case['depth']}: "
                "removing layers makes the gradient's path shorter instead of healing it, so it changes "
                "the task.")
    narrow = [layer.units for layer in hidden if layer.units < case["width"]]
    if narrow:
        return f"hidden layers of {sorted(set(narrow))} units; case {name}'s layers have {case['width']}."
    return None


def train_case(model, name, epochs=None):
    """Train ``model`` on case ``name`` as the grader does (fixed seed, the case's epochs and batch
    size, no shuffling surprises). Returns (validation accuracy, final training loss)."""
    import keras
    import tensorflow as tf

    case = _case(name)
    x, y, x_val, y_val = case_data(name)
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    model.jit_compile = False  # XLA's compile time would dominate these short runs
    history = model.fit(x, y, epochs=case["epochs"] if epochs is None else epochs,
                        batch_size=case["batch_size"], shuffle=True, verbose=0)
    loss = float(history.history["loss"][-1])
    return validation_accuracy(model, x_val, y_val), loss


def validation_accuracy(model, x_val, y_val):
    """Share of validation examples classified right (argmax, or p > 0.5 for one sigmoid unit)."""
    p = np.asarray(model.predict(x_val, verbose=0, batch_size=512), dtype=float)
    if not np.all(np.isfinite(p)):
        return float("nan")
    guess = (p[:, 0] > 0.5).astype(int) if p.shape[1] == 1 else p.argmax(axis=1)
    return float(np.mean(guess == y_val))


# The clinic's terms for a healthy start (lesson 02's default thresholds): every kernel-gradient
# norm finite and at most EXPLODE_AT, the first/last ratio within [1/HEALTHY_RATIO, HEALTHY_RATIO].
EXPLODE_AT = 1e2
HEALTHY_RATIO = 1e3


def start_health(norms):
    """"healthy", or what is wrong with per-kernel gradient norms (input side first) in words."""
    norms = np.asarray(norms, dtype=float)
    if norms.size == 0:
        return "no trainable kernel has a gradient"
    if not np.all(np.isfinite(norms)) or norms.max() > EXPLODE_AT:
        return f"exploding: the largest kernel-gradient norm is {norms.max():.3g} (above {EXPLODE_AT:g})"
    if norms[0] == 0:
        return "vanishing: no gradient reaches the first layer (its norm is exactly 0)"
    ratio = norms[0] / norms[-1] if norms[-1] else np.inf
    if ratio > HEALTHY_RATIO:
        return f"exploding: the first/last kernel-gradient ratio is {ratio:.3g} (above {HEALTHY_RATIO:g})"
    if ratio < 1 / HEALTHY_RATIO:
        return f"vanishing: the first/last kernel-gradient ratio is {ratio:.3g} (below {1 / HEALTHY_RATIO:g})"
    return "healthy"


def treatment_state(model, name):
    """What a treatment of case ``name`` is before any training, as one line: "ready to train"
    for a compiled Keras model that keeps the case's task and whose step-0 gradient is healthy
    by the clinic's terms, else the first thing that is wrong (plain text, so both sides of the
    grader can compare it)."""
    import keras

    if not isinstance(model, keras.Model):
        return f"not a Keras model but a {type(model).__name__}: return the compiled model itself"
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        return "not compiled with a loss: call model.compile(optimizer=…, loss=…) before returning it"
    problem = task_problem(model, name)
    if problem:
        return f"changes the task instead of treating it: {problem}"
    health = start_health(start_gradient_norms(model, name))
    if health != "healthy":
        return f"the gradient at step 0 is {health}: the treatment must fix it before training starts"
    return "ready to train"


# The self-checks' probes: a probe takes the result alone, so one per case.
treatment_state_a, treatment_state_b, treatment_state_c, treatment_state_d = (
    functools.partial(treatment_state, name=name) for name in ("a", "b", "c", "d"))
