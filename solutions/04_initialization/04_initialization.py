# %% [markdown]
# # 04 · Initialization: the variance that keeps a signal alive
#
# Lessons 01–03 found the culprit every time in a product of per-layer factors: if each layer
# multiplies the signal's size by a little more than 1 it explodes with depth, a little less
# and it vanishes. A good activation (lesson 03) fixes the activation's share of that factor.
# The weights own the rest, and we choose them before training starts. This lesson derives how
# large the random initial weights must be so that each layer passes its input's size on
# unchanged — forward to the output and backward to the input — and checks it layer by layer.
#
# **You will:** compute a kernel's fans as Keras does (`fans`); write Keras's four standard
# initializers — Glorot uniform, Glorot normal, He normal, LeCun normal — down to their
# truncation (`glorot_uniform`, `glorot_normal`, `he_normal`, `lecun_normal`); measure every
# layer's activations in deep nets (`activation_stds`) to repeat two classic experiments,
# Glorot & Bengio (2010) and He et al. (2015); and check that your weights are distributed
# exactly like Keras's.

# %%
import gradclinic

rng = gradclinic.setup(seed_value=0)  # first: quiets TensorFlow before anything imports it

import inspect
import math

import keras
import matplotlib.pyplot as plt
import numpy as np

from gradclinic.explorers.initialization import InitializationExplorer
from gradclinic.profiles import LayerActivations, layer_histograms

# %% [markdown]
# ## One unit, many inputs: why the variance must be 1/n
#
# A unit adds up its inputs, each times its weight: z = w₁x₁ + … + wₙxₙ. If the weights and
# inputs are independent and centred on 0, the variances of the n terms add up:
#
# $$\operatorname{Var}(z) = n \cdot \operatorname{Var}(w) \cdot \mathbb{E}[x^2].$$
#
# So the size of z grows like √n unless the weights shrink as n grows. Weights of variance 1,
# lesson 02's N(0, 1), make every layer of 256 inputs multiply the signal's standard deviation
# by 16 — or, after a saturating activation, pin every unit to its flat ends. Weights of
# variance **1/n** make n·Var(w) = 1, whatever n is. Measured on one batch of standard-normal
# inputs:

# %% tags=["expected-output"]
print("   n | std of z, w ~ N(0, 1) | std of z, Var(w) = 1/n")
for n in (10, 100, 1000):
    x = rng.standard_normal((2000, n))
    w = rng.standard_normal((n, 1))
    print(f"{n:4} | {(x @ w).std():21.2f} | {(x @ (w / np.sqrt(n))).std():22.3f}")

# %% [markdown]
# The left column grows like √n; the right one stays at about 1. That is the whole idea. The
# rules of practice differ only in *which* n, and in a factor for the activation:
#
# | rule | Var(w) | reasoning |
# |---|---|---|
# | LeCun (1998) | 1/fan_in | keeps the forward signal's variance through a linear (or tanh-near-0, or SELU) layer |
# | Glorot & Bengio (2010) | 2/(fan_in + fan_out) | the backward pass sums over fan_out units, so it wants 1/fan_out; 2/(fan_in + fan_out) is the harmonic mean of the two wishes |
# | He et al. (2015) | 2/fan_in | ReLU zeroes the negative half, so E[ReLU(z)²] = Var(z)/2: twice the variance makes up for it |
#
# Here fan_in is how many inputs feed each unit and fan_out how many units each input feeds.
# The **gain** γ rescales any rule: weights γ·w have variance γ²·Var(w). He's factor 2 is a
# gain of √2 on LeCun's rule; Keras writes every one of these initializers as one class,
# `VarianceScaling`, with `scale` = γ², the fan `mode`, and the `distribution`:

# %% tags=["expected-output"]
for name in ("GlorotUniform", "GlorotNormal", "HeNormal", "LecunNormal"):
    initializer = getattr(keras.initializers, name)()
    print(f"keras.initializers.{name:13}: scale={initializer.scale}, mode={initializer.mode!r:10}, "
          f"distribution={initializer.distribution!r}")

