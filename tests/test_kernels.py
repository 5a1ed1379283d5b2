"""The numpy kernels against independent references, on single arrays (no Dask)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from distgmm import EmptyComponentError, GaussianParams, SingularCovarianceError
from distgmm.core.chunk import chunk_summaries as chunk_stats
from distgmm.core.chunk import row_uniforms
from distgmm.core.predict import chunk_weighted_log_prob
from distgmm.families.gaussian import covtypes as kernels
from distgmm.families.gaussian.kernel import prepare_em, prepare_kmeans, prepare_random
from distgmm.families.gaussian.mle import m_step

TYPES = kernels.COVARIANCE_TYPES


def random_params(covariance_type, k=3, d=4, seed=0):
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(0, 3, (k, d))
    a = rng.normal(size=(k, d, d))
    full = a @ a.transpose(0, 2, 1) + d * np.eye(d)
    cov = {
        "full": full,
        "tied": full[0],
        "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
        "spherical": np.diagonal(full, axis1=1, axis2=2).mean(axis=1),
    }[covariance_type]
    return GaussianParams.from_covariances(covariance_type, weights, means, cov)


def dense_cov(params, k):
    c = kernels.get(params.covariance_type).component_covariance(params.covariances, k)
    d = params.n_features
    return c if np.ndim(c) == 2 else np.diag(np.broadcast_to(c, (d,)))


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_prob_matches_scipy(covariance_type, dtype):
    params = random_params(covariance_type)
    X = np.random.default_rng(1).normal(0, 4, (1000, 4)).astype(dtype)
    origin = X.mean(axis=0, dtype=np.float64)
    got = chunk_weighted_log_prob(X, prepare_em(params, origin), origin, "log_prob")
    want = np.stack(
        [
            np.log(params.weights[k])
            + sps.multivariate_normal(params.means[k], dense_cov(params, k)).logpdf(
                X.astype(np.float64)
            )
            for k in range(params.n_components)
        ],
        axis=1,
    )
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_outputs_are_consistent(covariance_type):
    params = random_params(covariance_type)
    X = np.random.default_rng(2).normal(0, 4, (777, 4))
    model, origin = prepare_em(params, np.zeros(4)), np.zeros(4)
    wlp = chunk_weighted_log_prob(X, model, origin, "log_prob")
    score = chunk_weighted_log_prob(X, model, origin, "score")
    proba = chunk_weighted_log_prob(X, model, origin, "proba")
    np.testing.assert_allclose(score, np.logaddexp.reduce(wlp, axis=1), rtol=1e-13)
    np.testing.assert_allclose(proba, np.exp(wlp - score[:, None]), rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(
        chunk_weighted_log_prob(X, model, origin, "labels"), wlp.argmax(axis=1)
    )
    (stats,) = chunk_stats(X, [model], origin)
    assert stats.loglik == pytest.approx(score.sum(), rel=1e-13)
    np.testing.assert_allclose(stats.nk, proba.sum(axis=0), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_stats_give_weighted_moments(covariance_type):
    """sx and sxx are the responsibility-weighted moments about the component means."""
    params = random_params(covariance_type)
    X = np.random.default_rng(3).normal(0, 4, (500, 4))
    w = np.random.default_rng(4).uniform(0, 2, 500)
    origin = np.full(4, 0.5)
    (stats,) = chunk_stats(X, [prepare_em(params, origin)], origin, w)
    r = chunk_weighted_log_prob(X, prepare_em(params, origin), origin, "proba") * w[:, None]
    diff = X[None] - params.means[:, None]  # (K, n, D)
    np.testing.assert_allclose(stats.sx, np.einsum("nk,knd->kd", r, diff), rtol=1e-11, atol=1e-9)
    full = np.einsum("nk,knd,kne->kde", r, diff, diff)
    want = {
        "full": full,
        "tied": full.sum(axis=0),
        "diag": np.diagonal(full, axis1=1, axis2=2),
        "spherical": np.trace(full, axis1=1, axis2=2),
    }[covariance_type]
    np.testing.assert_allclose(stats.sxx, want, rtol=1e-11, atol=1e-8)
    assert stats.weight == pytest.approx(w.sum())


@settings(max_examples=40, deadline=None)
@given(
    covariance_type=st.sampled_from(TYPES),
    n=st.integers(2, 300),
    cut=st.floats(0, 1),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_stats_are_additive(covariance_type, n, cut, weighted, seed):
    """stats of all rows == stats(A) + stats(B), for any split and any block size."""
    rng = np.random.default_rng(seed)
    params = random_params(covariance_type, seed=seed % 7)
    X = rng.normal(0, 4, (n, 4))
    w = rng.uniform(0, 3, n) if weighted else None
    origin = np.zeros(4)
    models = [prepare_em(params, origin), prepare_kmeans(params.means, covariance_type, origin)]
    models.append(prepare_random(3, 4, covariance_type, seed))
    i = int(cut * n)
    whole = chunk_stats(X, models, origin, w, block_rows=7)
    a = chunk_stats(X[:i], models, origin, None if w is None else w[:i], 0) if i else None
    b = chunk_stats(X[i:], models, origin, None if w is None else w[i:], i) if i < n else None
    for j, total in enumerate(whole):
        parts = [p[j] for p in (a, b) if p is not None]
        summed = parts[0] if len(parts) == 1 else parts[0] + parts[1]
        assert summed.n_rows == total.n_rows
        for field in ("weight", "loglik"):
            assert getattr(summed, field) == pytest.approx(getattr(total, field), rel=1e-12)
        for field in ("nk", "sx", "sxx"):
            np.testing.assert_allclose(
                getattr(summed, field), getattr(total, field), rtol=1e-10, atol=1e-9
            )


def test_row_uniforms_are_keyed_by_row_not_chunk():
    whole = row_uniforms(123, 0, 50, 5)
    np.testing.assert_array_equal(whole[17:], row_uniforms(123, 17, 33, 5))
    assert not np.array_equal(whole, row_uniforms(124, 0, 50, 5))


def test_hard_assignment_is_nearest_center():
    rng = np.random.default_rng(0)
    X, centers = rng.normal(size=(400, 3)), rng.normal(size=(5, 3))
    origin = np.zeros(3)
    (stats,) = chunk_stats(X, [prepare_kmeans(centers, "diag", origin)], origin)
    nearest = ((X[:, None] - centers[None]) ** 2).sum(-1).argmin(axis=1)
    np.testing.assert_array_equal(stats.nk, np.bincount(nearest, minlength=5))


@pytest.mark.parametrize("covariance_type", TYPES)
def test_precision_round_trip(covariance_type):
    params = random_params(covariance_type)
    chol = params.precisions_chol
    if covariance_type == "full":
        precisions = chol @ chol.transpose(0, 2, 1)
    elif covariance_type == "tied":
        precisions = chol @ chol.T
    else:
        precisions = chol**2
    again = GaussianParams.from_precisions(
        covariance_type, params.weights, params.means, precisions
    )
    np.testing.assert_allclose(again.precisions_chol, chol, rtol=1e-10)
    np.testing.assert_allclose(again.covariances, params.covariances, rtol=1e-10)


@pytest.mark.parametrize(
    ("covariance_type", "bad", "component"),
    [
        ("full", lambda c: c.__setitem__((2, 0, 0), -1.0), 2),
        ("tied", lambda c: c.__setitem__((1, 1), -1.0), None),
        ("diag", lambda c: c.__setitem__((1, 3), 0.0), 1),
        ("spherical", lambda c: c.__setitem__(0, -2.0), 0),
    ],
)
def test_singular_covariance_names_component(covariance_type, bad, component):
    cov = random_params(covariance_type).covariances.copy()
    bad(cov)
    with pytest.raises(SingularCovarianceError, match="reg_covar") as info:
        GaussianParams.from_covariances(covariance_type, np.ones(3) / 3, np.zeros((3, 4)), cov)
    assert info.value.component == component
    assert isinstance(info.value, ValueError)


def test_empty_component_is_an_error_not_nan():
    params = random_params("full")
    X = np.random.default_rng(0).normal(params.means[0], 0.1, (50, 4))
    far = GaussianParams.from_covariances(
        "full",
        params.weights,
        params.means + np.array([[0.0] * 4, [1e4] * 4, [0.0] * 4]),
        params.covariances,
    )
    (stats,) = chunk_stats(X, [prepare_em(far, np.zeros(4))], np.zeros(4))
    with pytest.raises(EmptyComponentError, match="component 1 became empty"):
        m_step(stats, far.means, "full", 1e-6, np.zeros(4))


def _imported_by(modules: str) -> set[str]:
    """The modules a fresh interpreter has loaded after importing ``modules`` (comma-separated)
    from distgmm, without running the package's ``__init__`` (which imports the estimators)."""
    code = (
        "import importlib.util, sys, types\n"
        "spec = importlib.util.find_spec('distgmm')\n"
        "pkg = types.ModuleType('distgmm')\n"
        "pkg.__path__ = list(spec.submodule_search_locations)\n"
        "sys.modules['distgmm'] = pkg\n"
        f"import {modules}\n"
        "print('\\n'.join(sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_layering():
    """The core (summary, pass, EM loop, predictions) imports neither dask nor any family;
    the families' numerics import no dask."""
    core = _imported_by(
        "distgmm.core.summary, distgmm.core.family, distgmm.core.chunk, distgmm.core.predict, "
        "distgmm.core.em"
    )
    assert not [m for m in core if m == "dask" or m.startswith("dask.")]
    assert not [m for m in core if m.startswith("distgmm.families")]
    assert not [m for m in core if m.startswith("distgmm.estimators")]
    family = _imported_by(
        "distgmm.families.gaussian.kernel, distgmm.families.gaussian.mle, "
        "distgmm.families.gaussian.bayes"
    )
    assert not [m for m in family if m == "dask" or m.startswith("dask.")]
    assert "distgmm.families.gaussian.full" in family


def test_summaries_about_different_shifts_are_not_added():
    """Moments about different points are not additive: adding them is refused, not wrong."""
    X = np.random.default_rng(0).normal(size=(50, 3))
    params = random_params("full", k=2, d=3)
    origin = np.zeros(3)
    (a,) = chunk_stats(X[:20], [prepare_em(params, origin)], origin)
    (b,) = chunk_stats(X[20:], [prepare_em(params, origin)], origin, row0=20)
    (whole,) = chunk_stats(X, [prepare_em(params, origin)], origin)
    np.testing.assert_allclose((a + b).sxx, whole.sxx, rtol=1e-12)
    moved = GaussianParams.from_covariances(
        "full", params.weights, params.means + 1.0, params.covariances
    )
    (c,) = chunk_stats(X[20:], [prepare_em(moved, origin)], origin, row0=20)
    with pytest.raises(ValueError, match="different points"):
        a + c
