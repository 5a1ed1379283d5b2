"""Self-describing model files: a fitted distgmm mixture as one ``.npz`` (the format only).

A model file is an uncompressed numpy ``.npz`` archive that :func:`numpy.load` reads with
``allow_pickle=False``. distgmm reads it with its own checked reader
(:mod:`distgmm._safenpz`): it never unpickles, so never runs code from the file, and it
checks every member's size against what the header implies before reading it, so a
small crafted file cannot make it allocate gigabytes.

Its members:

``header``
    A 0-d numpy unicode array holding a JSON object (below).
``weight_concentration_``, ``mean_precision_``, ``degrees_of_freedom_``, ``mean_prior_``,
``covariance_prior_``
    ``BayesianGaussianMixture`` only, as its attributes (``weight_concentration_`` of the
    Dirichlet process as one ``(2, n_components)`` array).
``weights_``, ``means_``, ``covariances_``, ``precisions_cholesky_``, ``lower_bounds_``
    The fitted arrays, little-endian float64 (``'<f8'``), C order. ``precisions_`` is not
    stored: loading recomputes it from ``precisions_cholesky_`` with the same code as
    ``fit``, so it is bitwise the same. Per-row results (``labels_``) are never stored: a
    loaded model has no ``labels_``; call ``predict`` on the training data for them.

The header's fields (format_version 1):

``format``
    ``"distgmm-model"``.
``format_version``
    ``1``. A reader refuses a larger number: a new version marks an incompatible change.
``distgmm_version``, ``created``
    Version of distgmm that wrote the file; UTC time of writing, ISO 8601.
``estimator``
    The class: ``"GaussianMixture"`` (files without the field, written before it existed,
    are ``GaussianMixture``) or ``"BayesianGaussianMixture"``.
``covariance_type``, ``n_components``, ``n_features``
    What the arrays' shapes must match.
``params``
    The constructor parameters (``get_params()``) that JSON can hold exactly: ``None``,
    booleans, integers, finite floats and strings as themselves; ``weights_init``,
    ``means_init`` and ``precisions_init`` as nested lists of floats (float64 values
    survive JSON exactly), loaded back as float64 arrays. Anything else, such as a
    ``RandomState`` given as ``random_state``, is left out and the loaded estimator gets
    that parameter's default. The initial arrays are left out too when the header would
    exceed 16 MiB (:data:`~distgmm._safenpz.MAX_HEADER_BYTES`), the most a reader takes.
``dropped_params``
    Names of the parameters left out, always including ``client``, ``checkpoint``,
    ``resume`` and ``warm_start``: they are side effects of a fit, not part of a model (a
    cluster to connect to, a file to write or resume from, whether the next fit continues
    this one). A loaded estimator has their defaults, even if a file holds them.
``fit``
    ``converged``, ``n_iter``, ``lower_bound`` (``null`` when no EM iteration ran, the
    estimator's ``-inf``), ``n_features_in_`` and, when the model was fitted on named
    columns, ``feature_names_in_``. The estimator does not record the dtype of its
    training data, so the header has no field for it.
``arrays``
    For each array member: ``shape``, ``dtype`` and ``sha256`` (hex digest of the array's
    C-order bytes).

Loading refuses any other content with an :class:`~distgmm.errors.InvalidInputError`
naming the file and the problem (unknown or compressed members, a member whose size is
not its shape's, a header over 16 MiB or nested over 16 deep, covariances that are not
the inverses of the precisions the factors make, factors over 1e150, ...); a missing
file raises :class:`ModelFileNotFoundError`, both an ``InvalidInputError`` and a
:class:`FileNotFoundError`. Parameters this distgmm
does not know (written by a newer release of the same format version) are ignored. The
checksums detect corruption and accidental edits, not forgery: whoever can write the file
can recompute them. A path may be an fsspec URL (``s3://bucket/model.npz`` with
``s3fs``, ...; ``storage_options`` as for the readers): the file is then written whole to
a temporary name beside it and moved onto it, and read through a seekable file, each
member fetched only once its size is checked.
"""

from __future__ import annotations

import errno
import json
import math
import os
from datetime import datetime, timezone
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._modelread import DTYPE, FORMAT, FORMAT_VERSION, HEADER, check, read, sha256
from ._npzfile import save_npz_atomic
from ._remote import remote_fs, save_npz_remote
from ._safenpz import MAX_HEADER_BYTES
from .errors import InvalidInputError

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFileNotFoundError", "read_model", "save_model"]

