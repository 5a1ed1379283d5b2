"""nan_policy for the product mixtures (categorical, Bernoulli, Poisson, mixed): against a
plain per-row EM written here, bit-identity without NaN, 'omit', pandas missing values,
chunking and workers, the multinomial refusal and all-missing rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _discrete_data import assert_params_close, blurred, draw, draw_columns, reference_params

from distgmm import (
    BernoulliMixture,
    CategoricalMixture,
    MixedMixture,
    PoissonMixture,
)
from distgmm.errors import InvalidInputError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = {
    "categorical": CategoricalMixture,
    "bernoulli": BernoulliMixture,
    "poisson": PoissonMixture,
}


# ---------------------------------------------------------------- a plain EM, per row
def _row_log_prob(x, groups, params) -> np.ndarray:
    """``log w_k + Σ_groups log p(x_o | k)`` over the observed entries of row ``x``."""
    lp = np.log(params["weights"]).copy()
    for (family, cols), p in zip(groups, params["groups"], strict=True):
        xs = x[cols]
        seen = ~np.isnan(xs)
        if family == "categorical":
            for j in np.flatnonzero(seen):
                lp += np.log(p[j][:, int(xs[j])])
        elif family == "bernoulli":
            for j in np.flatnonzero(seen):
                lp += np.log(p[:, j] if xs[j] == 1 else 1.0 - p[:, j])
        elif family == "poisson":
            for j in np.flatnonzero(seen):
                lp += xs[j] * np.log(p[:, j]) - p[:, j] - math.lgamma(xs[j] + 1.0)
        elif seen.any():  # gaussian (means, full covariances): the marginal density
            means, covs = p
            for k in range(len(lp)):
                s = covs[k][np.ix_(seen, seen)]
                diff = xs[seen] - means[k, seen]
                maha = diff @ np.linalg.solve(s, diff)
                lp[k] -= 0.5 * (maha + np.linalg.slogdet(s)[1] + seen.sum() * math.log(2 * math.pi))
    return lp


def _completed(xs, mean, cov):
    """A Gaussian row completed by the conditional means of its missing entries, and their
    conditional covariance in the missing block."""
    m = np.isnan(xs)
    o = ~m
    filled, cond = xs.copy(), np.zeros_like(cov)
    if m.any():
        gain = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(m, o)].T).T
        filled[m] = mean[m] + gain @ (xs[o] - mean[o])
        cond[np.ix_(m, m)] = cov[np.ix_(m, m)] - gain @ cov[np.ix_(o, m)]
    return filled, cond


def em_step(X, groups, params, *, alpha=0.0, reg_covar=1e-6, sample_weight=None):
    """One EM iteration: the bound of ``params`` and the M-step's parameters; a missing
    entry adds no factor and nothing to its column's statistics (poLCA's na.rm=FALSE)."""
    n = len(X)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    logp = np.array([_row_log_prob(x, groups, params) for x in X])
    top = logp.max(axis=1, keepdims=True)
    row = top[:, 0] + np.log(np.exp(logp - top).sum(axis=1))
    r = np.exp(logp - row[:, None]) * w[:, None]  # w_i r_ik
    nk = r.sum(axis=0)
    new = []
    for (family, cols), p in zip(groups, params["groups"], strict=True):
        xs = X[:, cols]
        seen = ~np.isnan(xs)
        x0 = np.where(seen, xs, 0.0)
        observed = r.T @ seen  # (K, d): Σ_i r_ik [x_ij observed]
        if family == "categorical":
            out = []
            for j, pj in enumerate(p):
                onehot = np.zeros((n, pj.shape[1]))
                onehot[np.flatnonzero(seen[:, j]), x0[seen[:, j], j].astype(int)] = 1.0
                counts = r.T @ onehot
                out.append((counts + alpha) / (observed[:, j : j + 1] + pj.shape[1] * alpha))
            new.append(out)
        elif family == "bernoulli":
            new.append((r.T @ x0 + alpha) / (observed + 2 * alpha))
        elif family == "poisson":
            new.append((r.T @ x0 + alpha) / (observed + alpha))
        else:
            means_old, covs_old = p
            k_count, d = means_old.shape
            means, covs = np.empty((k_count, d)), np.empty((k_count, d, d))
            for k in range(k_count):
                rows = [_completed(xs[i], means_old[k], covs_old[k]) for i in range(n)]
                filled = np.array([f for f, _ in rows])
                means[k] = r[:, k] @ filled / nk[k]
                diff = filled - means[k]
                cond = sum(r[i, k] * c for i, (_, c) in enumerate(rows))
                covs[k] = ((r[:, k] * diff.T) @ diff + cond) / nk[k] + reg_covar * np.eye(d)
            new.append((means, covs))
    bound = float(w @ row / w.sum())
    return bound, {"weights": nk / w.sum(), "groups": new}


def _with_holes(X, fraction: float, seed: int) -> np.ndarray:
    """``X`` as float with entries removed at random, no row left without an entry."""
    X = np.asarray(X, dtype=np.float64).copy()
    rng = np.random.default_rng(seed)
    holes = rng.random(X.shape) < fraction
    holes[holes.all(axis=1), 0] = False
    X[holes] = np.nan
    return X


def _compare_with_plain_em(estimator, X, groups, families, n_iter, fit_X=None, **kw):
    """The estimator's history and parameters against :func:`em_step` from its start."""
    fit_X = X if fit_X is None else fit_X
    sample_weight = kw.pop("sample_weight", None)
    alpha = kw.get("alpha", 0.0)
    start = estimator(max_iter=0, **kw).fit(fit_X, sample_weight=sample_weight)
    params = reference_params(start, families)
    bounds = []
    for _ in range(n_iter):
        bound, params = em_step(X, groups, params, alpha=alpha, sample_weight=sample_weight)
        bounds.append(bound)
    model = estimator(max_iter=n_iter, **kw).fit(fit_X, sample_weight=sample_weight)
    np.testing.assert_allclose(model.lower_bounds_, bounds, rtol=1e-8)
    assert_params_close(reference_params(model, families), params, rtol=1e-8, atol=1e-12)
    assert np.all(np.diff(model.lower_bounds_) >= -1e-12)  # EM climbs
    return model


