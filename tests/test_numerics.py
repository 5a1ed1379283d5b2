"""Hard numerics: large offsets, ill-conditioned covariances, recovery of a known mixture."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from distgmm import GaussianMixture, SingularCovarianceError

TYPES = ("full", "tied", "diag", "spherical")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.parametrize("covariance_type", TYPES)
def test_large_offset_keeps_full_precision(make_mixture, covariance_type):
    """Data at 1e6 with unit spread: the same model as on the centred data, shifted."""
    X, _ = make_mixture(n=4000, d=3, k=3, seed=0, spread=5.0)
    kw = dict(n_components=3, covariance_type=covariance_type, random_state=0, max_iter=20, tol=0)
    centred = GaussianMixture(**kw).fit(da.from_array(X, chunks=(1000, -1)))
    offset = GaussianMixture(**kw).fit(da.from_array(X + 1e6, chunks=(1000, -1)))
    np.testing.assert_allclose(offset.means_ - 1e6, centred.means_, atol=1e-6)
    np.testing.assert_allclose(offset.covariances_, centred.covariances_, rtol=1e-6)
    np.testing.assert_allclose(offset.weights_, centred.weights_, rtol=1e-8)


def test_large_offset_recovers_the_truth():
    rng = np.random.default_rng(1)
    true_cov = np.array([[1.0, 0.3], [0.3, 0.5]])
    X = rng.multivariate_normal([1e6, -2e6], true_cov, size=200_000)
    gm = GaussianMixture(1, random_state=0).fit(da.from_array(X, chunks=(30_000, -1)))
    np.testing.assert_allclose(gm.means_[0], [1e6, -2e6], atol=0.01)
    # sampling error of a covariance from 2e5 rows is ~0.3%
    np.testing.assert_allclose(gm.covariances_[0], true_cov, rtol=0.02, atol=0.01)


def test_ill_conditioned_covariance_is_recovered():
    """Condition number 1e8: eigen-directions spanning 1e4 to 1e-4 in scale."""
    rng = np.random.default_rng(2)
    d = 5
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    eig = np.logspace(4, -4, d)
    cov = (q * eig) @ q.T
    X = rng.multivariate_normal(np.zeros(d), cov, size=100_000)
    gm = GaussianMixture(1, reg_covar=0.0, random_state=0).fit(X)
    empirical = np.cov(X.T, bias=True)
    # the empirical covariance in every direction, to ~eps·cond (a whitened-scatter kernel
    # would be off by orders of magnitude more here)
    whitened = np.linalg.solve(np.linalg.cholesky(empirical), np.eye(d))
    np.testing.assert_allclose(whitened @ gm.covariances_[0] @ whitened.T, np.eye(d), atol=1e-7)
    np.testing.assert_allclose(np.linalg.eigvalsh(gm.covariances_[0])[::-1], eig, rtol=0.05)


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data"])
def test_recovers_well_separated_mixture(make_mixture, covariance_type, init_params):
    X, truth = make_mixture(n=6000, d=4, k=4, seed=3, spread=12.0)
    gm = GaussianMixture(
        4, covariance_type=covariance_type, init_params=init_params, n_init=3, random_state=0
    ).fit(da.from_array(X, chunks=(1500, -1)))
    assert gm.converged_
    assert adjusted_rand_score(truth, gm.labels_.compute()) > 0.99


def test_random_init_recovers_mixture(make_mixture):
    X, truth = make_mixture(n=6000, d=2, k=3, seed=4, spread=12.0)
    gm = GaussianMixture(3, init_params="random", n_init=4, random_state=0, max_iter=500)
    assert adjusted_rand_score(truth, gm.fit_predict(X)) > 0.99


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("covariance_type", TYPES)
def test_integer_weights_equal_repeated_rows(make_mixture, covariance_type):
    """EM with weights w is EM on the rows repeated w times, from the same start."""
    X, _ = make_mixture(n=600, d=3, k=3, seed=5)
    w = np.random.default_rng(0).integers(0, 4, size=len(X))
    start = GaussianMixture(3, covariance_type=covariance_type, random_state=0, max_iter=2)
    start.fit(X)
    kw = dict(
        covariance_type=covariance_type,
        weights_init=start.weights_,
        means_init=start.means_,
        precisions_init=start.precisions_,
        max_iter=15,
        tol=0,
    )
    weighted = GaussianMixture(3, **kw).fit(X, sample_weight=w)
    repeated = GaussianMixture(3, **kw).fit(np.repeat(X, w, axis=0))
    for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
        np.testing.assert_allclose(
            getattr(weighted, name), getattr(repeated, name), rtol=1e-10, atol=1e-12
        )
    assert weighted.score(X, sample_weight=w) == pytest.approx(
        repeated.score(np.repeat(X, w, axis=0)), rel=1e-12
    )
    assert weighted.bic(X, sample_weight=w) == pytest.approx(
        repeated.bic(np.repeat(X, w, axis=0)), rel=1e-12
    )


def test_dask_sample_weights_match_numpy(make_mixture):
    X, _ = make_mixture(n=3000, d=3, k=3, seed=6)
    w = np.random.default_rng(1).uniform(0.1, 3.0, size=len(X))
    kw = dict(n_components=3, random_state=0)
    # one chunk and numpy weights: the same out-of-core initialisation as the chunked fit
    ours = GaussianMixture(**kw).fit(da.from_array(X), sample_weight=w)
    lazy = GaussianMixture(**kw).fit(
        da.from_array(X, chunks=(500, -1)), sample_weight=da.from_array(w, chunks=700)
    )
    np.testing.assert_allclose(lazy.means_, ours.means_, rtol=1e-10)
    np.testing.assert_allclose(lazy.covariances_, ours.covariances_, rtol=1e-10)


def assert_identical_models(a, b):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("scale", [1e-18, 1e-300, 3.0, 1e300])
def test_equal_weights_of_any_scale_fit_as_no_weights(make_mixture, scale, lazy):
    X, _ = make_mixture(n=2000, d=3, k=3, seed=7)
    w = np.full(len(X), scale)
    if lazy:
        X, w = da.from_array(X, chunks=(500, -1)), da.from_array(w, chunks=500)
    kw = dict(n_components=3, random_state=0, tol=1e-6)
    assert_identical_models(
        GaussianMixture(**kw).fit(X, sample_weight=w), GaussianMixture(**kw).fit(X)
    )


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_only_the_ratios_of_the_weights_count(make_mixture, lazy):
    X, _ = make_mixture(n=2000, d=3, k=3, seed=8)
    w = np.random.default_rng(2).uniform(0.5, 2.0, size=len(X))
    fits = []
    for factor in (1.0, 2.0**-70, 2.0**-1000, 2.0**900):  # exact: the ratios are the same
        weights = w * factor
        data = da.from_array(X, chunks=(500, -1)) if lazy else X
        if lazy:
            weights = da.from_array(weights, chunks=500)
        fits.append(GaussianMixture(3, random_state=0).fit(data, sample_weight=weights))
    for other in fits[1:]:
        assert_identical_models(other, fits[0])
    # any other factor changes the weights by rounding only
    tiny_w = da.from_array(w * 1e-18, chunks=500) if lazy else w * 1e-18
    tiny = GaussianMixture(3, random_state=0).fit(data, sample_weight=tiny_w)
    np.testing.assert_allclose(tiny.means_, fits[0].means_, rtol=1e-9)
    assert tiny.lower_bound_ == pytest.approx(fits[0].lower_bound_, rel=1e-12)
    # scores weighted near the largest float do not overflow to NaN
    huge = np.random.default_rng(3).uniform(1e307, 1.7e308, size=len(X))
    gm = fits[0]
    expected = np.average(gm.score_samples(X), weights=huge / 1e307)
    assert gm.score(X, sample_weight=huge) == pytest.approx(expected, rel=1e-12)
    assert gm.score(X, sample_weight=np.full(len(X), 1e308)) == pytest.approx(gm.score(X))


def _far_clusters_with_tiny_variance():
    rng = np.random.default_rng(0)
    scale = np.array([1.0, 1e-4])
    parts = [c + rng.standard_normal((2000, 2)) * scale for c in ([-1e4] * 2, [1e4] * 2)]
    return np.vstack(parts), parts


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_tiny_variance_far_from_the_origin_is_kept(covariance_type):
    """A genuine variance of 1e-8 in clusters 1e4 from the pass origin is not residue: the
    full and tied scatters are taken about each component's mean, so they resolve it."""
    X, parts = _far_clusters_with_tiny_variance()
    gm = GaussianMixture(
        2,
        covariance_type=covariance_type,
        reg_covar=0.0,
        means_init=[[-1e4] * 2, [1e4] * 2],
        random_state=0,
    ).fit(X)
    exact = [np.cov(p.T, bias=True) for p in parts]
    want = np.stack(exact) if covariance_type == "full" else (exact[0] + exact[1]) / 2
    np.testing.assert_allclose(gm.covariances_, want, rtol=1e-6)
    assert gm.covariances_[..., 1, 1].min() < 2e-8


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_variance_below_the_moments_resolution_is_an_error(covariance_type):
    """diag/spherical moments are taken about the pass origin: a variance 1e-16 of the
    squared offset is below what they resolve, so the fit says so instead of guessing."""
    X, _ = _far_clusters_with_tiny_variance()
    gm = GaussianMixture(
        2, covariance_type=covariance_type, reg_covar=0.0, means_init=[[-1e4] * 2, [1e4] * 2]
    )
    if covariance_type == "diag":
        with pytest.raises(SingularCovarianceError, match="reg_covar"):
            gm.fit(X)
    else:  # the spherical variance averages in the unit-variance feature: resolvable
        gm.fit(X)
        np.testing.assert_allclose(gm.covariances_, 0.5, rtol=0.05)
