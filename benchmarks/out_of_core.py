"""Time per EM iteration of distgmm on a Zarr dataset larger than the workers' memory.

What is measured
    A float32 Zarr array of ``--gb`` GiB (default 4 GiB: 67,108,864 rows x 16 features,
    stored in zstd-compressed chunks of ~32 MiB of rows) is written to a temporary folder and
    opened with ``distgmm.read_zarr``. A ``distgmm.local_client`` of two single-threaded
    worker processes with a memory limit of 1 GiB each (the dataset is at least twice their
    total limit) then times:

    * the raw read pass: a computation that reads and decompresses every chunk of the same
      dask array and does nothing else (the I/O floor of one streaming pass);
    * a streaming fit, ``persist=False``: every EM iteration reads the store again;
    * for comparison, the compute cost of one iteration without any read: distgmm's numpy
      path (in this process, two threads) on the first ``--inmem-gb`` GiB of the same store
      loaded as numpy, scaled linearly to all the rows (extrapolated, not measured in full).

    The ratio streaming / max(raw read, in-memory compute) says how well reading and
    computing overlap; the target is at most 1.3. The workers' idle and peak resident memory
    (sampled every 5 ms), spilling to disk and restarts are reported as well: a streaming fit
    should hold a few chunks per worker, never spill, and never be restarted by the nanny.

How
    The data are a mixture of ``--components`` well-separated Gaussian blobs with correlated
    covariances, written in slabs of ~256 MiB from a seeded generator, so the writer's
    memory stays bounded. Every fit starts from the same given weights, means (the true ones
    perturbed) and precisions (the true ones, inflated), so there is no initialisation pass,
    with ``tol=0`` so that it does exactly ``max_iter`` iterations (checked). The time per
    iteration is

        (wall time of a fit of LONG iterations - wall time of a fit of SHORT iterations)
        / (LONG - SHORT),

    which cancels validation, set-up and every fixed cost, as in ``benchmarks/vs_sklearn.py``.
    Each repeat runs the raw read, the streaming pair and the in-memory pair in turn, so that
    the machine's background load hits them alike; the figures printed are medians.

    The store is read through the operating system's page cache: on a machine whose free
    memory holds the whole store (as here), passes after the first read it from memory, not
    from the disk, and the figures are those of reading and decompressing cached files (the
    header says which). The worker memory limit is what the dataset exceeds, by design.

Usage::

    python benchmarks/out_of_core.py                   # 4 GiB, 3 repeats; ~15 min on 2 cores
    python benchmarks/out_of_core.py --quick           # tiny smoke run, under a minute
    python benchmarks/out_of_core.py --gb 8 --covariance diag --no-compression
    python benchmarks/out_of_core.py --dir /mnt/scratch   # put the temporary store there

The temporary store is deleted at the end, also on Ctrl-C or SIGTERM. The exit status is 1
if a worker restarted during the run (the figures are then not trustworthy), 0 otherwise (a
missed target or spilling is reported, not an error).
"""

from __future__ import annotations

import contextlib  # isort: skip

# First: benchmarks/select.py must not shadow the standard library (_benchpath.py); a
# worker process is spawned with the parent's path, which no longer holds benchmarks/.
with contextlib.suppress(ImportError):
    import _benchpath  # noqa: F401

import argparse
import importlib
import math
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dask.array as da
import numpy as np
import psutil
import zarr
from distributed import Client

import distgmm
from distgmm import ConvergenceWarning, GaussianMixture, local_client, read_zarr
from distgmm.engine import NUMPY_CHUNK_BYTES

