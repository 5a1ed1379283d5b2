"""'diag' covariance: each component has its own diagonal covariance, stored as ``(K, D)``."""

from __future__ import annotations

import numpy as np

from ...errors import SingularCovarianceError
from ._linalg import is_residue

NAME = "diag"


def covariance_shape(n_components: int, n_features: int) -> tuple[int, ...]:
    return (n_components, n_features)


def check_positive(values: np.ndarray, name: str) -> None:
    """Raise ``SingularCovarianceError`` for the first component with a value <= 0 or NaN."""
    bad = ~(values > 0) | ~np.isfinite(values)
    if bad.any():
        k = int(np.argwhere(bad.reshape(len(values), -1).any(axis=1))[0, 0])
        raise SingularCovarianceError(k, name)


def factor_from_variances(covariances: np.ndarray, name: str = NAME) -> np.ndarray:
    """``1/sqrt(variance)``: the precision Cholesky factor of diagonal or spherical variances."""
    check_positive(covariances, name)
    return 1.0 / np.sqrt(covariances)


def factor_from_precisions(precisions: np.ndarray, name: str = NAME) -> np.ndarray:
    """``sqrt(precision)``: the precision Cholesky factor of diagonal or spherical precisions."""
    check_positive(precisions, name)
    return np.sqrt(precisions)


precisions_chol = factor_from_variances
precisions_chol_from_precisions = factor_from_precisions


def covariances_from_precisions_chol(prec_chol: np.ndarray) -> np.ndarray:
    return 1.0 / prec_chol**2


def log_det(prec_chol: np.ndarray, n_features: int) -> np.ndarray:
    return np.log(prec_chol).sum(axis=1)


def prepare(prec_chol: np.ndarray, means_s: np.ndarray) -> tuple[np.ndarray, ...]:
    precisions = prec_chol**2
    return (
        np.ascontiguousarray(precisions),
        np.ascontiguousarray(means_s * precisions),
        0.5 * np.einsum("kd,kd->k", means_s**2, precisions)[:, None],
    )


def work_width(n_components: int, n_features: int) -> int:
    return n_features


def neg_half_maha(Xs: np.ndarray, mats: tuple, out: np.ndarray, work: np.ndarray) -> None:
    # Σ_d (x_d - μ_kd)² λ_kd expanded into GEMMs against λ and μλ; the data are already
    # shifted to the pass origin, so the expansion does not cancel an offset away.
    precisions, scaled_means, half_norms = mats
    n, n_features = Xs.shape
    squares = np.square(Xs, out=work[: n * n_features].reshape(n, n_features))
    np.matmul(precisions, squares.T, out=out)
    out *= -0.5
    out += scaled_means @ Xs.T
    out -= half_norms


def new_scatter(n_components: int, n_features: int) -> np.ndarray:
    return np.zeros((n_components, n_features))


def add_scatter(
    Xs: np.ndarray, resp: np.ndarray, means_s: np.ndarray, acc: np.ndarray, work: np.ndarray
) -> None:
    """``acc += rᵀ x²`` about the pass origin; :func:`finish_scatter` moves it to ``s_k``."""
    n, n_features = Xs.shape
    squares = np.square(Xs, out=work[: n * n_features].reshape(n, n_features))
    acc += resp @ squares


def finish_scatter(
    acc: np.ndarray, nk: np.ndarray, rx: np.ndarray, means_s: np.ndarray
) -> np.ndarray:
    # Σ r (x - s)² = Σ r x² - 2 s Σ r x + nk s²
    return acc - 2.0 * means_s * rx + nk[:, None] * means_s**2


def covariances(
    nk: np.ndarray, d: np.ndarray, sxx: np.ndarray, reg_covar: float, spread: np.ndarray
) -> np.ndarray:
    cov = sxx / nk[:, None] - d**2
    return np.where(is_residue(cov, spread), 0.0, cov) + reg_covar


def n_covariance_parameters(n_components: int, n_features: int) -> int:
    return n_components * n_features


def sample(
    rng: np.random.Generator, mean: np.ndarray, covariance: np.ndarray, n: int
) -> np.ndarray:
    return mean + rng.standard_normal(size=(n, len(mean))) * np.sqrt(covariance)


def component_covariance(covariances: np.ndarray, k: int) -> np.ndarray:
    return covariances[k]


def recentre_scatter(sxx: np.ndarray, sx: np.ndarray, nk: np.ndarray, delta: np.ndarray):
    """Per-feature scatter about ``s - delta``: ``sxx + 2 δ sx + nk δ²``."""
    return sxx + 2.0 * delta * sx + nk[:, None] * delta**2
