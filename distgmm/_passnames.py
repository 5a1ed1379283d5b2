"""Names of the tasks of a pass over the data, as Dask's dashboard shows them.

Every task of a pass (its parameters, chunk tasks and reduction) has a key that starts with
``distgmm-pass-<n>-<token>``: the dashboard groups them all under ``distgmm-pass`` (Dask's key
prefix stops at the number), the key names the pass, and the random token keeps the keys
of every pass, of every fit on a shared scheduler, distinct: a key that came back would get
the result of another computation still held under it.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable

from dask import delayed

__all__ = ["PassNames"]

PREFIX = "distgmm-pass"


class PassNames:
    """The names of the passes of one data set, numbered from 1."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    def next(self) -> str:
        """The name of the next pass, ``distgmm-pass-<n>-<token>``."""
        return f"{PREFIX}-{next(self._numbers)}-{uuid.uuid4().hex}"


def named_combine(func: Callable, name: str) -> Callable:
    """``delayed(func)`` whose calls have the keys ``<name>-combine-<i>``."""
    numbers = itertools.count()
    return lambda *parts: delayed(func)(*parts, dask_key_name=f"{name}-combine-{next(numbers)}")
