"""Readers (Zarr, Parquet, .npy; local and fsspec URLs), writers, and their errors."""

from __future__ import annotations

import os
import uuid

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zarr

from distgmm import GaussianMixture, InvalidInputError, read_npy, read_parquet, read_zarr
from distgmm.io import open_dataset, parquet_source

MEANS = np.array([[0.0, 0.0, 0.0], [6.0, 6.0, 6.0], [12.0, 12.0, 12.0]])


def blobs(n=3000, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return (MEANS[rng.integers(0, 3, n)] + rng.standard_normal((n, 3))).astype(dtype)


#: Unit precisions of three components by covariance type: with MEANS, a start given in full,
#: so files, numpy and dask input fit from the same parameters.
PRECISIONS = {
    "full": np.stack([np.eye(3)] * 3),
    "tied": np.eye(3),
    "diag": np.ones((3, 3)),
    "spherical": np.ones(3),
}


def fit(X, covariance_type="full", **kw):
    return GaussianMixture(
        3,
        covariance_type=covariance_type,
        weights_init=np.full(3, 1 / 3),
        means_init=MEANS,
        precisions_init=PRECISIONS[covariance_type],
        tol=1e-8,
        max_iter=500,
        random_state=0,
        **kw,
    ).fit(X)


def assert_same_model(a, b, rtol=1e-10):
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=rtol)
    np.testing.assert_allclose(a.means_, b.means_, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=rtol)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)


def write_zarr(path, X, chunks=(400, 3), **kw):
    z = zarr.create_array(store=str(path), shape=X.shape, chunks=chunks, dtype=X.dtype, **kw)
    z[:] = X
    return str(path)


def write_parquet_parts(folder, X, parts=3, row_group_size=350, **kw):
    folder.mkdir()
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    frame.insert(0, "id", np.arange(len(X), dtype=np.int64))
    frame["name"] = "row"
    bounds = np.linspace(0, len(X), parts + 1).astype(int)
    for i in range(parts):
        part = pa.Table.from_pandas(frame.iloc[bounds[i] : bounds[i + 1]], preserve_index=False)
        pq.write_table(part, folder / f"part-{i}.parquet", row_group_size=row_group_size, **kw)
    return str(folder)


FEATURES = ["f0", "f1", "f2"]


# ---------------------------------------------------------------- fits equal in-memory fits
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fmt", ["zarr", "parquet", "npy"])
def test_fit_on_files_equals_fit_in_memory(tmp_path, fmt, dtype):
    X = blobs(dtype=dtype)
    if fmt == "zarr":
        data = read_zarr(write_zarr(tmp_path / "x.zarr", X), chunk_bytes=10_000)
    elif fmt == "parquet":
        data = read_parquet(write_parquet_parts(tmp_path / "x", X), FEATURES, chunk_bytes=9_000)
    else:
        np.save(tmp_path / "x.npy", X)
        data = read_npy(tmp_path / "x.npy", chunk_bytes=10_000)
    assert data.dtype == dtype
    assert data.numblocks == (len(data.chunks[0]), 1)
    assert data.numblocks[0] > 2
    np.testing.assert_array_equal(data.compute(), X)
    assert_same_model(fit(data), fit(X))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_zarr_fit_on_cluster_equals_in_memory(tmp_path, cluster2, covariance_type):
    X = blobs(4000)
    data = read_zarr(write_zarr(tmp_path / "x.zarr", X), chunk_bytes=20_000)
    streamed = fit(data, covariance_type, client=cluster2, persist=False)
    assert_same_model(streamed, fit(X, covariance_type))


def test_zarr_chunks_hold_whole_stored_chunks(tmp_path):
    X = blobs(5000)
    path = write_zarr(tmp_path / "x.zarr", X, chunks=(300, 2))
    data = read_zarr(path, chunk_bytes=1000 * 3 * 8)
    assert data.chunks[0][0] == 900  # 1000 rows wanted, rounded to whole 300-row chunks
    assert data.chunks[1] == (3,)
    sharded = write_zarr(tmp_path / "s.zarr", X, chunks=(100, 3), shards=(500, 3))
    assert read_zarr(sharded, chunk_bytes=1200 * 3 * 8).chunks[0][0] == 1000
    assert read_zarr(path).numblocks == (1, 1)  # 120 kB: one chunk at the default size