MiB = 2**20
GiB = 2**30
SLAB_BYTES = 256 * MiB
TARGET_RATIO = 1.3
#: How many times the workers' total memory limit the dataset must be.
MIN_OVERSIZE = 2.0
DEFAULTS = {
    "gb": 4.5,
    "repeats": 3,
    "store_chunk_mib": 32.0,
    "chunk_mib": 64.0,
    "inmem_gb": 0.5,
    "short": 2,
    "long": 6,
}
#: --quick: a few MiB in a handful of chunks, one repeat, 1 vs 3 iterations.
QUICK = {
    "gb": 0.05,
    "repeats": 1,
    "store_chunk_mib": 2.0,
    "chunk_mib": 8.0,
    "inmem_gb": 0.03,  # two of the numpy path's 16 MiB chunks, so that both threads work
    "short": 1,
    "long": 3,
}

Fit = Callable[[int], GaussianMixture]


# ----------------------------------------------------------------------------- the data
@dataclass(frozen=True)
class Truth:
    """The mixture the data are drawn from: row = z @ mixing[j] + centers[j], z ~ N(0, I)."""

    weights: np.ndarray
    centers: np.ndarray
    mixing: np.ndarray

    @property
    def covariances(self) -> np.ndarray:
        return np.einsum("kij,kil->kjl", self.mixing, self.mixing)


def make_truth(n_components: int, n_features: int, seed: int) -> Truth:
    """Well separated blobs (centres ~ N(0, 4^2)), unequal weights, correlated covariances."""
    rng = np.random.default_rng(seed)
    d = n_features
    centers = rng.normal(0.0, 4.0, (n_components, d))
    weights = rng.dirichlet(np.full(n_components, 5.0))
    mixing = np.eye(d) + rng.normal(0.0, 0.3 / math.sqrt(d), (n_components, d, d))
    return Truth(weights, centers, mixing)


