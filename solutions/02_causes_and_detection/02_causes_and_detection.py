# %% [markdown]
# # 02 · Causes and detection: why gradients vanish or explode, and how to tell
#
# Lesson 01 showed the law: a gradient that crosses *L* layers is multiplied by *L* factors,
# so it grows or shrinks exponentially in *L* — like cᴸ for a per-layer factor c. This lesson asks **where those factors come
# from** in real networks — the activation's slope, the initial weights, the depth, the number
# of time steps, the learning rate — and **how to see** which one is hurting a training run:
# per-layer gradient norms over training, histograms of what changed, and a guard against NaN.
#
# **You will:** write the slopes of sigmoid and tanh (`sigmoid_grad`, `tanh_grad`), a Keras
# callback that records every layer's gradient norm after each epoch (`GradientNormLogger`),
# and a detector that reads such a record and says what is wrong (`diagnose`). Then you run
# them on three real trainings: one that vanishes, one that explodes and one that is healthy.

# %%
import gradclinic

rng = gradclinic.setup(seed_value=0)  # first: quiets TensorFlow before anything imports it

import matplotlib.pyplot as plt
import numpy as np

from gradclinic.data import load_digits
from gradclinic.explorers.causes_and_detection import CausesExplorer
from gradclinic.models import deep_linear_model, deep_mlp
from gradclinic.profiles import MLPProfiler, draw_weights

# %% [markdown]
# ## Cause 1: activations that saturate
#
# Backpropagation through a layer a = g(z), z = W·a_prev + b multiplies the incoming gradient by
# the activation's slope g'(z), unit by unit, then by Wᵀ. The slope is one of the factors of
# lesson 01's product — and for the classic activations it is small.
#
# The **sigmoid** σ(z) = 1 / (1 + e^−z) squashes every number into (0, 1). Its derivative has
# a neat form, σ'(z) = σ(z)·(1 − σ(z)): a product of two numbers that add up to 1, so it is
# largest when both are ½ — at z = 0, where it is ¼. Far from 0 the sigmoid is flat
# (*saturated*) and its slope is nearly 0.
#
# ### Exercise: `sigmoid_grad(z)`
# Return σ'(z) elementwise for a number or NumPy array `z` (same shape). It must stay
# **numerically stable**: at z = ±100 in float32 (where e^100 overflows to inf), and at ±1000 in
# float64, it must return tiny non-negative numbers — no NaN, no overflow warnings. The naive
# 1/(1 + np.exp(−z)) computes e^−z, which overflows for large negative z; and
# e^−z / (1 + e^−z)² becomes inf/inf = NaN there. Hint: σ'(z) = σ(z)·σ(−z) is symmetric in z, and
# e^−|z| never exceeds 1.

# %% nbgrader={"grade": false, "grade_id": "sigmoid_grad", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sigmoid_grad(z):
    """σ'(z) = σ(z)·(1 − σ(z)) elementwise, for a number or an array of any shape; no overflow."""
    ### BEGIN SOLUTION
    small = np.exp(-np.abs(np.asarray(z, dtype=float)))  # e^−|z| ∈ (0, 1]: cannot overflow
    return small / (1.0 + small) ** 2
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sigmoid_grad", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: sigmoid_grad at 0 and ±2, and at ±100 (float32) without overflow or NaN."""

# %% nbgrader={"grade": true, "grade_id": "hidden_sigmoid_grad", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: sigmoid_grad against the reference on random, 2-D, scalar, integer and extreme z."""
sigmoid_grad(np.linspace(-5, 5, 11))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("sigmoid_grad", sigmoid_grad)
### END HIDDEN TESTS

# %% [markdown]
# **tanh** is a stretched sigmoid, tanh(z) = 2σ(2z) − 1, centred on 0 with values in (−1, 1).
# Its slope is tanh'(z) = 1 − tanh(z)²: 1 at z = 0, so a single tanh layer need not shrink the
# gradient — but it saturates just like the sigmoid as |z| grows.
#
# ### Exercise: `tanh_grad(z)`
# Return tanh'(z) = 1 − tanh(z)² elementwise (same shape as `z`), stable at ±100 in float32 and
# ±1000 in float64 like `sigmoid_grad`. (`np.tanh` itself is stable.)