def test_zarr_group_component_and_v2(tmp_path):
    X = blobs(600)
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_group("features").create_array("train", data=X, chunks=(100, 3))
    np.testing.assert_array_equal(read_zarr(tmp_path / "g.zarr", "features/train"), X)
    v2 = zarr.create_array(
        store=str(tmp_path / "v2.zarr"),
        shape=X.shape,
        chunks=(100, 3),
        dtype="i4",
        zarr_format=2,
    )
    v2[:] = np.round(X)
    data = read_zarr(tmp_path / "v2.zarr")
    assert data.dtype == np.float64
    np.testing.assert_array_equal(data, np.round(X))


def test_fsspec_urls(tmp_path):
    X = blobs(900)
    write_zarr(tmp_path / "x.zarr", X)
    np.testing.assert_array_equal(read_zarr(f"file://{tmp_path}/x.zarr"), X)
    # memory:// lives in this process: fit with threads, not on a cluster's processes
    root = f"memory://{uuid.uuid4().hex}"
    z = zarr.create_array(store=f"{root}/x.zarr", shape=X.shape, chunks=(300, 3), dtype="f8")
    z[:] = X
    data = read_zarr(f"{root}/x.zarr", chunk_bytes=7200)
    assert data.numblocks[0] == 3
    with dask.config.set(scheduler="threads"):
        assert_same_model(fit(data), fit(X))
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2]})
    import fsspec

    fs = fsspec.filesystem("memory")
    for i, rows in enumerate((slice(0, 400), slice(400, 900))):
        with fs.open(f"{root}/pq/part-{i}.parquet", "wb") as f:
            pq.write_table(table[rows], f)
    with dask.config.set(scheduler="threads"):
        assert_same_model(fit(read_parquet(f"{root}/pq/*.parquet", chunk_bytes=5000)), fit(X))


# ---------------------------------------------------------------- Parquet specifics
def test_parquet_file_folder_glob_and_order(tmp_path):
    X = blobs(1200)
    folder = tmp_path / "d"
    folder.mkdir()
    frame = pd.DataFrame(X, columns=FEATURES)
    # natural order: part-2 before part-10, whatever the listing order
    for i, start in ((10, 800), (2, 400), (1, 0)):
        frame.iloc[start : start + 400].to_parquet(folder / f"part-{i}.parquet")
    (folder / "_SUCCESS").write_text("")
    frame.iloc[:5].to_parquet(folder / "_metadata_like.parquet")  # skipped: leading _
    np.testing.assert_array_equal(read_parquet(folder), X)
    np.testing.assert_array_equal(read_parquet(f"{folder}/part-*.parquet"), X)
    np.testing.assert_array_equal(read_parquet(folder / "part-2.parquet"), X[400:800])


def test_parquet_dtypes_lists_and_index(tmp_path):
    n = 500
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((n, 4)).astype(np.float32)
    table = pa.table(
        {
            "fixed": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), 4),
            "varlist": pa.array(list(vectors[:, :2])),
            "f32": pa.array(vectors[:, 0]),
            "i": pa.array(np.arange(n, dtype=np.int32)),
        }
    )
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=100)
    only32 = read_parquet(tmp_path / "t.parquet", ["fixed", "varlist", "f32"])
    assert only32.dtype == np.float32
    assert only32.shape == (n, 7)
    np.testing.assert_array_equal(only32, np.hstack([vectors, vectors[:, :2], vectors[:, :1]]))
    mixed = read_parquet(tmp_path / "t.parquet", ["i", "f32"])
    assert mixed.dtype == np.float64
    np.testing.assert_array_equal(mixed[:, 0], np.arange(n))
    indexed = pd.DataFrame(vectors[:, :2], columns=["a", "b"], index=np.arange(n) * 7)
    indexed.to_parquet(tmp_path / "idx.parquet")
    assert read_parquet(tmp_path / "idx.parquet").shape == (n, 2)  # the index is no feature


