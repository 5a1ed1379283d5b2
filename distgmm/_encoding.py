"""User tables as the float64 array the discrete and mixed families read, checked per chunk.

Each model column of a :class:`~distgmm._categories.ColumnCoding` becomes one float64
column, in model order:

* 'categorical': the category's code, its position in ``coding.categories`` (-1, no
  factor, for a category not seen when fitting under ``handle_unknown="ignore"``; NaN for
  a missing value where ``missing`` allows one);
* 'count': the count, a non-negative whole number (exact below 2**53);
* 'binary': 0.0 or 1.0;
* 'real': the value, NaN and inf left for the engine to count and report.

A missing value (NaN, None, pd.NA, NaT) in a categorical, count or binary column is an
error (``nan_policy='raise'``), or, for the columns ``missing`` allows (the other
policies), NaN in the array: a missing entry, whatever the column's kind. Checks run where
the data are: per partition of a dask input, so a bad value surfaces when the pass reads
its chunk.

Every column is coded with vectorised lookups (``np.searchsorted``, ``pd.Index.get_indexer``
on the few values of a category or Arrow dictionary, then their codes taken), never a
Python loop over rows.
"""

from __future__ import annotations

import numpy as np

from ._categories import (
    KINDS,
    ColumnCoding,
    as_input,
    column,
    describe,
    dictionary_form,
    fit_coding,
)
from ._frames import label_names, partition_lengths
from .errors import InvalidInputError

__all__ = ["KINDS", "ColumnCoding", "encode", "encode_partition", "fit_coding"]

_HANDLE_UNKNOWN = ("error", "ignore")
#: Counts from this on may not be the whole number given, in float64.
_EXACT = float(2**53)
#: Categories an unseen-value error lists.
_SHOWN = 5
#: pandas' inferred types of an object column of numbers.
_NUMBERS = ("integer", "floating", "mixed-integer-float", "boolean", "empty", "decimal")


def encode(
    X,
    coding: ColumnCoding,
    *,
    handle_unknown: str = "error",
    estimator: str,
    lengths: bool = True,
    client=None,
    missing: tuple | None = None,
):
    """``X``'s model columns as float64 ``(n_samples, len(coding.columns))``.

    Parameters
    ----------
    X : array-like of shape (n_samples, coding.n_features_in)
        As for :func:`distgmm._categories.fit_coding`: the same number of columns, and
        the same names in the same order when both ``X`` and the coding have names.
    coding : ColumnCoding
    handle_unknown : {'error', 'ignore'}
        A category not seen when fitting: an error naming it, or the code -1 (no factor).
    estimator : str
        The estimator's name, for the errors.
    lengths : bool
        Whether a dask DataFrame's partition lengths must be known (counted by a pass of
        ``len`` when Dask does not know them); else the row chunks may be unknown.
    client : distributed.Client, optional
        Where that count runs.
    missing : tuple, optional
        Per model column, what a missing value is: True, NaN (a missing entry); False, an
        error (the default for every column); a string, an error saying so.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        numpy for numpy, pandas and polars input, a lazy dask array (its values checked
        as its chunks are computed) for dask input.
    """
    if handle_unknown not in _HANDLE_UNKNOWN:
        raise InvalidInputError(
            f"handle_unknown must be one of {list(_HANDLE_UNKNOWN)}, got {handle_unknown!r}."
        )
    kind, X = as_input(X, estimator)
    _check_columns(X, kind, coding, estimator)
    if kind in ("numpy", "pandas"):
        return encode_partition(X, coding, handle_unknown, missing)
    width = len(coding.columns)
    local = tuple(range(width))  # the model columns, once selected
    # The coding goes in as a plain argument: a shared delayed key would make the encoded
    # array a graph with two outputs, which dask's fusion refuses when it is persisted
    # ("Cannot fuse tasks with multiple outputs").
    shared = coding
    if kind == "dask_array":
        used = X[:, list(coding.columns)].rechunk({1: -1})
        return used.map_blocks(
            _encode_block, local, shared, handle_unknown, missing,
            dtype=np.float64, chunks=(used.chunks[0], (width,)),
        )  # fmt: skip
    import pandas as pd

    used = X.iloc[:, list(coding.columns)]  # only these columns are read
    meta = pd.DataFrame(np.empty((0, width)))
    # Optimised before its partitions are counted: Dask fuses the partitions of a column
    # subset of Parquet files under a task that reads them (FusedParquetIO), so lengths
    # counted on the columns alone need not match the partitions of the array.
    frame = used.map_partitions(
        _encode_frame, local, shared, handle_unknown, missing, meta=meta, align_dataframes=False
    ).optimize()
    if not lengths:
        return frame.to_dask_array()
    try:
        return frame.to_dask_array(lengths=_fused_lengths(used, client))
    except ValueError:  # fused otherwise after all: count the coded partitions themselves
        return frame.to_dask_array(lengths=partition_lengths(frame, client))


