"""Time per EM iteration with entries missing (``nan_policy="marginalize"``) against no NaN.

``--rows`` x ``--features`` float64 rows (default 1,000,000 x 16) of a mixture of
``--components`` Gaussians (default 8) with full covariances, in memory. Four inputs: the
complete rows under ``nan_policy="raise"`` (the reference); the same under "marginalize"
(``0 %``: today's code path, checked bit-identical); and ``--percents`` of the entries
removed at random (nested draws; a row left empty gets one entry back). Every fit starts
from the same given parameters and runs exactly ``--iters`` iterations (``tol=0``); an
iteration's seconds are the fit's own timing of it (``em_report.seconds``), the median of
a fit's iterations (the first left out), then the median over ``--repeats`` repeats in a
rotated order. Runners: ``numpy`` in this process, and ``dask`` arrays persisted on a
local cluster of ``--workers`` single-threaded processes. The table also counts the rows
with a NaN and the missingness patterns (each pattern's factors are computed once per
chunk, not per row). Target at 10 %: at most 2x the reference.

Usage::

    python benchmarks/missing.py                      # 1,000,000 x 16, K=8
    python benchmarks/missing.py --rows 200000 --runners numpy --percents 0,10

Exit status 0 (a missed target is reported, not an error); 1 if a check fails (a fit that
did not run ``--iters`` iterations, a non-finite bound, or the 0 % fit not bit-identical).
"""

from __future__ import annotations

import contextlib  # isort: skip

# First: benchmarks/select.py must not shadow the standard library (_benchpath.py); a
# worker process is spawned with the parent's path, which no longer holds benchmarks/.
with contextlib.suppress(ImportError):
    import _benchpath  # noqa: F401

import argparse
import logging
import math
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field

import dask.array as da
import numpy as np
from distributed import Client, wait

import distgmm
from distgmm import ConvergenceWarning, GaussianMixture, local_client

MAX_CHUNK_BYTES = 128 * 2**20
#: The largest block of rows the pass walks a chunk in (README, "How it works").
BLOCK_ROWS = 4096
#: Rows of the short fit that gives every timed fit its start.
START_ROWS = 20_000
#: Fraction of missing entries at which the target applies, and the target ratio.
TARGET_AT, TARGET = 0.10, 2.0


# ----------------------------------------------------------------------------- the data
def make_data(rows: int, d: int, k: int, seed: int) -> np.ndarray:
    """Rows of one well-separated mixture with correlated (full) covariances."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 4.0, (k, d))
    weights = rng.dirichlet(np.full(k, 5.0))
    mixing = np.eye(d) + rng.normal(0.0, 0.3 / math.sqrt(d), (k, d, d))
    labels = rng.choice(k, size=rows, p=weights)
    X = rng.standard_normal((rows, d))
    for j in range(k):
        X[labels == j] = X[labels == j] @ mixing[j] + centers[j]
    return X


@dataclass(frozen=True)
class Case:
    """One input of the comparison."""

    name: str
    fraction: float | None
    """Probability that an entry is missing; None for the complete data."""
    policy: str

    @property
    def label(self) -> str:
        return "no NaN" if self.fraction is None else f"{100 * self.fraction:g} %"


REFERENCE = Case("reference", None, "raise")


def make_cases(percents: list[float]) -> tuple[Case, ...]:
    """The reference, then one input per percentage of missing entries."""
    return (REFERENCE, *(Case(f"{p:g}", p / 100, "marginalize") for p in percents))


def remove_entries(X: np.ndarray, uniform: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """``X`` with the entries where ``uniform < fraction`` set to NaN, every row keeping one
    observed entry at least."""
    missing = uniform < fraction
    empty = np.flatnonzero(missing.all(axis=1))
    if empty.size:
        rng = np.random.default_rng([seed, empty.size])
        missing[empty, rng.integers(0, X.shape[1], empty.size)] = False
    return np.where(missing, np.nan, X)


@dataclass(frozen=True)
class Missingness:
    rows_with_nan: float
    """Fraction of the rows holding a NaN."""
    entries: float
    """Fraction of the entries missing."""
    patterns: int
    """Distinct patterns of missing entries among the rows with a NaN."""
    patterns_per_block: float
    """Mean over blocks of ``BLOCK_ROWS`` rows of their distinct patterns (rows with a NaN)."""


def missingness(X: np.ndarray) -> Missingness:
    mask = np.isnan(X)
    codes = np.packbits(mask, axis=1)  # one row of bytes per row's pattern
    has_nan = mask.any(axis=1)

    def distinct(rows: slice) -> int:
        return len(np.unique(codes[rows][has_nan[rows]], axis=0))

    per_block = [distinct(slice(i, i + BLOCK_ROWS)) for i in range(0, len(X), BLOCK_ROWS)]
    return Missingness(
        rows_with_nan=float(has_nan.mean()),
        entries=float(mask.mean()),
        patterns=distinct(slice(None)),
        patterns_per_block=float(np.mean(per_block)),
    )


def persisted(X: np.ndarray, client: Client, n_workers: int) -> da.Array:
    """``X`` as a dask array held in the workers' memory (waited for)."""
    n_chunks = max(1, math.ceil(X.nbytes / MAX_CHUNK_BYTES))
    n_chunks = math.ceil(n_chunks / n_workers) * n_workers
    with warnings.catch_warnings():  # the data travel once, before any timing
        warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
        Xd = client.persist(da.from_array(X, chunks=(math.ceil(len(X) / n_chunks), -1)))
    wait(Xd)
    return Xd


