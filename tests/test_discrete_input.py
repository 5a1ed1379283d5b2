"""The discrete and mixed-type mixtures' inputs: boundary solutions, weights, bad values,
unknown categories and scikit-learn's conventions."""

from __future__ import annotations

import re
from pathlib import Path

import _reference_em as reference
import numpy as np
import pandas as pd
import pytest
from _discrete_data import (
    assert_params_close,
    blurred,
    draw,
    draw_columns,
    reference_params,
)
from sklearn.base import clone

from distgmm import (
    BernoulliMixture,
    CategoricalMixture,
    InvalidInputError,
    MixedMixture,
    MultinomialMixture,
    PoissonMixture,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

DATA = Path(__file__).parent / "data"
ESTIMATORS = {
    "categorical": CategoricalMixture,
    "bernoulli": BernoulliMixture,
    "poisson": PoissonMixture,
    "multinomial": MultinomialMixture,
}


def all_probabilities(model) -> list[np.ndarray]:
    """Every probability or rate array of a fitted one-family model."""
    if isinstance(model, PoissonMixture):
        return [model.rates_]
    if isinstance(model, CategoricalMixture):
        return list(model.probabilities_)
    return [model.probabilities_]


def assert_no_nan(model) -> None:
    for name, value in vars(model).items():
        if name.endswith("_") and not name.startswith("_"):
            for array in value if isinstance(value, list) else [value]:
                if np.asarray(array).dtype.kind == "f":
                    assert not np.isnan(array).any(), name


# ---------------------------------------------------------------- boundary solutions
def boundary_data(family: str) -> np.ndarray:
    """Rows whose maximum-likelihood fit has probabilities (or rates) of exactly 0 or 1: a
    column that is always 0 (Poisson, multinomial) or always 1 (Bernoulli)."""
    X, _ = draw(family, 300, seed=9)
    X[:, 0] = 1 if family == "bernoulli" else 0
    return X


@pytest.mark.parametrize("family", ["bernoulli", "poisson", "multinomial"])
def test_alpha_0_boundary_solutions_are_exact_and_finite(family):
    X = boundary_data(family)
    model = ESTIMATORS[family](3, alpha=0.0, n_init=2, random_state=0).fit(X)
    values = all_probabilities(model)[0]
    assert np.all(values[:, 0] == (1.0 if family == "bernoulli" else 0.0))  # exactly
    check_boundary_fit(model, X, family)
    smoothed = ESTIMATORS[family](3, alpha=1e-3, n_init=2, random_state=0).fit(X)
    for p in all_probabilities(smoothed):
        assert np.all(p > 0)
        if family == "bernoulli":
            assert np.all(p < 1)


def test_alpha_0_latent_class_boundary():
    """Carcinoma's 4-class maximum has response probabilities of exactly 0 and 1."""
    X = pd.read_csv(DATA / "carcinoma.csv")
    model = CategoricalMixture(4, alpha=0.0, tol=1e-12, max_iter=20000, random_state=0).fit(X)
    assert any((p == 0).any() for p in model.probabilities_)
    codes = X.to_numpy() - 1
    check_boundary_fit(model, X, "categorical", codes)
    smoothed = CategoricalMixture(4, tol=1e-12, max_iter=20000, random_state=0).fit(X)
    assert smoothed.alpha > 0
    assert all((p > 0).all() for p in smoothed.probabilities_)


def test_alpha_0_unused_category_has_probability_0():
    """A category dtype's category no row has: probability exactly 0 with alpha=0."""
    X, _ = draw("categorical", 300, seed=15)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["c"] = pd.Categorical(frame["c"], categories=[0, 1, 2, 3, 4])  # 4: never seen
    model = CategoricalMixture(3, alpha=0.0, n_init=2, random_state=0).fit(frame)
    assert list(model.categories_[2]) == [0, 1, 2, 3, 4]
    assert np.all(model.probabilities_[2][:, 4] == 0.0)
    check_boundary_fit(model, frame, "categorical", X)
    smoothed = clone(model).set_params(alpha=1e-10).fit(frame)
    assert np.all(smoothed.probabilities_[2] > 0)


def check_boundary_fit(model, X, family, codes=None) -> None:
    """No NaN anywhere, EM's bound never falls, training rows have finite likelihoods (the
    plain EM's of the fitted parameters)."""
    assert_no_nan(model)
    bounds = np.asarray(model.lower_bounds_)
    assert np.isfinite(bounds).all()
    assert np.diff(bounds).min() >= -1e-12 * np.abs(bounds).max()
    scores = model.score_samples(X)
    assert np.isfinite(scores).all()
    codes = np.asarray(X, dtype=float) if codes is None else codes
    groups = [(family, list(range(codes.shape[1])))]
    want = reference.loglik(codes, groups, reference_params(model, [family]))
    np.testing.assert_allclose(scores, want, rtol=1e-10)
    proba = model.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)


