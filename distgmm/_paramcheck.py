"""Checks of a Gaussian mixture's parameters read from a file (model file or checkpoint).

A file's arrays must describe one model: weights on the simplex, precision factors of the
right form, and covariances that are the inverses of the precisions those factors make.
Without the last check a file whose covariances were scaled by 1e6 loads and samples from
other distributions than it predicts with; one whose factors were scaled by 1e160 gives
NaN probabilities.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["check_gaussian"]

WEIGHT_SUM_ATOL = 1e-6
#: Largest |entry| of a precision factor: its square must not overflow float64 (1.8e308) in
#: the E-step's squared distances. A fitted model's factors are 1/std of its data.
MAX_FACTOR = 1e150
#: Largest |Lᵀ Σ L - I| entry accepted. A fitted model's is rounding: measured below 2e-10
#: for full and tied fits with covariances of condition number up to 3e18 (d=40, with and
#: without reg_covar); an edited file's is off by orders of magnitude.
INVERSE_ATOL = 1e-5


def check_gaussian(
    covariance_type: str,
    arrays: dict[str, np.ndarray],
    fail: Callable[[str], Exception],
    names: tuple[str, str, str, str] = (
        "weights_",
        "means_",
        "covariances_",
        "precisions_cholesky_",
    ),
    start: bool = False,
) -> None:
    """Raise ``fail(problem)`` unless the float64 arrays of the right shapes form a model.

    ``names`` are the keys of the weights, means, covariances and precision factors in
    ``arrays`` (and how the messages call them). ``start``: the parameters may be a start
    not yet through an M-step, whose weights may sum to less than 1 (scikit-learn's start
    at K rows has weights ``nk / n_samples``, summing to ``K / n_samples``).
    """
    w_name, _, c_name, p_name = names
    for name in names:
        if not np.isfinite(arrays[name]).all():
            raise fail(f"array {name!r} contains NaN or infinity")
    weights, cov, chol = arrays[w_name], arrays[c_name], arrays[p_name]
    total = weights.sum()
    summed = 0.0 < total <= 1.0 + WEIGHT_SUM_ATOL if start else abs(total - 1.0) <= WEIGHT_SUM_ATOL
    if (weights < 0).any() or not summed:
        rule = "sum to at most 1" if start else f"sum to 1 (within {WEIGHT_SUM_ATOL:g})"
        raise fail(
            f"{w_name} must be >= 0 and {rule}, they sum to {total!r} with minimum "
            f"{weights.min()!r}"
        )
    if covariance_type in ("full", "tied"):
        if np.tril(chol, -1).any():
            raise fail(f"{p_name} is not upper triangular")
        if not (np.diagonal(chol, axis1=-2, axis2=-1) > 0).all():
            raise fail(f"{p_name} has a diagonal entry <= 0")
    elif not (chol > 0).all() or not (cov > 0).all():
        raise fail(f"{covariance_type!r} {p_name} and {c_name} must be > 0")
    largest = float(np.abs(chol).max())
    if largest > MAX_FACTOR:
        raise fail(
            f"{p_name} has an entry of magnitude {largest:.3g}, over {MAX_FACTOR:g}: "
            "squared distances would overflow"
        )
    deviation = _inverse_deviation(covariance_type, cov, chol)
    if not deviation <= INVERSE_ATOL:
        raise fail(
            f"{c_name} are not the inverses of the precisions {p_name} make "
            f"(|L.T @ covariance @ L - I| up to {deviation:.3g}); the file was edited "
            "or corrupted"
        )


def _inverse_deviation(covariance_type: str, cov: np.ndarray, chol: np.ndarray) -> float:
    """max |Lᵀ Σ L - I|: zero when Σ is the inverse of the precision L Lᵀ."""
    with np.errstate(all="ignore"):  # overflow gives inf, which is refused
        if covariance_type == "full":
            product = np.swapaxes(chol, 1, 2) @ cov @ chol
            return float(np.abs(product - np.eye(cov.shape[-1])).max())
        if covariance_type == "tied":
            return float(np.abs(chol.T @ cov @ chol - np.eye(cov.shape[-1])).max())
        return float(np.abs(chol * chol * cov - 1.0).max())
