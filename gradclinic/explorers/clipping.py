"""Lesson 07's explorer: gradient descent on a deep linear net, with and without clipping.

A net of ``depth`` linear layers (width 8, weights near the identity) learns a random linear
map by full-batch gradient descent on the squared error ‖output − target‖², averaged over
the batch. Each slider move trains it
twice for 50 steps in vectorised NumPy — once without clipping, once with the chosen
clipping — and plots the loss and the gradient's global norm at every step. Nothing is
retrained in Keras: a move at depth 50 costs a few tens of milliseconds.
"""

import numpy as np

from gradclinic.widgets import Explorer

MAX_DEPTH = 50
WIDTH = 8
BATCH = 64
STEPS = 50
MODES = ("by global norm", "by norm", "by value")
DIVERGED = 1e12  # a loss above this (or not finite) ends a run: the next steps would overflow


class ClippedDescent:
    """Full-batch gradient descent on a deep linear regression, with optional clipping.

    The student computes ``x @ W[1] @ … @ W[depth]`` (rows are examples); the target is
    ``x @ teacher`` with a fixed random ``teacher``. Weights start at I + small noise, drawn
    once from ``rng`` for the deepest net; a shallower net uses the first ``depth`` of them.
    """

    def __init__(self, rng, width=WIDTH, max_depth=MAX_DEPTH, batch=BATCH):
        self.width, self.max_depth = width, max_depth
        self.x = rng.normal(size=(batch, width))
        self.y = self.x @ rng.normal(scale=width ** -0.5, size=(width, width))
        self.initial = np.eye(width) + rng.normal(scale=0.1 / np.sqrt(width), size=(max_depth, width, width))
        self.zero_output_loss = float(np.sum(self.y ** 2) / batch)  # where a collapsed net (output 0) sits

    def loss_and_gradients(self, weights):
        """The loss (batch mean of ‖error‖²) and its gradient for every layer, stacked like
        ``weights`` (depth, w, w)."""
        activations = [self.x]
        for weight in weights:
            activations.append(activations[-1] @ weight)
        error = activations[-1] - self.y
        delta = 2.0 * error / len(error)  # ∂loss/∂output for the batch mean of ‖error‖²
        gradients = np.empty_like(weights)
        for layer in range(len(weights) - 1, -1, -1):
            gradients[layer] = activations[layer].T @ delta
            delta = delta @ weights[layer].T
        return float(np.sum(error ** 2) / len(error)), gradients

    @staticmethod
    def clip(gradients, mode, threshold):
        """The stacked gradients (depth, w, w) as the optimizer would apply them."""
        if mode == "none":
            return gradients
        if mode == "by value":
            return np.clip(gradients, -threshold, threshold)
        if mode == "by norm":  # one factor per layer's tensor
            norms = np.sqrt(np.sum(gradients ** 2, axis=(1, 2)))
            return gradients * (threshold / np.maximum(norms, threshold))[:, None, None]
        if mode == "by global norm":  # one factor for all
            return gradients * (threshold / max(np.sqrt(np.sum(gradients ** 2)), threshold))
        raise ValueError(f"mode must be 'none' or one of {MODES}, got {mode!r}")

    def run(self, depth, learning_rate, mode="none", threshold=1.0, steps=STEPS):
        """Train for ``steps`` steps. Returns three arrays of shape (steps,): the loss before
        each step, the global norm of the raw gradient, and that of the applied (clipped)
        gradient. After a run diverges (loss above ``DIVERGED`` or not finite) they hold NaN."""
        if not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must lie in 1..{self.max_depth}, got {depth}")
        if learning_rate <= 0 or threshold <= 0:
            raise ValueError("learning_rate and threshold must be positive")
        weights = self.initial[:depth].copy()
        history = np.full((3, steps), np.nan)
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is the lesson, not a warning
            for step in range(steps):
                loss, gradients = self.loss_and_gradients(weights)
                if not loss < DIVERGED:
                    break
                applied = self.clip(gradients, mode, threshold)
                history[:, step] = loss, np.sqrt(np.sum(gradients ** 2)), np.sqrt(np.sum(applied ** 2))
                weights -= learning_rate * applied
        return history


def diverged_at(losses):
    """The first step whose loss is missing (the run diverged there), or None."""
    missing = np.flatnonzero(np.isnan(losses))
    return int(missing[0]) if missing.size else None


