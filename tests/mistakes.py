"""A catalogue of real mistakes: for every exercise, the full source of its solution cell as a
learner who made one typical mistake would write it.

``MISTAKES[slug][grade_id]`` is a :class:`Mistake`: ``source`` is a drop-in replacement for the
solution cell (same names and signatures, defines every helper the cell defines, so later cells
and later exercises that use those helpers still work), ``what`` names the misconception in one
line. Each mistake keeps its function's output type and shape where it can, so that it costs its
own exercise's points and nothing else (an exercise that calls an earlier one — lesson 04's
initializers call ``fans``, ``activation_stds`` calls the initializers, lesson 12's
``fixed_point_q`` calls ``length_map`` — is given a mistake invisible on the later exercise's
cases; tests/test_mistakes.py checks that).

``mistake_submissions(slug)`` splits a lesson's mistakes into at most two replacement dicts
(grade_id → source) that together hold every mistake exactly once, alternating exercises so that
wrong exercises are not adjacent within a submission: each submission, autograded, should lose
exactly its wrong exercises' points.

``lesson_namespace(slug, replacements)`` runs, in this process, what a lesson's solution cells
need — the imports, function and class definitions and UPPER_CASE constants of its other code
cells (nothing that trains or draws) — and its solution cells in notebook order, with
``replacements`` (grade_id → source) in place of the instructor's.
"""

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    source: str
    what: str


# -- 00 ------------------------------------------------------------------------------------------
_COMPOUND = '''def compound(scale, depth):
    """Return scale ** depth as a float; depth must be a whole number ≥ 0 (else ValueError)."""
    if isinstance(depth, bool) or int(depth) != depth or depth < 0:
        raise ValueError(f"depth must be a whole number of layers ≥ 0, got {depth!r}")
    return float(scale) ** (int(depth) - 1)  # the input is not multiplied, so one layer fewer
'''

# -- 01 ------------------------------------------------------------------------------------------
_DEEP_LINEAR_ACTIVATIONS = '''def deep_linear_activations(x, scale, depth):
    """L2 norm of each layer's activation in a deep linear net with W = scale·I; shape (depth,)."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be a non-empty 1-D vector, got shape {x.shape}")
    if isinstance(depth, bool) or int(depth) != depth or depth < 1:
        raise ValueError(f"depth must be a whole number of layers ≥ 1, got {depth!r}")
    weight = scale * np.eye(x.size)
    norms, activation = [], x
    for _ in range(int(depth)):
        norms.append(np.linalg.norm(activation))  # recorded before the layer: the first is the input's
        activation = weight @ activation
    return np.array(norms)
'''

_LAYER_GRADIENT_NORMS = '''import tensorflow as tf


def layer_gradient_norms(model, x, y, loss_fn):
    """L2 norm of ∂loss/∂kernel for each layer with a kernel, input side first (list of floats)."""
    kernels = [layer.kernel for layer in model.layers if getattr(layer, "kernel", None) is not None]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    return [float(tf.reduce_sum(gradient ** 2)) for gradient in tape.gradient(loss, kernels)]
'''

# -- 02 ------------------------------------------------------------------------------------------
_SIGMOID_GRAD = '''def sigmoid_grad(z):
    """σ'(z) = σ(z)·(1 − σ(z)) elementwise, for a number or an array of any shape; no overflow."""
    z = np.asarray(z)
    s = np.exp(z) / (1 + np.exp(z))
    return s * (1 - s)
'''

_TANH_GRAD = '''def tanh_grad(z):
    """tanh'(z) = 1 − tanh(z)² elementwise, for a number or an array of any shape."""
    return 1.0 - np.tanh(np.asarray(z, dtype=float))
'''

_GRADIENT_NORM_LOGGER = '''import tensorflow as tf


class GradientNormLogger(keras.callbacks.Callback):
    """Records, after every epoch, ‖∂loss/∂kernel‖ of each layer with a kernel (input side first),
    for the model's compiled loss on (x, y). ``history``: one list of floats per epoch."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y
        self.history = []

    def on_epoch_begin(self, epoch, logs=None):
        kernels = [layer.kernel for layer in self.model.layers if getattr(layer, "kernel", None) is not None]
        with tf.GradientTape() as tape:
            loss = self.model.compute_loss(x=self.x, y=self.y, y_pred=self.model(self.x, training=True))
        self.history.append([float(tf.norm(gradient)) for gradient in tape.gradient(loss, kernels)])
'''

_DIAGNOSE = '''def diagnose(norms, vanish_ratio=1e-3, explode_at=1e2):
    """"exploding", "vanishing" or "healthy" for per-layer gradient norms (input side first)."""
    norms = np.asarray(norms, dtype=float)
    if norms.ndim != 1 or norms.size == 0:
        raise ValueError(f"norms must be a non-empty list of per-layer norms, got shape {norms.shape}")
    if np.any(norms < 0):
        raise ValueError("a gradient norm is never negative; pass the norms themselves")
    if not np.all(np.isfinite(norms)) or np.any(norms > explode_at):
        return "exploding"
    first, last = norms[0], norms[-1]
    if last == 0:
        return "vanishing"
    if first == 0 or last / first > 1 / vanish_ratio:  # output side over input side
        return "exploding"
    if last / first < vanish_ratio:
        return "vanishing"
    return "healthy"
'''

