"""The EM loop, independent of where the data lives.

:func:`run_em` fits a batch of models (``n_init`` restarts, or any candidates) with one call
of ``run_pass`` per iteration: every model still iterating gets its statistics from the same
read of the data. Nothing here imports dask; ``run_pass`` is the engine's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import kernels
from ._scale import overflow_message
from .errors import EmptyComponentError, InvalidInputError
from .kernels.chunk import PassModel, prepare_em
from .params import GaussianParams
from .stats import Stats

__all__ = ["EMProgress", "EMResult", "IterationReport", "check_stats", "m_step", "run_em"]

logger = logging.getLogger(__name__)

_EPS = np.finfo(np.float64).eps
# A component whose soft count is this small relative to the total carries no information:
# its mean is a ratio of rounding errors.
_EMPTY = 100 * _EPS

RunPass = Callable[[Sequence[PassModel]], list[Stats]]


@dataclass(slots=True)
class EMResult:
    """The outcome of fitting one model."""

    params: GaussianParams
    lower_bounds: list[float] = field(default_factory=list)
    """Mean log-likelihood of the parameters entering each iteration."""
    n_iter: int = 0
    converged: bool = False

    @property
    def lower_bound(self) -> float:
        return self.lower_bounds[-1] if self.lower_bounds else -np.inf


@dataclass(slots=True)
class EMProgress:
    """Where a batch of fits stands after an iteration: all it takes to continue it."""

    iteration: int
    """Iterations done (0: just initialised)."""
    results: list[EMResult]
    previous: list[float]
    """Each model's last lower bound, the reference of its next convergence test."""


@dataclass(frozen=True, slots=True)
class IterationReport:
    """Progress of one EM iteration, handed to the ``on_iteration`` callback."""

    iteration: int
    models: tuple[int, ...]
    """Indices (in the batch) of the models updated by this pass."""
    lower_bounds: tuple[float, ...]
    changes: tuple[float, ...]
    seconds: float
    converged: tuple[int, ...]
    """Models that converged at this iteration."""


def check_stats(stats: Stats) -> None:
    """Raise the input error a pass folded into its statistics (NaN, inf or overflow)."""
    if stats.n_nonfinite:
        raise InvalidInputError(
            f"Input X contains NaN or infinity in {stats.n_nonfinite} of {stats.n_rows} rows. "
            "Remove or impute those rows before fitting."
        )
    if stats.n_overflow:
        raise InvalidInputError(overflow_message(f"{stats.n_overflow} of {stats.n_rows} rows"))


def m_step(
    stats: Stats, shift: np.ndarray, covariance_type: str, reg_covar: float, origin: np.ndarray
) -> GaussianParams:
    """Parameters maximising the expected log-likelihood given the statistics.

    Parameters
    ----------
    stats : Stats
        Moments taken about ``shift``.
    shift : ndarray of shape (n_components, n_features)
        The per-component origin of the moments (the previous means).
    covariance_type : str
    reg_covar : float
        Added to the covariances' diagonal.
    origin : ndarray of shape (n_features,)
        The pass origin: variances tiny against the moments about it are rounding residue.

    Returns
    -------
    GaussianParams

    Raises
    ------
    EmptyComponentError
        A component's soft count is numerically zero.
    SingularCovarianceError
        A covariance is not positive definite even with ``reg_covar``.
    """
    empty = np.flatnonzero(~(stats.nk > _EMPTY * stats.weight))
    if empty.size:
        raise EmptyComponentError(int(empty[0]), float(stats.nk[empty[0]]))
    nk = stats.nk + 10 * _EPS  # as scikit-learn, so results agree to the last digits
    d = stats.sx / nk[:, None]
    means = shift + d
    covariances = kernels.get(covariance_type).covariances(
        nk, d, stats.sxx, reg_covar, (means - origin) ** 2
    )
    return GaussianParams.from_covariances(covariance_type, nk / nk.sum(), means, covariances)


def run_em(
    run_pass: RunPass,
    inits: Sequence[GaussianParams],
    origin: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    reg_covar: float,
    lower_bound: float = -np.inf,
    on_iteration: Callable[[IterationReport], None] | None = None,
    progress: EMProgress | None = None,
    on_progress: Callable[[EMProgress], None] | None = None,
) -> list[EMResult]:
    """Run EM on a batch of models until each converges or ``max_iter`` passes are done.

    Parameters
    ----------
    run_pass : callable
        ``run_pass(models) -> list[Stats]``: one pass over the data for a batch.
    inits : sequence of GaussianParams
        Starting parameters, one per model.
    origin : ndarray of shape (n_features,)
        The fixed origin the data are shifted to in every pass.
    tol : float
        Convergence threshold on the change of the mean log-likelihood.
    max_iter : int
        Maximum number of passes.
    reg_covar : float
        Added to the covariances' diagonal.
    lower_bound : float
        Lower bound before the first iteration (the previous fit's, for a warm start).
    on_iteration : callable, optional
        Called with an :class:`IterationReport` after every pass.
    progress : EMProgress, optional
        Continue from here (e.g. a checkpoint) instead of ``inits`` and ``lower_bound``;
        the iterations go on from ``progress.iteration + 1`` to ``max_iter`` and give
        exactly the results of an uninterrupted run.
    on_progress : callable, optional
        Called with the :class:`EMProgress` after every pass (to save a checkpoint).

    Returns
    -------
    list of EMResult
        In the order of ``inits``. Each model's parameters are those after its last M-step;
        its lower bounds are those of the parameters entering each iteration, as in
        scikit-learn.
    """
    if progress is None:
        progress = EMProgress(0, [EMResult(p) for p in inits], [lower_bound] * len(inits))
    results, previous = progress.results, progress.previous
    active = [i for i, result in enumerate(results) if not result.converged]
    for iteration in range(progress.iteration + 1, max_iter + 1):
        if not active:
            break
        start = time.perf_counter()
        all_stats = run_pass([prepare_em(results[i].params, origin) for i in active])
        bounds, changes, done = [], [], []
        for i, stats in zip(active, all_stats, strict=True):
            check_stats(stats)
            result = results[i]
            bound = stats.mean_loglik
            result.params = m_step(
                stats, result.params.means, result.params.covariance_type, reg_covar, origin
            )
            result.lower_bounds.append(bound)
            result.n_iter = iteration
            change = bound - previous[i]
            previous[i] = bound
            bounds.append(bound)
            changes.append(change)
            if abs(change) < tol:
                result.converged = True
                done.append(i)
        report = IterationReport(
            iteration,
            tuple(active),
            tuple(bounds),
            tuple(changes),
            time.perf_counter() - start,
            tuple(done),
        )
        logger.info(
            "iteration %d: lower bound %s, change %s, %.3f s",
            iteration,
            ", ".join(f"{b:.6f}" for b in bounds),
            ", ".join(f"{c:.3e}" for c in changes),
            report.seconds,
        )
        if on_iteration is not None:
            on_iteration(report)
        active = [i for i in active if i not in done]
        progress.iteration = iteration
        if on_progress is not None:
            on_progress(progress)
    return results
