"""Training runs the lessons show, in their notebooks and through their explorers (which only
draw them).

- :func:`gap_sweep`: recurrent cells trained on the agreement task at every gap, side by side in
  one compiled TensorFlow step, with their gradient through time (lesson 05).
- :func:`train_from_seeds`: one architecture trained with Adam from several seeds, sharing one
  compiled training step (lessons 06 and 09); :func:`run_restarter` is how several runs share one
  net and its compiled step (lessons 07 and 11 too).
- :class:`ClippedDescent`: a deep linear net trained by full-batch gradient descent, with and
  without clipping, many runs side by side in vectorised NumPy (lesson 07).
- :func:`train_l2_grid`: an MLP trained on digits with an L2 penalty, for a whole grid of λ at
  once, in vectorised NumPy checked against Keras's ``fit`` (lesson 08).
- :func:`train_on_digits`: a Keras model trained with the SNN recipe's Nadam, its validation
  accuracy per epoch; :func:`race_on_digits`, several models so trained (lesson 10).
- :func:`build_for_fit`: what every Keras ``fit`` here does first, so that its step is traced once.
"""

import time
from dataclasses import dataclass, field, replace
from functools import lru_cache

# Imported at the top: only lessons that train with TensorFlow import this module.
import keras
import numpy as np
import tensorflow as tf

from gradclinic.data import agreement_corpus, agreement_vocabulary
from gradclinic.models import agreement_classifier


def build_for_fit(model, x, y):
    """Create, from one example of ``x`` and ``y``, the variables a compiled ``model`` would
    create in the first trace of its training step: the optimizer's slots, the compiled loss's
    and metrics' state. They start as ``fit`` would start them, so the run computes the same.

    TensorFlow traces a function again when its first trace created variables, and Keras leaves
    them to that trace (unless a distribution strategy is set): a deep net's step is traced
    twice, and tracing costs more CPU than a few epochs of training here (lesson 09's 20-layer
    BN net: 5.3 → 2.5 s for two epochs). Keras offers this build only as a private method; a
    Keras without it just traces twice, as before."""
    symbolic_build = getattr(model, "_symbolic_build", None)
    if symbolic_build is not None:
        symbolic_build(data_batch=(np.asarray(x[:1]), np.asarray(y[:1]), None))


def run_restarter(net, optimizer):
    """For several training runs through one net and its compiled (or traced) step: returns
    ``restart(model)``, which loads ``model``'s state (weights and random-seed state; ``model`` has
    ``net``'s architecture) into ``net`` and puts ``optimizer`` back as it was built, so that the
    next run trains as a fresh ``model`` with a fresh optimizer would.

    Compiling a deep net's step takes seconds of CPU, often longer than the short runs here, and
    it is the same for every run of one architecture and optimizer."""
    if not optimizer.built:
        optimizer.build(net.trainable_variables)
    built = [(variable, variable.numpy()) for variable in optimizer.variables]

    def restart(model):
        for target, source in zip(net.variables, model.variables, strict=True):
            target.assign(source)
        for variable, value in built:
            variable.assign(value)

    return restart


def train_from_seeds(build, seeds, x, y, epochs, batch_size=128, learning_rate=3e-3, validation_data=None):
    """Train a fresh ``build()`` from each of ``seeds`` with Adam and sparse cross-entropy;
    return ``{seed: (model, history)}``, ``history`` the History's dict (loss, accuracy and, with
    ``validation_data``, val_loss and val_accuracy: an array per key, one entry per epoch).

    Each seed seeds Keras before its ``build()``, so every model starts from its own seed's
    weights and sees its own seed's batch order, as a new compiled model per seed would. They
    share one compiled training step: compiling a deep net's step takes several seconds of CPU
    (longer than a few epochs of its training here), and it is the same for every seed. Each
    seed's weights, and a restarted optimizer, go into that one compiled model, train there, and
    come back to the seed's own model, which is returned trained (ready for inference and for
    calls in training mode; it is not compiled itself).
    """
    trainer = build()
    trainer.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                    loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    build_for_fit(trainer, x, y)
    restart = run_restarter(trainer, trainer.optimizer)
    runs = {}
    for seed in seeds:
        keras.utils.set_random_seed(seed)
        model = build()
        restart(model)
        history = trainer.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, validation_data=validation_data)
        model.set_weights(trainer.get_weights())
        runs[seed] = model, {key: np.asarray(values, dtype=float) for key, values in history.history.items()}
    return runs


# -- lesson 07: a deep linear net, trained by full-batch descent with and without clipping ------
# A net of ``depth`` linear layers (width 8, weights near the identity) learns a random linear map by
# full-batch gradient descent on the squared error ‖output − target‖², averaged over the batch, in
# vectorised NumPy. The clipping is written into the training loop, on stacked runs: clipping a
# list of gradients is the lesson's exercise, so the toolkit offers no function that does it.
DESCENT_MAX_DEPTH = 50  # the layers drawn once; a shallower net uses the first of them
DESCENT_STEPS = 50  # the steps of a run
CLIPPING_MODES = ("by global norm", "by norm", "by value")
DIVERGED = 1e12  # a loss above this (or not finite) ends a run: the next steps would overflow


