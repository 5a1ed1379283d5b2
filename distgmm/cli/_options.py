"""The argument parser: its subcommands, the option groups they share, and argument types."""

from __future__ import annotations

import argparse
import json
import math
import sys
from importlib import import_module

from .. import __version__
from ._bayesian import MODELS, add_prior_options
from ._choices import COVARIANCE_TYPES, DEFAULT_CHUNK_BYTES, NAN_POLICIES
from ._errors import _ERROR_PREFIX, EXIT_USAGE
from ._families import add_family_options, add_handle_unknown

_INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data")
_DATA_HELP = (
    "Zarr, Parquet (file, folder or glob) or .npy data: a path or fsspec URL; CSV too for "
    "the discrete and mixed families"
)
_MODEL_HELP = "a model file saved by fit or select (.npz)"


def _command(module: str, name: str):
    """The command ``name`` of ``module``, imported when it runs: not for ``--help``."""

    def run(args: argparse.Namespace, out) -> int:
        return getattr(import_module(module, __package__), name)(args, out)

    return run


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of the CLI."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{_ERROR_PREFIX}{message} (see '{self.prog} --help')\n")
        sys.exit(EXIT_USAGE)


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is not >= {low}")
        return value

    return parse


def _float_at_least(low: float, strict: bool = False):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"{text} is not {'>' if strict else '>='} {low:g}")
        return value

    return parse


def _names(text: str) -> list[str]:
    """``"a,b"`` (spaces around names dropped), or a JSON list for names with commas or spaces."""
    if text.lstrip().startswith("["):
        try:
            names = json.loads(text)
        except ValueError:
            names = None
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise argparse.ArgumentTypeError(
                f'{text!r} is not a JSON list of names, such as \'["a, b", " c"]\''
            )
        return names
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of names")
    return names


#: The most component counts ``select -k`` takes: each is a fit, and a range such as
#: 1..10000000 would otherwise be expanded in memory before the first one.
MAX_COMPONENT_COUNTS = 1000


def _component_counts(text: str) -> list[int]:
    """``"1..12"``, ``"2,4,8"`` or a mix such as ``"1..4,8,16"``: sorted, without repeats."""
    counts: set[int] = set()
    for part in text.split(","):
        low, dots, high = part.strip().partition("..")
        try:
            first, last = int(low), int(high if dots else low)
        except ValueError:
            first = last = 0
        if first < 1 or first > last:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a list of component counts >= 1 and ranges low..high, "
                "such as 1..12, 2,4,8 or 1..4,8"
            )
        if last - first + 1 + len(counts) > MAX_COMPONENT_COUNTS:
            raise argparse.ArgumentTypeError(
                f"{text!r} names more than {MAX_COMPONENT_COUNTS} component counts, each a "
                "fit: give fewer, e.g. 1..12 or 2,4,8,16,32"
            )
        counts.update(range(first, last + 1))
    return sorted(counts)


def _covariance_types(text: str) -> list[str]:
    types = _names(text)
    unknown = [t for t in types if t not in COVARIANCE_TYPES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown covariance type(s) {', '.join(unknown)}; choose from "
            f"{', '.join(COVARIANCE_TYPES)}"
        )
    return list(dict.fromkeys(types))


def _storage_options(text: str) -> dict:
    """A JSON object of fsspec options, e.g. ``{"endpoint_url": "http://host:9000"}``."""
    try:
        value = json.loads(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a JSON object such as '{{\"anon\": true}}'"
        )
    return value


def _storage() -> argparse.ArgumentParser:
    parent = _Parser(add_help=False)
    parent.add_argument(
        "--storage-options",
        type=_storage_options,
        metavar="JSON",
        help="fsspec options (a JSON object) for the URLs (s3://...) of the data, model and "
        'output, e.g. \'{"endpoint_url": "http://127.0.0.1:9000"}\'',
    )
    return parent


def _output_options() -> argparse.ArgumentParser:
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("output")
    group.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout, and nothing else"
    )
    group.add_argument(
        "--debug", action="store_true", help="show an error's traceback instead of one line"
    )
    return parent


