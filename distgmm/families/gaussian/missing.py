"""Gaussian E-steps and moments of rows with missing entries (``nan_policy='marginalize'``).

A row's likelihood is the marginal density of its observed entries ``o``; the moments add
the conditional expectations of its missing entries ``m`` given them (Ghahramani & Jordan
1994). With the precision ``Λ = Σ⁻¹`` of a component and ``y`` the row minus the mean, zero
where missing, ``g = Λ y`` and ``C = Λ_mm⁻¹`` (the conditional covariance of ``m``):

* Mahalanobis distance of the marginal: ``yᵀ Λ y - g_mᵀ C g_m``;
* ``log det Σ_oo = log det Σ - log det C``: the marginal's normaliser is the full one's
  plus ``-½ log det Λ_mm + ½ |m| log 2π``;
* conditional mean of the missing entries: ``μ_m - C g_m``.

Only ``|m| x |m|`` matrices are factored, once per chunk, model, component and missingness
pattern (rows grouped by their number of missing entries, then by pattern), never per row.
Diagonal and spherical covariances need no factor: their sums run over the observed
entries by masked matrix products. A block without NaN is :class:`~.kernel.GaussianKernel`'s
own view and arithmetic, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...core.family import PassModel
from ...core.missing import Wrapper, note_unobserved
from ._patterns import Factors, Masked, masked, pattern_covariances
from .kernel import GaussianKernel, view_log_prob

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
class _Split:
    """A block with missing entries: its complete rows, as the full kernel views them, and
    the others."""

    complete: np.ndarray
    full: object
    """The full kernel's view of the complete rows (None if there are none)."""
    partial: np.ndarray
    masked: Masked
    n_rows: int

    def spread(self, values: np.ndarray) -> np.ndarray:
        """Per-row flags of the partial rows as flags of the block's rows."""
        out = np.zeros(self.n_rows, dtype=bool)
        out[self.partial] = values
        return out


@dataclass(frozen=True, slots=True)
class MarginalGaussianKernel(Wrapper):
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

    def view(self, block: np.ndarray, origin: np.ndarray, store: dict, fast: bool = True):
        missing = np.isnan(block)
        note_unobserved(store, missing)
        if not missing.any():
            return self.base.view(block, origin, store, fast)
        # Complete rows take the full kernel's E-step and moments; the others the masked.
        some = missing.any(axis=1)
        complete, partial = np.flatnonzero(~some), np.flatnonzero(some)
        full = self.base.view(block[complete], origin, {}, fast) if complete.size else None
        rows = masked(block[partial], origin, missing[partial], store)
        return _Split(complete, full, partial, rows, len(block))

    def skipped_rows(self, view) -> tuple[np.ndarray, np.ndarray] | None:
        if isinstance(view, _Split) and view.masked.empty.any():
            empty = view.spread(view.masked.empty)
            return empty, empty
        return None

    def nonfinite_rows(self, view) -> int:
        if not isinstance(view, _Split):
            return self.base.nonfinite_rows(view)
        full = 0 if view.full is None else self.base.nonfinite_rows(view.full)
        return full + view.masked.n_inf

    def log_prob(self, view, model: PassModel, out: np.ndarray, work: np.ndarray) -> None:
        if not isinstance(view, _Split):
            view_log_prob(self.density, view, model.mats[0], out, work)
            return
        if view.full is not None:
            part = np.empty((len(out), len(view.complete)))
            view_log_prob(self.density, view.full, model.mats[0], part, work)
            out[:, view.complete] = part
        part = np.empty((len(out), len(view.partial)))
        self._masked_log_prob(view.masked, model, part)
        out[:, view.partial] = part

    def _masked_log_prob(self, view: Masked, model: PassModel, out: np.ndarray) -> None:
        precisions, log_u = model.mats[1]
        if self.density in _DIAGONAL:
            _diagonal_log_prob(view, precisions, log_u, model.shift, out)
        else:
            out[...] = _dense_log_prob(view, precisions, model.shift, id(model))
        out += _HALF_LOG_2PI * view.n_missing

    def accumulate(self, view, resp, model: PassModel, acc, work) -> None:
        if not isinstance(view, _Split):
            self.base.accumulate(view, resp, model, acc, work)
            return
        if view.full is not None:
            part = np.ascontiguousarray(resp[:, view.complete])
            self.base.accumulate(view.full, part, model, acc, work)
        self._masked_accumulate(view.masked, resp[:, view.partial], model, acc)

    def _masked_accumulate(self, view: Masked, resp, model: PassModel, acc) -> None:
        rx, scatter = acc
        means = model.shift
        # Conditional expectations under the model's densities in its E-step; other
        # passes complete a missing entry with the component's shift, with no variance.
        soft = model.assign == "soft"
        if self.scatter in _DIAGONAL:
            # E[x] and E[x²] per entry: the value, or the mean (plus the variance).
            weight = resp @ view.missing
            rx += resp @ view.x + weight * means
            squares = resp @ (view.x * view.x) + weight * means * means
            if soft:  # a diagonal density's missing entry: its mean and variance
                squares += weight / model.mats[1][0]
            scatter += squares if self.scatter == "diag" else squares.sum(axis=1)
            return
        # Each row completed, less the component's shift: its observed entries less the
        # mean (cached by the E-step), its missing ones the conditional mean's offset.
        cached = view.cache.pop(id(model), None) if soft else None
        if cached is None:
            centred = _centred(view, means)
        else:
            # Added block by block, as every moment: the sums do not depend on how the
            # blocks are grouped into chunks.
            centred, found = cached
            parts = []
            for group, (table, slots, shift) in zip(view.groups, found, strict=True):
                centred[:, group.rows[:, None], group.columns] = -shift
                weights = np.add.reduceat(resp[:, group.rows], group.starts, axis=1)
                parts.append((group.patterns, table.cond[:, slots], weights))
            if parts:
                conditional = pattern_covariances(parts, len(resp), view.x.shape[1])
                scatter += conditional if self.scatter == "full" else conditional.sum(axis=0)
        rx += np.matmul(resp[:, None, :], centred)[:, 0] + resp.sum(axis=1)[:, None] * means
        centred *= np.sqrt(resp)[:, :, None]
        product = np.empty(scatter.shape[-2:])
        for k, rows in enumerate(centred):
            np.dot(rows.T, rows, out=product)  # BLAS syrk, as the full kernel's moments
            if self.scatter == "full":
                scatter[k] += product
            else:
                scatter += product


