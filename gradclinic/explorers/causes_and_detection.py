"""Lesson 02's explorer: how depth, the activation and the initial weights shape the gradient
each layer receives, and what a detector says about it.

The profiles come from :class:`gradclinic.profiles.CausesProfiles`: the kernel-gradient norm
‖∂loss/∂W[l]‖ of every layer of a square MLP (width 64) at initialisation, input side first,
compiled once for every activation and kept, so a slider move costs at most one pass. The
verdict comes from a function the notebook passes in (``verdict=diagnose``, the learner's own
detector); this module holds no detector of its own, only the text it shows for the verdict.
"""

import numpy as np

from gradclinic.plots import bucket_depths, decade_limits, fast_log_axis
from gradclinic.profiles import (CAUSES_ACTIVATIONS as ACTIVATIONS, CAUSES_WEIGHT_SCHEMES as WEIGHT_SCHEMES,
                                 CausesProfiles)
from gradclinic.widgets import Explorer

MAX_DEPTH = 60
NO_VERDICT = "implement diagnose to see a verdict"
FLOAT32 = np.finfo(np.float32)


def describe_verdict(verdict, norms):
    """The text the explorer shows for ``verdict(norms)``: its answer, a reminder to implement
    it (while it raises NotImplementedError), or the error it raised."""
    if verdict is None:
        return ""
    try:
        return f"diagnose → {verdict([float(n) for n in norms])!r}"
    except NotImplementedError:
        return NO_VERDICT
    except Exception as error:  # a learner's half-finished detector: show what went wrong
        return f"diagnose raised {type(error).__name__}: {error}"


class CausesExplorer(Explorer):
    """Depth, activation and initial weights → the gradient-norm profile and ``verdict``'s call.

    The axes depend on the depth's 1-2-5 bucket, the activation and the weights only (they
    cover the profiles at the bucket's ends), so within a bucket moving the depth moves the
    points against fixed axes: a vanishing profile is seen sinking, an exploding one climbing.
    """

    def __init__(self, rng=None, depth=20, activation="sigmoid", weights="glorot_uniform", verdict=None):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        self.profiles = CausesProfiles(np.random.default_rng(0) if rng is None else rng, MAX_DEPTH)
        self.verdict = verdict
        figure, self.axes = plt.subplots(figsize=(8, 3.8))
        ax = self.axes
        (self.norm_line,) = ax.plot([], [], "o-", ms=4, lw=1, label="‖∂loss/∂W[l]‖")
        (self.overflow_marks,) = ax.plot([], [], "x", color="C1", ms=7, mew=2, label="inf or NaN (overflow)")
        (self.underflow_marks,) = ax.plot([], [], "v", color="0.4", ms=6, label="exactly 0 (underflow)")
        fast_log_axis(ax)  # plain-text decade labels: a cheaper background to render
        ax.set_xlabel("layer l (input side left)")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))  # few labels: a cheap background
        ax.set_ylabel("kernel-gradient norm (log)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3)
        self.verdict_text = figure.text(0.5, 0.04, "", ha="center", va="bottom", fontsize=11, fontweight="bold")
        # A fixed layout: re-fitting it on every slider move would cost more than the profile.
        figure.set_layout_engine("none")
        figure.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.32)
        controls = {
            "depth": widgets.IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth L"),
            "activation": widgets.Dropdown(options=ACTIVATIONS, value=activation, description="activation"),
            "weights": widgets.Dropdown(options=WEIGHT_SCHEMES, value=weights, description="weights"),
        }
        super().__init__(figure, controls)
        self.moving(self.norm_line, self.overflow_marks, self.underflow_marks, ax.title, self.verdict_text)
        self.draw(**self.values())

    def _limits(self, depth, activation, weights, norms):
        """(x range, y range): the bucket's, widened only if ``norms`` fall outside it. Where a
        bucket's end underflows (or overflows) somewhere, the axis reaches float32's smallest
        (largest) gradient, so the nets in between, which may come closer to it, fit too."""
        depths = bucket_depths(depth, MAX_DEPTH)
        values = np.concatenate([self.profiles.kernel_gradient_norms(d, activation, weights) for d in depths])
        batch = self.profiles.profiler.batch
        if np.any(values == 0):
            values = np.append(values, float(FLOAT32.smallest_subnormal) / batch)
        if not np.all(np.isfinite(values)):
            values = np.append(values, float(FLOAT32.max) / batch)
        limits = decade_limits(np.concatenate([values, norms]), margin=10)
        return (0.5, max(depths[-1], 2) + 0.5), limits

    def draw(self, depth, activation, weights):
        norms = self.profiles.kernel_gradient_norms(depth, activation, weights)
        layers = np.arange(1, depth + 1)
        finite = np.isfinite(norms)
        shown = finite & (norms > 0)
        x_range, (low, high) = self._limits(depth, activation, weights, norms)
        self.axes.set_xlim(*x_range)
        self.axes.set_ylim(low, high)
        self.norm_line.set_data(layers[shown], norms[shown])
        # Overflows along the top edge, underflows along the bottom (a factor 2.5 inside the axes).
        self.overflow_marks.set_data(layers[~finite], np.full((~finite).sum(), high / 2.5))
        self.underflow_marks.set_data(layers[finite & (norms == 0)], np.full((finite & (norms == 0)).sum(), low * 2.5))
        if shown.all():
            ends = f"first/last = {norms[0] / norms[-1]:.2g}"
        else:
            ends = f"{(~shown).sum()} of {depth} layers have no finite, positive gradient"
        self.axes.set_title(f"{activation}, {weights} weights, depth {depth}: {ends}")
        self.verdict_text.set_text(describe_verdict(self.verdict, norms))
