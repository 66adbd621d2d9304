"""Per-layer profiles of a deep MLP at initialisation: what each layer's activations look like
and how large the gradient is that reaches it. Explorers of several lessons draw from here.

The forward and backward passes run as one compiled TensorFlow function over a stack of
weight matrices (``tf.scan``), traced once per activation and reused for every depth, so a
slider move costs milliseconds. Activations come from ``keras.activations`` (lesson 06's tanh
from ``tf.tanh``) and gradients from automatic differentiation: nothing here hand-codes a
derivative. Two profiles are NumPy instead: lesson 01's deep *linear* net
(:class:`DeepLinearSignals`), whose norms are plain matrix products, and lesson 04's forward-only
activations (:class:`LayerActivations`, with :func:`layer_histograms`), a few milliseconds on one
BLAS thread.
"""

import itertools
from dataclasses import dataclass

import numpy as np

from gradclinic.models import SMALL_SCALE
from gradclinic.runtime import one_blas_thread

WEIGHT_SCHEMES = ("lecun_normal", "glorot_normal", "he_normal", "glorot_uniform", "he_uniform",
                  "lecun_uniform", "standard_normal", "uniform_inv_sqrt_n", "orthogonal")


@dataclass(frozen=True)
class Profile:
    """What one random deep MLP does to one batch, layer by layer (index 0 = first hidden layer).

    ``activations``: (depth, batch, width) post-activation values a[l].
    ``preactivations``: (depth, batch, width) z[l] = W[l] a[l−1] + b[l].
    ``kernel_grad_norms``: (depth,) ‖∂loss/∂W[l]‖ (Frobenius), input side first.
    The loss is Σ g·a[depth] for a fixed random g of unit norm per example, so the profile
    shows how the net itself propagates gradients, independent of any particular loss.
    """

    activations: np.ndarray
    preactivations: np.ndarray
    kernel_grad_norms: np.ndarray

    @property
    def activation_stds(self):
        """(depth,) standard deviation of each layer's activations."""
        return self.activations.reshape(len(self.activations), -1).std(axis=1)

    @property
    def activation_means(self):
        """(depth,) mean of each layer's activations."""
        return self.activations.reshape(len(self.activations), -1).mean(axis=1)


def draw_weights(scheme, depth, width, rng, gain=1.0):
    """A (depth, width, width) stack of square weight matrices drawn with ``scheme``.

    Keras's schemes use Keras's own initializers (seeded from ``rng``), truncation included;
    ``standard_normal`` is N(0, 1); ``uniform_inv_sqrt_n`` is U[−1/√n, 1/√n], the classic
    heuristic Glorot & Bengio (2010) studied. ``gain`` multiplies every weight.
    """
    if scheme not in WEIGHT_SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(WEIGHT_SCHEMES)}, got {scheme!r}")
    if scheme == "standard_normal":
        stack = rng.standard_normal((depth, width, width))
    elif scheme == "uniform_inv_sqrt_n":
        stack = rng.uniform(-1, 1, (depth, width, width)) / np.sqrt(width)
    else:
        import keras

        # A seeded Keras initializer repeats its draw, and one call for a 3-D stack would see
        # other fans: one initializer per layer, each with its own seed from rng.
        seeds = rng.integers(2**31, size=depth)
        stack = np.stack([np.asarray(keras.initializers.get({"class_name": scheme, "config": {"seed": int(s)}})(
            (width, width))) for s in seeds])
    return (gain * stack).astype("float32")


def _inputs_and_upstream(rng, batch, width):
    """A standard-normal input batch and, per example, the fixed random g of unit norm that the
    profiles' loss Σ g·a[L] uses; both float32, drawn from ``rng`` in that order."""
    inputs = rng.standard_normal((batch, width)).astype("float32")
    upstream = rng.standard_normal((batch, width))
    return inputs, (upstream / np.linalg.norm(upstream, axis=1, keepdims=True)).astype("float32")


