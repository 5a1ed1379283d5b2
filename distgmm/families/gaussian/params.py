"""The parameters of a Gaussian mixture, as one immutable value."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import covtypes as kernels

__all__ = ["GaussianParams"]


@dataclass(frozen=True, slots=True, eq=False)
class GaussianParams:
    """Weights, means and covariances of a Gaussian mixture, with the precision factors.

    Build it with :meth:`from_covariances` or :meth:`from_precisions`, which compute the
    matching precision Cholesky factors (and fail clearly if a covariance is singular).
    """

    covariance_type: str
    """One of 'full', 'tied', 'diag', 'spherical'."""
    weights: np.ndarray
    """Mixing weights, shape ``(n_components,)``."""
    means: np.ndarray
    """Component means, shape ``(n_components, n_features)``."""
    covariances: np.ndarray
    """Covariances; shape ``covtypes.get(covariance_type).covariance_shape(K, D)``."""
    precisions_chol: np.ndarray
    """Upper Cholesky factors of the precisions (scikit-learn's ``precisions_cholesky_``)."""

    @property
    def n_components(self) -> int:
        return len(self.weights)

    @property
    def n_features(self) -> int:
        return self.means.shape[1]

    @classmethod
    def from_covariances(cls, covariance_type: str, weights, means, covariances) -> GaussianParams:
        """Parameters from covariances; raises ``SingularCovarianceError`` if one is singular."""
        kernel = kernels.get(covariance_type)
        covariances = np.asarray(covariances, dtype=np.float64)
        return cls(
            covariance_type,
            np.asarray(weights, dtype=np.float64),
            np.asarray(means, dtype=np.float64),
            covariances,
            kernel.precisions_chol(covariances),
        )

    @classmethod
    def from_precisions(cls, covariance_type: str, weights, means, precisions) -> GaussianParams:
        """Parameters from precision matrices (inverse covariances)."""
        kernel = kernels.get(covariance_type)
        prec_chol = kernel.precisions_chol_from_precisions(np.asarray(precisions, dtype=np.float64))
        return cls(
            covariance_type,
            np.asarray(weights, dtype=np.float64),
            np.asarray(means, dtype=np.float64),
            kernel.covariances_from_precisions_chol(prec_chol),
            prec_chol,
        )

    def n_parameters(self) -> int:
        """Free parameters: covariances, means and the ``K - 1`` free weights."""
        k, d = self.n_components, self.n_features
        cov = kernels.get(self.covariance_type).n_covariance_parameters(k, d)
        return cov + k * d + k - 1
