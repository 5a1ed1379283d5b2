"""A cluster that lost every worker ends distgmm's waits after the no-workers timeout, where
they hung for ever (issue 18, item 3): :class:`~distgmm.errors.NoWorkerError` in the
library, exit 4 and one line in the command line, in every phase of the work.

The cluster is a ``dask scheduler`` process started without any no-workers timeout, as a
cluster distgmm does not control, and one ``dask worker`` process (a nanny and its worker),
killed with its nanny so that nothing restarts it. Processes from ``test_deploy``'s helpers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dask
import numpy as np
import pytest
import zarr
from distributed import Client
from test_cli import distgmm_command
from test_deploy import (
    Processes,
    compose_command,
    free_port,
    localize,
    processes,  # noqa: F401 (the fixture)
    wait_for_iteration,
)

import distgmm
from distgmm import GaussianMixture, read_zarr
from distgmm.engine import DaskPasses
from distgmm.errors import NoWorkerError

pytestmark = pytest.mark.cluster

#: Short, so that a test waits a few seconds; main waited for ever (the tests' timeout).
NO_WORKERS = {"distributed.scheduler.no-workers-timeout": "2s"}


@pytest.fixture(scope="module")
def points(tmp_path_factory, make_mixture) -> Path:
    X, _ = make_mixture(n=4000, d=3, k=3, seed=5)
    path = tmp_path_factory.mktemp("data") / "points.zarr"
    zarr.create_array(path, shape=X.shape, chunks=(1000, 3), dtype=X.dtype)[:] = X
    return path


@pytest.fixture(scope="module")
def scheduler(processes) -> str:  # noqa: F811
    port = free_port()
    processes.start(localize(compose_command("scheduler"), port=port))
    address = f"tcp://127.0.0.1:{port}"
    with Client(address, timeout=60):
        pass  # up
    return address


@pytest.fixture
def worker(processes, scheduler):  # noqa: F811
    """The only worker of ``scheduler``, for the test to kill."""
    proc = processes.start(localize(compose_command("worker"), address=scheduler))
    with Client(scheduler, timeout=60) as client:
        client.wait_for_workers(1, timeout=120)
    yield proc
    Processes.kill(proc)


def _killing_first_call(monkeypatch, method: str, worker: subprocess.Popen) -> None:
    """``DaskPasses.<method>`` kills the worker (nanny and all) before its first call runs."""
    original = getattr(DaskPasses, method)

    def killing(self, *args, **kwargs):
        if worker.poll() is None:
            Processes.kill(worker)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DaskPasses, method, killing)


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("phase", "method", "init"),
    [
        ("the k-means sample", "take", {}),
        ("a Lloyd pass", "run", {}),
        ("an EM pass", "run", {"means_init": [[0.0] * 3, [1.0] * 3, [2.0] * 3]}),
    ],
)
def test_fit_on_a_cluster_without_workers_raises(
    phase, method, init, points, scheduler, worker, monkeypatch
):
    _killing_first_call(monkeypatch, method, worker)
    with Client(scheduler, timeout=60) as client, dask.config.set(NO_WORKERS):
        gm = GaussianMixture(3, random_state=0, client=client, **init)
        with pytest.raises(NoWorkerError, match=r"no worker for 2 s .*no-workers-timeout"):
            gm.fit(read_zarr(points))


@pytest.mark.timeout(240)
def test_predictions_on_a_cluster_without_workers_raise(points, scheduler, worker, tmp_path):
    with Client(scheduler, timeout=60) as client:
        X = read_zarr(points)
        gm = GaussianMixture(3, random_state=0, client=client, max_iter=5).fit(X)
        Processes.kill(worker)
        with dask.config.set(NO_WORKERS), pytest.raises(NoWorkerError):
            gm.write_predictions(X, tmp_path / "labels.zarr")
        with dask.config.set(NO_WORKERS), pytest.raises(NoWorkerError):
            gm.score(X)
    assert not (tmp_path / "labels.zarr").exists()  # no partial output


@pytest.mark.timeout(300)
def test_cli_fit_exits_4_once_the_cluster_has_no_workers(points, scheduler, worker, tmp_path):
    checkpoint = tmp_path / "fit.ckpt"
    argv = [*distgmm_command(), "fit", str(points), "-k", "3", "--out", str(tmp_path / "m.npz")]
    argv += ["--scheduler", scheduler, "--checkpoint", str(checkpoint), "--tol", "0"]
    argv += ["--max-iter", "100000"]
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT": "2s"}
    fit = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for_iteration(checkpoint, 1, fit)  # mid-fit, in the EM passes
        Processes.kill(worker)
        _, stderr = fit.communicate(timeout=200)
    finally:
        if fit.poll() is None:
            fit.kill()
            fit.wait()
    assert fit.returncode == 4, stderr
    assert "Traceback" not in stderr
    last = stderr.splitlines()[-1]
    assert last.startswith(f"distgmm: error: the Dask scheduler at {scheduler} had no workers"), (
        stderr
    )
    assert "no-workers-timeout" in last
    assert f"the checkpoint {checkpoint}" in last
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.timeout(120)
def test_local_client_fails_tasks_without_workers():
    """The scheduler of ``local_client`` has the timeout too: a computation that is not
    distgmm's (``gm.predict(X).compute()``) ends as well, with distributed's error."""
    from distributed.scheduler import NoWorkerError as SchedulerNoWorkerError

    with (
        dask.config.set(NO_WORKERS),
        distgmm.local_client(0, dashboard_address=None) as client,
        pytest.raises(SchedulerNoWorkerError),
    ):
        client.submit(np.ones, 3, pure=False).result()
    with distgmm.local_client(0, dashboard_address=None) as client:
        seconds = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.no_workers_timeout)
        assert seconds == 122  # the default when Dask's setting is unset, and two polls


def _times_out() -> None:
    raise TimeoutError("the task's own")


@pytest.mark.timeout(120)
def test_a_tasks_own_timeout_error_is_raised_as_it_is(cluster1):
    from dask import delayed

    from distgmm._waits import compute

    with dask.config.set(NO_WORKERS), pytest.raises(TimeoutError, match="the task's own"):
        compute(cluster1, delayed(_times_out)(dask_key_name="times-out"))


FIT_WITHOUT_WORKERS = """
import sys
import distgmm
from distgmm import GaussianMixture, read_zarr
from distgmm.errors import NoWorkerError

with distgmm.local_client(0, dashboard_address=None) as client:
    try:
        GaussianMixture(3, client=client).fit(read_zarr(sys.argv[1]))
    except NoWorkerError as err:
        print(err)
"""


@pytest.mark.timeout(180)
def test_local_cluster_without_workers_is_one_error_not_a_log_per_task(points):
    """distgmm's wait gives up before the scheduler of ``local_client`` fails the tasks,
    which it logs task by task."""
    result = subprocess.run(
        [sys.executable, "-c", FIT_WITHOUT_WORKERS, str(points)],
        capture_output=True,
        text=True,
        timeout=170,
        env={**os.environ, "DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT": "2s"},
    )
    assert result.returncode == 0, result.stderr
    assert "had no worker for 2 s" in result.stdout
    assert "marked as failed" not in result.stderr, result.stderr
