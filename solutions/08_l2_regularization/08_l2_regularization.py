# %% [markdown]
# # 08 · L2 regularization: a penalty on weight size, and what it can and cannot fix
#
# Popular tutorials list L2 regularization among the remedies for *exploding* gradients. The
# idea is simple: add a term to the loss that grows with the size of the weights, so gradient
# descent keeps weights small while it fits the data. Whether that tames an exploding network
# is a claim we can measure, and this lesson does.
#
# **You will:** compute the penalty exactly as Keras does (`l2_penalty`) and its gradient
# (`l2_penalty_grad`); convert between the two conventions you will meet in courses and code;
# see why the penalty is called *weight decay*; watch λ hold down the weights of a network over
# a whole training run; and test, on a deep net that overflows, what L2 does there and what it
# does not.

# %%
import gradclinic

rng = gradclinic.setup(seed_value=0)  # first: quiets TensorFlow before anything imports it

import keras
import numpy as np
import tensorflow as tf

from gradclinic.data import load_digits
from gradclinic.explorers.l2_regularization import L2Explorer, stability_map_figure, weight_growth_figure
from gradclinic.training import (DEEP_LINEAR, DIGITS_MLP, SETUPS, agreement_with_keras, grid_runs, keras_model,
                                 train_l2_grid)

# %% [markdown]
# ## The penalty Keras adds
#
# A regularizer is attached to a weight tensor when the layer is built:
# `keras.layers.Dense(64, kernel_regularizer=keras.regularizers.L2(lam))`. At every training
# step Keras adds `lam * sum(kernel ** 2)` for that kernel to the loss; with a regularizer on
# every layer, the training loss is
#
# $$\text{loss} = \underbrace{\tfrac{1}{B}\textstyle\sum_{\text{batch}} L(\hat y, y)}_{\text{data loss}}
#   \;+\; \lambda \sum_{\text{kernels}} \sum_{w} w^2 .$$
#
# Here is the lesson's digits MLP (64 inputs, two hidden layers of 64 ReLU units, 10 classes)
# with `L2(0.01)` on all three kernels, checked against that formula on one batch of 32 digits:

# %% tags=["expected-output"]
digits = load_digits()
model = keras_model(SETUPS[DIGITS_MLP], lam=0.01)
kernels = [layer.kernel for layer in model.layers]
by_hand = 0.01 * sum(np.sum(np.square(kernel.numpy(), dtype=float)) for kernel in kernels)
print(f"penalties Keras tracks (model.losses): {len(model.losses)}, adding up to {float(sum(model.losses)):.6f}")
print(f"0.01 · Σw² over the three kernels, by hand:        {by_hand:.6f}")

model.compile(loss="sparse_categorical_crossentropy")
x_batch, y_batch = digits.x_train[:32], digits.y_train[:32]
predictions = model(x_batch)
data_loss = float(np.mean(keras.losses.sparse_categorical_crossentropy(y_batch, predictions)))
training_loss = float(model.compute_loss(y=y_batch, y_pred=predictions))
print(f"training loss {training_loss:.4f} = data loss {data_loss:.4f} + penalty {training_loss - data_loss:.4f}")

# %% [markdown]
# The penalty goes into the loss whole: no ½, no division by the batch size or the number of
# examples. (`kernel_regularizer="l2"` as a string means `L2(0.01)`.)
#
# **Common recipes, corrected.** A widely copied Keras example also passes
# `activity_regularizer=regularizers.l2(0.01)` and says that regularization penalises "layer
# parameters (weights, bias)". Two corrections. An *activity*
# regularizer penalises the layer's **outputs**, not its weights (and Keras 3 divides that
# penalty by the batch size); it is a different idea from weight decay. And biases are
# penalised only if you also pass `bias_regularizer`; that example penalises none.

