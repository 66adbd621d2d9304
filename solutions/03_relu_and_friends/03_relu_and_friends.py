# %% [markdown]
# # 03 · ReLU and friends: activations that keep the gradient alive
#
# Lesson 02 traced vanishing gradients to the activation function: a sigmoid's slope is never
# more than 1/4, so each sigmoid layer shrinks the gradient passing back through it, and a deep
# stack of them leaves almost nothing for the first layers. This lesson changes the activation.
# The **rectified linear unit**, ReLU(z) = max(0, z), has slope exactly 1 wherever it is
# switched on, however large z grows: it does not saturate on the positive side. That is why
# ReLU made deep networks trainable. It has a price — a switched-off unit has slope 0, and a
# unit that is off for *every* input stops learning — and two popular relatives, leaky ReLU and
# ELU, that pay less of it.
#
# **You will:** write ReLU, leaky ReLU and ELU and their derivatives (`relu`, `relu_grad`,
# `leaky_relu`, `elu`, `elu_grad`); count the active and the dead units of a Keras model
# (`active_fraction`, `dead_units`); kill units with one oversized training step; and compare
# the gradient profiles of deep nets across activations with an explorer.

# %%
import gradclinic

rng = gradclinic.setup(seed_value=0)  # first: quiets TensorFlow before anything imports it

import inspect

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

from gradclinic.data import load_digits
from gradclinic.explorers.relu_and_friends import ReluProfileExplorer
from gradclinic.models import deep_mlp
from gradclinic.profiles import RELU_FAMILY_ACTIVATIONS, ActivationProfiles

# %% [markdown]
# ## ReLU: slope 1 wherever it is on
#
# ReLU passes a positive input through unchanged and replaces a negative one by 0, so its slope
# is 1 for z > 0 and 0 for z < 0. At exactly z = 0 it has a corner and, strictly, no derivative:
# any number between the two one-sided slopes is a valid *subgradient*, and every framework has
# to pick one. Ask TensorFlow's automatic differentiation — what Keras uses when it trains:

# %% tags=["expected-output"]
def autodiff_slope(activation, z):
    """dφ/dz at every entry of z (array-like), by TensorFlow's automatic differentiation."""
    z = tf.constant(z, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z)
        output = activation(z)
    return tape.gradient(output, z).numpy()


corner = [-1.0, 0.0, 1.0]
print("slopes at z = -1, 0, 1 by TensorFlow's autodiff:")
print("  relu                ", autodiff_slope(keras.activations.relu, corner))
print("  leaky_relu (default)", autodiff_slope(keras.activations.leaky_relu, corner))
print("  elu with alpha = 2  ", autodiff_slope(lambda z: keras.activations.elu(z, alpha=2.0), corner))

# %% [markdown]
# At z = 0 each of them reports the slope of its **left** (negative) branch: 0 for ReLU, the
# negative slope for leaky ReLU, α for ELU. The derivatives you write below follow the same
# convention, so they agree with what Keras computes everywhere, corner included.
#
# *A common claim, corrected.* Some tutorials say ReLU can make gradients explode for large
# inputs because its derivative grows like an exponential's: ReLU contains no exponential, and
# its slope is 0 or 1 whatever the size of z (your `relu_grad` checks it at z = 10⁶). What
# ReLU leaves unbounded is the activation itself, so a ReLU net can still blow up through its
# *weights* — initialization (lesson 04) and clipping (lesson 07) deal with that — never through
# the slope of its activation.
#
# ### Exercise: `relu(z)`
# Return max(0, z) elementwise as a new float array of z's shape. `z` may be a number, a list or
# an array of any shape; leave it unchanged (setting `z[z < 0] = 0` would change the caller's
# array). `np.maximum` compares entry by entry; `np.max` would reduce along an axis.

