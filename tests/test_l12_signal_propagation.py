"""Lesson 12, signal propagation: the solution's functions, the grader's references (against exact
results and Keras), the judges' constants (the solution's), each learner
mistake caught with its hint, correct variants not punished, the σ_w = 1 transition and the
explorer at its slider ends. The lesson's experiments on real nets (measured gradient growth vs
√χ₁, isometry) test gradclinic.mean_field: tests/test_mean_field.py."""

import math

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

import gradclinic
from autograder import check
from autograder.graders import l12_signal_propagation as l12
from autograder.solution import solution_function
from gradclinic.explorers import signal_propagation as sp
from gradclinic.mean_field import RandomTanhNets
from checks import failure_of

NODES, WEIGHTS = hermegauss(l12.N_QUAD)
WEIGHTS = WEIGHTS / WEIGHTS.sum()
length_map, fixed_point_q, chi1, orthogonal = (solution_function(l12.SLUG, name) for name in
                                               ("length_map", "fixed_point_q", "chi1", "orthogonal"))


def setup_module():
    gradclinic.seed(0)


def relu(z):
    return np.maximum(z, 0.0)


# -- the solution's functions (the references) -----------------------------------------------
def test_the_judges_contract_is_the_solutions():
    """The judges' own arithmetic (quadrature, finite difference, iteration limits) uses the
    constants the solution uses."""
    for name in ("N_QUAD", "FD_STEP", "TOLERANCE", "MAX_ITERATIONS", "Q_LIMIT"):
        assert getattr(l12, name) == solution_function(l12.SLUG, name), name
    nodes, weights = (solution_function(l12.SLUG, name) for name in ("QUAD_NODES", "QUAD_WEIGHTS"))
    assert np.array_equal(l12._NODES, nodes) and np.array_equal(l12._WEIGHTS, weights / weights.sum())


def test_the_solutions_orthogonal_passes_the_property_checks():
    """orthogonal is judged on properties (orthogonality, Haar statistics, the rng), not on the
    reference's values alone."""
    check("orthogonal", orthogonal)


def test_length_map_is_exact_where_the_expectation_is_known():
    assert np.isclose(length_map(2.0, 0.5, 1.0, lambda z: z), 1.5, rtol=1e-12)
    assert np.isclose(length_map(3.0, 1.2, 0.1, relu), 1.44 * 1.5 + 0.01, rtol=1e-12)
    # E[sin²(√q z)] = (1 − e^(−2q)) / 2
    assert np.isclose(length_map(0.7, 1.0, 0.0, np.sin), (1 - math.exp(-1.4)) / 2, rtol=1e-10)
    qs = np.array([[0.1, 2.0], [5.0, 0.0]])
    assert length_map(qs, 1.3, 0.2, np.tanh).shape == (2, 2)


def test_fixed_points_and_chi1_match_closed_forms():
    assert np.isclose(fixed_point_q(0.9, 0.3, lambda z: z), 0.09 / (1 - 0.81), rtol=1e-9)
    assert np.isclose(fixed_point_q(1.2, 0.1, relu), 0.01 / (1 - 0.72), rtol=1e-9)
    assert np.isclose(chi1(1.2, 0.1, relu), 0.72, rtol=1e-9)
    assert np.isclose(chi1(0.9, 0.3, lambda z: z), 0.81, rtol=1e-9)
    with pytest.raises(ValueError):
        fixed_point_q(2.0, 0.1, relu)
    with pytest.raises(ValueError):
        chi1(1.2, 0.0, lambda z: z)


def test_tanh_without_bias_has_its_transition_at_sigma_w_one():
    for sigma_w in (0.5, 0.8, 0.95, 0.99):
        assert fixed_point_q(sigma_w, 0.0, np.tanh) < 1e-9
        assert np.isclose(chi1(sigma_w, 0.0, np.tanh), sigma_w ** 2, rtol=1e-8)
    for sigma_w in (1.01, 1.1, 1.5, 3.0):
        assert fixed_point_q(sigma_w, 0.0, np.tanh) > 0.005
        assert chi1(sigma_w, 0.0, np.tanh) > 1.0


def test_hidden_phase_cases_avoid_the_slow_critical_point_and_cover_both_phases():
    chis = []
    for case in l12._phase_cases(l12.FixedPointQ.seed):
        if case.raises:
            continue
        sigma_w, sigma_b, activation = case.args
        assert not (sigma_b < 0.1 and abs(sigma_w - 1) < 0.1)
        if activation.name == "tanh":
            chis.append(chi1(sigma_w, sigma_b, np.tanh))
    assert min(chis) < 0.7 and max(chis) > 1.3


