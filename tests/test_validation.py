"""Bad input: a clear ValueError naming the problem, never a NaN model."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from distgmm import DistGMMError, GaussianMixture, InvalidInputError, SingularCovarianceError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(200, 3))


def as_dask(a, rows=50):
    return da.from_array(a, chunks=(rows,) + (-1,) * (np.ndim(a) - 1))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_non_finite_data(X, value, lazy, init_params):
    X = X.copy()
    X[123, 1] = value
    with pytest.raises(ValueError, match=r"NaN|infinity"):
        GaussianMixture(2, init_params=init_params).fit(as_dask(X) if lazy else X)


def test_non_finite_data_found_in_the_first_pass_of_a_given_start(X):
    X = X.copy()
    X[150, 0] = np.nan
    start = GaussianMixture(2, random_state=0).fit(X[:100])
    gm = GaussianMixture(
        2, means_init=start.means_, weights_init=start.weights_, precisions_init=start.precisions_
    )
    with pytest.raises(InvalidInputError, match=r"NaN or infinity in 1 of 200 rows"):
        gm.fit(as_dask(X))


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("shape", [(20,), (5, 4, 3)])
def test_wrong_number_of_dimensions(lazy, shape):
    data = np.ones(shape)
    with pytest.raises(ValueError, match=r"2D array|2-D array|dim 3"):
        GaussianMixture(1).fit(as_dask(data, 5) if lazy else data)


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_more_components_than_rows(X, lazy):
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(as_dask(X[:4]) if lazy else X[:4])


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("shape", [(0, 3), (1, 3), (10, 0)])
def test_empty_data(lazy, shape):
    data = np.zeros(shape)
    with pytest.raises(ValueError, match=r"0 sample|1 sample|0 feature"):
        GaussianMixture(1).fit(as_dask(data, max(shape[0], 1)) if lazy else data)


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_non_numeric_data(lazy):
    data = np.array([["a", "b"], ["c", "d"], ["e", "f"]])
    with pytest.raises(ValueError, match=r"numeric|could not convert"):
        GaussianMixture(1).fit(as_dask(data, 3) if lazy else data)


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (lambda n: -np.ones(n), "negative"),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN or infinity"),
        (lambda n: np.r_[np.inf, np.ones(n - 1)], "NaN or infinity"),
        (lambda n: np.zeros(n), "non-zero"),
        (lambda n: np.ones(n + 1), "expected"),
        (lambda n: np.ones((n, 2)), "expected"),
    ],
)
def test_bad_sample_weights(X, lazy, weights, message):
    w = weights(len(X))
    with pytest.raises(InvalidInputError, match=message):
        GaussianMixture(2).fit(as_dask(X) if lazy else X, sample_weight=as_dask(w) if lazy else w)


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_wrong_feature_count_at_predict(X, lazy):
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="3 features"):
        gm.predict(as_dask(X[:, :2]) if lazy else X[:, :2])


@pytest.mark.parametrize(
    "params",
    [
        {"n_components": 0},
        {"covariance_type": "bogus"},
        {"tol": -1.0},
        {"reg_covar": -1.0},
        {"max_iter": -1},
        {"n_init": 0},
        {"init_params": "bogus"},
        {"persist": "sometimes"},
        {"verbose_interval": 0},
    ],
)
def test_invalid_parameters(X, params):
    name = next(iter(params))
    with pytest.raises(ValueError, match=f"'{name}' parameter of GaussianMixture must be"):
        GaussianMixture(**{"n_components": 2, **params}).fit(X)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"weights_init": [0.5, 0.6]}, "normalized"),
        ({"weights_init": [0.2, 0.3, 0.5]}, "shape"),
        ({"means_init": np.zeros((3, 3))}, "shape"),
        ({"precisions_init": np.ones((2, 3))}, "shape"),
        ({"precisions_init": -np.ones((2, 3, 3))}, "singular or not positive definite"),
        ({"means_init": np.full((2, 3), np.nan)}, "NaN"),
    ],
)
def test_invalid_initial_parameters(X, params, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(2, **params).fit(X)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_collapsed_component_is_an_error_not_a_nan_model(covariance_type):
    rng = np.random.default_rng(0)
    X = np.vstack([np.zeros((40, 2)), rng.normal(5, 1, (40, 2))])
    X[:40, 1] = rng.normal(size=40)  # a component collapses onto the line x0 = 0
    gm = GaussianMixture(
        2,
        covariance_type=covariance_type,
        reg_covar=0.0,
        means_init=[[0.0, 0.0], [5.0, 5.0]],
    )
    if covariance_type in ("full", "diag"):
        with pytest.raises(SingularCovarianceError, match=r"component 0 .* reg_covar"):
            gm.fit(X)
    else:  # a pooled or averaged variance does not collapse: a finite model
        gm.fit(X)
        assert np.isfinite(gm.covariances_).all()
    gm.set_params(reg_covar=1e-6).fit(X)
    assert np.isfinite(gm.covariances_).all()


def test_errors_are_value_errors():
    assert issubclass(DistGMMError, ValueError)
    assert issubclass(SingularCovarianceError, DistGMMError)


def test_unfitted_and_sampling_errors(X):
    with pytest.raises(NotFittedError):
        GaussianMixture(2).predict(X)
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="at least one sample"):
        gm.sample(0)


def test_unknown_chunk_sizes_are_reported(X):
    Xd = as_dask(X)
    unknown = Xd[Xd[:, 0] > -np.inf]
    with pytest.raises(InvalidInputError, match="compute_chunk_sizes"):
        GaussianMixture(2).fit(unknown)
