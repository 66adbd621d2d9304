"""Lesson 06, residual networks: ``identity_block`` and ``residual_mlp``.

The references are the lesson's solution cells; the conventions they fix (the lesson states them):

- ``identity_block(X, f, filters)`` with ``filters = (F1, F2)``: Conv2D(F1, (f, f), padding
  "same") → BatchNormalization (channel axis) → ReLU → Conv2D(F2, (f, f), "same") →
  BatchNormalization, then Add the block's input, then ReLU. Strides 1; Keras's defaults
  otherwise (biases on, BN epsilon 1e-3). F2 must equal X's channels (ValueError otherwise),
  and ``filters`` must be a pair. The judge sets the same fixed weights (kernels, biases, BN
  γ, β and moving statistics) into the learner's block and the reference, and compares both
  on an input with negative values in inference and in training mode.
- ``residual_mlp(input_dim, depth, width, n_classes, residual=True)``: Input((input_dim,)) →
  Dense(width, tanh) (the projection) → ``depth`` blocks, each Dense(width, tanh) whose output is
  added to its input with an ``Add`` layer when ``residual`` (and simply replaces it when not) →
  Dense(n_classes, softmax). Every hidden Dense layer uses the lesson's small initializer,
  VarianceScaling(0.1, "fan_in", "truncated_normal") (any distribution of that variance passes).
  The output layer's initializer is not judged. The judge also measures the property the lesson
  is about at initialisation: the ratio of the first to the last hidden layer's output gradient.
"""

import numpy as np

from autograder.exercise import Case, CheckFailed, Exercise, allclose, rebuilt_model, short
from autograder.registry import register
from autograder.solution import Mutant
from gradclinic.models import SMALL_SCALE, first_to_last_ratio, output_gradient_norms
from gradclinic.summaries import fixed_block_weights as _fixed_weights
from gradclinic.summaries import layers_of as _layers_of

BN_EPSILON = 1e-3  # keras.layers.BatchNormalization's default


def _rebuild(name, case, got):
    from autograder.harness import ModelData

    if not isinstance(got, ModelData):
        raise CheckFailed(f"{name}({case.label}) returned {short(got)}; return a Keras tensor (identity_block) "
                          "or a Keras model (residual_mlp).")
    return rebuilt_model(got, f"{name}({case.label})", "Use built-in Keras layers only "
                         "(Conv2D, BatchNormalization, Activation/ReLU, Add, Dense).")


# -- identity_block ---------------------------------------------------------------------------
def _tf_block(x, weights, training, variant="reference"):
    """The block computed from its weights with TensorFlow ops, in the reference form or one of
    the mistakes people make (``variant``)."""
    import tensorflow as tf

    (k1, b1, g1, be1, m1, v1), (k2, b2, g2, be2, m2, v2) = weights

    def bn(z, gamma, beta, mean, var):
        if training:
            mean, var = tf.nn.moments(z, axes=[0, 1, 2])
        return gamma * (z - mean) / tf.sqrt(var + BN_EPSILON) + beta

    def conv(z, kernel, bias):
        return tf.nn.conv2d(z, kernel, strides=1, padding="SAME") + bias

    relu = tf.nn.relu
    x = tf.constant(x)
    z = conv(x, k1, b1)
    if variant == "relu before the first BN":
        z = bn(relu(z), g1, be1, m1, v1)
    elif variant == "no ReLU between the convolutions":
        z = bn(z, g1, be1, m1, v1)
    else:
        z = relu(bn(z, g1, be1, m1, v1))
    z = conv(z, k2, b2)
    if variant == "shortcut added before the second BN":
        return relu(bn(z + x, g2, be2, m2, v2)).numpy()
    z = bn(z, g2, be2, m2, v2)
    return {
        "reference": lambda: relu(z + x),
        "relu before the first BN": lambda: relu(z + x),
        "no ReLU between the convolutions": lambda: relu(z + x),
        "no final ReLU": lambda: z + x,
        "ReLU on the main path before the add": lambda: relu(z) + x,
        "no shortcut": lambda: relu(z),
    }[variant]().numpy()


