"""Lesson 02's explorer: how depth, the activation and the initial weights shape the gradient
each layer receives, and what a detector says about it.

A square MLP (width 64) is profiled at initialisation with :class:`~gradclinic.profiles.MLPProfiler`
(one compiled TensorFlow function per activation): the kernel-gradient norm ‖∂loss/∂W[l]‖ of
every layer, input side first. The verdict comes from a function the notebook passes in
(``verdict=diagnose``, the learner's own detector); this module holds no detector of its own.
"""

import numpy as np

from gradclinic.widgets import Explorer

MAX_DEPTH = 60
WIDTH = 64
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
WEIGHT_SCHEMES = ("glorot_uniform", "standard_normal")  # Keras's default, and N(0, 1)
NO_VERDICT = "implement diagnose to see a verdict"


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
    without redrawing the others.
    """

    def __init__(self, rng, width=WIDTH, max_depth=MAX_DEPTH):
        from gradclinic.profiles import MLPProfiler, draw_weights

        self.width, self.max_depth = width, max_depth
        self.profiler = MLPProfiler(width=width, batch=128, seed=0)
        self.kernels = {scheme: draw_weights(scheme, max_depth, width, rng) for scheme in WEIGHT_SCHEMES}

    def kernel_gradient_norms(self, depth, activation, weights="glorot_uniform"):
        """(depth,) ‖∂loss/∂W[l]‖ for l = 1..depth at initialisation, input side first, for a loss
        averaged over a batch of 128 standard-normal inputs (the profiler's unit-gradient loss)."""
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        if weights not in self.kernels:
            raise ValueError(f"weights must be one of {', '.join(WEIGHT_SCHEMES)}, got {weights!r}")
        if not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must lie in 1..{self.max_depth}, got {depth}")
        profile = self.profiler.profile(self.kernels[weights][:depth], activation)
        # The profiler's loss sums over its batch; Keras's losses average over it.
        return profile.kernel_grad_norms.astype(float) / self.profiler.batch


class CausesExplorer(Explorer):
    """Depth, activation and initial weights → the gradient-norm profile and ``verdict``'s call."""

    def __init__(self, rng=None, depth=20, activation="sigmoid", weights="glorot_uniform", verdict=None):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        self.profiles = CausesProfiles(np.random.default_rng(0) if rng is None else rng)
        self.verdict = verdict
        figure, self.axes = plt.subplots(figsize=(8, 3.8))
        ax = self.axes
        (self.norm_line,) = ax.plot([], [], "o-", ms=4, lw=1, label="‖∂loss/∂W[l]‖")
        (self.overflow_marks,) = ax.plot([], [], "x", color="C1", ms=7, mew=2, label="inf or NaN (overflow)")
        (self.underflow_marks,) = ax.plot([], [], "v", color="0.4", ms=6, label="exactly 0 (underflow)")
        ax.set_yscale("log")
        ax.set_xlabel("layer l (input side left)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
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
        self.draw(**self.values())

    def draw(self, depth, activation, weights):
        norms = self.profiles.kernel_gradient_norms(depth, activation, weights)
        layers = np.arange(1, depth + 1)
        finite = np.isfinite(norms)
        shown = finite & (norms > 0)
        values = norms[shown] if shown.any() else np.array([1.0])
        low, high = values.min() / 5, values.max() * 5
        self.norm_line.set_data(layers[shown], norms[shown])
        self.overflow_marks.set_data(layers[~finite], np.full((~finite).sum(), high))
        self.underflow_marks.set_data(layers[finite & (norms == 0)], np.full((finite & (norms == 0)).sum(), low))
        self.axes.set_xlim(0.5, max(depth, 2) + 0.5)
        self.axes.set_ylim(low / 2, high * 2)
        if shown.all():
            ends = f"first/last = {norms[0] / norms[-1]:.2g}"
        else:
            ends = f"{(~shown).sum()} of {depth} layers have no finite, positive gradient"
        self.axes.set_title(f"{activation}, {weights} weights, depth {depth}: {ends}")
        self.verdict_text.set_text(describe_verdict(self.verdict, norms))