# ----------------------------------------------------------------------------- timing
class IterationTimes(logging.Handler):
    """The seconds of every EM iteration the fits log (``em_report`` of their records)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        report = getattr(record, "em_report", None)
        if report is not None:
            self.seconds.append(report.seconds)


@dataclass
class Timings:
    """Per runner and input: each repeat's median iteration and whole fit."""

    iteration: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    wall: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, key: tuple[str, str], iteration: float, wall: float) -> None:
        self.iteration.setdefault(key, []).append(iteration)
        self.wall.setdefault(key, []).append(wall)


def timed_fit(fit, iters: int, timer: IterationTimes) -> tuple[float, float, GaussianMixture]:
    """The median iteration (the first left out), the wall time of the fit, and the model."""
    timer.seconds.clear()
    start = time.perf_counter()
    model = fit()
    wall = time.perf_counter() - start
    if model.n_iter_ != iters or len(timer.seconds) != iters:
        raise RuntimeError(
            f"the fit did {model.n_iter_} iterations ({len(timer.seconds)} logged), not {iters}"
        )
    if not np.isfinite(model.lower_bounds_).all():
        raise RuntimeError("the fit returned a non-finite lower bound")
    return statistics.median(timer.seconds[1:] or timer.seconds), wall, model


def same_model(a: GaussianMixture, b: GaussianMixture) -> bool:
    """Bit for bit the same parameters and bounds."""
    return all(
        np.array_equal(getattr(a, name), getattr(b, name))
        for name in ("weights_", "means_", "precisions_cholesky_", "lower_bounds_")
    )


# ----------------------------------------------------------------------------- report
def loads() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def header(args: argparse.Namespace) -> list[str]:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return [
        f"distgmm {distgmm.__version__}, numpy {np.__version__}; cores: {os.cpu_count()} "
        f"(usable: {usable}); load average at start: {loads()}",
        f"data: {args.rows:,} x {args.features} float64, a mixture of {args.components} "
        f"Gaussians; fit: GaussianMixture(n_components={args.components}, "
        f'covariance_type="full", max_iter={args.iters}, tol=0) from a given start',
        f"s/iter = the fit's own timing of an iteration (pass + M-step), median of iterations "
        f"2..{args.iters}; medians over {args.repeats} repeat(s); ratio = s/iter over the "
        "no-NaN reference's (nan_policy='raise', complete data), same runner",
        f"runners: numpy = in process; dask = persisted on a LocalCluster of {args.workers} "
        "single-threaded worker processes",
        "",
    ]


def table(
    args: argparse.Namespace,
    cases: tuple[Case, ...],
    runners: list[str],
    stats: dict[str, Missingness],
    timings: Timings,
    identical: dict[str, bool],
    chunks: str,
) -> tuple[list[str], list[str]]:
    """The lines of the table, and the runners that missed the target."""
    lines = [
        f"{'runner':7} {'missing':>8} {'policy':12} {'rows w/ NaN':>11} {'patterns':>9} "
        f"{'per 4096':>8} {'s/iter':>8} {'ratio':>6} {'fit s':>7}",
    ]
    misses = []
    for runner in runners:
        reference = statistics.median(timings.iteration[runner, REFERENCE.name])
        for case in cases:
            s = stats[case.name]
            per_iter = statistics.median(timings.iteration[runner, case.name])
            wall = statistics.median(timings.wall[runner, case.name])
            ratio = per_iter / reference
            note = ""
            if case.fraction == TARGET_AT:
                verdict = "PASS" if ratio <= TARGET else "MISS"
                note = f"  target <= {TARGET:g}: {verdict}"
                if verdict == "MISS":
                    misses.append(runner)
            elif case.fraction == 0.0 and runner in identical:
                note = "  model bit-identical: " + ("yes" if identical[runner] else "NO")
            lines.append(
                f"{runner:7} {case.label:>8} {case.policy:12} {100 * s.rows_with_nan:10.1f}% "
                f"{s.patterns:9,} {s.patterns_per_block:8.1f} {per_iter:8.3f} {ratio:6.2f} "
                f"{wall:7.2f}{note}"
            )
    lines += [
        "",
        "rows w/ NaN: rows holding a missing entry; patterns: distinct patterns of missing "
        "entries among them, in all and on average per 4,096 rows",
        "fit s: wall time of the whole fit (validation, the given start, "
        f"{args.iters} iterations, the final E-step)",
        f"dask chunks: {chunks}",
        f"speed target missed: {', '.join(misses) if misses else 'none'}",
        f"load average at end: {loads()}",
        "(other processes on the machine slow every input alike only on average: see the load)",
    ]
    return lines, misses


