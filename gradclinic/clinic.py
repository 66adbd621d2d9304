"""Lesson 11's clinic: four sick training set-ups, each with its data, its sick model and its terms.

Each case is plain data (:data:`CASES`): what the net must keep (input shape, classes, at least
``depth`` hidden layers of ``width`` units, or a recurrent layer over the whole sentence), how it
is trained (``epochs``, ``batch_size``, a fixed seed) and what it must reach (``target``
validation accuracy, with lesson 02's ``diagnose`` saying "healthy" at the start of training and
the gradient not vanished everywhere, see :func:`start_health`).

:func:`sick_model` builds the patient as it arrives and :func:`describe_patient` shows all of it
(layers, initialisers, optimizer and its settings, loss, data shapes, vocabulary); :func:`examine`
measures it with the monitor and prints the evidence, never a verdict of its own (the diagnosis is
the learner's). Treating it is the learner's work, so no treatment lives here.
:func:`task_problem` says in words why a model changes the task (or None),
:func:`start_gradient_norms` measures the per-kernel gradient norms at step 0 (in float64: the
entries of a vanished gradient square to less than float32 can hold), :func:`train_case` trains a
model the way the grader does and :func:`trial_run` does it in the learner's notebook, over a few
seeds. :func:`treatment_state` and :func:`diagnosis_state` are the self-checks' probes, judged the
same way by the grader.
"""

import functools
import hashlib

import numpy as np

from gradclinic.diagnostics import TINY_GRADIENT, uniformly_tiny