# -- 03 ------------------------------------------------------------------------------------------
_RELU = '''def relu(z):
    """ReLU elementwise: max(0, z). z: array-like, any shape → float array of the same shape."""
    return np.minimum(np.asarray(z, dtype=float), 0.0)
'''

_RELU_GRAD = '''def relu_grad(z):
    """ReLU's slope elementwise: 1.0 where z > 0, else 0.0 (0 at z = 0, like TensorFlow); z's shape."""
    return np.asarray(z, dtype=float) > 0
'''

_LEAKY_RELU = '''def leaky_relu(z, negative_slope=0.3):
    """Leaky ReLU elementwise: z where z > 0, negative_slope·z elsewhere; z's shape, floats.

    negative_slope: a finite number ≥ 0 (ValueError otherwise), Keras's function default 0.2.
    """
    if isinstance(negative_slope, bool) or not np.isfinite(negative_slope) or negative_slope < 0:
        raise ValueError(f"negative_slope must be a finite number ≥ 0, got {negative_slope!r}")
    z = np.asarray(z, dtype=float)
    return np.where(z > 0, z, negative_slope * z)
'''

_ELU = '''def elu(z, alpha=1.0):
    """ELU elementwise: z where z > 0, alpha·(e^z − 1) elsewhere; z's shape, floats.

    alpha: a finite number ≥ 0 (ValueError otherwise), the level −alpha approached as z → −∞.
    """
    if isinstance(alpha, bool) or not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number ≥ 0, got {alpha!r}")
    z = np.asarray(z, dtype=float)
    return np.where(z > 0, z, alpha * np.exp(np.minimum(z, 0.0)))
'''

_ELU_GRAD = '''def elu_grad(z, alpha=1.0):
    """ELU's slope elementwise: 1 where z > 0, alpha·e^z elsewhere (alpha at z = 0); z's shape."""
    if isinstance(alpha, bool) or not np.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite number ≥ 0, got {alpha!r}")
    z = np.asarray(z, dtype=float)
    return np.where(z >= 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))
'''

_ACTIVE_FRACTION = '''def active_fraction(model, x):
    """Per hidden Dense layer (all but the last Dense), the share of (example, unit) pairs of the
    batch x (n ≥ 1 examples) whose output is > 0: float array of shape (n_hidden,)."""
    return np.array([float((output >= 0).mean()) for output in hidden_layer_outputs(model, x)])


def hidden_layer_outputs(model, x):
    """Each hidden Dense layer's output on batch x: a list of (n, units) arrays, input side first."""
    x = np.asarray(x, dtype="float32")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a batch of at least one example, got shape {x.shape}")
    hidden = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    outputs = keras.Model(model.inputs, [layer.output for layer in hidden])([x])
    return [np.asarray(output) for output in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
'''

_DEAD_UNITS = '''def dead_units(model, x):
    """Per hidden Dense layer, how many units output exactly 0 for every example of the batch x
    (n ≥ 1 examples): int array of shape (n_hidden,)."""
    return np.array([int(np.any(output == 0, axis=0).sum()) for output in hidden_layer_outputs(model, x)])
'''

# -- 04 ------------------------------------------------------------------------------------------
_FANS = '''def fans(shape):
    """(fan_in, fan_out) of a kernel of ``shape`` as Keras computes them: ints.

    (in, out) for Dense; (…window…, in, out) for Conv, both times the window's size;
    (n,) → (n, n); () → (1, 1). ValueError unless shape is a tuple/list of whole numbers ≥ 0.
    """
    if not isinstance(shape, (tuple, list)):
        raise ValueError(f"shape must be a tuple of whole numbers such as (784, 128), got {shape!r}")
    for dim in shape:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 0:
            raise ValueError(f"every dimension of shape must be a whole number ≥ 0, got {shape!r}")
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = np.prod(shape[:-2])  # of an empty window: the float 1.0
    return shape[-2] * receptive_field, shape[-1] * receptive_field
'''

_GLOROT_UNIFORM = '''def glorot_uniform(shape, rng):
    """Weights of ``shape`` from U[−L, L], L = √(3·Var), Var = 1/max(1, (fan_in + fan_out)/2)."""
    fan_in, fan_out = fans(shape)
    limit = math.sqrt(3.0 / max(1.0, fan_in))
    return rng.uniform(-limit, limit, size=tuple(shape))
'''

