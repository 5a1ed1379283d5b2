"""Parquet files, folders or globs as dask arrays of their numeric columns, via pyarrow.

Chunks are runs of consecutive row groups, planned from the files' footers alone, so the
array's chunk sizes are known without reading any data and each chunk task reads only its
own row groups and columns. The source object remembers that plan, which lets the writers
carry key columns through row-aligned (``keep_columns``). Hive partition keys
(``year=2020/`` folders, see :mod:`distgmm.io._hive`) are columns too, made from the paths.
"""

from __future__ import annotations

import bisect
import json
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask.array as da
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dask.base import tokenize

from ..errors import InvalidInputError
from ._common import DEFAULT_CHUNK_BYTES, float_dtype, url_to_fs
from ._hive import Partitions, hive_partitions, prefix_of
from ._parquet_files import check_no_null_keys, check_no_nulls, list_files, plan_chunks, read_footer

#: The source of every array made by :func:`read_parquet`, by array name.
_SOURCES: weakref.WeakValueDictionary[str, ParquetRows] = weakref.WeakValueDictionary()


class ParquetRows:
    """Array-like view of selected numeric columns of Parquet files, read chunk by chunk.

    ``__getitem__`` reads the row groups a row slice covers; the files' footers were read
    once on the client, so a worker only opens the files it reads from.
    """

    #: Nulls and NaN read as NaN (missing entries) rather than refused.
    missing_values = False

    def __init__(
        self,
        fs,
        files,
        columns,
        widths,
        dtype,
        groups,
        chunks,
        token,
        sizes,
        names,
        partitions=None,
        in_path=(),
    ) -> None:
        self.fs, self.files, self.columns, self.widths = fs, files, columns, widths
        #: All column names of the files (features or not), partition keys included.
        self.names: list[str] = list(names)
        self.partitions: Partitions | None = partitions
        #: The partition keys the files do not store: their values come from the paths.
        #: Known when opened, so that no task reads a footer to find them.
        self.in_path = frozenset(in_path)
        self.dtype = dtype
        self.groups = groups  # per chunk: list of (file index, row group indices)
        self.sizes = sizes  # per file: rows of each row group, as its footer said when planned
        self.chunks = chunks  # rows per chunk
        self.starts = np.concatenate([[0], np.cumsum(chunks)]).tolist()
        self.shape = (self.starts[-1], sum(widths))
        self.ndim = 2
        self._token = token

    def __dask_tokenize__(self):
        return self._token

    def read_table(self, chunk: int, columns: list[str]) -> pa.Table:
        """The given columns of one chunk's rows, as an Arrow table.

        Raises
        ------
        InvalidInputError
            A file cannot be read (damaged, gone), or holds another number of rows than
            when the chunks were planned (rewritten since): either names the file.
        """
        tables = []
        in_path = [c for c in columns if c in self.in_path]
        stored = [c for c in columns if c not in self.in_path]
        for file_index, row_groups in self.groups[chunk]:
            path = self.files[file_index]
            try:
                with self.fs.open(path, "rb") as f:
                    # Page checksums, where the writer stored them, catch damaged pages that
                    # would otherwise decode to wrong values (NaN, or finite garbage).
                    parquet = pq.ParquetFile(f, page_checksum_verification=True)
                    table = parquet.read_row_groups(row_groups, columns=stored)
            except (pa.ArrowException, OSError) as err:
                raise InvalidInputError(
                    f"Cannot read row groups {_span(row_groups)} of the Parquet file {path}: "
                    f"{err}. The file is damaged or was changed while it was read; rewrite it."
                ) from err
            planned = sum(self.sizes[file_index][g] for g in row_groups)
            if table.num_rows != planned:
                raise InvalidInputError(
                    f"The Parquet file {path} changed after it was opened: its row groups "
                    f"{_span(row_groups)} hold {table.num_rows} rows, where {planned} were "
                    "planned. Open the data again (read_parquet) once the files are final."
                )
            for name in in_path:
                table = table.append_column(
                    name, self.partitions.column(name, file_index, table.num_rows)
                )
            tables.append(table.select(columns))
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    def read_chunk(self, chunk: int) -> np.ndarray:
        """One chunk as a 2-D array of ``self.dtype``; nulls, NaN, inf and ragged lists are
        errors naming the files."""
        table = self.read_table(chunk, self.columns)
        out = np.empty((table.num_rows, self.shape[1]), dtype=self.dtype)
        j = 0
        for name, width in zip(self.columns, self.widths, strict=True):
            block = out[:, j : j + width]
            block[...] = _column_values(table.column(name), name, width, self, chunk)
            j += width
            bad = int(
                (np.isinf(block) if self.missing_values else ~np.isfinite(block)).any(axis=1).sum()
            )
            if bad:
                # Said here, where the files are known: a damaged page without a checksum
                # may decode to NaN, and the fit could only say "NaN or infinity".
                raise InvalidInputError(
                    f"Parquet column {name!r} holds NaN or infinity in {bad} of the "
                    f"{len(out)} rows read from {self.where(chunk)}. Remove or impute those "
                    "rows first; if the files should hold none, they are damaged (pages are "
                    "verified only where the writer stored checksums, e.g. pyarrow's "
                    "write_page_checksum=True)."
                )
        return out

    def __getitem__(self, key):
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        start, stop, _ = rows.indices(self.shape[0])
        first = bisect.bisect_right(self.starts, start) - 1
        last = bisect.bisect_left(self.starts, stop)
        parts = [self.read_chunk(c) for c in range(first, max(first + 1, last))]
        block = parts[0] if len(parts) == 1 else np.concatenate(parts)
        offset = self.starts[first]
        return block[start - offset : stop - offset : rows.step, cols]

    def where(self, chunk: int) -> str:
        """The files a chunk comes from, for error messages."""
        return ", ".join(self.files[i] for i, _ in self.groups[chunk])


