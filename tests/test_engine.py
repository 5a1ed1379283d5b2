"""The Dask engine: chunking and worker invariance, shared passes, lazy inference, clusters."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest

from distgmm import GaussianMixture
from distgmm.core.em import run_em
from distgmm.engine import DaskPasses, InMemoryPasses, tree_reduce
from distgmm.families.gaussian.mle import GaussianMLE
from distgmm.init import InitSpec, initialize

TYPES = ("full", "tied", "diag", "spherical")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
FITTED = ("weights_", "means_", "covariances_", "precisions_cholesky_", "lower_bounds_")


def fit(X, **kw):
    params = dict(n_components=3, random_state=0, tol=1e-6, max_iter=60)
    params.update(kw)
    return GaussianMixture(**params).fit(X)


def assert_identical(a, b):
    for name in FITTED:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.n_iter_ == b.n_iter_


def assert_close(a, b, rtol):
    for name in FITTED:
        got, want = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        assert np.abs(got - want).max() <= rtol * np.abs(want).max(), name
    assert a.n_iter_ == b.n_iter_


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random", "k-means++", "random_from_data"])
def test_chunking_does_not_change_the_model(make_mixture, covariance_type, init_params):
    """One chunk vs many uneven chunks: the same fit, initialisation included, to 1e-10."""
    X, _ = make_mixture(n=5003, d=4, k=3, seed=1)
    kw = dict(covariance_type=covariance_type, init_params=init_params)
    whole = fit(da.from_array(X, chunks=(-1, -1)), **kw)
    uneven = fit(da.from_array(X, chunks=((1000, 1, 2000, 1500, 502), (2, 2))), **kw)
    assert_close(uneven, whole, 1e-10)


def test_numpy_and_dask_are_bit_identical_for_the_same_chunks(make_mixture):
    X, _ = make_mixture(n=3000, d=3, k=3, seed=2)
    rows = 700
    ours = GaussianMixture(3, random_state=0, n_init=2)
    a = ours.fit(X).__dict__.copy()
    passes = InMemoryPasses(X, chunk_rows=rows)
    assert len(passes.bounds) == 5
    passes.close()
    # Same chunk boundaries through the Dask engine, on the threaded scheduler.
    spec = InitSpec(3, "full")
    results = []
    for source in (InMemoryPasses(X, chunk_rows=rows), DaskPasses(da.from_array(X, (rows, 3)))):
        inits, origin = initialize(source, spec, 42, 2)
        out = run_em(
            lambda m, s=source, o=origin: s.run(m, o),
            GaussianMLE("full", 1e-6),
            inits,
            origin,
            tol=1e-8,
            max_iter=30,
        )
        source.close()
        results.append(out)
    for r_np, r_dask in zip(*results, strict=True):
        np.testing.assert_array_equal(r_np.params.means, r_dask.params.means)
        np.testing.assert_array_equal(r_np.params.covariances, r_dask.params.covariances)
        assert r_np.lower_bounds == r_dask.lower_bounds
    assert a["n_iter_"] > 0


def test_reruns_are_bit_identical(make_mixture):
    X, _ = make_mixture(n=4000, d=3, k=4, seed=3)
    Xd = da.from_array(X, chunks=(600, -1))
    assert_identical(fit(Xd, n_components=4, n_init=3), fit(Xd, n_components=4, n_init=3))
    assert_identical(fit(X, n_components=4, n_init=3), fit(X, n_components=4, n_init=3))


def test_restarts_share_every_pass(make_mixture):
    """n_init restarts are one batch: each pass serves all of them, and each restart is
    exactly what it would be alone."""
    X, _ = make_mixture(n=2000, d=3, k=3, seed=4)
    passes = InMemoryPasses(X)
    inits, origin = initialize(passes, InitSpec(3, "full", "random"), 7, 3)
    calls = []

    def counted(models):
        calls.append(len(models))
        return passes.run(models, origin)

    family = GaussianMLE("full", 1e-6)
    batch = run_em(counted, family, inits, origin, tol=0.0, max_iter=8)
    assert calls == [3] * 8
    for init, together in zip(inits, batch, strict=True):
        (alone,) = run_em(
            lambda m: passes.run(m, origin), family, [init], origin, tol=0.0, max_iter=8
        )
        np.testing.assert_array_equal(alone.params.means, together.params.means)
        assert alone.lower_bounds == together.lower_bounds
    passes.close()


def test_converged_restarts_leave_the_batch(make_mixture):
    X, _ = make_mixture(n=2000, d=2, k=2, seed=5)
    passes = InMemoryPasses(X)
    inits, origin = initialize(passes, InitSpec(2, "diag", "random"), 1, 4)
    sizes = []
    results = run_em(
        lambda m: sizes.append(len(m)) or passes.run(m, origin),
        GaussianMLE("diag", 1e-6),
        inits,
        origin,
        tol=1e-3,
        max_iter=200,
    )
    passes.close()
    assert all(r.converged for r in results)
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-1] < sizes[0]
    assert len(sizes) == max(r.n_iter for r in results)


def test_tree_reduce_order_is_fixed():
    seen = []

    def combine(*xs):
        seen.append(xs)
        return sum(xs)

    assert tree_reduce(list(range(20)), combine) == sum(range(20))
    assert seen[0] == tuple(range(8))
    assert seen[-1] == (28, 92, 70)


def test_inference_stays_lazy_on_dask(make_mixture):
    X, _ = make_mixture(n=3000, d=3, k=3, seed=6)
    Xd = da.from_array(X, chunks=(512, 2))
    gm = fit(X)
    for method, shape in [("predict", (3000,)), ("predict_proba", (3000, 3))]:
        lazy = getattr(gm, method)(Xd)
        assert isinstance(lazy, da.Array)
        assert lazy.shape == shape
        np.testing.assert_allclose(lazy.compute(), getattr(gm, method)(X), rtol=1e-12)
    lazy = gm.score_samples(Xd)
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), gm.score_samples(X), rtol=1e-12)
    assert gm.score(Xd) == pytest.approx(gm.score(X), rel=1e-12)
    assert gm.bic(Xd) == pytest.approx(gm.bic(X), rel=1e-12)
    labels = GaussianMixture(3, random_state=0).fit_predict(Xd)
    assert isinstance(labels, da.Array)


def test_fit_computes_once_per_pass(make_mixture):
    """A fit on dask input triggers one compute per data pass, never one per chunk."""
    X, _ = make_mixture(n=2000, d=2, k=2, seed=7)
    Xd = da.from_array(X, chunks=(250, -1))
    computes = []

    def counting_get(dsk, keys, **kwargs):
        computes.append(keys)
        return dask.threaded.get(dsk, keys, **kwargs)

    with dask.config.set(scheduler=counting_get):
        gm = GaussianMixture(2, init_params="random", random_state=0, persist=False).fit(Xd)
    # init: the origin rows and one random-responsibility pass; then one per EM iteration.
    assert len(computes) == 2 + gm.n_iter_


@pytest.mark.cluster
@pytest.mark.parametrize("covariance_type", TYPES)
def test_same_model_on_one_and_two_worker_processes(
    make_mixture, cluster1, cluster2, covariance_type
):
    X, _ = make_mixture(n=6000, d=4, k=3, seed=8)
    Xd = da.from_array(X, chunks=(800, -1))
    kw = dict(covariance_type=covariance_type, n_init=2)
    one = fit(Xd, client=cluster1, **kw)
    two = fit(Xd, client=cluster2, **kw)
    local = fit(Xd, **kw)  # threaded scheduler in this process
    assert_identical(one, two)
    assert_identical(one, local)


@pytest.mark.cluster
def test_persisted_and_streamed_fits_agree(make_mixture, cluster2):
    X, _ = make_mixture(n=6000, d=3, k=3, seed=9)
    Xd = da.from_array(X, chunks=(1000, -1))
    persisted = fit(Xd, client=cluster2, persist=True)
    streamed = fit(Xd, client=cluster2, persist=False)
    assert_identical(persisted, streamed)
    # the active client is used when none is given
    with cluster2.as_current():
        assert_identical(fit(Xd), persisted)


@pytest.mark.cluster
def test_numpy_input_moves_to_a_given_cluster(make_mixture, cluster2):
    """In-memory data are scattered to the workers by chunk, never embedded in a graph
    (dask warns about graphs holding large objects, and warnings are errors here)."""
    X, _ = make_mixture(n=400_000, d=8, k=3, seed=10)  # 25.6 MB
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    kw = dict(n_components=3, random_state=0, max_iter=4, tol=0)
    on_cluster = GaussianMixture(client=cluster2, **kw).fit(X, sample_weight=w)
    assert_close(on_cluster, GaussianMixture(**kw).fit(X, sample_weight=w), 1e-10)


@pytest.mark.cluster
def test_scheduler_address_string(make_mixture, cluster2):
    X, _ = make_mixture(n=2000, d=2, k=2, seed=11)
    Xd = da.from_array(X, chunks=(500, -1))
    by_address = fit(Xd, client=cluster2.scheduler.address, n_components=2)
    assert_identical(by_address, fit(Xd, client=cluster2, n_components=2))


def test_verbose_reports_each_iteration(make_mixture, capsys):
    X, _ = make_mixture(n=1000, d=2, k=2, seed=12)
    gm = GaussianMixture(2, random_state=0, verbose=2, verbose_interval=1, tol=1e-4).fit(X)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Fitting 1 initialisation(s) on 1000 rows"
    progress = [line for line in out if "iteration" in line and "mean log-likelihood" in line]
    assert len(progress) == gm.n_iter_
    assert progress[0].startswith("  init 0 iteration 1: mean log-likelihood ")
    assert out[-1].startswith(f"Converged after {gm.n_iter_} iterations")


def test_concurrent_fits_share_the_blas_limit(make_mixture):
    """Overlapping fits (threads, a threaded grid search) run with single-threaded BLAS, and
    the process gets its own setting back when the last one ends, not before."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    X, _ = make_mixture(n=1000, d=2, k=2, seed=13)
    with threadpool_limits(2, user_api="blas"):
        first, second = InMemoryPasses(X), InMemoryPasses(X)
        assert blas_threads() == {1}
        first.close()
        assert blas_threads() == {1}  # the second fit still runs
        second.close()
        assert blas_threads() == {2}


