"""Wall time of a model selection sweep streamed from a Zarr store, against its floors.

What is measured
    ``distgmm.select_mixture`` over 12 numbers of components (1..12) x the four covariance
    types x ``n_init=3`` (48 candidates, 144 EM runs) on a float32 Zarr store streamed on a
    ``distgmm.local_client`` of single-threaded worker processes with a memory limit each
    (``persist=False``: every pass reads the store again, as it must when the store is larger
    than the workers' memory). Its wall time is compared with:

    (a) the loop a scikit-learn user writes: each candidate fitted alone with
        ``GaussianMixture(k, covariance_type=c, n_init=3, ...).fit(X)`` and its ``bic(X)``
        (one more pass), one after the other. Fitting all 48 alone takes too long, so only
        the candidates with ``--loop-ks`` components (every covariance type) are fitted;
        each one's seconds per EM iteration (its wall time / its ``n_iter_``) is
        interpolated linearly in K within each type, and the loop's time is EXTRAPOLATED
        as the sum over all candidates of that figure times the ``n_iter`` the sweep
        reports for the candidate (a solo fit is bit-identical to its candidate in the
        sweep, so it runs the same iterations; checked for the fitted subset);
    (b) the read floor: one raw read pass (read and decompress every chunk on the workers,
        nothing else) times the passes the sweep made, ``n_passes_ + 1`` (the criteria's);
    (c) the compute floor: the in-memory compute of all candidates. Each candidate's cost of
        one EM iteration (its three restarts in one pass) is measured in this process on the
        first ``--inmem-rows`` rows of the store loaded as numpy (one chunk: one thread),
        scaled linearly to all the rows, divided by the workers' threads (perfect parallel
        speed-up) and multiplied by the candidate's reported ``n_iter``; summed over the
        candidates. Its starts (k-means Lloyd passes) and the criteria pass are not
        counted, nor are restarts that run longer than the best one, so this floor is a
        lower bound and the ratio to it errs high.

    The ratio sweep / max((b), (c)) says how close the sweep comes to what it cannot avoid
    (target: at most 1.3); the ratio loop / sweep says what sharing the passes saves.

How
    The data are the blobs of ``benchmarks/out_of_core.py`` (``--true-components`` well
    separated Gaussians with correlated covariances), written in slabs from a seeded
    generator. Every fit uses ``tol=1e-3`` (the default), ``max_iter=--max-iter`` and
    ``random_state=0``. The raw read is the median of ``--repeats`` runs, each candidate's
    in-memory cost the median of ``--repeats`` differences of a fit of ``LONG`` and one of
    ``SHORT`` iterations (``tol=0``, ``init_params='random'``: the same start in both, so
    the difference is the iterations' cost alone); the sweep and the loop run once each
    (they are the long parts). The other helpers of a shared machine slow the measurements
    unevenly: the load average is printed before and after each phase.

    By default the store is NOT larger than the workers' memory: the sweep kept two workers
    busy for ~360 thread-seconds per million rows of 8 features (800 on a 2-core machine
    shared with other jobs; the k-means Lloyd passes and EM iterations of 144 runs),
    so a store larger than two workers' minimal memory (the sweep's per-task buffers reach
    ~256 MiB and a worker's own process ~200 MB: about 600 MiB each, i.e. 40M+ rows) would
    take hours on two cores. The sweep streams all the same (``persist=False``), so its
    reads and overheads are those of a larger store, only fewer; the header says whether
    the store exceeds the limits.

Usage::

    python benchmarks/select.py                  # 1M x 8 float32; ~5 min on 2 cores
    python benchmarks/select.py --quick          # smoke run, about a minute
    python benchmarks/select.py --rows 50000000 --worker-memory 640MiB   # out of core; hours

The temporary store is deleted at the end, also on Ctrl-C or SIGTERM. Exit status 1 if a
worker restarted during the run, 0 otherwise (a missed target is reported, not an error).
"""

from __future__ import annotations