def test_orthogonal_reference_is_keras_construction():
    """Keras's Orthogonal: QR of the same Gaussian matrix with keras.ops, sign-corrected, gain."""
    import keras

    rng = np.random.default_rng(5)
    for shape, gain in [((40, 12), 1.0), ((12, 40), 2.0), ((3, 3, 4, 16), 0.5)]:
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = np.random.default_rng(7).standard_normal((max(rows, cols), min(rows, cols)))
        q, r = (np.asarray(t, dtype=float) for t in keras.ops.qr(a))
        q = q * np.sign(np.diag(r))
        expected = gain * (q.T if rows < cols else q).reshape(shape)
        assert np.allclose(orthogonal(shape, np.random.default_rng(7), gain), expected, atol=1e-10)
    sample = np.asarray(keras.initializers.Orthogonal(gain=1.0, seed=3)((256, 256)), dtype=float)
    assert np.allclose(sample.T @ sample, np.eye(256), atol=1e-4)
    assert abs(np.trace(sample)) < l12.TRACE_LIMIT  # Keras's own kernels pass the Haar statistic
    del rng


def test_the_trace_statistic_is_calibrated_under_haar():
    stats = [np.trace(orthogonal((128, 128), np.random.default_rng(s))) for s in range(60)]
    assert abs(np.mean(stats)) < 0.5 and 0.7 < np.std(stats) < 1.3
    assert max(abs(t) for t in stats) < l12.TRACE_LIMIT


# -- each mistake, caught with its hint ------------------------------------------------------
def _validated(formula):
    """A learner's length_map that refuses negative input, then applies ``formula``."""
    def learner(q, sigma_w, sigma_b, phi):
        q = np.asarray(q, dtype=float)
        if sigma_w < 0 or sigma_b < 0 or np.any(q < 0):
            raise ValueError("negative")
        return formula(q, sigma_w, sigma_b, phi)
    return learner


def _mean(values, weights=WEIGHTS):
    return values @ weights


@pytest.mark.parametrize("formula, hint", [
    (lambda q, w, b, phi: w ** 2 * _mean(phi(np.sqrt(q)[..., None] * NODES) ** 2, hermegauss(100)[1]) + b ** 2,
     "not normalised"),
    (lambda q, w, b, phi: w * _mean(phi(np.sqrt(q)[..., None] * NODES) ** 2) + b, "σ_w² and σ_b²"),
    (lambda q, w, b, phi: w ** 2 * _mean(phi(np.sqrt(q / 2)[..., None] * NODES) ** 2) + b ** 2, "hermgauss"),
    (lambda q, w, b, phi: w ** 2 * _mean(phi(q[..., None] * NODES) ** 2) + b ** 2, "√q·z"),
    (lambda q, w, b, phi: w ** 2 * _mean(phi(np.sqrt(q)[..., None] * NODES)) + b ** 2, "square is missing"),
    (lambda q, w, b, phi: float(np.mean(w ** 2 * _mean(phi(np.sqrt(q)[..., None] * NODES) ** 2) + b ** 2)),
     "vectorise"),
    (lambda q, w, b, phi: w ** 2 * (phi(np.sqrt(q)[..., None] * hermegauss(8)[0]) ** 2)
     @ (hermegauss(8)[1] / hermegauss(8)[1].sum()) + b ** 2, "8 nodes"),
])
def test_length_map_mistakes_are_named(formula, hint):
    assert hint in failure_of("length_map", _validated(formula))


def test_a_negative_q_must_be_refused():
    message = failure_of("length_map", lambda q, w, b, phi: length_map(np.abs(q), abs(w), abs(b), phi))
    assert "should raise ValueError" in message


def _iterating(steps=None, start=1.0, check_divergence=True):
    def learner(sigma_w, sigma_b, phi):
        if sigma_w < 0 or sigma_b < 0:
            raise ValueError("negative")
        q = start
        for _ in range(steps or l12.MAX_ITERATIONS):  # the map, without length_map's own checks
            new = float(sigma_w ** 2 * _mean(phi(math.sqrt(q) * NODES) ** 2) + sigma_b ** 2)
            if check_divergence and new > l12.Q_LIMIT:
                raise ValueError("diverges")
            if steps is None and abs(new - q) <= 1e-12 * max(1, q):
                return new
            q = new
        if steps is None and check_divergence:
            raise ValueError("no convergence")
        return q
    return learner