# %% tags=["expected-output"]
layer = keras.layers.Dense(3, activity_regularizer=keras.regularizers.L2(0.01))
outputs = layer(x_batch[:4]).numpy()
print(f"activity penalty Keras adds: {float(sum(layer.losses)):.6f}")
print(f"0.01 · Σ(outputs²) / batch:  {0.01 * np.sum(np.square(outputs)) / len(outputs):.6f}")
print(f"0.01 · Σw² of its kernel:    {0.01 * np.sum(np.square(layer.kernel.numpy())):.6f}  (not what it adds)")

# %% [markdown]
# ## Two conventions for one penalty
#
# deeplearning.ai's courses (and many textbooks) write the regularized cost over *m* training
# examples as
#
# $$J = \frac{1}{m}\sum_{i=1}^{m} L(\hat y^{(i)}, y^{(i)}) + \frac{\lambda}{2m}\sum_{l}\lVert W^{[l]}\rVert_F^2,
# \qquad \frac{\partial J}{\partial W^{[l]}} = (\text{data part}) + \frac{\lambda}{m}W^{[l]} .$$
#
# The ½ is there to cancel the 2 of the derivative; the 1/m because the whole cost is an average
# over the *m* examples. Keras keeps neither: its `L2(λ)` adds λ·Σw², whose gradient is 2λW.
# The two penalties are the same when
#
# $$\lambda_{\text{Keras}} = \frac{\lambda_{\text{course}}}{2m},$$
#
# where *m* is the number of training examples the course's cost averages over (the whole
# training set there), **not** Keras's batch size: Keras's batch mean of the data loss estimates
# that same average, and the penalty is added whole at every step. Converted for digits and a
# course value λ = 0.7:

# %% tags=["expected-output"]
m = len(digits.x_train)
lam_course = 0.7
lam_keras = lam_course / (2 * m)
converted = keras_model(SETUPS[DIGITS_MLP], lam=lam_keras)
kernels = [layer.kernel for layer in converted.layers]
course_penalty = lam_course / (2 * m) * sum(np.sum(np.square(kernel.numpy(), dtype=float)) for kernel in kernels)
with tf.GradientTape() as tape:
    keras_penalty = tf.add_n(converted.losses)
keras_grads = tape.gradient(keras_penalty, kernels)
relative_gap = max(np.max(np.abs(g.numpy() - lam_course / m * k.numpy())) / np.max(np.abs(lam_course / m * k.numpy()))
                   for g, k in zip(keras_grads, kernels))
print(f"m = {m} training digits, λ_course = {lam_course} → λ_Keras = λ/(2m) = {lam_keras:.3e}")
print(f"course penalty (λ/2m)·Σ‖W‖²: {course_penalty:.6f}   Keras's L2(λ_Keras): {float(keras_penalty):.6f}")
print(f"Keras's gradient equals the course's (λ/m)·W to float32 precision (relative 1e-6): {bool(relative_gap < 1e-6)}")
print(f"typing λ_course = {lam_course} into L2(…) instead would make the penalty {2 * m}× stronger")

# %% [markdown]
# ### Exercise: `l2_penalty(weights, lam)`
# `weights` is a list of NumPy arrays of any shapes (what `model.get_weights()` returns, or the
# kernels you choose to regularize). Return the penalty Keras's `L2(lam)` would add for all of
# them together, **λ·Σw²** summed over every entry of every array, as a Python `float`.
# Raise `ValueError` when `lam` is negative (Keras refuses it too). Do not change the arrays
# you are given: they are the model's weights.

# %% nbgrader={"grade": false, "grade_id": "l2_penalty", "locked": false, "schema_version": 3, "solution": true, "task": false}
def l2_penalty(weights, lam):
    """λ·Σw² over every entry of every array in ``weights`` (a list of arrays), as a float."""
    ### BEGIN SOLUTION
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a non-negative number, got {lam!r}")
    return float(lam * sum(np.sum(np.square(np.asarray(w, dtype=float))) for w in weights))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_l2_penalty", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: l2_penalty on a hand-sized example, against Keras's own L2, on bad input, and the inputs left alone."""


