"""Lesson 07's explorer: gradient descent on a deep linear net, with and without clipping.

A net of ``depth`` linear layers learns a random linear map by full-batch gradient descent
(:class:`gradclinic.training.ClippedDescent`). Each slider move trains it twice for 50 steps —
once without clipping, once with the chosen clipping — and plots the loss and the gradient's
global norm at every step. Nothing is retrained in Keras: a move at depth 50 costs a few tens
of milliseconds.

The axes do not follow the data of one move: their ranges cover every learning rate,
threshold and mode the sliders offer (probed once, as stacked runs), and every depth from 3
to 50 shares them, so moving a slider moves the curves against a fixed axis.
"""

from collections import OrderedDict

import numpy as np

from gradclinic.plots import decade_limits, fast_log_axis
from gradclinic.training import CLIPPING_MODES, DESCENT_MAX_DEPTH, DESCENT_STEPS, DIVERGED, ClippedDescent, diverged_at
from gradclinic.widgets import Explorer

LEARNING_RATES = (1e-3, 1.0)  # the learning-rate slider's ends
THRESHOLDS = (1e-2, 1e2)  # the threshold slider's ends
SHALLOW_DEPTH = 2  # up to this depth, each depth has its own axis ranges (see ClippingExplorer.limits)
KEPT_RUNS = 64  # runs the explorer keeps, each three (steps,) arrays
DEEP_PROBES = (5, DESCENT_MAX_DEPTH)  # the depths probed for the ranges of every deeper net (a shallow and the deepest)


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
        steps, ones = np.arange(DESCENT_STEPS), np.ones(DESCENT_STEPS)
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
            axes.set_xlim(-1, DESCENT_STEPS)
            axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncols=2, fontsize=8)
        self.title = figure.suptitle(" ", fontsize=10)
        controls = {
            "learning_rate": widgets.FloatLogSlider(value=learning_rate, base=10, min=-3, max=0, step=0.05,
                                                    description="learning rate", readout_format=".3g"),
            "threshold": widgets.FloatLogSlider(value=threshold, base=10, min=-2, max=2, step=0.05,
                                                description="threshold", readout_format=".3g"),
            "mode": widgets.Dropdown(options=CLIPPING_MODES, value=mode, description="clip"),
            "depth": widgets.IntSlider(value=depth, min=1, max=DESCENT_MAX_DEPTH, description="depth"),
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
            settings = [("none", 1.0)] + [(mode, threshold) for mode in CLIPPING_MODES for threshold in thresholds]
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
