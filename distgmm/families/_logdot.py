"""Log-likelihoods of count or indicator rows against log-probability matrices, exactly.

A discrete family's E-step is one matrix product: ``Σ_j x_ij log p_kj`` for every row and
component, with ``x`` a one-hot, 0/1 or count matrix. Maximum likelihood can put a
probability exactly at 0 (a boundary solution); then ``x log p`` must be ``0`` where
``x = 0`` (``0 log 0 = 0``) and ``-inf`` where ``x > 0``, where a plain product with
``log 0 = -inf`` would give NaN. The zeros are kept out of the product and applied through
a second, 0/1 product, which only boundary models pay for.
"""

from __future__ import annotations

import numpy as np

__all__ = ["add_log_dot", "log_matrix", "xlogy_sum"]


def log_matrix(p: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``log p`` for :func:`add_log_dot`: the finite logs (0 where ``p == 0``) and the 0/1
    indicator of ``p == 0`` (``None`` when no probability is 0)."""
    p = np.asarray(p, dtype=np.float64)
    zero = p == 0
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    if not zero.any():
        return np.ascontiguousarray(logp), None
    return np.where(zero, 0.0, logp), zero.astype(np.float64)


def add_log_dot(mats: tuple, X: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> None:
    """``out += log(p) @ X.T`` with ``0 log 0 = 0``: ``out`` ``(K, n)``, ``X`` ``(n, m)``,
    ``mats`` from :func:`log_matrix` of ``p`` ``(K, m)``; ``tmp`` a ``(K, n)`` scratch."""
    logp, zero = mats
    np.matmul(logp, X.T, out=tmp)
    out += tmp
    if zero is not None:
        np.matmul(zero, X.T, out=tmp)
        out[tmp > 0] = -np.inf


def xlogy_sum(x: np.ndarray, p: np.ndarray) -> float:
    """``Σ x log p`` with ``0 log 0 = 0`` (and ``-inf`` for ``x > 0`` at ``p = 0``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(x == 0, 0.0, x * np.log(p))
    return float(terms.sum())
