"""Lesson 06's explorer: how a skip connection changes the gradient that reaches each layer of a
deep tanh MLP at initialisation.

The quantity is ‖∂loss/∂a[l]‖, the gradient of the loss with respect to layer l's output (over a
batch): the error signal backpropagation delivers to that layer. In a plain net it is multiplied
by Wᵀ·diag(tanh′) at every layer; in a residual net by (I + Wᵀ·diag(tanh′)), whose identity part
carries it past every block unchanged.

:func:`gradclinic.models.output_gradient_norms` measures it for any Keras model built of Dense
layers (the notebook's nets, the grader's checks); the lesson's small initializer is there too.
The explorer draws :class:`gradclinic.profiles.StackProfiles`, one compiled TensorFlow function
for both nets that keeps every profile it computed, so a slider move costs at most one pass of a
few milliseconds.
"""

import numpy as np

from gradclinic.plots import bucket_depths, decade_limits, fast_log_axis
from gradclinic.profiles import StackProfiles
from gradclinic.widgets import Explorer

MAX_DEPTH = 60


class ResidualExplorer(Explorer):
    """Depth and plain/residual → the per-layer gradient profile, both nets drawn, the chosen one
    bold, with the first-layer gradient norm and the first/last ratio in the title.

    The axes depend on the depth's 1-2-5 bucket only (they cover both nets' profiles at the
    bucket's ends), so within a bucket moving the depth moves the points against fixed axes.
    """

    def __init__(self, rng=None, depth=20, mode="plain"):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt

        self.profiles = StackProfiles(np.random.default_rng(0) if rng is None else rng, MAX_DEPTH)
        figure, self.axes = plt.subplots(figsize=(8, 3.6))
        ax = self.axes
        self.lines = {m: ax.plot([], [], "o-", ms=3, label=m)[0] for m in ("plain", "residual")}
        fast_log_axis(ax)  # plain-text decade labels: a cheaper background to render
        ax.set_xlabel("layer l (input side left)")
        ax.set_ylabel("‖∂loss/∂a[l]‖ (log)")
        ax.legend(loc="lower right")  # its handles are copies: a mode's weight shows on its line only
        figure.set_layout_engine("none")
        figure.subplots_adjust(left=0.11, right=0.98, top=0.88, bottom=0.15)
        controls = {"depth": widgets.IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth L"),
                    "mode": widgets.ToggleButtons(options=("plain", "residual"), value=mode, description="net")}
        super().__init__(figure, controls)
        self.moving(*self.lines.values(), ax.title)
        self.draw(**self.values())

    def _limits(self, depth, shown):
        """(x range, y range): the bucket's, widened only if the ``shown`` profiles fall outside it."""
        depths = bucket_depths(depth, MAX_DEPTH)
        ends = [self.profiles.gradient_norms(d, residual) for d in depths for residual in (False, True)]
        values = np.concatenate(ends + list(shown.values()) + [np.array([1.0])])
        return (0.5, max(depths[-1], 2) + 0.5), decade_limits(values, margin=3)

    def draw(self, depth, mode):
        layers = np.arange(1, depth + 1)
        shown = {}
        for name, line in self.lines.items():
            norms = self.profiles.gradient_norms(depth, name == "residual")
            norms = np.where(norms > 0, norms, np.nan)  # an underflow to 0 cannot sit on a log axis
            line.set_data(layers, norms)
            line.set_linewidth(2.5 if name == mode else 0.8)
            line.set_alpha(1.0 if name == mode else 0.4)
            shown[name] = norms
        x_range, y_range = self._limits(depth, shown)
        self.axes.set_xlim(*x_range)
        self.axes.set_ylim(*y_range)
        chosen = shown[mode]
        self.axes.set_title(f"{mode}, depth {depth}: first-layer gradient {chosen[0]:.2g}, "
                            f"first/last = {chosen[0] / chosen[-1]:.2g}")
