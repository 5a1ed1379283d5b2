"""Self-describing model files: a fitted :class:`~distgmm.GaussianMixture` as one ``.npz``.

A model file is an uncompressed numpy ``.npz`` archive that :func:`numpy.load` reads with
``allow_pickle=False``: loading one never unpickles, so never runs code from the file.

Its members:

``header``
    A 0-d numpy unicode array holding a JSON object (below).
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
``covariance_type``, ``n_components``, ``n_features``
    What the arrays' shapes must match.
``params``
    The constructor parameters (``get_params()``) that JSON can hold exactly: ``None``,
    booleans, integers, finite floats and strings as themselves; ``weights_init``,
    ``means_init`` and ``precisions_init`` as nested lists of floats (float64 values
    survive JSON exactly), loaded back as float64 arrays. Anything else, such as a
    ``RandomState`` given as ``random_state``, is left out and the loaded estimator gets
    that parameter's default.
``dropped_params``
    Names of the parameters left out, always including ``client`` (a connection to a
    cluster is not part of a model; a loaded estimator runs with ``client=None`` until
    given one).
``fit``
    ``converged``, ``n_iter``, ``lower_bound`` (``null`` when no EM iteration ran, the
    estimator's ``-inf``), ``n_features_in_`` and, when the model was fitted on named
    columns, ``feature_names_in_``. The estimator does not record the dtype of its
    training data, so the header has no field for it.
``arrays``
    For each array member: ``shape``, ``dtype`` and ``sha256`` (hex digest of the array's
    C-order bytes).

Loading refuses any other content with an :class:`~distgmm.errors.InvalidInputError`
naming the file and the problem; a missing file raises :class:`ModelFileNotFoundError`,
both an ``InvalidInputError`` and a :class:`FileNotFoundError`. Parameters this distgmm
does not know (written by a newer release of the same format version) are ignored. The
checksums detect corruption and accidental edits, not forgery: whoever can write the file
can recompute them. Only local paths are supported (no URLs or fsspec file systems).
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import zipfile
import zlib
from datetime import datetime, timezone
from numbers import Integral, Real
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import kernels
from ._npzfile import save_npz_atomic
from .errors import InvalidInputError
from .estimator import GaussianMixture
from .params import GaussianParams

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelFileNotFoundError", "load_model", "save_model"]

FORMAT = "distgmm-model"
FORMAT_VERSION = 1

_HEADER = "header"
_ARRAYS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_")
_DTYPE = np.dtype("<f8")
_INIT_ARRAYS = frozenset({"weights_init", "means_init", "precisions_init"})
_NOT_STORED = frozenset({"client"})
_UNSTORABLE = object()
_WEIGHT_SUM_ATOL = 1e-6
_ZIP_MAGIC = b"PK\x03\x04"  # a zip archive's first local file header
_NPY_MAGIC = b"\x93NUM"
# What numpy and zipfile raise on a damaged archive; anything else is a bug worth seeing.
_READ_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    KeyError,
    SyntaxError,
    zipfile.BadZipFile,
    zlib.error,
)


# FileNotFoundError first: only then does OSError's constructor set errno and filename.
class ModelFileNotFoundError(FileNotFoundError, InvalidInputError):
    """The model file to load does not exist.

    Both an :class:`~distgmm.errors.InvalidInputError`, like every other reason a model
    file cannot be loaded, and a :class:`FileNotFoundError` (with ``errno`` and
    ``filename`` set), as code opening files expects.
    """


def save_model(
    estimator: GaussianMixture, path: str | os.PathLike[str], *, overwrite: bool = True
) -> None:
    """Write a fitted estimator to a model file, atomically.

    The file is written under a temporary name in the target's directory, flushed to disk
    and renamed onto ``path``: readers see the old file or the new one, never a partial
    one, and a failed save leaves no temporary file and the old file untouched.

    Parameters
    ----------
    estimator : GaussianMixture
        A fitted estimator.
    path : str or os.PathLike
        Local file to write; replaced if it exists. Used as given: no ``.npz`` suffix is
        added.
    overwrite : bool, default=True
        ``False``: never replace a file, even one created while this one is written
        (:class:`FileExistsError`, the file left as it is).

    Raises
    ------
    TypeError
        If ``estimator`` is not a :class:`~distgmm.GaussianMixture`.
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
    if not isinstance(estimator, GaussianMixture):
        raise TypeError(
            f"save_model saves a distgmm.GaussianMixture, got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    target = Path(path)
    header, arrays = _describe(estimator)
    # The same checks as loading, so a file that saves always loads.
    _check(header, arrays, f"Cannot save the model to {target}")
    members = {_HEADER: np.array(json.dumps(header, allow_nan=False)), **arrays}
    save_npz_atomic(target, members, "the model", overwrite=overwrite)


def load_model(path: str | os.PathLike[str]) -> GaussianMixture:
    """Read a fitted estimator from a model file written by :func:`save_model`.

    Exported as ``distgmm.load``. The file is read with ``allow_pickle=False`` and checked
    before anything is built from it: format and version, every array's shape against the
    header's ``covariance_type``, ``n_components`` and ``n_features``, the checksums,
    finiteness, weights summing to 1 (within 1e-6) and triangular precision factors with a
    positive diagonal.

    Parameters
    ----------
    path : str or os.PathLike
        Local model file.

    Returns
    -------
    GaussianMixture
        A fitted estimator whose ``predict``, ``predict_proba``, ``score_samples``,
        ``score``, ``bic`` and ``aic`` give bitwise the results of the saved one, as does
        ``sample`` for an integer ``random_state``, and from which ``warm_start=True``
        continues fitting. It has no ``labels_`` (per-row results are not stored) and
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
    target = Path(path)
    try:
        fh = target.open("rb")
    except FileNotFoundError as err:
        raise ModelFileNotFoundError(
            errno.ENOENT, "Cannot load the model: no such file", str(target)
        ) from err
    except OSError as err:
        raise InvalidInputError(
            f"Cannot load the model: {target} cannot be read ({err.strerror or err})."
        ) from err
    with fh:
        header, arrays = _read(fh, target)
    where = f"Invalid model file {target}"
    _check(header, arrays, where)
    return _build(header, arrays, where)


# ---------------------------------------------------------------------------- writing
def _describe(estimator: GaussianMixture) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and the arrays of a fitted estimator."""
    from . import __version__  # here, not at the top: the package imports this module

    arrays = {
        "weights_": estimator.weights_,
        "means_": estimator.means_,
        "covariances_": estimator.covariances_,
        "precisions_cholesky_": estimator.precisions_cholesky_,
        "lower_bounds_": estimator.lower_bounds_,
    }
    arrays = {name: np.ascontiguousarray(value, dtype=_DTYPE) for name, value in arrays.items()}
    params, dropped = {}, []
    for name, value in estimator.get_params(deep=False).items():
        stored = _UNSTORABLE if name in _NOT_STORED else _param_to_json(name, value)
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
    if hasattr(estimator, "feature_names_in_"):
        fit["feature_names_in_"] = [str(name) for name in estimator.feature_names_in_]
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "distgmm_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "covariance_type": estimator.covariance_type,
        "n_components": int(estimator.weights_.shape[0]),
        "n_features": int(estimator.means_.shape[-1]),
        "params": params,
        "dropped_params": sorted(dropped),
        "fit": fit,
        "arrays": {
            name: {"shape": list(arr.shape), "dtype": arr.dtype.str, "sha256": _sha256(arr)}
            for name, arr in arrays.items()
        },
    }
    return header, arrays


