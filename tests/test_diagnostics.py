"""The gradient-health monitor (gradclinic.diagnostics): its numbers equal direct computations,
its shares are right where the answer is known, its alarm fires, it works on Sequential,
functional, recurrent and convolutional models, and its report draws."""

import io
import math

import numpy as np
import pytest

import gradclinic

gradclinic.seed(0)
import keras  # noqa: E402  (after gradclinic.seed: quiet, seeded TensorFlow)
import tensorflow as tf  # noqa: E402

from autograder.solution import solution_function  # noqa: E402
from gradclinic.diagnostics import TINY_GRADIENT, GradientHealthMonitor, uniformly_tiny  # noqa: E402

diagnose = solution_function("02_causes_and_detection", "diagnose")  # lesson 02's, as the instructor wrote it

RNG = np.random.default_rng(0)


def _data(input_shape, outputs=2, n=32):
    x = RNG.normal(size=(n, *input_shape)).astype("float32")
    return x, RNG.normal(size=(n, outputs)).astype("float32")


def sequential():
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh", name="hidden_a"),
                             keras.layers.Dense(8, activation="relu", name="hidden_b"),
                             keras.layers.Dense(2, name="out")], name="seq"), (6,)


def sequential_without_input():
    return keras.Sequential([keras.layers.Dense(8, activation="relu", name="hidden_a"),
                             keras.layers.Dense(2, name="out")], name="lazy"), (6,)


def functional():
    inputs = keras.Input((6,))
    a = keras.layers.Dense(8, activation="sigmoid", name="hidden_a")(inputs)
    b = keras.layers.Dense(8, activation="relu", name="hidden_b")(a)
    outputs = keras.layers.Dense(2, name="out")(keras.layers.Concatenate()([a, b]))
    return keras.Model(inputs, outputs, name="fun"), (6,)


def recurrent():
    inputs = keras.Input((7, 3))
    h = keras.layers.SimpleRNN(6, return_sequences=True, name="rnn")(inputs)
    h = keras.layers.GRU(4, name="gru")(h)
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(h), name="rec"), (7, 3)


def convolutional():
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
                             keras.layers.Flatten(), keras.layers.Dense(2, name="out")], name="cnn"), (8, 8, 1)


BUILDERS = [sequential, sequential_without_input, functional, recurrent, convolutional]


def layer_kernels(model):
    """Kernels found layer by layer (a recurrent layer: input kernel, then recurrent kernel)."""
    found = []
    for layer in model.layers:
        cell = getattr(layer, "cell", None)
        if cell is not None:
            found += [(f"{layer.name}/kernel", cell.kernel), (f"{layer.name}/recurrent_kernel", cell.recurrent_kernel)]
        elif getattr(layer, "kernel", None) is not None:
            found.append((f"{layer.name}/kernel", layer.kernel))
    return found


