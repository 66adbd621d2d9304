"""Lesson 08's figures and explorer: what an L2 penalty λ·Σw² does to weight norms and gradient
norms while a network trains, for a whole grid of λ at once.

The figures draw any :class:`gradclinic.training.L2Runs`. The explorer draws
:func:`gradclinic.training.grid_runs`, each setup's grid trained once and cached, so a slider move
only picks rows of arrays that already exist.
"""

import numpy as np

from gradclinic.plots import decade_limits, fast_log_axis
from gradclinic.training import DIGITS_MLP, LAMBDA_GRID, SETUPS, grid_runs
from gradclinic.widgets import Explorer


# -- figures ---------------------------------------------------------------------------------
def _lambda_label(lam):
    return "λ = 0" if lam == 0 else f"λ = {lam:.0e}"


def weight_growth_figure(runs, shown_lams):
    """Left: the kernels' norm ‖W‖ at every epoch end for each λ in ``shown_lams``. Right: the
    final ‖W‖ and the test accuracy against λ over the whole grid (λ = 0 at the left edge)."""
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = np.arange(runs.setup.epochs + 1)
    for lam in shown_lams:
        k = runs.index_of(lam)
        left.plot(epochs, runs.epoch_ends(runs.weight_norms)[:, k], label=_lambda_label(runs.lams[k]))
    left.set(xlabel="epoch", ylabel="‖W‖ over all kernels", title="weight norm during training")
    left.legend(ncols=2)
    positions = _lambda_positions(runs.lams)
    right.plot(positions, runs.weight_norms[-1], "o-", label="final ‖W‖")
    right.set(xscale="log", xlabel="λ (log; the leftmost point is λ = 0)", ylabel="final ‖W‖",
              title="after training, across the λ grid")
    twin = right.twinx()
    twin.plot(positions, runs.test_accuracy, "s--", color="C2", label="test accuracy")
    twin.set(ylabel="test accuracy", ylim=(0, 1))
    twin.grid(False)
    right.legend(handles=right.get_lines() + twin.get_lines(), loc="lower left")
    return figure


def _lambda_positions(lams):
    """Where to put each λ on a log axis: λ = 0 goes one grid step left of the smallest λ > 0."""
    positive = lams[lams > 0]
    step = (positive[1] / positive[0]) if positive.size > 1 else 10.0
    return np.where(lams > 0, lams, positive.min() / step ** 2 if positive.size else 1.0)


