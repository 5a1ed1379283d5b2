"""One BLAS thread per task, shared by every pass and chunk task of a process."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

__all__ = ["single_threaded_blas"]


class _SharedBlasLimit:
    """BLAS at one thread while any pass or chunk task of this process runs, restored after
    the last.

    BLAS libraries keep one process-wide thread count, so fits running at the same time
    (threads, a threaded grid search) and the tasks of a worker with several threads share
    one reference-counted limit: none of them restores the setting while another still
    relies on it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._limit = None
        self._controller = None

    @contextmanager
    def __call__(self):
        with self._lock:
            if self._users == 0:
                if self._controller is None:
                    # Found once per process: a new threadpool_limits scans every loaded
                    # library again (~8 ms), too much for each chunk task. numpy's and
                    # scipy's BLAS are loaded by now (the kernels import both).
                    self._controller = ThreadpoolController()
                self._limit = self._controller.limit(limits=1, user_api="blas")
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._limit.restore_original_limits()
                    self._limit = None


#: Two single-threaded BLAS calls on two chunks beat one two-threaded call (measured).
single_threaded_blas = _SharedBlasLimit()


#: Two single-threaded BLAS calls on two chunks beat one two-threaded call (measured).
single_threaded_blas = _SharedBlasLimit()
