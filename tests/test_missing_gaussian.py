"""Missing entries by marginalisation (issue 16): GaussianMixture(nan_policy="marginalize")
against a plain per-row EM written in the tests (tests/_reference_missing.py), for every
covariance type, on numpy and on chunked dask input; inference against scipy's marginal
densities; no-NaN data bit-identical to nan_policy="raise"; chunking and worker invariance."""

from __future__ import annotations

import functools

import _reference_missing as ref
import dask.array as da
import numpy as np
import pytest
from scipy.special import logsumexp

from distgmm import GaussianMixture

TYPES = ref.COVARIANCE_TYPES
FITTED = ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ------------------------------------------------------------------ data and starts
def mixture(n, d=4, k=3, seed=0, spread=4.0):
    """Rows of a random Gaussian mixture with full covariances, and their true labels
    (conftest's ``make_mixture``, here for the module-level cached cases)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, spread, size=(k, d))
    labels = rng.integers(0, k, size=n)
    factors = rng.normal(size=(k, d, d)) / np.sqrt(d) + np.eye(d)
    noise = np.einsum("nd,nde->ne", rng.standard_normal((n, d)), factors[labels])
    return means[labels] + noise, labels


def with_missing(X, fraction, seed):
    """A copy of ``X`` with about ``fraction`` of its entries NaN, at random, and no row
    left without an observed entry."""
    rng = np.random.default_rng(seed)
    X = np.array(X, dtype=np.float64)
    mask = rng.random(X.shape) < fraction
    empty = np.flatnonzero(mask.all(axis=1))
    mask[empty, rng.integers(0, X.shape[1], len(empty))] = False
    X[mask] = np.nan
    return X


def gapped(n, d=4, k=3, fraction=0.15, seed=0):
    """Rows of a Gaussian mixture with entries missing at random, and the true labels."""
    X, labels = mixture(n=n, d=d, k=k, seed=seed, spread=4.0)
    return with_missing(X, fraction, seed + 100), labels


def start(X, labels, covariance_type):
    """A start from the true labels and the observed entries (no data-dependent
    initialisation inside the estimator): weights, means, precisions by type."""
    k = labels.max() + 1
    weights = np.bincount(labels, minlength=k) / len(labels)
    means = np.stack([np.nanmean(X[labels == j], axis=0) for j in range(k)]) + 0.3
    variances = np.stack([np.nanvar(X[labels == j], axis=0) for j in range(k)]) * 1.5
    precisions = {
        "full": np.stack([np.diag(1 / v) for v in variances]),
        "tied": np.diag(1 / variances.mean(axis=0)),
        "diag": 1 / variances,
        "spherical": 1 / variances.mean(axis=1),
    }[covariance_type]
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


def fitted_params(gm):
    return {"weights": gm.weights_, "means": gm.means_, "covariances": gm.covariances_}


def assert_rel(got, want, rtol, name=""):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    scale = np.abs(want).max()
    err = np.abs(got - want).max() / scale
    assert err <= rtol, f"{name}: max relative difference {err:.3g} > {rtol:g}"


def assert_matches_reference(gm, history, params, rtol=1e-8):
    assert len(gm.history_) == len(history)
    assert_rel(gm.history_, history, rtol, "history_")
    assert gm.lower_bound_ == pytest.approx(history[-1], rel=rtol)
    for name in ("weights", "means", "covariances"):
        assert_rel(getattr(gm, name + "_"), params[name], rtol, name + "_")


def assert_identical(a, b):
    for name in FITTED:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.n_iter_ == b.n_iter_


def assert_close(a, b, rtol):
    for name in FITTED:
        assert_rel(getattr(a, name), getattr(b, name), rtol, name)
    assert a.n_iter_ == b.n_iter_


N_ITER = 10
REG = 1e-6


@functools.cache
def case(covariance_type, weighted=False):
    """Data with about 15 % of entries missing, a start, sample weights (or None), and the
    reference's history and parameters after ``N_ITER`` iterations (computed once)."""
    n = 250 if weighted else 400
    X, labels = gapped(n, seed=7 if weighted else 3)
    init = start(X, labels, covariance_type)
    w = np.random.default_rng(5).uniform(0.2, 3.0, n) if weighted else None
    history, params = ref.run_em(
        X, covariance_type, n_iter=N_ITER, reg_covar=REG, sample_weight=w, **init
    )
    return X, init, w, history, params


def estimator(covariance_type, init, **kw):
    settings = dict(
        covariance_type=covariance_type,
        nan_policy="marginalize",
        max_iter=N_ITER,
        tol=0.0,
        reg_covar=REG,
    )
    settings.update(kw)
    return GaussianMixture(len(init["weights_init"]), **init, **settings)