BLOCK_MISTAKES = {
    "no final ReLU": "the ReLU after the addition is missing: the block returns main path + X, which is "
                     "negative wherever X is. The identity block ends with Activation('relu') applied to "
                     "Add()([X, X_shortcut]).",
    "ReLU on the main path before the add": "the ReLU is applied to the main path and X added afterwards: "
                                            "add first, then take the ReLU of the sum.",
    "no shortcut": "the shortcut is missing: add the block's input (saved before the first Conv2D) to the "
                   "main path with Add()([X, X_shortcut]) before the last ReLU.",
    "shortcut added before the second BN": "the shortcut is added before the second BatchNormalization, so BN "
                                           "normalizes it away; the order is Conv2D → BN, then Add, then ReLU.",
    "relu before the first BN": "the first ReLU comes before the first BatchNormalization; the main path is "
                                "Conv2D → BN → ReLU → Conv2D → BN.",
    "no ReLU between the convolutions": "the ReLU between the two convolutions is missing: Conv2D → BN → "
                                        "ReLU → Conv2D → BN.",
}


@register
class IdentityBlock(Exercise):
    name = "identity_block"
    # The judge names this exercise's mistakes itself, from the block's layers and from fixed-weight
    # TensorFlow versions of the wrong blocks (_tf_block); a mutant, called with the case's (f,
    # filters) alone (the harness adds the keras.Input), names nothing through Exercise.named_mistake.
    mistakes = (
        Mutant("f ignored: 1×1 convolutions instead of f×f",
               {'X = keras.layers.Conv2D(F1, (f, f), padding="same")(X)':
                'X = keras.layers.Conv2D(F1, (1, 1), padding="same")(X)',
                'X = keras.layers.Conv2D(F2, (f, f), padding="same")(X)':
                'X = keras.layers.Conv2D(F2, (1, 1), padding="same")(X)'}),
    )

    @staticmethod
    def _case(label, shape, f, filters, raises=None):
        return Case(label, (f, filters), kind="functional", options={"input_shapes": [list(shape)]},
                    raises=raises)

    def basic_cases(self):
        block = self._case("X of shape (6, 6, 4), f=3, filters=(2, 4)", (6, 6, 4), 3, (2, 4))
        block.probe, block.rtol, block.atol = "gradclinic.summaries.identity_block_summary", 0.0, 2e-4
        block.hint = ("padding='same' keeps height and width, and F2 = 4 the channels; kernel_size=(f, f) in both "
                      "Conv2D (a widely copied recipe hard-codes (1, 1) windows and never uses f); save X before "
                      "the first Conv2D and Add()([X, X_shortcut]) after the second BN; the last step is the ReLU "
                      "of the sum, so no output is negative.")
        mismatch = self._case("X with 4 channels, f=3, filters=(2, 5)", (6, 6, 4), 3, (2, 5), raises="ValueError")
        mismatch.hint = "check F2 == X.shape[-1] first and raise ValueError with a message."
        return [block, mismatch]

    def hidden_cases(self):
        c = self._case
        return [
            c("X of shape (5, 7, 3), f=3, filters=(6, 3)", (5, 7, 3), 3, (6, 3)),
            c("f=1 (1×1 convolutions), X (4, 4, 2), filters=(3, 2)", (4, 4, 2), 1, (3, 2)),
            c("f=5 on a small image, X (6, 6, 2), filters=(2, 2)", (6, 6, 2), 5, (2, 2)),
            c("f=2 (an even window), X (5, 5, 3), filters=(4, 3)", (5, 5, 3), 2, (4, 3)),
            c("one channel, X (8, 8, 1), f=3, filters=(4, 1)", (8, 8, 1), 3, (4, 1)),
            c("F2 = 5 but X has 4 channels", (6, 6, 4), 3, (2, 5), raises="ValueError"),
            c("F2 = 2 but X has 3 channels (F1 = 3 matches, F2 does not)", (5, 5, 3), 3, (3, 2), raises="ValueError"),
            c("filters=(2, 4, 4) (a triple, as in ResNet-50's bottleneck block)", (6, 6, 4), 3, (2, 4, 4), raises="ValueError"),
        ]

    def _judge_answer(self, case, answer, answer_store):
        try:
            super()._judge_answer(case, answer, answer_store)
        except CheckFailed as failure:
            error = answer.get("error", "") if isinstance(answer, dict) else ""
            if not case.raises and "incompatible shapes" in error:
                raise CheckFailed(f"{failure}\n  Likely cause: Add received tensors of different shapes: the main "
                                  "path must keep X's height and width (padding='same' in both Conv2D layers) and "
                                  "end with F2 = X's channels.") from None
            if not case.raises and "padding=valid" in error:
                raise CheckFailed(f"{failure}\n  Likely cause: padding='valid' shrinks the image until the window no "
                                  "longer fits; use padding='same' in both Conv2D layers.") from None
            raise

    def reference(self, *args):
        if len(args) == 3:  # called on a keras.Input by the harness: the block, for the visible check
            return super().reference(*args)
        f, filters = args
        return f, tuple(filters)  # judge rebuilds the block per case (it needs the input shape)

    def judge(self, case, got, expected):
        import keras

        f, filters = expected
        shape = tuple(case.options["input_shapes"][0])
        model = _rebuild(self.name, case, got)
        where = f"{self.name}({case.label})"
        if tuple(model.output_shape) != (None, *shape):
            hint = ("a spatial size shrank: use padding='same' in both Conv2D layers so the main path keeps "
                    "X's height and width." if tuple(model.output_shape[1:3]) != shape[:2]
                    else "the output must have X's shape: the block adds X back.")
            raise CheckFailed(f"{where}: output shape {model.output_shape}, expected {(None, *shape)}.\n"
                              f"  Likely cause: {hint}")
        convs, bns = _layers_of(model, "Conv2D"), _layers_of(model, "BatchNormalization")
        if len(convs) != 2 or len(bns) != 2:
            raise CheckFailed(f"{where}: {len(convs)} Conv2D and {len(bns)} BatchNormalization layers; the main "
                              "path has two of each: Conv2D → BN → ReLU → Conv2D → BN.")
        sizes = [tuple(conv.kernel_size) for conv in convs]
        if sizes != [(f, f), (f, f)]:
            hint = (" A widely copied version of this block hard-codes kernel_size=(1, 1) and ignores f: use kernel_size=(f, f)."
                    if (1, 1) in sizes and f != 1 else " Use kernel_size=(f, f) in both.")
            raise CheckFailed(f"{where}: the convolutions' windows are {sizes}, expected {[(f, f)] * 2}.\n"
                              f"  Likely cause: the window is f × f.{hint}")
        if (convs[0].filters, convs[1].filters) != filters:
            raise CheckFailed(f"{where}: the convolutions have {convs[0].filters} and {convs[1].filters} filters, "
                              f"expected F1 = {filters[0]} then F2 = {filters[1]} (filters = (F1, F2), in order).")
        if any(tuple(conv.strides) != (1, 1) for conv in convs):
            raise CheckFailed(f"{where}: a Conv2D has strides {[conv.strides for conv in convs]}; an identity "
                              "block keeps the size, strides=(1, 1).")
        if any(bn.gamma is not None and bn.gamma.shape[0] != conv.filters for conv, bn in zip(convs, bns)):
            raise CheckFailed(f"{where}: a BatchNormalization normalizes the wrong axis; it normalizes each "
                              "channel: axis=-1 (Keras's default, axis=3 for (m, H, W, C) inputs).")
        if not _layers_of(model, "Add"):
            raise CheckFailed(f"{where}: the model has no Add layer.\n  Likely cause: {BLOCK_MISTAKES['no shortcut']}")
        rng = np.random.default_rng(606)
        weights = _fixed_weights(model, rng)
        x = rng.normal(size=(4, *shape)).astype("float32")  # negative values expose a missing final ReLU
        for training in (False, True):
            mode = "training" if training else "inference"
            got_y = keras.ops.convert_to_numpy(model(x, training=training))
            want = _tf_block(x, weights, training)
            if allclose(got_y, want, rtol=1e-4, atol=1e-4):
                continue
            other = _tf_block(x, weights, not training)
            if allclose(got_y, other, rtol=1e-4, atol=1e-4):
                forced = "training=True" if not training else "training=False"
                raise CheckFailed(f"{where}: in {mode} mode the block computes what it should compute in the other "
                                  f"mode.\n  Likely cause: a BatchNormalization is called with {forced}; call it "
                                  "without a training argument, so Keras uses batch statistics in training and "
                                  "the moving averages in inference.")
            for variant, misconception in BLOCK_MISTAKES.items():
                if allclose(got_y, _tf_block(x, weights, training, variant), rtol=1e-4, atol=1e-4):
                    raise CheckFailed(f"{where}, {mode} mode, fixed weights: the output differs from the "
                                      f"reference.\n  Likely cause: {misconception}")
            if got_y.min() < -1e-6:
                raise CheckFailed(f"{where}, {mode} mode: the output has negative values ({got_y.min():.3g}).\n"
                                  f"  Likely cause: {BLOCK_MISTAKES['no final ReLU']}")
            raise CheckFailed(f"{where}, {mode} mode, fixed weights: expected {short(want)}, got {short(got_y)}.\n"
                              "  Likely cause: the layers are in another order; Conv2D → BN → ReLU → Conv2D → BN, "
                              "Add the input, ReLU.")


