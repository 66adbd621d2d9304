"""Lesson 05, gated RNNs: ``gru_step`` and ``timestep_gradient_norms``."""

import numpy as np

from autograder.exercise import Case, CheckFailed, Exercise, KerasModelArg, allclose, as_float_array, fail, short
from autograder.registry import register
from autograder.solution import Mutant


# -- gru_step ------------------------------------------------------------------------------
# Known mistakes, as edits of the solution cell. The catalogue's mistake (tests/mistakes.py: the
# blocks split r, z, h̃) comes first; it computes the same as swapping the gates.
SPLIT_INPUT = "x_z, x_r, x_h = np.split(x_t @ kernel + bias[0], 3, axis=1)"
SPLIT_RECURRENT = "h_z, h_r, h_h = np.split(h_prev @ recurrent_kernel + bias[1], 3, axis=1)"
UPDATE = "update = 1 / (1 + np.exp(-(x_z + h_z)))"
RESET = "reset = 1 / (1 + np.exp(-(x_r + h_r)))"
GRU_MISTAKES = (
    Mutant("the update and reset gates are swapped: Keras's column blocks are z (update) first, then r (reset), "
           "then the candidate h̃.",
           {SPLIT_INPUT: SPLIT_INPUT.replace("x_z, x_r", "x_r, x_z"),
            SPLIT_RECURRENT: SPLIT_RECURRENT.replace("h_z, h_r", "h_r, h_z")}),
    Mutant("this is the reset_after=False GRU, r·h_prev multiplied by the candidate's recurrent weights. Keras's "
           "default (reset_after=True) multiplies first and resets after: h̃ = tanh(x·W_h + b_in,h + r ⊙ "
           "(h_prev·U_h + b_rec,h)).",
           {"candidate = np.tanh(x_h + reset * h_h)":
            "candidate = np.tanh(x_h + (reset * h_prev) @ recurrent_kernel[:, 2 * units:] + bias[1][2 * units:])"}),
    Mutant("the mix is flipped: Keras keeps the old state where z is near 1, h_t = z ⊙ h_prev + (1 − z) ⊙ h̃ "
           "(some texts write it the other way round; Keras does not).",
           {"return update * h_prev + (1 - update) * candidate": "return update * candidate + (1 - update) * h_prev"}),
    Mutant("only bias[0] (the input bias) is used: with reset_after=True Keras also adds bias[1] to h_prev @ "
           "recurrent_kernel, before the reset gate multiplies the candidate's block.",
           {SPLIT_RECURRENT: SPLIT_RECURRENT.replace(" + bias[1]", "")}),
    Mutant("only bias[1] (the recurrent bias) is used: bias[0] belongs to x_t @ kernel.",
           {SPLIT_INPUT: SPLIT_INPUT.replace(" + bias[0]", "")}),
    Mutant("both bias rows are added on the input side (or the candidate's recurrent bias sits outside the reset "
           "gate, which is the same thing): bias[1] belongs to the recurrent side, r ⊙ (h_prev·U_h + b_rec,h), "
           "bias inside the reset.",
           {SPLIT_INPUT: SPLIT_INPUT.replace(" + bias[0]", " + bias[0] + bias[1]"),
            SPLIT_RECURRENT: SPLIT_RECURRENT.replace(" + bias[1]", "")}),
    Mutant("the bias rows are swapped: bias[0] goes with x_t @ kernel and bias[1] with h_prev @ recurrent_kernel, "
           "where the reset gate multiplies its candidate block.",
           {SPLIT_INPUT: SPLIT_INPUT.replace("bias[0]", "bias[1]"),
            SPLIT_RECURRENT: SPLIT_RECURRENT.replace("bias[1]", "bias[0]")}),
    Mutant("the gates use hard_sigmoid (Keras 2.0–2.2's default); Keras 3's GRU uses the sigmoid 1 / (1 + e^−z).",
           {UPDATE: "update = np.clip((x_z + h_z) / 6.0 + 0.5, 0.0, 1.0)",  # Keras 3's hard_sigmoid
            RESET: "reset = np.clip((x_r + h_r) / 6.0 + 0.5, 0.0, 1.0)"}),
)


