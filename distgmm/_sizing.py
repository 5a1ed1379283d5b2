"""How much memory a pass over the data needs, and what follows from it: whether dask input
is persisted, and whether its streamed chunks are too large for the workers.

The working set of one chunk task is the chunk as read, its read buffers while it is read,
and the fused pass's per-block scratch. The pass walks a chunk in row blocks
(:func:`~distgmm.core.chunk.chunk_summaries`), so the per-row scratch of a model (its
log-probabilities, responsibilities and the E-step's projections: ``K`` to ``K * D`` values a
row) is held for one block only: it does not grow with the chunk's rows, and the narrower
the data, the more rows of scratch fit in the same bytes. Measured with tracemalloc on a
64 MiB chunk: 1.4 MiB of scratch for 5 features and K=5 ('full'), 2.9 MiB for 64 features
and K=16 ('full'); reading a 64 MiB chunk of a compressed Zarr store peaked at 2x its size,
a 16 MiB one at 3x (:data:`READ_FACTOR`).

On a cluster each worker holds, at once: its own process (:data:`WORKER_BASELINE_BYTES`, or
more if it reports more memory than it manages), its share of persisted chunks, and one task
per thread. distributed starts moving data to disk when a worker's memory passes its
``distributed.worker.memory.target`` fraction of the limit (0.6 by default) and pauses it at
0.8: the data are persisted only when all of it fits under the target fraction on every
worker. Streamed chunks are left whole: a chunk is one read, and splitting it in the graph
would not lower the read's memory, while the block loop already bounds the pass's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import dask
import numpy as np
import psutil

from .core.family import Kernel

__all__ = [
    "OUTPUT_CHUNK_BYTES",
    "READ_FACTOR",
    "WORKER_BASELINE_BYTES",
    "WorkerMemory",
    "check_streamed",
    "fit_scratch_bytes",
    "output_rows",
    "pass_scratch_bytes",
    "persist_fits",
    "split_rows",
    "task_bytes",
    "worker_memory",
]

logger = logging.getLogger(__name__)

#: A chunk being read peaks at this multiple of its size: the chunk, plus the compressed
#: bytes and decompression buffers (measured 2-3x for Zarr, 3-4x at 128 MiB with allocator
#: slack).
READ_FACTOR = 3
#: A worker process's own memory during a fit, beyond the data it manages: measured 206 MB
#: (a 500 MB worker at rest between passes: 322 MiB with 125 MiB of persisted chunks), 235 MB
#: for an idle worker that imported scikit-learn, scipy, zarr and pyarrow, 65 MB fresh.
WORKER_BASELINE_BYTES = 200 * 10**6
#: The fraction of a worker's memory limit its data may fill, if dask's configuration has none.
DEFAULT_TARGET = 0.6


#: Bytes of per-block buffers one chunk task allocates at most: a larger batch of models
#: (a model selection sweep) runs in parts, over several tasks per chunk when the chunk is
#: in memory, one after the other inside the task when it is streamed.
TASK_SCRATCH_BYTES = 256 * 2**20


def pass_scratch_bytes(
    models: Sequence[tuple[Kernel, int, bool]], n_features: int, dtype: np.dtype
) -> int:
    """Bytes of per-block buffers a chunk task allocates for a batch of models.

    Parameters
    ----------
    models : sequence of (kernel, n_components, entropy)
        Each model of the batch: its kernel, its number of components, and whether it
        accumulates the responsibilities' entropy (a variational E-step).
    n_features : int
    dtype : numpy dtype
        The data's: float32 data get a float32 copy of each block besides the float64 one.

    Returns
    -------
    int
        What :func:`~distgmm.core.chunk.chunk_summaries` allocates besides the chunk: per
        model its kernel's work buffer, its (K, block) log-probabilities (twice with the
        entropy) and its moments; per block size the shifted block(s) and the widest
        model's temporaries. Independent of the chunk's rows (for chunks of at least one
        block); measured with tracemalloc, an upper bound within 40 % of the peak.
    """
    total, temporaries = 0, {}
    view_row = n_features * (8 + (4 if np.dtype(dtype) == np.float32 else 0))
    for kernel, k, entropy in models:
        block = kernel.block_rows(k, n_features)
        if block not in temporaries:
            total += block * view_row
        # The normalisation's and the moments' temporaries (a (K, block) array, a few
        # (block, D) and per-row ones), freed before the next model: counted once per
        # block size, for its widest model (measured within 4% of the peak above the rest).
        width = k + 2 * n_features + 4
        temporaries[block] = max(temporaries.get(block, 0), 8 * block * width)
        work = max(1, kernel.work_size(k, n_features, block))
        moments = k * n_features * (n_features + 1)  # means and at most a full scatter each
        total += 8 * (work + block * k * (2 if entropy else 1) + moments)
    total += sum(temporaries.values())
    return total


def fit_scratch_bytes(
    covariance_type: str, n_components: int, n_features: int, dtype: np.dtype, n_models: int
) -> int:
    """:func:`pass_scratch_bytes` of a Gaussian fit's widest pass: ``n_models`` restarts'
    E-steps at once (counted with the entropy buffer of a variational E-step)."""
    from .families.gaussian.kernel import GaussianKernel

    kernel = GaussianKernel(covariance_type, covariance_type)
    return pass_scratch_bytes([(kernel, n_components, True)] * n_models, n_features, dtype)


def task_bytes(chunk_rows: int, row_bytes: int, scratch: int, read: bool) -> int:
    """The working set of one chunk task: the chunk (``READ_FACTOR`` times it while it is
    read, if ``read``) and the pass's ``scratch`` (:func:`pass_scratch_bytes`)."""
    return chunk_rows * row_bytes * (READ_FACTOR if read else 1) + scratch


