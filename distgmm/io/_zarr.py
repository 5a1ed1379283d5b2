"""Zarr arrays (v3, and v2 stores that zarr-python 3 reads) as dask arrays, and the Zarr writer."""

from __future__ import annotations

import os
from typing import Any

import dask.array as da
import fsspec
import zarr
import zarr.errors
import zarr.storage

from ..errors import InvalidInputError
from ._common import DEFAULT_CHUNK_BYTES, check_shape, chunk_rows, float_dtype, missing, url_to_fs


def store_of(path: str | os.PathLike, storage_options: dict[str, Any] | None, read_only: bool):
    """A zarr store for a local path or any fsspec URL."""
    fs, root = url_to_fs(path, storage_options)
    if isinstance(fs, fsspec.implementations.local.LocalFileSystem):
        return zarr.storage.LocalStore(root, read_only=read_only)
    return zarr.storage.FsspecStore.from_url(
        fs.unstrip_protocol(root), storage_options=storage_options, read_only=read_only
    )


def read_zarr(
    path: str | os.PathLike,
    component: str | None = None,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    storage_options: dict[str, Any] | None = None,
) -> da.Array:
    """Open a 2-D Zarr array as a dask array of rows, without reading it.

    Parameters
    ----------
    path : str or os.PathLike
        A local path or an fsspec URL (``file://``, ``s3://`` with ``s3fs`` installed,
        ``gs://`` with ``gcsfs``) of a Zarr array or group.
    component : str, optional
        The array's path inside a group, e.g. ``"embeddings"`` or ``"features/train"``.
    chunk_bytes : int
        Target bytes per dask chunk. Chunks hold whole rows (all columns) and a whole number
        of the store's row chunks (or shards), so no stored chunk is read twice.
    storage_options : dict, optional
        Passed to the fsspec file system (credentials, endpoint, ...).

    Returns
    -------
    dask.array.Array of shape (n_samples, n_features)
        float32 or float64 as stored; integers and booleans become float64, float16 float32.

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``, or no ``component`` in the group.
    InvalidInputError
        A group without ``component``, an array that is not 2-D, empty, or not numeric.
    """
    where = f"{path}" + (f" (component {component!r})" if component else "")
    try:
        node = zarr.open(store=store_of(path, storage_options, True), mode="r", path=component)
    except (FileNotFoundError, zarr.errors.NodeNotFoundError, KeyError) as err:
        raise missing(path if component is None else f"{path}/{component}", "Zarr array") from err
    if isinstance(node, zarr.Group):
        arrays = sorted(name for name, _ in node.arrays())
        listed = ", ".join(repr(a) for a in arrays) if arrays else "none"
        raise InvalidInputError(
            f"{where} is a Zarr group, not an array; name the array to read with "
            f"component= (arrays in this group: {listed})."
        )
    check_shape(node.shape, f"Zarr array {where}")
    dtype = float_dtype(node.dtype, f"Zarr array {where}")
    unit = (node.shards or node.chunks)[0]
    rows = chunk_rows(node.shape[0], node.shape[1] * dtype.itemsize, chunk_bytes, unit)
    X = da.from_zarr(node, chunks=(rows, node.shape[1]))
    return X if X.dtype == dtype else X.astype(dtype)
