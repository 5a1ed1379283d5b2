"""Time per EM iteration: distgmm against scikit-learn, from the same starting point.

Both estimators get the same data and the same initial weights, means and precisions, with
``tol=0`` so each runs exactly ``max_iter`` iterations. The time per iteration is the
difference between a fit of ``LONG`` and one of ``SHORT`` iterations, divided by
``LONG - SHORT``: validation, set-up and the final E-step cancel out. Each figure is the
median of ``--repeats`` runs, measured side by side in this process, and printed as a ratio
to scikit-learn (which keeps its default, all-core BLAS).

distgmm runs twice: on the numpy array (in process, a thread pool) and on a dask array
persisted on a LocalCluster of two single-threaded worker processes.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from dataclasses import dataclass

import dask.array as da
import numpy as np
from distributed import wait
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from distgmm import GaussianMixture, local_client

SHORT, LONG = 2, 7


@dataclass(frozen=True)
class Case:
    name: str
    n: int
    d: int
    k: int
    covariance_type: str
    dtype: type
    target: float


CASES = {
    "a": Case("1M x 16, K=8, full, f64", 1_000_000, 16, 8, "full", np.float64, 0.25),
    "b": Case("1M x 16, K=8, full, f32", 1_000_000, 16, 8, "full", np.float32, 0.25),
    "c": Case("200k x 64, K=16, full, f64", 200_000, 64, 16, "full", np.float64, 0.5),
    "d": Case("200k x 64, K=16, diag, f64", 200_000, 64, 16, "diag", np.float64, 0.35),
}


def make_data(case: Case, scale: float) -> tuple[np.ndarray, dict]:
    rng = np.random.default_rng(0)
    n = int(case.n * scale)
    centers = rng.normal(0, 4, (case.k, case.d))
    X = (centers[rng.integers(0, case.k, n)] + rng.standard_normal((n, case.d))).astype(case.dtype)
    start = SkGaussianMixture(
        case.k, covariance_type=case.covariance_type, max_iter=1, random_state=0
    ).fit(X[:20_000].astype(np.float64))
    init = {
        "weights_init": start.weights_,
        "means_init": start.means_,
        "precisions_init": start.precisions_,
    }
    return X, init


def per_iteration(fit, repeats: int) -> tuple[float, object]:
    times, model = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit(SHORT)
        t1 = time.perf_counter()
        model = fit(LONG)
        t2 = time.perf_counter()
        times.append(((t2 - t1) - (t1 - t0)) / (LONG - SHORT))
    return float(np.median(times)), model


def run(case: Case, client, scale: float, repeats: int) -> dict:
    X, init = make_data(case, scale)
    kw = dict(init, n_components=case.k, covariance_type=case.covariance_type, tol=0)
    # Eight equal chunks, four per worker: a byte-size rule (e.g. 96 MB) would give the
    # float32 case one chunk and the float64 case two unequal ones, idling a worker.
    rows = -(-len(X) // 8)
    Xd = client.persist(da.from_array(X, chunks=(rows, -1)))
    wait(Xd)
    sk, sk_model = per_iteration(lambda m: SkGaussianMixture(max_iter=m, **kw).fit(X), repeats)
    ours, model = per_iteration(lambda m: GaussianMixture(max_iter=m, **kw).fit(X), repeats)
    dask_s, dmodel = per_iteration(
        lambda m: GaussianMixture(max_iter=m, client=client, persist=True, **kw).fit(Xd), repeats
    )
    scale_ = np.abs(sk_model.means_).max()
    return {
        "sk": sk,
        "np": ours,
        "dask": dask_s,
        "agree": max(
            np.abs(model.means_ - sk_model.means_).max(),
            np.abs(dmodel.means_ - sk_model.means_).max(),
        )
        / scale_,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="a,b,c,d", help="comma-separated, from a,b,c,d")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1/20 of the rows, one repeat")
    args = parser.parse_args()
    scale, repeats = (0.05, 1) if args.quick else (1.0, args.repeats)
    warnings.simplefilter("ignore", ConvergenceWarning)
    print(
        f"cores: {os.cpu_count()}; seconds per EM iteration, median of {repeats}; "
        f"(fit of {LONG} - fit of {SHORT} iterations) / {LONG - SHORT}"
    )
    header = (
        f"{'case':28} {'sklearn':>8} {'numpy':>8} {'ratio':>6} {'dask-2p':>8} {'ratio':>6}"
        f" {'target':>6} {'means rel diff':>14}"
    )
    print(header)
    with local_client(n_workers=2, threads_per_worker=1, memory_limit="8GiB") as client:
        for key in args.cases.split(","):
            case = CASES[key]
            r = run(case, client, scale, repeats)
            ok = "PASS" if max(r["np"], r["dask"]) <= case.target * r["sk"] else "MISS"
            print(
                f"{case.name:28} {r['sk']:8.3f} {r['np']:8.3f} {r['np'] / r['sk']:6.3f} "
                f"{r['dask']:8.3f} {r['dask'] / r['sk']:6.3f} {case.target:6.2f} "
                f"{r['agree']:14.1e}  {ok}",
                flush=True,
            )


if __name__ == "__main__":
    main()
