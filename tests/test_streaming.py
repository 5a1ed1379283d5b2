"""A dataset larger than the cluster's memory, streamed from Zarr each pass."""

from __future__ import annotations

import os
import threading

import numpy as np
import psutil
import pytest
import zarr

from distgmm import GaussianMixture, local_client, read_zarr

pytestmark = pytest.mark.cluster

MEMORY_LIMIT = 500 * 2**20  # per worker; two workers hold 1000 MiB, the data 1 GiB
N_ROWS, N_FEATURES = 2**24, 16  # float32: 1 GiB


def _start_rss_sampler(dask_worker) -> None:
    """Sample this worker's RSS every 5 ms in a thread (ru_maxrss would include the peak
    of the process that spawned the worker: Linux keeps it across exec)."""
    process = psutil.Process()

    def sample():
        while not stop.is_set():
            dask_worker._test_peak_rss = max(dask_worker._test_peak_rss, process.memory_info().rss)
            stop.wait(0.005)

    stop = threading.Event()
    dask_worker._test_peak_rss = process.memory_info().rss
    dask_worker._test_stop_sampler = stop
    threading.Thread(target=sample, daemon=True).start()


def _peak_rss(dask_worker) -> int:
    dask_worker._test_stop_sampler.set()
    return dask_worker._test_peak_rss


def _disk_writes(dask_worker) -> float:
    metrics = getattr(dask_worker.data, "cumulative_metrics", {})
    return sum(v for k, v in metrics.items() if "disk-write" in str(k))


@pytest.fixture(scope="module")
def big_zarr(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("big") / "x.zarr")
    z = zarr.create_array(
        store=path,
        shape=(N_ROWS, N_FEATURES),
        chunks=(2**18, N_FEATURES),
        dtype="f4",
        compressors=None,
    )
    rng = np.random.default_rng(0)
    centres = np.array([-4.0, 0.0, 4.0], dtype=np.float32)
    slab = 2**20
    for start in range(0, N_ROWS, slab):
        rows = rng.standard_normal((slab, N_FEATURES), dtype=np.float32)
        rows += centres[rng.integers(0, 3, slab)][:, None]
        z[start : start + slab] = rows
    return path


def test_streaming_fit_stays_within_worker_memory(big_zarr):
    X = read_zarr(big_zarr, chunk_bytes=8 * 2**20)
    assert X.nbytes > 2 * MEMORY_LIMIT
    init = {
        "weights_init": np.full(3, 1 / 3),
        "means_init": np.repeat([[-3.0], [0.5], [3.0]], N_FEATURES, axis=1),
        "precisions_init": np.ones((3, N_FEATURES)),
    }
    params = {"covariance_type": "diag", "max_iter": 3, "tol": 0.0, **init}
    with local_client(2, memory_limit=MEMORY_LIMIT, dashboard_address=":0") as client:
        pids = client.run(os.getpid)
        client.run(_start_rss_sampler)
        streamed = GaussianMixture(3, client=client, **params)
        with pytest.warns(UserWarning, match="did not converge"):
            streamed.fit(X)  # persist='auto' streams: 1 GiB > 2 x 0.6 x 1000 MiB
        peaks = client.run(_peak_rss)
        assert client.run(os.getpid) == pids, "a worker was restarted"
        assert sum(client.run(_disk_writes).values()) == 0, "data were spilled to disk"
    # distributed spills from 70% of the limit (and pauses at 80%): never reached
    for worker, peak in peaks.items():
        assert peak < 0.7 * MEMORY_LIMIT, f"{worker} peaked at {peak / 2**20:.0f} MiB"
    in_memory = GaussianMixture(3, **params)
    with pytest.warns(UserWarning, match="did not converge"):
        in_memory.fit(zarr.open_array(big_zarr, mode="r")[:])
    np.testing.assert_allclose(streamed.means_, in_memory.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(streamed.covariances_, in_memory.covariances_, rtol=1e-10)
    np.testing.assert_allclose(streamed.lower_bounds_, in_memory.lower_bounds_, rtol=1e-10)
