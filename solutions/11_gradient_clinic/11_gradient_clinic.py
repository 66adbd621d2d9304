# %% [markdown]
# # 11 · The gradient clinic: four patients, one diagnosis each, your prescriptions
#
# Ten lessons gave you the causes (saturating slopes, weights of the wrong scale, depth, time
# steps, a step size that is too large) and the cures (ReLU and He initialisation, gates,
# residual paths, clipping, normalisation). This capstone puts them to work the way you will meet
# them in practice: a training run that does not learn, and no one telling you why.
#
# Four sick training set-ups arrive, each as code. For each one you **examine** the patient with
# the gradient-health monitor and lesson 02's rule, name the illness, and **prescribe** a
# treatment: a function `treat_case_a()` … `treat_case_d()` that returns a *compiled* Keras model.
#
# **How a treatment is graded.** The grader rebuilds your model from its configuration and
# initial weights, then checks three things, in this order:
#
# 1. **It is the same task.** Same input shape and classes, at least as many hidden layers of the
#    case's width as the sick net has (or, for the recurrent case, a recurrent layer reading the
#    whole sentence forwards). Removing layers is not a treatment: it shortens the path the
#    gradient must travel instead of healing it.
# 2. **It starts healthy.** Lesson 02's `diagnose` on the per-kernel gradient norms at step 0
#    (on the first 256 training examples, in training mode) must say "healthy".
# 3. **It learns.** Trained on the case's data for the case's epochs, batch size and a fixed
#    seed, it reaches the case's validation accuracy.
#
# Your optimizer, learning rate, clipping, activations, initialisers and extra layers
# (normalisation, residual adds, gates) are yours to choose.

# %%
import gradclinic

rng = gradclinic.setup(seed_value=0)  # first: quiets TensorFlow before anything imports it

import time

import keras
import numpy as np

from gradclinic import clinic
from gradclinic.diagnostics import GradientHealthMonitor

# %% [markdown]
# ## The examination tools
#
# **`diagnose`** is lesson 02's rule, restated here as given code (you wrote and tested it
# there; it is not graded again). It reads per-layer gradient norms, input side first:
# exploding when a norm is non-finite or above `explode_at`, or when the first layer's norm
# exceeds the last's by more than 1/`vanish_ratio`; vanishing when it is smaller by more than
# that factor; healthy otherwise.

# %%
def diagnose(norms, vanish_ratio=1e-3, explode_at=1e2):
    """'exploding', 'vanishing' or 'healthy' for per-layer gradient norms, input side first."""
    norms = np.asarray(norms, dtype=float)
    if norms.ndim != 1 or norms.size == 0:
        raise ValueError(f"norms must be a non-empty list of per-layer norms, got shape {norms.shape}")
    if not np.all(np.isfinite(norms)) or np.any(norms > explode_at):
        return "exploding"
    first, last = norms[0], norms[-1]
    if first == 0:
        return "vanishing"
    if last == 0 or first / last > 1 / vanish_ratio:
        return "exploding"
    return "vanishing" if first / last < vanish_ratio else "healthy"


# %% [markdown]
# **The monitor** (`gradclinic.diagnostics.GradientHealthMonitor`) is a Keras callback: every
# `every` steps it measures each kernel's gradient norm on a probe batch, the update-to-data
# ratio, the saturation of sigmoid/tanh layers, the share of dead ReLU units and NaN alarms, and
# asks your `diagnose` for a verdict. It probes in inference mode; for the plain nets of this
# clinic that is the same gradient training uses.
#
# The four cases, as the clinic's records give them (`gradclinic.clinic.CASES`):

# %%
for name, case in clinic.CASES.items():
    keeps = (f"a recurrent layer of ≥ {case['width']} units" if case["data"] == "agreement"
             else f"≥ {case['depth']} hidden layers of {case['width']} units")
    print(f"case {name}: {case['title']}\n    data {case['data']}, input {case['input_shape']}, "
          f"{case['classes']} classes; keep {keeps}; target validation accuracy ≥ {case['target']:.2f} "
          f"in {case['epochs']} epochs (batch {case['batch_size']})")

# %% [markdown]
# `examine(name)` builds a case's sick model (`clinic.sick_model`), prints the verdict at step 0,
# trains it with the monitor attached and prints what it became. Under the grader these
# demonstration runs are skipped (your treatments are still trained in full by the hidden tests).

