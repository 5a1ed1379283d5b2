"""'full' covariance: each component has its own ``(D, D)`` covariance matrix."""

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

NAME = "full"


def covariance_shape(n_components: int, n_features: int) -> tuple[int, ...]:
    return (n_components, n_features, n_features)


def _per_component(factor, matrices: np.ndarray) -> np.ndarray:
    out = np.empty(matrices.shape)
    for k, matrix in enumerate(matrices):
        chol = factor(matrix)
        if chol is None:
            raise SingularCovarianceError(k, NAME)
        out[k] = chol
    return out


def precisions_chol(covariances: np.ndarray) -> np.ndarray:
    return _per_component(precision_chol, covariances)


def precisions_chol_from_precisions(precisions: np.ndarray) -> np.ndarray:
    return _per_component(precision_chol_from_precision, precisions)


def covariances_from_precisions_chol(prec_chol: np.ndarray) -> np.ndarray:
    return np.stack([covariance_from_precision_chol(u) for u in prec_chol])


def log_det(prec_chol: np.ndarray, n_features: int) -> np.ndarray:
    return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)


#: float32 blocks are projected in float32 (half the GEMM and einsum cost; the statistics
#: still come from the float64 block) while every precision factor U is this well
#: conditioned, judged by the ratio of its extreme diagonal entries (a lower bound of
#: cond(U) = sqrt(cond(Σ))). Past it float32 projections drift from float64 ones by more
#: than 1e-6 nats per row, and the float64 E-step is used.
FLOAT32_MAX_COND = 100.0


def prepare(prec_chol: np.ndarray, means_s: np.ndarray) -> tuple[np.ndarray, ...]:
    n_components, n_features = means_s.shape
    # All K factors side by side, so one GEMM projects a block on every component at once.
    stacked = np.ascontiguousarray(
        prec_chol.transpose(1, 0, 2).reshape(n_features, n_components * n_features)
    )
    offsets = np.einsum("kd,kde->ke", means_s, prec_chol).ravel()
    diagonal = np.abs(np.diagonal(prec_chol, axis1=1, axis2=2))
    if (diagonal.max(axis=1) / diagonal.min(axis=1)).max() > FLOAT32_MAX_COND:
        return stacked, offsets
    return stacked, offsets, stacked.astype(np.float32), offsets.astype(np.float32)


def accepts_float32(mats: tuple) -> bool:
    """Whether :func:`neg_half_maha` may be given a float32 block for these matrices."""
    return len(mats) == 4


def _rows(work: np.ndarray, n: int, width: int) -> np.ndarray:
    """A C-contiguous ``(n, width)`` view of the flat scratch buffer."""
    return work[: n * width].reshape(n, width)


def work_width(n_components: int, n_features: int) -> int:
    """Columns of per-row scratch the E-step needs (the stacked projections)."""
    return n_components * n_features


def neg_half_maha(Xs: np.ndarray, mats: tuple, out: np.ndarray, work: np.ndarray) -> None:
    n_components, n = out.shape
    if Xs.dtype == np.float32:
        stacked, offsets = mats[2:]
        work = work.view(np.float32)
    else:
        stacked, offsets = mats[:2]
    proj = np.matmul(Xs, stacked, out=_rows(work, n, stacked.shape[1]))
    proj -= offsets
    proj3 = proj.reshape(n, n_components, -1)
    # einsum is fastest into a contiguous (n, K) array of the projections' own dtype; the
    # transposing, upcasting copy is cheap next to it.
    squares = np.einsum("nkd,nkd->nk", proj3, proj3)
    np.multiply(squares.T, -0.5, out=out)


def new_scatter(n_components: int, n_features: int) -> np.ndarray:
    return np.zeros((n_components, n_features, n_features))


def add_scatter(
    Xs: np.ndarray, resp: np.ndarray, means_s: np.ndarray, acc: np.ndarray, work: np.ndarray
) -> None:
    """``acc[k] += Σ_i r_ik (x_i - s_k)(x_i - s_k)ᵀ`` for one row block."""
    for k, scatter in component_scatters(Xs, resp, means_s, work):
        acc[k] += scatter


def finish_scatter(
    acc: np.ndarray, nk: np.ndarray, rx: np.ndarray, means_s: np.ndarray
) -> np.ndarray:
    return acc


def covariances(
    nk: np.ndarray, d: np.ndarray, sxx: np.ndarray, reg_covar: float, spread: np.ndarray
) -> np.ndarray:
    cov = sxx / nk[:, None, None] - d[:, :, None] * d[:, None, :]
    diagonal = np.arange(d.shape[1])
    # The scatter was taken about the previous means: its rounding scales with d², not with
    # the distance from the pass origin.
    k, j = np.nonzero(is_residue(cov[:, diagonal, diagonal], d**2))
    cov[k, j, :] = 0.0
    cov[k, :, j] = 0.0
    cov[:, diagonal, diagonal] += reg_covar
    return cov


def n_covariance_parameters(n_components: int, n_features: int) -> int:
    return n_components * n_features * (n_features + 1) // 2


def sample(
    rng: np.random.Generator, mean: np.ndarray, covariance: np.ndarray, n: int
) -> np.ndarray:
    return rng.multivariate_normal(mean, covariance, n)


def component_covariance(covariances: np.ndarray, k: int) -> np.ndarray:
    return covariances[k]


def recentre_scatter(sxx: np.ndarray, sx: np.ndarray, nk: np.ndarray, delta: np.ndarray):
    """Scatter about ``s - delta`` from the scatter and first moments about ``s``:
    ``sxx + sx δᵀ + δ sxᵀ + nk δ δᵀ`` per component."""
    cross = sx[:, :, None] * delta[:, None, :]
    return (
        sxx
        + cross
        + np.swapaxes(cross, 1, 2)
        + nk[:, None, None] * (delta[:, :, None] * delta[:, None, :])
    )
