"""Feature names of dask input: the columns of a Parquet-read array.

scikit-learn records ``feature_names_in_`` when fitting a DataFrame and refuses one whose
columns differ at ``predict``. A dask array made by :func:`distgmm.read_parquet` knows its
columns too, so it is treated alike: fitting records them, and an array read with other
columns, or the same ones in another order, is refused rather than predicted with its
columns silently swapped.
"""

from __future__ import annotations

import dask.array as da
import numpy as np

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


def check_feature_names(estimator, X: da.Array, reset: bool) -> None:
    """Record ``X``'s feature names on ``estimator`` (``reset``) or check them against it."""
    names = feature_names(X)
    if reset:
        if names is not None:
            estimator.feature_names_in_ = names
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return
    fitted = getattr(estimator, "feature_names_in_", None)
    if names is None or fitted is None or list(names) == list(fitted):
        return
    raise InvalidInputError(
        "The feature names should match those that were passed during fit: X has the "
        f"columns {list(names)}, the model was fitted on {list(fitted)}. Read the columns "
        "in the model's order: columns=list(model.feature_names_in_)."
    )