def gru_weights(input_dim, units, rng, bias_scale=0.5):
    """Random GRU weights in Keras's layout: (kernel, recurrent_kernel, bias), float32, with
    non-zero biases so that every bias mistake shows."""
    kernel = rng.normal(scale=0.8, size=(input_dim, 3 * units))
    recurrent_kernel = rng.normal(scale=0.8, size=(units, 3 * units))
    bias = rng.normal(scale=bias_scale, size=(2, 3 * units))
    return tuple(w.astype("float32") for w in (kernel, recurrent_kernel, bias))


def _gru_case(label, batch, input_dim, units, rng):
    x_t = rng.normal(size=(batch, input_dim)).astype("float32")
    h_prev = rng.uniform(-1, 1, size=(batch, units)).astype("float32")
    return Case(label, (x_t, h_prev) + gru_weights(input_dim, units, rng))


# -- cases that isolate one quantity of the step ---------------------------------------------
# Each sets some weight blocks to zero or saturates a gate (a bias of ±30: σ = 1 − 1e-13 or
# 1e-13), so that h_t shows one intermediate quantity alone; ordered as the step computes them.
ISOLATING = "isolating"
SATURATE = 30.0


def isolating_cases(rng, batch=4, input_dim=3, units=3):
    """[(quantity, Case)]: cases whose h_t depends, given the quantities before it, on one
    quantity only — z, r, the candidate h̃ (with r saturated at 1, then at 0) and the blend."""
    z, r, h = slice(0, units), slice(units, 2 * units), slice(2 * units, 3 * units)

    def case(what, quantity, edit):
        x_t = rng.normal(size=(batch, input_dim)).astype("float32")
        h_prev = rng.uniform(-1, 1, size=(batch, units)).astype("float32")
        kernel, recurrent_kernel, bias = (w.copy() for w in gru_weights(input_dim, units, rng))
        edit(kernel, recurrent_kernel, bias)
        return quantity, Case(f"{ISOLATING} {quantity}: {what}", (x_t, h_prev, kernel, recurrent_kernel, bias),
                              locates=True)

    def no_candidate(kernel, recurrent_kernel, bias):  # h̃ = tanh(0) = 0, so h_t = z ⊙ h_prev
        kernel[:, h], recurrent_kernel[:, h], bias[:, h] = 0, 0, 0

    def candidate_shows_r(kernel, recurrent_kernel, bias):  # z ≈ 0 and h̃ = tanh(r ⊙ 1), so h_t = tanh(r)
        kernel[:, z], recurrent_kernel[:, z], bias[:, z] = 0, 0, 0
        bias[0, z] = -SATURATE
        kernel[:, h], recurrent_kernel[:, h], bias[0, h], bias[1, h] = 0, 0, 0, 1

    def reset_open(kernel, recurrent_kernel, bias):  # z ≈ 0, r ≈ 1: h_t = tanh(x·W_h + b_in,h + h_prev·U_h + b_rec,h)
        kernel[:, z], recurrent_kernel[:, z], bias[:, z] = 0, 0, 0
        kernel[:, r], recurrent_kernel[:, r], bias[:, r] = 0, 0, 0
        bias[0, z], bias[0, r] = -SATURATE, SATURATE

    def reset_shut(kernel, recurrent_kernel, bias):  # z ≈ 0, r ≈ 0: h_t = tanh(x·W_h + b_in,h)
        reset_open(kernel, recurrent_kernel, bias)
        bias[0, r] = -SATURATE

    def known_gate(kernel, recurrent_kernel, bias):  # z = σ(bias[0, z]) alone, r ≈ 1: the blend of h_prev and h̃
        reset_open(kernel, recurrent_kernel, bias)
        bias[0, z] = np.linspace(-1.5, 1.5, units)

    return [
        case("the candidate's weights and biases zero, so h̃ = 0 and h_t = z ⊙ h_prev", "z", no_candidate),
        case("z shut (≈ 0), the candidate's weights zero and its recurrent bias 1, so h_t = h̃ = tanh(r)", "r",
             candidate_shows_r),
        case("z shut (≈ 0) and r open (≈ 1), so h_t = h̃ = tanh(x_t·W_h + b_in,h + h_prev·U_h + b_rec,h)",
             "h̃ (r = 1)", reset_open),
        case("z shut (≈ 0) and r shut (≈ 0), so h_t = h̃ = tanh(x_t·W_h + b_in,h)", "h̃ (r = 0)", reset_shut),
        case("z = σ(bias[0, z-block]) known, r open (≈ 1), so h_t = z ⊙ h_prev + (1 − z) ⊙ h̃", "blend",
             known_gate),
    ]


