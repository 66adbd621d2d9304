"""The gradient-health monitor: a Keras callback that watches a model train and draws one figure.

    from gradclinic.diagnostics import GradientHealthMonitor
    monitor = GradientHealthMonitor(x_probe, y_probe, diagnose=diagnose)  # your lesson 02 diagnose
    model.fit(x, y, epochs=5, callbacks=[monitor], verbose=0)
    monitor.report()                                           # one matplotlib Figure
    monitor.summary()["verdict"]                               # what your diagnose says now

Every ``every`` training steps the monitor runs ONE compiled ``tf.function`` on the probe batch
(the model's compiled loss, inference mode) and records, per layer, input side first:

- the kernel-gradient norm ‖∂loss/∂W‖ (Frobenius) of every trainable kernel, summed in float64
  so that entries of ~1e-27 (whose float32 squares flush to zero) still count;
- the update-to-data ratio log10(std(lr·g) / std(W)), whose healthy guide line sits near −3
  (Karpathy, "makemore part 3");
- the saturation of tanh/sigmoid layers and the dead share of ReLU layers;
- NaN/inf alarms (probe loss, gradients, weights, and the training loss of every step);
- a "tiny everywhere" flag when every kernel-gradient norm is below :data:`TINY_GRADIENT`: a
  gradient that is uniformly tiny has a healthy first/last ratio, so a ratio rule (lesson 02's
  ``diagnose``) cannot see it;
- a few histogram snapshots of weights and gradients, stored as counts and bin edges.

The monitor never changes the model: the probe runs with ``training=False`` (dropout off,
batch-norm moving statistics used and not updated) and applies no update.
"""

import math

import numpy as np

from gradclinic.models import whole_number
from gradclinic.runtime import quiet_tensorflow

tf = quiet_tensorflow()  # before Keras imports TensorFlow: no start-up log lines in the notebook
import keras  # noqa: E402

DEFAULT_EVERY = 25  # steps between samples; bench/run.py --only monitor measures the overhead
DEFAULT_HISTOGRAMS = 4  # histogram snapshots kept over a fit
HISTOGRAM_BINS = 30
TANH_SATURATED = 0.97  # |tanh| above this: the local slope 1 − tanh² is below 0.06
SIGMOID_MARGIN = 0.03  # sigmoid within this of 0 or 1: the slope σ(1 − σ) is below 0.03
UPDATE_RATIO_GUIDE = -3.0  # log10(std(lr·g)/std(W)); Karpathy's rule of thumb
# Below this every step lr·g (lr ≤ 1) moves a weight of size ~0.1 by less than float32's spacing
# there (7.5e-9): such a layer does not train, whatever the ratio between layers says.
TINY_GRADIENT = 1e-8

__all__ = ["GradientHealthMonitor", "uniformly_tiny", "DEFAULT_EVERY",
           "UPDATE_RATIO_GUIDE", "TINY_GRADIENT"]


def uniformly_tiny(norms, tiny=TINY_GRADIENT):
    """True when every per-layer gradient norm is finite and below ``tiny``: the gradient has
    vanished everywhere at once. The first/last ratio of such norms can look healthy (lesson 02's
    ``diagnose`` reads ratios only), so this is a separate flag, not a verdict of ``diagnose``."""
    norms = np.asarray(norms, dtype=float)
    return bool(norms.size and np.all(np.isfinite(norms)) and np.all(norms < tiny))


def _check_probe(x, y):
    leaves = x if isinstance(x, (list, tuple)) else [x]
    if isinstance(x, dict):
        leaves = list(x.values())
    lengths = set()
    for leaf in leaves:
        shape = np.shape(leaf)
        if len(shape) == 0 or shape[0] == 0:
            raise ValueError(f"the probe batch x must be an array with at least one example, got shape {shape}")
        lengths.add(shape[0])
    if y is None:
        raise ValueError("the probe batch needs targets y (the monitor evaluates the model's compiled loss)")
    y_shape = np.shape(y)
    if len(y_shape) == 0 or len(lengths) != 1 or y_shape[0] not in lengths:
        raise ValueError(f"x and y of the probe batch must hold the same number of examples, got "
                         f"{sorted(lengths)} and {y_shape[:1]}")


