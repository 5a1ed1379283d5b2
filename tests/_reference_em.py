"""A plain EM for product mixtures, the tests' independent reference.

Written from the textbook formulas, with scipy.stats' densities and none of distgmm's code:
a model is ``groups``, a list of ``(family, [column positions of X])``, and ``params``, a dict
``{"weights": (K,), "groups": [one entry per group]}`` whose entries have the estimators'
attribute shapes: categorical a list of (K, L_j) arrays (column j holds codes 0 .. L_j - 1),
bernoulli and poisson (K, D) arrays, multinomial ``(probabilities (K, D), mean_totals (K,))``,
gaussian ``(means (K, D), covariances (K, D, D))`` with full covariances.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import logsumexp


def component_log_density(X, groups, params) -> np.ndarray:
    """``log w_k + log p(x_i | k)`` of every row and component, ``(n, K)``."""
    weights = params["weights"]
    with np.errstate(divide="ignore"):
        out = np.tile(np.log(weights), (len(X), 1))
    for (family, cols), p in zip(groups, params["groups"], strict=True):
        x = X[:, cols]
        for k in range(len(weights)):
            out[:, k] += _group_log_density(family, x, p, k)
    return out


def _group_log_density(family, x, p, k) -> np.ndarray:
    if family == "categorical":
        codes = x.astype(np.intp)
        with np.errstate(divide="ignore"):
            return sum(np.log(probs[k, codes[:, j]]) for j, probs in enumerate(p))
    if family == "bernoulli":
        return stats.bernoulli.logpmf(x, p[k]).sum(axis=1)
    if family == "poisson":
        return stats.poisson.logpmf(x, p[k]).sum(axis=1)
    if family == "multinomial":
        probabilities, _ = p
        return stats.multinomial.logpmf(x, x.sum(axis=1), probabilities[k])
    means, covariances = p
    return stats.multivariate_normal.logpdf(x, means[k], covariances[k])


def loglik(X, groups, params) -> np.ndarray:
    """Each row's log-likelihood."""
    return logsumexp(component_log_density(X, groups, params), axis=1)


def em_step(X, groups, params, *, alpha=0.0, reg_covar=0.0, sample_weight=None):
    """One EM iteration: the weighted mean log-likelihood of ``params`` and the M-step's."""
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    logp = component_log_density(X, groups, params)
    row = logsumexp(logp, axis=1)
    resp = np.exp(logp - row[:, None]) * w[:, None]  # (n, K), weighted
    bound = float(w @ row / w.sum())
    nk = resp.sum(axis=0)
    new = []
    for (family, cols), old in zip(groups, params["groups"], strict=True):
        x = X[:, cols]
        sums = resp.T @ x  # (K, D): Σ_i w r_ik x_id
        if family == "categorical":
            probs = []
            for j, previous in enumerate(old):
                n_levels = previous.shape[1]
                counts = np.stack([resp[x[:, j] == c].sum(axis=0) for c in range(n_levels)], axis=1)
                total = counts.sum(axis=1, keepdims=True) + n_levels * alpha
                probs.append((counts + alpha) / total)
            new.append(probs)
        elif family == "bernoulli":
            new.append((sums + alpha) / (nk[:, None] + 2 * alpha))
        elif family == "poisson":
            new.append((sums + alpha) / (nk[:, None] + alpha))
        elif family == "multinomial":
            total = sums.sum(axis=1, keepdims=True) + len(cols) * alpha
            new.append(((sums + alpha) / total, sums.sum(axis=1) / nk))
        else:
            means = sums / nk[:, None]
            covariances = np.empty((len(nk), len(cols), len(cols)))
            for k in range(len(nk)):
                diff = x - means[k]
                covariances[k] = (resp[:, k] * diff.T) @ diff / nk[k]
                covariances[k] += reg_covar * np.eye(len(cols))
            new.append((means, covariances))
    return bound, {"weights": nk / nk.sum(), "groups": new}


def run_em(X, groups, params, n_iter, **settings):
    """``n_iter`` EM iterations from ``params``: each one's bound, and the last parameters."""
    bounds = []
    for _ in range(n_iter):
        bound, params = em_step(X, groups, params, **settings)
        bounds.append(bound)
    return bounds, params
