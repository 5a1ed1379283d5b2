"""A worker preload: the worker process takes 5 s to exit once its worker has closed.

As a worker process does on a busy machine once it has imported scikit-learn, pandas and
pyarrow: distributed's own close kills it after 4 s, with a warning.
"""

import atexit
import time


def dask_setup(worker) -> None:
    atexit.register(time.sleep, 5)