SEED = 0  # the grader trains every treatment with this seed
CASES = {
    "a": {"title": "a deep sigmoid MLP (Keras's default Glorot weights)", "data": "digits", "input_shape": (64,),
          "classes": 10, "depth": 10, "width": 64, "epochs": 15, "batch_size": 64, "target": 0.85},
    "b": {"title": "a deep linear net trained with a large learning rate", "data": "digits",
          "input_shape": (64,), "classes": 10, "depth": 8, "width": 64, "epochs": 15, "batch_size": 64,
          "target": 0.85},
    "c": {"title": "a SimpleRNN over a long agreement gap", "data": "agreement", "gap": 24,
          "input_shape": (26,), "classes": 2, "depth": 1, "width": 16, "epochs": 12, "batch_size": 32,
          "target": 0.85, "vocabulary": 49},  # word ids 0–48 occur in the case's sentences
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
        model = keras.Sequential([keras.Input(case["input_shape"], dtype="int32"),
                                  keras.layers.Embedding(case["vocabulary"], 8, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0)),
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
    the model's compiled loss in training mode (what the first update uses). The sum of squares
    runs in float64: in float32 the squares of entries below ~1e-19 flush to 0."""
    import tensorflow as tf

    x, y = case_data(name)[:2]
    x, y = x[:n], y[:n]
    kernels = _kernels(model)
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
    return [float(np.linalg.norm(np.asarray(g, dtype=np.float64))) if g is not None else 0.0
            for g in tape.gradient(loss, kernels)]


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
        if kind == "Bidirectional":
            return ("it wraps the recurrent layer in Bidirectional, whose backward half reads the subject "
                    "next to the end: that shortens the gap the case is about instead of treating it.")
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


# Results of trial_run's seed-0 runs, by a digest of the model (architecture, initial weights,
# compile settings): training is deterministic, so the hidden test that follows a trial run in the
# same kernel need not train the identical run again. The sandboxed grader judges in a fresh
# process, where this is empty, and trial_run does nothing under any grader.
_TRIAL_RUNS = {}


def _canonical_names(tree):
    """``tree`` (a model's JSON config) with its layer names replaced by their order of first
    appearance: two calls of the same builder differ only in Keras's automatic names."""
    names = {}

    def collect(node):
        if isinstance(node, dict):
            if isinstance(node.get("name"), str):
                names.setdefault(node["name"], f"#{len(names)}")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    def rename(node):
        if isinstance(node, dict):
            return {k: rename(v) for k, v in node.items()}
        if isinstance(node, list):
            return [rename(v) for v in node]
        return names.get(node, node) if isinstance(node, str) else node

    collect(tree)
    return rename(tree)


def _run_key(model, name, epochs, seed):
    import json

    architecture = _canonical_names(json.loads(model.to_json()))
    digest = hashlib.sha256(json.dumps(architecture, sort_keys=True).encode())
    settings = json.loads(json.dumps(model.get_compile_config(), default=str))
    settings.pop("jit_compile", None)  # train_case turns XLA off either way
    optimizer = settings.get("optimizer")
    if isinstance(optimizer, dict) and isinstance(optimizer.get("config"), dict):
        optimizer["config"].pop("name", None)  # "adam" or "adam_1": Keras's automatic names again
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return name, epochs, seed, digest.hexdigest()


def train_case(model, name, epochs=None, seed=SEED, remember=False):
    """Train ``model`` on case ``name`` as the grader does (``seed`` for the batches' order, the
    case's epochs and batch size). Returns (validation accuracy, final training loss).
    ``remember``: keep the result for an identical later call (see ``_TRIAL_RUNS``)."""
    import keras
    import tensorflow as tf

    from gradclinic.training import build_for_fit

    case = _case(name)
    epochs = case["epochs"] if epochs is None else epochs
    key = _run_key(model, name, epochs, seed)
    if key in _TRIAL_RUNS:
        return _TRIAL_RUNS[key]
    x, y, x_val, y_val = case_data(name)
    build_for_fit(model, x, y)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model.jit_compile = False  # XLA's compile time would dominate these short runs
    history = model.fit(x, y, epochs=epochs, batch_size=case["batch_size"], shuffle=True, verbose=0)
    result = validation_accuracy(model, x_val, y_val), float(history.history["loss"][-1])
    if remember:
        _TRIAL_RUNS[key] = result
    return result


def validation_accuracy(model, x_val, y_val):
    """Share of validation examples classified right (argmax, or p > 0.5 for one sigmoid unit)."""
    p = np.asarray(model.predict(x_val, verbose=0, batch_size=512), dtype=float)
    if not np.all(np.isfinite(p)):
        return float("nan")
    guess = (p[:, 0] > 0.5).astype(int) if p.shape[1] == 1 else p.argmax(axis=1)
    return float(np.mean(guess == y_val))


# The clinic's terms for a healthy start (lesson 02's default thresholds): every kernel-gradient
# norm finite and at most EXPLODE_AT, the first/last ratio within [1/HEALTHY_RATIO, HEALTHY_RATIO];
# and, what a ratio cannot see, not every norm below the monitor's TINY_GRADIENT.
EXPLODE_AT = 1e2
HEALTHY_RATIO = 1e3


def start_health(norms):
    """"healthy", or what is wrong with per-kernel gradient norms (input side first) in words."""
    norms = np.asarray(norms, dtype=float)
    if norms.size == 0:
        return "no trainable kernel has a gradient"
    if not np.all(np.isfinite(norms)) or norms.max() > EXPLODE_AT:
        return f"exploding: the largest kernel-gradient norm is {norms.max():.3g} (above {EXPLODE_AT:g})"
    if uniformly_tiny(norms):
        return (f"vanishing everywhere: every kernel-gradient norm is below {TINY_GRADIENT:g} (the largest is "
                f"{norms.max():.3g}), so no layer can move, whatever the first/last ratio says")
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


def start_gradients(model, name, n=256):
    """The kernel gradients behind :func:`start_gradient_norms`, as float32 NumPy arrays."""
    import tensorflow as tf

    x, y = case_data(name)[:2]
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x[:n], y=y[:n], y_pred=model(x[:n], training=True))
    return [np.asarray(g) for g in tape.gradient(loss, _kernels(model))]


def activation_scales(model, name, n=256):
    """Root mean square of each hidden Dense layer's output on the first ``n`` training examples
    (float64), input side first: how the forward signal grows or shrinks with depth."""
    import keras

    x = case_data(name)[0][:n]
    hidden = [layer for layer in model.layers if _layer_class(layer) == "Dense"][:-1]
    outputs = keras.Model(model.inputs[0], [layer.output for layer in hidden])(x, training=False)
    return np.array([np.sqrt(np.mean(np.asarray(a, dtype=np.float64) ** 2)) for a in outputs])


# -- showing a patient -----------------------------------------------------------------------
def _initializer_text(initializer):
    if initializer is None:
        return None
    if isinstance(initializer, str):
        return initializer
    config = {k: v for k, v in initializer.get_config().items() if v is not None and k != "seed"}
    inner = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in config.items())
    return f"{type(initializer).__name__}({inner})"


def _layer_text(layer):
    """One layer as a short line: its class, size, activation and initialisers."""
    kind = _layer_class(layer)
    parts = []
    if hasattr(layer, "units"):
        parts.append(f"{layer.units} unit{'s' if layer.units != 1 else ''}")
    if kind == "Embedding":
        parts.append(f"{layer.input_dim} word ids → {layer.output_dim} numbers")
    activation = getattr(layer, "activation", None)
    if activation is not None and kind != "Activation" or kind == "Activation":
        parts.append(f"activation {getattr(activation, '__name__', activation)}")
    for attribute, label in (("kernel_initializer", "kernel"), ("recurrent_initializer", "recurrent"),
                             ("embeddings_initializer", "init")):
        text = _initializer_text(getattr(getattr(layer, "cell", layer), attribute, None))
        if text:
            parts.append(f"{label} {text}")
    return f"{kind}({', '.join(parts)})"


def describe_model(model):
    """The layers of ``model`` in order, runs of identical layers folded ("10 × Dense(…)"), and its
    parameter count: a summary that shows activations and initialisers, which ``summary()`` does not."""
    lines, previous, count = [], None, 0
    for layer in model.layers:
        text = _layer_text(layer)
        if text == previous:
            count += 1
            continue
        if previous is not None:
            lines.append(f"{count} × {previous}" if count > 1 else previous)
        previous, count = text, 1
    if previous is not None:
        lines.append(f"{count} × {previous}" if count > 1 else previous)
    lines.append(f"{model.count_params():,} parameters")
    return lines


def describe_optimizer(model):
    """The compiled optimizer with the settings that decide a step's size, and the loss."""
    optimizer = model.optimizer
    config = optimizer.get_config()
    keys = ["learning_rate", "momentum", "nesterov", "beta_1", "beta_2", "epsilon", "clipnorm", "clipvalue",
            "global_clipnorm", "weight_decay"]
    settings = ", ".join(f"{k}={config[k]:g}" if isinstance(config[k], float) else f"{k}={config[k]}"
                         for k in keys if config.get(k) is not None)
    loss = model.loss if isinstance(model.loss, str) else type(model.loss).__name__
    return f"{type(optimizer).__name__}({settings}); loss {loss}"


def describe_patient(name):
    """Everything about case ``name`` as it arrives, as text: the model, its optimizer and
    settings, the loss, the data's shapes, how it is trained and what it must reach."""
    case = _case(name)
    model = sick_model(name)
    x, y, x_val, y_val = case_data(name)
    lines = [f"case {name}: {case['title']}", "  model:"]
    lines += [f"    {line}" for line in describe_model(model)]
    lines.append(f"  optimizer: {describe_optimizer(model)}")
    lines.append(f"  data: x_train {x.shape} {x.dtype}, y_train {y.shape} (classes {sorted(set(y.tolist()))}), "
                 f"x_val {x_val.shape}")
    if case["data"] == "agreement":
        lines.append(f"        word ids 0–{case['vocabulary'] - 1} (vocabulary {case['vocabulary']}, 0 = padding); "
                     f"subject at position 1, then a gap of {case['gap']} words")
    keeps = (f"a recurrent layer of ≥ {case['width']} units reading forwards" if case["data"] == "agreement"
             else f"≥ {case['depth']} hidden layers of {case['width']} units")
    lines.append(f"  training: {case['epochs']} epochs, batch {case['batch_size']}, seed={SEED}; a treatment keeps "
                 f"{keeps}; target validation accuracy ≥ {case['target']:.2f}")
    return "\n".join(lines)


# -- examining a patient ---------------------------------------------------------------------
def _norms_text(norms):
    return "[" + ", ".join(f"{v:.2g}" for v in norms) + "]"


def _ratio(norms):
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(norms[0]) / np.float64(norms[-1])) if len(norms) else float("nan")


