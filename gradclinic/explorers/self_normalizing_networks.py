"""Lesson 10's explorer and experiments: does a deep MLP keep each layer's activations at mean 0
and variance 1 at initialisation — SELU vs ReLU vs tanh, LeCun normal vs other initializers,
standardized vs raw inputs — and how fast does lesson 10's 20 × 100 net train on digits.

The net is ``depth`` Dense layers of ``width`` units without biases (Keras's biases start at
0), on one fixed batch of digits: layer 1 maps the 64 pixels to ``width`` units, every other
layer is square. Weights come from Keras's own initializers (truncation included), one stack of
``max_depth`` kernels per initializer, drawn once and shared by every activation and input
choice. The forward pass is NumPy in float64 (an exploding net shows as huge numbers before it
overflows); each configuration is computed once for ``max_depth`` layers and the statistics of
a shallower net are a prefix of it, so moving the depth slider computes nothing.

SELU is not written here (it is the lesson's exercise): pass the learner's ``selu``, or get
Keras's own (``keras.activations.selu``) by default.
"""

import numpy as np

from gradclinic.plots import axis_end, decade_limits, fast_log_axis
from gradclinic.runtime import one_blas_thread
from gradclinic.widgets import Explorer

MAX_DEPTH = 100
WIDTH = 100  # the hidden width of the SNN recipe lesson 10 tests
BATCH = 256
ACTIVATIONS = ("selu", "relu", "tanh")
INITIALIZERS = ("lecun_normal", "glorot_uniform", "he_normal", "standard_normal")
INPUTS = ("standardized", "raw")


def keras_selu(x):
    """Keras's SELU on a NumPy array, as a NumPy array (the explorer's default)."""
    import keras

    return np.asarray(keras.ops.convert_to_numpy(keras.activations.selu(np.asarray(x))))


def numpy_activations(selu=None):
    """Name → NumPy function for the explorer's activations; ``selu`` defaults to Keras's."""
    return {"selu": keras_selu if selu is None else selu, "relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh}


def draw_kernels(initializer, n_inputs, width, depth, rng):
    """``depth`` kernels, the first (n_inputs, width), the rest (width, width), as float64 arrays.

    Keras's initializers are seeded from ``rng`` layer by layer; ``standard_normal`` is N(0, 1).
    """
    shapes = [(n_inputs, width)] + [(width, width)] * (depth - 1)
    if initializer == "standard_normal":
        return [rng.standard_normal(shape) for shape in shapes]
    if initializer not in INITIALIZERS:
        raise ValueError(f"initializer must be one of {', '.join(INITIALIZERS)}, got {initializer!r}")
    import keras

    seeds = rng.integers(2**31, size=depth)
    return [np.asarray(keras.initializers.get({"class_name": initializer, "config": {"seed": int(s)}})(shape),
                       dtype=float) for s, shape in zip(seeds, shapes)]


class SignalPropagation:
    """Per-layer mean and variance of a deep MLP's activations at initialisation.

    ``inputs``: name → (examples, 64) array, e.g. ``{"standardized": …, "raw": …}``; the first
    ``batch`` rows are used. ``selu``: the SELU to use (default Keras's).
    """

    def __init__(self, inputs, selu=None, width=WIDTH, max_depth=MAX_DEPTH, batch=BATCH, seed=0):
        if not inputs:
            raise ValueError("inputs must name at least one (examples, features) array")
        self.inputs = {name: np.asarray(values, dtype=float)[:batch] for name, values in inputs.items()}
        shapes = {values.shape[1:] for values in self.inputs.values()}
        if len(shapes) != 1 or len(next(iter(shapes))) != 1:
            raise ValueError(f"every input must be (examples, features) with the same features, got {shapes}")
        self.n_inputs = next(iter(shapes))[0]
        self.width, self.max_depth, self.seed = width, max_depth, seed
        self.activations = numpy_activations(selu)
        self._kernels, self._statistics = {}, {}

    def kernels(self, initializer):
        """The ``max_depth`` kernels of ``initializer`` (drawn on first use, then reused)."""
        if initializer not in self._kernels:
            rng = np.random.default_rng([self.seed, INITIALIZERS.index(initializer)])
            self._kernels[initializer] = draw_kernels(initializer, self.n_inputs, self.width, self.max_depth, rng)
        return self._kernels[initializer]

    def statistics(self, activation="selu", initializer="lecun_normal", inputs="standardized"):
        """(means, variances), each (max_depth,): over the batch and the units of layer l = 1…"""
        key = (activation, initializer, inputs)
        if key not in self._statistics:
            if activation not in self.activations:
                raise ValueError(f"activation must be one of {', '.join(self.activations)}, got {activation!r}")
            if inputs not in self.inputs:
                raise ValueError(f"inputs must be one of {', '.join(self.inputs)}, got {inputs!r}")
            phi, a = self.activations[activation], self.inputs[inputs]
            means, variances = np.empty(self.max_depth), np.empty(self.max_depth)
            with np.errstate(over="ignore", invalid="ignore"):  # an exploding net overflows: shown as such
                for layer, kernel in enumerate(self.kernels(initializer)):
                    a = np.asarray(phi(a @ kernel), dtype=float)
                    means[layer], variances[layer] = a.mean(), a.var()
            self._statistics[key] = (means, variances)
        return self._statistics[key]

    def table(self, layers, **configuration):
        """Text: mean and variance at the given layers (1-based) for one configuration."""
        means, variances = self.statistics(**configuration)
        return "  ".join(f"L{l}: {means[l - 1]:+.3g} / {variances[l - 1]:.3g}" for l in layers)


# -- training (lesson 10's race) -------------------------------------------------------------
def train_on_digits(model, x_train, y_train, x_val, y_val, epochs, learning_rate=7e-4, batch_size=32):
    """Compile ``model`` with the SNN recipe's Nadam(learning_rate=7e-4) and sparse cross-entropy, fit it
    quietly, and return ``{"loss": [...], "val_accuracy": [...]}``, one entry per epoch.

    Validation accuracy is measured after each epoch by one plain forward pass over (x_val, y_val)
    (``training=False``): the same number ``validation_data`` would report, without tracing a
    second compiled function (tracing a 20-layer net costs more than several epochs here).
    """
    import keras

    validation = _ValidationAccuracy(np.asarray(x_val, "float32"), np.asarray(y_val))
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy")
    fitted = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[validation])
    return {"loss": list(fitted.history["loss"]), "val_accuracy": validation.accuracy}