# %% nbgrader={"grade": false, "grade_id": "tanh_grad", "locked": false, "schema_version": 3, "solution": true, "task": false}
def tanh_grad(z):
    """tanh'(z) = 1 − tanh(z)² elementwise, for a number or an array of any shape."""
    ### BEGIN SOLUTION
    return 1.0 - np.tanh(np.asarray(z, dtype=float)) ** 2
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_tanh_grad", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: tanh_grad at 0 and ±1, and at ±100 (float32) without overflow or NaN."""

# %% nbgrader={"grade": true, "grade_id": "hidden_tanh_grad", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: tanh_grad against the reference on random, 2-D, scalar, integer and extreme z."""
tanh_grad(np.linspace(-5, 5, 11))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("tanh_grad", tanh_grad)
### END HIDDEN TESTS

# %% [markdown]
# Your two functions, measured: the largest slope each can give, and how fast it fades.

# %% tags=["expected-output"]
z_grid = np.linspace(-8, 8, 1601)
print(f"largest σ'(z) on [−8, 8]: {sigmoid_grad(z_grid).max():.4f} at z = {z_grid[sigmoid_grad(z_grid).argmax()]:.2f}")
print(f"largest tanh'(z) on [−8, 8]: {tanh_grad(z_grid).max():.4f}")
for z in (1.0, 2.0, 3.0, 5.0):
    print(f"  z = {z:.0f}: σ'(z) = {sigmoid_grad(z):.2e}   tanh'(z) = {tanh_grad(z):.2e}")
print("\nbest case for a chain of L sigmoid layers (every unit at z = 0, weights aside): 0.25^L")
for depth in (2, 5, 11, 20):
    print(f"  L = {depth:2d}: {0.25 ** depth:.1e}")

figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
left.plot(z_grid, 1 / (1 + np.exp(-z_grid)), label="σ(z)")
left.plot(z_grid, sigmoid_grad(z_grid), label="σ'(z)  (your sigmoid_grad)")
right.plot(z_grid, np.tanh(z_grid), label="tanh(z)")
right.plot(z_grid, tanh_grad(z_grid), label="tanh'(z)  (your tanh_grad)")
for ax, corner in ((left, "upper left"), (right, "lower right")):
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_xlabel("z")
    ax.legend(loc=corner)
left.set_title("sigmoid: slope at most ¼")
right.set_title("tanh: slope 1 at 0, but saturates")
plt.show()

# %% [markdown]
# The sigmoid's slope is at most the maximum printed above, so even in its best case a chain of
# *L* sigmoid layers multiplies the gradient by 0.25^L — the table above. The weights can
# compensate only if they are large, and large weights push z away from 0, into the flat
# region. tanh starts with slope 1, so depth alone does not sink it; what sinks it is
# **saturation**, which the next cause brings.
#
# ## Cause 2: initial weights that are too large (N(0, 1))
#
# A unit's pre-activation z = Σᵢ wᵢ aᵢ sums n inputs. With weights drawn from the standard normal
# N(0, 1) and n = 64 inputs of size ~1, z has a standard deviation near √64 = 8: most units sit
# deep in tanh's flat region. Keras's default, Glorot uniform, scales the weights down by about
# that factor, so z stays in tanh's steep middle (lesson 04 derives it). Below, a 10-layer tanh net of width 64 at
# initialisation, profiled with each scheme: the share of saturated units (|tanh(z)| > 0.99) and
# the mean slope, computed with **your** `tanh_grad`.

# %% tags=["expected-output"]
profiler = MLPProfiler(width=64, batch=128, seed=0)  # compiled once, reused below
for scheme in ("glorot_uniform", "standard_normal"):
    profile = profiler.profile(draw_weights(scheme, 10, 64, rng), "tanh")
    saturated = np.mean(np.abs(profile.activations) > 0.99)
    print(f"{scheme:>15}: pre-activation std {profile.preactivations.std():5.2f}, "
          f"saturated units {saturated:6.1%}, mean tanh'(z) {tanh_grad(profile.preactivations).mean():.3f}")

