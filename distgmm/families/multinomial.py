"""Rows of counts over ``D`` categories (a basket, a document): per component, one
distribution over the categories; each row's total is given, not modelled.

``log p(x | k) = log n! - Σ_d log x_d! + Σ_d x_d log p_kd`` with ``n = Σ_d x_d``: one matrix
product and a per-row constant. For :meth:`sample`, the mean total of each component's rows
is kept too (``mean_totals``); drawn totals are Poisson around it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from ..errors import InvalidInputError
from ._dotterm import CountTerm
from ._logdot import log_matrix
from .categorical import check_probabilities

__all__ = ["MISSING_COUNT", "MultinomialParams", "MultinomialTerm"]

#: Why ``nan_policy='marginalize'`` refuses a multinomial group's missing counts.
MISSING_COUNT = (
    "a missing count of a multinomial group cannot be marginalised (a row's counts are one "
    "draw of their total): use nan_policy='omit', which leaves such rows out"
)

_SUM_ATOL = 1e-6


@dataclass(frozen=True, slots=True, eq=False)
class MultinomialParams:
    probabilities: np.ndarray
    """``(K, D)``, each row summing to 1."""
    mean_totals: np.ndarray
    """``(K,)``: the weighted mean count total of each component's rows."""


@dataclass(frozen=True, slots=True)
class MultinomialTerm(CountTerm):
    """Count columns ``columns`` forming one multinomial row; ``alpha`` is added to every
    category's count."""

    columns: tuple[int, ...]
    alpha: float = 0.0
    kind = "multinomial"

    def row_const(self, view: np.ndarray) -> np.ndarray:
        return gammaln(view.sum(axis=1) + 1.0) - gammaln(view + 1.0).sum(axis=1)

    def masked_view(self, block: np.ndarray, origin: np.ndarray, store: dict, missing):
        """A row's counts are one draw of its total: a missing one cannot be marginalised."""
        if missing[:, self.columns].any():
            raise InvalidInputError(MISSING_COUNT)
        return self.view(block, origin, store)

    def prepare(self, params: MultinomialParams, origin: np.ndarray):
        k = len(params.probabilities)
        return log_matrix(params.probabilities), np.zeros(k), None

    def m_step(self, moments: tuple, nk: np.ndarray, previous: MultinomialParams, origin):
        counts, weights = moments
        total = counts.sum(axis=1, keepdims=True) + self.width * self.alpha
        with np.errstate(invalid="ignore", divide="ignore"):
            p = (counts + self.alpha) / total
            totals = counts.sum(axis=1) / weights
        p = np.where(total > 0, p, previous.probabilities)
        totals = np.where(weights > 0, totals, previous.mean_totals)
        return MultinomialParams(p, totals)

    def n_parameters(self, n_components: int) -> int:
        return n_components * (self.width - 1)

    def random_start(
        self, rng: np.random.Generator, moments: tuple, nk: np.ndarray, n_components: int, origin
    ):
        """The data's category frequencies, each times an exponential draw."""
        counts, weights = moments
        draws = counts[0] * rng.standard_exponential((n_components, self.width))
        total = draws.sum(axis=1, keepdims=True)
        p = np.where(total > 0, draws / np.where(total > 0, total, 1.0), 1.0 / self.width)
        mean = counts[0].sum() / weights[0] if weights[0] > 0 else 0.0
        return MultinomialParams(p, np.full(n_components, mean))

    def sample(self, params: MultinomialParams, rng, y: np.ndarray, out: np.ndarray) -> None:
        totals = rng.poisson(params.mean_totals[y])
        for k in np.unique(y):
            rows = np.flatnonzero(y == k)
            draws = rng.multinomial(totals[rows], params.probabilities[k])
            out[np.ix_(rows, list(self.columns))] = draws

    def array_shapes(self, n_components: int) -> dict[str, tuple]:
        return {"probabilities": (n_components, self.width), "mean_totals": (n_components,)}

    def to_arrays(self, params: MultinomialParams) -> dict[str, np.ndarray]:
        return {"probabilities": params.probabilities, "mean_totals": params.mean_totals}

    def from_arrays(self, arrays: dict, fail: Callable[[str], Exception], prefix: str = ""):
        p, totals = arrays["probabilities"], arrays["mean_totals"]
        check_probabilities(p, fail, f"{prefix}probabilities")
        sums = p.sum(axis=1)
        if np.abs(sums - 1.0).max() > _SUM_ATOL:
            raise fail(f"the {prefix}probabilities do not sum to 1 (sums {sums.tolist()!r})")
        if not np.isfinite(totals).all() or (totals < 0).any():
            raise fail(f"array {prefix + 'mean_totals'!r} holds values that are not >= 0")
        return MultinomialParams(p, totals)
