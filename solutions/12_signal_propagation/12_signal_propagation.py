# %% [markdown]
# # 12 · Signal propagation: the edge of chaos
#
# *Beyond the usual course: optional reading after lesson 04.* Nothing in lessons 05–11 depends
# on it; read it when lesson 04's initializers leave you asking why they work. Lesson 04 chose the variance of the initial weights by an argument
# about one layer: keep the variance of the activations the same from layer to layer. This
# lesson follows the signal and its gradient through **many** layers of a wide random network
# and asks a sharper question: for an activation φ and initial scales (σ_w, σ_b), do gradients
# vanish, explode, or survive? Mean-field theory (Poole et al. 2016; Schoenholz et al. 2017)
# answers with two numbers you will compute: the fixed point **q*** of the *length map* and the
# slope **χ₁**. Then you will build the orthogonal initializer and see what it adds (Saxe et al.
# 2014; Pennington et al. 2017).
#
# **You will:** compute Gaussian expectations by quadrature (`length_map`), find the fixed point
# (`fixed_point_q`), compute χ₁ (`chi1`), check the theory against real wide random tanh nets,
# draw the phase diagram, and write `orthogonal` as Keras's `Orthogonal` initializer does.

# %%
import gradclinic

rng = gradclinic.setup(seed_value=0)  # first: seeds everything and sets the figure style

import matplotlib.pyplot as plt
import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from gradclinic import mean_field
from gradclinic.explorers.signal_propagation import SignalPropagationExplorer

# %% [markdown]
# ## A wide random network, one layer at a time
#
# Take a fully connected net with N units per layer, pre-activations h^l and activations
# a^l = φ(h^l):
#
# $$h^l_i = \sum_{j=1}^{N} W^l_{ij}\, \varphi(h^{l-1}_j) + b^l_i, \qquad
#   W^l_{ij} \sim \mathcal N(0, \sigma_w^2/N), \quad b^l_i \sim \mathcal N(0, \sigma_b^2).$$
#
# Each h^l_i is a sum of N independent small terms, so for wide nets it is Gaussian (the
# central limit theorem) with mean 0 and a variance q^l that is the same for every unit i.
# Taking the variance of the sum gives the **length map**, one step of the recursion for q:
#
# $$q^l = \sigma_w^2\, \mathbb E_{z\sim\mathcal N(0,1)}\!\left[\varphi\!\left(\sqrt{q^{l-1}}\,z\right)^2\right] + \sigma_b^2 .$$
#
# (σ_w² multiplies the mean square of one input, N inputs each of weight variance σ_w²/N; the
# bias adds its own variance.) For φ = identity this is q ↦ σ_w²·q + σ_b², lesson 01's product
# of scales; a saturating φ bends it.
#
# ### Gaussian expectations by quadrature
#
# E_z[f(z)] is an integral against the standard normal density. **Gauss–Hermite quadrature**
# replaces it by a weighted sum over a few special points: `hermegauss(n)` returns n nodes z_k
# and weights w_k with ∫ f(z) e^(−z²/2) dz ≈ Σ w_k f(z_k), exact for polynomials up to degree
# 2n − 1. Two details matter:
#
# - the weights integrate against e^(−z²/2), not the *density* e^(−z²/2)/√(2π): they sum to
#   √(2π), so **divide them by their sum** to get an expectation;
# - `hermite_e` is the "probabilists'" family (weight e^(−z²/2)), the one for z ~ N(0, 1);
#   `numpy.polynomial.hermite.hermgauss` uses e^(−x²) and needs its nodes scaled by √2.
#
# The lesson fixes the numbers below; the graders use the same ones. N_QUAD is even, so no node
# sits at z = 0, where ReLU has its kink.

# %% tags=["expected-output"]
N_QUAD = 100  # Gauss–Hermite nodes for every expectation in this lesson
FD_STEP = 1e-5  # h of the central difference φ'(x) ≈ (φ(x + h) − φ(x − h)) / 2h
TOLERANCE = 1e-12  # fixed_point_q stops when |q_new − q| ≤ TOLERANCE · max(1, q)
MAX_ITERATIONS = 10_000  # … or gives up (ValueError)
Q_LIMIT = 1e12  # … or declares divergence (ValueError) once q passes this
QUAD_NODES, QUAD_WEIGHTS = hermegauss(N_QUAD)  # once: each call of hermegauss solves an eigenproblem