# %% [markdown]
# *A common mix-up, corrected.* Var(w) = 1/n[l−1] for tanh is often called "Xavier" (Glorot)
# initialization, but 1/fan_in is LeCun's rule. Glorot & Bengio's rule is the one such write-ups
# then mention as "a variant", 2/(fan_in + fan_out) — the `fan_avg` mode printed above.
#
# ## Fans, as Keras counts them
#
# For a Dense kernel of shape (inputs, outputs) the fans are just its two dimensions. A
# convolution kernel has shape (kh, kw, in_channels, out_channels): each output value is a sum
# over a kh×kw window of every input channel, so it has kh·kw·in_channels inputs — the
# **receptive field** kh·kw multiplies both fans. Keras's rule, for any number of dimensions:
#
# - shape (…window…, in, out): fan_in = in · (product of the window dims), fan_out = out · (the same product);
# - a 1-D shape (n,) (a bias vector): fan_in = fan_out = n;
# - a scalar shape (): fan_in = fan_out = 1.
#
# ### Exercise: `fans(shape)`
# Return `(fan_in, fan_out)` as a tuple of two Python `int`s. `shape` is a tuple (or list) of
# whole numbers ≥ 0; raise `ValueError` for anything else (a negative or fractional dimension,
# a string). Careful: `np.prod(())` is the *float* 1.0; `math.prod` gives the int 1.

# %% nbgrader={"grade": false, "grade_id": "fans", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fans(shape):
    """(fan_in, fan_out) of a kernel of ``shape`` as Keras computes them: ints.

    (in, out) for Dense; (…window…, in, out) for Conv, both times the window's size;
    (n,) → (n, n); () → (1, 1). ValueError unless shape is a tuple/list of whole numbers ≥ 0.
    """
    ### BEGIN SOLUTION
    if not isinstance(shape, (tuple, list)):
        raise ValueError(f"shape must be a tuple of whole numbers such as (784, 128), got {shape!r}")
    for dim in shape:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 0:
            raise ValueError(f"every dimension of shape must be a whole number ≥ 0, got {shape!r}")
    shape = [int(dim) for dim in shape]
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fans", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: fans of a Dense and a Conv2D kernel, a bias vector, a scalar, and a bad shape."""

# %% nbgrader={"grade": true, "grade_id": "hidden_fans", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: fans against Keras's rule on random Dense, Conv1D/2D/3D, 1×1, empty, scalar and bad shapes."""
fans((3, 5))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("fans", fans)
### END HIDDEN TESTS

# %% [markdown]
# ## Glorot uniform: from a variance to a limit
#
# `keras.initializers.GlorotUniform` — the default of every Keras `Dense` and `Conv` layer —
# draws each weight from a uniform distribution on [−limit, limit]. A uniform on [−L, L] has
# variance L²/3 (the integral of x²/(2L) from −L to L), so to give the weights Glorot's
# variance the limit must be
#
# $$L = \sqrt{3 \cdot \operatorname{Var}(w)} = \sqrt{\frac{6}{n_\text{in} + n_\text{out}}}.$$
#
# The 6 is 3 (the uniform's) times 2 (Glorot's). Like Keras, divide by the fans' average
# only if it is at least 1 — Var(w) = 1/max(1, (fan_in + fan_out)/2) — so an empty kernel does
# not divide by zero.
#
# ### Exercise: `glorot_uniform(shape, rng)`
# Return a float array of `shape` drawn from U[−L, L] with L = √(6/(fan_in + fan_out)), the fans
# from your `fans(shape)` (which also raises `ValueError` for a bad shape). Draw with the
# `numpy.random.Generator` `rng` passed in: `rng.uniform(low, high, size=shape)`.

# %% nbgrader={"grade": false, "grade_id": "glorot_uniform", "locked": false, "schema_version": 3, "solution": true, "task": false}
def glorot_uniform(shape, rng):
    """Weights of ``shape`` from U[−L, L], L = √(3·Var), Var = 1/max(1, (fan_in + fan_out)/2)."""
    ### BEGIN SOLUTION
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(3.0 / max(1.0, (fan_in + fan_out) / 2))
    return rng.uniform(-limit, limit, size=tuple(shape))
    ### END SOLUTION


# %% [markdown]
# The self-checks below (and the ones for the normal initializers) judge a sample by three
# numbers — its mean, its variance compared with the rule's, and its largest |w| in units of
# its own standard deviation — which `describe` computes. A uniform's largest value is √3 ≈ 1.73
# standard deviations; remember that number for the next section.

# %% tags=["expected-output"]
def describe(weights, variance):
    """(mean, measured variance / the rule's ``variance``, max |w| / measured std) of a sample."""
    weights = np.asarray(weights, dtype=float)
    return weights.mean(), weights.var() / variance, np.abs(weights).max() / weights.std()


keras_uniform = np.asarray(keras.initializers.GlorotUniform(seed=1)((300, 500)))
mean, variance_ratio, max_over_std = describe(keras_uniform, 2 / (300 + 500))
print(f"Keras's GlorotUniform (300, 500): mean {mean:+.5f}, variance {variance_ratio:.4f}× 2/(fan_in + fan_out), "
      f"max |w| = {max_over_std:.3f} std, limit √(6/800) = {math.sqrt(6 / 800):.5f}, "
      f"max |w| = {np.abs(keras_uniform).max():.5f}")