# %% [markdown]
# With N(0, 1) weights most units are saturated and the average slope is the small number
# printed above; each layer's factor is that slope times a weight matrix ~8 times too large.
# Depending on which wins, the gradient vanishes or explodes — the explorer at the end lets you
# see both.
#
# ## Cause 3: depth — and time steps
#
# Every layer adds a factor. The same sigmoid net at growing depth, at initialisation: the ratio
# of the first layer's kernel-gradient norm to the last one's (input side over output side).

# %% tags=["expected-output"]
for depth in (2, 5, 10, 20):
    norms = profiler.profile(draw_weights("glorot_uniform", depth, 64, rng), "sigmoid").kernel_grad_norms
    print(f"sigmoid, depth {depth:2d}: first/last kernel-gradient norm = {norms[0] / norms[-1]:.1e}")

# %% [markdown]
# A recurrent network (lesson 05) is a deep network in disguise: reading a sequence, it applies
# **the same** weights at every step, h[t] = tanh(W·h[t−1] + U·x[t]), so the gradient that
# reaches step t from a loss at the last step T has crossed T − t layers, each multiplying it by
# Wᵀ and by tanh'(z[t]) — **your** `tanh_grad`. A 32-unit RNN with random weights (variance
# 1/32) reading 50 random inputs, backpropagated by hand:

# %% tags=["expected-output"]
width, sequence_length = 32, 50
recurrent = rng.normal(scale=width ** -0.5, size=(width, width))
input_weights = rng.normal(scale=width ** -0.5, size=(width, width))
state, preactivations = np.zeros(width), []
for x_t in rng.normal(size=(sequence_length, width)):
    preactivations.append(recurrent @ state + input_weights @ x_t)
    state = np.tanh(preactivations[-1])
gradient = rng.normal(size=width)
gradient /= np.linalg.norm(gradient)  # a unit gradient at the last step
through_time = np.empty(sequence_length)
for t in reversed(range(sequence_length)):
    through_time[t] = np.linalg.norm(gradient)  # ‖∂loss/∂h[t]‖
    gradient = recurrent.T @ (tanh_grad(preactivations[t]) * gradient)
for back in (5, 20, 49):
    print(f"‖∂loss/∂h‖ {back:2d} steps before the end: {through_time[-1 - back]:.1e}")

# %% [markdown]
# The further back a step, the less of the loss's gradient reaches it — the printed numbers
# shrink exponentially with the distance, by a roughly constant factor per step: a plain RNN cannot learn from what it read long ago. Lesson 05 measures this on sentences ("those cats … they
# were") and shows how gated cells (GRU, LSTM) keep the path open.
#
# ## Cause 4: a learning rate that is too large
#
# The update itself can be the factor that explodes. On a loss with curvature c near its minimum,
# loss ≈ ½·c·w², one gradient-descent step maps w to w − lr·c·w = (1 − lr·c)·w. After *t* steps
# the weight has been multiplied by (1 − lr·c)^t: it converges when |1 − lr·c| < 1 and grows
# exponentially, like (1 − lr·c)^t — lesson 01's law, now over *steps* — as soon as lr > 2/c.

# %% tags=["expected-output"]
curvature, steps = 10.0, 50
for learning_rate in (0.05, 0.19, 0.21):
    factor = 1 - learning_rate * curvature
    print(f"lr = {learning_rate:4.2f}: factor per step {factor:+.2f}, w after {steps} steps = "
          f"{factor ** steps:.1e} × w₀   (diverges when lr > 2/c = {2 / curvature:.2f})")

