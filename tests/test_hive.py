"""Hive-partitioned Parquet (``year=2020/site=a/...``): partition keys are columns."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_cli import run
from test_io import FEATURES, blobs, fit

from distgmm import InvalidInputError, read_parquet


def frame(n=1200, seed=0) -> pd.DataFrame:
    X = blobs(n, seed=seed)
    rows = pd.DataFrame(X, columns=FEATURES)
    rows.insert(0, "id", np.arange(n, dtype=np.int64))
    rows["year"] = 2019 + np.arange(n) % 3
    rows["site"] = np.where(np.arange(n) % 2, "north", "south east")  # a space: URI-encoded
    return rows


def by_id(X: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The rows of ``X`` (read with an ``id`` column first) in ``id`` order."""
    return X[np.argsort(ids)]


@pytest.fixture(scope="module")
def hive(tmp_path_factory):
    """The same rows written partitioned by pyarrow (year, site) and by dask (year)."""
    root = tmp_path_factory.mktemp("hive")
    rows = frame()
    pq.write_to_dataset(
        pa.Table.from_pandas(rows, preserve_index=False),
        root / "arrow",
        partition_cols=["year", "site"],
        row_group_size=100,
    )
    dd.from_pandas(rows.drop(columns="site"), npartitions=3).to_parquet(
        root / "dask", partition_on=["year"], write_index=False
    )
    return rows, root


@pytest.mark.parametrize("writer", ["arrow", "dask"])
def test_partition_keys_are_feature_columns(hive, writer, tmp_path):
    rows, root = hive
    X = read_parquet(root / writer, ["id", *FEATURES, "year"], chunk_bytes=4_000).compute()
    assert X.shape == (len(rows), 5)
    expected = rows[["id", *FEATURES, "year"]].to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(by_id(X, X[:, 0]), expected)
    # Not a feature unless named: the default is every numeric column of the files.
    numeric = tmp_path / "numeric"
    pq.write_to_dataset(
        pa.Table.from_pandas(rows[[*FEATURES, "year"]], preserve_index=False),
        numeric,
        partition_cols=["year"],
    )
    assert read_parquet(numeric).shape == (len(rows), 3)
    with pytest.raises(InvalidInputError, match=r"'site'.*not numeric"):
        read_parquet(root / "arrow", ["site"])


def test_partition_keys_are_kept_columns(hive, tmp_path):
    rows, root = hive
    data = read_parquet(root / "arrow" / "*" / "*" / "*.parquet", FEATURES, chunk_bytes=4_000)
    gm = fit(rows[FEATURES].to_numpy())
    out = tmp_path / "labels.parquet"
    gm.write_predictions(data, out, keep_columns=["id", "year", "site"])
    result = pd.read_parquet(out).sort_values("id")
    np.testing.assert_array_equal(result["id"], rows["id"])
    np.testing.assert_array_equal(result["year"], rows["year"])
    assert result["site"].tolist() == rows["site"].tolist()
    assert result["year"].dtype == np.int64
    np.testing.assert_array_equal(result["label"], gm.predict(rows[FEATURES].to_numpy()))


def test_null_partition_key_is_not_a_feature(tmp_path):
    rows = frame(300)
    year = rows["year"].astype("Int64")
    year[year == 2020] = pd.NA
    table = pa.Table.from_pandas(rows.assign(year=year), preserve_index=False)
    pq.write_to_dataset(table, tmp_path / "nulls", partition_cols=["year"])
    assert any(p.name == "year=__HIVE_DEFAULT_PARTITION__" for p in (tmp_path / "nulls").iterdir())
    with pytest.raises(InvalidInputError, match="Partition key 'year' is null"):
        read_parquet(tmp_path / "nulls", [*FEATURES, "year"])
    # Kept as a column, the null stays a null.
    data = read_parquet(tmp_path / "nulls", FEATURES)
    out = tmp_path / "labels.parquet"
    fit(rows[FEATURES].to_numpy()).write_predictions(data, out, keep_columns=["id", "year"])
    result = pd.read_parquet(out).sort_values("id")
    assert result["year"].isna().sum() == (rows["year"] == 2020).sum()


@pytest.mark.cluster
def test_cli_reads_and_keeps_partition_keys(hive, tmp_path, cluster1):
    rows, root = hive
    model = tmp_path / "model.npz"
    fitted = run(
        "fit", root / "arrow", "--columns", "f0,f1,f2,year", "-k", "3", "--out", model,
        "--scheduler", cluster1.scheduler.address,
    )  # fmt: skip
    assert fitted.returncode == 0, fitted.stderr
    out = tmp_path / "labels.parquet"
    predicted = run(
        "predict", model, root / "arrow", "--keep-columns", "id,site,year", "--out", out,
        "--scheduler", cluster1.scheduler.address,
    )  # fmt: skip
    assert predicted.returncode == 0, predicted.stderr
    result = pd.read_parquet(out).sort_values("id")
    np.testing.assert_array_equal(result["year"], rows["year"])
    assert result["site"].tolist() == rows["site"].tolist()
