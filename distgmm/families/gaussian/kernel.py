"""The worker side of the Gaussian family, and the pass models of its parameters.

A block's view is the block shifted to the pass origin in float64 (and, for float32 data, in
float32 too: well-conditioned E-steps read that), shared by every Gaussian model of the
pass. The log-densities are one GEMM against all K stacked precision factors (by
covariance type, :mod:`.covtypes`); the moments are taken about each model's shift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...core.family import PassModel
from . import covtypes
from .params import GaussianParams
from .stats import Stats

__all__ = [
    "GaussianKernel",
    "float32_origin",
    "make_kernel",
    "prepare_all",
    "prepare_em",
    "prepare_given",
    "prepare_kmeans",
    "prepare_random",
    "representable_origin",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _never(mats: tuple) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class GaussianKernel:
    """Gaussian log-densities of covariance type ``density``; moments of type ``scatter``.

    They differ for a k-means step (unit spherical densities, the fit's moments).
    """

    density: str
    scatter: str
    view_key = "shifted"

    def block_rows(self, n_components: int, n_features: int) -> int:
        # Keep a block's widest per-row scratch (K·D projections for 'full') near 2 MB.
        width = covtypes.get(self.density).work_width(n_components, n_features)
        widest = max(width, n_components, n_features)
        return int(min(4096, max(256, (1 << 21) // (8 * widest))))

    def view(self, block: np.ndarray, origin: np.ndarray, store: dict, fast: bool = True):
        n, d = block.shape
        if "shifted" not in store:
            store["shifted"] = np.empty((n, d))
            origin32 = float32_origin(block.dtype, origin) if fast else None
            store["origin32"] = origin32
            store["shifted32"] = None if origin32 is None else np.empty((n, d), np.float32)
        Xs = np.subtract(block, origin, out=store["shifted"][:n])
        X32 = None
        if store["shifted32"] is not None:
            X32 = np.subtract(block, store["origin32"], out=store["shifted32"][:n])
        return Xs, X32

    def nonfinite_rows(self, view) -> int:
        Xs = view[0]
        return len(Xs) - int(np.isfinite(Xs).all(axis=1).sum())

    def work_size(self, n_components: int, n_features: int, block_rows: int) -> int:
        width = max(
            covtypes.get(self.density).work_width(n_components, n_features),
            covtypes.get(self.scatter).work_width(n_components, n_features),
            1,
        )
        return block_rows * max(width, n_features)

    def log_prob(self, view, model: PassModel, out: np.ndarray, work: np.ndarray) -> None:
        view_log_prob(self.density, view, model.mats, out, work)

    def new_acc(self, model: PassModel, n_features: int):
        k = model.n_components
        return np.zeros((k, n_features)), covtypes.get(self.scatter).new_scatter(k, n_features)

    def accumulate(self, view, resp, model: PassModel, acc, work) -> None:
        Xs = view[0]
        rx, scatter = acc
        rx += resp @ Xs
        covtypes.get(self.scatter).add_scatter(Xs, resp, model.shift, scatter, work)

    def finish(self, acc, model: PassModel, totals: dict) -> Stats:
        rx, scatter = acc
        nk, shift = totals["nk"], model.shift
        return Stats(
            **totals,
            sx=rx - nk[:, None] * shift,
            sxx=covtypes.get(self.scatter).finish_scatter(scatter, nk, rx, shift),
            shift=shift,
        )


def view_log_prob(density: str, view, mats: tuple, out: np.ndarray, work: np.ndarray) -> None:
    """The log-densities (less the constant) of a view for the matrices ``mats`` of
    covariance type ``density``: from its float32 copy when the matrices allow it."""
    Xs, X32 = view
    kind = covtypes.get(density)
    fast = X32 is not None and getattr(kind, "accepts_float32", _never)(mats)
    kind.neg_half_maha(X32 if fast else Xs, mats, out, work)


def make_kernel(density: str, scatter: str, nan_policy: str = "raise"):
    """The kernel of a missing-value policy (:data:`~distgmm.core.missing.NAN_POLICIES`)."""
    if nan_policy == "raise":
        return GaussianKernel(density, scatter)
    if nan_policy == "omit":
        from ...core.missing import OmitRows

        return OmitRows(GaussianKernel(density, scatter))
    from .missing import MarginalGaussianKernel

    return MarginalGaussianKernel(density, scatter)


def _with_marginal(mats: tuple, nan_policy: str, covariance_type: str, prec_chol, means_s):
    """The pass model's matrices: a marginal kernel reads :func:`.missing.marginal_mats` too."""
    if nan_policy != "marginalize":
        return mats
    from .missing import marginal_mats

    return mats, marginal_mats(covariance_type, prec_chol, *means_s.shape)


def gaussian_const(params: GaussianParams) -> np.ndarray:
    """``log det U_k - D/2 log 2π`` per component: the density's normalising constant."""
    log_det = covtypes.get(params.covariance_type).log_det(
        params.precisions_chol, params.n_features
    )
    return np.broadcast_to(
        log_det - 0.5 * params.n_features * _LOG_2PI, (params.n_components,)
    ).copy()


def prepare_em(
    params: GaussianParams,
    origin: np.ndarray,
    log_weights: np.ndarray | None = None,
    entropy: bool = False,
    nan_policy: str = "raise",
) -> PassModel:
    """A 'soft' pass model: the E-step of ``params`` (statistics about its own means).

    ``log_weights`` replaces ``log(params.weights)`` (a variational E-step adds its own
    expectations); ``entropy`` accumulates the responsibilities' entropy.
    """
    cov = params.covariance_type
    means_s = params.means - origin
    if log_weights is None:
        const = (
            np.log(params.weights)
            + covtypes.get(cov).log_det(params.precisions_chol, params.n_features)
            - 0.5 * params.n_features * _LOG_2PI
        )
        const = np.broadcast_to(const, params.weights.shape).copy()
    else:
        const = log_weights + gaussian_const(params)
    mats = covtypes.get(cov).prepare(params.precisions_chol, means_s)
    return PassModel(
        make_kernel(cov, cov, nan_policy),
        "soft",
        const,
        _with_marginal(mats, nan_policy, cov, params.precisions_chol, means_s),
        means_s,
        entropy=entropy,
    )


def prepare_kmeans(
    centers: np.ndarray, covariance_type: str, origin: np.ndarray, nan_policy: str = "raise"
) -> PassModel:
    """A 'hard' pass model: assign each row to its nearest center (one Lloyd step); with
    missing entries, nearest over the observed ones, missing ones completed by the center."""
    means_s = np.asarray(centers, dtype=np.float64) - origin
    k = len(means_s)
    mats = covtypes.get("spherical").prepare(np.ones(k), means_s)
    return PassModel(
        make_kernel("spherical", covariance_type, nan_policy),
        "hard",
        np.zeros(k),
        _with_marginal(mats, nan_policy, "spherical", np.ones(k), means_s),
        means_s,
    )


def prepare_random(
    n_components: int, n_features: int, covariance_type: str, seed: int, nan_policy: str = "raise"
) -> PassModel:
    """A 'random' pass model: responsibilities drawn uniformly, then normalised per row
    (a missing entry completed by the pass origin)."""
    kernel = make_kernel(covariance_type, covariance_type, nan_policy)
    zeros = np.zeros((n_components, n_features))
    return PassModel(kernel, "random", np.zeros(n_components), (), zeros, seed)


def prepare_given(
    given: np.ndarray, covariance_type: str, means_s: np.ndarray, nan_policy: str = "raise"
) -> PassModel:
    """A 'given' pass model: statistics of responsibilities fixed in advance (an initialisation).

    Parameters
    ----------
    given : ndarray of shape (n_samples, n_components) or (n_samples,)
        Responsibilities of every row, or the component of every row (one-hot).
    covariance_type : str
    means_s : ndarray of shape (n_components, n_features)
        Shift of the moments relative to the pass origin (near each component's mean).
    """
    means_s = np.asarray(means_s, dtype=np.float64)
    kernel = make_kernel(covariance_type, covariance_type, nan_policy)
    return PassModel(kernel, "given", np.zeros(len(means_s)), (), means_s, given=given)


def prepare_all(n_features: int, nan_policy: str = "raise") -> PassModel:
    """One component holding every row: the data's moments about the pass origin ('full')."""
    kernel = make_kernel("full", "full", nan_policy)
    return PassModel(kernel, "all", np.zeros(1), (), np.zeros((1, n_features)))


def representable_origin(origin: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``origin`` rounded to float32 for float32 data, so their blocks shift exactly."""
    if dtype == np.float32:
        return origin.astype(np.float32).astype(np.float64)
    return np.asarray(origin, dtype=np.float64)


def float32_origin(dtype: np.dtype, origin: np.ndarray) -> np.ndarray | None:
    """The origin as float32, when it is exactly representable in float32 (else None).

    Then the float32 copy of a shifted block is the float64 copy rounded to float32, the
    same points to float32 precision; the engine rounds the origin of float32 data to
    float32 so that this holds.
    """
    if dtype != np.float32:
        return None
    origin32 = origin.astype(np.float32)
    return origin32 if np.array_equal(origin32, origin) else None