_GLOROT_NORMAL = '''TRUNCATED_STD = 0.87962566103423978  # std of N(0, 1) cut to [−2, 2]


def glorot_normal(shape, rng):
    """Weights of ``shape``: Keras's truncated normal with Var = 2/(fan_in + fan_out)."""
    fan_in, fan_out = fans(shape)
    return truncated_normal(shape, 1.0 / max(1.0, fan_in), rng)


def truncated_normal(shape, variance, rng):
    """N(0, σ²) with σ = √variance / 0.8796…, every value beyond 2σ redrawn: variance ``variance``."""
    sigma = math.sqrt(variance) / TRUNCATED_STD
    weights = rng.normal(0.0, sigma, size=tuple(shape))
    outside = np.abs(weights) > 2 * sigma
    while outside.any():
        weights[outside] = rng.normal(0.0, sigma, size=int(outside.sum()))
        outside = np.abs(weights) > 2 * sigma
    return weights
'''

_HE_NORMAL = '''def he_normal(shape, rng):
    """Weights of ``shape``: Keras's truncated normal with Var = 2/fan_in."""
    return rng.normal(0.0, math.sqrt(2.0 / max(1.0, fans(shape)[0])), size=tuple(shape))
'''

_LECUN_NORMAL = '''def lecun_normal(shape, rng):
    """Weights of ``shape``: Keras's truncated normal with Var = 1/fan_in."""
    return truncated_normal(shape, 1.0 / max(1.0, fans(shape)[1]), rng)
'''

_ACTIVATION_STDS = '''def activation_stds(depth, width, init, activation, rng, gain=1.0):
    """(depth,) std of each layer's activations a[l] = φ(a[l−1] @ (gain · W[l])) of a square net
    of ``width`` units without biases, for a (1000, width) standard-normal input batch."""
    initializers = {"glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal, "he_normal": he_normal,
                    "lecun_normal": lecun_normal, "uniform_inv_sqrt_n": uniform_inv_sqrt_n}
    activations = {"linear": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0),
                   "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}
    for name, value in (("depth", depth), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a whole number ≥ 1, got {value!r}")
    if init not in initializers:
        raise ValueError(f"init must be one of {', '.join(initializers)}, got {init!r}")
    if activation not in activations:
        raise ValueError(f"activation must be one of {', '.join(activations)}, got {activation!r}")
    phi, initializer = activations[activation], initializers[init]
    a = rng.standard_normal((1000, width))
    stds = np.empty(depth)
    for layer in range(depth):
        a = phi(a @ (gain * initializer((width, width), rng)))
        stds[layer] = a.var()
    return stds
'''

# -- 05 ------------------------------------------------------------------------------------------
_GRU_STEP = '''def gru_step(x_t, h_prev, kernel, recurrent_kernel, bias):
    """One step of keras.layers.GRUCell (reset_after=True): h_t of shape (batch, units)."""
    x_t, h_prev, kernel, recurrent_kernel, bias = (np.asarray(a, dtype=float)
                                                   for a in (x_t, h_prev, kernel, recurrent_kernel, bias))
    if x_t.ndim != 2 or h_prev.ndim != 2 or x_t.shape[0] != h_prev.shape[0]:
        raise ValueError(f"x_t and h_prev must be batches with the same number of rows, got {x_t.shape}, "
                         f"{h_prev.shape}")
    units = h_prev.shape[1]
    if (kernel.shape != (x_t.shape[1], 3 * units) or recurrent_kernel.shape != (units, 3 * units)
            or bias.shape != (2, 3 * units)):
        raise ValueError("expected kernel (input_dim, 3·units), recurrent_kernel (units, 3·units) and "
                         f"bias (2, 3·units); got {kernel.shape}, {recurrent_kernel.shape}, {bias.shape}")
    x_r, x_z, x_h = np.split(x_t @ kernel + bias[0], 3, axis=1)  # reset block first, as in "GRU: r, z"
    h_r, h_z, h_h = np.split(h_prev @ recurrent_kernel + bias[1], 3, axis=1)
    update = 1 / (1 + np.exp(-(x_z + h_z)))
    reset = 1 / (1 + np.exp(-(x_r + h_r)))
    candidate = np.tanh(x_h + reset * h_h)
    return update * h_prev + (1 - update) * candidate
'''

_TIMESTEP_GRADIENT_NORMS = '''def timestep_gradient_norms(rnn, embedded, y):
    """‖∂loss/∂embedded[:, t, :]‖ for each step t (array of shape (T,)), binary cross-entropy loss."""
    embedded = np.asarray(embedded, dtype="float32")
    y = np.asarray(y, dtype="float32").reshape(-1, 1)
    if embedded.ndim != 3 or y.shape[0] != embedded.shape[0]:
        raise ValueError(f"embedded must be (batch, T, features) with one label per sequence, got "
                         f"{embedded.shape} and {y.shape[0]} labels")
    inputs = tf.constant(embedded)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        loss = keras.losses.BinaryCrossentropy()(y, rnn(inputs, training=False))
    gradient = tape.gradient(loss, inputs).numpy()
    return np.sqrt((gradient.astype(float) ** 2).sum(axis=2)).mean(axis=0)  # each example's norm, averaged
'''

