"""Plain-data summaries of what a learner's function returns, for the self-checks of lessons 05–12.

A self-check compares a summary of the answer with the same summary of the instructor's answer
(``probe=`` in :func:`gradclinic.selfcheck.check`), in the learner's kernel and on the grader's
side alike. A summary describes an answer; it never computes one.
"""

import math

import numpy as np

HAAR_TRACE_LIMIT = 6.0  # |T| above this: a Haar matrix gives it with probability < 1e-6
HAAR_MIN_SIDE = 128  # the trace statistic tells signs apart from this size on


def _flat(kernel):
    """A kernel as the matrix it acts as: (prod(shape[:-1]), shape[-1])."""
    kernel = np.asarray(kernel, dtype=float)
    return kernel.reshape(-1, kernel.shape[-1])


def orthogonality(kernel):
    """The shape of ``kernel``, and the smallest and largest squared singular values of the kernel
    flattened to (prod(shape[:-1]), shape[-1]), to 9 decimals: both gain² for gain · (an
    orthogonal matrix). For a square kernel of side ≥ 128, also whether its sign statistic looks
    Haar-distributed: T = trace(W / gain), close to N(0, 1) for a uniformly random orthogonal
    matrix, near −0.6·√n for a QR without the sign correction."""
    array = np.asarray(kernel, dtype=float)
    flat = _flat(array)
    squared = np.linalg.svd(flat, compute_uv=False) ** 2
    summary = {"shape": list(array.shape),
               "squared singular values (min, max)": [round(float(squared.min()), 9), round(float(squared.max()), 9)]}
    rows, cols = flat.shape
    if rows == cols >= HAAR_MIN_SIDE:
        gain = math.sqrt(float(squared.max())) or 1.0
        summary["|trace / gain| ≤ 6 (Haar)"] = bool(abs(np.trace(flat) / gain) <= HAAR_TRACE_LIMIT)
    return summary


# -- answers made of several arrays: each part under its name --------------------------------
def _parts(result, names, what):
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        count = f" of {len(result)}" if isinstance(result, (tuple, list)) else ""
        raise ValueError(f"returned a {type(result).__name__}{count}; expected {what}")
    return {name: np.asarray(part, dtype=float) for name, part in zip(names, result)}


def tensors(result):
    """A list of arrays (one per weight tensor) as {"tensor 0": …, "tensor 1": …}."""
    if isinstance(result, np.ndarray) or not isinstance(result, (tuple, list)):
        raise ValueError(f"returned a {type(result).__name__}; expected a list with one array per tensor")
    return _parts(result, [f"tensor {i}" for i in range(len(result))], "a list of arrays")


def tensors_and_norm(result):
    """``(list of arrays, global norm)`` as {"tensor 0": …, …, "global norm": …}."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ValueError(f"returned a {type(result).__name__}; expected the pair (clipped, global_norm)")
    clipped, norm = result
    if np.ndim(norm) != 0:
        raise ValueError("the second item should be the global norm, one number")
    return {**tensors(clipped), "global norm": float(norm)}


def batchnorm_outputs(result):
    """``(y, new_moving_mean, new_moving_var)`` under those names."""
    return _parts(result, ("y", "new_moving_mean", "new_moving_var"), "(y, new_moving_mean, new_moving_var)")


def standardized(result):
    """``(train_std, test_std)`` under those names."""
    return _parts(result, ("train_std", "test_std"), "the pair (train_std, test_std)")


# -- Keras models: their Dense layers in words ------------------------------------------------
INITIALIZER_NAMES = {  # (scale, mode, distribution) → the name Keras accepts for it
    (1.0, "fan_in", "truncated_normal"): "lecun_normal",
    (1.0, "fan_in", "untruncated_normal"): "lecun_normal",
    (1.0, "fan_in", "uniform"): "lecun_uniform",
    (2.0, "fan_in", "truncated_normal"): "he_normal",
    (2.0, "fan_in", "uniform"): "he_uniform",
    (1.0, "fan_avg", "uniform"): "glorot_uniform",
    (1.0, "fan_avg", "truncated_normal"): "glorot_normal",
}


def initializer_name(initializer):
    """The Keras name of a kernel initializer, from what it draws (so that ``"lecun_normal"``,
    ``LecunNormal()`` and ``VarianceScaling(1, "fan_in", "truncated_normal")`` are one)."""
    if all(hasattr(initializer, a) for a in ("scale", "mode", "distribution")):
        key = (float(initializer.scale), initializer.mode, initializer.distribution)
        return INITIALIZER_NAMES.get(key, f"VarianceScaling{key}")
    return type(initializer).__name__


def dense_stack(model):
    """``(dense, others)``: the model's Dense layers as [units, activation, initializer name],
    input side first (an ``Activation`` layer right after a linear Dense counts as its
    activation), and the class names of the layers that are neither (Input and Flatten aside)."""
    import keras

    stack, others, previous = [], [], None
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            stack.append([int(layer.units), layer.activation.__name__, initializer_name(layer.kernel_initializer)])
        elif (isinstance(layer, keras.layers.Activation) and isinstance(previous, keras.layers.Dense)
              and stack[-1][1] == "linear"):
            stack[-1][1] = layer.activation.__name__
        elif not isinstance(layer, (keras.layers.InputLayer, keras.layers.Flatten)):
            others.append(type(layer).__name__)
        previous = layer
    return stack, others


def snn_layers(model):
    """A self-normalizing MLP in words: input shape, hidden Dense layers [units, activation,
    initializer], the output layer [units, activation], any other layers."""
    stack, others = dense_stack(model)
    return {"input shape": [int(d) for d in model.input_shape[1:]], "hidden layers": stack[:-1],
            "output layer": stack[-1][:2] if stack else None, "other layers": others}


def residual_layers(model):
    """A residual MLP in words: hidden Dense layers [units, activation], the number of Add
    layers, the output layer [units, activation] and the parameter count."""
    import keras

    stack, _ = dense_stack(model)
    return {"hidden layers": [s[:2] for s in stack[:-1]], "output layer": stack[-1][:2] if stack else None,
            "Add layers": sum(isinstance(layer, keras.layers.Add) for layer in model.layers),
            "parameters": int(model.count_params())}


# -- lesson 06's identity block ---------------------------------------------------------------
def layers_of(model, kind):
    """The model's layers of class ``keras.layers.<kind>``, in order."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, getattr(keras.layers, kind))]


