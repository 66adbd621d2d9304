"""What each layer of a deep MLP does to a batch at initialisation, computed for the explorers that
draw it (:mod:`gradclinic.explorers`).

- :class:`BatchNormProfiler`: every layer's activations (as histograms) and the gradient that
  reaches its kernel, with and without Batch Normalization (lesson 09).
- :class:`SignalPropagation`: the mean and the variance of every layer's activations, for several
  activations, initializers and inputs (lesson 10).
"""

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from gradclinic.models import DIGIT_PIXELS

# -- lesson 09: a deep MLP's layers with and without Batch Normalization ---------------------
# The net is ``depth`` square Dense layers (Glorot-uniform kernels, Keras's default; no biases,
# they are zero at initialisation) on one batch of 128 digits. Without BN, layer l computes
# a[l] = φ(a[l−1] W[l]); with BN, a[l] = φ(BN(a[l−1] W[l])). The probe loss is Σ g·a[L] for a
# fixed random g, as in :mod:`gradclinic.profiles`, so the gradients show how the net itself
# carries them back.
#
# How BN is computed: a ``tf.scan`` over the layers calls, between the matmul and φ, the two
# Keras ops that ``keras.layers.BatchNormalization`` calls in training mode
# (``keras.ops.moments``, then ``keras.ops.batch_normalization``) with γ = 1 and β = 0, the
# layer's initial weights. On one batch at initialisation that *is* the layer (the tests check
# it against real ``BatchNormalization`` layers); moving averages play no part, so nothing here
# shows how they are kept. One compiled function runs the plain net and the BN net side by side
# in one scan, for any depth and any of the three activations (picked at run time by
# ``tf.switch_case``, so that it is traced once, about 0.8 s, not once per activation and mode,
# which made the first move to another activation take half a second); a per-layer
# ``keras.Model`` would retrace on every slider move. :class:`gradclinic.profiles.MLPProfiler`
# computes the plain case too, but runs about half as fast here because it also returns what
# the explorer does not draw.
BN_MAX_DEPTH = 100
BN_WIDTH = DIGIT_PIXELS  # so that the first layer is square too
BN_BATCH = 128
BN_EPSILON = 1e-3  # keras.layers.BatchNormalization's default
BN_ACTIVATIONS = ("sigmoid", "tanh", "relu")
HISTOGRAM_BINS = 40
# The value axis of each activation's histograms; ReLU values beyond 3 land in the top bin.
HISTOGRAM_VALUE_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, 3.0)}


def layer_histograms(activations, value_range, bins=HISTOGRAM_BINS):
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


@dataclass(frozen=True)
class LayerSummary:
    """What the explorer draws for one net, layer by layer (index 0 = first layer).

    ``histograms``: (depth, HISTOGRAM_BINS) fractions of each layer's activations per bin;
    ``stds``: (depth,) standard deviation of each layer's activations;
    ``kernel_grad_norms``: (depth,) ‖∂probe/∂W[l]‖, input side first.
    """

    histograms: np.ndarray
    stds: np.ndarray
    kernel_grad_norms: np.ndarray


