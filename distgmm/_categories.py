"""Which columns a discrete or mixed model uses, of which kind, and the categories of each.

:func:`fit_coding` reads the columns' labels and dtypes, never the data when it can help it:
a ``category`` dtype whose categories are known gives them in its own order, a bool column
``[False, True]``; every other categorical column (strings, integers, Arrow dictionaries,
the categories Dask does not know) gets its distinct values from one pass over the data,
all such columns in the same pass (one compute, a tree of per-partition distinct values,
so that no task holds more than a few partitions' worth of categories). Those are sorted
(:func:`numpy.unique`'s order).

Input kinds: numpy 2-D arrays, pandas, polars and dask DataFrames, dask arrays. A polars
DataFrame is read through pandas (an ``Enum`` keeps its categories, a ``Categorical`` is
read as its strings: its order is the order values arrived in, not a choice of the user's).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np

from ._frames import is_dask_frame, label_names
from .errors import InvalidInputError

__all__ = [
    "KINDS",
    "ColumnCoding",
    "as_input",
    "column",
    "describe",
    "dictionary_form",
    "fit_coding",
    "plain",
]

KINDS = ("categorical", "count", "binary", "real")

#: Per-partition distinct values merged per task of the pass's reduction tree.
_SPLIT_EVERY = 16
_BOOL_CATEGORIES = np.array([False, True])


@dataclass(frozen=True, eq=False)
class ColumnCoding:
    """How the columns of ``X`` become the float64 array a discrete or mixed model reads."""

    n_features_in: int
    """Columns of the input ``X``."""
    feature_names: np.ndarray | None
    """Labels of ``X``'s columns (an object array of str) when all are str, else None."""
    columns: tuple[int, ...]
    """Positions in ``X`` of the columns the model uses, in model order (the order of the
    ``kinds`` dict, or ``X``'s order for one kind)."""
    kinds: tuple[str, ...]
    """The kind of each model column, one of :data:`KINDS`."""
    categories: tuple[np.ndarray | None, ...]
    """The categories of each categorical model column (None for the other kinds): a
    category's code is its position here."""

    def names(self) -> list[str]:
        """The label of each model column: its name, or ``"x3"`` for position 3."""
        if self.feature_names is None:
            return [f"x{pos}" for pos in self.columns]
        return [str(self.feature_names[pos]) for pos in self.columns]


def describe(feature_names, pos: int) -> str:
    """A column as error messages name it: ``column 'plan'``, or ``column 3`` unnamed."""
    return f"column {pos}" if feature_names is None else f"column {feature_names[pos]!r}"


def as_input(X, estimator: str) -> tuple[str, object]:
    """``X``'s kind ('numpy', 'pandas', 'dask_frame' or 'dask_array') and ``X`` as that kind.

    A polars DataFrame becomes a pandas one; anything else not listed, a numpy array.
    """
    import dask.array as da

    module = (type(X).__module__ or "").split(".")[0]
    if is_dask_frame(X):
        if X.ndim != 2:
            raise InvalidInputError(
                f"{estimator} expects a 2-D table, got a dask {type(X).__name__}: pass a "
                "DataFrame (X.to_frame() for one column)."
            )
        return "dask_frame", X
    if isinstance(X, da.Array):
        kind = "dask_array"
    elif module == "polars" and hasattr(X, "schema"):
        return "pandas", _polars_to_pandas(X)
    elif module == "pandas" and hasattr(X, "columns"):
        return "pandas", X
    else:
        kind, X = "numpy", np.asarray(X)
    if X.ndim != 2:
        raise InvalidInputError(
            f"{estimator} expects a 2-D array (rows, columns), got shape {X.shape}: reshape "
            "it, e.g. X.reshape(-1, 1) for a single column."
        )
    return kind, X


def _polars_to_pandas(X):
    import polars as pl

    texts = [name for name, dtype in X.schema.items() if dtype == pl.Categorical]
    if texts:  # a Categorical's order is arrival order: its categories are found like text's
        X = X.with_columns(pl.col(texts).cast(pl.String))
    return X.to_pandas()


def column(part, pos: int):
    """Column ``pos`` of a pandas DataFrame (a Series) or a 2-D numpy block (1-D)."""
    return part[:, pos] if isinstance(part, np.ndarray) else part.iloc[:, pos]