# %% nbgrader={"grade": false, "grade_id": "relu", "locked": false, "schema_version": 3, "solution": true, "task": false}
def relu(z):
    """ReLU elementwise: max(0, z). z: array-like, any shape → float array of the same shape."""
    ### BEGIN SOLUTION
    return np.maximum(np.asarray(z, dtype=float), 0.0)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_relu", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: relu on values you can verify, z left unchanged, and Keras's relu on [−100, 100]."""

# %% nbgrader={"grade": true, "grade_id": "hidden_relu", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: relu against the reference on random, integer, float32, huge, tiny, empty and scalar z."""
relu(np.array([-1.0, 1.0]))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("relu", relu)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise: `relu_grad(z)`
# Return ReLU's slope elementwise, as floats: 1.0 where z > 0 and 0.0 where z ≤ 0 — at exactly
# z = 0 too, as TensorFlow does (printed above).

# %% nbgrader={"grade": false, "grade_id": "relu_grad", "locked": false, "schema_version": 3, "solution": true, "task": false}
def relu_grad(z):
    """ReLU's slope elementwise: 1.0 where z > 0, else 0.0 (0 at z = 0, like TensorFlow); z's shape."""
    ### BEGIN SOLUTION
    return (np.asarray(z, dtype=float) > 0).astype(float)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_relu_grad", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: relu_grad at the corner and far from it, its dtype, and TensorFlow's autodiff."""

# %% nbgrader={"grade": true, "grade_id": "hidden_relu_grad", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: relu_grad against the reference, with exact zeros (and −0) among the inputs."""
relu_grad(np.array([-1.0, 1.0]))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("relu_grad", relu_grad)
### END HIDDEN TESTS

# %% [markdown]
# ## Leaky ReLU and ELU: a slope below zero
#
# A ReLU unit whose input is negative passes back no gradient at all; if its input is negative
# for *every* example, the unit stops learning (the second half of this lesson shows it
# happen). Two relatives give the negative side a slope:
#
# - **leaky ReLU**: z for z > 0, `negative_slope · z` otherwise. The slope never drops to 0.
# - **ELU** (Clevert et al., 2016): z for z > 0, α·(e^z − 1) otherwise — a smooth curve that
#   levels off at −α, so a layer's outputs average closer to 0. Its slope α·e^z is positive
#   everywhere but becomes tiny far below zero.
#
# Keras has **two defaults** for leaky ReLU, one for the function and one for the layer:

# %% tags=["expected-output"]
function_slope = inspect.signature(keras.activations.leaky_relu).parameters["negative_slope"].default
layer_slope = keras.layers.LeakyReLU().negative_slope
z_demo = np.array([-10.0, 10.0])
print(f"keras.activations.leaky_relu: negative_slope = {function_slope}: "
      f"{np.round(np.asarray(keras.activations.leaky_relu(z_demo)), 6)}")
print(f"keras.layers.LeakyReLU():     negative_slope = {layer_slope}: "
      f"{np.round(np.asarray(keras.layers.LeakyReLU()(z_demo)), 6)}")

# %% [markdown]
# `Dense(64, activation="leaky_relu")` uses the function's default; a separate `LeakyReLU()`
# layer uses the layer's. Same name, different networks: pass the slope explicitly when it
# matters. Your `leaky_relu` mirrors the function, `keras.activations.leaky_relu`.
#
# ### Exercise: `leaky_relu(z, negative_slope=0.2)`
# Return z where z > 0 and `negative_slope · z` elsewhere, elementwise, as floats of z's shape.
# `negative_slope` must be a finite number ≥ 0: raise `ValueError` otherwise (the Keras layer
# refuses a negative slope too). `np.where(z > 0, …, …)` does it for every slope;
# `np.maximum(z, negative_slope * z)` only for slopes up to 1.

