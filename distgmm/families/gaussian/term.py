"""Gaussian columns as one group of a product (mixed-type) mixture.

The same kernels as :class:`~.kernel.GaussianKernel` (one GEMM against the stacked
precision factors, moments about the previous means relative to the pass origin) on the
group's columns; the mixture weights belong to the product.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from ..._paramcheck import check_gaussian
from . import covtypes, term_missing
from .mle import estimate

__all__ = ["GaussianGroup", "GaussianTerm"]

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True, slots=True, eq=False)
class GaussianGroup:
    """Means, covariances and precision factors of a group of Gaussian columns."""

    means: np.ndarray
    covariances: np.ndarray
    precisions_chol: np.ndarray


@dataclass(frozen=True, slots=True)
class GaussianTerm:
    """Gaussian columns ``columns`` of covariance type ``covariance_type``."""

    columns: tuple[int, ...]
    covariance_type: str = "full"
    reg_covar: float = 1e-6
    marginal: bool = False
    """Missing entries (NaN) are marginalised (``nan_policy='marginalize'``,
    :mod:`.term_missing`)."""
    kind = "gaussian"

    @property
    def width(self) -> int:
        return len(self.columns)

    def structure(self) -> tuple:
        return (self.kind, self.columns)

    def _cov(self):
        return covtypes.get(self.covariance_type)

    def work_width(self, n_components: int) -> int:
        return max(self._cov().work_width(n_components, self.width), self.width, 1)

    def view(self, block: np.ndarray, origin: np.ndarray, store: dict) -> np.ndarray:
        n = len(block)
        key = ("gaussian", self.columns)
        if key not in store:
            store[key] = np.empty((n, self.width))
        return np.subtract(block[:, self.columns], origin[list(self.columns)], out=store[key][:n])

    def row_const(self, view) -> None:
        return None

    def masked_view(self, block: np.ndarray, origin: np.ndarray, store: dict, missing):
        """The view of a block with missing entries (``missing``, its NaN mask)."""
        return term_missing.masked_view(self, block, origin, store, missing)

    def log_prob(self, view, mats, out: np.ndarray, tmp: np.ndarray, work: np.ndarray) -> None:
        if self.marginal:
            term_missing.log_prob(self, view, mats, out, tmp, work)
            return
        self._cov().neg_half_maha(view, mats, tmp, work)
        out += tmp

    def new_acc(self, n_components: int) -> list:
        return [
            np.zeros((n_components, self.width)),
            self._cov().new_scatter(n_components, self.width),
        ]

    def accumulate(self, view, resp, shift, acc: list, work: np.ndarray) -> None:
        acc[0] += resp @ view
        self._cov().add_scatter(view, resp, shift, acc[1], work)

    def accumulate_marginal(self, view, resp, shift, mats, assign, acc, work) -> None:
        """:meth:`accumulate` of a marginal pass, whose masked views need the model."""
        if isinstance(view, np.ndarray):
            self.accumulate(view, resp, shift, acc, work)
        else:
            term_missing.accumulate_masked(self, view, resp, shift, mats, assign, acc, work)

    def finish(self, acc: list, nk: np.ndarray, shift) -> tuple:
        rx, scatter = acc
        return (rx - nk[:, None] * shift, self._cov().finish_scatter(scatter, nk, rx, shift))

    def recentre(self, moments: tuple, nk: np.ndarray, shift, new_shift) -> tuple:
        """The group's moments about ``new_shift`` instead of ``shift``."""
        sx, sxx = moments
        delta = shift - new_shift
        return sx + nk[:, None] * delta, self._cov().recentre_scatter(sxx, sx, nk, delta)

    # ------------------------------------------------------------------ client side
    def _origin(self, origin: np.ndarray) -> np.ndarray:
        return np.asarray(origin, dtype=np.float64)[list(self.columns)]

    def prepare(self, params: GaussianGroup, origin: np.ndarray):
        means_s = params.means - self._origin(origin)
        cov = self._cov()
        log_det = cov.log_det(params.precisions_chol, self.width)
        const = np.broadcast_to(log_det - 0.5 * self.width * _LOG_2PI, (len(means_s),)).copy()
        mats = cov.prepare(params.precisions_chol, means_s)
        if self.marginal:
            mats = term_missing.prepare(self, mats, const, means_s, params)
        return mats, const, means_s

    def m_step(self, moments: tuple, nk: np.ndarray, previous: GaussianGroup, origin):
        stats = SimpleNamespace(nk=nk, sx=moments[0], sxx=moments[1])
        _, means, covariances = estimate(
            stats, previous.means, self.covariance_type, self.reg_covar, self._origin(origin)
        )
        return self.group(means, covariances)

    def group(self, means: np.ndarray, covariances: np.ndarray) -> GaussianGroup:
        """The group of these means and covariances (``SingularCovarianceError`` if one is
        not positive definite)."""
        covariances = np.asarray(covariances, dtype=np.float64)
        return GaussianGroup(
            np.asarray(means, dtype=np.float64),
            covariances,
            self._cov().precisions_chol(covariances),
        )

    def n_parameters(self, n_components: int) -> int:
        cov = self._cov().n_covariance_parameters(n_components, self.width)
        return cov + n_components * self.width

    def all_shift(self) -> np.ndarray:
        return np.zeros((1, self.width))

    def random_start(
        self, rng: np.random.Generator, moments: tuple, nk: np.ndarray, n_components: int, origin
    ):
        """Means drawn around the data's mean with its per-column spread; every component
        with the data's covariance."""
        stats = SimpleNamespace(nk=nk, sx=moments[0], sxx=moments[1])
        _, mean, cov = estimate(
            stats,
            self._origin(origin)[None, :],
            self.covariance_type,
            self.reg_covar,
            self._origin(origin),
        )
        spread = np.sqrt(_variances(self.covariance_type, cov, self.width))
        means = mean + spread * rng.standard_normal((n_components, self.width))
        if self.covariance_type == "tied":
            covariances = cov
        else:
            covariances = np.repeat(cov, n_components, axis=0)
        return self.group(means, covariances)

    def sample(self, params: GaussianGroup, rng, y: np.ndarray, out: np.ndarray) -> None:
        cov = self._cov()
        rs = np.random.RandomState(rng.integers(2**32 - 1))
        for k in np.unique(y):
            rows = np.flatnonzero(y == k)
            draws = cov.sample(
                rs, params.means[k], cov.component_covariance(params.covariances, k), len(rows)
            )
            out[np.ix_(rows, list(self.columns))] = draws

    def array_shapes(self, n_components: int) -> dict[str, tuple]:
        shape = self._cov().covariance_shape(n_components, self.width)
        return {
            "means": (n_components, self.width),
            "covariances": shape,
            "precisions_cholesky": shape,
        }

    def to_arrays(self, params: GaussianGroup) -> dict[str, np.ndarray]:
        return {
            "means": params.means,
            "covariances": params.covariances,
            "precisions_cholesky": params.precisions_chol,
        }

    def from_arrays(self, arrays: dict, fail: Callable[[str], Exception], prefix: str = ""):
        names = ("weights", "means", "covariances", "precisions_cholesky")
        k = len(arrays["means"])
        checked = {"weights": np.full(k, 1.0 / k), **arrays}
        check_gaussian(self.covariance_type, checked, fail, names)
        return GaussianGroup(arrays["means"], arrays["covariances"], arrays["precisions_cholesky"])


def _variances(covariance_type: str, cov: np.ndarray, width: int) -> np.ndarray:
    """Per-column variances of a one-component covariance of ``covariance_type``."""
    if covariance_type == "full":
        return np.diagonal(cov[0]).copy()
    if covariance_type == "tied":
        return np.diagonal(cov).copy()
    if covariance_type == "diag":
        return cov[0]
    return np.full(width, cov[0])
