"""``distgmm update``: one online EM step of a saved model on a new batch of data."""

from __future__ import annotations

import argparse
import time

from .. import load
from ..modelfile import save_model
from ._columns import select_model_columns
from ._errors import EXIT_OK
from ._paths import check_outputs
from ._progress import _progress
from ._runtime import _check_features, _cluster, _open_data, _Output


def _update(args: argparse.Namespace, out: _Output) -> int:
    model = load(args.model, storage_options=args.storage_options)
    if not hasattr(model, "partial_fit"):
        from ._errors import UsageError

        raise UsageError(
            f"{args.model} holds a {type(model).__name__}, which has no online update; "
            "refit it with distgmm fit."
        )
    select_model_columns(args, model)
    X = _open_data(args)
    _check_features(model, X, args.data)
    in_place = args.out == args.model
    # Replacing MODEL is what the command is for; any other existing file needs --overwrite.
    check_outputs(args, {"--out": None if in_place else args.out})
    before = getattr(model, "n_batches_seen_", 0)
    start = time.perf_counter()
    with _cluster(args, out) as client:
        model.set_params(client=client)
        with _progress("update: "):
            model.partial_fit(X)
        model.set_params(client=None)
    # Written to a temporary name and renamed: the old model stays whole until the new is.
    save_model(model, args.out, storage_options=args.storage_options)
    seconds = time.perf_counter() - start
    out.say(
        f"updated {args.model} with {X.shape[0]} rows (batch {model.n_batches_seen_}, mean "
        f"log-likelihood of the batch {model.lower_bound_:.6f}); saved to {args.out}, "
        f"{seconds:.2f} s"
    )
    out.result(
        {
            "command": "update",
            "model": args.model,
            "data": args.data,
            "n_samples": int(X.shape[0]),
            "n_batches_seen": int(model.n_batches_seen_),
            "batches_before": int(before),
            "batch_mean_log_likelihood": float(model.lower_bound_),
            "out": args.out,
            "seconds": seconds,
        }
    )
    return EXIT_OK
