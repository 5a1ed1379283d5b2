"""``select_mixture``: model selection at the cost of about one fit's reads of the data.

Every candidate (a number of components, a covariance type) is fitted by its own estimator,
exactly as ``GaussianMixture(k, covariance_type=c, ...).fit(X)`` would be, but all of them
at once: each fit runs in a thread of its own on passes shared through a
:class:`~distgmm._lockstep.Lockstep`, so that one read of the data serves the pass every
fit is waiting for (its k-means Lloyd pass, its random start's pass, its EM iteration).
The engine's batch independence makes each candidate's arithmetic its solo fit's, bit for
bit; a converged candidate simply stops asking. BIC and AIC of every candidate come from
one more pass.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import dask.array as da
import numpy as np
from sklearn.base import clone

from .._frames import sample_weight_like
from .._lockstep import Lockstep
from .._sharedstarts import sharing
from .._sizing import TASK_SCRATCH_BYTES
from .._waits import compute
from .._weights import check_sample_weight
from ..engine import make_passes
from ..errors import ConvergenceWarning, DistGMMError, InvalidInputError
from ._validation import connected

__all__ = ["ModelSelection", "select_mixture"]

CRITERIA = ("bic", "aic")
#: What a candidate's own fit may fail with (reported in results_); anything else stops the
#: sweep.
_FIT_ERRORS = (DistGMMError, ValueError, ArithmeticError, np.linalg.LinAlgError)
#: What a fitted estimator keeps from the template's validation of the input.
_INPUT = ("n_features_in_", "feature_names_in_", "_coding", "_families")


@dataclass
class ModelSelection:
    """The candidates of a sweep, their criteria, and the best one.

    Attributes
    ----------
    results_ : list of dict
        One per candidate, in the order fitted: ``n_components``, ``covariance_type``,
        ``bic``, ``aic``, ``lower_bound``, ``n_iter``, ``converged``, ``n_parameters``,
        ``status`` ('ok' or 'failed'), ``error_type`` and ``error`` (the exception's class
        and message of a failed fit, else ``None``).
    estimators_ : list
        The fitted estimator of each candidate (``None`` where it failed).
    best_index_ : int
        The candidate of least ``criterion`` among those fitted.
    best_estimator_ : estimator
        Its fitted estimator.
    criterion : str
        'bic' or 'aic'.
    n_passes_ : int
        Passes over the data the sweep ran (its starts' and EM iterations'), the final
        pass of the criteria not counted.
    """

    results_: list[dict[str, Any]]
    estimators_: list[Any]
    best_index_: int
    criterion: str
    n_passes_: int
    best_estimator_: Any = field(init=False)

    def __post_init__(self) -> None:
        self.best_estimator_ = self.estimators_[self.best_index_]

    def plot(self, ax=None, criteria: Iterable[str] = ("bic", "aic")):
        """BIC and AIC against the number of components, one line per covariance type.

        The best candidate is starred on the curve of ``criterion`` (when drawn). Needs
        matplotlib. Returns the matplotlib Axes.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as err:  # optional: only plotting needs it
            raise ImportError(
                "ModelSelection.plot needs matplotlib: pip install matplotlib"
            ) from err
        if ax is None:
            ax = plt.figure().add_subplot()
        criteria = list(criteria)
        types = list(dict.fromkeys(r["covariance_type"] for r in self.results_))
        for name, style in zip(criteria, ("-", "--"), strict=False):
            for cov in types:
                rows = [
                    r for r in self.results_ if r["covariance_type"] == cov and r["status"] == "ok"
                ]
                label = name.upper() if cov is None else f"{name.upper()} {cov}"
                ax.plot(
                    [r["n_components"] for r in rows],
                    [r[name] for r in rows],
                    style,
                    marker="o",
                    label=label,
                )
        best = self.results_[self.best_index_]
        if self.criterion in criteria:  # on another criterion's scale it would mislead
            ax.plot(best["n_components"], best[self.criterion], "k*", markersize=14, label="best")
        ax.set_xlabel("n_components")
        ax.set_ylabel("information criterion (lower is better)")
        ax.legend()
        return ax


