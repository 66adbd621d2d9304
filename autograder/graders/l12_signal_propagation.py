"""Lesson 12, signal propagation: ``length_map``, ``fixed_point_q``, ``chi1`` and ``orthogonal``.

The reference is the solution notebook's own cell (:mod:`autograder.solution`). The lesson's
contract (stated in the notebook, followed by the solution):

- Gaussian expectations E_z[f(z)], z ~ N(0, 1), by Gauss–Hermite quadrature with
  ``numpy.polynomial.hermite_e.hermegauss(N_QUAD)``, the weights divided by their sum √(2π).
  ``N_QUAD`` = 100 is even, so no node sits at z = 0, where ReLU has its kink.
- ``phi`` is a NumPy function (``np.tanh``, ReLU, the identity, the sigmoid, ``np.sin``: the
  harness's ``NUMPY_ACTIVATIONS``); ``chi1`` needs φ' and takes it by a central difference
  (φ(x + h) − φ(x − h)) / 2h with h = ``FD_STEP`` = 1e-5, exact for ReLU away from its kink and
  off by O(h²) ≈ 1e-10 for smooth φ.
- ``fixed_point_q`` iterates the length map from q = 1 until |q_new − q| ≤ ``TOLERANCE``·max(1, q)
  (TOLERANCE = 1e-12) and returns q_new; it raises ValueError when q passes ``Q_LIMIT`` = 1e12
  (the map diverges: an unbounded φ in the chaotic phase) or when ``MAX_ITERATIONS`` = 10 000
  steps do not converge. The hidden cases avoid the one point where that happens although the
  map converges, σ_b = 0 at exactly the edge of chaos (q ↦ 0 only like 1/(2l) there).

``orthogonal`` is random, so its judge checks properties and statistics, not values: the shape;
orthogonality WᵀW = gain²·I (tall) or WWᵀ = gain²·I (wide) of the kernel flattened to
(prod(shape[:-1]), shape[-1]), to 1e-5 (float32 QR passes); and two statistics of a Haar-distributed matrix, on
fixed seeds. With F the flattened kernel divided by gain, m × n its larger and smaller side:

- T = trace(F[:k, :k])·√(m/k), k = min(m, n). Under Haar T is close to N(0, 1) (its std measured
  on 100 seeds per shape is ≤ 1.16); |T| ≤ ``TRACE_LIMIT`` = 6 fails a correct submission with
  probability < 1e-6 per case. A QR *without* the sign correction (LAPACK's Householder QR makes
  R's diagonal negative for a positive pivot) puts T near −0.6·√k: −12 for the 400 × 400 case.
- Every column (tall) or row (wide) sum of F, ~ N(0, 1) under Haar: |sum| ≤ ``SUM_LIMIT`` = 6
  (a false failure below 1e-9 · n per case). A Q built from uniform [0, 1) numbers fails it.

Two cases share one seed: a function that ignores ``rng`` returns two different matrices there.

A wrong answer that matches no known mistake is still located. ``length_map``, ``chi1`` and
``orthogonal`` each have *isolating* cases (label ``"isolating <quantity>: …"``), chosen so that,
given the quantities before it, the answer depends on one quantity only — e.g. q = 0 with the
sigmoid shows only the quadrature weights' normalisation (E[σ(0)²] = ¼ whatever the nodes); ReLU
shows E[φ'²] = ½ whatever q*; a square kernel with gain 1 shows orthogonality alone. The first
one that fails, in the order of the computation, leads the report and names the quantity.
"""

import math

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from autograder import harness
from autograder.exercise import (Case, CheckFailed, Exercise, NumpyActivationArg, RngArg, allclose,
                                 as_float_array, fail)
from autograder.registry import register
from autograder.solution import Mutant, solution_function

SLUG = "12_signal_propagation"

# The lesson's contract, for the judges' own arithmetic (the solution defines the same numbers; the
# lesson's tests check that they agree).
N_QUAD = 100
FD_STEP = 1e-5
TOLERANCE = 1e-12
MAX_ITERATIONS = 10_000
Q_LIMIT = 1e12
TRACE_LIMIT = 6.0
SUM_LIMIT = 6.0
ORTHOGONALITY_ATOL = 1e-5  # float32 arithmetic (a Keras or TF QR) passes; a wrong gain does not
RTOL, ATOL = 1e-6, 1e-9

_NODES, _WEIGHTS = hermegauss(N_QUAD)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


# -- the judges' arithmetic (the lesson's contract, computed on the grader's side) --------------
def gaussian_mean(values):
    """E_z[f(z)] from ``values`` = f(√q·z_k) on the quadrature nodes, last axis (N_QUAD,)."""
    return values @ _WEIGHTS


def derivative(phi, x, step=FD_STEP):
    """φ'(x) by the central difference (φ(x + h) − φ(x − h)) / 2h."""
    return (phi(x + step) - phi(x - step)) / (2 * step)