class ClippedDescent:
    """Full-batch gradient descent on a deep linear regression, with optional clipping.

    The student computes ``x @ W[1] @ … @ W[depth]`` (rows are examples); the target is
    ``x @ teacher`` with a fixed random ``teacher``. Weights start at I + small noise, drawn
    once from ``rng`` for the deepest net; a shallower net uses the first ``depth`` of them.
    Several runs of one depth (each its own learning rate, mode and threshold) train side by
    side as stacked arrays (:meth:`run_many`); :meth:`run` is one of them.
    """

    def __init__(self, rng, width=8, max_depth=DESCENT_MAX_DEPTH, batch=64):
        self.width, self.max_depth = width, max_depth
        self.x = rng.normal(size=(batch, width))
        self.y = self.x @ rng.normal(scale=width ** -0.5, size=(width, width))
        self.initial = np.eye(width) + rng.normal(scale=0.1 / np.sqrt(width), size=(max_depth, width, width))
        self.zero_output_loss = float(np.sum(self.y ** 2) / batch)  # where a collapsed net (output 0) sits

    def loss_and_gradients(self, weights):
        """The loss (batch mean of ‖error‖²) and its gradient for every layer, stacked like
        ``weights`` (depth, w, w)."""
        losses, gradients = self._stacked_loss_and_gradients(np.asarray(weights)[:, None])
        return float(losses[0]), gradients[:, 0]

    def _stacked_loss_and_gradients(self, weights):
        """:meth:`loss_and_gradients` for R runs at once: weights (depth, R, w, w) → losses (R,),
        gradients (depth, R, w, w).

        Backpropagation through w×w matrices instead of (batch, w) activations: with
        P_l = W[1]…W[l], the gradient for W[l] is P_(l−1)ᵀ · xᵀ(∂loss/∂output) · (W[l+1]…W[depth])ᵀ.
        """
        products = [weights[0]]  # P_1 … P_depth, each (R, w, w)
        for weight in weights[1:]:
            products.append(products[-1] @ weight)
        error = self.x @ products[-1] - self.y  # (R, batch, w)
        delta = self.x.T @ (2.0 * error / len(self.x))  # xᵀ ∂loss/∂output, (R, w, w)
        gradients = np.empty_like(weights)
        for layer in range(len(weights) - 1, 0, -1):
            gradients[layer] = np.swapaxes(products[layer - 1], -1, -2) @ delta
            delta = delta @ np.swapaxes(weights[layer], -1, -2)
        gradients[0] = delta
        return np.sum(error ** 2, axis=(-2, -1)) / len(self.x), gradients

    def run(self, depth, learning_rate, mode="none", threshold=1.0, steps=DESCENT_STEPS):
        """Train for ``steps`` steps. Returns three arrays of shape (steps,): the loss before
        each step, the global norm of the raw gradient, and that of the applied (clipped)
        gradient. After a run diverges (loss above ``DIVERGED`` or not finite) they hold NaN."""
        return self.run_many(depth, [learning_rate], [mode], [threshold], steps)[:, 0]

    def run_many(self, depth, learning_rates, modes, thresholds, steps=DESCENT_STEPS):
        """R runs of :meth:`run` side by side, run r with ``learning_rates[r]``, ``modes[r]``
        and ``thresholds[r]``. Returns (3, R, steps): loss, raw and applied global norm."""
        if not 1 <= depth <= self.max_depth:
            raise ValueError(f"depth must lie in 1..{self.max_depth}, got {depth}")
        rates, thresholds = np.asarray(learning_rates, float), np.asarray(thresholds, float)
        modes = np.asarray(modes)
        if not np.all(rates > 0) or not np.all(thresholds > 0):
            raise ValueError("learning_rate and threshold must be positive")
        unknown = set(modes.tolist()) - {"none", *CLIPPING_MODES}
        if unknown:
            raise ValueError(f"mode must be 'none' or one of {CLIPPING_MODES}, got {sorted(unknown)}")
        weights = np.repeat(self.initial[:depth, None], len(rates), axis=1)  # (depth, R, w, w)
        running = np.arange(len(rates))  # runs not diverged yet: a diverged one leaves the stack
        history = np.full((3, len(rates), steps), np.nan)
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is the lesson, not a warning
            for step in range(steps):
                losses, gradients = self._stacked_loss_and_gradients(weights)
                finite = losses < DIVERGED
                if not finite.all():
                    running, weights, losses, gradients = (running[finite], weights[:, finite], losses[finite],
                                                           gradients[:, finite])
                    if not running.size:
                        break
                # The optimizer's clipping, run r by modes[r] at thresholds[r]: "by value" caps each
                # entry, "by norm" scales each layer's tensor by c / max(its norm, c), "by global norm"
                # all of a run's tensors by c / max(their norm together, c).
                mode, threshold = modes[running], thresholds[running]
                layer_norms = np.sqrt(np.einsum("lrij,lrij->lr", gradients, gradients))  # one per tensor
                total = np.sqrt(np.sum(layer_norms ** 2, axis=0))  # one for all of a run's tensors
                factor = np.where(mode == "by norm", threshold / np.maximum(layer_norms, threshold), 1.0)
                factor = np.where(mode == "by global norm", threshold / np.maximum(total, threshold), factor)
                cap = threshold[None, :, None, None]
                applied = np.where((mode == "by value")[None, :, None, None], np.clip(gradients, -cap, cap), gradients)
                applied = applied * factor[:, :, None, None]
                history[:, running, step] = losses, _global_norms(gradients), _global_norms(applied)
                weights -= rates[running][:, None, None] * applied
        return history


