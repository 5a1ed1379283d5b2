"""Which family each model column has, the product's groups, and their record in files.

A product mixture's structure is its column coding (:class:`~distgmm._encoding.ColumnCoding`:
which input columns, encoded how, with which categories) and the family of every model
column; the groups are the columns of each family, in order of first appearance. Model
files and checkpoints record both as JSON and rebuild the groups from it, so the record is
checked here as untrusted input.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np

from .._encoding import ColumnCoding
from ..core.missing import NAN_POLICIES
from ..families.bernoulli import BernoulliTerm
from ..families.categorical import CategoricalTerm
from ..families.gaussian import covtypes
from ..families.gaussian.term import GaussianTerm
from ..families.multinomial import MultinomialTerm
from ..families.poisson import PoissonTerm

__all__ = [
    "FAMILIES",
    "arrays_of",
    "attributes",
    "coding_from_json",
    "coding_to_json",
    "column_families",
    "make_terms",
    "nan_policy",
]

#: Each family and the encoder's kind of its columns.
FAMILIES = {
    "categorical": "categorical",
    "bernoulli": "binary",
    "poisson": "count",
    "multinomial": "count",
    "gaussian": "real",
}


def column_families(coding: ColumnCoding, families) -> tuple[str, ...]:
    """The family of every model column: ``families`` is one name for all, or
    ``{column: family}``, whose order is the model's (the encoder's, which resolved the
    columns: a label of X first, else a position)."""
    if isinstance(families, str):
        return (families,) * len(coding.columns)
    return tuple(families.values())


def make_terms(families: tuple[str, ...], coding: ColumnCoding, settings: dict) -> tuple:
    """The product's groups: the model columns of each family, in order of appearance."""
    alpha = settings["alpha"]
    if not isinstance(alpha, (int, float)) or not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha {alpha!r} is not a finite number >= 0")
    marginal = nan_policy(settings) == "marginalize"
    groups: dict[str, list[int]] = {}
    for i, family in enumerate(families):
        groups.setdefault(family, []).append(i)
    terms = []
    for family, columns in groups.items():
        cols = tuple(columns)
        if family == "categorical":
            levels = tuple(len(coding.categories[i]) for i in cols)
            terms.append(CategoricalTerm(cols, levels, float(alpha)))
        elif family == "bernoulli":
            terms.append(BernoulliTerm(cols, float(alpha)))
        elif family == "poisson":
            terms.append(PoissonTerm(cols, float(alpha), marginal))
        elif family == "multinomial":
            terms.append(MultinomialTerm(cols, float(alpha)))
        else:
            cov, reg = settings["covariance_type"], settings["reg_covar"]
            if cov not in covtypes.COVARIANCE_TYPES:
                raise ValueError(
                    f"covariance_type {cov!r} is not one of {covtypes.COVARIANCE_TYPES}"
                )
            if not isinstance(reg, (int, float)) or not (math.isfinite(reg) and reg >= 0):
                raise ValueError(f"reg_covar {reg!r} is not a finite number >= 0")
            terms.append(GaussianTerm(cols, cov, float(reg), marginal))
    return tuple(terms)


def nan_policy(settings: dict) -> str:
    """The missing-value policy ``settings`` record ('raise' when they do not: the files
    and checkpoints of that policy record none)."""
    policy = settings.get("nan_policy", "raise")
    if policy not in NAN_POLICIES or (policy == "raise" and "nan_policy" in settings):
        raise ValueError(f"nan_policy {policy!r} is not one of {list(NAN_POLICIES[1:])}")
    return policy


def _scalar(value):
    """A category as JSON holds it exactly (str, int, float, bool), else a ValueError."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (Integral, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        return str(value)
    raise ValueError(
        f"the category {value!r} ({type(value).__name__}) cannot be saved: categories must "
        "be strings, integers, finite floats or booleans"
    )


def coding_to_json(coding: ColumnCoding, families: tuple[str, ...]) -> dict:
    """The coding and the columns' families as a JSON object."""
    names = coding.feature_names
    return {
        "n_features_in": int(coding.n_features_in),
        "feature_names": None if names is None else [str(n) for n in names],
        "columns": [int(c) for c in coding.columns],
        "kinds": list(coding.kinds),
        "families": list(families),
        "categories": [
            None if c is None else [_scalar(v) for v in c.tolist()] for c in coding.categories
        ],
    }