# ---------------------------------------------------------------- writers
def test_write_zarr_outputs_row_aligned(tmp_path):
    X = blobs(2000)
    data = read_zarr(write_zarr(tmp_path / "x.zarr", X, chunks=(250, 3)), chunk_bytes=12_000)
    gm = fit(X)
    out = tmp_path / "labels.zarr"
    assert gm.write_predictions(data, out, proba=True, log_likelihood=True) == str(out)
    group = zarr.open_group(str(out), mode="r")
    assert group["labels"].chunks == (data.chunks[0][0],)
    np.testing.assert_array_equal(group["labels"][:], gm.predict(X))
    np.testing.assert_allclose(group["probabilities"][:], gm.predict_proba(X), rtol=1e-12)
    np.testing.assert_allclose(group["log_likelihood"][:], gm.score_samples(X), rtol=1e-12)
    labels_only = tmp_path / "only.zarr"
    gm.write_predictions(X, labels_only)  # numpy input too
    assert sorted(zarr.open_group(str(labels_only), mode="r").array_keys()) == ["labels"]


def test_write_parquet_keeps_columns(tmp_path, cluster2):
    X = blobs(2100)
    data = read_parquet(write_parquet_parts(tmp_path / "in", X), FEATURES, chunk_bytes=9_000)
    gm = fit(X)
    out = tmp_path / "labels.parquet"
    gm.set_params(client=cluster2).write_predictions(
        data, out, proba=True, log_likelihood=True, keep_columns=["id", "name"]
    )
    result = pd.read_parquet(out)
    assert list(result.columns) == ["id", "name", "label", "proba_0", "proba_1", "proba_2",
                                    "log_likelihood"]  # fmt: skip
    np.testing.assert_array_equal(result["id"], np.arange(len(X)))
    np.testing.assert_array_equal(result["label"], gm.predict(X))
    np.testing.assert_allclose(result[["proba_0", "proba_1", "proba_2"]], gm.predict_proba(X))
    assert len(os.listdir(out)) == data.numblocks[0]
    assert sorted(os.listdir(tmp_path)) == ["in", "labels.parquet"]  # no temporary left


def test_existing_output_kept_unless_overwrite(tmp_path):
    X = blobs(600)
    gm = fit(X)
    out = tmp_path / "out.zarr"
    gm.write_predictions(X, out)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        gm.write_predictions(X, out, proba=True)
    assert "probabilities" not in zarr.open_group(str(out), mode="r")
    gm.write_predictions(X, out, proba=True, overwrite=True)
    assert "probabilities" in zarr.open_group(str(out), mode="r")
    assert sorted(os.listdir(tmp_path)) == ["out.zarr"]


@pytest.mark.parametrize("name", ["out.zarr", "out.parquet"])
def test_failed_write_leaves_nothing_and_keeps_old_output(tmp_path, name):
    X = blobs(1200)
    gm = fit(X)
    bad = X.copy()
    bad[1100, 1] = np.nan  # in the last chunk: earlier chunks are written first
    data = da.from_array(bad, chunks=(300, 3))
    with pytest.raises(InvalidInputError, match="NaN or infinity"):
        gm.write_predictions(data, tmp_path / name)
    assert os.listdir(tmp_path) == []
    gm.write_predictions(X, tmp_path / name)
    with pytest.raises(InvalidInputError, match="NaN or infinity"):
        gm.write_predictions(data, tmp_path / name, overwrite=True)
    assert os.listdir(tmp_path) == [name]  # the old output, intact and complete
    if name.endswith(".zarr"):
        labels = zarr.open_group(str(tmp_path / name), mode="r")["labels"][:]
    else:
        labels = pd.read_parquet(tmp_path / name)["label"].to_numpy()
    np.testing.assert_array_equal(labels, gm.predict(X))


def test_keep_columns_errors(tmp_path):
    X = blobs(700)
    data = read_parquet(write_parquet_parts(tmp_path / "in", X), FEATURES)
    gm = fit(X)
    with pytest.raises(InvalidInputError, match="needs Parquet output"):
        gm.write_predictions(data, tmp_path / "o.zarr", keep_columns=["id"])
    with pytest.raises(InvalidInputError, match=r"exactly as distgmm.read_parquet"):
        gm.write_predictions(data[:500], tmp_path / "o.parquet", keep_columns=["id"])
    with pytest.raises(InvalidInputError, match=r"\['nope'\] are not columns"):
        gm.write_predictions(data, tmp_path / "o.parquet", keep_columns=["nope"])
    with pytest.raises(InvalidInputError, match=r"end its name with .zarr or .parquet"):
        gm.write_predictions(data, tmp_path / "o.csv")
    assert parquet_source(data) is not None
    assert parquet_source(data[:5]) is None
    assert sorted(os.listdir(tmp_path)) == ["in"]


