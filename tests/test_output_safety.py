"""Writers never remove what they did not create, and clean up after killed writers.

Prediction outputs (Zarr, Parquet folders), model files and checkpoints; the command line's
side of the same is in ``test_cli_safety.py``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import dask.array as da
import numpy as np
import pyarrow.parquet as pq
import pytest
import zarr

from distgmm import GaussianMixture, load
from distgmm._ownfiles import HOST, rename_noreplace
from distgmm.modelfile import save_model


def dead_pid() -> int:
    """The id of a process of this host that has ended."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


def tag(pid: int, host: str = HOST) -> str:
    return f"{host}-{pid}-{secrets.token_hex(8)}"


@pytest.fixture(scope="module")
def fitted(make_mixture):
    X, _ = make_mixture(n=600, d=2, k=2, seed=3)
    return GaussianMixture(2, random_state=0).fit(X), X


def appearing(X: np.ndarray, path: Path, make) -> da.Array:
    """``X`` in chunks; computing its first chunk creates ``path`` with ``make``.

    As another command (or a fit saving its model there) would, while the prediction runs.
    """

    def block(x, block_info=None):
        if block_info[0]["chunk-location"][0] == 0 and not path.exists():
            make(path)
        return x

    return da.from_array(X, chunks=(100, -1)).map_blocks(block, dtype=X.dtype)


def has_probabilities(path: Path) -> bool:
    if path.suffix == ".zarr":
        return "probabilities" in zarr.open_group(str(path), mode="r")
    return "proba_0" in pq.read_table(path).column_names


def siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


@pytest.mark.parametrize("name", ["out.zarr", "out.parquet"])
def test_an_output_taken_while_writing_is_left_alone(fitted, tmp_path, name):
    gm, X = fitted
    out = tmp_path / name
    # A model file saved there by another command.
    with pytest.raises(FileExistsError) as caught:
        gm.write_predictions(appearing(X, out, lambda p: p.write_bytes(b"a model")), out)
    assert caught.value.filename == str(out)
    assert out.read_bytes() == b"a model"
    assert siblings(out) == []  # its own temporary deleted, nothing else
    out.unlink()

    # The output of another prediction.
    other = tmp_path / f"other-{name}"
    gm.write_predictions(X, other, proba=True)
    with pytest.raises(FileExistsError):
        gm.write_predictions(appearing(X, out, lambda p: other.rename(p)), out)
    assert siblings(out) == []
    assert has_probabilities(out)  # still the other prediction's


def test_overwrite_killed_between_the_renames_is_recovered(fitted, tmp_path):
    """The state a writer killed between its two renames leaves: the old output aside."""
    gm, X = fitted
    out = tmp_path / "labels.zarr"
    gm.write_predictions(X, out)
    want = zarr.open_group(str(out), mode="r")["labels"][:]
    pid = dead_pid()
    out.rename(tmp_path / f".labels.zarr.old-{tag(pid)}")
    (tmp_path / f".labels.zarr.tmp-{tag(pid)}").mkdir()  # its new output, complete or not

    # The next writer of the same output puts the old one back before anything else, so
    # without overwrite it is refused as existing.
    with pytest.raises(FileExistsError, match="overwrite=True"):
        gm.write_predictions(X, out, proba=True)
    assert siblings(out) == []
    np.testing.assert_array_equal(zarr.open_group(str(out), mode="r")["labels"][:], want)

    # Killed after the second rename: the new output is in place, the old one aside.
    aside = tmp_path / f".labels.zarr.old-{tag(pid)}"
    gm.write_predictions(X, tmp_path / "x.zarr")
    (tmp_path / "x.zarr").rename(aside)
    gm.write_predictions(X, out, proba=True, overwrite=True)
    assert siblings(out) == []
    assert "probabilities" in zarr.open_group(str(out), mode="r")


def test_temporaries_of_killed_writers_are_removed(fitted, tmp_path):
    gm, X = fitted
    pid = dead_pid()
    out = tmp_path / "p.parquet"
    model = tmp_path / "model.npz"
    stale = [
        tmp_path / f".p.parquet.tmp-{tag(pid)}",
        tmp_path / f".model.npz.{tag(pid)}.tmp",
        tmp_path / f".fit.ckpt.{tag(pid)}.tmp",
        tmp_path / f".model.npz.{tag(99, host='elsewhere')}.tmp",  # another host, old
    ]
    kept = [
        tmp_path / f".p.parquet.tmp-{tag(os.getpid())}",  # a writer still running
        tmp_path / f".model.npz.{tag(os.getpid())}.tmp",
        tmp_path / f".model.npz.{tag(98, host='elsewhere')}.tmp",  # another host, recent
        tmp_path / f".q.parquet.tmp-{tag(pid)}",  # another output's
        tmp_path / f".model.npz.x.{tag(pid)}.tmp",  # the output model.npz.x's
        tmp_path / ".model.npz.0123456789abcdef.tmp",  # not our pattern
        tmp_path / f".p.parquet.tmp-{tag(pid)}.keep",
    ]
    stale[0].mkdir()
    (stale[0] / "part-00000.parquet").write_bytes(b"half")
    kept[0].mkdir()
    for path in stale[1:] + kept[1:]:
        path.write_bytes(b"x")
    day_ago = time.time() - 24 * 3600
    os.utime(stale[3], (day_ago, day_ago))

    gm.write_predictions(X, out)
    gm.save(model)
    GaussianMixture(2, random_state=0, max_iter=2, checkpoint=tmp_path / "fit.ckpt").fit(X)
    assert [p.name for p in stale if os.path.lexists(p)] == []
    assert [p.name for p in kept if not os.path.lexists(p)] == []


def test_save_without_overwrite_never_replaces(fitted, tmp_path):
    gm, _ = fitted
    model = tmp_path / "m.npz"
    model.write_bytes(b"precious")
    with pytest.raises(FileExistsError) as caught:
        save_model(gm, model, overwrite=False)
    assert caught.value.filename == str(model)
    assert model.read_bytes() == b"precious"
    assert siblings(model) == []
    gm.save(model)  # the Python API replaces, as numpy.save does
    assert load(model).n_components == 2


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_rename_noreplace(tmp_path, kind):
    src, dst = tmp_path / "src", tmp_path / "dst"
    if kind == "file":
        src.write_text("new")
    else:
        src.mkdir()
        (src / "a").write_text("new")
    dst.mkdir()  # even an empty folder is not replaced
    with pytest.raises(FileExistsError):
        rename_noreplace(src, dst)
    assert src.exists()
    assert list(dst.iterdir()) == []
    dst.rmdir()
    rename_noreplace(src, dst)
    assert not src.exists()
    assert (dst.read_text() if kind == "file" else (dst / "a").read_text()) == "new"