def _param_to_json(name: str, value: object) -> object:
    """``value`` as JSON can hold it exactly, or ``_UNSTORABLE``."""
    if value is None or isinstance(value, str):
        return value
    if name in _INIT_ARRAYS:
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return _UNSTORABLE
        return arr.tolist() if np.isfinite(arr).all() else _UNSTORABLE
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real) and math.isfinite(value):
        return float(value)
    return _UNSTORABLE


def _sha256(arr: np.ndarray) -> str:
    return hashlib.sha256(arr.tobytes(order="C")).hexdigest()


# ---------------------------------------------------------------------------- reading
def _read(fh: BinaryIO, target: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The header and arrays of an open model file; only the format is checked here."""
    # Told by the magic bytes first: on anything but a zip or .npy, np.load falls back to
    # unpickling, and its refusal advises loading the file unsafely.
    magic = fh.read(len(_ZIP_MAGIC))
    fh.seek(0)
    if magic != _ZIP_MAGIC:
        if not magic:
            what = "the file is empty"
        elif magic.startswith(_NPY_MAGIC):
            what = "a single .npy array, not an .npz archive"
        else:
            what = "not an .npz (zip) archive"
        raise InvalidInputError(f"Invalid model file {target}: not a distgmm model file ({what}).")
    try:
        npz = np.load(fh, allow_pickle=False)
    except _READ_ERRORS as err:
        raise InvalidInputError(
            f"Invalid model file {target}: not a readable .npz archive, truncated or "
            f"corrupted ({type(err).__name__}: {err})."
        ) from err
    with npz:
        header = _read_header(npz, target)
        names = set(npz.files) - {_HEADER}
        if names != set(_ARRAYS):
            missing, extra = sorted(set(_ARRAYS) - names), sorted(names - set(_ARRAYS))
            raise InvalidInputError(
                f"Invalid model file {target}: expected the arrays {list(_ARRAYS)}; "
                f"missing {missing}, unexpected {extra}."
            )
        arrays = {name: _read_member(npz, name, target) for name in _ARRAYS}
    return header, arrays


def _read_member(npz: np.lib.npyio.NpzFile, name: str, target: Path) -> np.ndarray:
    try:
        return npz[name]
    except _READ_ERRORS as err:
        # Among these: numpy refusing an object array, which would need unpickling, and
        # zipfile's CRC check failing on a damaged member.
        raise InvalidInputError(
            f"Invalid model file {target}: member {name!r} cannot be read "
            f"({type(err).__name__}: {err})."
        ) from err


def _read_header(npz: np.lib.npyio.NpzFile, target: Path) -> dict[str, Any]:
    """The parsed header, after checking the format name and version."""
    where = f"Invalid model file {target}"
    if _HEADER not in npz.files:
        raise InvalidInputError(f"{where}: no {_HEADER!r} member, not a distgmm model file.")
    raw = _read_member(npz, _HEADER, target)
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise InvalidInputError(
            f"{where}: the header is a {raw.dtype} array of shape {raw.shape}, not a string."
        )
    try:
        header = json.loads(str(raw[()]), parse_constant=_reject_constant)
    except ValueError as err:
        raise InvalidInputError(f"{where}: the header is not valid JSON ({err}).") from err
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise InvalidInputError(
            f"{where}: format {found!r}, expected {FORMAT!r}; not a distgmm model file."
        )
    version = header.get("format_version")
    if not _is_int(version) or version < 1:
        raise InvalidInputError(f"{where}: format_version {version!r} is not an integer >= 1.")
    if version > FORMAT_VERSION:
        from . import __version__

        raise InvalidInputError(
            f"Cannot load the model file {target}: it has format_version {version}, written "
            f"by distgmm {header.get('distgmm_version', '(unknown)')}, but this distgmm "
            f"({__version__}) reads format_version {FORMAT_VERSION} only. Upgrade distgmm "
            "(pip install --upgrade distgmm) to load it."
        )
    return header


def _reject_constant(name: str) -> None:
    # The writer never emits NaN or Infinity (json.dumps with allow_nan=False).
    raise ValueError(f"non-standard JSON constant {name}")


# ---------------------------------------------------------------------------- checking
def _check(header: dict[str, Any], arrays: dict[str, np.ndarray], where: str) -> None:
    """Raise ``InvalidInputError`` (message starting with ``where``) unless the model is valid.

    Run on the arrays read from a file and, before writing, on those of the estimator.
    """

    def fail(problem: str) -> InvalidInputError:
        return InvalidInputError(f"{where}: {problem}.")

    covariance_type = header.get("covariance_type")
    if covariance_type not in kernels.COVARIANCE_TYPES:
        raise fail(
            f"covariance_type {covariance_type!r} is not one of {list(kernels.COVARIANCE_TYPES)}"
        )
    k, d = header.get("n_components"), header.get("n_features")
    for name, value in (("n_components", k), ("n_features", d)):
        if not _is_int(value) or value < 1:
            raise fail(f"{name} {value!r} is not an integer >= 1")
    fit = header.get("fit")
    if not isinstance(fit, dict):
        raise fail("the header has no 'fit' object")
    n_iter = fit.get("n_iter")
    if not _is_int(n_iter) or n_iter < 0:
        raise fail(f"fit.n_iter {n_iter!r} is not an integer >= 0")
    if not isinstance(fit.get("converged"), bool):
        raise fail(f"fit.converged {fit.get('converged')!r} is not a boolean")
    if fit.get("n_features_in_") != d:
        raise fail(f"fit.n_features_in_ {fit.get('n_features_in_')!r} is not n_features={d}")
    names = fit.get("feature_names_in_")
    if names is not None and not (
        isinstance(names, list) and len(names) == d and all(isinstance(n, str) for n in names)
    ):
        raise fail(f"fit.feature_names_in_ is not a list of {d} strings")
    params = header.get("params")
    if not isinstance(params, dict):
        raise fail("the header has no 'params' object")

    cov_shape = kernels.get(covariance_type).covariance_shape(k, d)
    expected = {
        "weights_": (k,),
        "means_": (k, d),
        "covariances_": cov_shape,
        "precisions_cholesky_": cov_shape,
        "lower_bounds_": (n_iter,),
    }
    described = header.get("arrays")
    if not isinstance(described, dict) or set(described) != set(_ARRAYS):
        raise fail(f"the header's 'arrays' object does not describe exactly {list(_ARRAYS)}")
    implied = (
        f"covariance_type={covariance_type!r}, n_components={k}, n_features={d}, n_iter={n_iter}"
    )
    for name in _ARRAYS:
        arr, entry, shape = arrays[name], described[name], expected[name]
        if not isinstance(entry, dict):
            raise fail(f"the header's description of {name!r} is not an object")
        if entry.get("shape") != list(shape) or arr.shape != shape:
            raise fail(
                f"array {name!r} has shape {arr.shape} (header: {entry.get('shape')}), "
                f"but {implied} imply {shape}"
            )
        if arr.dtype != _DTYPE or entry.get("dtype") != _DTYPE.str:
            raise fail(f"array {name!r} has dtype {arr.dtype.str}, expected {_DTYPE.str}")
        if entry.get("sha256") != _sha256(arr):
            raise fail(
                f"array {name!r} does not match its sha256 checksum: the file was modified "
                "or corrupted after it was saved"
            )
        if not np.isfinite(arr).all():
            raise fail(f"array {name!r} contains NaN or infinity")

    weights = arrays["weights_"]
    if (weights < 0).any() or abs(weights.sum() - 1.0) > _WEIGHT_SUM_ATOL:
        raise fail(
            f"weights_ must be >= 0 and sum to 1 (within {_WEIGHT_SUM_ATOL:g}), "
            f"they sum to {weights.sum()!r} with minimum {weights.min()!r}"
        )
    chol = arrays["precisions_cholesky_"]
    if covariance_type in ("full", "tied"):
        if np.tril(chol, -1).any():
            raise fail("precisions_cholesky_ is not upper triangular")
        if not (np.diagonal(chol, axis1=-2, axis2=-1) > 0).all():
            raise fail("precisions_cholesky_ has a diagonal entry <= 0")
    elif not (chol > 0).all() or not (arrays["covariances_"] > 0).all():
        raise fail(f"{covariance_type!r} precisions_cholesky_ and covariances_ must be > 0")

    bounds = arrays["lower_bounds_"]
    lower_bound = fit.get("lower_bound")
    last = float(bounds[-1]) if n_iter else None
    if lower_bound != last:
        raise fail(f"fit.lower_bound {lower_bound!r} is not the last of lower_bounds_ ({last!r})")

    # set_params after fit can leave the parameters disagreeing with the fitted arrays;
    # refused on saving, so that a file that saves always loads.
    for name, value in (("covariance_type", covariance_type), ("n_components", k)):
        if name in params and params[name] != value:
            raise fail(
                f"parameter {name}={params[name]!r} disagrees with the fitted model's "
                f"{value!r}; refit, or set it back"
            )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------------------- building
def _build(header: dict[str, Any], arrays: dict[str, np.ndarray], where: str) -> GaussianMixture:
    """The fitted estimator a checked header and arrays describe."""
    # Parameters this distgmm does not know came from a newer writer of the same format
    # version, which promises they change nothing a reader relies on: ignore them.
    known = GaussianMixture().get_params(deep=False)
    params = {name: value for name, value in header["params"].items() if name in known}
    for name, value in params.items():
        if name in _INIT_ARRAYS and value is not None:
            try:
                params[name] = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise InvalidInputError(f"{where}: parameter {name!r} is not numeric.") from err
    try:
        estimator = GaussianMixture(**params)
        estimator._validate_params()
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"{where}: invalid parameters ({err})") from err

    # Exactly the attributes fit() sets (GaussianMixture._run), apart from labels_.
    fit = header["fit"]
    # Copies: numpy reads zip members as read-only views of a bytes buffer, where fit()
    # leaves fresh, writable, aligned arrays.
    fitted = {name: np.array(arrays[name], order="C") for name in _ARRAYS}
    estimator._set_params(
        GaussianParams(
            header["covariance_type"],
            fitted["weights_"],
            fitted["means_"],
            fitted["covariances_"],
            fitted["precisions_cholesky_"],
        )
    )
    estimator.converged_ = fit["converged"]
    estimator.n_iter_ = fit["n_iter"]
    estimator.lower_bounds_ = fitted["lower_bounds_"].tolist()
    estimator.lower_bound_ = estimator.lower_bounds_[-1] if fit["n_iter"] else -np.inf
    estimator.history_ = estimator.lower_bounds_
    estimator.n_features_in_ = fit["n_features_in_"]
    if "feature_names_in_" in fit:
        estimator.feature_names_in_ = np.asarray(fit["feature_names_in_"], dtype=object)
    return estimator
