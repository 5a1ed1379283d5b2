"""Stepwise EM on summaries (Cappé & Moulines 2009): running statistics blended batch by batch.

``s <- (1 - gamma_t) s + gamma_t s(batch)`` on statistics normalised per unit of weight, with
``gamma_t = (t + 2) ** -alpha``; the M-step then reads ``s`` as it reads a full pass's summary.
Moments about different shifts are recentred to the batch's first (by the family), so the
blend never mixes moments about different points and keeps their precision.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .summary import Summary

__all__ = ["COUNTS", "blend", "normalised", "step_size"]

#: Summary fields that count rows rather than weigh them: never scaled.
COUNTS = frozenset(
    {
        "n_rows",
        "n_nonfinite",
        "n_overflow",
        "n_impossible",
        "n_omitted",
        "n_empty",
        "first_empty",
        "unobserved",
    }
)


def step_size(t: int, decay: float) -> float:
    """``gamma_t = (t + 2) ** -decay``: the weight of the ``t``-th blended batch (from 0)."""
    return float((t + 2.0) ** -decay)


def _scale(value, factor: float):
    if isinstance(value, tuple):
        return tuple(_scale(v, factor) for v in value)
    if value is None:
        return None
    return value * factor


def scaled(summary: Summary, factor: float) -> Summary:
    """Every weighed total of ``summary`` times ``factor`` (shifts and row counts kept)."""
    changes = {
        f.name: _scale(getattr(summary, f.name), factor)
        for f in dataclasses.fields(summary)
        if f.name not in COUNTS and not f.metadata.get("shift")
    }
    return dataclasses.replace(summary, **changes)


def normalised(summary: Summary) -> Summary:
    """``summary`` per unit of weight (its ``weight`` becomes 1)."""
    return scaled(summary, 1.0 / summary.weight)


def blend(running: Summary, batch: Summary, gamma: float) -> Summary:
    """``(1 - gamma) running + gamma batch``; both about the same shift (recentred)."""
    if not 0.0 < gamma <= 1.0 or not np.isfinite(gamma):
        raise ValueError(f"a step size must be in (0, 1], got {gamma!r}")
    return scaled(running, 1.0 - gamma) + scaled(batch, gamma)
