"""Rows with missing entries grouped by missingness pattern, and each pattern's factors.

A block's rows with missing entries are grouped by their number ``r`` of missing entries,
and within a group by pattern (the set of missing columns). The factors a pattern needs for
a component, ``C = Λ_mm⁻¹`` and ``½ log det Λ_mm``, depend on the pattern and the model
only: :class:`Factors` computes them once per chunk and model (a pattern recurs block after
block), looked up by a key per pattern (its missing columns as bits).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Factors", "Group", "Masked", "masked", "pattern_covariances"]


@dataclass(frozen=True, slots=True)
class Group:
    """The rows of a block with ``r`` missing entries (0 < r < D)."""

    rows: np.ndarray
    """Their positions in the block, ``(n_r,)``."""
    patterns: np.ndarray
    """Their distinct sets of missing columns, ``(P, r)``, in key order."""
    keys: np.ndarray
    """The patterns' keys, ``(P,)``."""
    inverse: np.ndarray
    """Each row's pattern, ``(n_r,)``."""
    columns: np.ndarray
    """Each row's missing columns, ``(n_r, r)``."""
    starts: np.ndarray
    """Where each pattern's run of rows starts (the rows are sorted by pattern): per-pattern
    sums are one ``np.add.reduceat``."""


@dataclass(slots=True)
class Masked:
    """Rows with missing entries, shifted to the pass origin."""

    x: np.ndarray
    """The shifted rows, 0 where missing."""
    missing: np.ndarray
    observed: np.ndarray
    """float64 0/1 masks."""
    n_missing: np.ndarray
    groups: list[Group]
    empty: np.ndarray
    """Rows with every entry missing."""
    n_inf: int
    chunk: dict
    """The chunk's store, where :class:`Factors` live."""
    cache: dict = field(default_factory=dict)
    """Per pass model: what its E-step found that its moments read again."""


def pattern_keys(missing: np.ndarray) -> np.ndarray:
    """One sortable key per row's set of missing columns (its bits)."""
    packed = np.packbits(missing, axis=1)
    if packed.shape[1] <= 8:
        wide = np.zeros((len(packed), 8), dtype=np.uint8)
        wide[:, : packed.shape[1]] = packed
        return wide.view(np.uint64).ravel()
    packed = np.ascontiguousarray(packed)
    return packed.view(np.dtype((np.void, packed.shape[1]))).ravel()


def masked(block: np.ndarray, origin: np.ndarray, missing: np.ndarray, store: dict) -> Masked:
    """The rows of ``block`` (each with a missing entry), grouped."""
    d = block.shape[1]
    x = np.where(missing, 0.0, block - origin)
    n_missing = missing.sum(axis=1)
    partial = np.flatnonzero(n_missing < d)
    groups = []
    if partial.size:
        # One sort by size, then key: each group's rows are a run, sorted by pattern.
        keys = pattern_keys(missing[partial])
        r_of = n_missing[partial]
        order = np.lexsort((keys, r_of))
        rows, keys, r_of = partial[order], keys[order], r_of[order]
        new_pattern = np.ones(len(rows), dtype=bool)
        new_pattern[1:] = (keys[1:] != keys[:-1]) | (r_of[1:] != r_of[:-1])
        bounds = np.flatnonzero(np.diff(r_of, prepend=-1, append=d + 1))
        for lo, hi in itertools.pairwise(bounds):
            r = int(r_of[lo])
            starts = np.flatnonzero(new_pattern[lo:hi])
            inverse = np.cumsum(new_pattern[lo:hi]) - 1
            firsts = rows[lo:hi][starts]
            patterns = np.nonzero(missing[firsts])[1].reshape(len(firsts), r)
            groups.append(
                Group(
                    rows[lo:hi],
                    patterns,
                    keys[lo:hi][starts],
                    inverse,
                    patterns[inverse],
                    starts,
                )
            )
    return Masked(
        x=x,
        missing=missing.astype(np.float64),
        observed=(~missing).astype(np.float64),
        n_missing=n_missing,
        groups=groups,
        empty=n_missing == d,
        n_inf=int(np.isinf(x).any(axis=1).sum()),
        chunk=store,
    )