# ----------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time per EM iteration of GaussianMixture(nan_policy='marginalize') with "
        "0, 1, 10 and 30 % of the entries missing, against the no-NaN path."
    )
    p.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1_000_000)")
    p.add_argument("--features", type=int, default=16, help="columns (default 16)")
    p.add_argument("--components", type=int, default=8, help="mixture components (default 8)")
    p.add_argument("--iters", type=int, default=5, help="EM iterations per fit (default 5)")
    p.add_argument("--repeats", type=int, default=3, help="repeats, medians reported (default 3)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument(
        "--runners",
        default="numpy,dask",
        help="comma-separated subset of numpy,dask (default both)",
    )
    p.add_argument(
        "--percents",
        default="0,1,10,30",
        help="comma-separated percentages of missing entries (default 0,1,10,30)",
    )
    p.add_argument("--seed", type=int, default=0, help="data and removal seed (default 0)")
    args = p.parse_args(argv)
    try:
        args.percents = sorted({float(x) for x in args.percents.split(",") if x.strip()})
    except ValueError:
        p.error("--percents: comma-separated numbers")
    if not args.percents or not all(0 <= x < 100 for x in args.percents):
        p.error("--percents: numbers from 0 to below 100")
    args.runners = [r.strip() for r in args.runners.split(",") if r.strip()]
    if not args.runners or set(args.runners) - {"numpy", "dask"}:
        p.error("--runners: a comma-separated subset of numpy,dask")
    if args.iters < 2:
        p.error("--iters must be at least 2 (the first iteration is left out)")
    if min(args.features, args.components, args.repeats, args.workers) < 1:
        p.error("--features, --components, --repeats and --workers must be positive")
    if args.rows < max(START_ROWS, args.components):
        p.error(f"--rows must be at least {START_ROWS:,}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cases = make_cases(args.percents)
    warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: never "converged"
    print("\n".join(header(args)), flush=True)

    X = make_data(args.rows, args.features, args.components, args.seed)
    uniform = np.random.default_rng([args.seed, 1]).random(X.shape, dtype=np.float32)
    data = {
        case.name: X if not case.fraction else remove_entries(X, uniform, case.fraction, args.seed)
        for case in cases
    }
    del uniform
    stats = {name: missingness(values) for name, values in data.items()}

    settings = dict(n_components=args.components, covariance_type="full", random_state=0)
    start = GaussianMixture(max_iter=1, **settings).fit(X[:START_ROWS])
    given = dict(
        settings,
        weights_init=start.weights_,
        means_init=start.means_,
        precisions_init=start.precisions_,
        init_params="random_from_data",  # overridden by the given start: no init pass
        max_iter=args.iters,
        tol=0.0,
    )

    timer = IterationTimes()
    em_logger = logging.getLogger("distgmm.core.em")
    em_logger.addHandler(timer)
    em_logger.setLevel(logging.INFO)
    timings = Timings()
    identical: dict[str, bool] = {}
    chunks = "(not used)"
    with contextlib.ExitStack() as stack:
        inputs = {"numpy": data} if "numpy" in args.runners else {}
        clients: dict[str, Client | None] = {"numpy": None}
        if "dask" in args.runners:
            client = stack.enter_context(
                local_client(args.workers, threads_per_worker=1, dashboard_address=":0")
            )
            clients["dask"] = client
            shared: dict[int, da.Array] = {}  # the reference and 0 % share their array
            for values in data.values():
                if id(values) not in shared:
                    shared[id(values)] = persisted(values, client, args.workers)
            inputs["dask"] = {name: shared[id(values)] for name, values in data.items()}
            first = inputs["dask"][REFERENCE.name]
            chunks = (
                f"{first.numblocks[0]} of {first.chunks[0][0]:,} rows = "
                f"{first.chunks[0][0] * args.features * 8 / 2**20:.1f} MiB"
            )
        runners = [r for r in ("numpy", "dask") if r in args.runners]
        for r in range(args.repeats):
            order = cases[r % len(cases) :] + cases[: r % len(cases)]
            for runner in runners:
                models = {}
                for case in order:
                    extra = {"client": clients[runner], "persist": True} if runner == "dask" else {}

                    def fit(case=case, runner=runner, extra=extra):
                        return GaussianMixture(nan_policy=case.policy, **given, **extra).fit(
                            inputs[runner][case.name]
                        )

                    per_iter, wall, models[case.name] = timed_fit(fit, args.iters, timer)
                    timings.add((runner, case.name), per_iter, wall)
                if "0" in models:
                    same = same_model(models[REFERENCE.name], models["0"])
                    identical[runner] = identical.get(runner, True) and same
                figures = ", ".join(
                    f"{case.label} {timings.iteration[runner, case.name][-1]:.3f}" for case in cases
                )
                print(f"repeat {r + 1}/{args.repeats} {runner}: s/iter {figures}", flush=True)
    em_logger.removeHandler(timer)

    lines, _ = table(args, cases, runners, stats, timings, identical, chunks)
    print()
    print("\n".join(lines))
    return 0 if all(identical.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
