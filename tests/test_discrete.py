"""The discrete mixtures against published maxima, a plain EM and known truths."""

from __future__ import annotations

import itertools
from pathlib import Path

import _reference_em as reference
import numpy as np
import pandas as pd
import pytest
from _discrete_data import TRUTH, assert_params_close, blurred, draw, reference_params

from distgmm import BernoulliMixture, CategoricalMixture, MultinomialMixture, PoissonMixture

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

DATA = Path(__file__).parent / "data"
ESTIMATORS = {
    "categorical": CategoricalMixture,
    "bernoulli": BernoulliMixture,
    "poisson": PoissonMixture,
    "multinomial": MultinomialMixture,
}


# ---------------------------------------------------------------- published maxima
@pytest.mark.parametrize(
    ("name", "k", "published", "n_init"),
    [
        # (data set, classes, published maximum log-likelihood, restarts): see data/README.md.
        # Carcinoma K=4 reaches its maximum from about one random start in five.
        ("carcinoma", 2, "-317.2568", 2),
        ("carcinoma", 3, "-293.705", 3),
        ("carcinoma", 4, "-289.2858", 20),
        ("values", 1, "-543.6498", 1),
        ("values", 2, "-504.4677", 2),
        ("values", 3, "-503.3011", 2),
    ],
)
def test_published_latent_class_maxima(name, k, published, n_init):
    X = pd.read_csv(DATA / f"{name}.csv")
    model = CategoricalMixture(
        k, alpha=0.0, tol=1e-12, max_iter=20000, n_init=n_init, random_state=0
    ).fit(X)
    assert model.converged_
    n, half_unit = len(X), 0.5 * 10.0 ** -len(published.split(".")[1])
    assert abs(model.lower_bound_ * n - float(published)) <= half_unit
    assert abs(model.score(X) * n - float(published)) <= half_unit
    # the fitted parameters' likelihood, computed independently, is the one reported
    codes = np.column_stack(
        [pd.Index(c).get_indexer(X[n]) for c, n in zip(model.categories_, X.columns, strict=True)]
    )
    groups = [("categorical", list(range(X.shape[1])))]
    total = reference.loglik(codes, groups, reference_params(model, ["categorical"])).sum()
    assert abs(total - model.score(X) * n) <= 1e-9 * abs(total)


# ---------------------------------------------------------------- a plain EM
@pytest.mark.parametrize("family", list(ESTIMATORS))
@pytest.mark.parametrize(("alpha", "weighted"), [(0.0, False), (0.5, True)])
def test_every_iteration_matches_a_plain_em(family, alpha, weighted):
    """From the estimator's own start (its fit of max_iter=0), every iteration's bound and
    parameters equal a textbook EM's, with and without pseudocounts and weights."""
    X, _ = draw(family, 400, seed=1, truth=blurred(0.7))  # overlapping: soft responsibilities
    sample_weight = np.random.default_rng(2).uniform(0.2, 3.0, len(X)) if weighted else None
    kw = dict(n_components=3, alpha=alpha, tol=0.0, random_state=5)
    estimator = ESTIMATORS[family]
    start = estimator(max_iter=0, **kw).fit(X, sample_weight=sample_weight)
    params = reference_params(start, [family])
    groups = [(family, list(range(X.shape[1])))]
    bounds = []
    for n_iter in range(1, 16):
        bound, params = reference.em_step(
            X.astype(float), groups, params, alpha=alpha, sample_weight=sample_weight
        )
        bounds.append(bound)
        model = estimator(max_iter=n_iter, **kw).fit(X, sample_weight=sample_weight)
        np.testing.assert_allclose(model.lower_bounds_, bounds, rtol=1e-10)
        assert_params_close(reference_params(model, [family]), params)
    assert (model.predict_proba(X).max(axis=1) < 0.9).mean() > 0.2  # EM, not sorting


def test_bernoulli_is_categorical_of_two_levels():
    """The same model and, for one random_state, the same start and fit."""
    X, _ = draw("bernoulli", 500, seed=3, truth=blurred(0.5))
    kw = dict(n_components=3, alpha=0.0, tol=0.0, max_iter=30, n_init=2, random_state=4)
    bernoulli = BernoulliMixture(**kw).fit(X)
    categorical = CategoricalMixture(**kw).fit(X)
    assert all(list(c) == [0, 1] for c in categorical.categories_)
    ones = np.column_stack([p[:, 1] for p in categorical.probabilities_])
    np.testing.assert_allclose(bernoulli.probabilities_, ones, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(bernoulli.weights_, categorical.weights_, rtol=1e-10)
    np.testing.assert_allclose(bernoulli.lower_bounds_, categorical.lower_bounds_, rtol=1e-10)
    np.testing.assert_allclose(bernoulli.score_samples(X), categorical.score_samples(X), rtol=1e-10)
    np.testing.assert_array_equal(bernoulli.predict(X), categorical.predict(X))


# ---------------------------------------------------------------- known truths
def _matched(estimated: np.ndarray, true: np.ndarray) -> tuple:
    """The permutation of the estimated components closest to the true ones."""
    return min(
        itertools.permutations(range(len(true))),
        key=lambda perm: np.abs(estimated[list(perm)] - true).sum(),
    )


def test_poisson_recovers_its_truth():
    X, y = draw("poisson", 3000, seed=6)
    model = PoissonMixture(3, n_init=3, random_state=0, tol=1e-8).fit(X)
    rates = TRUTH["poisson"]
    perm = list(_matched(model.rates_, rates))
    n_k = np.bincount(y, minlength=3)[:, None]
    assert np.all(np.abs(model.rates_[perm] - rates) <= 4 * np.sqrt(rates / n_k))
    w = TRUTH["weights"]
    assert np.all(np.abs(model.weights_[perm] - w) <= 4 * np.sqrt(w * (1 - w) / len(X)))


def test_multinomial_recovers_its_truth():
    X, y = draw("multinomial", 3000, seed=7)
    model = MultinomialMixture(3, n_init=3, random_state=0, tol=1e-8).fit(X)
    probabilities, totals = TRUTH["multinomial"]
    perm = list(_matched(model.probabilities_, probabilities))
    n_k = np.bincount(y, minlength=3)
    draws = (n_k * totals)[:, None]  # about as many categories drawn per component
    error = np.abs(model.probabilities_[perm] - probabilities)
    assert np.all(error <= 4 * np.sqrt(probabilities * (1 - probabilities) / draws))
    assert np.all(np.abs(model.mean_totals_[perm] - totals) <= 4 * np.sqrt(totals / n_k))
    w = TRUTH["weights"]
    assert np.all(np.abs(model.weights_[perm] - w) <= 4 * np.sqrt(w * (1 - w) / len(X)))
