"""The fitting commands, ``fit`` and ``select``, and what they report of a fit."""

from __future__ import annotations

import argparse
import os
import time
import warnings
from typing import Any

import distgmm

from .. import BayesianGaussianMixture, ConvergenceWarning, GaussianMixture
from .._waits import compute
from ..modelfile import save_model
from ._bayesian import (
    EFFECTIVE_SHARE,
    bayesian_params,
    bayesian_record,
    bound_description,
    effective_components,
    is_bayesian,
)
from ._errors import EXIT_NOT_CONVERGED, EXIT_OK, UsageError, _error, _one_line, _warning
from ._families import ESTIMATORS, estimator_family, family_params
from ._paths import check_outputs
from ._progress import _progress
from ._runtime import _cluster, _open_data, _Output
from ._tables import column_families, is_table_model, n_rows, open_for_fit


def _estimator(
    args: argparse.Namespace,
    n_components: int,
    covariance: str,
    client,
    cls=GaussianMixture,
    **extra,
):
    if getattr(args, "nan_policy", "raise") != "raise":
        if "nan_policy" not in cls._parameter_constraints:
            raise UsageError(f"--nan-policy {args.nan_policy} is not available for {cls.__name__}")
        extra["nan_policy"] = args.nan_policy
    return cls(
        n_components=n_components,
        covariance_type=covariance,
        tol=args.tol,
        reg_covar=args.reg_covar,
        max_iter=args.max_iter,
        n_init=args.n_init,
        init_params=args.init or "kmeans",
        random_state=args.seed,
        client=client,
        **extra,
    )


def _fit_quietly(gm: GaussianMixture, X, label: str = "") -> float:
    """Fit ``gm``; return the seconds taken. Non-convergence shows in ``converged_``."""
    start = time.perf_counter()
    with _progress(label), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    return time.perf_counter() - start


def _criteria(gm, X, client, n: int | None = None) -> dict[str, float]:
    """Mean log-likelihood, BIC and AIC of ``gm`` on ``X`` from one pass over the data.

    ``n``: the rows of ``X``, if known. The same sum as ``gm.score``/``gm.bic``/``gm.aic``,
    which would take a pass each. A BayesianGaussianMixture has no likelihood to count
    parameters for: only its ``score``, the mean over the rows of the log of the
    variational E-step's summed weights (a lower bound on the log predictive density), as
    ``mean_score``.
    """
    if is_bayesian(gm):
        n = n_rows(X, client) if n is None else n
        return {"mean_score": float(compute(client, gm.score_samples(X).sum())) / n}
    # The library's own sums (rows left out by nan_policy='omit' count nowhere), in one
    # computation.
    mean, weight = gm._weighted_mean(X, None)
    bic, aic = gm._criteria(mean, weight)
    return {"mean_log_likelihood": mean, "bic": bic, "aic": aic}


def _fit_record(gm) -> dict[str, Any]:
    return {**_model_record(gm), **_missing_record(gm)}


def _missing_record(gm) -> dict[str, Any]:
    """The policy for NaN entries and the rows it left out, when it is not 'raise'."""
    policy = getattr(gm, "nan_policy", "raise")
    if policy == "raise":
        return {}
    return {"nan_policy": policy, "n_omitted": int(getattr(gm, "n_omitted_", 0))}


def _model_record(gm) -> dict[str, Any]:
    if is_table_model(gm):
        return _table_record(gm)
    record = {
        "n_components": gm.n_components,
        "covariance_type": gm.covariance_type,
        "converged": bool(gm.converged_),
        "n_iter": int(gm.n_iter_),
        "lower_bound": float(gm.lower_bound_),
    }
    if is_bayesian(gm):
        # Its bound is not a mean log-likelihood: say which it is (GaussianMixture's record
        # is left as it was).
        record = {
            "estimator": type(gm).__name__,
            **record,
            "lower_bound_kind": "elbo_total",
            **bayesian_record(gm),
        }
    return record


def _table_record(gm) -> dict[str, Any]:
    """What ``--json`` reports of a fitted discrete or mixed model."""
    gaussian = {"covariance_type": gm.covariance_type} if hasattr(gm, "covariance_type") else {}
    return {
        "estimator": type(gm).__name__,
        "family": estimator_family(gm),
        "n_components": gm.n_components,
        **gaussian,
        "columns": gm.columns_,
        "column_families": column_families(gm),
        "converged": bool(gm.converged_),
        "n_iter": int(gm.n_iter_),
        "lower_bound": float(gm.lower_bound_),
    }


