"""The product family's kernel under ``nan_policy='marginalize'``: a missing entry (NaN in the
model's array) adds no factor to its row's likelihood and nothing to its column's moments
(poLCA's ``na.rm=FALSE``; the Gaussian group's marginal density and conditional moments).

A block without NaN is :class:`~.mixed.ProductKernel`'s own view and arithmetic, bit for
bit. In a block with NaN, every group reads its columns through ``masked_view(block,
origin, store, missing)``: categorical codes NaN have no 1 in the one-hot, Bernoulli
entries are 0 in both halves, Poisson counts are 0 with their rate given back, Gaussian
columns are the marginal kernel's masked block. A row with every model column missing has
no likelihood: :meth:`MarginalProductKernel.skipped_rows` reports it, and the core refuses
it (naming the row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.family import PassModel
from ..core.missing import Wrapper, note_unobserved
from .mixed import ProductKernel

__all__ = ["MarginalProductKernel"]


@dataclass(frozen=True, slots=True)
class _MaskedBlock:
    """A block with missing entries: each group's view, the per-row constant, the rows
    with every entry missing and the rows holding an infinity."""

    views: tuple
    row_const: np.ndarray | None
    empty: np.ndarray
    n_inf: int


@dataclass(frozen=True, slots=True)
class MarginalProductKernel(Wrapper):
    """:class:`~.mixed.ProductKernel` of the same groups (made with ``marginal=True``),
    marginal over missing entries."""

    terms: tuple
    nan_policy = "marginalize"
    zero_likelihood = True

    @property
    def base(self) -> ProductKernel:
        return ProductKernel(self.terms)

    @property
    def view_key(self) -> tuple:
        return ("marginal", self.base.view_key)

    def view(self, block: np.ndarray, origin: np.ndarray, store: dict, fast: bool = True):
        block = np.asarray(block, dtype=np.float64)
        missing = np.isnan(block)
        note_unobserved(store, missing)
        if not missing.any():
            return self.base.view(block, origin, store, fast)
        views = tuple(t.masked_view(block, origin, store, missing) for t in self.terms)
        row_const = None
        for term, view in zip(self.terms, views, strict=True):
            c = term.row_const(view)
            if c is not None:
                row_const = c if row_const is None else row_const + c
        empty = missing.all(axis=1)
        return _MaskedBlock(views, row_const, empty, int(np.isinf(block).any(axis=1).sum()))

    def skipped_rows(self, view) -> tuple[np.ndarray, np.ndarray] | None:
        if isinstance(view, _MaskedBlock) and view.empty.any():
            return view.empty, view.empty
        return None

    def nonfinite_rows(self, view) -> int:
        if isinstance(view, _MaskedBlock):
            return view.n_inf
        return self.base.nonfinite_rows(view)

    def log_prob(self, view, model: PassModel, out: np.ndarray, work: np.ndarray) -> None:
        if isinstance(view, _MaskedBlock):
            view = (None, view.views, view.row_const)
        self.base.log_prob(view, model, out, work)

    def accumulate(self, view, resp, model: PassModel, acc, work) -> None:
        views = view.views if isinstance(view, _MaskedBlock) else view[1]
        for i, (term, v, a) in enumerate(zip(self.terms, views, acc, strict=True)):
            shift = model.shift[i]
            marginal = getattr(term, "accumulate_marginal", None)
            if marginal is None:
                term.accumulate(v, resp, shift, a, work)
            else:
                marginal(v, resp, shift, model.mats[i], model.assign, a, work)
