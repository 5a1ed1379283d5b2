"""Starts shared by the candidates of a sweep: k-means runs once per number of components.

The k-means of a start does not depend on the covariance type: candidates with the same
number of components and seed (a sweep over covariance types) get the same labels and
centers. During :func:`distgmm.select_mixture`, :func:`shared` memoises them by a key
that says everything they depend on, computed by the first candidate that needs them while
the others wait, so each is computed once and every candidate still gets exactly its solo
fit's start. Outside a sweep nothing is kept.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable, Iterator
from typing import Any

__all__ = ["shared", "sharing"]

_registry_lock = threading.Lock()
_active: dict | None = None
_locks: dict = {}


@contextlib.contextmanager
def sharing() -> Iterator[None]:
    """Memoise :func:`shared` values, for every thread, until the block ends."""
    global _active
    with _registry_lock:
        if _active is not None:  # a sweep inside a sweep: the outer one's memo serves
            outer = True
        else:
            outer = False
            _active = {}
            _locks.clear()
    try:
        yield
    finally:
        if not outer:
            with _registry_lock:
                _active = None
                _locks.clear()


def shared(key: Hashable, compute: Callable[[], Any]) -> Any:
    """``compute()``, once per ``key`` while :func:`sharing` is active (else every call)."""
    with _registry_lock:
        memo = _active
        lock = None if memo is None else _locks.setdefault(key, threading.Lock())
    if lock is None:
        return compute()
    with lock:  # the first caller computes; the others wait for its value
        if key not in memo:
            memo[key] = compute()
        return memo[key]
