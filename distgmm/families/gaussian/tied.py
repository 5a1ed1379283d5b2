"""'tied' covariance: one ``(D, D)`` covariance matrix shared by all components."""

from __future__ import annotations

import numpy as np

from ...errors import SingularCovarianceError
from ._linalg import (
    component_scatters,
    covariance_from_precision_chol,
    is_residue,
    precision_chol,
    precision_chol_from_precision,
)

NAME = "tied"


def covariance_shape(n_components: int, n_features: int) -> tuple[int, ...]:
    return (n_features, n_features)


def precisions_chol(covariances: np.ndarray) -> np.ndarray:
    chol = precision_chol(covariances)
    if chol is None:
        raise SingularCovarianceError(None, NAME)
    return chol


def precisions_chol_from_precisions(precisions: np.ndarray) -> np.ndarray:
    chol = precision_chol_from_precision(precisions)
    if chol is None:
        raise SingularCovarianceError(None, NAME)
    return chol


def covariances_from_precisions_chol(prec_chol: np.ndarray) -> np.ndarray:
    return covariance_from_precision_chol(prec_chol)


def log_det(prec_chol: np.ndarray, n_features: int) -> np.ndarray:
    return np.log(np.diagonal(prec_chol)).sum()


def prepare(prec_chol: np.ndarray, means_s: np.ndarray) -> tuple[np.ndarray, ...]:
    projected_means = means_s @ prec_chol
    return (
        np.ascontiguousarray(prec_chol),
        np.ascontiguousarray(projected_means),
        0.5 * np.einsum("kd,kd->k", projected_means, projected_means)[:, None],
    )


def work_width(n_components: int, n_features: int) -> int:
    return n_features


def neg_half_maha(Xs: np.ndarray, mats: tuple, out: np.ndarray, work: np.ndarray) -> None:
    # -½‖y - m_k‖² = y·m_k - ½‖y‖² - ½‖m_k‖² with y = x U: two GEMMs instead of K
    # subtractions of the whole block.
    prec_chol, projected_means, half_norms = mats
    n = len(Xs)
    proj = np.matmul(Xs, prec_chol, out=work[: n * Xs.shape[1]].reshape(n, -1))
    np.matmul(projected_means, proj.T, out=out)
    out -= half_norms
    out -= 0.5 * np.einsum("nd,nd->n", proj, proj)


def new_scatter(n_components: int, n_features: int) -> np.ndarray:
    return np.zeros((n_features, n_features))


def add_scatter(
    Xs: np.ndarray, resp: np.ndarray, means_s: np.ndarray, acc: np.ndarray, work: np.ndarray
) -> None:
    """``acc += Σ_k Σ_i r_ik (x_i - s_k)(x_i - s_k)ᵀ`` for one row block.

    Pooled over components, but each about its own mean: a single scatter about a common
    origin would lose digits to cancellation when the clusters are far apart.
    """
    for _, scatter in component_scatters(Xs, resp, means_s, work):
        acc += scatter


def finish_scatter(
    acc: np.ndarray, nk: np.ndarray, rx: np.ndarray, means_s: np.ndarray
) -> np.ndarray:
    return acc


def covariances(
    nk: np.ndarray, d: np.ndarray, sxx: np.ndarray, reg_covar: float, spread: np.ndarray
) -> np.ndarray:
    cov = (sxx - (nk[:, None] * d).T @ d) / nk.sum()
    # Scatter about the previous means (see full.py): rounding scales with d².
    (j,) = np.nonzero(is_residue(np.diagonal(cov), nk @ d**2 / nk.sum()))
    cov[j, :] = 0.0
    cov[:, j] = 0.0
    cov.flat[:: len(cov) + 1] += reg_covar
    return cov


def n_covariance_parameters(n_components: int, n_features: int) -> int:
    return n_features * (n_features + 1) // 2


def sample(
    rng: np.random.Generator, mean: np.ndarray, covariance: np.ndarray, n: int
) -> np.ndarray:
    return rng.multivariate_normal(mean, covariance, n)


def component_covariance(covariances: np.ndarray, k: int) -> np.ndarray:
    return covariances


def recentre_scatter(sxx: np.ndarray, sx: np.ndarray, nk: np.ndarray, delta: np.ndarray):
    """Pooled scatter about ``s - delta``: the full type's change summed over components."""
    cross = sx.T @ delta
    return sxx + cross + cross.T + (nk[:, None] * delta).T @ delta