class BatchNormProfiler:
    """Activations and kernel gradients, layer by layer, of the explorer's net, BN off or on.

    ``inputs``: (batch, 64), the batch the net sees (default: 128 training digits from
    :func:`gradclinic.data.load_digits`). One stack of ``BN_MAX_DEPTH`` Glorot-uniform kernels
    is drawn once from ``seed``; depth L uses its first L.
    """

    def __init__(self, inputs=None, seed=0, cache_size=1024):
        from gradclinic.profiles import draw_weights

        if inputs is None:
            from gradclinic.data import load_digits

            inputs = load_digits(rng=np.random.default_rng(seed)).x_train[:BN_BATCH]
        inputs = np.asarray(inputs, "float32")
        if inputs.ndim != 2 or inputs.shape[1] != BN_WIDTH or len(inputs) < 2:
            raise ValueError(f"inputs must have shape (batch ≥ 2, {BN_WIDTH}), got {inputs.shape}")
        rng = np.random.default_rng(seed)
        self.inputs = inputs
        self.kernels = draw_weights("glorot_uniform", BN_MAX_DEPTH, BN_WIDTH, rng)
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
                layer_histograms(activations, HISTOGRAM_VALUE_RANGES[activation]),
                activations.reshape(len(activations), -1).std(axis=1), grad_norms)
        while len(self._summaries) > self._cache_size:
            self._summaries.popitem(last=False)
        return self._summaries[key]

    def clear_cache(self):
        """Forget remembered summaries (benchmarks use it to time real computation)."""
        self._summaries.clear()

    def _both(self, depth, activation):
        """{False: (activations, grad norms) of the plain net, True: of the BN net}."""
        if activation not in BN_ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(BN_ACTIVATIONS)}, got {activation!r}")
        if isinstance(depth, bool) or int(depth) != depth or not 1 <= depth <= BN_MAX_DEPTH:
            raise ValueError(f"depth must be a whole number in 1..{BN_MAX_DEPTH}, got {depth!r}")
        plain, normalised, plain_grads, normalised_grads = self._compiled()(
            self.kernels[: int(depth)], self.inputs, self.probe, np.int32(BN_ACTIVATIONS.index(activation)))
        return {False: (plain.numpy(), plain_grads.numpy()), True: (normalised.numpy(), normalised_grads.numpy())}

    def _compiled(self):
        if self._function is not None:
            return self._function
        import keras
        import tensorflow as tf

        from gradclinic.profiles import switched_activation

        switched = switched_activation(BN_ACTIVATIONS)
        batch = tf.TensorSpec([None, BN_WIDTH], tf.float32)

        @tf.function(input_signature=[tf.TensorSpec([None, BN_WIDTH, BN_WIDTH], tf.float32), batch, batch,
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
                    z = keras.ops.batch_normalization(z, mean, variance, axis=-1, epsilon=BN_EPSILON)
                    return phi(tf.matmul(plain, plain_kernel)), phi(z)

                plain, normalised = tf.scan(layer, (plain_kernels, normalised_kernels), initializer=(x, x))
                probe = tf.reduce_sum(plain[-1] * probe_direction) + tf.reduce_sum(normalised[-1] * probe_direction)
            plain_grads, normalised_grads = tape.gradient(probe, [plain_kernels, normalised_kernels])
            return plain, normalised, tf.norm(plain_grads, axis=[1, 2]), tf.norm(normalised_grads, axis=[1, 2])

        self._function = run
        return run


# -- lesson 10: mean and variance through a deep MLP at initialisation -------------------------
# The net is ``depth`` Dense layers of ``width`` units without biases (Keras's biases start at
# 0), on one fixed batch of digits: layer 1 maps the 64 pixels to ``width`` units, every other
# layer is square. Weights come from Keras's own initializers (truncation included), one stack of
# ``max_depth`` kernels per initializer, drawn once and shared by every activation and input
# choice. The forward pass is NumPy in float64 (an exploding net shows as huge numbers before it
# overflows); each configuration is computed once for ``max_depth`` layers and the statistics of
# a shallower net are a prefix of it, so moving the depth slider computes nothing.
#
# SELU is not written here (it is lesson 10's exercise): :class:`SignalPropagation` takes the
# learner's ``selu``, or uses Keras's own (:func:`keras_selu`) by default.
SNN_MAX_DEPTH = 100
SNN_WIDTH = 100  # the hidden width of the SNN recipe lesson 10 tests
SNN_BATCH = 256
SNN_INITIALIZERS = ("lecun_normal", "glorot_uniform", "he_normal", "standard_normal")


def keras_selu(x):
    """Keras's SELU on a NumPy array, as a NumPy array (the default SELU of :class:`SignalPropagation`)."""
    import keras

    return np.asarray(keras.ops.convert_to_numpy(keras.activations.selu(np.asarray(x))))


def numpy_activations(selu=None):
    """Name → NumPy function for the activations :class:`SignalPropagation` knows; ``selu`` defaults to Keras's."""
    return {"selu": keras_selu if selu is None else selu, "relu": lambda z: np.maximum(z, 0.0), "tanh": np.tanh}


def draw_kernels(initializer, n_inputs, width, depth, rng):
    """``depth`` kernels, the first (n_inputs, width), the rest (width, width), as float64 arrays.

    Keras's initializers are seeded from ``rng`` layer by layer; ``standard_normal`` is N(0, 1).
    """
    shapes = [(n_inputs, width)] + [(width, width)] * (depth - 1)
    if initializer == "standard_normal":
        return [rng.standard_normal(shape) for shape in shapes]
    if initializer not in SNN_INITIALIZERS:
        raise ValueError(f"initializer must be one of {', '.join(SNN_INITIALIZERS)}, got {initializer!r}")
    import keras

    seeds = rng.integers(2**31, size=depth)
    return [np.asarray(keras.initializers.get({"class_name": initializer, "config": {"seed": int(s)}})(shape),
                       dtype=float) for s, shape in zip(seeds, shapes)]


class SignalPropagation:
    """Per-layer mean and variance of a deep MLP's activations at initialisation.

    ``inputs``: name → (examples, 64) array, e.g. ``{"standardized": …, "raw": …}``; the first
    ``batch`` rows are used. ``selu``: the SELU to use (default Keras's).
    """

    def __init__(self, inputs, selu=None, width=SNN_WIDTH, max_depth=SNN_MAX_DEPTH, batch=SNN_BATCH, seed=0):
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
            rng = np.random.default_rng([self.seed, SNN_INITIALIZERS.index(initializer)])
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