def _data_options() -> argparse.ArgumentParser:
    """How to read DATA (the positional arguments are each command's own, in its order)."""
    parent = _Parser(add_help=False)
    which = parent.add_mutually_exclusive_group()
    which.add_argument(
        "--columns",
        type=_names,
        metavar="A,B,C",
        help='Parquet (or CSV) feature columns, or a JSON list: \'["a, b", " c"]\'',
    )
    which.add_argument(
        "--column",
        action="append",
        dest="column",
        metavar="NAME",
        help="a Parquet feature column, named exactly; repeat for more",
    )
    which.add_argument("--component", metavar="NAME", help="the array inside a Zarr group")
    parent.add_argument(
        "--missing-chunks",
        choices=("warn", "raise", "ignore"),
        default="warn",
        help="Zarr chunks absent from the store (read as its fill value): warn (default), "
        "refuse the store (raise), or skip the check (ignore)",
    )
    parent.add_argument(
        "--chunk-mb",
        type=_float_at_least(0.0, strict=True),
        default=DEFAULT_CHUNK_BYTES / 2**20,
        metavar="MB",
        help="rows per task, in MiB (default: %(default)g)",
    )
    return parent


def _fit_options() -> argparse.ArgumentParser:
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("fitting")
    default = "default: %(default)s"
    group.add_argument("--max-iter", type=_int_at_least(0), default=100, metavar="N", help=default)
    group.add_argument("--tol", type=_float_at_least(0.0), default=1e-3, metavar="X", help=default)
    group.add_argument(
        "--reg-covar", type=_float_at_least(0.0), default=1e-6, metavar="X", help=default
    )
    group.add_argument("--seed", type=_int_at_least(0), default=0, metavar="N", help=default)
    group.add_argument(
        "--nan-policy",
        choices=NAN_POLICIES,
        default="raise",
        help="a NaN (a Parquet null) is an error, a missing entry the likelihood "
        "marginalises, or drops its row (label -1); default: %(default)s",
    )
    group.add_argument("--n-init", type=_int_at_least(1), default=1, metavar="N", help=default)
    group.add_argument(
        "--init",
        choices=_INIT_METHODS,
        help="default: kmeans; random for the discrete and mixed families (their only start)",
    )
    group.add_argument(
        "--require-converged",
        action="store_true",
        help="exit with code 3 if the fit did not converge (the model is still saved)",
    )
    return parent


