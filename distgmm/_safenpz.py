"""Reading ``.npz`` files that may be hostile: model files and checkpoints share this.

:func:`numpy.load` trusts an archive: it inflates a member to whatever size the archive
says, allocates an array of whatever shape a member's ``.npy`` header declares, returns a
member that is not ``.npy`` as raw bytes, and suggests ``allow_pickle=True`` for a pickled
one. This reader trusts nothing it has not checked, and checks before it reads:

* the archive's members are exactly the ones expected (no unknown member, no duplicate);
* every member is stored uncompressed, as :func:`numpy.savez` writes it, and its size in
  the zip directory agrees with the bytes in the file, so reading the whole archive never
  takes more memory than the file's size, however the directory lies;
* a member's ``.npy`` header declares the expected dtype (never an object array, never
  unpickled) and, for arrays, exactly the shape the model implies, and its bytes are
  exactly that many: a shape is checked before any array is allocated;
* the JSON header is at most :data:`MAX_HEADER_BYTES` and nests at most
  :data:`MAX_HEADER_DEPTH` deep, and is a JSON object.

Every refusal is an :class:`~distgmm.errors.InvalidInputError` whose message starts with
the caller's ``where`` (which names the file).
"""

from __future__ import annotations

import json
import math
import tokenize
import zipfile
import zlib
from typing import Any, BinaryIO

import numpy as np

from .errors import InvalidInputError

__all__ = ["MAX_HEADER_BYTES", "MAX_HEADER_DEPTH", "SafeNpz"]

#: Largest JSON header member read, in bytes of its ``.npy`` member (4 bytes a character):
#: 4 Mi characters. Measured at 64 MiB, parsing a header of zeros took 160 MiB more memory
#: and 9 s; at 16 MiB it is a quarter. The writers drop what would not fit (see
#: ``modelfile``): only the initial arrays grow with the model.
MAX_HEADER_BYTES = 16 * 2**20
#: Deepest nesting of lists and objects in a JSON header (ours nest 5 deep).
MAX_HEADER_DEPTH = 16
#: Largest ``.npy`` header (the dict describing dtype and shape) read; numpy writes ~128 bytes.
_MAX_NPY_HEADER = 4096
_ZIP_MAGIC = b"PK\x03\x04"  # a zip archive's first local file header
_NPY_MAGIC = b"\x93NUMPY"
_FLOAT64 = np.dtype("<f8")
# What zipfile raises on a damaged archive (NotImplementedError: a "version needed" or
# encryption flag it does not support); anything else is a bug worth seeing.
_ZIP_ERRORS = (OSError, EOFError, ValueError, NotImplementedError, zipfile.BadZipFile, zlib.error)
# What numpy's .npy header parser (ast.literal_eval of a dict) raises on damaged text.
_NPY_HEADER_ERRORS = (ValueError, SyntaxError, TypeError, tokenize.TokenError)


