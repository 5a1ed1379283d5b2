"""A worker lost mid-fit on a cluster of ``dask`` CLI processes gives the identical model, even
when the worker that recomputes its chunks runs BLAS with other settings (issue 11, item 5).

The processes are started with the recipes' commands by the helpers of ``test_deploy``.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import zarr
from distributed import Client
from test_deploy import (
    PARAMETERS,
    Processes,
    compose_command,
    free_port,
    localize,
    processes,  # noqa: F401 (the fixture)
    wait_for_iteration,
    wait_until_busy,
)
from threadpoolctl import threadpool_info

from distgmm import GaussianMixture, read_zarr

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),  # tol=0
]


def start_worker(started: Processes, address: str, name: str):
    """The compose file's worker command, the worker named ``name``."""
    argv = localize(compose_command("worker"), address=address)
    return started.start([*argv, "--name", name])


def numpy_blas_threads(info: list[dict]) -> int:
    """The thread count of numpy's BLAS in a ``threadpool_info()``."""
    (threads,) = {i["num_threads"] for i in info if "numpy" in i["filepath"]}
    return threads


def test_worker_lost_mid_fit_recomputed_with_threaded_blas(
    processes,  # noqa: F811
    make_mixture,
    tmp_path,
    monkeypatch,
):
    """Two workers started with the recipe's command, one of them from an environment that
    sets ``OPENBLAS_NUM_THREADS=2`` (a nanny keeps what it finds); the other is killed
    mid-fit, and the first recomputes its persisted chunk. float32 data: their E-step is a
    float32 GEMM, which OpenBLAS rounds differently over two threads."""
    X, _ = make_mixture(n=65_536, d=16, k=8, seed=3, dtype=np.float32)
    path = tmp_path / "points.zarr"
    zarr.create_array(path, shape=X.shape, chunks=(32_768, 16), dtype=X.dtype)[:] = X
    X = read_zarr(path, chunk_bytes=2**21)
    assert X.chunks[0] == (32_768, 32_768)  # a chunk for each worker
    means = X[:8000:1000].compute().astype(np.float64)
    kw = dict(covariance_type="full", max_iter=25, tol=0, means_init=means, random_state=0)
    expected = GaussianMixture(8, **kw).fit(X)  # on this process's threads

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = processes.start(localize(compose_command("scheduler"), port=port))
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    single = start_worker(processes, address, "single")  # its nanny sets one BLAS thread
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    threaded = start_worker(processes, address, "threaded")
    failures = []
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
            by_name = {
                w["name"]: a for a, w in client.scheduler_info(n_workers=-1)["workers"].items()
            }
            client.run(exec, "import numpy")  # its BLAS, for threadpool_info to find
            threads = {a: numpy_blas_threads(i) for a, i in client.run(threadpool_info).items()}
            assert threads == {by_name["single"]: 1, by_name["threaded"]: 2}
            gm = GaussianMixture(8, client=client, checkpoint=tmp_path / "ck", **kw)

            def fit():
                try:
                    gm.fit(X)
                except Exception as err:
                    failures.append(err)

            fitting = threading.Thread(target=fit)
            fitting.start()
            try:
                at_kill = wait_for_iteration(tmp_path / "ck", 8, fitting)  # a third of 25
                while by_name["single"] not in wait_until_busy(client, fitting):
                    pass
                Processes.kill(single)
                assert fitting.is_alive()
            finally:
                fitting.join(timeout=300)
            assert set(client.scheduler_info(n_workers=-1)["workers"]) == {by_name["threaded"]}
    finally:
        for proc in (threaded, single, scheduler):
            Processes.kill(proc)
    assert not failures, failures
    assert at_kill < gm.n_iter_ == 25
    for name in PARAMETERS:
        assert np.array_equal(getattr(gm, name), getattr(expected, name)), name