# -- cases ---------------------------------------------------------------------------------
TANH, RELU, LINEAR, SIGMOID, SIN = (NumpyActivationArg(name) for name in ("tanh", "relu", "linear", "sigmoid", "sin"))
# The notebook's relu and identity are the harness's (visible cases name them in args_code).
PHI_IMPORTS = ("import numpy as np\nfrom autograder.harness import NUMPY_ACTIVATIONS\n"
               "relu, identity = NUMPY_ACTIVATIONS['relu'], NUMPY_ACTIVATIONS['linear']")


def _random_tanh_points(rng, count):
    """(σ_w, σ_b) pairs across both phases, away from the slow point σ_b ≈ 0, σ_w ≈ 1."""
    points = []
    while len(points) < count:
        sigma_w, sigma_b = float(rng.uniform(0.3, 3.5)), float(rng.uniform(0.0, 1.2))
        if sigma_b < 0.1 and abs(sigma_w - 1.0) < 0.1:
            continue
        points.append((round(sigma_w, 4), round(sigma_b, 4)))
    return points


def _phase_cases(seed):
    """Cases (σ_w, σ_b, φ) shared by fixed_point_q and chi1: random and edge, each phase."""
    rng = np.random.default_rng(seed)
    cases = [Case(f"tanh, σ_w={w}, σ_b={b}", (w, b, TANH)) for w, b in _random_tanh_points(rng, 6)]
    cases += [
        Case("tanh, σ_w=0.6, σ_b=0 (ordered, q* = 0)", (0.6, 0.0, TANH)),
        Case("tanh, σ_w=1.5, σ_b=0 (chaotic, q* > 0)", (1.5, 0.0, TANH)),
        Case("tanh, σ_w=2.5, σ_b=0.05", (2.5, 0.05, TANH)),
        Case("tanh, σ_w=0, σ_b=0.7 (no weights: q* = σ_b²)", (0.0, 0.7, TANH)),
        Case("tanh, σ_w=4, σ_b=2 given as ints", (4, 2, TANH)),
        Case("ReLU, σ_w=1.2, σ_b=0.1 (q* = σ_b²/(1 − σ_w²/2))", (1.2, 0.1, RELU)),
        Case("ReLU, σ_w=0.8, σ_b=0.5", (0.8, 0.5, RELU)),
        Case("linear, σ_w=0.9, σ_b=0.3 (q* = σ_b²/(1 − σ_w²))", (0.9, 0.3, LINEAR)),
        Case("sigmoid, σ_w=2.0, σ_b=0.2", (2.0, 0.2, SIGMOID)),
        Case("sin, σ_w=1.8, σ_b=0.4", (1.8, 0.4, SIN)),
        Case("ReLU, σ_w=2 (chaotic, unbounded: q* diverges)", (2.0, 0.1, RELU), raises="ValueError"),
        Case("linear, σ_w=1.2 (q grows like 1.44^l)", (1.2, 0.0, LINEAR), raises="ValueError"),
        Case("a negative σ_w=-1", (-1.0, 0.1, TANH), raises="ValueError"),
        Case("a negative σ_b=-0.2", (1.0, -0.2, TANH), raises="ValueError"),
    ]
    return cases


def _iterate(sigma_w, sigma_b, phi, steps):
    """q after ``steps`` layers of the solution's length map from q = 1."""
    length_map = solution_function(SLUG, "length_map")
    q = 1.0
    for _ in range(steps):
        q = float(length_map(q, sigma_w, sigma_b, phi))
    return q


# -- locating a wrong answer ----------------------------------------------------------------
ISOLATING = "isolating"


def isolating(quantity, what, args, kwargs=None):
    """A case that isolates ``quantity`` (a key of the exercise's ``where_it_differs``)."""
    return Case(f"{ISOLATING} {quantity}: {what}", args, kwargs or {})


class _Locating(Exercise):
    """An exercise whose isolating cases add, when they fail, the quantity they isolate to the
    judge's own message (which names a known mistake when it sees one); the first failing one
    leads the report. ``where_it_differs`` maps each quantity to what it is."""

    where_it_differs = {}

    def judge(self, case, got, expected):
        try:
            self.judge_value(case, got, expected)
        except CheckFailed as failure:
            if not case.label.startswith(ISOLATING):
                raise
            quantity = case.label[len(ISOLATING) + 1:].partition(":")[0]
            raise CheckFailed(f"{failure}\n  The first quantity that differs is "
                              f"{self.where_it_differs[quantity]}") from None

    def judge_value(self, case, got, expected):
        raise NotImplementedError

    def verdicts(self, cases, answers, answer_store, part="hidden"):
        failures = super().verdicts(cases, answers, answer_store, part=part)
        first = [m for m in failures if m.startswith(f"{self.name}({ISOLATING} ")][:1]
        return first + [m for m in failures if m not in first]


# -- exercises -----------------------------------------------------------------------------
LENGTH_MAP_GENERIC = ("the map is σ_w²·E_z[φ(√q·z)²] + σ_b², the mean over hermegauss(N_QUAD)'s nodes with "
                      "normalised weights.")
