"""``BaseMixture``: fit, predict, score, sample, save and checkpoints for any mixture family.

A mixture class is its parameters and fitted attributes: it says how to start (an
:class:`~distgmm.init.InitSpec`), which family fits it (:meth:`BaseMixture._family`), and
how its parameters map to attributes. Everything else (the passes over the data,
scikit-learn's initialisation on numpy input, the EM loop, restarts, checkpoints and resume,
warm starts, lazy inference on dask input, writers) is here, once.
"""

from __future__ import annotations

import functools
import time

import dask.array as da
import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, DensityMixin
from sklearn.utils import check_random_state

from .._callerwarn import warn_at_caller
from .._frames import is_dask_frame, is_xarray, sample_weight_like
from .._modelread import check_gaussian_model, gaussian_shapes
from .._sizing import fit_scratch_bytes
from .._weights import check_sample_weight
from ..checkpoint import check_local, load_checkpoint, save_checkpoint
from ..core.em import EMProgress, EMResult, IterationReport, best_result, run_em
from ..engine import make_passes
from ..errors import ConvergenceWarning, InvalidInputError
from ..families.gaussian.kernel import representable_origin
from ..fingerprint import fit_fingerprint
from ..init import InitSpec, initialize
from ..init_sklearn import initialize_like_sklearn
from ._inference import Inference
from ._validation import connected, seed_identity

__all__ = ["BaseMixture"]

#: What validating X sets on the estimator before any fitting happens.
_INPUT_ATTRIBUTES = ("n_features_in_", "feature_names_in_")


