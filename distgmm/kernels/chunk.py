"""The fused chunk pass: E-step and sufficient statistics of a batch of models, in one read.

A chunk is processed in row blocks of a few thousand rows so that each block's per-component
projections stay in cache; the large buffers (the shifted block, the projections, the
responsibilities) are allocated once per chunk and reused for every block.
Each block is shifted to a common origin (and upcast to float64) once, then every model of
the batch consumes it: restarts and candidate models cost no extra reads of the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInputError
from ..params import GaussianParams
from ..stats import Stats
from . import get

__all__ = [
    "PassModel",
    "chunk_stats",
    "chunk_weighted_log_prob",
    "prepare_em",
    "prepare_given",
    "prepare_kmeans",
    "prepare_random",
    "representable_origin",
]

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True, slots=True, eq=False)
class PassModel:
    """What one model needs for one pass: how rows are assigned, and what to accumulate."""

    covariance_type: str
    """Whose sufficient statistics are accumulated."""
    means_s: np.ndarray
    """Per-component shift of the moments, relative to the pass origin, ``(K, D)``."""
    assign: str
    """'soft' (E-step responsibilities), 'hard' (nearest mean, one-hot: a Lloyd step of
    k-means), 'random' (uniform responsibilities keyed by row index and ``seed``) or 'given'
    (rows of ``given``)."""
    density_type: str
    """Kernel evaluating the log-densities ('spherical' for 'hard')."""
    const: np.ndarray
    """Per-component ``log π_k + log det U_k - D/2 log 2π``, shape ``(K,)``."""
    mats: tuple
    """Kernel-specific matrices from ``kernels.<type>.prepare``."""
    seed: int = 0
    """Key of the row-indexed random stream ('random' only)."""
    given: np.ndarray | None = None
    """'given' only: each row's responsibilities ``(n_samples, K)``, or its component
    ``(n_samples,)`` (one-hot), indexed by global row. Held in memory, so for in-process
    passes over numpy data only."""

    @property
    def n_components(self) -> int:
        return len(self.means_s)


def prepare_em(params: GaussianParams, origin: np.ndarray) -> PassModel:
    """A 'soft' pass model: the E-step of ``params`` (statistics about its own means)."""
    kernel = get(params.covariance_type)
    means_s = params.means - origin
    const = (
        np.log(params.weights)
        + kernel.log_det(params.precisions_chol, params.n_features)
        - 0.5 * params.n_features * _LOG_2PI
    )
    return PassModel(
        params.covariance_type,
        means_s,
        "soft",
        params.covariance_type,
        np.broadcast_to(const, params.weights.shape).copy(),
        kernel.prepare(params.precisions_chol, means_s),
    )


def prepare_kmeans(centers: np.ndarray, covariance_type: str, origin: np.ndarray) -> PassModel:
    """A 'hard' pass model: assign each row to its nearest center (one Lloyd step)."""
    means_s = np.asarray(centers, dtype=np.float64) - origin
    n_components = len(means_s)
    return PassModel(
        covariance_type,
        means_s,
        "hard",
        "spherical",
        np.zeros(n_components),
        get("spherical").prepare(np.ones(n_components), means_s),
    )


def prepare_random(
    n_components: int, n_features: int, covariance_type: str, seed: int
) -> PassModel:
    """A 'random' pass model: responsibilities drawn uniformly, then normalised per row."""
    return PassModel(
        covariance_type,
        np.zeros((n_components, n_features)),
        "random",
        covariance_type,
        np.zeros(n_components),
        (),
        seed,
    )


def prepare_given(given: np.ndarray, covariance_type: str, means_s: np.ndarray) -> PassModel:
    """A 'given' pass model: statistics of responsibilities fixed in advance (an initialisation).

    Parameters
    ----------
    given : ndarray of shape (n_samples, n_components) or (n_samples,)
        Responsibilities of every row, or the component of every row (one-hot).
    covariance_type : str
    means_s : ndarray of shape (n_components, n_features)
        Shift of the moments relative to the pass origin (near each component's mean).
    """
    n_components = len(means_s)
    return PassModel(
        covariance_type,
        np.asarray(means_s, dtype=np.float64),
        "given",
        covariance_type,
        np.zeros(n_components),
        (),
        given=given,
    )


def _given_block(given: np.ndarray, row0: int, out: np.ndarray) -> None:
    """The (K, n) responsibilities of rows ``row0 .. row0 + n`` of ``given``, into ``out``."""
    rows = given[row0 : row0 + out.shape[1]]
    if rows.ndim == 1:
        out[...] = 0.0
        out[rows, np.arange(len(rows))] = 1.0
    else:
        out[...] = rows.T


def _block_rows(models: list[PassModel], n_features: int) -> int:
    # Keep a block's widest per-row scratch (K·D projections for 'full') near 2 MB.
    widest = max(
        max(get(m.density_type).work_width(m.n_components, n_features), m.n_components, n_features)
        for m in models
    )
    return int(min(4096, max(256, (1 << 21) // (8 * widest))))


def row_uniforms(seed: int, row0: int, n_rows: int, n_components: int) -> np.ndarray:
    """Uniform ``[0, 1)`` draws for rows ``row0 .. row0 + n_rows``, ``(n_rows, n_components)``.

    Keyed by the row's global index (Philox counter = row), not by the chunk, so the draws,
    and a 'random' initialisation, are the same whatever the chunking.
    """
    per_row = -(-n_components // 4)  # Philox yields four 64-bit words per counter step
    bitgen = np.random.Philox(key=seed, counter=[row0 * per_row, 0, 0, 0])
    return np.random.Generator(bitgen).random((n_rows, 4 * per_row))[:, :n_components]


def _never(mats: tuple) -> bool:
    return False


class _Accumulator:
    """Running statistics of one model over the blocks of one chunk."""

    def __init__(self, model: PassModel, n_features: int, block_rows: int) -> None:
        k = model.n_components
        self.model = model
        self.kernel = get(model.density_type)
        self.scatter = get(model.covariance_type)
        width = max(
            self.kernel.work_width(k, n_features), self.scatter.work_width(k, n_features), 1
        )
        self.work = np.empty(block_rows * max(width, n_features))
        # Responsibilities are (K, rows): the log-sum-exp then reduces K long rows
        # elementwise instead of many rows of K values (2.8x faster).
        self.logp = np.empty(block_rows * k)
        self.n_rows = 0
        self.weight = 0.0
        self.loglik = 0.0
        self.n_nonfinite = 0
        self.n_overflow = 0
        self.nk = np.zeros(k)
        self.rx = np.zeros((k, n_features))
        self.acc = self.scatter.new_scatter(k, n_features)

    def add(
        self, Xs: np.ndarray, weights: np.ndarray | None, row0: int, X32: np.ndarray | None
    ) -> None:
        """Accumulate a block: ``Xs`` shifted in float64, ``X32`` the same in float32 or None."""
        model, n = self.model, len(Xs)
        resp = self.logp[: model.n_components * n].reshape(model.n_components, n)
        if model.assign == "random":
            resp[...] = row_uniforms(model.seed, row0, n, model.n_components).T
            resp /= resp.sum(axis=0)
            self.n_nonfinite += int(n - np.isfinite(Xs).all(axis=1).sum())
        elif model.assign == "given":
            _given_block(model.given, row0, resp)
            self.n_nonfinite += int(n - np.isfinite(Xs).all(axis=1).sum())
        else:
            fast = X32 is not None and getattr(self.kernel, "accepts_float32", _never)(model.mats)
            self.kernel.neg_half_maha(X32 if fast else Xs, model.mats, resp, self.work)
            resp += model.const[:, None]
            if model.assign == "hard":
                best = resp.argmax(axis=0)
                self._count_nonfinite(Xs, resp.max(axis=0))
                resp[...] = 0.0
                resp[best, np.arange(n)] = 1.0
            else:
                lse = _normalize_log_resp(resp)
                self._count_nonfinite(Xs, lse)
                self.loglik += float(lse.sum() if weights is None else weights @ lse)
        if weights is not None:
            resp *= weights
            self.weight += float(weights.sum())
        else:
            self.weight += n
        self.n_rows += n
        self.nk += resp.sum(axis=1)
        self.rx += resp @ Xs
        self.scatter.add_scatter(Xs, resp, model.means_s, self.acc, self.work)

    def _count_nonfinite(self, Xs: np.ndarray, row_values: np.ndarray) -> None:
        """Count the rows whose value is NaN or inf: NaN or inf data, or an overflow."""
        bad = len(Xs) - int(np.isfinite(row_values).sum())
        if bad:  # rare: the data are only looked at again then
            nonfinite = len(Xs) - int(np.isfinite(Xs).all(axis=1).sum())
            self.n_nonfinite += nonfinite
            self.n_overflow += max(0, bad - nonfinite)

    def finish(self) -> Stats:
        m = self.model
        return Stats(
            n_rows=self.n_rows,
            weight=self.weight,
            loglik=self.loglik,
            n_nonfinite=self.n_nonfinite,
            nk=self.nk,
            sx=self.rx - self.nk[:, None] * m.means_s,
            sxx=self.scatter.finish_scatter(self.acc, self.nk, self.rx, m.means_s),
            n_overflow=self.n_overflow,
        )


def _normalize_log_resp(wlp: np.ndarray) -> np.ndarray:
    """(K, rows) weighted log-probabilities to responsibilities, in place; return each row's
    log-sum-exp."""
    top = wlp.max(axis=0)
    with np.errstate(invalid="ignore"):  # rows of NaN/inf data: counted, reported by the caller
        wlp -= top
        np.exp(wlp, out=wlp)
        total = wlp.sum(axis=0)
        wlp /= total
        return top + np.log(total)


def chunk_stats(
    X: np.ndarray,
    models: list[PassModel],
    origin: np.ndarray,
    sample_weight: np.ndarray | None = None,
    row0: int = 0,
    block_rows: int | None = None,
) -> list[Stats]:
    """Sufficient statistics of every model in ``models`` over the rows of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features), float32 or float64
        One chunk of data. It is never copied whole: each block is shifted and upcast into a
        reused float64 buffer.
    models : list of PassModel
        The batch; all share the block reads.
    origin : ndarray of shape (n_features,)
        The pass origin every model's matrices were prepared against.
    sample_weight : ndarray of shape (n_rows,), optional
        Non-negative row weights.
    row0 : int
        Global index of the chunk's first row (keys the 'random' draws).
    block_rows : int, optional
        Rows per block; by default sized so the block's projections stay in cache.

    Returns
    -------
    list of Stats
        One per model, in order.
    """
    n_rows, n_features = X.shape
    block = block_rows or _block_rows(models, n_features)
    block = max(1, min(block, n_rows))
    shifted = np.empty((block, n_features))
    origin32 = float32_origin(X.dtype, origin)
    shifted32 = np.empty((block, n_features), np.float32) if origin32 is not None else None
    accs = [_Accumulator(m, n_features, block) for m in models]
    # Rows holding NaN or inf are counted in Stats.n_nonfinite and reported by the caller;
    # the inf * 0 they produce on the way must not warn about each block.
    with np.errstate(invalid="ignore", over="ignore"):
        for start in range(0, n_rows, block):
            stop = min(start + block, n_rows)
            Xs = np.subtract(X[start:stop], origin, out=shifted[: stop - start])
            X32 = None
            if shifted32 is not None:
                X32 = np.subtract(X[start:stop], origin32, out=shifted32[: stop - start])
            weights = None if sample_weight is None else sample_weight[start:stop]
            for acc in accs:
                acc.add(Xs, weights, row0 + start, X32)
    return [acc.finish() for acc in accs]


def representable_origin(origin: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``origin`` rounded to float32 for float32 data, so their blocks shift exactly."""
    if dtype == np.float32:
        return origin.astype(np.float32).astype(np.float64)
    return np.asarray(origin, dtype=np.float64)