def relu(z):
    """ReLU as a NumPy function, for phi=relu below."""
    return np.maximum(z, 0.0)


def identity(z):
    """The identity: a linear network."""
    return np.asarray(z, dtype=float)


print(f"{N_QUAD} nodes from {QUAD_NODES.min():.2f} to {QUAD_NODES.max():.2f}; the weights sum to "
      f"{QUAD_WEIGHTS.sum():.6f} = √(2π) = {np.sqrt(2 * np.pi):.6f}")
print(f"E[z²] = {QUAD_NODES ** 2 @ QUAD_WEIGHTS / QUAD_WEIGHTS.sum():.12f},  E[z⁴] = "
      f"{QUAD_NODES ** 4 @ QUAD_WEIGHTS / QUAD_WEIGHTS.sum():.12f} (exactly 1 and 3)")

# %% [markdown]
# ### Exercise: `length_map(q, sigma_w, sigma_b, phi)`
# Return σ_w²·E_z[φ(√q·z)²] + σ_b², the expectation over `QUAD_NODES` with the weights
# `QUAD_WEIGHTS` normalised (this function runs thousands of times below: do not call
# `hermegauss` inside it). `phi` is a NumPy function (`np.tanh`, `relu`, `identity`, …). `q`
# may be a number or an array: return the same shape, **vectorised** (no Python loop over q:
# put the q's on one axis and the nodes on a new last one). σ_w and σ_b are standard deviations
# and q a variance: raise `ValueError` if `sigma_w` or `sigma_b` is negative, or if any entry of
# `q` is negative or not finite.

# %% nbgrader={"grade": false, "grade_id": "length_map", "locked": false, "schema_version": 3, "solution": true, "task": false}
def length_map(q, sigma_w, sigma_b, phi):
    """One layer of the variance recursion: σ_w²·E_z[φ(√q·z)²] + σ_b², with q's shape."""
    # 1. Refuse bad input (ValueError): sigma_w < 0, sigma_b < 0, an entry of q < 0 or not finite.
    # 2. q as a float array                                        shape S (q's shape, () for a number)
    # 3. the pre-activations √q·z_k, every q on every node          shape S + (N_QUAD,)
    # 4. φ of them, squared, averaged over the nodes with the
    #    weights QUAD_WEIGHTS divided by their sum                  shape S
    # 5. times σ_w², plus σ_b²                                      shape S
    ### BEGIN SOLUTION
    if sigma_w < 0 or sigma_b < 0:
        raise ValueError(f"sigma_w and sigma_b are standard deviations (≥ 0), got {sigma_w}, {sigma_b}")
    q = np.asarray(q, dtype=float)
    if np.any(q < 0) or not np.all(np.isfinite(q)):
        raise ValueError("q is a variance: it must be finite and ≥ 0")
    mean_square = (phi(np.sqrt(q)[..., np.newaxis] * QUAD_NODES) ** 2) @ (QUAD_WEIGHTS / QUAD_WEIGHTS.sum())
    return sigma_w ** 2 * mean_square + sigma_b ** 2
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_length_map", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: length_map on maps known exactly, vectorised over q, and on bad input."""


# %% nbgrader={"grade": true, "grade_id": "hidden_length_map", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: length_map against the reference on random and array q, five activations, edges, bad input."""
length_map(1.0, 1.0, 0.0, np.tanh)  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("length_map", length_map)
### END HIDDEN TESTS

# %% [markdown]
# ### The theory against a real net
#
# Does a real network of width 256 follow the recursion? The toolkit's `RandomTanhNets` holds
# four random tanh nets of width 256 (weights drawn once); we feed them inputs with a large mean
# square and record the measured q^l, the mean of (h^l_i)² over units, inputs and nets. The
# curves on the left iterate your `length_map` from the same start; on the right, the map
# itself against the diagonal q' = q: where they cross is a **fixed point**.

