"""Count columns, independent Poisson given the component: ``rates_`` ``(K, D)``.

``log p(x | k) = Σ_d x_d log λ_kd - Σ_d λ_kd - Σ_d log x_d!``: one matrix product against
``log λ`` (``0 log 0 = 0``: a rate of 0 is the maximum likelihood of a column a component
only holds zeros of), a per-component constant and a per-row one.

Under ``nan_policy='marginalize'`` (``marginal=True``) a missing count adds no factor: its
view is 0 (no ``x log λ``, no ``log x!``) and its rate is added back to the constant
(``λ @ missing``); the moments gain each column's weight of missing entries, so a column's
rate is ``Σ r x / Σ r [x observed]``. A block without NaN leaves that weight 0: the same
sums, and rates, as ``marginal=False``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from ._dotterm import CountTerm
from ._logdot import add_log_dot, log_matrix

__all__ = ["PoissonTerm"]


@dataclass(frozen=True, slots=True)
class PoissonTerm(CountTerm):
    """Count columns ``columns``. ``alpha``: the rates are ``(Σ r x + alpha) / (Σ r +
    alpha)``, the mode of a Gamma(1 + alpha, alpha) prior (0: maximum likelihood)."""

    columns: tuple[int, ...]
    alpha: float = 0.0
    marginal: bool = False
    """Missing entries (NaN) are marginalised (``nan_policy='marginalize'``)."""
    kind = "poisson"

    def row_const(self, view) -> np.ndarray:
        x = view.x if isinstance(view, _Missing) else view
        return -gammaln(x + 1.0).sum(axis=1)

    def masked_view(self, block: np.ndarray, origin: np.ndarray, store: dict, missing):
        """The counts, 0 where missing, and the missing entries' 0/1 mask (a plain view
        when none of the columns misses a value)."""
        mine = missing[:, self.columns]
        if not mine.any():
            return self.view(block, origin, store)
        return _Missing(np.where(mine, 0.0, block[:, self.columns]), mine.astype(np.float64))

    def log_prob(self, view, mats, out: np.ndarray, tmp: np.ndarray, work: np.ndarray) -> None:
        if not isinstance(view, _Missing):
            add_log_dot(mats[:2], view, out, tmp)
            return
        add_log_dot(mats[:2], view.x, out, tmp)
        np.matmul(mats[2], view.missing.T, out=tmp)  # a missing count's -λ given back
        out += tmp

    def new_acc(self, n_components: int) -> list:
        acc = [np.zeros((n_components, self.width))]
        return [*acc, np.zeros((n_components, self.width))] if self.marginal else acc

    def accumulate(self, view, resp, shift, acc: list, work: np.ndarray) -> None:
        if not isinstance(view, _Missing):
            acc[0] += resp @ view
            return
        acc[0] += resp @ view.x
        acc[1] += resp @ view.missing

    def finish(self, acc: list, nk: np.ndarray, shift) -> tuple:
        """``(Σ r x, Σ r)``, and with ``marginal`` the weight ``Σ r [x missing]`` of each
        column's missing entries."""
        return (acc[0], nk.copy(), *acc[1:])

    def prepare(self, rates: np.ndarray, origin: np.ndarray):
        mats = log_matrix(rates)
        if self.marginal:
            mats = (*mats, np.ascontiguousarray(rates, dtype=np.float64))
        return mats, -rates.sum(axis=1), None

    def m_step(self, moments: tuple, nk: np.ndarray, previous: np.ndarray, origin) -> np.ndarray:
        sums = moments[0]
        total = _observed(moments) + self.alpha
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = (sums + self.alpha) / total
        return np.where(total > 0, rates, previous)

    def n_parameters(self, n_components: int) -> int:
        return n_components * self.width

    def random_start(
        self, rng: np.random.Generator, moments: tuple, nk: np.ndarray, n_components: int, origin
    ):
        """The data's mean counts (over each column's observed entries), each times an
        exponential draw."""
        sums, observed = moments[0][0], _observed(moments)[0]
        if len(moments) == 2:  # today's arithmetic, bit for bit
            means = sums / observed[0] if observed[0] > 0 else np.zeros(self.width)
        else:
            means = np.divide(sums, observed, out=np.zeros(self.width), where=observed > 0)
        return means * rng.standard_exponential((n_components, self.width))

    def sample(self, rates: np.ndarray, rng, y: np.ndarray, out: np.ndarray) -> None:
        out[:, list(self.columns)] = rng.poisson(rates[y]).astype(np.float64)

    def array_shapes(self, n_components: int) -> dict[str, tuple]:
        return {"rates": (n_components, self.width)}

    def to_arrays(self, rates: np.ndarray) -> dict[str, np.ndarray]:
        return {"rates": rates}

    def from_arrays(self, arrays: dict, fail: Callable[[str], Exception], prefix: str = ""):
        rates = arrays["rates"]
        if not np.isfinite(rates).all() or (rates < 0).any():
            raise fail(f"array {prefix + 'rates'!r} holds values that are not finite rates >= 0")
        return rates


@dataclass(frozen=True, slots=True, eq=False)
class _Missing:
    """A block's counts with missing entries: ``x`` (0 where missing) and ``missing``."""

    x: np.ndarray
    missing: np.ndarray


def _observed(moments: tuple) -> np.ndarray:
    """Each component's weight of observed entries: ``(K, 1)`` (every entry observed) or
    ``(K, D)`` (less each column's missing weight)."""
    counts = moments[1][:, None]
    return counts if len(moments) == 2 else counts - moments[2]