# %% nbgrader={"grade": true, "grade_id": "test_glorot_uniform", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: glorot_uniform's shape, its limit, its variance and uniform shape, on a (300, 500) kernel."""

# %% nbgrader={"grade": true, "grade_id": "hidden_glorot_uniform", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: glorot_uniform's bounds, variance and distribution against Keras's own, Dense and Conv kernels."""
glorot_uniform((3, 5), np.random.default_rng(0))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("glorot_uniform", glorot_uniform)
### END HIDDEN TESTS

# %% [markdown]
# ## Keras's normal initializers truncate — and divide by 0.8796…
#
# Many tutorials, following Keras's older documentation, describe `glorot_normal` as a truncated
# normal whose standard deviation is √(2/(fan_in + fan_out)). The wording is **ambiguous**: it
# is true of the truncated distribution the weights are drawn from, and false of the normal
# *before* truncation, whose σ is larger. Measuring shows which. Draw from Keras's own
# `GlorotNormal` and look at the standard deviation of what comes out, and at the largest weight:

# %% tags=["expected-output"]
fan_in, fan_out = 300, 500
glorot_std = math.sqrt(2 / (fan_in + fan_out))
keras_normal = np.asarray(keras.initializers.GlorotNormal(seed=1)((fan_in, fan_out)), dtype=float)
print(f"√(2/(fan_in + fan_out))             = {glorot_std:.5f}")
print(f"std of Keras's GlorotNormal samples = {keras_normal.std():.5f}")
print(f"largest |w| Keras drew              = {np.abs(keras_normal).max():.5f} "
      f"= {np.abs(keras_normal).max() / glorot_std:.3f} × √(2/(fan_in + fan_out))")
plain_normal = rng.normal(0.0, glorot_std, size=keras_normal.shape)
print(f"largest |w| of a plain normal sample of that size and std: {np.abs(plain_normal).max() / glorot_std:.3f} × "
      "√(2/(fan_in + fan_out))")

# %% [markdown]
# The *weights* have standard deviation √(2/(fan_in + fan_out)) — Glorot's variance, as
# intended — but no weight lies further out than about 2.27 of those standard deviations,
# where a plain normal sample of the same size reaches much further (the last two lines).
# Keras draws from a normal N(0, σ²) and **redraws every value beyond 2σ**. Cutting off the
# tails shrinks the spread:
# a standard normal cut to [−2, 2] has standard deviation
#
# $$\sqrt{1 - \frac{2 \cdot 2\,\varphi(2)}{2\Phi(2) - 1}} \approx 0.8796,$$
#
# (φ, Φ: the standard normal's density and distribution function), so Keras chooses
# σ = √Var(w) / 0.8796… to land on the variance the rule asks for. Keras's own source says so:

# %% tags=["expected-output"]
density_at_2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
inside_2 = math.erf(2 / math.sqrt(2))  # P(|x| < 2) = 2Φ(2) − 1
truncated_std = math.sqrt(1 - 2 * 2 * density_at_2 / inside_2)
print(f"std of N(0, 1) cut to [−2, 2]: {truncated_std:.17f}")
variance_scaling_source = inspect.getsource(keras.initializers.VarianceScaling.__call__)
print("keras.initializers.VarianceScaling:",
      *[line.strip() for line in variance_scaling_source.splitlines() if "0.8796" in line])
print(f"so Keras's GlorotNormal({fan_in}, {fan_out}) draws N(0, σ²) with σ = {glorot_std / truncated_std:.5f} "
      f"and cuts at 2σ = {2 * glorot_std / truncated_std:.5f}")

# %% [markdown]
# So the description is right if "standard deviation" means the weights' own. Read the other
# way — √(2/(fan_in + fan_out)) as the σ of the normal before the cut at 2σ — it gives weights
# 0.8796… times too narrow; and without the cut, the 1/0.8796 of Keras's σ would make them
# 1/0.8796 ≈ 1.14 times too wide. Three histograms, on a log axis so the tails show:

# %%
literal_reading = rng.normal(0.0, glorot_std, size=(200_000,))
literal_reading = literal_reading[np.abs(literal_reading) <= 2 * glorot_std]  # the other reading: σ = √(2/(n_in+n_out)) before the cut at 2σ
untruncated = rng.normal(0.0, glorot_std / truncated_std, size=(200_000,))  # Keras's σ, tails kept
edges = np.linspace(-5 * glorot_std, 5 * glorot_std, 101)
figure, axes = plt.subplots(figsize=(7, 3.6))
for values, label in ((keras_normal, "Keras GlorotNormal"), (literal_reading, "σ before the cut (no ÷0.8796)"),
                      (untruncated, "÷0.8796 but not cut")):
    axes.hist(values.ravel(), bins=edges, density=True, histtype="step", lw=1.5,
              label=f"{label}: std = {values.std() / glorot_std:.3f}·√(2/(n_in+n_out))")
