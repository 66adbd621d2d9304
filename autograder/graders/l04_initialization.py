"""Lesson 04, initialization: ``fans``, Keras's four initializers and ``activation_stds``.

The references are the lesson's solution cells; known mistakes are :class:`Mutant` s of them.
The initializers are random, so their checks are statistical. Every check uses fixed seeds
(the learner's ``rng`` and Keras's own samples are seeded per case), so a given submission
always gets the same grade; the tolerances below say how often a *correct* implementation that
draws its numbers in some other order than the reference could fail a case:

- moments: the sample mean and the second moment must lie within ``Z_TOLERANCE`` = 7 standard
  errors of Keras's values (two-sided normal tail: 2.6e-12 per check);
- distribution: a two-sample Kolmogorov–Smirnov distance against samples from Keras's own
  initializer of the same shape must stay below its critical value at ``KS_ALPHA`` = 1e-9;
- bounds: |w| ≤ limit (uniform) or 2·σ (truncated normal, σ = √variance / 0.8796…) hold for
  every sample, exactly (a property, not a statistic);
- ``activation_stds``: per layer, |ln(got / reference)| within 6 standard deviations of the
  difference between two correct runs, that spread measured on 16 seeds of the reference
  (see :func:`activation_log_tolerance`).

Together the false-failure rate of a correct submission is negligible; the lesson's test file
runs correct implementations that draw differently through every check to keep it so.
"""

import math

import numpy as np

from autograder.exercise import Case, CheckFailed, Exercise, RngArg, as_float_array, fail
from autograder.registry import register
from autograder.solution import Mutant, solution_function

LESSON = "04_initialization"  # the references are this lesson's solution cells
KERAS_TRUNCATION_STD = 0.87962566103423978  # std of N(0, 1) cut to [−2, 2]: Keras divides by it
TRUNCATION_SIGMAS = 2.0
Z_TOLERANCE = 7.0
KS_ALPHA = 1e-9
STATISTICS_MIN_SIZE = 10_000  # below this many samples only shape and bounds are checked


def _fans(shape):
    """(fan_in, fan_out) of ``shape``, as the lesson's solution (the reference of ``fans``) computes them."""
    return solution_function(LESSON, "fans")(shape)


# -- statistics the judges use -------------------------------------------------------------
def variance_of(kind, shape):
    """The variance Keras's initializer ``kind`` gives each weight of a kernel of ``shape``."""
    fan_in, fan_out = _fans(shape)
    scale, fan = {"glorot_uniform": (1.0, (fan_in + fan_out) / 2), "glorot_normal": (1.0, (fan_in + fan_out) / 2),
                  "he_normal": (2.0, fan_in), "lecun_normal": (1.0, fan_in)}[kind]
    return scale / max(1.0, fan)


def ks_distance(sample, other):
    """Two-sample Kolmogorov–Smirnov distance: the largest gap between the two empirical CDFs."""
    sample, other = np.sort(np.ravel(sample)), np.sort(np.ravel(other))
    grid = np.concatenate([sample, other])
    gaps = (np.searchsorted(sample, grid, side="right") / sample.size
            - np.searchsorted(other, grid, side="right") / other.size)
    return float(np.abs(gaps).max())


def ks_critical(n, m, alpha=KS_ALPHA):
    """The distance two samples of sizes n and m from one distribution exceed with probability
    at most ``alpha`` (the asymptotic Kolmogorov bound)."""
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


def keras_samples(kind, shape, seed):
    """Samples of ``shape`` from Keras's own initializer ``kind`` (float64 NumPy)."""
    import keras

    initializer = keras.initializers.get({"class_name": kind, "config": {"seed": int(seed)}})
    return np.asarray(initializer(tuple(shape)), dtype=float)