# %% [markdown]
# In a deep network each weight's curvature depends on all the others, so the safe learning rate
# is not known in advance: a step that is fine for one layer throws another far off, its
# activations and gradients grow, and a few steps later the loss is `inf`, then `NaN`. You will
# see it happen below.
#
# ## Detecting it: every layer's gradient norm, every epoch
#
# The training loss says *that* something is wrong, not *what*. The gradient each layer receives
# says where: a norm that falls by orders of magnitude toward the input means vanishing; norms
# that are huge or `NaN` mean exploding. Keras calls a **callback** at fixed moments of `fit`;
# `on_epoch_end(epoch, logs)` runs after each epoch's last training step, and inside it
# `self.model` is the model being trained.
#
# ### Exercise: `GradientNormLogger(x, y)`
# Complete the callback. After **each epoch** (in `on_epoch_end`), append to `self.history` one
# list of floats: the L2 norm of ∂loss/∂kernel for every layer that has a kernel, **input side
# first, kernels only** (no biases) — like lesson 01's `layer_gradient_norms`. The loss is **the
# model's own compiled loss on the (x, y) given to the constructor, as one batch**:
# `self.model.compute_loss(x=x, y=y, y_pred=self.model(x, training=True))`, which applies the loss
# given to `compile` (whether it was a name such as `"mse"` or a loss object) plus any weight
# penalties — the quantity `fit` minimises. Use `tf.GradientTape`. After training for *E*
# epochs, `history` holds *E* lists.
#
# **Input checks:** none are graded here. `x` and `y` go to the model exactly as `fit` would
# take them (a batch of inputs and its targets); a batch the model cannot read makes Keras raise
# its own error. What the grader checks is `history`: one list per epoch (not per batch), one
# float per kernel in `model.layers` order, on models with biases, a `Conv2D` layer (its kernel
# has shape (kh, kw, in, out)), the Adam optimizer, a single layer, and a probe batch that is
# not the training data. The steps, with their shapes, are written out in the cell.

# %% nbgrader={"grade": false, "grade_id": "GradientNormLogger", "locked": false, "schema_version": 3, "solution": true, "task": false}
import keras  # imported at its first use: the lesson's first figures need no TensorFlow
import tensorflow as tf


class GradientNormLogger(keras.callbacks.Callback):
    """Records, after every epoch, ‖∂loss/∂kernel‖ of each layer with a kernel (input side first),
    for the model's compiled loss on (x, y). ``history``: one list of floats per epoch."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        # 1. kernels: layer.kernel of every layer in self.model.layers that has one, input side
        #    first (getattr(layer, "kernel", None) is None for Flatten): K variables, (in, out) for
        #    Dense, (kh, kw, in, out) for Conv2D.
        # 2. inside `with tf.GradientTape() as tape:` run y_pred = self.model(self.x, training=True),
        #    shape (batch, outputs), and loss = self.model.compute_loss(x=self.x, y=self.y,
        #    y_pred=y_pred): one scalar, averaged over the batch as fit's loss is.
        # 3. tape.gradient(loss, kernels): K tensors, each of its kernel's shape.
        # 4. append one list of K floats, float(tf.norm(g)) for each g, to self.history.
        ### BEGIN SOLUTION
        kernels = [layer.kernel for layer in self.model.layers if getattr(layer, "kernel", None) is not None]
        with tf.GradientTape() as tape:
            loss = self.model.compute_loss(x=self.x, y=self.y, y_pred=self.model(self.x, training=True))
        self.history.append([float(tf.norm(gradient)) for gradient in tape.gradient(loss, kernels)])
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_GradientNormLogger", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: GradientNormLogger on lesson 01's 3-layer net W = 2·I (known answer 32), with biases."""

# %% nbgrader={"grade": true, "grade_id": "hidden_GradientNormLogger", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: GradientNormLogger trained with the grader's models (biases, Conv2D, Adam, depth 1)."""
smoke_net = deep_linear_model(depth=2, width=2, scale=1.0)
smoke_net.compile(optimizer="sgd", loss="mse")
smoke_logger = GradientNormLogger(np.ones((1, 2), "float32"), np.zeros((1, 2), "float32"))  # it must run; the grader adds its hidden comparisons below
smoke_logger.set_model(smoke_net)
smoke_logger.on_epoch_end(0)
### BEGIN HIDDEN TESTS
from autograder import check

check("GradientNormLogger", GradientNormLogger)
### END HIDDEN TESTS

# %% [markdown]
# ## A tutorial's deep sigmoid net on digits: a plateau, explained
#
# A widely read tutorial trains a deep sigmoid MLP (Adam, batch 32) and reports that its accuracy
# stops improving after a few epochs. Its text says 10 hidden layers; its code builds **11** — the
# Dense layer it labels "input layer" is the first hidden layer (an input layer holds no
# weights) — then a softmax layer. We rebuild that code on the 8×8 digits (64 pixels, 10
# classes; the tutorial used MNIST, which this course does not download) and, beside it, the same
# net with only 2 hidden layers. Both carry your logger, on a fixed batch of 256 training
# images.

