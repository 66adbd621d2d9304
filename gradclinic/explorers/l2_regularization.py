"""Lesson 08's explorer: what an L2 penalty λ·Σw² does to weight norms and gradient norms
while a network trains, for a whole grid of λ at once.

:func:`train_l2_grid` trains K copies of one MLP side by side on digits, copy k with its own
penalty λ_k (and, if asked, its own learning rate): the same initial weights, the same
mini-batches, plain SGD, every kernel penalised and no bias — what
``Dense(..., kernel_regularizer=keras.regularizers.L2(λ))`` trained with ``SGD`` does. The copies
are stacked along a leading axis and trained in vectorised NumPy (float32, like Keras), which is
some twenty times faster than TensorFlow's many small ops for nets this size; the lesson's tests
check it against Keras's own ``fit``. A grid is trained once per setup and cached, so a slider
move only picks rows of arrays that already exist.
"""

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from gradclinic.plots import decade_limits, fast_log_axis
from gradclinic.widgets import Explorer

ACTIVATIONS = ("relu", "linear", "tanh")
SMALLEST_NORMAL = np.finfo(np.float32).tiny


@dataclass(frozen=True)
class L2Setup:
    """A network and a training run on digits (64 inputs, 10 classes).

    ``hidden``: widths of the hidden Dense layers; ``activation``: theirs (one of
    :data:`ACTIVATIONS`); ``learning_rate`` and ``batch_size`` of plain SGD; ``epochs`` over the
    digits training split; ``kernel_initializer``: a Keras initializer name (biases start at 0).
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
    import keras

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
        if setup.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {setup.activation!r}")
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


# -- the same network in Keras ---------------------------------------------------------------
def keras_model(setup, lam):
    """``setup``'s MLP as a Keras ``Sequential`` whose every kernel has ``L2(lam)``, softmax out."""
    import keras

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
    import keras

    from gradclinic.data import load_digits

    data = load_digits() if data is None else data
    model = keras_model(setup, lam)
    start = model.get_weights()
    kernels = [layer.kernel for layer in model.layers]
    norms = []

    def record(batch, logs):
        norms.append(np.sqrt(sum(np.square(k.numpy(), dtype=float).sum() for k in kernels)))

    model.compile(keras.optimizers.SGD(learning_rate=setup.learning_rate), "sparse_categorical_crossentropy")
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


# -- figures ---------------------------------------------------------------------------------
def _lambda_label(lam):
    return "λ = 0" if lam == 0 else f"λ = {lam:.0e}"


def weight_growth_figure(runs, shown_lams):
    """Left: the kernels' norm ‖W‖ at every epoch end for each λ in ``shown_lams``. Right: the
    final ‖W‖ and the test accuracy against λ over the whole grid (λ = 0 at the left edge)."""
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    epochs = np.arange(runs.setup.epochs + 1)
    for lam in shown_lams:
        k = runs.index_of(lam)
        left.plot(epochs, runs.epoch_ends(runs.weight_norms)[:, k], label=_lambda_label(runs.lams[k]))
    left.set(xlabel="epoch", ylabel="‖W‖ over all kernels", title="weight norm during training")
    left.legend(ncols=2)
    positions = _lambda_positions(runs.lams)
    right.plot(positions, runs.weight_norms[-1], "o-", label="final ‖W‖")
    right.set(xscale="log", xlabel="λ (log; the leftmost point is λ = 0)", ylabel="final ‖W‖",
              title="after training, across the λ grid")
    twin = right.twinx()
    twin.plot(positions, runs.test_accuracy, "s--", color="C2", label="test accuracy")
    twin.set(ylabel="test accuracy", ylim=(0, 1))
    twin.grid(False)
    right.legend(handles=right.get_lines() + twin.get_lines(), loc="lower left")
    return figure


def _lambda_positions(lams):
    """Where to put each λ on a log axis: λ = 0 goes one grid step left of the smallest λ > 0."""
    positive = lams[lams > 0]
    step = (positive[1] / positive[0]) if positive.size > 1 else 10.0
    return np.where(lams > 0, lams, positive.min() / step ** 2 if positive.size else 1.0)