# -- exercises -----------------------------------------------------------------------------
@register
class Fans(Exercise):
    name = "fans"
    mistakes = (
        Mutant("numpy.prod of the empty window is the float 1.0: Dense fans come back as floats, not ints",
               {"    shape = [int(dim) for dim in shape]\n": "",
                "receptive_field = math.prod(shape[:-2])": "receptive_field = np.prod(shape[:-2])"}),
    )

    def basic_cases(self):
        return [Case(args=((784, 128),), hint="a Dense kernel is (inputs, outputs)."),
                Case(args=((3, 3, 16, 32),), hint="a 3×3 window over 16 channels: each output sees 3·3·16 "
                                                   "inputs; both fans include the window."),
                Case(args=((784,),), hint="Keras gives a 1-D shape (n,) fan_in = fan_out = n."),
                Case(args=((),), hint="a scalar shape has fans 1 and 1, as ints (math.prod(()) is the int 1, "
                                      "np.prod(()) the float 1.0)."),
                Case(args=((3, -2),), raises="ValueError", hint="a negative dimension is no shape: raise ValueError.")]

    def hidden_cases(self):
        rng = np.random.default_rng(1040)
        cases = [Case(f"a Dense kernel {shape}", (shape,)) for shape in
                 [tuple(int(d) for d in rng.integers(1, 3000, 2)) for _ in range(3)]]
        cases += [
            Case("a Dense kernel (784, 10)", ((784, 10),)),
            Case("a Conv2D kernel (5, 5, 3, 64)", ((5, 5, 3, 64),)),
            Case("a Conv2D kernel (1, 1, 64, 256) (a 1×1 convolution)", ((1, 1, 64, 256),)),
            Case("a Conv1D kernel (7, 8, 16)", ((7, 8, 16),)),
            Case("a Conv3D kernel (2, 3, 3, 4, 8)", ((2, 3, 3, 4, 8),)),
            Case("a 1-D shape (784,) (a bias vector)", ((784,),)),
            Case("a scalar shape ()", ((),)),
            Case("a shape given as a list [4, 6]", ([4, 6],)),
            Case("an empty Dense kernel (0, 7)", ((0, 7),)),
            Case("a negative dimension (3, -2)", ((3, -2),), raises="ValueError"),
            Case("a fractional dimension (2.5, 4)", ((2.5, 4),), raises="ValueError"),
        ]
        return cases

    def judge(self, case, got, expected):
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailed(f"fans({case.label}) returned {got!r}; return a tuple of two whole numbers "
                              "(fan_in, fan_out).")
        if tuple(got) == expected and all(type(n) is int for n in got):
            return
        if tuple(got) == expected:
            fail(self.name, case, expected, got, "the values are right but not whole numbers: return ints "
                 "(numpy.prod of an empty tuple is the float 1.0; math.prod gives the int 1).")
        shape = tuple(case.args[0])
        if tuple(got) == expected[::-1]:
            fail(self.name, case, expected, got, "fan_in and fan_out are swapped: a kernel's shape ends "
                 "(…, inputs, outputs), so fan_in comes from shape[-2] and fan_out from shape[-1].")
        if len(shape) >= 3 and tuple(got) == (shape[-2], shape[-1]):
            fail(self.name, case, expected, got, "the receptive field is missing: each output of a "
                 "convolution sees kh·kw·in_channels inputs, so both fans are multiplied by the product "
                 "of the window dimensions shape[:-2].")
        if len(shape) >= 3 and tuple(got) == (shape[0], shape[1]):
            fail(self.name, case, expected, got, "for a convolution kernel the channels are the last two "
                 "axes (kh, kw, in, out); the first ones are the window.")
        if len(shape) == 1:
            fail(self.name, case, expected, got, "Keras gives a 1-D shape (n,) fan_in = fan_out = n.")
        if len(shape) == 0:
            fail(self.name, case, expected, got, "Keras treats a scalar shape () as fan_in = fan_out = 1.")
        fail(self.name, case, expected, got)