def _span(groups: list[int]) -> str:
    return f"{groups[0]}" if len(groups) == 1 else f"{groups[0]} to {groups[-1]}"


_AS_MISSING = (
    "or fit them as missing values (--nan-policy marginalize; "
    "read_parquet(..., missing_values=True))."
)


def _column_values(column: pa.ChunkedArray, name: str, width: int, source, chunk: int):
    """A column's values, ``(rows, width)``; nulls are NaN if ``source.missing_values``
    (a null list: all its values), else errors naming the files, as ragged lists are."""
    if column.null_count and not source.missing_values:
        raise InvalidInputError(
            f"Parquet column {name!r} has {column.null_count} null value(s) in "
            f"{source.where(chunk)}. Drop or fill the nulls first, " + _AS_MISSING
        )
    if width == 1 and not _is_list(column.type):
        return _numbers(column.combine_chunks() if column.null_count else column)[:, None]
    values = column.combine_chunks()
    if values.null_count:  # a null list is missing whole
        values = pc.if_else(values.is_null(), pa.scalar([None] * width, values.type), values)
    lengths = values.value_lengths().to_numpy(zero_copy_only=False)
    if lengths.size and (lengths.min() != width or lengths.max() != width):
        raise InvalidInputError(
            f"Parquet column {name!r} is ragged: its lists have {lengths.min()} to "
            f"{lengths.max()} values in {source.where(chunk)}, where every row needs "
            f"{width}. Store fixed-length vectors."
        )
    flat = values.flatten()
    if flat.null_count and not source.missing_values:
        raise InvalidInputError(
            f"Parquet column {name!r} has {flat.null_count} null value(s) inside its lists "
            f"in {source.where(chunk)}. Drop or fill the nulls first, " + _AS_MISSING
        )
    return _numbers(flat).reshape(-1, width)


def _numbers(values) -> np.ndarray:
    """Arrow numbers as numpy: as stored, or as float64 with NaN for their nulls."""
    if not values.null_count:
        return values.to_numpy()
    return pc.fill_null(values.cast(pa.float64()), np.nan).to_numpy()


def _is_list(kind: pa.DataType) -> bool:
    return (
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    )


def _is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)


def _select(schema: pa.Schema, columns: list[str] | None, path, in_path=()) -> list[str]:
    names = schema.names
    if columns is None:
        # pandas writes a non-default index as a column; it is not a feature. Nor are the
        # partition keys unless named: a year= folder would otherwise become a feature.
        index = json.loads((schema.metadata or {}).get(b"pandas", b"{}")).get("index_columns", [])
        columns = [c for c in names if c not in index and c not in in_path]
        bad = [c for c in columns if not _numeric(schema.field(c).type)]
        if bad:
            raise InvalidInputError(
                f"{path} has non-numeric column(s) {bad}; pass columns= with the numeric "
                f"feature columns to fit (numeric columns: "
                f"{[c for c in columns if c not in bad]})."
            )
        return columns
    columns = list(columns)
    if not columns:
        raise InvalidInputError(f"columns= is empty for {path}; name at least one column.")
    absent = [c for c in columns if c not in names]
    if absent:
        raise InvalidInputError(f"{path} has no column(s) {absent}; its columns are {names}.")
    bad = [f"{c!r} ({schema.field(c).type})" for c in columns if not _numeric(schema.field(c).type)]
    if bad:
        raise InvalidInputError(
            f"Column(s) {', '.join(bad)} of {path} are not numeric; select numeric columns or "
            "fixed-length lists of numbers."
        )
    return columns


def _numeric(kind: pa.DataType) -> bool:
    return _is_number(kind) or (_is_list(kind) and _is_number(kind.value_type))


def _width(fs, files, metas, name: str, kind: pa.DataType) -> int:
    if not _is_list(kind):
        return 1
    if pa.types.is_fixed_size_list(kind):
        return kind.list_size
    # A variable-size list: the first non-empty row group says how long the vectors are
    # (every chunk then checks its rows against it).
    for path, meta in zip(files, metas, strict=True):
        for group in range(meta.num_row_groups):
            if meta.row_group(group).num_rows:
                with fs.open(path, "rb") as f:
                    column = pq.ParquetFile(f).read_row_group(group, columns=[name])[0]
                lengths = column.combine_chunks().value_lengths()
                return int(lengths[0].as_py() or 0)
    return 0


