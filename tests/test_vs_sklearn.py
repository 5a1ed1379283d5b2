"""Same starting point as scikit-learn: the same model to ~1e-8 relative, for every type."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from distgmm import GaussianMixture

TYPES = ("full", "tied", "diag", "spherical")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def start(X, covariance_type, k=4, seed=1):
    """Initial parameters from one EM step of scikit-learn's own k-means start."""
    sk = SkGaussianMixture(k, covariance_type=covariance_type, random_state=seed, max_iter=1)
    sk.fit(X.astype(np.float64))
    return {
        "weights_init": sk.weights_,
        "means_init": sk.means_,
        "precisions_init": sk.precisions_,
    }


def assert_rel(got, want, rtol):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    scale = np.abs(want).max()
    assert np.abs(got - want).max() <= rtol * scale, np.abs(got - want).max() / scale


def assert_same_model(ours, theirs, rtol):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_"):
        assert_rel(getattr(ours, name), getattr(theirs, name), rtol)
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=rtol)
    assert ours.n_iter_ == theirs.n_iter_


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("as_dask", [False, True], ids=["numpy", "dask"])
def test_same_model_as_sklearn_float64(make_mixture, covariance_type, as_dask):
    X, _ = make_mixture(n=4000, d=5, k=4, seed=2, spread=3.0)
    kw = dict(start(X, covariance_type), covariance_type=covariance_type, max_iter=25, tol=0)
    theirs = SkGaussianMixture(4, **kw).fit(X)
    data = da.from_array(X, chunks=(700, -1)) if as_dask else X
    ours = GaussianMixture(4, **kw).fit(data)
    assert_same_model(ours, theirs, 1e-8)
    assert len(ours.history_) == 25


@pytest.mark.parametrize("covariance_type", TYPES)
def test_same_model_as_sklearn_float32(make_mixture, covariance_type):
    X, _ = make_mixture(n=4000, d=5, k=4, seed=3, spread=3.0, dtype=np.float32)
    kw = dict(start(X, covariance_type), covariance_type=covariance_type, max_iter=10, tol=0)
    theirs = SkGaussianMixture(4, **kw).fit(X)
    ours = GaussianMixture(4, **kw).fit(X)
    for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
        assert_rel(getattr(ours, name), getattr(theirs, name), 1e-4)
    # scikit-learn keeps float32 precision factors (off by ~1e-4 from exact). distgmm projects
    # float32 blocks in float32 but accumulates the statistics in float64: it stays within
    # float32's own resolution (6e-8) of the exact answer for these float32 values.
    exact = SkGaussianMixture(4, **kw).fit(X.astype(np.float64))
    assert_same_model(ours, exact, 1e-6)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_converges_like_sklearn(make_mixture, covariance_type):
    """With the default tol, both stop at the same iteration with the same model."""
    X, _ = make_mixture(n=3000, d=3, k=3, seed=4)
    kw = dict(start(X, covariance_type, k=3), covariance_type=covariance_type)
    theirs = SkGaussianMixture(3, **kw).fit(X)
    ours = GaussianMixture(3, **kw).fit(X)
    assert ours.converged_
    assert theirs.converged_
    assert_same_model(ours, theirs, 1e-8)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_inference_matches_sklearn(make_mixture, covariance_type):
    X, _ = make_mixture(n=2000, d=4, k=3, seed=5)
    kw = dict(start(X, covariance_type, k=3), covariance_type=covariance_type, max_iter=5)
    theirs = SkGaussianMixture(3, **kw).fit(X)
    ours = GaussianMixture(3, **kw).fit(X)
    new = np.random.default_rng(0).normal(0, 6, (500, 4))
    np.testing.assert_array_equal(ours.predict(new), theirs.predict(new))
    np.testing.assert_allclose(ours.predict_proba(new), theirs.predict_proba(new), atol=1e-10)
    np.testing.assert_allclose(ours.score_samples(new), theirs.score_samples(new), rtol=1e-9)
    assert ours.score(new) == pytest.approx(theirs.score(new), rel=1e-9)
    assert ours.bic(new) == pytest.approx(theirs.bic(new), rel=1e-9)
    assert ours.aic(new) == pytest.approx(theirs.aic(new), rel=1e-9)
    np.testing.assert_allclose(ours.precisions_, theirs.precisions_, rtol=1e-7, atol=1e-12)
    assert ours._n_parameters() == theirs._n_parameters()


@pytest.mark.parametrize("covariance_type", TYPES)
def test_warm_start_matches_sklearn(make_mixture, covariance_type):
    X, _ = make_mixture(n=2000, d=3, k=3, seed=6)
    kw = dict(
        start(X, covariance_type, k=3),
        covariance_type=covariance_type,
        max_iter=3,
        tol=0,
        warm_start=True,
    )
    theirs, ours = SkGaussianMixture(3, **kw), GaussianMixture(3, **kw)
    for _ in range(3):
        theirs.fit(X)
        ours.fit(X)
        assert_same_model(ours, theirs, 1e-8)


def test_sample_matches_sklearn(make_mixture):
    X, _ = make_mixture(n=1000, d=3, k=3, seed=7)
    for covariance_type in TYPES:
        kw = dict(start(X, covariance_type, k=3), covariance_type=covariance_type, max_iter=2)
        theirs = SkGaussianMixture(3, random_state=11, **kw).fit(X)
        ours = GaussianMixture(3, random_state=11, **kw).fit(X)
        Xs, ys = ours.sample(500)
        Xt, yt = theirs.sample(500)
        np.testing.assert_array_equal(ys, yt)
        np.testing.assert_allclose(Xs, Xt, rtol=1e-7, atol=1e-9)


def test_max_iter_zero_keeps_the_start(make_mixture):
    X, _ = make_mixture(n=500, d=2, k=2, seed=8)
    kw = start(X, "full", k=2)
    ours = GaussianMixture(2, max_iter=0, **kw).fit(X)
    np.testing.assert_array_equal(ours.means_, kw["means_init"])
    assert not ours.converged_
    assert ours.n_iter_ == 0
    assert ours.lower_bound_ == -np.inf


def test_float32_on_ill_conditioned_covariances_uses_the_float64_estep():
    """Condition number 1e8: float32 projections would drift; the fit equals the float64
    one on the same values."""
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    cov = (q * np.logspace(4, -4, 4)) @ q.T
    X = np.vstack([rng.multivariate_normal(m, cov, 3000) for m in ([0] * 4, [300] * 4)])
    X32 = X.astype(np.float32)
    kw = dict(n_components=2, random_state=0, max_iter=10, tol=0, reg_covar=0.0)
    ours = GaussianMixture(**kw).fit(X32)
    exact = GaussianMixture(**kw).fit(X32.astype(np.float64))
    np.testing.assert_allclose(ours.lower_bounds_, exact.lower_bounds_, rtol=1e-10)
    np.testing.assert_allclose(ours.covariances_, exact.covariances_, rtol=1e-6, atol=1e-12)
