"""Probes: what a self-check compares when a result is not a few plain numbers.

A case may name a probe by its dotted path (``probe="gradclinic.probes.weight_statistics"``);
the visible check and the grader both compare ``probe(result)`` with ``probe(reference's
result)``. A probe is a plain function of one result returning plain data (numbers, arrays,
strings, lists, dicts). Lessons may add their own probes in their own gradclinic module.
"""

import numpy as np


def weight_statistics(weights):
    """A random weight sample summarised as ``[mean / std, std, max |w| / std, edge fraction]``.

    Two correct draws with different random numbers agree on these within sampling error; the
    edge fraction (share of values within 0.1 % of max |w|) is near 0 unless values were
    clipped, which piles them up at the bound.
    """
    weights = np.asarray(weights, dtype=float).ravel()
    std = weights.std()
    largest = np.abs(weights).max()
    at_edge = np.mean(np.abs(weights) >= largest * (1 - 1e-3))
    return np.array([weights.mean() / std, std, largest / std, at_edge])


def model_summary(model):
    """A Keras model's architecture: ``{"layers": class names, "output_shape": list, "parameters": int}``."""
    return {"layers": [type(layer).__name__ for layer in model.layers],
            "output_shape": [None if d is None else int(d) for d in model.output_shape],
            "parameters": int(model.count_params())}


def model_output(model):
    """A Keras model's output on a fixed input: a batch of two, values evenly spaced in [−1, 1]."""
    shape = (2,) + tuple(int(d) for d in model.input_shape[1:])
    x = np.linspace(-1.0, 1.0, int(np.prod(shape)), dtype="float32").reshape(shape)
    return np.asarray(model(x, training=False))


def weight_sample(weights):
    """A random weight sample as ``{"shape": tuple, "statistics": weight_statistics(weights)}``."""
    return {"shape": tuple(int(d) for d in np.shape(weights)), "statistics": weight_statistics(weights)}