def _global_norms(gradients):
    """(R,) √(Σ over layers and entries of g²) of stacked gradients (depth, R, w, w)."""
    return np.sqrt(np.einsum("lrij,lrij->r", gradients, gradients))


def diverged_at(losses):
    """The first step whose loss is missing (the run diverged there), or None."""
    missing = np.flatnonzero(np.isnan(losses))
    return int(missing[0]) if missing.size else None


# -- lesson 08: an MLP trained with an L2 penalty, for a whole grid of λ at once ---------------
# :func:`train_l2_grid` trains K copies of one MLP side by side on digits, copy k with its own
# penalty λ_k (and, if asked, its own learning rate): the same initial weights, the same
# mini-batches, plain SGD, every kernel penalised and no bias — what
# ``Dense(..., kernel_regularizer=keras.regularizers.L2(λ))`` trained with ``SGD`` does. The copies
# are stacked along a leading axis and trained in vectorised NumPy (float32, like Keras), which is
# some twenty times faster than TensorFlow's many small ops for nets this size;
# :func:`agreement_with_keras` checks it against Keras's own ``fit``. :func:`grid_runs` trains each
# of the lesson's setups over its λ grid once and keeps the runs.
STACKED_MLP_ACTIVATIONS = ("relu", "linear", "tanh")
SMALLEST_NORMAL = np.finfo(np.float32).tiny


@dataclass(frozen=True)
class L2Setup:
    """A network and a training run on digits (64 inputs, 10 classes).

    ``hidden``: widths of the hidden Dense layers; ``activation``: theirs (one of
    :data:`STACKED_MLP_ACTIVATIONS`); ``learning_rate`` and ``batch_size`` of plain SGD;
    ``epochs`` over the digits training split; ``kernel_initializer``: a Keras initializer name
    (biases start at 0).
    """

    hidden: tuple
    activation: str
    learning_rate: float
    epochs: int
    batch_size: int = 32
    kernel_initializer: str = "glorot_uniform"

    @property
    def widths(self):
        """Input width, hidden widths, output width."""
        return (64, *self.hidden, 10)


DIGITS_MLP = "digits MLP: 2×64 ReLU, SGD 0.1, 30 epochs"
DEEP_LINEAR = "deep linear: 20×64, SGD 0.05, 1 epoch"
# The lesson's two setups: a small MLP trained long enough for its weights to grow, and the
# deep linear net of lessons 02 and 07 (20 hidden layers, here 64 wide for digits) at a learning rate whose
# first steps overflow.
SETUPS = {
    DIGITS_MLP: L2Setup(hidden=(64, 64), activation="relu", learning_rate=0.1, epochs=30),
    DEEP_LINEAR: L2Setup(hidden=(64,) * 20, activation="linear", learning_rate=0.05, epochs=1),
}
# λ = 0 and a log grid up to 0.1 (Keras's default for kernel_regularizer="l2" is 0.01).
LAMBDA_GRID = np.concatenate([[0.0], np.logspace(-5, -1, 17)])


@dataclass(frozen=True)
class L2Runs:
    """K training runs of one setup; run k used penalty ``lams[k]`` and ``learning_rates[k]``.

    Arrays indexed by step have the value after that many steps (index 0 = before training)
    or, for gradients and losses, the value measured at that step (index 0 = the first step):
    ``weight_norms``: (steps + 1, K) √(Σ_l ‖W_l‖²) over the kernels;
    ``layer_weight_norms``: (steps + 1, K, layers) ‖W_l‖, input side first;
    ``data_grad_norms``: (steps, K) ‖∂(data loss)/∂W‖ over all kernels, on that step's batch;
    ``penalty_grad_norms``: (steps, K) ‖∂(penalty)/∂W‖ over all kernels;
    ``data_losses``: (steps, K) cross-entropy on that step's batch (penalty not included);
    ``train_accuracy``, ``test_accuracy``: (K,) on the digits splits after training (0 where
    the weights overflowed).
    """

    setup: L2Setup
    lams: np.ndarray
    learning_rates: np.ndarray
    weight_norms: np.ndarray
    layer_weight_norms: np.ndarray
    data_grad_norms: np.ndarray
    penalty_grad_norms: np.ndarray
    data_losses: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray
    steps_per_epoch: int

    def index_of(self, lam):
        """The index k of the run whose λ is nearest ``lam``."""
        return int(np.argmin(np.abs(self.lams - lam)))

    def first_nonfinite_step(self):
        """(K,) the first step (1-based) whose loss or weights are inf/NaN; 0 where none is."""
        bad = ~np.isfinite(self.data_losses) | ~np.isfinite(self.weight_norms[1:])
        return np.where(bad.any(axis=0), bad.argmax(axis=0) + 1, 0)

    def epoch_ends(self, values):
        """``values`` indexed by step (steps + 1 rows) at the end of each epoch, start included."""
        return values[:: self.steps_per_epoch]

    def epoch_means(self, values):
        """``values`` measured per step (steps rows) averaged over each epoch."""
        return values.reshape(-1, self.steps_per_epoch, *values.shape[1:]).mean(axis=1)