CHI1_GENERIC = ("χ₁ = σ_w²·E_z[φ'(√q*·z)²] with q* = fixed_point_q(σ_w, σ_b, φ) and φ' by a central difference "
                "with step FD_STEP.")


LENGTH_MAP_AT = "np.sqrt(q)[..., np.newaxis]"  # the pre-activations √q·z, one row of nodes per q
LENGTH_MAP_RETURN = "return sigma_w ** 2 * mean_square + sigma_b ** 2"
STANDARD_DEVIATIONS = "σ_w and σ_b are standard deviations: the variances that enter the map are σ_w² and σ_b²."


@register
class LengthMap(_Locating):
    name = "length_map"
    code_imports = PHI_IMPORTS
    TOLERANCE = {"rtol": 1e-5, "atol": 1e-8}
    mistakes = (
        Mutant("not vectorised over q: √q·nodes without [..., None] works for one q and fails for an array of q",
               {"np.sqrt(q)[..., np.newaxis] * QUAD_NODES": "np.sqrt(q) * QUAD_NODES"}),
        Mutant("the quadrature weights are not normalised: hermegauss's weights sum to √(2π) (they integrate "
               "against e^(−z²/2), not the N(0, 1) density), so divide them by their sum.",
               {"(QUAD_WEIGHTS / QUAD_WEIGHTS.sum())": "QUAD_WEIGHTS"}),
        Mutant(STANDARD_DEVIATIONS, {LENGTH_MAP_RETURN: "return sigma_w * mean_square + sigma_b"}),
        Mutant(STANDARD_DEVIATIONS, {LENGTH_MAP_RETURN: "return sigma_w * mean_square + sigma_b ** 2"}),
        Mutant(STANDARD_DEVIATIONS, {LENGTH_MAP_RETURN: "return sigma_w ** 2 * mean_square + sigma_b"}),
        Mutant("this averages over N(0, ½): hermgauss (physicists' Hermite, weight e^(−x²)) needs nodes times √2; "
               "hermegauss (weight e^(−z²/2)) is the one for z ~ N(0, 1).",
               {LENGTH_MAP_AT: "np.sqrt(q / 2)[..., np.newaxis]"}),
        Mutant("φ was evaluated at q·z: a pre-activation with variance q is √q·z.",
               {LENGTH_MAP_AT: "q[..., np.newaxis]"}),
        Mutant("the square is missing: q is a mean *square*, so the map averages φ(√q·z)², not φ(√q·z).",
               {f"(phi({LENGTH_MAP_AT} * QUAD_NODES) ** 2)": f"phi({LENGTH_MAP_AT} * QUAD_NODES)"}),
        Mutant("that is the linear network's map σ_w²·q + σ_b²; apply φ before squaring.",
               {f"mean_square = (phi({LENGTH_MAP_AT} * QUAD_NODES) ** 2) @ (QUAD_WEIGHTS / QUAD_WEIGHTS.sum())":
                "mean_square = q"}),
    )

    def basic_cases(self):
        return [
            Case(args_code="2.0, 0.5, 1.0, identity", hint="for φ = identity, E[(√q·z)²] = q, so the map is "
                 "σ_w²·q + σ_b² = 0.25·2 + 1 (σ's squared; the weights divided by their sum √(2π))."),
            Case(args_code="3.0, 1.2, 0.1, relu", hint="ReLU keeps half of the Gaussian: E[relu(√q·z)²] = q/2, "
                 "so 1.44·3/2 + 0.01."),
            Case(args_code="0.0, 1.5, 0.2, np.tanh", hint="a zero signal: tanh(0) = 0, only the bias's variance "
                 "σ_b² = 0.04 remains."),
            Case(args_code="np.array([[0.0, 0.5], [2.0, 9.0]]), 2.0, 0.5, np.tanh",
                 hint="an array q gives an array of the same shape, each entry the map of that q."),
            Case(args_code="-1.0, 1.0, 0.0, np.tanh", raises="ValueError",
                 hint="a variance cannot be negative: raise ValueError."),
        ]

    def hidden_cases(self):
        rng = np.random.default_rng(1200)
        cases = []
        for _ in range(4):
            q, w, b = float(rng.uniform(0, 6)), float(rng.uniform(0.2, 4)), float(rng.uniform(0, 1.5))
            cases.append(Case(f"q={q:.4g}, tanh, σ_w={w:.4g}, σ_b={b:.4g}", (q, w, b, TANH)))
        qs = rng.uniform(0, 10, size=(3, 4))
        cases += [
            Case("q an array of shape (3, 4), tanh, σ_w=2, σ_b=0.5", (qs, 2.0, 0.5, TANH)),
            Case("q an array of shape (7,), ReLU, σ_w=1.4, σ_b=0.1", (np.linspace(0, 3, 7), 1.4, 0.1, RELU)),
            Case("q=0 (a zero signal), tanh, σ_w=1.5, σ_b=0.2", (0.0, 1.5, 0.2, TANH)),
            Case("q=0.5, sigmoid (φ(0) ≠ 0), σ_w=1, σ_b=0", (0.5, 1.0, 0.0, SIGMOID)),
            Case("q=3, sin, σ_w=1.2, σ_b=0.3", (3.0, 1.2, 0.3, SIN)),
            Case("q=400 (deep in saturation), tanh, σ_w=1.1, σ_b=0.1", (400.0, 1.1, 0.1, TANH)),
            Case("q=1, tanh, σ_w=0, σ_b=0.4 (no weights)", (1.0, 0.0, 0.4, TANH)),
            Case("q=2, σ_w=3, σ_b=1 given as ints, tanh", (2, 3, 1, TANH)),
            Case("a negative q=-0.5", (-0.5, 1.0, 0.0, TANH), raises="ValueError"),
            Case("a negative σ_w=-1.5", (1.0, -1.5, 0.0, TANH), raises="ValueError"),
        ]
        return cases + [
            isolating("weights", "q=0, sigmoid, σ_w=1, σ_b=0 (E[σ(0)²] = 0.25 whatever the nodes)",
                      (0.0, 1.0, 0.0, SIGMOID)),
            isolating("average", "q=2.5, tanh, σ_w=1, σ_b=0 (the map is E[tanh(√q·z)²] alone)", (2.5, 1.0, 0.0, TANH)),
            isolating("sigma_w", "q=2.5, tanh, σ_w=2, σ_b=0", (2.5, 2.0, 0.0, TANH)),
            isolating("sigma_b", "q=2.5, tanh, σ_w=0, σ_b=0.6 (no weights: the map is σ_b² alone)",
                      (2.5, 0.0, 0.6, TANH)),
            isolating("array", "q an array of shape (2, 3), tanh, σ_w=1.5, σ_b=0.2",
                      (np.array([[0.0, 0.5, 1.0], [2.0, 4.0, 9.0]]), 1.5, 0.2, TANH)),
        ]

    where_it_differs = {
        "weights": "the normalisation of the quadrature weights: E_z[·] is Σ w_k·f(z_k) with the weights divided by "
                   "their sum √(2π), so a constant comes out unchanged.",
        "average": "the Gaussian average E_z[φ(√q·z)²], before σ_w and σ_b enter (the weights' normalisation "
                   "passed): φ at √q·z for every node, squared, then averaged.",
        "sigma_w": "the factor σ_w²: σ_w is a standard deviation, the weights' variance σ_w² multiplies the "
                   "average (the average itself passed).",
        "sigma_b": "the bias term σ_b²: σ_b is a standard deviation, its variance σ_b² is added.",
        "array": "the map of an array q, entry by entry, with q's shape (scalar q passed): put the q's on the "
                 "leading axes and the nodes on a new last one.",
    }

    def judge_value(self, case, got, expected):
        q, sigma_w, sigma_b = case.args[0], float(case.args[1]), float(case.args[2])
        phi = harness.NUMPY_ACTIVATIONS[case.args[3].name]
        got_array = as_float_array(got)
        expected = np.asarray(expected)
        if got_array is None:
            raise CheckFailed(f"length_map({case.label}) returned {type(got).__name__}; return a number or, "
                              "for an array q, an array of the same shape.")
        if got_array.shape != expected.shape:
            if got_array.size == 1 and expected.size > 1:
                fail(self.name, case, expected, got, "q is an array here and one number came back: vectorise "
                     "over q (np.sqrt(q)[..., None] * nodes evaluates every q on every node at once, then "
                     "average over the last axis).")
            fail(self.name, case, f"shape {expected.shape}", f"shape {got_array.shape}",
                 "the result has q's shape: one q ↦ q' per entry (for a scalar q, a scalar).")
        if allclose(got_array, expected, rtol=RTOL, atol=ATOL):
            return
        known = self.named_mistake(case, got)
        if known:
            fail(self.name, case, expected, got, known)
        # Too few nodes: a family (any count a learner picks), each named by its count, not one mutant.
        q_arr = np.asarray(q, float)
        for n_nodes in range(2, 60):
            nodes, weights = hermegauss(n_nodes)
            coarse = sigma_w ** 2 * (phi(np.sqrt(q_arr)[..., None] * nodes) ** 2) @ (weights / weights.sum())
            if allclose(got_array, coarse + sigma_b ** 2, **self.TOLERANCE):
                fail(self.name, case, expected, got, f"this is the quadrature with {n_nodes} nodes; use "
                     f"N_QUAD = {N_QUAD} as the lesson says (few nodes miss saturated tanh at large q).")
        fail(self.name, case, expected, got, LENGTH_MAP_GENERIC)


