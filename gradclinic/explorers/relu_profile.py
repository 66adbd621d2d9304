"""Lesson 03's explorer: layer by layer through a deep MLP at initialisation, how large the
gradient of each layer's weights is and how many of its units are switched on, for the ReLU
family beside sigmoid and tanh.

The networks are square (width 64) with zero biases, fed a fixed standard-normal batch; each
weight scheme draws one stack of 100 matrices once, and a depth-L net uses its first L, so
moving the depth slider adds or removes layers at the output end and changes nothing else.
Gradients come from :class:`gradclinic.profiles.MLPProfiler` (compiled TensorFlow,
automatic differentiation), so a slider move costs one forward and backward pass.
"""

from dataclasses import dataclass

import numpy as np

from gradclinic.plots import log_safe
from gradclinic.profiles import MLPProfiler, draw_weights
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
    scheme. One instance holds the compiled profiler and the weight stacks: keep it."""

    def __init__(self, rng, width=WIDTH, batch=BATCH, max_depth=MAX_DEPTH):
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng must be a numpy.random.Generator (numpy.random.default_rng(seed))")
        self.max_depth = max_depth
        self.profiler = MLPProfiler(width=width, batch=batch, seed=int(rng.integers(2**31)))
        self.weights = {scheme: draw_weights(scheme, max_depth, width, rng) for scheme in WEIGHT_SCHEMES}

    def stats(self, depth, activation="relu", weights="glorot_uniform"):
        """Per-layer gradient norms and unit activity of the ``depth``-layer net."""
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        if weights not in self.weights:
            raise ValueError(f"weights must be one of {', '.join(self.weights)}, got {weights!r}")
        if isinstance(depth, bool) or int(depth) != depth or not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must be a whole number in 1..{self.max_depth}, got {depth!r}")
        profile = self.profiler.profile(self.weights[weights][: int(depth)], activation)
        outputs = profile.activations  # (depth, batch, width)
        return LayerStats(kernel_grad_norms=profile.kernel_grad_norms.astype(float),
                          active_fraction=(outputs > 0).mean(axis=(1, 2)),
                          dead_fraction=np.all(outputs == 0, axis=1).mean(axis=1))


class ReluProfileExplorer(Explorer):
    """Depth 1–100, activation and weight-scheme controls over two panels: the kernel-gradient
    norm per layer (log scale) and the share of active and dead units per layer."""

    def __init__(self, profiles=None, depth=20, activation="relu", weights="glorot_uniform", rng=None):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator, NullFormatter

        if profiles is None:
            profiles = ActivationProfiles(np.random.default_rng(0) if rng is None else rng)
        self.profiles = profiles
        figure, (self.gradient_axes, self.activity_axes) = plt.subplots(1, 2, figsize=(9.5, 4.2))
        # Fixed margins instead of the style's tight layout, which re-measures every label on
        # every redraw and would cost more than the profile itself.
        figure.set_layout_engine("none")
        figure.subplots_adjust(left=0.09, right=0.98, top=0.84, bottom=0.26, wspace=0.25)
        (self.gradient_line,) = self.gradient_axes.plot([], [], "o-", ms=3, lw=1)
        self.gradient_axes.set_yscale("log")
        self.gradient_axes.set_xlabel("layer l (1 = input side)")
        self.gradient_axes.set_ylabel("‖∂loss/∂W[l]‖ (log scale)")
        self.gradient_axes.yaxis.set_minor_formatter(NullFormatter())  # decades only: fewer labels to draw
        (self.active_line,) = self.activity_axes.plot([], [], "o-", ms=3, lw=1, label="active: output > 0")
        (self.dead_line,) = self.activity_axes.plot([], [], "s--", ms=3, lw=1, label="dead: 0 for every example")
        self.activity_axes.axhline(0.5, color="0.4", lw=0.8, ls=":")
        self.activity_axes.set_ylim(-0.03, 1.03)
        self.activity_axes.set_xlabel("layer l")
        self.activity_axes.set_ylabel("share of units")
        self.activity_axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2)
        for axes in (self.gradient_axes, self.activity_axes):
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        controls = {
            "depth": widgets.IntSlider(value=depth, min=1, max=profiles.max_depth, description="depth L",
                                       continuous_update=False),
            "activation": widgets.Dropdown(options=ACTIVATIONS, value=activation, description="activation"),
            "weights": widgets.Dropdown(options=WEIGHT_SCHEMES, value=weights, description="init"),
        }
        super().__init__(figure, controls)
        self.draw(**self.values())

    def draw(self, depth, activation, weights):
        stats = self.profiles.stats(depth, activation, weights)
        layers = np.arange(1, depth + 1)
        norms = log_safe(stats.kernel_grad_norms, floor=FLOAT32_TINIEST)
        self.gradient_line.set_data(layers, norms)
        self.gradient_axes.set_xlim(0.5, max(depth, 2) + 0.5)
        self.gradient_axes.set_ylim(norms.min() / 10, norms.max() * 10)  # at least two labelled decades
        spread = "∞ (underflow to 0)" if np.isinf(stats.spread) else f"{stats.spread:.3g}"
        self.figure.suptitle(f"{activation} · {weights} · depth {depth}")
        self.gradient_axes.set_title(f"gradient per layer: max/min = {spread}")
        self.active_line.set_data(layers, stats.active_fraction)
        self.dead_line.set_data(layers, stats.dead_fraction)
        self.activity_axes.set_xlim(0.5, max(depth, 2) + 0.5)
        self.activity_axes.set_title(f"units: {stats.active_fraction.mean():.0%} active on average, "
                                     f"{stats.dead_fraction.mean():.0%} dead")
