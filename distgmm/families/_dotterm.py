"""The worker side shared by the discrete terms: a view that is a matrix of indicators or
counts, log-densities by one product with the log-probabilities, moments by one product of
the responsibilities with the view."""

from __future__ import annotations

import numpy as np

from ._logdot import add_log_dot

__all__ = ["CountTerm", "DotTerm"]


class DotTerm:
    """A term whose view ``V`` (n, width) gives ``log p(x | k) = log(P) @ V.T`` and whose
    moments are ``resp @ V`` (subclasses: frozen dataclasses with ``kind``, ``columns``,
    ``width`` and ``view``)."""

    __slots__ = ()

    def structure(self) -> tuple:
        return (self.kind, self.columns)

    def work_width(self, n_components: int) -> int:
        return 0

    def row_const(self, view) -> np.ndarray | None:
        return None

    def log_prob(self, view, mats, out: np.ndarray, tmp: np.ndarray, work: np.ndarray) -> None:
        add_log_dot(mats, view, out, tmp)

    def new_acc(self, n_components: int) -> list:
        return [np.zeros((n_components, self.width))]

    def accumulate(self, view, resp, shift, acc: list, work: np.ndarray) -> None:
        acc[0] += resp @ view

    def finish(self, acc: list, nk: np.ndarray, shift) -> tuple:
        return (acc[0],)

    def all_shift(self) -> None:
        return None


class CountTerm(DotTerm):
    """A term over count columns read as they are; its moments add the soft counts."""

    __slots__ = ()

    @property
    def width(self) -> int:
        return len(self.columns)

    def view(self, block: np.ndarray, origin: np.ndarray, store: dict) -> np.ndarray:
        return block[:, self.columns]

    def finish(self, acc: list, nk: np.ndarray, shift) -> tuple:
        return (acc[0], nk.copy())
