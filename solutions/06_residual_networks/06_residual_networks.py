# %% [markdown]
# # 06 · Residual networks: a short path for the gradient
#
# Lessons 01–04 kept finding the same law: the gradient that reaches layer l is the product of
# one factor per layer above it, so in a deep net it shrinks or grows **exponentially** with the
# depth, like cᴸ for L layers with a typical factor c per layer (not like a power Lᵖ, which would
# be far milder).
# Better activations (03) and initializers (04) push each factor toward 1. He, Zhang, Ren and Sun
# (2016) changed the *architecture* instead: let every block compute a correction F(x) and
# **add its input back**, y = x + F(x). Then ∂y/∂x = I + ∂F/∂x: even when ∂F/∂x is small, the
# identity carries the gradient through the block untouched. A stack of such blocks has a
# straight "shortcut" path from the loss to the first layer.
#
# **You will:** build ResNet's identity block in Keras (and fix a popular tutorial's version,
# which ignores its own window size `f`); build a deep tanh MLP with and without skip
# connections; measure, at initialisation, how much gradient reaches its first layer; train
# both on digits; and read what He et al. actually found, which is more than "skips stop
# vanishing gradients".

# %%
import gradclinic

rng = gradclinic.setup(seed_value=0)  # first: quiets TensorFlow before anything imports it

import keras
import matplotlib.pyplot as plt
import numpy as np

from gradclinic.data import load_digits
from gradclinic.explorers.residual_networks import ResidualExplorer
from gradclinic.models import first_to_last_ratio, output_gradient_norms, small_initializer
from gradclinic.training import train_from_seeds

# %% [markdown]
# ## The identity block
#
# ResNet is built from blocks whose output has the same shape as their input, so that the input
# can be added to it. A widely copied tutorial shows the "identity block" in Keras: two convolutions on
# the main path, each followed by Batch Normalization (lesson 09), a ReLU between them, then the
# shortcut added and a final ReLU:
#
# X → Conv2D(F1, f×f) → BN → ReLU → Conv2D(F2, f×f) → BN → **+ X** → ReLU
#
# **The tutorial's bug.** Its docstring says `f` is "the shape of the middle CONV's window", but both
# of its `Conv2D` calls pass `kernel_size=(1, 1)` and `padding='valid'`: `f` is never used, so
# every block sees a single pixel at a time. With a 1×1 window "valid" happens to keep the size;
# with an f×f window it would shrink the image and the addition would fail. The fix: use
# `kernel_size=(f, f)` and `padding="same"` in both convolutions. (The tutorial's `stage`/`block`
# arguments only name layers; we drop them.)
#
# Why `F2` must equal the input's channels: `Add` sums two tensors elementwise, so the main path
# must end with exactly as many channels as X has. (When they differ, ResNet uses a
# "convolutional block" whose shortcut has its own 1×1 convolution; not this exercise.)
#
# ### Exercise: `identity_block(X, f, filters)`
# `X` is a Keras tensor of shape (batch, height, width, channels) (for example `keras.Input((6, 6,
# 4))`), `f` an integer window size, `filters = (F1, F2)`. Return the block's output tensor,
# built with `keras.layers.Conv2D(F, (f, f), padding="same")`, `BatchNormalization()` (its
# default axis is the channel axis), `Activation("relu")` and `Add()`. Raise `ValueError` with a
# clear message when `filters` is not a pair or when F2 differs from X's channels
# (`X.shape[-1]`), *before* building any layer. Do not pass `training=` to any layer: Keras
# chooses batch statistics in training and moving averages in inference.

# %% nbgrader={"grade": false, "grade_id": "identity_block", "locked": false, "schema_version": 3, "solution": true, "task": false}
def identity_block(X, f, filters):
    """ResNet's identity block: (Conv2D f×f → BN → ReLU → Conv2D f×f → BN) + X → ReLU."""
    ### BEGIN SOLUTION
    if len(filters) != 2:
        raise ValueError(f"filters must be a pair (F1, F2), got {filters!r}")
    F1, F2 = filters
    if F2 != X.shape[-1]:
        raise ValueError(f"F2 = {F2} must equal the input's {X.shape[-1]} channels: the shortcut adds X "
                         "to the main path elementwise")
    X_shortcut = X
    X = keras.layers.Conv2D(F1, (f, f), padding="same")(X)
    X = keras.layers.BatchNormalization()(X)
    X = keras.layers.Activation("relu")(X)
    X = keras.layers.Conv2D(F2, (f, f), padding="same")(X)
    X = keras.layers.BatchNormalization()(X)
    X = keras.layers.Add()([X, X_shortcut])
    return keras.layers.Activation("relu")(X)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_identity_block", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: identity_block keeps the shape, uses f×f windows, adds X, ends with a ReLU, and refuses F2 ≠ channels."""


