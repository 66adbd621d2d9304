"""The gradient-health monitor's overhead on training: ``python bench/run.py --only monitor``."""

import math
import time

import numpy as np

import gradclinic
from gradclinic.data import load_digits
from gradclinic.diagnostics import DEFAULT_EVERY, GradientHealthMonitor
from gradclinic.models import deep_mlp

import keras  # noqa: E402  (after gradclinic.diagnostics has quieted TensorFlow)


def bench_monitor_overhead(depth=10, width=64, epochs=3, repeats=9, batch_size=32, probe_size=256, every=None):
    """The monitor's overhead on a deep ReLU MLP on digits, at the default sampling.

    One process: fits of ``epochs`` epochs alternate without and with the monitor (after one
    warm-up of each, which traces the compiled functions), ``repeats`` pairs. Returns the median
    wall-clock and CPU seconds per epoch of both, and the overheads in percent as the median over
    pairs of 100·(with/without − 1): neighbouring fits see the same load on a shared machine, so
    the ratio of a pair is steadier than the ratio of two medians. ``overhead_pct`` is wall-clock
    (what a learner waits), ``overhead_cpu_pct`` the process CPU time (the work added).
    """
    gradclinic.seed(0)
    every = DEFAULT_EVERY if every is None else every
    data = load_digits()
    model = deep_mlp(64, 10, depth=depth, width=width, activation="relu", kernel_initializer="he_normal")
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    monitor = GradientHealthMonitor(data.x_test[:probe_size], data.y_test[:probe_size], every=every)
    timings = {"without": [], "with": []}
    for round_ in range(repeats + 1):
        for kind in ("without", "with"):
            wall, cpu = time.perf_counter(), time.process_time()
            model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch_size, verbose=0,
                      callbacks=[monitor] if kind == "with" else [])
            if round_:  # round 0 is the warm-up
                timings[kind].append(((time.perf_counter() - wall) / epochs, (time.process_time() - cpu) / epochs))
    without, with_ = np.array(timings["without"]), np.array(timings["with"])
    overhead = 100 * (np.median(with_ / without, axis=0) - 1)
    steps = math.ceil(len(data.x_train) / batch_size)
    return {"model": f"deep_mlp depth {depth} width {width} relu, SGD, batch {batch_size}, probe {probe_size}",
            "every": every, "steps_per_epoch": steps, "samples_per_epoch": round(steps / every, 2),
            "pairs": repeats, "seconds_per_epoch_without": round(float(np.median(without[:, 0])), 4),
            "seconds_per_epoch_with": round(float(np.median(with_[:, 0])), 4),
            "cpu_seconds_per_epoch_without": round(float(np.median(without[:, 1])), 4),
            "cpu_seconds_per_epoch_with": round(float(np.median(with_[:, 1])), 4),
            "overhead_pct": round(float(overhead[0]), 1), "overhead_cpu_pct": round(float(overhead[1]), 1),
            "samples_seen": len(monitor.history["step"])}
