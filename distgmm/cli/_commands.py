"""The commands that use a saved model (``predict``, ``score``, ``info``), ``make-data``, ``demo``.

``fit`` and ``select`` are in :mod:`distgmm.cli._fitting`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np

from .. import GaussianMixture, local_client, read_zarr
from ..estimators._load import load_model_with_header
from ..io import output_format
from ..synthetic import mixture_labels, write_mixture_zarr
from ._bayesian import bayesian_record, is_bayesian
from ._errors import EXIT_OK
from ._families import estimator_family
from ._fitting import _criteria, _outcome
from ._paths import check_outputs
from ._progress import _progress
from ._runtime import _cluster, _dashboard, _Output
from ._tables import column_families, is_table_model, model_data, n_rows


def _predict(args: argparse.Namespace, out: _Output) -> int:
    gm, X, kept = model_data(args, args.keep_columns)
    output_format(args.out)  # an unknown suffix fails here, before any cluster starts
    check_outputs(args, {"--out": args.out}, files=False)
    outputs = ["labels"] + ["probabilities"] * args.proba + ["log_likelihood"] * args.log_likelihood
    start = time.perf_counter()
    with _cluster(args, out) as client:
        gm.set_params(client=client)
        options = {
            "proba": args.proba,
            "log_likelihood": args.log_likelihood,
            "keep_columns": args.keep_columns,
            "overwrite": args.overwrite,
            "storage_options": args.storage_options,
        }
        if kept is None:
            gm.write_predictions(X, args.out, **options)
        else:  # the kept columns are a selection of the table beside the model's
            gm._write_predictions(X, args.out, kept, **options)
        rows = n_rows(X, client)
    seconds = time.perf_counter() - start
    out.say(f"wrote {', '.join(outputs)} of {rows} rows to {args.out}, {seconds:.2f} s")
    out.result(
        {
            "command": "predict",
            "model": args.model,
            "data": args.data,
            "n_samples": rows,
            "out": args.out,
            "outputs": outputs,
            "keep_columns": args.keep_columns or [],
            "seconds": seconds,
        }
    )
    return EXIT_OK


def _score(args: argparse.Namespace, out: _Output) -> int:
    gm, X, _ = model_data(args)
    start = time.perf_counter()
    with _cluster(args, out) as client:
        rows = n_rows(X, client)
        criteria = _criteria(gm, X, client, rows)
    seconds = time.perf_counter() - start
    if is_bayesian(gm):
        shown = (
            f"mean score {criteria['mean_score']:.6f} (BayesianGaussianMixture.score: a lower "
            "bound on the mean log predictive density; no BIC or AIC)"
        )
    else:
        shown = (
            f"mean log-likelihood {criteria['mean_log_likelihood']:.6f}, "
            f"BIC {criteria['bic']:.6g}, AIC {criteria['aic']:.6g}"
        )
    out.say(f"{rows} rows of {args.data}: {shown}, {seconds:.2f} s")
    out.result(
        {
            "command": "score",
            "model": args.model,
            "estimator": type(gm).__name__,
            "data": args.data,
            "n_samples": rows,
            "n_features": X.shape[1],
            **criteria,
            "seconds": seconds,
        }
    )
    return EXIT_OK


#: Not shown by ``info``: the initial arrays can be large, and verbosity is not a setting of
#: the model.
_INFO_HIDDEN_PARAMS = frozenset(
    {"weights_init", "means_init", "precisions_init", "verbose", "verbose_interval"}
)


def _printable(text: str) -> str:
    """``text`` with control and other unprintable characters escaped (a file wrote it)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _info(args: argparse.Namespace, out: _Output) -> int:
    # the whole file checked first
    gm, header = load_model_with_header(args.model, args.storage_options)
    if is_table_model(gm):
        return _info_table(args, out, gm, header)
    fit = header["fit"]
    params = {
        name: value for name, value in header["params"].items() if name not in _INFO_HIDDEN_PARAMS
    }
    out.say(
        f"{args.model}: {type(gm).__name__}, {gm.n_components} {gm.covariance_type} components, "
        f"{gm.n_features_in_} features; distgmm {_printable(header['distgmm_version'])}, "
        f"created {_printable(header['created'])}"
    )
    out.say(f"fit: {_outcome(gm)}{_nan_policy(gm)}")
    bayesian = bayesian_record(gm) if is_bayesian(gm) else {}
    if bayesian:
        out.say(
            f"priors: {bayesian['weight_concentration_prior_type']}, weight concentration "
            f"{bayesian['weight_concentration_prior']:.6g}, mean precision "
            f"{bayesian['mean_precision_prior']:.6g}, degrees of freedom "
            f"{bayesian['degrees_of_freedom_prior']:.6g}; mean prior "
            f"{_vector(bayesian['mean_prior'])}, covariance prior "
            f"{_covariance_prior(bayesian['covariance_prior'])}"
        )
    if "feature_names_in_" in fit:
        out.say(f"features: {', '.join(_printable(name) for name in fit['feature_names_in_'])}")
    out.say("component  weight    mean")
    for k, (weight, mean) in enumerate(zip(gm.weights_, gm.means_, strict=True)):
        out.say(f"{k:>9}  {weight:.4f}    {_vector(mean)}")
    out.result(
        {
            "command": "info",
            "model": args.model,
            "estimator": type(gm).__name__,
            "covariance_type": gm.covariance_type,
            "n_components": gm.n_components,
            "n_features": gm.n_features_in_,
            **_fit_record(gm, header, params),
            "means": gm.means_,
            **bayesian,
            **_online_record(gm),
        }
    )
    return EXIT_OK


