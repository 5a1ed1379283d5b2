"""Checkpoints of a running fit: the EM state after each iteration, saved atomically.

A checkpoint is an ``.npz`` file (read as untrusted by :mod:`distgmm._safenpz`, as model
files are) holding a JSON header and, for each model of the batch (``n_init`` restarts),
its parameters and lower bounds as float64 arrays, plus the pass origin. That is
everything the next iteration depends on, so a fit resumed from it continues bit for bit
as if never stopped. The header's ``fingerprint`` (data shape and dtype, and the settings
that shape the iterations) must match the resuming fit, so a checkpoint is never
continued on other data or settings.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

import numpy as np

from ._npzfile import save_npz_atomic
from ._remote import is_local
from ._safenpz import SafeNpz
from .core.em import EMProgress, EMResult
from .errors import InvalidInputError
from .families.gaussian import covtypes as kernels
from .families.gaussian.mle import GaussianMLE

__all__ = ["check_local", "checkpoint_iteration", "load_checkpoint", "save_checkpoint"]

FORMAT = "distgmm-checkpoint"
FORMAT_VERSION = 1
_BOUNDS = "lower_bounds"
_HINT = " Delete it to start afresh."
#: Rows the last pass of a model left out, and of those the ones with no entry at all.
_ROWS = ("n_omitted", "n_empty")


def check_local(path: str | os.PathLike | None, given_as: str) -> None:
    """Refuse a checkpoint at a URL (``given_as`` names it as the user gave it): it is
    rewritten every iteration, by an atomic rename that object stores do not have."""
    if path is not None and not is_local(path):
        raise InvalidInputError(
            f"{given_as} is a URL; a checkpoint is rewritten every iteration and must be a "
            "local path (or on a shared file system)."
        )


def save_checkpoint(
    path: str | os.PathLike,
    progress: EMProgress,
    origin: np.ndarray,
    fingerprint: dict,
    codec=GaussianMLE,
) -> None:
    """Write ``progress`` to ``path``: to a temporary file first, then renamed over it.

    A process killed at any moment leaves either the previous checkpoint or this one,
    never a partial file. ``codec`` (the family class) turns parameters into arrays.
    """
    path = os.fspath(path)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "iteration": progress.iteration,
        "fingerprint": fingerprint,
        "models": [
            {
                "covariance_type": _kind(codec, r.params),
                "n_iter": r.n_iter,
                "converged": r.converged,
                "n_omitted": r.n_omitted,
                "n_empty": r.n_empty,
            }
            for r in progress.results
        ],
    }
    arrays: dict[str, Any] = {
        "header": np.array(json.dumps(header)),
        "origin": np.asarray(origin, dtype=np.float64),
        "previous": np.asarray(progress.previous, dtype=np.float64),
    }
    for i, result in enumerate(progress.results):
        values = {**codec.to_arrays(result.params), _BOUNDS: result.lower_bounds}
        for name, value in values.items():
            arrays[f"m{i}_{name}"] = np.asarray(value, dtype=np.float64)
    save_npz_atomic(path, arrays, "the checkpoint")


def load_checkpoint(
    path: str | os.PathLike, fingerprint: dict, codec=GaussianMLE
) -> tuple[EMProgress, np.ndarray] | None:
    """The progress and pass origin saved at ``path``, or ``None`` if there is no file.

    The file is read as untrusted: its header first (size and nesting capped), then, once
    its fingerprint matches, each array after checking that its size is the one the
    fingerprint's ``n_components`` and ``n_features`` imply, and each model's parameters
    as a model file's are.

    Raises
    ------
    InvalidInputError
        The file is not a distgmm checkpoint, is damaged, or was written by a fit with
        other data or settings (its fingerprint differs). The message names the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        return None
    with _open(path) as npz:
        header = _read_header(npz, getattr(codec, "KINDS", kernels.COVARIANCE_TYPES))
        saved = header["fingerprint"]
        if saved != fingerprint:
            differ = sorted(
                k for k in set(fingerprint) | set(saved) if fingerprint.get(k) != saved.get(k)
            )
            raise InvalidInputError(
                f"The checkpoint {path} was written by a fit with other data or settings "
                f"({', '.join(differ)} differ); resume with the same ones, or delete it to "
                "start afresh."
            )
        return _read_progress(npz, header, fingerprint, codec)


