"""Gaussian E-steps and moments of rows with missing entries (``nan_policy='marginalize'``).

A row's likelihood is the marginal density of its observed entries ``o``; the moments add
the conditional expectations of its missing entries ``m`` given them (Ghahramani & Jordan
1994). With the precision ``Λ = Σ⁻¹`` of a component and ``y`` the row minus the mean, zero
where missing, ``g = Λ y`` and ``C = Λ_mm⁻¹`` (the conditional covariance of ``m``):

* Mahalanobis distance of the marginal: ``yᵀ Λ y - g_mᵀ C g_m``;
* ``log det Σ_oo = log det Σ - log det C``: the marginal's normaliser is the full one's
  plus ``-½ log det Λ_mm + ½ |m| log 2π``;
* conditional mean of the missing entries: ``μ_m - C g_m``.

Only ``|m| x |m|`` matrices are factored, once per block, model, component and missingness
pattern (rows grouped by their number of missing entries, then by pattern), never per row.
Diagonal and spherical covariances need no factor: their sums run over the observed
entries by masked matrix products. A block without NaN is :class:`~.kernel.GaussianKernel`'s
own view and arithmetic, bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ...core.family import PassModel
from . import covtypes
from .kernel import GaussianKernel

__all__ = ["MarginalGaussianKernel", "marginal_mats"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_DIAGONAL = ("diag", "spherical")


def marginal_mats(covariance_type: str, precisions_chol, n_components: int, n_features: int):
    """What a marginal E-step reads besides the kernel's matrices: per component, the
    precision matrix ``(K, D, D)`` (full, tied) or its diagonal ``(K, D)`` (diag,
    spherical), and the log of the precision Cholesky factor's diagonal ``(K, D)``."""
    u = np.asarray(precisions_chol, dtype=np.float64)
    k, d = n_components, n_features
    if covariance_type in _DIAGONAL:
        u = np.broadcast_to(u.reshape(k, -1), (k, d))
        return u**2, np.log(u)
    u = np.broadcast_to(u, (k, d, d))
    return np.matmul(u, np.swapaxes(u, 1, 2)), np.log(np.diagonal(u, axis1=1, axis2=2))


@dataclass(slots=True)
class _Masked:
    """A block with missing entries, shifted to the pass origin."""

    x: np.ndarray
    """The shifted block, 0 where missing."""
    missing: np.ndarray
    observed: np.ndarray
    """float64 0/1 masks."""
    n_missing: np.ndarray
    groups: list
    """``(rows, patterns, inverse, columns)`` per number of missing entries ``r`` (0 < r <
    D): the rows, their distinct missing columns ``(P, r)``, each row's pattern, and each
    row's missing columns ``(n_r, r)``."""
    empty: np.ndarray
    n_inf: int
    cache: dict = dataclasses.field(default_factory=dict)


def _masked(block: np.ndarray, origin: np.ndarray, missing: np.ndarray) -> _Masked:
    x = np.where(missing, 0.0, block - origin)
    n_missing = missing.sum(axis=1)
    d = block.shape[1]
    groups = []
    for r in np.unique(n_missing):
        if r == 0 or r == d:
            continue
        rows = np.flatnonzero(n_missing == r)
        columns = np.nonzero(missing[rows])[1].reshape(len(rows), r)
        patterns, inverse = np.unique(columns, axis=0, return_inverse=True)
        groups.append((rows, patterns, inverse.reshape(-1), columns))
    return _Masked(
        x=x,
        missing=missing.astype(np.float64),
        observed=(~missing).astype(np.float64),
        n_missing=n_missing,
        groups=groups,
        empty=n_missing == d,
        n_inf=int(np.isinf(x).any(axis=1).sum()),
    )


