"""The variational Gaussian mixture's mathematics against scikit-learn's BayesianGaussianMixture.

Each quantity of ``distgmm.families.gaussian.vb`` is compared with the attribute or private
method of scikit-learn that computes it, on the same data and responsibilities.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.mixture import BayesianGaussianMixture
from sklearn.mixture._gaussian_mixture import (
    _compute_precision_cholesky,
    _estimate_gaussian_parameters,
    _estimate_log_gaussian_prob,
)

from distgmm.errors import InvalidInputError
from distgmm.families.gaussian import vb

TYPES = ("full", "tied", "diag", "spherical")
K = 4
REG = 1e-6
RTOL = 1e-12
FIELDS = (
    ("weight_concentration", "weight_concentration_"),
    ("mean_precision", "mean_precision_"),
    ("means", "means_"),
    ("degrees_of_freedom", "degrees_of_freedom_"),
    ("covariances", "covariances_"),
    ("precisions_chol", "precisions_cholesky_"),
)


def given_priors(covariance_type, d):
    """Valid priors other than scikit-learn's defaults."""
    rng = np.random.default_rng(7)
    a = rng.normal(size=(d, d))
    full = a @ a.T + d * np.eye(d)
    return {
        "weight_concentration_prior": 0.3,
        "mean_precision_prior": 2.5,
        "mean_prior": rng.normal(size=d),
        "degrees_of_freedom_prior": d + 1.5,
        "covariance_prior": {
            "full": full,
            "tied": full,
            "diag": np.diag(full).copy(),
            "spherical": 1.7,
        }[covariance_type],
    }


def sklearn_bgm(X, covariance_type, prior_type, **priors):
    bgm = BayesianGaussianMixture(
        n_components=K,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        reg_covar=REG,
        **priors,
    )
    bgm._validate_params()
    bgm._check_parameters(X)
    return bgm


def our_priors(X, covariance_type, prior_type, **priors):
    kwargs = dict.fromkeys(
        (
            "weight_concentration_prior",
            "mean_precision_prior",
            "mean_prior",
            "degrees_of_freedom_prior",
            "covariance_prior",
        )
    )
    kwargs.update(priors)
    return vb.resolve_priors(
        covariance_type,
        K,
        X.shape[1],
        weight_concentration_prior_type=prior_type,
        data_mean=X.mean(axis=0),
        data_covariance=np.cov(X.T),
        **kwargs,
    )


def chol_fn(covariance_type):
    return lambda cov: _compute_precision_cholesky(cov, covariance_type)


def assert_close(ours, theirs, rtol=RTOL):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0)


def data_and_log_resp(make_mixture, seed=0, dead=False):
    X, _ = make_mixture(n=300, d=3, k=3, seed=seed)
    rng = np.random.default_rng(seed + 1)
    resp = rng.dirichlet(np.full(K, 0.7), size=X.shape[0])
    if dead:
        # A component the data left: the Dirichlet process drives counts this low.
        resp[:, 2] = 1e-18
        resp /= resp.sum(axis=1, keepdims=True)
    return X, np.log(resp)


def compare_fit(X, log_resp, covariance_type, prior_type, **priors):
    """Run scikit-learn's M-step and ours from the same responsibilities; compare everything."""
    bgm = sklearn_bgm(X, covariance_type, prior_type, **priors)
    prior = our_priors(X, covariance_type, prior_type, **priors)
    # scikit-learn's _m_step takes exp(log_resp): the same array here, to the bit.
    resp = np.exp(log_resp)
    nk, xk, sk = _estimate_gaussian_parameters(X, resp, REG, covariance_type)
    params = vb.m_step(nk, xk, sk, prior, covariance_type, chol_fn(covariance_type))
    bgm._m_step(X, log_resp)
    for ours, theirs in FIELDS:
        assert_close(getattr(params, ours), getattr(bgm, theirs))
    bgm._set_parameters(bgm._get_parameters())
    assert_close(params.weights, bgm.weights_)
    assert params.n_components == K
    assert params.n_features == X.shape[1]

    log_prob = _estimate_log_gaussian_prob(X, params.means, params.precisions_chol, covariance_type)
    constants = vb.log_prob_constants(params, prior)
    assert constants.shape == (K,)
    assert_close(log_prob + constants, bgm._estimate_weighted_log_prob(X))
    assert_close(vb.log_weights(params, prior), bgm._estimate_log_weights())

    entropy = -np.sum(resp * log_resp)
    bound = vb.lower_bound(entropy, params, prior)
    assert isinstance(bound, float)
    # scikit-learn's bound for 'tied' is an array of shape (1,); ours is a float.
    assert_close(bound, np.squeeze(bgm._compute_lower_bound(log_resp, None)))
    return params