# %% nbgrader={"grade": true, "grade_id": "hidden_identity_block", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: identity_block against the reference with fixed weights, in inference and training mode."""
identity_block(keras.Input((4, 4, 2)), 3, (3, 2))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("identity_block", identity_block)
### END HIDDEN TESTS

# %% [markdown]
# Your block stacks like any layer. Below, a tiny stack of three blocks on 8×8 digit images with
# 4 channels (a 1×1 convolution lifts the one gray channel to 4), small enough for a CPU: its
# size, and what the final ReLU does to the output (never negative, many exact zeros).

# %%
digits_images = load_digits(images=True)
image_input = keras.Input((8, 8, 1))
h = keras.layers.Conv2D(4, (1, 1))(image_input)
for _ in range(3):
    h = identity_block(h, 3, (4, 4))
tiny_resnet = keras.Model(image_input, h)
convolutions = [layer for layer in tiny_resnet.layers if isinstance(layer, keras.layers.Conv2D)]
print(f"{len(convolutions)} Conv2D layers, {tiny_resnet.count_params()} parameters, "
      f"output shape {tiny_resnet.output_shape}")
images = np.asarray(digits_images.x_train[:64], "float32").reshape(-1, 8, 8, 1)
stack_output = keras.ops.convert_to_numpy(tiny_resnet(images, training=False))
print(f"input shape {images.shape}; fraction of outputs exactly 0 (cut by the final ReLU): "
      f"{np.mean(stack_output == 0):.3f}; smallest output {stack_output.min():.3f}")

# %% [markdown]
# ## Plain vs residual, as depth grows
#
# To see the effect on gradients without convolutions getting in the way, take an MLP. Both nets
# below read 64 pixels, project them to `width` units with a tanh layer, then run `depth` blocks
# of one Dense(width, tanh) layer each, then a softmax. The only difference: the residual net adds
# each block's input to its output, h ← h + tanh(W h + b); the plain net replaces it, h ← tanh(W h + b).
#
# **The initializer.** Every Dense layer starts from small weights, variance 0.1 / fan_in
# (`VarianceScaling(0.1, "fan_in", "truncated_normal")`). Two reasons, said plainly. A residual
# branch must start *small*: every block adds its output to the stream, and with Glorot-sized
# branches the stream (and its gradient) grows with depth; ResNets in practice keep branches
# small at the start (e.g. Goyal et al. 2017 set the last BN's γ to 0 in each block). And for
# the plain net this is the regime where gradients vanish: each layer multiplies the backward
# signal by about √0.1 (lesson 04: with variance 1/fan_in, Glorot's choice for tanh, a plain tanh
# net would hold its gradients much better at init).
#
# ### Exercise: `residual_mlp(input_dim, depth, width, n_classes, residual=True)`
# Return an (uncompiled) Keras functional model:
#
# 1. `inputs = keras.Input((input_dim,))`;
# 2. the projection `h = Dense(width, activation="tanh", kernel_initializer=small)(inputs)`;
# 3. `depth` times: `branch = Dense(width, activation="tanh", kernel_initializer=small)(h)`, then
#    `h = Add()([h, branch])` if `residual`, else `h = branch` (no `Add` layer at all);
# 4. `outputs = Dense(n_classes, activation="softmax")(h)` (its initializer is up to you).
#
# `small` is a fresh `keras.initializers.VarianceScaling(0.1, "fan_in", "truncated_normal")` for
# each layer (the toolkit's `small_initializer()` makes one). Both nets have the same
# parameters; only the wiring differs. Raise `ValueError` unless `input_dim`, `depth` and `width`
# are whole numbers ≥ 1 and `n_classes` ≥ 2.

