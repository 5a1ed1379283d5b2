"""Tables and labelled arrays as the arrays the estimators fit, never loaded into memory.

A dask DataFrame becomes a dask array of its partitions (partition lengths known without a
pass when Dask knows them, else one pass taking ``len`` of each partition); an xarray
DataArray its ``.data`` (dask or numpy), the first dimension being the rows. Their column
labels are the feature names. pandas and polars DataFrames stay with scikit-learn's own
conversion; only their columns are checked here, so that a text column is named.

Outputs go back in the input's kind: a dask Series (``predict``, ``score_samples``) or
DataFrame (``predict_proba``) on the input's partitions and index for a dask DataFrame, a
DataArray along the input's first dimension (and its coordinates) for a DataArray.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask.array as da
import numpy as np

from .errors import InvalidInputError

__all__ = [
    "Table",
    "as_table",
    "check_numeric_columns",
    "column_values",
    "frame_outputs",
    "is_dask_frame",
    "is_dataframe",
    "is_xarray",
    "label_names",
    "like_input",
    "partition_lengths",
    "sample_weight_like",
]

#: What each output is called in a table (the Parquet writer's column names).
OUTPUT_NAMES = {"labels": "label", "score": "log_likelihood", "proba": "proba"}


@dataclass(frozen=True, slots=True)
class Table:
    """A dask DataFrame or an xarray DataArray seen as rows x features."""

    values: np.ndarray | da.Array
    """(n_samples, n_features), numeric."""
    names: np.ndarray | None
    """The feature names (an object array of str), or None when the labels are not all
    strings (scikit-learn's rule)."""


#: Where dask's DataFrame classes live (dask-expr was a package of its own before 2025.1).
_DASK_FRAME_MODULES = ("dask.dataframe", "dask_expr")


def _module(X) -> str:
    return type(X).__module__ or ""


def is_dask_frame(X) -> bool:
    """Whether ``X`` is a dask DataFrame (or a Series, to be refused clearly)."""
    return _module(X).startswith(_DASK_FRAME_MODULES) and hasattr(X, "npartitions")


def is_xarray(X) -> bool:
    """Whether ``X`` is an xarray DataArray (or a Dataset, to be refused clearly)."""
    return _module(X).startswith("xarray") and type(X).__name__ in ("DataArray", "Dataset")


def is_dataframe(X) -> bool:
    """Whether ``X`` is a pandas or polars DataFrame."""
    return _module(X).split(".")[0] in ("pandas", "polars") and hasattr(X, "columns")


def _numeric(dtype) -> bool:
    if _module(dtype).startswith("polars"):
        return dtype.is_numeric() or str(dtype) == "Boolean"
    return getattr(dtype, "kind", "O") in "biuf"


def check_numeric_columns(X, estimator: str = "GaussianMixture") -> None:
    """Refuse a pandas, polars or dask DataFrame with a column that is not numbers, naming it."""
    dtypes = X.schema.items() if _module(X).startswith("polars") else X.dtypes.items()
    for name, dtype in dtypes:
        if not _numeric(dtype):
            raise InvalidInputError(
                f"Column {name!r} of X has dtype {dtype}; {estimator} needs numeric data. "
                f"Drop the column or encode it as numbers first, e.g. X.drop(columns=[{name!r}])."
            )


def label_names(labels) -> np.ndarray | None:
    """The labels as feature names if all are strings; None if none is (scikit-learn's rule)."""
    labels = list(labels)
    kinds = {isinstance(label, str) for label in labels}
    if kinds == {True}:
        return np.asarray(labels, dtype=object)
    if kinds == {True, False}:
        types = sorted({type(label).__name__ for label in labels})
        raise InvalidInputError(
            "Feature names are only supported if all input features have string names, but "
            f"your input has {types} as feature name / column name types. Convert them all "
            "to strings (e.g. X.columns = X.columns.astype(str)) or none of them."
        )
    return None


def _value_dtype(dtypes) -> np.dtype:
    """float32 if every column is float32, else float64 (as scikit-learn converts)."""
    return np.dtype(np.float32 if all(d == np.float32 for d in dtypes) else np.float64)


def column_values(part, dtype=None) -> np.ndarray:
    """The numeric columns of one pandas DataFrame (a partition) as a 2-D numpy array."""
    dtype = _value_dtype(part.dtypes) if dtype is None else dtype
    return part.to_numpy(dtype=dtype, na_value=np.nan)


def partition_lengths(frame, client=None) -> tuple[int, ...]:
    """The rows of each partition: known to Dask (no pass), or one pass of ``len``."""
    try:  # dask-expr folds the lengths of, e.g., from_pandas or Parquet statistics
        from dask.dataframe.dask_expr import new_collection
        from dask.dataframe.dask_expr._expr import Lengths, Literal

        lengths = Lengths(frame.expr).optimize()
        if isinstance(lengths, Literal):
            return tuple(int(n) for n in lengths.value)
        counts = new_collection(Lengths(frame.expr))
    except (ImportError, AttributeError):  # another dask: count the plain way
        counts = frame.map_partitions(len)
    if client is not None:
        from ._waits import compute  # a wait that ends if the cluster has no worker left

        counted = compute(client, counts)
    else:
        counted = counts.compute()
    return tuple(int(n) for n in counted)


def as_table(
    X, client=None, lengths: bool = True, estimator: str = "GaussianMixture"
) -> Table | None:
    """``X`` as rows x features if it is a dask DataFrame or an xarray DataArray, else None.

    Parameters
    ----------
    X : object
    client : distributed.Client, optional
        Where to count the rows of a dask DataFrame's partitions when Dask does not know them.
    lengths : bool
        Count them (needed for a fit or weights); else the array's row chunks may be unknown.
    estimator : str
        Who needs numbers, for the errors.
    """
    if is_dask_frame(X) and X.ndim != 2:  # a Series
        raise InvalidInputError(
            f"Expected a 2-dimensional container but got a dask {type(X).__name__} instead. "
            "Pass a DataFrame with a single column (X.to_frame()) for a single feature."
        )
    if _module(X).startswith("xarray") and type(X).__name__ == "Dataset":
        raise InvalidInputError(
            "Expected a 2-dimensional container but got an xarray Dataset. Pass one of its "
            "2-D DataArrays (ds['name']), or its variables as features: "
            "ds.to_dataarray('feature').transpose('sample', 'feature')."
        )
    if is_dask_frame(X):
        check_numeric_columns(X, estimator)
        names = label_names(X.columns)
        dtype = _value_dtype(X.dtypes)
        counts = partition_lengths(X, client) if lengths else None
        if any(d != dtype for d in X.dtypes):  # bool or int columns, mixed precisions
            X = X.astype(dtype)
        return Table(X.to_dask_array(lengths=counts), names)
    if is_xarray(X):
        if X.ndim != 2:
            raise InvalidInputError(
                f"Expected a 2-D DataArray (samples, features), got dims {X.dims}. Select or "
                "stack dimensions first, e.g. X.stack(feature=[...]).transpose('sample', ...)."
            )
        if X.dtype.kind not in "biuf":
            raise InvalidInputError(
                f"DataArray X has dtype {X.dtype}; {estimator} needs numeric data."
            )
        dim = X.dims[1]
        names = label_names(X.indexes[dim]) if dim in X.indexes else None
        return Table(X.data, names)
    return None


def like_input(X, result, out: str):
    """``result`` (the output ``out`` for the rows of ``X``) in ``X``'s kind; see the
    module's doc."""
    if is_xarray(X):
        import xarray as xr

        dim = X.dims[0]
        coords = {k: c for k, c in X.coords.items() if c.dims == (dim,)}
        dims = (dim,) if result.ndim == 1 else (dim, "component")
        return xr.DataArray(result, dims=dims, coords=coords, name=OUTPUT_NAMES[out])
    return result


def frame_outputs(frame, block_fn, model, origin, out: str, n_components: int, values=None):
    """``block_fn(values, model, origin, out)`` of each partition of a dask DataFrame, as a
    dask Series (labels, scores) or DataFrame (probabilities) on the same index.
    ``values(partition)`` makes a partition's array (default: its numeric columns)."""
    import pandas as pd
    from dask import delayed

    dtype = _value_dtype(frame.dtypes)
    if out == "proba":
        columns = [f"proba_{k}" for k in range(n_components)]
        meta = pd.DataFrame({c: np.empty(0) for c in columns})
    else:
        meta = pd.Series(np.empty(0, np.int64 if out == "labels" else np.float64))
        meta.name = OUTPUT_NAMES[out]
    shared = delayed(model, traverse=False)  # one copy in the graph, not one per task
    return frame.map_partitions(
        _partition_outputs,
        block_fn,
        shared,
        origin,
        out,
        dtype,
        values,
        meta=meta,
        align_dataframes=False,
    )


def _partition_outputs(part, block_fn, model, origin, out, dtype, values=None):
    import pandas as pd

    array = column_values(part, dtype) if values is None else values(part)
    result = block_fn(array, model, origin, out)
    if out == "proba":
        columns = [f"proba_{k}" for k in range(result.shape[1])]
        return pd.DataFrame(result, index=part.index, columns=columns)
    return pd.Series(result, index=part.index, name=OUTPUT_NAMES[out])


def sample_weight_like(sample_weight, values):
    """A dask Series of weights as a dask array chunked like ``values``' rows, else as is."""
    if not (
        _module(sample_weight).startswith(_DASK_FRAME_MODULES) and isinstance(values, da.Array)
    ):
        return sample_weight
    if sample_weight.npartitions != values.numblocks[0]:
        raise InvalidInputError(
            f"sample_weight has {sample_weight.npartitions} partitions, X has "
            f"{values.numblocks[0]}: give weights partitioned like X (e.g. a column of X)."
        )
    return sample_weight.to_dask_array(lengths=values.chunks[0])
