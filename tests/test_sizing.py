"""The passes' working set: the chunk pass's scratch, and the persist decision it feeds."""

from __future__ import annotations

import subprocess
import sys

import dask.array as da
import numpy as np
import pytest

from distgmm import local_client
from distgmm._sizing import WORKER_BASELINE_BYTES, fit_scratch_bytes, pass_scratch_bytes
from distgmm.engine import DaskPasses
from distgmm.families.gaussian.kernel import GaussianKernel

_PEAKS = """
import sys, tracemalloc
import numpy as np
from distgmm.core.chunk import chunk_summaries
from distgmm.engine import single_threaded_blas
from distgmm.families.gaussian.kernel import prepare_em
from distgmm.families.gaussian.params import GaussianParams

d, k = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
covariances = np.broadcast_to(np.eye(d), (k, d, d)).copy()
params = GaussianParams.from_covariances(
    "full", np.full(k, 1.0 / k), rng.standard_normal((k, d)), covariances
)
model = prepare_em(params, np.zeros(d))
with single_threaded_blas():  # as a chunk task runs it
    for rows in map(int, sys.argv[3:]):
        X = rng.standard_normal((rows, d))
        tracemalloc.start()
        chunk_summaries(X, [model], np.zeros(d))
        print(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
"""


def _peaks(d: int, k: int, rows: tuple[int, ...]) -> list[int]:
    """Peak bytes the pass allocates beyond its input, per chunk size, measured in a fresh
    process (no other thread's allocations traced)."""
    args = [sys.executable, "-c", _PEAKS, str(d), str(k), *map(str, rows)]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=300)
    return [int(line) for line in out.stdout.split()]


@pytest.mark.parametrize(
    ("d", "k", "want"),
    [
        # narrow: blocks of 4096 rows (K*D = 25 values a row is far below the 2 MiB aim);
        # shifted block 4096*5, work 4096*25, log-probabilities and entropy 2*4096*5,
        # moments 5*5*6, temporaries 4096*(5 + 2*5 + 4): float64 values.
        (5, 5, 8 * (4096 * 5 + 4096 * 25 + 2 * 4096 * 5 + 5 * 5 * 6 + 4096 * 19)),
        # wide: K*D = 1024 values a row, blocks of 2 MiB / (8 * 1024) = 256 rows.
        (64, 16, 8 * (256 * 64 + 256 * 1024 + 2 * 256 * 16 + 16 * 64 * 65 + 256 * 148)),
    ],
)
def test_scratch_of_narrow_and_wide_data(d, k, want):
    assert fit_scratch_bytes("full", k, d, np.float64, 1) == want


@pytest.mark.parametrize(("d", "k"), [(5, 5), (64, 16)])
def test_scratch_bounds_the_chunk_pass_whatever_its_rows(d, k):
    """The pass's own allocations (tracemalloc) stay under the rule's scratch, and do not
    grow with the chunk's rows: the per-row scratch lives one row block at a time."""
    scratch = pass_scratch_bytes([(GaussianKernel("full", "full"), k, False)], d, np.float64)
    peaks = _peaks(d, k, (20_000, 80_000))
    assert max(peaks) <= scratch < 1.5 * min(peaks)
    # (K, rows) responsibilities of the whole chunk would add 60_000 * K * 8 bytes or more
    assert abs(peaks[1] - peaks[0]) < 0.01 * peaks[0]


@pytest.fixture(scope="module")
def small_workers():
    """Two single-threaded workers of 500 MB each, as the issue's report had."""
    with local_client(
        n_workers=2, threads_per_worker=1, memory_limit="500MB", dashboard_address=":0"
    ) as client:
        yield client


@pytest.mark.cluster
def test_narrow_data_are_streamed_on_small_workers(small_workers):
    """262 MB of 5-feature rows, K=5, in 64 MiB chunks on 2 x 500 MB workers: persisting put
    each worker at 80 % of its limit and paused it every pass (measured); now the working set
    (worker baseline + 2 chunks held + one chunk's read buffers + scratch) is counted
    against distributed's target fraction (0.6) and the data are streamed."""
    rows = 64 * 2**20 // (5 * 8)
    X = da.random.RandomState(0).standard_normal((6_550_000, 5), chunks=(rows, 5))
    scratch = fit_scratch_bytes("full", 5, 5, X.dtype, 1)
    held = 2 * rows * 5 * 8  # four chunks, two per worker
    reading = 2 * rows * 5 * 8  # the chunk being read, twice more in read buffers
    assert WORKER_BASELINE_BYTES + held + reading + scratch > 0.6 * 500e6
    passes = DaskPasses(X, client=small_workers, scratch=scratch)
    try:
        assert not passes.persisted
    finally:
        passes.close()