# -- 06 ------------------------------------------------------------------------------------------
_IDENTITY_BLOCK = '''def identity_block(X, f, filters):
    """ResNet's identity block: (Conv2D f×f → BN → ReLU → Conv2D f×f → BN) + X → ReLU."""
    if len(filters) != 2:
        raise ValueError(f"filters must be a pair (F1, F2), got {filters!r}")
    F1, F2 = filters
    if F2 != X.shape[-1]:
        raise ValueError(f"F2 = {F2} must equal the input's {X.shape[-1]} channels: the shortcut adds X "
                         "to the main path elementwise")
    X_shortcut = X
    X = keras.layers.Conv2D(F1, (1, 1), padding="same")(X)
    X = keras.layers.BatchNormalization()(X)
    X = keras.layers.Activation("relu")(X)
    X = keras.layers.Conv2D(F2, (1, 1), padding="same")(X)
    X = keras.layers.BatchNormalization()(X)
    X = keras.layers.Add()([X, X_shortcut])
    return keras.layers.Activation("relu")(X)
'''

_RESIDUAL_MLP = '''def residual_mlp(input_dim, depth, width, n_classes, residual=True):
    """A deep tanh MLP: projection, depth Dense blocks (with skip adds when residual), softmax."""
    for name, value, minimum in [("input_dim", input_dim, 1), ("depth", depth, 1), ("width", width, 1),
                                 ("n_classes", n_classes, 2)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    inputs = keras.Input((int(input_dim),))
    h = keras.layers.Dense(int(width), activation="tanh", kernel_initializer=small_initializer())(inputs)
    for _ in range(int(depth)):
        if residual:  # ResNet style: linear branch, add, then the activation of the sum
            branch = keras.layers.Dense(int(width), kernel_initializer=small_initializer())(h)
            h = keras.layers.Activation("tanh")(keras.layers.Add()([h, branch]))
        else:
            h = keras.layers.Dense(int(width), activation="tanh", kernel_initializer=small_initializer())(h)
    outputs = keras.layers.Dense(int(n_classes), activation="softmax", kernel_initializer=small_initializer())(h)
    return keras.Model(inputs, outputs)
'''

# -- 07 ------------------------------------------------------------------------------------------
_CLIP_BY_VALUE = '''def clip_by_value(grads, clip_value):
    """Each gradient array with every entry limited to [-clip_value, clip_value]; a new list."""
    if not clip_value > 0:
        raise ValueError(f"clip_value must be a positive number, got {clip_value!r}")
    return [np.clip(np.asarray(g, dtype=float), 0.0, clip_value) for g in grads]
'''

_CLIP_BY_NORM = '''def clip_by_norm(grads, clip_norm):
    """Each gradient array shrunk to L2 norm clip_norm if its own norm is larger; a new list."""
    if not clip_norm > 0:
        raise ValueError(f"clip_norm must be a positive number, got {clip_norm!r}")
    arrays = [np.asarray(g, dtype=float) for g in grads]
    norm = np.sqrt(sum(np.sum(g ** 2) for g in arrays))  # one norm for all of them
    return [g * (clip_norm / max(norm, clip_norm)) for g in arrays]
'''

_CLIP_BY_GLOBAL_NORM = '''def clip_by_global_norm(grads, clip_norm):
    """(every array scaled by clip_norm / max(N, clip_norm), N) with N the global norm before clipping."""
    if not clip_norm > 0:
        raise ValueError(f"clip_norm must be a positive number, got {clip_norm!r}")
    arrays = [np.asarray(g, dtype=float) for g in grads]
    global_norm = float(np.sqrt(sum(np.sum(g ** 2) for g in arrays)))
    clipped = [g * (clip_norm / max(np.sqrt(np.sum(g ** 2)), clip_norm)) for g in arrays]  # each on its own
    return clipped, global_norm
'''

# -- 08 ------------------------------------------------------------------------------------------
_L2_PENALTY = '''def l2_penalty(weights, lam):
    """λ·Σw² over every entry of every array in ``weights`` (a list of arrays), as a float."""
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a non-negative number, got {lam!r}")
    return float(0.5 * lam * sum(np.sum(np.square(np.asarray(w, dtype=float))) for w in weights))
'''

_L2_PENALTY_GRAD = '''def l2_penalty_grad(weights, lam):
    """∂(λ·Σw²)/∂w for each array in ``weights``: a list of new arrays, same shapes."""
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a non-negative number, got {lam!r}")
    return [lam * np.asarray(w, dtype=float) for w in weights]
'''