def _cluster_options() -> argparse.ArgumentParser:
    parent = _Parser(add_help=False)
    group = parent.add_argument_group(
        "cluster", "default: DASK_SCHEDULER_ADDRESS if set, else a local cluster"
    )
    group.add_argument(
        "--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://host:8786"
    )
    group.add_argument(
        "--workers",
        type=_int_at_least(1),
        metavar="N",
        help="local worker processes (default: one per core)",
    )
    group.add_argument(
        "--threads-per-worker", type=_int_at_least(1), metavar="N", help="default: 1"
    )
    group.add_argument(
        "--memory-limit", metavar="SIZE", help="per local worker, e.g. 2GB (default: auto)"
    )
    return parent


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="distgmm",
        description="Mixture models (Gaussian, categorical, Bernoulli, Poisson, multinomial and "
        "mixed-type) on data larger than memory, fitted on Dask.",
        epilog="Exit codes: 0 done, 1 fit failed, 2 bad usage or input, 3 not converged "
        "(--require-converged), 4 the cluster failed (rerun, with --resume), 130 interrupted "
        "(Ctrl-C), 143 terminated (SIGTERM; rerun, with --resume).",
    )
    parser.add_argument("--version", action="version", version=f"distgmm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    default = "default: %(default)s"
    data, fitting = _data_options(), _fit_options()
    cluster, output, storage = _cluster_options(), _output_options(), _storage()

    fit = sub.add_parser(
        "fit", parents=[data, fitting, cluster, output, storage], help="fit a model and save it"
    )
    fit.add_argument("data", metavar="DATA", help=_DATA_HELP)
    fit.add_argument("-k", "--components", type=_int_at_least(1), default=8, help="default: 8")
    fit.add_argument(
        "--covariance",
        choices=COVARIANCE_TYPES,
        help="of the Gaussian columns, --family gaussian or mixed (default: full)",
    )
    fit.add_argument("--out", default="model.npz", help="model file (default: model.npz)")
    fit.add_argument("--checkpoint", metavar="FILE", help="save the EM state after every iteration")
    fit.add_argument(
        "--resume", action="store_true", help="continue from --checkpoint if it exists"
    )
    fit.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out (and --checkpoint)"
    )
    add_prior_options(fit, _float_at_least(0.0, strict=True))
    add_family_options(fit, _names, _float_at_least(0.0))
    fit.set_defaults(func=_command("._fitting", "_fit"))

    select = sub.add_parser(
        "select",
        parents=[data, fitting, cluster, output, storage],
        help="fit candidate models and save the best by BIC or AIC",
    )
    select.add_argument("data", metavar="DATA", help=_DATA_HELP)
    select.add_argument(
        "-k",
        "--components",
        type=_component_counts,
        default=_component_counts("1..12"),
        metavar="COUNTS",
        help="e.g. 1..12, 2,4,8 or 1..4,8 (default: 1..12)",
    )
    select.add_argument(
        "--covariance",
        type=_covariance_types,
        default=list(COVARIANCE_TYPES),
        metavar="TYPES",
        help=f"comma list (default: {','.join(COVARIANCE_TYPES)})",
    )
    select.add_argument(
        "--criterion",
        choices=("bic", "aic"),
        default="bic",
        help="the lower the better; BIC penalises parameters more (default: %(default)s)",
    )
    select.add_argument("--out", default="best.npz", help="model file (default: best.npz)")
    select.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    select.add_argument(
        "--model",
        choices=tuple(MODELS),
        default="gaussian",
        help="gaussian only: BIC and AIC need a likelihood, which bayesian has not",
    )
    select.set_defaults(func=_command("._fitting", "_select"))

    predict = sub.add_parser(
        "predict",
        parents=[data, cluster, output, storage],
        help="write each row's component (and more) to Zarr or Parquet",
    )
    predict.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    predict.add_argument("data", metavar="DATA", help=_DATA_HELP)
    predict.add_argument("--out", required=True, help="labels.zarr or labels.parquet")
    predict.add_argument("--proba", action="store_true", help="also the probabilities")
    predict.add_argument(
        "--log-likelihood", action="store_true", help="also each row's log-likelihood"
    )
    predict.add_argument(
        "--keep-columns",
        type=_names,
        metavar="A,B",
        help="Parquet input columns to copy to the Parquet output, e.g. an id (or a JSON list)",
    )
    predict.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_handle_unknown(predict, "fit")
    predict.set_defaults(func=_command("._commands", "_predict"))

    score = sub.add_parser(
        "score",
        parents=[data, cluster, output, storage],
        help="mean log-likelihood, BIC and AIC of a model on data (bayesian: its mean score)",
    )
    score.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    score.add_argument("data", metavar="DATA", help=_DATA_HELP)
    add_handle_unknown(score, "fit")
    score.set_defaults(func=_command("._commands", "_score"))

    update = sub.add_parser(
        "update",
        parents=[data, cluster, output, storage],
        help="update a model with a new batch of data (online EM: one pass, one M-step)",
    )
    update.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    update.add_argument("data", metavar="DATA", help=_DATA_HELP)
    update.add_argument(
        "--out",
        required=True,
        help="the updated model file; MODEL itself replaces it atomically (a daily job)",
    )
    update.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out other than MODEL"
    )
    update.set_defaults(func=_command("._update", "_update"))

    info = sub.add_parser("info", parents=[output, storage], help="describe a model file")
    info.add_argument("model", metavar="MODEL", help=_MODEL_HELP)
    info.set_defaults(func=_command("._commands", "_info"))

    make_data = sub.add_parser(
        "make-data",
        parents=[output],
        help="write rows of a random Gaussian mixture to a new Zarr array",
    )
    make_data.add_argument("out", metavar="OUT", help="the Zarr array to create: path or URL")
    make_data.add_argument(
        "--rows", type=_int_at_least(1), default=1_000_000, metavar="N", help=default
    )
    make_data.add_argument(
        "--features", type=_int_at_least(1), default=16, metavar="N", help=default
    )
    make_data.add_argument(
        "-k", "--components", type=_int_at_least(1), default=8, metavar="K", help=default
    )
    make_data.add_argument(
        "--separation",
        type=_float_at_least(0.0),
        default=4.0,
        metavar="X",
        help="typical distance of the means, in noise standard deviations (default: "
        "%(default)s; below ~4 the components overlap)",
    )
    make_data.add_argument("--seed", type=_int_at_least(0), default=0, metavar="N", help=default)
    make_data.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    make_data.set_defaults(func=_command("._commands", "_make_data"))

    demo = sub.add_parser(
        "demo", help="fit a synthetic Zarr dataset on a local cluster of processes"
    )
    for flag, least, default, what in (
        ("--rows", 1, 200_000, "rows to generate"),
        ("--features", 1, 8, "features per row"),
        ("--components", 1, 5, "components of the mixture drawn from and fitted"),
        ("--workers", 1, 2, "worker processes of the local cluster"),
        ("--seed", 0, 0, "of the data and the fit"),
    ):
        demo.add_argument(
            flag,
            type=_int_at_least(least),
            metavar="N",
            default=default,
            help=f"{what} (default: %(default)s)",
        )
    demo.set_defaults(func=_command("._commands", "_demo"), json=False, debug=False)
    return parser
