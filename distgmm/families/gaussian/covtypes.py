"""The four covariance types of the Gaussian family, pure numpy/scipy (never dask).

Each module (:mod:`.full`, :mod:`.tied`, :mod:`.diag`, :mod:`.spherical`) implements the same
small interface, looked up by name with :func:`get`:

``covariance_shape(K, D)``
    Shape of the covariances (and of the precision Cholesky factors).
``precisions_chol(covariances)``, ``precisions_chol_from_precisions(precisions)``,
``covariances_from_precisions_chol(precisions_chol)``
    Conversions; a non positive definite input raises
    :class:`~distgmm.errors.SingularCovarianceError`.
``log_det(precisions_chol, D)``
    ``log det`` of each component's precision Cholesky factor, shape ``(K,)``.
``prepare(precisions_chol, means_s)``
    Matrices the E-step needs, with means already shifted to the pass's origin.
``neg_half_maha(Xs, mats, out, work)``
    Writes ``-0.5 * (x - μ_k)ᵀ Σ_k⁻¹ (x - μ_k)`` for a row block into ``out`` (K, n).
``new_scatter(K, D)``, ``add_scatter(Xs, resp, means_s, acc, work)``,
``finish_scatter(acc, nk, rx, means_s)``
    Accumulate the second moments about ``means_s`` over row blocks; ``resp`` is (K, n).
``covariances(nk, d, sxx, reg_covar, spread)``
    The M-step for the covariances; variances that are rounding residue (a collapsed
    component) become exactly 0 before ``reg_covar`` is added.
``n_covariance_parameters(K, D)``
    Free covariance parameters, for BIC/AIC.
``sample(rng, mean, covariance, n)``
    ``n`` draws from one component.
"""

from __future__ import annotations

from types import ModuleType

from . import diag, full, spherical, tied

__all__ = ["COVARIANCE_TYPES", "get"]

_KERNELS: dict[str, ModuleType] = {
    "full": full,
    "tied": tied,
    "diag": diag,
    "spherical": spherical,
}
COVARIANCE_TYPES: tuple[str, ...] = tuple(_KERNELS)


def get(covariance_type: str) -> ModuleType:
    """Return the kernel module of a covariance type.

    Parameters
    ----------
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    module
        The module implementing the interface described in :mod:`distgmm.kernels`.
    """
    try:
        return _KERNELS[covariance_type]
    except KeyError:
        raise ValueError(
            f"covariance_type must be one of {sorted(_KERNELS)}, got {covariance_type!r}"
        ) from None
