"""Lesson 01, the problem: ``deep_linear_activations`` and ``layer_gradient_norms``."""

import numpy as np

from autograder.exercise import (Case, CheckFailed, Exercise, KerasLossArg, KerasModelArg,
                                 allclose, as_float_array, fail)
from autograder.registry import register
from autograder.solution import Mutant


@register
class DeepLinearActivations(Exercise):
    name = "deep_linear_activations"
    mistakes = (
        Mutant("off by one layer: the norms are recorded before each layer instead of after it, so the first "
               "is the input's; entry l should be the norm after l + 1 multiplications (a[1] = W x already "
               "counts).",
               {"        activation = weight @ activation\n        norms.append(np.linalg.norm(activation))\n":
                "        norms.append(np.linalg.norm(activation))\n        activation = weight @ activation\n"}),
        Mutant("this is the L1 norm (sum of |a|); use the L2 norm.",
               {"norms.append(np.linalg.norm(activation))": "norms.append(np.abs(activation).sum())"}),
        Mutant("the first entry is the input's own norm; the array holds the norm *after* each of the depth "
               "layers, layer 1 first.", {"norms, activation = [], x": "norms, activation = [np.linalg.norm(x)], x"}),
        Mutant("these are squared norms; take the square root (numpy.linalg.norm does).",
               {"norms.append(np.linalg.norm(activation))": "norms.append(np.linalg.norm(activation) ** 2)"}),
    )

    def basic_cases(self):
        return [Case(args=(np.array([3.0, 4.0]), 2.0, 3),
                     hint="‖[3, 4]‖ = 5, and each layer doubles it: 10, 20, 40. The input's 5 is not in the list."),
                Case(args=(np.array([0.0, 2.0]), 0.5, 1), hint="one layer halves ‖x‖ = 2 to 1."),
                Case(args=(np.array([3.0, 4.0]), 1.2, 5), hint="each layer multiplies the norm by 1.2: 5·1.2, 5·1.2², …"),
                Case(args=(np.ones(3), 1.2, 0), raises="ValueError", hint="depth must be at least 1.")]

    def hidden_cases(self):
        rng = np.random.default_rng(1001)
        cases = []
        for _ in range(6):
            n, scale, depth = int(rng.integers(1, 9)), float(rng.uniform(0.4, 1.6)), int(rng.integers(1, 60))
            cases.append(Case(f"random x of length {n}, scale={scale:.3f}, depth={depth}",
                              (rng.normal(size=n), scale, depth)))
        cases += [
            Case("depth=1", (np.array([2.0, -1.0]), 0.5, 1)),
            Case("scale=1.0 keeps the norm", (np.array([1.0, 2.0, 2.0]), 1.0, 10)),
            Case("x = 0 stays 0", (np.zeros(4), 1.5, 7)),
            Case("negative entries, scale=1.5, depth=40", (np.array([-3.0, -4.0]), 1.5, 40)),
            Case("depth=0", (np.array([1.0, 1.0]), 1.2, 0), raises="ValueError"),
            Case("x as a 2-D batch", (np.ones((2, 3)), 1.2, 4), raises="ValueError"),
        ]
        return cases

    def judge(self, case, got, expected):
        array = as_float_array(got)
        if array is None or array.ndim != 1:
            raise CheckFailed(f"{self.name}({case.label}) returned {type(got).__name__}; return a 1-D "
                              "NumPy array with one norm per layer.")
        if allclose(array, expected, rtol=1e-6, atol=1e-12):
            return
        depth = case.args[2]
        if array.shape != expected.shape:
            self.fail_known(case, got, expected)
            fail(self.name, case, expected, got, f"return exactly depth = {depth} norms, one per layer.")
        fail(self.name, case, expected, got)  # Exercise.named_mistake names a known mistake


def _dense_model(widths, input_dim, activation, use_bias, seed):
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input((input_dim,))]
    layers += [keras.layers.Dense(w, activation=activation, use_bias=use_bias) for w in widths[:-1]]
    layers.append(keras.layers.Dense(widths[-1], use_bias=use_bias))
    return keras.Sequential(layers)


def _conv_model(seed):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                             keras.layers.Flatten(), keras.layers.Dense(3)])


