"""The ``distgmm`` command line (kept at the edge: the library never imports it)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections.abc import Sequence

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    import dask.array as da
    import numpy as np

    from . import GaussianMixture, local_client

    rng = np.random.default_rng(args.seed)
    k, d, n = args.components, args.features, args.rows
    centers = rng.normal(0.0, 8.0, size=(k, d))
    labels = rng.integers(0, k, size=n)
    data = centers[labels] + rng.standard_normal((n, d))
    with tempfile.TemporaryDirectory(prefix="distgmm-demo-") as tmp:
        path = f"{tmp}/demo.zarr"
        da.from_array(data, chunks=(max(1, n // 8), d)).to_zarr(path)
        print(f"wrote {n} x {d} rows from a {k}-component mixture to {path}", file=sys.stderr)
        with local_client(n_workers=args.workers, threads_per_worker=1) as client:
            dashboard = (
                client.dashboard_link
                if importlib.util.find_spec("bokeh")
                else "no dashboard (pip install 'bokeh>=3.1' for one)"
            )
            print(f"local cluster: {dashboard}", file=sys.stderr)
            X = da.from_zarr(path)
            start = time.perf_counter()
            gm = GaussianMixture(
                k, covariance_type="full", random_state=args.seed, client=client, verbose=1
            ).fit(X)
            seconds = time.perf_counter() - start
            found = gm.predict(X).compute()
    from sklearn.metrics import adjusted_rand_score

    ari = adjusted_rand_score(labels, found)
    print(
        f"fitted {k} components in {gm.n_iter_} iterations, {seconds:.2f} s "
        f"(converged={gm.converged_}); mean log-likelihood {gm.lower_bound_:.4f}; "
        f"adjusted Rand index against the true labels {ari:.4f}"
    )
    return 0 if gm.converged_ and ari > 0.9 else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distgmm", description="Gaussian mixture models on data larger than memory."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="fit a synthetic Zarr dataset on a local cluster of processes"
    )
    demo.add_argument("--rows", type=int, default=200_000)
    demo.add_argument("--features", type=int, default=8)
    demo.add_argument("--components", type=int, default=5)
    demo.add_argument("--workers", type=int, default=2)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