# This file has the name of the standard library's ``select`` module, which asyncio (and so
# distributed) imports: its own folder must not be on the import path, or ``import select``
# would find this script (_benchpath takes it off, for every benchmark).
import contextlib  # isort: skip

# First: benchmarks/select.py must not shadow the standard library (_benchpath.py); a
# worker process is spawned with the parent's path, which no longer holds benchmarks/.
with contextlib.suppress(ImportError):
    import _benchpath  # noqa: F401

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import numpy as np  # noqa: E402
import zarr  # noqa: E402
from distributed import get_task_stream  # noqa: E402

import distgmm  # noqa: E402
from distgmm import ConvergenceWarning, GaussianMixture, local_client, read_zarr  # noqa: E402


def _load_sibling(name: str):
    """``benchmarks/<name>.py`` as a module (the folder is off the import path, see above)."""
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", _HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ooc = _load_sibling("out_of_core")  # the data, the raw read and the workers' probes

MiB = 2**20
TARGET_RATIO = 1.3
TYPES = ("full", "tied", "diag", "spherical")
DEFAULTS = {
    "rows": 1_000_000,
    "max_k": 12,
    "n_init": 3,
    "loop_ks": "1,6,12",
    "inmem_rows": 100_000,
    "repeats": 3,
    "chunk_mib": 4.0,
}
QUICK = {
    "rows": 100_000,
    "max_k": 3,
    "n_init": 2,
    "loop_ks": "1,3",
    "inmem_rows": 10_000,
    "repeats": 1,
    "chunk_mib": 0.5,
}
#: Iterations of the short and the long fit whose difference is a candidate's in-memory cost.
SHORT, LONG = 1, 3


# ----------------------------------------------------------------------------- measurements
def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def sweep(X, ks, args, client):
    """The sweep, timed: (seconds, ModelSelection, the workers' task seconds by action)."""
    with get_task_stream(client) as stream:
        start = time.perf_counter()
        sel = distgmm.select_mixture(
            X,
            ks,
            TYPES,
            n_init=args.n_init,
            max_iter=args.max_iter,
            random_state=0,
            client=client,
            persist=False,
        )
        seconds = time.perf_counter() - start
    return seconds, sel, task_seconds(stream.data)


def task_seconds(tasks: list[dict]) -> dict[str, float]:
    """The seconds the workers' threads spent per action ('compute', 'transfer', ...)."""
    total: dict[str, float] = {}
    for task in tasks:
        for span in task.get("startstops", ()):
            action = span["action"]
            total[action] = total.get(action, 0.0) + span["stop"] - span["start"]
    return total


def solo(X, k: int, cov: str, args, client) -> tuple[float, GaussianMixture]:
    """One candidate fitted alone and its BIC computed, as a user's loop does: (seconds, model)."""
    start = time.perf_counter()
    gm = GaussianMixture(
        k,
        covariance_type=cov,
        n_init=args.n_init,
        max_iter=args.max_iter,
        random_state=0,
        client=client,
        persist=False,
    ).fit(X)
    gm.bic(X)
    return time.perf_counter() - start, gm


def inmem_per_iteration(X_mem: np.ndarray, k: int, cov: str, n_init: int, repeats: int) -> float:
    """Seconds of one EM iteration of a candidate (``n_init`` restarts) on ``X_mem``, in process."""

    def fit(m: int) -> float:
        start = time.perf_counter()
        GaussianMixture(
            k, covariance_type=cov, n_init=n_init, tol=0.0, max_iter=m,
            init_params="random", random_state=0,
        ).fit(X_mem)  # fmt: skip
        return time.perf_counter() - start

    diffs = [(fit(LONG) - fit(SHORT)) / (LONG - SHORT) for _ in range(repeats)]
    return max(0.0, statistics.median(diffs))


def interpolate(measured: dict[int, float], k: int) -> float:
    """``measured`` (K -> value) at ``k``: linear between the nearest measured K, flat outside."""
    ks = sorted(measured)
    return float(np.interp(k, ks, [measured[x] for x in ks]))


