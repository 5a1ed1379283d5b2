"""``nan_policy='omit'`` for any family: rows holding a missing entry (NaN) are left out.

The kernel of the family is wrapped: a block without NaN is the family's own view, so its
arithmetic is unchanged; in a block with NaN, those rows are given the pass origin's values
(any value the family can read would do) and :meth:`OmitRows.skipped_rows` tells the chunk
pass to give them no weight and count them in ``Summary.n_omitted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .family import Kernel

__all__ = ["NAN_POLICIES", "UNOBSERVED", "OmitRows", "Wrapper", "note_unobserved"]

#: 'raise': a NaN is an input error (scikit-learn's behaviour); 'marginalize': a NaN is a
#: missing entry, each row's likelihood is over its observed entries; 'omit': rows with a
#: NaN are left out of fits and get no prediction.
NAN_POLICIES = ("raise", "marginalize", "omit")


#: Key of a chunk's store where a marginalising kernel's views note, as bits (bit j: column
#: j), the columns missing in every row seen so far (Summary.unobserved).
UNOBSERVED = "unobserved columns"


def note_unobserved(store: dict, missing: np.ndarray) -> None:
    """Note in ``store`` the columns of a block missing in all its rows (``missing``: the
    block's NaN mask), intersected with the earlier blocks'."""
    seen = store.get(UNOBSERVED, -1)
    if seen == 0:  # a column of every block is observed somewhere: nothing left to learn
        return
    if missing.any():
        bits = np.packbits(missing.all(axis=0), bitorder="little").tobytes()
        seen &= int.from_bytes(bits, "little")
    else:
        seen = 0
    store[UNOBSERVED] = seen


class Wrapper:
    """What a kernel of a missing-value policy forwards to the family's kernel ``base``
    unchanged: its block size, scratch, accumulator and summary."""

    __slots__ = ()
    base: Kernel

    def block_rows(self, n_components: int, n_features: int) -> int:
        return self.base.block_rows(n_components, n_features)

    def work_size(self, n_components: int, n_features: int, block_rows: int) -> int:
        return self.base.work_size(n_components, n_features, block_rows)

    def new_acc(self, model, n_features: int):
        return self.base.new_acc(model, n_features)

    def finish(self, acc, model, totals: dict):
        return self.base.finish(acc, model, totals)


@dataclass(frozen=True, slots=True)
class _Omitted:
    """A block with rows left out: the family's view of the filled block, and the rows."""

    base: Any
    skip: np.ndarray
    empty: np.ndarray


@dataclass(frozen=True, slots=True)
class OmitRows(Wrapper):
    """``base``, leaving out the rows of a block that hold NaN."""

    base: Kernel
    nan_policy = "omit"

    @property
    def view_key(self):
        return ("omit", self.base.view_key)

    @property
    def zero_likelihood(self) -> bool:
        return getattr(self.base, "zero_likelihood", False)

    def view(self, block: np.ndarray, origin: np.ndarray, store: dict, fast: bool = True):
        missing = np.isnan(block)
        if not missing.any():
            return self.base.view(block, origin, store, fast)
        # A row holding an infinity is kept as it is, to be reported (an error under every
        # policy); the rows left out read as the origin, so they reach no sum.
        skip = missing.any(axis=1) & ~np.isinf(block).any(axis=1)
        filled = np.where(skip[:, None], np.broadcast_to(origin, block.shape), block)
        view = self.base.view(filled.astype(block.dtype, copy=False), origin, store, fast)
        return _Omitted(view, skip, missing.all(axis=1))

    def skipped_rows(self, view) -> tuple[np.ndarray, np.ndarray] | None:
        return (view.skip, view.empty) if isinstance(view, _Omitted) else None

    def nonfinite_rows(self, view) -> int:
        return self.base.nonfinite_rows(_inner(view))

    def log_prob(self, view, model, out: np.ndarray, work: np.ndarray) -> None:
        self.base.log_prob(_inner(view), model, out, work)

    def accumulate(self, view, resp, model, acc, work) -> None:
        self.base.accumulate(_inner(view), resp, model, acc, work)


def _inner(view):
    return view.base if isinstance(view, _Omitted) else view