# %% tags=["expected-output"]
digits = load_digits()
probe_x, probe_y = digits.x_train[:256], digits.y_train[:256]
epochs = 4  # the same under the grader, so the expected output below holds there too


def train_sigmoid_mlp(depth):
    """The tutorial's MLP at the given depth (width 256, sigmoid, Adam).

    Returns the trained model, its kernels before training, the fit history and the logger."""
    keras.utils.set_random_seed(depth)  # its own seed: the same weights and batches whatever ran before
    model = deep_mlp(64, 10, depth=depth, width=256, activation="sigmoid")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    initial_kernels = [layer.kernel.numpy() for layer in model.layers]
    logger = GradientNormLogger(probe_x, probe_y)
    fitted = model.fit(digits.x_train, digits.y_train, epochs=epochs, batch_size=32, verbose=0,
                       callbacks=[logger])
    return model, initial_kernels, fitted.history, logger


deep, deep_start, deep_fit, deep_logger = train_sigmoid_mlp(11)
shallow, _, shallow_fit, shallow_logger = train_sigmoid_mlp(2)
print(f"training accuracy per epoch, 11 sigmoid layers: {np.round(deep_fit['accuracy'], 3)}")
print(f"training accuracy per epoch,  2 sigmoid layers: {np.round(shallow_fit['accuracy'], 3)}")
final_norms = np.array(deep_logger.history[-1])
print(f"\n11 layers, after epoch {epochs}: first-layer gradient norm {final_norms[0]:.1e}, "
      f"output layer {final_norms[-1]:.1e}: {np.log10(final_norms[-1] / final_norms[0]):.1f} orders of magnitude apart")

figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
left.plot(np.arange(1, epochs + 1), deep_fit["accuracy"], "o-", label="11 sigmoid layers")
left.plot(np.arange(1, epochs + 1), shallow_fit["accuracy"], "s-", label="2 sigmoid layers")
left.set(xlabel="epoch", ylabel="training accuracy", title="same data, same optimizer", ylim=(0, 1))
left.legend()
for epoch, norms in enumerate(deep_logger.history, start=1):
    right.semilogy(np.arange(1, len(norms) + 1), norms, "o-", color=plt.cm.viridis(epoch / epochs),
                   label=f"epoch {epoch}" if epoch in (1, epochs) else None)
right.set(xlabel="layer (1 = input side, 12 = softmax)", ylabel="‖∂loss/∂W‖ (log)",
          title="11 sigmoid layers: your logger, each epoch")
right.legend()
plt.show()

# %% [markdown]
# The deep net's accuracy stays near chance (one class in ten) while the shallow one learns, and
# your logger shows the gradient reaching the first layer smaller than the output layer's by the
# orders of magnitude printed above, in every epoch: the 0.25^L table, measured.
#
# ### What the weights show — and what the tutorial's histogram does not
# The tutorial then plots a "histogram of weights" — every kernel's values pooled — and reads it as a
# picture of the *gradients* ("dense in −0.1 to 0.1, so vanishing"). It is the weights, not the
# gradients, and −0.1 to 0.1 is simply where Glorot uniform put them at initialisation. (Its
# exploding-gradient part also calls a function `compute_gradient_norms` that it never defines —
# it defined `compute_weight_gradient_norms` — on the whole training set in one batch. Your
# callback is that function done right: kernels only, on a fixed batch, after every epoch.) What
# *does* show the vanishing is how far each layer's weights moved from where they started.

# %%
layer_moves = [np.abs(layer.kernel.numpy() - start).ravel() for layer, start in zip(deep.layers, deep_start)]
pooled_now = np.concatenate([layer.kernel.numpy().ravel() for layer in deep.layers])
pooled_start = np.concatenate([start.ravel() for start in deep_start])
shown_layers = (0, 1, 5, 10, 11)  # layers 1, 2, 6, 11 and the softmax layer 12

figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
bins = np.linspace(pooled_start.min(), pooled_start.max(), 41)
left.hist(pooled_start, bins=bins, alpha=0.6, label="at initialisation")
left.hist(pooled_now, bins=bins, histtype="step", lw=1.5, label=f"after {epochs} epochs")
left.set(xlabel="weight value", ylabel="count", title="the tutorial's plot: all weights, pooled")
left.legend(loc="lower center")
for index in shown_layers:
    moved = np.log10(np.maximum(layer_moves[index], 1e-12))
    right.hist(moved, bins=60, range=(-10, -1), density=True, histtype="step", lw=1.5, label=f"layer {index + 1}")
right.set(xlabel="log₁₀ |weight change during training|", ylabel="density (each layer)",
          title="how far each layer's weights moved")
right.legend(loc="upper left")
plt.show()
print(f"Adam's ε = {deep.optimizer.epsilon:g}")
for index in shown_layers:
    typical_gradient = deep_logger.history[-1][index] / np.sqrt(layer_moves[index].size)  # RMS of the entries
    print(f"layer {index + 1:2d}: median |change| of a weight {np.median(layer_moves[index]):.1e}, "
          f"typical gradient entry {typical_gradient:.1e}")

# %% [markdown]
# The pooled histograms on the left overlap: nothing in them tells vanishing from healthy
# training. Split by layer and measured as a change (right), the input-side layers stand out:
# their weights moved far less than the rest, whose changes are all about the same size
# although their gradients differ by orders of magnitude. That is Adam: it divides each weight's
# step by the running size of that weight's own gradient plus ε, so small gradients still take
# full-size steps — unless they are far below ε, as the typical entries printed above for the
# first layers are. So most layers moved at full speed, and still the net learned nothing. Look
# forward instead of backward: how different do the images look to each layer?

# %%
layer_outputs = keras.Model(deep.inputs, [layer.output for layer in deep.layers])(probe_x)
spread = [float(np.std(output.numpy(), axis=0).mean()) for output in layer_outputs]
print("how much the 256 probe images differ at the output of layers 1 … 12 (std across images):")
print("  " + "  ".join(f"{value:.0e}" for value in spread))
print(f"spacing of float32 numbers near 0.5: {np.spacing(np.float32(0.5)):.0e}")

# %% [markdown]
# The differences between images shrink layer after layer by the same kind of factor — a slope of
# at most ¼ times the weights, now acting on the forward signal, as lesson 01 found for linear
# nets — until, in the last hidden layers, they are only a few float32 rounding steps apart
# (the spacing printed above): every image looks almost the same to the output layer, whatever
# the weights do. Gradients backward and signals forward vanish together; that is the plateau.
#
# ## A deep linear net, a large learning rate, and a NaN guard
#
# Now the other failure. The same tutorial's deep linear net — a stack of linear Dense layers, then
# softmax; 20 layers of width 64 here, where the tutorial has 21 of width 256 — trained with plain
# SGD, once at a small learning rate and once at a three times larger one. A NaN guard, Keras's
# `keras.callbacks.TerminateOnNaN`, checks the loss after every batch and stops `fit` the moment
# it is `NaN` or `inf`; without it, training would run its remaining epochs on `NaN` weights.

# %% tags=["expected-output"]
planned_epochs = 3
linear_loggers, linear_losses = {}, {}
for learning_rate in (0.01, 0.03):
    keras.utils.set_random_seed(20)  # the same weights and batches at both learning rates
    linear_net = deep_mlp(64, 10, depth=20, width=64, activation="linear")
    linear_net.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                       loss="sparse_categorical_crossentropy")
    linear_loggers[learning_rate] = GradientNormLogger(probe_x, probe_y)
    print(f"lr = {learning_rate}:")
    linear_fit = linear_net.fit(digits.x_train, digits.y_train, epochs=planned_epochs, batch_size=32, verbose=0,
                                callbacks=[linear_loggers[learning_rate], keras.callbacks.TerminateOnNaN()])
    linear_losses[learning_rate] = linear_fit.history["loss"]
    print(f"  ran {len(linear_losses[learning_rate])} of {planned_epochs} epochs; loss per epoch "
          f"{np.array2string(np.array(linear_losses[learning_rate]), precision=3)}; largest kernel-gradient "
          f"norm per epoch {np.array2string(np.max(linear_loggers[learning_rate].history, axis=1), precision=3)}")

