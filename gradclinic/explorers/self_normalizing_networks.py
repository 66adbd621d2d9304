"""Lesson 10's explorer: does a deep MLP keep each layer's activations at mean 0 and variance 1 at
initialisation — SELU vs ReLU vs tanh, LeCun normal vs other initializers, standardized vs raw
inputs. It draws what :class:`gradclinic.layer_statistics.SignalPropagation` computes; the
lesson's training race is in :mod:`gradclinic.training` (:func:`~gradclinic.training.train_on_digits`).

SELU is not written in the toolkit (it is the lesson's exercise): pass the learner's ``selu``, or
get Keras's own (``keras.activations.selu``) by default.
"""

import numpy as np

from gradclinic.layer_statistics import SNN_INITIALIZERS, SNN_MAX_DEPTH, SignalPropagation
from gradclinic.plots import axis_end, decade_limits, fast_log_axis
from gradclinic.runtime import one_blas_thread
from gradclinic.widgets import Explorer

ACTIVATIONS = ("selu", "relu", "tanh")  # the activation menu


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
        for name in SNN_INITIALIZERS:
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
            "depth": widgets.IntSlider(value=depth, min=1, max=SNN_MAX_DEPTH, description="depth L"),
            "activation": widgets.Dropdown(options=ACTIVATIONS, value=activation, description="activation"),
            "initializer": widgets.Dropdown(options=SNN_INITIALIZERS, value=initializer, description="init"),
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
        end = axis_end(depth, SNN_MAX_DEPTH)
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
