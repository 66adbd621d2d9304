"""Lesson 09's explorer: what every layer of a deep MLP does to one batch, with and without
Batch Normalization, at initialisation.

The net is ``depth`` square Dense layers (Glorot-uniform kernels, Keras's default; no biases,
they are zero at initialisation) on one batch of 128 digits. Without BN, layer l computes
a[l] = φ(a[l−1] W[l]); with BN, a[l] = φ(BN(a[l−1] W[l])). The probe loss is Σ g·a[L] for a
fixed random g, as in :mod:`gradclinic.profiles`, so the gradients show how the net itself
carries them back.

How BN is computed: a ``tf.scan`` over the layers calls, between the matmul and φ, the two
Keras ops that ``keras.layers.BatchNormalization`` calls in training mode
(``keras.ops.moments``, then ``keras.ops.batch_normalization``) with γ = 1 and β = 0, the
layer's initial weights. On one batch at initialisation that *is* the layer (the tests check
it against real ``BatchNormalization`` layers); moving averages play no part, so nothing here
shows how they are kept. One compiled function runs the plain net and the BN net side by side
in one scan, for any depth and any of the three activations (picked at run time by
``tf.switch_case``, so that it is traced once, about 0.8 s, not once per activation and mode,
which made the first move to another activation take half a second); a per-layer
``keras.Model`` would retrace on every slider move. :class:`gradclinic.profiles.MLPProfiler`
computes the plain case too, but runs about half as fast here because it also returns what
this explorer does not draw.

The explorer's axes follow the depth bucket (:func:`gradclinic.plots.axis_end`) and the
activation: the layer axis ends at the bucket's end, and the gradient axis spans whole decades
around the gradients of the bucket's deepest net, so most depth moves redraw only the data over
a cached picture of the axes.
"""

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from gradclinic.plots import axis_end, decade_limits, log_safe, pin_axis_labels
from gradclinic.widgets import Explorer

MAX_DEPTH = 100
WIDTH = 64  # the digits' 64 pixels, so that the first layer is square too
BATCH = 128
EPSILON = 1e-3  # keras.layers.BatchNormalization's default
BINS = 40
FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # the smallest normal float32, ≈ 1.2e-38
ACTIVATIONS = ("sigmoid", "tanh", "relu")
# The value axis of each activation's histograms; ReLU values beyond 3 land in the top bin.
VALUE_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, 3.0)}


def layer_histograms(activations, value_range, bins=BINS):
    """Per-layer histograms as fractions, shape (layers, bins); each row sums to 1.

    ``activations``: a sequence of per-layer arrays (any shapes, e.g. (batch, units)) or one
    array (layers, …). Values outside ``value_range`` count in the nearest end bin, so a
    layer that saturates shows as a bright edge instead of vanishing from the picture.
    """
    rows = []
    low, high = value_range
    for values in activations:
        values = np.asarray(values, dtype="float32").ravel()
        index = np.clip(((values - low) * (bins / (high - low))).astype(np.int32), 0, bins - 1)
        rows.append(np.bincount(index, minlength=bins) / values.size)
    return np.array(rows)


class HistogramPanel:
    """One axes showing a histogram per layer as a column of colour: x = layer, y = value,
    colour = fraction of the layer's values in that bin (power scale, so thin tails show)."""

    def __init__(self, ax, title=""):
        from matplotlib.colors import PowerNorm

        self.ax = ax
        self.image = ax.imshow(np.zeros((BINS, 1)), origin="lower", aspect="auto", cmap="magma",
                               norm=PowerNorm(0.4, vmin=0.0, vmax=1.0), interpolation="nearest")
        ax.set_xlabel("layer l")
        ax.set_ylabel("activation value")
        ax.grid(False)
        ax.set_title(title)

    def show(self, fractions, value_range, layers_axis_end=None):
        """Draw ``fractions`` (layers, bins), as :func:`layer_histograms` returns them, on a
        layer axis that ends at ``layers_axis_end`` (default: the last layer)."""
        self.image.set_data(np.asarray(fractions).T)
        self.image.set_extent((0.5, len(fractions) + 0.5, *value_range))
        self.ax.set_xlim(0.5, max(layers_axis_end or len(fractions), len(fractions)) + 0.5)
        self.ax.set_ylim(*value_range)