# %% nbgrader={"grade": true, "grade_id": "hidden_l2_penalty", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: l2_penalty against Keras's L2 on random lists, float32 weights, λ = 0, empty lists, bad λ."""
l2_penalty([np.ones((2, 2))], 0.5)  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("l2_penalty", l2_penalty)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise: `l2_penalty_grad(weights, lam)`
# Return the gradient of that penalty with respect to each array: a list with one **new** array
# per array in `weights`, same order, same shapes. Differentiate λ·Σw² by hand: each weight
# appears once, squared. Raise `ValueError` for a negative `lam`, and leave the input arrays
# unchanged.

# %% nbgrader={"grade": false, "grade_id": "l2_penalty_grad", "locked": false, "schema_version": 3, "solution": true, "task": false}
def l2_penalty_grad(weights, lam):
    """∂(λ·Σw²)/∂w for each array in ``weights``: a list of new arrays, same shapes."""
    ### BEGIN SOLUTION
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a non-negative number, got {lam!r}")
    return [2 * lam * np.asarray(w, dtype=float) for w in weights]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_l2_penalty_grad", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: l2_penalty_grad by hand, against TensorFlow's gradient of Keras's L2, on bad input, and the inputs left alone."""


# %% nbgrader={"grade": true, "grade_id": "hidden_l2_penalty_grad", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: l2_penalty_grad against TensorFlow's gradient of Keras's L2 on random lists and edge cases."""
l2_penalty_grad([np.ones((2, 2))], 0.5)  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("l2_penalty_grad", l2_penalty_grad)
### END HIDDEN TESTS

# %% [markdown]
# ## Why it is called weight decay
#
# Put your gradient into one step of plain gradient descent with learning rate η:
#
# $$W \leftarrow W - \eta\,(\nabla_W \text{data} + 2\lambda W) = (1 - 2\eta\lambda)\,W - \eta\,\nabla_W \text{data}.$$
#
# Before the data has its say, every weight is multiplied by (1 − 2ηλ): it *decays* toward 0.
# Keras's optimizers also take a `weight_decay=` argument that does that multiplication (by
# 1 − η·weight_decay) directly on the weights, before the optimizer's own step and outside the
# loss. The two coincide **only for plain SGD without momentum**, with weight_decay = 2λ
# (Loshchilov & Hutter 2019):
#
# - **SGD with momentum**: the penalty's gradient 2λW enters the velocity and keeps acting on
#   later steps (up to 1/(1 − momentum) times as much, the velocity's memory); `weight_decay=`
#   shrinks each weight once per step, outside the velocity.
# - **Adam**: the penalty's gradient is divided by the running size of the whole gradient, so a
#   weight with large data gradients barely decays and one with tiny gradients decays hard;
#   `weight_decay=` shrinks every weight by the same factor. That is *decoupled* weight decay.
#
# In Keras 3 every optimizer's `weight_decay=` is decoupled, so `Adam(weight_decay=…)` already
# *is* AdamW (`keras.optimizers.AdamW` is Adam whose weight_decay defaults to 0.004). Ten steps
# from the same weights on a small least-squares problem:

# %% tags=["expected-output"]
start_kernel = rng.normal(size=(4, 3)).astype("float32")
x_small, y_small = rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 3)).astype("float32")
lam, eta = 0.05, 0.1


def data_loss(kernel):
    """Mean squared error of the linear map x ↦ x·kernel (keras.ops keeps the tape watching)."""
    return keras.ops.mean(keras.losses.mean_squared_error(y_small, keras.ops.matmul(x_small, kernel)))


def train_steps(optimizer, penalty_lam, steps=10):
    """The kernel after ``steps`` optimizer steps on the data loss plus L2(penalty_lam)."""
    kernel = keras.Variable(start_kernel)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = data_loss(kernel) + keras.regularizers.L2(penalty_lam)(kernel)
        optimizer.apply(tape.gradient(loss, [kernel]), [kernel])
    return kernel.numpy()