# -- 09 ------------------------------------------------------------------------------------------
_BATCHNORM_FORWARD = '''def batchnorm_forward(x, gamma, beta, moving_mean, moving_var, training, momentum=0.99, epsilon=1e-3):
    """One call of keras.layers.BatchNormalization: (y, new_moving_mean, new_moving_var)."""
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
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axis=axes), x.var(axis=axes)  # the batch's statistics, in training and inference
    if training:
        new_mean = moving_mean * momentum + mean * (1 - momentum)
        new_var = moving_var * momentum + var * (1 - momentum)
    else:
        new_mean, new_var = moving_mean.copy(), moving_var.copy()
    y = gamma * (x - mean) / np.sqrt(var + epsilon) + beta
    return y, new_mean, new_var
'''

# -- 10 ------------------------------------------------------------------------------------------
_SELU = '''SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    """λ·x for x > 0 and λ·α·(e^x − 1) for x ≤ 0, elementwise, for a number or an array."""
    x = np.asarray(x, dtype=float)
    return np.where(x > 0, x, SELU_SCALE * SELU_ALPHA * np.expm1(np.minimum(x, 0.0)))
'''

_STANDARDIZE = '''def standardize(train, test):
    """(train_std, test_std): both standardized with the training set's per-feature mean and std."""
    train, test = np.asarray(train, dtype=float), np.asarray(test, dtype=float)
    if train.ndim != 2 or test.ndim != 2:
        raise ValueError(f"train and test must be 2-D (examples, features), got shapes {train.shape} and {test.shape}")
    if train.shape[1] != test.shape[1]:
        raise ValueError(f"train has {train.shape[1]} features, test has {test.shape[1]}")
    if len(train) == 0:
        raise ValueError("train has no examples to take statistics from")

    def scaled(data):  # each set with its own mean and std
        mean, std = data.mean(axis=0), data.std(axis=0)
        return (data - mean) / np.where(std == 0, 1.0, std)

    return scaled(train), scaled(test)
'''

_BUILD_SNN = '''def build_snn(input_dim, depth, width, n_classes):
    """A self-normalizing MLP: depth × Dense(width, selu, lecun_normal), then one softmax layer."""
    for name, value, minimum in [("input_dim", input_dim, 1), ("depth", depth, 1), ("width", width, 1),
                                 ("n_classes", n_classes, 2)]:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    model = keras.Sequential([keras.Input((int(input_dim),))])
    for _ in range(int(depth)):
        model.add(keras.layers.Dense(int(width), activation="selu"))  # Keras's default initializer
    model.add(keras.layers.Dense(int(n_classes), activation="softmax"))
    return model
'''

# -- 11 ------------------------------------------------------------------------------------------
_DIAGNOSIS_CASE_A = '''def diagnosis_case_a():
    """Case a: (illness, cause), one from ILLNESSES and one from CAUSES."""
    return "exploding", "activation"
'''

_DIAGNOSIS_CASE_B = '''def diagnosis_case_b():
    """Case b: (illness, cause), one from ILLNESSES and one from CAUSES."""
    return "healthy", "learning rate"
'''

_DIAGNOSIS_CASE_C = '''def diagnosis_case_c():
    """Case c: (illness, cause), one from ILLNESSES and one from CAUSES."""
    return "healthy", "time steps"
'''

_DIAGNOSIS_CASE_D = '''def diagnosis_case_d():
    """Case d: (illness, cause), one from ILLNESSES and one from CAUSES."""
    return "healthy", "initialization"
'''

_TREAT_CASE_A = '''def treat_case_a():
    """Case a, treated: a compiled Keras model that keeps the task and trains."""
    keras.utils.set_random_seed(0)
    layers = [keras.Input((64,))]
    layers += [keras.layers.Dense(64, activation="sigmoid") for _ in range(10)]
    model = keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-3), loss="sparse_categorical_crossentropy")
    return model
'''

_TREAT_CASE_B = '''def treat_case_b():
    """Case b, treated: a compiled Keras model that keeps the task and trains."""
    keras.utils.set_random_seed(0)
    layers = [keras.Input((64,))] + [keras.layers.Dense(64) for _ in range(2)]
    model = keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="sparse_categorical_crossentropy")
    return model
'''

_TREAT_CASE_C = '''def treat_case_c():
    """Case c, treated: a compiled Keras model that keeps the task and trains."""
    keras.utils.set_random_seed(0)
    vocabulary = int(clinic.case_data("c")[0].max()) + 1
    model = keras.Sequential([
        keras.Input((26,), dtype="int32"),
        keras.layers.Embedding(vocabulary, 8, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0)),
        keras.layers.SimpleRNN(16, go_backwards=True),
        keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.02), loss="binary_crossentropy")
    return model
'''

_TREAT_CASE_D = '''def treat_case_d():
    """Case d, treated: a compiled Keras model that keeps the task and trains."""
    keras.utils.set_random_seed(0)
    tiny = keras.initializers.RandomNormal(stddev=0.01)
    layers = [keras.Input((64,))]
    layers += [keras.layers.Dense(64, activation="relu", kernel_initializer=tiny) for _ in range(20)]
    model = keras.Sequential(layers + [keras.layers.Dense(10, activation="softmax", kernel_initializer=tiny)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=2e-3), loss="sparse_categorical_crossentropy")
    return model
'''