# ---------------------------------------------------------------- bad input
def test_missing_paths(tmp_path):
    for call in (
        lambda: read_zarr(tmp_path / "nope.zarr"),
        lambda: read_parquet(tmp_path / "nope.parquet"),
        lambda: read_parquet(f"{tmp_path}/*.parquet"),
        lambda: read_npy(tmp_path / "nope.npy"),
        lambda: open_dataset(tmp_path / "nope"),
    ):
        with pytest.raises(FileNotFoundError, match=r"nope|\*.parquet"):
            call()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="matched none"):
        read_parquet(empty)


def test_zarr_bad_input(tmp_path):
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("emb", shape=(10, 2), dtype="f4")
    group.create_array("vector", shape=(10,), dtype="f8")
    group.create_array("cube", shape=(4, 3, 2), dtype="f8")
    group.create_array("none", shape=(0, 3), dtype="f8")
    group.create_array("text", shape=(10, 2), dtype=str)
    group.create_array("complex", shape=(10, 2), dtype="c16")
    cases = {
        None: "is a Zarr group.*component=.*'emb'",
        "vector": "1-D.*shape \\(n_samples, 1\\)",
        "cube": "3-D",
        "none": "is empty",
        "text": "not numeric",
        "complex": "not numeric",
    }
    for component, message in cases.items():
        with pytest.raises(InvalidInputError, match=message):
            read_zarr(tmp_path / "g.zarr", component)
    with pytest.raises(FileNotFoundError, match=r"g.zarr/missing"):
        read_zarr(tmp_path / "g.zarr", "missing")


