"""Binary (0/1) columns: per component, the probability of a 1 in each column.

The view is ``[x, 1 - x]`` side by side, so the E-step is the categorical one with two
levels (one matrix product, ``0 log 0 = 0``), and the statistics count the ones and zeros of
each column separately (a column's total is then its own: a missing entry, 0 in both halves
of its view, counts in neither).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._dotterm import DotTerm
from ._logdot import log_matrix
from .categorical import check_probabilities

__all__ = ["BernoulliTerm"]


@dataclass(frozen=True, slots=True)
class BernoulliTerm(DotTerm):
    """0/1 columns ``columns``; ``alpha`` is added to the count of ones and of zeros."""

    columns: tuple[int, ...]
    alpha: float = 0.0
    kind = "bernoulli"

    @property
    def width(self) -> int:
        return 2 * len(self.columns)

    def view(self, block: np.ndarray, origin: np.ndarray, store: dict) -> np.ndarray:
        n, d = len(block), len(self.columns)
        key = ("bernoulli", self.columns)
        if key not in store:
            store[key] = np.empty((n, 2 * d))
        both = store[key][:n]
        both[:, :d] = block[:, self.columns]
        np.subtract(1.0, both[:, :d], out=both[:, d:])
        return both

    def masked_view(self, block: np.ndarray, origin: np.ndarray, store: dict, missing):
        """The view of a block with missing entries (``missing``, the block's NaN mask): 0
        in both halves of a missing entry, so it adds no factor and no count."""
        both = self.view(block, origin, store)
        mine = missing[:, self.columns]
        if mine.any():
            both[np.hstack([mine, mine])] = 0.0
        return both

    def prepare(self, p: np.ndarray, origin: np.ndarray):
        return log_matrix(np.hstack([p, 1.0 - p])), np.zeros(len(p)), None

    def m_step(self, moments: tuple, nk: np.ndarray, previous: np.ndarray, origin) -> np.ndarray:
        """``(ones + alpha) / (ones + zeros + 2 alpha)``; a column a component holds no
        observed value of keeps its probability."""
        d = len(self.columns)
        ones, zeros = moments[0][:, :d], moments[0][:, d:]
        total = ones + zeros + 2.0 * self.alpha
        with np.errstate(invalid="ignore", divide="ignore"):
            p = (ones + self.alpha) / total
        return np.where(total > 0, p, previous)

    def n_parameters(self, n_components: int) -> int:
        return n_components * len(self.columns)

    def random_start(
        self, rng: np.random.Generator, moments: tuple, nk: np.ndarray, n_components: int, origin
    ):
        """The data's frequencies of ones and zeros each times an exponential draw.

        The draws are laid out as the categorical term's of two levels (per column: the
        zeros', then the ones'), so that a Bernoulli and a categorical model of the same
        0/1 columns start, and fit, alike for one seed."""
        d = len(self.columns)
        draws = rng.standard_exponential((n_components, d, 2))
        ones, zeros = moments[0][0][:d] * draws[:, :, 1], moments[0][0][d:] * draws[:, :, 0]
        total = zeros + ones
        return np.where(total > 0, ones / np.where(total > 0, total, 1.0), 0.5)

    def sample(self, p: np.ndarray, rng, y: np.ndarray, out: np.ndarray) -> None:
        u = rng.random((len(y), len(self.columns)))
        out[:, list(self.columns)] = (u < p[y]).astype(np.float64)

    def array_shapes(self, n_components: int) -> dict[str, tuple]:
        return {"probabilities": (n_components, len(self.columns))}

    def to_arrays(self, p: np.ndarray) -> dict[str, np.ndarray]:
        return {"probabilities": p}

    def from_arrays(self, arrays: dict, fail: Callable[[str], Exception], prefix: str = ""):
        check_probabilities(arrays["probabilities"], fail, f"{prefix}probabilities")
        return arrays["probabilities"]
