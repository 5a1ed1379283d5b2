"""scikit-learn's own GaussianMixture tests, run against distgmm's GaussianMixture.

Every test of ``sklearn/mixture/tests/test_gaussian_mixture.py`` (the installed release's) runs
with the module's ``GaussianMixture`` replaced by ours: its error messages, its comparisons of a
manual initialisation with the default one from the same ``random_state``, its fits and scores.
The exclusions below are the tests of scikit-learn's private methods and two documented
differences, each with its reason.
"""

from __future__ import annotations

import numpy as np
import pytest

import distgmm

sk_tests = pytest.importorskip(
    "sklearn.mixture.tests.test_gaussian_mixture",
    reason="scikit-learn's installed tests (sklearn.mixture.tests) are needed",
)

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

for _name in dir(sk_tests):
    if _name.startswith("test_") and _name not in EXCLUDED:
        globals()[_name] = getattr(sk_tests, _name)


@pytest.fixture(autouse=True)
def _distgmm_estimator(monkeypatch):
    monkeypatch.setattr(sk_tests, "GaussianMixture", distgmm.GaussianMixture)


# scikit-learn's conftest fixtures these tests take, at scikit-learn's defaults.
@pytest.fixture
def global_random_seed():
    return 42


@pytest.fixture
def global_dtype():
    return np.float64


def test_every_scikit_learn_test_is_run_or_excluded_with_a_reason():
    names = {name for name in dir(sk_tests) if name.startswith("test_")}
    assert set(EXCLUDED) <= names, "an excluded test no longer exists: drop it from EXCLUDED"
    assert len(names - set(EXCLUDED)) >= 30