# %%
def examine(name, model=None, epochs=None):
    """Train case ``name``'s sick model (or ``model``) with the monitor; print what it shows."""
    model = clinic.sick_model(name) if model is None else model
    x, y, x_val, y_val = clinic.case_data(name)
    start = clinic.start_gradient_norms(model, name)
    print(f"case {name}: at step 0 diagnose says {diagnose(start)!r}; first/last kernel-gradient norms "
          f"{start[0]:.3g} / {start[-1]:.3g}")
    if gradclinic.grading():
        return None
    monitor = GradientHealthMonitor(x[:256], y[:256], every=20, diagnose=diagnose)
    began = time.perf_counter()
    keras.utils.set_random_seed(clinic.SEED)
    model.fit(x, y, epochs=epochs or clinic.CASES[name]["epochs"], batch_size=clinic.CASES[name]["batch_size"],
              verbose=0, callbacks=[monitor])
    summary = monitor.summary()
    accuracy = clinic.validation_accuracy(model, x_val, y_val)
    saturation = max(summary["saturation"].values(), default=float("nan"))
    dead = max(summary["dead"].values(), default=float("nan"))
    print(f"    after training: verdict {summary['verdict']!r}, validation accuracy {accuracy:.3f}, "
          f"probe loss {summary['loss']:.3g}, first alarm at step {summary['first_alarm_step']}, "
          f"most saturated layer {saturation:.2f}, most dead ReLU layer {dead:.2f} "
          f"({time.perf_counter() - began:.1f} s)")
    return monitor


# %% [markdown]
# ## Case a: a deep sigmoid net
#
# Ten sigmoid layers with Keras's default Glorot weights, plain SGD, on the digits. Examine it:

# %%
monitor_a = examine("a")
if monitor_a is not None:
    monitor_a.report()

# %% [markdown]
# Read the verdict and the two norms printed above: the gradient reaching the first layer is
# orders of magnitude below the last layer's, and the accuracy stays near chance (one digit in
# ten). Every sigmoid layer multiplies the backward signal by a slope of at most ¼ (lesson 02), and
# Glorot's weights, sized for a slope of 1, do not make up for it.
#
# Why Keras's default weights and not N(0, 1), the classic way to draw this patient? Measure it:
# the same net with N(0, 1) weights, at step 0:

# %%
keras.utils.set_random_seed(0)
normal_sigmoid = keras.Sequential(
    [keras.Input((64,))] + [keras.layers.Dense(64, activation="sigmoid", kernel_initializer=keras.initializers.RandomNormal(stddev=1.0))
                            for _ in range(10)] + [keras.layers.Dense(10, activation="softmax")])
normal_sigmoid.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
normal_norms = clinic.start_gradient_norms(normal_sigmoid, "a")
print(f"N(0, 1) sigmoid net: first/last kernel-gradient ratio {normal_norms[0] / normal_norms[-1]:.3g}, "
      f"diagnose says {diagnose(normal_norms)!r}")

# %% [markdown]
# The ratio printed above stays inside lesson 02's thresholds: the large weights (each unit sums
# 64 terms of size ~1) offset the small slopes while they drive the units into saturation. That
# patient is sick in a way the ratio rule does not see — the monitor's saturation panel does. For
# a case the rule can diagnose, the clinic's patient a uses Glorot's weights.
#
# ### Exercise: `treat_case_a()`
# Return a compiled model for case a: input (64,), 10 classes, at least 10 hidden layers of 64
# units. Lesson 03 and 04's medicine applies.

# %% nbgrader={"grade": false, "grade_id": "treat_case_a", "locked": false, "schema_version": 3, "solution": true, "task": false}
def treat_case_a():
    """Case a, treated: a compiled Keras model that keeps the task and trains."""
    ### BEGIN SOLUTION
    keras.utils.set_random_seed(0)
    layers = [keras.Input((64,))]
    layers += [keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal") for _ in range(10)]
    model = keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-3), loss="sparse_categorical_crossentropy")
    return model
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_treat_case_a", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: treat_case_a is compiled, keeps case a's task, and starts with a healthy gradient (the clinic's terms)."""


# %% nbgrader={"grade": true, "grade_id": "hidden_treat_case_a", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: the grader trains treat_case_a's model on case a and requires the target and a healthy start."""
treat_case_a()  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("treat_case_a", treat_case_a)
### END HIDDEN TESTS

# %% [markdown]
# ## Case b: a deep linear net with a large learning rate

# %%
monitor_b = examine("b")

# %% [markdown]
# This patient looks healthy at step 0 — read the verdict printed above — and then dies: the
# monitor's alarm fires and the loss turns to NaN (the accuracy of a NaN network is meaningless).
# Nothing is wrong with the gradient's *profile*; the **update** is the problem. A linear net's
# loss surface steepens as its weights grow, so a step that is too large grows them further: the
# factor > 1 of lesson 01 now sits in the training loop, not in the layers. Lesson 07's cure.
#
# ### Exercise: `treat_case_b()`
# Input (64,), 10 classes, at least 8 hidden layers of 64 units.

