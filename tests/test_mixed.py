"""MixedMixture against a plain EM and a known truth, and its column specs."""

from __future__ import annotations

import _reference_em as reference
import numpy as np
import pandas as pd
import pytest
from _discrete_data import assert_params_close, blurred, draw_columns, reference_params
from sklearn.metrics import adjusted_rand_score

from distgmm import InvalidInputError, MixedMixture

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def mixed_frame(families, n, seed, truth):
    """Rows of ``truth``'s mixture over the columns of ``families``, their columns
    interleaved across the families and an id column first (not modelled); the spec."""
    rng = np.random.default_rng(seed)
    y = rng.choice(len(truth["weights"]), size=n, p=truth["weights"])
    named = {}
    for family in families:
        values = draw_columns(family, truth[family], y, rng)
        named[family] = {f"{family}{j}": values[:, j] for j in range(values.shape[1])}
    order = [("id", np.arange(n))]
    for row in range(max(len(c) for c in named.values())):  # round robin
        order += [list(c.items())[row] for c in named.values() if row < len(c)]
    frame = pd.DataFrame(dict(order))
    return frame, y, {family: list(columns) for family, columns in named.items()}


def model_groups(model, spec, families):
    """The reference EM's groups: positions in the model's columns, in ``families`` order."""
    columns = model.columns_
    return [(f, [i for i, c in enumerate(columns) if c in spec[f]]) for f in families]


@pytest.mark.parametrize(
    ("families", "alpha", "weighted"),
    [
        (("gaussian", "categorical", "poisson"), 0.0, False),
        (("categorical", "bernoulli", "multinomial", "gaussian", "poisson"), 0.3, True),
    ],
)
def test_every_iteration_matches_a_plain_em(families, alpha, weighted):
    frame, _, spec = mixed_frame(families, 500, seed=3, truth=blurred(0.8))
    sample_weight = np.random.default_rng(4).uniform(0.2, 3.0, len(frame)) if weighted else None
    kw = dict(n_components=3, columns=spec, alpha=alpha, reg_covar=1e-4, tol=0.0, random_state=5)
    start = MixedMixture(max_iter=0, **kw).fit(frame, sample_weight=sample_weight)
    assert "id" not in start.columns_
    groups = model_groups(start, spec, families)
    X = frame[start.columns_].to_numpy(dtype=float)
    params, bounds = reference_params(start, families), []
    settings = dict(alpha=alpha, reg_covar=1e-4, sample_weight=sample_weight)
    for n_iter in range(1, 16):
        bound, params = reference.em_step(X, groups, params, **settings)
        bounds.append(bound)
        model = MixedMixture(max_iter=n_iter, **kw).fit(frame, sample_weight=sample_weight)
        np.testing.assert_allclose(model.lower_bounds_, bounds, rtol=1e-10)
        assert_params_close(reference_params(model, families), params)
    assert (model.predict_proba(frame).max(axis=1) < 0.9).mean() > 0.2  # soft EM
    np.testing.assert_allclose(
        model.score_samples(frame), reference.loglik(X, groups, params), rtol=1e-10
    )


def test_labels_as_good_as_the_true_parameters_give():
    """Overlapping components: the fit's labels agree with the truth about as well as the
    Bayes-optimal labels (each row's most probable component under the true parameters)."""
    families = ("gaussian", "categorical", "poisson")
    truth = blurred(0.7)
    frame, y, spec = mixed_frame(families, 3000, seed=8, truth=truth)
    model = MixedMixture(3, columns=spec, n_init=3, tol=1e-6, random_state=0).fit(frame)
    groups = model_groups(model, spec, families)
    X = frame[model.columns_].to_numpy(dtype=float)
    true_params = {"weights": truth["weights"], "groups": [truth[f] for f in families]}
    bayes = reference.component_log_density(X, groups, true_params).argmax(axis=1)
    best = adjusted_rand_score(y, bayes)
    assert 0.6 < best < 0.95  # the components do overlap
    assert adjusted_rand_score(y, model.predict(frame)) >= best - 0.02
    np.testing.assert_array_equal(model.predict(frame), model.labels_)


@pytest.mark.parametrize(
    ("columns", "match"),
    [
        (None, r"MixedMixture needs columns=\{family: \[column, \.\.\.\]\}"),
        ({}, r"MixedMixture needs columns="),
        ({"gaussian": ["x"], "ordinal": ["c"]}, r"family 'ordinal'; known: \['bernoulli'"),
        ({"gaussian": ["x"], "categorical": ["x", "c"]}, "column 'x' is in two groups"),
        ({"gaussian": ["x", "nowhere"]}, "'nowhere'"),
        ({"gaussian": "x"}, r"columns\['gaussian'\] must be a non-empty list"),
        ({"gaussian": []}, r"columns\['gaussian'\] must be a non-empty list"),
    ],
)
def test_bad_specs_are_named(columns, match):
    frame = pd.DataFrame({"x": np.linspace(0.0, 1.0, 20), "c": np.arange(20) % 3})
    model = MixedMixture(2, columns=columns)
    with pytest.raises(InvalidInputError, match=match):
        model.fit(frame)
    assert not hasattr(model, "n_features_in_")  # a failed fit leaves no trace


def test_integer_column_labels_are_labels_not_positions():
    """A DataFrame labelled by integers: the spec's keys are X's labels first (as the
    encoder resolves them), so each column is modelled by the family it was named for."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({1: rng.normal(size=300), 0: rng.poisson(3.0, 300)})
    model = MixedMixture(2, columns={"poisson": [0], "gaussian": [1]}, random_state=0).fit(frame)
    assert model.rates_.shape == (2, 1)
    np.testing.assert_allclose(model.weights_ @ model.rates_[:, 0], frame[0].mean(), rtol=1e-6)
    np.testing.assert_allclose(model.weights_ @ model.means_[:, 0], frame[1].mean(), atol=1e-6)