class WorkerMemory:
    """What the workers of a cluster can hold: per worker its limit, threads and baseline."""

    def __init__(self, limits: Sequence[float], threads: Sequence[int], used: Sequence[float]):
        self.limits = [float(v) for v in limits]
        self.threads = [max(1, int(t)) for t in threads]
        #: The process's own memory: what it uses beyond the data it manages, at least the
        #: measured baseline of a worker that has loaded distgmm.
        self.baseline = [max(float(u), WORKER_BASELINE_BYTES) for u in used]
        self.target = float(dask.config.get("distributed.worker.memory.target", DEFAULT_TARGET))

    def __len__(self) -> int:
        return len(self.limits)

    def room(self) -> list[float]:
        """Per worker, the bytes data and tasks may fill before it reaches its target."""
        return [self.target * m - b for m, b in zip(self.limits, self.baseline, strict=True)]


def worker_memory(client) -> WorkerMemory | None:
    """The memory of ``client``'s workers, or None without a client or a limit on each."""
    if client is None:
        return None
    workers = client.scheduler_info(n_workers=-1).get("workers", {}).values()
    limits = [w.get("memory_limit") or 0 for w in workers]
    if not limits or not all(limits):
        return None
    used = []
    for w in workers:
        metrics = w.get("metrics", {})
        used.append(metrics.get("memory", 0) - metrics.get("managed_bytes", 0))
    return WorkerMemory(limits, [w.get("nthreads", 1) for w in workers], used)