def coding_from_json(obj, n_features: int, fail) -> tuple[ColumnCoding, tuple[str, ...]]:
    """The coding and families a file records, after checking them (``fail(problem)``)."""
    keys = ("n_features_in", "feature_names", "columns", "kinds", "families", "categories")
    if not isinstance(obj, dict) or any(k not in obj for k in keys):
        raise fail(f"the model's 'coding' is not an object with {list(keys)}")
    if obj["n_features_in"] != n_features:
        raise fail("the model's coding has another n_features_in than n_features")
    names = obj["feature_names"]
    if names is not None and not (
        isinstance(names, list)
        and len(names) == n_features
        and all(isinstance(n, str) for n in names)
    ):
        raise fail(f"the model's coding.feature_names is not a list of {n_features} strings")
    columns, kinds, families, categories = (obj[k] for k in keys[2:])
    width = len(columns) if isinstance(columns, list) else -1
    if not (
        width >= 1
        and all(isinstance(c, int) and not isinstance(c, bool) for c in columns)
        and all(0 <= c < n_features for c in columns)
        and len(set(columns)) == width
    ):
        raise fail(f"the model's coding.columns is not a list of distinct positions < {n_features}")
    for name, values in (("kinds", kinds), ("families", families), ("categories", categories)):
        if not isinstance(values, list) or len(values) != width:
            raise fail(f"the model's coding.{name} is not a list of {width} entries")
    arrays = []
    for i, (kind, family, cats) in enumerate(zip(kinds, families, categories, strict=True)):
        if family not in FAMILIES or FAMILIES[family] != kind:
            raise fail(f"model column {i} has family {family!r} and kind {kind!r}")
        if kind != "categorical":
            if cats is not None:
                raise fail(f"model column {i} is not categorical but has categories")
            arrays.append(None)
            continue
        arrays.append(_categories(cats, i, fail))
    names_array = None if names is None else np.asarray(names, dtype=object)
    coding = ColumnCoding(n_features, names_array, tuple(columns), tuple(kinds), tuple(arrays))
    return coding, tuple(families)


def _categories(cats, i: int, fail) -> np.ndarray:
    """A categorical column's recorded categories as an array, checked."""
    if not isinstance(cats, list) or not cats:
        raise fail(f"model column {i} has no list of categories")
    kinds = {type(v) for v in cats}
    if not kinds <= {str, int, float, bool} or (str in kinds and len(kinds) > 1):
        raise fail(f"model column {i} has categories that are not all strings or all numbers")
    if any(isinstance(v, float) and not math.isfinite(v) for v in cats):
        raise fail(f"model column {i} has a category that is not finite")
    array = np.asarray(cats, dtype=object) if str in kinds else np.asarray(cats)
    if len(set(cats)) != len(cats):
        raise fail(f"model column {i} has repeated categories")
    return array


def attributes(term, value) -> dict:
    """A group's parameters as estimator attributes (scikit-learn-style names)."""
    if term.kind == "categorical":
        splits = np.cumsum(term.n_levels)[:-1]
        return {"probabilities_": np.split(value, splits, axis=1)}
    if term.kind == "bernoulli":
        return {"probabilities_": value}
    if term.kind == "poisson":
        return {"rates_": value}
    if term.kind == "multinomial":
        return {"probabilities_": value.probabilities, "mean_totals_": value.mean_totals}
    from .gaussian import precisions_from_chol

    return {
        "means_": value.means,
        "covariances_": value.covariances,
        "precisions_cholesky_": value.precisions_chol,
        "precisions_": precisions_from_chol(term.covariance_type, value.precisions_chol),
    }


def arrays_of(term, estimator, prefix: str) -> dict:
    """The codec arrays of a group from the estimator's attributes."""
    get = lambda name: getattr(estimator, prefix + name)  # noqa: E731
    if term.kind == "categorical":
        return {"probabilities": np.hstack(get("probabilities_"))}
    if term.kind == "bernoulli":
        return {"probabilities": get("probabilities_")}
    if term.kind == "poisson":
        return {"rates": get("rates_")}
    if term.kind == "multinomial":
        return {"probabilities": get("probabilities_"), "mean_totals": get("mean_totals_")}
    return {
        "means": get("means_"),
        "covariances": get("covariances_"),
        "precisions_cholesky": get("precisions_cholesky_"),
    }
