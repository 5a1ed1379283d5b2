"""Input and parameter checks shared by the estimators, in scikit-learn's words and then ours."""

from __future__ import annotations

import hashlib
import math
from contextlib import contextmanager
from numbers import Integral

import dask.array as da
import numpy as np

from .._weights import float64_array
from ..cluster import resolve_client
from ..core.predict import check_finite_rows, chunk_weighted_log_prob
from ..errors import InvalidInputError, SingularCovarianceError
from ..families.gaussian import covtypes as kernels


@contextmanager
def connected(client):
    """The client to run on; one made here from an address is closed afterwards."""
    resolved = resolve_client(client)
    try:
        yield resolved
    finally:
        if isinstance(client, str) and resolved is not None:
            resolved.close()


def check_dask_X(estimator, X: da.Array, reset: bool, known_rows: bool = True) -> da.Array:
    """``X`` checked, as float32 or float64; ``known_rows=False`` lets its row chunks be
    unknown (a dask DataFrame's, for predictions made on its partitions)."""
    if X.ndim != 2:
        raise InvalidInputError(
            f"Expected a 2-D array of shape (n_samples, n_features), got {X.ndim}-D with "
            f"shape {X.shape}. Reshape your data, e.g. X.reshape(-1, 1) for a single feature."
        )
    if known_rows and any(math.isnan(c) for c in X.chunks[0]):
        raise InvalidInputError(
            "X has unknown chunk sizes (NaN rows per chunk); call X.compute_chunk_sizes() "
            "or build it with known chunks."
        )
    if X.dtype.kind not in "fiub":
        raise InvalidInputError(
            f"X has dtype {X.dtype}; GaussianMixture needs numeric data. Select or encode "
            "the numeric columns first."
        )
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float32 if X.dtype == np.float16 else np.float64)
    if X.shape[0] == 0:
        raise InvalidInputError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if X.shape[1] == 0:
        raise InvalidInputError(
            f"Found array with 0 feature(s) (shape={X.shape}); at least 1 is required."
        )
    check_n_features(estimator, X.shape[1], reset)
    return X


def check_n_features(estimator, n_features: int, reset: bool) -> None:
    """Record ``n_features_in_`` (``reset``) or check ``n_features`` against it."""
    if reset:
        estimator.n_features_in_ = n_features
    elif n_features != estimator.n_features_in_:
        raise InvalidInputError(
            f"X has {n_features} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )


def seed_identity(random_state, generator: np.random.RandomState) -> int | str | None:
    """What a checkpoint records of ``random_state``, read without drawing from it.

    An int is itself; a ``RandomState`` instance, a digest of its state now; ``None`` (a
    fresh seed every fit) is ``None``.
    """
    if random_state is None:
        return None
    if isinstance(random_state, Integral):
        return int(random_state)
    _, keys, pos, *_ = generator.get_state()
    return hashlib.sha256(np.ascontiguousarray(keys).tobytes() + bytes([pos % 256])).hexdigest()


def finite_block_log_prob(X, model, origin, out: str, block_info=None):
    """:func:`chunk_weighted_log_prob` of a block, after checking it holds no NaN or inf."""
    check_finite_rows(X, "of a chunk", model)
    return chunk_weighted_log_prob(X, model, origin, out, block_info)


#: scikit-learn's names of the initial parameters in its messages.
_SKLEARN_NAMES = {"weights_init": "weights", "means_init": "means"}


def check_array_init(name: str, value, shape: tuple, simplex: bool = False, sk_name=None):
    """``value`` as float64 after scikit-learn's checks, in scikit-learn's words and then ours."""
    if value is None:
        return None
    sk_name = sk_name or _SKLEARN_NAMES[name]
    atol = 1e-6 if getattr(value, "dtype", None) == np.float32 else 1e-8  # scikit-learn's
    arr = float64_array(
        value, f"The parameter '{name}' should be an array of numbers of shape {shape}"
    )
    if arr.shape != tuple(shape):
        raise InvalidInputError(
            f"The parameter '{sk_name}' should have the shape of {shape}, but got {arr.shape} "
            f"({name}; give one value per {'component' if len(shape) == 1 else 'entry'})."
        )
    if not np.isfinite(arr).all():
        raise InvalidInputError(f"The parameter '{name}' contains NaN or infinity.")
    if simplex:
        if (arr < 0).any() or (arr > 1).any():
            # scikit-learn's sentence, whose labels are swapped; then the values named rightly.
            raise InvalidInputError(
                f"The parameter '{sk_name}' should be in the range [0, 1], but got max value "
                f"{arr.min():.5f}, min value {arr.max():.5f} ({name}: the smallest is "
                f"{arr.min():.5f}, the largest {arr.max():.5f})."
            )
        if not np.allclose(abs(1.0 - arr.sum()), 0.0, atol=atol):
            raise InvalidInputError(
                f"The parameter '{sk_name}' should be normalized, but got sum(weights) = "
                f"{arr.sum():.5f} ({name} must sum to 1; divide them by their sum)."
            )
    return arr


def check_precisions_init(value, covariance_type: str, n_components: int, n_features: int):
    """``precisions_init`` as float64, after checking it is symmetric and positive definite."""
    shape = kernels.get(covariance_type).covariance_shape(n_components, n_features)
    sk_name = f"{covariance_type} precision"
    arr = check_array_init("precisions_init", value, shape, sk_name=sk_name)
    if arr is None:
        return None
    matrices = covariance_type in ("full", "tied")
    sk_sentence = f"'{sk_name}' should be " + (
        "symmetric, positive-definite" if matrices else "positive"
    )
    if matrices and not np.allclose(arr, np.swapaxes(arr, -1, -2)):
        raise InvalidInputError(
            f"{sk_sentence} (precisions_init: the {covariance_type!r} precision matrices are "
            "not symmetric). Give inverse covariance matrices."
        )
    try:
        kernels.get(covariance_type).precisions_chol_from_precisions(arr)
    except SingularCovarianceError as err:
        which = "the tied precision" if err.component is None else f"component {err.component}"
        rule = "every eigenvalue must be > 0" if matrices else "every value must be > 0"
        raise InvalidInputError(
            f"{sk_sentence} (precisions_init: positive definite, but {which} is not; {rule}). "
            "Give inverse covariance matrices."
        ) from err
    return arr