start_variable = tf.Variable(start_kernel)
with tf.GradientTape() as tape:
    loss = data_loss(start_variable)
data_grad = tape.gradient(loss, start_variable).numpy()
by_hand = start_kernel - eta * (data_grad + l2_penalty_grad([start_kernel], lam)[0])
one_step = train_steps(keras.optimizers.SGD(eta), lam, steps=1)
print(f"one SGD step: your l2_penalty_grad and L2 in the loss agree to 1e-6: "
      f"{bool(np.max(np.abs(by_hand - one_step)) < 1e-6)}")
optimizers = {"SGD": lambda **decay: keras.optimizers.SGD(eta, **decay),
              "SGD, momentum 0.9": lambda **decay: keras.optimizers.SGD(eta, momentum=0.9, **decay),
              "Adam": lambda **decay: keras.optimizers.Adam(eta, **decay)}
print(f"10 steps, L2(λ = {lam}) in the loss vs weight_decay = 2λ, max |difference| ÷ max |ΔW|:")
for name, make in optimizers.items():
    with_l2, with_decay = train_steps(make(), lam), train_steps(make(weight_decay=2 * lam), 0.0)
    gap = np.max(np.abs(with_l2 - with_decay)) / np.max(np.abs(with_l2 - start_kernel))
    print(f"  {name:17s}: {'below 1e-5 (the same steps)' if gap < 1e-5 else f'{gap:.3f}'}")
adam_decay = train_steps(keras.optimizers.Adam(eta, weight_decay=2 * lam), 0.0)
adamw = train_steps(keras.optimizers.AdamW(eta, weight_decay=2 * lam), 0.0)
print(f"Adam(weight_decay=2λ) vs AdamW(weight_decay=2λ): identical kernels: {bool(np.array_equal(adam_decay, adamw))}")

# %% [markdown]
# ## λ over a whole training run
#
# What does the decay do over thousands of steps? To see every λ at once, the lesson's
# toolkit trains one copy of the digits MLP per λ **side by side** (same initial weights, same
# mini-batches, plain SGD with learning rate 0.1, batches of 32, 30 epochs), in vectorised NumPy.
# It trains exactly what `model.fit` trains with `kernel_regularizer=L2(λ)`; below the figure,
# the largest relative difference between its weight norm and Keras's after every step of two
# epochs of `fit`.

# %%
mlp_runs = grid_runs(DIGITS_MLP)
weight_growth_figure(mlp_runs, shown_lams=[0, 1e-4, 1e-3, 1e-2, 1e-1]);

# %%
if not gradclinic.grading():  # a check of the toolkit, not of your work: skipped when grading
    gap = agreement_with_keras(SETUPS[DIGITS_MLP], lam=1e-3)
    print(f"largest relative difference from Keras's fit over 84 steps: {gap:.1e}")