axes.set(yscale="log", ylim=(5e-4, 2e3), xlabel="weight", ylabel="density (log)",
         title="Glorot normal, fan_in=300, fan_out=500")
axes.legend(fontsize=8, loc="upper center")
plt.show()

# %% [markdown]
# Only Keras's curve has the right width *and* no tails: a flat top cut sharply at 2σ. Why cut
# at all? The few weights far out in a normal's tails, several times the typical size, can
# saturate or dominate their unit from the start; the cut removes those outliers at the price
# of the 0.8796 bookkeeping.
#
# ### Exercise: `glorot_normal(shape, rng)`, `he_normal(shape, rng)`, `lecun_normal(shape, rng)`
# Each returns a float array of `shape` with Keras's distribution: N(0, σ²) with
# σ = √Var(w) / 0.87962566103423978, **every value with |w| > 2σ redrawn** (again, until none is
# left — not clipped, which would pile values up at ±2σ). The variances, with the fans from
# your `fans(shape)` and Keras's max(1, ·) guard against empty kernels:
#
# - `glorot_normal`: Var(w) = 1/max(1, (fan_in + fan_out)/2) = 2/(fan_in + fan_out);
# - `he_normal`: Var(w) = 2/max(1, fan_in);
# - `lecun_normal`: Var(w) = 1/max(1, fan_in).
#
# Draw with `rng.normal(0, σ, size)`. Write the truncated draw once, as a helper that all three
# call: they differ in their variance only.

# %% nbgrader={"grade": false, "grade_id": "glorot_normal", "locked": false, "schema_version": 3, "solution": true, "task": false}
TRUNCATED_STD = 0.87962566103423978  # std of N(0, 1) cut to [−2, 2]


def glorot_normal(shape, rng):
    """Weights of ``shape``: Keras's truncated normal with Var = 2/(fan_in + fan_out)."""
    ### BEGIN SOLUTION
    fan_in, fan_out = fans(shape)
    return truncated_normal(shape, 1.0 / max(1.0, (fan_in + fan_out) / 2), rng)


def truncated_normal(shape, variance, rng):
    """N(0, σ²) with σ = √variance / 0.8796…, every value beyond 2σ redrawn: variance ``variance``."""
    sigma = math.sqrt(variance) / TRUNCATED_STD
    weights = rng.normal(0.0, sigma, size=tuple(shape))
    outside = np.abs(weights) > 2 * sigma
    while outside.any():
        weights[outside] = rng.normal(0.0, sigma, size=int(outside.sum()))
        outside = np.abs(weights) > 2 * sigma
    return weights
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "he_normal", "locked": false, "schema_version": 3, "solution": true, "task": false}
def he_normal(shape, rng):
    """Weights of ``shape``: Keras's truncated normal with Var = 2/fan_in."""
    ### BEGIN SOLUTION
    return truncated_normal(shape, 2.0 / max(1.0, fans(shape)[0]), rng)
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "lecun_normal", "locked": false, "schema_version": 3, "solution": true, "task": false}
def lecun_normal(shape, rng):
    """Weights of ``shape``: Keras's truncated normal with Var = 1/fan_in."""
    ### BEGIN SOLUTION
    return truncated_normal(shape, 1.0 / max(1.0, fans(shape)[0]), rng)
    ### END SOLUTION


# %% [markdown]
# Each of the three self-checks draws a kernel and compares a few statistics of the sample with
# the rule's: its spread, and its largest value in standard deviations. The largest value of a
# normal cut at 2σ is 2 / 0.8796… ≈ 2.27 of its standard deviations (uniform: 1.73; an uncut
# normal of this size: beyond 4), and no value may sit exactly at the edge (clipping piles them up there).

# %% nbgrader={"grade": true, "grade_id": "test_glorot_normal", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: glorot_normal's variance 2/(fan_in + fan_out), truncation at 2σ and no clipping, on (300, 500)."""

# %% nbgrader={"grade": true, "grade_id": "hidden_glorot_normal", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: glorot_normal's variance, truncation and distribution against Keras's own GlorotNormal."""
glorot_normal((3, 5), np.random.default_rng(0))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("glorot_normal", glorot_normal)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_he_normal", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: he_normal's variance 2/fan_in, truncation at 2σ and no clipping, on (300, 500)."""

# %% nbgrader={"grade": true, "grade_id": "hidden_he_normal", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: he_normal's variance, truncation and distribution against Keras's own HeNormal."""
he_normal((3, 5), np.random.default_rng(0))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("he_normal", he_normal)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_lecun_normal", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: lecun_normal's variance 1/fan_in, truncation at 2σ and no clipping, on (300, 500)."""