def _summary(name, losses):
    step = diverged_at(losses)
    return f"{name}: diverged at step {step}" if step is not None else f"{name}: final loss {losses[-1]:.3g}"


class ClippingExplorer(Explorer):
    """Learning rate, threshold, clipping mode and depth → loss and gradient norm over 50 steps."""

    def __init__(self, rng=None, depth=20, learning_rate=0.3, threshold=1.0, mode="by global norm"):
        import ipywidgets as widgets
        import matplotlib.pyplot as plt

        self.descent = ClippedDescent(np.random.default_rng(0) if rng is None else rng)
        self._baseline_key, self._baseline = None, None
        figure, (self.loss_axes, self.norm_axes) = plt.subplots(1, 2, figsize=(10, 4.4))
        steps, ones = np.arange(STEPS), np.ones(STEPS)
        grey = {"color": "0.6", "marker": ".", "label": "no clipping"}
        (self.baseline_loss,) = self.loss_axes.plot(steps, ones, **grey)
        (self.clipped_loss,) = self.loss_axes.plot(steps, ones, ".-", color="C0", label="clipped")
        (self.blowup_marks,) = self.loss_axes.plot([], [], "x", color="C3", ms=9, mew=2, label="diverged")
        self.loss_axes.axhline(self.descent.zero_output_loss, color="0.3", ls=":", lw=1,
                               label="loss of output 0 (net collapsed)")
        (self.baseline_norm,) = self.norm_axes.plot(steps, ones, **grey)
        (self.raw_norm,) = self.norm_axes.plot(steps, ones, ".-", color="C0",
                                              label="clipped run: raw gradient")
        (self.applied_norm,) = self.norm_axes.plot(steps, ones, "--", color="C1",
                                                   label="clipped run: gradient applied")
        for axes, label in ((self.loss_axes, "loss (log)"), (self.norm_axes, "global gradient norm (log)")):
            axes.set_yscale("log")
            axes.set_xlabel("step")
            axes.set_ylabel(label)
            axes.set_xlim(-1, STEPS)
            axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, fontsize=8)
        controls = {
            "learning_rate": widgets.FloatLogSlider(value=learning_rate, base=10, min=-3, max=0, step=0.05,
                                                    description="learning rate", readout_format=".3g"),
            "threshold": widgets.FloatLogSlider(value=threshold, base=10, min=-2, max=2, step=0.05,
                                                description="threshold", readout_format=".3g"),
            "mode": widgets.Dropdown(options=MODES, value=mode, description="clip"),
            "depth": widgets.IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth"),
        }
        super().__init__(figure, controls)
        self.draw(**self.values())

    def baseline(self, depth, learning_rate):
        """The unclipped run, kept while only the threshold or the mode moves."""
        if self._baseline_key != (depth, learning_rate):
            self._baseline_key = (depth, learning_rate)
            self._baseline = self.descent.run(depth, learning_rate)
        return self._baseline

    def draw(self, learning_rate, threshold, mode, depth):
        base = self.baseline(depth, learning_rate)
        clipped = self.descent.run(depth, learning_rate, mode, threshold)
        for line, values in ((self.baseline_loss, base[0]), (self.clipped_loss, clipped[0]),
                             (self.baseline_norm, base[1]), (self.raw_norm, clipped[1]),
                             (self.applied_norm, clipped[2])):
            line.set_ydata(values)
        last = [(step - 1, run[0][step - 1]) for run in (base, clipped)
                if (step := diverged_at(run[0])) is not None and step > 0]
        self.blowup_marks.set_data([s for s, _ in last], [loss for _, loss in last])
        _fit_log_limits(self.loss_axes, base[0], clipped[0], [self.descent.zero_output_loss])
        _fit_log_limits(self.norm_axes, base[1], clipped[1], clipped[2])
        self.figure.suptitle(f"depth {depth}, learning rate {learning_rate:.3g}, clipped {mode} at "
                             f"{threshold:.3g}.  {_summary('No clipping', base[0])};  "
                             f"{_summary('clipped', clipped[0])}", fontsize=10)


def _fit_log_limits(axes, *series):
    """Log-axis limits around every finite positive value of ``series``."""
    values = np.concatenate([np.ravel(s) for s in series])
    values = values[np.isfinite(values) & (values > 0)]
    low, high = (values.min(), values.max()) if values.size else (1e-3, 1.0)
    axes.set_ylim(low / 3, high * 3)
