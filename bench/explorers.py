"""Every explorer of the course, made the way its lesson makes it, and the slider sweep that
drives it. Used by the slider bench (bench/run.py) and by tests/test_explorer_rendering.py.

Three explorers need a learner's work: lesson 05's needs a training sweep (the bench draws
the same figure from synthetic results of the sweep's shape: the explorer only looks results
up), lessons 10 and 12 need the learner's functions (the instructor's references stand in).
"""

import importlib
import inspect
import pkgutil

import numpy as np


def _gated_rnn():
    from gradclinic.explorers.gated_rnns import GatedRnnExplorer
    from gradclinic.training import AGREEMENT_CELLS, SweepResults

    results = SweepResults(tuple(AGREEMENT_CELLS), (4, 12, 20, 28))  # the lesson's gaps
    rng = np.random.default_rng(0)
    for index, cell in enumerate(results.cells):
        for gap in results.gaps:
            results.accuracy[cell, gap] = min(1.0, 0.5 + 0.15 * index + rng.uniform(0, 0.1))
            decay = 0.3 + 0.2 * index  # the profile over the determiner, subject and gap words
            results.initial_profiles[cell, gap] = decay ** np.arange(gap + 1, -1, -1.0)
            results.trained_profiles[cell, gap] = np.sqrt(results.initial_profiles[cell, gap])
    return GatedRnnExplorer(results, gap=28, cell="SimpleRNN")


def _self_normalizing():
    from autograder.solution import solution_function
    from gradclinic.data import load_digits
    from gradclinic.explorers.self_normalizing_networks import SelfNormalizingExplorer

    slug = "10_self_normalizing_networks"
    digits = load_digits()
    train_std, _ = solution_function(slug, "standardize")(digits.x_train, digits.x_test)
    return SelfNormalizingExplorer({"standardized": train_std, "raw": digits.x_train},
                                   selu=solution_function(slug, "selu"), depth=32)


def _signal_propagation():
    from autograder.solution import solution_function
    from gradclinic.explorers.signal_propagation import SignalPropagationExplorer
    from gradclinic.mean_field import chi1_grid

    chi1, fixed_point_q = (solution_function("12_signal_propagation", name) for name in ("chi1", "fixed_point_q"))
    return SignalPropagationExplorer(chi1, fixed_point_q, sigma_w=1.5, sigma_b=0.3, depth=40, grid=chi1_grid(chi1))


def _made_by(module, name, seeded=True, **arguments):
    """A factory for ``gradclinic.explorers.<module>.<name>(**arguments)``, with a fresh
    ``rng=default_rng(0)`` on every call when ``seeded``."""
    def make():
        explorer = getattr(importlib.import_module(f"gradclinic.explorers.{module}"), name)
        return explorer(**arguments, **({"rng": np.random.default_rng(0)} if seeded else {}))
    return make


def _relu_profile():
    from gradclinic.explorers.relu_and_friends import ReluProfileExplorer
    from gradclinic.profiles import ActivationProfiles

    return ReluProfileExplorer(ActivationProfiles(np.random.default_rng(0)), depth=20, activation="relu")


# Name → a function that makes the explorer with its lesson's arguments.
EXPLORERS = {
    "DeepLinearExplorer": _made_by("the_problem", "DeepLinearExplorer", depth=30, scale=1.2),
    "CausesExplorer": _made_by("causes_and_detection", "CausesExplorer", depth=20, activation="sigmoid"),
    "ReluProfileExplorer": _relu_profile,
    "InitializationExplorer": _made_by("initialization", "InitializationExplorer", depth=10,
                                       initializer="uniform_inv_sqrt_n", activation="tanh"),
    "GatedRnnExplorer": _gated_rnn,
    "ResidualExplorer": _made_by("residual_networks", "ResidualExplorer", depth=20, mode="plain"),
    "ClippingExplorer": _made_by("gradient_clipping", "ClippingExplorer"),
    "L2Explorer": _made_by("l2_regularization", "L2Explorer", seeded=False, lam=1e-2),
    "BatchNormExplorer": _made_by("batch_normalization", "BatchNormExplorer", seeded=False, depth=20, batchnorm=True,
                                  activation="sigmoid"),
    "SelfNormalizingExplorer": _self_normalizing,
    "SignalPropagationExplorer": _signal_propagation,
}


def explorer_classes():
    """Every Explorer subclass defined in gradclinic.explorers, by name."""
    import gradclinic.explorers as package
    from gradclinic.widgets import Explorer

    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"gradclinic.explorers.{info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Explorer) and cls is not Explorer and cls.__module__ == module.__name__:
                found[name] = cls
    return found


def sweep(explorer, steps=12):
    """Slider moves to time: depth sliders held at their maximum, each control swept in turn
    over ``steps`` values from end to end (log-spaced on a log slider; every option of a
    dropdown)."""
    import ipywidgets as widgets

    base = {}
    for name, control in explorer.controls.items():
        if isinstance(control, widgets.IntSlider) and "depth" in name:
            base[name] = control.max
    moves = []
    for name, control in explorer.controls.items():
        if isinstance(control, (widgets.IntSlider, widgets.FloatSlider, widgets.FloatLogSlider)):
            low, high = control.min, control.max  # a log slider's are exponents of its base
            values = [low + (high - low) * i / (steps - 1) for i in range(steps)]
            if isinstance(control, widgets.IntSlider):
                values = [int(round(v)) for v in values]
            elif isinstance(control, widgets.FloatLogSlider):
                values = [control.base ** v for v in values]
        elif hasattr(control, "options"):
            values = [o[1] if isinstance(o, tuple) else o for o in control.options]
        elif isinstance(control, (widgets.Checkbox, widgets.ToggleButton)):
            values = [False, True]
        else:
            continue
        moves += [{**base, name: v} for v in values]
    return moves