# %% nbgrader={"grade": false, "grade_id": "leaky_relu", "locked": false, "schema_version": 3, "solution": true, "task": false}
def leaky_relu(z, negative_slope=0.2):
    """Leaky ReLU elementwise: z where z > 0, negative_slope·z elsewhere; z's shape, floats.

    negative_slope: a finite number ≥ 0 (ValueError otherwise), Keras's function default 0.2.
    """
    ### BEGIN SOLUTION
    if isinstance(negative_slope, bool) or not np.isfinite(negative_slope) or negative_slope < 0:
        raise ValueError(f"negative_slope must be a finite number ≥ 0, got {negative_slope!r}")
    z = np.asarray(z, dtype=float)
    return np.where(z > 0, z, negative_slope * z)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_leaky_relu", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: leaky_relu's default slope, a chosen slope, Keras's function, and a negative slope."""

# %% nbgrader={"grade": true, "grade_id": "hidden_leaky_relu", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: leaky_relu against the reference with the default and other slopes, and bad slopes."""
leaky_relu(np.array([-1.0, 1.0]))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("leaky_relu", leaky_relu)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise: `elu(z, alpha=1.0)`
# Return z where z > 0 and α·(e^z − 1) elsewhere, elementwise, as floats of z's shape; `alpha`
# must be a finite number ≥ 0 (`ValueError` otherwise). Careful: `np.where` evaluates *both*
# branches for every entry, so a naive version computes e^100 for z = 100 — which overflows in
# float32, Keras's dtype, with a warning. Exponentiate only `np.minimum(z, 0)`;
# `np.expm1(x)` computes e^x − 1 accurately even for tiny x.

# %% nbgrader={"grade": false, "grade_id": "elu", "locked": false, "schema_version": 3, "solution": true, "task": false}
def elu(z, alpha=1.0):
    """ELU elementwise: z where z > 0, alpha·(e^z − 1) elsewhere; z's shape, floats.

    alpha: a finite number ≥ 0 (ValueError otherwise), the level −alpha approached as z → −∞.
    """
    ### BEGIN SOLUTION
    if isinstance(alpha, bool) or not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number ≥ 0, got {alpha!r}")
    z = np.asarray(z, dtype=float)
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_elu", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: elu's values, alpha, no overflow at float32 z = ±100, Keras's elu, a negative alpha."""

# %% nbgrader={"grade": true, "grade_id": "hidden_elu", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: elu against the reference for several alphas, z = ±1000, float32, and bad alphas."""
elu(np.array([-1.0, 1.0]))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("elu", elu)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise: `elu_grad(z, alpha=1.0)`
# Return ELU's slope elementwise: 1 for z > 0 and α·e^z for z ≤ 0 — so α at exactly z = 0, as
# TensorFlow printed for α = 2 at the top of the lesson. `alpha` as in `elu` (`ValueError` if it
# is negative or not finite).

# %% nbgrader={"grade": false, "grade_id": "elu_grad", "locked": false, "schema_version": 3, "solution": true, "task": false}
def elu_grad(z, alpha=1.0):
    """ELU's slope elementwise: 1 where z > 0, alpha·e^z elsewhere (alpha at z = 0); z's shape."""
    ### BEGIN SOLUTION
    if isinstance(alpha, bool) or not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number ≥ 0, got {alpha!r}")
    z = np.asarray(z, dtype=float)
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_elu_grad", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: elu_grad at and around the corner for two alphas, and TensorFlow's autodiff."""

# %% nbgrader={"grade": true, "grade_id": "hidden_elu_grad", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: elu_grad against the reference, with exact zeros, several alphas, and bad alphas."""
elu_grad(np.array([-1.0, 1.0]))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("elu_grad", elu_grad)
### END HIDDEN TESTS

# %% [markdown]
# *A common claim, corrected.* ELU's derivative is often called smooth everywhere. Only for
# α = 1: otherwise it jumps at z = 0 from α (left) to 1 (right). Your function, just either side
# of the corner:

# %% tags=["expected-output"]
for alpha in (1.0, 2.0):
    left, right = elu_grad(np.array([-1e-9, 1e-9]), alpha=alpha)
    print(f"alpha = {alpha}: slope just left of 0 = {left:.6f}, just right = {right:.6f}")