def _fused_lengths(used, client) -> tuple[int, ...]:
    """The rows of each partition of ``used`` mapped, as Dask fuses them (a map over
    ``used`` is fused alike), counted without coding them: a pass over the columns."""
    import pandas as pd

    meta = pd.DataFrame({"rows": np.empty(0, dtype=np.int64)})
    sizes = used.map_partitions(_rows_frame, meta=meta, align_dataframes=False).optimize()
    if client is not None:
        from ._waits import compute

        counted = compute(client, sizes)
    else:
        counted = sizes.compute()
    return tuple(int(n) for n in counted["rows"])


def _rows_frame(part):
    import pandas as pd

    return pd.DataFrame({"rows": [len(part)]})


def encode_partition(
    part, coding: ColumnCoding, handle_unknown: str = "error", missing: tuple | None = None
) -> np.ndarray:
    """The float64 model columns of one pandas DataFrame (a partition) or 2-D numpy block.

    ``part`` has all of ``X``'s columns (``coding.n_features_in``); see :func:`encode`.
    """
    return _encode_block(part, coding.columns, coding, handle_unknown, missing)


def _encode_frame(part, positions, coding, handle_unknown, missing=None):
    import pandas as pd

    # copy=False: pandas 3 copies an array given to DataFrame by default, for nothing here
    values = _encode_block(part, positions, coding, handle_unknown, missing)
    return pd.DataFrame(values, copy=False)


def _encode_block(part, positions, coding, handle_unknown, missing=None) -> np.ndarray:
    """Model column i of the result is column ``positions[i]`` of ``part``."""
    # F order: each model column is written whole, contiguously (20% of coding a partition
    # of strings went to strided writes into a C-ordered array).
    out = np.empty((part.shape[0], len(positions)), dtype=np.float64, order="F")
    for i, (pos, kind) in enumerate(zip(positions, coding.kinds, strict=True)):
        col = column(part, pos)
        label = describe(coding.feature_names, coding.columns[i])
        allowed = False if missing is None else missing[i]
        if kind == "categorical":
            out[:, i] = _categorical(col, coding.categories[i], label, handle_unknown, allowed)
        else:
            out[:, i] = _NUMBER_CHECKS[kind](_as_float(col, label, kind), col, label, allowed)
    return out


def _check_columns(X, kind: str, coding: ColumnCoding, estimator: str) -> None:
    n = X.shape[1] if kind in ("numpy", "dask_array") else len(X.columns)
    if n != coding.n_features_in:
        raise InvalidInputError(
            f"X has {n} features, but {estimator} is expecting {coding.n_features_in} "
            "features as input."
        )
    if kind in ("pandas", "dask_frame"):
        names = label_names(X.columns)
    elif kind == "dask_array":
        from ._feature_names import feature_names

        names = feature_names(X)
    else:
        names = None
    fitted = coding.feature_names
    if names is not None and fitted is not None and list(names) != list(fitted):
        raise InvalidInputError(
            "The feature names should match those that were passed during fit: X has the "
            f"columns {list(names)}, {estimator} was fitted on {list(fitted)}. Select the "
            "columns in the model's order, list(model.feature_names_in_)."
        )


