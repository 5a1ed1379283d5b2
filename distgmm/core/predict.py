"""Per-row results of one model over a chunk: labels, responsibilities, scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InvalidInputError
from .chunk import normalize_log_resp
from .family import PassModel

__all__ = ["check_finite_rows", "chunk_predictions", "chunk_weighted_log_prob"]


def chunk_weighted_log_prob(
    X: np.ndarray,
    model: PassModel,
    origin: np.ndarray,
    out: str,
    block_info=None,
    row0: int | None = None,
) -> np.ndarray:
    """Per-row results of one model's E-step over a chunk, computed block by block.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    model : PassModel
        A 'soft' model (a family's ``prepare``).
    origin : ndarray of shape (n_features,)
    out : {'labels', 'proba', 'score', 'log_prob'}
        Most likely component, responsibilities, ``log p(x)``, or the weighted
        log-probabilities ``const_k + log p(x | k)``.
    block_info : dict, optional
        Dask's, when mapped over a dask array's blocks: where the chunk is, so that an
        error names the rows of the data rather than of the chunk.
    row0 : int, optional
        The chunk's first row in the data, when known otherwise (0 for the whole data).

    Returns
    -------
    ndarray
        ``(n_rows,)`` int64 labels or float64 scores, or ``(n_rows, K)`` float64.
    """
    if row0 is None:
        row0 = _first_row(block_info)
    return chunk_predictions(X, model, origin, (out,), row0)[0]


def _first_row(block_info) -> int | None:
    """The index of a dask block's first row in its array (None when not known)."""
    try:
        return int(block_info[0]["array-location"][0][0])
    except (TypeError, KeyError, IndexError):
        return None


def check_finite_rows(X: np.ndarray, where: str, model: PassModel | None = None) -> None:
    """Raise if a chunk of ``X`` holds NaN or inf (inference cannot fold this into a pass);
    only inf if ``model``'s kernel reads NaN as missing.

    ``where`` says which rows they are, e.g. "of a chunk" or "900 to 1199".
    """
    if model is not None and getattr(model.kernel, "nan_policy", "raise") != "raise":
        bad = int(np.isinf(X).any(axis=1).sum())
    else:
        bad = X.shape[0] - int(np.isfinite(X).all(axis=1).sum())
    if bad:
        raise InvalidInputError(
            f"Input X contains NaN or infinity in {bad} of the {X.shape[0]} rows {where}. "
            "Remove or impute those rows first."
        )


def chunk_predictions(
    X: np.ndarray,
    model: PassModel,
    origin: np.ndarray,
    outs: Sequence[str],
    row0: int | None = None,
) -> tuple[np.ndarray, ...]:
    """Several of :func:`chunk_weighted_log_prob`'s results from one E-step over a chunk
    whose first row is row ``row0`` of the data (None: not known), for error messages."""
    n_rows, n_features = X.shape
    k, kernel = model.n_components, model.kernel
    results = tuple(
        np.empty(
            (n_rows,) if out in ("labels", "score") else (n_rows, k),
            dtype=np.int64 if out == "labels" else np.float64,
        )
        for out in outs
    )
    if n_rows == 0:
        return results
    block = min(kernel.block_rows(k, n_features), n_rows)
    work = np.empty(max(1, kernel.work_size(k, n_features, block)))
    logp = np.empty(block * k)
    store: dict = {}
    skipped_rows = getattr(kernel, "skipped_rows", None)
    # Labels and log-probabilities are read before the normalisation overwrites them.
    order = sorted(range(len(outs)), key=lambda i: outs[i] not in ("labels", "log_prob"))
    for start in range(0, n_rows, block):
        stop = min(start + block, n_rows)
        # Predictions are exact: no reduced-precision copy of the block.
        view = kernel.view(X[start:stop], origin, store, fast=False)
        w = logp[: k * (stop - start)].reshape(k, stop - start)
        kernel.log_prob(view, model, w, work)
        w += model.const[:, None]
        skip = None if skipped_rows is None else skipped_rows(view)
        if skip is not None:
            skip = _skipped(skip, kernel, start, row0)
            w[:, skip] = 0.0  # their results are NaN / -1, below
        # A row of probability 0 under every component (a discrete value no component can
        # produce, as a model fitted with alpha=0 may give): its log-likelihood is -inf,
        # its component and responsibilities undefined, never silently NaN or 0.
        impossible = np.isneginf(w.max(axis=0))
        if impossible.any() and set(outs) & {"labels", "proba"}:
            raise InvalidInputError(_impossible_message(impossible, start, row0))
        lse = None
        for i in order:
            out, result = outs[i], results[i]
            if out == "labels":
                result[start:stop] = w.argmax(axis=0)
            elif out == "log_prob":
                result[start:stop] = w.T
            else:
                if lse is None:
                    with np.errstate(invalid="ignore"):
                        lse = normalize_log_resp(w)
                    lse[impossible] = -np.inf
                result[start:stop] = w.T if out == "proba" else lse
            if skip is not None:
                result[start:stop][skip] = -1 if out == "labels" else np.nan
    return results


def _rows(rows: np.ndarray, start: int, row0: int | None) -> str:
    """``rows`` of a block starting at ``start`` of a chunk, as an error names them."""
    first = start + int(rows[0]) if len(rows) else start
    if row0 is None:
        return f"{len(rows)} row(s) of a chunk (the first its row {first})"
    return f"{len(rows)} row(s) of X (the first row {row0 + first})"


def _skipped(rows: tuple, kernel, start: int, row0: int | None) -> np.ndarray:
    """The rows of a block left out (``nan_policy='omit'``); an error for a row with every
    entry missing under 'marginalize', which has no likelihood to give."""
    skip, empty = rows
    if empty.any() and getattr(kernel, "nan_policy", "") != "omit":
        raise InvalidInputError(
            f"{_rows(np.flatnonzero(empty), start, row0)} have every entry missing (NaN): "
            "such a row has no likelihood to marginalise, no component and no score. Drop "
            "those rows, or use nan_policy='omit' (label -1, score NaN)."
        )
    return skip


def _impossible_message(impossible: np.ndarray, start: int, row0: int | None) -> str:
    return (
        f"{_rows(np.flatnonzero(impossible), start, row0)} have "
        "probability 0 under every component of the model, so they have no component and "
        "no responsibilities: they hold a value no component can produce (a model fitted "
        "with alpha=0 gives probability 0 to what its training data never showed). "
        "score_samples gives them -inf; refit with alpha > 0, or drop those rows."
    )
