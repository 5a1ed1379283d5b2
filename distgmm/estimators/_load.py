"""``distgmm.load``: a fitted estimator from a model file (:mod:`distgmm.modelfile`)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..modelfile import INIT_ARRAYS, NOT_STORED, read_model
from .bayesian import BayesianGaussianMixture
from .discrete import BernoulliMixture, CategoricalMixture, MultinomialMixture, PoissonMixture
from .gaussian import GaussianMixture
from .mixed import MixedMixture

__all__ = ["ESTIMATORS", "load_model", "load_model_with_header"]

#: The classes a model file may hold, by the name its header gives.
ESTIMATORS = {
    cls.__name__: cls
    for cls in (
        GaussianMixture,
        BayesianGaussianMixture,
        CategoricalMixture,
        BernoulliMixture,
        PoissonMixture,
        MultinomialMixture,
        MixedMixture,
    )
}


def load_model(path: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None):
    """Read a fitted estimator from a model file written by ``save``.

    Exported as ``distgmm.load``. The file is read as untrusted and checked before
    anything is built from it (see :func:`distgmm.modelfile.read_model`). Side-effect
    parameters in the file (``checkpoint``, ``resume``, ``warm_start``, ``client``) are
    ignored.

    Parameters
    ----------
    path : str or os.PathLike
        Model file: a local path or an fsspec URL such as ``s3://bucket/model.npz``.
    storage_options : dict, optional
        For an fsspec URL ``path`` (credentials, ``endpoint_url``, ...).

    Returns
    -------
    GaussianMixture or BayesianGaussianMixture
        The class the file names, fitted: its ``predict``, ``predict_proba``,
        ``score_samples`` and ``score`` give bitwise the results of the saved one, as does
        ``sample`` for an integer ``random_state``, and ``warm_start=True`` continues
        fitting from it. It has no ``labels_`` (per-row results are not stored) and
        ``client=None``.

    Raises
    ------
    ModelFileNotFoundError
        If ``path`` does not exist; both an ``InvalidInputError`` and a
        ``FileNotFoundError``.
    distgmm.errors.InvalidInputError
        If the file cannot be read as a valid model file: not an ``.npz`` archive,
        truncated, modified after saving, holding pickled objects, inconsistent, or of a
        newer format version than this distgmm reads. The message names the file and the
        problem.
    """
    return load_model_with_header(path, storage_options)[0]


def load_model_with_header(
    path: str | os.PathLike[str], storage_options: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """:func:`load_model`, and the file's checked header (for ``distgmm info``)."""
    cls, header, arrays = read_model(path, ESTIMATORS, storage_options)
    return _build(cls, header, arrays, f"Invalid model file {path}"), header


def _build(cls, header: dict[str, Any], arrays: dict[str, np.ndarray], where: str):
    """The fitted estimator a checked header and arrays describe."""
    # Parameters this distgmm does not know came from a newer writer of the same format
    # version, which promises they change nothing a reader relies on: ignore them.
    known = cls().get_params(deep=False)
    # Side-effect parameters (a file to write or resume, a cluster, a warm start) in a file
    # are never honoured: the file's author does not choose what this process does.
    params = {
        name: value
        for name, value in header["params"].items()
        if name in known and name not in NOT_STORED
    }
    for name, value in params.items():
        if name in INIT_ARRAYS and value is not None:
            try:
                params[name] = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise InvalidInputError(f"{where}: parameter {name!r} is not numeric.") from err
    try:
        estimator = cls(**params)
        estimator._validate_params()
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"{where}: invalid parameters ({err})") from err

    # Exactly the attributes fit() sets, apart from labels_.
    fit = header["fit"]
    # Copies: numpy reads zip members as read-only views of a bytes buffer, where fit()
    # leaves fresh, writable, aligned arrays.
    fitted = {name: np.array(value, order="C") for name, value in arrays.items()}
    estimator._restore(header, fitted)
    estimator.converged_ = fit["converged"]
    estimator.n_iter_ = fit["n_iter"]
    estimator.n_omitted_ = fit.get("n_omitted_", 0)
    estimator.lower_bounds_ = fitted["lower_bounds_"].tolist()
    estimator.lower_bound_ = estimator.lower_bounds_[-1] if fit["n_iter"] else -np.inf
    estimator.history_ = estimator.lower_bounds_
    estimator.n_features_in_ = fit["n_features_in_"]
    if "feature_names_in_" in fit:
        estimator.feature_names_in_ = np.asarray(fit["feature_names_in_"], dtype=object)
    return estimator
