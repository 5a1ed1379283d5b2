"""scikit-learn's own GaussianMixture tests, run against distgmm's GaussianMixture.

Every test of ``sklearn/mixture/tests/test_gaussian_mixture.py`` (the installed release's) runs
with the module's ``GaussianMixture`` replaced by ours: its error messages, its comparisons of a
manual initialisation with the default one from the same ``random_state``, its fits and scores.
The exclusions below are the tests of scikit-learn's private methods and two documented
differences, each with its reason.
"""

from __future__ import annotations

import pytest
from _sklearn_suite import adopt_tests, check_run_or_excluded, sklearn_tests

import distgmm

sk_tests = sklearn_tests("sklearn.mixture.tests.test_gaussian_mixture")

EXCLUDED = {
    # scikit-learn's private API (_initialize, _set_parameters, _estimate_gaussian_parameters
    # mocked): distgmm has no such methods.
    "test_gaussian_mixture_precisions_init": "calls the private GaussianMixture._initialize",
    "test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters": (
        "mocks scikit-learn's private _estimate_gaussian_parameters"
    ),
    # Array API dispatch (torch, cupy...) is not distgmm's: its arrays are numpy and dask.
    "test_gaussian_mixture_array_api_compliance": "array API dispatch",
    "test_gaussian_mixture_raises_where_array_api_not_implemented": "array API dispatch",
    # Where scikit-learn goes on with a degenerate component, distgmm stops with an error
    # naming it (never a model with an empty or singular component):
    "test_regularisation": (
        "10 rows on 2 distinct points, 10 components: KMeans leaves 8 clusters empty; "
        "scikit-learn fits components of weight 1e-16 at 0, distgmm raises InvalidInputError"
    ),
    "test_gaussian_mixture_setting_best_params": (
        "a start that diverges: scikit-learn keeps a collapsed component's parameters, "
        "distgmm raises SingularCovarianceError naming it"
    ),
}

adopt_tests(sk_tests, EXCLUDED, globals())


@pytest.fixture(autouse=True)
def _distgmm_estimator(monkeypatch):
    monkeypatch.setattr(sk_tests, "GaussianMixture", distgmm.GaussianMixture)


def test_every_scikit_learn_test_is_run_or_excluded_with_a_reason():
    check_run_or_excluded(sk_tests, EXCLUDED, at_least=30)
