"""Lesson 02's explorer: how depth, the activation and the initial weights shape the gradient
each layer receives, and what a detector says about it.

A square MLP (width 64) is profiled at initialisation: the kernel-gradient norm ‖∂loss/∂W[l]‖ of
every layer, input side first, with :class:`~gradclinic.profiles.MLPProfiler`'s inputs and
forward and backward pass, for the profiler's loss averaged over its batch (as Keras's losses are). :class:`~gradclinic.profiles.SwitchedProfile` compiles that pass once for every activation
(the activation is an argument, not a retrace), and each profile is computed once and kept, so a
slider move costs at most one pass. The verdict comes from a function the notebook passes in
(``verdict=diagnose``, the learner's own detector); this module holds no detector of its own.
"""

import numpy as np

from gradclinic.plots import bucket_depths, decade_limits, fast_log_axis
from gradclinic.widgets import Explorer

MAX_DEPTH = 60
WIDTH = 64
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
WEIGHT_SCHEMES = ("glorot_uniform", "standard_normal")  # Keras's default, and N(0, 1)
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


class CausesProfiles:
    """Kernel-gradient norms per layer for each activation and weight scheme, at any depth.

    The weight stacks are drawn once (``MAX_DEPTH`` layers per scheme, from ``rng``); a net of
    depth L uses the first L of them, so moving the depth slider adds or removes layers
    without redrawing the others. Each profile is computed once and kept (all of them together
    are 480 arrays of at most 60 numbers).
    """

    def __init__(self, rng, width=WIDTH, max_depth=MAX_DEPTH):
        from gradclinic.profiles import MLPProfiler, SwitchedProfile, draw_weights

        self.width, self.max_depth = width, max_depth
        self.profiler = MLPProfiler(width=width, batch=128, seed=0)
        self.kernels = {scheme: draw_weights(scheme, max_depth, width, rng) for scheme in WEIGHT_SCHEMES}
        self._profile = SwitchedProfile(self.profiler, ACTIVATIONS)
        self._norms = {}

    def kernel_gradient_norms(self, depth, activation, weights="glorot_uniform"):
        """(depth,) ‖∂loss/∂W[l]‖ for l = 1..depth at initialisation, input side first.

        The loss is averaged over the profiler's batch of 128 standard-normal inputs: the mean of
        a[L]·u over the batch, u a fixed random unit vector per input (the profiler's loss, which
        sums, divided by the batch size). Averaged, as Keras's losses are, so that the norms have
        the scale ``diagnose``'s absolute ``explode_at`` is meant for."""
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        if weights not in self.kernels:
            raise ValueError(f"weights must be one of {', '.join(WEIGHT_SCHEMES)}, got {weights!r}")
        if not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must lie in 1..{self.max_depth}, got {depth}")
        key = (int(depth), activation, weights)
        if key not in self._norms:
            _, norms = self._profile(self.kernels[weights][: int(depth)], activation)
            # The profiler's loss sums over its batch; Keras's losses average over it, and so
            # does this one: explode_at is an absolute bound, meant for an averaged loss.
            self._norms[key] = norms.astype(float) / self.profiler.batch
        return self._norms[key].copy()


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

        self.profiles = CausesProfiles(np.random.default_rng(0) if rng is None else rng)
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
