"""BayesianGaussianMixture: model files."""

from __future__ import annotations

import numpy as np
import pytest

import distgmm
from distgmm import BayesianGaussianMixture

TYPES = ("full", "tied", "diag", "spherical")
PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
#: Each covariance type once, with both prior types.
PAIRS = list(zip(TYPES, PRIOR_TYPES * 2, strict=True))
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: Every fitted array of the posterior and of the priors.
FITTED = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_cholesky_",
    "precisions_",
    "weight_concentration_",
    "mean_precision_",
    "degrees_of_freedom_",
    "weight_concentration_prior_",
    "mean_precision_prior_",
    "mean_prior_",
    "degrees_of_freedom_prior_",
    "covariance_prior_",
    "lower_bounds_",
)


@pytest.fixture(scope="module")
def X(make_mixture):
    return make_mixture(n=300, d=3, k=3, seed=0)[0]


def _arrays(model) -> dict[str, np.ndarray]:
    out = {}
    for name in FITTED:
        value = getattr(model, name)
        # the Dirichlet process's concentrations are a tuple of two arrays, as in sklearn
        out[name] = np.stack(value) if isinstance(value, tuple) else np.asarray(value)
    # scikit-learn's 'tied' lower_bounds_ entries are shape-(1,) arrays
    out["lower_bounds_"] = np.ravel(out["lower_bounds_"]).astype(np.float64)
    return out


def assert_identical(a, b):
    x, y = _arrays(a), _arrays(b)
    for name in FITTED:
        np.testing.assert_array_equal(x[name], y[name], err_msg=name, strict=True)
    assert (a.n_iter_, a.converged_) == (b.n_iter_, b.converged_)


def bgm(**params) -> BayesianGaussianMixture:
    return BayesianGaussianMixture(**{"n_components": 3, "random_state": 0, **params})


# ---------------------------------------------------------------------------- model files
@pytest.mark.parametrize(("covariance_type", "prior_type"), PAIRS)
def test_model_file_round_trip_is_bitwise(X, tmp_path, covariance_type, prior_type):
    model = bgm(covariance_type=covariance_type, weight_concentration_prior_type=prior_type)
    model.fit(X)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = distgmm.load(path)
    assert type(loaded) is BayesianGaussianMixture
    assert_identical(loaded, model)
    assert loaded.get_params() == model.get_params()
    assert loaded.lower_bound_ == model.lower_bound_
    for method in ("predict", "predict_proba", "score_samples"):
        np.testing.assert_array_equal(
            getattr(loaded, method)(X), getattr(model, method)(X), strict=True
        )
    assert loaded.score(X) == model.score(X)
    for got, want in zip(loaded.sample(20), model.sample(20), strict=True):
        np.testing.assert_array_equal(got, want, strict=True)
