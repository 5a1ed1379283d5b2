"""Sample weights: validated, and scaled by a power of two for the arithmetic.

Only the weights' ratios matter to a fit, but their scale reaches the arithmetic: the
M-step adds ``10 * eps`` to the soft counts (as scikit-learn), which outweighs counts made of
weights of 1e-18, and weighted sums of weights near 1e308 overflow. Scaling every weight
by the same power of two is exact (their ratios do not change by a bit), so a fit depends
on the weights' ratios only; equal weights are no weights at all, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import dask.array as da
import numpy as np

from .errors import InvalidInputError
from .fingerprint import row_digest, row_digest_hex

__all__ = ["SampleWeights", "check_sample_weight", "float64_array"]


@dataclass(frozen=True, slots=True)
class SampleWeights:
    """Validated sample weights, as the arithmetic takes them."""

    values: np.ndarray | da.Array | None
    """float64, scaled by a power of two so that their mean (their maximum if the mean is
    out of range) is in ``[1, 2)``; ``None`` for no weights or equal weights."""
    total: float
    """The sum of the weights given (``n_samples`` without weights; may be inf)."""
    digest: str | None = None
    """Of the weights given (:func:`~distgmm.fingerprint.row_digest`), when asked for;
    ``None`` when ``values`` is."""


def float64_array(value, problem: str) -> np.ndarray:
    """``value`` as a float64 array, or an error saying ``problem`` and why it failed."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"{problem}: {err}") from err


def check_sample_weight(
    sample_weight,
    n_samples: int,
    lazy: bool = True,
    n_components: int | None = None,
    digest: bool = False,
) -> SampleWeights:
    """Validated weights scaled by a power of two; one clear error per problem.

    Dask weights stay dask when ``lazy`` (the data are dask too), else they are computed:
    the in-memory passes slice them as numpy. Validating dask weights computes them once
    (one reduction over the weights alone, which also makes the digest).

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,), scalar, dask array or None
    n_samples : int
    lazy : bool
    n_components : int, optional
        At least this many rows must have a positive weight (for a fit).
    digest : bool
        Also make a digest of the weights (for a checkpoint's fingerprint).

    Returns
    -------
    SampleWeights
    """
    if sample_weight is None:
        return SampleWeights(None, float(n_samples))
    if isinstance(sample_weight, da.Array) and lazy:
        w = sample_weight.astype(np.float64)
    else:
        if isinstance(sample_weight, da.Array):
            sample_weight = sample_weight.compute()
        w = float64_array(sample_weight, "sample_weight must be an array of numbers, one per row")
        if w.ndim == 0:
            w = np.full(n_samples, float(w))
    if w.shape != (n_samples,):
        raise InvalidInputError(
            f"sample_weight.shape == {w.shape}, expected ({n_samples},): one weight per row."
        )
    # the mean as a sum of w / n: a sum of weights near 1e308 would overflow
    checks = [np.isfinite(w).all(), w.min(), w.max(), (w / n_samples).sum(), (w > 0).sum()]
    if digest:
        checks.append(_lazy_digest(w) if isinstance(w, da.Array) else row_digest(w))
    finite, low, high, mean, positive, *lanes = (
        da.compute(*checks) if isinstance(w, da.Array) else checks
    )
    if not finite:
        raise InvalidInputError("sample_weight contains NaN or infinity; give finite weights.")
    if low < 0:
        raise InvalidInputError("sample_weight contains negative values; weights must be >= 0.")
    if not high > 0:
        raise InvalidInputError(
            "Sample weights must contain at least one non-zero number; all are zero."
        )
    if n_components is not None and positive < n_components:
        raise InvalidInputError(
            f"Only {positive} row(s) have a non-zero sample weight, fewer than n_components="
            f"{n_components}: every component needs rows of positive weight. Use fewer "
            "components, or give more rows a weight."
        )
    mean, total = float(mean), float(mean) * n_samples
    reference = mean if math.isfinite(mean) and mean >= np.finfo(np.float64).tiny else high
    exponent = 1 - math.frexp(float(reference))[1]
    if low == high:
        return SampleWeights(None, total)
    scaled = (da.ldexp if isinstance(w, da.Array) else np.ldexp)(w, exponent)
    return SampleWeights(scaled, total, row_digest_hex(lanes[0]) if lanes else None)


def _block_digest(block: np.ndarray, block_info=None) -> np.ndarray:
    return row_digest(block, block_info[0]["array-location"][0][0])


def _lazy_digest(w: da.Array) -> da.Array:
    """The row digest of dask weights: one per chunk, then summed (wrapping)."""
    lanes = da.map_blocks(
        _block_digest,
        w,
        chunks=((1,) * w.numblocks[0],),
        dtype=np.uint64,
        meta=np.empty(0, np.uint64),
    )
    return lanes.sum(keepdims=True, dtype=np.uint64)
