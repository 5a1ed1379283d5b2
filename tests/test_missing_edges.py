"""nan_policy at its edges: a column or row without any value, infinity beside NaN, sparse
columns, select_mixture and the command line's score and predict of a model with a policy,
dask DataFrames and float32 input."""

from __future__ import annotations

import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zarr
from test_cli import run, run_json
from test_missing_gaussian import gapped, start

import distgmm
from distgmm import CategoricalMixture, GaussianMixture, InvalidInputError, select_mixture

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def gaps():
    X, labels = gapped(600, fraction=0.1, seed=61)
    return X, start(X, labels, "full")


# ------------------------------------------------------------- columns and rows without values
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_a_column_without_any_value_is_an_error_naming_it(gaps, init_params, lazy):
    X = gaps[0].copy()
    X[:, 2] = np.nan
    data = da.from_array(X, chunks=(150, -1)) if lazy else X
    gm = GaussianMixture(3, nan_policy="marginalize", init_params=init_params, random_state=0)
    with pytest.raises(InvalidInputError, match="Column 2 of X has no observed value"):
        gm.fit(data)


def test_a_column_without_any_value_given_the_start_is_an_error(gaps):
    X, init = gaps
    X = X.copy()
    X[:, 1] = np.nan
    with pytest.raises(InvalidInputError, match="Column 1 of X has no observed value"):
        GaussianMixture(3, nan_policy="marginalize", **init).fit(X)


def test_a_categorical_column_without_any_value_is_an_error():
    table = pd.DataFrame({"a": ["x", "y", None, "x"] * 50, "b": [None] * 200})
    with pytest.raises(InvalidInputError, match="Column 1 of X has no observed value"):
        CategoricalMixture(2, nan_policy="marginalize").fit(table)


def test_a_sparse_column_fits_whatever_the_seed():
    """A column with 3 values in 30,000 rows: the start's sample may hold none of them."""
    X, _ = gapped(30_000, d=3, fraction=0.0, seed=3)
    X[:, 2] = np.nan
    X[[5, 900, 20_000], 2] = [1.0, 2.0, 3.0]
    for seed in (0, 1):
        gm = GaussianMixture(2, nan_policy="marginalize", random_state=seed, max_iter=20)
        gm.fit(X)
        assert np.isfinite(gm.means_).all()
        assert np.isfinite(gm.covariances_).all()


@pytest.mark.parametrize("policy", ["marginalize", "omit"])
@pytest.mark.parametrize("given", [False, True], ids=["kmeans", "given"])
def test_infinity_beside_nan_is_an_error(gaps, policy, given):
    X, init = gaps
    X = X.copy()
    X[26] = [np.inf, np.nan, 1.0, 2.0]
    kw = init if given else {"random_state": 0}
    with pytest.raises(InvalidInputError, match="infinity"):
        GaussianMixture(3, nan_policy=policy, **kw).fit(da.from_array(X, chunks=(150, -1)))


def test_scoring_rows_all_left_out_is_an_error(gaps):
    X, init = gaps
    gm = GaussianMixture(3, nan_policy="omit", **init).fit(X)
    nothing = np.full((5, 4), np.nan)
    for method in ("score", "bic", "aic"):
        with pytest.raises(InvalidInputError, match="no row to score"):
            getattr(gm, method)(nothing)


def test_a_dask_dataframe_row_without_values_is_named_in_its_partition(gaps):
    X, init = gaps
    gm = GaussianMixture(3, nan_policy="marginalize", max_iter=3, **init).fit(X)
    Y = X.copy()
    Y[412] = np.nan
    with pytest.raises(InvalidInputError, match="the first row 412"):
        gm.predict(da.from_array(Y, chunks=(100, -1))).compute()
    frame = dd.from_pandas(pd.DataFrame(Y), npartitions=4)  # no names, as in the fit
    with pytest.raises(InvalidInputError, match=r"of a chunk \(the first its row 112\)"):
        gm.predict(frame).compute()


# ------------------------------------------------------------- other inputs
def test_a_dask_dataframe_with_nan_fits_as_the_array(gaps):
    X, init = gaps
    kw = dict(nan_policy="marginalize", max_iter=5, tol=0, **init)
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")), npartitions=3)
    a = GaussianMixture(3, **kw).fit(frame)
    b = GaussianMixture(3, **kw).fit(X)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-10)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-10)