# %% nbgrader={"grade": true, "grade_id": "hidden_lecun_normal", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: lecun_normal's variance, truncation and distribution against Keras's own LecunNormal."""
lecun_normal((3, 5), np.random.default_rng(0))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("lecun_normal", lecun_normal)
### END HIDDEN TESTS

# %% [markdown]
# ## Your initializers against Keras's, in distribution
#
# Random weights cannot equal Keras's number for number, but they can come from the same
# distribution. For each initializer, a Conv2D kernel (3, 3, 64, 128) — so the receptive field
# counts — from yours and from Keras's: the variance each sample shows against the rule, the
# largest |w| against the bound (√(3·Var) or 2σ), and the **Kolmogorov–Smirnov distance**, the
# largest gap between the two samples' cumulative histograms. Two samples of n values from one
# distribution stay below about 1.63·√(2/n) (an alarm at the 1 % level, the `KS limit` column);
# different distributions — a missed truncation, a wrong variance — land far beyond.

# %% tags=["expected-output"]
def ks_distance(a, b):
    """Largest gap between the empirical CDFs of samples a and b."""
    a, b = np.sort(np.ravel(a)), np.sort(np.ravel(b))
    points = np.concatenate([a, b])
    return np.abs(np.searchsorted(a, points, "right") / a.size - np.searchsorted(b, points, "right") / b.size).max()


conv_shape = (3, 3, 64, 128)
conv_in, conv_out = fans(conv_shape)
rules = {"glorot_uniform": (glorot_uniform, 2 / (conv_in + conv_out), "uniform"),
         "glorot_normal": (glorot_normal, 2 / (conv_in + conv_out), "truncated"),
         "he_normal": (he_normal, 2 / conv_in, "truncated"), "lecun_normal": (lecun_normal, 1 / conv_in, "truncated")}
n_weights = math.prod(conv_shape)
ks_limit = math.sqrt(-math.log(0.01 / 2) / 2) * math.sqrt(2 / n_weights)
print(f"kernel {conv_shape}: fans {conv_in, conv_out}, {n_weights} weights; KS limit {ks_limit:.4f}")
print("initializer    | Var / rule: yours  Keras | max|w| / bound: yours  Keras | KS distance")
for name, (mine, variance, family) in rules.items():
    ours = mine(conv_shape, rng)
    theirs = np.asarray(keras.initializers.get({"class_name": name, "config": {"seed": 7}})(conv_shape), dtype=float)
    bound = math.sqrt(3 * variance) if family == "uniform" else 2 * math.sqrt(variance) / TRUNCATED_STD
    print(f"{name:14} | {ours.var() / variance:17.4f} {theirs.var() / variance:6.4f} | "
          f"{np.abs(ours).max() / bound:21.4f} {np.abs(theirs).max() / bound:6.4f} | {ks_distance(ours, theirs):.4f}")

# %% [markdown]
# Every variance ratio sits at 1 within sampling noise, no weight passes its bound (the ratios
# reach 1 and stop there: the samples fill their range right up to the edge), and every KS
# distance stays below the limit: the same distributions as Keras's. The hidden tests run this comparison, more strictly,
# on other shapes.
#
# ## Depth: every layer's activations
#
# One layer is not the point; fifty are. The next exercise pushes a batch of standard-normal
# inputs through a square net with no biases, a[l] = φ(a[l−1] · γW[l]), and records the standard
# deviation of each layer's activations. Besides your four initializers it accepts the
# heuristic Glorot & Bengio set out to replace, W ~ U[−1/√n, 1/√n] (given below): its variance
# is (1/√n)²/3 = 1/(3n), a third of LeCun's.

# %%
def uniform_inv_sqrt_n(shape, rng):
    """The old heuristic: weights of ``shape`` from U[−1/√fan_in, 1/√fan_in], Var = 1/(3·fan_in)."""
    limit = 1.0 / math.sqrt(max(1, fans(shape)[0]))
    return rng.uniform(-limit, limit, size=tuple(shape))


# %% [markdown]
# ### Exercise: `activation_stds(depth, width, init, activation, rng, gain=1.0)`
# Return a float array of shape `(depth,)`: entry l − 1 is the standard deviation of a[l] over
# the whole batch (every example, every unit).
#
# - `init` is a **string**, the name of an initializer: `"glorot_uniform"`, `"glorot_normal"`,
#   `"he_normal"`, `"lecun_normal"` (your functions) or `"uniform_inv_sqrt_n"` (the one above);
# - `activation` is a **string**: `"linear"` (φ(z) = z), `"tanh"`, `"relu"` or `"sigmoid"`;
# - `gain` multiplies every kernel: W[l] = gain · init((width, width), rng);
# - in this order: first the input batch a[0] = `rng.standard_normal((1000, width))`, then for
#   each layer its kernel and a[l] = φ(a[l−1] @ W[l]) — no biases;
# - raise `ValueError` for a `depth` or `width` that is not a whole number ≥ 1, and for an
#   unknown `init` or `activation` (say which names are allowed). A dict from names to functions
#   does the lookup in one line.