# ----------------------------------------------------------------------------- report
@dataclass
class Figures:
    sweep: float
    n_passes: int
    read: float
    compute: float
    loop: float
    loop_measured: float
    loop_share: float  # the fitted subset's share of the sum of n_iter

    @property
    def read_floor(self) -> float:
        return self.read * (self.n_passes + 1)

    @property
    def floor(self) -> float:
        return max(self.read_floor, self.compute)


def candidate_table(sel, per_iter: dict, loop_times: dict, scale: float) -> list[str]:
    lines = [
        f"{'type':>9} {'K':>3} {'n_iter':>6} {'conv':>5} {'BIC':>14} "
        f"{'compute s/iter':>14} {'loop s (fitted)':>15}"
    ]
    for r in sel.results_:
        key = (r["covariance_type"], r["n_components"])
        fitted = f"{loop_times[key]:15.2f}" if key in loop_times else f"{'':15}"
        bic = f"{r['bic']:14.1f}" if r["status"] == "ok" else f"{'failed':>14}"
        lines.append(
            f"{key[0]:>9} {key[1]:3d} {r['n_iter'] or 0:6d} {r['converged']!s:>5} {bic} "
            f"{per_iter[key] * scale:14.3f} {fitted}"
        )
    return lines


def summary(f: Figures, args, n_candidates: int) -> list[str]:
    w = 44
    verdict = "PASS" if f.sweep / f.floor <= TARGET_RATIO else "MISS"
    return [
        f"{'':{w}} {'seconds':>9}",
        f"{'select_mixture (the sweep)':{w}} {f.sweep:9.1f}   {n_candidates} candidates x "
        f"n_init={args.n_init}; {f.n_passes} passes + 1 for the criteria",
        f"{'(a) loop of solo fits + bic':{w}} {f.loop:9.1f}   EXTRAPOLATED from the fitted "
        f"K={args.loop_ks} ({f.loop_measured:.1f} s measured, {100 * f.loop_share:.0f}% of the "
        "sweep's sum of n_iter) by the sum of n_iter",
        f"{'(b) raw read x (n_passes_ + 1)':{w}} {f.read_floor:9.1f}   {f.read:.3f} s per raw "
        f"read x {f.n_passes + 1}",
        f"{'(c) in-memory compute of all candidates':{w}} {f.compute:9.1f}   EXTRAPOLATED: "
        "sum of per-iteration costs x n_iter, scaled from the in-memory rows, / worker threads "
        "(EM iterations only: not the k-means starts' Lloyd passes)",
        "",
        f"{'sweep / max((b), (c))':{w}} {f.sweep / f.floor:9.2f}   target <= {TARGET_RATIO:g}: "
        f"{verdict}",
        f"{'loop / sweep':{w}} {f.loop / f.sweep:9.2f}",
    ]