class MLPProfiler:
    """Compute :class:`Profile` s for square deep MLPs of one ``width`` and ``batch`` size.

    One instance holds the compiled functions; keep it and call :meth:`profile` for every
    slider move. ``residual=True`` adds each layer's input to its output (a[l] = a[l−1] + φ(z)).
    """

    def __init__(self, width=64, batch=128, seed=0):
        import tensorflow as tf

        self.width, self.batch = width, batch
        self.inputs, self.upstream = _inputs_and_upstream(np.random.default_rng(seed), batch, width)
        self._functions = {}
        self._tf = tf

    def _compiled(self, activation, residual):
        key = (activation, residual)
        if key not in self._functions:
            import keras

            tf = self._tf
            phi = keras.activations.get(activation)
            spec = [tf.TensorSpec([None, self.width, self.width], tf.float32),
                    tf.TensorSpec([None, self.width], tf.float32)]

            @tf.function(input_signature=spec + [tf.TensorSpec([None, self.width], tf.float32)] * 2,
                         reduce_retracing=True)
            def run(kernels, biases, x, upstream):
                with tf.GradientTape() as tape:
                    tape.watch(kernels)

                    def layer(carry, weights):
                        kernel, bias = weights
                        z = tf.matmul(carry[0], kernel) + bias
                        a = phi(z) + (carry[0] if residual else 0.0)
                        return a, z

                    activations, preactivations = tf.scan(layer, (kernels, biases),
                                                          initializer=(x, tf.zeros_like(x)))
                    loss = tf.reduce_sum(activations[-1] * upstream)
                # (∂loss/∂a[l] is not asked of the tape: the stacked scan output holds only the
                # loss's direct use of a[L], not the path through later layers.)
                kernel_grads = tape.gradient(loss, kernels)
                return activations, preactivations, tf.sqrt(tf.reduce_sum(tf.square(kernel_grads), axis=[1, 2]))

            self._functions[key] = run
        return self._functions[key]

    def profile(self, kernels, activation="tanh", biases=None, residual=False, inputs=None):
        """Profile the MLP whose layer l computes φ(a[l−1] @ kernels[l] + biases[l]).

        ``kernels``: (depth, width, width); ``biases``: (depth, width) or None for zeros;
        ``inputs``: (batch, width) or None for the profiler's standard-normal batch.
        """
        kernels = np.asarray(kernels, dtype="float32")
        if kernels.ndim != 3 or kernels.shape[1:] != (self.width, self.width) or len(kernels) == 0:
            raise ValueError(f"kernels must have shape (depth ≥ 1, {self.width}, {self.width}), got {kernels.shape}")
        biases = np.zeros(kernels.shape[:2], "float32") if biases is None else np.asarray(biases, "float32")
        x = self.inputs if inputs is None else np.asarray(inputs, "float32")
        activations, pre, kernel_grads = self._compiled(activation, residual)(kernels, biases, x,
                                                                               self.upstream[: len(x)])
        return Profile(activations.numpy(), pre.numpy(), kernel_grads.numpy())


def switched_activation(names):
    """``phi(index, z)``: the Keras activation ``names[index]`` applied to ``z``, chosen inside a
    compiled function by ``tf.switch_case``, so one trace serves every activation and only the
    chosen one runs."""
    import keras
    import tensorflow as tf

    functions = [keras.activations.get(name) for name in names]

    def phi(index, z):
        return tf.switch_case(index, [lambda f=function: f(z) for function in functions])

    return phi


class SwitchedProfile:
    """:meth:`MLPProfiler.profile <gradclinic.profiles.MLPProfiler.profile>` with zero biases,
    compiled once for all ``activations``: which one the layers apply is an argument of the
    compiled function (``tf.switch_case``), so moving to another activation costs one pass, not
    a trace (≈ 0.5 s). Only the chosen activation runs, so the activations and kernel-gradient
    norms are bit for bit the profiler's. Calling it returns ``(activations, kernel_grad_norms)``
    as NumPy arrays of shapes (depth, batch, width) and (depth,).
    """

    def __init__(self, profiler, activations):
        import tensorflow as tf

        self.activations = tuple(activations)
        phi = switched_activation(self.activations)
        inputs, upstream = tf.constant(profiler.inputs), tf.constant(profiler.upstream)
        width = profiler.width

        @tf.function(input_signature=[tf.TensorSpec([None, width, width], tf.float32),
                                      tf.TensorSpec([], tf.int32)])
        def run(kernels, chosen):
            with tf.GradientTape() as tape:
                tape.watch(kernels)

                def layer(a, kernel):
                    z = tf.matmul(a, kernel)
                    return phi(chosen, z)

                outputs = tf.scan(layer, kernels, initializer=inputs)
                loss = tf.reduce_sum(outputs[-1] * upstream)  # the profiler's unit-gradient loss
            kernel_grads = tape.gradient(loss, kernels)
            return outputs, tf.sqrt(tf.reduce_sum(tf.square(kernel_grads), axis=[1, 2]))

        self._run, self._tf = run, tf

    def __call__(self, kernels, activation):
        outputs, norms = self._run(np.asarray(kernels, "float32"),
                                   self._tf.constant(self.activations.index(activation), self._tf.int32))
        return outputs.numpy(), norms.numpy()