# %%
last_epoch = slice(-mlp_runs.steps_per_epoch, None)
recent = min(5, (len(mlp_runs.weight_norms) - 1) // mlp_runs.steps_per_epoch)  # the grader's run has 3 epochs
recent_start = mlp_runs.weight_norms[-1 - recent * mlp_runs.steps_per_epoch]
print(f"      λ | ‖W‖ start → end | last {recent} epochs | penalty pull ‖2λW‖ / ‖∂data/∂W‖ | train / test accuracy")
for k in map(mlp_runs.index_of, [0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]):
    pull = mlp_runs.penalty_grad_norms[last_epoch, k].mean() / mlp_runs.data_grad_norms[last_epoch, k].mean()
    change = mlp_runs.weight_norms[-1, k] / recent_start[k] - 1
    print(f"{mlp_runs.lams[k]:7.2g} | {mlp_runs.weight_norms[0, k]:5.1f} → {mlp_runs.weight_norms[-1, k]:5.2f}  "
          f"| {change:+12.1%} | {pull:32.3f} | {mlp_runs.train_accuracy[k]:.3f} / {mlp_runs.test_accuracy[k]:.3f}")
best = int(np.argmax(mlp_runs.test_accuracy))
print(f"best test accuracy {mlp_runs.test_accuracy[best]:.3f} at λ = {mlp_runs.lams[best]:.1e}; "
      f"without L2 {mlp_runs.test_accuracy[0]:.3f}")

# %% [markdown]
# Read the table above and the figure:
#
# - **Without L2 the weights keep growing.** Cross-entropy keeps rewarding more confident
#   outputs, and on data the net can nearly separate, larger weights always give them: the norm
#   is still rising in the last five epochs.
# - **With L2 the norm stops growing**: it settles where the penalty's pull on the weights
#   balances the data's push. The column "penalty pull" compares the two gradients in the last epoch: for a tiny λ the
#   penalty's is a rounding error, and it becomes a sizeable fraction of the data's as λ grows.
# - **Too much λ wins outright**: the weights decay to almost nothing and the net predicts at
#   chance. Between the extremes, test accuracy here hardly moves (compare the best λ with
#   λ = 0 above): this small net does not overfit digits much (compare its train and test
#   accuracy), so L2's usual job, curbing overfitting, has little to do.
#
# ## The exploding setup: what L2 does and what it does not
#
# Now the claim that L2 tames exploding gradients. Take the deep linear model of lessons 02 and
# 07 (20 hidden layers with no
# activation; 64 units wide here, for digits' 64 pixels) and train it with SGD at learning rate
# 0.05, one epoch, once per λ. Linear layers multiply: a little growth per layer compounds
# over 21 kernels, the outputs and gradients grow until float32 overflows, and the loss becomes
# NaN.

# %%
deep_runs = grid_runs(DEEP_LINEAR)
overflow_steps = deep_runs.first_nonfinite_step()
first_grads = deep_runs.data_grad_norms[0]
print(f"‖∂data/∂W‖ at step 1: {first_grads.min():.4f} … {first_grads.max():.4f} across all {len(first_grads)} λ")
for k in map(deep_runs.index_of, [1e-3, 1e-1]):
    print(f"  λ = {deep_runs.lams[k]:g}: the penalty's own gradient ‖2λW‖ = {deep_runs.penalty_grad_norms[0, k]:.3f}, "
          f"{deep_runs.penalty_grad_norms[0, k] / first_grads[k]:.1%} of the data's")
print("      λ | first NaN step | test accuracy | penalty λ‖W‖² vs data loss at step 1")
for k in map(deep_runs.index_of, [0, 1e-4, 1e-3, 1e-2, 1.8e-2, 3e-2, 5.6e-2, 1e-1]):
    penalty = deep_runs.lams[k] * deep_runs.weight_norms[0, k] ** 2
    fate, shown_accuracy = ((f"{overflow_steps[k]:14d}", f"{'—':>13}") if overflow_steps[k]
                            else (f"{'none':>14}", f"{deep_runs.test_accuracy[k]:13.3f}"))
    print(f"{deep_runs.lams[k]:7.2g} | {fate} | {shown_accuracy} | "
          f"{penalty:8.2f} vs {deep_runs.data_losses[0, k]:.2f}")

# %% [markdown]
# What the numbers above say:
#
# - **At initialization L2 changes nothing.** Every λ starts from the same weights, so the data
#   gradient at step 1 is the same for all of them, and the penalty only *adds* 2λW to it, a
#   small fraction of the data's for λ = 0.001. The gradient that explodes is the data's, and L2
#   does not touch it.
# - **L2 acts only through the weights, a factor (1 − 2ηλ) per step.** With a small or moderate
#   λ that is far too slow: the overflow arrives at the same step, or a few steps later.
# - **A large λ did keep this run finite**, and the reason is depth: shrinking each of the 21
#   kernels by (1 − 2ηλ) shrinks their product, the network's end-to-end gain, by
#   (1 − 2ηλ)²¹ per step (printed below). But at such a λ the penalty is many times the data
#   loss: the run spends its steps shrinking weights instead of learning digits.
#
# Is L2 the right tool, then? Move the learning rate as well: the map below trains the same
# net for every pair (λ, learning rate).

# %%
map_lams = np.array([0.0, 1e-3, 1e-2, 3e-2, 1e-1])
map_rates = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.07])
lam_grid, rate_grid = np.meshgrid(map_lams, map_rates, indexing="ij")
map_runs = train_l2_grid(SETUPS[DEEP_LINEAR], lam_grid.ravel(), learning_rates=rate_grid.ravel())
stability_map_figure(map_runs, map_lams, map_rates);

