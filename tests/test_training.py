"""The toolkit's training runs (gradclinic.training): lesson 05's gap sweep (its gaps and seeds
independent of one another), lessons 06 and 09's seeds sharing one compiled step (each as its own
compiled model would train), lesson 07's clipped descent (its gradients, its clipping by the
lesson's rules, its stacked runs), lesson 08's vectorised L2 trainer (against Keras's own fit) and
lesson 10's epoch counts."""

import numpy as np
import pytest

import gradclinic
from autograder.solution import solution_function
from gradclinic.data import load_digits
from gradclinic.training import (DEEP_LINEAR, DESCENT_MAX_DEPTH, DIGITS_MLP, SETUPS, ClippedDescent, L2Setup,
                                 SweepResults, _StackedMLP, agreement_with_keras, diverged_at, epochs_to_best,
                                 first_epoch_reaching, gap_sweep, grid_runs, initial_weights, keras_weight_norms,
                                 race_on_digits, train_from_seeds, train_l2_grid, train_on_digits)


def setup_module():
    gradclinic.seed(0)


def solution(name):
    """Lesson 07's solution of ``name``: the rule the descent's clipping must follow."""
    return solution_function("07_gradient_clipping", name)


# -- lesson 07: the clipped descent -----------------------------------------------------------------
@pytest.fixture(scope="module")
def descent():
    return ClippedDescent(np.random.default_rng(0))


def test_descent_gradients_match_finite_differences(descent):
    weights = descent.initial[:3].copy()
    loss, gradients = descent.loss_and_gradients(weights)
    probe = np.random.default_rng(1).normal(size=weights.shape)
    epsilon = 1e-6
    up, _ = descent.loss_and_gradients(weights + epsilon * probe)
    down, _ = descent.loss_and_gradients(weights - epsilon * probe)
    assert np.isclose((up - down) / (2 * epsilon), np.sum(gradients * probe), rtol=1e-6)


@pytest.mark.parametrize("mode, threshold, name", [("by norm", 0.3, "clip_by_norm"),
                                                   ("by global norm", 0.3, "clip_by_global_norm"),
                                                   ("by value", 0.01, "clip_by_value")])
def test_descent_clips_each_step_by_the_lesson_rule(descent, mode, threshold, name):
    """A run's first step applies the lesson's clipping to the gradients of every layer (the
    descent clips inside its training loop; the lesson's solution says what it must give)."""
    depth, learning_rate = 5, 0.1
    start = descent.initial[:depth].copy()
    _, gradients = descent.loss_and_gradients(start)
    clipped = solution(name)(list(gradients), threshold)
    clipped = np.stack(clipped[0] if name == "clip_by_global_norm" else clipped)
    assert not np.allclose(clipped, gradients), "the threshold must bite for the test to mean anything"
    losses, raw_norms, applied_norms = descent.run(depth, learning_rate, mode, threshold, steps=2)
    assert np.isclose(raw_norms[0], np.sqrt(np.sum(gradients ** 2)), rtol=1e-9)
    assert np.isclose(applied_norms[0], np.sqrt(np.sum(clipped ** 2)), rtol=1e-9)
    assert np.isclose(losses[1], descent.loss_and_gradients(start - learning_rate * clipped)[0], rtol=1e-9)


def test_descent_runs_side_by_side_as_each_runs_alone(descent):
    """Stacked runs (the explorer's probe) are independent: a run that diverges leaves the stack."""
    settings = [(0.3, "none", 1.0), (1.0, "by value", 0.01), (0.3, "by global norm", 1.0), (0.05, "by norm", 0.1)]
    together = descent.run_many(20, *zip(*settings))
    for index, setting in enumerate(settings):
        assert np.allclose(together[:, index], descent.run(20, *setting), rtol=1e-9, equal_nan=True), setting
    assert diverged_at(together[0, 0]) is not None and diverged_at(together[0, 2]) is None


def test_descent_rejects_bad_controls(descent):
    for kwargs in ({"depth": 0, "learning_rate": 0.1}, {"depth": DESCENT_MAX_DEPTH + 1, "learning_rate": 0.1},
                   {"depth": 5, "learning_rate": 0.0}, {"depth": 5, "learning_rate": 0.1, "threshold": -1.0},
                   {"depth": 5, "learning_rate": 0.1, "mode": "by magic"}):
        with pytest.raises(ValueError):
            descent.run(**kwargs)