def _value_dtype(kind: pa.DataType) -> np.dtype:
    kind = kind.value_type if _is_list(kind) else kind
    return np.dtype(np.bool_) if pa.types.is_boolean(kind) else np.dtype(kind.to_pandas_dtype())


def read_parquet(
    path: str | os.PathLike,
    columns: list[str] | None = None,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    storage_options: dict[str, Any] | None = None,
    missing_values: bool = False,
) -> da.Array:
    """Open numeric columns of Parquet data as a dask array of rows, without reading them.

    Parameters
    ----------
    path : str or os.PathLike
        A Parquet file, a folder of them (searched recursively; names starting with ``_``
        or ``.`` are skipped, as Spark and Dask write them), or a glob such as
        ``"data/*.parquet"``; local or any fsspec URL (``s3://`` needs ``s3fs``,
        ``gs://`` needs ``gcsfs``). Files are taken in natural sort order of their names.
        Hive partition folders (``year=2020/``) below the folder (or the glob's fixed
        part) make columns of their keys: integer, float or string values, the same for
        every row of a file.
    columns : list of str, optional
        The feature columns, in order. Numeric (integer, float, boolean) or fixed-length
        lists of numbers (embeddings), each list element a feature, or numeric partition
        keys. Default: all columns but the partition keys, which must then all be numeric.
    chunk_bytes : int
        Target bytes per dask chunk; a chunk is a run of whole row groups.
    storage_options : dict, optional
        Passed to the fsspec file system.
    missing_values : bool
        Nulls and NaN are missing entries, read as NaN (for ``nan_policy`` 'marginalize'
        or 'omit'); by default they are errors naming the files. Infinity always is.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_features)
        float32 if every selected column is float32 (or float16), else float64.

    Raises
    ------
    FileNotFoundError
        Nothing matches ``path``.
    InvalidInputError
        Unreadable files, a missing or non-numeric column, files whose schemas differ, no
        rows. Nulls and ragged lists are found when their chunk is read, and raise then.
    """
    fs, root = url_to_fs(path, storage_options)
    files = list_files(fs, root.rstrip("/"), path)
    with ThreadPoolExecutor(min(16, len(files))) as pool:
        metas = list(pool.map(lambda f: read_footer(fs, f), files))
    stored = metas[0].schema.to_arrow_schema()
    partitions = hive_partitions(prefix_of(root), files)
    schema = partitions.extend(stored)
    in_path = [c for c in partitions.keys if c not in stored.names]
    columns = _select(schema, columns, path, in_path)
    kinds = [schema.field(c).type for c in columns]
    for file, meta in zip(files[1:], metas[1:], strict=True):
        other = meta.schema.to_arrow_schema()
        for name, kind in zip(columns, kinds, strict=True):
            if name in in_path:
                continue
            if name not in other.names or other.field(name).type != kind:
                found = other.field(name).type if name in other.names else "missing"
                raise InvalidInputError(
                    f"Parquet files under {path} disagree on column {name!r}: {kind} in "
                    f"{files[0]}, {found} in {file}. Rewrite them with one schema."
                )
    if not missing_values:
        check_no_nulls(files, metas, columns)
    check_no_null_keys(files, partitions, [c for c in columns if c in in_path])
    widths = [_width(fs, files, metas, c, k) for c, k in zip(columns, kinds, strict=True)]
    if 0 in widths:
        raise InvalidInputError(f"Column {columns[widths.index(0)]!r} of {path} is empty lists.")
    dtype = np.result_type(*(float_dtype(_value_dtype(k), f"column of {path}") for k in kinds))
    groups, chunks = plan_chunks(metas, sum(widths) * dtype.itemsize, chunk_bytes)
    if not chunks:
        raise InvalidInputError(f"{path} holds no rows: there is nothing to fit.")
    token = tokenize(
        [fs.ukey(f) for f in files],
        files,
        columns,
        widths,
        str(dtype),
        chunks,
        fs.protocol,
        missing_values,
    )
    sizes = [[m.row_group(g).num_rows for g in range(m.num_row_groups)] for m in metas]
    rows = ParquetRows(
        fs,
        files,
        columns,
        widths,
        dtype,
        groups,
        chunks,
        token,
        sizes,
        schema.names,
        partitions or None,
        in_path,
    )
    rows.missing_values = missing_values
    X = da.from_array(
        rows,
        chunks=(tuple(chunks), (rows.shape[1],)),
        name=f"read-parquet-{token}",
        meta=np.empty((0, 0), dtype),
    )
    _SOURCES[X.name] = rows
    return X


def parquet_source(X) -> ParquetRows | None:
    """The Parquet data behind ``X`` if :func:`read_parquet` made it (unchanged), else None."""
    return _SOURCES.get(getattr(X, "name", None))
