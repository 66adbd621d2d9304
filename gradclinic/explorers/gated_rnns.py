"""Lesson 05's explorer, and the one training sweep it draws from: for every gap length and
cell type, the accuracy on the agreement task and ‖∂loss/∂x_t‖ through time.

Training is the slow part, so it happens once: :func:`gap_sweep` trains every cell on every
gap and keeps the results; :class:`GatedRnnExplorer` only looks them up and redraws. All
cells train side by side in one compiled TensorFlow step (one trace for every gap and cell;
each cell's weights get the gradient of its own loss only, so they learn exactly as they would
alone). The gradient profiles come from a function the notebook passes in
(``gradient_norms=timestep_gradient_norms``, the learner's own); this module has none.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from gradclinic.plots import decade_limits, fast_log_axis, log_safe
from gradclinic.widgets import Explorer

# Name shown → (Keras layer, bias added at the start to the gate that keeps the state).
CELLS = {
    "SimpleRNN": ("SimpleRNN", 0.0),
    "GRU": ("GRU", 0.0),
    "GRU, gate open": ("GRU", 3.0),
    "LSTM": ("LSTM", 0.0),
}
NO_PROFILE = "implement timestep_gradient_norms, then run the sweep again, to see the profile"


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


def gap_sweep(gaps, gradient_norms=None, rng=None, cells=tuple(CELLS), n_train=256, n_test=256,
              epochs=8, batch_size=32, learning_rate=1e-2, word_scale=1.0, embedding_dim=8, units=16,
              profile_batch=64, seed=0, seeds=None, progress=print):
    """Train every cell in ``cells`` (names of :data:`CELLS`) on the agreement corpus at every gap.

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
    import keras
    import tensorflow as tf

    from gradclinic.data import agreement_corpus, agreement_vocabulary

    unknown = [c for c in cells if c not in CELLS]
    if unknown:
        raise ValueError(f"unknown cells {unknown}; choose from {list(CELLS)}")
    seeds = (seed,) if seeds is None else tuple(int(s) for s in seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct integers, at least one; got {seeds}")
    start = time.perf_counter()
    vocabulary_size = len(agreement_vocabulary())
    models = []  # one {cell name: model} per seed, each built right after seeding Keras with its seed
    for each in seeds:
        keras.utils.set_random_seed(each)
        models.append({name: agreement_classifier(CELLS[name][0], vocabulary_size, embedding_dim, units,
                                                  word_scale, keep_bias=CELLS[name][1]) for name in cells})
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
            return {name: _profile_or_none(gradient_norms, model.layers[1],
                                           model.layers[0](probe_tokens).numpy(), probe_labels)
                    for name, model in models[0].items()}

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


class GatedRnnExplorer(Explorer):
    """Gap length and cell type → accuracy against gap (all cells) and the chosen cell's
    gradient through time, before and after training. Reads :class:`SweepResults` only."""

    def __init__(self, results, gap=None, cell="SimpleRNN"):
        from gradclinic.widgets import controls as widgets
        import matplotlib.pyplot as plt

        self.results = results
        gap = results.gaps[-1] if gap is None else gap
        figure, (self.accuracy_axes, self.profile_axes) = plt.subplots(
            1, 2, figsize=(9.5, 3.8), gridspec_kw={"width_ratios": [1, 1.5]})
        ax = self.accuracy_axes
        self.accuracy_lines = {}
        for index, name in enumerate(results.cells):
            (self.accuracy_lines[name],) = ax.plot(results.gaps, [results.accuracy[name, g] for g in results.gaps],
                                                   "o-", color=f"C{index}", label=name)
        ax.axhline(0.5, color="0.5", lw=1, ls=":", label="chance")
        (self.chosen_point,) = ax.plot([], [], "o", ms=13, mfc="none", mec="k", mew=1.5)
        ax.set_ylim(0.4, 1.05)
        ax.set_xlabel("gap (words between subject and verb)")
        ax.set_ylabel("test accuracy")
        # Drawn on every move, over the lines that move (as a full render would draw it).
        self.accuracy_legend = ax.legend(loc="lower left", fontsize=8)
        ax = self.profile_axes
        (self.initial_line,) = ax.plot([], [], "-", color="0.55", label="at initialisation")
        (self.trained_line,) = ax.plot([], [], "-", color="C0", label="after training")
        self.subject_marker = ax.axvline(1, color="0.3", lw=1, ls="--")
        self.message = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center", wrap=True)
        fast_log_axis(ax)
        ax.set_xlabel("time step t (t = 1: the subject)")
        ax.set_ylabel("‖∂loss/∂x_t‖ / ‖∂loss/∂x_last‖")
        legend = ax.legend(loc="lower right", fontsize=8)
        # The legend's sample of "after training" takes the chosen cell's colour, as its line does.
        self.trained_key = legend.legend_handles[1]
        controls = {
            "gap": widgets.SelectionSlider(options=list(results.gaps), value=gap, description="gap"),
            "cell": widgets.ToggleButtons(options=list(results.cells), value=cell, description="cell"),
        }
        super().__init__(figure, controls)
        self.moving(*self.accuracy_lines.values(), self.chosen_point, self.accuracy_legend, self.initial_line,
                    self.trained_line, self.trained_key, self.message, self.profile_axes.title)
        self.draw(**self.values())

    def _profile_limits(self):
        """The profile axes' ranges, the same for every cell and gap: the time steps of the
        longest sentence, and whole decades around every profile. Switching cells or gaps moves
        the lines against one scale, so a longer gap shows as a longer line whose subject end
        sinks lower."""
        relative = [profile / profile[-1] for profiles in (self.results.initial_profiles, self.results.trained_profiles)
                    for profile in profiles.values() if profile is not None]
        every = np.maximum(np.concatenate(relative + [[1.0]]), 1e-30)
        return (-0.5, max(self.results.gaps) + 1.5), decade_limits(every, margin=3)

    def draw(self, gap, cell):
        results = self.results
        color = f"C{results.cells.index(cell)}"
        for name, line in self.accuracy_lines.items():
            line.set_alpha(1.0 if name == cell else 0.3)
            line.set_linewidth(2.6 if name == cell else 1.2)
        self.chosen_point.set_data([gap], [results.accuracy[cell, gap]])
        initial, trained = results.initial_profiles[cell, gap], results.trained_profiles[cell, gap]
        self.trained_line.set_color(color)
        self.trained_key.set_color(color)
        ax = self.profile_axes
        x_range, y_range = self._profile_limits()  # set before any return: a log axis left at (0, 1) cannot render
        ax.set_xlim(*x_range)
        ax.set_ylim(*y_range)
        if initial is None or trained is None:
            for line in (self.initial_line, self.trained_line):
                line.set_data([], [])
            self.message.set_text(NO_PROFILE)
            ax.set_title(f"{cell}, gap {gap}: accuracy {results.accuracy[cell, gap]:.2f}")
            return
        self.message.set_text("")
        steps = np.arange(len(initial))
        relative_initial, relative_trained = log_safe(initial / initial[-1]), log_safe(trained / trained[-1])
        self.initial_line.set_data(steps, relative_initial)
        self.trained_line.set_data(steps, relative_trained)
        ax.set_title(f"{cell}, gap {gap}: accuracy {results.accuracy[cell, gap]:.2f}\nsubject/last "
                     f"{relative_initial[1]:.1e} → {relative_trained[1]:.1e} (initial → trained)")