def _factor(precisions: np.ndarray, patterns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Λ_mm⁻¹`` and ``½ log det Λ_mm`` of every component for each pattern ``m``."""
    sub = precisions[:, patterns[:, :, None], patterns[:, None, :]]  # (K, P, r, r): Λ_mm
    if patterns.shape[1] == 1:  # one missing entry: scalars
        return 1.0 / sub, 0.5 * np.log(sub[..., 0, 0])
    chol = np.linalg.cholesky(sub)
    return np.linalg.inv(sub), np.log(np.diagonal(chol, axis1=2, axis2=3)).sum(axis=2)


#: Factor values a table of one size keeps at most (16 MiB): past it, as when nearly every
#: row has a pattern of its own, the table starts again rather than grow with the chunk.
_TABLE_VALUES = 1 << 21


class _Table:
    """The factors of the patterns of ``r`` missing entries seen so far, in slots."""

    def __init__(self, n_components: int, r: int, key_dtype) -> None:
        self.count = 0
        self.keys = np.empty(0, dtype=key_dtype)  # sorted
        self.slots = np.empty(0, dtype=np.intp)  # of the sorted keys
        self.cond = np.empty((n_components, 16, r, r))
        self.half_logdet = np.empty((n_components, 16))
        self.max_slots = max(1024, _TABLE_VALUES // (n_components * r * r))

    def find(self, precisions: np.ndarray, patterns: np.ndarray, keys: np.ndarray):
        """The slots of ``patterns`` (sorted ``keys``, no repeats), factored first if new;
        valid until the next call."""
        at = np.minimum(np.searchsorted(self.keys, keys), max(self.count - 1, 0))
        known = self.keys[at] == keys if self.count else np.zeros(len(keys), dtype=bool)
        new = ~known
        n_new = int(new.sum())
        if self.count + n_new > self.max_slots:  # full: start again with these
            self.count, self.keys, self.slots = 0, self.keys[:0], self.slots[:0]
            known[:], new[:], n_new = False, True, len(keys)
        out = np.empty(len(keys), dtype=np.intp)
        out[known] = self.slots[at[known]]
        if n_new:
            start, stop = self.count, self.count + n_new
            self._reserve(stop)
            sl = slice(start, stop)
            self.cond[:, sl], self.half_logdet[:, sl] = _factor(precisions, patterns[new])
            out[new] = np.arange(start, stop)
            # Both sorted: the new keys go in where they belong (no sort of the table).
            where = np.searchsorted(self.keys, keys[new])
            self.keys = np.insert(self.keys, where, keys[new])
            self.slots = np.insert(self.slots, where, out[new])
            self.count = stop
        return out

    def _reserve(self, n: int) -> None:
        size = self.cond.shape[1]
        if n <= size:
            return
        size = max(n, 2 * size)
        for name in ("cond", "half_logdet"):
            old = getattr(self, name)
            new = np.zeros((old.shape[0], size, *old.shape[2:]))
            new[:, : self.count] = old[:, : self.count]
            setattr(self, name, new)


class _SingleTable:
    """The factors of the patterns of one missing entry: the precisions' diagonal, the
    slot of a pattern its column (no lookup)."""

    def __init__(self, precisions: np.ndarray) -> None:
        diagonal = np.diagonal(precisions, axis1=1, axis2=2)
        self.cond = (1.0 / diagonal)[:, :, None, None]
        self.half_logdet = 0.5 * np.log(diagonal)

    def find(self, precisions: np.ndarray, patterns: np.ndarray, keys: np.ndarray):
        return patterns[:, 0]


class Factors:
    """One pass model's conditional covariances ``C = Λ_mm⁻¹`` and ``½ log det Λ_mm`` per
    missingness pattern, each factored once per chunk (the store lives for one chunk). A
    matrix's factors do not depend on the others factored with it, so neither do the
    results."""

    def __init__(self, precisions: np.ndarray) -> None:
        self.precisions = precisions
        self.tables: dict[int, _Table | _SingleTable] = {}

    @classmethod
    def of(cls, store: dict, key, precisions: np.ndarray) -> Factors:
        """The factors of the pass model ``key`` in a chunk's ``store``."""
        found = store.get(("factors", key))
        if found is None or found.precisions is not precisions:
            found = store[("factors", key)] = cls(precisions)
        return found

    def table(self, group: Group) -> tuple[_Table | _SingleTable, np.ndarray]:
        """The table of the group's size, and the slots of its patterns there."""
        r = group.patterns.shape[1]
        table = self.tables.get(r)
        if table is None:
            k = len(self.precisions)
            single = r == 1
            table = _SingleTable(self.precisions) if single else _Table(k, r, group.keys.dtype)
            self.tables[r] = table
        return table, table.find(self.precisions, group.patterns, group.keys)


def pattern_covariances(parts, n_components: int, n_features: int) -> np.ndarray:
    """``Σ_p w_kp C_kp`` per component, each ``C`` in its pattern's missing block:
    ``parts`` holds ``(patterns (P, r), C (K, P, r, r), w (K, P))`` per size ``r``."""
    k, d = n_components, n_features
    out = np.zeros(k * d * d)
    offsets = (np.arange(k) * d * d)[:, None, None, None]
    for patterns, cond, weights in parts:
        flat = (patterns[:, :, None] * d + patterns[:, None, :])[None] + offsets
        out += np.bincount(
            flat.ravel(), weights=(weights[:, :, None, None] * cond).ravel(), minlength=k * d * d
        )
    return out.reshape(k, d, d)
