"""scikit-learn's own initialisation, for data already in memory (numpy input).

A user switching from scikit-learn expects ``random_state=0`` to give the fit they had. So on
numpy input the initial responsibilities are scikit-learn's, drawn from one
``check_random_state(random_state)`` in its order (restart after restart): the labels of
``sklearn.cluster.KMeans(n_components, n_init=1)`` for 'kmeans', ``kmeans_plusplus``'s rows for
'k-means++', ``uniform(size=(n_samples, K))`` for 'random' and ``choice(n_samples, K)`` rows for
'random_from_data'. The first M-step from them is ours, over the same statistics as every
later one; its weights are scikit-learn's ``nk / n_samples``.

Dask input keeps :mod:`distgmm.init`: a sample and Lloyd passes with row-keyed draws, which
work out of core and do not depend on the chunking, but are other draws than these.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus

from ._scale import check_spread, empty_cluster_cause
from ._sharedstarts import shared
from .core.chunk import chunk_summaries
from .core.em import check_stats
from .errors import EmptyComponentError, InvalidInputError, SingularCovarianceError
from .families.gaussian.kernel import prepare_given, representable_origin
from .families.gaussian.params import GaussianParams
from .init import InitSpec, Moments, from_points, override, start_m_step, start_params

__all__ = ["initialize_like_sklearn"]

_EPS = np.finfo(np.float64).eps
#: Rows (evenly strided) whose spread tells data too large or too small to square.
_SPREAD_SAMPLE = 10_000
#: Rows per block when the data's mean is summed (float32 data are upcast a block at a time).
_MEAN_BLOCK = 65_536


def _strided_sample(X: np.ndarray) -> np.ndarray:
    """At most about ``_SPREAD_SAMPLE`` evenly strided rows, as float64."""
    return np.asarray(X[:: max(1, len(X) // _SPREAD_SAMPLE)], dtype=np.float64)


def _weighted_mean(X: np.ndarray, sample_weight: np.ndarray | None) -> np.ndarray:
    total = np.zeros(X.shape[1])
    for start in range(0, len(X), _MEAN_BLOCK):
        # C order: a column-major block (pandas, polars) would be summed in another order
        block = np.ascontiguousarray(X[start : start + _MEAN_BLOCK], dtype=np.float64)
        if sample_weight is None:
            total += block.sum(axis=0)
        else:
            total += sample_weight[start : start + _MEAN_BLOCK] @ block
    return total / (len(X) if sample_weight is None else sample_weight.sum())


def _from_responsibilities(
    X: np.ndarray,
    given: np.ndarray,
    shift: np.ndarray,
    spec: InitSpec,
    origin: np.ndarray,
    sample_weight: np.ndarray | None,
) -> GaussianParams | Moments:
    """The M-step from fixed responsibilities; weights ``nk / n_samples`` as scikit-learn's."""
    model = prepare_given(given, spec.covariance_type, shift - origin)
    (stats,) = chunk_summaries(X, [model], origin, sample_weight)
    check_stats(stats)
    try:
        params = start_m_step(stats, shift, spec, origin)
    except EmptyComponentError as err:
        raise InvalidInputError(
            f"init_params={spec.method!r} left component {err.component} without any row: "
            + empty_cluster_cause(_strided_sample(X), spec.n_components)
        ) from None
    # scikit-learn's _initialize divides by n_samples, not by the sum of the soft counts.
    return dataclasses.replace(params, weights=(stats.nk + 10 * _EPS) / stats.weight)


