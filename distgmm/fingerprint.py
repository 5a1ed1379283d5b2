"""What a checkpoint must share with the fit that resumes it: all that decides the result.

A checkpoint holds the EM state of one fit; resumed by a fit of other data, weights, seed,
initial parameters or settings, it would hand that fit a state it never reached. The
fingerprint lists each of these (digests for arrays), so a checkpoint is refused naming
what differs. Its costs, paid only by fits with a checkpoint: the data's first and last
rows are read (two chunks); sample weights are hashed row by row (a few elementwise
operations per weight: measured 0.6 s for 1e7 numpy weights on a loaded 2-core machine),
dask weights inside the one reduction that validates them, so without an extra pass.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["array_digest", "data_fingerprint", "fit_fingerprint", "row_digest", "row_digest_hex"]

_M1, _M2, _GOLDEN = (
    np.uint64(0xBF58476D1CE4E5B9),
    np.uint64(0x94D049BB133111EB),
    np.uint64(0x9E3779B97F4A7C15),
)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise (uint64 arithmetic wraps)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def row_digest(values: np.ndarray, row0: int = 0) -> np.ndarray:
    """A 64-bit sum of a hash of each (global row index, value) pair, as a (1,) array.

    The sum wraps modulo 2**64, so the digests of consecutive blocks of rows add up to the
    digest of all of them, whatever the blocks: the same for numpy and dask weights and for
    any chunking. Not cryptographic; it tells changed weights apart, not hostile ones.
    """
    values = np.ascontiguousarray(values, dtype=np.float64) + 0.0  # -0.0 as 0.0
    rows = np.arange(row0, row0 + len(values), dtype=np.uint64) * _GOLDEN
    return np.array([_mix(values.view(np.uint64) ^ rows).sum(dtype=np.uint64)], np.uint64)


def row_digest_hex(lanes: np.ndarray) -> str:
    """:func:`row_digest` (summed over blocks) as hex digits."""
    return "".join(f"{int(lane):016x}" for lane in np.asarray(lanes, dtype=np.uint64))


def array_digest(value) -> str | None:
    """SHA-256 of a float64 array and its shape, ``None`` for ``None``."""
    if value is None:
        return None
    arr = np.ascontiguousarray(value, dtype=np.float64)
    return hashlib.sha256(repr(arr.shape).encode() + arr.tobytes()).hexdigest()


def data_fingerprint(passes) -> dict:
    """What identifies the data of a fit: its first and last 64 rows, shape and dtype."""
    edges = np.ascontiguousarray(passes.edge_rows(64))
    return {
        "data_edges_sha256": hashlib.sha256(edges.tobytes()).hexdigest(),
        "n_samples": int(passes.n_samples),
        "n_features": int(passes.n_features),
        "dtype": str(np.dtype(passes.dtype)),
    }


def fit_fingerprint(
    estimator, passes, spec, seed: int | str | None, weights_digest: str | None
) -> dict:
    """Everything the result of ``estimator``'s fit depends on, JSON-ready.

    Parameters
    ----------
    estimator : GaussianMixture
    passes : Passes
        The data (its first and last 64 rows are read).
    spec : InitSpec or None
        The initialisation; ``None`` for a warm start from the estimator's parameters.
    seed : int, str or None
        What identifies ``random_state``: the int, a digest of a generator's state, or
        ``None`` (a fresh seed every fit).
    weights_digest : str or None
        Of the sample weights (``None``: no weights, or equal weights, which fit alike).
    """
    seeded = spec is not None and not spec.fully_given
    return {
        **data_fingerprint(passes),
        "n_components": int(estimator.n_components),
        "covariance_type": estimator.covariance_type,
        "tol": float(estimator.tol),
        "reg_covar": float(estimator.reg_covar),
        "n_init": int(estimator.n_init),
        "init_params": estimator.init_params,
        "sample_weight": weights_digest,
        # a seed matters only to an initialisation that draws (random_state=None: any)
        "random_state": seed if seeded else None,
        "weights_init": array_digest(spec.weights if spec is not None else None),
        "means_init": array_digest(spec.means if spec is not None else None),
        "precisions_init": array_digest(spec.precisions if spec is not None else None),
        "warm_start": (
            None
            if spec is not None
            else array_digest(np.concatenate([estimator.weights_, estimator.means_.ravel()]))
            + str(array_digest(estimator.covariances_))
        ),
    }
