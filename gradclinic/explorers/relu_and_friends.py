"""Lesson 03's explorer: layer by layer through a deep MLP at initialisation, how large the
gradient of each layer's weights is and how many of its units are switched on, for the ReLU
family beside sigmoid and tanh.

The networks are square (width 64) with zero biases, fed a fixed standard-normal batch; each
weight scheme draws one stack of 100 matrices once, and a depth-L net uses its first L, so
moving the depth slider adds or removes layers at the output end and changes nothing else.
Gradients come from :class:`gradclinic.profiles.MLPProfiler`'s forward and backward pass
(compiled TensorFlow, automatic differentiation), compiled once for all five activations
(:class:`~gradclinic.profiles.SwitchedProfile`); each net's statistics are computed
once and kept, so a slider move costs at most one pass.
"""

from dataclasses import dataclass

import numpy as np

from gradclinic.plots import axis_end, bucket_depths, decade_limits, fast_log_axis, log_safe
from gradclinic.profiles import MLPProfiler, SwitchedProfile, draw_weights
from gradclinic.widgets import Explorer

ACTIVATIONS = ("relu", "leaky_relu", "elu", "sigmoid", "tanh")
WEIGHT_SCHEMES = ("glorot_uniform", "he_normal")  # Keras's default, and the ReLU-aware one (lesson 04)
MAX_DEPTH = 100
WIDTH = 64
BATCH = 128
FLOAT32_TINIEST = 1e-45  # float32's smallest subnormal: a gradient below it is stored as exactly 0


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
    """:class:`LayerStats` of square MLPs for any depth ≤ ``max_depth``, activation and weight
    scheme. One instance holds the compiled profiler, the weight stacks and every net's
    statistics computed so far (at most 1000 nets of ≤ 100 layers): keep it."""

    def __init__(self, rng, width=WIDTH, batch=BATCH, max_depth=MAX_DEPTH):
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng must be a numpy.random.Generator (numpy.random.default_rng(seed))")
        self.max_depth = max_depth
        self.profiler = MLPProfiler(width=width, batch=batch, seed=int(rng.integers(2**31)))
        self.weights = {scheme: draw_weights(scheme, max_depth, width, rng) for scheme in WEIGHT_SCHEMES}
        self._profile = SwitchedProfile(self.profiler, ACTIVATIONS)
        self._stats = {}

    def stats(self, depth, activation="relu", weights="glorot_uniform"):
        """Per-layer gradient norms and unit activity of the ``depth``-layer net."""
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
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


class ReluProfileExplorer(Explorer):
    """Depth 1–100, activation and weight-scheme controls over two panels: the kernel-gradient
    norm per layer (log scale) and the share of active and dead units per layer.

    The axes depend on the depth's 1-2-5 bucket, the activation and the weights only (the
    gradient axis covers the profiles at the bucket's ends), so within a bucket moving the
    depth moves the points against fixed axes: Glorot's ReLU profile is seen sinking.
    """

    def __init__(self, profiles=None, depth=20, activation="relu", weights="glorot_uniform", rng=None):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        if profiles is None:
            profiles = ActivationProfiles(np.random.default_rng(0) if rng is None else rng)
        self.profiles = profiles
        figure, (self.gradient_axes, self.activity_axes) = plt.subplots(1, 2, figsize=(9.5, 4.2))
        # Fixed margins instead of the style's tight layout, which re-measures every label on
        # every redraw and would cost more than the profile itself.
        figure.set_layout_engine("none")
        figure.subplots_adjust(left=0.09, right=0.98, top=0.84, bottom=0.26, wspace=0.25)
        (self.gradient_line,) = self.gradient_axes.plot([], [], "o-", ms=3, lw=1)
        fast_log_axis(self.gradient_axes)  # plain-text decade labels: a cheaper background to render
        self.gradient_axes.set_xlabel("layer l (1 = input side)")
        self.gradient_axes.set_ylabel("‖∂loss/∂W[l]‖ (log scale)")
        (self.active_line,) = self.activity_axes.plot([], [], "o-", ms=3, lw=1, label="active: output > 0")
        (self.dead_line,) = self.activity_axes.plot([], [], "s--", ms=3, lw=1, label="dead: 0 for every example")
        self.activity_axes.axhline(0.5, color="0.4", lw=0.8, ls=":")
        self.activity_axes.set_ylim(-0.03, 1.03)
        self.activity_axes.set_xlabel("layer l")
        self.activity_axes.set_ylabel("share of units")
        self.activity_axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2)
        for axes in (self.gradient_axes, self.activity_axes):
            axes.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))  # few labels: a cheap background
        controls = {
            "depth": widgets.IntSlider(value=depth, min=1, max=profiles.max_depth, description="depth L",
                                       continuous_update=False),
            "activation": widgets.Dropdown(options=ACTIVATIONS, value=activation, description="activation"),
            "weights": widgets.Dropdown(options=WEIGHT_SCHEMES, value=weights, description="init"),
        }
        self.suptitle = figure.suptitle("")
        super().__init__(figure, controls)
        self.moving(self.gradient_line, self.active_line, self.dead_line, self.suptitle,
                    self.gradient_axes.title, self.activity_axes.title)
        self.draw(**self.values())

    def _gradient_limits(self, depth, activation, weights, norms):
        """The gradient axis's range: the bucket's, widened only if ``norms`` fall outside it."""
        ends = [self.profiles.stats(d, activation, weights).kernel_grad_norms
                for d in bucket_depths(depth, self.profiles.max_depth)]
        # At least a decade from the data to each end: two labelled decades or more.
        return decade_limits(log_safe(np.concatenate(ends + [norms]), floor=FLOAT32_TINIEST), margin=10)

    def draw(self, depth, activation, weights):
        stats = self.profiles.stats(depth, activation, weights)
        layers = np.arange(1, depth + 1)
        norms = log_safe(stats.kernel_grad_norms, floor=FLOAT32_TINIEST)
        x_range = (0.5, max(axis_end(depth, self.profiles.max_depth), 2) + 0.5)
        self.gradient_line.set_data(layers, norms)
        self.gradient_axes.set_xlim(*x_range)
        self.gradient_axes.set_ylim(*self._gradient_limits(depth, activation, weights, norms))
        spread = "∞ (underflow to 0)" if np.isinf(stats.spread) else f"{stats.spread:.3g}"
        self.suptitle.set_text(f"{activation} · {weights} · depth {depth}")
        self.gradient_axes.set_title(f"gradient per layer: max/min = {spread}")
        self.active_line.set_data(layers, stats.active_fraction)
        self.dead_line.set_data(layers, stats.dead_fraction)
        self.activity_axes.set_xlim(*x_range)
        self.activity_axes.set_title(f"units: {stats.active_fraction.mean():.0%} active on average, "
                                     f"{stats.dead_fraction.mean():.0%} dead")
