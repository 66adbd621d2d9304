"""Lesson 04's explorer: how the initializer, its gain, the activation and depth shape the
distribution of every layer's activations at initialisation.

The net is :class:`gradclinic.profiles.LayerActivations`: a square MLP (width 64, no biases) on
a fixed batch of 256 standard-normal inputs, layer l computing a[l] = φ(a[l−1] @ (gain · W[l])).
The weights come from Keras's own initializers (:func:`gradclinic.profiles.draw_weights`), every
scheme's drawn once for the deepest net when the explorer is made, so moving a control never
draws again. The forward pass is NumPy on one BLAS thread: 60 layers of a (256 × 64) @ (64 × 64)
product cost a few milliseconds. The explorer takes each layer's std from the activations
itself, and their histograms from :func:`gradclinic.profiles.layer_histograms`.

The explorer runs the deepest net once per gain, initializer and activation and shows its
first L layers, so moving the depth slider computes nothing. Its axes follow the depth bucket
(:func:`gradclinic.plots.axis_end`), the dropdowns and the third of the gain slider the gain is
in: the std axis spans whole decades around the stds at both ends of that third, and the value
axis is the activation's range (tanh, sigmoid) or a 1-2-5 step above the data (ReLU, linear).
Moving the gain moves the curves against still axes (mostly), and the figure's static parts
are rendered once per set of axis ranges.
"""

from collections import OrderedDict

import numpy as np

from gradclinic.plots import axis_end, decade_limits, fast_log_axis, log_safe, pin_axis_labels, step_ceiling
from gradclinic.profiles import (HISTOGRAM_BINS, INITIALIZATION_SCHEMES as SCHEMES, NUMPY_ACTIVATIONS as ACTIVATIONS,
                                 LayerActivations, layer_histograms)
from gradclinic.widgets import Explorer

MAX_DEPTH = 60
GAINS = (0.5, 2.0)  # the gain slider's ends
# The std axis covers a whole third of the gain slider at a time: over all of it (up to 60
# decades) a drift by a factor of 2 through 60 layers, lesson 04's point, would not show.
GAIN_THIRDS = (0.5, 1.0, 1.5, 2.0)
# The value axis of the bounded activations' histograms; ReLU and linear ones follow the data.
VALUE_RANGES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}


def _layer_stds(layers):
    """The std of each layer's activations, over its batch and units: (…, depth, batch, width) →
    (…, depth). What the explorer plots; the toolkit's net gives the activations only."""
    return layers.reshape(*layers.shape[:-2], -1).std(axis=-1)