# -- lesson 08: the vectorised trainer is Keras's fit -------------------------------------------------
@pytest.mark.parametrize("setup_name, lam", [(DIGITS_MLP, 1e-3), (DEEP_LINEAR, 0.0)])
def test_trainer_reproduces_keras_fit(setup_name, lam):
    assert agreement_with_keras(SETUPS[setup_name], lam, epochs=1) < 1e-3


def test_trainer_overflows_at_the_same_step_as_keras():
    short = L2Setup(hidden=(64,) * 20, activation="linear", learning_rate=0.05, epochs=1)
    keras_norms, start = keras_weight_norms(short, 1e-3)
    ours = train_l2_grid(short, [1e-3], weights=start, shuffle_seed=None)
    keras_first = int(np.argmax(~np.isfinite(keras_norms))) + 1
    assert abs(ours.first_nonfinite_step()[0] - keras_first) <= 1


def test_trainer_step_is_sgd_with_the_l2_gradient():
    """One step by hand, W ← W − η(∂data/∂W + 2λW), on a copy the trainer did not touch."""
    setup = L2Setup(hidden=(8,), activation="tanh", learning_rate=0.3, epochs=1, batch_size=1347)
    start = initial_weights(setup)
    runs = train_l2_grid(setup, [0.0, 0.05], weights=start, shuffle_seed=None)
    net = _StackedMLP(setup, start, 1)
    data = load_digits()
    _, kernel_grads, _ = net.data_loss_and_grads(data.x_train[:1347], data.y_train[:1347])
    for k, lam in enumerate([0.0, 0.05]):
        after = [w - 0.3 * (g[0] + 2 * lam * w) for w, g in zip(start[0::2], kernel_grads)]
        expected = np.sqrt(sum(np.sum(np.square(a, dtype=float)) for a in after))
        assert np.isclose(runs.weight_norms[1, k], expected, rtol=1e-5)
    assert np.isclose(runs.penalty_grad_norms[0, 1], 0.1 * runs.weight_norms[0, 1])


def test_trainer_rejects_bad_arguments():
    setup = SETUPS[DIGITS_MLP]
    with pytest.raises(ValueError, match="non-negative"):
        train_l2_grid(setup, [-0.1])
    with pytest.raises(ValueError, match="one positive rate"):
        train_l2_grid(setup, [0.1, 0.2], learning_rates=[0.1])
    with pytest.raises(ValueError, match="activation"):
        train_l2_grid(L2Setup(hidden=(4,), activation="sigmoid", learning_rate=0.1, epochs=1), [0.0])
    with pytest.raises(ValueError, match="setup must be one of"):
        grid_runs("no such setup")


# -- lesson 05: the gap sweep ------------------------------------------------------------------------
def test_a_gap_result_does_not_depend_on_the_other_gaps():
    small = {"seed": 3, "n_train": 16, "n_test": 16, "epochs": 1, "batch_size": 8, "profile_batch": 4,
             "progress": None, "cells": ("SimpleRNN", "GRU")}
    norms = solution_function("05_gated_rnns", "timestep_gradient_norms")
    alone = gap_sweep((3,), gradient_norms=norms, **small)
    after = gap_sweep((5, 3), gradient_norms=norms, **small)
    for cell in alone.cells:
        assert alone.accuracy[cell, 3] == after.accuracy[cell, 3]
        assert np.allclose(alone.trained_profiles[cell, 3], after.trained_profiles[cell, 3], rtol=1e-5)
    with pytest.raises(ValueError):
        gap_sweep((3,), cells=("Transformer",))


def test_spread_is_median_and_range_over_seeds():
    results = SweepResults(("GRU",), (5,), seeds=(0, 1, 2))
    for seed, value in zip((0, 1, 2), (0.9, 0.5, 0.7)):
        results.seed_accuracy["GRU", 5, seed] = value
    assert results.spread("GRU", 5) == (0.7, 0.5, 0.9)
    assert "0.70 (0.50–0.90)" in results.spread_table()


def test_seeds_side_by_side_give_each_seed_its_own_run():
    small = {"n_train": 16, "n_test": 16, "epochs": 1, "batch_size": 8, "profile_batch": 4, "progress": None,
             "cells": ("SimpleRNN", "GRU")}
    together = gap_sweep((3,), seeds=(4, 5), **small)
    alone = gap_sweep((3,), seed=5, **small)
    for cell in together.cells:
        assert together.seed_accuracy[cell, 3, 5] == alone.accuracy[cell, 3]
    with pytest.raises(ValueError):
        gap_sweep((3,), seeds=(1, 1), **small)