def test_parquet_bad_input(tmp_path):
    X = blobs(300)
    folder = write_parquet_parts(tmp_path / "ok", X)
    with pytest.raises(InvalidInputError, match=r"non-numeric column\(s\) \['name'\]"):
        read_parquet(folder)
    with pytest.raises(InvalidInputError, match=r"no column\(s\) \['f9'\].*'f0'"):
        read_parquet(folder, ["f0", "f9"])
    with pytest.raises(InvalidInputError, match=r"'name'.*not numeric"):
        read_parquet(folder, ["f0", "name"])
    nulls = pa.table({"a": pa.array([1.0, None, 3.0]), "b": pa.array([1.0, 2.0, 3.0])})
    pq.write_table(nulls, tmp_path / "nulls.parquet")
    with pytest.raises(InvalidInputError, match=r"'a' has 1 null.*nulls.parquet"):
        read_parquet(tmp_path / "nulls.parquet")
    # without statistics in the footer, the chunk that holds the null reports it
    pq.write_table(nulls, tmp_path / "nostats.parquet", write_statistics=False)
    lazy = read_parquet(tmp_path / "nostats.parquet")
    with pytest.raises(InvalidInputError, match=r"'a' has 1 null.*nostats.parquet"):
        GaussianMixture(1).fit(lazy)
    ragged = pa.table({"v": pa.array([[1.0, 2.0], [3.0, 4.0], [5.0]])})
    pq.write_table(ragged, tmp_path / "ragged.parquet")
    with pytest.raises(InvalidInputError, match="'v' is ragged"):
        read_parquet(tmp_path / "ragged.parquet").compute()
    pq.write_table(pa.table({"a": pa.array([], pa.float64())}), tmp_path / "empty.parquet")
    with pytest.raises(InvalidInputError, match="no rows"):
        read_parquet(tmp_path / "empty.parquet")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    pq.write_table(pa.table({"a": pa.array([1.0, 2.0])}), mixed / "p0.parquet")
    pq.write_table(pa.table({"a": pa.array(["x", "y"])}), mixed / "p1.parquet")
    with pytest.raises(InvalidInputError, match="disagree on column 'a'"):
        read_parquet(mixed)
    (tmp_path / "garbage.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInputError, match="not a readable Parquet file"):
        read_parquet(tmp_path / "garbage.parquet")


def test_npy_and_format_bad_input(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([[1.0], [2.0, 3.0]], dtype=object))
    with pytest.raises(InvalidInputError, match=r"Object \(ragged\) arrays"):
        read_npy(tmp_path / "objects.npy")
    np.save(tmp_path / "flat.npy", np.arange(5.0))
    with pytest.raises(InvalidInputError, match="1-D"):
        read_npy(tmp_path / "flat.npy")
    (tmp_path / "data.csv").write_text("1,2\n")
    with pytest.raises(InvalidInputError, match="Cannot tell the format"):
        open_dataset(tmp_path / "data.csv")
    np.save(tmp_path / "ok.npy", blobs(50))
    with pytest.raises(InvalidInputError, match="columns= selects Parquet columns"):
        open_dataset(tmp_path / "ok.npy", columns=["a"])


def test_open_dataset_dispatch(tmp_path):
    X = blobs(400)
    write_zarr(tmp_path / "plainname", X)  # a Zarr store without the suffix
    np.testing.assert_array_equal(open_dataset(tmp_path / "plainname"), X)
    folder = write_parquet_parts(tmp_path / "pq", X)
    np.testing.assert_array_equal(open_dataset(folder, columns=FEATURES), X)
    np.save(tmp_path / "x.npy", X)
    np.testing.assert_array_equal(open_dataset(tmp_path / "x.npy"), X)


def test_reads_are_fused_into_pass_tasks(tmp_path, make_mixture):
    """A streamed pass has one task per chunk (read + statistics), plus parameters and tree."""
    from distgmm.engine import DaskPasses
    from distgmm.families.gaussian.kernel import prepare_kmeans

    X, _ = make_mixture(4000)
    data = read_zarr(write_zarr(tmp_path / "x.zarr", X, chunks=(100, 3)), chunk_bytes=4800)
    passes = DaskPasses(data, persist=False)
    graph = passes.graph([prepare_kmeans(MEANS, "full", np.zeros(3))], np.zeros(3))
    n_chunks = data.numblocks[0]
    tree = -(-n_chunks // 8) + 1  # 20 chunks: 3 groups of up to 8, then their sum
    assert n_chunks == 20
    # chunk tasks + tree + the parameters key + the zarr array's key
    assert len(dict(graph.dask)) == n_chunks + tree + 2
    again = passes.graph([prepare_kmeans(MEANS + 1, "full", np.zeros(3))], np.zeros(3))
    assert len(dict(again.dask)) == len(dict(graph.dask))  # does not grow pass to pass


# ---------------------------------------------------------------- damaged or changed files
def damage(path, offset=10):
    """Overwrite bytes of a file in place, as a failing disk or a bad copy would."""
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\xff" * 40)


@pytest.mark.parametrize(
    ("layout", "lost", "rows"),
    [
        pytest.param({}, "c/2/0", "800 to 1199", id="v3"),
        pytest.param({"shards": (800, 3)}, "c/1/0", "800 to 1599", id="v3-sharded"),
        pytest.param({"zarr_format": 2}, "2.0", "800 to 1199", id="v2"),
    ],
)
def test_zarr_missing_chunks_warn_or_raise(tmp_path, layout, lost, rows):
    X = blobs(3000)
    path = write_zarr(tmp_path / "x.zarr", X, **layout)
    os.remove(os.path.join(path, *lost.split("/")))
    # zarr reads the lost chunk as its fill value: zeros, fitted as if they were data
    message = rf"1 of the \d+ stored chunks of the Zarr array .*x.zarr are missing \('{lost}'"
    with pytest.warns(UserWarning, match=rf"{message}; the first holds rows {rows}\)") as w:
        data = read_zarr(path)
    assert (data.compute() == 0).all(axis=1).sum() > 0
    with pytest.warns(UserWarning, match=message) as opened:
        open_dataset(path)
    assert w[0].filename == opened[0].filename == __file__  # the user's line, both ways
    with pytest.raises(InvalidInputError, match=rf"{message}.*Restore the chunks"):
        read_zarr(path, missing_chunks="raise")
    with pytest.raises(InvalidInputError, match=rf"{message}"):
        open_dataset(path, missing_chunks="raise")
    read_zarr(path, missing_chunks="ignore")  # no listing, no warning
    with pytest.raises(InvalidInputError, match="missing_chunks must be one of"):
        read_zarr(path, missing_chunks="fail")


def test_zarr_complete_store_and_group_component_do_not_warn(tmp_path):
    X = blobs(900)
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("emb", shape=X.shape, chunks=(200, 2), dtype="f8")[:] = X
    group.create_array("other", shape=(5, 2), dtype="f8")  # never written: all chunks absent
    np.testing.assert_array_equal(read_zarr(tmp_path / "g.zarr", "emb", missing_chunks="raise"), X)


def test_zarr_damaged_chunk_names_its_key_and_rows(tmp_path):
    X = blobs(3000)
    path = write_zarr(tmp_path / "x.zarr", X)
    damage(os.path.join(path, "c", "2", "0"))
    data = read_zarr(path)
    # one dask chunk of 8 stored chunks: the error names the one that failed
    assert data.numblocks[0] == 1
    with pytest.raises(
        InvalidInputError, match=r"rows 800 to 1199 of the Zarr array .*x.zarr \(chunk 'c/2/0'\)"
    ):
        fit(data)


@pytest.mark.parametrize("extra", [-100, 50])
def test_parquet_rewritten_after_planning_is_refused(tmp_path, extra):
    X = blobs(3000)
    folder = write_parquet_parts(tmp_path / "pq", X)
    data = read_parquet(folder, FEATURES)
    # part 1 (1000 rows) is rewritten with more or fewer rows after the chunks were planned
    # from its footer; its row groups stay 350 rows long, so the planned ones still read
    again = pa.table({c: X[1000 : 2000 + extra, j] for j, c in enumerate(FEATURES)})
    pq.write_table(again, os.path.join(folder, "part-1.parquet"), row_group_size=350)
    planned = 1000
    with pytest.raises(
        InvalidInputError,
        match=rf"part-1.parquet changed after it was opened.* {planned + extra} rows, where "
        rf"{planned} were planned",
    ):
        fit(data)


def test_parquet_damaged_pages_name_the_file(tmp_path):
    X = blobs(3000)
    table = pa.table({c: X[:, j] for j, c in enumerate(FEATURES)})
    for name, checksums in (("sums.parquet", True), ("plain.parquet", False)):
        pq.write_table(table, tmp_path / name, row_group_size=500, write_page_checksum=checksums)
        size = os.path.getsize(tmp_path / name)
        damage(tmp_path / name, size // 3)
    # with page checksums, pyarrow's error, naming the file
    data = read_parquet(tmp_path / "sums.parquet")
    with pytest.raises(InvalidInputError, match=r"Cannot read row groups .*sums.parquet: .*CRC"):
        fit(data)
    # without, the damaged values decode to NaN: said with the file's name and the column
    with pytest.raises(
        InvalidInputError, match=r"column 'f\d' holds NaN or infinity .*plain.parquet.*damaged"
    ):
        fit(read_parquet(tmp_path / "plain.parquet"))
    os.remove(tmp_path / "sums.parquet")  # gone since it was opened
    with pytest.raises(InvalidInputError, match=r"Cannot read row groups .*sums.parquet"):
        data.compute()


def test_npy_rewritten_or_removed_after_opening_is_refused(tmp_path):
    X = blobs(1000)
    np.save(tmp_path / "x.npy", X)
    data = read_npy(tmp_path / "x.npy")
    np.save(tmp_path / "x.npy", X[:900])  # 100 rows fewer, once the chunks were planned
    with pytest.raises(InvalidInputError, match=r"x.npy changed after it was opened.*1000 rows"):
        fit(data)
    os.remove(tmp_path / "x.npy")
    with pytest.raises(InvalidInputError, match=r"Cannot read the .npy file .*x.npy"):
        data.compute()


def test_zarr_chunk_removed_after_opening_is_refused(tmp_path):
    X = blobs(3000)
    X[800:1200] = 0.0  # a chunk of fill values: written, or left out by the writer
    kept = write_zarr(tmp_path / "kept.zarr", X, config={"write_empty_chunks": True})
    left_out = write_zarr(tmp_path / "left_out.zarr", X)
    assert not os.path.exists(os.path.join(left_out, "c", "2", "0"))
    expected = fit(X)
    assert_same_model(fit(read_zarr(kept, missing_chunks="raise")), expected)
    with pytest.warns(UserWarning, match="'c/2/0'"):
        data = read_zarr(left_out)
    assert_same_model(fit(data), expected)  # known absent when opened: the fill value
    data = read_zarr(kept)
    os.remove(os.path.join(kept, "c", "3", "0"))
    with pytest.raises(
        InvalidInputError, match=r"Chunk 'c/3/0' \(rows 1200 to 1599\) .* was removed after"
    ):
        fit(data)
