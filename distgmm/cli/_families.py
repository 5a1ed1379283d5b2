"""``fit --family``: the discrete and mixed-type models, their options and their columns.

``--family gaussian`` (the default) is :class:`~distgmm.GaussianMixture` as before, or
``--model bayesian``'s variational one. The other families are the product mixtures:
``categorical``, ``bernoulli``, ``poisson`` and ``multinomial`` model the columns ``--columns``
names (or all the data's), ``mixed`` the column groups ``--gaussian``, ``--categorical``,
``--bernoulli``, ``--poisson`` and ``--multinomial`` name. Every check here runs before the
data are opened and before any cluster starts.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._choices import GROUP_FAMILIES
from ._errors import UsageError

__all__ = [
    "ESTIMATORS",
    "FAMILIES",
    "add_family_options",
    "estimator_family",
    "family_params",
]

#: ``--family`` choices, and the estimator each one fits.
ESTIMATORS = {
    "gaussian": "GaussianMixture",
    "categorical": "CategoricalMixture",
    "bernoulli": "BernoulliMixture",
    "poisson": "PoissonMixture",
    "multinomial": "MultinomialMixture",
    "mixed": "MixedMixture",
}
FAMILIES = tuple(ESTIMATORS)

#: What the columns of each group of ``--family mixed`` hold, for ``--help``.
_GROUP_HELP = {
    "gaussian": "real-valued columns, one joint Gaussian (--covariance, --reg-covar)",
    "categorical": "categorical columns: strings, categories, booleans or integer codes",
    "bernoulli": "0/1 (or boolean) columns",
    "poisson": "count columns, each independent Poisson",
    "multinomial": "count columns forming one multinomial row (e.g. a basket)",
}


def add_family_options(parser: argparse.ArgumentParser, names, non_negative) -> None:
    """``fit``'s ``--family`` and its options; ``names`` parses ``a,b``, ``non_negative`` X >= 0."""
    parser.add_argument(
        "--family",
        choices=FAMILIES,
        default="gaussian",
        help="gaussian (default): a Gaussian mixture of numeric columns; categorical (latent "
        "class analysis), bernoulli, poisson, multinomial: one family for the columns "
        "--columns names (default: all); mixed: the column groups below",
    )
    group = parser.add_argument_group(
        "discrete and mixed families",
        "Parquet or CSV DATA is read as a table, only the columns named (string, category, "
        "boolean and integer columns are categorical); Zarr and .npy arrays take column "
        "positions (0,2) and hold numbers (categories as integer codes)",
    )
    for family in GROUP_FAMILIES:
        group.add_argument(
            f"--{family}",
            type=names,
            dest=f"group_{family}",
            metavar="A,B",
            help=f"--family mixed: {_GROUP_HELP[family]}",
        )
    group.add_argument(
        "--alpha",
        type=non_negative,
        metavar="X",
        help="pseudocount of the discrete families' probabilities and rates (default: 1e-10; "
        "0 gives the exact maximum-likelihood solution)",
    )
    add_handle_unknown(group, "fitting")


def add_handle_unknown(parser, when: str) -> None:
    """``--handle-unknown``, of ``fit`` and of the commands that use a model."""
    parser.add_argument(
        "--handle-unknown",
        choices=("error", "ignore"),
        help="a category not seen when fitting: an error naming it (default), or no factor "
        f"in the row's likelihood (ignore); discrete and mixed models (default: as at {when})",
    )


def _given_groups(args: argparse.Namespace) -> dict[str, list[str]]:
    return {
        family: getattr(args, f"group_{family}")
        for family in GROUP_FAMILIES
        if getattr(args, f"group_{family}", None) is not None
    }


def _selected(args: argparse.Namespace) -> list[str] | None:
    """The columns ``--columns`` or ``--column`` name, if any."""
    return args.columns if args.column is None else args.column


def family_params(args: argparse.Namespace) -> dict[str, Any]:
    """The estimator parameters ``--family`` and its options give (none for gaussian).

    ``columns``: a list for one family (None: every column of the data), a dict of groups
    for mixed, as the estimators take them. The options of one family given with another
    are usage errors, each naming the option.
    """
    groups = _given_groups(args)
    if args.family != "mixed" and groups:
        flag = f"--{next(iter(groups))}"
        raise UsageError(
            f"{flag} names a column group of --family mixed, not of --family {args.family}: "
            f"add --family mixed, or give the columns with --columns"
        )
    if args.family == "gaussian":
        for flag, value in (("--alpha", args.alpha), ("--handle-unknown", args.handle_unknown)):
            if value is not None:
                raise UsageError(
                    f"{flag} is an option of the discrete and mixed families, not of --family "
                    "gaussian: add --family categorical, bernoulli, poisson, multinomial or mixed"
                )
        return {}
    if args.model != "gaussian":
        raise UsageError(
            f"--model {args.model} is a Gaussian mixture, not one of --family {args.family}: "
            "drop --model, or use --family gaussian"
        )
    if args.component is not None:
        raise UsageError(
            "--component names the array inside a Zarr group, which --family "
            f"{args.family} does not read: give the array's own path as DATA"
        )
    if args.init not in (None, "random"):
        raise UsageError(
            f"--init {args.init} is a start of --family gaussian; --family {args.family} "
            "starts from random parameters around the data's frequencies (--init random)"
        )
    if args.family != "mixed" and args.covariance is not None:
        raise UsageError(
            "--covariance is of the Gaussian columns, of --family gaussian or mixed, not of "
            f"--family {args.family}"
        )
    params: dict[str, Any] = {}
    policy = getattr(args, "nan_policy", "raise")
    if policy != "raise":
        if args.family == "multinomial" and policy == "marginalize":
            raise UsageError(
                "--nan-policy marginalize is not available for --family multinomial: a "
                "missing count of a multinomial group cannot be marginalised; use "
                "--nan-policy omit"
            )
        params["nan_policy"] = policy
    if args.alpha is not None:
        params["alpha"] = args.alpha
    if args.handle_unknown is not None:
        params["handle_unknown"] = args.handle_unknown
    if args.family != "mixed":
        columns = _selected(args)
        twice = [c for c in dict.fromkeys(columns or []) if columns.count(c) > 1]
        if twice:
            raise UsageError(f"--columns names the column {twice[0]!r} twice")
        params["columns"] = columns
        return params
    if _selected(args) is not None:
        raise UsageError(
            "--family mixed takes its columns from the groups --gaussian, --categorical, "
            "--bernoulli, --poisson and --multinomial: drop --columns"
        )
    if not groups:
        raise UsageError(
            "--family mixed needs its column groups, e.g. --gaussian income,age "
            "--categorical plan,country --poisson visits"
        )
    seen: dict[str, str] = {}
    for family, columns in groups.items():
        for column in columns:
            if column in seen and seen[column] == family:
                raise UsageError(f"--{family} names the column {column!r} twice")
            if column in seen:
                raise UsageError(
                    f"the column {column!r} is in --{seen[column]} and in --{family}: give "
                    "each column one family"
                )
            seen[column] = family
    params["columns"] = groups
    params["covariance_type"] = args.covariance or "full"
    params["reg_covar"] = args.reg_covar
    return params


def estimator_family(estimator) -> str:
    """The ``--family`` of a fitted or loaded estimator."""
    name = type(estimator).__name__
    for family, cls in ESTIMATORS.items():
        if cls == name:
            return family
    return "gaussian"  # BayesianGaussianMixture
