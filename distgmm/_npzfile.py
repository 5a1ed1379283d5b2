"""Writing an ``.npz`` file atomically: model files and checkpoints share this."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

import numpy as np

from ._ownfiles import local_age, new_tag, rename_noreplace, stale_tags

#: A temporary of another host older than this is a leftover: writing one takes seconds.
STALE_SECONDS = 3600.0

#: Outputs whose folder was cleared of leftover temporaries by this process: a checkpoint is
#: saved every iteration, its folder listed once.
_CLEARED: set[str] = set()


def save_npz_atomic(
    path: str | os.PathLike[str],
    members: dict[str, np.ndarray],
    what: str,
    *,
    overwrite: bool = True,
) -> None:
    """Write ``members`` to ``path`` through a temporary file renamed over it.

    A process killed at any moment leaves the previous file or the new one, never a part;
    the temporary it leaves (``.NAME.HOST-PID-RANDOM.tmp``) is removed by the next save to
    the same path. ``what`` names the file in errors ("the model", "the checkpoint").
    ``overwrite=False`` never replaces a file: a ``path`` that exists, even one created
    while this one was written, raises :class:`FileExistsError` and is left as it is.
    """
    target = Path(path)
    if not target.name:  # "/", ".": nothing to name the temporary file after
        raise IsADirectoryError(errno.EISDIR, f"Cannot save {what}: is a directory", str(target))
    remove_stale_temporaries(target)
    # os.open with mode 0o666 rather than tempfile: the umask then applies as for any
    # new file, where tempfile's 0o600 would survive the rename.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    temporary = target.with_name(f".{target.name}.{new_tag()}.tmp")
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
        if overwrite:
            os.replace(temporary, target)
        else:
            try:
                rename_noreplace(temporary, target)
            except FileExistsError:
                raise FileExistsError(
                    errno.EEXIST,
                    f"Did not save {what}: the path exists (it appeared while {what} was "
                    "written), and is left as it is",
                    str(target),
                ) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def check_writable(path: str | os.PathLike[str], what: str) -> None:
    """Fail now, not after a long fit, if no file can be created in ``path``'s folder.

    Creates and removes a temporary of the name :func:`save_npz_atomic` would use.
    """
    target = Path(path)
    probe = target.with_name(f".{target.name}.{new_tag()}.tmp")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as err:
        raise type(err)(
            err.errno, f"Cannot save {what} to {target}: {err.strerror}", str(target.parent)
        ) from err
    os.close(fd)
    probe.unlink()


def remove_stale_temporaries(target: Path) -> None:
    """Remove the temporaries of writers of ``target`` that were killed (see _ownfiles)."""
    key = os.path.abspath(target)
    if key in _CLEARED:
        return
    _CLEARED.add(key)
    folder = target.parent
    try:
        names = os.listdir(folder)
    except OSError:
        return  # the save itself reports an unusable folder
    prefix = f".{target.name}."
    for name in stale_tags(names, prefix, ".tmp", lambda n: local_age(folder / n), STALE_SECONDS):
        with contextlib.suppress(FileNotFoundError):  # another run removed it first
            (folder / name).unlink()
