"""Waiting on a Dask cluster: as long as a computation takes, but not for ever without workers.

A future's ``result()`` waits for ever when every worker has died or left: its tasks stay
queued until a worker joins. A scheduler started with ``distributed.scheduler.no-workers-timeout``
fails such tasks itself, as the local clusters of :func:`distgmm.local_client` are; a running
cluster's scheduler may not be, so every wait of distgmm also watches the number of workers
from the client and gives up after the same time without any.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import dask

from .errors import NoWorkerError, SchedulerLostError

__all__ = ["compute", "no_workers_timeout", "result"]

#: Seconds without any worker after which a wait ends, when Dask's setting is unset (its
#: default, which means for ever).
DEFAULT_NO_WORKERS_TIMEOUT = 120.0
#: How often a wait checks that the cluster still has workers, at most.
_POLL_SECONDS = 1.0
_KEY = "distributed.scheduler.no-workers-timeout"


def no_workers_timeout() -> float:
    """Seconds a computation may wait on a cluster that has no worker.

    ``distributed.scheduler.no-workers-timeout`` in Dask's configuration (also
    ``DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT``), 120 s when it is unset.
    """
    from dask.utils import parse_timedelta

    value = dask.config.get(_KEY, None)
    return DEFAULT_NO_WORKERS_TIMEOUT if value is None else float(parse_timedelta(value))


def scheduler_config() -> dict[str, str]:
    """The setting a scheduler we start needs so that its tasks fail without workers too.

    Two polls later than distgmm's own waits give up: those end first, with one error, where
    the scheduler would log an error for each task it fails.
    """
    timeout = no_workers_timeout()
    return {_KEY: f"{timeout + 2 * _poll_seconds(timeout)}s"}


def _poll_seconds(timeout: float) -> float:
    return min(_POLL_SECONDS, timeout / 4)


def compute(client, collection) -> Any:
    """``collection`` computed on ``client``, waited for with :func:`result`."""
    if client.status != "running":
        # A graph submitted while the client tries to reconnect to a lost scheduler waits
        # out the reconnection timeout (30 s by default), only to be cancelled.
        raise SchedulerLostError(
            f"The Dask client lost its scheduler (client status {client.status!r})."
        )
    return result(client.compute(collection))


def result(future) -> Any:
    """``future.result()``, or :class:`~distgmm.errors.NoWorkerError` once the cluster has
    had no worker for :func:`no_workers_timeout` seconds.

    The future is cancelled then. A client that lost its scheduler is not asked for its
    workers: its futures are cancelled when it gives up reconnecting, and ``result()``
    raises what it raises.
    """
    from distributed.scheduler import NoWorkerError as SchedulerNoWorkerError

    timeout = no_workers_timeout()
    poll = _poll_seconds(timeout)
    alone = _Alone(timeout)
    try:
        while True:
            _wait_until_done(future, poll, alone)
            if future.status in ("error", "cancelled"):  # raised at once
                return future.result()
            try:
                return future.result(timeout=poll)
            except TimeoutError:
                # Done, then 'lost' or rescheduled: its result was on a worker that died
                # before the client fetched it ("Couldn't gather ... rescheduling"), and the
                # task waits for a worker like any other. A task's own TimeoutError is an
                # 'error' status, raised above.
                alone.check(future)
    except SchedulerNoWorkerError as err:  # the scheduler's own timeout came first
        raise NoWorkerError(err.timeout) from err


def _wait_until_done(future, poll: float, alone: _Alone) -> None:
    # Waiting apart from result(): a task's own TimeoutError (a read from a store) must not
    # pass for the end of a poll.
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    while not done.wait(poll):
        alone.check(future)


class _Alone:
    """How long the cluster of a future has had no worker, checked at each poll."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.since: float | None = None

    def check(self, future) -> None:
        """Cancel ``future`` and raise NoWorkerError once the cluster has had no worker
        for the timeout."""
        if _has_workers(future.client):
            self.since = None
            return
        now = time.monotonic()
        self.since = now if self.since is None else self.since
        if now - self.since >= self.timeout:
            future.cancel()
            raise NoWorkerError(self.timeout)


def _has_workers(client) -> bool:
    """Whether the scheduler has a worker, or cannot be asked (then assumed so)."""
    if client.status != "running":
        return True
    try:
        return bool(client.nthreads())
    except OSError:  # the scheduler just went away: the future will say so
        return True