@pytest.mark.parametrize("learner, hint", [
    (_iterating(steps=10), "after 10 iteration(s)"),
    (_iterating(start=0.0), "unstable"),
    (_iterating(check_divergence=False), "should raise ValueError"),
])
def test_fixed_point_mistakes_are_named(learner, hint):
    with np.errstate(over="ignore", invalid="ignore"):
        assert hint in failure_of("fixed_point_q", learner)


def _chi1_variant(formula, at_q_one=False):
    def learner(sigma_w, sigma_b, phi):
        q_star = 1.0 if at_q_one else fixed_point_q(sigma_w, sigma_b, phi)
        return formula(q_star, sigma_w, phi)
    return learner


def _slope(phi, x):
    return (phi(x + l12.FD_STEP) - phi(x - l12.FD_STEP)) / (2 * l12.FD_STEP)


@pytest.mark.parametrize("learner, hint", [
    (_chi1_variant(lambda q, w, phi: w ** 2 * _mean(_slope(phi, math.sqrt(q) * NODES) ** 2), at_q_one=True), "q = 1"),
    (_chi1_variant(lambda q, w, phi: w * _mean(_slope(phi, math.sqrt(q) * NODES) ** 2)), "unsquared"),
    (_chi1_variant(lambda q, w, phi: w ** 2 * _mean(_slope(phi, math.sqrt(q) * NODES)) ** 2), "(E[φ'])²"),
    (_chi1_variant(lambda q, w, phi: w ** 2 * _mean(_slope(phi, math.sqrt(q) * NODES))), "not squared"),
    (_chi1_variant(lambda q, w, phi: w ** 2 * _mean(_slope(phi, q * NODES) ** 2)), "q*·z"),
])
def test_chi1_mistakes_are_named(learner, hint):
    assert hint in failure_of("chi1", learner)


def test_chi1_with_another_step_or_an_exact_tanh_derivative_passes():
    def exact_when_tanh(sigma_w, sigma_b, phi):
        q_star = fixed_point_q(sigma_w, sigma_b, phi)
        x = math.sqrt(q_star) * NODES
        slope = 1 - np.tanh(x) ** 2 if phi is np.tanh else (phi(x + 1e-6) - phi(x - 1e-6)) / 2e-6
        return float(sigma_w ** 2 * _mean(slope ** 2))
    check("chi1", exact_when_tanh)


def _orthogonal_variant(sign_fix=True, gain_power=1, transpose_wide=True, per_slice=False, draw="normal",
                        own_rng=False):
    def learner(shape, rng, gain=1.0):
        shape = tuple(shape)
        if len(shape) < 2 or min(shape) < 1:
            raise ValueError("bad shape")
        if own_rng:
            rng = np.random.default_rng()
        if per_slice and len(shape) > 2:
            blocks = [learner(shape[-2:], rng, gain) for _ in range(math.prod(shape[:-2]))]
            return np.stack(blocks).reshape(shape)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        tall = (max(rows, cols), min(rows, cols)) if transpose_wide else (rows, cols)
        a = rng.standard_normal(tall) if draw == "normal" else rng.random(tall)
        q, r = np.linalg.qr(a)
        if sign_fix:
            q = q * np.sign(np.diag(r))
        if transpose_wide and rows < cols:
            q = q.T
        return gain ** gain_power * q.reshape(shape) if q.size == rows * cols else gain * q
    return learner


@pytest.mark.parametrize("learner, hint", [
    (_orthogonal_variant(sign_fix=False), "np.sign(np.diag(R))"),
    (_orthogonal_variant(gain_power=2), "applied twice"),
    (_orthogonal_variant(gain_power=0), "gain is missing"),
    (_orthogonal_variant(transpose_wide=False), "transpose Q back"),
    (_orthogonal_variant(per_slice=True), "flattened"),
    (_orthogonal_variant(draw="uniform"), "standard normal"),
    (_orthogonal_variant(own_rng=True), "ignores its rng"),
])
def test_orthogonal_mistakes_are_named(learner, hint):
    assert hint in failure_of("orthogonal", learner)