class Findings:
    """What :func:`examine` measured: ``start`` (per-kernel gradient norms at step 0, training
    mode), and after training (None without it) ``accuracy``, ``monitor`` (the
    :class:`~gradclinic.diagnostics.GradientHealthMonitor`) and its ``summary``. ``str()`` is the
    report the notebook prints: evidence only, the verdict is the reader's (or their own
    ``diagnose``'s, when one was passed)."""

    def __init__(self, name, start, diagnose=None):
        self.name, self.start, self.diagnose = name, list(start), diagnose
        self.accuracy = self.monitor = self.summary = self.losses = None
        self.epochs = None

    def _profile(self, norms):
        norms = np.asarray(norms, dtype=float)
        finite = np.isfinite(norms)
        if not finite.any():
            text = "no norm is finite (NaN or inf everywhere)"
        else:
            text = (f"first/last ratio {_ratio(norms):.3g}, largest {norms[finite].max():.3g}, smallest "
                    f"{norms[finite].min():.3g}, {'all finite' if finite.all() else 'NOT all finite'}")
        if uniformly_tiny(norms):
            text += f"; every norm below {TINY_GRADIENT:g} (tiny everywhere)"
        if self.diagnose is not None:
            text += f"; your diagnose says {self.diagnose(list(norms))!r}"
        return text

    def __str__(self):
        case = CASES[self.name]
        lines = [f"case {self.name}, step 0 (first 256 training examples, training mode):",
                 f"    kernel-gradient norms, input side first: {_norms_text(self.start)}",
                 f"    {self._profile(self.start)}"]
        if self.summary is None:
            return "\n".join(lines)
        s = self.summary
        first = s["alarms"][0] if s["alarms"] else None
        alarms = f"first at step {first['step']} ({first['where'].split(' of ')[0]})" if first else "none"
        lines.append(f"after {self.epochs} of the case's {case['epochs']} epochs (monitor every {s['every']} steps, "
                     "probe in inference mode):")
        lines.append(f"    training loss, first → last epoch: {self.losses[0]:.3g} → {self.losses[-1]:.3g}; "
                     f"validation accuracy {self.accuracy:.3f} (chance {1 / case['classes']:.2f}); NaN/inf: {alarms}")
        lines.append(f"    kernel-gradient norms now: {self._profile(list(s['grad_norms'].values()))}")
        shares = [f"{kind} {max(s[key].values()):.2f}" for key, kind in
                  (("saturation", "most saturated sigmoid/tanh layer"), ("dead", "most dead ReLU layer")) if s[key]]
        if shares:
            lines.append("    " + "; ".join(shares))
        return "\n".join(lines)