def plot_layer_histograms(panels, value_range, title=None):
    """A static figure: one :class:`HistogramPanel` per entry of ``panels`` (title →
    per-layer activations, as :func:`layer_histograms` takes them), with one colour bar."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels) + 1.2, 3.4), squeeze=False,
                                layout="constrained")
    for ax, (name, activations) in zip(axes[0], panels.items()):
        panel = HistogramPanel(ax, name)
        panel.show(layer_histograms(activations, value_range), value_range)
    figure.colorbar(panel.image, ax=axes[0].tolist(), label="fraction of the layer's values")
    if title:
        figure.suptitle(title)
    return figure


@dataclass(frozen=True)
class LayerSummary:
    """What the explorer draws for one net, layer by layer (index 0 = first layer).

    ``histograms``: (depth, BINS) fractions of each layer's activations per bin;
    ``stds``: (depth,) standard deviation of each layer's activations;
    ``kernel_grad_norms``: (depth,) ‖∂probe/∂W[l]‖, input side first.
    """

    histograms: np.ndarray
    stds: np.ndarray
    kernel_grad_norms: np.ndarray


class BatchNormProfiler:
    """Activations and kernel gradients, layer by layer, of the explorer's net, BN off or on.

    ``inputs``: (batch, 64), the batch the net sees (default: 128 training digits from
    :func:`gradclinic.data.load_digits`). One stack of ``MAX_DEPTH`` Glorot-uniform kernels
    is drawn once from ``seed``; depth L uses its first L.
    """

    def __init__(self, inputs=None, seed=0, cache_size=1024):
        from gradclinic.profiles import draw_weights

        if inputs is None:
            from gradclinic.data import load_digits

            inputs = load_digits(rng=np.random.default_rng(seed)).x_train[:BATCH]
        inputs = np.asarray(inputs, "float32")
        if inputs.ndim != 2 or inputs.shape[1] != WIDTH or len(inputs) < 2:
            raise ValueError(f"inputs must have shape (batch ≥ 2, {WIDTH}), got {inputs.shape}")
        rng = np.random.default_rng(seed)
        self.inputs = inputs
        self.kernels = draw_weights("glorot_uniform", MAX_DEPTH, WIDTH, rng)
        probe = rng.standard_normal(inputs.shape)
        self.probe = (probe / np.linalg.norm(probe, axis=1, keepdims=True)).astype("float32")
        self._function = None
        self._summaries = OrderedDict()
        self._cache_size = cache_size

    def activations(self, depth, activation="sigmoid", batchnorm=False):
        """Every layer's activations, (depth, batch, 64), and ‖∂probe/∂W[l]‖, (depth,)."""
        return self._both(depth, activation)[bool(batchnorm)]

    def summary(self, depth, activation="sigmoid", batchnorm=False):
        """The :class:`LayerSummary` of the first ``depth`` layers (remembered once computed)."""
        key = (int(depth), activation, bool(batchnorm))
        if key in self._summaries:
            self._summaries.move_to_end(key)
            return self._summaries[key]
        runs = self._both(depth, activation)  # one run gives both modes: remember both
        for flag in (False, True):
            activations, grad_norms = runs[flag]
            self._summaries[key[:2] + (flag,)] = LayerSummary(
                layer_histograms(activations, VALUE_RANGES[activation]),
                activations.reshape(len(activations), -1).std(axis=1), grad_norms)
        while len(self._summaries) > self._cache_size:
            self._summaries.popitem(last=False)
        return self._summaries[key]

    def clear_cache(self):
        """Forget remembered summaries (benchmarks use it to time real computation)."""
        self._summaries.clear()

    def _both(self, depth, activation):
        """{False: (activations, grad norms) of the plain net, True: of the BN net}."""
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        if isinstance(depth, bool) or int(depth) != depth or not 1 <= depth <= MAX_DEPTH:
            raise ValueError(f"depth must be a whole number in 1..{MAX_DEPTH}, got {depth!r}")
        plain, normalised, plain_grads, normalised_grads = self._compiled()(
            self.kernels[: int(depth)], self.inputs, self.probe, np.int32(ACTIVATIONS.index(activation)))
        return {False: (plain.numpy(), plain_grads.numpy()), True: (normalised.numpy(), normalised_grads.numpy())}

    def _compiled(self):
        if self._function is not None:
            return self._function
        import keras
        import tensorflow as tf

        from gradclinic.profiles import switched_activation

        switched = switched_activation(ACTIVATIONS)
        batch = tf.TensorSpec([None, WIDTH], tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None, WIDTH, WIDTH], tf.float32), batch, batch,
                                      tf.TensorSpec([], tf.int32)])
        def run(kernels, x, probe_direction, activation_index):
            def phi(z):  # the activation chosen at run time: one trace serves all three
                return switched(activation_index, z)

            plain_kernels, normalised_kernels = tf.identity(kernels), tf.identity(kernels)
            with tf.GradientTape() as tape:
                tape.watch([plain_kernels, normalised_kernels])

                def layer(previous, kernel_pair):
                    plain, normalised = previous
                    plain_kernel, normalised_kernel = kernel_pair
                    z = tf.matmul(normalised, normalised_kernel)
                    # BatchNormalization's training-mode computation at γ = 1, β = 0
                    mean, variance = keras.ops.moments(z, axes=[0])
                    z = keras.ops.batch_normalization(z, mean, variance, axis=-1, epsilon=EPSILON)
                    return phi(tf.matmul(plain, plain_kernel)), phi(z)

                plain, normalised = tf.scan(layer, (plain_kernels, normalised_kernels), initializer=(x, x))
                probe = tf.reduce_sum(plain[-1] * probe_direction) + tf.reduce_sum(normalised[-1] * probe_direction)
            plain_grads, normalised_grads = tape.gradient(probe, [plain_kernels, normalised_kernels])
            return plain, normalised, tf.norm(plain_grads, axis=[1, 2]), tf.norm(normalised_grads, axis=[1, 2])

        self._function = run
        return run


SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(value, _position=None):
    """A log-axis tick label as plain text: 1e-05 → "10⁻⁵" (other values in %g)."""
    exponent = np.log10(value) if value > 0 else np.nan
    if np.isfinite(exponent) and np.isclose(exponent, round(exponent)):
        return "10" + str(int(round(exponent))).translate(SUPERSCRIPTS)
    return f"{value:g}"


class BatchNormExplorer(Explorer):
    """Depth 1–100, BN off/on and the activation: the histograms of every layer's activations,
    and the gradient that reaches each layer's kernel with BN off and on."""

    def __init__(self, depth=20, batchnorm=False, activation="sigmoid", inputs=None, seed=0):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

        self.profiler = BatchNormProfiler(inputs=inputs, seed=seed)
        # Fixed axes positions: a layout engine would re-measure every label on every redraw.
        figure = plt.figure(figsize=(10, 3.8), layout="none")
        hist_ax = figure.add_axes((0.065, 0.14, 0.36, 0.74))
        colour_ax = figure.add_axes((0.435, 0.14, 0.012, 0.74))
        grad_ax = figure.add_axes((0.585, 0.14, 0.395, 0.74))
        self.histograms = HistogramPanel(hist_ax)
        figure.colorbar(self.histograms.image, cax=colour_ax, label="fraction of the layer's values")
        (self.plain_line,) = grad_ax.plot([], [], "o-", ms=3, label="without BN")
        (self.batchnorm_line,) = grad_ax.plot([], [], "s-", ms=3, label="with BN")
        grad_ax.set_yscale("log")
        # Plain-text powers of ten: mathtext tick labels cost most of a redraw. And few ticks:
        # each label costs 1–2 ms whenever the axes are drawn anew.
        grad_ax.yaxis.set_major_locator(LogLocator(base=10, numticks=6))
        grad_ax.yaxis.set_major_formatter(FuncFormatter(power_of_ten))
        grad_ax.yaxis.set_minor_formatter(NullFormatter())
        for ax in (hist_ax, grad_ax):
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        hist_ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        grad_ax.set_xlabel("layer l")
        grad_ax.set_ylabel("‖∂probe/∂W[l]‖ (log scale)")
        grad_ax.legend(loc="lower right")
        self.grad_ax = grad_ax
        controls = {
            "depth": widgets.IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth L",
                                       continuous_update=True),
            "batchnorm": widgets.ToggleButtons(options=[("BN off", False), ("BN on", True)],
                                               value=batchnorm, description="layers"),
            "activation": widgets.Dropdown(options=ACTIVATIONS, value=activation, description="φ"),
        }
        super().__init__(figure, controls)
        self.moving(self.histograms.image, hist_ax.title, self.plain_line, self.batchnorm_line, grad_ax.title)
        self.draw(**self.values())
        pin_axis_labels(figure, slack=0)  # the first view has the widest tick labels (10⁻¹⁵)

    def _layer_axis_end(self, depth):
        """Where the layer axes end: the depth's 1-2-5 bucket (5, 10, 20, 50, 100)."""
        return axis_end(depth, MAX_DEPTH)

    def _gradient_limits(self, depth, activation, shown):
        """Whole decades around both nets' gradients at the end of the depth's bucket (the
        deepest net of the bucket spans the widest range) and around the ``shown`` ones."""
        end = self._layer_axis_end(depth)
        at_end = [self.profiler.summary(end, activation, flag).kernel_grad_norms for flag in (False, True)]
        return decade_limits(log_safe(np.concatenate(at_end + shown), floor=FLOAT32_TINY), margin=3)

    def draw(self, depth, batchnorm, activation):
        plain = self.profiler.summary(depth, activation, batchnorm=False)
        normalised = self.profiler.summary(depth, activation, batchnorm=True)
        shown = normalised if batchnorm else plain
        end = self._layer_axis_end(depth)
        self.histograms.show(shown.histograms, VALUE_RANGES[activation], end)
        self.histograms.ax.set_title(f"{activation}, {depth} layers, BN {'on' if batchnorm else 'off'}: "
                                     f"std of layer {depth} = {shown.stds[-1]:.3g}")
        layers = np.arange(1, depth + 1)
        # A gradient that underflowed float32 to exactly 0 is drawn at the bottom, not dropped.
        self.plain_line.set_data(layers, log_safe(plain.kernel_grad_norms, floor=FLOAT32_TINY))
        self.batchnorm_line.set_data(layers, log_safe(normalised.kernel_grad_norms, floor=FLOAT32_TINY))
        self.plain_line.set_linewidth(1.0 if batchnorm else 2.5)
        self.batchnorm_line.set_linewidth(2.5 if batchnorm else 1.0)
        ratios = [s.kernel_grad_norms[0] / s.kernel_grad_norms[-1] for s in (plain, normalised)]
        self.grad_ax.set_title(f"first-layer ÷ last-layer gradient — no BN: {ratios[0]:.2g}, BN: {ratios[1]:.2g}")
        self.grad_ax.set_xlim(0.5, max(end, 2) + 0.5)
        self.grad_ax.set_ylim(*self._gradient_limits(depth, activation,
                                                     [plain.kernel_grad_norms, normalised.kernel_grad_norms]))


