"""Temporary files named after the process writing them, and a rename that never replaces.

A writer puts its output under a temporary name, then renames it onto the final one. A
writer killed meanwhile (SIGKILL, a lost node) leaves the temporary behind; the name records
the host and process id of its writer (:func:`new_tag`), so a later writer of the same
output can tell a leftover (:func:`is_stale`) from the temporary of a writer still running,
and removes only leftovers of its own naming pattern for that exact output.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import socket
import sys
import time

#: This host, as it appears in temporary names: letters, digits and "_" only, so that a tag
#: never contains the "-" separating its parts, nor the "." separating it from a file name.
HOST = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:40] or "host"
_TAG = re.compile(r"(?P<host>[A-Za-z0-9_]{1,40})-(?P<pid>[0-9]{1,10})-[0-9a-f]{16}")


def new_tag() -> str:
    """``HOST-PID-RANDOM``: names a temporary file of this process."""
    return f"{HOST}-{os.getpid()}-{secrets.token_hex(8)}"


def is_stale(tag: str, age: float | None, max_age: float) -> bool:
    """Whether the writer of the temporary tagged ``tag`` is gone.

    On this host: its process is not running. A tag of another host (a pod retried on
    another node, a shared file system) cannot be checked that way: stale once ``age``
    (seconds since the temporary last changed) exceeds ``max_age``. Not a tag of ours:
    never stale.
    """
    match = _TAG.fullmatch(tag)
    if match is None:
        return False
    if match["host"] == HOST:
        return not _running(int(match["pid"]))
    return age is not None and age > max_age


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or not a pid we can ask about: keep its files
    return True


def stale_tags(names, prefix: str, suffix: str, age_of, max_age: float) -> list[str]:
    """The names among ``names`` that are ``prefix + tag + suffix`` with a stale tag.

    ``age_of(name)`` gives a name's age in seconds (or ``None``); it is asked only for
    names of another host.
    """
    found = []
    for name in names:
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        tag = name[len(prefix) : len(name) - len(suffix)]
        match = _TAG.fullmatch(tag)
        if match is None:
            continue
        age = age_of(name) if match["host"] != HOST else None
        if is_stale(tag, age, max_age):
            found.append(name)
    return found


def local_age(path: str | os.PathLike) -> float | None:
    """Seconds since ``path`` last changed; ``None`` if it is gone."""
    try:
        return time.time() - os.stat(path, follow_symlinks=False).st_mtime
    except OSError:
        return None


# ---------------------------------------------------------------------------- renaming
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def rename_noreplace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Rename ``src`` (a file or a folder) to ``dst``, failing if ``dst`` exists.

    Atomic where the system has a no-replace rename (Linux ``renameat2``, Windows'
    ``rename``); elsewhere ``dst`` is claimed first (a hard link for a file, an empty folder
    renamed over for a folder), so an existing ``dst`` is never replaced either way.

    Raises
    ------
    FileExistsError
        ``dst`` exists; ``src`` is left as it was.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    if os.name == "nt":
        os.rename(src, dst)  # never replaces on Windows
        return
    if _renameat2(src, dst):
        return
    if os.path.isdir(src):
        os.mkdir(dst)  # FileExistsError if taken; an empty folder is then renamed over
        try:
            os.rename(src, dst)
        except BaseException:
            os.rmdir(dst)
            raise
        return
    try:
        os.link(src, dst)  # FileExistsError if taken
    except OSError as err:
        if isinstance(err, FileExistsError):
            raise
        # No hard links here (some network or FAT file systems): the best left is a check.
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "File exists", dst) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def _renameat2(src: str, dst: str) -> bool:
    """``renameat2(..., RENAME_NOREPLACE)``; ``False`` where the system or file system lacks it."""
    if not sys.platform.startswith("linux"):
        return False
    function = _libc_renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False  # e.g. a file system without RENAME_NOREPLACE
    if code == errno.EEXIST:
        raise FileExistsError(code, os.strerror(code), dst)
    raise OSError(code, os.strerror(code), src, None, dst)


_LIBC: list = []


def _libc_renameat2():
    if not _LIBC:
        try:
            function = ctypes.CDLL(None, use_errno=True).renameat2
            function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
            function.argtypes += [ctypes.c_uint]
            function.restype = ctypes.c_int
        except (AttributeError, OSError):
            function = None
        _LIBC.append(function)
    return _LIBC[0]