def examine(name, model=None, train=True, diagnose=None, every=20, epochs=None):
    """Examine case ``name``'s sick model (or ``model``): its per-kernel gradient norms at step 0,
    then (``train``) a training run of ``epochs`` (default: the case's) with a
    :class:`~gradclinic.diagnostics.GradientHealthMonitor` attached. It runs under the grader too
    (a few seconds), so the graded run prints what the lesson shows. ``diagnose``: your lesson 02
    function, to add its verdicts. Returns :class:`Findings`; print it to read them."""
    import keras

    from gradclinic.diagnostics import GradientHealthMonitor
    from gradclinic.training import build_for_fit

    case = _case(name)
    model = sick_model(name) if model is None else model
    findings = Findings(name, start_gradient_norms(model, name), diagnose)
    if not train:
        return findings
    x, y, x_val, y_val = case_data(name)
    monitor = GradientHealthMonitor(x[:256], y[:256], every=every, diagnose=diagnose)
    build_for_fit(model, x, y)
    keras.utils.set_random_seed(SEED)
    findings.epochs = case["epochs"] if epochs is None else epochs
    history = model.fit(x, y, epochs=findings.epochs, batch_size=case["batch_size"], verbose=0,
                        callbacks=[monitor])
    findings.losses = [float(v) for v in history.history["loss"]]
    findings.accuracy = validation_accuracy(model, x_val, y_val)
    findings.monitor, findings.summary = monitor, monitor.summary()
    return findings


# -- a trial run of a treatment ----------------------------------------------------------------
def _rebuilt(model):
    """``model`` rebuilt as the grader rebuilds it (architecture, initial weights, compile settings)."""
    import keras

    copy = keras.models.model_from_json(model.to_json())
    copy.set_weights(model.get_weights())
    copy.compile_from_config(model.get_compile_config())
    return copy