# %% tags=["expected-output"]
nets = mean_field.RandomTanhNets(width=256, max_depth=40, n_nets=4, batch=4, seed=1)
q_in, shown_depth = 4.0, 15
plt.figure(figsize=(10, 3.6))
plt.subplot(1, 2, 1)
for sigma_w, sigma_b in [(0.8, 0.3), (1.5, 0.3), (2.5, 0.3)]:
    measured = nets.mean_squares(sigma_w, sigma_b, q_in, shown_depth)
    predicted, q = [], q_in
    for _ in range(shown_depth):
        q = float(length_map(q, sigma_w, sigma_b, np.tanh))
        predicted.append(q)
    (line,) = plt.plot(range(1, shown_depth + 1), predicted, "-", label=f"σ_w={sigma_w}, σ_b={sigma_b}")
    plt.plot(range(1, shown_depth + 1), measured, "o", color=line.get_color())
    print(f"σ_w={sigma_w}: largest relative gap measured vs length map over {shown_depth} layers "
          f"{np.max(np.abs(measured / np.array(predicted) - 1)):.1%}")
plt.xlabel("layer l")
plt.ylabel("q^l (dots: measured)")
plt.legend()
plt.subplot(1, 2, 2)
q_axis = np.linspace(0, 6, 200)
for sigma_w in (0.8, 1.5, 2.5):
    plt.plot(q_axis, length_map(q_axis, sigma_w, 0.3, np.tanh), label=f"σ_w={sigma_w}")
plt.plot(q_axis, q_axis, "k--", lw=1, label="q' = q")
plt.xlabel("q (layer l − 1)")
plt.ylabel("q' (layer l)")
plt.legend()
plt.tight_layout()

# %% [markdown]
# The measured dots follow the iterated map (the gaps printed above are the price of 256 units
# instead of infinitely many, largest where q is small), and in a handful of layers q settles
# wherever it started. Because tanh is bounded, so is the map (q' ≤ σ_w² + σ_b²): it always
# crosses the diagonal.
#
# ### Exercise: `fixed_point_q(sigma_w, sigma_b, phi)`
# Return q*, found by **iterating** q ← length_map(q) from q = 1. Stop when
# |q_new − q| ≤ TOLERANCE·max(1, q) and return q_new. For an unbounded φ the map can grow
# without end (ReLU with σ_w² > 2, the identity with σ_w > 1): raise `ValueError` once q passes
# Q_LIMIT, and also when MAX_ITERATIONS steps have not converged. A negative σ_w or σ_b is
# refused by your `length_map` already: let its `ValueError` pass through. (The one place a converging
# map is too slow for that: σ_b = 0 exactly at the edge of chaos below, where q ↦ 0 only like
# 1/(2l).)

# %% nbgrader={"grade": false, "grade_id": "fixed_point_q", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fixed_point_q(sigma_w, sigma_b, phi):
    """q* = length_map(q*), by iteration from q = 1; ValueError when it diverges."""
    ### BEGIN SOLUTION
    q = 1.0
    for _ in range(MAX_ITERATIONS):
        q_next = float(length_map(q, sigma_w, sigma_b, phi))
        if not q_next <= Q_LIMIT:
            raise ValueError(f"q passed {Q_LIMIT:g}: the length map diverges for σ_w={sigma_w}, σ_b={sigma_b}")
        if abs(q_next - q) <= TOLERANCE * max(1.0, q):
            return q_next
        q = q_next
    raise ValueError(f"no convergence in {MAX_ITERATIONS} iterations for σ_w={sigma_w}, σ_b={sigma_b}")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fixed_point_q", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: fixed_point_q is a fixed point, matches the linear net's formula, and refuses divergence."""


# %% nbgrader={"grade": true, "grade_id": "hidden_fixed_point_q", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: fixed_point_q against the reference across both phases, five activations, divergence."""
fixed_point_q(1.5, 0.3, np.tanh)  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("fixed_point_q", fixed_point_q)
### END HIDDEN TESTS

