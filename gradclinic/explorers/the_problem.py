"""Lesson 01's explorer: how a signal and its gradient grow or shrink through a deep linear net.

Every layer is ``W = scale · M`` with M the identity or a fixed random Gaussian matrix
(variance 1/width, so that on average it neither grows nor shrinks a vector). Forward,
‖a[l]‖ follows scale^l; backward, the gradient reaching layer l from a unit gradient at the
output follows scale^(L−l). The norms come from :class:`gradclinic.profiles.DeepLinearSignals`
(NumPy on a width-32 net): a slider move costs microseconds of arithmetic and one redraw.
"""

import numpy as np

from gradclinic.plots import axis_end, decade_limits, fast_log_axis, log_safe
from gradclinic.profiles import DeepLinearSignals
from gradclinic.widgets import Explorer

MAX_DEPTH = 100
SCALES = (0.5, 1.5)  # the scale slider's ends
WEIGHT_KINDS = ("identity", "gaussian")


class DeepLinearExplorer(Explorer):
    """Depth 1–100 and scale 0.5–1.5 sliders over activation and gradient norms per layer."""

    def __init__(self, rng=None, depth=30, scale=1.2, weights="identity"):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt

        self.signals = DeepLinearSignals(np.random.default_rng(0) if rng is None else rng, MAX_DEPTH)
        figure, self.axes = plt.subplots(figsize=(8, 3.6))
        ax = self.axes
        (self.activation_line,) = ax.plot([], [], "o", label="‖a[l]‖  activation")
        (self.gradient_line,) = ax.plot([], [], "s", mfc="none", label="‖∂loss/∂a[l]‖  gradient")
        (self.forward_law,) = ax.plot([], [], "-", color="0.3", lw=1, label="scale^l")
        (self.backward_law,) = ax.plot([], [], "--", color="0.3", lw=1, label="scale^(L−l)")
        fast_log_axis(ax)
        ax.set_xlabel("layer l")
        ax.set_ylabel("norm (log scale)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=4)
        figure.subplots_adjust(bottom=0.3)
        controls = {
            "depth": widgets.IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth L",
                                       continuous_update=True),
            "scale": widgets.FloatSlider(value=scale, min=SCALES[0], max=SCALES[1], step=0.01, description="scale",
                                         continuous_update=True),
            "weights": widgets.Dropdown(options=WEIGHT_KINDS, value=weights, description="W = scale ·"),
        }
        super().__init__(figure, controls)
        self.moving(self.activation_line, self.gradient_line, self.forward_law, self.backward_law, ax.title)
        self.draw(**self.values())

    def _limits(self, depth, weights):
        """Axis ranges for every scale at once: moving the scale slider moves the points, not
        the axes, so growth and decay show as the points climbing and falling."""
        end = axis_end(depth, MAX_DEPTH)
        extremes = [self.signals.activation_norms(end, s, weights) for s in SCALES]
        extremes += [self.signals.gradient_norms(end, s, weights) for s in SCALES]
        return (0.5, max(end, 2) + 0.5), decade_limits(np.concatenate(extremes + [[1.0]]), margin=10)

    def draw(self, depth, scale, weights):
        layers = np.arange(1, depth + 1)
        activations = self.signals.activation_norms(depth, scale, weights)
        gradients = self.signals.gradient_norms(depth, scale, weights)
        self.activation_line.set_data(layers, log_safe(activations))
        self.gradient_line.set_data(layers, log_safe(gradients))
        self.forward_law.set_data(layers, log_safe(scale ** layers))
        self.backward_law.set_data(layers, log_safe(scale ** (depth - layers)))
        x_range, y_range = self._limits(depth, weights)
        self.axes.set_xlim(*x_range)
        self.axes.set_ylim(*y_range)
        self.axes.set_title(f"depth {depth}, W = {scale:.2f}·{'I' if weights == 'identity' else 'G'}: "
                            f"output ‖a[L]‖ = {activations[-1]:.3g}, first-layer gradient = {gradients[0]:.3g}")
