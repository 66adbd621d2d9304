"""Lesson 02, causes and detection: ``sigmoid_grad``, ``tanh_grad``, ``GradientNormLogger`` and
``diagnose``."""

import functools

import numpy as np

from autograder import harness
from autograder.exercise import (Case, CheckFailed, Exercise, KerasLossArg, KerasModelArg,
                                 allclose, as_float_array, encode_call, fail, short)
from autograder.graders.l01_the_problem import _dense_model
from autograder.registry import register
from autograder.solution import Mutant

VERDICTS = ("vanishing", "exploding", "healthy")


# -- exercises -----------------------------------------------------------------------------
class ElementwiseDerivative(Exercise):
    """An activation's derivative: elementwise, any shape, stable where e^|z| overflows.
    Subclasses set ``name``, ``seed``, ``small_z``, ``basic_hints`` and list ``mistakes``."""

    seed = None
    TOLERANCE = {"rtol": 1e-5, "atol": 1e-12}

    basic_hints = None  # (hint at small z, hint at float32 z = ±100), as the notebook states them

    def basic_cases(self):
        small, extreme = self.basic_hints
        return [Case(args=(np.array(self.small_z),), hint=small),
                Case(args=(np.array([-100.0, 100.0], "float32"),), atol=1e-12, hint=extreme)]

    def hidden_cases(self):
        rng = np.random.default_rng(self.seed)
        return [
            Case("random z in [−10, 10]", (rng.uniform(-10, 10, size=25),)),
            Case("a 2-D batch of z, shape (3, 4)", (rng.normal(scale=3, size=(3, 4)),)),
            Case("a scalar z = 0.5", (0.5,)),
            Case("integers −5..5", (np.arange(-5, 6),)),
            Case("float32 z = ±100, ±50 (e^100 overflows float32)",
                 (np.array([-100.0, -50.0, 50.0, 100.0], "float32"),)),
            Case("float64 z = ±1000, ±710 (e^710 overflows float64)",
                 (np.array([-1000.0, -710.0, 710.0, 1000.0]),)),
            Case("an empty array", (np.zeros(0),)),
        ]

    def judge(self, case, got, expected):
        array = as_float_array(got)
        if array is None:
            raise CheckFailed(f"{self.name}({case.label}) returned {type(got).__name__}; return a NumPy "
                              "array of the same shape as z.")
        if array.shape != expected.shape:
            fail(self.name, case, expected, got, f"the derivative is elementwise: return an array of z's "
                 f"shape {expected.shape}, not {array.shape}.")
        if not np.isfinite(array).all():
            fail(self.name, case, expected, got, "NaN or inf where the derivative is a tiny number: an "
                 "exponential overflowed to inf (and inf/inf is NaN). Never exponentiate a large positive "
                 "number: e^−|z| stays in (0, 1].")
        if allclose(array, expected, **self.TOLERANCE):
            return
        fail(self.name, case, expected, got)


# σ(z) from the solution cell's e^−|z|: 1/(1 + e^−|z|) for z ≥ 0, e^−|z|/(1 + e^−|z|) below.
_SIGMOID = "np.where(np.asarray(z, dtype=float) >= 0, 1.0, small) / (1.0 + small)"
_SIGMOID_GRAD = "return small / (1.0 + small) ** 2"


@register
class SigmoidGrad(ElementwiseDerivative):
    name, seed = "sigmoid_grad", 2001
    small_z = [-2.0, 0.0, 2.0]
    basic_hints = ("σ'(z) = σ(z)·(1 − σ(z)); σ(0) = ½ gives ¼, and σ' is symmetric.",
                   "σ'(±100) ≈ 3.7e−44: tiny and finite, never NaN. Never exponentiate a large positive "
                   "number; e^−|z| stays between 0 and 1.")
    mistakes = (
        Mutant("σ = e^z/(1 + e^z) computed naively: e^z overflows to inf for large z (float32 z = 100) and "
               "inf/inf is NaN",
               {"small = np.exp(-np.abs(np.asarray(z, dtype=float)))  # e^−|z| ∈ (0, 1]: cannot overflow\n"
                "    return small / (1.0 + small) ** 2":
                "z = np.asarray(z)\n    s = np.exp(z) / (1 + np.exp(z))\n    return s * (1 - s)"}),
        Mutant("this is σ(z) itself; the exercise asks for its derivative σ(z)·(1 − σ(z)).",
               {_SIGMOID_GRAD: f"return {_SIGMOID}"}),
        Mutant("1 − σ² is the pattern of tanh's derivative; sigmoid's is σ·(1 − σ).",
               {_SIGMOID_GRAD: f"return 1 - ({_SIGMOID}) ** 2"}),
        Mutant("this is tanh's derivative 1 − tanh(z)²; sigmoid's is σ(z)·(1 − σ(z)).",
               {_SIGMOID_GRAD: "return tanh_grad(z)"}),
        Mutant("1 − σ(z) alone: multiply by σ(z).", {_SIGMOID_GRAD: f"return 1 - {_SIGMOID}"}),
    )