# %% [markdown]
# ## χ₁: what one layer does to a gradient
#
# Backpropagation through layer l multiplies the gradient δ^l = ∂loss/∂h^l by Wᵀ and by each
# unit's slope: δ^(l−1)_j = φ'(h^(l−1)_j)·Σ_i W^l_ij δ^l_i. In a wide random net the weights and
# the slopes are independent, and the squared norm of the gradient changes on average by
#
# $$\frac{\mathbb E\,\lVert\delta^{l-1}\rVert^2}{\lVert\delta^{l}\rVert^2}
#   = \chi_1 = \sigma_w^2\, \mathbb E_z\!\left[\varphi'\!\left(\sqrt{q^*}\,z\right)^2\right]$$
#
# at the fixed point: **each layer multiplies gradient norms by √χ₁**. χ₁ is also the slope
# of the map that carries the correlation of two inputs from layer to layer, at correlation 1
# (Poole et al.): it says whether two nearby inputs move together or are torn apart.
#
# - **χ₁ < 1, the ordered phase:** nearby inputs become one, gradients **vanish** like
#   χ₁^(l/2);
# - **χ₁ > 1, the chaotic phase:** nearby inputs decorrelate, gradients **explode**;
# - **χ₁ = 1, the edge of chaos:** gradients keep their size through any depth.
#
# The depth over which the **squared** gradient norm changes by a factor e is the **depth
# scale** ξ = −1/ln χ₁ (ordered phase; we quote 1/|ln χ₁| in both phases): ‖δ^l‖² changes like
# χ₁^l = e^(∓l/ξ), so the norm itself changes by e only over 2ξ layers. Schoenholz et al.
# define ξ_c from the correlation map; in the ordered phase, where the fixed correlation is 1,
# the two are the same number. They found nets trainable up to about 6ξ_c layers.
#
# ### Exercise: `chi1(sigma_w, sigma_b, phi)`
# Return χ₁ = σ_w²·E_z[φ'(√q*·z)²] with q* = `fixed_point_q(sigma_w, sigma_b, phi)`. The
# activation comes as a function only, so take φ' by the **central difference**
# (φ(x + h) − φ(x − h))/2h with h = FD_STEP (accurate to about 1e-10 for smooth φ, and exact for
# ReLU away from 0, where no node lies). Let a `ValueError` of `fixed_point_q` pass through.

# %% nbgrader={"grade": false, "grade_id": "chi1", "locked": false, "schema_version": 3, "solution": true, "task": false}
def chi1(sigma_w, sigma_b, phi):
    """χ₁ = σ_w²·E_z[φ'(√q*·z)²] at the fixed point q*, φ' by a central difference."""
    ### BEGIN SOLUTION
    q_star = fixed_point_q(sigma_w, sigma_b, phi)
    x = np.sqrt(q_star) * QUAD_NODES
    slope = (phi(x + FD_STEP) - phi(x - FD_STEP)) / (2 * FD_STEP)
    return float(sigma_w ** 2 * np.sum(QUAD_WEIGHTS * slope ** 2) / QUAD_WEIGHTS.sum())
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_chi1", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: chi1 where it is known exactly (tanh at q* = 0, ReLU, identity) and for tanh at a q* > 0."""


# %% nbgrader={"grade": true, "grade_id": "hidden_chi1", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: chi1 against the reference across both phases, five activations, divergence, bad input."""
chi1(1.5, 0.3, np.tanh)  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("chi1", chi1)
### END HIDDEN TESTS

# %% [markdown]
# ## The transition at σ_w = 1 (tanh, no bias)
#
# With σ_b = 0 the zero signal is a fixed point. For σ_w < 1 it is the stable one — the map
# shrinks every q — so q* = 0, where tanh' = 1, and χ₁ = σ_w²·1 = σ_w²: the transition sits
# exactly at σ_w = 1. For σ_w > 1, q = 0 turns unstable and q* > 0; the slopes at q* are
# smaller than 1 but χ₁ stays above 1. Your functions, along that line:

# %% tags=["expected-output"]
line_sigma_w = np.array([0.5, 0.7, 0.9, 0.95, 0.99, 1.01, 1.05, 1.1, 1.5, 2.0, 3.0])
line_q = np.array([fixed_point_q(s, 0.0, np.tanh) for s in line_sigma_w])
line_chi = np.array([chi1(s, 0.0, np.tanh) for s in line_sigma_w])
print("  σ_w |       q* |     χ₁ |  σ_w² | phase")
for s, q, c in zip(line_sigma_w, line_q, line_chi):
    print(f"{s:5.2f} | {q:8.2e} | {c:6.4f} | {s * s:5.3f} | {'ordered' if c < 1 else 'chaotic'}")
below = line_sigma_w < 1
print(f"σ_w < 1: largest q* {line_q[below].max():.1e}, largest |χ₁ − σ_w²| {np.abs(line_chi - line_sigma_w ** 2)[below].max():.1e}")
print(f"χ₁ < 1 for every σ_w < 1: {bool(np.all(line_chi[below] < 1))}; "
      f"χ₁ > 1 for every σ_w > 1: {bool(np.all(line_chi[~below] > 1))}")

# %% [markdown]
# ## Measured: gradients of real nets grow by √χ₁ per layer
#
# Now the claim that matters for training. The four random tanh nets above (width 256, here 40
# layers deep) are fed inputs x = tanh(√q*·z), what a layer at the fixed point would output,
# so every layer sits at q*. From the top we send back a fixed random gradient and record the
# norm ‖∂loss/∂h^l‖ that reaches each layer (this is also the gradient of the layer's bias;
# its kernel gradient is this times ‖a^(l−1)‖, which the fixed point holds constant). The
# measured per-layer factor is exp(−slope) of a least-squares line through ln‖∂loss/∂h^l‖
# against l, one per net. **Tolerance:** the theory is exact for infinite width; at width 256
# we accept a relative gap of 3% between the mean measured factor and √χ₁.

# %% tags=["expected-output"]
GROWTH_TOLERANCE = 0.03
depth = 40
points = [(0.5, 0.0), (0.9, 0.0), (1.0, 0.3), (1.2, 0.05), (1.5, 0.3), (2.0, 0.05), (3.0, 1.0)]
print(" σ_w   σ_b |    χ₁ |   √χ₁ | measured (4 nets)    | gap    | ξ = 1/|ln χ₁| | measured ‖δ‖² over ξ layers"
      " | change over 40 layers")
gaps, profiles = [], {}
for sigma_w, sigma_b in points:
    q_star, chi = fixed_point_q(sigma_w, sigma_b, np.tanh), chi1(sigma_w, sigma_b, np.tanh)
    norms = nets.gradient_norms(sigma_w, sigma_b, q_star, depth)
    rates = mean_field.growth_rate(norms)
    gap = rates.mean() / np.sqrt(chi) - 1
    gaps.append(gap)
    profiles[sigma_w, sigma_b] = np.exp(np.log(norms).mean(axis=(1, 2)))
    print(f"{sigma_w:4.1f} {sigma_b:5.2f} | {chi:5.3f} | {np.sqrt(chi):5.3f} | {rates.mean():.3f} ± {rates.std():.3f}        "
          f"| {gap:+.2%} | {1 / abs(np.log(chi)):13.1f} | ×{rates.mean() ** (2 / abs(np.log(chi))):<26.3f} "
          f"| {chi ** ((depth - 1) / 2):.2e}")
print(f"largest gap {np.max(np.abs(gaps)):.2%}; all within the {GROWTH_TOLERANCE:.0%} tolerance: "
      f"{bool(np.max(np.abs(gaps)) <= GROWTH_TOLERANCE)}")

# %%
plt.figure(figsize=(8, 3.6))
layers = np.arange(1, depth + 1)
for sigma_w, sigma_b in [(0.9, 0.0), (1.2, 0.05), (2.0, 0.05)]:
    chi = chi1(sigma_w, sigma_b, np.tanh)
    profile = profiles[sigma_w, sigma_b]
    (line,) = plt.semilogy(layers, profile / profile[-1], "o", ms=3, label=f"σ_w={sigma_w}, σ_b={sigma_b}: χ₁={chi:.3f}")
    plt.semilogy(layers, chi ** ((depth - layers) / 2), "-", color=line.get_color(), lw=1)