def select_mixture(
    X,
    n_components=range(1, 11),
    covariance_types=("full", "tied", "diag", "spherical"),
    *,
    criterion: str = "bic",
    estimator=None,
    sample_weight=None,
    **params,
) -> ModelSelection:
    """Fit every candidate in the same passes over ``X`` and choose by BIC or AIC.

    Parameters
    ----------
    X : array-like, dask array, DataFrame or DataArray of shape (n_samples, n_features)
        As ``GaussianMixture.fit`` takes it (or the template estimator's ``fit``).
    n_components : iterable of int, default=range(1, 11)
    covariance_types : iterable of str, default=('full', 'tied', 'diag', 'spherical')
        For estimators with a ``covariance_type``; ignored (``None`` in the results) for
        those without (:class:`CategoricalMixture`, ...).
    criterion : {'bic', 'aic'}, default='bic'
    estimator : estimator, default=None
        A template (any distgmm mixture, e.g. ``MixedMixture(columns=...)``) whose
        parameters every candidate shares; ``None``: ``GaussianMixture()``.
    sample_weight : array-like of shape (n_samples,), optional
    **params
        Parameters of every candidate (``n_init``, ``random_state``, ``tol``, ``client``,
        ...), set on the template.

    Returns
    -------
    ModelSelection
        Each candidate's fit equals, bit for bit, the template's fit alone with its
        ``n_components`` and ``covariance_type`` (parameters, ``n_iter_``, lower bounds,
        BIC and AIC) when ``random_state`` is an int; a RandomState instance is copied to
        each candidate, as if each were fitted from its current state.

    Raises
    ------
    InvalidInputError
        Bad parameters or input, or every candidate failed (the first one's error).
    """
    if criterion not in CRITERIA:
        raise InvalidInputError(f"criterion must be one of {list(CRITERIA)}, got {criterion!r}.")
    from .gaussian import GaussianMixture

    template = _copy(estimator) if estimator is not None else GaussianMixture()
    template.set_params(**params)
    template._validate_params()
    if getattr(template, "checkpoint", None) is not None:
        raise InvalidInputError(
            "select_mixture takes no checkpoint: its candidates would all write the same "
            "file. Checkpoint a single fit instead (GaussianMixture(checkpoint=...))."
        )
    candidates = _candidates(template, n_components, covariance_types)
    estimators = []
    for k, cov in candidates:
        est = _copy(template).set_params(n_components=k)
        if cov is not None:
            est.set_params(covariance_type=cov)
        est._validate_params()
        estimators.append(est)
    with warnings.catch_warnings(), sharing():  # k-means shared between covariance types
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported in results_
        fitted, errors, n_passes, criteria = _sweep(template, estimators, X, sample_weight)
    results = []
    for (k, cov), est, error, crit in zip(candidates, fitted, errors, criteria, strict=True):
        ok = error is None
        results.append(
            {
                "n_components": k,
                "covariance_type": cov,
                "bic": crit[0] if ok else None,
                "aic": crit[1] if ok else None,
                "lower_bound": float(est.lower_bound_) if ok else None,
                "n_iter": int(est.n_iter_) if ok else None,
                "converged": bool(est.converged_) if ok else None,
                "n_parameters": int(est._n_parameters()) if ok else None,
                "status": "ok" if ok else "failed",
                "error_type": None if ok else error.partition(":")[0],
                "error": None if ok else error.partition(": ")[2],
            }
        )
    ok = [i for i, r in enumerate(results) if r["status"] == "ok"]
    best = min(ok, key=lambda i: (results[i][criterion], i))
    return ModelSelection(results, fitted, best, criterion, n_passes)


def _copy(estimator):
    """An unfitted estimator with the same parameters: scikit-learn's ``clone``, except that
    the ``client`` is shared (a distributed Client cannot be deep-copied). Everything else is
    copied: a RandomState instance shared by the candidates' threads would make each
    candidate's draws depend on the others'."""
    params = estimator.get_params(deep=False)
    client = params.pop("client", None)
    if client is None:
        return clone(estimator)
    copied = {name: clone(value, safe=False) for name, value in params.items()}
    return type(estimator)(**copied, client=client)


