"""Lesson 07's explorer: gradient descent on a deep linear net, with and without clipping.

A net of ``depth`` linear layers (width 8, weights near the identity) learns a random linear
map by full-batch gradient descent on the squared error ‖output − target‖², averaged over
the batch. Each slider move trains it twice for 50 steps in vectorised NumPy — once without
clipping, once with the chosen clipping — and plots the loss and the gradient's global norm at
every step. Nothing is retrained in Keras: a move at depth 50 costs a few tens of milliseconds.
The clipping is written into the training loop, on stacked runs: clipping a list of gradients is
the lesson's exercise, so the toolkit offers no function that does it.

The axes do not follow the data of one move: their ranges cover every learning rate,
threshold and mode the sliders offer (probed once, as stacked runs), and every depth from 3
to 50 shares them, so moving a slider moves the curves against a fixed axis.
"""

from collections import OrderedDict

import numpy as np

from gradclinic.plots import decade_limits, fast_log_axis
from gradclinic.widgets import Explorer

MAX_DEPTH = 50
WIDTH = 8
BATCH = 64
STEPS = 50
MODES = ("by global norm", "by norm", "by value")
DIVERGED = 1e12  # a loss above this (or not finite) ends a run: the next steps would overflow
LEARNING_RATES = (1e-3, 1.0)  # the learning-rate slider's ends
THRESHOLDS = (1e-2, 1e2)  # the threshold slider's ends
SHALLOW_DEPTH = 2  # up to this depth, each depth has its own axis ranges (see ClippingExplorer.limits)
KEPT_RUNS = 64  # runs the explorer keeps, each three (steps,) arrays
DEEP_PROBES = (5, MAX_DEPTH)  # the depths probed for the ranges of every deeper net (a shallow and the deepest)