def _fresh_weights(model, seed):
    """``model``'s architecture with fresh initial weights drawn under ``seed`` (not compiled)."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.models.model_from_json(model.to_json())


def trial_run(treatment, name, seeds=(0, 1, 2)):
    """Train what ``treatment()`` returns on case ``name`` the way the grader does and print how
    it compares with the target. seed=0 is the grader's run exactly (your initial weights, the
    grader's order of batches); every other seed draws fresh initial weights and a new order, to
    show how much the result moves. Under the grader it does nothing (the hidden test trains).
    Returns {seed: validation accuracy}, or None when it did not train."""
    from gradclinic.runtime import grading
    from gradclinic.training import run_restarter

    case = _case(name)
    model = treatment()
    print(f"trial run of {getattr(treatment, '__name__', 'the treatment')} on case {name} "
          f"({case['epochs']} epochs, batch {case['batch_size']}, target {case['target']:.2f}):")
    state = treatment_state(model, name)
    if state != "ready to train":
        print(f"    before training: {state}")
        if not hasattr(model, "to_json") or task_problem(model, name) or not getattr(model, "compiled", False):
            return None
    if grading():
        print("    skipped under the grader: the hidden test trains it")
        return None
    # The seeds share one compiled copy (compiling a deep net's step costs more than its training).
    trainer = _rebuilt(model)
    restart = run_restarter(trainer, trainer.optimizer)
    results = {}
    for seed in seeds:
        restart(model if seed == SEED else _fresh_weights(model, seed))
        accuracy, loss = train_case(trainer, name, seed=seed, remember=seed == SEED)
        results[seed] = accuracy
        verdict = "reaches the target" if accuracy >= case["target"] else "MISSES the target"
        who = "the grader's run" if seed == SEED else "fresh weights"
        print(f"    seed={seed} ({who}): validation accuracy {accuracy:.3f}, final training loss {loss:.3g}: {verdict}")
    if len(results) > 1:
        values = np.array(list(results.values()))
        print(f"    over seeds {', '.join(map(str, results))}: median {np.nanmedian(values):.3f}, "
              f"min–max {np.nanmin(values):.3f}–{np.nanmax(values):.3f}")
    return results


# -- diagnoses ---------------------------------------------------------------------------------
ILLNESSES = ("vanishing", "exploding", "healthy")
CAUSES = ("activation", "initialization", "learning rate", "time steps")
# The clinic's illness of each case, as a digest so the toolkit does not print it. With three
# illnesses a reader can of course recover it by trying: this is a self-check, not a secret.
_FINDINGS = {"a": "46feb3a7fe4a4742", "b": "fd9ecc79c1bbf4ad", "c": "8561a124a892ef2f", "d": "474a4971a2b1583a"}
DIAGNOSIS_AGREES = "the illness agrees with the clinic's findings (the cause is graded when you submit)"


def _digest(name, illness):
    return hashlib.sha256(f"gradclinic lesson 11 case {name}: {illness}".encode()).hexdigest()[:16]


def diagnosis_state(answer, name):
    """The self-check's probe of a diagnosis of case ``name``: :data:`DIAGNOSIS_AGREES` when
    ``answer`` is a pair (illness, cause) from :data:`ILLNESSES` and :data:`CAUSES` whose illness
    is the clinic's, else what is wrong, in words (without saying the right illness)."""
    _case(name)
    if not isinstance(answer, (tuple, list)) or len(answer) != 2 or not all(isinstance(a, str) for a in answer):
        return ("not a pair of strings (illness, cause): return e.g. ('healthy', 'activation'), "
                "one illness and one cause from the lists")
    illness, cause = answer
    if illness not in ILLNESSES:
        return f"the illness {illness!r} is not one of {', '.join(map(repr, ILLNESSES))}"
    if cause not in CAUSES:
        return f"the cause {cause!r} is not one of {', '.join(map(repr, CAUSES))}"
    if _digest(name, illness) != _FINDINGS[name]:
        return f"the illness {illness!r} is not what the examination of case {name} shows"
    return DIAGNOSIS_AGREES


diagnosis_state_a, diagnosis_state_b, diagnosis_state_c, diagnosis_state_d = (
    functools.partial(diagnosis_state, name=name) for name in ("a", "b", "c", "d"))