# %% nbgrader={"grade": false, "grade_id": "residual_mlp", "locked": false, "schema_version": 3, "solution": true, "task": false}
def residual_mlp(input_dim, depth, width, n_classes, residual=True):
    """A deep tanh MLP: projection, depth Dense blocks (with skip adds when residual), softmax."""
    ### BEGIN SOLUTION
    for name, value, minimum in [("input_dim", input_dim, 1), ("depth", depth, 1), ("width", width, 1),
                                 ("n_classes", n_classes, 2)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    inputs = keras.Input((int(input_dim),))
    h = keras.layers.Dense(int(width), activation="tanh", kernel_initializer=small_initializer())(inputs)
    for _ in range(int(depth)):
        branch = keras.layers.Dense(int(width), activation="tanh", kernel_initializer=small_initializer())(h)
        h = keras.layers.Add()([h, branch]) if residual else branch
    outputs = keras.layers.Dense(int(n_classes), activation="softmax", kernel_initializer=small_initializer())(h)
    return keras.Model(inputs, outputs)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_residual_mlp", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: residual_mlp(64, 4, 16, 10) and its plain twin: 5 tanh layers, 4 or 0 Add layers, the parameters, a softmax; depth 0."""


# %% nbgrader={"grade": true, "grade_id": "hidden_residual_mlp", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: residual_mlp's architecture, initializer, parameters and gradient ratio at init, and bad arguments."""
residual_mlp(8, 2, 4, 3)  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("residual_mlp", residual_mlp)
### END HIDDEN TESTS

# %% [markdown]
# ### How much gradient reaches the first layer?
# For each depth, we build both twins with **your** `residual_mlp` (width 32) and measure, on 256
# training digits, ‖∂loss/∂a[l]‖: the gradient of the cross-entropy with respect to the output of
# each hidden layer, the error signal backpropagation hands to that layer. The ratio first/last
# says how much of the signal that reaches the last hidden layer survives the trip down to the
# first. (Why the layer's *output* and not its kernel? ∂loss/∂W[l] = a[l−1]ᵀ·δ[l] also contains the
# layer's input a[l−1]; with small weights the forward signal shrinks exactly as the backward one
# does, and the kernel gradients look deceptively even while the net has forgotten its input.)

# %% tags=["expected-output"]
digits = load_digits()
probe_x, probe_y = digits.x_train[:256], digits.y_train[:256]
depths = (2, 4, 8, 12, 16, 24)
ratios = {"plain": [], "residual": []}
profiles = {}
for depth in depths:
    for mode in ratios:
        keras.utils.set_random_seed(depth)
        norms = output_gradient_norms(residual_mlp(64, depth, 32, 10, residual=mode == "residual"), probe_x, probe_y)
        ratios[mode].append(first_to_last_ratio(norms))
        profiles[mode, depth] = norms
print("depth   plain first/last   residual first/last")
for depth, plain, residual in zip(depths, ratios["plain"], ratios["residual"]):
    print(f"{depth:5d}   {plain:16.3g}   {residual:19.3g}")

figure, (ratio_ax, profile_ax) = plt.subplots(1, 2, figsize=(11, 3.6))
for mode, marker in (("plain", "o"), ("residual", "s")):
    ratio_ax.plot(depths, ratios[mode], marker + "-", label=mode)
    profile = profiles[mode, depths[-1]]
    profile_ax.plot(np.arange(1, len(profile) + 1), profile, marker + "-", ms=3, label=mode)
ratio_ax.axhline(1.0, color="0.5", ls="--", lw=0.8)
ratio_ax.set(xlabel="depth (blocks)", ylabel="‖∂loss/∂a[first]‖ / ‖∂loss/∂a[last]‖", yscale="log",
             title="gradient ratio at initialisation")
profile_ax.set(xlabel="hidden layer l (input side left)", ylabel="‖∂loss/∂a[l]‖", yscale="log",
               title=f"per-layer profile, depth {depths[-1]}")
ratio_ax.legend()
plt.show()

# %% [markdown]
# Read the table. The plain net's ratio falls by a roughly constant factor per layer: orders of
# magnitude at the larger depths printed above. The first layers of a deep plain net receive
# almost nothing to learn from. The residual net's ratio stays near 1 for the shallower nets and
# grows slowly with depth (each block's I + ∂F/∂x has a norm a little above 1, and the products
# add up): it never collapses, and it stays far closer to 1 than the plain net's, at every depth
# printed. The right panel shows where the plain gradient goes: it shrinks layer by layer toward
# the input, while the residual profile is nearly flat.
#
# ## Training the twins on digits
# Now the practical question: does it matter for learning? Both twins at depth 12, width 32, Adam
# (learning rate 3·10⁻³), four epochs on the digits (lesson 02's data). One training run is one
# draw of initial weights and batch order, so each twin trains **three times**, with seeds 1, 2
# and 3 (the twins share each seed's start): below, each run's validation accuracy by epoch (seed
# 1's pair first), then the median and the range (lowest–highest) over the three runs of the final
# numbers.

# %% tags=["expected-output"]
epochs, train_depth, train_seeds = 4, 12, (1, 2, 3)
curves = {}


def train_twins(seeds):
    """Train both twins from each of ``seeds`` into ``curves``; print each run's validation accuracy."""
    for mode in ("plain", "residual"):
        runs = train_from_seeds(lambda: residual_mlp(64, train_depth, 32, 10, residual=mode == "residual"), seeds,
                                digits.x_train, digits.y_train, epochs, validation_data=(digits.x_test, digits.y_test))
        for seed, (_, history) in runs.items():
            curves[mode, seed] = history
            print(f"{mode:>8}, seed={seed}: validation accuracy by epoch "
                  + ", ".join(f"{a:.3f}" for a in curves[mode, seed]["val_accuracy"]))


train_twins(train_seeds[:1])

# %%
if not gradclinic.grading():  # the grader's run keeps to the first seed: the others are for your eyes
    train_twins(train_seeds[1:])
seeds_run = sorted({seed for _, seed in curves})
for mode in ("plain", "residual"):
    final_accuracy = [curves[mode, seed]["val_accuracy"][-1] for seed in seeds_run]
    final_loss = [curves[mode, seed]["loss"][-1] for seed in seeds_run]
    print(f"{mode:>8}: final validation accuracy median {np.median(final_accuracy):.3f} "
          f"({min(final_accuracy):.3f}–{max(final_accuracy):.3f}); final training loss median "
          f"{np.median(final_loss):.3f} ({min(final_loss):.3f}–{max(final_loss):.3f})")
print(f"chance level: {1 / 10:.3f}")

figure, (loss_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(11, 3.4))
epoch_numbers = np.arange(1, epochs + 1)
for index, mode in enumerate(("plain", "residual")):
    for seed in seeds_run:  # one line per run: the spread is part of the result
        label = mode if seed == seeds_run[0] else None
        loss_ax.plot(epoch_numbers, curves[mode, seed]["loss"], "o-", color=f"C{index}", alpha=0.7, label=label)
        accuracy_ax.plot(epoch_numbers, curves[mode, seed]["val_accuracy"], "o-", color=f"C{index}", alpha=0.7,
                         label=label)
loss_ax.set(xlabel="epoch", ylabel="training loss", title=f"depth {train_depth}, width 32, {len(seeds_run)} runs each")
accuracy_ax.set(xlabel="epoch", ylabel="validation accuracy", ylim=(0, 1))
accuracy_ax.legend()
plt.show()

# %% [markdown]
# With identical layers, parameters and optimizer, every run of the residual twin learns within
# the first epochs, while every run of the plain one stays near chance for the epochs shown (the
# numbers printed above: even the best plain run ends below the worst residual run). Three runs
# are enough to see that the gap is not the luck of one seed; they are too few to say how often
# a plain net at this depth would escape with more epochs or another seed.
# Adam rescales each weight's step by its own gradient size, which helps a plain net more than
# plain SGD would; it still cannot learn from a signal that, as measured above, barely reaches
# the first layers, and whose forward signal has faded just as much.
#
# ## What He et al. (2016) actually found
#
# It would be easy to conclude "skip connections cure vanishing gradients; that is why ResNets
# work". The paper says something more interesting. Its plain nets already used **Batch
# Normalization** and **He initialization** (lessons 09 and 04), and the authors checked that
# the forward signals had healthy variances and that the backward gradients had healthy norms.
# Even so, a 34-layer plain net had a *higher training error* than an 18-layer one: adding
# layers made the net worse on the data it was trained on. That is not overfitting (the training
# error rises) and, by their measurements, not vanishing gradients. They called it the
# **degradation problem** and attributed it to optimisation difficulty: a deeper net could copy
# the shallower one by setting the extra layers to the identity, but gradient descent does not
# find that solution. A residual block makes the identity the default (F = 0), so extra blocks
# cost nothing until they help; with it, their 34-layer net beat the 18-layer one, and nets of
# over 100 layers trained.
#
# So this lesson's experiment shows *one* thing skips do (keep the gradient's path short), in a
# regime chosen to make plain nets vanish. The paper's point is that skips help even where the
# gradients are already fine. Both are reasons; only the first is about gradient norms.
#
# ## Explorer: depth, plain vs residual
# A square tanh net of width 64 with the same small weights (variance 0.1/fan_in), on a batch of
# standard-normal inputs. Move the depth and switch nets: the chosen net's profile is bold, its
# first-layer gradient and first/last ratio in the title. The computation is one compiled
# TensorFlow function, so the figure redraws at once.

# %%
explorer = ResidualExplorer(rng=np.random.default_rng(0), depth=20, mode="plain")
explorer

# %% [markdown]
# ## Summary
# - A residual block computes y = x + F(x); its Jacobian I + ∂F/∂x passes the gradient through
#   even when ∂F/∂x is small. The identity block of ResNet uses its window `f` (unlike the
#   tutorial's code), keeps the shape with `padding="same"`, and adds the input before the last ReLU.
# - With small weights, a deep plain tanh net's gradient shrinks by orders of magnitude toward
#   the input; its residual twin's stays far closer to 1, and only the residual twin trains (in
#   each of three runs).
# - He et al.'s plain nets had BN and He init and healthy gradients, and still got worse with
#   depth: the degradation problem, an optimisation difficulty that residual blocks remove.
