"""numpy data on a cluster: scattered to the workers chunk by chunk, and again if lost."""

from __future__ import annotations

import dask.array as da
import numpy as np

__all__ = ["Scattered"]


class Scattered:
    """numpy data sent to the workers chunk by chunk (never embedded in a graph).

    The scattered chunks are the cluster's only copy: a worker that dies takes its chunks
    with it, and the passes that need them fail. This process still has the array, so
    :meth:`send` can scatter them again.
    """

    def __init__(self, client, X: np.ndarray, sample_weight, chunk_bytes: int) -> None:
        rows = max(1, chunk_bytes // max(1, X.shape[1] * X.dtype.itemsize))
        self.bounds = [(s, min(s + rows, len(X))) for s in range(0, len(X), rows)]
        self.client = client
        self.arrays = [X] if sample_weight is None else [X, np.asarray(sample_weight)]
        self.futures: list = []

    def send(self) -> tuple[da.Array, da.Array | None]:
        """Scatter every chunk (again); the dask arrays of the data and the weights."""
        again = bool(self.futures)
        self.futures = []
        out = []
        for array in self.arrays:
            # Fresh keys when sending again: the lost ones may linger in the scheduler.
            futures = self.client.scatter(
                [array[start:stop] for start, stop in self.bounds], hash=not again
            )
            self.futures += futures
            out.append(
                da.concatenate(
                    [
                        da.from_delayed(future, (stop - start, *array.shape[1:]), array.dtype)
                        for future, (start, stop) in zip(futures, self.bounds, strict=True)
                    ]
                )
            )
        return out[0], (out[1] if len(out) > 1 else None)

    def lost(self) -> int:
        """How many scattered chunks no worker holds any more."""
        gone = sum(future.status != "finished" for future in self.futures)
        if gone:
            return gone
        # The client may not have heard yet: ask the scheduler (by key; a future's own
        # methods raise once it is cancelled).
        holders = self.client.who_has([future.key for future in self.futures])
        return sum(not holders.get(future.key) for future in self.futures)