def dictionary_form(col) -> tuple[np.ndarray, np.ndarray] | None:
    """``(values, codes)`` of a pandas ``category`` or Arrow dictionary column, code -1 for
    a missing entry; None for any other column. ``values`` may repeat (one dictionary per
    Arrow chunk, concatenated)."""
    dtype = getattr(col, "dtype", None)
    if getattr(dtype, "name", None) == "category":
        return plain(dtype.categories), np.asarray(col.cat.codes, dtype=np.int64)
    if "dictionary<" not in str(dtype):
        return None
    dictionaries, codes, offset = [], [], 0
    for chunk in col.array.__arrow_array__().chunks:
        indices = chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        codes.append(np.where(indices >= 0, indices + offset, -1))
        dictionaries.append(plain(chunk.dictionary.to_numpy(zero_copy_only=False)))
        offset += len(chunk.dictionary)
    if not codes:
        return plain(np.empty(0, dtype=object)), np.empty(0, dtype=np.int64)
    return _concatenate(dictionaries), np.concatenate(codes)


def plain(values) -> np.ndarray:
    """Values as numpy: bool, integers and floats in their numpy dtype, anything else
    (text included) as an object array."""
    dtype = getattr(values, "dtype", None)
    np_dtype = dtype if isinstance(dtype, np.dtype) else getattr(dtype, "numpy_dtype", None)
    if np_dtype is not None and np_dtype.kind in "biuf":
        return np.asarray(values, dtype=np_dtype)
    return np.asarray(values, dtype=object)


def _concatenate(arrays: list[np.ndarray]) -> np.ndarray:
    if len({a.dtype for a in arrays}) > 1 and any(a.dtype == object for a in arrays):
        arrays = [a.astype(object) for a in arrays]
    return np.concatenate(arrays)


def fit_coding(X, kinds, *, estimator: str, client=None) -> ColumnCoding:
    """The :class:`ColumnCoding` of ``X``'s columns: which, of which kind, which categories.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        numpy 2-D array, pandas, polars or dask DataFrame, or dask array.
    kinds : str or dict
        One of :data:`KINDS` for every column, or ``{column label or int position: kind}``;
        the columns the dict does not name (an id) are not used by the model.
    estimator : str
        The estimator's name, for the errors.
    client : distributed.Client, optional
        Where the pass that finds categories runs.

    Returns
    -------
    ColumnCoding
        The count, binary and real values are checked by :func:`distgmm._encoding.encode`.
    """
    kind, X = as_input(X, estimator)
    labels = list(X.columns) if kind in ("pandas", "dask_frame") else list(range(X.shape[1]))
    if kind in ("pandas", "dask_frame"):
        names = label_names(labels)
    elif kind == "dask_array":
        from ._feature_names import feature_names  # a dask array read from Parquet

        names = feature_names(X)
    else:
        names = None
    columns, model_kinds = _resolve_kinds(kinds, labels, names, estimator)
    dtypes = [_dtype(X, kind, pos) for pos in columns]
    categories: list[np.ndarray | None] = [None] * len(columns)
    pending = []
    for i, (pos, model_kind, dtype) in enumerate(zip(columns, model_kinds, dtypes, strict=True)):
        if model_kind != "categorical":
            _check_numeric(dtype, describe(names, pos), model_kind)
        else:
            categories[i] = _known_categories(dtype)
            if categories[i] is None:
                pending.append(i)
    if pending:
        found = _distinct_pass(X, kind, [columns[i] for i in pending], client)
        for i, values in zip(pending, found, strict=True):
            categories[i] = _sorted(values, describe(names, columns[i]))
    return ColumnCoding(len(labels), names, columns, model_kinds, tuple(categories))


def _resolve_kinds(kinds, labels, names, estimator):
    if isinstance(kinds, str):
        kinds = dict.fromkeys(range(len(labels)), kinds)
    elif not isinstance(kinds, dict) or not kinds:
        raise InvalidInputError(
            f"{estimator}'s column kinds must be one of {list(KINDS)} or a non-empty dict "
            f"{{column: kind}}, got {kinds!r}."
        )
    positions = {}
    for i, label in enumerate(labels):
        positions.setdefault(label, i)
    columns, model_kinds = [], []
    for key, kind in kinds.items():
        pos = _position(key, positions, len(labels))
        if pos is None:
            shown = [str(label) for label in labels]
            raise InvalidInputError(
                f"{estimator} was given a kind for the column {key!r}, which X does not have "
                f"(X's columns: {shown} or positions 0-{len(labels) - 1}). Name columns of X."
            )
        if kind not in KINDS:
            raise InvalidInputError(
                f"{estimator} was given the kind {kind!r} for {describe(names, pos)}: the "
                f"kinds are {list(KINDS)}."
            )
        if pos in columns:
            raise InvalidInputError(
                f"{estimator} was given {describe(names, pos)} twice (as {key!r}): give each "
                "column one kind."
            )
        columns.append(pos)
        model_kinds.append(kind)
    return tuple(columns), tuple(model_kinds)


