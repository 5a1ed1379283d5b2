"""Zarr arrays (v3, and v2 stores that zarr-python 3 reads) as dask arrays, and the Zarr writer."""

from __future__ import annotations

import math
import os
from typing import Any

import dask.array as da
import fsspec
import numpy as np
import zarr
import zarr.errors
import zarr.storage
from dask.base import tokenize

from .._callerwarn import warn_at_caller
from ..errors import InvalidInputError
from ._common import DEFAULT_CHUNK_BYTES, check_shape, chunk_rows, float_dtype, missing, url_to_fs

#: What ``read_zarr`` does about stored chunks absent from the store.
MISSING_CHUNKS = ("warn", "raise", "ignore")
#: How many chunk keys an error or warning names (it counts the rest).
_NAMED_KEYS = 5


def store_of(path: str | os.PathLike, storage_options: dict[str, Any] | None, read_only: bool):
    """A zarr store for a local path or any fsspec URL."""
    fs, root = url_to_fs(path, storage_options)
    if isinstance(fs, fsspec.implementations.local.LocalFileSystem):
        return zarr.storage.LocalStore(root, read_only=read_only)
    return zarr.storage.FsspecStore.from_url(
        fs.unstrip_protocol(root), storage_options=storage_options, read_only=read_only
    )


