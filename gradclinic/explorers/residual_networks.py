"""Lesson 06's helpers and explorer: how a skip connection changes the gradient that reaches
each layer of a deep tanh MLP at initialisation.

The quantity is ‖∂loss/∂a[l]‖, the gradient of the loss with respect to layer l's output (over a
batch): the error signal backpropagation delivers to that layer. In a plain net it is multiplied
by Wᵀ·diag(tanh′) at every layer; in a residual net by (I + Wᵀ·diag(tanh′)), whose identity part
carries it past every block unchanged.

:func:`gradclinic.models.output_gradient_norms` measures it for any Keras model built of Dense
layers (the notebook's nets, the grader's checks); the lesson's small initializer is there too.
The explorer uses its own compiled TensorFlow function over a stack of square weight matrices
(``tf.scan``), traced once for both nets, and keeps every profile it computed, so a slider move
costs at most one pass of a few milliseconds.
"""

import numpy as np

from gradclinic.models import SMALL_SCALE
from gradclinic.plots import bucket_depths, decade_limits, fast_log_axis
from gradclinic.widgets import Explorer

MAX_DEPTH = 60
WIDTH = 64
BATCH = 128


def train_curves(model, data, epochs, batch_size=128, learning_rate=3e-3):
    """Train ``model`` with Adam on ``data`` (a :class:`gradclinic.data.Split`); returns the
    History's dict (loss, accuracy, val_loss, val_accuracy per epoch)."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch_size, verbose=0,
                        validation_data=(data.x_test, data.y_test))
    return {key: np.asarray(values, dtype=float) for key, values in history.history.items()}


class StackProfiles:
    """‖∂loss/∂a[l]‖ per layer of a square tanh MLP (width ``WIDTH``) at any depth, plain or
    residual, for one fixed stack of small weights (``MAX_DEPTH`` layers drawn once; a net of
    depth L uses the first L). The loss is Σ g·a[L] for a fixed random g of unit norm per
    example, so the profile shows how the net itself carries gradients. Each profile is
    computed once and kept (at most 60 pairs of ≤ 60 numbers)."""

    def __init__(self, rng, width=WIDTH, batch=BATCH, max_depth=MAX_DEPTH, scale=SMALL_SCALE):
        self.width, self.max_depth = width, max_depth
        self.kernels = (rng.standard_normal((max_depth, width, width)) * np.sqrt(scale / width)).astype("float32")
        self.inputs = rng.standard_normal((batch, width)).astype("float32")
        upstream = rng.standard_normal((batch, width))
        self.upstream = (upstream / np.linalg.norm(upstream, axis=1, keepdims=True)).astype("float32")
        self._run = self._compiled()
        self._norms = {}

    def _compiled(self):
        """One function for both nets, side by side in the batch: copy 0 plain, copy 1 residual."""
        import tensorflow as tf

        skip = tf.constant([0.0, 1.0])[:, None, None]  # × a: no skip in the plain copy, the identity in the other
        inputs, upstream = tf.constant(np.stack([self.inputs] * 2)), tf.constant(np.stack([self.upstream] * 2))

        @tf.function(input_signature=[tf.TensorSpec([None, self.width, self.width], tf.float32)])
        def run(kernels):
            # A zero probe is added to every layer's output: ∂loss/∂probe[l] = ∂loss/∂a[l].
            probes = tf.zeros(tf.concat([tf.shape(kernels)[:1], tf.shape(inputs)], axis=0))
            with tf.GradientTape() as tape:
                tape.watch(probes)

                def layer(a, weights):
                    kernel, probe = weights
                    return tf.tanh(tf.matmul(a, kernel)) + skip * a + probe

                outputs = tf.scan(layer, (kernels, probes), initializer=inputs)
                loss = tf.reduce_sum(outputs[-1] * upstream)
            return tf.sqrt(tf.reduce_sum(tf.square(tape.gradient(loss, probes)), axis=[2, 3]))  # (depth, 2)

        return run

    def gradient_norms(self, depth, residual):
        """(depth,) ‖∂loss/∂a[l]‖ for l = 1..depth, input side first."""
        if not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must lie in 1..{self.max_depth}, got {depth}")
        if int(depth) not in self._norms:  # both nets at once: the explorer draws both
            self._norms[int(depth)] = self._run(self.kernels[: int(depth)]).numpy().T
        return self._norms[int(depth)][int(bool(residual))].copy()


class ResidualExplorer(Explorer):
    """Depth and plain/residual → the per-layer gradient profile, both nets drawn, the chosen one
    bold, with the first-layer gradient norm and the first/last ratio in the title.

    The axes depend on the depth's 1-2-5 bucket only (they cover both nets' profiles at the
    bucket's ends), so within a bucket moving the depth moves the points against fixed axes.
    """

    def __init__(self, rng=None, depth=20, mode="plain"):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt

        self.profiles = StackProfiles(np.random.default_rng(0) if rng is None else rng)
        figure, self.axes = plt.subplots(figsize=(8, 3.6))
        ax = self.axes
        self.lines = {m: ax.plot([], [], "o-", ms=3, label=m)[0] for m in ("plain", "residual")}
        fast_log_axis(ax)  # plain-text decade labels: a cheaper background to render
        ax.set_xlabel("layer l (input side left)")
        ax.set_ylabel("‖∂loss/∂a[l]‖ (log)")
        ax.legend(loc="lower right")  # its handles are copies: a mode's weight shows on its line only
        figure.set_layout_engine("none")
        figure.subplots_adjust(left=0.11, right=0.98, top=0.88, bottom=0.15)
        controls = {"depth": widgets.IntSlider(value=depth, min=1, max=MAX_DEPTH, description="depth L"),
                    "mode": widgets.ToggleButtons(options=("plain", "residual"), value=mode, description="net")}
        super().__init__(figure, controls)
        self.moving(*self.lines.values(), ax.title)
        self.draw(**self.values())

    def _limits(self, depth, shown):
        """(x range, y range): the bucket's, widened only if the ``shown`` profiles fall outside it."""
        depths = bucket_depths(depth, MAX_DEPTH)
        ends = [self.profiles.gradient_norms(d, residual) for d in depths for residual in (False, True)]
        values = np.concatenate(ends + list(shown.values()) + [np.array([1.0])])
        return (0.5, max(depths[-1], 2) + 0.5), decade_limits(values, margin=3)

    def draw(self, depth, mode):
        layers = np.arange(1, depth + 1)
        shown = {}
        for name, line in self.lines.items():
            norms = self.profiles.gradient_norms(depth, name == "residual")
            norms = np.where(norms > 0, norms, np.nan)  # an underflow to 0 cannot sit on a log axis
            line.set_data(layers, norms)
            line.set_linewidth(2.5 if name == mode else 0.8)
            line.set_alpha(1.0 if name == mode else 0.4)
            shown[name] = norms
        x_range, y_range = self._limits(depth, shown)
        self.axes.set_xlim(*x_range)
        self.axes.set_ylim(*y_range)
        chosen = shown[mode]
        self.axes.set_title(f"{mode}, depth {depth}: first-layer gradient {chosen[0]:.2g}, "
                            f"first/last = {chosen[0] / chosen[-1]:.2g}")
