"""Synthetic Gaussian mixtures, written to Zarr block by block: data for demos and recipes.

The rows depend only on the arguments and the seed, never on the machine or on how they
are written: block ``b`` of ``BLOCK_ROWS`` rows draws from its own random stream
``(seed, stream, b)``. So a dataset can be made again anywhere, its true labels can be
recomputed without its rows, and it never has to fit in memory.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

__all__ = ["BLOCK_ROWS", "mixture_labels", "write_mixture_zarr"]

#: Rows per random stream, and per stored Zarr chunk.
BLOCK_ROWS = 65_536

_PARAMETERS, _LABELS, _NOISE = 0, 1, 2


def _parameters(n_features: int, n_components: int, separation: float, seed: int):
    rng = np.random.default_rng([seed, _PARAMETERS])
    # Means drawn with this scale lie ``separation`` noise standard deviations apart on
    # average; below ~4 the components overlap and EM needs more iterations.
    means = rng.normal(0.0, separation / np.sqrt(2 * n_features), (n_components, n_features))
    mixing = rng.normal(size=(n_components, n_features, n_features)) / np.sqrt(n_features)
    factors = 0.5 * mixing + np.sqrt(0.75) * np.eye(n_features)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    return weights, means, factors


def _block_labels(weights: np.ndarray, rows: int, seed: int, block: int) -> np.ndarray:
    rng = np.random.default_rng([seed, _LABELS, block])
    return rng.choice(len(weights), size=rows, p=weights)


def _blocks(n_samples: int):
    for block, start in enumerate(range(0, n_samples, BLOCK_ROWS)):
        yield block, start, min(start + BLOCK_ROWS, n_samples)


def _check(n_samples: int, n_features: int, n_components: int, separation: float) -> None:
    for name, value in (
        ("n_samples", n_samples),
        ("n_features", n_features),
        ("n_components", n_components),
    ):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not np.isfinite(separation) or separation < 0:
        raise ValueError(f"separation must be a finite number >= 0, got {separation!r}.")


def write_mixture_zarr(
    path: str | os.PathLike,
    n_samples: int,
    n_features: int = 16,
    n_components: int = 8,
    *,
    separation: float = 4.0,
    seed: int = 0,
    dtype: Any = np.float64,
    overwrite: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write rows of a random Gaussian mixture to a new Zarr array, block by block.

    Each component has its own full covariance. Only one block of rows is in memory at a
    time; the array appears under ``path`` once complete (written to a temporary name
    first).

    Parameters
    ----------
    path : str or PathLike
        The Zarr array to create: a local path or fsspec URL.
    n_samples : int
        Rows to write.
    n_features : int, default=16
    n_components : int, default=8
        Number of mixture components the rows are drawn from.
    separation : float, default=4.0
        Typical distance between component means, in noise standard deviations.
    seed : int, default=0
        The same arguments and seed give the same rows, bit for bit.
    dtype : dtype, default=float64
        Of the stored array; rows are drawn in float64 and cast.
    overwrite : bool, default=False
        Replace an existing ``path``; otherwise that is a ``FileExistsError``.
    storage_options : dict, optional
        For fsspec URLs.

    Returns
    -------
    dict
        ``weights``, ``means`` and ``covariances`` of the mixture the rows were drawn from.
    """
    import zarr

    from .io._output import atomic_output
    from .io._zarr import store_of

    _check(n_samples, n_features, n_components, separation)
    weights, means, factors = _parameters(n_features, n_components, separation, seed)
    with atomic_output(path, overwrite, storage_options) as (fs, tmp):
        array = zarr.create_array(
            store=store_of(fs.unstrip_protocol(tmp), storage_options, False),
            shape=(n_samples, n_features),
            chunks=(min(BLOCK_ROWS, n_samples), n_features),
            dtype=dtype,
        )
        for block, start, stop in _blocks(n_samples):
            labels = _block_labels(weights, stop - start, seed, block)
            noise = np.random.default_rng([seed, _NOISE, block]).standard_normal(
                (stop - start, n_features)
            )
            rows = means[labels] + np.einsum("nd,ned->ne", noise, factors[labels])
            array[start:stop] = rows.astype(dtype, copy=False)
    return {
        "weights": weights,
        "means": means,
        "covariances": factors @ factors.transpose(0, 2, 1),
    }


def mixture_labels(
    n_samples: int,
    n_features: int = 16,
    n_components: int = 8,
    *,
    separation: float = 4.0,
    seed: int = 0,
) -> np.ndarray:
    """The component each row of :func:`write_mixture_zarr` with these arguments came from.

    Computed without the rows, so a dataset's true labels cost no read of it.

    Parameters
    ----------
    n_samples, n_features, n_components, separation, seed
        As given to :func:`write_mixture_zarr`.

    Returns
    -------
    ndarray of shape (n_samples,)
        Component indices, in row order.
    """
    _check(n_samples, n_features, n_components, separation)
    weights, _, _ = _parameters(n_features, n_components, separation, seed)
    blocks = _blocks(n_samples)
    return np.concatenate([_block_labels(weights, b - a, seed, i) for i, a, b in blocks])
