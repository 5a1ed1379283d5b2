"""Reading and checking a model file (see :mod:`distgmm.modelfile` for the format).

Everything read is checked before it is used: the header's fields first, which give the
shape of every array; then each array, read by :class:`~distgmm._safenpz.SafeNpz` only
once its declared size is that shape's; then the arrays' checksums and values.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ._paramcheck import check_gaussian
from ._safenpz import SafeNpz
from .errors import InvalidInputError
from .families.gaussian import covtypes as kernels

FORMAT = "distgmm-model"
FORMAT_VERSION = 1
HEADER = "header"
ARRAYS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_")
DTYPE = np.dtype("<f8")


def sha256(arr: np.ndarray) -> str:
    return hashlib.sha256(arr.tobytes(order="C")).hexdigest()


#: The estimator of files written before the header named it.
DEFAULT_ESTIMATOR = "GaussianMixture"


def estimator_kind(header: dict[str, Any], kinds: dict[str, Any], fail) -> Any:
    """The class (of ``kinds``, name -> class) the header's ``estimator`` names."""
    name = header.get("estimator", DEFAULT_ESTIMATOR)
    if not isinstance(name, str) or name not in kinds:
        raise fail(f"estimator {shown(name)} is not one of {sorted(kinds)}")
    return kinds[name]


def read(
    fh: BinaryIO, target: Path, kinds: dict[str, Any]
) -> tuple[Any, dict[str, Any], dict[str, np.ndarray]]:
    """The estimator class, header and arrays of an open model file, each array read after
    checking its size. ``kinds`` maps the estimator names a file may hold to their classes,
    which say what arrays they add (``_model_extra_shapes``) and how to check them."""
    where = f"Invalid model file {target}"
    with SafeNpz(fh, where, "model file") as npz:
        header = _check_format(npz.read_header(HEADER), target)
        kind = estimator_kind(header, kinds, npz.fail)
        shapes = _check_header(header, npz.fail, kind)
        npz.expect(frozenset({HEADER, *shapes}))
        arrays = {name: npz.read_array(name, shape) for name, shape in shapes.items()}
    return kind, header, arrays


def _check_format(header: dict[str, Any], target: Path) -> dict[str, Any]:
    """``header``, after checking the format name and version."""
    where = f"Invalid model file {target}"
    if header.get("format") != FORMAT:
        raise InvalidInputError(
            f"{where}: format {shown(header.get('format'))}, expected {FORMAT!r}; not a "
            "distgmm model file."
        )
    version = header.get("format_version")
    if not _is_int(version) or version < 1:
        raise InvalidInputError(f"{where}: format_version {shown(version)} is not an integer >= 1.")
    if version > FORMAT_VERSION:
        from . import __version__

        raise InvalidInputError(
            f"Cannot load the model file {target}: it has format_version {version}, written "
            f"by distgmm {shown(header.get('distgmm_version', '(unknown)'))}, but this "
            f"distgmm ({__version__}) reads format_version {FORMAT_VERSION} only. Upgrade "
            "distgmm (pip install --upgrade distgmm) to load it."
        )
    return header


