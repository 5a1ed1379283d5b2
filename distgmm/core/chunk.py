"""The fused chunk pass: E-step and summaries of a batch of models, in one read of a chunk.

A chunk is processed in row blocks of a few thousand rows so that each block's per-component
work stays in cache; the buffers are allocated once per chunk and reused for every block.
Each model's block size depends on that model alone (its kernel, components and features),
so a model's arithmetic, and its fit, do not depend on which other models share the pass.
Models with the same block size and view share each block's view (e.g. the block shifted
to the pass origin), made once: restarts and candidates cost no extra reads of the data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .family import PassModel
from .missing import UNOBSERVED
from .summary import Summary

__all__ = [
    "chunk_summaries",
    "model_scratch",
    "normalize_log_resp",
    "row_uniforms",
    "split_by_scratch",
]


def row_uniforms(seed: int, row0: int, n_rows: int, n_components: int) -> np.ndarray:
    """Uniform ``[0, 1)`` draws for rows ``row0 .. row0 + n_rows``, ``(n_rows, n_components)``.

    Keyed by the row's global index (Philox counter = row), not by the chunk, so the draws,
    and a 'random' initialisation, are the same whatever the chunking.
    """
    per_row = -(-n_components // 4)  # Philox yields four 64-bit words per counter step
    bitgen = np.random.Philox(key=seed, counter=[row0 * per_row, 0, 0, 0])
    return np.random.Generator(bitgen).random((n_rows, 4 * per_row))[:, :n_components]


def _given_block(given: np.ndarray, row0: int, out: np.ndarray) -> None:
    """The (K, n) responsibilities of rows ``row0 .. row0 + n`` of ``given``, into ``out``."""
    rows = given[row0 : row0 + out.shape[1]]
    if rows.ndim == 1:
        out[...] = 0.0
        out[rows, np.arange(len(rows))] = 1.0
    else:
        out[...] = rows.T


def normalize_log_resp(wlp: np.ndarray, entropy: np.ndarray | None = None) -> np.ndarray:
    """(K, rows) weighted log-probabilities to responsibilities, in place; return each row's
    log-sum-exp. ``entropy``, a (K, rows) scratch, receives each row's entropy in row 0."""
    top = wlp.max(axis=0)
    with np.errstate(invalid="ignore"):  # rows of NaN/inf data: counted, reported by the caller
        wlp -= top
        if entropy is not None:
            entropy[...] = wlp
        np.exp(wlp, out=wlp)
        total = wlp.sum(axis=0)
        wlp /= total
        log_total = np.log(total)
        if entropy is not None:
            # log r_k = a_k - log Σ exp(a): -Σ r log r = log Σ exp(a) - Σ r a.
            entropy *= wlp
            entropy[0] = log_total - entropy.sum(axis=0)
        return top + log_total