depth = len(SETUPS[DEEP_LINEAR].hidden) + 1
for lam in (1e-2, 1e-1):
    print(f"λ = {lam:g}, η = 0.05: each step multiplies the end-to-end gain by (1 − 2ηλ)^{depth} = "
          f"{(1 - 2 * 0.05 * lam) ** depth:.3f}")
accuracy = map_runs.test_accuracy.reshape(lam_grid.shape)
finite = map_runs.first_nonfinite_step().reshape(lam_grid.shape) == 0
print(f"largest finite learning rate: λ = 0 → {map_rates[finite[0]].max()}, "
      f"λ = {map_lams[-1]:g} → {map_rates[finite[-1]].max()}")
print(f"best accuracy with λ = 0 (smaller step): {accuracy[0][finite[0]].max():.3f}; "
      f"best at η ≥ 0.04, where only a large λ kept it finite: {accuracy[:, 3:][finite[:, 3:]].max():.3f}")

# %% [markdown]
# The map is the honest summary. Without L2, this net trains at learning rates up to a limit
# and overflows beyond it. A large λ pushes that limit up a little — and the runs it rescues
# learn less than the same net simply trained with a smaller step (the last line above). At the
# map's largest learning rate no λ keeps the run finite. L2 **bounds the growth of weights over
# training**; it is not a cure for gradients that explode from the first steps. Those are cured
# at their source: the initial scale of the weights (lesson 04), the step size, clipping the
# gradient (lesson 07) or normalizing activations (lesson 09).
#
# ## Explore
#
# Pick a setup and move **λ** through the grid (0 and seventeen values from 10⁻⁵ to 0.1). Left:
# the weight norm over training, beside λ = 0. Right: the data's gradient norm and the penalty's
# ‖2λW‖ over training. In the digits MLP, watch where the penalty's line meets the data's: that
# is where λ starts to decide the weights. In the deep linear net, watch the overflow line move
# only at the largest λ. Every run was trained once; a slider move only redraws.

# %%
explorer = L2Explorer(setup=DIGITS_MLP, lam=1e-2)
explorer

# %% [markdown]
# ## Summary
#
# - Keras's `L2(λ)` adds **λ·Σw²** to the loss (no ½, no 1/m); its gradient is **2λW**. A
#   λ/2m course value converts as λ_Keras = λ/(2m), with *m* the training-set size.
# - With plain SGD (no momentum), the penalty is a decay of every weight by (1 − 2ηλ) per step,
#   the same step as Keras's `weight_decay=2λ`. With momentum or Adam they differ: Keras's
#   `weight_decay=` is always decoupled (`Adam(weight_decay=…)` is AdamW), L2 in the loss is not.
# - Over training, L2 **caps weight growth**; too large a λ erases the network.
# - It does **not** fix gradients that explode at initialization; a λ large enough to
#   matter there dominates the loss, and a smaller step trains better.
#
# **Next:** lesson 09 normalizes each layer's inputs — Batch Normalization — and trains a deep
# sigmoid net that stalls without it.
