"""Time per ``partial_fit`` call against one EM iteration of a full fit, on the same batch size.

What is compared
    * one EM iteration of ``GaussianMixture.fit`` on a batch of rows, from given initial
      parameters with ``tol=0``, two ways: the fit's own timing of each iteration (its pass
      and M-step, the ``em_report`` of the ``distgmm.core.em`` log records), and, as in
      ``vs_sklearn.py``, ``(wall time of a fit of LONG iterations - wall time of a fit of
      SHORT) / (LONG - SHORT)``, in which validation, initialisation and the final E-step
      cancel out. The ratio is against the first: on a busy machine the difference of two
      fits' wall times scatters by more than the figure itself (shown as "diff.");
    * one ``partial_fit`` call on a batch of the same size, whole: validation, one E-step
      pass, the blend and the M-step. The model has seen a batch already (its first call
      starts from its batch, like a fit's initialisation, and is not timed), so every timed
      call is a steady-state update.

Both run on the numpy array in process, and on a dask array persisted on a
``LocalCluster`` of two single-threaded worker processes (chunks of at most 128 MiB, a
multiple of two chunks), batches persisted before the timing as a daily partition read
once would be. The figure printed is the median over repeats (fits) and calls
(``partial_fit``), interleaved so that the machine's background load hits them alike. The
ratio is ``partial_fit``'s time over an EM iteration's; the target is at most 1.2x.

``--profile`` also prints where one numpy ``partial_fit`` call spends its time (cProfile's
cumulative seconds of the steps it calls).

Usage::

    python benchmarks/online.py                   # 200,000 x 16, K=8, full; ~2 minutes
    python benchmarks/online.py --quick           # 1/10 of the rows, one repeat
    python benchmarks/online.py --rows 1000000 --features 16 --components 8 --profile
"""

from __future__ import annotations

import contextlib  # isort: skip

# First: benchmarks/select.py must not shadow the standard library (_benchpath.py); a
# worker process is spawned with the parent's path, which no longer holds benchmarks/.
with contextlib.suppress(ImportError):
    import _benchpath  # noqa: F401

import argparse
import copy
import cProfile
import io
import logging
import math
import os
import pstats
import statistics
import time
import warnings

import dask.array as da
import numpy as np
from distributed import Client, wait

import distgmm
from distgmm import ConvergenceWarning, GaussianMixture, local_client

N_WORKERS = 2
MAX_CHUNK_BYTES = 128 * 2**20
TARGET = 1.2
#: Steps of a partial_fit call reported by --profile (functions, by name).
STEPS = ("_check_X", "make_passes", "run", "recentre", "blend", "m_step", "close")


def make_batches(n_batches: int, rows: int, d: int, k: int, seed: int = 0) -> list[np.ndarray]:
    """Batches of one well-separated mixture with correlated (full) covariances."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0.0, 4.0, (k, d))
    weights = rng.dirichlet(np.full(k, 5.0))
    mixing = np.eye(d) + rng.normal(0.0, 0.3 / math.sqrt(d), (k, d, d))
    batches = []
    for _ in range(n_batches):
        labels = rng.choice(k, size=rows, p=weights)
        X = rng.standard_normal((rows, d))
        for j in range(k):
            X[labels == j] = X[labels == j] @ mixing[j] + centers[j]
        batches.append(X)
    return batches


def persisted(X: np.ndarray, client: Client) -> da.Array:
    """``X`` as a dask array held in the workers' memory (waited for)."""
    n_chunks = max(1, math.ceil(X.nbytes / MAX_CHUNK_BYTES))
    n_chunks = math.ceil(n_chunks / N_WORKERS) * N_WORKERS
    with warnings.catch_warnings():  # the data travel once, before any timing
        warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
        Xd = client.persist(da.from_array(X, chunks=(math.ceil(len(X) / n_chunks), -1)))
    wait(Xd)
    return Xd


class IterationTimes(logging.Handler):
    """The seconds of every EM iteration the fits log (``em_report`` of their records)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        report = getattr(record, "em_report", None)
        if report is not None:
            self.seconds.append(report.seconds)


def seconds_per_iteration(fit, short: int, long: int, timer: IterationTimes):
    """The difference of wall times per iteration, and the long fit's own timings."""
    times = []
    for max_iter in (short, long):
        timer.seconds.clear()
        start = time.perf_counter()
        model = fit(max_iter)
        times.append(time.perf_counter() - start)
        if model.n_iter_ != max_iter:
            raise RuntimeError(f"the fit did {model.n_iter_} iterations, not {max_iter}")
    return (times[1] - times[0]) / (long - short), list(timer.seconds)


def timed_calls(model: GaussianMixture, batches) -> list[float]:
    times = []
    for batch in batches:
        start = time.perf_counter()
        model.partial_fit(batch)
        times.append(time.perf_counter() - start)
    return times