class _Accumulator:
    """Running summary of one model over the blocks of one chunk."""

    def __init__(self, model: PassModel, n_features: int, block_rows: int) -> None:
        k = model.n_components
        self.model = model
        self.kernel = model.kernel
        self.work = np.empty(max(1, self.kernel.work_size(k, n_features, block_rows)))
        # Responsibilities are (K, rows): the log-sum-exp then reduces K long rows
        # elementwise instead of many rows of K values (2.8x faster).
        self.logp = np.empty(block_rows * k)
        self.scratch = np.empty(block_rows * k) if model.entropy else None
        self.n_rows = 0
        self.weight = 0.0
        self.loglik = 0.0
        self.entropy = 0.0
        self.n_nonfinite = 0
        self.n_overflow = 0
        self.n_impossible = 0
        self.n_omitted = 0
        self.n_empty = 0
        self.first_empty = -1
        self.unobserved = 0  # set by chunk_summaries for a marginalising kernel
        # Kernels of a missing-value policy say which rows of a block they leave out.
        self.skipped_rows = getattr(self.kernel, "skipped_rows", None)
        self.omits = getattr(self.kernel, "nan_policy", "raise") == "omit"
        self.nk = np.zeros(k)
        self.acc = self.kernel.new_acc(model, n_features)

    def add(self, view, n: int, weights: np.ndarray | None, row0: int) -> None:
        """Accumulate one block of ``n`` rows."""
        model, k = self.model, self.model.n_components
        resp = self.logp[: k * n].reshape(k, n)
        skip = self._skipped(view, n, row0)
        if skip is not None:  # those rows weigh nothing, and count nowhere else
            weights = np.where(skip, 0.0, 1.0 if weights is None else weights)
        if model.assign in ("soft", "hard"):
            self.kernel.log_prob(view, model, resp, self.work)
            resp += model.const[:, None]
            if model.assign == "hard":
                best = resp.argmax(axis=0)
                top = resp.max(axis=0)
                if skip is not None:
                    top[skip] = 0.0
                self._count_nonfinite(view, n, top)
                resp[...] = 0.0
                resp[best, np.arange(n)] = 1.0
            else:
                ent = None if self.scratch is None else self.scratch[: k * n].reshape(k, n)
                lse = normalize_log_resp(resp, ent)
                if skip is not None:
                    lse[skip] = 0.0
                    if ent is not None:
                        ent[0, skip] = 0.0
                self._count_nonfinite(view, n, lse)
                self.loglik += float(lse.sum() if weights is None else weights @ lse)
                if ent is not None:
                    self.entropy += float(ent[0].sum() if weights is None else weights @ ent[0])
        else:
            if model.assign == "random":
                resp[...] = row_uniforms(model.seed, row0, n, k).T
                resp /= resp.sum(axis=0)
            elif model.assign == "given":
                _given_block(model.given, row0, resp)
            else:  # 'all'
                resp[...] = 1.0
            self.n_nonfinite += self.kernel.nonfinite_rows(view)
        if skip is not None:
            resp[:, skip] = 0.0  # not NaN times 0
        if weights is not None:
            resp *= weights
            self.weight += float(weights.sum())
        else:
            self.weight += n
        self.n_rows += n if skip is None else n - int(skip.sum())
        self.nk += resp.sum(axis=1)
        self.kernel.accumulate(view, resp, model, self.acc, self.work)

    def _skipped(self, view, n: int, row0: int) -> np.ndarray | None:
        """The rows of the block the kernel leaves out (missing entries), counted; None
        when it keeps them all."""
        rows = self.skipped_rows(view) if self.skipped_rows is not None else None
        if rows is None:
            return None
        skip, empty = rows
        if self.omits:  # under 'marginalize' the rows skipped are the empty ones
            self.n_omitted += int(skip.sum())
        if empty.any():
            self.n_empty += int(empty.sum())
            if self.first_empty < 0:
                self.first_empty = row0 + int(np.flatnonzero(empty)[0])
        return skip

    def _count_nonfinite(self, view, n: int, row_values: np.ndarray) -> None:
        """Count the rows whose value is NaN or inf: NaN or inf data, or an overflow."""
        bad = n - int(np.isfinite(row_values).sum())
        if bad:  # rare: the data are only looked at again then
            nonfinite = self.kernel.nonfinite_rows(view)
            self.n_nonfinite += nonfinite
            if getattr(self.kernel, "zero_likelihood", False):
                self.n_impossible += max(0, bad - nonfinite)
            else:
                self.n_overflow += max(0, bad - nonfinite)

    def finish(self) -> Summary:
        totals = {
            "n_rows": self.n_rows,
            "weight": self.weight,
            "loglik": self.loglik,
            "n_nonfinite": self.n_nonfinite,
            "n_overflow": self.n_overflow,
            "n_impossible": self.n_impossible,
            "n_omitted": self.n_omitted,
            "n_empty": self.n_empty,
            "first_empty": self.first_empty,
            "unobserved": self.unobserved,
            "nk": self.nk,
            "entropy": self.entropy,
        }
        return self.kernel.finish(self.acc, self.model, totals)