print(f"far below zero the slope fades: elu_grad(-10) = {elu_grad(-10.0):.1e}, "
      f"while leaky_relu keeps {leaky_relu(-1.0) / -1.0:.1f} and relu has {relu_grad(-10.0):.0f}")

# %% [markdown]
# ## The family at a glance
#
# Your functions beside Keras's sigmoid and tanh, values on the left and slopes on the right
# (leaky ReLU's, sigmoid's and tanh's slopes by TensorFlow's autodiff):

# %%
z_plot = np.linspace(-4, 4, 401)
family = {
    "relu": (relu(z_plot), relu_grad(z_plot)),
    "leaky_relu": (leaky_relu(z_plot), autodiff_slope(keras.activations.leaky_relu, z_plot)),
    "elu": (elu(z_plot), elu_grad(z_plot)),
    "sigmoid": (np.asarray(keras.activations.sigmoid(z_plot)), autodiff_slope(keras.activations.sigmoid, z_plot)),
    "tanh": (np.tanh(z_plot), autodiff_slope(keras.activations.tanh, z_plot)),
}
figure, (value_axes, slope_axes) = plt.subplots(1, 2, figsize=(9, 3.4))
for name, (values, slopes) in family.items():
    value_axes.plot(z_plot, values, label=name)
    slope_axes.plot(z_plot, slopes, label=name)
value_axes.set(xlabel="z", ylabel="φ(z)", ylim=(-1.5, 4), title="activation")
slope_axes.set(xlabel="z", ylabel="φ'(z)", ylim=(-0.05, 1.1), title="slope: what backpropagation multiplies by")
slope_axes.legend(loc="upper left")
plt.show()
print(f"largest slope over z in [-4, 4]: sigmoid {family['sigmoid'][1].max():.3f}, "
      f"tanh {family['tanh'][1].max():.3f}, relu {family['relu'][1].max():.0f}; "
      f"at z = 4 they are {family['sigmoid'][1][-1]:.3f}, {family['tanh'][1][-1]:.4f}, {family['relu'][1][-1]:.0f}")

# %% [markdown]
# Sigmoid and tanh flatten out at both ends: far from 0 their slopes go to zero. The ReLU family
# keeps slope 1 for every positive z, however large — no saturation on that side. On the left,
# ReLU is flat, leaky ReLU keeps a constant slope, and ELU's slope fades towards 0.
#
# ## How many units are on?
#
# A ReLU unit is **active** for an example when its output is > 0. Only then does it pass a
# gradient back (slope 1) and only then do its incoming weights get a share of the update. Two
# measurements per hidden layer, on a batch of examples:
#
# - the **active fraction**: the share of (example, unit) pairs whose output is > 0;
# - the number of **dead units**: units whose output is exactly 0 for *every* example. For such
#   a ReLU unit the slope is 0 on every example, so the gradient into its weights and bias is
#   exactly 0: gradient descent no longer moves them. Whether it can ever switch back on
#   depends on its *inputs* — the second half of this lesson measures it.
#
# **Which layers are hidden:** every `Dense` layer except the last one, which is the output
# layer. Layers without units of their own (`Flatten`, the input) do not count. A hidden
# layer's output is measured *after* its activation, which in this course's models sits inside
# the Dense layer (`Dense(64, activation="relu")`). `keras.Model(model.inputs, [layer.output for
# layer in hidden])` builds a model that returns all those outputs in one call (Keras's
# feature-extraction idiom). Call it on `[x]`, a list like the `model.inputs` it was built
# from; with a single hidden layer it returns one tensor, not a list.
#
# ### Exercise: `active_fraction(model, x)`
# Return a NumPy array with one float per hidden layer, input side first: the fraction of
# (example, unit) pairs of batch `x` whose output is > 0. Raise `ValueError` when `x` holds no
# examples (a share of nothing is undefined); a batch with the wrong number of features makes
# Keras raise `ValueError` by itself.

