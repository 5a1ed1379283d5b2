"""``distgmm.local_client()``: a client with or without a ``with`` block, whose closing ends
its worker processes, without the warnings and tracebacks of distributed's own shutdown
(issue 18, item 8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from distributed import Client
from test_cli import distgmm_command

from distgmm import local_client

pytestmark = pytest.mark.cluster

#: A worker process that takes 5 s to exit, in Dask's configuration as an environment variable.
SLOW_EXIT = {
    "DASK_DISTRIBUTED__WORKER__PRELOAD": repr([str(Path(__file__).with_name("_slow_exit.py"))])
}
#: What distributed's own shutdown printed (issue 18): a worker process killed for being
#: slow to exit, and a worker's heartbeat to a scheduler already closed.
NOISE = ("still alive", "Traceback", "CommClosedError", "heartbeat")


def _running(pids: list[int]) -> list[int]:
    return [
        pid
        for pid in pids
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]


def test_local_client_without_a_with_block():
    client = local_client(1, dashboard_address=None)
    assert isinstance(client, Client)
    pids = list(client.run(os.getpid).values())
    assert _running(pids) == pids
    client.close()
    assert client.status == "closed"
    assert _running(pids) == []


def test_local_client_as_a_context_manager():
    with local_client(1, dashboard_address=None) as client:
        assert isinstance(client, Client)
        pids = list(client.run(os.getpid).values())
        assert client.submit(sum, [1, 2]).result() == 3
    assert _running(pids) == []


SCRIPT = """
import distgmm
with distgmm.local_client(2, dashboard_address=None) as client:
    print(client.submit(sum, [1, 2]).result())
"""


@pytest.mark.timeout(300)
def test_closing_is_quiet_with_workers_slow_to_exit():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=280,
        env={**os.environ, **SLOW_EXIT},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3"]
    assert not [line for line in result.stderr.splitlines() if any(n in line for n in NOISE)], (
        result.stderr
    )


@pytest.mark.timeout(300)
def test_cli_local_cluster_shuts_down_quietly(tmp_path):
    """``demo`` runs on ``local_client``'s defaults, as a library script does."""
    result = subprocess.run(
        [*distgmm_command(), "demo", "--rows", "2000", "--components", "2", "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=tmp_path,
        env={**os.environ, **SLOW_EXIT},
    )
    assert result.returncode == 0, result.stderr
    assert not [line for line in result.stderr.splitlines() if any(n in line for n in NOISE)], (
        result.stderr
    )


NEVER_CLOSED = """
import os
import distgmm
client = distgmm.local_client(1, dashboard_address=None)
print(*client.run(os.getpid).values())
"""


@pytest.mark.timeout(200)
def test_a_client_never_closed_ends_with_the_interpreter():
    """Collected at exit, it must not wait on the cluster's loop, already stopped."""
    result = subprocess.run(
        [sys.executable, "-c", NEVER_CLOSED], capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    assert _running([int(pid) for pid in result.stdout.split()]) == []
    assert "Traceback" not in result.stderr, result.stderr