# ---------------------------------------------------------------- sample weights
def mixed_case(n: int, seed: int):
    rng = np.random.default_rng(seed)
    truth = blurred(0.5)
    y = rng.choice(3, size=n, p=truth["weights"])
    frame = pd.DataFrame(
        {
            "g0": draw_columns("gaussian", truth["gaussian"], y, rng)[:, 0],
            "c0": np.array(["a", "b"])[
                draw_columns("categorical", truth["categorical"], y, rng)[:, 0]
            ],
            "p0": draw_columns("poisson", truth["poisson"], y, rng)[:, 0],
        }
    )
    spec = {"gaussian": ["g0"], "categorical": ["c0"], "poisson": ["p0"]}
    return MixedMixture(columns=spec), frame


@pytest.mark.parametrize("name", [*ESTIMATORS, "mixed"])
def test_integer_weights_are_repeated_rows(name):
    if name == "mixed":
        estimator, X = mixed_case(300, seed=10)
        repeat = lambda w: X.loc[X.index.repeat(w)].reset_index(drop=True)  # noqa: E731
    else:
        estimator, (X, _) = ESTIMATORS[name](), draw(name, 300, seed=10, truth=blurred(0.5))
        repeat = lambda w: np.repeat(X, w, axis=0)  # noqa: E731
    weights = np.random.default_rng(11).integers(0, 4, len(X))
    kw = dict(n_components=3, tol=0.0, max_iter=15, random_state=2)
    weighted = clone(estimator).set_params(**kw).fit(X, sample_weight=weights)
    repeated = clone(estimator).set_params(**kw).fit(repeat(weights))
    np.testing.assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-10)
    families = ["gaussian", "categorical", "poisson"] if name == "mixed" else [name]
    assert_params_close(
        reference_params(weighted, families), reference_params(repeated, families), atol=1e-12
    )


# ---------------------------------------------------------------- bad values
@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("poisson", -1, r"column 1 has the value -1(\.0)?, not a count"),
        ("poisson", 1.5, r"column 1 has the value 1\.5, not a count"),
        ("multinomial", -2, r"column 1 has the value -2(\.0)?, not a count"),
        ("multinomial", 0.25, r"column 1 has the value 0\.25, not a count"),
        ("poisson", np.nan, r"column 1 has a missing value"),
        ("multinomial", np.nan, r"column 1 has a missing value"),
        ("bernoulli", 2, r"column 1 has the value 2(\.0)?: a 'binary' column holds 0/1"),
        ("bernoulli", np.nan, r"column 1 has a missing value"),
        ("categorical", np.nan, r"column 1 has a missing value"),
    ],
)
def test_bad_values_are_named(name, value, match):
    X, _ = draw(name, 50, seed=12)
    X = X.astype(float)
    X[7, 1] = value
    model = ESTIMATORS[name](2, random_state=0)  # unseeded, 1 start in ~200 empties a component
    with pytest.raises(InvalidInputError, match=match):
        model.fit(X)
    good, _ = draw(name, 50, seed=12)
    model.fit(good)
    with pytest.raises(InvalidInputError, match=match):
        model.predict(X)