class KerasInitializerExercise(Exercise):
    """One of Keras's variance-scaling initializers, judged by its distribution.

    Subclasses set ``name`` (also the key of :func:`variance_of` and Keras's identifier),
    ``family`` (``"uniform"`` or ``"truncated_normal"``), :meth:`variance_mistakes` (the judge names
    them by the sample's variance) and ``mistakes`` (the catalogue's, as a :class:`Mutant`).
    """

    family = None
    big_shapes = [("a Dense kernel (600, 180)", (600, 180)),
                  ("a Conv2D kernel (3, 3, 48, 256)", (3, 3, 48, 256)),
                  ("a 1-D shape (100000,)", (100_000,))]

    # The visible check compares a (300, 500) sample's shape and [mean/std, std, max |w|/std, share
    # at the edge] with the reference's sample: within sampling error when drawn in another order.
    basic_tolerances = {"rtol": [0.0, 0.01, 0.01, 0.0], "atol": [0.02, 0.0, 0.0, 0.002]}
    basic_hint = None

    def basic_cases(self):
        return [Case("(300, 500), rng", args_code=f"(300, 500), np.random.default_rng({self.basic_seed})",
                     probe="gradclinic.probes.weight_sample", hint=self.basic_hint, **self.basic_tolerances)]

    def hidden_cases(self):
        cases = [Case(label, (shape, RngArg(4100 + i))) for i, (label, shape) in enumerate(self.big_shapes)]
        cases += [
            Case("a small Dense kernel (2, 3)", ((2, 3), RngArg(4200))),
            Case("a 1-D shape (1,)", ((1,), RngArg(4201))),
            Case("a scalar shape ()", ((), RngArg(4202))),
            Case("an empty kernel (4, 0)", ((4, 0), RngArg(4203))),
            Case("a negative dimension (3, -2)", ((3, -2), RngArg(4204)), raises="ValueError"),
        ]
        return cases

    def bound(self, shape):
        """Largest |w| Keras can draw: the limit √(3·var), or 2σ with σ = √var / 0.8796…"""
        variance = variance_of(self.name, shape)
        if self.family == "uniform":
            return math.sqrt(3 * variance)
        return TRUNCATION_SIGMAS * math.sqrt(variance) / KERAS_TRUNCATION_STD

    def variance_mistakes(self, shape):
        """[(variance a known mistake gives, its misconception)] for a kernel of ``shape``."""
        raise NotImplementedError

    def fan_mistakes(self, shape):
        """Variances from fans computed the wrong way (shared by every initializer)."""
        fan_in, fan_out = _fans(shape)
        rule = {"glorot_uniform": lambda i, o: 2 / (i + o), "glorot_normal": lambda i, o: 2 / (i + o),
                "he_normal": lambda i, o: 2 / i, "lecun_normal": lambda i, o: 1 / i}[self.name]
        found = [(rule(fan_out, fan_in), "fan_in and fan_out are swapped (a kernel is (…, inputs, outputs)).")]
        if len(shape) >= 3:
            found.append((rule(shape[-2], shape[-1]), "the convolution's receptive field is missing from the "
                          "fans: use fans(shape), which multiplies by kh·kw."))
        return found

    def judge(self, case, got, expected):
        shape = tuple(case.args[0])
        sample = as_float_array(got)
        what = f"{self.name}({case.label})"
        if sample is None or sample.shape != expected.shape:
            raise CheckFailed(f"{what} returned {type(got).__name__} of shape "
                              f"{getattr(sample, 'shape', '?')}; return an array of exactly the shape asked "
                              f"for, {expected.shape}.")
        if not np.isfinite(sample).all():
            raise CheckFailed(f"{what} returned NaN or inf; every weight must be a finite number.")
        bound = self.bound(shape)
        if sample.size < STATISTICS_MIN_SIZE:
            if sample.size and np.abs(sample).max() > bound * (1 + 1e-6):
                raise CheckFailed(f"{what}: |w| reached {np.abs(sample).max():.4g}, beyond Keras's largest "
                                  f"possible value {bound:.4g}.\n  Likely cause: {self.bound_hint()}")
            return
        self.judge_distribution(case, sample, bound)

    def judge_distribution(self, case, sample, bound):
        shape, seed = tuple(case.args[0]), case.args[1].seed
        what = f"{self.name}({case.label})"
        variance, n = variance_of(self.name, shape), sample.size
        magnitude = np.abs(sample)
        mean, second_moment = float(sample.mean()), float(np.mean(sample ** 2))
        spread = math.sqrt(second_moment)
        if abs(mean) > Z_TOLERANCE * math.sqrt(variance / n):
            raise CheckFailed(f"{what}: the weights average {mean:.3g}, not 0 (std {spread:.3g}).\n  Likely "
                              "cause: not centred on 0 — rng.random() draws from [0, 1); initializers draw "
                              "symmetric around 0.")
        at_the_top = int(np.sum(magnitude >= magnitude.max() * (1 - 1e-9)))
        if at_the_top > max(10, n // 1000):
            raise CheckFailed(f"{what}: {at_the_top} of {n} weights sit exactly at ±{magnitude.max():.4g}.\n"
                              "  Likely cause: values were clipped (np.clip) at the bound; a truncated normal "
                              "*redraws* them, so no value piles up at the edge.")
        ratio = second_moment / variance
        tolerance = Z_TOLERANCE * math.sqrt(2.0 / n)  # the 2nd moment's relative standard error is ≤ √(2/n)
        family_hint = self.family_hint(magnitude.max() / spread, ratio, tolerance)
        if family_hint:
            raise CheckFailed(f"{what}: max |w| is {magnitude.max() / spread:.2f} standard deviations and the "
                              f"variance {ratio:.3f}× Keras's {variance:.4g}.\n  Likely cause: {family_hint}")
        if abs(ratio - 1) > tolerance:
            hint = next((text for wrong, text in self.variance_mistakes(shape)
                         if abs(ratio * variance / wrong - 1) <= tolerance), None)
            raise CheckFailed(f"{what}: the weights' variance is {second_moment:.4g}, {ratio:.3f}× Keras's "
                              f"{variance:.4g}." + (f"\n  Likely cause: {hint}" if hint else ""))
        if magnitude.max() > bound * (1 + 1e-6):
            raise CheckFailed(f"{what}: |w| reached {magnitude.max():.4g}, beyond Keras's largest possible "
                              f"value {bound:.4g}.\n  Likely cause: {self.bound_hint()}")
        keras_sample = keras_samples(self.name, shape, seed)
        distance, critical = ks_distance(sample, keras_sample), ks_critical(n, keras_sample.size)
        if distance > critical:
            raise CheckFailed(f"{what}: the variance is right, but the distribution is not Keras's: the "
                              f"Kolmogorov–Smirnov distance to Keras's own samples is {distance:.4f} (two "
                              f"samples from one distribution stay below {critical:.4f}).\n  Likely cause: "
                              f"{self.shape_hint()}")

    def family_hint(self, max_over_std, ratio, tolerance):
        """A message when the sample's max/std says it comes from the wrong family, else None."""
        raise NotImplementedError

    def bound_hint(self):
        raise NotImplementedError

    def shape_hint(self):
        raise NotImplementedError


# max |w| / std: √3 ≈ 1.73 for a uniform, 2/0.8796 ≈ 2.27 for a normal cut at 2σ, above 4 for an
# untruncated normal of 10,000 or more samples. The thresholds sit between.
UNIFORM_MAX_OVER_STD, TRUNCATED_MAX_OVER_STD = 2.0, 2.6


@register
class GlorotUniform(KerasInitializerExercise):
    name = "glorot_uniform"
    family = "uniform"
    basic_seed = 1
    basic_hint = ("draw rng.uniform(-L, L, size=shape), symmetric around 0, with L = √(6/(fan_in + fan_out)): "
                  "Glorot's variance is 2/(fan_in + fan_out) and a uniform on [−L, L] has variance L²/3 (average "
                  "both fans, and mind the 3); a uniform's largest value is √3 ≈ 1.73 standard deviations.")
    mistakes = (
        Mutant("Glorot with fan_in only: limit √(3/fan_in), LeCun's uniform (right only for square kernels)",
               {"limit = math.sqrt(3.0 / max(1.0, (fan_in + fan_out) / 2))":
                "limit = math.sqrt(3.0 / max(1.0, fan_in))"}),
    )

    def variance_mistakes(self, shape):
        fan_in, fan_out = _fans(shape)
        return [(1 / fan_in, "the limit √(3/fan_in) is LeCun's uniform; Glorot averages both fans: "
                             "limit = √(6/(fan_in + fan_out))."),
                (1 / (3 * fan_in), "U[±1/√n] is the old heuristic Glorot & Bengio (2010) replaced; "
                                   "limit = √(6/(fan_in + fan_out))."),
                (1 / (fan_in + fan_out), "limit √(3/(fan_in + fan_out)) is too small by √2: the 6 in "
                                         "√(6/(fan_in + fan_out)) is 3 (a uniform's variance is limit²/3) "
                                         "times Glorot's 2/(fan_in + fan_out)."),
                (2 / (3 * (fan_in + fan_out)), "√(2/(fan_in + fan_out)) is the normal's standard deviation; "
                                               "a uniform on [−L, L] has variance L²/3, so L = √(6/(fan_in + "
                                               "fan_out))."),
                (12 / (fan_in + fan_out) ** 2, "the square root is missing: limit = √(6/(fan_in + fan_out))."),
                (2 / fan_out, "the variance uses fan_out only; Glorot averages fan_in and fan_out."),
                ] + self.fan_mistakes(shape)

    def family_hint(self, max_over_std, ratio, tolerance):
        if max_over_std > UNIFORM_MAX_OVER_STD:
            return ("the weights are not uniform (a uniform's max is √3 ≈ 1.73 standard deviations): draw "
                    "rng.uniform(-limit, limit, shape).")
        return None

    def bound_hint(self):
        return "the limit is too large: limit = √(6/(fan_in + fan_out))."

    def shape_hint(self):
        return "draw rng.uniform(-limit, limit, size=shape) — one uniform, not a sum or product of several."


class TruncatedNormalExercise(KerasInitializerExercise):
    """Keras's normal initializers: N(0, σ²) cut at 2σ, σ = √variance / 0.8796…"""

    family = "truncated_normal"
    rule = None  # how the learner's notebook states this initializer's variance
    basic_seed = 2
    basic_tolerances = {"rtol": [0.0, 0.01, 0.02, 0.0], "atol": [0.02, 0.0, 0.0, 0.002]}

    @property
    def basic_hint(self):
        return (f"Var(w) = {self.rule}; draw N(0, σ²) centred on 0 with σ = √Var / 0.8796… and redraw (not clip) "
                "every |w| > 2σ: cutting alone leaves 0.8796² of the variance, clipping piles values up at the "
                "edge, and a normal cut at 2σ reaches 2/0.8796 ≈ 2.27 of its standard deviations.")

    def common_mistakes(self, shape):
        variance = variance_of(self.name, shape)
        return [(variance * KERAS_TRUNCATION_STD ** 2,
                 f"the 0.8796… correction is missing: cutting N(0, σ²) at 2σ leaves a standard deviation of "
                 f"only 0.8796·σ, so Keras draws with σ = √({self.rule}) / 0.87962566103423978."),
                (variance ** 2, f"the variance was used as the standard deviation: σ = √({self.rule}) / 0.8796…, "
                                "with the square root."),
                (variance ** 2 * KERAS_TRUNCATION_STD ** 2,
                 "the variance was used as the standard deviation (and the 0.8796… correction is missing).")]

    def family_hint(self, max_over_std, ratio, tolerance):
        if max_over_std < UNIFORM_MAX_OVER_STD:
            return "the weights look uniform; Keras's normal initializers draw a truncated normal."
        if max_over_std <= TRUNCATED_MAX_OVER_STD:
            return None
        if abs(ratio * KERAS_TRUNCATION_STD ** 2 - 1) <= tolerance:
            return ("an untruncated normal with σ = √variance / 0.8796…: the division is only right because "
                    "Keras then redraws every value beyond 2σ; without that truncation the variance comes out "
                    "1/0.8796² ≈ 1.29× too large.")
        if abs(ratio - 1) <= tolerance:
            return ("an untruncated normal: the common description 'stddev = √(2/(fan_in+fan_out))' leaves out that Keras "
                    "draws a *truncated* normal — values beyond 2σ are redrawn — and divides σ by 0.8796… to "
                    "make up for the lost tails.")
        return "an untruncated normal: Keras redraws every value beyond 2σ (σ = √variance / 0.8796…)."

    def bound_hint(self):
        return ("values beyond 2σ (σ = √variance / 0.8796…): Keras redraws anything beyond two standard "
                "deviations of the normal it samples.")

    def shape_hint(self):
        return ("the cut is in the wrong place or the tails are treated differently: draw N(0, σ²) with "
                "σ = √variance / 0.8796… and redraw every value with |w| > 2σ.")


@register
class GlorotNormal(TruncatedNormalExercise):
    name = "glorot_normal"
    rule = "2/(fan_in + fan_out)"
    mistakes = (
        Mutant("Glorot with fan_in only: variance 1/fan_in, LeCun's (right only for square kernels)",
               {"return truncated_normal(shape, 1.0 / max(1.0, (fan_in + fan_out) / 2), rng)":
                "return truncated_normal(shape, 1.0 / max(1.0, fan_in), rng)"}),
    )

    def variance_mistakes(self, shape):
        fan_in, fan_out = _fans(shape)
        return self.common_mistakes(shape) + [
            (1 / fan_in, "the variance 1/fan_in is LeCun's; Glorot averages both fans: 2/(fan_in + fan_out)."),
            (2 / fan_in, "the variance uses fan_in only (that is He's 2/fan_in); Glorot averages fan_in and "
                         "fan_out: 2/(fan_in + fan_out)."),
            (2 / fan_out, "the variance uses fan_out only; Glorot averages fan_in and fan_out."),
            (1 / (fan_in + fan_out), "the 2 is missing: Glorot's variance is 2/(fan_in + fan_out), the "
                                     "inverse of the fans' average."),
        ] + self.fan_mistakes(shape)


@register
class HeNormal(TruncatedNormalExercise):
    name = "he_normal"
    rule = "2/fan_in"
    mistakes = (
        Mutant("an untruncated N(0, 2/fan_in): Keras's he_normal is a truncated normal cut at 2σ (σ divided by "
               "0.8796…)",
               {"return truncated_normal(shape, 2.0 / max(1.0, fans(shape)[0]), rng)":
                "return rng.normal(0.0, math.sqrt(2.0 / max(1.0, fans(shape)[0])), size=tuple(shape))"}),
    )

    def variance_mistakes(self, shape):
        fan_in, fan_out = _fans(shape)
        return self.common_mistakes(shape) + [
            (1 / fan_in, "1/fan_in is LeCun's variance; He doubles it to 2/fan_in because ReLU zeroes half "
                         "of each layer's inputs."),
            (2 / (fan_in + fan_out), "2/(fan_in + fan_out) is Glorot's variance; He uses fan_in only: "
                                     "2/fan_in."),
        ] + self.fan_mistakes(shape)


@register
class LecunNormal(TruncatedNormalExercise):
    name = "lecun_normal"
    rule = "1/fan_in"
    mistakes = (
        Mutant("fan_in and fan_out confused: variance 1/fan_out",
               {"fans(shape)[0]": "fans(shape)[1]"}),
    )

    def variance_mistakes(self, shape):
        fan_in, fan_out = _fans(shape)
        return self.common_mistakes(shape) + [
            (2 / fan_in, "2/fan_in is He's variance; LeCun's is 1/fan_in."),
            (2 / (fan_in + fan_out), "2/(fan_in + fan_out) is Glorot's variance; LeCun uses fan_in only: "
                                     "1/fan_in."),
        ] + self.fan_mistakes(shape)


# |ln(got/reference)| allowed at layer l. Two correct nets whose weights differ (another draw
# order, another way of truncating) give other numbers: each layer multiplies ln(std) by a
# random factor whose spread depends on the width, the activation, the gain and the depth
# (deep ReLU nets correlate their examples, so it grows faster than √l). No formula fits every
# case, so the spread is measured: the reference is run on ACTIVATION_SPREAD_RUNS seeds of its
# own, and a learner may differ from the case's reference run by ACTIVATION_SPREAD_Z times the
# standard deviation of the difference of two runs (√2 · the measured spread), plus a floor.
# tests/test_l04_initialization.py checks the false-failure rate on independent correct runs.
ACTIVATION_SPREAD_RUNS = 16
ACTIVATION_SPREAD_Z = 6.0
ACTIVATION_TOLERANCE_FLOOR = 0.03
_activation_tolerances = {}


def activation_log_tolerance(depth, width, init, activation, gain=1.0):
    """(depth,) the largest |ln(got / reference)| a correct answer may show at each layer."""
    key = (depth, width, init, activation, float(gain))
    if key not in _activation_tolerances:
        reference = solution_function(LESSON, "activation_stds")
        runs = np.log([reference(depth, width, init, activation, np.random.default_rng(90_000 + seed), gain)
                       for seed in range(ACTIVATION_SPREAD_RUNS)])
        spread = runs.std(axis=0, ddof=1)
        _activation_tolerances[key] = ACTIVATION_TOLERANCE_FLOOR + ACTIVATION_SPREAD_Z * math.sqrt(2.0) * spread
    return _activation_tolerances[key]


# Known mistakes, as edits of the solution cell (the catalogue's first). The judge compares them
# with an answer within the case's tolerance, on the case's own seed.
ACTIVATION_STEP = "a = phi(a @ (gain * initializer((width, width), rng)))"
ACTIVATION_LOOKUP = "phi, initializer = activations[activation], initializers[init]"
ACTIVATION_MISTAKES = (
    Mutant("variances (a.var()) recorded instead of standard deviations",
           {"stds[layer] = a.std()": "stds[layer] = a.var()"}),
    Mutant("these are the standard deviations of z = a @ W, before the activation: take the std of φ(z).",
           {f"{ACTIVATION_STEP}\n        stds[layer] = a.std()":
            "z = a @ (gain * initializer((width, width), rng))\n        a = phi(z)\n        stds[layer] = z.std()"}),
    Mutant("the activation is not applied: a[l] = φ(a[l−1] @ (gain·W[l])).",
           {ACTIVATION_LOOKUP: ACTIVATION_LOOKUP.replace("activations[activation]", 'activations["linear"]')}),
    Mutant("the gain multiplies the weights once: W = gain · init(shape) (its square scales the variance, not the "
           "weights).",
           {ACTIVATION_STEP: ACTIVATION_STEP.replace("gain *", "gain ** 2 *")}),
    Mutant("the gain is ignored: multiply every kernel by gain.",
           {ACTIVATION_STEP: "a = phi(a @ initializer((width, width), rng))"}),
    Mutant("every layer uses glorot_uniform: draw with the initializer named by init.",
           {ACTIVATION_LOOKUP: ACTIVATION_LOOKUP.replace("initializers[init]", 'initializers["glorot_uniform"]')}),
    Mutant("the first entry is the input's std; return the std after each of the depth layers only.",
           {"    stds = np.empty(depth)\n": "    stds = np.empty(depth + 1)\n    stds[0] = a.std()\n",
            "stds[layer] = a.std()": "stds[layer + 1] = a.std()"}),
)
ACTIVATION_CONTRACT = ("if your initializers pass their checks, compare your loop with the contract: input batch "
                       "rng.standard_normal((1000, width)) first, then gain·init((width, width), rng) per layer, "
                       "a = φ(a @ W), no biases, std over the whole batch.")


@register
class ActivationStds(Exercise):
    name = "activation_stds"
    mistakes = ACTIVATION_MISTAKES
    unnamed_cause = ACTIVATION_CONTRACT

    def basic_cases(self):
        return [Case("10, 256, 'lecun_normal', 'linear', rng", rtol=0.15,
                     args_code="10, 256, 'lecun_normal', 'linear', np.random.default_rng(3)",
                     hint="one standard deviation per layer, the input not included; LeCun's 1/fan_in keeps a "
                          "linear net's std at 1: draw each (width, width) kernel with the initializer named by "
                          "init, and a = a @ W."),
                Case("1, 256, 'lecun_normal', 'linear', rng, gain=1.5", rtol=0.1,
                     args_code="1, 256, 'lecun_normal', 'linear', np.random.default_rng(4), gain=1.5",
                     hint="the gain multiplies the weights, so the std of a linear layer's output by the same factor."),
                # ReLU of z ~ N(0, 2) (He's variance on unit inputs): E[a²] = 1, E[a] = 1/√π, std = √(1 − 1/π).
                Case("1, 256, 'he_normal', 'relu', rng", rtol=0.05,
                     args_code="1, 256, 'he_normal', 'relu', np.random.default_rng(5)",
                     hint="take the std of φ(z) = max(z, 0) after the layer, not of z itself."),
                Case("5, 64, 'glorot_uniform', 'tanh', rng", rtol=0.15,
                     args_code="5, 64, 'glorot_uniform', 'tanh', np.random.default_rng(7)",
                     hint="a = φ(a @ (gain·W)) layer after layer, φ = np.tanh here."),
                Case("3, 10, 'xavier', 'tanh', rng", raises="ValueError",
                     args_code="3, 10, 'xavier', 'tanh', np.random.default_rng(6)",
                     hint="an unknown init name: raise ValueError."),
                Case("0, 10, 'he_normal', 'relu', rng", raises="ValueError",
                     args_code="0, 10, 'he_normal', 'relu', np.random.default_rng(6)",
                     hint="depth must be ≥ 1: raise ValueError.")]

    def hidden_cases(self):
        settings = [(5, 100, "uniform_inv_sqrt_n", "tanh", 1.0), (5, 100, "glorot_uniform", "tanh", 1.0),
                    (30, 100, "he_normal", "relu", 1.0), (30, 100, "glorot_normal", "relu", 1.0),
                    (10, 64, "lecun_normal", "linear", 1.3), (8, 50, "glorot_uniform", "sigmoid", 0.8),
                    (12, 80, "he_normal", "tanh", 2.0), (1, 10, "he_normal", "relu", 1.0)]
        cases = [Case(f"depth={d}, width={w}, {init}, {act}, gain={g}", (d, w, init, act, RngArg(4310 + i)),
                      {"gain": g}) for i, (d, w, init, act, g) in enumerate(settings)]
        cases += [
            Case("depth=0", (0, 10, "he_normal", "relu", RngArg(4320)), raises="ValueError"),
            Case("width=0", (3, 0, "he_normal", "relu", RngArg(4321)), raises="ValueError"),
            Case("an unknown init 'xavier'", (3, 10, "xavier", "relu", RngArg(4322)), raises="ValueError"),
            Case("an unknown activation 'swish'", (3, 10, "he_normal", "swish", RngArg(4323)), raises="ValueError"),
        ]
        return cases

    def judge(self, case, got, expected):
        array = as_float_array(got)
        what = f"{self.name}({case.label})"
        if array is None or array.ndim != 1:
            raise CheckFailed(f"{what} returned {type(got).__name__}; return a 1-D NumPy array with one "
                              "standard deviation per layer.")
        tolerance = self.tolerance(case)
        if self.close(array, expected, tolerance):
            return
        if array.shape != expected.shape:  # a known mistake (the input's std first), or say how many
            fail(self.name, case, expected, got,
                 self.named_mistake(case, got) or f"return exactly depth = {case.args[0]} numbers, one per layer.")
        # mistakes[0] (a.var()) in another draw order: ln σ² spreads twice as far as ln σ. Its
        # catalogue text is not this one, which learners read, so the judge keeps it.
        if self.close(array, expected ** 2, 2 * tolerance):
            fail(self.name, case, expected, got, "these are variances; return standard deviations.")
        fail(self.name, case, expected, got)  # named_mistake names a known mistake, or points at the contract

    def same(self, got, value, case):
        """Within the case's tolerance in ln(std) per layer (:meth:`tolerance`), an answer with the
        input's std first within the floor there. A method, not ``TOLERANCE``: the comparison is of
        logarithms, one bound per layer, measured from the reference's spread on the case's own
        depth, width, initializer, activation and gain."""
        tolerance = self.tolerance(case)
        if np.shape(value) == (len(tolerance) + 1,):
            tolerance = np.concatenate([[ACTIVATION_TOLERANCE_FLOOR], tolerance])
        return self.close(got, value, tolerance)

    @staticmethod
    def tolerance(case):
        """(depth,) the largest |ln(got / reference)| a correct answer may show on ``case``."""
        depth, width, init, activation = case.args[:4]
        return activation_log_tolerance(depth, width, init, activation, case.kwargs.get("gain", 1.0))

    @staticmethod
    def close(got, expected, tolerance):
        """Every layer within ``tolerance`` in ln(std), both positive and finite."""
        got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
        if got.shape != expected.shape or not np.all(np.isfinite(got)) or np.any(got <= 0):
            return False
        return bool(np.all(np.abs(np.log(got) - np.log(expected)) <= tolerance))