@pytest.mark.parametrize("prior_type", vb.PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("given", [False, True], ids=["default", "given"])
def test_m_step_e_step_bound_match_sklearn(make_mixture, covariance_type, prior_type, given):
    X, log_resp = data_and_log_resp(make_mixture)
    priors = given_priors(covariance_type, X.shape[1]) if given else {}
    compare_fit(X, log_resp, covariance_type, prior_type, **priors)


@pytest.mark.parametrize("prior_type", vb.PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", TYPES)
def test_dead_component_is_finite_and_matches_sklearn(make_mixture, covariance_type, prior_type):
    X, log_resp = data_and_log_resp(make_mixture, seed=3, dead=True)
    params = compare_fit(X, log_resp, covariance_type, prior_type)
    # nk ~ 1e-15: the component falls back to its prior, and keeps only the prior's weight
    # (for the Dirichlet process, a stick's expected share of what the others left).
    np.testing.assert_allclose(params.means[2], X.mean(axis=0), rtol=1e-12)
    assert params.weights[2] < 0.01


def test_tied_degrees_of_freedom_is_one_scalar(make_mixture):
    X, log_resp = data_and_log_resp(make_mixture)
    params = compare_fit(X, log_resp, "tied", "dirichlet_distribution")
    # One Wishart for all components, as scikit-learn's float degrees_of_freedom_.
    assert params.degrees_of_freedom.shape == ()


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("given", [False, True], ids=["default", "given"])
def test_resolve_priors_matches_sklearn(make_mixture, covariance_type, d, given):
    X, _ = make_mixture(n=200, d=d, k=2, seed=5)
    priors = given_priors(covariance_type, d) if given else {}
    bgm = sklearn_bgm(X, covariance_type, "dirichlet_process", **priors)
    ours = our_priors(X, covariance_type, "dirichlet_process", **priors)
    assert ours.weight_concentration_prior_type == "dirichlet_process"
    assert ours.weight_concentration_prior == bgm.weight_concentration_prior_
    assert ours.mean_precision_prior == bgm.mean_precision_prior_
    assert ours.degrees_of_freedom_prior == bgm.degrees_of_freedom_prior_
    assert_close(ours.mean_prior, bgm.mean_prior_)
    assert_close(ours.covariance_prior, bgm.covariance_prior_)


def _bad(covariance_type="full", **kwargs):
    return pytest.param(covariance_type, kwargs, id=f"{covariance_type}-{next(iter(kwargs))}")


BAD = [
    _bad(weight_concentration_prior=-1.0),
    _bad(weight_concentration_prior=float("nan")),
    _bad(weight_concentration_prior=float("inf")),
    _bad(mean_precision_prior=0),
    _bad(degrees_of_freedom_prior=-2.0),
    _bad(degrees_of_freedom_prior=1.5),
    _bad(degrees_of_freedom_prior=2),
    _bad(mean_prior=[1.0, 2.0]),
    _bad(mean_prior=np.zeros((1, 3))),
    _bad(mean_prior=[1.0, np.nan, 2.0]),
    _bad(mean_prior=[1.0, np.inf, 2.0]),
    _bad(mean_prior=["a", "b", "c"]),
    _bad(covariance_prior=np.eye(2)),
    _bad(covariance_prior=-np.eye(3)),
    _bad(covariance_prior=np.triu(np.ones((3, 3)))),
    _bad(covariance_prior=np.full((3, 3), np.nan)),
    _bad("tied", covariance_prior=np.diag([1.0, 0.0, 1.0])),
    _bad("diag", covariance_prior=-np.ones(3)),
    _bad("diag", covariance_prior=np.ones(2)),
    _bad("diag", covariance_prior=np.eye(3)),
    _bad("spherical", covariance_prior=-1.0),
    _bad("spherical", covariance_prior=0.0),
]


@pytest.mark.parametrize(("covariance_type", "kwargs"), BAD)
def test_invalid_prior_has_sklearn_sentence(make_mixture, covariance_type, kwargs):
    X, _ = make_mixture(n=50, d=3, k=2, seed=2)
    with pytest.raises(ValueError) as theirs:
        sklearn_bgm(X, covariance_type, "dirichlet_process", **kwargs)
    with pytest.raises(InvalidInputError) as ours:
        our_priors(X, covariance_type, "dirichlet_process", **kwargs)
    message = str(ours.value)
    assert str(theirs.value) in message
    # ... then says what to do, naming the parameter.
    assert len(message) > len(str(theirs.value)) + 10
    assert next(iter(kwargs)) in message.removeprefix(str(theirs.value))


def test_invalid_prior_type_has_sklearn_sentence(make_mixture):
    X, _ = make_mixture(n=50, d=3, k=2, seed=2)
    with pytest.raises(ValueError) as theirs:
        sklearn_bgm(X, "full", "dirichlet")
    with pytest.raises(InvalidInputError) as ours:
        our_priors(X, "full", "dirichlet")
    # scikit-learn lists the options of a set, in an order that varies between processes.
    start, rest = str(theirs.value).split("among ")
    options, end = rest.split("}")
    message = str(ours.value)
    assert message.startswith(start + "among {")
    assert end in message
    assert set(options.lstrip("{").split(", ")) == {
        "'dirichlet_process'",
        "'dirichlet_distribution'",
    }
    assert "'dirichlet_process', 'dirichlet_distribution'" in message


@pytest.mark.parametrize("value", [[1.0, 2.0, 3.0], np.ones((1, 1))])
def test_spherical_covariance_prior_is_one_float(make_mixture, value):
    # scikit-learn accepts any array-like here and broadcasts it against the components.
    X, _ = make_mixture(n=50, d=3, k=2, seed=2)
    with pytest.raises(InvalidInputError, match=r"spherical covariance_prior.*shape of \(\)"):
        our_priors(X, "spherical", "dirichlet_process", covariance_prior=value)
    priors = our_priors(X, "spherical", "dirichlet_process", covariance_prior=np.array(2.5))
    assert priors.covariance_prior.shape == ()
    assert priors.covariance_prior == 2.5
    # One value in a 1-d array broadcasts in scikit-learn as that value: accepted as it.
    priors = our_priors(X, "spherical", "dirichlet_process", covariance_prior=[2.5])
    assert priors.covariance_prior.shape == ()
    assert priors.covariance_prior == 2.5


def test_data_defaults_need_two_rows():
    # np.cov of one row is NaN (ddof=1): a clear error, not a NaN model.
    X = np.array([[1.0, 2.0, 3.0]])
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        cov = np.cov(X.T)
    with pytest.raises(InvalidInputError, match="covariance_prior"):
        vb.resolve_priors(
            "full",
            1,
            3,
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=None,
            mean_precision_prior=None,
            mean_prior=None,
            degrees_of_freedom_prior=None,
            covariance_prior=None,
            data_mean=X[0],
            data_covariance=cov,
        )


def test_given_priors_need_no_data():
    priors = given_priors("diag", 3)
    ours = vb.resolve_priors(
        "diag",
        K,
        3,
        weight_concentration_prior_type="dirichlet_distribution",
        data_mean=None,
        data_covariance=None,
        **priors,
    )
    assert_close(ours.covariance_prior, priors["covariance_prior"])
    with pytest.raises(ValueError, match="mean_prior"):
        vb.resolve_priors(
            "diag",
            K,
            3,
            weight_concentration_prior_type="dirichlet_distribution",
            data_mean=None,
            data_covariance=None,
            **{**priors, "mean_prior": None},
        )
