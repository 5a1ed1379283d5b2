"""``fit --model bayesian``: the prior options, and how a variational model is reported.

A :class:`~distgmm.BayesianGaussianMixture`'s lower bound is scikit-learn's total evidence
lower bound (ELBO), not a mean log-likelihood, and it has no BIC or AIC; what tells how
many components the data use is its weights. The scalar priors are options; the vector
ones (``mean_prior``, ``covariance_prior``) keep scikit-learn's defaults, made from the data.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._choices import PRIOR_TYPES
from ._errors import UsageError

__all__ = [
    "EFFECTIVE_SHARE",
    "MODELS",
    "add_prior_options",
    "bayesian_params",
    "bayesian_record",
    "bound_description",
    "effective_components",
    "is_bayesian",
]

#: ``--model`` choices: the estimator each one fits.
MODELS = {"gaussian": "GaussianMixture", "bayesian": "BayesianGaussianMixture"}

#: ``--model bayesian`` options (argparse destination, flag), and the estimator parameter
#: each one sets.
_PRIOR_OPTIONS = {
    "weight_prior_type": ("--weight-prior-type", "weight_concentration_prior_type"),
    "weight_prior": ("--weight-prior", "weight_concentration_prior"),
    "mean_precision_prior": ("--mean-precision-prior", "mean_precision_prior"),
    "dof_prior": ("--dof-prior", "degrees_of_freedom_prior"),
}

#: A component counts as used when its weight exceeds this share of a uniform weight,
#: ``EFFECTIVE_SHARE / n_components``: the rest are what the prior leaves near 0.
EFFECTIVE_SHARE = 0.01


def add_prior_options(parser: argparse.ArgumentParser, positive) -> None:
    """The ``--model`` option of ``fit`` and its prior options; ``positive`` parses X > 0."""
    parser.add_argument(
        "--model",
        choices=tuple(MODELS),
        default="gaussian",
        help="gaussian: GaussianMixture (default); bayesian: BayesianGaussianMixture, "
        "variational, whose weights leave unneeded components of -k near 0",
    )
    group = parser.add_argument_group(
        "priors (--model bayesian only)",
        "mean and covariance priors: the data's mean and covariance (one more pass)",
    )
    group.add_argument(
        "--weight-prior-type",
        choices=PRIOR_TYPES,
        help="the weights' prior: a stick-breaking Dirichlet process (default) or a "
        "Dirichlet distribution",
    )
    group.add_argument(
        "--weight-prior",
        type=positive,
        metavar="X",
        help="weight concentration, > 0: small values use fewer components (default: 1/k)",
    )
    group.add_argument(
        "--mean-precision-prior",
        type=positive,
        metavar="X",
        help="> 0: small values let the means go far from the data's mean (default: 1)",
    )
    group.add_argument(
        "--dof-prior",
        type=positive,
        metavar="X",
        help="the covariance prior's degrees of freedom, > features - 1 (default: features)",
    )


def is_bayesian(estimator) -> bool:
    """Whether ``estimator`` is a variational mixture (it has no likelihood criteria)."""
    return hasattr(estimator, "weight_concentration_prior_type")


def bayesian_params(args: argparse.Namespace, n_features: int) -> dict[str, Any]:
    """The prior parameters ``args`` give; checked against ``--model`` and the data.

    Raises
    ------
    UsageError
        A prior option without ``--model bayesian``, or ``--dof-prior`` not above
        ``n_features - 1``: before any cluster starts.
    """
    given = {dest: getattr(args, dest) for dest in _PRIOR_OPTIONS}
    if args.model != "bayesian":
        for dest, value in given.items():
            if value is not None:
                flag = _PRIOR_OPTIONS[dest][0]
                raise UsageError(f"{flag} is a prior of --model bayesian: add --model bayesian")
        return {}
    if args.dof_prior is not None and args.dof_prior <= n_features - 1:
        raise UsageError(
            f"--dof-prior {args.dof_prior:g} must be > {n_features - 1} (the number of "
            f"features of {args.data}, {n_features}, minus 1)"
        )
    params = {_PRIOR_OPTIONS[dest][1]: value for dest, value in given.items()}
    params["weight_concentration_prior_type"] = args.weight_prior_type or PRIOR_TYPES[0]
    return {name: value for name, value in params.items() if value is not None}


def effective_components(weights) -> int:
    """How many components have a weight above ``EFFECTIVE_SHARE / n_components``."""
    import numpy as np  # here: the parser imports this module, and needs no numpy

    weights = np.asarray(weights)
    return int(np.count_nonzero(weights > EFFECTIVE_SHARE / weights.shape[0]))


def bound_description(estimator) -> str:
    """What ``lower_bound_`` is, on the estimator's scale, for humans and ``--json``."""
    if is_bayesian(estimator):
        return "evidence lower bound (ELBO), total over the rows"
    return "mean log-likelihood per row"


def bayesian_record(estimator) -> dict[str, Any]:
    """The priors and the used components of a fitted variational mixture, for ``--json``."""
    return {
        "weight_concentration_prior_type": estimator.weight_concentration_prior_type,
        "weight_concentration_prior": float(estimator.weight_concentration_prior_),
        "mean_precision_prior": float(estimator.mean_precision_prior_),
        "degrees_of_freedom_prior": float(estimator.degrees_of_freedom_prior_),
        "mean_prior": estimator.mean_prior_,
        "covariance_prior": estimator.covariance_prior_,
        "effective_components": effective_components(estimator.weights_),
        "effective_weight_threshold": EFFECTIVE_SHARE / estimator.n_components,
    }
