"""Writing an ``.npz`` file atomically: model files and checkpoints share this."""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

import numpy as np


def save_npz_atomic(path: str | os.PathLike[str], members: dict[str, np.ndarray], what: str):
    """Write ``members`` to ``path`` through a temporary file renamed over it.

    A process killed at any moment leaves the previous file or the new one, never a part.
    ``what`` names the file in errors ("the model", "the checkpoint").
    """
    target = Path(path)
    if not target.name:  # "/", ".": nothing to name the temporary file after
        raise IsADirectoryError(errno.EISDIR, f"Cannot save {what}: is a directory", str(target))
    # os.open with mode 0o666 rather than tempfile: the umask then applies as for any
    # new file, where tempfile's 0o600 would survive the rename.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(temporary, flags, 0o666)
    except OSError as err:
        # Name the file being saved, not the temporary one the user never asked for.
        raise type(err)(
            err.errno, f"Cannot save {what} to {target}: {err.strerror}", str(target.parent)
        ) from err
    try:
        with os.fdopen(fd, "wb") as fh:
            # A file object, not a path: np.savez would append ".npz" to a path without it.
            np.savez(fh, **members)
            fh.flush()
            # Data on disk before the rename, so a crash cannot leave an empty file behind
            # the new name.
            os.fsync(fh.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
