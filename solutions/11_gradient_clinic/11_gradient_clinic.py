# %% [markdown]
# # 11 · The gradient clinic: four patients, your diagnoses, your prescriptions
#
# Ten lessons gave you the causes of sick gradients (saturating slopes, weights of the wrong
# scale, depth, time steps, a step size that is too large) and a shelf of cures. This capstone
# puts them to work the way you will meet them in practice: a training run that does not learn,
# and no one telling you why.
#
# Four sick training set-ups arrive. For each one you
#
# 1. **read the patient's file**: every layer, initialiser, optimizer setting and data shape is
#    printed, nothing is hidden;
# 2. **examine** it: the clinic measures its gradients at step 0 and trains it once with the
#    gradient-health monitor attached, and prints the evidence (not a verdict);
# 3. **commit a diagnosis**: `diagnosis_case_a()` … `diagnosis_case_d()` return an illness and its
#    cause (graded: the self-check tells you whether the illness is right; the cause is graded when
#    you submit);
# 4. **prescribe** a treatment: `treat_case_a()` … `treat_case_d()` return a *compiled* Keras model,
#    and a **trial run** trains it the way the grader will.
#
# **How a treatment is graded.** The grader rebuilds your model from its configuration and
# initial weights, then checks three things, in this order:
#
# 1. **It is the same task.** Same input shape and classes, at least as many hidden layers of the
#    case's width as the sick net has (or, for the recurrent case, a recurrent layer reading the
#    whole sentence forwards). Removing layers is not a treatment: it shortens the path the
#    gradient must travel instead of healing it.
# 2. **It starts healthy.** At step 0 (first 256 training examples, training mode) lesson 02's
#    `diagnose` must say "healthy" about the per-kernel gradient norms, and the norms must not all
#    be below the monitor's "tiny" line (a ratio cannot see a gradient that is tiny everywhere).
# 3. **It learns.** Trained on the case's data for the case's epochs, batch size and the seed the grader fixes (seed=0), it
#    reaches the case's validation accuracy.
#
# Your optimizer, learning rate, clipping, activations, initialisers and extra layers
# (normalisation, residual adds, gates) are yours to choose.

# %%
import gradclinic

rng = gradclinic.setup(seed_value=0)  # first: quiets TensorFlow before anything imports it

import keras
import numpy as np

from gradclinic import clinic
from gradclinic.diagnostics import TINY_GRADIENT

# %% [markdown]
# ## The examination
#
# `clinic.examine(name)` measures the patient twice:
#
# - **at step 0**: ‖∂loss/∂W‖ for every kernel, input side first, on the first 256 training
#   examples in training mode (what the first update uses). The norms are summed in float64: a
#   float32 sum of squares turns entries below about 10⁻¹⁹ into zeros.
# - **during training**: a training run with `gradclinic.diagnostics.GradientHealthMonitor`
#   attached (the case's optimizer, batch size and seed; a few epochs, or all of them where the
#   illness needs them to show). Every 20 steps it measures the same norms on a probe batch (in inference mode; for
#   these nets without dropout or normalisation that is the same gradient), the saturation of
#   sigmoid/tanh layers, the share of dead ReLU units, and raises an alarm at the first NaN or inf.
#   It also flags a gradient that is **tiny everywhere**: every norm below `TINY_GRADIENT`, where
#   a step of any sensible learning rate moves a weight by less than float32 can represent.
#
# It prints evidence, not a verdict. Lesson 02's rule is yours to apply: exploding when a norm is
# non-finite or above 10², or the first layer's norm exceeds the last's more than 10³-fold;
# vanishing when it is more than 10³-fold smaller; healthy otherwise. If you finished lesson 02,
# copy your `diagnose` into a cell here and pass it along, `clinic.examine("a", diagnose=diagnose)`,
# to see its verdicts next to the numbers. Remember what a ratio cannot see.
#
# A diagnosis is a pair `(illness, cause)` from these lists:

# %%
print(f"ILLNESSES = {clinic.ILLNESSES}\nCAUSES = {clinic.CAUSES}\nTINY_GRADIENT = {TINY_GRADIENT:g}")

# %% [markdown]
# ## Case a
#
# The patient's file:

# %% tags=["expected-output"]
print(clinic.describe_patient("a"))

# %% [markdown]
# The examination (five of the case's epochs are enough to see whether the loss moves; each case
# prints how many it trained):

# %% tags=["expected-output"]
findings_a = clinic.examine("a", epochs=5)
print(findings_a)

# %% [markdown]
# The monitor's figure of the same run: gradient norms per layer over training (log axis), the
# update ratio, saturation, the probe loss and the latest histograms.

