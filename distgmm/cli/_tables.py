"""DATA as the discrete and mixed-type models read it: a table, or an array of numbers.

Parquet (a file, a folder or a glob) is read with :func:`dask.dataframe.read_parquet` and
CSV with :func:`dask.dataframe.read_csv`, only the columns the model needs (and the ones
``predict --keep-columns`` copies), so that string and category columns become the model's
categories. Zarr and ``.npy`` arrays are read as for ``--family gaussian``: numbers only
(categories as integer codes), their columns named by position. Every column named is
checked against the data's before anything is read but metadata (a CSV file's first rows).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ..errors import InvalidInputError
from ..io import _format
from ._columns import select_model_columns
from ._errors import UsageError
from ._runtime import _check_features, _open_data

__all__ = [
    "column_families",
    "is_table_model",
    "model_data",
    "n_rows",
    "open_for_fit",
    "open_for_model",
    "table_format",
]

_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst")


def table_format(data: str, storage_options: dict | None) -> str:
    """'parquet', 'csv', 'zarr' or 'npy', from DATA's name (or a folder's content)."""
    name = os.fspath(data).rstrip("/")
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    return _format(name, storage_options)


def is_table_model(estimator) -> bool:
    """Whether ``estimator`` is a discrete or mixed-type (product) mixture."""
    from ..estimators._product import ProductMixture

    return isinstance(estimator, ProductMixture)


def _chunk_bytes(args: argparse.Namespace) -> int:
    return max(1, int(args.chunk_mb * 2**20))


def _read_table(args: argparse.Namespace, kind: str, columns: list[str] | None, named_by):
    """The dask DataFrame of DATA's ``columns`` (all if None), in that order.

    ``named_by(column)`` is the option that named a column, for the error if it is absent.
    """
    import dask.dataframe as dd

    compressed = kind == "csv" and not os.fspath(args.data).rstrip("/").endswith(".csv")
    # a compressed CSV file cannot be split: one partition a file
    blocksize = None if compressed else _chunk_bytes(args)
    options = {"storage_options": args.storage_options, "blocksize": blocksize}
    read = dd.read_parquet if kind == "parquet" else dd.read_csv
    whole = read(args.data, **options)  # metadata (Parquet) or a sample of rows (CSV)
    names = [str(c) for c in whole.columns]
    if columns is None:
        return whole
    for column in columns:
        if column not in names:
            shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
            raise InvalidInputError(
                f"{args.data} has no column {column!r} (named by {named_by(column)}); its "
                f"columns are {shown}"
            )
    if kind == "parquet":
        return read(args.data, columns=list(columns), **options)
    return read(args.data, usecols=list(columns), **options)[list(columns)]


def _open_array(args: argparse.Namespace):
    """A Zarr or .npy array, whole: ``--columns`` names its columns' positions."""
    return _open_data(argparse.Namespace(**{**vars(args), "columns": None, "column": None}))


def _positions(data: str, columns: list[str], width: int, named_by) -> list[int]:
    """Column names given for an array: they must be positions ``0 .. width - 1``."""
    positions = []
    for column in columns:
        try:
            position = int(column)
        except ValueError:
            raise UsageError(
                f"{named_by(column)} names the column {column!r}, but {data} is an array, "
                "whose columns are positions: give them as 0,1,..."
            ) from None
        if not 0 <= position < width:
            raise InvalidInputError(
                f"{named_by(column)} names the column {position}, but {data} has {width} "
                f"columns (0 to {width - 1})"
            )
        positions.append(position)
    return positions


def open_for_fit(args: argparse.Namespace, params: dict[str, Any]):
    """DATA for a ``fit`` with ``params`` (``family_params``'), whose ``columns`` are made
    the estimator's: names for a table, positions for an array.

    Returns
    -------
    dask DataFrame or dask.array.Array
        A table of exactly the model's columns, or the whole array.
    """
    columns = params.get("columns")
    groups = columns if isinstance(columns, dict) else None
    flat = [c for g in groups.values() for c in g] if groups else columns
    option = {c: f"--{f}" for f, g in groups.items() for c in g} if groups else {}
    named_by = lambda column: option.get(column, "--columns")  # noqa: E731
    kind = table_format(args.data, args.storage_options)
    if kind in ("parquet", "csv"):
        return _read_table(args, kind, flat, named_by)
    X = _open_array(args)
    if flat is not None:
        width = int(X.shape[1])
        if groups:
            params["columns"] = {
                f: _positions(args.data, g, width, named_by) for f, g in groups.items()
            }
        else:
            params["columns"] = _positions(args.data, flat, width, named_by)
    return X


