"""What each layer of a deep MLP does to a batch at initialisation, computed for the explorers that
draw it (:mod:`gradclinic.explorers`).

- :class:`SignalPropagation`: the mean and the variance of every layer's activations, for several
  activations, initializers and inputs (lesson 10).

The net is ``depth`` Dense layers of ``width`` units without biases (Keras's biases start at
0), on one fixed batch of digits: layer 1 maps the 64 pixels to ``width`` units, every other
layer is square. Weights come from Keras's own initializers (truncation included), one stack of
``max_depth`` kernels per initializer, drawn once and shared by every activation and input
choice. The forward pass is NumPy in float64 (an exploding net shows as huge numbers before it
overflows); each configuration is computed once for ``max_depth`` layers and the statistics of
a shallower net are a prefix of it, so moving the depth slider computes nothing.

SELU is not written here (it is lesson 10's exercise): :class:`SignalPropagation` takes the
learner's ``selu``, or uses Keras's own (:func:`keras_selu`) by default.
"""

import numpy as np

# -- lesson 10: mean and variance through a deep MLP at initialisation -------------------------
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