# %%
findings_a.monitor.report()

# %% [markdown]
# ### Exercise: `diagnosis_case_a()`
# Read the step-0 norms: how many orders of magnitude separate the first kernel from the last,
# and in which direction? Did training move the loss, and the accuracy away from chance?

# %% nbgrader={"grade": false, "grade_id": "diagnosis_case_a", "locked": false, "schema_version": 3, "solution": true, "task": false}
def diagnosis_case_a():
    """Case a: (illness, cause), one from ILLNESSES and one from CAUSES."""
    ### BEGIN SOLUTION
    return "vanishing", "activation"
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_diagnosis_case_a", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: diagnosis_case_a is well formed and names the clinic's illness (the cause is graded on submission)."""


# %% nbgrader={"grade": true, "grade_id": "hidden_diagnosis_case_a", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: the grader judges the illness and the cause of diagnosis_case_a."""
diagnosis_case_a()  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("diagnosis_case_a", diagnosis_case_a)
### END HIDDEN TESTS

# %% [markdown]
# **What the examination shows.** The first kernel's gradient is a tiny fraction of the last
# one's (the ratio printed above), and training leaves the accuracy near chance. Each sigmoid
# layer multiplies the backward signal by its slope, at most ¼ (lesson 02), and by its weights;
# Keras's default Glorot weights are sized for a slope of 1, so nothing makes up for the ¼, and ten
# layers compound it.
#
# Why Keras's default weights and not N(0, 1), the classic way to draw this patient? The same net
# with N(0, 1) weights, at step 0:

# %% tags=["expected-output"]
keras.utils.set_random_seed(0)
normal_sigmoid = keras.Sequential(
    [keras.Input((64,))] + [keras.layers.Dense(64, activation="sigmoid", kernel_initializer=keras.initializers.RandomNormal(stddev=1.0))
                            for _ in range(10)] + [keras.layers.Dense(10, activation="softmax")])
normal_sigmoid.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
print(clinic.examine("a", model=normal_sigmoid, train=False))

# %% [markdown]
# Its first/last ratio (printed above) lies inside lesson 02's thresholds: the large weights (each
# unit sums 64 terms of size ~1) offset the small slopes while they drive the units into
# saturation. That patient is sick in a way the ratio rule does not see (the monitor's saturation
# panel does); for a case the rule can read, the clinic's patient a uses Glorot's weights.
#
# ### Exercise: `treat_case_a()`
# Return a compiled model for case a: input (64,), 10 classes, at least 10 hidden layers of 64
# units. Treat the cause you named.

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


# %% [markdown]
# **Trial run.** Train your treatment as the grader will: seed=0 is the grader's run exactly
# (your initial weights, its order of batches); seeds 1 and 2 draw fresh initial weights and a new
# order, to show whether your treatment clears the target by a margin or by luck (the grader
# trains once; a treatment that misses at another seed passes by luck, so make it sturdier).

# %%
trial_a = clinic.trial_run(treat_case_a, "a")

# %% nbgrader={"grade": true, "grade_id": "hidden_treat_case_a", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: the grader trains treat_case_a's model on case a and requires the target and a healthy start."""
treat_case_a()  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("treat_case_a", treat_case_a)
### END HIDDEN TESTS


# %% [markdown]
# ## Case b
#
# The patient's file:

# %% tags=["expected-output"]
print(clinic.describe_patient("b"))

# %% tags=["expected-output"]
findings_b = clinic.examine("b", epochs=5)
print(findings_b)

# %% [markdown]
# ### Exercise: `diagnosis_case_b()`
# What does the step-0 profile say, and what happened a few steps later? An accuracy of `nan`
# means the network's outputs are NaN.

# %% nbgrader={"grade": false, "grade_id": "diagnosis_case_b", "locked": false, "schema_version": 3, "solution": true, "task": false}
def diagnosis_case_b():
    """Case b: (illness, cause), one from ILLNESSES and one from CAUSES."""
    ### BEGIN SOLUTION
    return "exploding", "learning rate"
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_diagnosis_case_b", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: diagnosis_case_b is well formed and names the clinic's illness (the cause is graded on submission)."""


# %% nbgrader={"grade": true, "grade_id": "hidden_diagnosis_case_b", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: the grader judges the illness and the cause of diagnosis_case_b."""
diagnosis_case_b()  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("diagnosis_case_b", diagnosis_case_b)
### END HIDDEN TESTS