def _start(
    X: np.ndarray,
    spec: InitSpec,
    random_state: np.random.RandomState,
    origin: np.ndarray,
    sample_weight: np.ndarray | None,
) -> GaussianParams | Moments:
    """One restart's start, drawing from ``random_state`` exactly as scikit-learn does."""
    n_samples, k = len(X), spec.n_components
    if spec.method == "kmeans":

        def kmeans() -> tuple:
            fitted = KMeans(n_clusters=k, n_init=1, random_state=random_state)
            labels = fitted.fit(X, sample_weight=sample_weight).labels_
            centers = np.asarray(fitted.cluster_centers_, dtype=np.float64)
            return labels, centers, random_state.get_state()

        # The same for every covariance type: computed once per sweep (distgmm._sharedstarts)
        # by what it depends on, the generator's state included, and the state after it.
        key = ("kmeans", id(X), id(sample_weight), k, _state_key(random_state))
        labels, centers, after = shared(key, kmeans)
        random_state.set_state(after)
        return _from_responsibilities(X, labels, centers, spec, origin, sample_weight)
    if spec.method == "random":
        resp = np.asarray(random_state.uniform(size=(n_samples, k)), dtype=X.dtype)
        resp /= resp.sum(axis=1)[:, np.newaxis]
        shift = np.broadcast_to(origin, (k, X.shape[1]))
        return _from_responsibilities(X, resp, shift, spec, origin, sample_weight)
    if spec.method == "k-means++":
        _, rows = kmeans_plusplus(X, k, sample_weight=sample_weight, random_state=random_state)
    elif spec.method == "random_from_data":
        rows = random_state.choice(n_samples, size=k, replace=False)
    else:
        raise ValueError(f"unknown init_params {spec.method!r}")
    return _from_rows(X, np.asarray(X[rows], dtype=np.float64), spec)


def _state_key(random_state: np.random.RandomState) -> tuple:
    """What identifies a generator's state (and so every draw it will make)."""
    name, keys, pos, has_gauss, gauss = random_state.get_state()
    return (name, keys.tobytes(), int(pos), int(has_gauss), float(gauss))


def _from_rows(X: np.ndarray, points: np.ndarray, spec: InitSpec) -> GaussianParams | Moments:
    """scikit-learn's M-step from responsibilities one-hot on the rows ``points``.

    In closed form: soft counts ``1 + 10 eps``, so the means are the rows shrunk by that
    factor, the weights ``nk / n_samples`` and the covariances almost ``reg_covar * I``.
    scikit-learn's tied covariance takes the second moments of every row, not only of the
    chosen ones (``(XᵀX - Σ nk μ μᵀ) / Σ nk``): reproduced, so the fit is its fit.
    """
    k, d = points.shape
    nk = np.full(k, 1 + 10 * _EPS)
    means = points / nk[:, None]
    diff = points - means
    if spec.covariance_type == "tied":
        second = np.zeros((d, d))
        for start in range(0, len(X), _MEAN_BLOCK):
            block = np.ascontiguousarray(X[start : start + _MEAN_BLOCK], dtype=np.float64)
            second += block.T @ block
        covariances = (second - (nk * means.T) @ means) / nk.sum() + spec.reg_covar * np.eye(d)
    elif spec.covariance_type == "full":
        outer = diff[:, :, None] * diff[:, None, :] / nk[:, None, None]
        covariances = outer + spec.reg_covar * np.eye(d)
    else:
        variances = points * points / nk[:, None] - means**2 + spec.reg_covar
        covariances = variances.mean(axis=1) if spec.covariance_type == "spherical" else variances
    try:
        params = start_params(spec, nk / len(X), means, covariances)
    except SingularCovarianceError:
        from_points(spec, points)  # raises the error that explains a rows' start (reg_covar=0)
        raise
    return params


def initialize_like_sklearn(
    X: np.ndarray,
    spec: InitSpec,
    random_state: np.random.RandomState,
    n_init: int,
    sample_weight: np.ndarray | None = None,
) -> tuple[list[GaussianParams], np.ndarray]:
    """Starting parameters of ``n_init`` restarts as scikit-learn draws them, and the pass origin.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        The data, in memory, validated (finite).
    spec : InitSpec
        The method and any parameters the user gave; given ones replace the drawn ones.
        With every parameter given, use :func:`distgmm.init.initialize` (no draws, as
        scikit-learn).
    random_state : numpy.random.RandomState
        ``check_random_state(random_state)``; its draws are consumed in scikit-learn's order.
    n_init : int
    sample_weight : ndarray of shape (n_samples,), optional
        Given to ``KMeans`` and ``kmeans_plusplus``, and weighting the first M-step.
        (scikit-learn's ``GaussianMixture`` takes no weights; its ``KMeans`` does.)

    Returns
    -------
    inits : list of GaussianParams
    origin : ndarray of shape (n_features,)
        The data's (weighted) mean, the fixed origin of every pass.
    """
    # Values too large to square fail here, with a message that says so, not in KMeans.
    check_spread(_strided_sample(X), len(X))
    origin = representable_origin(_weighted_mean(X, sample_weight), X.dtype)
    inits = [_start(X, spec, random_state, origin, sample_weight) for _ in range(n_init)]
    return [override(spec, p) for p in inits], origin