@dataclass(frozen=True, slots=True)
class MarginalGaussianKernel:
    """:class:`~.kernel.GaussianKernel` of the same types, marginal over missing entries.

    The pass model's ``mats`` are ``(kernel matrices, marginal_mats(...))``; passes that
    assign rows without densities ('random', 'given', 'all') and k-means steps complete a
    missing entry with the component's shift (its center) and add no variance.
    """

    density: str
    scatter: str
    nan_policy = "marginalize"
    view_key = "shifted-marginal"

    @property
    def base(self) -> GaussianKernel:
        return GaussianKernel(self.density, self.scatter)

    def block_rows(self, n_components: int, n_features: int) -> int:
        return self.base.block_rows(n_components, n_features)

    def work_size(self, n_components: int, n_features: int, block_rows: int) -> int:
        return self.base.work_size(n_components, n_features, block_rows)

    def view(self, block: np.ndarray, origin: np.ndarray, store: dict, fast: bool = True):
        missing = np.isnan(block)
        if not missing.any():
            return self.base.view(block, origin, store, fast)
        return _masked(block, origin, missing)

    def skipped_rows(self, view) -> tuple[np.ndarray, np.ndarray] | None:
        if isinstance(view, _Masked) and view.empty.any():
            return view.empty, view.empty
        return None

    def nonfinite_rows(self, view) -> int:
        return view.n_inf if isinstance(view, _Masked) else self.base.nonfinite_rows(view)

    def log_prob(self, view, model: PassModel, out: np.ndarray, work: np.ndarray) -> None:
        if not isinstance(view, _Masked):
            self.base.log_prob(view, dataclasses.replace(model, mats=model.mats[0]), out, work)
            return
        precisions, log_u = model.mats[1]
        means = model.shift
        if self.density in _DIAGONAL:
            _diagonal_log_prob(view, precisions, log_u, means, out)
        else:
            for k in range(len(means)):
                out[k] = _dense_log_prob(view, precisions[k], means[k], view.cache, (id(model), k))
        out += _HALF_LOG_2PI * view.n_missing

    def new_acc(self, model: PassModel, n_features: int):
        return self.base.new_acc(model, n_features)

    def accumulate(self, view, resp, model: PassModel, acc, work) -> None:
        if not isinstance(view, _Masked):
            self.base.accumulate(view, resp, model, acc, work)
            return
        rx, scatter = acc
        kind = covtypes.get(self.scatter)
        conditional = model.assign == "soft"
        for k, mean in enumerate(model.shift):
            completed = np.where(view.missing > 0, mean, view.x)
            r = resp[k]
            if conditional and self.density not in _DIAGONAL:
                g, conds = view.cache[(id(model), k)]
                for (rows, _, inverse, cols), cond in zip(view.groups, conds, strict=True):
                    gm = g[rows[:, None], cols]
                    completed[rows[:, None], cols] -= np.einsum("nij,nj->ni", cond[inverse], gm)
            rx[k] += r @ completed
            mine = scatter if self.scatter == "tied" else scatter[k : k + 1]
            kind.add_scatter(completed, r[None, :], model.shift[k : k + 1], mine, work)
            if conditional:
                _add_conditional(self, view, model, k, r, scatter)

    def finish(self, acc, model: PassModel, totals: dict):
        return self.base.finish(acc, model, totals)


def _diagonal_log_prob(view: _Masked, precisions, log_u, means, out: np.ndarray) -> None:
    # Σ_d o_d λ_kd (x_d - μ_kd)² over observed d, by matrix products against the masks.
    x = view.x
    out[...] = precisions @ (x * x).T
    out -= 2.0 * (means * precisions) @ x.T
    out += (means * means * precisions) @ view.observed.T
    out *= -0.5
    out -= log_u @ view.missing.T


def _dense_log_prob(view: _Masked, precision, mean, cache: dict, key) -> np.ndarray:
    """One component's marginal ``log p(x_o) - log det U - ½|m| log 2π`` per row; ``g``
    and the conditional covariances are kept in ``cache[key]`` for the moments."""
    y = (view.x - mean) * view.observed
    g = y @ precision
    maha = np.einsum("nd,nd->n", y, g)
    logdet = np.zeros(len(y))
    conds = []
    for rows, patterns, inverse, cols in view.groups:
        sub = precision[patterns[:, :, None], patterns[:, None, :]]  # (P, r, r): Λ_mm
        chol = np.linalg.cholesky(sub)
        cond = np.linalg.inv(sub)  # C = Λ_mm⁻¹, the conditional covariance
        gm = g[rows[:, None], cols]
        maha[rows] -= np.einsum("ni,nij,nj->n", gm, cond[inverse], gm)
        # ½ log det Λ_mm: log det Σ_oo = log det Σ + log det Λ_mm
        logdet[rows] = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)[inverse]
        conds.append(cond)
    cache[key] = (g, conds)
    return -0.5 * maha - logdet


def _add_conditional(kernel, view: _Masked, model: PassModel, k: int, r, scatter) -> None:
    """Add component ``k``'s conditional covariances of the missing entries, weighted by
    ``r``, to its second moments (in the layout of the scatter's covariance type)."""
    d = view.x.shape[1]
    if kernel.density in _DIAGONAL:
        variances = 1.0 / model.mats[1][0][k]
        per_column = (r @ view.missing) * variances
    else:
        cov = np.zeros(d * d)
        _, conds = view.cache[(id(model), k)]
        for (rows, patterns, inverse, _), cond in zip(view.groups, conds, strict=True):
            weights = np.bincount(inverse, weights=r[rows], minlength=len(patterns))
            flat = patterns[:, :, None] * d + patterns[:, None, :]
            cov += np.bincount(
                flat.ravel(), weights=(weights[:, None, None] * cond).ravel(), minlength=d * d
            )
        cov = cov.reshape(d, d)
        per_column = np.diagonal(cov)
    if kernel.scatter == "full":
        scatter[k] += cov
    elif kernel.scatter == "tied":
        scatter += cov
    elif kernel.scatter == "diag":
        scatter[k] += per_column
    else:
        scatter[k] += per_column.sum()