def tape_gradients(model, x, y, kernels):
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=False), training=False)
    return [g.numpy() for g in tape.gradient(loss, kernels)]


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_norms_and_update_ratio_equal_a_direct_gradient_tape(builder):
    model, shape = builder()
    x, y = _data(shape)
    model.compile(keras.optimizers.SGD(0.05), "mse")
    probe_x, probe_y = x[:16], y[:16]
    seen = {}

    class Recorder(keras.callbacks.Callback):  # runs after the monitor, before the first update
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0 and not seen:
                seen["labels"], kernels = zip(*layer_kernels(self.model))
                seen["grads"] = tape_gradients(self.model, probe_x, probe_y, list(kernels))
                seen["weights"] = [k.numpy() for k in kernels]

    monitor = GradientHealthMonitor(probe_x, probe_y, every=2)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[monitor, Recorder()])
    labels, grads, weights = seen["labels"], seen["grads"], seen["weights"]
    h = monitor.history
    assert h["kernels"] == list(labels)
    assert list(h["step"]) == [0, 2]  # 4 steps, every 2: the first sample precedes the first update
    np.testing.assert_allclose(h["grad_norms"][0], [np.linalg.norm(g) for g in grads], rtol=1e-4)
    expected = [np.log10(0.05 * np.std(g) / np.std(w)) for g, w in zip(grads, weights)]
    np.testing.assert_allclose(h["update_ratio"][0], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(h["learning_rate"], 0.05, rtol=1e-6)
    assert h["grad_norms"].shape == h["update_ratio"].shape == (2, len(labels))
    assert monitor.summary()["verdict"] is None  # no diagnose given: the monitor judges nothing itself
    assert np.isclose(monitor.summary()["first_to_last_ratio"], h["grad_norms"][-1][0] / h["grad_norms"][-1][-1])


def test_shares_where_the_answer_is_known():
    huge = keras.initializers.RandomNormal(stddev=100.0, seed=1)
    inputs = keras.Input((10,))
    a = keras.layers.Dense(32, activation="tanh", kernel_initializer=huge, name="tanh_huge")(inputs)
    b = keras.layers.Dense(32, activation="sigmoid", kernel_initializer=huge, name="sigmoid_huge")(a)
    c = keras.layers.Dense(32, activation="relu", bias_initializer=keras.initializers.Constant(-100.0),
                           name="relu_dead")(b)
    d = keras.layers.Dense(32, activation="tanh", kernel_initializer=keras.initializers.RandomNormal(stddev=1e-3),
                           name="tanh_calm")(inputs)
    e = keras.layers.Dense(32, activation="relu", name="relu_alive")(inputs)
    image = keras.layers.Reshape((2, 5, 1))(inputs)
    conv = keras.layers.Conv2D(3, 2, activation="relu", bias_initializer=keras.initializers.Constant(-100.0),
                               name="conv_dead")(image)
    merged = keras.layers.Concatenate()([c, d, e, keras.layers.Flatten()(conv)])
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(merged))
    model.compile(keras.optimizers.SGD(0.0), "mse")
    x, y = _data((10,), outputs=1, n=64)
    monitor = GradientHealthMonitor(x, y, every=1)
    model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[monitor])
    summary = monitor.summary()
    assert summary["saturation"]["tanh_huge"] > 0.95
    assert summary["saturation"]["sigmoid_huge"] > 0.95
    assert summary["saturation"]["tanh_calm"] == 0.0
    assert summary["dead"]["relu_dead"] == 1.0 and summary["dead"]["conv_dead"] == 1.0
    assert summary["dead"]["relu_alive"] < 0.5
    # the exact shares, recomputed from the layers' outputs
    outputs = keras.Model(inputs, [a, b, d, e])(x)
    a_, b_, d_, e_ = (np.asarray(o) for o in outputs)
    assert summary["saturation"]["tanh_huge"] == pytest.approx(np.mean(np.abs(a_) > 0.97), abs=1e-6)
    assert summary["saturation"]["sigmoid_huge"] == pytest.approx(np.mean((b_ < 0.03) | (b_ > 0.97)), abs=1e-6)
    assert summary["dead"]["relu_alive"] == pytest.approx(np.mean(np.all(e_ <= 0, axis=0)), abs=1e-6)
    assert np.isneginf(summary["update_ratio"]["tanh_huge/kernel"])  # lr = 0: no update at all


def _exploding_net():
    model = keras.Sequential([keras.Input((16,))] + [keras.layers.Dense(16) for _ in range(6)])
    model.compile(keras.optimizers.SGD(1e4), "mse")
    return model


@pytest.mark.parametrize("stop", [False, True])
def test_nan_alarm_fires_and_stops_training_when_asked(stop):
    x, y = _data((16,), outputs=16, n=320)
    model = _exploding_net()
    monitor = GradientHealthMonitor(x[:32], y[:32], every=2, stop_on_nan=stop, diagnose=diagnose)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[monitor])
    alarms = monitor.history["alarms"]
    assert alarms, "an absurd learning rate must raise a NaN/inf alarm"
    first = alarms[0]["step"]
    assert 0 < first < 20 and monitor.summary()["first_alarm_step"] == first
    if not stop:  # the last sample's norms are non-finite; a stopped run may end on the sample before
        assert monitor.summary()["verdict"] == "exploding"
    if stop:  # a probe alarm stops at once, a training-loss alarm (read asynchronously) soon after
        assert model.stop_training and first < monitor._steps_seen <= first + monitor.every + 1 < 20
    else:
        assert monitor._steps_seen == 20


def test_sampling_every_n_steps_records_ceil_steps_over_n():
    x, y = _data((6,), n=40)
    model, _ = sequential()
    model.compile(keras.optimizers.SGD(0.01), "mse")
    monitors = {n: GradientHealthMonitor(x[:8], y[:8], every=n, histograms=2) for n in (1, 3, 7)}
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=list(monitors.values()))  # 10 steps
    for n, monitor in monitors.items():
        steps = monitor.history["step"]
        assert len(steps) == math.ceil(10 / n) and list(steps) == list(range(0, 10, n))
        snapshots = monitor.history["histograms"]
        assert 1 <= len(snapshots) <= 2 and snapshots[0]["step"] == 0
        for kind in ("weights", "gradients"):
            counts, edges = snapshots[0][kind]["hidden_a/kernel"]
            assert len(edges) == len(counts) + 1 and counts.sum() == 6 * 8


