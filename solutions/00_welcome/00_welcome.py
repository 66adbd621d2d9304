# %% [markdown]
# # 00 · Welcome to the Gradient Clinic
#
# Deep networks learn by gradient descent: every weight moves a small step against the
# gradient of the loss. When those gradients shrink to nothing on their way back to the
# first layers (**vanishing**) or blow up to huge numbers (**exploding**), training stalls or
# diverges. This course shows you *why* that happens, lets you *see* it with sliders, and has
# you *fix* it with the tools practitioners use: gated RNNs, residual connections, ReLU,
# careful initialization, gradient clipping, L2, Batch Normalization and self-normalizing nets.
#
# ## How a lesson works
# 1. **Read and run** the cells from top to bottom (Shift+Enter). Nothing needs a GPU or the
#    internet.
# 2. **Implement** each exercise in the cell that says `# YOUR CODE HERE` (delete the
#    `raise NotImplementedError()` line).
# 3. **Self-check**: the cell after an exercise tests a few cases. A failure tells you what was
#    expected, what came back and what to look at.
# 4. **Validate**: the *Validate* button in the notebook's toolbar runs the whole notebook
#    as the grader will and reports any failing check.
# 5. **Submit** from the *Assignments* tab. The grader then runs hidden tests: it compares your
#    function with the instructor's on many more inputs, including edge cases and the
#    mistakes people often make, and your feedback says which ones you missed.
#
# Every number in the text below is computed by the cell beside it, so you can change the
# code and watch the numbers move.

# %%
import numpy as np

import gradclinic

rng = gradclinic.setup(seed_value=0)  # seeds Python, NumPy, Keras and TensorFlow; quiets TensorFlow

# %% [markdown]
# ## What a gradient is
#
# Take a model with one weight `w` that predicts `w · x`, and the squared error
# `loss(w) = (w·x − y)²` on one example. The gradient `d loss / d w` says how fast the loss
# changes when `w` moves, and in which direction. Calculus gives `2·(w·x − y)·x`; we can also
# measure it directly by nudging `w` a little — the two must agree.

# %% tags=["expected-output"]
x, y, w = 2.0, 3.0, 0.5


def loss(weight):
    return (weight * x - y) ** 2


analytic = 2 * (w * x - y) * x
nudge = 1e-6
measured = (loss(w + nudge) - loss(w - nudge)) / (2 * nudge)
print(f"loss({w}) = {loss(w):.4f}")
print(f"calculus says d loss/dw = {analytic:.6f}; nudging w by ±{nudge:g} measures {measured:.6f}")

step = 0.05
print(f"one gradient-descent step of size {step}: w → {w - step * analytic:.3f}, "
      f"loss {loss(w):.4f} → {loss(w - step * analytic):.4f}")

# %% [markdown]
# The gradient is negative, so increasing `w` lowers the loss, and one small step against the
# gradient did just that.
#
# ## Why depth multiplies
#
# In a deep network the input passes through layer after layer, and by the chain rule the
# gradient that reaches the first layer is a **product** of one factor per layer. If each layer
# scales a signal by the same factor, a net of depth *L* scales it by that factor to the power
# *L*. A factor a little above 1 compounds into a huge number; a factor a little below 1 into
# almost nothing. That single fact is the heart of this course.
#
# ### Exercise: `compound(scale, depth)`
# Return `scale` multiplied by itself `depth` times, as a Python `float` (a net of depth 0
# leaves the signal unchanged, so `compound(s, 0)` is `1.0`). `depth` counts layers, so it
# must be a whole number ≥ 0: for anything else raise `ValueError` with a message saying so —
# every graded function in this course refuses bad input that way.

# %% nbgrader={"grade": false, "grade_id": "compound", "locked": false, "schema_version": 3, "solution": true, "task": false}
def compound(scale, depth):
    """Return scale ** depth as a float; depth must be a whole number ≥ 0 (else ValueError)."""
    ### BEGIN SOLUTION
    if isinstance(depth, bool) or int(depth) != depth or depth < 0:
        raise ValueError(f"depth must be a whole number of layers ≥ 0, got {depth!r}")
    return float(scale) ** int(depth)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_compound", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
"""Self-check: compound on values you can verify by hand, its type, and bad depths."""

# %% nbgrader={"grade": true, "grade_id": "hidden_compound", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
"""Hidden tests: compound against the reference on random scales and depths and on bad input."""
compound(1.2, 3)  # it must run; the grader adds its hidden comparisons below
### BEGIN HIDDEN TESTS
from autograder import check

check("compound", compound)
### END HIDDEN TESTS

# %% [markdown]
# ## See it compound
#
# Your function, used on the two factors the next lesson studies: 1.2 (each layer makes the
# signal 20 % bigger) and 0.5 (each layer halves it).

# %% tags=["expected-output"]
for depth in (10, 50, 100):
    print(f"depth {depth:3d}:  1.2^L = {compound(1.2, depth):12.4g}   0.5^L = {compound(0.5, depth):.4g}")
print(f"\nA 20 % gain per layer becomes a factor of {compound(1.2, 50):,.0f} after 50 layers; "
      f"halving per layer leaves {compound(0.5, 50):.1e} of the signal,\n"
      f"far below float32's resolution of {np.finfo(np.float32).eps:.1e} relative to a weight of size 1.")

# %% [markdown]
# At depth 50 a factor of 1.2 per layer already multiplies the signal by thousands, and a factor
# of 0.5 shrinks it below float32's resolution (the last number printed): an update that small
# cannot change a weight of ordinary size at all. Real layers are not single numbers but matrices, and the next lesson shows that the
# same law governs them: **01 · The problem**.
#
# When you are done, click **Validate**, then submit this notebook from the *Assignments* tab.
