"""Bad input: a clear ValueError naming the problem, for numpy and dask input, never a NaN model."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from distgmm import DistGMMError, GaussianMixture, InvalidInputError, SingularCovarianceError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

LAZY = pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(200, 3))


@pytest.fixture(scope="module")
def fitted():
    X = np.random.default_rng(0).normal(size=(200, 3))
    return GaussianMixture(2, random_state=0).fit(X)


def as_dask(a, rows=50):
    a = np.asarray(a)
    return da.from_array(a, chunks=(max(rows, 1),) + (-1,) * (a.ndim - 1))


def data(a, lazy, rows=50):
    return as_dask(a, rows) if lazy else a


def computed(out):
    """Lazy output computed (its blocks check their rows then); numpy output as is."""
    return out.compute() if isinstance(out, da.Array) else out


def identity_precisions(covariance_type, k, d):
    return {
        "full": np.broadcast_to(np.eye(d), (k, d, d)).copy(),
        "tied": np.eye(d),
        "diag": np.ones((k, d)),
        "spherical": np.ones(k),
    }[covariance_type]


# ------------------------------------------------------------------ non-finite data
@LAZY
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_non_finite_data(X, value, lazy, init_params):
    X = X.copy()
    X[123, 1] = value
    with pytest.raises(InvalidInputError, match=r"NaN|infinity"):
        GaussianMixture(2, init_params=init_params, random_state=0).fit(data(X, lazy))


@pytest.mark.parametrize("init_params", ["random", "given"])
def test_dask_nan_is_found_in_the_first_data_pass(X, init_params):
    # Dask input is not scanned before fitting: the first pass over the data (the 'random'
    # initialisation's, or EM's first from a given start) counts the rows it cannot use.
    X = X.copy()
    X[150, 0] = np.nan
    if init_params == "given":
        k, d = 2, X.shape[1]
        gm = GaussianMixture(
            k,
            weights_init=np.full(k, 1 / k),
            means_init=X[:k],
            precisions_init=identity_precisions("full", k, d),
        )
    else:
        gm = GaussianMixture(2, init_params=init_params, random_state=0)
    with pytest.raises(InvalidInputError, match=r"NaN or infinity in 1 of 200 rows"):
        gm.fit(as_dask(X))
    assert not hasattr(gm, "means_")


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
@LAZY
def test_non_finite_data_at_inference(fitted, X, method, value, lazy):
    X = X.copy()
    X[7, 2] = value
    with pytest.raises(InvalidInputError, match=r"NaN|infinity"):
        computed(getattr(fitted, method)(data(X, lazy)))


# ------------------------------------------------------------------ shapes and sizes
@LAZY
@pytest.mark.parametrize("shape", [(20,), (5, 4, 3)], ids=["1d", "3d"])
def test_wrong_number_of_dimensions(lazy, shape):
    with pytest.raises(InvalidInputError, match=r"2D array|2-D array|dim 3"):
        GaussianMixture(1).fit(data(np.ones(shape), lazy, 5))


@LAZY
def test_wrong_number_of_dimensions_at_predict(fitted, X, lazy):
    with pytest.raises(InvalidInputError, match=r"2D array|2-D array"):
        fitted.predict(data(X[:, 0], lazy))


@LAZY
def test_more_components_than_rows(X, lazy):
    with pytest.raises(InvalidInputError, match=r"n_samples >= n_components.* n_samples = 4"):
        GaussianMixture(5).fit(data(X[:4], lazy))


@LAZY
@pytest.mark.parametrize(
    ("shape", "message"),
    [((0, 3), "0 sample"), ((1, 3), "1 sample"), ((10, 0), "0 feature")],
    ids=["0-rows", "1-row", "0-features"],
)
def test_empty_data(lazy, shape, message):
    with pytest.raises(InvalidInputError, match=message):
        GaussianMixture(1).fit(data(np.zeros(shape), lazy, shape[0]))


@LAZY
def test_no_rows_at_predict(fitted, lazy):
    with pytest.raises(InvalidInputError, match="0 sample"):
        fitted.predict(data(np.zeros((0, 3)), lazy, 1))


@LAZY
@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score"])
def test_wrong_feature_count_at_inference(fitted, X, lazy, method):
    with pytest.raises(
        InvalidInputError, match="X has 2 features, but GaussianMixture is expecting 3"
    ):
        getattr(fitted, method)(data(X[:, :2], lazy))


@LAZY
def test_wrong_feature_count_at_warm_start(X, lazy):
    gm = GaussianMixture(2, warm_start=True, random_state=0).fit(X)
    with pytest.raises(
        InvalidInputError, match="X has 2 features, but GaussianMixture is expecting 3"
    ):
        gm.fit(data(X[:, :2], lazy))


def test_unknown_chunk_sizes_are_reported(X):
    Xd = as_dask(X)
    unknown = Xd[Xd[:, 0] > -np.inf]
    with pytest.raises(InvalidInputError, match="compute_chunk_sizes"):
        GaussianMixture(2).fit(unknown)


# ------------------------------------------------------------------ non-numeric data
NON_NUMERIC = {
    "strings": np.array([["a", "b"], ["c", "d"], ["e", "f"]]),
    "object-strings": np.array([["a", 1.0], ["b", 2.0], ["c", 3.0]], dtype=object),
    "complex": np.array([[1 + 1j, 2.0], [3.0, 4 - 1j], [5.0, 6.0]]),
}


@LAZY
@pytest.mark.parametrize("kind", list(NON_NUMERIC))
def test_non_numeric_data(lazy, kind):
    with pytest.raises(InvalidInputError, match=r"numeric|could not convert|Complex data"):
        GaussianMixture(1).fit(data(NON_NUMERIC[kind], lazy, 3))


@LAZY
def test_non_numeric_data_at_predict(fitted, lazy):
    strings = np.array([["a", "b", "c"]] * 3)
    with pytest.raises(InvalidInputError, match=r"numeric|could not convert"):
        fitted.predict(data(strings, lazy, 3))


def test_numeric_object_and_bool_arrays_are_accepted(X):
    GaussianMixture(1).fit(X.astype(object))
    GaussianMixture(1, reg_covar=1e-3).fit(X > 0)


# ------------------------------------------------------------------ sample weights
BAD_WEIGHTS = {
    "negative": (lambda n: np.r_[-1.0, np.ones(n - 1)], "negative"),
    "nan": (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN or infinity"),
    "inf": (lambda n: np.r_[np.inf, np.ones(n - 1)], "NaN or infinity"),
    "all-zero": (lambda n: np.zeros(n), "non-zero"),
    "too-long": (lambda n: np.ones(n + 1), r"expected \(200,\)"),
    "2d": (lambda n: np.ones((n, 2)), r"expected \(200,\)"),
}


@pytest.mark.parametrize("w_lazy", [False, True], ids=["w-numpy", "w-dask"])
@pytest.mark.parametrize("x_lazy", [False, True], ids=["X-numpy", "X-dask"])
@pytest.mark.parametrize("kind", list(BAD_WEIGHTS))
def test_bad_sample_weights(X, x_lazy, w_lazy, kind):
    make, message = BAD_WEIGHTS[kind]
    w = make(len(X))
    with pytest.raises(InvalidInputError, match=message):
        GaussianMixture(2).fit(data(X, x_lazy), sample_weight=data(w, w_lazy))


@pytest.mark.parametrize("kind", ["negative", "nan", "all-zero", "too-long"])
@pytest.mark.parametrize("method", ["score", "bic", "aic"])
def test_bad_sample_weights_at_scoring(fitted, X, method, kind):
    make, message = BAD_WEIGHTS[kind]
    with pytest.raises(InvalidInputError, match=message):
        getattr(fitted, method)(X, sample_weight=make(len(X)))


def test_non_numeric_sample_weights(X):
    with pytest.raises(InvalidInputError, match="sample_weight must be an array of numbers"):
        GaussianMixture(2).fit(X, sample_weight=["heavy"] * len(X))


@pytest.mark.parametrize(("x_lazy", "w_lazy"), [(False, True), (True, False)])
def test_mixed_numpy_and_dask_weights_fit(X, x_lazy, w_lazy):
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    # A given start: numpy and dask input then fit from the same parameters.
    start = dict(
        weights_init=[0.5, 0.5],
        means_init=X[:2],
        precisions_init=identity_precisions("full", 2, X.shape[1]),
    )
    ref = GaussianMixture(2, **start).fit(X, sample_weight=w)
    gm = GaussianMixture(2, **start).fit(data(X, x_lazy), sample_weight=data(w, w_lazy))
    np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-10, atol=1e-12)
    assert np.isfinite(gm.score(data(X, x_lazy), sample_weight=data(w, w_lazy)))


# ------------------------------------------------------------------ parameters
@LAZY
@pytest.mark.parametrize(
    "params",
    [
        {"n_components": 0},
        {"n_components": 1.5},
        {"covariance_type": "bogus"},
        {"tol": -1.0},
        {"tol": np.nan},
        {"reg_covar": -1.0},
        {"max_iter": -1},
        {"n_init": 0},
        {"init_params": "bogus"},
        {"persist": "sometimes"},
        {"verbose_interval": 0},
    ],
    ids=lambda p: "{}={}".format(*next(iter(p.items()))),
)
def test_invalid_parameters(X, lazy, params):
    name = next(iter(params))
    with pytest.raises(ValueError, match=f"'{name}' parameter of GaussianMixture must be"):
        GaussianMixture(**{"n_components": 2, **params}).fit(data(X, lazy))


@LAZY
@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"weights_init": [0.5, 0.6]},
            r"'weights' should be normalized, but got sum\(weights\) = 1.10000 \(weights_init",
        ),
        (
            {"weights_init": [1.5, -0.5]},
            r"'weights' should be in the range \[0, 1\], but got .*\(weights_init",
        ),
        (
            {"weights_init": [0.2, 0.3, 0.5]},
            r"'weights' should have the shape of \(2,\), but got \(3,\) \(weights_init",
        ),
        ({"weights_init": ["a", "b"]}, r"'weights_init' should be an array of numbers"),
        (
            {"means_init": np.zeros((3, 3))},
            r"'means' should have the shape of \(2, 3\), but got \(3, 3\) \(means_init",
        ),
        (
            {"means_init": np.zeros((2, 2))},
            r"'means' should have the shape of \(2, 3\), but got \(2, 2\) \(means_init",
        ),
        ({"means_init": np.full((2, 3), np.nan)}, r"'means_init' contains NaN"),
        ({"means_init": [[0, 0, 0], [0, 0]]}, r"'means_init' should be an array of numbers"),
        (
            {"precisions_init": np.ones((2, 3))},
            r"'full precision' should have the shape of \(2, 3, 3\), but got \(2, 3\) "
            r"\(precisions_init",
        ),
        (
            {"precisions_init": -identity_precisions("full", 2, 3)},
            r"'full precision' should be symmetric, positive-definite \(precisions_init: positive "
            r"definite, but component 0 is not",
        ),
        (
            {"precisions_init": np.stack([np.eye(3), np.eye(3) + np.triu(np.ones((3, 3)), 1)])},
            r"'full precision' should be symmetric, positive-definite "
            r"\(precisions_init: .* not sym",
        ),
    ],
)
def test_invalid_initial_parameters(X, lazy, params, message):
    with pytest.raises(InvalidInputError, match=message):
        GaussianMixture(2, **params).fit(data(X, lazy))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precisions_init_not_positive_definite(X, covariance_type):
    precisions = identity_precisions(covariance_type, 2, 3)
    which = "the tied precision" if covariance_type == "tied" else "component 1"
    if covariance_type == "tied":
        precisions[2, 2] = -1.0
    else:
        precisions[1] *= -1.0
    gm = GaussianMixture(2, covariance_type=covariance_type, precisions_init=precisions)
    with pytest.raises(InvalidInputError, match=f"positive definite, but {which} is not"):
        gm.fit(X)


# ------------------------------------------------------------------ degenerate fits
@LAZY
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_collapsed_component_is_an_error_not_a_nan_model(lazy, covariance_type):
    # Component 0 starts on 40 copies of one point; with reg_covar=0 EM shrinks its
    # covariance to zero. A pooled ('tied') covariance cannot collapse while the other
    # component has spread: that fit must be finite.
    rng = np.random.default_rng(0)
    X = np.vstack([np.zeros((40, 2)), rng.normal(5.0, 1.0, (40, 2))])
    gm = GaussianMixture(
        2,
        covariance_type=covariance_type,
        reg_covar=0.0,
        weights_init=[0.5, 0.5],
        means_init=[[0.0, 0.0], [5.0, 5.0]],
        precisions_init=identity_precisions(covariance_type, 2, 2),
    )
    if covariance_type == "tied":
        gm.fit(data(X, lazy, 20))
        assert np.isfinite(gm.covariances_).all()
        assert np.isfinite(gm.lower_bound_)
    else:
        with pytest.raises(
            SingularCovarianceError, match=r"ill-defined empirical covariance.*Here component 0 "
        ):
            gm.fit(data(X, lazy, 20))
        assert not hasattr(gm, "means_")
    gm.set_params(reg_covar=1e-6).fit(data(X, lazy, 20))
    assert np.isfinite(gm.covariances_).all()
    assert np.isfinite(gm.lower_bound_)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_constant_data_is_a_singular_covariance(covariance_type):
    with pytest.raises(SingularCovarianceError) as info:
        GaussianMixture(1, covariance_type=covariance_type, reg_covar=0.0).fit(np.ones((50, 3)))
    assert info.value.component == (None if covariance_type == "tied" else 0)
    which = "the tied covariance" if covariance_type == "tied" else "component 0"
    assert which in str(info.value)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_single_row_starts_without_reg_covar_say_so(init_params, make_mixture):
    # Each component starts at one row with reg_covar * I: singular before any EM step.
    X, _ = make_mixture(200, seed=3)
    gm = GaussianMixture(3, init_params=init_params, reg_covar=0.0, random_state=0)
    with pytest.raises(SingularCovarianceError) as info:
        gm.fit(X)
    assert info.value.component == 0
    assert f"from the start: init_params='{init_params}'" in str(info.value)
    assert "Use a positive reg_covar" in str(info.value)


def test_spherical_singular_covariance_names_its_type():
    with pytest.raises(SingularCovarianceError, match="'spherical' covariance"):
        GaussianMixture(1, covariance_type="spherical", reg_covar=0.0).fit(np.ones((50, 3)))


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_collapse_from_kmeans_start_is_an_error(covariance_type, seed):
    """A component on identical points has variance 0, not the moments' rounding residue."""
    rng = np.random.default_rng(5)
    X = np.vstack([np.zeros((40, 2)), rng.normal(5.0, 1.0, (40, 2))])
    gm = GaussianMixture(2, covariance_type=covariance_type, reg_covar=0.0, random_state=seed)
    with pytest.raises(SingularCovarianceError, match="component"):
        gm.fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fewer_distinct_points_than_components(covariance_type):
    X = np.repeat(np.eye(2), 20, axis=0)  # two distinct points, three components
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    with pytest.raises(InvalidInputError, match="fewer distinct points than n_components"):
        gm.fit(X)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
