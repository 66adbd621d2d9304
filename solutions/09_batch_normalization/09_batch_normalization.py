# %% [markdown]
# # 09 · Batch Normalization: normalise every layer, and mind the mode
#
# Lesson 02's deep sigmoid net stalled: every layer multiplied the gradient by a sigmoid slope
# of at most ¼ and by weights that could not make up for it. Ioffe & Szegedy (2015) proposed to
# **normalise what enters each layer's nonlinearity**, batch by batch: subtract the batch's mean,
# divide by its standard deviation, then let the network choose its own scale γ and shift β.
# It made very deep saturating nets trainable and it is in most networks since.
#
# Batch Normalization also has a trap built in: it computes *different things* in training and
# in inference. In training it uses the batch it is given; in inference it uses running averages
# it kept during training. Getting that wrong gives a model that looks perfect in evaluation and
# fails on a single example.
#
# **You will:** write one call of Keras's `BatchNormalization` layer in NumPy
# (`batchnorm_forward`), moving averages included, and check it against the layer itself over
# several steps; train a 20-layer sigmoid net on digits with and without BN; look at every
# layer's activations; and fall into the `training=` trap on purpose, to recognise it.

# %%
import gradclinic

rng = gradclinic.setup(seed_value=0)  # first: quiets TensorFlow before anything imports it

import keras
import matplotlib.pyplot as plt
import numpy as np

from gradclinic.data import load_digits
from gradclinic.explorers.batch_normalization import BatchNormExplorer, plot_layer_histograms
from gradclinic.models import batchnorm_layers, deep_sigmoid_net, sigmoid_outputs
from gradclinic.training import train_from_seeds

# %% [markdown]
# ## What the layer computes
#
# `keras.layers.BatchNormalization()` holds four vectors with one entry per feature: the learned
# scale **γ** (`gamma`, starts at 1) and shift **β** (`beta`, starts at 0), and two statistics it
# does not learn by gradient descent, `moving_mean` (starts at 0) and `moving_variance` (starts
# at 1). Features are the **last axis**: for a Dense layer's output (batch, units) that is the
# units; for a convolution's (batch, height, width, channels) it is the channels, and each
# channel is normalised over the batch *and* every position.
#
# **Training mode** (`layer(x, training=True)`, what `fit` does). With μ_B and σ²_B the mean and
# the **biased** variance (divide by *n*, not *n* − 1) of each feature over the batch:
#
# $$\hat x = \frac{x - \mu_B}{\sqrt{\sigma_B^2 + \varepsilon}}, \qquad y = \gamma\,\hat x + \beta,$$
#
# $$\text{moving\_mean} \leftarrow m\cdot\text{moving\_mean} + (1-m)\,\mu_B, \qquad
#   \text{moving\_var} \leftarrow m\cdot\text{moving\_var} + (1-m)\,\sigma_B^2 .$$
#
# Keras's defaults are momentum *m* = 0.99 and ε = 10⁻³. ε keeps the division finite when a
# feature is constant over the batch, and it sits **inside** the square root.
#
# **Inference mode** (`layer(x, training=False)`, what `predict` and `evaluate` do). The batch's
# own statistics are not used at all: x̂ = (x − moving_mean)/√(moving_var + ε), and the moving
# statistics stay as they are. One example then gets the same answer whatever batch it is in.
#
# A real layer, on a batch of three examples with two features, in both modes:

# %% tags=["expected-output"]
x_small = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]], "float32")
layer = keras.layers.BatchNormalization(momentum=0.9)
train_out = layer(x_small, training=True).numpy()
print("training mode, y:\n", train_out.round(4))
print("batch mean", x_small.mean(axis=0), " biased batch variance", x_small.var(axis=0).round(3))
print("moving_mean after one step:", layer.moving_mean.numpy().round(4),
      " moving_variance:", layer.moving_variance.numpy().round(4))
print("inference mode, y:\n", layer(x_small, training=False).numpy().round(4))
print("moving statistics after the inference call:", layer.moving_mean.numpy().round(4),
      layer.moving_variance.numpy().round(4))