class InitializationExplorer(Explorer):
    """Depth, gain, initializer and activation → each layer's activation std and histogram."""

    def __init__(self, rng=None, depth=10, gain=1.0, initializer="glorot_uniform", activation="tanh"):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        self.net = LayerActivations(np.random.default_rng(0) if rng is None else rng, MAX_DEPTH)
        self._runs = OrderedDict()  # (gain, initializer, activation) → the deepest net's layers, stds
        self._gain_ends = {}  # (initializer, activation) → the deepest net's stds at GAIN_THIRDS (64 inputs)
        for scheme in SCHEMES:  # every scheme's weights now (Keras takes 0.1 s a scheme), not on a move
            self.net.kernels(scheme)
        figure, (self.std_axes, self.map_axes, self.hist_axes) = plt.subplots(
            1, 3, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.1, 1, 1]})
        ax = self.std_axes
        (self.std_line,) = ax.plot([], [], "o-", ms=3, lw=1)
        ax.axhline(1.0, color="0.4", ls="--", lw=1)
        # A label on the line, not a legend: no corner of this axes is free at every setting.
        ax.text(0.98, 1.0, "input std = 1", transform=ax.get_yaxis_transform(), ha="right", va="bottom",
                color="0.3", fontsize=8)
        fast_log_axis(ax, max_ticks=5)
        ax.set_xlabel("layer l")
        ax.set_ylabel("activation std (log)")
        self.map_image = self.map_axes.imshow(np.zeros((1, HISTOGRAM_BINS)), aspect="auto", origin="upper",
                                              cmap="magma", vmin=0, vmax=1, interpolation="nearest")
        self.map_axes.set_xlabel("activation value")
        self.map_axes.set_ylabel("layer l")
        self.map_axes.set_title("histogram per layer (row = layer)")
        self.map_axes.grid(False)
        self.hist_lines = [self.hist_axes.plot([], [], drawstyle="steps-mid", lw=1.3)[0] for _ in range(5)]
        self.hist_axes.set_xlabel("activation value")
        self.hist_axes.set_ylabel("fraction of values")
        # Each line's layer and std in the line's colour, top right: five texts cost half a legend.
        self.hist_labels = [self.hist_axes.text(0.98, 0.97 - 0.08 * index, "", transform=self.hist_axes.transAxes,
                                                ha="right", va="top", fontsize=8, color=line.get_color())
                            for index, line in enumerate(self.hist_lines)]
        # Few ticks: a tick label costs 1–2 ms to render, and the figure has three axes.
        for axis in (ax.xaxis, self.map_axes.yaxis):
            axis.set_major_locator(MaxNLocator(nbins=4, integer=True))
        for axis in (self.map_axes.xaxis, self.hist_axes.xaxis, self.hist_axes.yaxis):
            axis.set_major_locator(MaxNLocator(nbins=4))
        controls = {
            "depth": widgets.IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth L"),
            "gain": widgets.FloatSlider(value=gain, min=GAINS[0], max=GAINS[1], step=0.05, description="gain γ"),
            "initializer": widgets.Dropdown(options=SCHEMES, value=initializer, description="init"),
            "activation": widgets.Dropdown(options=tuple(ACTIVATIONS), value=activation, description="activation"),
        }
        super().__init__(figure, controls)
        self.moving(self.std_line, ax.title, self.map_image, *self.hist_lines, *self.hist_labels, self.hist_axes.title)
        self.draw(**self.values())
        # Lay the figure out once; the style's autolayout would redo it on every slider move.
        figure.tight_layout()
        figure.set_layout_engine("none")
        pin_axis_labels(figure)

    @staticmethod
    def shown_layers(depth):
        """Up to five layers spread from the first to the last (1-based)."""
        return sorted(set(np.linspace(1, depth, 5).round().astype(int).tolist()))

    def _run(self, gain, initializer, activation):
        """The deepest net's activations, their stds per layer and a dict for their histograms
        (value range → counts of every layer); depth L shows the first L layers."""
        key = (float(gain), initializer, activation)
        if key not in self._runs:
            layers = self.net.activations(MAX_DEPTH, gain, initializer, activation)
            self._runs[key] = layers, _layer_stds(layers), {}
            while len(self._runs) > 4:  # 8 MB each
                self._runs.popitem(last=False)
        self._runs.move_to_end(key)
        return self._runs[key]

    def _std_limits(self, end, gain, stds, initializer, activation):
        """Whole decades around the stds of the first ``end`` layers at both ends of the gain's
        third of the slider (so the axis stays put while the gain moves within it) and around
        the shown ``stds``."""
        key = (initializer, activation)
        if key not in self._gain_ends:  # on 64 of the inputs: only the axis depends on them
            layers = self.net.activations_at_gains(MAX_DEPTH, GAIN_THIRDS, initializer, activation, rows=64)
            self._gain_ends[key] = _layer_stds(layers)
        third = min(int(np.searchsorted(GAIN_THIRDS, gain, side="right")), len(GAIN_THIRDS) - 1)
        ends = self._gain_ends[key][third - 1:third + 1, :end]
        return decade_limits(np.concatenate([ends.ravel(), stds, [1.0]]), margin=3)

    @staticmethod
    def _value_range(layers, activation):
        """The histograms' value range: the activation's own, or (0 or −R, R) with R a 1-2-5 step
        above the 99.9 % quantile of the values' size."""
        if activation in VALUE_RANGES:
            return VALUE_RANGES[activation]
        sizes = np.abs(layers[np.isfinite(layers)])
        top = np.quantile(sizes, 0.999) if sizes.size else 0.0
        top = step_ceiling(min(top, 1e300)) if top > 0 else 1.0
        return (0.0 if activation == "relu" else -top), top

    def draw(self, depth, gain, initializer, activation):
        deepest, deepest_stds, histograms = self._run(gain, initializer, activation)
        layers, stds = deepest[:depth], deepest_stds[:depth]
        end = axis_end(depth, MAX_DEPTH)
        numbers = np.arange(1, depth + 1)
        self.std_line.set_data(numbers, log_safe(stds))
        self.std_axes.set_xlim(0.5, max(end, 2) + 0.5)
        self.std_axes.set_ylim(*self._std_limits(end, gain, stds, initializer, activation))
        self.std_axes.set_title(f"{initializer} × {gain:.2f}, {activation}")

        value_range = self._value_range(layers, activation)
        if value_range not in histograms:  # of every layer: a smaller depth shows the first rows
            histograms[value_range] = layer_histograms(deepest, value_range=value_range)
        counts, edges = histograms[value_range]
        counts = counts[:depth]
        peak = counts.max(axis=1, keepdims=True)
        self.map_image.set_data(np.divide(counts, peak, out=np.zeros_like(counts), where=peak > 0))
        self.map_image.set_extent((edges[0], edges[-1], depth + 0.5, 0.5))
        self.map_axes.set_xlim(edges[0], edges[-1])
        self.map_axes.set_ylim(max(end, 2) + 0.5, 0.5)  # layer 1 on top, as the net is read
        centres = (edges[:-1] + edges[1:]) / 2
        shown = self.shown_layers(depth)
        for line, label, layer in zip(self.hist_lines, self.hist_labels, shown + [None] * 5):
            if layer is None:
                line.set_data([], [])
                label.set_text("")
                continue
            line.set_data(centres, counts[layer - 1])
            label.set_text(f"layer {layer}: std {stds[layer - 1]:.2g}")
        self.hist_axes.set_xlim(edges[0], edges[-1])
        # A 1-2-5 step above the highest bar, so that most moves keep the axis.
        self.hist_axes.set_ylim(0, min(step_ceiling(max(counts[[l - 1 for l in shown]].max(), 1e-3) * 1.05), 1.05))
        self.hist_axes.set_title(f"layer {depth}: std {stds[-1]:.3g} (layer 1: {stds[0]:.3g})")