WHERE_IT_DIFFERS = {
    "z": "the update gate z = σ(x_t·W_z + b_in,z + h_prev·U_z + b_rec,z), from the FIRST block of columns of "
         "kernel, recurrent_kernel and both bias rows (here h̃ = 0, so h_t = z ⊙ h_prev shows z alone).",
    "r": "the reset gate r = σ(x_t·W_r + b_in,r + h_prev·U_r + b_rec,r), from the SECOND block of columns "
         "(here z ≈ 0 and the candidate's recurrent block is the constant 1, so h_t = tanh(r) shows r alone).",
    "h̃ (r = 1)": "the candidate h̃ = tanh(x_t·W_h + b_in,h + r ⊙ (h_prev·U_h + b_rec,h)), from the THIRD block "
                 "of columns (here z ≈ 0 and r ≈ 1, so h_t = tanh(x_t·W_h + b_in,h + h_prev·U_h + b_rec,h)).",
    "h̃ (r = 0)": "the candidate h̃: r must multiply only its recurrent part h_prev·U_h + b_rec,h (here z ≈ 0 "
                 "and r ≈ 0, so h_t = tanh(x_t·W_h + b_in,h): the input part stays).",
    "blend": "the final blend h_t = z ⊙ h_prev + (1 − z) ⊙ h̃ (here z is known from its bias alone and "
             "r ≈ 1; z, r and h̃ passed the cases that isolate them).",
}