# %% nbgrader={"grade": false, "grade_id": "active_fraction", "locked": false, "schema_version": 3, "solution": true, "task": false}
def active_fraction(model, x):
    """Per hidden Dense layer (all but the last Dense), the share of (example, unit) pairs of the
    batch x (n ≥ 1 examples) whose output is > 0: float array of shape (n_hidden,)."""
    ### BEGIN SOLUTION
    return np.array([float((output > 0).mean()) for output in hidden_layer_outputs(model, x)])


def hidden_layer_outputs(model, x):
    """Each hidden Dense layer's output on batch x: a list of (n, units) arrays, input side first."""
    x = np.asarray(x, dtype="float32")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a batch of at least one example, got shape {x.shape}")
    hidden = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    outputs = keras.Model(model.inputs, [layer.output for layer in hidden])([x])
    return [np.asarray(output) for output in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
    ### END SOLUTION


# %% [markdown]
# ### Exercise: `dead_units(model, x)`
# Return a NumPy array with one integer per hidden layer, input side first: how many of its
# units output exactly 0 for every example of `x`. Same hidden layers and same `ValueError` for
# an empty batch as `active_fraction` (a helper you write once can serve both).

# %% nbgrader={"grade": false, "grade_id": "dead_units", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dead_units(model, x):
    """Per hidden Dense layer, how many units output exactly 0 for every example of the batch x
    (n ≥ 1 examples): int array of shape (n_hidden,)."""
    ### BEGIN SOLUTION
    return np.array([int(np.all(output == 0, axis=0).sum()) for output in hidden_layer_outputs(model, x)])
    ### END SOLUTION


# %% [markdown]
# The self-checks use a net small enough to work out by hand: one input, three ReLU units with
# weights 1, −1, 0.5 and biases 0, 0, −5, then an output unit. On the inputs 1, −1 and 2 the
# first unit fires twice, the second once, and the third never (0.5·x − 5 < 0): 3 active pairs
# out of 9, and one dead unit.

# %% nbgrader={"grade": true, "grade_id": "test_active_fraction", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: active_fraction on the hand-worked net, and an empty batch."""

# %% nbgrader={"grade": true, "grade_id": "hidden_active_fraction", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: active_fraction on deep, image (Flatten), sigmoid/tanh, leaky/ELU and one-layer nets."""
active_fraction(deep_mlp(2, 2, depth=1, width=3), np.ones((2, 2), "float32"))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("active_fraction", active_fraction)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "test_dead_units", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: dead_units on the hand-worked net, and an empty batch."""

# %% nbgrader={"grade": true, "grade_id": "hidden_dead_units", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: dead_units on nets with dead and half-dead units, leaky/ELU units below zero, Flatten."""
dead_units(deep_mlp(2, 2, depth=1, width=3), np.ones((2, 2), "float32"))  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("dead_units", dead_units)
### END HIDDEN TESTS

# %% [markdown]
# ## About half of the units are on at initialization
#
# A fresh four-layer ReLU net for the 8×8 digits (Keras's default Glorot-uniform weights, zero
# biases), measured on the training images:

# %% tags=["expected-output"]
digits = load_digits(rng=rng)
keras.utils.set_random_seed(4)  # this experiment's own seed: the same net whatever ran before
relu_net = deep_mlp(input_dim=64, n_classes=10, depth=4, width=64, activation="relu")
initial_weights = relu_net.get_weights()
at_init = active_fraction(relu_net, digits.x_train)
print(f"active fraction per hidden layer at initialization: {np.round(at_init, 3)}; mean {at_init.mean():.3f}")
print(f"dead units per hidden layer (of 64):                {dead_units(relu_net, digits.x_train)}")

# %% [markdown]
# A unit's pre-activation z = Σ wᵢ·aᵢ + b is a sum of many terms whose weights were drawn
# symmetrically around 0, so z is about as likely to be positive as negative — and ReLU keeps
# the positive half. This is known as *sparse activation*, usually put at about 50 % of units;
# the fractions printed above bear it out. The half has a consequence that lesson 04 builds on:
# a ReLU layer passes on only about half of its input's second moment (E[ReLU(z)²] = E[z²]/2
# when z is symmetric), and He initialization doubles LeCun's weight variance, 1/fan_in, to
# 2/fan_in to make up for exactly that.
#
# A few units are silent for every digit from the start: pixel values are all ≥ 0 and digits
# resemble one another, so a unit whose weights point away from what they share never fires.
#
# ## One step too large kills units
#
# Now one plain gradient-descent step, on one batch of 128 digits, from the same starting
# weights, with learning rates from ordinary to far too large:

# %% tags=["expected-output"]
first_batch = slice(0, 128)
print(f"dead units per hidden layer before the step: {dead_units(relu_net, digits.x_train)}")
for learning_rate in (0.1, 1.0, 10.0, 30.0):
    relu_net.set_weights(initial_weights)
    relu_net.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                     loss="sparse_categorical_crossentropy")
    relu_net.train_on_batch(digits.x_train[first_batch], digits.y_train[first_batch])
    print(f"after one step at learning rate {learning_rate:4}: {dead_units(relu_net, digits.x_train)}")

