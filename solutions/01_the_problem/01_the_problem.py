# %% [markdown]
# # 01 · The problem: signals that grow or vanish with depth
#
# A deep network is a long chain of layers. This lesson strips a network down to the one
# property that makes gradients explode or vanish — a **product of many layers** — and lets you
# measure it, first by hand, then on a real Keras model.
#
# **You will:** compute the signal's norm through a deep linear net (`deep_linear_activations`),
# measure the loss gradient of every layer of any Keras model (`layer_gradient_norms`), and
# explore depth and scale with sliders.

# %%
import gradclinic

rng = gradclinic.setup(seed_value=0)  # first: quiets TensorFlow before anything imports it

import numpy as np

from gradclinic.explorers import DeepLinearExplorer
from gradclinic.models import deep_linear_model

# %% [markdown]
# ## A deep linear network is a product of matrices
#
# Drop the activation function (g(z) = z) and the biases. Then layer *l* computes
# a[l] = W[l] · a[l−1], and the output of *L* layers is
#
# $$a[L] = W[L]\, W[L-1] \cdots W[1]\, x .$$
#
# The order matters: the first layer's matrix acts first, so it stands **rightmost**. (A popular
# write-up puts it as a[2] = w[1] w[2] X; matrices do not commute, and that product is a
# different network.)
#
# Now make every layer the same matrix C = scale · I. The product collapses to
# a[L] = scale^L · x: a signal that grows like 1.2^L when each layer adds 20 %, and shrinks like
# 0.5^L when each layer halves it. Nothing here needs calculus yet — just repeated
# multiplication.
#
# ### Exercise: `deep_linear_activations(x, scale, depth)`
# Pass the vector `x` (shape `(n,)`) through `depth` layers whose weight matrix is
# `scale * np.eye(n)`, and return a NumPy array of shape `(depth,)` whose entry *l − 1* is the
# L2 norm ‖a[l]‖ of the activation **after** layer *l* (so the input's own norm is not in it).
# Multiply by the matrix layer by layer — the point is to watch the product form. Raise
# `ValueError` if `x` is not a non-empty 1-D vector or `depth` is not a whole number ≥ 1.

# %% nbgrader={"grade": false, "grade_id": "deep_linear_activations", "locked": false, "schema_version": 3, "solution": true, "task": false}
def deep_linear_activations(x, scale, depth):
    """L2 norm of each layer's activation in a deep linear net with W = scale·I; shape (depth,)."""
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be a non-empty 1-D vector, got shape {x.shape}")
    if isinstance(depth, bool) or int(depth) != depth or depth < 1:
        raise ValueError(f"depth must be a whole number of layers ≥ 1, got {depth!r}")
    weight = scale * np.eye(x.size)
    norms, activation = [], x
    for _ in range(int(depth)):
        activation = weight @ activation
        norms.append(np.linalg.norm(activation))
    return np.array(norms)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_deep_linear_activations", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: deep_linear_activations on a 3-4-5 triangle, one layer, and bad input."""

# %% nbgrader={"grade": true, "grade_id": "hidden_deep_linear_activations", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: deep_linear_activations against the reference on random vectors, scales and depths."""
deep_linear_activations(np.ones(2), 1.2, 3)  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("deep_linear_activations", deep_linear_activations)
### END HIDDEN TESTS

# %% [markdown]
# Run your function at the two scales of the story, on a unit-length input so that the numbers
# are pure growth factors.

# %% tags=["expected-output"]
unit_input = np.ones(4) / 2.0  # ‖x‖ = 1
growing = deep_linear_activations(unit_input, 1.2, 50)
shrinking = deep_linear_activations(unit_input, 0.5, 50)
print(f"after 50 layers: scale 1.2 → ‖a[50]‖ = {growing[-1]:,.1f} (1.2^50 = {1.2 ** 50:,.1f})")
print(f"                 scale 0.5 → ‖a[50]‖ = {shrinking[-1]:.3e} (0.5^50 = {0.5 ** 50:.3e})")
print(f"depth at which scale 1.2 first passes 1,000: layer {int(np.argmax(growing > 1000)) + 1}")