def _categorical(
    col, categories: np.ndarray, label: str, handle_unknown: str, allowed=False
) -> np.ndarray:
    form = dictionary_form(col)
    strings = None if form is not None else _arrow_strings(col, categories)
    if form is not None:  # look up the few dictionary values, then take their codes
        values, codes = form
        missing = codes < 0
        _refuse_missing(missing, col, label, "categorical", allowed)
        lookup = _lookup(categories, values)
        found = lookup[codes] if len(lookup) else np.full(len(codes), -1)
    elif strings is not None:  # Arrow's hash lookup: ~20x pandas' on Python strings
        import pyarrow.compute as pc

        missing = np.asarray(col.isna(), dtype=bool)
        _refuse_missing(missing, col, label, "categorical", allowed)
        found = pc.index_in(strings[0], value_set=strings[1]).fill_null(-1)
        found = found.to_numpy(zero_copy_only=False)
    else:
        values, missing = _values(col)
        _refuse_missing(missing, col, label, "categorical", allowed)
        found = _lookup(categories, values)
    if missing.any():  # allowed: NaN, a missing entry (not an unknown category)
        found = np.where(missing, np.nan, found)
    unknown = found < 0
    if handle_unknown == "error" and unknown.any():
        value = _at(col, np.flatnonzero(unknown)[0])
        seen = [_scalar(c) for c in categories[:_SHOWN]]
        more = f" and {len(categories) - _SHOWN} more" if len(categories) > _SHOWN else ""
        raise InvalidInputError(
            f"{label} has the value {value!r} not seen when fitting (seen: {seen}{more}); "
            "fit on data that include it, drop those rows, or use handle_unknown='ignore' "
            "to give it no factor."
        )
    return found.astype(np.float64)  # -1 for an unseen category under 'ignore'