def where_the_time_goes(f: Figures, busy: dict[str, float], threads: int) -> list[str]:
    """The sweep's wall time split by what the workers' threads did (dask's task stream)."""
    slots = f.sweep * threads
    compute = busy.get("compute", 0.0)
    other = sum(v for k, v in busy.items() if k != "compute")
    idle = max(0.0, slots - compute - other)
    return [
        f"the sweep's {f.sweep:.1f} s x {threads} worker threads = {slots:.1f} thread-seconds:",
        f"  tasks computing (reads, E-steps, statistics)   {compute:9.1f}   "
        f"{compute / threads:.1f} s of wall time if spread evenly; "
        f"{compute / threads / max(f.compute, 1e-9):.2f}x the compute floor (c)",
        f"  transfers and other task actions                {other:9.1f}",
        f"  idle (the client's M-steps and graphs between passes, waits for the last chunk)"
        f" {idle:9.1f}   {100 * idle / slots:.0f}%",
    ]


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Wall time of select_mixture streamed from Zarr against a loop of solo "
        "fits, the read floor and the compute floor."
    )
    p.add_argument("--rows", type=int, help=f"rows (default {DEFAULTS['rows']:,})")
    p.add_argument("--features", type=int, default=8, help="columns (default 8)")
    p.add_argument("--worker-memory", default="1GiB", help="memory limit per worker (default 1GiB)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--max-k", type=int, help="candidates K = 1..max-k (default 12)")
    p.add_argument("--n-init", type=int, help="restarts per candidate (default 3)")
    p.add_argument("--max-iter", type=int, default=100, help="max_iter (default 100)")
    p.add_argument("--true-components", type=int, default=6, help="blobs in the data (default 6)")
    p.add_argument(
        "--loop-ks",
        help=f"K fitted alone for the loop, for every type (default {DEFAULTS['loop_ks']})",
    )
    p.add_argument(
        "--inmem-rows",
        type=int,
        help=f"rows loaded for the compute floor (default {DEFAULTS['inmem_rows']:,})",
    )
    p.add_argument("--chunk-mib", type=float, help="MiB per dask chunk (default 4)")
    p.add_argument("--repeats", type=int, help="repeats of the short measurements (default 3)")
    p.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    p.add_argument("--dir", help="folder for the temporary store (default: the system's)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 100k rows, K=1..3, n_init=2, one repeat (explicit flags still win)",
    )
    args = p.parse_args(argv)
    for name, default in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    try:
        args.loop_ks = sorted({int(k) for k in str(args.loop_ks).split(",")})
    except ValueError:
        p.error("--loop-ks takes integers separated by commas, e.g. 1,6,12")
    if not args.loop_ks or not all(1 <= k <= args.max_k for k in args.loop_ks):
        p.error(f"--loop-ks must lie in 1..{args.max_k}")
    if min(args.rows, args.features, args.workers, args.max_k, args.n_init, args.repeats) < 1:
        p.error("--rows, --features, --workers, --max-k, --n-init, --repeats must be positive")
    args.inmem_rows = min(args.inmem_rows, args.rows)
    return args