# %% nbgrader={"grade": false, "grade_id": "activation_stds", "locked": false, "schema_version": 3, "solution": true, "task": false}
def activation_stds(depth, width, init, activation, rng, gain=1.0):
    """(depth,) std of each layer's activations a[l] = φ(a[l−1] @ (gain · W[l])) of a square net
    of ``width`` units without biases, for a (1000, width) standard-normal input batch."""
    ### BEGIN SOLUTION
    initializers = {"glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal, "he_normal": he_normal,
                    "lecun_normal": lecun_normal, "uniform_inv_sqrt_n": uniform_inv_sqrt_n}
    activations = {"linear": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0),
                   "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}
    for name, value in (("depth", depth), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a whole number ≥ 1, got {value!r}")
    if init not in initializers:
        raise ValueError(f"init must be one of {', '.join(initializers)}, got {init!r}")
    if activation not in activations:
        raise ValueError(f"activation must be one of {', '.join(activations)}, got {activation!r}")
    phi, initializer = activations[activation], initializers[init]
    a = rng.standard_normal((1000, width))
    stds = np.empty(depth)
    for layer in range(depth):
        a = phi(a @ (gain * initializer((width, width), rng)))
        stds[layer] = a.std()
    return stds
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_activation_stds", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: activation_stds' shape, LeCun on a linear net, the gain, He on ReLU, and bad arguments."""

# %% nbgrader={"grade": true, "grade_id": "hidden_activation_stds", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: activation_stds against the reference for every init and activation, gains, depths 1–30, bad arguments."""
activation_stds(2, 8, "he_normal", "relu", np.random.default_rng(0))  # it must run; hidden comparisons follow
### BEGIN HIDDEN TESTS
from autograder import check

check("activation_stds", activation_stds)
### END HIDDEN TESTS

# %% [markdown]
# ## Glorot & Bengio (2010): the old heuristic shrinks the signal, layer by layer
#
# Glorot and Bengio trained tanh nets of five hidden layers and watched the activations of
# every layer at initialization. With the then-standard U[−1/√n, 1/√n] they narrowed layer after
# layer; with their "normalized" initialization — today's Glorot uniform — they kept their
# width. Here is their measurement, with your function, for five tanh layers of 500 units —
# and a third row with the gain 5/3 that PyTorch recommends for tanh:

# %% tags=["expected-output"]
tanh_settings = {"uniform_inv_sqrt_n": ("uniform_inv_sqrt_n", 1.0), "glorot_uniform": ("glorot_uniform", 1.0),
                 "glorot_uniform × 5/3": ("glorot_uniform", 5 / 3)}
glorot_bengio = {label: activation_stds(5, 500, init, "tanh", rng, gain=gain)
                 for label, (init, gain) in tanh_settings.items()}
print("std of a[l], layer :", "  ".join(f"{layer:6}" for layer in range(1, 6)), "  | layer 5 / layer 1")
for label, stds in glorot_bengio.items():
    print(f"{label:20}:", "  ".join(f"{s:6.3f}" for s in stds), f"  | {stds[-1] / stds[0]:.3f}")
print(f"a linear layer with Var(w) = 1/(3n) multiplies the std by 1/√3 = {1 / math.sqrt(3):.3f}; "
      f"four of them: {(1 / math.sqrt(3)) ** 4:.3f}")

# %% [markdown]
# With U[±1/√n] each layer multiplies the spread by about 1/√3 — tanh is almost linear for the
# small values it now receives, so the prediction printed last holds closely — and after only
# five layers the top layer's activations are a small fraction of the first's. With Glorot's
# variance the spread holds far better, but still drifts down slowly: tanh squeezes what it
# receives (|tanh z| < |z|), and a gain of 1 does not make up for that. With the gain 5/3 the
# spread settles after a layer or two and then holds — at a level where tanh is not yet flat.
#
# Backwards, the error ∂loss/∂a[l] that reaches each layer shrinks in the same way on its way
# down to the input (each layer multiplies its variance by fan_out·Var(w) — the same on these
# square layers). But that does **not** make the first layers' *weight* gradients small: the
# gradient of W[l] is a[l−1]ᵀ·∂loss/∂z[l], the forward signal that reached layer l times the
# error that reached it, and in this nearly linear regime the one shrinks toward the output as
# fast as the other toward the input. The product comes out about the same size at every layer,
# as Glorot & Bengio (2010, §4.2.1) derived. The same five-layer nets, with a random error of
# unit variance arriving at the top:

# %% tags=["expected-output"]
def forward_backward_stds(kernels, rng):
    """Per tanh layer l = 1..depth of a net without biases: the std of a[l], of the error
    ∂loss/∂a[l] and of the weight gradient ∂loss/∂W[l], for a (1000, width) N(0, 1) batch and an
    N(0, 1) error ∂loss/∂a[depth] at the top. ``kernels``: a list of (width, width) arrays."""
    a = [rng.standard_normal((1000, kernels[0].shape[0]))]
    for kernel in kernels:
        a.append(np.tanh(a[-1] @ kernel))
    error = rng.standard_normal(a[-1].shape)  # ∂loss/∂a[depth]
    errors, weight_gradients = [], []
    for layer in reversed(range(len(kernels))):
        errors.append(error.std())
        error_z = error * (1 - a[layer + 1] ** 2)  # ∂loss/∂z: tanh' = 1 − tanh²
        weight_gradients.append((a[layer].T @ error_z).std())
        error = error_z @ kernels[layer].T  # ∂loss/∂a one layer down
    return np.array([x.std() for x in a[1:]]), np.array(errors[::-1]), np.array(weight_gradients[::-1])


print("tanh, 5 layers of 500 units | layer:  1 … 5                                 | layer 1 / layer 5")
for label, (init, gain) in list(tanh_settings.items())[:2]:
    initializer = uniform_inv_sqrt_n if init == "uniform_inv_sqrt_n" else glorot_uniform
    rows = forward_backward_stds([initializer((500, 500), rng) for _ in range(5)], rng)
    for name, values in zip(("std of a[l]", "std of ∂loss/∂a[l]", "std of ∂loss/∂W[l]"), rows):
        print(f"{label:18} {name:19}: " + "  ".join(f"{v:8.3g}" for v in values) + f"  | {values[0] / values[-1]:.3f}")

# %% [markdown]
# With U[±1/√n] the activations shrink upward and the errors ∂loss/∂a[l] shrink downward, each
# by an order of magnitude over five layers (the last column: layer 1 over layer 5); the weight
# gradients, their product, stay within a few per cent of one another. With Glorot's variance
# both signals fade far less, and the weight gradients are again nearly level. So the old initialization did not starve the first layers of
# weight gradient; what it did was let both signals fade — the input in the top layers, the
# loss's error in the bottom ones — while the weight gradients looked even. Lesson 02 called
# that `diagnose`'s blind spot, and lesson 06 measures ∂loss/∂a[l] directly for that reason.
#
# Glorot and Bengio showed it as histograms of each layer's activations. The same picture,
# for the same two initializations (drawn by Keras's own initializers this time, through the
# explorer's net of the next section):

# %%
histogram_net = LayerActivations(rng, width=500, batch=1000, max_depth=5)
figure, panels = plt.subplots(1, 2, figsize=(10, 3.4), sharey=True)
for axes, scheme in zip(panels, ("uniform_inv_sqrt_n", "glorot_uniform")):
    counts, edges = layer_histograms(histogram_net.activations(5, 1.0, scheme, "tanh"))
    centres = (edges[:-1] + edges[1:]) / 2
    for layer, row in enumerate(counts, start=1):
        axes.plot(centres, row, drawstyle="steps-mid", lw=1.2, label=f"layer {layer}")
    axes.set(title=f"tanh, {scheme}", xlabel="activation value")
panels[0].set_ylabel("fraction of values")
panels[1].legend()
plt.show()

# %% [markdown]
# On the left the histograms pile up ever more narrowly around 0, layer after layer; on the
# right they keep much of their width. (Each panel has its own value range.)
#
# ## He et al. (2015): a 30-layer ReLU net keeps its second moment — or halves it 30 times
#
# For ReLU the quantity to keep is the second moment E[a²]: a layer's pre-activations have
# variance fan_in · Var(w) · E[a²], and ReLU keeps half of it. With He's Var(w) = 2/fan_in the
# two factors cancel; with Glorot's 1/fan_in (on a square layer) each layer keeps only half, so
# thirty layers keep 2⁻³⁰ of it. He et al. found exactly this: a 30-layer ReLU net initialized
# their way trained, the Glorot-initialized one stalled from the start.
# A direct measurement of E[a²], with your initializers, on three nets of each kind (512 units
# per layer, a batch of 500 inputs):

# %% tags=["expected-output"]
def relu_second_moments(depth, width, initializer, rng):
    """(depth,) E[a[l]²] of a square ReLU net without biases for a (500, width) N(0, 1) batch."""
    a, moments = rng.standard_normal((500, width)), np.empty(depth)
    for layer in range(depth):
        a = np.maximum(a @ initializer((width, width), rng), 0.0)
        moments[layer] = np.mean(a ** 2)
    return moments


relu_nets = {name: np.array([relu_second_moments(30, 512, initializer, rng) for _ in range(3)])
             for name, initializer in (("he_normal", he_normal), ("glorot_normal", glorot_normal))}
print(f"E[a²] of the input: 1; 2^-30 = {2.0 ** -30:.3e}")
for name, moments in relu_nets.items():
    final = moments[:, -1]
    typical = np.exp(np.log(final).mean())  # geometric mean of the three nets
    print(f"{name:13}: E[a²] after layer 30 = {', '.join(f'{m:.3g}' for m in final)} "
          f"(= {', '.join(f'{m / 2.0 ** -30:.3g}' for m in final)} × 2^-30); geometric mean {typical:.3g}; "
          f"per layer × {typical ** (1 / 30):.3f}")
figure, axes = plt.subplots(figsize=(6.5, 3.5))
layers = np.arange(1, 31)
for (name, moments), colour in zip(relu_nets.items(), ("C0", "C1")):
    for net, curve in enumerate(moments):
        axes.semilogy(layers, curve, "o-", ms=2, lw=1, color=colour, label=name if net == 0 else None)
axes.semilogy(layers, 0.5 ** layers, "--", color="0.4", lw=1, label="2^-l")
axes.set(xlabel="layer l", ylabel="E[a[l]²] (log scale)", title="30 ReLU layers of 512 units, three nets each")
axes.legend()
plt.show()

# %% [markdown]
# He's nets stay at the input's level: per layer they keep the second moment (the factor printed
# in their row is close to 1). Each one wanders a little — every layer of 512 random units
# multiplies E[a²] by a random factor near 1, and thirty such factors make a random walk on
# the log axis — but within a small factor of 1, while Glorot's follow the 2^−l line all the
# way down, about nine orders of magnitude: per layer they keep half. The same halving applies
# to the error ∂loss/∂a on its way back through the ReLUs; a layer's weight gradient multiplies
# the forward signal that reached it by the error that reached it, so every layer of a Glorot
# net — evenly, by the balance of the Glorot & Bengio section — starts with a weight gradient
# orders of magnitude smaller than a He net's (lesson 03's explorer showed the gap at depth 100). Nothing is wrong with Glorot's rule: it was derived for tanh, whose slope
# near 0 is 1. The activation decides the gain.
#
# ## Explore: depth, gain, initializer, activation
#
# Left: the standard deviation of every layer's activations (log axis); middle: each layer's
# histogram as one row, brightest where values are densest; right: five of those histograms.
# The explorer draws its weights with Keras's own initializers. Things to try:
#
# - **uniform_inv_sqrt_n with tanh, depth 60**: the histograms collapse onto 0, row after row.
#   Switch to **glorot_uniform**: the collapse is gone, a slow drift remains; find the gain that
#   stops it.
# - **he_normal with relu**: level at every depth. **glorot_normal with relu**: the straight
#   downward line of the last section. **gain 2**: the other way, up by orders of magnitude.
# - **standard_normal with tanh**: weights of variance 1 on 64 inputs saturate every unit —
#   the histograms pile up at ±1, where tanh's slope is almost 0 (lesson 02's disease).
# - **sigmoid**: its outputs are all positive, about ½; no variance rule centres them. That is
#   one reason tanh and ReLU replaced it in hidden layers.

# %%
explorer = InitializationExplorer(rng, depth=10, initializer="uniform_inv_sqrt_n", activation="tanh")
explorer

# %% [markdown]
# ## What to take away
#
# - A unit adds up fan_in terms, so its output's variance is fan_in·Var(w)·E[x²]: weights of
#   variance about 1/fan_in keep the signal's size from layer to layer.
# - LeCun 1/fan_in for linear-like units (and SELU, lesson 10); Glorot 2/(fan_in + fan_out),
#   which balances the forward and the backward pass, for tanh; He 2/fan_in for ReLU, whose
#   half-silenced output needs twice the variance. A gain γ multiplies the weights, γ² the variance.
# - Convolutions count the receptive field: fan_in = kh·kw·in_channels.
# - Keras's normal initializers draw a normal cut at 2σ and divide σ by 0.8796… so that the
#   weights still have the rule's variance; a uniform reaches √(3·Var).
#
# **Next:** lesson 05 follows the same product through time, where a recurrent net reuses one
# weight matrix at every step, and gates it.