# %% [markdown]
# In training mode each column comes out with mean 0 and standard deviation just under 1 (the ε).
# The moving statistics moved a tenth of the way (momentum 0.9) from (0, 1) toward the batch's.
# In inference mode the layer divided by √(moving_var + ε) of a layer that has seen only one
# batch: the output is barely normalised at all. That is the first hint of why the moving
# averages matter.
#
# ### Exercise: `batchnorm_forward(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=1e-3)`
# Return `(y, new_moving_mean, new_moving_var)` exactly as one call of
# `keras.layers.BatchNormalization(momentum=momentum, epsilon=epsilon)` holding these weights would:
# - `x` has shape (batch, features), or (batch, …, features) like a convolution's output; the
#   features are the **last** axis and their statistics are taken over **every other axis**
#   (for 2-D `x`, axis 0). `gamma`, `beta`, `moving_mean`, `moving_var` have shape (features,).
# - `training=True`: normalise with the batch's mean and biased variance; return the updated
#   moving statistics. `training=False`: normalise with the moving statistics; return them
#   unchanged.
# - `y` has the shape of `x`; the moving statistics have shape (features,). Do not change the
#   arrays you are given.
# - Raise `ValueError` (in either mode) when `x` has fewer than 2 dimensions; when `gamma`,
#   `beta`, `moving_mean` or `moving_var` is not of shape (features,); when `momentum` is not a
#   number in [0, 1]; when `epsilon` is not a number ≥ 0; or when `moving_var` has a negative
#   entry.
#
# When a check fails on a case no common mistake explains, the grader tells you which quantity
# differs first, in the order of the steps below: the batch mean, the batch variance, x̂, or the
# scale and shift.

# %% nbgrader={"grade": false, "grade_id": "batchnorm_forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def batchnorm_forward(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=1e-3):
    """One call of keras.layers.BatchNormalization: (y, new_moving_mean, new_moving_var)."""
    # x: (N, …, F), F features on the last axis; gamma, beta, moving_mean, moving_var: (F,)
    # 1. Refuse bad input (ValueError), as listed above.
    # 2. axes = every axis of x but the last                        e.g. (0,) for x of shape (N, F)
    # 3. training: the batch mean and the biased variance over axes   (F,) each
    #    new_moving_* = moving_* · momentum + batch statistic · (1 − momentum)     (F,) each
    #    inference: mean, var = moving_mean, moving_var; new_moving_* = copies of them   (F,) each
    # 4. x̂ = (x − mean) / √(var + epsilon)                          shape of x: (F,) broadcasts
    # 5. y = gamma · x̂ + beta                                       shape of x
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=float)
    if x.ndim < 2:
        raise ValueError(f"x must have shape (batch, …, features), got shape {x.shape}")
    vectors = [np.asarray(v, dtype=float) for v in (gamma, beta, moving_mean, moving_var)]
    for name, vector in zip(("gamma", "beta", "moving_mean", "moving_var"), vectors):
        if vector.shape != (x.shape[-1],):
            raise ValueError(f"{name} must have shape ({x.shape[-1]},), one entry per feature; got {vector.shape}")
    gamma, beta, moving_mean, moving_var = vectors
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must lie in [0, 1], got {momentum}")
    if not epsilon >= 0.0:
        raise ValueError(f"epsilon must be ≥ 0, got {epsilon}")
    if np.any(moving_var < 0):
        raise ValueError("moving_var cannot be negative")
    if training:
        axes = tuple(range(x.ndim - 1))  # every axis but the features
        mean, var = x.mean(axis=axes), x.var(axis=axes)  # np.var divides by n: the biased variance
        new_mean = moving_mean * momentum + mean * (1 - momentum)
        new_var = moving_var * momentum + var * (1 - momentum)
    else:
        mean, var = moving_mean, moving_var
        new_mean, new_var = moving_mean.copy(), moving_var.copy()
    y = gamma * (x - mean) / np.sqrt(var + epsilon) + beta
    return y, new_mean, new_var
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_batchnorm_forward", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Self-check: batchnorm_forward as keras.layers.BatchNormalization computes it, both modes, 2-D and 4-D, bad input, and the inputs left alone."""


# %% nbgrader={"grade": true, "grade_id": "hidden_batchnorm_forward", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: batchnorm_forward against the reference on random, N-D, tiny-variance, one-example and bad inputs."""
batchnorm_forward(np.ones((2, 1)), np.ones(1), np.zeros(1), np.zeros(1), np.ones(1), True)  # it must run
### BEGIN HIDDEN TESTS
from autograder import check

check("batchnorm_forward", batchnorm_forward)
### END HIDDEN TESTS

# %% [markdown]
# ## Several steps: your function beside the layer
#
# One call is not the whole story: the moving statistics carry over from step to step. Here
# your function and a real layer see the same eight training batches (features with mean 3
# and standard deviation 2), then one inference batch. The largest difference over all steps:

# %% tags=["expected-output"]
layer = keras.layers.BatchNormalization()
layer.build((None, 4))
state = [np.ones(4), np.zeros(4), np.zeros(4), np.ones(4)]  # γ, β, moving mean, moving variance
largest_gap = 0.0
for step in range(8):
    batch = rng.normal(3.0, 2.0, size=(32, 4)).astype("float32")
    y, state[2], state[3] = batchnorm_forward(batch, *state, training=True)
    gap = np.abs(y - layer(batch, training=True).numpy()).max()
    largest_gap = max(largest_gap, gap, np.abs(state[2] - layer.moving_mean.numpy()).max(),
                      np.abs(state[3] - layer.moving_variance.numpy()).max())
test_batch = rng.normal(3.0, 2.0, size=(5, 4)).astype("float32")
y, _, _ = batchnorm_forward(test_batch, *state, training=False)
largest_gap = max(largest_gap, np.abs(y - layer(test_batch, training=False).numpy()).max())
print(f"yours and Keras's layer agree to 1e-5 over 8 training steps and 1 inference step: {largest_gap < 1e-5}")
print(f"moving mean after 8 steps:     {state[2].round(3)}  (the data's mean is 3)")
print(f"moving variance after 8 steps: {state[3].round(3)}  (the data's variance is 4)")

# %% [markdown]
# After eight steps the moving mean has covered only a small part of the way to 3. With momentum
# *m*, the starting value still weighs *m*^k after *k* steps; the averages forget their start over
# about 1/(1 − *m*) steps — 100 steps for Keras's 0.99. How much of the start remains:

# %% tags=["expected-output"]
for momentum in (0.99, 0.9):
    weights = ", ".join(f"{k} steps: {momentum ** k:.2f}" for k in (10, 50, 100, 300))
    print(f"momentum {momentum}: weight left on the initial moving statistics after {weights}")
x_steps = rng.normal(3.0, 2.0, size=(300, 32, 1))
history = [np.zeros(1)]
for batch in x_steps:
    history.append(batchnorm_forward(batch, np.ones(1), np.zeros(1), history[-1], np.ones(1), True)[1])
history = np.concatenate(history)
figure, ax = plt.subplots(figsize=(6, 2.8))
ax.plot(history, label="moving_mean (your batchnorm_forward, m = 0.99)")
ax.axhline(3.0, color="0.5", ls="--", label="the data's mean")
ax.set_xlabel("training step")
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# Keep this in mind for the experiment below: a short training run leaves the moving statistics
# behind the network, and inference mode uses *them*.
#
# ## A 20-layer sigmoid net, with and without BN
#
# The net: 20 blocks of Dense(32) → sigmoid, then a softmax over the 10 digits; its BN twin puts
# a `BatchNormalization` between each Dense layer and its sigmoid (where Ioffe & Szegedy put it),
# and drops the Dense biases, which BN's mean subtraction would cancel anyway (β replaces them).
# Both train with Adam (learning rate 0.003), batches of 64, on the same digits, from Keras's
# default Glorot-uniform weights. One run could be luck, so each net trains from three seeds
# (a few seconds per seed): seed 0 first, the pair the rest of the lesson keeps, then seeds 1 and 2.

# %% tags=["expected-output"]
digits = load_digits()
EPOCHS, BATCH_SIZE, DEPTH = 5, 64, 20


def accuracy(model, x, y, training=False):
    """The fraction of x that model classifies right, in the mode asked for (one batch of all of x)."""
    return float(np.mean(np.argmax(model(x, training=training), axis=1) == y))


def train_both(seeds):
    """Train the plain net and its BN twin from each of ``seeds``; print a line per run, keep its final
    training and test accuracies in ``results``; return {name: {seed: (net, history)}}."""
    both = {}
    for name, use_bn in (("plain", False), ("BN", True)):
        # Each seed seeds Keras before its net is built: the same seed gives both nets the same data order.
        both[name] = train_from_seeds(lambda: deep_sigmoid_net(depth=DEPTH, width=32, batchnorm=use_bn), seeds,
                                      digits.x_train, digits.y_train, EPOCHS, BATCH_SIZE, learning_rate=0.003)
        for seed, (net, curves) in both[name].items():
            tests = [accuracy(net, digits.x_test, digits.y_test, training=mode) for mode in (False, True)]
            results[name].append([curves["accuracy"][-1], *tests])
            print(f"{seed:4d} | {name:>5} | {np.round(curves['accuracy'], 3)} | {tests[0]:.3f}, {tests[1]:.3f}")
    return both