def model_data(args: argparse.Namespace, keep: list[str] | None = None):
    """The model MODEL, DATA as it reads it, and the table of ``keep`` or None.

    A Gaussian model's DATA is read as ever; a discrete or mixed model's as a table of its
    columns (:func:`open_for_model`), with ``--handle-unknown`` (if the command has it)
    replacing the model's.
    """
    from .. import load

    gm = load(args.model, storage_options=args.storage_options)
    handle_unknown = getattr(args, "handle_unknown", None)
    if not is_table_model(gm):
        if handle_unknown is not None:
            raise UsageError(
                f"--handle-unknown is of discrete and mixed models; {args.model} is a "
                f"{type(gm).__name__}"
            )
        select_model_columns(args, gm)
        # Parquet nulls are missing entries to a model that reads NaN as such.
        args.nan_policy = getattr(gm, "nan_policy", "raise")
        X = _open_data(args)
        _check_features(gm, X, args.data)
        return gm, X, None
    if args.component is not None:
        raise UsageError("--component names a Zarr group's array: give the array's path as DATA")
    if handle_unknown is not None:
        gm.set_params(handle_unknown=handle_unknown)
    X, kept = open_for_model(args, gm, keep)
    _check_features(gm, X, args.data)
    return gm, X, kept


def open_for_model(args: argparse.Namespace, estimator, keep: list[str] | None):
    """DATA for a fitted discrete or mixed model, and the table of ``keep`` if asked for.

    A model fitted on a table reads its columns by name (``--columns`` may list them, in
    any order), and ``keep`` beside them; one fitted on an array reads a whole array.

    Returns
    -------
    (X, kept)
        ``X`` as the model takes it; ``kept`` a dask DataFrame of the ``keep`` columns
        with ``X``'s partitions, or None.
    """
    names = getattr(estimator, "feature_names_in_", None)
    kind = table_format(args.data, args.storage_options)
    if kind not in ("parquet", "csv"):
        if names is not None:
            raise InvalidInputError(
                f"the model {args.model} was fitted on the named columns "
                f"{', '.join(map(str, names))}; {args.data} is a {kind} array: give Parquet "
                "or CSV data with those columns"
            )
        if keep:
            raise UsageError(
                f"--keep-columns copies columns of Parquet or CSV data; {args.data} is a "
                f"{kind} array"
            )
        return _open_array(args), None
    if names is None:
        raise InvalidInputError(
            f"the model {args.model} was fitted on an array (its columns have no names); "
            f"{args.data} is {kind}: give an array of the same columns (Zarr or .npy)"
        )
    names = [str(n) for n in names]
    selected = args.columns if args.column is None else args.column
    if selected is not None and sorted(selected) != sorted(names):
        raise InvalidInputError(
            f"--columns {','.join(selected)} are not the columns the model {args.model} was "
            f"fitted on, {','.join(names)}; give those (in any order), or omit --columns."
        )
    extra = [c for c in dict.fromkeys(keep or []) if c not in names]
    table = _read_table(
        args, kind, names + extra, lambda c: "--keep-columns" if c in extra else "the model"
    )
    X = table[names] if extra else table
    # The kept columns are aligned with X's rows by position (write_predictions).
    return X, (table[list(dict.fromkeys(keep))] if keep else None)


def n_rows(X, client) -> int:
    """The rows of ``X``: its shape, or for a table its partitions' lengths (Parquet
    metadata; a pass of ``len`` for CSV)."""
    from .._frames import is_dask_frame, partition_lengths

    if is_dask_frame(X):
        return sum(partition_lengths(X, client))
    return int(X.shape[0])


def column_families(estimator) -> dict[str, str]:
    """``{column: family}`` of a fitted discrete or mixed model, in model order."""
    return dict(zip(estimator.columns_, estimator._families, strict=True))
