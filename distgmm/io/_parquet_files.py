"""Parquet files found and planned from their footers alone: which files a path names,
their footers, nulls the footers' statistics show, and the runs of row groups that make
the chunks."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from dask.utils import natural_sort_key

from ..errors import InvalidInputError
from ._common import missing
from ._hive import Partitions


def list_files(fs, root: str, path) -> list[str]:
    if any(c in root for c in "*?["):
        files = [f for f in fs.glob(root) if fs.isfile(f)]
    elif fs.isdir(root):
        files = [
            f
            for f in fs.find(root)
            if f.endswith((".parquet", ".parq"))
            and not any(part.startswith(("_", ".")) for part in f[len(root) :].split("/"))
        ]
    elif fs.isfile(root):
        files = [root]
    else:
        raise missing(path, "Parquet file or folder")
    if not files:
        raise missing(path, "Parquet file (the folder or glob matched none)")
    return sorted(files, key=natural_sort_key)


def read_footer(fs, path: str) -> pq.FileMetaData:
    try:
        with fs.open(path, "rb") as f:
            return pq.ParquetFile(f).metadata
    except (pa.ArrowInvalid, OSError) as err:
        raise InvalidInputError(f"{path} is not a readable Parquet file: {err}") from err


def check_no_nulls(files, metas, columns: list[str]) -> None:
    """Fail early on nulls the footers' statistics already show (chunks check the rest)."""
    for path, meta in zip(files, metas, strict=True):
        leaves = {}
        for i in range(meta.num_columns):
            leaves.setdefault(meta.schema.column(i).path.split(".")[0], []).append(i)
        for name in columns:
            nulls = 0
            for group in range(meta.num_row_groups):
                for leaf in leaves.get(name, []):
                    stats = meta.row_group(group).column(leaf).statistics
                    if stats is not None and stats.has_null_count:
                        nulls += stats.null_count
            if nulls:
                raise InvalidInputError(
                    f"Parquet column {name!r} has {nulls} null value(s) in {path}. Drop or "
                    "fill the nulls first."
                )


def check_no_null_keys(files, partitions: Partitions, keys: list[str]) -> None:
    for key in keys:
        nulls = partitions.nulls(key)
        if nulls:
            raise InvalidInputError(
                f"Partition key {key!r} is null (or absent from the folder names) for "
                f"{files[nulls[0]]} and {len(nulls) - 1} more file(s); it cannot be a feature."
            )


def plan_chunks(metas, row_bytes: int, chunk_bytes: int):
    """Runs of consecutive non-empty row groups of about ``chunk_bytes`` each."""
    groups, chunks = [], []
    current, rows = [], 0
    for file_index, meta in enumerate(metas):
        for group in range(meta.num_row_groups):
            n = meta.row_group(group).num_rows
            if not n:
                continue
            if current and current[-1][0] == file_index:
                current[-1][1].append(group)
            else:
                current.append((file_index, [group]))
            rows += n
            if rows * row_bytes >= chunk_bytes:
                groups.append(current)
                chunks.append(rows)
                current, rows = [], 0
    if rows:
        groups.append(current)
        chunks.append(rows)
    return groups, chunks
