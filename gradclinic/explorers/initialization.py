"""Lesson 04's explorer: how the initializer, its gain, the activation and depth shape the
distribution of every layer's activations at initialisation.

A square MLP (width 64, no biases) takes a fixed batch of 256 standard-normal inputs; layer l
computes a[l] = φ(a[l−1] @ (gain · W[l])). The weights come from Keras's own initializers
(:func:`gradclinic.profiles.draw_weights`), drawn once per scheme for the deepest net and then
reused, so moving a slider never draws again. The forward pass is NumPy: 60 layers of a
(256 × 64) @ (64 × 64) product cost about a millisecond, and the figure is updated in place.
"""

import numpy as np

from gradclinic.plots import log_safe
from gradclinic.widgets import Explorer

MAX_DEPTH = 60
WIDTH = 64
BATCH = 256
BINS = 61
SCHEMES = ("uniform_inv_sqrt_n", "glorot_uniform", "glorot_normal", "lecun_normal", "he_normal",
           "standard_normal")
# Forward only (no derivatives): the same functions as keras.activations, on NumPy arrays.
ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),  # = 1/(1+e^−z), without overflow warnings
    "linear": lambda z: z,
}


class LayerActivations:
    """Every layer's activations of the explorer's net, for any depth, gain, scheme and activation."""

    def __init__(self, rng, width=WIDTH, batch=BATCH, max_depth=MAX_DEPTH):
        self.width, self.batch, self.max_depth = width, batch, max_depth
        self.rng = rng
        self.inputs = rng.standard_normal((batch, width))
        self._kernels = {}

    def kernels(self, scheme):
        """(max_depth, width, width) weights of ``scheme`` with gain 1, drawn on first use only."""
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
        if scheme not in self._kernels:
            from gradclinic.profiles import draw_weights

            self._kernels[scheme] = draw_weights(scheme, self.max_depth, self.width, self.rng).astype(float)
        return self._kernels[scheme]

    def activations(self, depth, gain, scheme, activation):
        """(depth, batch, width) a[l] for l = 1..depth (index 0 is the first hidden layer)."""
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        if not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must lie in 1..{self.max_depth}, got {depth}")
        phi, kernels = ACTIVATIONS[activation], self.kernels(scheme)
        layers = np.empty((depth, self.batch, self.width))
        a = self.inputs
        with np.errstate(over="ignore", invalid="ignore"):  # an exploding net overflows: shown as such
            for layer in range(depth):
                a = phi(a @ (gain * kernels[layer]))
                layers[layer] = a
        return layers

    def stds(self, depth, gain, scheme, activation):
        """(depth,) the standard deviation of each layer's activations."""
        return self.activations(depth, gain, scheme, activation).reshape(depth, -1).std(axis=1)


def layer_histograms(layers, bins=BINS):
    """Histograms of every layer on one shared value range.

    ``layers``: (depth, …) activations. Returns (counts (depth, bins) as fractions of each
    layer's values, bin edges (bins + 1,)). The range spans the 0.1–99.9 % quantiles of all
    layers together, so a layer whose values shrink shows as a narrow spike beside wider ones.
    Values outside the range, and non-finite ones, are left out.
    """
    depth = len(layers)
    values = layers.reshape(depth, -1)
    finite = values[np.isfinite(values)]
    low, high = (np.quantile(finite, [0.001, 0.999]) if finite.size else (-1.0, 1.0))
    if not high > low:
        low, high = low - 1.0, high + 1.0
    edges = np.linspace(low, high, bins + 1)
    with np.errstate(invalid="ignore"):
        index = np.floor((values - low) / (high - low) * bins)
    inside = np.isfinite(index) & (index >= 0) & (index < bins)
    rows = np.broadcast_to(np.arange(depth)[:, None], values.shape)
    counts = np.bincount((rows[inside] * bins + index[inside]).astype(int), minlength=depth * bins)
    return counts.reshape(depth, bins) / values.shape[1], edges


