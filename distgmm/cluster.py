"""Connecting to Dask: the active client, a scheduler address, or a local cluster we start."""

from __future__ import annotations

from typing import Any

import dask

__all__ = ["local_client", "resolve_client"]


#: The ``scheduler`` settings under which dask computes on a distributed client (a default
#: client sets "dask.distributed"); any other (``"threads"``, ``"sync"``, a get function)
#: means this process.
_DISTRIBUTED_SCHEDULERS = (None, "dask.distributed", "distributed")


def resolve_client(client: Any = None):
    """The ``distributed.Client`` to run on, or ``None`` for in-process execution.

    Parameters
    ----------
    client : None, distributed.Client or str
        ``None`` uses the client of the enclosing ``with Client(...)`` or ``get_client()``
        context if there is one, unless Dask is told to use another scheduler
        (``dask.config.set(scheduler="threads")``, ``"sync"``, a get function), as Dask
        itself does; a string is a scheduler address to connect to.

    Returns
    -------
    distributed.Client or None
    """
    if client is None:
        if dask.config.get("scheduler", None) not in _DISTRIBUTED_SCHEDULERS:
            return None
        try:
            from distributed import default_client

            return default_client()
        except (ImportError, ValueError):
            return None
    if isinstance(client, str):
        from distributed import Client

        return Client(client)
    return client


def local_client(
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    memory_limit: str | float | None = "auto",
    **kwargs: Any,
):
    """A ``distributed.Client`` on a local cluster of worker processes, closed with it.

    Use it as a context manager, ``with local_client() as client:``, or as a plain
    client, ``client = local_client()`` then ``client.close()``: either way the worker
    processes end when the client is closed.

    The workers run with ``MALLOC_TRIM_THRESHOLD_`` unset: distributed's default (65536)
    makes every large numpy temporary a fresh mapping and page faults, which measured here
    halved EM speed on worker processes. Tasks left without any worker for
    ``distributed.scheduler.no-workers-timeout`` (2 minutes when unset) fail with
    :class:`~distgmm.errors.NoWorkerError` in distgmm's own computations, and with
    distributed's ``NoWorkerError`` in others.

    Parameters
    ----------
    n_workers : int, optional
        Worker processes; defaults to the number of cores.
    threads_per_worker : int
        Threads per worker process.
    memory_limit : str or float or None
        Per worker, as ``distributed.LocalCluster`` takes it.
    **kwargs
        Passed to ``distributed.LocalCluster``.

    Returns
    -------
    distributed.Client
    """
    from distributed import LocalCluster

    from ._localcluster import LocalClusterClient, close_cluster
    from ._waits import scheduler_config

    # The scheduler reads its no-workers timeout when it starts.
    config = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
    with dask.config.set({**config, **scheduler_config()}):
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=True,
            memory_limit=memory_limit,
            **kwargs,
        )
    try:
        return LocalClusterClient(cluster)
    except BaseException:
        close_cluster(cluster)
        raise
