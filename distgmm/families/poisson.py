"""Count columns, independent Poisson given the component: ``rates_`` ``(K, D)``.

``log p(x | k) = Σ_d x_d log λ_kd - Σ_d λ_kd - Σ_d log x_d!``: one matrix product against
``log λ`` (``0 log 0 = 0``: a rate of 0 is the maximum likelihood of a column a component
only holds zeros of), a per-component constant and a per-row one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

from ._dotterm import CountTerm
from ._logdot import log_matrix

__all__ = ["PoissonTerm"]


@dataclass(frozen=True, slots=True)
class PoissonTerm(CountTerm):
    """Count columns ``columns``. ``alpha``: the rates are ``(Σ r x + alpha) / (Σ r +
    alpha)``, the mode of a Gamma(1 + alpha, alpha) prior (0: maximum likelihood)."""

    columns: tuple[int, ...]
    alpha: float = 0.0
    kind = "poisson"

    def row_const(self, view: np.ndarray) -> np.ndarray:
        return -gammaln(view + 1.0).sum(axis=1)

    def prepare(self, rates: np.ndarray, origin: np.ndarray):
        return log_matrix(rates), -rates.sum(axis=1), None

    def m_step(self, moments: tuple, nk: np.ndarray, previous: np.ndarray, origin) -> np.ndarray:
        sums, counts = moments
        total = counts[:, None] + self.alpha
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = (sums + self.alpha) / total
        return np.where(total > 0, rates, previous)

    def n_parameters(self, n_components: int) -> int:
        return n_components * self.width

    def random_start(
        self, rng: np.random.Generator, moments: tuple, nk: np.ndarray, n_components: int, origin
    ):
        """The data's mean counts, each times an exponential draw."""
        sums, counts = moments
        means = sums[0] / counts[0] if counts[0] > 0 else np.zeros(self.width)
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