_HEADER, _DTYPE = HEADER, DTYPE
INIT_ARRAYS = frozenset(
    {"weights_init", "means_init", "precisions_init", "mean_prior", "covariance_prior"}
)
# Side effects, not model: a cluster connection, a file to write, a file to resume from, and
# whether the next fit continues this one. Never written, and ignored in a file.
NOT_STORED = frozenset({"client", "checkpoint", "resume", "warm_start"})
_UNSTORABLE = object()


# FileNotFoundError first: only then does OSError's constructor set errno and filename.
class ModelFileNotFoundError(FileNotFoundError, InvalidInputError):
    """The model file to load does not exist.

    Both an :class:`~distgmm.errors.InvalidInputError`, like every other reason a model
    file cannot be loaded, and a :class:`FileNotFoundError` (with ``errno`` and
    ``filename`` set), as code opening files expects.
    """


def save_model(
    estimator,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> None:
    """Write a fitted estimator to a model file, atomically.

    The file is written under a temporary name in the target's directory, flushed to disk
    and renamed onto ``path``: readers see the old file or the new one, never a partial
    one, and a failed save leaves no temporary file and the old file untouched.

    Parameters
    ----------
    estimator : GaussianMixture or BayesianGaussianMixture
        A fitted estimator.
    path : str or os.PathLike
        File to write, local or an fsspec URL; replaced if it exists. Used as given: no
        ``.npz`` suffix is added.
    overwrite : bool, default=True
        ``False``: never replace a file, even one created while this one is written
        (:class:`FileExistsError`, the file left as it is). On an object store the check
        and the move are two requests: a file created in between is replaced.
    storage_options : dict, optional
        For an fsspec URL ``path`` (credentials, ``endpoint_url``, ...).

    Raises
    ------
    TypeError
        If ``estimator`` is not a distgmm mixture.
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    distgmm.errors.InvalidInputError
        If the fitted parameters would not load back (NaN, wrong shapes, weights not
        summing to 1, ``n_components`` or ``covariance_type`` changed since fitting, ...);
        nothing is written.
    OSError
        If the file cannot be written, e.g. its directory does not exist.
    FileExistsError
        ``overwrite=False`` and ``path`` exists.
    """
    if not hasattr(estimator, "_model_arrays"):
        raise TypeError(
            f"save_model saves a distgmm mixture (GaussianMixture, BayesianGaussianMixture), "
            f"got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    remote = remote_fs(path, storage_options)
    target = path if remote else Path(path)
    header, arrays = _describe(estimator)
    where = f"Cannot save the model to {target}"
    text = _header_text(header, where)
    # The same checks as loading, so a file that saves always loads.
    check(header, arrays, where, type(estimator))
    members = {_HEADER: np.array(text), **arrays}
    if remote:
        save_npz_remote(*remote, members, "the model", overwrite)
    else:
        save_npz_atomic(target, members, "the model", overwrite=overwrite)


def read_model(
    path: str | os.PathLike[str],
    kinds: dict[str, Any],
    storage_options: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, Any], dict[str, np.ndarray]]:
    """The estimator class, checked header and arrays of the model file at ``path``.

    The file is read as untrusted (never unpickled, every member's size checked before it
    is read) and checked before anything is built from it: format and version, the
    estimator (one of ``kinds``, name -> class), every array's shape against the header's
    ``covariance_type``, ``n_components`` and ``n_features``, the checksums, finiteness,
    weights summing to 1 (within 1e-6), triangular precision factors with a positive
    diagonal, covariances that are the inverses of the precisions they make, and the
    class's own arrays. ``distgmm.load`` builds the estimator from them. ``path`` may be
    an fsspec URL, with ``storage_options``.

    Raises
    ------
    ModelFileNotFoundError
        If ``path`` does not exist; both an ``InvalidInputError`` and a
        ``FileNotFoundError``.
    distgmm.errors.InvalidInputError
        If the file cannot be read as a valid model file. The message names the file and
        the problem.
    """
    remote = remote_fs(path, storage_options)
    target = path if remote else Path(path)
    try:
        fh = remote[0].open(remote[1], "rb") if remote else target.open("rb")
    except FileNotFoundError as err:
        raise ModelFileNotFoundError(
            errno.ENOENT, "Cannot load the model: no such file", str(target)
        ) from err
    except OSError as err:
        raise InvalidInputError(
            f"Cannot load the model: {target} cannot be read ({err.strerror or err})."
        ) from err
    with fh:
        kind, header, arrays = read(fh, target, kinds)
    check(header, arrays, f"Invalid model file {target}", kind)
    return kind, header, arrays


# ---------------------------------------------------------------------------- writing
def _describe(estimator) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and the arrays of a fitted estimator."""
    from . import __version__  # here, not at the top: the package imports this module

    arrays = {**estimator._model_arrays(), "lower_bounds_": estimator.lower_bounds_}
    # np.asarray, not np.ascontiguousarray: that makes 0-d arrays (a tied degrees_of_freedom_,
    # a spherical covariance_prior_) 1-d, shapes the reader then rightly refuses.
    arrays = {name: np.asarray(value, dtype=_DTYPE, order="C") for name, value in arrays.items()}
    params, dropped = {}, []
    for name, value in estimator.get_params(deep=False).items():
        stored = _UNSTORABLE if name in NOT_STORED else _param_to_json(name, value)
        if stored is _UNSTORABLE:
            dropped.append(name)
        else:
            params[name] = stored
    lower_bound = float(estimator.lower_bound_)
    fit: dict[str, Any] = {
        "converged": bool(estimator.converged_),
        "n_iter": int(estimator.n_iter_),
        "lower_bound": lower_bound if math.isfinite(lower_bound) else None,
        "n_features_in_": int(estimator.n_features_in_),
    }
    if getattr(estimator, "n_omitted_", 0):
        fit["n_omitted_"] = int(estimator.n_omitted_)
    if hasattr(estimator, "feature_names_in_"):
        fit["feature_names_in_"] = [str(name) for name in estimator.feature_names_in_]
    fit.update(estimator._model_extra_fit())
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "distgmm_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "estimator": type(estimator).__name__,
        **estimator._model_header(),
        "params": params,
        "dropped_params": sorted(dropped),
        "fit": fit,
        "arrays": {
            name: {"shape": list(arr.shape), "dtype": arr.dtype.str, "sha256": sha256(arr)}
            for name, arr in arrays.items()
        },
    }
    return header, arrays


def _header_text(header: dict[str, Any], where: str) -> str:
    """The header as JSON, within the size readers accept.

    The initial arrays are what grows with the model (``precisions_init`` holds K x D x D
    numbers as text): over the limit, they are left out, as parameters JSON cannot hold.
    """
    text = json.dumps(header, allow_nan=False)
    params = header["params"]
    large = sorted(name for name in INIT_ARRAYS if params.get(name) is not None)
    if _stored_bytes(text) > MAX_HEADER_BYTES and large:
        for name in large:
            del params[name]
        header["dropped_params"] = sorted([*header["dropped_params"], *large])
        text = json.dumps(header, allow_nan=False)
    if _stored_bytes(text) > MAX_HEADER_BYTES:
        raise InvalidInputError(
            f"{where}: its header would take {_stored_bytes(text)} bytes, over the limit of "
            f"{MAX_HEADER_BYTES} that loading accepts (are the feature names very long?)."
        )
    return text


def _stored_bytes(text: str) -> int:
    # A 0-d numpy unicode array: 4 bytes a character, and a .npy header of ~128 bytes.
    return 4 * len(text) + 256


def _param_to_json(name: str, value: object) -> object:
    """``value`` as JSON can hold it exactly, or ``_UNSTORABLE``."""
    if value is None or isinstance(value, str):
        return value
    if name in INIT_ARRAYS:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return _UNSTORABLE
        return arr.tolist() if np.isfinite(arr).all() else _UNSTORABLE
    if name == "columns":  # the product mixtures' columns: a list, or {family: list}
        return _columns_to_json(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real) and math.isfinite(value):
        return float(value)
    return _UNSTORABLE


def _columns_to_json(value: object) -> object:
    """A ``columns`` parameter of names or positions (or ``{family: [...]}``) as JSON."""

    def labels(values):
        if isinstance(values, (list, tuple)) and all(
            isinstance(v, str) or (isinstance(v, Integral) and not isinstance(v, bool))
            for v in values
        ):
            return [v if isinstance(v, str) else int(v) for v in values]
        return _UNSTORABLE

    if isinstance(value, dict):
        out = {str(k): labels(v) for k, v in value.items() if isinstance(k, str)}
        if len(out) != len(value) or _UNSTORABLE in out.values():
            return _UNSTORABLE
        return out
    return labels(value)