# -- 12 ------------------------------------------------------------------------------------------
_LENGTH_MAP = '''def length_map(q, sigma_w, sigma_b, phi):
    """One layer of the variance recursion: σ_w²·E_z[φ(√q·z)²] + σ_b², with q's shape."""
    if sigma_w < 0 or sigma_b < 0:
        raise ValueError(f"sigma_w and sigma_b are standard deviations (≥ 0), got {sigma_w}, {sigma_b}")
    q = np.asarray(q, dtype=float)
    if np.any(q < 0) or not np.all(np.isfinite(q)):
        raise ValueError("q is a variance: it must be finite and ≥ 0")
    mean_square = (phi(np.sqrt(q) * QUAD_NODES) ** 2) @ (QUAD_WEIGHTS / QUAD_WEIGHTS.sum())  # one q at a time
    return sigma_w ** 2 * mean_square + sigma_b ** 2
'''

_FIXED_POINT_Q = '''def fixed_point_q(sigma_w, sigma_b, phi):
    """q* = length_map(q*), by iteration from q = 1; ValueError when it diverges."""
    q = 1.0
    for _ in range(10):  # ten layers' worth of iterations, no convergence test
        q = float(length_map(q, sigma_w, sigma_b, phi))
        if not q <= Q_LIMIT:
            raise ValueError(f"q passed {Q_LIMIT:g}: the length map diverges for σ_w={sigma_w}, σ_b={sigma_b}")
    return q
'''

_CHI1 = '''def chi1(sigma_w, sigma_b, phi):
    """χ₁ = σ_w²·E_z[φ'(√q*·z)²] at the fixed point q*, φ' by a central difference."""
    q_star = fixed_point_q(sigma_w, sigma_b, phi)
    x = np.sqrt(q_star) * QUAD_NODES
    slope = (phi(x + FD_STEP) - phi(x - FD_STEP)) / (2 * FD_STEP)
    return float(sigma_w ** 2 * (np.sum(QUAD_WEIGHTS * slope) / QUAD_WEIGHTS.sum()) ** 2)
'''

_ORTHOGONAL = '''def orthogonal(shape, rng, gain=1.0):
    """A Haar-random orthogonal kernel of ``shape`` times ``gain``, as keras.initializers.Orthogonal."""
    shape = tuple(shape)
    if len(shape) < 2 or any(int(d) != d or d < 1 for d in shape):
        raise ValueError(f"an orthogonal kernel needs at least two dimensions, each ≥ 1; got {shape}")
    rows = int(np.prod(shape[:-1]))
    # random directions in many dimensions are nearly orthogonal: N(0, 1/rows) entries, no QR
    return gain * rng.standard_normal(shape) / np.sqrt(rows)
'''