def test_float32_input_with_nan(gaps):
    X, init = gaps
    kw = dict(nan_policy="marginalize", max_iter=5, tol=0, **init)
    a = GaussianMixture(3, **kw).fit(X.astype(np.float32))
    b = GaussianMixture(3, **kw).fit(X.astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-6)
    assert np.isfinite(a.score_samples(X.astype(np.float32))).all()


@pytest.mark.parametrize("lazy", [False, True], ids=["numpy", "dask"])
def test_select_mixture_under_omit_reports_each_candidates_criteria(gaps, lazy):
    X = gaps[0]
    data = da.from_array(X, chunks=(150, -1)) if lazy else X
    template = GaussianMixture(nan_policy="omit", random_state=0)
    result = select_mixture(data, [2, 3], ["full", "diag"], estimator=template)
    for row, solo in zip(result.results_, result.estimators_, strict=True):
        assert isinstance(row["bic"], float)
        assert row["bic"] == pytest.approx(solo.bic(X), rel=1e-10)


# ------------------------------------------------------------- the command line
@pytest.mark.cluster
def test_cli_score_of_an_omit_model_counts_the_rows_kept(gaps, cluster1, tmp_path):
    X, _ = gaps
    np.save(tmp_path / "x.npy", X)
    model, address = tmp_path / "m.npz", cluster1.scheduler.address
    run_json("fit", tmp_path / "x.npy", "-k", "3", "--nan-policy", "omit", "--out", model,
             "--scheduler", address)  # fmt: skip
    record = run_json("score", model, tmp_path / "x.npy", "--scheduler", address)
    gm = distgmm.load(model)
    assert record["mean_log_likelihood"] == pytest.approx(gm.score(X), rel=1e-10)
    assert record["bic"] == pytest.approx(gm.bic(X), rel=1e-10)


@pytest.mark.cluster
def test_cli_reads_parquet_nulls_for_a_model_with_a_policy(gaps, cluster1, tmp_path):
    X, _ = gaps
    columns = {
        name: pa.array([None if np.isnan(v) else float(v) for v in X[:, j]])
        for j, name in enumerate("abcd")
    }
    data = tmp_path / "x.parquet"
    pq.write_table(pa.table(columns), data)
    model, address = tmp_path / "m.npz", cluster1.scheduler.address
    run_json("fit", data, "-k", "3", "--nan-policy", "marginalize", "--out", model,
             "--scheduler", address)  # fmt: skip
    gm = distgmm.load(model)
    named = pd.DataFrame(X, columns=list("abcd"))  # the model knows the Parquet names
    record = run_json("score", model, data, "--scheduler", address)
    assert record["mean_log_likelihood"] == pytest.approx(gm.score(named), rel=1e-10)
    run_json("predict", model, data, "--out", tmp_path / "p.zarr", "--scheduler", address)
    labels = zarr.open_group(tmp_path / "p.zarr", mode="r")["labels"][:]
    np.testing.assert_array_equal(labels, gm.predict(named))


def test_cli_bayesian_has_no_nan_policy(gaps, tmp_path):
    np.save(tmp_path / "x.npy", gaps[0])
    result = run("fit", tmp_path / "x.npy", "--model", "bayesian", "--nan-policy", "omit")
    assert result.returncode == 2, result.stderr
    assert "--nan-policy" in result.stderr
    assert "Traceback" not in result.stderr


def test_parquet_missing_values_keep_the_ragged_list_check(tmp_path):
    ragged = pa.array([[1.0, 2.0], [3.0], [4.0, 5.0, 6.0], [7.0, 8.0]])
    pq.write_table(pa.table({"v": ragged}), tmp_path / "ragged.parquet")
    with pytest.raises(InvalidInputError, match="is ragged"):
        distgmm.read_parquet(tmp_path / "ragged.parquet", missing_values=True).compute()
    gaps = {"v": pa.array([[1.0, None], None, [7.0, 8.0]]), "a": pa.array([1, None, 3])}
    pq.write_table(pa.table(gaps), tmp_path / "gaps.parquet")
    values = distgmm.read_parquet(tmp_path / "gaps.parquet", missing_values=True).compute()
    np.testing.assert_array_equal(
        values, [[1.0, np.nan, 1.0], [np.nan, np.nan, np.nan], [7.0, 8.0, 3.0]]
    )