# -- lesson 01: a deep linear net, its signal forward and its gradient backward (NumPy) -------------
class DeepLinearSignals:
    """Forward activation norms and backward gradient norms of a deep linear net of ``width``
    units and up to ``max_depth`` layers, every layer W = scale · M.

    ``weights="identity"`` makes every M the identity (lesson 01's C = scale·I);
    ``"gaussian"`` draws fixed M with entries N(0, 1/width) once, from ``rng``.
    """

    def __init__(self, rng, max_depth, width=32):
        self.width, self.max_depth = width, max_depth
        x = rng.normal(size=width)
        self.x = x / np.linalg.norm(x)  # unit input: every norm below is a pure growth factor
        upstream = rng.normal(size=width)
        self.upstream = upstream / np.linalg.norm(upstream)
        self.matrices = {
            "identity": np.broadcast_to(np.eye(width), (max_depth, width, width)),
            "gaussian": rng.normal(scale=1 / np.sqrt(width), size=(max_depth, width, width)),
        }
        # Forward norms with scale 1, once: with W = scale·M, ‖a[l]‖ = scale^l · ‖M_l…M_1 x‖. The
        # identity leaves the unit input as it is; the Gaussian products M_l…M_1 x accumulate.
        products = itertools.accumulate(self.matrices["gaussian"], lambda a, m: m @ a, initial=self.x)
        self._unit_forward = {"identity": np.full(max_depth, np.linalg.norm(self.x)),
                              "gaussian": np.array([np.linalg.norm(a) for a in products][1:])}

    def activation_norms(self, depth, scale, weights="identity"):
        """‖a[l]‖ for l = 1..depth, shape (depth,), for a unit-norm input."""
        self._check(depth, weights)
        return scale ** np.arange(1, depth + 1) * self._unit_forward[weights][:depth]

    def gradient_norms(self, depth, scale, weights="identity"):
        """‖∂loss/∂a[l]‖ for l = 1..depth, shape (depth,), when ∂loss/∂a[depth] is a unit vector."""
        self._check(depth, weights)
        matrices = self.matrices[weights]
        delta, norms = self.upstream, np.empty(depth)
        norms[depth - 1] = 1.0
        for layer in range(depth - 1, 0, -1):  # through W[l+1]ᵀ, from the output back to layer 1
            delta = matrices[layer].T @ delta
            norms[layer - 1] = np.linalg.norm(delta)
        return norms * scale ** (depth - np.arange(1, depth + 1))

    def _check(self, depth, weights):
        if weights not in self.matrices:
            raise ValueError(f"weights must be one of {sorted(self.matrices)}, got {weights!r}")
        if not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must lie in 1..{self.max_depth}, got {depth}")


# -- lesson 02: the causes, each activation with Keras's default weights and with N(0, 1) ------------
CAUSES_ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
CAUSES_WEIGHT_SCHEMES = ("glorot_uniform", "standard_normal")  # Keras's default, and N(0, 1)