def initial_weights(setup, seed=0):
    """[kernel_1, bias_1, …] for ``setup``'s network, drawn by Keras's initializer (float32)."""
    weights = []
    for layer, (n_in, n_out) in enumerate(zip(setup.widths[:-1], setup.widths[1:])):
        init = keras.initializers.get({"class_name": setup.kernel_initializer,
                                       "config": {"seed": seed + layer}})
        weights += [np.asarray(init((n_in, n_out)), "float32"), np.zeros(n_out, "float32")]
    return weights


def _flush_subnormals(array):
    """Set float32 subnormals (|x| < 1.2e-38) to 0 in place, as TensorFlow's CPU kernels do.

    Overflowing nets fill their softmax with them, and NumPy's arithmetic on subnormals is some
    fifty times slower than on normal numbers.
    """
    array[np.abs(array) < SMALLEST_NORMAL] = 0
    return array


class _StackedMLP:
    """K copies of one MLP as stacked arrays: kernels (K, n_in, n_out), biases (K, 1, n_out)."""

    def __init__(self, setup, weights, copies):
        if setup.activation not in STACKED_MLP_ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(STACKED_MLP_ACTIVATIONS)}, "
                             f"got {setup.activation!r}")
        self.activation = setup.activation
        self.kernels = [np.repeat(np.asarray(w, "float32")[None], copies, axis=0) for w in weights[0::2]]
        self.biases = [np.repeat(np.asarray(b, "float32")[None, None], copies, axis=0) for b in weights[1::2]]

    def _phi(self, z):
        if self.activation == "relu":
            return np.maximum(z, 0)
        return np.tanh(z) if self.activation == "tanh" else z

    def _phi_grad(self, z, a):
        if self.activation == "relu":
            return (z > 0).astype(z.dtype)
        return 1 - a * a if self.activation == "tanh" else 1

    def forward(self, x):
        """Logits (K, batch, 10) and, per layer, (pre-activation, activation) for backprop."""
        a, cache = x, []
        for layer, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
            z = np.matmul(a, kernel) + bias
            last = layer == len(self.kernels) - 1
            cache.append((a, z))
            a = z if last else self._phi(z)
        return a, cache

    def accuracy(self, x, y):
        """(K,) fraction of ``x`` each copy classifies as ``y``; 0 for a copy that overflowed."""
        logits, _ = self.forward(x)
        return np.where(np.isfinite(logits).all(axis=(1, 2)), (logits.argmax(axis=2) == y).mean(axis=1), 0.0)

    def data_loss_and_grads(self, x, y):
        """Mean cross-entropy per copy (K,) and its gradients for every kernel and bias."""
        logits, cache = self.forward(x)
        shifted = logits - logits.max(axis=2, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=2, keepdims=True))
        rows = np.arange(len(y))
        losses = (log_norm[:, :, 0] - shifted[:, rows, y]).mean(axis=1)
        delta = _flush_subnormals(np.exp(shifted - log_norm))  # softmax
        delta[:, rows, y] -= 1
        delta /= len(y)  # ∂(mean loss)/∂logits
        kernel_grads, bias_grads = [], []
        for layer in range(len(self.kernels) - 1, -1, -1):
            a_in, _ = cache[layer]
            kernel_grads.append(np.matmul(np.swapaxes(a_in, -1, -2), delta))
            bias_grads.append(delta.sum(axis=1, keepdims=True))
            if layer:
                _, z_in = cache[layer - 1]
                delta = _flush_subnormals(np.matmul(delta, np.swapaxes(self.kernels[layer], 1, 2))
                                          * self._phi_grad(z_in, a_in))
        return losses, kernel_grads[::-1], bias_grads[::-1]


def _squared_norms(arrays):
    """(K, len(arrays)) squared Frobenius norm of each stacked array, per copy."""
    return np.stack([np.einsum("kij,kij->k", a, a) for a in arrays], axis=1)


