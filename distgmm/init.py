"""Initial parameters for EM: 'kmeans', 'k-means++', 'random', 'random_from_data', or given.

Everything that reads data goes through the engine's passes, so it works on data larger than
memory. Random choices are keyed by global row indices (never by chunk), so an initialisation
is the same whatever the chunking and the number of workers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import kmeans_plusplus

from ._scale import check_spread, empty_cluster_cause
from ._sharedstarts import shared
from .core.chunk import chunk_summaries
from .core.em import check_stats
from .engine import Passes
from .errors import EmptyComponentError, InvalidInputError, SingularCovarianceError
from .families.gaussian import covtypes as kernels
from .families.gaussian.kernel import prepare_kmeans, prepare_random, representable_origin
from .families.gaussian.mle import estimate, m_step
from .families.gaussian.params import GaussianParams

__all__ = [
    "INIT_METHODS",
    "InitSpec",
    "Moments",
    "from_points",
    "initialize",
    "override",
    "pass_origin",
    "seeds",
    "start_m_step",
    "start_params",
]

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data")
#: Rows drawn uniformly for k-means++ seeding and the in-memory Lloyd iterations.
SAMPLE_ROWS = 10_000
#: Lloyd iterations on the sample at most (scikit-learn's KMeans ``max_iter``).
SAMPLE_LLOYD_ITER = 300
#: Lloyd passes over the whole data at most, after k-means has converged on the sample; each
#: restart leaves the passes once its centers stop moving (scikit-learn's tol rule).
LLOYD_MAX_PASSES = 100
#: scikit-learn's KMeans ``tol``: converged when the squared shift of the centers, summed
#: over the centers, is at most ``KMEANS_TOL`` times the mean of the per-feature variances.
KMEANS_TOL = 1e-4
#: k-means++ starts tried on the sample per restart; the one of least inertia goes on.
SAMPLE_CANDIDATES = 4


@dataclass(frozen=True, slots=True)
class InitSpec:
    """How to start: a method, and any parameters the user gave."""

    n_components: int
    covariance_type: str
    method: str = "kmeans"
    reg_covar: float = 1e-6
    weights: np.ndarray | None = None
    means: np.ndarray | None = None
    precisions: np.ndarray | None = None
    nan_policy: str = "raise"
    """How the passes read a NaN (:data:`~distgmm.core.missing.NAN_POLICIES`)."""
    variational: bool = False
    """The start feeds a variational M-step, which adds the priors: it is the
    :class:`Moments` of the initial responsibilities, which may be singular or empty."""

    @property
    def fully_given(self) -> bool:
        return self.weights is not None and self.means is not None and self.precisions is not None


@dataclass(frozen=True, slots=True, eq=False)
class Moments:
    """A variational start: the weights, means and covariances its first M-step reads.

    scikit-learn's ``BayesianGaussianMixture._initialize`` gives the moments of the initial
    responsibilities to the variational M-step as they are, with no precision factor: there
    a component of one row (singular covariance with ``reg_covar=0``) or of none is a start
    like any other, the priors make its posterior proper.
    """

    covariance_type: str
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray


def start_params(spec: InitSpec, weights, means, covariances) -> GaussianParams | Moments:
    """A start from its moments: a Gaussian mixture (its covariances must be positive
    definite), or the :class:`Moments` of a variational start."""
    if spec.variational:
        return Moments(spec.covariance_type, weights, means, covariances)
    return GaussianParams.from_covariances(spec.covariance_type, weights, means, covariances)


def start_m_step(stats, shift, spec: InitSpec, origin) -> GaussianParams | Moments:
    """The M-step from a start's responsibilities; only an EM start needs every component to
    have rows (a variational one is scikit-learn's moments, see :class:`Moments`)."""
    if not spec.variational:
        return m_step(stats, shift, spec.covariance_type, spec.reg_covar, origin)
    nk, means, covariances = estimate(stats, shift, spec.covariance_type, spec.reg_covar, origin)
    return Moments(spec.covariance_type, nk / nk.sum(), means, covariances)


def seeds(base_seed: int, n: int) -> list[int]:
    """``n`` independent 128-bit integer seeds derived from ``base_seed``."""
    children = np.random.SeedSequence(base_seed).spawn(n)
    out = []
    for child in children:
        lo, hi = child.generate_state(2, np.uint64)
        out.append(int(lo) | (int(hi) << 64))
    return out


def _first_rows_mean(passes: Passes) -> np.ndarray:
    # The first rows are the same whatever the chunking; non-finite values are skipped here
    # and reported by the first pass.
    rows = passes.take(np.arange(min(passes.n_samples, 1024)))
    finite = np.isfinite(rows)
    check_spread(rows[finite.all(axis=1)], passes.n_samples)
    counts = finite.sum(axis=0)
    sums = np.where(finite, rows, 0.0).sum(axis=0)
    return np.divide(sums, counts, out=np.zeros(passes.n_features), where=counts > 0)


def pass_origin(passes: Passes, spec: InitSpec, sample: np.ndarray | None) -> np.ndarray:
    """The fixed point every pass shifts the data to: near the data, so nothing cancels."""
    if spec.means is not None:
        w = spec.weights if spec.weights is not None else np.full(len(spec.means), 1.0)
        origin = np.asarray(w @ spec.means / w.sum(), dtype=np.float64)
    elif sample is not None:
        origin = sample.mean(axis=0)
    else:
        origin = _first_rows_mean(passes)
    return representable_origin(origin, passes.dtype)


def _sample(passes: Passes, n_components: int, seed: int, nan_policy: str = "raise"):
    n = passes.n_samples
    size = min(n, max(SAMPLE_ROWS, 50 * n_components))
    if size == n:
        rows = np.arange(n)
    else:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
    sample = passes.take(rows)
    if nan_policy != "raise":
        sample = _complete(sample, nan_policy, n_components)
    bad = int((~np.isfinite(sample).all(axis=1)).sum())
    if bad:
        raise InvalidInputError(
            f"Input X contains NaN or infinity ({bad} of {size} sampled rows). "
            "Remove or impute those rows before fitting; for NaN, fit with nan_policy="
            "'marginalize' (a missing entry) or 'omit'. Infinity is an error under every policy."
        )
    check_spread(sample, n)
    return sample


def _complete(sample: np.ndarray, nan_policy: str, n_components: int) -> np.ndarray:
    """The sample k-means starts from, without NaN: its rows holding none ('omit'), or
    every row with a missing entry given its column's mean over the sample ('marginalize':
    only this in-memory k-means imputes; the passes over the data marginalise)."""
    missing = np.isnan(sample)
    if nan_policy == "omit":
        sample = sample[~missing.any(axis=1)]
        if len(sample) < n_components:
            raise InvalidInputError(
                f"Only {len(sample)} rows of the initialisation's sample hold no NaN, fewer "
                f"than n_components={n_components}: too few rows are left by "
                "nan_policy='omit'. Use nan_policy='marginalize'."
            )
        return sample
    sample = sample[~missing.all(axis=1)]
    if len(sample) < n_components:
        raise InvalidInputError(
            f"Only {len(sample)} rows of the initialisation's sample have an observed entry, "
            f"fewer than n_components={n_components}: X is (almost) all NaN."
        )
    missing = np.isnan(sample)
    # Means over the finite values (an infinity is reported by the check that follows); a
    # column without any in the sample reads 0 here, and the passes find out whether it has
    # any value at all (Summary.unobserved).
    finite = np.isfinite(sample)
    counts = finite.sum(axis=0)
    sums = np.where(finite, sample, 0.0).sum(axis=0)
    means = np.divide(sums, counts, out=np.zeros(sample.shape[1]), where=counts > 0)
    return np.where(missing, means, sample)


def _isotropic(covariance_type: str, n_components: int, n_features: int, var: float):
    shape = kernels.get(covariance_type).covariance_shape(n_components, n_features)
    if covariance_type == "full":
        return np.broadcast_to(np.eye(n_features) * var, shape).copy()
    if covariance_type == "tied":
        return np.eye(n_features) * var
    return np.full(shape, var)


def from_points(spec: InitSpec, points: np.ndarray) -> GaussianParams | Moments:
    """One component per row of ``points``: its mean, ``reg_covar * I``, equal weights."""
    # As scikit-learn: responsibilities one-hot on K data points give those points as means,
    # equal weights and reg_covar·I as covariances.
    k, d = points.shape
    try:
        return start_params(
            spec,
            np.full(k, 1.0 / k),
            points,
            _isotropic(spec.covariance_type, k, d, spec.reg_covar),
        )
    except SingularCovarianceError as err:
        raise SingularCovarianceError(
            err.component,
            err.covariance_type,
            f"from the start: init_params={spec.method!r} starts each component at one row "
            f"with reg_covar * I as its covariance, and reg_covar={spec.reg_covar:g}. Use a "
            "positive reg_covar, or init_params='kmeans' or 'random'.",
        ) from None


def _lloyd_step(stats, centers: np.ndarray) -> np.ndarray:
    # Empty clusters keep their center rather than jump to 0/0.
    moved = centers.copy()
    full = stats.nk > 0
    moved[full] += stats.sx[full] / stats.nk[full, None]
    return moved


def _plusplus(sample: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means++ centers chosen among the sample's rows."""
    return kmeans_plusplus(sample, k, random_state=np.random.RandomState(seed % 2**32))[0]


def _lloyd_on_sample(sample, centers, origin, tol) -> tuple[np.ndarray, float]:
    """Lloyd iterations on the sample until scikit-learn's tol rule: the centers, inertia."""
    for _ in range(SAMPLE_LLOYD_ITER):
        (stats,) = chunk_summaries(sample, [prepare_kmeans(centers, "spherical", origin)], origin)
        moved = _lloyd_step(stats, centers)
        shift = float(((moved - centers) ** 2).sum())
        centers = moved
        if shift <= tol:
            break
    # Squared distances to the moved centers of the last assignment's rows: the spherical
    # moments about the old centers less each cluster's n·|shift|².
    full = stats.nk > 0
    offsets = stats.sx[full] / stats.nk[full, None]
    return centers, float(stats.sxx.sum() - stats.nk[full] @ (offsets**2).sum(axis=1))


def _kmeans_on_sample(sample: np.ndarray, spec: InitSpec, seed: int, origin, tol) -> np.ndarray:
    """The best of ``SAMPLE_CANDIDATES`` k-means runs on the sample.

    A single k-means++ start often ends in a poor local optimum when clusters overlap (one
    center between two clusters, two in one); k-means in memory on the sample is cheap next
    to a pass over the data, so several starts are tried there and the one of least inertia
    goes on, as scikit-learn's KMeans does with ``n_init`` > 1.
    """

    def best() -> np.ndarray:
        runs = [
            _lloyd_on_sample(sample, _plusplus(sample, spec.n_components, s), origin, tol)
            for s in seeds(seed, SAMPLE_CANDIDATES)
        ]
        return min(runs, key=lambda run: run[1])[0]

    # The same for every covariance type: computed once per sweep (distgmm._sharedstarts).
    digest = hashlib.sha256(np.ascontiguousarray(sample).tobytes()).hexdigest()
    key = ("sample-kmeans", digest, spec.n_components, seed, origin.tobytes(), tol)
    return shared(key, best).copy()


def _kmeans(passes: Passes, spec: InitSpec, sample, origin, restart_seeds) -> list:
    # scikit-learn's KMeans tolerance, from the sample's variances (the data's are not known
    # before a pass); the full-data passes stop by the same rule.
    tol = KMEANS_TOL * float(np.mean(np.var(sample, axis=0)))
    centers = [_kmeans_on_sample(sample, spec, s, origin, tol) for s in restart_seeds]
    active = list(range(len(centers)))
    final: dict[int, object] = {}
    # The Lloyd passes need counts and sums only: their moments are spherical, the cheapest.
    # The start's statistics of the covariance type come from one more pass at the final
    # centers (the same assignments, so the same counts and sums, bit for bit).
    for pass_no in range(LLOYD_MAX_PASSES):
        models = [prepare_kmeans(centers[i], "spherical", origin, spec.nan_policy) for i in active]
        all_stats = passes.run(models, origin)
        still = []
        for i, stats in zip(active, all_stats, strict=True):
            check_stats(stats)
            moved = _lloyd_step(stats, centers[i])
            last = pass_no == LLOYD_MAX_PASSES - 1
            if float(((moved - centers[i]) ** 2).sum()) <= tol or last:
                final[i] = (stats, centers[i])
            else:
                still.append(i)
            centers[i] = moved
        active = still
        if not active:
            break
    if spec.covariance_type != "spherical":
        order = sorted(final)
        models = [
            prepare_kmeans(final[i][1], spec.covariance_type, origin, spec.nan_policy)
            for i in order
        ]
        for i, stats in zip(order, passes.run(models, origin), strict=True):
            check_stats(stats)
            final[i] = (stats, final[i][1])
    params = []
    for i in range(len(centers)):
        stats, shift = final[i]
        try:
            params.append(start_m_step(stats, shift, spec, origin))
        except EmptyComponentError as err:
            raise InvalidInputError(
                f"k-means initialisation left component {err.component} without any row: "
                + empty_cluster_cause(sample, spec.n_components)
            ) from None
    return params


def _random(passes: Passes, spec: InitSpec, origin, restart_seeds) -> list:
    d = passes.n_features
    models = [
        prepare_random(spec.n_components, d, spec.covariance_type, s, spec.nan_policy)
        for s in restart_seeds
    ]
    shift = np.broadcast_to(origin, (spec.n_components, d))
    out = []
    for stats in passes.run(models, origin):
        check_stats(stats)
        out.append(start_m_step(stats, shift, spec, origin))
    return out


def override(spec: InitSpec, params: GaussianParams | None) -> GaussianParams:
    """``params`` with the weights, means and precisions the user gave put in their place."""
    if spec.weights is None and spec.means is None and spec.precisions is None:
        return params
    weights = spec.weights if spec.weights is not None else params.weights
    means = spec.means if spec.means is not None else params.means
    if spec.precisions is not None:
        return GaussianParams.from_precisions(spec.covariance_type, weights, means, spec.precisions)
    return GaussianParams(
        spec.covariance_type, weights, means, params.covariances, params.precisions_chol
    )


def initialize(
    passes: Passes, spec: InitSpec, base_seed: int, n_init: int
) -> tuple[list[GaussianParams], np.ndarray]:
    """Starting parameters for ``n_init`` restarts, and the origin of every later pass.

    Parameters
    ----------
    passes : Passes
        The data.
    spec : InitSpec
    base_seed : int
        Everything random derives from it.
    n_init : int
        Number of restarts; their k-means or random passes share the data reads. With every
        parameter given there is one start, whatever ``n_init``.

    Returns
    -------
    inits : list of GaussianParams
    origin : ndarray of shape (n_features,)
    """
    sample_seed, *restart_seeds = seeds(base_seed, n_init + 1)
    if spec.fully_given:  # every restart would be the same fit: run it once
        return [override(spec, None)], pass_origin(passes, spec, None)
    sample = (
        _sample(passes, spec.n_components, sample_seed, spec.nan_policy)
        if spec.method in ("kmeans", "k-means++")
        else None
    )
    origin = pass_origin(passes, spec, sample)
    if spec.method == "kmeans":
        params = _kmeans(passes, spec, sample, origin, restart_seeds)
    elif spec.method == "k-means++":
        params = [from_points(spec, _plusplus(sample, spec.n_components, s)) for s in restart_seeds]
    elif spec.method == "random_from_data":
        params = []
        for s in restart_seeds:
            rows = np.random.default_rng(s).choice(passes.n_samples, spec.n_components, False)
            points = passes.take(rows)
            if spec.nan_policy != "raise":  # a missing coordinate starts at the origin's
                points = np.where(np.isnan(points), origin, points)
            if not np.isfinite(points).all():
                raise InvalidInputError(
                    "Input X contains NaN or infinity in rows chosen as initial means. "
                    "Remove or impute those rows before fitting."
                )
            params.append(from_points(spec, points))
    elif spec.method == "random":
        params = _random(passes, spec, origin, restart_seeds)
    else:
        raise ValueError(f"init_params must be one of {INIT_METHODS}, got {spec.method!r}")
    return [override(spec, p) for p in params], origin