def test_chunk_task_statistics_do_not_depend_on_the_blas_threads(make_mixture):
    """A chunk task gives the same bits on a worker whose BLAS runs two threads (one started
    without a nanny, or by another launcher) as on one with a single thread: OpenBLAS rounds
    a float32 GEMM differently when it splits it over two threads, so a chunk recomputed on
    such a worker after a loss changed the model (issue 11, item 5)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from distgmm import GaussianParams
    from distgmm.engine import _chunk_task
    from distgmm.families.gaussian import full
    from distgmm.families.gaussian.kernel import prepare_em, representable_origin

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    X, labels = make_mixture(n=4096, d=16, k=8, seed=14, dtype=np.float32)
    means = np.stack([X[labels == k].mean(axis=0, dtype=np.float64) for k in range(8)])
    covariances = np.stack([np.cov(X[labels == k].T.astype(np.float64)) for k in range(8)])
    params = GaussianParams.from_covariances("full", np.full(8, 1 / 8), means, covariances)
    origin = representable_origin(means.mean(axis=0), X.dtype)
    shared = ([prepare_em(params, origin)], origin)
    assert full.accepts_float32(shared[0][0].mats)  # the E-step runs in float32
    with threadpool_limits(1, user_api="blas"):
        (expected,) = _chunk_task(0, shared, X)
    with threadpool_limits(2, user_api="blas"):
        (got,) = _chunk_task(0, shared, X)
        assert blas_threads() == {2}  # the worker's own setting is back after the task
    for name in ("nk", "sx", "sxx"):
        np.testing.assert_array_equal(getattr(got, name), getattr(expected, name), name)
    assert got.loglik == expected.loglik
