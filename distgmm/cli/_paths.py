"""The output paths of a command, checked before any work starts.

An output must not be, or lie inside, the input data (or the model a prediction reads): a
command that writes over what it reads loses it. An existing output is replaced only with
``--overwrite``; the folder of a model file or checkpoint must be writable before a long fit
starts, not found read-only after it.
"""

from __future__ import annotations

import argparse
import errno
import fnmatch
import glob
import itertools
import os
from pathlib import Path

import fsspec

from .._npzfile import check_writable
from .._ownfiles import new_tag
from .._remote import is_local
from ..checkpoint import check_local
from ..io._common import url_to_fs
from ..io._output import recover_output
from ._errors import UsageError

_GLOB_CHARS = frozenset("*?[")


def _resolved(path: str) -> Path:
    """``path`` absolute, with symlinks, ``.`` and ``..`` resolved (also for a missing file)."""
    return Path(fsspec.utils.stringify_path(path).removeprefix("file://")).resolve()


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _input_overlap(path: str, inputs: list[tuple[str, str]]) -> str | None:
    """The option naming the input that ``path`` is, or is inside of, if any."""
    if not is_local(path):
        return None
    target = _resolved(path)
    for option, source in inputs:
        if not source or not is_local(source):
            continue
        pattern = source.rstrip("/")
        if _GLOB_CHARS & set(pattern):
            # A glob: its matches, and anything it would match on the next run.
            matches = [_resolved(m) for m in glob.glob(pattern)]
            if fnmatch.fnmatch(str(target), str(_resolved(pattern))) or any(
                _inside(target, m) for m in matches
            ):
                return option
        elif _inside(target, _resolved(pattern)):
            return option
    return None


def check_outputs(
    args: argparse.Namespace, outputs: dict[str, str | None], *, files: bool = True
) -> None:
    """Fail fast for outputs that would overwrite the input, each other, or an existing file
    (a checkpoint is one unless ``--resume`` continues it).

    ``outputs`` maps an option (``"--out"``) to its path. ``files``: the outputs are model
    files or checkpoints; otherwise ``--out`` is an output folder (predictions), first
    recovered from a writer killed mid-way. Either way, their folders are checked writable.
    """
    given = {option: path for option, path in outputs.items() if path is not None}
    if "--checkpoint" in given:
        check_local(given["--checkpoint"], f"--checkpoint {given['--checkpoint']}")
    inputs = [("DATA", args.data), ("MODEL", getattr(args, "model", None))]
    for option, path in given.items():
        overlap = _input_overlap(path, inputs)
        if overlap is not None:
            what = "the input data" if overlap == "DATA" else "the model"
            raise UsageError(
                f"{option} {path} is {what} {getattr(args, overlap.lower())} (or inside it), "
                "which writing would destroy: choose another path."
            )
    local = [(o, p) for o, p in given.items() if is_local(p)]
    for (first, a), (second, b) in itertools.combinations(local, 2):
        if _resolved(a) == _resolved(b):
            raise UsageError(f"{first} and {second} are the same file {a}: give two paths.")
    out = given.get("--out")
    if out is not None and not files:
        # An output folder an overwrite killed mid-way moved aside is put back first.
        recover_output(out, args.storage_options)
    if out is not None and not args.overwrite and _exists(out, args.storage_options):
        raise FileExistsError(
            errno.EEXIST, "The output exists; pass --overwrite to replace it", out
        )
    # A fit that does not resume starts its checkpoint afresh: only when asked, as --out.
    # (A folder is not a checkpoint to resume or replace: _check_output_file says so.)
    checkpoint = given.get("--checkpoint")
    if (
        checkpoint
        and not (args.resume or args.overwrite)
        and os.path.lexists(checkpoint)
        and not os.path.isdir(checkpoint)
    ):
        raise FileExistsError(
            errno.EEXIST,
            "The checkpoint exists; pass --resume to continue from it, or --overwrite to "
            "start afresh and replace it",
            checkpoint,
        )
    for option, path in local:
        if files:
            _check_output_file(path, _WHAT.get(option, option))
        else:
            _check_output_folder(path)


#: What each output option saves, for errors.
_WHAT = {"--out": "the model", "--checkpoint": "the checkpoint"}


def _exists(path: str, storage_options: dict | None) -> bool:
    fs, root = url_to_fs(path, None if is_local(path) else storage_options)
    return fs.exists(root.rstrip("/")) or (is_local(path) and os.path.islink(root))


def _check_output_folder(path: str) -> None:
    """Fail before predicting if the output's temporary folder cannot be created.

    Creates and removes a folder of the name the writer will use (longer than the output's:
    a name close to the file system's limit fails here, not after the pass).
    """
    target = Path(os.path.abspath(path))
    if not target.parent.is_dir():
        return  # the writer creates it
    probe = target.parent / f".{target.name}.tmp-{new_tag()}"
    try:
        probe.mkdir()
    except OSError as err:
        raise type(err)(
            err.errno, f"Cannot write the output {path}: {err.strerror}", str(target.parent)
        ) from err
    probe.rmdir()


def _check_output_file(path: str, what: str) -> None:
    """Fail before fitting, not after, if the file cannot be written there."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"Cannot save {what}: is a directory", path)
    parent = target.resolve().parent
    if not parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"No such directory for {what}", str(parent))
    check_writable(target, what)
