"""Quality of distgmm's dask-side k-means initialisation against scikit-learn's, on overlapping
mixtures: the final mean log-likelihood each reaches from its own default start.

What is compared
    For each seed, rows of a random mixture from :mod:`distgmm.synthetic` (full covariances,
    means ``separation`` noise standard deviations apart on average: at 8-16 for 8 features the
    components overlap), then

    * distgmm's ``GaussianMixture`` on the rows as a chunked dask array (threaded scheduler in
      this process, no cluster), so the initialisation is the dask one: k-means++ and Lloyd on a
      row-keyed sample, then Lloyd passes over all rows;
    * scikit-learn's ``GaussianMixture`` on the same rows as numpy (its ``KMeans`` start),

    both with ``init_params='kmeans'``, the same ``n_init`` and ``random_state=seed``, and
    every other parameter at its default. The figure compared is each fitted model's mean
    log-likelihood of the rows (``score``); the difference is distgmm's minus scikit-learn's,
    so a negative difference is a worse local optimum found by distgmm. The random streams
    differ, so a seed can go either way; the mean difference over the seeds is what says
    whether one start is weaker.

The table has one line per seed; then, per ``n_init``, the mean difference, how many seeds
each wins (by more than 1e-6: the same optimum found by both is a tie) and the median fit time
of each (initialisation plus EM).

Measured on the 2-core machine (shared), 50,000 x 8, K=5, 20 seeds; mean difference
(distgmm - scikit-learn) and seeds won by distgmm / by scikit-learn, out of 20:

    separation  n_init   before (1 start, 5 passes)   after (best of 4 starts, to tol)
    8           1        -0.0224   4 /  6             +0.0454   4 / 3
    8           3        -0.0111   1 /  2             -0.0111   1 / 2
    12          1        +0.0468   5 /  4             +0.1123   5 / 1
    12          3         0.0000   0 /  0             -0.0145   0 / 1
    16          1        -0.0177   0 /  2             +0.0229   1 / 0
    16          3         0.0000   0 /  0              0.0000   0 / 0

Usage::

    python benchmarks/init_quality.py                       # 20 seeds, n_init 1 and 3
    python benchmarks/init_quality.py --seeds 5 --separation 16 --n-init 1
"""

from __future__ import annotations

import contextlib  # isort: skip

# First: benchmarks/select.py must not shadow the standard library (_benchpath.py); a
# worker process is spawned with the parent's path, which no longer holds benchmarks/.
with contextlib.suppress(ImportError):
    import _benchpath  # noqa: F401

import argparse
import statistics
import tempfile
import time
import warnings

import dask
import dask.array as da
import numpy as np
import zarr
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from distgmm import GaussianMixture
from distgmm.synthetic import mixture_labels, write_mixture_zarr

TIE = 1e-6


def rows(n, d, k, separation, seed):
    with tempfile.TemporaryDirectory(prefix="distgmm-init-quality-") as tmp:
        write_mixture_zarr(f"{tmp}/x.zarr", n, d, k, separation=separation, seed=seed)
        X = np.asarray(zarr.open_array(f"{tmp}/x.zarr", mode="r")[:])
    return X, mixture_labels(n, d, k, separation=separation, seed=seed)


def timed(estimator, data):
    start = time.perf_counter()
    estimator.fit(data)
    return estimator, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--separation", type=float, default=12.0)
    parser.add_argument("--chunk-rows", type=int, default=5_000)
    parser.add_argument("--n-init", default="1,3", help="comma-separated n_init values")
    args = parser.parse_args()
    n_inits = [int(v) for v in args.n_init.split(",")]
    k = args.components
    print(
        f"{args.rows} x {args.features}, K={k}, separation {args.separation:g}, dask chunks of "
        f"{args.chunk_rows} rows (threaded scheduler), {args.seeds} seeds"
    )
    header = "seed n_init   distgmm   sklearn      diff   ARI dist  ARI sk   t dist  t sk"
    print(header)
    results = {n: [] for n in n_inits}
    with warnings.catch_warnings(), dask.config.set(scheduler="threads"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(args.seeds):
            X, truth = rows(args.rows, args.features, k, args.separation, seed)
            Xd = da.from_array(X, chunks=(args.chunk_rows, -1))
            for n_init in n_inits:
                kw = dict(n_components=k, n_init=n_init, random_state=seed)
                ours, t_ours = timed(GaussianMixture(**kw), Xd)
                theirs, t_theirs = timed(SkGaussianMixture(**kw), X)
                ll_ours, ll_theirs = float(ours.score(X)), float(theirs.score(X))
                ari_ours = adjusted_rand_score(truth, ours.predict(X))
                ari_theirs = adjusted_rand_score(truth, theirs.predict(X))
                results[n_init].append((ll_ours - ll_theirs, t_ours, t_theirs))
                print(
                    f"{seed:4d} {n_init:5d} {ll_ours:9.5f} {ll_theirs:9.5f} "
                    f"{ll_ours - ll_theirs:+9.5f} {ari_ours:9.4f} {ari_theirs:7.4f} "
                    f"{t_ours:7.2f} {t_theirs:5.2f}",
                    flush=True,
                )
    print()
    print("n_init  mean diff  distgmm wins  sklearn wins  ties  median t dist  median t sk")
    for n_init, rs in results.items():
        diffs = [r[0] for r in rs]
        print(
            f"{n_init:6d} {statistics.fmean(diffs):+10.5f} {sum(d > TIE for d in diffs):13d} "
            f"{sum(d < -TIE for d in diffs):13d} {sum(abs(d) <= TIE for d in diffs):5d} "
            f"{statistics.median(r[1] for r in rs):14.2f} "
            f"{statistics.median(r[2] for r in rs):12.2f}"
        )


if __name__ == "__main__":
    main()
