"""Per-row predictions (labels, probabilities, log-likelihood) written to Zarr or Parquet.

One task per input chunk reads the chunk, runs the E-step once for all requested outputs
and writes its rows, so the data are read once and no result is gathered on the client.
Everything is written under a temporary name that is renamed to the output's name only
when every chunk succeeded (see :mod:`distgmm.io._output`).
"""

from __future__ import annotations

import os
from typing import Any

import dask
import dask.array as da
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import zarr
from dask import delayed

from .._frames import is_dask_frame
from .._sizing import output_rows, split_rows
from .._waits import compute
from ..core.family import PassModel
from ..core.predict import check_finite_rows, chunk_predictions
from ..errors import InvalidInputError
from ._common import DEFAULT_CHUNK_BYTES, chunk_rows
from ._output import atomic_output
from ._zarr import store_of

#: Stored name and ``chunk_predictions`` output of each result.
_OUTPUTS = {"labels": "labels", "probabilities": "proba", "log_likelihood": "score"}


def output_format(path: str | os.PathLike) -> str:
    """'zarr' or 'parquet', from the output path's suffix."""
    name = os.fspath(path).rstrip("/")
    if name.endswith(".zarr"):
        return "zarr"
    if name.endswith((".parquet", ".parq")):
        return "parquet"
    raise InvalidInputError(
        f"Cannot tell the output format of {name!r}: end its name with .zarr or .parquet."
    )


def write_predictions(
    X,
    path: str | os.PathLike,
    model: PassModel,
    origin: np.ndarray,
    *,
    proba: bool = False,
    log_likelihood: bool = False,
    keep_columns: list[str] | None = None,
    source=None,
    overwrite: bool = False,
    storage_options: dict[str, Any] | None = None,
    client=None,
) -> str:
    """Write each row's predicted component (and optionally more) to ``path``.

    Parameters
    ----------
    X : ndarray or dask.array.Array of shape (n_samples, n_features)
        Validated data; rows are written in their order.
    path : str or os.PathLike
        ``*.zarr``: a group with arrays ``labels`` (int64, ``(n_samples,)``), and, if asked
        for, ``probabilities`` (float64, ``(n_samples, n_components)``) and
        ``log_likelihood`` (float64, ``(n_samples,)``), chunked like ``X``'s rows.
        ``*.parquet``: a folder of ``part-00000.parquet``, ... files, one per chunk of
        ``X`` in row order, with columns ``keep_columns``, ``label``, ``proba_0`` ...
        ``proba_{K-1}`` and ``log_likelihood``.
    model, origin
        The fitted model's E-step parameters (a family's ``prepare``).
    proba, log_likelihood : bool
        Also write the responsibilities, and the log-likelihood of each row.
    keep_columns : list of str, optional
        Parquet output only: columns of ``source`` (e.g. an ``id``) copied into each row.
    source : ParquetRows or dask DataFrame, optional
        The Parquet data ``X`` was read from (:func:`~distgmm.io.parquet_source`), or a
        dask DataFrame with ``X``'s rows in order (the table ``X`` was encoded from), its
        columns aligned with ``X``'s rows by position.
    overwrite : bool
        Replace an existing output (only once the new one is complete). Without it nothing
        is replaced, not even a file or folder that appears at ``path`` while this one is
        written.
    storage_options : dict, optional
        For an fsspec URL ``path``. On an object store the complete output is copied onto
        ``path``, which is not atomic (see :mod:`distgmm.io._output`).
    client : distributed.Client, optional
        Where to run; default: Dask's current scheduler.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    FileExistsError
        ``path`` exists, or appeared meanwhile, and ``overwrite`` is false; it is left as
        it is, and only this call's temporary output is deleted.
    """
    kind = output_format(path)
    outs = ["labels"] + ["probabilities"] * proba + ["log_likelihood"] * log_likelihood
    if not isinstance(X, da.Array):
        rows = chunk_rows(len(X), X.shape[1] * X.dtype.itemsize, DEFAULT_CHUNK_BYTES)
        X = da.from_array(X, chunks=(rows, -1))
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    keep = list(keep_columns or [])
    kept_columns = []  # a dask DataFrame source's kept columns, chunked like X's rows
    if keep:
        _check_keep(X, keep, source, kind)
        if is_dask_frame(source):
            kept_columns, source = _frame_columns(source, keep, X.chunks[0], client), None
    with atomic_output(path, overwrite, storage_options) as (fs, tmp):
        if kind == "zarr":  # each task writes whole chunks of outputs of bounded size
            X = _regular(split_rows(X, output_rows(_row_bytes(outs, model.n_components))))
            group = zarr.open_group(
                store=store_of(fs.unstrip_protocol(tmp), storage_options, False), mode="w-"
            )
            group.attrs["distgmm"] = {"n_components": model.n_components, "outputs": outs}
            targets = [_zarr_target(group, name, len(X), X.chunks[0][0], model) for name in outs]
            task, shared = _zarr_block, (targets, outs, model, origin)
        else:
            fs.makedirs(tmp, exist_ok=True)
            width = max(5, len(str(X.numblocks[0] - 1)))
            # the row-group size is decided here, not on the workers (one budget for all)
            step = output_rows(_row_bytes(outs, model.n_components))
            target = (fs, tmp, width, keep, source, step)
            task, shared = _parquet_block, (target, outs, model, origin)
        written = da.map_blocks(
            _reporting_errors,
            X,
            *kept_columns,
            task=task,
            shared=delayed(shared, traverse=False),
            chunks=((1,) * X.numblocks[0], (1,)),
            dtype=object,
            meta=np.empty((0, 0), object),
        )
        done = compute(client, written) if client is not None else dask.compute(written)[0]
        errors = [r for r in done.ravel() if isinstance(r, BaseException)]
        if errors:
            raise errors[0]
        if sum(done.ravel()) != X.shape[0]:
            raise RuntimeError(f"wrote {sum(done.ravel())} of {X.shape[0]} rows to {path}")
    return os.fspath(path)