# %% [markdown]
# The larger the step, the more units it throws so far that their input is negative for every
# digit of the training set. It is the *step* that matters — learning rate times gradient — so a
# single huge gradient (lesson 02's exploding kind) does the same at an ordinary learning rate.
#
# ## Dead stays dead
#
# The net now holds the weights after the largest step. Where does the gradient go, and does
# ordinary training repair the damage?

# %% tags=["expected-output"]
def first_layer_silence(net):
    """How many units of net's first hidden layer output ≤ 0 for every training digit, and the
    largest |∂loss/∂w| the training set sends into those units' weights and into the others'."""
    first_layer = net.layers[0]
    silent = np.all(np.asarray(first_layer(digits.x_train)) <= 0, axis=0)  # (64,) one flag per unit
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(digits.y_train, net(digits.x_train)))
    gradient = np.abs(tape.gradient(loss, first_layer.kernel).numpy())  # (64 pixels, 64 units)
    return silent.sum(), gradient[:, silent].max(initial=0.0), gradient[:, ~silent].max(initial=0.0)


def silent_masks(net):
    """Per hidden layer, a (units,) flag: the unit outputs ≤ 0 for every training digit."""
    masks, a = [], digits.x_train
    for layer in net.layers[:-1]:
        a = layer(a)
        masks.append(np.all(np.asarray(a) <= 0, axis=0))
    return masks


silent_count, into_silent, into_others = first_layer_silence(relu_net)
print(f"first hidden layer: {silent_count} units never fire; largest |∂loss/∂w| into them {into_silent:.1e}, "
      f"into the others {into_others:.1e}")
dead_after_step, masks_after_step = dead_units(relu_net, digits.x_train), silent_masks(relu_net)
relu_net.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy")
keras.utils.set_random_seed(5)  # the same shuffling whatever ran before
relu_net.fit(digits.x_train, digits.y_train, epochs=5, batch_size=32, verbose=0)
masks_after_training = silent_masks(relu_net)
print(f"dead units after the big step:              {dead_after_step}")
print(f"after 5 more epochs at learning rate 0.1:   {dead_units(relu_net, digits.x_train)}")
print(f"  of which dead before and revived since:   "
      f"{np.array([np.sum(before & ~after) for before, after in zip(masks_after_step, masks_after_training)])}")
print(f"  alive before and dead since:              "
      f"{np.array([np.sum(~before & after) for before, after in zip(masks_after_step, masks_after_training)])}")