def _position(key, positions: dict, n: int) -> int | None:
    """A label of X's, else an int position (a bool is neither)."""
    if isinstance(key, (bool, np.bool_)):
        return None
    try:
        if key in positions:
            return positions[key]
    except TypeError:  # an unhashable key
        return None
    try:
        pos = operator.index(key)
    except TypeError:
        return None
    return pos if 0 <= pos < n else None


def _dtype(X, kind: str, pos: int):
    return X.dtype if kind in ("numpy", "dask_array") else X.dtypes.iloc[pos]


def _is_text(dtype) -> bool:
    if isinstance(dtype, np.dtype):
        return dtype.kind in "USMm"  # text, bytes, dates and durations
    if getattr(dtype, "name", None) == "category":
        return plain(dtype.categories).dtype == object
    text = str(dtype)
    return text in ("string", "str") or text.startswith(("string", "large_string", "dictionary"))


def _check_numeric(dtype, column: str, kind: str) -> None:
    if _is_text(dtype):
        raise InvalidInputError(
            f"{column} of X has dtype {dtype}, not numbers: a {kind!r} column needs numbers. "
            "Give it the kind 'categorical', or leave it out of the kinds."
        )


def _known_categories(dtype) -> np.ndarray | None:
    """The categories a dtype gives without reading the data, or None."""
    if getattr(dtype, "name", None) == "category":
        categories = dtype.categories
        # Dask marks unknown categories so; its read_parquet of a plain Parquet dictionary
        # column claims known categories but gives none (each partition has its own).
        if len(categories) == 0 or "__UNKNOWN_CATEGORIES__" in categories:
            return None
        return plain(categories)
    if str(dtype) in ("bool", "boolean", "bool[pyarrow]"):
        return _BOOL_CATEGORIES.copy()
    return None


def distinct(col) -> np.ndarray:
    """The distinct non-missing values of one column (pandas Series or numpy 1-D), unsorted."""
    form = dictionary_form(col)
    if form is not None:
        values, codes = form
        return _unique(values[np.unique(codes[codes >= 0])])
    if isinstance(col, np.ndarray) and col.dtype.kind in "biufUS":
        if col.dtype.kind == "f":
            col = col[~np.isnan(col)]
        return plain(np.unique(col))
    import pandas as pd

    return plain(pd.Series(col).dropna().unique())


def _unique(values: np.ndarray) -> np.ndarray:
    """Distinct values by hashing (mixed types are sorted, and refused, at the end only)."""
    if values.dtype != object:
        return np.unique(values)
    import pandas as pd

    return plain(pd.unique(values))


def _part_distinct(part, positions) -> list[np.ndarray]:
    return [distinct(column(part, pos)) for pos in positions]


def _combine(*parts: list[np.ndarray]) -> list[np.ndarray]:
    return [_unique(_concatenate(list(values))) for values in zip(*parts, strict=True)]


def _distinct_pass(X, kind: str, positions: list[int], client) -> list[np.ndarray]:
    """The distinct values of the columns ``positions``: in memory, or one dask compute."""
    if kind in ("numpy", "pandas"):
        return _part_distinct(X, positions)
    from dask import delayed

    if kind == "dask_frame":  # only these columns are read (a projection of Parquet, say)
        blocks = X.iloc[:, positions].to_delayed()
    else:
        blocks = list(X[:, positions].rechunk({1: -1}).to_delayed().ravel())
    local = list(range(len(positions)))
    tasks = [delayed(_part_distinct)(block, local) for block in blocks]
    while len(tasks) > 1:
        groups = range(0, len(tasks), _SPLIT_EVERY)
        tasks = [delayed(_combine)(*tasks[i : i + _SPLIT_EVERY]) for i in groups]
    if not tasks:
        return [np.empty(0) for _ in positions]
    if client is not None:
        from ._waits import compute  # a wait that ends if the cluster has no worker left

        return compute(client, tasks[0])
    import dask

    return dask.compute(tasks[0])[0]


def _sorted(values: np.ndarray, column: str) -> np.ndarray:
    """Sorted categories; text stays an object array of str, whole numbers become int64."""
    try:
        values = np.unique(values)
    except TypeError:
        types = sorted({type(v).__name__ for v in values})
        raise InvalidInputError(
            f"{column} of X mixes values of the types {types}, which cannot be sorted into "
            "categories: convert the column to one type first (e.g. X[col].astype(str))."
        ) from None
    if values.dtype == object and len(values):
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            return values.astype(np.int64)
        if all(isinstance(v, (float, np.floating)) for v in values):
            return values.astype(np.float64)
    return values
