"""Time per EM iteration of CategoricalMixture streaming Parquet, against one raw read pass.

What is measured
    A table of ``--rows`` rows (default 10,000,000) x ``--columns`` categorical columns
    (default 20), each with ``--levels`` levels (default 5), is written to a temporary folder
    as Parquet part files of ``--file-rows`` rows (default 250,000: 40 files for 10M rows),
    one row group each, snappy-compressed (pyarrow's defaults), and opened with
    ``dask.dataframe.read_parquet`` of the folder: one partition per file. It looks like a
    survey of 20 questions, each answered "never", "rarely", "sometimes", "often" or
    "always", drawn from a mixture of 5 latent classes.

    The columns are **strings** by default (``--dtype string``): what a user has when the
    table comes from Spark, a database export or pandas text columns; Parquet stores them
    dictionary-encoded, and Dask reads them as pandas' Arrow-backed ``string`` dtype, so
    distgmm finds the categories with one pass and codes every value of every partition on
    every pass. ``--dtype category`` writes Arrow dictionary columns instead (pandas
    ``category`` columns saved with their schema): Dask reads them as ``category``, and the
    coding takes each partition's integer codes.

    On a ``distgmm.local_client`` of one single-threaded worker process per usable core:

    * the raw read pass: ``dd.read_parquet`` of the same folder and columns, each partition
      read into pandas (every column the fit reads, by the same reader with the same
      partitioning) and reduced to its row count; nothing else;
    * ``CategoricalMixture(n_components=--components, max_iter=--iters, tol=0,
      persist=False)`` fitted on the lazy frame: every EM iteration reads every partition
      again, codes it and runs the E-step and the statistics. The seconds of each iteration
      are those of the ``distgmm.core.em`` log records (``em_report.seconds``: the pass and
      the M-step); the start (categories, row counts, the moments pass) is not part of them
      and is printed apart. The first iteration is left out of the median too (it also
      ships the graph's functions to the workers the first time).

    Each repeat runs the raw read, then a fit; the figures are the medians over the repeats
    (of each fit's median iteration). The ratio is the time per iteration over the raw read
    pass; the target is at most 1.5.

    With ``--profile``, the per-partition costs are also measured in this process on one
    thread (BLAS limited to one thread, as on a single-threaded worker), to say where an
    iteration's time goes: reading a partition (the same ``dd.read_parquet`` task), coding
    it (``distgmm._encoding.encode_partition``), and the E-step with the statistics on the
    coded block (``distgmm.core.chunk.chunk_summaries`` of the fitted model); each scaled
    to all the partitions and divided by the workers (an estimate: it assumes the workers
    scale perfectly). Reading and coding as one task of the fit's graph (the coded frame's
    partition turned into an array) is timed too: the difference is the graph's own cost.

    The files are read through the operating system's page cache (the header says whether
    they fit in the available memory): passes read cached files, not the disk.

Usage::

    python benchmarks/families.py                     # 10M rows, 3 repeats (~5 min on 2 cores)
    python benchmarks/families.py --rows 1_000_000    # a quick check, about a minute
    python benchmarks/families.py --dtype category --profile
    python benchmarks/families.py --dir /mnt/scratch  # put the temporary folder there

The temporary folder is deleted at the end, also on Ctrl-C or SIGTERM. The exit status is 0
(a missed target is reported, not an error).
"""

from __future__ import annotations

import contextlib  # isort: skip

# First: benchmarks/select.py must not shadow the standard library (_benchpath.py); a
# worker process is spawned with the parent's path, which no longer holds benchmarks/.
with contextlib.suppress(ImportError):
    import _benchpath  # noqa: F401

import argparse
import logging
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
from distributed import Client
from threadpoolctl import threadpool_limits

import distgmm
from distgmm import CategoricalMixture, ConvergenceWarning, local_client

MiB = 2**20
GiB = 2**30
TARGET_RATIO = 1.5
LEVELS = ["never", "rarely", "sometimes", "often", "always"]
#: Latent classes the data are drawn from.
TRUE_CLASSES = 5


# ----------------------------------------------------------------------------- the data
def level_names(n_levels: int) -> list[str]:
    """Survey answers for up to five levels, numbered answers beyond."""
    if n_levels <= len(LEVELS):
        return LEVELS[:n_levels]
    return [f"answer_{i}" for i in range(n_levels)]