def run(args: argparse.Namespace, folder: Path) -> int:
    d, n_rows = args.features, args.rows
    ks = list(range(1, args.max_k + 1))
    row_bytes = d * 4
    truth = ooc.make_truth(args.true_components, d, args.seed)
    path = folder / "data.zarr"
    store_rows = max(1, int(args.chunk_mib * MiB) // row_bytes)
    print(f"writing {n_rows:,} x {d} float32 ({ooc.mib(n_rows * row_bytes)}) ...", flush=True)
    written = ooc.write_store(path, n_rows, truth, store_rows, True, args.seed)
    store_bytes = ooc.folder_bytes(path)
    X = read_zarr(path, chunk_bytes=int(args.chunk_mib * MiB))
    X_mem = np.asarray(zarr.open_array(str(path), mode="r")[: args.inmem_rows])
    warnings.simplefilter("ignore", ConvergenceWarning)  # reported in the table
    print(
        f"distgmm {distgmm.__version__}, numpy {np.__version__}; cores {os.cpu_count()}; "
        f"written in {written:.1f} s, {ooc.mib(store_bytes)} on disk (zstd), "
        f"{X.numblocks[0]} dask chunks of {X.chunks[0][0]:,} rows",
        flush=True,
    )

    with local_client(
        args.workers, threads_per_worker=1, memory_limit=args.worker_memory, dashboard_address=":0"
    ) as client:
        limits = ooc.memory_limits(client)
        total_limit = sum(limits.values())
        threads = args.workers  # one thread per worker
        oversize = X.nbytes / total_limit
        print(
            f"workers: {args.workers} x 1 thread, memory limit {ooc.mib(total_limit)} in all; "
            f"data / limit = {oversize:.2f}x",
            flush=True,
        )
        if oversize < 1:
            print(
                f"{'!' * 78}\nNOTE: the store is NOT larger than the workers' memory; the "
                "sweep streams it all the same (persist=False).\n" + "!" * 78,
                flush=True,
            )
        client.run(ooc._warm_up)
        pids = client.run(os.getpid)
        client.run(ooc._start_rss_sampler)

        ooc.raw_read(X, client)  # untimed: opens the store on the workers
        print(f"[raw read] load {load()}", flush=True)
        reads = [ooc.raw_read(X, client) for _ in range(max(3, args.repeats))]
        read = statistics.median(reads)
        print(f"  {', '.join(f'{r:.3f}' for r in reads)} s; median {read:.3f} s", flush=True)

        print(f"[sweep] {len(ks) * len(TYPES)} candidates; load {load()}", flush=True)
        sweep_seconds, sel, busy = sweep(X, ks, args, client)
        n_iter = {(r["covariance_type"], r["n_components"]): r["n_iter"] for r in sel.results_}
        failed = [r for r in sel.results_ if r["status"] != "ok"]
        print(
            f"  {sweep_seconds:.1f} s, {sel.n_passes_} passes, sum of n_iter "
            f"{sum(v or 0 for v in n_iter.values())}, {len(failed)} failed; load {load()}",
            flush=True,
        )

        print(f"[loop] solo fits of K={args.loop_ks}; load {load()}", flush=True)
        loop_times: dict[tuple[str, int], float] = {}
        for cov in TYPES:
            for k in args.loop_ks:
                seconds, gm = solo(X, k, cov, args, client)
                same = gm.n_iter_ == n_iter[cov, k]
                loop_times[cov, k] = seconds
                print(
                    f"  {cov:>9} K={k:<3} {seconds:7.2f} s, n_iter {gm.n_iter_}"
                    f"{'' if same else ' (the sweep reports ' + str(n_iter[cov, k]) + '!)'}",
                    flush=True,
                )
        peak = client.run(ooc._max_rss)
        spilled = ooc.disk_writes(client)
        after = client.run(os.getpid)
        restarted = sum(1 for addr, pid in pids.items() if after.get(addr) != pid)

    print(f"[compute] in process on {len(X_mem):,} rows, one thread; load {load()}", flush=True)
    per_iter = {
        (cov, k): inmem_per_iteration(X_mem, k, cov, args.n_init, args.repeats)
        for cov in TYPES
        for k in ks
    }
    print(f"  done; load {load()}", flush=True)
    scale = n_rows / len(X_mem) / threads
    compute = scale * sum(per_iter[key] * (n_iter[key] or 0) for key in per_iter)

    loop = 0.0
    for cov in TYPES:
        per_k = {k: loop_times[cov, k] / max(1, n_iter[cov, k] or 1) for k in args.loop_ks}
        loop += sum(interpolate(per_k, k) * (n_iter[cov, k] or 0) for k in ks)
    total_iter = sum(v or 0 for v in n_iter.values())
    fitted_iter = sum(n_iter[key] or 0 for key in loop_times)
    figures = Figures(
        sweep=sweep_seconds,
        n_passes=sel.n_passes_,
        read=read,
        compute=compute,
        loop=loop,
        loop_measured=sum(loop_times.values()),
        loop_share=fitted_iter / max(1, total_iter),
    )
    best = sel.results_[sel.best_index_]
    print()
    print(
        f"{n_rows:,} x {d} float32 ({ooc.mib(X.nbytes)}), {args.true_components} true "
        f"components; best by BIC: {best['covariance_type']} K={best['n_components']}"
    )
    print("\n".join(candidate_table(sel, per_iter, loop_times, scale)))
    print(f"(compute s/iter: the in-memory figure scaled to {n_rows:,} rows / {threads} threads)")
    print()
    print("\n".join(summary(figures, args, len(sel.results_))))
    print()
    print("\n".join(where_the_time_goes(figures, busy, threads)))
    print()
    print(
        f"worker RSS peak {', '.join(ooc.mib(x) for x in peak.values())} (limit "
        f"{ooc.mib(total_limit / len(limits))} each); spilled {spilled}; restarted {restarted}"
    )
    print(f"load average at end: {load()} (on {os.cpu_count()} cores)")
    return 1 if restarted else 0


def _terminated(signum, frame):
    raise SystemExit(128 + signum)  # runs the finally blocks: cluster closed, store deleted


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    folder = Path(tempfile.mkdtemp(prefix="distgmm-select-", dir=args.dir))
    try:
        return run(args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"deleted {folder}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