@pytest.mark.parametrize("family", list(ESTIMATORS))
@pytest.mark.parametrize(("alpha", "weighted"), [(0.0, False), (0.5, True)])
def test_every_iteration_matches_a_plain_em_with_missing_entries(family, alpha, weighted):
    X, _ = draw(family, 300, seed=1, truth=blurred(0.7))
    X = _with_holes(X, 0.2, seed=3)
    sample_weight = np.random.default_rng(2).uniform(0.2, 3.0, len(X)) if weighted else None
    model = _compare_with_plain_em(
        ESTIMATORS[family],
        X,
        [(family, list(range(X.shape[1])))],
        [family],
        8,
        n_components=3,
        alpha=alpha,
        tol=0.0,
        random_state=5,
        nan_policy="marginalize",
        sample_weight=sample_weight,
    )
    assert model.n_omitted_ == 0
    # the marginal likelihood of each row, as the reference gives it
    params = reference_params(model, [family])
    groups = [(family, list(range(X.shape[1])))]
    want = [np.logaddexp.reduce(_row_log_prob(x, groups, params)) for x in X[:50]]
    np.testing.assert_allclose(model.score_samples(X[:50]), want, rtol=1e-10)


def _mixed_table(n: int, seed: int):
    """Two Gaussian columns, two categorical ones (codes), holes in each, and some rows
    missing the whole Gaussian group or the whole categorical one."""
    truth = blurred(0.6)
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=truth["weights"])
    gauss = draw_columns("gaussian", truth["gaussian"], y, rng)
    cats = draw_columns("categorical", truth["categorical"][:2], y, rng)
    X = _with_holes(np.column_stack([gauss, cats]), 0.15, seed + 1)
    X[5, :2] = np.nan
    X[9, 2:] = np.nan
    return X


def test_mixed_table_matches_a_plain_em():
    X = _mixed_table(240, seed=7)
    frame = pd.DataFrame(X, columns=["a", "b", "c1", "c2"])
    model = _compare_with_plain_em(
        MixedMixture,
        X,
        [("gaussian", [0, 1]), ("categorical", [2, 3])],
        ["gaussian", "categorical"],
        6,
        fit_X=frame,
        n_components=3,
        columns={"gaussian": ["a", "b"], "categorical": ["c1", "c2"]},
        covariance_type="full",
        alpha=0.0,
        tol=0.0,
        random_state=1,
        nan_policy="marginalize",
    )
    assert np.isfinite(model.score_samples(frame)).all()


@pytest.mark.parametrize("covariance_type", ["tied", "diag", "spherical"])
def test_mixed_covariance_types_with_missing_entries(covariance_type):
    """Every covariance type of the Gaussian group fits rows with holes (a row missing the
    whole group included) and EM climbs."""
    frame = pd.DataFrame(_mixed_table(240, seed=7), columns=["a", "b", "c1", "c2"])
    model = MixedMixture(
        3,
        columns={"gaussian": ["a", "b"], "categorical": ["c1", "c2"]},
        covariance_type=covariance_type,
        tol=0.0,
        max_iter=15,
        random_state=1,
        nan_policy="marginalize",
    ).fit(frame)
    assert np.all(np.diff(model.lower_bounds_) >= -1e-10)
    assert np.isfinite(model.score_samples(frame)).all()


