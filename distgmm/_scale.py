"""Data whose scale float64 cannot square: what to tell the user.

A Gaussian mixture squares distances between rows and sums them over rows: finite values
spread over more than about 1e150 overflow to inf (reported as such, not as NaN in the
data), and values spread over less than about 1e-154 square to zero, so every row looks
like the same point.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import InvalidInputError

__all__ = ["check_spread", "empty_cluster_cause", "overflow_message"]

_MAX = float(np.finfo(np.float64).max)
#: Below this spread, squared distances are subnormal or zero.
_UNDERFLOW = math.sqrt(float(np.finfo(np.float64).tiny))


def overflow_message(where: str) -> str:
    """The error for finite data too large to square, found in ``where``."""
    return (
        f"Input X holds finite values too large for float64 arithmetic: the squared "
        f"distances of {where} overflow (values of magnitude about 1e150 or more, or that "
        "far apart). Scale the data (divide by a constant, or standardise each feature) "
        "before fitting."
    )


def _spread(sample: np.ndarray) -> float:
    return float(np.max(np.abs(sample - sample.mean(axis=0)))) if sample.size else 0.0


def check_spread(sample: np.ndarray, n_samples: int) -> None:
    """Refuse a sample of finite rows whose squared distances, summed, would overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        spread = _spread(sample)
    limit = math.sqrt(_MAX / (4.0 * n_samples * sample.shape[1]))
    if not spread <= limit:
        raise InvalidInputError(
            overflow_message(
                f"rows spread over about {spread:.1e} (sums over {n_samples} rows of "
                f"{sample.shape[1]} features stay finite up to about {limit:.1e})"
            )
        )


def empty_cluster_cause(sample: np.ndarray, n_components: int) -> str:
    """Why k-means on ``sample`` may have left a cluster without rows, as far as it shows."""
    spread = _spread(sample)
    if 0.0 < spread < _UNDERFLOW:
        return (
            f"the data spread over only about {spread:.1e}, so little that squared "
            "distances between rows underflow to zero in float64 and every row looks like "
            "the same point. Scale the data up (e.g. standardise each feature) before fitting."
        )
    distinct = len(np.unique(sample, axis=0))
    if distinct < n_components:
        return (
            f"the data have only {distinct} distinct rows (in a sample of {len(sample)}), "
            f"fewer distinct points than n_components={n_components}. Use fewer components."
        )
    return (
        "the data may have fewer distinct points than n_components. Use fewer components or "
        "another init_params."
    )
