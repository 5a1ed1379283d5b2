"""Checkpoints of a running fit: the EM state after each iteration, saved atomically.

A checkpoint is an ``.npz`` file (read with ``allow_pickle=False``) holding a JSON header
and, for each model of the batch (``n_init`` restarts), its parameters and lower bounds as
float64 arrays, plus the pass origin. That is everything the next iteration depends on, so
a fit resumed from it continues bit for bit as if never stopped. The header's
``fingerprint`` (data shape and dtype, and the settings that shape the iterations) must
match the resuming fit, so a checkpoint is never continued on other data or settings.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np

from ._npzfile import save_npz_atomic
from .em import EMProgress, EMResult
from .errors import InvalidInputError
from .params import GaussianParams

__all__ = ["checkpoint_iteration", "load_checkpoint", "save_checkpoint"]

FORMAT = "distgmm-checkpoint"
FORMAT_VERSION = 1
_ARRAYS = ("weights", "means", "covariances", "precisions_chol", "lower_bounds")


def save_checkpoint(
    path: str | os.PathLike, progress: EMProgress, origin: np.ndarray, fingerprint: dict
) -> None:
    """Write ``progress`` to ``path``: to a temporary file first, then renamed over it.

    A process killed at any moment leaves either the previous checkpoint or this one,
    never a partial file.
    """
    path = os.fspath(path)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "iteration": progress.iteration,
        "fingerprint": fingerprint,
        "models": [
            {
                "covariance_type": r.params.covariance_type,
                "n_iter": r.n_iter,
                "converged": r.converged,
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
        p = result.params
        values = (p.weights, p.means, p.covariances, p.precisions_chol, result.lower_bounds)
        for name, value in zip(_ARRAYS, values, strict=True):
            arrays[f"m{i}_{name}"] = np.asarray(value, dtype=np.float64)
    save_npz_atomic(path, arrays, "the checkpoint")


def load_checkpoint(
    path: str | os.PathLike, fingerprint: dict
) -> tuple[EMProgress, np.ndarray] | None:
    """The progress and pass origin saved at ``path``, or ``None`` if there is no file.

    Raises
    ------
    InvalidInputError
        The file is not a distgmm checkpoint, is damaged, or was written by a fit with
        other data or settings (its fingerprint differs).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        return None
    header, contents = _read(path)
    if header["fingerprint"] != fingerprint:
        differ = sorted(
            k
            for k in set(fingerprint) | set(header["fingerprint"])
            if fingerprint.get(k) != header["fingerprint"].get(k)
        )
        raise InvalidInputError(
            f"The checkpoint {path} was written by a fit with other data or settings "
            f"({', '.join(differ)} differ); resume with the same ones, or delete it to start "
            "afresh."
        )
    try:
        results = []
        for i, model in enumerate(header["models"]):
            weights, means, covariances, chol, bounds = (contents[f"m{i}_{a}"] for a in _ARRAYS)
            params = GaussianParams(model["covariance_type"], weights, means, covariances, chol)
            results.append(EMResult(params, bounds.tolist(), model["n_iter"], model["converged"]))
        progress = EMProgress(header["iteration"], results, contents["previous"].tolist())
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidInputError(f"{path} is a damaged distgmm checkpoint ({err}).") from err
    return progress, contents["origin"]


def _read(path: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            contents = {name: archive[name] for name in archive.files}
        header = json.loads(str(contents.pop("header")))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        raise InvalidInputError(
            f"{path} is not a readable distgmm checkpoint ({err}); delete it to start afresh."
        ) from err
    if header.get("format") != FORMAT or header.get("format_version") != FORMAT_VERSION:
        raise InvalidInputError(
            f"{path} is not a distgmm checkpoint of format version {FORMAT_VERSION}."
        )
    return header, contents


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
        return int(_read(os.fspath(path))[0]["iteration"])
    except (InvalidInputError, KeyError, TypeError, ValueError):
        return None