# ------------------------------------------------------------------ the reference itself
@pytest.mark.parametrize("covariance_type", TYPES)
def test_reference_is_todays_fit_on_complete_data(covariance_type):
    """No entry missing: the reference is scikit-learn's EM, which distgmm matches today;
    this pins its conventions (which bound is recorded, precisions_init by type)."""
    X, labels = mixture(n=300, d=3, k=3, seed=11, spread=4.0)
    init = start(X, labels, covariance_type)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    history, params = ref.run_em(X, covariance_type, n_iter=6, sample_weight=w, **init)
    gm = GaussianMixture(3, covariance_type=covariance_type, max_iter=6, tol=0.0, **init)
    assert_matches_reference(gm.fit(X, sample_weight=w), history, params, rtol=1e-10)


def test_the_missing_fraction_is_in_the_issues_range():
    for covariance_type in TYPES:
        X = case(covariance_type)[0]
        assert 0.05 <= np.isnan(X).mean() <= 0.30
        assert not np.isnan(X).all(axis=1).any()
        assert np.isnan(X).any(axis=1).mean() > 0.3  # many rows, many patterns


# ------------------------------------------------------------------ EM against the reference
@pytest.mark.parametrize("covariance_type", TYPES)
def test_numpy_fit_matches_the_reference(covariance_type):
    X, init, _, history, params = case(covariance_type)
    gm = estimator(covariance_type, init).fit(X)
    assert_matches_reference(gm, history, params)
    assert gm.n_iter_ == N_ITER


@pytest.mark.parametrize("covariance_type", TYPES)
def test_weighted_fit_matches_the_reference(covariance_type):
    X, init, w, history, params = case(covariance_type, weighted=True)
    gm = estimator(covariance_type, init).fit(X, sample_weight=w)
    assert_matches_reference(gm, history, params)


@pytest.mark.cluster
@pytest.mark.parametrize("covariance_type", TYPES)
def test_chunked_dask_fit_on_a_cluster_matches_the_reference(covariance_type, cluster2):
    X, init, _, history, params = case(covariance_type)
    chunks = ((60, 1, 139, 100, 100), (X.shape[1],))
    gm = estimator(covariance_type, init, client=cluster2)
    gm.fit(da.from_array(X, chunks=chunks))
    assert_matches_reference(gm, history, params)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_weighted_dask_fit_matches_the_reference(covariance_type):
    X, init, w, history, params = case(covariance_type, weighted=True)
    gm = estimator(covariance_type, init)
    gm.fit(da.from_array(X, chunks=(60, -1)), sample_weight=da.from_array(w, chunks=60))
    assert_matches_reference(gm, history, params)


# ------------------------------------------------------------------ inference
@pytest.mark.parametrize("covariance_type", TYPES)
def test_inference_is_the_marginal_density_over_observed_entries(covariance_type):
    X, init, *_ = case(covariance_type)
    gm = estimator(covariance_type, init, max_iter=4).fit(X)
    np.testing.assert_array_equal(gm.labels_, gm.predict(X))
    params = fitted_params(gm)
    new = with_missing(mixture(n=200, d=4, k=3, seed=21, spread=4.0)[0], 0.3, seed=22)
    logp = ref.component_log_density(new, params, covariance_type)  # scipy, per row
    want = logsumexp(logp, axis=1)
    np.testing.assert_allclose(gm.score_samples(new), want, rtol=1e-10)
    proba = gm.predict_proba(new)
    np.testing.assert_allclose(proba, np.exp(logp - want[:, None]), atol=1e-10)
    np.testing.assert_array_equal(gm.predict(new), proba.argmax(axis=1))
    clear = np.sort(proba, axis=1)[:, -2] < 0.49  # no near tie between two components
    np.testing.assert_array_equal(gm.predict(new)[clear], logp.argmax(axis=1)[clear])
    assert gm.score(new) == pytest.approx(want.mean(), rel=1e-10)
    # dask input: lazy, the same values
    lazy = da.from_array(new, chunks=(45, -1))
    np.testing.assert_allclose(gm.score_samples(lazy).compute(), want, rtol=1e-10)
    np.testing.assert_array_equal(gm.predict(lazy).compute(), gm.predict(new))


def n_parameters(covariance_type, k, d):
    cov = {"full": k * d * (d + 1) / 2, "tied": d * (d + 1) / 2, "diag": k * d, "spherical": k}
    return cov[covariance_type] + k * d + k - 1


@pytest.mark.parametrize("covariance_type", TYPES)
def test_bic_and_aic_use_the_marginal_log_likelihood(covariance_type):
    X, init, *_ = case(covariance_type)
    gm = estimator(covariance_type, init, max_iter=3).fit(X)
    log_likelihood = ref.loglik(X, fitted_params(gm), covariance_type).sum()
    p = n_parameters(covariance_type, 3, X.shape[1])
    assert gm.bic(X) == pytest.approx(-2 * log_likelihood + p * np.log(len(X)), rel=1e-10)
    assert gm.aic(X) == pytest.approx(-2 * log_likelihood + 2 * p, rel=1e-10)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    weighted = w @ ref.loglik(X, fitted_params(gm), covariance_type)
    assert gm.bic(X, sample_weight=w) == pytest.approx(
        -2 * weighted + p * np.log(w.sum()), rel=1e-10
    )