# %% [markdown]
# At the small learning rate the loss falls; at the larger one it blows up and turns `NaN`, and
# the guard stopped training in the epoch and at the batch printed above (Keras prints the
# batch, counted from 0 within the epoch). Exploding gradients rarely announce themselves an
# epoch ahead, which is why the guard checks every batch. Lesson 07 tames this net with
# gradient clipping.
#
# ## Reading the record: `diagnose`
#
# A list of per-layer norms (input side first) is a diagnosis waiting to be read. Compare the
# ends: the ratio r = norms[0] / norms[−1] says how much the gradient grew (r > 1) or shrank
# (r < 1) on its way from the output back to the input.
#
# ### Exercise: `diagnose(norms, vanish_ratio=1e-3, explode_at=1e2)`
# Return the string
# - `"exploding"` if any norm is not finite (`NaN`, `inf`) **or** any norm is > `explode_at`
#   **or** r > 1/`vanish_ratio`;
# - otherwise `"vanishing"` if r < `vanish_ratio`;
# - otherwise `"healthy"`.
#
# The comparisons are strict: a value exactly at a threshold is healthy. Edge cases, defined: a
# zero last norm under a positive first one makes r = +∞ (exploding); a zero first norm is
# vanishing (no gradient reaches the input layer — even when the last norm is zero too); a
# single norm is compared with itself (r = 1). Raise `ValueError` when `norms` is empty or holds
# a negative number. Note that `NaN` compares `False` with every number.
#
# Two kinds of threshold: `vanish_ratio` is **relative** (a ratio of two norms, so it does not
# care how the loss is scaled), while `explode_at` is **absolute**, a bound on the norms
# themselves. An absolute bound only means something for a stated loss: the norms this lesson
# feeds to `diagnose` — your logger's and the explorer's — are for a loss **averaged** over the
# batch, as Keras's losses are; the same loss *summed* over a batch of B examples would have
# gradients B times larger and cross `explode_at` B times sooner.

# %% nbgrader={"grade": false, "grade_id": "diagnose", "locked": false, "schema_version": 3, "solution": true, "task": false}
def diagnose(norms, vanish_ratio=1e-3, explode_at=1e2):
    """"exploding", "vanishing" or "healthy" for per-layer gradient norms (input side first)."""
    ### BEGIN SOLUTION
    norms = np.asarray(norms, dtype=float)
    if norms.ndim != 1 or norms.size == 0:
        raise ValueError(f"norms must be a non-empty list of per-layer norms, got shape {norms.shape}")
    if np.any(norms < 0):
        raise ValueError("a gradient norm is never negative; pass the norms themselves")
    if not np.all(np.isfinite(norms)) or np.any(norms > explode_at):
        return "exploding"
    first, last = norms[0], norms[-1]
    if first == 0:
        return "vanishing"
    if last == 0 or first / last > 1 / vanish_ratio:
        return "exploding"
    if first / last < vanish_ratio:
        return "vanishing"
    return "healthy"
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_diagnose", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: diagnose on one profile of each kind, NaN, a strict threshold, a zero last norm and []."""

# %% nbgrader={"grade": true, "grade_id": "hidden_diagnose", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: diagnose on random profiles, every threshold exactly, NaN/inf, zeros, custom thresholds."""
diagnose([1.0, 0.5])  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("diagnose", diagnose)
### END HIDDEN TESTS

# %% [markdown]
# ### `diagnose` on the three real trainings
# Your logger recorded every run above; your detector reads the records, epoch by epoch.

# %% tags=["expected-output"]
runs = {"11 sigmoid layers (the tutorial's)": deep_logger, "2 sigmoid layers": shallow_logger,
        "20 linear layers, lr 0.01": linear_loggers[0.01], "20 linear layers, lr 0.03": linear_loggers[0.03]}
for name, logger in runs.items():
    verdicts = [diagnose(norms) for norms in logger.history]
    ratio = logger.history[-1][0] / logger.history[-1][-1]
    print(f"{name:>29}: {verdicts}   (last epoch: first/last = {ratio:.1e})")