def _converged_code(args: argparse.Namespace, gm: GaussianMixture, what: str) -> int:
    if gm.converged_ or not args.require_converged:
        return EXIT_OK
    _error(
        f"{what} did not converge in {gm.n_iter_} iterations (--require-converged); "
        f"the model was saved to {args.out}. Raise --max-iter or --tol."
    )
    return EXIT_NOT_CONVERGED


def _outcome(gm) -> str:
    if hasattr(gm, "n_batches_seen_"):  # updated online (partial_fit, distgmm update)
        return (
            f"updated online with {gm.n_batches_seen_} batch(es), mean log-likelihood of "
            f"the last {gm.lower_bound_:.6f}"
        )
    state = "converged after" if gm.converged_ else "did not converge in"
    omitted = getattr(gm, "n_omitted_", 0)
    if omitted:
        state = f"{omitted} rows with a NaN left out; {state}"
    if not is_bayesian(gm):
        return f"{state} {gm.n_iter_} iterations, lower bound {gm.lower_bound_:.6f}"
    return (
        f"{state} {gm.n_iter_} iterations, {bound_description(gm)} {gm.lower_bound_:.6f}, "
        f"{effective_components(gm.weights_)} of {gm.n_components} components used "
        f"(weight > {EFFECTIVE_SHARE:g}/k)"
    )


def _warn_if_at_edge(best: int, counts: list[int]) -> None:
    """Warn, on stderr even with ``--json``, if the best count ends the range tried.

    The criterion may keep improving past it; k=1 at the low end is no edge (there is no
    lower count to try), nor is the only count given.
    """
    low, high = min(counts), max(counts)
    if low == high or (best != high and (best != low or best == 1)):
        return
    side = "largest" if best == high else "smallest"
    _warning(
        f"the best n_components, {best}, is the {side} of the counts tried ({low} to "
        f"{high}); a {'larger' if best == high else 'smaller'} one may be better: widen "
        "-k/--components"
    )


def _fit(args: argparse.Namespace, out: _Output) -> int:
    if args.resume and not args.checkpoint:
        raise UsageError("--resume continues from a checkpoint: give --checkpoint FILE.")
    params = family_params(args)  # checks the family's options, for every family
    if args.family != "gaussian":
        bayesian_params(args, 0)  # a prior option (of --model bayesian only) exits 2
        return _fit_table(args, out, params)
    X = _open_data(args)
    priors = bayesian_params(args, int(X.shape[1]))
    check_outputs(args, {"--out": args.out, "--checkpoint": args.checkpoint})
    cls = BayesianGaussianMixture if args.model == "bayesian" else GaussianMixture
    with _cluster(args, out) as client:
        gm = _estimator(
            args,
            args.components,
            args.covariance or "full",
            client,
            cls,
            checkpoint=args.checkpoint,
            resume=args.resume,
            **priors,
        )
        if args.resume and os.path.exists(args.checkpoint):
            out.say(f"resuming from the checkpoint {args.checkpoint}")
        seconds = _fit_quietly(gm, X)
        save_model(gm, args.out, overwrite=args.overwrite, storage_options=args.storage_options)
    kind = "a BayesianGaussianMixture of " if is_bayesian(gm) else ""
    out.say(
        f"fitted {kind}{gm.n_components} {gm.covariance_type} components to {X.shape[0]} rows "
        f"x {X.shape[1]} features of {args.data}: {_outcome(gm)}, {seconds:.2f} s; "
        f"saved to {args.out}"
    )
    out.result(
        {
            "command": "fit",
            "data": args.data,
            "n_samples": X.shape[0],
            "n_features": X.shape[1],
            **_fit_record(gm),
            "seconds": seconds,
            "model": args.out,
            "checkpoint": args.checkpoint,
        }
    )
    return _converged_code(args, gm, "The fit")