# -- lessons 06 and 09: seeds sharing one compiled training step -------------------------------------
def test_each_seed_trains_as_its_own_compiled_model_would():
    import keras

    from gradclinic.models import deep_sigmoid_net

    digits = load_digits()
    x, y = digits.x_train[:200], digits.y_train[:200]

    def build():
        return deep_sigmoid_net(depth=3, width=8, batchnorm=True)

    shared = train_from_seeds(build, (1, 2), x, y, epochs=2, batch_size=64, validation_data=(x, y))
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        own = build()  # a compiled model of its own
        own.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"])
        alone = own.fit(x, y, epochs=2, batch_size=64, verbose=0, validation_data=(x, y)).history
        model, history = shared[seed]
        assert set(history) == set(alone) and all(np.allclose(history[k], alone[k], rtol=1e-4) for k in alone), seed
        # the model returned holds its own seed's training, BN statistics included
        loss = keras.losses.sparse_categorical_crossentropy(y, model(x, training=False)).numpy().mean()
        assert np.isclose(loss, history["val_loss"][-1], rtol=1e-4), seed
    assert not np.allclose(shared[1][1]["loss"], shared[2][1]["loss"]), "each seed starts from its own weights"


def test_a_model_built_for_fit_traces_its_step_once_and_trains_as_it_would_unbuilt():
    """Keras makes the optimizer's and the metrics' variables in the first trace of the training
    step, and TensorFlow traces a step again when its first trace made variables: build_for_fit
    makes them first, and the run is the same to the last bit."""
    import keras

    from gradclinic.models import deep_sigmoid_net
    from gradclinic.training import build_for_fit

    digits = load_digits()
    x, y = digits.x_train[:200], digits.y_train[:200]

    def fitted(built_first):
        keras.utils.set_random_seed(4)
        model = deep_sigmoid_net(depth=3, width=8, batchnorm=True)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        traces, train_step = [], model.train_step
        model.train_step = lambda data: traces.append(data) or train_step(data)  # runs only while tracing
        if built_first:
            build_for_fit(model, x, y)
        history = model.fit(x, y, epochs=2, batch_size=64, verbose=0).history
        return len(traces), history, model.get_weights()

    (unbuilt_traces, unbuilt, unbuilt_weights), (built_traces, built, built_weights) = fitted(False), fitted(True)
    assert (unbuilt_traces, built_traces) == (2, 1)
    assert built == unbuilt
    assert all(np.array_equal(a, b) for a, b in zip(built_weights, unbuilt_weights, strict=True))


# -- lesson 10: the race --------------------------------------------------------------------------------
def test_race_contestants_train_as_each_would_alone_and_one_architecture_compiles_once(monkeypatch):
    import keras

    from gradclinic import training
    from gradclinic.models import deep_mlp

    digits = load_digits()
    x, y, x_val, y_val = digits.x_train[:200], digits.y_train[:200], digits.x_test[:100], digits.y_test[:100]
    contestants = {"relu, glorot": lambda: deep_mlp(64, 10, depth=2, width=8),
                   "relu, he": lambda: deep_mlp(64, 10, depth=2, width=8, kernel_initializer="he_normal"),
                   "selu, lecun": lambda: deep_mlp(64, 10, depth=2, width=8, activation="selu",
                                                   kernel_initializer="lecun_normal")}
    alone = {}
    for name, build in contestants.items():
        keras.utils.set_random_seed(3)
        alone[name] = train_on_digits(build(), x, y, x_val, y_val, epochs=2, batch_size=64)
    compiled = []
    compile_for_digits = training._compile_for_digits
    monkeypatch.setattr(training, "_compile_for_digits", lambda model, rate: compiled.append(model) or
                        compile_for_digits(model, rate))
    raced = race_on_digits(contestants, x, y, x_val, y_val, epochs=2, seed=3, batch_size=64)
    assert raced == alone  # losses and accuracies equal, to the last bit
    assert len(compiled) == 2, "the two ReLU nets share one compiled net, the SELU net has its own"
    assert raced["relu, glorot"] != raced["relu, he"], "each starts from its own initial weights"


def test_epoch_helpers():
    assert epochs_to_best([0.5, 0.9, 0.9, 0.8]) == 2
    assert first_epoch_reaching([0.5, 0.91, 0.95], 0.95) == 3
    assert first_epoch_reaching([0.5], 0.9) is None
