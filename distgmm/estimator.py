"""``GaussianMixture``: scikit-learn's estimator API over the distgmm engine."""

from __future__ import annotations

import functools
import hashlib
import math
import os
import time
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import dask.array as da
import numpy as np
from dask import delayed
from sklearn.base import BaseEstimator, ClusterMixin, DensityMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import kernels
from ._feature_names import check_feature_names
from ._weights import check_sample_weight, float64_array
from .checkpoint import load_checkpoint, save_checkpoint
from .cluster import resolve_client
from .em import EMProgress, EMResult, IterationReport, run_em
from .engine import make_passes
from .errors import ConvergenceWarning, DistGMMError, InvalidInputError, SingularCovarianceError
from .fingerprint import fit_fingerprint
from .init import INIT_METHODS, InitSpec, initialize
from .init_sklearn import initialize_like_sklearn
from .io import parquet_source, write_predictions
from .kernels.chunk import (
    check_finite_rows,
    chunk_weighted_log_prob,
    prepare_em,
    representable_origin,
)
from .params import GaussianParams

__all__ = ["GaussianMixture"]


class GaussianMixture(ClusterMixin, DensityMixin, BaseEstimator):
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
        'auto' persists when the data take at most half of the memory available (the
        workers' memory limits), and otherwise reads them from their source every pass.
    checkpoint : str or os.PathLike, default=None
        A local file where the state of the fit (every restart's parameters and history)
        is saved after the initialisation and after every iteration, atomically: a fit
        killed at any moment leaves the last complete checkpoint.
    resume : bool, default=False
        Continue from ``checkpoint`` if the file exists (else start afresh). The resumed
        fit reaches the same model, bit for bit, as one never interrupted; the checkpoint
        must come from the same data shape and settings, or it is refused.

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
    labels_ : ndarray or dask.array.Array of shape (n_samples,)
        Component of each training row (lazy for dask input).
    n_features_in_ : int
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

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the model parameters with the EM algorithm.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            Training rows; float32 data stay float32 (statistics are float64).
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights: responsibilities are multiplied by them. Only their
            ratios count (equal weights fit exactly as none); at least ``n_components``
            rows need a positive weight.

        Returns
        -------
        self : GaussianMixture
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the component of each row of ``X``.

        Returns
        -------
        labels : ndarray or dask.array.Array of shape (n_samples,)
        """
        return self._fit(X, sample_weight).labels_

    def _fit(self, X, sample_weight):
        self._validate_params()
        # A fit that fails leaves the estimator as it was (validation resets these first).
        saved = {k: v for k, v in vars(self).items() if k in _INPUT_ATTRIBUTES}
        try:
            return self._fit_checked(X, sample_weight)
        except BaseException:
            for name in _INPUT_ATTRIBUTES:
                if name in saved:
                    setattr(self, name, saved[name])
                elif hasattr(self, name):
                    delattr(self, name)
            raise

    def _fit_checked(self, X, sample_weight):
        warm = self.warm_start and hasattr(self, "converged_")
        X = self._check_X(X, reset=not warm)  # a warm start keeps the feature count
        do_init = not (warm and self._fitted_like(X.shape[1]))
        n_samples = X.shape[0]
        if n_samples < 2:
            raise InvalidInputError(
                f"Found array with {n_samples} sample(s) (shape={X.shape}) while a minimum "
                "of 2 is required by GaussianMixture."
            )
        if n_samples < self.n_components:
            raise InvalidInputError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n_samples}. Use fewer components."
            )
        lazy, digest = isinstance(X, da.Array), self.checkpoint is not None
        weights = check_sample_weight(sample_weight, n_samples, lazy, self.n_components, digest)
        spec = self._init_spec(X.shape[1]) if do_init else None
        # numpy input draws scikit-learn's start from this generator, in its order; dask
        # input derives the seeds of its row-keyed draws from one integer of it.
        random_state = check_random_state(self.random_state)
        with _connected(self.client) as client:
            passes = make_passes(
                X,
                weights.values,
                client=client if isinstance(X, da.Array) or self.client else None,
                persist=self.persist,
            )
            start = functools.partial(self._start, X, passes, spec, random_state, weights.values)
            seed = _seed_identity(self.random_state, random_state)
            return self._run(X, passes, start, do_init, spec, seed, weights.digest)

    def _start(self, X, passes, spec: InitSpec, random_state, weights):
        """Initial parameters of every restart, and the pass origin."""
        if spec.fully_given:  # nothing to draw, as in scikit-learn
            return initialize(passes, spec, 0, self.n_init)
        if isinstance(X, da.Array):
            base_seed = int(random_state.randint(np.iinfo(np.int32).max))
            return initialize(passes, spec, base_seed, self.n_init)
        return initialize_like_sklearn(X, spec, random_state, self.n_init, weights)

    def _run(self, X, passes, start, do_init, spec, seed, weights_digest=None):
        started = time.perf_counter()
        try:
            fingerprint = self._fingerprint(passes, spec, seed, weights_digest)
            resumed = (
                load_checkpoint(self.checkpoint, fingerprint)
                if self.checkpoint is not None and self.resume
                else None
            )
            if resumed is not None:
                progress, origin = resumed
                inits = [r.params for r in progress.results]
            elif do_init:
                inits, origin = start()
                progress = None
            else:
                inits = [self._params()]
                origin = representable_origin(self._origin(), passes.dtype)
                progress = None
            if progress is None:
                start_bound = -np.inf if do_init else self.lower_bound_
                progress = EMProgress(0, [EMResult(p) for p in inits], [start_bound] * len(inits))
                self._save_checkpoint(progress, origin, fingerprint)
            if self.verbose:
                print(
                    f"Fitting {len(inits)} initialisation(s) on {passes.n_samples} rows"
                    + (f", resumed after iteration {progress.iteration}" if resumed else "")
                )
            if self.max_iter == 0:
                results = [EMResult(p) for p in inits]
            else:
                results = run_em(
                    lambda models: passes.run(models, origin),
                    inits,
                    origin,
                    tol=self.tol,
                    max_iter=self.max_iter,
                    reg_covar=self.reg_covar,
                    on_iteration=self._report if self.verbose >= 2 else None,
                    progress=progress,
                    on_progress=lambda p: self._save_checkpoint(p, origin, fingerprint),
                )
        finally:
            passes.close()
        best = _best(results, self.max_iter)
        self._set_params(best.params)
        self.converged_ = best.converged
        self.n_iter_ = best.n_iter
        self.lower_bound_ = best.lower_bound
        self.lower_bounds_ = list(best.lower_bounds)
        self.history_ = self.lower_bounds_
        if self.verbose:
            print(
                f"{'Converged' if self.converged_ else 'Did not converge'} after "
                f"{self.n_iter_} iterations, {time.perf_counter() - started:.3f} s, "
                f"lower bound {self.lower_bound_:.6f}"
            )
        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        self.labels_ = self._estep(X, "labels")
        return self

    def _fingerprint(self, passes, spec, seed, weights_digest) -> dict:
        """What a checkpoint must share with the fit resuming it (see distgmm.fingerprint)."""
        if self.checkpoint is None:
            return {}
        return fit_fingerprint(self, passes, spec, seed, weights_digest)

    def _save_checkpoint(self, progress: EMProgress, origin, fingerprint: dict) -> None:
        if self.checkpoint is not None:
            save_checkpoint(self.checkpoint, progress, origin, fingerprint)

    def _fitted_like(self, n_features: int) -> bool:
        """Whether the current solution can start a fit of this shape (a warm start)."""
        if not hasattr(self, "converged_"):
            return False
        shape = kernels.get(self.covariance_type).covariance_shape(self.n_components, n_features)
        return self.means_.shape == (self.n_components, n_features) and (
            self.covariances_.shape == shape
        )

    def _report(self, report: IterationReport) -> None:
        if report.iteration % self.verbose_interval and not report.converged:
            return
        for i, bound, change in zip(
            report.models, report.lower_bounds, report.changes, strict=True
        ):
            print(
                f"  init {i} iteration {report.iteration}: mean log-likelihood {bound:.6f}, "
                f"change {change:.3e}, {report.seconds:.3f} s"
            )

    def _init_spec(self, n_features: int) -> InitSpec:
        k, cov = self.n_components, self.covariance_type
        return InitSpec(
            k,
            cov,
            self.init_params,
            float(self.reg_covar),
            _check_array_init("weights_init", self.weights_init, (k,), simplex=True),
            _check_array_init("means_init", self.means_init, (k, n_features)),
            _check_precisions_init(self.precisions_init, cov, k, n_features),
        )

    # ------------------------------------------------------------------ params
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
        chol = params.precisions_chol
        if params.covariance_type == "full":
            self.precisions_ = chol @ np.swapaxes(chol, 1, 2)
        elif params.covariance_type == "tied":
            self.precisions_ = chol @ chol.T
        else:
            self.precisions_ = chol**2

    def _origin(self) -> np.ndarray:
        return self.weights_ @ self.means_

    def _n_parameters(self) -> int:
        return self._params().n_parameters()

    # ------------------------------------------------------------------ inference
    def _check_X(self, X, reset: bool):
        if isinstance(X, da.Array):
            checked = _check_dask_X(self, X, reset)
            check_feature_names(self, X, reset)  # a Parquet-read array names its columns
            return checked
        try:
            return validate_data(self, X, dtype=[np.float64, np.float32], reset=reset)
        except ValueError as err:  # one error type for bad data, numpy or dask
            raise InvalidInputError(str(err)) from err

    def _estep(self, X, out: str, check_finite: bool = False):
        origin = self._origin()
        model = prepare_em(self._params(), origin)
        if isinstance(X, da.Array):
            X = X.rechunk({1: -1}) if X.numblocks[1] != 1 else X
            shared = delayed(model, traverse=False)
            # Lazy input was not scanned for NaN/inf; each block checks itself when computed.
            block_fn = _finite_block_log_prob if check_finite else chunk_weighted_log_prob
            dtype = np.int64 if out == "labels" else np.float64
            shape = (
                {"drop_axis": 1, "meta": np.empty((0,), dtype)}
                if out in ("labels", "score")
                else {
                    "chunks": (X.chunks[0], (self.n_components,)),
                    "meta": np.empty((0, 0), dtype),
                }
            )
            return X.map_blocks(block_fn, shared, origin, out, dtype=dtype, **shape)
        return chunk_weighted_log_prob(X, model, origin, out)

    def _inference(self, X, out: str):
        check_is_fitted(self)
        return self._estep(self._check_X(X, reset=False), out, check_finite=True)

    def predict(self, X):
        """Component of each row: the most likely under the fitted model.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray or dask.array.Array of shape (n_samples,)
            Lazy for dask input.
        """
        return self._inference(X, "labels")

    def predict_proba(self, X):
        """Posterior probability of each component for each row.

        Returns
        -------
        resp : ndarray or dask.array.Array of shape (n_samples, n_components)
        """
        return self._inference(X, "proba")

    def score_samples(self, X):
        """Log-likelihood of each row under the fitted model.

        Returns
        -------
        log_prob : ndarray or dask.array.Array of shape (n_samples,)
        """
        return self._inference(X, "score")

    def write_predictions(
        self,
        X,
        path,
        *,
        proba: bool = False,
        log_likelihood: bool = False,
        keep_columns: list[str] | None = None,
        overwrite: bool = False,
        storage_options: dict | None = None,
    ) -> str:
        """Write each row's component, and optionally more, to Zarr or Parquet.

        One read of ``X``: every chunk is read, predicted and written by one task, on the
        estimator's client if it has one. The output appears under ``path`` only once
        complete (it is written under a temporary name, then renamed).

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            E.g. from :func:`distgmm.read_zarr` or :func:`distgmm.read_parquet`.
        path : str or os.PathLike
            Local path or fsspec URL. ``*.zarr``: a group with arrays ``labels``,
            ``probabilities`` and ``log_likelihood``, chunked like ``X``. ``*.parquet``: a
            folder of part files in row order with columns ``keep_columns``, ``label``,
            ``proba_0`` ... and ``log_likelihood``.
        proba : bool, default=False
            Also write the posterior probability of each component.
        log_likelihood : bool, default=False
            Also write each row's log-likelihood (:meth:`score_samples`).
        keep_columns : list of str, optional
            Parquet output from Parquet input: columns of the input files (e.g. an id) to
            copy into the output, row-aligned. ``X`` must be :func:`distgmm.read_parquet`'s
            array as returned.
        overwrite : bool, default=False
            Replace an existing output.
        storage_options : dict, optional
            For fsspec URLs.

        Returns
        -------
        str
            ``path``.
        """
        check_is_fitted(self)
        source = parquet_source(X) if keep_columns else None
        X = self._check_X(X, reset=False)
        origin = self._origin()
        with _connected(self.client) as client:
            return write_predictions(
                X,
                path,
                prepare_em(self._params(), origin),
                origin,
                proba=proba,
                log_likelihood=log_likelihood,
                keep_columns=keep_columns,
                source=source,
                overwrite=overwrite,
                storage_options=storage_options,
                client=client,
            )

    def _weighted_mean(self, X, sample_weight) -> tuple[float, float]:
        """The weighted mean log-likelihood of the rows of ``X``, and the weights' sum."""
        scores = self.score_samples(X)
        n = scores.shape[0]
        # scaled weights: sums of scores times weights near 1e308 would overflow
        weights = check_sample_weight(sample_weight, n, lazy=isinstance(scores, da.Array))
        w, weight = weights.values, weights.total
        total, scaled = (scores.sum(), n) if w is None else ((scores * w).sum(), w.sum())
        if isinstance(total, da.Array) or isinstance(scaled, da.Array):
            total, scaled = da.compute(total, scaled)
        return float(total) / float(scaled), weight

    def score(self, X, y=None, sample_weight=None):
        """Weighted mean log-likelihood of the rows of ``X``.

        Returns
        -------
        log_likelihood : float
        """
        return self._weighted_mean(X, sample_weight)[0]

    def bic(self, X, sample_weight=None):
        """Bayesian information criterion of the model on ``X`` (lower is better).

        With sample weights the sample size is their sum.

        Returns
        -------
        bic : float
        """
        mean, weight = self._weighted_mean(X, sample_weight)
        return -2.0 * mean * weight + self._n_parameters() * math.log(weight)

    def aic(self, X, sample_weight=None):
        """Akaike information criterion of the model on ``X`` (lower is better).

        Returns
        -------
        aic : float
        """
        mean, weight = self._weighted_mean(X, sample_weight)
        return -2.0 * mean * weight + 2 * self._n_parameters()

    def sample(self, n_samples=1):
        """Draw rows from the fitted model.

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component of each row.
        """
        check_is_fitted(self)
        if isinstance(n_samples, bool) or not isinstance(n_samples, Integral) or n_samples < 1:
            raise DistGMMError(
                f"Invalid value for 'n_samples': {n_samples!r}. It must be an integer >= 1: "
                "the sampling requires at least one sample."
            )
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        kernel = kernels.get(self.covariance_type)
        X = np.vstack(
            [
                kernel.sample(
                    rng, self.means_[k], kernel.component_covariance(self.covariances_, k), int(c)
                )
                for k, c in enumerate(counts)
            ]
        )
        y = np.concatenate([np.full(int(c), k, dtype=np.int64) for k, c in enumerate(counts)])
        return X, y

    def save(self, path):
        """Write the fitted model to a self-describing ``.npz`` file; ``distgmm.load`` reads it.

        See :func:`distgmm.modelfile.save_model`: atomic, never pickled, no ``labels_``.

        Parameters
        ----------
        path : str or os.PathLike
            Local file to write, replaced if it exists; no suffix is added.
        """
        from .modelfile import save_model  # not at the top: modelfile imports this module

        save_model(self, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


#: What validating X sets on the estimator before any fitting happens.
_INPUT_ATTRIBUTES = ("n_features_in_", "feature_names_in_")


def _best(results: list[EMResult], max_iter: int) -> EMResult:
    # scikit-learn's rule: the first restart with the highest final lower bound (the last
    # one when no iteration ran).
    if max_iter == 0:
        return results[-1]
    best = results[0]
    for result in results[1:]:
        if result.lower_bound > best.lower_bound:
            best = result
    return best


@contextmanager
def _connected(client):
    """The client to run on; one made here from an address is closed afterwards."""
    resolved = resolve_client(client)
    try:
        yield resolved
    finally:
        if isinstance(client, str) and resolved is not None:
            resolved.close()


def _check_dask_X(estimator, X: da.Array, reset: bool) -> da.Array:
    if X.ndim != 2:
        raise InvalidInputError(
            f"Expected a 2-D array of shape (n_samples, n_features), got {X.ndim}-D with "
            f"shape {X.shape}. Reshape your data, e.g. X.reshape(-1, 1) for a single feature."
        )
    if any(math.isnan(c) for c in X.chunks[0]):
        raise InvalidInputError(
            "X has unknown chunk sizes (NaN rows per chunk); call X.compute_chunk_sizes() "
            "or build it with known chunks."
        )
    if X.dtype.kind not in "fiub":
        raise InvalidInputError(
            f"X has dtype {X.dtype}; GaussianMixture needs numeric data. Select or encode "
            "the numeric columns first."
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float32 if X.dtype == np.float16 else np.float64)
    if X.shape[0] == 0:
        raise InvalidInputError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if X.shape[1] == 0:
        raise InvalidInputError(
            f"Found array with 0 feature(s) (shape={X.shape}); at least 1 is required."
        )
    if reset:
        estimator.n_features_in_ = X.shape[1]
    elif X.shape[1] != estimator.n_features_in_:
        raise InvalidInputError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return X


def _seed_identity(random_state, generator: np.random.RandomState) -> int | str | None:
    """What a checkpoint records of ``random_state``, read without drawing from it.

    An int is itself; a ``RandomState`` instance, a digest of its state now; ``None`` (a
    fresh seed every fit) is ``None``.
    """
    if random_state is None:
        return None
    if isinstance(random_state, Integral):
        return int(random_state)
    _, keys, pos, *_ = generator.get_state()
    return hashlib.sha256(np.ascontiguousarray(keys).tobytes() + bytes([pos % 256])).hexdigest()


def _finite_block_log_prob(X, model, origin, out: str):
    """:func:`chunk_weighted_log_prob` of a block, after checking it holds no NaN or inf."""
    check_finite_rows(X, "of a chunk")
    return chunk_weighted_log_prob(X, model, origin, out)


#: scikit-learn's names of the initial parameters in its messages.
_SKLEARN_NAMES = {"weights_init": "weights", "means_init": "means"}


def _check_array_init(name: str, value, shape: tuple, simplex: bool = False, sk_name=None):
    """``value`` as float64 after scikit-learn's checks, in scikit-learn's words and then ours."""
    if value is None:
        return None
    sk_name = sk_name or _SKLEARN_NAMES[name]
    atol = 1e-6 if getattr(value, "dtype", None) == np.float32 else 1e-8  # scikit-learn's
    arr = float64_array(
        value, f"The parameter '{name}' should be an array of numbers of shape {shape}"
    )
    if arr.shape != tuple(shape):
        raise InvalidInputError(
            f"The parameter '{sk_name}' should have the shape of {shape}, but got {arr.shape} "
            f"({name}; give one value per {'component' if len(shape) == 1 else 'entry'})."
        )
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"The parameter '{name}' contains NaN or infinity.")
    if simplex:
        if (arr < 0).any() or (arr > 1).any():
            # scikit-learn's sentence, whose labels are swapped; then the values named rightly.
            raise InvalidInputError(
                f"The parameter '{sk_name}' should be in the range [0, 1], but got max value "
                f"{arr.min():.5f}, min value {arr.max():.5f} ({name}: the smallest is "
                f"{arr.min():.5f}, the largest {arr.max():.5f})."
            )
        if not np.allclose(abs(1.0 - arr.sum()), 0.0, atol=atol):
            raise InvalidInputError(
                f"The parameter '{sk_name}' should be normalized, but got sum(weights) = "
                f"{arr.sum():.5f} ({name} must sum to 1; divide them by their sum)."
            )
    return arr


def _check_precisions_init(value, covariance_type: str, n_components: int, n_features: int):
    """``precisions_init`` as float64, after checking it is symmetric and positive definite."""
    shape = kernels.get(covariance_type).covariance_shape(n_components, n_features)
    sk_name = f"{covariance_type} precision"
    arr = _check_array_init("precisions_init", value, shape, sk_name=sk_name)
    if arr is None:
        return None
    matrices = covariance_type in ("full", "tied")
    sk_sentence = f"'{sk_name}' should be " + (
        "symmetric, positive-definite" if matrices else "positive"
    )
    if matrices and not np.allclose(arr, np.swapaxes(arr, -1, -2)):
        raise InvalidInputError(
            f"{sk_sentence} (precisions_init: the {covariance_type!r} precision matrices are "
            "not symmetric). Give inverse covariance matrices."
        )
    try:
        kernels.get(covariance_type).precisions_chol_from_precisions(arr)
    except SingularCovarianceError as err:
        which = "the tied precision" if err.component is None else f"component {err.component}"
        rule = "every eigenvalue must be > 0" if matrices else "every value must be > 0"
        raise InvalidInputError(
            f"{sk_sentence} (precisions_init: positive definite, but {which} is not; {rule}). "
            "Give inverse covariance matrices."
        ) from err
    return arr