@pytest.mark.parametrize("scale", [1e153, 1e200])
def test_finite_values_too_large_to_square_are_said_to_overflow(scale, init_params):
    X = np.random.default_rng(0).normal(size=(300, 3)) * scale
    gm = GaussianMixture(2, init_params=init_params, random_state=0)
    with pytest.raises(InvalidInputError, match=r"too large for float64 arithmetic.*Scale the"):
        gm.fit(X)


def test_overflow_in_a_pass_is_not_reported_as_nan():
    # given parameters skip every look at the data before the first pass
    X = np.random.default_rng(0).normal(size=(300, 3))
    X[7] = 1e200
    start = dict(weights_init=[0.5, 0.5], means_init=[[0, 0, 0], [1, 1, 1]])
    gm = GaussianMixture(2, **start, precisions_init=np.stack([np.eye(3)] * 2))
    with pytest.raises(InvalidInputError, match=r"squared distances of 1 of 300 rows overflow"):
        gm.fit(X)


@LAZY
def test_subnormal_data_are_said_to_underflow(lazy):
    X = np.random.default_rng(0).normal(size=(300, 3)) * 1e-310
    with pytest.raises(InvalidInputError, match=r"underflow to zero.*Scale the data up"):
        GaussianMixture(2, random_state=0).fit(data(X, lazy))