def _diagonal_log_prob(view: Masked, precisions, log_u, means, out: np.ndarray) -> None:
    # Σ_d o_d λ_kd (x_d - μ_kd)² over observed d, by matrix products against the masks.
    x = view.x
    out[...] = precisions @ (x * x).T
    out -= 2.0 * (means * precisions) @ x.T
    out += (means * means * precisions) @ view.observed.T
    out *= -0.5
    out -= log_u @ view.missing.T


def _dense_log_prob(view: Masked, precisions, means, key) -> np.ndarray:
    """Every component's marginal ``log p(x_o)`` less the full density's normaliser and
    ``½|m| log 2π``, ``(K, n)``; the centred rows and the conditional means' offsets
    ``C g_m`` are kept in ``view.cache[key]`` for the moments."""
    y = _centred(view, means)
    g = np.matmul(y, precisions)  # Λ symmetric: rows of y Λ are Λ y
    maha = np.einsum("knd,knd->kn", y, g)
    logdet = np.zeros(maha.shape)
    factors = Factors.of(view.chunk, key, precisions)
    found = []
    for group in view.groups:
        table, slots = factors.table(group)
        at = slots[group.inverse]
        gm = g[:, group.rows[:, None], group.columns]  # (K, n_r, r)
        shift = _product(table.cond[:, at], gm)
        maha[:, group.rows] -= (gm * shift).sum(axis=2)
        # log det Σ_oo = log det Σ + log det Λ_mm
        logdet[:, group.rows] = table.half_logdet[:, at]
        found.append((table, slots, shift))
    view.cache[key] = (y, found)
    return -0.5 * maha - logdet


def _product(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``matrices @ vectors`` for stacks of small ``(r, r)`` matrices and ``(r,)`` vectors;
    for r <= 3 as r² products of whole stacks (measured 2-6x faster than einsum or matmul
    there, whose per-matrix overhead dominates)."""
    r = vectors.shape[-1]
    if r > 3:
        return np.matmul(matrices, vectors[..., None])[..., 0]
    out = np.empty_like(vectors)
    for i in range(r):
        row = matrices[..., i, 0] * vectors[..., 0]
        for j in range(1, r):
            row += matrices[..., i, j] * vectors[..., j]
        out[..., i] = row
    return out


def _centred(view: Masked, means: np.ndarray) -> np.ndarray:
    """``(x - μ_k)`` on the observed entries, 0 on the missing ones, ``(K, n, D)``."""
    y = np.subtract(view.x, means[:, None, :])
    y *= view.observed
    return y
