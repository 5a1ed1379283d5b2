"""Feature names of dask input and tables: the columns of a Parquet-read array, of a dask
DataFrame, the feature labels of a DataArray.

scikit-learn records ``feature_names_in_`` when fitting a DataFrame and refuses one whose
columns differ at ``predict``. A dask array made by :func:`distgmm.read_parquet` knows its
columns too, so it is treated alike: fitting records them, and an array read with other
columns, or the same ones in another order, is refused rather than predicted with its
columns silently swapped.
"""

from __future__ import annotations

import dask.array as da
import numpy as np

from ._callerwarn import warn_at_caller
from .errors import InvalidInputError
from .io import parquet_source

__all__ = ["check_feature_names", "feature_names"]


def feature_names(X: da.Array) -> np.ndarray | None:
    """The Parquet column of each feature of ``X``, or None if ``X`` does not name them.

    Columns of fixed-length lists (several features each) give no names: a name is one
    feature's, as in scikit-learn.
    """
    source = parquet_source(X)
    if source is None or any(width != 1 for width in source.widths):
        return None
    return np.asarray(source.columns, dtype=object)


def check_feature_names(
    estimator, X: da.Array | None, reset: bool, names=None, warn: bool = False
) -> None:
    """Record the feature names on ``estimator`` (``reset``) or check them against it.

    The names are ``X``'s Parquet columns, or ``names`` (a table's columns) when ``X`` is
    None. With ``warn`` (tables, as scikit-learn's DataFrames), named input to a model
    fitted without names, or unnamed input to one fitted with names, warns as
    scikit-learn does; a dask array's missing names never warn (it has none to give).
    """
    if X is not None:
        names = feature_names(X)
    if reset:
        if names is not None:
            estimator.feature_names_in_ = names
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return
    fitted = getattr(estimator, "feature_names_in_", None)
    cls = type(estimator).__name__
    if warn and names is not None and fitted is None:
        warn_at_caller(
            f"X has feature names, but {cls} was fitted without feature names", UserWarning
        )
    elif warn and names is None and fitted is not None:
        warn_at_caller(
            f"X does not have valid feature names, but {cls} was fitted with feature names",
            UserWarning,
        )
    if names is None or fitted is None or list(names) == list(fitted):
        return
    hint = (
        "Read the columns in the model's order: columns=list(model.feature_names_in_)."
        if X is not None
        else "Select the columns in the model's order, list(model.feature_names_in_)."
    )
    raise InvalidInputError(
        "The feature names should match those that were passed during fit: X has the "
        f"columns {list(names)}, the model was fitted on {list(fitted)}. {hint}"
    )