class InitializationExplorer(Explorer):
    """Depth, gain, initializer and activation → each layer's activation std and histogram."""

    def __init__(self, rng=None, depth=10, gain=1.0, initializer="glorot_uniform", activation="tanh"):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt

        self.net = LayerActivations(np.random.default_rng(0) if rng is None else rng)
        figure, (self.std_axes, self.map_axes, self.hist_axes) = plt.subplots(
            1, 3, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.1, 1, 1]})
        ax = self.std_axes
        (self.std_line,) = ax.plot([], [], "o-", ms=3, lw=1, label="std of a[l]")
        ax.axhline(1.0, color="0.4", ls="--", lw=1, label="input std = 1")
        ax.set_yscale("log")
        ax.set_xlabel("layer l")
        ax.set_ylabel("activation std (log)")
        ax.legend(loc="best")
        self.map_image = self.map_axes.imshow(np.zeros((1, BINS)), aspect="auto", origin="upper",
                                              cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        self.map_axes.set_xlabel("activation value")
        self.map_axes.set_ylabel("layer l")
        self.map_axes.set_title("histogram per layer (row = layer)")
        self.map_axes.grid(False)
        self.hist_lines = [self.hist_axes.plot([], [], drawstyle="steps-mid", lw=1.3)[0] for _ in range(5)]
        self.hist_axes.set_xlabel("activation value")
        self.hist_axes.set_ylabel("fraction of values")
        controls = {
            "depth": widgets.IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth L"),
            "gain": widgets.FloatSlider(value=gain, min=0.5, max=2.0, step=0.05, description="gain γ"),
            "initializer": widgets.Dropdown(options=SCHEMES, value=initializer, description="init"),
            "activation": widgets.Dropdown(options=tuple(ACTIVATIONS), value=activation, description="activation"),
        }
        super().__init__(figure, controls)
        self.draw(**self.values())
        # Lay the figure out once; the style's autolayout would redo it on every slider move.
        figure.tight_layout()
        figure.set_layout_engine("none")

    @staticmethod
    def shown_layers(depth):
        """Up to five layers spread from the first to the last (1-based)."""
        return sorted(set(np.linspace(1, depth, 5).round().astype(int).tolist()))

    def draw(self, depth, gain, initializer, activation):
        layers = self.net.activations(depth, gain, initializer, activation)
        stds = layers.reshape(depth, -1).std(axis=1)
        numbers = np.arange(1, depth + 1)
        self.std_line.set_data(numbers, log_safe(stds))
        finite = stds[np.isfinite(stds) & (stds > 0)]
        low, high = (min(finite.min(), 1.0), max(finite.max(), 1.0)) if finite.size else (1e-3, 1e3)
        self.std_axes.set_xlim(0.5, max(depth, 2) + 0.5)
        self.std_axes.set_ylim(low / 3, high * 3)
        self.std_axes.set_title(f"{initializer} × {gain:.2f}, {activation}")

        counts, edges = layer_histograms(layers)
        peak = counts.max(axis=1, keepdims=True)
        self.map_image.set_data(np.divide(counts, peak, out=np.zeros_like(counts), where=peak > 0))
        self.map_image.set_extent((edges[0], edges[-1], depth + 0.5, 0.5))
        self.map_axes.set_xlim(edges[0], edges[-1])
        self.map_axes.set_ylim(depth + 0.5, 0.5)  # layer 1 on top, as the net is read
        centres = (edges[:-1] + edges[1:]) / 2
        shown = self.shown_layers(depth)
        for line, layer in zip(self.hist_lines, shown + [None] * 5):
            if layer is None:
                line.set_data([], [])
                line.set_label("_hidden")
                continue
            line.set_data(centres, counts[layer - 1])
            line.set_label(f"layer {layer}: std {stds[layer - 1]:.2g}")
        self.hist_axes.set_xlim(edges[0], edges[-1])
        self.hist_axes.set_ylim(0, max(counts[[l - 1 for l in shown]].max(), 1e-3) * 1.1)
        self.hist_axes.legend(loc="upper right", fontsize=8)
        self.hist_axes.set_title(f"layer {depth}: std {stds[-1]:.3g} (layer 1: {stds[0]:.3g})")