results = {"plain": [], "BN": []}
print("seed |  net  | training accuracy per epoch         | test accuracy: inference mode, batch statistics")
pair = train_both([0])  # the seed-0 pair the lesson keeps
nets = {name: runs[0][0] for name, runs in pair.items()}
histories = {name: runs[0][1] for name, runs in pair.items()}
test_accuracy = {name: accuracy(net, digits.x_test, digits.y_test) for name, net in nets.items()}

# %%
if not gradclinic.grading():  # the grader's run keeps to seed 0: seeds 1 and 2 are for your eyes
    train_both([1, 2])
chance = float(np.max(np.bincount(digits.y_test)) / len(digits.y_test))
print(f"\nover {len(results['BN'])} seeds, median (min–max); always guessing the commonest class scores {chance:.3f}")
for name, rows in results.items():
    columns = np.array(rows).T
    print(f"{name:>5}: " + ";  ".join(f"{what} {np.median(c):.3f} ({c.min():.3f}–{c.max():.3f})" for what, c in
                                      zip(("final training", "test, inference", "test, batch stats"), columns)))

# %% [markdown]
# Over the three seeds (the lines printed last), the plain net does not learn: its training
# accuracy stays at chance, the sigmoid stall of lesson 02 at twice the depth. The BN net learns
# from every seed — its training accuracy climbs epoch after epoch. Three seeds show that this
# difference is not luck; they are too few to say how large BN's advantage is in general, and
# five epochs say nothing about where either net would end after longer training. Now look at
# BN's **test** accuracy in inference mode: far below its training accuracy. Is it overfitting?
# The last column answers it: the same nets asked in training mode, with the test set's own
# batch statistics. For the seed-0 net we keep:

# %% tags=["expected-output"]
steps = EPOCHS * int(np.ceil(len(digits.x_train) / BATCH_SIZE))
print(f"BN net, test accuracy with the test batch's own statistics (training=True): "
      f"{accuracy(nets['BN'], digits.x_test, digits.y_test, training=True):.3f}")
print(f"training steps taken: {steps}; weight still on the initial moving statistics: 0.99^{steps} = {0.99 ** steps:.2f}")
norms = batchnorm_layers(nets["BN"])

# %% [markdown]
# With batch statistics the net classifies the test digits well (in every seed, the last column
# above): it has learned. What is wrong is
# the **moving statistics**: after the number of steps printed above they still carry part of
# their starting values (0 and 1) and of the early batches, when the weights were very
# different, so in inference mode each layer is normalised with the wrong numbers, and the
# errors compound over 20 layers. This is a common surprise with Keras's momentum 0.99 and short
# training. Three cures: train longer; use a smaller momentum (0.9 forgets in about ten steps);
# or, once training is over, **re-estimate** the statistics with the final weights. The last is
# one forward pass: with momentum 0, a training-mode call sets every moving statistic to the
# statistics of the batch it sees — here the whole training set, layer by layer.

# %% tags=["expected-output"]
stale_vars = [layer.moving_variance.numpy().copy() for layer in norms]
for layer in norms:
    layer.momentum = 0.0
nets["BN"](digits.x_train, training=True)  # no gradient step: only the moving statistics change
for layer in norms:
    layer.momentum = 0.99