class BaseMixture(Inference, ClusterMixin, DensityMixin, BaseEstimator):
    """What every distgmm mixture does; subclasses give their parameters and family.

    A subclass defines ``_parameter_constraints`` and ``__init__`` (scikit-learn's
    conventions), and :meth:`_init_spec`, :meth:`_family`, :meth:`_params`,
    :meth:`_set_params`; :meth:`_fit_family` when fitting needs more than the parameters
    (e.g. priors computed from the data).
    """

    #: What validating X sets on the estimator before any fitting happens.
    _input_attributes = _INPUT_ATTRIBUTES

    #: What the verbose progress lines call the bound.
    _bound_name = "lower bound"

    # ------------------------------------------------------------------ subclass hooks
    def _init_spec(self, n_features: int) -> InitSpec:
        raise NotImplementedError

    def _family(self):
        """The fitted model's family, for inference and sampling (no pass over the data)."""
        raise NotImplementedError

    def _fit_family(self, passes, origin: np.ndarray):
        """The family to fit with; may run passes (priors from the data)."""
        return self._family()

    def _params(self):
        raise NotImplementedError

    def _set_params(self, params) -> None:
        raise NotImplementedError

    def _scratch_bytes(self, n_features: int, dtype) -> int:
        """Bytes of per-block buffers of the fit's widest pass (the persist decision)."""
        return fit_scratch_bytes(
            self.covariance_type, self.n_components, n_features, dtype, self.n_init
        )

    @property
    def _nan_policy(self) -> str:
        return getattr(self, "nan_policy", "raise")

    def _fit_settings(self) -> dict:
        """Settings beyond the common ones that a checkpoint must match (JSON-ready)."""
        return {}

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the model parameters, one pass over the data per iteration.

        Parameters
        ----------
        X : array-like, dask array, DataFrame or DataArray of shape (n_samples, n_features)
            Training rows; float32 data stay float32 (statistics are float64). A dask
            DataFrame or a dask-backed xarray DataArray stays lazy: its partitions are read
            by the passes (a DataFrame's partition lengths, unless Dask knows them, are
            counted by one pass of ``len``). pandas, polars and dask DataFrames need
            numeric (or bool) columns; a DataArray is 2-D, rows along its first dimension.
            String column names (a DataArray's feature coordinate) become
            ``feature_names_in_`` and are checked by ``predict`` and the other methods.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights: responsibilities are multiplied by them. Only their
            ratios count (equal weights fit exactly as none); at least ``n_components``
            rows need a positive weight. For a dask DataFrame, a dask Series partitioned
            like it (e.g. one of its columns) is taken too.

        Returns
        -------
        self : object
        """
        self._fit(X, sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the component of each row of ``X``.

        Returns
        -------
        labels : ndarray, dask array, dask Series or DataArray of shape (n_samples,)
            In the input's kind, as :meth:`predict`'s.
        """
        return self._fit(X, sample_weight).labels_

    def _fit(self, X, sample_weight):
        self._validate_params()
        # A fit that fails leaves the estimator as it was (validation resets these first).
        saved = {k: v for k, v in vars(self).items() if k in self._input_attributes}
        try:
            return self._fit_checked(X, sample_weight)
        except BaseException:
            for name in self._input_attributes:
                if name in saved:
                    setattr(self, name, saved[name])
                elif hasattr(self, name):
                    delattr(self, name)
            raise

    def _fit_checked(self, X, sample_weight):
        warm = self.warm_start and hasattr(self, "converged_")
        given = X  # a table's labels_ are in its kind (distgmm._frames)
        X = self._check_X(X, reset=not warm)  # a warm start keeps the feature count
        return self._fit_array(X, given, sample_weight, warm)

    def _fit_array(self, X, given, sample_weight, warm: bool, passes=None):
        """Fit the checked array ``X`` (``given`` is the user's input, for ``labels_``'s
        kind); on ``passes`` if given (a sweep's shared passes, which the sweep closes)."""
        sample_weight = sample_weight_like(sample_weight, X)
        do_init = not (warm and self._fitted_like(X.shape[1]))
        n_samples = X.shape[0]
        if n_samples < 2:
            raise InvalidInputError(
                f"Found array with {n_samples} sample(s) (shape={X.shape}) while a minimum "
                f"of 2 is required by {type(self).__name__}."
            )
        if n_samples < self.n_components:
            raise InvalidInputError(
                f"Expected n_samples >= n_components but got n_components = "
                f"{self.n_components}, n_samples = {n_samples}. Use fewer components."
            )
        check_local(self.checkpoint, f"checkpoint={self.checkpoint!r}")
        lazy, digest = isinstance(X, da.Array), self.checkpoint is not None
        weights = check_sample_weight(sample_weight, n_samples, lazy, self.n_components, digest)
        spec = self._init_spec(X.shape[1]) if do_init else None
        # numpy input draws scikit-learn's start from this generator, in its order; dask
        # input derives the seeds of its row-keyed draws from one integer of it.
        random_state = check_random_state(self.random_state)
        seed = seed_identity(self.random_state, random_state)
        if passes is not None:
            start = functools.partial(self._start, X, passes, spec, random_state, weights.values)
            self._run(X, passes, start, do_init, spec, seed, weights.digest)
        else:
            with connected(self.client) as client:
                passes = make_passes(
                    X,
                    weights.values,
                    client=client if isinstance(X, da.Array) or self.client else None,
                    persist=self.persist,
                    scratch=self._scratch_bytes(X.shape[1], X.dtype),
                )
                start = functools.partial(
                    self._start, X, passes, spec, random_state, weights.values
                )
                self._run(X, passes, start, do_init, spec, seed, weights.digest)
        if is_dask_frame(given) or is_xarray(given):
            self.labels_ = self._like_input(given, "labels", self.labels_, check_finite=False)
        return self

    def _start(self, X, passes, spec: InitSpec, random_state, weights, invariant: bool = False):
        """Initial estimates of every restart, and the pass origin; ``invariant``: the
        chunk-invariant start (dask input's) whatever the input."""
        if spec.fully_given:  # nothing to draw, as in scikit-learn
            return initialize(passes, spec, 0, self.n_init)
        # scikit-learn's KMeans refuses NaN: data with missing entries take the engine's start.
        missing = self._nan_policy != "raise" and not isinstance(X, da.Array) and _has_nan(X)
        if invariant or missing or isinstance(X, da.Array):
            base_seed = int(random_state.randint(np.iinfo(np.int32).max))
            return initialize(passes, spec, base_seed, self.n_init)
        return initialize_like_sklearn(X, spec, random_state, self.n_init, weights)

    def _run(self, X, passes, start, do_init, spec, seed, weights_digest=None):
        started = time.perf_counter()
        try:
            fingerprint = self._fingerprint(passes, spec, seed, weights_digest)
            resumed = (
                load_checkpoint(self.checkpoint, fingerprint, self._codec())
                if self.checkpoint is not None and self.resume
                else None
            )
            if resumed is not None:
                progress, origin = resumed
                family = self._fit_family(passes, origin)
            elif do_init:
                estimates, origin = start()
                family = self._fit_family(passes, origin)
                inits = [family.start(e, passes.n_samples) for e in estimates]
                progress = None
            else:
                inits = [self._params()]
                origin = representable_origin(self._origin(), passes.dtype)
                family = self._fit_family(passes, origin)
                progress = None
            if progress is None:
                start_bound = -np.inf if do_init else self.lower_bound_
                progress = EMProgress(0, [EMResult(p) for p in inits], [start_bound] * len(inits))
                self._save_checkpoint(progress, origin, fingerprint)
            if self.verbose:
                print(
                    f"Fitting {len(progress.results)} initialisation(s) on {passes.n_samples} "
                    "rows" + (f", resumed after iteration {progress.iteration}" if resumed else "")
                )
            results = run_em(
                lambda models: passes.run(models, origin),
                family,
                [],
                origin,
                tol=self.tol,
                max_iter=self.max_iter,
                on_iteration=self._report if self.verbose >= 2 else None,
                progress=progress,
                on_progress=lambda p: self._save_checkpoint(p, origin, fingerprint),
            )
        finally:
            passes.close()
        best = best_result(results, self.max_iter)
        self._set_params(best.params)
        self.converged_ = best.converged
        self.n_iter_ = best.n_iter
        self.lower_bound_ = best.lower_bound
        self.lower_bounds_ = list(best.lower_bounds)
        self.history_ = self.lower_bounds_
        self.n_omitted_ = best.n_omitted
        if best.n_empty and self._nan_policy == "omit":
            warn_at_caller(
                f"{best.n_empty} rows of X have every entry missing (NaN); nan_policy='omit' "
                "left them out with the other rows holding a NaN.",
                UserWarning,
            )
        if self.verbose:
            print(
                f"{'Converged' if self.converged_ else 'Did not converge'} after "
                f"{self.n_iter_} iterations, {time.perf_counter() - started:.3f} s, "
                f"lower bound {self.lower_bound_:.6f}"
            )
        if not self.converged_ and self.max_iter > 0:
            warn_at_caller(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
            )
        self.labels_ = self._estep(X, "labels")
        return self

    def _codec(self):
        """How the family's parameters go to and from checkpoint arrays (``GaussianMLE``,
        ``VBArrays``: ``ARRAYS``, ``array_shapes``, ``to_arrays``, ``from_arrays``)."""
        raise NotImplementedError

    def _fingerprint(self, passes, spec, seed, weights_digest) -> dict:
        """What a checkpoint must share with the fit resuming it (see distgmm.fingerprint)."""
        if self.checkpoint is None:
            return {}
        fingerprint = fit_fingerprint(self, passes, spec, seed, weights_digest)
        return {**fingerprint, **self._fit_settings()}

    def _save_checkpoint(self, progress: EMProgress, origin, fingerprint: dict) -> None:
        if self.checkpoint is not None:
            save_checkpoint(self.checkpoint, progress, origin, fingerprint, self._codec())

    def _fitted_like(self, n_features: int) -> bool:
        """Whether the current solution can start a fit of this shape (a warm start)."""
        if not hasattr(self, "converged_"):
            return False
        shape = self._codec().covariance_shape(self.covariance_type, self.n_components, n_features)
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
                f"  init {i} iteration {report.iteration}: {self._bound_name} {bound:.6f}, "
                f"change {change:.3e}, {report.seconds:.3f} s"
            )

    def _origin(self) -> np.ndarray:
        return self.weights_ @ self.means_

    # ---------------------------------------------------------------- model files
    # A Gaussian model's arrays and header fields; other families override these four.
    def _model_arrays(self) -> dict:
        return {
            "weights_": self.weights_,
            "means_": self.means_,
            "covariances_": self.covariances_,
            "precisions_cholesky_": self.precisions_cholesky_,
            **self._model_extra_arrays(),
        }

    def _model_header(self) -> dict:
        return {
            "covariance_type": self.covariance_type,
            "n_components": int(self.weights_.shape[0]),
            "n_features": int(self.means_.shape[-1]),
        }

    @classmethod
    def _model_shapes(cls, header: dict, fail) -> dict:
        """The shapes of the arrays a (checked) model file header implies."""
        return {**gaussian_shapes(header, fail), **cls._model_extra_shapes(header, fail)}

    @classmethod
    def _model_check(cls, header: dict, arrays: dict, fail) -> None:
        """Raise ``fail(problem)`` unless the arrays read form a model."""
        check_gaussian_model(header, arrays, fail)
        cls._check_model_arrays(header, arrays, fail)


def _has_nan(X: np.ndarray) -> bool:
    """Whether ``X`` holds a NaN, a block at a time (no temporary the size of ``X``)."""
    step = max(1, (1 << 20) // max(1, X.shape[1]))
    return any(np.isnan(X[i : i + step]).any() for i in range(0, len(X), step))