class CausesProfiles:
    """Kernel-gradient norms per layer of a square MLP (``width`` units) at initialisation, for
    each of :data:`CAUSES_ACTIVATIONS` and :data:`CAUSES_WEIGHT_SCHEMES`, at any depth.

    The weight stacks are drawn once (``max_depth`` layers per scheme, from ``rng``); a net of
    depth L uses the first L of them, so moving the depth slider adds or removes layers
    without redrawing the others. :class:`SwitchedProfile` compiles :class:`MLPProfiler`'s pass
    once for every activation, and each profile is computed once and kept (all of them together
    are at most 8 · ``max_depth`` arrays of ≤ ``max_depth`` numbers).
    """

    def __init__(self, rng, max_depth, width=64):
        self.width, self.max_depth = width, max_depth
        self.profiler = MLPProfiler(width=width, batch=128, seed=0)
        self.kernels = {scheme: draw_weights(scheme, max_depth, width, rng) for scheme in CAUSES_WEIGHT_SCHEMES}
        self._profile = SwitchedProfile(self.profiler, CAUSES_ACTIVATIONS)
        self._norms = {}

    def kernel_gradient_norms(self, depth, activation, weights="glorot_uniform"):
        """(depth,) ‖∂loss/∂W[l]‖ for l = 1..depth at initialisation, input side first.

        The loss is averaged over the profiler's batch of 128 standard-normal inputs: the mean of
        a[L]·u over the batch, u a fixed random unit vector per input (the profiler's loss, which
        sums, divided by the batch size). Averaged, as Keras's losses are, so that the norms have
        the scale ``diagnose``'s absolute ``explode_at`` is meant for."""
        if activation not in CAUSES_ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(CAUSES_ACTIVATIONS)}, got {activation!r}")
        if weights not in self.kernels:
            raise ValueError(f"weights must be one of {', '.join(CAUSES_WEIGHT_SCHEMES)}, got {weights!r}")
        if not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must lie in 1..{self.max_depth}, got {depth}")
        key = (int(depth), activation, weights)
        if key not in self._norms:
            _, norms = self._profile(self.kernels[weights][: int(depth)], activation)
            # The profiler's loss sums over its batch; Keras's losses average over it, and so
            # does this one: explode_at is an absolute bound, meant for an averaged loss.
            self._norms[key] = norms.astype(float) / self.profiler.batch
        return self._norms[key].copy()


# -- lesson 03: the ReLU family beside sigmoid and tanh, gradients and unit activity ------------------
RELU_FAMILY_ACTIVATIONS = ("relu", "leaky_relu", "elu", "sigmoid", "tanh")
# Keras's default, and the ReLU-aware one (lesson 04)
RELU_FAMILY_WEIGHT_SCHEMES = ("glorot_uniform", "he_normal")


@dataclass(frozen=True)
class LayerStats:
    """Per hidden layer of one net (index 0 = first hidden layer), all of shape (depth,).

    ``kernel_grad_norms``: ‖∂loss/∂W[l]‖ (Frobenius), the size of what gradient descent would
    change layer l by. ``active_fraction``: share of (example, unit) pairs whose output is > 0.
    ``dead_fraction``: share of units whose output is exactly 0 for every example of the batch.
    The arrays are read-only: :class:`ActivationProfiles` keeps and shares them.
    """

    kernel_grad_norms: np.ndarray
    active_fraction: np.ndarray
    dead_fraction: np.ndarray

    @property
    def spread(self):
        """Largest over smallest kernel-gradient norm across layers (inf when one underflowed to 0)."""
        smallest = self.kernel_grad_norms.min()
        return float(self.kernel_grad_norms.max() / smallest) if smallest > 0 else float("inf")


