"""Files on fsspec file systems (``s3://``, ``gs://``, ...) for model files.

Model files are small, single files: written whole to a temporary name beside the target
and moved onto it (on object stores a move is a copy, and a single object appears whole or
not at all), read through a seekable fsspec file so that every size check of
:mod:`distgmm._safenpz` runs before the bytes it guards are fetched.
"""

from __future__ import annotations

import errno
import io
import os
from typing import Any

import numpy as np

from ._ownfiles import new_tag
from .errors import InvalidInputError


def is_local(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is on this machine's file system: no protocol, or ``file://``."""
    path = os.fspath(path)
    if "://" not in path and "::" not in path:
        return True
    import fsspec  # here: importing distgmm should not import fsspec

    return fsspec.utils.get_protocol(path) in ("file", "local")


def remote_fs(path: str | os.PathLike[str], storage_options: dict[str, Any] | None):
    """``(fs, path within fs)`` for a URL of a non-local file system; ``None`` for a local path."""
    if is_local(path):
        return None
    import fsspec

    try:
        return fsspec.core.url_to_fs(path, **(storage_options or {}))
    except ImportError as err:  # e.g. s3:// without s3fs
        raise InvalidInputError(
            f"Cannot open {path}: {err}. Install the package for that file system, "
            "e.g. pip install s3fs (s3://) or gcsfs (gs://)."
        ) from err


def save_npz_remote(fs, target: str, members: dict[str, np.ndarray], what: str, overwrite: bool):
    """Write ``members`` as an ``.npz`` to ``target`` on ``fs``: whole, or not at all.

    ``overwrite=False`` refuses a ``target`` that exists; the check and the move are two
    requests, so one created in between by someone else is replaced (object stores have no
    rename that refuses to replace).
    """
    buffer = io.BytesIO()
    np.savez(buffer, **members)
    parent, _, name = target.rstrip("/").rpartition("/")
    temporary = f"{parent}/.{name}.{new_tag()}.tmp" if parent else f".{name}.{new_tag()}.tmp"
    if not overwrite and fs.exists(target):
        raise _exists(what, target)
    fs.pipe_file(temporary, buffer.getvalue())
    try:
        if not overwrite and fs.exists(target):
            raise _exists(what, target)
        fs.mv(temporary, target)
    finally:
        if fs.exists(temporary):
            fs.rm(temporary)


def _exists(what: str, target: str) -> FileExistsError:
    return FileExistsError(
        errno.EEXIST, f"Did not save {what}: the path exists, and is left as it is", target
    )
