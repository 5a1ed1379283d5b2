"""Folder outputs (Zarr groups, Parquet folders) written aside and renamed into place.

Names next to an output ``NAME`` in its folder, each tagged ``HOST-PID-RANDOM`` by its writer
(see :mod:`distgmm._ownfiles`):

* ``.NAME.tmp-TAG``: the new output being written; renamed to ``NAME`` once complete.
* ``.NAME.old-TAG``: with ``overwrite``, the previous output moved aside just before that
  rename, and deleted just after it.

A writer killed between the two renames leaves no ``NAME`` but the previous output as
``.NAME.old-TAG``: the next writer of ``NAME`` (or :func:`recover_output`) moves it back.
Leftovers of killed writers are removed by the next writer of the same output; those of
writers still running are never touched.

Object stores (S3, GCS) have no rename: the complete temporary output is copied onto
``NAME`` object by object, Zarr metadata last, and then deleted. Meanwhile a marker
``.NAME.copy-TAG`` says that ``NAME`` may be partial: the next writer of ``NAME`` finishes
the copy of a killed writer from its temporary. ``overwrite`` deletes the old output just
before the copy, with no copy of it aside.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .._ownfiles import new_tag, rename_noreplace, stale_tags
from ._common import url_to_fs

#: A temporary of another host older than this is a leftover. Only its own host can tell a
#: writer is gone; a prediction may write for hours, so a day.
STALE_SECONDS = 24 * 3600.0


@contextmanager
def atomic_output(
    path: str | os.PathLike, overwrite: bool, storage_options: dict[str, Any] | None = None
) -> Iterator[tuple[fsspec.AbstractFileSystem, str]]:
    """A temporary sibling of ``path`` to write into, renamed onto ``path`` on success.

    On failure the temporary output is deleted, and an existing ``path`` is left as it was,
    so a half-written output never sits under the final name. Without ``overwrite`` nothing
    is ever replaced: a ``path`` that exists at the start, or appears while the output is
    written, raises :class:`FileExistsError` naming it, and only the temporary is deleted.
    On object stores a rename is a copy (see the module's docstring); the output then
    appears under its name only once complete, but not atomically, and the check for a
    ``path`` taken meanwhile is not atomic either.

    Yields
    ------
    fs : fsspec.AbstractFileSystem
    tmp : str
        The temporary path within ``fs``, in the same folder as ``path``.
    """
    fs, root = url_to_fs(path, storage_options)
    root = root.rstrip("/")
    parent, name = _split(root)
    _recover(fs, root)
    if fs.exists(root) and not overwrite:
        raise FileExistsError(
            errno.EEXIST, "Output already exists; pass overwrite=True to replace it", root
        )
    tag = new_tag()
    tmp = _join(parent, f".{name}.tmp-{tag}")
    if parent and not fs.exists(parent):
        fs.makedirs(parent, exist_ok=True)
    try:
        yield fs, tmp
        _install(fs, tmp, root, _join(parent, f".{name}.old-{tag}"), overwrite)
    finally:
        if fs.exists(tmp):
            fs.rm(tmp, recursive=True)


def _install(fs, tmp: str, root: str, aside: str, overwrite: bool) -> None:
    """Rename the complete output ``tmp`` to ``root``; with ``overwrite``, replacing it."""
    if not isinstance(fs, LocalFileSystem):
        _install_copy(fs, tmp, root, overwrite)
        return
    if fs.exists(root):
        if not overwrite:
            raise _taken(root)
        _move(fs, root, aside)
        # Killed here, ``root`` is missing and the previous output is ``aside``: the next
        # writer of ``root`` moves it back (recover_output).
    _move(fs, tmp, root, replace=False)
    if fs.exists(aside):
        fs.rm(aside, recursive=True)


def _install_copy(fs, tmp: str, root: str, overwrite: bool) -> None:
    """Copy the complete output ``tmp`` to ``root`` on a file system without renames.

    A marker ``.NAME.copy-TAG`` exists while ``root`` may be partial (the previous output
    deleted, the copy under way): a writer killed then leaves it, and the next writer of
    ``root`` finishes the copy from ``tmp`` (:func:`_recover`).
    """
    head, _, tag = tmp.rpartition(".tmp-")
    marker = f"{head}.copy-{tag}"
    fs.invalidate_cache()
    if fs.exists(root) and not overwrite:
        raise _taken(root)
    fs.pipe_file(marker, b"")
    try:
        if overwrite and fs.exists(root):
            fs.rm(root, recursive=True)
        copy_tree(fs, tmp, root)
    except BaseException:
        with contextlib.suppress(Exception):  # our own partial copy, not an output
            fs.rm(root, recursive=True)
        raise
    finally:
        fs.rm(marker)


def _taken(root: str) -> FileExistsError:
    return FileExistsError(
        errno.EEXIST,
        "Output not written: the path was taken while it was being written (by another "
        "command, or a model saved there), and is left as it is",
        root,
    )


def _move(fs, src: str, dst: str, replace: bool = True) -> None:
    if isinstance(fs, LocalFileSystem):
        if replace:
            os.rename(src, dst)
            return
        try:
            rename_noreplace(src, dst)
        except FileExistsError:
            raise _taken(dst) from None
        return
    if not replace and fs.exists(dst):
        raise _taken(dst)
    copy_tree(fs, src, dst)
    fs.rm(src, recursive=True)


#: Zarr's metadata objects: a store is readable only once its root's metadata exists.
_METADATA = frozenset({"zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata"})


def copy_tree(fs, src: str, dst: str) -> None:
    """Copy every object under ``src`` to the same name under ``dst``, Zarr metadata last.

    An object store has no folders to rename: a move is a copy of each object (fsspec's
    ``mv`` of a prefix fails on S3). Metadata goes last, the root's the very last, so a
    copy cut short holds no root metadata and does not open as a Zarr store.
    """
    fs.invalidate_cache()  # the objects were written by other processes (dask workers)
    files = [f for f in fs.find(src) if f.startswith(f"{src}/")]

    def metadata_last(path: str) -> tuple[bool, int]:
        is_metadata = path.rsplit("/", 1)[-1] in _METADATA
        return is_metadata, -path.count("/") if is_metadata else 0

    for path in sorted(files, key=metadata_last):
        fs.copy(path, dst + path[len(src) :])
    fs.invalidate_cache()


def recover_output(path: str | os.PathLike, storage_options: dict[str, Any] | None = None) -> None:
    """Undo what writers of ``path`` killed mid-way left behind.

    A previous output moved aside by a writer killed before it renamed its new output in
    is moved back (if nothing took ``path`` since; otherwise it was replaced as asked, and
    is deleted); temporary outputs of killed writers are deleted. Only names of the
    pattern of ``path``'s own temporaries, of writers that are gone, are touched.
    """
    fs, root = url_to_fs(path, storage_options)
    _recover(fs, root.rstrip("/"))


def _recover(fs, root: str) -> None:
    parent, name = _split(root)
    if not isinstance(fs, LocalFileSystem):
        fs.invalidate_cache()  # listings cached before other processes wrote
    try:
        entries = fs.ls(parent or ".", detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return
    names = {entry["name"].rstrip("/").rsplit("/", 1)[-1]: entry for entry in entries}
    age = _age_of(names)
    for marker in sorted(stale_tags(names, f".{name}.copy-", "", age, STALE_SECONDS)):
        # A writer killed while copying its complete output in: finish its copy.
        tmp = _join(parent, f".{name}.tmp-{marker[len(f'.{name}.copy-') :]}")
        with contextlib.suppress(FileNotFoundError):
            if fs.exists(tmp):
                if fs.exists(root):
                    fs.rm(root, recursive=True)
                copy_tree(fs, tmp, root)
                fs.rm(tmp, recursive=True)
            fs.rm(_join(parent, marker))
    for aside in sorted(stale_tags(names, f".{name}.old-", "", age, STALE_SECONDS)):
        full = _join(parent, aside)
        with contextlib.suppress(FileNotFoundError, FileExistsError):  # a concurrent run
            if fs.exists(root):
                fs.rm(full, recursive=True)
            else:
                _move(fs, full, root, replace=False)
    for tmp in stale_tags(names, f".{name}.tmp-", "", age, STALE_SECONDS):
        with contextlib.suppress(FileNotFoundError):
            fs.rm(_join(parent, tmp), recursive=True)


def _age_of(entries: dict[str, dict]):
    def age(name: str) -> float | None:
        info = entries.get(name, {})
        modified = info.get("mtime", info.get("LastModified"))
        if modified is None:
            return None
        if hasattr(modified, "timestamp"):
            modified = modified.timestamp()
        return time.time() - float(modified)

    return age


def _split(root: str) -> tuple[str, str]:
    return tuple(root.rsplit("/", 1)) if "/" in root else ("", root)  # type: ignore[return-value]


def _join(parent: str, name: str) -> str:
    return f"{parent}/{name}" if parent else name