# %% [markdown]
# **What the examination shows.** At step 0 the profile is flat (ratio printed above), yet the
# training loss turns to NaN within the first epoch (the step of the first alarm is printed). The
# gradient's *profile* is not the problem; the **update** is. A linear net's loss surface steepens
# as its weights grow, so a step that is too large grows them further: the factor > 1 of lesson 01
# now sits in the training loop, not in the layers.
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


# %% [markdown]
# **Trial run.** Train your treatment as the grader will: seed=0 is the grader's run exactly
# (your initial weights, its order of batches); seeds 1 and 2 draw fresh initial weights and a new
# order, to show whether your treatment clears the target by a margin or by luck (the grader
# trains once; a treatment that misses at another seed passes by luck, so make it sturdier).

# %%
trial_b = clinic.trial_run(treat_case_b, "b")

# %% nbgrader={"grade": true, "grade_id": "hidden_treat_case_b", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: the grader trains treat_case_b's model on case b and requires the target and a healthy start."""
treat_case_b()  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("treat_case_b", treat_case_b)
### END HIDDEN TESTS


# %% [markdown]
# ## Case c
#
# Lesson 05's agreement task: read "those cats … (a long gap of filler words)" and say whether the
# ending is "they were" or "it was". The patient's file:

# %% tags=["expected-output"]
print(clinic.describe_patient("c"))

# %%
# No expected output under this cell: where twelve epochs of a recurrent net end depends on your
# machine's floating-point library (the trained figures move by tens of per cent between machines).
if not gradclinic.grading():  # evidence for your eyes: the grader skips it
    findings_c = clinic.examine("c")
    print(findings_c)

# %% [markdown]
# ### Exercise: `diagnosis_case_c()`
# The step-0 norms and the verdict a ratio would give are one piece of evidence; the validation
# accuracy (chance is ½) is another. Which one tells the truth here, and why can the other not see it?

# %% nbgrader={"grade": false, "grade_id": "diagnosis_case_c", "locked": false, "schema_version": 3, "solution": true, "task": false}
def diagnosis_case_c():
    """Case c: (illness, cause), one from ILLNESSES and one from CAUSES."""
    ### BEGIN SOLUTION
    return "vanishing", "time steps"
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_diagnosis_case_c", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: diagnosis_case_c is well formed and names the clinic's illness (the cause is graded on submission)."""


# %% nbgrader={"grade": true, "grade_id": "hidden_diagnosis_case_c", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: the grader judges the illness and the cause of diagnosis_case_c."""
diagnosis_case_c()  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("diagnosis_case_c", diagnosis_case_c)
### END HIDDEN TESTS

# %% [markdown]
# **What the examination shows.** The kernel norms pass lesson 02's rule, and yet the validation
# accuracy stays near chance. The kernel norms cannot see this illness: the input kernel W_x gets
# gradient from every time step, the last ones included, so its norm stays large even though the
# part of it that comes from the subject, many steps back, has vanished (lesson 05 measured that
# per time step). A passing ratio is necessary, not sufficient; the accuracy is the final word.
#
# ### Exercise: `treat_case_c()`
# Word ids of shape (26,) in (vocabulary as printed in the file), one probability (or two class
# probabilities) out, a recurrent layer of at least 16 units reading the sentence forwards.

# %% nbgrader={"grade": false, "grade_id": "treat_case_c", "locked": false, "schema_version": 3, "solution": true, "task": false}
def treat_case_c():
    """Case c, treated: a compiled Keras model that keeps the task and trains."""
    ### BEGIN SOLUTION
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((26,), dtype="int32"),
        keras.layers.Embedding(49, 8, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0)),
        keras.layers.LSTM(16),
        keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01, clipnorm=1.0), loss="binary_crossentropy")
    return model
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_treat_case_c", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: treat_case_c is compiled, keeps case c's task, and starts with a healthy gradient (the clinic's terms)."""


# %% [markdown]
# **Trial run.** Train your treatment as the grader will: seed=0 is the grader's run exactly
# (your initial weights, its order of batches); seeds 1 and 2 draw fresh initial weights and a new
# order, to show whether your treatment clears the target by a margin or by luck (the grader
# trains once; a treatment that misses at another seed passes by luck, so make it sturdier).

# %%
trial_c = clinic.trial_run(treat_case_c, "c")

# %% nbgrader={"grade": true, "grade_id": "hidden_treat_case_c", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: the grader trains treat_case_c's model on case c and requires the target and a healthy start."""
treat_case_c()  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("treat_case_c", treat_case_c)
### END HIDDEN TESTS


# %% [markdown]
# ## Case d
#
# The patient's file:

# %% tags=["expected-output"]
print(clinic.describe_patient("d"))

# %% tags=["expected-output"]
findings_d = clinic.examine("d", epochs=5)
print(findings_d)