class ClippedDescent:
    """Full-batch gradient descent on a deep linear regression, with optional clipping.

    The student computes ``x @ W[1] @ … @ W[depth]`` (rows are examples); the target is
    ``x @ teacher`` with a fixed random ``teacher``. Weights start at I + small noise, drawn
    once from ``rng`` for the deepest net; a shallower net uses the first ``depth`` of them.
    Several runs of one depth (each its own learning rate, mode and threshold) train side by
    side as stacked arrays (:meth:`run_many`); :meth:`run` is one of them.
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
        losses, gradients = self._stacked_loss_and_gradients(np.asarray(weights)[:, None])
        return float(losses[0]), gradients[:, 0]

    def _stacked_loss_and_gradients(self, weights):
        """:meth:`loss_and_gradients` for R runs at once: weights (depth, R, w, w) → losses (R,),
        gradients (depth, R, w, w).

        Backpropagation through w×w matrices instead of (batch, w) activations: with
        P_l = W[1]…W[l], the gradient for W[l] is P_(l−1)ᵀ · xᵀ(∂loss/∂output) · (W[l+1]…W[depth])ᵀ.
        """
        products = [weights[0]]  # P_1 … P_depth, each (R, w, w)
        for weight in weights[1:]:
            products.append(products[-1] @ weight)
        error = self.x @ products[-1] - self.y  # (R, batch, w)
        delta = self.x.T @ (2.0 * error / len(self.x))  # xᵀ ∂loss/∂output, (R, w, w)
        gradients = np.empty_like(weights)
        for layer in range(len(weights) - 1, 0, -1):
            gradients[layer] = np.swapaxes(products[layer - 1], -1, -2) @ delta
            delta = delta @ np.swapaxes(weights[layer], -1, -2)
        gradients[0] = delta
        return np.sum(error ** 2, axis=(-2, -1)) / len(self.x), gradients

    def run(self, depth, learning_rate, mode="none", threshold=1.0, steps=STEPS):
        """Train for ``steps`` steps. Returns three arrays of shape (steps,): the loss before
        each step, the global norm of the raw gradient, and that of the applied (clipped)
        gradient. After a run diverges (loss above ``DIVERGED`` or not finite) they hold NaN."""
        return self.run_many(depth, [learning_rate], [mode], [threshold], steps)[:, 0]

    def run_many(self, depth, learning_rates, modes, thresholds, steps=STEPS):
        """R runs of :meth:`run` side by side, run r with ``learning_rates[r]``, ``modes[r]``
        and ``thresholds[r]``. Returns (3, R, steps): loss, raw and applied global norm."""
        if not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must lie in 1..{self.max_depth}, got {depth}")
        rates, thresholds = np.asarray(learning_rates, float), np.asarray(thresholds, float)
        modes = np.asarray(modes)
        if not np.all(rates > 0) or not np.all(thresholds > 0):
            raise ValueError("learning_rate and threshold must be positive")
        unknown = set(modes.tolist()) - {"none", *MODES}
        if unknown:
            raise ValueError(f"mode must be 'none' or one of {MODES}, got {sorted(unknown)}")
        weights = np.repeat(self.initial[:depth, None], len(rates), axis=1)  # (depth, R, w, w)
        running = np.arange(len(rates))  # runs not diverged yet: a diverged one leaves the stack
        history = np.full((3, len(rates), steps), np.nan)
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is the lesson, not a warning
            for step in range(steps):
                losses, gradients = self._stacked_loss_and_gradients(weights)
                finite = losses < DIVERGED
                if not finite.all():
                    running, weights, losses, gradients = (running[finite], weights[:, finite], losses[finite],
                                                           gradients[:, finite])
                    if not running.size:
                        break
                # The optimizer's clipping, run r by modes[r] at thresholds[r]: "by value" caps each
                # entry, "by norm" scales each layer's tensor by c / max(its norm, c), "by global norm"
                # all of a run's tensors by c / max(their norm together, c).
                mode, threshold = modes[running], thresholds[running]
                layer_norms = np.sqrt(np.einsum("lrij,lrij->lr", gradients, gradients))  # one per tensor
                total = np.sqrt(np.sum(layer_norms ** 2, axis=0))  # one for all of a run's tensors
                factor = np.where(mode == "by norm", threshold / np.maximum(layer_norms, threshold), 1.0)
                factor = np.where(mode == "by global norm", threshold / np.maximum(total, threshold), factor)
                cap = threshold[None, :, None, None]
                applied = np.where((mode == "by value")[None, :, None, None], np.clip(gradients, -cap, cap), gradients)
                applied = applied * factor[:, :, None, None]
                history[:, running, step] = losses, _global_norms(gradients), _global_norms(applied)
                weights -= rates[running][:, None, None] * applied
        return history


def _global_norms(gradients):
    """(R,) √(Σ over layers and entries of g²) of stacked gradients (depth, R, w, w)."""
    return np.sqrt(np.einsum("lrij,lrij->r", gradients, gradients))


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
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt

        self.descent = ClippedDescent(np.random.default_rng(0) if rng is None else rng)
        self._runs = OrderedDict()  # (depth, learning rate, mode, threshold) → a run, the latest last
        self._group_limits = {}
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
            fast_log_axis(axes)  # plain "1e+03" labels, not mathtext: cheaper when a range changes
            axes.set_xlabel("step")
            axes.set_ylabel(label)
            axes.set_xlim(-1, STEPS)
            axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, fontsize=8)
        self.title = figure.suptitle(" ", fontsize=10)
        controls = {
            "learning_rate": widgets.FloatLogSlider(value=learning_rate, base=10, min=-3, max=0, step=0.05,
                                                    description="learning rate", readout_format=".3g"),
            "threshold": widgets.FloatLogSlider(value=threshold, base=10, min=-2, max=2, step=0.05,
                                                description="threshold", readout_format=".3g"),
            "mode": widgets.Dropdown(options=MODES, value=mode, description="clip"),
            "depth": widgets.IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth"),
        }
        super().__init__(figure, controls)
        self.moving(self.baseline_loss, self.clipped_loss, self.blowup_marks, self.baseline_norm, self.raw_norm,
                    self.applied_norm, self.title)
        self.draw(**self.values())

    def runs(self, depth, learning_rate, mode, threshold):
        """(the unclipped run, the clipped run), each as :meth:`ClippedDescent.run` returns it.
        The last runs are kept (a slider moved back redraws at once); missing ones train
        side by side."""
        wanted = [(depth, learning_rate, "none", 1.0), (depth, learning_rate, mode, float(threshold))]
        missing = list(dict.fromkeys(key for key in wanted if key not in self._runs))
        if missing:
            _, rates, modes, thresholds = zip(*missing)
            trained = self.descent.run_many(depth, rates, modes, thresholds)
            for index, key in enumerate(missing):
                self._runs[key] = trained[:, index]
        for key in wanted:
            self._runs.move_to_end(key)
        while len(self._runs) > KEPT_RUNS:
            self._runs.popitem(last=False)
        return tuple(self._runs[key] for key in wanted)

    def limits(self, depth):
        """(loss range, norm range) in whole decades, for every learning rate, threshold and
        mode the sliders offer, at every depth of ``depth``'s group: 1 and 2 layers each their
        own (they can fit the map exactly: their loss falls many decades further), 3 to 50
        layers one (so the depth slider moves the curves, not the axes).

        Probed once per group with 80 stacked runs per probe depth, on a coarse grid of both
        sliders (their ends included); :meth:`draw` widens a range that the rare setting
        between grid points leaves. Every loss drawn is below ``DIVERGED`` (a run stops there),
        so the loss axis ends a decade above it.
        """
        group = (depth,) if depth <= SHALLOW_DEPTH else DEEP_PROBES
        if group not in self._group_limits:
            rates = np.append(np.logspace(*np.log10(LEARNING_RATES), 7), 0.3)  # every half decade, and 0.3
            thresholds = np.logspace(*np.log10(THRESHOLDS), 3)
            settings = [("none", 1.0)] + [(mode, threshold) for mode in MODES for threshold in thresholds]
            rate, mode, threshold = zip(*[(rate, *setting) for rate in rates for setting in settings])
            probes = np.concatenate([self.descent.run_many(d, rate, mode, threshold) for d in group], axis=1)
            low, _ = decade_limits(np.append(probes[0], self.descent.zero_output_loss))
            self._group_limits[group] = (low, 10 * DIVERGED), decade_limits(probes[1:])
        return self._group_limits[group]

    def draw(self, learning_rate, threshold, mode, depth):
        base, clipped = self.runs(depth, learning_rate, mode, threshold)
        for line, values in ((self.baseline_loss, base[0]), (self.clipped_loss, clipped[0]),
                             (self.baseline_norm, base[1]), (self.raw_norm, clipped[1]),
                             (self.applied_norm, clipped[2])):
            line.set_ydata(values)
        last = [(step - 1, run[0][step - 1]) for run in (base, clipped)
                if (step := diverged_at(run[0])) is not None and step > 0]
        self.blowup_marks.set_data([s for s, _ in last], [loss for _, loss in last])
        loss_range, norm_range = self.limits(depth)
        # A setting between the probe's grid points may still leave the range: widen it then,
        # by whole decades, rather than hide points.
        self.loss_axes.set_ylim(*_covering(loss_range, base[0], clipped[0]))
        self.norm_axes.set_ylim(*_covering(norm_range, base[1], clipped[1], clipped[2]))
        self.title.set_text(f"depth {depth}, learning rate {learning_rate:.3g}, clipped {mode} at "
                            f"{threshold:.3g}.  {_summary('No clipping', base[0])};  "
                            f"{_summary('clipped', clipped[0])}")


def _covering(limits, *series):
    """``limits`` (low, high), widened to whole decades around any finite positive value of
    ``series`` outside them."""
    values = np.concatenate([np.ravel(s) for s in series])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size == 0 or (limits[0] <= values.min() and values.max() <= limits[1]):
        return limits
    low, high = decade_limits(values, margin=1.0)
    return min(limits[0], low), max(limits[1], high)
