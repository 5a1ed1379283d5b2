"""``GaussianMixture``: scikit-learn's estimator, fitted by EM on the distgmm engine."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..core.missing import NAN_POLICIES
from ..families.gaussian import covtypes as kernels
from ..families.gaussian.mle import GaussianMLE
from ..families.gaussian.params import GaussianParams
from ..init import INIT_METHODS, InitSpec
from ._base import BaseMixture
from ._criteria import InformationCriteria
from ._online import (
    OnlineMixin,
    check_running,
    restore_running,
    running_arrays,
    running_fit,
    running_shapes,
)
from ._validation import check_array_init, check_precisions_init

__all__ = ["GaussianMixture"]


class GaussianMixture(OnlineMixin, InformationCriteria, BaseMixture):
    """Gaussian mixture fitted by EM, one pass over the data per iteration, on Dask.

    A drop-in for :class:`sklearn.mixture.GaussianMixture` that also takes dask arrays
    larger than memory: each iteration maps a fused E-step/statistics kernel over the row
    chunks and tree-reduces the small statistics; the M-step runs on the client.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        'full': each component has its own general covariance matrix; 'tied': all share
        one; 'diag': each has its own diagonal covariance; 'spherical': each has a single
        variance.
    tol : float, default=1e-3
        Convergence threshold: EM stops when the mean log-likelihood changes by less.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the covariances' diagonal.
    max_iter : int, default=100
        Number of EM iterations (data passes) to perform.
    n_init : int, default=1
        Number of initialisations; the best fit is kept. The restarts share every data pass.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How the restarts start. On numpy input, scikit-learn's own initialisation, drawn
        from ``random_state`` in its order: 'kmeans' ``sklearn.cluster.KMeans`` labels,
        'k-means++' ``kmeans_plusplus`` rows as means, 'random' uniformly random
        responsibilities, 'random_from_data' randomly chosen rows as means. On dask input, an
        out-of-core initialisation that does not depend on the chunking: k-means++ and Lloyd
        iterations on a uniform sample of rows refined by Lloyd passes over all the data
        ('kmeans'), k-means++ rows of the sample, responsibilities drawn by row index, or
        rows chosen by index.
    weights_init : array-like of shape (n_components,), default=None
        Initial weights.
    means_init : array-like of shape (n_components, n_features), default=None
        Initial means.
    precisions_init : array-like, default=None
        Initial precisions (inverse covariances); shape by ``covariance_type``:
        'full' ``(n_components, n_features, n_features)``, 'tied'
        ``(n_features, n_features)``, 'diag' ``(n_components, n_features)``,
        'spherical' ``(n_components,)``.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and :meth:`sample`. On numpy input, the same value gives
        scikit-learn's fit. A fixed int gives bit-identical fits whatever the number of
        workers (and, for dask input, the chunking).
    warm_start : bool, default=False
        Start ``fit`` from the last solution (``n_init`` is then ignored). A fit with another
        ``n_components`` or ``covariance_type`` starts afresh; other features are an error.
    verbose : int, default=0
        1 prints the start and end of the fit, 2 also every ``verbose_interval`` iterations
        (iteration, mean log-likelihood, change, seconds).
    verbose_interval : int, default=10
        Iterations between two progress lines.
    client : None, str or distributed.Client, default=None
        Where to run. ``None``: numpy input runs in this process on a thread pool, with no
        scheduler (it is already in memory); dask input runs on the active ``distributed``
        client if there is one, else on dask's default scheduler. A client, or a scheduler
        address to connect to, runs every input on that cluster (numpy input is scattered
        to the workers chunk by chunk, and scattered again if a worker dies with some).
    persist : bool or 'auto', default='auto'
        For dask input, whether to keep the data in (cluster) memory between passes.
        'auto' persists when every worker can hold its share of the chunks, one chunk being
        read and the passes' scratch per thread within distributed's target fraction of its
        memory limit (without a cluster: half of the available memory), and otherwise reads
        them from their source every pass (see the README's rule on chunks and memory).
    checkpoint : str or os.PathLike, default=None
        A local file where the state of the fit (every restart's parameters and history)
        is saved after the initialisation and after every iteration, atomically: a fit
        killed at any moment leaves the last complete checkpoint.
    resume : bool, default=False
        Continue from ``checkpoint`` if the file exists (else start afresh). The resumed
        fit reaches the same model, bit for bit, as one never interrupted; the checkpoint
        must come from the same data shape and settings, or it is refused.
    step_size_decay : float in (0.5, 1], default=0.6
        ``partial_fit`` (online EM): the ``t``-th batch blended into the running
        statistics weighs ``(t + 2) ** -step_size_decay`` (Cappé & Moulines 2009).
    burn_in : int, default=0
        ``partial_fit``: batches whose statistics are blended before the first M-step.
    nan_policy : {'raise', 'marginalize', 'omit'}, default='raise'
        What a NaN in ``X`` is. 'raise': an error (scikit-learn's behaviour).
        'marginalize': a missing entry; each row's likelihood is the marginal density of its
        observed entries, and the M-step uses the conditional means and covariances of the
        missing ones (exact EM, Ghahramani & Jordan 1994); ``predict``, ``score_samples``
        and BIC/AIC are marginal too, and a row with every entry missing is an error.
        'omit': rows holding a NaN are left out of the fit (counted in ``n_omitted_``), and
        get label -1, NaN probabilities and a NaN score. Infinity is an error under every
        policy. Data without NaN fit bit for bit alike under all three.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        Shape as ``precisions_init``.
    precisions_ : ndarray
        Inverse covariances, same shape.
    precisions_cholesky_ : ndarray
        Upper Cholesky factors of the precisions, same shape.
    converged_ : bool
    n_iter_ : int
        Iterations of the best fit.
    lower_bound_ : float
        Mean log-likelihood of the best fit's last iteration.
    lower_bounds_ : list of float
        Mean log-likelihood of the parameters entering each iteration of the best fit.
    history_ : list of float
        Same as ``lower_bounds_`` (the convergence curve).
    n_omitted_ : int
        Rows ``nan_policy='omit'`` left out of the fit's last pass (0 otherwise).
    labels_ : ndarray, dask array, dask Series or DataArray of shape (n_samples,)
        Component of each training row, in the input's kind (see ``predict``).
    n_features_in_ : int
    n_batches_seen_ : int
        Batches ``partial_fit`` has seen since it started (absent before its first call;
        ``fit`` removes it, with the two below).
    running_stats_ : Stats
        ``partial_fit``'s running statistics, per unit of weight.
    running_origin_ : ndarray of shape (n_features,)
        The point the running statistics' coordinates are relative to (fixed at the first
        ``partial_fit``).
    """

    _parameter_constraints: dict = {  # noqa: RUF012 - scikit-learn's declared convention
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(set(kernels.COVARIANCE_TYPES))],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions(set(INIT_METHODS))],
        "weights_init": ["array-like", None],
        "means_init": ["array-like", None],
        "precisions_init": ["array-like", None],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [Interval(Integral, 1, None, closed="left")],
        "client": "no_validation",
        "persist": ["boolean", StrOptions({"auto"})],
        "checkpoint": [str, os.PathLike, None],
        "resume": ["boolean"],
        "step_size_decay": [Interval(Real, 0.5, 1.0, closed="right")],
        "burn_in": [Interval(Integral, 0, None, closed="left")],
        "nan_policy": [StrOptions(set(NAN_POLICIES))],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        client=None,
        persist="auto",
        checkpoint=None,
        resume=False,
        step_size_decay=0.6,
        burn_in=0,
        nan_policy="raise",
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.client = client
        self.persist = persist
        self.checkpoint = checkpoint
        self.resume = resume
        self.step_size_decay = step_size_decay
        self.burn_in = burn_in
        self.nan_policy = nan_policy

    # ------------------------------------------------------------------ fitting

    _bound_name = "mean log-likelihood"

    def _family(self) -> GaussianMLE:
        return GaussianMLE(self.covariance_type, float(self.reg_covar), self.nan_policy)

    def _fit_settings(self) -> dict:
        # Checkpoints of the default policy keep the fingerprint they always had.
        return {} if self.nan_policy == "raise" else {"nan_policy": self.nan_policy}

    def _codec(self):
        return GaussianMLE

    def _init_spec(self, n_features: int) -> InitSpec:
        k, cov = self.n_components, self.covariance_type
        return InitSpec(
            k,
            cov,
            self.init_params,
            float(self.reg_covar),
            check_array_init("weights_init", self.weights_init, (k,), simplex=True),
            check_array_init("means_init", self.means_init, (k, n_features)),
            check_precisions_init(self.precisions_init, cov, k, n_features),
            nan_policy=self.nan_policy,
        )

    def _params(self) -> GaussianParams:
        return GaussianParams(
            self.covariance_type,
            self.weights_,
            self.means_,
            self.covariances_,
            self.precisions_cholesky_,
        )

    def _set_params(self, params: GaussianParams) -> None:
        self.weights_ = params.weights
        self.means_ = params.means
        self.covariances_ = params.covariances
        self.precisions_cholesky_ = params.precisions_chol
        self.precisions_ = precisions_from_chol(params.covariance_type, params.precisions_chol)

    # ---------------------------------------------------------------- model files
    def _model_extra_arrays(self) -> dict:
        return running_arrays(self)

    def _model_extra_fit(self) -> dict:
        return running_fit(self)

    @classmethod
    def _model_extra_shapes(cls, header: dict, fail) -> dict:
        return running_shapes(header, GaussianMLE(header["covariance_type"], 0.0), fail)

    @classmethod
    def _check_model_arrays(cls, header: dict, arrays: dict, fail) -> None:
        """The online state, if any (the arrays every model file holds are checked)."""
        check_running(header, arrays, GaussianMLE(header["covariance_type"], 0.0), fail)

    def _restore(self, header: dict, arrays: dict) -> None:
        restore_running(self, header, arrays, self._family())
        self._set_params(
            GaussianParams(
                header["covariance_type"],
                arrays["weights_"],
                arrays["means_"],
                arrays["covariances_"],
                arrays["precisions_cholesky_"],
            )
        )

    def _n_parameters(self) -> int:
        return self._params().n_parameters()


def precisions_from_chol(covariance_type: str, chol: np.ndarray) -> np.ndarray:
    """scikit-learn's ``precisions_`` from ``precisions_cholesky_``."""
    if covariance_type == "full":
        return chol @ np.swapaxes(chol, 1, 2)
    if covariance_type == "tied":
        return chol @ chol.T
    return chol**2
