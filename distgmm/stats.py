"""Sufficient statistics of a Gaussian mixture over a set of rows.

A :class:`Stats` value is what one chunk task returns and what the tree reduction adds up:
``Stats(A) + Stats(B) == Stats(A + B rows)`` up to rounding, so any reduction order gives the
same model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Stats"]


@dataclass(frozen=True, slots=True)
class Stats:
    """Weighted sufficient statistics of one mixture model over some rows.

    The first and second moments are taken about a per-component shift ``s_k`` (the
    component means of the model that produced the responsibilities), so that data with a
    large offset keeps its precision: ``Σ_k = sxx_k / nk_k - d_k d_kᵀ`` with
    ``d_k = sx_k / nk_k``.
    """

    n_rows: int
    """Number of rows seen."""
    weight: float
    """Sum of the sample weights (``n_rows`` when unweighted)."""
    loglik: float
    """Weighted sum of the rows' log-likelihoods ``Σ w_i log p(x_i)``."""
    n_nonfinite: int
    """Rows whose log-likelihood was NaN or infinite: they contain NaN or inf."""
    nk: np.ndarray
    """Soft counts ``Σ_i w_i r_ik``, shape ``(n_components,)``."""
    sx: np.ndarray
    """Shifted first moments ``Σ_i w_i r_ik (x_i - s_k)``, shape ``(n_components, n_features)``."""
    sxx: np.ndarray
    """Shifted second moments; shape by covariance type: 'full' ``(K, D, D)``, 'tied'
    ``(D, D)`` (pooled over components), 'diag' ``(K, D)``, 'spherical' ``(K,)``."""
    n_overflow: int = 0
    """Rows of finite values whose log-likelihood overflowed (values too large to square)."""

    def __add__(self, other: Stats) -> Stats:
        if not isinstance(other, Stats):
            return NotImplemented
        return Stats(
            n_rows=self.n_rows + other.n_rows,
            weight=self.weight + other.weight,
            loglik=self.loglik + other.loglik,
            n_nonfinite=self.n_nonfinite + other.n_nonfinite,
            nk=self.nk + other.nk,
            sx=self.sx + other.sx,
            sxx=self.sxx + other.sxx,
            n_overflow=self.n_overflow + other.n_overflow,
        )

    @property
    def mean_loglik(self) -> float:
        """Weighted mean log-likelihood per row (scikit-learn's lower bound)."""
        return self.loglik / self.weight if self.weight > 0 else float("nan")