def test_orthogonal_by_gram_schmidt_or_another_draw_order_passes():
    def gram_schmidt(shape, rng, gain=1.0):
        shape = tuple(shape)
        if len(shape) < 2 or min(shape) < 1:
            raise ValueError("bad shape")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.standard_normal((rows, cols))  # drawn in the kernel's own orientation
        tall = a if rows >= cols else a.T
        basis = np.zeros_like(tall)
        for j in range(tall.shape[1]):  # modified Gram–Schmidt, twice for accuracy: R's diagonal > 0
            v = tall[:, j].copy()
            for _ in range(2):
                v -= basis[:, :j] @ (basis[:, :j].T @ v)
            basis[:, j] = v / np.linalg.norm(v)
        return gain * (basis if rows >= cols else basis.T).reshape(shape)
    check("orthogonal", gram_schmidt)


# -- the explorer ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def explorer():
    nets = RandomTanhNets(n_nets=1, batch=2, seed=2)
    return sp.SignalPropagationExplorer(chi1, fixed_point_q, nets=nets)


def test_explorer_updates_in_place_at_the_slider_ends(explorer):
    figure, image, marker, measured = explorer.figure, explorer.image, explorer.marker, explorer.measured_line
    before = explorer.png()
    for sigma_w, sigma_b, depth in [(0.5, 0.0, 10), (3.0, 1.0, 50), (0.5, 1.0, 50), (3.0, 0.0, 10)]:
        assert explorer.update(sigma_w=sigma_w, sigma_b=sigma_b, depth=depth) is figure
        assert explorer.image is image and explorer.marker is marker and explorer.measured_line is measured
        assert tuple(marker.get_xdata()) == (sigma_w,) and tuple(marker.get_ydata()) == (sigma_b,)
        chi = chi1(sigma_w, sigma_b, np.tanh)
        layers = np.arange(1, depth + 1)
        assert np.allclose(explorer.theory_line.get_ydata(), np.maximum(chi ** ((depth - layers) / 2), 1e-300))
        assert len(measured.get_xdata()) == depth
        assert ("ordered" in explorer.profile_ax.get_title()) == (chi < 1)
    assert explorer.png() != before
    explorer.update(sigma_w=1.5, sigma_b=0.3, depth=50)
    assert np.isclose(explorer.image.get_array().max(), sp.DECADES_SHOWN)  # deep: clipped at ±3 decades
    assert np.isclose(explorer.image.get_array().min(), -sp.DECADES_SHOWN)


def test_explorer_profile_scale_follows_the_depth_bucket_only(explorer):
    """σ_w and σ_b move the profile against a fixed scale that holds the theory of every point."""
    scales = set()
    for sigma_w, sigma_b in [(0.5, 1.0), (0.5, 0.0), (1.2, 0.3), (3.0, 0.0), (3.0, 1.0)]:
        explorer.update(sigma_w=sigma_w, sigma_b=sigma_b, depth=45)
        low, high = explorer.profile_ax.get_ylim()
        theory = explorer.theory_line.get_ydata()
        assert low <= theory.min() and theory.max() <= high
        scales.add((explorer.profile_ax.get_xlim(), (low, high)))
    assert len(scales) == 1 and next(iter(scales))[0] == (0.5, 50.5)  # depth 45: the 50-layer bucket
    explorer.update(depth=12)
    assert explorer.profile_ax.get_xlim() == (0.5, 20.5)


def test_explorer_survives_the_point_where_chi1_raises(explorer):
    def refusing(sigma_w, sigma_b, phi):
        raise ValueError("no convergence")
    saved = explorer.chi1, explorer.fixed_point_q
    explorer.chi1 = explorer.fixed_point_q = refusing
    try:
        explorer.update(sigma_w=1.0, sigma_b=0.0, depth=20)
        assert "ValueError" in explorer.profile_ax.get_title()
    finally:
        explorer.chi1, explorer.fixed_point_q = saved


def test_explorer_widget_has_its_three_sliders(explorer):
    box = explorer.widget()
    assert [c.description for c in box.children[0].children] == ["σ_w", "σ_b", "depth L"]


def test_phase_grid_has_the_edge_of_chaos_between_its_sides(explorer):
    log_chi = explorer.log_chi1
    assert np.all(np.isfinite(log_chi))
    assert np.all(log_chi[:, 0] < 0) and np.all(log_chi[:, -1] > 0)  # σ_w = 0.51 ordered, 2.99 chaotic


def test_orthogonal_in_float32_passes():
    check("orthogonal", lambda shape, rng, gain=1.0: orthogonal(shape, rng, gain).astype("float32"))


# -- a wrong answer that matches no known mistake is located -----------------------------------
def _first_failure(name, learner):
    return failure_of(name, learner).split("\n- ")[1]