def stability_map_figure(runs, lams, learning_rates):
    """The first overflowing step of each (λ, learning rate) run of ``runs``, whose copies are
    the grid ``lams`` × ``learning_rates`` (λ varying slowest); 'ok' where it stayed finite."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    steps = runs.first_nonfinite_step().reshape(len(lams), len(learning_rates))
    accuracy = runs.test_accuracy.reshape(steps.shape)
    figure, ax = plt.subplots(figsize=(8, 3.6))
    ax.imshow(steps > 0, cmap=ListedColormap(["#d9f0d3", "#f4a582"]), vmin=0, vmax=1, aspect="auto")
    for (i, j), step in np.ndenumerate(steps):
        ax.text(j, i, f"NaN at step {step}" if step else f"finite · acc {accuracy[i, j]:.2f}",
                ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(learning_rates)), [f"{r:g}" for r in learning_rates])
    ax.set_yticks(range(len(lams)), [f"{lam:g}" for lam in lams])
    ax.set(xlabel="SGD learning rate", ylabel="λ",
           title=f"{len(runs.setup.hidden)} hidden layers, {runs.setup.activation}, one epoch: overflow or test accuracy")
    ax.grid(False)
    return figure


# -- the explorer ----------------------------------------------------------------------------
class L2Explorer(Explorer):
    """λ and setup → the weight norm and the gradient norms over training, beside λ = 0.
    Every run is trained once (:func:`grid_runs`); a move only redraws.

    The axes depend on the setup only: their ranges hold every λ of the grid, so moving the
    λ slider moves the curves (the weight norm sinking as λ grows), not the axes."""

    def __init__(self, setup=DIGITS_MLP, lam=1e-3):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt

        self.runs = {name: grid_runs(name) for name in SETUPS}
        figure, (self.norm_ax, self.grad_ax) = plt.subplots(1, 2, figsize=(10, 4.4))
        (self.norm_line,) = self.norm_ax.plot([], [], color="C0", label="‖W‖, this λ")
        (self.norm_base,) = self.norm_ax.plot([], [], "--", color="0.5", lw=1, label="‖W‖, λ = 0")
        self.norm_ax.set(ylabel="‖W‖ over all kernels (log)", title="weight norm")
        (self.data_grad_line,) = self.grad_ax.plot([], [], color="C0", label="‖∂data/∂W‖, this λ")
        (self.penalty_grad_line,) = self.grad_ax.plot([], [], color="C1", label="‖2λW‖, the penalty's")
        (self.data_grad_base,) = self.grad_ax.plot([], [], "--", color="0.5", lw=1, label="‖∂data/∂W‖, λ = 0")
        self.grad_ax.set(ylabel="gradient norm (log)", title="gradient norms")
        for ax in (self.norm_ax, self.grad_ax):
            # Log scales, for a collapse to 0.001 and a blow-up to 1e9, with plain "1e+03" labels:
            # the default 10^k ones go through mathtext, a fifth of a redraw.
            fast_log_axis(ax)
        self.overflow_marks = [ax.axvline(0, color="C3", ls=":", lw=1.5, label="overflow (NaN)")
                               for ax in (self.norm_ax, self.grad_ax)]
        for ax in (self.norm_ax, self.grad_ax):  # below the panels: the curves cover all of them
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=8)
        self.title = figure.suptitle(" ", fontsize=11)
        controls = {
            "setup": widgets.Dropdown(options=list(SETUPS), value=setup, description="setup",
                                      layout=widgets.Layout(width="420px")),
            "lam": widgets.SelectionSlider(options=[(_lambda_label(lam)[4:], float(lam)) for lam in LAMBDA_GRID],
                                           value=float(LAMBDA_GRID[np.argmin(np.abs(LAMBDA_GRID - lam))]),
                                           description="λ", continuous_update=True),
        }
        super().__init__(figure, controls)
        self.moving(self.norm_line, self.norm_base, self.data_grad_line, self.penalty_grad_line,
                    self.data_grad_base, *self.overflow_marks, self.title)
        self.draw(**self.values())

    def background_key(self):
        """The axis ranges and the x label (epoch or step), which change with the setup."""
        return super().background_key() + tuple(ax.get_xlabel() for ax in (self.norm_ax, self.grad_ax))

    @staticmethod
    def limits(series):
        """(weight-norm range, gradient-norm range) in whole decades around every run of the
        grid (the finite, positive values of ``series``, as :meth:`curves` gives them)."""
        return (decade_limits(series["norms"], margin=1.5),
                decade_limits(np.concatenate([series["data"].ravel(), series["penalty"].ravel()]), margin=1.5))

    def curves(self, setup, lam):
        """The run of ``setup`` nearest ``lam`` as (runs, its index k, x unit, series): per epoch
        (norms at epoch ends, gradients averaged over the epoch) when the setup trains several
        epochs, else per step. Series are (points, K) arrays: "norms", "data", "penalty"."""
        runs = self.runs[setup]
        k = runs.index_of(lam)
        if runs.setup.epochs > 1:
            return runs, k, "epoch", {"norms": runs.epoch_ends(runs.weight_norms),
                                      "data": runs.epoch_means(runs.data_grad_norms),
                                      "penalty": runs.epoch_means(runs.penalty_grad_norms)}
        return runs, k, "step", {"norms": runs.weight_norms, "data": runs.data_grad_norms,
                                 "penalty": runs.penalty_grad_norms}

    def draw(self, setup, lam):
        runs, k, unit, series = self.curves(setup, lam)
        x_norms = np.arange(len(series["norms"]))  # 0 = before training
        x_grads = x_norms[1:]
        self.norm_line.set_data(x_norms, series["norms"][:, k])
        self.norm_base.set_data(x_norms, series["norms"][:, 0])
        self.data_grad_line.set_data(x_grads, series["data"][:, k])
        penalty = series["penalty"][:, k]
        self.penalty_grad_line.set_data(x_grads, np.where(penalty > 0, penalty, np.nan))  # none at λ = 0
        self.data_grad_base.set_data(x_grads, series["data"][:, 0])
        overflow = runs.first_nonfinite_step()[k]
        where = overflow / (runs.steps_per_epoch if unit == "epoch" else 1)
        for mark in self.overflow_marks:
            mark.set_xdata([where, where])
            mark.set_visible(bool(overflow))
        for ax, y_range in zip((self.norm_ax, self.grad_ax), self.limits(series)):
            ax.set_xlim(0, x_norms[-1])
            ax.set_ylim(*y_range)
            ax.set_xlabel(unit)
        fate = f"overflow at step {overflow}" if overflow else f"test accuracy {runs.test_accuracy[k]:.3f}"
        self.title.set_text(f"{setup} · {_lambda_label(runs.lams[k])}: ‖W‖ {series['norms'][0, k]:.1f} → "
                            f"{series['norms'][-1, k]:.1f}, {fate}")
