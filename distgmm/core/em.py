"""The EM loop, independent of where the data lives.

:func:`run_em` fits a batch of models (``n_init`` restarts, or any candidates) with one call
of ``run_pass`` per iteration: every model still iterating gets its statistics from the same
read of the data. Each model has its family (the M-step and the bound it climbs); nothing
here names a distribution or imports dask; ``run_pass`` is the engine's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._scale import overflow_message
from ..errors import InvalidInputError
from .family import Family, PassModel
from .summary import Summary

__all__ = ["EMProgress", "EMResult", "IterationReport", "best_result", "check_stats", "run_em"]

logger = logging.getLogger(__name__)

RunPass = Callable[[Sequence[PassModel]], list[Summary]]


@dataclass(slots=True)
class EMResult:
    """The outcome of fitting one model."""

    params: Any
    """The family's parameters."""
    lower_bounds: list[float] = field(default_factory=list)
    """The bound of each iteration (the family's: for EM the mean log-likelihood of the
    parameters entering it, for variational Bayes the ELBO after its M-step)."""
    n_iter: int = 0
    converged: bool = False
    n_omitted: int = 0
    """Rows its last pass left out (``nan_policy='omit'``)."""
    n_empty: int = 0
    """Rows of its last pass with every entry missing."""

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


def check_stats(stats: Summary) -> None:
    """Raise the input error a pass folded into its statistics (NaN, inf or overflow)."""
    if stats.n_nonfinite:
        raise InvalidInputError(
            f"Input X contains NaN or infinity in {stats.n_nonfinite} of {stats.n_rows} rows. "
            "Remove or impute those rows before fitting; for NaN, fit with nan_policy="
            "'marginalize' (a missing entry) or 'omit'. Infinity is an error under every policy."
        )
    if stats.n_overflow:
        raise InvalidInputError(overflow_message(f"{stats.n_overflow} of {stats.n_rows} rows"))
    if stats.unobserved:
        column = (stats.unobserved & -stats.unobserved).bit_length() - 1
        raise InvalidInputError(
            f"Column {column} of X has no observed value: it is missing (NaN) in every row, "
            "so there is nothing to fit it to. Drop that column."
        )
    if stats.n_empty and not stats.n_omitted:
        total = stats.n_rows + stats.n_empty
        raise InvalidInputError(
            f"Input X has every entry missing (NaN) in {stats.n_empty} of {total} rows, the "
            f"first row {stats.first_empty}: such a row has no likelihood to marginalise. "
            "Drop those rows, or use nan_policy='omit'."
        )
    if stats.n_omitted and not stats.n_rows:
        raise InvalidInputError(
            f"Every row of X ({stats.n_omitted}) holds a missing entry (NaN), and "
            "nan_policy='omit' leaves them all out: nothing is left to fit. Use "
            "nan_policy='marginalize'."
        )
    if stats.n_impossible:
        raise InvalidInputError(
            f"{stats.n_impossible} of {stats.n_rows} rows have probability 0 under every "
            "component: they hold a value no component can produce (a model fitted with "
            "alpha=0 gives probability 0 to what its data never showed). Use alpha > 0, "
            "or drop those rows."
        )


def best_result(results: Sequence[EMResult], max_iter: int) -> EMResult:
    """scikit-learn's rule: the first restart with the highest final bound (the last one
    when no iteration ran)."""
    if max_iter == 0:
        return results[-1]
    best = results[0]
    for result in results[1:]:
        if result.lower_bound > best.lower_bound:
            best = result
    return best


def run_em(
    run_pass: RunPass,
    families: Family | Sequence[Family],
    inits: Sequence[Any],
    origin: np.ndarray,
    *,
    tol: float,
    max_iter: int,
    lower_bound: float = -np.inf,
    on_iteration: Callable[[IterationReport], None] | None = None,
    progress: EMProgress | None = None,
    on_progress: Callable[[EMProgress], None] | None = None,
) -> list[EMResult]:
    """Run EM on a batch of models until each converges or ``max_iter`` passes are done.

    Parameters
    ----------
    run_pass : callable
        ``run_pass(models) -> list[Summary]``: one pass over the data for a batch.
    families : Family or sequence of Family
        The family of every model (one for all, or one per model): its pass model, M-step
        and bound.
    inits : sequence
        Starting parameters, one per model.
    origin : ndarray of shape (n_features,)
        The fixed origin the data are shifted to in every pass.
    tol : float
        Convergence threshold on the change of the bound.
    max_iter : int
        Maximum number of passes.
    lower_bound : float
        Bound before the first iteration (the previous fit's, for a warm start).
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
        its bounds are the family's of each iteration. A model's arithmetic depends on its
        own family and parameters only, never on the other models of the batch.
    """
    if progress is None:
        progress = EMProgress(0, [EMResult(p) for p in inits], [lower_bound] * len(inits))
    results, previous = progress.results, progress.previous
    if not isinstance(families, Sequence):
        families = [families] * len(results)
    active = [i for i, result in enumerate(results) if not result.converged]
    # What a progress display needs (distgmm.progress.ProgressBar), on the records.
    batch = {"em_max_iter": max_iter, "em_n_models": len(results)}
    logger.info(
        "EM of %d model(s) from iteration %d to at most %d",
        len(active),
        progress.iteration + 1,
        max_iter,
        extra={**batch, "em_start": progress.iteration, "em_iterating": len(active)},
    )
    for iteration in range(progress.iteration + 1, max_iter + 1):
        if not active:
            break
        start = time.perf_counter()
        summaries = run_pass([families[i].prepare(results[i].params, origin) for i in active])
        bounds, changes, done = [], [], []
        for i, summary in zip(active, summaries, strict=True):
            check_stats(summary)
            result, family = results[i], families[i]
            result.params = family.m_step(summary, result.params, origin)
            result.n_omitted, result.n_empty = summary.n_omitted, summary.n_empty
            bound = family.bound(summary, result.params)
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
            extra={**batch, "em_report": report},
        )
        if on_iteration is not None:
            on_iteration(report)
        active = [i for i in active if i not in done]
        progress.iteration = iteration
        if on_progress is not None:
            on_progress(progress)
    return results
