"""The client of a local cluster that distgmm started: closing it closes the cluster too.

Kept apart from :mod:`distgmm.cluster`, which must not import ``distributed`` (numpy-only
use of distgmm never needs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from distributed import Client, LocalCluster

__all__ = ["LocalClusterClient"]

#: Seconds a worker process gets to exit once its worker has closed. distributed's own
#: close kills it after 4 s, logging a warning: a worker process that imported
#: scikit-learn, pandas and pyarrow took longer than that to exit on a busy machine.
WORKER_EXIT_SECONDS = 30.0


class LocalClusterClient(Client):
    """A ``distributed.Client`` that owns its ``LocalCluster``, closed with it.

    Usable as a context manager (``with local_client() as client:``) or as a plain client
    (``client = local_client(); ...; client.close()``). Closing closes this client, then
    the workers, waiting for their processes to end, then the scheduler: a worker's
    heartbeat never finds its scheduler gone, and no process is killed for being slow.
    """

    def __init__(self, cluster: LocalCluster, **kwargs) -> None:
        self._owned_cluster = cluster
        super().__init__(cluster, **kwargs)

    def close(self, *args, **kwargs):
        cluster, self._owned_cluster = getattr(self, "_owned_cluster", None), None
        try:
            return super().close(*args, **kwargs)
        finally:
            # At interpreter exit (a client never closed, collected) the cluster's loop may be
            # gone: distributed's own exit handler closes the cluster then.
            if cluster is not None and not sys.is_finalizing():
                close_cluster(cluster)


def close_cluster(cluster: LocalCluster, timeout: float = WORKER_EXIT_SECONDS) -> None:
    """Close the workers of ``cluster`` (their processes ended), then the cluster itself."""

    async def close_workers() -> None:
        workers = list(cluster.workers.values())
        await asyncio.gather(*(w.close(timeout=timeout) for w in workers), return_exceptions=True)

    if cluster.status.name in ("closing", "closed"):
        return
    # Failing that, the cluster's own close still ends every process; its warnings are then
    # the better report.
    with contextlib.suppress(Exception):
        cluster.sync(close_workers)
    cluster.close()
