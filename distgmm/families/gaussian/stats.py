"""Sufficient statistics of a Gaussian mixture over a set of rows."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ...core.summary import SHIFT, Summary

__all__ = ["Stats", "recentre"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stats(Summary):
    """Weighted moments of one Gaussian mixture over some rows, about a per-component shift.

    The first and second moments are taken about ``shift`` ``s_k`` (the component means of
    the model that produced the responsibilities, relative to the pass origin), so that
    data with a large offset keep their precision: ``Σ_k = sxx_k / nk_k - d_k d_kᵀ`` with
    ``d_k = sx_k / nk_k``.
    """

    sx: np.ndarray
    """Shifted first moments ``Σ_i w_i r_ik (x_i - s_k)``, shape ``(n_components, n_features)``."""
    sxx: np.ndarray
    """Shifted second moments; shape by covariance type: 'full' ``(K, D, D)``, 'tied'
    ``(D, D)`` (pooled over components), 'diag' ``(K, D)``, 'spherical' ``(K,)``."""
    shift: np.ndarray = field(metadata=SHIFT)
    """``s_k`` relative to the pass origin, ``(n_components, n_features)``."""


def recentre(stats: Stats, shift: np.ndarray, covariance_type: str) -> Stats:
    """The same moments about ``shift`` (in ``stats.shift``'s coordinates)."""
    from . import covtypes

    delta = stats.shift - shift  # x - shift = (x - stats.shift) + delta
    sxx = covtypes.get(covariance_type).recentre_scatter(stats.sxx, stats.sx, stats.nk, delta)
    return dataclasses.replace(stats, sx=stats.sx + stats.nk[:, None] * delta, sxx=sxx, shift=shift)