class _PhaseExercise(Exercise):
    """What fixed_point_q and chi1 share: their cases, (σ_w, σ_b, φ)."""

    seed = None

    def hidden_cases(self):
        return _phase_cases(self.seed)

    @staticmethod
    def unpack(case):
        sigma_w, sigma_b, activation = case.args
        return float(sigma_w), float(sigma_b), harness.NUMPY_ACTIVATIONS[activation.name]

    def scalar(self, case, got):
        if isinstance(got, (tuple, list, dict)):
            raise CheckFailed(f"{self.name}({case.label}) returned a {type(got).__name__}; return one number.")
        value = as_float_array(got)
        if value is None or value.size != 1:
            raise CheckFailed(f"{self.name}({case.label}) returned {type(got).__name__}; return one number "
                              "(a float).")
        return float(value.reshape(()))


TEN_ITERATIONS = Mutant(
    "a fixed 10 iterations instead of iterating until |q_new − q| ≤ TOLERANCE·max(1, q): q* not yet converged",
    {"for _ in range(MAX_ITERATIONS):": "for _ in range(10):  # ten layers' worth, no convergence test",
     "        if abs(q_next - q) <= TOLERANCE * max(1.0, q):\n            return q_next\n": "",
     '    raise ValueError(f"no convergence in {MAX_ITERATIONS} iterations for σ_w={sigma_w}, '
     'σ_b={sigma_b}")': "    return q"})