class ActivationProfiles:
    """:class:`LayerStats` of square MLPs (zero biases) for any depth ≤ ``max_depth``, any of
    :data:`RELU_FAMILY_ACTIVATIONS` and :data:`RELU_FAMILY_WEIGHT_SCHEMES`. Each scheme's stack
    of ``max_depth`` matrices is drawn once; a depth-L net uses its first L. One instance holds
    the compiled profiler (:class:`SwitchedProfile`: one pass for all five activations), the
    weight stacks and every net's statistics computed so far (at most 10 · ``max_depth`` nets of
    ≤ ``max_depth`` layers): keep it."""

    def __init__(self, rng, width=64, batch=128, max_depth=100):
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng must be a numpy.random.Generator (numpy.random.default_rng(seed))")
        self.max_depth = max_depth
        self.profiler = MLPProfiler(width=width, batch=batch, seed=int(rng.integers(2**31)))
        self.weights = {scheme: draw_weights(scheme, max_depth, width, rng) for scheme in RELU_FAMILY_WEIGHT_SCHEMES}
        self._profile = SwitchedProfile(self.profiler, RELU_FAMILY_ACTIVATIONS)
        self._stats = {}

    def stats(self, depth, activation="relu", weights="glorot_uniform"):
        """Per-layer gradient norms and unit activity of the ``depth``-layer net."""
        if activation not in RELU_FAMILY_ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(RELU_FAMILY_ACTIVATIONS)}, got {activation!r}")
        if weights not in self.weights:
            raise ValueError(f"weights must be one of {', '.join(self.weights)}, got {weights!r}")
        if isinstance(depth, bool) or int(depth) != depth or not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must be a whole number in 1..{self.max_depth}, got {depth!r}")
        key = (int(depth), activation, weights)
        if key not in self._stats:
            outputs, norms = self._profile(self.weights[weights][: int(depth)], activation)  # (depth, batch, width)
            parts = (norms.astype(float), (outputs > 0).mean(axis=(1, 2)), np.all(outputs == 0, axis=1).mean(axis=1))
            for part in parts:
                part.setflags(write=False)  # kept and shared: nobody may change them
            self._stats[key] = LayerStats(*parts)
        return self._stats[key]


# -- lesson 04: every layer's activations, by initializer, gain and activation (NumPy) ---------------
INITIALIZATION_SCHEMES = ("uniform_inv_sqrt_n", "glorot_uniform", "glorot_normal", "lecun_normal", "he_normal",
                          "standard_normal")
# Forward only (no derivatives): the same functions as keras.activations, on NumPy arrays.
NUMPY_ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),  # = 1/(1+e^−z), without overflow warnings
    "linear": lambda z: z,
}
HISTOGRAM_BINS = 61


class LayerActivations:
    """Every layer's activations of a square MLP (``width`` units, no biases) on a fixed batch of
    ``batch`` standard-normal inputs, for any depth ≤ ``max_depth``, gain, scheme of
    :data:`INITIALIZATION_SCHEMES` and activation of :data:`NUMPY_ACTIVATIONS`: layer l computes
    a[l] = φ(a[l−1] @ (gain · W[l])). Each scheme's weights are drawn once, on first use.

    It gives the activations only: their standard deviation per layer is lesson 04's exercise
    (``activation_stds``), so the explorer takes it from these itself."""

    def __init__(self, rng, max_depth, width=64, batch=256):
        self.width, self.batch, self.max_depth = width, batch, max_depth
        self.rng = rng
        self.inputs = rng.standard_normal((batch, width))
        self._kernels = {}

    def kernels(self, scheme):
        """(max_depth, width, width) weights of ``scheme`` with gain 1, drawn on first use only."""
        if scheme not in INITIALIZATION_SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(INITIALIZATION_SCHEMES)}, got {scheme!r}")
        if scheme not in self._kernels:
            self._kernels[scheme] = draw_weights(scheme, self.max_depth, self.width, self.rng).astype(float)
        return self._kernels[scheme]

    def activations(self, depth, gain, scheme, activation):
        """(depth, batch, width) a[l] for l = 1..depth (index 0 is the first hidden layer)."""
        return self.activations_at_gains(depth, [gain], scheme, activation)[0]

    def activations_at_gains(self, depth, gains, scheme, activation, rows=None):
        """(len(gains), depth, rows, width): :meth:`activations` for several gains, side by side in
        one pass of stacked batches (of the first ``rows`` inputs only, if given)."""
        if activation not in NUMPY_ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(NUMPY_ACTIVATIONS)}, got {activation!r}")
        if not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must lie in 1..{self.max_depth}, got {depth}")
        phi, kernels = NUMPY_ACTIVATIONS[activation], self.kernels(scheme)
        gains = np.asarray(gains, dtype=float)[:, None, None]
        inputs = self.inputs[:rows]
        layers = np.empty((len(gains), depth, *inputs.shape))
        a = np.broadcast_to(inputs, (len(gains), *inputs.shape))
        # One BLAS thread: the matrices are small, and OpenBLAS's threads thrash on a busy machine
        # (ten times slower on two shared cores). An exploding net overflows: shown as such.
        with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
            for layer in range(depth):
                a = phi(a @ (gains * kernels[layer]))
                layers[:, layer] = a
        return layers


