"""Lesson 12's explorer: mean-field theory beside real wide random tanh nets.

The measured side comes from :class:`gradclinic.mean_field.RandomTanhNets`, whose weights are
drawn once: a point (σ_w, σ_b) only rescales them, so moving a slider costs one vectorised
forward and backward pass (a few milliseconds), never a new draw.

The theory comes from the learner's own functions: the phase diagram is the learner's
``chi1`` evaluated once on a (σ_w, σ_b) grid (:func:`gradclinic.mean_field.chi1_grid`) and
cached; nothing here computes a Gaussian expectation by itself.
"""

import math

import numpy as np

from gradclinic.mean_field import GRID_SIGMA_B, GRID_SIGMA_W, RandomTanhNets, chi1_grid, growth_rate
from gradclinic.plots import axis_end, decade_limits, fast_log_axis, log_safe
from gradclinic.widgets import Explorer

SIGMA_W_RANGE = (0.5, 3.0)
SIGMA_B_RANGE = (0.0, 1.0)
DECADES_SHOWN = 3.0


class SignalPropagationExplorer(Explorer):
    """σ_w, σ_b and depth sliders: the tanh phase diagram (the learner's χ₁ = 1 contour, colour
    = predicted gradient change over the depth) with a marker at the chosen point, and beside
    it the gradient profile measured on real random tanh nets there against χ₁^((L−l)/2).

    ``grid``: the learner's χ₁ on (GRID_SIGMA_B, GRID_SIGMA_W), from
    :func:`~gradclinic.mean_field.chi1_grid`, if already computed. A point where ``chi1`` raises
    ValueError shows no theory line.

    The profile's axes depend only on the depth's bucket (10, 20, 50 layers): they span the
    theory's profile at every (σ_w, σ_b) of the sliders, so moving σ_w or σ_b moves the points
    (falling away in the ordered phase, climbing in the chaotic one) against a fixed scale.
    """

    def __init__(self, chi1, fixed_point_q, sigma_w=1.5, sigma_b=0.3, depth=40, nets=None, grid=None):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt

        self.chi1, self.fixed_point_q = chi1, fixed_point_q
        self.nets = nets or RandomTanhNets(n_nets=2, batch=4)
        # once (or handed over from chi1_grid): slider moves only rescale it by the depth
        self.log_chi1 = np.log10(chi1_grid(chi1) if grid is None else np.asarray(grid, dtype=float))
        self._log_chi1_range = self._theory_range()
        figure, (self.phase_ax, self.profile_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
        extent = (GRID_SIGMA_W[0], GRID_SIGMA_W[-1], GRID_SIGMA_B[0], GRID_SIGMA_B[-1])
        self.image = self.phase_ax.imshow(self.log_chi1, origin="lower", extent=extent, aspect="auto",
                                          cmap="coolwarm", interpolation="bilinear", vmin=-DECADES_SHOWN, vmax=DECADES_SHOWN)
        figure.colorbar(self.image, ax=self.phase_ax, label="log₁₀ predicted gradient change over depth")
        self.edge = self.phase_ax.contour(GRID_SIGMA_W, GRID_SIGMA_B, self.log_chi1, levels=[0.0], colors="k")
        # Unclipped: the sliders' ends lie just outside the grid, and the marker must show whole there.
        (self.marker,) = self.phase_ax.plot([], [], "o", ms=9, mfc="yellow", mec="k", clip_on=False)
        self.phase_ax.grid(False)  # no grid over the colour map
        self.phase_ax.set_xlabel("σ_w")
        self.phase_ax.set_ylabel("σ_b")
        self.phase_ax.set_title("tanh: black line χ₁ = 1 (edge of chaos)")
        (self.measured_line,) = self.profile_ax.plot([], [], "o", ms=4, label="measured ‖∂loss/∂h_l‖")
        (self.theory_line,) = self.profile_ax.plot([], [], "-", color="0.2", label="theory χ₁^((L−l)/2)")
        fast_log_axis(self.profile_ax)
        self.profile_ax.set_xlabel("layer l")
        self.profile_ax.set_ylabel("gradient norm / its value at layer L")
        # Upper right: every profile ends at 1 at layer L, below it, so no line crosses it.
        self.profile_ax.legend(loc="upper right")
        controls = {
            "sigma_w": widgets.FloatSlider(value=sigma_w, min=SIGMA_W_RANGE[0], max=SIGMA_W_RANGE[1], step=0.025,
                                           description="σ_w", continuous_update=True),
            "sigma_b": widgets.FloatSlider(value=sigma_b, min=SIGMA_B_RANGE[0], max=SIGMA_B_RANGE[1], step=0.025,
                                           description="σ_b", continuous_update=True),
            "depth": widgets.IntSlider(value=depth, min=10, max=self.nets.max_depth, description="depth L",
                                       continuous_update=True),
        }
        super().__init__(figure, controls)
        # The colour map changes with the depth, so it is drawn on every move, and with it what
        # lies over it (the edge of chaos, the marker).
        self.moving(self.image, self.edge, self.marker, self.measured_line, self.theory_line, self.profile_ax.title)
        self.draw(**self.values())

    def _theory_range(self):
        """(lowest, highest) log₁₀ χ₁ over the grid and the sliders' corners (where chi1 answers)."""
        values = [self.log_chi1[np.isfinite(self.log_chi1)]]
        for sigma_w in SIGMA_W_RANGE:
            for sigma_b in SIGMA_B_RANGE:
                try:
                    values.append([math.log10(self.chi1(sigma_w, sigma_b, np.tanh))])
                except (ValueError, ArithmeticError):
                    pass
        values = np.concatenate(values)
        values = values[np.isfinite(values)]
        return (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)

    def _limits(self, depth):
        """The profile's ranges for the depth's bucket: the theory χ₁^((L−l)/2) of every point of
        the sliders fits, with a decade to spare."""
        end = axis_end(depth, self.nets.max_depth)
        low, high = self._log_chi1_range
        spread = 10.0 ** (np.array([min(low, 0.0), max(high, 0.0)]) * (end - 1) / 2)
        return (0.5, end + 0.5), decade_limits(spread, margin=10)

    def point(self, sigma_w, sigma_b, depth):
        """(χ₁, measured per-layer rate, normalised measured profile (depth,)) at one point."""
        try:
            q_star = self.fixed_point_q(sigma_w, sigma_b, np.tanh)
            chi = self.chi1(sigma_w, sigma_b, np.tanh)
        except ValueError:
            return float("nan"), float("nan"), np.full(depth, np.nan)
        norms = self.nets.gradient_norms(sigma_w, sigma_b, q_star, depth)
        profile = np.exp(np.log(np.maximum(norms, 1e-300)).mean(axis=(1, 2)))
        return float(chi), float(growth_rate(norms).mean()), profile / profile[-1]

    def draw(self, sigma_w, sigma_b, depth):
        chi, rate, profile = self.point(sigma_w, sigma_b, depth)
        layers = np.arange(1, depth + 1)
        theory = chi ** ((depth - layers) / 2)
        self.image.set_data(np.clip((depth - 1) / 2 * self.log_chi1, -DECADES_SHOWN, DECADES_SHOWN))
        self.marker.set_data([sigma_w], [sigma_b])
        self.measured_line.set_data(layers, log_safe(profile))
        self.theory_line.set_data(layers, log_safe(theory))
        x_range, y_range = self._limits(depth)
        self.profile_ax.set_xlim(*x_range)
        self.profile_ax.set_ylim(*y_range)
        if math.isnan(chi):
            self.profile_ax.set_title(f"σ_w={sigma_w:.3g}, σ_b={sigma_b:.3g}: chi1 raised ValueError")
            return
        phase = "ordered: vanishing" if chi < 1 else "chaotic: exploding"
        depth_scale = 1 / abs(math.log(chi)) if chi != 1 else math.inf
        self.profile_ax.set_title(f"χ₁={chi:.3f} ({phase}), ξ={depth_scale:.3g} layers\n"
                                  f"per layer: measured {rate:.3f}, √χ₁ = {math.sqrt(chi):.3f}")