# -- residual_mlp ---------------------------------------------------------------------------
def _gradient_ratio(model, input_dim, n_classes, seed=6):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(128, input_dim)).astype("float32")
    y = rng.integers(n_classes, size=128)
    return first_to_last_ratio(output_gradient_norms(model, x, y))


def _initializer_variance(initializer):
    """(scale, mode) of a VarianceScaling initializer, or None for another kind."""
    if all(hasattr(initializer, a) for a in ("scale", "mode", "distribution")):
        return float(initializer.scale), initializer.mode
    return None


@register
class ResidualMlp(Exercise):
    name = "residual_mlp"
    # The judge names this exercise's mistakes from the model's layers; a mutant's model is not
    # plain data that Exercise.same compares, so it names nothing through Exercise.named_mistake.
    mistakes = (
        Mutant("the ResNet habit carried over: a linear branch, then tanh of the sum, instead of h + "
               "tanh(Dense(h))",
               {"""        branch = keras.layers.Dense(int(width), activation="tanh", kernel_initializer=small_initializer())(h)
        h = keras.layers.Add()([h, branch]) if residual else branch
""": """        if residual:  # ResNet style: linear branch, add, then the activation of the sum
            branch = keras.layers.Dense(int(width), kernel_initializer=small_initializer())(h)
            h = keras.layers.Activation("tanh")(keras.layers.Add()([h, branch]))
        else:
            h = keras.layers.Dense(int(width), activation="tanh", kernel_initializer=small_initializer())(h)
"""}),
    )

    def basic_cases(self):
        probe = "gradclinic.summaries.residual_layers"
        return [Case(args=(64, 4, 16, 10), probe=probe, hint="the projection Dense(16, tanh), then 4 blocks, each "
                     "a Dense(16, tanh) added to its input by one Add layer, then Dense(10, softmax): "
                     "(64+1)·16 + 4·(16+1)·16 + (16+1)·10 parameters (Add has none)."),
                Case(args=(64, 4, 16, 10), kwargs={"residual": False}, probe=probe, hint="the plain twin: the "
                     "same Dense layers and no Add layer (each block's output replaces h)."),
                Case(args=(64, 0, 16, 10), raises="ValueError", hint="depth must be ≥ 1.")]

    def hidden_cases(self):
        return [
            Case("input_dim=64, depth=12, width=32, n_classes=10 (gradient ratio measured)", (64, 12, 32, 10)),
            Case("input_dim=64, depth=12, width=32, n_classes=10, residual=False (gradient ratio measured)",
                 (64, 12, 32, 10), {"residual": False}),
            Case("input_dim=5, depth=1, width=8, n_classes=3", (5, 1, 8, 3)),
            Case("input_dim=20, depth=3, width=4, n_classes=7, residual=False", (20, 3, 4, 7), {"residual": False}),
            Case("residual passed by position: (10, 2, 6, 2, True)", (10, 2, 6, 2, True)),
            Case("depth=0", (10, 0, 8, 3), raises="ValueError"),
            Case("width=0", (10, 2, 0, 3), raises="ValueError"),
            Case("n_classes=1", (10, 2, 8, 1), raises="ValueError"),
            Case("depth=2.5", (10, 2.5, 8, 3), raises="ValueError"),
        ]

    def judge(self, case, got, expected):
        input_dim, depth, width, n_classes = case.args[:4]
        residual = case.args[4] if len(case.args) > 4 else case.kwargs.get("residual", True)
        where = f"{self.name}({case.label})"
        model = _rebuild(self.name, case, got)
        if tuple(model.input_shape) != (None, input_dim):
            raise CheckFailed(f"{where}: the model takes inputs of shape {model.input_shape}; it should take "
                              f"(None, {input_dim}): keras.Input((input_dim,)).")
        if tuple(model.output_shape) != (None, n_classes):
            raise CheckFailed(f"{where}: output shape {model.output_shape}, expected (None, {n_classes}).")
        dense = _layers_of(model, "Dense")
        adds = _layers_of(model, "Add")
        if dense and dense[-1].activation.__name__ != "softmax":
            raise CheckFailed(f"{where}: the output layer's activation is {dense[-1].activation.__name__}; it must "
                              "be softmax, so the model returns class probabilities.")
        if not residual and adds:
            raise CheckFailed(f"{where}: residual=False but the model has {len(adds)} Add layers; the plain twin "
                              "has no skip connections (each block's Dense output replaces h).")
        if residual and len(adds) != depth:
            hint = (" Did you ignore the residual argument?" if not adds else
                    " One skip per block: h = Add()([h, Dense(width, 'tanh')(h)]) inside the loop, none around "
                    "the projection or the output layer.")
            raise CheckFailed(f"{where}: {len(adds)} Add layers for depth = {depth}; expected {depth}.{hint}")
        hidden = dense[:-1]
        if len(hidden) != depth + 1:
            raise CheckFailed(f"{where}: {len(hidden)} hidden Dense layers; expected depth + 1 = {depth + 1}: the "
                              "projection Dense(width, tanh), then one Dense per block, then the output layer.")
        for number, layer in enumerate(hidden):
            what = "the projection" if number == 0 else f"block {number}'s Dense"
            if layer.units != width or layer.activation.__name__ != "tanh":
                raise CheckFailed(f"{where}: {what} is Dense({layer.units}, {layer.activation.__name__}); every "
                                  f"hidden layer is Dense(width={width}, activation='tanh').")
            variance = _initializer_variance(layer.kernel_initializer)
            if variance is None or not np.isclose(variance[0], SMALL_SCALE) or variance[1] != "fan_in":
                name = type(layer.kernel_initializer).__name__
                raise CheckFailed(f"{where}: {what} uses {name} {variance or ''}; the lesson's nets use "
                                  "kernel_initializer=keras.initializers.VarianceScaling(0.1, 'fan_in', "
                                  "'truncated_normal') (Dense's default is glorot_uniform).")
        if model.count_params() != expected.count_params():
            raise CheckFailed(f"{where}: {model.count_params()} parameters, expected {expected.count_params()} "
                              "(Dense layers with biases; the Add layers have none).")
        if depth >= 8:
            ratio = _gradient_ratio(model, input_dim, n_classes)
            if residual and not 1e-1 < ratio < 1e3:
                raise CheckFailed(f"{where}: at initialisation ‖∂loss/∂a[first]‖ / ‖∂loss/∂a[last]‖ = {ratio:.3g}; a "
                                  "residual net keeps it far from 0. Check that each block adds its input.")
            if not residual and not ratio < 1e-2:
                raise CheckFailed(f"{where}: at initialisation the first/last gradient ratio is {ratio:.3g}; the "
                                  "plain net with these small weights should shrink it by orders of magnitude.")