# %% nbgrader={"grade": false, "grade_id": "treat_case_b", "locked": false, "schema_version": 3, "solution": true, "task": false}
def treat_case_b():
    """Case b, treated: a compiled Keras model that keeps the task and trains."""
    ### BEGIN SOLUTION
    keras.utils.set_random_seed(0)
    layers = [keras.Input((64,))] + [keras.layers.Dense(64) for _ in range(8)]
    model = keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy")
    return model
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_treat_case_b", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: treat_case_b is compiled, keeps case b's task, and starts with a healthy gradient (the clinic's terms)."""


# %% nbgrader={"grade": true, "grade_id": "hidden_treat_case_b", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: the grader trains treat_case_b's model on case b and requires the target and a healthy start."""
treat_case_b()  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("treat_case_b", treat_case_b)
### END HIDDEN TESTS

# %% [markdown]
# ## Case c: a SimpleRNN over a long gap
#
# Lesson 05's agreement task: read "those cats … (a long gap of filler words)" and say whether
# the ending is "they were" or "it was". The clinic's sentences have the gap printed in the case
# table above.

# %%
monitor_c = examine("c")

# %% [markdown]
# The verdict at step 0 (printed above) is "healthy", and yet the accuracy sits at chance
# (½). The kernel norms cannot see this illness: the input kernel W_x gets gradient from every
# time step, the last ones included, so its norm stays large even though the part of it that
# comes from the subject, many steps back, has vanished (lesson 05 measured that per time step).
# A passing `diagnose` is necessary, not sufficient; the accuracy is the final word.
#
# ### Exercise: `treat_case_c()`
# Word ids of shape (26,) in, one probability (or two class probabilities) out, a recurrent layer
# of at least 16 units reading the sentence forwards. Lesson 05's medicine.

# %% nbgrader={"grade": false, "grade_id": "treat_case_c", "locked": false, "schema_version": 3, "solution": true, "task": false}
def treat_case_c():
    """Case c, treated: a compiled Keras model that keeps the task and trains."""
    ### BEGIN SOLUTION
    keras.utils.set_random_seed(0)
    vocabulary = int(clinic.case_data("c")[0].max()) + 1
    model = keras.Sequential([
        keras.Input((26,), dtype="int32"),
        keras.layers.Embedding(vocabulary, 8, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0)),
        keras.layers.LSTM(16),
        keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy")
    return model
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_treat_case_c", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: treat_case_c is compiled, keeps case c's task, and starts with a healthy gradient (the clinic's terms)."""


# %% nbgrader={"grade": true, "grade_id": "hidden_treat_case_c", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: the grader trains treat_case_c's model on case c and requires the target and a healthy start."""
treat_case_c()  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("treat_case_c", treat_case_c)
### END HIDDEN TESTS

# %% [markdown]
# ## Case d: a deep plain net with tiny initial weights
#
# Twenty ReLU layers whose weights start N(0, 0.01²).

# %%
monitor_d = examine("d")

# %% [markdown]
# Read the two norms printed above: each layer multiplies the signal by roughly
# 0.01·√64·√½ (far below 1) on the way up and the gradient by as much on the way down, so after twenty
# layers both underflow, in float32, to exactly zero — `diagnose` calls a zero first norm
# "vanishing". ReLU is not the problem here (it passes a slope of 1); the scale is. Lesson 04's
# medicine, or lesson 06's.
#
# ### Exercise: `treat_case_d()`
# Input (64,), 10 classes, at least 20 hidden layers of 64 units.

# %% nbgrader={"grade": false, "grade_id": "treat_case_d", "locked": false, "schema_version": 3, "solution": true, "task": false}
def treat_case_d():
    """Case d, treated: a compiled Keras model that keeps the task and trains."""
    ### BEGIN SOLUTION
    keras.utils.set_random_seed(0)
    layers = [keras.Input((64,))]
    layers += [keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal") for _ in range(20)]
    model = keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-3), loss="sparse_categorical_crossentropy")
    return model
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_treat_case_d", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: treat_case_d is compiled, keeps case d's task, and starts with a healthy gradient (the clinic's terms)."""


# %% nbgrader={"grade": true, "grade_id": "hidden_treat_case_d", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: the grader trains treat_case_d's model on case d and requires the target and a healthy start."""
treat_case_d()  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("treat_case_d", treat_case_d)
### END HIDDEN TESTS

# %% [markdown]
# ## Summary
# - Examine before you treat: the verdict at step 0 separates a gradient that cannot reach the
#   input (cases a and d) from one that is fine at the start and goes wrong later (case b: the
#   step size) or that the per-kernel norms cannot see at all (case c: vanishing through time).
# - A treatment keeps the task: the same data, inputs, classes and depth. Fewer layers, another
#   input or a sentence read backwards make the problem easier instead of healing the network.
# - The monitor's rule is a necessary condition, not a sufficient one; training to a stated
#   target is the final check.
#
# **Next:** lesson 12 explains *why* some initialisations sit at the edge between vanishing and
# exploding, with mean-field theory.