def persist_fits(
    chunks: Sequence[int], row_bytes: int, scratch: int, workers: WorkerMemory | None
) -> bool:
    """Whether persisting rows chunked as ``chunks`` keeps every worker under its target.

    Parameters
    ----------
    chunks : sequence of int
        Rows per chunk.
    row_bytes : int
        Bytes of one row (features x itemsize, plus 8 with sample weights).
    scratch : int
        :func:`pass_scratch_bytes` of the passes' models.
    workers : WorkerMemory or None
        The cluster's (:func:`worker_memory`); without one (no cluster, or workers without
        memory limits), the data must take at most half of this machine's available memory.

    Returns
    -------
    bool
        On a cluster: for each worker, its baseline + its share of the persisted chunks (the
        largest chunks, as many as the even share of their count) + per thread one task (the
        largest chunk's read buffers while it is persisted, then the scratch) fits in
        ``target x memory_limit``.
    """
    nbytes = sum(chunks) * row_bytes
    if workers is None:
        available = float(psutil.virtual_memory().available)
        logger.debug("data %.3g bytes, available memory %.3g bytes", nbytes, available)
        return nbytes + scratch <= 0.5 * available
    largest = sorted(chunks, reverse=True)
    held = sum(largest[: math.ceil(len(chunks) / len(workers))]) * row_bytes
    reading = largest[0] * row_bytes * (READ_FACTOR - 1)
    need = [held + t * (reading + scratch) for t in workers.threads]
    fits = all(n <= r for n, r in zip(need, workers.room(), strict=True))
    logger.debug(
        "data %.3g bytes; per worker %.3g bytes held + tasks, room %s: persist=%s",
        nbytes,
        max(need),
        [f"{r:.3g}" for r in workers.room()],
        fits,
    )
    return fits


def check_streamed(
    chunks: Sequence[int], row_bytes: int, scratch: int, workers: WorkerMemory | None
) -> None:
    """Warn when streaming chunks of this size can get a worker restarted.

    Each thread of a worker reading a chunk holds up to :func:`task_bytes` of it; with the
    worker's process, that must stay under distributed's ``terminate`` fraction (0.95) of
    its limit, or its nanny restarts it. The estimate is on the safe side (a streamed 64 MiB
    Zarr chunk measured 2.4x its size on a worker, not 3x), so the warning is kept for
    certain trouble rather than the ``pause`` fraction (0.8). Streamed chunks are the reads
    themselves, so they are not split here (that would not lower a read's memory): the
    reader's ``chunk_bytes`` (``--chunk-mb``) is the remedy, which the warning says.
    """
    if workers is None or not chunks:
        return
    task = task_bytes(max(chunks), row_bytes, scratch, read=True)
    terminate = float(dask.config.get("distributed.worker.memory.terminate", 0.95) or 1.0)
    worst = max(
        (b + t * task) / m
        for m, t, b in zip(workers.limits, workers.threads, workers.baseline, strict=True)
    )
    if worst > terminate:
        logger.warning(
            "Reading chunks of %.0f MiB takes up to %.0f MiB per task (%dx the chunk while "
            "read): with a worker's process, %.0f%% of its memory limit, above the %.0f%% at "
            "which distributed restarts a worker. Use smaller chunks (chunk_bytes= of the "
            "readers, --chunk-mb) or more memory.",
            max(chunks) * row_bytes / 2**20,
            task / 2**20,
            READ_FACTOR,
            100 * worst,
            100 * terminate,
        )


#: A prediction task's outputs are held whole until they are written or returned, and with
#: K probabilities a row they can be many times its chunk's bytes (2 float32 features and
#: K=50: a 64 MiB chunk gives 3.4 GB of probabilities). Chunks whose outputs would pass this
#: are split (lazy outputs, Zarr) or written in parts (Parquet row groups).
OUTPUT_CHUNK_BYTES = 64 * 2**20


def output_rows(row_bytes: int, budget: int | None = None) -> int:
    """The rows whose outputs of ``row_bytes`` each take at most ``budget`` bytes (>= 1;
    :data:`OUTPUT_CHUNK_BYTES` by default)."""
    budget = OUTPUT_CHUNK_BYTES if budget is None else budget
    return max(1, budget // max(1, row_bytes))


def split_rows(X, rows: int):
    """Dask array ``X`` with every row chunk cut into near-equal pieces of at most ``rows``.

    Pieces are never merged across chunks, so each output chunk depends on one input chunk
    and a streamed chunk is still read once. Unknown chunk sizes are left alone.
    """
    sizes = X.chunks[0]
    if not sizes or any(math.isnan(n) for n in sizes) or max(sizes) <= rows:
        return X
    pieces = []
    for n in sizes:
        parts = -(-n // rows)
        base, extra = divmod(n, parts)
        pieces += [base + 1] * extra + [base] * (parts - extra)
    return X.rechunk({0: tuple(pieces)})