def train_l2_grid(setup, lams, learning_rates=None, weights=None, shuffle_seed=0, data=None):
    """Train one copy of ``setup``'s MLP per λ in ``lams``, side by side; return :class:`L2Runs`.

    Each SGD step is W ← W − η·(∂data/∂W + 2λ·W) for every kernel (the gradient of λ·Σw²) and
    b ← b − η·∂data/∂b for every bias. ``learning_rates``: one η per copy (default: the
    setup's). ``weights``: the shared initial weights, as ``model.get_weights()`` lists them
    (default :func:`initial_weights`). ``shuffle_seed``: the mini-batch order, the same for all
    copies; None keeps the data in order, as ``fit(shuffle=False)`` does. Every epoch uses
    whole batches only. ``data``: a :class:`gradclinic.data.Split` (default: digits).
    """
    from gradclinic.data import load_digits
    from gradclinic.runtime import one_blas_thread

    lams = np.asarray(lams, dtype=float)
    if lams.ndim != 1 or lams.size == 0 or not np.all(np.isfinite(lams)) or np.any(lams < 0):
        raise ValueError(f"lams must be a non-empty 1-D list of non-negative numbers, got {lams!r}")
    rates = np.full(lams.shape, setup.learning_rate) if learning_rates is None else np.asarray(learning_rates, float)
    if rates.shape != lams.shape or np.any(rates <= 0):
        raise ValueError(f"learning_rates must hold one positive rate per λ ({lams.size}), got {rates!r}")
    data = load_digits() if data is None else data
    net = _StackedMLP(setup, initial_weights(setup) if weights is None else weights, lams.size)
    rng = None if shuffle_seed is None else np.random.default_rng(shuffle_seed)
    n, batch = len(data.x_train), setup.batch_size
    steps_per_epoch = n // batch
    eta = rates.astype("float32")[:, None, None]
    decay = (2 * rates * lams).astype("float32")[:, None, None]  # η·2λ: the penalty's share of a step
    layer_sq, losses, data_grads = [_squared_norms(net.kernels)], [], []
    # One BLAS thread: these matrices are small, and OpenBLAS's threads thrash on a busy machine
    # (ten times slower on two shared cores). Overflow to inf/NaN is what exploding runs are about.
    with one_blas_thread(), np.errstate(all="ignore"):
        for _ in range(setup.epochs):
            order = np.arange(n) if rng is None else rng.permutation(n)
            for start in range(0, steps_per_epoch * batch, batch):
                rows = order[start:start + batch]
                loss, kernel_grads, bias_grads = net.data_loss_and_grads(data.x_train[rows], data.y_train[rows])
                for kernel, grad in zip(net.kernels, kernel_grads):
                    kernel -= eta * grad + decay * kernel
                for bias, grad in zip(net.biases, bias_grads):
                    bias -= eta * grad
                losses.append(loss)
                data_grads.append(np.sqrt(_squared_norms(kernel_grads).sum(axis=1)))
                layer_sq.append(_squared_norms(net.kernels))
        train_accuracy, test_accuracy = (net.accuracy(x, y) for x, y in ((data.x_train, data.y_train),
                                                                         (data.x_test, data.y_test)))
        layer_sq = np.stack(layer_sq).astype(float)
        weight_norms = np.sqrt(layer_sq.sum(axis=2))
        penalty_grad_norms = 2 * lams * weight_norms[:-1]  # ‖2λW‖ at each step, before the update
    return L2Runs(setup=setup, lams=lams, learning_rates=rates, weight_norms=weight_norms,
                  layer_weight_norms=np.sqrt(layer_sq), data_grad_norms=np.stack(data_grads).astype(float),
                  penalty_grad_norms=penalty_grad_norms, data_losses=np.stack(losses).astype(float),
                  train_accuracy=train_accuracy, test_accuracy=test_accuracy, steps_per_epoch=steps_per_epoch)


@lru_cache(maxsize=None)
def grid_runs(setup_name):
    """The cached :class:`L2Runs` of setup ``setup_name`` over :data:`LAMBDA_GRID`.

    Under nbgrader (``gradclinic.grading()``) the digits MLP trains 3 epochs instead of 30: the
    grid is a demonstration, never graded work.
    """
    from gradclinic.runtime import grading

    if setup_name not in SETUPS:
        raise ValueError(f"setup must be one of {', '.join(SETUPS)}, got {setup_name!r}")
    setup = SETUPS[setup_name]
    if grading():
        setup = replace(setup, epochs=min(setup.epochs, 3))
    return train_l2_grid(setup, LAMBDA_GRID)


# -- lesson 08: the same network in Keras -----------------------------------------------------
def keras_model(setup, lam):
    """``setup``'s MLP as a Keras ``Sequential`` whose every kernel has ``L2(lam)``, softmax out."""
    regularizer = keras.regularizers.L2(lam)
    layers = [keras.Input((setup.widths[0],))]
    layers += [keras.layers.Dense(width, activation=setup.activation, kernel_regularizer=regularizer,
                                  kernel_initializer=setup.kernel_initializer) for width in setup.hidden]
    layers.append(keras.layers.Dense(setup.widths[-1], activation="softmax", kernel_regularizer=regularizer,
                                     kernel_initializer=setup.kernel_initializer))
    return keras.Sequential(layers)


