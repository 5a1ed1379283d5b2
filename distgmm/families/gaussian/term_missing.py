"""The Gaussian group of a product mixture under ``nan_policy='marginalize'``.

The group's columns of a block with missing entries are read by
:class:`~.missing.MarginalGaussianKernel` itself (its view, E-step and moments, every
covariance type), through a pass model of the group made at ``prepare``: each row's density
is over its observed entries, the moments add the conditional means and covariances of its
missing ones. A row whose group entries are all missing (its other groups observed) takes
no factor from the group, and its moments are the component's mean and covariance. A block
whose group columns hold no NaN is the term's own view and arithmetic, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.family import PassModel
from .missing import MarginalGaussianKernel, marginal_mats

__all__ = ["GaussianMats", "accumulate_masked", "log_prob", "masked_view", "prepare"]


@dataclass(frozen=True, slots=True, eq=False)
class GaussianMats:
    """A marginal group's pass matrices: ``full`` the covariance type's (a block without
    NaN), ``model`` the marginal kernel's pass model of the group, ``covariances`` the
    components' (the moments of a row missing the whole group)."""

    full: tuple
    model: PassModel
    covariances: np.ndarray


@dataclass(frozen=True, slots=True, eq=False)
class _GroupView:
    """The marginal kernel's view of the group's columns of a block with NaN, and the
    rows missing all of them (None: no such row)."""

    view: object
    empty: np.ndarray | None


def _kernel(term) -> MarginalGaussianKernel:
    return MarginalGaussianKernel(term.covariance_type, term.covariance_type)


def prepare(term, mats, const: np.ndarray, means_s: np.ndarray, params) -> GaussianMats:
    k, d = means_s.shape
    marginal = marginal_mats(term.covariance_type, params.precisions_chol, k, d)
    model = PassModel(_kernel(term), "soft", const, (mats, marginal), means_s)
    return GaussianMats(mats, model, params.covariances)


def masked_view(term, block: np.ndarray, origin: np.ndarray, store: dict, missing):
    """The group's view: :meth:`GaussianTerm.view` without NaN in its columns, else the
    marginal kernel's view of them."""
    columns = list(term.columns)
    if not missing[:, columns].any():
        return term.view(block, origin, store)
    kernel = _kernel(term)
    origin = np.asarray(origin, dtype=np.float64)[columns]
    # The group's own store: its columns are not the block's (notes, factors).
    own = store.setdefault(("gaussian group", term.columns), {})
    view = kernel.view(np.ascontiguousarray(block[:, columns]), origin, own, False)
    skipped = kernel.skipped_rows(view)
    return _GroupView(view, None if skipped is None else skipped[1])


def log_prob(term, view, mats: GaussianMats, out, tmp, work) -> None:
    """Add the group's (marginal) log-densities, less the constant, to ``out``."""
    if not isinstance(view, _GroupView):
        term._cov().neg_half_maha(view, mats.full, tmp, work)
        out += tmp
        return
    _kernel(term).log_prob(view.view, mats.model, tmp, work)
    if view.empty is not None:  # no entry of the group: no factor (the constant taken back)
        tmp[:, view.empty] = -mats.model.const[:, None]
    out += tmp


def accumulate_masked(term, view: _GroupView, resp, shift, mats, assign: str, acc, work) -> None:
    """Add the group's moments of a block with NaN: missing entries completed by their
    conditional means (the shift, for a pass without densities) and, for an E-step, their
    conditional covariances added to the scatter."""
    if assign == "soft":
        model = mats.model
    else:
        model = PassModel(_kernel(term), assign, np.zeros(len(shift)), (), shift)
    _kernel(term).accumulate(view.view, resp, model, acc, work)
    if assign != "soft" or view.empty is None or term.covariance_type in ("diag", "spherical"):
        return  # the diagonal types count every missing entry's variance already
    weights = resp[:, view.empty].sum(axis=1)  # rows missing the whole group: Σ_k
    scatter = acc[1]
    if term.covariance_type == "tied":
        scatter += weights.sum() * mats.covariances
    else:
        scatter += weights[:, None, None] * mats.covariances