def _check_keep(X, keep: list[str], source, kind: str) -> None:
    if kind != "parquet":
        raise InvalidInputError("keep_columns needs Parquet output (a path ending in .parquet).")
    if is_dask_frame(source):
        names, where = [str(c) for c in source.columns], "X"
    elif source is None or tuple(source.chunks) != X.chunks[0]:
        raise InvalidInputError(
            "keep_columns needs X exactly as distgmm.read_parquet returned it (not sliced or "
            "rechunked), so that the kept columns line up with the rows."
        )
    else:
        names, where = source.names, source.files[0]
    absent = [c for c in keep if c not in names]
    if absent:
        raise InvalidInputError(
            f"keep_columns {absent} are not columns of {where}; its columns are {names}."
        )
    clash = [c for c in keep if c in ("label", "log_likelihood") or c.startswith("proba_")]
    if clash:
        raise InvalidInputError(f"keep_columns {clash} clash with the names of the outputs.")


def _frame_columns(frame, keep: list[str], rows: tuple[int, ...], client) -> list[da.Array]:
    """The ``keep`` columns of a dask DataFrame as ``(n, 1)`` arrays chunked as ``rows``.

    Aligned by row position, whatever the frame's partitions: Dask plans a Parquet read
    for each selection of its columns, fusing partitions by the share of the columns read,
    so that the kept columns' partitions need not be those of the rows predicted. Their
    lengths take a pass over the kept columns.
    """
    selected = frame.map_partitions(_select, keep, meta=frame._meta[keep])
    parts = selected.to_delayed()
    counts = delayed(tuple)([delayed(len)(part) for part in parts])
    lengths = compute(client, counts) if client is not None else counts.compute()
    if sum(lengths) != sum(rows):
        raise InvalidInputError(
            f"keep_columns: X has {sum(rows)} rows, its columns {keep} {sum(lengths)}."
        )
    columns = []
    for name in keep:
        dtype = frame._meta[name].to_numpy().dtype
        pieces = [
            da.from_delayed(delayed(_values)(part, name), shape=(n, 1), dtype=dtype)
            for part, n in zip(parts, lengths, strict=True)
            if n
        ] or [da.empty((0, 1), dtype=dtype)]
        columns.append(da.concatenate(pieces, axis=0).rechunk({0: rows, 1: 1}))
    return columns