def _arrow_strings(col, categories: np.ndarray):
    """``(values, categories)`` as Arrow arrays for an Arrow-backed string column and text
    categories, else None."""
    dtype = getattr(col, "dtype", None)
    text = getattr(dtype, "storage", None) == "pyarrow" or str(dtype) in (
        "string[pyarrow]",
        "large_string[pyarrow]",
    )
    if not text or categories.dtype != object:
        return None
    import pyarrow as pa

    values = col.array.__arrow_array__()
    try:
        return values, pa.array(categories, type=values.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # categories that are not all text
        return None


def _values(col) -> tuple[np.ndarray, np.ndarray]:
    """A column's values as numpy (numbers in their dtype, else objects) and its missing
    mask."""
    if isinstance(col, np.ndarray):
        if col.dtype.kind == "f":
            return col, np.isnan(col)
        if col.dtype.kind in "mM":
            return col, np.isnat(col)
        if col.dtype.kind == "O":
            import pandas as pd

            return col, np.asarray(pd.isna(col))
        return col, np.zeros(len(col), dtype=bool)
    missing = np.asarray(col.isna(), dtype=bool)
    np_dtype = _numpy_dtype(col.dtype)
    if np_dtype is not None:
        fill = np.nan if np_dtype.kind == "f" else 0  # a filler: those rows are missing
        return col.to_numpy(dtype=np_dtype, na_value=fill), missing
    return col.to_numpy(dtype=object), missing


def _numpy_dtype(dtype) -> np.dtype | None:
    """The numpy dtype of a bool, integer or float dtype (nullable and Arrow ones too)."""
    np_dtype = dtype if isinstance(dtype, np.dtype) else getattr(dtype, "numpy_dtype", None)
    return np_dtype if np_dtype is not None and np_dtype.kind in "biuf" else None


def _lookup(categories: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The position of each value in ``categories`` (in any order), -1 if absent."""
    if categories.dtype.kind in "biuf" and values.dtype.kind in "biuf":
        if not len(categories):
            return np.full(len(values), -1, dtype=np.int64)
        order = np.argsort(categories, kind="stable")
        ordered = categories[order]
        at = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
        return np.where(ordered[at] == values, order[at], -1)
    import pandas as pd

    index = pd.Index(categories, dtype=categories.dtype if categories.dtype != object else object)
    return index.get_indexer(values)


def _as_float(col, label: str, kind: str) -> np.ndarray:
    """A count, binary or real column as float64, NaN where missing."""
    if isinstance(col, np.ndarray) and col.dtype.kind in "biuf":
        return col.astype(np.float64)
    import pandas as pd

    s = col if isinstance(col, pd.Series) else pd.Series(col, copy=False)
    if _numpy_dtype(s.dtype) is not None:
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    form = dictionary_form(s)
    if form is not None and form[0].dtype.kind in "biuf":  # a category of numbers
        values, codes = form
        return np.where(codes >= 0, values.astype(np.float64)[codes], np.nan)
    if s.dtype == object:
        bad = np.zeros(len(s), dtype=bool)
        if pd.api.types.infer_dtype(s, skipna=True) not in _NUMBERS:  # text, or a rare mix
            # such as bools with ints: a look at each value, on this path only
            numbers = (int, float, np.number, np.bool_)
            is_number = np.fromiter((isinstance(v, numbers) for v in s), bool, len(s))
            bad = ~is_number & ~np.asarray(s.isna(), dtype=bool)
        if not bad.any():
            return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        shown = f"the value {_scalar(s.iloc[np.flatnonzero(bad)[0]])!r}"
    else:
        shown = f"dtype {s.dtype}"
    raise InvalidInputError(
        f"{label} has {shown}, not a number: a {kind!r} column holds numbers. Convert the "
        "column, or make it 'categorical'."
    )


def _refuse_missing(missing: np.ndarray, col, label: str, kind: str, allowed=False) -> None:
    """Raise for a missing value unless ``allowed`` (True); a string ``allowed`` says why not."""
    if allowed is True or not missing.any():
        return
    value = _at(col, np.flatnonzero(missing)[0])
    if isinstance(allowed, str):
        raise InvalidInputError(f"{label} has a missing value ({value!r}): {allowed}.")
    raise InvalidInputError(
        f"{label} has a missing value ({value!r}) in a {kind!r} column. Fill or drop those "
        "rows, or fit with nan_policy='marginalize' (a missing value adds no factor) or "
        "'omit' (rows with one are left out)."
    )


def _count(x: np.ndarray, col, label: str, allowed=False) -> np.ndarray:
    _refuse_missing(np.isnan(x), col, label, "count", allowed)
    bad = ~np.isfinite(x) | (x < 0) | (x != np.floor(x)) | (x >= _EXACT)
    if allowed is True:  # NaN: a missing entry
        bad &= ~np.isnan(x)
    if bad.any():
        value = _scalar(_at(col, np.flatnonzero(bad)[0]))
        raise InvalidInputError(
            f"{label} has the value {value!r}, not a count: a 'count' column holds whole "
            "numbers from 0 (below 2**53). Fix or drop those rows, or make the column 'real'."
        )
    return x


def _binary(x: np.ndarray, col, label: str, allowed=False) -> np.ndarray:
    _refuse_missing(np.isnan(x), col, label, "binary", allowed)
    bad = (x != 0.0) & (x != 1.0) & ~np.isnan(x)
    if bad.any():
        value = _scalar(_at(col, np.flatnonzero(bad)[0]))
        raise InvalidInputError(
            f"{label} has the value {value!r}: a 'binary' column holds 0/1 or False/True. "
            "Recode it, or make it 'categorical' (any values) or 'count'."
        )
    return x


def _real(x: np.ndarray, col, label: str, allowed=False) -> np.ndarray:
    return x  # NaN and inf are the engine's to count and report


_NUMBER_CHECKS = {"count": _count, "binary": _binary, "real": _real}


def _at(col, i: int):
    return _scalar(col[i] if isinstance(col, np.ndarray) else col.iloc[i])


def _scalar(value):
    """A numpy scalar as the Python value it holds (its repr reads as the user's data)."""
    return value.item() if isinstance(value, np.generic) else value