def fixed_block_weights(model, rng):
    """Draw fixed weights for a block's Conv2D and BatchNormalization layers (in pairs) and set
    them; returns them as ((kernel, bias, γ, β, mean, var), …), a zero bias for a conv without one."""
    weights = []
    for conv, bn in zip(layers_of(model, "Conv2D"), layers_of(model, "BatchNormalization"), strict=True):
        kernel = rng.normal(scale=0.4, size=conv.kernel.shape).astype("float32")
        bias = rng.normal(scale=0.2, size=conv.filters).astype("float32")
        conv.set_weights([kernel, bias] if conv.use_bias else [kernel])
        channels = bn.gamma.shape[0] if bn.gamma is not None else conv.filters
        stats = [rng.uniform(0.5, 1.5, channels), rng.normal(scale=0.3, size=channels),
                 rng.normal(scale=0.3, size=channels), rng.uniform(0.5, 2.0, channels)]
        stats = [s.astype("float32") for s in stats]
        bn.set_weights(stats)
        weights.append((kernel, bias if conv.use_bias else np.zeros_like(bias), *stats))
    return weights


def identity_block_summary(model):
    """An identity block (a Keras model from input X to the block's output) in words: output shape,
    the Conv2D windows and filters, the number of Add layers, and — with fixed weights set into
    two Conv2D/BN pairs — the output's (mean, std, share of zeros) on a fixed input of negative
    and positive values, in inference and in training mode (None without two such pairs)."""
    import keras

    convs, bns = layers_of(model, "Conv2D"), layers_of(model, "BatchNormalization")
    summary = {"output shape": [int(d) for d in model.output_shape[1:]],
               "Conv2D windows": [[int(k) for k in conv.kernel_size] for conv in convs],
               "Conv2D filters": [int(conv.filters) for conv in convs],
               "Add layers": len(layers_of(model, "Add"))}
    statistics = {"inference": None, "training": None}
    if len(convs) == len(bns) == 2:
        rng = np.random.default_rng(606)
        fixed_block_weights(model, rng)
        x = rng.normal(size=(2, *model.input_shape[1:])).astype("float32")
        for mode in statistics:
            y = keras.ops.convert_to_numpy(model(x, training=mode == "training")).astype(float)
            # to 4 decimals: float32 convolutions differ in their last bits from one machine to another
            statistics[mode] = [round(float(v), 4) for v in (y.mean(), y.std(), np.mean(y == 0))]
    return {**summary, **{f"{mode} output (mean, std, share of zeros)": v for mode, v in statistics.items()}}


def norm_profile(norms):
    """A profile of norms (one per layer or time step) in words: its shape, and whether every
    entry is a finite positive number (what any working network gives)."""
    array = np.asarray(norms, dtype=float)
    return {"shape": list(array.shape), "every entry finite and > 0": bool(np.all(np.isfinite(array) & (array > 0)))}


# -- what a call left in its arguments (kind="call_returning_inputs") -------------------------
def arguments_after(answer):
    """The first argument (a list of arrays) as the call left it, as {"tensor 0": …, …}."""
    return tensors(answer["args_after"][0])


def batchnorm_arguments_after(answer):
    """γ, β and the moving statistics as ``batchnorm_forward`` left them."""
    names = ("gamma", "beta", "moving_mean", "moving_var")
    return {name: np.asarray(value, dtype=float) for name, value in zip(names, answer["args_after"][1:5])}
