"""Lesson 12's mean-field computation on real nets: wide random tanh nets measured layer by
layer, and what the lesson does with the learner's theory (χ₁ on a grid, the edge of chaos, the
input–output Jacobian's spectrum).

:class:`RandomTanhNets` holds a few fully connected tanh nets (width 256 by default) whose
weights are drawn once as standard normals; a point (σ_w, σ_b) only rescales them,
W = σ_w/√width · G and b = σ_b · g, so measuring another point never draws again. Inputs are
x = tanh(√q*·z): what a tanh layer at the fixed point q* outputs, so every layer's
pre-activations have mean square q* from the first layer on, the situation the theory describes.

The theory itself (the length map, q*, χ₁, orthogonal weights) is the lesson's graded work: the
functions here take the learner's ``chi1`` as an argument and compute no Gaussian expectation.
"""

import math

import numpy as np

# The phase diagram's grid (lesson 12's explorer and notebook). Its points sit between the
# explorer's slider steps (0.0125 off), so the grid never lands on σ_b = 0, σ_w = 1, where
# q ↦ 0 converges only algebraically.
GRID_SIGMA_W = np.linspace(0.5125, 2.9875, 34)
GRID_SIGMA_B = np.linspace(0.0125, 0.9875, 21)


class RandomTanhNets:
    """``n_nets`` random tanh MLPs of ``width`` units and up to ``max_depth`` layers, each fed
    ``batch`` inputs. ``seed`` fixes every draw; points (σ_w, σ_b) only rescale them."""

    def __init__(self, width=256, max_depth=50, n_nets=4, batch=4, seed=0):
        rng = np.random.default_rng(seed)
        self.width, self.max_depth, self.n_nets, self.batch = width, max_depth, n_nets, batch
        self.kernels = rng.standard_normal((max_depth, n_nets, width, width), dtype="float32")
        self.biases = rng.standard_normal((max_depth, n_nets, 1, width), dtype="float32")
        self.inputs = rng.standard_normal((n_nets, batch, width), dtype="float32")
        self.upstream = rng.standard_normal((n_nets, batch, width), dtype="float32")

    def _check(self, depth, q_in):
        if not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must lie in 1..{self.max_depth}, got {depth}")
        if not (math.isfinite(q_in) and q_in >= 0):
            raise ValueError(f"the input's q must be a finite variance ≥ 0, got {q_in!r}")

    def _layers(self, sigma_w, sigma_b, q_in, depth):
        """Yield h_l, l = 1..depth, for inputs a_0 = tanh(√q_in·z), shape (n_nets, batch, width)."""
        self._check(depth, q_in)
        scale = np.float32(sigma_w / math.sqrt(self.width))
        activation = np.tanh(np.float32(math.sqrt(q_in)) * self.inputs)
        for layer in range(depth):
            pre = scale * (activation @ self.kernels[layer].transpose(0, 2, 1)) + np.float32(sigma_b) * self.biases[layer]
            yield pre
            activation = np.tanh(pre)

    def mean_squares(self, sigma_w, sigma_b, q_in, depth):
        """The measured q_l: mean of h_l² over units, inputs and nets, l = 1..depth, shape (depth,)."""
        return np.array([np.mean(np.square(pre, dtype=float)) for pre in self._layers(sigma_w, sigma_b, q_in, depth)])

    def gradient_norms(self, sigma_w, sigma_b, q_star, depth):
        """‖∂loss/∂h_l‖ for l = 1..depth, shape (depth, n_nets, batch), float64.

        h_l = W_l·a_(l−1) + b_l, a_l = tanh(h_l), a_0 = tanh(√q*·z); loss = u·a_L with u a fixed
        standard normal vector. ∂loss/∂h_l is also the gradient of layer l's bias; its kernel's
        gradient is this times ‖a_(l−1)‖, which the fixed point holds constant.
        """
        scale = np.float32(sigma_w / math.sqrt(self.width))
        slopes = [1 - np.tanh(pre) ** 2 for pre in self._layers(sigma_w, sigma_b, q_star, depth)]  # φ'(h_l)
        delta = slopes[-1] * self.upstream
        norms = np.empty((depth, self.n_nets, self.batch))
        norms[-1] = np.linalg.norm(delta, axis=-1)
        for layer in range(depth - 1, 0, -1):  # backward: δ_(l−1) = φ'(h_(l−1)) ⊙ W_lᵀ δ_l
            delta = slopes[layer - 1] * (scale * (delta @ self.kernels[layer]))
            norms[layer - 1] = np.linalg.norm(delta, axis=-1)
        return norms


def growth_rate(norms):
    """Per-layer factor by which gradient norms grow towards the input, one per net.

    ``norms``: (depth, n_nets, batch). The slope of the least-squares line through the batch's
    mean of ln‖∂loss/∂h_l‖ against l, as exp(−slope): > 1 means gradients grow going back.
    """
    log_norms = np.log(np.maximum(norms, 1e-300)).mean(axis=-1)
    layers = np.arange(len(log_norms))
    slope = np.polyfit(layers, log_norms, 1)[0]
    return np.exp(-np.atleast_1d(slope))


def chi1_grid(chi1, sigma_ws=GRID_SIGMA_W, sigma_bs=GRID_SIGMA_B):
    """The learner's ``chi1(σ_w, σ_b, np.tanh)`` on a grid: (len(sigma_bs), len(sigma_ws)),
    NaN where it raises ValueError."""
    grid = np.full((len(sigma_bs), len(sigma_ws)), np.nan)
    for i, sigma_b in enumerate(sigma_bs):
        for j, sigma_w in enumerate(sigma_ws):
            try:
                grid[i, j] = chi1(float(sigma_w), float(sigma_b), np.tanh)
            except ValueError:
                pass
    return grid


def edge_of_chaos(chi1, sigma_b, phi=np.tanh, low=0.5, high=3.0, steps=40):
    """The σ_w where ``chi1(σ_w, sigma_b, phi)`` = 1, by bisection between ``low`` and ``high``."""
    for _ in range(steps):
        middle = (low + high) / 2
        if chi1(middle, sigma_b, phi) < 1:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def jacobian_singular_values(kernels, biases, x, phi=np.tanh, phi_prime=None):
    """Singular values of the input–output Jacobian ∂a_L/∂a_0 = D_L W_L ⋯ D_1 W_1 of the net
    h_l = W_l a_(l−1) + b_l, a_l = φ(h_l) at input ``x`` (kernels (out, in), biases (out,))."""
    phi_prime = phi_prime or (lambda h: 1 - np.tanh(h) ** 2)
    jacobian, activation = np.eye(len(x)), x
    for kernel, bias in zip(kernels, biases):
        pre = kernel @ activation + bias
        jacobian = phi_prime(pre)[:, None] * (kernel @ jacobian)
        activation = phi(pre)
    return np.linalg.svd(jacobian, compute_uv=False)