def write_folder(
    folder: Path, n_rows: int, n_columns: int, n_levels: int, file_rows: int, dtype: str, seed: int
) -> tuple[float, int]:
    """Write the part files; return the seconds taken and the bytes on disk.

    Each row's class is drawn with weights ~ Dirichlet(5), then each answer from that
    class's probabilities for the column (~ Dirichlet(1) over the levels).
    """
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(TRUE_CLASSES, 5.0))
    cumulative = rng.dirichlet(np.ones(n_levels), (TRUE_CLASSES, n_columns)).cumsum(axis=2)
    levels = pa.array(level_names(n_levels))
    names = [f"q{j + 1:02d}" for j in range(n_columns)]
    folder.mkdir()
    start = time.perf_counter()
    for i, row0 in enumerate(range(0, n_rows, file_rows)):
        n = min(file_rows, n_rows - row0)
        label = rng.choice(TRUE_CLASSES, size=n, p=weights)
        u = rng.random((n, n_columns, 1))
        codes = (u > cumulative[label]).sum(axis=2).astype(np.int8)  # (n, columns)
        arrays = []
        for j in range(n_columns):
            column = pa.DictionaryArray.from_arrays(pa.array(codes[:, j]), levels)
            arrays.append(column.cast(pa.string()) if dtype == "string" else column)
        table = pa.table(dict(zip(names, arrays, strict=True)))
        pq.write_table(table, folder / f"part.{i:05d}.parquet", row_group_size=file_rows)
    seconds = time.perf_counter() - start
    return seconds, sum(f.stat().st_size for f in folder.iterdir())


# ----------------------------------------------------------------------------- timing
def _rows(part: pd.DataFrame) -> pd.Series:
    """The row count of a partition: it is read into pandas, and nothing else."""
    return pd.Series([len(part)], dtype=np.int64)


def raw_read(folder: Path, columns: list[str], client: Client) -> tuple[float, int]:
    """Seconds of one pass reading every partition of ``columns``, doing nothing with them,
    and the rows it saw."""
    frame = dd.read_parquet(folder, columns=columns)
    counts = frame.map_partitions(_rows, meta=pd.Series([], dtype=np.int64))
    start = time.perf_counter()
    total = int(client.compute(counts).result().sum())
    seconds = time.perf_counter() - start
    return seconds, total


