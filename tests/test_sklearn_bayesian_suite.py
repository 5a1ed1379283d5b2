"""scikit-learn's own BayesianGaussianMixture tests, run against distgmm's.

Every test of ``sklearn/mixture/tests/test_bayesian_mixture.py`` (the installed release's)
runs with the module's ``BayesianGaussianMixture`` replaced by ours, and its
``_log_wishart_norm`` by distgmm's: the priors the fit resolves, the error messages, the
weights the posterior implies, the monotonic lower bound over warm-started single
iterations, translation invariance, fit_predict against fit + predict. The two exclusions
below use scikit-learn's private functions and methods, each with its reason; the one
about the estimator is ported here through its public parameters.
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
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]

EXCLUDED = {
    "test_compare_covar_type": (
        "calls the private BayesianGaussianMixture._check_parameters and "
        "_initialize_parameters; run below as test_compare_covar_type_at_the_start, which "
        "stops at the start with max_iter=0"
    ),
    "test_log_dirichlet_norm": (
        "checks scikit-learn's private _log_dirichlet_norm against gammaln: distgmm's "
        "Dirichlet normaliser is inline in vb.lower_bound, checked against scikit-learn's "
        "_compute_lower_bound in tests/test_vb_math.py"
    ),
}

adopt_tests(sk_tests, EXCLUDED, globals())


@pytest.fixture(autouse=True)
def _distgmm_estimator(monkeypatch):
    monkeypatch.setattr(sk_tests, "BayesianGaussianMixture", distgmm.BayesianGaussianMixture)
    monkeypatch.setattr(sk_tests, "_log_wishart_norm", vb._log_wishart_norm)


def test_every_scikit_learn_test_is_run_or_excluded_with_a_reason():
    check_run_or_excluded(sk_tests, EXCLUDED, at_least=12)


@pytest.mark.parametrize("prior_type", ["dirichlet_process", "dirichlet_distribution"])
def test_compare_covar_type_at_the_start(prior_type):
    # scikit-learn's test_compare_covar_type, with max_iter=0 for its private
    # _initialize_parameters: after the first variational M-step from the same KMeans
    # labels, dof times the covariance of 'tied' is the mean of 'full''s, 'diag''s is their
    # diagonal and 'spherical''s the mean of 'diag''s.
    rand_data = sk_tests.RandomData(np.random.RandomState(0), scale=7)
    X = rand_data.X["full"]
    fits = {
        covariance_type: distgmm.BayesianGaussianMixture(
            weight_concentration_prior_type=prior_type,
            n_components=2 * rand_data.n_components,
            covariance_type=covariance_type,
            max_iter=0,
            random_state=0,
        ).fit(X)
        for covariance_type in COVARIANCE_TYPES
    }
    scaled = {c: (f.covariances_.T * f.degrees_of_freedom_).T for c, f in fits.items()}
    np.testing.assert_almost_equal(scaled["tied"], scaled["full"].mean(axis=0))
    diag = np.array([np.diag(cov) for cov in scaled["full"]])
    np.testing.assert_almost_equal(scaled["diag"], diag)
    np.testing.assert_almost_equal(scaled["spherical"], diag.mean(axis=1))


# Found by scikit-learn's test_bayesian_mixture_fit_predict[0-2-1e-07]: with reg_covar=0 a
# start that gives a component one row has a singular covariance; scikit-learn's variational
# M-step adds the priors to it and goes on, distgmm raised SingularCovarianceError.
@pytest.mark.parametrize("init_params", INIT_METHODS)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
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
