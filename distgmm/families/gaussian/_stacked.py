"""Inverses and log-determinants of stacks of small symmetric positive definite matrices.

The marginal E-step factors one ``r x r`` block of a precision matrix per component and
missingness pattern: tens of thousands of 2 x 2 to 8 x 8 matrices a chunk. LAPACK through
``np.linalg`` pays a fixed cost per matrix that dwarfs the arithmetic there; the same
Cholesky algorithm written as ``O(r³)`` operations on whole stacks, one array per matrix
entry, is 3-10x faster for a few hundred patterns (measured for r = 2 to 8, K = 8) and
costs at most ~0.5 ms more for a handful. In a chunk pass at 30 % missing entries (131k x 16,
K = 8, one thread) it took a third off the time; at 10 %, the same time. Each matrix's
result depends on its own entries only, as LAPACK's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["MAX_STACKED", "inverse_and_half_logdet"]

#: The largest ``r`` worth the stack arithmetic: its ``r³/2`` array operations lose to
#: LAPACK's per-matrix cost beyond it for the few patterns that have so many gaps.
MAX_STACKED = 8


def inverse_and_half_logdet(
    entry: Callable[[int, int], np.ndarray], r: int
) -> tuple[np.ndarray, np.ndarray]:
    """``A⁻¹`` as ``(..., r, r)`` and ``½ log det A`` as ``(...)`` of a stack of SPD ``A``.

    ``entry(i, j)`` is the stack of entries ``A[..., i, j]`` for ``i >= j``.

    Raises
    ------
    numpy.linalg.LinAlgError
        A matrix is not positive definite (as ``np.linalg.cholesky`` would).
    """
    lower = _cholesky(entry, r)
    inverse = _lower_inverse(lower)
    out = np.empty((*lower[0][0].shape, r, r))
    for i in range(r):  # A⁻¹ = L⁻ᵀ L⁻¹
        for j in range(i + 1):
            value = inverse[i][i] * inverse[i][j]
            for k in range(i + 1, r):
                value += inverse[k][i] * inverse[k][j]
            out[..., i, j] = value
            out[..., j, i] = value
    half_logdet = np.log(lower[0][0])
    for j in range(1, r):
        half_logdet += np.log(lower[j][j])
    return out, half_logdet


def _cholesky(entry: Callable[[int, int], np.ndarray], r: int) -> list[list]:
    """The lower Cholesky factor ``L`` (``A = L Lᵀ``), column by column (Cholesky-Crout)."""
    lower: list[list] = [[None] * r for _ in range(r)]
    for j in range(r):
        pivot = np.array(entry(j, j), dtype=np.float64)
        for k in range(j):
            pivot -= lower[j][k] * lower[j][k]
        if not (pivot > 0.0).all():
            raise np.linalg.LinAlgError("Matrix is not positive definite")
        lower[j][j] = np.sqrt(pivot)
        reciprocal = 1.0 / lower[j][j]
        for i in range(j + 1, r):
            value = np.array(entry(i, j), dtype=np.float64)
            for k in range(j):
                value -= lower[i][k] * lower[j][k]
            lower[i][j] = value * reciprocal
    return lower


def _lower_inverse(lower: list[list]) -> list[list]:
    """``L⁻¹`` of a lower-triangular ``L``, entry by entry (forward substitution)."""
    r = len(lower)
    inverse: list[list] = [[None] * r for _ in range(r)]
    for i in range(r):
        inverse[i][i] = 1.0 / lower[i][i]
        for j in range(i):
            value = lower[i][j] * inverse[j][j]
            for k in range(j + 1, i):
                value += lower[i][k] * inverse[k][j]
            inverse[i][j] = -value * inverse[i][i]
    return inverse
