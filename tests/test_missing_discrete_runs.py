"""nan_policy of the discrete and mixed mixtures beyond their arithmetic: chunks and
workers, refusals, model files and online state, the console script."""

from __future__ import annotations

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from _discrete_data import draw
from sklearn.utils._param_validation import InvalidParameterError
from test_missing_discrete import MIXED_COLUMNS, _all_families_frame, _with_holes
from test_product_files import _rewrite

import distgmm
from distgmm import (
    CategoricalMixture,
    MixedMixture,
    MultinomialMixture,
    PoissonMixture,
)
from distgmm.errors import InvalidInputError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ---------------------------------------------------------------- chunks and workers
@pytest.mark.cluster
def test_chunking_and_workers_do_not_change_the_fit(cluster2):
    frame = _all_families_frame(600, 6)
    for name, fraction in (("g1", 0.2), ("c", 0.1), ("b", 0.1), ("p", 0.1)):
        holes = np.random.default_rng(len(name) + int(100 * fraction)).random(len(frame))
        frame.loc[holes < fraction, name] = None
    frame["c"] = frame["c"].astype("Int64")
    kw = dict(
        n_components=3,
        columns=MIXED_COLUMNS,
        tol=0.0,
        max_iter=5,
        random_state=0,
        nan_policy="marginalize",
    )
    local = MixedMixture(**kw).fit(frame)
    for partitions in (5,):
        ddf = dd.from_pandas(frame, npartitions=partitions)
        model = MixedMixture(client=cluster2, **kw).fit(ddf)
        np.testing.assert_allclose(model.lower_bounds_, local.lower_bounds_, rtol=1e-10)
        np.testing.assert_allclose(model.means_, local.means_, rtol=1e-9)
        np.testing.assert_allclose(model.rates_, local.rates_, rtol=1e-9)
    scores = model.score_samples(ddf).compute()
    np.testing.assert_allclose(scores, local.score_samples(frame), rtol=1e-10)
    counts = _with_holes(draw("poisson", 500, seed=9)[0], 0.1, 1)
    one = PoissonMixture(3, max_iter=4, random_state=0, nan_policy="marginalize").fit(counts)
    chunked = PoissonMixture(
        3, max_iter=4, random_state=0, nan_policy="marginalize", client=cluster2
    ).fit(da.from_array(counts, chunks=(90, -1)))
    np.testing.assert_allclose(chunked.lower_bounds_, one.lower_bounds_, rtol=1e-10)
    np.testing.assert_allclose(chunked.rates_, one.rates_, rtol=1e-10)


# ---------------------------------------------------------------- refusals
def test_multinomial_refuses_to_marginalise():
    X = draw("multinomial", 100, seed=1)[0].astype(float)
    with pytest.raises(InvalidParameterError, match="multinomial group cannot be marginalised"):
        MultinomialMixture(2, nan_policy="marginalize").fit(X)
    X[3, 2] = np.nan
    model = MultinomialMixture(2, nan_policy="omit", random_state=0).fit(X)
    assert model.n_omitted_ == 1
    assert model.predict(X)[3] == -1
    frame = pd.DataFrame({"m1": X[:, 0], "m2": X[:, 2], "c": X[:, 1] % 2})
    mixed = MixedMixture(
        2,
        columns={"multinomial": ["m1", "m2"], "categorical": ["c"]},
        nan_policy="marginalize",
    )
    with pytest.raises(InvalidInputError, match="multinomial group cannot be marginalised"):
        mixed.fit(frame)


def test_a_row_with_every_entry_missing_is_named():
    X = _with_holes(draw("categorical", 100, seed=1)[0], 0.1, seed=2)
    X[17] = np.nan
    with pytest.raises(InvalidInputError, match="first row 17"):
        CategoricalMixture(2, nan_policy="marginalize").fit(X)
    with pytest.warns(UserWarning, match="every entry missing"):
        model = CategoricalMixture(2, nan_policy="omit", random_state=0).fit(X)
    assert model.n_omitted_ == int(np.isnan(X).any(axis=1).sum())
    fitted = CategoricalMixture(2, nan_policy="marginalize", random_state=0).fit(X[:17])
    with pytest.raises(InvalidInputError, match="row 17"):
        fitted.predict(X)


# ---------------------------------------------------------------- parameters and files
def test_the_policy_is_a_parameter_kept_by_model_files(tmp_path):
    X = _with_holes(draw("poisson", 200, seed=3)[0], 0.1, seed=4)
    model = PoissonMixture(2, nan_policy="marginalize", random_state=0, max_iter=5).fit(X)
    assert model.get_params()["nan_policy"] == "marginalize"
    assert model._model_header()["model"]["settings"]["nan_policy"] == "marginalize"
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = distgmm.load(path)
    assert loaded.nan_policy == "marginalize"
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    raised = PoissonMixture(2, random_state=0, max_iter=5).fit(np.nan_to_num(X))
    assert "nan_policy" not in raised._model_header()["model"]["settings"]
    raised.save(tmp_path / "r.npz")
    assert distgmm.load(tmp_path / "r.npz").nan_policy == "raise"
    # a file written before nan_policy existed has none: 'raise'
    old = _rewrite(
        tmp_path / "r.npz", tmp_path / "old.npz", lambda h, m: h["params"].pop("nan_policy")
    )
    assert distgmm.load(old).nan_policy == "raise"
    # the policy of the settings (the model's statistics) and of the parameters must agree
    edit = lambda h, m: h["params"].__setitem__("nan_policy", "omit")  # noqa: E731
    with pytest.raises(InvalidInputError, match="nan_policy"):
        distgmm.load(_rewrite(path, tmp_path / "bad.npz", edit))


def test_online_statistics_of_a_marginal_poisson_survive_a_file(tmp_path):
    X = _with_holes(draw("poisson", 300, seed=3)[0], 0.1, seed=5)
    model = PoissonMixture(2, nan_policy="marginalize", random_state=0)
    for batch in np.array_split(X, 3):
        model.partial_fit(batch)
    model.save(tmp_path / "online.npz")
    loaded = distgmm.load(tmp_path / "online.npz")
    loaded.partial_fit(X[:50])
    model.partial_fit(X[:50])
    np.testing.assert_allclose(loaded.rates_, model.rates_, rtol=1e-12)


# ---------------------------------------------------------------- the console script
@pytest.mark.cluster
def test_fit_family_takes_the_nan_policy(cluster2, tmp_path):
    from test_cli import assert_one_error_line, run, run_json

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"q1": rng.choice(["a", "b", "c"], 120), "q2": rng.choice(["x", "y"], 120)}
    )
    frame.loc[[3, 40], "q1"] = None
    frame.loc[5, "q2"] = None
    frame["n"] = rng.poisson(3, 120).astype(float)
    data = tmp_path / "d.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "m.npz"
    run_json(
        "fit", data, "--family", "categorical", "--columns", "q1,q2", "-k", "2",
        "--nan-policy", "marginalize", "--out", out, "--scheduler", cluster2.scheduler.address,
    )  # fmt: skip
    fitted = distgmm.load(out)
    assert fitted.nan_policy == "marginalize"
    ref = CategoricalMixture(2, columns=["q1", "q2"], random_state=0, nan_policy="marginalize")
    ref.fit(frame)
    np.testing.assert_allclose(fitted.weights_, ref.weights_, rtol=1e-8)
    refused = run(
        "fit", data, "--family", "multinomial", "--columns", "n", "-k", "2",
        "--nan-policy", "marginalize", "--out", tmp_path / "x.npz",
    )  # fmt: skip
    assert "cannot be marginalised" in assert_one_error_line(refused, 2)