for index in (0, DEPTH // 2 - 1, DEPTH - 1):
    ratio = np.median(stale_vars[index] / norms[index].moving_variance.numpy())
    print(f"BN layer {index + 1:2d}: moving variance after training ÷ re-estimated, median over units: {ratio:.2f}")
test_accuracy["BN, re-estimated"] = accuracy(nets["BN"], digits.x_test, digits.y_test)
print(f"BN net, test accuracy in inference mode after re-estimating: {test_accuracy['BN, re-estimated']:.3f}")

figure, ax = plt.subplots(figsize=(6, 3))
for name, marker in (("plain", "o"), ("BN", "s")):
    ax.plot(np.arange(1, EPOCHS + 1), histories[name]["accuracy"], marker + "-", label=f"{name} (training accuracy)")
ax.axhline(test_accuracy["BN, re-estimated"], color="C1", ls="--", label="BN, test accuracy after re-estimating")
ax.axhline(chance, color="0.5", ls=":", label="chance")
ax.set_xlabel("epoch")
ax.set_ylabel("accuracy")
ax.set_title(f"{DEPTH} sigmoid layers on digits")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The ratios printed first would all be 1 if the moving statistics had kept up with the network;
# once they match what each layer really sees, inference mode works.
#
# ## What every layer sees
#
# Why does one net learn and the other not? Look at the sigmoid outputs of every layer of the two
# trained nets on the test digits: one column per layer, colour = how many of the layer's values
# fall at that height.

# %%
outputs = {name: sigmoid_outputs(net, digits.x_test) for name, net in nets.items()}
plot_layer_histograms({f"{name}, after training": outputs[name] for name in ("plain", "BN")}, (0.0, 1.0))
plt.show()
for name in ("plain", "BN"):
    stds = outputs[name].reshape(DEPTH, -1).std(axis=1)
    spread = outputs[name].std(axis=1).mean(axis=1)  # how much a unit varies from digit to digit
    print(f"{name:>5}: std of all sigmoid outputs at layers 1, 10, 20: {stds[0]:.3f}, {stds[9]:.3f}, {stds[-1]:.3f}; "
          f"a unit's std across digits at layers 1, 10, 20: {spread[0]:.1e}, {spread[9]:.1e}, {spread[-1]:.1e}")

# %% [markdown]
# The plain net's columns are made of sharp lines: each unit sits at its own value, and the same
# value for every digit. The second set of numbers measures it: how much a unit's output varies
# from one digit to the next falls, from the first layer to almost nothing by the middle, so the
# output layer has nothing left to tell the digits apart (the overall std is the spread *between*
# units, which carries no information about the input). Its gradients tell the same story
# backwards — the explorer below draws them. With BN every layer's pre-activations are
# re-centred and re-scaled, so the sigmoid outputs keep their spread at every depth.
#
# The explorer does this for a fresh net at initialisation, for any depth up to 100, with or
# without BN and for three activations. Left: every layer's histogram. Right: the gradient that
# reaches each layer's kernel, ‖∂probe/∂W[l]‖ (a fixed random probe of the last layer's output,
# as in lesson 02), with BN off and on.

# %%
explorer = BatchNormExplorer(depth=20, batchnorm=True, activation="sigmoid")
explorer

# %% [markdown]
# The first-layer ÷ last-layer ratios in the explorer's title are the ones to read. The same
# numbers, computed here for three set-ups:

# %% tags=["expected-output"]
for depth, activation in ((20, "sigmoid"), (50, "sigmoid"), (100, "relu")):
    ratios = [explorer.profiler.summary(depth, activation, batchnorm=flag).kernel_grad_norms for flag in (False, True)]
    ratios = [norms_[0] / norms_[-1] for norms_ in ratios]
    # one significant digit: the order of magnitude is the finding, and the digits after it move
    # with the machine's floating-point library (at depth 100 by tens of per cent)
    print(f"{activation:>7}, depth {depth:3d}: first/last kernel-gradient norm {ratios[0]:.0e} without BN, "
          f"{ratios[1]:.0e} with BN")

# %% [markdown]
# **What BN does for the gradient.** Without BN, the sigmoid net's gradient shrinks by many orders
# of magnitude toward the input (the first ratio printed above). With BN it arrives at the first
# layer about as large as at the last. Part of the reason is BN's backward pass: it divides the
# incoming gradient by the batch's standard deviation, so a layer whose outputs have shrunk gets
# its gradient scaled *up* by as much; and a BN layer's output does not change if its kernel is
# multiplied by a constant, so the weights' scale stops mattering.
#
# **Common recipes, corrected.** A popular tutorial says BN works by "reducing internal covariate
# shift" (the change of each layer's input distribution during training). That was Ioffe &
# Szegedy's motivation, but Santurkar et al. (2018, *How Does Batch Normalization Help
# Optimization?*) showed that nets trained with BN plus deliberately injected distribution shift
# train just as well; they argue that BN helps by making the loss landscape smoother. And it lists BN among
# the fixes that "limit the magnitude" of exploding gradients: BN does not limit anything. Move
# the explorer to ReLU at depth 100 — the last line printed above: with BN, in a plain deep net
# without skip connections, the gradient at initialisation *grows* toward the input (Yang et al.
# 2019 prove it). BN is usually paired with residual connections (lesson 06) for that reason.
# The same tutorial's ResNet block also puts BN *after* the ReLU; both orders are used in practice, but for
# a saturating sigmoid, BN must come before it to keep the sigmoid's input out of the flat tails.
#
# ## The `training=` trap
#
# That tutorial's custom ResNet block gets one thing right that many custom layers get wrong: its
# `call(self, inputs, training=False)` passes `training` on to its BatchNormalization layers. In
# Keras 3 you may also just call `self.norm(inputs)`: Keras hands the outer `training` flag down to
# inner layers itself. What breaks a model is **hard-wiring** it, as in this layer:

# %%
class HardWiredBatchNorm(keras.layers.Layer):
    """A custom wrapper with the bug: it always calls its BatchNormalization in training mode."""

    def __init__(self, norm, **kwargs):
        super().__init__(**kwargs)
        self.norm = norm

    def call(self, inputs, training=None):
        return self.norm(inputs, training=True)  # BUG: should be training=training (or leave it out)


# %%
if not gradclinic.grading():  # a demonstration for your eyes: the grader skips it
    trained = nets["BN"]
    saved_weights = trained.get_weights()  # the trap below overwrites moving statistics: keep a copy
    trap = keras.Sequential([keras.Input((64,))] + [HardWiredBatchNorm(layer) if layer in norms else layer
                                                    for layer in trained.layers])  # the same trained layers
    x_test, y_test = digits.x_test, digits.y_test
    print("test accuracy when predicting …")
    trap_accuracy = {}
    for size in (len(x_test), 32, 8, 1):
        shown = len(x_test) if size >= 32 else 48  # small batches: the first 48 test digits are enough
        right = {}
        for name, model in (("correct", trained), ("hard-wired", trap)):
            trained.set_weights(saved_weights)
            predicted = model.predict(x_test[:shown], batch_size=size, verbose=0)  # inference mode
            guesses = np.argmax(predicted, axis=1)
            right[name] = float(np.mean(guesses == y_test[:shown]))
        trap_accuracy[size] = right
        print(f"  in batches of {size:3d}: correct layer {right['correct']:.3f}   "
              f"hard-wired training=True {right['hard-wired']:.3f}")

# %% [markdown]
# On the whole test set at once, the hard-wired model looks fine: a big batch's statistics are
# close to the population's, so nobody notices in `evaluate`. The smaller the batch, the worse it
# gets, and on **one example** it collapses: a batch of one has variance 0 and mean equal to the
# example itself, so every BN layer outputs exactly β, whatever the input. Every digit gets the
# same answer:

# %%
if not gradclinic.grading():  # a demonstration for your eyes: the grader skips it
    single = trap.predict(x_test[:10], batch_size=1, verbose=0)
    print(f"hard-wired, 10 different digits one at a time: {len(np.unique(single.argmax(axis=1)))} distinct "
          f"prediction(s); largest difference between their probability vectors {np.ptp(single, axis=0).max():.1e}")
    first = norms[0].moving_mean.numpy().copy()
    trap(x_test[:8], training=False)
    print(f"and each such call rewrote the moving statistics: first BN layer's moving_mean moved by "
          f"{np.abs(norms[0].moving_mean.numpy() - first).max():.3f} during one 'inference' call")
    trained.set_weights(saved_weights)
    print(f"restored: the correct model's test accuracy is {accuracy(trained, x_test, y_test):.3f} again")

# %% [markdown]
# Two symptoms to recognise: predictions that depend on the batch (or on the batch size), and
# moving statistics that change during `predict`. The fix is one word: pass `training` on (or omit
# it and let Keras pass it). Keras also runs a BatchNormalization layer in inference mode whenever
# the layer is frozen (`trainable = False`), which is what you want when fine-tuning a trained
# model on few data.
#
# ## Summary
#
# - BN normalises each feature with the batch's mean and **biased** variance, then applies a
#   learned γ and β: y = γ·(x − μ)/√(σ² + ε) + β, ε inside the root.
# - It keeps moving averages, moving ← m·moving + (1 − m)·batch with Keras's m = 0.99, and uses
#   **them** in inference. They lag by about 1/(1 − m) steps: after short training, re-estimate
#   them or use a smaller momentum.
# - A 20-layer sigmoid net that does not learn at all trains with BN; every layer keeps its
#   spread and the gradient reaches the first layer.
# - BN does not cap gradients, and in a very deep plain net it can make them grow; the reason it
#   helps is not settled by "internal covariate shift".
# - Never hard-wire `training=True`: the model then predicts differently for every batch, and a
#   single example gets β.
#
# **Next:** lesson 10 gets the same self-normalising effect without batch statistics at all:
# SELU activations and LeCun initialisation.