@register
class GruStep(Exercise):
    name = "gru_step"
    TOLERANCE = {"rtol": 1e-5, "atol": 1e-5}  # the judge's
    mistakes = GRU_MISTAKES

    def basic_cases(self):
        # batch 4, input_dim 3, units 5: kernel (3, 15), recurrent_kernel (5, 15), non-zero biases (2, 15)
        state = "np.random.default_rng(51).normal(size=(4, 3)), np.random.default_rng(52).uniform(-1, 1, size=(4, 5))"
        kernels = ("np.random.default_rng(53).normal(scale=0.8, size=(3, 15)), "
                   "np.random.default_rng(54).normal(scale=0.8, size=(5, 15))")
        bias = "np.random.default_rng(55).normal(scale=0.5, size={})"
        tolerance = {"rtol": 1e-5, "atol": 1e-5}
        return [
            Case("every weight and bias zero", args_code="np.zeros((2, 3)), np.array([[0.4, -0.8], [1.0, 0.2]]), "
                 "np.zeros((3, 6)), np.zeros((2, 6)), np.zeros((2, 6))", **tolerance,
                 hint="with zero weights z = r = σ(0) = ½ and h̃ = tanh(0) = 0, so h_t = ½·h_prev."),
            Case("batch 4, input_dim 3, units 5, random weights and biases",
                 args_code=f"{state}, {kernels}, {bias.format('(2, 15)')}", **tolerance,
                 hint="as keras.layers.GRUCell(5) computes it: blocks z, r, h̃ in that order; bias[0] with "
                      "x_t·kernel, bias[1] with h_prev·recurrent_kernel, inside the reset (Keras resets after "
                      "the product: r ⊙ (h_prev·U_h + b_rec,h)); h_t = z ⊙ h_prev + (1 − z) ⊙ h̃; gates use "
                      "the sigmoid."),
            Case("a bias of shape (15,)", args_code=f"{state}, {kernels}, {bias.format('15')}", raises="ValueError",
                 hint="reset_after=True keeps two bias rows: bias must have shape (2, 3·units)."),
        ]

    def hidden_cases(self):
        rng = np.random.default_rng(1005)
        cases = [_gru_case(f"random: batch {b}, input_dim {d}, units {u}", b, d, u, rng)
                 for b, d, u in [(1, 4, 3), (3, 1, 1), (1, 1, 1), (8, 6, 7), (2, 5, 16), (5, 2, 2)]]
        x_t, h_prev, kernel, recurrent_kernel, bias = _gru_case("", 3, 2, 4, rng).args
        cases += [case for _, case in isolating_cases(np.random.default_rng(1015))]
        cases += [
            Case("a bias of shape (3·units,), the reset_after=False layout",
                 (x_t, h_prev, kernel, recurrent_kernel, bias[0]), raises="ValueError"),
            Case("a kernel with 2·units columns", (x_t, h_prev, kernel[:, :8], recurrent_kernel, bias),
                 raises="ValueError"),
            Case("h_prev with another batch size than x_t", (x_t, h_prev[:1], kernel, recurrent_kernel, bias),
                 raises="ValueError"),
        ]
        return cases

    def judge(self, case, got, expected):
        array = as_float_array(got)
        if array is None:
            raise CheckFailed(f"{self.name}({case.label}) returned {type(got).__name__}; return the new "
                              "state h_t as a NumPy array of shape (batch, units).")
        if array.shape != expected.shape:
            fail(self.name, case, expected, got, f"h_t has one row per example and one column per unit: "
                 f"shape {expected.shape} here.")
        if allclose(array, expected, **self.TOLERANCE):
            return
        if case.locates:  # it says where the answer first goes wrong (named_mistake names nothing here)
            quantity = case.label[len(ISOLATING) + 1:].partition(":")[0]
            raise CheckFailed(f"{self.name}({case.label}): expected {short(expected)}, got {short(got)}.\n"
                              f"  Where it first goes wrong: the first quantity that differs is "
                              f"{WHERE_IT_DIFFERS[quantity]}")
        fail(self.name, case, expected, got)  # Exercise.named_mistake names a known mistake

    def verdicts(self, cases, answers, answer_store, part="hidden"):
        """As :meth:`Exercise.verdicts`; then, unless a known mistake was named, the first failing
        isolating case leads: it says which quantity of the step (z, r, h̃, blend) first differs."""
        failures = super().verdicts(cases, answers, answer_store, part=part)
        isolating = [m for m in failures if m.startswith(f"{self.name}({ISOLATING} ")]
        others = [m for m in failures if m not in isolating]
        if not isolating or any("Likely cause" in m for m in others):
            return others + isolating
        return isolating[:1] + others + isolating[1:]


# -- timestep_gradient_norms ---------------------------------------------------------------
LOSS_KINDS = ("binary_crossentropy", "summed_binary_crossentropy", "output", "mean_squared_error")


def _checked_sequences(embedded, y):
    embedded = np.asarray(embedded, dtype="float32")
    if embedded.ndim != 3:
        raise ValueError(f"embedded must be a batch of sequences (batch, steps, features), got shape {embedded.shape}")
    y = np.asarray(y, dtype="float32").reshape(-1)
    if y.shape[0] != embedded.shape[0]:
        raise ValueError(f"y has {y.shape[0]} labels for {embedded.shape[0]} sequences")
    return embedded, y


def input_gradients(rnn, embedded, y, loss="binary_crossentropy"):
    """∂loss/∂embedded, shape (batch, T, features). ``loss`` is the lesson's loss (Keras's binary
    cross-entropy of rnn(embedded) against y, averaged over the batch) or a known wrong one."""
    import keras
    import tensorflow as tf

    embedded, y = _checked_sequences(embedded, y)
    inputs = tf.constant(embedded)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        predictions = rnn(inputs, training=False)
        targets = tf.reshape(tf.constant(y), (-1, 1))
        if loss == "binary_crossentropy":
            value = keras.losses.BinaryCrossentropy()(targets, predictions)
        elif loss == "summed_binary_crossentropy":
            value = tf.reduce_sum(keras.losses.binary_crossentropy(targets, predictions))
        elif loss == "output":
            value = tf.reduce_sum(predictions)
        else:
            value = keras.losses.MeanSquaredError()(targets, predictions)
    return tape.gradient(value, inputs).numpy().astype(float)


