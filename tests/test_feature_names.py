"""Feature names of Parquet-read dask arrays: recorded by fit, checked by predict."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd
import pytest

import distgmm
from distgmm import GaussianMixture, InvalidInputError, read_parquet


@pytest.fixture(scope="module")
def parquet(tmp_path_factory, make_mixture):
    X, _ = make_mixture(n=600, d=3, k=3, seed=2)
    path = tmp_path_factory.mktemp("names") / "rows.parquet"
    frame = pd.DataFrame({"id": np.arange(len(X)), "a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})
    frame["v"] = list(X[:, :2])  # a list column: two features under one name
    frame.to_parquet(path, row_group_size=200)
    return path, X


def test_fit_on_parquet_columns_records_their_names(parquet, tmp_path):
    path, X = parquet
    gm = GaussianMixture(3, random_state=0).fit(read_parquet(path, columns=["a", "b", "c"]))
    np.testing.assert_array_equal(gm.feature_names_in_, np.array(["a", "b", "c"], dtype=object))
    gm.save(tmp_path / "model.npz")
    loaded = distgmm.load(tmp_path / "model.npz")
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]
    # Named like the Parquet columns: unnamed numpy input warns, as after a DataFrame fit.
    expected = gm.predict(pd.DataFrame(X, columns=["a", "b", "c"]))
    same = read_parquet(path, columns=["a", "b", "c"])
    np.testing.assert_array_equal(loaded.predict(same).compute(), expected)

    swapped = read_parquet(path, columns=["c", "b", "a"])
    for method in (loaded.predict, loaded.score_samples, gm.predict_proba):
        with pytest.raises(InvalidInputError, match=r"\['c', 'b', 'a'\].*\['a', 'b', 'c'\]"):
            method(swapped)


def test_refit_on_unnamed_input_forgets_the_names(parquet):
    path, X = parquet
    gm = GaussianMixture(2, random_state=0).fit(read_parquet(path, columns=["a", "b", "c"]))
    gm.fit(da.from_array(X, chunks=200))
    assert not hasattr(gm, "feature_names_in_")
    # Unnamed input is not checked against names (numpy input after a DataFrame warns in
    # scikit-learn; a dask array has no names to compare).
    gm.fit(read_parquet(path, columns=["a", "b", "c"]))
    gm.predict(da.from_array(X, chunks=200)).compute()


def test_list_columns_give_no_names(parquet):
    path, _ = parquet
    gm = GaussianMixture(2, random_state=0).fit(read_parquet(path, columns=["v", "c"]))
    assert gm.n_features_in_ == 3
    assert not hasattr(gm, "feature_names_in_")
