"""``BayesianGaussianMixture``: scikit-learn's variational estimator on the distgmm engine."""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..core.em import check_stats
from ..families.gaussian import vb
from ..families.gaussian.bayes import GaussianVB, VBArrays, check_posterior, data_moments
from ..families.gaussian.kernel import prepare_all
from ..fingerprint import array_digest
from ..init import InitSpec
from ._base import BaseMixture
from .gaussian import GaussianMixture, precisions_from_chol

__all__ = ["BayesianGaussianMixture"]

_PRIORS = (
    "weight_concentration_prior",
    "mean_precision_prior",
    "mean_prior",
    "degrees_of_freedom_prior",
    "covariance_prior",
)
_COMMON = {
    k: v
    for k, v in GaussianMixture._parameter_constraints.items()
    if k not in ("weights_init", "means_init", "precisions_init", "nan_policy")
}


class BayesianGaussianMixture(BaseMixture):
    """Variational Bayesian Gaussian mixture, one pass over the data per iteration, on Dask.

    A drop-in for :class:`sklearn.mixture.BayesianGaussianMixture` that also takes dask
    arrays larger than memory. Each iteration is one pass: the E-step (the Gaussian kernel
    with the posterior's expectations) and the moments of every row chunk, tree-reduced;
    the variational M-step and the lower bound run on the client. Priors scikit-learn
    computes from the data (``mean_prior``, ``covariance_prior``) take one more pass.

    Parameters
    ----------
    n_components : int, default=1
        Upper bound on the number of components; the data may leave some with weights
        near 0.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        Convergence threshold on the change of the lower bound (on scikit-learn's scale: a
        total over the rows, not a mean).
    reg_covar : float, default=1e-6
    max_iter : int, default=100
    n_init : int, default=1
        Initialisations, sharing every pass; the one of highest lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        As :class:`~distgmm.GaussianMixture`: scikit-learn's own initialisation on numpy
        input, the out-of-core one on dask input.
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, \
default='dirichlet_process'
        The weights' prior: a stick-breaking Dirichlet process, or a Dirichlet distribution.
    weight_concentration_prior : float > 0, default=None
        Gamma: small values put the mass on few components. None: ``1 / n_components``.
    mean_precision_prior : float > 0, default=None
        Beta: how far the means may go from ``mean_prior``. None: 1.
    mean_prior : array-like of shape (n_features,), default=None
        None: the data's mean (one pass).
    degrees_of_freedom_prior : float > n_features - 1, default=None
        None: ``n_features``.
    covariance_prior : float or array-like, default=None
        The Wishart's prior covariance, shape by ``covariance_type`` ('full'/'tied'
        ``(n_features, n_features)``, 'diag' ``(n_features,)``, 'spherical' a float).
        None: the data's covariance (one pass, with ``mean_prior``'s).
    random_state, warm_start, verbose, verbose_interval, client, persist, checkpoint, \
resume
        As :class:`~distgmm.GaussianMixture`.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
        The posterior means, scikit-learn's.
    weight_concentration_ : tuple of two ndarrays or ndarray
        The Beta parameters of every stick (Dirichlet process) or the Dirichlet's.
    mean_precision_ : ndarray of shape (n_components,)
    degrees_of_freedom_ : ndarray of shape (n_components,) or float ('tied')
    weight_concentration_prior_, mean_precision_prior_, degrees_of_freedom_prior_ : float
    mean_prior_ : ndarray of shape (n_features,)
    covariance_prior_ : ndarray or float
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        The best fit's last lower bound (scikit-learn's scale).
    lower_bounds_ : list of float
        The lower bound after every iteration of the best fit.
    labels_ : ndarray, dask array, dask Series or DataArray of shape (n_samples,)
    n_features_in_ : int

    Notes
    -----
    Sample weights are relative: they are rescaled to sum to the number of rows, so that
    the priors weigh against as many rows as there are (equal weights fit as none).
    """

    _parameter_constraints: dict = {  # noqa: RUF012 - scikit-learn's declared convention
        **_COMMON,
        "weight_concentration_prior_type": [StrOptions(set(vb.PRIOR_TYPES))],
        "weight_concentration_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_precision_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "mean_prior": [None, "array-like"],
        "degrees_of_freedom_prior": [None, Interval(Real, 0.0, None, closed="neither")],
        "covariance_prior": [None, "array-like", Interval(Real, 0.0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        client=None,
        persist="auto",
        checkpoint=None,
        resume=False,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.client = client
        self.persist = persist
        self.checkpoint = checkpoint
        self.resume = resume

    # ---------------------------------------------------------------- the family
    def _init_spec(self, n_features: int) -> InitSpec:
        return InitSpec(
            self.n_components,
            self.covariance_type,
            self.init_params,
            float(self.reg_covar),
            variational=True,
        )

    def _resolve_priors(self, n_features: int, mean=None, covariance=None) -> vb.Priors:
        return vb.resolve_priors(
            self.covariance_type,
            self.n_components,
            n_features,
            weight_concentration_prior_type=self.weight_concentration_prior_type,
            **{name: getattr(self, name) for name in _PRIORS},
            data_mean=mean,
            data_covariance=covariance,
        )

    def _fit_family(self, passes, origin: np.ndarray) -> GaussianVB:
        mean = covariance = None
        if self.mean_prior is None or self.covariance_prior is None:
            (stats,) = passes.run([prepare_all(passes.n_features)], origin)
            check_stats(stats)
            mean, covariance = data_moments(stats, origin)
        priors = self._resolve_priors(passes.n_features, mean, covariance)
        self._set_priors(priors)
        return GaussianVB(self.covariance_type, float(self.reg_covar), priors)

    def _set_priors(self, priors: vb.Priors) -> None:
        self.weight_concentration_prior_ = priors.weight_concentration_prior
        self.mean_precision_prior_ = priors.mean_precision_prior
        self.mean_prior_ = priors.mean_prior
        self.degrees_of_freedom_prior_ = priors.degrees_of_freedom_prior
        cov = priors.covariance_prior
        self.covariance_prior_ = float(cov) if cov.ndim == 0 else cov

    def _priors(self) -> vb.Priors:
        return vb.Priors(
            self.weight_concentration_prior_type,
            self.weight_concentration_prior_,
            self.mean_precision_prior_,
            self.mean_prior_,
            self.degrees_of_freedom_prior_,
            np.asarray(self.covariance_prior_, dtype=np.float64),
        )

    def _family(self) -> GaussianVB:
        return GaussianVB(self.covariance_type, float(self.reg_covar), self._priors())

    def _codec(self) -> VBArrays:
        return VBArrays(self.weight_concentration_prior_type)

    def _fit_settings(self) -> dict:
        return {
            "estimator": type(self).__name__,
            "weight_concentration_prior_type": self.weight_concentration_prior_type,
            **{name: _setting(getattr(self, name)) for name in _PRIORS},
        }

    # ---------------------------------------------------------------- attributes
    def _params(self) -> vb.VBParams:
        wc = self.weight_concentration_
        return vb.VBParams(
            self.covariance_type,
            np.stack(wc) if isinstance(wc, tuple) else wc,
            self.mean_precision_,
            self.means_,
            np.asarray(self.degrees_of_freedom_, dtype=np.float64),
            self.covariances_,
            self.precisions_cholesky_,
        )

    def _set_params(self, params: vb.VBParams) -> None:
        wc = params.weight_concentration
        self.weight_concentration_ = (wc[0], wc[1]) if wc.ndim == 2 else wc
        self.mean_precision_ = params.mean_precision
        self.means_ = params.means
        dof = params.degrees_of_freedom
        self.degrees_of_freedom_ = float(dof) if dof.ndim == 0 else dof
        self.covariances_ = params.covariances
        self.precisions_cholesky_ = params.precisions_chol
        self.precisions_ = precisions_from_chol(params.covariance_type, params.precisions_chol)
        self.weights_ = params.weights

    # ---------------------------------------------------------------- model files
    def _model_extra_arrays(self) -> dict:
        params = self._params()
        return {
            "weight_concentration_": params.weight_concentration,
            "mean_precision_": params.mean_precision,
            "degrees_of_freedom_": params.degrees_of_freedom,
            "mean_prior_": self.mean_prior_,
            "covariance_prior_": np.asarray(self.covariance_prior_),
        }

    def _model_extra_fit(self) -> dict:
        return {
            "weight_concentration_prior_": float(self.weight_concentration_prior_),
            "mean_precision_prior_": float(self.mean_precision_prior_),
            "degrees_of_freedom_prior_": float(self.degrees_of_freedom_prior_),
        }

    @classmethod
    def _model_extra_shapes(cls, header: dict, fail) -> dict:
        cov, k, d = header["covariance_type"], header["n_components"], header["n_features"]
        prior_type = header["params"].get("weight_concentration_prior_type")
        if prior_type not in vb.PRIOR_TYPES:
            raise fail(
                f"weight_concentration_prior_type {prior_type!r} is not one of {vb.PRIOR_TYPES}"
            )
        shapes = VBArrays(prior_type).array_shapes(cov, k, d)
        prior_shape = {"full": (d, d), "tied": (d, d), "diag": (d,), "spherical": ()}[cov]
        return {
            "weight_concentration_": shapes["weight_concentration"],
            "mean_precision_": shapes["mean_precision"],
            "degrees_of_freedom_": shapes["degrees_of_freedom"],
            "mean_prior_": (d,),
            "covariance_prior_": prior_shape,
        }

    @classmethod
    def _check_model_arrays(cls, header: dict, arrays: dict, fail) -> None:
        named = {
            "weight_concentration_": arrays["weight_concentration_"],
            "mean_precision_": arrays["mean_precision_"],
            "means_": arrays["means_"],
            "degrees_of_freedom_": arrays["degrees_of_freedom_"],
            "covariances_": arrays["covariances_"],
            "precisions_chol_": arrays["precisions_cholesky_"],
        }
        check_posterior(header["covariance_type"], named, fail)
        try:
            cls._priors_of(header, arrays)
        except (TypeError, ValueError) as err:
            raise fail(f"its priors are invalid ({err})") from None
        weights = vb.VBParams(header["covariance_type"], *named.values()).weights
        if not np.allclose(weights, arrays["weights_"], rtol=1e-12, atol=0):
            raise fail("weights_ are not the weights weight_concentration_ implies")

    @staticmethod
    def _priors_of(header: dict, arrays: dict) -> vb.Priors:
        fit, params = header["fit"], header["params"]
        return vb.resolve_priors(
            header["covariance_type"],
            header["n_components"],
            header["n_features"],
            weight_concentration_prior_type=params["weight_concentration_prior_type"],
            weight_concentration_prior=fit.get("weight_concentration_prior_"),
            mean_precision_prior=fit.get("mean_precision_prior_"),
            mean_prior=arrays["mean_prior_"],
            degrees_of_freedom_prior=fit.get("degrees_of_freedom_prior_"),
            covariance_prior=arrays["covariance_prior_"],
            data_mean=None,
            data_covariance=None,
        )

    def _restore(self, header: dict, arrays: dict) -> None:
        self._set_priors(self._priors_of(header, arrays))
        self._set_params(
            vb.VBParams(
                header["covariance_type"],
                arrays["weight_concentration_"],
                arrays["mean_precision_"],
                arrays["means_"],
                arrays["degrees_of_freedom_"],
                arrays["covariances_"],
                arrays["precisions_cholesky_"],
            )
        )


def _setting(value):
    """A prior setting as a checkpoint fingerprint records it."""
    if value is None or isinstance(value, (int, float)):
        return value
    return array_digest(value)
