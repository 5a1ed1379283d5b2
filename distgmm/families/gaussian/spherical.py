"""'spherical' covariance: each component has a single variance, stored as ``(K,)``."""

from __future__ import annotations

from functools import partial

import numpy as np

from ._linalg import is_residue
from .diag import factor_from_precisions, factor_from_variances

NAME = "spherical"

precisions_chol = partial(factor_from_variances, name=NAME)
precisions_chol_from_precisions = partial(factor_from_precisions, name=NAME)


def covariance_shape(n_components: int, n_features: int) -> tuple[int, ...]:
    return (n_components,)


def covariances_from_precisions_chol(prec_chol: np.ndarray) -> np.ndarray:
    return 1.0 / prec_chol**2


def log_det(prec_chol: np.ndarray, n_features: int) -> np.ndarray:
    return n_features * np.log(prec_chol)


def prepare(prec_chol: np.ndarray, means_s: np.ndarray) -> tuple[np.ndarray, ...]:
    precisions = prec_chol**2
    return (
        0.5 * precisions[:, None],
        np.ascontiguousarray(means_s * precisions[:, None]),
        0.5 * (np.einsum("kd,kd->k", means_s, means_s) * precisions)[:, None],
    )


def work_width(n_components: int, n_features: int) -> int:
    return 0


def neg_half_maha(Xs: np.ndarray, mats: tuple, out: np.ndarray, work: np.ndarray) -> None:
    half_precisions, scaled_means, half_norms = mats
    np.matmul(scaled_means, Xs.T, out=out)
    out -= np.einsum("nd,nd->n", Xs, Xs) * half_precisions
    out -= half_norms


def new_scatter(n_components: int, n_features: int) -> np.ndarray:
    return np.zeros(n_components)


def add_scatter(
    Xs: np.ndarray, resp: np.ndarray, means_s: np.ndarray, acc: np.ndarray, work: np.ndarray
) -> None:
    acc += resp @ np.einsum("nd,nd->n", Xs, Xs)


def finish_scatter(
    acc: np.ndarray, nk: np.ndarray, rx: np.ndarray, means_s: np.ndarray
) -> np.ndarray:
    # Σ r ‖x - s‖² = Σ r ‖x‖² - 2 s·Σ r x + nk ‖s‖²
    return (
        acc
        - 2.0 * np.einsum("kd,kd->k", means_s, rx)
        + nk * np.einsum("kd,kd->k", means_s, means_s)
    )


def covariances(
    nk: np.ndarray, d: np.ndarray, sxx: np.ndarray, reg_covar: float, spread: np.ndarray
) -> np.ndarray:
    cov = (sxx / nk - np.einsum("kd,kd->k", d, d)) / d.shape[1]
    return np.where(is_residue(cov, spread.mean(axis=1)), 0.0, cov) + reg_covar


def n_covariance_parameters(n_components: int, n_features: int) -> int:
    return n_components


def sample(rng: np.random.Generator, mean: np.ndarray, covariance: float, n: int) -> np.ndarray:
    return mean + rng.standard_normal(size=(n, len(mean))) * np.sqrt(covariance)


def component_covariance(covariances: np.ndarray, k: int) -> np.ndarray:
    return covariances[k]


def recentre_scatter(sxx: np.ndarray, sx: np.ndarray, nk: np.ndarray, delta: np.ndarray):
    """Summed scatter about ``s - delta``: ``sxx + 2 δ·sx + nk ‖δ‖²``."""
    return sxx + 2.0 * np.einsum("kd,kd->k", delta, sx) + nk * np.einsum("kd,kd->k", delta, delta)