def keras_weight_norms(setup, lam, data=None):
    """Train :func:`keras_model` with ``fit`` (SGD, in order, whole batches) and return
    (weight norm after every step, shape (steps,), the model's initial weights)."""
    from gradclinic.data import load_digits

    data = load_digits() if data is None else data
    model = keras_model(setup, lam)
    start = model.get_weights()
    kernels = [layer.kernel for layer in model.layers]
    norms = []

    def record(batch, logs):
        norms.append(np.sqrt(sum(np.square(k.numpy(), dtype=float).sum() for k in kernels)))

    model.compile(keras.optimizers.SGD(learning_rate=setup.learning_rate), "sparse_categorical_crossentropy")
    build_for_fit(model, data.x_train, data.y_train)
    whole = len(data.x_train) // setup.batch_size * setup.batch_size
    model.fit(data.x_train[:whole], data.y_train[:whole], batch_size=setup.batch_size, epochs=setup.epochs,
              shuffle=False, verbose=0, callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=record)])
    return np.array(norms), start


def agreement_with_keras(setup, lam, epochs=2):
    """Largest relative difference, over every step of ``epochs`` epochs, between the weight
    norm :func:`train_l2_grid` computes and the one Keras's own ``fit`` gives, from the same
    initial weights and the same batches. Steps after an overflow are left out."""
    short = replace(setup, epochs=epochs)
    keras_norms, start = keras_weight_norms(short, lam)
    ours = train_l2_grid(short, [lam], weights=start, shuffle_seed=None).weight_norms[1:, 0]
    finite = np.isfinite(ours) & np.isfinite(keras_norms)
    return float(np.max(np.abs(ours[finite] - keras_norms[finite]) / keras_norms[finite]))


# -- lesson 05: recurrent cells trained on the agreement task, gap by gap -----------------------
# All cells train side by side in one compiled TensorFlow step: one trace for every gap and cell;
# each cell's weights get the gradient of its own loss only, so they learn exactly as they would
# alone. The gradient profiles come from a function the notebook passes in
# (``gradient_norms=timestep_gradient_norms``, the learner's own): the toolkit has none.
# Name shown → (Keras layer, bias added at the start to the gate that keeps the state).
AGREEMENT_CELLS = {
    "SimpleRNN": ("SimpleRNN", 0.0),
    "GRU": ("GRU", 0.0),
    "GRU, gate open": ("GRU", 3.0),
    "LSTM": ("LSTM", 0.0),
}


@dataclass
class SweepResults:
    """What :func:`gap_sweep` measured, by (cell name, gap).

    ``accuracy``: test accuracy after training. ``initial_profiles`` / ``trained_profiles``:
    (T,) arrays ‖∂loss/∂x_t‖ over a batch of test sentences, t = 0 the determiner, 1 the subject,
    T − 1 the last gap word; None when no gradient function was available.
    """

    cells: tuple
    gaps: tuple
    accuracy: dict = field(default_factory=dict)
    initial_profiles: dict = field(default_factory=dict)
    trained_profiles: dict = field(default_factory=dict)
    seconds: float = 0.0
    seeds: tuple = (0,)
    seed_accuracy: dict = field(default_factory=dict)  # (cell, gap, seed) → test accuracy

    def spread(self, cell, gap):
        """(median, lowest, highest) test accuracy of ``cell`` at ``gap`` over the seeds."""
        values = [self.seed_accuracy.get((cell, gap, seed), self.accuracy.get((cell, gap))) for seed in self.seeds]
        return float(np.median(values)), float(min(values)), float(max(values))

    def spread_table(self):
        """Median and min–max test accuracy over the seeds: one row per gap, one column per cell."""
        width = max(max(len(c) for c in self.cells), 16) + 2
        lines = ["  gap | " + "".join(f"{c:>{width}}" for c in self.cells)]
        for gap in self.gaps:
            cells = "".join(f"{'{:.2f} ({:.2f}–{:.2f})'.format(*self.spread(c, gap)):>{width}}" for c in self.cells)
            lines.append(f"{gap:5d} | " + cells)
        return "\n".join(lines)

    def table(self):
        """The accuracy-vs-gap table as text: one row per gap, one column per cell."""
        width = max(len(c) for c in self.cells) + 2
        lines = ["  gap | " + "".join(f"{c:>{width}}" for c in self.cells)]
        for gap in self.gaps:
            lines.append(f"{gap:5d} | " + "".join(f"{self.accuracy[c, gap]:>{width}.2f}" for c in self.cells))
        return "\n".join(lines)

    def subject_ratio(self, cell, gap, trained=False):
        """‖∂loss/∂x_subject‖ / ‖∂loss/∂x_last‖: how much of the last word's gradient survives the gap."""
        profile = (self.trained_profiles if trained else self.initial_profiles)[cell, gap]
        return None if profile is None else float(profile[1] / profile[-1])