def _fit_table(args: argparse.Namespace, out: _Output, params: dict[str, Any]) -> int:
    """``fit --family categorical|bernoulli|poisson|multinomial|mixed``."""
    X = open_for_fit(args, params)
    check_outputs(args, {"--out": args.out, "--checkpoint": args.checkpoint})
    cls = getattr(distgmm, ESTIMATORS[args.family])
    with _cluster(args, out) as client:
        gm = cls(
            n_components=args.components,
            tol=args.tol,
            max_iter=args.max_iter,
            n_init=args.n_init,
            random_state=args.seed,
            client=client,
            checkpoint=args.checkpoint,
            resume=args.resume,
            **params,
        )
        if args.resume and os.path.exists(args.checkpoint):
            out.say(f"resuming from the checkpoint {args.checkpoint}")
        seconds = _fit_quietly(gm, X)
        rows = n_rows(X, client)
        save_model(gm, args.out, overwrite=args.overwrite, storage_options=args.storage_options)
    families = column_families(gm)
    shown = ", ".join(f"{c} {f}" for c, f in list(families.items())[:8])
    more = ", ..." if len(families) > 8 else ""
    out.say(
        f"fitted a {type(gm).__name__} of {gm.n_components} components to {rows} rows x "
        f"{len(families)} columns of {args.data} ({shown}{more}): {_outcome(gm)}, "
        f"{seconds:.2f} s; saved to {args.out}"
    )
    out.result(
        {
            "command": "fit",
            "data": args.data,
            "n_samples": rows,
            "n_features": gm.n_features_in_,
            **_fit_record(gm),
            "seconds": seconds,
            "model": args.out,
            "checkpoint": args.checkpoint,
        }
    )
    return _converged_code(args, gm, "The fit")


def _select(args: argparse.Namespace, out: _Output) -> int:
    if args.model != "gaussian":
        raise UsageError(
            "select compares GaussianMixture fits by BIC or AIC, which a "
            "BayesianGaussianMixture has no likelihood for; instead run distgmm fit --model "
            "bayesian with a generous -k: its weights leave unneeded components near 0"
        )
    from .. import select_mixture

    X = _open_data(args)
    check_outputs(args, {"--out": args.out})
    start = time.perf_counter()
    with _cluster(args, out) as client:
        # Every candidate in the same passes over the data (distgmm.select_mixture).
        template = _estimator(args, 1, args.covariance[0], client)
        with _progress("select: "):
            sel = select_mixture(
                X,
                args.components,
                args.covariance,
                criterion=args.criterion,
                estimator=template,
            )
        out.say(
            f"{'covariance':<10} {'k':>4}  {'BIC':>14} {'AIC':>14} {'iterations':>10} "
            f"{'converged':>9}"
        )
        rows: list[dict[str, Any]] = []
        for result, gm in zip(sel.results_, sel.estimators_, strict=True):
            cov, k = result["covariance_type"], result["n_components"]
            if gm is None:
                failure = {"error_type": result["error_type"], "error": _one_line(result["error"])}
                rows.append(
                    {"n_components": k, "covariance_type": cov, "status": "failed", **failure}
                )
                out.say(f"{cov:<10} {k:>4}  failed: {result['error_type']}")
                continue
            row = {**_fit_record(gm), "status": "ok", "bic": result["bic"], "aic": result["aic"]}
            rows.append(row)
            out.say(
                f"{cov:<10} {k:>4}  {row['bic']:>14.2f} {row['aic']:>14.2f} "
                f"{gm.n_iter_:>10} {'yes' if gm.converged_ else 'NO':>9}"
            )
        best = sel.best_estimator_
        best_score = sel.results_[sel.best_index_][args.criterion]
        save_model(best, args.out, overwrite=args.overwrite, storage_options=args.storage_options)
    out.say(
        f"best by {args.criterion}: {best.covariance_type} k={best.n_components} "
        f"({args.criterion} {best_score:.6g}); saved to {args.out}; {sel.n_passes_} passes "
        "over the data for all candidates"
    )
    _warn_if_at_edge(best.n_components, args.components)
    out.result(
        {
            "command": "select",
            "data": args.data,
            "n_samples": X.shape[0],
            "n_features": X.shape[1],
            "criterion": args.criterion,
            "candidates": rows,
            "best": {
                "n_components": best.n_components,
                "covariance_type": best.covariance_type,
                args.criterion: best_score,
            },
            "seconds": time.perf_counter() - start,
            "n_passes": sel.n_passes_,
            "model": args.out,
        }
    )
    return _converged_code(args, best, "The best candidate")