MISTAKES = {
    "00_welcome": {
        "compound": Mistake(_COMPOUND, "one factor short: scale ** (depth − 1), as if the input counted as a layer"),
    },
    "01_the_problem": {
        "deep_linear_activations": Mistake(_DEEP_LINEAR_ACTIVATIONS, "the first norm is the input's: norms "
                                           "recorded before each layer instead of after it"),
        "layer_gradient_norms": Mistake(_LAYER_GRADIENT_NORMS, "squared norms: Σg² without the square root"),
    },
    "02_causes_and_detection": {
        "sigmoid_grad": Mistake(_SIGMOID_GRAD, "σ = e^z/(1 + e^z) computed naively: e^z overflows to inf for "
                                "large z (float32 z = 100) and inf/inf is NaN"),
        "tanh_grad": Mistake(_TANH_GRAD, "1 − tanh(z), the square forgotten"),
        "GradientNormLogger": Mistake(_GRADIENT_NORM_LOGGER, "logs in on_epoch_begin: the norms before each "
                                      "epoch's training, not after it"),
        "diagnose": Mistake(_DIAGNOSE, "the ratio inverted: norms[-1]/norms[0] (output over input side), so "
                            "vanishing and exploding trade places"),
    },
    "03_relu_and_friends": {
        "relu": Mistake(_RELU, "min and max confused: np.minimum(z, 0) keeps the negative part"),
        "relu_grad": Mistake(_RELU_GRAD, "returns the boolean mask z > 0 instead of a float slope"),
        "leaky_relu": Mistake(_LEAKY_RELU, "default slope 0.3, the keras.layers.LeakyReLU layer's, not the "
                              "function's 0.2"),
        "elu": Mistake(_ELU, "the −1 forgotten: α·e^z on the negative side, so ELU jumps at 0"),
        "elu_grad": Mistake(_ELU_GRAD, "z ≥ 0 takes the positive branch: slope 1 at z = 0, where autodiff "
                            "gives α"),
        "active_fraction": Mistake(_ACTIVE_FRACTION, "output ≥ 0 counted as active: every ReLU unit, even an "
                                   "inactive one at exactly 0, counts"),
        "dead_units": Mistake(_DEAD_UNITS, "units that are 0 for *any* example counted as dead (np.any, "
                              "not np.all)"),
    },
    "04_initialization": {
        "fans": Mistake(_FANS, "numpy.prod of the empty window is the float 1.0: Dense fans come back as "
                        "floats, not ints"),
        "glorot_uniform": Mistake(_GLOROT_UNIFORM, "Glorot with fan_in only: limit √(3/fan_in), LeCun's "
                                  "uniform (right only for square kernels)"),
        "glorot_normal": Mistake(_GLOROT_NORMAL, "Glorot with fan_in only: variance 1/fan_in, LeCun's (right "
                                 "only for square kernels)"),
        "he_normal": Mistake(_HE_NORMAL, "an untruncated N(0, 2/fan_in): Keras's he_normal is a truncated "
                             "normal cut at 2σ (σ divided by 0.8796…)"),
        "lecun_normal": Mistake(_LECUN_NORMAL, "fan_in and fan_out confused: variance 1/fan_out"),
        "activation_stds": Mistake(_ACTIVATION_STDS, "variances (a.var()) recorded instead of standard "
                                   "deviations"),
    },
    "05_gated_rnns": {
        "gru_step": Mistake(_GRU_STEP, "the update and reset gates swapped: Keras's column blocks are z, r, h, "
                            "not r, z, h"),
        "timestep_gradient_norms": Mistake(_TIMESTEP_GRADIENT_NORMS, "the mean of per-example norms instead of "
                                           "one L2 norm over the batch and features"),
    },
    "06_residual_networks": {
        "identity_block": Mistake(_IDENTITY_BLOCK, "f ignored: 1×1 convolutions instead of f×f"),
        "residual_mlp": Mistake(_RESIDUAL_MLP, "the ResNet habit carried over: a linear branch, then tanh of "
                                "the sum, instead of h + tanh(Dense(h))"),
    },
    "07_gradient_clipping": {
        "clip_by_value": Mistake(_CLIP_BY_VALUE, "clipped to [0, c]: negative entries become 0"),
        "clip_by_norm": Mistake(_CLIP_BY_NORM, "one factor from the global norm for every tensor (that is "
                                "clip_by_global_norm; clipnorm looks at each tensor's own norm)"),
        "clip_by_global_norm": Mistake(_CLIP_BY_GLOBAL_NORM, "each tensor clipped by its own norm instead of all "
                                       "by the global norm (the right global norm still returned)"),
    },
    "08_l2_regularization": {
        "l2_penalty": Mistake(_L2_PENALTY, "the textbook ½·λ·Σw², not Keras's l2(λ) = λ·Σw²"),
        "l2_penalty_grad": Mistake(_L2_PENALTY_GRAD, "gradient λ·W (from the ½ convention), not 2λ·W"),
    },
    "09_batch_normalization": {
        "batchnorm_forward": Mistake(_BATCHNORM_FORWARD, "the batch's statistics used at inference too, "
                                     "instead of the moving mean and variance"),
    },
    "10_self_normalizing_networks": {
        "selu": Mistake(_SELU, "λ applied to the negative branch only: x > 0 passes unscaled"),
        "standardize": Mistake(_STANDARDIZE, "the test set standardized with its own mean and std"),
        "build_snn": Mistake(_BUILD_SNN, "the kernel initializer left at Keras's default glorot_uniform: "
                             "SELU needs lecun_normal"),
    },
    "11_gradient_clinic": {  # in notebook order: diagnosis, then treatment, case by case
        "diagnosis_case_a": Mistake(_DIAGNOSIS_CASE_A, "the first/last ratio read upside down: the first "
                                    "kernel's gradient is 10⁻⁶ of the last's, which is vanishing"),
        "treat_case_a": Mistake(_TREAT_CASE_A, "keeps the sickness: Adam instead of SGD, but the deep sigmoid "
                                "stack still vanishes at step 0"),
        "diagnosis_case_b": Mistake(_DIAGNOSIS_CASE_B, "trusted the step-0 profile, though the training loss "
                                    "turned to NaN within the first epoch"),
        "treat_case_b": Mistake(_TREAT_CASE_B, "changes the task: 2 hidden layers instead of the case's 8 "
                                "(a shorter path, not a cure)"),
        "diagnosis_case_c": Mistake(_DIAGNOSIS_CASE_C, "trusted the kernel-norm ratio, though the accuracy "
                                    "stays at chance: vanishing through time hides from kernel norms"),
        "treat_case_c": Mistake(_TREAT_CASE_C, "changes the task: the SimpleRNN reads backwards, which shortens "
                                "the gap instead of carrying the subject across it"),
        "diagnosis_case_d": Mistake(_DIAGNOSIS_CASE_D, "read the first/last ratio only (≈ 2.5, inside the "
                                    "thresholds), not the norms' size: every one is ~1e-26"),
        "treat_case_d": Mistake(_TREAT_CASE_D, "keeps the sickness: Adam, but the tiny N(0, 0.01²) weights "
                                "still leave every kernel's gradient ~1e-26 at step 0 (vanished everywhere)"),
    },
    "12_signal_propagation": {
        "length_map": Mistake(_LENGTH_MAP, "not vectorised over q: √q·nodes without [..., None] works for one "
                              "q and fails for an array of q"),
        "fixed_point_q": Mistake(_FIXED_POINT_Q, "a fixed 10 iterations instead of iterating until |q_new − q| "
                                 "≤ TOLERANCE·max(1, q): q* not yet converged"),
        "chi1": Mistake(_CHI1, "(E[φ'])² instead of E[φ'²]: averaged the slope, then squared"),
        "orthogonal": Mistake(_ORTHOGONAL, "a scaled Gaussian N(0, 1/n) taken for orthogonal (random "
                              "directions are only nearly orthogonal): no QR"),
    },
}