def _select(part, columns: list[str]):
    return part[columns]


def _values(part, name: str) -> np.ndarray:
    return part[name].to_numpy().reshape(-1, 1)


def _regular(X: da.Array) -> da.Array:
    """``X`` with equal row chunks but the last, as Zarr's chunk grid needs."""
    rows = X.chunks[0]
    if all(r == rows[0] for r in rows[:-1]) and rows[-1] <= rows[0]:
        return X
    return X.rechunk({0: max(rows)})


def _zarr_target(group, name: str, n_rows: int, rows: int, model: PassModel):
    k = model.n_components
    if name == "probabilities":
        return group.create_array(name, shape=(n_rows, k), chunks=(rows, k), dtype="f8")
    dtype = "i8" if name == "labels" else "f8"
    return group.create_array(name, shape=(n_rows,), chunks=(rows,), dtype=dtype)


def _predict_block(X, outs, model, origin, row0: int):
    check_finite_rows(X, f"{row0} to {row0 + X.shape[0] - 1}", model)
    return chunk_predictions(X, model, origin, [_OUTPUTS[o] for o in outs], row0)


def _reporting_errors(X, *kept, task, shared, block_info=None):
    """Run a writing task; return its error instead of raising it.

    A raised error would end the computation while other chunks are still being written,
    and deleting the temporary output under them would race; this way every task has
    finished when the caller cleans up.
    """
    out = np.empty((1, 1), dtype=object)
    try:
        out[0, 0] = task(X, shared, block_info, kept)
    except Exception as err:
        out[0, 0] = err
    return out


def _zarr_block(X, shared, block_info=None, kept=()):
    targets, outs, model, origin = shared
    start, stop = block_info[0]["array-location"][0]
    for target, values in zip(targets, _predict_block(X, outs, model, origin, start), strict=True):
        target[start:stop] = values
    return stop - start


def _parquet_block(X, shared, block_info=None, kept=()):
    (fs, folder, width, keep, source, step), outs, model, origin = shared
    chunk = block_info[0]["chunk-location"][0]
    start = block_info[0]["array-location"][0][0]
    if kept:  # a dask DataFrame's columns, each (rows, 1)
        arrays = {n: pa.array(v[:, 0], from_pandas=True) for n, v in zip(keep, kept, strict=True)}
        kept = pa.table(arrays)
    elif keep:
        kept = source.read_table(chunk, keep)
    # One row group per part of bounded output size: the outputs of a whole chunk can be
    # many times its bytes (K probabilities a row).
    with fs.open(f"{folder}/part-{chunk:0{width}d}.parquet", "wb") as f:
        writer = None
        for lo in range(0, max(len(X), 1), step):
            hi = min(lo + step, len(X))
            values = _predict_block(X[lo:hi], outs, model, origin, start + lo)
            table = _parquet_table(outs, values, kept.slice(lo, hi - lo) if keep else None)
            if writer is None:
                writer = pq.ParquetWriter(f, table.schema)
            writer.write_table(table)
        writer.close()
    return X.shape[0]


def _parquet_table(outs, values, kept: pa.Table | None) -> pa.Table:
    columns = dict(zip(kept.column_names, kept.columns, strict=True)) if kept is not None else {}
    for name, value in zip(outs, values, strict=True):
        if name == "labels":
            columns["label"] = value
        elif name == "probabilities":
            columns.update({f"proba_{k}": value[:, k] for k in range(value.shape[1])})
        else:
            columns[name] = value
    return pa.table(columns)


def _row_bytes(outs, n_components: int) -> int:
    """Bytes of one row's outputs (int64 labels, float64 probabilities and scores)."""
    return sum(8 * n_components if name == "probabilities" else 8 for name in outs)
