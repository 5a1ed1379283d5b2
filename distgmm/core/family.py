"""What a mixture family provides to the core: a worker side and a client side.

The core (the fused chunk pass, the EM loop, restart selection) never names a distribution.
A family plugs in with two objects:

* a :class:`Kernel`, shipped to the workers inside every :class:`PassModel`: how a block of
  rows is represented (its *view*, made once per block and shared by every model whose
  kernel has the same ``view_key``), the per-component log-densities of a view, and the
  accumulation of the family's moments into its :class:`~distgmm.core.summary.Summary`;
* a :class:`Family`, on the client: the pass model of some parameters, the M-step from a
  summary, the bound EM climbs, and the start from a first summary.

Families register under a name (:func:`register`, :func:`get`) so that model files and
checkpoints can name theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .summary import Summary

__all__ = ["ASSIGNMENTS", "Family", "Kernel", "PassModel", "get", "register"]

#: How a pass model turns a block into responsibilities: the E-step ('soft'), the most
#: likely component one-hot ('hard', a Lloyd step for a k-means start), uniform draws keyed
#: by row index ('random'), fixed per-row values ('given') or all rows in its one component
#: ('all': the data's own moments).
ASSIGNMENTS = ("soft", "hard", "random", "given", "all")


class Kernel(Protocol):
    """The worker side of a family: numpy only, vectorised over components and rows."""

    view_key: Any
    """Models whose kernels share this key share each block's view."""

    def block_rows(self, n_components: int, n_features: int) -> int:
        """Rows per block: a function of the model alone, so its arithmetic is too."""

    def view(self, block: np.ndarray, origin: np.ndarray, store: dict, fast: bool = True) -> Any:
        """The block as this family reads it; ``store`` keeps reusable buffers per chunk.
        ``fast``: the view may carry a reduced-precision copy for the E-step of a pass
        (predictions ask for none)."""

    def nonfinite_rows(self, view: Any) -> int:
        """Rows of the view holding NaN or infinity."""

    def work_size(self, n_components: int, n_features: int, block_rows: int) -> int:
        """float64 scratch values :meth:`log_prob` and :meth:`accumulate` need."""

    def log_prob(self, view: Any, model: PassModel, out: np.ndarray, work: np.ndarray) -> None:
        """Write the per-component log-densities ``(K, n)`` into ``out``, without
        ``model.const``."""

    def new_acc(self, model: PassModel, n_features: int) -> Any:
        """An empty accumulator of the family's moments."""

    def accumulate(
        self, view: Any, resp: np.ndarray, model: PassModel, acc: Any, work: np.ndarray
    ) -> None:
        """Add the moments of one block weighted by ``resp`` ``(K, n)`` to ``acc``."""

    def finish(self, acc: Any, model: PassModel, totals: dict) -> Summary:
        """The summary: the core's ``totals`` (Summary's fields) and the moments."""

    # A kernel of a missing-value policy (:mod:`distgmm.core.missing`) also has
    # ``nan_policy`` ('marginalize' or 'omit'; 'raise' when absent) and
    # ``skipped_rows(view) -> (skip, empty) | None``: the rows of the block that weigh
    # nothing, and those with every entry missing (the chunk pass counts both).


@dataclass(frozen=True, slots=True, eq=False)
class PassModel:
    """What one model needs for one pass: its kernel, how rows are assigned, its matrices."""

    kernel: Kernel
    assign: str
    """One of :data:`ASSIGNMENTS`."""
    const: np.ndarray
    """Per-component constant added to the kernel's log-densities, ``(K,)`` (log weights,
    normalising constants, variational expectations)."""
    mats: tuple = ()
    """Kernel-specific matrices of the parameters."""
    shift: Any = None
    """Kernel-specific point the moments are taken about (``Summary`` fields marked SHIFT)."""
    seed: int = 0
    """Key of the row-indexed random stream ('random' only)."""
    given: np.ndarray | None = None
    """'given' only: each row's responsibilities ``(n_samples, K)``, or its component
    ``(n_samples,)`` (one-hot), indexed by global row. Held in memory, so for in-process
    passes over numpy data only."""
    entropy: bool = False
    """Accumulate the entropy of the responsibilities (a variational bound needs it)."""

    @property
    def n_components(self) -> int:
        return len(self.const)


class Family(Protocol):
    """The client side of a family, configured for one fit (covariance type, priors, ...)."""

    name: str

    def prepare(self, params: Any, origin: np.ndarray) -> PassModel:
        """The E-step pass model of ``params``."""

    def m_step(self, summary: Summary, params: Any, origin: np.ndarray) -> Any:
        """New parameters from the summary of a pass made with ``params``."""

    def bound(self, summary: Summary, params: Any) -> float:
        """What EM climbs, from the pass's summary and the parameters after its M-step."""


_REGISTRY: dict[str, Callable[..., Family]] = {}


def register(name: str, factory: Callable[..., Family]) -> None:
    """Make ``factory(**settings)`` the family called ``name``."""
    _REGISTRY[name] = factory


def get(name: str) -> Callable[..., Family]:
    """The factory of the family registered as ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown mixture family {name!r}; known: {sorted(_REGISTRY)}") from None