def shown(value: object) -> str:
    """``value`` for an error message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def check(header: dict[str, Any], arrays: dict[str, np.ndarray], where: str, kind) -> None:
    """Raise ``InvalidInputError`` (message starting with ``where``) unless the model is valid.

    Run on the arrays read from a file and, before writing, on those of the estimator.
    """

    def fail(problem: str) -> InvalidInputError:
        return InvalidInputError(f"{where}: {problem}.")

    shapes = _check_header(header, fail, kind)
    for name in shapes:
        arr, entry = arrays[name], header["arrays"][name]
        if arr.shape != shapes[name]:
            raise fail(
                f"array {name!r} has shape {arr.shape}, but the header implies {shapes[name]}"
            )
        if arr.dtype != DTYPE:
            raise fail(f"array {name!r} has dtype {arr.dtype.str}, expected {DTYPE.str}")
        if entry.get("sha256") != sha256(arr):
            raise fail(
                f"array {name!r} does not match its sha256 checksum: the file was modified "
                "or corrupted after it was saved"
            )
    if not np.isfinite(arrays["lower_bounds_"]).all():
        raise fail("array 'lower_bounds_' contains NaN or infinity")
    kind._model_check(header, arrays, fail)

    fit, params, n_iter = header["fit"], header["params"], header["fit"]["n_iter"]
    bounds = arrays["lower_bounds_"]
    lower_bound = fit.get("lower_bound")
    last = float(bounds[-1]) if n_iter else None
    if lower_bound != last:
        raise fail(
            f"fit.lower_bound {shown(lower_bound)} is not the last of lower_bounds_ ({last!r})"
        )

    # set_params after fit can leave the parameters disagreeing with the fitted arrays;
    # refused on saving, so that a file that saves always loads.
    for name in ("covariance_type", "n_components"):
        value = header.get(name)
        if name in header and name in params and params[name] != value:
            raise fail(
                f"parameter {name}={shown(params[name])} disagrees with the fitted model's "
                f"{value!r}; refit, or set it back"
            )


def _check_header(header: dict[str, Any], fail, kind) -> dict[str, tuple[int, ...]]:
    """The shapes the header implies for the arrays, after checking its fields."""
    for name in ("distgmm_version", "created"):
        if not isinstance(header.get(name), str):
            raise fail(f"the header's {name!r} is {shown(header.get(name))}, not a string")
    k, d = header.get("n_components"), header.get("n_features")
    for name, value in (("n_components", k), ("n_features", d)):
        if not _is_int(value) or value < 1:
            raise fail(f"{name} {shown(value)} is not an integer >= 1")
    fit = header.get("fit")
    if not isinstance(fit, dict):
        raise fail("the header has no 'fit' object")
    n_iter = fit.get("n_iter")
    if not _is_int(n_iter) or n_iter < 0:
        raise fail(f"fit.n_iter {shown(n_iter)} is not an integer >= 0")
    n_omitted = fit.get("n_omitted_", 0)
    if not _is_int(n_omitted) or not 0 <= n_omitted < 2**53:
        raise fail(f"fit.n_omitted_ {shown(n_omitted)} is not a row count")
    policy = header["params"].get("nan_policy") if isinstance(header.get("params"), dict) else None
    if n_omitted and policy != "omit":
        raise fail(f"fit.n_omitted_ is {n_omitted}, but the model's nan_policy is {policy!r}")
    if not isinstance(fit.get("converged"), bool):
        raise fail(f"fit.converged {shown(fit.get('converged'))} is not a boolean")
    if fit.get("n_features_in_") != d:
        raise fail(f"fit.n_features_in_ {shown(fit.get('n_features_in_'))} is not n_features={d}")
    names = fit.get("feature_names_in_")
    if names is not None and not (
        isinstance(names, list) and len(names) == d and all(isinstance(n, str) for n in names)
    ):
        raise fail(f"fit.feature_names_in_ is not a list of {d} strings")
    if not isinstance(header.get("params"), dict):
        raise fail("the header has no 'params' object")

    shapes = {**kind._model_shapes(header, fail), "lower_bounds_": (n_iter,)}
    described = header.get("arrays")
    if not isinstance(described, dict) or set(described) != set(shapes):
        raise fail(f"the header's 'arrays' object does not describe exactly {list(shapes)}")
    implied = f"n_components={k}, n_features={d}, n_iter={n_iter}"
    if "covariance_type" in header:
        implied = f"covariance_type={header['covariance_type']!r}, {implied}"
    for name, shape in shapes.items():
        entry = described[name]
        if not isinstance(entry, dict):
            raise fail(f"the header's description of {name!r} is not an object")
        if entry.get("shape") != list(shape):
            described_shape = entry.get("shape")
            if isinstance(described_shape, list):
                described_shape = tuple(described_shape)
            raise fail(
                f"array {name!r} has shape {shown(described_shape)} in the header's "
                f"description, but {implied} imply {shape}"
            )
        if entry.get("dtype") != DTYPE.str:
            raise fail(
                f"array {name!r} has dtype {shown(entry.get('dtype'))}, expected {DTYPE.str}"
            )
    return shapes


def gaussian_shapes(header: dict[str, Any], fail) -> dict[str, tuple[int, ...]]:
    """The shapes of a Gaussian model's arrays, after checking its ``covariance_type``."""
    covariance_type = header.get("covariance_type")
    if covariance_type not in kernels.COVARIANCE_TYPES:
        raise fail(
            f"covariance_type {shown(covariance_type)} is not one of "
            f"{list(kernels.COVARIANCE_TYPES)}"
        )
    k, d = header["n_components"], header["n_features"]
    cov_shape = kernels.get(covariance_type).covariance_shape(k, d)
    return {
        "weights_": (k,),
        "means_": (k, d),
        "covariances_": cov_shape,
        "precisions_cholesky_": cov_shape,
    }


def check_gaussian_model(header: dict[str, Any], arrays: dict[str, np.ndarray], fail) -> None:
    """Raise ``fail`` unless a Gaussian model's arrays form a model."""
    check_gaussian(header["covariance_type"], arrays, fail)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
