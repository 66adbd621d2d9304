"""Lesson 09's explorer: what every layer of a deep MLP does to one batch, with and without
Batch Normalization, at initialisation. It draws what
:class:`gradclinic.layer_statistics.BatchNormProfiler` computes (the net and how its BN is
computed are described there); the Keras nets the lesson trains are in :mod:`gradclinic.models`.

The explorer's axes follow the depth bucket (:func:`gradclinic.plots.axis_end`) and the
activation: the layer axis ends at the bucket's end, and the gradient axis spans whole decades
around the gradients of the bucket's deepest net, so most depth moves redraw only the data over
a cached picture of the axes.
"""

import numpy as np

from gradclinic.layer_statistics import (BN_ACTIVATIONS, BN_MAX_DEPTH, HISTOGRAM_BINS, HISTOGRAM_VALUE_RANGES,
                                         BatchNormProfiler, layer_histograms)
from gradclinic.plots import axis_end, decade_limits, log_safe, pin_axis_labels
from gradclinic.widgets import Explorer

FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # the smallest normal float32, ≈ 1.2e-38


class HistogramPanel:
    """One axes showing a histogram per layer as a column of colour: x = layer, y = value,
    colour = fraction of the layer's values in that bin (power scale, so thin tails show)."""

    def __init__(self, ax, title=""):
        from matplotlib.colors import PowerNorm

        self.ax = ax
        self.image = ax.imshow(np.zeros((HISTOGRAM_BINS, 1)), origin="lower", aspect="auto", cmap="magma",
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
            "depth": widgets.IntSlider(value=depth, min=1, max=BN_MAX_DEPTH, description="depth L",
                                       continuous_update=True),
            "batchnorm": widgets.ToggleButtons(options=[("BN off", False), ("BN on", True)],
                                               value=batchnorm, description="layers"),
            "activation": widgets.Dropdown(options=BN_ACTIVATIONS, value=activation, description="φ"),
        }
        super().__init__(figure, controls)
        self.moving(self.histograms.image, hist_ax.title, self.plain_line, self.batchnorm_line, grad_ax.title)
        self.draw(**self.values())
        pin_axis_labels(figure, slack=0)  # the first view has the widest tick labels (10⁻¹⁵)

    def _layer_axis_end(self, depth):
        """Where the layer axes end: the depth's 1-2-5 bucket (5, 10, 20, 50, 100)."""
        return axis_end(depth, BN_MAX_DEPTH)

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
        self.histograms.show(shown.histograms, HISTOGRAM_VALUE_RANGES[activation], end)
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