def float32_origin(dtype: np.dtype, origin: np.ndarray) -> np.ndarray | None:
    """The origin as float32, when it is exactly representable in float32 (else None).

    Then the float32 copy of a shifted block is the float64 copy rounded to float32, the
    same points to float32 precision; the engine rounds the origin of float32 data to
    float32 so that this holds.
    """
    if dtype != np.float32:
        return None
    origin32 = origin.astype(np.float32)
    return origin32 if np.array_equal(origin32, origin) else None


def chunk_weighted_log_prob(
    X: np.ndarray, model: PassModel, origin: np.ndarray, out: str
) -> np.ndarray:
    """Per-row results of one model's E-step over a chunk, computed block by block.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features)
    model : PassModel
        A 'soft' model from :func:`prepare_em`.
    origin : ndarray of shape (n_features,)
    out : {'labels', 'proba', 'score', 'log_prob'}
        Most likely component, responsibilities, ``log p(x)``, or the weighted
        log-probabilities ``log π_k + log N(x | k)``.

    Returns
    -------
    ndarray
        ``(n_rows,)`` int64 labels or float64 scores, or ``(n_rows, K)`` float64.
    """
    return chunk_predictions(X, model, origin, (out,))[0]


def check_finite_rows(X: np.ndarray, where: str) -> None:
    """Raise if a chunk of ``X`` holds NaN or inf (inference cannot fold this into a pass).

    ``where`` says which rows they are, e.g. "of a chunk" or "900 to 1199".
    """
    bad = X.shape[0] - int(np.isfinite(X).all(axis=1).sum())
    if bad:
        raise InvalidInputError(
            f"Input X contains NaN or infinity in {bad} of the {X.shape[0]} rows {where}. "
            "Remove or impute those rows first."
        )