def _fit_record(gm, header: dict, params: dict) -> dict:
    """What ``info --json`` says of any model file: its fit, provenance and weights."""
    fit = header["fit"]
    return {
        "converged": fit["converged"],
        "n_iter": fit["n_iter"],
        "lower_bound": fit["lower_bound"],
        "distgmm_version": header["distgmm_version"],
        "created": header["created"],
        "format_version": header["format_version"],
        "feature_names": fit.get("feature_names_in_"),
        "params": params,
        "weights": gm.weights_,
    }


def _nan_policy(gm) -> str:
    """How the model reads a NaN, when not as an error."""
    policy = getattr(gm, "nan_policy", "raise")
    return "" if policy == "raise" else f"; NaN entries: {policy} (nan_policy={policy!r})"


def _online_record(gm) -> dict:
    """How many batches online updates have blended into the model, if any."""
    seen = getattr(gm, "n_batches_seen_", None)
    return {} if seen is None else {"n_batches_seen": int(seen)}


#: The categories ``info`` shows of a column (all are counted).
_SHOWN_CATEGORIES = 8
#: ... and lists in ``--json``.
_LISTED_CATEGORIES = 100


def _info_table(args: argparse.Namespace, out: _Output, gm, header: dict) -> int:
    """``info`` of a discrete or mixed model: its columns, their families and categories,
    its weights and the shapes of its parameters."""
    families = column_families(gm)
    categories = dict(zip(gm.columns_, gm._coding.categories, strict=True))
    family = estimator_family(gm)
    gaussian = f", {gm.covariance_type} Gaussian covariance" if family == "mixed" else ""
    out.say(
        f"{args.model}: {type(gm).__name__} (--family {family}), {gm.n_components} "
        f"components{gaussian}, {len(families)} model columns of {gm.n_features_in_} input "
        f"columns; distgmm {_printable(header['distgmm_version'])}, created "
        f"{_printable(header['created'])}"
    )
    out.say(f"fit: {_outcome(gm)}{_nan_policy(gm)}")
    out.say("column  family  categories")
    for column, kind in families.items():
        cats = categories[column]
        shown = "" if cats is None else f"  {len(cats)}: {_categories(cats)}"
        out.say(f"{_printable(str(column))}  {kind}{shown}")
    shapes = parameter_shapes(gm)
    out.say("parameters: " + ", ".join(f"{n} {_shape(s)}" for n, s in shapes.items()))
    out.say("component  weight")
    for k, weight in enumerate(gm.weights_):
        out.say(f"{k:>9}  {weight:.4f}")
    params = {n: v for n, v in header["params"].items() if n not in _INFO_HIDDEN_PARAMS}
    listed = {c: v for c, v in categories.items() if v is not None}
    out.result(
        {
            "command": "info",
            "model": args.model,
            "estimator": type(gm).__name__,
            "family": family,
            "n_components": gm.n_components,
            "n_features": gm.n_features_in_,
            **({"covariance_type": gm.covariance_type} if family == "mixed" else {}),
            "columns": gm.columns_,
            "column_families": families,
            "categories": {c: v[:_LISTED_CATEGORIES].tolist() for c, v in listed.items()},
            "n_categories": {c: len(v) for c, v in listed.items()},
            "parameter_shapes": shapes,
            **_fit_record(gm, header, params),
            **_online_record(gm),
        }
    )
    return EXIT_OK


