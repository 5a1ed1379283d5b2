"""Hive partition keys: ``data/year=2020/part-0.parquet`` gives each row of the file a
column ``year`` holding 2020, as Spark, Dask and pyarrow write and read them.

The keys come from the files' folder names (below the folder or glob prefix read), never
from the files; a key's values become int64 if every one is an integer, float64 if every
one is a number, else strings. ``__HIVE_DEFAULT_PARTITION__`` (Spark's and Hive's name for
a null key) is a null value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import unquote

import pyarrow as pa

#: The folder name writers give a row whose partition key is null.
NULL_VALUE = "__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True)
class Partitions:
    """The partition keys of a list of files and each file's values."""

    #: The keys, in the order they first appear in the folder names.
    keys: tuple[str, ...]
    #: Each key's Arrow type: int64, float64 or string.
    types: dict[str, pa.DataType]
    #: Per file: each key's value (``None`` for a null or a key absent from its path).
    values: tuple[dict[str, object], ...]

    def __bool__(self) -> bool:
        return bool(self.keys)

    def extend(self, schema: pa.Schema) -> pa.Schema:
        """``schema`` with the keys it lacks appended as fields (a file's own column wins)."""
        for key in self.keys:
            if key not in schema.names:
                schema = schema.append(pa.field(key, self.types[key]))
        return schema

    def column(self, key: str, file_index: int, n_rows: int) -> pa.Array:
        """The column of a file's ``n_rows`` rows for ``key``: its value repeated."""
        return pa.array([self.values[file_index][key]] * n_rows, type=self.types[key])

    def nulls(self, key: str) -> list[int]:
        """The files whose value of ``key`` is null."""
        return [i for i, values in enumerate(self.values) if values[key] is None]


def prefix_of(root: str) -> str:
    """The folder that partition names are read below: ``root``, or a glob's fixed part."""
    cut = min((root.index(c) for c in "*?[" if c in root), default=None)
    if cut is None:
        return root.rstrip("/")
    return root[:cut].rpartition("/")[0]


def hive_partitions(prefix: str, files: list[str]) -> Partitions:
    """The ``key=value`` folder names of ``files`` below ``prefix``."""
    raw: list[dict[str, str | None]] = []
    keys: dict[str, None] = {}
    for path in files:
        relative = path[len(prefix) :].strip("/") if path.startswith(prefix) else ""
        found = {}
        for part in relative.split("/")[:-1]:
            key, sep, value = part.partition("=")
            if sep and key:
                key, value = unquote(key), unquote(value)
                found[key] = None if value == NULL_VALUE else value
                keys.setdefault(key, None)
        raw.append(found)
    types = {key: _type([v[key] for v in raw if v.get(key) is not None]) for key in keys}
    values = tuple({key: _value(found.get(key), types[key]) for key in keys} for found in raw)
    return Partitions(tuple(keys), types, values)


def _type(values: list[str]) -> pa.DataType:
    if values and all(_is_int(v) for v in values):
        return pa.int64()
    if values and all(_is_float(v) for v in values):
        return pa.float64()
    return pa.string()


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return -(2**63) <= int(text) < 2**63


def _is_float(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _value(text: str | None, kind: pa.DataType) -> object:
    if text is None:
        return None
    if kind == pa.int64():
        return int(text)
    if kind == pa.float64():
        return float(text)
    return text
