"""Model builders the lessons share: deep MLPs and deep linear nets with chosen weights, lesson
06's small initializer and per-layer gradient measurement (the notebook and the grader use both;
the explorer's profiles, :class:`gradclinic.profiles.StackProfiles`, draw at the initializer's scale),
lesson 05's agreement classifier (which :func:`gradclinic.training.gap_sweep` trains) and lesson
09's deep sigmoid net with its probes."""

import numpy as np

DIGIT_PIXELS = 64  # scikit-learn's 8 × 8 digits, flattened


def whole_number(name, value, minimum=1):
    """``value`` as an int, or a ValueError naming ``name`` when it is not a whole number ≥ ``minimum``
    (an integral float such as 3.0 counts; a bool does not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    return int(value)


def deep_mlp(input_dim, n_classes, depth, width, activation="relu",
             kernel_initializer="glorot_uniform", use_bias=True, name=None):
    """A Keras ``Sequential`` MLP: ``depth`` hidden Dense layers of ``width`` units, then a
    softmax layer of ``n_classes`` units (the output layer comes after the loop).

    ``kernel_initializer`` is anything ``keras.layers.Dense`` accepts, so lessons can swap
    initialisation schemes; ``activation`` likewise.
    """
    import keras

    depth = whole_number("depth", depth, minimum=0)
    layers = [keras.Input((whole_number("input_dim", input_dim),))]
    for _ in range(depth):
        layers.append(keras.layers.Dense(whole_number("width", width), activation=activation,
                                         kernel_initializer=kernel_initializer, use_bias=use_bias))
    layers.append(keras.layers.Dense(whole_number("n_classes", n_classes), activation="softmax",
                                     kernel_initializer=kernel_initializer))
    return keras.Sequential(layers, name=name)


def deep_linear_model(depth, width, scale, weights="identity", rng=None):
    """A Keras net of ``depth`` linear Dense layers without biases, each kernel ``scale · M``.

    ``weights="identity"``: M = I (lesson 01's a[L] = C^L x with C = scale·I).
    ``weights="gaussian"``: M has entries N(0, 1/width), drawn from ``rng``.
    """
    import keras

    depth, width = whole_number("depth", depth), whole_number("width", width)
    if weights not in ("identity", "gaussian"):
        raise ValueError(f"weights must be 'identity' or 'gaussian', got {weights!r}")
    if weights == "gaussian" and not isinstance(rng, np.random.Generator):
        raise ValueError("gaussian weights need rng=numpy.random.default_rng(seed)")
    model = keras.Sequential([keras.Input((width,))] +
                             [keras.layers.Dense(width, use_bias=False) for _ in range(depth)])
    for layer in model.layers:
        base = np.eye(width) if weights == "identity" else rng.normal(scale=width ** -0.5, size=(width, width))
        layer.kernel.assign((scale * base).astype("float32"))
    return model


# -- lesson 06: deep tanh MLPs with small weights, and the gradient that reaches each layer ------
SMALL_SCALE = 0.1  # lesson 06's initializer: weights of variance 0.1 / fan_in


def small_initializer(seed=None):
    """Lesson 06's kernel initializer: truncated normal of variance ``SMALL_SCALE / fan_in``."""
    import keras

    return keras.initializers.VarianceScaling(SMALL_SCALE, mode="fan_in", distribution="truncated_normal",
                                              seed=seed)


def hidden_dense_layers(model):
    """The model's Dense layers except the last one (the output layer), input side first."""
    import keras

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    return dense[:-1]


def output_gradient_norms(model, x, y, loss=None):
    """(n_hidden,) ‖∂loss/∂a[l]‖ for the output a[l] of each hidden Dense layer, input side first.

    ``loss`` defaults to sparse categorical cross-entropy (mean over the batch). In a residual
    net the gradient of a block's Dense output equals that of the stream after its Add.
    """
    import keras
    import tensorflow as tf

    loss = loss or keras.losses.SparseCategoricalCrossentropy()
    hidden = hidden_dense_layers(model)
    if not hidden:
        raise ValueError("the model has no hidden Dense layer")
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs  # a list would expect a list
    probe = keras.Model(inputs, [layer.output for layer in hidden] + [model.output])
    with tf.GradientTape() as tape:
        outputs = probe(np.asarray(x, "float32"), training=False)
        value = loss(y, outputs[-1])
    return np.array([float(tf.norm(g)) for g in tape.gradient(value, outputs[:-1])])


def first_to_last_ratio(norms):
    """norms[0] / norms[-1]: < 1 when the gradient shrinks on its way to the input."""
    norms = np.asarray(norms, dtype=float)
    return float(norms[0] / norms[-1])


# -- lesson 05: the agreement task's classifier ---------------------------------------------------
def agreement_classifier(cell, vocabulary_size, embedding_dim=8, units=16, word_scale=1.0,
                         keep_bias=0.0):
    """A Keras model for the agreement task: word ids (batch, T) → P(plural subject) (batch, 1).

    It is ``Sequential([Embedding, reader])``; ``reader`` (``model.layers[1]``) takes embedded
    sequences (batch, T, embedding_dim) through ``cell`` ("SimpleRNN", "GRU" or "LSTM", Keras's
    defaults) to a Dense(1, sigmoid). Word vectors start N(0, word_scale²) per entry.
    ``keep_bias`` is added to the initial bias of the gate that keeps the state: the update gate
    z of a GRU (Keras: h_t = z·h_prev + (1 − z)·h̃) or the forget gate f of an LSTM (on top of
    the 1 Keras's ``unit_forget_bias`` puts there). T may vary from call to call.
    """
    import keras

    if cell not in ("SimpleRNN", "GRU", "LSTM"):
        raise ValueError(f"cell must be 'SimpleRNN', 'GRU' or 'LSTM', got {cell!r}")
    if keep_bias and cell == "SimpleRNN":
        raise ValueError("a SimpleRNN has no gate to open: keep_bias needs a GRU or an LSTM")
    recurrent = getattr(keras.layers, cell)(units)
    reader = keras.Sequential([keras.Input((None, embedding_dim)), recurrent,
                               keras.layers.Dense(1, activation="sigmoid")], name=f"{cell.lower()}_reader")
    if keep_bias:
        bias = recurrent.cell.bias.numpy()
        # GRU bias (2, 3·units), blocks z, r, h̃: row 0 is the input bias. LSTM bias (4·units,): i, f, c, o.
        if cell == "GRU":
            bias[0, :units] += keep_bias
        else:
            bias[units:2 * units] += keep_bias
        recurrent.cell.bias.assign(bias)
    embedding = keras.layers.Embedding(
        vocabulary_size, embedding_dim,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=word_scale))
    return keras.Sequential([keras.Input((None,), dtype="int32"), embedding, reader])