def weight_gradient_norms(rnn, embedded, y):
    """The mistake "gradient with respect to the weights": ‖∂loss/∂w‖ for each trainable variable."""
    import keras
    import tensorflow as tf

    embedded, y = _checked_sequences(embedded, y)
    with tf.GradientTape() as tape:
        value = keras.losses.BinaryCrossentropy()(tf.reshape(tf.constant(y), (-1, 1)),
                                                  rnn(tf.constant(embedded), training=False))
    return np.array([float(tf.norm(g)) for g in tape.gradient(value, rnn.trainable_variables)])


def reader_model(cell, steps, features, units, seed):
    """A model that reads embedded sequences: Input (steps, features) → cell(units) → Dense(1, sigmoid)."""
    import keras

    keras.utils.set_random_seed(seed)
    layer = {"SimpleRNN": keras.layers.SimpleRNN, "GRU": keras.layers.GRU, "LSTM": keras.layers.LSTM}[cell]
    return keras.Sequential([keras.Input((steps, features)), layer(units),
                             keras.layers.Dense(1, activation="sigmoid")])


def _reader_case(label, cell, batch, steps, features, units, seed, rng):
    embedded = rng.normal(scale=0.5, size=(batch, steps, features)).astype("float32")
    y = rng.integers(0, 2, batch).astype("float32")
    return Case(label, (KerasModelArg(reader_model(cell, steps, features, units, seed)), embedded, y))