# %% [markdown]
# ### Exercise: `diagnosis_case_d()`
# Apply lesson 02's rule to the step-0 norms, then look at their size and at the tiny-everywhere
# flag. Did training change anything?

# %% nbgrader={"grade": false, "grade_id": "diagnosis_case_d", "locked": false, "schema_version": 3, "solution": true, "task": false}
def diagnosis_case_d():
    """Case d: (illness, cause), one from ILLNESSES and one from CAUSES."""
    ### BEGIN SOLUTION
    return "vanishing", "initialization"
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_diagnosis_case_d", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: diagnosis_case_d is well formed and names the clinic's illness (the cause is graded on submission)."""


# %% nbgrader={"grade": true, "grade_id": "hidden_diagnosis_case_d", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: the grader judges the illness and the cause of diagnosis_case_d."""
diagnosis_case_d()  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("diagnosis_case_d", diagnosis_case_d)
### END HIDDEN TESTS

# %% [markdown]
# **What the examination shows.** Every kernel's gradient is of order 10⁻²⁶, and the profile is
# nearly flat: the first/last ratio printed above sits well inside lesson 02's thresholds, so the
# ratio rule calls this net healthy. It is not: the gradient has vanished *everywhere at once*, and
# the loss does not move. Two measurements show why the profile is flat.

# %% tags=["expected-output"]
sick_d = clinic.sick_model("d")
scales = clinic.activation_scales(sick_d, "d")
per_layer = (scales[-1] / scales[0]) ** (1 / (len(scales) - 1))
print(f"forward signal (RMS of each hidden layer's output): layer 1 {scales[0]:.2g}, layer {len(scales)} "
      f"{scales[-1]:.2g}; a factor {per_layer:.3f} per layer (0.01·√64·√½ = {0.01 * np.sqrt(64) * np.sqrt(0.5):.3f})")
gradients = clinic.start_gradients(sick_d, "d")
first = gradients[0]
print(f"first kernel's gradient: largest entry {np.abs(first).max():.2g}; its norm summed in float32 "
      f"{float(np.sqrt(np.sum(first * first, dtype=np.float32))):.3g}, in float64 "
      f"{np.linalg.norm(first.astype(np.float64)):.3g}")

# %% [markdown]
# Each layer multiplies the signal on the way up by about 0.01·√64·√½ (weights of scale 0.01 over
# 64 inputs, half of them passed by ReLU), printed above, so after twenty layers the output barely
# depends on the input. On the way down, ∂loss/∂a shrinks by the same factor per layer. A kernel's
# gradient is the product of the two, the layer's input times the gradient arriving at its output,
# so one factor shrinks toward the output as fast as the other shrinks toward the input, and every
# kernel ends up equally tiny. That is the blind spot of a ratio of kernel-gradient norms: a
# forward signal that shrinks at the same rate as the backward one hides the vanishing. (In
# float32, the squares of entries this small flush to zero, so a float32 norm reads 0, as printed
# above; read that way, the case looks like a gradient that never reaches the first layer, a
# profile it does not have.) ReLU
# is not the problem here: it passes a slope of 1 where it is active; the weights' scale is.
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


# %% [markdown]
# **Trial run.** Train your treatment as the grader will: seed=0 is the grader's run exactly
# (your initial weights, its order of batches); seeds 1 and 2 draw fresh initial weights and a new
# order, to show whether your treatment clears the target by a margin or by luck (the grader
# trains once; a treatment that misses at another seed passes by luck, so make it sturdier).

# %%
trial_d = clinic.trial_run(treat_case_d, "d")

# %% nbgrader={"grade": true, "grade_id": "hidden_treat_case_d", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: the grader trains treat_case_d's model on case d and requires the target and a healthy start."""
treat_case_d()  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("treat_case_d", treat_case_d)
### END HIDDEN TESTS


# %% [markdown]
# ## Summary
# - Examine before you treat, and read numbers, not only verdicts: the step-0 profile separates a
#   gradient that cannot reach the input (case a) from one that is fine at the start and goes wrong
#   in training (case b: the step size), one the per-kernel norms cannot see at all (case c:
#   vanishing through time) and one that has vanished everywhere at once (case d), which a ratio
#   cannot see either.
# - A treatment keeps the task: the same data, inputs, classes and depth. Fewer layers, another
#   input or a sentence read backwards make the problem easier instead of healing the network.
# - A healthy start is a necessary condition, not a sufficient one; training to a stated target,
#   over more than one seed, is the final check.
#
# **Next:** lesson 12 explains *why* some initialisations sit at the edge between vanishing and
# exploding, with mean-field theory.
