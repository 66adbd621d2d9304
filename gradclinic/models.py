"""Model builders the lessons share: deep MLPs and deep linear nets with chosen weights."""

import numpy as np


def _positive_int(name, value, minimum=1):
    if isinstance(value, bool) or int(value) != value or value < minimum:
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

    depth = _positive_int("depth", depth, minimum=0)
    layers = [keras.Input((_positive_int("input_dim", input_dim),))]
    for _ in range(depth):
        layers.append(keras.layers.Dense(_positive_int("width", width), activation=activation,
                                         kernel_initializer=kernel_initializer, use_bias=use_bias))
    layers.append(keras.layers.Dense(_positive_int("n_classes", n_classes), activation="softmax",
                                     kernel_initializer=kernel_initializer))
    return keras.Sequential(layers, name=name)


def deep_linear_model(depth, width, scale, weights="identity", rng=None):
    """A Keras net of ``depth`` linear Dense layers without biases, each kernel ``scale · M``.

    ``weights="identity"``: M = I (lesson 01's a[L] = C^L x with C = scale·I).
    ``weights="gaussian"``: M has entries N(0, 1/width), drawn from ``rng``.
    """
    import keras

    depth, width = _positive_int("depth", depth), _positive_int("width", width)
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