# -- lesson 09: the deep sigmoid net it trains, with and without BN, and its probes -----------
def deep_sigmoid_net(depth=20, width=32, batchnorm=False, n_inputs=DIGIT_PIXELS, n_classes=10):
    """A Keras ``Sequential``: ``depth`` × [Dense(width) → (BatchNormalization) → sigmoid], then
    Dense(n_classes, softmax). Kernels are Keras's default Glorot uniform.

    With ``batchnorm`` the Dense layers have no bias: BN subtracts the batch mean, which would
    cancel any bias, and its β does the bias's job (Ioffe & Szegedy 2015). BN sits between the
    linear map and the sigmoid, so what enters the sigmoid has mean β and std γ per unit.
    """
    import keras

    layers = [keras.Input((n_inputs,))]
    for _ in range(depth):
        layers.append(keras.layers.Dense(width, use_bias=not batchnorm))
        if batchnorm:
            layers.append(keras.layers.BatchNormalization())
        layers.append(keras.layers.Activation("sigmoid"))
    layers.append(keras.layers.Dense(n_classes, activation="softmax"))
    return keras.Sequential(layers, name=f"sigmoid{depth}_{'bn' if batchnorm else 'plain'}")


def sigmoid_outputs(model, x):
    """Every sigmoid layer's output for ``x``, (layers, batch, width), in inference mode."""
    import keras

    taps = [layer.output for layer in model.layers if isinstance(layer, keras.layers.Activation)]
    return np.stack([np.asarray(a) for a in keras.Model(model.inputs, taps)(np.asarray(x, "float32"),
                                                                              training=False)])


def batchnorm_layers(model):
    """The ``BatchNormalization`` layers of ``model``, input side first."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