def _profile_or_none(gradient_norms, reader, embedded, labels):
    if gradient_norms is None:
        return None
    try:
        return np.asarray(gradient_norms(reader, embedded, labels), dtype=float)
    except NotImplementedError:
        return None


def agreement_classifiers(seed, cells=tuple(AGREEMENT_CELLS), embedding_dim=8, units=16, word_scale=1.0):
    """``{cell name: untrained classifier}`` for ``cells`` (names of :data:`AGREEMENT_CELLS`), built in
    that order right after seeding Keras with ``seed``: the models :func:`gap_sweep`'s run of
    ``seed`` starts from."""
    keras.utils.set_random_seed(seed)
    vocabulary_size = len(agreement_vocabulary())
    return {name: agreement_classifier(AGREEMENT_CELLS[name][0], vocabulary_size, embedding_dim, units, word_scale,
                                       keep_bias=AGREEMENT_CELLS[name][1]) for name in cells}


def gradient_profiles(gradient_norms, classifiers, tokens, labels):
    """``{cell name: gradient_norms(reader, embedded, labels)}``: the gradient through time of each
    classifier's recurrent reader on the sentences ``tokens`` (word ids), embedded by the
    classifier's own ``Embedding``; None for a cell when ``gradient_norms`` is None or not written yet."""
    return {name: _profile_or_none(gradient_norms, model.layers[1], model.layers[0](tokens).numpy(), labels)
            for name, model in classifiers.items()}


