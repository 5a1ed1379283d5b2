"""The whole-stack Cholesky of the marginal E-step's pattern factors, against LAPACK."""

from __future__ import annotations

import numpy as np
import pytest

from distgmm.families.gaussian._patterns import _factor
from distgmm.families.gaussian._stacked import MAX_STACKED, inverse_and_half_logdet


def spd_stack(rng, shape: tuple[int, ...], r: int, condition: float) -> np.ndarray:
    """Symmetric positive definite ``(*shape, r, r)`` matrices of about this condition."""
    q = np.linalg.qr(rng.normal(size=(*shape, r, r)))[0]
    eigenvalues = np.logspace(0, np.log10(condition), r) * rng.uniform(0.5, 2.0, (*shape, 1))
    a = np.einsum("...ij,...j,...kj->...ik", q, eigenvalues, q)
    return (a + np.swapaxes(a, -1, -2)) / 2  # exactly symmetric, as a precision U Uᵀ is


@pytest.mark.parametrize("r", range(1, MAX_STACKED + 1))
@pytest.mark.parametrize("condition", [10.0, 1e6])
def test_inverse_and_half_logdet_equal_lapacks(r, condition):
    rng = np.random.default_rng(r)
    a = spd_stack(rng, (3, 50), r, condition)
    inverse, half_logdet = inverse_and_half_logdet(lambda i, j: a[..., i, j], r)
    want = np.linalg.inv(a)
    scale = np.abs(want).max(axis=(-1, -2), keepdims=True)
    assert np.abs(inverse - want).max() / scale.min() < 1e3 * condition * np.finfo(float).eps
    _, logdet = np.linalg.slogdet(a)
    # Either's rounding error: about r·cond·eps (a perturbation δA moves log det by tr(A⁻¹δA)).
    np.testing.assert_allclose(half_logdet, logdet / 2, atol=10 * r * condition * 2.3e-16)


def test_each_matrix_is_factored_on_its_own():
    """A matrix's factors do not depend on the stack it is in (chunking invariance)."""
    a = spd_stack(np.random.default_rng(0), (40,), 5, 1e3)
    whole = inverse_and_half_logdet(lambda i, j: a[:, i, j], 5)
    for n in (1, 7):
        part = inverse_and_half_logdet(lambda i, j, n=n: a[:n, i, j], 5)
        np.testing.assert_array_equal(part[0], whole[0][:n])
        np.testing.assert_array_equal(part[1], whole[1][:n])


def test_a_matrix_not_positive_definite_is_an_error_as_in_lapack():
    a = spd_stack(np.random.default_rng(1), (4,), 3, 10.0)
    a[2] = np.diag([1.0, -1.0, 1.0])
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        inverse_and_half_logdet(lambda i, j: a[:, i, j], 3)
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        np.linalg.cholesky(a)


@pytest.mark.parametrize("r", [2, 5, MAX_STACKED + 2])
def test_pattern_factors_are_the_blocks_inverses(r):
    """Both branches of ``_factor``: stacked up to MAX_STACKED, LAPACK past it."""
    rng = np.random.default_rng(10 + r)
    d, k = 12, 3
    precisions = spd_stack(rng, (k,), d, 1e3)
    patterns = np.sort(np.array([rng.choice(d, r, replace=False) for _ in range(30)]), axis=1)
    cond, half_logdet = _factor(precisions, patterns)
    blocks = precisions[:, patterns[:, :, None], patterns[:, None, :]]
    np.testing.assert_allclose(cond, np.linalg.inv(blocks), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(half_logdet, np.linalg.slogdet(blocks)[1] / 2, atol=1e-11)