plt.xlabel("layer l")
plt.ylabel("‖∂loss/∂h^l‖ / ‖∂loss/∂h^L‖")
plt.title("dots: measured on random tanh nets; lines: χ₁^((L−l)/2)")
plt.legend();

# %% [markdown]
# The measured factors agree with √χ₁ within the tolerance printed above, in both phases,
# across a range where 40 layers change a gradient by many orders of magnitude (last column).
# The column before it is the definition of ξ, measured: over ξ layers the squared gradient
# norm changes by close to a factor e ≈ 2.718 (×e going toward the input in the chaotic phase,
# ×1/e ≈ 0.368 in the ordered one); the small per-layer gaps compound over the longer depth scales.
# The point near the edge (σ_w = 1.2, σ_b = 0.05) has χ₁ closest to 1 and the longest depth
# scale ξ. Note what this means for lesson 04's rule "keep the variance": it fixes q*, not χ₁;
# a tanh net can have a perfectly stable forward signal (q* well defined for *any* (σ_w, σ_b))
# and still lose or blow up its gradients. The phase diagram shows where χ₁ = 1:

# %% tags=["expected-output"]
phase_grid = mean_field.chi1_grid(chi1)
plt.figure(figsize=(6, 4))
plt.contourf(mean_field.GRID_SIGMA_W, mean_field.GRID_SIGMA_B, np.log10(phase_grid), levels=20,
             cmap="coolwarm", vmin=-0.6, vmax=0.6)
plt.colorbar(label="log₁₀ χ₁")
plt.contour(mean_field.GRID_SIGMA_W, mean_field.GRID_SIGMA_B, phase_grid, levels=[1.0], colors="k")
plt.xlabel("σ_w")
plt.ylabel("σ_b")
plt.title("tanh: ordered (blue) | edge of chaos (black) | chaotic (red)");
edge_points = {b: mean_field.edge_of_chaos(chi1, b) for b in (0.05, 0.3, 1.0)}
print("edge of chaos: " + ", ".join(f"σ_b={b} → σ_w={w:.3f}" for b, w in edge_points.items()))

# %% [markdown]
# The larger the bias, the larger σ_w must be to reach the edge: biases push q* up, tanh
# saturates more, its slopes shrink, and larger weights have to make up for them.
#
# ## Orthogonal weights and dynamical isometry
#
# χ₁ = 1 keeps the **mean** squared gradient constant. But a gradient is a vector, and the
# input–output Jacobian J = D_L W_L ⋯ D_1 W_1 (D_l the diagonal of slopes φ'(h^l)) can stretch
# some directions and crush others while the average stays 1. Saxe et al. (2014) showed that
# for *deep linear* nets orthogonal weights make every singular value of J equal to 1 at any
# depth, and that such nets then learn in a time that does not grow with depth; Pennington et al.
# (2017) showed that tanh nets at the edge of chaos with orthogonal weights and small q* get
# close to this **dynamical isometry**, while Gaussian weights cannot, whatever σ_w.
#
# An orthogonal matrix needs care to be *random* in the right way. Keras's `Orthogonal`
# initializer draws a Gaussian matrix A, factors A = QR and multiplies each column of Q by the
# sign of R's diagonal entry. That last step matters: NumPy's QR (LAPACK's Householder
# reflections) leaves R's diagonal with signs that depend on A, and without the correction the
# matrices are not uniformly (Haar) distributed: Q's diagonal is biased. Kernels of other shapes
# are flattened to (prod(shape[:-1]), shape[-1]) (a convolution's (kh, kw, in, out) becomes
# (kh·kw·in, out)); when that has fewer rows than columns Keras factors the (cols, rows)
# matrix and transposes Q back.
#
# ### Exercise: `orthogonal(shape, rng, gain=1.0)`
# Return `gain · Q` reshaped to `shape`, as above: A = `rng.standard_normal((max(rows, cols),
# min(rows, cols)))`, `np.linalg.qr`, columns of Q times `np.sign(np.diag(R))`, transpose when
# rows < cols. Then WᵀW = gain²·I (or WWᵀ for a wide kernel). Raise `ValueError` for a shape with
# fewer than two dimensions or a dimension below 1.