@register
class FixedPointQ(_PhaseExercise):
    name = "fixed_point_q"
    mistakes = (
        TEN_ITERATIONS,
        Mutant("the iteration starts from q = 1, as the lesson says.",  # 50 fixed iterations from q = 0
               {**TEN_ITERATIONS.edits, "for _ in range(MAX_ITERATIONS):": "for _ in range(50):",
                "    q = 1.0\n": "    q = 0.0\n"}),
    )
    seed = 1201
    code_imports = PHI_IMPORTS

    def basic_cases(self):
        return [
            Case(args_code="0.5, 1.0, identity", rtol=1e-9,
                 hint="for φ = identity, q* = σ_w²·q* + σ_b² gives q* = σ_b²/(1 − σ_w²) = 4/3."),
            Case(args_code="1.5, 0.3, np.tanh", rtol=1e-6, hint="q* must be a fixed point: iterate "
                 "q ← length_map(q) from q = 1 until one more step leaves it where it is "
                 "(|q_new − q| ≤ TOLERANCE·max(1, q))."),
            Case(args_code="0.6, 0.0, np.tanh", atol=1e-9, hint="with σ_b = 0 and σ_w < 1 every step shrinks q: "
                 "q* = 0."),
            Case(args_code="1.5, 0.0, np.tanh", rtol=1e-6, hint="q = 0 is a fixed point when σ_b = 0, but for "
                 "σ_w > 1 an unstable one: start from q = 1."),
            Case(args_code="2.0, 0.1, relu", raises="ValueError", hint="ReLU with σ_w² = 4 > 2 doubles q each "
                 "layer: raise ValueError once q passes Q_LIMIT."),
        ]

    def judge(self, case, got, expected):
        value = self.scalar(case, got)
        if allclose(value, expected, rtol=1e-6, atol=1e-7):
            return
        sigma_w, sigma_b, phi = self.unpack(case)
        if not math.isfinite(value):
            fail(self.name, case, expected, value, "q came back infinite or NaN where the map converges.")
        if sigma_b == 0 and sigma_w > 1 and abs(value) < 1e-9:
            fail(self.name, case, expected, value, "q = 0 is a fixed point whenever σ_b = 0, but in the "
                 "chaotic phase it is unstable: the iteration must start from q = 1 and moves away from 0 "
                 "to the stable q* > 0.")
        # A fixed depth: a family (any count), each named by its count; mistakes[0] is one of them.
        for steps in (1, 2, 3, 5, 10, 20, 30, 50, 100):
            if allclose(value, _iterate(sigma_w, sigma_b, phi, steps), rtol=1e-9, atol=1e-12):
                fail(self.name, case, expected, value, f"this is q after {steps} iteration(s) from q = 1, not "
                     "yet converged: iterate until |q_new − q| ≤ 1e-12·max(1, q).")
        fail(self.name, case, expected, value, self.named_mistake(case, got) or "q* is where length_map(q) = q, "
             "reached by iterating q ← length_map(q) from q = 1 (check length_map first).")


CHI1_AVERAGE = "sigma_w ** 2 * np.sum(QUAD_WEIGHTS * slope ** 2) / QUAD_WEIGHTS.sum()"


