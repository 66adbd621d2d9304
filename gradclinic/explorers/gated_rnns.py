"""Lesson 05's explorer: for every gap length and cell type, the accuracy on the agreement task
and ‖∂loss/∂x_t‖ through time.

Training is the slow part, so it happens once, in :func:`gradclinic.training.gap_sweep`, which
trains every cell on every gap and keeps the results (:class:`gradclinic.training.SweepResults`);
:class:`GatedRnnExplorer` only looks them up and redraws.
"""

import numpy as np

from gradclinic.plots import decade_limits, fast_log_axis, log_safe
from gradclinic.widgets import Explorer

NO_PROFILE = "implement timestep_gradient_norms, then run the sweep again, to see the profile"


class GatedRnnExplorer(Explorer):
    """Gap length and cell type → accuracy against gap (all cells) and the chosen cell's
    gradient through time, before and after training. Reads :class:`gradclinic.training.SweepResults` only."""

    def __init__(self, results, gap=None, cell="SimpleRNN"):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt

        self.results = results
        gap = results.gaps[-1] if gap is None else gap
        figure, (self.accuracy_axes, self.profile_axes) = plt.subplots(
            1, 2, figsize=(9.5, 3.8), gridspec_kw={"width_ratios": [1, 1.5]})
        ax = self.accuracy_axes
        self.accuracy_lines = {}
        for index, name in enumerate(results.cells):
            (self.accuracy_lines[name],) = ax.plot(results.gaps, [results.accuracy[name, g] for g in results.gaps],
                                                   "o-", color=f"C{index}", label=name)
        ax.axhline(0.5, color="0.5", lw=1, ls=":", label="chance")
        (self.chosen_point,) = ax.plot([], [], "o", ms=13, mfc="none", mec="k", mew=1.5)
        ax.set_ylim(0.4, 1.05)
        ax.set_xlabel("gap (words between subject and verb)")
        ax.set_ylabel("test accuracy")
        # Drawn on every move, over the lines that move (as a full render would draw it).
        self.accuracy_legend = ax.legend(loc="lower left", fontsize=8)
        ax = self.profile_axes
        (self.initial_line,) = ax.plot([], [], "-", color="0.55", label="at initialisation")
        (self.trained_line,) = ax.plot([], [], "-", color="C0", label="after training")
        self.subject_marker = ax.axvline(1, color="0.3", lw=1, ls="--")
        self.message = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center", wrap=True)
        fast_log_axis(ax)
        ax.set_xlabel("time step t (t = 1: the subject)")
        ax.set_ylabel("‖∂loss/∂x_t‖ / ‖∂loss/∂x_last‖")
        legend = ax.legend(loc="lower right", fontsize=8)
        # The legend's sample of "after training" takes the chosen cell's colour, as its line does.
        self.trained_key = legend.legend_handles[1]
        controls = {
            "gap": widgets.SelectionSlider(options=list(results.gaps), value=gap, description="gap"),
            "cell": widgets.ToggleButtons(options=list(results.cells), value=cell, description="cell"),
        }
        super().__init__(figure, controls)
        self.moving(*self.accuracy_lines.values(), self.chosen_point, self.accuracy_legend, self.initial_line,
                    self.trained_line, self.trained_key, self.message, self.profile_axes.title)
        self.draw(**self.values())

    def _profile_limits(self):
        """The profile axes' ranges, the same for every cell and gap: the time steps of the
        longest sentence, and whole decades around every profile. Switching cells or gaps moves
        the lines against one scale, so a longer gap shows as a longer line whose subject end
        sinks lower."""
        relative = [profile / profile[-1] for profiles in (self.results.initial_profiles, self.results.trained_profiles)
                    for profile in profiles.values() if profile is not None]
        every = np.maximum(np.concatenate(relative + [[1.0]]), 1e-30)
        return (-0.5, max(self.results.gaps) + 1.5), decade_limits(every, margin=3)

    def draw(self, gap, cell):
        results = self.results
        color = f"C{results.cells.index(cell)}"
        for name, line in self.accuracy_lines.items():
            line.set_alpha(1.0 if name == cell else 0.3)
            line.set_linewidth(2.6 if name == cell else 1.2)
        self.chosen_point.set_data([gap], [results.accuracy[cell, gap]])
        initial, trained = results.initial_profiles[cell, gap], results.trained_profiles[cell, gap]
        self.trained_line.set_color(color)
        self.trained_key.set_color(color)
        ax = self.profile_axes
        x_range, y_range = self._profile_limits()  # set before any return: a log axis left at (0, 1) cannot render
        ax.set_xlim(*x_range)
        ax.set_ylim(*y_range)
        if initial is None or trained is None:
            for line in (self.initial_line, self.trained_line):
                line.set_data([], [])
            self.message.set_text(NO_PROFILE)
            ax.set_title(f"{cell}, gap {gap}: accuracy {results.accuracy[cell, gap]:.2f}")
            return
        self.message.set_text("")
        steps = np.arange(len(initial))
        relative_initial, relative_trained = log_safe(initial / initial[-1]), log_safe(trained / trained[-1])
        self.initial_line.set_data(steps, relative_initial)
        self.trained_line.set_data(steps, relative_trained)
        ax.set_title(f"{cell}, gap {gap}: accuracy {results.accuracy[cell, gap]:.2f}\nsubject/last "
                     f"{relative_initial[1]:.1e} → {relative_trained[1]:.1e} (initial → trained)")