# %% nbgrader={"grade": false, "grade_id": "orthogonal", "locked": false, "schema_version": 3, "solution": true, "task": false}
def orthogonal(shape, rng, gain=1.0):
    """A Haar-random orthogonal kernel of ``shape`` times ``gain``, as keras.initializers.Orthogonal."""
    # 1. Refuse bad input (ValueError): fewer than two dimensions, or a dimension below 1.
    # 2. the kernel as a matrix: rows = prod(shape[:-1]), cols = shape[-1]
    # 3. A = rng.standard_normal(...)                  shape (m, n) = (max(rows, cols), min(rows, cols))
    # 4. Q, R = np.linalg.qr(A)                        Q (m, n), R (n, n)
    # 5. Q's columns times np.sign(np.diag(R))         (n,) signs: the Haar sign correction; Q (m, n)
    # 6. if rows < cols, transpose Q                   now (rows, cols)
    # 7. gain · Q, reshaped to shape                   shape
    ### BEGIN SOLUTION
    shape = tuple(shape)
    if len(shape) < 2 or any(int(d) != d or d < 1 for d in shape):
        raise ValueError(f"an orthogonal kernel needs at least two dimensions, each ≥ 1; got {shape}")
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))  # the sign correction: without it Q is not Haar-distributed
    if rows < cols:
        q = q.T
    return gain * q.reshape(shape)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_orthogonal", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: orthogonal's shapes, WᵀW = gain²·I (tall, wide, conv kernels), the Haar sign test, and a 1-D shape."""


# %% nbgrader={"grade": true, "grade_id": "hidden_orthogonal", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: orthogonal's shapes, gains, conv and wide kernels, Haar statistics, its use of rng."""
orthogonal((4, 4), np.random.default_rng(0))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("orthogonal", orthogonal)
### END HIDDEN TESTS

# %% [markdown]
# Why the sign correction matters, measured: the trace of a Haar-random orthogonal matrix of
# size n is close to N(0, 1) for any n. Over 200 seeds, your `orthogonal` against the same
# construction without the correction:

# %% tags=["expected-output"]
traces = np.array([[np.trace(orthogonal((128, 128), np.random.default_rng(s))),
                    np.trace(np.linalg.qr(np.random.default_rng(s).standard_normal((128, 128)))[0])]
                   for s in range(200)])
print(f"trace of orthogonal((128, 128)):       mean {traces[:, 0].mean():+.2f}, std {traces[:, 0].std():.2f}")
print(f"trace of Q without the sign correction: mean {traces[:, 1].mean():+.2f}, std {traces[:, 1].std():.2f}")

# %% [markdown]
# ### Isometry at the edge of chaos
#
# A tanh net 32 layers deep and 256 wide at the edge of chaos for σ_b = 0.05 (σ_w from your
# `chi1`, by bisection), once with Gaussian kernels and once with your orthogonal kernels of the
# same scale σ_w. Below, the singular values of J at one input x = tanh(√q*·z). For comparison,
# a linear net at σ_w = 1 (Saxe's case).

# %% tags=["expected-output"]
def jacobian_spectrum(kernel_maker, sigma_w, sigma_b, phi, depth=32, width=256, seed=3):
    """Singular values of the input–output Jacobian of one random net (kernels from kernel_maker)."""
    net_rng = np.random.default_rng(seed)
    kernels = [kernel_maker(net_rng) for _ in range(depth)]
    biases = [sigma_b * net_rng.standard_normal(width) for _ in range(depth)]
    q_star = fixed_point_q(sigma_w, sigma_b, phi)
    x = phi(np.sqrt(q_star) * net_rng.standard_normal(width))
    if phi is np.tanh:
        return mean_field.jacobian_singular_values(kernels, biases, x)
    return mean_field.jacobian_singular_values(kernels, biases, x, phi, lambda h: np.ones_like(h))


