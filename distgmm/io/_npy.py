"""``.npy`` files as dask arrays, read through memory maps on the workers."""

from __future__ import annotations

import os

import dask.array as da
import numpy as np
from dask.base import tokenize

from ..errors import InvalidInputError
from ._common import DEFAULT_CHUNK_BYTES, check_shape, chunk_rows, float_dtype, missing


class NpyRows:
    """Array-like view of a ``.npy`` file that maps the file on each read.

    Only the path and layout are pickled, never the data, so the graph stays small and each
    worker reads its own chunks from the file.
    """

    def __init__(self, path: str, shape: tuple, dtype: np.dtype, offset: int, fortran: bool):
        self.path, self.shape, self.dtype = path, shape, dtype
        self.offset, self.order = offset, "F" if fortran else "C"
        self.ndim = len(shape)
        stat = os.stat(path)
        self._token = tokenize(path, shape, str(dtype), offset, stat.st_size, stat.st_mtime_ns)

    def __getitem__(self, key):
        size = self.offset + int(np.prod(self.shape)) * self.dtype.itemsize
        try:
            found = os.stat(self.path).st_size
            if found == size:
                mapped = np.memmap(self.path, self.dtype, "r", self.offset, self.shape, self.order)
                return np.array(mapped[key])  # a copy, so the map is released with this read
        except (OSError, ValueError) as err:
            raise InvalidInputError(
                f"Cannot read the .npy file {self.path}: {err}. It was removed or changed "
                "while it was read."
            ) from err
        raise InvalidInputError(
            f"The .npy file {self.path} changed after it was opened: it holds {found} bytes, "
            f"where {size} were planned ({self.shape[0]} rows). Open it again (read_npy) once "
            "it is final."
        )

    def __dask_tokenize__(self):
        return self._token


def read_npy(path: str | os.PathLike, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> da.Array:
    """Open a local 2-D ``.npy`` file as a dask array of rows, memory-mapped, not loaded.

    Parameters
    ----------
    path : str or os.PathLike
        A local ``.npy`` file (saved with ``numpy.save``).
    chunk_bytes : int
        Target bytes per dask chunk of whole rows.

    Returns
    -------
    dask.array.Array of shape (n_samples, n_features)

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``.
    InvalidInputError
        Not a ``.npy`` file, an object (ragged) array, or data that are not 2-D numbers.
    """
    path = os.path.abspath(os.fspath(path).removeprefix("file://"))
    if not os.path.isfile(path):
        raise missing(path, ".npy file")
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as err:
        raise InvalidInputError(
            f"{path} cannot be memory-mapped: {err}. Object (ragged) arrays are not "
            "supported; save a 2-D numeric array with numpy.save."
        ) from err
    if not isinstance(mapped, np.memmap):
        raise InvalidInputError(f"{path} is not a .npy file (an .npz archive?).")
    check_shape(mapped.shape, f".npy file {path}")
    dtype = float_dtype(mapped.dtype, f".npy file {path}")
    rows = NpyRows(path, mapped.shape, mapped.dtype, mapped.offset, not mapped.flags.c_contiguous)
    del mapped
    n_rows = chunk_rows(rows.shape[0], rows.shape[1] * dtype.itemsize, chunk_bytes)
    X = da.from_array(
        rows,
        chunks=(n_rows, rows.shape[1]),
        name=f"read-npy-{rows._token}",
        meta=np.empty((0, 0), rows.dtype),
    )
    return X if X.dtype == dtype else X.astype(dtype)