@pytest.mark.cluster
def test_data_that_fit_are_persisted(small_workers):
    """5 MB on the same workers: room for the chunks, their reads and the scratch."""
    X = da.random.RandomState(0).standard_normal((125_000, 5), chunks=(31_250, 5))
    passes = DaskPasses(
        X, client=small_workers, scratch=fit_scratch_bytes("full", 5, 5, X.dtype, 1)
    )
    try:
        assert passes.persisted
    finally:
        passes.close()


@pytest.mark.cluster
def test_streamed_chunks_too_large_for_the_workers_warn(small_workers, caplog):
    """128 MiB chunks read 3x their size: with a worker's process, above the fraction of its
    limit at which it is restarted; 32 MiB chunks do not warn."""
    rows = 128 * 2**20 // (5 * 8)
    X = da.random.RandomState(0).standard_normal((4 * rows, 5), chunks=(rows, 5))
    with caplog.at_level("WARNING", logger="distgmm._sizing"):
        DaskPasses(X, client=small_workers, persist=False).close()
    assert "Use smaller chunks (chunk_bytes= of the readers, --chunk-mb)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="distgmm._sizing"):
        DaskPasses(X.rechunk((rows // 4, 5)), client=small_workers, persist=False).close()
    assert not caplog.text


# ---- prediction outputs: K values a row, bounded per chunk ----


@pytest.fixture(scope="module")
def wide_model():
    from distgmm import GaussianMixture

    X = np.random.default_rng(0).normal(size=(400, 2)).astype(np.float32)
    return GaussianMixture(50, covariance_type="diag", max_iter=200, random_state=0).fit(X)


def test_lazy_probabilities_come_in_chunks_of_bounded_bytes(wide_model):
    # one 64 MiB chunk of 2 float32 features: its 50 probabilities a row are 3.4 GB whole
    X = da.zeros((8_388_608, 2), dtype=np.float32, chunks=(8_388_608, 2))
    for proba in (wide_model.predict_proba(X), wide_model._estep(X, "log_prob")):
        assert max(proba.chunks[0]) * 50 * 8 <= 64 * 2**20
        assert sum(proba.chunks[0]) == len(X)
        assert len(proba.chunks[0]) == -(-len(X) // (64 * 2**20 // 400))  # as few as that
    assert wide_model.predict(X).chunks[0] == X.chunks[0]  # 8 bytes a row: left whole


def test_outputs_split_or_written_in_parts_equal_the_whole(wide_model, tmp_path, monkeypatch):
    import pyarrow.parquet as pq
    import zarr

    import distgmm._sizing

    rng = np.random.default_rng(1)
    X = rng.normal(size=(1000, 2)).astype(np.float32)
    want_proba, want_labels = wide_model.predict_proba(X), wide_model.predict(X)
    want_scores = wide_model.score_samples(X)
    monkeypatch.setattr(distgmm._sizing, "OUTPUT_CHUNK_BYTES", 8 * 52 * 150)  # 150 rows
    lazy = da.from_array(X, chunks=(400, 2))
    proba = wide_model.predict_proba(lazy)
    assert proba.chunks[0] == (134, 133, 133, 134, 133, 133, 100, 100)
    np.testing.assert_array_equal(proba.compute(), want_proba)
    zarr_out = wide_model.write_predictions(lazy, tmp_path / "out.zarr", proba=True)
    group = zarr.open_group(zarr_out, mode="r")
    assert group["probabilities"].chunks[0] <= 150
    np.testing.assert_array_equal(group["probabilities"][:], want_proba)
    np.testing.assert_array_equal(group["labels"][:], want_labels)
    out = wide_model.write_predictions(
        lazy, tmp_path / "out.parquet", proba=True, log_likelihood=True
    )
    parts = sorted((tmp_path / "out.parquet").glob("part-*.parquet"))
    assert [pq.ParquetFile(p).metadata.num_row_groups for p in parts] == [3, 3, 2]
    table = pq.read_table(out).to_pandas()
    np.testing.assert_array_equal(table["label"], want_labels)
    np.testing.assert_array_equal(table["log_likelihood"], want_scores)
    np.testing.assert_array_equal(table[[f"proba_{k}" for k in range(50)]], want_proba)