# %% [markdown]
# ## Gradients make the same journey backwards
#
# Backpropagation sends the loss's gradient from the output back to layer 1, multiplying by
# each layer's transposed matrix on the way: ∂loss/∂a[l] = W[l+1]ᵀ ⋯ W[L]ᵀ · ∂loss/∂a[L].
# With W = scale · I, the gradient that reaches layer *l* is scale^(L−l) times the gradient at the
# output. Forward, the signal grows or shrinks toward the **output**; backward, the gradient
# grows or shrinks toward the **input**.
#
# The explorer computes both for a width-32 net. Move **depth** and **scale**; switch the
# weights from `identity` to `gaussian` (a fixed random matrix with variance 1/width per entry,
# scaled by the slider) to see that a random network follows the same law on average, with
# some wobble. Where the two lines of dots cross the lines scale^l and scale^(L−l), the simple
# C^L argument is exact. The axes hold still while **scale** moves (they cover the slider's whole
# range at each depth), so growth shows as the dots climbing and decay as the dots falling.

# %%
explorer = DeepLinearExplorer(rng=rng, depth=30, scale=1.2)
explorer

# %% [markdown]
# ## Measuring gradients on a real Keras model
#
# The gradient a layer's weights receive is what gradient descent uses to update them. For a
# Dense layer it is ∂loss/∂W[l] = (gradient arriving at the layer) × (activation entering it),
# an outer product. `tf.GradientTape` records the forward pass and hands back these gradients.
#
# ### Exercise: `layer_gradient_norms(model, x, y, loss_fn)`
# Return a list of floats: the L2 (Frobenius) norm of ∂loss/∂kernel for **every layer that has a
# kernel**, input side first — kernels only, not biases (layers such as `Flatten` have none).
# The loss is `loss_fn(y, model(x))`. Use `tf.GradientTape`; `layer.kernel` is a layer's weight
# matrix (Dense) or filter bank (Conv2D).

# %% nbgrader={"grade": false, "grade_id": "layer_gradient_norms", "locked": false, "schema_version": 3, "solution": true, "task": false}
import keras  # TensorFlow comes in here, at its first use (setup() seeds it then)
import tensorflow as tf


def layer_gradient_norms(model, x, y, loss_fn):
    """L2 norm of ∂loss/∂kernel for each layer with a kernel, input side first (list of floats)."""
    ### BEGIN SOLUTION
    kernels = [layer.kernel for layer in model.layers if getattr(layer, "kernel", None) is not None]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    return [float(tf.norm(gradient)) for gradient in tape.gradient(loss, kernels)]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_layer_gradient_norms", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: layer_gradient_norms on a 3-layer linear net whose answer is known exactly."""

# %% nbgrader={"grade": true, "grade_id": "hidden_layer_gradient_norms", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: layer_gradient_norms against the reference on nets with biases, a Conv layer, depth 1."""
layer_gradient_norms(deep_linear_model(depth=2, width=2, scale=1.0), np.ones((1, 2), "float32"),
                     np.zeros((1, 2), "float32"), keras.losses.MeanSquaredError())  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("layer_gradient_norms", layer_gradient_norms)
### END HIDDEN TESTS

# %% [markdown]
# ## The C^L argument, checked on Keras
#
# Take the deep linear net W = scale · I again, one input x, and the mean squared error to a
# zero target over n outputs. Then ∂loss/∂a[L] = (2/n)·scale^L·x, the gradient arriving at layer
# *l* is scale^(L−l) times that, and the activation entering layer *l* is scale^(l−1)·x. Their
# outer product gives **every** layer the same kernel-gradient norm
#
# $$\left\|\frac{\partial\,\text{loss}}{\partial W[l]}\right\| = \frac{2}{n}\,\text{scale}^{2L-1}\,\|x\|^2 .$$
#
# The forward growth and the backward growth meet in the weights' gradient. Your function on
# real Keras nets of growing depth, beside the formula:

# %% tags=["expected-output"]
width = 4
x_one = (np.ones((1, width)) / 2.0).astype("float32")  # ‖x‖ = 1
zero_target = np.zeros((1, width), "float32")
mse = keras.losses.MeanSquaredError()
print(" depth | scale | first-layer ‖∂loss/∂W‖ | (2/n)·scale^(2L−1) | last-layer ‖∂loss/∂W‖")
for scale in (1.2, 0.5):
    for depth in (5, 20, 40):
        net = deep_linear_model(depth=depth, width=width, scale=scale)
        norms = layer_gradient_norms(net, x_one, zero_target, mse)
        formula = 2 / width * scale ** (2 * depth - 1)
        print(f" {depth:5d} | {scale:5.1f} | {norms[0]:22.4e} | {formula:18.4e} | {norms[-1]:.4e}")
        if norms[0] == 0.0:
            print(f"         ↑ the formula gives {formula:.1e}; the float32 norm came back as exactly 0")
print(f"\nscale 1.2, depth 40: every layer's norm is (2/n)·1.2^79 = {2 / width * 1.2 ** 79:,.0f}")

# %% [markdown]
# At scale 1.2 and depth 40 every layer's gradient norm is close to a million (the last line
# above): one step of gradient descent with an ordinary learning rate throws the weights far
# away, and the next forward pass overflows — the loss becomes `inf`, then `NaN`. At scale 0.5
# the gradients are so small that no learning rate can turn them into useful steps. That is
# exploding and vanishing in one table.
#
# Where the table marks a 0, look closer: the gradient is not lost. Its entries are far smaller
# than 1 but still far above the smallest number float32 can hold; it is the *norm* that fails,
# because it squares every entry first, and those squares fall below float32's range and
# round to 0. The depth-40, scale-0.5 net once more, its gradient taken directly:

# %% tags=["expected-output"]
net = deep_linear_model(depth=40, width=width, scale=0.5)
with tf.GradientTape() as tape:
    loss = mse(zero_target, net(x_one, training=True))
first_kernel_gradient = tape.gradient(loss, net.layers[0].kernel).numpy()  # float32, (4, 4)
largest_entry = np.abs(first_kernel_gradient).max()
print(f"largest entry of ∂loss/∂W[1] (float32): {largest_entry:.2e}")
print(f"smallest positive float32 (normal / subnormal): {np.finfo(np.float32).tiny:.1e} / "
      f"{np.finfo(np.float32).smallest_subnormal:.1e}")
print(f"its square: {float(largest_entry) ** 2:.1e}, as float32: {np.float32(largest_entry) ** 2}")
print(f"norm in float32: {float(tf.norm(first_kernel_gradient))}; in float64: "
      f"{np.linalg.norm(first_kernel_gradient.astype(float)):.2e} (the formula: {2 / width * 0.5 ** 79:.2e})")

# %% [markdown]
# So the gradient itself survived; a norm computed in float64 (or after rescaling) recovers the
# formula's value exactly. Keep that in mind when a monitor reports a gradient of exactly 0:
# tiny numbers that float32 still holds can vanish inside the computation of their norm.
#
# ## Random weights, the same law
#
# Real networks are initialised with random matrices, not scaled identities. A random matrix
# whose entries have variance scale²/n stretches a typical vector by about `scale` — so the
# product of *L* of them behaves like scale^L, which is why the choice of initial scale
# (lesson 04) matters so much. Measured on Keras nets with such Gaussian weights:

# %% tags=["expected-output"]
print(" scale | depth 10 first-layer grad | depth 40 first-layer grad | growth per extra layer")
for scale in (0.8, 1.0, 1.2):
    first = []
    for depth in (10, 40):
        net = deep_linear_model(depth=depth, width=64, scale=scale, weights="gaussian", rng=rng)
        x_batch = rng.normal(size=(32, 64)).astype("float32")
        first.append(layer_gradient_norms(net, x_batch, np.zeros((32, 64), "float32"), mse)[0])
    per_layer = (first[1] / first[0]) ** (1 / 30)
    print(f" {scale:5.1f} | {first[0]:25.3e} | {first[1]:25.3e} | ×{per_layer:.3f} (scale² = {scale ** 2:.2f})")

# %% [markdown]
# Each extra layer multiplies the first layer's gradient by roughly scale² (scale once through
# the forward signal, once through the backward signal), as for the identity net. Only
# scale = 1 keeps it steady.
#
# **Next:** lesson 02 adds what real networks have — saturating activations, initialisation
# choices, recurrence and large learning rates — and shows how to *detect* which of them is
# hurting your training.
