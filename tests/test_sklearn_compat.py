"""scikit-learn's own estimator checks, on numpy input, with no exclusions."""

from __future__ import annotations

from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from distgmm import GaussianMixture


def expected_failed_checks(estimator):
    if estimator.n_init == 1:
        return {}
    return {
        # Initialisation draws rows uniformly by global row index (so it runs on data
        # larger than memory without a pass over the weights); repeated rows and integer
        # weights therefore seed k-means differently, and with several restarts a different
        # one can win. EM itself is weight-exact from the same start:
        # tests/test_numerics.py::test_integer_weights_equal_repeated_rows (to 1e-10).
        "check_sample_weight_equivalence_on_dense_data": "init samples rows, not weights",
    }


@parametrize_with_checks(
    [
        GaussianMixture(n_components=2, random_state=0),
        GaussianMixture(n_components=3, covariance_type="diag", n_init=2, random_state=0),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_clone_pipeline_and_params(make_mixture):
    X, _ = make_mixture(n=500, d=3, k=2, seed=0)
    gm = GaussianMixture(2, covariance_type="tied", random_state=0, persist=False)
    assert clone(gm).get_params() == gm.get_params()
    pipe = make_pipeline(StandardScaler(), gm).fit(X)
    assert pipe.predict(X).shape == (500,)
    assert pipe.score(X) == pipe[-1].score(pipe[0].transform(X))