def _categories(values) -> str:
    shown = ", ".join(_printable(str(v)) for v in values[:_SHOWN_CATEGORIES])
    return f"[{shown}{', ...' if len(values) > _SHOWN_CATEGORIES else ''}]"


def _shape(shape) -> str:
    """``(3, 4)``, or a list of them (a categorical group's one per column), shortened."""
    if shape and isinstance(shape[0], (list, tuple)):
        shown = ", ".join(_shape(s) for s in shape[:4])
        return f"[{shown}{', ...' if len(shape) > 4 else ''}]"
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


#: A product mixture's parameter attributes, those it has depending on its families.
_PARAMETERS = (
    "weights_",
    "means_",
    "covariances_",
    "probabilities_",
    "bernoulli_probabilities_",
    "rates_",
    "multinomial_probabilities_",
    "mean_totals_",
    "multinomial_mean_totals_",
)


def parameter_shapes(gm) -> dict[str, list]:
    """The shape of each parameter attribute of ``gm`` (a list of shapes for a list)."""
    shapes: dict[str, list] = {}
    for name in _PARAMETERS:
        value = getattr(gm, name, None)
        if isinstance(value, list):
            shapes[name] = [list(np.shape(v)) for v in value]
        elif value is not None:
            shapes[name] = list(np.shape(value))
    return shapes


def _vector(values) -> str:
    """The first 8 values of a vector, for a line of ``info``."""
    shown = ", ".join(f"{v:.4g}" for v in values[:8])
    return f"[{shown}{', ...' if len(values) > 8 else ''}]"


def _covariance_prior(prior) -> str:
    """A covariance prior in a line: a float, a diagonal, or a matrix's diagonal."""
    prior = np.asarray(prior)
    if prior.ndim == 0:
        return f"{float(prior):.4g}"
    if prior.ndim == 1:
        return f"diagonal {_vector(prior)}"
    return f"a matrix of diagonal {_vector(np.diag(prior))}"


def _make_data(args: argparse.Namespace, out: _Output) -> int:
    start = time.perf_counter()
    write_mixture_zarr(
        args.out,
        args.rows,
        args.features,
        args.components,
        separation=args.separation,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    seconds = time.perf_counter() - start
    out.say(
        f"wrote {args.rows} x {args.features} float64 rows of a {args.components}-component "
        f"mixture to {args.out} in {seconds:.2f} s"
    )
    out.result(
        {
            "command": "make-data",
            "data": args.out,
            "n_samples": args.rows,
            "n_features": args.features,
            "n_components": args.components,
            "separation": args.separation,
            "seed": args.seed,
            "seconds": seconds,
        }
    )
    return EXIT_OK


def _demo(args: argparse.Namespace, out: _Output) -> int:
    from sklearn.metrics import adjusted_rand_score

    k, d, n = args.components, args.features, args.rows
    # Apart enough that the true components are found (adjusted Rand index >= 0.9997 for
    # seeds 0-3, as scikit-learn's fit), with some overlap left for EM to resolve.
    separation = 16.0
    with tempfile.TemporaryDirectory(prefix="distgmm-demo-") as tmp:
        path = f"{tmp}/demo.zarr"
        write_mixture_zarr(path, n, d, k, separation=separation, seed=args.seed)
        print(f"wrote {n} x {d} rows from a {k}-component mixture to {path}", file=sys.stderr)
        with local_client(n_workers=args.workers, threads_per_worker=1) as client:
            print(f"local cluster: {_dashboard(client)}", file=sys.stderr)
            X = read_zarr(path)
            start = time.perf_counter()
            # Restarts share every pass; three make a poor local optimum unlikely.
            gm = GaussianMixture(k, n_init=3, random_state=args.seed, client=client)
            with _progress():
                gm.fit(X)
            seconds = time.perf_counter() - start
            found = gm.predict(X).compute()
    labels = mixture_labels(n, d, k, separation=separation, seed=args.seed)
    ari = adjusted_rand_score(labels, found)
    print(
        f"fitted {k} components in {gm.n_iter_} iterations, {seconds:.2f} s "
        f"(converged={gm.converged_}); mean log-likelihood {gm.lower_bound_:.4f}; "
        f"adjusted Rand index against the true labels {ari:.4f}",
        file=sys.stderr,
    )
    return 0 if gm.converged_ and ari > 0.9 else 1
