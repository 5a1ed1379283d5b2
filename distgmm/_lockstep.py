"""Passes shared by fits running side by side: every fit's pass in one read of the data.

A model selection sweep fits many candidates (each with its restarts), each by the code of
its own estimator: its start (k-means Lloyd passes, a random start's pass, a prior's pass)
and its EM iterations. Each fit runs in a thread of its own with a :class:`Member` as its
passes. A member's ``run`` waits until every fit still running has asked for a pass (or
ended); then one pass of the underlying data runs the union of the requests, and each fit
gets its own models' summaries back. The engine's batch independence makes a model's
summary the same whatever else shares its pass, so each fit is, bit for bit, the fit it
would be alone, and the sweep reads the data as often as its longest fit does.

Fits asking with different pass origins (the origin follows the start) get one pass per
origin. ``take`` (the rows of a start's sample) is read once for all fits asking for the
same rows. A fit that raises leaves; the others go on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from .core.family import PassModel
from .core.summary import Summary

__all__ = ["Lockstep", "Member"]


class _Failed:
    """A pass's error, handed to each fit that asked for the pass."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Lockstep:
    """Passes over ``passes`` shared by ``n_fits`` fits in threads."""

    def __init__(self, passes, n_fits: int) -> None:
        self.passes = passes
        self.n_passes = 0
        """Passes over the data run so far (what a sweep costs in reads)."""
        self._cond = threading.Condition()
        self._live = set(range(n_fits))
        self._requests: dict[int, tuple[list[PassModel], np.ndarray]] = {}
        self._results: dict[int, object] = {}
        self._takes: dict[bytes, np.ndarray] = {}
        self._take_lock = threading.Lock()

    def member(self, index: int) -> Member:
        """Fit ``index``'s view of the passes."""
        return Member(self, index)

    def leave(self, index: int) -> None:
        """Fit ``index`` has ended (fitted or failed): the others no longer wait for it."""
        with self._cond:
            self._live.discard(index)
            self._dispatch()

    def run(self, index: int, models: Sequence[PassModel], origin: np.ndarray) -> list[Summary]:
        with self._cond:
            self._requests[index] = (list(models), np.asarray(origin, dtype=np.float64))
            self._dispatch()
            while index not in self._results:
                self._cond.wait()
            result = self._results.pop(index)
        if isinstance(result, _Failed):
            raise result.error
        return result

    def _dispatch(self) -> None:
        """Run the pass every live fit has asked for (called with the lock held)."""
        if not self._requests or set(self._requests) != self._live:
            return
        requests, self._requests = self._requests, {}
        by_origin: dict[bytes, list[int]] = {}
        for index in sorted(requests):
            by_origin.setdefault(requests[index][1].tobytes(), []).append(index)
        for members in by_origin.values():
            batch = [model for i in members for model in requests[i][0]]
            try:
                summaries = self._run_unique(batch, requests[members[0]][1])
            except BaseException as err:  # every fit of this pass sees the error
                for i in members:
                    self._results[i] = _Failed(err)
                if not isinstance(err, Exception):  # an interrupt: wake every fit, then stop
                    for i in requests:
                        self._results.setdefault(i, _Failed(err))
                    self._cond.notify_all()
                    raise
                continue
            self.n_passes += 1
            start = 0
            for i in members:
                count = len(requests[i][0])
                self._results[i] = summaries[start : start + count]
                start += count
        self._cond.notify_all()

    def _run_unique(self, batch: list[PassModel], origin: np.ndarray) -> list[Summary]:
        """One pass for ``batch``, each distinct model run once: fits of different
        covariance types share their k-means' Lloyd passes (the same centers, the same
        pass model), and a model's summary does not depend on what shares its pass."""
        keys = [_identity(model) for model in batch]
        first: dict = {}
        for i, key in enumerate(keys):
            if key is None or key not in first:
                first[i if key is None else key] = i
        unique = sorted(set(first.values()))
        done = dict(zip(unique, self.passes.run([batch[i] for i in unique], origin), strict=True))
        return [done[i if key is None else first[key]] for i, key in enumerate(keys)]

    def take(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        key = rows.astype(np.int64).tobytes()
        with self._take_lock:  # one read for every fit asking for the same rows
            if key not in self._takes:
                self._takes[key] = self.passes.take(rows)
            return self._takes[key].copy()


class Member:
    """One fit's passes: the engine's ``Passes`` protocol, shared through a :class:`Lockstep`."""

    def __init__(self, lockstep: Lockstep, index: int) -> None:
        self._lockstep, self._index = lockstep, index
        passes = lockstep.passes
        self.n_samples, self.n_features, self.dtype = (
            passes.n_samples,
            passes.n_features,
            passes.dtype,
        )

    def run(self, models: Sequence[PassModel], origin: np.ndarray) -> list[Summary]:
        return self._lockstep.run(self._index, models, origin)

    def take(self, rows: np.ndarray) -> np.ndarray:
        return self._lockstep.take(rows)

    def edge_rows(self, n: int) -> np.ndarray:
        return self._lockstep.passes.edge_rows(n)

    def close(self) -> None:
        """The shared passes outlive each fit: the sweep closes them."""


def _identity(model: PassModel):
    """What makes two pass models give the same summary, or None (a 'given' model: its
    responsibilities are not compared)."""
    if model.given is not None:
        return None

    def data(value):
        if value is None:
            return None
        if isinstance(value, tuple):
            return tuple(data(v) for v in value)
        array = np.asarray(value)
        return (array.dtype.str, array.shape, array.tobytes())

    return (
        model.kernel,
        model.assign,
        model.seed,
        model.entropy,
        data(model.const),
        data(tuple(model.mats)),
        data(model.shift),
    )