def gap_sweep(gaps, gradient_norms=None, rng=None, cells=tuple(AGREEMENT_CELLS), n_train=256, n_test=256,
              epochs=8, batch_size=32, learning_rate=1e-2, word_scale=1.0, embedding_dim=8, units=16,
              profile_batch=64, seed=0, seeds=None, progress=print):
    """Train every cell in ``cells`` (names of :data:`AGREEMENT_CELLS`) on the agreement corpus at every gap.

    For each gap: fresh corpora (``n_train`` and ``n_test`` sentences, balanced, no
    distractors) and batch orders drawn from ``rng`` or, when ``rng`` is None, from a generator
    of its own seeded with (``seed``, gap), so that a gap's result does not depend on which gaps
    came before it; every model restarts from the same initial weights and a
    fresh Adam(``learning_rate``); ``epochs`` passes in shuffled batches of ``batch_size``. The
    gradient profile ``gradient_norms(reader, embedded, labels)`` is taken on ``profile_batch``
    test sentences before and after training. ``seed`` seeds Keras (the initial weights), so
    the same call gives the same table wherever it runs.

    ``seeds`` (a tuple, default ``(seed,)``) repeats the whole experiment once per seed — its
    own initial weights, corpora and batch orders — all trained side by side in the same
    compiled step; ``accuracy`` and the profiles are those of the first seed, and
    ``seed_accuracy[cell, gap, seed]`` holds every seed's accuracy (see
    :meth:`SweepResults.spread`). ``progress`` gets one line per gap (or None).
    Returns :class:`SweepResults`.
    """
    unknown = [c for c in cells if c not in AGREEMENT_CELLS]
    if unknown:
        raise ValueError(f"unknown cells {unknown}; choose from {list(AGREEMENT_CELLS)}")
    seeds = (seed,) if seeds is None else tuple(int(s) for s in seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct integers, at least one; got {seeds}")
    start = time.perf_counter()
    models = [agreement_classifiers(each, cells, embedding_dim, units, word_scale) for each in seeds]  # {cell: model} per seed
    variables = [v for by_name in models for model in by_name.values() for v in model.trainable_variables]
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    optimizer.build(variables)
    fresh = [(v, v.numpy()) for v in [*variables, *optimizer.variables]]

    @tf.function(input_signature=[tf.TensorSpec([len(seeds), None, None], tf.int32),
                                  tf.TensorSpec([len(seeds), None, 1], tf.float32)])
    def train_step(tokens, labels):
        with tf.GradientTape() as tape:
            # A sum of independent losses: each model's gradient is that of its own loss (on its seed's batch).
            loss = tf.add_n([tf.reduce_mean(keras.losses.binary_crossentropy(labels[i], model(tokens[i], training=True)))
                             for i, by_name in enumerate(models) for model in by_name.values()])
        optimizer.apply(tape.gradient(loss, variables), variables)

    results = SweepResults(tuple(cells), tuple(int(g) for g in gaps), seeds=seeds)
    for gap in results.gaps:
        for variable, value in fresh:
            variable.assign(value)
        gap_rngs = [np.random.default_rng([each, gap]) if rng is None else rng for each in seeds]
        corpora = [(agreement_corpus(n_train, gap, r), agreement_corpus(n_test, gap, r)) for r in gap_rngs]
        train, test = corpora[0]
        probe_tokens, probe_labels = test.tokens[:profile_batch], test.labels[:profile_batch].astype("float32")

        def profiles():
            return gradient_profiles(gradient_norms, models[0], probe_tokens, probe_labels)

        for name, profile in profiles().items():
            results.initial_profiles[name, gap] = profile
        for _ in range(epochs):
            orders = [r.permutation(n_train) for r in gap_rngs]
            for first in range(0, n_train, batch_size):
                batches = [order[first:first + batch_size] for order in orders]
                tokens = np.stack([c[0].tokens[b] for c, b in zip(corpora, batches)])
                labels = np.stack([c[0].labels[b].astype("float32")[:, None] for c, b in zip(corpora, batches)])
                train_step(tokens, labels)
        for each, by_name, (_, seed_test) in zip(seeds, models, corpora):
            for name, model in by_name.items():
                predictions = model(seed_test.tokens, training=False).numpy()[:, 0]
                results.seed_accuracy[name, gap, each] = float(np.mean((predictions > 0.5) == (seed_test.labels == 1)))
        for name in cells:
            results.accuracy[name, gap] = results.seed_accuracy[name, gap, seeds[0]]
        for name, profile in profiles().items():
            results.trained_profiles[name, gap] = profile
        if progress:
            progress(f"gap {gap:3d}: " + ", ".join(f"{n} {results.accuracy[n, gap]:.2f}" for n in cells)
                     + (f" (seed {seeds[0]})" if len(seeds) > 1 else "")
                     + f"   ({time.perf_counter() - start:.0f} s)")
    results.seconds = time.perf_counter() - start
    return results


# -- lesson 10: the SNN's race against a default net on digits ----------------------------------
class ValidationAccuracy(keras.callbacks.Callback):
    """Appends the accuracy on (x, y) to ``accuracy`` after every epoch."""

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.accuracy = x, y, []

    def on_epoch_end(self, epoch, logs=None):
        probabilities = keras.ops.convert_to_numpy(self.model(self.x, training=False))
        self.accuracy.append(float(np.mean(np.argmax(probabilities, axis=1) == self.y)))


def train_on_digits(model, x_train, y_train, x_val, y_val, epochs, learning_rate=7e-4, batch_size=32):
    """Compile ``model`` with the SNN recipe's Nadam(learning_rate=7e-4) and sparse cross-entropy, fit it
    quietly, and return ``{"loss": [...], "val_accuracy": [...]}``, one entry per epoch.

    Validation accuracy is measured after each epoch by one plain forward pass over (x_val, y_val)
    (``training=False``): the same number ``validation_data`` would report, without tracing a
    second compiled function (tracing a 20-layer net costs more than several epochs here).
    """
    _compile_for_digits(model, learning_rate)
    return _fit_on_digits(model, x_train, y_train, x_val, y_val, epochs, batch_size)


def race_on_digits(contestants, x_train, y_train, x_val, y_val, epochs, seed=0, learning_rate=7e-4, batch_size=32):
    """:func:`train_on_digits` for each contestant's ``build()`` (``contestants``: name → build), each
    built and trained from Keras seeded with ``seed``; returns {name: history}.

    Contestants whose nets differ only in their initial weights (the same layers, sizes and
    activations: one architecture under two initializers) train through one compiled net, loaded
    with each one's own initial weights and a fresh optimizer, as each would train alone: tracing a
    20-layer net's step costs more CPU than several epochs of its training."""
    histories, trainers = {}, {}
    for name, build in contestants.items():
        keras.utils.set_random_seed(seed)
        model = build()
        architecture = _architecture(model)
        if architecture not in trainers:
            _compile_for_digits(model, learning_rate)
            trainers[architecture] = model, run_restarter(model, model.optimizer)
        trainer, restart = trainers[architecture]
        restart(model)
        histories[name] = _fit_on_digits(trainer, x_train, y_train, x_val, y_val, epochs, batch_size)
    return histories


def _architecture(model):
    """What a model's compiled step depends on: each layer's kind and settings, its name and
    initializers aside (they only decide the starting weights)."""
    ignored = ("name", "kernel_initializer", "bias_initializer")
    return tuple((type(layer).__name__, repr(sorted((key, repr(value)) for key, value in layer.get_config().items()
                                                    if key not in ignored)))
                 for layer in model.layers)


def _compile_for_digits(model, learning_rate):
    model.compile(optimizer=keras.optimizers.Nadam(learning_rate=learning_rate), loss="sparse_categorical_crossentropy")


def _fit_on_digits(model, x_train, y_train, x_val, y_val, epochs, batch_size):
    build_for_fit(model, x_train, y_train)
    validation = ValidationAccuracy(np.asarray(x_val, "float32"), np.asarray(y_val))
    fitted = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[validation])
    return {"loss": list(fitted.history["loss"]), "val_accuracy": validation.accuracy}


def epochs_to_best(val_accuracy):
    """The 1-based epoch of the best validation accuracy (the first one, if tied)."""
    return int(np.argmax(val_accuracy)) + 1


def first_epoch_reaching(accuracy, level):
    """The 1-based epoch at which ``accuracy`` first reaches ``level``, or None if it never does."""
    reached = np.flatnonzero(np.asarray(accuracy) >= level)
    return int(reached[0]) + 1 if reached.size else None