def _label(variable, model_name):
    """'dense_2/kernel', 'simple_rnn/recurrent_kernel' from a Keras 3 variable path."""
    parts = [p for p in variable.path.split("/") if not p.endswith("_cell")]
    if len(parts) > 2 and parts[0] == model_name:
        parts = parts[1:]
    return "/".join(parts)


def _histogram(values, bins=HISTOGRAM_BINS):
    values = np.asarray(values, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.zeros(bins, dtype=int), np.linspace(-1.0, 1.0, bins + 1)
    low, high = values.min(), values.max()
    if low == high:
        low, high = low - 0.5 * (abs(low) or 1.0), high + 0.5 * (abs(high) or 1.0)
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    return counts, edges


def _snapshot_steps(start, total_steps, every, count):
    """The sampled steps (multiples of ``every`` in [start, start + total_steps)) at which
    ``count`` histogram snapshots are taken, spread evenly; the first sample always is one."""
    sampled = [s for s in range(start, start + total_steps) if s % every == 0]
    if count == 0 or not sampled:
        return set()
    picks = np.unique(np.round(np.linspace(0, len(sampled) - 1, count)).astype(int))
    return {sampled[i] for i in picks}


_RELU_LIKE = {keras.activations.relu}
_KINDS = {keras.activations.tanh: "tanh", keras.activations.sigmoid: "sigmoid"}
_GATED = tuple(getattr(keras.layers, name) for name in ("GRU", "LSTM", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
               if hasattr(keras.layers, name))


def _activation_kind(layer):
    """'tanh', 'sigmoid', 'relu' or None: what the layer's OUTPUT is the activation of."""
    if isinstance(layer, keras.layers.ReLU):
        plain = layer.negative_slope == 0 and layer.threshold == 0 and layer.max_value is None
        return "relu" if plain else None
    if isinstance(layer, _GATED) or isinstance(layer, keras.Model):
        return None  # a gated cell's output mixes gates and candidates; a nested model hides its layers
    function = getattr(layer, "activation", None)
    if function in _RELU_LIKE:
        return "relu"
    return _KINDS.get(function)


class GradientHealthMonitor(keras.callbacks.Callback):
    """Watch a Keras model's gradient health on a fixed probe batch while it trains.

    ``x``, ``y``: the probe batch (a few hundred examples is plenty), evaluated with the
    model's compiled loss (``model.compute_loss``, penalties included) in inference mode.
    ``every``: sample every this many training steps, counted over all ``fit`` calls, the
    first at step 0 (before the first update), so ``S`` steps give ⌈S/every⌉ samples. The
    default keeps the overhead small: ``python bench/run.py --only monitor`` measures it.
    ``histograms``: how many weight/gradient histogram snapshots to keep over one fit
    (spread evenly when the number of steps is known). ``stop_on_nan``: set
    ``model.stop_training`` when an alarm fires.

    What is measured, per layer, input side first:

    - Kernels only: every trainable variable named ``kernel`` (Dense, Conv, attention
      projections…) or ``recurrent_kernel``; a recurrent layer contributes both, its
      input kernel W_x first, then its recurrent kernel W_h, because a vanishing gradient
      through time shows up in W_h and not necessarily in W_x. Biases, embeddings and
      normalisation scales are left out: their norms say little about depth.
    - ``update ratio`` = log10(std(lr·g) / std(W)) with lr the optimizer's current learning
      rate. For plain SGD it is the real relative update size. For Adam, RMSprop and other
      adaptive optimizers the applied step is lr·m̂/(√v̂ + ε), not lr·g, so the ratio from the
      raw gradient is only a proxy: compare it across layers and over time, and read its
      level against −3 with care.
    - Saturation: the share of outputs with |tanh| > 0.97, or sigmoid within 0.03 of 0 or 1,
      for layers whose output is that activation (Dense, Conv, SimpleRNN, Activation
      layers; not GRU/LSTM, whose outputs mix gates). Dead ReLU share: the share of units
      (channels: the last axis, or axis 1 for ``channels_first``) that are zero for every
      example (and position) of the probe batch. Only layers of the outer model count.
    - Alarms: a non-finite probe loss, gradient or weight at a sample, and a non-finite
      training loss at any step, each kind recorded once with its first step. With
      ``stop_on_nan`` training stops after that step; a training-loss alarm is read off the
      training loop's path (Keras's asynchronous batch-end hooks) and may stop it a step or
      two later, a probe alarm stops it at once.

    After (or during) training: ``history`` (plain lists and NumPy arrays), ``summary()``
    (a dict) and ``report()`` (one matplotlib Figure).
    """

    def __init__(self, x, y, every=DEFAULT_EVERY, histograms=DEFAULT_HISTOGRAMS, stop_on_nan=False,
                 diagnose=None):
        super().__init__()
        _check_probe(x, y)
        # The verdict rule is lesson 02's exercise: the learner's own function is passed in,
        # so the package never holds its answer.
        if diagnose is not None and not callable(diagnose):
            raise ValueError(f"diagnose must be a function of the per-layer norms (lesson 02's), got {diagnose!r}")
        self.diagnose = diagnose
        self.every = whole_number("every", every)
        self.histograms = whole_number("histograms", histograms, minimum=0)
        if not isinstance(stop_on_nan, (bool, np.bool_)):
            raise ValueError(f"stop_on_nan must be True or False, got {stop_on_nan!r}")
        self.stop_on_nan = bool(stop_on_nan)
        self._x, self._y = x, y
        self._probe_model = None  # the model the compiled probe belongs to
        self._steps_seen = self._epoch_start = 0
        self._snapshots_at = set()
        self._records = {"step": [], "loss": [], "learning_rate": [], "grad_norms": [], "update_ratio": [],
                         "saturation": [], "dead": []}
        self._histograms = []
        self.alarms = []
        self.kernels, self.saturating_layers, self.relu_layers = [], [], []
        self.optimizer_name = None

    # -- the compiled probe ------------------------------------------------------------
    def _prepare(self):
        model = self.model
        if model is self._probe_model:
            return
        if model.loss is None and not getattr(model, "_compile_loss", None):
            raise ValueError("the monitor needs a compiled loss: call model.compile(optimizer, loss) first")
        if not model.built:  # a Sequential without an Input is built on first use
            if isinstance(model, keras.Sequential) and isinstance(self._x, np.ndarray):
                model.build((None, *self._x.shape[1:]))
            else:
                model(self._x)
        variables = [v for v in model.trainable_variables if v.path.split("/")[-1].endswith("kernel")]
        if not variables:
            raise ValueError("the model has no trainable kernels to monitor")
        self._variables = variables
        self.optimizer_name = type(model.optimizer).__name__ if getattr(model, "optimizer", None) else None
        self.kernels = [_label(v, model.name) for v in variables]
        watched, outputs = [], []
        try:
            inputs = model.inputs
            for layer in model.layers:
                kind = _activation_kind(layer)
                if kind is not None:
                    try:
                        outputs.append(layer.output)
                    except (AttributeError, ValueError):  # a shared layer has no single output
                        continue
                    watched.append((layer, kind))
            single = len(model.outputs) == 1
            probe = keras.Model(inputs, [*outputs, *model.outputs] if single else outputs)
        except (AttributeError, ValueError):  # a subclassed model: gradients only
            probe, single, watched = None, False, []
        self.saturating_layers = [layer.name for layer, kind in watched if kind != "relu"]
        self.relu_layers = [layer.name for layer, kind in watched if kind == "relu"]
        channel_axes = [1 if getattr(layer, "data_format", None) == "channels_first" else -1
                        for layer, _ in watched]

        def shares(activations):
            saturation, dead = [], []
            for a, (layer, kind), axis in zip(activations, watched, channel_axes):
                a = tf.convert_to_tensor(a)
                if kind == "tanh":
                    saturation.append(tf.reduce_mean(tf.cast(tf.abs(a) > TANH_SATURATED, tf.float32)))
                elif kind == "sigmoid":
                    near = (a < SIGMOID_MARGIN) | (a > 1.0 - SIGMOID_MARGIN)
                    saturation.append(tf.reduce_mean(tf.cast(near, tf.float32)))
                else:
                    rank = len(a.shape)
                    axis = axis % rank
                    alive = tf.reduce_any(a > 0, axis=[i for i in range(rank) if i != axis])
                    dead.append(1.0 - tf.reduce_mean(tf.cast(alive, tf.float32)))
            return tf.stack(saturation) if saturation else tf.zeros([0]), tf.stack(dead) if dead else tf.zeros([0])

        @tf.function
        def sample(x, y):
            with tf.GradientTape() as tape:
                if probe is not None and single:
                    *activations, y_pred = tf.nest.flatten(probe(x, training=False))
                else:
                    y_pred = model(x, training=False)
                    activations = tf.nest.flatten(probe(x, training=False)) if probe is not None else []
                loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=False)
            grads = tape.gradient(loss, variables)
            grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, variables)]
            saturation, dead = shares(activations)
            finite_weights = tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in variables])
            # float64: a float32 sum of squares flushes entries below ~1e-19 to zero
            wide = [tf.cast(g, tf.float64) for g in grads]
            return {"loss": loss,
                    "grad_norms": tf.stack([tf.norm(g) for g in wide]),
                    "grad_std": tf.stack([tf.math.reduce_std(g) for g in wide]),
                    "weight_std": tf.stack([tf.math.reduce_std(v) for v in variables]),
                    "finite_grads": tf.stack([tf.reduce_all(tf.math.is_finite(g)) for g in grads]),
                    "finite_weights": finite_weights, "saturation": saturation, "dead": dead, "grads": grads}

        self._sample_function = sample
        self._x_tensor = tf.nest.map_structure(lambda a: tf.convert_to_tensor(np.asarray(a)), self._x)
        self._y_tensor = tf.nest.map_structure(lambda a: tf.convert_to_tensor(np.asarray(a)), self._y)
        self._probe_model = model

    def _learning_rate(self):
        optimizer = getattr(self.model, "optimizer", None)
        rate = getattr(optimizer, "learning_rate", None)
        try:
            return float(np.asarray(rate))
        except (TypeError, ValueError):
            return float("nan")

    def _alarm(self, step, where):
        if not any(a["where"] == where for a in self.alarms):  # each kind once: its first step
            self.alarms.append({"step": int(step), "where": where})
        if self.stop_on_nan:
            self.model.stop_training = True

    def _sample(self, step):
        self._prepare()
        out = self._sample_function(self._x_tensor, self._y_tensor)
        loss = float(out["loss"])
        norms = out["grad_norms"].numpy().astype(float)
        rate = self._learning_rate()
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.log10(rate * out["grad_std"].numpy().astype(float) / out["weight_std"].numpy().astype(float))
        records = self._records
        records["step"].append(step)
        records["loss"].append(loss)
        records["learning_rate"].append(rate)
        records["grad_norms"].append(norms.tolist())
        records["update_ratio"].append(ratio.tolist())
        records["saturation"].append(out["saturation"].numpy().astype(float).tolist())
        records["dead"].append(out["dead"].numpy().astype(float).tolist())
        if not math.isfinite(loss):
            self._alarm(step, "probe loss")
        for name, flags in (("gradient", out["finite_grads"]), ("weights", out["finite_weights"])):
            for label, finite in zip(self.kernels, flags.numpy()):
                if not finite:
                    self._alarm(step, f"{name} of {label}")
        if step in self._snapshots_at or (not self._histograms and self.histograms):
            self._histograms.append({
                "step": step,
                "weights": {label: _histogram(v.numpy()) for label, v in zip(self.kernels, self._variables)},
                "gradients": {label: _histogram(g.numpy()) for label, g in zip(self.kernels, out["grads"])}})

    # -- Keras hooks -------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        steps, epochs = self.params.get("steps"), self.params.get("epochs") or 1
        start, first = self._steps_seen, -(-self._steps_seen // self.every) * self.every
        if steps:
            self._snapshots_at = _snapshot_steps(start, steps * epochs, self.every, self.histograms)
        else:  # unknown length: snapshots at the 1st, 2nd, 3rd, 5th, 9th, … sample of this fit
            self._snapshots_at = {first + self.every * (2 ** (k - 1) if k else 0) for k in range(self.histograms)}

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self._steps_seen  # Keras finishes an epoch's batch-end calls first

    def on_train_batch_begin(self, batch, logs=None):
        if self._steps_seen % self.every == 0:
            self._sample(self._steps_seen)
        self._steps_seen += 1

    # Keras may run batch-end hooks in a worker thread (async_safe): the training loss is then
    # read there, off the training loop's path; it only appends an alarm and sets a flag.
    async_safe = True

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._alarm(self._epoch_start + batch, "training loss")

    # -- results -----------------------------------------------------------------------
    @property
    def history(self):
        """Everything recorded, as plain Python lists and NumPy arrays.

        ``step``, ``loss`` (probe), ``learning_rate``: (samples,) arrays; ``grad_norms``,
        ``update_ratio``: (samples, kernels) with column labels ``kernels``; ``saturation``
        (columns ``saturating_layers``) and ``dead`` (columns ``relu_layers``): shares in
        [0, 1]; ``alarms``: dicts with ``step`` and ``where``; ``histograms``: snapshots
        {"step", "weights": {kernel: (counts, edges)}, "gradients": {…}}.
        """
        r = self._records
        n = len(r["step"])

        def table(key, width):
            return np.asarray(r[key], dtype=float).reshape(n, width)

        return {"step": np.asarray(r["step"], dtype=int), "loss": np.asarray(r["loss"], dtype=float),
                "learning_rate": np.asarray(r["learning_rate"], dtype=float),
                "kernels": list(self.kernels), "grad_norms": table("grad_norms", len(self.kernels)),
                "update_ratio": table("update_ratio", len(self.kernels)),
                "saturating_layers": list(self.saturating_layers),
                "saturation": table("saturation", len(self.saturating_layers)),
                "relu_layers": list(self.relu_layers), "dead": table("dead", len(self.relu_layers)),
                "alarms": [dict(a) for a in self.alarms], "histograms": list(self._histograms)}

    def verdict(self):
        """What ``diagnose`` (given at construction) says of the latest sample's gradient norms,
        input side first; None before the first sample or without a ``diagnose``."""
        if not self._records["step"] or self.diagnose is None:
            return None
        return self.diagnose(list(self._records["grad_norms"][-1]))

    def first_to_last_ratio(self):
        """‖∂loss/∂W_first‖ / ‖∂loss/∂W_last‖ of the latest sample (NaN before any sample)."""
        if not self._records["step"]:
            return float("nan")
        norms = self._records["grad_norms"][-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.float64(norms[0]) / np.float64(norms[-1]))

    def tiny_everywhere(self):
        """Whether every kernel-gradient norm of the latest sample is below :data:`TINY_GRADIENT`
        (see :func:`uniformly_tiny`); False before any sample."""
        return bool(self._records["step"]) and uniformly_tiny(self._records["grad_norms"][-1])

    def summary(self):
        """The latest sample in one dict: verdict, step, probe loss, per-kernel gradient norm
        and update ratio, per-layer saturation and dead share, the first alarm's step, and
        ``tiny_everywhere`` (every norm below :data:`TINY_GRADIENT`)."""
        h = self.history
        if len(h["step"]) == 0:
            return {"verdict": None, "samples": 0, "every": self.every, "alarms": h["alarms"],
                    "first_alarm_step": None}
        return {"verdict": self.verdict(), "first_to_last_ratio": self.first_to_last_ratio(),
                "tiny_everywhere": self.tiny_everywhere(),
                "samples": len(h["step"]), "every": self.every,
                "optimizer": self.optimizer_name, "step": int(h["step"][-1]), "loss": float(h["loss"][-1]),
                "learning_rate": float(h["learning_rate"][-1]),
                "grad_norms": dict(zip(h["kernels"], h["grad_norms"][-1].tolist())),
                "update_ratio": dict(zip(h["kernels"], h["update_ratio"][-1].tolist())),
                "saturation": dict(zip(h["saturating_layers"], h["saturation"][-1].tolist())),
                "dead": dict(zip(h["relu_layers"], h["dead"][-1].tolist())),
                "alarms": h["alarms"], "first_alarm_step": h["alarms"][0]["step"] if h["alarms"] else None}

    def report(self, figsize=(13, 7)):
        """One matplotlib Figure (not shown through pyplot: a notebook displays the returned
        value): gradient norms over time (log axis), update ratio with the −3 guide line,
        saturation and dead shares, probe loss with alarms, and the latest weight and
        gradient histograms; titled with the first/last gradient-norm ratio, the verdict of
        ``diagnose`` and, when it holds, the tiny-everywhere flag."""
        return _draw_report(self, figsize)


def _draw_report(monitor, figsize):
    from matplotlib.figure import Figure

    from gradclinic.plots import log_safe

    h = monitor.history
    if len(h["step"]) == 0:
        raise RuntimeError("the monitor has recorded nothing yet: pass it to model.fit(..., callbacks=[monitor])")
    steps = h["step"]
    figure = Figure(figsize=figsize, layout="constrained")
    axes = figure.subplots(2, 3)
    names = ("gradient norms", "update ratio", "saturation and dead share", "probe loss",
             "weight histograms", "gradient histograms")
    for ax, name in zip(axes.flat, names):
        ax.set_title(name)
        ax.set_label(name)
    colors = _layer_colors(len(h["kernels"]))
    many = len(h["kernels"]) > 8

    marker = "." if len(steps) < 3 else None  # a line of one or two points still shows
    ax = axes[0, 0]
    for column, (label, color) in enumerate(zip(h["kernels"], colors)):
        ax.plot(steps, log_safe(h["grad_norms"][:, column]), color=color, label=label, marker=marker)
    ax.set_yscale("log")  # drawn once: Matplotlib's own labels, minor ones within a narrow range
    ax.set_xlabel("training step")
    ax.set_ylabel("‖∂loss/∂W‖ (probe batch)")
    _legend(ax, many)

    ax = axes[0, 1]
    ratio = np.where(np.isfinite(h["update_ratio"]), h["update_ratio"], np.nan)
    for column, color in enumerate(colors):
        ax.plot(steps, ratio[:, column], color=color, marker=marker)
    if monitor.optimizer_name not in ("SGD", None):
        ax.set_title(f"update ratio ({monitor.optimizer_name}: a proxy from the raw gradient)", fontsize="medium")
    ax.axhline(UPDATE_RATIO_GUIDE, color="black", linestyle="--", linewidth=1, label="≈ −3 guide")
    ax.set_xlabel("training step")
    ax.set_ylabel("log10(std(lr·g) / std(W))")
    ax.legend(loc="best", fontsize="small")

    ax = axes[0, 2]
    for key, names, style, what in (("saturation", h["saturating_layers"], "-", "saturated"),
                                    ("dead", h["relu_layers"], "--", "dead")):
        for column, (label, color) in enumerate(zip(names, _layer_colors(len(names)))):
            ax.plot(steps, h[key][:, column], color=color, linestyle=style, label=f"{label} {what}")
    if not h["saturating_layers"] and not h["relu_layers"]:
        ax.text(0.5, 0.5, "no tanh, sigmoid or ReLU layers", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("training step")
    ax.set_ylabel("share")
    _legend(ax, len(h["saturating_layers"]) + len(h["relu_layers"]) > 8)

    ax = axes[1, 0]
    ax.plot(steps, np.where(np.isfinite(h["loss"]), h["loss"], np.nan), color="black")
    for alarm in h["alarms"]:
        ax.axvline(alarm["step"], color="red", linewidth=1)
    if h["alarms"]:
        first = h["alarms"][0]
        ax.text(0.02, 0.95, f"NaN/inf at step {first['step']} ({first['where']})", color="red",
                transform=ax.transAxes, va="top", fontsize="small")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")

    snapshot = h["histograms"][-1] if h["histograms"] else None
    for ax, kind in ((axes[1, 1], "weights"), (axes[1, 2], "gradients")):
        if snapshot is None:
            ax.text(0.5, 0.5, "no snapshot", ha="center", va="center", transform=ax.transAxes)
            continue
        for (label, (counts, edges)), color in zip(snapshot[kind].items(), colors):
            total = max(int(np.sum(counts)), 1)
            ax.stairs(np.asarray(counts) / total, edges, color=color, label=label)
        ax.set_title(f"{kind} at step {snapshot['step']}")
        ax.set_xlabel("value")
        ax.set_ylabel("share of entries")

    verdict = monitor.verdict()
    alarm = f", NaN/inf at step {h['alarms'][0]['step']}" if h["alarms"] else ""
    said = f"{verdict}, " if verdict is not None else ""
    tiny = f", every norm < {TINY_GRADIENT:g}: vanished everywhere" if monitor.tiny_everywhere() else ""
    figure.suptitle(f"gradclinic.diagnostics: {said}first/last gradient norm {monitor.first_to_last_ratio():.1e} "
                    f"(step {int(steps[-1])}{alarm}{tiny})")
    return figure


def _layer_colors(count):
    from matplotlib import colormaps

    return [colormaps["viridis"](v) for v in np.linspace(0.0, 0.9, max(count, 1))][:count]


def _legend(ax, many):
    if ax.get_legend_handles_labels()[0]:
        if many:  # a deep net: name only the ends, colour runs input (dark) → output (light)
            handles, labels = ax.get_legend_handles_labels()
            ax.legend([handles[0], handles[-1]], [f"{labels[0]} (input side)", f"{labels[-1]}"], fontsize="small")
        else:
            ax.legend(fontsize="small")
