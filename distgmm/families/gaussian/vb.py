"""Variational Bayes for a Gaussian mixture: priors, M-step, E-step constants and lower bound.

scikit-learn's ``BayesianGaussianMixture`` as pure functions of the moments its
``_estimate_gaussian_parameters`` returns (``nk``, ``xk``, ``sk`` with ``reg_covar``), in its order
of operations, so the numbers agree with its attributes to rounding. Nothing here reads data,
and the precision factors come from a callable the caller passes (distgmm's kernel, which raises
``SingularCovarianceError``), so this module depends on no kernel package.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, digamma, gammaln

from ...errors import InvalidInputError

__all__ = ["PRIOR_TYPES", "Priors", "VBParams", "log_prob_constants", "log_weights"]
__all__ += ["lower_bound", "m_step", "resolve_priors"]

PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
_ESTIMATOR = "BayesianGaussianMixture"


@dataclass(frozen=True, slots=True, eq=False)
class Priors:
    """The checked priors of a variational Gaussian mixture (scikit-learn's ``*_prior_``)."""

    weight_concentration_prior_type: str  # one of PRIOR_TYPES
    weight_concentration_prior: float  # gamma_0 > 0
    mean_precision_prior: float  # beta_0 > 0
    mean_prior: np.ndarray  # m_0, (n_features,)
    degrees_of_freedom_prior: float  # nu_0 > n_features - 1
    #: 'full' / 'tied': (n_features, n_features); 'diag': (n_features,); 'spherical': 0-d.
    covariance_prior: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class VBParams:
    """The variational posterior, in scikit-learn's attributes and shapes."""

    covariance_type: str
    #: 'dirichlet_process': (2, K), scikit-learn's tuple of Beta parameters stacked;
    #: 'dirichlet_distribution': (K,).
    weight_concentration: np.ndarray
    mean_precision: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    #: (K,); a 0-d array for 'tied', whose components share one Wishart (scikit-learn's float).
    degrees_of_freedom: np.ndarray
    #: scikit-learn's ``covariances_`` (the Wishart scale divided by the degrees of freedom).
    covariances: np.ndarray
    #: scikit-learn's ``precisions_cholesky_`` of ``covariances``.
    precisions_chol: np.ndarray

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return self.means.shape[0]

    @property
    def n_features(self) -> int:
        """Number of features D."""
        return self.means.shape[1]

    @property
    def weights(self) -> np.ndarray:
        """scikit-learn's ``weights_``: the posterior mean of the weights, shape (K,)."""
        wc = self.weight_concentration
        if wc.ndim == 1:
            return wc / np.sum(wc)
        # Expected stick-breaking fractions: component k takes a / (a + b) of what the
        # sticks before it left, each of which left b / (a + b).
        total = wc[0] + wc[1]
        weights = wc[0] / total * np.hstack((1, np.cumprod((wc[1] / total)[:-1])))
        return weights / np.sum(weights)


def _fail(sentence: str, advice: str) -> InvalidInputError:
    """scikit-learn's sentence first (code matching it keeps working), then what to do."""
    return InvalidInputError(f"{sentence} {advice}")


def _positive(name: str, value: object, allowed: str = "None") -> float:
    """A float in (0, inf), checked as scikit-learn's ``_parameter_constraints`` do."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not (0.0 < value < math.inf):
        raise _fail(
            f"The {name!r} parameter of {_ESTIMATOR} must be {allowed} or a float in the "
            f"range (0.0, inf). Got {value!r} instead.",
            f"Pass {name} as a finite number > 0, or None for scikit-learn's default.",
        )
    return float(value)


def _array(name: str, value: object, shape: tuple[int, ...], sk_name: str) -> np.ndarray:
    """``value`` as float64 ``shape``, checked as ``check_array`` and ``_check_shape`` do."""
    advice = f"Pass {name} as finite numbers of shape {shape}, or None for the default."
    if np.iscomplexobj(value):
        raise _fail("Complex data not supported.", advice)
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _fail(str(exc), advice) from None
    if array.shape != shape:
        raise _fail(
            f"The parameter '{sk_name}' should have the shape of {shape}, but got {array.shape}",
            advice,
        )
    if np.isnan(array).any():
        raise _fail("Input contains NaN.", advice)
    if not np.isfinite(array).all():
        raise _fail("Input contains infinity or a value too large for dtype('float64').", advice)
    return array


def _covariance_prior(covariance_type: str, value: object, n_features: int) -> np.ndarray:
    """A given ``covariance_prior``, checked as ``_checkcovariance_prior_parameter`` does."""
    d = n_features
    if covariance_type == "spherical":
        # scikit-learn takes any value here (an array would broadcast against the K
        # components) and lets its constraints check it: one float > 0. One value in a 1-d
        # array broadcasts as that float, so it is that float here too.
        if isinstance(value, (list, tuple, np.ndarray)):
            if np.shape(value) == (1,):
                value = np.asarray(value)[0]
            value = _array("covariance_prior", value, (), "spherical covariance_prior")[()]
        return np.asarray(_positive("covariance_prior", value, "None, an array-like"))
    shape = (d,) if covariance_type == "diag" else (d, d)
    prior = _array("covariance_prior", value, shape, f"{covariance_type} covariance_prior")
    if covariance_type == "diag" and (prior <= 0.0).any():
        advice = "Every entry of covariance_prior (the prior's variances) must be > 0."
        raise _fail(f"'{covariance_type} precision' should be positive", advice)
    # scikit-learn's _check_precision_matrix: isclose to its transpose, eigenvalues > 0.
    if covariance_type != "diag" and not (
        np.isclose(prior, prior.T).all() and (np.linalg.eigvalsh(prior) > 0.0).all()
    ):
        raise _fail(
            f"'{covariance_type} precision' should be symmetric, positive-definite",
            "covariance_prior must be a symmetric positive-definite covariance matrix.",
        )
    return prior


def resolve_priors(
    covariance_type: str,
    n_components: int,
    n_features: int,
    *,
    weight_concentration_prior_type: str,
    weight_concentration_prior: float | None,
    mean_precision_prior: float | None,
    mean_prior: np.ndarray | None,
    degrees_of_freedom_prior: float | None,
    covariance_prior: np.ndarray | float | None,
    data_mean: np.ndarray | None,
    data_covariance: np.ndarray | None,
) -> Priors:
    """Check the given priors and fill in scikit-learn's defaults for the others.

    scikit-learn's ``_check_parameters`` (and its ``_parameter_constraints`` on the priors),
    with the data-derived defaults made from the data's mean and covariance.

    Parameters
    ----------
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_components, n_features : int
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}
    weight_concentration_prior, mean_precision_prior : float > 0 or None
        None: 1 / n_components and 1.0.
    mean_prior : array-like of shape (n_features,) or None
        None: ``data_mean``.
    degrees_of_freedom_prior : float > n_features - 1 or None
        None: n_features.
    covariance_prior : array-like, float or None
        'full' / 'tied': (D, D) symmetric positive definite; 'diag': (D,) > 0; 'spherical':
        float > 0. None: ``data_covariance`` (its diagonal for 'diag', the diagonal's mean for
        'spherical').
    data_mean : ndarray of shape (n_features,) or None
        Column means of the data; read only when ``mean_prior`` is None.
    data_covariance : ndarray of shape (n_features, n_features) or None
        Unbiased (ddof=1) covariance of the data; read only when ``covariance_prior`` is None.

    Returns
    -------
    Priors

    Raises
    ------
    InvalidInputError
        A given prior is invalid (the message contains scikit-learn's sentence), or a default
        made from the data is not finite (fewer than two rows).
    """
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"unknown covariance_type {covariance_type!r}")
    if weight_concentration_prior_type not in PRIOR_TYPES:
        raise _fail(
            f"The 'weight_concentration_prior_type' parameter of {_ESTIMATOR} must be a str "
            f"among {{{', '.join(map(repr, PRIOR_TYPES))}}}. "
            f"Got {weight_concentration_prior_type!r} instead.",
            "Pass one of these names.",
        )
    d = n_features
    gamma0, beta0, nu0 = 1.0 / n_components, 1.0, float(d)
    if weight_concentration_prior is not None:
        gamma0 = _positive("weight_concentration_prior", weight_concentration_prior)
    if mean_precision_prior is not None:
        beta0 = _positive("mean_precision_prior", mean_precision_prior)
    if degrees_of_freedom_prior is not None:
        nu0 = _positive("degrees_of_freedom_prior", degrees_of_freedom_prior)
        # The Wishart needs nu0 > D - 1 to be a proper distribution.
        if not nu0 > d - 1.0:
            raise _fail(
                "The parameter 'degrees_of_freedom_prior' should be greater than "
                f"{d - 1}, but got {nu0:.3f}.",
                f"Pass degrees_of_freedom_prior > n_features - 1 = {d - 1}, or None for "
                f"n_features ({d}).",
            )
    if mean_prior is None:
        m0 = _data_default("mean_prior", data_mean, (d,))
    else:
        m0 = _array("mean_prior", mean_prior, (d,), "means")
    if covariance_prior is not None:
        cov0 = _covariance_prior(covariance_type, covariance_prior, d)
    else:
        # The data's covariance is PSD but may be singular (a constant column); scikit-learn
        # takes it as it is, and so do we: reg_covar in sk keeps the posterior's definite.
        data_cov = _data_default("covariance_prior", data_covariance, (d, d))
        variances = np.diagonal(data_cov).copy()
        by_type = {"full": data_cov, "tied": data_cov, "diag": variances}
        cov0 = by_type.get(covariance_type, np.asarray(variances.mean()))
    return Priors(weight_concentration_prior_type, gamma0, beta0, m0, nu0, cov0)


def _data_default(name: str, value: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """A default made from the data; not finite when the data has fewer than 2 rows."""
    if value is None:  # the caller's mistake, not the user's
        raise ValueError(f"{name} is None: its default needs the data's statistics")
    array = np.array(value, dtype=np.float64).reshape(shape)
    if not np.isfinite(array).all():
        raise InvalidInputError(
            f"The default {name} made from the data is not finite (the data needs at least "
            f"2 rows with finite values). Pass {name} explicitly."
        )
    return array


def m_step(
    nk: np.ndarray,
    xk: np.ndarray,
    sk: np.ndarray,
    priors: Priors,
    covariance_type: str,
    precisions_chol_fn: Callable[[np.ndarray], np.ndarray],
) -> VBParams:
    """The variational M-step: scikit-learn's ``_m_step`` after its moments.

    Parameters
    ----------
    nk, xk, sk : ndarray
        Soft counts (K,) with scikit-learn's ``10 * eps``, weighted means (K, D), covariances
        about them with ``reg_covar``: 'full' (K, D, D), 'tied' (D, D), 'diag' (K, D),
        'spherical' (K,).
    priors : Priors
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    precisions_chol_fn : callable
        ``covariances -> precisions_chol`` for this covariance type; what it raises on a
        covariance that is not positive definite propagates.

    Returns
    -------
    VBParams
    """
    n_components = nk.shape[0]
    gamma0, beta0 = priors.weight_concentration_prior, priors.mean_precision_prior
    m0, nu0, cov0 = priors.mean_prior, priors.degrees_of_freedom_prior, priors.covariance_prior
    # _estimate_weights
    if priors.weight_concentration_prior_type == "dirichlet_process":
        # Beta(1 + n_k, gamma0 + sum_{j>k} n_j) for each stick.
        after = np.hstack((np.cumsum(nk[::-1])[-2::-1], 0))
        weight_concentration = np.stack((1.0 + nk, gamma0 + after))
    else:
        weight_concentration = gamma0 + nk
    # _estimate_means
    mean_precision = beta0 + nk
    means = (beta0 * m0 + nk[:, np.newaxis] * xk) / mean_precision[:, np.newaxis]
    # _estimate_wishart_*: the Wishart scale, normalised by its degrees of freedom.
    diff = xk - m0
    if covariance_type == "full":
        dof = nu0 + nk
        outer = diff[:, :, np.newaxis] * diff[:, np.newaxis, :]
        scale = (nk * beta0 / mean_precision)[:, np.newaxis, np.newaxis]
        covariances = cov0 + nk[:, np.newaxis, np.newaxis] * sk + scale * outer
        covariances /= dof[:, np.newaxis, np.newaxis]
    elif covariance_type == "tied":
        # One Wishart shared by the components, fed the average count.
        dof = np.asarray(nu0 + nk.sum() / n_components)
        spread = np.dot((nk / mean_precision) * diff.T, diff)
        covariances = cov0 + sk * nk.sum() / n_components + beta0 / n_components * spread
        covariances /= dof
    elif covariance_type == "diag":
        dof = nu0 + nk
        shrink = (beta0 / mean_precision)[:, np.newaxis]
        covariances = cov0 + nk[:, np.newaxis] * (sk + shrink * np.square(diff))
        covariances /= dof[:, np.newaxis]
    else:
        dof = nu0 + nk
        covariances = cov0 + nk * (sk + beta0 / mean_precision * np.mean(np.square(diff), 1))
        covariances /= dof
    chol = precisions_chol_fn(covariances)
    return VBParams(
        covariance_type, weight_concentration, mean_precision, means, dof, covariances, chol
    )


def log_weights(params: VBParams, priors: Priors) -> np.ndarray:
    """E[log pi_k] under the posterior: scikit-learn's ``_estimate_log_weights``, shape (K,)."""
    wc = params.weight_concentration
    if priors.weight_concentration_prior_type == "dirichlet_process":
        digamma_sum = digamma(wc[0] + wc[1])
        # E[log v_k] plus E[log(1 - v_j)] of every stick before k.
        before = np.hstack((0, np.cumsum(digamma(wc[1]) - digamma_sum)[:-1]))
        return digamma(wc[0]) - digamma_sum + before
    return digamma(wc) - digamma(np.sum(wc))


def log_prob_constants(params: VBParams, priors: Priors) -> np.ndarray:
    """Per-component constants of the variational E-step, shape (K,).

    scikit-learn's ``_estimate_weighted_log_prob(X)`` is
    ``_estimate_log_gaussian_prob(X, means, precisions_chol) + c``: the Gaussian kernel with the
    posterior's parameters, plus E[log pi_k], E[log |Lambda_k|] and the means' uncertainty.
    """
    d = params.n_features
    dof = params.degrees_of_freedom
    # E[log |Lambda|] without log |W|, which the kernel's log det of the factors already holds;
    # minus D/2 log(dof) because the covariances were divided by dof.
    log_lambda = d * np.log(2.0) + np.sum(digamma(0.5 * (dof - np.arange(0, d)[:, np.newaxis])), 0)
    log_w = log_weights(params, priors)
    constants = log_w - 0.5 * d * np.log(dof) + 0.5 * (log_lambda - d / params.mean_precision)
    # 'tied' has one dof for all components: its terms broadcast to (K,).
    return np.broadcast_to(constants, (params.n_components,)).copy()


def _log_det_chol(precisions_chol: np.ndarray, covariance_type: str, n_features: int) -> np.ndarray:
    """scikit-learn's ``_compute_log_det_cholesky``: (K,), or a scalar for 'tied'."""
    if covariance_type == "full":
        flat = precisions_chol.reshape(precisions_chol.shape[0], -1)
        return np.sum(np.log(flat[:, :: n_features + 1]), axis=1)
    if covariance_type == "tied":
        return np.sum(np.log(np.diag(precisions_chol)))
    if covariance_type == "diag":
        return np.sum(np.log(precisions_chol), axis=1)
    return n_features * np.log(precisions_chol)


def _log_wishart_norm(dof: np.ndarray, log_det: np.ndarray, n_features: int) -> np.ndarray:
    """scikit-learn's ``_log_wishart_norm`` (without its constant log pi term)."""
    return -(
        dof * log_det
        + dof * n_features * 0.5 * math.log(2.0)
        + np.sum(gammaln(0.5 * (dof - np.arange(n_features)[:, np.newaxis])), 0)
    )


def lower_bound(entropy: float, params: VBParams, priors: Priors) -> float:
    """The variational lower bound: scikit-learn's ``_compute_lower_bound``, total scale.

    Parameters
    ----------
    entropy : float
        ``-sum_i sum_k r_ik log r_ik`` (sample-weighted if weighted) of the responsibilities of
        the E-step before the M-step that made ``params``, as scikit-learn computes it.
    params : VBParams
        The parameters after that M-step.
    priors : Priors

    Returns
    -------
    float
        The bound without scikit-learn's dropped constants, comparable to its ``lower_bound_``.
    """
    d = params.n_features
    dof = params.degrees_of_freedom
    # Minus D/2 log(dof) because the precision factors are of the dof-normalised covariances.
    log_det = _log_det_chol(params.precisions_chol, params.covariance_type, d)
    log_det = log_det - 0.5 * d * np.log(dof)
    norm = _log_wishart_norm(dof, log_det, d)
    # The one shared Wishart of 'tied' counts once per component, as scikit-learn counts it.
    log_wishart = np.sum(norm) * (params.n_components if params.covariance_type == "tied" else 1)
    wc = params.weight_concentration
    if priors.weight_concentration_prior_type == "dirichlet_process":
        log_norm_weight = -np.sum(betaln(wc[0], wc[1]))
    else:
        log_norm_weight = gammaln(np.sum(wc)) - np.sum(gammaln(wc))
    return float(
        entropy - log_wishart - log_norm_weight - 0.5 * d * np.sum(np.log(params.mean_precision))
    )