@pytest.mark.parametrize("w_lazy", [False, True], ids=["w-numpy", "w-dask"])
def test_fewer_weighted_rows_than_components(X, w_lazy):
    w = np.zeros(len(X))
    w[[3, 50]] = [1.0, 2.0]
    with pytest.raises(InvalidInputError, match=r"Only 2 row\(s\) have a non-zero sample weight"):
        GaussianMixture(3).fit(X, sample_weight=data(w, w_lazy))
    GaussianMixture(2, random_state=0).fit(X, sample_weight=data(w, w_lazy))


# ------------------------------------------------------------------ fitted state, sampling
def test_errors_are_value_errors():
    assert issubclass(DistGMMError, ValueError)
    assert issubclass(InvalidInputError, DistGMMError)
    assert issubclass(SingularCovarianceError, DistGMMError)


@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "score_samples", "score", "bic", "aic", "sample"]
)
def test_unfitted_estimator_raises_not_fitted(X, method):
    gm = GaussianMixture(2)
    with pytest.raises(NotFittedError):
        getattr(gm, method)(*(() if method == "sample" else (X,)))


@pytest.mark.parametrize("n_samples", [0, -1, 1.5, "3", None])
def test_sample_needs_a_positive_integer(fitted, n_samples):
    with pytest.raises(DistGMMError, match=r"'n_samples'.*integer >= 1"):
        fitted.sample(n_samples)


def test_sample_accepts_numpy_integers(fitted):
    X, y = fitted.sample(np.int64(5))
    assert X.shape == (5, 3)
    assert y.shape == (5,)


def test_failed_fit_leaves_the_fitted_model_usable(X):
    gm = GaussianMixture(2, random_state=0).fit(X[:, :2])
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        gm.set_params(n_components=50).fit(X[:10])
    gm.set_params(n_components=2)
    assert gm.n_features_in_ == 2
    assert gm.predict(X[:, :2]).shape == (len(X),)


@pytest.mark.parametrize("change", [{"n_components": 3}, {"covariance_type": "diag"}])
def test_warm_start_with_another_shape_starts_afresh(X, change):
    gm = GaussianMixture(2, warm_start=True, random_state=0).fit(X)
    gm.set_params(**change).fit(X)
    fresh = GaussianMixture(**{**gm.get_params(), "warm_start": False}).fit(X)
    np.testing.assert_array_equal(gm.means_, fresh.means_)
    assert gm.covariances_.shape == fresh.covariances_.shape