def stability_map_figure(runs, lams, learning_rates):
    """The first overflowing step of each (λ, learning rate) run of ``runs``, whose copies are
    the grid ``lams`` × ``learning_rates`` (λ varying slowest); 'ok' where it stayed finite."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    steps = runs.first_nonfinite_step().reshape(len(lams), len(learning_rates))
    accuracy = runs.test_accuracy.reshape(steps.shape)
    figure, ax = plt.subplots(figsize=(8, 3.6))
    ax.imshow(steps > 0, cmap=ListedColormap(["#d9f0d3", "#f4a582"]), vmin=0, vmax=1, aspect="auto")
    for (i, j), step in np.ndenumerate(steps):
        ax.text(j, i, f"NaN at step {step}" if step else f"finite · acc {accuracy[i, j]:.2f}",
                ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(learning_rates)), [f"{r:g}" for r in learning_rates])
    ax.set_yticks(range(len(lams)), [f"{lam:g}" for lam in lams])
    ax.set(xlabel="SGD learning rate", ylabel="λ",
           title=f"{len(runs.setup.hidden)} hidden layers, {runs.setup.activation}, one epoch: overflow or test accuracy")
    ax.grid(False)
    return figure


# -- the explorer ----------------------------------------------------------------------------
class L2Explorer(Explorer):
    """λ and setup → the weight norm and the gradient norms over training, beside λ = 0.
    Every run is trained once (:func:`grid_runs`); a move only redraws.

    The axes depend on the setup only: their ranges hold every λ of the grid, so moving the
    λ slider moves the curves (the weight norm sinking as λ grows), not the axes."""

    def __init__(self, setup=DIGITS_MLP, lam=1e-3):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt

        self.runs = {name: grid_runs(name) for name in SETUPS}
        figure, (self.norm_ax, self.grad_ax) = plt.subplots(1, 2, figsize=(10, 4.4))
        (self.norm_line,) = self.norm_ax.plot([], [], color="C0", label="‖W‖, this λ")
        (self.norm_base,) = self.norm_ax.plot([], [], "--", color="0.5", lw=1, label="‖W‖, λ = 0")
        self.norm_ax.set(ylabel="‖W‖ over all kernels (log)", title="weight norm")
        (self.data_grad_line,) = self.grad_ax.plot([], [], color="C0", label="‖∂data/∂W‖, this λ")
        (self.penalty_grad_line,) = self.grad_ax.plot([], [], color="C1", label="‖2λW‖, the penalty's")
        (self.data_grad_base,) = self.grad_ax.plot([], [], "--", color="0.5", lw=1, label="‖∂data/∂W‖, λ = 0")
        self.grad_ax.set(ylabel="gradient norm (log)", title="gradient norms")
        for ax in (self.norm_ax, self.grad_ax):
            # Log scales, for a collapse to 0.001 and a blow-up to 1e9, with plain "1e+03" labels:
            # the default 10^k ones go through mathtext, a fifth of a redraw.
            fast_log_axis(ax)
        self.overflow_marks = [ax.axvline(0, color="C3", ls=":", lw=1.5, label="overflow (NaN)")
                               for ax in (self.norm_ax, self.grad_ax)]
        for ax in (self.norm_ax, self.grad_ax):  # below the panels: the curves cover all of them
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=8)
        self.title = figure.suptitle(" ", fontsize=11)
        controls = {
            "setup": widgets.Dropdown(options=list(SETUPS), value=setup, description="setup",
                                      layout=widgets.Layout(width="420px")),
            "lam": widgets.SelectionSlider(options=[(_lambda_label(lam)[4:], float(lam)) for lam in LAMBDA_GRID],
                                           value=float(LAMBDA_GRID[np.argmin(np.abs(LAMBDA_GRID - lam))]),
                                           description="λ", continuous_update=True),
        }
        super().__init__(figure, controls)
        self.moving(self.norm_line, self.norm_base, self.data_grad_line, self.penalty_grad_line,
                    self.data_grad_base, *self.overflow_marks, self.title)
        self.draw(**self.values())

    def background_key(self):
        """The axis ranges and the x label (epoch or step), which change with the setup."""
        return super().background_key() + tuple(ax.get_xlabel() for ax in (self.norm_ax, self.grad_ax))

    @staticmethod
    def limits(series):
        """(weight-norm range, gradient-norm range) in whole decades around every run of the
        grid (the finite, positive values of ``series``, as :meth:`curves` gives them)."""
        return (decade_limits(series["norms"], margin=1.5),
                decade_limits(np.concatenate([series["data"].ravel(), series["penalty"].ravel()]), margin=1.5))

    def curves(self, setup, lam):
        """The run of ``setup`` nearest ``lam`` as (runs, its index k, x unit, series): per epoch
        (norms at epoch ends, gradients averaged over the epoch) when the setup trains several
        epochs, else per step. Series are (points, K) arrays: "norms", "data", "penalty"."""
        runs = self.runs[setup]
        k = runs.index_of(lam)
        if runs.setup.epochs > 1:
            return runs, k, "epoch", {"norms": runs.epoch_ends(runs.weight_norms),
                                      "data": runs.epoch_means(runs.data_grad_norms),
                                      "penalty": runs.epoch_means(runs.penalty_grad_norms)}
        return runs, k, "step", {"norms": runs.weight_norms, "data": runs.data_grad_norms,
                                 "penalty": runs.penalty_grad_norms}

    def draw(self, setup, lam):
        runs, k, unit, series = self.curves(setup, lam)
        x_norms = np.arange(len(series["norms"]))  # 0 = before training
        x_grads = x_norms[1:]
        self.norm_line.set_data(x_norms, series["norms"][:, k])
        self.norm_base.set_data(x_norms, series["norms"][:, 0])
        self.data_grad_line.set_data(x_grads, series["data"][:, k])
        penalty = series["penalty"][:, k]
        self.penalty_grad_line.set_data(x_grads, np.where(penalty > 0, penalty, np.nan))  # none at λ = 0
        self.data_grad_base.set_data(x_grads, series["data"][:, 0])
        overflow = runs.first_nonfinite_step()[k]
        where = overflow / (runs.steps_per_epoch if unit == "epoch" else 1)
        for mark in self.overflow_marks:
            mark.set_xdata([where, where])
            mark.set_visible(bool(overflow))
        for ax, y_range in zip((self.norm_ax, self.grad_ax), self.limits(series)):
            ax.set_xlim(0, x_norms[-1])
            ax.set_ylim(*y_range)
            ax.set_xlabel(unit)
        fate = f"overflow at step {overflow}" if overflow else f"test accuracy {runs.test_accuracy[k]:.3f}"
        self.title.set_text(f"{setup} · {_lambda_label(runs.lams[k])}: ‖W‖ {series['norms'][0, k]:.1f} → "
                            f"{series['norms'][-1, k]:.1f}, {fate}")
