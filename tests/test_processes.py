"""A real cluster started as processes: ``dask scheduler`` and two ``dask worker``.

This is how a cluster from ``deploy/`` looks to distgmm: it only gets an address.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from distributed import Client

from distgmm import GaussianMixture

pytestmark = pytest.mark.cluster


def _spawn(*args: str) -> subprocess.Popen:
    # Its own session, so the cleanup can signal the process and all its children.
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("dask")), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MALLOC_TRIM_THRESHOLD_": ""},
        start_new_session=True,
    )


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory):
    """Start a scheduler and two workers (1 GiB each); stop every one by its own id after."""
    file = tmp_path_factory.mktemp("cluster") / "scheduler.json"
    procs = []
    try:
        procs.append(
            _spawn(
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(file),
            )
        )
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        worker = (
            "--nthreads",
            "1",
            "--memory-limit",
            "1GiB",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
        )
        procs.extend(_spawn("worker", address, "--name", f"w{i}", *worker) for i in range(2))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        _stop(procs)


def test_fit_on_scheduler_and_worker_processes(make_mixture, scheduler_address):
    X, _ = make_mixture(n=8000, d=4, k=3, seed=0)
    Xd = da.from_array(X, chunks=(1000, -1))
    kw = dict(n_components=3, random_state=0, n_init=2)
    remote = GaussianMixture(client=scheduler_address, **kw).fit(Xd)
    local = GaussianMixture(**kw).fit(Xd)
    for name in ("weights_", "means_", "covariances_", "lower_bounds_"):
        np.testing.assert_array_equal(getattr(remote, name), getattr(local, name))
    with Client(scheduler_address) as client:
        labels = GaussianMixture(client=client, **kw).fit(Xd).predict(Xd).compute()
        # the data were persisted on the workers for the fit and released after it
        deadline = time.monotonic() + 10
        while any(client.who_has().values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(client.who_has().values())
    np.testing.assert_array_equal(labels, local.predict(X))