# %% [markdown]
# The gradient into a dead unit's weights and bias is exactly 0, so plain gradient descent
# leaves them where they are. In the **first** hidden layer that settles it: the unit's inputs
# are the pixels, which training never changes, so under plain SGD it stays dead for good and
# none of the first layer's dead units revives (the first entry of the "revived" line).
# **Deeper** layers are different: their inputs are earlier layers' outputs, and those keep
# training, so a dead unit there can come back — or a live one die — through the layers before
# it; the last two lines count both, layer by layer. "Dead" is a statement about a unit's own
# gradient, not a life sentence, except at the input side.
#
# "Plain" matters. Optimizers with memory do not stop when the gradient does: momentum adds a
# fraction of the previous step to each new one, and Adam divides a running average of past
# gradients by a running average of their squares, so a weight keeps moving for a while after
# its gradient has dropped to 0 — a bounded drift, along the direction of the gradients it got
# while alive, which may or may not switch the unit back on. One weight, one step with gradient
# 1, then 300 steps with gradient exactly 0, through Keras's own optimizers:

# %% tags=["expected-output"]
def drift_after_gradient_stops(optimizer, quiet_steps=300):
    """(the first step, how far the weight moves afterwards) for one weight that gets gradient 1
    once and then 0 for ``quiet_steps`` steps."""
    weight = keras.Variable(np.zeros(1, "float32"))
    optimizer.apply([np.ones(1, "float32")], [weight])
    first_step = float(weight.numpy()[0])
    for _ in range(quiet_steps):
        optimizer.apply([np.zeros(1, "float32")], [weight])
    return first_step, float(weight.numpy()[0]) - first_step


for label, optimizer in (("SGD, lr 0.1", keras.optimizers.SGD(0.1)),
                         ("SGD, lr 0.1, momentum 0.9", keras.optimizers.SGD(0.1, momentum=0.9)),
                         ("Adam, lr 0.001", keras.optimizers.Adam(0.001))):
    first_step, drift = drift_after_gradient_stops(optimizer)
    print(f"{label:26}: first step {first_step:+.4f}; moved {drift:+.4f} more with zero gradient "
          f"({drift / first_step + 0.0:.1f} × the first step)")  # + 0.0: no "-0.0"

# %% [markdown]
# Plain SGD stops dead; with momentum 0.9 the weight keeps going for about nine more first
# steps' worth (0.9 + 0.9² + … = 9), with Adam for a few (the ratios printed above). So "no
# optimizer can move a dead unit's weights" is true of plain SGD only: with momentum or Adam
# they drift by such amounts, then stop. (Weight decay, as in `AdamW`, keeps shrinking weights
# toward 0 — but when it shrinks the unit's weights and bias by the same factor, it shrinks z
# with them and leaves its sign alone: decay alone never revives a unit.)
#
# The same step on a leaky ReLU net:

# %% tags=["expected-output"]
keras.utils.set_random_seed(4)  # the ReLU net's seed: the same starting weights
leaky_net = deep_mlp(input_dim=64, n_classes=10, depth=4, width=64, activation="leaky_relu")
leaky_net.compile(optimizer=keras.optimizers.SGD(learning_rate=30.0), loss="sparse_categorical_crossentropy")
leaky_net.train_on_batch(digits.x_train[first_batch], digits.y_train[first_batch])
silent_count, into_silent, into_others = first_layer_silence(leaky_net)
print(f"leaky ReLU, first hidden layer: {silent_count} units never fire; largest |∂loss/∂w| into them "
      f"{into_silent:.1e}, into the others {into_others:.1e}")
print(f"dead units per hidden layer: {dead_units(leaky_net, digits.x_train)}")

# %% [markdown]
# The step pushes leaky units below zero for every digit too, but none is dead: below zero a
# leaky unit outputs 0.2·z, not 0, and its slope is 0.2, not 0, so the gradient still reaches
# their weights (the printed value is not 0) and training can bring them back. ELU's slope
# α·e^z never reaches 0 either, but it fades far below zero (the value printed after
# `elu_grad`): ELU softens the problem, leaky ReLU removes it.
#
# ## Twenty layers deep: ReLU's gradient profile beside sigmoid's
#
# Lesson 02 measured the gradient each layer's weights receive. Here is that profile for square
# nets of depth 20 (width 64, Keras's default Glorot-uniform weights, the same weights for every
# activation, a batch of standard-normal inputs), computed by `gradclinic`'s compiled profiler:

# %% tags=["expected-output"]
profiles = ActivationProfiles(rng)
depth = 20
layers = np.arange(1, depth + 1)
figure, axes = plt.subplots()
print(" activation | first-layer ‖∂loss/∂W‖ | last-layer ‖∂loss/∂W‖ | max/min over the 20 layers")
for activation in RELU_FAMILY_ACTIVATIONS:
    stats = profiles.stats(depth, activation, "glorot_uniform")
    axes.semilogy(layers, stats.kernel_grad_norms, "o-", ms=3, label=activation)
    print(f" {activation:10} | {stats.kernel_grad_norms[0]:22.3e} | {stats.kernel_grad_norms[-1]:21.3e} | "
          f"{stats.spread:.3g}")
axes.set(xlabel="layer l (1 = input side)", ylabel="‖∂loss/∂W[l]‖ (log scale)", xticks=layers,
         title=f"depth {depth}, Glorot uniform")
axes.legend(ncols=5, loc="lower right")
plt.show()

# %% [markdown]
# ReLU's profile stays within the small factor printed in its row, while sigmoid's falls by many
# orders of magnitude from the output layer back to the first: each sigmoid layer multiplies the
# backward signal by a slope of at most 1/4, and twenty such factors compound. A ReLU unit
# multiplies by 1 when active and 0 when not; with about half the units active (and Glorot's
# variance), every layer receives a gradient of the same size. Tanh, whose slope is 1 at z = 0,
# holds up at this depth too: Glorot's weights keep its inputs small, where tanh is nearly
# linear. With larger weights (`he_normal` at depth 100, in the explorer below) it spreads out.
#
# Same *shape* is not yet the right *size*: each ReLU layer passes on about half of its input's
# second moment — the half you measured above — forward and, likewise, backward. With Glorot's
# weights the whole profile therefore sinks as the net gets deeper. Try it below: switch to
# depth 100 and compare `glorot_uniform` with `he_normal`.
#
# ## Explore: depth × activation
#
# Left, the gradient of each layer's weights; right, the share of active units (output > 0) and
# of dead units (0 for every example of the batch) per layer. Things to try:
#
# - **sigmoid at depth 100**: the first layers' gradients underflow to exactly 0 in float32.
# - **relu, glorot_uniform vs he_normal at depth 100**: the same flat shape, lifted by many
#   orders of magnitude by He's factor 2: He's variance 2/fan_in is twice LeCun's 1/fan_in,
#   which is also Glorot's on these square layers (lesson 04 derives them).
# - **the right panel**: the active share hovers around one half for the ReLU family and tanh,
#   and sits at 1 for sigmoid, whose output is always positive — "on", yet its slope is small.
# - **relu at growing depth**: dead units appear even at initialization, and more of them the
#   deeper the layer. Depth makes the examples' representations ever more alike, until a unit
#   that is off for one example is off for all of them (Lu et al., 2019, *Dying ReLU and
#   initialization*). Leaky ReLU and ELU have none: their output below zero is never exactly 0.

# %%
explorer = ReluProfileExplorer(profiles, depth=20, activation="relu")
explorer

# %% [markdown]
# ## What to take away
#
# - ReLU's slope is exactly 1 for every positive input: no saturation, so deep ReLU nets keep a
#   level gradient profile where sigmoid nets starve their first layers.
# - About half of a ReLU layer is active at initialization; that half is why He initialization
#   uses twice LeCun's variance, 2/fan_in instead of 1/fan_in, for ReLU nets (on a square layer
#   Glorot's 2/(fan_in + fan_out) equals LeCun's).
# - A unit that is off for every input gets exactly zero gradient: too large a step can kill
#   units — for good in the first layer under plain SGD, while deeper units can revive (or
#   die) as the layers before them train, and momentum or Adam keep moving a dead unit's weights
#   for a while. Leaky ReLU keeps a slope below zero and cannot die; ELU's slope fades there.
#
# **Next:** lesson 04 turns "about half" into initialization rules — LeCun, Glorot and He — and
# checks them layer by layer.
