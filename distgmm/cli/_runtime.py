"""What the commands run in: their output, the progress line, the cluster, and their data.

Output goes to stderr as lines for humans or to stdout as one JSON object (``--json``); the
cluster is a running one or a local one started for the command; data are opened lazily and
output paths checked before any work starts.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import logging
import math
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import dask
import numpy as np

from .. import GaussianMixture, local_client
from .._waits import no_workers_timeout
from ..errors import InvalidInputError, NoWorkerError, SchedulerLostError
from ..io import open_dataset
from ._errors import ClusterError, UsageError, _one_line, _warning


# ---------------------------------------------------------------------------- output
class _Output:
    """Where a command's results go: lines for humans on stderr, or JSON on stdout.

    With ``--json``, anything else a library prints is sent to stderr (see
    :meth:`guard`), so stdout holds exactly one JSON object.
    """

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self._stdout = sys.stdout

    def say(self, text: str) -> None:
        if not self.as_json:
            print(text, file=sys.stderr, flush=True)

    def result(self, record: dict[str, Any]) -> None:
        if self.as_json:
            self._stdout.write(json.dumps(_jsonable(record), allow_nan=False) + "\n")
            self._stdout.flush()

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        if not self.as_json:
            yield
            return
        with contextlib.redirect_stdout(sys.stderr):
            yield


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python ones and non-finite floats as null."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------- cluster
def _dashboard(client) -> str:
    if importlib.util.find_spec("bokeh"):
        return client.dashboard_link
    return "no dashboard (pip install 'bokeh>=3.1' for one)"


@contextlib.contextmanager
def _cluster(args: argparse.Namespace, out: _Output) -> Iterator[Any]:
    """The ``distributed.Client`` a command runs on, closed (with any cluster we started) after.

    ``--scheduler`` connects to a running cluster; without it ``DASK_SCHEDULER_ADDRESS``
    (Dask's ``scheduler-address`` setting) does, unless local cluster options are given;
    otherwise a local cluster of worker processes lives for the duration of the command.
    A scheduler that cannot be reached or is lost, and tasks that keep killing their
    workers, raise :class:`ClusterError`.
    """
    local_options = [args.workers, args.threads_per_worker, args.memory_limit]
    local_given = any(option is not None for option in local_options)
    if args.scheduler and local_given:
        raise UsageError(
            "--scheduler connects to a running cluster; --workers, --threads-per-worker "
            "and --memory-limit configure a local one: give one or the other."
        )
    # dask has no default for this key (KeyError since 2026.8): absent means a local cluster.
    address = args.scheduler or (
        None if local_given else dask.config.get("scheduler-address", None)
    )
    if address:
        with _running_cluster(address) as client:
            out.say(f"cluster: {address}, dashboard {client.dashboard_link}")
            yield client
        return
    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        # Dask's dashboard port taken: the link printed below names the one used instead.
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        with _sigint_ignored():
            client = stack.enter_context(
                local_client(
                    n_workers=args.workers,
                    threads_per_worker=args.threads_per_worker or 1,
                    memory_limit=args.memory_limit or "auto",
                    # The cluster's logs, its workers', nannies' and scheduler's (a task's
                    # failure, a worker killed on closing after one, a heartbeat that timed
                    # out on a loaded machine, with its traceback), would surround the
                    # command's one-line error on its stderr; --debug shows their warnings.
                    silence_logs=logging.WARNING if args.debug else logging.CRITICAL,
                )
            )
        workers = len(client.scheduler_info().get("workers", {}))
        out.say(f"local cluster: {workers} worker process(es), {_dashboard(client)}")
        with _cluster_failures(client, "the local cluster"):
            yield client


@contextlib.contextmanager
def _running_cluster(address: str) -> Iterator[Any]:
    """A client of the scheduler at ``address``, once at least one worker has joined."""
    from distributed import Client

    try:
        client = Client(address)
    except OSError as err:
        raise ClusterError(
            f"cannot reach a Dask scheduler at {address} ({_one_line(str(err))}); start the "
            "cluster (see deploy/ in the distgmm repository) or correct --scheduler or "
            "DASK_SCHEDULER_ADDRESS, then rerun the command"
        ) from err
    try:
        with _cluster_failures(client, f"the Dask scheduler at {address}"):
            # As long as any wait on a cluster without workers (distgmm._waits).
            wait = no_workers_timeout()
            try:
                client.wait_for_workers(1, timeout=wait)
            except TimeoutError:
                raise ClusterError(
                    f"no worker joined the Dask scheduler at {address} within {wait:g} s "
                    f"(distributed.scheduler.no-workers-timeout); start workers (dask worker "
                    f"{address}), then rerun the command"
                ) from None
            yield client
    finally:
        # Closing a client that lost its scheduler cancels its reconnection attempts, which
        # distributed logs as an error with a traceback, and may time out: the one-line
        # error of this command says what happened.
        with _quiet_loggers("distributed", "distributed.client"), contextlib.suppress(Exception):
            client.close(timeout=5)


@contextlib.contextmanager
def _cluster_failures(client, where: str) -> Iterator[None]:
    """Raise :class:`ClusterError`, saying what to do, for what a failing cluster raises.

    That is a lost scheduler, no workers left, and tasks that keep killing their workers.
    """
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError
    from distributed.comm import CommClosedError
    from distributed.scheduler import NoWorkerError as SchedulerNoWorkerError

    try:
        yield
    except KilledWorker as err:
        raise ClusterError(
            f"a task of this command was running on each of the workers that died under it "
            f"({_one_line(str(err))}); workers running out of memory is the usual cause: give "
            "them more (--memory-limit, or the cluster's) or use smaller chunks (--chunk-mb)"
        ) from err
    except (NoWorkerError, SchedulerNoWorkerError) as err:
        raise ClusterError(
            f"{where} had no workers left for {err.timeout:g} s (its no-workers timeout, "
            "distributed.scheduler.no-workers-timeout); rerun the command once it has workers "
            "again"
        ) from err
    except Exception as err:
        lost = isinstance(err, (CommClosedError, SchedulerLostError)) or (
            isinstance(err, FutureCancelledError) and "connection-lost" in err.reason
        )
        if not lost and client.status == "running":
            raise
        raise ClusterError(
            f"lost the connection to {where} ({type(err).__name__}); rerun the command on a "
            "running cluster"
        ) from err


@contextlib.contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes start, so that they inherit that.

    Ctrl-C signals the whole foreground process group: this process handles it (exit 130,
    closing the cluster), where each worker would print its own KeyboardInterrupt traceback.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------------------- data and paths
def _open_data(args: argparse.Namespace):
    """The dataset as a lazy dask array; only metadata is read, so bad input fails fast.

    The readers' warnings (a Zarr store's missing chunks) are one ``distgmm: warning:``
    line each on stderr.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X = open_dataset(
            args.data,
            columns=args.columns if args.column is None else args.column,
            component=args.component,
            chunk_bytes=max(1, int(args.chunk_mb * 2**20)),
            missing_chunks=args.missing_chunks,
            storage_options=args.storage_options,
            missing_values=getattr(args, "nan_policy", "raise") != "raise",
        )
    for warning in caught:
        _warning(str(warning.message))
    return X


def _check_features(gm: GaussianMixture, X, data: str) -> None:
    if X.shape[1] != gm.n_features_in_:
        raise InvalidInputError(
            f"{data} has {X.shape[1]} feature column(s), but the model was fitted on "
            f"{gm.n_features_in_}; select the same features (--columns, --component)."
        )