def _validation_callback_class():
    import keras

    class ValidationAccuracy(keras.callbacks.Callback):
        """Appends the accuracy on (x, y) to ``accuracy`` after every epoch."""

        def __init__(self, x, y):
            super().__init__()
            self.x, self.y, self.accuracy = x, y, []

        def on_epoch_end(self, epoch, logs=None):
            probabilities = keras.ops.convert_to_numpy(self.model(self.x, training=False))
            self.accuracy.append(float(np.mean(np.argmax(probabilities, axis=1) == self.y)))

    return ValidationAccuracy


def _ValidationAccuracy(x, y):  # noqa: N802 (a class made on first use: Keras imports slowly)
    return _validation_callback_class()(x, y)


def epochs_to_best(val_accuracy):
    """The 1-based epoch of the best validation accuracy (the first one, if tied)."""
    return int(np.argmax(val_accuracy)) + 1


def first_epoch_reaching(accuracy, level):
    """The 1-based epoch at which ``accuracy`` first reaches ``level``, or None if it never does."""
    reached = np.flatnonzero(np.asarray(accuracy) >= level)
    return int(reached[0]) + 1 if reached.size else None


# -- the explorer ----------------------------------------------------------------------------
class SelfNormalizingExplorer(Explorer):
    """Depth, activation, initializer and inputs → the mean and the variance of every layer's
    activations, with SELU + LeCun normal + standardized inputs drawn beside for reference.

    Every initializer's kernels are drawn when the explorer is made (Keras's initializers are
    the slow part of a first move to a new setting); a configuration's statistics are computed
    on its first use. The axes' ranges depend only on the configuration and the depth's bucket
    (1, 2, 5, 10, 20, 50, 100 layers), so most moves redraw only the lines and the titles.
    """

    def __init__(self, inputs, selu=None, depth=32, activation="selu", initializer="lecun_normal",
                 data="standardized", seed=0):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, NullFormatter

        self.propagation = SignalPropagation(inputs, selu=selu, seed=seed)
        for name in INITIALIZERS:
            self.propagation.kernels(name)
        figure = plt.figure(figsize=(10, 3.6), layout="none")
        self.mean_ax = figure.add_axes((0.08, 0.14, 0.39, 0.66))
        self.var_ax = figure.add_axes((0.58, 0.14, 0.39, 0.66))
        (self.reference_mean,) = self.mean_ax.plot([], [], color="0.7", lw=3, label="SELU, LeCun, standardized")
        (self.mean_line,) = self.mean_ax.plot([], [], "o-", ms=3, lw=1.2, label="chosen net")
        (self.reference_var,) = self.var_ax.plot([], [], color="0.7", lw=3, label="SELU, LeCun, standardized")
        (self.var_line,) = self.var_ax.plot([], [], "o-", ms=3, lw=1.2, label="chosen net")
        self.mean_ax.axhline(0.0, color="0.4", ls="--", lw=0.8)
        self.var_ax.axhline(1.0, color="0.4", ls="--", lw=0.8)
        self.mean_ax.set_yscale("symlog", linthresh=1.0)
        # Plain-text tick labels: mathtext ones cost most of a redraw.
        self.mean_ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.3g}"))
        self.mean_ax.yaxis.set_minor_formatter(NullFormatter())
        fast_log_axis(self.var_ax)
        for ax, label in ((self.mean_ax, "mean of a[l] (symlog)"), (self.var_ax, "variance of a[l] (log)")):
            ax.set_xlabel("layer l")
            ax.set_ylabel(label)
        # One legend for both panels, in the figure's corner: no line ever crosses it.
        figure.legend(handles=[self.reference_mean, self.mean_line], loc="upper left", fontsize=8,
                      bbox_to_anchor=(0.01, 0.99))
        controls = {
            "depth": widgets.IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth L"),
            "activation": widgets.Dropdown(options=ACTIVATIONS, value=activation, description="activation"),
            "initializer": widgets.Dropdown(options=INITIALIZERS, value=initializer, description="init"),
            "data": widgets.Dropdown(options=tuple(self.propagation.inputs), value=data, description="inputs"),
        }
        super().__init__(figure, controls)
        figure.set_layout_engine("none")  # fixed axes: the style's autolayout would re-measure every redraw
        self.draw(**self.values())
        self.moving(self.reference_mean, self.mean_line, self.reference_var, self.var_line,
                    self.mean_ax.title, self.var_ax.title, figure._suptitle)

    def _statistics(self, activation="selu", initializer="lecun_normal", data="standardized"):
        with one_blas_thread():
            return self.propagation.statistics(activation, initializer, data)

    def _limits(self, depth, means, variances):
        """(x, mean, variance) ranges over the first layers up to the depth's bucket end, for the
        chosen net and the reference: whole decades for the variance, 1-2-5 steps for the mean."""
        end = axis_end(depth, MAX_DEPTH)
        ref_means, ref_vars = self._statistics()
        finite_means = np.abs(np.concatenate([means[:end], ref_means[:end]]))
        finite_means = finite_means[np.isfinite(finite_means)]
        top = float(axis_end(min(max(float(finite_means.max()) if finite_means.size else 1.0, 0.5) * 1.5, 1e300)))
        variance_range = decade_limits(np.concatenate([variances[:end], ref_vars[:end], [0.5, 2.0]]), margin=2)
        return (0.5, max(end, 2) + 0.5), (-top, top), variance_range

    def draw(self, depth, activation, initializer, data):
        layers = np.arange(1, depth + 1)
        all_means, all_variances = self._statistics(activation, initializer, data)
        means, variances = all_means[:depth], all_variances[:depth]
        ref_means, ref_vars = (values[:depth] for values in self._statistics())
        self.mean_line.set_data(layers, means)
        self.var_line.set_data(layers, variances)
        self.reference_mean.set_data(layers, ref_means)
        self.reference_var.set_data(layers, ref_vars)
        x_range, mean_range, variance_range = self._limits(depth, all_means, all_variances)
        self.mean_ax.set_ylim(*mean_range)
        self.var_ax.set_ylim(*variance_range)
        for ax in (self.mean_ax, self.var_ax):
            ax.set_xlim(*x_range)
        self.figure.suptitle(f"{activation}, {initializer}, {data} inputs, {depth} layers")
        self.mean_ax.set_title(f"mean at layer {depth}: {means[-1]:+.3g} (reference {ref_means[-1]:+.3g})")
        self.var_ax.set_title(f"variance at layer {depth}: {variances[-1]:.3g} (reference {ref_vars[-1]:.3g})")