def _length_map_slip(where):
    """length_map wrong in ``where`` only, in a way no catalogued mistake describes."""
    weights = WEIGHTS * (1.02 if where == "weights" else 1.0)

    def learner(q, sigma_w, sigma_b, phi):
        q = np.asarray(q, dtype=float)
        if sigma_w < 0 or sigma_b < 0 or np.any(q < 0) or not np.all(np.isfinite(q)):
            raise ValueError("negative")
        values = phi(np.sqrt(q)[..., None] * NODES) ** 2
        if where == "average":  # the nodes' values clipped to 0.9 before averaging
            values = np.minimum(values, 0.9)
        factor = sigma_w ** 2 * (1.1 if where == "sigma_w" and sigma_w > 1 else 1.0)
        bias = sigma_b ** 2 * (1.1 if where == "sigma_b" else 1.0)
        result = factor * (values @ weights) + bias
        if where == "array" and q.ndim == 2:
            result = result[:, ::-1]  # each row in the wrong order
        return result
    return learner


@pytest.mark.parametrize("where, named", [("weights", "the normalisation of the quadrature weights"),
                                          ("average", "the Gaussian average"), ("sigma_w", "the factor σ_w²"),
                                          ("sigma_b", "the bias term σ_b²"), ("array", "the map of an array q")])
def test_length_map_unknown_mistake_is_told_which_quantity_first_differs(where, named):
    first = _first_failure("length_map", _length_map_slip(where))
    assert f"The first quantity that differs is {named}" in first, first


def _chi1_slip(where):
    def learner(sigma_w, sigma_b, phi):
        q_star = fixed_point_q(sigma_w, sigma_b, phi) * (1.3 if where == "q*" else 1.0)
        x = np.sqrt(q_star) * NODES
        slope = (phi(x + l12.FD_STEP) - phi(x - l12.FD_STEP)) / (2 * l12.FD_STEP)
        if where == "slope":  # slopes capped at 0.9
            slope = np.minimum(slope, 0.9)
        factor = sigma_w ** (2.1 if where == "sigma_w" else 2.0)
        return float(factor * (slope ** 2 @ WEIGHTS))
    return learner


@pytest.mark.parametrize("where, named", [("slope", "the average of the squared slope"), ("sigma_w", "the factor σ_w²"),
                                          ("q*", "the fixed point q*")])
def test_chi1_unknown_mistake_is_told_which_quantity_first_differs(where, named):
    first = _first_failure("chi1", _chi1_slip(where))
    assert f"The first quantity that differs is {named}" in first, first


def _orthogonal_slip(where):
    right = _orthogonal_variant()

    def learner(shape, rng, gain=1.0):
        shape = tuple(shape)
        w = right(shape, rng, gain)
        rows, cols = math.prod(shape[:-1]), shape[-1]
        if where == "orthogonality":  # a touch of noise: nearly, not exactly, orthogonal
            w = w + 1e-3 * gain * rng.standard_normal(w.shape)
        if where == "gain" and gain != 1:
            w = w * (gain + 0.5) / gain
        if where == "tall" and len(shape) == 2 and rows > cols:
            w = w * np.linspace(0.9, 1.1, cols)
        if where == "wide" and rows < cols:
            w = w * np.linspace(0.9, 1.1, cols)
        if where == "flattening" and len(shape) > 2:
            w = w.reshape(-1)[::-1].reshape(shape)  # flattened in another order, and not orthogonal
            w = w * np.linspace(0.9, 1.1, w.shape[-1])
        return w
    return learner


@pytest.mark.parametrize("where, named", [("orthogonality", "orthogonality itself"), ("gain", "the gain"),
                                          ("tall", "a tall kernel"), ("wide", "a wide kernel"),
                                          ("flattening", "the flattening")])
def test_orthogonal_unknown_mistake_is_told_which_quantity_first_differs(where, named):
    first = _first_failure("orthogonal", _orthogonal_slip(where))
    assert f"The first quantity that differs is {named}" in first, first


def test_a_known_mistake_is_named_beside_the_quantity_it_isolates():
    first = _first_failure(
        "length_map", _validated(lambda q, w, b, phi: w * _mean(phi(np.sqrt(q)[..., None] * NODES) ** 2) + b))
    assert "Likely cause: σ_w and σ_b are standard deviations" in first
    assert "The first quantity that differs is the factor σ_w²" in first
