"""What the readers and writers share: chunk planning, dtypes, file systems."""

from __future__ import annotations

import errno
import os
from typing import Any

import fsspec
import numpy as np

from ..errors import InvalidInputError

#: Bytes per chunk of rows: large enough that per-task overheads vanish (a pass over 64 MiB
#: takes seconds), small enough that a worker thread holds one with its read buffers
#: comfortably (a streamed 128 MiB chunk of a compressed Zarr store measured 3-4x its size
#: at peak, decompression buffers and allocator slack included).
DEFAULT_CHUNK_BYTES = 64 * 2**20


def chunk_rows(n_rows: int, row_bytes: int, chunk_bytes: int, multiple: int = 1) -> int:
    """Rows per chunk: close to ``chunk_bytes``, a multiple of ``multiple``, at least one."""
    if chunk_bytes <= 0:
        raise InvalidInputError(f"chunk_bytes must be positive, got {chunk_bytes}.")
    rows = max(1, chunk_bytes // max(1, row_bytes))
    rows = max(multiple, rows // multiple * multiple)
    return max(1, min(rows, n_rows))


def float_dtype(dtype: np.dtype, what: str) -> np.dtype:
    """The dtype the data are fitted in: float32/float64 kept, other numbers float64."""
    dtype = np.dtype(dtype)
    if dtype in (np.float32, np.float64):
        return dtype
    if dtype == np.float16:
        return np.dtype(np.float32)
    if dtype.kind in "iub":
        return np.dtype(np.float64)
    raise InvalidInputError(
        f"{what} has dtype {dtype}, which is not numeric. GaussianMixture needs real numbers: "
        "select or encode the numeric features first."
    )


def check_shape(shape: tuple, what: str) -> None:
    """A 2-D (n_samples, n_features) shape with at least one row and one column."""
    if len(shape) != 2:
        hint = (
            " For a single feature store it as shape (n_samples, 1)."
            if len(shape) == 1
            else " Store the features as one 2-D array, one row per sample."
        )
        raise InvalidInputError(
            f"{what} is {len(shape)}-D with shape {shape}; expected 2-D data of shape "
            f"(n_samples, n_features).{hint}"
        )
    if shape[0] == 0:
        raise InvalidInputError(f"{what} is empty (shape {shape}): there are no rows to fit.")
    if shape[1] == 0:
        raise InvalidInputError(f"{what} has no columns (shape {shape}).")


def url_to_fs(path: str | os.PathLike, storage_options: dict[str, Any] | None = None):
    """The fsspec file system of ``path`` and the path within it."""
    try:
        return fsspec.core.url_to_fs(os.fspath(path), **(storage_options or {}))
    except ImportError as err:  # e.g. s3:// without s3fs
        raise InvalidInputError(
            f"Cannot open {path}: {err}. Install the package for that file system, "
            "e.g. pip install s3fs (s3://) or gcsfs (gs://)."
        ) from err


def missing(path: str | os.PathLike, what: str) -> FileNotFoundError:
    """The error for a path that does not exist, naming it."""
    return FileNotFoundError(errno.ENOENT, f"No {what} found at this path", os.fspath(path))
