"""Lesson 03's explorer: layer by layer through a deep MLP at initialisation, how large the
gradient of each layer's weights is and how many of its units are switched on, for the ReLU
family beside sigmoid and tanh.

The numbers come from :class:`gradclinic.profiles.ActivationProfiles`: square networks (width
64, zero biases) fed a fixed standard-normal batch, one stack of 100 weight matrices per scheme
drawn once (a depth-L net uses its first L, so moving the depth slider adds or removes layers at
the output end and changes nothing else), one compiled pass for all five activations, and each
net's statistics computed once and kept, so a slider move costs at most one pass.
"""

import numpy as np

from gradclinic.plots import axis_end, bucket_depths, decade_limits, fast_log_axis, log_safe
from gradclinic.profiles import (RELU_FAMILY_ACTIVATIONS as ACTIVATIONS, RELU_FAMILY_WEIGHT_SCHEMES as WEIGHT_SCHEMES,
                                 ActivationProfiles)
from gradclinic.widgets import Explorer

FLOAT32_TINIEST = 1e-45  # float32's smallest subnormal: a gradient below it is stored as exactly 0


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
