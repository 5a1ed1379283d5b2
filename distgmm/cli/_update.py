"""``distgmm update``: one online EM step of a saved model on a new batch of data."""

from __future__ import annotations

import argparse
import time

from ..modelfile import save_model
from ._errors import EXIT_OK
from ._paths import check_outputs
from ._progress import _progress
from ._runtime import _cluster, _Output
from ._tables import model_data, n_rows


def _update(args: argparse.Namespace, out: _Output) -> int:
    # a discrete or mixed model reads its columns of a table (Parquet, CSV)
    model, X, _ = model_data(args)
    if not hasattr(model, "partial_fit"):
        from ._errors import UsageError

        raise UsageError(
            f"{args.model} holds a {type(model).__name__}, which has no online update; "
            "refit it with distgmm fit."
        )
    in_place = args.out == args.model
    # Replacing MODEL is what the command is for; any other existing file needs --overwrite.
    check_outputs(args, {"--out": None if in_place else args.out})
    before = getattr(model, "n_batches_seen_", 0)
    start = time.perf_counter()
    with _cluster(args, out) as client:
        model.set_params(client=client)
        with _progress("update: "):
            model.partial_fit(X)
        rows = n_rows(X, client)
        model.set_params(client=None)
    # Written to a temporary name and renamed: the old model stays whole until the new is.
    save_model(model, args.out, storage_options=args.storage_options)
    seconds = time.perf_counter() - start
    out.say(
        f"updated {args.model} with {rows} rows (batch {model.n_batches_seen_}, mean "
        f"log-likelihood of the batch {model.lower_bound_:.6f}); saved to {args.out}, "
        f"{seconds:.2f} s"
    )
    out.result(
        {
            "command": "update",
            "model": args.model,
            "data": args.data,
            "n_samples": rows,
            "n_batches_seen": int(model.n_batches_seen_),
            "batches_before": int(before),
            "batch_mean_log_likelihood": float(model.lower_bound_),
            "out": args.out,
            "seconds": seconds,
        }
    )
    return EXIT_OK
