"""Where the passes over the data run: a local thread pool for numpy, Dask for dask arrays.

Both sources split the rows into chunks, run :func:`~distgmm.core.chunk.chunk_summaries` on
each, and add the results up along the same fixed tree (:func:`tree_reduce`). For the same
chunking a numpy and a dask fit are therefore bit-identical, and a Dask fit does not depend
on how many workers ran it or in which order tasks finished.
"""

from __future__ import annotations

import functools
import logging
import operator
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, Protocol

import dask
import dask.array as da
import numpy as np
from dask import delayed

from ._blas import single_threaded_blas
from ._passnames import PassNames, named_combine
from ._scattered import Scattered
from ._sizing import TASK_SCRATCH_BYTES, check_streamed, persist_fits, worker_memory
from ._waits import compute
from .core.chunk import chunk_summaries, split_by_scratch
from .core.family import PassModel
from .core.summary import Summary as Stats

__all__ = [
    "DaskPasses",
    "InMemoryPasses",
    "Passes",
    "make_passes",
    "single_threaded_blas",
    "tree_reduce",
]

logger = logging.getLogger(__name__)

#: Chunk size for numpy input: small enough that two cores share the work evenly.
NUMPY_CHUNK_BYTES = 16 * 2**20
SPLIT_EVERY = 8


