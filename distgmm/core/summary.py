"""The additive per-chunk summary every family's statistics extend.

A summary is what one chunk task returns and what the tree reduction adds up:
``S(A) + S(B) == S(A and B)`` up to rounding, so any reduction order gives the same model.
The fields here are the pass totals every mixture has (rows, weight, log-likelihood, soft
counts, and the entropy of the responsibilities when a variational bound needs it); a family
adds its moments. Moments are taken about a *shift* (the previous means, so data with a
large offset keep their precision); summaries taken about different shifts are not additive,
and adding them is refused rather than silently wrong.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ALL", "FIRST", "SHIFT", "Summary", "add_field"]

#: ``field(metadata=SHIFT)`` marks a field as the point moments are taken about: ``+``
#: requires it equal in both summaries and keeps it.
SHIFT = {"shift": True}
#: ``field(metadata=FIRST)`` marks a row index, -1 for none: ``+`` keeps the smaller one.
FIRST = {"first": True}
#: ``field(metadata=ALL)`` marks a bit set of columns true of every row: ``+`` intersects.
ALL = {"all": True}


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Totals of one mixture model's pass over some rows."""

    n_rows: int
    """Number of rows seen."""
    weight: float
    """Sum of the sample weights (``n_rows`` when unweighted)."""
    loglik: float
    """Weighted sum of the rows' log-likelihoods ``Σ w_i log p(x_i)`` (soft passes only)."""
    n_nonfinite: int
    """Rows whose log-likelihood was NaN or infinite: they contain NaN or inf."""
    nk: np.ndarray
    """Soft counts ``Σ_i w_i r_ik``, shape ``(n_components,)``."""
    n_overflow: int = 0
    """Rows of finite values whose log-likelihood overflowed (values too large to square)."""
    n_impossible: int = 0
    """Rows of finite values of probability 0 under every component: a kernel that says
    ``zero_likelihood`` (a discrete value no component can produce) counts them here
    rather than as an overflow."""
    n_omitted: int = 0
    """Rows a kernel's ``skipped_rows`` left out (``nan_policy='omit'``): in no other
    total."""
    n_empty: int = 0
    """Rows with every entry missing (a kernel's ``skipped_rows``): no likelihood."""
    first_empty: int = field(default=-1, metadata=FIRST)
    """Global index of the first such row, -1 for none."""
    unobserved: int = field(default=0, metadata=ALL)
    """The columns (bit j: column j) missing in every row, counted for a kernel that
    marginalises missing entries: a column without any value cannot be fitted."""
    entropy: float = 0.0
    """``-Σ_i w_i Σ_k r_ik log r_ik``, accumulated when the pass model asks for it (the
    variational lower bound needs it), else 0."""

    def __add__(self, other: Summary) -> Summary:
        if type(other) is not type(self):
            return NotImplemented
        values = {}
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.metadata.get("shift"):
                if mine is not theirs and not np.array_equal(mine, theirs):
                    raise ValueError(
                        f"cannot add summaries whose moments are about different points "
                        f"({f.name} differs): recentre one of them first"
                    )
                values[f.name] = mine
            else:
                values[f.name] = add_field(f, mine, theirs)
        return type(self)(**values)

    @property
    def mean_loglik(self) -> float:
        """Weighted mean log-likelihood per row (scikit-learn's lower bound for EM)."""
        return self.loglik / self.weight if self.weight > 0 else float("nan")


def add_field(f: dataclasses.Field, mine, theirs):
    """The sum of one additive field of two summaries (the smaller index of a FIRST one)."""
    if f.metadata.get("first"):  # a row index, -1 for none
        low = min(mine, theirs)
        return low if low >= 0 else max(mine, theirs)
    if f.metadata.get("all"):
        return mine & theirs
    return mine + theirs