@register
class TimestepGradientNorms(Exercise):
    name = "timestep_gradient_norms"
    mistakes = (
        Mutant("the mean of per-example norms instead of one L2 norm over the batch and features",
               {"return np.sqrt((gradient.astype(float) ** 2).sum(axis=(0, 2)))":
                "return np.sqrt((gradient.astype(float) ** 2).sum(axis=2)).mean(axis=0)"}),
    )

    code_imports = "import numpy as np\nfrom gradclinic.case_models import gru_reader, linear_recurrence_model"

    def basic_cases(self):
        return [
            # Zero inputs: p = ½, ∂loss/∂logit = ±1/8 per example (batch 4), then ∂h_T/∂x_t = ½^(T−1−t)·I.
            Case("a linear RNN that halves its state, zero inputs, T = 5",
                 args_code="linear_recurrence_model(0.5), np.zeros((4, 5, 2)), np.array([1.0, 0.0, 1.0, 0.0])",
                 rtol=1e-5, hint="differentiate the mean binary cross-entropy with respect to the inputs; one L2 "
                                 "norm per step over batch and features, (√2/4)·½^(4−t); entry 0 is the first step "
                                 "(the one whose gradient crossed most steps)."),
            Case("a GRU reader (7 steps, 3 features, 4 units) on 6 random sequences",
                 args_code="gru_reader(7, 3, 4), np.random.default_rng(7).normal(size=(6, 7, 3)), np.ones(6)",
                 probe="gradclinic.summaries.norm_profile",  # Keras's float32 GRU: values vary in the last bits
                 hint="7 positive finite norms, one per step, each over the whole batch and every feature."),
            Case("embedded as a 2-D array (7, 3)", args_code="gru_reader(7, 3, 4), np.zeros((7, 3)), np.ones(1)",
                 raises="ValueError", hint="embedded must be (batch, T, features): raise ValueError otherwise."),
        ]

    def hidden_cases(self):
        rng = np.random.default_rng(1006)
        cases = [_reader_case(f"a {cell} reader: batch {b}, {t} steps, {f} features, {u} units",
                              cell, b, t, f, u, seed, rng)
                 for seed, (cell, b, t, f, u) in enumerate([("SimpleRNN", 8, 12, 4, 6), ("LSTM", 5, 10, 3, 5),
                                                            ("GRU", 1, 7, 2, 3), ("SimpleRNN", 3, 1, 5, 2),
                                                            ("GRU", 16, 20, 1, 1)])]
        model = reader_model("SimpleRNN", 4, 2, 3, seed=9)
        embedded = rng.normal(size=(3, 4, 2)).astype("float32")
        cases += [
            Case("embedded as a 2-D array (no batch axis)", (KerasModelArg(model), embedded[0], np.ones(1)),
                 raises="ValueError"),
            Case("3 sequences but 2 labels", (KerasModelArg(model), embedded, np.ones(2)), raises="ValueError"),
        ]
        return cases

    def judge(self, case, got, expected):
        array = as_float_array(got)
        if array is None:
            raise CheckFailed(f"{self.name}({case.label}) returned {type(got).__name__}; return a NumPy "
                              "array with one norm per time step.")
        tolerance = {"rtol": 1e-4, "atol": 1e-9}
        if array.shape == expected.shape and allclose(array, expected, **tolerance):
            return
        rnn, embedded, y = self._live(case.args)
        gradients = input_gradients(rnn, embedded, y)
        batch, steps, _ = gradients.shape
        by_weight = weight_gradient_norms(rnn, embedded, y)
        for weights_variant in (by_weight, np.sqrt((by_weight ** 2).sum(keepdims=True))):
            if array.size == weights_variant.size and allclose(array.reshape(-1), weights_variant, **tolerance):
                fail(self.name, case, expected, got, "these are gradients with respect to the weights "
                     "(∂loss/∂kernel …): differentiate with respect to the input sequence, "
                     "tape.watch(embedded) and tape.gradient(loss, embedded), then one norm per step.")
        if array.shape != expected.shape:
            hint = f"one norm per time step: shape ({steps},), reducing over the batch and the features."
            if array.shape == (batch, steps):
                hint = "these are norms per example and step: take one norm per step over the whole batch too."
            elif array.shape == (steps, gradients.shape[2]):
                hint = "these are norms over the batch only: include the feature axis in each step's norm."
            elif array.size == 1:
                hint = "one number for all steps: the point is how the gradient changes from step to step."
            fail(self.name, case, expected, got, hint)
        per_example = np.sqrt((gradients ** 2).sum(axis=2))  # (batch, T)
        variants = [
            (expected[::-1], "the steps are reversed: entry t belongs to embedded[:, t, :], first step first."),
            (expected ** 2, "squared norms: take the square root of the sum of squares."),
            (expected / expected[-1], "divided by the last step's norm: return the norms themselves "
                                      "(the lesson divides afterwards)."),
            (per_example.mean(axis=0), "the mean of per-example norms: take one L2 norm over batch and "
                                       "features at each step."),
            (per_example.sum(axis=0), "the sum of per-example norms: take one L2 norm over batch and "
                                      "features at each step."),
            (np.abs(gradients).sum(axis=(0, 2)), "an L1 norm (sum of |g|): use the L2 norm."),
            (np.sqrt((gradients.sum(axis=2) ** 2).sum(axis=0)), "the features were summed before squaring, "
             "so opposite signs cancel: square each feature's gradient, then sum over batch and features."),
            (np.sqrt((gradients[:, :, 0] ** 2).sum(axis=0)), "only the first feature counted: sum the squares "
             "over every feature of x_t (and over the batch)."),
        ]
        wrong_losses = {
            "summed_binary_crossentropy": "the loss is summed over the batch: average it, as "
                                          "keras.losses.BinaryCrossentropy() does.",
            "output": "this is the gradient of the model's output, not of the loss: compute the binary "
                      "cross-entropy of rnn(embedded) against y and differentiate that.",
            "mean_squared_error": "this is the gradient of a mean squared error: the loss is the binary "
                                  "cross-entropy of the prediction against y.",
        }
        for loss, hint in wrong_losses.items():
            variants.append((np.sqrt((input_gradients(rnn, embedded, y, loss) ** 2).sum(axis=(0, 2))), hint))
        for variant, hint in variants:
            if allclose(array, variant, **tolerance):
                fail(self.name, case, expected, got, hint)
        fail(self.name, case, expected, got)