@register
class LayerGradientNorms(Exercise):
    name = "layer_gradient_norms"

    code_imports = "import keras\nimport numpy as np\nfrom gradclinic.models import deep_linear_model"
    TOLERANCE = {"rtol": 1e-4, "atol": 1e-7}
    mistakes = (
        Mutant("squared norms: Σg² without the square root",
               {"float(tf.norm(gradient))": "float(tf.reduce_sum(gradient ** 2))"}),
        Mutant("these are the norms of the weights themselves; the exercise asks for the norms of the "
               "loss's gradient with respect to them.",
               {"for gradient in tape.gradient(loss, kernels)": "for gradient in kernels"}),
        Mutant("the order is reversed: list the input-side layer first, as model.layers does.",
               {"for layer in model.layers if": "for layer in model.layers[::-1] if"}),
        Mutant("biases are included: take the gradient of each layer's kernel only (layer.kernel), not of "
               "model.trainable_variables.",
               {'[layer.kernel for layer in model.layers if getattr(layer, "kernel", None) is not None]':
                "model.trainable_variables"}),
    )

    def basic_cases(self):
        # MSE to a zero target: loss = mean(a[3]²) with a[3] = 8·x, so every kernel's gradient has
        # norm (2/2)·2^(2·3−1)·‖x‖² = 32 (the lesson's outer-product argument).
        return [Case("3 layers of 2·I, x = [1, 0], y = 0",
                     args_code="deep_linear_model(depth=3, width=2, scale=2.0), np.array([[1.0, 0.0]], 'float32'), "
                               "np.zeros((1, 2), 'float32'), keras.losses.MeanSquaredError()",
                     rtol=1e-5, hint="one norm per kernel, input side first; take the gradient of "
                                     "loss_fn(y, model(x)) with respect to layer.kernel."),
                Case("2 Dense layers with biases, all weights 1",
                     args_code="keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, kernel_initializer='ones'), "
                               "keras.layers.Dense(1, kernel_initializer='ones')]), np.ones((2, 3), 'float32'), "
                               "np.ones((2, 1), 'float32'), keras.losses.MeanSquaredError()",
                     rtol=1e-5, hint="2 layers, 2 norms: take kernels only (layer.kernel), not "
                                     "model.trainable_variables.")]

    def hidden_cases(self):
        rng = np.random.default_rng(7)
        model = _dense_model([8, 8, 1], 4, "tanh", use_bias=False, seed=7)
        cases = [Case("a 3-layer tanh net without biases, MSE loss",
                      (KerasModelArg(model), rng.normal(size=(16, 4)).astype("float32"),
                       rng.normal(size=(16, 1)).astype("float32"), KerasLossArg("MeanSquaredError")))]
        rng = np.random.default_rng(1002)
        for seed, widths, activation in [(1, [16] * 6 + [1], "sigmoid"), (2, [5, 1], "relu"),
                                         (3, [32] * 12 + [1], "tanh")]:
            model = _dense_model(widths, 6, activation, use_bias=True, seed=seed)
            cases.append(Case(f"a {len(widths)}-layer {activation} net with biases, MSE loss",
                              (KerasModelArg(model), rng.normal(size=(20, 6)).astype("float32"),
                               rng.normal(size=(20, 1)).astype("float32"),
                               KerasLossArg("MeanSquaredError"))))
        depth_one = _dense_model([3], 5, None, use_bias=True, seed=4)
        cases.append(Case("depth 1: a single Dense layer",
                          (KerasModelArg(depth_one), rng.normal(size=(10, 5)).astype("float32"),
                           rng.normal(size=(10, 3)).astype("float32"), KerasLossArg("MeanSquaredError"))))
        conv = _conv_model(seed=5)
        cases.append(Case("a Conv2D → Flatten → Dense classifier, cross-entropy loss",
                          (KerasModelArg(conv), rng.uniform(size=(12, 8, 8, 1)).astype("float32"),
                           rng.integers(0, 3, 12).astype("int32"),
                           KerasLossArg("SparseCategoricalCrossentropy"))))
        return cases

    def judge(self, case, got, expected):
        array = as_float_array(got)
        if array is None or array.ndim != 1:
            raise CheckFailed(f"{self.name}({case.label}) returned {type(got).__name__}; return a list "
                              "of floats, one per layer with a kernel.")
        expected = np.array(expected)
        if allclose(array, expected, **self.TOLERANCE):
            return
        if array.shape != expected.shape:
            self.fail_known(case, got, expected)
            fail(self.name, case, expected, got, f"one norm per layer with a kernel: "
                 f"{expected.size} here (Flatten and Input layers have none).")
        fail(self.name, case, expected, got)