def chunk_summaries(
    X: np.ndarray,
    models: Sequence[PassModel],
    origin: np.ndarray,
    sample_weight: np.ndarray | None = None,
    row0: int = 0,
    block_rows: int | None = None,
    max_scratch: int | None = None,
) -> list[Summary]:
    """The summary of every model in ``models`` over the rows of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
        One chunk of data. It is never copied whole: each block's view is made into
        reused buffers.
    models : sequence of PassModel
        The batch; all share the chunk read.
    origin : ndarray of shape (n_features,)
        The pass origin every model's matrices were prepared against.
    sample_weight : ndarray of shape (n_rows,), optional
        Non-negative row weights.
    row0 : int
        Global index of the chunk's first row (keys the 'random' draws and 'given' rows).
    block_rows : int, optional
        Rows per block for every model (tests); by default each model's kernel's choice.
    max_scratch : int, optional
        Bytes of per-block buffers allowed at once: a batch needing more is run in
        consecutive parts over the chunk (:func:`split_by_scratch`), which changes no
        model's arithmetic.

    Returns
    -------
    list of Summary
        One per model, in order.
    """
    n_rows, n_features = X.shape
    if max_scratch is not None and len(models) > 1:
        parts = split_by_scratch(models, n_features, max_scratch, block_rows)
        if len(parts) > 1:  # one after the other over the chunk in memory: bounded buffers
            out = []
            for part in parts:
                out.extend(chunk_summaries(X, part, origin, sample_weight, row0, block_rows))
            return out
    groups: dict[tuple, list[int]] = {}
    for i, m in enumerate(models):
        rows = block_rows or m.kernel.block_rows(m.n_components, n_features)
        groups.setdefault((m.kernel.view_key, max(1, min(rows, n_rows))), []).append(i)
    out: list[Summary | None] = [None] * len(models)
    # Rows holding NaN or inf are counted in Summary.n_nonfinite and reported by the caller;
    # the inf * 0 they produce on the way must not warn about each block.
    with np.errstate(invalid="ignore", over="ignore"):
        for (_, block), members in groups.items():
            kernel, store = models[members[0]].kernel, {}
            accs = [_Accumulator(models[i], n_features, block) for i in members]
            for start in range(0, n_rows, block):
                stop = min(start + block, n_rows)
                view = kernel.view(X[start:stop], origin, store)
                weights = None if sample_weight is None else sample_weight[start:stop]
                for acc in accs:
                    acc.add(view, stop - start, weights, row0 + start)
            # The columns missing in every row the views saw (a marginalising kernel's
            # note), every column of no row at all.
            unobserved = store.get(UNOBSERVED, -1 if n_rows == 0 else None)
            for i, acc in zip(members, accs, strict=True):
                if unobserved is not None:
                    acc.unobserved = unobserved
                out[i] = acc.finish()
    return out


def model_scratch(model: PassModel, n_features: int, block_rows: int | None = None) -> int:
    """Bytes of per-block buffers one model's accumulation allocates (an upper bound): its
    kernel's work buffer, its (K, block) log-probabilities (twice with the entropy) and its
    moments (at most K second-moment matrices)."""
    k = model.n_components
    block = block_rows or model.kernel.block_rows(k, n_features)
    values = model.kernel.work_size(k, n_features, block) + block * k * (2 if model.entropy else 1)
    return 8 * (values + k * n_features * (n_features + 1))


def split_by_scratch(
    models: Sequence[PassModel], n_features: int, max_scratch: int, block_rows: int | None = None
) -> list[list[PassModel]]:
    """``models`` in consecutive parts whose buffers each fit in ``max_scratch`` bytes (a
    model needing more on its own is a part of its own)."""
    parts: list[list[PassModel]] = [[]]
    used = 0
    for model in models:
        need = model_scratch(model, n_features, block_rows)
        if parts[-1] and used + need > max_scratch:
            parts.append([])
            used = 0
        parts[-1].append(model)
        used += need
    return parts