def _candidates(template, n_components, covariance_types) -> list[tuple[int, str | None]]:
    ks = [n_components] if isinstance(n_components, (int, np.integer)) else list(n_components)
    if not ks or any(
        isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in ks
    ):
        raise InvalidInputError(f"n_components must be integers >= 1, got {n_components!r}.")
    if "covariance_type" not in template.get_params():
        return [(int(k), None) for k in ks]
    types = [covariance_types] if isinstance(covariance_types, str) else list(covariance_types)
    if not types:
        raise InvalidInputError("covariance_types is empty.")
    return [(int(k), cov) for cov in types for k in ks]


def _sweep(template, estimators, X, sample_weight):
    """Fit ``estimators`` on shared passes; their errors, the pass count and criteria."""
    with connected(template.client) as client:
        checked = template._check_X(X, reset=True)  # once: a DataFrame's rows counted once
        for est in estimators:
            for name in _INPUT:
                if hasattr(template, name):
                    setattr(est, name, getattr(template, name))
        sw = sample_weight_like(sample_weight, checked)
        lazy = isinstance(checked, da.Array)
        weights = check_sample_weight(sw, checked.shape[0], lazy)
        scratch = sum(e._scratch_bytes(checked.shape[1], checked.dtype) for e in estimators)
        passes = make_passes(
            checked,
            weights.values,
            client=client if lazy or template.client else None,
            persist=template.persist,
            scratch=min(scratch, TASK_SCRATCH_BYTES),
        )
        try:
            lockstep = Lockstep(passes, len(estimators))
            errors: list[str | None] = [None] * len(estimators)
            failures: list[BaseException | None] = [None] * len(estimators)

            def fit(i: int) -> None:
                try:
                    estimators[i]._fit_array(checked, X, sw, False, lockstep.member(i))
                except BaseException as err:
                    errors[i], failures[i] = f"{type(err).__name__}: {err}", err
                finally:
                    lockstep.leave(i)

            threads = [threading.Thread(target=fit, args=(i,)) for i in range(len(estimators))]
            started = 0
            try:
                for t in threads:
                    t.start()
                    started += 1
            finally:
                for i in range(started, len(threads)):  # never started: not waited for
                    lockstep.leave(i)
                for t in threads[:started]:
                    t.join()
            for failure in failures:  # a crash (a lost read, a bug) is not a candidate's fit
                if failure is not None and not isinstance(failure, _FIT_ERRORS):
                    raise failure
            if all(f is not None for f in failures):
                raise failures[0]
            criteria = _criteria(estimators, errors, checked, sw, client)
        finally:
            passes.close()
    fitted = [None if e is not None else est for est, e in zip(estimators, errors, strict=True)]
    return fitted, errors, lockstep.n_passes, criteria


def _criteria(estimators, errors, X, sample_weight, client) -> list[tuple[float, float] | None]:
    """BIC and AIC of every fitted candidate: for dask input, all in one computation (one
    read of each chunk); each by the arithmetic of its own ``bic``."""
    sums = [
        est._score_sums(X, sample_weight) if err is None else None
        for est, err in zip(estimators, errors, strict=True)
    ]
    lazy = [(i, s) for i, s in enumerate(sums) if s is not None and _is_lazy(s)]
    if lazy:
        # the weights' sum too: lazy under nan_policy='omit' (the rows not left out)
        parts = [da.stack([da.asarray(v, dtype=np.float64) for v in s]) for _, s in lazy]
        stacked = da.stack(parts)
        done = compute(client, stacked) if client is not None else stacked.compute()
        for (i, _), (total, scaled, weight) in zip(lazy, done, strict=True):
            sums[i] = (total, scaled, weight)
    out: list[tuple[float, float] | None] = []
    for est, s in zip(estimators, sums, strict=True):
        if s is None:
            out.append(None)
            continue
        total, scaled, weight = s
        out.append(est._criteria(float(total) / float(scaled), float(weight)))
    return out


def _is_lazy(sums) -> bool:
    return isinstance(sums[0], da.Array) or isinstance(sums[1], da.Array)