# -- lesson 09's Keras side: the deep sigmoid net it trains -----------------------------------
def deep_sigmoid_net(depth=20, width=32, batchnorm=False, n_inputs=WIDTH, n_classes=10):
    """A Keras ``Sequential``: ``depth`` × [Dense(width) → (BatchNormalization) → sigmoid], then
    Dense(n_classes, softmax). Kernels are Keras's default Glorot uniform.

    With ``batchnorm`` the Dense layers have no bias: BN subtracts the batch mean, which would
    cancel any bias, and its β does the bias's job (Ioffe & Szegedy 2015). BN sits between the
    linear map and the sigmoid, so what enters the sigmoid has mean β and std γ per unit.
    """
    import keras

    layers = [keras.Input((n_inputs,))]
    for _ in range(depth):
        layers.append(keras.layers.Dense(width, use_bias=not batchnorm))
        if batchnorm:
            layers.append(keras.layers.BatchNormalization())
        layers.append(keras.layers.Activation("sigmoid"))
    layers.append(keras.layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(layers, name=f"sigmoid{depth}_{'bn' if batchnorm else 'plain'}")


def sigmoid_outputs(model, x):
    """Every sigmoid layer's output for ``x``, (layers, batch, width), in inference mode."""
    import keras

    taps = [layer.output for layer in model.layers if isinstance(layer, keras.layers.Activation)]
    return np.stack([np.asarray(a) for a in keras.Model(model.inputs, taps)(np.asarray(x, "float32"),
                                                                              training=False)])


def batchnorm_layers(model):
    """The ``BatchNormalization`` layers of ``model``, input side first."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
