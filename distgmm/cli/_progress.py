"""The progress bar of a command's fit, on a terminal only."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from ..progress import ProgressBar


@contextlib.contextmanager
def _progress(prefix: str = "") -> Iterator[None]:
    """A progress bar of the fits inside, on stderr, only when stderr is a terminal.

    Elsewhere (a pipeline's or a job's log) nothing: a bar redrawn in place would be a
    line of carriage returns there. The bar is cleared at the end for the summary line.
    """
    if not sys.stderr.isatty():
        yield
        return
    # Until the first iteration (the initialisation takes passes of its own).
    sys.stderr.write(f"\r{prefix}initialising\x1b[K")
    sys.stderr.flush()
    bar = ProgressBar(file=sys.stderr, desc=prefix.rstrip(": "), leave=False, **_size())
    try:
        with bar:
            yield
    finally:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def _size() -> dict[str, int]:
    """A width and height for a terminal that reports none (a new pseudo-terminal, some CI
    runners): tqdm would draw nothing in 0 columns or 0 lines."""
    try:
        columns, lines = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError):
        columns = lines = 0
    return {**({} if columns else {"ncols": 100}), **({} if lines else {"nrows": 20})}