@register
class Chi1(_Locating, _PhaseExercise):
    name = "chi1"
    TOLERANCE = {"rtol": 1e-5, "atol": 1e-8}
    mistakes = (
        Mutant("(E[φ'])² instead of E[φ'²]: averaged the slope, then squared",
               {"np.sum(QUAD_WEIGHTS * slope ** 2) / QUAD_WEIGHTS.sum())":
                "(np.sum(QUAD_WEIGHTS * slope) / QUAD_WEIGHTS.sum()) ** 2)"}),
        Mutant("χ₁ was evaluated at q = 1, the starting point; it is the slope at the fixed point: compute "
               "q* = fixed_point_q(...) first, then average φ'(√q*·z)².",
               {"q_star = fixed_point_q(sigma_w, sigma_b, phi)": "q_star = 1.0"}),
        Mutant("σ_w appears unsquared: χ₁ = σ_w²·E[φ'(√q*·z)²] (the weights' variance, σ_w², multiplies every "
               "backward step).", {CHI1_AVERAGE: CHI1_AVERAGE.replace("sigma_w ** 2", "sigma_w")}),
        Mutant("φ' is not squared: χ₁ = σ_w²·E[φ'(√q*·z)²], the growth of the squared gradient norm.",
               {CHI1_AVERAGE: CHI1_AVERAGE.replace("slope ** 2", "slope")}),
        Mutant("φ' was evaluated at q*·z; a pre-activation with variance q* is √q*·z.",
               {"x = np.sqrt(q_star) * QUAD_NODES": "x = q_star * QUAD_NODES"}),
        Mutant("the quadrature weights are not normalised: divide hermegauss's weights by their sum √(2π).",
               {CHI1_AVERAGE: CHI1_AVERAGE.replace(" / QUAD_WEIGHTS.sum()", "")}),
        Mutant("this is the length map at q*, i.e. q* itself; χ₁ uses the derivative φ', by the central "
               "difference (φ(x + h) − φ(x − h)) / 2h.",
               {f"return float({CHI1_AVERAGE})": "return float(length_map(q_star, sigma_w, sigma_b, phi))"}),
    )
    seed = 1202
    code_imports = PHI_IMPORTS

    def basic_cases(self):
        return [
            Case(args_code="0.5, 0.0, np.tanh", rtol=1e-6,
                 hint="σ_b = 0 and σ_w < 1 give q* = 0, where tanh'(0) = 1: χ₁ = σ_w² = 0.25."),
            Case(args_code="1.2, 0.1, relu", rtol=1e-6, hint="ReLU's slope is 1 on half the Gaussian and 0 on "
                 "the other: χ₁ = σ_w²/2 for any q*."),
            Case(args_code="0.9, 0.3, identity", rtol=1e-6, hint="a linear layer: χ₁ = σ_w² = 0.81."),
            Case(args_code="1.5, 0.3, np.tanh", rtol=1e-6, hint="average φ'(√q*·z)², squared before averaging, "
                 "at q* = fixed_point_q(σ_w, σ_b, φ) (not at q = 1)."),
            Case(args_code="2.0, 0.1, relu", raises="ValueError",
                 hint="where fixed_point_q raises (no finite q*), χ₁ does not exist either."),
        ]

    where_it_differs = {
        "slope": "the average of the squared slope E_z[φ'(√q*·z)²], φ' by the central difference (ReLU with "
                 "σ_w = 1: φ' is 0 or 1, so χ₁ = ½ whatever q*, and σ_w² = 1 hides the factor).",
        "sigma_w": "the factor σ_w²: σ_w is a standard deviation, the weights' variance σ_w² multiplies the "
                   "average (ReLU again, so χ₁ = σ_w²/2; the average itself passed with σ_w = 1).",
        "q*": "the fixed point q* at which φ' is averaged (tanh's slope depends on q*; σ_w² and the averaging "
              "passed with ReLU and the identity): take q* = fixed_point_q(σ_w, σ_b, φ) and evaluate φ' at √q*·z.",
    }

    def hidden_cases(self):
        return super().hidden_cases() + [
            isolating("slope", "ReLU, σ_w=1, σ_b=0.2", (1.0, 0.2, RELU)),
            isolating("sigma_w", "ReLU, σ_w=1.3, σ_b=0.2", (1.3, 0.2, RELU)),
            isolating("q*", "tanh, σ_w=1.6, σ_b=0.4 (q* ≠ 1)", (1.6, 0.4, TANH)),
        ]

    def judge_value(self, case, got, expected):
        value = self.scalar(case, got)
        if allclose(value, expected, rtol=RTOL, atol=1e-8):
            return
        sigma_w, sigma_b, phi = self.unpack(case)
        q_star = solution_function(self.lesson, "fixed_point_q")(sigma_w, sigma_b, phi)
        slope = derivative(phi, math.sqrt(q_star) * _NODES)
        # mistakes[0] again, told in the words learners read (its catalogue text is shorter).
        if allclose(value, sigma_w ** 2 * gaussian_mean(slope) ** 2, **self.TOLERANCE):
            fail(self.name, case, expected, value, "this is σ_w²·(E[φ'])²: square φ' first, then average "
                 "— χ₁ is the mean of φ'² (the backward pass multiplies each unit's gradient by its own φ').")
        fail(self.name, case, expected, value, self.named_mistake(case, got) or CHI1_GENERIC)


ORTHOGONAL_GENERIC = "take Q from np.linalg.qr of a Gaussian matrix (the columns of Q are orthonormal)."


