"""The same random_state on numpy input: scikit-learn's own initialisation, so its fit.

scikit-learn draws its initial responsibilities (KMeans labels, k-means++ rows, uniform
responsibilities, random rows) from one ``check_random_state(random_state)``, restart after
restart; distgmm draws the same ones in the same order and fits every restart in shared passes.
"""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pytest
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from distgmm import GaussianMixture

TYPES = ("full", "tied", "diag", "spherical")
INITS = ("kmeans", "k-means++", "random", "random_from_data")
ATTRIBUTES = ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_")


def overlapping(n=800, seed=0):
    """Four overlapping clusters of different spreads, in 3-D: EM takes many iterations."""
    rng = np.random.default_rng(seed)
    centers = np.array([[0, 0, 0], [2.5, 0.5, 0], [5, 2, 1], [-3, 1, -1]], dtype=float)
    spread = [1.0, 0.6, 1.5, 0.9]
    return np.vstack(
        [rng.normal(c, s, size=(n // 4, 3)) for c, s in zip(centers, spread, strict=True)]
    )


def assert_same_fit(ours, theirs, rtol=1e-8):
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_
    for name in ATTRIBUTES:
        got, want = np.asarray(getattr(ours, name)), np.asarray(getattr(theirs, name))
        assert got.shape == want.shape, name
        scale = np.abs(want).max()
        assert np.abs(got - want).max() <= rtol * scale, (name, np.abs(got - want).max() / scale)
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=rtol)


def both(X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a restart that does not converge warns in both
        return SkGaussianMixture(**kw).fit(X), GaussianMixture(**kw).fit(X)


@pytest.mark.parametrize("n_init", [1, 3])
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("init_params", INITS)
def test_same_random_state_same_fit(init_params, covariance_type, n_init):
    X = overlapping()
    theirs, ours = both(
        X,
        n_components=4,
        covariance_type=covariance_type,
        init_params=init_params,
        n_init=n_init,
        random_state=0,
        tol=1e-6,
        max_iter=300,
    )
    assert_same_fit(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("init_params", INITS)
def test_a_random_state_instance_is_drawn_from_as_scikit_learn_does(init_params):
    X = overlapping(seed=1)
    theirs_rs, ours_rs = np.random.RandomState(7), np.random.RandomState(7)
    kw = dict(n_components=3, init_params=init_params, n_init=2, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = SkGaussianMixture(random_state=theirs_rs, **kw).fit(X)
        ours = GaussianMixture(random_state=ours_rs, **kw).fit(X)
    assert_same_fit(ours, theirs)
    # the generator is left where scikit-learn leaves it: the next fit draws the same too
    assert ours_rs.randint(2**31) == theirs_rs.randint(2**31)


def test_a_given_start_draws_nothing_as_scikit_learn():
    X = overlapping(seed=2)
    start = dict(
        weights_init=np.full(4, 0.25),
        means_init=X[[0, 250, 500, 750]],
        precisions_init=np.stack([np.eye(3)] * 4),
    )
    rs = np.random.RandomState(3)
    before = rs.get_state()[1].copy()
    theirs, ours = both(X, n_components=4, random_state=rs, n_init=3, **start)
    np.testing.assert_array_equal(rs.get_state()[1], before)
    assert_same_fit(ours, theirs)


@pytest.mark.parametrize("given", ["weights_init", "means_init", "precisions_init"])
def test_partly_given_start_fills_the_rest_as_scikit_learn(given):
    X = overlapping(seed=3)
    values = {
        "weights_init": np.array([0.1, 0.2, 0.3, 0.4]),
        "means_init": X[[1, 201, 401, 601]],
        "precisions_init": np.stack([np.eye(3) * 2.0] * 4),
    }
    kw = {given: values[given]}
    theirs, ours = both(X, n_components=4, random_state=5, n_init=2, **kw)
    assert_same_fit(ours, theirs)


def test_weighted_numpy_start_is_kmeans_with_the_weights():
    # scikit-learn's GaussianMixture takes no weights; its KMeans does. Integer weights
    # start (and so fit) like the rows repeated, through KMeans' own weight handling.
    X = overlapping(n=400, seed=4)
    w = np.random.default_rng(0).integers(1, 4, len(X))
    kw = dict(n_components=4, random_state=0, tol=1e-8, max_iter=300)
    weighted = GaussianMixture(**kw).fit(X, sample_weight=w)
    assert np.isfinite(weighted.lower_bound_)
    assert weighted.weights_.sum() == pytest.approx(1.0)


def test_dask_input_keeps_its_chunk_invariant_start():
    # The out-of-core initialisation (row-keyed draws) is another start than scikit-learn's:
    # documented. It does not depend on the chunking.
    X = overlapping(seed=5)
    kw = dict(n_components=4, random_state=0, tol=1e-8, max_iter=300)
    one = GaussianMixture(**kw).fit(da.from_array(X))
    many = GaussianMixture(**kw).fit(da.from_array(X, chunks=(77, -1)))
    np.testing.assert_allclose(many.means_, one.means_, rtol=1e-10)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_a_start_at_rows_resumes_from_its_checkpoint(init_params, tmp_path):
    # scikit-learn's weights of a start at K rows sum to K / n_samples: a checkpoint holding
    # that start (iteration 0) is accepted, and resumes to scikit-learn's fit.
    X = overlapping(seed=6)
    kw = dict(n_components=4, init_params=init_params, random_state=0, tol=1e-6)
    GaussianMixture(max_iter=0, checkpoint=tmp_path / "ck", **kw).fit(X)
    resumed = GaussianMixture(max_iter=300, checkpoint=tmp_path / "ck", resume=True, **kw)
    theirs, _ = both(X, max_iter=300, **kw)
    assert_same_fit(resumed.fit(X), theirs)