def draw_rows(truth: Truth, n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """``n_rows`` float32 rows of the mixture."""
    k, d = truth.centers.shape
    labels = rng.choice(k, size=n_rows, p=truth.weights)
    X = rng.standard_normal((n_rows, d), dtype=np.float32)
    mixing = truth.mixing.astype(np.float32)
    centers = truth.centers.astype(np.float32)
    for j in range(k):
        rows = np.flatnonzero(labels == j)
        X[rows] = X[rows] @ mixing[j] + centers[j]
    return X


def write_store(
    path: Path, n_rows: int, truth: Truth, store_rows: int, compress: bool, seed: int
) -> float:
    """Write the dataset as a float32 Zarr v3 array, slab by slab; return the seconds taken."""
    d = truth.centers.shape[1]
    slab_rows = max(1, SLAB_BYTES // (store_rows * d * 4)) * store_rows
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    array = zarr.create_array(
        store=str(path),
        shape=(n_rows, d),
        chunks=(store_rows, d),
        dtype="float32",
        **({} if compress else {"compressors": None}),
    )
    for row0 in range(0, n_rows, slab_rows):
        row1 = min(row0 + slab_rows, n_rows)
        array[row0:row1] = draw_rows(truth, row1 - row0, rng)
    return time.perf_counter() - start


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def initial_params(truth: Truth, covariance_type: str, seed: int) -> dict[str, np.ndarray]:
    """Given starting weights, means and precisions (so no initialisation pass).

    The means are the true centres moved by N(0, 0.5^2) per coordinate, the covariances
    the true ones times 1.5: EM has work to do, from a start where nothing collapses.
    """
    rng = np.random.default_rng(seed + 1)
    covs = 1.5 * truth.covariances
    if covariance_type == "full":
        precisions = np.linalg.inv(covs)
    elif covariance_type == "tied":
        precisions = np.linalg.inv(np.einsum("k,kij->ij", truth.weights, covs))
    elif covariance_type == "diag":
        precisions = 1.0 / np.diagonal(covs, axis1=1, axis2=2)
    else:  # spherical
        precisions = 1.0 / np.diagonal(covs, axis1=1, axis2=2).mean(axis=1)
    return {
        "weights_init": truth.weights,
        "means_init": truth.centers + rng.normal(0.0, 0.5, truth.centers.shape),
        "precisions_init": precisions,
    }


# ----------------------------------------------------------------------------- timing
def _touch(block: np.ndarray) -> np.ndarray:
    """The row count of a chunk: the chunk is read and decompressed, and nothing else."""
    return np.array([block.shape[0]], dtype=np.int64)


def raw_read(X: da.Array, client: Client) -> float:
    """Seconds to read every chunk of ``X`` on the cluster, doing nothing with it."""
    counts = da.map_blocks(_touch, X, drop_axis=1, chunks=((1,) * X.numblocks[0],), dtype=np.int64)
    start = time.perf_counter()
    total = int(client.compute(counts).result().sum())
    seconds = time.perf_counter() - start
    if total != X.shape[0]:
        raise RuntimeError(f"the raw read pass saw {total} rows, not {X.shape[0]}")
    return seconds


def timed_fit(fit: Fit, max_iter: int) -> float:
    start = time.perf_counter()
    model = fit(max_iter)
    seconds = time.perf_counter() - start
    if model.n_iter_ != max_iter:
        raise RuntimeError(f"the fit did {model.n_iter_} iterations, not {max_iter}")
    if not np.isfinite(model.lower_bounds_).all() or not np.isfinite(model.means_).all():
        raise RuntimeError("the fit returned a non-finite model")
    return seconds


def per_iteration(fit: Fit, short: int, long: int) -> float:
    return (timed_fit(fit, long) - timed_fit(fit, short)) / (long - short)


# ----------------------------------------------------------------------------- the workers
def _rss() -> int:
    return psutil.Process().memory_info().rss


def _start_rss_sampler(dask_worker) -> None:
    """Sample this worker's RSS every 5 ms from now on, in a daemon thread.

    Not ``ru_maxrss``: Linux keeps it across ``exec``, so a spawned worker would report the
    peak of the process that started it (this one, which wrote the dataset).
    """
    process = psutil.Process()
    dask_worker.bench_peak_rss = process.memory_info().rss

    def sample() -> None:
        while True:
            rss = process.memory_info().rss
            dask_worker.bench_peak_rss = max(dask_worker.bench_peak_rss, rss)
            time.sleep(0.005)

    threading.Thread(target=sample, daemon=True, name="rss-sampler").start()


def _max_rss(dask_worker) -> int:
    """Peak RSS seen by the sampler, in bytes."""
    return dask_worker.bench_peak_rss


def _spill_metrics(dask_worker) -> dict:
    return dict(getattr(dask_worker.data, "cumulative_metrics", {}))


def _warm_up() -> None:
    """Import what the first tasks import, so that the idle figure includes it."""
    for module in ("distgmm.engine", "zarr", "dask.array"):
        importlib.import_module(module)


def disk_writes(client: Client) -> int:
    """Values spilled to disk by all workers (distributed's 'disk-write' count)."""
    return int(
        sum(
            value
            for metrics in client.run(_spill_metrics).values()
            for key, value in metrics.items()
            if "disk-write" in str(key) and "count" in str(key)
        )
    )


def memory_limits(client: Client) -> dict[str, int]:
    """Each worker's memory limit in bytes, by address."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return {addr: int(w.get("memory_limit") or 0) for addr, w in workers.items()}


# ----------------------------------------------------------------------------- report
def gib(n: float) -> str:
    return f"{n / GiB:.2f} GiB"


def mib(n: float) -> str:
    return f"{n / MiB:.0f} MiB"


def header_lines(args: argparse.Namespace, n_rows: int, store_bytes: int) -> list[str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    memory = psutil.virtual_memory()
    cached = store_bytes < memory.available
    lines = [
        f"distgmm {distgmm.__version__}, zarr {zarr.__version__}, numpy {np.__version__}; "
        f"cores: {os.cpu_count()} (usable: {usable}); RAM {gib(memory.total)} "
        f"(available {gib(memory.available)})",
        f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"seconds per EM iteration = (fit of {args.long} iterations - fit of {args.short}) / "
        f"{args.long - args.short}, median of {args.repeats} repeat(s); given start, tol=0, "
        f"K={args.components}, {args.covariance}, {n_rows:,} x {args.features} float32",
    ]
    if cached:
        lines.append(
            f"note: the store ({gib(store_bytes)} on disk) fits in this machine's available "
            "memory, so the OS page cache keeps it: passes read cached files, not the disk"
        )
    if args.quick:
        lines.append(
            "--quick: the data are far smaller than the workers' memory limit, so the "
            f"'at least {MIN_OVERSIZE:g}x the memory limit' condition does not hold; "
            "this run only checks that the script works"
        )
    return [*lines, ""]


@dataclass
class Report:
    n_rows: int
    n_features: int
    store_bytes: int
    store_rows: int
    compressed: bool
    write_seconds: float
    X: da.Array
    limits: list[int]
    threads: int
    read: float
    stream: float
    inmem: float
    inmem_rows: int
    inmem_read: float
    idle_rss: list[int]
    peak_rss: list[int]
    spilled: int
    restarted: int

    @property
    def nbytes(self) -> int:
        return self.n_rows * self.n_features * 4

    @property
    def inmem_threads(self) -> int:
        """Threads of distgmm's numpy path on the slice: one per chunk, at most one per core."""
        chunks = math.ceil(self.inmem_rows * self.n_features * 4 / NUMPY_CHUNK_BYTES)
        return max(1, min(os.cpu_count() or 1, chunks))

    @property
    def compute(self) -> float:
        return self.inmem * self.n_rows / self.inmem_rows

    @property
    def ratio(self) -> float:
        return self.stream / max(self.read, self.compute)


def table(r: Report, args: argparse.Namespace) -> list[str]:
    oversize = r.nbytes / sum(r.limits)
    rows_per_chunk = r.X.chunks[0][0]
    chunk_bytes = rows_per_chunk * r.n_features * 4
    codec = "zstd (zarr 3 default)" if r.compressed else "uncompressed"
    n_stored = math.ceil(r.n_rows / r.store_rows)
    verdict = "PASS" if r.ratio <= TARGET_RATIO else "MISS"
    big_enough = "yes" if oversize >= MIN_OVERSIZE else "NO"
    per_limit = ", ".join(
        f"{100 * p / lim:.0f}%" for p, lim in zip(r.peak_rss, r.limits, strict=True)
    )
    w = 38
    return [
        f"{'dataset':{w}} {r.n_rows:,} x {r.n_features} float32 = {gib(r.nbytes)} "
        f"({r.nbytes / 1e9:.2f} GB); on disk {gib(r.store_bytes)}, {codec}, "
        f"{n_stored} stored chunks of {mib(r.store_rows * r.n_features * 4)}; "
        f"written in {r.write_seconds:.1f} s",
        f"{'workers':{w}} {len(r.limits)} x {r.threads} thread, memory limit "
        f"{' + '.join(gib(x) for x in r.limits)} = {gib(sum(r.limits))}; "
        f"dataset / total limit = {oversize:.2f}x (>= {MIN_OVERSIZE:g}x: {big_enough})",
        f"{'dask chunks':{w}} {r.X.numblocks[0]} chunks of {rows_per_chunk:,} rows = "
        f"{mib(chunk_bytes)}",
        "",
        f"{'':{w}} {'seconds':>8}",
        f"{'raw read pass':{w}} {r.read:8.3f}   read + decompress every chunk on the "
        f"workers, nothing else ({r.nbytes / r.read / 1e9:.2f} GB/s)",
        f"{'in-memory compute per iteration':{w}} {r.compute:8.3f}   EXTRAPOLATED: numpy "
        f"in process ({r.inmem_threads} threads) on the first {r.inmem_rows:,} rows "
        f"({gib(r.inmem_rows * r.n_features * 4)}): {r.inmem:.4f} s/iter x "
        f"{r.n_rows / r.inmem_rows:.2f}",
        f"{'streaming per iteration':{w}} {r.stream:8.3f}   persist=False: every "
        "iteration reads the store",
        f"{'ratio streaming / max(read, compute)':{w}} {r.ratio:8.3f}   target <= "
        f"{TARGET_RATIO:g}: {verdict}",
        "",
        f"{'worker RSS idle (psutil)':{w}} {', '.join(mib(x) for x in r.idle_rss)}",
        f"{'worker RSS peak (sampled)':{w}} {', '.join(mib(x) for x in r.peak_rss)}   "
        f"({per_limit} of the limit; since the worker started: raw reads and fits)",
        f"{'spilled to disk (disk-write count)':{w}} {r.spilled}   (0 expected)",
        f"{'workers restarted':{w}} {r.restarted}   (0 expected)",
        "",
        f"slice read for the in-memory figure: {r.inmem_read:.3f} s in this process "
        f"(not used in the ratio)",
        f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time per EM iteration of distgmm streaming a Zarr store larger than "
        "the workers' memory."
    )
    p.add_argument("--gb", type=float, help=f"dataset size in GiB (default {DEFAULTS['gb']})")
    p.add_argument("--features", type=int, default=16, help="columns (default 16)")
    p.add_argument("--components", type=int, default=8, help="mixture components (default 8)")
    p.add_argument(
        "--covariance",
        default="full",
        choices=["full", "tied", "diag", "spherical"],
        help="covariance_type (default full)",
    )
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--memory-limit", default="1GiB", help="memory limit per worker (default 1GiB)")
    p.add_argument(
        "--dir",
        help="folder in which to create the temporary store's folder (default: the system's "
        "temporary folder); only the folder this script creates is deleted",
    )
    p.add_argument(
        "--no-compression", action="store_true", help="store uncompressed (default: zstd)"
    )
    p.add_argument(
        "--store-chunk-mib",
        type=float,
        help=f"MiB per stored Zarr chunk of rows (default {DEFAULTS['store_chunk_mib']:g})",
    )
    p.add_argument(
        "--chunk-mib",
        type=float,
        help=f"read_zarr chunk_bytes, MiB per dask chunk (default {DEFAULTS['chunk_mib']:g})",
    )
    p.add_argument(
        "--inmem-gb",
        type=float,
        help=f"GiB of rows loaded for the in-memory figure (default {DEFAULTS['inmem_gb']})",
    )
    p.add_argument("--repeats", type=int, help="repeats, median reported (default 3)")
    p.add_argument("--short", type=int, help="iterations of the short fit (default 2)")
    p.add_argument("--long", type=int, help="iterations of the long fit (default 6)")
    p.add_argument("--seed", type=int, default=0, help="data and start seed (default 0)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 0.05 GiB in small chunks, 1 repeat, 1 vs 3 iterations (flags given "
        "explicitly still win)",
    )
    args = p.parse_args(argv)
    for name, default in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if not 1 <= args.short < args.long:
        p.error("need 1 <= --short < --long")
    if args.gb <= 0 or args.inmem_gb <= 0 or args.repeats < 1:
        p.error("--gb, --inmem-gb and --repeats must be positive")
    if args.features < 1 or args.components < 1 or args.workers < 1:
        p.error("--features, --components and --workers must be positive")
    return args


def _terminated(signum, frame):
    raise SystemExit(128 + signum)  # runs the finally blocks: cluster closed, store deleted


def run(args: argparse.Namespace, folder: Path) -> int:
    d = args.features
    row_bytes = d * 4
    n_rows = int(args.gb * GiB) // row_bytes
    store_rows = max(1, int(args.store_chunk_mib * MiB) // row_bytes)
    free = shutil.disk_usage(folder).free
    if n_rows * row_bytes > 0.9 * free:
        raise SystemExit(f"{folder}: {gib(free)} free, not enough for {gib(n_rows * row_bytes)}")
    if n_rows < args.components:
        raise SystemExit(f"--gb {args.gb} gives {n_rows} rows, fewer than the components")

    truth = make_truth(args.components, d, args.seed)
    path = folder / "data.zarr"
    print(f"writing {n_rows:,} x {d} float32 ({gib(n_rows * row_bytes)}) to {path} ...", flush=True)
    write_seconds = write_store(path, n_rows, truth, store_rows, not args.no_compression, args.seed)
    store_bytes = folder_bytes(path)
    print(
        f"written in {write_seconds:.1f} s; {gib(store_bytes)} on disk "
        f"({store_bytes / (n_rows * row_bytes):.1%} of the raw size)",
        flush=True,
    )
    print("\n".join(header_lines(args, n_rows, store_bytes)), flush=True)

    X = read_zarr(path, chunk_bytes=int(args.chunk_mib * MiB))
    inmem_rows = min(n_rows, max(args.components, int(args.inmem_gb * GiB) // row_bytes))
    start = time.perf_counter()
    X_mem = np.asarray(zarr.open_array(str(path), mode="r")[:inmem_rows])
    inmem_read = time.perf_counter() - start
    init = dict(
        initial_params(truth, args.covariance, args.seed),
        n_components=args.components,
        covariance_type=args.covariance,
        tol=0.0,
        init_params="random_from_data",  # overridden by the given start: no init pass
        random_state=0,
    )
    warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: never "converged"

    with local_client(
        args.workers,
        threads_per_worker=1,
        memory_limit=args.memory_limit,
        dashboard_address=":0",
    ) as client:
        limits = memory_limits(client)
        limits_total = sum(limits.values())
        if X.nbytes < MIN_OVERSIZE * limits_total:
            print(
                f"{'!' * 78}\nWARNING: the dataset ({gib(X.nbytes)}) is NOT at least "
                f"{MIN_OVERSIZE:g}x the workers' total memory limit ({gib(limits_total)}): "
                f"this is not an out-of-core measurement.\n{'!' * 78}",
                flush=True,
            )
        client.run(_warm_up)
        pids = client.run(os.getpid)
        idle = client.run(_rss)
        client.run(_start_rss_sampler)

        def stream(m: int) -> GaussianMixture:
            return GaussianMixture(max_iter=m, client=client, persist=False, **init).fit(X)

        def in_memory(m: int) -> GaussianMixture:
            return GaussianMixture(max_iter=m, **init).fit(X_mem)

        raw_read(X, client)  # untimed: the workers' first read of the store opens it
        reads, streams, inmems = [], [], []
        for i in range(args.repeats):
            reads.append(raw_read(X, client))
            streams.append(per_iteration(stream, args.short, args.long))
            inmems.append(per_iteration(in_memory, args.short, args.long))
            print(
                f"repeat {i + 1}/{args.repeats}: raw read {reads[-1]:.3f} s, streaming "
                f"{streams[-1]:.3f} s/iter, in-memory {inmems[-1]:.4f} s/iter on the slice",
                flush=True,
            )
        peak = client.run(_max_rss)
        spilled = disk_writes(client)
        after = client.run(os.getpid)
        restarted = sum(1 for addr, pid in pids.items() if after.get(addr) != pid)
        restarted += max(0, len(after) - len(pids))
        report = Report(
            n_rows=n_rows,
            n_features=d,
            store_bytes=store_bytes,
            store_rows=store_rows,
            compressed=not args.no_compression,
            write_seconds=write_seconds,
            X=X,
            limits=[limits[a] for a in sorted(limits)],
            threads=1,
            read=statistics.median(reads),
            stream=statistics.median(streams),
            inmem=statistics.median(inmems),
            inmem_rows=inmem_rows,
            inmem_read=inmem_read,
            idle_rss=[idle[a] for a in sorted(idle)],
            peak_rss=[peak[a] for a in sorted(peak)],
            spilled=spilled,
            restarted=restarted,
        )
    print()
    print("\n".join(table(report, args)))
    return 1 if restarted else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    folder = Path(tempfile.mkdtemp(prefix="distgmm-out-of-core-", dir=args.dir))
    try:
        return run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"deleted {folder}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