class IterationTimes(logging.Handler):
    """Collects the seconds of each EM iteration from the ``distgmm.core.em`` records."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        report = getattr(record, "em_report", None)
        if report is not None:
            self.seconds.append(report.seconds)


@dataclass
class FitTimes:
    wall: float
    iterations: list[float]
    model: CategoricalMixture

    @property
    def start(self) -> float:
        """Everything but the iterations: categories, row counts, the moments pass, ..."""
        return self.wall - sum(self.iterations)

    @property
    def steady(self) -> float:
        """The median iteration, the first left out (when there are others)."""
        rest = self.iterations[1:] or self.iterations
        return statistics.median(rest)


def timed_fit(folder: Path, args: argparse.Namespace, client: Client) -> FitTimes:
    frame = dd.read_parquet(folder)
    model = CategoricalMixture(
        n_components=args.components,
        max_iter=args.iters,
        tol=0.0,
        random_state=args.seed,
        client=client,
        persist=False,
    )
    handler = IterationTimes()
    em_log = logging.getLogger("distgmm.core.em")
    level = em_log.level
    em_log.setLevel(logging.INFO)
    em_log.addHandler(handler)
    try:
        start = time.perf_counter()
        model.fit(frame)
        wall = time.perf_counter() - start
    finally:
        em_log.removeHandler(handler)
        em_log.setLevel(level)
    if model.n_iter_ != args.iters or len(handler.seconds) != args.iters:
        raise RuntimeError(
            f"the fit did {model.n_iter_} iterations ({len(handler.seconds)} logged), "
            f"not {args.iters}"
        )
    if not np.isfinite(model.lower_bounds_).all():
        raise RuntimeError("the fit returned a non-finite lower bound")
    return FitTimes(wall, handler.seconds, model)


# ----------------------------------------------------------------------------- profile
@dataclass
class Profile:
    read: float
    encode: float
    estep: float
    fused: float
    rows: int


def profile_partition(folder: Path, model: CategoricalMixture, repeats: int) -> Profile:
    """Per-partition seconds of reading, coding and the E-step with the statistics, on one
    thread in this process (medians of ``repeats``), for the first partition; and of reading
    and coding as the fit's graph does them (one task: the coded frame partition, then its
    array)."""
    from distgmm._encoding import encode, encode_partition
    from distgmm.core.chunk import chunk_summaries

    table = dd.read_parquet(folder)
    frame = table.partitions[0]
    coded = encode(table, model._coding, estimator="benchmark", lengths=False).blocks[0]
    family = model._family()
    origin = model._origin()
    pass_model = family.prepare(model._params(), origin)
    reads, encodes, esteps, fused = [], [], [], []
    with threadpool_limits(1), dask.config.set(scheduler="sync"):
        for _ in range(repeats):
            start = time.perf_counter()
            part = frame.compute()
            reads.append(time.perf_counter() - start)
            start = time.perf_counter()
            block = encode_partition(part, model._coding, model.handle_unknown)
            encodes.append(time.perf_counter() - start)
            start = time.perf_counter()
            chunk_summaries(block, [pass_model], origin)
            esteps.append(time.perf_counter() - start)
            start = time.perf_counter()
            coded.compute()
            fused.append(time.perf_counter() - start)
    medians = [statistics.median(x) for x in (reads, encodes, esteps, fused)]
    return Profile(*medians, rows=len(part))


# ----------------------------------------------------------------------------- report
def gib(n: float) -> str:
    return f"{n / GiB:.2f} GiB"


def usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def header(args: argparse.Namespace, n_files: int, disk_bytes: int, write_seconds: float):
    memory = psutil.virtual_memory()
    lines = [
        f"distgmm {distgmm.__version__}, dask {dask.__version__}, pandas {pd.__version__}, "
        f"pyarrow {pa.__version__}, numpy {np.__version__}",
        f"cores: {os.cpu_count()} (usable: {usable_cores()}); RAM {gib(memory.total)} "
        f"(available {gib(memory.available)}); load average at start: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        f"data: {args.rows:,} rows x {args.columns} columns of {args.levels} levels, as "
        f"{args.dtype} ({'Arrow string' if args.dtype == 'string' else 'Arrow dictionary'} "
        f"in Parquet); {n_files} part files of <= {args.file_rows:,} rows, one row group each; "
        f"{gib(disk_bytes)} on disk, written in {write_seconds:.1f} s",
        f"fit: CategoricalMixture(n_components={args.components}, max_iter={args.iters}, "
        f"tol=0, persist=False); {args.repeats} repeat(s), medians reported",
    ]
    if disk_bytes < memory.available:
        lines.append(
            "note: the files fit in the available memory, so the OS page cache keeps them: "
            "passes read cached files, not the disk"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    folder = Path(tempfile.mkdtemp(prefix="distgmm-families-", dir=args.dir))
    try:
        return run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"deleted {folder}", flush=True)


def run(args: argparse.Namespace, folder: Path) -> int:
    data = folder / "survey"
    print(f"writing {args.rows:,} rows x {args.columns} columns to {data} ...", flush=True)
    write_seconds, disk_bytes = write_folder(
        data, args.rows, args.columns, args.levels, args.file_rows, args.dtype, args.seed
    )
    n_files = len(list(data.iterdir()))
    print("\n".join(header(args, n_files, disk_bytes, write_seconds)), "", sep="\n", flush=True)
    columns = list(dd.read_parquet(data).columns)
    warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: never "converged"

    workers = args.workers or usable_cores()
    with local_client(workers, threads_per_worker=1, dashboard_address=":0") as client:
        raw_read(data, columns, client)  # untimed: the workers import pyarrow, open files
        reads, fits = [], []
        for i in range(args.repeats):
            seconds, total = raw_read(data, columns, client)
            if total != args.rows:
                raise RuntimeError(f"the raw read saw {total} rows, not {args.rows}")
            reads.append(seconds)
            fits.append(timed_fit(data, args, client))
            its = ", ".join(f"{s:.2f}" for s in fits[-1].iterations)
            print(
                f"repeat {i + 1}/{args.repeats}: raw read {reads[-1]:.3f} s; fit "
                f"{fits[-1].wall:.2f} s = start {fits[-1].start:.2f} s + iterations [{its}] s",
                flush=True,
            )
        n_partitions = dd.read_parquet(data).npartitions

    read = statistics.median(reads)
    per_iter = statistics.median(f.steady for f in fits)
    start = statistics.median(f.start for f in fits)
    first = statistics.median(f.iterations[0] for f in fits)
    ratio = per_iter / read
    w = 40
    lines = [
        "",
        f"{'workers':{w}} {workers} x 1 thread; {n_partitions} partitions "
        f"(one per file, {args.file_rows:,} rows)",
        f"{'':{w}} {'seconds':>8}",
        f"{'raw read pass':{w}} {read:8.3f}   dd.read_parquet of the {len(columns)} columns, "
        f"each partition into pandas, reduced to its length "
        f"({args.rows / read / 1e6:.1f} M rows/s)",
        f"{'EM iteration (median, not the 1st)':{w}} {per_iter:8.3f}   read + code + E-step "
        f"+ statistics + M-step, streamed (persist=False)",
        f"{'ratio iteration / raw read':{w}} {ratio:8.3f}   target <= {TARGET_RATIO:g}: "
        f"{'PASS' if ratio <= TARGET_RATIO else 'MISS'}",
        "",
        f"{'first iteration (median)':{w}} {first:8.3f}",
        f"{'start of a fit (median)':{w}} {start:8.3f}   categories (one pass for strings), "
        "row counts, the moments pass, set-up",
    ]
    if args.profile:
        p = profile_partition(data, fits[-1].model, args.repeats)
        scale = n_partitions / workers
        lines += [
            "",
            f"profile: one partition of {p.rows:,} rows in this process, one thread, median of "
            f"{args.repeats}; x {n_partitions} partitions / {workers} workers = "
            f"{scale:.1f} (estimate of a pass)",
            f"{'  read (dd.read_parquet task)':{w}} {p.read:8.4f} s/partition  "
            f"{p.read * scale:8.3f} s/pass",
            f"{'  code (encode_partition)':{w}} {p.encode:8.4f} s/partition  "
            f"{p.encode * scale:8.3f} s/pass",
            f"{'  E-step + statistics':{w}} {p.estep:8.4f} s/partition  "
            f"{p.estep * scale:8.3f} s/pass",
            f"{'  sum':{w}} {p.read + p.encode + p.estep:8.4f} s/partition  "
            f"{(p.read + p.encode + p.estep) * scale:8.3f} s/pass "
            f"(measured iteration: {per_iter:.3f} s)",
            f"{'  read + code, one task of the fit':{w}} {p.fused:8.4f} s/partition  "
            f"{p.fused * scale:8.3f} s/pass (one task; vs read + code: "
            f"{p.fused - p.read - p.encode:+.4f} s/partition)",
        ]
    lines.append(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n".join(lines), flush=True)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time per EM iteration of CategoricalMixture streaming Parquet, against "
        "one raw read pass of the same data."
    )
    p.add_argument("--rows", type=int, default=10_000_000, help="rows (default 10_000_000)")
    p.add_argument("--columns", type=int, default=20, help="categorical columns (default 20)")
    p.add_argument("--levels", type=int, default=5, help="levels per column (default 5)")
    p.add_argument("--components", type=int, default=5, help="n_components (default 5)")
    p.add_argument(
        "--dtype",
        choices=["string", "category"],
        default="string",
        help="the columns' type in the files and in Dask (default string)",
    )
    p.add_argument(
        "--file-rows", type=int, default=250_000, help="rows per part file (default 250000)"
    )
    p.add_argument("--iters", type=int, default=5, help="EM iterations per fit (default 5)")
    p.add_argument("--repeats", type=int, default=3, help="repeats, medians reported (default 3)")
    p.add_argument("--workers", type=int, help="worker processes (default: the usable cores)")
    p.add_argument("--seed", type=int, default=0, help="data and fit seed (default 0)")
    p.add_argument(
        "--profile", action="store_true", help="also time reading, coding and the E-step of "
        "one partition in this process",
    )  # fmt: skip
    p.add_argument(
        "--dir",
        help="folder in which to create the temporary folder (default: the system's "
        "temporary folder); only the folder this script creates is deleted",
    )
    args = p.parse_args(argv)
    if min(args.rows, args.columns, args.file_rows, args.repeats) < 1:
        p.error("--rows, --columns, --file-rows and --repeats must be positive")
    if args.levels < 2 or args.components < 1 or args.iters < 1:
        p.error("need --levels >= 2, --components >= 1, --iters >= 1")
    return args


def _terminated(signum, frame):
    raise SystemExit(128 + signum)  # runs the finally block: the folder is deleted


if __name__ == "__main__":
    sys.exit(main())