class SafeNpz:
    """An open ``.npz`` archive whose members are read only after their sizes are checked.

    Parameters
    ----------
    fh : binary file object
        The archive, open for reading and seekable.
    where : str
        Start of every error message, naming the file ("Invalid model file m.npz").
    kind : str
        What the file should be ("model file", "checkpoint").
    hint : str
        End of every error message: what to do about it.
    """

    def __init__(self, fh: BinaryIO, where: str, kind: str, hint: str = "") -> None:
        self.where, self.kind, self.hint = where, kind, hint
        fh.seek(0, 2)
        self._size = fh.tell()
        fh.seek(0)
        magic = fh.read(len(_ZIP_MAGIC))
        fh.seek(0)
        if magic != _ZIP_MAGIC:
            if not magic:
                what = "the file is empty"
            elif magic.startswith(_NPY_MAGIC[:4]):
                what = "a single .npy array, not an .npz archive"
            else:
                what = "not an .npz (zip) archive"
            raise self.fail(f"not a distgmm {kind} ({what})")
        try:
            self._zip = zipfile.ZipFile(fh)
        except _ZIP_ERRORS as err:
            raise self.fail(
                f"not a readable .npz archive, truncated or corrupted ({type(err).__name__}: {err})"
            ) from err
        infos = self._zip.infolist()
        names = [_member_name(info.filename) for info in infos]
        if len(set(names)) != len(names):
            raise self.fail("the archive holds the same member twice")
        self._infos = dict(zip(names, infos, strict=True))

    def __enter__(self) -> SafeNpz:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    @property
    def names(self) -> frozenset[str]:
        """The archive's member names, without the ``.npy`` suffix."""
        return frozenset(self._infos)

    def fail(self, problem: str) -> InvalidInputError:
        """The error for ``problem`` in this file."""
        return InvalidInputError(f"{self.where}: {problem}.{self.hint}")

    def expect(self, names: set[str] | frozenset[str]) -> None:
        """Refuse an archive whose members are not exactly ``names``."""
        if self.names != names:
            missing, extra = sorted(names - self.names), sorted(self.names - names)
            raise self.fail(
                f"expected the members {sorted(names)}; missing {missing}, unexpected {extra}"
            )

    def read_header(self, name: str = "header") -> dict[str, Any]:
        """The JSON object stored as a 0-d unicode array in member ``name``."""
        if name not in self._infos:
            raise self.fail(f"no {name!r} member, not a distgmm {self.kind}")
        raw = self._read(name, "U", None, MAX_HEADER_BYTES)
        too_deep = self.fail(f"the header nests lists or objects over {MAX_HEADER_DEPTH} deep")
        try:
            header = json.loads(str(raw[()]), parse_constant=_reject_constant)
        except RecursionError:  # deeper than the interpreter's stack
            raise too_deep from None
        except ValueError as err:
            raise self.fail(f"the header is not valid JSON ({err})") from err
        if _depth(header) > MAX_HEADER_DEPTH:
            raise too_deep
        if not isinstance(header, dict):
            kind = {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
                type(header), "number"
            )
            raise self.fail(f"the header is a JSON {kind}, not an object")
        return header

    def read_array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """Member ``name``: a little-endian float64 array of exactly ``shape``.

        The array is a fresh, writable, C-ordered copy.
        """
        if name not in self._infos:
            raise self.fail(f"no {name!r} member")
        return self._read(name, "f", shape, None)

    # -------------------------------------------------------------------------------------
    def _read(self, name: str, kind: str, shape, max_bytes: int | None) -> np.ndarray:
        info = self._infos[name]
        what = f"member {name!r}"
        if info.compress_type != zipfile.ZIP_STORED:
            raise self.fail(
                f"{what} is compressed (zip method {info.compress_type}); distgmm writes "
                "uncompressed members only"
            )
        if info.file_size != info.compress_size or info.header_offset + info.file_size > (
            self._size
        ):
            raise self.fail(
                f"{what} declares {info.file_size} bytes, more than the file holds: "
                "truncated or corrupted"
            )
        if max_bytes is not None and info.file_size > max_bytes:
            raise self.fail(
                f"{what} is {info.file_size} bytes, over the limit of {max_bytes} bytes"
            )
        try:
            with self._zip.open(info) as member:
                dtype, declared, fortran, offset = self._npy_header(member, what)
                self._check_dtype(dtype, kind, what)
                if kind == "f" and declared != tuple(shape):
                    raise self.fail(
                        f"{what} has shape {declared}, but the file's header implies {shape}"
                    )
                if kind == "U" and declared != ():
                    raise self.fail(f"{what} has shape {declared}, expected a single string")
                count = math.prod(declared)
                if offset + count * dtype.itemsize != info.file_size:
                    raise self.fail(
                        f"{what} holds {info.file_size - offset} bytes of data, but its "
                        f"header declares {count} x {dtype.itemsize}: truncated or corrupted"
                    )
                data = member.read(count * dtype.itemsize)
                # Reading to the end checks the member's CRC.
                if len(data) != count * dtype.itemsize or member.read(1):
                    raise self.fail(f"{what} is truncated or corrupted")
        except InvalidInputError:
            raise
        except _ZIP_ERRORS as err:
            raise self.fail(
                f"{what} cannot be read, truncated or corrupted ({type(err).__name__}: {err})"
            ) from err
        array = np.frombuffer(data, dtype=dtype, count=count).reshape(
            declared, order="F" if fortran else "C"
        )
        return np.array(array, order="C")  # writable and C-ordered, as fit() leaves arrays

    def _npy_header(self, member: BinaryIO, what: str) -> tuple[np.dtype, tuple, bool, int]:
        """dtype, shape, Fortran order and data offset from a member's ``.npy`` header."""
        magic = member.read(len(_NPY_MAGIC) + 2)
        if len(magic) < len(_NPY_MAGIC) + 2 or not magic.startswith(_NPY_MAGIC):
            raise self.fail(f"{what} is not a .npy array")
        version = (magic[-2], magic[-1])
        reader = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }.get(version)
        if reader is None:
            raise self.fail(f"{what} has .npy format version {version}, not 1.0 or 2.0")
        try:
            shape, fortran, dtype = reader(member, max_header_size=_MAX_NPY_HEADER)
        except _NPY_HEADER_ERRORS as err:
            raise self.fail(f"{what} has an invalid .npy header ({type(err).__name__})") from err
        return np.dtype(dtype), tuple(shape), bool(fortran), _offset(member)

    def _check_dtype(self, dtype: np.dtype, kind: str, what: str) -> None:
        if dtype.hasobject:
            # numpy would unpickle it (allow_pickle): never done here.
            raise self.fail(f"{what} is an object array, which is never unpickled")
        if kind == "f" and dtype != _FLOAT64:
            raise self.fail(f"{what} has dtype {dtype.str}, expected {_FLOAT64.str}")
        if kind == "U" and (dtype.kind != "U" or dtype.byteorder == ">"):
            raise self.fail(f"{what} is a {dtype} array, not a string")


def _member_name(filename: str) -> str:
    return filename[: -len(".npy")] if filename.endswith(".npy") else filename


def _offset(member: BinaryIO) -> int:
    # ZipExtFile.tell() is the position within the member, i.e. the .npy header's length.
    return member.tell()


def _reject_constant(name: str) -> None:
    # The writers never emit NaN or Infinity (json.dumps with allow_nan=False).
    raise ValueError(f"non-standard JSON constant {name}")


def _depth(value: Any) -> int:
    """How deep lists and objects nest in ``value``, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return deepest
