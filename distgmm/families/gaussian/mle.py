"""The Gaussian family fitted by maximum likelihood (EM): scikit-learn's GaussianMixture."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..._paramcheck import check_gaussian
from ...core.family import PassModel, register
from ...errors import EmptyComponentError
from . import covtypes
from .kernel import prepare_em, prepare_random
from .params import GaussianParams
from .stats import Stats, recentre

__all__ = ["GaussianMLE", "estimate", "m_step", "sample"]

_EPS = np.finfo(np.float64).eps
# A component whose soft count is this small relative to the total carries no information:
# its mean is a ratio of rounding errors.
_EMPTY = 100 * _EPS


def estimate(
    stats: Stats,
    shift: np.ndarray,
    covariance_type: str,
    reg_covar: float,
    origin: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's ``_estimate_gaussian_parameters`` from moments about ``shift``.

    Returns the soft counts (plus ``10 eps``, as scikit-learn, so results agree to the last
    digits), the means, and the covariances with ``reg_covar`` on their diagonal; variances
    that are rounding residue (a collapsed component) are exactly 0 before it is added.
    ``origin`` is the pass origin: variances tiny against the moments about it are residue.
    """
    nk = stats.nk + 10 * _EPS
    d = stats.sx / nk[:, None]
    means = shift + d
    covariances = covtypes.get(covariance_type).covariances(
        nk, d, stats.sxx, reg_covar, (means - origin) ** 2
    )
    return nk, means, covariances


def m_step(
    stats: Stats, shift: np.ndarray, covariance_type: str, reg_covar: float, origin: np.ndarray
) -> GaussianParams:
    """Parameters maximising the expected log-likelihood given the statistics.

    Parameters
    ----------
    stats : Stats
        Moments taken about ``shift``.
    shift : ndarray of shape (n_components, n_features)
        The per-component origin of the moments (the previous means).
    covariance_type : str
    reg_covar : float
        Added to the covariances' diagonal.
    origin : ndarray of shape (n_features,)
        The pass origin.

    Returns
    -------
    GaussianParams

    Raises
    ------
    EmptyComponentError
        A component's soft count is numerically zero.
    SingularCovarianceError
        A covariance is not positive definite even with ``reg_covar``.
    """
    empty = np.flatnonzero(~(stats.nk > _EMPTY * stats.weight))
    if empty.size:
        raise EmptyComponentError(int(empty[0]), float(stats.nk[empty[0]]))
    nk, means, covariances = estimate(stats, shift, covariance_type, reg_covar, origin)
    return GaussianParams.from_covariances(covariance_type, nk / nk.sum(), means, covariances)


@dataclass(frozen=True, slots=True)
class GaussianMLE:
    """Gaussian mixture by EM: the bound is the mean log-likelihood of the parameters that
    entered the pass (scikit-learn's ``lower_bound_``)."""

    covariance_type: str
    reg_covar: float
    nan_policy: str = "raise"
    name = "gaussian"

    def prepare(self, params: GaussianParams, origin: np.ndarray) -> PassModel:
        return prepare_em(params, origin, nan_policy=self.nan_policy)

    def m_step(self, summary: Stats, params: GaussianParams, origin: np.ndarray):
        return m_step(summary, params.means, self.covariance_type, self.reg_covar, origin)

    def bound(self, summary: Stats, params: GaussianParams) -> float:
        return summary.mean_loglik

    def template_model(self, n_components: int, n_features: int) -> PassModel:
        """A pass model of this family's shape (its summaries' shapes), no parameters."""
        return prepare_random(n_components, n_features, self.covariance_type, 0)

    def recentre(self, summary: Stats, shift: np.ndarray) -> Stats:
        """The same moments about ``shift`` (online EM blends moments about one point)."""
        return recentre(summary, shift, self.covariance_type)

    def start(self, estimate: GaussianParams, n_samples: int) -> GaussianParams:
        """The parameters of a start: the initialisation's estimate as it is."""
        return estimate

    def sample(self, params: GaussianParams, rng: np.random.RandomState, n_samples: int):
        return sample(params, rng, n_samples)

    # ---------------------------------------------------------------- arrays in files
    #: The parameters' arrays in checkpoints, in order.
    ARRAYS = ("weights", "means", "covariances", "precisions_chol")

    @staticmethod
    def covariance_shape(covariance_type: str, n_components: int, n_features: int) -> tuple:
        return covtypes.get(covariance_type).covariance_shape(n_components, n_features)

    @classmethod
    def array_shapes(cls, covariance_type: str, n_components: int, n_features: int) -> dict:
        """The shape of every array of :meth:`to_arrays`."""
        cov = cls.covariance_shape(covariance_type, n_components, n_features)
        shapes = ((n_components,), (n_components, n_features), cov, cov)
        return dict(zip(cls.ARRAYS, shapes, strict=True))

    @staticmethod
    def to_arrays(params: GaussianParams) -> dict[str, np.ndarray]:
        return {
            "weights": params.weights,
            "means": params.means,
            "covariances": params.covariances,
            "precisions_chol": params.precisions_chol,
        }

    @classmethod
    def from_arrays(
        cls,
        covariance_type: str,
        arrays: dict[str, np.ndarray],
        fail: Callable[[str], Exception],
        start: bool = False,
    ) -> GaussianParams:
        """Parameters from arrays read from a file, after checking they form a model."""
        check_gaussian(covariance_type, arrays, fail, cls.ARRAYS, start=start)
        return GaussianParams(covariance_type, *(arrays[a] for a in cls.ARRAYS))


def sample(params, rng: np.random.RandomState, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_samples`` rows drawn from a Gaussian mixture (weights, means, covariances), and
    each row's component, drawn as scikit-learn draws them."""
    counts = rng.multinomial(n_samples, params.weights)
    kernel = covtypes.get(params.covariance_type)
    X = np.vstack(
        [
            kernel.sample(
                rng, params.means[k], kernel.component_covariance(params.covariances, k), int(c)
            )
            for k, c in enumerate(counts)
        ]
    )
    y = np.concatenate([np.full(int(c), k, dtype=np.int64) for k, c in enumerate(counts)])
    return X, y


register("gaussian", GaussianMLE)
