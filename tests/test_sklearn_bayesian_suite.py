"""scikit-learn's own BayesianGaussianMixture tests, run against distgmm's.

Every test of ``sklearn/mixture/tests/test_bayesian_mixture.py`` (the installed release's)
runs with the module's ``BayesianGaussianMixture`` replaced by ours, and its
``_log_wishart_norm`` by distgmm's: the priors the fit resolves, the error messages, the
weights the posterior implies, the monotonic lower bound over warm-started single
iterations, translation invariance, fit_predict against fit + predict. The exclusions below
are each given with their reason.
"""

from __future__ import annotations

import numpy as np
import pytest
from _sklearn_suite import adopt_tests, check_run_or_excluded, sklearn_tests
from sklearn.mixture import BayesianGaussianMixture as SkBayesianGaussianMixture

import distgmm
from distgmm.families.gaussian import vb
from distgmm.init import INIT_METHODS

sk_tests = sklearn_tests("sklearn.mixture.tests.test_bayesian_mixture")

EXCLUDED = {
    "test_compare_covar_type": (
        "calls the private BayesianGaussianMixture._check_parameters and _initialize_parameters"
    ),
}

adopt_tests(sk_tests, EXCLUDED, globals())


@pytest.fixture(autouse=True)
def _distgmm_estimator(monkeypatch):
    monkeypatch.setattr(sk_tests, "BayesianGaussianMixture", distgmm.BayesianGaussianMixture)
    monkeypatch.setattr(sk_tests, "_log_wishart_norm", vb._log_wishart_norm)


def test_every_scikit_learn_test_is_run_or_excluded_with_a_reason():
    check_run_or_excluded(sk_tests, EXCLUDED, at_least=12)


# Found by scikit-learn's test_bayesian_mixture_fit_predict[0-2-1e-07]: with reg_covar=0 a
# start that gives a component one row has a singular covariance; scikit-learn's variational
# M-step adds the priors to it and goes on, distgmm raised SingularCovarianceError.
@pytest.mark.parametrize("init_params", INIT_METHODS)
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_start_with_a_one_row_component_and_no_reg_covar_fits_as_sklearn(
    covariance_type, init_params
):
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(size=(20, 2)), [[10.0, 10.0], [10.5, 10.2], [-10.0, 10.0]]])
    kwargs = dict(
        n_components=4,
        covariance_type=covariance_type,
        init_params=init_params,
        reg_covar=0,
        max_iter=20,
        random_state=0,
    )
    ours = distgmm.BayesianGaussianMixture(**kwargs).fit(X)
    theirs = SkBayesianGaussianMixture(**kwargs).fit(X)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.covariances_, theirs.covariances_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weights_, theirs.weights_, rtol=1e-10)
    assert ours.lower_bound_ == pytest.approx(float(np.squeeze(theirs.lower_bound_)), rel=1e-12)


# KMeans on 2 distinct points leaves the third cluster empty (and warns so): scikit-learn's
# variational M-step starts that component at the priors, distgmm raised InvalidInputError.
@pytest.mark.filterwarnings(
    "ignore:Number of distinct clusters:sklearn.exceptions.ConvergenceWarning"
)
@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_start_with_an_empty_component_fits_as_sklearn(covariance_type):
    X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 5, axis=0)
    kwargs = dict(n_components=3, covariance_type=covariance_type, reg_covar=0, random_state=0)
    ours = distgmm.BayesianGaussianMixture(**kwargs).fit(X)
    theirs = SkBayesianGaussianMixture(**kwargs).fit(X)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.weights_, theirs.weights_, rtol=1e-10)
