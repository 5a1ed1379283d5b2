"""Example data: rows of a random mixture written to Zarr block by block."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from distgmm.synthetic import BLOCK_ROWS, mixture_labels, write_mixture_zarr


def test_rows_depend_only_on_the_arguments(tmp_path):
    n = BLOCK_ROWS + 1000  # two blocks, the last one partial
    first = write_mixture_zarr(tmp_path / "a.zarr", n, 3, 4, seed=7)
    second = write_mixture_zarr(tmp_path / "b.zarr", n, 3, 4, seed=7)
    a, b = zarr.open_array(tmp_path / "a.zarr")[:], zarr.open_array(tmp_path / "b.zarr")[:]
    assert a.shape == (n, 3)
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, b)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(first[name], second[name])
    other = write_mixture_zarr(tmp_path / "c.zarr", n, 3, 4, seed=8)
    assert not np.array_equal(other["means"], first["means"])


def test_labels_are_the_components_the_rows_came_from(tmp_path):
    n, d, k = 2 * BLOCK_ROWS, 2, 3
    truth = write_mixture_zarr(tmp_path / "x.zarr", n, d, k, separation=10.0, seed=1)
    X = zarr.open_array(tmp_path / "x.zarr")[:]
    labels = mixture_labels(n, d, k, separation=10.0, seed=1)
    assert labels.shape == (n,)
    np.testing.assert_allclose(np.bincount(labels, minlength=k) / n, truth["weights"], atol=0.01)
    for j in range(k):
        rows = X[labels == j]
        np.testing.assert_allclose(rows.mean(axis=0), truth["means"][j], atol=0.05)
        np.testing.assert_allclose(np.cov(rows.T), truth["covariances"][j], atol=0.05)


def test_float32_and_existing_output(tmp_path):
    path = tmp_path / "x.zarr"
    write_mixture_zarr(path, 10, 2, 2, dtype=np.float32)
    assert zarr.open_array(path).dtype == np.float32
    with pytest.raises(FileExistsError, match="overwrite"):
        write_mixture_zarr(path, 10, 2, 2)
    write_mixture_zarr(path, 20, 2, 2, overwrite=True)
    assert zarr.open_array(path).shape == (20, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.zarr"]  # no temporary left


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0, 2, 2), "n_samples"),
        ((10, 0, 2), "n_features"),
        ((10, 2, 1.5), "n_components"),
    ],
)
def test_bad_arguments(tmp_path, args, match):
    with pytest.raises(ValueError, match=match):
        write_mixture_zarr(tmp_path / "x.zarr", *args)
    with pytest.raises(ValueError, match="separation"):
        mixture_labels(10, 2, 2, separation=float("nan"))
    assert not (tmp_path / "x.zarr").exists()