# ------------------------------------------------------------------ monotone bounds
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_default_start_bounds_never_decrease(covariance_type, lazy):
    """EM with missing entries increases the marginal likelihood every iteration (no
    reg_covar, which would make it a penalised likelihood)."""
    X, _ = gapped(1000, fraction=0.25, seed=30)
    data = da.from_array(X, chunks=(300, -1)) if lazy else X
    gm = GaussianMixture(
        3,
        covariance_type=covariance_type,
        nan_policy="marginalize",
        random_state=0,
        max_iter=25,
        tol=0.0,
        reg_covar=0.0,
    ).fit(data)
    bounds = np.asarray(gm.history_)
    assert len(bounds) == 25
    assert np.isfinite(bounds).all()
    steps = np.diff(bounds)
    assert steps.min() >= -1e-11 * np.abs(bounds).max(), steps.min()
    assert bounds[-1] > bounds[0]


# ------------------------------------------------------------------ no NaN: today's path
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_no_missing_entry_is_bit_identical_to_raise(make_mixture, covariance_type, lazy):
    X, _ = make_mixture(n=1500, d=4, k=3, seed=40)
    data = da.from_array(X, chunks=((400, 1, 599, 500), (4,))) if lazy else X
    kw = dict(covariance_type=covariance_type, random_state=0, max_iter=15, tol=0.0, n_init=2)
    raised = GaussianMixture(3, **kw).fit(data)
    marginal = GaussianMixture(3, nan_policy="marginalize", **kw).fit(data)
    assert_identical(marginal, raised)
    new = make_mixture(n=300, d=4, k=3, seed=41)[0]
    for method in ("score_samples", "predict_proba", "predict"):
        np.testing.assert_array_equal(
            getattr(marginal, method)(new), getattr(raised, method)(new), err_msg=method
        )
    assert marginal.bic(new) == raised.bic(new)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_chunks_without_nan_score_as_today(make_mixture, covariance_type):
    """Inference on dask input: a chunk without NaN takes today's path (the same bits as
    nan_policy="raise"); the complete rows of a chunk with NaN, the same values."""
    X, _ = make_mixture(n=900, d=4, k=3, seed=42)
    kw = dict(covariance_type=covariance_type, random_state=0, max_iter=5)
    raised = GaussianMixture(3, **kw).fit(X)
    marginal = GaussianMixture(3, nan_policy="marginalize", **kw).fit(X)
    gaps = X.copy()
    gaps[300:600] = with_missing(X[300:600], 0.2, seed=43)
    complete = ~np.isnan(gaps).any(axis=1)
    for method in ("score_samples", "predict_proba"):
        got = getattr(marginal, method)(da.from_array(gaps, chunks=(300, -1))).compute()
        want = getattr(raised, method)(da.from_array(X, chunks=(300, -1))).compute()
        np.testing.assert_array_equal(got[:300], want[:300], err_msg=method)
        np.testing.assert_array_equal(got[600:], want[600:], err_msg=method)
        np.testing.assert_allclose(got[complete], want[complete], rtol=1e-12, atol=1e-300)


# ------------------------------------------------------------------ invariance
@pytest.mark.parametrize("covariance_type", TYPES)
def test_chunking_does_not_change_the_model(covariance_type):
    """Two chunkings: the same fit to rounding (a Gaussian chunk's moments are taken about
    its own shift, so other chunk edges add in another order, as today without NaN); one
    chunk and numpy, or a rerun of the same chunking: no bit changes."""
    X, init, *_ = case(covariance_type)
    fits = [
        estimator(covariance_type, init).fit(da.from_array(X, chunks=(chunks, -1)))
        for chunks in ((400,), (37, 200, 1, 62, 100))
    ]
    assert_close(fits[1], fits[0], 1e-10)
    # numpy input this small is one chunk too: the same additions as one dask chunk
    assert_identical(estimator(covariance_type, init).fit(X), fits[0])
    uneven = da.from_array(X, chunks=((37, 200, 1, 62, 100), -1))
    assert_identical(estimator(covariance_type, init).fit(uneven), fits[1])


@pytest.mark.cluster
@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_one_and_two_worker_processes_give_identical_fits(covariance_type, cluster1, cluster2):
    X, _ = gapped(1200, fraction=0.2, seed=50)
    data = da.from_array(X, chunks=(250, -1))
    kw = dict(
        covariance_type=covariance_type,
        nan_policy="marginalize",
        random_state=0,
        n_init=2,
        max_iter=6,
        tol=0.0,
    )
    one = GaussianMixture(3, client=cluster1, **kw).fit(data)
    two = GaussianMixture(3, client=cluster2, **kw).fit(data)
    local = GaussianMixture(3, **kw).fit(data)  # threaded scheduler in this process
    assert_identical(one, two)
    assert_identical(one, local)