def profile_call(model: GaussianMixture, batch: np.ndarray) -> list[str]:
    """Cumulative seconds of the steps of one partial_fit call (cProfile's overhead included)."""
    profiler = cProfile.Profile()
    profiler.runcall(model.partial_fit, batch)
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = 0.0
    found: dict[str, float] = {}
    for (path, _, name), (_, _, _, cumulative, _) in stats.stats.items():
        if name == "partial_fit" and path.endswith("_online.py"):
            total = cumulative
        if name in STEPS and "distgmm" in path:
            found[name] = max(found.get(name, 0.0), cumulative)
    lines = [f"profile of one numpy partial_fit call: {total:.3f} s in all"]
    lines += [f"  {name:12} {found[name]:.3f} s" for name in STEPS if name in found]
    return lines


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per batch")
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--covariance-type", default="full")
    parser.add_argument("--repeats", type=int, default=3, help="repeats (median is reported)")
    parser.add_argument("--calls", type=int, default=3, help="timed partial_fit calls a repeat")
    parser.add_argument("--short", type=int, default=2)
    parser.add_argument("--long", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="1/10 of the rows, one repeat")
    parser.add_argument("--profile", action="store_true", help="where a call's time goes")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.repeats = max(1000, args.rows // 10), 1
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)  # tol=0: never "converged"
    k, d = args.components, args.features
    batches = make_batches(1 + args.repeats * args.calls, args.rows, d, k)
    print(
        f"distgmm {distgmm.__version__}, numpy {np.__version__}; cores: {os.cpu_count()}; "
        f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"batches of {args.rows:,} x {d}, K={k}, {args.covariance_type}; EM iter = the fit's "
        f"own timing of an iteration (diff. = (fit of {args.long} iterations - fit of "
        f"{args.short}) / {args.long - args.short}); partial_fit = one whole call after a "
        f"first one; medians over {args.repeats} repeat(s) ({args.calls} call(s) each); "
        "ratio = partial_fit / EM iter"
    )
    settings = dict(n_components=k, covariance_type=args.covariance_type, random_state=0)
    start = GaussianMixture(max_iter=1, **settings).fit(batches[0][:20_000])
    given = dict(
        weights_init=start.weights_,
        means_init=start.means_,
        precisions_init=start.precisions_,
        init_params="random_from_data",  # overridden by the given parameters
        tol=0.0,
    )
    timer = IterationTimes()
    em_logger = logging.getLogger("distgmm.core.em")
    em_logger.addHandler(timer)
    em_logger.setLevel(logging.INFO)
    results = {}
    with local_client(n_workers=N_WORKERS, threads_per_worker=1, dashboard_address=":0") as client:
        first = persisted(batches[0], client)
        lazy = [persisted(b, client) for b in batches[1:]]
        online = {
            "numpy": GaussianMixture(**settings).partial_fit(batches[0]),
            "dask-2p": GaussianMixture(client=client, **settings).partial_fit(first),
        }
        fits = {
            "numpy": lambda m: GaussianMixture(max_iter=m, **settings, **given).fit(batches[0]),
            "dask-2p": lambda m: GaussianMixture(
                max_iter=m, client=client, persist=True, **settings, **given
            ).fit(first),
        }
        own = {name: [] for name in fits}
        difference = {name: [] for name in fits}
        calls = {name: [] for name in fits}
        for r in range(args.repeats):
            part = slice(r * args.calls, (r + 1) * args.calls)
            for name in fits:
                diff, iterations = seconds_per_iteration(fits[name], args.short, args.long, timer)
                difference[name].append(diff)
                own[name] += iterations
                source = batches[1:] if name == "numpy" else lazy
                calls[name] += timed_calls(online[name], source[part])
        for name in fits:
            results[name] = [statistics.median(x[name]) for x in (own, difference, calls)]
        profile = copy.deepcopy(online["numpy"]) if args.profile else None
    print(
        f"\n{'runner':8} {'EM iter':>9} {'(diff.)':>9} {'partial_fit':>12} {'ratio':>6} "
        f"{'target':>7}"
    )
    print(f"{'':8} {'s':>9} {'s':>9} {'s/call':>12}")
    misses = []
    for name, (iteration, diff, call) in results.items():
        ratio = call / iteration
        verdict = "PASS" if ratio <= TARGET else "MISS"
        if verdict == "MISS":
            misses.append(name)
        print(
            f"{name:8} {iteration:9.3f} {diff:9.3f} {call:12.3f} {ratio:6.2f} "
            f"{'<=' + str(TARGET):>7} {verdict}"
        )
    if profile is not None:
        print("\n" + "\n".join(profile_call(profile, batches[-1])))
    print(f"\nspeed targets missed: {', '.join(misses) if misses else 'none'}")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("(other processes on the machine slow both sides alike only on average: see the load)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
