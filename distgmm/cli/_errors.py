"""Exit codes and the one-line error report, shared by every module of the command line.

The table of exit codes is in the package docstring; which exception gets which code is
decided in :func:`distgmm.cli.main`.
"""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_CONVERGED = 3
EXIT_CLUSTER = 4
EXIT_INTERRUPTED = 130
#: 128 + SIGTERM, what a shell reports for a process the signal ended: kept, so that a Job's
#: failure policy or a script that expects it need not change.
EXIT_TERMINATED = 143

_ERROR_PREFIX = "distgmm: error: "
_WARNING_PREFIX = "distgmm: warning: "


class UsageError(Exception):
    """Arguments that parse but do not go together; exit code 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (Kubernetes, Slurm, ``docker stop``), raised in the main thread; exit 143.

    A :class:`KeyboardInterrupt`, so that everything cleaning up after Ctrl-C (the
    checkpoint's temporary file, the local cluster) does the same for it.
    """


class ClusterError(Exception):
    """The cluster failed the command (scheduler unreachable or lost, workers gone); exit 4.

    Rerunning the command, with ``--resume`` for a checkpointed fit, may succeed.
    """


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _error(message: str) -> None:
    print(f"{_ERROR_PREFIX}{_one_line(message)}", file=sys.stderr, flush=True)


def _warning(message: str) -> None:
    print(f"{_WARNING_PREFIX}{_one_line(message)}", file=sys.stderr, flush=True)