# %% [markdown]
# Each kind, on real runs: the deep sigmoid net is vanishing in every epoch and the shallow one,
# with everything else the same, healthy — depth made the difference; the linear net is healthy
# at the small learning rate and exploding at the large one — the step size made the difference.
#
# ### What `diagnose` cannot see
# A kernel's gradient is a product of two signals: ∂loss/∂W[l] = a[l−1]ᵀ · ∂loss/∂z[l], the
# activation arriving from the input side times the error arriving from the output side. If the
# forward signal shrinks by the same factor c < 1 at every layer, it has shrunk by c^(l−1) when
# it reaches layer l, and the error has shrunk by about c^(L−l) on its way back: every layer's
# product is about c^(L−1), **the same at every layer**. The ends' ratio stays near 1 and
# `diagnose` says "healthy", although the first layer receives an error signal orders of
# magnitude smaller than the last, and the signal reaching the output is just as faint. A 20-layer
# linear net whose Glorot weights are halved (c ≈ ½), with the error ∂loss/∂a[l] propagated back
# by hand (∂loss/∂a[l−1] = ∂loss/∂a[l] · W[l]ᵀ for a linear layer):

# %% tags=["expected-output"]
halved = 0.5 * draw_weights("glorot_uniform", 20, 64, rng)  # (20, 64, 64)
quiet = profiler.profile(halved, "linear")
errors = [profiler.upstream]  # ∂loss/∂a[20] for the profiler's loss, (128, 64)
for kernel in halved[:0:-1]:
    errors.append(errors[-1] @ kernel.T)  # ∂loss/∂a[l−1], (128, 64)
kernel_norms, error_norms = quiet.kernel_grad_norms, [np.linalg.norm(error) for error in errors[::-1]]
print(f"kernel-gradient norms, first/last: {kernel_norms[0] / kernel_norms[-1]:.2f}   "
      f"→ diagnose says {diagnose(list(kernel_norms / profiler.batch))!r}")
print(f"‖∂loss/∂a‖, first hidden layer / last:  {error_norms[0] / error_norms[-1]:.1e}")
print(f"activation std, layer 20 / layer 1:     {quiet.activations[-1].std() / quiet.activations[0].std():.1e}")

# %% [markdown]
# Both signals fell by about the same orders of magnitude (the last two lines) and cancelled in
# the kernel gradients (the first). A gradient-norm monitor built on kernels, like `diagnose`,
# is blind to this; measuring ∂loss/∂a[l] — the error each layer's output receives — sees it,
# and lesson 06 does exactly that to compare plain and residual nets. (Lesson 04 shows the same
# balance in Glorot & Bengio's nets.)
#
# ## Explorer: depth, activation and initial weights
#
# The explorer profiles a square net of width 64 at initialisation and asks **your** `diagnose`
# for a verdict. Its loss is the one `diagnose`'s `explode_at` is meant for, **averaged** over
# the batch: for each of 128 standard-normal inputs the output a[L] is dotted with a fixed random
# unit vector, and those 128 numbers are averaged, so the error arriving at the output has norm
# 1/128 per input. It plots the norm of the gradient each layer's kernel receives. Try: sigmoid from depth 2 to 60 (where does it turn "vanishing"?
# where do norms underflow to exactly 0?); tanh with `glorot_uniform` against `standard_normal`
# weights; relu and linear with N(0, 1) weights, where every layer's norm is huge although
# their ratio is near 1 — which is why `diagnose` needs `explode_at` as well as the ratio.

# %%
explorer = CausesExplorer(rng=rng, depth=20, activation="sigmoid", verdict=diagnose)
explorer

# %% [markdown]
# ## Summary
# - The gradient that reaches a layer is a product of one factor per layer (and per time step):
#   activation slope × weights. σ' ≤ ¼ makes sigmoid chains shrink like 0.25^L; tanh's slope is
#   1 at 0 but saturation makes it ~0; N(0, 1) weights push units into saturation and multiply
#   by matrices far too large; depth and sequence length add factors; a large learning rate
#   makes the *update* a factor > 1.
# - Detect it by logging every layer's gradient norm during training (your
#   `GradientNormLogger`), reading the ends of that profile (`diagnose`), looking at how far each
#   layer's weights moved (not at pooled weight histograms), and guarding against `NaN` with
#   `TerminateOnNaN`.
#
# **Next:** lesson 03 replaces the saturating activation with ReLU and its relatives.