_TANH_GRAD = "return 1.0 - np.tanh(np.asarray(z, dtype=float)) ** 2"


@register
class TanhGrad(ElementwiseDerivative):
    name, seed = "tanh_grad", 2002
    small_z = [-1.0, 0.0, 1.0]
    basic_hints = ("tanh'(z) = 1 − tanh(z)²: the square matters (tanh(1) ≈ 0.762).",
                   "tanh is flat far from 0: its slope is ~0, never NaN.")
    mistakes = (
        Mutant("1 − tanh(z) is missing the square: tanh'(z) = 1 − tanh(z)².",
               {_TANH_GRAD: "return 1.0 - np.tanh(np.asarray(z, dtype=float))"}),
        Mutant("this is tanh(z) itself; the exercise asks for its derivative 1 − tanh(z)².",
               {_TANH_GRAD: "return np.tanh(np.asarray(z, dtype=float))"}),
        Mutant("(1 − tanh z)² squares the wrong thing: tanh'(z) = 1 − (tanh z)².",
               {_TANH_GRAD: "return (1.0 - np.tanh(np.asarray(z, dtype=float))) ** 2"}),
        Mutant("this is sigmoid's derivative; tanh's is 1 − tanh(z)².", {_TANH_GRAD: "return sigmoid_grad(z)"}),
        Mutant("the sign: tanh'(z) = 1 − tanh(z)², which is at most 1.",
               {_TANH_GRAD: "return 1.0 + np.tanh(np.asarray(z, dtype=float)) ** 2"}),
    )