# Exercises whose solution cell calls another exercise's function (or a helper its cell defines):
# a mistake in the key must leave every listed exercise's checks passing. The catalogue's mistakes
# are chosen for that (e.g. Glorot with fan_in only is right for the square kernels
# activation_stds draws; length_map's mistake shows only for an array of q, which fixed_point_q
# never passes).
DEPENDENTS = {
    "active_fraction": ["dead_units"],  # hidden_layer_outputs, defined in active_fraction's cell
    "fans": ["glorot_uniform", "glorot_normal", "he_normal", "lecun_normal", "activation_stds"],
    "glorot_uniform": ["activation_stds"],
    "glorot_normal": ["he_normal", "lecun_normal", "activation_stds"],  # truncated_normal lives in its cell
    "he_normal": ["activation_stds"],
    "lecun_normal": ["activation_stds"],
    "length_map": ["fixed_point_q", "chi1"],
}
# The one coupling no mistake can avoid: chi1 evaluates φ' at fixed_point_q(...)'s q*, and
# fixed_point_q and chi1 are tried on the same (σ_w, σ_b, φ) points, so any wrong q* is also a
# wrong χ₁. fixed_point_q's mistake therefore shares a submission with chi1's (which is wrong anyway).
COUPLED = {"fixed_point_q": ["chi1"]}
_GROUPS = {"12_signal_propagation": [["fixed_point_q", "chi1"], ["length_map", "orthogonal"]]}


def mistake_submissions(slug):
    """At most two replacement dicts (grade_id → mistake source) for ``slug`` that together hold
    every exercise's mistake exactly once: exercises alternate between the two, in notebook order,
    so no two wrong exercises of one submission are neighbours (a one-exercise lesson gives one).
    Lesson 12 is grouped by hand: fixed_point_q's mistake goes with chi1's (see ``COUPLED``)."""
    order = list(MISTAKES[slug])
    groups = _GROUPS.get(slug) or [order[0::2], order[1::2]]
    return [{grade_id: MISTAKES[slug][grade_id].source for grade_id in group} for group in groups if group]


# -- running solution cells here, as the notebook would ------------------------------------------
def _definitions_only(source):
    """The statements of a code cell that only define things: imports, functions, classes and
    UPPER_CASE constants (no training, no drawing, no explorers)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics and the like: such a cell defines nothing we need
        return None

    def constant_target(target):
        if isinstance(target, ast.Name):
            return target.id.isupper()
        if isinstance(target, (ast.Tuple, ast.List)):
            return all(constant_target(element) for element in target.elts)
        return False

    kept = [node for node in tree.body
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))
            or (isinstance(node, ast.Assign) and all(constant_target(t) for t in node.targets))]
    return ast.Module(body=kept, type_ignores=[]) if kept else None


def lesson_namespace(slug, replacements=None):
    """The namespace a lesson's solution cells build, with ``replacements`` (grade_id → source)
    in place of the instructor's solution cells. Other code cells contribute their definitions
    only (see :func:`_definitions_only`); graded test cells are skipped."""
    from autograder.build import notebook_from_source, source_path

    replacements = dict(replacements or {})
    notebook = notebook_from_source(source_path(slug))
    solution_ids = {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells
                    if cell.metadata.get("nbgrader", {}).get("solution")}
    unknown = set(replacements) - solution_ids
    if unknown:
        raise ValueError(f"{slug} has no solution cells {sorted(unknown)}")
    namespace = {"__name__": f"lesson_{slug}"}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        nbgrader = cell.metadata.get("nbgrader", {})
        if nbgrader.get("solution"):
            source = replacements.get(nbgrader["grade_id"], cell.source)
            exec(compile(source, f"{slug}:{nbgrader['grade_id']}", "exec"), namespace)
        elif not nbgrader.get("grade"):
            module = _definitions_only(cell.source)
            if module is not None:
                exec(compile(module, f"{slug}:definitions", "exec"), namespace)
    return namespace
