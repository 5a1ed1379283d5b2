"""A plain EM for Gaussian mixtures with missing entries, the tests' independent reference.

Written from Ghahramani & Jordan (1994) with a loop over rows and scipy.stats' densities, and
none of distgmm's code. NaN is a missing entry. Each row's likelihood is its marginal density
over its observed entries ``o``: ``sum_k w_k N(x_o; mu_ko, S_k,oo)``. The M-step completes row
``i`` for component ``k`` with the conditional mean of its missing entries ``m``,
``mu_km + S_k,mo S_k,oo^-1 (x_o - mu_ko)``, and adds their conditional covariance
``S_k,mm - S_k,mo S_k,oo^-1 S_k,om`` to the scatter; then scikit-learn's formulas per type.

Parameters are a dict ``{"weights": (K,), "means": (K, D), "covariances": ...}`` with the
estimators' attribute shapes by covariance type ('full' ``(K, D, D)``, 'tied' ``(D, D)``,
'diag' ``(K, D)``, 'spherical' ``(K,)``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import logsumexp

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def full_matrices(covariance_type: str, covariances, n_components: int, n_features: int):
    """Every component's covariance as a ``(D, D)`` matrix: ``(K, D, D)``."""
    c = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        return c.copy()
    if covariance_type == "tied":
        return np.broadcast_to(c, (n_components, n_features, n_features)).copy()
    if covariance_type == "diag":
        return np.stack([np.diag(row) for row in c])
    return np.stack([v * np.eye(n_features) for v in c])


def covariances_from_precisions(covariance_type: str, precisions):
    """The covariances (attribute shape) whose inverses are ``precisions``."""
    p = np.asarray(precisions, dtype=np.float64)
    if covariance_type in ("full", "tied"):
        return np.linalg.inv(p)
    return 1.0 / p


def component_log_density(X, params, covariance_type: str) -> np.ndarray:
    """``log w_k + log N(x_o; mu_ko, S_k,oo)`` of every row and component, ``(n, K)``."""
    X = np.asarray(X, dtype=np.float64)
    weights, means = params["weights"], params["means"]
    k_count, d = means.shape
    sigma = full_matrices(covariance_type, params["covariances"], k_count, d)
    out = np.empty((len(X), k_count))
    for i, x in enumerate(X):
        o = ~np.isnan(x)
        if not o.any():
            raise ValueError(f"row {i} has no observed entry")
        for k in range(k_count):
            out[i, k] = np.log(weights[k]) + stats.multivariate_normal.logpdf(
                x[o], means[k, o], sigma[k][np.ix_(o, o)]
            )
    return out


def loglik(X, params, covariance_type: str) -> np.ndarray:
    """Each row's marginal log-likelihood over its observed entries."""
    return logsumexp(component_log_density(X, params, covariance_type), axis=1)


def posteriors(X, params, covariance_type: str) -> np.ndarray:
    """Each row's component posteriors from its observed entries, ``(n, K)``."""
    logp = component_log_density(X, params, covariance_type)
    return np.exp(logp - logsumexp(logp, axis=1, keepdims=True))


def _completed(x, mean, sigma):
    """Row ``x`` completed with the conditional mean of its missing entries under
    ``N(mean, sigma)``, and their conditional covariance placed in the missing block."""
    m = np.isnan(x)
    o = ~m
    filled = x.copy()
    cond = np.zeros_like(sigma)
    if m.any():
        s_oo = sigma[np.ix_(o, o)]
        s_mo = sigma[np.ix_(m, o)]
        gain = np.linalg.solve(s_oo, s_mo.T).T  # S_mo S_oo^-1
        filled[m] = mean[m] + gain @ (x[o] - mean[o])
        cond[np.ix_(m, m)] = sigma[np.ix_(m, m)] - gain @ s_mo.T
    return filled, cond


def em_step(X, params, covariance_type: str, *, reg_covar: float = 0.0, sample_weight=None):
    """One EM iteration: the weighted mean marginal log-likelihood of ``params`` (the
    bound the estimators record for this iteration) and the M-step's parameters."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    means_old = params["means"]
    k_count = len(params["weights"])
    sigma = full_matrices(covariance_type, params["covariances"], k_count, d)

    logp = component_log_density(X, params, covariance_type)
    row = logsumexp(logp, axis=1)
    bound = float(w @ row / w.sum())
    resp = np.exp(logp - row[:, None]) * w[:, None]  # w_i r_ik

    filled = np.empty((n, k_count, d))
    cond = np.empty((n, k_count, d, d))
    for i in range(n):
        for k in range(k_count):
            filled[i, k], cond[i, k] = _completed(X[i], means_old[k], sigma[k])

    nk = resp.sum(axis=0)
    means = np.einsum("nk,nkd->kd", resp, filled) / nk[:, None]
    scatter = np.empty((k_count, d, d))  # Σ_i w r [(x^ - mu)(x^ - mu)^T + C]
    for k in range(k_count):
        diff = filled[:, k] - means[k]
        scatter[k] = (resp[:, k] * diff.T) @ diff + np.einsum("n,nij->ij", resp[:, k], cond[:, k])
    if covariance_type == "full":
        covariances = scatter / nk[:, None, None] + reg_covar * np.eye(d)
    elif covariance_type == "tied":
        covariances = scatter.sum(axis=0) / w.sum() + reg_covar * np.eye(d)
    else:
        diag = np.diagonal(scatter, axis1=1, axis2=2) / nk[:, None] + reg_covar
        covariances = diag if covariance_type == "diag" else diag.mean(axis=1)
    return bound, {"weights": nk / w.sum(), "means": means, "covariances": covariances}


def run_em(
    X,
    covariance_type: str,
    *,
    weights_init,
    means_init,
    precisions_init,
    n_iter: int,
    reg_covar: float = 1e-6,
    sample_weight=None,
):
    """``n_iter`` EM iterations from the estimators' start arguments: the history of bounds
    (the parameters entering each iteration, as ``history_``) and the last parameters."""
    params = {
        "weights": np.asarray(weights_init, dtype=np.float64),
        "means": np.asarray(means_init, dtype=np.float64),
        "covariances": covariances_from_precisions(covariance_type, precisions_init),
    }
    history = []
    for _ in range(n_iter):
        bound, params = em_step(
            X, params, covariance_type, reg_covar=reg_covar, sample_weight=sample_weight
        )
        history.append(bound)
    return history, params
