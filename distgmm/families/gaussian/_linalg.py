"""Cholesky helpers shared by the 'full' and 'tied' kernels."""

from __future__ import annotations

import numpy as np
from scipy import linalg


def precision_chol(covariance: np.ndarray) -> np.ndarray | None:
    """Upper-triangular ``U`` with ``U Uᵀ = Σ⁻¹``, or ``None`` if ``Σ`` is not positive definite.

    ``U = L⁻ᵀ`` for the Cholesky factor ``L`` of ``Σ``: the same convention as
    scikit-learn's ``precisions_cholesky_``, so ``‖(x - μ) U‖²`` is the Mahalanobis distance.
    """
    if not np.all(np.isfinite(covariance)):
        return None
    try:
        lower = linalg.cholesky(covariance, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return None
    eye = np.eye(covariance.shape[0])
    return linalg.solve_triangular(lower, eye, lower=True, check_finite=False).T


def precision_chol_from_precision(precision: np.ndarray) -> np.ndarray | None:
    """Upper ``U`` with ``U Uᵀ = Λ``, or ``None`` if ``Λ`` is not positive definite.

    Cholesky of the row- and column-reversed matrix, reversed back (scikit-learn #26415),
    so no inverse of ``Λ`` is formed.
    """
    if not np.all(np.isfinite(precision)):
        return None
    try:
        lower = linalg.cholesky(precision[::-1, ::-1], lower=True, check_finite=False)
    except linalg.LinAlgError:
        return None
    return np.ascontiguousarray(lower[::-1, ::-1])


def covariance_from_precision_chol(prec_chol: np.ndarray) -> np.ndarray:
    """``Σ = (U Uᵀ)⁻¹ = U⁻ᵀ U⁻¹`` from the upper-triangular precision factor ``U``."""
    eye = np.eye(prec_chol.shape[0])
    inv = linalg.solve_triangular(prec_chol, eye, lower=False, check_finite=False)
    return inv.T @ inv


#: Variances this small relative to the data's second moment about the pass origin are what
#: the moment arithmetic leaves of an exact zero; the statistics cannot resolve them.
RESIDUE = 64 * np.finfo(np.float64).eps


def is_residue(variances: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Where a variance is rounding residue: a component collapsed along that feature.

    ``spread`` holds per-feature squared offsets, the scale of the moments whose difference
    gave the variance: from the pass origin for moments taken about it ('diag',
    'spherical'), from the previous mean for a scatter taken about that ('full', 'tied').
    """
    return variances <= RESIDUE * (np.abs(variances) + spread)


def component_scatters(Xs: np.ndarray, resp: np.ndarray, means_s: np.ndarray, work: np.ndarray):
    """Yield ``(k, Σ_i r_ik (x_i - s_k)(x_i - s_k)ᵀ)`` for each component, over one block.

    The yielded matrix is a buffer reused for the next component: add it up, don't keep it.
    """
    n, n_features = Xs.shape
    centred = work[: n * n_features].reshape(n, n_features)
    product = np.empty((n_features, n_features))
    sqrt_resp = np.sqrt(resp)
    for k, mean in enumerate(means_s):
        np.subtract(Xs, mean, out=centred)
        centred *= sqrt_resp[k][:, None]
        # np.dot sees Zᵀ·Z and calls BLAS syrk without holding the GIL (scipy's f2py
        # dsyrk holds it, which serialised the threads of a fit); the result is symmetric.
        np.dot(centred.T, centred, out=product)
        yield k, product