edge_sigma_w = mean_field.edge_of_chaos(chi1, 0.05)
setups = {
    "tanh, Gaussian": (lambda r: edge_sigma_w / 16 * r.standard_normal((256, 256)), edge_sigma_w, 0.05, np.tanh),
    "tanh, orthogonal": (lambda r: orthogonal((256, 256), r, gain=edge_sigma_w), edge_sigma_w, 0.05, np.tanh),
    "linear, Gaussian": (lambda r: r.standard_normal((256, 256)) / 16, 1.0, 0.0, identity),
    "linear, orthogonal": (lambda r: orthogonal((256, 256), r), 1.0, 0.0, identity),
}
print(f"edge of chaos at σ_b = 0.05: σ_w = {edge_sigma_w:.4f}, χ₁ = {chi1(edge_sigma_w, 0.05, np.tanh):.6f}")
print("                    | (mean s²)^(1/32), per layer | largest s | 90th / 10th percentile of s")
spectra = {}
for name, (maker, sigma_w, sigma_b, phi) in setups.items():
    s = spectra[name] = jacobian_spectrum(maker, sigma_w, sigma_b, phi)
    print(f"{name:19s} | {np.mean(s ** 2) ** (1 / 32):27.4f} | {s.max():9.3g} | "
          f"{np.percentile(s, 90) / np.percentile(s, 10):.3g}")
plt.figure(figsize=(8, 3.4))
bins = np.linspace(-4, 1.5, 60)
for name in ("tanh, Gaussian", "tanh, orthogonal"):
    plt.hist(np.log10(spectra[name]), bins=bins, alpha=0.6, label=name)
plt.xlabel("log₁₀ singular value of the input–output Jacobian (32 layers)")
plt.ylabel("count")
plt.legend();

# %% [markdown]
# Read the table above. Per layer, the mean of s² stays close to 1 in every row: that is χ₁ = 1
# at work, the average is preserved. The **spread** is not. With Gaussian kernels the singular values fan out
# over orders of magnitude (the product of random matrices is badly conditioned), so along most
# directions the gradient vanishes while along a few it explodes. Orthogonal kernels keep the
# linear net's spectrum exactly at 1 and keep the tanh net's far narrower: the edge of chaos
# plus orthogonal weights is what Pennington et al. call (near) dynamical isometry, the setting
# in which, in their experiments, very deep tanh nets trained fastest, without normalization or
# skip connections.
#
# ## Explore
#
# Move **σ_w** and **σ_b**; the yellow marker moves over the phase diagram, computed once from
# your `chi1` (the black line is χ₁ = 1). The colour is the predicted change of a gradient over
# the chosen **depth**, χ₁^((L−1)/2), in decades: blue vanishes, red explodes, white survives —
# deeper nets leave a thinner white band around the edge. Beside it, the gradient profile
# measured on two real random tanh nets at that point (dots) against χ₁^((L−l)/2) (line).

# %%
explorer = SignalPropagationExplorer(chi1, fixed_point_q, sigma_w=1.5, sigma_b=0.3, depth=40, grid=phase_grid)
explorer

# %% [markdown]
# ## Summary
#
# - In a wide random net the pre-activations' mean square follows the **length map**
#   q ↦ σ_w²·E[φ(√q z)²] + σ_b² to a fixed point q* within a few layers.
# - At q*, each layer multiplies gradient norms by **√χ₁**, χ₁ = σ_w²·E[φ'(√q* z)²]: measured
#   on real nets above within the stated tolerance. χ₁ < 1 is the ordered phase (vanishing),
#   χ₁ > 1 the chaotic one (exploding); the depth scale ξ = 1/|ln χ₁| is the depth over which
#   the squared gradient norm changes by a factor e.
# - For tanh with σ_b = 0, q* = 0 and χ₁ = σ_w² below the transition, which sits at σ_w = 1;
#   larger biases move the edge of chaos to larger σ_w. For ReLU, χ₁ = σ_w²/2: the edge is
#   σ_w² = 2, He initialization (lesson 04).
# - χ₁ = 1 preserves the mean; **orthogonal** weights (with QR's sign correction, as Keras's
#   `Orthogonal`) also keep the spread of the Jacobian's singular values small: dynamical isometry.
