"""Reading data as dask arrays of rows (Zarr, Parquet, .npy) and writing predictions.

Readers only look at metadata: the data are read chunk by chunk inside the tasks of each
pass, so a dataset never needs to fit in memory. Chunks hold whole rows, about
``chunk_bytes`` each (default 64 MiB), and keep float32 data float32.
"""

from __future__ import annotations

import os
from typing import Any

import dask.array as da

from ..errors import InvalidInputError
from ._common import DEFAULT_CHUNK_BYTES, url_to_fs
from ._npy import read_npy
from ._parquet import ParquetRows, parquet_source, read_parquet
from ._write import output_format, write_predictions
from ._zarr import read_zarr

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "ParquetRows",
    "open_dataset",
    "output_format",
    "parquet_source",
    "read_npy",
    "read_parquet",
    "read_zarr",
    "write_predictions",
]


def open_dataset(
    path: str | os.PathLike,
    *,
    columns: list[str] | None = None,
    component: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    storage_options: dict[str, Any] | None = None,
    missing_chunks: str = "warn",
    missing_values: bool = False,
) -> da.Array:
    """Open ``path`` with the reader its format needs: Zarr, Parquet or ``.npy``.

    The format is told by the name (``.zarr``, ``.parquet``/``.parq`` or a glob, ``.npy``)
    or, for a folder, by its content (Zarr metadata, or Parquet files).

    Parameters
    ----------
    path : str or os.PathLike
    columns : list of str, optional
        Parquet feature columns.
    component : str, optional
        Array inside a Zarr group.
    chunk_bytes : int
    storage_options : dict, optional
    missing_chunks : {'warn', 'raise', 'ignore'}, default='warn'
        Zarr: what to do about absent stored chunks (see :func:`read_zarr`).
    missing_values : bool, default=False
        Parquet nulls and NaN are missing entries, read as NaN (for a fit with
        ``nan_policy`` 'marginalize' or 'omit'), not errors.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_features)
    """
    name = os.fspath(path).rstrip("/")
    kind = _format(name, storage_options)
    if columns is not None and kind != "parquet":
        raise InvalidInputError(f"columns= selects Parquet columns, but {name} is {kind} data.")
    if component is not None and kind != "zarr":
        raise InvalidInputError(f"component= names a Zarr array, but {name} is {kind} data.")
    if kind == "zarr":
        return read_zarr(
            path,
            component,
            chunk_bytes=chunk_bytes,
            storage_options=storage_options,
            missing_chunks=missing_chunks,
        )
    if kind == "parquet":
        return read_parquet(
            path,
            columns,
            chunk_bytes=chunk_bytes,
            storage_options=storage_options,
            missing_values=missing_values,
        )
    return read_npy(path, chunk_bytes=chunk_bytes)


def _format(name: str, storage_options) -> str:
    if name.endswith(".zarr"):
        return "zarr"
    if name.endswith((".parquet", ".parq")) or any(c in name for c in "*?["):
        return "parquet"
    if name.endswith(".npy"):
        return "npy"
    fs, root = url_to_fs(name, storage_options)
    if fs.isdir(root):
        entries = {p.rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(root, detail=False)}
        if entries & {"zarr.json", ".zarray", ".zgroup"}:
            return "zarr"
        if any(e.endswith((".parquet", ".parq")) for e in entries) or any(
            f.endswith((".parquet", ".parq")) for f in fs.find(root)
        ):
            return "parquet"
    elif not fs.exists(root):
        raise FileNotFoundError(2, "No data found at this path", name)
    raise InvalidInputError(
        f"Cannot tell the format of {name}: use a Zarr store (.zarr), Parquet files "
        "(.parquet, a folder of them or a glob) or a .npy file."
    )
