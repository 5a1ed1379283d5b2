"""select_mixture: every candidate in the same passes, each equal bit for bit to its solo fit."""

from __future__ import annotations

import threading
import warnings

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest

import distgmm
from distgmm import ConvergenceWarning, GaussianMixture, InvalidInputError, select_mixture
from distgmm.core.chunk import chunk_summaries
from distgmm.families.gaussian.kernel import prepare_em
from distgmm.families.gaussian.params import GaussianParams

TYPES = ("full", "tied", "diag", "spherical")


def _blobs(n: int = 1500, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0, 0.0], [5.0, 1.0, -2.0], [1.0, 6.0, 3.0]])
    X = np.vstack([rng.normal(c, [1.0, 0.6, 1.4], (n // 3, 3)) for c in centers])
    return X[rng.permutation(len(X))] + 100.0  # an offset: the moments' shift matters


def _solo(X, k, cov, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(k, covariance_type=cov, **params).fit(X)


def _assert_same(est, solo, row, X):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(est, name), getattr(solo, name), err_msg=name)
    assert est.lower_bounds_ == solo.lower_bounds_
    assert est.n_iter_ == solo.n_iter_
    assert est.converged_ == solo.converged_
    assert row["bic"] == solo.bic(X)
    assert row["aic"] == solo.aic(X)
    assert row["lower_bound"] == solo.lower_bound_
    assert row["n_iter"] == solo.n_iter_


@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_every_candidate_is_its_solo_fit_on_numpy(init_params):
    X = _blobs()
    params = dict(n_init=2, random_state=7, init_params=init_params, tol=1e-4)
    sel = select_mixture(X, [1, 2, 3, 5], TYPES, **params)
    assert len(sel.results_) == 16
    assert all(r["status"] == "ok" for r in sel.results_)
    for row, est in zip(sel.results_, sel.estimators_, strict=True):
        _assert_same(est, _solo(X, row["n_components"], row["covariance_type"], **params), row, X)
    best = sel.results_[sel.best_index_]
    assert best["bic"] == min(r["bic"] for r in sel.results_)
    assert sel.best_estimator_ is sel.estimators_[sel.best_index_]


def test_every_candidate_is_its_solo_fit_on_dask():
    X = da.from_array(_blobs(), chunks=(512, 3))
    params = dict(n_init=2, random_state=3, tol=1e-4)
    sel = select_mixture(X, [2, 3, 4], TYPES, **params)
    for row, est in zip(sel.results_, sel.estimators_, strict=True):
        _assert_same(est, _solo(X, row["n_components"], row["covariance_type"], **params), row, X)


def test_a_random_state_instance_is_copied_to_each_candidate():
    # Shared by the candidates' threads, one RandomState would give each candidate draws
    # that depend on the others' (and on the threads' timing): each gets its own copy.
    X = _blobs(900)

    def sweep():
        rs = np.random.RandomState(0)
        return select_mixture(X, [2, 3], TYPES, n_init=2, random_state=rs, init_params="random")

    sel, again = sweep(), sweep()
    for row, est, other in zip(sel.results_, sel.estimators_, again.estimators_, strict=True):
        np.testing.assert_array_equal(est.means_, other.means_)
        solo = _solo(
            X,
            row["n_components"],
            row["covariance_type"],
            n_init=2,
            random_state=np.random.RandomState(0),
            init_params="random",
        )
        np.testing.assert_array_equal(est.means_, solo.means_)
        assert est.lower_bounds_ == solo.lower_bounds_


@pytest.mark.cluster
def test_a_client_is_shared_by_the_candidates_not_copied(cluster2):
    # A Client cannot be deep-copied (sklearn's clone does that to parameters): every
    # candidate must get the client itself, and fit on it as its solo fit does.
    X = da.from_array(_blobs(600), chunks=(256, 3))
    params = dict(n_init=2, random_state=1, tol=1e-4, client=cluster2, persist=False)
    sel = select_mixture(X, [1, 3], ("full", "diag"), **params)
    for row, est in zip(sel.results_, sel.estimators_, strict=True):
        assert est.client is cluster2
        _assert_same(est, _solo(X, row["n_components"], row["covariance_type"], **params), row, X)
    template = GaussianMixture(client=cluster2, tol=1e-4)
    sel = select_mixture(X, [2], "tied", estimator=template, random_state=1)
    assert sel.best_estimator_.client is cluster2
    _assert_same(
        sel.best_estimator_, _solo(X, 2, "tied", tol=1e-4, random_state=1), sel.results_[0], X
    )


class _CountingSource:
    """A dask array whose every chunk read is counted (a real source, read per pass)."""

    def __init__(self, X: np.ndarray, rows: int) -> None:
        self.X, self.reads, self._lock = X, 0, threading.Lock()
        starts = range(0, len(X), rows)
        blocks = [
            da.from_delayed(
                self._read(s, min(s + rows, len(X))), (min(rows, len(X) - s), X.shape[1]), X.dtype
            )
            for s in starts
        ]
        self.array = da.concatenate(blocks)
        self.n_chunks = len(blocks)

    def _read(self, start, stop):
        @dask.delayed(pure=False)
        def read():
            with self._lock:
                self.reads += 1
            return self.X[start:stop].copy()

        return read()

    def passes(self) -> float:
        return self.reads / self.n_chunks


def test_the_sweep_reads_the_data_about_as_often_as_its_longest_fit():
    X = _blobs(3000)
    params = dict(n_init=2, random_state=0, tol=1e-4, persist=False)
    ks = [1, 2, 3, 4]
    with dask.config.set(scheduler="threads"):
        solo_passes = []
        for cov in TYPES:
            for k in ks:
                source = _CountingSource(X, 500)
                _solo(source.array, k, cov, **params)
                solo_passes.append(source.passes())
        source = _CountingSource(X, 500)
        sel = select_mixture(source.array, ks, TYPES, **params)
    # the reads of the longest fit, plus the final pass of the criteria and a few reads of
    # a chunk or two (the start's sample, the first rows), never the sum of the fits'
    assert source.passes() <= max(solo_passes) + 3
    assert source.passes() < sum(solo_passes) / 4
    assert sel.n_passes_ <= max(solo_passes)


def test_a_failed_candidate_is_reported_and_the_others_go_on():
    rng = np.random.default_rng(0)
    X = np.repeat(rng.normal(0, 1, (5, 2)), 20, axis=0)  # five distinct rows
    sel = select_mixture(X, [1, 2, 8], ("full", "diag"), reg_covar=0.0, random_state=0)
    status = {(r["n_components"], r["covariance_type"]): r for r in sel.results_}
    assert status[(1, "full")]["status"] == "ok"
    assert status[(1, "diag")]["status"] == "ok"
    failed = status[(8, "full")]
    assert failed["status"] == "failed"
    assert "distinct rows" in failed["error"]
    assert failed["bic"] is None
    assert sel.estimators_[sel.results_.index(failed)] is None
    assert sel.results_[sel.best_index_]["status"] == "ok"


def test_data_every_candidate_fails_on_is_an_error():
    X = _blobs(300)
    X[5, 1] = np.nan
    with pytest.raises(InvalidInputError, match="NaN"):
        select_mixture(X, [1, 2], ("diag",), random_state=0)


def test_other_families_through_a_template():
    answers = pd.DataFrame(np.random.default_rng(4).integers(0, 3, (400, 5)), columns=list("abcde"))
    template = distgmm.CategoricalMixture(alpha=0.0, tol=1e-6, max_iter=500)
    sel = select_mixture(answers, range(1, 4), estimator=template, n_init=3, random_state=1)
    assert [r["covariance_type"] for r in sel.results_] == [None, None, None]
    for row, est in zip(sel.results_, sel.estimators_, strict=True):
        solo = distgmm.CategoricalMixture(
            row["n_components"], alpha=0.0, tol=1e-6, max_iter=500, n_init=3, random_state=1
        ).fit(answers)
        assert est.lower_bounds_ == solo.lower_bounds_
        assert row["bic"] == solo.bic(answers)


def test_bad_arguments_are_input_errors():
    X = _blobs(300)
    with pytest.raises(InvalidInputError, match="criterion"):
        select_mixture(X, [1], criterion="waic")
    with pytest.raises(InvalidInputError, match="n_components"):
        select_mixture(X, [0, 2])
    with pytest.raises(InvalidInputError, match="covariance_types"):
        select_mixture(X, [1], ())


def test_a_batch_over_the_task_budget_runs_in_parts_with_the_same_statistics():
    X = _blobs(900)
    origin = X.mean(axis=0)
    rng = np.random.default_rng(0)
    models = []
    for cov in TYPES:
        means = X[rng.choice(len(X), 4)]
        cov_shape = {"full": (4, 3, 3), "tied": (3, 3), "diag": (4, 3), "spherical": (4,)}[cov]
        covs = (
            np.broadcast_to(np.eye(3), (4, 3, 3)).copy()
            if cov == "full"
            else np.eye(3)
            if cov == "tied"
            else np.ones(cov_shape)
        )
        params = GaussianParams.from_covariances(cov, np.full(4, 0.25), means, covs)
        models.append(prepare_em(params, origin))
    whole = chunk_summaries(X, models, origin)
    parts = chunk_summaries(X, models, origin, max_scratch=1)  # one model at a time
    for a, b in zip(whole, parts, strict=True):
        np.testing.assert_array_equal(a.sx, b.sx)
        np.testing.assert_array_equal(a.sxx, b.sxx)
        assert a.loglik == b.loglik


def test_plot_draws_one_line_per_type_and_criterion():
    matplotlib = pytest.importorskip("matplotlib", reason="plot needs matplotlib")
    matplotlib.use("Agg")
    sel = select_mixture(_blobs(300), [1, 2], ("diag", "full"), random_state=0)
    ax = sel.plot()
    assert len(ax.lines) == 2 * 2 + 1  # BIC and AIC per type, and the best
    best = sel.results_[sel.best_index_]
    assert list(ax.lines[-1].get_ydata()) == [best["bic"]]
    ax = sel.plot(criteria=["aic"])  # no star: the best's BIC is not on the AIC scale
    assert len(ax.lines) == 2


def test_dask_passes_over_chunks_in_memory_split_a_large_batch_over_tasks(monkeypatch):
    import distgmm.engine as engine

    X = _blobs(900)
    origin = X.mean(axis=0)
    rng = np.random.default_rng(1)
    models = [
        prepare_em(
            GaussianParams.from_covariances(
                "diag", np.full(3, 1 / 3), X[rng.choice(len(X), 3)], np.ones((3, 3))
            ),
            origin,
        )
        for _ in range(5)
    ]
    with dask.config.set(scheduler="threads"):
        passes = engine.DaskPasses(da.from_array(X, chunks=(300, 3)), persist=True)
        whole = passes.run(models, origin)
        monkeypatch.setattr(engine, "TASK_SCRATCH_BYTES", 1)  # one model per task
        graph = passes.graph(models, origin)
        parts = passes.run(models, origin)
        passes.close()
    assert len([k for k in dict(graph.dask) if "part4" in str(k)]) >= 3  # 5 parts x 3 chunks
    for a, b in zip(whole, parts, strict=True):
        np.testing.assert_array_equal(a.sx, b.sx)
        np.testing.assert_array_equal(a.sxx, b.sxx)
        assert a.loglik == b.loglik


def test_a_checkpoint_is_refused_as_every_candidate_would_write_it(tmp_path):
    with pytest.raises(InvalidInputError, match="checkpoint"):
        select_mixture(_blobs(300), [1, 2], checkpoint=tmp_path / "ck.npz")