def _read_progress(npz: SafeNpz, header: dict, fingerprint: dict, codec):
    models, iteration = header["models"], header["iteration"]
    k, d = fingerprint["n_components"], fingerprint["n_features"]
    names = (*codec.ARRAYS, _BOUNDS)
    # Counted before any name is built: a header listing a million models is refused here.
    if 3 + len(names) * len(models) > len(npz.names):
        raise npz.fail(
            f"{len(models)} model(s) in the header, but {len(npz.names)} members in the archive"
        )
    npz.expect(
        frozenset({"header", "origin", "previous"})
        | {f"m{i}_{a}" for i in range(len(models)) for a in names}
    )
    origin = npz.read_array("origin", (d,))
    previous = npz.read_array("previous", (len(models),))
    if not np.isfinite(origin).all() or np.isnan(previous).any() or (previous == np.inf).any():
        raise npz.fail("the pass origin or the previous lower bounds are not finite")
    results = []
    for i, model in enumerate(models):
        cov_type, n_iter = model["covariance_type"], model["n_iter"]
        if n_iter > iteration:
            raise npz.fail(f"model {i} has n_iter {n_iter}, over the iteration {iteration}")
        shapes = {**codec.array_shapes(cov_type, k, d), _BOUNDS: (n_iter,)}
        arrays = {a: npz.read_array(f"m{i}_{a}", s) for a, s in shapes.items()}
        fail = lambda p, i=i: npz.fail(f"model {i}: {p}")  # noqa: E731
        params = codec.from_arrays(cov_type, arrays, fail, start=n_iter == 0)
        if not np.isfinite(arrays[_BOUNDS]).all():
            raise npz.fail(f"model {i}: its lower bounds are not finite")
        bounds = arrays[_BOUNDS].tolist()
        rows = {name: model.get(name, 0) for name in _ROWS}  # absent from older files: 0
        n_samples = fingerprint.get("n_samples", 2**53)
        if not all(_is_int(n) and 0 <= n <= n_samples for n in rows.values()):
            raise npz.fail(f"model {i}: its n_omitted or n_empty is not a count of rows")
        # Only 'omit' leaves rows out, and a row without entries only among those (any
        # other policy raises for it).
        omits = fingerprint.get("nan_policy") == "omit"
        if rows["n_empty"] > rows["n_omitted"] or (rows["n_omitted"] and not omits):
            raise npz.fail(
                f"model {i}: its n_omitted {rows['n_omitted']} and n_empty {rows['n_empty']} "
                "are not what a fit of its nan_policy leaves out"
            )
        results.append(EMResult(params, bounds, n_iter, model["converged"], **rows))
    return EMProgress(iteration, results, previous.tolist()), origin


@contextlib.contextmanager
def _open(path: str):
    """The checkpoint at ``path`` as a :class:`SafeNpz`."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed below, after the archive)
    except OSError as err:
        raise InvalidInputError(
            f"The checkpoint {path} cannot be read ({err.strerror or err})."
        ) from err
    with (
        fh,
        SafeNpz(fh, f"{path} is not a readable distgmm checkpoint", "checkpoint", _HINT) as npz,
    ):
        yield npz


def _kind(codec, params) -> str:
    """What the header calls a model's kind: its covariance type, or the codec's name of it."""
    return codec.kind(params) if hasattr(codec, "kind") else params.covariance_type


def _read_header(npz: SafeNpz, kinds: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The header, after checking every field the loader uses (``kinds``: the model kinds
    the codec knows; ``None``: any string)."""
    header = npz.read_header()
    if header.get("format") != FORMAT or header.get("format_version") != FORMAT_VERSION:
        raise npz.fail(f"not a distgmm checkpoint of format version {FORMAT_VERSION}")
    if not isinstance(header.get("fingerprint"), dict):
        raise npz.fail("the header has no 'fingerprint' object")
    if not _is_int(header.get("iteration")) or header["iteration"] < 0:
        raise npz.fail("the header's 'iteration' is not an integer >= 0")
    models = header.get("models")
    if not isinstance(models, list) or not models:
        raise npz.fail("the header's 'models' is not a non-empty list")
    for i, model in enumerate(models):
        if not (
            isinstance(model, dict)
            and isinstance(model.get("covariance_type"), str)
            and (kinds is None or model["covariance_type"] in kinds)
            and _is_int(model.get("n_iter"))
            and model["n_iter"] >= 0
            and isinstance(model.get("converged"), bool)
        ):
            raise npz.fail(
                f"model {i} of the header is not an object with a covariance_type, an "
                "integer n_iter >= 0 and a boolean converged"
            )
    return header


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def checkpoint_iteration(path: str | os.PathLike) -> int | None:
    """How many EM iterations the checkpoint at ``path`` holds.

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    int or None
        0 for a checkpoint written after the initialisation; ``None`` if there is no
        readable distgmm checkpoint at ``path``.
    """
    try:
        with _open(os.fspath(path)) as npz:
            return int(_read_header(npz)["iteration"])
    except (InvalidInputError, OSError):
        return None
