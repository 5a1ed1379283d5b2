"""The Gaussian family fitted by variational Bayes: scikit-learn's BayesianGaussianMixture.

The E-step is the Gaussian kernel's with other per-component constants (E[log π_k] and the
expectations of the Wishart and of the means, :func:`.vb.log_prob_constants`); the M-step
reads the same moments as maximum likelihood's (:func:`.mle.estimate`), then the
variational updates (:func:`.vb.m_step`); the bound is the ELBO, which needs the entropy of
the responsibilities, accumulated in the pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..._paramcheck import check_gaussian
from ...core.family import PassModel, register
from . import covtypes, vb
from .kernel import prepare_em
from .mle import estimate, sample
from .params import GaussianParams
from .stats import Stats

__all__ = ["GaussianVB", "VBArrays", "data_moments"]


def _as_gaussian(params: vb.VBParams) -> GaussianParams:
    return GaussianParams(
        params.covariance_type,
        params.weights,
        params.means,
        params.covariances,
        params.precisions_chol,
    )


def _row_scale(stats: Stats) -> float:
    """The factor that makes the sample weights sum to the number of rows."""
    return 1.0 if stats.weight == stats.n_rows else stats.n_rows / stats.weight


def _per_sample(stats: Stats) -> Stats:
    """The summary with sample weights rescaled to sum to the number of rows.

    The priors weigh against the data's counts, so for variational Bayes the scale of the
    weights matters; rescaled, unit weights fit exactly as none (their sum is the rows').
    """
    c = _row_scale(stats)
    if c == 1.0:
        return stats
    return dataclasses.replace(
        stats, nk=stats.nk * c, sx=stats.sx * c, sxx=stats.sxx * c, entropy=stats.entropy * c
    )


@dataclass(frozen=True, slots=True, eq=False)
class GaussianVB:
    """Variational Gaussian mixture: the bound is scikit-learn's ELBO (total scale) of the
    parameters after the M-step and the responsibilities before it."""

    covariance_type: str
    reg_covar: float
    priors: vb.Priors
    name = "gaussian-vb"

    def prepare(self, params: vb.VBParams, origin: np.ndarray) -> PassModel:
        constants = vb.log_prob_constants(params, self.priors)
        return prepare_em(_as_gaussian(params), origin, log_weights=constants, entropy=True)

    def _update(self, nk, means, covariances) -> vb.VBParams:
        cov = self.covariance_type
        return vb.m_step(
            nk, means, covariances, self.priors, cov, covtypes.get(cov).precisions_chol
        )

    def m_step(self, summary: Stats, params: vb.VBParams, origin: np.ndarray) -> vb.VBParams:
        # No empty-component check: the Dirichlet process empties the components the data
        # do not need, and the priors keep their parameters finite.
        stats = _per_sample(summary)
        nk, means, covariances = estimate(
            stats, params.means, self.covariance_type, self.reg_covar, origin
        )
        return self._update(nk, means, covariances)

    def bound(self, summary: Stats, params: vb.VBParams) -> float:
        # Only the entropy is read: scaled alone, not with a copy of every moment.
        return vb.lower_bound(summary.entropy * _row_scale(summary), params, self.priors)

    def start(self, estimate: GaussianParams, n_samples: int) -> vb.VBParams:
        """The variational M-step from an initialisation's estimate (weights ``nk / n``):
        parameters, or the ``distgmm.init.Moments`` of a variational start (only the
        weights, means and covariances are read)."""
        return self._update(estimate.weights * n_samples, estimate.means, estimate.covariances)

    def sample(self, params: vb.VBParams, rng: np.random.RandomState, n_samples: int):
        return sample(params, rng, n_samples)


register("gaussian-vb", GaussianVB)


def data_moments(stats: Stats, origin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The data's mean and unbiased covariance from a one-component 'all' pass ('full').

    With sample weights, the weighted mean and ``n / (n - 1)`` times the weighted
    covariance (the unbiased one for equal weights, whatever their scale).
    """
    w, n = float(stats.nk[0]), stats.n_rows
    d = stats.sx[0] / w
    covariance = (stats.sxx[0] / w - np.outer(d, d)) * (n / (n - 1))
    return origin + d, covariance


@dataclass(frozen=True, slots=True)
class VBArrays:
    """A variational fit's parameters to and from the arrays of a checkpoint."""

    weight_concentration_prior_type: str
    ARRAYS = (
        "weight_concentration",
        "mean_precision",
        "means",
        "degrees_of_freedom",
        "covariances",
        "precisions_chol",
    )

    @staticmethod
    def covariance_shape(covariance_type: str, n_components: int, n_features: int) -> tuple:
        return covtypes.get(covariance_type).covariance_shape(n_components, n_features)

    def array_shapes(self, covariance_type: str, n_components: int, n_features: int) -> dict:
        k, d = n_components, n_features
        dp = self.weight_concentration_prior_type == "dirichlet_process"
        cov = self.covariance_shape(covariance_type, k, d)
        shapes = ((2, k) if dp else (k,), (k,), (k, d), () if covariance_type == "tied" else (k,))
        return dict(zip(self.ARRAYS, (*shapes, cov, cov), strict=True))

    def to_arrays(self, params: vb.VBParams) -> dict[str, np.ndarray]:
        return {name: getattr(params, name) for name in self.ARRAYS}

    def from_arrays(
        self,
        covariance_type: str,
        arrays: dict[str, np.ndarray],
        fail: Callable[[str], Exception],
        start: bool = False,
    ) -> vb.VBParams:
        """Parameters from arrays read from a file, after checking they form a posterior."""
        check_posterior(covariance_type, arrays, fail, "")
        return vb.VBParams(covariance_type, *(arrays[a] for a in self.ARRAYS))


def check_posterior(covariance_type: str, arrays: dict, fail, suffix: str = "_") -> None:
    """Raise ``fail(problem)`` unless the arrays (named with ``suffix``) form a posterior:
    positive concentrations and mean precisions, degrees of freedom over ``D - 1``, and the
    covariances and precision factors of a Gaussian mixture."""
    names = [f"{a}{suffix}" for a in VBArrays.ARRAYS]
    for name in names[:4]:
        if not np.isfinite(arrays[name]).all():
            raise fail(f"array {name!r} contains NaN or infinity")
    wc, beta, means, dof = (arrays[n] for n in names[:4])
    if not ((wc > 0).all() and (beta > 0).all()):
        raise fail(f"{names[0]} and {names[1]} must be > 0")
    if not (dof > means.shape[1] - 1).all():
        raise fail(f"{names[3]} must be > n_features - 1 = {means.shape[1] - 1}")
    weights = (
        (wc / wc.sum())
        if wc.ndim == 1
        else vb.VBParams(
            covariance_type, wc, beta, means, dof, arrays[names[4]], arrays[names[5]]
        ).weights
    )
    keys = ("weights (of the concentrations)", names[2], names[4], names[5])
    values = (weights, means, arrays[names[4]], arrays[names[5]])
    check_gaussian(covariance_type, dict(zip(keys, values, strict=True)), fail, keys)