@register
class Orthogonal(_Locating):
    name = "orthogonal"
    mistakes = (
        Mutant("a scaled Gaussian N(0, 1/n) taken for orthogonal (random directions are only nearly orthogonal): "
               "no QR",
               {"""    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))  # the sign correction: without it Q is not Haar-distributed
    if rows < cols:
        q = q.T
    return gain * q.reshape(shape)""": """    rows = int(np.prod(shape[:-1]))
    # random directions in many dimensions are nearly orthogonal: N(0, 1/rows) entries, no QR
    return gain * rng.standard_normal(shape) / np.sqrt(rows)"""}),
    )
    same_seed = 1290

    def basic_cases(self):
        probe = "gradclinic.summaries.orthogonality"
        return [
            Case(args_code="(50, 20), np.random.default_rng(12), gain=2.0", probe=probe, atol=1e-5,
                 hint="a tall kernel has orthonormal columns, times the gain: WᵀW = gain²·I."),
            Case(args_code="(20, 50), np.random.default_rng(12)", probe=probe, atol=1e-5,
                 hint="a wide kernel: QR of the transposed (50, 20) matrix, then transpose Q back (WWᵀ = I)."),
            Case(args_code="(3, 3, 4, 16), np.random.default_rng(12)", probe=probe, atol=1e-5,
                 hint="flatten a conv kernel to (prod(shape[:-1]), shape[-1]) = (36, 16), make that matrix "
                      "orthogonal, and reshape it back."),
            Case(args_code="(256, 256), np.random.default_rng(2)", probe=probe, atol=1e-5,
                 hint="for a uniformly random (Haar) orthogonal matrix the trace is close to N(0, 1); "
                      "multiply Q's columns by np.sign(np.diag(R)), or it drifts to about −0.6·√256."),
            Case(args_code="(5,), np.random.default_rng(0)", raises="ValueError",
                 hint="a 1-D shape has no matrix to orthogonalise: raise ValueError."),
        ]

    def hidden_cases(self):
        return [
            Case("a square (400, 400) kernel", ((400, 400), RngArg(1210))),
            Case("a square (300, 300) kernel, gain=1.5", ((300, 300), RngArg(1211)), {"gain": 1.5}),
            Case("a tall (1024, 256) kernel", ((1024, 256), RngArg(1212))),
            Case("a wide (256, 1024) kernel, gain=0.5", ((256, 1024), RngArg(1213)), {"gain": 0.5}),
            Case("a Conv2D kernel (3, 3, 64, 256), flattened to (576, 256)", ((3, 3, 64, 256), RngArg(1214))),
            Case("a Conv1D kernel (5, 8, 512), flattened to (40, 512): wide", ((5, 8, 512), RngArg(1215))),
            Case("a (2, 2) kernel given as a list [2, 2], gain=2 (an int)", ([2, 2], RngArg(1216)), {"gain": 2}),
            Case("a (1, 7) kernel (one row)", ((1, 7), RngArg(1217))),
            Case(f"a (128, 128) kernel, seed {self.same_seed}", ((128, 128), RngArg(self.same_seed))),
            Case(f"the same (128, 128) kernel with the same seed {self.same_seed} again",
                 ((128, 128), RngArg(self.same_seed))),
            Case("a 1-D shape (5,)", ((5,), RngArg(1218)), raises="ValueError"),
            Case("a shape with a zero (0, 4)", ((0, 4), RngArg(1219)), raises="ValueError"),
            isolating("orthogonality", "a square (6, 6) kernel, gain 1", ((6, 6), RngArg(1220))),
            isolating("gain", "a square (6, 6) kernel, gain=3", ((6, 6), RngArg(1221)), {"gain": 3.0}),
            isolating("tall", "a tall (9, 4) kernel", ((9, 4), RngArg(1222))),
            isolating("wide", "a wide (4, 9) kernel", ((4, 9), RngArg(1223))),
            isolating("flattening", "a conv kernel (2, 2, 3, 4), as the matrix (12, 4)", ((2, 2, 3, 4), RngArg(1224))),
            isolating("haar", "a square (256, 256) kernel", ((256, 256), RngArg(1225))),
        ]

    where_it_differs = {
        "orthogonality": "orthogonality itself: a square kernel with gain 1 must satisfy WᵀW = I.",
        "gain": "the gain: W = gain · Q, so WᵀW = gain²·I (orthogonality passed with gain 1).",
        "tall": "a tall kernel (rows > cols): orthonormal columns, QR of the (rows, cols) Gaussian matrix "
                "(square kernels passed).",
        "wide": "a wide kernel (rows < cols): QR of the transposed (cols, rows) matrix, Q transposed back, so "
                "WWᵀ = I (tall kernels passed).",
        "flattening": "the flattening of a kernel with more than two dimensions: the matrix "
                      "(prod(shape[:-1]), shape[-1]) is made orthogonal, then reshaped (2-D kernels passed).",
        "haar": "the distribution: Q must be uniformly (Haar) random, which needs the sign correction "
                "np.sign(np.diag(R)) (orthogonality, gain and shapes passed).",
    }

    def judge_value(self, case, got, expected):
        shape, gain = tuple(case.args[0]), float(case.kwargs.get("gain", 1.0))
        array = as_float_array(got)
        if array is None or array.shape != expected.shape:
            shown = None if array is None else array.shape
            rows, cols = math.prod(shape[:-1]), shape[-1]
            why = "the kernel has the shape asked for"
            if rows < cols and shown == (rows, rows):
                why = ("for a wide shape (rows < cols) QR of a (rows, cols) matrix gives a (rows, rows) Q: "
                       "factor the transposed (cols, rows) matrix and transpose Q back")
            elif len(shape) > 2:
                why = "reshape the flattened (prod(shape[:-1]), shape[-1]) matrix back to the kernel's shape"
            fail(self.name, case, f"shape {expected.shape}", f"shape {shown}", why + ".")
        if not np.all(np.isfinite(array)):
            fail(self.name, case, "finite numbers", "inf or NaN", "an orthogonal matrix has entries in [−gain, gain].")
        flat = array.reshape(-1, shape[-1])
        rows, cols = flat.shape
        gram = flat.T @ flat if rows >= cols else flat @ flat.T
        which = "WᵀW" if rows >= cols else "WWᵀ"
        target = gain ** 2 * np.eye(min(rows, cols))
        if not np.allclose(gram, target, atol=ORTHOGONALITY_ATOL * max(1.0, gain ** 2)):
            scale = float(np.mean(np.diag(gram)))
            if np.allclose(gram, scale * np.eye(len(gram)), atol=ORTHOGONALITY_ATOL * max(1.0, scale)):
                if math.isclose(scale, gain ** 4, rel_tol=1e-4):
                    hint = "the gain was applied twice (or squared): multiply Q by gain once, so WᵀW = gain²·I."
                elif math.isclose(scale, 1.0, rel_tol=1e-4):
                    hint = "the gain is missing: return gain · Q."
                elif math.isclose(scale, abs(gain), rel_tol=1e-4):
                    hint = "Q was multiplied by √gain: the kernel is gain · Q."
                else:
                    hint = f"the rows/columns are orthogonal but of squared length {scale:.4g}, not gain²."
                fail(self.name, case, f"{which} = {gain ** 2:g}·I", f"{which} = {scale:.6g}·I", hint)
            worst = float(np.abs(gram - target).max())
            hint = ("the *flattened* kernel (prod(shape[:-1]), shape[-1]) must be orthogonal, as Keras's is: "
                    "orthogonalise that one matrix, not each slice." if len(shape) > 2 else ORTHOGONAL_GENERIC)
            fail(self.name, case, f"{which} = {gain ** 2:g}·I", f"an entry off by {worst:.3g}", hint)
        unit = flat / gain
        m, n = max(rows, cols), min(rows, cols)
        if n >= 128:
            trace_stat = float(np.trace(unit[:n, :n]) * math.sqrt(m / n))
            if abs(trace_stat) > TRACE_LIMIT:
                fail(self.name, case, f"|T| ≤ {TRACE_LIMIT:g} (T ~ N(0, 1) for a Haar matrix)",
                     f"T = {trace_stat:.3g}",
                     "Q is not uniformly (Haar) distributed: np.linalg.qr's R has a diagonal of either sign, "
                     "which biases Q's diagonal. Multiply Q's columns by np.sign(np.diag(R)) — the sign "
                     "correction Keras's Orthogonal makes.")
            sums = unit.sum(axis=0) if rows >= cols else unit.sum(axis=1)
            if np.abs(sums).max() > SUM_LIMIT:
                fail(self.name, case, f"|column sums| ≤ {SUM_LIMIT:g} (each ~ N(0, 1) for a Haar matrix)",
                     f"a sum of {float(sums[np.argmax(np.abs(sums))]):.3g}",
                     "the matrix QR factors must be standard normal (rng.standard_normal): numbers with a "
                     "non-zero mean, such as rng.random(), tilt Q towards the all-ones direction.")

    def verdicts(self, cases, answers, answer_store, part="hidden"):
        failures = super().verdicts(cases, answers, answer_store, part=part)
        twins = [i for i, case in enumerate(cases)
                 if case.args and isinstance(case.args[-1], RngArg) and case.args[-1].seed == self.same_seed]
        if len(twins) == 2:
            try:
                first, second = (harness.decode_plain(answers[i]["result"], answer_store) for i in twins)
            except (harness.BadResult, KeyError, TypeError):
                return failures
            if not allclose(first, second, rtol=0, atol=1e-12):
                failures.append("orthogonal(the same (128, 128) kernel twice, with generators seeded alike): two "
                                "different matrices came back.\n  Likely cause: the function ignores its rng "
                                "argument (np.random.randn / a new default_rng()); draw every random number "
                                "from rng, so a seed reproduces the kernel.")
        return failures