class ZarrRows:
    """A Zarr array read by row slices, whose read errors name the store and the chunks.

    zarr raises e.g. "Zstd decompression error" for a damaged chunk without saying which
    store or chunk it was; this re-raises any read error as an :class:`InvalidInputError`
    that does.
    """

    def __init__(self, node: zarr.Array, where: str) -> None:
        self.node, self.where = node, where
        self.shape, self.dtype, self.ndim = node.shape, node.dtype, 2
        self.unit = node.shards or node.chunks  # the stored objects: shards, else chunks
        self._token = tokenize("distgmm-zarr", node, where)
        # Where the chunks are, and which were absent when the store was opened (None: not
        # listed), so that a chunk removed since is told from one that holds the fill value.
        self.fs, self.folder, self.absent = None, "", None

    def __dask_tokenize__(self):
        return self._token

    def key(self, row_unit: int, col_unit: int) -> str:
        """The store key of a stored chunk (or shard), by its grid position."""
        return self.node.metadata.encode_chunk_key((row_unit, col_unit))

    def grid(self) -> tuple[int, int]:
        """Stored chunks (or shards) along the rows and the columns."""
        return tuple(math.ceil(n / u) for n, u in zip(self.shape, self.unit, strict=True))

    def keys_of_rows(self, start: int, stop: int) -> list[str]:
        """The keys of the stored chunks holding rows ``start`` to ``stop - 1``."""
        first, last = start // self.unit[0], max(start, stop - 1) // self.unit[0]
        cols = self.grid()[1]
        return [self.key(i, j) for i in range(first, last + 1) for j in range(cols)]

    def __getitem__(self, key):
        try:
            block = self.node[key]
        except Exception as err:
            rows = key[0] if isinstance(key, tuple) else key
            start, stop, _ = rows.indices(self.shape[0])
            start, stop, keys = self._culprit(start, stop)
            raise InvalidInputError(
                f"Cannot read rows {start} to {stop - 1} of the Zarr array {self.where} "
                f"(chunk {_named(keys)}): {type(err).__name__}: {err}. The store is damaged "
                "or was changed while it was read; rewrite it."
            ) from err
        if self.absent is not None:
            rows = key[0] if isinstance(key, tuple) else key
            self._check_present(block, rows.indices(self.shape[0])[0])
        return block

    def _check_present(self, block: np.ndarray, start: int) -> None:
        """Refuse stored chunks read as the fill value because they were removed since."""
        unit, fill = self.unit[0], np.asarray(self.node.fill_value)
        is_fill = np.isnan if np.isnan(fill) else fill.__eq__
        for first in range(start // unit * unit, start + len(block), unit):
            part = block[max(0, first - start) : first + unit - start]
            # the usual case, data and not only the fill value, is told by the first value
            if not (is_fill(part.flat[0]) and is_fill(part).all()):
                continue
            lo, hi = max(start, first), min(start + len(block), first + unit)
            gone = [
                k
                for k in self.keys_of_rows(lo, hi)
                if k not in self.absent and not self.fs.exists(f"{self.folder}/{k}")
            ]
            if gone:
                raise InvalidInputError(
                    f"Chunk {_named(gone)} (rows {lo} to {hi - 1}) of the Zarr array "
                    f"{self.where} was removed after the store was opened: zarr reads it as "
                    "the fill value. Restore it."
                )

    def _culprit(self, start: int, stop: int) -> tuple[int, int, list[str]]:
        """The first stored row chunk of ``start:stop`` that fails to read, if one does.

        Only run after a read failed, to name the damaged chunk rather than all of a
        dask chunk's stored chunks.
        """
        unit = self.unit[0]
        for first in range(start // unit * unit, stop, unit):
            lo, hi = max(start, first), min(stop, first + unit)
            try:
                self.node[lo:hi]
            except Exception:
                return lo, hi, self.keys_of_rows(lo, hi)
        return start, stop, self.keys_of_rows(start, stop)


def _named(keys: list[str]) -> str:
    shown = ", ".join(repr(k) for k in keys[:_NAMED_KEYS])
    more = len(keys) - _NAMED_KEYS
    return shown + (f" and {more} more" if more > 0 else "")


def _stored_keys(fs, folder: str) -> set[str]:
    """The keys under ``folder``: its files' paths relative to it, with ``/``."""
    if isinstance(fs, fsspec.implementations.local.LocalFileSystem):
        # os.walk lists names only; fsspec's find stats every file (6x slower, measured
        # on 10,000 chunks)
        return {
            os.path.relpath(os.path.join(parent, name), folder).replace(os.sep, "/")
            for parent, _, names in os.walk(folder)
            for name in names
        }
    prefix = folder.rstrip("/") + "/"
    return {p[len(prefix) :] for p in fs.find(folder) if p.startswith(prefix)}


def _check_chunks(rows: ZarrRows, fs, folder: str, missing_chunks: str) -> None:
    """Compare the store's chunk keys with the chunk grid (a listing of keys, no data read).

    zarr reads an absent chunk as the fill value, so a lost chunk file would be fitted as
    rows of zeros. Writers also omit chunks that hold only the fill value
    (``write_empty_chunks=False``), so an absent chunk is not always an error.
    """
    if missing_chunks == "ignore":
        return
    rows.fs, rows.folder = fs, folder
    present = _stored_keys(fs, folder)
    n_rows, n_cols = rows.grid()
    grid = ((i, rows.key(i, j)) for i in range(n_rows) for j in range(n_cols))
    absent = [(i, key) for i, key in grid if key not in present]
    rows.absent = frozenset(key for _, key in absent)
    if not absent:
        return
    unit = rows.unit[0]
    first = absent[0][0]
    where = (
        f"{len(absent)} of the {n_rows * n_cols} stored chunks of the Zarr array {rows.where} "
        f"are missing ({_named([k for _, k in absent])}; the first holds rows {first * unit} to "
        f"{min(rows.shape[0], (first + 1) * unit) - 1}). zarr reads a missing chunk as the "
        f"fill value ({np.asarray(rows.node.fill_value).item()!r})"
    )
    if missing_chunks == "raise":
        raise InvalidInputError(
            f"{where}. Restore the chunks, or pass missing_chunks='warn' (CLI: "
            "--missing-chunks warn) if they were left out because they hold only the fill value."
        )
    warn_at_caller(  # read_zarr's caller, or open_dataset's
        f"{where}, which is right only if they were left out because they hold only that "
        "value; pass missing_chunks='raise' (CLI: --missing-chunks raise) to refuse such a store.",
        UserWarning,
    )


def read_zarr(
    path: str | os.PathLike,
    component: str | None = None,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    storage_options: dict[str, Any] | None = None,
    missing_chunks: str = "warn",
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
    missing_chunks : {'warn', 'raise', 'ignore'}, default='warn'
        What to do when stored chunks (or shards) are absent, found by listing the store's
        keys (no data is read): zarr reads them as the fill value. 'warn' warns (writers
        leave out chunks holding only the fill value, so this can be right), 'raise'
        refuses the store, 'ignore' skips the listing.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_features)
        float32 or float64 as stored; integers and booleans become float64, float16 float32.

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``, or no ``component`` in the group.
    InvalidInputError
        A group without ``component``, an array that is not 2-D, empty, or not numeric;
        missing chunks with ``missing_chunks='raise'``. A chunk that cannot be read
        (damaged, or removed since) raises when the chunk is read, naming the store, the
        rows and the chunk's key.
    """
    if missing_chunks not in MISSING_CHUNKS:
        raise InvalidInputError(
            f"missing_chunks must be one of {MISSING_CHUNKS}, got {missing_chunks!r}."
        )
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
    rows = ZarrRows(node, where)
    fs, root = url_to_fs(path, storage_options)
    folder = root.rstrip("/") + (f"/{component.strip('/')}" if component else "")
    _check_chunks(rows, fs, folder, missing_chunks)
    per_chunk = chunk_rows(node.shape[0], node.shape[1] * dtype.itemsize, chunk_bytes, rows.unit[0])
    X = da.from_array(
        rows,
        chunks=(per_chunk, node.shape[1]),
        name=f"from-zarr-{tokenize(rows, per_chunk)}",
        meta=np.empty((0, 0), node.dtype),
    )
    return X if X.dtype == dtype else X.astype(dtype)
