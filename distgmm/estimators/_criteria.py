"""BIC and AIC of a fitted maximum-likelihood mixture."""

from __future__ import annotations

import math

__all__ = ["InformationCriteria"]


class InformationCriteria:
    """``bic`` and ``aic`` from the estimator's weighted mean log-likelihood
    (``_weighted_mean``) and its number of free parameters (``_n_parameters``)."""

    def bic(self, X, sample_weight=None):
        """Bayesian information criterion of the model on ``X`` (lower is better).

        ``-2 log L + p log n``, with ``p`` the free parameters; with sample weights ``n``
        is their sum.

        Returns
        -------
        bic : float
        """
        return self._criteria(*self._weighted_mean(X, sample_weight))[0]

    def aic(self, X, sample_weight=None):
        """Akaike information criterion of the model on ``X`` (lower is better):
        ``-2 log L + 2 p``.

        Returns
        -------
        aic : float
        """
        return self._criteria(*self._weighted_mean(X, sample_weight))[1]

    def _criteria(self, mean: float, weight: float) -> tuple[float, float]:
        """BIC and AIC from the weighted mean log-likelihood and the weights' sum."""
        n_parameters = self._n_parameters()
        log_likelihood = mean * weight
        return (
            -2.0 * log_likelihood + n_parameters * math.log(weight),
            -2.0 * log_likelihood + 2 * n_parameters,
        )
