"""The ``distgmm`` command line (kept at the edge: the library never imports it).

Subcommands ``fit``, ``predict``, ``score``, ``select``, ``info`` and ``demo``. Results go to
stderr as a few lines for humans, or with ``--json`` to stdout as exactly one JSON object.
Errors are one line on stderr, ``distgmm: error: <message>``, and an exit code:

====  ===============================================================================
0     done
1     the fit failed (singular covariance, empty component), or an unexpected error
2     bad usage or bad input: arguments, missing or invalid data, model or output files
3     the fit did not converge, with ``--require-converged`` (the model is still saved)
4     the cluster failed: its scheduler unreachable or lost, no worker for the no-workers
      timeout, or tasks killed its workers; a checkpoint written so far is left intact
      (rerun with ``--resume``)
130   interrupted (Ctrl-C); a checkpoint written so far is left intact
143   terminated (SIGTERM, as Kubernetes and Slurm stop a job); the checkpoint is left
      intact, and rerunning with ``--resume`` continues
====  ===============================================================================
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from ..errors import FitError
from ._errors import (
    EXIT_CLUSTER,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    ClusterError,
    Terminated,
    UsageError,
    _error,
    _warning,
)
from ._options import _parser

__all__ = ["main"]


#: Input, output and model paths that are missing, taken or unusable: bad input (exit 2).
_PATH_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


#: ``errno`` values of a path that cannot be used as given (too long, a symlink loop, on a
#: read-only file system): bad input too.
_PATH_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.ELOOP, errno.EROFS})


def _exit_code(err: BaseException) -> int:
    if isinstance(err, FitError):  # before ValueError: a FitError is one
        return EXIT_FAILED
    if isinstance(err, (UsageError, ValueError, *_PATH_ERRORS)):
        return EXIT_USAGE
    if isinstance(err, OSError) and err.errno in _PATH_ERRNOS:
        return EXIT_USAGE
    return EXIT_FAILED


def _describe(err: BaseException, code: int) -> str:
    if isinstance(err, OSError) and err.strerror and err.filename:
        return f"{err.strerror}: {err.filename}"
    text = str(err) or type(err).__name__
    if code == EXIT_FAILED and not isinstance(err, FitError):
        # Not one of ours: name it, and say how to see where it came from.
        return f"{type(err).__name__}: {text} (run with --debug for the traceback)"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``distgmm`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code: 0 done, 1 the fit failed (or an unexpected error), 2 bad usage or
        input, 3 not converged with ``--require-converged``, 4 the cluster failed,
        130 interrupted, 143 terminated.
    """
    args = _parser().parse_args(argv)  # --version and --help end here, before numpy and dask
    from ._runtime import _Output

    if args.json and sys.stdout is None:
        _error("--json writes its result to stdout, which is closed; open it, or drop --json")
        return EXIT_USAGE
    out = _Output(args.json)
    try:
        with _terminate_as_interrupt(), _library_warnings(), out.guard():
            return args.func(args, out)
    except Terminated:
        print(f"distgmm: terminated{_checkpoint_kept(args)}", file=sys.stderr, flush=True)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"distgmm: interrupted{_checkpoint_kept(args)}", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except ClusterError as err:
        if args.debug:
            raise
        _error(f"{err}{_checkpoint_kept(args)}")
        return EXIT_CLUSTER
    except Exception as err:
        if args.debug:
            raise
        code = _exit_code(err)
        _error(_describe(err, code))
        return code


@contextlib.contextmanager
def _library_warnings() -> Iterator[None]:
    """The library's logged warnings (chunks too large for the workers, lost chunks sent
    again) as ``distgmm: warning:`` lines on stderr, like the readers' warnings."""
    import logging

    class WarningLines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            _warning(record.getMessage())

    handler = WarningLines(logging.WARNING)
    logger = logging.getLogger("distgmm")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises :class:`Terminated` in the main thread, as Ctrl-C raises its interrupt.

    Without this, SIGTERM ends the process on the spot: no cleanup, no message, and as a
    container's process 1 it would be ignored until the SIGKILL that follows.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        # Once: cleaning up must not be interrupted by a second SIGTERM.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _checkpoint_kept(args) -> str:
    """What to say of the checkpoint of an unfinished command, if it has one."""
    checkpoint = getattr(args, "checkpoint", None)
    if not checkpoint or not os.path.exists(checkpoint):
        return ""
    from ..checkpoint import checkpoint_iteration

    iteration = checkpoint_iteration(checkpoint)
    state = f" (iteration {iteration})" if iteration is not None else ""
    return f"; the checkpoint {checkpoint}{state} is intact, rerun with --resume to continue"