def test_unknown_category_named_or_ignored():
    X, _ = draw("categorical", 200, seed=13)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).astype({"c": str})
    model = CategoricalMixture(3, random_state=0).fit(frame)
    new = frame.head(5).copy()
    new.loc[2, "c"] = "never"
    with pytest.raises(InvalidInputError, match=r"column 'c' has the value 'never' not seen"):
        model.score_samples(new)
    ignoring = clone(model).set_params(handle_unknown="ignore").fit(frame)
    got = ignoring.score_samples(new)
    np.testing.assert_array_equal(got[[0, 1, 3, 4]], model.score_samples(new.drop(index=2)))
    # the row without column 'c': its likelihood from the first two columns' parameters
    params = {"weights": ignoring.weights_, "groups": [ignoring.probabilities_[:2]]}
    want = reference.loglik(X[2:3, :2], [("categorical", [0, 1])], params)
    np.testing.assert_allclose(got[2], want[0], rtol=1e-12)
    assert np.isfinite(ignoring.predict_proba(new)).all()


def test_unknown_category_of_a_mixed_model_ignored():
    estimator, frame = mixed_case(300, seed=16)
    model = estimator.set_params(n_components=2, handle_unknown="ignore", random_state=0)
    model.fit(frame)
    new = frame.head(3).copy()
    new.loc[1, "c0"] = "never"
    got = model.score_samples(new)
    assert model.columns_ == ["g0", "c0", "p0"]
    groups = [("gaussian", [0]), ("poisson", [1])]  # the row without column c0
    params = reference_params(model, ["gaussian", "poisson"])
    row = new.loc[[1], ["g0", "p0"]].to_numpy(dtype=float)
    np.testing.assert_allclose(got[1], reference.loglik(row, groups, params)[0], rtol=1e-12)
    with pytest.raises(InvalidInputError, match=r"column 'c0' has the value 'never' not seen"):
        clone(model).set_params(handle_unknown="error").fit(frame).predict(new)


# ---------------------------------------------------------------- scikit-learn conventions
@pytest.mark.parametrize("name", [*ESTIMATORS, "mixed"])
def test_scikit_learn_conventions(name):
    if name == "mixed":
        estimator, X = mixed_case(200, seed=14)
    else:
        estimator, (X, _) = ESTIMATORS[name](), draw(name, 200, seed=14)
    estimator.set_params(n_components=2, alpha=0.5, random_state=3)
    params = estimator.get_params()
    assert (params["alpha"], params["n_components"]) == (0.5, 2)
    copy = clone(estimator)
    assert copy is not estimator
    assert copy.get_params() == params
    assert re.fullmatch(rf"{type(estimator).__name__}\(.*alpha=0\.5.*\)", repr(estimator), re.S)
    assert estimator.fit(X) is estimator
    labels = copy.fit_predict(X)
    np.testing.assert_array_equal(labels, copy.predict(X))
    np.testing.assert_array_equal(labels, estimator.labels_)
    assert not hasattr(clone(estimator), "weights_")


def test_a_row_impossible_under_every_component_is_minus_inf_or_an_error():
    """alpha=0 gives a column of zeros the rate 0: a later count there has probability 0
    under every component, so its log-likelihood is -inf and it has no component."""
    X = np.array([[0, 1], [0, 2], [0, 3], [0, 1]] * 10)
    model = PoissonMixture(2, alpha=0.0, random_state=0).fit(X)
    assert (model.rates_[:, 0] == 0).all()
    rows = np.array([[3, 1], [0, 1]])
    scores = model.score_samples(rows)
    assert scores[0] == -np.inf
    assert np.isfinite(scores[1])
    for method in (model.predict, model.predict_proba):
        with pytest.raises(InvalidInputError, match="probability 0 under every component"):
            method(rows)
    assert model.score(X) > -np.inf  # the training rows are all possible


def test_categories_a_model_file_cannot_hold_are_refused_at_fit():
    frame = pd.DataFrame({"day": pd.to_datetime(["2020-01-01", "2020-01-02"] * 20)})
    with pytest.raises(InvalidInputError, match="cannot be saved"):
        CategoricalMixture(2).fit(frame)


def test_an_impossible_row_in_a_pass_is_named_as_such_not_an_overflow():
    X = np.array([[0, 1], [0, 2], [0, 3], [0, 1]] * 10)
    model = PoissonMixture(2, alpha=0.0, random_state=0).fit(X)
    with pytest.raises(InvalidInputError, match="probability 0 under every component"):
        model.partial_fit(np.array([[3, 1], [0, 1]]))
    assert not hasattr(model, "n_batches_seen_")  # the model is left as it was