def _conv_classifier(seed):
    """Conv2D → Flatten → softmax Dense: the probabilities SparseCategoricalCrossentropy expects."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="tanh"),
                             keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])


def _fit(model, x, y, loss, learning_rate=0.1, optimizer="SGD", epochs=3, batch_size=8):
    """The ``fit`` options of a callback case: the harness trains ``model`` this way (shuffle off)."""
    return {"fit": {"model": KerasModelArg(model), "optimizer": {"class_name": optimizer,
                                                                 "config": {"learning_rate": learning_rate}},
                    "loss": KerasLossArg(loss), "x": x, "y": y, "epochs": epochs, "batch_size": batch_size,
                    "attribute": "history"}}


@functools.cache
def _together_class():
    """A Keras callback that runs several callbacks in one training (made on first use: Keras
    imports slowly): their epoch and training hooks, in order, and their ``history`` lists. A
    member after the first that raises is dropped, and its history is None."""
    import keras

    class Together(keras.callbacks.Callback):
        def __init__(self, members):
            super().__init__()
            self.members, self.broken = members, set()

        @property
        def histories(self):
            return [None if i in self.broken else member.history for i, member in enumerate(self.members)]

        def set_model(self, model):
            super().set_model(model)
            for member in self.members:
                member.set_model(model)

        def set_params(self, params):
            super().set_params(params)
            for member in self.members:
                member.set_params(params)

    def forward(hook):
        def call(self, *args, **kwargs):
            for i, member in enumerate(self.members):
                try:
                    if i not in self.broken:
                        getattr(member, hook)(*args, **kwargs)
                except Exception:
                    if i == 0:
                        raise
                    self.broken.add(i)
        return call

    for hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end"):
        setattr(Together, hook, forward(hook))
    return Together


_KERNELS = 'kernels = [layer.kernel for layer in self.model.layers if getattr(layer, "kernel", None) is not None]'


@register
class GradientNormLoggerExercise(Exercise):
    """The learner's callback class is trained with on the grader's model (``kind="keras_callback"``);
    the judge trains the reference (the solution's class) and the Mutants the same way, in one
    training, and compares their ``history`` lists with the learner's."""

    name = "GradientNormLogger"
    TOLERANCE = {"rtol": 2e-3, "atol": 1e-7}
    mistakes = (
        Mutant("these are the norms at the *start* of each epoch (on_epoch_begin), before that epoch's "
               "training; log them in on_epoch_end, after it.",
               {"def on_epoch_end(self, epoch, logs=None):": "def on_epoch_begin(self, epoch, logs=None):"}),
        Mutant("biases are included: log each layer's kernel (layer.kernel) only, not every trainable variable.",
               {_KERNELS: "kernels = self.model.trainable_variables"}),
        Mutant("each layer's norm includes its bias: take the gradient of layer.kernel alone.",
               {"[layer.kernel for layer in": "[layer.trainable_variables for layer in",
                "float(tf.norm(gradient))": "float(tf.linalg.global_norm(gradient))"}),
        Mutant("these are the norms of the kernels themselves; log the norms of the loss's gradient with "
               "respect to them.", {"for gradient in tape.gradient(loss, kernels)": "for gradient in kernels"}),
        Mutant("the order is reversed: list the input-side layer first, as model.layers does.",
               {"for layer in self.model.layers if": "for layer in self.model.layers[::-1] if"}),
        Mutant("squared norms: log the L2 norm itself (tf.norm).",
               {"float(tf.norm(gradient))": "float(tf.reduce_sum(gradient ** 2))"}),
    )

    code_imports = "import keras\nimport numpy as np"
    # Lesson 01's net, 3 Dense layers with W = 2·I, given zero biases: its kernels' gradients on
    # x = [1, 0], y = 0 all have norm 32.
    IDENTITY_NET = ("keras.Sequential([keras.Input((2,))] + [keras.layers.Dense(2, kernel_initializer="
                    "keras.initializers.Identity(gain=2.0)) for _ in range(3)])")

    def basic_cases(self):
        def fit(learning_rate, epochs):
            return (f"fit=dict(model={self.IDENTITY_NET}, optimizer={{'class_name': 'SGD', 'config': "
                    f"{{'learning_rate': {learning_rate}}}}}, loss=keras.losses.MeanSquaredError(), "
                    f"x=np.array([[1.0, 0.0]] * 4, 'float32'), y=np.zeros((4, 2), 'float32'), epochs={epochs}, "
                    "batch_size=2, attribute='history')")

        arguments = (np.array([[1.0, 0.0]], "float32"), np.zeros((1, 2), "float32"))
        return [Case(args=arguments, kind="keras_callback", options_code=fit(0.0, 2), rtol=1e-5,
                     label="x = [1, 0], y = 0; lesson 01's net W = 2·I with biases, lr = 0, 2 epochs of 2 batches",
                     hint="one list per epoch (not per batch), one norm per kernel (biases excluded); lesson 01 "
                          "computed 32 for this net and input."),
                Case(args=arguments, kind="keras_callback", options_code=fit(0.01, 1), rtol=1e-5,
                     label="x = [1, 0], y = 0; the same net trained 1 epoch with lr = 0.01",
                     hint="the norms after the epoch's steps, not 32 from before them: log in on_epoch_end.")]

    def hidden_cases(self):
        rng = np.random.default_rng(2003)
        cases = []
        x, y = rng.normal(size=(32, 6)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")
        sigmoid_net = _dense_model([16] * 5 + [1], 6, "sigmoid", use_bias=True, seed=11)
        cases.append(Case("a 6-layer sigmoid net with biases, MSE", (x, y), kind="keras_callback",
                          options=_fit(sigmoid_net, x, y, "MeanSquaredError", learning_rate=0.1)))
        images = rng.uniform(size=(24, 8, 8, 1)).astype("float32")
        labels = rng.integers(0, 3, 24).astype("int32")
        cases.append(Case("a Conv2D → Flatten → Dense classifier, cross-entropy", (images, labels),
                          kind="keras_callback",
                          options=_fit(_conv_classifier(seed=12), images, labels, "SparseCategoricalCrossentropy",
                                       learning_rate=0.1)))
        relu_net = _dense_model([12, 12, 2], 5, "relu", use_bias=True, seed=13)
        x_train, y_train = rng.normal(size=(40, 5)).astype("float32"), rng.normal(size=(40, 2)).astype("float32")
        x_probe, y_probe = rng.normal(size=(10, 5)).astype("float32"), rng.normal(size=(10, 2)).astype("float32")
        cases.append(Case("a relu net with biases, Adam, norms on a held-out batch", (x_probe, y_probe),
                          kind="keras_callback", options=_fit(relu_net, x_train, y_train, "MeanSquaredError",
                                                              learning_rate=0.02, optimizer="Adam", epochs=4)))
        single = _dense_model([3], 5, None, use_bias=True, seed=14)
        x, y = rng.normal(size=(16, 5)).astype("float32"), rng.normal(size=(16, 3)).astype("float32")
        cases.append(Case("depth 1: a single Dense layer", (x, y), kind="keras_callback",
                          options=_fit(single, x, y, "MeanSquaredError", learning_rate=0.1, epochs=2)))
        return cases

    def __init__(self):
        self._histories = {}  # case label → histories: training is deterministic, so train once

    def histories(self, case):
        """The ``history`` of the reference callback, then of each Mutant, after training with
        them through the harness exactly as the learner's callback was (the same model rebuilt
        from the same JSON and weights, the same fit), all in one training. Cached per case, so
        grading a class trains each case once."""
        if case.label not in self._histories:
            self._histories[case.label] = self._train(case)
        return self._histories[case.label]

    def _train(self, case):
        classes = [self.reference] + [self.mutant(mistake) for mistake in self.mistakes]
        store = harness.ArrayStore()
        call = encode_call(self.name, case, store)
        call["fit"]["attribute"] = "histories"
        outputs = harness.ArrayStore()
        answer = harness.invoke(lambda *args, **kwargs: _together_class()([c(*args, **kwargs) for c in classes]),
                                call, harness.ScopedStore(store, outputs))
        if "error" in answer:
            raise RuntimeError(f"the reference callback failed on {case.label!r}: {answer['error']}")
        return [self.history_array(history) for history in harness.decode_plain(answer["result"], outputs)]

    @staticmethod
    def history_array(got):
        """A learner's ``history`` as a 2-D float array (epochs, norms), or None when it is not
        a list of equally long lists of numbers."""
        rows = got if isinstance(got, (list, tuple)) else None
        if rows is not None and all(isinstance(r, (list, tuple, np.ndarray)) for r in rows):
            lengths = {len(r) for r in rows}
            return as_float_array(rows) if len(lengths) <= 1 else None
        return None

    def named_mistake(self, case, got):
        """``what`` of the first Mutant whose trained ``history`` is the learner's, or None. Kept
        apart from :meth:`Exercise.named_mistake` because a Mutant here is a callback class, not a
        function: its answer is the history it logs while the grader's model trains, so the
        Mutants are trained beside the reference (:meth:`histories`), never called."""
        array = self.history_array(got)
        if array is None:
            return None
        for mistake, history in zip(self.mistakes, self.histories(case)[1:]):
            trained = history is not None and history.shape == array.shape
            if trained and allclose(array, history, **self.TOLERANCE):
                return mistake.what
        return None

    def judge(self, case, got, expected):
        end = self.histories(case)[0]
        epochs, n_kernels = end.shape
        array = self.history_array(got)
        if array is None or (array.ndim != 2 and array.size):
            raise CheckFailed(f"{self.name}({case.label}): history is {short(got)}; it should be a list "
                              f"with one list of {n_kernels} floats per epoch ({epochs} epochs here).")
        fit = case.options["fit"]
        batches = -(-len(fit["x"]) // fit["batch_size"])  # per epoch
        if len(array) == epochs * batches != epochs:
            fail(self.name, case, end, got, f"{len(array)} entries for {epochs} epochs of "
                 f"{batches} batches: that is one per batch. Log in on_epoch_end, once per epoch.")
        if len(array) != epochs:
            fail(self.name, case, end, got, f"history needs exactly one entry per epoch: {epochs} here. "
                 "Append one list in on_epoch_end and nothing anywhere else.")
        if allclose(array, end, **self.TOLERANCE):
            return
        self.fail_known(case, got, end)
        if array.shape != end.shape:
            fail(self.name, case, end, got, f"each epoch's list needs one norm per layer with a kernel: "
                 f"{n_kernels} here (Flatten and Input layers have none, biases do not count).")
        fail(self.name, case, end, got, self.locate(array, end, len(case.args[0])))

    def locate(self, got, end, batch):
        """For an answer that matches no known mistake: which quantity first differs — every
        norm by one factor (the loss's scale), the first epoch's list (the moment of logging)
        or one layer's norm (which kernel) — with the first differing entry, epoch then layer."""
        wrong = ~np.isclose(got, end, **self.TOLERANCE)
        epoch, layer = (int(i) for i in np.argwhere(wrong)[0])
        where = (f"the first entry that differs is epoch {epoch + 1}, layer {layer + 1} of {end.shape[1]} "
                 f"(counting layers with a kernel, input side first): expected {end[epoch, layer]:.6g}, "
                 f"got {got[epoch, layer]:.6g}. ")
        with np.errstate(divide="ignore", invalid="ignore"):
            factors = got / end
        factors = factors[np.isfinite(factors) & (end != 0)]
        if factors.size and np.all(np.isfinite(got)) and np.allclose(factors, factors[0], rtol=1e-3) \
                and not np.isclose(factors[0], 1.0, rtol=1e-3):
            summed = f" (the batch size, {batch}: a loss summed over the batch)" if np.isclose(factors[0], batch) else ""
            return (where + f"Every norm is {factors[0]:.4g} times the expected one{summed}, in every epoch and "
                    "layer, so the kernels and the moment are right and the loss is scaled differently: "
                    "differentiate self.model.compute_loss(x=…, y=…, y_pred=self.model(x, training=True)), "
                    "the compiled loss averaged over the batch, not a sum or a loss of your own.")
        if np.all(wrong[:, layer]) and not np.any(np.delete(wrong, layer, axis=1)):
            return (where + f"Only layer {layer + 1}'s norm differs, in every epoch: check which variable "
                    "you take for that layer (its kernel, layer.kernel) and how you take its norm.")
        if epoch > 0:
            return (where + "The earlier epochs match: the loss and the kernels are right, and the norms "
                    f"of epoch {epoch + 1} are not those of the model after that epoch's training. Compute "
                    "them from self.model in on_epoch_end, every epoch, on the (x, y) given to the constructor.")
        if not np.any(np.delete(wrong, 0, axis=0)):
            return (where + "Only the first epoch's norms differ: they should be those of the model after "
                    "epoch 1's training steps, computed in on_epoch_end.")
        return (where + "Compute the gradient of the model's compiled loss, self.model.compute_loss(x=…, y=…, "
                "y_pred=self.model(x, training=True)), on the (x, y) given to the constructor, after each "
                "epoch's training steps (in on_epoch_end).")


@register
class Diagnose(Exercise):
    name = "diagnose"
    mistakes = (
        Mutant("the ratio is inverted: it is norms[0]/norms[-1], input side over output side, so a small "
               "ratio means the input layers learn nothing.",
               {"first, last = norms[0], norms[-1]": "last, first = norms[0], norms[-1]  # output over input side"}),
        Mutant("the default thresholds were used: use the vanish_ratio and explode_at passed in.",
               {"np.any(norms > explode_at)": "np.any(norms > 1e2)",
                "first / last > 1 / vanish_ratio": "first / last > 1 / 1e-3",
                "first / last < vanish_ratio": "first / last < 1e-3"}),
    )

    def basic_cases(self):
        return [Case(args=([1e-5, 1e-3, 1.0],), hint="r = 1e−5 is below vanish_ratio = 1e−3."),
                Case(args=([5.0, 2.0, 1.0],), hint="r = 5 lies between 1e−3 and 1e3, and no norm is above 100."),
                Case(args=([0.5, 1.0, 1e3],), hint="a norm of 1000 is above explode_at = 100, whatever r is."),
                Case(args=([1.0, float("nan"), 1.0],),
                     hint="NaN is not finite; NaN > 100 is False, so test np.isfinite."),
                Case(args=([2.0, 2.0], 1e-3, 2.0),
                     hint="explode_at = 2 and no norm is *above* 2: the comparisons are strict."),
                Case(args=([0.2, 0.1, 0.0],), hint="a zero last norm makes r = +∞; do not divide by zero "
                                                   "(Python raises ZeroDivisionError, NumPy warns)."),
                Case(args=([],), raises="ValueError", hint="there is nothing to diagnose: raise ValueError.")]

    def hidden_cases(self):
        rng = np.random.default_rng(2004)
        cases = []
        for decades in (-6, -2, 0, 2, 4):  # first/last ratios from vanishing to exploding
            norms = np.sort(10.0 ** rng.uniform(-1, 1, size=6))[::-1] * np.geomspace(10.0 ** decades, 1, 6)
            cases.append(Case(f"6 layers whose first/last ratio is about 1e{decades}", (norms,)))
        return cases + [
            Case("ratio exactly vanish_ratio (0.25): not vanishing, the test is strict", ([1.0, 4.0],),
                 {"vanish_ratio": 0.25}),
            Case("ratio exactly 1/vanish_ratio (4): not exploding, the test is strict", ([4.0, 1.0],),
                 {"vanish_ratio": 0.25}),
            Case("a norm exactly explode_at (2.0): not exploding, the test is strict", ([2.0, 2.0],),
                 {"explode_at": 2.0}),
            Case("every norm above explode_at, ratio 1", ([500.0, 500.0, 500.0],)),
            Case("a vanishing ratio but one norm above explode_at", ([1e-7, 1e-3, 300.0],)),
            Case("NaN in the middle", (np.array([0.1, np.nan, 0.2]),)),
            Case("+inf as the first norm", (np.array([np.inf, 1.0]),)),
            Case("zero last norm (the ratio is +∞)", ([0.3, 0.1, 0.0],)),
            Case("zero first norm, positive last (the ratio is 0)", ([0.0, 0.5],)),
            Case("every norm zero (no gradient reaches the input layer)", ([0.0, 0.0, 0.0],)),
            Case("a single norm", ([0.7],)),
            Case("a dip in the middle: only the ends count", ([1.0, 1e-6, 1.0],)),
            Case("custom thresholds vanish_ratio=0.1, explode_at=10", ([0.05, 0.3, 1.0],),
                 {"vanish_ratio": 0.1, "explode_at": 10.0}),
            Case("custom thresholds vanish_ratio=0.1, explode_at=10, ratio 20", ([8.0, 0.4],),
                 {"vanish_ratio": 0.1, "explode_at": 10.0}),
            Case("an empty list", ([],), raises="ValueError"),
            Case("a negative norm", ([0.1, -1.0],), raises="ValueError"),
        ]

    def judge(self, case, got, expected):
        if not isinstance(got, str) or got not in VERDICTS:
            raise CheckFailed(f"{self.name}({case.label}) returned {short(got)}; return one of the strings "
                              f"{', '.join(repr(v) for v in VERDICTS)}.")
        if got == expected:
            return
        norms = np.asarray(case.args[0], dtype=float)
        kwargs = case.kwargs
        if np.isnan(norms).any() or np.isinf(norms).any():
            fail(self.name, case, expected, got, "a non-finite norm (NaN or inf) is exploding. NaN compares "
                 "False with every number, so test np.isfinite first.")
        if "strict" in case.label:
            fail(self.name, case, expected, got, "the comparisons are strict (<, >): a value exactly at a "
                 "threshold is healthy.")
        self.fail_known(case, got, expected)
        if expected == "exploding" and np.any(norms > kwargs.get("explode_at", 1e2)):
            fail(self.name, case, expected, got, "any norm above explode_at is exploding, whatever the "
                 "ratio; check exploding before vanishing.")
        if norms[0] == 0:
            fail(self.name, case, expected, got, "a zero first norm means no gradient reaches the input "
                 "layer: vanishing, even when the last norm is zero too (0/0 is NaN, and NaN compares "
                 "False with everything).")
        if norms[-1] == 0:
            fail(self.name, case, expected, got, "a zero last norm under a positive first one makes the "
                 "ratio +∞, which is above 1/vanish_ratio: exploding.")
        if "only the ends" in case.label:
            fail(self.name, case, expected, got, "compare the two ends, norms[0] and norms[-1], not the "
                 "largest and smallest norms.")
        fail(self.name, case, expected, got)