# ---------------------------------------------------------------- no NaN: today's fit
def _all_families_frame(n: int, seed: int) -> pd.DataFrame:
    truth = blurred(0.5)
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=truth["weights"])
    return pd.DataFrame(
        {
            "g1": draw_columns("gaussian", truth["gaussian"], y, rng)[:, 0],
            "g2": rng.normal(size=n) + y,
            "c": draw_columns("categorical", truth["categorical"][1:2], y, rng)[:, 0],
            "b": draw_columns("bernoulli", truth["bernoulli"][:, :1], y, rng)[:, 0],
            "p": draw_columns("poisson", truth["poisson"][:, :2], y, rng)[:, 0],
        }
    )


MIXED_COLUMNS = {
    "gaussian": ["g1", "g2"],
    "categorical": ["c"],
    "bernoulli": ["b"],
    "poisson": ["p"],
}


@pytest.mark.parametrize("name", [*ESTIMATORS, "mixed"])
def test_data_without_nan_fit_bit_identically(name):
    if name == "mixed":
        X, make = _all_families_frame(300, 4), MixedMixture
        kw = dict(columns=MIXED_COLUMNS, covariance_type="full")
    else:
        X, make, kw = draw(name, 300, seed=4, truth=blurred(0.6))[0], ESTIMATORS[name], {}
    kw.update(n_components=3, tol=0.0, max_iter=10, n_init=2, random_state=3)
    raised = make(**kw).fit(X)
    marginal = make(nan_policy="marginalize", **kw).fit(X)
    assert marginal.lower_bounds_ == raised.lower_bounds_
    for a, b in zip(
        raised._codec().to_arrays(raised._params()).values(),
        marginal._codec().to_arrays(marginal._params()).values(),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(marginal.score_samples(X), raised.score_samples(X))


# ---------------------------------------------------------------- 'omit'
def test_omit_fits_the_complete_rows():
    X, _ = draw("poisson", 400, seed=2, truth=blurred(0.6))
    X = _with_holes(X, 0.05, seed=8)
    complete = ~np.isnan(X).any(axis=1)
    kw = dict(n_components=3, tol=0.0, max_iter=10, random_state=2)
    omitted = PoissonMixture(nan_policy="omit", **kw).fit(X)
    reference = PoissonMixture(**kw).fit(X[complete])
    assert omitted.n_omitted_ == int((~complete).sum()) > 0
    np.testing.assert_allclose(omitted.lower_bounds_, reference.lower_bounds_, rtol=1e-10)
    np.testing.assert_allclose(omitted.rates_, reference.rates_, rtol=1e-10)
    labels = omitted.predict(X)
    assert (labels[~complete] == -1).all()
    np.testing.assert_array_equal(labels[complete], reference.predict(X[complete]))
    scores = omitted.score_samples(X)
    assert np.isnan(scores[~complete]).all()
    np.testing.assert_allclose(scores[complete], reference.score_samples(X[complete]), rtol=1e-12)
    assert np.isnan(omitted.predict_proba(X)[~complete]).all()
    assert omitted.score(X) == pytest.approx(reference.score(X[complete]), rel=1e-12)


# ---------------------------------------------------------------- pandas missing values
def test_none_and_pd_na_in_a_string_column():
    codes = _with_holes(draw("categorical", 200, seed=5, truth=blurred(0.5))[0], 0.1, 6)
    letters = np.array(["a", "b", "c", "d"], dtype=object)
    frame = pd.DataFrame(
        {
            f"q{j}": [None if np.isnan(v) else letters[int(v)] for v in codes[:, j]]
            for j in range(codes.shape[1])
        }
    )
    frame["q1"] = frame["q1"].astype("string")  # pd.NA
    frame.loc[frame["q0"].isna(), "q0"] = pd.NA  # pd.NA in an object column
    kw = dict(n_components=3, tol=0.0, max_iter=8, random_state=4, nan_policy="marginalize")
    from_frame = CategoricalMixture(**kw).fit(frame)
    from_codes = CategoricalMixture(**kw).fit(codes)
    assert [list(c) for c in from_frame.categories_] == [
        list(letters[: len(c)]) for c in from_codes.categories_
    ]
    np.testing.assert_allclose(from_frame.lower_bounds_, from_codes.lower_bounds_, rtol=1e-12)
    np.testing.assert_allclose(from_frame.score_samples(frame), from_codes.score_samples(codes))
    with pytest.raises(InvalidInputError, match=r"nan_policy='marginalize'"):
        CategoricalMixture(3).fit(frame)