def layer_histograms(layers, bins=HISTOGRAM_BINS, value_range=None):
    """Histograms of every layer on one shared value range.

    ``layers``: (depth, …) activations. Returns (counts (depth, bins) as fractions of each
    layer's values, bin edges (bins + 1,)). The range is ``value_range`` (low, high), by
    default the 0.1–99.9 % quantiles of all layers together, so a layer whose values shrink
    shows as a narrow spike beside wider ones. Values outside the range, and non-finite ones,
    are left out; as in ``np.histogram``, the last bin includes its upper edge.
    """
    depth = len(layers)
    values = layers.reshape(depth, -1)
    if value_range is None:
        finite = values[np.isfinite(values)]
        low, high = (np.quantile(finite, [0.001, 0.999]) if finite.size else (-1.0, 1.0))
    else:
        low, high = value_range
    if not high > low:
        low, high = low - 1.0, high + 1.0
    edges = np.linspace(low, high, bins + 1)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = values - low
        scaled *= bins / (high - low)
        scaled[scaled == bins] = bins - 1  # the value ``high`` itself: the last bin
        inside = (scaled >= 0) & (scaled < bins)  # False for NaN
        scaled += (np.arange(depth) * bins)[:, None]  # each layer's bins in one run of bincount
        index = scaled.astype(np.intp)
    index[~inside] = depth * bins  # values left out go to one extra bin, dropped
    counts = np.bincount(index.ravel(), minlength=depth * bins + 1)[:-1]
    return counts.reshape(depth, bins) / values.shape[1], edges


# -- lesson 06: plain and residual tanh nets side by side, the gradient at each layer's output ------
class StackProfiles:
    """‖∂loss/∂a[l]‖ per layer of a square tanh MLP (``width`` units) at any depth, plain or
    residual, for one fixed stack of small weights (``max_depth`` layers drawn once; a net of
    depth L uses the first L). The loss is Σ g·a[L] for a fixed random g of unit norm per
    example, so the profile shows how the net itself carries gradients. Each profile is
    computed once and kept (at most ``max_depth`` pairs of ≤ ``max_depth`` numbers)."""

    def __init__(self, rng, max_depth, width=64, batch=128, scale=SMALL_SCALE):
        self.width, self.max_depth = width, max_depth
        self.kernels = (rng.standard_normal((max_depth, width, width)) * np.sqrt(scale / width)).astype("float32")
        self.inputs, self.upstream = _inputs_and_upstream(rng, batch, width)
        self._run = self._compiled()
        self._norms = {}

    def _compiled(self):
        """One function for both nets, side by side in the batch: copy 0 plain, copy 1 residual."""
        import tensorflow as tf

        skip = tf.constant([0.0, 1.0])[:, None, None]  # × a: no skip in the plain copy, the identity in the other
        inputs, upstream = tf.constant(np.stack([self.inputs] * 2)), tf.constant(np.stack([self.upstream] * 2))

        @tf.function(input_signature=[tf.TensorSpec([None, self.width, self.width], tf.float32)])
        def run(kernels):
            # A zero probe is added to every layer's output: ∂loss/∂probe[l] = ∂loss/∂a[l].
            probes = tf.zeros(tf.concat([tf.shape(kernels)[:1], tf.shape(inputs)], axis=0))
            with tf.GradientTape() as tape:
                tape.watch(probes)

                def layer(a, weights):
                    kernel, probe = weights
                    return tf.tanh(tf.matmul(a, kernel)) + skip * a + probe

                outputs = tf.scan(layer, (kernels, probes), initializer=inputs)
                loss = tf.reduce_sum(outputs[-1] * upstream)
            return tf.sqrt(tf.reduce_sum(tf.square(tape.gradient(loss, probes)), axis=[2, 3]))  # (depth, 2)

        return run

    def gradient_norms(self, depth, residual):
        """(depth,) ‖∂loss/∂a[l]‖ for l = 1..depth, input side first."""
        if not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must lie in 1..{self.max_depth}, got {depth}")
        if int(depth) not in self._norms:  # both nets at once: the explorer draws both
            self._norms[int(depth)] = self._run(self.kernels[: int(depth)]).numpy().T
        return self._norms[int(depth)][int(bool(residual))].copy()