def test_report_draws_the_expected_panels():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x, y = _data((6,), n=32)
    model, _ = functional()
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    monitor = GradientHealthMonitor(x, y, every=1, diagnose=diagnose)
    with pytest.raises(RuntimeError, match="recorded nothing"):
        monitor.report()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[monitor])
    figure = monitor.report()
    assert isinstance(figure, Figure)
    panels = {ax.get_label() for ax in figure.axes}
    assert {"gradient norms", "update ratio", "saturation and dead share", "probe loss", "weight histograms",
            "gradient histograms"} <= panels
    ratio = next(ax for ax in figure.axes if ax.get_label() == "update ratio")
    assert any(np.allclose(line.get_ydata(), -3.0) for line in ratio.get_lines())
    assert "Adam: a proxy" in ratio.get_title()  # the ratio from the raw gradient, said so for Adam
    norms = next(ax for ax in figure.axes if ax.get_label() == "gradient norms")
    assert norms.get_yscale() == "log" and len(norms.get_lines()) == len(monitor.history["kernels"])
    title = figure._suptitle.get_text()
    assert title.startswith(f"gradclinic.diagnostics: {monitor.verdict()}, first/last gradient norm ")
    FigureCanvasAgg(figure).print_png(io.BytesIO())  # draws without error under Agg


@pytest.mark.parametrize("kwargs, message", [
    ({"every": 0}, "every must be a whole number ≥ 1"),
    ({"every": 2.5}, "every must be a whole number"),
    ({"every": True}, "every must be a whole number"),
    ({"histograms": -1}, "histograms must be a whole number ≥ 0"),
    ({"stop_on_nan": "yes"}, "stop_on_nan must be True or False"),
])
def test_bad_arguments_raise_a_clear_value_error(kwargs, message):
    x, y = _data((6,), n=8)
    with pytest.raises(ValueError, match=message):
        GradientHealthMonitor(x, y, **kwargs)


def test_bad_probe_batches_raise_a_clear_value_error():
    x, y = _data((6,), n=8)
    with pytest.raises(ValueError, match="same number of examples"):
        GradientHealthMonitor(x, y[:4])
    with pytest.raises(ValueError, match="needs targets y"):
        GradientHealthMonitor(x, None)
    with pytest.raises(ValueError, match="at least one example"):
        GradientHealthMonitor(x[:0], y[:0])


def test_verdict_is_the_diagnose_the_learner_passes():
    x, y = _data((8,), outputs=4, n=64)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(4)])
    model.compile(optimizer="sgd", loss="mse")
    seen = []
    monitor = GradientHealthMonitor(x, y, every=1, diagnose=lambda norms: seen.append(norms) or "healthy")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[monitor])
    assert monitor.verdict() == "healthy" and seen[-1] == list(monitor.history["grad_norms"][-1])
    with pytest.raises(ValueError, match="diagnose must be a function"):
        GradientHealthMonitor(x, y, diagnose="vanishing")


def test_uniformly_tiny_is_every_norm_finite_and_below_the_line():
    assert uniformly_tiny([1e-26, 4e-27, 1e-20]) and not uniformly_tiny([1e-26, 1.0])
    assert not uniformly_tiny([]) and not uniformly_tiny([float("nan"), 1e-30])
    assert uniformly_tiny([0.5, 0.9], tiny=1.0) and TINY_GRADIENT == 1e-8


def test_norms_of_a_vanished_gradient_do_not_underflow_and_raise_the_tiny_flag():
    """Weights of scale 0.01 over 12 ReLU layers: gradient entries ~1e-25, whose float32 squares flush
    to 0. The monitor sums in float64, so its norms equal the float64 norms of the float32 gradients."""
    from matplotlib.figure import Figure

    x, y = _data((16,), outputs=2, n=32)
    tiny = keras.initializers.RandomNormal(stddev=0.01, seed=3)
    model = keras.Sequential([keras.Input((16,))] + [keras.layers.Dense(16, activation="relu", kernel_initializer=tiny)
                                                     for _ in range(12)] + [keras.layers.Dense(2, kernel_initializer=tiny)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    kernels = [layer.kernel for layer in model.layers]
    grads = tape_gradients(model, x, y, kernels)
    float32_norms = [float(tf.norm(g)) for g in grads]
    assert float32_norms[0] == 0.0  # what a float32 norm reports: the squares underflowed
    monitor = GradientHealthMonitor(x, y, every=1, diagnose=diagnose)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[monitor])
    norms = monitor.history["grad_norms"][0]
    np.testing.assert_allclose(norms, [np.linalg.norm(g.astype(np.float64)) for g in grads], rtol=1e-6)
    assert np.all(norms > 0) and monitor.tiny_everywhere() and monitor.summary()["tiny_everywhere"]
    assert np.all(np.isfinite(monitor.history["update_ratio"][0]))  # the std is taken in float64 too
    figure = monitor.report()
    assert isinstance(figure, Figure) and "vanished everywhere" in figure._suptitle.get_text()