def chunk_predictions(
    X: np.ndarray, model: PassModel, origin: np.ndarray, outs: Sequence[str]
) -> tuple[np.ndarray, ...]:
    """Several of :func:`chunk_weighted_log_prob`'s results from one E-step over a chunk."""
    n_rows, n_features = X.shape
    k = model.n_components
    results = tuple(
        np.empty(
            (n_rows,) if out in ("labels", "score") else (n_rows, k),
            dtype=np.int64 if out == "labels" else np.float64,
        )
        for out in outs
    )
    if n_rows == 0:
        return results
    block = min(_block_rows([model], n_features), n_rows)
    kernel = get(model.density_type)
    work = np.empty(block * max(kernel.work_width(k, n_features), n_features, 1))
    logp = np.empty(block * k)
    shifted = np.empty((block, n_features))
    # Labels and log-probabilities are read before the normalisation overwrites them.
    order = sorted(range(len(outs)), key=lambda i: outs[i] not in ("labels", "log_prob"))
    for start in range(0, n_rows, block):
        stop = min(start + block, n_rows)
        Xs = np.subtract(X[start:stop], origin, out=shifted[: stop - start])
        w = logp[: k * (stop - start)].reshape(k, stop - start)
        kernel.neg_half_maha(Xs, model.mats, w, work)
        w += model.const[:, None]
        lse = None
        for i in order:
            out, result = outs[i], results[i]
            if out == "labels":
                result[start:stop] = w.argmax(axis=0)
            elif out == "log_prob":
                result[start:stop] = w.T
            else:
                if lse is None:
                    lse = _normalize_log_resp(w)
                result[start:stop] = w.T if out == "proba" else lse
    return results