class Passes(Protocol):
    """A dataset that can be read in passes (the engine's view of the data)."""

    n_samples: int
    n_features: int
    dtype: np.dtype

    def run(self, models: Sequence[PassModel], origin: np.ndarray) -> list[Stats]:
        """One pass: statistics of every model over all rows."""

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The rows at the given global indices, as float64 numpy."""

    def edge_rows(self, n: int) -> np.ndarray:
        """The first and the last ``n`` rows as float64 numpy, reading only their chunks."""

    def close(self) -> None:
        """Release what the passes hold (persisted chunks, BLAS limits)."""


def tree_reduce(parts: list, combine: Callable) -> Any:
    """Combine ``parts`` in groups of consecutive items until one is left.

    The grouping depends only on ``len(parts)``, so the floating-point summation order is
    fixed, whatever ran the parts. ``combine`` may be a plain function or a ``delayed`` one.
    """
    if not parts:
        raise ValueError("no chunks to reduce")
    while len(parts) > 1:
        groups = [parts[i : i + SPLIT_EVERY] for i in range(0, len(parts), SPLIT_EVERY)]
        parts = [combine(*group) if len(group) > 1 else group[0] for group in groups]
    return parts[0]


def combine_stats(*parts: list[Stats]) -> list[Stats]:
    """Add per-chunk statistics model by model (the reduction's combine step)."""
    return [functools.reduce(operator.add, per_model) for per_model in zip(*parts, strict=True)]


class InMemoryPasses:
    """Passes over a numpy array in this process, chunks spread over a thread pool.

    No scheduler and no graph: for data already in memory this is the fastest path, and the
    only sensible one for small data, where a graph's fixed cost would dominate.
    """

    def __init__(
        self,
        X: np.ndarray,
        sample_weight: np.ndarray | None = None,
        n_threads: int | None = None,
        chunk_rows: int | None = None,
    ) -> None:
        self.X = X
        self.sample_weight = sample_weight
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        rows = chunk_rows or max(1, NUMPY_CHUNK_BYTES // max(1, X.shape[1] * X.itemsize))
        self.bounds = [(s, min(s + rows, self.n_samples)) for s in range(0, self.n_samples, rows)]
        self.n_threads = max(1, min(n_threads or os.cpu_count() or 1, len(self.bounds)))
        self._stack = ExitStack()
        self._stack.enter_context(single_threaded_blas())
        self._pool = (
            self._stack.enter_context(ThreadPoolExecutor(self.n_threads))
            if self.n_threads > 1
            else None
        )

    def _chunk(self, models: Sequence[PassModel], origin: np.ndarray, bounds) -> list[Stats]:
        start, stop = bounds
        weights = None if self.sample_weight is None else self.sample_weight[start:stop]
        return chunk_summaries(
            self.X[start:stop], list(models), origin, weights, start, max_scratch=TASK_SCRATCH_BYTES
        )

    def run(self, models: Sequence[PassModel], origin: np.ndarray) -> list[Stats]:
        task = functools.partial(self._chunk, models, origin)
        parts = list(self._pool.map(task, self.bounds) if self._pool else map(task, self.bounds))
        return tree_reduce(parts, combine_stats)

    def take(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.X[rows], dtype=np.float64)

    def edge_rows(self, n: int) -> np.ndarray:
        return np.asarray(np.concatenate([self.X[:n], self.X[-n:]]), dtype=np.float64)

    def close(self) -> None:
        self._stack.close()


def _block_stats(X, *weights, shared, block_info=None):
    """Statistics of one chunk, wrapped in a (1, 1) object array for ``map_blocks``."""
    out = np.empty((1, 1), dtype=object)
    out[0, 0] = _chunk_task(block_info[0]["array-location"][0][0], shared, X, *weights)
    return out


def _chunk_task(row0, shared, X, *weights):
    """Statistics of one chunk already in memory, with single-threaded BLAS on any worker.

    OpenBLAS splits a float32 GEMM differently for another thread count, and its rounding
    with it, so a chunk's statistics would depend on the BLAS setting of the worker that
    ran (or, after a worker was lost, recomputed) it: one started without a nanny, or by
    another launcher, gets one BLAS thread per core. Pinned here, they depend on the rows
    only, as in a fit on local threads.
    """
    models, origin = shared
    with single_threaded_blas():
        w = weights[0][:, 0] if weights else None
        return chunk_summaries(X, models, origin, w, row0, max_scratch=TASK_SCRATCH_BYTES)


def _block_take(X, rows, block_info=None):
    """The rows of ``rows`` (sorted global indices) that fall in this chunk."""
    start, stop = block_info[0]["array-location"][0]
    lo, hi = np.searchsorted(rows, [start, stop])
    out = np.empty((1, 1), dtype=object)
    out[0, 0] = np.array(X[rows[lo:hi] - start], dtype=np.float64)
    return out


def _unwrap(part):
    return part[0, 0] if isinstance(part, np.ndarray) else part


def _combine_parts(*parts) -> list[Stats]:
    return combine_stats(*map(_unwrap, parts))


def _concatenate(*parts) -> list[Stats]:
    return [stats for part in parts for stats in _unwrap(part)]


def _whole_rows(X: da.Array, sample_weight: da.Array | None):
    """Chunks of whole rows (the kernels need them), and weights as a column chunked alike."""
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    if sample_weight is not None:
        sample_weight = da.asarray(sample_weight).rechunk((X.chunks[0],))[:, None]
    return X, sample_weight


#: How many times a pass is rerun after scattered chunks were lost with their workers.
_RESCATTERS = 3


class DaskPasses:
    """Passes over a dask array: one small graph per pass, chunk tasks plus a fixed tree.

    Each chunk task is the chunk's own graph (its read from Zarr, Parquet, ... when the data
    are streamed) fused with the statistics kernel by dask's blockwise optimisation, so a
    worker holds one chunk per thread at a time and a read chunk never waits in memory for
    a separate task. The batch of pass models enters each graph once, as a single key every
    chunk task depends on, so the parameters cross the network once per worker and pass.
    The data are persisted in the cluster's memory when they fit with the passes' working set
    (``persist='auto'``, :func:`distgmm._sizing.persist_fits`; ``scratch`` is the bytes of
    per-block buffers of a chunk task, :func:`distgmm._sizing.pass_scratch_bytes`),
    otherwise every pass reads them from their source again; either way the graph of a pass
    is built afresh from the array's own, so it does not grow with the iterations. Chunks
    already in memory (persisted, or scattered numpy data) have nothing to fuse, and their
    tasks are built on the chunks' keys directly. Scattered chunks lost with a worker are
    scattered again and the pass rerun; persisted ones dask recomputes from their source.
    """

    def __init__(
        self,
        X: da.Array | None,
        sample_weight: da.Array | None = None,
        client=None,
        persist: bool | str = "auto",
        scattered: Scattered | None = None,
        scratch: int = 0,
    ) -> None:
        self._scattered = scattered
        self._names = PassNames()
        if scattered is not None:
            X, sample_weight = scattered.send()
            persist = False
        X, sample_weight = _whole_rows(X, sample_weight)
        self.client = client
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        row_bytes = X.shape[1] * X.dtype.itemsize + (0 if sample_weight is None else 8)
        workers = worker_memory(client) if scattered is None else None  # asked once
        self.persisted = (
            persist_fits(X.chunks[0], row_bytes, scratch, workers)
            if persist == "auto"
            else bool(persist)
        )
        if self.persisted:
            X, sample_weight = self._persist(X, sample_weight)
        elif scattered is None:
            check_streamed(X.chunks[0], row_bytes, scratch, workers)
        self._use(X, sample_weight)
        self._stack = ExitStack()
        if client is None:  # local threads: keep BLAS single-threaded per task
            self._stack.enter_context(single_threaded_blas())
        logger.info(
            "data %s %s in %d chunks, %s",
            X.shape,
            X.dtype,
            X.numblocks[0],
            "persisted in memory" if self.persisted else "streamed from its source each pass",
        )

    def _use(self, X: da.Array, sample_weight: da.Array | None) -> None:
        self.X = X
        self._arrays = (X,) if sample_weight is None else (X, sample_weight)
        self._per_chunk = ((1,) * X.numblocks[0], (1,))
        # Chunks already in memory have no read to fuse: their tasks are built directly on
        # the chunks' keys, which spares the blockwise optimisation of every pass (measured
        # ~20 ms a pass, a fifth of an iteration on 200k x 64).
        starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).tolist()
        self._blocks = (
            list(zip(starts, *(a.to_delayed().ravel() for a in self._arrays), strict=True))
            if self.persisted or self._scattered is not None
            else None
        )

    def _persist(self, *arrays):
        present = [a for a in arrays if a is not None]
        done = self.client.persist(present) if self.client else dask.persist(*present)
        done = iter(done)
        return tuple(next(done) if a is not None else None for a in arrays)

    def _compute(self, graph):
        return compute(self.client, graph) if self.client is not None else dask.compute(graph)[0]

    def _map_chunks(self, func, *arrays, **shared) -> da.Array:
        return da.map_blocks(
            func,
            *arrays,
            **shared,
            chunks=self._per_chunk,
            dtype=object,
            meta=np.empty((0, 0), dtype=object),
        )

    def graph(self, models: Sequence[PassModel], origin: np.ndarray):
        """The ``Delayed`` statistics of one pass: chunk tasks and the reduction tree."""
        # One key holds the parameters; every chunk task depends on it rather than embedding
        # its own copy, so they are shipped once per worker.
        name = self._names.next()  # the dashboard's name of every task of the pass
        if self._blocks is None:  # streamed: one read per chunk, its task runs every model
            shared = delayed((list(models), origin), traverse=False, name=f"{name}-parameters")
            per_chunk = self._map_chunks(_block_stats, *self._arrays, shared=shared, name=name)
            parts = list(per_chunk.to_delayed(optimize_graph=True).ravel())
            return tree_reduce(parts, named_combine(_combine_parts, name))
        # Chunks in memory: a batch too large for one task's buffers is split over several
        # tasks per chunk (each within TASK_SCRATCH_BYTES), each part reduced on its own.
        groups = split_by_scratch(models, self.n_features, TASK_SCRATCH_BYTES)
        task, totals = delayed(_chunk_task), []
        for g, group in enumerate(groups):
            key = name if len(groups) == 1 else f"{name}-part{g}"
            shared = delayed((group, origin), traverse=False, name=f"{key}-parameters")
            parts = [
                task(row0, shared, *blocks, dask_key_name=(key, i))
                for i, (row0, *blocks) in enumerate(self._blocks)
            ]
            totals.append(tree_reduce(parts, named_combine(_combine_parts, key)))
        return totals[0] if len(totals) == 1 else delayed(_concatenate)(*totals)

    def _computed(self, build: Callable[[], Any], retries: int = _RESCATTERS):
        """The result of the graph ``build()`` makes; made again after a re-scatter."""
        try:
            return self._compute(build())
        except Exception:
            lost = (
                self._scattered.lost()
                if self._scattered is not None and retries and self.client.status == "running"
                else 0
            )
            if not lost:
                raise
            logger.warning(
                "%d of %d scattered chunks were lost with their worker: sending them again, "
                "and rerunning the pass",
                lost,
                len(self._scattered.futures),
            )
            self._use(*_whole_rows(*self._scattered.send()))
        return self._computed(build, retries - 1)

    def run(self, models: Sequence[PassModel], origin: np.ndarray) -> list[Stats]:
        return _unwrap(self._computed(lambda: self.graph(models, origin)))

    def take(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        order = np.argsort(rows, kind="stable")
        wanted = delayed(rows[order], traverse=False)
        picked = self._computed(lambda: self._map_chunks(_block_take, self.X, rows=wanted))
        out = np.empty((len(rows), self.n_features))
        out[order] = np.concatenate([p[0] for p in picked])
        return out

    def edge_rows(self, n: int) -> np.ndarray:
        # slicing culls the other chunks
        edges = self._computed(lambda: da.concatenate([self.X[:n], self.X[-n:]]))
        return np.asarray(edges, dtype=np.float64)

    def close(self) -> None:
        self._stack.close()
        self.X = None
        self._arrays = ()


def make_passes(
    X, sample_weight=None, client=None, persist: bool | str = "auto", scratch: int = 0
) -> InMemoryPasses | DaskPasses:
    """The pass runner for ``X``: in process for numpy (unless a client is given), Dask otherwise.

    Parameters
    ----------
    X : ndarray or dask.array.Array of shape (n_samples, n_features)
    sample_weight : array-like of shape (n_samples,), optional
    client : distributed.Client, optional
        Run on this cluster; numpy input is then moved to it as a dask array.
    persist : bool or 'auto'
        For dask input, keep the data in (cluster) memory between passes; 'auto' does when
        they fit with the passes' working set (:func:`distgmm._sizing.persist_fits`).
    scratch : int
        Bytes of per-block buffers each chunk task allocates
        (:func:`distgmm._sizing.pass_scratch_bytes`), for that decision.
    """
    if isinstance(X, da.Array):
        if sample_weight is not None and not isinstance(sample_weight, da.Array):
            sample_weight = da.from_array(np.asarray(sample_weight), chunks=(X.chunks[0],))
        return DaskPasses(X, sample_weight, client=client, persist=persist, scratch=scratch)
    if client is not None:
        scattered = Scattered(client, X, sample_weight, NUMPY_CHUNK_BYTES)
        return DaskPasses(None, client=client, scattered=scattered)
    return InMemoryPasses(X, sample_weight)
